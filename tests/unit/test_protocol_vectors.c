/* docs/PROTOCOL.md Appendix A, recomputed: the same keys, the same fixed
 * "random" message id and nonce, the batch and receipt sealed by the library,
 * and every value checked against the hex the document prints. A wire change
 * that is not written into the document fails here.
 *
 *   test_protocol_vectors [--print]   (--print: the values, for the appendix)
 *
 * Runs from the repository root (ctest's working directory). */
#include "envelope.h"
#include "keyid.h"
#include "moux.pb-c.h"
#include "receipt.h"
#include "test.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define DOC "docs/PROTOCOL.md"
#define T_BATCH 1767225600000ull
#define T_RECEIPT 1767225601000ull

/* randombytes for this test only: the envelope draws the message id, then
 * the nonce; the appendix fixes them to 00 01 .. 0f and 40 41 .. 57. */
static int s_draws;

static void s_fixed_buf(void *const buf, const size_t n)
{
    uint8_t base = s_draws++ == 0 ? 0x00 : 0x40;
    for (size_t i = 0; i < n; i++)
        ((uint8_t *)buf)[i] = (uint8_t)(base + i);
}

static uint32_t s_fixed_random(void)
{
    return 0;
}

static const char *s_fixed_name(void)
{
    return "appendix-a";
}

static randombytes_implementation s_fixed = {
    .implementation_name = s_fixed_name, .random = s_fixed_random, .buf = s_fixed_buf};

typedef struct {
    unsigned char sign_pk[32], sign_sk[64], enc_pk[32], enc_sk[32], curve_pk[32];
} s_node_t;

static void s_node(s_node_t *n, uint8_t seed_byte)
{
    unsigned char seed[32], curve_sk[32];
    memset(seed, seed_byte, sizeof seed);
    crypto_sign_seed_keypair(n->sign_pk, n->sign_sk, seed);
    memset(n->enc_sk, seed_byte + 1, sizeof n->enc_sk);
    crypto_scalarmult_base(n->enc_pk, n->enc_sk);
    memset(curve_sk, seed_byte + 2, sizeof curve_sk);
    crypto_scalarmult_base(n->curve_pk, curve_sk);
}

static char *s_doc;     /* the document with all white space removed */
static int s_print;

static char *s_read_doc(void)
{
    FILE *f = fopen(DOC, "rb");
    if (!f)
        return NULL;
    char *out = malloc(1 << 20);
    size_t n = 0;
    int ch;
    while (out && (ch = fgetc(f)) != EOF && n < (1 << 20) - 1)
        if (ch != ' ' && ch != '\n' && ch != '\t' && ch != '\r')
            out[n++] = (char)ch;
    fclose(f);
    if (out)
        out[n] = '\0';
    return out;
}

/* The value's hex must follow its label in the document (white space
 * aside: the appendix prints hex in lines of 64, or beside short labels). */
static void s_value(const char *label, const uint8_t *bytes, size_t len)
{
    char *hex = malloc(2 * len + 1), *want = malloc(strlen(label) + 2 * len + 1);
    sodium_bin2hex(hex, 2 * len + 1, bytes, len);
    size_t n = 0;
    for (const char *p = label; *p; p++)
        if (*p != ' ')
            want[n++] = *p;
    memcpy(want + n, hex, 2 * len + 1);
    if (s_print) {
        printf("%s\n", label);
        for (size_t i = 0; i < 2 * len; i += 64)
            printf("%.64s\n", hex + i);
        printf("\n");
    } else if (!s_doc || !strstr(s_doc, want)) {
        fprintf(stderr, "%s: \"%s\" is not followed by this value: %s\n", DOC, label, hex);
        t_failed_checks++;
    }
    free(want);
    free(hex);
}

/* "LABEL (N bytes)", as the appendix names sized values. */
static const char *s_sized(char *buf, size_t cap, const char *label, size_t len)
{
    snprintf(buf, cap, "%s (%zu bytes)", label, len);
    return buf;
}

static uint8_t *s_pack_payload(size_t *len)
{
    Moux__Indicator ind = MOUX__INDICATOR__INIT;
    ind.id = "indicator--00000000-0000-4000-8000-000000000000";
    ind.type = "ipv4-addr";
    ind.value = "192.0.2.1";
    ind.tlp = MOUX__TLP__TLP_GREEN;
    ind.confidence = 50;
    ind.created_ms = ind.modified_ms = ind.valid_from_ms = T_BATCH;
    ind.origin = "a.example";
    ind.pattern = "[ipv4-addr:value = '192.0.2.1']";
    Moux__Indicator *items[1] = {&ind};
    Moux__Batch b = MOUX__BATCH__INIT;
    b.n_items = 1;
    b.items = items;
    *len = moux__batch__get_packed_size(&b);
    uint8_t *out = malloc(*len);
    moux__batch__pack(&b, out);
    return out;
}

