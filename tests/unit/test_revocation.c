/* Revocation lists: sign/verify, the root they must chain to, tampering,
 * coverage, building (dedupe, limits), the file, and the replay rule. Root
 * keys are generated at run time (unsealed: no KDF cost); files go to a
 * temporary directory removed at exit. */
#include "ctxsig.h"
#include "keyid.h"
#include "moux.pb-c.h"
#include "revocation.h"
#include "rootkey.h"
#include "test.h"

#include <dirent.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define T0 1790000000000ULL


/* ---- helpers ---- */

static int write_raw(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    size_t n = fwrite(data, 1, len, f);
    return fclose(f) == 0 && n == len ? 0 : -1;
}

/* An empty list number 4 for vn.ais. */
static void sample(revlist_t *l)
{
    memset(l, 0, sizeof *l);
    snprintf(l->agency, sizeof l->agency, "vn.ais");
    l->number = 4;
    l->issued_ms = T0;
}

/* The same with serials 3 and 9 and one random key id (into kid). */
static void sample_with_entries(revlist_t *l, unsigned char kid[KEYID_BYTES])
{
    sample(l);
    randombytes_buf(kid, KEYID_BYTES);
    CHECK(revlist_add_serial(l, 3) == 0);
    CHECK(revlist_add_serial(l, 9) == 0);
    CHECK(revlist_add_key_id(l, kid) == 0);
}

/* A RevocationListBody with the given fields, signed by signer under
 * context; caller frees. */
typedef struct {
    uint32_t version;
    const char *agency;
    const unsigned char *root_id;
    size_t root_id_len;
    uint64_t number;
    const uint64_t *serials;
    size_t n_serials;
    size_t n_key_ids, key_id_len;
} body_spec_t;

static body_spec_t good_spec(const rootkey_t *root)
{
    static const uint64_t serials[] = {1, 2};
    body_spec_t s = {1, "vn.ais", root->key_id, KEYID_BYTES, 2, serials, 2, 1, KEYID_BYTES};
    return s;
}

static uint8_t *signed_list(const body_spec_t *s, const rootkey_t *signer, const char *context,
                            size_t *len)
{
    static unsigned char ids[REVLIST_MAX_ENTRIES + 1][64];
    ProtobufCBinaryData *bin = calloc(s->n_key_ids + 1, sizeof *bin);
    uint8_t *body = NULL, *out = NULL, sig[64];
    if (!bin)
        return NULL;
    for (size_t i = 0; i < s->n_key_ids; i++) {
        ids[i][0] = (unsigned char)i; /* distinct */
        ids[i][1] = (unsigned char)(i >> 8);
        bin[i] = (ProtobufCBinaryData){s->key_id_len, ids[i]};
    }
    Moux__RevocationListBody b = MOUX__REVOCATION_LIST_BODY__INIT;
    b.version = s->version;
    b.agency = (char *)s->agency;
    b.root_key_id = (ProtobufCBinaryData){s->root_id_len, (uint8_t *)s->root_id};
    b.number = s->number;
    b.issued_ms = T0;
    b.n_serials = s->n_serials;
    b.serials = (uint64_t *)s->serials;
    b.n_key_ids = s->n_key_ids;
    b.key_ids = bin;
    size_t blen = moux__revocation_list_body__get_packed_size(&b);
    body = malloc(blen + 1);
    if (!body)
        goto out;
    moux__revocation_list_body__pack(&b, body);
    if (ctxsig_sign(context, body, blen, signer->sk, sig) != 0)
        goto out;
    Moux__RevocationList rl = MOUX__REVOCATION_LIST__INIT;
    rl.body = (ProtobufCBinaryData){blen, body};
    rl.signature = (ProtobufCBinaryData){sizeof sig, sig};
    *len = moux__revocation_list__get_packed_size(&rl);
    if ((out = malloc(*len)))
        moux__revocation_list__pack(&rl, out);
out:
    free(body);
    free(bin);
    return out;
}

