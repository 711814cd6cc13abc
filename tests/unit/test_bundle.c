/* Partner bundles: made, parsed, verified; every tampering refused with the
 * line it happened on. Keys are generated at run time and never written. */
#include "bundle.h"
#include "test.h"
#include "util.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define SRC "peer.bundle"

static nodekeys_t *s_keys;
static config_t s_cfg;
static char *s_text; /* the bundle of s_cfg and s_keys */

/* ---- helpers ---- */

/* text with the first occurrence of old replaced by new; caller frees. NULL
 * if old does not occur. */
static char *replace(const char *text, const char *old, const char *new_)
{
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

/* The value of the line starting "key " in text, copied into out. */
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
    CHECK(parse(text, &b, err, sizeof err) == -1);
    snprintf(prefix, sizeof prefix, "%s:%d: ", SRC, line);
    if (strncmp(err, prefix, strlen(prefix)) != 0 || !strstr(err, what)) {
        fprintf(stderr, "  expected \"%s...%s\", got \"%s\"\n", prefix, what, err);
        CHECK(!"error names the line and the problem");
    }
}

/* Changes one base64 symbol in the middle of field key's value. */
static char *tamper_field(const char *text, const char *key)
{
    char val[256], changed[256], old[300], new_[300];
    field_value(text, key, val, sizeof val);
    strcpy(changed, val);
    changed[5] = changed[5] == 'A' ? 'B' : 'A';
    snprintf(old, sizeof old, "%s %s\n", key, val);
    snprintf(new_, sizeof new_, "%s %s\n", key, changed);
    return replace(text, old, new_);
}

/* ---- round trip ---- */

static void test_make_then_parse_round_trip(void)
{
    char err[512];
    bundle_t b;
    CHECK(parse(s_text, &b, err, sizeof err) == 0);
    CHECK_STR(b.agency, "vn.ais");
    CHECK_STR(b.endpoint, "tcp://127.0.0.1:7101");
    CHECK(memcmp(b.sign_pk, s_keys->sign_pk, 32) == 0);
    CHECK(memcmp(b.enc_pk, s_keys->enc_pk, 32) == 0);
    CHECK(memcmp(b.curve_pk, s_keys->curve_pk, 32) == 0);
    unsigned char fp[FP_BYTES];
    bundle_fingerprint("vn.ais", s_keys->sign_pk, s_keys->enc_pk, s_keys->curve_pk, fp);
    CHECK(memcmp(b.fp, fp, FP_BYTES) == 0);
}

static void test_bundle_text_layout(void)
{
    static const char *keys[] = {"moux-bundle 1\n", "agency vn.ais\n",
                                 "endpoint tcp://127.0.0.1:7101\n", "sign-key ", "enc-key ",
                                 "curve-key ", "signature "};
    const char *p = s_text;
    int lines = 0;
    for (int i = 0; i < 7; i++) {
        CHECK(strncmp(p, keys[i], strlen(keys[i])) == 0);
        p = strchr(p, '\n');
        if (!p)
            break;
        p++;
        lines++;
    }
    CHECK(lines == 7 && p && *p == '\0');
    char val[256];
    unsigned char pk[32];
    field_value(s_text, "sign-key", val, sizeof val);
    CHECK(b64_decode_exact(val, pk, 32) == 0 && memcmp(pk, s_keys->sign_pk, 32) == 0);
}

static void test_fingerprint_definition(void)
{
    /* SHA-256("moux/bundle-fp/1" || agency || 0x00 || sign || enc || curve)[0..20] */
    const char *tag = "moux/bundle-fp/1";
    unsigned char msg[16 + 6 + 1 + 96], full[32], fp[FP_BYTES];
    memcpy(msg, tag, 16);
    memcpy(msg + 16, "vn.ais", 7);
    memcpy(msg + 23, s_keys->sign_pk, 32);
    memcpy(msg + 55, s_keys->enc_pk, 32);
    memcpy(msg + 87, s_keys->curve_pk, 32);
    crypto_hash_sha256(full, msg, sizeof msg);
    bundle_fingerprint("vn.ais", s_keys->sign_pk, s_keys->enc_pk, s_keys->curve_pk, fp);
    CHECK(memcmp(fp, full, FP_BYTES) == 0);
    /* Every input matters, including where the agency ends. */
    unsigned char other[FP_BYTES];
    bundle_fingerprint("vn.aisx", s_keys->sign_pk, s_keys->enc_pk, s_keys->curve_pk, other);
    CHECK(memcmp(fp, other, FP_BYTES) != 0);
    bundle_fingerprint("vn.ais", s_keys->enc_pk, s_keys->sign_pk, s_keys->curve_pk, other);
    CHECK(memcmp(fp, other, FP_BYTES) != 0);
    bundle_fingerprint("vn.ais", s_keys->sign_pk, s_keys->enc_pk, s_keys->enc_pk, other);
    CHECK(memcmp(fp, other, FP_BYTES) != 0);
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
    CHECK_STR(commented.agency, "vn.ais");
    CHECK(memcmp(plain.fp, commented.fp, FP_BYTES) == 0); /* comments are not signed */
    free(text);
}

