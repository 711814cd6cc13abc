/* The audit log (node/lib/store_audit.c, node/lib/audit.c,
 * node/lib/checkpoint.c, docs/AUDIT.md): entries appended with
 * store_audit_append and store_event, checkpoints signed with the node's
 * key, audit_verify intact; then one row edited directly with SQL (a
 * column; entry and leaf rewritten consistently, with and without the
 * columns; a row deleted; two rows swapped; the last rows deleted; a
 * checkpoint's signature) and each time audit_verify names the entry.
 * Inclusion proofs checked offline with the root fingerprint alone, and
 * refused when anything in them is changed. Rolled-back appends leave the
 * in-memory frontier consistent with the table. Keys are generated at run
 * time; each store lives in its own directory under a temporary one. */
#include "audit.h"
#include "cert.h"
#include "checkpoint.h"
#include "merkle.h"
#include "nodekeys.h"
#include "rootkey.h"
#include "store.h"
#include "test.h"
#include "util.h"

#include <inttypes.h>
#include <sodium.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define AGENCY "a.example"
#define DAY_MS (24ull * 3600 * 1000)
#define N_ENTRIES 12 /* checkpoints at 4, 8 and 12 */

static rootkey_t *s_root, *s_other_root;
static nodekeys_t *s_keys, *s_other_keys;

/* ---- fixture: a store with a certified key and a log of 12 entries ---- */

typedef struct {
    char dir[256];
    store_t *st;
} fixture_t;

/* Certifies keys (serial, validity [nb, na]) under root into the own_key
 * history of st. */
static int s_certify(store_t *st, const rootkey_t *root, const nodekeys_t *keys, uint64_t serial,
                     uint64_t nb, uint64_t na)
{
    cert_t c;
    memset(&c, 0, sizeof c);
    str_copy(c.agency, sizeof c.agency, AGENCY);
    str_copy(c.endpoint, sizeof c.endpoint, "tcp://127.0.0.1:7000");
    memcpy(c.sign_pk, keys->sign_pk, 32);
    memcpy(c.enc_pk, keys->enc_pk, 32);
    memcpy(c.curve_pk, keys->curve_pk, 32);
    c.serial = serial;
    c.not_before_ms = nb;
    c.not_after_ms = na;
    uint8_t *raw = NULL;
    size_t len = 0;
    int rc = cert_issue(&c, root, &raw, &len) == 0 && store_own_key_put(st, &c, raw, len) == 0
                 ? 0 : -1;
    free(raw);
    return rc;
}

/* Entry i, one of four shapes: events (through store_event, alone and
 * inside a transaction), a share and a receipt with JSON details. */
static int s_append(store_t *st, uint64_t i)
{
    char subject[64], detail[64];
    uint64_t index = UINT64_MAX;
    snprintf(subject, sizeof subject, "indicator--00000000-0000-4000-8000-%012" PRIu64, i);
    switch (i % 4) {
    case 0:
        snprintf(detail, sizeof detail, "purged=%" PRIu64, i);
        return store_event(st, "retention-purge", "b.example", NULL, "retention-days", detail);
    case 1: { /* inside the caller's transaction */
        int rc = store_begin(st);
        rc = rc || store_event(st, "item-refused", "b.example", subject, "tlp-too-high", "max-tlp");
        rc = rc || store_commit(st);
        if (rc)
            store_rollback(st);
        return rc ? -1 : 0;
    }
    case 2: {
        json_t *d = json_pack("{s:I, s:{s:{s:i}}, s:i, s:i, s:i, s:I, s:s}", "sequence",
                              (json_int_t)i, "items", "ipv4-addr", "green", 2, "accepted", 2,
                              "duplicate", 0, "refused", 0, "partner_entry", (json_int_t)(i + 1),
                              "mou", "a.example--b.example-test");
        int rc = store_audit_append(st, "share", "b.example", "00112233445566778899aabbccddeeff",
                                    NULL, NULL, d, &index);
        json_decref(d);
        return rc == 0 && index == i ? 0 : -1;
    }
    default: {
        json_t *d = json_pack("{s:I, s:{s:{s:i}}, s:i, s:i, s:i, s:s}", "sequence",
                              (json_int_t)i, "items", "domain-name", "amber", 1, "accepted", 1,
                              "duplicate", 0, "refused", 0, "mou", "a.example--b.example-test");
        int rc = store_begin(st);
        rc = rc || store_audit_append(st, "receipt", "b.example",
                                      "ffeeddccbbaa99887766554433221100", NULL, NULL, d, &index);
        rc = rc || store_commit(st);
        json_decref(d);
        if (rc) {
            store_rollback(st);
            return -1;
        }
        return index == i ? 0 : -1;
    }
    }
}

static int s_fixture(fixture_t *fx, const char *name)
{
    char err[512];
    snprintf(fx->dir, sizeof fx->dir, "%s/%s", s_tmp, name);
    rm_rf(fx->dir);
    mkdir(fx->dir, 0700);
    fx->st = store_open(fx->dir, STORE_RW, err, sizeof err);
    if (!fx->st) {
        fprintf(stderr, "store_open: %s\n", err);
        return -1;
    }
    uint64_t now = now_ms(), size = 0;
    if (s_certify(fx->st, s_root, s_keys, 1, now - DAY_MS, now + 30 * DAY_MS) != 0)
        return -1;
    for (uint64_t i = 0, n = 0; i < N_ENTRIES; i++) {
        if (s_append(fx->st, i) != 0 || store_audit_size(fx->st, &n) != 0 || n != i + 1)
            return -1;
        if (n % 4 == 0 &&
            audit_checkpoint(fx->st, AGENCY, s_keys->sign_pk, s_keys->sign_sk, &size) != 1)
            return -1;
    }
    uint64_t n = 0;
    return store_audit_size(fx->st, &n) == 0 && n == N_ENTRIES ? 0 : -1;
}

static void s_fixture_done(fixture_t *fx)
{
    store_destroy(&fx->st);
    rm_rf(fx->dir);
}

static int s_sql(store_t *st, const char *sql)
{
    char *msg = NULL;
    int rc = sqlite3_exec(store_db(st), sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK)
        fprintf(stderr, "SQL %s: %s\n", sql, msg ? msg : "?");
    sqlite3_free(msg);
    return rc == SQLITE_OK ? 0 : -1;
}

