/* The store's MOU tables (schema in store.c, migration 3): the agreements a
 * node has activated with their exact bytes and signatures, their ends,
 * decision counts, daily volumes, and retention purges. */
#include "store.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MOU_COLS "mid, hash, id, peer, state, activated_ms, ended_ms, ended_by, end_reason," \
                 " text, sigs, notice"

static const char *s_text(sqlite3_stmt *st, int col)
{
    const unsigned char *t = sqlite3_column_text(st, col);
    return t ? (const char *)t : "";
}

static void *s_blob_dup(sqlite3_stmt *st, int col, size_t *len, int nul)
{
    int n = sqlite3_column_bytes(st, col);
    const void *b = sqlite3_column_blob(st, col);
    *len = (size_t)n;
    if (!b && !nul)
        return NULL;
    char *out = malloc((size_t)n + 1);
    if (out) {
        if (n)
            memcpy(out, b, (size_t)n);
        out[n] = '\0';
    }
    return out;
}

static int s_fill(sqlite3_stmt *st, store_mou_t *m)
{
    memset(m, 0, sizeof *m);
    m->mid = sqlite3_column_int64(st, 0);
    if (sqlite3_column_bytes(st, 1) == 32)
        memcpy(m->hash, sqlite3_column_blob(st, 1), 32);
    str_copy(m->id, sizeof m->id, s_text(st, 2));
    str_copy(m->peer, sizeof m->peer, s_text(st, 3));
    str_copy(m->state, sizeof m->state, s_text(st, 4));
    m->activated_ms = (uint64_t)sqlite3_column_int64(st, 5);
    m->ended_ms = (uint64_t)sqlite3_column_int64(st, 6);
    str_copy(m->ended_by, sizeof m->ended_by, s_text(st, 7));
    str_copy(m->end_reason, sizeof m->end_reason, s_text(st, 8));
    size_t sl = 0;
    m->text = s_blob_dup(st, 9, &m->text_len, 1);
    m->sigs = s_blob_dup(st, 10, &sl, 1);
    m->notice = s_blob_dup(st, 11, &m->notice_len, 0);
    if (!m->text || !m->sigs || (sqlite3_column_type(st, 11) != SQLITE_NULL && !m->notice)) {
        store_mou_free(m);
        return -1;
    }
    return 0;
}

void store_mou_free(store_mou_t *m)
{
    if (!m)
        return;
    free(m->text);
    free(m->sigs);
    free(m->notice);
    m->text = m->sigs = NULL;
    m->notice = NULL;
}

/* Runs a one-row MOU query with ?1 bound to text (hash when blob). */
static int s_one(store_t *self, const char *where, const void *key, int blob, store_mou_t *out)
{
    char sql[512];
    snprintf(sql, sizeof sql, "SELECT " MOU_COLS " FROM mou WHERE %s", where);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(store_db(self), sql, -1, &st, NULL) != SQLITE_OK)
        return -1;
    if (blob)
        sqlite3_bind_blob(st, 1, key, 32, SQLITE_STATIC);
    else
        sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    int found = rc == SQLITE_ROW ? (s_fill(st, out) == 0 ? 1 : -1) : rc == SQLITE_DONE ? 0 : -1;
    sqlite3_finalize(st);
    return found;
}

int store_mou_active(store_t *self, const char *peer, store_mou_t *out)
{
    return s_one(self, "peer = ?1 AND state = 'active'", peer, 0, out);
}

int store_mou_by_hash(store_t *self, const unsigned char hash[32], store_mou_t *out)
{
    return s_one(self, "hash = ?1", hash, 1, out);
}

int store_mou_last_notice(store_t *self, const char *peer, store_mou_t *out)
{
    return s_one(self, "peer = ?1 AND notice IS NOT NULL ORDER BY ended_ms DESC, mid DESC LIMIT 1",
                 peer, 0, out);
}

int store_mou_list(store_t *self, store_mou_t **out, size_t *n)
{
    sqlite3_stmt *st = NULL;
    *out = NULL;
    *n = 0;
    if (sqlite3_prepare_v2(store_db(self), "SELECT " MOU_COLS " FROM mou ORDER BY mid DESC", -1,
                           &st, NULL) != SQLITE_OK)
        return -1;
    size_t cap = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 8;
            store_mou_t *grown = realloc(*out, cap * sizeof **out);
            if (!grown)
                break;
            *out = grown;
        }
        if (s_fill(st, &(*out)[*n]) != 0)
            break;
        (*n)++;
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        for (size_t i = 0; i < *n; i++)
            store_mou_free(&(*out)[i]);
        free(*out);
        *out = NULL;
        *n = 0;
        return -1;
    }
    return 0;
}

