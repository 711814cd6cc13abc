/* The node's SQLite store (WAL mode, one file DIR/store.db, schema versioned
 * with migrations): partners, indicators with provenance, the per-partner
 * outbox, received batches (kept as signed plaintext) with the receipts we
 * sent, receipts we received, and an event table of every refusal. */
#ifndef MOUX_STORE_H
#define MOUX_STORE_H

#include "cert.h"
#include "config.h"
#include "indicator.h"
#include "revocation.h"
#include "keyid.h"
#include "moux.pb-c.h"
#include "tlp.h"

#include <jansson.h>
#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

typedef struct store store_t;
struct merkle_source;
struct merkle_frontier;

#define STORE_RW 0
#define STORE_RO 1

/* Opens DIR/store.db; read-write mode creates and migrates it. Caller owns
 * the result (store_destroy). On failure err names the file and reason. */
store_t *store_open(const char *dir, int mode, char *err, size_t errlen);
void store_destroy(store_t **self_p);
const char *store_errmsg(store_t *self);
/* The connection, for the store's own modules (store_mou.c). */
sqlite3 *store_db(store_t *self);

/* Transactions nest: a begin inside a transaction is a savepoint, whose
 * commit keeps its work in the enclosing transaction and whose rollback
 * undoes only its own (the audit frontier included). The receiver stores
 * each batch in a savepoint of one transaction per group of batches. */
int store_begin(store_t *self);
/* A transaction whose commit does not wait for the disk (WAL, synchronous
 * NORMAL): a crash of the process loses nothing, a power failure may lose it
 * until the WAL is next synced: by a synced commit, or by the daemon within
 * STORE_UNSYNCED_MAX_MS (store_take_unsynced, store_sync_wal). Only for
 * records a partner gives again: the sender's receipts (RELIABILITY.md).
 * Inside a transaction, a savepoint of it. */
int store_begin_unsynced(store_t *self);
#define STORE_UNSYNCED_MAX_MS 1000
/* -1: nothing committed (roll back); also when an unsynced transaction did
 * commit but synchronous FULL could not be set again (rolling back then
 * retries it). */
int store_commit(store_t *self);
/* 1 if a commit has gone unsynced older_than_ms ago or more and no synced
 * commit followed: the caller then syncs the WAL (store_sync_wal), which
 * bounds what a power failure can take. */
int store_take_unsynced(store_t *self, uint64_t older_than_ms);
/* Syncs the WAL file: every commit so far is on disk. If it fails, the sync
 * stays owed and store_take_unsynced asks again older_than_ms later. */
int store_sync_wal(store_t *self);
void store_rollback(store_t *self);
/* Copies the whole WAL into the database and empties the WAL file (SQLite's
 * TRUNCATE checkpoint), so that no older page images stay in it: after a
 * purge, the copies of deleted values. Waits up to the busy timeout for
 * readers and the other writer; -1 if the WAL could not be emptied. */
int store_wal_truncate(store_t *self);
/* 1 while a transaction begun here is still open. 0 once SQLite has rolled
 * it back by itself (a full disk, an I/O error) or a savepoint could not be
 * undone alone: an enclosing level's work is then gone too. */
int store_in_transaction(store_t *self);
/* A statement prepared once per store and kept (for the store's own modules,
 * on paths taken per batch): reset, bindings cleared. Reset it again after
 * use instead of finalising it. NULL if it does not prepare. */
sqlite3_stmt *store_stmt(store_t *self, const char *sql);
/* The integer the first row of sql (a PRAGMA, say) starts with, or -1. */
int store_query_int(store_t *self, const char *sql);

/* ---- partners ---- */
typedef struct {
    int64_t pid;
    char agency[AGENCY_MAX + 1];
    char endpoint[ENDPOINT_MAX];
    unsigned char sign_pk[32], enc_pk[32], curve_pk[32]; /* of the current certificate */
    unsigned char root_pk[32];  /* the pinned agency root */
    char fingerprint[FP_STRLEN]; /* of the root */
    uint64_t cert_serial, cert_not_after_ms;
    uint64_t acked_serial;      /* the serial of our certificate the partner holds */
    uint64_t rev_number;        /* number of its latest revocation list we hold */
    uint64_t added_ms;
    uint64_t tx_seq_reserved;  /* sequence numbers below this may be in use */
    uint64_t rx_high_seq;      /* highest sequence received from the partner */
    uint64_t last_receipt_ms;
} partner_t;

