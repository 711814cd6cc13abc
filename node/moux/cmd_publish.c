/* moux publish: one indicator, or a file of "type,value[,tlp]" lines, handed
 * to the running node. Lines are checked here first so errors name the
 * line; the node checks everything again. A file goes in chunks, one
 * request in flight on a thread of its own: the next chunk is read, checked
 * and built while the node stores the one before. The items travel as a
 * protobuf Batch in the request's second frame: JSON cost both ends more
 * than the node's storing. */
#include "cli.h"
#include "indicator.h"
#include "moux.pb-c.h"
#include "tlp.h"
#include "util.h"

#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK 5000        /* items per control request */
#define LINE_MAX_BYTES 8192

/* The publish request the node is working on. */
typedef struct {
    pthread_t thread;
    int running, threaded;
    const char *dir;
    json_t *req, *reply;
    uint8_t *body;        /* the items, a packed Batch */
    size_t body_len;
    int *lines;           /* source line of each of its items */
    size_t n;
} s_call_t;

typedef struct {
    const char *dir;
    Moux__Indicator *pending; /* items not yet sent (CHUNK; values owned) */
    Moux__Indicator **items;  /* pointers to them, for the Batch */
    size_t n_pending;
    json_t *refused;      /* lines refused here, sent along to be recorded */
    int *lines;           /* source line of each pending item */
    s_call_t call;
    size_t sent, n_new, n_updated, n_unchanged, n_refused;
    const char *source;
    int progress;
    char **labels;        /* --label values, given to every item */
    size_t n_labels;
} s_pub_t;

static void *s_call_run(void *arg)
{
    s_call_t *c = arg;
    c->reply = cli_call_body(c->dir, c->req, c->body, c->body_len, 120000);
    return NULL;
}

/* Waits for the request in flight and counts and reports its results;
 * -1 if the node did not answer. */
static int s_collect(s_pub_t *s)
{
    s_call_t *c = &s->call;
    if (!c->running)
        return 0;
    if (c->threaded)
        pthread_join(c->thread, NULL);
    c->running = 0;
    json_decref(c->req);
    free(c->body);
    c->body = NULL;
    json_t *reply = c->reply;
    size_t n = c->n;
    if (!reply)
        return -1;
    /* A summary (file runs) counts the new items and lists the others by
     * index; a full answer lists every item. */
    json_t *counts = json_object_get(reply, "counts");
    json_t *results = json_object_get(reply, counts ? "others" : "results");
    if (counts)
        s->n_new += (size_t)json_integer_value(json_object_get(counts, "new"));
    for (size_t i = 0; i < json_array_size(results); i++) {
        json_t *r = json_array_get(results, i);
        const char *st = json_string_value(json_object_get(r, "status"));
        json_int_t at = counts ? json_integer_value(json_object_get(r, "index")) : (json_int_t)i;
        if (!st || at < 0 || (size_t)at >= n)
            continue;
        if (strcmp(st, "new") == 0)
            s->n_new++;
        else if (strcmp(st, "updated") == 0)
            s->n_updated++;
        else if (strcmp(st, "unchanged") == 0)
            s->n_unchanged++;
        else {
            s->n_refused++;
            fprintf(stderr, "moux: %s:%d: refused by the node: %s\n", s->source,
                    c->lines[at], json_string_value(json_object_get(r, "reason")));
        }
        if (n == 1 && !s->progress && json_object_get(r, "id"))
            printf("%s %s\n", json_string_value(json_object_get(r, "id")), st);
    }
    json_decref(reply);
    s->sent += n;
    if (s->progress)
        fprintf(stderr, "moux: %zu items sent to the node\n", s->sent);
    return 0;
}

/* Hands the pending chunk to the node, once the answer to the one before
 * is in (one request in flight: the node takes them in turn anyway). */
static int s_flush(s_pub_t *s)
{
    size_t n = s->n_pending;
    if (n == 0 && json_array_size(s->refused) == 0)
        return 0;
    if (s_collect(s) != 0)
        return -1;
    s_call_t *c = &s->call;
    Moux__Batch batch = MOUX__BATCH__INIT;
    batch.n_items = n;
    batch.items = s->items;
    size_t len = moux__batch__get_packed_size(&batch);
    uint8_t *body = malloc(len ? len : 1);
    if (body)
        moux__batch__pack(&batch, body);
    for (size_t i = 0; i < n; i++)
        free(s->pending[i].value);
    s->n_pending = 0;
    json_t *req = json_pack("{s:s, s:o, s:b}", "cmd", "publish", "refused", s->refused,
                            "summary", s->progress);
    s->refused = json_array();
    int *lines = c->lines; /* the two line tables change places */
    c->lines = s->lines;
    s->lines = lines;
    if (!req || !body || !s->refused) {
        json_decref(req);
        free(body);
        cli_fail("out of memory");
        return -1; /* as when the node does not answer: stop reading */
    }
    c->req = req;
    c->body = body;
    c->body_len = len;
    c->reply = NULL;
    c->n = n;
    c->dir = s->dir;
    c->running = 1;
    c->threaded = pthread_create(&c->thread, NULL, s_call_run, c) == 0;
    if (!c->threaded)
        s_call_run(c); /* no thread: in turn, as before */
    return 0;
}

