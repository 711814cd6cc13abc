/* One partner link: the CURVE DEALER that carries our batches to the
 * partner's ROUTER and brings its receipts back, the window of batches in
 * flight, and retransmission. Delivery is at-least-once: an unreceipted batch
 * is never resent byte for byte; its items stay in the outbox and go out
 * again in a new batch, which the receiver de-duplicates by indicator
 * version. */
#include "audit.h"
#include "checkpoint.h"
#include "daemon.h"
#include "merkle.h"
#include "envelope.h"
#include "log.h"
#include "pbbudget.h"
#include "pbpack.h"
#include "pbunpack.h"
#include "policy.h"
#include "reason.h"
#include "receipt.h"
#include "util.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#define SEQ_RESERVE 1024 /* sequence numbers reserved per store write */
#define INFLIGHT_CAP 256
#define SENT_RING 256    /* recently sent batches a receipt may answer */

typedef struct {
    unsigned char message_id[MSGID_BYTES];
    uint64_t seq, sent_ms;
    size_t items;
} s_inflight_t;

/* One item of a sent batch: its outbox row, its version, and a short keyed
 * hash of its id to match the receipt's result against. */
typedef struct {
    int64_t rid;
    uint64_t modified_ms, id_hash;
    const char *type; /* static (ind_type_name), for the audit entry */
    int tlp;
} s_sent_item_t;

/* A batch we sent: a receipt is applied only if it answers one of these,
 * with the hash of what we sent (when it accepts it) and one result per
 * item, in order. */
typedef struct {
    unsigned char message_id[MSGID_BYTES];
    unsigned char hash[BATCH_HASH_BYTES];
    uint64_t seq;
    s_sent_item_t *items;
    size_t n;
    int used;
    uint64_t qseq; /* the outbox read's (outbox_batch_t) */
    int whole;     /* the items are every entry read in their rid range */
} s_sent_t;

struct link {
    daemon_t *d;
    partner_t p;
    const identity_t *own;   /* which of our identities this partner knows */
    partner_key_t *pkeys;    /* the partner's key history, newest first */
    size_t n_pkeys;
    int rebuild;
    void *dealer, *monitor;  /* NULL while the partner's current key is revoked */
    unsigned char *tx_key, *rx_key; /* sodium_malloc */
    int up;
    int dialling;            /* a connect or CURVE handshake is under way */
    uint64_t dial_ms;        /* monotonic: when it began */
    int grouped;             /* link_on_dealer's receipt transaction is open */
    size_t group_receipts;   /* receipts applied in it, and their sequences */
    uint64_t group_seq_min, group_seq_max;
    int redial_logged;       /* LINK-REDIAL said once per outage */
    uint64_t redialled_ms;   /* monotonic: the last link_heard redial */
    uint64_t next_seq, seq_reserved;
    s_inflight_t inflight[INFLIGHT_CAP];
    size_t n_inflight;
    s_sent_t sent[SENT_RING];
    size_t sent_next;
    unsigned char id_hash_key[crypto_shorthash_KEYBYTES];
    int64_t cursor;          /* highest outbox row id in flight (the backlog's) */
    /* Catch-up: a backlog found when the link comes up is sent in order,
     * and batches of what is published meanwhile (rows above live_floor)
     * alternate with it, so new items do not wait for the whole backlog. */
    int64_t live_floor, live_cursor;
    int live_turn;
    /* Delivery rate, for status: items receipted, smoothed per second. */
    uint64_t delivered, delivered_at_sample, rate_sample_ms;
    double rate;
    /* Abuse: refusals in the current window; past a limit, the partner's
     * frames are dropped unread for a while. */
    uint64_t abuse_window_ms, abuse_count, throttled_until_ms, dropped;
    uint64_t backoff_ms, retry_at_ms;
    uint64_t head_since_ms;  /* monotonic: when the oldest in-flight batch became the oldest */
    uint64_t last_receipt_ms, refused_in;
    uint64_t rr_window_ms, rr_recorded, rr_unrecorded; /* receipt-refused events */
    char last_error[ENDPOINT_MAX + 64];
    agreement_t ag;          /* the MOU with the partner */
    char blocked[256];       /* why nothing is sent now ("" when sending) */
    int relay_unread;        /* a source's MOU could not be read (logged once) */
    uint64_t witnessed_size; /* the size of our log the partner last witnessed */
    char checkpoint_alarm[320]; /* the partner signed inconsistent checkpoints ("": no) */
    char checkpoint_refused[64]; /* why it last refused to witness ours ("": it did not) */
    int reoffered;           /* a proof-less offer was answered: offered again once */
};

const partner_t *link_partner(const link_t *self) { return &self->p; }
agreement_t *link_agreement(link_t *self) { return &self->ag; }
void *link_dealer(link_t *self) { return self->dealer; }
void *link_monitor(link_t *self) { return self->monitor; }
const unsigned char *link_rx_key(const link_t *self) { return self->rx_key; }
const identity_t *link_own(const link_t *self) { return self->own; }
int link_wants_rebuild(const link_t *self) { return self->rebuild; }
void link_set_rebuild(link_t *self) { self->rebuild = 1; }

const partner_key_t *link_key_by_id(const link_t *self, const unsigned char id[KEYID_BYTES])
{
    for (size_t i = 0; i < self->n_pkeys; i++)
        if (sodium_memcmp(self->pkeys[i].sign_key_id, id, KEYID_BYTES) == 0)
            return &self->pkeys[i];
    return NULL;
}

/* Why a partner key may not be used now, or NULL. */
static const char *s_key_unusable(const partner_key_t *k, uint64_t now)
{
    if (k->revoked_ms)
        return REASON_REVOKED_KEY;
    if (k->retire_after_ms && now > k->retire_after_ms)
        return REASON_RETIRED_KEY;
    if (now > k->not_after_ms)
        return REASON_CERT_EXPIRED;
    return NULL;
}

const char *link_key_check(const link_t *self, const unsigned char id[KEYID_BYTES],
                           const partner_key_t **out)
{
    const partner_key_t *k = link_key_by_id(self, id);
    if (!k)
        return REASON_UNKNOWN_SENDER_KEY;
    *out = k;
    return s_key_unusable(k, now_ms());
}

int link_admits_curve(const link_t *self, const unsigned char curve_pk[32], uint64_t now)
{
    /* An expired certificate still connects: its node must be able to hand
     * us its renewed one. Batches signed under it are refused all the same. */
    for (size_t i = 0; i < self->n_pkeys; i++) {
        const char *why = s_key_unusable(&self->pkeys[i], now);
        if (sodium_memcmp(self->pkeys[i].curve_pk, curve_pk, 32) == 0 &&
            (!why || strcmp(why, REASON_CERT_EXPIRED) == 0))
            return 1;
    }
    return 0;
}

size_t link_revoked_count(const link_t *self)
{
    size_t n = 0;
    for (size_t i = 0; i < self->n_pkeys; i++)
        n += self->pkeys[i].revoked_ms != 0;
    return n;
}

int link_refresh(link_t *self)
{
    partner_key_t *keys = NULL;
    size_t n = 0;
    if (store_partner_keys(self->d->store, self->p.pid, &keys, &n) != 0)
        return -1;
    free(self->pkeys);
    self->pkeys = keys;
    self->n_pkeys = n;
    return 0;
}

