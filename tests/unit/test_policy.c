/* MOU enforcement (node/lib/policy.c), termination notices
 * (node/lib/mounotice.c), the store's MOU tables (node/lib/store_mou.c) and
 * retention (node/lib/retention.c): each rule allowing and refusing with its
 * reason and rule, relays by onward and TLP 2.0, notices signed, tampered
 * and signed by the wrong root, activation/supersession/termination, and a
 * purge under a controllable clock that removes exactly the expired items.
 * Root keys are generated at run time; the store lives in a temporary
 * directory removed at exit. */
#include "mounotice.h"
#include "policy.h"
#include "reason.h"
#include "retention.h"
#include "store.h"
#include "test.h"
#include "util.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define A "vn.ais"
#define B "us.cisa"
#define DAY_MS 86400000ull

/* a -> b: IP addresses up to AMBER, confidence >= 50, purposes, anonymised,
 * onward to vn.ncsc only; b -> a: everything up to GREEN, onward per TLP. */
static const char *s_text =
    "moux-mou: 1\n"
    "id: vn.ais--us.cisa-test\n"
    "title: test agreement\n"
    "party-a: vn.ais root-fingerprint EXAM-PLE2-VNAI-SAAA-AAAA-AAAA-AAAA-AAAA\n"
    "party-b: us.cisa root-fingerprint EXAM-PLE2-USCI-SAAA-AAAA-AAAA-AAAA-AAAA\n"
    "effective: 2026-01-01\n"
    "expires: 2031-01-01\n"
    "\n"
    "[a-to-b]\n"
    "types: ipv4-addr, ipv6-addr\n"
    "max-tlp: amber\n"
    "onward: agencies vn.ncsc\n"
    "anonymise: yes\n"
    "retention-days: 30\n"
    "min-confidence: 50\n"
    "purposes: network-defense, incident-response\n"
    "receipts: required\n"
    "\n"
    "[b-to-a]\n"
    "types: all\n"
    "max-tlp: green\n"
    "onward: tlp\n"
    "anonymise: no\n"
    "retention-days: 10\n"
    "min-confidence: 0\n"
    "receipts: optional\n";

static uint64_t s_now;

static mou_t *s_mou(const char *text)
{
    mou_t *m = NULL;
    char err[512];
    if (mou_parse(text, strlen(text), "test", &m, err, sizeof err) != 0)
        fprintf(stderr, "parse: %s\n", err);
    return m;
}

static Moux__Indicator s_item(const char *type, Moux__Tlp tlp, uint32_t confidence,
                              const char *origin, char **labels, size_t n_labels)
{
    Moux__Indicator ind = MOUX__INDICATOR__INIT;
    ind.id = "indicator--00000000-0000-4000-8000-000000000001";
    ind.type = (char *)type;
    ind.value = "198.51.100.1";
    ind.tlp = tlp;
    ind.confidence = confidence;
    ind.origin = (char *)origin;
    ind.labels = labels;
    ind.n_labels = n_labels;
    return ind;
}

static int s_is(policy_verdict_t v, const char *reason, const char *rule)
{
    if (!reason)
        return v.reason == NULL;
    return v.reason && strcmp(v.reason, reason) == 0 && v.rule && strcmp(v.rule, rule) == 0;
}

