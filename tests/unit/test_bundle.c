/* Partner bundles (v2): made, parsed, the certificate verified against the
 * bundle's root key and against its agency and endpoint lines; every
 * tampering refused with the line it happened on. Root keys, node keys and
 * certificates are generated at run time and never written. */
#include "bundle.h"
#include "cert.h"
#include "nodekeys.h"
#include "rootkey.h"
#include "test.h"
#include "util.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define SRC "peer.bundle"
#define AGENCY "vn.ais"
#define ENDPOINT "tcp://127.0.0.1:7101"
#define DAY_MS (24ull * 3600 * 1000)

static rootkey_t *s_root;
static nodekeys_t *s_keys;
static config_t s_cfg;
static cert_t s_cert;       /* what s_cert_raw says */
static uint8_t *s_cert_raw; /* s_keys certified by s_root for AGENCY at ENDPOINT, serial 1 */
static size_t s_cert_len;
static char *s_text;        /* the bundle of s_cfg, s_root and s_cert_raw */

/* ---- helpers ---- */

/* Fills c for keys k: agency, endpoint, serial, valid from nb to na. */
static void cert_fill(cert_t *c, const nodekeys_t *k, const char *agency, const char *endpoint,
                      uint64_t serial, uint64_t nb, uint64_t na)
{
    memset(c, 0, sizeof *c);
    str_copy(c->agency, sizeof c->agency, agency);
    str_copy(c->endpoint, sizeof c->endpoint, endpoint);
    memcpy(c->sign_pk, k->sign_pk, 32);
    memcpy(c->enc_pk, k->enc_pk, 32);
    memcpy(c->curve_pk, k->curve_pk, 32);
    c->serial = serial;
    c->not_before_ms = nb;
    c->not_after_ms = na;
}

/* A certificate of s_keys by root for agency/endpoint, valid around now;
 * *raw owned by the caller. */
static int issue(const rootkey_t *root, const char *agency, const char *endpoint, uint8_t **raw,
                 size_t *len)
{
    cert_t c;
    uint64_t now = now_ms();
    cert_fill(&c, s_keys, agency, endpoint, 1, now - 60000, now + 30 * DAY_MS);
    return cert_issue(&c, root, raw, len);
}

/* The bundle text for cfg's agency and endpoint, root_pk and cert; caller frees. */
static char *make(const char *agency, const char *endpoint, const unsigned char root_pk[32],
                  const uint8_t *cert, size_t len)
{
    config_t cfg = s_cfg;
    str_copy(cfg.agency, sizeof cfg.agency, agency);
    str_copy(cfg.endpoint, sizeof cfg.endpoint, endpoint);
    char *text = NULL;
    if (bundle_make(&cfg, root_pk, cert, len, &text) != 0)
        return NULL;
    return text;
}

/* Base64 of bytes; caller frees. */
static char *b64(const unsigned char *bin, size_t len)
{
    size_t cap = b64_encoded_len(len);
    char *out = malloc(cap);
    if (out)
        b64_encode(bin, len, out, cap);
    return out;
}

/* text with the first occurrence of old replaced by new; caller frees. NULL
 * if old does not occur. */
static char *replace(const char *text, const char *old, const char *new_)
{
    if (!text)
        return NULL;
    const char *at = strstr(text, old);
    if (!at)
        return NULL;
    size_t pre = (size_t)(at - text), olen = strlen(old), nlen = strlen(new_);
    char *out = malloc(strlen(text) - olen + nlen + 1);
    memcpy(out, text, pre);
    memcpy(out + pre, new_, nlen);
    strcpy(out + pre + nlen, at + olen);
    return out;
}

/* The value of the line starting "key " in text (not the first line), copied
 * into out. */
static void field_value(const char *text, const char *key, char *out, size_t cap)
{
    char prefix[64];
    snprintf(prefix, sizeof prefix, "\n%s ", key);
    const char *p = strstr(text, prefix);
    out[0] = '\0';
    if (!p)
        return;
    p += strlen(prefix);
    size_t n = strcspn(p, "\n");
    if (n >= cap)
        n = cap - 1;
    memcpy(out, p, n);
    out[n] = '\0';
}

/* text with the whole line "key ...\n" replaced by "key value\n" (or removed
 * when value is NULL); caller frees. */
