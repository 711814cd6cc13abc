/* Any bytes as a wire Frame, decoded the way both ends of a link decode
 * them, under the daemon's decode budget (pbbudget.h): an envelope gets
 * envelope_header (what inbound.c does first), a receipt gets receipt_open
 * with a fixed public key (what link.c does). Once freed, the budget must
 * be all given back. */
#include "envelope.h"
#include "fuzz_common.h"
#include "moux.pb-c.h"
#include "pbbudget.h"
#include "pbunpack.h"
#include "receipt.h"

static unsigned char s_pk[crypto_sign_PUBLICKEYBYTES];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    unsigned char sk[crypto_sign_SECRETKEYBYTES];
    fuzz_sodium_init();
    crypto_sign_keypair(s_pk, sk);
    sodium_memzero(sk, sizeof sk);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    pbbudget_t pb;
    pbbudget_init(&pb, PB_BUDGET_BYTES);
    Moux__Frame *f = (Moux__Frame *)pb_unpack(&moux__frame__descriptor, &pb.allocator, size, data);
    if (!f) {
        FUZZ_CHECK(pb.used == 0);
        return 0;
    }
    if (f->kind_case == MOUX__FRAME__KIND_ENVELOPE) {
        Moux__BatchHeader *h = NULL;
        const char *reason = NULL;
        if (envelope_header(f->envelope, &h, &reason) == 0) {
            /* What the daemon reads next, without re-checking. */
            FUZZ_CHECK(h && h->sender_key_id.len == 32 && h->recipient_key_id.len == 32 &&
                       h->message_id.len == MSGID_BYTES && h->nonce.len == 24);
            FUZZ_CHECK(strlen(h->sender) <= 64 && strlen(h->recipient) <= 64);
            moux__batch_header__free_unpacked(h, NULL);
        } else {
            FUZZ_CHECK(h == NULL && reason != NULL);
        }
    } else if (f->kind_case == MOUX__FRAME__KIND_RECEIPT) {
        Moux__ReceiptBody *b = NULL;
        const char *why = NULL;
        /* A random key: nothing the fuzzer writes can carry its signature. */
        FUZZ_CHECK(receipt_open(f->receipt, s_pk, &pb.allocator, &b, &why) != 0);
        FUZZ_CHECK(b == NULL && why != NULL);
    }
    moux__frame__free_unpacked(f, &pb.allocator);
    FUZZ_CHECK(pb.used == 0);
    return 0;
}
