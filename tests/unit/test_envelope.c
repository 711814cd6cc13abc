/* The end-to-end envelope and signed receipts: round trips, and every check
 * a receiver makes shown refusing. Keys are generated at run time only. */
#include "envelope.h"
#include "keyid.h"
#include "moux.pb-c.h"
#include "nodekeys.h"
#include "reason.h"
#include "receipt.h"
#include "test.h"
#include "util.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define OVERHEAD (crypto_aead_xchacha20poly1305_ietf_ABYTES + crypto_sign_BYTES)

static nodekeys_t *s_a, *s_b, *s_c;
/* Directional keys: a_tx is A->B, a_rx is B->A (as derived at A), and so on. */
static unsigned char *s_a_tx, *s_a_rx, *s_b_tx, *s_b_rx, *s_c_tx, *s_c_rx;

static const uint8_t s_payload[] = "a batch payload: any bytes \x00\x01\x02 will do here";

/* ---- helpers ---- */

static unsigned char *secure_key(void)
{
    unsigned char *k = sodium_malloc(BATCH_KEY_BYTES);
    if (!k)
        abort();
    memset(k, 0, BATCH_KEY_BYTES);
    return k;
}

/* Meta for a batch from A to B. */
static envelope_meta_t meta_a_to_b(uint64_t seq)
{
    envelope_meta_t m;
    memset(&m, 0, sizeof m);
    m.sender = "a.example";
    m.recipient = "b.example";
    m.mou_id = NULL;
    m.sender_key_id = s_a->sign_id;
    m.recipient_key_id = s_b->enc_id;
    m.sequence = seq;
    m.timestamp_ms = now_ms();
    m.item_count = 3;
    return m;
}

/* Seals payload with sign_sk and tx and unpacks the resulting Frame (caller
 * frees with moux__frame__free_unpacked). */
static Moux__Frame *seal(envelope_meta_t *m, const uint8_t *payload, size_t len,
                         const unsigned char *sign_sk, const unsigned char *tx,
                         uint8_t hash[BATCH_HASH_BYTES])
{
    uint8_t *bytes = NULL, scratch[BATCH_HASH_BYTES];
    size_t blen = 0;
    if (envelope_seal(m, payload, len, sign_sk, tx, &bytes, &blen, hash ? hash : scratch) != 0)
        return NULL;
    Moux__Frame *f = moux__frame__unpack(NULL, blen, bytes);
    free(bytes);
    if (f && f->kind_case != MOUX__FRAME__KIND_ENVELOPE) {
        moux__frame__free_unpacked(f, NULL);
        return NULL;
    }
    return f;
}

/* A frame from A to B carrying s_payload, properly sealed. */
static Moux__Frame *seal_a_to_b(envelope_meta_t *m, uint8_t hash[BATCH_HASH_BYTES])
{
    *m = meta_a_to_b(1);
    return seal(m, s_payload, sizeof s_payload, s_a->sign_sk, s_a_tx, hash);
}

/* Opens env at B (rx key and sender key given); returns the reason code, or
 * "ok" when it opened and the payload equals s_payload. */
static const char *open_at(const Moux__Envelope *env, const unsigned char *rx,
                           const unsigned char *sender_pk)
{
    uint8_t *payload = NULL;
    envelope_proof_t proof;
    size_t len = 0;
    const char *reason = "(none)";
    if (envelope_open(env, rx, sender_pk, &payload, &len, &proof, &reason) != 0) {
        CHECK(payload == NULL); /* nothing handed out on failure */
        return reason;
    }
    int same = len == sizeof s_payload && memcmp(payload, s_payload, len) == 0;
    free(payload);
    return same ? "ok" : "opened, but a different payload";
}

/* envelope_header on raw header bytes; returns the reason, or "ok". */
static const char *header_reason(const uint8_t *bytes, size_t len)
{
    Moux__Envelope env = MOUX__ENVELOPE__INIT;
    env.header = (ProtobufCBinaryData){len, (uint8_t *)bytes};
    Moux__BatchHeader *h = NULL;
    const char *reason = "(none)";
    if (envelope_header(&env, &h, &reason) != 0) {
        CHECK(h == NULL);
        return reason;
    }
    moux__batch_header__free_unpacked(h, NULL);
    return "ok";
}

/* A well-formed header with the given overrides applied by the caller. */
typedef struct {
    uint8_t sender_kid[32], recipient_kid[32], msgid[32], nonce[32];
    Moux__BatchHeader h;
} hdr_t;

static void hdr_init(hdr_t *x)
{
    memset(x, 0, sizeof *x);
    randombytes_buf(x->sender_kid, sizeof x->sender_kid);
    randombytes_buf(x->recipient_kid, sizeof x->recipient_kid);
    randombytes_buf(x->msgid, sizeof x->msgid);
    randombytes_buf(x->nonce, sizeof x->nonce);
    moux__batch_header__init(&x->h);
    x->h.version = PROTOCOL_VERSION;
    x->h.sender = "a.example";
    x->h.recipient = "b.example";
    x->h.mou_id = "";
    x->h.sender_key_id = (ProtobufCBinaryData){32, x->sender_kid};
    x->h.recipient_key_id = (ProtobufCBinaryData){32, x->recipient_kid};
    x->h.message_id = (ProtobufCBinaryData){16, x->msgid};
    x->h.nonce = (ProtobufCBinaryData){24, x->nonce};
    x->h.sequence = 1;
    x->h.timestamp_ms = now_ms();
    x->h.item_count = 1;
}