static char *set_line(const char *text, const char *key, const char *value)
{
    char val[8192];
    field_value(text, key, val, sizeof val);
    size_t cap = strlen(key) + strlen(val) + (value ? strlen(value) : 0) + 8;
    char *old = malloc(cap), *new_ = malloc(cap);
    snprintf(old, cap, "\n%s %s\n", key, val);
    if (value)
        snprintf(new_, cap, "\n%s %s\n", key, value);
    else
        snprintf(new_, cap, "\n");
    char *out = replace(text, old, new_);
    free(old);
    free(new_);
    return out;
}

/* text preceded by a comment block of n lines; caller frees. */
static char *with_comments(const char *text, int n)
{
    size_t len = strlen(text);
    char *out = malloc(len + (size_t)n * 16 + 1), *p = out;
    for (int i = 0; i < n; i++)
        p += sprintf(p, "# comment %d\n", i);
    memcpy(p, text, len + 1);
    return out;
}

/* Parses text; returns 0 or -1 and leaves the error in err. */
static int parse(const char *text, bundle_t *b, char *err, size_t errlen)
{
    err[0] = '\0';
    memset(b, 0, sizeof *b);
    return bundle_parse(text, SRC, b, err, errlen);
}

/* Expects text refused with an error starting "peer.bundle:LINE:" and
 * containing what. */
static void expect_refused(const char *text, int line, const char *what)
{
    char err[512], prefix[64];
    bundle_t b;
    CHECK(text != NULL);
    if (!text)
        return;
    int rc = parse(text, &b, err, sizeof err);
    CHECK(rc == -1);
    if (rc == 0)
        bundle_free(&b);
    snprintf(prefix, sizeof prefix, "%s:%d: ", SRC, line);
    if (strncmp(err, prefix, strlen(prefix)) != 0 || !strstr(err, what)) {
        fprintf(stderr, "  expected \"%s...%s\", got \"%s\"\n", prefix, what, err);
        CHECK(!"error names the line and the problem");
    }
}

/* The certificate bytes of a bundle text's certificate line; caller frees. */
static uint8_t *cert_of_text(const char *text, size_t *len)
{
    static char val[8192];
    field_value(text, "certificate", val, sizeof val);
    size_t n = strlen(val);
    uint8_t *out = malloc(n + 1);
    if (!out || sodium_base642bin(out, n + 1, val, n, NULL, len, NULL,
                                  sodium_base64_VARIANT_ORIGINAL) != 0) {
        free(out);
        return NULL;
    }
    return out;
}

/* ---- round trip ---- */

static void test_make_then_parse_round_trip(void)
{
    char err[512];
    bundle_t b;
    CHECK(parse(s_text, &b, err, sizeof err) == 0);
    CHECK_STR(b.agency, AGENCY);
    CHECK_STR(b.endpoint, ENDPOINT);
    CHECK(memcmp(b.root_pk, s_root->pk, 32) == 0);
    /* The certificate, verified, with every field. */
    CHECK(b.cert_raw != NULL && b.cert_len == s_cert_len);
    CHECK(b.cert_raw && memcmp(b.cert_raw, s_cert_raw, s_cert_len) == 0);
    CHECK_STR(b.cert.agency, AGENCY);
    CHECK_STR(b.cert.endpoint, ENDPOINT);
    CHECK(memcmp(b.cert.root_key_id, s_root->key_id, KEYID_BYTES) == 0);
    CHECK(memcmp(b.cert.sign_pk, s_keys->sign_pk, 32) == 0);
    CHECK(memcmp(b.cert.enc_pk, s_keys->enc_pk, 32) == 0);
    CHECK(memcmp(b.cert.curve_pk, s_keys->curve_pk, 32) == 0);
    CHECK(b.cert.serial == 1);
    CHECK(b.cert.not_before_ms == s_cert.not_before_ms);
    CHECK(b.cert.not_after_ms == s_cert.not_after_ms);
    unsigned char fp[FP_BYTES];
    root_fingerprint(s_root->pk, fp);
    CHECK(memcmp(b.fp, fp, FP_BYTES) == 0);
    bundle_free(&b);
    CHECK(b.cert_raw == NULL);
    bundle_free(&b); /* harmless */
}