static void test_outbound_rules(void)
{
    mou_t *m = s_mou(s_text);
    CHECK(m != NULL);
    char *nd[] = {"network-defense"}, *other[] = {"marketing"};
    Moux__Indicator ok = s_item("ipv4-addr", MOUX__TLP__TLP_AMBER, 50, A, nd, 1);
    CHECK(s_is(policy_outbound(m, A, B, &ok, s_now), NULL, NULL));
    Moux__Indicator dom = s_item("domain-name", MOUX__TLP__TLP_GREEN, 90, A, nd, 1);
    CHECK(s_is(policy_outbound(m, A, B, &dom, s_now), REASON_TYPE_NOT_ALLOWED, "types"));
    Moux__Indicator red = s_item("ipv4-addr", MOUX__TLP__TLP_RED, 90, A, nd, 1);
    CHECK(s_is(policy_outbound(m, A, B, &red, s_now), REASON_TLP_NOT_ALLOWED, "max-tlp"));
    Moux__Indicator low = s_item("ipv4-addr", MOUX__TLP__TLP_GREEN, 49, A, nd, 1);
    CHECK(s_is(policy_outbound(m, A, B, &low, s_now), REASON_CONFIDENCE_TOO_LOW,
               "min-confidence"));
    Moux__Indicator nolabel = s_item("ipv4-addr", MOUX__TLP__TLP_GREEN, 90, A, NULL, 0);
    CHECK(s_is(policy_outbound(m, A, B, &nolabel, s_now), REASON_PURPOSE_MISSING, "purposes"));
    Moux__Indicator wrong = s_item("ipv4-addr", MOUX__TLP__TLP_GREEN, 90, A, other, 1);
    CHECK(s_is(policy_outbound(m, A, B, &wrong, s_now), REASON_PURPOSE_MISSING, "purposes"));
    /* The other way: everything up to GREEN, no purposes. */
    CHECK(s_is(policy_outbound(m, B, A, &dom, s_now), NULL, NULL));
    Moux__Indicator amber = s_item("url", MOUX__TLP__TLP_AMBER, 90, B, NULL, 0);
    CHECK(s_is(policy_outbound(m, B, A, &amber, s_now), REASON_TLP_NOT_ALLOWED, "max-tlp"));
    /* No MOU, outside its window, a third agency. */
    CHECK(s_is(policy_outbound(NULL, A, B, &ok, s_now), REASON_NO_MOU, "mou"));
    CHECK(s_is(policy_outbound(m, A, B, &ok, 1700000000000ull), REASON_MOU_NOT_IN_FORCE,
               "validity"));
    CHECK(s_is(policy_outbound(m, A, B, &ok, 1956528000000ull /* 2032 */),
               REASON_MOU_NOT_IN_FORCE, "validity"));
    CHECK(policy_outbound(m, A, "vn.ncsc", &ok, s_now).reason != NULL);
    CHECK(policy_anonymise(m, A, B) == 1 && policy_anonymise(m, B, A) == 0);
    CHECK(policy_anonymise(NULL, A, B) == 0);
    mou_destroy(&m);
}

/* A pattern that says more than its (type, value) may not carry what the
 * direction's types keep back. */
static void test_pattern_types(void)
{
    mou_t *m = s_mou(s_text);
    char *nd[] = {"network-defense"};
    Moux__Indicator it = s_item("ipv4-addr", MOUX__TLP__TLP_GREEN, 90, A, nd, 1);
    it.pattern = "[ipv4-addr:value = '198.51.100.1']";
    CHECK(s_is(policy_outbound(m, A, B, &it, s_now), NULL, NULL));
    it.pattern = "[ipv4-addr:value = '198.51.100.1'] OR [ipv6-addr:value = '2001:db8::1']";
    CHECK(s_is(policy_outbound(m, A, B, &it, s_now), NULL, NULL));
    it.pattern = "[ipv4-addr:value = '198.51.100.1'] OR [domain-name:value = 'x.example']";
    CHECK(s_is(policy_outbound(m, A, B, &it, s_now), REASON_TYPE_NOT_ALLOWED,
               "types (pattern)"));
    it.pattern = "[ipv4-addr:value = '198.51.100.1' AND email-message:subject = 'hi']";
    CHECK(s_is(policy_outbound(m, A, B, &it, s_now), REASON_TYPE_NOT_ALLOWED,
               "types (pattern)"));
    /* b -> a says "types: all": anything the pattern names may go. */
    it.origin = B;
    it.n_labels = 0;
    CHECK(s_is(policy_outbound(m, B, A, &it, s_now), NULL, NULL));
    mou_destroy(&m);
}

static void test_one_way(void)
{
    /* Without [b-to-a] nothing flows from b to a. */
    char text[4096];
    const char *cut = strstr(s_text, "\n[b-to-a]");
    snprintf(text, sizeof text, "%.*s\n", (int)(cut - s_text), s_text);
    mou_t *m = s_mou(text);
    CHECK(m != NULL);
    Moux__Indicator it = s_item("ipv4-addr", MOUX__TLP__TLP_CLEAR, 90, B, NULL, 0);
    CHECK(s_is(policy_outbound(m, B, A, &it, s_now), REASON_DIRECTION_NOT_AGREED, "[b-to-a]"));
    CHECK(s_is(policy_inbound(m, A, B, &it, s_now), REASON_DIRECTION_NOT_AGREED, "[b-to-a]"));
    mou_destroy(&m);
}

