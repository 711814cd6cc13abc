/* STIX 2.1 bundles in and out (docs/STIX.md).
 *
 *   moux publish -d DIR --stix FILE    import: Indicator objects are mapped
 *     here first (a bad one is refused naming its id and why; the rest go
 *     on), then handed to the running node in chunks, which checks them
 *     again and versions them by id.
 *   moux export -d DIR --stix [...]    a bundle of what the store holds,
 *     read directly (read-only). */
#include "cli.h"
#include "stix.h"
#include "store.h"
#include "util.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STIX_CHUNK 2000    /* objects per control request */
#define IGNORED_SHOWN 20   /* ignored versions named one by one; then counted */

typedef struct {
    const char *dir, *file;
    json_t *pending;       /* indicator objects not yet sent */
    json_t *refused;       /* refused here: sent along to be recorded */
    json_t *markings;      /* the bundle's own TLP marking definitions: id -> level */
    json_t *identities;    /* Identity objects to keep (sent with the first chunk) */
    size_t total, sent, n_new, n_updated, n_ignored, n_refused, n_local;
} s_import_t;

static void s_refuse(s_import_t *s, size_t index, const char *id, const char *why)
{
    char where[160];
    snprintf(where, sizeof where, "objects[%zu] %.100s", index, id ? id : "(no id)");
    fprintf(stderr, "moux: %s: %s: refused: %s\n", s->file, where, why);
    json_array_append_new(s->refused, json_pack("{s:s, s:s}", "source", where, "reason", why));
    s->n_refused++;
}

static int s_flush(s_import_t *s)
{
    size_t n = json_array_size(s->pending);
    if (n == 0 && json_array_size(s->refused) == 0 && json_array_size(s->identities) == 0)
        return 0;
    json_t *req = json_pack("{s:s, s:O, s:O, s:O, s:O}", "cmd", "publish-stix", "objects",
                            s->pending, "refused", s->refused, "markings", s->markings,
                            "identities", s->identities);
    json_t *reply = cli_call(s->dir, req, 300000);
    json_decref(req);
    if (!reply)
        return -1;
    json_t *results = json_object_get(reply, "results");
    for (size_t i = 0; i < json_array_size(results); i++) {
        json_t *r = json_array_get(results, i);
        const char *st = json_string_value(json_object_get(r, "status"));
        const char *id = json_string_value(json_object_get(r, "id"));
        const char *why = json_string_value(json_object_get(r, "reason"));
        if (!st)
            continue;
        if (strcmp(st, "new") == 0)
            s->n_new++;
        else if (strcmp(st, "updated") == 0)
            s->n_updated++;
        else if (strcmp(st, "ignored") == 0) {
            if (s->n_ignored++ < IGNORED_SHOWN)
                fprintf(stderr, "moux: %s: %s: ignored: %s\n", s->file, id ? id : "?",
                        why ? why : "");
        } else {
            s->n_refused++;
            fprintf(stderr, "moux: %s: %s: refused by the node: %s\n", s->file, id ? id : "?",
                    why ? why : "");
        }
    }
    json_decref(reply);
    s->sent += n;
    json_array_clear(s->pending);
    json_array_clear(s->refused);
    json_array_clear(s->identities);
    if (s->total > STIX_CHUNK)
        fprintf(stderr, "moux: %zu of %zu indicators sent to the node\n", s->sent, s->total);
    return 0;
}

/* "relationship 3, malware 1" from the skipped-type counts. */
static void s_print_skipped(json_t *skipped)
{
    const char *type;
    json_t *n;
    int first = 1;
    json_object_foreach(skipped, type, n) {
        printf("%s%s %lld", first ? "" : ", ", type, (long long)json_integer_value(n));
        first = 0;
    }
}

