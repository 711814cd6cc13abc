/* The control socket: a REP socket at ipc://DIR/control.sock (owner only,
 * srwx------, in a 0700 directory) serving the moux CLI. One JSON object per
 * reply; a request is one JSON object, and for "publish" optionally a second
 * frame with the items as a protobuf Batch. docs/OPERATING.md lists the
 * commands. */
#include "daemon.h"
#include "pbunpack.h"
#include "retention.h"
#include "stix.h"
#include "log.h"
#include "pbbudget.h"
#include "policy.h"
#include "util.h"

#include <jansson.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#define CTL_MAX_REQUEST (32 * 1024 * 1024)
#define CTL_MAX_ITEMS 10000 /* the CLI sends 5000 at a time */
/* Decoding budget for a binary publish frame: 10000 items of the longest
 * value and 16 labels each fit with room to spare. */
#define CTL_PB_BUDGET (2u * CTL_MAX_REQUEST)
/* After a request this large, hand the heap's free memory back to the
 * system: parsing tens of MiB of JSON leaves glibc's heap grown and
 * fragmented, and an idle daemon would otherwise stay at several times its
 * size (a refused 20 MiB request left 38 MiB resident). Each trim walks
 * every arena, so ordinary requests do not pay for it. */
#define CTL_TRIM_AFTER (4 * 1024 * 1024) /* above a 5,000-item chunk of usual items */

int ctl_start(daemon_t *d, char *err, size_t errlen)
{
    char path[PATH_MAX_MOUX + 32], ep[PATH_MAX_MOUX + 48];
    node_path(d->cfg.dir, "control.sock", path, sizeof path);
    snprintf(ep, sizeof ep, "ipc://%s", path);
    unlink(path); /* stale from a crash; the lock file proves no other mouxd owns it */
    d->ctl = zmq_socket(d->zctx, ZMQ_REP);
    int64_t maxmsg = CTL_MAX_REQUEST;
    mode_t old = umask(077);
    int rc = d->ctl ? zmq_setsockopt(d->ctl, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg) : -1;
    if (rc == 0)
        rc = zmq_bind(d->ctl, ep);
    umask(old);
    if (rc != 0)
        snprintf(err, errlen, "%s: cannot bind control socket: %s", path,
                 zmq_strerror(zmq_errno()));
    return rc;
}

static json_t *s_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static json_t *s_error(const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return json_pack("{s:b, s:s}", "ok", 0, "error", msg);
}

#define EXPIRY_WARN_MS (7ull * 86400000u)

/* A certificate's serial and expiry, and a warning when it ends soon. */
static json_t *s_cert_json(const char *whose, uint64_t serial, uint64_t not_after,
                           json_t *warnings)
{
    char until[32], msg[256];
    uint64_t now = now_ms();
    format_time_ms(not_after, until);
    long long days = now < not_after ? (long long)((not_after - now) / 86400000u) : -1;
    if (now > not_after)
        snprintf(msg, sizeof msg, "%s certificate (serial %llu) expired on %s", whose,
                 (unsigned long long)serial, until);
    else if (not_after - now < EXPIRY_WARN_MS)
        snprintf(msg, sizeof msg, "%s certificate (serial %llu) expires in %lld day(s), on %s",
                 whose, (unsigned long long)serial, days, until);
    else
        msg[0] = '\0';
    if (msg[0])
        json_array_append_new(warnings, json_string(msg));
    return json_pack("{s:I, s:s, s:I}", "serial", (json_int_t)serial, "not_after", until,
                     "days_left", (json_int_t)days);
}

#define MOU_EXPIRY_WARN_MS (30ull * 86400000u)


/* The MOU with a partner: which, until when, whether items flow and why
 * not, and the decisions made under it ("out", "in", "relay" counts). */
