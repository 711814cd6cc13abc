/* Writes valid seed inputs for the fuzz targets: make_seeds OUTDIR creates
 * OUTDIR/<target>/gen-<name> for every target whose seeds need keys,
 * signatures or protobuf encoding. Keys are generated here, used, and
 * dropped: nothing secret is written. tests/fuzz/run calls this before
 * each run; the committed seeds in tests/fuzz/corpus/ are the text ones. */
#include "bundle.h"
#include "cert.h"
#include "envelope.h"
#include "indicator.h"
#include "moux.pb-c.h"
#include "nodekeys.h"
#include "receipt.h"
#include "rootkey.h"
#include "util.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char *s_out;
static nodekeys_t *s_a, *s_b;
static unsigned char *s_a_tx, *s_a_rx, *s_b_tx, *s_b_rx;

static void s_die(const char *what)
{
    fprintf(stderr, "make_seeds: %s\n", what);
    exit(1);
}

static void s_mkdir(const char *path)
{
    if (mkdir(path, 0755) != 0 && errno != EEXIST) {
        perror(path);
        exit(1);
    }
}

/* OUTDIR/target/gen-name = prefix || data. */
static void s_seed(const char *target, const char *name, const uint8_t *prefix, size_t plen,
                   const uint8_t *data, size_t len)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", s_out, target);
    s_mkdir(path);
    snprintf(path, sizeof path, "%s/%s/gen-%s", s_out, target, name);
    FILE *f = fopen(path, "wb");
    if (!f || (plen && fwrite(prefix, 1, plen, f) != plen) ||
        (len && fwrite(data, 1, len, f) != len) || fclose(f) != 0) {
        perror(path);
        exit(1);
    }
}

static unsigned char *s_key(void)
{
    unsigned char *k = sodium_malloc(BATCH_KEY_BYTES);
    if (!k)
        s_die("out of memory");
    return k;
}

/* ---- batches ---- */

typedef struct {
    ind_type_t type;
    const char *value;
} s_item_t;

