/* moux status / moux wait: what the node's links are doing. */
#include "cli.h"
#include "ctlclient.h"
#include "policy.h"
#include "store.h"
#include "util.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Status from the store alone, for a node that is not running. */
static json_t *s_offline_status(const char *dir)
{
    config_t cfg;
    char err[512];
    if (cli_config(dir, &cfg) != 0)
        return NULL;
    store_t *st = store_open(dir, STORE_RO, err, sizeof err);
    if (!st) {
        cli_fail("%s", err);
        return NULL;
    }
    partner_t *ps = NULL;
    size_t n = 0;
    json_t *partners = json_array();
    if (store_partners(st, &ps, &n) == 0)
        for (size_t i = 0; i < n; i++) {
            int64_t outbox = 0;
            char when[32];
            store_outbox_count(st, ps[i].pid, &outbox);
            format_time_ms(ps[i].last_receipt_ms, when);
            json_array_append_new(
                partners, json_pack("{s:s, s:s, s:s, s:I, s:s?}", "agency", ps[i].agency, "link",
                                    "down", "endpoint", ps[i].endpoint, "outbox",
                                    (json_int_t)outbox, "last_receipt",
                                    ps[i].last_receipt_ms ? when : NULL));
        }
    free(ps);
    store_destroy(&st);
    return json_pack("{s:s, s:b, s:o}", "agency", cfg.agency, "running", 0, "partners", partners);
}

static json_t *s_status(const char *dir)
{
    if (!ctl_running(dir))
        return s_offline_status(dir);
    json_t *req = json_pack("{s:s}", "cmd", "status");
    json_t *reply = cli_call(dir, req, 5000);
    json_decref(req);
    if (reply) {
        json_object_del(reply, "ok");
        json_object_set_new(reply, "running", json_true());
    }
    return reply;
}

/* The MOU with a partner: which, until when, and whether items flow. */
static void s_print_mou(const json_t *m)
{
    const char *id = json_string_value(json_object_get(m, "id"));
    const char *blocked = json_string_value(json_object_get(m, "blocked"));
    if (id)
        printf("  %-20s MOU %s, %lld day(s) to expiry\n", "", id,
               (long long)json_integer_value(json_object_get(m, "days_to_expiry")));
    if (blocked)
        printf("  %-20s NOT SENDING: %s\n", "", blocked);
    cli_print_counts(json_object_get(m, "counts"), 23);
}

static void s_print(json_t *s)
{
    printf("agency %s: %s\n", json_string_value(json_object_get(s, "agency")),
           json_is_true(json_object_get(s, "running")) ? "running" : "NOT RUNNING");
    json_t *cert = json_object_get(s, "certificate");
    if (cert) {
        json_int_t days = json_integer_value(json_object_get(cert, "days_left"));
        printf("  certificate serial %lld, valid until %s (", 
               (long long)json_integer_value(json_object_get(cert, "serial")),
               json_string_value(json_object_get(cert, "not_after")));
        if (days < 0)
            printf("EXPIRED)\n");
        else
            printf("%lld days)\n", (long long)days);
    }
    json_t *w;
    size_t wi;
    json_array_foreach(json_object_get(s, "warnings"), wi, w)
        printf("  WARNING: %s\n", json_string_value(w));
    json_t *ps = json_object_get(s, "partners");
    if (json_array_size(ps) == 0)
        printf("  no partners\n");
    for (size_t i = 0; i < json_array_size(ps); i++) {
        json_t *p = json_array_get(ps, i);
        const char *last = json_string_value(json_object_get(p, "last_receipt"));
        const char *err = json_string_value(json_object_get(p, "last_error"));
        printf("  %-20s link %-4s outbox %-8lld last receipt %s\n",
               json_string_value(json_object_get(p, "agency")),
               json_string_value(json_object_get(p, "link")),
               (long long)json_integer_value(json_object_get(p, "outbox")), last ? last : "never");
        if (err)
            printf("  %-20s last error: %s\n", "", err);
        s_print_mou(json_object_get(p, "mou"));
        json_int_t rate = json_integer_value(json_object_get(p, "rate_per_s"));
        json_t *eta = json_object_get(p, "eta_s");
        if (rate || json_is_true(json_object_get(p, "catching_up"))) {
            printf("  %-20s %sdelivering %lld items/s", "",
                   json_is_true(json_object_get(p, "catching_up")) ? "catching up: " : "",
                   (long long)rate);
            if (json_is_integer(eta))
                printf(", about %lld s to drain", (long long)json_integer_value(eta));
            printf("\n");
        }
        json_int_t throttled = json_integer_value(json_object_get(p, "throttled_s"));
        if (throttled)
            printf("  %-20s THROTTLED for abuse: frames dropped for %lld s more (%lld so far)\n",
                   "", (long long)throttled,
                   (long long)json_integer_value(json_object_get(p, "dropped_abusive")));
        json_int_t revoked = json_integer_value(json_object_get(p, "revoked_certificates"));
        if (revoked)
            printf("  %-20s %lld certificate(s) revoked (revocation list %lld)\n", "",
                   (long long)revoked,
                   (long long)json_integer_value(json_object_get(p, "revocation_list")));
        json_int_t refused = json_integer_value(json_object_get(p, "refused_in"));
        if (refused)
            printf("  %-20s refused from partner: %lld\n", "", (long long)refused);
    }
}