/* Verifies a list built from spec, signed by signer; the reason or NULL. */
static const char *verify_spec(const body_spec_t *s, const rootkey_t *signer,
                               const rootkey_t *root)
{
    size_t len = 0;
    uint8_t *raw = signed_list(s, signer, CTX_REVOCATION, &len);
    const char *why = "test-setup-failed";
    revlist_t out;
    if (raw && revlist_verify(raw, len, root->pk, &out, &why) == 0) {
        why = NULL;
        revlist_free(&out);
    }
    free(raw);
    return why;
}

/* ---- sign and verify ---- */

static void test_sign_verify_round_trip(void)
{
    rootkey_t *root = rootkey_generate();
    revlist_t l, back;
    unsigned char kid[KEYID_BYTES];
    uint8_t *raw = NULL;
    size_t len = 0;
    const char *why = "unset";
    sample_with_entries(&l, kid);
    CHECK(root && revlist_sign(&l, root, &raw, &len) == 0);
    CHECK(raw && len <= REVLIST_MAX_BYTES);
    CHECK(raw && revlist_verify(raw, len, root->pk, &back, &why) == 0);
    CHECK(why == NULL);
    CHECK_STR(back.agency, "vn.ais");
    CHECK(memcmp(back.root_key_id, root->key_id, KEYID_BYTES) == 0);
    CHECK(back.number == 4 && back.issued_ms == T0);
    CHECK(back.n_serials == 2 && back.serials[0] == 3 && back.serials[1] == 9);
    CHECK(back.n_key_ids == 1 && memcmp(back.key_ids[0], kid, KEYID_BYTES) == 0);
    revlist_free(&back);
    CHECK(back.serials == NULL && back.n_serials == 0 && back.key_ids == NULL);
    free(raw);
    /* An empty list (nothing revoked yet) is a valid list too. */
    revlist_t empty;
    sample(&empty);
    CHECK(revlist_sign(&empty, root, &raw, &len) == 0);
    CHECK(raw && revlist_verify(raw, len, root->pk, &back, &why) == 0);
    CHECK(back.n_serials == 0 && back.n_key_ids == 0);
    revlist_free(&back);
    free(raw);
    revlist_free(&l);
    rootkey_destroy(&root);
}

static void test_sign_refuses_what_verify_would(void)
{
    rootkey_t *root = rootkey_generate();
    revlist_t l;
    uint8_t *raw = NULL;
    size_t len = 0;
    sample(&l);
    l.number = 0; /* numbers start at 1: 0 means "no list" on the wire */
    CHECK(root && revlist_sign(&l, root, &raw, &len) != 0 && raw == NULL);
    sample(&l);
    l.agency[0] = '\0';
    CHECK(revlist_sign(&l, root, &raw, &len) != 0 && raw == NULL);
    sample(&l);
    l.n_serials = REVLIST_MAX_ENTRIES + 1; /* claimed, not allocated: refused before use */
    CHECK(revlist_sign(&l, root, &raw, &len) != 0 && raw == NULL);
    rootkey_destroy(&root);
}

static void test_not_signed_by_root_refused(void)
{
    rootkey_t *root = rootkey_generate(), *other = rootkey_generate();
    revlist_t l, back;
    unsigned char kid[KEYID_BYTES];
    uint8_t *raw = NULL;
    size_t len = 0;
    const char *why = NULL;
    sample_with_entries(&l, kid);
    CHECK(root && other && revlist_sign(&l, other, &raw, &len) == 0);
    CHECK(raw && revlist_verify(raw, len, root->pk, &back, &why) != 0);
    CHECK_STR(why, "wrong-root");
    free(raw);
    /* The body names our root, another root signed it. */
    body_spec_t s = good_spec(root);
    CHECK(verify_spec(&s, root, root) == NULL);
    CHECK_STR(verify_spec(&s, other, root), "bad-revocation-signature");
    /* Our root, but a certificate signature (another context). */
    raw = signed_list(&s, root, CTX_CERT, &len);
    CHECK(raw && revlist_verify(raw, len, root->pk, &back, &why) != 0);
    CHECK_STR(why, "bad-revocation-signature");
    free(raw);
    revlist_free(&l);
    rootkey_destroy(&root);
    rootkey_destroy(&other);
}