/* The partner's current key, as its newest certificate gives it. */
static const partner_key_t *s_current_key(const link_t *self)
{
    for (size_t i = 0; i < self->n_pkeys; i++)
        if (self->pkeys[i].serial == self->p.cert_serial)
            return &self->pkeys[i];
    return NULL;
}
int link_is_up(const link_t *self) { return self->up; }
uint64_t link_last_receipt(const link_t *self) { return self->last_receipt_ms; }
uint64_t link_refused_in(const link_t *self) { return self->refused_in; }
const char *link_last_error(const link_t *self) { return self->last_error; }

void link_heard(link_t *self)
{
    uint64_t now = mono_ms();
    /* Only while ours waits out the reconnect back-off: a connect or a
     * handshake under way is left to finish, unless it has hung for 3 s (a
     * SYN to a host that was down backs off for up to two minutes). */
    int busy = self->dialling && now - self->dial_ms < 3000;
    if (self->up || busy || !self->dealer || now - self->redialled_ms < 1000)
        return;
    /* The partner is back (its own link reached us): dial now, so its
     * backlog starts at once. At most once a second, whatever it sends. */
    self->redialled_ms = self->dial_ms = now;
    self->dialling = 1; /* until the monitor says how it went */
    if (!self->redial_logged)
        log_info("LINK-REDIAL", "partner %s reached us while our link was down: dialling %s now",
                 self->p.agency, self->p.endpoint);
    self->redial_logged = 1;
    zmq_disconnect(self->dealer, self->p.endpoint);
    if (zmq_connect(self->dealer, self->p.endpoint) != 0) {
        /* The endpoint is gone from the socket: build the link anew. */
        self->dialling = 0;
        self->rebuild = 1;
        log_warn("LINK-REDIAL", "partner %s: cannot dial %s: %s; the link is rebuilt",
                 self->p.agency, self->p.endpoint, zmq_strerror(zmq_errno()));
    }
}

void link_set_rx_high(link_t *self, uint64_t seq)
{
    if (seq > self->p.rx_high_seq)
        self->p.rx_high_seq = seq;
}

static int s_open_dealer(link_t *self)
{
    self->dealer = zmq_socket(self->d->zctx, ZMQ_DEALER);
    if (!self->dealer)
        return -1;
    const nodekeys_t *own = self->own->keys;
    if (zmq_setsockopt(self->dealer, ZMQ_CURVE_SERVERKEY, self->p.curve_pk, 32) ||
        zmq_setsockopt(self->dealer, ZMQ_CURVE_PUBLICKEY, own->curve_pk, 32) ||
        zmq_setsockopt(self->dealer, ZMQ_CURVE_SECRETKEY, own->curve_sk, 32) ||
        zsock_set_link_options(self->dealer, &self->d->cfg) ||
        /* Queue nothing for a partner we are not connected to: unsent items
         * stay in the outbox, where a crash cannot lose them. */
        zsock_set_int(self->dealer, ZMQ_IMMEDIATE, 1) ||
        /* A returning partner is found within a second: one TCP connect a
         * second to a partner that is down costs nothing worth saving. */
        zsock_set_int(self->dealer, ZMQ_RECONNECT_IVL, 200) ||
        zsock_set_int(self->dealer, ZMQ_RECONNECT_IVL_MAX, 1000))
        return -1;
    /* libzmq frees a closed socket's inproc name in the background, so a
     * rebuilt link must not reuse its predecessor's name. */
    static unsigned s_generation;
    char mon[64];
    snprintf(mon, sizeof mon, "inproc://monitor-%lld-%u", (long long)self->p.pid, ++s_generation);
    if (zmq_socket_monitor(self->dealer, mon,
                           ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_DISCONNECTED |
                               ZMQ_EVENT_CONNECT_DELAYED | ZMQ_EVENT_CONNECTED |
                               ZMQ_EVENT_CONNECT_RETRIED |
                               ZMQ_EVENT_HANDSHAKE_FAILED_AUTH |
                               ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                               ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL) != 0)
        return -1;
    self->monitor = zmq_socket(self->d->zctx, ZMQ_PAIR);
    if (!self->monitor || zmq_connect(self->monitor, mon) != 0)
        return -1;
    return zmq_connect(self->dealer, self->p.endpoint);
}

link_t *link_new(daemon_t *d, const partner_t *p)
{
    link_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->d = d;
    self->p = *p;
    crypto_shorthash_keygen(self->id_hash_key);
    self->tx_key = sodium_malloc(BATCH_KEY_BYTES);
    self->rx_key = sodium_malloc(BATCH_KEY_BYTES);
    self->last_receipt_ms = p->last_receipt_ms;
    self->next_seq = self->seq_reserved = p->tx_seq_reserved;
    if (self->next_seq == 0)
        self->next_seq = 1;
    self->backoff_ms = (uint64_t)d->cfg.retry_initial_ms;
    /* Until the partner has acknowledged our current certificate it only
     * knows the previous one: keep speaking with that during the overlap. */
    self->own = d->prev && p->acked_serial < d->keys_since_serial ? d->prev : d->id;
    if (link_refresh(self) != 0 || agreement_load(&self->ag, d, p->agency) != 0) {
        log_error("LINK-KEYS", "partner %s: cannot read its keys or MOU: %s", p->agency,
                  store_errmsg(d->store));
        link_destroy(&self);
        return NULL;
    }
    const nodekeys_t *own = self->own->keys;
    if (!self->tx_key || !self->rx_key ||
        envelope_derive_keys(own->enc_sk, own->enc_pk, p->enc_pk, self->tx_key,
                             self->rx_key) != 0) {
        log_error("LINK-KEYS", "partner %s: cannot derive batch keys (bad encryption key)",
                  p->agency);
        link_destroy(&self);
        return NULL;
    }
    const partner_key_t *cur = s_current_key(self);
    const char *why = cur ? s_key_unusable(cur, now_ms()) : REASON_UNKNOWN_SENDER_KEY;
    if (why && strcmp(why, REASON_CERT_EXPIRED) == 0)
        why = NULL; /* connect: it can renew its certificate over the link */
    if (why) { /* stay without a connection until a usable certificate comes */
        snprintf(self->last_error, sizeof self->last_error,
                 "partner's current key (serial %llu) is unusable: %s",
                 (unsigned long long)p->cert_serial, why);
        log_warn("LINK-KEY-UNUSABLE", "partner %s: %s", p->agency, self->last_error);
        return self;
    }
    if (s_open_dealer(self) != 0) {
        log_error("LINK-OPEN", "partner %s: cannot open link to %s: %s", p->agency,
                  p->endpoint, zmq_strerror(zmq_errno()));
        link_destroy(&self);
        return NULL;
    }
    log_info("LINK-CONNECTING", "partner %s at %s (our certificate serial %llu)", p->agency,
             p->endpoint, (unsigned long long)self->own->cert.serial);
    return self;
}

void link_destroy(link_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    link_t *self = *self_p;
    if (self->dealer) {
        zmq_socket_monitor(self->dealer, NULL, 0);
        zmq_close(self->dealer);
    }
    if (self->monitor)
        zmq_close(self->monitor);
    sodium_free(self->tx_key);
    sodium_free(self->rx_key);
    free(self->pkeys);
    agreement_fini(&self->ag);
    for (size_t i = 0; i < SENT_RING; i++)
        free(self->sent[i].items);
    free(self);
    *self_p = NULL;
}

/* Forget what is in flight: its items are still in the outbox and are sent
 * again from the start. */
