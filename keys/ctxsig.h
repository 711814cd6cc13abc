/* Domain-separated Ed25519: every signature in moux is over an ASCII
 * context string followed by the signed bytes, so a signature made for one
 * purpose (a bundle, a batch, a receipt) can never verify as another. */
#ifndef MOUX_CTXSIG_H
#define MOUX_CTXSIG_H

#include <stddef.h>
#include <stdint.h>

#define CTX_BUNDLE "moux/bundle/1"
#define CTX_BATCH "moux/batch/2"
#define CTX_RECEIPT "moux/receipt/2"
#define CTX_CERT "moux/cert/1"
#define CTX_REVOCATION "moux/revocation/1"
#define CTX_MOU_NOTICE "moux/mou-notice/1"
#define CTX_CHECKPOINT "moux/checkpoint/1"
#define CTX_WITNESS "moux/witness/1"

/* sig = Ed25519(sk, context || data). -1 only when out of memory. */
int ctxsig_sign(const char *context, const uint8_t *data, size_t len, const unsigned char *sk,
                uint8_t sig[64]);
/* 0 when sig is pk's signature over context || data. */
int ctxsig_verify(const char *context, const uint8_t *data, size_t len,
                  const unsigned char pk[32], const uint8_t sig[64]);

#endif
