/* Baseline: raw SQLite insert rate into the node's indicator table (the
 * schema is created by the library's own store_open, so it is exactly the
 * node's: UNIQUE id, (type, value) index), WAL mode, one prepared INSERT
 * (the node's Q_INSERT_IND), committing every 512 rows and every row, with
 * synchronous=FULL (the node's setting) and, for comparison, NORMAL.
 *
 *   bench_sqlite --dir DIR [--rows N] [--row-secs S] [--reps R]
 *
 * Per-512 runs insert N rows into a fresh store; per-row runs commit one row
 * at a time for S seconds (at most N rows). Each figure is the median of R
 * fresh-store repetitions, in rows per second, with the bytes written to
 * disk per row (WAL and checkpoints). The latency of every per-row commit
 * with FULL is reported as a distribution too. Ids are time-ordered UUIDv7,
 * as the node gives the items it publishes. Two variants: random UUIDv4
 * ids (what STIX bundles usually carry, docs/STIX.md), and a 32 MB page
 * cache instead of 2 MB. */
#include "benchutil.h"
#include "indicator.h"
#include "store.h"
#include "util.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *s_insert =
    "INSERT INTO indicator(id, type, value, pattern, tlp, confidence, created_ms,"
    " modified_ms, valid_from_ms, valid_until_ms, revoked, origin, from_pid, hops,"
    " received_ms) VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15)";

static void s_rm(const char *dir)
{
    char p[4200];
    const char *names[] = {"store.db", "store.db-wal", "store.db-shm"};
    for (int i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, names[i]);
        unlink(p);
    }
}

static void s_exec(sqlite3 *db, const char *sql)
{
    char *err = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK) {
        fprintf(stderr, "bench_sqlite: %s: %s\n", sql, err);
        exit(1);
    }
}

/* Rows per second inserting up to rows rows, committing every per rows,
 * stopping after secs seconds (0 = no limit). */
static double *s_lat;  /* commit latencies of per-row runs, ms */
static size_t s_nlat, s_caplat;

static long long s_write_bytes(void)
{
    FILE *f = fopen("/proc/self/io", "r");
    char line[128];
    long long v = 0;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "write_bytes: %lld", &v) == 1)
            break;
    if (f)
        fclose(f);
    return v;
}

static double s_bytes_per_row; /* of the last run */

/* v4: random UUIDv4 ids instead of the node's time-ordered UUIDv7;
 * cache_kb: page cache size (0: SQLite's default, 2 MB). */
static double s_run(const char *dir, const char *sync, long rows, long per, double secs, int v4,
                    long cache_kb)
{
    char err[512], path[4200];
    s_rm(dir);
    store_t *st = store_open(dir, STORE_RW, err, sizeof err); /* the node's schema */
    if (!st) {
        fprintf(stderr, "bench_sqlite: %s\n", err);
        exit(1);
    }
    store_destroy(&st);
    snprintf(path, sizeof path, "%s/store.db", dir);
    sqlite3 *db = NULL;
    if (sqlite3_open(path, &db) != SQLITE_OK)
        exit(1);
    s_exec(db, "PRAGMA journal_mode = WAL");
    char pragma[64];
    snprintf(pragma, sizeof pragma, "PRAGMA synchronous = %s", sync);
    s_exec(db, pragma);
    if (cache_kb > 0) {
        snprintf(pragma, sizeof pragma, "PRAGMA cache_size = -%ld", cache_kb);
        s_exec(db, pragma);
    }
    sqlite3_stmt *ins = NULL;
    if (sqlite3_prepare_v2(db, s_insert, -1, &ins, NULL) != SQLITE_OK)
        exit(1);
    /* values prepared outside the timed loop */
    char (*ids)[IND_ID_LEN + 1] = malloc((size_t)rows * sizeof *ids);
    char **vals = calloc((size_t)rows, sizeof *vals), **pats = calloc((size_t)rows, sizeof *pats);
    const char **types = calloc((size_t)rows, sizeof *types);
    for (long i = 0; i < rows; i++) {
        char uuid[37], raw[256], norm[IND_VALUE_MAX + 1], pattern[IND_PATTERN_MAX + 1];
        const char *why = NULL;
        ind_type_t t;
        if (v4)
            uuid4(uuid);
        else
            uuid7(uuid);
        snprintf(ids[i], sizeof ids[i], "indicator--%s", uuid);
        ind_type_parse(bu_item((uint64_t)i, 0, raw, sizeof raw), &t);
        ind_normalise(t, raw, norm, sizeof norm, &why);
        ind_pattern(t, norm, pattern, sizeof pattern);
        types[i] = ind_type_name(t);
        vals[i] = strdup(norm);
        pats[i] = strdup(pattern);
    }
    uint64_t now = now_ms();
    long long w0 = s_write_bytes();
    double t0 = bu_now();
    long n = 0;
    s_exec(db, "BEGIN IMMEDIATE");
    while (n < rows) {
        sqlite3_reset(ins);
        sqlite3_bind_text(ins, 1, ids[n], -1, SQLITE_STATIC);
        sqlite3_bind_text(ins, 2, types[n], -1, SQLITE_STATIC);
        sqlite3_bind_text(ins, 3, vals[n], -1, SQLITE_STATIC);
        sqlite3_bind_text(ins, 4, pats[n], -1, SQLITE_STATIC);
        sqlite3_bind_int(ins, 5, 2);
        sqlite3_bind_int(ins, 6, 50);
        sqlite3_bind_int64(ins, 7, (sqlite3_int64)now);
        sqlite3_bind_int64(ins, 8, (sqlite3_int64)now);
        sqlite3_bind_int64(ins, 9, (sqlite3_int64)now);
        sqlite3_bind_int64(ins, 10, 0);
        sqlite3_bind_int(ins, 11, 0);
        sqlite3_bind_text(ins, 12, "a.bench", -1, SQLITE_STATIC);
        sqlite3_bind_null(ins, 13);
        sqlite3_bind_text(ins, 14, "", -1, SQLITE_STATIC);
        sqlite3_bind_int64(ins, 15, (sqlite3_int64)now);
        if (sqlite3_step(ins) != SQLITE_DONE) {
            fprintf(stderr, "bench_sqlite: insert: %s\n", sqlite3_errmsg(db));
            exit(1);
        }
        n++;
        if (n % per == 0) {
            double c0 = bu_now();
            s_exec(db, "COMMIT");
            if (per == 1 && strcmp(sync, "FULL") == 0 && s_nlat < s_caplat)
                s_lat[s_nlat++] = (bu_now() - c0) * 1000.0;
            if (n == rows || (secs > 0 && bu_now() - t0 >= secs))
                break;
            s_exec(db, "BEGIN IMMEDIATE");
        }
    }
    if (!sqlite3_get_autocommit(db))
        s_exec(db, "COMMIT");
    double rate = (double)n / (bu_now() - t0);
    s_bytes_per_row = (double)(s_write_bytes() - w0) / (double)(n ? n : 1);
    sqlite3_finalize(ins);
    sqlite3_close(db);
    for (long i = 0; i < rows; i++) {
        free(vals[i]);
        free(pats[i]);
    }
    free(vals);
    free(pats);
    free(types);
    free(ids);
    s_rm(dir);
    return rate;
}