/* ---- what audit_verify reports ---- */

#define MAX_PROBLEMS 32

typedef struct {
    size_t n;
    uint64_t index[MAX_PROBLEMS];
    char what[MAX_PROBLEMS][256];
} problems_t;

static void s_collect(void *arg, uint64_t index, const char *what)
{
    problems_t *p = arg;
    if (p->n < MAX_PROBLEMS) {
        p->index[p->n] = index;
        str_copy(p->what[p->n], sizeof p->what[p->n], what);
    }
    p->n++;
}

static long s_verify(store_t *st, problems_t *p)
{
    uint64_t entries = 0, cps = 0;
    memset(p, 0, sizeof *p);
    long n = audit_verify(st, s_collect, p, &entries, &cps);
    if (n != (long)p->n)
        fprintf(stderr, "audit_verify returned %ld but reported %zu problems\n", n, p->n);
    return n;
}

/* Prints what verify reported, when a check failed since the last dump. */
static void s_dump(const problems_t *p)
{
    static int dumped_at;
    if (t_failed_checks == dumped_at)
        return;
    dumped_at = t_failed_checks;
    for (size_t i = 0; i < p->n && i < MAX_PROBLEMS; i++)
        fprintf(stderr, "    entry %" PRIu64 ": %s\n", p->index[i], p->what[i]);
}

/* 1 if a problem names index and its text contains needle. */
static int s_has(const problems_t *p, uint64_t index, const char *needle)
{
    for (size_t i = 0; i < p->n && i < MAX_PROBLEMS; i++)
        if (p->index[i] == index && strstr(p->what[i], needle))
            return 1;
    return 0;
}

/* 1 if every problem's "from X to Y" range contains index (a problem with
 * no range must name index itself). */
static int s_all_cover(const problems_t *p, uint64_t index)
{
    for (size_t i = 0; i < p->n && i < MAX_PROBLEMS; i++) {
        const char *r = strstr(p->what[i], " from ");
        unsigned long long lo = 0, hi = 0;
        if (r && sscanf(r, " from %llu to %llu", &lo, &hi) == 2) {
            if (index < lo || index > hi || p->index[i] != lo)
                return 0;
        } else if (p->index[i] != index) {
            return 0;
        }
    }
    return p->n > 0;
}

/* ---- reading and rewriting rows ---- */

/* The entry bytes of row idx (caller frees). */
static char *s_entry_of(store_t *st, uint64_t idx)
{
    uint8_t leaf[32], *entry = NULL;
    size_t len = 0;
    if (store_audit_entry(st, idx, leaf, &entry, &len) != 1)
        return NULL;
    return (char *)entry;
}

/* Replaces row idx's entry with text and its leaf with text's RFC 6962
 * leaf hash: a consistent rewrite, as someone with database access (and
 * without the signing key) would make it. */
