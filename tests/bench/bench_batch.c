/* Baseline: what one batch costs in moux's own code paths, without ZeroMQ
 * and without the daemon loop. It drives the library functions the daemons
 * call (node/lib: store, envelope, receipt, policy, indicator) in the order
 * link.c and inbound.c call them, through the real stores (WAL,
 * synchronous=FULL, as store_open sets them) of two stopped nodes that are
 * each other's only partner (tests/bench/run makes them with
 * deploy/cluster), and times every stage per batch:
 *
 *   publish   store_put_local + store_outbox_put, 5000 per transaction (as
 *             daemon_publish does for one control request)
 *   request   the control-socket request of one 5000-item publish as
 *             moux publish sends it: the CLI packs a protobuf Batch, the
 *             daemon unpacks it, normalises and patterns every item, and
 *             the summary reply goes back as JSON
 *   json      the same request with its items as JSON (the form scripts
 *             may still use, and what the CLI sent before): json_pack +
 *             json_dumps, json_loadb, json_unpack, normalise, pattern
 *   sender    outbox fetch, size check, pack, seal (hash + sign + encrypt)
 *   receiver  frame unpack, open (decrypt + hash + verify), payload unpack, item
 *             checks + MOU policy + store_put_received, receipt seal,
 *             inbound row, commit
 *   receipt   (at the sender) frame unpack, receipt_open (verify), the
 *             outbox rows (one range delete), receipt row, commit (unsynced)
 *
 *   bench_batch --sender DIR --receiver DIR [--batches K] [--items 512]
 *
 * Every figure is the median over the K batches (publish, request and json: over the
 * 5000-item chunks). It also prints the sizes of a batch (hashed bytes,
 * payload, frame) and of its receipt, which the other baselines use. */
#include "benchutil.h"
#include "compat.h"
#include "envelope.h"
#include "indicator.h"
#include "keyid.h"
#include "pbbudget.h"
#include "policy.h"
#include "receipt.h"
#include "store.h"
#include "util.h"

#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK 5000

static store_t *s_store(const char *dir)
{
    char err[512];
    store_t *st = store_open(dir, STORE_RW, err, sizeof err);
    if (!st) {
        fprintf(stderr, "bench_batch: %s\n", err);
        exit(1);
    }
    return st;
}

/* The node's one partner (the other node of the pair). */
static partner_t s_partner(store_t *st, const char *dir)
{
    partner_t *list = NULL, p;
    size_t n = 0;
    if (store_partners(st, &list, &n) != 0 || n != 1) {
        fprintf(stderr, "bench_batch: %s: expected exactly one partner\n", dir);
        exit(1);
    }
    p = list[0];
    free(list);
    return p;
}

/* The receiver's item check (inbound.c s_check_item, minus hop checks). */
static int s_check_item(const Moux__Indicator *ind)
{
    ind_type_t type;
    char norm[IND_VALUE_MAX + 1], pattern[IND_PATTERN_MAX + 1];
    const char *why = NULL;
    if (!ind_id_valid(ind->id) || ind_type_parse(ind->type, &type) != 0 ||
        !agency_id_valid(ind->origin))
        return -1;
    if (ind_normalise(type, ind->value, norm, sizeof norm, &why) != 0 ||
        strcmp(norm, ind->value) != 0)
        return -1;
    if (ind_pattern(type, ind->value, pattern, sizeof pattern) != 0 ||
        strcmp(pattern, ind->pattern) != 0)
        return -1;
    return 0;
}

#define STAGES 16
static const char *s_stage_names[STAGES] = {
    "fetch", "pack", "seal", "r_frame_unpack", "r_open", "r_unpack", "r_items", "r_receipt_seal",
    "r_commit", "s_receipt_open", "s_apply", "s_commit", NULL};
enum { FETCH, PACK, SEAL, R_FUNPACK, R_OPEN, R_UNPACK, R_ITEMS, R_RSEAL, R_COMMIT, S_ROPEN,
       S_APPLY, S_COMMIT, N_STAGES };

/* The binary publish request of n items, both ends (moux publish's s_add
 * and s_flush, the daemon's s_publish up to the store): µs per item. */
