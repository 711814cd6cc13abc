/* moux audit report: what a node's audit log says about each of its MOUs
 * over a period: items shared and received by type and TLP, refusals by
 * reason in both directions, receipts outstanding, retention purges, MOU
 * and key events, checkpoints and their witnesses. The store is only read.
 *
 * The report is built first as one JSON object (the model: --format json
 * prints it as it is), then rendered as text or as one self-contained HTML
 * file (inline CSS, inline SVG charts drawn here; no scripts, nothing
 * fetched).
 *
 * An entry belongs to the MOU it names (share and receipt entries, MOU
 * events, retention purges), else to the MOU with its partner that was in
 * force at its time; entries that name no partner are the node's own. */
#include "audit.h"
#include "cli.h"
#include "tlp.h"
#include "util.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DAY_MS 86400000ull
#define PROBLEMS_LISTED 20     /* audit verify problems named in the report */
#define DAILY_CHART_DAYS 366   /* the longest stretch the daily chart draws */
#define DAILY_PERIOD_DAYS 62   /* a period up to this long is drawn whole */

static const char *s_usage_text =
    "usage: moux audit report -d DIR [--mou ID] [--from DATE] [--to DATE]\n"
    "                         [--format text|json|html] [--out FILE]\n"
    "  DATE: YYYY-MM-DD (the whole day) or YYYY-MM-DDTHH:MM:SS[.fff]Z";

/* ==== options ==== */

typedef enum { FORMAT_TEXT, FORMAT_JSON, FORMAT_HTML } s_format_t;

typedef struct {
    const char *dir, *mou, *out;
    s_format_t format;
    uint64_t from_ms, to_ms; /* the period: from_ms <= time < to_ms */
    int has_from, has_to;
} s_opts_t;

static int s_usage(void)
{
    fprintf(stderr, "%s\n", s_usage_text);
    return 2;
}

static int s_format(const char *text, s_format_t *out)
{
    static const char *const names[] = {"text", "json", "html"};
    for (int i = 0; i < 3; i++)
        if (strcmp(text, names[i]) == 0) {
            *out = (s_format_t)i;
            return 0;
        }
    return -1;
}

/* A bound of the period: a day means all of it (--to 2026-11-22 ends at
 * the midnight after it), a moment is included. 0, or 1 after saying why. */
static int s_bound(const char *opt, const char *text, int end, uint64_t *ms)
{
    if (parse_time_ms(text, ms) != 0)
        return cli_fail("%s: \"%s\" is not a date (YYYY-MM-DD) or a time "
                        "(YYYY-MM-DDTHH:MM:SSZ)", opt, text);
    if (end)
        *ms += strlen(text) == 10 ? DAY_MS : 1;
    return 0;
}

/* 0; -1 on a usage error; 1 after saying why. */
static int s_opts(int argc, char **argv, s_opts_t *o)
{
    static const struct option opts[] = {
        {"dir", required_argument, 0, 'd'},  {"mou", required_argument, 0, 'm'},
        {"from", required_argument, 0, 'f'}, {"to", required_argument, 0, 't'},
        {"format", required_argument, 0, 'F'}, {"out", required_argument, 0, 'o'},
        {0, 0, 0, 0}};
    const char *from = NULL, *to = NULL, *format = "text";
    int c;
    memset(o, 0, sizeof *o);
    o->to_ms = UINT64_MAX;
    optind = 2;
    while ((c = getopt_long(argc, argv, "d:o:", opts, NULL)) != -1) {
        switch (c) {
        case 'd': o->dir = optarg; break;
        case 'm': o->mou = optarg; break;
        case 'f': from = optarg; break;
        case 't': to = optarg; break;
        case 'F': format = optarg; break;
        case 'o': o->out = optarg; break;
        default: return -1;
        }
    }
    if (optind != argc || s_format(format, &o->format) != 0)
        return -1;
    if ((from && s_bound("--from", from, 0, &o->from_ms) != 0) ||
        (to && s_bound("--to", to, 1, &o->to_ms) != 0))
        return 1;
    o->has_from = from != NULL;
    o->has_to = to != NULL;
    if (o->from_ms >= o->to_ms)
        return cli_fail("the period is empty: --from %s is not before --to %s", from, to);
    return 0;
}

/* ==== JSON helpers (the model) ==== */