static void test_inbound_rules(void)
{
    mou_t *m = s_mou(s_text);
    char *nd[] = {"incident-response"};
    /* a -> b says anonymise: b refuses what still names a source. */
    Moux__Indicator named = s_item("ipv4-addr", MOUX__TLP__TLP_GREEN, 80, A, nd, 1);
    CHECK(s_is(policy_inbound(m, B, A, &named, s_now), REASON_NOT_ANONYMISED, "anonymise"));
    Moux__Indicator anon = s_item("ipv4-addr", MOUX__TLP__TLP_GREEN, 80, "", nd, 1);
    CHECK(s_is(policy_inbound(m, B, A, &anon, s_now), NULL, NULL));
    Moux__Indicator low = s_item("ipv4-addr", MOUX__TLP__TLP_GREEN, 10, "", nd, 1);
    CHECK(s_is(policy_inbound(m, B, A, &low, s_now), REASON_CONFIDENCE_TOO_LOW,
               "min-confidence"));
    /* b -> a: origin b direct, or relayed with a consistent path. */
    Moux__Indicator direct = s_item("domain-name", MOUX__TLP__TLP_GREEN, 0, B, NULL, 0);
    CHECK(s_is(policy_inbound(m, A, B, &direct, s_now), NULL, NULL));
    char *path_ok[] = {"vn.ncsc"}, *path_bad[] = {"ca.cccs"}, *path_sender[] = {"vn.ncsc", B},
         *path_me[] = {"vn.ncsc", A};
    Moux__Indicator relayed = s_item("domain-name", MOUX__TLP__TLP_GREEN, 0, "vn.ncsc", NULL, 0);
    relayed.hops = path_ok;
    relayed.n_hops = 1;
    CHECK(s_is(policy_inbound(m, A, B, &relayed, s_now), NULL, NULL));
    relayed.n_hops = 0; /* a third agency's item without a path */
    CHECK(s_is(policy_inbound(m, A, B, &relayed, s_now), REASON_ORIGIN_MISMATCH, "origin"));
    relayed.hops = path_bad; /* a path not starting at the origin */
    relayed.n_hops = 1;
    CHECK(s_is(policy_inbound(m, A, B, &relayed, s_now), REASON_ORIGIN_MISMATCH, "origin"));
    relayed.hops = path_sender; /* the sender on its own path */
    relayed.n_hops = 2;
    CHECK(s_is(policy_inbound(m, A, B, &relayed, s_now), REASON_ORIGIN_MISMATCH, "origin"));
    relayed.hops = path_me; /* back to us */
    CHECK(s_is(policy_inbound(m, A, B, &relayed, s_now), REASON_LOOP, "origin"));
    Moux__Indicator ours = s_item("domain-name", MOUX__TLP__TLP_GREEN, 0, A, NULL, 0);
    CHECK(s_is(policy_inbound(m, A, B, &ours, s_now), REASON_LOOP, "origin"));
    Moux__Indicator hops_no_origin = s_item("domain-name", MOUX__TLP__TLP_GREEN, 0, "", NULL, 0);
    hops_no_origin.hops = path_ok;
    hops_no_origin.n_hops = 1;
    CHECK(s_is(policy_inbound(m, A, B, &hops_no_origin, s_now), REASON_ORIGIN_MISMATCH,
               "origin"));
    CHECK(s_is(policy_inbound(NULL, A, B, &direct, s_now), REASON_NO_MOU, "mou"));
    mou_destroy(&m);
}

