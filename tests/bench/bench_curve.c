/* Baseline: ZeroMQ throughput on loopback between a DEALER (CURVE client)
 * and a ROUTER (CURVE server) in two threads with their own contexts, as
 * the daemons' sockets are (the ROUTER is the partner's; no ZAP handler, so
 * every CURVE client is admitted, which only affects the handshake).
 *
 *   bench_curve [--sizes 512,B] [--reps N] [--ms T] [--window-size B]
 *               [--receipt-size R]
 *
 * For each size: "stream" (the DEALER sends as fast as libzmq takes
 * messages; the rate is messages received per second from the first send to
 * the last receive), with CURVE and, for comparison, with the NULL
 * mechanism. Then "window": messages of the window size with at most 8
 * unanswered, each answered by a message of the receipt size (the shape of
 * moux's batch/receipt exchange with max_inflight_batches = 8).
 *
 * Every run is bounded in count and time: a first, discarded run of a fixed
 * count calibrates how many messages take about T ms; every receive has a
 * 10 s timeout. Each figure is the median of N runs. All traffic is on
 * 127.0.0.1. */
#include "benchutil.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

typedef struct {
    int curve;
    size_t size, reply_size;
    long count;
    int window;             /* 0: stream */
    char endpoint[128];
    char server_pub[41], server_sec[41], client_pub[41], client_sec[41];
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int bound, failed;
    double t_last;           /* receiver: time of the last receive */
} s_run_t;

static void s_set_int(void *s, int opt, int v)
{
    zmq_setsockopt(s, opt, &v, sizeof v);
}

static void *s_receiver(void *arg)
{
    s_run_t *r = arg;
    void *ctx = zmq_ctx_new();
    void *router = zmq_socket(ctx, ZMQ_ROUTER);
    s_set_int(router, ZMQ_LINGER, 2000); /* the last replies must leave before close */
    s_set_int(router, ZMQ_RCVTIMEO, 10000);
    int64_t maxmsg = 64 * 1024 * 1024;
    zmq_setsockopt(router, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg);
    if (r->curve) {
        s_set_int(router, ZMQ_CURVE_SERVER, 1);
        zmq_setsockopt(router, ZMQ_CURVE_SECRETKEY, r->server_sec, 40);
    }
    int ok = zmq_bind(router, "tcp://127.0.0.1:*") == 0;
    size_t len = sizeof r->endpoint;
    pthread_mutex_lock(&r->mu);
    if (ok)
        zmq_getsockopt(router, ZMQ_LAST_ENDPOINT, r->endpoint, &len);
    r->bound = ok ? 1 : -1;
    pthread_cond_signal(&r->cv);
    pthread_mutex_unlock(&r->mu);
    char *reply = calloc(1, r->reply_size ? r->reply_size : 1);
    zmq_msg_t id, msg;
    zmq_msg_init(&id);
    zmq_msg_init(&msg);
    /* message 0 is the warm-up, answered so the sender knows the handshake is done */
    for (long i = 0; ok && i <= r->count; i++) {
        if (zmq_msg_recv(&id, router, 0) < 0 || zmq_msg_recv(&msg, router, 0) < 0) {
            r->failed = 1;
            break;
        }
        if (i == 0 || r->window) {
            if (zmq_send(router, zmq_msg_data(&id), zmq_msg_size(&id), ZMQ_SNDMORE) < 0 ||
                zmq_send(router, reply, r->reply_size, 0) < 0) {
                r->failed = 1;
                break;
            }
        }
    }
    r->t_last = bu_now();
    zmq_msg_close(&id);
    zmq_msg_close(&msg);
    free(reply);
    zmq_close(router);
    zmq_ctx_term(ctx);
    return NULL;
}

