/* Helpers every moux command uses: errors, the node directory, its
 * configuration, and control requests to the running node. */
#include "cli.h"
#include "ctlclient.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cli_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("moux: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return 1;
}

const char *cli_dir(const char *opt)
{
    const char *dir = opt ? opt : getenv("MOUX_DIR");
    if (!dir)
        cli_fail("no node directory: give -d DIR or set MOUX_DIR");
    return dir;
}

int cli_config(const char *dir, config_t *cfg)
{
    char err[512];
    if (config_load(dir, cfg, err, sizeof err) != 0)
        return cli_fail("%s", err);
    return 0;
}

json_t *cli_call(const char *dir, json_t *req, int timeout_ms)
{
    return cli_call_body(dir, req, NULL, 0, timeout_ms);
}

json_t *cli_call_body(const char *dir, json_t *req, const void *body, size_t body_len,
                      int timeout_ms)
{
    char err[512];
    json_t *reply = ctl_call_body(dir, req, body, body_len, timeout_ms, err, sizeof err);
    if (!reply) {
        cli_fail("%s", err);
        return NULL;
    }
    if (!json_is_true(json_object_get(reply, "ok"))) {
        cli_fail("the node refused: %s", json_string_value(json_object_get(reply, "error")));
        json_decref(reply);
        return NULL;
    }
    return reply;
}

void cli_print_counts(const json_t *counts, int indent)
{
    const char *dir;
    json_t *per_dir;
    json_object_foreach((json_t *)counts, dir, per_dir) {
        printf("%*s%-5s", indent, "", dir);
        const char *outcome;
        json_t *n;
        json_object_foreach(per_dir, outcome, n)
            printf(" %s=%lld", outcome, (long long)json_integer_value(n));
        printf("\n");
    }
}

int cli_dispatch(const char *group, const cli_sub_t *subs, size_t n, int argc, char **argv,
                 int (*usage)(void))
{
    if (argc < 2)
        return usage();
    for (size_t i = 0; i < n; i++)
        if (strcmp(argv[1], subs[i].name) == 0)
            return subs[i].fn(argc, argv);
    cli_fail("%s: unknown sub-command \"%s\"", group, argv[1]);
    return usage();
}
