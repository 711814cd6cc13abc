/* Partner bundles (moux-bundle 2: agency, endpoint, root key, certificate),
 * as text from an untrusted file. The first input byte picks a mode:
 *
 *   0  the rest is the bundle text (cut at the first NUL, as a C string).
 *   1  the rest is  agency NUL endpoint NUL template : the harness issues a
 *      certificate for that agency and endpoint with a root key generated
 *      at start-up, replaces every "@ROOT@" in the template with the base64
 *      root key and every "@CERT@" with the base64 certificate, and parses
 *      the result, so parsing gets past the certificate check.
 *   2  the rest is  agency NUL endpoint : when config_load could have
 *      produced that pair (valid agency, valid endpoint, no newline, as
 *      config lines have none), bundle_parse(bundle_make(...)) must
 *      succeed and give back the same agency, endpoint, root and keys.
 *
 * Whatever parses must be valid and agree with its certificate. */
#include "bundle.h"
#include "cert.h"
#include "fuzz_common.h"
#include "nodekeys.h"
#include "rootkey.h"
#include "util.h"

#define NOT_BEFORE_MS 1767225600000ull /* fixed: any window will do */
#define NOT_AFTER_MS (NOT_BEFORE_MS + 30ull * 86400 * 1000)

static rootkey_t *s_root;
static nodekeys_t *s_node;
static char s_root_b64[64];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_sodium_init();
    s_root = rootkey_generate();
    s_node = nodekeys_generate();
    if (!s_root || !s_node)
        abort();
    b64_encode(s_root->pk, 32, s_root_b64, sizeof s_root_b64);
    return 0;
}

static void s_check_parsed(const bundle_t *b)
{
    unsigned char fp[FP_BYTES];
    FUZZ_CHECK(agency_id_valid(b->agency));
    FUZZ_CHECK(endpoint_valid(b->endpoint));
    FUZZ_CHECK(strcmp(b->cert.agency, b->agency) == 0);
    FUZZ_CHECK(strcmp(b->cert.endpoint, b->endpoint) == 0);
    FUZZ_CHECK(b->cert_raw != NULL && b->cert_len > 0);
    root_fingerprint(b->root_pk, fp);
    FUZZ_CHECK(memcmp(fp, b->fp, FP_BYTES) == 0);
}

/* Parses text; on success checks and keeps the result in *b (bundle_free). */
static int s_parse(const char *text, bundle_t *b)
{
    char err[160]; /* shorter than some messages: they must truncate safely */
    err[0] = '\0';
    memset(b, 0, sizeof *b);
    int rc = bundle_parse(text, "fuzz.bundle", b, err, sizeof err);
    if (rc == 0)
        s_check_parsed(b);
    else
        FUZZ_CHECK(err[0] != '\0' && memchr(err, '\0', sizeof err) != NULL);
    return rc;
}

/* A certificate for agency and endpoint from the harness root; NULL when
 * they do not fit a cert_t. Caller frees. */
static uint8_t *s_issue(const char *agency, const char *endpoint, size_t *len)
{
    cert_t c;
    memset(&c, 0, sizeof c);
    if (str_copy(c.agency, sizeof c.agency, agency) != 0 ||
        str_copy(c.endpoint, sizeof c.endpoint, endpoint) != 0)
        return NULL;
    memcpy(c.sign_pk, s_node->sign_pk, 32);
    memcpy(c.enc_pk, s_node->enc_pk, 32);
    memcpy(c.curve_pk, s_node->curve_pk, 32);
    c.serial = 1;
    c.not_before_ms = NOT_BEFORE_MS;
    c.not_after_ms = NOT_AFTER_MS;
    uint8_t *out = NULL;
    FUZZ_CHECK(cert_issue(&c, s_root, &out, len) == 0 && out);
    return out;
}

