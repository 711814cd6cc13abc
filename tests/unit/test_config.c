/* The configuration file, agency ids and endpoints, and the shared helpers in
 * util.h (time, hex, base64, strings). */
#include "config.h"
#include "indicator.h"
#include "test.h"
#include "util.h"

#include <dirent.h>
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static char s_conf[128]; /* s_tmp/moux.conf */

/* ---- helpers ---- */

/* Replaces s_tmp/moux.conf with text. */
static void write_conf(const char *text)
{
    FILE *f = fopen(s_conf, "w");
    CHECK(f != NULL);
    if (!f)
        return;
    fputs(text, f);
    fclose(f);
}

/* Loads text as the node's configuration; returns config_load's result. */
static int load_text(const char *text, config_t *cfg, char *err, size_t errlen)
{
    write_conf(text);
    err[0] = '\0';
    return config_load(s_tmp, cfg, err, errlen);
}

/* Expects text refused with "s_tmp/moux.conf:LINE: what" (line > 0) or
 * "s_tmp/moux.conf: what" (line 0). */
static void expect_refused(const char *text, int line, const char *what)
{
    config_t cfg;
    char err[1024], want[512];
    CHECK(load_text(text, &cfg, err, sizeof err) == -1);
    if (line > 0)
        snprintf(want, sizeof want, "%s:%d: %s", s_conf, line, what);
    else
        snprintf(want, sizeof want, "%s: %s", s_conf, what);
    if (strncmp(err, want, strlen(want)) != 0) {
        fprintf(stderr, "  expected \"%s...\", got \"%s\"\n", want, err);
        CHECK(!"error names the file, line and key");
    }
}

#define BASE "agency = vn.ais\nlisten = tcp://127.0.0.1:7101\n"

/* ---- config file ---- */

static void test_write_new_then_load_round_trip(void)
{
    config_t cfg, back;
    char err[1024] = "";
    memset(&cfg, 0, sizeof cfg);
    str_copy(cfg.dir, sizeof cfg.dir, s_tmp);
    str_copy(cfg.agency, sizeof cfg.agency, "vn.ais");
    str_copy(cfg.listen, sizeof cfg.listen, "tcp://*:7101");
    str_copy(cfg.endpoint, sizeof cfg.endpoint, "tcp://203.0.113.5:7101");
    unlink(s_conf);
    CHECK(config_write_new(&cfg, err, sizeof err) == 0);
    struct stat st;
    CHECK(stat(s_conf, &st) == 0 && (st.st_mode & 0777) == 0600);
    CHECK(config_load(s_tmp, &back, err, sizeof err) == 0);
    CHECK_STR(back.dir, s_tmp);
    CHECK_STR(back.agency, "vn.ais");
    CHECK_STR(back.listen, "tcp://*:7101");
    CHECK_STR(back.endpoint, "tcp://203.0.113.5:7101");
    /* Everything else is at its default. */
    CHECK(back.max_message_bytes == 4 * 1024 * 1024);
    CHECK(back.clock_skew_seconds == 300);
    CHECK(back.batch_max_items == 512);
    CHECK(back.max_inflight_batches == 32);
    CHECK(back.retry_initial_ms == 2000);
    CHECK(back.retry_max_ms == 60000);
    CHECK(back.heartbeat_ms == 2000);
    CHECK_STR(back.log_level, "info");
}

static void test_endpoint_defaults_to_listen(void)
{
    config_t cfg, back;
    char err[1024] = "";
    memset(&cfg, 0, sizeof cfg);
    str_copy(cfg.dir, sizeof cfg.dir, s_tmp);
    str_copy(cfg.agency, sizeof cfg.agency, "b.example");
    str_copy(cfg.listen, sizeof cfg.listen, "tcp://127.0.0.1:7102");
    unlink(s_conf);
    CHECK(config_write_new(&cfg, err, sizeof err) == 0);
    CHECK(config_load(s_tmp, &back, err, sizeof err) == 0);
    CHECK_STR(back.endpoint, "tcp://127.0.0.1:7102");
}