static void test_relay_rules(void)
{
    mou_t *m = s_mou(s_text);
    /* Received by a from b (onward: tlp): CLEAR and GREEN go on, AMBER and up never. */
    static const struct { Moux__Tlp tlp; const char *reason; } cases[] = {
        {MOUX__TLP__TLP_CLEAR, NULL},
        {MOUX__TLP__TLP_GREEN, NULL},
        {MOUX__TLP__TLP_AMBER, REASON_TLP_FORBIDS_ONWARD},
        {MOUX__TLP__TLP_AMBER_STRICT, REASON_TLP_FORBIDS_ONWARD},
        {MOUX__TLP__TLP_RED, REASON_TLP_FORBIDS_ONWARD},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        Moux__Indicator it = s_item("url", cases[i].tlp, 0, B, NULL, 0);
        CHECK(s_is(policy_relay(m, A, B, "vn.ncsc", &it), cases[i].reason,
                   cases[i].reason ? "tlp-2.0" : NULL));
    }
    Moux__Indicator green = s_item("url", MOUX__TLP__TLP_GREEN, 0, B, NULL, 0);
    /* Never back to the sender or anyone on the path. */
    CHECK(s_is(policy_relay(m, A, B, B, &green), REASON_ALREADY_HOLDS, "origin"));
    char *path[] = {"ca.cccs"};
    Moux__Indicator far = s_item("url", MOUX__TLP__TLP_GREEN, 0, "ca.cccs", NULL, 0);
    far.hops = path;
    far.n_hops = 1;
    CHECK(s_is(policy_relay(m, A, B, "ca.cccs", &far), REASON_ALREADY_HOLDS, "origin"));
    /* Received by b from a (onward: agencies vn.ncsc): only to vn.ncsc. */
    CHECK(s_is(policy_relay(m, B, A, "vn.ncsc", &green), NULL, NULL));
    CHECK(s_is(policy_relay(m, B, A, "jp.jpcert", &green), REASON_ONWARD_NOT_ALLOWED, "onward"));
    /* No MOU with the source: nothing goes on. */
    CHECK(s_is(policy_relay(NULL, A, B, "vn.ncsc", &green), REASON_ONWARD_NOT_ALLOWED,
               "onward"));
    mou_destroy(&m);
}

static void test_onward_none(void)
{
    char text[4096];
    const char *at = strstr(s_text, "onward: tlp");
    snprintf(text, sizeof text, "%.*sonward: none%s", (int)(at - s_text), s_text,
             at + strlen("onward: tlp"));
    mou_t *m = s_mou(text);
    CHECK(m != NULL);
    Moux__Indicator clear = s_item("url", MOUX__TLP__TLP_CLEAR, 0, B, NULL, 0);
    CHECK(m && s_is(policy_relay(m, A, B, "vn.ncsc", &clear), REASON_ONWARD_NOT_ALLOWED,
                    "onward"));
    mou_destroy(&m);
}

/* ---- termination notices ---- */

static void test_notices(void)
{
    rootkey_t *ra = rootkey_generate(), *rb = rootkey_generate();
    CHECK(ra && rb);
    mou_notice_t n = {.effective_ms = s_now}, got;
    strcpy(n.agency, A);
    strcpy(n.mou_id, "vn.ais--us.cisa-test");
    strcpy(n.reason, "agreement renegotiated");
    memset(n.mou_hash, 7, sizeof n.mou_hash);
    uint8_t *raw = NULL;
    size_t len = 0;
    const char *why = NULL;
    CHECK(mou_notice_sign(&n, ra, &raw, &len, &why) == 0);
    CHECK(mou_notice_verify(raw, len, ra->pk, &got, &why) == 0);
    CHECK_STR(got.agency, A);
    CHECK_STR(got.reason, "agreement renegotiated");
    CHECK(got.effective_ms == s_now && memcmp(got.mou_hash, n.mou_hash, 32) == 0);
    /* Another root, a flipped byte anywhere, truncation, garbage: refused. */
    CHECK(mou_notice_verify(raw, len, rb->pk, &got, &why) != 0);
    CHECK_STR(why, "notice is not signed by the party's pinned root");
    size_t refused = 0;
    for (size_t i = 0; i < len; i++) {
        raw[i] ^= 0x01;
        refused += mou_notice_verify(raw, len, ra->pk, &got, &why) != 0;
        raw[i] ^= 0x01;
    }
    CHECK(refused == len);
    CHECK(mou_notice_verify(raw, len - 1, ra->pk, &got, &why) != 0);
    CHECK(mou_notice_verify((const uint8_t *)"\x0a\x03zzz", 5, ra->pk, &got, &why) != 0);
    CHECK(mou_notice_verify(raw, MOU_NOTICE_MAX_BYTES + 1, ra->pk, &got, &why) != 0);
    /* A reason with a control character is not signed. */
    strcpy(n.reason, "bad\nreason");
    uint8_t *bad = NULL;
    CHECK(mou_notice_sign(&n, ra, &bad, &len, &why) != 0 && bad == NULL);
    free(raw);
    rootkey_destroy(&ra);
    rootkey_destroy(&rb);
}

/* ---- the store's MOU tables and retention ---- */

