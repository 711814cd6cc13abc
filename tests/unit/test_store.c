/* The SQLite store: schema, partners, local and received indicators with
 * their conflict rules, the outbox, inbound batches, events and queries;
 * partner certificates, key history, revocations and our own key history.
 * Each test works on its own fresh store under a temporary directory;
 * partner certificates are issued at run time by one agency root. */
#include "cert.h"
#include "indicator.h"
#include "revocation.h"
#include "rootkey.h"
#include "store.h"
#include "test.h"
#include "util.h"
#include "walckpt.h"

#include <dirent.h>
#include <sodium.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>


/* ---- helpers ---- */

/* A fresh, empty directory s_tmp/name. */
static const char *fresh_dir(char *buf, size_t cap, const char *name)
{
    snprintf(buf, cap, "%s/%s", s_tmp, name);
    rm_rf(buf);
    mkdir(buf, 0700);
    return buf;
}

/* The partners' agency root, generated once per run. */
static rootkey_t *s_root;

#define DAY_MS (24ull * 3600 * 1000)

/* A partner certificate and its serialised bytes. */
typedef struct {
    cert_t c;
    uint8_t *raw;
    size_t len;
} tcert_t;

/* (Re-)signs t->c with s_root into t->raw. */
static int tcert_issue(tcert_t *t)
{
    free(t->raw);
    t->raw = NULL;
    return cert_issue(&t->c, s_root, &t->raw, &t->len);
}

/* Certifies fresh keys for agency at endpoint, valid around now. */
static int tcert_make(tcert_t *t, const char *agency, const char *endpoint, uint64_t serial)
{
    memset(t, 0, sizeof *t);
    str_copy(t->c.agency, sizeof t->c.agency, agency);
    str_copy(t->c.endpoint, sizeof t->c.endpoint, endpoint);
    randombytes_buf(t->c.sign_pk, 32);
    randombytes_buf(t->c.enc_pk, 32);
    randombytes_buf(t->c.curve_pk, 32);
    uint64_t now = now_ms();
    t->c.serial = serial;
    t->c.not_before_ms = now - 60000 + serial; /* distinct per certificate */
    t->c.not_after_ms = now + 30 * DAY_MS + serial;
    return tcert_issue(t);
}

static void tcert_free(tcert_t *t)
{
    free(t->raw);
    t->raw = NULL;
}

/* The partner row for a certificate, as `moux peer add` fills it from a
 * bundle: what the certificate says, verified against the root. */
static void partner_from(partner_t *p, const tcert_t *t)
{
    cert_t c;
    const char *why = NULL;
    memset(p, 0, sizeof *p);
    CHECK(t->raw && cert_verify(t->raw, t->len, s_root->pk, &c, &why) == 0);
    if (!t->raw || why)
        c = t->c;
    str_copy(p->agency, sizeof p->agency, c.agency);
    str_copy(p->endpoint, sizeof p->endpoint, c.endpoint);
    memcpy(p->sign_pk, c.sign_pk, 32);
    memcpy(p->enc_pk, c.enc_pk, 32);
    memcpy(p->curve_pk, c.curve_pk, 32);
    memcpy(p->root_pk, s_root->pk, 32);
    unsigned char fp[FP_BYTES];
    root_fingerprint(s_root->pk, fp);
    fingerprint_format(fp, p->fingerprint);
    p->cert_serial = c.serial;
    p->cert_not_after_ms = c.not_after_ms;
    p->added_ms = now_ms();
}

/* A partner with a fresh certificate of serial for agency at endpoint. */
static void make_partner(partner_t *p, tcert_t *t, const char *agency, const char *endpoint,
                         uint64_t serial)
{
    CHECK(tcert_make(t, agency, endpoint, serial) == 0);
    partner_from(p, t);
}

static int upsert(store_t *st, const partner_t *p, const tcert_t *t)
{
    return store_partner_upsert(st, p, t->raw, t->len);
}

/* The pid of agency, or 0. */
static int64_t pid_of(store_t *st, const char *agency)
{
    partner_t *list = NULL;
    size_t n = 0;
    int64_t pid = 0;
    if (store_partners(st, &list, &n) != 0)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (strcmp(list[i].agency, agency) == 0)
            pid = list[i].pid;
    free(list);
    return pid;
}

/* A copy of partner pid's row (pid 0 if there is none). */
static partner_t row_of(store_t *st, int64_t pid)
{
    partner_t out, *list = NULL;
    size_t n = 0;
    memset(&out, 0, sizeof out);
    CHECK(store_partners(st, &list, &n) == 0);
    for (size_t i = 0; i < n; i++)
        if (list[i].pid == pid)
            out = list[i];
    free(list);
    return out;
}

/* Partner pid's key history, newest first; caller frees. */
static partner_key_t *keys_of(store_t *st, int64_t pid, size_t *n)
{
    partner_key_t *keys = NULL;
    *n = 0;
    CHECK(store_partner_keys(st, pid, &keys, n) == 0);
    return keys;
}

/* A new store in s_tmp/name with partners b.example and c.example (each
 * with a certificate of serial 1). */
static store_t *fresh_store(const char *name, int64_t *pid_b, int64_t *pid_c)
{
    char dir[256], err[512] = "";
    fresh_dir(dir, sizeof dir, name);
    store_t *st = store_open(dir, STORE_RW, err, sizeof err);
    if (!st) {
        fprintf(stderr, "  store_open: %s\n", err);
        return NULL;
    }
    partner_t b, c;
    tcert_t tb, tc;
    make_partner(&b, &tb, "b.example", "tcp://127.0.0.1:7102", 1);
    make_partner(&c, &tc, "c.example", "tcp://127.0.0.1:7103", 1);
    int rc = upsert(st, &b, &tb) != 0 || upsert(st, &c, &tc) != 0;
    tcert_free(&tb);
    tcert_free(&tc);
    if (rc) {
        store_destroy(&st);
        return NULL;
    }
    *pid_b = pid_of(st, "b.example");
    *pid_c = pid_of(st, "c.example");
    return st;
}

/* An indicator with every string set (protobuf-c never hands out NULLs). */
static void ind_init(Moux__Indicator *ind, const char *type, const char *value, Moux__Tlp tlp,
                     uint32_t confidence, uint64_t valid_until)
{
    moux__indicator__init(ind);
    ind->id = "";
    ind->type = (char *)type;
    ind->value = (char *)value;
    ind->pattern = "[ipv4-addr:value = '192.0.2.1']";
    ind->tlp = tlp;
    ind->confidence = confidence;
    ind->valid_until_ms = valid_until;
    ind->origin = "";
}

typedef struct {
    char id[IND_ID_LEN + 1];
    int64_t rid;
    uint64_t created, modified, valid_from;
    store_put_t res;
    int rc;
} put_t;

/* Publishes (type, value) locally in its own transaction. */
static put_t put_local(store_t *st, const char *type, const char *value, Moux__Tlp tlp,
                       uint32_t confidence, uint64_t valid_until)
{
    put_t out;
    memset(&out, 0, sizeof out);
    Moux__Indicator ind;
    ind_init(&ind, type, value, tlp, confidence, valid_until);
    out.rc = store_begin(st);
    if (out.rc == 0)
        out.rc = store_put_local(st, "a.example", &ind, &out.rid, &out.res);
    if (out.rc == 0) {
        out.rc = store_commit(st);
        str_copy(out.id, sizeof out.id, ind.id);
        out.created = ind.created_ms;
        out.modified = ind.modified_ms;
        out.valid_from = ind.valid_from_ms;
        CHECK_STR(ind.origin, "a.example");
    } else {
        store_rollback(st);
    }
    return out;
}

/* Stores a received indicator from partner pid in its own transaction. */
static put_t put_received(store_t *st, int64_t pid, const char *from, const char *id,
                          Moux__Tlp tlp, uint64_t modified, const char *origin)
{
    put_t out;
    memset(&out, 0, sizeof out);
    Moux__Indicator ind;
    ind_init(&ind, "domain-name", "evil.example", tlp, 50, 0);
    ind.id = (char *)id;
    ind.pattern = "[domain-name:value = 'evil.example']";
    ind.created_ms = ind.valid_from_ms = 1000;
    ind.modified_ms = modified;
    ind.origin = (char *)origin;
    out.rc = store_begin(st);
    if (out.rc == 0)
        out.rc = store_put_received(st, pid, from, &ind, now_ms(), NULL, &out.rid, &out.res);
    if (out.rc == 0)
        out.rc = store_commit(st);
    else
        store_rollback(st);
    str_copy(out.id, sizeof out.id, id);
    return out;
}

/* What store_query found: the count and a copy of the last row. */
typedef struct {
    int n, stop_after;
    char id[IND_ID_LEN + 1], type[32], value[64], origin[80], from[80];
    int origin_null, from_null;
    tlp_t tlp;
    int confidence;
    uint64_t modified, created;
} found_t;

static int collect(const store_row_t *r, void *arg)
{
    found_t *f = arg;
    f->n++;
    str_copy(f->id, sizeof f->id, r->id);
    str_copy(f->type, sizeof f->type, r->type);
    str_copy(f->value, sizeof f->value, r->value);
    f->origin_null = r->origin == NULL;
    str_copy(f->origin, sizeof f->origin, r->origin ? r->origin : "");
    f->from_null = r->from == NULL;
    str_copy(f->from, sizeof f->from, r->from ? r->from : "");
    f->tlp = r->tlp;
    f->confidence = r->confidence;
    f->modified = r->modified_ms;
    f->created = r->created_ms;
    return f->stop_after && f->n >= f->stop_after;
}

static found_t query(store_t *st, const char *type, const char *value, const char *from)
{
    found_t f;
    memset(&f, 0, sizeof f);
    store_filter_t filter = {.type = type, .value = value, .from = from};
    CHECK(store_query(st, &filter, collect, &f) == 0);
    return f;
}

/* Opens DIR/store.db directly with SQLite to look at what the API hides. */
static sqlite3 *raw_db(const char *dir)
{
    char path[512];
    snprintf(path, sizeof path, "%s/store.db", dir);
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
        sqlite3_close(db);
        return NULL;
    }
    return db;
}

static int64_t raw_count(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *q = NULL;
    int64_t n = -1;
    if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) == SQLITE_OK && sqlite3_step(q) == SQLITE_ROW)
        n = sqlite3_column_int64(q, 0);
    sqlite3_finalize(q);
    return n;
}

static int64_t outbox_count(store_t *st, int64_t pid)
{
    int64_t n = -1;
    CHECK(store_outbox_count(st, pid, &n) == 0);
    return n;
}