/* in with every "@ROOT@" and "@CERT@" replaced; caller frees. */
static char *s_fill(const char *in, const char *cert_b64)
{
    size_t n = strlen(in), rlen = strlen(s_root_b64), clen = strlen(cert_b64);
    size_t grow = rlen > clen ? rlen : clen;
    char *out = malloc(n / 6 * grow + n + 1), *o = out;
    if (!out)
        abort();
    for (const char *p = in; *p;) {
        if (strncmp(p, "@ROOT@", 6) == 0) {
            memcpy(o, s_root_b64, rlen);
            o += rlen;
            p += 6;
        } else if (strncmp(p, "@CERT@", 6) == 0) {
            memcpy(o, cert_b64, clen);
            o += clen;
            p += 6;
        } else {
            *o++ = *p++;
        }
    }
    *o = '\0';
    return out;
}

static void s_mode_text(const uint8_t *data, size_t size)
{
    bundle_t b;
    char *text = fuzz_cstr(data, size);
    if (s_parse(text, &b) == 0)
        bundle_free(&b);
    free(text);
}

/* Splits a NUL-terminated copy of data into up to three NUL-separated
 * parts; missing parts are "". Returns the copy (free). */
static char *s_split(const uint8_t *data, size_t size, const char *part[3])
{
    char *in = fuzz_cstr(data, size);
    const char *p = in, *end = in + size;
    for (int i = 0; i < 3; i++) {
        part[i] = p < end ? p : "";
        p = p < end ? p + strlen(p) + 1 : end;
    }
    return in;
}

static void s_mode_certified(const uint8_t *data, size_t size)
{
    const char *part[3];
    char *in = s_split(data, size, part);
    size_t clen = 0;
    uint8_t *cert = s_issue(part[0], part[1], &clen);
    if (cert) {
        size_t blen = b64_encoded_len(clen);
        char *cert_b64 = malloc(blen);
        if (!cert_b64)
            abort();
        b64_encode(cert, clen, cert_b64, blen);
        char *text = s_fill(part[2], cert_b64);
        bundle_t b;
        if (s_parse(text, &b) == 0) {
            /* The text may carry another root's valid certificate (a seed's,
             * say); but one under the harness root is one the harness issued. */
            if (memcmp(b.root_pk, s_root->pk, 32) == 0)
                FUZZ_CHECK(memcmp(b.cert.sign_pk, s_node->sign_pk, 32) == 0);
            bundle_free(&b);
        }
        free(text);
        free(cert_b64);
        free(cert);
    }
    free(in);
}

static void s_mode_round_trip(const uint8_t *data, size_t size)
{
    const char *part[3];
    char *in = s_split(data, size, part);
    const char *agency = part[0], *endpoint = part[1];
    config_t cfg;
    memset(&cfg, 0, sizeof cfg);
    size_t clen = 0;
    uint8_t *cert = NULL;
    if (!agency_id_valid(agency) || !endpoint_valid(endpoint) || strchr(endpoint, '\n') ||
        str_copy(cfg.agency, sizeof cfg.agency, agency) != 0 ||
        str_copy(cfg.endpoint, sizeof cfg.endpoint, endpoint) != 0 ||
        !(cert = s_issue(agency, endpoint, &clen))) {
        free(in);
        return;
    }
    char *text = NULL;
    FUZZ_CHECK(bundle_make(&cfg, s_root->pk, cert, clen, &text) == 0 && text);
    bundle_t b;
    if (s_parse(text, &b) != 0) {
        fprintf(stderr, "bundle_make output does not parse:\n%s\n", text);
        abort();
    }
    FUZZ_CHECK(strcmp(b.agency, cfg.agency) == 0 && strcmp(b.endpoint, cfg.endpoint) == 0);
    FUZZ_CHECK(memcmp(b.root_pk, s_root->pk, 32) == 0);
    FUZZ_CHECK(b.cert_len == clen && memcmp(b.cert_raw, cert, clen) == 0);
    FUZZ_CHECK(memcmp(b.cert.sign_pk, s_node->sign_pk, 32) == 0 &&
               memcmp(b.cert.enc_pk, s_node->enc_pk, 32) == 0 &&
               memcmp(b.cert.curve_pk, s_node->curve_pk, 32) == 0);
    bundle_free(&b);
    free(text);
    free(cert);
    free(in);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    switch (data[0] % 3) {
    case 0: s_mode_text(data + 1, size - 1); break;
    case 1: s_mode_certified(data + 1, size - 1); break;
    default: s_mode_round_trip(data + 1, size - 1); break;
    }
    return 0;
}