static void test_write_new_never_overwrites(void)
{
    config_t cfg;
    char err[1024] = "";
    write_conf("# hand-edited\n" BASE);
    memset(&cfg, 0, sizeof cfg);
    str_copy(cfg.dir, sizeof cfg.dir, s_tmp);
    str_copy(cfg.agency, sizeof cfg.agency, "other");
    str_copy(cfg.listen, sizeof cfg.listen, "tcp://127.0.0.1:9");
    CHECK(config_write_new(&cfg, err, sizeof err) == -1);
    CHECK(strstr(err, "moux.conf") != NULL);
    config_t back;
    CHECK(config_load(s_tmp, &back, err, sizeof err) == 0);
    CHECK_STR(back.agency, "vn.ais");
}

static void test_missing_file_refused(void)
{
    config_t cfg;
    char dir[128], err[1024] = "";
    snprintf(dir, sizeof dir, "%s/no-such-node", s_tmp);
    CHECK(config_load(dir, &cfg, err, sizeof err) == -1);
    CHECK(strstr(err, "no-such-node/moux.conf") != NULL);
    CHECK(strstr(err, "moux init") != NULL);
}

static void test_all_keys_comments_and_blank_lines(void)
{
    config_t cfg;
    char err[1024] = "";
    const char *text = "# a comment\n"
                       "\n"
                       "   # an indented comment\n"
                       "agency=vn.ais\n"
                       "\tlisten   =   tcp://0.0.0.0:7101  \n"
                       "endpoint = tcp://moux.vn.example:443\n"
                       "  \t \n"
                       "max_message_bytes = 1048576\n"
                       "clock_skew_seconds = 86400\n"
                       "batch_max_items = 1\n"
                       "max_inflight_batches = 256\n"
                       "retry_initial_ms = 100\n"
                       "retry_max_ms = 3600000\n"
                       "heartbeat_ms = 600000\n"
                       "log_level = debug"; /* no final newline */
    CHECK(load_text(text, &cfg, err, sizeof err) == 0);
    CHECK_STR(err, "");
    CHECK_STR(cfg.agency, "vn.ais");
    CHECK_STR(cfg.listen, "tcp://0.0.0.0:7101");
    CHECK_STR(cfg.endpoint, "tcp://moux.vn.example:443");
    CHECK(cfg.max_message_bytes == 1048576);
    CHECK(cfg.clock_skew_seconds == 86400);
    CHECK(cfg.batch_max_items == 1);
    CHECK(cfg.max_inflight_batches == 256);
    CHECK(cfg.retry_initial_ms == 100);
    CHECK(cfg.retry_max_ms == 3600000);
    CHECK(cfg.heartbeat_ms == 600000);
    CHECK_STR(cfg.log_level, "debug");
}

static void test_unknown_key_refused(void)
{
    expect_refused(BASE "colour = blue\n", 3, "colour: unknown key");
    expect_refused("# first\n" BASE "\nAgency = vn.ais\n", 5, "Agency: unknown key");
}

static void test_out_of_range_number_refused(void)
{
    expect_refused(BASE "batch_max_items = 1025\n", 3, "batch_max_items: out of range");
    expect_refused(BASE "batch_max_items = 0\n", 3, "batch_max_items: out of range");
    expect_refused(BASE "heartbeat_ms = 99\n", 3, "heartbeat_ms: out of range");
    expect_refused(BASE "max_message_bytes = -1\n", 3, "max_message_bytes: out of range");
    expect_refused(BASE "clock_skew_seconds = 4\n", 3, "clock_skew_seconds: out of range");
}