/* Queues one version for pid, in a transaction as the daemon publishes. */
static int queue(store_t *st, int64_t pid, int64_t rid, uint64_t modified)
{
    if (store_begin(st) != 0)
        return -1;
    if (store_outbox_put(st, pid, rid, modified) != 0) {
        store_rollback(st);
        return -1;
    }
    return store_commit(st);
}

/* Applies a receipt's verdict on one item (by its outbox row), in a
 * transaction as the daemon does, for a batch read after every entry. */
static int done(store_t *st, int64_t pid, int64_t rid, uint64_t modified)
{
    if (store_begin(st) != 0)
        return -1;
    if (store_outbox_done(st, pid, rid, modified, INT64_MAX) != 0) {
        store_rollback(st);
        return -1;
    }
    return store_commit(st);
}

/* ---- opening ---- */

static void test_open_creates_schema(void)
{
    char dir[256], path[512], err[512] = "";
    fresh_dir(dir, sizeof dir, "open");
    store_t *st = store_open(dir, STORE_RW, err, sizeof err);
    CHECK(st != NULL);
    snprintf(path, sizeof path, "%s/store.db", dir);
    struct stat sb;
    CHECK(stat(path, &sb) == 0 && (sb.st_mode & 077) == 0); /* 0600 */
    sqlite3 *db = raw_db(dir);
    CHECK(db != NULL);
    CHECK(raw_count(db, "PRAGMA user_version") == 8);
    CHECK(raw_count(db, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN"
                        " ('partner','partner_key','own_key','indicator','outbox','inbound',"
                        "'receipt','event','mou','mou_count','mou_daily','purged','audit','checkpoint',"
                        "'witnessed','countersig','stix_object')") == 17);
    CHECK(raw_count(db, "SELECT count(*) FROM pragma_table_info('indicator') WHERE name = 'stix'")
          == 1);
    sqlite3_close(db);
    store_destroy(&st);
    CHECK(st == NULL);
    store_destroy(&st); /* harmless */
}

static void test_second_open_and_read_only_open(void)
{
    char dir[256], err[512] = "";
    fresh_dir(dir, sizeof dir, "reopen");
    store_t *st = store_open(dir, STORE_RW, err, sizeof err);
    CHECK(st != NULL);
    CHECK(put_local(st, "ipv4-addr", "192.0.2.1", MOUX__TLP__TLP_GREEN, 80, 0).res == STORE_NEW);
    store_destroy(&st);

    st = store_open(dir, STORE_RW, err, sizeof err); /* migrations already done */
    CHECK(st != NULL);
    store_t *ro = store_open(dir, STORE_RO, err, sizeof err); /* alongside a writer */
    CHECK(ro != NULL);
    if (ro) {
        CHECK(query(ro, NULL, NULL, NULL).n == 1);
        CHECK(store_event(ro, "test", NULL, NULL, NULL, NULL) != 0); /* read-only */
    }
    store_destroy(&ro);
    store_destroy(&st);
}

static void test_read_only_open_of_missing_store_refused(void)
{
    char dir[256], err[512] = "";
    fresh_dir(dir, sizeof dir, "missing");
    store_t *st = store_open(dir, STORE_RO, err, sizeof err);
    CHECK(st == NULL);
    CHECK(strstr(err, "store.db") != NULL);
    /* It must not have created one either. */
    char path[512];
    snprintf(path, sizeof path, "%s/store.db", dir);
    CHECK(access(path, F_OK) != 0);
}

/* A store of schema 1 (before labels and MOUs) is migrated when opened. */
static void test_migrates_schema_1(void)
{
    char dir[256], err[512] = "";
    fresh_dir(dir, sizeof dir, "migrate");
    store_t *st = store_open(dir, STORE_RW, err, sizeof err);
    store_destroy(&st);
    sqlite3 *db = raw_db(dir);
    /* Back to schema 1: what migrations 2-7 added goes, what 3 dropped returns. */
    CHECK(db && sqlite3_exec(db, "DROP INDEX inbound_retention; ALTER TABLE inbound DROP COLUMN mou_hash;"
                             " ALTER TABLE outbox DROP COLUMN qseq; DROP TABLE stix_object; ALTER TABLE indicator DROP COLUMN stix;"
                             " DROP TABLE audit; DROP TABLE checkpoint; DROP TABLE witnessed;"
                             " DROP TABLE countersig; DROP TABLE mou; DROP TABLE mou_count; DROP TABLE mou_daily;"
                             " DROP TABLE purged; DROP INDEX indicator_retention;"
                             " ALTER TABLE indicator DROP COLUMN mou_hash;"
                             " ALTER TABLE indicator DROP COLUMN labels;"
                             " ALTER TABLE partner ADD COLUMN allow_types INTEGER NOT NULL DEFAULT 0;"
                             " ALTER TABLE partner ADD COLUMN max_tlp INTEGER NOT NULL DEFAULT 0;"
                             " PRAGMA user_version = 1", NULL, NULL, NULL) == SQLITE_OK);
    sqlite3_close(db);
    st = store_open(dir, STORE_RW, err, sizeof err);
    CHECK(st != NULL);
    store_destroy(&st);
    db = raw_db(dir);
    CHECK(db != NULL);
    CHECK(raw_count(db, "PRAGMA user_version") == 8);
    CHECK(raw_count(db, "SELECT count(*) FROM pragma_table_info('indicator') WHERE name = 'stix'")
          == 1);
    CHECK(raw_count(db, "SELECT count(*) FROM sqlite_master WHERE name = 'stix_object'") == 1);
    CHECK(raw_count(db, "SELECT count(*) FROM pragma_table_info('indicator') WHERE name = 'labels'")
          == 1);
    CHECK(raw_count(db, "SELECT count(*) FROM pragma_table_info('partner') WHERE name = 'max_tlp'")
          == 0);
    CHECK(raw_count(db, "SELECT count(*) FROM sqlite_master WHERE name = 'mou'") == 1);
    CHECK(raw_count(db, "SELECT count(*) FROM pragma_table_info('outbox') WHERE name = 'qseq'")
          == 1);
    sqlite3_close(db);
}

static void test_newer_schema_refused(void)
{
    char dir[256], err[512] = "";
    fresh_dir(dir, sizeof dir, "newer");
    store_t *st = store_open(dir, STORE_RW, err, sizeof err);
    store_destroy(&st);
    sqlite3 *db = raw_db(dir);
    CHECK(db && sqlite3_exec(db, "PRAGMA user_version = 99", NULL, NULL, NULL) == SQLITE_OK);
    sqlite3_close(db);
    st = store_open(dir, STORE_RW, err, sizeof err);
    CHECK(st == NULL);
    CHECK(strstr(err, "newer") != NULL);
    store_destroy(&st);
    st = store_open(dir, STORE_RO, err, sizeof err);
    CHECK(st == NULL);
    CHECK(strstr(err, "schema") != NULL);
    store_destroy(&st);
}

/* ---- partners ---- */

static void test_partner_upsert_and_list(void)
{
    char dir[256], err[512] = "";
    fresh_dir(dir, sizeof dir, "partners");
    store_t *st = store_open(dir, STORE_RW, err, sizeof err);
    CHECK(st != NULL);
    if (!st)
        return;
    partner_t c, b;
    tcert_t tc, tb;
    make_partner(&c, &tc, "c.example", "tcp://127.0.0.1:7103", 1);
    make_partner(&b, &tb, "b.example", "tcp://127.0.0.1:7102", 4);
    CHECK(upsert(st, &c, &tc) == 0);
    CHECK(upsert(st, &b, &tb) == 0);

    partner_t *list = NULL;
    size_t n = 0;
    CHECK(store_partners(st, &list, &n) == 0);
    CHECK(n == 2);
    if (n == 2) {
        CHECK_STR(list[0].agency, "b.example"); /* ordered by agency */
        CHECK_STR(list[1].agency, "c.example");
        CHECK_STR(list[0].endpoint, "tcp://127.0.0.1:7102");
        CHECK(memcmp(list[0].sign_pk, tb.c.sign_pk, 32) == 0);
        CHECK(memcmp(list[0].enc_pk, tb.c.enc_pk, 32) == 0);
        CHECK(memcmp(list[0].curve_pk, tb.c.curve_pk, 32) == 0);
        CHECK(memcmp(list[0].root_pk, s_root->pk, 32) == 0);
        CHECK_STR(list[0].fingerprint, b.fingerprint);
        CHECK(list[0].cert_serial == 4);
        CHECK(list[0].cert_not_after_ms == tb.c.not_after_ms);
        CHECK(list[0].acked_serial == 0 && list[0].rev_number == 0);
        CHECK(list[0].added_ms == b.added_ms);
        CHECK(list[0].tx_seq_reserved == 0 && list[0].rx_high_seq == 0);
        CHECK(list[0].last_receipt_ms == 0);
        CHECK(list[1].cert_serial == 1);
        CHECK(memcmp(list[1].curve_pk, tc.c.curve_pk, 32) == 0);
        CHECK(list[0].pid != list[1].pid && list[0].pid > 0 && list[1].pid > 0);
    }
    free(list);
    tcert_free(&tb);
    tcert_free(&tc);
    store_destroy(&st);
}

static void test_partner_reupsert_keeps_sequence_state_unless_rekeyed(void)
{
    int64_t pid_b = 0, pid_c = 0;
    store_t *st = fresh_store("reupsert", &pid_b, &pid_c);
    CHECK(st != NULL);
    if (!st)
        return;
    CHECK(store_partner_set_seq_reserved(st, pid_b, 100) == 0);
    CHECK(store_partner_set_rx_high(st, pid_b, 42) == 0);
    CHECK(store_partner_set_last_receipt(st, pid_b, 123456) == 0);

    /* The same node (same signing key) re-certified with other transport and
     * encryption keys at another endpoint, and re-added by the operator. */
    partner_t old = row_of(st, pid_b), b2;
    tcert_t t2;
    CHECK(tcert_make(&t2, "b.example", "tcp://192.0.2.7:7200", 2) == 0);
    memcpy(t2.c.sign_pk, old.sign_pk, 32);
    CHECK(tcert_issue(&t2) == 0);
    partner_from(&b2, &t2);
    CHECK(upsert(st, &b2, &t2) == 0);

    partner_t *list = NULL;
    size_t n = 0;
    CHECK(store_partners(st, &list, &n) == 0);
    CHECK(n == 2);
    if (n == 2) {
        partner_t *p = &list[0];
        CHECK(p->pid == pid_b);
        CHECK_STR(p->endpoint, "tcp://192.0.2.7:7200");
        CHECK(memcmp(p->sign_pk, old.sign_pk, 32) == 0);
        CHECK(memcmp(p->enc_pk, t2.c.enc_pk, 32) == 0);
        CHECK(memcmp(p->curve_pk, t2.c.curve_pk, 32) == 0);
        CHECK(p->cert_serial == 2 && p->cert_not_after_ms == t2.c.not_after_ms);
        CHECK(p->tx_seq_reserved == 100);
        CHECK(p->rx_high_seq == 42);
        CHECK(p->last_receipt_ms == 123456);
        CHECK(list[1].tx_seq_reserved == 0); /* c untouched */
    }
    free(list);

    /* A new signing key is a new node: it numbers its batches from 1 again. */
    partner_t b3;
    tcert_t t3;
    make_partner(&b3, &t3, "b.example", "tcp://192.0.2.7:7200", 3);
    CHECK(upsert(st, &b3, &t3) == 0);
    CHECK(store_partners(st, &list, &n) == 0);
    CHECK(n == 2 && list[0].rx_high_seq == 0 && list[0].tx_seq_reserved == 100);
    CHECK(n == 2 && list[0].last_receipt_ms == 123456);
    CHECK(n == 2 && memcmp(list[0].sign_pk, t3.c.sign_pk, 32) == 0);
    free(list);
    tcert_free(&t2);
    tcert_free(&t3);
    store_destroy(&st);
}

