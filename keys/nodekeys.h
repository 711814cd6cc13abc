/* The node's own key set: Ed25519 signing (batches, receipts, bundle),
 * X25519 encryption (end-to-end AEAD), and the CURVE transport key pair.
 * Files live in DIR/keys/; secrets are 0600 and held in sodium_malloc memory. */
#ifndef MOUX_NODEKEYS_H
#define MOUX_NODEKEYS_H

#include "keyid.h"
#include "keyfile.h"

#include <sodium.h>

typedef struct {
    unsigned char sign_pk[crypto_sign_PUBLICKEYBYTES];
    unsigned char enc_pk[crypto_box_PUBLICKEYBYTES];
    unsigned char curve_pk[32];
    unsigned char sign_id[KEYID_BYTES];
    unsigned char enc_id[KEYID_BYTES];
    unsigned char *sign_sk;  /* crypto_sign_SECRETKEYBYTES, sodium_malloc */
    unsigned char *enc_sk;   /* crypto_box_SECRETKEYBYTES, sodium_malloc */
    unsigned char *curve_sk; /* 32 bytes, sodium_malloc */
} nodekeys_t;

/* Fresh keys. Caller owns the result; NULL when out of memory. */
nodekeys_t *nodekeys_generate(void);
/* Writes DIR/keys/{sign,enc,curve}.{pub,sec}; never overwrites. On error
 * writes a message naming the file into err. */
int nodekeys_save(const nodekeys_t *self, const char *dir, char *err, size_t errlen);
/* Loads and cross-checks the key files (each public key must match its
 * secret). Caller owns the result. */
nodekeys_t *nodekeys_load(const char *dir, char *err, size_t errlen);
void nodekeys_destroy(nodekeys_t **self_p);

#endif
