/* mouxhostile: a hostile partner for the integration tests.
 *
 *   mouxhostile --as PARTNER_DIR --to TARGET_DIR [--other DIR] [--type T]
 *               [--value V] [--tlp LEVEL] [--timeout-ms N] [--seq N] [--origin AGENCY]
 *               [--hops A,B] [--confidence N] [--labels L,M] [--mou-hash HEX|none]
 *               [--id ID --modified-ms MS] MODE
 *
 * Impersonates the partner whose node directory is PARTNER_DIR (its daemon
 * must be stopped): connects a CURVE DEALER with the partner's transport
 * keys to the target's endpoint, sends one crafted frame (two for the
 * replay modes), waits a bounded time for a receipt (bad-checkpoint: for
 * the acknowledgement of a checkpoint offer), verifies it with the target's
 * signing key and prints one JSON line describing what the target
 * answered. Exit 0 when it ran, whatever the answer; 1 on a local error; 2
 * on a usage error.
 *
 * Sequence numbers are taken from the partner's own store exactly as its
 * daemon takes them (partner.tx_seq_reserved), so the real partner carries
 * on after them when it is started again (--seq N overrides this, for
 * experiments: N is used as given and not reserved). The batch names the
 * partner's active MOU with the recipient, as its daemon would (--mou-hash
 * names another, or none). The item gets a fresh id and the current time as
 * its created and modified times; --id and --modified-ms (given together)
 * send a given version of an item again instead. Only 127.0.0.1 endpoints are contacted. */
#include "checkpoint.h"
#include "config.h"
#include "ctxsig.h"
#include "envelope.h"
#include "indicator.h"
#include "keyfile.h"
#include "keyid.h"
#include "moux.pb-c.h"
#include "nodekeys.h"
#include "receipt.h"
#include "store.h"
#include "tlp.h"
#include "toolkeys.h"
#include "util.h"

#include <getopt.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#define SIG_BYTES crypto_sign_BYTES
#define NONCE_BYTES crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define LOOPBACK_PREFIX "tcp://127.0.0.1:"
#define MONITOR_EP "inproc://mouxhostile-monitor"
#define GARBAGE_BYTES 512
#define STALE_MS (3600u * 1000u)
#define FRAMES_MAX 16 /* frames read while waiting for one receipt */
#define BATCH_ITEMS_LIMIT 1024 /* the most items a batch may hold (PROTOCOL.md 6, step 16) */

typedef enum {
    M_VALID, M_FLIP_SIGNATURE, M_FLIP_CIPHERTEXT, M_FLIP_HEADER, M_WRONG_RECIPIENT,
    M_OTHER_AGENCY, M_REPLAY, M_STALE, M_SEQ_REPLAY, M_GARBAGE, M_MALFORMED_PAYLOAD,
    M_OVERSIZED, M_UNKNOWN_KEY, M_NUL_STRING, M_SENDER_MISMATCH, M_COUNT_MISMATCH,
    M_TOO_MANY_ITEMS, M_BAD_VERSION, M_MALFORMED_HEADER, M_BAD_CHECKPOINT
} s_mode_t;

static const struct {
    const char *name;
    s_mode_t mode;
} s_modes[] = {
    {"valid", M_VALID},
    {"flip-signature", M_FLIP_SIGNATURE},
    {"flip-ciphertext", M_FLIP_CIPHERTEXT},
    {"flip-header", M_FLIP_HEADER},
    {"wrong-recipient", M_WRONG_RECIPIENT},
    {"other-agency", M_OTHER_AGENCY},
    {"replay", M_REPLAY},
    {"stale", M_STALE},
    {"seq-replay", M_SEQ_REPLAY},
    {"garbage", M_GARBAGE},
    {"malformed-payload", M_MALFORMED_PAYLOAD},
    {"oversized", M_OVERSIZED},
    {"unknown-key", M_UNKNOWN_KEY},
    {"nul-string", M_NUL_STRING},
    {"sender-mismatch", M_SENDER_MISMATCH},
    {"count-mismatch", M_COUNT_MISMATCH},
    {"too-many-items", M_TOO_MANY_ITEMS},
    {"bad-version", M_BAD_VERSION},
    {"malformed-header", M_MALFORMED_HEADER},
    {"bad-checkpoint", M_BAD_CHECKPOINT},
};
#define N_MODES (sizeof s_modes / sizeof s_modes[0])

typedef enum {
    TAMPER_NONE, TAMPER_SIGNATURE, TAMPER_CIPHERTEXT, TAMPER_HEADER, TAMPER_HEADER_GARBAGE
} s_tamper_t;

/* What the partner knows about another node: its agency, endpoint and keys. */
typedef struct {
    config_t cfg;
    unsigned char sign_pk[32], enc_pk[32], curve_pk[32], enc_id[KEYID_BYTES];
} s_peer_t;

typedef struct {
    const char *as_dir, *to_dir, *other_dir, *type, *value, *tlp, *origin, *hops, *labels;
    const char *mou_hash; /* NULL: the partner's active MOU with the recipient */
    const char *id;       /* --id: with modified_ms, a given version of an item */
    uint64_t modified_ms;
    long timeout_ms, confidence;
    uint64_t seq; /* --seq: used as given, not reserved (0: from the store) */
    s_mode_t mode;
    const char *mode_name;
} s_opts_t;

typedef struct {
    s_opts_t o;
    config_t self;          /* the impersonated partner */
    nodekeys_t *keys;       /* its keys (secrets in sodium_malloc memory) */
    store_t *store;         /* its store: sequence reservations */
    s_peer_t target, other;
    int have_other;
    unsigned char *tx_target, *tx_other, *rx_scratch; /* sodium_malloc, 32 each */
    void *zctx, *dealer, *monitor;
    int disconnected;       /* the target dropped the connection */
} s_ctx_t;