static void test_not_a_number_refused(void)
{
    expect_refused(BASE "clock_skew_seconds = 5m\n", 3, "clock_skew_seconds: not a whole number");
    expect_refused(BASE "clock_skew_seconds =\n", 3, "clock_skew_seconds: not a whole number");
    expect_refused(BASE "batch_max_items = 0x10\n", 3, "batch_max_items: not a whole number");
    expect_refused(BASE "batch_max_items = 1e3\n", 3, "batch_max_items: not a whole number");
    expect_refused(BASE "batch_max_items = 12 34\n", 3, "batch_max_items: not a whole number");
    expect_refused(BASE "retry_max_ms = 99999999999999999999999\n", 3,
                   "retry_max_ms: not a whole number");
}

static void test_missing_or_invalid_agency_refused(void)
{
    expect_refused("listen = tcp://127.0.0.1:7101\n", 0, "agency: missing or invalid");
    expect_refused("agency = VN.AIS\nlisten = tcp://127.0.0.1:7101\n", 0,
                   "agency: missing or invalid");
    expect_refused("agency =\nlisten = tcp://127.0.0.1:7101\n", 0, "agency: missing or invalid");
    /* Longer than the field: refused on its line. */
    char text[256];
    snprintf(text, sizeof text, "agency = %065d\nlisten = tcp://127.0.0.1:7101\n", 0);
    expect_refused(text, 1, "agency: value too long");
    snprintf(text, sizeof text, "agency = %064d\nlisten = tcp://127.0.0.1:7101\n", 0);
    config_t cfg;
    char err[1024];
    CHECK(load_text(text, &cfg, err, sizeof err) == 0); /* 64 is the limit */
}

static void test_bad_listen_endpoint_refused(void)
{
    expect_refused("agency = vn.ais\n", 0, "listen: missing or not tcp://HOST:PORT");
    expect_refused("agency = vn.ais\nlisten = ipc:///tmp/moux.sock\n", 0,
                   "listen: missing or not tcp://HOST:PORT");
    expect_refused("agency = vn.ais\nlisten = tcp://127.0.0.1\n", 0,
                   "listen: missing or not tcp://HOST:PORT");
    expect_refused(BASE "endpoint = udp://127.0.0.1:7101\n", 0,
                   "endpoint: not tcp://HOST:PORT");
}

static void test_bad_log_level_refused(void)
{
    expect_refused(BASE "log_level = verbose\n", 0, "log_level: must be");
    expect_refused(BASE "log_level = INFO\n", 0, "log_level: must be");
}

static void test_line_without_equals_refused(void)
{
    expect_refused(BASE "batch_max_items 20\n", 3, "expected \"key = value\"");
    expect_refused("agency vn.ais\n", 1, "expected \"key = value\"");
}

static void test_overlong_line_refused(void)
{
    char text[2048];
    int n = snprintf(text, sizeof text, BASE "# ");
    memset(text + n, 'x', 1500);
    strcpy(text + n + 1500, "\n");
    expect_refused(text, 3, "line too long");
}

static void test_later_line_wins(void)
{
    config_t cfg;
    char err[1024];
    CHECK(load_text(BASE "batch_max_items = 10\nbatch_max_items = 20\n", &cfg, err,
                    sizeof err) == 0);
    CHECK(cfg.batch_max_items == 20);
}

/* ---- agency ids, endpoints, paths ---- */

static void test_agency_id_valid(void)
{
    CHECK(agency_id_valid("a"));
    CHECK(agency_id_valid("0"));
    CHECK(agency_id_valid("vn.ais"));
    CHECK(agency_id_valid("cert-vn.gov.vn"));
    CHECK(agency_id_valid("9abc-.x"));
    char id[80];
    memset(id, 'a', 64);
    id[64] = '\0';
    CHECK(agency_id_valid(id)); /* 64 characters */
    id[64] = 'a';
    id[65] = '\0';
    CHECK(!agency_id_valid(id)); /* 65 */

    CHECK(!agency_id_valid(""));
    CHECK(!agency_id_valid("-a"));
    CHECK(!agency_id_valid(".a"));
    CHECK(!agency_id_valid("A"));
    CHECK(!agency_id_valid("UPPER"));
    CHECK(!agency_id_valid("aB"));
    CHECK(!agency_id_valid("a_b"));
    CHECK(!agency_id_valid("a b"));
    CHECK(!agency_id_valid("a/b"));
    CHECK(!agency_id_valid("a:b"));
    CHECK(!agency_id_valid("a\n"));
    CHECK(!agency_id_valid("caf\xc3\xa9"));
    /* "local" means "published here" in queries, so no agency may be called that. */
    CHECK(!agency_id_valid("local"));
    CHECK(agency_id_valid("local.cert"));
}