static void test_bundle_text_layout(void)
{
    static const char *keys[] = {"moux-bundle 2\n", "agency " AGENCY "\n",
                                 "endpoint " ENDPOINT "\n", "root-key ", "certificate "};
    const char *p = s_text;
    int lines = 0;
    for (int i = 0; i < 5; i++) {
        CHECK(strncmp(p, keys[i], strlen(keys[i])) == 0);
        p = strchr(p, '\n');
        if (!p)
            break;
        p++;
        lines++;
    }
    CHECK(lines == 5 && p && *p == '\0');
    char val[256];
    unsigned char pk[32];
    field_value(s_text, "root-key", val, sizeof val);
    CHECK(b64_decode_exact(val, pk, 32) == 0 && memcmp(pk, s_root->pk, 32) == 0);
    size_t len = 0;
    uint8_t *cert = cert_of_text(s_text, &len);
    CHECK(cert && len == s_cert_len && memcmp(cert, s_cert_raw, len) == 0);
    free(cert);
}

static void test_fingerprint_is_the_root_fingerprint(void)
{
    /* SHA-256("moux/root-fp/1" || root pk)[0..20] */
    unsigned char msg[14 + 32], full[32];
    memcpy(msg, "moux/root-fp/1", 14);
    memcpy(msg + 14, s_root->pk, 32);
    crypto_hash_sha256(full, msg, sizeof msg);
    char err[512];
    bundle_t b;
    CHECK(parse(s_text, &b, err, sizeof err) == 0);
    CHECK(memcmp(b.fp, full, FP_BYTES) == 0);

    /* New node keys certified by the same root (a rotation, another
     * endpoint): the fingerprint operators compared stays the same. */
    nodekeys_t *next = nodekeys_generate();
    cert_t c;
    uint64_t now = now_ms();
    cert_fill(&c, next, AGENCY, "tcp://192.0.2.9:7101", 2, now, now + DAY_MS);
    uint8_t *raw = NULL;
    size_t len = 0;
    CHECK(next && cert_issue(&c, s_root, &raw, &len) == 0);
    char *text = make(AGENCY, "tcp://192.0.2.9:7101", s_root->pk, raw, len);
    bundle_t b2;
    CHECK(text && parse(text, &b2, err, sizeof err) == 0);
    CHECK(memcmp(b2.fp, b.fp, FP_BYTES) == 0);
    CHECK(b2.cert.serial == 2 && memcmp(b2.cert.sign_pk, next->sign_pk, 32) == 0);
    bundle_free(&b2);
    bundle_free(&b);
    free(text);
    free(raw);
    nodekeys_destroy(&next);
}

static void test_leading_comments_accepted(void)
{
    char err[512];
    bundle_t plain, commented;
    CHECK(parse(s_text, &plain, err, sizeof err) == 0);
    size_t len = strlen(s_text);
    char *text = malloc(len + 128);
    snprintf(text, len + 128, "# moux bundle for vn.ais\n#\n# call +84 ... to compare\n%s",
             s_text);
    CHECK(parse(text, &commented, err, sizeof err) == 0);
    CHECK_STR(commented.agency, AGENCY);
    CHECK(memcmp(plain.fp, commented.fp, FP_BYTES) == 0); /* comments are not signed */
    CHECK(commented.cert.serial == 1);
    bundle_free(&commented);
    bundle_free(&plain);
    free(text);
}

static void test_comment_after_first_line_refused(void)
{
    char *text = replace(s_text, "agency ", "# a note\nagency ");
    expect_refused(text, 2, "expected \"agency ...\" line");
    free(text);
}

/* ---- the certificate against the root and the lines ---- */

static void test_certificate_of_another_root_refused(void)
{
    rootkey_t *mallory = rootkey_generate();
    CHECK(mallory != NULL);
    if (!mallory)
        return;
    uint8_t *raw = NULL;
    size_t len = 0;
    CHECK(issue(mallory, AGENCY, ENDPOINT, &raw, &len) == 0);

    /* Mallory's certificate under the real root-key line. */
    char *text = make(AGENCY, ENDPOINT, s_root->pk, raw, len);
    expect_refused(text, 5, "certificate: wrong-root");
    char *commented = with_comments(text, 2);
    expect_refused(commented, 7, "certificate: wrong-root");
    free(commented);
    free(text);

    /* Mallory's root-key line spliced into the real bundle. */
    char pk[64];
    b64_encode(mallory->pk, 32, pk, sizeof pk);
    text = set_line(s_text, "root-key", pk);
    expect_refused(text, 5, "wrong-root");
    free(text);

    /* The certificate claims the real root's key id but mallory signed it. */
    rootkey_t forged = *mallory;
    memcpy(forged.key_id, s_root->key_id, KEYID_BYTES);
    uint8_t *fraw = NULL;
    size_t flen = 0;
    CHECK(issue(&forged, AGENCY, ENDPOINT, &fraw, &flen) == 0);
    text = make(AGENCY, ENDPOINT, s_root->pk, fraw, flen);
    expect_refused(text, 5, "certificate: bad-certificate-signature");
    free(text);
    free(fraw);
    free(raw);
    rootkey_destroy(&mallory);
}