static const char *s_str(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

static json_int_t s_int(const json_t *o, const char *key)
{
    return json_integer_value(json_object_get(o, key));
}

/* Adds n to the integer at key (absent: 0). */
static void s_add(json_t *o, const char *key, json_int_t n)
{
    json_object_set_new(o, key, json_integer(s_int(o, key) + n));
}

/* The object at key, added empty when absent. */
static json_t *s_obj(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    if (!v && (v = json_object()) != NULL)
        json_object_set_new(o, key, v);
    return v;
}

static json_t *s_time(uint64_t ms)
{
    char t[32];
    format_time_ms(ms, t);
    return json_string(t);
}

/* "YYYY-MM-DD" of a time (UTC). */
static void s_day(uint64_t ms, char out[11])
{
    char t[32];
    format_time_ms(ms, t);
    memcpy(out, t, 10);
    out[10] = '\0';
}

static int s_same(const char *a, const char *b)
{
    return a && b ? strcmp(a, b) == 0 : a == b;
}

static int s_cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The keys of one or two objects, sorted, each once. The array is the
 * caller's (free); the keys are borrowed from the objects. */
static const char **s_keys(const json_t *a, const json_t *b, size_t *n)
{
    const json_t *objs[2] = {a, b};
    const char **keys = calloc(json_object_size(a) + json_object_size(b) + 1, sizeof *keys);
    const char *k;
    json_t *v;
    size_t all = 0, kept = 0;
    *n = 0;
    if (!keys)
        return NULL;
    for (int i = 0; i < 2; i++)
        json_object_foreach((json_t *)objs[i], k, v)
            keys[all++] = k;
    qsort(keys, all, sizeof *keys, s_cmp_str);
    for (size_t i = 0; i < all; i++)
        if (kept == 0 || strcmp(keys[kept - 1], keys[i]) != 0)
            keys[kept++] = keys[i];
    *n = kept;
    return keys;
}

/* The sum of an object's integers ({TLP: n} of one type). */
static json_int_t s_sum(const json_t *o)
{
    const char *k;
    json_t *v;
    json_int_t sum = 0;
    json_object_foreach((json_t *)o, k, v)
        sum += json_integer_value(v);
    return sum;
}

/* ==== what each kind of entry is ==== */

typedef enum {
    CAT_SHARE, CAT_RECEIPT, CAT_REFUSAL, CAT_PURGE, CAT_MOU, CAT_KEY, CAT_CHECKPOINT, CAT_OTHER
} s_cat_t;

static const char *const s_cat_names[] = {"share", "receipt",    "refusal", "purge",
                                          "mou",   "key",        "checkpoint", "other"};

typedef struct {
    const char *kind;
    s_cat_t cat;
    const char *dir; /* refusals: "in" (the partner's, by us), "out" (ours), "local" */
    int rule;        /* the detail is the MOU rule that refused */
} s_kind_t;

static const s_kind_t s_kinds[] = {
    {"share", CAT_SHARE, NULL, 0},
    {"receipt", CAT_RECEIPT, NULL, 0},
    {"item-refused", CAT_REFUSAL, "in", 1},
    {"batch-refused", CAT_REFUSAL, "in", 0},
    {"receipt-refused", CAT_REFUSAL, "in", 0},
    {"mou-notice-refused", CAT_REFUSAL, "in", 0},
    {"partner-throttled", CAT_REFUSAL, "in", 0},
    {"connection-refused", CAT_REFUSAL, "in", 0},
    {"outbound-refused", CAT_REFUSAL, "out", 1},
    {"refused-by-partner", CAT_REFUSAL, "out", 0},
    {"batch-refused-by-partner", CAT_REFUSAL, "out", 0},
    {"publish-refused", CAT_REFUSAL, "local", 0},
    {"retention-purge", CAT_PURGE, NULL, 0},
    {"mou-activated", CAT_MOU, NULL, 0},
    {"mou-terminated", CAT_MOU, NULL, 0},
    {"mou-expired", CAT_MOU, NULL, 0},
    {"key-certified", CAT_KEY, NULL, 0},
    {"key-rotated", CAT_KEY, NULL, 0},
    {"keys-revoked", CAT_KEY, NULL, 0},
    {"partner-key-rotated", CAT_KEY, NULL, 0},
    {"revocation-received", CAT_KEY, NULL, 0},
    {"key-update-refused", CAT_KEY, NULL, 0},
    {"checkpoint-inconsistent", CAT_CHECKPOINT, NULL, 0},
    {"checkpoint-refused-by-partner", CAT_CHECKPOINT, NULL, 0},
    {"checkpoint-ack-refused", CAT_CHECKPOINT, NULL, 0},
};

/* Kinds this report does not know are listed with the events: as key
 * events when they are named so ("key-...", "keys-..."). */
static const s_kind_t *s_kind(const char *kind)
{
    static const s_kind_t key = {NULL, CAT_KEY, NULL, 0}, other = {NULL, CAT_OTHER, NULL, 0};
    for (size_t i = 0; i < sizeof s_kinds / sizeof s_kinds[0]; i++)
        if (strcmp(kind, s_kinds[i].kind) == 0)
            return &s_kinds[i];
    return strncmp(kind, "key-", 4) == 0 || strncmp(kind, "keys-", 5) == 0 ? &key : &other;
}

/* ==== building the model ==== */

typedef struct {
    sqlite3 *db;
    const s_opts_t *o;
    store_mou_t *mous; /* every MOU of the node, newest first */
    size_t n_mous;
    json_t *groups;    /* per MOU (and per partner with entries under none) */
    json_t *node;      /* the entries that name no partner; NULL until one */
    json_t *witnesses; /* per partner: checkpoints witnessed each way */
    json_int_t in_period;
} s_build_t;

typedef struct {
    uint64_t idx, ts;
    const char *kind, *partner, *subject, *reason, *detail;
    json_t *detail_json; /* share and receipt entries: the detail, parsed */
} s_entry_t;

/* ---- the MOU table ---- */

/* The newest MOU with this id and peer, or NULL. */
static const store_mou_t *s_mou_row(const s_build_t *b, const char *id, const char *peer)
{
    for (size_t i = 0; id && peer && i < b->n_mous; i++)
        if (strcmp(b->mous[i].id, id) == 0 && strcmp(b->mous[i].peer, peer) == 0)
            return &b->mous[i];
    return NULL;
}

static int s_mou_known(const s_build_t *b, const char *id)
{
    for (size_t i = 0; i < b->n_mous; i++)
        if (strcmp(b->mous[i].id, id) == 0)
            return 1;
    return 0;
}

/* The id of the MOU with this hash (64 hex digits), or NULL. */
static const char *s_mou_by_hash(const s_build_t *b, const char *hex)
{
    char h[65];
    for (size_t i = 0; i < b->n_mous; i++) {
        hex_encode(b->mous[i].hash, 32, h);
        if (strcmp(h, hex) == 0)
            return b->mous[i].id;
    }
    return NULL;
}

/* The MOU with partner in force at ts (activated, not yet ended), or NULL;
 * the newest one when a supersession falls on that very millisecond. */
static const char *s_mou_in_force(const s_build_t *b, const char *partner, uint64_t ts)
{
    for (size_t i = 0; i < b->n_mous; i++) {
        const store_mou_t *m = &b->mous[i];
        if (strcmp(m->peer, partner) == 0 && m->activated_ms <= ts &&
            (m->ended_ms == 0 || ts <= m->ended_ms))
            return m->id;
    }
    return NULL;
}

/* The MOU the period touches: activated before its end, not ended before
 * its start. */
static int s_mou_in_period(const store_mou_t *m, const s_opts_t *o)
{
    return m->activated_ms < o->to_ms && (m->ended_ms == 0 || m->ended_ms >= o->from_ms);
}

/* ---- groups: one per MOU ---- */

static json_t *s_tally_new(void)
{
    return json_pack("{s:I, s:{}, s:{}}", "total", (json_int_t)0, "by_type", "by_tlp");
}

/* What the mou table says of the MOU. */
static void s_describe(json_t *g, const store_mou_t *m)
{
    json_object_set_new(g, "state", json_string(m->state));
    json_object_set_new(g, "activated", s_time(m->activated_ms));
    json_object_set_new(g, "ended", m->ended_ms ? s_time(m->ended_ms) : json_null());
    if (m->ended_by[0]) {
        json_object_set_new(g, "ended_by", json_string(m->ended_by));
        json_object_set_new(g, "end_reason", json_string(m->end_reason));
    }
}

/* An empty group: mou NULL for a partner's entries under no MOU, both NULL
 * for the node's own. Receipts outstanding are counted for active MOUs. */
static json_t *s_group_new(const char *mou, const char *partner, const store_mou_t *row)
{
    json_t *g = json_pack("{s:s?, s:s?}", "mou", mou, "partner", partner);
    if (!g)
        return NULL;
    if (row)
        s_describe(g, row);
    json_object_set_new(g, "shared", s_tally_new());
    json_object_set_new(g, "received", s_tally_new());
    json_object_set_new(g, "daily", json_object());
    json_object_set_new(g, "refused", json_integer(0));
    json_object_set_new(g, "refusals", json_array());
    if (row && strcmp(row->state, "active") == 0)
        json_object_set_new(g, "outstanding", json_integer(0));
    json_object_set_new(g, "purged", json_integer(0));
    json_object_set_new(g, "purges", json_array());
    json_object_set_new(g, "events", json_array());
    return g;
}

static json_t *s_group_find(const s_build_t *b, const char *mou, const char *partner)
{
    size_t i;
    json_t *g;
    json_array_foreach(b->groups, i, g)
        if (s_same(s_str(g, "mou"), mou) && s_same(s_str(g, "partner"), partner))
            return g;
    return NULL;
}

/* The group of this MOU and partner, added when new. */
static json_t *s_group(s_build_t *b, const char *mou, const char *partner)
{
    json_t *g = s_group_find(b, mou, partner);
    if (!g && (g = s_group_new(mou, partner, s_mou_row(b, mou, partner))) != NULL)
        json_array_append_new(b->groups, g);
    return g;
}

/* Every MOU the period touches has a group, even with nothing in it;
 * oldest first. */
static void s_seed_groups(s_build_t *b)
{
    for (size_t i = b->n_mous; i-- > 0;) {
        const store_mou_t *m = &b->mous[i];
        if ((!b->o->mou || strcmp(m->id, b->o->mou) == 0) && s_mou_in_period(m, b->o))
            s_group(b, m->id, m->peer);
    }
}

/* The group of the partner's MOU now (the active one, else its newest) if
 * the report has it. */
static json_t *s_current_group(const s_build_t *b, const char *partner)
{
    const store_mou_t *newest = NULL;
    for (size_t i = 0; i < b->n_mous; i++) {
        const store_mou_t *m = &b->mous[i];
        if (strcmp(m->peer, partner) != 0)
            continue;
        if (strcmp(m->state, "active") == 0)
            return s_group_find(b, m->id, partner);
        if (!newest)
            newest = m;
    }
    return s_group_find(b, newest ? newest->id : NULL, partner);
}

/* ---- which group an entry belongs to ---- */

/* The MOU an entry names: share and receipt entries carry its id, MOU
 * events and purges name it in their detail (mou-activated: its hash). */
static const char *s_named_mou(const s_build_t *b, const s_entry_t *e, char *buf, size_t cap)
{
    if (e->detail_json)
        return json_string_value(json_object_get(e->detail_json, "mou"));
    if (!e->detail)
        return NULL;
    if (strcmp(e->kind, "mou-terminated") == 0 || strcmp(e->kind, "mou-expired") == 0)
        return e->detail;
    if (strcmp(e->kind, "mou-activated") == 0)
        return s_mou_by_hash(b, e->detail);
    if (strcmp(e->kind, "retention-purge") == 0 && strncmp(e->detail, "mou=", 4) == 0) {
        size_t n = strcspn(e->detail + 4, " ");
        if (n == 0 || n >= cap)
            return NULL;
        memcpy(buf, e->detail + 4, n);
        buf[n] = '\0';
        return buf;
    }
    return NULL;
}

/* The entry's group, or NULL when --mou leaves it out. */
static json_t *s_entry_group(s_build_t *b, const s_entry_t *e)
{
    char buf[STORE_MOU_ID_MAX + 1];
    const char *mou = s_named_mou(b, e, buf, sizeof buf);
    if (!e->partner) {
        if (b->o->mou)
            return NULL;
        if (!b->node)
            b->node = s_group_new(NULL, NULL, NULL);
        return b->node;
    }
    if (!mou)
        mou = s_mou_in_force(b, e->partner, e->ts);
    if (b->o->mou && !s_same(mou, b->o->mou))
        return NULL;
    return s_group(b, mou, e->partner);
}

/* ---- taking in one entry ---- */

/* A share or receipt entry: its {TYPE: {TLP: n}} tally into the group's
 * (shared or received), and into that day's volume. */
static void s_take_items(json_t *g, const char *dir, const s_entry_t *e)
{
    json_t *tally = json_object_get(g, dir), *by_type = s_obj(tally, "by_type");
    json_t *by_tlp = s_obj(tally, "by_tlp"), *levels, *n;
    json_t *items = json_object_get(e->detail_json, "items");
    const char *type, *tlp;
    json_int_t sum = 0;
    char day[11];
    json_object_foreach(items, type, levels)
        json_object_foreach(levels, tlp, n) {
            json_int_t k = json_integer_value(n);
            s_add(s_obj(by_type, type), tlp, k);
            s_add(by_tlp, tlp, k);
            sum += k;
        }
    s_add(tally, "total", sum);
    s_day(e->ts, day);
    s_add(s_obj(json_object_get(g, "daily"), day), dir, sum);
}

/* Refusals are counted by direction, kind, reason and MOU rule. */
static void s_take_refusal(json_t *g, const s_kind_t *k, const s_entry_t *e)
{
    const char *rule = k->rule ? e->detail : NULL;
    json_t *list = json_object_get(g, "refusals"), *r;
    size_t i;
    s_add(g, "refused", 1);
    json_array_foreach(list, i, r)
        if (strcmp(s_str(r, "kind"), e->kind) == 0 && s_same(s_str(r, "reason"), e->reason) &&
            s_same(s_str(r, "rule"), rule)) {
            s_add(r, "count", 1);
            return;
        }
    json_array_append_new(list, json_pack("{s:s, s:s, s:s?, s:s?, s:I}", "direction", k->dir,
                                          "kind", e->kind, "reason", e->reason, "rule", rule,
                                          "count", (json_int_t)1));
}

/* A retention purge: detail "mou=ID retention-days=N purged=COUNT". */
static void s_take_purge(json_t *g, const s_entry_t *e)
{
    const char *days = e->detail ? strstr(e->detail, "retention-days=") : NULL;
    const char *count = e->detail ? strstr(e->detail, "purged=") : NULL;
    json_int_t n = count ? strtoll(count + 7, NULL, 10) : 0;
    json_t *p = json_pack("{s:I, s:o}", "entry", (json_int_t)e->idx, "time", s_time(e->ts));
    if (!p)
        return;
    json_object_set_new(p, "retention_days",
                        days ? json_integer(strtoll(days + 15, NULL, 10)) : json_null());
    json_object_set_new(p, "purged", json_integer(n));
    json_object_set_new(p, "detail", e->detail ? json_string(e->detail) : json_null());
    json_array_append_new(json_object_get(g, "purges"), p);
    s_add(g, "purged", n);
}

/* MOU, key, checkpoint and other events are listed one by one. */
static void s_take_event(json_t *g, const s_kind_t *k, const s_entry_t *e)
{
    json_t *ev = json_pack("{s:I, s:o, s:s, s:s}", "entry", (json_int_t)e->idx, "time",
                           s_time(e->ts), "category", s_cat_names[k->cat], "kind", e->kind);
    if (!ev)
        return;
    if (e->subject)
        json_object_set_new(ev, "subject", json_string(e->subject));
    if (e->reason)
        json_object_set_new(ev, "reason", json_string(e->reason));
    if (e->detail)
        json_object_set_new(ev, "detail", json_string(e->detail));
    json_array_append_new(json_object_get(g, "events"), ev);
}

static json_t *s_witness(const s_build_t *b, const char *partner)
{
    size_t i;
    json_t *w;
    json_array_foreach(b->witnesses, i, w)
        if (strcmp(s_str(w, "partner"), partner) == 0)
            return w;
    return NULL;
}

/* Checkpoint events also count against the partner's witnessing. */
static void s_take_witness(const s_build_t *b, const s_entry_t *e)
{
    json_t *w = s_witness(b, e->partner);
    if (w)
        s_add(w, strcmp(e->kind, "checkpoint-inconsistent") == 0 ? "inconsistent"
                                                                 : "refused_by_partner", 1);
}

static void s_take(s_build_t *b, const s_entry_t *e)
{
    const s_kind_t *k = s_kind(e->kind);
    b->in_period++;
    if (k->cat == CAT_CHECKPOINT && e->partner)
        s_take_witness(b, e);
    json_t *g = s_entry_group(b, e);
    if (!g)
        return;
    switch (k->cat) {
    case CAT_SHARE: s_take_items(g, "shared", e); break;
    case CAT_RECEIPT: s_take_items(g, "received", e); break;
    case CAT_REFUSAL: s_take_refusal(g, k, e); break;
    case CAT_PURGE: s_take_purge(g, e); break;
    default: s_take_event(g, k, e); break;
    }
}

/* ---- reading the store ---- */

typedef void (*s_row_fn)(sqlite3_stmt *q, void *arg);

/* Runs sql with ?1 and ?2 bound to the period (from, to) and ?3 to text,
 * as far as it has parameters; fn for each row. 0, or -1 (unreadable). */
static int s_each(sqlite3 *db, const char *sql, const s_opts_t *o, const char *text,
                  s_row_fn fn, void *arg)
{
    sqlite3_stmt *q = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) != SQLITE_OK)
        return -1;
    int params = sqlite3_bind_parameter_count(q), rc;
    if (params >= 1)
        sqlite3_bind_int64(q, 1, (sqlite3_int64)o->from_ms);
    if (params >= 2)
        sqlite3_bind_int64(q, 2, o->to_ms > INT64_MAX ? INT64_MAX : (sqlite3_int64)o->to_ms);
    if (params >= 3)
        sqlite3_bind_text(q, 3, text, -1, SQLITE_STATIC);
    while ((rc = sqlite3_step(q)) == SQLITE_ROW)
        fn(q, arg);
    sqlite3_finalize(q);
    return rc == SQLITE_DONE ? 0 : -1;
}

