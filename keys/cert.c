#include "cert.h"
#include "blobfile.h"
#include "ctxsig.h"
#include "moux.pb-c.h"
#include "pbunpack.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CERT_VERSION 1
#define CERT_LABEL "moux-node-cert"

static int s_bytes(const ProtobufCBinaryData *b, size_t want)
{
    return b->len == want && b->data != NULL;
}

/* Serialises c's body; caller frees. */
static uint8_t *s_pack_body(const cert_t *c, const unsigned char root_key_id[32], size_t *len)
{
    Moux__NodeCertBody b = MOUX__NODE_CERT_BODY__INIT;
    b.version = CERT_VERSION;
    b.agency = (char *)c->agency;
    b.root_key_id = (ProtobufCBinaryData){KEYID_BYTES, (uint8_t *)root_key_id};
    b.sign_pk = (ProtobufCBinaryData){32, (uint8_t *)c->sign_pk};
    b.enc_pk = (ProtobufCBinaryData){32, (uint8_t *)c->enc_pk};
    b.curve_pk = (ProtobufCBinaryData){32, (uint8_t *)c->curve_pk};
    b.endpoint = (char *)c->endpoint;
    b.serial = c->serial;
    b.not_before_ms = c->not_before_ms;
    b.not_after_ms = c->not_after_ms;
    *len = moux__node_cert_body__get_packed_size(&b);
    uint8_t *out = malloc(*len ? *len : 1);
    if (out)
        moux__node_cert_body__pack(&b, out);
    return out;
}

int cert_issue(const cert_t *c, const rootkey_t *root, uint8_t **out, size_t *len)
{
    size_t blen = 0;
    uint8_t *body = s_pack_body(c, root->key_id, &blen), sig[crypto_sign_BYTES];
    int rc = -1;
    if (!body || ctxsig_sign(CTX_CERT, body, blen, root->sk, sig) != 0 ||
        ctxsig_verify(CTX_CERT, body, blen, root->pk, sig) != 0)
        goto out;
    Moux__NodeCert nc = MOUX__NODE_CERT__INIT;
    nc.body = (ProtobufCBinaryData){blen, body};
    nc.signature = (ProtobufCBinaryData){sizeof sig, sig};
    *len = moux__node_cert__get_packed_size(&nc);
    *out = malloc(*len);
    if (!*out)
        goto out;
    moux__node_cert__pack(&nc, *out);
    rc = 0;
out:
    free(body);
    return rc;
}

/* Copies a verified body into *out; -1 if a field has the wrong shape. */
static int s_fill(const Moux__NodeCertBody *b, cert_t *out)
{
    if (b->version != CERT_VERSION || !s_bytes(&b->root_key_id, KEYID_BYTES) ||
        !s_bytes(&b->sign_pk, 32) || !s_bytes(&b->enc_pk, 32) || !s_bytes(&b->curve_pk, 32) ||
        strlen(b->agency) == 0 || strlen(b->agency) > CERT_AGENCY_MAX ||
        strlen(b->endpoint) >= CERT_ENDPOINT_MAX || b->serial == 0 ||
        b->not_after_ms <= b->not_before_ms)
        return -1;
    memset(out, 0, sizeof *out);
    memcpy(out->agency, b->agency, strlen(b->agency) + 1);
    memcpy(out->endpoint, b->endpoint, strlen(b->endpoint) + 1);
    memcpy(out->root_key_id, b->root_key_id.data, KEYID_BYTES);
    memcpy(out->sign_pk, b->sign_pk.data, 32);
    memcpy(out->enc_pk, b->enc_pk.data, 32);
    memcpy(out->curve_pk, b->curve_pk.data, 32);
    out->serial = b->serial;
    out->not_before_ms = b->not_before_ms;
    out->not_after_ms = b->not_after_ms;
    return 0;
}

int cert_verify(const uint8_t *data, size_t len, const unsigned char root_pk[32], cert_t *out,
                const char **why)
{
    Moux__NodeCert *nc = len <= CERT_MAX_BYTES ?
        (Moux__NodeCert *)pb_unpack(&moux__node_cert__descriptor, NULL, len, data) : NULL;
    Moux__NodeCertBody *b = NULL;
    unsigned char kid[KEYID_BYTES];
    int rc = -1;
    *why = "malformed-certificate";
    if (!nc || !nc->body.data || nc->signature.len != crypto_sign_BYTES)
        goto out;
    b = (Moux__NodeCertBody *)pb_unpack(&moux__node_cert_body__descriptor,
                                        NULL, nc->body.len, nc->body.data);
    cert_t c;
    if (!b || s_fill(b, &c) != 0)
        goto out;
    keyid_of(root_pk, 32, kid);
    if (sodium_memcmp(kid, c.root_key_id, KEYID_BYTES) != 0) {
        *why = "wrong-root";
        goto out;
    }
    if (ctxsig_verify(CTX_CERT, nc->body.data, nc->body.len, root_pk, nc->signature.data) != 0) {
        *why = "bad-certificate-signature";
        goto out;
    }
    *out = c;
    *why = NULL;
    rc = 0;
out:
    if (b)
        moux__node_cert_body__free_unpacked(b, NULL);
    if (nc)
        moux__node_cert__free_unpacked(nc, NULL);
    return rc;
}

int cert_check_time(const cert_t *c, uint64_t now_ms, const char **why)
{
    *why = now_ms < c->not_before_ms ? "certificate-not-yet-valid"
           : now_ms > c->not_after_ms ? "certificate-expired"
                                       : NULL;
    return *why ? -1 : 0;
}

int cert_save(const char *path, const uint8_t *data, size_t len, char *err, size_t errlen)
{
    return blobfile_write(path, CERT_LABEL, data, len, err, errlen);
}

int cert_load(const char *path, uint8_t **data, size_t *len, char *err, size_t errlen)
{
    return blobfile_read(path, CERT_LABEL, CERT_MAX_BYTES, data, len, err, errlen);
}
