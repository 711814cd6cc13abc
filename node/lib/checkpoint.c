#include "checkpoint.h"
#include "ctxsig.h"
#include "moux.pb-c.h"
#include "pbbudget.h"
#include "pbunpack.h"
#include "util.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

int checkpoint_sign(const checkpoint_t *c, const unsigned char sign_pk[32],
                    const unsigned char *sign_sk, uint8_t **out, size_t *len)
{
    unsigned char kid[KEYID_BYTES];
    keyid_of(sign_pk, 32, kid);
    Moux__CheckpointBody b = MOUX__CHECKPOINT_BODY__INIT;
    b.version = CHECKPOINT_VERSION;
    b.log = (char *)c->log;
    b.signer_key_id = (ProtobufCBinaryData){KEYID_BYTES, kid};
    b.size = c->size;
    b.root = (ProtobufCBinaryData){32, (uint8_t *)c->root};
    b.timestamp_ms = c->timestamp_ms;
    size_t blen = moux__checkpoint_body__get_packed_size(&b);
    uint8_t *body = malloc(blen), sig[crypto_sign_BYTES];
    *out = NULL;
    if (!body)
        return -1;
    moux__checkpoint_body__pack(&b, body);
    if (ctxsig_sign(CTX_CHECKPOINT, body, blen, sign_sk, sig) == 0) {
        Moux__SignedCheckpoint sc = MOUX__SIGNED_CHECKPOINT__INIT;
        sc.body = (ProtobufCBinaryData){blen, body};
        sc.signature = (ProtobufCBinaryData){sizeof sig, sig};
        *len = moux__signed_checkpoint__get_packed_size(&sc);
        if ((*out = malloc(*len)) != NULL)
            moux__signed_checkpoint__pack(&sc, *out);
    }
    free(body);
    return *out ? 0 : -1;
}

/* Parses raw; *sc is freed by the caller with the budget's allocator. */
static int s_parse(const uint8_t *raw, size_t len, pbbudget_t *pb, Moux__SignedCheckpoint **sc,
                   checkpoint_t *c, const char **why)
{
    Moux__CheckpointBody *b = NULL;
    *why = "malformed checkpoint";
    *sc = NULL;
    if (!raw || !len || len > CHECKPOINT_MAX_BYTES ||
        !(*sc = (Moux__SignedCheckpoint *)pb_unpack(&moux__signed_checkpoint__descriptor,
                                                    &pb->allocator, len, raw)) ||
        (*sc)->signature.len != crypto_sign_BYTES || !(*sc)->body.data ||
        !(b = (Moux__CheckpointBody *)pb_unpack(&moux__checkpoint_body__descriptor,
                                                &pb->allocator, (*sc)->body.len, (*sc)->body.data)))
        return -1;
    int rc = -1;
    memset(c, 0, sizeof *c);
    if (b->version != CHECKPOINT_VERSION)
        *why = "unsupported checkpoint version";
    else if (b->signer_key_id.len != KEYID_BYTES || b->root.len != 32 ||
             !agency_id_valid(b->log) || str_copy(c->log, sizeof c->log, b->log) != 0)
        *why = "malformed checkpoint";
    else {
        memcpy(c->signer_key_id, b->signer_key_id.data, KEYID_BYTES);
        memcpy(c->root, b->root.data, 32);
        c->size = b->size;
        c->timestamp_ms = b->timestamp_ms;
        *why = NULL;
        rc = 0;
    }
    moux__checkpoint_body__free_unpacked(b, &pb->allocator);
    return rc;
}

int checkpoint_parse(const uint8_t *raw, size_t len, checkpoint_t *c, const char **why)
{
    pbbudget_t pb;
    pbbudget_init(&pb, PB_BUDGET_BYTES);
    Moux__SignedCheckpoint *sc = NULL;
    int rc = s_parse(raw, len, &pb, &sc, c, why);
    if (sc)
        moux__signed_checkpoint__free_unpacked(sc, &pb.allocator);
    return rc;
}

int checkpoint_verify(const uint8_t *raw, size_t len, const unsigned char sign_pk[32],
                      checkpoint_t *c, const char **why)
{
    pbbudget_t pb;
    pbbudget_init(&pb, PB_BUDGET_BYTES);
    Moux__SignedCheckpoint *sc = NULL;
    unsigned char kid[KEYID_BYTES];
    keyid_of(sign_pk, 32, kid);
    int rc = s_parse(raw, len, &pb, &sc, c, why);
    if (rc == 0 && sodium_memcmp(kid, c->signer_key_id, KEYID_BYTES) != 0) {
        *why = "checkpoint signed by another key";
        rc = -1;
    } else if (rc == 0 && ctxsig_verify(CTX_CHECKPOINT, sc->body.data, sc->body.len, sign_pk,
                                        sc->signature.data) != 0) {
        *why = "bad checkpoint signature";
        rc = -1;
    }
    if (sc)
        moux__signed_checkpoint__free_unpacked(sc, &pb.allocator);
    return rc;
}

/* The body bytes of a signed checkpoint, for countersignatures. */
static int s_with_body(const uint8_t *raw, size_t len, const unsigned char *key, uint8_t sig[64],
                       int sign)
{
    pbbudget_t pb;
    pbbudget_init(&pb, PB_BUDGET_BYTES);
    Moux__SignedCheckpoint *sc = NULL;
    checkpoint_t c;
    const char *why = NULL;
    int rc = s_parse(raw, len, &pb, &sc, &c, &why);
    if (rc == 0)
        rc = sign ? ctxsig_sign(CTX_WITNESS, sc->body.data, sc->body.len, key, sig)
                  : ctxsig_verify(CTX_WITNESS, sc->body.data, sc->body.len, key, sig);
    if (sc)
        moux__signed_checkpoint__free_unpacked(sc, &pb.allocator);
    return rc;
}

int checkpoint_countersign(const uint8_t *raw, size_t len, const unsigned char *sign_sk,
                           uint8_t sig[64])
{
    return s_with_body(raw, len, sign_sk, sig, 1);
}

int checkpoint_countersig_verify(const uint8_t *raw, size_t len, const unsigned char pk[32],
                                 const uint8_t sig[64])
{
    return s_with_body(raw, len, pk, (uint8_t *)sig, 0);
}