static void test_partner_keys_list_upserted_certificate_as_current(void)
{
    char dir[256], err[512] = "";
    fresh_dir(dir, sizeof dir, "partner-keys");
    store_t *st = store_open(dir, STORE_RW, err, sizeof err);
    CHECK(st != NULL);
    if (!st)
        return;
    partner_t b;
    tcert_t tb;
    make_partner(&b, &tb, "b.example", "tcp://127.0.0.1:7102", 7);
    uint64_t before = now_ms();
    CHECK(upsert(st, &b, &tb) == 0);
    int64_t pid = pid_of(st, "b.example");
    CHECK(pid > 0);
    size_t n = 0;
    partner_key_t *keys = keys_of(st, pid, &n);
    CHECK(n == 1);
    if (n == 1) {
        unsigned char kid[KEYID_BYTES];
        keyid_of(tb.c.sign_pk, 32, kid);
        CHECK(keys[0].serial == 7);
        CHECK(memcmp(keys[0].sign_key_id, kid, KEYID_BYTES) == 0);
        CHECK(memcmp(keys[0].sign_pk, tb.c.sign_pk, 32) == 0);
        CHECK(memcmp(keys[0].enc_pk, tb.c.enc_pk, 32) == 0);
        CHECK(memcmp(keys[0].curve_pk, tb.c.curve_pk, 32) == 0);
        CHECK(keys[0].not_after_ms == tb.c.not_after_ms);
        CHECK(keys[0].retire_after_ms == 0); /* current */
        CHECK(keys[0].revoked_ms == 0);
    }
    free(keys);
    /* The certificate itself is kept, as received. */
    sqlite3 *db = raw_db(dir);
    CHECK(db != NULL);
    sqlite3_stmt *q = NULL;
    CHECK(db && sqlite3_prepare_v2(db, "SELECT cert, added_ms FROM partner_key", -1, &q,
                                   NULL) == SQLITE_OK);
    CHECK(q && sqlite3_step(q) == SQLITE_ROW);
    CHECK(q && (size_t)sqlite3_column_bytes(q, 0) == tb.len &&
          memcmp(sqlite3_column_blob(q, 0), tb.raw, tb.len) == 0);
    CHECK(q && (uint64_t)sqlite3_column_int64(q, 1) >= before);
    sqlite3_finalize(q);
    sqlite3_close(db);

    /* Another partner's history is its own; an unknown pid has none. */
    CHECK(keys_of(st, pid + 100, &n) == NULL && n == 0);
    tcert_free(&tb);
    store_destroy(&st);
}

static void test_partner_key_add_rotates_with_overlap(void)
{
    int64_t pid_b = 0, pid_c = 0;
    store_t *st = fresh_store("key-add", &pid_b, &pid_c);
    CHECK(st != NULL);
    if (!st)
        return;
    partner_t before_row = row_of(st, pid_b);
    tcert_t t2;
    CHECK(tcert_make(&t2, "b.example", "tcp://192.0.2.8:7102", 2) == 0);
    uint64_t overlap = 3600 * 1000, t0 = now_ms();
    CHECK(store_partner_key_add(st, pid_b, &t2.c, t2.raw, t2.len, overlap) == 0);
    uint64_t t1 = now_ms();

    /* The partner row now carries the new certificate... */
    partner_t p = row_of(st, pid_b);
    CHECK(p.cert_serial == 2 && p.cert_not_after_ms == t2.c.not_after_ms);
    CHECK(memcmp(p.sign_pk, t2.c.sign_pk, 32) == 0);
    CHECK(memcmp(p.enc_pk, t2.c.enc_pk, 32) == 0);
    CHECK(memcmp(p.curve_pk, t2.c.curve_pk, 32) == 0);
    CHECK_STR(p.endpoint, "tcp://192.0.2.8:7102"); /* the endpoint it names */
    CHECK(memcmp(p.root_pk, before_row.root_pk, 32) == 0);
    CHECK_STR(p.fingerprint, before_row.fingerprint);

    /* ...and the old key stays usable until the overlap ends. */
    size_t n = 0;
    partner_key_t *keys = keys_of(st, pid_b, &n);
    CHECK(n == 2);
    if (n == 2) {
        CHECK(keys[0].serial == 2 && keys[0].retire_after_ms == 0 && keys[0].revoked_ms == 0);
        CHECK(keys[0].not_before_ms == t2.c.not_before_ms);
        CHECK(keys[0].not_after_ms == t2.c.not_after_ms);
        CHECK(memcmp(keys[0].curve_pk, t2.c.curve_pk, 32) == 0);
        CHECK(keys[1].serial == 1);
        CHECK(memcmp(keys[1].sign_pk, before_row.sign_pk, 32) == 0);
        CHECK(keys[1].retire_after_ms >= t0 + overlap && keys[1].retire_after_ms <= t1 + overlap);
        CHECK(keys[1].revoked_ms == 0);
    }
    uint64_t retire1 = n == 2 ? keys[1].retire_after_ms : 0;
    free(keys);

    /* A third certificate with a longer overlap: serial 2 retires then, but
     * serial 1 keeps its sooner retirement. */
    tcert_t t3;
    CHECK(tcert_make(&t3, "b.example", "tcp://192.0.2.8:7102", 3) == 0);
    t0 = now_ms();
    CHECK(store_partner_key_add(st, pid_b, &t3.c, t3.raw, t3.len, 10 * overlap) == 0);
    t1 = now_ms();
    keys = keys_of(st, pid_b, &n);
    CHECK(n == 3);
    if (n == 3) {
        CHECK(keys[0].serial == 3 && keys[0].retire_after_ms == 0);
        CHECK(keys[1].serial == 2 && keys[1].retire_after_ms >= t0 + 10 * overlap &&
              keys[1].retire_after_ms <= t1 + 10 * overlap);
        CHECK(keys[2].serial == 1 && keys[2].retire_after_ms == retire1);
    }
    free(keys);
    CHECK(row_of(st, pid_b).cert_serial == 3);

    /* Other partners are untouched. */
    keys = keys_of(st, pid_c, &n);
    CHECK(n == 1 && keys && keys[0].serial == 1 && keys[0].retire_after_ms == 0);
    free(keys);
    CHECK(row_of(st, pid_c).cert_serial == 1);
    tcert_free(&t2);
    tcert_free(&t3);
    store_destroy(&st);
}

static void test_partner_reupsert_retires_other_keys_at_once(void)
{
    int64_t pid_b = 0, pid_c = 0;
    store_t *st = fresh_store("reupsert-retire", &pid_b, &pid_c);
    CHECK(st != NULL);
    if (!st)
        return;
    tcert_t t2, t3;
    CHECK(tcert_make(&t2, "b.example", "tcp://127.0.0.1:7102", 2) == 0);
    CHECK(store_partner_key_add(st, pid_b, &t2.c, t2.raw, t2.len, 24 * 3600 * 1000ull) == 0);

    /* The operator re-adds the partner from a new bundle: no overlap. */
    partner_t b3;
    make_partner(&b3, &t3, "b.example", "tcp://127.0.0.1:7102", 3);
    uint64_t t0 = now_ms();
    CHECK(upsert(st, &b3, &t3) == 0);
    uint64_t t1 = now_ms();
    CHECK(pid_of(st, "b.example") == pid_b); /* the same partner */
    size_t n = 0;
    partner_key_t *keys = keys_of(st, pid_b, &n);
    CHECK(n == 3);
    if (n == 3) {
        CHECK(keys[0].serial == 3 && keys[0].retire_after_ms == 0);
        CHECK(memcmp(keys[0].sign_pk, t3.c.sign_pk, 32) == 0);
        CHECK(keys[1].serial == 2 && keys[1].retire_after_ms >= t0 && keys[1].retire_after_ms <= t1);
        CHECK(keys[2].serial == 1 && keys[2].retire_after_ms > 0 && keys[2].retire_after_ms <= t1);
    }
    free(keys);
    partner_t p = row_of(st, pid_b);
    CHECK(p.cert_serial == 3 && memcmp(p.curve_pk, t3.c.curve_pk, 32) == 0);

    /* Upserting the same certificate again changes nothing in the history. */
    CHECK(upsert(st, &b3, &t3) == 0);
    keys = keys_of(st, pid_b, &n);
    CHECK(n == 3 && keys && keys[0].serial == 3 && keys[0].retire_after_ms == 0);
    free(keys);
    keys = keys_of(st, pid_c, &n);
    CHECK(n == 1 && keys && keys[0].retire_after_ms == 0); /* c untouched */
    free(keys);
    tcert_free(&t2);
    tcert_free(&t3);
    store_destroy(&st);
}

/* Signs l with s_root and reads it back as the daemon would; raw is the
 * signed list (caller frees), *out the verified one (revlist_free). */
static int sign_list(const revlist_t *l, uint8_t **raw, size_t *len, revlist_t *out)
{
    const char *why = NULL;
    if (revlist_sign(l, s_root, raw, len) != 0)
        return -1;
    return revlist_verify(*raw, *len, s_root->pk, out, &why);
}

