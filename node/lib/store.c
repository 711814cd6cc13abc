#include "store.h"
#include "merkle.h"
#include "stix.h"
#include "util.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Each entry migrates the schema from version i to i+1. Append only. */
static const char *s_migrations[] = {
    /* 0 -> 1 */
    "CREATE TABLE partner("
    "  pid INTEGER PRIMARY KEY,"
    "  agency TEXT NOT NULL UNIQUE,"
    "  endpoint TEXT NOT NULL,"
    "  sign_pk BLOB NOT NULL, enc_pk BLOB NOT NULL, curve_pk BLOB NOT NULL,"  /* current keys */
    "  root_pk BLOB NOT NULL,"                 /* the pinned agency root */
    "  fingerprint TEXT NOT NULL,"             /* of the root */
    "  cert_serial INTEGER NOT NULL, cert_not_after_ms INTEGER NOT NULL,"
    "  allow_types INTEGER NOT NULL, max_tlp INTEGER NOT NULL,"
    "  added_ms INTEGER NOT NULL,"
    "  tx_seq_reserved INTEGER NOT NULL DEFAULT 0,"
    "  rx_high_seq INTEGER NOT NULL DEFAULT 0,"
    "  last_receipt_ms INTEGER NOT NULL DEFAULT 0,"
    "  acked_serial INTEGER NOT NULL DEFAULT 0,"  /* our certificate it holds */
    "  rev_number INTEGER NOT NULL DEFAULT 0, rev_list BLOB);"
    /* Every certificate accepted for a partner: old keys stay, with their
     * retirement time, so what they signed stays verifiable. */
    "CREATE TABLE partner_key(pid INTEGER NOT NULL REFERENCES partner(pid),"
    "  serial INTEGER NOT NULL, sign_key_id BLOB NOT NULL, sign_pk BLOB NOT NULL,"
    "  enc_pk BLOB NOT NULL, curve_pk BLOB NOT NULL, not_before_ms INTEGER NOT NULL,"
    "  not_after_ms INTEGER NOT NULL, added_ms INTEGER NOT NULL,"
    "  retire_after_ms INTEGER NOT NULL DEFAULT 0,"  /* 0: not retiring */
    "  revoked_ms INTEGER NOT NULL DEFAULT 0, cert BLOB NOT NULL,"
    "  PRIMARY KEY(pid, serial));"
    "CREATE TABLE own_key(serial INTEGER PRIMARY KEY, sign_pk BLOB NOT NULL,"
    "  enc_pk BLOB NOT NULL, curve_pk BLOB NOT NULL, cert BLOB NOT NULL,"
    "  installed_ms INTEGER NOT NULL, retired_ms INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE indicator("
    "  rid INTEGER PRIMARY KEY,"
    "  id TEXT NOT NULL UNIQUE,"
    "  type TEXT NOT NULL, value TEXT NOT NULL, pattern TEXT NOT NULL,"
    "  tlp INTEGER NOT NULL, confidence INTEGER NOT NULL,"
    "  created_ms INTEGER NOT NULL, modified_ms INTEGER NOT NULL,"
    "  valid_from_ms INTEGER NOT NULL, valid_until_ms INTEGER NOT NULL,"
    "  revoked INTEGER NOT NULL DEFAULT 0,"
    "  origin TEXT,"                      /* NULL: anonymised at the source */
    "  from_pid INTEGER REFERENCES partner(pid)," /* NULL: published here */
    "  hops TEXT NOT NULL DEFAULT '',"    /* comma-joined agency ids */
    "  received_ms INTEGER NOT NULL);"
    "CREATE INDEX indicator_lookup ON indicator(type, value);"
    "CREATE TABLE outbox(pid INTEGER NOT NULL, rid INTEGER NOT NULL,"
    "  modified_ms INTEGER NOT NULL, PRIMARY KEY(pid, rid)) WITHOUT ROWID;"
    "CREATE TABLE inbound(pid INTEGER NOT NULL, message_id BLOB NOT NULL,"
    "  sender_key_id BLOB NOT NULL,"         /* sequences are per sending key */
    "  seq INTEGER NOT NULL, received_ms INTEGER NOT NULL, header BLOB NOT NULL,"
    "  payload BLOB NOT NULL, signature BLOB NOT NULL, receipt BLOB NOT NULL,"
    "  PRIMARY KEY(pid, message_id), UNIQUE(pid, sender_key_id, seq));"
    "CREATE TABLE receipt(pid INTEGER NOT NULL, message_id BLOB NOT NULL,"
    "  seq INTEGER NOT NULL, received_ms INTEGER NOT NULL, accepted INTEGER NOT NULL,"
    "  duplicate INTEGER NOT NULL, rejected INTEGER NOT NULL, body BLOB NOT NULL,"
    "  signature BLOB NOT NULL, PRIMARY KEY(pid, message_id));"
    "CREATE TABLE event(eid INTEGER PRIMARY KEY, ts_ms INTEGER NOT NULL,"
    "  kind TEXT NOT NULL, partner TEXT, indicator_id TEXT, reason TEXT, detail TEXT);",
    /* 1 -> 2: indicator labels (comma-joined; labels hold no comma) */
    "ALTER TABLE indicator ADD COLUMN labels TEXT NOT NULL DEFAULT '';",
    /* 2 -> 3: MOUs (store_mou.c). An MOU is active, superseded (by a newer
     * one with the same partner) or terminated; at most one is active per
     * partner. A received item records the MOU it came under (retention). */
    "CREATE TABLE mou(mid INTEGER PRIMARY KEY, hash BLOB NOT NULL UNIQUE, id TEXT NOT NULL,"
    "  peer TEXT NOT NULL, text BLOB NOT NULL, sigs TEXT NOT NULL,"
    "  activated_ms INTEGER NOT NULL, state TEXT NOT NULL,"
    "  ended_ms INTEGER NOT NULL DEFAULT 0, ended_by TEXT, end_reason TEXT, notice BLOB);"
    "CREATE UNIQUE INDEX mou_one_active ON mou(peer) WHERE state = 'active';"
    /* Decisions per MOU, direction (out, in, relay) and outcome ("allowed"
     * or a reason code); refusals are also events, one per item. */
    "CREATE TABLE mou_count(hash BLOB NOT NULL, dir TEXT NOT NULL, outcome TEXT NOT NULL,"
    "  n INTEGER NOT NULL, PRIMARY KEY(hash, dir, outcome)) WITHOUT ROWID;"
    /* Items per UTC day (days since 1970) and direction, for daily-limit. */
    "CREATE TABLE mou_daily(hash BLOB NOT NULL, dir TEXT NOT NULL, day INTEGER NOT NULL,"
    "  n INTEGER NOT NULL, PRIMARY KEY(hash, dir, day)) WITHOUT ROWID;"
    "ALTER TABLE indicator ADD COLUMN mou_hash BLOB;"
    "CREATE INDEX indicator_retention ON indicator(mou_hash, received_ms)"
    "  WHERE mou_hash IS NOT NULL;"
    /* What retention purged: never the value, which the MOU said to delete. */
    "CREATE TABLE purged(id TEXT NOT NULL, type TEXT NOT NULL, tlp INTEGER NOT NULL,"
    "  modified_ms INTEGER NOT NULL, from_agency TEXT, mou_id TEXT NOT NULL,"
    "  received_ms INTEGER NOT NULL, purged_ms INTEGER NOT NULL);"
    /* The MOUs replace the per-partner allow-lists. */
    "ALTER TABLE partner DROP COLUMN allow_types;"
    "ALTER TABLE partner DROP COLUMN max_tlp;",
    /* 3 -> 4: the audit log (store_audit.c, docs/AUDIT.md): one RFC 6962
     * leaf per entry, the exact entry bytes kept with their columns; signed
     * checkpoints; the partners' checkpoints this node witnessed; the
     * partners' countersignatures of ours. */
    "CREATE TABLE audit(idx INTEGER PRIMARY KEY, ts_ms INTEGER NOT NULL, kind TEXT NOT NULL,"
    "  partner TEXT, subject TEXT, reason TEXT, detail TEXT, entry BLOB NOT NULL,"
    "  leaf BLOB NOT NULL);"
    "CREATE TABLE checkpoint(size INTEGER PRIMARY KEY, root BLOB NOT NULL,"
    "  ts_ms INTEGER NOT NULL, signed BLOB NOT NULL);"
    "CREATE TABLE witnessed(partner TEXT PRIMARY KEY, size INTEGER NOT NULL,"
    "  root BLOB NOT NULL, signed BLOB NOT NULL, ts_ms INTEGER NOT NULL);"
    "CREATE TABLE countersig(size INTEGER NOT NULL, partner TEXT NOT NULL,"
    "  signature BLOB NOT NULL, ts_ms INTEGER NOT NULL, PRIMARY KEY(size, partner));",
    /* 4 -> 5: STIX 2.1 import and export (docs/STIX.md). An indicator
     * imported from STIX keeps its whole object (JSON) in `stix`, so export
     * gives back every property; NULL for items published as (type, value)
     * or received. Identity objects of imported bundles are kept by id (the
     * latest `modified`) for export. */
    "ALTER TABLE indicator ADD COLUMN stix TEXT;"
    "CREATE TABLE stix_object(id TEXT PRIMARY KEY, type TEXT NOT NULL,"
    "  modified TEXT NOT NULL, json TEXT NOT NULL);",
    /* 5 -> 6: when each outbox entry was (re)queued, in the order of a
     * counter of the daemon's (the only writer of entries): a receipt then
     * clears its batch's rows as one range, sparing entries queued again
     * since the batch was read (store_outbox_done_range). */
    "ALTER TABLE outbox ADD COLUMN qseq INTEGER NOT NULL DEFAULT 0;",
    /* 6 -> 7: each stored batch's MOU (from its header), so that retention
     * finds the batches whose payloads it empties without decoding all. */
    "ALTER TABLE inbound ADD COLUMN mou_hash BLOB;"
    "UPDATE inbound SET mou_hash = moux_batch_mou(header);"
    "CREATE INDEX inbound_retention ON inbound(mou_hash, received_ms)"
    "  WHERE mou_hash IS NOT NULL;",
    /* 7 -> 8: our key sets are told apart by serial and signing key: a new
     * agency root may issue a serial that an earlier root already used
     * (retired/<serial>.<n>), and that set needs its own row: its
     * retirement and its signing key, for the audit log's checks. */
    "CREATE TABLE own_key_8(serial INTEGER NOT NULL, sign_pk BLOB NOT NULL,"
    "  enc_pk BLOB NOT NULL, curve_pk BLOB NOT NULL, cert BLOB NOT NULL,"
    "  installed_ms INTEGER NOT NULL, retired_ms INTEGER NOT NULL DEFAULT 0,"
    "  PRIMARY KEY(serial, sign_pk));"
    "INSERT INTO own_key_8 SELECT serial, sign_pk, enc_pk, curve_pk, cert, installed_ms,"
    "  retired_ms FROM own_key;"
    "DROP TABLE own_key;"
    "ALTER TABLE own_key_8 RENAME TO own_key;",
};
#define SCHEMA_VERSION ((int)(sizeof s_migrations / sizeof s_migrations[0]))