static store_t *s_store(int64_t *pid)
{
    char err[512];
    store_t *st = store_open(s_tmp, STORE_RW, err, sizeof err);
    CHECK(st != NULL);
    if (!st)
        return NULL;
    /* A partner row, as peer add writes it (the retention purge joins it). */
    sqlite3_exec(store_db(st),
                 "INSERT INTO partner(agency, endpoint, sign_pk, enc_pk, curve_pk, root_pk,"
                 " fingerprint, cert_serial, cert_not_after_ms, added_ms)"
                 " VALUES('us.cisa', 'tcp://127.0.0.1:1', x'00', x'00', x'00', x'00', 'fp',"
                 " 1, 0, 0)", NULL, NULL, NULL);
    *pid = sqlite3_last_insert_rowid(store_db(st));
    return st;
}

static store_mou_t s_row(const char *text, uint64_t when)
{
    store_mou_t r = {.activated_ms = when, .text = (char *)text, .text_len = strlen(text),
                     .sigs = "sig-a\nsig-b\n"};
    mou_hash(text, strlen(text), r.hash);
    strcpy(r.peer, B);
    strcpy(r.id, "vn.ais--us.cisa-test");
    return r;
}

static void test_store_mou(void)
{
    int64_t pid = 0;
    store_t *st = s_store(&pid);
    if (!st)
        return;
    const char *why = NULL;
    store_mou_t first = s_row(s_text, s_now), got;
    CHECK(store_mou_activate(st, &first, &why) == 0);
    CHECK(store_mou_activate(st, &first, &why) == 1); /* already active */
    CHECK(store_mou_active(st, B, &got) == 1);
    CHECK(memcmp(got.hash, first.hash, 32) == 0 && got.text_len == strlen(s_text));
    CHECK(strcmp(got.text, s_text) == 0 && strcmp(got.state, "active") == 0);
    store_mou_free(&got);
    /* A newer MOU supersedes it; the older one is never active again. */
    char newer[4096];
    snprintf(newer, sizeof newer, "%s", s_text);
    memcpy(strstr(newer, "-test"), "-tes2", 5);
    store_mou_t second = s_row(newer, s_now + 1);
    CHECK(store_mou_activate(st, &second, &why) == 0);
    CHECK(store_mou_by_hash(st, first.hash, &got) == 1 && strcmp(got.state, "superseded") == 0);
    store_mou_free(&got);
    CHECK(store_mou_activate(st, &first, &why) == -1 && why && strstr(why, "superseded"));
    /* Termination: recorded with its notice; a terminated MOU stays ended. */
    uint8_t notice[3] = {1, 2, 3};
    CHECK(store_mou_terminate(st, second.hash, B, "ended", s_now + 2, notice, 3) == 0);
    CHECK(store_mou_terminate(st, second.hash, B, "ended", s_now + 3, notice, 3) == 1);
    CHECK(store_mou_active(st, B, &got) == 0);
    CHECK(store_mou_last_notice(st, B, &got) == 1);
    CHECK(strcmp(got.ended_by, B) == 0 && got.notice_len == 3 && got.ended_ms == s_now + 2);
    store_mou_free(&got);
    CHECK(store_mou_activate(st, &second, &why) == -1 && why && strstr(why, "terminated"));
    store_mou_t *rows = NULL;
    size_t n = 0;
    CHECK(store_mou_list(st, &rows, &n) == 0 && n == 2);
    for (size_t i = 0; i < n; i++)
        store_mou_free(&rows[i]);
    free(rows);
    /* Counts and daily volumes add up. */
    uint64_t v = 0;
    CHECK(store_mou_count_add(st, first.hash, "in", "allowed", 3) == 0);
    CHECK(store_mou_count_add(st, first.hash, "in", "allowed", 2) == 0);
    CHECK(store_mou_daily_add(st, first.hash, "out", 20000, 4) == 0);
    CHECK(store_mou_daily_add(st, first.hash, "out", 20000, 5) == 0);
    CHECK(store_mou_daily_get(st, first.hash, "out", 20000, &v) == 0 && v == 9);
    CHECK(store_mou_daily_get(st, first.hash, "out", 20001, &v) == 0 && v == 0);
    store_destroy(&st);
}