/* Packs x->h and runs envelope_header over it. */
static const char *hdr_reason(hdr_t *x)
{
    uint8_t buf[1024];
    size_t n = moux__batch_header__get_packed_size(&x->h);
    if (n > sizeof buf)
        return "(header too big for the test)";
    moux__batch_header__pack(&x->h, buf);
    return header_reason(buf, n);
}

/* Re-packs env's header with one field changed by fn and returns a new
 * envelope sharing the original ciphertext (header freed by the caller). */
static Moux__Envelope with_header(const Moux__Envelope *env,
                                  void (*fn)(Moux__BatchHeader *h))
{
    Moux__BatchHeader *h = moux__batch_header__unpack(NULL, env->header.len, env->header.data);
    Moux__Envelope out = MOUX__ENVELOPE__INIT;
    if (!h)
        return out;
    /* fn may point strings at literals: restore them before freeing. */
    char *sender = h->sender, *recipient = h->recipient, *mou = h->mou_id;
    fn(h);
    out.header.len = moux__batch_header__get_packed_size(h);
    out.header.data = malloc(out.header.len);
    moux__batch_header__pack(h, out.header.data);
    out.ciphertext = env->ciphertext;
    h->sender = sender;
    h->recipient = recipient;
    h->mou_id = mou;
    moux__batch_header__free_unpacked(h, NULL);
    return out;
}

static void bump_timestamp(Moux__BatchHeader *h) { h->timestamp_ms += 1; }
static void bump_sequence(Moux__BatchHeader *h) { h->sequence += 1; }
static void bump_item_count(Moux__BatchHeader *h) { h->item_count += 1; }
static void change_recipient(Moux__BatchHeader *h) { h->recipient = "c.example"; }
static void change_mou(Moux__BatchHeader *h) { h->mou_id = "mou-2"; }

/* ---- key derivation ---- */

static void test_derived_keys_pair_up(void)
{
    CHECK(memcmp(s_a_tx, s_b_rx, BATCH_KEY_BYTES) == 0);
    CHECK(memcmp(s_a_rx, s_b_tx, BATCH_KEY_BYTES) == 0);
    CHECK(memcmp(s_a_tx, s_a_rx, BATCH_KEY_BYTES) != 0);
    CHECK(memcmp(s_b_tx, s_b_rx, BATCH_KEY_BYTES) != 0);
    /* C's keys with A have nothing in common with B's. */
    CHECK(memcmp(s_c_rx, s_b_rx, BATCH_KEY_BYTES) != 0);
    CHECK(memcmp(s_c_tx, s_b_tx, BATCH_KEY_BYTES) != 0);
}

static void test_derived_key_matches_definition(void)
{
    /* K(A->B) = BLAKE2b-256(key = "moux/batch-key/1", X25519(skA, pkB) || pkA || pkB) */
    unsigned char in[96], k[32];
    CHECK(crypto_scalarmult(in, s_a->enc_sk, s_b->enc_pk) == 0);
    memcpy(in + 32, s_a->enc_pk, 32);
    memcpy(in + 64, s_b->enc_pk, 32);
    crypto_generichash(k, 32, in, 96, (const unsigned char *)"moux/batch-key/1", 16);
    CHECK(memcmp(k, s_a_tx, 32) == 0);
}

static void test_derive_refuses_low_order_peer_key(void)
{
    /* The all-zero key and the other small-order Curve25519 points. */
    static const unsigned char bad[][32] = {
        {0},
        {1},
        {0xe0, 0xeb, 0x7a, 0x7c, 0x3b, 0x41, 0xb8, 0xae, 0x16, 0x56, 0xe3, 0xfa, 0xf1, 0x9f, 0xc4,
         0x6a, 0xda, 0x09, 0x8d, 0xeb, 0x9c, 0x32, 0xb1, 0xfd, 0x86, 0x62, 0x05, 0x16, 0x5f, 0x49,
         0xb8, 0x00},
        {0x5f, 0x9c, 0x95, 0xbc, 0xa3, 0x50, 0x8c, 0x24, 0xb1, 0xd0, 0xb1, 0x55, 0x9c, 0x83, 0xef,
         0x5b, 0x04, 0x44, 0x5c, 0xc4, 0x58, 0x1c, 0x8e, 0x86, 0xd8, 0x22, 0x4e, 0xdd, 0xd0, 0x9f,
         0x11, 0x57},
        {0xec, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
         0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
         0xff, 0x7f},
        {0xed, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
         0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
         0xff, 0x7f},
        {0xee, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
         0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
         0xff, 0x7f},
    };
    unsigned char *tx = secure_key(), *rx = secure_key();
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK(envelope_derive_keys(s_a->enc_sk, s_a->enc_pk, bad[i], tx, rx) == -1);
    sodium_free(tx);
    sodium_free(rx);
}

/* ---- seal and open ---- */

