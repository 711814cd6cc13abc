#include "revocation.h"
#include "blobfile.h"
#include "ctxsig.h"
#include "moux.pb-c.h"
#include "pbunpack.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define REVLIST_VERSION 1
#define REVLIST_LABEL "moux-revocation-list"

/* Serialises l's body under root_key_id; caller frees. */
static uint8_t *s_pack_body(const revlist_t *l, const unsigned char root_key_id[KEYID_BYTES],
                            size_t *len)
{
    ProtobufCBinaryData *ids = calloc(l->n_key_ids ? l->n_key_ids : 1, sizeof *ids);
    if (!ids)
        return NULL;
    for (size_t i = 0; i < l->n_key_ids; i++)
        ids[i] = (ProtobufCBinaryData){KEYID_BYTES, (uint8_t *)l->key_ids[i]};
    Moux__RevocationListBody b = MOUX__REVOCATION_LIST_BODY__INIT;
    b.version = REVLIST_VERSION;
    b.agency = (char *)l->agency;
    b.root_key_id = (ProtobufCBinaryData){KEYID_BYTES, (uint8_t *)root_key_id};
    b.number = l->number;
    b.issued_ms = l->issued_ms;
    b.n_serials = l->n_serials;
    b.serials = l->serials;
    b.n_key_ids = l->n_key_ids;
    b.key_ids = ids;
    *len = moux__revocation_list_body__get_packed_size(&b);
    uint8_t *out = malloc(*len ? *len : 1);
    if (out)
        moux__revocation_list_body__pack(&b, out);
    free(ids);
    return out;
}

int revlist_sign(const revlist_t *l, const rootkey_t *root, uint8_t **out, size_t *len)
{
    if (l->n_serials > REVLIST_MAX_ENTRIES || l->n_key_ids > REVLIST_MAX_ENTRIES)
        return -1;
    size_t blen = 0;
    uint8_t *body = s_pack_body(l, root->key_id, &blen), sig[crypto_sign_BYTES];
    int rc = -1;
    if (!body || ctxsig_sign(CTX_REVOCATION, body, blen, root->sk, sig) != 0)
        goto out;
    Moux__RevocationList rl = MOUX__REVOCATION_LIST__INIT;
    rl.body = (ProtobufCBinaryData){blen, body};
    rl.signature = (ProtobufCBinaryData){sizeof sig, sig};
    *len = moux__revocation_list__get_packed_size(&rl);
    *out = malloc(*len);
    if (!*out)
        goto out;
    moux__revocation_list__pack(&rl, *out);
    /* The full check a receiver makes (form, limits, signature): we never
     * hand out a list our own verifier would refuse. */
    revlist_t check;
    const char *why = NULL;
    if (revlist_verify(*out, *len, root->pk, &check, &why) != 0) {
        free(*out);
        *out = NULL;
        goto out;
    }
    revlist_free(&check);
    rc = 0;
out:
    free(body);
    return rc;
}

/* The body's shape, before anything is copied or trusted. */
static int s_form_ok(const Moux__RevocationListBody *b)
{
    size_t alen = strlen(b->agency);
    if (b->version != REVLIST_VERSION || alen == 0 || alen >= sizeof ((revlist_t *)0)->agency ||
        b->root_key_id.len != KEYID_BYTES || !b->root_key_id.data || b->number == 0 ||
        b->n_serials > REVLIST_MAX_ENTRIES || b->n_key_ids > REVLIST_MAX_ENTRIES)
        return 0;
    for (size_t i = 0; i < b->n_serials; i++)
        if (b->serials[i] == 0) /* certificates start at serial 1 */
            return 0;
    for (size_t i = 0; i < b->n_key_ids; i++)
        if (b->key_ids[i].len != KEYID_BYTES || !b->key_ids[i].data)
            return 0;
    return 1;
}

/* Copies a checked body into *out; -1 when out of memory. */
static int s_copy(const Moux__RevocationListBody *b, revlist_t *out)
{
    revlist_t l;
    memset(&l, 0, sizeof l);
    memcpy(l.agency, b->agency, strlen(b->agency) + 1);
    memcpy(l.root_key_id, b->root_key_id.data, KEYID_BYTES);
    l.number = b->number;
    l.issued_ms = b->issued_ms;
    if (b->n_serials && !(l.serials = malloc(b->n_serials * sizeof *l.serials)))
        return -1;
    if (b->n_key_ids && !(l.key_ids = malloc(b->n_key_ids * sizeof *l.key_ids))) {
        free(l.serials);
        return -1;
    }
    if (b->n_serials)
        memcpy(l.serials, b->serials, b->n_serials * sizeof *l.serials);
    for (size_t i = 0; i < b->n_key_ids; i++)
        memcpy(l.key_ids[i], b->key_ids[i].data, KEYID_BYTES);
    l.n_serials = b->n_serials;
    l.n_key_ids = b->n_key_ids;
    *out = l;
    return 0;
}