static double s_request_us(Moux__Indicator *const *src, size_t n)
{
    double t0 = bu_now();
    Moux__Indicator *out = calloc(n, sizeof *out);
    Moux__Indicator **ptrs = calloc(n, sizeof *ptrs);
    for (size_t i = 0; i < n; i++) {
        moux__indicator__init(&out[i]);
        out[i].type = src[i]->type;
        out[i].value = strdup(src[i]->value);
        out[i].tlp = MOUX__TLP__TLP_AMBER;
        out[i].confidence = 50;
        ptrs[i] = &out[i];
    }
    Moux__Batch b = MOUX__BATCH__INIT;
    b.n_items = n;
    b.items = ptrs;
    size_t len = moux__batch__get_packed_size(&b);
    uint8_t *body = malloc(len);
    moux__batch__pack(&b, body);
    for (size_t i = 0; i < n; i++)
        free(out[i].value);
    free(out);
    free(ptrs);
    pbbudget_t budget;
    pbbudget_init(&budget, 64u << 20);
    Moux__Batch *got = BENCH_UNPACK(Moux__Batch, batch, &budget.allocator, len, body);
    free(body);
    json_int_t n_new = 0;
    for (size_t i = 0; got && i < got->n_items; i++) {
        char norm[IND_VALUE_MAX + 1], pattern[IND_PATTERN_MAX + 1];
        const char *why = NULL;
        ind_type_t t;
        ind_type_parse(got->items[i]->type, &t);
        ind_normalise(t, got->items[i]->value, norm, sizeof norm, &why);
        ind_pattern(t, norm, pattern, sizeof pattern);
        char *v = strdup(norm), *p = strdup(pattern); /* as s_item_fill keeps them */
        free(v);
        free(p);
        n_new++;
    }
    if (got)
        moux__batch__free_unpacked(got, &budget.allocator);
    json_t *reply = json_pack("{s:b, s:{s:I, s:i, s:i, s:i}, s:[]}", "ok", 1, "counts", "new",
                              n_new, "updated", 0, "unchanged", 0, "refused", 0, "others");
    char *text = json_dumps(reply, JSON_COMPACT);
    json_decref(reply);
    json_error_t jerr;
    json_decref(json_loadb(text, strlen(text), 0, &jerr));
    free(text);
    return (bu_now() - t0) * 1e6 / (double)n;
}

