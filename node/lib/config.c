#include "config.h"
#include "tlp.h"
#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef enum { S_STR, S_LONG } s_kind_t;

typedef struct {
    const char *key;
    s_kind_t kind;
    size_t offset;
    size_t cap;       /* S_STR: buffer size */
    long def, min, max; /* S_LONG */
    const char *sdef; /* S_STR default */
} s_option_t;

#define STR(k, f, d) {k, S_STR, offsetof(config_t, f), sizeof(((config_t *)0)->f), 0, 0, 0, d}
#define NUM(k, f, d, lo, hi) {k, S_LONG, offsetof(config_t, f), 0, d, lo, hi, NULL}

static const s_option_t s_options[] = {
    STR("agency", agency, ""),
    STR("listen", listen, ""),
    STR("endpoint", endpoint, ""),
    /* At least the 1 MiB batch frame every sender may use (envelope.h). */
    NUM("max_message_bytes", max_message_bytes, 4 * 1024 * 1024, 1024 * 1024, 64 * 1024 * 1024),
    NUM("clock_skew_seconds", clock_skew_seconds, 300, 5, 86400),
    NUM("batch_max_items", batch_max_items, 512, 1, 1024),
    NUM("max_inflight_batches", max_inflight_batches, 32, 1, 256),
    NUM("retry_initial_ms", retry_initial_ms, 2000, 100, 600000),
    NUM("retry_max_ms", retry_max_ms, 60000, 1000, 3600000),
    NUM("heartbeat_ms", heartbeat_ms, 2000, 100, 600000),
    NUM("rotation_overlap_seconds", rotation_overlap_seconds, 7 * 86400, 10, 90 * 86400),
    NUM("rotation_ack_ms", rotation_ack_ms, 10000, 100, 600000),
    NUM("retention_check_seconds", retention_check_seconds, 3600, 1, 86400),
    NUM("checkpoint_interval_seconds", checkpoint_interval_seconds, 60, 1, 86400),
    /* 0 only to measure what the audit log costs (docs/PERFORMANCE.md). */
    NUM("audit_log", audit_log, 1, 0, 1),
    STR("log_level", log_level, "info"),
    /* The TLP of a STIX indicator that carries no TLP marking (docs/STIX.md). */
    STR("stix_default_tlp", stix_default_tlp, "amber"),
};
#define N_OPTIONS (sizeof s_options / sizeof s_options[0])

int node_path(const char *dir, const char *name, char *out, size_t cap)
{
    int n = snprintf(out, cap, "%s/%s", dir, name);
    return n < 0 || (size_t)n >= cap ? -1 : 0;
}

int agency_id_valid(const char *id)
{
    size_t n = strlen(id);
    if (n == 0 || n > AGENCY_MAX || !isalnum((unsigned char)id[0]) || strcmp(id, "local") == 0)
        return 0;
    for (const char *p = id; *p; p++)
        if (!(islower((unsigned char)*p) || isdigit((unsigned char)*p) || *p == '.' || *p == '-'))
            return 0;
    return 1;
}

int endpoint_valid(const char *endpoint)
{
    if (strncmp(endpoint, "tcp://", 6) != 0 || strlen(endpoint) >= ENDPOINT_MAX)
        return 0;
    const char *colon = strrchr(endpoint + 6, ':');
    if (!colon || colon == endpoint + 6)
        return 0;
    if (!isdigit((unsigned char)colon[1]))
        return 0;
    char *end = NULL;
    errno = 0;
    long port = strtol(colon + 1, &end, 10);
    return errno == 0 && *end == '\0' && port >= 1 && port <= 65535;
}

static void s_defaults(config_t *cfg)
{
    for (size_t i = 0; i < N_OPTIONS; i++) {
        const s_option_t *o = &s_options[i];
        char *field = (char *)cfg + o->offset;
        if (o->kind == S_LONG)
            *(long *)field = o->def;
        else
            str_copy(field, o->cap, o->sdef);
    }
}

static char *s_trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = '\0';
    return s;
}