static void test_appendix_a(void)
{
    s_node_t a, b;
    s_node(&a, 0x01);
    s_node(&b, 0x11);
    unsigned char a_sign_id[32], b_enc_id[32], b_sign_id[32], q[32];
    keyid_of(a.sign_pk, 32, a_sign_id);
    keyid_of(b.enc_pk, 32, b_enc_id);
    keyid_of(b.sign_pk, 32, b_sign_id);
    s_value("A sign_pk", a.sign_pk, 32);
    s_value("A enc_pk", a.enc_pk, 32);
    s_value("A curve_pk", a.curve_pk, 32);
    s_value("B sign_pk", b.sign_pk, 32);
    s_value("B enc_pk", b.enc_pk, 32);
    s_value("B curve_pk", b.curve_pk, 32);
    s_value("keyid(A sign_pk)", a_sign_id, 32);
    s_value("keyid(B enc_pk)", b_enc_id, 32);
    s_value("keyid(B sign_pk)", b_sign_id, 32);
    CHECK(crypto_scalarmult(q, a.enc_sk, b.enc_pk) == 0);
    s_value("X25519(A enc_sk, B enc_pk)", q, 32);
    unsigned char a_tx[32], a_rx[32], b_tx[32], b_rx[32];
    CHECK(envelope_derive_keys(a.enc_sk, a.enc_pk, b.enc_pk, a_tx, a_rx) == 0);
    CHECK(envelope_derive_keys(b.enc_sk, b.enc_pk, a.enc_pk, b_tx, b_rx) == 0);
    CHECK(memcmp(a_tx, b_rx, 32) == 0 && memcmp(a_rx, b_tx, 32) == 0);
    s_value("K(A->B) = A tx = B rx", a_tx, 32);
    s_value("K(B->A) = A rx = B tx", a_rx, 32);

    /* The batch A -> B. */
    size_t plen = 0, flen = 0;
    uint8_t *payload = s_pack_payload(&plen), *frame = NULL, hash[BATCH_HASH_BYTES];
    envelope_meta_t m = {.sender = "a.example", .recipient = "b.example",
                         .sender_key_id = a_sign_id, .recipient_key_id = b_enc_id,
                         .sequence = 1, .timestamp_ms = T_BATCH, .item_count = 1};
    s_draws = 0;
    CHECK(envelope_seal(&m, payload, plen, a.sign_sk, a_tx, &frame, &flen, hash) == 0);
    Moux__Frame *f = frame ? moux__frame__unpack(NULL, flen, frame) : NULL;
    CHECK(f && f->kind_case == MOUX__FRAME__KIND_ENVELOPE);
    if (!f)
        return;
    const Moux__Envelope *env = f->envelope;
    uint8_t *opened = NULL;
    size_t olen = 0;
    envelope_proof_t proof;
    const char *why = NULL;
    CHECK(envelope_open(env, b_rx, a.sign_pk, &opened, &olen, &proof, &why) == 0);
    CHECK(olen == plen && opened && memcmp(opened, payload, plen) == 0);
    CHECK(memcmp(proof.hash, hash, sizeof hash) == 0);
    char label[128];
    s_value(s_sized(label, sizeof label, "header", env->header.len), env->header.data,
            env->header.len);
    s_value(s_sized(label, sizeof label, "payload", plen), payload, plen);
    snprintf(label, sizeof label, "= BLAKE2b-256(%08zx || header || payload)", env->header.len);
    s_value(label, hash, sizeof hash);
    s_value("signature = Ed25519(A, \"moux/batch/2\" || batch_hash)", proof.sig,
            sizeof proof.sig);
    s_value(s_sized(label, sizeof label, "ciphertext", env->ciphertext.len),
            env->ciphertext.data, env->ciphertext.len);
    s_value(s_sized(label, sizeof label, "frame = the ZeroMQ message", flen), frame, flen);

    /* The receipt B -> A. */
    Moux__ItemResult r = MOUX__ITEM_RESULT__INIT, *rp[1] = {&r};
    r.id = "indicator--00000000-0000-4000-8000-000000000000";
    r.modified_ms = T_BATCH;
    r.status = MOUX__ITEM_STATUS__ITEM_ACCEPTED;
    Moux__ReceiptBody body = MOUX__RECEIPT_BODY__INIT;
    body.version = PROTOCOL_VERSION;
    body.sender = "b.example";
    body.recipient = "a.example";
    body.signer_key_id = (ProtobufCBinaryData){32, b_sign_id};
    body.message_id = (ProtobufCBinaryData){MSGID_BYTES, m.message_id};
    body.batch_hash = (ProtobufCBinaryData){sizeof hash, hash};
    body.timestamp_ms = T_RECEIPT;
    body.status = MOUX__BATCH_STATUS__BATCH_OK;
    body.n_results = 1;
    body.results = rp;
    body.sequence = 1;
    uint8_t *rframe = NULL;
    size_t rlen = 0;
    CHECK(receipt_seal(&body, b.sign_sk, &rframe, &rlen) == 0);
    Moux__Frame *rf = rframe ? moux__frame__unpack(NULL, rlen, rframe) : NULL;
    CHECK(rf && rf->kind_case == MOUX__FRAME__KIND_RECEIPT);
    if (rf) {
        Moux__ReceiptBody *got = NULL;
        CHECK(receipt_open(rf->receipt, b.sign_pk, NULL, &got, &why) == 0);
        if (got)
            moux__receipt_body__free_unpacked(got, NULL);
        s_value(s_sized(label, sizeof label, "body", rf->receipt->body.len),
                rf->receipt->body.data, rf->receipt->body.len);
        s_value("signature = Ed25519(B, \"moux/receipt/2\" || body)",
                rf->receipt->signature.data, rf->receipt->signature.len);
        s_value(s_sized(label, sizeof label, "frame", rlen), rframe, rlen);
        moux__frame__free_unpacked(rf, NULL);
    }
    free(rframe);
    free(opened);
    free(payload);
    free(frame);
    moux__frame__free_unpacked(f, NULL);
}

int main(int argc, char **argv)
{
    s_print = argc > 1 && strcmp(argv[1], "--print") == 0;
    randombytes_set_implementation(&s_fixed);
    if (sodium_init() < 0)
        return 1;
    s_doc = s_read_doc();
    if (!s_print && !s_doc) {
        fprintf(stderr, "%s: cannot read (run from the repository root)\n", DOC);
        return 1;
    }
    if (s_print) {
        test_appendix_a();
        return t_failed_checks != 0;
    }
    RUN(test_appendix_a);
    free(s_doc);
    return TEST_DONE();
}