static void s_rewind(link_t *self)
{
    self->n_inflight = 0;
    self->cursor = 0;
    self->live_cursor = self->live_floor;
}

/* At link-up: a backlog of more than a few batches is a catch-up. */
static void s_start_catch_up(link_t *self)
{
    int64_t depth = 0, last = 0;
    self->live_floor = 0;
    if (store_outbox_count(self->d->store, self->p.pid, &depth) == 0 &&
        depth > 4 * self->d->cfg.batch_max_items &&
        store_outbox_last(self->d->store, self->p.pid, &last) == 0) {
        self->live_floor = self->live_cursor = last;
        log_info("CATCH-UP", "partner %s: %lld items queued; new items are interleaved",
                 self->p.agency, (long long)depth);
    }
}

void link_on_monitor(link_t *self)
{
    for (int i = 0; i < 64; i++) {
        zmq_msg_t ev, addr;
        zmq_msg_init(&ev);
        if (zmq_msg_recv(&ev, self->monitor, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&ev);
            return;
        }
        uint16_t event = 0;
        if (zmq_msg_size(&ev) >= 2)
            memcpy(&event, zmq_msg_data(&ev), 2);
        zmq_msg_close(&ev);
        zmq_msg_init(&addr);
        zmq_msg_recv(&addr, self->monitor, ZMQ_DONTWAIT);
        zmq_msg_close(&addr);
        if (event == ZMQ_EVENT_CONNECT_DELAYED || event == ZMQ_EVENT_CONNECTED) {
            if (!self->dialling)
                self->dial_ms = mono_ms();
            self->dialling = 1;
            continue;
        }
        self->dialling = 0; /* succeeded, failed, or waiting out the back-off */
        if (event == ZMQ_EVENT_CONNECT_RETRIED)
            continue;
        if (event == ZMQ_EVENT_HANDSHAKE_SUCCEEDED) {
            self->up = 1;
            self->redial_logged = 0;
            self->last_error[0] = '\0';
            s_start_catch_up(self);
            s_rewind(self);
            self->retry_at_ms = 0;
            log_info("LINK-UP", "partner %s: link up (%s)", self->p.agency, self->p.endpoint);
            link_send_key_update(self); /* certificates first, then batches */
            self->reoffered = 0;
            link_offer_checkpoint(self);
            link_pump(self);
        } else if (event == ZMQ_EVENT_DISCONNECTED) {
            if (self->up)
                log_warn("LINK-DOWN", "partner %s: link down", self->p.agency);
            self->up = 0;
            s_rewind(self);
        } else {
            snprintf(self->last_error, sizeof self->last_error,
                     "CURVE handshake with %s refused", self->p.endpoint);
            log_warn("LINK-HANDSHAKE", "partner %s: %s", self->p.agency, self->last_error);
        }
    }
}

static int s_reserve_seq(link_t *self)
{
    if (self->next_seq < self->seq_reserved)
        return 0;
    uint64_t upto = self->next_seq + SEQ_RESERVE;
    if (store_partner_set_seq_reserved(self->d->store, self->p.pid, upto) != 0) {
        log_error("STORE-SEQ", "partner %s: cannot reserve sequence numbers: %s",
                  self->p.agency, store_errmsg(self->d->store));
        return -1;
    }
    self->seq_reserved = upto;
    return 0;
}

/* How many of the fetched items fit one frame of FRAME_MAX_BYTES. */
static size_t s_items_that_fit(const outbox_batch_t *ob)
{
    size_t budget = FRAME_MAX_BYTES - ENVELOPE_OVERHEAD_MAX, used = 0, n = 0;
    for (; n < ob->n; n++) {
        size_t item = moux__indicator__get_packed_size(ob->items[n]);
        used += item + 1 + 5; /* field tag and length prefix */
        if (used > budget)
            break;
    }
    return n;
}

/* Packs the first n items as a batch payload; caller frees. */
static uint8_t *s_pack_batch(outbox_batch_t *ob, size_t n, size_t *len)
{
    Moux__Batch batch = MOUX__BATCH__INIT;
    batch.n_items = n;
    batch.items = ob->items;
    *len = moux__batch__get_packed_size(&batch);
    uint8_t *buf = malloc(*len ? *len : 1);
    if (buf)
        moux__batch__pack(&batch, buf);
    return buf;
}

static uint64_t s_id_hash(const link_t *self, const char *id)
{
    unsigned char h[crypto_shorthash_BYTES];
    uint64_t v;
    crypto_shorthash(h, (const unsigned char *)id, strlen(id), self->id_hash_key);
    memcpy(&v, h, sizeof v);
    return v;
}

/* The MOU with the partner a relayed item came from, when that partner has
 * no link (daemon.c keeps a partner whose link cannot be built, and retries):
 * read from the store, once per agency and batch. */
typedef struct {
    char agency[AGENCY_MAX + 1];
    agreement_t ag;
} s_source_t;

/* An item we received (the last hop is the partner it came from) may go on
 * only as that partner's MOU with us allows. -1 if that MOU cannot be read
 * now: the item is neither sent nor dropped. */
static int s_relay_check(link_t *self, const Moux__Indicator *ind, s_source_t *src,
                         policy_verdict_t *v)
{
    const char *from = ind->hops[ind->n_hops - 1];
    link_t *fl = daemon_link_by_agency(self->d, from);
    if (!fl && strcmp(src->agency, from) != 0) {
        src->agency[0] = '\0';
        if (agreement_load(&src->ag, self->d, from) != 0)
            return -1;
        str_copy(src->agency, sizeof src->agency, from);
    }
    *v = policy_relay(fl ? fl->ag.mou : src->ag.mou, self->d->cfg.agency, from, self->p.agency,
                      ind);
    return 0;
}

/* The MOU is checked again when an item leaves, not only when it was
 * queued: it may have been replaced since. What may no longer go is dropped
 * from the outbox and recorded; the rest keeps its order at the front of
 * ob. Returns how many may go, or SIZE_MAX if an item cannot be judged now
 * (a store error): then nothing goes. The caller has checked that the MOU
 * is in force at now. */
static size_t s_filter_policy(link_t *self, outbox_batch_t *ob, uint64_t now)
{
    size_t keep = 0;
    s_source_t src = {0};
    for (size_t i = 0; i < ob->n; i++) {
        Moux__Indicator *ind = ob->items[i];
        int64_t rid = ob->rids[i];
        policy_verdict_t v = policy_outbound(self->ag.mou, self->d->cfg.agency, self->p.agency,
                                             ind, now);
        /* Received here: the relay rules again. */
        if (!v.reason && ind->n_hops && s_relay_check(self, ind, &src, &v) != 0) {
            if (!self->relay_unread) /* once, not at every pump */
                log_error("STORE-FAILED", "partner %s: cannot read the MOU with %s to judge "
                          "relayed items; they wait: %s", self->p.agency,
                          ind->hops[ind->n_hops - 1], store_errmsg(self->d->store));
            self->relay_unread = 1;
            keep = SIZE_MAX;
            break;
        }
        const char *why = v.reason;
        if (why) {
            log_info("OUTBOUND-REFUSED", "%s not sent to %s: %s (%s)", ind->id, self->p.agency,
                     why, v.rule);
            agreement_count(&self->ag, "out", why);
            if (store_outbox_drop(self->d->store, self->p.pid, rid) != 0 ||
                store_event(self->d->store, "outbound-refused", self->p.agency, ind->id, why,
                            v.rule) != 0)
                log_error("STORE-OUTBOX", "partner %s: %s", self->p.agency,
                          store_errmsg(self->d->store));
        }
        /* Stable partition: allowed items move forward, refused ones back. */
        for (size_t j = i; !why && j > keep; j--) {
            ob->items[j] = ob->items[j - 1];
            ob->rids[j] = ob->rids[j - 1];
        }
        if (!why) {
            ob->items[keep] = ind;
            ob->rids[keep++] = rid;
        }
    }
    agreement_fini(&src.ag);
    if (keep != SIZE_MAX)
        self->relay_unread = 0;
    if (keep < ob->n && agreement_flush(&self->ag, self->d->store) != 0)
        log_error("STORE-FAILED", "partner %s: %s", self->p.agency, store_errmsg(self->d->store));
    return keep;
}