static void test_partner_revocations_mark_covered_keys(void)
{
    char dir[256];
    int64_t pid_b = 0, pid_c = 0;
    store_t *st = fresh_store("revocations", &pid_b, &pid_c);
    snprintf(dir, sizeof dir, "%s/revocations", s_tmp);
    CHECK(st != NULL);
    if (!st)
        return;
    tcert_t t2, t3;
    CHECK(tcert_make(&t2, "b.example", "tcp://127.0.0.1:7102", 2) == 0);
    CHECK(tcert_make(&t3, "b.example", "tcp://127.0.0.1:7102", 3) == 0);
    CHECK(store_partner_key_add(st, pid_b, &t2.c, t2.raw, t2.len, 60000) == 0);
    CHECK(store_partner_key_add(st, pid_b, &t3.c, t3.raw, t3.len, 60000) == 0);

    /* None held yet. */
    uint8_t *got = (uint8_t *)"x";
    size_t got_len = 99;
    CHECK(store_partner_rev_list(st, pid_b, &got, &got_len) == 0);
    CHECK(got == NULL && got_len == 0);

    /* List 5 revokes serial 1 by serial and serial 3 by its signing key id;
     * c's key id in b's list does not touch c. */
    partner_t c = row_of(st, pid_c);
    unsigned char kid3[KEYID_BYTES], kidc[KEYID_BYTES];
    keyid_of(t3.c.sign_pk, 32, kid3);
    keyid_of(c.sign_pk, 32, kidc);
    revlist_t l, v;
    memset(&l, 0, sizeof l);
    memset(&v, 0, sizeof v);
    str_copy(l.agency, sizeof l.agency, "b.example");
    l.number = 5;
    l.issued_ms = now_ms();
    CHECK(revlist_add_serial(&l, 1) == 0 && revlist_add_key_id(&l, kid3) == 0 &&
          revlist_add_key_id(&l, kidc) == 0);
    uint8_t *raw = NULL;
    size_t len = 0;
    CHECK(sign_list(&l, &raw, &len, &v) == 0);
    uint64_t t0 = now_ms();
    CHECK(store_partner_revocations(st, pid_b, &v, raw, len) == 0);
    uint64_t t1 = now_ms();

    size_t n = 0;
    partner_key_t *keys = keys_of(st, pid_b, &n);
    CHECK(n == 3);
    if (n == 3) {
        CHECK(keys[0].serial == 3 && keys[0].revoked_ms >= t0 && keys[0].revoked_ms <= t1);
        CHECK(keys[1].serial == 2 && keys[1].revoked_ms == 0);
        CHECK(keys[2].serial == 1 && keys[2].revoked_ms >= t0 && keys[2].revoked_ms <= t1);
    }
    free(keys);
    keys = keys_of(st, pid_c, &n);
    CHECK(n == 1 && keys && keys[0].revoked_ms == 0);
    free(keys);
    CHECK(row_of(st, pid_b).rev_number == 5);
    CHECK(row_of(st, pid_c).rev_number == 0);

    /* The list comes back byte for byte, and still verifies. */
    CHECK(store_partner_rev_list(st, pid_b, &got, &got_len) == 0);
    CHECK(got && got_len == len && memcmp(got, raw, len) == 0);
    revlist_t back;
    const char *why = NULL;
    CHECK(got && revlist_verify(got, got_len, s_root->pk, &back, &why) == 0);
    CHECK(got && back.number == 5 && revlist_covers(&back, 1, kid3));
    if (got)
        revlist_free(&back);
    free(got);
    got = (uint8_t *)"x";
    CHECK(store_partner_rev_list(st, pid_c, &got, &got_len) == 0);
    CHECK(got == NULL && got_len == 0);
    CHECK(store_partner_rev_list(st, pid_b + pid_c + 100, &got, &got_len) != 0); /* no partner */
    free(raw);
    revlist_free(&v);

    /* List 6 adds serial 2: it is marked now; the time serial 1 was marked
     * stays what it was. */
    sqlite3 *db = raw_db(dir);
    CHECK(db && sqlite3_exec(db, "UPDATE partner_key SET revoked_ms = 1234 WHERE serial = 1",
                             NULL, NULL, NULL) == SQLITE_OK);
    sqlite3_close(db);
    l.number = 6;
    CHECK(revlist_add_serial(&l, 2) == 0);
    CHECK(sign_list(&l, &raw, &len, &v) == 0);
    CHECK(store_partner_revocations(st, pid_b, &v, raw, len) == 0);
    keys = keys_of(st, pid_b, &n);
    CHECK(n == 3);
    if (n == 3) {
        CHECK(keys[0].serial == 3 && keys[0].revoked_ms > 1234);
        CHECK(keys[1].serial == 2 && keys[1].revoked_ms > 1234);
        CHECK(keys[2].serial == 1 && keys[2].revoked_ms == 1234);
    }
    free(keys);
    CHECK(row_of(st, pid_b).rev_number == 6);
    CHECK(store_partner_rev_list(st, pid_b, &got, &got_len) == 0);
    CHECK(got && got_len == len && memcmp(got, raw, len) == 0);
    free(got);
    free(raw);
    revlist_free(&v);
    revlist_free(&l);
    tcert_free(&t2);
    tcert_free(&t3);
    store_destroy(&st);
}

static void test_partner_acked_serial_and_rev_number_round_trip(void)
{
    int64_t pid_b = 0, pid_c = 0;
    store_t *st = fresh_store("acked", &pid_b, &pid_c);
    CHECK(st != NULL);
    if (!st)
        return;
    CHECK(store_partner_set_acked(st, pid_b, 3) == 0);
    CHECK(row_of(st, pid_b).acked_serial == 3);
    CHECK(row_of(st, pid_c).acked_serial == 0);
    CHECK(store_partner_set_acked(st, pid_b, 4) == 0);
    CHECK(row_of(st, pid_b).acked_serial == 4);

    revlist_t l, v;
    memset(&l, 0, sizeof l);
    str_copy(l.agency, sizeof l.agency, "c.example");
    l.number = 9;
    CHECK(revlist_add_serial(&l, 77) == 0);
    uint8_t *raw = NULL;
    size_t len = 0;
    CHECK(sign_list(&l, &raw, &len, &v) == 0);
    CHECK(store_partner_revocations(st, pid_c, &v, raw, len) == 0);
    CHECK(row_of(st, pid_c).rev_number == 9);
    CHECK(row_of(st, pid_b).rev_number == 0);

    /* Re-adding a partner under the same root keeps both. */
    partner_t c2;
    tcert_t t2;
    make_partner(&c2, &t2, "c.example", "tcp://127.0.0.1:7103", 2);
    CHECK(upsert(st, &c2, &t2) == 0);
    partner_t p = row_of(st, pid_c);
    CHECK(p.rev_number == 9 && p.cert_serial == 2);
    CHECK(store_partner_set_acked(st, pid_c, 1) == 0);
    CHECK(row_of(st, pid_c).acked_serial == 1 && row_of(st, pid_b).acked_serial == 4);
    free(raw);
    revlist_free(&v);
    revlist_free(&l);
    tcert_free(&t2);
    store_destroy(&st);
}

static void test_failed_partner_upsert_leaves_nothing(void)
{
    char dir[256];
    int64_t pid_b = 0, pid_c = 0;
    store_t *st = fresh_store("upsert-fails", &pid_b, &pid_c);
    snprintf(dir, sizeof dir, "%s/upsert-fails", s_tmp);
    CHECK(st != NULL);
    if (!st)
        return;
    /* Writing the key history of serial 99 fails (a trigger stands in for a
     * full disk): the partner row must not change either. */
    sqlite3 *db = raw_db(dir);
    CHECK(db && sqlite3_exec(db, "CREATE TRIGGER fail_99 BEFORE INSERT ON partner_key"
                                 " WHEN NEW.serial = 99 BEGIN SELECT RAISE(ABORT, 'test'); END",
                             NULL, NULL, NULL) == SQLITE_OK);
    partner_t d, b2;
    tcert_t td, tb;
    make_partner(&d, &td, "d.example", "tcp://127.0.0.1:7104", 99);
    CHECK(upsert(st, &d, &td) != 0);
    CHECK(pid_of(st, "d.example") == 0);
    /* Nor is an existing partner changed, nor its keys retired. */
    partner_t old = row_of(st, pid_b);
    make_partner(&b2, &tb, "b.example", "tcp://192.0.2.1:7102", 99);
    CHECK(upsert(st, &b2, &tb) != 0);
    partner_t now = row_of(st, pid_b);
    CHECK(now.cert_serial == 1 && memcmp(now.sign_pk, old.sign_pk, 32) == 0);
    CHECK_STR(now.endpoint, old.endpoint);
    CHECK(raw_count(db, "SELECT count(*) FROM partner") == 2);
    CHECK(raw_count(db, "SELECT count(*) FROM partner_key") == 2);
    CHECK(raw_count(db, "SELECT count(*) FROM partner_key WHERE retire_after_ms <> 0") == 0);
    /* And no transaction is left open: the next upsert works. */
    CHECK(store_begin(st) == 0);
    CHECK(store_commit(st) == 0);
    CHECK(db && sqlite3_exec(db, "DROP TRIGGER fail_99", NULL, NULL, NULL) == SQLITE_OK);
    sqlite3_close(db);
    CHECK(upsert(st, &d, &td) == 0);
    CHECK(pid_of(st, "d.example") > 0);
    tcert_free(&td);
    tcert_free(&tb);
    store_destroy(&st);
}

