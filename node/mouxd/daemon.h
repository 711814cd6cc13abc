/* mouxd internals: the daemon object and its parts. One thread, one
 * zmq_poll loop: the partners' ROUTER, the ZAP handler, the control socket,
 * and one DEALER (plus its monitor) per partner. */
#ifndef MOUXD_DAEMON_H
#define MOUXD_DAEMON_H

#include "config.h"
#include "identity.h"
#include "mou.h"
#include "nodekeys.h"
#include "store.h"
#include "walckpt.h"

#include <stdint.h>

typedef struct link link_t;

/* ---- agreement.c: the MOU with one partner, as the link enforces it ---- */
#define TALLY_MAX 24
typedef struct {
    const char *dir, *outcome; /* static strings */
    uint64_t n;
} tally_t;

typedef struct {
    mou_t *mou;                  /* the active MOU with the partner; NULL: none */
    char ended[512];             /* when none: how the last one ended, for status */
    unsigned char peer_hash[MOU_HASH_BYTES];
    int peer_heard;              /* the partner has announced its MOU with us */
    int peer_has;                /* ... and holds one (peer_hash) */
    uint8_t *notice;             /* a termination notice to pass on (ours or its) */
    size_t notice_len;
    uint64_t day, sent_today;    /* outbound daily-limit accounting (UTC day) */
    int count_unread;            /* the store's count for the day could not be read */
    int expiry_noted;            /* the MOU's expiry is recorded */
    tally_t tally[TALLY_MAX];    /* decisions not yet written to the store */
    size_t n_tally;
} agreement_t;

typedef struct {
    config_t cfg;
    identity_t *id;           /* our certified identity */
    identity_t *prev;         /* the one before, during a rotation's overlap */
    uint64_t prev_until_ms;   /* end of that overlap */
    uint64_t prev_serial;     /* its certificate's serial */
    /* Its key set, DIR/retired/<serial>[.<n>], while the overlap is on
     * ("" after), even when it could not be loaded (prev NULL). */
    char prev_dir[PATH_MAX_MOUX + 80];
    identity_t *pending;      /* announced to partners, not yet installed */
    uint64_t pending_deadline_ms;
    nodekeys_t *keys;         /* id->keys */
    uint64_t keys_since_serial; /* first serial that certified id->keys */
    uint8_t *own_revs;        /* our agency's latest revocation list, if any */
    size_t own_revs_len;
    store_t *store;
    walckpt_t *walckpt; /* the store's WAL checkpoints, off the main thread */
    void *zctx;
    void *router;     /* CURVE server for all partners */
    void *zap;        /* ZAP handler (REP at inproc://zeromq.zap.01) */
    void *ctl;        /* control socket (REP at ipc://DIR/control.sock) */
    link_t **links;
    size_t n_links;
    int want_router_restart;  /* set by handlers, done between poll rounds */
    uint64_t reload_at_ms;    /* a reload that could not read the partners: again then */
    partner_t *unlinked;      /* partners whose link failed to open: retried */
    size_t n_unlinked;
    uint64_t relink_at_ms;
    int lock_fd;
    uint64_t started_ms;
    uint64_t purge_at_ms;     /* next retention purge (monotonic) */
    uint64_t checkpoint_at_ms; /* next audit checkpoint (monotonic) */
    uint64_t sync_warn_at_ms;  /* the next STORE-SYNC line may come then (monotonic) */
} daemon_t;

int daemon_init(daemon_t *d, const char *dir, char *err, size_t errlen);
int daemon_run(daemon_t *d);
void daemon_fini(daemon_t *d);
/* Re-reads partners from the store and rebuilds the links. */
int daemon_reload(daemon_t *d);
link_t *daemon_link_by_agency(daemon_t *d, const char *agency);

/* zmq_setsockopt for an int option; 0 on success. */
int zsock_set_int(void *sock, int option, int value);
/* The options every partner-facing socket carries: maximum message size,
 * ZMTP heartbeats (interval, timeout and TTL of three intervals), linger 0. */
int zsock_set_link_options(void *sock, const config_t *cfg);

/* ---- keyupdate.c: certificates, rotation, revocation ---- */
/* Loads our identity, a previous one still in its overlap, our revocation
 * list, and finishes a rotation a crash interrupted. */
