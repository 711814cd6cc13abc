/* The MOU document (node/lib/mou.c) and the `moux mou` commands
 * (node/moux/cmd_mou.c and cmd_mou_node.c, compiled into this test with the
 * CLI helpers they use): the
 * examples in deploy/examples/, every refusal with its FILE:LINE and field,
 * signatures by generated roots, validity windows and direction queries.
 * Run from the repository root (ctest does). Root keys are generated at run
 * time and stored unsealed in a temporary directory removed at exit. */
#include "../../node/moux/args.c"
#include "../../node/moux/certify.c"
#include "../../node/moux/clicommon.c"
#include "../../node/moux/cmd_mou.c"
#include "../../node/moux/cmd_mou_node.c"
#include "../../node/moux/mousigs.c"

#include "cert.h"
#include "ctxsig.h"
#include "keyfile.h"
#include "mou.h"
#include "rootkey.h"
#include "store.h"
#include "test.h"
#include "util.h"

#include <dirent.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- helpers ---- */

#define FPA "EXAM-PLE2-VNAI-SAAA-AAAA-AAAA-AAAA-AAAA"
#define FPB "EXAM-PLE2-USCI-SAAA-AAAA-AAAA-AAAA-AAAA"
#define BIG 8192

static rootkey_t *s_ra, *s_rb, *s_rc; /* vn.ais, us.cisa, and a stranger */

#define S_HEAD \
    "# test MOU\n"                                        /* 1 */ \
    "moux-mou: 1\n"                                       /* 2 */ \
    "id: vn.ais--us.cisa-2026-01\n"                       /* 3 */ \
    "title: Test agreement\n"                             /* 4 */ \
    "party-a: vn.ais root-fingerprint %s\n"               /* 5 */ \
    "party-b: us.cisa root-fingerprint %s\n"              /* 6 */ \
    "effective: 2026-01-01\n"                             /* 7 */ \
    "expires: 2027-01-01T00:00:00Z\n"                     /* 8 */ \
    "\n"                                                  /* 9 */

static const char *s_a_to_b =
    "[a-to-b]\n"                                          /* 10 */
    "types: ipv4-addr, domain-name, url, file:sha256\n"   /* 11 */
    "max-tlp: amber\n"                                    /* 12 */
    "onward: none\n"                                      /* 13 */
    "anonymise: yes\n"                                    /* 14 */
    "retention-days: 90\n"                                /* 15 */
    "min-confidence: 50\n"                                /* 16 */
    "purposes: network-defense, incident-response\n"      /* 17 */
    "daily-limit: 100000\n"                               /* 18 */
    "receipts: required\n"                                /* 19 */
    "\n";                                                 /* 20 */
static const char *s_b_to_a =
    "[b-to-a]\n"                                          /* 21 */
    "types: all\n"                                        /* 22 */
    "max-tlp: green\n"                                    /* 23 */
    "onward: agencies vn.ncsc, jp.cert\n"                 /* 24 */
    "anonymise: no\n"                                     /* 25 */
    "retention-days: 30\n"                                /* 26 */
    "min-confidence: 0\n"                                 /* 27 */
    "receipts: optional\n";                               /* 28 */

static void base_text(char *out, size_t cap, const char *fpa, const char *fpb)
{
    char head[1024];
    snprintf(head, sizeof head, S_HEAD, fpa, fpb);
    snprintf(out, cap, "%s%s%s", head, s_a_to_b, s_b_to_a);
}

/* The first occurrence of from replaced by to. */
static int replace(char *out, size_t cap, const char *text, const char *from, const char *to)
{
    const char *hit = strstr(text, from);
    if (!hit)
        return -1;
    int n = snprintf(out, cap, "%.*s%s%s", (int)(hit - text), text, to, hit + strlen(from));
    return n < 0 || (size_t)n >= cap ? -1 : 0;
}

/* The line number of the first line that starts with needle. */
static unsigned line_of(const char *text, const char *needle)
{
    unsigned line = 1;
    for (const char *p = text; *p; line++) {
        if (strncmp(p, needle, strlen(needle)) == 0)
            return line;
        const char *nl = strchr(p, '\n');
        if (!nl)
            break;
        p = nl + 1;
    }
    return 0;
}

static mou_t *parse_ok(const char *text)
{
    char err[1024];
    mou_t *m = NULL;
    if (mou_parse(text, strlen(text), "t.mou", &m, err, sizeof err) != 0)
        fprintf(stderr, "  unexpected refusal: %s\n", err);
    return m;
}

/* text must be refused with "t.mou:LINE: expect..." where LINE is the line
 * starting with needle (or line itself when needle is NULL). */
static int refused_at(const char *text, size_t len, const char *needle, unsigned line,
                      const char *expect)
{
    char err[1024] = "", want[512];
    mou_t *m = NULL;
    int rc = mou_parse(text, len, "t.mou", &m, err, sizeof err);
    if (needle)
        line = line_of(text, needle);
    snprintf(want, sizeof want, "t.mou:%u: %s", line, expect);
    int ok = rc == -1 && m == NULL && line > 0 && strncmp(err, want, strlen(want)) == 0;
    if (!ok)
        fprintf(stderr, "  want \"%s...\"\n  got  \"%s\" (rc %d)\n", want, err, rc);
    mou_destroy(&m);
    return ok;
}

/* The base MOU with one replacement must be refused as expected. */
static int refuse(const char *from, const char *to, const char *needle, const char *expect)
{
    char base[BIG], text[BIG];
    base_text(base, sizeof base, FPA, FPB);
    if (replace(text, sizeof text, base, from, to) != 0) {
        fprintf(stderr, "  test bug: \"%s\" not in the base MOU\n", from);
        return 0;
    }
    return refused_at(text, strlen(text), needle, 0, expect);
}

static int write_file(const char *path, const char *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    size_t n = fwrite(data, 1, len, f);
    return fclose(f) == 0 && n == len ? 0 : -1;
}

static long read_file(const char *path, char *buf, size_t cap)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, cap - 1, f);
    fclose(f);
    buf[n] = '\0';
    return (long)n;
}

static void fp_of(const rootkey_t *r, char out[FP_STRLEN])
{
    unsigned char fp[FP_BYTES];
    root_fingerprint(r->pk, fp);
    fingerprint_format(fp, out);
}

/* An MOU between vn.ais (s_ra) and us.cisa (s_rb). */
static void signed_text(char *out, size_t cap)
{
    char fa[FP_STRLEN], fb[FP_STRLEN];
    fp_of(s_ra, fa);
    fp_of(s_rb, fb);
    base_text(out, cap, fa, fb);
}

/* Runs `moux mou ARGS...` with stdout into path (NULL: the test's stdout). */
static int run_mou(const char *out_path, const char *arg, ...)
{
    char *argv[16];
    int argc = 0;
    argv[argc++] = "mou";
    va_list ap;
    va_start(ap, arg);
    for (const char *a = arg; a && argc < 15; a = va_arg(ap, const char *))
        argv[argc++] = (char *)a;
    va_end(ap);
    argv[argc] = NULL;
    int saved = -1;
    fflush(stdout);
    if (out_path) {
        int fd = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd < 0)
            return -1;
        saved = dup(1);
        dup2(fd, 1);
        close(fd);
    }
    int rc = cmd_mou(argc, argv);
    fflush(stdout);
    if (saved >= 0) {
        dup2(saved, 1);
        close(saved);
    }
    return rc;
}