static void test_substituted_root_changes_fingerprint(void)
{
    /* Someone makes a whole bundle of their own for the agency: it verifies,
     * but the fingerprint the operators compare is different. */
    rootkey_t *mallory = rootkey_generate();
    uint8_t *raw = NULL;
    size_t len = 0;
    CHECK(mallory && issue(mallory, AGENCY, ENDPOINT, &raw, &len) == 0);
    char *forged = mallory ? make(AGENCY, ENDPOINT, mallory->pk, raw, len) : NULL;
    char err[512];
    bundle_t real, fake;
    CHECK(parse(s_text, &real, err, sizeof err) == 0);
    CHECK(forged && parse(forged, &fake, err, sizeof err) == 0);
    CHECK_STR(fake.agency, real.agency);
    CHECK(memcmp(real.fp, fake.fp, FP_BYTES) != 0);
    bundle_free(&fake);
    bundle_free(&real);

    /* Splicing mallory's certificate into the real bundle does not verify. */
    char cert[8192];
    field_value(forged ? forged : "", "certificate", cert, sizeof cert);
    char *spliced = set_line(s_text, "certificate", cert);
    expect_refused(spliced, 5, "wrong-root");
    free(spliced);
    free(forged);
    free(raw);
    rootkey_destroy(&mallory);
}

static void test_certificate_for_another_agency_refused(void)
{
    uint8_t *raw = NULL;
    size_t len = 0;
    CHECK(issue(s_root, "vn.aix", ENDPOINT, &raw, &len) == 0);
    char *text = make(AGENCY, ENDPOINT, s_root->pk, raw, len);
    expect_refused(text, 5, "certificate is for another agency than the bundle says");
    free(text);
    free(raw);
    /* The agency line of a genuine bundle edited. */
    text = replace(s_text, "agency " AGENCY "\n", "agency vn.aix\n");
    expect_refused(text, 5, "certificate is for another agency than the bundle says");
    char *commented = with_comments(text, 2);
    expect_refused(commented, 7, "another agency");
    free(commented);
    free(text);
}

static void test_certificate_for_another_endpoint_refused(void)
{
    uint8_t *raw = NULL;
    size_t len = 0;
    CHECK(issue(s_root, AGENCY, "tcp://127.0.0.1:7102", &raw, &len) == 0);
    char *text = make(AGENCY, ENDPOINT, s_root->pk, raw, len);
    expect_refused(text, 5, "certificate names another endpoint than the bundle says");
    free(text);
    free(raw);
    static const char *endpoints[] = {"endpoint tcp://127.0.0.1:7102\n",
                                      "endpoint tcp://127.0.0.2:7101\n",
                                      "endpoint tcp://localhost:7101\n"};
    for (int i = 0; i < 3; i++) {
        text = replace(s_text, "endpoint " ENDPOINT "\n", endpoints[i]);
        expect_refused(text, 5, "certificate names another endpoint than the bundle says");
        free(text);
    }
}

