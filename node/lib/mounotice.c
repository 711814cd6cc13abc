#include "mounotice.h"
#include "ctxsig.h"
#include "moux.pb-c.h"
#include "pbbudget.h"
#include "pbunpack.h"
#include "util.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

static int s_printable(const char *s)
{
    for (; *s; s++)
        if (*s < 0x20 || *s > 0x7e)
            return 0;
    return 1;
}

/* The form a notice must have, signed or not. */
static const char *s_form(const mou_notice_t *n)
{
    if (!agency_id_valid(n->agency))
        return "notice names no valid agency";
    if (!n->mou_id[0])
        return "notice names no MOU";
    if (!s_printable(n->reason))
        return "notice reason is not printable ASCII";
    return NULL;
}

int mou_notice_sign(const mou_notice_t *n, const rootkey_t *root, uint8_t **out, size_t *len,
                    const char **why)
{
    *out = NULL;
    if ((*why = s_form(n)) != NULL)
        return -1;
    Moux__MouNoticeBody b = MOUX__MOU_NOTICE_BODY__INIT;
    b.version = MOU_NOTICE_VERSION;
    b.agency = (char *)n->agency;
    b.root_key_id = (ProtobufCBinaryData){KEYID_BYTES, (uint8_t *)root->key_id};
    b.mou_id = (char *)n->mou_id;
    b.mou_hash = (ProtobufCBinaryData){MOU_HASH_BYTES, (uint8_t *)n->mou_hash};
    b.effective_ms = n->effective_ms;
    b.reason = (char *)n->reason;
    size_t blen = moux__mou_notice_body__get_packed_size(&b);
    uint8_t *body = malloc(blen), sig[crypto_sign_BYTES];
    *why = "out of memory";
    if (body)
        moux__mou_notice_body__pack(&b, body);
    if (!body || ctxsig_sign(CTX_MOU_NOTICE, body, blen, root->sk, sig) != 0) {
        free(body);
        return -1;
    }
    Moux__MouNotice mn = MOUX__MOU_NOTICE__INIT;
    mn.body = (ProtobufCBinaryData){blen, body};
    mn.signature = (ProtobufCBinaryData){sizeof sig, sig};
    *len = moux__mou_notice__get_packed_size(&mn);
    *out = *len <= MOU_NOTICE_MAX_BYTES ? malloc(*len) : NULL;
    if (*out) {
        moux__mou_notice__pack(&mn, *out);
        *why = NULL;
    } else if (*len > MOU_NOTICE_MAX_BYTES) {
        *why = "notice too long";
    }
    free(body);
    return *out ? 0 : -1;
}

/* Parses raw into n and hands back the signed body and signature (pointing
 * into *mn, which the caller frees with the budget). */
static int s_parse(const uint8_t *raw, size_t len, pbbudget_t *pb, Moux__MouNotice **mn,
                   mou_notice_t *n, const char **why)
{
    Moux__MouNoticeBody *b = NULL;
    *mn = NULL;
    *why = "malformed notice";
    if (!raw || len == 0 || len > MOU_NOTICE_MAX_BYTES)
        return -1;
    if (!(*mn = (Moux__MouNotice *)pb_unpack(&moux__mou_notice__descriptor,
                                             &pb->allocator, len, raw)) ||
        (*mn)->signature.len != crypto_sign_BYTES || !(*mn)->body.data ||
        !(b = (Moux__MouNoticeBody *)pb_unpack(&moux__mou_notice_body__descriptor,
                                               &pb->allocator, (*mn)->body.len, (*mn)->body.data)))
        return -1;
    int rc = -1;
    memset(n, 0, sizeof *n);
    if (b->version != MOU_NOTICE_VERSION)
        *why = "unsupported notice version";
    else if (b->root_key_id.len != KEYID_BYTES || b->mou_hash.len != MOU_HASH_BYTES)
        *why = "notice key id or MOU hash has the wrong length";
    else if (str_copy(n->agency, sizeof n->agency, b->agency) != 0 ||
             str_copy(n->mou_id, sizeof n->mou_id, b->mou_id) != 0 ||
             str_copy(n->reason, sizeof n->reason, b->reason) != 0)
        *why = "notice field too long";
    else {
        memcpy(n->root_key_id, b->root_key_id.data, KEYID_BYTES);
        memcpy(n->mou_hash, b->mou_hash.data, MOU_HASH_BYTES);
        n->effective_ms = b->effective_ms;
        rc = (*why = s_form(n)) ? -1 : 0;
    }
    moux__mou_notice_body__free_unpacked(b, &pb->allocator);
    return rc;
}

int mou_notice_parse(const uint8_t *raw, size_t len, mou_notice_t *n, const char **why)
{
    pbbudget_t pb;
    pbbudget_init(&pb, PB_BUDGET_BYTES);
    Moux__MouNotice *mn = NULL;
    int rc = s_parse(raw, len, &pb, &mn, n, why);
    if (mn)
        moux__mou_notice__free_unpacked(mn, &pb.allocator);
    return rc;
}

int mou_notice_verify(const uint8_t *raw, size_t len, const unsigned char root_pk[32],
                      mou_notice_t *n, const char **why)
{
    pbbudget_t pb;
    pbbudget_init(&pb, PB_BUDGET_BYTES);
    Moux__MouNotice *mn = NULL;
    unsigned char kid[KEYID_BYTES];
    int rc = s_parse(raw, len, &pb, &mn, n, why);
    keyid_of(root_pk, 32, kid);
    if (rc == 0 && sodium_memcmp(kid, n->root_key_id, KEYID_BYTES) != 0) {
        *why = "notice is not signed by the party's pinned root";
        rc = -1;
    } else if (rc == 0 && ctxsig_verify(CTX_MOU_NOTICE, mn->body.data, mn->body.len, root_pk,
                                        mn->signature.data) != 0) {
        *why = "bad notice signature";
        rc = -1;
    }
    if (mn)
        moux__mou_notice__free_unpacked(mn, &pb.allocator);
    return rc;
}
