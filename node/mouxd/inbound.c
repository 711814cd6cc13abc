/* Batches arriving on the ROUTER. The sender is the agency bound to the
 * CURVE key that ZAP admitted (the User-Id property), never the routing id.
 * Every check refuses with a reason code that is logged, recorded in the
 * event table and, where the batch can be named, sent back in a signed
 * receipt. Accepted items and the batch's signed plaintext are committed
 * before the receipt leaves.
 *
 * Group commit: the batches already waiting on the ROUTER when the loop
 * reads it are stored in one transaction, each batch in a savepoint of its
 * own (a batch that fails to store undoes only itself). One commit, one
 * fsync, and each index page written once for the whole group instead of
 * once per batch. Every answer of the group waits for that commit, so no
 * receipt, refusal or duplicate answer leaves before what it states is on
 * disk; if the commit fails, none leaves and the senders retry. A lone
 * batch is a group of one: grouping never waits for more. */
#include "audit.h"
#include "checkpoint.h"
#include "daemon.h"
#include "merkle.h"
#include "envelope.h"
#include "itemcheck.h"
#include "log.h"
#include "pbbudget.h"
#include "pbpack.h"
#include "pbunpack.h"
#include "policy.h"
#include "reason.h"
#include "receipt.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

/* How far below the highest sequence seen a late batch is still taken. */
#define SEQ_WINDOW 4096
#define BATCH_ITEMS_MAX 1024

/* At most this many batches share a commit (of 512 items by default). */
#define GROUP_BATCHES 16
#define ROUTE_MAX 256 /* ZeroMQ routing ids are 1-255 bytes */

/* An answer held until its group commits. */
typedef struct {
    uint8_t route[ROUTE_MAX];
    size_t route_len;
    uint8_t *frame;
    size_t len;
    link_t *link;
    uint64_t rx_seq; /* a stored batch: the link's highest sequence after the commit */
    size_t items, refused; /* and what it held, for BATCH-RECEIVED */
} s_answer_t;

typedef struct {
    int open;       /* a transaction is open for the group */
    size_t n;       /* answers held */
    size_t batches; /* envelopes in the group */
    s_answer_t a[GROUP_BATCHES];
} s_group_t;

typedef struct {
    daemon_t *d;
    s_group_t *group;
    link_t *link;
    const partner_t *p;
    zmq_msg_t *route;
    const partner_key_t *key;   /* the partner key that signed the batch */
    const nodekeys_t *ours;     /* our keys the batch is encrypted for */
    agreement_t *ag;            /* the MOU with the partner */
    uint64_t now, quota;        /* items the daily limit still lets in */
    uint64_t accepted;
} s_ctx_t;

#define DAY_MS 86400000u