int main(int argc, char **argv)
{
    if (sodium_init() < 0)
        return 1;
    const char *a_dir = bu_opt_str(argc, argv, "--sender", NULL);
    const char *b_dir = bu_opt_str(argc, argv, "--receiver", NULL);
    size_t K = (size_t)bu_opt(argc, argv, "--batches", 100);
    size_t per = (size_t)bu_opt(argc, argv, "--items", 512);
    if (!a_dir || !b_dir || K < 1 || per < 1 || per > 1024) {
        fprintf(stderr, "usage: bench_batch --sender DIR --receiver DIR [--batches K] "
                        "[--items 512]\n");
        return 2;
    }
    /* Batch and receipt keys of our own: only the stores are the nodes'. */
    unsigned char s_pk[32], s_sk[64], r_pk[32], r_sk[64], key[32];
    crypto_sign_keypair(s_pk, s_sk);
    crypto_sign_keypair(r_pk, r_sk);
    randombytes_buf(key, sizeof key);
    store_t *snd = s_store(a_dir), *rcv = s_store(b_dir);
    partner_t s_partner_b = s_partner(snd, a_dir), r_partner = s_partner(rcv, b_dir);
    int64_t s_pid = s_partner_b.pid, r_pid = r_partner.pid;
    const char *a_agency = r_partner.agency, *b_agency = s_partner_b.agency;
    size_t total = K * per;
    /* The MOU the receiver enforces (deploy/cluster activated one). */
    store_mou_t mrow;
    mou_t *mou = NULL;
    char merr[512];
    if (store_mou_active(rcv, a_agency, &mrow) != 1 ||
        mou_parse(mrow.text, mrow.text_len, "active MOU", &mou, merr, sizeof merr) != 0) {
        fprintf(stderr, "bench_batch: %s has no active MOU with %s\n", b_dir, a_agency);
        return 1;
    }
    store_mou_free(&mrow);

    /* ---- publish: as daemon_publish, CHUNK items per transaction ---- */
    Moux__Indicator **src = bu_items(total, 0, a_agency);
    size_t chunks = (total + CHUNK - 1) / CHUNK;
    double *pub_us = calloc(chunks, sizeof *pub_us), *json_us = calloc(chunks, sizeof *json_us);
    double *req_us = calloc(chunks, sizeof *req_us);
    for (size_t c = 0; c < chunks; c++) {
        size_t lo = c * CHUNK, hi = lo + CHUNK > total ? total : lo + CHUNK;
        req_us[c] = s_request_us(src + lo, hi - lo);
        /* the JSON round trip of this chunk (CLI build+dump, daemon parse+check+reply) */
        double t0 = bu_now();
        json_t *items = json_array();
        for (size_t i = lo; i < hi; i++)
            json_array_append_new(items, json_pack("{s:s, s:s, s:s, s:I, s:I}", "type",
                                                   src[i]->type, "value", src[i]->value, "tlp",
                                                   "amber", "confidence", (json_int_t)50,
                                                   "valid_until_ms", (json_int_t)0));
        json_t *req = json_pack("{s:s, s:o, s:[], s:b}", "cmd", "publish", "items", items,
                                "refused", "summary", 1);
        char *text = json_dumps(req, JSON_COMPACT);
        json_decref(req);
        json_error_t jerr;
        json_t *got = json_loadb(text, strlen(text), 0, &jerr);
        free(text);
        json_t *arr = json_object_get(got, "items"), *o;
        size_t i;
        json_int_t n_new = 0;
        json_array_foreach(arr, i, o) {
            const char *type = NULL, *val = NULL, *tlp = "amber", *why = NULL;
            json_int_t conf = 50, until = 0;
            char norm[IND_VALUE_MAX + 1], pattern[IND_PATTERN_MAX + 1];
            ind_type_t t;
            json_unpack(o, "{s:s, s:s, s?s, s?I, s?I}", "type", &type, "value", &val, "tlp",
                        &tlp, "confidence", &conf, "valid_until_ms", &until);
            ind_type_parse(type, &t);
            ind_normalise(t, val, norm, sizeof norm, &why);
            ind_pattern(t, norm, pattern, sizeof pattern);
            n_new++;
        }
        /* the summary answer a file's publish asks for: all new, no others */
        json_t *reply = json_pack("{s:b, s:{s:I, s:i, s:i, s:i}, s:[]}", "ok", 1, "counts", "new",
                                  n_new, "updated", 0, "unchanged", 0, "refused", 0, "others");
        text = json_dumps(reply, JSON_COMPACT);
        json_decref(reply);
        json_decref(got);
        json_t *back = json_loadb(text, strlen(text), 0, &jerr);
        free(text);
        json_decref(back);
        json_us[c] = (bu_now() - t0) * 1e6 / (double)(hi - lo);

        /* the store part: one transaction per chunk */
        t0 = bu_now();
        if (store_begin(snd) != 0)
            return 1;
        for (size_t k = lo; k < hi; k++) {
            Moux__Indicator ind = MOUX__INDICATOR__INIT;
            ind.type = src[k]->type;
            ind.value = src[k]->value;
            ind.pattern = src[k]->pattern;
            ind.tlp = src[k]->tlp;
            ind.confidence = src[k]->confidence;
            int64_t rid = 0;
            store_put_t res;
            if (store_put_local(snd, a_agency, &ind, &rid, &res) != 0 ||
                store_outbox_put(snd, s_pid, rid, ind.modified_ms) != 0) {
                fprintf(stderr, "bench_batch: publish: %s\n", store_errmsg(snd));
                return 1;
            }
        }
        if (store_commit(snd) != 0)
            return 1;
        pub_us[c] = (bu_now() - t0) * 1e6 / (double)(hi - lo);
    }
    bu_items_free(src, total);
    bu_emit("publish_store_us_per_item", "us/item", pub_us, chunks);
    bu_emit("publish_json_us_per_item", "us/item", json_us, chunks);
    bu_emit("publish_request_us_per_item", "us/item", req_us, chunks);

    /* ---- the batch path, K batches ---- */
    double *st[N_STAGES];
    for (int s = 0; s < N_STAGES; s++)
        st[s] = calloc(K, sizeof(double));
    double *tot_s = calloc(K, sizeof(double)), *tot_r = calloc(K, sizeof(double));
    unsigned char s_kid[32], r_kid[32], enc_pk[32];
    keyid_of(s_pk, 32, s_kid);
    randombytes_buf(enc_pk, 32);
    keyid_of(enc_pk, 32, r_kid);
    int64_t cursor = 0;
    uint64_t seq = 1;
    size_t payload_bytes = 0, frame_bytes = 0, receipt_bytes = 0, hashed_bytes = 0;
    for (size_t b = 0; b < K; b++) {
        double t = bu_now(), t1;
#define LAP(stage)                                                                               \
    do {                                                                                         \
        t1 = bu_now();                                                                           \
        st[stage][b] = (t1 - t) * 1e6;                                                           \
        t = t1;                                                                                  \
    } while (0)
        /* sender: fetch, fit, pack, seal (link.c s_send_one) */
        outbox_batch_t ob;
        if (store_outbox_fetch(snd, s_pid, cursor, per, &ob) != 0 || ob.n == 0) {
            fprintf(stderr, "bench_batch: fetch: %s\n", store_errmsg(snd));
            return 1;
        }
        LAP(FETCH);
        size_t used = 0;
        for (size_t i = 0; i < ob.n; i++)
            used += moux__indicator__get_packed_size(ob.items[i]) + 6;
        Moux__Batch batch = MOUX__BATCH__INIT;
        batch.n_items = ob.n;
        batch.items = ob.items;
        size_t plen = moux__batch__get_packed_size(&batch);
        uint8_t *payload = malloc(plen);
        moux__batch__pack(&batch, payload);
        LAP(PACK);
        envelope_meta_t meta = {.sender = a_agency, .recipient = b_agency, .mou_id = mou_id(mou),
                                .mou_hash = mou_hash_bytes(mou),
                                .sender_key_id = s_kid, .recipient_key_id = r_kid,
                                .sequence = seq++, .timestamp_ms = now_ms(),
                                .item_count = (uint32_t)ob.n};
        uint8_t *frame = NULL, hash[BATCH_HASH_BYTES];
        size_t flen = 0;
        if (envelope_seal(&meta, payload, plen, s_sk, key, &frame, &flen, hash) != 0)
            return 1;
        LAP(SEAL);
        cursor = ob.rids[ob.n - 1];
        payload_bytes = plen;
        frame_bytes = flen;

        /* receiver (inbound.c s_recv_one .. s_accept) */
        Moux__Frame *f = BENCH_UNPACK(Moux__Frame, frame, NULL, flen, frame);
        Moux__BatchHeader *h = NULL;
        const char *why = NULL;
        if (!f || envelope_header(f->envelope, &h, &why) != 0)
            return 1;
        LAP(R_FUNPACK);
        uint8_t *plain = NULL, sig[64], rhash[BATCH_HASH_BYTES];
        size_t plain_len = 0;
        if (bench_envelope_open(f->envelope, key, s_pk, &plain, &plain_len, sig, rhash, &why) != 0) {
            fprintf(stderr, "bench_batch: open: %s\n", why);
            return 1;
        }
        hashed_bytes = 4 + f->envelope->header.len + plain_len;
        LAP(R_OPEN);
        Moux__Batch *in = BENCH_UNPACK(Moux__Batch, batch, NULL, plain_len, plain);
        if (!in || in->n_items != ob.n)
            return 1;
        LAP(R_UNPACK);
        Moux__ItemResult *res = calloc(in->n_items, sizeof *res);
        Moux__ItemResult **resp = calloc(in->n_items, sizeof *resp);
        if (store_begin(rcv) != 0)
            return 1;
        for (size_t i = 0; i < in->n_items; i++) {
            const Moux__Indicator *ind = in->items[i];
            moux__item_result__init(&res[i]);
            resp[i] = &res[i];
            res[i].id = ind->id;
            res[i].modified_ms = ind->modified_ms;
            int64_t rid = 0;
            store_put_t put;
            if (s_check_item(ind) != 0 ||
                policy_inbound(mou, b_agency, a_agency, ind, now_ms()).reason != NULL ||
                store_put_received(rcv, r_pid, a_agency, ind, now_ms(), mou_hash_bytes(mou),
                                   &rid, &put) != 0) {
                fprintf(stderr, "bench_batch: item refused or not stored: %s\n",
                        store_errmsg(rcv));
                return 1;
            }
            res[i].status = MOUX__ITEM_STATUS__ITEM_ACCEPTED;
        }
        LAP(R_ITEMS);
        uint8_t *rframe = NULL;
        size_t rlen = 0;
        Moux__ReceiptBody body = MOUX__RECEIPT_BODY__INIT;
        body.version = PROTOCOL_VERSION;
        body.sender = (char *)b_agency;
        body.recipient = (char *)a_agency;
        body.signer_key_id = (ProtobufCBinaryData){32, r_kid};
        body.message_id = h->message_id;
        body.sequence = h->sequence;
        body.timestamp_ms = now_ms();
        body.batch_hash = (ProtobufCBinaryData){sizeof rhash, rhash};
        body.status = MOUX__BATCH_STATUS__BATCH_OK;
        body.n_results = in->n_items;
        body.results = resp;
        if (receipt_seal(&body, r_sk, &rframe, &rlen) != 0)
            return 1;
        receipt_bytes = rlen;
        LAP(R_RSEAL);
        if (store_inbound_put(rcv, r_pid, h->sender_key_id.data, h->message_id.data, h->sequence,
                              &f->envelope->header, plain, plain_len, sig, rframe, rlen) != 0 ||
            store_partner_set_rx_high(rcv, r_pid, h->sequence) != 0 || store_commit(rcv) != 0) {
            fprintf(stderr, "bench_batch: inbound: %s\n", store_errmsg(rcv));
            return 1;
        }
        LAP(R_COMMIT);
        free(res);
        free(resp);
        moux__batch__free_unpacked(in, NULL);
        free(plain);
        moux__batch_header__free_unpacked(h, NULL);
        moux__frame__free_unpacked(f, NULL);

        /* sender: the receipt (link.c s_on_frame, s_apply_receipt) */
        Moux__Frame *rf = BENCH_UNPACK(Moux__Frame, frame, NULL, rlen, rframe);
        Moux__ReceiptBody *rb = NULL;
        if (!rf || receipt_open(rf->receipt, r_pk, NULL, &rb, &why) != 0)
            return 1;
        unsigned char kid[32];
        keyid_of(r_pk, 32, kid);
        if (sodium_memcmp(rb->batch_hash.data, hash, 32) != 0)
            return 1;
        LAP(S_ROPEN);
        if (bench_begin_receipts(snd) != 0)
            return 1;
        if (bench_outbox_done_batch(snd, s_pid, &ob, rb) != 0)
            return 1;
        LAP(S_APPLY);
        if (store_receipt_put(snd, s_pid, rb, &rf->receipt->body, &rf->receipt->signature,
                              (int)rb->n_results, 0, 0) != 0 ||
            store_partner_set_last_receipt(snd, s_pid, now_ms()) != 0 || store_commit(snd) != 0)
            return 1;
        LAP(S_COMMIT);
        moux__receipt_body__free_unpacked(rb, NULL);
        moux__frame__free_unpacked(rf, NULL);
        free(rframe);
        free(frame);
        free(payload);
        outbox_batch_free(&ob);
        tot_s[b] = st[FETCH][b] + st[PACK][b] + st[SEAL][b] + st[S_ROPEN][b] + st[S_APPLY][b] +
                   st[S_COMMIT][b];
        tot_r[b] = st[R_FUNPACK][b] + st[R_OPEN][b] + st[R_UNPACK][b] + st[R_ITEMS][b] +
                   st[R_RSEAL][b] + st[R_COMMIT][b];
    }
    int64_t left = -1;
    store_outbox_count(snd, s_pid, &left);
    if (left != 0) {
        fprintf(stderr, "bench_batch: %lld items left in the outbox\n", (long long)left);
        return 1;
    }
    for (int s = 0; s < N_STAGES; s++) {
        char name[64];
        snprintf(name, sizeof name, "batch_us_%s", s_stage_names[s]);
        bu_emit(name, "us/batch", st[s], K);
    }
    bu_emit("batch_us_sender_total", "us/batch", tot_s, K);
    bu_emit("batch_us_receiver_total", "us/batch", tot_r, K);
    bu_emit1("batch_items", "items", (double)per);
    bu_emit1("batch_payload_bytes", "bytes", (double)payload_bytes);
    bu_emit1("batch_hashed_bytes", "bytes", (double)hashed_bytes);
    bu_emit1("batch_frame_bytes", "bytes", (double)frame_bytes);
    bu_emit1("receipt_frame_bytes", "bytes", (double)receipt_bytes);
    store_destroy(&snd);
    store_destroy(&rcv);
    return 0;
}