static void test_every_byte_tampered_refused(void)
{
    rootkey_t *root = rootkey_generate();
    revlist_t l, back;
    unsigned char kid[KEYID_BYTES];
    uint8_t *raw = NULL;
    size_t len = 0;
    const char *why = NULL;
    sample_with_entries(&l, kid);
    CHECK(root && revlist_sign(&l, root, &raw, &len) == 0);
    static const uint8_t masks[] = {0x01, 0x80, 0xff};
    int accepted = 0;
    for (size_t i = 0; raw && i < len; i++)
        for (size_t m = 0; m < sizeof masks; m++) {
            raw[i] ^= masks[m];
            if (revlist_verify(raw, len, root->pk, &back, &why) == 0) {
                fprintf(stderr, "accepted with byte %zu ^ 0x%02x\n", i, masks[m]);
                revlist_free(&back);
                accepted++;
            }
            raw[i] ^= masks[m];
        }
    for (size_t n = 0; raw && n < len; n++)
        if (revlist_verify(raw, n, root->pk, &back, &why) == 0) {
            revlist_free(&back);
            accepted++;
        }
    CHECK(accepted == 0);
    free(raw);
    revlist_free(&l);
    rootkey_destroy(&root);
}

static void test_malformed_refused(void)
{
    rootkey_t *root = rootkey_generate();
    if (!root)
        return;
    body_spec_t ok = good_spec(root), s;
    static const uint64_t zero_serial[] = {5, 0};
    char long_agency[66];
    memset(long_agency, 'a', 65);
    long_agency[65] = '\0';
#define REFUSED(field, value)                                                                     \
    do {                                                                                          \
        s = ok;                                                                                   \
        s.field = value;                                                                          \
        CHECK_STR(verify_spec(&s, root, root), "malformed-revocation-list");                      \
    } while (0)
    REFUSED(version, 0);
    REFUSED(version, 2);
    REFUSED(agency, "");
    REFUSED(agency, long_agency);
    REFUSED(root_id_len, 31);
    REFUSED(number, 0);
    REFUSED(key_id_len, 31);
    REFUSED(key_id_len, 33);
    REFUSED(key_id_len, 0);
    REFUSED(serials, zero_serial);
#undef REFUSED
    revlist_t out;
    const char *why = NULL;
    uint8_t junk[64];
    memset(junk, 0xff, sizeof junk);
    CHECK(revlist_verify(junk, sizeof junk, root->pk, &out, &why) != 0);
    CHECK_STR(why, "malformed-revocation-list");
    CHECK(revlist_verify(junk, 0, root->pk, &out, &why) != 0);
    rootkey_destroy(&root);
}

/* ---- coverage and building ---- */

static void test_covers(void)
{
    revlist_t l;
    unsigned char kid[KEYID_BYTES], other[KEYID_BYTES];
    sample_with_entries(&l, kid);
    randombytes_buf(other, sizeof other);
    CHECK(revlist_covers(&l, 3, other) == 1);   /* by serial */
    CHECK(revlist_covers(&l, 9, NULL) == 1);
    CHECK(revlist_covers(&l, 4, kid) == 1);     /* by signing key id */
    CHECK(revlist_covers(&l, 0, kid) == 1);
    CHECK(revlist_covers(&l, 4, other) == 0);   /* neither */
    CHECK(revlist_covers(&l, 0, NULL) == 0);
    revlist_t empty;
    sample(&empty);
    CHECK(revlist_covers(&empty, 3, kid) == 0);
    revlist_free(&l);
}