/* An item leaves without origin and hops when the MOU says to anonymise,
 * and never with hops but no origin (the path would name the source). The
 * fetched items are single blocks (store.h): fields are re-pointed, not
 * freed. */
static void s_anonymise(link_t *self, outbox_batch_t *ob, size_t n)
{
    static char none[] = "";
    int all = policy_anonymise(self->ag.mou, self->d->cfg.agency, self->p.agency);
    for (size_t i = 0; i < n; i++) {
        Moux__Indicator *ind = ob->items[i];
        if (all)
            ind->origin = none;
        if (!ind->origin[0])
            ind->n_hops = 0;
    }
}

/* Remembers what a batch carried, for its receipt. */
static int s_remember(link_t *self, const envelope_meta_t *meta, const uint8_t *hash,
                      const outbox_batch_t *ob, size_t n, int whole)
{
    s_sent_t *s = &self->sent[self->sent_next++ % SENT_RING];
    free(s->items);
    s->items = calloc(n, sizeof *s->items);
    s->used = s->items != NULL;
    if (!s->items)
        return -1;
    memcpy(s->message_id, meta->message_id, MSGID_BYTES);
    memcpy(s->hash, hash, BATCH_HASH_BYTES);
    s->seq = meta->sequence;
    s->n = n;
    s->qseq = ob->qseq;
    s->whole = whole;
    for (size_t i = 0; i < n; i++) {
        ind_type_t t = IND_IPV4;
        ind_type_parse(ob->items[i]->type, &t); /* stored items have a known type */
        s->items[i] = (s_sent_item_t){ob->rids[i], ob->items[i]->modified_ms,
                                      s_id_hash(self, ob->items[i]->id), ind_type_name(t),
                                      (int)ob->items[i]->tlp};
    }
    return 0;
}

/* Seals and sends one batch from the outbox rows in (*cursor, upto] and
 * moves *cursor past it; 1 sent (or skipped refused rows), 0 nothing to
 * send or cannot send now, -1 error. */
static int s_send_one(link_t *self, int64_t *cursor, int64_t upto)
{
    daemon_t *d = self->d;
    outbox_batch_t ob;
    /* No MOU in force holds the items back, as link_pump does; it checked a
     * moment ago, and the MOU may have expired since. Judged per item, they
     * would all be dropped as mou-not-in-force. */
    uint64_t now = now_ms();
    if (!self->ag.mou || !mou_valid_at(self->ag.mou, now, NULL, 0))
        return 0;
    if (store_outbox_fetch_range(d->store, self->p.pid, *cursor, upto,
                                 (size_t)d->cfg.batch_max_items, &ob) != 0) {
        log_error("STORE-OUTBOX", "partner %s: %s", self->p.agency, store_errmsg(d->store));
        return -1;
    }
    if (ob.n == 0) {
        outbox_batch_free(&ob);
        return 0;
    }
    int64_t last_rid = ob.rids[ob.n - 1];
    size_t allowed = s_filter_policy(self, &ob, now), saved = ob.n;
    if (allowed == SIZE_MAX) { /* cannot judge now: tried again on the next pump */
        outbox_batch_free(&ob);
        return 0;
    }
    if (allowed == 0) { /* everything fetched was dropped: move past it */
        *cursor = last_rid;
        outbox_batch_free(&ob);
        return 1;
    }
    ob.n = allowed; /* what fits is counted among the allowed items only */
    int rc = -1;
    size_t plen = 0, flen = 0, n = s_items_that_fit(&ob);
    uint64_t quota = agreement_quota(&self->ag, d, now); /* an MOU in force: checked above */
    ob.n = saved;
    assert(n > 0); /* one item is far smaller than a frame (indicator.h limits) */
    if (quota == 0) { /* the daily limit is reached: the items wait for tomorrow */
        outbox_batch_free(&ob);
        return 0;
    }
    if (n > quota)
        n = (size_t)quota;
    uint8_t *payload = NULL, *frame = NULL;
    s_anonymise(self, &ob, n);
    if (!(payload = s_pack_batch(&ob, n, &plen)) || s_reserve_seq(self) != 0)
        goto out;
    envelope_meta_t meta = {
        .sender = d->cfg.agency, .recipient = self->p.agency, .mou_id = mou_id(self->ag.mou),
        .mou_hash = mou_hash_bytes(self->ag.mou),
        .sender_key_id = self->own->keys->sign_id, .recipient_key_id = NULL,
        .sequence = self->next_seq, .timestamp_ms = now_ms(), .item_count = (uint32_t)n,
    };
    unsigned char rkid[KEYID_BYTES];
    keyid_of(self->p.enc_pk, 32, rkid);
    meta.recipient_key_id = rkid;
    uint8_t hash[BATCH_HASH_BYTES];
    if (envelope_seal(&meta, payload, plen, self->own->keys->sign_sk, self->tx_key, &frame, &flen,
                      hash) != 0)
        goto out;
    if (zmq_send(self->dealer, frame, flen, ZMQ_DONTWAIT) < 0) {
        rc = errno == EAGAIN ? 0 : -1; /* not connected or queue full: later */
        goto out;
    }
    s_inflight_t *f = &self->inflight[self->n_inflight++];
    memcpy(f->message_id, meta.message_id, MSGID_BYTES);
    f->seq = self->next_seq++;
    f->sent_ms = mono_ms();
    f->items = n;
    agreement_sent(&self->ag, d, n, now_ms());
    /* With no entry dropped, the items sent are every entry read in
     * [rids[0], rids[n - 1]]: their receipt clears that range at once. */
    if (s_remember(self, &meta, hash, &ob, n, allowed == saved) != 0)
        log_warn("BATCH-UNTRACKED", "partner %s: out of memory; its receipt will be ignored and "
                 "the items resent", self->p.agency);
    /* Past every sent item, and past dropped ones if all allowed ones went. */
    *cursor = n == allowed ? last_rid : ob.rids[n - 1];
    log_debug("BATCH-SENT", "partner %s: seq %llu, %zu items, %zu bytes", self->p.agency,
              (unsigned long long)f->seq, n, flen);
    rc = 1;
out:
    free(payload);
    free(frame);
    outbox_batch_free(&ob);
    return rc;
}

/* The next batch: during a catch-up, backlog and live items take turns
 * (either one alone when the other has nothing); the catch-up ends when
 * the backlog is sent. */
