/* Node certificates: issue/verify, chaining to the right root, tampering,
 * time windows, malformed bodies, and the node.cert file. Root keys are
 * generated at run time (never sealed here: no KDF cost); files go to a
 * temporary directory removed at exit. */
#include "cert.h"
#include "ctxsig.h"
#include "keyid.h"
#include "moux.pb-c.h"
#include "rootkey.h"
#include "test.h"

#include <dirent.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define T0 1790000000000ULL /* a fixed "now" in Unix ms (2026) */
#define DAY 86400000ULL


/* ---- helpers ---- */

static int write_raw(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    size_t n = fwrite(data, 1, len, f);
    return fclose(f) == 0 && n == len ? 0 : -1;
}

static void sample(cert_t *c)
{
    memset(c, 0, sizeof *c);
    snprintf(c->agency, sizeof c->agency, "vn.ais");
    snprintf(c->endpoint, sizeof c->endpoint, "tcp://127.0.0.1:7101");
    randombytes_buf(c->sign_pk, 32);
    randombytes_buf(c->enc_pk, 32);
    randombytes_buf(c->curve_pk, 32);
    c->serial = 7;
    c->not_before_ms = T0 - 5 * 60 * 1000;
    c->not_after_ms = T0 + 30 * DAY;
}

/* A NodeCertBody with every field as given, packed; caller frees. */
typedef struct {
    uint32_t version;
    const char *agency, *endpoint;
    size_t root_id_len, sign_len, enc_len, curve_len;
    const unsigned char *root_id;
    uint64_t serial, nb, na;
} body_spec_t;

static body_spec_t good_spec(const rootkey_t *root)
{
    body_spec_t s = {1, "vn.ais", "tcp://127.0.0.1:7101", 32, 32, 32, 32, root->key_id, 3,
                     T0, T0 + DAY};
    return s;
}

static uint8_t *pack_body(const body_spec_t *s, size_t *len)
{
    static unsigned char keys[3][64]; /* big enough for the over-long cases */
    Moux__NodeCertBody b = MOUX__NODE_CERT_BODY__INIT;
    b.version = s->version;
    b.agency = (char *)s->agency;
    b.endpoint = (char *)s->endpoint;
    b.root_key_id = (ProtobufCBinaryData){s->root_id_len, (uint8_t *)s->root_id};
    b.sign_pk = (ProtobufCBinaryData){s->sign_len, keys[0]};
    b.enc_pk = (ProtobufCBinaryData){s->enc_len, keys[1]};
    b.curve_pk = (ProtobufCBinaryData){s->curve_len, keys[2]};
    b.serial = s->serial;
    b.not_before_ms = s->nb;
    b.not_after_ms = s->na;
    *len = moux__node_cert_body__get_packed_size(&b);
    uint8_t *out = malloc(*len + 1);
    if (out)
        moux__node_cert_body__pack(&b, out);
    return out;
}

/* Wraps body with a signature by signer under context; caller frees. */
static uint8_t *wrap(const uint8_t *body, size_t blen, const rootkey_t *signer,
                     const char *context, size_t *len)
{
    uint8_t sig[64];
    if (!body || ctxsig_sign(context, body, blen, signer->sk, sig) != 0)
        return NULL;
    Moux__NodeCert nc = MOUX__NODE_CERT__INIT;
    nc.body = (ProtobufCBinaryData){blen, (uint8_t *)body};
    nc.signature = (ProtobufCBinaryData){sizeof sig, sig};
    *len = moux__node_cert__get_packed_size(&nc);
    uint8_t *out = malloc(*len);
    if (out)
        moux__node_cert__pack(&nc, out);
    return out;
}

