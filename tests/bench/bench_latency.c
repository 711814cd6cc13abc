/* Latency at a low steady rate: publishes one indicator per control request
 * into a running node A (over its control socket, as the CLI does) at RATE
 * per second for SECS seconds, to a partner B, and measures for each item
 *
 *   ack       publish request sent -> the node's reply (stored at A, batch sent)
 *   stored    publish -> durably stored at B
 *   receipt   publish -> receipted at A (the item left A's outbox)
 *
 *   bench_latency --dir A --peer-dir B --peer AGENCY [--rate 200] [--secs 10]
 *                 [--mode passive|poll] [--tag T] [--dump FILE]
 *
 * A's agency is the last component of its directory (deploy/cluster's
 * layout); A must log at debug level (log_level = debug) for passive mode.
 *
 * passive: nothing watches the stores while items flow; afterwards, the
 *   daemons' own log lines give the figures (same machine, same clock,
 *   microseconds): stored = B's BATCH-RECEIVED line for the batch that
 *   carried the item (written once the batch's transaction has committed)
 *   - the moment the publish request was sent; receipt = A's RECEIPTS-STORED
 *   line (debug level: written once the transaction holding the receipt has
 *   committed) - the same moment. Items are matched to batches through B's
 *   inbound rows.
 * poll: an observer thread polls B's store (read-only) until each published
 *   item is visible there, i.e. B's transaction has committed, and A's
 *   outbox until the item's entry is gone (the receipt has committed):
 *   microsecond clock, about 0.1 ms polling granularity; the polling costs
 *   some CPU on a 2-core machine.
 *
 * Publishing is paced on a fixed schedule (open loop: the next item does not
 * wait for the previous one's delivery, only for the node's reply to its
 * publish request); an item whose slot had already passed when the previous
 * reply came is counted as late. Bounded: RATE*SECS items, 5 s per reply,
 * SECS + 30 s in all. --dump writes each matched item's stored and receipt
 * latencies (ms), in publication order, for looking at the tail. */
#include "benchutil.h"
#include "util.h"

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

static sqlite3 *s_open_ro(const char *dir)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/store.db", dir);
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        fprintf(stderr, "bench_latency: %s: %s\n", path, db ? sqlite3_errmsg(db) : "?");
        exit(1);
    }
    sqlite3_busy_timeout(db, 1000);
    return db;
}

static sqlite3_stmt *s_prep(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
        fprintf(stderr, "bench_latency: %s: %s\n", sql, sqlite3_errmsg(db));
        exit(1);
    }
    return st;
}

/* 1 if the query with one text or two int parameters returns a row. */
static int s_exists_text(sqlite3_stmt *st, const char *text)
{
    sqlite3_reset(st);
    sqlite3_bind_text(st, 1, text, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_ROW;
}

static int64_t s_int_text(sqlite3_stmt *st, const char *text)
{
    sqlite3_reset(st);
    sqlite3_bind_text(st, 1, text, -1, SQLITE_STATIC);
    int64_t v = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
    sqlite3_reset(st);
    return v;
}

/* Microseconds since the epoch of a log line's stamp
 * ("2026-11-22T09:00:00.123456Z ..."); -1 if the line has none. */
static int64_t s_log_us(const char *line)
{
    struct tm tm;
    int us = 0;
    memset(&tm, 0, sizeof tm);
    if (sscanf(line, "%4d-%2d-%2dT%2d:%2d:%2d.%6dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
               &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &us) != 7)
        return -1;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return (int64_t)timegm(&tm) * 1000000 + us;
}

/* at[seq] = the stamp of the first line of DIR/mouxd.log with EVENT about
 * PARTNER that names seq (BATCH-RECEIVED: "seq N,"; RECEIPTS-STORED:
 * "seq N..M", every seq of the range); sequences >= cap are ignored. */
static void s_log_times(const char *dir, const char *event, const char *partner, int64_t *at,
                        size_t cap)
{
    char path[4200], line[2048], key[256];
    snprintf(path, sizeof path, "%s/mouxd.log", dir);
    snprintf(key, sizeof key, " %s: partner %s: ", event, partner);
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "bench_latency: %s: cannot read\n", path);
        exit(1);
    }
    while (fgets(line, sizeof line, f)) {
        const char *p = strstr(line, key), *s = p ? strstr(p + strlen(key), "seq ") : NULL;
        unsigned long long lo = 0, hi = 0;
        int64_t t = s ? s_log_us(line) : -1;
        if (t < 0 || sscanf(s, "seq %llu", &lo) != 1)
            continue;
        if (sscanf(s, "seq %*u..%llu", &hi) != 1)
            hi = lo;
        for (unsigned long long q = lo; q <= hi && q < cap; q++)
            if (at[q] < 0)
                at[q] = t;
    }
    fclose(f);
}