static int s_rewrite(store_t *st, uint64_t idx, const char *text)
{
    uint8_t leaf[32];
    sqlite3_stmt *q = NULL;
    merkle_leaf_hash((const uint8_t *)text, strlen(text), leaf);
    if (sqlite3_prepare_v2(store_db(st), "UPDATE audit SET entry = ?1, leaf = ?2 WHERE idx = ?3",
                           -1, &q, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_blob(q, 1, text, (int)strlen(text), SQLITE_TRANSIENT);
    sqlite3_bind_blob(q, 2, leaf, 32, SQLITE_TRANSIENT);
    sqlite3_bind_int64(q, 3, (sqlite3_int64)idx);
    int rc = sqlite3_step(q) == SQLITE_DONE && sqlite3_changes(store_db(st)) == 1 ? 0 : -1;
    sqlite3_finalize(q);
    return rc;
}

/* The canonical form of a JSON object, as store_audit.c writes entries. */
static char *s_canon(json_t *o)
{
    return json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII);
}

/* ---- tests ---- */

static void test_intact(void)
{
    fixture_t fx;
    CHECK(s_fixture(&fx, "intact") == 0);
    problems_t p;
    uint64_t entries = 0, cps = 0, size = 0;
    memset(&p, 0, sizeof p);
    CHECK(audit_verify(fx.st, s_collect, &p, &entries, &cps) == 0);
    CHECK(p.n == 0);
    s_dump(&p);
    CHECK(entries == N_ENTRIES);
    CHECK(cps == 3);
    /* Nothing new: no new checkpoint. */
    CHECK(audit_checkpoint(fx.st, AGENCY, s_keys->sign_pk, s_keys->sign_sk, &size) == 0);
    CHECK(size == N_ENTRIES);
    /* The entries are canonical JSON naming their index, with the fields
     * of their kind; the columns say the same. */
    char *e = s_entry_of(fx.st, 2);
    CHECK(e != NULL);
    json_error_t je;
    json_t *o = e ? json_loads(e, 0, &je) : NULL;
    CHECK(o != NULL);
    char *c = o ? s_canon(o) : NULL;
    CHECK_STR(c, e);
    CHECK(json_integer_value(json_object_get(o, "index")) == 2);
    CHECK_STR(json_string_value(json_object_get(o, "kind")), "share");
    CHECK_STR(json_string_value(json_object_get(o, "partner")), "b.example");
    CHECK(json_is_object(json_object_get(o, "detail")));
    CHECK(json_object_get(o, "reason") == NULL); /* absent fields are left out */
    CHECK(json_integer_value(json_object_get(o, "time_ms")) > 0);
    free(c);
    json_decref(o);
    free(e);
    e = s_entry_of(fx.st, 1);
    o = e ? json_loads(e, 0, &je) : NULL;
    CHECK(o != NULL);
    CHECK_STR(json_string_value(json_object_get(o, "kind")), "item-refused");
    CHECK_STR(json_string_value(json_object_get(o, "subject")),
              "indicator--00000000-0000-4000-8000-000000000001");
    CHECK_STR(json_string_value(json_object_get(o, "reason")), "tlp-too-high");
    CHECK_STR(json_string_value(json_object_get(o, "detail")), "max-tlp");
    json_decref(o);
    free(e);
    /* store_event wrote the event table too. */
    sqlite3_stmt *q = NULL;
    CHECK(sqlite3_prepare_v2(store_db(fx.st), "SELECT count(*) FROM event", -1, &q, NULL) ==
          SQLITE_OK);
    CHECK(sqlite3_step(q) == SQLITE_ROW && sqlite3_column_int(q, 0) == N_ENTRIES / 2);
    sqlite3_finalize(q);
    /* The root of the newest checkpoint is the table's root. */
    merkle_source_t src;
    uint8_t root[32], cp_root[32], *raw = NULL;
    size_t len = 0;
    store_audit_source(fx.st, &src);
    CHECK(merkle_root_src(N_ENTRIES, &src, root) == 0);
    CHECK(store_checkpoint_latest(fx.st, UINT64_MAX, &size, cp_root, &raw, &len) == 1);
    CHECK(size == N_ENTRIES && memcmp(root, cp_root, 32) == 0);
    checkpoint_t cp;
    CHECK(checkpoint_verify(raw, len, s_keys->sign_pk, &cp, &(const char *){NULL}) == 0);
    CHECK_STR(cp.log, AGENCY);
    CHECK(cp.size == N_ENTRIES && memcmp(cp.root, root, 32) == 0);
    CHECK(checkpoint_verify(raw, len, s_other_keys->sign_pk, &cp, &(const char *){NULL}) != 0);
    /* A witness's countersignature verifies only with the witness's key. */
    uint8_t sig[64];
    CHECK(checkpoint_countersign(raw, len, s_other_keys->sign_sk, sig) == 0);
    CHECK(checkpoint_countersig_verify(raw, len, s_other_keys->sign_pk, sig) == 0);
    CHECK(checkpoint_countersig_verify(raw, len, s_keys->sign_pk, sig) != 0);
    free(raw);
    s_fixture_done(&fx);
}

/* One column of one row changed: that entry, and only it. */
static void test_column_changed(void)
{
    static const char *edits[] = {
        "UPDATE audit SET partner = 'evil.example' WHERE idx = 5",
        "UPDATE audit SET kind = 'retention-purge' WHERE idx = 5",
        "UPDATE audit SET ts_ms = ts_ms + 1 WHERE idx = 5",
        "UPDATE audit SET reason = NULL WHERE idx = 5",
        "UPDATE audit SET subject = 'indicator--ffffffff-0000-4000-8000-000000000000' WHERE idx = 5",
        "UPDATE audit SET detail = 'purged=0' WHERE idx = 5",
        "UPDATE audit SET detail = replace(detail, '\"accepted\":2', '\"accepted\":0') WHERE idx = 6",
    };
    for (size_t i = 0; i < sizeof edits / sizeof edits[0]; i++) {
        fixture_t fx;
        problems_t p;
        uint64_t want = strstr(edits[i], "idx = 6") ? 6 : 5;
        CHECK(s_fixture(&fx, "column") == 0);
        CHECK(s_sql(fx.st, edits[i]) == 0);
        CHECK(sqlite3_changes(store_db(fx.st)) == 1);
        CHECK(s_verify(fx.st, &p) == 1);
        CHECK(s_has(&p, want, "columns were changed"));
        if (p.n != 1 || !s_has(&p, want, "columns")) {
            fprintf(stderr, "  after %s:\n", edits[i]);
            s_dump(&p);
        }
        s_fixture_done(&fx);
    }
}

/* The entry bytes changed without recomputing the leaf. */
static void test_entry_changed_leaf_not(void)
{
    fixture_t fx;
    problems_t p;
    CHECK(s_fixture(&fx, "entry-only") == 0);
    CHECK(s_sql(fx.st, "UPDATE audit SET entry = CAST(replace(CAST(entry AS TEXT),"
                       " 'b.example', 'c.example') AS BLOB) WHERE idx = 5") == 0);
    CHECK(s_verify(fx.st, &p) >= 1);
    CHECK(s_has(&p, 5, "leaf hash is not the hash of its bytes"));
    CHECK(s_all_cover(&p, 5));
    s_dump(&p);
    s_fixture_done(&fx);
}

/* Entry and leaf rewritten consistently: the columns no longer match (when
 * left alone), and the signed checkpoints after it no longer match. */
static void test_entry_rewritten(void)
{
    for (int columns_too = 0; columns_too <= 1; columns_too++) {
        fixture_t fx;
        problems_t p;
        CHECK(s_fixture(&fx, "rewrite") == 0);
        char *e = s_entry_of(fx.st, 5);
        json_error_t je;
        json_t *o = e ? json_loads(e, 0, &je) : NULL;
        CHECK(o != NULL);
        json_object_set_new(o, "partner", json_string("c.example"));
        char *text = s_canon(o);
        CHECK(text != NULL && s_rewrite(fx.st, 5, text) == 0);
        if (columns_too)
            CHECK(s_sql(fx.st, "UPDATE audit SET partner = 'c.example' WHERE idx = 5") == 0);
        long n = s_verify(fx.st, &p);
        /* The checkpoints of sizes 8 and 12 both cover entry 5; the one of
         * size 4 does not, so the range starts at 4. */
        CHECK(n == (columns_too ? 2 : 3));
        CHECK(s_has(&p, 4, "checkpoint of size 8: the log's root differs: an entry from 4 to 7"));
        CHECK(s_has(&p, 4, "checkpoint of size 12: the log's root differs: an entry from 4 to 11"));
        if (!columns_too)
            CHECK(s_has(&p, 5, "columns were changed"));
        CHECK(s_all_cover(&p, 5));
        if (n != (columns_too ? 2 : 3))
            s_dump(&p);
        free(text);
        json_decref(o);
        free(e);
        s_fixture_done(&fx);
    }
    /* Before the first checkpoint: the range starts at 0. */
    fixture_t fx;
    problems_t p;
    CHECK(s_fixture(&fx, "rewrite-first") == 0);
    char *e = s_entry_of(fx.st, 1);
    json_error_t je;
    json_t *o = e ? json_loads(e, 0, &je) : NULL;
    json_object_set_new(o, "reason", json_string("allowed"));
    char *text = o ? s_canon(o) : NULL;
    CHECK(text != NULL && s_rewrite(fx.st, 1, text) == 0);
    CHECK(s_sql(fx.st, "UPDATE audit SET reason = 'allowed' WHERE idx = 1") == 0);
    CHECK(s_verify(fx.st, &p) == 3);
    CHECK(s_has(&p, 0, "checkpoint of size 4: the log's root differs: an entry from 0 to 3"));
    CHECK(s_all_cover(&p, 1));
    free(text);
    json_decref(o);
    free(e);
    s_fixture_done(&fx);
}

/* Bytes that are not the canonical form (same content, other spacing),
 * with a matching leaf: refused as not canonical. */
static void test_not_canonical(void)
{
    fixture_t fx;
    problems_t p;
    CHECK(s_fixture(&fx, "canon") == 0);
    char *e = s_entry_of(fx.st, 7);
    json_error_t je;
    json_t *o = e ? json_loads(e, 0, &je) : NULL;
    char *text = o ? json_dumps(o, JSON_INDENT(1) | JSON_SORT_KEYS) : NULL;
    CHECK(text != NULL && s_rewrite(fx.st, 7, text) == 0);
    CHECK(s_verify(fx.st, &p) >= 1);
    CHECK(s_has(&p, 7, "not a canonical entry"));
    CHECK(s_all_cover(&p, 7));
    free(text);
    json_decref(o);
    free(e);
    s_fixture_done(&fx);
}

static void test_row_deleted(void)
{
    fixture_t fx;
    problems_t p;
    CHECK(s_fixture(&fx, "deleted") == 0);
    CHECK(s_sql(fx.st, "DELETE FROM audit WHERE idx = 5") == 0);
    CHECK(s_verify(fx.st, &p) >= 1);
    CHECK(s_has(&p, 5, "missing: deleted (entries 5 to 5 are gone)"));
    /* Only entry 5 is gone: the entries after it are all there, and none of
     * them may be reported missing. */
    int wrongly_missing = 0;
    for (uint64_t i = 6; i < N_ENTRIES; i++)
        wrongly_missing += s_has(&p, i, "missing");
    CHECK(wrongly_missing == 0);
    /* The signed checkpoints after it no longer hold. */
    CHECK(s_has(&p, 4, "checkpoint of size 8: the log's root differs: an entry from 4 to 7"));
    s_dump(&p);
    s_fixture_done(&fx);
    /* The first row. */
    CHECK(s_fixture(&fx, "deleted-first") == 0);
    CHECK(s_sql(fx.st, "DELETE FROM audit WHERE idx = 0") == 0);
    CHECK(s_verify(fx.st, &p) >= 1);
    CHECK(s_has(&p, 0, "missing"));
    s_fixture_done(&fx);
}

/* Two rows' contents swapped (each keeps its place, the other's content). */
static void test_rows_swapped(void)
{
    fixture_t fx;
    problems_t p;
    CHECK(s_fixture(&fx, "swapped") == 0);
    CHECK(s_sql(fx.st,
                "CREATE TEMP TABLE t AS SELECT * FROM audit WHERE idx IN (2, 6);"
                "UPDATE audit SET (ts_ms, kind, partner, subject, reason, detail, entry, leaf) ="
                " (SELECT ts_ms, kind, partner, subject, reason, detail, entry, leaf FROM t"
                "  WHERE t.idx = 8 - audit.idx) WHERE idx IN (2, 6);"
                "DROP TABLE t;") == 0);
    CHECK(s_verify(fx.st, &p) >= 2);
    CHECK(s_has(&p, 2, "names another index"));
    CHECK(s_has(&p, 6, "names another index"));
    s_dump(&p);
    s_fixture_done(&fx);
    /* Or moved: the rows' idx values exchanged. */
    CHECK(s_fixture(&fx, "moved") == 0);
    CHECK(s_sql(fx.st, "UPDATE audit SET idx = -1 WHERE idx = 9;"
                       "UPDATE audit SET idx = 9 WHERE idx = 10;"
                       "UPDATE audit SET idx = 10 WHERE idx = -1;") == 0);
    CHECK(s_verify(fx.st, &p) >= 2);
    CHECK(s_has(&p, 9, "names another index"));
    CHECK(s_has(&p, 10, "names another index"));
    s_fixture_done(&fx);
}

/* The last rows deleted: the checkpoint that covered them names where the
 * log now ends. */
static void test_tail_deleted(void)
{
    fixture_t fx;
    problems_t p;
    CHECK(s_fixture(&fx, "tail") == 0);
    CHECK(s_sql(fx.st, "DELETE FROM audit WHERE idx >= 9") == 0);
    CHECK(s_verify(fx.st, &p) == 1);
    CHECK(s_has(&p, 9, "checkpoint of size 12: the log has only 9 entries"));
    s_dump(&p);
    s_fixture_done(&fx);
    /* Down to below two checkpoints. */
    CHECK(s_fixture(&fx, "tail2") == 0);
    CHECK(s_sql(fx.st, "DELETE FROM audit WHERE idx >= 6") == 0);
    CHECK(s_verify(fx.st, &p) == 2);
    CHECK(s_has(&p, 6, "checkpoint of size 8: the log has only 6 entries"));
    CHECK(s_has(&p, 6, "checkpoint of size 12: the log has only 6 entries"));
    s_fixture_done(&fx);
}

/* The checkpoints themselves: a flipped signature byte, one signed by a key
 * this node never had. */
static void test_checkpoint_tampered(void)
{
    fixture_t fx;
    problems_t p;
    uint64_t size = 0;
    uint8_t root[32], *raw = NULL, *forged = NULL;
    size_t len = 0, flen = 0;
    CHECK(s_fixture(&fx, "cp-sig") == 0);
    CHECK(store_checkpoint_latest(fx.st, 8, &size, root, &raw, &len) == 1 && size == 8);
    /* The stored one with its last byte (the signature's) flipped. */
    if (raw && len) {
        raw[len - 1] ^= 1;
        CHECK(store_checkpoint_put(fx.st, 8, root, now_ms(), raw, len) == 0);
        CHECK(s_verify(fx.st, &p) == 1);
        CHECK(s_has(&p, 8, "checkpoint of size 8: bad checkpoint signature"));
        s_dump(&p);
        raw[len - 1] ^= 1;
    }
    /* The same body signed by another key: not one this node ever had. */
    checkpoint_t c = {.size = 8, .timestamp_ms = now_ms()};
    str_copy(c.log, sizeof c.log, AGENCY);
    memcpy(c.root, root, 32);
    CHECK(checkpoint_sign(&c, s_other_keys->sign_pk, s_other_keys->sign_sk, &forged, &flen) == 0);
    CHECK(forged && store_checkpoint_put(fx.st, 8, root, c.timestamp_ms, forged, flen) == 0);
    CHECK(s_verify(fx.st, &p) == 1);
    CHECK(s_has(&p, 8, "checkpoint of size 8: signed by a key this node never had"));
    s_dump(&p);
    free(forged);
    /* Its size column no longer the size it signs. */
    CHECK(store_checkpoint_put(fx.st, 8, root, now_ms(), raw, len) == 0); /* flipped back */
    CHECK(s_sql(fx.st, "UPDATE checkpoint SET size = 9 WHERE size = 8") == 0);
    CHECK(s_verify(fx.st, &p) >= 1);
    CHECK(s_has(&p, 9, "checkpoint of size 9"));
    /* Our key did sign it (for size 8): the report must not blame a key. */
    CHECK(!s_has(&p, 9, "signed by a key this node never had"));
    s_dump(&p);
    free(raw);
    s_fixture_done(&fx);
}

/* ---- inclusion proofs ---- */

static int s_check(const json_t *proof, const rootkey_t *root, checkpoint_t *cp, char *why,
                   size_t whylen)
{
    unsigned char fp[FP_BYTES];
    const char *entry = NULL;
    root_fingerprint(root->pk, fp);
    return audit_check(proof, fp, &entry, cp, why, whylen);
}

/* A copy of proof with key set to value. */
static json_t *s_with(const json_t *proof, const char *key, json_t *value)
{
    json_t *p = json_deep_copy(proof);
    json_object_set_new(p, key, value);
    return p;
}

static json_t *s_b64(const uint8_t *data, size_t len)
{
    char out[1024];
    sodium_bin2base64(out, sizeof out, data, len, sodium_base64_VARIANT_ORIGINAL);
    return json_string(out);
}

static size_t s_unb64(const json_t *s, uint8_t *out, size_t cap)
{
    size_t len = 0;
    const char *t = json_string_value(s);
    if (!t || sodium_base642bin(out, cap, t, strlen(t), NULL, &len, NULL,
                                sodium_base64_VARIANT_ORIGINAL) != 0)
        return 0;
    return len;
}

static void test_proofs(void)
{
    fixture_t fx;
    char err[512], why[512];
    checkpoint_t cp;
    CHECK(s_fixture(&fx, "proofs") == 0);
    /* Every entry, under the smallest checkpoint that covers it. */
    for (uint64_t i = 0; i < N_ENTRIES; i++) {
        json_t *proof = audit_prove(fx.st, i, s_root->pk, err, sizeof err);
        CHECK(proof != NULL);
        if (!proof) {
            fprintf(stderr, "  prove %" PRIu64 ": %s\n", i, err);
            continue;
        }
        int rc = s_check(proof, s_root, &cp, why, sizeof why);
        CHECK(rc == 0);
        if (rc != 0)
            fprintf(stderr, "  check %" PRIu64 ": %s\n", i, why);
        CHECK(cp.size == (i / 4 + 1) * 4);
        char *e = s_entry_of(fx.st, i);
        CHECK_STR(json_string_value(json_object_get(proof, "entry")), e);
        free(e);
        json_decref(proof);
    }
    /* No entry 12; the fields of a proof. */
    CHECK(audit_prove(fx.st, N_ENTRIES, s_root->pk, err, sizeof err) == NULL);
    CHECK(strstr(err, "no entry 12") != NULL);
    json_t *proof = audit_prove(fx.st, 5, s_root->pk, err, sizeof err);
    CHECK(proof != NULL);
    if (!proof) {
        s_fixture_done(&fx);
        return;
    }
    CHECK_STR(json_string_value(json_object_get(proof, "format")), "moux-audit-proof 1");
    CHECK_STR(json_string_value(json_object_get(proof, "agency")), AGENCY);
    CHECK(json_integer_value(json_object_get(proof, "index")) == 5);
    CHECK(json_array_size(json_object_get(proof, "inclusion")) == 3); /* 5 of 8 */
    const char *entry = NULL;
    unsigned char fp[FP_BYTES], other_fp[FP_BYTES];
    root_fingerprint(s_root->pk, fp);
    root_fingerprint(s_other_root->pk, other_fp);
    CHECK(audit_check(proof, fp, &entry, &cp, why, sizeof why) == 0);
    CHECK(cp.size == 8);
    CHECK_STR(cp.log, AGENCY);

    /* Another agency's fingerprint. */
    CHECK(audit_check(proof, other_fp, &entry, &cp, why, sizeof why) != 0);
    CHECK(strstr(why, "not the root with this fingerprint") != NULL);

    /* The other root's key in the proof, checked with its fingerprint: the
     * certificate is not that root's. */
    json_t *p = s_with(proof, "root_key", s_b64(s_other_root->pk, 32));
    CHECK(audit_check(p, other_fp, &entry, &cp, why, sizeof why) != 0);
    CHECK(strstr(why, "certificate") != NULL);
    json_decref(p);

    /* One byte of the entry changed. */
    char *e = strdup(json_string_value(json_object_get(proof, "entry")));
    char *at = e ? strstr(e, "b.example") : NULL;
    CHECK(at != NULL);
    if (at) {
        *at = 'c';
        p = s_with(proof, "entry", json_string(e));
        CHECK(audit_check(p, fp, &entry, &cp, why, sizeof why) != 0);
        CHECK(strstr(why, "entry 5 is not in the log") != NULL);
        json_decref(p);
    }
    free(e);

    /* One bit of a path hash. */
    json_t *hashes = json_deep_copy(json_object_get(proof, "inclusion"));
    for (size_t k = 0; k < json_array_size(hashes); k++) {
        uint8_t h[64];
        json_t *copy = json_deep_copy(hashes);
        CHECK(s_unb64(json_array_get(copy, k), h, sizeof h) == 32);
        h[31] ^= 0x80;
        json_array_set_new(copy, k, s_b64(h, 32));
        p = s_with(proof, "inclusion", copy);
        CHECK(audit_check(p, fp, &entry, &cp, why, sizeof why) != 0);
        json_decref(p);
    }
    /* A path hash dropped, or one too many. */
    json_t *shorter = json_deep_copy(hashes);
    json_array_remove(shorter, json_array_size(shorter) - 1);
    p = s_with(proof, "inclusion", shorter);
    CHECK(audit_check(p, fp, &entry, &cp, why, sizeof why) != 0);
    json_decref(p);
    json_t *longer = json_deep_copy(hashes);
    json_array_append(longer, json_array_get(hashes, 0));
    p = s_with(proof, "inclusion", longer);
    CHECK(audit_check(p, fp, &entry, &cp, why, sizeof why) != 0);
    json_decref(p);
    json_decref(hashes);

    /* The same checkpoint body signed by another key, with the right root:
     * not the key the certificate certifies. */
    uint8_t raw[CHECKPOINT_MAX_BYTES], *forged = NULL;
    size_t rlen = s_unb64(json_object_get(proof, "checkpoint"), raw, sizeof raw), flen = 0;
    checkpoint_t body = {0};
    const char *w = NULL;
    CHECK(rlen > 0 && checkpoint_parse(raw, rlen, &body, &w) == 0);
    CHECK(checkpoint_sign(&body, s_other_keys->sign_pk, s_other_keys->sign_sk, &forged, &flen) ==
          0);
    p = s_with(proof, "checkpoint", s_b64(forged, flen));
    CHECK(audit_check(p, fp, &entry, &cp, why, sizeof why) != 0);
    CHECK(strstr(why, "not signed by the certified key") != NULL);
    json_decref(p);
    free(forged);
    /* Its signature byte flipped. */
    raw[rlen - 1] ^= 1;
    p = s_with(proof, "checkpoint", s_b64(raw, rlen));
    CHECK(audit_check(p, fp, &entry, &cp, why, sizeof why) != 0);
    json_decref(p);
    raw[rlen - 1] ^= 1;
    /* Signed by the right key but for another log (agency). */
    checkpoint_t other = body;
    str_copy(other.log, sizeof other.log, "b.example");
    forged = NULL;
    CHECK(checkpoint_sign(&other, s_keys->sign_pk, s_keys->sign_sk, &forged, &flen) == 0);
    p = s_with(proof, "checkpoint", s_b64(forged, flen));
    CHECK(audit_check(p, fp, &entry, &cp, why, sizeof why) != 0);
    json_decref(p);
    free(forged);
    /* Signed by the right key, another root over the same size. */
    other = body;
    other.root[0] ^= 1;
    forged = NULL;
    CHECK(checkpoint_sign(&other, s_keys->sign_pk, s_keys->sign_sk, &forged, &flen) == 0);
    p = s_with(proof, "checkpoint", s_b64(forged, flen));
    CHECK(audit_check(p, fp, &entry, &cp, why, sizeof why) != 0);
    json_decref(p);
    free(forged);
    /* Signed outside the certificate's validity. */
    other = body;
    other.timestamp_ms = now_ms() + 60 * DAY_MS;
    forged = NULL;
    CHECK(checkpoint_sign(&other, s_keys->sign_pk, s_keys->sign_sk, &forged, &flen) == 0);
    p = s_with(proof, "checkpoint", s_b64(forged, flen));
    CHECK(audit_check(p, fp, &entry, &cp, why, sizeof why) != 0);
    CHECK(strstr(why, "validity") != NULL);
    json_decref(p);
    free(forged);

    /* An index that does not match: the entry names 5. */
    p = s_with(proof, "index", json_integer(4));
    CHECK(audit_check(p, fp, &entry, &cp, why, sizeof why) != 0);
    json_decref(p);
    p = s_with(proof, "index", json_integer(-1));
    CHECK(audit_check(p, fp, &entry, &cp, why, sizeof why) != 0);
    json_decref(p);
    /* The entry and index of another entry with this path. */
    json_t *p4 = audit_prove(fx.st, 4, s_root->pk, err, sizeof err);
    CHECK(p4 != NULL);
    if (p4) {
        p = s_with(proof, "entry", json_incref(json_object_get(p4, "entry")));
        json_object_set_new(p, "index", json_integer(4));
        CHECK(audit_check(p, fp, &entry, &cp, why, sizeof why) != 0);
        json_decref(p);
        /* ... or that entry under index 5. */
        p = s_with(proof, "entry", json_incref(json_object_get(p4, "entry")));
        CHECK(audit_check(p, fp, &entry, &cp, why, sizeof why) != 0);
        json_decref(p);
        json_decref(p4);
    }
    /* Another agency name, another format, a field missing. */
    p = s_with(proof, "agency", json_string("b.example"));
    CHECK(audit_check(p, fp, &entry, &cp, why, sizeof why) != 0);
    json_decref(p);
    p = s_with(proof, "format", json_string("moux-audit-proof 2"));
    CHECK(audit_check(p, fp, &entry, &cp, why, sizeof why) != 0);
    json_decref(p);
    p = json_deep_copy(proof);
    json_object_del(p, "certificate");
    CHECK(audit_check(p, fp, &entry, &cp, why, sizeof why) != 0);
    json_decref(p);
    /* Still valid after all that (nothing above changed the original). */
    CHECK(audit_check(proof, fp, &entry, &cp, why, sizeof why) == 0);
    json_decref(proof);

    /* No checkpoint covers a new entry yet. */
    CHECK(store_event(fx.st, "withdrawn", NULL, "indicator--x", NULL, NULL) == 0);
    CHECK(audit_prove(fx.st, N_ENTRIES, s_root->pk, err, sizeof err) == NULL);
    CHECK(strstr(err, "no signed checkpoint covers entry 12") != NULL);
    s_fixture_done(&fx);
}

/* A certificate renewal (same keys, higher serial, valid from the renewal)
 * must not break proofs under checkpoints signed before it: the checkpoint
 * was signed within the validity of the certificate then in force. */
static void test_proof_after_renewal(void)
{
    fixture_t fx;
    char err[512], why[512] = "";
    checkpoint_t cp;
    CHECK(s_fixture(&fx, "renewal") == 0);
    uint64_t now = now_ms();
    /* Renewed ten minutes after the checkpoints (identity.c sets not_before
     * to five minutes before the renewal). */
    CHECK(s_certify(fx.st, s_root, s_keys, 2, now + 10 * 60 * 1000, now + 60 * DAY_MS) == 0);
    json_t *proof = audit_prove(fx.st, 5, s_root->pk, err, sizeof err);
    CHECK(proof != NULL);
    if (proof) {
        int rc = s_check(proof, s_root, &cp, why, sizeof why);
        CHECK(rc == 0);
        if (rc != 0)
            fprintf(stderr, "  proof of entry 5 after a renewal: %s\n", why);
        json_decref(proof);
    } else {
        fprintf(stderr, "  prove: %s\n", err);
    }
    s_fixture_done(&fx);
}

/* A key rotation: old checkpoints stay verifiable with the old key, new ones
 * are signed with the new key; proofs under both check. */
static void test_rotation(void)
{
    fixture_t fx;
    problems_t p;
    char err[512], why[512];
    checkpoint_t cp;
    uint64_t size = 0, now = now_ms();
    CHECK(s_fixture(&fx, "rotation") == 0);
    CHECK(s_certify(fx.st, s_root, s_other_keys, 2, now - 60 * 1000, now + 30 * DAY_MS) == 0);
    for (uint64_t n = N_ENTRIES; n < N_ENTRIES + 3; n++)
        CHECK(store_event(fx.st, "withdrawn", NULL, "indicator--y", NULL, NULL) == 0);
    CHECK(audit_checkpoint(fx.st, AGENCY, s_other_keys->sign_pk, s_other_keys->sign_sk, &size) ==
          1);
    CHECK(size == N_ENTRIES + 3);
    CHECK(s_verify(fx.st, &p) == 0);
    s_dump(&p);
    for (uint64_t i = 3; i < N_ENTRIES + 3; i += 10) {
        json_t *proof = audit_prove(fx.st, i, s_root->pk, err, sizeof err);
        CHECK(proof != NULL);
        CHECK(proof && s_check(proof, s_root, &cp, why, sizeof why) == 0);
        json_decref(proof);
    }
    s_fixture_done(&fx);
}

/* ---- rollback safety ---- */

/* The newest checkpoint's root equals the root recomputed from the table,
 * and the log verifies. */
static void s_frontier_consistent(store_t *st, uint64_t want_size)
{
    uint64_t size = 0, csize = 0;
    uint8_t root[32], cp_root[32], *raw = NULL;
    size_t len = 0;
    merkle_source_t src;
    merkle_frontier_t f;
    problems_t p;
    CHECK(store_audit_size(st, &size) == 0 && size == want_size);
    CHECK(store_audit_frontier(st, &f) == 0 && f.size == want_size);
    CHECK(audit_checkpoint(st, AGENCY, s_keys->sign_pk, s_keys->sign_sk, &csize) >= 0);
    CHECK(csize == want_size);
    CHECK(store_checkpoint_latest(st, UINT64_MAX, &csize, cp_root, &raw, &len) == 1);
    store_audit_source(st, &src);
    CHECK(merkle_root_src(size, &src, root) == 0);
    CHECK(csize == size && memcmp(root, cp_root, 32) == 0);
    free(raw);
    CHECK(s_verify(st, &p) == 0);
    s_dump(&p);
}

static void test_rollback(void)
{
    fixture_t fx;
    char err[512];
    uint64_t index = 0;
    CHECK(s_fixture(&fx, "rollback") == 0);
    /* Appends (direct and through store_event) in a transaction rolled back. */
    CHECK(store_begin(fx.st) == 0);
    CHECK(store_audit_append(fx.st, "share", "b.example", "aa", NULL, "x", NULL, &index) == 0);
    CHECK(index == N_ENTRIES);
    CHECK(store_event(fx.st, "withdrawn", NULL, "indicator--z", NULL, NULL) == 0);
    store_rollback(fx.st);
    /* The next append takes the index the rolled-back one had. */
    CHECK(store_audit_append(fx.st, "receipt", "b.example", "bb", NULL, "y", NULL, &index) == 0);
    CHECK(index == N_ENTRIES);
    s_frontier_consistent(fx.st, N_ENTRIES + 1);
    /* A rollback after a commit in the same store handle. */
    CHECK(store_begin(fx.st) == 0);
    CHECK(store_event(fx.st, "withdrawn", NULL, "indicator--w", NULL, NULL) == 0);
    CHECK(store_commit(fx.st) == 0);
    CHECK(store_begin(fx.st) == 0);
    for (int i = 0; i < 5; i++)
        CHECK(store_event(fx.st, "withdrawn", NULL, "indicator--v", NULL, NULL) == 0);
    store_rollback(fx.st);
    s_frontier_consistent(fx.st, N_ENTRIES + 2);
    store_destroy(&fx.st);

    /* A fresh handle whose frontier is not loaded yet when the transaction
     * begins. */
    fx.st = store_open(fx.dir, STORE_RW, err, sizeof err);
    CHECK(fx.st != NULL);
    if (!fx.st)
        return;
    CHECK(store_begin(fx.st) == 0);
    CHECK(store_event(fx.st, "withdrawn", NULL, "indicator--u", NULL, NULL) == 0);
    store_rollback(fx.st);
    CHECK(store_event(fx.st, "withdrawn", NULL, "indicator--t", NULL, NULL) == 0);
    s_frontier_consistent(fx.st, N_ENTRIES + 3);

    /* Another process appends between two of ours. */
    store_t *other = store_open(fx.dir, STORE_RW, err, sizeof err);
    CHECK(other != NULL);
    if (other) {
        CHECK(store_event(other, "mou-activated", "b.example", NULL, NULL, "abc") == 0);
        CHECK(store_event(fx.st, "withdrawn", NULL, "indicator--s", NULL, NULL) == 0);
        CHECK(store_event(other, "mou-activated", "b.example", NULL, NULL, "def") == 0);
        s_frontier_consistent(other, N_ENTRIES + 6);
        /* ... and rolls back its own: ours is unaffected. */
        CHECK(store_begin(other) == 0);
        CHECK(store_event(other, "withdrawn", NULL, "indicator--r", NULL, NULL) == 0);
        store_rollback(other);
        CHECK(store_event(fx.st, "withdrawn", NULL, "indicator--q", NULL, NULL) == 0);
        s_frontier_consistent(fx.st, N_ENTRIES + 7);
        /* We roll back one append and the other process appends one: the
         * table has as many entries as our frontier had before the
         * rollback, but not the same last leaf. */
        CHECK(store_begin(fx.st) == 0);
        CHECK(store_event(fx.st, "withdrawn", NULL, "indicator--p", NULL, NULL) == 0);
        store_rollback(fx.st);
        CHECK(store_event(other, "mou-activated", "b.example", NULL, NULL, "ghi") == 0);
        CHECK(store_event(fx.st, "withdrawn", NULL, "indicator--o", NULL, NULL) == 0);
        s_frontier_consistent(fx.st, N_ENTRIES + 9);
        store_destroy(&other);
    }
    /* Nested (the receiver's group commit): a savepoint rolled back undoes
     * its own appends only; one committed stays with the transaction. */
    CHECK(!store_in_transaction(fx.st));
    CHECK(store_begin(fx.st) == 0);
    CHECK(store_event(fx.st, "withdrawn", NULL, "indicator--n", NULL, NULL) == 0);
    CHECK(store_begin(fx.st) == 0);
    CHECK(store_event(fx.st, "withdrawn", NULL, "indicator--m", NULL, NULL) == 0);
    CHECK(store_commit(fx.st) == 0);
    CHECK(store_in_transaction(fx.st)); /* the savepoint's commit keeps it open */
    CHECK(store_begin(fx.st) == 0);
    CHECK(store_event(fx.st, "withdrawn", NULL, "indicator--r", NULL, NULL) == 0);
    CHECK(store_event(fx.st, "withdrawn", NULL, "indicator--r", NULL, NULL) == 0);
    store_rollback(fx.st);
    CHECK(store_event(fx.st, "withdrawn", NULL, "indicator--l", NULL, NULL) == 0);
    CHECK(store_commit(fx.st) == 0);
    s_frontier_consistent(fx.st, N_ENTRIES + 12);
    /* ... and the whole transaction rolled back undoes the committed
     * savepoint too. */
    CHECK(store_begin(fx.st) == 0);
    CHECK(store_begin(fx.st) == 0);
    CHECK(store_event(fx.st, "withdrawn", NULL, "indicator--p", NULL, NULL) == 0);
    CHECK(store_commit(fx.st) == 0);
    store_rollback(fx.st);
    CHECK(!store_in_transaction(fx.st));
    s_frontier_consistent(fx.st, N_ENTRIES + 12);
    /* Nesting is bounded: a begin past the bound fails and leaves the
     * levels below as they were. */
    int levels = 0;
    while (levels < 16 && store_begin(fx.st) == 0)
        levels++;
    CHECK(levels > 1 && levels < 16);
    CHECK(store_event(fx.st, "withdrawn", NULL, "indicator--k", NULL, NULL) == 0);
    for (int i = 0; i < levels; i++)
        CHECK(store_commit(fx.st) == 0);
    CHECK(!store_in_transaction(fx.st));
    s_frontier_consistent(fx.st, N_ENTRIES + 13);
    /* The event table rolled back with the log. */
    sqlite3_stmt *q = NULL;
    CHECK(sqlite3_prepare_v2(store_db(fx.st), "SELECT count(*) FROM event WHERE indicator_id IN"
                             " ('indicator--z','indicator--v','indicator--u','indicator--r',"
                             "'indicator--p')",
                             -1, &q, NULL) == SQLITE_OK);
    CHECK(sqlite3_step(q) == SQLITE_ROW && sqlite3_column_int(q, 0) == 0);
    sqlite3_finalize(q);
    s_fixture_done(&fx);
}

/* An entry whose text is not UTF-8 (a detail from outside): either refused,
 * or logged so that the log still verifies. Never a silently dropped field
 * that makes an untouched log look altered. */
static void test_odd_text(void)
{
    fixture_t fx;
    problems_t p;
    uint64_t index = 0;
    CHECK(s_fixture(&fx, "odd") == 0);
    int rc = store_audit_append(fx.st, "publish-refused", NULL, NULL, "invalid input",
                                "feed-\xff\xfe.csv", NULL, &index);
    CHECK(rc == 0 || rc == -1);
    /* Non-ASCII UTF-8 is fine. */
    CHECK(store_event(fx.st, "publish-refused", NULL, NULL, "invalid input",
                      "feed-\xc3\xa9t\xc3\xa9.csv") == 0);
    long n = s_verify(fx.st, &p);
    CHECK(n == 0);
    if (n != 0) {
        fprintf(stderr, "  store_audit_append of a non-UTF-8 detail returned %d; then:\n", rc);
        s_dump(&p);
    }
    s_fixture_done(&fx);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    snprintf(s_tmp, sizeof s_tmp, "/tmp/moux-test-audit.XXXXXX");
    if (!mkdtemp(s_tmp))
        return 1;
    s_root = rootkey_generate();
    s_other_root = rootkey_generate();
    s_keys = nodekeys_generate();
    s_other_keys = nodekeys_generate();
    if (!s_root || !s_other_root || !s_keys || !s_other_keys)
        return 1;
    RUN(test_intact);
    RUN(test_column_changed);
    RUN(test_entry_changed_leaf_not);
    RUN(test_entry_rewritten);
    RUN(test_not_canonical);
    RUN(test_row_deleted);
    RUN(test_rows_swapped);
    RUN(test_tail_deleted);
    RUN(test_checkpoint_tampered);
    RUN(test_proofs);
    RUN(test_proof_after_renewal);
    RUN(test_rotation);
    RUN(test_rollback);
    RUN(test_odd_text);
    rootkey_destroy(&s_root);
    rootkey_destroy(&s_other_root);
    nodekeys_destroy(&s_keys);
    nodekeys_destroy(&s_other_keys);
    rm_rf(s_tmp);
    return TEST_DONE();
}