static void test_endpoint_valid(void)
{
    CHECK(endpoint_valid("tcp://127.0.0.1:7101"));
    CHECK(endpoint_valid("tcp://*:7101"));
    CHECK(endpoint_valid("tcp://moux.example.org:1"));
    CHECK(endpoint_valid("tcp://h:65535"));
    CHECK(endpoint_valid("tcp://[::1]:7101"));

    CHECK(!endpoint_valid(""));
    CHECK(!endpoint_valid("tcp://"));
    CHECK(!endpoint_valid("tcp://h"));
    CHECK(!endpoint_valid("tcp://h:"));
    CHECK(!endpoint_valid("tcp://:7101"));
    CHECK(!endpoint_valid("tcp://h:65536"));
    CHECK(!endpoint_valid("tcp://h:-1"));
    CHECK(!endpoint_valid("tcp://h:80x"));
    CHECK(!endpoint_valid("tcp://h:99999999999999999999"));
    CHECK(!endpoint_valid("ipc:///tmp/moux.sock"));
    CHECK(!endpoint_valid("inproc://moux"));
    CHECK(!endpoint_valid("TCP://h:7101"));
    CHECK(!endpoint_valid("tcp:/h:7101"));
    CHECK(!endpoint_valid("udp://h:7101"));
    char long_ep[300];
    int n = snprintf(long_ep, sizeof long_ep, "tcp://");
    memset(long_ep + n, 'h', 250);
    strcpy(long_ep + n + 250, ":7101"); /* 261 bytes: longer than ENDPOINT_MAX */
    CHECK(!endpoint_valid(long_ep));
    /* Port 0 and anything strtol would forgive are not endpoints. */
    CHECK(!endpoint_valid("tcp://127.0.0.1:0"));
    CHECK(!endpoint_valid("tcp://h: 80"));
    CHECK(!endpoint_valid("tcp://h:+80"));
    CHECK(!endpoint_valid("tcp://h:-0"));
    CHECK(endpoint_valid("tcp://h:1") && endpoint_valid("tcp://h:65535"));
}

static void test_node_path(void)
{
    char out[32];
    CHECK(node_path("/var/moux", "store.db", out, sizeof out) == 0);
    CHECK_STR(out, "/var/moux/store.db");
    CHECK(node_path("/var/lib/moux/some/long/dir", "moux.conf", out, sizeof out) == -1);
    CHECK(node_path("/a", "b", out, 5) == 0);  /* "/a/b" + NUL fits exactly */
    CHECK(node_path("/a", "bc", out, 5) == -1);
}

/* ---- util.h: time ---- */

static uint64_t parsed(const char *text)
{
    uint64_t ms = UINT64_MAX;
    return parse_time_ms(text, &ms) == 0 ? ms : UINT64_MAX;
}

static void test_format_time_known_values(void)
{
    char out[32];
    format_time_ms(0, out);
    CHECK_STR(out, "1970-01-01T00:00:00.000Z");
    format_time_ms(1700000000000ull, out);
    CHECK_STR(out, "2023-11-14T22:13:20.000Z");
    format_time_ms(1700000000007ull, out);
    CHECK_STR(out, "2023-11-14T22:13:20.007Z");
    format_time_ms(951782400999ull, out); /* a leap day */
    CHECK_STR(out, "2000-02-29T00:00:00.999Z");
}