int cli_publish_stix(const char *dir, const char *file)
{
    config_t cfg;
    tlp_t def = TLP_AMBER;
    if (cli_config(dir, &cfg) != 0)
        return 1;
    tlp_parse(cfg.stix_default_tlp, &def);
    json_error_t jerr;
    json_t *bundle = strcmp(file, "-") == 0 ? json_loadf(stdin, JSON_REJECT_DUPLICATES, &jerr)
                                            : json_load_file(file, JSON_REJECT_DUPLICATES, &jerr);
    if (!bundle)
        return cli_fail("%s:%d:%d: not a JSON document: %s", file, jerr.line, jerr.column,
                        jerr.text);
    json_t *objects = json_object_get(bundle, "objects");
    const char *btype = json_string_value(json_object_get(bundle, "type"));
    if (!btype || strcmp(btype, "bundle") != 0 || !json_is_array(objects)) {
        json_decref(bundle);
        return cli_fail("%s: not a STIX bundle (an object with \"type\": \"bundle\" and an "
                        "\"objects\" list)", file);
    }
    s_import_t s = {.dir = dir, .file = file, .pending = json_array(), .refused = json_array(),
                    .markings = json_object(), .identities = json_array()};
    json_t *skipped = json_object(), *o;
    size_t i, n_identities = 0, n_markings = 0;
    /* First the objects the indicators refer to: TLP marking definitions
     * (standard ids are known; a bundle may define its own TLP marking),
     * Identity objects. Everything else but indicators is counted. */
    json_array_foreach(objects, i, o) {
        const char *type = json_string_value(json_object_get(o, "type"));
        const char *id = json_string_value(json_object_get(o, "id"));
        tlp_t t;
        if (type && strcmp(type, "indicator") == 0) {
            s.total++;
        } else if (type && id && strcmp(type, "marking-definition") == 0 &&
                   stix_tlp_of_definition(o, &t) == 0) {
            json_object_set_new(s.markings, id, json_string(tlp_name(t)));
            n_markings++;
        } else if (type && id && strcmp(type, "identity") == 0 &&
                   strncmp(id, "identity--", 10) == 0 &&
                   json_is_string(json_object_get(o, "modified"))) {
            json_array_append(s.identities, o);
            n_identities++;
        } else {
            const char *key = type ? type : "(no type)";
            json_int_t c = json_integer_value(json_object_get(skipped, key));
            json_object_set_new(skipped, key, json_integer(c + 1));
        }
    }
    int rc = 0;
    json_array_foreach(objects, i, o) {
        const char *type = json_string_value(json_object_get(o, "type"));
        if (!type || strcmp(type, "indicator") != 0)
            continue;
        stix_item_t it;
        char why[STIX_WHY_MAX];
        if (stix_indicator_map(o, s.markings, def, &it, why, sizeof why) != 0) {
            s_refuse(&s, i, json_string_value(json_object_get(o, "id")), why);
            continue;
        }
        s.n_local += it.local_only;
        stix_item_free(&it);
        json_array_append(s.pending, o);
        if (json_array_size(s.pending) >= STIX_CHUNK && s_flush(&s) != 0) {
            rc = 1;
            break;
        }
    }
    if (rc == 0 && s_flush(&s) != 0)
        rc = 1;
    if (rc == 0 || s.sent) {
        printf("stix import %s: %zu indicators: %zu imported, %zu updated, %zu ignored, %zu "
               "refused\n", file, s.total, s.n_new, s.n_updated, s.n_ignored, s.n_refused);
        if (s.n_local)
            printf("  %zu kept here only: their patterns name no observable partners can "
                   "receive (docs/STIX.md)\n", s.n_local);
        printf("  identities kept: %zu; TLP marking definitions: %zu; other objects skipped: ",
               n_identities, n_markings);
        if (json_object_size(skipped))
            s_print_skipped(skipped);
        else
            printf("none");
        printf("\n");
    }
    json_decref(skipped);
    json_decref(s.pending);
    json_decref(s.refused);
    json_decref(s.markings);
    json_decref(s.identities);
    json_decref(bundle);
    return rc || s.n_refused ? 1 : 0;
}

/* ---- export ---- */

typedef struct {
    json_t *objects;      /* indicators, in store order */
    json_t *agencies;     /* origin agency -> true */
    json_t *creators;     /* created_by_ref of kept objects -> true */
    json_t *markings;     /* marking-definition ids referenced -> true */
    int failed;
} s_export_t;

static int s_export_row(const store_row_t *r, void *arg)
{
    s_export_t *e = arg;
    stix_row_t sr = {.id = r->id, .type = r->type, .value = r->value, .pattern = r->pattern,
                     .origin = r->origin, .labels = r->labels, .stix = r->stix, .tlp = r->tlp,
                     .confidence = r->confidence, .revoked = r->revoked,
                     .created_ms = r->created_ms, .modified_ms = r->modified_ms,
                     .valid_from_ms = r->valid_from_ms, .valid_until_ms = r->valid_until_ms};
    json_t *o = stix_indicator_export(&sr);
    if (!o) {
        e->failed = 1;
        return 1;
    }
    const char *creator = json_string_value(json_object_get(o, "created_by_ref"));
    if (r->stix) {
        if (creator) /* the creator the object names, if the node kept it */
            json_object_set_new(e->creators, creator, json_true());
    } else if (r->origin) /* none where anonymised */
        json_object_set_new(e->agencies, r->origin, json_true());
    json_t *v;
    size_t i;
    json_array_foreach(json_object_get(o, "object_marking_refs"), i, v)
        if (json_is_string(v))
            json_object_set_new(e->markings, json_string_value(v), json_true());
    json_array_append_new(e->objects, o);
    return 0;
}