static void test_seal_open_round_trip(void)
{
    envelope_meta_t m;
    uint8_t hash[BATCH_HASH_BYTES], *payload = NULL;
    envelope_proof_t proof;
    size_t len = 0;
    const char *reason = NULL;
    Moux__Frame *f = seal_a_to_b(&m, hash);
    CHECK(f != NULL);
    if (!f)
        return;
    const Moux__Envelope *env = f->envelope;
    CHECK(envelope_open(env, s_b_rx, s_a->sign_pk, &payload, &len, &proof, &reason) == 0);
    CHECK(len == sizeof s_payload && payload && memcmp(payload, s_payload, len) == 0);

    /* The batch hash is BLAKE2b-256(u32be(|header|) || header || payload),
     * recomputed here in one piece; sender and receiver agree on it. */
    size_t hlen = env->header.len;
    uint8_t *cat = malloc(4 + hlen + len), again[BATCH_HASH_BYTES];
    cat[0] = (uint8_t)(hlen >> 24);
    cat[1] = (uint8_t)(hlen >> 16);
    cat[2] = (uint8_t)(hlen >> 8);
    cat[3] = (uint8_t)hlen;
    memcpy(cat + 4, env->header.data, hlen);
    memcpy(cat + 4 + hlen, s_payload, len);
    crypto_generichash(again, sizeof again, cat, 4 + hlen + len, NULL, 0);
    CHECK(memcmp(hash, again, BATCH_HASH_BYTES) == 0);
    CHECK(memcmp(proof.hash, again, BATCH_HASH_BYTES) == 0);
    free(cat);

    /* The signature is Ed25519 over "moux/batch/2" || batch hash. */
    uint8_t signed_bytes[12 + BATCH_HASH_BYTES];
    memcpy(signed_bytes, "moux/batch/2", 12);
    memcpy(signed_bytes + 12, hash, BATCH_HASH_BYTES);
    CHECK(crypto_sign_verify_detached(proof.sig, signed_bytes, sizeof signed_bytes,
                                      s_a->sign_pk) == 0);

    CHECK(env->ciphertext.len == sizeof s_payload + OVERHEAD);
    free(payload);
    moux__frame__free_unpacked(f, NULL);
}