int keys_start(daemon_t *d, char *err, size_t errlen);
void keys_stop(daemon_t *d);
/* Control "keys-reload": a new revocation list, or a rotation waiting in
 * DIR/next, is taken up and announced. */
int keys_reload(daemon_t *d, char *err, size_t errlen);
/* Installs a pending rotation once partners acknowledged it (or its
 * deadline passed); ends an overlap that is over. */
void keys_tick(daemon_t *d);
/* The certificate to announce now (the pending one during a rotation). */
const identity_t *keys_announced(const daemon_t *d);
/* A KeyUpdate from a partner (on our ROUTER); writes the ack to send. */
void keys_on_update(daemon_t *d, link_t *link, const Moux__KeyUpdate *ku, Moux__KeyUpdateAck *ack);
/* Closes and reopens the ROUTER: every partner connection is dropped and
 * comes back through ZAP (after a revocation, or with our new transport key). */
int daemon_router_restart(daemon_t *d);

/* Loads the active MOU with peer (and the last termination notice) from
 * the store; forgets what the partner announced. 0, or -1 on a store error. */
int agreement_load(agreement_t *a, daemon_t *d, const char *peer);
void agreement_fini(agreement_t *a);
/* The hash of the active MOU, or NULL. */
const unsigned char *agreement_hash(const agreement_t *a);
/* NULL when items may go to the partner now (an MOU active and in force,
 * and the partner announced the same one); else why not, for status. */
const char *agreement_blocked(const agreement_t *a, uint64_t now, char *buf, size_t cap);
/* What the partner announced (KeyUpdate, or its ack): hash empty for none. */
void agreement_heard(agreement_t *a, const ProtobufCBinaryData *hash, const char *peer);
/* How many more items may go today under the daily limit (UINT64_MAX: no
 * limit); agreement_sent counts n sent and records them in the store. */
uint64_t agreement_quota(agreement_t *a, daemon_t *d, uint64_t now);
void agreement_sent(agreement_t *a, daemon_t *d, uint64_t n, uint64_t now);
/* Counts one decision (dir "out", "in", "relay"; outcome "allowed" or a
 * reason code, both static strings); agreement_flush writes the counts in
 * the caller's transaction. */
void agreement_count(agreement_t *a, const char *dir, const char *outcome);
int agreement_flush(agreement_t *a, store_t *st);
/* A termination notice from the partner: checked against its pinned root
 * and, when valid, the MOU it names ends here too. NULL or why refused. */
const char *agreement_take_notice(daemon_t *d, link_t *link, const Moux__MouNotice *mn);

/* ---- link.c: one partner ---- */
link_t *link_new(daemon_t *d, const partner_t *p);
void link_destroy(link_t **self_p);
const partner_t *link_partner(const link_t *self);
agreement_t *link_agreement(link_t *self);
void *link_dealer(link_t *self);
void *link_monitor(link_t *self);
/* The batch key for the partner's current key and ours as it knows us. */
const unsigned char *link_rx_key(const link_t *self);
/* The identity this link speaks with: our current one once the partner has
 * acknowledged it, the previous one until then. */
const identity_t *link_own(const link_t *self);
/* The partner's key with this signing key id, or NULL. */
const partner_key_t *link_key_by_id(const link_t *self, const unsigned char id[KEYID_BYTES]);
/* NULL and the key if it may sign for the partner now; else the reason
 * (unknown-sender-key, revoked-key, retired-key, certificate-expired). */
const char *link_key_check(const link_t *self, const unsigned char id[KEYID_BYTES],
                           const partner_key_t **out);
/* 1 if a key of this partner with this CURVE key may connect now. */
int link_admits_curve(const link_t *self, const unsigned char curve_pk[32], uint64_t now);
/* How many of the partner's certificates are revoked. */
size_t link_revoked_count(const link_t *self);
/* Re-reads the partner's keys and revocations from the store. */
int link_refresh(link_t *self);
/* Set when the link must be rebuilt (new partner transport key, or our
 * identity for it changed); the daemon does it between poll rounds. */