static const char *s_col(sqlite3_stmt *q, int i)
{
    return (const char *)sqlite3_column_text(q, i);
}

static void s_entry_row(sqlite3_stmt *q, void *arg)
{
    s_entry_t e = {(uint64_t)sqlite3_column_int64(q, 0), (uint64_t)sqlite3_column_int64(q, 1),
                   s_col(q, 2), s_col(q, 3), s_col(q, 4), s_col(q, 5), s_col(q, 6), NULL};
    if (!e.kind)
        return;
    s_cat_t cat = s_kind(e.kind)->cat;
    if ((cat == CAT_SHARE || cat == CAT_RECEIPT) && e.detail)
        e.detail_json = json_loads(e.detail, 0, NULL);
    s_take(arg, &e);
    json_decref(e.detail_json);
}

static int s_read_entries(s_build_t *b)
{
    return s_each(b->db,
                  "SELECT idx, ts_ms, kind, partner, subject, reason, detail FROM audit"
                  " WHERE ts_ms >= ?1 AND ts_ms < ?2 ORDER BY idx",
                  b->o, NULL, s_entry_row, b);
}

/* Receipts outstanding: the items in a partner's outbox now, counted
 * under its current MOU. */
static void s_outbox_row(sqlite3_stmt *q, void *arg)
{
    const char *partner = s_col(q, 0);
    json_t *g = partner ? s_current_group(arg, partner) : NULL;
    if (g)
        json_object_set_new(g, "outstanding", json_integer(sqlite3_column_int64(q, 1)));
}

static int s_read_outstanding(s_build_t *b)
{
    return s_each(b->db,
                  "SELECT p.agency, count(*) FROM outbox o JOIN partner p ON p.pid = o.pid"
                  " GROUP BY o.pid",
                  b->o, NULL, s_outbox_row, b);
}

/* {"size": n, "time": ISO} of a (size, ts_ms) row. */
static void s_size_time_row(sqlite3_stmt *q, void *arg)
{
    json_t **out = arg;
    json_decref(*out);
    *out = json_pack("{s:I, s:o}", "size", (json_int_t)sqlite3_column_int64(q, 0), "time",
                     s_time((uint64_t)sqlite3_column_int64(q, 1)));
}

static void s_count_row(sqlite3_stmt *q, void *arg)
{
    *(json_int_t *)arg = sqlite3_column_int64(q, 0);
}

/* A partner's witnessing: the largest checkpoint of ours it countersigned
 * (and how many countersignatures came in the period), the checkpoint of
 * its log this node holds, and the checkpoint events (counted later). */
static json_t *s_witness_new(sqlite3 *db, const s_opts_t *o, const char *partner)
{
    json_t *counter = NULL, *held = NULL;
    json_int_t n = 0;
    if (s_each(db, "SELECT size, ts_ms FROM countersig WHERE ts_ms < ?2 AND partner = ?3"
                   " ORDER BY size DESC LIMIT 1", o, partner, s_size_time_row, &counter) ||
        s_each(db, "SELECT count(*) FROM countersig WHERE ts_ms >= ?1 AND ts_ms < ?2"
                   " AND partner = ?3", o, partner, s_count_row, &n) ||
        s_each(db, "SELECT size, ts_ms FROM witnessed WHERE partner = ?3",
               o, partner, s_size_time_row, &held)) {
        json_decref(counter);
        json_decref(held);
        return NULL;
    }
    return json_pack("{s:s, s:o, s:I, s:o, s:I, s:I}", "partner", partner, "countersigned",
                     counter ? counter : json_null(), "countersignatures", n, "witnessed",
                     held ? held : json_null(), "inconsistent", (json_int_t)0,
                     "refused_by_partner", (json_int_t)0);
}

typedef struct {
    s_build_t *b;
    int failed;
} s_partners_t;

/* Every partner has a witness row; with --mou, only that MOU's partner. */
static void s_partner_row(sqlite3_stmt *q, void *arg)
{
    s_partners_t *p = arg;
    const char *agency = s_col(q, 0);
    if (!agency || (p->b->o->mou && !s_mou_row(p->b, p->b->o->mou, agency)))
        return;
    json_t *w = s_witness_new(p->b->db, p->b->o, agency);
    if (!w)
        p->failed = 1;
    else
        json_array_append_new(p->b->witnesses, w);
}

static int s_read_witnesses(s_build_t *b)
{
    s_partners_t p = {b, 0};
    int rc = s_each(b->db, "SELECT agency FROM partner ORDER BY agency", b->o, NULL,
                    s_partner_row, &p);
    return rc || p.failed ? -1 : 0;
}

/* Our own checkpoints: how many were signed in the period, the largest. */
static json_t *s_checkpoints(s_build_t *b)
{
    json_int_t n = 0;
    json_t *latest = NULL;
    if (s_each(b->db, "SELECT count(*) FROM checkpoint WHERE ts_ms >= ?1 AND ts_ms < ?2", b->o,
               NULL, s_count_row, &n) ||
        s_each(b->db, "SELECT size, ts_ms FROM checkpoint WHERE ts_ms < ?2"
                      " ORDER BY size DESC LIMIT 1", b->o, NULL, s_size_time_row, &latest)) {
        json_decref(latest);
        return NULL;
    }
    return json_pack("{s:I, s:o, s:O}", "signed", n, "latest", latest ? latest : json_null(),
                     "witnesses", b->witnesses);
}

/* ---- the log as a whole ---- */

static void s_problem(void *arg, uint64_t index, const char *what)
{
    json_t *problems = arg;
    if (json_array_size(problems) < PROBLEMS_LISTED)
        json_array_append_new(problems, json_pack("{s:I, s:s}", "entry", (json_int_t)index,
                                                  "problem", what));
}

/* The whole log recomputed (as moux audit verify does): entries, signed
 * checkpoints, whether it is intact, the first problems found. */