/* Hot-path statements, prepared once. */
enum {
    Q_OUTBOX_PUT, Q_OUTBOX_DONE, Q_OUTBOX_DONE_RANGE, Q_OUTBOX_FETCH, Q_FIND_LOCAL, Q_FIND_ID,
    Q_INSERT_IND, Q_INSERT_IND_NEW,
    Q_UPDATE_IND, Q_FIND_STIX, Q_INBOUND_FIND, Q_INBOUND_SEQ, Q_INBOUND_PUT, Q_EVENT, Q_AUDIT_LEAF, Q_COUNT
};

static const char *s_sql[Q_COUNT] = {
    [Q_OUTBOX_PUT] = "INSERT INTO outbox(pid, rid, modified_ms, qseq) VALUES(?1, ?2, ?3, ?4)"
                     " ON CONFLICT(pid, rid) DO UPDATE SET modified_ms = excluded.modified_ms,"
                     " qseq = excluded.qseq",
    [Q_OUTBOX_DONE] = "DELETE FROM outbox WHERE pid = ?1 AND rid = ?2 AND modified_ms <= ?3"
                      " AND qseq <= ?4",
    [Q_OUTBOX_DONE_RANGE] = "DELETE FROM outbox WHERE pid = ?1 AND rid >= ?2 AND rid <= ?3"
                            " AND qseq <= ?4",
    [Q_OUTBOX_FETCH] =
        "SELECT o.rid, i.id, i.type, i.value, i.pattern, i.tlp, i.confidence, i.created_ms,"
        " i.modified_ms, i.valid_from_ms, i.valid_until_ms, i.revoked, i.origin, i.hops, i.labels"
        " FROM outbox o JOIN indicator i ON i.rid = o.rid"
        " WHERE o.pid = ?1 AND o.rid > ?2 AND o.rid <= ?4 ORDER BY o.rid LIMIT ?3",
    [Q_FIND_LOCAL] = "SELECT rid, id, tlp, confidence, valid_until_ms, created_ms, modified_ms,"
                     " valid_from_ms, labels FROM indicator WHERE type = ?1 AND value = ?2"
                     " AND from_pid IS NULL AND revoked = 0 AND stix IS NULL LIMIT 1",
    [Q_FIND_ID] = "SELECT rid, from_pid, modified_ms, revoked FROM indicator WHERE id = ?1",
    [Q_INSERT_IND] =
        "INSERT INTO indicator(id, type, value, pattern, tlp, confidence, created_ms,"
        " modified_ms, valid_from_ms, valid_until_ms, revoked, origin, from_pid, hops,"
        " received_ms, labels, mou_hash, stix)"
        " VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17,?18)",
    /* A received item is almost always new: insert first, look only when
     * the id is already held (one id-index search instead of two). */
    [Q_INSERT_IND_NEW] =
        "INSERT INTO indicator(id, type, value, pattern, tlp, confidence, created_ms,"
        " modified_ms, valid_from_ms, valid_until_ms, revoked, origin, from_pid, hops,"
        " received_ms, labels, mou_hash, stix)"
        " VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17,?18)"
        " ON CONFLICT(id) DO NOTHING",
    [Q_UPDATE_IND] =
        "UPDATE indicator SET type=?2, value=?3, pattern=?4, tlp=?5, confidence=?6,"
        " created_ms=?7, modified_ms=?8, valid_from_ms=?9, valid_until_ms=?10, revoked=?11,"
        " origin=?12, from_pid=?13, hops=?14, received_ms=?15, labels=?16, mou_hash=?17,"
        " stix=?18 WHERE id=?1",
    [Q_FIND_STIX] = "SELECT rid, from_pid, modified_ms, revoked, stix FROM indicator WHERE id = ?1",
    [Q_INBOUND_FIND] = "SELECT receipt FROM inbound WHERE pid = ?1 AND message_id = ?2",
    [Q_INBOUND_SEQ] = "SELECT 1 FROM inbound WHERE pid = ?1 AND seq = ?2 AND sender_key_id = ?3",
    [Q_INBOUND_PUT] = "INSERT INTO inbound(pid, message_id, seq, received_ms, header, payload,"
                      " signature, receipt, sender_key_id, mou_hash)"
                      " VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9, moux_batch_mou(?5))",
    [Q_EVENT] = "INSERT INTO event(ts_ms, kind, partner, indicator_id, reason, detail)"
                " VALUES(?1,?2,?3,?4,?5,?6)",
    [Q_AUDIT_LEAF] = "SELECT leaf FROM audit WHERE idx = ?1",
};

#define STORE_NEST_MAX 4
#define STORE_STMT_CACHE 32

struct store {
    sqlite3 *db;
    sqlite3_stmt *q[Q_COUNT];
    /* The audit tree's frontier (store_audit.c), and its state when each
     * open transaction or savepoint began, to undo appends a rollback undoes. */
    merkle_frontier_t frontier;
    int frontier_loaded;
    struct {
        merkle_frontier_t frontier;
        int loaded;
    } undo[STORE_NEST_MAX];
    int depth; /* open transaction (1) and savepoints in it */
    int unsynced; /* the open transaction commits without syncing (store_begin_unsynced) */
    uint64_t unsynced_ms; /* monotonic: the first commit not synced since the last synced one */
    sqlite3_int64 changes; /* sqlite3_total_changes64 when the transaction began */
    int audit_off;
    uint64_t qseq;   /* the last outbox queueing sequence given */
    int qseq_loaded; /* qseq read from the outbox (on first use: the CLI never needs it) */
    /* Statements prepared on first use (store_stmt), by their SQL text. */
    struct {
        char *sql;
        sqlite3_stmt *st;
    } cache[STORE_STMT_CACHE];
    size_t n_cache;
};

const char *store_errmsg(store_t *self) { return sqlite3_errmsg(self->db); }
sqlite3 *store_db(store_t *self) { return self->db; }

