/* mouxreceiver: a hostile receiver for the integration tests.
 *
 *   mouxreceiver --as PARTNER_DIR --from SENDER_DIR [--timeout-ms N]
 *                [--hold-ms H --batches K] MODE
 *
 * Impersonates the partner whose node directory is PARTNER_DIR (its daemon
 * must be stopped): binds its ROUTER endpoint with its CURVE keys, answers
 * the sender's key updates as the partner would (so that the sender's MOU
 * check lets batches flow), opens the first batch the sender delivers, and
 * answers it with a receipt signed by the partner's key but forged as MODE
 * says. Prints one JSON line: the mode, the batch's sequence and items.
 * The sender must refuse every forged receipt (RECEIPT-REFUSED) and keep the
 * items queued; "valid" is the control. Exit 0 when it ran, 1 on a local
 * error or when no batch came within the timeout, 2 on a usage error. Only
 * 127.0.0.1 endpoints are bound.
 *
 * Modes: valid, other-sequence, other-hash, flip-signature, other-agency,
 * results-mismatch, unknown-key, replay (the valid receipt, then the same
 * again: the second is a replay), slow (a slow but honest partner: valid
 * receipts for the first K batches, in order, each sent H ms after the one
 * before (the first H ms after its batch came); prints the batches answered
 * and their items), forged-countersignature (valid receipts; the sender's
 * checkpoint offers are answered as witnessed, countersigned by a key that
 * is not the partner's: the sender must refuse it, CHECKPOINT-ACK-REFUSED;
 * prints how many offers were answered). */
#include "checkpoint.h"
#include "config.h"
#include "envelope.h"
#include "keyid.h"
#include "moux.pb-c.h"
#include "nodekeys.h"
#include "receipt.h"
#include "store.h"
#include "toolkeys.h"
#include "util.h"

#include <getopt.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#define LOOPBACK_PREFIX "tcp://127.0.0.1:"

static const char *s_modes[] = {"valid",        "other-sequence", "other-hash",
                                "flip-signature", "other-agency", "results-mismatch",
                                "unknown-key",  "replay",         "slow",
                                "forged-countersignature"};
#define N_MODES (sizeof s_modes / sizeof s_modes[0])

/* An answer the slow mode holds back: its route and receipt frame. */
typedef struct {
    zmq_msg_t route;
    uint8_t *frame;
    size_t len;
} s_held_t;

typedef struct {
    const char *as_dir, *from_dir, *mode;
    long timeout_ms, hold_ms, batches;
    s_held_t *held; /* slow mode: answers not yet sent, in arrival order */
    long n_held, n_answered, items, offers;
    config_t self, sender;
    nodekeys_t *keys;
    unsigned char sender_sign_pk[32], sender_enc_pk[32];
    unsigned char *tx, *rx; /* sodium_malloc; rx = K(sender -> self) */
    unsigned char mou_hash[32];
    size_t mou_hash_len;
    void *zctx, *router;
} s_ctx_t;