/* Verifies a certificate built from spec and signed by root; the reason. */
static const char *verify_spec(const body_spec_t *s, const rootkey_t *root)
{
    size_t blen = 0, len = 0;
    uint8_t *body = pack_body(s, &blen), *raw = wrap(body, blen, root, CTX_CERT, &len);
    const char *why = "test-setup-failed";
    cert_t out;
    if (raw && cert_verify(raw, len, root->pk, &out, &why) == 0)
        why = NULL;
    free(body);
    free(raw);
    return why;
}

/* ---- issue and verify ---- */

static void test_issue_verify_round_trip(void)
{
    rootkey_t *root = rootkey_generate();
    cert_t c, back;
    uint8_t *raw = NULL;
    size_t len = 0;
    const char *why = "unset";
    sample(&c);
    CHECK(root && cert_issue(&c, root, &raw, &len) == 0);
    CHECK(raw && len > 0 && len <= CERT_MAX_BYTES);
    CHECK(raw && cert_verify(raw, len, root->pk, &back, &why) == 0);
    CHECK(why == NULL);
    CHECK_STR(back.agency, c.agency);
    CHECK_STR(back.endpoint, c.endpoint);
    CHECK(memcmp(back.root_key_id, root->key_id, KEYID_BYTES) == 0);
    CHECK(memcmp(back.sign_pk, c.sign_pk, 32) == 0);
    CHECK(memcmp(back.enc_pk, c.enc_pk, 32) == 0);
    CHECK(memcmp(back.curve_pk, c.curve_pk, 32) == 0);
    CHECK(back.serial == c.serial);
    CHECK(back.not_before_ms == c.not_before_ms && back.not_after_ms == c.not_after_ms);
    free(raw);
    rootkey_destroy(&root);
}

static void test_other_root_refused(void)
{
    rootkey_t *root = rootkey_generate(), *other = rootkey_generate();
    cert_t c, back;
    uint8_t *raw = NULL;
    size_t len = 0;
    const char *why = NULL;
    sample(&c);
    CHECK(root && other && cert_issue(&c, other, &raw, &len) == 0);
    /* Signed by another root: its root_key_id names that root. */
    CHECK(raw && cert_verify(raw, len, root->pk, &back, &why) != 0);
    CHECK_STR(why, "wrong-root");
    free(raw);
    /* Forged: the body names our root, but another root signed it. */
    body_spec_t s = good_spec(root);
    CHECK(verify_spec(&s, root) == NULL); /* well formed: only the signer is wrong below */
    size_t blen = 0;
    uint8_t *body = pack_body(&s, &blen);
    raw = wrap(body, blen, other, CTX_CERT, &len);
    CHECK(raw && cert_verify(raw, len, root->pk, &back, &why) != 0);
    CHECK_STR(why, "bad-certificate-signature");
    free(raw);
    /* Our root's signature, but made for another purpose (domain separation). */
    raw = wrap(body, blen, root, CTX_REVOCATION, &len);
    CHECK(raw && cert_verify(raw, len, root->pk, &back, &why) != 0);
    CHECK_STR(why, "bad-certificate-signature");
    free(raw);
    free(body);
    rootkey_destroy(&root);
    rootkey_destroy(&other);
}

static void test_every_byte_tampered_refused(void)
{
    rootkey_t *root = rootkey_generate();
    cert_t c, back;
    uint8_t *raw = NULL;
    size_t len = 0;
    const char *why = NULL;
    sample(&c);
    CHECK(root && cert_issue(&c, root, &raw, &len) == 0);
    if (!raw) {
        rootkey_destroy(&root);
        return;
    }
    static const uint8_t masks[] = {0x01, 0x80, 0xff};
    int accepted = 0;
    for (size_t i = 0; i < len; i++)
        for (size_t m = 0; m < sizeof masks; m++) {
            raw[i] ^= masks[m];
            if (cert_verify(raw, len, root->pk, &back, &why) == 0) {
                fprintf(stderr, "accepted with byte %zu ^ 0x%02x\n", i, masks[m]);
                accepted++;
            }
            raw[i] ^= masks[m];
        }
    CHECK(accepted == 0);
    /* Cut short or extended. */
    for (size_t n = 0; n < len; n++)
        accepted += cert_verify(raw, n, root->pk, &back, &why) == 0;
    CHECK(accepted == 0);
    CHECK(cert_verify(raw, len, root->pk, &back, &why) == 0); /* intact still verifies */
    free(raw);
    rootkey_destroy(&root);
}