static void test_add_dedupes(void)
{
    revlist_t l;
    unsigned char a[KEYID_BYTES], b[KEYID_BYTES];
    sample(&l);
    randombytes_buf(a, sizeof a);
    randombytes_buf(b, sizeof b);
    CHECK(revlist_add_serial(&l, 5) == 0);
    CHECK(revlist_add_serial(&l, 5) == 0);
    CHECK(revlist_add_serial(&l, 6) == 0);
    CHECK(l.n_serials == 2);
    CHECK(revlist_add_serial(&l, 0) != 0); /* no certificate has serial 0 */
    CHECK(l.n_serials == 2);
    CHECK(revlist_add_key_id(&l, a) == 0);
    CHECK(revlist_add_key_id(&l, b) == 0);
    CHECK(revlist_add_key_id(&l, a) == 0);
    CHECK(l.n_key_ids == 2);
    CHECK(memcmp(l.key_ids[0], a, KEYID_BYTES) == 0 && memcmp(l.key_ids[1], b, KEYID_BYTES) == 0);
    revlist_free(&l);
    revlist_free(&l); /* idempotent */
    revlist_free(NULL);
}

static void test_limits(void)
{
    rootkey_t *root = rootkey_generate();
    revlist_t l, back;
    unsigned char kid[KEYID_BYTES] = {0};
    uint8_t *raw = NULL;
    size_t len = 0;
    const char *why = NULL;
    int ok = 1;
    sample(&l);
    for (uint64_t i = 1; i <= REVLIST_MAX_ENTRIES; i++) {
        memcpy(kid, &i, sizeof i);
        ok &= revlist_add_serial(&l, UINT64_MAX - i) == 0 && revlist_add_key_id(&l, kid) == 0;
    }
    CHECK(ok);
    CHECK(l.n_serials == REVLIST_MAX_ENTRIES && l.n_key_ids == REVLIST_MAX_ENTRIES);
    kid[31] = 1;
    CHECK(revlist_add_serial(&l, 1) != 0);
    CHECK(revlist_add_key_id(&l, kid) != 0);
    /* A full list (largest serials) still fits under REVLIST_MAX_BYTES. */
    CHECK(root && revlist_sign(&l, root, &raw, &len) == 0);
    CHECK(len <= REVLIST_MAX_BYTES);
    CHECK(raw && revlist_verify(raw, len, root->pk, &back, &why) == 0);
    CHECK(back.n_serials == REVLIST_MAX_ENTRIES && back.n_key_ids == REVLIST_MAX_ENTRIES);
    revlist_free(&back);
    free(raw);
    revlist_free(&l);
    /* Signed by the root, but over the entry limit: refused on receipt. */
    static uint64_t many[REVLIST_MAX_ENTRIES + 1];
    for (size_t i = 0; i <= REVLIST_MAX_ENTRIES; i++)
        many[i] = i + 1;
    body_spec_t s = good_spec(root);
    s.serials = many;
    s.n_serials = REVLIST_MAX_ENTRIES + 1;
    CHECK_STR(verify_spec(&s, root, root), "malformed-revocation-list");
    s = good_spec(root);
    s.n_key_ids = REVLIST_MAX_ENTRIES + 1;
    CHECK_STR(verify_spec(&s, root, root), "malformed-revocation-list");
    /* Larger than REVLIST_MAX_BYTES: refused before parsing. */
    uint8_t *big = calloc(1, REVLIST_MAX_BYTES + 1);
    CHECK(big && revlist_verify(big, REVLIST_MAX_BYTES + 1, root->pk, &back, &why) != 0);
    CHECK_STR(why, "malformed-revocation-list");
    free(big);
    rootkey_destroy(&root);
}

/* ---- the file ---- */

