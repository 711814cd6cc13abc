#include "envelope.h"
#include "config.h"
#include "ctxsig.h"
#include "pbunpack.h"
#include "reason.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define KEY_CONTEXT "moux/batch-key/1" /* exactly 16 bytes: a BLAKE2b key */
#define SIG_BYTES crypto_sign_BYTES
#define NONCE_BYTES crypto_aead_xchacha20poly1305_ietf_NPUBBYTES

static void s_kdf(const unsigned char q[32], const unsigned char pk_s[32],
                  const unsigned char pk_r[32], unsigned char *out)
{
    unsigned char in[96];
    memcpy(in, q, 32);
    memcpy(in + 32, pk_s, 32);
    memcpy(in + 64, pk_r, 32);
    crypto_generichash(out, BATCH_KEY_BYTES, in, sizeof in, (const unsigned char *)KEY_CONTEXT,
                       strlen(KEY_CONTEXT));
    sodium_memzero(in, sizeof in);
}

int envelope_derive_keys(const unsigned char *self_enc_sk, const unsigned char self_enc_pk[32],
                         const unsigned char peer_enc_pk[32], unsigned char *tx,
                         unsigned char *rx)
{
    unsigned char q[crypto_scalarmult_BYTES];
    if (crypto_scalarmult(q, self_enc_sk, peer_enc_pk) != 0)
        return -1;
    s_kdf(q, self_enc_pk, peer_enc_pk, tx);
    s_kdf(q, peer_enc_pk, self_enc_pk, rx);
    sodium_memzero(q, sizeof q);
    return 0;
}

void envelope_hash(const uint8_t *header, size_t hlen, const uint8_t *payload, size_t plen,
                   uint8_t hash[BATCH_HASH_BYTES])
{
    /* The length prefix fixes where the header ends: no other split of the
     * same bytes into header and payload has this hash. */
    const uint8_t len[4] = {(uint8_t)(hlen >> 24), (uint8_t)(hlen >> 16), (uint8_t)(hlen >> 8),
                            (uint8_t)hlen};
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, BATCH_HASH_BYTES);
    crypto_generichash_update(&st, len, sizeof len);
    crypto_generichash_update(&st, header, hlen);
    crypto_generichash_update(&st, payload, plen);
    crypto_generichash_final(&st, hash, BATCH_HASH_BYTES);
}

/* Serialises the header for meta with a fresh message id and nonce. */
static uint8_t *s_pack_header(envelope_meta_t *meta, unsigned char nonce[NONCE_BYTES],
                              size_t *hlen)
{
    randombytes_buf(meta->message_id, MSGID_BYTES);
    randombytes_buf(nonce, NONCE_BYTES);
    Moux__BatchHeader h = MOUX__BATCH_HEADER__INIT;
    h.version = PROTOCOL_VERSION;
    h.sender = (char *)meta->sender;
    h.recipient = (char *)meta->recipient;
    h.mou_id = (char *)(meta->mou_id ? meta->mou_id : "");
    if (meta->mou_hash)
        h.mou_hash = (ProtobufCBinaryData){32, (uint8_t *)meta->mou_hash};
    h.sender_key_id = (ProtobufCBinaryData){32, (uint8_t *)meta->sender_key_id};
    h.recipient_key_id = (ProtobufCBinaryData){32, (uint8_t *)meta->recipient_key_id};
    h.message_id = (ProtobufCBinaryData){MSGID_BYTES, meta->message_id};
    h.sequence = meta->sequence;
    h.timestamp_ms = meta->timestamp_ms;
    h.nonce = (ProtobufCBinaryData){NONCE_BYTES, nonce};
    h.item_count = meta->item_count;
    *hlen = moux__batch_header__get_packed_size(&h);
    uint8_t *buf = malloc(*hlen);
    if (buf)
        moux__batch_header__pack(&h, buf);
    return buf;
}