int revlist_verify(const uint8_t *data, size_t len, const unsigned char root_pk[32],
                   revlist_t *out, const char **why)
{
    Moux__RevocationList *rl =
        len <= REVLIST_MAX_BYTES ?
            (Moux__RevocationList *)pb_unpack(&moux__revocation_list__descriptor, NULL,
                                              len, data) : NULL;
    Moux__RevocationListBody *b = NULL;
    unsigned char kid[KEYID_BYTES];
    int rc = -1;
    *why = "malformed-revocation-list";
    if (!rl || !rl->body.data || rl->signature.len != crypto_sign_BYTES)
        goto out;
    b = (Moux__RevocationListBody *)pb_unpack(&moux__revocation_list_body__descriptor,
                                              NULL, rl->body.len, rl->body.data);
    if (!b || !s_form_ok(b))
        goto out;
    keyid_of(root_pk, 32, kid);
    if (sodium_memcmp(kid, b->root_key_id.data, KEYID_BYTES) != 0) {
        *why = "wrong-root";
        goto out;
    }
    if (ctxsig_verify(CTX_REVOCATION, rl->body.data, rl->body.len, root_pk,
                      rl->signature.data) != 0) {
        *why = "bad-revocation-signature";
        goto out;
    }
    if (s_copy(b, out) != 0) /* out of memory: we cannot hold it, so we do not accept it */
        goto out;
    *why = NULL;
    rc = 0;
out:
    if (b)
        moux__revocation_list_body__free_unpacked(b, NULL);
    if (rl)
        moux__revocation_list__free_unpacked(rl, NULL);
    return rc;
}

static int s_has_serial(const revlist_t *l, uint64_t serial)
{
    for (size_t i = 0; i < l->n_serials; i++)
        if (l->serials[i] == serial)
            return 1;
    return 0;
}

static int s_has_key_id(const revlist_t *l, const unsigned char key_id[KEYID_BYTES])
{
    for (size_t i = 0; i < l->n_key_ids; i++)
        if (sodium_memcmp(l->key_ids[i], key_id, KEYID_BYTES) == 0)
            return 1;
    return 0;
}

int revlist_covers(const revlist_t *l, uint64_t serial, const unsigned char key_id[KEYID_BYTES])
{
    return (serial != 0 && s_has_serial(l, serial)) || (key_id && s_has_key_id(l, key_id));
}

int revlist_add_serial(revlist_t *l, uint64_t serial)
{
    if (serial == 0)
        return -1;
    if (s_has_serial(l, serial))
        return 0;
    if (l->n_serials >= REVLIST_MAX_ENTRIES)
        return -1;
    uint64_t *grown = realloc(l->serials, (l->n_serials + 1) * sizeof *grown);
    if (!grown)
        return -1;
    grown[l->n_serials++] = serial;
    l->serials = grown;
    return 0;
}

int revlist_add_key_id(revlist_t *l, const unsigned char key_id[KEYID_BYTES])
{
    if (s_has_key_id(l, key_id))
        return 0;
    if (l->n_key_ids >= REVLIST_MAX_ENTRIES)
        return -1;
    unsigned char(*grown)[KEYID_BYTES] = realloc(l->key_ids, (l->n_key_ids + 1) * sizeof *grown);
    if (!grown)
        return -1;
    memcpy(grown[l->n_key_ids++], key_id, KEYID_BYTES);
    l->key_ids = grown;
    return 0;
}

void revlist_free(revlist_t *l)
{
    if (!l)
        return;
    free(l->serials);
    free(l->key_ids);
    memset(l, 0, sizeof *l);
}

int revlist_save(const char *path, const uint8_t *data, size_t len, char *err, size_t errlen)
{
    return blobfile_write(path, REVLIST_LABEL, data, len, err, errlen);
}

int revlist_load(const char *path, uint8_t **data, size_t *len, char *err, size_t errlen)
{
    return blobfile_read(path, REVLIST_LABEL, REVLIST_MAX_BYTES, data, len, err, errlen);
}