static json_t *s_log(store_t *st)
{
    json_t *problems = json_array();
    uint64_t entries = 0, cps = 0;
    long n = problems ? audit_verify(st, s_problem, problems, &entries, &cps) : -1;
    if (n < 0) {
        json_decref(problems);
        return NULL;
    }
    return json_pack("{s:I, s:I, s:b, s:I, s:o}", "entries", (json_int_t)entries, "checkpoints",
                     (json_int_t)cps, "intact", n == 0, "problem_count", (json_int_t)n,
                     "problems", problems);
}

/* ---- finishing ---- */

/* The daily volume as a list by day. */
static void s_finish_daily(json_t *g)
{
    json_t *days = json_object_get(g, "daily"), *list = json_array();
    size_t n = 0;
    const char **keys = s_keys(days, NULL, &n);
    for (size_t i = 0; list && keys && i < n; i++) {
        json_t *d = json_object_get(days, keys[i]);
        json_array_append_new(list, json_pack("{s:s, s:I, s:I}", "day", keys[i], "shared",
                                              s_int(d, "shared"), "received",
                                              s_int(d, "received")));
    }
    free(keys);
    json_object_set_new(g, "daily", list ? list : json_array());
}

static json_t *s_totals(const json_t *groups, const json_t *node)
{
    json_int_t mous = 0, shared = 0, received = 0, refused = 0, purged = 0, outstanding = 0;
    size_t i;
    json_t *g;
    json_array_foreach(groups, i, g) {
        mous += s_str(g, "mou") != NULL;
        shared += s_int(json_object_get(g, "shared"), "total");
        received += s_int(json_object_get(g, "received"), "total");
        refused += s_int(g, "refused");
        purged += s_int(g, "purged");
        outstanding += s_int(g, "outstanding");
    }
    refused += node ? s_int(node, "refused") : 0;
    return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I}", "mous", mous, "shared", shared,
                     "received", received, "refused", refused, "purged", purged, "outstanding",
                     outstanding);
}

static json_t *s_period(const s_opts_t *o)
{
    return json_pack("{s:o, s:o}", "from", o->has_from ? s_time(o->from_ms) : json_null(),
                     "to", o->has_to ? s_time(o->to_ms) : json_null());
}

/* Reads everything the report says into b. 0, or -1 (unreadable). */
static int s_collect(s_build_t *b, store_t *st)
{
    if (store_mou_list(st, &b->mous, &b->n_mous) != 0)
        return -1;
    if (b->o->mou && !s_mou_known(b, b->o->mou))
        return 1;
    s_seed_groups(b);
    if (s_read_witnesses(b) != 0 || s_read_entries(b) != 0 || s_read_outstanding(b) != 0)
        return -1;
    size_t i;
    json_t *g;
    json_array_foreach(b->groups, i, g)
        s_finish_daily(g);
    if (b->node)
        s_finish_daily(b->node);
    return 0;
}

/* The whole report, or NULL after saying why. It reads one snapshot of
 * the store (a read transaction), while the node goes on appending. */
static json_t *s_build(store_t *st, const char *agency, const s_opts_t *o)
{
    s_build_t b = {.db = store_db(st), .o = o, .groups = json_array(), .witnesses = json_array()};
    int snapshot = sqlite3_exec(b.db, "BEGIN", NULL, NULL, NULL) == SQLITE_OK;
    json_t *r = NULL, *log = snapshot ? s_log(st) : NULL, *cps = NULL;
    int rc = log && b.groups && b.witnesses ? s_collect(&b, st) : -1;
    if (rc == 1)
        cli_fail("%s: no MOU \"%s\" at this node (moux mou list -d %s)", o->dir, o->mou, o->dir);
    else if (rc != 0 || !(cps = s_checkpoints(&b)))
        cli_fail("%s: cannot read the store: %s", o->dir, store_errmsg(st));
    else {
        json_object_set_new(log, "in_period", json_integer(b.in_period));
        r = json_pack("{s:s, s:s, s:o, s:o, s:s?, s:O, s:o, s:O, s:O, s:O}", "agency", agency,
                      "dir", o->dir, "generated", s_time(now_ms()), "period", s_period(o), "mou",
                      o->mou, "log", log, "totals", s_totals(b.groups, b.node), "mous", b.groups,
                      "node", b.node ? b.node : json_null(), "checkpoints", cps);
    }
    if (snapshot)
        sqlite3_exec(b.db, "ROLLBACK", NULL, NULL, NULL);
    for (size_t i = 0; i < b.n_mous; i++)
        store_mou_free(&b.mous[i]);
    free(b.mous);
    json_decref(log);
    json_decref(cps);
    json_decref(b.groups);
    json_decref(b.node);
    json_decref(b.witnesses);
    return r;
}

/* ==== text ==== */

/* Store text made printable for a terminal ("-" when absent). */
static const char *s_clean(const char *s, char *buf, size_t cap)
{
    if (!s)
        return "-";
    str_sanitize(buf, cap, s);
    return buf;
}

static int s_tlp_width(int t)
{
    int w = (int)strlen(tlp_name((tlp_t)t));
    return w < 5 ? 5 : w;
}

/* One {TLP: n} row of the type-by-TLP table, with its total. */
static void s_text_tlp_row(FILE *f, const char *label, const json_t *levels)
{
    char buf[64];
    fprintf(f, "      %-24s", s_clean(label, buf, sizeof buf));
    for (int t = 0; t < TLP_COUNT; t++)
        fprintf(f, " %*lld", s_tlp_width(t), (long long)s_int(levels, tlp_name((tlp_t)t)));
    fprintf(f, " %6lld\n", (long long)s_sum(levels));
}

static void s_text_tally(FILE *f, const char *label, const json_t *tally)
{
    const json_t *by_type = json_object_get(tally, "by_type");
    size_t n = 0;
    fprintf(f, "  %s: %lld item(s)\n", label, (long long)s_int(tally, "total"));
    if (s_int(tally, "total") == 0)
        return;
    fprintf(f, "      %-24s", "type");
    for (int t = 0; t < TLP_COUNT; t++)
        fprintf(f, " %*s", s_tlp_width(t), tlp_name((tlp_t)t));
    fprintf(f, " %6s\n", "total");
    const char **types = s_keys(by_type, NULL, &n);
    for (size_t i = 0; types && i < n; i++)
        s_text_tlp_row(f, types[i], json_object_get(by_type, types[i]));
    free(types);
    s_text_tlp_row(f, "(all types)", json_object_get(tally, "by_tlp"));
}

static void s_text_daily(FILE *f, const json_t *g)
{
    const json_t *daily = json_object_get(g, "daily"), *d;
    size_t i;
    if (json_array_size(daily) == 0)
        return;
    fprintf(f, "  per day:\n");
    json_array_foreach(daily, i, d)
        fprintf(f, "      %s  shared %6lld  received %6lld\n", s_str(d, "day"),
                (long long)s_int(d, "shared"), (long long)s_int(d, "received"));
}

static void s_text_refusals(FILE *f, const json_t *g)
{
    const json_t *list = json_object_get(g, "refusals"), *r;
    char reason[128], rule[256];
    size_t i;
    fprintf(f, "  refusals: %lld\n", (long long)s_int(g, "refused"));
    json_array_foreach(list, i, r) {
        fprintf(f, "      %-5s %-26s %-24s %6lld", s_str(r, "direction"), s_str(r, "kind"),
                s_clean(s_str(r, "reason"), reason, sizeof reason), (long long)s_int(r, "count"));
        if (s_str(r, "rule"))
            fprintf(f, "   rule: %s", s_clean(s_str(r, "rule"), rule, sizeof rule));
        fputc('\n', f);
    }
}

static void s_text_purges(FILE *f, const json_t *g)
{
    const json_t *list = json_object_get(g, "purges"), *p;
    size_t i;
    fprintf(f, "  retention purges: %lld item(s)\n", (long long)s_int(g, "purged"));
    json_array_foreach(list, i, p)
        fprintf(f, "      %s  entry %-6lld purged %lld (retention %lld days)\n", s_str(p, "time"),
                (long long)s_int(p, "entry"), (long long)s_int(p, "purged"),
                (long long)s_int(p, "retention_days"));
}

static void s_text_events(FILE *f, const json_t *g)
{
    const json_t *list = json_object_get(g, "events"), *ev;
    char reason[128], detail[512];
    size_t i;
    fprintf(f, "  events: %zu\n", json_array_size(list));
    json_array_foreach(list, i, ev) {
        fprintf(f, "      %s  entry %-6lld %-10s %-24s", s_str(ev, "time"),
                (long long)s_int(ev, "entry"), s_str(ev, "category"), s_str(ev, "kind"));
        if (s_str(ev, "reason"))
            fprintf(f, " %s", s_clean(s_str(ev, "reason"), reason, sizeof reason));
        if (s_str(ev, "detail"))
            fprintf(f, " (%s)", s_clean(s_str(ev, "detail"), detail, sizeof detail));
        fputc('\n', f);
    }
}

static void s_text_group_title(FILE *f, const json_t *g)
{
    char id[STORE_MOU_ID_MAX + 1], peer[128];
    const char *mou = s_str(g, "mou"), *partner = s_str(g, "partner");
    if (!partner) {
        fprintf(f, "\nthe node's own entries (naming no partner)\n");
        return;
    }
    if (!mou) {
        fprintf(f, "\npartner %s, under no MOU\n", s_clean(partner, peer, sizeof peer));
        return;
    }
    fprintf(f, "\nMOU %s with %s", s_clean(mou, id, sizeof id),
            s_clean(partner, peer, sizeof peer));
    if (s_str(g, "state"))
        fprintf(f, ": %s, activated %s", s_str(g, "state"), s_str(g, "activated"));
    if (s_str(g, "ended"))
        fprintf(f, ", ended %s", s_str(g, "ended"));
    fputc('\n', f);
}

