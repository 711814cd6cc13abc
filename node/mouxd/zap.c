/* ZAP handler (RFC 27) in the daemon's own context: admits a CURVE client
 * only if its public key is a partner's transport key, and names it by
 * agency in the User-Id, which is all the rest of the node trusts. */
#include "daemon.h"
#include "log.h"
#include "util.h"

#include <string.h>
#include <zmq.h>

#define ZAP_FRAMES 7 /* version, request id, domain, address, identity, mechanism, key */

int zap_start(daemon_t *d)
{
    d->zap = zmq_socket(d->zctx, ZMQ_REP);
    return d->zap && zmq_bind(d->zap, "inproc://zeromq.zap.01") == 0 ? 0 : -1;
}

static void s_send(void *sock, const void *data, size_t len, int more)
{
    zmq_send(sock, data, len, more ? ZMQ_SNDMORE : 0);
}

static void s_reply(daemon_t *d, zmq_msg_t *reqid, const char *code, const char *text,
                    const char *user)
{
    s_send(d->zap, "1.0", 3, 1);
    s_send(d->zap, zmq_msg_data(reqid), zmq_msg_size(reqid), 1);
    s_send(d->zap, code, strlen(code), 1);
    s_send(d->zap, text, strlen(text), 1);
    s_send(d->zap, user, strlen(user), 1);
    s_send(d->zap, "", 0, 0);
}

/* The partner one of whose usable keys (current, or older ones still in
 * their rotation overlap; never revoked) this CURVE key is. */
static link_t *s_partner_by_curve(daemon_t *d, const unsigned char *key)
{
    uint64_t now = now_ms();
    for (size_t i = 0; i < d->n_links; i++)
        if (link_admits_curve(d->links[i], key, now))
            return d->links[i];
    return NULL;
}

/* Anyone who knows our public transport key can try to connect: refusals
 * are logged and recorded at most once a second, with a count, so a flood
 * of handshakes costs no disk and no log. */
static void s_denied(daemon_t *d, const char *addr)
{
    static uint64_t s_last_ms, s_count;
    uint64_t now = mono_ms();
    s_count++;
    if (s_last_ms && now - s_last_ms < 1000)
        return;
    char detail[128];
    snprintf(detail, sizeof detail, "%llu refused; last from %s", (unsigned long long)s_count,
             addr);
    log_warn("ZAP-DENIED", "connection(s) refused: CURVE key is not a usable partner key "
             "(unknown, revoked or retired): %s", detail);
    store_event(d->store, "connection-refused", NULL, NULL, "not-a-partner", detail);
    s_last_ms = now;
    s_count = 0;
}

void zap_on_request(daemon_t *d)
{
    for (int n = 0; n < 64; n++) {
        zmq_msg_t f[ZAP_FRAMES];
        int count = 0, more = 1;
        for (; more; count++) {
            zmq_msg_t tmp, *m = count < ZAP_FRAMES ? &f[count] : &tmp;
            zmq_msg_init(m);
            if (zmq_msg_recv(m, d->zap, ZMQ_DONTWAIT) < 0) {
                zmq_msg_close(m);
                if (count == 0)
                    return;
                break;
            }
            more = zmq_msg_more(m);
            if (m == &tmp)
                zmq_msg_close(&tmp);
        }
        int held = count < ZAP_FRAMES ? count : ZAP_FRAMES;
        if (held >= 6) {
            const char *mech = zmq_msg_data(&f[5]);
            size_t mlen = zmq_msg_size(&f[5]);
            link_t *link = NULL;
            if (mlen == 5 && memcmp(mech, "CURVE", 5) == 0 && held == 7 &&
                zmq_msg_size(&f[6]) == 32)
                link = s_partner_by_curve(d, zmq_msg_data(&f[6]));
            if (link) {
                s_reply(d, &f[1], "200", "OK", link_partner(link)->agency);
            } else if (mlen == 4 && memcmp(mech, "NULL", 4) == 0) {
                /* Only the local control socket (ipc, 0600) runs without CURVE. */
                s_reply(d, &f[1], "200", "OK", "");
            } else {
                char addr[64] = "";
                size_t alen = zmq_msg_size(&f[3]) < sizeof addr - 1 ? zmq_msg_size(&f[3])
                                                                     : sizeof addr - 1;
                memcpy(addr, zmq_msg_data(&f[3]), alen);
                s_denied(d, addr);
                s_reply(d, &f[1], "400", "not a partner", "");
            }
        } else if (held >= 2) {
            s_reply(d, &f[1], "500", "malformed ZAP request", "");
        }
        for (int i = 0; i < held; i++)
            zmq_msg_close(&f[i]);
    }
}
