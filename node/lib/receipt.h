/* Signed receipts: the recipient's answer to every batch.
 *   signature = Ed25519(sign_sk, "moux/receipt/2" || body)
 * where body is the serialised ReceiptBody, kept and verified byte-exact. */
#ifndef MOUX_RECEIPT_H
#define MOUX_RECEIPT_H

#include "moux.pb-c.h"

#include <stddef.h>
#include <stdint.h>

/* Signs body into a serialised Frame; *frame owned by the caller (free). */
int receipt_seal(const Moux__ReceiptBody *body, const unsigned char *sign_sk, uint8_t **frame,
                 size_t *len);
/* Verifies the signature with signer_pk and unpacks the body with alloc
 * (NULL: the default; a partner's receipt: a budget, pbbudget.h). The caller
 * frees it with moux__receipt_body__free_unpacked and the same alloc.
 * Only BATCH_OK and BATCH_REFUSED are statuses. -1 and *why on failure. */
int receipt_open(const Moux__SignedReceipt *sr, const unsigned char signer_pk[32],
                 ProtobufCAllocator *alloc, Moux__ReceiptBody **body, const char **why);

/* receipt_open in two steps, for a receiver that learns the signer's key
 * from the body (signer_key_id): unpack and shape-check the body, then
 * verify. Nothing of the body may be trusted before receipt_verify. */
int receipt_unpack(const Moux__SignedReceipt *sr, ProtobufCAllocator *alloc,
                   Moux__ReceiptBody **body, const char **why);
int receipt_verify(const Moux__SignedReceipt *sr, const unsigned char signer_pk[32],
                   const char **why);

#endif