static void test_parse_time_round_trip(void)
{
    CHECK(parsed("2026-11-21T23:40:10.123Z") == 1795304410123ull);
    char out[32];
    format_time_ms(parsed("2026-11-21T23:40:10.123Z"), out);
    CHECK_STR(out, "2026-11-21T23:40:10.123Z");
    for (int i = 0; i < 200; i++) {
        uint64_t ms = randombytes_uniform(2000000000u) * 1000ull + randombytes_uniform(1000);
        format_time_ms(ms, out);
        CHECK(parsed(out) == ms);
    }
    uint64_t now = now_ms();
    format_time_ms(now, out);
    CHECK(parsed(out) == now);
}

static void test_parse_time_forms(void)
{
    CHECK(parsed("1970-01-01") == 0);
    CHECK(parsed("2026-11-21") == 1795219200000ull);
    CHECK(parsed("2026-11-21T00:00:00Z") == 1795219200000ull);
    CHECK(parsed("2026-11-21T00:00:00.5Z") == 1795219200500ull);
    CHECK(parsed("2026-11-21T00:00:00.05Z") == 1795219200050ull);
    CHECK(parsed("2026-11-21T00:00:00.123456Z") == 1795219200123ull); /* extra digits dropped */
    CHECK(parsed("2024-02-29T12:00:00Z") == 1709208000000ull);
}

static void test_parse_time_relative(void)
{
    uint64_t before = now_ms();
    uint64_t day = parsed("+1d"), hours = parsed("+2h"), zero = parsed("+0d");
    uint64_t after = now_ms();
    CHECK(day >= before + 86400000ull && day <= after + 86400000ull);
    CHECK(hours >= before + 7200000ull && hours <= after + 7200000ull);
    CHECK(zero >= before && zero <= after);
    CHECK(parsed("+100000d") != UINT64_MAX); /* the largest offset */
}

static void test_parse_time_refusals(void)
{
    static const char *bad[] = {
        "",
        "yesterday",
        "2026",
        "2026-11",
        "2026-13-01",
        "2026-00-10",
        "2026-11-00",
        "2026-11-32",
        "1969-12-31",
        "2026/11/21",
        "2026-11-21T",
        "2026-11-21T23:40:10",          /* no zone */
        "2026-11-21T23:40:10+01:00",    /* only UTC */
        "2026-11-21T23:40:10.123+01:00",
        "2026-11-21T23:40:10.Z",        /* a dot without digits */
        "2026-11-21T23:40:10.12xZ",
        "2026-11-21T23:40:10ZZ",
        "2026-11-21T24:00:00Z",
        "2026-11-21T23:60:00Z",
        "2026-11-21T23:59:61Z",
        "2026-11-21 23:40:10Z",
        "2026-11-21Z",
        "+d",
        "+1w",
        "+1dd",
        "+1 d",
        "+100001d",
        "+-1d",
        "-1d",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint64_t ms = 42;
        if (parse_time_ms(bad[i], &ms) != -1 || ms != 42) {
            fprintf(stderr, "  accepted \"%s\"\n", bad[i]);
            CHECK(!"time refused and *ms untouched");
        }
    }
    /* "+1" (no unit) is refused without reading past its terminator: an
     * exact-size heap copy lets ASan catch any over-read. */
    char *no_unit = strdup("+1");
    uint64_t ms = 42;
    CHECK(parse_time_ms(no_unit, &ms) == -1 && ms == 42);
    free(no_unit);
    /* Dates that do not exist are refused, not moved to the next month. */
    const char *impossible[] = {"2026-02-31", "2026-04-31T00:00:00Z", "2025-02-29"};
    for (size_t i = 0; i < sizeof impossible / sizeof impossible[0]; i++)
        CHECK(parse_time_ms(impossible[i], &ms) == -1 && ms == 42);
    CHECK(parse_time_ms("2028-02-29", &ms) == 0); /* a leap day exists */
}

/* ---- util.h: hex, base64, strings ---- */

