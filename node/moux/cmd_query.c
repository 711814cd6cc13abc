/* moux query: indicators in the node's store, read directly (read-only). */
#include "cli.h"
#include "indicator.h"
#include "store.h"
#include "util.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int s_print_json(const store_row_t *r, void *arg)
{
    (void)arg;
    char created[32], modified[32], received[32], valid_from[32], valid_until[32];
    format_time_ms(r->created_ms, created);
    format_time_ms(r->modified_ms, modified);
    format_time_ms(r->received_ms, received);
    format_time_ms(r->valid_from_ms, valid_from);
    format_time_ms(r->valid_until_ms, valid_until);
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s?, s:s?, s:s, s:s, s:s, s:i, s:s, s:s, s:b}",
                          "id", r->id, "type", r->type, "value", r->value, "tlp",
                          tlp_name(r->tlp), "origin", r->origin, "from", r->from, "received_at",
                          received, "created", created, "modified", modified, "confidence",
                          r->confidence, "pattern", r->pattern, "valid_from", valid_from,
                          "revoked", r->revoked);
    json_object_set_new(o, "valid_until", r->valid_until_ms ? json_string(valid_until) : json_null());
    json_t *labels = json_array();
    char copy[IND_LABELS_MAX * (IND_LABEL_MAX + 1) + 1], *save = NULL;
    str_copy(copy, sizeof copy, r->labels ? r->labels : "");
    for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
        json_array_append_new(labels, json_string(tok));
    json_object_set_new(o, "labels", labels);
    char *line = json_dumps(o, JSON_COMPACT);
    printf("%s\n", line);
    free(line);
    json_decref(o);
    return 0;
}

static int s_print_text(const store_row_t *r, void *arg)
{
    size_t *count = arg;
    char received[32];
    format_time_ms(r->received_ms, received);
    printf("%-12s %-40s %-13s origin=%s from=%s %s\n", r->type, r->value, tlp_name(r->tlp),
           r->origin ? r->origin : "(anonymised)", r->from ? r->from : "(local)", received);
    (*count)++;
    return 0;
}

int cmd_query(int argc, char **argv)
{
    static const struct option opts[] = {
        {"dir", required_argument, 0, 'd'},  {"type", required_argument, 0, 't'},
        {"value", required_argument, 0, 'v'}, {"from", required_argument, 0, 'f'},
        {"json", no_argument, 0, 'j'},       {0, 0, 0, 0}};
    const char *dir_opt = NULL, *type = NULL, *value = NULL, *from = NULL;
    int as_json = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "d:", opts, NULL)) != -1) {
        switch (c) {
        case 'd': dir_opt = optarg; break;
        case 't': type = optarg; break;
        case 'v': value = optarg; break;
        case 'f': from = optarg; break;
        case 'j': as_json = 1; break;
        default:
            return cli_fail("usage: moux query -d DIR [--type T] [--value V] [--from AGENCY|local] "
                            "[--json]");
        }
    }
    const char *dir = cli_dir(dir_opt);
    if (!dir)
        return 1;
    ind_type_t t;
    char norm[IND_VALUE_MAX + 1];
    if (type) {
        if (ind_type_parse(type, &t) != 0)
            return cli_fail("--type: unknown indicator type \"%s\"", type);
        type = ind_type_name(t);
        const char *why = NULL;
        /* Look up the normalised form, as it is stored. */
        if (value && ind_normalise(t, value, norm, sizeof norm, &why) != 0)
            return cli_fail("--value: not a valid %s: %s", type, why);
        if (value)
            value = norm;
    }
    char err[512];
    store_t *st = store_open(dir, STORE_RO, err, sizeof err);
    if (!st)
        return cli_fail("%s", err);
    store_filter_t f = {.type = type, .value = value, .from = from};
    size_t count = 0;
    int rc = store_query(st, &f, as_json ? s_print_json : s_print_text, &count);
    if (rc != 0)
        cli_fail("%s: query failed: %s", dir, store_errmsg(st));
    else if (!as_json)
        printf("%zu indicator(s)\n", count);
    store_destroy(&st);
    return rc ? 1 : 0;
}