/* ---- tests ---- */

static void test_examples(void)
{
    DIR *d = opendir("deploy/examples");
    CHECK(d != NULL);
    if (!d)
        return;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len < 5 || strcmp(e->d_name + len - 4, ".mou") != 0)
            continue;
        char path[512], err[1024];
        snprintf(path, sizeof path, "deploy/examples/%s", e->d_name);
        mou_t *m = NULL;
        int rc = mou_load(path, &m, err, sizeof err);
        if (rc != 0)
            fprintf(stderr, "  %s\n", err);
        CHECK(rc == 0);
        if (m) {
            /* The file is named after its parties. */
            char want[256];
            snprintf(want, sizeof want, "%s--%s.mou", mou_party(m, 0), mou_party(m, 1));
            CHECK_STR(e->d_name, want);
            CHECK(strncmp(mou_party_fp_text(m, 0), "EXAM-PLE2-", 10) == 0);
            CHECK(strncmp(mou_party_fp_text(m, 1), "EXAM-PLE2-", 10) == 0);
            CHECK(mou_dir(m, 0) || mou_dir(m, 1));
            n++;
        }
        mou_destroy(&m);
    }
    closedir(d);
    CHECK(n >= 5);

    char err[1024];
    mou_t *m = NULL;
    /* 1: two-way, AMBER, no onward sharing, anonymised. */
    CHECK(mou_load("deploy/examples/vn.ais--us.cisa.mou", &m, err, sizeof err) == 0);
    for (int i = 0; m && i < 2; i++) {
        const mou_dir_t *dir = mou_dir(m, i);
        CHECK(dir && dir->max_tlp == TLP_AMBER && dir->onward == MOU_ONWARD_NONE &&
              dir->anonymise && dir->receipts_required);
    }
    mou_destroy(&m);
    /* 2: one-way, vendor to centre, hashes and domains up to GREEN. */
    CHECK(mou_load("deploy/examples/vendor.example--vn.ncsc.mou", &m, err, sizeof err) == 0);
    if (m) {
        const mou_dir_t *dir = mou_direction(m, "vendor.example", "vn.ncsc");
        CHECK(dir && dir->max_tlp == TLP_GREEN);
        CHECK(dir && dir->types == ((1u << IND_DOMAIN) | (1u << IND_MD5) | (1u << IND_SHA1) |
                                    (1u << IND_SHA256)));
        CHECK(mou_direction(m, "vn.ncsc", "vendor.example") == NULL);
    }
    mou_destroy(&m);
    /* 3: alliance; the coordinator may relay a member's items to the others. */
    CHECK(mou_load("deploy/examples/vn.vncert--vn.evn-cert.mou", &m, err, sizeof err) == 0);
    if (m) {
        const mou_dir_t *up = mou_direction(m, "vn.evn-cert", "vn.vncert");
        const mou_dir_t *down = mou_direction(m, "vn.vncert", "vn.evn-cert");
        CHECK(up && up->max_tlp == TLP_AMBER && up->onward == MOU_ONWARD_AGENCIES);
        CHECK(up && mou_dir_onward_allowed(up, "vn.sbv-cert") &&
              !mou_dir_onward_allowed(up, "us.cisa"));
        CHECK(down && down->max_tlp == TLP_GREEN && down->onward == MOU_ONWARD_TLP &&
              down->anonymise);
    }
    mou_destroy(&m);
}

static void test_base_parses(void)
{
    char text[BIG];
    base_text(text, sizeof text, FPA, FPB);
    mou_t *m = parse_ok(text);
    CHECK(m != NULL);
    if (!m)
        return;
    CHECK_STR(mou_id(m), "vn.ais--us.cisa-2026-01");
    CHECK_STR(mou_title(m), "Test agreement");
    CHECK_STR(mou_party(m, 0), "vn.ais");
    CHECK_STR(mou_party(m, 1), "us.cisa");
    CHECK(mou_party(m, 2) == NULL);
    CHECK_STR(mou_party_fp_text(m, 0), FPA);
    CHECK_STR(mou_party_fp_text(m, 1), FPB);
    uint64_t t = 0;
    CHECK(parse_time_ms("2026-01-01T00:00:00Z", &t) == 0 && mou_effective_ms(m) == t);
    CHECK(parse_time_ms("2027-01-01T00:00:00Z", &t) == 0 && mou_expires_ms(m) == t);
    unsigned char h[MOU_HASH_BYTES];
    char hex[MOU_HASH_HEX];
    crypto_hash_sha256(h, (const unsigned char *)text, strlen(text));
    hex_encode(h, sizeof h, hex);
    CHECK(memcmp(mou_hash_bytes(m), h, sizeof h) == 0);
    CHECK_STR(mou_hash_hex(m), hex);
    mou_hash(text, strlen(text), h);
    CHECK(memcmp(mou_hash_bytes(m), h, sizeof h) == 0);
    const mou_dir_t *d = mou_dir(m, MOU_A_TO_B);
    CHECK(d && d->line == 10 && d->retention_days == 90 && d->min_confidence == 50 &&
          d->daily_limit == 100000 && d->n_purposes == 2 && d->receipts_required &&
          d->anonymise && d->max_tlp == TLP_AMBER);
    CHECK(d && strcmp(d->purposes[1], "incident-response") == 0);
    d = mou_dir(m, MOU_B_TO_A);
    CHECK(d && d->line == 21 && d->types == MOU_ALL_TYPES && d->daily_limit == 0 &&
          d->n_purposes == 0 && !d->receipts_required && d->n_onward == 2 &&
          strcmp(d->onward_agencies[1], "jp.cert") == 0);
    CHECK(mou_dir(m, 2) == NULL && mou_dir(m, -1) == NULL);
    json_t *o = mou_to_json(m, t - 1);
    CHECK(o && json_is_true(json_object_get(o, "in_force")));
    CHECK(o && json_array_size(json_object_get(o, "directions")) == 2);
    json_decref(o);
    mou_destroy(&m);
    CHECK(m == NULL);
    mou_destroy(&m); /* twice is fine */

    /* One-way: only [b-to-a]; and comments and blank lines anywhere. */
    char one[BIG], tmp[BIG];
    CHECK(replace(tmp, sizeof tmp, text, s_a_to_b, "# no a-to-b\n\n") == 0);
    CHECK(replace(one, sizeof one, tmp, "[b-to-a]\n", "[b-to-a]\n# comment\n\n") == 0);
    m = parse_ok(one);
    CHECK(m && mou_dir(m, MOU_A_TO_B) == NULL && mou_dir(m, MOU_B_TO_A) != NULL);
    mou_destroy(&m);
    /* [b-to-a] before [a-to-b] is fine too. */
    char head[1024];
    snprintf(head, sizeof head, S_HEAD, FPA, FPB);
    snprintf(one, sizeof one, "%s%s\n%s", head, s_b_to_a, s_a_to_b);
    m = parse_ok(one);
    CHECK(m && mou_dir(m, MOU_A_TO_B) && mou_dir(m, MOU_B_TO_A));
    mou_destroy(&m);
}