static void test_hex_round_trip_and_refusals(void)
{
    static const unsigned char bin[] = {0x00, 0xff, 0x10, 0xab};
    char hex[2 * sizeof bin + 1];
    unsigned char back[sizeof bin];
    hex_encode(bin, sizeof bin, hex);
    CHECK_STR(hex, "00ff10ab");
    CHECK(hex_decode(hex, back, sizeof back) == 0 && memcmp(back, bin, sizeof bin) == 0);
    CHECK(hex_decode("00FF10AB", back, sizeof back) == 0 && memcmp(back, bin, sizeof bin) == 0);
    CHECK(hex_decode("00ff10a", back, sizeof back) == -1);   /* odd length */
    CHECK(hex_decode("00ff10abcd", back, sizeof back) == -1); /* too long */
    CHECK(hex_decode("00ff10", back, sizeof back) == -1);     /* too short */
    CHECK(hex_decode("00ff10ag", back, sizeof back) == -1);   /* not hex */
    CHECK(hex_decode("00ff 0ab", back, sizeof back) == -1);
    CHECK(hex_decode("", back, sizeof back) == -1);

    unsigned char key[32], key_back[32];
    char key_hex[65];
    randombytes_buf(key, sizeof key);
    hex_encode(key, sizeof key, key_hex);
    CHECK(strlen(key_hex) == 64);
    CHECK(hex_decode(key_hex, key_back, 32) == 0 && memcmp(key, key_back, 32) == 0);
}

static void test_b64_round_trip_and_refusals(void)
{
    CHECK(b64_encoded_len(32) == 45); /* 44 symbols and the NUL */
    CHECK(b64_encoded_len(64) == 89);
    CHECK(b64_encoded_len(0) == 1);
    static const unsigned char bin[] = {'m', 'o', 'u', 'x'};
    char out[16];
    b64_encode(bin, sizeof bin, out, sizeof out);
    CHECK_STR(out, "bW91eA==");
    unsigned char back[4];
    CHECK(b64_decode_exact("bW91eA==", back, 4) == 0 && memcmp(back, bin, 4) == 0);
    CHECK(b64_decode_exact("bW91eA", back, 4) == -1);    /* padding required */
    CHECK(b64_decode_exact("bW91eA=", back, 4) == -1);
    CHECK(b64_decode_exact("bW91eA===", back, 4) == -1);
    CHECK(b64_decode_exact("bW91eA==", back, 3) == -1);  /* wrong length */
    CHECK(b64_decode_exact("bW91", back, 4) == -1);
    CHECK(b64_decode_exact("bW9 eA==", back, 4) == -1);  /* space */
    CHECK(b64_decode_exact("bW91eA==\n", back, 4) == -1); /* newline */
    CHECK(b64_decode_exact("", back, 4) == -1);

    unsigned char key[32], key_back[32];
    char text[45];
    for (int i = 0; i < 50; i++) {
        randombytes_buf(key, sizeof key);
        b64_encode(key, sizeof key, text, sizeof text);
        CHECK(strlen(text) == 44);
        CHECK(b64_decode_exact(text, key_back, 32) == 0 && memcmp(key, key_back, 32) == 0);
        CHECK(b64_decode_exact(text, key_back, 31) == -1);
    }
    /* URL-safe symbols are not the standard alphabet. */
    memset(key, 0xfb, sizeof key); /* encodes to "+/v7..." */
    b64_encode(key, sizeof key, text, sizeof text);
    for (char *p = text; *p; p++)
        *p = *p == '+' ? '-' : *p == '/' ? '_' : *p;
    CHECK(strchr(text, '-') || strchr(text, '_'));
    CHECK(b64_decode_exact(text, key_back, 32) == -1);
}

static void test_str_copy_and_lower(void)
{
    char buf[6];
    CHECK(str_copy(buf, sizeof buf, "short") == 0);
    CHECK_STR(buf, "short");
    CHECK(str_copy(buf, sizeof buf, "too long") == -1);
    CHECK_STR(buf, "too l"); /* truncated, still terminated */
    CHECK(str_copy(buf, sizeof buf, "") == 0);
    CHECK_STR(buf, "");
    char s[] = "MiXeD.Case-123";
    str_lower(s);
    CHECK_STR(s, "mixed.case-123");
}