int envelope_seal(envelope_meta_t *meta, const uint8_t *payload, size_t len,
                  const unsigned char *sign_sk, const unsigned char *tx_key, uint8_t **frame,
                  size_t *frame_len, uint8_t hash[BATCH_HASH_BYTES])
{
    unsigned char nonce[NONCE_BYTES];
    size_t hlen = 0, mlen = SIG_BYTES + len;
    int rc = -1;
    uint8_t *header = s_pack_header(meta, nonce, &hlen);
    uint8_t *plain = malloc(mlen);
    uint8_t *cipher = malloc(mlen + crypto_aead_xchacha20poly1305_ietf_ABYTES);
    if (!header || !plain || !cipher)
        goto out;
    envelope_hash(header, hlen, payload, len, hash);
    if (ctxsig_sign(CTX_BATCH, hash, BATCH_HASH_BYTES, sign_sk, plain) != 0)
        goto out;
    memcpy(plain + SIG_BYTES, payload, len);
    unsigned long long clen = 0;
    crypto_aead_xchacha20poly1305_ietf_encrypt(cipher, &clen, plain, mlen, header, hlen, NULL,
                                               nonce, tx_key);
    Moux__Envelope env = MOUX__ENVELOPE__INIT;
    env.header = (ProtobufCBinaryData){hlen, header};
    env.ciphertext = (ProtobufCBinaryData){(size_t)clen, cipher};
    Moux__Frame f = MOUX__FRAME__INIT;
    f.kind_case = MOUX__FRAME__KIND_ENVELOPE;
    f.envelope = &env;
    *frame_len = moux__frame__get_packed_size(&f);
    *frame = malloc(*frame_len);
    if (!*frame)
        goto out;
    moux__frame__pack(&f, *frame);
    rc = 0;
out:
    free(header);
    if (plain)
        sodium_memzero(plain, mlen);
    free(plain);
    free(cipher);
    return rc;
}

static int s_bin_len(const ProtobufCBinaryData *b, size_t want)
{
    return b->len == want && b->data != NULL;
}

int envelope_header(const Moux__Envelope *env, Moux__BatchHeader **hdr, const char **reason)
{
    /* A header is ~150 bytes; a large one is hostile before it is decoded. */
    Moux__BatchHeader *h = env->header.len <= 1024
        ? (Moux__BatchHeader *)pb_unpack(&moux__batch_header__descriptor,
                                         NULL, env->header.len, env->header.data) : NULL;
    if (!h) {
        *reason = REASON_MALFORMED_HEADER;
        return -1;
    }
    if (h->version != PROTOCOL_VERSION)
        *reason = REASON_UNSUPPORTED_VERSION;
    else if (!s_bin_len(&h->sender_key_id, 32) || !s_bin_len(&h->recipient_key_id, 32) ||
             !s_bin_len(&h->message_id, MSGID_BYTES) || !s_bin_len(&h->nonce, NONCE_BYTES) ||
             !agency_id_valid(h->sender) || !agency_id_valid(h->recipient) ||
             strlen(h->mou_id) > 128 || h->sequence == 0)
        *reason = REASON_MALFORMED_HEADER;
    else {
        *hdr = h;
        return 0;
    }
    moux__batch_header__free_unpacked(h, NULL);
    return -1;
}

int envelope_open(const Moux__Envelope *env, const unsigned char *rx_key,
                  const unsigned char sender_sign_pk[32], uint8_t **payload, size_t *len,
                  envelope_proof_t *proof, const char **reason)
{
    const size_t overhead = crypto_aead_xchacha20poly1305_ietf_ABYTES + SIG_BYTES;
    Moux__BatchHeader *h = NULL;
    if (envelope_header(env, &h, reason) != 0)
        return -1;
    int rc = -1;
    uint8_t *plain = NULL, hash[BATCH_HASH_BYTES];
    if (env->ciphertext.len < overhead || !env->ciphertext.data) {
        *reason = REASON_BAD_CIPHERTEXT;
        goto out;
    }
    plain = malloc(env->ciphertext.len);
    unsigned long long mlen = 0;
    if (!plain || crypto_aead_xchacha20poly1305_ietf_decrypt(
                      plain, &mlen, NULL, env->ciphertext.data, env->ciphertext.len,
                      env->header.data, env->header.len, h->nonce.data, rx_key) != 0) {
        *reason = REASON_BAD_CIPHERTEXT;
        goto out;
    }
    size_t plen = (size_t)mlen - SIG_BYTES;
    envelope_hash(env->header.data, env->header.len, plain + SIG_BYTES, plen, hash);
    if (ctxsig_verify(CTX_BATCH, hash, sizeof hash, sender_sign_pk, plain) != 0) {
        *reason = REASON_BAD_SIGNATURE;
        goto out;
    }
    memcpy(proof->sig, plain, SIG_BYTES);
    memcpy(proof->hash, hash, sizeof hash);
    memmove(plain, plain + SIG_BYTES, plen);
    *payload = plain;
    *len = plen;
    plain = NULL;
    rc = 0;
out:
    free(plain);
    moux__batch_header__free_unpacked(h, NULL);
    return rc;
}