static int s_parse_dir(int argc, char **argv, const char **dir, int *as_json, double *timeout)
{
    static const struct option opts[] = {{"dir", required_argument, 0, 'd'},
                                         {"json", no_argument, 0, 'j'},
                                         {"timeout", required_argument, 0, 't'},
                                         {0, 0, 0, 0}};
    const char *dir_opt = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "d:", opts, NULL)) != -1) {
        char *end = NULL;
        if (c == 'd')
            dir_opt = optarg;
        else if (c == 'j' && as_json)
            *as_json = 1;
        else if (c == 't' && timeout) {
            *timeout = strtod(optarg, &end);
            if (*end || *timeout <= 0 || *timeout > 3600)
                return cli_fail("--timeout: give seconds, up to 3600");
        } else
            return -1;
    }
    *dir = cli_dir(dir_opt);
    return *dir && optind == argc ? 0 : -1;
}

int cmd_status(int argc, char **argv)
{
    const char *dir = NULL;
    int as_json = 0;
    if (s_parse_dir(argc, argv, &dir, &as_json, NULL) != 0)
        return cli_fail("usage: moux status -d DIR [--json]");
    json_t *s = s_status(dir);
    if (!s)
        return 1;
    if (as_json) {
        char *text = json_dumps(s, JSON_COMPACT);
        printf("%s\n", text);
        free(text);
    } else {
        s_print(s);
    }
    json_decref(s);
    return 0;
}

/* Down partners as "a, b", or "" when every link is up. */
static void s_down_links(json_t *s, char *out, size_t cap)
{
    out[0] = '\0';
    json_t *ps = json_object_get(s, "partners");
    for (size_t i = 0; i < json_array_size(ps); i++) {
        json_t *p = json_array_get(ps, i);
        if (strcmp(json_string_value(json_object_get(p, "link")), "up") != 0) {
            size_t used = strlen(out);
            snprintf(out + used, cap - used, "%s%s", used ? ", " : "",
                     json_string_value(json_object_get(p, "agency")));
        }
    }
}

int cmd_wait(int argc, char **argv)
{
    const char *dir = NULL;
    double timeout = 30;
    if (s_parse_dir(argc, argv, &dir, NULL, &timeout) != 0)
        return cli_fail("usage: moux wait -d DIR [--timeout SECONDS]");
    uint64_t deadline = mono_ms() + (uint64_t)(timeout * 1000);
    char down[1024] = "the node";
    while (mono_ms() < deadline) {
        if (ctl_running(dir)) {
            json_t *req = json_pack("{s:s}", "cmd", "status");
            char err[512];
            json_t *s = ctl_call(dir, req, 2000, err, sizeof err);
            json_decref(req);
            if (s) {
                s_down_links(s, down, sizeof down);
                json_decref(s);
                if (!down[0])
                    return 0;
            }
        }
        struct timespec ts = {0, 50 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    return cli_fail("%s: not ready after %.0f s: waiting for %s", dir, timeout, down);
}