/* Messages per second for one run, or -1. */
static double s_once(s_run_t *r)
{
    pthread_t th;
    int joined = 0;
    r->bound = 0;
    r->failed = 0;
    pthread_create(&th, NULL, s_receiver, r);
    pthread_mutex_lock(&r->mu);
    while (!r->bound)
        pthread_cond_wait(&r->cv, &r->mu);
    pthread_mutex_unlock(&r->mu);
    double rate = -1;
    void *ctx = zmq_ctx_new();
    void *dealer = zmq_socket(ctx, ZMQ_DEALER);
    s_set_int(dealer, ZMQ_LINGER, 0);
    s_set_int(dealer, ZMQ_RCVTIMEO, 10000);
    s_set_int(dealer, ZMQ_SNDTIMEO, 10000);
    if (r->curve) {
        zmq_setsockopt(dealer, ZMQ_CURVE_SERVERKEY, r->server_pub, 40);
        zmq_setsockopt(dealer, ZMQ_CURVE_PUBLICKEY, r->client_pub, 40);
        zmq_setsockopt(dealer, ZMQ_CURVE_SECRETKEY, r->client_sec, 40);
    }
    char *buf = calloc(1, r->size), *rbuf = malloc(r->reply_size + 1);
    if (r->bound < 0 || zmq_connect(dealer, r->endpoint) != 0)
        goto out;
    /* warm-up: the handshake completes before timing starts */
    if (zmq_send(dealer, buf, r->size, 0) < 0 || zmq_recv(dealer, rbuf, r->reply_size + 1, 0) < 0)
        goto out;
    double t0 = bu_now();
    if (!r->window) {
        for (long i = 0; i < r->count; i++)
            if (zmq_send(dealer, buf, r->size, 0) < 0)
                goto out;
    } else {
        long sent = 0, answered = 0;
        while (answered < r->count) {
            while (sent < r->count && sent - answered < r->window) {
                if (zmq_send(dealer, buf, r->size, 0) < 0)
                    goto out;
                sent++;
            }
            if (zmq_recv(dealer, rbuf, r->reply_size + 1, 0) < 0)
                goto out;
            answered++;
        }
    }
    pthread_join(th, NULL);
    joined = 1;
    if (!r->failed)
        rate = (double)r->count / (r->t_last - t0);
out:
    free(buf);
    free(rbuf);
    zmq_close(dealer);
    zmq_ctx_term(ctx);
    if (!joined)
        pthread_join(th, NULL); /* the receiver times out by itself */
    return rate;
}

static void s_bench(const char *name, s_run_t *base, int reps, double target_s, long first)
{
    s_run_t r = *base;
    pthread_mutex_init(&r.mu, NULL);
    pthread_cond_init(&r.cv, NULL);
    r.count = first;
    double cal = s_once(&r);
    if (cal <= 0) {
        fprintf(stderr, "bench_curve: %s: calibration run failed\n", name);
        return;
    }
    long n = (long)(cal * target_s);
    r.count = n < 200 ? 200 : n > 5000000 ? 5000000 : n;
    double samples[32], bytes[32];
    int got = 0;
    for (int i = 0; i < reps && i < 32; i++) {
        double v = s_once(&r);
        if (v > 0) {
            samples[got] = v;
            bytes[got++] = v * (double)r.size / 1e6;
        }
    }
    bu_emit(name, "msg/s", samples, (size_t)got);
    char bname[128];
    snprintf(bname, sizeof bname, "%s_MBps", name);
    bu_emit(bname, "MB/s", bytes, (size_t)got);
}

int main(int argc, char **argv)
{
    int reps = (int)bu_opt(argc, argv, "--reps", 5);
    double target = (double)bu_opt(argc, argv, "--ms", 400) / 1000.0;
    long batch = bu_opt(argc, argv, "--batch-size", 100000);
    long receipt = bu_opt(argc, argv, "--receipt-size", 30000);
    s_run_t base;
    memset(&base, 0, sizeof base);
    if (zmq_curve_keypair(base.server_pub, base.server_sec) != 0 ||
        zmq_curve_keypair(base.client_pub, base.client_sec) != 0) {
        fprintf(stderr, "bench_curve: libzmq has no CURVE\n");
        return 1;
    }
    base.reply_size = 64;

    base.curve = 1;
    base.size = 512;
    s_bench("curve_stream_512B", &base, reps, target, 20000);
    base.size = (size_t)batch;
    s_bench("curve_stream_batch", &base, reps, target, 500);
    base.curve = 0;
    base.size = 512;
    s_bench("null_stream_512B", &base, reps, target, 20000);
    base.size = (size_t)batch;
    s_bench("null_stream_batch", &base, reps, target, 500);
    base.curve = 1;
    base.window = 8;
    base.size = (size_t)batch;
    base.reply_size = (size_t)receipt;
    s_bench("curve_window8_batch", &base, reps, target, 300);
    bu_emit1("curve_batch_bytes", "bytes", (double)batch);
    bu_emit1("curve_receipt_bytes", "bytes", (double)receipt);
    return 0;
}