static void test_comment_after_first_line_refused(void)
{
    char *text = replace(s_text, "agency ", "# a note\nagency ");
    expect_refused(text, 2, "expected field \"agency\"");
    free(text);
}

/* ---- tampering ---- */

static void test_changed_endpoint_fails_signature(void)
{
    char *text = replace(s_text, "endpoint tcp://127.0.0.1:7101", "endpoint tcp://127.0.0.1:7102");
    expect_refused(text, 7, "signature");
    free(text);
    text = replace(s_text, "endpoint tcp://127.0.0.1:7101", "endpoint tcp://127.0.0.2:7101");
    expect_refused(text, 7, "does not verify");
    free(text);
}

static void test_changed_agency_fails_signature(void)
{
    char *text = replace(s_text, "agency vn.ais", "agency vn.aix");
    expect_refused(text, 7, "signature");
    free(text);
}

static void test_changed_keys_fail_signature(void)
{
    static const char *fields[] = {"sign-key", "enc-key", "curve-key", "signature"};
    for (int i = 0; i < 4; i++) {
        char *text = tamper_field(s_text, fields[i]);
        expect_refused(text, 7, "signature");
        free(text);
    }
}

static void test_tampering_after_comments_names_shifted_line(void)
{
    size_t len = strlen(s_text);
    char *commented = malloc(len + 64);
    snprintf(commented, len + 64, "# one\n# two\n%s", s_text);
    char *text = replace(commented, "agency vn.ais", "agency vn.aiz");
    expect_refused(text, 9, "signature");
    free(text);
    text = replace(commented, "moux-bundle 1", "moux-bundle 2");
    expect_refused(text, 3, "unsupported bundle version");
    free(text);
    free(commented);
}

static void test_substituted_keys_change_fingerprint(void)
{
    /* Someone re-signs the bundle with their own keys: it verifies, but the
     * fingerprint the operators compare is different. */
    nodekeys_t *mallory = nodekeys_generate();
    char *forged = NULL, err[512];
    CHECK(bundle_make(&s_cfg, mallory, &forged) == 0);
    bundle_t real, fake;
    CHECK(parse(s_text, &real, err, sizeof err) == 0);
    CHECK(parse(forged, &fake, err, sizeof err) == 0);
    CHECK_STR(fake.agency, real.agency);
    CHECK(memcmp(real.fp, fake.fp, FP_BYTES) != 0);
    /* Splicing mallory's signing key into the real bundle does not verify. */
    char realkey[128], fakekey[128], old[160], new_[160];
    field_value(s_text, "sign-key", realkey, sizeof realkey);
    field_value(forged, "sign-key", fakekey, sizeof fakekey);
    snprintf(old, sizeof old, "sign-key %s", realkey);
    snprintf(new_, sizeof new_, "sign-key %s", fakekey);
    char *spliced = replace(s_text, old, new_);
    expect_refused(spliced, 7, "signature");
    free(spliced);
    free(forged);
    nodekeys_destroy(&mallory);
}

/* ---- shape ---- */

static void test_missing_line_refused(void)
{
    char val[128], line[160];
    field_value(s_text, "enc-key", val, sizeof val);
    snprintf(line, sizeof line, "enc-key %s\n", val);
    char *text = replace(s_text, line, "");
    expect_refused(text, 5, "expected field \"enc-key\"");
    free(text);

    /* Cut off before the signature line. */
    text = strdup(s_text);
    *strstr(text, "signature ") = '\0';
    expect_refused(text, 7, "expected \"signature ...\" line");
    free(text);

    /* The last line without its newline. */
    text = strdup(s_text);
    text[strlen(text) - 1] = '\0';
    expect_refused(text, 7, "expected \"signature ...\" line");
    free(text);

    expect_refused("", 1, "expected \"moux-bundle ...\" line");
}

static void test_empty_value_refused(void)
{
    char *text = replace(s_text, "agency vn.ais\n", "agency \n");
    expect_refused(text, 2, "expected field \"agency\"");
    free(text);
    text = replace(s_text, "agency vn.ais\n", "agency\n");
    expect_refused(text, 2, "expected field \"agency\"");
    free(text);
}