static json_t *s_mou_json(daemon_t *d, link_t *l, json_t *warnings)
{
    agreement_t *a = link_agreement(l);
    char why[256], until[32];
    const char *blocked = agreement_blocked(a, now_ms(), why, sizeof why);
    const char *held = link_blocked(l);
    if (!blocked && held[0])
        blocked = held; /* the daily limit */
    json_t *o = json_pack("{s:o}", "blocked", blocked ? json_string(blocked) : json_null());
    if (!a->mou)
        return o;
    uint64_t now = now_ms(), exp = mou_expires_ms(a->mou);
    long long days = now < exp ? (long long)((exp - now) / 86400000u) : -1;
    format_time_ms(exp, until);
    json_t *counts = store_mou_counts_json(d->store, mou_hash_bytes(a->mou));
    json_object_set_new(o, "id", json_string(mou_id(a->mou)));
    json_object_set_new(o, "hash", json_string(mou_hash_hex(a->mou)));
    json_object_set_new(o, "expires", json_string(until));
    json_object_set_new(o, "days_to_expiry", json_integer(days));
    json_object_set_new(o, "counts", counts);
    if (exp - now < MOU_EXPIRY_WARN_MS || now >= exp) {
        char msg[300];
        if (now >= exp)
            snprintf(msg, sizeof msg, "MOU %s with %s expired on %s: nothing flows; agree and "
                     "activate a new one", mou_id(a->mou), link_partner(l)->agency, until);
        else
            snprintf(msg, sizeof msg, "MOU %s with %s expires in %lld day(s), on %s",
                     mou_id(a->mou), link_partner(l)->agency, days, until);
        json_array_append_new(warnings, json_string(msg));
    }
    return o;
}

static json_t *s_status(daemon_t *d)
{
    json_t *partners = json_array(), *warnings = json_array();
    for (size_t i = 0; i < d->n_links; i++) {
        link_t *l = d->links[i];
        const partner_t *p = link_partner(l);
        int64_t outbox = 0;
        store_outbox_count(d->store, p->pid, &outbox);
        char when[32];
        json_t *o = json_pack("{s:s, s:s, s:s, s:I, s:I, s:o}", "agency", p->agency,
                              "link", link_is_up(l) ? "up" : "down", "endpoint", p->endpoint,
                              "outbox", (json_int_t)outbox, "refused_in",
                              (json_int_t)link_refused_in(l), "mou",
                              s_mou_json(d, l, warnings));
        if (link_last_receipt(l)) {
            format_time_ms(link_last_receipt(l), when);
            json_object_set_new(o, "last_receipt", json_string(when));
        } else {
            json_object_set_new(o, "last_receipt", json_null());
        }
        const char *e = link_last_error(l);
        json_object_set_new(o, "last_error", e[0] ? json_string(e) : json_null());
        char whose[AGENCY_MAX + 16];
        snprintf(whose, sizeof whose, "partner %s", p->agency);
        json_object_set_new(o, "certificate",
                            s_cert_json(whose, p->cert_serial, p->cert_not_after_ms, warnings));
        json_object_set_new(o, "holds_our_serial", json_integer((json_int_t)p->acked_serial));
        double rate = link_rate(l);
        json_object_set_new(o, "rate_per_s", json_integer((json_int_t)(rate + 0.5)));
        json_object_set_new(o, "catching_up", json_boolean(link_in_catch_up(l)));
        json_object_set_new(o, "eta_s", rate >= 1 && outbox
                                            ? json_integer((json_int_t)((double)outbox / rate))
                                            : json_null());
        uint64_t until = link_throttled_until(l), mono = mono_ms();
        json_object_set_new(o, "throttled_s", json_integer(until > mono ? (json_int_t)((until - mono) / 1000) : 0));
        json_object_set_new(o, "dropped_abusive", json_integer((json_int_t)link_dropped(l)));
        json_object_set_new(o, "revocation_list", json_integer((json_int_t)p->rev_number));
        json_object_set_new(o, "revoked_certificates",
                            json_integer((json_int_t)link_revoked_count(l)));
        const char *alarm = link_checkpoint_alarm(l);
        json_object_set_new(o, "witness", json_pack("{s:I, s:o}", "our_log_witnessed_size",
                                                     (json_int_t)link_witnessed_size(l),
                                                     "inconsistent_checkpoint",
                                                     alarm[0] ? json_string(alarm) : json_null()));
        if (alarm[0]) {
            char msg[512];
            snprintf(msg, sizeof msg, "partner %s signed an audit checkpoint inconsistent with "
                     "an earlier one (its log was rewritten): %s", p->agency, alarm);
            json_array_append_new(warnings, json_string(msg));
        }
        json_array_append_new(partners, o);
    }
    char started[32];
    format_time_ms(d->started_ms, started);
    json_t *cert = s_cert_json("our", d->id->cert.serial, d->id->cert.not_after_ms, warnings);
    if (d->pending)
        json_object_set_new(cert, "rotating_to", json_integer((json_int_t)d->pending->cert.serial));
    return json_pack("{s:b, s:s, s:s, s:s, s:o, s:o, s:o}", "ok", 1, "agency", d->cfg.agency,
                     "listen", d->cfg.listen, "started", started, "certificate", cert,
                     "warnings", warnings, "partners", partners);
}