static int s_exec(store_t *self, const char *sql)
{
    return sqlite3_exec(self->db, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : -1;
}

/* Every commit syncs the WAL again once an unsynced transaction has ended.
 * SQLite takes the setting outside transactions only. */
static void s_synced(store_t *self)
{
    if (self->unsynced && s_exec(self, "PRAGMA synchronous = FULL") == 0)
        self->unsynced = 0;
}

/* SQLite rolls the whole transaction back by itself on some errors (a full
 * disk, an I/O error, no memory): then every level is gone. */
static void s_lost(store_t *self)
{
    self->frontier = self->undo[0].frontier;
    self->frontier_loaded = self->undo[0].loaded;
    self->depth = 0;
    s_synced(self);
}

int store_in_transaction(store_t *self)
{
    return self->depth > 0 && !sqlite3_get_autocommit(self->db);
}

static int s_begin(store_t *self)
{
    if (self->depth == STORE_NEST_MAX ||
        s_exec(self, self->depth ? "SAVEPOINT nested" : "BEGIN IMMEDIATE") != 0)
        return -1;
    if (self->depth == 0)
        self->changes = sqlite3_total_changes64(self->db);
    self->undo[self->depth].frontier = self->frontier;
    self->undo[self->depth].loaded = self->frontier_loaded;
    self->depth++;
    return 0;
}

int store_begin(store_t *self)
{
    if (self->depth > 0 && sqlite3_get_autocommit(self->db))
        s_lost(self);
    if (self->depth == 0)
        s_synced(self);
    if (self->depth == 0 && self->unsynced)
        return -1; /* never let a transaction that must sync go unsynced */
    return s_begin(self);
}

int store_begin_unsynced(store_t *self)
{
    if (self->depth > 0 && sqlite3_get_autocommit(self->db))
        s_lost(self);
    if (self->depth > 0)
        return s_begin(self); /* a savepoint: the enclosing commit decides */
    if (s_exec(self, "PRAGMA synchronous = NORMAL") != 0)
        return -1;
    self->unsynced = 1;
    if (s_begin(self) != 0) {
        s_synced(self);
        return -1;
    }
    return 0;
}

int store_commit(store_t *self)
{
    if (self->depth == 0 || s_exec(self, self->depth > 1 ? "RELEASE nested" : "COMMIT") != 0)
        return -1; /* still open: the caller rolls back */
    if (--self->depth > 0)
        return 0;
    if (!self->unsynced) {
        if (sqlite3_total_changes64(self->db) != self->changes)
            self->unsynced_ms = 0; /* it wrote and synced the WAL: every earlier commit too */
        return 0;
    }
    if (!self->unsynced_ms)
        self->unsynced_ms = mono_ms();
    s_synced(self);
    return self->unsynced ? -1 : 0; /* committed, but what follows would not sync */
}

int store_sync_wal(store_t *self)
{
    sqlite3_file *wal = NULL;
    /* No WAL open: nothing was written. */
    int ok = sqlite3_file_control(self->db, "main", SQLITE_FCNTL_JOURNAL_POINTER, &wal) ==
                 SQLITE_OK &&
             (!wal || !wal->pMethods || wal->pMethods->xSync(wal, SQLITE_SYNC_NORMAL) == SQLITE_OK);
    if (ok) /* every commit is on disk, but for what an earlier failed sync let the kernel drop */
        self->unsynced_ms = 0;
    else if (self->unsynced_ms)
        self->unsynced_ms = mono_ms(); /* still owed: the next try in as long again */
    return ok ? 0 : -1;
}

int store_take_unsynced(store_t *self, uint64_t older_than_ms)
{
    return self->unsynced_ms && mono_ms() - self->unsynced_ms >= older_than_ms;
}

int store_wal_truncate(store_t *self)
{
    /* The busy timeout covers readers and writers, not another checkpoint
     * under way (the daemon's checkpoint thread): that answers BUSY at once,
     * so it is tried again, for as long as the busy timeout. */
    int log = 0, copied = 0, rc = SQLITE_BUSY;
    for (int i = 0; i < 500 && rc == SQLITE_BUSY; i++) {
        if (i)
            sqlite3_sleep(10);
        rc = sqlite3_wal_checkpoint_v2(self->db, "main", SQLITE_CHECKPOINT_TRUNCATE, &log,
                                       &copied);
    }
    return rc == SQLITE_OK && log == 0 ? 0 : -1;
}

void store_rollback(store_t *self)
{
    if (self->depth == 0) {
        s_exec(self, "ROLLBACK"); /* a migration's failed BEGIN; harmless */
        s_synced(self);
        return;
    }
    if (sqlite3_get_autocommit(self->db)) {
        s_lost(self);
        return;
    }
    if (self->depth > 1 && s_exec(self, "ROLLBACK TO nested; RELEASE nested") != 0) {
        /* The savepoint could not be undone alone: undo everything rather
         * than let an enclosing commit keep what this level meant to undo.
         * The enclosing levels see it (store_in_transaction). */
        s_exec(self, "ROLLBACK");
        s_lost(self);
        return;
    }
    if (self->depth == 1)
        s_exec(self, "ROLLBACK");
    if (--self->depth == 0)
        s_synced(self);
    self->frontier = self->undo[self->depth].frontier;
    self->frontier_loaded = self->undo[self->depth].loaded;
}

merkle_frontier_t *store_frontier(store_t *self, int **loaded)
{
    *loaded = &self->frontier_loaded;
    return &self->frontier;
}

void store_set_audit(store_t *self, int on) { self->audit_off = !on; }
int store_audit_on(const store_t *self) { return !self->audit_off; }

/* SQL moux_batch_mou(header): the MOU hash a stored batch header names, or
 * NULL (inbound.mou_hash). The headers were checked when their batches came
 * in. */
static void s_fn_batch_mou(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    const void *raw = sqlite3_value_blob(argv[0]);
    int len = sqlite3_value_bytes(argv[0]);
    Moux__BatchHeader *h = raw && len > 0 && len <= 1024
        ? moux__batch_header__unpack(NULL, (size_t)len, raw) : NULL;
    if (h && h->mou_hash.len == 32)
        sqlite3_result_blob(ctx, h->mou_hash.data, 32, SQLITE_TRANSIENT);
    else
        sqlite3_result_null(ctx);
    if (h)
        moux__batch_header__free_unpacked(h, NULL);
}

int store_query_int(store_t *self, const char *sql)
{
    sqlite3_stmt *st = NULL;
    int v = -1;
    if (sqlite3_prepare_v2(self->db, sql, -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return v;
}

static int s_user_version(store_t *self)
{
    return store_query_int(self, "PRAGMA user_version");
}

static int s_migrate(store_t *self, char *err, size_t errlen)
{
    int v = s_user_version(self);
    if (v > SCHEMA_VERSION) {
        snprintf(err, errlen, "store schema version %d is newer than this moux (%d)", v,
                 SCHEMA_VERSION);
        return -1;
    }
    for (; v < SCHEMA_VERSION; v++) {
        char pragma[64];
        snprintf(pragma, sizeof pragma, "PRAGMA user_version = %d", v + 1);
        if (store_begin(self) || s_exec(self, s_migrations[v]) || s_exec(self, pragma) ||
            store_commit(self)) {
            snprintf(err, errlen, "migrating store to schema %d: %s", v + 1,
                     sqlite3_errmsg(self->db));
            store_rollback(self);
            return -1;
        }
    }
    return 0;
}

store_t *store_open(const char *dir, int mode, char *err, size_t errlen)
{
    char path[PATH_MAX_MOUX + 16];
    snprintf(path, sizeof path, "%s/store.db", dir);
    store_t *self = calloc(1, sizeof *self);
    if (!self) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    int flags = mode == STORE_RO ? SQLITE_OPEN_READONLY
                                 : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
    /* No allocation statistics: they take a global mutex on every
     * sqlite3_malloc and sqlite3_free (3 % of a receiver's time). Only
     * possible before SQLite initialises, and sqlite3_config is not thread
     * safe: the first store_open sets it, before the daemon starts threads. */
    static int s_configured;
    if (!s_configured) {
        s_configured = 1;
        sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    }
    mode_t old = umask(077); /* the store and its WAL files are 0600 */
    int rc = sqlite3_open_v2(path, &self->db, flags | SQLITE_OPEN_NOMUTEX, NULL);
    umask(old);
    if (rc != SQLITE_OK) {
        snprintf(err, errlen, "%s: %s", path, self->db ? sqlite3_errmsg(self->db) : "cannot open");
        goto fail;
    }
    sqlite3_busy_timeout(self->db, 5000);
    if (sqlite3_create_function_v2(self->db, "moux_batch_mou", 1,
                                   SQLITE_UTF8 | SQLITE_DETERMINISTIC, NULL, s_fn_batch_mou, NULL,
                                   NULL, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "%s: %s", path, sqlite3_errmsg(self->db));
        goto fail;
    }
    /* FULL: a commit is on disk before a receipt for it leaves. */
    if (s_exec(self, "PRAGMA foreign_keys = ON") ||
        (mode == STORE_RW && (s_exec(self, "PRAGMA journal_mode = WAL") ||
                              s_exec(self, "PRAGMA synchronous = FULL")))) {
        snprintf(err, errlen, "%s: %s", path, sqlite3_errmsg(self->db));
        goto fail;
    }
    if (mode == STORE_RW && s_migrate(self, err, errlen) != 0)
        goto fail;
    if (mode == STORE_RO && s_user_version(self) != SCHEMA_VERSION) {
        snprintf(err, errlen, "%s: not a moux store of schema %d", path, SCHEMA_VERSION);
        goto fail;
    }
    for (int i = 0; i < Q_COUNT; i++)
        if (sqlite3_prepare_v3(self->db, s_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &self->q[i],
                               NULL) != SQLITE_OK) {
            snprintf(err, errlen, "%s: %s", path, sqlite3_errmsg(self->db));
            goto fail;
        }
    return self;
fail:
    store_destroy(&self);
    return NULL;
}

void store_destroy(store_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    store_t *self = *self_p;
    for (int i = 0; i < Q_COUNT; i++)
        sqlite3_finalize(self->q[i]);
    for (size_t i = 0; i < self->n_cache; i++) {
        sqlite3_finalize(self->cache[i].st);
        free(self->cache[i].sql);
    }
    sqlite3_close(self->db);
    free(self);
    *self_p = NULL;
}

sqlite3_stmt *store_stmt(store_t *self, const char *sql)
{
    for (size_t i = 0; i < self->n_cache; i++)
        if (strcmp(self->cache[i].sql, sql) == 0) {
            sqlite3_reset(self->cache[i].st);
            sqlite3_clear_bindings(self->cache[i].st);
            return self->cache[i].st;
        }
    if (self->n_cache == STORE_STMT_CACHE)
        return NULL; /* a programming error: more hot statements than slots */
    sqlite3_stmt *st = NULL;
    char *copy = strdup(sql);
    if (!copy || sqlite3_prepare_v3(self->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL) !=
                     SQLITE_OK) {
        free(copy);
        sqlite3_finalize(st);
        return NULL;
    }
    self->cache[self->n_cache].sql = copy;
    self->cache[self->n_cache++].st = st;
    return st;
}

/* Resets a cached statement for reuse and returns it. */
static sqlite3_stmt *s_q(store_t *self, int which)
{
    sqlite3_stmt *st = self->q[which];
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return st;
}

sqlite3_stmt *store_audit_leaf_stmt(store_t *self) { return s_q(self, Q_AUDIT_LEAF); }

static int s_step_done(sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

static const char *s_col_text(sqlite3_stmt *st, int col)
{
    const unsigned char *t = sqlite3_column_text(st, col);
    return t ? (const char *)t : NULL;
}

/* ---- partners ---- */

/* Runs sql with ?1 and ?2 bound to two integers. */
static int s_exec_u64(store_t *self, const char *sql, uint64_t a, uint64_t b)
{
    sqlite3_stmt *st = store_stmt(self, sql);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, (sqlite3_int64)a);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)b);
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
    sqlite3_reset(st);
    return rc;
}

static void s_copy_blob(sqlite3_stmt *st, int col, unsigned char out[32])
{
    memset(out, 0, 32);
    if (sqlite3_column_bytes(st, col) == 32)
        memcpy(out, sqlite3_column_blob(st, col), 32);
}

/* Steps st to its end, each row filling one zeroed element (elem bytes) of
 * a growing array; finalizes st. *out is owned by the caller (free). */
static int s_collect(sqlite3_stmt *st, size_t elem, void (*fill)(sqlite3_stmt *, void *),
                     void **out, size_t *n)
{
    unsigned char *list = NULL;
    size_t count = 0, cap = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (count == cap) {
            cap = cap ? cap * 2 : 8;
            unsigned char *grown = realloc(list, cap * elem);
            if (!grown) {
                rc = SQLITE_NOMEM;
                break;
            }
            list = grown;
        }
        memset(list + count * elem, 0, elem);
        fill(st, list + count++ * elem);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        free(list);
        return -1;
    }
    *out = list;
    *n = count;
    return 0;
}

