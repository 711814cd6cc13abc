#include "nodekeys.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef struct {
    const char *name;
    const char *pub_label, *sec_label;
    size_t sec_len;
} s_keyspec_t;

static const s_keyspec_t s_specs[3] = {
    {"sign", "moux-ed25519-public", "moux-ed25519-secret", crypto_sign_SECRETKEYBYTES},
    {"enc", "moux-x25519-public", "moux-x25519-secret", crypto_box_SECRETKEYBYTES},
    {"curve", "moux-curve-public", "moux-curve-secret", 32},
};

static unsigned char *s_pub(nodekeys_t *k, int i)
{
    return i == 0 ? k->sign_pk : i == 1 ? k->enc_pk : k->curve_pk;
}

static unsigned char **s_sec(nodekeys_t *k, int i)
{
    return i == 0 ? &k->sign_sk : i == 1 ? &k->enc_sk : &k->curve_sk;
}

static nodekeys_t *s_alloc(void)
{
    nodekeys_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->sign_sk = sodium_malloc(crypto_sign_SECRETKEYBYTES);
    self->enc_sk = sodium_malloc(crypto_box_SECRETKEYBYTES);
    self->curve_sk = sodium_malloc(32);
    if (!self->sign_sk || !self->enc_sk || !self->curve_sk)
        nodekeys_destroy(&self);
    return self;
}

static void s_derive_ids(nodekeys_t *self)
{
    keyid_of(self->sign_pk, sizeof self->sign_pk, self->sign_id);
    keyid_of(self->enc_pk, sizeof self->enc_pk, self->enc_id);
}

nodekeys_t *nodekeys_generate(void)
{
    nodekeys_t *self = s_alloc();
    if (!self)
        return NULL;
    crypto_sign_keypair(self->sign_pk, self->sign_sk);
    crypto_box_keypair(self->enc_pk, self->enc_sk);
    crypto_box_keypair(self->curve_pk, self->curve_sk); /* CURVE keys are X25519 */
    s_derive_ids(self);
    return self;
}

int nodekeys_save(const nodekeys_t *self, const char *dir, char *err, size_t errlen)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/keys", dir);
    if (mkdir(path, 0700) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    nodekeys_t *k = (nodekeys_t *)self;
    for (int i = 0; i < 3; i++) {
        const s_keyspec_t *s = &s_specs[i];
        snprintf(path, sizeof path, "%s/keys/%s.sec", dir, s->name);
        key_err_t rc = keyfile_write(path, s->sec_label, *s_sec(k, i), s->sec_len, 1);
        if (rc == KEY_OK) {
            snprintf(path, sizeof path, "%s/keys/%s.pub", dir, s->name);
            rc = keyfile_write(path, s->pub_label, s_pub(k, i), 32, 0);
        }
        if (rc != KEY_OK) {
            snprintf(err, errlen, "%s: %s", path, key_strerror(rc));
            return -1;
        }
    }
    return 0;
}

/* Each public key must be the one its secret key yields. */
static int s_consistent(const nodekeys_t *self)
{
    unsigned char pk[32];
    unsigned char *sk = sodium_malloc(crypto_sign_SECRETKEYBYTES);
    /* The seed (first half of the secret) must yield the public key. */
    int ok = sk && crypto_sign_seed_keypair(pk, sk, self->sign_sk) == 0 &&
             sodium_memcmp(pk, self->sign_pk, 32) == 0 &&
             sodium_memcmp(sk, self->sign_sk, crypto_sign_SECRETKEYBYTES) == 0;
    sodium_free(sk);
    if (!ok)
        return 0;
    crypto_scalarmult_base(pk, self->enc_sk);
    if (sodium_memcmp(pk, self->enc_pk, 32) != 0)
        return 0;
    crypto_scalarmult_base(pk, self->curve_sk);
    return sodium_memcmp(pk, self->curve_pk, 32) == 0;
}

nodekeys_t *nodekeys_load(const char *dir, char *err, size_t errlen)
{
    nodekeys_t *self = calloc(1, sizeof *self);
    if (!self) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    char path[4096];
    for (int i = 0; i < 3; i++) {
        const s_keyspec_t *s = &s_specs[i];
        snprintf(path, sizeof path, "%s/keys/%s.pub", dir, s->name);
        key_err_t rc = keyfile_read_public(path, s->pub_label, s_pub(self, i), 32);
        if (rc == KEY_OK) {
            snprintf(path, sizeof path, "%s/keys/%s.sec", dir, s->name);
            rc = keyfile_read_secret(path, s->sec_label, s->sec_len, s_sec(self, i));
        }
        if (rc != KEY_OK) {
            snprintf(err, errlen, "%s: %s%s%s", path, key_strerror(rc),
                     rc == KEY_ERR_IO ? ": " : "", rc == KEY_ERR_IO ? strerror(errno) : "");
            nodekeys_destroy(&self);
            return NULL;
        }
    }
    if (!s_consistent(self)) {
        snprintf(err, errlen, "%s/keys: public and secret key files do not match", dir);
        nodekeys_destroy(&self);
        return NULL;
    }
    s_derive_ids(self);
    return self;
}

void nodekeys_destroy(nodekeys_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    nodekeys_t *self = *self_p;
    sodium_free(self->sign_sk); /* sodium_free wipes before releasing */
    sodium_free(self->enc_sk);
    sodium_free(self->curve_sk);
    free(self);
    *self_p = NULL;
}