/* Sends what is pending and waits for every answer. */
static int s_finish(s_pub_t *s)
{
    int rc = s_flush(s);
    return s_collect(s) != 0 || rc != 0 ? -1 : 0;
}

/* Reports a refused line and keeps it for the node's event table. */
static void s_refuse(s_pub_t *s, int line, const char *what, const char *why)
{
    char where[512];
    snprintf(where, sizeof where, "%s:%d", s->source, line);
    fprintf(stderr, "moux: %s: %s%s%s\n", where, what, *what ? ": " : "", why);
    json_array_append_new(s->refused, json_pack("{s:s, s:s}", "source", where, "reason", why));
    s->n_refused++;
}

/* Validates one item locally and appends it to the pending chunk: 0 added,
 * 1 refused here (reported), -1 the node could not be reached. */
static int s_add(s_pub_t *s, int line, const char *type, const char *value, const char *tlp,
                 long confidence, uint64_t until)
{
    ind_type_t t;
    tlp_t level;
    char norm[IND_VALUE_MAX + 1];
    const char *why = NULL;
    if (ind_type_parse(type, &t) != 0)
        why = "unknown indicator type (ipv4-addr, ipv6-addr, domain-name, url, email-addr, "
              "file:md5, file:sha1, file:sha256)";
    else if (tlp_parse(tlp, &level) != 0)
        why = "unknown TLP (clear, green, amber, amber+strict, red)";
    else
        ind_normalise(t, value, norm, sizeof norm, &why); /* sets why on failure */
    if (why) {
        char what[128];
        snprintf(what, sizeof what, "%s \"%.80s\"", type, value);
        s_refuse(s, line, what, why);
        return 1;
    }
    Moux__Indicator *it = &s->pending[s->n_pending];
    moux__indicator__init(it);
    it->type = (char *)ind_type_name(t);
    if (!(it->value = strdup(norm))) {
        cli_fail("out of memory");
        return -1;
    }
    it->tlp = (Moux__Tlp)level;
    it->confidence = (uint32_t)confidence;
    it->valid_until_ms = until;
    it->labels = s->labels;
    it->n_labels = s->n_labels;
    s->lines[s->n_pending++] = line;
    return s->n_pending >= CHUNK ? s_flush(s) : 0;
}

/* Splits "type,value[,tlp]"; a value holding commas may be "double quoted". */
static const char *s_split(char *line, char **type, char **value, char **tlp)
{
    char *comma = strchr(line, ',');
    if (!comma)
        return "expected type,value[,tlp]";
    *comma = '\0';
    *type = line;
    char *rest = comma + 1;
    *tlp = NULL;
    if (*rest == '"') {
        char *w = rest, *r = rest + 1;
        for (;; r++) {
            if (*r == '\0')
                return "unterminated quoted value";
            if (*r == '"' && r[1] == '"')
                *w++ = *r++;
            else if (*r == '"')
                break;
            else
                *w++ = *r;
        }
        *w = '\0';
        *value = rest;
        r++;
        if (*r == ',')
            *tlp = r + 1;
        else if (*r != '\0')
            return "unexpected text after the quoted value";
        return NULL;
    }
    *value = rest;
    /* The last comma starts the TLP only if what follows is one; otherwise
     * it belongs to the value (quote values with commas to be sure). */
    char *last = strrchr(rest, ',');
    tlp_t ignored;
    if (last && tlp_parse(last + 1, &ignored) == 0) {
        *last = '\0';
        *tlp = last + 1;
    }
    return NULL;
}

static int s_publish_file(s_pub_t *s, const char *path, const char *default_tlp, long conf,
                          uint64_t until)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
    if (!f)
        return cli_fail("%s: %s", path, strerror(errno));
    char *line = NULL;
    size_t cap = 0;
    ssize_t got;
    int lineno = 0, rc = 0;
    s->progress = 1;
    /* getline gives the true length: a NUL byte or an over-long line is
     * that line's error, and the next line is read whole. */
    while ((got = getline(&line, &cap, f)) >= 0) {
        lineno++;
        size_t len = (size_t)got;
        if (memchr(line, '\0', len)) {
            s_refuse(s, lineno, "", "line contains a NUL byte");
            continue;
        }
        if (len > LINE_MAX_BYTES) {
            s_refuse(s, lineno, "", "line longer than 8192 bytes");
            continue;
        }
        while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = '\0';
        if (len == 0 || line[0] == '#')
            continue;
        char *type, *value, *tlp;
        const char *why = s_split(line, &type, &value, &tlp);
        if (why) {
            s_refuse(s, lineno, "", why);
            continue;
        }
        if (s_add(s, lineno, type, value, tlp && *tlp ? tlp : default_tlp, conf, until) < 0) {
            rc = 1;
            break;
        }
    }
    if (f != stdin)
        fclose(f);
    free(line);
    if (rc == 0 && s_finish(s) != 0)
        rc = 1;
    else if (rc != 0)
        s_collect(s); /* nothing new for a node that stopped answering */
    return rc;
}

