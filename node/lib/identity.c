#include "identity.h"
#include "keyfile.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void s_path(char *out, size_t cap, const char *base, const char *name)
{
    snprintf(out, cap, "%s/keys/%s", base, name);
}

void identity_destroy(identity_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    nodekeys_destroy(&(*self_p)->keys);
    free((*self_p)->cert_raw);
    free(*self_p);
    *self_p = NULL;
}

/* The certificate must certify exactly the keys on disk, for our agency. */
static const char *s_matches(const identity_t *id, const config_t *cfg)
{
    if (strcmp(id->cert.agency, cfg->agency) != 0)
        return "certificate is for another agency than moux.conf says";
    if (memcmp(id->cert.sign_pk, id->keys->sign_pk, 32) != 0 ||
        memcmp(id->cert.enc_pk, id->keys->enc_pk, 32) != 0 ||
        memcmp(id->cert.curve_pk, id->keys->curve_pk, 32) != 0)
        return "certificate does not certify this node's keys (certify again)";
    return NULL;
}

identity_t *identity_load(const char *base, const config_t *cfg, char *err, size_t errlen)
{
    char path[PATH_MAX_MOUX + 64];
    identity_t *self = calloc(1, sizeof *self);
    if (!self) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    self->keys = nodekeys_load(base, err, errlen);
    if (!self->keys)
        goto fail;
    s_path(path, sizeof path, base, "root.pub");
    key_err_t krc = keyfile_read_public(path, ROOT_PUB_LABEL, self->root_pk, 32);
    if (krc != KEY_OK) {
        snprintf(err, errlen, "%s: %s (not certified? run: moux keys certify -d DIR --root ROOTKEY)",
                 path, key_strerror(krc));
        goto fail;
    }
    s_path(path, sizeof path, base, "node.cert");
    if (cert_load(path, &self->cert_raw, &self->cert_len, err, errlen) != 0)
        goto fail;
    const char *why = NULL;
    if (cert_verify(self->cert_raw, self->cert_len, self->root_pk, &self->cert, &why) != 0 ||
        (why = s_matches(self, cfg)) != NULL) {
        snprintf(err, errlen, "%s: %s", path, why);
        goto fail;
    }
    return self;
fail:
    identity_destroy(&self);
    return NULL;
}

/* The next serial: one more than the certificate in place, if it is ours. */
static int s_next_serial(const char *path, const rootkey_t *root, uint64_t *serial, char *err,
                         size_t errlen)
{
    uint8_t *raw = NULL;
    size_t len = 0;
    *serial = 1;
    if (access(path, F_OK) != 0)
        return 0;
    /* Partners hold the old serial: never silently start over below it. */
    if (cert_load(path, &raw, &len, err, errlen) != 0) {
        strncat(err, "; give --serial above the last one issued", errlen - strlen(err) - 1);
        return -1;
    }
    cert_t old;
    const char *why = NULL;
    int rc = cert_verify(raw, len, root->pk, &old, &why);
    free(raw);
    if (rc != 0) {
        snprintf(err, errlen, "%s: %s (%s); give --serial to start over", path,
                 strcmp(why, "wrong-root") == 0 ? "issued by another root"
                                                : "not a valid certificate", why);
        return -1;
    }
    *serial = old.serial + 1;
    return 0;
}

/* root.pub: written once; a different root later is refused. */
static int s_install_root(const char *path, const rootkey_t *root, char *err, size_t errlen)
{
    unsigned char have[32];
    if (keyfile_read_public(path, ROOT_PUB_LABEL, have, 32) == KEY_OK) {
        if (memcmp(have, root->pk, 32) == 0)
            return 0;
        snprintf(err, errlen, "%s holds another agency root; this node belongs to that root", path);
        return -1;
    }
    key_err_t krc = keyfile_write(path, ROOT_PUB_LABEL, root->pk, 32, 0);
    if (krc != KEY_OK) {
        snprintf(err, errlen, "%s: %s", path, key_strerror(krc));
        return -1;
    }
    return 0;
}

