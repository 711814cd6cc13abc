/* Baseline: libsodium primitives the batch path uses, on messages of the
 * sizes moux signs and encrypts.
 *
 *   bench_crypto [--batch-bytes B] [--receipt-bytes R] [--reps N] [--secs S]
 *
 * B: bytes hashed and encrypted per batch (header + payload of a 512-item
 * batch; bench_batch prints it): the batch hash (BLAKE2b-256) and the AEAD
 * run over them; Ed25519 and SHA-256 over a batch are what protocol version 1
 * did instead (Ed25519 now signs the 32-byte hash). R: bytes signed per
 * receipt. Each figure is
 * the median of N repetitions of a loop of S seconds (operations per
 * second). Output: JSON lines (benchutil.h). */
#include "benchutil.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef void (*op_fn)(void *arg);

typedef struct {
    unsigned char *msg, *out, *sig;
    size_t len;
    unsigned char pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
    unsigned char key[32], nonce[24];
    unsigned long long outlen;
} s_ctx_t;

static void s_sign(void *a)
{
    s_ctx_t *c = a;
    crypto_sign_detached(c->sig, NULL, c->msg, c->len, c->sk);
}

static void s_verify(void *a)
{
    s_ctx_t *c = a;
    if (crypto_sign_verify_detached(c->sig, c->msg, c->len, c->pk) != 0)
        abort();
}

static void s_seal(void *a)
{
    s_ctx_t *c = a;
    crypto_aead_xchacha20poly1305_ietf_encrypt(c->out, &c->outlen, c->msg, c->len, c->nonce, 24,
                                               NULL, c->nonce, c->key);
}

static void s_open(void *a)
{
    s_ctx_t *c = a;
    unsigned long long mlen;
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(c->msg, &mlen, NULL, c->out, c->outlen,
                                                   c->nonce, 24, c->nonce, c->key) != 0)
        abort();
}

static void s_sha256(void *a)
{
    s_ctx_t *c = a;
    crypto_hash_sha256(c->sig, c->msg, c->len);
}

static void s_blake2b(void *a)
{
    s_ctx_t *c = a;
    crypto_generichash(c->sig, 32, c->msg, c->len, NULL, 0);
}

/* Operations per second, median of reps loops of secs seconds each. */
static void s_rate(const char *name, op_fn fn, s_ctx_t *c, int reps, double secs)
{
    double samples[64];
    if (reps > 64)
        reps = 64;
    fn(c); /* warm */
    for (int r = 0; r < reps; r++) {
        double t0 = bu_now(), t;
        long n = 0;
        do {
            for (int i = 0; i < 16; i++)
                fn(c);
            n += 16;
            t = bu_now();
        } while (t - t0 < secs);
        samples[r] = (double)n / (t - t0);
    }
    bu_emit(name, "ops/s", samples, (size_t)reps);
}

static void s_ctx_init(s_ctx_t *c, size_t len)
{
    memset(c, 0, sizeof *c);
    c->len = len;
    c->msg = malloc(len + 64);
    c->out = malloc(len + 64);
    c->sig = malloc(64);
    randombytes_buf(c->msg, len);
    crypto_sign_keypair(c->pk, c->sk);
    randombytes_buf(c->key, sizeof c->key);
    randombytes_buf(c->nonce, sizeof c->nonce);
    s_sign(c);
    s_seal(c);
}

static void s_ctx_free(s_ctx_t *c)
{
    free(c->msg);
    free(c->out);
    free(c->sig);
}

int main(int argc, char **argv)
{
    if (sodium_init() < 0)
        return 1;
    size_t batch = (size_t)bu_opt(argc, argv, "--batch-bytes", 120000);
    size_t receipt = (size_t)bu_opt(argc, argv, "--receipt-bytes", 30000);
    int reps = (int)bu_opt(argc, argv, "--reps", 5);
    double secs = (double)bu_opt(argc, argv, "--ms", 250) / 1000.0;
    s_ctx_t c;

    s_ctx_init(&c, 64);
    s_rate("ed25519_sign_64B", s_sign, &c, reps, secs);
    s_rate("ed25519_verify_64B", s_verify, &c, reps, secs);
    s_ctx_free(&c);

    s_ctx_init(&c, batch);
    s_rate("ed25519_sign_batch", s_sign, &c, reps, secs);
    s_rate("ed25519_verify_batch", s_verify, &c, reps, secs);
    s_rate("aead_encrypt_batch", s_seal, &c, reps, secs);
    s_rate("aead_decrypt_batch", s_open, &c, reps, secs);
    s_rate("sha256_batch", s_sha256, &c, reps, secs);
    s_rate("blake2b_batch", s_blake2b, &c, reps, secs);
    s_ctx_free(&c);

    s_ctx_init(&c, receipt);
    s_rate("ed25519_sign_receipt", s_sign, &c, reps, secs);
    s_rate("ed25519_verify_receipt", s_verify, &c, reps, secs);
    s_ctx_free(&c);
    bu_emit1("crypto_batch_bytes", "bytes", (double)batch);
    bu_emit1("crypto_receipt_bytes", "bytes", (double)receipt);
    return 0;
}
