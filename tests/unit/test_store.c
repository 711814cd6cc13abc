/* The SQLite store: schema, partners, local and received indicators with
 * their conflict rules, the outbox, inbound batches, events and queries.
 * Each test works on its own fresh store under a temporary directory. */
#include "indicator.h"
#include "store.h"
#include "test.h"
#include "util.h"

#include <dirent.h>
#include <sodium.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char s_tmp[64];

/* ---- helpers ---- */

static void rm_rf(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return;
    if (S_ISDIR(st.st_mode)) {
        DIR *d = opendir(path);
        if (d) {
            struct dirent *e;
            while ((e = readdir(d)) != NULL) {
                if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                    continue;
                char sub[4096];
                snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
                rm_rf(sub);
            }
            closedir(d);
        }
        rmdir(path);
    } else {
        unlink(path);
    }
}

/* A fresh, empty directory s_tmp/name. */
static const char *fresh_dir(char *buf, size_t cap, const char *name)
{
    snprintf(buf, cap, "%s/%s", s_tmp, name);
    rm_rf(buf);
    mkdir(buf, 0700);
    return buf;
}

static void make_partner(partner_t *p, const char *agency, const char *endpoint)
{
    memset(p, 0, sizeof *p);
    str_copy(p->agency, sizeof p->agency, agency);
    str_copy(p->endpoint, sizeof p->endpoint, endpoint);
    randombytes_buf(p->sign_pk, 32);
    randombytes_buf(p->enc_pk, 32);
    randombytes_buf(p->curve_pk, 32);
    unsigned char fp[FP_BYTES];
    randombytes_buf(fp, sizeof fp);
    fingerprint_format(fp, p->fingerprint);
    p->allow_types = (1u << IND_TYPE_COUNT) - 1;
    p->max_tlp = TLP_AMBER;
    p->added_ms = now_ms();
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

/* A new store in s_tmp/name with partners b.example and c.example. */
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
    make_partner(&b, "b.example", "tcp://127.0.0.1:7102");
    make_partner(&c, "c.example", "tcp://127.0.0.1:7103");
    if (store_partner_upsert(st, &b) != 0 || store_partner_upsert(st, &c) != 0) {
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
        out.rc = store_put_received(st, pid, from, &ind, now_ms(), &out.rid, &out.res);
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
    store_filter_t filter = {type, value, from};
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

/* Applies a receipt's verdict on one item, in a transaction as the daemon does. */
static int done(store_t *st, int64_t pid, const char *id, uint64_t modified)
{
    if (store_begin(st) != 0)
        return -1;
    if (store_outbox_done(st, pid, id, modified) != 0) {
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
    CHECK(raw_count(db, "PRAGMA user_version") == 1);
    CHECK(raw_count(db, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN"
                        " ('partner','indicator','outbox','inbound','receipt','event')") == 6);
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
    make_partner(&c, "c.example", "tcp://127.0.0.1:7103");
    make_partner(&b, "b.example", "tcp://127.0.0.1:7102");
    b.allow_types = 1u << IND_DOMAIN;
    b.max_tlp = TLP_GREEN;
    CHECK(store_partner_upsert(st, &c) == 0);
    CHECK(store_partner_upsert(st, &b) == 0);

    partner_t *list = NULL;
    size_t n = 0;
    CHECK(store_partners(st, &list, &n) == 0);
    CHECK(n == 2);
    if (n == 2) {
        CHECK_STR(list[0].agency, "b.example"); /* ordered by agency */
        CHECK_STR(list[1].agency, "c.example");
        CHECK_STR(list[0].endpoint, "tcp://127.0.0.1:7102");
        CHECK(memcmp(list[0].sign_pk, b.sign_pk, 32) == 0);
        CHECK(memcmp(list[0].enc_pk, b.enc_pk, 32) == 0);
        CHECK(memcmp(list[0].curve_pk, b.curve_pk, 32) == 0);
        CHECK_STR(list[0].fingerprint, b.fingerprint);
        CHECK(list[0].allow_types == (1u << IND_DOMAIN));
        CHECK(list[0].max_tlp == TLP_GREEN);
        CHECK(list[0].added_ms == b.added_ms);
        CHECK(list[0].tx_seq_reserved == 0 && list[0].rx_high_seq == 0);
        CHECK(list[0].pid != list[1].pid && list[0].pid > 0 && list[1].pid > 0);
    }
    free(list);
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

    partner_t *list = NULL;
    size_t n = 0;
    partner_t b2;
    make_partner(&b2, "b.example", "tcp://192.0.2.7:7200");
    CHECK(store_partners(st, &list, &n) == 0 && n == 2);
    if (n == 2) /* the same node: same signing key, other endpoint and keys */
        memcpy(b2.sign_pk, list[0].sign_pk, 32);
    free(list);
    b2.max_tlp = TLP_RED;
    b2.allow_types = 3;
    CHECK(store_partner_upsert(st, &b2) == 0);

    CHECK(store_partners(st, &list, &n) == 0);
    CHECK(n == 2);
    if (n == 2) {
        partner_t *p = &list[0];
        CHECK(p->pid == pid_b);
        CHECK_STR(p->endpoint, "tcp://192.0.2.7:7200");
        CHECK(memcmp(p->sign_pk, b2.sign_pk, 32) == 0);
        CHECK(memcmp(p->curve_pk, b2.curve_pk, 32) == 0);
        CHECK(p->max_tlp == TLP_RED && p->allow_types == 3);
        CHECK(p->tx_seq_reserved == 100);
        CHECK(p->rx_high_seq == 42);
        CHECK(p->last_receipt_ms == 123456);
        CHECK(list[1].tx_seq_reserved == 0); /* c untouched */
    }
    free(list);

    /* A new signing key is a new node: it numbers its batches from 1 again. */
    partner_t b3;
    make_partner(&b3, "b.example", "tcp://192.0.2.7:7200");
    CHECK(store_partner_upsert(st, &b3) == 0);
    CHECK(store_partners(st, &list, &n) == 0);
    CHECK(n == 2 && list[0].rx_high_seq == 0 && list[0].tx_seq_reserved == 100);
    free(list);
    store_destroy(&st);
}

static void test_partner_curve_key_must_be_unique(void)
{
    int64_t pid_b = 0, pid_c = 0;
    store_t *st = fresh_store("curve-unique", &pid_b, &pid_c);
    CHECK(st != NULL);
    if (!st)
        return;
    partner_t *list = NULL;
    size_t n = 0;
    CHECK(store_partners(st, &list, &n) == 0 && n == 2);
    partner_t d;
    make_partner(&d, "d.example", "tcp://127.0.0.1:7104");
    if (n == 2)
        memcpy(d.curve_pk, list[0].curve_pk, 32); /* b's transport key */
    CHECK(store_partner_upsert(st, &d) != 0);
    free(list);
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
    CHECK(store_put_received(st, pid_b, "b.example", &ind, now_ms(), &rid, &res) == 0);
    CHECK(res == STORE_NEW);
    ind.modified_ms = 3000;
    ind.revoked = 0;
    CHECK(store_put_received(st, pid_b, "b.example", &ind, now_ms(), &rid, &res) == 0);
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

    CHECK(done(st, pid_b, v1.id, v1.modified) == 0); /* old receipt */
    CHECK(outbox_count(st, pid_b) == 2);             /* the newer version stays */
    outbox_batch_t b;
    CHECK(store_outbox_fetch(st, pid_b, 0, 10, &b) == 0);
    CHECK(b.n == 2 && b.items[0]->modified_ms == v2.modified &&
          b.items[0]->tlp == MOUX__TLP__TLP_AMBER);
    outbox_batch_free(&b);

    CHECK(done(st, pid_b, v1.id, v2.modified) == 0);
    CHECK(outbox_count(st, pid_b) == 1);
    CHECK(outbox_count(st, pid_c) == 1); /* other partners' queues untouched */
    CHECK(done(st, pid_b, "indicator--00000000-0000-4000-8000-000000000000",
               other.modified) == 0); /* unknown id: nothing happens */
    CHECK(outbox_count(st, pid_b) == 1);
    CHECK(done(st, pid_b, other.id, other.modified) == 0);
    CHECK(outbox_count(st, pid_b) == 0);
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
    char *hops[] = {"x.example", "y.example"};
    ind.hops = hops;
    ind.n_hops = 2;
    int64_t rid = 0;
    store_put_t res;
    CHECK(store_begin(st) == 0);
    CHECK(store_put_received(st, pid_b, "b.example", &ind, now_ms(), &rid, &res) == 0);
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
    store_filter_t all = {NULL, NULL, NULL};
    CHECK(store_query(st, &all, collect, &g) == 0);
    CHECK(g.n == 2);
    store_destroy(&st);
}

int main(void)
{
    if (sodium_init() < 0)
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
    RUN(test_partner_upsert_and_list);
    RUN(test_partner_reupsert_keeps_sequence_state_unless_rekeyed);
    RUN(test_partner_curve_key_must_be_unique);
    RUN(test_put_local_new);
    RUN(test_put_local_same_is_unchanged);
    RUN(test_put_local_changed_is_new_version);
    RUN(test_rollback_discards_put);
    RUN(test_put_received_versions);
    RUN(test_put_received_anonymised_origin);
    RUN(test_received_revocation_is_permanent);
    RUN(test_received_id_of_local_item_is_conflict);
    RUN(test_received_id_held_from_other_partner_is_conflict);
    RUN(test_outbox_put_fetch_order_cursor_max);
    RUN(test_outbox_done_removes_only_that_version);
    RUN(test_outbox_forwards_received_item_with_hops);
    RUN(test_inbound_put_find_and_sequence);
    RUN(test_receipt_put_keeps_first);
    RUN(test_event_inserted);
    RUN(test_query_filters);
    rm_rf(s_tmp);
    return TEST_DONE();
}