static void s_sleep_us(long us)
{
    struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
    nanosleep(&ts, NULL);
}

static void s_sleep_until(int64_t wall_us)
{
    int64_t d = wall_us - bu_wall_us();
    if (d > 0)
        s_sleep_us((long)d);
}

/* Publishes one item; writes its id. 0 on success. */
static int s_publish(void *req, const char *type, const char *value, char id[64])
{
    json_t *msg = json_pack("{s:s, s:[{s:s, s:s, s:s}]}", "cmd", "publish", "items", "type", type,
                            "value", value, "tlp", "amber");
    char *text = json_dumps(msg, JSON_COMPACT);
    json_decref(msg);
    int rc = zmq_send(req, text, strlen(text), 0) < 0 ? -1 : 0;
    free(text);
    if (rc)
        return -1;
    zmq_msg_t m;
    zmq_msg_init(&m);
    if (zmq_msg_recv(&m, req, 0) < 0) {
        zmq_msg_close(&m);
        return -1;
    }
    json_t *reply = json_loadb(zmq_msg_data(&m), zmq_msg_size(&m), 0, NULL);
    zmq_msg_close(&m);
    const char *got = json_string_value(
        json_object_get(json_array_get(json_object_get(reply, "results"), 0), "id"));
    rc = got ? 0 : -1;
    if (got)
        snprintf(id, 64, "%s", got);
    json_decref(reply);
    return rc;
}


/* The observer of poll mode: items are handed over by index as published. */
typedef struct {
    const char *a_dir, *b_dir;
    int64_t pid;
    size_t n;
    char (*ids)[64];
    int64_t *t_pub;
    atomic_size_t published;
    atomic_int stop;
    double *stored, *rcpt; /* ms, -1 until seen */
    size_t seen;
} s_obs_t;

static void *s_observer(void *arg)
{
    s_obs_t *o = arg;
    sqlite3 *adb = s_open_ro(o->a_dir), *bdb = s_open_ro(o->b_dir);
    sqlite3_stmt *b_has = s_prep(bdb, "SELECT 1 FROM indicator WHERE id = ?1");
    sqlite3_stmt *a_rid = s_prep(adb, "SELECT rid FROM indicator WHERE id = ?1");
    sqlite3_stmt *a_queued = s_prep(adb, "SELECT 1 FROM outbox WHERE pid = ?1 AND rid = ?2");
    int64_t *rid = calloc(o->n, sizeof *rid);
    size_t first = 0; /* items before this one are complete (or given up) */
    while (first < o->n) {
        size_t pub = atomic_load(&o->published);
        if (atomic_load(&o->stop) && first >= pub)
            break;
        for (size_t i = first; i < pub; i++) {
            if (o->stored[i] < 0 && s_exists_text(b_has, o->ids[i]))
                o->stored[i] = (double)(bu_wall_us() - o->t_pub[i]) / 1000.0;
            if (o->stored[i] >= 0 && o->rcpt[i] < 0) {
                if (rid[i] == 0)
                    rid[i] = s_int_text(a_rid, o->ids[i]);
                sqlite3_reset(a_queued);
                sqlite3_bind_int64(a_queued, 1, o->pid);
                sqlite3_bind_int64(a_queued, 2, rid[i]);
                int row = sqlite3_step(a_queued) == SQLITE_ROW;
                sqlite3_reset(a_queued);
                if (!row)
                    o->rcpt[i] = (double)(bu_wall_us() - o->t_pub[i]) / 1000.0;
            }
            if (i == first && ((o->stored[i] >= 0 && o->rcpt[i] >= 0) ||
                               bu_wall_us() - o->t_pub[i] > 10000000)) {
                if (o->rcpt[i] >= 0)
                    o->seen++;
                first++;
            }
        }
        s_sleep_us(50);
    }
    free(rid);
    sqlite3_finalize(b_has);
    sqlite3_finalize(a_rid);
    sqlite3_finalize(a_queued);
    sqlite3_close(adb);
    sqlite3_close(bdb);
    return NULL;
}

/* Item k was published k-th (pos[k]); unmatched items are left out. */
static void s_dump(const char *path, const size_t *pos, const double *stored, const double *rcpt,
                   size_t n)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "bench_latency: %s: cannot write\n", path);
        return;
    }
    for (size_t i = 0; i < n; i++)
        fprintf(f, "%zu %.3f %.3f\n", pos[i], stored[i], rcpt[i]);
    if (fclose(f) != 0)
        fprintf(stderr, "bench_latency: %s: cannot write\n", path);
}