static void test_retention(void)
{
    int64_t pid = 0;
    rm_rf(s_tmp);
    CHECK(mkdir(s_tmp, 0700) == 0);
    store_t *st = s_store(&pid);
    if (!st)
        return;
    const char *why = NULL;
    store_mou_t row = s_row(s_text, s_now);
    CHECK(store_mou_activate(st, &row, &why) == 0);
    /* Received from us.cisa (retention 10 days under [b-to-a]) at day 0, 5
     * and 9, and one published here: the clock decides what goes. */
    static const char *ids[] = {"indicator--00000000-0000-4000-8000-00000000000a",
                                "indicator--00000000-0000-4000-8000-00000000000b",
                                "indicator--00000000-0000-4000-8000-00000000000c"};
    static const uint64_t days[] = {0, 5, 9};
    for (int i = 0; i < 3; i++) {
        Moux__Indicator ind = s_item("domain-name", MOUX__TLP__TLP_GREEN, 0, B, NULL, 0);
        char value[32];
        snprintf(value, sizeof value, "d%d.example.com", i);
        ind.id = (char *)ids[i];
        ind.value = value;
        ind.pattern = "";
        int64_t rid = 0;
        store_put_t res;
        CHECK(store_put_received(st, pid, B, &ind, s_now + days[i] * DAY_MS, row.hash, &rid,
                                 &res) == 0 && res == STORE_NEW);
        CHECK(store_outbox_put(st, pid, rid, 1) == 0); /* queued to relay: goes too */
    }
    Moux__Indicator local = s_item("domain-name", MOUX__TLP__TLP_GREEN, 0, A, NULL, 0);
    local.value = "ours.example.com";
    local.pattern = "";
    int64_t lrid = 0;
    store_put_t lres;
    CHECK(store_put_local(st, A, &local, &lrid, &lres) == 0);
    char err[512];
    uint64_t total = 99;
    /* Day 9.5: nothing is 10 days old yet. */
    CHECK(retention_purge(st, A, s_now + 9 * DAY_MS + DAY_MS / 2, &total, err, sizeof err) == 0);
    CHECK(total == 0);
    /* Day 15.5: the items of day 0 and 5 are past 10 days; the one of day 9 stays. */
    CHECK(retention_purge(st, A, s_now + 15 * DAY_MS + DAY_MS / 2, &total, err, sizeof err) == 0);
    CHECK(total == 2);
    sqlite3 *db = store_db(st);
    sqlite3_stmt *q = NULL;
    CHECK(sqlite3_prepare_v2(db, "SELECT (SELECT count(*) FROM indicator),"
                                 " (SELECT count(*) FROM purged WHERE mou_id = 'vn.ais--us.cisa-test'"
                                 "  AND from_agency = 'us.cisa'),"
                                 " (SELECT count(*) FROM outbox),"
                                 " (SELECT count(*) FROM event WHERE kind = 'retention-purge'"
                                 "  AND detail LIKE '%purged=2%'),"
                                 " (SELECT count(*) FROM indicator WHERE id = ?1)",
                             -1, &q, NULL) == SQLITE_OK);
    sqlite3_bind_text(q, 1, ids[2], -1, SQLITE_STATIC);
    CHECK(sqlite3_step(q) == SQLITE_ROW);
    CHECK(sqlite3_column_int(q, 0) == 2); /* the day-9 item and ours */
    CHECK(sqlite3_column_int(q, 1) == 2);
    CHECK(sqlite3_column_int(q, 2) == 1);
    CHECK(sqlite3_column_int(q, 3) == 1);
    CHECK(sqlite3_column_int(q, 4) == 1);
    sqlite3_finalize(q);
    /* The purged table never keeps the value. */
    CHECK(sqlite3_prepare_v2(db, "SELECT count(*) FROM pragma_table_info('purged')"
                                 " WHERE name = 'value'", -1, &q, NULL) == SQLITE_OK);
    CHECK(sqlite3_step(q) == SQLITE_ROW && sqlite3_column_int(q, 0) == 0);
    sqlite3_finalize(q);
    store_destroy(&st);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    snprintf(s_tmp, sizeof s_tmp, "/tmp/moux-test-policy.XXXXXX");
    if (!mkdtemp(s_tmp))
        return 1;
    s_now = 1790000000000ull; /* 2026-09-21, inside the test MOU's window */
    RUN(test_outbound_rules);
    RUN(test_pattern_types);
    RUN(test_one_way);
    RUN(test_inbound_rules);
    RUN(test_relay_rules);
    RUN(test_onward_none);
    RUN(test_notices);
    RUN(test_store_mou);
    RUN(test_retention);
    rm_rf(s_tmp);
    return TEST_DONE();
}