/* ---- time ---- */

static void test_time_window(void)
{
    cert_t c;
    const char *why = NULL;
    sample(&c);
    CHECK(cert_check_time(&c, c.not_before_ms - 1, &why) != 0);
    CHECK_STR(why, "certificate-not-yet-valid");
    CHECK(cert_check_time(&c, c.not_after_ms + 1, &why) != 0);
    CHECK_STR(why, "certificate-expired");
    CHECK(cert_check_time(&c, c.not_before_ms, &why) == 0 && why == NULL);
    CHECK(cert_check_time(&c, c.not_after_ms, &why) == 0 && why == NULL);
    CHECK(cert_check_time(&c, T0, &why) == 0 && why == NULL);
}

/* ---- malformed ---- */

static void test_malformed_refused(void)
{
    rootkey_t *root = rootkey_generate();
    if (!root)
        return;
    body_spec_t ok = good_spec(root), s;
    char long_agency[CERT_AGENCY_MAX + 2], long_endpoint[CERT_ENDPOINT_MAX + 1];
    memset(long_agency, 'a', sizeof long_agency - 1);
    long_agency[sizeof long_agency - 1] = '\0';
    memset(long_endpoint, 'e', sizeof long_endpoint - 1);
    long_endpoint[sizeof long_endpoint - 1] = '\0';
    CHECK(verify_spec(&ok, root) == NULL);

#define REFUSED(field, value)                                                                     \
    do {                                                                                          \
        s = ok;                                                                                   \
        s.field = value;                                                                          \
        CHECK_STR(verify_spec(&s, root), "malformed-certificate");                                \
    } while (0)
    REFUSED(version, 0);
    REFUSED(version, 2);
    REFUSED(agency, "");
    REFUSED(agency, long_agency);
    REFUSED(endpoint, long_endpoint);
    REFUSED(root_id_len, 31);
    REFUSED(root_id_len, 0);
    REFUSED(sign_len, 31);
    REFUSED(sign_len, 33);
    REFUSED(enc_len, 0);
    REFUSED(curve_len, 64);
    REFUSED(serial, 0);
    REFUSED(na, ok.nb);     /* empty window */
    REFUSED(na, ok.nb - 1); /* reversed */
#undef REFUSED
    /* The longest agency allowed is fine. */
    s = ok;
    long_agency[CERT_AGENCY_MAX] = '\0';
    s.agency = long_agency;
    CHECK(verify_spec(&s, root) == NULL);

    /* The envelope: no body, short signature, garbage, oversized, empty. */
    cert_t out;
    const char *why = NULL;
    size_t blen = 0, len = 0;
    uint8_t *body = pack_body(&ok, &blen), sig[64] = {0};
    Moux__NodeCert nc = MOUX__NODE_CERT__INIT;
    uint8_t buf[512];
    nc.signature = (ProtobufCBinaryData){64, sig};
    len = moux__node_cert__pack(&nc, buf); /* no body */
    CHECK(cert_verify(buf, len, root->pk, &out, &why) != 0);
    CHECK_STR(why, "malformed-certificate");
    nc.body = (ProtobufCBinaryData){blen, body};
    nc.signature = (ProtobufCBinaryData){63, sig};
    len = moux__node_cert__pack(&nc, buf);
    CHECK(cert_verify(buf, len, root->pk, &out, &why) != 0);
    CHECK_STR(why, "malformed-certificate");
    memset(buf, 0xff, sizeof buf);
    CHECK(cert_verify(buf, sizeof buf, root->pk, &out, &why) != 0);
    CHECK_STR(why, "malformed-certificate");
    CHECK(cert_verify(buf, 0, root->pk, &out, &why) != 0);
    uint8_t *big = calloc(1, CERT_MAX_BYTES + 1);
    CHECK(big && cert_verify(big, CERT_MAX_BYTES + 1, root->pk, &out, &why) != 0);
    CHECK_STR(why, "malformed-certificate");
    free(big);
    free(body);
    rootkey_destroy(&root);
}

