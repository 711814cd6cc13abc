/* The audit log in the store (schema 4): every entry is the canonical JSON
 * of its fields, an RFC 6962 leaf of the node's log tree. The frontier of
 * the tree is kept in memory for O(1) appends and brought up to date from
 * the table when another process (the CLI) appended. docs/AUDIT.md is the
 * reference for the entry format. */
#include "merkle.h"
#include "store.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

static int s_leaf(void *arg, uint64_t index, uint8_t out[MERKLE_HASH_BYTES])
{
    sqlite3_stmt *q = store_audit_leaf_stmt(arg);
    sqlite3_bind_int64(q, 1, (sqlite3_int64)index);
    int ok = sqlite3_step(q) == SQLITE_ROW && sqlite3_column_bytes(q, 0) == 32;
    if (ok)
        memcpy(out, sqlite3_column_blob(q, 0), 32);
    sqlite3_reset(q);
    return ok ? 0 : -1;
}

void store_audit_source(store_t *self, merkle_source_t *src)
{
    *src = (merkle_source_t){s_leaf, NULL, self};
}

int store_audit_size(store_t *self, uint64_t *size)
{
    *size = 0;
    sqlite3_stmt *q = store_stmt(self, "SELECT coalesce(max(idx) + 1, 0) FROM audit");
    if (!q)
        return -1;
    int rc = sqlite3_step(q) == SQLITE_ROW ? 0 : -1;
    if (rc == 0)
        *size = (uint64_t)sqlite3_column_int64(q, 0);
    sqlite3_reset(q);
    return rc;
}

/* Brings the frontier up to the table: loads it on first use, appends what
 * another process appended since. */
static int s_sync(store_t *self, merkle_frontier_t *f, int *loaded)
{
    uint64_t n = 0;
    merkle_source_t src;
    if (store_audit_size(self, &n) != 0)
        return -1;
    store_audit_source(self, &src);
    if (!*loaded || f->size > n) {
        merkle_frontier_init(f);
        if (merkle_frontier_load(f, n, &src) != 0)
            return -1;
        *loaded = 1;
        return 0;
    }
    for (uint64_t i = f->size; i < n; i++) {
        uint8_t leaf[32];
        if (s_leaf(src.arg, i, leaf) != 0 || merkle_frontier_append(f, leaf) != 0)
            return -1;
    }
    return 0;
}

int store_audit_frontier(store_t *self, merkle_frontier_t *out)
{
    int *loaded;
    merkle_frontier_t *f = store_frontier(self, &loaded);
    if (s_sync(self, f, loaded) != 0)
        return -1;
    *out = *f;
    return 0;
}

static int s_append(store_t *self, const char *kind, const char *partner, const char *subject,
                    const char *reason, const char *detail, const json_t *detail_json,
                    uint64_t *index);

/* The canonical entry: a JSON object with sorted keys, no spaces, ASCII
 * only; absent fields are left out. */
static char *s_entry(uint64_t index, uint64_t ts, const char *kind, const char *partner,
                     const char *subject, const char *reason, const char *detail,
                     const json_t *detail_json)
{
    json_t *o = json_pack("{s:I, s:I, s:s}", "index", (json_int_t)index, "time_ms",
                          (json_int_t)ts, "kind", kind);
    if (!o)
        return NULL;
    if (partner)
        json_object_set_new(o, "partner", json_string(partner));
    if (subject)
        json_object_set_new(o, "subject", json_string(subject));
    if (reason)
        json_object_set_new(o, "reason", json_string(reason));
    if (detail_json)
        json_object_set_new(o, "detail", json_deep_copy(detail_json));
    else if (detail)
        json_object_set_new(o, "detail", json_string(detail));
    char *text = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII);
    json_decref(o);
    return text;
}

/* Text for an entry: as given when it is UTF-8 (JSON can hold it), else
 * made printable ASCII ('?' for anything else), in *keep (caller frees),
 * so the entry and its column always say the same. */
static const char *s_text(const char *s, char **keep)
{
    *keep = NULL;
    json_t *j = s ? json_string(s) : NULL;
    if (!s || j) {
        json_decref(j);
        return s;
    }
    size_t cap = strlen(s) + 1;
    if ((*keep = malloc(cap)) != NULL)
        str_sanitize(*keep, cap, s);
    return *keep ? *keep : "?";
}