int identity_certify(const char *base, const config_t *cfg, const nodekeys_t *keys,
                     const rootkey_t *root, uint64_t not_after_ms, uint64_t serial,
                     cert_t *out, char *err, size_t errlen)
{
    char path[PATH_MAX_MOUX + 64];
    s_path(path, sizeof path, base, "root.pub");
    if (s_install_root(path, root, err, errlen) != 0)
        return -1;
    s_path(path, sizeof path, base, "node.cert");
    if (serial == 0 && s_next_serial(path, root, &serial, err, errlen) != 0)
        return -1;
    cert_t c;
    memset(&c, 0, sizeof c);
    str_copy(c.agency, sizeof c.agency, cfg->agency);
    str_copy(c.endpoint, sizeof c.endpoint, cfg->endpoint);
    memcpy(c.sign_pk, keys->sign_pk, 32);
    memcpy(c.enc_pk, keys->enc_pk, 32);
    memcpy(c.curve_pk, keys->curve_pk, 32);
    c.serial = serial;
    uint64_t now = now_ms();
    c.not_before_ms = now - 5 * 60 * 1000; /* tolerate partners' clocks a little behind */
    c.not_after_ms = not_after_ms;
    memcpy(c.root_key_id, root->key_id, KEYID_BYTES);
    uint8_t *raw = NULL;
    size_t len = 0;
    if (cert_issue(&c, root, &raw, &len) != 0) {
        snprintf(err, errlen, "cannot sign the certificate");
        return -1;
    }
    int rc = cert_save(path, raw, len, err, errlen);
    free(raw);
    if (rc == 0 && out)
        *out = c;
    return rc;
}

/* A retired key set's directory name: <serial> or <serial>.<n>. */
static int s_retired_name(const char *name)
{
    size_t digits = strspn(name, "0123456789");
    if (digits == 0 || strlen(name) > 48)
        return 0;
    if (name[digits] == '\0')
        return 1;
    return name[digits] == '.' && name[digits + 1] &&
           name[digits + 1 + strspn(name + digits + 1, "0123456789")] == '\0';
}

static const char *s_secret_names[] = {"sign.sec", "enc.sec", "curve.sec"};
#define N_SECRETS (sizeof s_secret_names / sizeof s_secret_names[0])

void identity_retired_each(const char *dir, int any_secret,
                           void (*fn)(const char *set, uint64_t ns, void *arg), void *arg)
{
    char base[PATH_MAX_MOUX + 16], path[PATH_MAX_MOUX + 16 + 256 + 16];
    snprintf(base, sizeof base, "%s/retired", dir);
    DIR *d = opendir(base);
    struct stat st;
    for (struct dirent *e; d && (e = readdir(d));) {
        if (!s_retired_name(e->d_name))
            continue;
        size_t held = 0;
        for (size_t i = 0; i < (any_secret ? N_SECRETS : 1) && !held; i++) {
            snprintf(path, sizeof path, "%s/%s/keys/%s", base, e->d_name, s_secret_names[i]);
            held = stat(path, &st) == 0;
        }
        if (!held)
            continue; /* its overlap ended: secrets already deleted */
        snprintf(path, sizeof path, "%s/%s", base, e->d_name);
        if (stat(path, &st) == 0)
            fn(path, (uint64_t)st.st_mtim.tv_sec * 1000000000u + (uint64_t)st.st_mtim.tv_nsec,
               arg);
    }
    if (d)
        closedir(d);
}

static void s_count(const char *set, uint64_t ns, void *arg)
{
    (void)set;
    (void)ns;
    (*(size_t *)arg)++;
}

size_t identity_retired_held(const char *dir)
{
    size_t n = 0;
    identity_retired_each(dir, 0, s_count, &n);
    return n;
}

int identity_wipe_secrets(const char *set, char *err, size_t errlen)
{
    char path[PATH_MAX_MOUX + 16 + 256 + 32];
    int rc = 0;
    for (size_t i = 0; i < N_SECRETS; i++) {
        snprintf(path, sizeof path, "%s/keys/%s", set, s_secret_names[i]);
        if (unlink(path) != 0 && errno != ENOENT && rc == 0) {
            snprintf(err, errlen, "cannot delete %s: %s", path, strerror(errno));
            rc = -1;
        }
    }
    return rc;
}

int identity_retired_cert(const char *set, cert_t *out, char *err, size_t errlen)
{
    char path[PATH_MAX_MOUX + 16 + 256 + 32];
    unsigned char root_pk[32];
    uint8_t *raw = NULL;
    size_t len = 0;
    const char *why = NULL;
    s_path(path, sizeof path, set, "root.pub");
    key_err_t krc = keyfile_read_public(path, ROOT_PUB_LABEL, root_pk, sizeof root_pk);
    if (krc != KEY_OK) {
        snprintf(err, errlen, "%s: %s", path, key_strerror(krc));
        return -1;
    }
    s_path(path, sizeof path, set, "node.cert");
    if (cert_load(path, &raw, &len, err, errlen) != 0)
        return -1;
    int rc = cert_verify(raw, len, root_pk, out, &why);
    free(raw);
    if (rc != 0)
        snprintf(err, errlen, "%s: %s", path, why);
    return rc;
}