static void test_refusals(void)
{
    /* unknown, duplicate and missing keys */
    CHECK(refuse("receipts: required\n", "receipts: required\ncolour: red\n", "colour:",
                 "colour: unknown key in [a-to-b]"));
    CHECK(refuse("title: Test agreement\n", "title: Test agreement\nsubject: x\n", "subject:",
                 "subject: unknown key"));
    CHECK(refuse("max-tlp: amber\n", "max-tlp: amber\nmax-tlp: red\n", "max-tlp: red",
                 "max-tlp: duplicate key (first at line 12)"));
    CHECK(refuse("id: vn.ais--us.cisa-2026-01\n", "id: vn.ais--us.cisa-2026-01\nid: x\n",
                 "id: x", "id: duplicate key (first at line 3)"));
    CHECK(refuse("expires: 2027-01-01T00:00:00Z\n", "", "[a-to-b]", "expires: missing"));
    CHECK(refuse("title: Test agreement\n", "", "[a-to-b]", "title: missing"));
    CHECK(refuse("receipts: required\n", "", "[a-to-b]",
                 "[a-to-b]: missing required key \"receipts\""));
    CHECK(refuse("min-confidence: 0\n", "", "[b-to-a]",
                 "[b-to-a]: missing required key \"min-confidence\""));
    CHECK(refuse("receipts: required\n", "receipts: required\nid: x\n", "id: x",
                 "id: belongs before the first section"));
    CHECK(refuse("title: Test agreement\n", "title: Test agreement\nmax-tlp: red\n",
                 "max-tlp: red", "max-tlp: belongs in a direction section"));

    /* values */
    CHECK(refuse("max-tlp: amber", "max-tlp: orange", "max-tlp:",
                 "max-tlp: \"orange\" is not a TLP 2.0 level"));
    CHECK(refuse("max-tlp: amber", "max-tlp: AMBER", "max-tlp:",
                 "max-tlp: \"AMBER\" is not a TLP 2.0 level"));
    CHECK(refuse("max-tlp: amber", "max-tlp: tlp:amber", "max-tlp:",
                 "max-tlp: \"tlp:amber\" is not a TLP 2.0 level"));
    CHECK(refuse("types: ipv4-addr, domain-name", "types: ipv4-addr, hostname", "types:",
                 "types: \"hostname\" is not an indicator type"));
    CHECK(refuse("types: all", "types: sha256", "types: sha256",
                 "types: write \"sha256\" as \"file:sha256\""));
    CHECK(refuse("types: all", "types: all, url", "types: all", "types: \"all\" stands alone"));
    CHECK(refuse("types: all", "types: url, url", "types: url", "types: \"url\" is listed twice"));
    CHECK(refuse("types: all", "types: url,, domain-name", "types: url",
                 "types: empty entry in the list"));
    CHECK(refuse("types: all", "types: url domain-name", "types: url",
                 "types: \"url domain-name\" is not one entry"));
    CHECK(refuse("effective: 2026-01-01", "effective: 2026-02-30", "effective:",
                 "effective: \"2026-02-30\" is not a valid date"));
    CHECK(refuse("effective: 2026-01-01", "effective: 2026-1-1", "effective:",
                 "effective: \"2026-1-1\" is not a UTC date"));
    CHECK(refuse("effective: 2026-01-01", "effective: +30d", "effective:",
                 "effective: \"+30d\" is not a UTC date"));
    CHECK(refuse("effective: 2026-01-01", "effective: 2026-01-01T25:00:00Z", "effective:",
                 "effective: \"2026-01-01T25:00:00Z\" is not a valid date"));
    CHECK(refuse("expires: 2027-01-01T00:00:00Z", "expires: 2027-01-01T00:00:00.000Z",
                 "expires:", "expires: \"2027-01-01T00:00:00.000Z\" is not a UTC date"));
    CHECK(refuse("expires: 2027-01-01T00:00:00Z", "expires: 2025-12-31T23:59:59Z", "expires:",
                 "expires: 2025-12-31T23:59:59.000Z is not after effective "
                 "2026-01-01T00:00:00.000Z (line 7)"));
    CHECK(refuse("expires: 2027-01-01T00:00:00Z", "expires: 2026-01-01", "expires:",
                 "expires: 2026-01-01T00:00:00.000Z is not after effective"));
    CHECK(refuse("party-b: us.cisa", "party-b: vn.ais", "party-b:",
                 "party-b: vn.ais is also party-a"));
    CHECK(refuse(FPB, FPA, "party-b:", "party-b: states the same root fingerprint as party-a"));
    CHECK(refuse("onward: none", "onward: partners", "onward:",
                 "onward: \"partners\" is not none, tlp or \"agencies ID, ID, ...\""));
    CHECK(refuse("onward: none", "onward: agencies", "onward:",
                 "onward: \"agencies\" is not none, tlp"));
    CHECK(refuse("onward: agencies vn.ncsc, jp.cert", "onward: agencies vn.ncsc, us.cisa",
                 "onward: agencies", "onward: us.cisa is a party to this MOU"));
    CHECK(refuse("onward: agencies vn.ncsc, jp.cert", "onward: agencies VN.NCSC",
                 "onward: agencies", "onward: \"VN.NCSC\" is not an agency id"));
    CHECK(refuse("onward: agencies vn.ncsc, jp.cert", "onward: agencies vn.ncsc, vn.ncsc",
                 "onward: agencies", "onward: \"vn.ncsc\" is listed twice"));
    CHECK(refuse(FPA, "AAAA-AAAA", "party-a:", "party-a: \"AAAA-AAAA\" is not a root "
                 "fingerprint"));
    CHECK(refuse(FPA, "EXAM-PLE1-VNAI-SAAA-AAAA-AAAA-AAAA-AAAA", "party-a:",
                 "party-a: \"EXAM-PLE1-VNAI-SAAA-AAAA-AAAA-AAAA-AAAA\" is not a root "
                 "fingerprint"));
    CHECK(refuse(FPA, "exam-ple2-vnai-saaa-aaaa-aaaa-aaaa-aaaa", "party-a:",
                 "party-a: write the fingerprint as " FPA));
    CHECK(refuse(FPA, "EXAMPLE2VNAISAAAAAAAAAAAAAAAAAAA", "party-a:",
                 "party-a: write the fingerprint as " FPA));
    CHECK(refuse("party-a: vn.ais root-fingerprint", "party-a: vn.ais fingerprint", "party-a:",
                 "party-a: expected \"root-fingerprint\""));
    CHECK(refuse("party-a: vn.ais root-fingerprint", "party-a: vn_ais root-fingerprint",
                 "party-a:", "party-a: \"vn_ais\" is not an agency id"));
    CHECK(refuse("party-a: vn.ais root-fingerprint " FPA,
                 "party-a: vn.ais root-fingerprint " FPA " x", "party-a:",
                 "party-a: \"vn.ais root-fingerprint"));
    CHECK(refuse("id: vn.ais--us.cisa-2026-01", "id: VN-2026", "id:",
                 "id: \"VN-2026\" is not an MOU id"));
    CHECK(refuse("min-confidence: 50", "min-confidence: 050", "min-confidence:",
                 "min-confidence: \"050\" is not a whole number from 0 to 100"));
    CHECK(refuse("min-confidence: 50", "min-confidence: 101", "min-confidence:",
                 "min-confidence: \"101\" is not a whole number from 0 to 100"));
    CHECK(refuse("min-confidence: 50", "min-confidence: -1", "min-confidence:",
                 "min-confidence: \"-1\" is not a whole number"));
    CHECK(refuse("retention-days: 90", "retention-days: 0", "retention-days:",
                 "retention-days: \"0\" is not a whole number from 1 to 3650"));
    CHECK(refuse("retention-days: 90", "retention-days: 3651", "retention-days:",
                 "retention-days: \"3651\" is not a whole number from 1 to 3650"));
    CHECK(refuse("daily-limit: 100000", "daily-limit: 0", "daily-limit:",
                 "daily-limit: \"0\" is not a whole number from 1 to"));
    CHECK(refuse("daily-limit: 100000", "daily-limit: 99999999999999999999", "daily-limit:",
                 "daily-limit: \"99999999999999999999\" is not a whole number"));
    CHECK(refuse("purposes: network-defense, incident-response", "purposes: Network-Defense",
                 "purposes:", "purposes: \"Network-Defense\" is not a purpose label"));
    CHECK(refuse("receipts: required", "receipts: yes", "receipts:",
                 "receipts: \"yes\" is not required or optional"));
    CHECK(refuse("anonymise: yes", "anonymise: true", "anonymise:",
                 "anonymise: \"true\" is not yes or no"));
    CHECK(refuse("moux-mou: 1", "moux-mou: 2", "moux-mou:",
                 "moux-mou: format version 2 is not supported"));
    CHECK(refuse("moux-mou: 1", "moux-mou: one", "moux-mou:",
                 "moux-mou: \"one\" is not a format version"));
    CHECK(refuse("title: Test agreement", "title: <what this agreement is>", "title:",
                 "title: template placeholder \"<what this agreement is>\" not filled in"));
    CHECK(refuse("party-b: us.cisa", "party-b: <agency-b>", "party-b:",
                 "party-b: template placeholder \"<agency-b>\" not filled in"));

    /* trailing garbage */
    CHECK(refuse("retention-days: 90", "retention-days: 90 days", "retention-days:",
                 "retention-days: \"90 days\" is not a whole number"));
    CHECK(refuse("anonymise: yes", "anonymise: yes please", "anonymise:",
                 "anonymise: \"yes please\" is not yes or no"));
    CHECK(refuse("max-tlp: amber", "max-tlp: amber # the default", "max-tlp:",
                 "max-tlp: \"amber # the default\" is not a TLP 2.0 level"));
    CHECK(refuse("receipts: optional\n", "receipts: optional\ngarbage\n", "garbage",
                 "\"garbage\" is not \"key: value\""));
    CHECK(refuse("max-tlp: amber\n", "max-tlp: amber \n", "max-tlp:", "trailing space"));

    /* line syntax */
    CHECK(refuse("title: Test agreement", "title:", "title:", "title: no value"));
    CHECK(refuse("max-tlp: amber", "max-tlp:amber", "max-tlp:",
                 "max-tlp: expected one space after the ':'"));
    CHECK(refuse("max-tlp: amber", "max-tlp:  amber", "max-tlp:",
                 "max-tlp: more than one space"));
    CHECK(refuse("max-tlp: amber", "Max-TLP: amber", "Max-TLP:",
                 "\"Max-TLP: amber\" is not \"key: value\""));
    CHECK(refuse("max-tlp: amber", " max-tlp: amber", " max-tlp:",
                 "line starts with a space"));
    CHECK(refuse("max-tlp: amber\n", "max-tlp: amber\r\n", "max-tlp:", "carriage return"));
    CHECK(refuse("max-tlp: amber", "max-tlp:\tamber", "max-tlp:", "TAB character at column 9"));
    CHECK(refuse("title: Test agreement", "title: Test agr\xc3\xa9" "ement", "title:",
                 "byte 0xc3 at column 16 is not printable ASCII"));
    CHECK(refuse("# test MOU\nmoux-mou: 1\n", "# test MOU\n", "id:", "not a moux MOU"));
    CHECK(refuse("# test MOU\nmoux-mou: 1\n", "# test MOU\n[a-to-b]\n", "[a-to-b]",
                 "not a moux MOU"));

    /* sections */
    CHECK(refuse("[b-to-a]", "[b-to-c]", "[b-to-c]", "unknown section \"[b-to-c]\""));
    CHECK(refuse("[b-to-a]\ntypes: all", "[a-to-b]\ntypes: all", "[a-to-b]\ntypes: all",
                 "[a-to-b]: duplicate section (first at line 10)"));
    CHECK(refuse(s_b_to_a, "[b-to-a]\n# nothing yet\n", "[b-to-a]", "[b-to-a]: empty direction"));
    CHECK(refuse(s_a_to_b, "[a-to-b]\n\n", "[a-to-b]", "[a-to-b]: empty direction"));

    /* whole-file rules */
    char base[BIG], text[BIG];
    base_text(base, sizeof base, FPA, FPB);
    CHECK(refused_at(base, strlen(base) - 1, "receipts: optional", 0,
                     "the last line does not end with a newline"));
    CHECK(refused_at("", 0, NULL, 1, "empty file"));
    CHECK(refused_at("# only\n\n# comments\n", 19, NULL, 3, "not a moux MOU"));
    const char *hdr_end = strstr(base, "[a-to-b]");
    CHECK(refused_at(base, (size_t)(hdr_end - base), NULL, 9, "no direction"));
    CHECK(refused_at("moux-mou: 1\x00\n", 13, NULL, 1, "byte 0x00"));
    memset(text, 'x', sizeof text);
    memcpy(text, "title: ", 7);
    CHECK(refused_at(text, MOU_LINE_MAX + 2, NULL, 1, "line longer than 4096 bytes"));
    char *huge = calloc(1, MOU_MAX_BYTES + 2);
    CHECK(huge != NULL);
    if (huge) {
        memset(huge, '\n', MOU_MAX_BYTES + 1);
        CHECK(refused_at(huge, MOU_MAX_BYTES + 1, NULL, 1, "larger than 65536 bytes"));
        free(huge);
    }
    /* NULL err is allowed. */
    mou_t *m = (mou_t *)1;
    CHECK(mou_parse("x", 1, NULL, &m, NULL, 0) == -1 && m == NULL);
}