int store_audit_append(store_t *self, const char *kind, const char *partner, const char *subject,
                       const char *reason, const char *detail, const json_t *detail_json,
                       uint64_t *index)
{
    if (!store_audit_on(self))
        return 0;
    char *k1, *k2, *k3, *k4;
    partner = s_text(partner, &k1);
    subject = s_text(subject, &k2);
    reason = s_text(reason, &k3);
    detail = s_text(detail, &k4);
    int rc = s_append(self, kind, partner, subject, reason, detail, detail_json, index);
    free(k1);
    free(k2);
    free(k3);
    free(k4);
    return rc;
}

static int s_append(store_t *self, const char *kind, const char *partner, const char *subject,
                    const char *reason, const char *detail, const json_t *detail_json,
                    uint64_t *index)
{
    int *loaded;
    merkle_frontier_t *f = store_frontier(self, &loaded);
    if (s_sync(self, f, loaded) != 0)
        return -1;
    uint64_t idx = f->size, ts = now_ms();
    char *dj = detail_json ? json_dumps(detail_json, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    char *entry = s_entry(idx, ts, kind, partner, subject, reason, detail, detail_json);
    sqlite3_stmt *q = NULL;
    int rc = -1;
    uint8_t leaf[32];
    if (!entry || (detail_json && !dj))
        goto out;
    merkle_leaf_hash((const uint8_t *)entry, strlen(entry), leaf);
    if (!(q = store_stmt(self, "INSERT INTO audit(idx, ts_ms, kind, partner, subject, reason,"
                               " detail, entry, leaf) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)")))
        goto out;
    sqlite3_bind_int64(q, 1, (sqlite3_int64)idx);
    sqlite3_bind_int64(q, 2, (sqlite3_int64)ts);
    sqlite3_bind_text(q, 3, kind, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 4, partner, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 5, subject, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 6, reason, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 7, dj ? dj : detail, -1, SQLITE_STATIC);
    sqlite3_bind_blob(q, 8, entry, (int)strlen(entry), SQLITE_STATIC);
    sqlite3_bind_blob(q, 9, leaf, 32, SQLITE_STATIC);
    if (sqlite3_step(q) == SQLITE_DONE && merkle_frontier_append(f, leaf) == 0) {
        rc = 0;
        if (index)
            *index = idx;
    }
out:
    if (q)
        sqlite3_reset(q);
    free(entry);
    free(dj);
    return rc;
}

int store_audit_entry(store_t *self, uint64_t index, uint8_t leaf[32], uint8_t **entry,
                      size_t *len)
{
    sqlite3_stmt *q = NULL;
    if (sqlite3_prepare_v2(store_db(self), "SELECT leaf, entry FROM audit WHERE idx = ?1", -1, &q,
                           NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_int64(q, 1, (sqlite3_int64)index);
    int rc = sqlite3_step(q);
    int found = rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
    if (found == 1) {
        memset(leaf, 0, 32);
        if (sqlite3_column_bytes(q, 0) == 32)
            memcpy(leaf, sqlite3_column_blob(q, 0), 32);
        if (entry) {
            *len = (size_t)sqlite3_column_bytes(q, 1);
            *entry = malloc(*len + 1);
            if (*entry) {
                memcpy(*entry, sqlite3_column_blob(q, 1), *len);
                (*entry)[*len] = 0;
            } else {
                found = -1;
            }
        }
    }
    sqlite3_finalize(q);
    return found;
}

/* ---- checkpoints ---- */

int store_checkpoint_put(store_t *self, uint64_t size, const uint8_t root[32], uint64_t ts_ms,
                         const uint8_t *signed_cp, size_t len)
{
    sqlite3_stmt *q = NULL;
    if (sqlite3_prepare_v2(store_db(self),
                           "INSERT OR REPLACE INTO checkpoint(size, root, ts_ms, signed)"
                           " VALUES(?1, ?2, ?3, ?4)", -1, &q, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_int64(q, 1, (sqlite3_int64)size);
    sqlite3_bind_blob(q, 2, root, 32, SQLITE_STATIC);
    sqlite3_bind_int64(q, 3, (sqlite3_int64)ts_ms);
    sqlite3_bind_blob(q, 4, signed_cp, (int)len, SQLITE_STATIC);
    int rc = sqlite3_step(q) == SQLITE_DONE ? 0 : -1;
    sqlite3_finalize(q);
    return rc;
}

static int s_checkpoint(store_t *self, const char *sql, uint64_t key, uint64_t *size,
                        uint8_t root[32], uint8_t **signed_cp, size_t *len)
{
    sqlite3_stmt *q = NULL;
    if (sqlite3_prepare_v2(store_db(self), sql, -1, &q, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_int64(q, 1, key > INT64_MAX ? INT64_MAX : (sqlite3_int64)key);
    int rc = sqlite3_step(q);
    int found = rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
    if (found == 1) {
        *size = (uint64_t)sqlite3_column_int64(q, 0);
        memset(root, 0, 32);
        if (sqlite3_column_bytes(q, 1) == 32)
            memcpy(root, sqlite3_column_blob(q, 1), 32);
        *len = (size_t)sqlite3_column_bytes(q, 2);
        *signed_cp = malloc(*len ? *len : 1);
        if (*signed_cp)
            memcpy(*signed_cp, sqlite3_column_blob(q, 2), *len);
        else
            found = -1;
    }
    sqlite3_finalize(q);
    return found;
}

int store_checkpoint_latest(store_t *self, uint64_t max_size, uint64_t *size, uint8_t root[32],
                            uint8_t **signed_cp, size_t *len)
{
    return s_checkpoint(self, "SELECT size, root, signed FROM checkpoint WHERE size <= ?1"
                              " ORDER BY size DESC LIMIT 1", max_size, size, root, signed_cp, len);
}

int store_checkpoint_covering(store_t *self, uint64_t index, uint64_t *size, uint8_t root[32],
                              uint8_t **signed_cp, size_t *len)
{
    return s_checkpoint(self, "SELECT size, root, signed FROM checkpoint WHERE size > ?1"
                              " ORDER BY size LIMIT 1", index, size, root, signed_cp, len);
}

int store_witnessed_get(store_t *self, const char *partner, uint64_t *size, uint8_t root[32])
{
    sqlite3_stmt *q = NULL;
    *size = 0;
    if (sqlite3_prepare_v2(store_db(self), "SELECT size, root FROM witnessed WHERE partner = ?1",
                           -1, &q, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_text(q, 1, partner, -1, SQLITE_STATIC);
    int rc = sqlite3_step(q);
    if (rc == SQLITE_ROW) {
        *size = (uint64_t)sqlite3_column_int64(q, 0);
        if (sqlite3_column_bytes(q, 1) == 32)
            memcpy(root, sqlite3_column_blob(q, 1), 32);
    }
    sqlite3_finalize(q);
    return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

int store_witnessed_put(store_t *self, const char *partner, uint64_t size, const uint8_t root[32],
                        const uint8_t *signed_cp, size_t len)
{
    sqlite3_stmt *q = NULL;
    if (sqlite3_prepare_v2(store_db(self),
                           "INSERT OR REPLACE INTO witnessed(partner, size, root, signed, ts_ms)"
                           " VALUES(?1, ?2, ?3, ?4, ?5)", -1, &q, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_text(q, 1, partner, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 2, (sqlite3_int64)size);
    sqlite3_bind_blob(q, 3, root, 32, SQLITE_STATIC);
    sqlite3_bind_blob(q, 4, signed_cp, (int)len, SQLITE_STATIC);
    sqlite3_bind_int64(q, 5, (sqlite3_int64)now_ms());
    int rc = sqlite3_step(q) == SQLITE_DONE ? 0 : -1;
    sqlite3_finalize(q);
    return rc;
}

int store_countersig_put(store_t *self, uint64_t size, const char *partner, const uint8_t *sig,
                         size_t len)
{
    sqlite3_stmt *q = NULL;
    if (sqlite3_prepare_v2(store_db(self),
                           "INSERT OR REPLACE INTO countersig(size, partner, signature, ts_ms)"
                           " VALUES(?1, ?2, ?3, ?4)", -1, &q, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_int64(q, 1, (sqlite3_int64)size);
    sqlite3_bind_text(q, 2, partner, -1, SQLITE_STATIC);
    sqlite3_bind_blob(q, 3, sig, (int)len, SQLITE_STATIC);
    sqlite3_bind_int64(q, 4, (sqlite3_int64)now_ms());
    int rc = sqlite3_step(q) == SQLITE_DONE ? 0 : -1;
    sqlite3_finalize(q);
    return rc;
}