static int s_send_next(link_t *self)
{
    if (!self->live_floor)
        return s_send_one(self, &self->cursor, INT64_MAX);
    self->live_turn = !self->live_turn;
    int rc = self->live_turn ? s_send_one(self, &self->live_cursor, INT64_MAX) : 0;
    if (rc == 0)
        rc = s_send_one(self, &self->cursor, self->live_floor);
    if (rc == 0 && !self->live_turn)
        rc = s_send_one(self, &self->live_cursor, INT64_MAX);
    if (rc == 0 && self->cursor >= self->live_floor) {
        log_info("CATCH-UP-DONE", "partner %s: backlog sent", self->p.agency);
        self->cursor = self->live_cursor > self->cursor ? self->live_cursor : self->cursor;
        self->live_floor = self->live_cursor = 0;
    }
    return rc;
}

void link_pump(link_t *self)
{
    size_t window = (size_t)self->d->cfg.max_inflight_batches;
    if (window > INFLIGHT_CAP)
        window = INFLIGHT_CAP;
    if (!self->up || !self->dealer || mono_ms() < self->retry_at_ms)
        return;
    const char *why = NULL;
    if (cert_check_time(&self->own->cert, now_ms(), &why) != 0) {
        /* Partners would refuse it: say so instead of sending. */
        if (!strstr(self->last_error, why)) {
            snprintf(self->last_error, sizeof self->last_error,
                     "not sending: our certificate (serial %llu): %s; renew it with moux keys "
                     "certify", (unsigned long long)self->own->cert.serial, why);
            log_error("CERT-INVALID", "%s", self->last_error);
        }
        return;
    }
    const char *blocked = agreement_blocked(&self->ag, now_ms(), self->blocked,
                                            sizeof self->blocked);
    if (!blocked && agreement_quota(&self->ag, self->d, now_ms()) == 0)
        blocked = snprintf(self->blocked, sizeof self->blocked, "%s",
                           self->ag.count_unread
                               ? "daily-limit: today's count of items sent cannot be read (store "
                                 "error, see the log); sending resumes when it can"
                               : "daily-limit: the MOU's daily limit is reached; sending resumes "
                                 "at 00:00Z") > 0 ? self->blocked : NULL;
    if (!blocked)
        self->blocked[0] = '\0';
    if (blocked)
        return;
    while (self->n_inflight < window && s_send_next(self) == 1)
        ;
}

const char *link_blocked(const link_t *self) { return self->blocked; }

/* Doubles the retransmission delay, up to retry_max_ms; a good receipt
 * resets it. */
static void s_back_off(link_t *self)
{
    self->backoff_ms *= 2;
    if (self->backoff_ms > (uint64_t)self->d->cfg.retry_max_ms)
        self->backoff_ms = (uint64_t)self->d->cfg.retry_max_ms;
}

double link_rate(const link_t *self) { return self->rate; }
int link_in_catch_up(const link_t *self) { return self->live_floor != 0; }
uint64_t link_throttled_until(const link_t *self) { return self->throttled_until_ms; }
uint64_t link_dropped(const link_t *self) { return self->dropped; }

/* Smoothed items per second, sampled once a second. */
static void s_sample_rate(link_t *self, uint64_t now)
{
    if (!self->rate_sample_ms) {
        self->rate_sample_ms = now;
        self->delivered_at_sample = self->delivered;
        return;
    }
    uint64_t dt = now - self->rate_sample_ms;
    if (dt < 1000)
        return;
    double inst = (double)(self->delivered - self->delivered_at_sample) * 1000.0 / (double)dt;
    self->rate = 0.5 * self->rate + 0.5 * inst;
    self->rate_sample_ms = now;
    self->delivered_at_sample = self->delivered;
}

#define ABUSE_WINDOW_MS 10000
#define ABUSE_LIMIT 50
#define ABUSE_PENALTY_MS 30000

void link_count_refusal(link_t *self)
{
    uint64_t now = mono_ms();
    self->refused_in++;
    if (now - self->abuse_window_ms > ABUSE_WINDOW_MS) {
        self->abuse_window_ms = now;
        self->abuse_count = 0;
    }
    if (++self->abuse_count > ABUSE_LIMIT && now >= self->throttled_until_ms) {
        self->throttled_until_ms = now + ABUSE_PENALTY_MS;
        log_warn("PARTNER-THROTTLED", "partner %s: %llu refusals within %d s; its frames are "
                 "dropped unread for %d s", self->p.agency, (unsigned long long)self->abuse_count,
                 ABUSE_WINDOW_MS / 1000, ABUSE_PENALTY_MS / 1000);
        store_event(self->d->store, "partner-throttled", self->p.agency, NULL, "abuse", NULL);
    }
}

int link_throttled(link_t *self)
{
    if (mono_ms() >= self->throttled_until_ms)
        return 0;
    self->dropped++;
    return 1;
}

void link_tick(link_t *self, uint64_t now)
{
    s_sample_rate(self, now);
    if (self->n_inflight == 0)
        return;
    /* A batch's wait is counted from when it became the oldest: with many
     * in flight, the last waits behind all the others at the receiver,
     * which answers them in order, and must not time out for that. */
    uint64_t oldest = self->inflight[0].sent_ms;
    if (self->head_since_ms > oldest)
        oldest = self->head_since_ms;
    if (now - oldest < self->backoff_ms)
        return;
    /* Input already waiting may be the receipt, unread only because this
     * round ran long (a slow disk): read it first, within twice the delay. */
    int events = 0;
    size_t size = sizeof events;
    if (now - oldest < 2 * self->backoff_ms && self->dealer &&
        zmq_getsockopt(self->dealer, ZMQ_EVENTS, &events, &size) == 0 && (events & ZMQ_POLLIN))
        return;
    log_warn("BATCH-TIMEOUT", "partner %s: no receipt for %zu batch(es) after %llu ms; resending",
             self->p.agency, self->n_inflight, (unsigned long long)self->backoff_ms);
    s_rewind(self);
    s_back_off(self);
    link_pump(self);
}

static void s_forget_inflight(link_t *self, const uint8_t *msgid)
{
    for (size_t i = 0; i < self->n_inflight; i++)
        if (memcmp(self->inflight[i].message_id, msgid, MSGID_BYTES) == 0) {
            memmove(&self->inflight[i], &self->inflight[i + 1],
                    (self->n_inflight - i - 1) * sizeof self->inflight[0]);
            self->n_inflight--;
            if (i == 0) /* the next one is the oldest from now */
                self->head_since_ms = mono_ms();
            return;
        }
}

/* The audit entry of a receipted batch: what the partner now holds, by type
 * and TLP, and where its log records the receipt. */
static int s_audit_share(link_t *self, const Moux__ReceiptBody *b, json_t *shared, int acc,
                         int dup, int rej)
{
    char msgid[2 * MSGID_BYTES + 1];
    hex_encode(b->message_id.data, MSGID_BYTES, msgid);
    json_t *d = json_pack("{s:I, s:O, s:i, s:i, s:i, s:I}", "sequence", (json_int_t)b->sequence,
                          "items", shared, "accepted", acc, "duplicate", dup, "refused", rej,
                          "partner_entry", (json_int_t)b->audit_entry);
    if (d && self->ag.mou)
        json_object_set_new(d, "mou", json_string(mou_id(self->ag.mou)));
    int rc = d ? store_audit_append(self->d->store, "share", self->p.agency, msgid, NULL, NULL,
                                    d, NULL) : -1;
    json_decref(d);
    return rc;
}