/* Adds a certificate to the partner's key history (kept if already there). */
static int s_key_insert(store_t *self, int64_t pid, const cert_t *c, const uint8_t *cert,
                        size_t len)
{
    /* A different certificate under a serial we hold (a reinstalled node,
     * certified again from 1) replaces it; the same one changes nothing. */
    static const char *sql =
        "INSERT INTO partner_key(pid, serial, sign_key_id, sign_pk, enc_pk, curve_pk,"
        " not_before_ms, not_after_ms, added_ms, cert) VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10)"
        " ON CONFLICT(pid, serial) DO UPDATE SET sign_key_id=excluded.sign_key_id,"
        " sign_pk=excluded.sign_pk, enc_pk=excluded.enc_pk, curve_pk=excluded.curve_pk,"
        " not_before_ms=excluded.not_before_ms, not_after_ms=excluded.not_after_ms,"
        " added_ms=excluded.added_ms, cert=excluded.cert, retire_after_ms=0, revoked_ms=0"
        " WHERE partner_key.cert <> excluded.cert";
    unsigned char kid[KEYID_BYTES];
    if (!cert || !len)
        return -1;
    keyid_of(c->sign_pk, 32, kid);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(self->db, sql, -1, &st, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_int64(st, 1, pid);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)c->serial);
    sqlite3_bind_blob(st, 3, kid, KEYID_BYTES, SQLITE_TRANSIENT);
    sqlite3_bind_blob(st, 4, c->sign_pk, 32, SQLITE_STATIC);
    sqlite3_bind_blob(st, 5, c->enc_pk, 32, SQLITE_STATIC);
    sqlite3_bind_blob(st, 6, c->curve_pk, 32, SQLITE_STATIC);
    sqlite3_bind_int64(st, 7, (sqlite3_int64)c->not_before_ms);
    sqlite3_bind_int64(st, 8, (sqlite3_int64)c->not_after_ms);
    sqlite3_bind_int64(st, 9, (sqlite3_int64)now_ms());
    sqlite3_bind_blob(st, 10, cert, (int)len, SQLITE_STATIC);
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
    sqlite3_finalize(st);
    return rc;
}

/* Keys of every other certificate retire at `when` (unless sooner already). */
static int s_keys_retire_others(store_t *self, int64_t pid, uint64_t keep, uint64_t when)
{
    static const char *sql = "UPDATE partner_key SET retire_after_ms = ?3 WHERE pid = ?1"
                             " AND serial <> ?2 AND (retire_after_ms = 0 OR retire_after_ms > ?3)";
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(self->db, sql, -1, &st, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_int64(st, 1, pid);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)keep);
    sqlite3_bind_int64(st, 3, (sqlite3_int64)when);
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
    sqlite3_finalize(st);
    return rc;
}

/* 1 if another partner holds a usable key with this transport key: ZAP
 * would not know whom a connection with it comes from. */