/* Inserts or replaces (by agency) a partner: its identity and current keys
 * from its certificate (verified by the caller against p->root_pk). The certificate joins the partner's key history; keys
 * of other certificates retire at once (an operator re-added the partner).
 * The sequence state is kept unless the signing key changed (a new node
 * numbers its batches from 1 again). */
int store_partner_upsert(store_t *self, const partner_t *p, const uint8_t *cert, size_t len);
/* All partners ordered by agency; *out is owned by the caller (free). */
int store_partners(store_t *self, partner_t **out, size_t *n);
int store_partner_set_seq_reserved(store_t *self, int64_t pid, uint64_t upto);
int store_partner_set_rx_high(store_t *self, int64_t pid, uint64_t seq);
int store_partner_set_last_receipt(store_t *self, int64_t pid, uint64_t ms);
int store_partner_set_acked(store_t *self, int64_t pid, uint64_t serial);

/* ---- partner key history ---- */
typedef struct {
    uint64_t serial;
    unsigned char sign_key_id[KEYID_BYTES], sign_pk[32], enc_pk[32], curve_pk[32];
    uint64_t not_before_ms, not_after_ms;
    uint64_t retire_after_ms; /* 0: current */
    uint64_t revoked_ms;      /* 0: not revoked */
} partner_key_t;

/* Every key the partner has had, newest first; *out owned by the caller. */
int store_partner_keys(store_t *self, int64_t pid, partner_key_t **out, size_t *n);
/* A newer certificate (c, raw bytes) becomes the partner's current one; its
 * older keys retire overlap_ms from now. */
int store_partner_key_add(store_t *self, int64_t pid, const cert_t *c, const uint8_t *cert,
                          size_t len, uint64_t overlap_ms);
/* The partner's latest revocation list as received (*raw owned by the
 * caller; NULL and 0 when it has sent none). */
int store_partner_rev_list(store_t *self, int64_t pid, uint8_t **raw, size_t *len);
/* Keeps the partner's newer revocation list and marks the keys it covers. */
int store_partner_revocations(store_t *self, int64_t pid, const revlist_t *l,
                              const uint8_t *raw, size_t len);

/* ---- our own key history ---- */
int store_own_key_put(store_t *self, const cert_t *c, const uint8_t *cert, size_t len);
/* Records when the key set of this certificate serial and signing key was
 * retired, unless that is on record already. */
int store_own_key_retire(store_t *self, uint64_t serial, const unsigned char sign_pk[32],
                         uint64_t when_ms);
/* When our key set certified by `serial` with this signing key was retired;
 * 0 if it was not, or is not on record. */
int store_own_key_retired_ms(store_t *self, uint64_t serial, const unsigned char sign_pk[32],
                             uint64_t *when_ms);
/* The lowest serial that certified this signing key (renewals keep keys). */
int store_own_key_first_serial(store_t *self, const unsigned char sign_pk[32], uint64_t *serial);

/* ---- indicators ---- */
typedef enum { STORE_NEW, STORE_UPDATED, STORE_UNCHANGED, STORE_CONFLICT } store_put_t;

/* A locally published indicator. In: type, value, pattern, tlp, confidence,
 * valid_until_ms. If this node already publishes the same (type, value), it
 * is UNCHANGED when nothing differs, else a new version (same id, later
 * modified). Out: id, created/modified/valid_from, origin filled in (strings
 * point into the indicator or at static/self storage valid until the next
 * call), and the row id. */
int store_put_local(store_t *self, const char *agency, Moux__Indicator *ind, int64_t *rid,
                    store_put_t *res);
/* Withdraws an indicator this node published (by id, or by type and value):
 * a new version, revoked, which is final. Fills *ind (one block with its
 * strings, freed with store_indicator_free) and the row id.
 * 1 if withdrawn, 0 if there is no such active local indicator, -1 error. */
int store_withdraw_local(store_t *self, const char *id, const char *type, const char *value,
                         Moux__Indicator **ind, int64_t *rid);