static void s_text_group(FILE *f, const json_t *g)
{
    s_text_group_title(f, g);
    if (s_str(g, "partner")) {
        s_text_tally(f, "shared", json_object_get(g, "shared"));
        s_text_tally(f, "received", json_object_get(g, "received"));
        s_text_daily(f, g);
    }
    s_text_refusals(f, g);
    if (json_object_get(g, "outstanding"))
        fprintf(f, "  receipts outstanding: %lld item(s) in the outbox\n",
                (long long)s_int(g, "outstanding"));
    if (s_str(g, "partner"))
        s_text_purges(f, g);
    s_text_events(f, g);
}

static void s_text_size_time(FILE *f, const json_t *st)
{
    if (st)
        fprintf(f, "size %-6lld at %s", (long long)s_int(st, "size"), s_str(st, "time"));
    else
        fprintf(f, "%-34s", "none");
}

static void s_text_checkpoints(FILE *f, const json_t *cps)
{
    const json_t *latest = json_object_get(cps, "latest"), *w;
    size_t i;
    fprintf(f, "\ncheckpoints: %lld signed in the period; latest: ",
            (long long)s_int(cps, "signed"));
    if (json_is_object(latest))
        s_text_size_time(f, latest);
    else
        fprintf(f, "none");
    fputc('\n', f);
    json_array_foreach(json_object_get(cps, "witnesses"), i, w) {
        fprintf(f, "  partner %s\n      countersigned ours: ", s_str(w, "partner"));
        s_text_size_time(f, json_is_object(json_object_get(w, "countersigned"))
                                ? json_object_get(w, "countersigned") : NULL);
        fprintf(f, " (%lld in the period)\n      its log witnessed:  ",
                (long long)s_int(w, "countersignatures"));
        s_text_size_time(f, json_is_object(json_object_get(w, "witnessed"))
                                ? json_object_get(w, "witnessed") : NULL);
        fprintf(f, "\n      inconsistent checkpoints: %lld%s; refused by partner: %lld\n",
                (long long)s_int(w, "inconsistent"),
                s_int(w, "inconsistent") ? " (ITS LOG WAS REWRITTEN)" : "",
                (long long)s_int(w, "refused_by_partner"));
    }
}

static void s_text_header(FILE *f, const json_t *r)
{
    const json_t *period = json_object_get(r, "period"), *log = json_object_get(r, "log");
    const json_t *t = json_object_get(r, "totals");
    fprintf(f, "audit report of %s (%s)\n", s_str(r, "agency"), s_str(r, "dir"));
    fprintf(f, "  period:    %s to %s (end excluded)\n",
            s_str(period, "from") ? s_str(period, "from") : "the first entry",
            s_str(period, "to") ? s_str(period, "to") : "now");
    if (s_str(r, "mou"))
        fprintf(f, "  MOU:       %s\n", s_str(r, "mou"));
    fprintf(f, "  generated: %s\n", s_str(r, "generated"));
    fprintf(f, "  audit log: %lld entries, %lld signed checkpoint(s): %s; %lld entries in the "
            "period\n", (long long)s_int(log, "entries"), (long long)s_int(log, "checkpoints"),
            json_is_true(json_object_get(log, "intact")) ? "intact"
                                                         : "ALTERED (moux audit verify)",
            (long long)s_int(log, "in_period"));
    fprintf(f, "  totals:    %lld shared, %lld received, %lld refusal(s), %lld purged, "
            "%lld receipt(s) outstanding\n", (long long)s_int(t, "shared"),
            (long long)s_int(t, "received"), (long long)s_int(t, "refused"),
            (long long)s_int(t, "purged"), (long long)s_int(t, "outstanding"));
}

static void s_text(FILE *f, const json_t *r)
{
    const json_t *g;
    size_t i;
    s_text_header(f, r);
    json_array_foreach(json_object_get(r, "mous"), i, g)
        s_text_group(f, g);
    if (json_is_object(json_object_get(r, "node")))
        s_text_group(f, json_object_get(r, "node"));
    s_text_checkpoints(f, json_object_get(r, "checkpoints"));
}

/* ==== HTML ==== */

/* Writes s escaped for HTML text and quoted attribute values: & < > " '
 * become references, control characters U+FFFD. */
static void s_html_escape(FILE *f, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        case '\'': fputs("&#39;", f); break;
        default:
            if ((unsigned char)*s < 0x20 && *s != '\n' && *s != '\t')
                fputs("&#xFFFD;", f);
            else
                fputc(*s, f);
        }
    }
}

/* <TAG CLASS>escaped text</TAG>; "-" for no text. */
static void s_html_el(FILE *f, const char *tag, const char *cls, const char *text)
{
    fprintf(f, "<%s", tag);
    if (cls)
        fprintf(f, " class=\"%s\"", cls);
    fputc('>', f);
    s_html_escape(f, text ? text : "-");
    fprintf(f, "</%s>", tag);
}

static void s_html_num(FILE *f, json_int_t n)
{
    fprintf(f, "<td class=\"n\">%lld</td>", (long long)n);
}

/* ---- colours ---- */

#define COLOUR_SHARED "#2f6fdf"
#define COLOUR_RECEIVED "#16a085"
#define COLOUR_INK "#1d232b"
#define COLOUR_GRID "#dde1e6"

/* TLP 2.0 (FIRST): the colour of each level, shown on black. */
static const char *const s_tlp_colour[TLP_COUNT] = {"#FFFFFF", "#33FF00", "#FFC000", "#FFC000",
                                                    "#FF2B2B"};

static void s_html_tlp_label(FILE *f, int t)
{
    char upper[32];
    str_copy(upper, sizeof upper, tlp_name((tlp_t)t));
    for (char *c = upper; *c; c++)
        if (*c >= 'a' && *c <= 'z')
            *c = (char)(*c - 'a' + 'A');
    fprintf(f, "<span class=\"tlp\" style=\"color:%s\">TLP:%s</span>", s_tlp_colour[t], upper);
}

/* ---- SVG charts ---- */

#define CHART_W 960

/* A y axis for values up to max: a step of 1, 2 or 5 times a power of ten
 * giving about four ticks, and the top it reaches. */
static void s_axis(json_int_t max, json_int_t *step, json_int_t *top)
{
    json_int_t want = (max + 3) / 4, s = 1;
    while (s < want) {
        if (2 * s >= want) {
            s *= 2;
            break;
        }
        if (5 * s >= want) {
            s *= 5;
            break;
        }
        s *= 10;
    }
    *step = s;
    *top = max > 0 ? (max + s - 1) / s * s : s;
}

static void s_svg_open(FILE *f, int h, const char *label)
{
    fprintf(f, "<svg class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %d %d\" "
            "role=\"img\" aria-label=\"%s\">\n", CHART_W, h, label);
}

/* A bar with a tooltip: "<what>: <n>". */
static void s_svg_bar(FILE *f, double x, double y, double w, double h, const char *fill,
                      const char *what, const char *what2, json_int_t n)
{
    fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\">"
            "<title>", x, y, w, h, fill);
    s_html_escape(f, what);
    s_html_escape(f, what2);
    fprintf(f, ": %lld</title></rect>\n", (long long)n);
}

static void s_svg_text(FILE *f, double x, double y, const char *anchor, const char *text)
{
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\">", x, y, anchor);
    s_html_escape(f, text);
    fputs("</text>\n", f);
}

static void s_svg_swatch(FILE *f, double x, double y, const char *fill, const char *label)
{
    fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"12\" height=\"12\" fill=\"%s\"/>", x, y - 10,
            fill);
    s_svg_text(f, x + 16, y, "start", label);
}

/* Horizontal grid lines and their values, for a plot at (x, y), w by h. */
static void s_svg_y_grid(FILE *f, double x, double y, double w, double h, json_int_t step,
                         json_int_t top)
{
    char label[32];
    for (json_int_t v = 0; v <= top; v += step) {
        double gy = y + h - h * (double)v / (double)top;
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\"/>\n", x,
                gy, x + w, gy, COLOUR_GRID);
        snprintf(label, sizeof label, "%lld", (long long)v);
        s_svg_text(f, x - 6, gy + 4, "end", label);
    }
}

/* Vertical grid lines and their values, for a plot at (x, y), w by h. */
static void s_svg_x_grid(FILE *f, double x, double y, double w, double h, json_int_t step,
                         json_int_t top)
{
    char label[32];
    for (json_int_t v = 0; v <= top; v += step) {
        double gx = x + w * (double)v / (double)top;
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\"/>\n", gx,
                y, gx, y + h, COLOUR_GRID);
        snprintf(label, sizeof label, "%lld", (long long)v);
        s_svg_text(f, gx, y + h + 14, "middle", label);
    }
}

static void s_svg_empty(FILE *f, const char *label, const char *message)
{
    s_svg_open(f, 60, label);
    s_svg_text(f, CHART_W / 2.0, 34, "middle", message);
    fputs("</svg>\n", f);
}

/* ---- the daily chart ---- */

typedef struct {
    char day[11];
    json_int_t shared, received;
} s_day_t;

static int64_t s_day_number(const char *iso)
{
    uint64_t ms = 0;
    return iso && parse_time_ms(iso, &ms) == 0 ? (int64_t)(ms / DAY_MS) : -1;
}

/* The days the chart shows: from the first to the last with items, or the
 * whole period when it is short; at most DAILY_CHART_DAYS, the latest. -1
 * when no day has items. */