static void test_valid_at(void)
{
    char text[BIG], why[256];
    base_text(text, sizeof text, FPA, FPB);
    mou_t *m = parse_ok(text);
    CHECK(m != NULL);
    if (!m)
        return;
    uint64_t eff = mou_effective_ms(m), exp = mou_expires_ms(m);
    CHECK(mou_valid_at(m, eff - 1, why, sizeof why) == 0);
    CHECK_STR(why, "not yet effective (effective 2026-01-01T00:00:00.000Z)");
    CHECK(mou_valid_at(m, 0, NULL, 0) == 0);
    CHECK(mou_valid_at(m, eff, why, sizeof why) == 1 && why[0] == '\0');
    CHECK(mou_valid_at(m, exp - 1, why, sizeof why) == 1);
    CHECK(mou_valid_at(m, exp, why, sizeof why) == 0);
    CHECK_STR(why, "expired (expires 2027-01-01T00:00:00.000Z)");
    CHECK(mou_valid_at(m, exp + 86400000ull * 365, why, sizeof why) == 0);
    json_t *o = mou_to_json(m, exp);
    CHECK(o && json_is_false(json_object_get(o, "in_force")));
    CHECK(o && strncmp(json_string_value(json_object_get(o, "not_in_force")), "expired", 7) == 0);
    json_decref(o);
    mou_destroy(&m);
}