int cmd_export(int argc, char **argv)
{
    static const struct option opts[] = {
        {"dir", required_argument, 0, 'd'},  {"stix", no_argument, 0, 's'},
        {"since", required_argument, 0, 'S'}, {"from", required_argument, 0, 'f'},
        {"tlp", required_argument, 0, 't'},  {"out", required_argument, 0, 'o'},
        {0, 0, 0, 0}};
    static const char *usage = "usage: moux export -d DIR --stix [--since TIME] "
                               "[--from AGENCY|local] [--tlp MAX] [--out FILE]";
    const char *dir_opt = NULL, *since = NULL, *from = NULL, *tlp = NULL, *out = NULL;
    int stix = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "d:", opts, NULL)) != -1) {
        switch (c) {
        case 'd': dir_opt = optarg; break;
        case 's': stix = 1; break;
        case 'S': since = optarg; break;
        case 'f': from = optarg; break;
        case 't': tlp = optarg; break;
        case 'o': out = optarg; break;
        default: return cli_fail("%s", usage);
        }
    }
    if (optind != argc || !stix)
        return cli_fail("%s", usage);
    const char *dir = cli_dir(dir_opt);
    if (!dir)
        return 1;
    store_filter_t f = {.from = from};
    if (since && parse_time_ms(since, &f.since_ms) != 0)
        return cli_fail("--since: \"%s\" is not YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ", since);
    if (tlp) {
        if (tlp_parse(tlp, &f.max_tlp) != 0)
            return cli_fail("--tlp: unknown TLP \"%s\" (clear, green, amber, amber+strict, red)",
                            tlp);
        f.has_max_tlp = 1;
    }
    char err[512];
    store_t *st = store_open(dir, STORE_RO, err, sizeof err);
    if (!st)
        return cli_fail("%s", err);
    s_export_t e = {.objects = json_array(), .agencies = json_object(),
                    .creators = json_object(), .markings = json_object()};
    int rc = store_query(st, &f, s_export_row, &e);
    json_t *all = json_array();
    const char *key;
    json_t *v;
    /* Marking definitions first, then identities, then the indicators. */
    for (int level = TLP_CLEAR; level <= TLP_RED; level++)
        if (json_object_get(e.markings, stix_tlp2_id((tlp_t)level)))
            json_array_append_new(all, stix_tlp2_definition((tlp_t)level));
    json_object_foreach(e.markings, key, v) {
        json_t *md = stix_tlp1_definition(key);
        if (md)
            json_array_append_new(all, md);
    }
    json_object_foreach(e.agencies, key, v) json_array_append_new(all, stix_agency_identity(key));
    json_object_foreach(e.creators, key, v) {
        char *text = NULL;
        json_t *ident = NULL;
        if (store_stix_object_get(st, key, &text) == 1)
            ident = json_loads(text, 0, NULL);
        free(text);
        if (ident)
            json_array_append_new(all, ident);
    }
    size_t n_ind = json_array_size(e.objects);
    json_array_extend(all, e.objects);
    char bid[64];
    stix_bundle_id(bid);
    json_t *bundle = json_pack("{s:s, s:s, s:o}", "type", "bundle", "id", bid, "objects", all);
    if (rc != 0 || e.failed) {
        cli_fail("%s: export failed: %s", dir, e.failed ? "a kept STIX object is not JSON"
                                                        : store_errmsg(st));
        rc = 1;
    } else {
        FILE *fp = out ? fopen(out, "w") : stdout;
        if (!fp) {
            rc = cli_fail("%s: %s", out, strerror(errno));
        } else {
            if (json_dumpf(bundle, fp, JSON_INDENT(1)) != 0 || fputc('\n', fp) == EOF)
                rc = 1;
            if (out && fclose(fp) != 0)
                rc = 1;
            if (rc)
                cli_fail("%s: cannot write the bundle", out ? out : "stdout");
            else if (out)
                fprintf(stderr, "moux: %zu indicators written to %s\n", n_ind, out);
        }
    }
    json_decref(bundle);
    json_decref(e.objects);
    json_decref(e.agencies);
    json_decref(e.creators);
    json_decref(e.markings);
    store_destroy(&st);
    return rc ? 1 : 0;
}