/* ---- node.cert ---- */

static void test_save_load(void)
{
    rootkey_t *root = rootkey_generate();
    cert_t c, back;
    uint8_t *raw = NULL, *got = NULL;
    size_t len = 0, glen = 0;
    char path[256], err[256] = "", text[4096];
    const char *why = NULL;
    sample(&c);
    tmp_path(path, sizeof path, "node.cert");
    CHECK(root && cert_issue(&c, root, &raw, &len) == 0);
    CHECK(raw && cert_save(path, raw, len, err, sizeof err) == 0);
    CHECK(cert_load(path, &got, &glen, err, sizeof err) == 0);
    CHECK(got && glen == len && memcmp(got, raw, len) == 0);
    CHECK(got && cert_verify(got, glen, root->pk, &back, &why) == 0);
    free(got);
    got = NULL;
    /* The file is one line: "moux-node-cert <base64>\n". */
    char b64[2048]; /* a certificate is a few hundred bytes */
    sodium_bin2base64(b64, sizeof b64, raw, len, sodium_base64_VARIANT_ORIGINAL);
    snprintf(text, sizeof text, "moux-node-cert %s\n", b64);
    FILE *f = fopen(path, "rb");
    char disk[8192] = "";
    size_t n = f ? fread(disk, 1, sizeof disk - 1, f) : 0;
    if (f)
        fclose(f);
    CHECK(n == strlen(text) && memcmp(disk, text, n) == 0);
    /* Saving again replaces it (atomically, through PATH.tmp). */
    CHECK(cert_save(path, raw, len, err, sizeof err) == 0);
    char tmp[300];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    CHECK(access(tmp, F_OK) != 0);

    /* Wrong label, trailing data, missing newline, bad base64: refused. */
    static const char *bad[][2] = {
        {"moux-revocation-list ", "\n"}, {"moux-node-cert ", "\n\n"}, {"moux-node-cert ", " \n"},
        {"moux-node-cert ", "\nx"},      {"moux-node-cert ", ""},      {"moux-node-cert  ", "\n"},
        {"moux-node-cert ", "=\n"},      {"moux-node-cert-x ", "\n"}, {"moux-node-cert ", "\r\n"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(text, sizeof text, "%s%s%s", bad[i][0], b64, bad[i][1]);
        CHECK(write_raw(path, text, strlen(text)) == 0);
        CHECK(cert_load(path, &got, &glen, err, sizeof err) != 0);
        free(got); /* NULL unless a refused file was accepted */
        got = NULL;
    }
    CHECK(write_raw(path, "", 0) == 0);
    CHECK(cert_load(path, &got, &glen, err, sizeof err) != 0);
    tmp_path(path, sizeof path, "absent.cert");
    CHECK(cert_load(path, &got, &glen, err, sizeof err) != 0);
    CHECK(strstr(err, path) != NULL);
    free(raw);
    rootkey_destroy(&root);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    snprintf(s_tmp, sizeof s_tmp, "/tmp/moux-test-cert-XXXXXX");
    if (!mkdtemp(s_tmp)) {
        perror("mkdtemp");
        return 1;
    }
    RUN(test_issue_verify_round_trip);
    RUN(test_other_root_refused);
    RUN(test_every_byte_tampered_refused);
    RUN(test_time_window);
    RUN(test_malformed_refused);
    RUN(test_save_load);
    rm_rf(s_tmp);
    return TEST_DONE();
}