static void test_extra_trailing_data_refused(void)
{
    size_t len = strlen(s_text);
    char *text = malloc(len + 32);
    snprintf(text, len + 32, "%sextra\n", s_text);
    expect_refused(text, 8, "unexpected data after the signature");
    snprintf(text, len + 32, "%s\n", s_text);
    expect_refused(text, 8, "unexpected data after the signature");
    snprintf(text, len + 32, "%s#", s_text);
    expect_refused(text, 8, "unexpected data after the signature");
    free(text);
}

static void test_wrong_version_refused(void)
{
    static const char *versions[] = {"moux-bundle 2", "moux-bundle 0", "moux-bundle 1.0",
                                     "moux-bundle 01"};
    for (int i = 0; i < 4; i++) {
        char *text = replace(s_text, "moux-bundle 1", versions[i]);
        expect_refused(text, 1, "unsupported bundle version");
        free(text);
    }
    char *text = replace(s_text, "moux-bundle 1", "mouxbundle 1");
    expect_refused(text, 1, "expected field \"moux-bundle\"");
    free(text);
}

static void test_invalid_agency_refused(void)
{
    static const char *agencies[] = {"agency VN.AIS", "agency -vn", "agency vn ais",
                                     "agency vn_ais"};
    for (int i = 0; i < 4; i++) {
        char *text = replace(s_text, "agency vn.ais", agencies[i]);
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
        char *text = replace(s_text, "endpoint tcp://127.0.0.1:7101", endpoints[i]);
        expect_refused(text, 3, "endpoint must be tcp://HOST:PORT");
        free(text);
    }
}

static void test_bad_key_encoding_refused(void)
{
    char val[128], old[160];
    field_value(s_text, "curve-key", val, sizeof val);
    snprintf(old, sizeof old, "curve-key %s", val);
    char *text = replace(s_text, old, "curve-key AAAA");
    expect_refused(text, 6, "not a base64 32-byte key");
    free(text);
    field_value(s_text, "signature", val, sizeof val);
    snprintf(old, sizeof old, "signature %s", val);
    text = replace(s_text, old, "signature !!!!");
    expect_refused(text, 7, "not a base64 64-byte signature");
    free(text);
}

static void test_oversized_bundle_refused(void)
{
    size_t len = strlen(s_text), pad = 5000;
    char *text = malloc(pad + len + 1);
    memset(text, '#', pad);
    text[pad - 1] = '\n';
    memcpy(text + pad, s_text, len + 1);
    char err[512];
    bundle_t b;
    CHECK(parse(text, &b, err, sizeof err) == -1);
    CHECK(strncmp(err, SRC ": ", strlen(SRC) + 2) == 0);
    CHECK(strstr(err, "larger than") != NULL);
    free(text);
}

static void test_failed_parse_leaves_output_untouched(void)
{
    bundle_t b;
    memset(&b, 0x7e, sizeof b);
    char err[512], *text = replace(s_text, "agency vn.ais", "agency vn.aiq");
    CHECK(bundle_parse(text, SRC, &b, err, sizeof err) == -1);
    CHECK(b.agency[0] == 0x7e && b.fp[0] == 0x7e);
    free(text);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    s_keys = nodekeys_generate();
    memset(&s_cfg, 0, sizeof s_cfg);
    str_copy(s_cfg.agency, sizeof s_cfg.agency, "vn.ais");
    str_copy(s_cfg.listen, sizeof s_cfg.listen, "tcp://*:7101");
    str_copy(s_cfg.endpoint, sizeof s_cfg.endpoint, "tcp://127.0.0.1:7101");
    if (!s_keys || bundle_make(&s_cfg, s_keys, &s_text) != 0)
        return 1;
    RUN(test_make_then_parse_round_trip);
    RUN(test_bundle_text_layout);
    RUN(test_fingerprint_definition);
    RUN(test_leading_comments_accepted);
    RUN(test_comment_after_first_line_refused);
    RUN(test_changed_endpoint_fails_signature);
    RUN(test_changed_agency_fails_signature);
    RUN(test_changed_keys_fail_signature);
    RUN(test_tampering_after_comments_names_shifted_line);
    RUN(test_substituted_keys_change_fingerprint);
    RUN(test_missing_line_refused);
    RUN(test_empty_value_refused);
    RUN(test_extra_trailing_data_refused);
    RUN(test_wrong_version_refused);
    RUN(test_invalid_agency_refused);
    RUN(test_non_tcp_endpoint_refused);
    RUN(test_bad_key_encoding_refused);
    RUN(test_oversized_bundle_refused);
    RUN(test_failed_parse_leaves_output_untouched);
    free(s_text);
    nodekeys_destroy(&s_keys);
    return TEST_DONE();
}