static void test_directions(void)
{
    char text[BIG];
    base_text(text, sizeof text, FPA, FPB);
    mou_t *m = parse_ok(text);
    CHECK(m != NULL);
    if (!m)
        return;
    const mou_dir_t *ab = mou_direction(m, "vn.ais", "us.cisa");
    const mou_dir_t *ba = mou_direction(m, "us.cisa", "vn.ais");
    CHECK(ab == mou_dir(m, MOU_A_TO_B) && ba == mou_dir(m, MOU_B_TO_A));
    CHECK(ab && strcmp(ab->from, "vn.ais") == 0 && strcmp(ab->to, "us.cisa") == 0);
    CHECK(ba && strcmp(ba->from, "us.cisa") == 0 && strcmp(ba->to, "vn.ais") == 0);
    CHECK(mou_direction(m, "vn.ais", "vn.ais") == NULL);
    CHECK(mou_direction(m, "vn.ais", "jp.cert") == NULL);
    CHECK(mou_direction(m, "jp.cert", "us.cisa") == NULL);
    CHECK(mou_direction(m, NULL, "us.cisa") == NULL);
    CHECK(mou_party_index(m, "vn.ais") == 0 && mou_party_index(m, "us.cisa") == 1);
    CHECK(mou_party_index(m, "jp.cert") == -1 && mou_party_index(m, NULL) == -1);
    CHECK_STR(mou_peer_of(m, "vn.ais"), "us.cisa");
    CHECK_STR(mou_peer_of(m, "us.cisa"), "vn.ais");
    CHECK(mou_peer_of(m, "jp.cert") == NULL);
    if (!ab || !ba) {
        mou_destroy(&m);
        return;
    }
    /* types and TLP */
    CHECK(ab->types == ((1u << IND_IPV4) | (1u << IND_DOMAIN) | (1u << IND_URL) |
                        (1u << IND_SHA256)));
    const char *nd[] = {"network-defense"}, *other[] = {"marketing", "x"};
    const char *both[] = {"marketing", "incident-response"};
    CHECK(mou_dir_check_item(ab, IND_IPV4, TLP_AMBER, 50, nd, 1) == MOU_ITEM_OK);
    CHECK(mou_dir_check_item(ab, IND_IPV6, TLP_CLEAR, 100, nd, 1) == MOU_ITEM_TYPE);
    CHECK(mou_dir_check_item(ab, IND_TYPE_COUNT, TLP_CLEAR, 100, nd, 1) == MOU_ITEM_TYPE);
    CHECK(mou_dir_check_item(ab, IND_URL, TLP_AMBER_STRICT, 100, nd, 1) == MOU_ITEM_TLP);
    CHECK(mou_dir_check_item(ab, IND_URL, TLP_RED, 100, nd, 1) == MOU_ITEM_TLP);
    CHECK(mou_dir_check_item(ab, IND_URL, TLP_GREEN, 49, nd, 1) == MOU_ITEM_CONFIDENCE);
    CHECK(mou_dir_check_item(ab, IND_URL, TLP_GREEN, 90, other, 2) == MOU_ITEM_PURPOSE);
    CHECK(mou_dir_check_item(ab, IND_URL, TLP_GREEN, 90, NULL, 0) == MOU_ITEM_PURPOSE);
    CHECK(mou_dir_check_item(ab, IND_URL, TLP_GREEN, 90, both, 2) == MOU_ITEM_OK);
    CHECK(mou_dir_check_item(ba, IND_EMAIL, TLP_GREEN, 0, NULL, 0) == MOU_ITEM_OK);
    CHECK(mou_dir_check_item(ba, IND_EMAIL, TLP_AMBER, 100, NULL, 0) == MOU_ITEM_TLP);
    CHECK_STR(mou_item_field(MOU_ITEM_TYPE), "types");
    CHECK_STR(mou_item_field(MOU_ITEM_TLP), "max-tlp");
    CHECK_STR(mou_item_field(MOU_ITEM_CONFIDENCE), "min-confidence");
    CHECK_STR(mou_item_field(MOU_ITEM_PURPOSE), "purposes");
    CHECK_STR(mou_item_field(MOU_ITEM_OK), "");
    /* onward */
    CHECK(ab->onward == MOU_ONWARD_NONE && !mou_dir_onward_allowed(ab, "vn.ncsc"));
    CHECK(ba->onward == MOU_ONWARD_AGENCIES);
    CHECK(mou_dir_onward_allowed(ba, "vn.ncsc") && mou_dir_onward_allowed(ba, "jp.cert"));
    CHECK(!mou_dir_onward_allowed(ba, "kr.krcert") && !mou_dir_onward_allowed(ba, NULL));
    CHECK_STR(mou_onward_name(MOU_ONWARD_NONE), "none");
    CHECK_STR(mou_onward_name(MOU_ONWARD_TLP), "tlp");
    CHECK_STR(mou_onward_name(MOU_ONWARD_AGENCIES), "agencies");
    char types[256];
    mou_types_format(ab->types, types, sizeof types);
    CHECK_STR(types, "ipv4-addr, domain-name, url, file:sha256");
    mou_types_format(ba->types, types, sizeof types);
    CHECK_STR(types, "all");
    mou_destroy(&m);

    /* onward "tlp" and a one-way MOU */
    char one[BIG], tmp[BIG];
    CHECK(replace(tmp, sizeof tmp, text, s_b_to_a, "") == 0);
    CHECK(replace(one, sizeof one, tmp, "onward: none", "onward: tlp") == 0);
    m = parse_ok(one);
    CHECK(m && mou_direction(m, "us.cisa", "vn.ais") == NULL);
    ab = m ? mou_direction(m, "vn.ais", "us.cisa") : NULL;
    CHECK(ab && ab->onward == MOU_ONWARD_TLP && mou_dir_onward_allowed(ab, "anyone.example"));
    mou_destroy(&m);
}

