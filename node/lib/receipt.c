#include "receipt.h"
#include "ctxsig.h"
#include "envelope.h"
#include "pbunpack.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

int receipt_seal(const Moux__ReceiptBody *body, const unsigned char *sign_sk, uint8_t **frame,
                 size_t *len)
{
    size_t blen = moux__receipt_body__get_packed_size(body);
    uint8_t *raw = malloc(blen ? blen : 1), sig[crypto_sign_BYTES];
    int rc = -1;
    if (!raw)
        return -1;
    moux__receipt_body__pack(body, raw);
    if (ctxsig_sign(CTX_RECEIPT, raw, blen, sign_sk, sig) != 0)
        goto out;
    Moux__SignedReceipt sr = MOUX__SIGNED_RECEIPT__INIT;
    sr.body = (ProtobufCBinaryData){blen, raw};
    sr.signature = (ProtobufCBinaryData){sizeof sig, sig};
    Moux__Frame f = MOUX__FRAME__INIT;
    f.kind_case = MOUX__FRAME__KIND_RECEIPT;
    f.receipt = &sr;
    *len = moux__frame__get_packed_size(&f);
    *frame = malloc(*len);
    if (!*frame)
        goto out;
    moux__frame__pack(&f, *frame);
    rc = 0;
out:
    free(raw);
    return rc;
}

/* A 64-byte signature and a body: what both steps need. */
static int s_shape(const Moux__SignedReceipt *sr, const char **why)
{
    if (sr->signature.len == crypto_sign_BYTES && sr->body.data)
        return 0;
    *why = "malformed receipt";
    return -1;
}

int receipt_verify(const Moux__SignedReceipt *sr, const unsigned char signer_pk[32],
                   const char **why)
{
    if (s_shape(sr, why) != 0)
        return -1;
    if (ctxsig_verify(CTX_RECEIPT, sr->body.data, sr->body.len, signer_pk,
                      sr->signature.data) != 0) {
        *why = "receipt signature does not verify";
        return -1;
    }
    return 0;
}

int receipt_open(const Moux__SignedReceipt *sr, const unsigned char signer_pk[32],
                 ProtobufCAllocator *alloc, Moux__ReceiptBody **body, const char **why)
{
    if (receipt_verify(sr, signer_pk, why) != 0)
        return -1;
    return receipt_unpack(sr, alloc, body, why);
}

int receipt_unpack(const Moux__SignedReceipt *sr, ProtobufCAllocator *alloc,
                   Moux__ReceiptBody **body, const char **why)
{
    if (s_shape(sr, why) != 0)
        return -1;
    Moux__ReceiptBody *b = (Moux__ReceiptBody *)pb_unpack(&moux__receipt_body__descriptor,
                                                          alloc, sr->body.len, sr->body.data);
    if (!b || b->version != PROTOCOL_VERSION || b->message_id.len != MSGID_BYTES ||
        (b->batch_hash.len != 0 && b->batch_hash.len != BATCH_HASH_BYTES) ||
        (b->status != MOUX__BATCH_STATUS__BATCH_OK &&
         b->status != MOUX__BATCH_STATUS__BATCH_REFUSED)) {
        if (b)
            moux__receipt_body__free_unpacked(b, alloc);
        *why = "malformed receipt body";
        return -1;
    }
    *body = b;
    return 0;
}