static void test_own_key_put_and_retire(void)
{
    char dir[256], err[512] = "";
    fresh_dir(dir, sizeof dir, "own-keys");
    store_t *st = store_open(dir, STORE_RW, err, sizeof err);
    CHECK(st != NULL);
    if (!st)
        return;
    tcert_t t1, t2, t1b;
    CHECK(tcert_make(&t1, "a.example", "tcp://127.0.0.1:7101", 1) == 0);
    CHECK(tcert_make(&t2, "a.example", "tcp://127.0.0.1:7101", 2) == 0);
    CHECK(tcert_make(&t1b, "a.example", "tcp://127.0.0.1:7101", 1) == 0);
    uint64_t t0 = now_ms();
    CHECK(store_own_key_put(st, &t1.c, t1.raw, t1.len) == 0);
    CHECK(store_own_key_put(st, &t2.c, t2.raw, t2.len) == 0);
    /* Serial 1 again with other keys (a new root reusing it): a row of its own. */
    CHECK(store_own_key_put(st, &t1b.c, t1b.raw, t1b.len) == 0);
    CHECK(store_own_key_put(st, &t1.c, t1.raw, t1.len) == 0); /* held: ignored */
    CHECK(store_own_key_retire(st, 1, t1.c.sign_pk, 5000) == 0);
    CHECK(store_own_key_retire(st, 1, t1.c.sign_pk, 9000) == 0); /* retired once */
    CHECK(store_own_key_retire(st, 42, t1.c.sign_pk, 5000) == 0); /* unknown: nothing */
    uint64_t when = 1;
    CHECK(store_own_key_retired_ms(st, 1, t1.c.sign_pk, &when) == 0 && when == 5000);
    CHECK(store_own_key_retired_ms(st, 1, t1b.c.sign_pk, &when) == 0 && when == 0);
    CHECK(store_own_key_retire(st, 1, t1b.c.sign_pk, 7000) == 0);
    CHECK(store_own_key_retired_ms(st, 1, t1b.c.sign_pk, &when) == 0 && when == 7000);

    sqlite3 *db = raw_db(dir);
    CHECK(db != NULL);
    CHECK(raw_count(db, "SELECT count(*) FROM own_key") == 3);
    CHECK(raw_count(db, "SELECT count(*) FROM own_key WHERE serial = 1") == 2);
    CHECK(raw_count(db, "SELECT retired_ms FROM own_key WHERE serial = 2") == 0);
    char sql[64];
    snprintf(sql, sizeof sql, "SELECT min(installed_ms) >= %llu FROM own_key",
             (unsigned long long)t0);
    CHECK(raw_count(db, sql) == 1);
    sqlite3_stmt *q = NULL;
    CHECK(db && sqlite3_prepare_v2(db, "SELECT serial, sign_pk, enc_pk, curve_pk, cert FROM own_key"
                                   " ORDER BY serial, retired_ms", -1, &q, NULL) == SQLITE_OK);
    const tcert_t *want[] = {&t1, &t1b, &t2};
    for (int i = 0; q && i < 3; i++) {
        CHECK(sqlite3_step(q) == SQLITE_ROW);
        CHECK((uint64_t)sqlite3_column_int64(q, 0) == want[i]->c.serial);
        CHECK(sqlite3_column_bytes(q, 1) == 32 &&
              memcmp(sqlite3_column_blob(q, 1), want[i]->c.sign_pk, 32) == 0);
        CHECK(sqlite3_column_bytes(q, 2) == 32 &&
              memcmp(sqlite3_column_blob(q, 2), want[i]->c.enc_pk, 32) == 0);
        CHECK(sqlite3_column_bytes(q, 3) == 32 &&
              memcmp(sqlite3_column_blob(q, 3), want[i]->c.curve_pk, 32) == 0);
        CHECK((size_t)sqlite3_column_bytes(q, 4) == want[i]->len &&
              memcmp(sqlite3_column_blob(q, 4), want[i]->raw, want[i]->len) == 0);
    }
    sqlite3_finalize(q);
    sqlite3_close(db);
    tcert_free(&t1);
    tcert_free(&t2);
    tcert_free(&t1b);
    store_destroy(&st);
}

/* ---- local indicators ---- */

static void test_put_local_new(void)
{
    int64_t pid_b = 0, pid_c = 0;
    store_t *st = fresh_store("local-new", &pid_b, &pid_c);
    CHECK(st != NULL);
    if (!st)
        return;
    uint64_t before = now_ms();
    put_t p = put_local(st, "ipv4-addr", "192.0.2.1", MOUX__TLP__TLP_GREEN, 80, 0);
    CHECK(p.rc == 0);
    CHECK(p.res == STORE_NEW);
    CHECK(strncmp(p.id, "indicator--", 11) == 0);
    CHECK(ind_id_valid(p.id));
    CHECK(p.rid > 0);
    CHECK(p.created == p.modified && p.modified == p.valid_from);
    CHECK(p.modified >= before && p.modified <= now_ms());

    found_t f = query(st, NULL, NULL, NULL);
    CHECK(f.n == 1);
    CHECK_STR(f.id, p.id);
    CHECK_STR(f.origin, "a.example");
    CHECK(f.from_null); /* published here */
    CHECK(f.tlp == TLP_GREEN && f.confidence == 80);

    /* A different value is a different indicator with its own id. */
    put_t q = put_local(st, "ipv4-addr", "192.0.2.2", MOUX__TLP__TLP_GREEN, 80, 0);
    CHECK(q.res == STORE_NEW && strcmp(q.id, p.id) != 0 && q.rid != p.rid);
    store_destroy(&st);
}

static void test_put_local_same_is_unchanged(void)
{
    int64_t pid_b = 0, pid_c = 0;
    store_t *st = fresh_store("local-same", &pid_b, &pid_c);
    CHECK(st != NULL);
    if (!st)
        return;
    put_t p = put_local(st, "ipv4-addr", "192.0.2.1", MOUX__TLP__TLP_GREEN, 80, 5000000000000ull);
    put_t q = put_local(st, "ipv4-addr", "192.0.2.1", MOUX__TLP__TLP_GREEN, 80, 5000000000000ull);
    CHECK(p.res == STORE_NEW);
    CHECK(q.rc == 0 && q.res == STORE_UNCHANGED);
    CHECK_STR(q.id, p.id);
    CHECK(q.rid == p.rid);
    CHECK(q.modified == p.modified && q.created == p.created && q.valid_from == p.valid_from);
    CHECK(query(st, NULL, NULL, NULL).n == 1);
    store_destroy(&st);
}

static void test_put_local_changed_is_new_version(void)
{
    int64_t pid_b = 0, pid_c = 0;
    store_t *st = fresh_store("local-update", &pid_b, &pid_c);
    CHECK(st != NULL);
    if (!st)
        return;
    put_t p = put_local(st, "ipv4-addr", "192.0.2.1", MOUX__TLP__TLP_GREEN, 80, 0);
    /* Different TLP; done at once, so usually within the same millisecond. */
    put_t q = put_local(st, "ipv4-addr", "192.0.2.1", MOUX__TLP__TLP_AMBER, 80, 0);
    CHECK(q.rc == 0 && q.res == STORE_UPDATED);
    CHECK_STR(q.id, p.id);
    CHECK(q.rid == p.rid);
    CHECK(q.modified > p.modified);
    CHECK(q.created == p.created);
    found_t f = query(st, NULL, NULL, NULL);
    CHECK(f.n == 1 && f.tlp == TLP_AMBER && f.modified == q.modified);

    /* Confidence and validity are part of the version too. */
    put_t r = put_local(st, "ipv4-addr", "192.0.2.1", MOUX__TLP__TLP_AMBER, 60, 0);
    CHECK(r.res == STORE_UPDATED && r.modified > q.modified && strcmp(r.id, p.id) == 0);
    put_t s = put_local(st, "ipv4-addr", "192.0.2.1", MOUX__TLP__TLP_AMBER, 60, 9000000000000ull);
    CHECK(s.res == STORE_UPDATED && s.modified > r.modified && strcmp(s.id, p.id) == 0);
    put_t t = put_local(st, "ipv4-addr", "192.0.2.1", MOUX__TLP__TLP_AMBER, 60, 9000000000000ull);
    CHECK(t.res == STORE_UNCHANGED && t.modified == s.modified);
    store_destroy(&st);
}

static void test_rollback_discards_put(void)
{
    int64_t pid_b = 0, pid_c = 0;
    store_t *st = fresh_store("rollback", &pid_b, &pid_c);
    CHECK(st != NULL);
    if (!st)
        return;
    Moux__Indicator ind;
    ind_init(&ind, "ipv4-addr", "192.0.2.9", MOUX__TLP__TLP_GREEN, 80, 0);
    int64_t rid = 0;
    store_put_t res;
    CHECK(store_begin(st) == 0);
    CHECK(store_put_local(st, "a.example", &ind, &rid, &res) == 0 && res == STORE_NEW);
    CHECK(store_outbox_put(st, pid_b, rid, ind.modified_ms) == 0);
    store_rollback(st);
    CHECK(query(st, NULL, NULL, NULL).n == 0);
    CHECK(outbox_count(st, pid_b) == 0);
    store_destroy(&st);
}

/* An fsync that fails, for the WAL's sync. */
static int failing_sync(sqlite3_file *f, int flags)
{
    (void)f;
    (void)flags;
    return SQLITE_IOERR_FSYNC;
}

/* An unsynced transaction commits with synchronous NORMAL and leaves FULL
 * behind it, however it ends; inside a transaction it is a savepoint. The
 * daemon's sync of the WAL is retried while it fails. */
static void test_unsynced_transaction_ends_synced(void)
{
    int64_t pid_b = 0, pid_c = 0;
    store_t *st = fresh_store("unsynced", &pid_b, &pid_c);
    CHECK(st != NULL);
    if (!st)
        return;
    sqlite3 *db = store_db(st);
    CHECK(raw_count(db, "PRAGMA synchronous") == 2); /* FULL */
    CHECK(store_begin_unsynced(st) == 0);
    CHECK(raw_count(db, "PRAGMA synchronous") == 1); /* NORMAL */
    CHECK(store_event(st, "test", NULL, NULL, "unsynced", NULL) == 0);
    CHECK(store_commit(st) == 0);
    CHECK(raw_count(db, "PRAGMA synchronous") == 2);
    CHECK(raw_count(db, "SELECT count(*) FROM event WHERE reason = 'unsynced'") == 1);
    /* The daemon is told, once, to have the WAL synced; not after a synced commit. */
    CHECK(store_take_unsynced(st, 60000) == 0); /* not old enough yet */
    CHECK(store_take_unsynced(st, 0) == 1);
    CHECK(store_sync_wal(st) == 0); /* what the daemon then does */
    CHECK(store_take_unsynced(st, 0) == 0);
    CHECK(store_begin_unsynced(st) == 0 && store_commit(st) == 0);
    CHECK(store_begin(st) == 0 && store_commit(st) == 0); /* wrote nothing: synced nothing */
    CHECK(store_take_unsynced(st, 0) == 1);
    CHECK(store_begin_unsynced(st) == 0 && store_commit(st) == 0);
    CHECK(store_begin(st) == 0 && store_event(st, "test", NULL, NULL, NULL, NULL) == 0 &&
          store_commit(st) == 0); /* a synced write covers it */
    CHECK(store_take_unsynced(st, 0) == 0);
    /* A sync that fails says so and leaves the sync owed, asked for again
     * after as long again. */
    CHECK(store_begin_unsynced(st) == 0 && store_event(st, "test", NULL, NULL, NULL, NULL) == 0 &&
          store_commit(st) == 0);
    sqlite3_file *wal = NULL;
    CHECK(sqlite3_file_control(db, "main", SQLITE_FCNTL_JOURNAL_POINTER, &wal) == SQLITE_OK);
    if (wal && wal->pMethods) {
        const sqlite3_io_methods *real = wal->pMethods;
        sqlite3_io_methods failing = *real;
        failing.xSync = failing_sync;
        wal->pMethods = &failing;
        CHECK(store_take_unsynced(st, 0) == 1);
        CHECK(store_sync_wal(st) == -1);
        wal->pMethods = real;
        CHECK(store_take_unsynced(st, 60000) == 0);
        CHECK(store_take_unsynced(st, 0) == 1);
        CHECK(store_sync_wal(st) == 0);
        CHECK(store_take_unsynced(st, 0) == 0);
    } else {
        CHECK(!"the WAL is open after a commit");
    }

    CHECK(store_begin_unsynced(st) == 0);
    CHECK(store_begin(st) == 0); /* a savepoint of it */
    CHECK(store_event(st, "test", NULL, NULL, "undone", NULL) == 0);
    store_rollback(st);
    CHECK(raw_count(db, "PRAGMA synchronous") == 1);
    store_rollback(st);
    CHECK(raw_count(db, "PRAGMA synchronous") == 2);
    CHECK(raw_count(db, "SELECT count(*) FROM event WHERE reason = 'undone'") == 0);

    CHECK(store_begin(st) == 0); /* inside a synced one: a savepoint, still synced */
    CHECK(store_begin_unsynced(st) == 0);
    CHECK(raw_count(db, "PRAGMA synchronous") == 2);
    CHECK(store_commit(st) == 0 && store_commit(st) == 0);
    CHECK(raw_count(db, "PRAGMA synchronous") == 2);
    store_destroy(&st);
}