static void test_tampered_certificate_refused(void)
{
    /* Every single-bit change anywhere in the certificate is refused. */
    uint8_t *t = malloc(s_cert_len);
    int refused = 0, total = 0;
    for (size_t i = 0; t && i < s_cert_len; i++)
        for (int bit = 0; bit < 8; bit++) {
            memcpy(t, s_cert_raw, s_cert_len);
            t[i] ^= (uint8_t)(1u << bit);
            char *val = b64(t, s_cert_len);
            char *text = val ? set_line(s_text, "certificate", val) : NULL;
            char err[512] = "";
            bundle_t b;
            total++;
            int rc = text ? parse(text, &b, err, sizeof err) : -2;
            if (rc == -1 &&
                strncmp(err, SRC ":5: certificate: ", strlen(SRC ":5: certificate: ")) == 0)
                refused++;
            else
                fprintf(stderr, "  byte %zu bit %d: rc %d \"%s\"\n", i, bit, rc, err);
            if (rc == 0)
                bundle_free(&b);
            free(text);
            free(val);
        }
    CHECK(total > 0 && refused == total);
    free(t);

    /* A changed signature byte is a bad signature. */
    t = malloc(s_cert_len);
    memcpy(t, s_cert_raw, s_cert_len);
    t[s_cert_len - 1] ^= 0x01;
    char *val = b64(t, s_cert_len);
    char *text = set_line(s_text, "certificate", val);
    expect_refused(text, 5, "certificate: bad-certificate-signature");
    free(text);
    free(val);
    /* Cut short. */
    val = b64(s_cert_raw, s_cert_len - 10);
    text = set_line(s_text, "certificate", val);
    expect_refused(text, 5, "certificate: malformed-certificate");
    free(text);
    free(val);
    free(t);
}

static void test_time_is_the_callers(void)
{
    /* The parser verifies the chain, not the validity window: an expired
     * certificate parses and says so through cert_check_time. */
    cert_t c;
    uint64_t now = now_ms();
    cert_fill(&c, s_keys, AGENCY, ENDPOINT, 1, now - 3 * DAY_MS, now - DAY_MS);
    uint8_t *raw = NULL;
    size_t len = 0;
    CHECK(cert_issue(&c, s_root, &raw, &len) == 0);
    char *text = make(AGENCY, ENDPOINT, s_root->pk, raw, len), err[512];
    bundle_t b;
    CHECK(text && parse(text, &b, err, sizeof err) == 0);
    const char *why = NULL;
    CHECK(b.cert.not_after_ms == now - DAY_MS);
    CHECK(cert_check_time(&b.cert, now_ms(), &why) == -1);
    CHECK_STR(why, "certificate-expired");
    bundle_free(&b);
    free(text);
    free(raw);
}

static void test_tampering_after_comments_names_shifted_line(void)
{
    char *commented = with_comments(s_text, 2);
    char *text = replace(commented, "moux-bundle 2", "moux-bundle 1");
    expect_refused(text, 3, "unsupported bundle version");
    free(text);
    text = replace(commented, "agency " AGENCY "\n", "agency vn.aiz\n");
    expect_refused(text, 7, "another agency");
    free(text);
    text = replace(commented, "endpoint " ENDPOINT, "endpoint ipc:///x");
    expect_refused(text, 5, "endpoint must be tcp://HOST:PORT");
    free(text);
    text = set_line(commented, "root-key", "AAAA");
    expect_refused(text, 6, "not a base64 32-byte key");
    free(text);
    free(commented);
}

/* ---- shape ---- */

static void test_missing_line_refused(void)
{
    char *text = set_line(s_text, "root-key", NULL);
    expect_refused(text, 4, "expected \"root-key ...\" line");
    free(text);
    text = set_line(s_text, "endpoint", NULL);
    expect_refused(text, 3, "expected \"endpoint ...\" line");
    free(text);

    /* Cut off before the certificate line. */
    text = strdup(s_text);
    *strstr(text, "certificate ") = '\0';
    expect_refused(text, 5, "expected \"certificate ...\" line");
    free(text);

    /* The last line without its newline. */
    text = strdup(s_text);
    text[strlen(text) - 1] = '\0';
    expect_refused(text, 5, "expected \"certificate ...\" line");
    free(text);

    expect_refused("", 1, "expected \"moux-bundle ...\" line");
}

static void test_empty_value_refused(void)
{
    char *text = replace(s_text, "agency " AGENCY "\n", "agency \n");
    expect_refused(text, 2, "expected \"agency ...\" line");
    free(text);
    text = replace(s_text, "agency " AGENCY "\n", "agency\n");
    expect_refused(text, 2, "expected \"agency ...\" line");
    free(text);
    text = set_line(s_text, "certificate", "");
    expect_refused(text, 5, "expected \"certificate ...\" line");
    free(text);
}