/* Every refused publish input is recorded: the node's own refusals and
 * those the CLI made before sending (with their file:line). */
#define REFUSALS_RECORDED_MAX 1000 /* per request; beyond, one summary row */

static void s_record_refusals(daemon_t *d, json_t *req, const publish_item_t *items, size_t n)
{
    json_t *cli = json_object_get(req, "refused"), *r;
    size_t i, recorded = 0, total = 0;
    char src[256], why[128];
    if (store_begin(d->store) != 0)
        return;
    json_array_foreach(cli, i, r) {
        total++;
        if (recorded++ >= REFUSALS_RECORDED_MAX)
            continue;
        str_sanitize(src, sizeof src, json_string_value(json_object_get(r, "source")));
        str_sanitize(why, sizeof why, json_string_value(json_object_get(r, "reason")));
        store_event(d->store, "publish-refused", NULL, NULL, why[0] ? why : "invalid input", src);
    }
    for (i = 0; i < n; i++)
        if (items[i].reason && strcmp(items[i].status, "refused") == 0) {
            total++;
            if (recorded++ < REFUSALS_RECORDED_MAX)
                store_event(d->store, "publish-refused", NULL, items[i].id[0] ? items[i].id : NULL,
                            items[i].reason, NULL);
        }
    if (recorded > REFUSALS_RECORDED_MAX) {
        snprintf(why, sizeof why, "%zu more refused inputs not listed", total - REFUSALS_RECORDED_MAX);
        store_event(d->store, "publish-refused", NULL, NULL, "summary", why);
    }
    if (store_commit(d->store) != 0)
        store_rollback(d->store);
    if (total)
        log_info("PUBLISH-REFUSED", "%zu input(s) refused in one publish request", total);
}

/* Appends one label to ind (its array allocated for n_max); NULL or the
 * reason. */
static const char *s_label_add(Moux__Indicator *ind, size_t n_max, const char *s)
{
    if (!ind->labels && !(ind->labels = calloc(n_max ? n_max : 1, sizeof *ind->labels)))
        return "out of memory";
    if (!ind_label_valid(s))
        return "a label must be 1-64 printable characters without a comma";
    if (!(ind->labels[ind->n_labels++] = strdup(s)))
        return "out of memory";
    return NULL;
}

/* Checks the fields every publish item has, however the request carried
 * them, and fills it (value and pattern allocated to size: free them with
 * s_item_free); NULL or the reason. The caller checks and sets the TLP
 * afterwards, so that a bad type is named first. */
static const char *s_item_fill(publish_item_t *it, const char *type, const char *val,
                               uint64_t conf, uint64_t until, char *scratch_value,
                               char *scratch_pattern)
{
    ind_type_t t;
    const char *why = NULL;
    if (ind_type_parse(type, &t) != 0)
        return "unknown indicator type";
    if (conf > 100)
        return "confidence must be 0-100";
    if (until > INT64_MAX)
        return "valid_until_ms out of range";
    if (ind_normalise(t, val, scratch_value, IND_VALUE_MAX + 1, &why) != 0)
        return why;
    if (ind_pattern(t, scratch_value, scratch_pattern, IND_PATTERN_MAX + 1) != 0)
        return "value too long for a pattern";
    moux__indicator__init(&it->ind);
    it->ind.type = (char *)ind_type_name(t);
    it->ind.value = strdup(scratch_value);
    it->ind.pattern = strdup(scratch_pattern);
    if (!it->ind.value || !it->ind.pattern)
        return "out of memory";
    it->ind.confidence = (uint32_t)conf;
    it->ind.valid_until_ms = until;
    return NULL;
}