int cmd_publish(int argc, char **argv)
{
    static const struct option opts[] = {
        {"dir", required_argument, 0, 'd'},        {"type", required_argument, 0, 't'},
        {"value", required_argument, 0, 'v'},      {"tlp", required_argument, 0, 'l'},
        {"confidence", required_argument, 0, 'c'}, {"valid-until", required_argument, 0, 'u'},
        {"file", required_argument, 0, 'f'},       {"label", required_argument, 0, 'b'},
        {"stix", required_argument, 0, 's'},       {0, 0, 0, 0}};
    static const char *usage =
        "usage: moux publish -d DIR --type TYPE --value VALUE [--tlp LEVEL] [--confidence N] "
        "[--valid-until TIME] [--label L]...\n       moux publish -d DIR --file FILE [--tlp LEVEL] [--label L]...\n"
        "       moux publish -d DIR --stix BUNDLE.json";
    const char *dir_opt = NULL, *type = NULL, *value = NULL, *tlp = "amber", *file = NULL;
    const char *until_text = NULL, *stix = NULL;
    long conf = 50;
    char *labels[IND_LABELS_MAX];
    size_t n_labels = 0;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "d:", opts, NULL)) != -1) {
        char *end = NULL;
        switch (c) {
        case 'd': dir_opt = optarg; break;
        case 't': type = optarg; break;
        case 'v': value = optarg; break;
        case 'l': tlp = optarg; break;
        case 'f': file = optarg; break;
        case 's': stix = optarg; break;
        case 'u': until_text = optarg; break;
        case 'b':
            if (!ind_label_valid(optarg) || n_labels >= IND_LABELS_MAX)
                return cli_fail("--label: \"%s\" is not a label (1-64 printable characters, no "
                                "comma; at most 16)", optarg);
            labels[n_labels++] = optarg;
            break;
        case 'c':
            conf = strtol(optarg, &end, 10);
            if (*end || end == optarg || conf < 0 || conf > 100)
                return cli_fail("--confidence: \"%s\" is not a number from 0 to 100", optarg);
            break;
        default: return cli_fail("%s", usage);
        }
    }
    const char *dir = cli_dir(dir_opt);
    if (!dir)
        return 1;
    if (stix) { /* STIX carries its own fields (docs/STIX.md) */
        if (optind != argc || file || type || value || until_text)
            return cli_fail("%s", usage);
        return cli_publish_stix(dir, stix);
    }
    if (optind != argc || (!file == !(type && value)) || (file && (type || value)))
        return cli_fail("%s", usage);
    uint64_t until = 0;
    if (until_text && parse_time_ms(until_text, &until) != 0)
        return cli_fail("--valid-until: \"%s\" is not YYYY-MM-DD, YYYY-MM-DDTHH:MM:SSZ or +Nd/+Nh",
                        until_text);
    s_pub_t s = {.dir = dir, .pending = calloc(CHUNK, sizeof(Moux__Indicator)),
                 .items = calloc(CHUNK, sizeof(Moux__Indicator *)), .refused = json_array(),
                 .lines = calloc(CHUNK, sizeof(int)), .source = file ? file : "--value",
                 .labels = labels, .n_labels = n_labels, .call.lines = calloc(CHUNK, sizeof(int))};
    if (!s.pending || !s.items || !s.refused || !s.lines || !s.call.lines)
        return cli_fail("out of memory");
    for (size_t i = 0; i < CHUNK; i++)
        s.items[i] = &s.pending[i];
    int rc;
    if (file) {
        rc = s_publish_file(&s, file, tlp, conf, until);
    } else {
        rc = s_add(&s, 1, type, value, tlp, conf, until) < 0;
        rc = s_finish(&s) != 0 || rc;
    }
    if (rc && !s.sent)
        ; /* the node did not answer: no summary that could read as success */
    else if (file || s.n_refused)
        printf("published %zu: %zu new, %zu updated, %zu unchanged, %zu refused\n",
               s.n_new + s.n_updated + s.n_unchanged, s.n_new, s.n_updated, s.n_unchanged,
               s.n_refused);
    for (size_t i = 0; i < s.n_pending; i++) /* left by a node that stopped answering */
        free(s.pending[i].value);
    free(s.pending);
    free(s.items);
    json_decref(s.refused);
    free(s.lines);
    free(s.call.lines);
    return rc || s.n_refused ? 1 : 0;
}