/* Receipts stored (RECEIPTS-STORED, debug: the benchmark's latency comes
 * from it), said once the transaction holding them has committed (unsynced:
 * store_begin_unsynced). */
static void s_receipts_said(link_t *self)
{
    if (self->group_receipts)
        log_debug("RECEIPTS-STORED", "partner %s: %zu receipt(s) committed, seq %llu..%llu",
                  self->p.agency, self->group_receipts,
                  (unsigned long long)self->group_seq_min,
                  (unsigned long long)self->group_seq_max);
    self->group_receipts = 0;
}

/* A receipt just applied, for our batch seq: counted into the open group,
 * or, alone (no group: it has committed), said at once. */
static void s_receipt_counted(link_t *self, uint64_t seq)
{
    int first = self->group_receipts++ == 0;
    self->group_seq_min = first || seq < self->group_seq_min ? seq : self->group_seq_min;
    self->group_seq_max = first || seq > self->group_seq_max ? seq : self->group_seq_max;
    if (!self->grouped)
        s_receipts_said(self);
}

/* Applies a verified receipt: delivered items leave the outbox, the receipt
 * is kept as proof, all in one transaction. */
static int s_apply_receipt(link_t *self, const Moux__ReceiptBody *b,
                           const Moux__SignedReceipt *sr, const s_sent_t *sent)
{
    store_t *st = self->d->store;
    int acc = 0, dup = 0, rej = 0;
    json_t *shared = json_object();
    if (!shared || store_begin(st) != 0) {
        json_decref(shared);
        return -1;
    }
    for (size_t i = 0; i < b->n_results; i++) {
        const Moux__ItemResult *r = b->results[i];
        if (r->status == MOUX__ITEM_STATUS__ITEM_REJECTED) {
            char reason[64];
            str_sanitize(reason, sizeof reason, r->reason); /* partner text */
            rej++;
            log_warn("ITEM-REFUSED-BY-PARTNER", "partner %s refused %s: %s", self->p.agency,
                     r->id, reason);
            if (store_event(st, "refused-by-partner", self->p.agency, r->id, reason, NULL))
                goto fail;
        } else {
            r->status == MOUX__ITEM_STATUS__ITEM_ACCEPTED ? acc++ : dup++;
            audit_count_item(shared, sent->items[i].type, sent->items[i].tlp);
        }
        if (!sent->whole &&
            store_outbox_done(st, self->p.pid, sent->items[i].rid, r->modified_ms,
                              sent->qseq) != 0)
            goto fail;
    }
    if (sent->whole && store_outbox_done_range(st, self->p.pid, sent->items[0].rid,
                                               sent->items[sent->n - 1].rid, sent->qseq) != 0)
        goto fail;
    if (s_audit_share(self, b, shared, acc, dup, rej) != 0 ||
        store_receipt_put(st, self->p.pid, b, &sr->body, &sr->signature, acc, dup, rej) != 0 ||
        store_partner_set_last_receipt(st, self->p.pid, now_ms()) != 0 || store_commit(st) != 0)
        goto fail;
    self->last_receipt_ms = now_ms();
    self->delivered += (uint64_t)(acc + dup + rej);
    log_debug("RECEIPT", "partner %s: seq %llu: %d accepted, %d duplicate, %d refused",
              self->p.agency, (unsigned long long)b->sequence, acc, dup, rej);
    s_receipt_counted(self, sent->seq);
    json_decref(shared);
    return 0;
fail:
    json_decref(shared);
    log_error("STORE-RECEIPT", "partner %s: cannot record receipt: %s", self->p.agency,
              store_errmsg(st));
    store_rollback(st);
    return -1;
}

/* The sent batch a receipt answers, or NULL. */
static s_sent_t *s_sent_find(link_t *self, const Moux__ReceiptBody *b)
{
    for (size_t i = 0; i < SENT_RING; i++)
        if (self->sent[i].used &&
            memcmp(self->sent[i].message_id, b->message_id.data, MSGID_BYTES) == 0)
            return &self->sent[i];
    return NULL;
}

/* An OK receipt answers each item we sent, in order, with its version. */
static const char *s_results_mismatch(const link_t *self, const Moux__ReceiptBody *b,
                                      const s_sent_t *s)
{
    if (b->n_results != s->n)
        return "receipt does not answer every item of the batch";
    for (size_t i = 0; i < s->n; i++) {
        const Moux__ItemResult *r = b->results[i];
        if (r->modified_ms != s->items[i].modified_ms ||
            s_id_hash(self, r->id) != s->items[i].id_hash ||
            (unsigned)r->status > MOUX__ITEM_STATUS__ITEM_REJECTED)
            return "receipt results do not match the items of the batch";
    }
    return NULL;
}

/* A receipt must name us and them, and answer a batch we sent: when it
 * accepts it, with the hash of what we sent and one result per item. (Its
 * signature was checked with the key it names.) */
static const char *s_receipt_mismatch(link_t *self, const Moux__ReceiptBody *b, s_sent_t **out)
{
    const char *why = NULL;
    if (strcmp(b->sender, self->p.agency) != 0 || strcmp(b->recipient, self->d->cfg.agency) != 0)
        return "receipt names the wrong agencies";
    s_sent_t *s = s_sent_find(self, b);
    if (!s)
        return "receipt for no batch we sent recently (replayed, or from before a restart)";
    if (b->sequence != s->seq)
        return "receipt names another sequence than the batch we sent";
    if (b->status == MOUX__BATCH_STATUS__BATCH_OK &&
        (b->batch_hash.len != BATCH_HASH_BYTES ||
         sodium_memcmp(b->batch_hash.data, s->hash, BATCH_HASH_BYTES) != 0))
        return "receipt hash is not the hash of the batch we sent";
    if (b->status == MOUX__BATCH_STATUS__BATCH_OK && (why = s_results_mismatch(self, b, s)))
        return why;
    s->used = 0; /* answered: the same receipt again is a replay */
    *out = s;
    return NULL;
}

#define RR_WINDOW_MS 10000
#define RR_EVENTS_MAX 20

static void s_receipts_commit(link_t *self);

/* A refused receipt is logged and counted, and recorded as an event (an
 * audit entry): at most RR_EVENTS_MAX in RR_WINDOW_MS per partner, so that
 * a partner sending junk cannot fill the store; the next recorded one says
 * how many went unrecorded. */
static void s_receipt_refused(link_t *self, const char *why)
{
    uint64_t now = mono_ms();
    log_warn("RECEIPT-REFUSED", "partner %s: %s", self->p.agency, why);
    self->refused_in++;
    if (now - self->rr_window_ms > RR_WINDOW_MS) {
        self->rr_window_ms = now;
        self->rr_recorded = 0;
    }
    if (self->rr_recorded >= RR_EVENTS_MAX) {
        self->rr_unrecorded++;
        return;
    }
    char detail[80] = "";
    if (self->rr_unrecorded)
        snprintf(detail, sizeof detail, "%llu refused receipts before this one not recorded",
                 (unsigned long long)self->rr_unrecorded);
    self->rr_recorded++;
    self->rr_unrecorded = 0;
    s_receipts_commit(self); /* the event is ours alone to keep: synced, outside the group */
    if (store_event(self->d->store, "receipt-refused", self->p.agency, NULL, why,
                    detail[0] ? detail : NULL) != 0)
        log_error("STORE-FAILED", "partner %s: %s", self->p.agency,
                  store_errmsg(self->d->store));
}

