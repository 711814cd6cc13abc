/* envelope_open between two nodes A and B whose keys are generated at
 * start-up (B opens what A sends). The first input byte picks a mode:
 *
 *   0  the rest is a serialised Frame; an envelope in it is opened at B.
 *   1  u16be header length, the header bytes, then the ciphertext bytes:
 *      an envelope built directly, so mutations land in header and
 *      ciphertext without protobuf framing in the way.
 *   2  structured, a property check. Layout after the mode byte:
 *        flags[1] sequence[8] item_count[4] payload_len[2] payload
 *        then flips: (position u16be, xor mask) triples, at most 32.
 *      A seals the payload to B; the frame must open at B to exactly that
 *      payload (and not with the wrong direction's key or the wrong sender
 *      key). The flips are applied to the serialised frame; if what then
 *      decodes is an envelope whose header or ciphertext differs from the
 *      sealed one, envelope_open must refuse it. abort() if it does not.
 *
 * Modes 0 and 1 cannot open anything (the keys are fresh each run); they
 * drive envelope_header and the checks in front of the AEAD. */
#include "envelope.h"
#include "fuzz_common.h"
#include "moux.pb-c.h"
#include "nodekeys.h"
#include "pbbudget.h"

#define MAX_FLIPS 32
#define TIMESTAMP_MS 1767225600000ull /* fixed: 2026-01-01, any value will do */

static nodekeys_t *s_a, *s_b;
static unsigned char *s_a_tx, *s_a_rx, *s_b_tx, *s_b_rx;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_sodium_init();
    s_a = nodekeys_generate();
    s_b = nodekeys_generate();
    s_a_tx = fuzz_secure_key();
    s_a_rx = fuzz_secure_key();
    s_b_tx = fuzz_secure_key();
    s_b_rx = fuzz_secure_key();
    if (!s_a || !s_b ||
        envelope_derive_keys(s_a->enc_sk, s_a->enc_pk, s_b->enc_pk, s_a_tx, s_a_rx) != 0 ||
        envelope_derive_keys(s_b->enc_sk, s_b->enc_pk, s_a->enc_pk, s_b_tx, s_b_rx) != 0)
        abort();
    FUZZ_CHECK(memcmp(s_a_tx, s_b_rx, 32) == 0 && memcmp(s_a_rx, s_b_tx, 32) == 0);
    return 0;
}

/* Opens env at B with the given keys; 0 when it opened. The payload, if
 * any, is handed to the caller (free). */
static int s_open(const Moux__Envelope *env, const unsigned char *rx, const unsigned char *pk,
                  uint8_t **payload, size_t *len)
{
    envelope_proof_t proof;
    const char *reason = NULL;
    *payload = NULL;
    *len = 0;
    int rc = envelope_open(env, rx, pk, payload, len, &proof, &reason);
    if (rc == 0) {
        FUZZ_CHECK(*payload != NULL);
        FUZZ_CHECK(*len + 64 + 16 == env->ciphertext.len);
    } else {
        FUZZ_CHECK(*payload == NULL && reason != NULL);
    }
    return rc;
}

static void s_open_and_drop(const Moux__Envelope *env)
{
    uint8_t *payload = NULL;
    size_t len = 0;
    s_open(env, s_b_rx, s_a->sign_pk, &payload, &len);
    free(payload);
}

static void s_mode_frame(const uint8_t *data, size_t size)
{
    pbbudget_t pb; /* as inbound.c decodes a frame */
    pbbudget_init(&pb, PB_BUDGET_BYTES);
    Moux__Frame *f = moux__frame__unpack(&pb.allocator, size, data);
    if (!f)
        return;
    if (f->kind_case == MOUX__FRAME__KIND_ENVELOPE)
        s_open_and_drop(f->envelope);
    moux__frame__free_unpacked(f, &pb.allocator);
}

static void s_mode_raw(const uint8_t *data, size_t size)
{
    size_t hlen = (size_t)fuzz_take(&data, &size, 2);
    if (hlen > size)
        hlen = size;
    /* Copies, so ASan sees reads past either part. */
    uint8_t *header = malloc(hlen ? hlen : 1), *cipher = malloc(size - hlen ? size - hlen : 1);
    if (!header || !cipher)
        abort();
    memcpy(header, data, hlen);
    memcpy(cipher, data + hlen, size - hlen);
    Moux__Envelope env = MOUX__ENVELOPE__INIT;
    env.header = (ProtobufCBinaryData){hlen, header};
    env.ciphertext = (ProtobufCBinaryData){size - hlen, cipher};
    s_open_and_drop(&env);
    free(header);
    free(cipher);
}