/* Runs sql with ?1 the hash and up to three more text/int parameters. */
static int s_exec(store_t *self, const char *sql, const unsigned char hash[32], const char *t2,
                  const char *t3, int64_t i4)
{
    sqlite3_stmt *st = store_stmt(self, sql);
    if (!st)
        return -1;
    sqlite3_bind_blob(st, 1, hash, 32, SQLITE_STATIC);
    if (t2)
        sqlite3_bind_text(st, 2, t2, -1, SQLITE_STATIC);
    if (t3)
        sqlite3_bind_text(st, 3, t3, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, i4);
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
    sqlite3_reset(st);
    return rc;
}

int store_mou_activate(store_t *self, const store_mou_t *m, const char **why)
{
    store_mou_t old;
    *why = NULL;
    int found = store_mou_by_hash(self, m->hash, &old);
    if (found < 0)
        return -1;
    if (found) {
        int rc = strcmp(old.state, "active") == 0 ? 1 : -1;
        if (rc < 0)
            *why = strcmp(old.state, "terminated") == 0
                       ? "this MOU was terminated; a terminated MOU is never activated again"
                       : "this MOU was superseded by a newer one; activate a new MOU instead";
        store_mou_free(&old);
        return rc;
    }
    sqlite3_stmt *st = NULL;
    if (s_exec(self, "UPDATE mou SET state = 'superseded', ended_ms = ?4"
                     " WHERE peer = ?2 AND state = 'active' AND hash != ?1",
               m->hash, m->peer, NULL, (int64_t)m->activated_ms) != 0 ||
        sqlite3_prepare_v2(store_db(self),
                           "INSERT INTO mou(hash, id, peer, text, sigs, activated_ms, state)"
                           " VALUES(?1, ?2, ?3, ?4, ?5, ?6, 'active')",
                           -1, &st, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_blob(st, 1, m->hash, 32, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, m->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, m->peer, -1, SQLITE_STATIC);
    sqlite3_bind_blob(st, 4, m->text, (int)m->text_len, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, m->sigs, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 6, (sqlite3_int64)m->activated_ms);
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
    sqlite3_finalize(st);
    return rc;
}

int store_mou_terminate(store_t *self, const unsigned char hash[32], const char *by,
                        const char *reason, uint64_t when_ms, const uint8_t *notice,
                        size_t notice_len)
{
    store_mou_t old;
    int found = store_mou_by_hash(self, hash, &old);
    if (found <= 0)
        return -1;
    int already = strcmp(old.state, "terminated") == 0;
    store_mou_free(&old);
    if (already)
        return 1;
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(store_db(self),
                           "UPDATE mou SET state = 'terminated', ended_ms = ?2, ended_by = ?3,"
                           " end_reason = ?4, notice = ?5 WHERE hash = ?1",
                           -1, &st, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_blob(st, 1, hash, 32, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)when_ms);
    sqlite3_bind_text(st, 3, by, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, reason, -1, SQLITE_STATIC);
    if (notice)
        sqlite3_bind_blob(st, 5, notice, (int)notice_len, SQLITE_STATIC);
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
    sqlite3_finalize(st);
    return rc;
}

int store_mou_count_add(store_t *self, const unsigned char hash[32], const char *dir,
                        const char *outcome, uint64_t n)
{
    return s_exec(self, "INSERT INTO mou_count(hash, dir, outcome, n) VALUES(?1, ?2, ?3, ?4)"
                        " ON CONFLICT(hash, dir, outcome) DO UPDATE SET n = n + excluded.n",
                  hash, dir, outcome, (int64_t)n);
}

int store_mou_counts(store_t *self, const unsigned char hash[32],
                     int (*fn)(const char *dir, const char *outcome, uint64_t n, void *arg),
                     void *arg)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(store_db(self), "SELECT dir, outcome, n FROM mou_count WHERE hash = ?1"
                                           " ORDER BY dir, outcome", -1, &st, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_blob(st, 1, hash, 32, SQLITE_STATIC);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        if (fn(s_text(st, 0), s_text(st, 1), (uint64_t)sqlite3_column_int64(st, 2), arg) != 0)
            break;
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

int store_mou_daily_get(store_t *self, const unsigned char hash[32], const char *dir,
                        uint64_t day, uint64_t *n)
{
    *n = 0;
    sqlite3_stmt *st = store_stmt(self, "SELECT n FROM mou_daily WHERE hash = ?1 AND dir = ?2"
                                        " AND day = ?3");
    if (!st)
        return -1;
    sqlite3_bind_blob(st, 1, hash, 32, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, dir, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, (sqlite3_int64)day);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *n = (uint64_t)sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : -1;
}

int store_mou_daily_add(store_t *self, const unsigned char hash[32], const char *dir,
                        uint64_t day, uint64_t n)
{
    sqlite3_stmt *st = store_stmt(self,
                                  "INSERT INTO mou_daily(hash, dir, day, n) VALUES(?1, ?2, ?3, ?4)"
                                  " ON CONFLICT(hash, dir, day) DO UPDATE SET n = n + excluded.n");
    if (!st)
        return -1;
    sqlite3_bind_blob(st, 1, hash, 32, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, dir, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, (sqlite3_int64)day);
    sqlite3_bind_int64(st, 4, (sqlite3_int64)n);
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
    sqlite3_reset(st);
    return rc;
}

static int s_purge_steps(store_t *self, const unsigned char hash[32], const char *mou_id,
                         uint64_t before_ms, uint64_t *count)
{
    static const char *steps[] = {
        ("INSERT INTO purged(id, type, tlp, modified_ms, from_agency, mou_id, received_ms,"
         " purged_ms) SELECT i.id, i.type, i.tlp, i.modified_ms, p.agency, ?2, i.received_ms, ?4"
         " FROM indicator i LEFT JOIN partner p ON p.pid = i.from_pid"
         " WHERE i.mou_hash = ?1 AND i.received_ms < ?3"),
        ("DELETE FROM outbox WHERE rid IN (SELECT rid FROM indicator"
         " WHERE mou_hash = ?1 AND received_ms < ?3)"),
        "DELETE FROM indicator WHERE mou_hash = ?1 AND received_ms < ?3",
        ("UPDATE inbound SET payload = x'' WHERE mou_hash = ?1 AND received_ms < ?3"
         " AND length(payload) > 0"),
    };
    *count = 0;
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        sqlite3_stmt *st = NULL;
        if (sqlite3_prepare_v2(store_db(self), steps[i], -1, &st, NULL) != SQLITE_OK)
            return -1;
        sqlite3_bind_blob(st, 1, hash, 32, SQLITE_STATIC);
        if (sqlite3_bind_parameter_count(st) >= 2)
            sqlite3_bind_text(st, 2, mou_id, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, (sqlite3_int64)before_ms);
        if (sqlite3_bind_parameter_count(st) >= 4)
            sqlite3_bind_int64(st, 4, (sqlite3_int64)now_ms()); /* when, not as of when */
        int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
        if (i == 2 && rc == 0)
            *count = (uint64_t)sqlite3_changes(store_db(self));
        sqlite3_finalize(st);
        if (rc != 0)
            return -1;
    }
    return 0;
}

int store_purge_received(store_t *self, const unsigned char hash[32], const char *mou_id,
                         uint64_t before_ms, uint64_t *count)
{
    /* The batches the items came in hold copies of their values: their
     * payloads go too (header, signature and receipt stay). The pages this
     * frees are zeroed (secure_delete, for the purge only: it costs every
     * delete a write). */
    static const char *set[] = {"PRAGMA secure_delete = 0", "PRAGMA secure_delete = 1",
                                "PRAGMA secure_delete = FAST"}; /* each answers 0, 1, 2 */
    int was = store_query_int(self, "PRAGMA secure_delete");
    if (was < 0 || was > 2)
        return -1;
    int rc = store_query_int(self, set[1]) == 1
                 ? s_purge_steps(self, hash, mou_id, before_ms, count) : -1;
    store_query_int(self, set[was]);
    return rc;
}

int store_event_exists(store_t *self, const char *kind, const char *partner, const char *detail)
{
    sqlite3_stmt *q = NULL;
    if (sqlite3_prepare_v2(store_db(self), "SELECT 1 FROM event WHERE kind = ?1 AND partner IS ?2"
                           " AND detail IS ?3 LIMIT 1", -1, &q, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_text(q, 1, kind, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 2, partner, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 3, detail, -1, SQLITE_STATIC);
    int rc = sqlite3_step(q);
    sqlite3_finalize(q);
    return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

static int s_count_json(const char *dir, const char *outcome, uint64_t n, void *arg)
{
    json_t *counts = arg, *per_dir = json_object_get(counts, dir);
    if (!per_dir) {
        per_dir = json_object();
        json_object_set_new(counts, dir, per_dir);
    }
    json_object_set_new(per_dir, outcome, json_integer((json_int_t)n));
    return 0;
}

json_t *store_mou_counts_json(store_t *self, const unsigned char hash[32])
{
    json_t *counts = json_object();
    if (counts)
        store_mou_counts(self, hash, s_count_json, counts);
    return counts;
}