void store_indicator_free(Moux__Indicator *ind);
/* An indicator received from partner pid under the MOU with hash mou_hash
 * (32 bytes; its retention applies). Later modified wins; an id that this
 * node holds from elsewhere is a CONFLICT and changes nothing. */
int store_put_received(store_t *self, int64_t pid, const char *from_agency,
                       const Moux__Indicator *ind, uint64_t received_ms,
                       const unsigned char *mou_hash, int64_t *rid, store_put_t *res);
/* What store_put_received would answer for ind from partner pid, changing
 * nothing: NEW (the id is not held), UPDATED, UNCHANGED or CONFLICT; *rid is
 * the held row's when the id is held. */
int store_received_verdict(store_t *self, int64_t pid, const Moux__Indicator *ind, int64_t *rid,
                           store_put_t *res);

/* An indicator imported from STIX (docs/STIX.md), keyed by its id: a later
 * `modified` (modified_ns, exact) replaces the held version, an older one
 * or the same one changes nothing; the same `modified` with other content
 * is reported and changes nothing; a revoked one is final; an id held from
 * a partner is not ours to version. stix: the object (JSON text), kept. In:
 * every field of ind but origin (this agency). */
typedef enum {
    STORE_STIX_NEW, STORE_STIX_UPDATED, STORE_STIX_UNCHANGED, STORE_STIX_OLDER,
    STORE_STIX_REVOKED, STORE_STIX_SAME_MODIFIED, STORE_STIX_FROM_PARTNER
} store_stix_t;
int store_put_stix(store_t *self, const char *agency, const Moux__Indicator *ind,
                   const char *stix, uint64_t modified_ns, int64_t *rid, store_stix_t *res);
/* Other STIX objects kept for export (Identity): by id, the later
 * `modified` (compared as text: STIX timestamps of equal precision sort). */
int store_stix_object_put(store_t *self, const char *id, const char *type, const char *modified,
                          const char *json);
/* 1 and *json (caller frees), 0 none, -1 error. */
int store_stix_object_get(store_t *self, const char *id, char **json);

/* ---- outbox ---- */
int store_outbox_put(store_t *self, int64_t pid, int64_t rid, uint64_t modified_ms);
/* The partner holds this version of the item: its entry leaves the outbox
 * unless it now holds a newer version, which must still go, or was queued
 * after qseq (the read's, outbox_batch_t: a row id a purge freed and a new
 * item took). */
int store_outbox_done(store_t *self, int64_t pid, int64_t rid, uint64_t modified_ms,
                      uint64_t qseq);
/* The same for a batch read whole from the outbox: the partner holds the
 * versions of every entry in [first, last] queued at or before qseq (the
 * batch's, outbox_batch_t). Entries queued again since stay. */
int store_outbox_done_range(store_t *self, int64_t pid, int64_t first, int64_t last,
                            uint64_t qseq);
#define STORE_HAS_DONE_RANGE 1 /* for tests/bench/compat.h, which builds older trees too */
/* The entry goes without being delivered (policy no longer allows it). */
int store_outbox_drop(store_t *self, int64_t pid, int64_t rid);
int store_outbox_count(store_t *self, int64_t pid, int64_t *n);

typedef struct {
    Moux__Indicator **items;
    int64_t *rids;
    size_t n;
    uint64_t qseq; /* every entry read was queued at or before it */
} outbox_batch_t;
/* Up to max entries for pid with row id > after, in row id order. The batch
 * is owned by the caller (outbox_batch_free). Each item is one allocation
 * holding its strings: re-point a field, never free one. */
int store_outbox_fetch(store_t *self, int64_t pid, int64_t after, size_t max,
                       outbox_batch_t *out);
void outbox_batch_free(outbox_batch_t *b);
/* The same for row ids in (after, upto]. */
int store_outbox_fetch_range(store_t *self, int64_t pid, int64_t after, int64_t upto,
                             size_t max, outbox_batch_t *out);
/* The highest row id queued for pid (0 when none). */
int store_outbox_last(store_t *self, int64_t pid, int64_t *rid);

/* ---- received batches and receipts ---- */
/* 1 and the stored receipt frame (*frame owned by caller, free) if this
 * message id was already received from pid; 0 if not; -1 on error. */
int store_inbound_find(store_t *self, int64_t pid, const uint8_t msgid[16], uint8_t **frame,
                       size_t *len);