static int s_day_range(const json_t *daily, const json_t *period, int64_t *lo, int64_t *hi)
{
    int64_t from = s_day_number(s_str(period, "from"));
    uint64_t to_ms = 0;
    *lo = s_day_number(s_str(json_array_get(daily, 0), "day"));
    *hi = s_day_number(s_str(json_array_get(daily, json_array_size(daily) - 1), "day"));
    if (*lo < 0 || *hi < 0)
        return -1;
    if (from >= 0 && s_str(period, "to") && parse_time_ms(s_str(period, "to"), &to_ms) == 0 &&
        to_ms > 0 && (int64_t)((to_ms - 1) / DAY_MS) - from < DAILY_PERIOD_DAYS) {
        *lo = from;
        *hi = (int64_t)((to_ms - 1) / DAY_MS);
    }
    if (*hi - *lo >= DAILY_CHART_DAYS)
        *lo = *hi - DAILY_CHART_DAYS + 1;
    return 0;
}

/* Every day of the chart with its volume (none left out: quiet days are
 * zero). NULL when no day has items. */
static s_day_t *s_days(const json_t *daily, const json_t *period, size_t *n)
{
    int64_t lo, hi;
    s_day_t *days = NULL;
    const json_t *d;
    size_t i;
    *n = 0;
    if (s_day_range(daily, period, &lo, &hi) != 0 ||
        !(days = calloc((size_t)(hi - lo + 1), sizeof *days)))
        return NULL;
    *n = (size_t)(hi - lo + 1);
    for (i = 0; i < *n; i++)
        s_day((uint64_t)(lo + (int64_t)i) * DAY_MS, days[i].day);
    json_array_foreach(daily, i, d) {
        int64_t k = s_day_number(s_str(d, "day")) - lo;
        if (k >= 0 && k < (int64_t)*n) {
            days[k].shared = s_int(d, "shared");
            days[k].received = s_int(d, "received");
        }
    }
    return days;
}

static void s_svg_daily_bars(FILE *f, const s_day_t *days, size_t n, double x0, double y0,
                             double pw, double ph, json_int_t top)
{
    double slot = pw / (double)n, bw = slot * 0.38 < 36 ? slot * 0.38 : 36;
    size_t every = n / 12 + 1; /* at most about twelve day labels */
    for (size_t i = 0; i < n; i++) {
        double x = x0 + slot * (double)i + (slot - 2 * bw) / 2;
        double hs = ph * (double)days[i].shared / (double)top;
        double hr = ph * (double)days[i].received / (double)top;
        if (days[i].shared)
            s_svg_bar(f, x, y0 + ph - hs, bw, hs, COLOUR_SHARED, days[i].day, " shared",
                      days[i].shared);
        if (days[i].received)
            s_svg_bar(f, x + bw, y0 + ph - hr, bw, hr, COLOUR_RECEIVED, days[i].day,
                      " received", days[i].received);
        if (i % every == 0 || i == n - 1)
            s_svg_text(f, x0 + slot * ((double)i + 0.5), y0 + ph + 16, "middle",
                       n > 1 ? days[i].day + 5 : days[i].day);
    }
}

/* Volume per day: items shared and received, side by side. */
static void s_svg_daily(FILE *f, const json_t *g, const json_t *period)
{
    const double left = 56, right = 12, top_m = 30, bottom = 40, h = 280;
    size_t n = 0;
    s_day_t *days = s_days(json_object_get(g, "daily"), period, &n);
    json_int_t max = 0, step, top;
    if (!days) {
        s_svg_empty(f, "Items shared and received per day",
                    "no items shared or received in the period");
        return;
    }
    for (size_t i = 0; i < n; i++) {
        max = days[i].shared > max ? days[i].shared : max;
        max = days[i].received > max ? days[i].received : max;
    }
    s_axis(max, &step, &top);
    s_svg_open(f, (int)h, "Items shared and received per day");
    s_svg_y_grid(f, left, top_m, CHART_W - left - right, h - top_m - bottom, step, top);
    s_svg_daily_bars(f, days, n, left, top_m, CHART_W - left - right, h - top_m - bottom, top);
    s_svg_swatch(f, CHART_W - 230, 18, COLOUR_SHARED, "shared");
    s_svg_swatch(f, CHART_W - 130, 18, COLOUR_RECEIVED, "received");
    fputs("</svg>\n", f);
    free(days);
}

/* ---- the chart by type ---- */

#define TYPE_LEFT 200.0 /* the type names */
#define TYPE_ROW 36.0
#define TYPE_TOP 30.0

/* One type: its shared and received bars, with their counts. */
static void s_svg_type_row(FILE *f, const char *type, json_int_t shared, json_int_t received,
                           double y, double pw, json_int_t top)
{
    double ws = pw * (double)shared / (double)top, wr = pw * (double)received / (double)top;
    char n[32];
    s_svg_text(f, TYPE_LEFT - 8, y + 18, "end", type);
    s_svg_bar(f, TYPE_LEFT, y, ws, 12, COLOUR_SHARED, type, " shared", shared);
    s_svg_bar(f, TYPE_LEFT, y + 14, wr, 12, COLOUR_RECEIVED, type, " received", received);
    snprintf(n, sizeof n, "%lld", (long long)shared);
    s_svg_text(f, TYPE_LEFT + ws + 4, y + 10, "start", n);
    snprintf(n, sizeof n, "%lld", (long long)received);
    s_svg_text(f, TYPE_LEFT + wr + 4, y + 24, "start", n);
}

/* Items by type: shared and received bars for each type. */
static void s_svg_types(FILE *f, const json_t *g)
{
    const json_t *sh = json_object_get(json_object_get(g, "shared"), "by_type");
    const json_t *rc = json_object_get(json_object_get(g, "received"), "by_type");
    size_t n = 0;
    const char **types = s_keys(sh, rc, &n);
    json_int_t max = 0, step, top;
    if (!types || n == 0) {
        free(types);
        s_svg_empty(f, "Items by type", "no items shared or received in the period");
        return;
    }
    for (size_t i = 0; i < n; i++) {
        json_int_t a = s_sum(json_object_get(sh, types[i]));
        json_int_t b = s_sum(json_object_get(rc, types[i]));
        max = a > max ? a : max;
        max = b > max ? b : max;
    }
    s_axis(max, &step, &top);
    double pw = CHART_W - TYPE_LEFT - 60, rows = TYPE_ROW * (double)n;
    s_svg_open(f, (int)(TYPE_TOP + rows + 30), "Items shared and received by type");
    s_svg_x_grid(f, TYPE_LEFT, TYPE_TOP, pw, rows, step, top);
    for (size_t i = 0; i < n; i++)
        s_svg_type_row(f, types[i], s_sum(json_object_get(sh, types[i])),
                       s_sum(json_object_get(rc, types[i])),
                       TYPE_TOP + TYPE_ROW * (double)i + 5, pw, top);
    s_svg_swatch(f, CHART_W - 230, 18, COLOUR_SHARED, "shared");
    s_svg_swatch(f, CHART_W - 130, 18, COLOUR_RECEIVED, "received");
    fputs("</svg>\n", f);
    free(types);
}

/* ---- the chart by TLP ---- */

/* AMBER+STRICT: amber, hatched, to tell it from AMBER. */
static void s_svg_strict_pattern(FILE *f, int id)
{
    fprintf(f, "<defs><pattern id=\"strict-%d\" width=\"8\" height=\"8\" "
            "patternUnits=\"userSpaceOnUse\" patternTransform=\"rotate(45)\">"
            "<rect width=\"8\" height=\"8\" fill=\"%s\"/>"
            "<rect width=\"3\" height=\"8\" fill=\"#000000\" fill-opacity=\"0.45\"/>"
            "</pattern></defs>\n", id, s_tlp_colour[TLP_AMBER_STRICT]);
}

/* One direction as a bar split by TLP level, left to right. */
static void s_svg_tlp_bar(FILE *f, const json_t *by_tlp, const char *dir, double y, double x0,
                          double pw, json_int_t top, int id)
{
    double x = x0;
    char fill[32], label[64];
    s_svg_text(f, x0 - 8, y + 22, "end", dir);
    for (int t = 0; t < TLP_COUNT; t++) {
        json_int_t n = s_int(by_tlp, tlp_name((tlp_t)t));
        double w = pw * (double)n / (double)top;
        if (n == 0)
            continue;
        if (t == TLP_AMBER_STRICT)
            snprintf(fill, sizeof fill, "url(#strict-%d)", id);
        else
            snprintf(fill, sizeof fill, "%s", s_tlp_colour[t]);
        snprintf(label, sizeof label, "TLP:%s %s", tlp_name((tlp_t)t), dir);
        fprintf(f, "<g stroke=\"#000000\" stroke-width=\"1\">");
        s_svg_bar(f, x, y, w, 34, fill, label, "", n);
        fputs("</g>", f);
        snprintf(label, sizeof label, "%lld", (long long)n);
        if (w >= 28)
            s_svg_text(f, x + w / 2, y + 22, "middle", label);
        x += w;
    }
    snprintf(label, sizeof label, "%lld", (long long)s_sum(by_tlp));
    s_svg_text(f, x + 6, y + 22, "start", label);
}

/* The TLP 2.0 labels: the colour on black. */
static void s_svg_tlp_legend(FILE *f, double y, int id)
{
    double x = 120;
    for (int t = 0; t < TLP_COUNT; t++) {
        char label[32];
        snprintf(label, sizeof label, "TLP:%s", tlp_name((tlp_t)t));
        for (char *c = label; *c; c++)
            if (*c >= 'a' && *c <= 'z')
                *c = (char)(*c - 'a' + 'A');
        double w = 14 + 8.2 * (double)strlen(label);
        fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"22\" rx=\"3\" "
                "fill=\"#000000\"/>", x, y, w);
        if (t == TLP_AMBER_STRICT)
            fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"8\" height=\"22\" "
                    "fill=\"url(#strict-%d)\"/>", x + w, y, id);
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" fill=\"%s\" font-weight=\"bold\">%s</text>\n",
                x + 7, y + 16, s_tlp_colour[t], label);
        x += w + 24;
    }
}