/* Applies one "key = value" line; returns NULL or the reason it is wrong. */
static const char *s_apply(config_t *cfg, const char *key, const char *val)
{
    for (size_t i = 0; i < N_OPTIONS; i++) {
        const s_option_t *o = &s_options[i];
        if (strcmp(o->key, key) != 0)
            continue;
        char *field = (char *)cfg + o->offset;
        if (o->kind == S_STR)
            return str_copy(field, o->cap, val) == 0 ? NULL : "value too long";
        char *end = NULL;
        errno = 0;
        long v = strtol(val, &end, 10);
        if (errno || end == val || *end)
            return "not a whole number";
        if (v < o->min || v > o->max)
            return "out of range";
        *(long *)field = v;
        return NULL;
    }
    return "unknown key";
}

static int s_validate(const config_t *cfg, const char *path, char *err, size_t errlen)
{
    const char *why = NULL;
    if (!agency_id_valid(cfg->agency))
        why = "agency: missing or invalid (1-64 of a-z 0-9 . -)";
    else if (!endpoint_valid(cfg->listen))
        why = "listen: missing or not tcp://HOST:PORT";
    else if (!endpoint_valid(cfg->endpoint))
        why = "endpoint: not tcp://HOST:PORT";
    else if (strcmp(cfg->log_level, "error") && strcmp(cfg->log_level, "warn") &&
             strcmp(cfg->log_level, "info") && strcmp(cfg->log_level, "debug"))
        why = "log_level: must be error, warn, info or debug";
    else if (tlp_parse(cfg->stix_default_tlp, &(tlp_t){TLP_CLEAR}) != 0)
        why = "stix_default_tlp: must be clear, green, amber, amber+strict or red";
    if (why)
        snprintf(err, errlen, "%s: %s", path, why);
    return why ? -1 : 0;
}

int config_load(const char *dir, config_t *cfg, char *err, size_t errlen)
{
    s_defaults(cfg);
    if (str_copy(cfg->dir, sizeof cfg->dir, dir) != 0) {
        snprintf(err, errlen, "%s: node directory path too long", dir);
        return -1;
    }
    char path[PATH_MAX_MOUX + 16];
    snprintf(path, sizeof path, "%s/moux.conf", dir);
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "%s: %s (is this a node directory? see moux init)", path,
                 strerror(errno));
        return -1;
    }
    char line[1024];
    int lineno = 0, rc = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        if (!strchr(line, '\n') && !feof(f)) {
            snprintf(err, errlen, "%s:%d: line too long", path, lineno);
            rc = -1;
            break;
        }
        char *s = s_trim(line);
        if (*s == '\0' || *s == '#')
            continue;
        char *eq = strchr(s, '=');
        if (!eq) {
            snprintf(err, errlen, "%s:%d: expected \"key = value\"", path, lineno);
            rc = -1;
            break;
        }
        *eq = '\0';
        char *key = s_trim(s), *val = s_trim(eq + 1);
        const char *why = s_apply(cfg, key, val);
        if (why) {
            snprintf(err, errlen, "%s:%d: %s: %s", path, lineno, key, why);
            rc = -1;
            break;
        }
    }
    fclose(f);
    if (rc == 0 && cfg->endpoint[0] == '\0')
        str_copy(cfg->endpoint, sizeof cfg->endpoint, cfg->listen);
    return rc == 0 ? s_validate(cfg, path, err, errlen) : rc;
}

int config_write_new(const config_t *cfg, char *err, size_t errlen)
{
    char path[PATH_MAX_MOUX + 16];
    snprintf(path, sizeof path, "%s/moux.conf", cfg->dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    fprintf(f, "# moux node configuration (see docs/OPERATING.md)\n");
    fprintf(f, "agency = %s\nlisten = %s\n", cfg->agency, cfg->listen);
    if (cfg->endpoint[0] && strcmp(cfg->endpoint, cfg->listen) != 0)
        fprintf(f, "endpoint = %s\n", cfg->endpoint);
    fprintf(f, "\n# Tuning; the values shown are the defaults.\n");
    for (size_t i = 0; i < N_OPTIONS; i++)
        if (s_options[i].kind == S_LONG)
            fprintf(f, "# %s = %ld\n", s_options[i].key, s_options[i].def);
    fprintf(f, "# log_level = info\n# stix_default_tlp = amber\n");
    if (fclose(f) != 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}