/* ---- received indicators ---- */

#define RID1 "indicator--0f8fad5b-d9cb-469f-a165-70867728950e"
#define RID2 "indicator--7c9e6679-7425-40de-944b-e07fc1f90ae7"

static void test_put_received_versions(void)
{
    int64_t pid_b = 0, pid_c = 0;
    store_t *st = fresh_store("received", &pid_b, &pid_c);
    CHECK(st != NULL);
    if (!st)
        return;
    put_t p = put_received(st, pid_b, "b.example", RID1, MOUX__TLP__TLP_GREEN, 2000, "x.example");
    CHECK(p.rc == 0 && p.res == STORE_NEW && p.rid > 0);
    found_t f = query(st, NULL, NULL, "b.example");
    CHECK(f.n == 1);
    CHECK_STR(f.id, RID1);
    CHECK_STR(f.from, "b.example");
    CHECK_STR(f.origin, "x.example");
    CHECK(f.modified == 2000 && f.tlp == TLP_GREEN);

    put_t same =
        put_received(st, pid_b, "b.example", RID1, MOUX__TLP__TLP_AMBER, 2000, "x.example");
    CHECK(same.rc == 0 && same.res == STORE_UNCHANGED && same.rid == p.rid);
    f = query(st, NULL, NULL, NULL);
    CHECK(f.n == 1 && f.tlp == TLP_GREEN); /* the same version changes nothing */

    put_t later =
        put_received(st, pid_b, "b.example", RID1, MOUX__TLP__TLP_AMBER, 3000, "x.example");
    CHECK(later.rc == 0 && later.res == STORE_UPDATED && later.rid == p.rid);
    f = query(st, NULL, NULL, NULL);
    CHECK(f.n == 1 && f.tlp == TLP_AMBER && f.modified == 3000);

    put_t earlier =
        put_received(st, pid_b, "b.example", RID1, MOUX__TLP__TLP_RED, 2500, "x.example");
    CHECK(earlier.rc == 0 && earlier.res == STORE_UNCHANGED);
    f = query(st, NULL, NULL, NULL);
    CHECK(f.n == 1 && f.tlp == TLP_AMBER && f.modified == 3000); /* later still wins */
    store_destroy(&st);
}

/* Revocation is final: no later version from the partner brings it back. */
static void test_received_revocation_is_permanent(void)
{
    int64_t pid_b = 0, pid_c = 0, rid = 0;
    store_t *st = fresh_store("revoked", &pid_b, &pid_c);
    CHECK(st != NULL);
    if (!st)
        return;
    Moux__Indicator ind;
    ind_init(&ind, "domain-name", "evil.example", MOUX__TLP__TLP_GREEN, 50, 0);
    ind.id = (char *)RID1;
    ind.pattern = "[domain-name:value = 'evil.example']";
    ind.created_ms = ind.valid_from_ms = 1000;
    ind.origin = "b.example";
    store_put_t res;
    ind.modified_ms = 2000;
    ind.revoked = 1;
    CHECK(store_put_received(st, pid_b, "b.example", &ind, now_ms(), NULL, &rid, &res) == 0);
    CHECK(res == STORE_NEW);
    ind.modified_ms = 3000;
    ind.revoked = 0;
    CHECK(store_put_received(st, pid_b, "b.example", &ind, now_ms(), NULL, &rid, &res) == 0);
    CHECK(res == STORE_UNCHANGED);
    found_t f = query(st, NULL, NULL, NULL);
    CHECK(f.n == 1 && f.modified == 2000);
    store_destroy(&st);
}

static void test_put_received_anonymised_origin(void)
{
    int64_t pid_b = 0, pid_c = 0;
    store_t *st = fresh_store("anon", &pid_b, &pid_c);
    CHECK(st != NULL);
    if (!st)
        return;
    put_t p = put_received(st, pid_b, "b.example", RID1, MOUX__TLP__TLP_GREEN, 2000, "");
    CHECK(p.res == STORE_NEW);
    found_t f = query(st, NULL, NULL, NULL);
    CHECK(f.n == 1 && f.origin_null);
    store_destroy(&st);
}

static void test_received_id_of_local_item_is_conflict(void)
{
    int64_t pid_b = 0, pid_c = 0;
    store_t *st = fresh_store("conflict-local", &pid_b, &pid_c);
    CHECK(st != NULL);
    if (!st)
        return;
    put_t mine = put_local(st, "ipv4-addr", "192.0.2.1", MOUX__TLP__TLP_GREEN, 80, 0);
    CHECK(mine.res == STORE_NEW);
    /* A partner sends a "newer version" of our own indicator. */
    put_t p = put_received(st, pid_b, "b.example", mine.id, MOUX__TLP__TLP_CLEAR,
                           mine.modified + 1000000, "b.example");
    CHECK(p.rc == 0 && p.res == STORE_CONFLICT);
    found_t f = query(st, NULL, NULL, NULL);
    CHECK(f.n == 1);
    CHECK_STR(f.id, mine.id);
    CHECK_STR(f.type, "ipv4-addr");
    CHECK_STR(f.value, "192.0.2.1");
    CHECK(f.tlp == TLP_GREEN && f.confidence == 80);
    CHECK(f.modified == mine.modified);
    CHECK(f.from_null);
    CHECK_STR(f.origin, "a.example");
    CHECK(query(st, NULL, NULL, "local").n == 1);
    CHECK(query(st, NULL, NULL, "b.example").n == 0);
    store_destroy(&st);
}

static void test_received_id_held_from_other_partner_is_conflict(void)
{
    int64_t pid_b = 0, pid_c = 0;
    store_t *st = fresh_store("conflict-partner", &pid_b, &pid_c);
    CHECK(st != NULL);
    if (!st)
        return;
    put_t p = put_received(st, pid_b, "b.example", RID1, MOUX__TLP__TLP_GREEN, 2000, "b.example");
    CHECK(p.res == STORE_NEW);
    put_t q = put_received(st, pid_c, "c.example", RID1, MOUX__TLP__TLP_RED, 9000, "c.example");
    CHECK(q.rc == 0 && q.res == STORE_CONFLICT);
    found_t f = query(st, NULL, NULL, NULL);
    CHECK(f.n == 1);
    CHECK_STR(f.from, "b.example");
    CHECK_STR(f.origin, "b.example");
    CHECK(f.tlp == TLP_GREEN && f.modified == 2000);
    CHECK(query(st, NULL, NULL, "c.example").n == 0);
    store_destroy(&st);
}

/* ---- outbox ---- */

static void test_outbox_put_fetch_order_cursor_max(void)
{
    int64_t pid_b = 0, pid_c = 0;
    store_t *st = fresh_store("outbox", &pid_b, &pid_c);
    CHECK(st != NULL);
    if (!st)
        return;
    static const char *values[] = {"192.0.2.1", "192.0.2.2", "192.0.2.3"};
    put_t p[3];
    CHECK(store_begin(st) == 0);
    for (int i = 0; i < 3; i++) {
        Moux__Indicator ind;
        ind_init(&ind, "ipv4-addr", values[i], MOUX__TLP__TLP_GREEN, 70, 0);
        CHECK(store_put_local(st, "a.example", &ind, &p[i].rid, &p[i].res) == 0);
        str_copy(p[i].id, sizeof p[i].id, ind.id);
        p[i].modified = ind.modified_ms;
    }
    /* Queued out of order: the fetch order is by row id. */
    CHECK(store_outbox_put(st, pid_b, p[2].rid, p[2].modified) == 0);
    CHECK(store_outbox_put(st, pid_b, p[0].rid, p[0].modified) == 0);
    CHECK(store_outbox_put(st, pid_b, p[1].rid, p[1].modified) == 0);
    CHECK(store_outbox_put(st, pid_b, p[1].rid, p[1].modified) == 0); /* idempotent */
    CHECK(store_commit(st) == 0);
    CHECK(outbox_count(st, pid_b) == 3);
    CHECK(outbox_count(st, pid_c) == 0);

    outbox_batch_t b;
    CHECK(store_outbox_fetch(st, pid_b, 0, 10, &b) == 0);
    CHECK(b.n == 3);
    for (size_t i = 0; i < b.n && i < 3; i++) {
        CHECK(b.rids[i] == p[i].rid);
        CHECK_STR(b.items[i]->id, p[i].id);
        CHECK_STR(b.items[i]->type, "ipv4-addr");
        CHECK_STR(b.items[i]->value, values[i]);
        CHECK_STR(b.items[i]->origin, "a.example");
        CHECK(b.items[i]->tlp == MOUX__TLP__TLP_GREEN && b.items[i]->confidence == 70);
        CHECK(b.items[i]->modified_ms == p[i].modified);
        CHECK(b.items[i]->n_hops == 0);
    }
    outbox_batch_free(&b);
    CHECK(b.n == 0 && b.items == NULL);

    CHECK(store_outbox_fetch(st, pid_b, p[0].rid, 10, &b) == 0); /* after the cursor */
    CHECK(b.n == 2 && b.rids[0] == p[1].rid);
    outbox_batch_free(&b);
    CHECK(store_outbox_fetch(st, pid_b, 0, 2, &b) == 0); /* at most max */
    CHECK(b.n == 2 && b.rids[0] == p[0].rid && b.rids[1] == p[1].rid);
    outbox_batch_free(&b);
    CHECK(store_outbox_fetch(st, pid_b, p[2].rid, 10, &b) == 0); /* nothing after the last */
    CHECK(b.n == 0);
    outbox_batch_free(&b);
    CHECK(store_outbox_fetch(st, pid_c, 0, 10, &b) == 0); /* per partner */
    CHECK(b.n == 0);
    outbox_batch_free(&b);
    store_destroy(&st);
}