int main(int argc, char **argv)
{
    const char *a_dir = bu_opt_str(argc, argv, "--dir", NULL);
    const char *b_dir = bu_opt_str(argc, argv, "--peer-dir", NULL);
    const char *peer = bu_opt_str(argc, argv, "--peer", NULL);
    const char *mode = bu_opt_str(argc, argv, "--mode", "passive");
    const char *dump = bu_opt_str(argc, argv, "--dump", NULL);
    long rate = bu_opt(argc, argv, "--rate", 200), secs = bu_opt(argc, argv, "--secs", 10);
    unsigned tag = (unsigned)bu_opt(argc, argv, "--tag", 7);
    int poll = strcmp(mode, "poll") == 0;
    if (!a_dir || !b_dir || !peer || rate < 1 || rate > 10000 || secs < 1 || secs > 60) {
        fprintf(stderr, "usage: bench_latency --dir A --peer-dir B --peer AGENCY [--rate R] "
                        "[--secs S] [--mode passive|poll] [--tag T] [--dump FILE]\n");
        return 2;
    }
    size_t n = (size_t)(rate * secs);
    char ep[4200];
    snprintf(ep, sizeof ep, "ipc://%s/control.sock", a_dir);
    void *ctx = zmq_ctx_new(), *req = zmq_socket(ctx, ZMQ_REQ);
    int to = 5000, zero = 0;
    zmq_setsockopt(req, ZMQ_RCVTIMEO, &to, sizeof to);
    zmq_setsockopt(req, ZMQ_SNDTIMEO, &to, sizeof to);
    zmq_setsockopt(req, ZMQ_LINGER, &zero, sizeof zero);
    if (zmq_connect(req, ep) != 0) {
        fprintf(stderr, "bench_latency: %s: %s\n", ep, zmq_strerror(zmq_errno()));
        return 1;
    }
    sqlite3 *adb = s_open_ro(a_dir), *bdb = s_open_ro(b_dir);
    sqlite3_stmt *b_has = s_prep(bdb, "SELECT 1 FROM indicator WHERE id = ?1");
    sqlite3_stmt *a_rid = s_prep(adb, "SELECT rid FROM indicator WHERE id = ?1");
    sqlite3_stmt *a_pid = s_prep(adb, "SELECT pid FROM partner WHERE agency = ?1");
    sqlite3_stmt *a_queued = s_prep(adb, "SELECT 1 FROM outbox WHERE pid = ?1 AND rid = ?2");
    int64_t pid = s_int_text(a_pid, peer);
    if (pid < 0) {
        fprintf(stderr, "bench_latency: %s is not a partner of %s\n", peer, a_dir);
        return 1;
    }
    char (*ids)[64] = calloc(n, sizeof *ids);
    double *ack = calloc(n, sizeof *ack), *stored = calloc(n, sizeof *stored),
           *rcpt = calloc(n, sizeof *rcpt);
    int64_t *t_pub = calloc(n, sizeof *t_pub);
    size_t *pos = calloc(n, sizeof *pos); /* matched item -> its publication index */
    size_t done = 0, late = 0, lost = 0, got = 0; /* got: items with both times */
    s_obs_t obs = {.a_dir = a_dir, .b_dir = b_dir, .pid = pid, .n = n, .ids = ids,
                   .t_pub = t_pub, .stored = stored, .rcpt = rcpt};
    for (size_t i = 0; i < n; i++)
        stored[i] = rcpt[i] = -1;
    pthread_t th;
    if (poll)
        pthread_create(&th, NULL, s_observer, &obs);
    int64_t period = 1000000 / rate, start = bu_wall_us() + 20000,
            deadline = start + (secs + 30) * 1000000;
    for (size_t i = 0; i < n && bu_wall_us() < deadline; i++) {
        int64_t slot = start + (int64_t)i * period;
        if (bu_wall_us() > slot + period / 2)
            late++;
        s_sleep_until(slot);
        char raw[256];
        const char *type = bu_item(i, tag, raw, sizeof raw);
        int64_t t0 = bu_wall_us();
        t_pub[i] = t0;
        if (s_publish(req, type, raw, ids[i]) != 0) {
            fprintf(stderr, "bench_latency: publish %zu failed\n", i);
            return 1;
        }
        ack[done++] = (double)(bu_wall_us() - t0) / 1000.0;
        atomic_store(&obs.published, done);
    }
    if (poll) {
        atomic_store(&obs.stop, 1);
        pthread_join(th, NULL);
        /* keep the seen ones, in order */
        for (size_t i = 0; i < done; i++)
            if (stored[i] >= 0 && rcpt[i] >= 0) {
                pos[got] = i;
                stored[got] = stored[i];
                rcpt[got++] = rcpt[i];
            }
        lost = done - got;
    }
    if (!poll) {
        /* wait (bounded) until the last item is at B and A's outbox is empty */
        sqlite3_stmt *a_left = s_prep(adb, "SELECT EXISTS(SELECT 1 FROM outbox WHERE pid = ?1)");
        int64_t limit = bu_wall_us() + 30000000;
        for (;;) {
            sqlite3_reset(a_left);
            sqlite3_bind_int64(a_left, 1, pid);
            int left = sqlite3_step(a_left) == SQLITE_ROW && sqlite3_column_int(a_left, 0);
            sqlite3_reset(a_left);
            if ((!left && (done == 0 || s_exists_text(b_has, ids[done - 1]))) ||
                bu_wall_us() > limit)
                break;
            s_sleep_us(20000);
        }
        sqlite3_finalize(a_left);
        /* item id -> the sequence of the batch that carried it, from B's inbound rows */
        sqlite3_stmt *inb = s_prep(bdb, "SELECT seq, payload FROM inbound WHERE received_ms >= ?1");
        sqlite3_bind_int64(inb, 1, t_pub[0] / 1000 - 1000);
        size_t cap = n, m = 0, batches = 0, max_items = 0;
        char (*map_id)[64] = calloc(cap, sizeof *map_id);
        int64_t *map_seq = calloc(cap, sizeof *map_seq);
        while (sqlite3_step(inb) == SQLITE_ROW) {
            Moux__Batch *b = moux__batch__unpack(NULL, (size_t)sqlite3_column_bytes(inb, 1),
                                                 sqlite3_column_blob(inb, 1));
            if (!b)
                continue;
            batches++;
            if (b->n_items > max_items)
                max_items = b->n_items;
            for (size_t k = 0; k < b->n_items && m < cap; k++, m++) {
                snprintf(map_id[m], 64, "%s", b->items[k]->id);
                map_seq[m] = sqlite3_column_int64(inb, 0);
            }
            moux__batch__free_unpacked(b, NULL);
        }
        sqlite3_finalize(inb);
        /* seq -> when the batch was on disk at B, and its receipt at A */
        size_t seqs = 1;
        for (size_t k = 0; k < m; k++)
            if ((size_t)map_seq[k] + 1 > seqs && map_seq[k] < 100000000)
                seqs = (size_t)map_seq[k] + 1;
        int64_t *b_at = malloc(seqs * sizeof *b_at), *a_at = malloc(seqs * sizeof *a_at);
        for (size_t q = 0; q < seqs; q++)
            b_at[q] = a_at[q] = -1;
        const char *a_agency = strrchr(a_dir, '/') ? strrchr(a_dir, '/') + 1 : a_dir;
        s_log_times(b_dir, "BATCH-RECEIVED", a_agency, b_at, seqs);
        s_log_times(a_dir, "RECEIPTS-STORED", peer, a_at, seqs);
        for (size_t i = 0; i < done; i++) {
            int64_t seq = -1;
            for (size_t k = 0; k < m; k++)
                if (strcmp(map_id[k], ids[i]) == 0) {
                    seq = map_seq[k];
                    break;
                }
            if (seq < 0 || (size_t)seq >= seqs || b_at[seq] < 0 || a_at[seq] < 0) {
                lost++;
                continue;
            }
            pos[got] = i;
            stored[got] = (double)(b_at[seq] - t_pub[i]) / 1000.0;
            rcpt[got++] = (double)(a_at[seq] - t_pub[i]) / 1000.0;
        }
        free(b_at);
        free(a_at);
        char name[64];
        snprintf(name, sizeof name, "lat_%s_batches", mode);
        bu_emit1(name, "batches", (double)batches);
        snprintf(name, sizeof name, "lat_%s_max_items_per_batch", mode);
        bu_emit1(name, "items", (double)max_items);
        free(map_id);
        free(map_seq);
    }
    if (dump)
        s_dump(dump, pos, stored, rcpt, got);
    char nm[64];
    snprintf(nm, sizeof nm, "lat_%s_ack", mode);
    bu_emit_dist(nm, "ms", ack, done);
    snprintf(nm, sizeof nm, "lat_%s_stored", mode);
    bu_emit_dist(nm, "ms", stored, got);
    snprintf(nm, sizeof nm, "lat_%s_receipt", mode);
    bu_emit_dist(nm, "ms", rcpt, got);
    snprintf(nm, sizeof nm, "lat_%s_items", mode);
    bu_emit1(nm, "items", (double)done);
    snprintf(nm, sizeof nm, "lat_%s_late", mode);
    bu_emit1(nm, "items", (double)late);
    snprintf(nm, sizeof nm, "lat_%s_unmatched", mode);
    bu_emit1(nm, "items", (double)lost);
    snprintf(nm, sizeof nm, "lat_%s_rate", mode);
    bu_emit1(nm, "items/s", (double)rate);
    sqlite3_finalize(b_has);
    sqlite3_finalize(a_rid);
    sqlite3_finalize(a_pid);
    sqlite3_finalize(a_queued);
    sqlite3_close(adb);
    sqlite3_close(bdb);
    zmq_close(req);
    zmq_ctx_term(ctx);
    return 0;
}