static int s_bin_eq(const ProtobufCBinaryData *x, const ProtobufCBinaryData *y)
{
    return x->len == y->len && (x->len == 0 || memcmp(x->data, y->data, x->len) == 0);
}

static void s_mode_structured(const uint8_t *data, size_t size)
{
    unsigned flags = (unsigned)fuzz_take(&data, &size, 1);
    uint64_t seq = fuzz_take(&data, &size, 8);
    uint32_t items = (uint32_t)fuzz_take(&data, &size, 4);
    size_t plen = (size_t)fuzz_take(&data, &size, 2);
    if (plen > size)
        plen = size;
    uint8_t *payload = malloc(plen ? plen : 1);
    if (!payload)
        abort();
    memcpy(payload, data, plen);
    data += plen;
    size -= plen;

    envelope_meta_t m;
    memset(&m, 0, sizeof m);
    m.sender = "a.example";
    m.recipient = "b.example";
    m.mou_id = (flags & 1) ? "mou-2026-001" : NULL;
    m.sender_key_id = s_a->sign_id;
    m.recipient_key_id = s_b->enc_id;
    m.sequence = seq ? seq : 1; /* 0 is refused by envelope_header, by design */
    m.timestamp_ms = TIMESTAMP_MS;
    m.item_count = items;
    uint8_t *frame = NULL, hash[BATCH_HASH_BYTES], hash2[BATCH_HASH_BYTES];
    size_t flen = 0;
    FUZZ_CHECK(envelope_seal(&m, payload, plen, s_a->sign_sk, s_a_tx, &frame, &flen, hash) == 0);
    Moux__Frame *f = moux__frame__unpack(NULL, flen, frame);
    FUZZ_CHECK(f && f->kind_case == MOUX__FRAME__KIND_ENVELOPE);
    const Moux__Envelope *env = f->envelope;

    /* Round trip: B opens exactly what A sealed, and the hash agrees. */
    uint8_t *got = NULL;
    size_t glen = 0;
    FUZZ_CHECK(s_open(env, s_b_rx, s_a->sign_pk, &got, &glen) == 0);
    FUZZ_CHECK(glen == plen && (plen == 0 || memcmp(got, payload, plen) == 0));
    envelope_hash(env->header.data, env->header.len, got, glen, hash2);
    FUZZ_CHECK(memcmp(hash, hash2, sizeof hash) == 0);
    free(got);

    if (flags & 2) {
        /* Keys are directional, and the signature binds the sender. */
        FUZZ_CHECK(s_open(env, s_a_rx, s_a->sign_pk, &got, &glen) != 0); /* reflected */
        FUZZ_CHECK(s_open(env, s_b_tx, s_a->sign_pk, &got, &glen) != 0);
        FUZZ_CHECK(s_open(env, s_b_rx, s_b->sign_pk, &got, &glen) != 0); /* wrong signer */
    }

    /* Flip bytes of the frame; a changed envelope must never open. */
    size_t nflips = 0;
    uint8_t *mutated = malloc(flen);
    if (!mutated)
        abort();
    memcpy(mutated, frame, flen);
    while (size >= 3 && nflips < MAX_FLIPS) {
        size_t pos = (size_t)fuzz_take(&data, &size, 2) % flen;
        uint8_t mask = (uint8_t)fuzz_take(&data, &size, 1);
        mutated[pos] ^= mask ? mask : 0x01;
        nflips++;
    }
    if (nflips) {
        Moux__Frame *g = moux__frame__unpack(NULL, flen, mutated);
        if (g && g->kind_case == MOUX__FRAME__KIND_ENVELOPE) {
            const Moux__Envelope *e2 = g->envelope;
            int same = s_bin_eq(&e2->header, &env->header) &&
                       s_bin_eq(&e2->ciphertext, &env->ciphertext);
            int rc = s_open(e2, s_b_rx, s_a->sign_pk, &got, &glen);
            if (same) {
                /* Flips that cancel out, or land outside header and
                 * ciphertext: the same envelope still opens. */
                FUZZ_CHECK(rc == 0 && glen == plen &&
                           (plen == 0 || memcmp(got, payload, plen) == 0));
            } else if (rc == 0) {
                fprintf(stderr, "modified envelope opened (%zu flips)\n", nflips);
                abort();
            }
            free(got);
        }
        if (g)
            moux__frame__free_unpacked(g, NULL);
    }
    free(mutated);
    moux__frame__free_unpacked(f, NULL);
    free(frame);
    free(payload);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    switch (data[0] % 3) {
    case 0: s_mode_frame(data + 1, size - 1); break;
    case 1: s_mode_raw(data + 1, size - 1); break;
    default: s_mode_structured(data + 1, size - 1); break;
    }
    return 0;
}