static void s_send(daemon_t *d, const char *agency, const void *route, size_t route_len,
                   const uint8_t *frame, size_t len)
{
    if (zmq_send(d->router, route, route_len, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
        zmq_send(d->router, frame, len, ZMQ_DONTWAIT) < 0)
        log_warn("RECEIPT-UNSENT", "partner %s: cannot send receipt: %s (it will retry)",
                 agency, zmq_strerror(zmq_errno()));
}

/* Once a stored batch is on disk: the link's high mark, and the log line. */
static void s_stored(link_t *link, uint64_t seq, size_t items, size_t refused)
{
    link_set_rx_high(link, seq);
    log_info("BATCH-RECEIVED", "partner %s: seq %llu, %zu items, %zu refused",
             link_partner(link)->agency, (unsigned long long)seq, items, refused);
}

/* Answers now, or after the group's commit when one is open. rx_seq: the
 * sequence of a batch just stored (0: none), with its items and refusals. */
static void s_answer(s_ctx_t *c, const uint8_t *frame, size_t len, uint64_t rx_seq,
                     size_t items, size_t refused)
{
    s_group_t *g = c->group;
    size_t rlen = zmq_msg_size(c->route);
    if (!g || !g->open) {
        s_send(c->d, c->p->agency, zmq_msg_data(c->route), rlen, frame, len);
        if (rx_seq)
            s_stored(c->link, rx_seq, items, refused);
        return;
    }
    s_answer_t *a = g->n < GROUP_BATCHES && rlen <= ROUTE_MAX ? &g->a[g->n] : NULL;
    if (!a || !(a->frame = malloc(len ? len : 1))) { /* one answer per batch: only ENOMEM */
        log_warn("RECEIPT-UNSENT", "partner %s: answer not held (it will retry)", c->p->agency);
        return;
    }
    memcpy(a->route, zmq_msg_data(c->route), rlen);
    a->route_len = rlen;
    memcpy(a->frame, frame, len);
    a->len = len;
    a->link = c->link;
    a->rx_seq = rx_seq;
    a->items = items;
    a->refused = refused;
    g->n++;
}

static void s_reply(s_ctx_t *c, const uint8_t *frame, size_t len)
{
    s_answer(c, frame, len, 0, 0, 0);
}

/* Commits the group, then sends its answers; on a failed commit, drops
 * them: nothing they stated is stored, and the senders retry. */
static void s_group_close(daemon_t *d, s_group_t *g)
{
    if (!g->open)
        return;
    g->open = 0;
    /* Not in a transaction any more: SQLite rolled the group back by itself. */
    int alive = store_in_transaction(d->store), ok = alive && store_commit(d->store) == 0;
    if (!ok) {
        log_error("STORE-FAILED", "%zu batches not stored, not receipted: %s", g->batches,
                  store_errmsg(d->store));
        if (alive)
            store_rollback(d->store);
        daemon_drop_counts(d);
    }
    for (size_t i = 0; i < g->n; i++) {
        s_answer_t *a = &g->a[i];
        if (ok) {
            s_send(d, link_partner(a->link)->agency, a->route, a->route_len, a->frame, a->len);
            if (a->rx_seq)
                s_stored(a->link, a->rx_seq, a->items, a->refused);
        }
        free(a->frame);
    }
    g->n = g->batches = 0;
}

/* Packs and sends an answer on the same connection. */
static void s_reply_frame(s_ctx_t *c, const Moux__Frame *f)
{
    size_t len = 0;
    uint8_t *buf = pb_pack(&f->base, &len);
    if (buf)
        s_reply(c, buf, len);
    free(buf);
}

/* The fields every receipt for batch h carries. */
static void s_receipt_for(s_ctx_t *c, const Moux__BatchHeader *h, Moux__ReceiptBody *b)
{
    moux__receipt_body__init(b);
    b->version = PROTOCOL_VERSION;
    b->sender = c->d->cfg.agency;
    b->recipient = (char *)c->p->agency;
    b->signer_key_id = (ProtobufCBinaryData){KEYID_BYTES, link_own(c->link)->keys->sign_id};
    b->message_id = h->message_id;
    b->sequence = h->sequence;
    b->timestamp_ms = now_ms();
}

static void s_refuse(s_ctx_t *c, const Moux__BatchHeader *h, const char *reason)
{
    daemon_t *d = c->d;
    link_count_refusal(c->link);
    if (h)
        log_warn("BATCH-REFUSED", "partner %s: batch seq %llu refused: %s", c->p->agency,
                 (unsigned long long)h->sequence, reason);
    else
        log_warn("FRAME-REFUSED", "partner %s: frame refused: %s", c->p->agency, reason);
    store_event(d->store, "batch-refused", c->p->agency, NULL, reason, NULL);
    if (!h)
        return; /* nothing to name in a receipt */
    Moux__ReceiptBody b;
    s_receipt_for(c, h, &b);
    b.status = MOUX__BATCH_STATUS__BATCH_REFUSED;
    b.reason = (char *)reason;
    uint8_t *frame = NULL;
    size_t len = 0;
    if (receipt_seal(&b, link_own(c->link)->keys->sign_sk, &frame, &len) == 0)
        s_reply(c, frame, len);
    free(frame);
}

/* Our key set a batch is encrypted for: the current one, or during a
 * rotation's overlap the previous one. */
static const nodekeys_t *s_our_keys(const daemon_t *d, const uint8_t *enc_id)
{
    if (memcmp(enc_id, d->id->keys->enc_id, KEYID_BYTES) == 0)
        return d->id->keys;
    if (d->prev && memcmp(enc_id, d->prev->keys->enc_id, KEYID_BYTES) == 0)
        return d->prev->keys;
    return NULL;
}

/* Header checks that need the node's state. */
static const char *s_check_header(s_ctx_t *c, const Moux__BatchHeader *h)
{
    daemon_t *d = c->d;
    const char *why = NULL;
    uint64_t now = now_ms(), skew = (uint64_t)d->cfg.clock_skew_seconds * 1000u;
    if (strcmp(h->sender, c->p->agency) != 0)
        return REASON_SENDER_MISMATCH;
    if (strcmp(h->recipient, d->cfg.agency) != 0)
        return REASON_WRONG_RECIPIENT;
    /* Signed by a key of the partner's that is not revoked, retired or
     * expired: its certificate history decides. */
    if ((why = link_key_check(c->link, h->sender_key_id.data, &c->key)) != NULL)
        return why;
    if (!(c->ours = s_our_keys(d, h->recipient_key_id.data)))
        return REASON_WRONG_RECIPIENT_KEY;
    if (h->timestamp_ms + skew < now || h->timestamp_ms > now + skew)
        return REASON_STALE_TIMESTAMP;
    /* Both nodes hold the same MOU, in force: else nothing is taken. */
    const mou_t *m = c->ag->mou;
    if (!m)
        return REASON_NO_MOU;
    if (h->mou_hash.len != MOU_HASH_BYTES ||
        sodium_memcmp(h->mou_hash.data, mou_hash_bytes(m), MOU_HASH_BYTES) != 0)
        return REASON_MOU_MISMATCH;
    if (!mou_valid_at(m, now, NULL, 0))
        return REASON_MOU_NOT_IN_FORCE;
    return NULL;
}

/* What the daily limit of the partner's direction still lets in today. */
static int s_daily_quota(s_ctx_t *c)
{
    const mou_dir_t *dir = mou_direction(c->ag->mou, c->p->agency, c->d->cfg.agency);
    uint64_t n = 0;
    c->quota = UINT64_MAX;
    if (!dir || !dir->daily_limit)
        return 0;
    if (store_mou_daily_get(c->d->store, mou_hash_bytes(c->ag->mou), "in", c->now / DAY_MS, &n))
        return -1;
    c->quota = n >= dir->daily_limit ? 0 : dir->daily_limit - n;
    return 0;
}


/* Judges one item by its shape and the MOU, stores it, and queues it for
 * the partners the MOUs let it go on to. */
static Moux__ItemStatus s_store_item(s_ctx_t *c, const Moux__Indicator *ind, const char **reason,
                                     const char **rule)
{
    *rule = "shape";
    *reason = item_check_shape(ind);
    if (!*reason) {
        policy_verdict_t v = policy_inbound(c->ag->mou, c->d->cfg.agency, c->p->agency, ind,
                                            c->now);
        *reason = v.reason;
        *rule = v.rule;
    }
    int64_t rid = 0;
    store_put_t res;
    if (!*reason && c->accepted >= c->quota) {
        /* The limit counts what is taken: a version held already (a batch
         * resent after a lost receipt) is still answered duplicate. */
        if (store_received_verdict(c->d->store, c->p->pid, ind, &rid, &res) != 0) {
            *reason = REASON_STORE_FAILED;
            return (Moux__ItemStatus)-1;
        }
        if (res == STORE_UNCHANGED)
            return MOUX__ITEM_STATUS__ITEM_DUPLICATE;
        *reason = res == STORE_CONFLICT ? REASON_ID_CONFLICT : REASON_DAILY_LIMIT;
        *rule = res == STORE_CONFLICT ? "id" : "daily-limit";
    }
    if (*reason)
        return MOUX__ITEM_STATUS__ITEM_REJECTED;
    if (store_put_received(c->d->store, c->p->pid, c->p->agency, ind, c->now,
                           mou_hash_bytes(c->ag->mou), &rid, &res) != 0 ||
        ((res == STORE_NEW || res == STORE_UPDATED) &&
         daemon_relay(c->d, c->link, rid, ind, res == STORE_UPDATED) != 0)) {
        *reason = REASON_STORE_FAILED;
        return (Moux__ItemStatus)-1;
    }
    if (res == STORE_CONFLICT) {
        *reason = REASON_ID_CONFLICT;
        *rule = "id";
        return MOUX__ITEM_STATUS__ITEM_REJECTED;
    }
    if (res == STORE_UNCHANGED)
        return MOUX__ITEM_STATUS__ITEM_DUPLICATE;
    c->accepted++;
    return MOUX__ITEM_STATUS__ITEM_ACCEPTED;
}

/* The audit entry of a received batch, which its receipt names (1 + the
 * entry's index; 0 when the log is off). */
static int s_audit_receipt(s_ctx_t *c, const Moux__BatchHeader *h, json_t *received,
                           size_t accepted, size_t duplicate, size_t refused, uint64_t *entry)
{
    char msgid[2 * MSGID_BYTES + 1];
    uint64_t index = 0;
    hex_encode(h->message_id.data, MSGID_BYTES, msgid);
    json_t *d = json_pack("{s:I, s:O, s:I, s:I, s:I, s:s}", "sequence", (json_int_t)h->sequence,
                          "items", received, "accepted", (json_int_t)accepted, "duplicate",
                          (json_int_t)duplicate, "refused", (json_int_t)refused, "mou",
                          mou_id(c->ag->mou));
    int rc = d ? store_audit_append(c->d->store, "receipt", c->p->agency, msgid, NULL, NULL, d,
                                    &index) : -1;
    json_decref(d);
    *entry = rc == 0 && store_audit_on(c->d->store) ? index + 1 : 0;
    return rc;
}

/* Stores the items, the batch and its receipt in one transaction, then
 * answers. On a store failure nothing is receipted: the sender retries. */
static void s_accept(s_ctx_t *c, const Moux__Envelope *env, const Moux__BatchHeader *h,
                     const Moux__Batch *batch, const uint8_t *payload, size_t plen,
                     const envelope_proof_t *proof)
{
    daemon_t *d = c->d;
    size_t n = batch->n_items;
    Moux__ItemResult *res = calloc(n ? n : 1, sizeof *res);
    Moux__ItemResult **resp = calloc(n ? n : 1, sizeof *resp);
    uint8_t *frame = NULL;
    size_t flen = 0, refused = 0, duplicate = 0;
    json_t *received = json_object();
    int began = 0; /* a rollback without our begin would undo the group's */
    if (!res || !resp || !received || !(began = store_begin(d->store) == 0) ||
        s_daily_quota(c) != 0)
        goto fail;
    for (size_t i = 0; i < n; i++) {
        const Moux__Indicator *ind = batch->items[i];
        moux__item_result__init(&res[i]);
        resp[i] = &res[i];
        res[i].id = ind->id;
        res[i].modified_ms = ind->modified_ms;
        const char *reason = "", *rule = "";
        res[i].status = s_store_item(c, ind, &reason, &rule);
        if ((int)res[i].status < 0)
            goto fail;
        agreement_count(c->ag, "in", res[i].status == MOUX__ITEM_STATUS__ITEM_REJECTED
                                         ? reason : "allowed");
        if (res[i].status == MOUX__ITEM_STATUS__ITEM_ACCEPTED)
            audit_count_item(received, ind->type, (int)ind->tlp);
        duplicate += res[i].status == MOUX__ITEM_STATUS__ITEM_DUPLICATE;
        if (res[i].status == MOUX__ITEM_STATUS__ITEM_REJECTED) {
            res[i].reason = (char *)reason;
            refused++;
            if (store_event(d->store, "item-refused", c->p->agency, ind->id, reason, rule))
                goto fail;
        }
    }
    if ((c->quota != UINT64_MAX && c->accepted &&
         store_mou_daily_add(d->store, mou_hash_bytes(c->ag->mou), "in", c->now / DAY_MS,
                             c->accepted) != 0) ||
        daemon_flush_counts(d) != 0)
        goto fail;
    Moux__ReceiptBody b;
    s_receipt_for(c, h, &b);
    b.batch_hash = (ProtobufCBinaryData){sizeof proof->hash, (uint8_t *)proof->hash};
    b.status = MOUX__BATCH_STATUS__BATCH_OK;
    b.n_results = n;
    b.results = resp;
    if (s_audit_receipt(c, h, received, n - refused - duplicate, duplicate, refused,
                        &b.audit_entry) != 0)
        goto fail;
    if (receipt_seal(&b, link_own(c->link)->keys->sign_sk, &frame, &flen) != 0 ||
        store_inbound_put(d->store, c->p->pid, h->sender_key_id.data, h->message_id.data,
                          h->sequence, &env->header, payload, plen, proof->sig, frame, flen) != 0 ||
        (h->sequence > c->p->rx_high_seq &&
         store_partner_set_rx_high(d->store, c->p->pid, h->sequence) != 0) ||
        store_commit(d->store) != 0)
        goto fail;
    s_answer(c, frame, flen, h->sequence, n, refused); /* logged once on disk */
    goto out;
fail:
    log_error("STORE-FAILED", "partner %s: batch seq %llu not stored, not receipted: %s",
              c->p->agency, (unsigned long long)h->sequence, store_errmsg(d->store));
    if (began)
        store_rollback(d->store);
    daemon_drop_counts(d); /* they counted what the rollback undid */
out:
    free(frame);
    free(res);
    free(resp);
    json_decref(received);
}

/* Replays of a batch we already hold get the same receipt again. */
static int s_answer_duplicate(s_ctx_t *c, const Moux__BatchHeader *h)
{
    uint8_t *frame = NULL;
    size_t len = 0;
    int found = store_inbound_find(c->d->store, c->p->pid, h->message_id.data, &frame, &len);
    if (found == 1) {
        log_info("BATCH-DUPLICATE", "partner %s: seq %llu already stored; receipt re-sent",
                 c->p->agency, (unsigned long long)h->sequence);
        s_reply(c, frame, len);
    }
    free(frame);
    return found;
}

/* Decrypts and verifies with the keys the header named. The link keeps the
 * batch key for the usual pair (the partner's current key, ours as it knows
 * us); a batch from another pair (a rotation in progress) derives its own.
 * *reason is set only on failure: the caller refuses whenever it is set. */
static int s_open(s_ctx_t *c, const Moux__Envelope *env, uint8_t **payload, size_t *plen,
                  envelope_proof_t *proof, const char **reason)
{
    const partner_t *p = c->p;
    if (c->ours == link_own(c->link)->keys && memcmp(c->key->enc_pk, p->enc_pk, 32) == 0)
        return envelope_open(env, link_rx_key(c->link), c->key->sign_pk, payload, plen, proof,
                             reason);
    unsigned char *tx = sodium_malloc(BATCH_KEY_BYTES), *rx = sodium_malloc(BATCH_KEY_BYTES);
    int rc = -1;
    if (tx && rx &&
        envelope_derive_keys(c->ours->enc_sk, c->ours->enc_pk, c->key->enc_pk, tx, rx) == 0)
        rc = envelope_open(env, rx, c->key->sign_pk, payload, plen, proof, reason);
    else
        *reason = REASON_BAD_CIPHERTEXT;
    sodium_free(tx);
    sodium_free(rx);
    return rc;
}

static void s_on_envelope(s_ctx_t *c, const Moux__Envelope *env)
{
    pbbudget_t pb; /* decoding a partner's batch costs at most this much */
    pbbudget_init(&pb, PB_BUDGET_BYTES);
    Moux__BatchHeader *h = NULL;
    Moux__Batch *batch = NULL;
    uint8_t *payload = NULL;
    envelope_proof_t proof;
    size_t plen = 0;
    const char *reason = NULL;
    if (envelope_header(env, &h, &reason) != 0) {
        s_refuse(c, NULL, reason);
        return;
    }
    if ((reason = s_check_header(c, h)) != NULL)
        goto refuse;
    int dup = s_answer_duplicate(c, h);
    if (dup != 0) {
        if (dup < 0)
            log_error("STORE-FAILED", "partner %s: %s", c->p->agency, store_errmsg(c->d->store));
        goto out;
    }
    uint64_t high = c->p->rx_high_seq;
    int used = high >= SEQ_WINDOW && h->sequence <= high - SEQ_WINDOW
                   ? 1 : store_inbound_seq_used(c->d->store, c->p->pid, h->sender_key_id.data, h->sequence);
    if (used < 0) { /* our fault, not the sender's: no receipt, it retries */
        log_error("STORE-FAILED", "partner %s: %s", c->p->agency, store_errmsg(c->d->store));
        goto out;
    }
    if (used) {
        reason = REASON_SEQUENCE_REPLAYED;
        goto refuse;
    }
    if (s_open(c, env, &payload, &plen, &proof, &reason) != 0)
        goto refuse;
    batch = (Moux__Batch *)pb_unpack(&moux__batch__descriptor, &pb.allocator, plen, payload);
    if (!batch)
        reason = REASON_MALFORMED_PAYLOAD;
    else if (batch->n_items > BATCH_ITEMS_MAX)
        reason = REASON_TOO_MANY_ITEMS;
    else if (batch->n_items != h->item_count)
        reason = REASON_ITEM_COUNT;
    if (reason)
        goto refuse;
    s_accept(c, env, h, batch, payload, plen, &proof);
    goto out;
refuse:
    s_refuse(c, h, reason);
out:
    if (batch)
        moux__batch__free_unpacked(batch, &pb.allocator);
    free(payload);
    moux__batch_header__free_unpacked(h, NULL);
}

/* A partner's certificate and revocation list: judged by keyupdate.c,
 * answered here on the same connection. */
static void s_on_key_update(s_ctx_t *c, const Moux__KeyUpdate *ku)
{
    Moux__KeyUpdateAck ack = MOUX__KEY_UPDATE_ACK__INIT;
    keys_on_update(c->d, c->link, ku, &ack);
    /* The partner's MOU with us: a termination first, then what it holds. */
    const char *why = ku->mou_notice ? agreement_take_notice(c->d, c->link, ku->mou_notice) : NULL;
    if (why) {
        log_warn("MOU-NOTICE-REFUSED", "partner %s: termination notice refused: %s",
                 c->p->agency, why);
        store_event(c->d->store, "mou-notice-refused", c->p->agency, NULL, why, NULL);
    }
    agreement_heard(c->ag, &ku->mou_hash, c->p->agency);
    const unsigned char *ours = agreement_hash(c->ag);
    if (ours)
        ack.mou_hash = (ProtobufCBinaryData){MOU_HASH_BYTES, (uint8_t *)ours};
    Moux__Frame f = MOUX__FRAME__INIT;
    f.kind_case = MOUX__FRAME__KIND_KEY_UPDATE_ACK;
    f.key_update_ack = &ack;
    s_reply_frame(c, &f);
    link_pump(c->link); /* it may hold the same MOU as we do now */
}

/* Judges a partner's checkpoint against the last one we witnessed: the
 * log may only grow, and the consistency proof must show the old tree is a
 * prefix of the new. A partner that signed two inconsistent checkpoints is
 * recorded and reported; both stay on record (the held one in the
 * witnessed table, the offered one in the event). */
static const char *s_witness(s_ctx_t *c, const uint8_t *raw, size_t len,
                             const Moux__CheckpointOffer *o, uint64_t *held_size)
{
    checkpoint_t cp;
    const char *why = NULL;
    const partner_key_t *key = NULL;
    uint8_t held_root[32];
    if (checkpoint_parse(raw, len, &cp, &why) != 0)
        return REASON_BAD_CHECKPOINT;
    if (link_key_check(c->link, cp.signer_key_id, &key) != NULL ||
        checkpoint_verify(raw, len, key->sign_pk, &cp, &why) != 0 ||
        strcmp(cp.log, c->p->agency) != 0)
        return REASON_BAD_CHECKPOINT;
    int held = store_witnessed_get(c->d->store, c->p->agency, held_size, held_root);
    if (held < 0)
        return REASON_STORE_FAILED;
    int consistent = 1;
    if (held && cp.size < *held_size) {
        consistent = 0; /* the log shrank */
    } else if (held && cp.size == *held_size) {
        consistent = sodium_memcmp(cp.root, held_root, 32) == 0;
    } else if (held && *held_size > 0) {
        if (o->from_size != *held_size)
            return REASON_NEED_CONSISTENCY;
        if (o->n_consistency > MERKLE_MAX_CONSISTENCY_HASHES)
            consistent = 0;
        uint8_t(*proof)[32] = calloc(o->n_consistency ? o->n_consistency : 1, sizeof *proof);
        for (size_t i = 0; consistent && proof && i < o->n_consistency; i++) {
            if (o->consistency[i].len != 32)
                consistent = 0;
            else
                memcpy(proof[i], o->consistency[i].data, 32);
        }
        consistent = consistent && proof &&
                     merkle_verify_consistency(*held_size, cp.size, held_root, cp.root,
                                               (const uint8_t(*)[32])proof, o->n_consistency) == 0;
        free(proof);
    }
    if (!consistent) {
        char detail[300], r1[65], r2[65];
        hex_encode(held_root, 32, r1);
        hex_encode(cp.root, 32, r2);
        snprintf(detail, sizeof detail, "held size %llu root %s; offered size %llu root %s",
                 (unsigned long long)*held_size, r1, (unsigned long long)cp.size, r2);
        /* The evidence is the offered checkpoint itself, signed by the
         * partner (the held one is in the witnessed table). Recorded once
         * per offer: the same one offered again must not grow our log. */
        char evidence[sizeof detail + 32 + CHECKPOINT_MAX_BYTES * 4 / 3 + 8];
        int at = snprintf(evidence, sizeof evidence, "%s; offered checkpoint ", detail);
        sodium_bin2base64(evidence + at, sizeof evidence - (size_t)at, raw, len,
                          sodium_base64_VARIANT_ORIGINAL);
        if (store_event_exists(c->d->store, "checkpoint-inconsistent", c->p->agency,
                               evidence) == 0) {
            log_error("CHECKPOINT-INCONSISTENT", "partner %s signed a checkpoint inconsistent "
                      "with one it signed before: its audit log was rewritten (%s)",
                      c->p->agency, detail);
            store_event(c->d->store, "checkpoint-inconsistent", c->p->agency, NULL,
                        REASON_INCONSISTENT_CHECKPOINT, evidence);
        }
        link_set_checkpoint_alarm(c->link, detail);
        return REASON_INCONSISTENT_CHECKPOINT;
    }
    if (store_witnessed_put(c->d->store, c->p->agency, cp.size, cp.root, raw, len) != 0)
        return REASON_STORE_FAILED;
    *held_size = cp.size;
    return NULL;
}

static void s_on_checkpoint_offer(s_ctx_t *c, const Moux__CheckpointOffer *o)
{
    Moux__CheckpointAck ack = MOUX__CHECKPOINT_ACK__INIT;
    uint8_t sig[64], *raw = NULL;
    size_t len = 0;
    uint64_t held = 0;
    const char *why = REASON_BAD_CHECKPOINT;
    if (o->checkpoint && (raw = pb_pack(&o->checkpoint->base, &len)) != NULL &&
        len <= CHECKPOINT_MAX_BYTES)
        why = s_witness(c, raw, len, o, &held);
    if (!why && checkpoint_countersign(raw, len, link_own(c->link)->keys->sign_sk, sig) == 0)
        ack.countersignature = (ProtobufCBinaryData){64, sig};
    else if (!why)
        why = REASON_BAD_CHECKPOINT;
    if (why && strcmp(why, REASON_NEED_CONSISTENCY) != 0) {
        log_warn("CHECKPOINT-NOT-WITNESSED", "partner %s: %s", c->p->agency, why);
        /* An inconsistency is recorded where it is found (s_witness). */
        if (strcmp(why, REASON_INCONSISTENT_CHECKPOINT) != 0)
            store_event(c->d->store, "checkpoint-refused", c->p->agency, NULL, why, NULL);
    }
    ack.refused = (char *)(why ? why : "");
    ack.witnessed_size = held;
    Moux__Frame f = MOUX__FRAME__INIT;
    f.kind_case = MOUX__FRAME__KIND_CHECKPOINT_ACK;
    f.checkpoint_ack = &ack;
    s_reply_frame(c, &f);
    free(raw);
}

/* Reads one [routing id][frame] message; returns 0 when none is waiting. */
static int s_recv_one(daemon_t *d, s_group_t *g)
{
    zmq_msg_t route, body;
    zmq_msg_init(&route);
    zmq_msg_init(&body);
    int got = 0;
    if (zmq_msg_recv(&route, d->router, ZMQ_DONTWAIT) < 0)
        goto out;
    got = 1;
    if (!zmq_msg_more(&route) || zmq_msg_recv(&body, d->router, ZMQ_DONTWAIT) < 0)
        goto out;
    const char *agency = zmq_msg_gets(&body, "User-Id");
    link_t *link = agency ? daemon_link_by_agency(d, agency) : NULL;
    if (!link) {
        log_warn("FRAME-UNKNOWN-PEER", "frame from an unadmitted peer dropped");
        goto out;
    }
    s_ctx_t c = {d, g, link, link_partner(link), &route, NULL, NULL, link_agreement(link),
                 now_ms(), UINT64_MAX, 0};
    if (link_throttled(link)) { /* abuse: dropped unread, no receipt, no log line each */
        for (int more = zmq_msg_more(&body); more;) {
            zmq_msg_t extra;
            zmq_msg_init(&extra);
            more = zmq_msg_recv(&extra, d->router, 0) >= 0 && zmq_msg_more(&extra);
            zmq_msg_close(&extra);
        }
        goto out;
    }
    link_heard(link);
    if (zmq_msg_more(&body)) { /* a message is one frame: drain the rest, refuse it */
        /* The parts of a message arrive together: blocking reads end at its
         * last part, and no part can pass for the next message's route. */
        for (int more = 1; more;) {
            zmq_msg_t extra;
            zmq_msg_init(&extra);
            more = zmq_msg_recv(&extra, d->router, 0) >= 0 && zmq_msg_more(&extra);
            zmq_msg_close(&extra);
        }
        s_refuse(&c, NULL, REASON_MALFORMED_FRAME);
        goto out;
    }
    pbbudget_t pb;
    pbbudget_init(&pb, PB_BUDGET_BYTES);
    Moux__Frame *f =
        (Moux__Frame *)pb_unpack(&moux__frame__descriptor, &pb.allocator,
                                 zmq_msg_size(&body), zmq_msg_data(&body));
    if (f && f->kind_case == MOUX__FRAME__KIND_ENVELOPE) {
        if (g->open && !store_in_transaction(d->store))
            s_group_close(d, g); /* lost with its transaction: answer none of it */
        if (!g->open && store_begin(d->store) == 0)
            g->open = 1; /* else each batch has a transaction of its own */
        g->batches++;
    } else {
        s_group_close(d, g); /* key and checkpoint frames answer at once */
    }
    if (f && f->kind_case == MOUX__FRAME__KIND_KEY_UPDATE)
        s_on_key_update(&c, f->key_update);
    else if (f && f->kind_case == MOUX__FRAME__KIND_CHECKPOINT_OFFER)
        s_on_checkpoint_offer(&c, f->checkpoint_offer);
    else if (!f || f->kind_case != MOUX__FRAME__KIND_ENVELOPE)
        s_refuse(&c, NULL, REASON_MALFORMED_FRAME);
    else
        s_on_envelope(&c, f->envelope);
    if (f)
        moux__frame__free_unpacked(f, &pb.allocator);
out:
    zmq_msg_close(&route);
    zmq_msg_close(&body);
    return got;
}

void inbound_on_router(daemon_t *d)
{
    /* Bounded so one busy partner cannot starve the rest of the loop. */
    s_group_t g = {0};
    for (int i = 0; i < 64 && s_recv_one(d, &g); i++)
        if (g.batches == GROUP_BATCHES)
            s_group_close(d, &g);
    s_group_close(d, &g);
}
