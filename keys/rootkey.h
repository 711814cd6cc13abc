/* The agency root key: Ed25519, the agency's long-term identity, kept
 * offline and sealed at rest with a passphrase (Argon2id via crypto_pwhash,
 * then crypto_secretbox). File format, one "key value" per line, strict:
 *
 *   moux-root-key 1
 *   public <base64 Ed25519 public key, 32 bytes>
 *   kdf argon2id13 <opslimit> <memlimit> <base64 salt, 16 bytes>   | kdf none
 *   nonce <base64, 24 bytes>                                        (absent with kdf none)
 *   secret <base64 secretbox(seed[32]), 48 bytes>                   | secret <base64 seed, 32 bytes>
 *
 * The file is 0600, created with O_EXCL, and refused when group or others
 * can read it. The secret is the 32-byte seed; the public key line must be
 * the one the seed yields. docs/KEYS.md is the reference. */
#ifndef MOUX_ROOTKEY_H
#define MOUX_ROOTKEY_H

#include "keyid.h"

#include <sodium.h>
#include <stddef.h>

typedef struct {
    unsigned char pk[crypto_sign_PUBLICKEYBYTES];
    unsigned char key_id[KEYID_BYTES];
    unsigned char *sk; /* crypto_sign_SECRETKEYBYTES, sodium_malloc */
} rootkey_t;

/* A fresh root key; caller owns it (rootkey_destroy). */
rootkey_t *rootkey_generate(void);
/* Seals and writes the key. passphrase NULL means "kdf none" (tests only).
 * Refuses an existing file unless force (then replaces it atomically). */
int rootkey_save(const rootkey_t *self, const char *path, const char *passphrase, int force,
                 char *err, size_t errlen);
/* Reads and unseals; passphrase may be NULL only for "kdf none" files. A
 * wrong passphrase says "wrong passphrase". Caller owns the result. */
rootkey_t *rootkey_load(const char *path, const char *passphrase, char *err, size_t errlen);
/* The public key alone (no passphrase needed). */
int rootkey_read_public(const char *path, unsigned char pk[32], char *err, size_t errlen);
/* 1 if the file is sealed with a passphrase, 0 if "kdf none", -1 on error. */
int rootkey_is_sealed(const char *path, char *err, size_t errlen);
void rootkey_destroy(rootkey_t **self_p);

/* The root fingerprint operators read to each other:
 * SHA-256("moux/root-fp/1" || pk), first 20 bytes, formatted by keyid.h. */
void root_fingerprint(const unsigned char pk[32], unsigned char fp[FP_BYTES]);

#endif