/* The partner key a receipt's body claims signed it, if usable. */
static const char *s_receipt_key(link_t *self, const Moux__ReceiptBody *b,
                                 const unsigned char **pk)
{
    const partner_key_t *k = NULL;
    const char *why = b->signer_key_id.len == KEYID_BYTES
        ? link_key_check(self, b->signer_key_id.data, &k) : "malformed receipt body";
    if (!why)
        *pk = k->sign_pk;
    return why;
}

/* The partner's answer to our KeyUpdate. */
static void s_on_key_ack(link_t *self, const Moux__KeyUpdateAck *ack)
{
    agreement_heard(&self->ag, &ack->mou_hash, self->p.agency);
    if (ack->refused[0]) {
        char reason[64];
        str_sanitize(reason, sizeof reason, ack->refused); /* partner text */
        snprintf(self->last_error, sizeof self->last_error,
                 "partner refused our certificate or revocation list: %s", reason);
        log_warn("KEYS-REFUSED-BY-PARTNER", "partner %s: %s", self->p.agency, reason);
    } /* the serial it names is still the one it holds (our list alone may be refused) */
    if (ack->serial <= self->p.acked_serial)
        return;
    self->p.acked_serial = ack->serial;
    if (store_partner_set_acked(self->d->store, self->p.pid, ack->serial) != 0)
        log_error("STORE-FAILED", "partner %s: %s", self->p.agency, store_errmsg(self->d->store));
    log_info("KEYS-ACKED", "partner %s holds our certificate serial %llu", self->p.agency,
             (unsigned long long)ack->serial);
    /* It knows our newer identity now: speak with it. */
    if (self->own != self->d->id && ack->serial >= self->d->keys_since_serial)
        self->rebuild = 1;
}

uint64_t link_witnessed_size(const link_t *self) { return self->witnessed_size; }
const char *link_checkpoint_alarm(const link_t *self) { return self->checkpoint_alarm; }
void link_set_checkpoint_alarm(link_t *self, const char *detail)
{
    str_copy(self->checkpoint_alarm, sizeof self->checkpoint_alarm, detail);
}

void link_offer_checkpoint(link_t *self)
{
    store_t *st = self->d->store;
    uint64_t size = 0, from = self->witnessed_size;
    uint8_t root[32], *raw = NULL, (*proof)[MERKLE_HASH_BYTES] = NULL;
    size_t len = 0, n = 0;
    if (!self->up || !self->dealer || !store_audit_on(st) ||
        store_checkpoint_latest(st, UINT64_MAX, &size, root, &raw, &len) != 1)
        goto out;
    Moux__SignedCheckpoint *sc = moux__signed_checkpoint__unpack(NULL, len, raw);
    merkle_source_t src;
    store_audit_source(st, &src);
    if (from > size)
        from = 0; /* it holds more than we have checkpointed: it will say so */
    if (from && from < size && merkle_consistency_proof_src(from, size, &src, &proof, &n) != 0)
        from = n = 0;
    ProtobufCBinaryData *hashes = calloc(n ? n : 1, sizeof *hashes);
    for (size_t i = 0; hashes && i < n; i++)
        hashes[i] = (ProtobufCBinaryData){MERKLE_HASH_BYTES, proof[i]};
    Moux__CheckpointOffer offer = MOUX__CHECKPOINT_OFFER__INIT;
    offer.checkpoint = sc;
    offer.from_size = from;
    offer.n_consistency = hashes ? n : 0;
    offer.consistency = hashes;
    Moux__Frame f = MOUX__FRAME__INIT;
    f.kind_case = MOUX__FRAME__KIND_CHECKPOINT_OFFER;
    f.checkpoint_offer = &offer;
    size_t flen = 0;
    uint8_t *buf = sc ? pb_pack(&f.base, &flen) : NULL;
    if (buf) {
        if (zmq_send(self->dealer, buf, flen, ZMQ_DONTWAIT) >= 0)
            log_debug("CHECKPOINT-OFFERED", "partner %s: size %llu (from %llu)", self->p.agency,
                      (unsigned long long)size, (unsigned long long)from);
    }
    free(buf);
    free(hashes);
    if (sc)
        moux__signed_checkpoint__free_unpacked(sc, NULL);
out:
    free(raw);
    free(proof);
}

/* A countersignature by a key of the partner's that we accept now: it
 * signs with the key it speaks to us with, which during a rotation may be
 * its previous one, or a new one taken before this link is rebuilt. */
static int s_countersig_ok(const link_t *self, const uint8_t *raw, size_t len,
                           const uint8_t sig[64])
{
    uint64_t now = now_ms();
    for (size_t i = 0; i < self->n_pkeys; i++)
        if (!s_key_unusable(&self->pkeys[i], now) &&
            checkpoint_countersig_verify(raw, len, self->pkeys[i].sign_pk, sig) == 0)
            return 1;
    return 0;
}

/* The partner's answer to our checkpoint: its countersignature, kept as
 * proof that it witnessed this size; or why not. */
static void s_on_checkpoint_ack(link_t *self, const Moux__CheckpointAck *ack)
{
    store_t *st = self->d->store;
    char reason[64];
    if (ack->refused[0]) {
        str_sanitize(reason, sizeof reason, ack->refused); /* partner text */
        if (strcmp(reason, REASON_NEED_CONSISTENCY) == 0 && !self->reoffered) {
            self->witnessed_size = ack->witnessed_size;
            self->reoffered = 1;
            link_offer_checkpoint(self); /* with a proof from the size it holds */
            return;
        }
        if (strcmp(self->checkpoint_refused, reason) != 0) { /* once per reason, not per offer */
            log_warn("CHECKPOINT-REFUSED-BY-PARTNER", "partner %s did not witness our "
                     "checkpoint: %s", self->p.agency, reason);
            store_event(st, "checkpoint-refused-by-partner", self->p.agency, NULL, reason, NULL);
            str_copy(self->checkpoint_refused, sizeof self->checkpoint_refused, reason);
        }
        return;
    }
    uint64_t size = 0;
    uint8_t root[32], *raw = NULL;
    size_t len = 0;
    self->reoffered = 0;
    self->checkpoint_refused[0] = '\0';
    const char *why = NULL;
    int found = 0;
    if (ack->countersignature.len != 64)
        why = "malformed countersignature";
    else if ((found = store_checkpoint_latest(st, ack->witnessed_size, &size, root, &raw,
                                              &len)) < 0) {
        /* ours, not the partner's: nothing to record against it */
        log_error("STORE-FAILED", "partner %s: %s", self->p.agency, store_errmsg(st));
        free(raw);
        return;
    } else if (found == 0 || size != ack->witnessed_size)
        why = "countersigns a checkpoint we did not sign";
    else if (!s_countersig_ok(self, raw, len, ack->countersignature.data))
        why = "countersignature does not verify";
    if (why) {
        log_warn("CHECKPOINT-ACK-REFUSED", "partner %s: %s", self->p.agency, why);
        store_event(st, "checkpoint-ack-refused", self->p.agency, NULL, why, NULL);
    } else {
        self->witnessed_size = size;
        if (store_countersig_put(st, size, self->p.agency, ack->countersignature.data, 64) != 0)
            log_error("STORE-FAILED", "partner %s: %s", self->p.agency, store_errmsg(st));
        else
            log_debug("CHECKPOINT-WITNESSED", "partner %s countersigned our log at size %llu",
                      self->p.agency, (unsigned long long)size);
    }
    free(raw);
}