static int s_err(const char *what, const char *detail)
{
    fprintf(stderr, "mouxreceiver: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
    return -1;
}

static int s_load(s_ctx_t *c)
{
    char err[4400];
    if (config_load(c->as_dir, &c->self, err, sizeof err) != 0 ||
        config_load(c->from_dir, &c->sender, err, sizeof err) != 0 ||
        !(c->keys = nodekeys_load(c->as_dir, err, sizeof err)) ||
        toolkeys_read_pub(c->from_dir, "sign", "moux-ed25519-public", c->sender_sign_pk, err,
                          sizeof err) != 0 ||
        toolkeys_read_pub(c->from_dir, "enc", "moux-x25519-public", c->sender_enc_pk, err,
                          sizeof err) != 0)
        return s_err(err, NULL);
    if (strncmp(c->self.listen, LOOPBACK_PREFIX, strlen(LOOPBACK_PREFIX)) != 0)
        return s_err("refusing a non-loopback listen address", c->self.listen);
    c->tx = sodium_malloc(BATCH_KEY_BYTES);
    c->rx = sodium_malloc(BATCH_KEY_BYTES);
    if (!c->tx || !c->rx ||
        envelope_derive_keys(c->keys->enc_sk, c->keys->enc_pk, c->sender_enc_pk, c->tx, c->rx))
        return s_err("cannot derive the batch keys", NULL);
    /* The partner's active MOU with the sender, which its key-update
     * answers name (none: the sender will not send, and the run times out). */
    store_t *st = store_open(c->as_dir, STORE_RO, err, sizeof err);
    store_mou_t m;
    if (st && store_mou_active(st, c->sender.agency, &m) == 1) {
        memcpy(c->mou_hash, m.hash, 32);
        c->mou_hash_len = 32;
        store_mou_free(&m);
    }
    store_destroy(&st);
    return 0;
}

static int s_bind(s_ctx_t *c)
{
    /* The last receipt is sent just before exit: linger (bounded) so that it
     * leaves before the context closes. */
    int one = 1, linger = 2000;
    c->zctx = zmq_ctx_new();
    c->router = c->zctx ? zmq_socket(c->zctx, ZMQ_ROUTER) : NULL;
    if (!c->router || zmq_setsockopt(c->router, ZMQ_CURVE_SERVER, &one, sizeof one) ||
        zmq_setsockopt(c->router, ZMQ_CURVE_SECRETKEY, c->keys->curve_sk, 32) ||
        zmq_setsockopt(c->router, ZMQ_LINGER, &linger, sizeof linger) ||
        zmq_bind(c->router, c->self.listen) != 0)
        return s_err("cannot bind", zmq_strerror(zmq_errno()));
    return 0;
}

static int s_send(s_ctx_t *c, zmq_msg_t *route, const uint8_t *frame, size_t len)
{
    zmq_msg_t copy;
    zmq_msg_init(&copy);
    zmq_msg_copy(&copy, route);
    int rc = zmq_msg_send(&copy, c->router, ZMQ_SNDMORE) < 0 ||
             zmq_send(c->router, frame, len, 0) < 0 ? -1 : 0;
    zmq_msg_close(&copy);
    return rc ? s_err("cannot send", zmq_strerror(zmq_errno())) : 0;
}

static int s_send_frame(s_ctx_t *c, zmq_msg_t *route, const Moux__Frame *f)
{
    size_t len = moux__frame__get_packed_size(f);
    uint8_t *buf = malloc(len);
    int rc = -1;
    if (buf) {
        moux__frame__pack(f, buf);
        rc = s_send(c, route, buf, len);
    }
    free(buf);
    return rc;
}

/* A key update is answered as the partner's node would accept it. */
static int s_on_key_update(s_ctx_t *c, zmq_msg_t *route, const Moux__KeyUpdate *ku)
{
    Moux__NodeCertBody *cb = ku->cert && ku->cert->body.data
        ? moux__node_cert_body__unpack(NULL, ku->cert->body.len, ku->cert->body.data) : NULL;
    Moux__KeyUpdateAck ack = MOUX__KEY_UPDATE_ACK__INIT;
    ack.serial = cb ? cb->serial : 0;
    ack.mou_hash = (ProtobufCBinaryData){c->mou_hash_len, c->mou_hash};
    Moux__Frame f = MOUX__FRAME__INIT;
    f.kind_case = MOUX__FRAME__KIND_KEY_UPDATE_ACK;
    f.key_update_ack = &ack;
    int rc = s_send_frame(c, route, &f);
    if (cb)
        moux__node_cert_body__free_unpacked(cb, NULL);
    return rc;
}

/* A checkpoint offer answered as witnessed, but countersigned by a fresh
 * key that is not the partner's (forged-countersignature). */
static int s_on_offer(s_ctx_t *c, zmq_msg_t *route, const Moux__CheckpointOffer *o)
{
    size_t len = o->checkpoint ? moux__signed_checkpoint__get_packed_size(o->checkpoint) : 0;
    uint8_t *raw = len ? malloc(len) : NULL, sig[64];
    unsigned char pk[32], *sk = sodium_malloc(crypto_sign_SECRETKEYBYTES);
    checkpoint_t cp;
    const char *why = NULL;
    int rc = -1;
    if (!raw || !sk)
        goto out;
    moux__signed_checkpoint__pack(o->checkpoint, raw);
    crypto_sign_keypair(pk, sk);
    if (checkpoint_parse(raw, len, &cp, &why) != 0 || checkpoint_countersign(raw, len, sk, sig))
        goto out;
    Moux__CheckpointAck ack = MOUX__CHECKPOINT_ACK__INIT;
    ack.witnessed_size = cp.size;
    ack.countersignature = (ProtobufCBinaryData){sizeof sig, sig};
    ack.refused = "";
    Moux__Frame f = MOUX__FRAME__INIT;
    f.kind_case = MOUX__FRAME__KIND_CHECKPOINT_ACK;
    f.checkpoint_ack = &ack;
    rc = s_send_frame(c, route, &f);
    c->offers += rc == 0;
out:
    free(raw);
    sodium_free(sk);
    return rc ? s_err("cannot answer the checkpoint offer", why) : 0;
}

/* The receipt for a batch, forged as the mode says, sealed into *frame. */
static int s_forge(s_ctx_t *c, const Moux__BatchHeader *h, const Moux__Batch *batch,
                   const envelope_proof_t *proof, uint8_t **frame, size_t *flen)
{
    const char *mode = c->mode;
    size_t n = batch->n_items;
    Moux__ItemResult *res = calloc(n ? n : 1, sizeof *res);
    Moux__ItemResult **resp = calloc(n ? n : 1, sizeof *resp);
    uint8_t hash[BATCH_HASH_BYTES];
    unsigned char fresh_pk[32], fresh_id[KEYID_BYTES];
    unsigned char *fresh_sk = sodium_malloc(crypto_sign_SECRETKEYBYTES);
    int rc = -1;
    if (!res || !resp || !fresh_sk)
        goto out;
    for (size_t i = 0; i < n; i++) {
        moux__item_result__init(&res[i]);
        resp[i] = &res[i];
        res[i].id = batch->items[i]->id;
        res[i].modified_ms = batch->items[i]->modified_ms;
        res[i].status = MOUX__ITEM_STATUS__ITEM_ACCEPTED;
    }
    memcpy(hash, proof->hash, sizeof hash);
    Moux__ReceiptBody b = MOUX__RECEIPT_BODY__INIT;
    b.version = PROTOCOL_VERSION;
    b.sender = c->self.agency;
    b.recipient = c->sender.agency;
    b.signer_key_id = (ProtobufCBinaryData){KEYID_BYTES, c->keys->sign_id};
    b.message_id = h->message_id;
    b.batch_hash = (ProtobufCBinaryData){sizeof hash, hash};
    b.timestamp_ms = now_ms();
    b.status = MOUX__BATCH_STATUS__BATCH_OK;
    b.n_results = n;
    b.results = resp;
    b.sequence = h->sequence;
    const unsigned char *sk = c->keys->sign_sk;
    if (strcmp(mode, "other-sequence") == 0)
        b.sequence = h->sequence + 1;
    else if (strcmp(mode, "other-hash") == 0)
        hash[0] ^= 0x01;
    else if (strcmp(mode, "other-agency") == 0)
        b.recipient = c->self.agency; /* names itself, not the sender */
    else if (strcmp(mode, "results-mismatch") == 0 && n)
        res[n - 1].modified_ms += 1; /* a version the sender did not send */
    else if (strcmp(mode, "unknown-key") == 0) {
        crypto_sign_keypair(fresh_pk, fresh_sk);
        keyid_of(fresh_pk, 32, fresh_id);
        b.signer_key_id = (ProtobufCBinaryData){KEYID_BYTES, fresh_id};
        sk = fresh_sk;
    }
    if (receipt_seal(&b, sk, frame, flen) != 0)
        goto out;
    if (strcmp(mode, "flip-signature") == 0)
        (*frame)[*flen - 8] ^= 0x01; /* the signature is the frame's last field */
    rc = 0;
out:
    free(res);
    free(resp);
    sodium_free(fresh_sk);
    return rc;
}

/* Opens the sender's batch and answers it; fills out. 1 when answered. */
static int s_on_envelope(s_ctx_t *c, zmq_msg_t *route, const Moux__Envelope *env, json_t *out)
{
    Moux__BatchHeader *h = NULL;
    Moux__Batch *batch = NULL;
    uint8_t *payload = NULL, *frame = NULL;
    size_t plen = 0, flen = 0;
    envelope_proof_t proof;
    const char *why = NULL;
    int rc = -1;
    if (envelope_header(env, &h, &why) != 0 ||
        envelope_open(env, c->rx, c->sender_sign_pk, &payload, &plen, &proof, &why) != 0) {
        s_err("the sender's batch does not open", why);
        goto out;
    }
    batch = moux__batch__unpack(NULL, plen, payload);
    if (!batch || s_forge(c, h, batch, &proof, &frame, &flen) != 0)
        goto out;
    if (c->held) { /* slow: sent in turn by s_send_held */
        s_held_t *hd = &c->held[c->n_held++];
        zmq_msg_init(&hd->route);
        zmq_msg_copy(&hd->route, route);
        hd->frame = frame;
        hd->len = flen;
        frame = NULL;
        c->items += (long)batch->n_items;
        rc = 1;
        goto out;
    }
    if (s_send(c, route, frame, flen) != 0)
        goto out;
    if (strcmp(c->mode, "replay") == 0 && s_send(c, route, frame, flen) != 0)
        goto out;
    json_object_set_new(out, "sequence", json_integer((json_int_t)h->sequence));
    json_object_set_new(out, "items", json_integer((json_int_t)batch->n_items));
    rc = 1;
out:
    free(frame);
    free(payload);
    if (batch)
        moux__batch__free_unpacked(batch, NULL);
    if (h)
        moux__batch_header__free_unpacked(h, NULL);
    return rc;
}

/* Slow mode: the oldest held answer once its time has come; 1 when the
 * last of the K answers has gone. */
static int s_send_held(s_ctx_t *c, uint64_t *next_at)
{
    if (c->n_answered == c->n_held || mono_ms() < *next_at)
        return 0;
    s_held_t *hd = &c->held[c->n_answered++];
    int rc = s_send(c, &hd->route, hd->frame, hd->len);
    *next_at = mono_ms() + (uint64_t)c->hold_ms;
    if (rc != 0)
        return -1;
    return c->n_answered == c->batches;
}

/* Serves the sender until its first batch is answered (slow mode: K
 * batches; bounded), then a second more, answering only key updates, so
 * that the sender has read the receipt before the connection goes away. */
static int s_serve(s_ctx_t *c, json_t *out)
{
    uint64_t deadline = mono_ms() + (uint64_t)c->timeout_ms, next_at = 0;
    int answered = 0;
    while (mono_ms() < deadline) {
        if (c->held && !answered) {
            int sent = s_send_held(c, &next_at);
            if (sent < 0)
                return -1;
            if (sent > 0) {
                answered = 1;
                deadline = mono_ms() + 1000;
            }
        }
        zmq_pollitem_t it = {c->router, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&it, 1, c->held ? 10 : 100) <= 0 || !(it.revents & ZMQ_POLLIN))
            continue;
        zmq_msg_t route, msg;
        zmq_msg_init(&route);
        zmq_msg_init(&msg);
        int rc = 0;
        if (zmq_msg_recv(&route, c->router, 0) >= 0 && zmq_msg_more(&route) &&
            zmq_msg_recv(&msg, c->router, 0) >= 0) {
            Moux__Frame *f = moux__frame__unpack(NULL, zmq_msg_size(&msg), zmq_msg_data(&msg));
            if (f && f->kind_case == MOUX__FRAME__KIND_KEY_UPDATE)
                rc = s_on_key_update(c, &route, f->key_update);
            else if (f && f->kind_case == MOUX__FRAME__KIND_CHECKPOINT_OFFER &&
                     strcmp(c->mode, "forged-countersignature") == 0)
                rc = s_on_offer(c, &route, f->checkpoint_offer);
            else if (f && f->kind_case == MOUX__FRAME__KIND_ENVELOPE && !answered &&
                     (!c->held || c->n_held < c->batches)) {
                rc = s_on_envelope(c, &route, f->envelope, out);
                if (rc > 0 && c->held) {
                    if (c->n_held == 1)
                        next_at = mono_ms() + (uint64_t)c->hold_ms;
                    rc = 0; /* answered in turn, above */
                }
            }
            if (f)
                moux__frame__free_unpacked(f, NULL);
        }
        zmq_msg_close(&route);
        zmq_msg_close(&msg);
        if (rc < 0)
            return -1;
        if (rc > 0) {
            answered = 1;
            deadline = mono_ms() + 1000;
        }
    }
    if (strcmp(c->mode, "forged-countersignature") == 0)
        json_object_set_new(out, "offers", json_integer(c->offers));
    if (c->held) {
        json_object_set_new(out, "answered", json_integer(c->n_answered));
        json_object_set_new(out, "items", json_integer(c->items));
    }
    if (c->held && !answered && c->n_held) {
        fprintf(stderr, "mouxreceiver: %ld of %ld batches came within the timeout\n", c->n_held,
                c->batches);
        return -1;
    }
    return answered ? 0 : s_err("no batch from the sender within the timeout", NULL);
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"as", required_argument, 0, 'a'},
                                         {"from", required_argument, 0, 'f'},
                                         {"timeout-ms", required_argument, 0, 'w'},
                                         {"hold-ms", required_argument, 0, 'h'},
                                         {"batches", required_argument, 0, 'k'},
                                         {0, 0, 0, 0}};
    s_ctx_t c;
    memset(&c, 0, sizeof c);
    c.timeout_ms = 15000;
    c.hold_ms = 200;
    c.batches = 1;
    int ch, known = 0;
    char *end = NULL;
    while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (ch == 'a')
            c.as_dir = optarg;
        else if (ch == 'f')
            c.from_dir = optarg;
        else if (ch == 'w' && (c.timeout_ms = strtol(optarg, &end, 10)) >= 100 &&
                 c.timeout_ms <= 60000 && end && !*end)
            ;
        else if (ch == 'h' && (c.hold_ms = strtol(optarg, &end, 10)) >= 1 &&
                 c.hold_ms <= 10000 && end && !*end)
            ;
        else if (ch == 'k' && (c.batches = strtol(optarg, &end, 10)) >= 1 &&
                 c.batches <= 1000 && end && !*end)
            ;
        else
            c.as_dir = NULL; /* a usage error */
    }
    c.mode = optind == argc - 1 ? argv[optind] : "";
    for (size_t i = 0; i < N_MODES; i++)
        known |= strcmp(s_modes[i], c.mode) == 0;
    if (!c.as_dir || !c.from_dir || !known) {
        fprintf(stderr, "usage: mouxreceiver --as PARTNER_DIR --from SENDER_DIR "
                        "[--timeout-ms N] [--hold-ms H --batches K] MODE\nmodes:");
        for (size_t i = 0; i < N_MODES; i++)
            fprintf(stderr, " %s", s_modes[i]);
        fprintf(stderr, "\n");
        return 2;
    }
    if (sodium_init() < 0)
        return 1;
    json_t *out = json_pack("{s:s}", "mode", c.mode);
    int rc = 1;
    if (strcmp(c.mode, "slow") == 0 && !(c.held = calloc((size_t)c.batches, sizeof *c.held))) {
        json_decref(out);
        return 1;
    }
    if (out && s_load(&c) == 0 && s_bind(&c) == 0 && s_serve(&c, out) == 0) {
        char *line = json_dumps(out, JSON_COMPACT);
        printf("%s\n", line ? line : "{}");
        free(line);
        rc = 0;
    }
    json_decref(out);
    for (long i = 0; i < c.n_held; i++) {
        zmq_msg_close(&c.held[i].route);
        free(c.held[i].frame);
    }
    free(c.held);
    if (c.router)
        zmq_close(c.router);
    if (c.zctx)
        zmq_ctx_term(c.zctx);
    nodekeys_destroy(&c.keys);
    sodium_free(c.tx);
    sodium_free(c.rx);
    return rc;
}