static void test_extra_trailing_data_refused(void)
{
    size_t len = strlen(s_text);
    char *text = malloc(len + 32);
    snprintf(text, len + 32, "%sextra\n", s_text);
    expect_refused(text, 6, "unexpected data after the certificate");
    snprintf(text, len + 32, "%s\n", s_text);
    expect_refused(text, 6, "unexpected data after the certificate");
    snprintf(text, len + 32, "%s#", s_text);
    expect_refused(text, 6, "unexpected data after the certificate");
    free(text);
    char *commented = with_comments(s_text, 2);
    text = malloc(strlen(commented) + 8);
    sprintf(text, "%sx", commented);
    expect_refused(text, 8, "unexpected data after the certificate");
    free(text);
    free(commented);
}

static void test_wrong_version_refused(void)
{
    static const char *versions[] = {"moux-bundle 1", "moux-bundle 0", "moux-bundle 3",
                                     "moux-bundle 2.0", "moux-bundle 02", "moux-bundle 2 "};
    for (int i = 0; i < 6; i++) {
        char *text = replace(s_text, "moux-bundle 2", versions[i]);
        expect_refused(text, 1, "unsupported bundle version");
        free(text);
    }
    char *text = replace(s_text, "moux-bundle 2", "mouxbundle 2");
    expect_refused(text, 1, "expected \"moux-bundle ...\" line");
    free(text);
}

static void test_v1_bundle_refused(void)
{
    /* A bundle of the first format (self-signed node keys) is refused on its
     * first line, whatever follows. */
    unsigned char sig[64];
    randombytes_buf(sig, sizeof sig);
    char *s = b64(s_keys->sign_pk, 32), *e = b64(s_keys->enc_pk, 32),
         *c = b64(s_keys->curve_pk, 32), *g = b64(sig, 64);
    char v1[1024];
    snprintf(v1, sizeof v1,
             "moux-bundle 1\nagency " AGENCY "\nendpoint " ENDPOINT "\nsign-key %s\n"
             "enc-key %s\ncurve-key %s\nsignature %s\n",
             s, e, c, g);
    expect_refused(v1, 1, "unsupported bundle version");
    char *commented = with_comments(v1, 1);
    expect_refused(commented, 2, "unsupported bundle version");
    free(commented);
    free(s);
    free(e);
    free(c);
    free(g);
}

static void test_invalid_agency_refused(void)
{
    static const char *agencies[] = {"agency VN.AIS\n", "agency -vn\n", "agency vn ais\n",
                                     "agency vn_ais\n"};
    for (int i = 0; i < 4; i++) {
        char *text = replace(s_text, "agency " AGENCY "\n", agencies[i]);
        expect_refused(text, 2, "invalid agency id");
        free(text);
    }
}

static void test_non_tcp_endpoint_refused(void)
{
    static const char *endpoints[] = {"endpoint ipc:///tmp/moux.sock",
                                      "endpoint udp://127.0.0.1:7101",
                                      "endpoint tcp://127.0.0.1", "endpoint tcp://127.0.0.1:x",
                                      "endpoint tcp://127.0.0.1:70000"};
    for (int i = 0; i < 5; i++) {
        char line[128];
        snprintf(line, sizeof line, "%s\n", endpoints[i]);
        char *text = replace(s_text, "endpoint " ENDPOINT "\n", line);
        expect_refused(text, 3, "endpoint must be tcp://HOST:PORT");
        free(text);
    }
}

static void test_bad_root_key_refused(void)
{
    unsigned char k33[33];
    randombytes_buf(k33, sizeof k33);
    char *long_key = b64(k33, 33), *short_key = b64(k33, 31);
    const char *bad[] = {"AAAA", "!!!!", long_key, short_key};
    for (int i = 0; i < 4; i++) {
        char *text = set_line(s_text, "root-key", bad[i]);
        expect_refused(text, 4, "root-key: not a base64 32-byte key");
        free(text);
    }
    free(long_key);
    free(short_key);
}

static void test_certificate_not_base64_refused(void)
{
    static const char *bad[] = {"!!!!", "AAAA*AAA", "AAA", "AAAA AAAA"};
    for (int i = 0; i < 4; i++) {
        char *text = set_line(s_text, "certificate", bad[i]);
        expect_refused(text, 5, "certificate: not base64");
        free(text);
    }
    /* Base64, but not a certificate. */
    char *text = set_line(s_text, "certificate", "AAAA");
    expect_refused(text, 5, "certificate: malformed-certificate");
    free(text);
}