static void test_outbox_done_removes_only_that_version(void)
{
    int64_t pid_b = 0, pid_c = 0;
    store_t *st = fresh_store("outbox-done", &pid_b, &pid_c);
    CHECK(st != NULL);
    if (!st)
        return;
    put_t v1 = put_local(st, "ipv4-addr", "192.0.2.1", MOUX__TLP__TLP_GREEN, 70, 0);
    put_t other = put_local(st, "ipv4-addr", "192.0.2.2", MOUX__TLP__TLP_GREEN, 70, 0);
    CHECK(queue(st, pid_b, v1.rid, v1.modified) == 0);
    CHECK(queue(st, pid_b, other.rid, other.modified) == 0);
    CHECK(queue(st, pid_c, v1.rid, v1.modified) == 0);
    CHECK(outbox_count(st, pid_b) == 2);

    /* A newer version is queued before the receipt for the old one arrives. */
    put_t v2 = put_local(st, "ipv4-addr", "192.0.2.1", MOUX__TLP__TLP_AMBER, 70, 0);
    CHECK(v2.res == STORE_UPDATED && v2.rid == v1.rid && v2.modified > v1.modified);
    CHECK(queue(st, pid_b, v2.rid, v2.modified) == 0);
    CHECK(outbox_count(st, pid_b) == 2);

    CHECK(done(st, pid_b, v1.rid, v1.modified) == 0); /* old receipt */
    CHECK(outbox_count(st, pid_b) == 2);             /* the newer version stays */
    outbox_batch_t b;
    CHECK(store_outbox_fetch(st, pid_b, 0, 10, &b) == 0);
    CHECK(b.n == 2 && b.items[0]->modified_ms == v2.modified &&
          b.items[0]->tlp == MOUX__TLP__TLP_AMBER);
    outbox_batch_free(&b);

    CHECK(done(st, pid_b, v1.rid, v2.modified) == 0);
    CHECK(outbox_count(st, pid_b) == 1);
    CHECK(outbox_count(st, pid_c) == 1); /* other partners' queues untouched */
    CHECK(done(st, pid_b, 999999, other.modified) == 0); /* unknown row: nothing happens */
    CHECK(outbox_count(st, pid_b) == 1);
    /* A receipt for a newer version than the one queued covers it too. */
    CHECK(done(st, pid_b, other.rid, other.modified + 5) == 0);
    CHECK(outbox_count(st, pid_b) == 0);
    /* A dropped entry (policy no longer allows it) goes without delivery. */
    CHECK(queue(st, pid_c, other.rid, other.modified) == 0);
    CHECK(store_outbox_drop(st, pid_c, other.rid) == 0);
    CHECK(outbox_count(st, pid_c) == 1);
    store_destroy(&st);
}

/* A receipt for a batch read whole clears its rid range, except entries
 * queued again since the read (a newer version), other partners' entries,
 * entries outside the range; and the queueing order survives a reopen. */
static void test_outbox_done_range_spares_requeued(void)
{
    int64_t pid_b = 0, pid_c = 0;
    store_t *st = fresh_store("outbox-range", &pid_b, &pid_c);
    CHECK(st != NULL);
    if (!st)
        return;
    put_t p[4];
    for (int i = 0; i < 4; i++) {
        char v[32];
        snprintf(v, sizeof v, "192.0.2.%d", i + 1);
        p[i] = put_local(st, "ipv4-addr", v, MOUX__TLP__TLP_GREEN, 70, 0);
        CHECK(queue(st, pid_b, p[i].rid, p[i].modified) == 0);
        CHECK(queue(st, pid_c, p[i].rid, p[i].modified) == 0);
    }
    outbox_batch_t b;
    CHECK(store_outbox_fetch(st, pid_b, 0, 3, &b) == 0 && b.n == 3); /* the batch: p0..p2 */
    /* p1 gets a newer version, queued after the read. */
    put_t v2 = put_local(st, "ipv4-addr", "192.0.2.2", MOUX__TLP__TLP_AMBER, 70, 0);
    CHECK(v2.res == STORE_UPDATED && v2.rid == p[1].rid);
    CHECK(queue(st, pid_b, v2.rid, v2.modified) == 0);
    CHECK(store_outbox_done_range(st, pid_b, b.rids[0], b.rids[2], b.qseq) == 0);
    CHECK(outbox_count(st, pid_b) == 2); /* p1's newer version and p3 */
    CHECK(outbox_count(st, pid_c) == 4);
    outbox_batch_free(&b);
    CHECK(store_outbox_fetch(st, pid_b, 0, 10, &b) == 0);
    CHECK(b.n == 2 && b.rids[0] == p[1].rid && b.items[0]->modified_ms == v2.modified &&
          b.rids[1] == p[3].rid);
    uint64_t before = b.qseq;
    outbox_batch_free(&b);

    /* Reopened, the store goes on counting above every entry it holds. */
    char dir[256];
    snprintf(dir, sizeof dir, "%s/outbox-range", s_tmp);
    store_destroy(&st);
    char err[512] = "";
    st = store_open(dir, STORE_RW, err, sizeof err);
    CHECK(st != NULL);
    if (!st)
        return;
    CHECK(store_outbox_fetch(st, pid_b, 0, 10, &b) == 0 && b.n == 2 && b.qseq == before);
    CHECK(queue(st, pid_b, p[3].rid, p[3].modified + 1) == 0); /* queued again after the read */
    /* One by one (a batch with dropped entries): the read's qseq spares it too,
     * even where the version would not (a row id a purge freed and reused). */
    CHECK(store_outbox_done(st, pid_b, p[3].rid, p[3].modified + 1, b.qseq) == 0);
    CHECK(outbox_count(st, pid_b) == 2);
    CHECK(store_outbox_done_range(st, pid_b, b.rids[0], b.rids[1], b.qseq) == 0);
    CHECK(outbox_count(st, pid_b) == 1);
    outbox_batch_free(&b);
    store_destroy(&st);

    /* A store queued under schema 5 (no qseq): the migration gives its
     * entries 0, and a batch read from them clears as a range. */
    sqlite3 *db = raw_db(dir);
    CHECK(db && sqlite3_exec(db, "DROP INDEX inbound_retention; ALTER TABLE inbound DROP COLUMN mou_hash;"
                             " ALTER TABLE outbox DROP COLUMN qseq; PRAGMA user_version = 5",
                             NULL, NULL, NULL) == SQLITE_OK);
    sqlite3_close(db);
    st = store_open(dir, STORE_RW, err, sizeof err);
    CHECK(st != NULL);
    if (!st)
        return;
    CHECK(outbox_count(st, pid_c) == 4);
    CHECK(store_outbox_fetch(st, pid_c, 0, 10, &b) == 0 && b.n == 4 && b.qseq == 0);
    CHECK(store_outbox_done_range(st, pid_c, b.rids[0], b.rids[3], b.qseq) == 0);
    CHECK(outbox_count(st, pid_c) == 0);
    outbox_batch_free(&b);
    store_destroy(&st);
}

static void test_outbox_forwards_received_item_with_hops(void)
{
    int64_t pid_b = 0, pid_c = 0;
    store_t *st = fresh_store("outbox-hops", &pid_b, &pid_c);
    CHECK(st != NULL);
    if (!st)
        return;
    Moux__Indicator ind;
    ind_init(&ind, "domain-name", "evil.example", MOUX__TLP__TLP_GREEN, 50, 0);
    ind.id = RID2;
    ind.modified_ms = 4000;
    ind.origin = "x.example";
    char *hops[] = {"x.example", "y.example"}, *labels[] = {"phishing", "c2", "botnet"};
    ind.hops = hops;
    ind.n_hops = 2;
    ind.labels = labels;
    ind.n_labels = 3;
    int64_t rid = 0;
    store_put_t res;
    CHECK(store_begin(st) == 0);
    CHECK(store_put_received(st, pid_b, "b.example", &ind, now_ms(), NULL, &rid, &res) == 0);
    CHECK(res == STORE_NEW);
    CHECK(store_outbox_put(st, pid_c, rid, ind.modified_ms) == 0);
    CHECK(store_commit(st) == 0);
    outbox_batch_t b;
    CHECK(store_outbox_fetch(st, pid_c, 0, 10, &b) == 0);
    CHECK(b.n == 1);
    if (b.n == 1) {
        CHECK_STR(b.items[0]->id, RID2);
        CHECK_STR(b.items[0]->origin, "x.example");
        CHECK(b.items[0]->n_hops == 3);
        if (b.items[0]->n_hops == 3) {
            CHECK_STR(b.items[0]->hops[0], "x.example");
            CHECK_STR(b.items[0]->hops[1], "y.example");
            CHECK_STR(b.items[0]->hops[2], "b.example"); /* who delivered it */
        }
        CHECK(b.items[0]->n_labels == 3);
        if (b.items[0]->n_labels == 3) { /* one block: hops, labels and strings apart */
            CHECK_STR(b.items[0]->labels[0], "phishing");
            CHECK_STR(b.items[0]->labels[1], "c2");
            CHECK_STR(b.items[0]->labels[2], "botnet");
        }
        CHECK_STR(b.items[0]->value, "evil.example");
        CHECK_STR(b.items[0]->type, "domain-name");
    }
    outbox_batch_free(&b);
    store_destroy(&st);
}

/* ---- inbound batches ---- */

