#include "benchutil.h"
#include "indicator.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

double bu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int64_t bu_wall_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int s_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

double bu_median(double *v, size_t n)
{
    if (n == 0)
        return 0;
    qsort(v, n, sizeof *v, s_cmp);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

double bu_quantile(double *v, size_t n, double q)
{
    if (n == 0)
        return 0;
    qsort(v, n, sizeof *v, s_cmp);
    size_t k = (size_t)(q * (double)n + 0.999999);
    if (k < 1)
        k = 1;
    if (k > n)
        k = n;
    return v[k - 1];
}

void bu_emit(const char *name, const char *unit, double *samples, size_t n)
{
    double *copy = malloc((n ? n : 1) * sizeof *copy);
    memcpy(copy, samples, n * sizeof *copy);
    double med = bu_median(copy, n);
    free(copy);
    printf("{\"name\":\"%s\",\"unit\":\"%s\",\"median\":%.6g,\"reps\":%zu,\"samples\":[", name,
           unit, med, n);
    for (size_t i = 0; i < n; i++)
        printf("%s%.6g", i ? "," : "", samples[i]);
    printf("]}\n");
    fflush(stdout);
}

void bu_emit_dist(const char *name, const char *unit, double *v, size_t n)
{
    double sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += v[i];
    double p50 = bu_quantile(v, n, 0.50), p90 = bu_quantile(v, n, 0.90),
           p99 = bu_quantile(v, n, 0.99), max = n ? v[n - 1] : 0, min = n ? v[0] : 0;
    printf("{\"name\":\"%s\",\"unit\":\"%s\",\"median\":%.6g,\"p50\":%.6g,\"p90\":%.6g,"
           "\"p99\":%.6g,\"max\":%.6g,\"min\":%.6g,\"mean\":%.6g,\"n\":%zu}\n",
           name, unit, p50, p50, p90, p99, max, min, n ? sum / (double)n : 0, n);
    fflush(stdout);
}

void bu_emit1(const char *name, const char *unit, double value)
{
    bu_emit(name, unit, &value, 1);
}

const char *bu_item(uint64_t i, unsigned tag, char *out, size_t cap)
{
    /* Keep in step with gen_items in tests/bench/run. */
    uint64_t k = i / 4;
    switch (i % 4) {
    case 0:
        /* 2^24 addresses per tag; the tag picks the first octet */
        snprintf(out, cap, "%u.%u.%u.%u", 11 + tag, (unsigned)((k >> 16) & 255),
                 (unsigned)((k >> 8) & 255), (unsigned)(k & 255));
        return "ipv4-addr";
    case 1:
        snprintf(out, cap, "host-%llu.t%u.bench.example", (unsigned long long)k, tag);
        return "domain-name";
    case 2:
        snprintf(out, cap, "https://cdn.t%u.bench.example/dl/%llu/payload.bin", tag,
                 (unsigned long long)k);
        return "url";
    default:
        snprintf(out, cap, "%08x%056llx", tag, (unsigned long long)k);
        return "file:sha256";
    }
}

Moux__Indicator **bu_items(size_t n, unsigned tag, const char *origin)
{
    Moux__Indicator **v = calloc(n ? n : 1, sizeof *v);
    uint64_t now = now_ms();
    for (size_t i = 0; i < n; i++) {
        char raw[256], norm[IND_VALUE_MAX + 1], pattern[IND_PATTERN_MAX + 1], uuid[37],
            id[IND_ID_LEN + 1];
        const char *type = bu_item(i, tag, raw, sizeof raw), *why = NULL;
        ind_type_t t;
        ind_type_parse(type, &t);
        ind_normalise(t, raw, norm, sizeof norm, &why);
        ind_pattern(t, norm, pattern, sizeof pattern);
        uuid4(uuid);
        snprintf(id, sizeof id, "indicator--%s", uuid);
        Moux__Indicator *ind = malloc(sizeof *ind);
        moux__indicator__init(ind);
        ind->id = strdup(id);
        ind->type = strdup(ind_type_name(t));
        ind->value = strdup(norm);
        ind->pattern = strdup(pattern);
        ind->tlp = MOUX__TLP__TLP_AMBER;
        ind->confidence = 50;
        ind->created_ms = ind->modified_ms = ind->valid_from_ms = now;
        ind->origin = strdup(origin);
        v[i] = ind;
    }
    return v;
}

void bu_items_free(Moux__Indicator **items, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(items[i]->id);
        free(items[i]->type);
        free(items[i]->value);
        free(items[i]->pattern);
        free(items[i]->origin);
        free(items[i]);
    }
    free(items);
}

long bu_opt(int argc, char **argv, const char *name, long dflt)
{
    for (int i = 1; i + 1 < argc; i++)
        if (strcmp(argv[i], name) == 0)
            return strtol(argv[i + 1], NULL, 10);
    return dflt;
}

const char *bu_opt_str(int argc, char **argv, const char *name, const char *dflt)
{
    for (int i = 1; i + 1 < argc; i++)
        if (strcmp(argv[i], name) == 0)
            return argv[i + 1];
    return dflt;
}
