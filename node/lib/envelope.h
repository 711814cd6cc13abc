/* End-to-end batch security above CURVE (docs/PROTOCOL.md, "Envelope").
 *
 *   K(S->R)    = BLAKE2b-256(key = "moux/batch-key/1",
 *                            X25519(sk_S, pk_R) || pk_S || pk_R)
 *   batch_hash = BLAKE2b-256(u32be(|header|) || header || payload)
 *   signature  = Ed25519(sign_sk_S, "moux/batch/2" || batch_hash)
 *   ciphertext = XChaCha20-Poly1305(K(S->R), nonce, ad = header,
 *                                   m = signature || payload)
 *
 * The header travels in clear (it is the associated data) and carries the
 * nonce. Receivers use the header bytes exactly as received. The signature
 * covers the hash, not the ~100 KB batch: one BLAKE2b pass replaces Ed25519's
 * two SHA-512 passes, and the same hash is what the receipt names. */
#ifndef MOUX_ENVELOPE_H
#define MOUX_ENVELOPE_H

#include "moux.pb-c.h"

#include <stddef.h>
#include <stdint.h>

#define PROTOCOL_VERSION 2
#define MSGID_BYTES 16
#define BATCH_KEY_BYTES 32
#define BATCH_HASH_BYTES 32
/* No batch frame is larger than this, and every node accepts frames of this
 * size (max_message_bytes may not be set lower), so a batch always fits. */
#define FRAME_MAX_BYTES (1024 * 1024)
/* What header, signature, AEAD tag and framing add to a payload, at most. */
#define ENVELOPE_OVERHEAD_MAX 1024

/* Derives both directional keys for a partner into tx and rx (32 bytes each,
 * normally sodium_malloc memory). -1 if the partner key is a low-order point. */
int envelope_derive_keys(const unsigned char *self_enc_sk, const unsigned char self_enc_pk[32],
                         const unsigned char peer_enc_pk[32], unsigned char *tx,
                         unsigned char *rx);

typedef struct {
    const char *sender, *recipient, *mou_id;
    const unsigned char *mou_hash; /* MOU_HASH_BYTES, or NULL */
    const unsigned char *sender_key_id, *recipient_key_id; /* 32 bytes each */
    uint64_t sequence, timestamp_ms;
    uint32_t item_count;
    unsigned char message_id[MSGID_BYTES]; /* written by envelope_seal */
} envelope_meta_t;

/* Seals payload into a serialised Frame. *frame is owned by the caller
 * (free). hash receives the batch hash. */
int envelope_seal(envelope_meta_t *meta, const uint8_t *payload, size_t len,
                  const unsigned char *sign_sk, const unsigned char *tx_key, uint8_t **frame,
                  size_t *frame_len, uint8_t hash[BATCH_HASH_BYTES]);

/* Unpacks and shape-checks the header (sizes, version, agency ids). The
 * header is owned by the caller (moux__batch_header__free_unpacked). On
 * failure returns -1 and a reason code. */
int envelope_header(const Moux__Envelope *env, Moux__BatchHeader **hdr, const char **reason);

/* What a receiver keeps of a batch to prove what it got: the sender's
 * signature and the batch hash it signed (which the receipt names). */
typedef struct {
    uint8_t sig[64];
    uint8_t hash[BATCH_HASH_BYTES];
} envelope_proof_t;

/* Decrypts with rx_key and verifies the signature with the sender's key.
 * *payload (caller frees) and *proof are written only on success. */
int envelope_open(const Moux__Envelope *env, const unsigned char *rx_key,
                  const unsigned char sender_sign_pk[32], uint8_t **payload, size_t *len,
                  envelope_proof_t *proof, const char **reason);

/* BLAKE2b-256(u32be(hlen) || header || payload): the batch hash. */
void envelope_hash(const uint8_t *header, size_t hlen, const uint8_t *payload, size_t plen,
                   uint8_t hash[BATCH_HASH_BYTES]);

#endif
