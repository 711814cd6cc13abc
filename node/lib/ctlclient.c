#include "ctlclient.h"
#include "config.h"
#include "nodelock.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <zmq.h>

int ctl_running(const char *dir)
{
    /* A control.sock left behind by a crash proves nothing; the lock does. */
    return nodelock_held(dir);
}

json_t *ctl_call(const char *dir, json_t *req, int timeout_ms, char *err, size_t errlen)
{
    return ctl_call_body(dir, req, NULL, 0, timeout_ms, err, errlen);
}

json_t *ctl_call_body(const char *dir, json_t *req, const void *body, size_t body_len,
                      int timeout_ms, char *err, size_t errlen)
{
    if (!ctl_running(dir)) {
        snprintf(err, errlen, "the node in %s is not running (no control socket); start it "
                              "with: mouxd -d %s", dir, dir);
        return NULL;
    }
    char ep[PATH_MAX_MOUX + 48];
    snprintf(ep, sizeof ep, "ipc://%s/control.sock", dir);
    void *ctx = zmq_ctx_new();
    void *sock = ctx ? zmq_socket(ctx, ZMQ_REQ) : NULL;
    json_t *reply = NULL;
    char *text = json_dumps(req, JSON_COMPACT);
    int zero = 0;
    if (!sock || !text) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    zmq_setsockopt(sock, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(sock, ZMQ_RCVTIMEO, &timeout_ms, sizeof timeout_ms);
    zmq_setsockopt(sock, ZMQ_SNDTIMEO, &timeout_ms, sizeof timeout_ms);
    if (zmq_connect(sock, ep) != 0 ||
        zmq_send(sock, text, strlen(text), body ? ZMQ_SNDMORE : 0) < 0 ||
        (body && zmq_send(sock, body, body_len, 0) < 0)) {
        snprintf(err, errlen, "%s: %s", ep, zmq_strerror(zmq_errno()));
        goto out;
    }
    /* Wait in slices: if the daemon dies meanwhile (its lock is gone), say
     * so at once instead of waiting out the whole timeout. */
    int waited = 0, ready = 0;
    while (!ready && waited < timeout_ms) {
        zmq_pollitem_t item = {sock, 0, ZMQ_POLLIN, 0};
        ready = zmq_poll(&item, 1, 250) > 0;
        waited += 250;
        if (!ready && !ctl_running(dir)) {
            snprintf(err, errlen, "the node in %s stopped before answering; what it had "
                                  "committed stays, and sending the same request again is safe",
                     dir);
            goto out;
        }
    }
    zmq_msg_t msg;
    zmq_msg_init(&msg);
    if (!ready || zmq_msg_recv(&msg, sock, ZMQ_DONTWAIT) < 0) {
        snprintf(err, errlen, "no answer from the node in %s within %d ms (is mouxd running?)",
                 dir, timeout_ms);
        zmq_msg_close(&msg);
        goto out;
    }
    json_error_t jerr;
    reply = json_loadb(zmq_msg_data(&msg), zmq_msg_size(&msg), 0, &jerr);
    zmq_msg_close(&msg);
    if (!reply)
        snprintf(err, errlen, "malformed answer from the node: %s", jerr.text);
out:
    free(text);
    if (sock)
        zmq_close(sock);
    if (ctx)
        zmq_ctx_term(ctx);
    return reply;
}
