#include "receipt.h"
#include "envelope.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define SIG_CONTEXT "moux/receipt/1"

static uint8_t *s_signed_bytes(const uint8_t *body, size_t len, size_t *out_len)
{
    size_t ctx = strlen(SIG_CONTEXT);
    uint8_t *buf = malloc(ctx + len);
    if (buf) {
        memcpy(buf, SIG_CONTEXT, ctx);
        memcpy(buf + ctx, body, len);
    }
    *out_len = ctx + len;
    return buf;
}

int receipt_seal(const Moux__ReceiptBody *body, const unsigned char *sign_sk, uint8_t **frame,
                 size_t *len)
{
    size_t blen = moux__receipt_body__get_packed_size(body), slen = 0;
    uint8_t *raw = malloc(blen ? blen : 1), *signed_bytes = NULL;
    int rc = -1;
    if (!raw)
        return -1;
    moux__receipt_body__pack(body, raw);
    signed_bytes = s_signed_bytes(raw, blen, &slen);
    if (!signed_bytes)
        goto out;
    uint8_t sig[crypto_sign_BYTES];
    crypto_sign_detached(sig, NULL, signed_bytes, slen, sign_sk);
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
    free(signed_bytes);
    return rc;
}

int receipt_open(const Moux__SignedReceipt *sr, const unsigned char signer_pk[32],
                 Moux__ReceiptBody **body, const char **why)
{
    size_t slen = 0;
    if (sr->signature.len != crypto_sign_BYTES || !sr->body.data) {
        *why = "malformed receipt";
        return -1;
    }
    uint8_t *signed_bytes = s_signed_bytes(sr->body.data, sr->body.len, &slen);
    if (!signed_bytes || crypto_sign_verify_detached(sr->signature.data, signed_bytes, slen,
                                                     signer_pk) != 0) {
        free(signed_bytes);
        *why = "receipt signature does not verify";
        return -1;
    }
    free(signed_bytes);
    Moux__ReceiptBody *b = moux__receipt_body__unpack(NULL, sr->body.len, sr->body.data);
    if (!b || b->version != PROTOCOL_VERSION || b->message_id.len != MSGID_BYTES ||
        (b->batch_hash.len != 0 && b->batch_hash.len != BATCH_HASH_BYTES)) {
        if (b)
            moux__receipt_body__free_unpacked(b, NULL);
        *why = "malformed receipt body";
        return -1;
    }
    *body = b;
    return 0;
}