static void test_uuid4_shape(void)
{
    char a[37], b[37];
    for (int i = 0; i < 100; i++) {
        uuid4(a);
        CHECK(strlen(a) == 36);
        CHECK(a[8] == '-' && a[13] == '-' && a[18] == '-' && a[23] == '-');
        CHECK(a[14] == '4');
        CHECK(strchr("89ab", a[19]) != NULL);
        for (int j = 0; j < 36; j++)
            if (j != 8 && j != 13 && j != 18 && j != 23)
                CHECK(strchr("0123456789abcdef", a[j]) != NULL);
        char id[IND_ID_LEN + 1];
        snprintf(id, sizeof id, "indicator--%s", a);
        CHECK(ind_id_valid(id));
    }
    uuid4(b);
    CHECK(strcmp(a, b) != 0);
}

/* Version 7: the variant, the creation time in the first 48 bits, and
 * later ids sorting after earlier ones (the store's id index relies on it). */
static void test_uuid7_order(void)
{
    char prev[37] = "", cur[37];
    for (int i = 0; i < 50; i++) {
        uint64_t before = now_ms();
        uuid7(cur);
        uint64_t after = now_ms();
        CHECK(strlen(cur) == 36 && cur[14] == '7' && strchr("89ab", cur[19]) != NULL);
        char hex[13];
        memcpy(hex, cur, 8);
        memcpy(hex + 8, cur + 9, 4);
        hex[12] = '\0';
        uint64_t ms = strtoull(hex, NULL, 16);
        CHECK(ms >= before && ms <= after);
        char id[IND_ID_LEN + 1];
        snprintf(id, sizeof id, "indicator--%s", cur);
        CHECK(ind_id_valid(id));
        CHECK(strcmp(prev, cur) < 0);
        strcpy(prev, cur);
        struct timespec pause = {0, 1100000}; /* past the millisecond */
        nanosleep(&pause, NULL);
    }
}

static void test_clocks(void)
{
    uint64_t wall = now_ms(), mono1 = mono_ms(), mono2 = mono_ms();
    CHECK(wall > 1600000000000ull); /* after 2020 */
    CHECK(mono2 >= mono1);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    snprintf(s_tmp, sizeof s_tmp, "/tmp/moux-test-config-XXXXXX");
    if (!mkdtemp(s_tmp)) {
        perror("mkdtemp");
        return 1;
    }
    snprintf(s_conf, sizeof s_conf, "%s/moux.conf", s_tmp);
    RUN(test_write_new_then_load_round_trip);
    RUN(test_endpoint_defaults_to_listen);
    RUN(test_write_new_never_overwrites);
    RUN(test_missing_file_refused);
    RUN(test_all_keys_comments_and_blank_lines);
    RUN(test_unknown_key_refused);
    RUN(test_out_of_range_number_refused);
    RUN(test_not_a_number_refused);
    RUN(test_missing_or_invalid_agency_refused);
    RUN(test_bad_listen_endpoint_refused);
    RUN(test_bad_log_level_refused);
    RUN(test_line_without_equals_refused);
    RUN(test_overlong_line_refused);
    RUN(test_later_line_wins);
    RUN(test_agency_id_valid);
    RUN(test_endpoint_valid);
    RUN(test_node_path);
    RUN(test_format_time_known_values);
    RUN(test_parse_time_round_trip);
    RUN(test_parse_time_forms);
    RUN(test_parse_time_relative);
    RUN(test_parse_time_refusals);
    RUN(test_hex_round_trip_and_refusals);
    RUN(test_b64_round_trip_and_refusals);
    RUN(test_str_copy_and_lower);
    RUN(test_uuid4_shape);
    RUN(test_uuid7_order);
    RUN(test_clocks);
    rm_rf(s_tmp);
    return TEST_DONE();
}
