#include "bundle.h"
#include "ctxsig.h"
#include "util.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BUNDLE_MAX 4096

void bundle_fingerprint(const char *agency, const unsigned char sign_pk[32],
                        const unsigned char enc_pk[32], const unsigned char curve_pk[32],
                        unsigned char fp[FP_BYTES])
{
    unsigned char buf[AGENCY_MAX + 1 + 96];
    size_t n = strlen(agency);
    memcpy(buf, agency, n + 1); /* includes the 0x00 separator */
    memcpy(buf + n + 1, sign_pk, 32);
    memcpy(buf + n + 33, enc_pk, 32);
    memcpy(buf + n + 65, curve_pk, 32);
    fingerprint_of("moux/bundle-fp/1", buf, n + 97, fp);
}

int bundle_make(const config_t *cfg, const nodekeys_t *keys, char **text)
{
    char s[64], e[64], c[64], sigb64[128];
    b64_encode(keys->sign_pk, 32, s, sizeof s);
    b64_encode(keys->enc_pk, 32, e, sizeof e);
    b64_encode(keys->curve_pk, 32, c, sizeof c);
    char *out = malloc(BUNDLE_MAX);
    if (!out)
        return -1;
    int n = snprintf(out, BUNDLE_MAX,
                     "moux-bundle 1\nagency %s\nendpoint %s\nsign-key %s\nenc-key %s\n"
                     "curve-key %s\n",
                     cfg->agency, cfg->endpoint, s, e, c);
    unsigned char sig[64];
    if (ctxsig_sign(CTX_BUNDLE, (const uint8_t *)out, (size_t)n, keys->sign_sk, sig) != 0) {
        free(out);
        return -1;
    }
    b64_encode(sig, 64, sigb64, sizeof sigb64);
    snprintf(out + n, BUNDLE_MAX - (size_t)n, "signature %s\n", sigb64);
    *text = out;
    return 0;
}

static const char *s_fields[] = {"moux-bundle", "agency",    "endpoint", "sign-key",
                                 "enc-key",     "curve-key", "signature"};

/* Fills one field from its line; returns NULL or what is wrong. */
static const char *s_field(bundle_t *b, int i, const char *val, unsigned char sig[64])
{
    switch (i) {
    case 0: return strcmp(val, "1") == 0 ? NULL : "unsupported bundle version";
    case 1:
        return agency_id_valid(val) && str_copy(b->agency, sizeof b->agency, val) == 0
                   ? NULL : "invalid agency id";
    case 2:
        return endpoint_valid(val) && str_copy(b->endpoint, sizeof b->endpoint, val) == 0
                   ? NULL : "endpoint must be tcp://HOST:PORT";
    case 3: return b64_decode_exact(val, b->sign_pk, 32) ? "not a base64 32-byte key" : NULL;
    case 4: return b64_decode_exact(val, b->enc_pk, 32) ? "not a base64 32-byte key" : NULL;
    case 5: return b64_decode_exact(val, b->curve_pk, 32) ? "not a base64 32-byte key" : NULL;
    default: return b64_decode_exact(val, sig, 64) ? "not a base64 64-byte signature" : NULL;
    }
}

int bundle_parse(const char *text, const char *source, bundle_t *out, char *err, size_t errlen)
{
    size_t len = strnlen(text, BUNDLE_MAX + 1);
    if (len > BUNDLE_MAX) {
        snprintf(err, errlen, "%s: bundle larger than %d bytes", source, BUNDLE_MAX);
        return -1;
    }
    bundle_t b;
    memset(&b, 0, sizeof b);
    unsigned char sig[64];
    const char *p = text, *sig_line = NULL;
    int skipped = 0; /* leading "#" comment lines: informational, not signed */
    while (*p == '#') {
        const char *nl = strchr(p, '\n');
        p = nl ? nl + 1 : p + strlen(p);
        skipped++;
    }
    const char *start = p;
    for (int i = 0; i < 7; i++) {
        int line = skipped + i + 1;
        const char *nl = strchr(p, '\n');
        size_t klen = strlen(s_fields[i]);
        if (!nl) {
            snprintf(err, errlen, "%s:%d: expected \"%s ...\" line", source, line, s_fields[i]);
            return -1;
        }
        if ((size_t)(nl - p) <= klen + 1 || strncmp(p, s_fields[i], klen) != 0 || p[klen] != ' ') {
            snprintf(err, errlen, "%s:%d: expected field \"%s\"", source, line, s_fields[i]);
            return -1;
        }
        char val[256];
        size_t vlen = (size_t)(nl - p) - klen - 1;
        if (vlen >= sizeof val) {
            snprintf(err, errlen, "%s:%d: %s: value too long", source, line, s_fields[i]);
            return -1;
        }
        memcpy(val, p + klen + 1, vlen);
        val[vlen] = '\0';
        if (i == 6)
            sig_line = p;
        const char *why = s_field(&b, i, val, sig);
        if (why) {
            snprintf(err, errlen, "%s:%d: %s: %s", source, line, s_fields[i], why);
            return -1;
        }
        p = nl + 1;
    }
    if (*p != '\0') {
        snprintf(err, errlen, "%s:%d: unexpected data after the signature", source, skipped + 8);
        return -1;
    }
    if (ctxsig_verify(CTX_BUNDLE, (const uint8_t *)start, (size_t)(sig_line - start), b.sign_pk,
                      sig) != 0) {
        snprintf(err, errlen, "%s:%d: signature: does not verify with the bundle's sign-key "
                              "(bundle altered or corrupted)", source, skipped + 7);
        return -1;
    }
    bundle_fingerprint(b.agency, b.sign_pk, b.enc_pk, b.curve_pk, b.fp);
    *out = b;
    return 0;
}