/* One batch to seal. */
typedef struct {
    const char *sender, *recipient;
    const unsigned char *recipient_key_id; /* 32 bytes */
    const unsigned char *tx_key;
    uint64_t sequence, timestamp_ms;
    uint32_t version, item_count;
    size_t copies;                   /* of the item in the payload */
    s_tamper_t tamper;
    uint8_t message_id[MSGID_BYTES]; /* written by s_seal */
} s_seal_t;

/* ---- small helpers ---- */

static int s_err(const char *what, const char *detail)
{
    fprintf(stderr, "mouxhostile: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
    return -1;
}

static void s_print(json_t *o)
{
    char *line = json_dumps(o, JSON_COMPACT);
    if (line) {
        printf("%s\n", line);
        fflush(stdout);
    }
    free(line);
}

static json_t *s_hex(const uint8_t *bin, size_t len)
{
    char buf[2 * MSGID_BYTES + 1];
    if (len > MSGID_BYTES)
        len = MSGID_BYTES;
    hex_encode(bin, len, buf);
    return json_string(buf);
}

/* ---- loading the partner, the target and the third node ---- */

static int s_read_pub(const char *dir, const char *name, const char *label, unsigned char *out)
{
    char err[4400];
    return toolkeys_read_pub(dir, name, label, out, err, sizeof err) == 0 ? 0 : s_err(err, NULL);
}

static int s_peer_load(const char *dir, s_peer_t *peer)
{
    char err[512];
    if (config_load(dir, &peer->cfg, err, sizeof err) != 0)
        return s_err(err, NULL);
    if (strncmp(peer->cfg.endpoint, LOOPBACK_PREFIX, strlen(LOOPBACK_PREFIX)) != 0)
        return s_err("refusing a non-loopback endpoint", peer->cfg.endpoint);
    if (s_read_pub(dir, "sign", "moux-ed25519-public", peer->sign_pk) != 0 ||
        s_read_pub(dir, "enc", "moux-x25519-public", peer->enc_pk) != 0 ||
        s_read_pub(dir, "curve", "moux-curve-public", peer->curve_pk) != 0)
        return -1;
    keyid_of(peer->enc_pk, 32, peer->enc_id);
    return 0;
}

static int s_derive_tx(s_ctx_t *c, const s_peer_t *peer, unsigned char *tx)
{
    if (envelope_derive_keys(c->keys->enc_sk, c->keys->enc_pk, peer->enc_pk, tx,
                             c->rx_scratch) != 0)
        return s_err("cannot derive batch keys for", peer->cfg.agency);
    return 0;
}

static int s_load(s_ctx_t *c)
{
    char err[512];
    if (config_load(c->o.as_dir, &c->self, err, sizeof err) != 0)
        return s_err(err, NULL);
    c->keys = nodekeys_load(c->o.as_dir, err, sizeof err);
    if (!c->keys)
        return s_err(err, NULL);
    c->store = store_open(c->o.as_dir, STORE_RW, err, sizeof err);
    if (!c->store)
        return s_err(err, NULL);
    c->tx_target = sodium_malloc(BATCH_KEY_BYTES);
    c->tx_other = sodium_malloc(BATCH_KEY_BYTES);
    c->rx_scratch = sodium_malloc(BATCH_KEY_BYTES);
    if (!c->tx_target || !c->tx_other || !c->rx_scratch)
        return s_err("out of memory", NULL);
    if (s_peer_load(c->o.to_dir, &c->target) != 0 || s_derive_tx(c, &c->target, c->tx_target))
        return -1;
    if (c->o.other_dir) {
        if (s_peer_load(c->o.other_dir, &c->other) != 0 ||
            s_derive_tx(c, &c->other, c->tx_other) != 0)
            return -1;
        c->have_other = 1;
    }
    return 0;
}

/* Takes n fresh sequence numbers for the direction to agency from the
 * partner's store, as its daemon would: they are reserved before use. */
static int s_take_seq(s_ctx_t *c, const char *agency, uint64_t n, uint64_t *first)
{
    if (c->o.seq) {
        *first = c->o.seq;
        return 0;
    }
    partner_t *ps = NULL;
    size_t count = 0, i = 0;
    int rc = -1;
    if (store_partners(c->store, &ps, &count) != 0)
        return s_err("partner store", store_errmsg(c->store));
    while (i < count && strcmp(ps[i].agency, agency) != 0)
        i++;
    uint64_t base = i < count && ps[i].tx_seq_reserved ? ps[i].tx_seq_reserved : 1;
    if (i == count)
        s_err("the impersonated node has no partner named", agency);
    else if (store_partner_set_seq_reserved(c->store, ps[i].pid, base + n) != 0)
        s_err("partner store", store_errmsg(c->store));
    else {
        *first = base;
        rc = 0;
    }
    free(ps);
    return rc;
}

/* ---- building and sealing batches ---- */

/* "a,b" into at most 16 entries pointing into *copy (caller frees it). */
static void s_split(const char *list, char **copy, char **out, size_t *n)
{
    char *save = NULL;
    *n = 0;
    if (!list || !(*copy = strdup(list)))
        return;
    for (char *t = strtok_r(*copy, ",", &save); t && *n < 16; t = strtok_r(NULL, ",", &save))
        out[(*n)++] = t;
}

/* One indicator from the options, packed copies times into a Batch
 * payload (caller frees). The item's id is written into id. */
static uint8_t *s_pack_item(s_ctx_t *c, size_t copies, char id[IND_ID_LEN + 1], size_t *len)
{
    ind_type_t type;
    tlp_t tlp;
    const char *why = NULL;
    char norm[IND_VALUE_MAX + 1], pattern[IND_PATTERN_MAX + 1], uuid[37];
    if (ind_type_parse(c->o.type, &type) != 0 || tlp_parse(c->o.tlp, &tlp) != 0) {
        s_err("--type or --tlp not understood", NULL);
        return NULL;
    }
    /* An invalid value is sent as given: the target must refuse it. */
    if (ind_normalise(type, c->o.value, norm, sizeof norm, &why) != 0)
        str_copy(norm, sizeof norm, c->o.value);
    if (ind_pattern(type, norm, pattern, sizeof pattern) != 0)
        pattern[0] = '\0';
    uuid4(uuid);
    snprintf(id, IND_ID_LEN + 1, "indicator--%s", uuid);
    if (c->o.id)
        str_copy(id, IND_ID_LEN + 1, c->o.id);
    uint64_t now = c->o.id ? c->o.modified_ms : now_ms();
    Moux__Indicator ind = MOUX__INDICATOR__INIT;
    ind.id = id;
    ind.type = (char *)c->o.type;
    ind.value = norm;
    ind.tlp = (Moux__Tlp)tlp;
    ind.confidence = (uint32_t)c->o.confidence;
    ind.created_ms = ind.modified_ms = ind.valid_from_ms = now;
    ind.origin = (char *)(c->o.origin ? c->o.origin : c->self.agency);
    ind.pattern = pattern;
    char *lists[2] = {NULL, NULL}, *hops[16], *labels[16];
    ind.hops = hops;
    ind.labels = labels;
    s_split(c->o.hops, &lists[0], hops, &ind.n_hops);
    s_split(c->o.labels, &lists[1], labels, &ind.n_labels);
    Moux__Indicator **items = malloc(copies * sizeof *items);
    uint8_t *buf = NULL;
    for (size_t k = 0; items && k < copies; k++)
        items[k] = &ind;
    Moux__Batch batch = MOUX__BATCH__INIT;
    batch.n_items = copies;
    batch.items = items;
    *len = items ? moux__batch__get_packed_size(&batch) : 0;
    if (items && (buf = malloc(*len ? *len : 1)))
        moux__batch__pack(&batch, buf);
    if (!buf)
        s_err("out of memory", NULL);
    free(items);
    /* nul-string: a NUL inside the value's bytes, which protobuf-c alone
     * would cut the value at. */
    size_t vlen = strlen(norm), i = 0;
    while (buf && c->o.mode == M_NUL_STRING && vlen > 1 && i + vlen <= *len &&
           memcmp(buf + i, norm, vlen) != 0)
        i++;
    if (buf && c->o.mode == M_NUL_STRING) {
        if (vlen < 2 || i + vlen > *len) {
            free(buf);
            buf = NULL;
            s_err("nul-string: the value is too short to hold a NUL inside", NULL);
        } else {
            buf[i + vlen / 2] = 0;
        }
    }
    free(lists[0]);
    free(lists[1]);
    return buf;
}

/* The MOU hash a batch to recipient names: --mou-hash, or the partner's
 * active MOU with it (none: empty). */
static size_t s_mou_hash(s_ctx_t *c, const char *recipient, unsigned char out[32])
{
    if (c->o.mou_hash)
        return strcmp(c->o.mou_hash, "none") != 0 && hex_decode(c->o.mou_hash, out, 32) == 0
                   ? 32 : 0;
    store_mou_t m;
    if (store_mou_active(c->store, recipient, &m) != 1)
        return 0;
    memcpy(out, m.hash, 32);
    store_mou_free(&m);
    return 32;
}

static uint8_t *s_pack_header(s_ctx_t *c, const s_seal_t *s, uint64_t timestamp_ms,
                              unsigned char nonce[NONCE_BYTES], size_t *hlen)
{
    Moux__BatchHeader h = MOUX__BATCH_HEADER__INIT;
    h.version = s->version;
    h.sender = (char *)s->sender;
    h.recipient = (char *)s->recipient;
    h.mou_id = "";
    unsigned char mou_hash[32];
    h.mou_hash = (ProtobufCBinaryData){s_mou_hash(c, s->recipient, mou_hash), mou_hash};
    h.sender_key_id = (ProtobufCBinaryData){KEYID_BYTES, c->keys->sign_id};
    h.recipient_key_id = (ProtobufCBinaryData){KEYID_BYTES, (uint8_t *)s->recipient_key_id};
    h.message_id = (ProtobufCBinaryData){MSGID_BYTES, (uint8_t *)s->message_id};
    h.sequence = s->sequence;
    h.timestamp_ms = timestamp_ms;
    h.nonce = (ProtobufCBinaryData){NONCE_BYTES, nonce};
    h.item_count = s->item_count;
    *hlen = moux__batch_header__get_packed_size(&h);
    uint8_t *buf = malloc(*hlen);
    if (buf)
        moux__batch_header__pack(&h, buf);
    return buf;
}

static uint8_t *s_pack_frame(const uint8_t *header, size_t hlen, const uint8_t *cipher,
                             size_t clen, size_t *flen)
{
    Moux__Envelope env = MOUX__ENVELOPE__INIT;
    env.header = (ProtobufCBinaryData){hlen, (uint8_t *)header};
    env.ciphertext = (ProtobufCBinaryData){clen, (uint8_t *)cipher};
    Moux__Frame f = MOUX__FRAME__INIT;
    f.kind_case = MOUX__FRAME__KIND_ENVELOPE;
    f.envelope = &env;
    *flen = moux__frame__get_packed_size(&f);
    uint8_t *buf = malloc(*flen);
    if (buf)
        moux__frame__pack(&f, buf);
    return buf;
}

/* The construction of envelope.h, step by step, so that one step can be
 * corrupted: the signature before encryption, the ciphertext after it, or
 * the header (the AEAD associated data) after sealing. */
static uint8_t *s_seal(s_ctx_t *c, s_seal_t *s, const uint8_t *payload, size_t plen,
                       size_t *flen)
{
    unsigned char nonce[NONCE_BYTES], sig[SIG_BYTES];
    size_t hlen = 0, mlen = SIG_BYTES + plen, sent_hlen = 0;
    unsigned long long clen = 0;
    uint8_t *frame = NULL, *sent_header = NULL;
    randombytes_buf(s->message_id, MSGID_BYTES);
    randombytes_buf(nonce, sizeof nonce);
    uint8_t *header = s_pack_header(c, s, s->timestamp_ms, nonce, &hlen);
    uint8_t *plain = sodium_malloc(mlen);
    uint8_t *cipher = malloc(mlen + crypto_aead_xchacha20poly1305_ietf_ABYTES);
    uint8_t hash[BATCH_HASH_BYTES];
    if (!header || !plain || !cipher) {
        s_err("out of memory", NULL);
        goto out;
    }
    envelope_hash(header, hlen, payload, plen, hash);
    if (ctxsig_sign(CTX_BATCH, hash, sizeof hash, c->keys->sign_sk, sig) != 0) {
        s_err("out of memory", NULL);
        goto out;
    }
    if (s->tamper == TAMPER_SIGNATURE)
        sig[SIG_BYTES / 2] ^= 0x01;
    memcpy(plain, sig, SIG_BYTES);
    if (plen)
        memcpy(plain + SIG_BYTES, payload, plen);
    crypto_aead_xchacha20poly1305_ietf_encrypt(cipher, &clen, plain, mlen, header, hlen, NULL,
                                               nonce, s->tx_key);
    if (s->tamper == TAMPER_CIPHERTEXT)
        cipher[clen / 2] ^= 0x01;
    if (s->tamper == TAMPER_HEADER) {
        /* One bit of the timestamp: the header still parses and is still
         * fresh; only the AEAD tag can tell. Same varint length. */
        sent_header = s_pack_header(c, s, s->timestamp_ms ^ 1u, nonce, &sent_hlen);
        if (!sent_header || sent_hlen != hlen) {
            s_err("cannot repack the header", NULL);
            goto out;
        }
    }
    if (s->tamper == TAMPER_HEADER_GARBAGE) {
        if (!(sent_header = malloc(hlen))) {
            s_err("out of memory", NULL);
            goto out;
        }
        sent_hlen = hlen;
        randombytes_buf(sent_header, hlen);
        sent_header[0] = 0x07; /* an unparseable first tag: never a BatchHeader by chance */
    }
    frame = sent_header ? s_pack_frame(sent_header, sent_hlen, cipher, (size_t)clen, flen)
                        : s_pack_frame(header, hlen, cipher, (size_t)clen, flen);
    if (!frame)
        s_err("out of memory", NULL);
out:
    sodium_memzero(sig, sizeof sig);
    sodium_free(plain);
    free(header);
    free(sent_header);
    free(cipher);
    return frame;
}

/* A batch addressed to the target and sealed for it, unless the mode says
 * otherwise. */
static void s_seal_defaults(s_ctx_t *c, s_seal_t *s, uint64_t seq)
{
    memset(s, 0, sizeof *s);
    s->sender = c->self.agency;
    s->version = PROTOCOL_VERSION;
    s->copies = 1;
    s->recipient = c->target.cfg.agency;
    s->recipient_key_id = c->target.enc_id;
    s->tx_key = c->tx_target;
    s->sequence = seq;
    s->timestamp_ms = now_ms();
    s->item_count = 1;
    s->tamper = TAMPER_NONE;
}

/* ---- the connection ---- */

static int s_setopt_int(void *sock, int opt, int val)
{
    return zmq_setsockopt(sock, opt, &val, sizeof val);
}

static int s_connect(s_ctx_t *c, const unsigned char *curve_pk, const unsigned char *curve_sk)
{
    c->zctx = zmq_ctx_new();
    c->dealer = c->zctx ? zmq_socket(c->zctx, ZMQ_DEALER) : NULL;
    if (!c->dealer ||
        zmq_setsockopt(c->dealer, ZMQ_CURVE_SERVERKEY, c->target.curve_pk, 32) ||
        zmq_setsockopt(c->dealer, ZMQ_CURVE_PUBLICKEY, curve_pk, 32) ||
        zmq_setsockopt(c->dealer, ZMQ_CURVE_SECRETKEY, curve_sk, 32) ||
        s_setopt_int(c->dealer, ZMQ_LINGER, 0) ||
        s_setopt_int(c->dealer, ZMQ_SNDTIMEO, (int)c->o.timeout_ms) ||
        s_setopt_int(c->dealer, ZMQ_RECONNECT_IVL, 250) ||
        zmq_socket_monitor(c->dealer, MONITOR_EP,
                           ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_DISCONNECTED |
                               ZMQ_EVENT_HANDSHAKE_FAILED_AUTH |
                               ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                               ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL) != 0)
        return s_err("cannot set up the DEALER", zmq_strerror(zmq_errno()));
    c->monitor = zmq_socket(c->zctx, ZMQ_PAIR);
    if (!c->monitor || zmq_connect(c->monitor, MONITOR_EP) != 0 ||
        zmq_connect(c->dealer, c->target.cfg.endpoint) != 0)
        return s_err("cannot connect", zmq_strerror(zmq_errno()));
    return 0;
}

static void s_disconnect(s_ctx_t *c)
{
    if (c->dealer) {
        zmq_socket_monitor(c->dealer, NULL, 0);
        zmq_close(c->dealer);
    }
    if (c->monitor)
        zmq_close(c->monitor);
    if (c->zctx)
        zmq_ctx_term(c->zctx);
    c->dealer = c->monitor = c->zctx = NULL;
}

/* One monitor event: 0 none waiting, else the event; *value its value. */
static uint16_t s_monitor_event(s_ctx_t *c, uint32_t *value)
{
    zmq_msg_t ev, addr;
    uint16_t event = 0;
    zmq_msg_init(&ev);
    if (zmq_msg_recv(&ev, c->monitor, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&ev);
        return 0;
    }
    if (zmq_msg_size(&ev) >= 6) {
        memcpy(&event, zmq_msg_data(&ev), 2);
        memcpy(value, (uint8_t *)zmq_msg_data(&ev) + 2, 4);
    }
    int more = zmq_msg_more(&ev);
    zmq_msg_close(&ev);
    if (more) {
        zmq_msg_init(&addr);
        zmq_msg_recv(&addr, c->monitor, 0);
        zmq_msg_close(&addr);
    }
    if (event == ZMQ_EVENT_DISCONNECTED)
        c->disconnected = 1;
    return event;
}

/* "ok", "refused" (ZAP said no), "failed" or "timeout". */
static const char *s_handshake(s_ctx_t *c, uint32_t *status)
{
    uint64_t deadline = mono_ms() + (uint64_t)c->o.timeout_ms;
    *status = 0;
    for (int polls = 0; polls < 1000 && mono_ms() < deadline; polls++) {
        zmq_pollitem_t it = {c->monitor, 0, ZMQ_POLLIN, 0};
        long left = (long)(deadline - mono_ms());
        if (zmq_poll(&it, 1, left > 0 ? left : 0) < 0)
            return "failed";
        uint16_t ev;
        while ((ev = s_monitor_event(c, status)) != 0) {
            if (ev == ZMQ_EVENT_HANDSHAKE_SUCCEEDED)
                return "ok";
            if (ev == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH)
                return "refused";
            if (ev == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL ||
                ev == ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL)
                return "failed";
        }
    }
    return "timeout";
}

static int s_send(s_ctx_t *c, const uint8_t *frame, size_t len)
{
    if (zmq_send(c->dealer, frame, len, 0) < 0)
        return s_err("cannot send", zmq_strerror(zmq_errno()));
    return 0;
}

/* Waits (bounded) for one frame from the target: 1 and *msg filled, 0 on
 * timeout, -1 on error. Watches the monitor for a dropped connection. */
static int s_recv(s_ctx_t *c, zmq_msg_t *msg)
{
    uint64_t deadline = mono_ms() + (uint64_t)c->o.timeout_ms;
    for (int polls = 0; polls < 1000 && mono_ms() < deadline; polls++) {
        zmq_pollitem_t it[2] = {{c->dealer, 0, ZMQ_POLLIN, 0}, {c->monitor, 0, ZMQ_POLLIN, 0}};
        long left = (long)(deadline - mono_ms());
        if (zmq_poll(it, 2, left > 0 ? left : 0) < 0)
            return s_err("poll", zmq_strerror(zmq_errno()));
        uint32_t value;
        while (s_monitor_event(c, &value) != 0)
            ;
        if (zmq_msg_recv(msg, c->dealer, ZMQ_DONTWAIT) >= 0)
            return 1;
    }
    return 0;
}

/* ---- receipts ---- */

static const char *s_item_status(Moux__ItemStatus st)
{
    return st == MOUX__ITEM_STATUS__ITEM_ACCEPTED    ? "accepted"
           : st == MOUX__ITEM_STATUS__ITEM_DUPLICATE ? "duplicate"
           : st == MOUX__ITEM_STATUS__ITEM_REJECTED  ? "rejected"
                                                     : "unknown";
}

static const char s_other_msgid[] = "receipt names another message id";

/* Why a verified receipt does not belong to this exchange, or NULL. */
static const char *s_receipt_mismatch(s_ctx_t *c, const Moux__ReceiptBody *b,
                                      const uint8_t *msgid)
{
    unsigned char kid[KEYID_BYTES];
    keyid_of(c->target.sign_pk, 32, kid);
    if (strcmp(b->sender, c->target.cfg.agency) != 0 || strcmp(b->recipient, c->self.agency))
        return "receipt names the wrong agencies";
    if (b->signer_key_id.len != KEYID_BYTES || memcmp(b->signer_key_id.data, kid, KEYID_BYTES))
        return "receipt signer key id is not the target's";
    if (msgid && memcmp(b->message_id.data, msgid, MSGID_BYTES) != 0)
        return s_other_msgid;
    return NULL;
}

static json_t *s_body_json(const Moux__ReceiptBody *b)
{
    json_t *results = json_array();
    for (size_t i = 0; i < b->n_results; i++) {
        const Moux__ItemResult *r = b->results[i];
        json_t *o = json_pack("{s:s, s:s}", "id", r->id, "status", s_item_status(r->status));
        if (r->reason && r->reason[0])
            json_object_set_new(o, "reason", json_string(r->reason));
        json_array_append_new(results, o);
    }
    json_t *o = json_pack("{s:b, s:b, s:s, s:I, s:o, s:o}", "receipt", 1, "verified", 1,
                          "status",
                          b->status == MOUX__BATCH_STATUS__BATCH_OK ? "ok" : "refused",
                          "sequence", (json_int_t)b->sequence, "message_id",
                          s_hex(b->message_id.data, b->message_id.len), "results", results);
    if (b->reason && b->reason[0])
        json_object_set_new(o, "reason", json_string(b->reason));
    return o;
}

/* Verifies one received frame as the target's receipt for msgid (NULL: any
 * message) and describes it. */
static json_t *s_receipt_json(s_ctx_t *c, const uint8_t *data, size_t len, const uint8_t *msgid)
{
    Moux__Frame *f = moux__frame__unpack(NULL, len, data);
    Moux__ReceiptBody *b = NULL;
    const char *why = NULL;
    json_t *o;
    if (!f || f->kind_case != MOUX__FRAME__KIND_RECEIPT)
        why = "not a receipt frame";
    else if (receipt_open(f->receipt, c->target.sign_pk, NULL, &b, &why) == 0)
        why = s_receipt_mismatch(c, b, msgid);
    if (why)
        o = json_pack("{s:b, s:b, s:s}", "receipt", 1, "verified", 0, "why", why);
    else
        o = s_body_json(b);
    if (why && why == s_other_msgid)
        json_object_set_new(o, "stray", json_true());
    if (b)
        moux__receipt_body__free_unpacked(b, NULL);
    if (f)
        moux__frame__free_unpacked(f, NULL);
    return o;
}

/* Sends frame and waits for the answer to msgid. Returns the description
 * (NULL on a local error); *raw, if given, receives the receipt bytes
 * (caller frees; NULL when none came). */
static json_t *s_exchange(s_ctx_t *c, const uint8_t *frame, size_t len, const uint8_t *msgid,
                          uint8_t **raw, size_t *raw_len)
{
    if (raw)
        *raw = NULL;
    if (s_send(c, frame, len) != 0)
        return NULL;
    for (int i = 0; i < FRAMES_MAX; i++) {
        zmq_msg_t msg;
        zmq_msg_init(&msg);
        int got = s_recv(c, &msg);
        if (got <= 0) {
            zmq_msg_close(&msg);
            return got < 0 ? NULL
                           : json_pack("{s:b, s:b}", "receipt", 0, "disconnected",
                                       c->disconnected);
        }
        json_t *o = s_receipt_json(c, zmq_msg_data(&msg), zmq_msg_size(&msg), msgid);
        /* Unverifiable answers are reported; only a verified receipt for
         * another message is skipped. */
        int mine = !json_is_true(json_object_get(o, "stray"));
        if (mine && raw) {
            *raw_len = zmq_msg_size(&msg);
            *raw = malloc(*raw_len);
            if (*raw)
                memcpy(*raw, zmq_msg_data(&msg), *raw_len);
        }
        zmq_msg_close(&msg);
        if (mine)
            return o;
        json_decref(o); /* a stray answer to something else: keep waiting */
    }
    return json_pack("{s:b, s:s}", "receipt", 0, "why", "only unrelated frames arrived");
}

/* ---- the modes ---- */

/* Merges src into dst (src's keys win) and releases src. */
static json_t *s_merge(json_t *dst, json_t *src)
{
    if (src) {
        json_object_update(dst, src);
        json_decref(src);
    }
    return dst;
}

/* Seals one batch carrying one item (s->copies times) and sends it; the
 * answer goes into out. */
static int s_one_batch(s_ctx_t *c, s_seal_t *s, json_t *out, uint8_t **frame_out,
                       size_t *flen_out, uint8_t **raw, size_t *raw_len)
{
    char id[IND_ID_LEN + 1];
    size_t plen = 0, flen = 0;
    uint8_t *payload = s_pack_item(c, s->copies, id, &plen);
    uint8_t *frame = payload ? s_seal(c, s, payload, plen, &flen) : NULL;
    free(payload);
    if (!frame)
        return -1;
    json_object_set_new(out, "item",
                        json_pack("{s:s, s:s, s:s, s:s}", "id", id, "type", c->o.type, "value",
                                  c->o.value, "tlp", c->o.tlp));
    json_object_set_new(out, "sent_sequence", json_integer((json_int_t)s->sequence));
    json_t *answer = s_exchange(c, frame, flen, s->message_id, raw, raw_len);
    if (frame_out) {
        *frame_out = frame;
        *flen_out = flen;
    } else {
        free(frame);
    }
    if (!answer)
        return -1;
    s_merge(out, answer);
    return 0;
}

static int s_mode_single(s_ctx_t *c, json_t *out)
{
    s_seal_t s;
    uint64_t seq = 0;
    const char *agency = c->o.mode == M_OTHER_AGENCY ? c->other.cfg.agency : c->target.cfg.agency;
    if (s_take_seq(c, agency, 1, &seq) != 0)
        return -1;
    s_seal_defaults(c, &s, seq);
    switch (c->o.mode) {
    case M_FLIP_SIGNATURE: s.tamper = TAMPER_SIGNATURE; break;
    case M_FLIP_CIPHERTEXT: s.tamper = TAMPER_CIPHERTEXT; break;
    case M_FLIP_HEADER: s.tamper = TAMPER_HEADER; break;
    case M_STALE: s.timestamp_ms -= STALE_MS; break;
    case M_SENDER_MISMATCH: s.sender = c->have_other ? c->other.cfg.agency : "zz.nobody"; break;
    case M_COUNT_MISMATCH: s.item_count = 2; break; /* one item in the payload */
    case M_TOO_MANY_ITEMS: s.copies = s.item_count = BATCH_ITEMS_LIMIT + 1; break;
    case M_BAD_VERSION: s.version = PROTOCOL_VERSION + 1; break;
    case M_MALFORMED_HEADER: s.tamper = TAMPER_HEADER_GARBAGE; break;
    case M_WRONG_RECIPIENT:
        /* Names another agency, yet sealed with the target's keys. */
        s.recipient = c->have_other ? c->other.cfg.agency : "zz.nobody";
        break;
    case M_OTHER_AGENCY:
        /* A proper batch for the third node, delivered to the target. */
        s.recipient = c->other.cfg.agency;
        s.recipient_key_id = c->other.enc_id;
        s.tx_key = c->tx_other;
        break;
    default: break;
    }
    if (c->o.mode == M_WRONG_RECIPIENT || c->o.mode == M_OTHER_AGENCY)
        json_object_set_new(out, "header_recipient", json_string(s.recipient));
    return s_one_batch(c, &s, out, NULL, NULL, NULL, NULL);
}

/* The identical bytes twice: the same receipt must come back. */
static int s_mode_replay(s_ctx_t *c, json_t *out)
{
    s_seal_t s;
    uint64_t seq = 0;
    uint8_t *frame = NULL, *raw1 = NULL, *raw2 = NULL;
    size_t flen = 0, len1 = 0, len2 = 0;
    int rc = -1;
    json_t *first = json_object();
    if (s_take_seq(c, c->target.cfg.agency, 1, &seq) != 0)
        goto out;
    s_seal_defaults(c, &s, seq);
    if (s_one_batch(c, &s, first, &frame, &flen, &raw1, &len1) != 0)
        goto out;
    json_t *second = s_exchange(c, frame, flen, s.message_id, &raw2, &len2);
    if (!second)
        goto out;
    json_object_set(out, "item", json_object_get(first, "item"));
    json_object_set(out, "sent_sequence", json_object_get(first, "sent_sequence"));
    s_merge(out, second);
    json_object_set(out, "first", first);
    json_object_set_new(out, "identical",
                        json_boolean(raw1 && raw2 && len1 == len2 && !memcmp(raw1, raw2, len1)));
    rc = 0;
out:
    json_decref(first);
    free(frame);
    free(raw1);
    free(raw2);
    return rc;
}

/* Two different batches under one sequence number. */
static int s_mode_seq_replay(s_ctx_t *c, json_t *out)
{
    s_seal_t s;
    uint64_t seq = 0;
    int rc = -1;
    json_t *first = json_object();
    if (s_take_seq(c, c->target.cfg.agency, 1, &seq) != 0)
        goto out;
    s_seal_defaults(c, &s, seq);
    if (s_one_batch(c, &s, first, NULL, NULL, NULL, NULL) != 0)
        goto out;
    s_seal_defaults(c, &s, seq);
    if (s_one_batch(c, &s, out, NULL, NULL, NULL, NULL) != 0)
        goto out;
    json_object_set(out, "first", first);
    rc = 0;
out:
    json_decref(first);
    return rc;
}

/* A properly sealed envelope whose plaintext is not a Batch. */
static int s_mode_malformed(s_ctx_t *c, json_t *out)
{
    /* Field 0 with wire type 7 cannot be parsed by any protobuf reader. */
    static const uint8_t junk[] = {0x07, 0xff, 0xff, 0xff, 0x13, 0x37};
    s_seal_t s;
    uint64_t seq = 0;
    size_t flen = 0;
    if (s_take_seq(c, c->target.cfg.agency, 1, &seq) != 0)
        return -1;
    s_seal_defaults(c, &s, seq);
    uint8_t *frame = s_seal(c, &s, junk, sizeof junk, &flen);
    if (!frame)
        return -1;
    json_object_set_new(out, "sent_sequence", json_integer((json_int_t)seq));
    json_t *answer = s_exchange(c, frame, flen, s.message_id, NULL, NULL);
    free(frame);
    if (!answer)
        return -1;
    s_merge(out, answer);
    return 0;
}

/* Bytes that are no Frame at all, or more bytes than the target takes. */
static int s_mode_raw(s_ctx_t *c, json_t *out)
{
    size_t len = c->o.mode == M_OVERSIZED ? (size_t)c->target.cfg.max_message_bytes + 4096
                                          : GARBAGE_BYTES;
    uint8_t *buf = malloc(len);
    if (!buf)
        return s_err("out of memory", NULL);
    randombytes_buf(buf, len);
    buf[0] = 0x07; /* an unparseable first tag: never a Frame by chance */
    json_object_set_new(out, "sent_bytes", json_integer((json_int_t)len));
    json_t *answer = s_exchange(c, buf, len, NULL, NULL, NULL);
    free(buf);
    if (!answer)
        return -1;
    s_merge(out, answer);
    return 0;
}

/* A checkpoint of the partner's audit log offered for witnessing, its
 * signature spoilt by one bit: the target must refuse to countersign it. */
static int s_mode_bad_checkpoint(s_ctx_t *c, json_t *out)
{
    checkpoint_t cp = {.size = 1, .timestamp_ms = now_ms()};
    str_copy(cp.log, sizeof cp.log, c->self.agency);
    randombytes_buf(cp.root, sizeof cp.root);
    uint8_t *raw = NULL, *frame = NULL;
    size_t len = 0, flen = 0;
    if (checkpoint_sign(&cp, c->keys->sign_pk, c->keys->sign_sk, &raw, &len) != 0)
        return s_err("cannot sign a checkpoint", NULL);
    Moux__SignedCheckpoint *sc = moux__signed_checkpoint__unpack(NULL, len, raw);
    free(raw);
    if (!sc || sc->signature.len != 64) {
        if (sc)
            moux__signed_checkpoint__free_unpacked(sc, NULL);
        return s_err("cannot read back the signed checkpoint", NULL);
    }
    sc->signature.data[7] ^= 0x01;
    Moux__CheckpointOffer offer = MOUX__CHECKPOINT_OFFER__INIT;
    offer.checkpoint = sc;
    Moux__Frame f = MOUX__FRAME__INIT;
    f.kind_case = MOUX__FRAME__KIND_CHECKPOINT_OFFER;
    f.checkpoint_offer = &offer;
    flen = moux__frame__get_packed_size(&f);
    if ((frame = malloc(flen)))
        moux__frame__pack(&f, frame);
    moux__signed_checkpoint__free_unpacked(sc, NULL);
    if (!frame)
        return s_err("out of memory", NULL);
    int sent = s_send(c, frame, flen);
    free(frame);
    if (sent != 0)
        return -1;
    for (int i = 0; i < FRAMES_MAX; i++) {
        zmq_msg_t msg;
        zmq_msg_init(&msg);
        int got = s_recv(c, &msg);
        Moux__Frame *a = got > 0 ? moux__frame__unpack(NULL, zmq_msg_size(&msg), zmq_msg_data(&msg))
                                 : NULL;
        zmq_msg_close(&msg);
        if (got < 0)
            return -1;
        if (got == 0)
            break;
        if (a && a->kind_case == MOUX__FRAME__KIND_CHECKPOINT_ACK) {
            json_object_set_new(out, "checkpoint_ack", json_true());
            json_object_set_new(out, "refused", json_string(a->checkpoint_ack->refused));
            json_object_set_new(out, "countersigned",
                                json_boolean(a->checkpoint_ack->countersignature.len > 0));
            moux__frame__free_unpacked(a, NULL);
            return 0;
        }
        if (a)
            moux__frame__free_unpacked(a, NULL); /* something else: keep waiting */
    }
    json_object_set_new(out, "checkpoint_ack", json_false());
    return 0;
}

static int s_run(s_ctx_t *c, json_t *out)
{
    switch (c->o.mode) {
    case M_REPLAY: return s_mode_replay(c, out);
    case M_SEQ_REPLAY: return s_mode_seq_replay(c, out);
    case M_MALFORMED_PAYLOAD: return s_mode_malformed(c, out);
    case M_BAD_CHECKPOINT: return s_mode_bad_checkpoint(c, out);
    case M_GARBAGE:
    case M_OVERSIZED: return s_mode_raw(c, out);
    default: return s_mode_single(c, out);
    }
}

/* Connects (with a fresh CURVE key for unknown-key), then runs the mode. */
static int s_attack(s_ctx_t *c, json_t *out)
{
    unsigned char fresh_pk[32];
    unsigned char *fresh_sk = NULL;
    const unsigned char *pk = c->keys->curve_pk, *sk = c->keys->curve_sk;
    int rc = -1;
    if (c->o.mode == M_UNKNOWN_KEY) {
        fresh_sk = sodium_malloc(32);
        if (!fresh_sk)
            return s_err("out of memory", NULL);
        crypto_box_keypair(fresh_pk, fresh_sk); /* CURVE keys are X25519 */
        pk = fresh_pk;
        sk = fresh_sk;
    }
    if (s_connect(c, pk, sk) != 0)
        goto out;
    uint32_t status = 0;
    const char *hs = s_handshake(c, &status);
    json_object_set_new(out, "handshake", json_string(hs));
    if (strcmp(hs, "refused") == 0)
        json_object_set_new(out, "zap_status", json_integer((json_int_t)status));
    if (strcmp(hs, "ok") != 0) {
        json_object_set_new(out, "receipt", json_false());
        rc = 0;
        goto out;
    }
    rc = c->o.mode == M_UNKNOWN_KEY ? s_mode_single(c, out) : s_run(c, out);
out:
    sodium_free(fresh_sk);
    return rc;
}

/* ---- main ---- */

static int s_usage(void)
{
    fprintf(stderr, "usage: mouxhostile --as PARTNER_DIR --to TARGET_DIR [--other DIR] "
                    "[--type T] [--value V] [--tlp LEVEL] [--timeout-ms N] [--seq N] [--origin AGENCY] "
                    "[--hops A,B] [--confidence N] [--labels L,M] [--mou-hash HEX|none] "
                    "[--id ID --modified-ms MS] MODE\n"
                    "modes:");
    for (size_t i = 0; i < N_MODES; i++)
        fprintf(stderr, " %s", s_modes[i].name);
    fprintf(stderr, "\n");
    return 2;
}

static int s_parse(int argc, char **argv, s_opts_t *o)
{
    static const struct option opts[] = {
        {"as", required_argument, 0, 'a'},    {"to", required_argument, 0, 't'},
        {"other", required_argument, 0, 'o'}, {"type", required_argument, 0, 'T'},
        {"value", required_argument, 0, 'V'}, {"tlp", required_argument, 0, 'L'},
        {"timeout-ms", required_argument, 0, 'w'}, {"seq", required_argument, 0, 's'},
        {"origin", required_argument, 0, 'O'}, {"hops", required_argument, 0, 'H'},
        {"labels", required_argument, 0, 'B'}, {"confidence", required_argument, 0, 'C'},
        {"mou-hash", required_argument, 0, 'M'}, {"id", required_argument, 0, 'I'},
        {"modified-ms", required_argument, 0, 'm'}, {0, 0, 0, 0}};
    memset(o, 0, sizeof *o);
    o->type = "ipv4-addr";
    o->value = "198.51.100.1";
    o->tlp = "green";
    o->timeout_ms = 3000;
    o->confidence = 50;
    int ch;
    char *end = NULL;
    while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (ch) {
        case 'a': o->as_dir = optarg; break;
        case 't': o->to_dir = optarg; break;
        case 'o': o->other_dir = optarg; break;
        case 'T': o->type = optarg; break;
        case 'V': o->value = optarg; break;
        case 'L': o->tlp = optarg; break;
        case 'O': o->origin = optarg; break;
        case 'H': o->hops = optarg; break;
        case 'B': o->labels = optarg; break;
        case 'M': o->mou_hash = optarg; break;
        case 'I': o->id = optarg; break;
        case 'm':
            o->modified_ms = strtoull(optarg, &end, 10);
            if (!end || *end || o->modified_ms == 0)
                return -1;
            break;
        case 'C':
            o->confidence = strtol(optarg, &end, 10);
            if (!end || *end || o->confidence < 0 || o->confidence > 100)
                return -1;
            break;
        case 'w':
            o->timeout_ms = strtol(optarg, &end, 10);
            if (!end || *end || o->timeout_ms < 100 || o->timeout_ms > 60000)
                return -1;
            break;
        case 's':
            o->seq = strtoull(optarg, &end, 10);
            if (!end || *end || o->seq == 0)
                return -1;
            break;
        default: return -1;
        }
    }
    ind_type_t type;
    tlp_t tlp;
    if (!o->as_dir || !o->to_dir || optind != argc - 1 || ind_type_parse(o->type, &type) != 0 ||
        tlp_parse(o->tlp, &tlp) != 0 || !o->id != !o->modified_ms ||
        (o->id && strlen(o->id) > IND_ID_LEN))
        return -1;
    o->mode_name = argv[optind];
    for (size_t i = 0; i < N_MODES; i++)
        if (strcmp(s_modes[i].name, o->mode_name) == 0) {
            o->mode = s_modes[i].mode;
            return o->mode == M_OTHER_AGENCY && !o->other_dir ? -1 : 0;
        }
    return -1;
}

static void s_cleanup(s_ctx_t *c)
{
    s_disconnect(c);
    store_destroy(&c->store);
    nodekeys_destroy(&c->keys);
    sodium_free(c->tx_target);
    sodium_free(c->tx_other);
    sodium_free(c->rx_scratch);
}

int main(int argc, char **argv)
{
    s_ctx_t c;
    memset(&c, 0, sizeof c);
    if (s_parse(argc, argv, &c.o) != 0)
        return s_usage();
    if (sodium_init() < 0) {
        s_err("cannot initialise libsodium", NULL);
        return 1;
    }
    int rc = 1;
    json_t *out = json_pack("{s:s}", "mode", c.o.mode_name);
    if (out && s_load(&c) == 0) {
        json_object_set_new(out, "as", json_string(c.self.agency));
        json_object_set_new(out, "to", json_string(c.target.cfg.agency));
        if (s_attack(&c, out) == 0) {
            s_print(out);
            rc = 0;
        }
    }
    json_decref(out);
    s_cleanup(&c);
    return rc;
}