static void test_sign_verify(void)
{
    char text[BIG], err[1024], why[1024];
    char la[MOU_SIG_LINE_MAX + 1], lb[MOU_SIG_LINE_MAX + 1], lc[MOU_SIG_LINE_MAX + 1];
    char fa[FP_STRLEN], fb[FP_STRLEN], fc[FP_STRLEN];
    fp_of(s_ra, fa);
    fp_of(s_rb, fb);
    fp_of(s_rc, fc);
    signed_text(text, sizeof text);
    mou_t *m = parse_ok(text);
    CHECK(m != NULL);
    if (!m)
        return;
    int party = -9;
    /* Each root signs as its own party, found by fingerprint or named. */
    CHECK(mou_sign(m, s_ra, NULL, NULL, la, sizeof la, &party, err, sizeof err) == 0);
    CHECK(party == 0);
    CHECK(strncmp(la, "moux-mou-sig 1 vn.ais ", 22) == 0 && la[strlen(la) - 1] == '\n');
    CHECK(strlen(la) == 22 + 44 + 1 + 88 + 1);
    CHECK(mou_sign(m, s_rb, "us.cisa", NULL, lb, sizeof lb, &party, err, sizeof err) == 0);
    CHECK(party == 1);
    CHECK(strncmp(lb, "moux-mou-sig 1 us.cisa ", 23) == 0);
    CHECK(mou_verify_sig(m, la, strlen(la), NULL, &party, why, sizeof why) == 0 && party == 0);
    CHECK(mou_verify_sig(m, lb, strlen(lb), NULL, &party, why, sizeof why) == 0 && party == 1);
    /* The signature is Ed25519 over "moux/mou/1" || SHA-256(bytes). */
    char agency[AGENCY_MAX + 1];
    unsigned char pk[32], sig[64];
    CHECK(mou_sig_parse(la, strlen(la), agency, pk, sig, why, sizeof why) == 0);
    CHECK_STR(agency, "vn.ais");
    CHECK(memcmp(pk, s_ra->pk, 32) == 0);
    CHECK(ctxsig_verify("moux/mou/1", mou_hash_bytes(m), 32, s_ra->pk, sig) == 0);

    /* Refused signers. */
    char want[512];
    CHECK(mou_sign(m, s_ra, "us.cisa", "a.key", lc, sizeof lc, NULL, err, sizeof err) == -1);
    snprintf(want, sizeof want, "a.key is not party-b us.cisa's root (fingerprint %s, the MOU "
             "says %s)", fa, fb);
    CHECK_STR(err, want);
    CHECK(mou_sign(m, s_rc, NULL, "c.key", lc, sizeof lc, &party, err, sizeof err) == -1);
    CHECK(party == -1);
    snprintf(want, sizeof want, "c.key is not the root of either party (fingerprint %s; the "
             "MOU says party-a vn.ais %s, party-b us.cisa %s)", fc, fa, fb);
    CHECK_STR(err, want);
    CHECK(mou_sign(m, s_ra, "jp.cert", NULL, lc, sizeof lc, NULL, err, sizeof err) == -1);
    CHECK(strstr(err, "jp.cert is not a party") != NULL);
    CHECK(mou_sign(m, s_ra, NULL, NULL, lc, 100, NULL, err, sizeof err) == -1);

    /* A forged signature: the stranger's root, claiming to be vn.ais. */
    uint8_t fsig[64];
    char pkb[64], sigb[128], forged[MOU_SIG_LINE_MAX + 1];
    CHECK(ctxsig_sign(MOU_SIG_CONTEXT, mou_hash_bytes(m), 32, s_rc->sk, fsig) == 0);
    b64_encode(s_rc->pk, 32, pkb, sizeof pkb);
    b64_encode(fsig, 64, sigb, sizeof sigb);
    snprintf(forged, sizeof forged, "moux-mou-sig 1 vn.ais %s %s\n", pkb, sigb);
    CHECK(mou_verify_sig(m, forged, strlen(forged), NULL, &party, why, sizeof why) == -1);
    CHECK(party == 0);
    snprintf(want, sizeof want, "signed by a root with fingerprint %s, but the MOU states %s "
             "for party-a vn.ais", fc, fa);
    CHECK_STR(why, want);
    /* vn.ais's public key with the stranger's signature. */
    b64_encode(s_ra->pk, 32, pkb, sizeof pkb);
    snprintf(forged, sizeof forged, "moux-mou-sig 1 vn.ais %s %s\n", pkb, sigb);
    CHECK(mou_verify_sig(m, forged, strlen(forged), NULL, &party, why, sizeof why) == -1);
    CHECK(strstr(why, "the signature does not verify") != NULL);
    /* vn.ais's signature presented as us.cisa's. */
    char swapped[MOU_SIG_LINE_MAX + 1];
    CHECK(replace(swapped, sizeof swapped, la, " vn.ais ", " us.cisa ") == 0);
    CHECK(mou_verify_sig(m, swapped, strlen(swapped), NULL, &party, why, sizeof why) == -1);
    CHECK(party == 1 && strstr(why, "but the MOU states") != NULL);
    /* A signature for another context (a certificate, say) does not verify. */
    CHECK(ctxsig_sign(CTX_CERT, mou_hash_bytes(m), 32, s_ra->sk, fsig) == 0);
    b64_encode(fsig, 64, sigb, sizeof sigb);
    snprintf(forged, sizeof forged, "moux-mou-sig 1 vn.ais %s %s\n", pkb, sigb);
    CHECK(mou_verify_sig(m, forged, strlen(forged), NULL, &party, why, sizeof why) == -1);
    /* A party not in the MOU. */
    CHECK(replace(swapped, sizeof swapped, la, " vn.ais ", " jp.cert ") == 0);
    CHECK(mou_verify_sig(m, swapped, strlen(swapped), NULL, &party, why, sizeof why) == -1);
    CHECK(party == -1 && strstr(why, "signed as jp.cert, which is not a party") != NULL);

    /* Pins: the root the node holds for the party must be the signer. */
    const unsigned char *pins_ok[2] = {s_ra->pk, s_rb->pk}, *pins_bad[2] = {s_rc->pk, NULL};
    CHECK(mou_verify_sig(m, la, strlen(la), pins_ok, &party, why, sizeof why) == 0);
    CHECK(mou_verify_sig(m, lb, strlen(lb), pins_ok, &party, why, sizeof why) == 0);
    CHECK(mou_verify_sig(m, la, strlen(la), pins_bad, &party, why, sizeof why) == -1);
    snprintf(want, sizeof want, "vn.ais's root in this MOU (fingerprint %s) is not the root "
             "this node has pinned for vn.ais (fingerprint %s)", fa, fc);
    CHECK_STR(why, want);
    CHECK(mou_verify_sig(m, lb, strlen(lb), pins_bad, &party, why, sizeof why) == 0);

    /* One changed byte after signing (even in a comment) voids both. */
    char changed[BIG];
    CHECK(replace(changed, sizeof changed, text, "# test MOU", "# test MOV") == 0);
    mou_t *m2 = parse_ok(changed);
    CHECK(m2 != NULL);
    if (m2) {
        CHECK(memcmp(mou_hash_bytes(m2), mou_hash_bytes(m), 32) != 0);
        CHECK(mou_verify_sig(m2, la, strlen(la), NULL, &party, why, sizeof why) == -1);
        CHECK(strstr(why, "the signature does not verify: the MOU was changed after vn.ais "
                          "signed it") != NULL);
        CHECK(mou_verify_sig(m2, lb, strlen(lb), NULL, &party, why, sizeof why) == -1);
    }
    mou_destroy(&m2);

    /* Signature lines are strict. */
    size_t n = strlen(la);
    char bad[MOU_SIG_LINE_MAX + 8];
    CHECK(mou_verify_sig(m, la, n - 1, NULL, &party, why, sizeof why) == -1); /* no newline */
    snprintf(bad, sizeof bad, "%s\n", la);
    CHECK(mou_verify_sig(m, bad, n + 1, NULL, &party, why, sizeof why) == -1); /* two */
    snprintf(bad, sizeof bad, "%.*s x\n", (int)n - 1, la);
    CHECK(mou_verify_sig(m, bad, strlen(bad), NULL, &party, why, sizeof why) == -1);
    CHECK(replace(bad, sizeof bad, la, "moux-mou-sig 1 ", "moux-mou-sig 2 ") == 0);
    CHECK(mou_verify_sig(m, bad, n, NULL, &party, why, sizeof why) == -1);
    CHECK(strstr(why, "version \"2\" is not supported") != NULL);
    CHECK(replace(bad, sizeof bad, la, " vn.ais ", "  vn.ais ") == 0);
    CHECK(mou_verify_sig(m, bad, n + 1, NULL, &party, why, sizeof why) == -1);
    CHECK(replace(bad, sizeof bad, la, "moux-mou-sig", "moux-mou-sog") == 0);
    CHECK(mou_verify_sig(m, bad, n, NULL, &party, why, sizeof why) == -1);
    memcpy(bad, la, n + 1);
    bad[n - 3] = '!'; /* inside the base64 signature */
    CHECK(mou_verify_sig(m, bad, n, NULL, &party, why, sizeof why) == -1);
    CHECK(strstr(why, "not base64 of 64 bytes") != NULL);
    CHECK(mou_verify_sig(m, "\n", 1, NULL, &party, why, sizeof why) == -1);
    CHECK(mou_verify_sig(m, "", 0, NULL, &party, why, sizeof why) == -1);
    mou_destroy(&m);
}