static void test_inbound_put_find_and_sequence(void)
{
    int64_t pid_b = 0, pid_c = 0;
    store_t *st = fresh_store("inbound", &pid_b, &pid_c);
    CHECK(st != NULL);
    if (!st)
        return;
    uint8_t msgid[16], other[16], sig[64], hdr[40], payload[100], receipt[150], key[32], key2[32];
    randombytes_buf(key, sizeof key);
    randombytes_buf(key2, sizeof key2);
    randombytes_buf(msgid, sizeof msgid);
    randombytes_buf(other, sizeof other);
    randombytes_buf(sig, sizeof sig);
    randombytes_buf(hdr, sizeof hdr);
    randombytes_buf(payload, sizeof payload);
    randombytes_buf(receipt, sizeof receipt);
    ProtobufCBinaryData header = {sizeof hdr, hdr};
    uint8_t *frame = NULL;
    size_t len = 0;

    CHECK(store_inbound_find(st, pid_b, msgid, &frame, &len) == 0);
    CHECK(store_inbound_seq_used(st, pid_b, key, 5) == 0);
    CHECK(store_begin(st) == 0);
    CHECK(store_inbound_put(st, pid_b, key, msgid, 5, &header, payload, sizeof payload, sig, receipt,
                            sizeof receipt) == 0);
    CHECK(store_commit(st) == 0);

    CHECK(store_inbound_find(st, pid_b, msgid, &frame, &len) == 1);
    CHECK(len == sizeof receipt && frame && memcmp(frame, receipt, len) == 0);
    free(frame);
    frame = NULL;
    CHECK(store_inbound_seq_used(st, pid_b, key, 5) == 1);
    CHECK(store_inbound_seq_used(st, pid_b, key, 6) == 0);
    CHECK(store_inbound_seq_used(st, pid_c, key, 5) == 0);   /* per partner */
    CHECK(store_inbound_find(st, pid_b, other, &frame, &len) == 0); /* unknown message id */
    CHECK(store_inbound_find(st, pid_c, msgid, &frame, &len) == 0); /* same id, other partner */
    CHECK(frame == NULL);

    /* The same message id, or the same sequence, cannot be stored twice. */
    CHECK(store_inbound_put(st, pid_b, key, msgid, 6, &header, payload, sizeof payload, sig, receipt,
                            sizeof receipt) != 0);
    CHECK(store_inbound_put(st, pid_b, key, other, 5, &header, payload, sizeof payload, sig, receipt,
                            sizeof receipt) != 0);
    CHECK(store_inbound_put(st, pid_c, key, msgid, 5, &header, payload, sizeof payload, sig, receipt,
                            sizeof receipt) == 0);
    /* A partner that re-keyed (a new node) numbers from the start again. */
    CHECK(store_inbound_seq_used(st, pid_b, key2, 5) == 0);
    CHECK(store_inbound_put(st, pid_b, key2, other, 5, &header, payload, sizeof payload, sig,
                            receipt, sizeof receipt) == 0);
    store_destroy(&st);
}

static void test_receipt_put_keeps_first(void)
{
    int64_t pid_b = 0, pid_c = 0;
    store_t *st = fresh_store("receipts", &pid_b, &pid_c);
    CHECK(st != NULL);
    if (!st)
        return;
    uint8_t msgid[16], sig[64], raw[20];
    randombytes_buf(msgid, sizeof msgid);
    randombytes_buf(sig, sizeof sig);
    randombytes_buf(raw, sizeof raw);
    Moux__ReceiptBody body = MOUX__RECEIPT_BODY__INIT;
    body.message_id = (ProtobufCBinaryData){16, msgid};
    body.sequence = 3;
    ProtobufCBinaryData rawb = {sizeof raw, raw}, sigb = {sizeof sig, sig};
    CHECK(store_receipt_put(st, pid_b, &body, &rawb, &sigb, 2, 1, 0) == 0);
    CHECK(store_receipt_put(st, pid_b, &body, &rawb, &sigb, 0, 0, 3) == 0); /* ignored */
    char dir[256];
    snprintf(dir, sizeof dir, "%s/receipts", s_tmp);
    sqlite3 *db = raw_db(dir);
    CHECK(db != NULL);
    CHECK(raw_count(db, "SELECT count(*) FROM receipt") == 1);
    CHECK(raw_count(db, "SELECT accepted FROM receipt") == 2);
    sqlite3_close(db);
    store_destroy(&st);
}

/* ---- events ---- */

static void test_event_inserted(void)
{
    int64_t pid_b = 0, pid_c = 0;
    store_t *st = fresh_store("events", &pid_b, &pid_c);
    CHECK(st != NULL);
    if (!st)
        return;
    CHECK(store_event(st, "batch-refused", "b.example", NULL, "bad-signature", NULL) == 0);
    CHECK(store_event(st, "item-refused", "c.example", RID1, "tlp-not-allowed", "url") == 0);
    char dir[256];
    snprintf(dir, sizeof dir, "%s/events", s_tmp);
    sqlite3 *db = raw_db(dir);
    CHECK(db != NULL);
    CHECK(raw_count(db, "SELECT count(*) FROM event") == 2);
    CHECK(raw_count(db, "SELECT count(*) FROM event WHERE kind = 'batch-refused' AND"
                        " partner = 'b.example' AND indicator_id IS NULL AND"
                        " reason = 'bad-signature' AND detail IS NULL") == 1);
    CHECK(raw_count(db, "SELECT count(*) FROM event WHERE kind = 'item-refused' AND"
                        " partner = 'c.example' AND indicator_id = '" RID1 "' AND"
                        " reason = 'tlp-not-allowed' AND detail = 'url'") == 1);
    CHECK(raw_count(db, "SELECT count(*) FROM event WHERE ts_ms > 0") == 2);
    sqlite3_close(db);
    store_destroy(&st);
}

/* ---- WAL checkpoints on their own thread (walckpt.c) ---- */

/* Commits grow the WAL past WALCKPT_PAGES; the thread checkpoints it (the
 * committing connection does not), every row stays readable from another
 * connection, and after stop the connection checkpoints by itself again. */
static void test_wal_checkpoint_thread(void)
{
    int64_t pid_b = 0, pid_c = 0;
    char err[256], dir[256];
    store_t *st = fresh_store("walckpt", &pid_b, &pid_c);
    CHECK(st != NULL);
    if (!st)
        return;
    walckpt_t *w = walckpt_start(st, err, sizeof err);
    CHECK(w != NULL);
    if (!w) {
        store_destroy(&st);
        return;
    }
    int rows = 0;
    /* 300 commits of 64 events (a page or more each): well past 1,000 pages. */
    for (int i = 0; i < 300; i++) {
        CHECK(store_begin(st) == 0);
        for (int j = 0; j < 64; j++, rows++)
            CHECK(store_event(st, "withdrawn", NULL, RID1, NULL,
                              "a detail long enough to fill pages quickly, a detail long "
                              "enough to fill pages quickly") == 0);
        CHECK(store_commit(st) == 0);
    }
    /* Bounded wait: the thread was signalled at the crossing commit. */
    for (int i = 0; i < 500 && walckpt_count(w) == 0; i++)
        usleep(10000);
    CHECK(walckpt_count(w) > 0);
    snprintf(dir, sizeof dir, "%s/walckpt", s_tmp);
    sqlite3 *db = raw_db(dir);
    CHECK(db != NULL);
    CHECK(raw_count(db, "SELECT count(*) FROM event WHERE kind = 'withdrawn'") == rows);
    sqlite3_close(db);
    walckpt_stop(&w);
    CHECK(w == NULL);
    walckpt_stop(&w); /* twice is harmless */
    CHECK(store_event(st, "withdrawn", NULL, RID1, NULL, NULL) == 0);
    store_destroy(&st);
}

/* ---- queries ---- */

static void test_query_filters(void)
{
    int64_t pid_b = 0, pid_c = 0;
    store_t *st = fresh_store("query", &pid_b, &pid_c);
    CHECK(st != NULL);
    if (!st)
        return;
    put_local(st, "ipv4-addr", "192.0.2.1", MOUX__TLP__TLP_GREEN, 80, 0);
    put_local(st, "ipv4-addr", "192.0.2.2", MOUX__TLP__TLP_GREEN, 80, 0);
    put_local(st, "domain-name", "local.example", MOUX__TLP__TLP_GREEN, 80, 0);
    put_received(st, pid_b, "b.example", RID1, MOUX__TLP__TLP_GREEN, 2000, "b.example");
    put_received(st, pid_c, "c.example", RID2, MOUX__TLP__TLP_GREEN, 2000, "x.example");

    CHECK(query(st, NULL, NULL, NULL).n == 5);
    CHECK(query(st, "ipv4-addr", NULL, NULL).n == 2);
    CHECK(query(st, "domain-name", NULL, NULL).n == 3);
    CHECK(query(st, "url", NULL, NULL).n == 0);
    CHECK(query(st, NULL, "192.0.2.2", NULL).n == 1);
    CHECK(query(st, NULL, "evil.example", NULL).n == 2);
    CHECK(query(st, "ipv4-addr", "evil.example", NULL).n == 0);
    CHECK(query(st, NULL, NULL, "local").n == 3);
    CHECK(query(st, "domain-name", NULL, "local").n == 1);
    found_t f = query(st, NULL, NULL, "b.example");
    CHECK(f.n == 1);
    CHECK_STR(f.id, RID1);
    f = query(st, NULL, "evil.example", "c.example");
    CHECK(f.n == 1);
    CHECK_STR(f.id, RID2);
    CHECK_STR(f.origin, "x.example");
    CHECK(query(st, NULL, NULL, "z.example").n == 0);

    /* The callback stops the walk by returning non-zero. */
    found_t g;
    memset(&g, 0, sizeof g);
    g.stop_after = 2;
    store_filter_t all = {.type = NULL};
    CHECK(store_query(st, &all, collect, &g) == 0);
    CHECK(g.n == 2);
    store_destroy(&st);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    s_root = rootkey_generate();
    if (!s_root)
        return 1;
    snprintf(s_tmp, sizeof s_tmp, "/tmp/moux-test-store-XXXXXX");
    if (!mkdtemp(s_tmp)) {
        perror("mkdtemp");
        return 1;
    }
    RUN(test_open_creates_schema);
    RUN(test_second_open_and_read_only_open);
    RUN(test_read_only_open_of_missing_store_refused);
    RUN(test_newer_schema_refused);
    RUN(test_migrates_schema_1);
    RUN(test_partner_upsert_and_list);
    RUN(test_partner_reupsert_keeps_sequence_state_unless_rekeyed);
    RUN(test_partner_keys_list_upserted_certificate_as_current);
    RUN(test_partner_key_add_rotates_with_overlap);
    RUN(test_partner_reupsert_retires_other_keys_at_once);
    RUN(test_partner_revocations_mark_covered_keys);
    RUN(test_partner_acked_serial_and_rev_number_round_trip);
    RUN(test_failed_partner_upsert_leaves_nothing);
    RUN(test_own_key_put_and_retire);
    RUN(test_put_local_new);
    RUN(test_put_local_same_is_unchanged);
    RUN(test_put_local_changed_is_new_version);
    RUN(test_rollback_discards_put);
    RUN(test_unsynced_transaction_ends_synced);
    RUN(test_put_received_versions);
    RUN(test_put_received_anonymised_origin);
    RUN(test_received_revocation_is_permanent);
    RUN(test_received_id_of_local_item_is_conflict);
    RUN(test_received_id_held_from_other_partner_is_conflict);
    RUN(test_outbox_put_fetch_order_cursor_max);
    RUN(test_outbox_done_removes_only_that_version);
    RUN(test_outbox_done_range_spares_requeued);
    RUN(test_outbox_forwards_received_item_with_hops);
    RUN(test_inbound_put_find_and_sequence);
    RUN(test_receipt_put_keeps_first);
    RUN(test_event_inserted);
    RUN(test_wal_checkpoint_thread);
    RUN(test_query_filters);
    rm_rf(s_tmp);
    rootkey_destroy(&s_root);
    return TEST_DONE();
}
