#include "bundle.h"
#include "rootkey.h"
#include "util.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BUNDLE_MAX 16384

int bundle_make(const config_t *cfg, const unsigned char root_pk[32], const uint8_t *cert,
                size_t cert_len, char **text)
{
    char root[64];
    size_t clen = b64_encoded_len(cert_len);
    char *c = malloc(clen), *out = malloc(BUNDLE_MAX);
    if (!c || !out || clen > BUNDLE_MAX / 2) {
        free(c);
        free(out);
        return -1;
    }
    b64_encode(root_pk, 32, root, sizeof root);
    b64_encode(cert, cert_len, c, clen);
    snprintf(out, BUNDLE_MAX, "moux-bundle 2\nagency %s\nendpoint %s\nroot-key %s\ncertificate %s\n",
             cfg->agency, cfg->endpoint, root, c);
    free(c);
    *text = out;
    return 0;
}

void bundle_free(bundle_t *b)
{
    free(b->cert_raw);
    b->cert_raw = NULL;
}

static const char *s_fields[] = {"moux-bundle", "agency", "endpoint", "root-key", "certificate"};
#define N_FIELDS 5

/* Fills one field from its line; returns NULL or what is wrong. */
static const char *s_field(bundle_t *b, int i, const char *val)
{
    switch (i) {
    case 0: return strcmp(val, "2") == 0 ? NULL : "unsupported bundle version (this moux reads 2)";
    case 1:
        return agency_id_valid(val) && str_copy(b->agency, sizeof b->agency, val) == 0
                   ? NULL : "invalid agency id";
    case 2:
        return endpoint_valid(val) && str_copy(b->endpoint, sizeof b->endpoint, val) == 0
                   ? NULL : "endpoint must be tcp://HOST:PORT";
    case 3: return b64_decode_exact(val, b->root_pk, 32) ? "not a base64 32-byte key" : NULL;
    default: {
        size_t n = strlen(val), got = 0;
        const char *end = NULL;
        b->cert_raw = malloc(n);
        if (!b->cert_raw || sodium_base642bin(b->cert_raw, n, val, n, NULL, &got, &end,
                                              sodium_base64_VARIANT_ORIGINAL) != 0 || *end)
            return "not base64";
        b->cert_len = got;
        return NULL;
    }
    }
}

/* The certificate must chain to the root and say what the lines say. */
static const char *s_check_cert(bundle_t *b)
{
    const char *why = NULL;
    if (cert_verify(b->cert_raw, b->cert_len, b->root_pk, &b->cert, &why) != 0)
        return why;
    if (strcmp(b->cert.agency, b->agency) != 0)
        return "certificate is for another agency than the bundle says";
    if (strcmp(b->cert.endpoint, b->endpoint) != 0)
        return "certificate names another endpoint than the bundle says";
    return NULL;
}

int bundle_parse(const char *text, const char *source, bundle_t *out, char *err, size_t errlen)
{
    bundle_t b;
    memset(&b, 0, sizeof b);
    if (strnlen(text, BUNDLE_MAX + 1) > BUNDLE_MAX) {
        snprintf(err, errlen, "%s: bundle larger than %d bytes", source, BUNDLE_MAX);
        return -1;
    }
    const char *p = text;
    int line = 0;
    while (*p == '#') { /* leading comments: informational only */
        const char *nl = strchr(p, '\n');
        p = nl ? nl + 1 : p + strlen(p);
        line++;
    }
    for (int i = 0; i < N_FIELDS; i++) {
        line++;
        const char *nl = strchr(p, '\n'), *why = NULL;
        size_t klen = strlen(s_fields[i]);
        if (!nl || (size_t)(nl - p) <= klen + 1 || strncmp(p, s_fields[i], klen) != 0 ||
            p[klen] != ' ') {
            snprintf(err, errlen, "%s:%d: expected \"%s ...\" line", source, line, s_fields[i]);
            goto fail;
        }
        size_t vlen = (size_t)(nl - p) - klen - 1;
        char *val = malloc(vlen + 1);
        if (!val) {
            snprintf(err, errlen, "%s: out of memory", source);
            goto fail;
        }
        memcpy(val, p + klen + 1, vlen);
        val[vlen] = '\0';
        why = s_field(&b, i, val);
        free(val);
        if (why) {
            snprintf(err, errlen, "%s:%d: %s: %s", source, line, s_fields[i], why);
            goto fail;
        }
        p = nl + 1;
    }
    if (*p != '\0') {
        snprintf(err, errlen, "%s:%d: unexpected data after the certificate", source, line + 1);
        goto fail;
    }
    const char *why = s_check_cert(&b);
    if (why) {
        snprintf(err, errlen, "%s:%d: certificate: %s", source, line, why);
        goto fail;
    }
    root_fingerprint(b.root_pk, b.fp);
    *out = b;
    return 0;
fail:
    bundle_free(&b);
    return -1;
}