int link_wants_rebuild(const link_t *self);
void link_set_rebuild(link_t *self);
void link_send_key_update(link_t *self);
int link_is_up(const link_t *self);
/* A frame from the partner reached our ROUTER: if our own link to it is
 * down, dial again now instead of after the back-off. */
void link_heard(link_t *self);
uint64_t link_last_receipt(const link_t *self);
uint64_t link_refused_in(const link_t *self); /* batches/frames we refused */
/* A refusal from this partner; too many in a short time throttle it. */
void link_count_refusal(link_t *self);
/* 1 (and counted) if the partner's frames are being dropped for abuse. */
int link_throttled(link_t *self);
uint64_t link_throttled_until(const link_t *self); /* monotonic ms; 0 never */
uint64_t link_dropped(const link_t *self);
double link_rate(const link_t *self);   /* items receipted per second, smoothed */
int link_in_catch_up(const link_t *self);
void link_set_rx_high(link_t *self, uint64_t seq);
const char *link_last_error(const link_t *self);
/* Why nothing is sent to the partner now (its MOU, the daily limit), or "". */
const char *link_blocked(const link_t *self);
void link_on_monitor(link_t *self);
void link_on_dealer(link_t *self);
/* Offers the partner our newest audit checkpoint (with a consistency proof
 * from the size it last witnessed) to witness and countersign. */
void link_offer_checkpoint(link_t *self);
uint64_t link_witnessed_size(const link_t *self);
/* Set when the partner signed a checkpoint inconsistent with an earlier one
 * ("held size ... root ...; offered size ... root ..."); "" otherwise. */
const char *link_checkpoint_alarm(const link_t *self);
void link_set_checkpoint_alarm(link_t *self, const char *detail);
/* Sends what the outbox holds, as far as the window allows. */
void link_pump(link_t *self);
/* Retransmission timers. */
void link_tick(link_t *self, uint64_t now);

/* ---- inbound.c: batches arriving on the ROUTER ---- */
void inbound_on_router(daemon_t *d);

/* ---- zap.c ---- */
int zap_start(daemon_t *d);
void zap_on_request(daemon_t *d);

/* ---- ctlserver.c ---- */
int ctl_start(daemon_t *d, char *err, size_t errlen);
void ctl_on_request(daemon_t *d);

/* ---- publishing (daemon.c) ---- */
typedef struct {
    Moux__Indicator ind;  /* type, value, pattern, tlp, confidence, valid_until_ms */
    const char *status;   /* out: "new", "updated", "unchanged", "ignored", "refused" */
    const char *reason;   /* out, when refused or ignored */
    char id[IND_ID_LEN + 1]; /* out (in, for a STIX item) */
    /* A STIX indicator (docs/STIX.md): every field of ind set, versioned by
     * id (store_put_stix); stix is the object kept, modified_ns its exact
     * `modified`; local_only: kept, never queued for partners. */
    const char *stix;
    uint64_t modified_ns;
    int local_only;
} publish_item_t;
/* Withdraws an indicator we published (by id, or type and value) and
 * queues the revocation for every partner allowed to have had it. 1 and its
 * id in id_out, 0 if there is no such indicator, -1 on a store failure. */
int daemon_withdraw(daemon_t *d, const char *id, const char *type, const char *value,
                    char id_out[IND_ID_LEN + 1]);
/* Stores and queues every item not already refused (reason set). */
int daemon_publish(daemon_t *d, publish_item_t *items, size_t n);
/* An item (row rid) received from the partner of link `from` goes on to
 * every other partner the MOUs allow (policy_relay, then the MOU with that
 * partner). update: it replaced an older version, which leaves the outbox
 * of partners it may no longer go to. Inside the caller's transaction. */
int daemon_relay(daemon_t *d, link_t *from, int64_t rid, const Moux__Indicator *ind, int update);
/* Signs a checkpoint of the audit log if it grew, and offers it to every
 * partner to witness. *size: the checkpointed size. */
int daemon_checkpoint(daemon_t *d, uint64_t *size);
/* Writes the decision counts of every link (inside the caller's
 * transaction), or forgets them after a rollback. */
int daemon_flush_counts(daemon_t *d);
void daemon_drop_counts(daemon_t *d);

#endif