static void test_save_load(void)
{
    rootkey_t *root = rootkey_generate();
    revlist_t l, back;
    unsigned char kid[KEYID_BYTES];
    uint8_t *raw = NULL, *got = NULL;
    size_t len = 0, glen = 0;
    char path[256], err[256] = "", b64[1024], text[2048];
    const char *why = NULL;
    sample_with_entries(&l, kid);
    tmp_path(path, sizeof path, "revocations.list");
    CHECK(root && revlist_sign(&l, root, &raw, &len) == 0);
    CHECK(raw && revlist_save(path, raw, len, err, sizeof err) == 0);
    CHECK(revlist_load(path, &got, &glen, err, sizeof err) == 0);
    CHECK(got && glen == len && memcmp(got, raw, len) == 0);
    CHECK(got && revlist_verify(got, glen, root->pk, &back, &why) == 0);
    revlist_free(&back);
    free(got);
    got = NULL;
    /* One line, "moux-revocation-list <base64>\n". */
    sodium_bin2base64(b64, sizeof b64, raw, len, sodium_base64_VARIANT_ORIGINAL);
    snprintf(text, sizeof text, "moux-revocation-list %s\n", b64);
    FILE *f = fopen(path, "rb");
    char disk[2048] = "";
    size_t n = f ? fread(disk, 1, sizeof disk - 1, f) : 0;
    if (f)
        fclose(f);
    CHECK(n == strlen(text) && memcmp(disk, text, n) == 0);
    /* Another label (a certificate file), or trailing data: refused. */
    static const char *bad[][2] = {{"moux-node-cert ", "\n"},
                                   {"moux-revocation-list ", "\n\n"},
                                   {"moux-revocation-list ", " \n"},
                                   {"moux-revocation-list ", ""}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(text, sizeof text, "%s%s%s", bad[i][0], b64, bad[i][1]);
        CHECK(write_raw(path, text, strlen(text)) == 0);
        CHECK(revlist_load(path, &got, &glen, err, sizeof err) != 0);
        free(got);
        got = NULL;
    }
    free(raw);
    revlist_free(&l);
    rootkey_destroy(&root);
}

/* ---- the replay rule ---- */

/* A node keeps, per agency, the list with the highest number it has seen.
 * Both lists below verify (the root signed both, in turn); what makes the
 * replayed one unacceptable is only its number. The rule is the caller's
 * one-liner: accept an incoming verified list only if its number is greater
 * than the stored one's (equal: the same list again, nothing to replace). */
static void test_replay_rule_is_by_number(void)
{
    rootkey_t *root = rootkey_generate();
    revlist_t older, newer, in_old, in_new;
    uint8_t *raw_old = NULL, *raw_new = NULL;
    size_t len_old = 0, len_new = 0;
    const char *why = NULL;
    sample(&older);
    older.number = 3;
    CHECK(revlist_add_serial(&older, 11) == 0);
    sample(&newer);
    newer.number = 5;
    CHECK(revlist_add_serial(&newer, 11) == 0 && revlist_add_serial(&newer, 12) == 0);
    CHECK(root && revlist_sign(&older, root, &raw_old, &len_old) == 0);
    CHECK(revlist_sign(&newer, root, &raw_new, &len_new) == 0);
    CHECK(raw_old && revlist_verify(raw_old, len_old, root->pk, &in_old, &why) == 0);
    CHECK(raw_new && revlist_verify(raw_new, len_new, root->pk, &in_new, &why) == 0);
    const uint64_t stored = in_new.number; /* the node holds list 5 */
    CHECK(!(in_old.number > stored));      /* list 3 replayed: older, refused */
    CHECK(!(in_new.number > stored));      /* list 5 again: not a replacement */
    CHECK(in_old.number < stored);
    /* Replaying 3 would "unrevoke" serial 12; keeping 5 keeps it revoked. */
    CHECK(revlist_covers(&in_new, 12, NULL) && !revlist_covers(&in_old, 12, NULL));
    revlist_free(&in_old);
    revlist_free(&in_new);
    revlist_free(&older);
    revlist_free(&newer);
    free(raw_old);
    free(raw_new);
    rootkey_destroy(&root);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    snprintf(s_tmp, sizeof s_tmp, "/tmp/moux-test-revocation-XXXXXX");
    if (!mkdtemp(s_tmp)) {
        perror("mkdtemp");
        return 1;
    }
    RUN(test_sign_verify_round_trip);
    RUN(test_sign_refuses_what_verify_would);
    RUN(test_not_signed_by_root_refused);
    RUN(test_every_byte_tampered_refused);
    RUN(test_malformed_refused);
    RUN(test_covers);
    RUN(test_add_dedupes);
    RUN(test_limits);
    RUN(test_save_load);
    RUN(test_replay_rule_is_by_number);
    rm_rf(s_tmp);
    return TEST_DONE();
}