static void test_header_carries_meta(void)
{
    envelope_meta_t m;
    Moux__Frame *f = seal_a_to_b(&m, NULL);
    CHECK(f != NULL);
    if (!f)
        return;
    Moux__BatchHeader *h = NULL;
    const char *reason = NULL;
    CHECK(envelope_header(f->envelope, &h, &reason) == 0);
    if (h) {
        CHECK(h->version == PROTOCOL_VERSION);
        CHECK_STR(h->sender, "a.example");
        CHECK_STR(h->recipient, "b.example");
        CHECK_STR(h->mou_id, "");
        CHECK(memcmp(h->sender_key_id.data, s_a->sign_id, 32) == 0);
        unsigned char enc_id[KEYID_BYTES];
        keyid_of(s_b->enc_pk, 32, enc_id);
        CHECK(memcmp(h->recipient_key_id.data, enc_id, 32) == 0);
        CHECK(h->message_id.len == MSGID_BYTES);
        CHECK(memcmp(h->message_id.data, m.message_id, MSGID_BYTES) == 0);
        CHECK(h->sequence == 1);
        CHECK(h->timestamp_ms == m.timestamp_ms);
        CHECK(h->item_count == 3);
        CHECK(h->nonce.len == crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
        moux__batch_header__free_unpacked(h, NULL);
    }
    moux__frame__free_unpacked(f, NULL);
}

static void test_each_seal_is_fresh(void)
{
    envelope_meta_t m1, m2;
    Moux__Frame *f1 = seal_a_to_b(&m1, NULL), *f2 = seal_a_to_b(&m2, NULL);
    CHECK(f1 && f2);
    if (f1 && f2) {
        CHECK(memcmp(m1.message_id, m2.message_id, MSGID_BYTES) != 0);
        CHECK(f1->envelope->ciphertext.len == f2->envelope->ciphertext.len);
        CHECK(memcmp(f1->envelope->ciphertext.data, f2->envelope->ciphertext.data,
                     f1->envelope->ciphertext.len) != 0);
    }
    moux__frame__free_unpacked(f1, NULL);
    moux__frame__free_unpacked(f2, NULL);
}

static void test_empty_payload_round_trip(void)
{
    envelope_meta_t m = meta_a_to_b(2);
    m.item_count = 0;
    static const uint8_t none[1] = {0};
    Moux__Frame *f = seal(&m, none, 0, s_a->sign_sk, s_a_tx, NULL);
    CHECK(f != NULL);
    if (!f)
        return;
    CHECK(f->envelope->ciphertext.len == OVERHEAD);
    uint8_t *payload = NULL;
    envelope_proof_t proof;
    size_t len = 99;
    const char *reason = NULL;
    CHECK(envelope_open(f->envelope, s_b_rx, s_a->sign_pk, &payload, &len, &proof, &reason) == 0);
    CHECK(len == 0);
    free(payload);
    moux__frame__free_unpacked(f, NULL);
}

/* ---- refusals: ciphertext ---- */

static void test_flipped_ciphertext_byte_refused(void)
{
    envelope_meta_t m;
    Moux__Frame *f = seal_a_to_b(&m, NULL);
    CHECK(f != NULL);
    if (!f)
        return;
    ProtobufCBinaryData *ct = &f->envelope->ciphertext;
    CHECK_STR(open_at(f->envelope, s_b_rx, s_a->sign_pk), "ok");
    for (size_t i = 0; i < ct->len; i++) {
        for (int bit = 0; bit < 8; bit += 7) { /* lowest and highest bit */
            ct->data[i] ^= (uint8_t)(1u << bit);
            const char *why = open_at(f->envelope, s_b_rx, s_a->sign_pk);
            if (strcmp(why, REASON_BAD_CIPHERTEXT) != 0) {
                fprintf(stderr, "  ciphertext byte %zu bit %d: %s\n", i, bit, why);
                CHECK(!"flipped ciphertext refused as bad-ciphertext");
            }
            ct->data[i] ^= (uint8_t)(1u << bit);
        }
    }
    CHECK_STR(open_at(f->envelope, s_b_rx, s_a->sign_pk), "ok"); /* restored */
    moux__frame__free_unpacked(f, NULL);
}

static void test_short_ciphertext_refused(void)
{
    envelope_meta_t m;
    Moux__Frame *f = seal_a_to_b(&m, NULL);
    CHECK(f != NULL);
    if (!f)
        return;
    Moux__Envelope env = *f->envelope;
    size_t full = env.ciphertext.len;
    env.ciphertext.len = full - 1; /* one byte cut off the tag */
    CHECK_STR(open_at(&env, s_b_rx, s_a->sign_pk), REASON_BAD_CIPHERTEXT);
    env.ciphertext.len = OVERHEAD - 1;
    CHECK_STR(open_at(&env, s_b_rx, s_a->sign_pk), REASON_BAD_CIPHERTEXT);
    env.ciphertext.len = OVERHEAD;
    CHECK_STR(open_at(&env, s_b_rx, s_a->sign_pk), REASON_BAD_CIPHERTEXT);
    env.ciphertext.len = crypto_aead_xchacha20poly1305_ietf_ABYTES;
    CHECK_STR(open_at(&env, s_b_rx, s_a->sign_pk), REASON_BAD_CIPHERTEXT);
    env.ciphertext = (ProtobufCBinaryData){0, NULL};
    CHECK_STR(open_at(&env, s_b_rx, s_a->sign_pk), REASON_BAD_CIPHERTEXT);
    moux__frame__free_unpacked(f, NULL);
}

/* ---- refusals: header as associated data ---- */

static void test_flipped_nonce_byte_refused(void)
{
    envelope_meta_t m;
    Moux__Frame *f = seal_a_to_b(&m, NULL);
    CHECK(f != NULL);
    if (!f)
        return;
    ProtobufCBinaryData *hd = &f->envelope->header;
    Moux__BatchHeader *h = moux__batch_header__unpack(NULL, hd->len, hd->data);
    CHECK(h && h->nonce.len == 24);
    /* Where the nonce sits in the header bytes. */
    size_t at = 0;
    int found = 0;
    for (size_t i = 0; h && i + 24 <= hd->len && !found; i++)
        if (memcmp(hd->data + i, h->nonce.data, 24) == 0) {
            at = i;
            found = 1;
        }
    CHECK(found);
    moux__batch_header__free_unpacked(h, NULL);
    for (size_t i = at; found && i < at + 24; i++) {
        hd->data[i] ^= 0x01;
        CHECK_STR(header_reason(hd->data, hd->len), "ok"); /* still a valid header */
        CHECK_STR(open_at(f->envelope, s_b_rx, s_a->sign_pk), REASON_BAD_CIPHERTEXT);
        hd->data[i] ^= 0x01;
    }
    moux__frame__free_unpacked(f, NULL);
}

static void test_changed_header_field_refused(void)
{
    void (*changes[])(Moux__BatchHeader *) = {bump_timestamp, bump_sequence, bump_item_count,
                                              change_recipient, change_mou};
    envelope_meta_t m;
    Moux__Frame *f = seal_a_to_b(&m, NULL);
    CHECK(f != NULL);
    if (!f)
        return;
    for (size_t i = 0; i < sizeof changes / sizeof changes[0]; i++) {
        Moux__Envelope env = with_header(f->envelope, changes[i]);
        CHECK(env.header.data != NULL);
        CHECK_STR(header_reason(env.header.data, env.header.len), "ok");
        CHECK_STR(open_at(&env, s_b_rx, s_a->sign_pk), REASON_BAD_CIPHERTEXT);
        free(env.header.data);
    }
    moux__frame__free_unpacked(f, NULL);
}

static void test_any_flipped_header_byte_refused(void)
{
    /* Whatever byte of the header changes, the batch never opens: either the
     * header no longer parses or the AEAD rejects it. */
    envelope_meta_t m;
    Moux__Frame *f = seal_a_to_b(&m, NULL);
    CHECK(f != NULL);
    if (!f)
        return;
    ProtobufCBinaryData *hd = &f->envelope->header;
    for (size_t i = 0; i < hd->len; i++) {
        hd->data[i] ^= 0x01;
        const char *why = open_at(f->envelope, s_b_rx, s_a->sign_pk);
        if (strcmp(why, "ok") == 0) {
            fprintf(stderr, "  header byte %zu flipped and still opened\n", i);
            CHECK(!"flipped header refused");
        }
        hd->data[i] ^= 0x01;
    }
    moux__frame__free_unpacked(f, NULL);
}

/* ---- refusals: wrong keys ---- */

static void test_wrong_rx_key_refused(void)
{
    envelope_meta_t m;
    Moux__Frame *f = seal_a_to_b(&m, NULL);
    CHECK(f != NULL);
    if (!f)
        return;
    /* C (with its own key shared with A) cannot read A's batch to B. */
    CHECK_STR(open_at(f->envelope, s_c_rx, s_a->sign_pk), REASON_BAD_CIPHERTEXT);
    /* Nor can A's batch be reflected back to A: directions have their own keys. */
    CHECK_STR(open_at(f->envelope, s_a_rx, s_a->sign_pk), REASON_BAD_CIPHERTEXT);
    CHECK_STR(open_at(f->envelope, s_b_tx, s_a->sign_pk), REASON_BAD_CIPHERTEXT);
    moux__frame__free_unpacked(f, NULL);
}

static void test_wrong_signing_key_refused(void)
{
    /* Encrypted with the right A->B key but signed by C. */
    envelope_meta_t m = meta_a_to_b(1);
    Moux__Frame *f = seal(&m, s_payload, sizeof s_payload, s_c->sign_sk, s_a_tx, NULL);
    CHECK(f != NULL);
    if (!f)
        return;
    CHECK_STR(open_at(f->envelope, s_b_rx, s_a->sign_pk), REASON_BAD_SIGNATURE);
    moux__frame__free_unpacked(f, NULL);

    /* Signed by A, but B expects another sender key. */
    f = seal_a_to_b(&m, NULL);
    CHECK(f != NULL);
    if (!f)
        return;
    CHECK_STR(open_at(f->envelope, s_b_rx, s_c->sign_pk), REASON_BAD_SIGNATURE);
    moux__frame__free_unpacked(f, NULL);
}

/* A's batch re-encrypted with the right key but with sig in place of A's
 * signature: what a sender that signs otherwise would produce. */
static const char *open_with_signature(const uint8_t sig[64])
{
    envelope_meta_t m;
    Moux__Frame *f = seal_a_to_b(&m, NULL);
    if (!f)
        return "(seal failed)";
    Moux__Envelope *env = f->envelope;
    Moux__BatchHeader *h = NULL;
    const char *reason = "(no header)";
    size_t clen = env->ciphertext.len, mlen = clen - crypto_aead_xchacha20poly1305_ietf_ABYTES;
    uint8_t *plain = malloc(mlen), *cipher = malloc(clen);
    unsigned long long got = 0;
    if (envelope_header(env, &h, &reason) == 0 &&
        crypto_aead_xchacha20poly1305_ietf_decrypt(plain, &got, NULL, env->ciphertext.data, clen,
                                                   env->header.data, env->header.len,
                                                   h->nonce.data, s_b_rx) == 0) {
        memcpy(plain, sig, 64);
        crypto_aead_xchacha20poly1305_ietf_encrypt(cipher, NULL, plain, mlen, env->header.data,
                                                   env->header.len, NULL, h->nonce.data,
                                                   s_a_tx);
        memcpy(env->ciphertext.data, cipher, clen);
        reason = open_at(env, s_b_rx, s_a->sign_pk);
    }
    if (h)
        moux__batch_header__free_unpacked(h, NULL);
    free(plain);
    free(cipher);
    moux__frame__free_unpacked(f, NULL);
    return reason;
}

static void test_other_signed_layouts_refused(void)
{
    envelope_meta_t m;
    uint8_t hash[BATCH_HASH_BYTES], sig[64];
    Moux__Frame *f = seal_a_to_b(&m, hash);
    CHECK(f != NULL);
    if (!f)
        return;
    const Moux__Envelope *env = f->envelope;
    size_t hlen = env->header.len;

    /* Version 1 signed the whole batch: "moux/batch/1" || u32be(|header|) ||
     * header || payload. Such a signature, by A's own key, is refused. */
    size_t slen = 12 + 4 + hlen + sizeof s_payload;
    uint8_t *v1 = malloc(slen);
    memcpy(v1, "moux/batch/1", 12);
    v1[12] = (uint8_t)(hlen >> 24);
    v1[13] = (uint8_t)(hlen >> 16);
    v1[14] = (uint8_t)(hlen >> 8);
    v1[15] = (uint8_t)hlen;
    memcpy(v1 + 16, env->header.data, hlen);
    memcpy(v1 + 16 + hlen, s_payload, sizeof s_payload);
    crypto_sign_detached(sig, NULL, v1, slen, s_a->sign_sk);
    free(v1);
    CHECK_STR(open_with_signature(sig), REASON_BAD_SIGNATURE);

    /* The bare hash, without the context string, is refused too. */
    crypto_sign_detached(sig, NULL, hash, sizeof hash, s_a->sign_sk);
    CHECK_STR(open_with_signature(sig), REASON_BAD_SIGNATURE);

    /* The same bytes split otherwise between header and payload hash
     * otherwise: the length prefix pins the split. */
    uint8_t *joined = malloc(hlen + sizeof s_payload), other[BATCH_HASH_BYTES];
    memcpy(joined, env->header.data, hlen);
    memcpy(joined + hlen, s_payload, sizeof s_payload);
    envelope_hash(joined, hlen - 1, joined + hlen - 1, sizeof s_payload + 1, other);
    CHECK(memcmp(other, hash, sizeof hash) != 0);
    envelope_hash(joined, hlen, joined + hlen, sizeof s_payload, other);
    CHECK(memcmp(other, hash, sizeof hash) == 0);
    free(joined);
    moux__frame__free_unpacked(f, NULL);
}

/* ---- refusals: header shape ---- */

static void test_header_well_formed_accepted(void)
{
    hdr_t x;
    hdr_init(&x);
    CHECK_STR(hdr_reason(&x), "ok");
    char mou[129];
    memset(mou, 'm', 128);
    mou[128] = '\0';
    x.h.mou_id = mou; /* 128 bytes is the limit */
    CHECK_STR(hdr_reason(&x), "ok");
}

static void test_header_wrong_version_refused(void)
{
    hdr_t x;
    hdr_init(&x);
    x.h.version = 1; /* version 1 signed otherwise; its batches are not taken */
    CHECK_STR(hdr_reason(&x), REASON_UNSUPPORTED_VERSION);
    x.h.version = 3;
    CHECK_STR(hdr_reason(&x), REASON_UNSUPPORTED_VERSION);
    x.h.version = 0;
    CHECK_STR(hdr_reason(&x), REASON_UNSUPPORTED_VERSION);
}

static void test_header_wrong_sizes_refused(void)
{
    hdr_t x;
    hdr_init(&x);
    x.h.message_id.len = 15;
    CHECK_STR(hdr_reason(&x), REASON_MALFORMED_HEADER);
    x.h.message_id.len = 17;
    CHECK_STR(hdr_reason(&x), REASON_MALFORMED_HEADER);
    hdr_init(&x);
    x.h.nonce.len = 23;
    CHECK_STR(hdr_reason(&x), REASON_MALFORMED_HEADER);
    x.h.nonce.len = 25;
    CHECK_STR(hdr_reason(&x), REASON_MALFORMED_HEADER);
    x.h.nonce.len = 0;
    CHECK_STR(hdr_reason(&x), REASON_MALFORMED_HEADER);
    hdr_init(&x);
    x.h.sender_key_id.len = 31;
    CHECK_STR(hdr_reason(&x), REASON_MALFORMED_HEADER);
    hdr_init(&x);
    x.h.recipient_key_id.len = 0;
    CHECK_STR(hdr_reason(&x), REASON_MALFORMED_HEADER);
    hdr_init(&x);
    char mou[130];
    memset(mou, 'm', 129);
    mou[129] = '\0';
    x.h.mou_id = mou;
    CHECK_STR(hdr_reason(&x), REASON_MALFORMED_HEADER);
}

static void test_header_invalid_agency_refused(void)
{
    hdr_t x;
    hdr_init(&x);
    x.h.sender = "UPPER";
    CHECK_STR(hdr_reason(&x), REASON_MALFORMED_HEADER);
    hdr_init(&x);
    x.h.recipient = "UPPER";
    CHECK_STR(hdr_reason(&x), REASON_MALFORMED_HEADER);
    hdr_init(&x);
    x.h.sender = "";
    CHECK_STR(hdr_reason(&x), REASON_MALFORMED_HEADER);
    hdr_init(&x);
    x.h.recipient = "b example";
    CHECK_STR(hdr_reason(&x), REASON_MALFORMED_HEADER);
}

static void test_header_sequence_zero_refused(void)
{
    hdr_t x;
    hdr_init(&x);
    x.h.sequence = 0;
    CHECK_STR(hdr_reason(&x), REASON_MALFORMED_HEADER);
}

static void test_header_not_protobuf_refused(void)
{
    static const uint8_t junk[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                   0xff};
    CHECK_STR(header_reason(junk, sizeof junk), REASON_MALFORMED_HEADER);
    static const uint8_t text[] = "moux/batch/1 not a header";
    CHECK_STR(header_reason(text, sizeof text - 1), REASON_MALFORMED_HEADER);
    /* A length-delimited field running past the end. */
    static const uint8_t truncated[] = {0x12, 0x20, 'a', '.'};
    CHECK_STR(header_reason(truncated, sizeof truncated), REASON_MALFORMED_HEADER);
    /* An empty header parses to all defaults: version 0. */
    static const uint8_t empty[1] = {0};
    CHECK(strcmp(header_reason(empty, 0), "ok") != 0);
}

static void test_malformed_header_refused_by_open(void)
{
    envelope_meta_t m;
    Moux__Frame *f = seal_a_to_b(&m, NULL);
    CHECK(f != NULL);
    if (!f)
        return;
    Moux__Envelope env = *f->envelope;
    static const uint8_t junk[] = {0xff, 0xff, 0xff};
    env.header = (ProtobufCBinaryData){sizeof junk, (uint8_t *)junk};
    CHECK_STR(open_at(&env, s_b_rx, s_a->sign_pk), REASON_MALFORMED_HEADER);
    moux__frame__free_unpacked(f, NULL);
}

/* ---- receipts ---- */

typedef struct {
    uint8_t msgid[MSGID_BYTES], hash[BATCH_HASH_BYTES];
    Moux__ItemResult r[2];
    Moux__ItemResult *rp[2];
    Moux__ReceiptBody b;
} receipt_t;

/* B's receipt for a batch from A. */
static void receipt_init(receipt_t *x)
{
    memset(x, 0, sizeof *x);
    randombytes_buf(x->msgid, sizeof x->msgid);
    randombytes_buf(x->hash, sizeof x->hash);
    for (int i = 0; i < 2; i++) {
        moux__item_result__init(&x->r[i]);
        x->rp[i] = &x->r[i];
    }
    x->r[0].id = "indicator--6ba7b810-9dad-41d1-80b4-00c04fd430c8";
    x->r[0].modified_ms = 1700000000000ull;
    x->r[0].status = MOUX__ITEM_STATUS__ITEM_ACCEPTED;
    x->r[0].reason = "";
    x->r[1].id = "indicator--6ba7b811-9dad-41d1-80b4-00c04fd430c8";
    x->r[1].modified_ms = 1700000000001ull;
    x->r[1].status = MOUX__ITEM_STATUS__ITEM_REJECTED;
    x->r[1].reason = REASON_TLP_NOT_ALLOWED;
    moux__receipt_body__init(&x->b);
    x->b.version = PROTOCOL_VERSION;
    x->b.sender = "b.example";
    x->b.recipient = "a.example";
    x->b.signer_key_id = (ProtobufCBinaryData){KEYID_BYTES, s_b->sign_id};
    x->b.message_id = (ProtobufCBinaryData){MSGID_BYTES, x->msgid};
    x->b.batch_hash = (ProtobufCBinaryData){BATCH_HASH_BYTES, x->hash};
    x->b.timestamp_ms = now_ms();
    x->b.status = MOUX__BATCH_STATUS__BATCH_OK;
    x->b.reason = "";
    x->b.n_results = 2;
    x->b.results = x->rp;
    x->b.sequence = 7;
}

/* Seals body with sign_sk and unpacks the Frame (caller frees). */
static Moux__Frame *receipt_frame(const Moux__ReceiptBody *b, const unsigned char *sign_sk)
{
    uint8_t *bytes = NULL;
    size_t len = 0;
    if (receipt_seal(b, sign_sk, &bytes, &len) != 0)
        return NULL;
    Moux__Frame *f = moux__frame__unpack(NULL, len, bytes);
    free(bytes);
    if (f && f->kind_case != MOUX__FRAME__KIND_RECEIPT) {
        moux__frame__free_unpacked(f, NULL);
        return NULL;
    }
    return f;
}

/* receipt_open; returns "ok" or why it refused. */
static const char *receipt_why(const Moux__SignedReceipt *sr, const unsigned char *pk)
{
    /* The daemon's two steps (unpack, then verify with the key the body
     * names) take and refuse exactly what receipt_open does. */
    Moux__ReceiptBody *body = NULL;
    const char *why2 = "(none)";
    int steps = receipt_unpack(sr, NULL, &body, &why2) == 0 && receipt_verify(sr, pk, &why2) == 0;
    if (body)
        moux__receipt_body__free_unpacked(body, NULL);
    body = NULL;
    const char *why = "(none)";
    if (receipt_open(sr, pk, NULL, &body, &why) != 0) {
        CHECK(body == NULL);
        CHECK(!steps);
        return why;
    }
    CHECK(steps);
    moux__receipt_body__free_unpacked(body, NULL);
    return "ok";
}

static void test_receipt_round_trip(void)
{
    receipt_t x;
    receipt_init(&x);
    Moux__Frame *f = receipt_frame(&x.b, s_b->sign_sk);
    CHECK(f != NULL);
    if (!f)
        return;
    Moux__ReceiptBody *b = NULL;
    const char *why = NULL;
    CHECK(receipt_open(f->receipt, s_b->sign_pk, NULL, &b, &why) == 0);
    if (b) {
        CHECK(b->version == PROTOCOL_VERSION);
        CHECK_STR(b->sender, "b.example");
        CHECK_STR(b->recipient, "a.example");
        CHECK(b->signer_key_id.len == 32 && memcmp(b->signer_key_id.data, s_b->sign_id, 32) == 0);
        CHECK(memcmp(b->message_id.data, x.msgid, MSGID_BYTES) == 0);
        CHECK(memcmp(b->batch_hash.data, x.hash, BATCH_HASH_BYTES) == 0);
        CHECK(b->timestamp_ms == x.b.timestamp_ms);
        CHECK(b->sequence == 7);
        CHECK(b->status == MOUX__BATCH_STATUS__BATCH_OK);
        CHECK(b->n_results == 2);
        if (b->n_results == 2) {
            CHECK_STR(b->results[0]->id, x.r[0].id);
            CHECK(b->results[0]->status == MOUX__ITEM_STATUS__ITEM_ACCEPTED);
            CHECK(b->results[1]->modified_ms == x.r[1].modified_ms);
            CHECK_STR(b->results[1]->reason, REASON_TLP_NOT_ALLOWED);
        }
        moux__receipt_body__free_unpacked(b, NULL);
    }
    /* The signature is Ed25519 over "moux/receipt/2" || body, byte-exact. */
    const Moux__SignedReceipt *sr = f->receipt;
    uint8_t *msg = malloc(14 + sr->body.len);
    memcpy(msg, "moux/receipt/2", 14);
    memcpy(msg + 14, sr->body.data, sr->body.len);
    CHECK(sr->signature.len == 64);
    CHECK(crypto_sign_verify_detached(sr->signature.data, msg, 14 + sr->body.len,
                                      s_b->sign_pk) == 0);
    free(msg);
    moux__frame__free_unpacked(f, NULL);
}

static void test_receipt_flipped_body_byte_refused(void)
{
    receipt_t x;
    receipt_init(&x);
    Moux__Frame *f = receipt_frame(&x.b, s_b->sign_sk);
    CHECK(f != NULL);
    if (!f)
        return;
    ProtobufCBinaryData *body = &f->receipt->body;
    for (size_t i = 0; i < body->len; i++) {
        body->data[i] ^= 0x01;
        CHECK_STR(receipt_why(f->receipt, s_b->sign_pk), "receipt signature does not verify");
        body->data[i] ^= 0x01;
    }
    /* A body cut short is refused too. */
    body->len--;
    CHECK_STR(receipt_why(f->receipt, s_b->sign_pk), "receipt signature does not verify");
    body->len++;
    CHECK_STR(receipt_why(f->receipt, s_b->sign_pk), "ok");
    moux__frame__free_unpacked(f, NULL);
}

static void test_receipt_flipped_signature_byte_refused(void)
{
    receipt_t x;
    receipt_init(&x);
    Moux__Frame *f = receipt_frame(&x.b, s_b->sign_sk);
    CHECK(f != NULL);
    if (!f)
        return;
    ProtobufCBinaryData *sig = &f->receipt->signature;
    for (size_t i = 0; i < sig->len; i++) {
        sig->data[i] ^= 0x80;
        CHECK(strcmp(receipt_why(f->receipt, s_b->sign_pk), "ok") != 0);
        sig->data[i] ^= 0x80;
    }
    sig->len = 63;
    CHECK_STR(receipt_why(f->receipt, s_b->sign_pk), "malformed receipt");
    sig->len = 64;
    CHECK_STR(receipt_why(f->receipt, s_b->sign_pk), "ok");
    moux__frame__free_unpacked(f, NULL);
}

static void test_receipt_wrong_signer_refused(void)
{
    receipt_t x;
    receipt_init(&x);
    Moux__Frame *f = receipt_frame(&x.b, s_b->sign_sk);
    CHECK(f != NULL);
    if (!f)
        return;
    CHECK_STR(receipt_why(f->receipt, s_a->sign_pk), "receipt signature does not verify");
    CHECK_STR(receipt_why(f->receipt, s_c->sign_pk), "receipt signature does not verify");
    moux__frame__free_unpacked(f, NULL);
    /* Signed by C but presented as B's. */
    f = receipt_frame(&x.b, s_c->sign_sk);
    CHECK(f != NULL);
    if (!f)
        return;
    CHECK_STR(receipt_why(f->receipt, s_b->sign_pk), "receipt signature does not verify");
    moux__frame__free_unpacked(f, NULL);
}

static void test_receipt_malformed_body_refused(void)
{
    /* Properly signed, but not a receipt this version understands. */
    receipt_t x;
    receipt_init(&x);
    x.b.version = 1;
    Moux__Frame *f = receipt_frame(&x.b, s_b->sign_sk);
    CHECK(f && strcmp(receipt_why(f->receipt, s_b->sign_pk), "malformed receipt body") == 0);
    moux__frame__free_unpacked(f, NULL);

    receipt_init(&x);
    x.b.message_id.len = 15;
    f = receipt_frame(&x.b, s_b->sign_sk);
    CHECK(f && strcmp(receipt_why(f->receipt, s_b->sign_pk), "malformed receipt body") == 0);
    moux__frame__free_unpacked(f, NULL);

    receipt_init(&x);
    x.b.batch_hash.len = 31;
    f = receipt_frame(&x.b, s_b->sign_sk);
    CHECK(f && strcmp(receipt_why(f->receipt, s_b->sign_pk), "malformed receipt body") == 0);
    moux__frame__free_unpacked(f, NULL);

    /* A refusal receipt carries no batch hash: accepted. */
    receipt_init(&x);
    x.b.batch_hash.len = 0;
    x.b.status = MOUX__BATCH_STATUS__BATCH_REFUSED;
    x.b.reason = REASON_BAD_CIPHERTEXT;
    x.b.n_results = 0;
    f = receipt_frame(&x.b, s_b->sign_sk);
    CHECK(f && strcmp(receipt_why(f->receipt, s_b->sign_pk), "ok") == 0);
    moux__frame__free_unpacked(f, NULL);
}

static void test_receipt_missing_body_refused(void)
{
    uint8_t sig[64] = {0};
    Moux__SignedReceipt sr = MOUX__SIGNED_RECEIPT__INIT;
    sr.signature = (ProtobufCBinaryData){sizeof sig, sig};
    CHECK_STR(receipt_why(&sr, s_b->sign_pk), "malformed receipt");
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    s_a = nodekeys_generate();
    s_b = nodekeys_generate();
    s_c = nodekeys_generate();
    if (!s_a || !s_b || !s_c)
        return 1;
    s_a_tx = secure_key();
    s_a_rx = secure_key();
    s_b_tx = secure_key();
    s_b_rx = secure_key();
    s_c_tx = secure_key();
    s_c_rx = secure_key();
    if (envelope_derive_keys(s_a->enc_sk, s_a->enc_pk, s_b->enc_pk, s_a_tx, s_a_rx) != 0 ||
        envelope_derive_keys(s_b->enc_sk, s_b->enc_pk, s_a->enc_pk, s_b_tx, s_b_rx) != 0 ||
        envelope_derive_keys(s_c->enc_sk, s_c->enc_pk, s_a->enc_pk, s_c_tx, s_c_rx) != 0)
        return 1;

    RUN(test_derived_keys_pair_up);
    RUN(test_derived_key_matches_definition);
    RUN(test_derive_refuses_low_order_peer_key);
    RUN(test_seal_open_round_trip);
    RUN(test_header_carries_meta);
    RUN(test_each_seal_is_fresh);
    RUN(test_empty_payload_round_trip);
    RUN(test_flipped_ciphertext_byte_refused);
    RUN(test_short_ciphertext_refused);
    RUN(test_flipped_nonce_byte_refused);
    RUN(test_changed_header_field_refused);
    RUN(test_any_flipped_header_byte_refused);
    RUN(test_wrong_rx_key_refused);
    RUN(test_wrong_signing_key_refused);
    RUN(test_other_signed_layouts_refused);
    RUN(test_header_well_formed_accepted);
    RUN(test_header_wrong_version_refused);
    RUN(test_header_wrong_sizes_refused);
    RUN(test_header_invalid_agency_refused);
    RUN(test_header_sequence_zero_refused);
    RUN(test_header_not_protobuf_refused);
    RUN(test_malformed_header_refused_by_open);
    RUN(test_receipt_round_trip);
    RUN(test_receipt_flipped_body_byte_refused);
    RUN(test_receipt_flipped_signature_byte_refused);
    RUN(test_receipt_wrong_signer_refused);
    RUN(test_receipt_malformed_body_refused);
    RUN(test_receipt_missing_body_refused);

    unsigned char *keys[] = {s_a_tx, s_a_rx, s_b_tx, s_b_rx, s_c_tx, s_c_rx};
    for (size_t i = 0; i < 6; i++)
        sodium_free(keys[i]);
    nodekeys_destroy(&s_a);
    nodekeys_destroy(&s_b);
    nodekeys_destroy(&s_c);
    return TEST_DONE();
}