static const s_item_t s_items[] = {
    {IND_IPV4, "198.51.100.7"},
    {IND_IPV4, "203.0.113.0/24"},
    {IND_IPV6, "2001:db8::1"},
    {IND_IPV6, "2001:db8:0:0:1:0:0:1/64"},
    {IND_DOMAIN, "Evil.Example.COM."},
    {IND_URL, "HTTP://User:pw@Bad.Example:8080/a/B?q=1#f"},
    {IND_URL, "https://[2001:db8::2]/it's\\here"},
    {IND_EMAIL, "Phish.Er@Example.ORG"},
    {IND_MD5, "D41D8CD98F00B204E9800998ECF8427E"},
    {IND_SHA1, "da39a3ee5e6b4b0d3255bfef95601890afd80709"},
    {IND_SHA256, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
};
#define N_ITEMS (sizeof s_items / sizeof s_items[0])

/* A batch of every seed item, valid as the daemon checks them, except that
 * item 'bad' (if < N_ITEMS) gets a pattern that does not match. */
static uint8_t *s_batch(size_t bad, size_t *len)
{
    static char ids[N_ITEMS][IND_ID_LEN + 1], values[N_ITEMS][IND_VALUE_MAX + 1];
    static char patterns[N_ITEMS][IND_PATTERN_MAX + 1];
    static char *hops[] = {"a.example", "relay-1.example"};
    static char *labels[] = {"phishing", "c2"};
    Moux__Indicator ind[N_ITEMS], *pind[N_ITEMS];
    for (size_t i = 0; i < N_ITEMS; i++) {
        char uuid[37];
        const char *why = NULL;
        uuid4(uuid);
        snprintf(ids[i], sizeof ids[i], "indicator--%s", uuid);
        if (ind_normalise(s_items[i].type, s_items[i].value, values[i], sizeof values[i],
                          &why) != 0)
            s_die(why);
        if (ind_pattern(s_items[i].type, values[i], patterns[i], sizeof patterns[i]) != 0)
            s_die("pattern");
        if (i == bad)
            patterns[i][1] = 'X';
        moux__indicator__init(&ind[i]);
        ind[i].id = ids[i];
        ind[i].type = (char *)ind_type_name(s_items[i].type);
        ind[i].value = values[i];
        ind[i].tlp = (Moux__Tlp)(i % 5);
        ind[i].confidence = (uint32_t)(i * 9);
        ind[i].created_ms = 1767225600000ull;
        ind[i].modified_ms = 1767225600000ull + i;
        ind[i].valid_from_ms = 1767225600000ull;
        ind[i].valid_until_ms = i % 2 ? 0 : 1798761600000ull;
        ind[i].origin = i % 3 ? "a.example" : "";
        ind[i].n_hops = i % 3;
        ind[i].hops = hops;
        ind[i].revoked = i == 4;
        ind[i].pattern = patterns[i];
        ind[i].n_labels = i % 3;
        ind[i].labels = labels;
        pind[i] = &ind[i];
    }
    Moux__Batch batch = MOUX__BATCH__INIT;
    batch.n_items = N_ITEMS;
    batch.items = pind;
    *len = moux__batch__get_packed_size(&batch);
    uint8_t *out = malloc(*len);
    if (!out)
        s_die("out of memory");
    moux__batch__pack(&batch, out);
    return out;
}

/* ---- envelopes and receipts ---- */

static envelope_meta_t s_meta(uint64_t seq, uint32_t items, const char *mou)
{
    envelope_meta_t m;
    memset(&m, 0, sizeof m);
    m.sender = "a.example";
    m.recipient = "b.example";
    m.mou_id = mou;
    m.sender_key_id = s_a->sign_id;
    m.recipient_key_id = s_b->enc_id;
    m.sequence = seq;
    m.timestamp_ms = now_ms();
    m.item_count = items;
    return m;
}

static uint8_t *s_seal(const uint8_t *payload, size_t plen, uint32_t items, size_t *flen)
{
    envelope_meta_t m = s_meta(7, items, "mou-2026-001");
    uint8_t *frame = NULL, hash[BATCH_HASH_BYTES];
    if (envelope_seal(&m, payload, plen, s_a->sign_sk, s_a_tx, &frame, flen, hash) != 0)
        s_die("envelope_seal");
    return frame;
}

static uint8_t *s_receipt(int refused, size_t *len)
{
    uint8_t msgid[MSGID_BYTES], hash[BATCH_HASH_BYTES];
    randombytes_buf(msgid, sizeof msgid);
    randombytes_buf(hash, sizeof hash);
    Moux__ItemResult r[3], *pr[3];
    static const char *ids[3] = {"indicator--8c1e7a4e-1d2f-4b6a-9c3d-2e5f6a7b8c9d",
                                 "indicator--0f1e2d3c-4b5a-4968-8776-655443322110",
                                 "indicator--aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee"};
    for (int i = 0; i < 3; i++) {
        moux__item_result__init(&r[i]);
        r[i].id = (char *)ids[i];
        r[i].modified_ms = 1767225600000ull + (uint64_t)i;
        r[i].status = (Moux__ItemStatus)i;
        r[i].reason = i == 2 ? "invalid-value" : "";
        pr[i] = &r[i];
    }
    Moux__ReceiptBody b = MOUX__RECEIPT_BODY__INIT;
    b.version = PROTOCOL_VERSION;
    b.sender = "b.example";
    b.recipient = "a.example";
    b.signer_key_id = (ProtobufCBinaryData){KEYID_BYTES, s_b->sign_id};
    b.message_id = (ProtobufCBinaryData){MSGID_BYTES, msgid};
    b.sequence = 7;
    b.timestamp_ms = now_ms();
    if (refused) {
        b.status = MOUX__BATCH_STATUS__BATCH_REFUSED;
        b.reason = "stale-timestamp";
    } else {
        b.batch_hash = (ProtobufCBinaryData){sizeof hash, hash};
        b.status = MOUX__BATCH_STATUS__BATCH_OK;
        b.n_results = 3;
        b.results = pr;
    }
    uint8_t *frame = NULL;
    if (receipt_seal(&b, s_b->sign_sk, &frame, len) != 0)
        s_die("receipt_seal");
    return frame;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: make_seeds OUTDIR\n");
        return 2;
    }
    if (sodium_init() < 0)
        s_die("sodium_init");
    s_out = argv[1];
    s_mkdir(s_out);
    s_a = nodekeys_generate();
    s_b = nodekeys_generate();
    s_a_tx = s_key(), s_a_rx = s_key(), s_b_tx = s_key(), s_b_rx = s_key();
    if (!s_a || !s_b ||
        envelope_derive_keys(s_a->enc_sk, s_a->enc_pk, s_b->enc_pk, s_a_tx, s_a_rx) != 0 ||
        envelope_derive_keys(s_b->enc_sk, s_b->enc_pk, s_a->enc_pk, s_b_tx, s_b_rx) != 0)
        s_die("keys");

    /* fuzz_batch */
    size_t blen = 0, blen_bad = 0;
    uint8_t *batch = s_batch((size_t)-1, &blen), *batch_bad = s_batch(3, &blen_bad);
    s_seed("fuzz_batch", "valid", NULL, 0, batch, blen);
    s_seed("fuzz_batch", "bad-pattern", NULL, 0, batch_bad, blen_bad);

    /* fuzz_frame */
    size_t flen = 0, flen_small = 0, rlen = 0, rlen_ref = 0;
    uint8_t *frame = s_seal(batch, blen, N_ITEMS, &flen);
    uint8_t *frame_small = s_seal((const uint8_t *)"", 0, 0, &flen_small);
    uint8_t *receipt = s_receipt(0, &rlen), *receipt_ref = s_receipt(1, &rlen_ref);
    s_seed("fuzz_frame", "envelope", NULL, 0, frame, flen);
    s_seed("fuzz_frame", "envelope-empty", NULL, 0, frame_small, flen_small);
    s_seed("fuzz_frame", "receipt-ok", NULL, 0, receipt, rlen);
    s_seed("fuzz_frame", "receipt-refused", NULL, 0, receipt_ref, rlen_ref);

    /* fuzz_envelope_open: mode 0 (frame), mode 1 (header, ciphertext),
     * mode 2 (structured: flags, seq, item count, payload, flips). */
    static const uint8_t m0[] = {0}, m1[] = {1};
    s_seed("fuzz_envelope_open", "frame", m0, 1, frame_small, flen_small);
    s_seed("fuzz_envelope_open", "frame-batch", m0, 1, frame, flen);
    Moux__Frame *f = moux__frame__unpack(NULL, flen_small, frame_small);
    if (!f || f->kind_case != MOUX__FRAME__KIND_ENVELOPE)
        s_die("unpack");
    {
        const Moux__Envelope *e = f->envelope;
        size_t n = 1 + 2 + e->header.len + e->ciphertext.len;
        uint8_t *raw = malloc(n);
        if (!raw)
            s_die("out of memory");
        raw[0] = m1[0];
        raw[1] = (uint8_t)(e->header.len >> 8);
        raw[2] = (uint8_t)e->header.len;
        memcpy(raw + 3, e->header.data, e->header.len);
        memcpy(raw + 3 + e->header.len, e->ciphertext.data, e->ciphertext.len);
        s_seed("fuzz_envelope_open", "raw", NULL, 0, raw, n);
        free(raw);
    }
    moux__frame__free_unpacked(f, NULL);
    {
        uint8_t head[16] = {2, 3, 0, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0, N_ITEMS,
                            (uint8_t)(blen >> 8), (uint8_t)blen};
        static const uint8_t flips[] = {0x00, 0x10, 0x01, 0x00, 0x40, 0x80, 0x01, 0x00, 0xff};
        uint8_t *s = malloc(sizeof head + blen + sizeof flips);
        if (!s)
            s_die("out of memory");
        memcpy(s, head, sizeof head);
        memcpy(s + sizeof head, batch, blen);
        s_seed("fuzz_envelope_open", "structured", NULL, 0, s, sizeof head + blen);
        memcpy(s + sizeof head + blen, flips, sizeof flips);
        s_seed("fuzz_envelope_open", "structured-flips", NULL, 0, s,
               sizeof head + blen + sizeof flips);
        free(s);
        static const uint8_t tiny[] = {2, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 4,
                                       'a', 'b', 'c', 'd', 0, 2, 1};
        s_seed("fuzz_envelope_open", "structured-tiny", NULL, 0, tiny, sizeof tiny);
    }

    /* fuzz_receipt: mode 0 (pos, mask, body signed by the harness), mode 1
     * (SignedReceipt bytes). */
    Moux__Frame *rf = moux__frame__unpack(NULL, rlen, receipt);
    if (!rf || rf->kind_case != MOUX__FRAME__KIND_RECEIPT)
        s_die("unpack receipt");
    static const uint8_t r0[] = {0, 0, 5, 0x20}, r1[] = {1};
    s_seed("fuzz_receipt", "body", r0, sizeof r0, rf->receipt->body.data, rf->receipt->body.len);
    size_t srlen = moux__signed_receipt__get_packed_size(rf->receipt);
    uint8_t *sr = malloc(srlen);
    if (!sr)
        s_die("out of memory");
    moux__signed_receipt__pack(rf->receipt, sr);
    s_seed("fuzz_receipt", "signed", r1, 1, sr, srlen);
    free(sr);
    moux__frame__free_unpacked(rf, NULL);
    rf = moux__frame__unpack(NULL, rlen_ref, receipt_ref);
    if (!rf || rf->kind_case != MOUX__FRAME__KIND_RECEIPT)
        s_die("unpack receipt");
    s_seed("fuzz_receipt", "body-refused", r0, sizeof r0, rf->receipt->body.data,
           rf->receipt->body.len);
    moux__frame__free_unpacked(rf, NULL);

    /* fuzz_bundle: mode 0 (a real bundle), mode 1 (agency, endpoint and a
     * template the harness fills with its root key and a certificate),
     * mode 2 (agency, endpoint). */
    {
        rootkey_t *root = rootkey_generate();
        if (!root)
            s_die("rootkey_generate");
        cert_t c;
        memset(&c, 0, sizeof c);
        str_copy(c.agency, sizeof c.agency, "vn.ais");
        str_copy(c.endpoint, sizeof c.endpoint, "tcp://127.0.0.1:7101");
        memcpy(c.sign_pk, s_a->sign_pk, 32);
        memcpy(c.enc_pk, s_a->enc_pk, 32);
        memcpy(c.curve_pk, s_a->curve_pk, 32);
        c.serial = 1;
        c.not_before_ms = now_ms();
        c.not_after_ms = c.not_before_ms + 30ull * 86400 * 1000;
        uint8_t *cert = NULL;
        size_t clen = 0;
        if (cert_issue(&c, root, &cert, &clen) != 0)
            s_die("cert_issue");
        config_t cfg;
        memset(&cfg, 0, sizeof cfg);
        str_copy(cfg.agency, sizeof cfg.agency, c.agency);
        str_copy(cfg.endpoint, sizeof cfg.endpoint, c.endpoint);
        char *text = NULL;
        if (bundle_make(&cfg, root->pk, cert, clen, &text) != 0)
            s_die("bundle_make");
        static const uint8_t b0[] = {0}, b1[] = {1}, b2[] = {2};
        s_seed("fuzz_bundle", "bundle", b0, 1, (const uint8_t *)text, strlen(text));
        char buf[20000];
        snprintf(buf, sizeof buf, "# from vn.ais, 2026-01-01\n#\n%s", text);
        s_seed("fuzz_bundle", "bundle-comment", b0, 1, (const uint8_t *)buf, strlen(buf));
        static const char tmpl[] =
            "b.example\0tcp://[::1]:7102\0# comment\nmoux-bundle 2\nagency b.example\n"
            "endpoint tcp://[::1]:7102\nroot-key @ROOT@\ncertificate @CERT@\n";
        s_seed("fuzz_bundle", "template", b1, 1, (const uint8_t *)tmpl, sizeof tmpl - 1);
        static const char pair[] = "vn.ais\0tcp://127.0.0.1:7101";
        s_seed("fuzz_bundle", "round-trip", b2, 1, (const uint8_t *)pair, sizeof pair - 1);
        free(text);
        free(cert);
        rootkey_destroy(&root);
    }

    free(batch);
    free(batch_bad);
    free(frame);
    free(frame_small);
    free(receipt);
    free(receipt_ref);
    sodium_free(s_a_tx);
    sodium_free(s_a_rx);
    sodium_free(s_b_tx);
    sodium_free(s_b_rx);
    nodekeys_destroy(&s_a);
    nodekeys_destroy(&s_b);
    return 0;
}