/* One publish item from its JSON object; NULL or the reason. */
static const char *s_item_from_json(json_t *o, publish_item_t *it, char *scratch_value,
                                    char *scratch_pattern)
{
    const char *type = NULL, *val = NULL, *tlp = "amber", *why;
    json_int_t conf = 50, until = 0;
    tlp_t level;
    if (json_unpack(o, "{s:s, s:s, s?s, s?I, s?I}", "type", &type, "value", &val, "tlp", &tlp,
                    "confidence", &conf, "valid_until_ms", &until) != 0)
        return "item needs string \"type\" and \"value\"";
    if (until < 0)
        return "valid_until_ms must not be negative";
    /* conf < 0 wraps past 100: refused as out of range */
    if ((why = s_item_fill(it, type, val, (uint64_t)conf, (uint64_t)until, scratch_value,
                           scratch_pattern)) != NULL)
        return why;
    if (tlp_parse(tlp, &level) != 0)
        return "unknown TLP";
    it->ind.tlp = (Moux__Tlp)level;
    json_t *arr = json_object_get(o, "labels"), *l;
    size_t i;
    if (!arr)
        return NULL;
    if (!json_is_array(arr) || json_array_size(arr) > IND_LABELS_MAX)
        return "labels must be an array of at most 16 labels";
    json_array_foreach(arr, i, l) {
        if ((why = s_label_add(&it->ind, json_array_size(arr), json_string_value(l))) != NULL)
            return why;
    }
    return NULL;
}

/* One publish item from a binary request's Indicator: the fields a
 * publisher chooses, nothing the node assigns; NULL or the reason. */
static const char *s_item_from_pb(const Moux__Indicator *in, publish_item_t *it,
                                  char *scratch_value, char *scratch_pattern)
{
    const char *why;
    if (in->id[0] || in->created_ms || in->modified_ms || in->valid_from_ms || in->origin[0] ||
        in->n_hops || in->revoked || in->pattern[0])
        return "id, pattern, origin, hops, revoked, created_ms, modified_ms and valid_from_ms "
               "are the node's to set";
    if (in->n_labels > IND_LABELS_MAX)
        return "labels must be an array of at most 16 labels";
    if ((why = s_item_fill(it, in->type, in->value, in->confidence, in->valid_until_ms,
                           scratch_value, scratch_pattern)) != NULL)
        return why;
    if ((unsigned)in->tlp > MOUX__TLP__TLP_RED)
        return "unknown TLP";
    it->ind.tlp = in->tlp;
    for (size_t i = 0; i < in->n_labels; i++)
        if ((why = s_label_add(&it->ind, in->n_labels, in->labels[i])) != NULL)
            return why;
    return NULL;
}

static void s_item_free(publish_item_t *it)
{
    free(it->ind.value);
    free(it->ind.pattern);
    for (size_t i = 0; i < it->ind.n_labels; i++)
        free(it->ind.labels[i]);
    free(it->ind.labels);
}

/* A large request's answer: counts by status, and only the items not
 * stored new, by their index (what a file's publisher reports). */
static json_t *s_publish_summary(const publish_item_t *items, size_t n)
{
    json_t *others = json_array();
    json_int_t n_new = 0, n_updated = 0, n_unchanged = 0, n_refused = 0;
    for (size_t i = 0; i < n; i++) {
        const char *st = items[i].status;
        if (strcmp(st, "new") == 0) {
            n_new++;
            continue;
        }
        strcmp(st, "updated") == 0     ? n_updated++
        : strcmp(st, "unchanged") == 0 ? n_unchanged++
                                       : n_refused++;
        json_t *r = json_pack("{s:I, s:s}", "index", (json_int_t)i, "status", st);
        if (items[i].reason)
            json_object_set_new(r, "reason", json_string(items[i].reason));
        json_array_append_new(others, r);
    }
    return json_pack("{s:b, s:{s:I, s:I, s:I, s:I}, s:o}", "ok", 1, "counts", "new", n_new,
                     "updated", n_updated, "unchanged", n_unchanged, "refused", n_refused,
                     "others", others);
}