/* Items by TLP: shared and received, each split by level in its colour. */
static void s_svg_tlp(FILE *f, const json_t *g, int id)
{
    const json_t *sh = json_object_get(json_object_get(g, "shared"), "by_tlp");
    const json_t *rc = json_object_get(json_object_get(g, "received"), "by_tlp");
    const double left = 110, right = 70, top_m = 16;
    json_int_t max = s_sum(sh) > s_sum(rc) ? s_sum(sh) : s_sum(rc);
    if (max == 0) {
        s_svg_empty(f, "Items by TLP", "no items shared or received in the period");
        return;
    }
    s_svg_open(f, 150, "Items shared and received by TLP");
    s_svg_strict_pattern(f, id);
    s_svg_tlp_bar(f, sh, "shared", top_m, left, CHART_W - left - right, max, id);
    s_svg_tlp_bar(f, rc, "received", top_m + 48, left, CHART_W - left - right, max, id);
    s_svg_tlp_legend(f, top_m + 100, id);
    fputs("</svg>\n", f);
}

/* ---- tables ---- */

/* Items of one direction by type and TLP, with a row of totals. */
static void s_html_tally(FILE *f, const char *dir, const json_t *tally)
{
    const json_t *by_type = json_object_get(tally, "by_type");
    size_t n = 0;
    if (s_int(tally, "total") == 0) {
        fprintf(f, "<p class=\"none\">No items %s in the period.</p>\n", dir);
        return;
    }
    fprintf(f, "<table class=\"tally\" data-dir=\"%s\">\n<tr><th>type</th>", dir);
    for (int t = 0; t < TLP_COUNT; t++) {
        fputs("<th class=\"n\">", f);
        s_html_tlp_label(f, t);
        fputs("</th>", f);
    }
    fputs("<th class=\"n\">total</th></tr>\n", f);
    const char **types = s_keys(by_type, NULL, &n);
    for (size_t i = 0; types && i <= n; i++) {
        const json_t *levels = i < n ? json_object_get(by_type, types[i])
                                     : json_object_get(tally, "by_tlp");
        fprintf(f, "<tr data-dir=\"%s\" data-type=\"", dir);
        s_html_escape(f, i < n ? types[i] : "*");
        fputs(i < n ? "\">" : "\" class=\"sum\">", f);
        s_html_el(f, "td", NULL, i < n ? types[i] : "all types");
        for (int t = 0; t < TLP_COUNT; t++)
            fprintf(f, "<td class=\"n\" data-tlp=\"%s\">%lld</td>", tlp_name((tlp_t)t),
                    (long long)s_int(levels, tlp_name((tlp_t)t)));
        fprintf(f, "<td class=\"n\" data-tlp=\"total\">%lld</td></tr>\n", (long long)s_sum(levels));
    }
    free(types);
    fputs("</table>\n", f);
}

static void s_html_refusals(FILE *f, const json_t *g)
{
    const json_t *list = json_object_get(g, "refusals"), *r;
    size_t i;
    fprintf(f, "<h3>Refusals by reason</h3>\n");
    if (json_array_size(list) == 0) {
        fputs("<p class=\"none\">No refusals in the period.</p>\n", f);
        return;
    }
    fputs("<table class=\"refusals\">\n<tr><th>direction</th><th>kind</th><th>reason</th>"
          "<th>MOU rule</th><th class=\"n\">count</th></tr>\n", f);
    json_array_foreach(list, i, r) {
        fputs("<tr>", f);
        s_html_el(f, "td", NULL, s_str(r, "direction"));
        s_html_el(f, "td", NULL, s_str(r, "kind"));
        s_html_el(f, "td", "reason", s_str(r, "reason"));
        s_html_el(f, "td", NULL, s_str(r, "rule"));
        s_html_num(f, s_int(r, "count"));
        fputs("</tr>\n", f);
    }
    fputs("</table>\n<p class=\"note\">in: refused by this node, from the partner; out: not "
          "delivered to the partner (refused here under the MOU, or by the partner); local: "
          "refused at publication.</p>\n", f);
}

static void s_html_purges(FILE *f, const json_t *g)
{
    const json_t *list = json_object_get(g, "purges"), *p;
    size_t i;
    fprintf(f, "<h3>Retention purges</h3>\n");
    if (json_array_size(list) == 0) {
        fputs("<p class=\"none\">No retention purges in the period.</p>\n", f);
        return;
    }
    fputs("<table class=\"purges\">\n<tr><th>time</th><th class=\"n\">entry</th>"
          "<th class=\"n\">retention days</th><th class=\"n\">items purged</th></tr>\n", f);
    json_array_foreach(list, i, p) {
        fputs("<tr>", f);
        s_html_el(f, "td", NULL, s_str(p, "time"));
        s_html_num(f, s_int(p, "entry"));
        s_html_num(f, s_int(p, "retention_days"));
        s_html_num(f, s_int(p, "purged"));
        fputs("</tr>\n", f);
    }
    fputs("</table>\n", f);
}

static void s_html_events(FILE *f, const json_t *g)
{
    const json_t *list = json_object_get(g, "events"), *ev;
    size_t i;
    fprintf(f, "<h3>Events: MOU, keys, checkpoints</h3>\n");
    if (json_array_size(list) == 0) {
        fputs("<p class=\"none\">No events in the period.</p>\n", f);
        return;
    }
    fputs("<table class=\"events\">\n<tr><th>time</th><th class=\"n\">entry</th><th>category</th>"
          "<th>kind</th><th>reason</th><th>detail</th></tr>\n", f);
    json_array_foreach(list, i, ev) {
        int alarm = strcmp(s_str(ev, "kind"), "checkpoint-inconsistent") == 0;
        fputs(alarm ? "<tr class=\"alarm\">" : "<tr>", f);
        s_html_el(f, "td", NULL, s_str(ev, "time"));
        s_html_num(f, s_int(ev, "entry"));
        s_html_el(f, "td", NULL, s_str(ev, "category"));
        s_html_el(f, "td", NULL, s_str(ev, "kind"));
        s_html_el(f, "td", NULL, s_str(ev, "reason"));
        s_html_el(f, "td", "detail", s_str(ev, "detail"));
        fputs("</tr>\n", f);
    }
    fputs("</table>\n", f);
}

/* ---- sections ---- */

static void s_html_card(FILE *f, json_int_t n, const char *what)
{
    fprintf(f, "<div class=\"card\"><b>%lld</b><span>%s</span></div>\n", (long long)n, what);
}

static void s_html_group_title(FILE *f, const json_t *g)
{
    const char *mou = s_str(g, "mou"), *partner = s_str(g, "partner");
    fputs("<h2>", f);
    if (mou) {
        fputs("MOU <code>", f);
        s_html_escape(f, mou);
        fputs("</code> with ", f);
        s_html_escape(f, partner);
    } else {
        fputs("Partner ", f);
        s_html_escape(f, partner);
        fputs(", under no MOU", f);
    }
    fputs("</h2>\n<p class=\"meta\">", f);
    if (s_str(g, "state")) {
        s_html_el(f, "span", "state", s_str(g, "state"));
        fputs(" · activated ", f);
        s_html_escape(f, s_str(g, "activated"));
    }
    if (s_str(g, "ended")) {
        fputs(" · ended ", f);
        s_html_escape(f, s_str(g, "ended"));
    }
    if (s_str(g, "ended_by")) {
        fputs(" by ", f);
        s_html_escape(f, s_str(g, "ended_by"));
        fputs(": ", f);
        s_html_escape(f, s_str(g, "end_reason"));
    }
    fputs("</p>\n", f);
}

static void s_html_cards(FILE *f, const json_t *g)
{
    fputs("<div class=\"cards\">\n", f);
    s_html_card(f, s_int(json_object_get(g, "shared"), "total"), "items shared");
    s_html_card(f, s_int(json_object_get(g, "received"), "total"), "items received");
    s_html_card(f, s_int(g, "refused"), "refusals");
    if (json_object_get(g, "outstanding"))
        s_html_card(f, s_int(g, "outstanding"), "receipts outstanding");
    s_html_card(f, s_int(g, "purged"), "items purged");
    fputs("</div>\n", f);
}

static void s_html_group(FILE *f, const json_t *g, const json_t *period, int id)
{
    fprintf(f, "<section class=\"mou\" id=\"mou-%d\">\n", id);
    s_html_group_title(f, g);
    s_html_cards(f, g);
    fputs("<h3>Volume per day</h3>\n", f);
    s_svg_daily(f, g, period);
    fputs("<h3>Items by type</h3>\n", f);
    s_svg_types(f, g);
    fputs("<h3>Items by TLP</h3>\n", f);
    s_svg_tlp(f, g, id);
    fputs("<h3>Shared, by type and TLP</h3>\n", f);
    s_html_tally(f, "shared", json_object_get(g, "shared"));
    fputs("<h3>Received, by type and TLP</h3>\n", f);
    s_html_tally(f, "received", json_object_get(g, "received"));
    s_html_refusals(f, g);
    s_html_purges(f, g);
    s_html_events(f, g);
    fputs("</section>\n", f);
}

