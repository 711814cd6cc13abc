/* Receipts. The first input byte picks a mode:
 *
 *   0  the rest is  position[2] mask[1] body : body is a ReceiptBody as
 *      the fuzzer writes it. It is unpacked on its own, then signed with a
 *      key generated at start-up and given to receipt_open, which gets past
 *      the signature to the body checks. Properties: receipt_open accepts
 *      exactly the bodies that unpack, with no string holding a NUL byte
 *      (checked apart from pb_unpack), with the protocol version (2), a 16-byte message id,
 *      an empty or 32-byte batch hash and status OK or REFUSED; and with one
 *      byte of body or signature flipped (mask != 0) it refuses.
 *   1  the rest is a serialised SignedReceipt, opened with the same key
 *      (its signature is the fuzzer's, so this drives the refusals).
 *
 * Bodies are decoded under the daemon's budget (pbbudget.h), which must
 * be all given back once they are freed. Accepted bodies are then read the
 * way link.c reads them. */
#include "ctxsig.h"
#include "envelope.h"
#include "fuzz_common.h"
#include "moux.pb-c.h"
#include "pbbudget.h"
#include "receipt.h"

static unsigned char s_pk[crypto_sign_PUBLICKEYBYTES], *s_sk;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_sodium_init();
    s_sk = sodium_malloc(crypto_sign_SECRETKEYBYTES);
    if (!s_sk)
        abort();
    crypto_sign_keypair(s_pk, s_sk);
    return 0;
}

/* Reads every field of an accepted body, as link.c does. */
static void s_read_body(const Moux__ReceiptBody *b)
{
    static const uint8_t zero[BATCH_HASH_BYTES];
    FUZZ_CHECK(b->version == PROTOCOL_VERSION && b->message_id.len == MSGID_BYTES && b->message_id.data);
    volatile int x = memcmp(b->message_id.data, zero, MSGID_BYTES);
    if (b->batch_hash.len)
        x += memcmp(b->batch_hash.data, zero, BATCH_HASH_BYTES);
    x += (int)strlen(b->sender) + (int)strlen(b->recipient) + (int)strlen(b->reason);
    for (size_t i = 0; i < b->n_results; i++) {
        const Moux__ItemResult *r = b->results[i];
        FUZZ_CHECK(r != NULL);
        x += (int)strlen(r->id) + (int)strlen(r->reason) + (int)r->status;
    }
    (void)x;
}

/* The oracle's own reading of the wire, written for ReceiptBody alone and
 * apart from pb_unpack's descriptor walk: 0 if a string field (sender 2,
 * recipient 3, reason 9; in results 10: id 1, reason 4) holds a NUL byte in
 * any occurrence, or the bytes do not scan. */
static int s_scan_varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
    *v = 0;
    for (unsigned shift = 0; *p < end && shift < 64; shift += 7) {
        *v |= (uint64_t)(**p & 0x7f) << shift;
        if (!(*(*p)++ & 0x80))
            return 1;
    }
    return 0;
}

static int s_scan(const uint8_t *p, const uint8_t *end, int nested)
{
    while (p < end) {
        uint64_t key = 0, len = 0;
        if (!s_scan_varint(&p, end, &key))
            return 0;
        unsigned wt = key & 7;
        if (wt == 1 || wt == 5) {
            if ((size_t)(end - p) < (wt == 1 ? 8u : 4u))
                return 0;
            p += wt == 1 ? 8 : 4;
            continue;
        }
        if ((wt != 0 && wt != 2) || !s_scan_varint(&p, end, &len))
            return 0;
        if (wt == 0)
            continue;
        if (len > (uint64_t)(end - p))
            return 0;
        uint64_t num = key >> 3;
        int string = nested ? num == 1 || num == 4 : num == 2 || num == 3 || num == 9;
        if (string && memchr(p, 0, (size_t)len))
            return 0;
        if (!nested && num == 10 && !s_scan(p, p + len, 1))
            return 0;
        p += len;
    }
    return 1;
}

/* Independent of pb_unpack: protobuf-c alone, and the oracle's own scan. */
static int s_body_ok(const uint8_t *body, size_t len)
{
    Moux__ReceiptBody *b = moux__receipt_body__unpack(NULL, len, body);
    if (!b)
        return 0;
    int ok = s_scan(body, body + len, 0) && b->version == PROTOCOL_VERSION && b->message_id.len == MSGID_BYTES &&
             (b->batch_hash.len == 0 || b->batch_hash.len == BATCH_HASH_BYTES) &&
             (b->status == MOUX__BATCH_STATUS__BATCH_OK ||
              b->status == MOUX__BATCH_STATUS__BATCH_REFUSED);
    moux__receipt_body__free_unpacked(b, NULL);
    return ok;
}

static void s_mode_signed_here(const uint8_t *data, size_t size)
{
    size_t pos = (size_t)fuzz_take(&data, &size, 2);
    uint8_t mask = (uint8_t)fuzz_take(&data, &size, 1);
    /* A copy, so ASan sees reads past the body. receipt_open refuses a NULL
     * body, so an empty one still gets a (1-byte) buffer. */
    uint8_t *body = malloc(size ? size : 1), sig[64];
    if (!body)
        abort();
    if (size)
        memcpy(body, data, size);
    FUZZ_CHECK(ctxsig_sign(CTX_RECEIPT, body, size, s_sk, sig) == 0);
    Moux__SignedReceipt sr = MOUX__SIGNED_RECEIPT__INIT;
    sr.body = (ProtobufCBinaryData){size, body};
    sr.signature = (ProtobufCBinaryData){sizeof sig, sig};
    Moux__ReceiptBody *b = NULL;
    const char *why = NULL;
    pbbudget_t pb;
    pbbudget_init(&pb, PB_BUDGET_BYTES);
    int rc = receipt_open(&sr, s_pk, &pb.allocator, &b, &why);
    FUZZ_CHECK((rc == 0) == s_body_ok(body, size));
    if (rc == 0) {
        s_read_body(b);
        moux__receipt_body__free_unpacked(b, &pb.allocator);
        b = NULL;
        if (mask) {
            size_t at = pos % (size + sizeof sig);
            if (at < size)
                body[at] ^= mask;
            else
                sig[at - size] ^= mask;
            FUZZ_CHECK(receipt_open(&sr, s_pk, &pb.allocator, &b, &why) != 0 && b == NULL);
        }
    } else {
        FUZZ_CHECK(b == NULL && why != NULL);
    }
    FUZZ_CHECK(pb.used == 0);
    free(body);
}

static void s_mode_wire(const uint8_t *data, size_t size)
{
    pbbudget_t pb; /* one budget for the message and the body, as link.c */
    pbbudget_init(&pb, PB_BUDGET_BYTES);
    Moux__SignedReceipt *sr = moux__signed_receipt__unpack(&pb.allocator, size, data);
    if (sr) {
        Moux__ReceiptBody *b = NULL;
        const char *why = NULL;
        if (receipt_open(sr, s_pk, &pb.allocator, &b, &why) == 0) {
            s_read_body(b);
            moux__receipt_body__free_unpacked(b, &pb.allocator);
        } else {
            FUZZ_CHECK(b == NULL && why != NULL);
        }
        moux__signed_receipt__free_unpacked(sr, &pb.allocator);
    }
    FUZZ_CHECK(pb.used == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    if (data[0] & 1)
        s_mode_wire(data + 1, size - 1);
    else
        s_mode_signed_here(data + 1, size - 1);
    return 0;
}