/* Ends the transaction of the receipts read together (link_on_dealer). If
 * it cannot commit, or SQLite already rolled it back, their items are still
 * in the outbox: send them again from the start (the partner answers them
 * as duplicates). */
static void s_receipts_commit(link_t *self)
{
    store_t *st = self->d->store;
    if (!self->grouped)
        return;
    self->grouped = 0;
    int alive = store_in_transaction(st);
    if (alive && store_commit(st) == 0) {
        s_receipts_said(self);
        return;
    }
    self->group_receipts = 0;
    log_error("STORE-RECEIPT", "partner %s: cannot record receipts: %s; their items go again",
              self->p.agency, store_errmsg(st));
    store_rollback(st); /* also when SQLite has rolled it back: the store syncs again */
    s_rewind(self);
}

static void s_on_frame(link_t *self, const uint8_t *data, size_t len)
{
    pbbudget_t pb; /* one budget for the frame and the receipt body in it */
    pbbudget_init(&pb, PB_BUDGET_BYTES);
    Moux__Frame *f = (Moux__Frame *)pb_unpack(&moux__frame__descriptor, &pb.allocator, len, data);
    Moux__ReceiptBody *b = NULL;
    s_sent_t *sent = NULL;
    const char *why = NULL;
    const unsigned char *signer = NULL;
    char reason[64];
    if (f && (f->kind_case == MOUX__FRAME__KIND_KEY_UPDATE_ACK ||
              f->kind_case == MOUX__FRAME__KIND_CHECKPOINT_ACK))
        s_receipts_commit(self); /* they change the link's state in memory: on disk first */
    if (f && f->kind_case == MOUX__FRAME__KIND_KEY_UPDATE_ACK) {
        s_on_key_ack(self, f->key_update_ack);
        goto out;
    }
    if (f && f->kind_case == MOUX__FRAME__KIND_CHECKPOINT_ACK) {
        s_on_checkpoint_ack(self, f->checkpoint_ack);
        goto out;
    }
    if (!f || f->kind_case != MOUX__FRAME__KIND_RECEIPT)
        why = "not a receipt frame";
    /* The body names the key that signed it: unpacked once, trusted only
     * once that key verified it. */
    else if (receipt_unpack(f->receipt, &pb.allocator, &b, &why) == 0 &&
             (why = s_receipt_key(self, b, &signer)) == NULL &&
             receipt_verify(f->receipt, signer, &why) == 0)
        why = s_receipt_mismatch(self, b, &sent);
    if (why) {
        s_receipt_refused(self, why);
        goto out;
    }
    s_forget_inflight(self, b->message_id.data);
    if (b->status == MOUX__BATCH_STATUS__BATCH_REFUSED) {
        /* Items stay queued; back off so a persistent fault does not spin. */
        str_sanitize(reason, sizeof reason, b->reason); /* partner text */
        snprintf(self->last_error, sizeof self->last_error, "partner refused batch: %s", reason);
        log_warn("BATCH-REFUSED-BY-PARTNER", "partner %s refused batch seq %llu: %s",
                 self->p.agency, (unsigned long long)b->sequence, reason);
        s_receipts_commit(self); /* as for refused receipts: synced, outside the group */
        store_event(self->d->store, "batch-refused-by-partner", self->p.agency, NULL, reason,
                    NULL);
        s_rewind(self);
        self->retry_at_ms = mono_ms() + self->backoff_ms;
        s_back_off(self);
        if (strcmp(reason, REASON_MOU_MISMATCH) == 0 || strcmp(reason, REASON_NO_MOU) == 0) {
            self->ag.peer_heard = 0; /* it holds another MOU than it said: ask again */
            link_send_key_update(self);
        }
        goto out;
    }
    if (s_apply_receipt(self, b, f->receipt, sent) == 0) {
        self->backoff_ms = (uint64_t)self->d->cfg.retry_initial_ms;
        self->last_error[0] = '\0'; /* delivering again */
    }
    if (self->n_inflight == 0) { /* newer versions of sent items may wait below the cursors */
        self->cursor = 0;
        self->live_cursor = self->live_floor;
    }
out:
    if (b)
        moux__receipt_body__free_unpacked(b, &pb.allocator);
    if (f)
        moux__frame__free_unpacked(f, &pb.allocator);
}

void link_send_key_update(link_t *self)
{
    const identity_t *id = keys_announced(self->d);
    Moux__NodeCert *cert = moux__node_cert__unpack(NULL, id->cert_len, id->cert_raw);
    Moux__RevocationList *revs = self->d->own_revs
        ? moux__revocation_list__unpack(NULL, self->d->own_revs_len, self->d->own_revs) : NULL;
    Moux__KeyUpdate ku = MOUX__KEY_UPDATE__INIT;
    ku.cert = cert;
    ku.revocations = revs;
    /* Our MOU with the partner, or how the last one ended. */
    const unsigned char *hash = agreement_hash(&self->ag);
    if (hash)
        ku.mou_hash = (ProtobufCBinaryData){MOU_HASH_BYTES, (uint8_t *)hash};
    Moux__MouNotice *notice = self->ag.notice
        ? moux__mou_notice__unpack(NULL, self->ag.notice_len, self->ag.notice) : NULL;
    ku.mou_notice = notice;
    Moux__Frame f = MOUX__FRAME__INIT;
    f.kind_case = MOUX__FRAME__KIND_KEY_UPDATE;
    f.key_update = &ku;
    size_t len = 0;
    uint8_t *buf = cert ? pb_pack(&f.base, &len) : NULL;
    if (buf) {
        if (zmq_send(self->dealer, buf, len, ZMQ_DONTWAIT) < 0)
            log_warn("KEYS-UNSENT", "partner %s: cannot announce our keys now: %s",
                     self->p.agency, zmq_strerror(zmq_errno()));
        else
            log_info("KEYS-ANNOUNCED", "partner %s: certificate serial %llu%s", self->p.agency,
                     (unsigned long long)id->cert.serial, revs ? ", revocation list" : "");
    }
    free(buf);
    if (cert)
        moux__node_cert__free_unpacked(cert, NULL);
    if (revs)
        moux__revocation_list__free_unpacked(revs, NULL);
    if (notice)
        moux__mou_notice__free_unpacked(notice, NULL);
}

/* The receipts waiting together are recorded in one transaction, each in a
 * savepoint of its own: one fsync for all of them (s_receipts_commit). The
 * next batches leave after the commit. */
void link_on_dealer(link_t *self)
{
    store_t *st = self->d->store;
    for (int i = 0; i < 256; i++) {
        zmq_msg_t msg;
        zmq_msg_init(&msg);
        if (zmq_msg_recv(&msg, self->dealer, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&msg);
            break;
        }
        if (self->grouped && !store_in_transaction(st))
            s_receipts_commit(self); /* SQLite rolled it back: resend */
        /* Receipts commit without waiting for the disk: were they lost to a
         * power failure, their items would go again and the partner, which
         * synced them, would answer "duplicate" (RELIABILITY.md). */
        if (!self->grouped)
            self->grouped = store_begin_unsynced(st) == 0; /* else each commits alone */
        s_on_frame(self, zmq_msg_data(&msg), zmq_msg_size(&msg));
        zmq_msg_close(&msg);
    }
    s_receipts_commit(self);
    link_pump(self);
}