static void test_oversized_bundle_refused(void)
{
    /* Up to 16384 bytes, comments included, is accepted; one more is not. */
    size_t len = strlen(s_text), limit = 16384;
    char *text = malloc(limit + 2);
    size_t pad = limit - len;
    memset(text, '#', pad);
    text[pad - 1] = '\n';
    memcpy(text + pad, s_text, len + 1);
    CHECK(strlen(text) == limit);
    char err[512];
    bundle_t b;
    CHECK(parse(text, &b, err, sizeof err) == 0);
    bundle_free(&b);

    memset(text, '#', pad + 1);
    text[pad] = '\n';
    memcpy(text + pad + 1, s_text, len + 1);
    CHECK(strlen(text) == limit + 1);
    CHECK(parse(text, &b, err, sizeof err) == -1);
    CHECK(strncmp(err, SRC ": ", strlen(SRC) + 2) == 0);
    CHECK(strstr(err, "larger than") != NULL);
    free(text);
}

static void test_make_refuses_oversized_certificate(void)
{
    size_t big = 8000; /* its base64 would not fit half a bundle */
    uint8_t *junk = calloc(1, big);
    char *text = (char *)"untouched";
    CHECK(bundle_make(&s_cfg, s_root->pk, junk, big, &text) == -1);
    CHECK_STR(text, "untouched");
    free(junk);
}

static void test_failed_parse_leaves_output_untouched(void)
{
    bundle_t b;
    memset(&b, 0x7e, sizeof b);
    char err[512], *text = replace(s_text, "agency " AGENCY, "agency vn.aiq");
    CHECK(bundle_parse(text, SRC, &b, err, sizeof err) == -1);
    CHECK(b.agency[0] == 0x7e && b.fp[0] == 0x7e && b.root_pk[0] == 0x7e);
    free(text);
    text = set_line(s_text, "certificate", "!!!!");
    CHECK(bundle_parse(text, SRC, &b, err, sizeof err) == -1);
    CHECK(b.agency[0] == 0x7e && b.fp[0] == 0x7e);
    free(text);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    s_root = rootkey_generate();
    s_keys = nodekeys_generate();
    if (!s_root || !s_keys)
        return 1;
    memset(&s_cfg, 0, sizeof s_cfg);
    str_copy(s_cfg.agency, sizeof s_cfg.agency, AGENCY);
    str_copy(s_cfg.listen, sizeof s_cfg.listen, "tcp://*:7101");
    str_copy(s_cfg.endpoint, sizeof s_cfg.endpoint, ENDPOINT);
    uint64_t now = now_ms();
    cert_fill(&s_cert, s_keys, AGENCY, ENDPOINT, 1, now - 60000, now + 30 * DAY_MS);
    if (cert_issue(&s_cert, s_root, &s_cert_raw, &s_cert_len) != 0 ||
        bundle_make(&s_cfg, s_root->pk, s_cert_raw, s_cert_len, &s_text) != 0)
        return 1;
    RUN(test_make_then_parse_round_trip);
    RUN(test_bundle_text_layout);
    RUN(test_fingerprint_is_the_root_fingerprint);
    RUN(test_leading_comments_accepted);
    RUN(test_comment_after_first_line_refused);
    RUN(test_certificate_of_another_root_refused);
    RUN(test_substituted_root_changes_fingerprint);
    RUN(test_certificate_for_another_agency_refused);
    RUN(test_certificate_for_another_endpoint_refused);
    RUN(test_tampered_certificate_refused);
    RUN(test_time_is_the_callers);
    RUN(test_tampering_after_comments_names_shifted_line);
    RUN(test_missing_line_refused);
    RUN(test_empty_value_refused);
    RUN(test_extra_trailing_data_refused);
    RUN(test_wrong_version_refused);
    RUN(test_v1_bundle_refused);
    RUN(test_invalid_agency_refused);
    RUN(test_non_tcp_endpoint_refused);
    RUN(test_bad_root_key_refused);
    RUN(test_certificate_not_base64_refused);
    RUN(test_oversized_bundle_refused);
    RUN(test_make_refuses_oversized_certificate);
    RUN(test_failed_parse_leaves_output_untouched);
    free(s_text);
    free(s_cert_raw);
    nodekeys_destroy(&s_keys);
    rootkey_destroy(&s_root);
    return TEST_DONE();
}