int main(int argc, char **argv)
{
    const char *dir = bu_opt_str(argc, argv, "--dir", NULL);
    long rows = bu_opt(argc, argv, "--rows", 100000);
    double row_secs = (double)bu_opt(argc, argv, "--row-ms", 1500) / 1000.0;
    int reps = (int)bu_opt(argc, argv, "--reps", 5);
    if (!dir || rows < 512 || reps < 1 || reps > 32) {
        fprintf(stderr, "usage: bench_sqlite --dir DIR [--rows N] [--row-ms MS] [--reps R]\n");
        return 2;
    }
    mkdir(dir, 0700);
    s_caplat = 1000000;
    s_lat = calloc(s_caplat, sizeof *s_lat);
    struct {
        const char *name, *sync;
        long per;
        double secs;
        int v4;
        long cache_kb;
    } runs[] = {
        {"sqlite_insert_full_per512", "FULL", 512, 0, 0, 0},
        {"sqlite_insert_full_per_row", "FULL", 1, row_secs, 0, 0},
        {"sqlite_insert_normal_per512", "NORMAL", 512, 0, 0, 0},
        {"sqlite_insert_normal_per_row", "NORMAL", 1, row_secs, 0, 0},
        {"sqlite_insert_full_per5000", "FULL", 5000, 0, 0, 0},
        /* random ids (STIX imports), a larger page cache */
        {"sqlite_insert_full_per512_v4id", "FULL", 512, 0, 1, 0},
        {"sqlite_insert_full_per512_cache32m", "FULL", 512, 0, 0, 32768},
    };
    for (size_t r = 0; r < sizeof runs / sizeof runs[0]; r++) {
        double samples[32], bytes[32];
        for (int i = 0; i < reps; i++) {
            samples[i] = s_run(dir, runs[r].sync, rows, runs[r].per, runs[r].secs, runs[r].v4,
                               runs[r].cache_kb);
            bytes[i] = s_bytes_per_row;
        }
        bu_emit(runs[r].name, "rows/s", samples, (size_t)reps);
        char name[96];
        snprintf(name, sizeof name, "%s_write_bytes", runs[r].name);
        bu_emit(name, "bytes/row", bytes, (size_t)reps);
    }
    /* how long one commit of one row takes (FULL: a WAL append and its
     * fsync, now and then a checkpoint): all per-row commits of all reps */
    bu_emit_dist("sqlite_commit_full_row_latency", "ms", s_lat, s_nlat);
    return 0;
}