static void test_cli(void)
{
    char text[BIG], path[512], sa[600], sb[600], ka[512], kb[512], kc[512], out[512];
    char err[512], buf[BIG];
    signed_text(text, sizeof text);
    tmp_path(path, sizeof path, "ab.mou");
    tmp_path(ka, sizeof ka, "a.key");
    tmp_path(kb, sizeof kb, "b.key");
    tmp_path(kc, sizeof kc, "c.key");
    tmp_path(out, sizeof out, "out.txt");
    snprintf(sa, sizeof sa, "%s.vn.ais.sig", path);
    snprintf(sb, sizeof sb, "%s.us.cisa.sig", path);
    CHECK(write_file(path, text, strlen(text)) == 0);
    CHECK(rootkey_save(s_ra, ka, NULL, 0, err, sizeof err) == 0);
    CHECK(rootkey_save(s_rb, kb, NULL, 0, err, sizeof err) == 0);
    CHECK(rootkey_save(s_rc, kc, NULL, 0, err, sizeof err) == 0);

    CHECK(run_mou(out, "check", path, NULL) == 0);
    CHECK(read_file(out, buf, sizeof buf) > 0 && strstr(buf, "a valid MOU") != NULL);
    CHECK(strstr(buf, "onward          only to vn.ncsc, jp.cert") != NULL);
    CHECK(run_mou(out, "check", path, "--json", NULL) == 0);
    json_error_t je;
    json_t *o = json_load_file(out, 0, &je);
    CHECK(o && strcmp(json_string_value(json_object_get(o, "id")), "vn.ais--us.cisa-2026-01") ==
                   0);
    json_decref(o);
    CHECK(run_mou(out, "hash", path, NULL) == 0);
    unsigned char h[32];
    char hex[65];
    mou_hash(text, strlen(text), h);
    hex_encode(h, 32, hex);
    CHECK(read_file(out, buf, sizeof buf) == 65 && strncmp(buf, hex, 64) == 0);

    /* Unsigned, then one signature: verify refuses and says which. */
    CHECK(run_mou(out, "verify", path, NULL) == 1);
    CHECK(run_mou(out, "sign", path, "--root", kc, NULL) == 1); /* not a party's root */
    CHECK(access(sa, F_OK) != 0 && access(sb, F_OK) != 0);
    CHECK(run_mou(out, "sign", path, "--root", kb, "--agency", "vn.ais", NULL) == 1);
    CHECK(run_mou(out, "sign", path, "--root", ka, NULL) == 0);
    CHECK(read_file(sa, buf, sizeof buf) == 22 + 44 + 1 + 88 + 1);
    CHECK(run_mou(out, "verify", path, NULL) == 1);
    CHECK(read_file(out, buf, sizeof buf) > 0);
    CHECK(strstr(buf, "party-a vn.ais: valid signature") != NULL);
    CHECK(strstr(buf, "party-b us.cisa: no signature") != NULL);
    CHECK(strstr(buf, "NOT signed by both parties") != NULL);
    /* Signing again is idempotent (Ed25519 is deterministic). */
    CHECK(run_mou(out, "sign", path, "--root", ka, NULL) == 0);
    CHECK(run_mou(out, "sign", path, "--root", kb, NULL) == 0);
    CHECK(run_mou(out, "verify", path, NULL) == 0);
    CHECK(read_file(out, buf, sizeof buf) > 0 && strstr(buf, "signed by both parties") != NULL);
    CHECK(run_mou(out, "verify", path, "--sig", sa, "--sig", sb, "--json", NULL) == 0);
    o = json_load_file(out, 0, &je);
    CHECK(o && json_is_true(json_object_get(o, "valid")));
    json_decref(o);
    CHECK(run_mou(out, "verify", path, "--sig", sa, NULL) == 1);

    /* A changed byte: both signatures fail; re-signing needs --force. */
    char changed[BIG];
    CHECK(replace(changed, sizeof changed, text, "retention-days: 90", "retention-days: 99") == 0);
    CHECK(write_file(path, changed, strlen(changed)) == 0);
    CHECK(run_mou(out, "verify", path, "--json", NULL) == 1);
    o = json_load_file(out, 0, &je);
    json_t *parties = o ? json_object_get(o, "parties") : NULL;
    CHECK(json_array_size(parties) == 2);
    for (size_t i = 0; i < json_array_size(parties); i++)
        CHECK_STR(json_string_value(json_object_get(json_array_get(parties, i), "signature")),
                  "invalid");
    json_decref(o);
    CHECK(run_mou(out, "sign", path, "--root", ka, NULL) == 1);
    CHECK(run_mou(out, "sign", path, "--root", ka, "--force", NULL) == 0);
    CHECK(run_mou(out, "verify", path, NULL) == 1);
    CHECK(read_file(out, buf, sizeof buf) > 0 && strstr(buf, "party-a vn.ais: valid") &&
          strstr(buf, "party-b us.cisa: INVALID signature"));
    CHECK(write_file(path, text, strlen(text)) == 0);

    /* A refusal names the file, the line and the field. */
    char badpath[512];
    tmp_path(badpath, sizeof badpath, "bad.mou");
    CHECK(replace(changed, sizeof changed, text, "max-tlp: green", "max-tlp: grey") == 0);
    CHECK(write_file(badpath, changed, strlen(changed)) == 0);
    CHECK(run_mou(out, "check", badpath, NULL) == 1);
    CHECK(run_mou(out, "check", "/nonexistent/x.mou", NULL) == 1);
    CHECK(run_mou(out, "check", NULL) == 2);
    CHECK(run_mou(out, "frobnicate", NULL) == 2);

    /* The template fails on its placeholders, then passes once filled. */
    char tpl[512];
    tmp_path(tpl, sizeof tpl, "new.mou");
    CHECK(run_mou(tpl, "new", NULL) == 0);
    char msg[1024];
    mou_t *m = NULL;
    CHECK(mou_load(tpl, &m, msg, sizeof msg) == -1);
    CHECK(strstr(msg, ": id: template placeholder \"<agency-a>\" not filled in") != NULL);
    char fa[FP_STRLEN], fb[FP_STRLEN];
    fp_of(s_ra, fa);
    fp_of(s_rb, fb);
    CHECK(run_mou(tpl, "new", "--a", "vn.ais", "--a-fp", fa, "--b", "us.cisa", "--b-fp", fb,
                  NULL) == 0);
    CHECK(mou_load(tpl, &m, msg, sizeof msg) == -1);
    CHECK(strstr(msg, ": title: template placeholder") != NULL);
    long len = read_file(tpl, buf, sizeof buf);
    CHECK(len > 0 && replace(changed, sizeof changed, buf, "<what this agreement is, in one "
                             "line>", "Filled in") == 0);
    CHECK(write_file(tpl, changed, strlen(changed)) == 0);
    CHECK(mou_load(tpl, &m, msg, sizeof msg) == 0);
    if (!m)
        fprintf(stderr, "  %s\n", msg);
    CHECK(m && mou_dir(m, 0) && mou_dir(m, 1) && mou_valid_at(m, now_ms(), NULL, 0));
    CHECK(m && strcmp(mou_party_fp_text(m, 0), fa) == 0);
    mou_destroy(&m);
    CHECK(run_mou(out, "new", "--a", "Bad", NULL) == 1);
    CHECK(run_mou(out, "new", "--a-fp", "nope", NULL) == 1);
}