static int s_curve_taken(store_t *self, int64_t pid, const unsigned char curve_pk[32])
{
    static const char *sql = "SELECT 1 FROM partner_key WHERE curve_pk = ?1 AND pid <> ?2"
                             " AND revoked_ms = 0 AND (retire_after_ms = 0 OR retire_after_ms > ?3)";
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(self->db, sql, -1, &st, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_blob(st, 1, curve_pk, 32, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, pid);
    sqlite3_bind_int64(st, 3, (sqlite3_int64)now_ms());
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

static int64_t s_partner_pid(store_t *self, const char *agency)
{
    sqlite3_stmt *st = NULL;
    int64_t pid = -1;
    if (sqlite3_prepare_v2(self->db, "SELECT pid FROM partner WHERE agency = ?1", -1, &st,
                           NULL) == SQLITE_OK) {
        sqlite3_bind_text(st, 1, agency, -1, SQLITE_STATIC);
        if (sqlite3_step(st) == SQLITE_ROW)
            pid = sqlite3_column_int64(st, 0);
    }
    sqlite3_finalize(st);
    return pid;
}

int store_partner_upsert(store_t *self, const partner_t *p, const uint8_t *cert, size_t len)
{
    static const char *sql =
        "INSERT INTO partner(agency, endpoint, sign_pk, enc_pk, curve_pk, root_pk, fingerprint,"
        " cert_serial, cert_not_after_ms, added_ms)"
        " VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10)"
        " ON CONFLICT(agency) DO UPDATE SET endpoint=excluded.endpoint,"
        " sign_pk=excluded.sign_pk, enc_pk=excluded.enc_pk, curve_pk=excluded.curve_pk,"
        " root_pk=excluded.root_pk, fingerprint=excluded.fingerprint,"
        " cert_serial=excluded.cert_serial, cert_not_after_ms=excluded.cert_not_after_ms,"
        " rx_high_seq = CASE WHEN partner.sign_pk = excluded.sign_pk"
        " THEN partner.rx_high_seq ELSE 0 END,"
        /* another root: its revocation numbering starts afresh */
        " rev_number = CASE WHEN partner.root_pk = excluded.root_pk"
        " THEN partner.rev_number ELSE 0 END,"
        " rev_list = CASE WHEN partner.root_pk = excluded.root_pk"
        " THEN partner.rev_list ELSE NULL END";
    cert_t c;
    const char *why = NULL;
    /* The history records the certificate itself, checked against the root. */
    if (!cert || cert_verify(cert, len, p->root_pk, &c, &why) != 0 ||
        memcmp(c.sign_pk, p->sign_pk, 32) != 0 || c.serial != p->cert_serial)
        return -1;
    sqlite3_stmt *st = NULL;
    if (store_begin(self) != 0)
        return -1;
    int64_t existing = s_partner_pid(self, p->agency);
    if (s_curve_taken(self, existing, c.curve_pk) != 0)
        goto fail;
    if (sqlite3_prepare_v2(self->db, sql, -1, &st, NULL) != SQLITE_OK)
        goto fail;
    sqlite3_bind_text(st, 1, p->agency, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, p->endpoint, -1, SQLITE_STATIC);
    sqlite3_bind_blob(st, 3, p->sign_pk, 32, SQLITE_STATIC);
    sqlite3_bind_blob(st, 4, p->enc_pk, 32, SQLITE_STATIC);
    sqlite3_bind_blob(st, 5, p->curve_pk, 32, SQLITE_STATIC);
    sqlite3_bind_blob(st, 6, p->root_pk, 32, SQLITE_STATIC);
    sqlite3_bind_text(st, 7, p->fingerprint, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 8, (sqlite3_int64)p->cert_serial);
    sqlite3_bind_int64(st, 9, (sqlite3_int64)p->cert_not_after_ms);
    sqlite3_bind_int64(st, 10, (sqlite3_int64)p->added_ms);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    int64_t pid = s_partner_pid(self, p->agency);
    if (rc != SQLITE_DONE || pid < 0 || s_key_insert(self, pid, &c, cert, len) != 0 ||
        s_keys_retire_others(self, pid, p->cert_serial, now_ms()) != 0 || store_commit(self) != 0)
        goto fail;
    return 0;
fail:
    store_rollback(self);
    return -1;
}

static int s_partner_key_add(store_t *self, int64_t pid, const cert_t *c, const uint8_t *cert,
                             size_t len, uint64_t overlap_ms);
static int s_partner_revocations(store_t *self, int64_t pid, const revlist_t *l,
                                 const uint8_t *raw, size_t len);

int store_partner_key_add(store_t *self, int64_t pid, const cert_t *c, const uint8_t *cert,
                          size_t len, uint64_t overlap_ms)
{
    if (store_begin(self) != 0)
        return -1;
    int rc = s_partner_key_add(self, pid, c, cert, len, overlap_ms);
    if (rc == 0 && store_commit(self) == 0)
        return 0;
    store_rollback(self);
    return -1;
}

static int s_partner_key_add(store_t *self, int64_t pid, const cert_t *c, const uint8_t *cert,
                             size_t len, uint64_t overlap_ms)
{
    static const char *sql =
        "UPDATE partner SET sign_pk=?2, enc_pk=?3, curve_pk=?4, cert_serial=?5,"
        " cert_not_after_ms=?6, endpoint=?7 WHERE pid=?1";
    sqlite3_stmt *st = NULL;
    if (s_curve_taken(self, pid, c->curve_pk) != 0 ||
        sqlite3_prepare_v2(self->db, sql, -1, &st, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_int64(st, 1, pid);
    sqlite3_bind_blob(st, 2, c->sign_pk, 32, SQLITE_STATIC);
    sqlite3_bind_blob(st, 3, c->enc_pk, 32, SQLITE_STATIC);
    sqlite3_bind_blob(st, 4, c->curve_pk, 32, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, (sqlite3_int64)c->serial);
    sqlite3_bind_int64(st, 6, (sqlite3_int64)c->not_after_ms);
    sqlite3_bind_text(st, 7, c->endpoint, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
    sqlite3_finalize(st);
    if (rc == 0)
        rc = s_key_insert(self, pid, c, cert, len);
    if (rc == 0)
        rc = s_keys_retire_others(self, pid, c->serial, now_ms() + overlap_ms);
    return rc;
}

static int s_key_mark_revoked(store_t *self, int64_t pid, uint64_t serial)
{
    static const char *sql = "UPDATE partner_key SET revoked_ms=?3 WHERE pid=?1 AND serial=?2"
                             " AND revoked_ms = 0";
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(self->db, sql, -1, &st, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_int64(st, 1, pid);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)serial);
    sqlite3_bind_int64(st, 3, (sqlite3_int64)now_ms());
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
    sqlite3_finalize(st);
    return rc;
}

int store_partner_rev_list(store_t *self, int64_t pid, uint8_t **raw, size_t *len)
{
    sqlite3_stmt *st = NULL;
    *raw = NULL;
    *len = 0;
    if (sqlite3_prepare_v2(self->db, "SELECT rev_list FROM partner WHERE pid = ?1", -1, &st,
                           NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_int64(st, 1, pid);
    int rc = sqlite3_step(st) == SQLITE_ROW ? 0 : -1;
    int n = rc == 0 ? sqlite3_column_bytes(st, 0) : 0;
    if (n > 0 && (*raw = malloc((size_t)n)) != NULL) {
        memcpy(*raw, sqlite3_column_blob(st, 0), (size_t)n);
        *len = (size_t)n;
    } else if (n > 0) {
        rc = -1;
    }
    sqlite3_finalize(st);
    return rc;
}

int store_partner_revocations(store_t *self, int64_t pid, const revlist_t *l,
                              const uint8_t *raw, size_t len)
{
    if (store_begin(self) != 0)
        return -1;
    int rc = s_partner_revocations(self, pid, l, raw, len);
    if (rc == 0 && store_commit(self) == 0)
        return 0;
    store_rollback(self);
    return -1;
}

static int s_partner_revocations(store_t *self, int64_t pid, const revlist_t *l,
                                 const uint8_t *raw, size_t len)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(self->db, "UPDATE partner SET rev_number=?2, rev_list=?3 WHERE pid=?1",
                           -1, &st, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_int64(st, 1, pid);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)l->number);
    sqlite3_bind_blob(st, 3, raw, (int)len, SQLITE_STATIC);
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
    sqlite3_finalize(st);
    partner_key_t *keys = NULL;
    size_t n = 0;
    if (rc == 0)
        rc = store_partner_keys(self, pid, &keys, &n);
    for (size_t i = 0; rc == 0 && i < n; i++)
        if (revlist_covers(l, keys[i].serial, keys[i].sign_key_id))
            rc = s_key_mark_revoked(self, pid, keys[i].serial);
    free(keys);
    return rc;
}

static void s_fill_partner_key(sqlite3_stmt *st, void *elem)
{
    partner_key_t *k = elem;
    k->serial = (uint64_t)sqlite3_column_int64(st, 0);
    s_copy_blob(st, 1, k->sign_key_id);
    s_copy_blob(st, 2, k->sign_pk);
    s_copy_blob(st, 3, k->enc_pk);
    s_copy_blob(st, 4, k->curve_pk);
    k->not_before_ms = (uint64_t)sqlite3_column_int64(st, 5);
    k->not_after_ms = (uint64_t)sqlite3_column_int64(st, 6);
    k->retire_after_ms = (uint64_t)sqlite3_column_int64(st, 7);
    k->revoked_ms = (uint64_t)sqlite3_column_int64(st, 8);
}

int store_partner_keys(store_t *self, int64_t pid, partner_key_t **out, size_t *n)
{
    static const char *sql =
        "SELECT serial, sign_key_id, sign_pk, enc_pk, curve_pk, not_before_ms, not_after_ms,"
        " retire_after_ms, revoked_ms FROM partner_key WHERE pid = ?1 ORDER BY serial DESC";
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(self->db, sql, -1, &st, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_int64(st, 1, pid);
    return s_collect(st, sizeof(partner_key_t), s_fill_partner_key, (void **)out, n);
}

int store_own_key_put(store_t *self, const cert_t *c, const uint8_t *cert, size_t len)
{
    static const char *sql = "INSERT OR IGNORE INTO own_key(serial, sign_pk, enc_pk, curve_pk,"
                             " cert, installed_ms) VALUES(?1,?2,?3,?4,?5,?6)";
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(self->db, sql, -1, &st, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_int64(st, 1, (sqlite3_int64)c->serial);
    sqlite3_bind_blob(st, 2, c->sign_pk, 32, SQLITE_STATIC);
    sqlite3_bind_blob(st, 3, c->enc_pk, 32, SQLITE_STATIC);
    sqlite3_bind_blob(st, 4, c->curve_pk, 32, SQLITE_STATIC);
    sqlite3_bind_blob(st, 5, cert, (int)len, SQLITE_STATIC);
    sqlite3_bind_int64(st, 6, (sqlite3_int64)now_ms());
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
    sqlite3_finalize(st);
    return rc;
}

int store_own_key_first_serial(store_t *self, const unsigned char sign_pk[32], uint64_t *serial)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(self->db, "SELECT min(serial) FROM own_key WHERE sign_pk = ?1", -1,
                           &st, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_blob(st, 1, sign_pk, 32, SQLITE_STATIC);
    int rc = sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL ? 0 : -1;
    if (rc == 0)
        *serial = (uint64_t)sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return rc;
}

/* sql prepared with ?1 = serial and ?2 = signing key bound: one key set of ours. */
static sqlite3_stmt *s_own_key_stmt(store_t *self, const char *sql, uint64_t serial,
                                    const unsigned char sign_pk[32])
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(self->db, sql, -1, &st, NULL) != SQLITE_OK)
        return NULL;
    sqlite3_bind_int64(st, 1, (sqlite3_int64)serial);
    sqlite3_bind_blob(st, 2, sign_pk, 32, SQLITE_STATIC);
    return st;
}

int store_own_key_retire(store_t *self, uint64_t serial, const unsigned char sign_pk[32],
                         uint64_t when_ms)
{
    sqlite3_stmt *st = s_own_key_stmt(self, "UPDATE own_key SET retired_ms = ?3 WHERE serial = ?1"
                                      " AND sign_pk = ?2 AND retired_ms = 0", serial, sign_pk);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 3, (sqlite3_int64)when_ms);
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
    sqlite3_finalize(st);
    return rc;
}

int store_own_key_retired_ms(store_t *self, uint64_t serial, const unsigned char sign_pk[32],
                             uint64_t *when_ms)
{
    sqlite3_stmt *st = s_own_key_stmt(self, "SELECT retired_ms FROM own_key WHERE serial = ?1"
                                      " AND sign_pk = ?2", serial, sign_pk);
    if (!st)
        return -1;
    int rc = sqlite3_step(st);
    *when_ms = rc == SQLITE_ROW ? (uint64_t)sqlite3_column_int64(st, 0) : 0;
    sqlite3_finalize(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : -1;
}


static void s_fill_partner(sqlite3_stmt *st, void *elem)
{
    partner_t *p = elem;
    p->pid = sqlite3_column_int64(st, 0);
    str_copy(p->agency, sizeof p->agency, s_col_text(st, 1));
    str_copy(p->endpoint, sizeof p->endpoint, s_col_text(st, 2));
    s_copy_blob(st, 3, p->sign_pk);
    s_copy_blob(st, 4, p->enc_pk);
    s_copy_blob(st, 5, p->curve_pk);
    str_copy(p->fingerprint, sizeof p->fingerprint, s_col_text(st, 6));
    p->added_ms = (uint64_t)sqlite3_column_int64(st, 7);
    p->tx_seq_reserved = (uint64_t)sqlite3_column_int64(st, 8);
    p->rx_high_seq = (uint64_t)sqlite3_column_int64(st, 9);
    p->last_receipt_ms = (uint64_t)sqlite3_column_int64(st, 10);
    s_copy_blob(st, 11, p->root_pk);
    p->cert_serial = (uint64_t)sqlite3_column_int64(st, 12);
    p->cert_not_after_ms = (uint64_t)sqlite3_column_int64(st, 13);
    p->acked_serial = (uint64_t)sqlite3_column_int64(st, 14);
    p->rev_number = (uint64_t)sqlite3_column_int64(st, 15);
}

int store_partners(store_t *self, partner_t **out, size_t *n)
{
    static const char *sql =
        "SELECT pid, agency, endpoint, sign_pk, enc_pk, curve_pk, fingerprint,"
        " added_ms, tx_seq_reserved, rx_high_seq, last_receipt_ms, root_pk,"
        " cert_serial, cert_not_after_ms, acked_serial, rev_number"
        " FROM partner ORDER BY agency";
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(self->db, sql, -1, &st, NULL) != SQLITE_OK)
        return -1;
    return s_collect(st, sizeof(partner_t), s_fill_partner, (void **)out, n);
}

static int s_partner_set(store_t *self, const char *column, int64_t pid, uint64_t v)
{
    char sql[128];
    snprintf(sql, sizeof sql, "UPDATE partner SET %s = ?2 WHERE pid = ?1", column);
    return s_exec_u64(self, sql, (uint64_t)pid, v);
}

int store_partner_set_seq_reserved(store_t *self, int64_t pid, uint64_t upto)
{
    return s_partner_set(self, "tx_seq_reserved", pid, upto);
}

int store_partner_set_rx_high(store_t *self, int64_t pid, uint64_t seq)
{
    /* Only up: batches of one group may be stored out of order. */
    return s_exec_u64(self, "UPDATE partner SET rx_high_seq = ?2 WHERE pid = ?1 AND rx_high_seq < ?2",
                      (uint64_t)pid, seq);
}

int store_partner_set_last_receipt(store_t *self, int64_t pid, uint64_t ms)
{
    return s_partner_set(self, "last_receipt_ms", pid, ms);
}

int store_partner_set_acked(store_t *self, int64_t pid, uint64_t serial)
{
    return s_partner_set(self, "acked_serial", pid, serial);
}

/* ---- indicators ---- */

static char *s_dup_col(sqlite3_stmt *st, int col);

static void s_bind_text_or_null(sqlite3_stmt *st, int col, const char *s)
{
    if (s)
        sqlite3_bind_text(st, col, s, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, col);
}

/* "a,b,c" from an item's labels (labels hold no comma); caller frees. */
static char *s_join_labels(const Moux__Indicator *ind)
{
    size_t len = 1;
    for (size_t i = 0; i < ind->n_labels; i++)
        len += strlen(ind->labels[i]) + 1;
    char *out = malloc(len);
    if (!out)
        return NULL;
    out[0] = '\0';
    for (size_t i = 0; i < ind->n_labels; i++) {
        if (i)
            strcat(out, ",");
        strcat(out, ind->labels[i]);
    }
    return out;
}

/* Binds ?1..?16 of Q_INSERT_IND / Q_UPDATE_IND (labels: a transient copy). */
static void s_bind_indicator(sqlite3_stmt *st, const Moux__Indicator *ind, const char *origin,
                             int64_t from_pid, const char *hops, uint64_t received_ms)
{
    char *labels = s_join_labels(ind);
    sqlite3_bind_text(st, 16, labels ? labels : "", -1, SQLITE_TRANSIENT);
    free(labels);
    sqlite3_bind_text(st, 1, ind->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, ind->type, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, ind->value, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, ind->pattern, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 5, (int)ind->tlp);
    sqlite3_bind_int(st, 6, (int)ind->confidence);
    sqlite3_bind_int64(st, 7, (sqlite3_int64)ind->created_ms);
    sqlite3_bind_int64(st, 8, (sqlite3_int64)ind->modified_ms);
    sqlite3_bind_int64(st, 9, (sqlite3_int64)ind->valid_from_ms);
    sqlite3_bind_int64(st, 10, (sqlite3_int64)ind->valid_until_ms);
    sqlite3_bind_int(st, 11, ind->revoked ? 1 : 0);
    s_bind_text_or_null(st, 12, origin);
    if (from_pid)
        sqlite3_bind_int64(st, 13, from_pid);
    else
        sqlite3_bind_null(st, 13);
    sqlite3_bind_text(st, 14, hops, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 15, (sqlite3_int64)received_ms);
}

int store_put_local(store_t *self, const char *agency, Moux__Indicator *ind, int64_t *rid,
                    store_put_t *res)
{
    static char s_id[IND_ID_LEN + 1]; /* id storage handed back through ind->id */
    uint64_t now = now_ms();
    sqlite3_stmt *st = s_q(self, Q_FIND_LOCAL);
    sqlite3_bind_text(st, 1, ind->type, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, ind->value, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    int exists = rc == SQLITE_ROW;
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return -1;
    if (exists) {
        *rid = sqlite3_column_int64(st, 0);
        str_copy(s_id, sizeof s_id, s_col_text(st, 1));
        char *labels = s_join_labels(ind);
        const char *held = s_col_text(st, 8);
        int same = sqlite3_column_int(st, 2) == (int)ind->tlp &&
                   sqlite3_column_int(st, 3) == (int)ind->confidence &&
                   (uint64_t)sqlite3_column_int64(st, 4) == ind->valid_until_ms && labels &&
                   strcmp(labels, held ? held : "") == 0;
        free(labels);
        ind->created_ms = (uint64_t)sqlite3_column_int64(st, 5);
        uint64_t prev_modified = (uint64_t)sqlite3_column_int64(st, 6);
        ind->valid_from_ms = (uint64_t)sqlite3_column_int64(st, 7);
        sqlite3_reset(st);
        ind->id = s_id;
        ind->origin = (char *)agency;
        if (same) {
            ind->modified_ms = prev_modified;
            *res = STORE_UNCHANGED;
            return 0;
        }
        /* A new version must sort after the old one even within one ms. */
        ind->modified_ms = now > prev_modified ? now : prev_modified + 1;
        st = s_q(self, Q_UPDATE_IND);
        s_bind_indicator(st, ind, agency, 0, "", now);
        *res = STORE_UPDATED;
        return s_step_done(st);
    }
    sqlite3_reset(st);
    char uuid[37];
    uuid7(uuid); /* time-ordered: appended to the id index, not scattered */
    snprintf(s_id, sizeof s_id, "indicator--%s", uuid);
    ind->id = s_id;
    ind->origin = (char *)agency;
    ind->created_ms = ind->modified_ms = ind->valid_from_ms = now;
    st = s_q(self, Q_INSERT_IND);
    s_bind_indicator(st, ind, agency, 0, "", now);
    if (s_step_done(st) != 0)
        return -1;
    *rid = sqlite3_last_insert_rowid(self->db);
    *res = STORE_NEW;
    return 0;
}

/* Joins the item's hop path with the partner that delivered it. */
static char *s_hops_with(const Moux__Indicator *ind, const char *from_agency)
{
    size_t len = strlen(from_agency) + 1;
    for (size_t i = 0; i < ind->n_hops; i++)
        len += strlen(ind->hops[i]) + 1;
    char *out = malloc(len);
    if (!out)
        return NULL;
    out[0] = '\0';
    for (size_t i = 0; i < ind->n_hops; i++) {
        strcat(out, ind->hops[i]);
        strcat(out, ",");
    }
    strcat(out, from_agency);
    return out;
}

int store_received_verdict(store_t *self, int64_t pid, const Moux__Indicator *ind, int64_t *rid,
                           store_put_t *res)
{
    sqlite3_stmt *st = s_q(self, Q_FIND_ID);
    sqlite3_bind_text(st, 1, ind->id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        sqlite3_reset(st);
        *res = STORE_NEW;
        return rc == SQLITE_DONE ? 0 : -1;
    }
    *rid = sqlite3_column_int64(st, 0);
    int64_t holder = sqlite3_column_type(st, 1) == SQLITE_NULL ? 0 : sqlite3_column_int64(st, 1);
    uint64_t held = (uint64_t)sqlite3_column_int64(st, 2);
    int revoked = sqlite3_column_int(st, 3);
    sqlite3_reset(st);
    /* Only the partner we have an item from may send new versions of it:
     * nobody may overwrite what we published or got from someone else. */
    if (holder != pid)
        *res = STORE_CONFLICT;
    else if (ind->modified_ms <= held || revoked) /* revocation is final */
        *res = STORE_UNCHANGED;
    else
        *res = STORE_UPDATED;
    return 0;
}

int store_put_received(store_t *self, int64_t pid, const char *from_agency,
                       const Moux__Indicator *ind, uint64_t received_ms,
                       const unsigned char *mou_hash, int64_t *rid, store_put_t *res)
{
    char *hops = s_hops_with(ind, from_agency);
    if (!hops)
        return -1;
    sqlite3_stmt *st = s_q(self, Q_INSERT_IND_NEW);
    s_bind_indicator(st, ind, ind->origin[0] ? ind->origin : NULL, pid, hops, received_ms);
    if (mou_hash)
        sqlite3_bind_blob(st, 17, mou_hash, 32, SQLITE_STATIC);
    int rc = s_step_done(st);
    if (rc != 0 || sqlite3_changes(self->db) == 1) {
        free(hops);
        if (rc == 0) {
            *rid = sqlite3_last_insert_rowid(self->db);
            *res = STORE_NEW;
        }
        return rc;
    }
    /* The id is held already. */
    if (store_received_verdict(self, pid, ind, rid, res) != 0 || *res != STORE_UPDATED) {
        free(hops);
        return *res == STORE_NEW ? -1 : 0; /* held a moment ago: NEW here is an error */
    }
    st = s_q(self, Q_UPDATE_IND);
    s_bind_indicator(st, ind, ind->origin[0] ? ind->origin : NULL, pid, hops, received_ms);
    if (mou_hash)
        sqlite3_bind_blob(st, 17, mou_hash, 32, SQLITE_STATIC);
    rc = s_step_done(st);
    free(hops);
    *res = STORE_UPDATED;
    return rc;
}

/* The exact `modified` of a held version: the kept object's, or its ms. */
static uint64_t s_held_ns(const char *stix, uint64_t modified_ms)
{
    uint64_t ns = modified_ms * 1000000u;
    json_t *o = stix ? json_loads(stix, 0, NULL) : NULL;
    uint64_t exact;
    if (o && stix_time_parse(json_string_value(json_object_get(o, "modified")), &exact, NULL) == 0)
        ns = exact;
    json_decref(o);
    return ns;
}

/* 1 when the kept object and the new one say the same. */
static int s_same_object(const char *held, const char *stix)
{
    json_t *a = held ? json_loads(held, 0, NULL) : NULL, *b = json_loads(stix, 0, NULL);
    int same = a && b && json_equal(a, b);
    json_decref(a);
    json_decref(b);
    return same;
}

int store_put_stix(store_t *self, const char *agency, const Moux__Indicator *ind,
                   const char *stix, uint64_t modified_ns, int64_t *rid, store_stix_t *res)
{
    uint64_t now = now_ms();
    sqlite3_stmt *st = s_q(self, Q_FIND_STIX);
    sqlite3_bind_text(st, 1, ind->id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return -1;
    int exists = rc == SQLITE_ROW;
    if (exists) {
        *rid = sqlite3_column_int64(st, 0);
        int from_partner = sqlite3_column_type(st, 1) != SQLITE_NULL;
        uint64_t held_ms = (uint64_t)sqlite3_column_int64(st, 2);
        int revoked = sqlite3_column_int(st, 3);
        char *held = s_dup_col(st, 4);
        sqlite3_reset(st);
        store_stix_t verdict = STORE_STIX_UPDATED;
        if (from_partner)
            verdict = STORE_STIX_FROM_PARTNER; /* its versions come from that partner only */
        else if (revoked)
            verdict = STORE_STIX_REVOKED;      /* revocation is final */
        else {
            uint64_t held_ns = s_held_ns(held, held_ms);
            if (modified_ns < held_ns)
                verdict = STORE_STIX_OLDER;
            else if (modified_ns == held_ns)
                verdict = s_same_object(held, stix) ? STORE_STIX_UNCHANGED : STORE_STIX_SAME_MODIFIED;
        }
        free(held);
        if (verdict != STORE_STIX_UPDATED) {
            *res = verdict;
            return 0;
        }
    } else {
        sqlite3_reset(st);
    }
    st = s_q(self, exists ? Q_UPDATE_IND : Q_INSERT_IND);
    s_bind_indicator(st, ind, agency, 0, "", now);
    sqlite3_bind_text(st, 18, stix, -1, SQLITE_STATIC);
    if (s_step_done(st) != 0)
        return -1;
    if (!exists)
        *rid = sqlite3_last_insert_rowid(self->db);
    *res = exists ? STORE_STIX_UPDATED : STORE_STIX_NEW;
    return 0;
}

int store_stix_object_put(store_t *self, const char *id, const char *type, const char *modified,
                          const char *json)
{
    static const char *sql =
        "INSERT INTO stix_object(id, type, modified, json) VALUES(?1, ?2, ?3, ?4)"
        " ON CONFLICT(id) DO UPDATE SET type = excluded.type, modified = excluded.modified,"
        " json = excluded.json WHERE excluded.modified > stix_object.modified";
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(self->db, sql, -1, &st, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, type, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, modified, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, json, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
    sqlite3_finalize(st);
    return rc;
}

int store_stix_object_get(store_t *self, const char *id, char **json)
{
    sqlite3_stmt *st = NULL;
    *json = NULL;
    if (sqlite3_prepare_v2(self->db, "SELECT json FROM stix_object WHERE id = ?1", -1, &st,
                           NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *json = s_dup_col(st, 0);
    sqlite3_finalize(st);
    if (rc == SQLITE_ROW)
        return *json ? 1 : -1;
    return rc == SQLITE_DONE ? 0 : -1;
}

/* ---- outbox ---- */

/* The outbox's queueing sequence goes on above every entry held (a scan of
 * the outbox, once per open). */
static int s_qseq_load(store_t *self)
{
    if (self->qseq_loaded)
        return 0;
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(self->db, "SELECT coalesce(max(qseq), 0) FROM outbox", -1, &st,
                                NULL) == SQLITE_OK &&
                     sqlite3_step(st) == SQLITE_ROW
                 ? 0
                 : -1;
    if (rc == 0) {
        self->qseq = (uint64_t)sqlite3_column_int64(st, 0);
        self->qseq_loaded = 1;
    }
    sqlite3_finalize(st);
    return rc;
}

/* The outbox's hot statements take four integers. */
static int s_outbox_step(store_t *self, int q, int64_t pid, int64_t rid, uint64_t a, uint64_t b)
{
    sqlite3_stmt *st = s_q(self, q);
    sqlite3_bind_int64(st, 1, pid);
    sqlite3_bind_int64(st, 2, rid);
    sqlite3_bind_int64(st, 3, (sqlite3_int64)a);
    sqlite3_bind_int64(st, 4, (sqlite3_int64)b);
    return s_step_done(st);
}

int store_outbox_put(store_t *self, int64_t pid, int64_t rid, uint64_t modified_ms)
{
    if (s_qseq_load(self) != 0)
        return -1;
    return s_outbox_step(self, Q_OUTBOX_PUT, pid, rid, modified_ms, ++self->qseq);
}

int store_outbox_done_range(store_t *self, int64_t pid, int64_t first, int64_t last,
                            uint64_t qseq)
{
    return s_outbox_step(self, Q_OUTBOX_DONE_RANGE, pid, first, (uint64_t)last, qseq);
}

int store_outbox_done(store_t *self, int64_t pid, int64_t rid, uint64_t modified_ms,
                      uint64_t qseq)
{
    return s_outbox_step(self, Q_OUTBOX_DONE, pid, rid, modified_ms, qseq);
}

int store_outbox_drop(store_t *self, int64_t pid, int64_t rid)
{
    return s_exec_u64(self, "DELETE FROM outbox WHERE pid = ?1 AND rid = ?2", (uint64_t)pid,
                      (uint64_t)rid);
}

int store_outbox_count(store_t *self, int64_t pid, int64_t *n)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(self->db, "SELECT count(*) FROM outbox WHERE pid = ?1", -1, &st,
                           NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_int64(st, 1, pid);
    int rc = sqlite3_step(st) == SQLITE_ROW ? 0 : -1;
    if (rc == 0)
        *n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return rc;
}

static char *s_dup_col(sqlite3_stmt *st, int col)
{
    const char *t = s_col_text(st, col);
    return strdup(t ? t : "");
}

void store_indicator_free(Moux__Indicator *ind)
{
    free(ind); /* one block: s_row_to_indicator */
}

/* Comma-separated tokens of s (empty ones skipped). */
static size_t s_count_tokens(const char *s)
{
    size_t n = 0;
    for (const char *p = s; *p; p++)
        n += *p != ',' && (p == s || p[-1] == ',');
    return n;
}

/* Copies s into *at, cuts it at the commas and points out[] at the tokens. */
static size_t s_split_into(char **at, const char *s, char **out)
{
    size_t len = strlen(s), n = 0;
    char *copy = memcpy(*at, s, len + 1);
    *at += len + 1;
    for (char *p = copy; *p; p++) {
        if (*p == ',')
            *p = '\0';
        else if (p == copy || p[-1] == '\0')
            out[n++] = p;
    }
    return n;
}

/* Copies s (NULL: "") into *at and returns the copy. */
static char *s_copy_into(char **at, const char *s)
{
    size_t len = s ? strlen(s) : 0;
    char *copy = *at;
    memcpy(copy, s ? s : "", len);
    copy[len] = '\0';
    *at += len + 1;
    return copy;
}

/* A row of id, type, value, pattern, tlp, ..., origin, hops, labels (from
 * column 1) as an Indicator in one allocation: the struct, then its hop and
 * label pointers, then the strings. A batch fetches 512 of these, so one
 * malloc and one free each instead of one per string. */
static Moux__Indicator *s_row_to_indicator(sqlite3_stmt *st)
{
    const char *text[5], *hops = s_col_text(st, 13), *labels = s_col_text(st, 14);
    static const int cols[5] = {1, 2, 3, 4, 12}; /* id, type, value, pattern, origin */
    size_t bytes = 0;
    for (int i = 0; i < 5; i++) {
        text[i] = s_col_text(st, cols[i]);
        bytes += (text[i] ? strlen(text[i]) : 0) + 1;
    }
    hops = hops ? hops : "";
    labels = labels ? labels : "";
    size_t n_hops = s_count_tokens(hops), n_labels = s_count_tokens(labels);
    bytes += strlen(hops) + 1 + strlen(labels) + 1;
    Moux__Indicator *ind = malloc(sizeof *ind + (n_hops + n_labels) * sizeof(char *) + bytes);
    if (!ind)
        return NULL;
    moux__indicator__init(ind);
    char **ptrs = (char **)(ind + 1), *at = (char *)(ptrs + n_hops + n_labels);
    ind->id = s_copy_into(&at, text[0]);
    ind->type = s_copy_into(&at, text[1]);
    ind->value = s_copy_into(&at, text[2]);
    ind->pattern = s_copy_into(&at, text[3]);
    ind->origin = s_copy_into(&at, text[4]);
    ind->hops = n_hops ? ptrs : NULL;
    ind->n_hops = s_split_into(&at, hops, ptrs);
    ind->labels = n_labels ? ptrs + n_hops : NULL;
    ind->n_labels = s_split_into(&at, labels, ptrs + n_hops);
    ind->tlp = (Moux__Tlp)sqlite3_column_int(st, 5);
    ind->confidence = (uint32_t)sqlite3_column_int(st, 6);
    ind->created_ms = (uint64_t)sqlite3_column_int64(st, 7);
    ind->modified_ms = (uint64_t)sqlite3_column_int64(st, 8);
    ind->valid_from_ms = (uint64_t)sqlite3_column_int64(st, 9);
    ind->valid_until_ms = (uint64_t)sqlite3_column_int64(st, 10);
    ind->revoked = sqlite3_column_int(st, 11) != 0;
    return ind;
}

int store_outbox_fetch(store_t *self, int64_t pid, int64_t after, size_t max,
                       outbox_batch_t *out)
{
    return store_outbox_fetch_range(self, pid, after, INT64_MAX, max, out);
}

int store_outbox_last(store_t *self, int64_t pid, int64_t *rid)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(self->db, "SELECT coalesce(max(rid), 0) FROM outbox WHERE pid = ?1",
                           -1, &st, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_int64(st, 1, pid);
    int rc = sqlite3_step(st) == SQLITE_ROW ? 0 : -1;
    if (rc == 0)
        *rid = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return rc;
}

int store_outbox_fetch_range(store_t *self, int64_t pid, int64_t after, int64_t upto,
                             size_t max, outbox_batch_t *out)
{
    memset(out, 0, sizeof *out);
    out->items = calloc(max, sizeof *out->items);
    out->rids = calloc(max, sizeof *out->rids);
    if (!out->items || !out->rids) {
        outbox_batch_free(out);
        return -1;
    }
    if (s_qseq_load(self) != 0) {
        outbox_batch_free(out);
        return -1;
    }
    out->qseq = self->qseq;
    sqlite3_stmt *st = s_q(self, Q_OUTBOX_FETCH);
    sqlite3_bind_int64(st, 1, pid);
    sqlite3_bind_int64(st, 2, after);
    sqlite3_bind_int64(st, 3, (sqlite3_int64)max);
    sqlite3_bind_int64(st, 4, upto);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW && out->n < max) {
        Moux__Indicator *ind = s_row_to_indicator(st);
        if (!ind) {
            rc = SQLITE_NOMEM;
            break;
        }
        out->rids[out->n] = sqlite3_column_int64(st, 0);
        out->items[out->n++] = ind;
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
        outbox_batch_free(out);
        return -1;
    }
    return 0;
}

void outbox_batch_free(outbox_batch_t *b)
{
    for (size_t i = 0; i < b->n; i++)
        store_indicator_free(b->items[i]);
    free(b->items);
    free(b->rids);
    memset(b, 0, sizeof *b);
}

/* ---- received batches and receipts ---- */

int store_inbound_find(store_t *self, int64_t pid, const uint8_t msgid[16], uint8_t **frame,
                       size_t *len)
{
    sqlite3_stmt *st = s_q(self, Q_INBOUND_FIND);
    sqlite3_bind_int64(st, 1, pid);
    sqlite3_bind_blob(st, 2, msgid, 16, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) {
        sqlite3_reset(st);
        return 0;
    }
    if (rc != SQLITE_ROW) {
        sqlite3_reset(st);
        return -1;
    }
    int n = sqlite3_column_bytes(st, 0);
    *frame = malloc(n > 0 ? (size_t)n : 1);
    if (!*frame) {
        sqlite3_reset(st);
        return -1;
    }
    if (n > 0)
        memcpy(*frame, sqlite3_column_blob(st, 0), (size_t)n);
    *len = (size_t)n;
    sqlite3_reset(st);
    return 1;
}

int store_inbound_seq_used(store_t *self, int64_t pid, const uint8_t key_id[32], uint64_t seq)
{
    sqlite3_stmt *st = s_q(self, Q_INBOUND_SEQ);
    sqlite3_bind_int64(st, 1, pid);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)seq);
    sqlite3_bind_blob(st, 3, key_id, 32, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

int store_inbound_put(store_t *self, int64_t pid, const uint8_t key_id[32],
                      const uint8_t msgid[16], uint64_t seq, const ProtobufCBinaryData *header,
                      const uint8_t *payload, size_t payload_len, const uint8_t sig[64],
                      const uint8_t *receipt, size_t receipt_len)
{
    sqlite3_stmt *st = s_q(self, Q_INBOUND_PUT);
    sqlite3_bind_int64(st, 1, pid);
    sqlite3_bind_blob(st, 2, msgid, 16, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, (sqlite3_int64)seq);
    sqlite3_bind_int64(st, 4, (sqlite3_int64)now_ms());
    sqlite3_bind_blob(st, 5, header->data, (int)header->len, SQLITE_STATIC);
    sqlite3_bind_blob(st, 6, payload, (int)payload_len, SQLITE_STATIC);
    sqlite3_bind_blob(st, 7, sig, 64, SQLITE_STATIC);
    sqlite3_bind_blob(st, 8, receipt, (int)receipt_len, SQLITE_STATIC);
    sqlite3_bind_blob(st, 9, key_id, 32, SQLITE_STATIC);
    return s_step_done(st);
}

int store_receipt_put(store_t *self, int64_t pid, const Moux__ReceiptBody *body,
                      const ProtobufCBinaryData *raw_body, const ProtobufCBinaryData *sig,
                      int accepted, int duplicate, int rejected)
{
    static const char *sql =
        "INSERT OR IGNORE INTO receipt(pid, message_id, seq, received_ms, accepted, duplicate,"
        " rejected, body, signature) VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9)";
    sqlite3_stmt *st = store_stmt(self, sql);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, pid);
    sqlite3_bind_blob(st, 2, body->message_id.data, (int)body->message_id.len, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, (sqlite3_int64)body->sequence);
    sqlite3_bind_int64(st, 4, (sqlite3_int64)now_ms());
    sqlite3_bind_int(st, 5, accepted);
    sqlite3_bind_int(st, 6, duplicate);
    sqlite3_bind_int(st, 7, rejected);
    sqlite3_bind_blob(st, 8, raw_body->data, (int)raw_body->len, SQLITE_STATIC);
    sqlite3_bind_blob(st, 9, sig->data, (int)sig->len, SQLITE_STATIC);
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
    sqlite3_reset(st);
    return rc;
}

int store_event(store_t *self, const char *kind, const char *partner, const char *ind_id,
                const char *reason, const char *detail)
{
    sqlite3_stmt *st = s_q(self, Q_EVENT);
    sqlite3_bind_int64(st, 1, (sqlite3_int64)now_ms());
    sqlite3_bind_text(st, 2, kind, -1, SQLITE_STATIC);
    s_bind_text_or_null(st, 3, partner);
    s_bind_text_or_null(st, 4, ind_id);
    s_bind_text_or_null(st, 5, reason);
    s_bind_text_or_null(st, 6, detail);
    if (!self->audit_off && !sqlite3_get_autocommit(self->db)) /* in the caller's transaction */
        return s_step_done(st) || store_audit_append(self, kind, partner, ind_id, reason, detail,
                                                     NULL, NULL);
    if (self->audit_off)
        return s_step_done(st);
    /* Alone: the event and its audit entry commit together. */
    if (store_begin(self) != 0)
        return -1;
    if (s_step_done(st) != 0 ||
        store_audit_append(self, kind, partner, ind_id, reason, detail, NULL, NULL) != 0 ||
        store_commit(self) != 0) {
        store_rollback(self);
        return -1;
    }
    return 0;
}

/* ---- queries ---- */

int store_query(store_t *self, const store_filter_t *f,
                int (*fn)(const store_row_t *row, void *arg), void *arg)
{
    static const char *sql =
        "SELECT i.id, i.type, i.value, i.pattern, i.tlp, i.confidence, i.revoked,"
        " i.created_ms, i.modified_ms, i.valid_from_ms, i.valid_until_ms, i.received_ms,"
        " i.origin, p.agency, i.labels, i.stix FROM indicator i"
        " LEFT JOIN partner p ON p.pid = i.from_pid"
        " WHERE (?1 IS NULL OR i.type = ?1) AND (?2 IS NULL OR i.value = ?2)"
        " AND (?3 IS NULL OR (?3 = 'local' AND i.from_pid IS NULL) OR p.agency = ?3)"
        " AND i.modified_ms >= ?4 AND i.tlp <= ?5 AND (?6 IS NULL OR i.id = ?6)"
        " ORDER BY i.rid";
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(self->db, sql, -1, &st, NULL) != SQLITE_OK)
        return -1;
    s_bind_text_or_null(st, 1, f->type);
    s_bind_text_or_null(st, 2, f->value);
    s_bind_text_or_null(st, 3, f->from);
    sqlite3_bind_int64(st, 4, (sqlite3_int64)f->since_ms);
    sqlite3_bind_int(st, 5, f->has_max_tlp ? (int)f->max_tlp : 99);
    s_bind_text_or_null(st, 6, f->id);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        store_row_t r = {
            .id = s_col_text(st, 0), .type = s_col_text(st, 1), .value = s_col_text(st, 2),
            .pattern = s_col_text(st, 3), .tlp = (tlp_t)sqlite3_column_int(st, 4),
            .confidence = sqlite3_column_int(st, 5), .revoked = sqlite3_column_int(st, 6),
            .created_ms = (uint64_t)sqlite3_column_int64(st, 7),
            .modified_ms = (uint64_t)sqlite3_column_int64(st, 8),
            .valid_from_ms = (uint64_t)sqlite3_column_int64(st, 9),
            .valid_until_ms = (uint64_t)sqlite3_column_int64(st, 10),
            .received_ms = (uint64_t)sqlite3_column_int64(st, 11),
            .origin = s_col_text(st, 12), .from = s_col_text(st, 13),
            .labels = s_col_text(st, 14), .stix = s_col_text(st, 15),
        };
        if (fn(&r, arg) != 0) {
            rc = SQLITE_DONE;
            break;
        }
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

int store_withdraw_local(store_t *self, const char *id, const char *type, const char *value,
                         Moux__Indicator **ind, int64_t *rid)
{
    static const char *find =
        "SELECT rid, id, type, value, pattern, tlp, confidence, created_ms, modified_ms,"
        " valid_from_ms, valid_until_ms, revoked, origin, hops, labels FROM indicator"
        " WHERE from_pid IS NULL AND revoked = 0 AND"
        " ((?1 IS NOT NULL AND id = ?1) OR (?1 IS NULL AND type = ?2 AND value = ?3)) LIMIT 1";
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(self->db, find, -1, &st, NULL) != SQLITE_OK)
        return -1;
    s_bind_text_or_null(st, 1, id);
    s_bind_text_or_null(st, 2, type);
    s_bind_text_or_null(st, 3, value);
    int rc = sqlite3_step(st);
    Moux__Indicator *found = rc == SQLITE_ROW ? s_row_to_indicator(st) : NULL;
    int64_t r = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_finalize(st);
    if (rc == SQLITE_DONE)
        return 0;
    if (!found)
        return -1;
    uint64_t now = now_ms();
    found->modified_ms = now > found->modified_ms ? now : found->modified_ms + 1;
    found->revoked = 1;
    if (s_exec_u64(self, "UPDATE indicator SET revoked = 1, modified_ms = ?2 WHERE rid = ?1",
                   (uint64_t)r, found->modified_ms) != 0) {
        store_indicator_free(found);
        return -1;
    }
    *ind = found;
    *rid = r;
    return 1;
}