static void s_html_node(FILE *f, const json_t *node)
{
    fputs("<section class=\"node\" id=\"node\">\n<h2>The node's own entries</h2>\n"
          "<p class=\"meta\">Entries that name no partner: this node's key events, refused "
          "publications and connections, withdrawals.</p>\n", f);
    s_html_refusals(f, node);
    s_html_events(f, node);
    fputs("</section>\n", f);
}

static void s_html_summary(FILE *f, const json_t *r)
{
    const json_t *g;
    size_t i;
    fputs("<section class=\"summary\">\n<h2>Summary</h2>\n<table class=\"summary\">\n<tr>"
          "<th>MOU</th><th>partner</th><th>state</th><th class=\"n\">shared</th>"
          "<th class=\"n\">received</th><th class=\"n\">refusals</th><th class=\"n\">purged</th>"
          "<th class=\"n\">outstanding</th></tr>\n", f);
    json_array_foreach(json_object_get(r, "mous"), i, g) {
        fprintf(f, "<tr><td><a href=\"#mou-%zu\">", i + 1);
        s_html_escape(f, s_str(g, "mou") ? s_str(g, "mou") : "(no MOU)");
        fputs("</a></td>", f);
        s_html_el(f, "td", NULL, s_str(g, "partner"));
        s_html_el(f, "td", NULL, s_str(g, "state"));
        s_html_num(f, s_int(json_object_get(g, "shared"), "total"));
        s_html_num(f, s_int(json_object_get(g, "received"), "total"));
        s_html_num(f, s_int(g, "refused"));
        s_html_num(f, s_int(g, "purged"));
        if (json_object_get(g, "outstanding"))
            s_html_num(f, s_int(g, "outstanding"));
        else
            fputs("<td class=\"n\">-</td>", f);
        fputs("</tr>\n", f);
    }
    fputs("</table>\n</section>\n", f);
}

static void s_html_size_time(FILE *f, const json_t *st)
{
    if (!json_is_object(st)) {
        fputs("<td>none</td>", f);
        return;
    }
    fprintf(f, "<td>size %lld at ", (long long)s_int(st, "size"));
    s_html_escape(f, s_str(st, "time"));
    fputs("</td>", f);
}

static void s_html_checkpoints(FILE *f, const json_t *cps)
{
    const json_t *latest = json_object_get(cps, "latest"), *w;
    size_t i;
    fprintf(f, "<section class=\"checkpoints\">\n<h2>Checkpoints and witnesses</h2>\n"
            "<p>%lld checkpoint(s) signed in the period; the latest: ",
            (long long)s_int(cps, "signed"));
    if (json_is_object(latest)) {
        fprintf(f, "size %lld, signed ", (long long)s_int(latest, "size"));
        s_html_escape(f, s_str(latest, "time"));
    } else {
        fputs("none", f);
    }
    fputs(".</p>\n<table class=\"witnesses\">\n<tr><th>partner</th><th>countersigned ours</th>"
          "<th class=\"n\">countersignatures in period</th><th>its log, witnessed here</th>"
          "<th class=\"n\">inconsistent</th><th class=\"n\">refused by partner</th></tr>\n", f);
    json_array_foreach(json_object_get(cps, "witnesses"), i, w) {
        fputs(s_int(w, "inconsistent") ? "<tr class=\"alarm\">" : "<tr>", f);
        s_html_el(f, "td", NULL, s_str(w, "partner"));
        s_html_size_time(f, json_object_get(w, "countersigned"));
        s_html_num(f, s_int(w, "countersignatures"));
        s_html_size_time(f, json_object_get(w, "witnessed"));
        s_html_num(f, s_int(w, "inconsistent"));
        s_html_num(f, s_int(w, "refused_by_partner"));
        fputs("</tr>\n", f);
    }
    fputs("</table>\n</section>\n", f);
}

static const char *s_css =
    "body{margin:0;background:#f4f5f7;color:#1d232b;"
    "font-family:system-ui,-apple-system,'Segoe UI',Roboto,Helvetica,Arial,sans-serif}"
    "header{background:#14202e;color:#fff;padding:20px 32px}"
    "header h1{margin:0 0 6px;font-size:26px}header p{margin:2px 0;color:#c9d3df}"
    "main{max-width:1100px;margin:0 auto;padding:8px 24px 32px}"
    "section{background:#fff;border:1px solid #dde1e6;border-radius:8px;padding:12px 20px 18px;"
    "margin:18px 0}"
    "h2{font-size:20px;margin:8px 0}h3{font-size:15px;margin:18px 0 6px;color:#3b4754}"
    "table{border-collapse:collapse;width:100%;font-size:13px}"
    "th,td{border-bottom:1px solid #e6e9ed;padding:4px 8px;text-align:left;vertical-align:top}"
    "th{background:#f0f2f5}.n{text-align:right;font-variant-numeric:tabular-nums}"
    "tr.sum td{font-weight:600;border-top:2px solid #c9ced5}"
    "td.detail{font-family:ui-monospace,Menlo,Consolas,monospace;word-break:break-all}"
    ".tlp{background:#000;padding:1px 6px;border-radius:3px;font-weight:700;white-space:nowrap}"
    ".cards{display:flex;gap:12px;flex-wrap:wrap;margin:8px 0}"
    ".card{border:1px solid #dde1e6;border-radius:6px;padding:8px 14px;min-width:120px}"
    ".card b{display:block;font-size:24px}.card span{color:#56606b;font-size:13px}"
    ".meta,.note,.none{color:#56606b;font-size:13px}"
    ".ok{color:#13795b}.alarm,.alarm td{color:#b00020;font-weight:700}"
    "svg.chart{width:100%;height:auto;display:block;font-size:12px;fill:#1d232b}"
    "code{font-size:95%}"
    "@media print{body{background:#fff}section{break-inside:avoid}}";

static void s_html_head(FILE *f, const json_t *r)
{
    fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
          "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
          "style-src 'unsafe-inline'\">\n"
          "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>", f);
    fputs("moux audit report: ", f);
    s_html_escape(f, s_str(r, "agency"));
    fprintf(f, "</title>\n<style>%s</style>\n</head>\n", s_css);
}

static void s_html_header(FILE *f, const json_t *r)
{
    const json_t *period = json_object_get(r, "period"), *log = json_object_get(r, "log");
    int intact = json_is_true(json_object_get(log, "intact"));
    fputs("<header>\n<h1>Audit report: ", f);
    s_html_escape(f, s_str(r, "agency"));
    fputs("</h1>\n<p>Period: ", f);
    s_html_escape(f, s_str(period, "from") ? s_str(period, "from") : "the first entry");
    fputs(" to ", f);
    s_html_escape(f, s_str(period, "to") ? s_str(period, "to") : "now");
    if (s_str(r, "mou")) {
        fputs(" · MOU ", f);
        s_html_escape(f, s_str(r, "mou"));
    }
    fputs(" · generated ", f);
    s_html_escape(f, s_str(r, "generated"));
    fprintf(f, "</p>\n<p>Audit log: %lld entries (%lld in the period), %lld signed "
            "checkpoint(s): <strong class=\"%s\">%s</strong></p>\n</header>\n",
            (long long)s_int(log, "entries"), (long long)s_int(log, "in_period"),
            (long long)s_int(log, "checkpoints"), intact ? "ok" : "alarm",
            intact ? "intact" : "ALTERED: run moux audit verify");
}

static void s_html(FILE *f, const json_t *r)
{
    const json_t *g, *node = json_object_get(r, "node");
    size_t i;
    s_html_head(f, r);
    fputs("<body>\n", f);
    s_html_header(f, r);
    fputs("<main>\n", f);
    s_html_summary(f, r);
    json_array_foreach(json_object_get(r, "mous"), i, g)
        s_html_group(f, g, json_object_get(r, "period"), (int)i + 1);
    if (json_is_object(node))
        s_html_node(f, node);
    s_html_checkpoints(f, json_object_get(r, "checkpoints"));
    fputs("<p class=\"note\">Every count comes from the node's tamper-evident audit log; "
          "<code>moux audit prove</code> gives an inclusion proof of any entry.</p>\n"
          "</main>\n</body>\n</html>\n", f);
}

/* ==== output ==== */

static void s_json(FILE *f, const json_t *r)
{
    json_dumpf(r, f, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    fputc('\n', f);
}

static int s_write(const s_opts_t *o, const json_t *r)
{
    FILE *f = o->out ? fopen(o->out, "w") : stdout;
    if (!f)
        return cli_fail("%s: cannot write", o->out);
    if (o->format == FORMAT_JSON)
        s_json(f, r);
    else if (o->format == FORMAT_HTML)
        s_html(f, r);
    else
        s_text(f, r);
    int bad = ferror(f) != 0;
    if (o->out ? fclose(f) != 0 : fflush(f) != 0)
        bad = 1;
    return bad ? cli_fail("%s: write failed", o->out ? o->out : "stdout") : 0;
}

int cmd_audit_report(int argc, char **argv)
{
    s_opts_t o;
    config_t cfg;
    char err[512];
    int rc = s_opts(argc, argv, &o);
    if (rc != 0)
        return rc < 0 ? s_usage() : rc;
    if (!(o.dir = cli_dir(o.dir)) || cli_config(o.dir, &cfg) != 0)
        return 1;
    store_t *st = store_open(o.dir, STORE_RO, err, sizeof err);
    if (!st)
        return cli_fail("%s", err);
    json_t *r = s_build(st, cfg.agency, &o);
    store_destroy(&st);
    if (!r)
        return 1;
    rc = s_write(&o, r);
    json_decref(r);
    if (rc == 0 && o.out)
        printf("audit report of %s written to %s\n", cfg.agency, o.out);
    return rc;
}