/* 1 if pid's signing key key_id already used seq, 0 if not, -1 on error.
 * Sequence numbers are per sending key: a re-keyed partner starts again. */
int store_inbound_seq_used(store_t *self, int64_t pid, const uint8_t key_id[32], uint64_t seq);
int store_inbound_put(store_t *self, int64_t pid, const uint8_t key_id[32],
                      const uint8_t msgid[16], uint64_t seq, const ProtobufCBinaryData *header,
                      const uint8_t *payload, size_t payload_len, const uint8_t sig[64],
                      const uint8_t *receipt, size_t receipt_len);
int store_receipt_put(store_t *self, int64_t pid, const Moux__ReceiptBody *body,
                      const ProtobufCBinaryData *raw_body, const ProtobufCBinaryData *sig,
                      int accepted, int duplicate, int rejected);

/* ---- events (refusals and other decisions, with reasons) ---- */
int store_event(store_t *self, const char *kind, const char *partner, const char *ind_id,
                const char *reason, const char *detail);

/* ---- queries ---- */
typedef struct {
    const char *type, *value, *from; /* NULL = any; from "local" = ours */
    uint64_t since_ms;               /* modified at or after (0: any) */
    int has_max_tlp;                 /* only tlp <= max_tlp */
    tlp_t max_tlp;
    const char *id;                  /* NULL = any */
} store_filter_t;
typedef struct {
    const char *id, *type, *value, *pattern, *origin, *from;
    const char *labels; /* comma-joined, "" when none */
    const char *stix;   /* the object kept at STIX import, or NULL */
    tlp_t tlp;
    int confidence, revoked;
    uint64_t created_ms, modified_ms, valid_from_ms, valid_until_ms, received_ms;
} store_row_t;
/* Calls fn for each matching indicator (strings valid during the call). */
int store_query(store_t *self, const store_filter_t *f,
                int (*fn)(const store_row_t *row, void *arg), void *arg);

/* ---- MOUs (store_mou.c) ---- */
#define STORE_MOU_ID_MAX 128
#define STORE_MOU_REASON_MAX 200
typedef struct {
    int64_t mid;
    unsigned char hash[32];
    char id[STORE_MOU_ID_MAX + 1];
    char peer[AGENCY_MAX + 1];
    char state[16];              /* "active", "superseded", "terminated" */
    uint64_t activated_ms, ended_ms;
    char ended_by[AGENCY_MAX + 1]; /* the terminating party ("" when not terminated) */
    char end_reason[STORE_MOU_REASON_MAX + 1];
    char *text;                  /* the exact MOU bytes, NUL terminated (owned) */
    size_t text_len;
    char *sigs;                  /* both signature lines (owned) */
    uint8_t *notice;             /* the signed termination notice, if any (owned) */
    size_t notice_len;
} store_mou_t;
void store_mou_free(store_mou_t *m);
/* Makes an MOU the active one with peer: the one active before is
 * superseded. 1 if it was already active (nothing changes), 0 done, -1 on
 * error; a terminated MOU is never activated again (-1, why set). */
int store_mou_activate(store_t *self, const store_mou_t *m, const char **why);
/* The active MOU with peer: 1 and *out (store_mou_free), 0 none, -1 error. */
int store_mou_active(store_t *self, const char *peer, store_mou_t *out);
/* The MOU with this hash, in any state: 1, 0 unknown, -1 error. */
int store_mou_by_hash(store_t *self, const unsigned char hash[32], store_mou_t *out);
/* The latest MOU with peer that was terminated with a notice (to send it on). */
int store_mou_last_notice(store_t *self, const char *peer, store_mou_t *out);
/* Every MOU, newest first; *out owned by the caller (free each, then out). */
int store_mou_list(store_t *self, store_mou_t **out, size_t *n);
/* Ends the MOU with this hash: state terminated, by which party, why, when,
 * and its signed notice. 1 if it was already terminated, 0 done, -1 error. */
int store_mou_terminate(store_t *self, const unsigned char hash[32], const char *by,
                        const char *reason, uint64_t when_ms, const uint8_t *notice,
                        size_t notice_len);
/* Decision counts: n more with this outcome ("allowed" or a reason code)
 * in direction dir ("out", "in", "relay") under the MOU. */