static json_t *s_publish_results(const publish_item_t *items, size_t n)
{
    json_t *results = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *r = json_pack("{s:s}", "status", items[i].status);
        if (items[i].id[0])
            json_object_set_new(r, "id", json_string(items[i].id));
        if (items[i].reason)
            json_object_set_new(r, "reason", json_string(items[i].reason));
        json_array_append_new(results, r);
    }
    return json_pack("{s:b, s:o}", "ok", 1, "results", results);
}

/* A publish request refused whole: none of it is stored, so besides the
 * answer the refusal is logged and recorded (publish-refused, detail
 * "request"). */
static json_t *s_publish_refused(daemon_t *d, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static json_t *s_publish_refused(daemon_t *d, const char *fmt, ...)
{
    char why[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    log_warn("PUBLISH-REFUSED", "a publish request refused whole: %s", why);
    if (store_event(d->store, "publish-refused", NULL, NULL, why, "request") != 0)
        log_error("STORE-EVENT", "cannot record a refused publish request: %s",
                  store_errmsg(d->store));
    return s_error("%s", why);
}

/* Control "publish": the items come as JSON in "items", or as a protobuf
 * Batch in the request's second frame (body), which costs a fraction of
 * the JSON to build and to read. */
static json_t *s_publish(daemon_t *d, json_t *req, zmq_msg_t *body)
{
    json_t *arr = json_object_get(req, "items");
    Moux__Batch *batch = NULL;
    pbbudget_t budget;
    size_t n;
    if (body && arr)
        return s_publish_refused(d, "publish takes its items from \"items\" or from a second "
                                    "frame, not both");
    if (body) {
        pbbudget_init(&budget, CTL_PB_BUDGET);
        batch = (Moux__Batch *)pb_unpack(&moux__batch__descriptor,
                                         &budget.allocator, zmq_msg_size(body), zmq_msg_data(body));
        if (!batch)
            return s_publish_refused(d, "the second frame is not a protobuf Batch (malformed, "
                                        "or over the %u MiB decoding budget)",
                                     CTL_PB_BUDGET >> 20);
        n = batch->n_items;
    } else if (json_is_array(arr)) {
        n = json_array_size(arr);
    } else {
        return s_publish_refused(d, "publish needs an \"items\" array, or a second frame");
    }
    publish_item_t *items = NULL;
    char *value = NULL, *pattern = NULL;
    json_t *reply = NULL;
    if (n > CTL_MAX_ITEMS) {
        reply = s_publish_refused(d, "too many items in one request (%zu; at most %d)", n,
                                  CTL_MAX_ITEMS);
        goto out;
    }
    items = calloc(n ? n : 1, sizeof *items);
    value = malloc(IND_VALUE_MAX + 1);
    pattern = malloc(IND_PATTERN_MAX + 1);
    if (!items || !value || !pattern) {
        reply = s_error("out of memory");
        goto out;
    }
    /* Refused items are reported; the valid ones still go in. */
    for (size_t i = 0; i < n; i++) {
        const char *why = batch ? s_item_from_pb(batch->items[i], &items[i], value, pattern)
                                : s_item_from_json(json_array_get(arr, i), &items[i], value, pattern);
        if (why) {
            items[i].status = "refused";
            items[i].reason = why;
        }
    }
    if (daemon_publish(d, items, n) != 0) {
        reply = s_error("store failed: %s", store_errmsg(d->store));
        goto out;
    }
    s_record_refusals(d, req, items, n);
    reply = json_is_true(json_object_get(req, "summary")) ? s_publish_summary(items, n)
                                                           : s_publish_results(items, n);
out:
    for (size_t i = 0; items && i < n; i++)
        s_item_free(&items[i]);
    free(items);
    free(value);
    free(pattern);
    if (batch)
        moux__batch__free_unpacked(batch, &budget.allocator);
    return reply;
}

/* Control "publish-stix": STIX 2.1 Indicator objects (docs/STIX.md), each
 * mapped and checked again here, then versioned by id. "markings": the
 * bundle's own TLP marking definitions by id; "identities": Identity
 * objects to keep for export. */
static json_t *s_publish_stix(daemon_t *d, json_t *req)
{
    json_t *arr = json_object_get(req, "objects"), *o;
    json_t *markings = json_object_get(req, "markings");
    size_t n = json_array_size(arr), i;
    tlp_t def = TLP_AMBER;
    if (!json_is_array(arr))
        return s_error("publish-stix needs an \"objects\" array");
    if (n > CTL_MAX_ITEMS)
        return s_error("too many objects in one request (max 10000)");
    tlp_parse(d->cfg.stix_default_tlp, &def);
    publish_item_t *items = calloc(n ? n : 1, sizeof *items);
    stix_item_t *mapped = calloc(n ? n : 1, sizeof *mapped);
    char **texts = calloc(n ? n : 1, sizeof *texts);
    char (*whys)[STIX_WHY_MAX] = calloc(n ? n : 1, STIX_WHY_MAX);
    json_t *reply = NULL;
    if (!items || !mapped || !texts || !whys) {
        reply = s_error("out of memory");
        goto out;
    }
    json_array_foreach(arr, i, o) {
        const char *id = json_string_value(json_object_get(o, "id"));
        if (id && strlen(id) <= IND_ID_LEN)
            str_copy(items[i].id, sizeof items[i].id, id);
        if (stix_indicator_map(o, markings, def, &mapped[i], whys[i], STIX_WHY_MAX) != 0) {
            items[i].status = "refused";
            items[i].reason = whys[i];
            continue;
        }
        texts[i] = json_dumps(o, JSON_COMPACT);
        if (!texts[i]) {
            items[i].status = "refused";
            items[i].reason = "out of memory";
            continue;
        }
        items[i].ind = mapped[i].ind;
        items[i].stix = texts[i];
        items[i].modified_ns = mapped[i].modified_ns;
        items[i].local_only = mapped[i].local_only;
    }
    /* Identity objects, for export: the latest version of each. */
    json_t *ids = json_object_get(req, "identities");
    if (json_array_size(ids) && store_begin(d->store) == 0) {
        int bad = 0;
        json_array_foreach(ids, i, o) {
            const char *id = json_string_value(json_object_get(o, "id"));
            const char *mod = json_string_value(json_object_get(o, "modified"));
            char *text = json_dumps(o, JSON_COMPACT);
            if (id && mod && text && strncmp(id, "identity--", 10) == 0)
                bad |= store_stix_object_put(d->store, id, "identity", mod, text);
            free(text);
        }
        if (bad || store_commit(d->store) != 0)
            store_rollback(d->store);
    }
    if (daemon_publish(d, items, n) != 0) {
        reply = s_error("store failed: %s", store_errmsg(d->store));
        goto out;
    }
    s_record_refusals(d, req, items, n);
    reply = s_publish_results(items, n);
out:
    for (i = 0; texts && i < n; i++)
        free(texts[i]);
    for (i = 0; mapped && i < n; i++)
        stix_item_free(&mapped[i]);
    free(texts);
    free(mapped);
    free(items);
    free(whys);
    return reply;
}

static json_t *s_dispatch(daemon_t *d, json_t *req, zmq_msg_t *body)
{
    const char *cmd = json_string_value(json_object_get(req, "cmd"));
    if (!cmd)
        return s_error("request needs a \"cmd\"");
    if (strcmp(cmd, "publish") == 0)
        return s_publish(d, req, body);
    if (body) {
        log_warn("CTL-REFUSED", "control request \"%.40s\" with a second frame", cmd);
        return s_error("\"%s\" takes no second frame", cmd);
    }
    if (strcmp(cmd, "status") == 0)
        return s_status(d);
    if (strcmp(cmd, "publish-stix") == 0)
        return s_publish_stix(d, req);
    if (strcmp(cmd, "withdraw") == 0) {
        const char *id = json_string_value(json_object_get(req, "id"));
        const char *type = json_string_value(json_object_get(req, "type"));
        const char *value = json_string_value(json_object_get(req, "value"));
        char out[IND_ID_LEN + 1] = "";
        if (!id && !(type && value))
            return s_error("withdraw needs an \"id\", or a \"type\" and a \"value\"");
        int rc = daemon_withdraw(d, id, type, value, out);
        if (rc < 0)
            return s_error("store failed: %s", store_errmsg(d->store));
        if (rc == 0)
            return s_error("no indicator published here matches (or it is already withdrawn)");
        return json_pack("{s:b, s:s}", "ok", 1, "id", out);
    }
    if (strcmp(cmd, "keys-reload") == 0) {
        char err[512];
        if (keys_reload(d, err, sizeof err) != 0)
            return s_error("%s", err);
        return json_pack("{s:b, s:I}", "ok", 1, "announcing",
                         (json_int_t)keys_announced(d)->cert.serial);
    }
    if (strcmp(cmd, "reload") == 0) {
        if (daemon_reload(d) != 0)
            return s_error("reload failed; see the daemon log");
        return json_pack("{s:b}", "ok", 1);
    }
    if (strcmp(cmd, "checkpoint") == 0) {
        uint64_t size = 0;
        if (!store_audit_on(d->store))
            return s_error("the audit log is off (audit_log = 0 in moux.conf)");
        if (daemon_checkpoint(d, &size) != 0)
            return s_error("cannot sign a checkpoint: %s", store_errmsg(d->store));
        return json_pack("{s:b, s:I}", "ok", 1, "size", (json_int_t)size);
    }
    if (strcmp(cmd, "purge") == 0) {
        /* As of at_ms (never before now: retention is a most). */
        json_int_t at = json_integer_value(json_object_get(req, "at_ms"));
        uint64_t now = now_ms(), purged = 0;
        char err[512];
        if (retention_purge(d->store, d->cfg.agency, at > (json_int_t)now ? (uint64_t)at : now,
                            &purged, err, sizeof err) != 0)
            return s_error("%s", err);
        return json_pack("{s:b, s:I}", "ok", 1, "purged", (json_int_t)purged);
    }
    return s_error("unknown command \"%s\"", cmd);
}

void ctl_on_request(daemon_t *d)
{
    zmq_msg_t msg, body;
    zmq_msg_init(&msg);
    zmq_msg_init(&body);
    if (zmq_msg_recv(&msg, d->ctl, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&msg);
        zmq_msg_close(&body);
        return;
    }
    /* At most two frames; a REP socket must take them all before it answers.
     * The rest of a request has arrived with its first frame (ZeroMQ
     * delivers a request whole), so only a signal can interrupt. */
    int frames = 1, rc = 0;
    for (int more = zmq_msg_more(&msg); more; frames++) {
        zmq_msg_close(&body);
        zmq_msg_init(&body);
        while ((rc = zmq_msg_recv(&body, d->ctl, 0)) < 0 && zmq_errno() == EINTR)
            ;
        if (rc < 0)
            break;
        more = zmq_msg_more(&body);
    }
    if (rc < 0) { /* no answer can go; the client times out */
        log_error("CTL-REQUEST", "cannot read a control request: %s", zmq_strerror(zmq_errno()));
        zmq_msg_close(&msg);
        zmq_msg_close(&body);
        return;
    }
    size_t request_size = zmq_msg_size(&msg) + (frames == 2 ? zmq_msg_size(&body) : 0);
    json_error_t jerr;
    json_t *req = json_loadb(zmq_msg_data(&msg), zmq_msg_size(&msg), 0, &jerr);
    zmq_msg_close(&msg);
    char why[256] = "";
    if (frames > 2)
        snprintf(why, sizeof why, "a request has at most two frames, not %d", frames);
    else if (!req)
        snprintf(why, sizeof why, "request is not JSON: %s", jerr.text);
    if (why[0])
        log_warn("CTL-REFUSED", "%s", why);
    json_t *reply = why[0] ? s_error("%s", why) : s_dispatch(d, req, frames == 2 ? &body : NULL);
    zmq_msg_close(&body);
    char *text = json_dumps(reply, JSON_COMPACT);
    if (!text || zmq_send(d->ctl, text, strlen(text), 0) < 0)
        log_error("CTL-REPLY", "cannot answer control request: %s", zmq_strerror(zmq_errno()));
    free(text);
    json_decref(reply);
    json_decref(req);
#ifdef __GLIBC__
    if (request_size >= CTL_TRIM_AFTER)
        malloc_trim(0);
#endif
}