/* verify -d DIR: the roots the node has pinned (its own, a partner's). */
static void test_node_pins(void)
{
    char dir[512], path[600], err[512], mou_path[600], out[600];
    tmp_path(dir, sizeof dir, "node");
    CHECK(mkdir(dir, 0700) == 0);
    snprintf(path, sizeof path, "%s/moux.conf", dir);
    const char *conf = "agency = vn.ais\nlisten = tcp://127.0.0.1:7101\n";
    CHECK(write_file(path, conf, strlen(conf)) == 0);
    snprintf(path, sizeof path, "%s/keys", dir);
    CHECK(mkdir(path, 0700) == 0);
    store_t *st = store_open(dir, STORE_RW, err, sizeof err);
    CHECK(st != NULL);

    char text[BIG];
    signed_text(text, sizeof text);
    mou_t *m = parse_ok(text);
    CHECK(m != NULL);
    if (!m || !st) {
        store_destroy(&st);
        mou_destroy(&m);
        return;
    }
    unsigned char pk[2][32];
    int pinned[2] = {9, 9};
    char own[AGENCY_MAX + 1];
    CHECK(mou_node_pins(dir, m, pk, pinned, own, err, sizeof err) == 0);
    CHECK(pinned[0] == 0 && pinned[1] == 0);
    CHECK_STR(own, "vn.ais");
    snprintf(path, sizeof path, "%s/keys/root.pub", dir);
    CHECK(keyfile_write(path, "moux-root-public", s_ra->pk, 32, 0) == KEY_OK);
    CHECK(mou_node_pins(dir, m, pk, pinned, NULL, err, sizeof err) == 0);
    CHECK(pinned[0] == 1 && pinned[1] == 0 && memcmp(pk[0], s_ra->pk, 32) == 0);

    /* us.cisa becomes a partner pinned to a root: first the stranger's. */
    cert_t c;
    memset(&c, 0, sizeof c);
    str_copy(c.agency, sizeof c.agency, "us.cisa");
    str_copy(c.endpoint, sizeof c.endpoint, "tcp://192.0.2.9:7101");
    randombytes_buf(c.sign_pk, 32);
    randombytes_buf(c.enc_pk, 32);
    randombytes_buf(c.curve_pk, 32);
    c.serial = 1;
    c.not_before_ms = now_ms() - 60000;
    c.not_after_ms = now_ms() + 86400000ull;
    partner_t p;
    memset(&p, 0, sizeof p);
    str_copy(p.agency, sizeof p.agency, "us.cisa");
    str_copy(p.endpoint, sizeof p.endpoint, c.endpoint);
    memcpy(p.sign_pk, c.sign_pk, 32);
    memcpy(p.enc_pk, c.enc_pk, 32);
    memcpy(p.curve_pk, c.curve_pk, 32);
    p.cert_serial = 1;
    p.cert_not_after_ms = c.not_after_ms;
    p.added_ms = now_ms();
    uint8_t *raw = NULL;
    size_t rawlen = 0;
    CHECK(cert_issue(&c, s_rc, &raw, &rawlen) == 0);
    memcpy(p.root_pk, s_rc->pk, 32);
    fp_of(s_rc, p.fingerprint);
    CHECK(store_partner_upsert(st, &p, raw, rawlen) == 0);
    free(raw);

    snprintf(mou_path, sizeof mou_path, "%s/ab.mou", s_tmp);
    snprintf(out, sizeof out, "%s/out.txt", s_tmp);
    CHECK(write_file(mou_path, text, strlen(text)) == 0);
    CHECK(write_file(mou_path, text, strlen(text)) == 0);
    char ka[600], kb[600];
    snprintf(ka, sizeof ka, "%s/a.key", s_tmp);
    snprintf(kb, sizeof kb, "%s/b.key", s_tmp);
    CHECK(run_mou(out, "sign", mou_path, "--root", ka, "--force", NULL) == 0);
    CHECK(run_mou(out, "sign", mou_path, "--root", kb, "--force", NULL) == 0);
    CHECK(run_mou(out, "verify", mou_path, NULL) == 0);
    CHECK(run_mou(out, "verify", mou_path, "-d", dir, NULL) == 1);
    char buf[BIG];
    CHECK(read_file(out, buf, sizeof buf) > 0);
    CHECK(strstr(buf, "party-a vn.ais: valid signature") != NULL);
    CHECK(strstr(buf, "is not the root this node has pinned for us.cisa") != NULL);

    /* Then the right root. */
    raw = NULL;
    CHECK(cert_issue(&c, s_rb, &raw, &rawlen) == 0);
    memcpy(p.root_pk, s_rb->pk, 32);
    fp_of(s_rb, p.fingerprint);
    CHECK(store_partner_upsert(st, &p, raw, rawlen) == 0);
    free(raw);
    CHECK(mou_node_pins(dir, m, pk, pinned, NULL, err, sizeof err) == 0);
    CHECK(pinned[0] == 1 && pinned[1] == 1 && memcmp(pk[1], s_rb->pk, 32) == 0);
    CHECK(run_mou(out, "verify", mou_path, "-d", dir, NULL) == 0);
    CHECK(read_file(out, buf, sizeof buf) > 0 && strstr(buf, "the root this node has pinned"));

    /* Without its own root.pub the node cannot accept its own signature. */
    snprintf(path, sizeof path, "%s/keys/root.pub", dir);
    CHECK(unlink(path) == 0);
    CHECK(run_mou(out, "verify", mou_path, "-d", dir, NULL) == 1);
    CHECK(read_file(out, buf, sizeof buf) > 0 && strstr(buf, "NOT ACCEPTED"));
    CHECK(mou_node_pins("/nonexistent", m, pk, pinned, NULL, err, sizeof err) == -1);
    store_destroy(&st);
    mou_destroy(&m);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    snprintf(s_tmp, sizeof s_tmp, "/tmp/moux-test-mou-XXXXXX");
    if (!mkdtemp(s_tmp))
        return 1;
    s_ra = rootkey_generate();
    s_rb = rootkey_generate();
    s_rc = rootkey_generate();
    if (!s_ra || !s_rb || !s_rc)
        return 1;
    RUN(test_examples);
    RUN(test_base_parses);
    RUN(test_refusals);
    RUN(test_valid_at);
    RUN(test_directions);
    RUN(test_sign_verify);
    RUN(test_cli);
    RUN(test_node_pins);
    rootkey_destroy(&s_ra);
    rootkey_destroy(&s_rb);
    rootkey_destroy(&s_rc);
    rm_rf(s_tmp);
    return TEST_DONE();
}