int store_mou_count_add(store_t *self, const unsigned char hash[32], const char *dir,
                        const char *outcome, uint64_t n);
/* Calls fn for each count of the MOU. */
int store_mou_counts(store_t *self, const unsigned char hash[32],
                     int (*fn)(const char *dir, const char *outcome, uint64_t n, void *arg),
                     void *arg);
/* The same as {"out": {"allowed": n, REASON: n}, "in": {...}, "relay": {...}}. */
json_t *store_mou_counts_json(store_t *self, const unsigned char hash[32]);
/* Items in direction dir on UTC day (days since 1970-01-01). */
int store_mou_daily_get(store_t *self, const unsigned char hash[32], const char *dir,
                        uint64_t day, uint64_t *n);
int store_mou_daily_add(store_t *self, const unsigned char hash[32], const char *dir,
                        uint64_t day, uint64_t n);
/* Deletes the items received under the MOU before before_ms (and their
 * outbox entries), recording each in the purged table (never the value)
 * under mou_id, with the time of deletion. *count: how many. Runs inside
 * the caller's transaction. */
int store_purge_received(store_t *self, const unsigned char hash[32], const char *mou_id,
                         uint64_t before_ms, uint64_t *count);
/* 1 when an event of this kind, partner and detail is already recorded. */
int store_event_exists(store_t *self, const char *kind, const char *partner, const char *detail);

/* ---- the audit log (store_audit.c, docs/AUDIT.md) ---- */
/* Appends one entry: the canonical JSON of its fields (kind; partner,
 * subject, reason may be NULL; detail is text, or a JSON object in
 * detail_json) becomes RFC 6962 leaf number *index. Inside the caller's
 * transaction when there is one; store_event calls it for every event. */
int store_audit_append(store_t *self, const char *kind, const char *partner, const char *subject,
                       const char *reason, const char *detail, const json_t *detail_json,
                       uint64_t *index);
/* Entries in the log (the tree size). */
int store_audit_size(store_t *self, uint64_t *size);
/* The leaf hash and exact entry bytes of entry index (*entry owned by the
 * caller; may be NULL when not wanted). 1 found, 0 none, -1 error. */
int store_audit_entry(store_t *self, uint64_t index, uint8_t leaf[32], uint8_t **entry,
                      size_t *len);
/* A merkle_source_t reading leaves from the table (O(n) for roots). */
void store_audit_source(store_t *self, struct merkle_source *src);
/* The frontier of the whole log (kept in memory; loaded on first use and
 * brought up to date when another process appended). */
int store_audit_frontier(store_t *self, struct merkle_frontier *out);
/* Off: no entries are written (for measuring what the log costs). */
void store_set_audit(store_t *self, int on);
int store_audit_on(const store_t *self);
/* For store_audit.c: the cached "leaf of entry ?1" statement, reset; the
 * in-memory frontier and whether it is loaded. */
sqlite3_stmt *store_audit_leaf_stmt(store_t *self);
struct merkle_frontier *store_frontier(store_t *self, int **loaded);

/* Checkpoints (signed by this node), and partners' (witnessed by it). */
int store_checkpoint_put(store_t *self, uint64_t size, const uint8_t root[32], uint64_t ts_ms,
                         const uint8_t *signed_cp, size_t len);
/* The newest checkpoint (largest size <= max_size; UINT64_MAX: any): 1 and
 * *signed_cp (caller frees), 0 none, -1 error. */
int store_checkpoint_latest(store_t *self, uint64_t max_size, uint64_t *size, uint8_t root[32],
                            uint8_t **signed_cp, size_t *len);
/* The smallest checkpoint covering entry index (size > index). */
int store_checkpoint_covering(store_t *self, uint64_t index, uint64_t *size, uint8_t root[32],
                              uint8_t **signed_cp, size_t *len);
int store_witnessed_get(store_t *self, const char *partner, uint64_t *size, uint8_t root[32]);
int store_witnessed_put(store_t *self, const char *partner, uint64_t size, const uint8_t root[32],
                        const uint8_t *signed_cp, size_t len);
int store_countersig_put(store_t *self, uint64_t size, const char *partner, const uint8_t *sig,
                         size_t len);

#endif
