/* The daemon: start-up, the poll loop, reload, publishing, shutdown. */
#include "audit.h"
#include "daemon.h"
#include "stix.h"
#include "retention.h"
#include "log.h"
#include "nodelock.h"
#include "policy.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

static volatile sig_atomic_t s_stop, s_hup;

static void s_on_signal(int sig)
{
    if (sig == SIGHUP)
        s_hup = 1;
    else
        s_stop = 1;
}

static void s_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = s_on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

int zsock_set_int(void *sock, int option, int value)
{
    return zmq_setsockopt(sock, option, &value, sizeof value);
}

int zsock_set_link_options(void *sock, const config_t *cfg)
{
    int64_t maxmsg = cfg->max_message_bytes;
    int hb = (int)cfg->heartbeat_ms;
    return zmq_setsockopt(sock, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg) ||
           zsock_set_int(sock, ZMQ_LINGER, 0) || zsock_set_int(sock, ZMQ_HEARTBEAT_IVL, hb) ||
           zsock_set_int(sock, ZMQ_HEARTBEAT_TIMEOUT, hb * 3) ||
           zsock_set_int(sock, ZMQ_HEARTBEAT_TTL, hb * 3) ? -1 : 0;
}

static int s_open_router(daemon_t *d, char *err, size_t errlen)
{
    d->router = zmq_socket(d->zctx, ZMQ_ROUTER);
    /* After a close the port may stay busy for a moment: retry, bounded. */
    for (int i = 0; i < 50 && d->router; i++) {
        if (zsock_set_int(d->router, ZMQ_CURVE_SERVER, 1) ||
            zmq_setsockopt(d->router, ZMQ_CURVE_SECRETKEY, d->keys->curve_sk, 32) ||
            zmq_setsockopt(d->router, ZMQ_ZAP_DOMAIN, "moux", 4) ||
            zsock_set_int(d->router, ZMQ_ROUTER_MANDATORY, 1) ||
            /* A partner cannot park more than this many frames in our memory. */
            zsock_set_int(d->router, ZMQ_RCVHWM, 32) ||
            zsock_set_link_options(d->router, &d->cfg))
            break;
        if (zmq_bind(d->router, d->cfg.listen) == 0)
            return 0;
        if (zmq_errno() != EADDRINUSE)
            break;
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    snprintf(err, errlen, "cannot listen on %s: %s", d->cfg.listen, zmq_strerror(zmq_errno()));
    return -1;
}

int daemon_router_restart(daemon_t *d)
{
    char err[512];
    if (d->router)
        zmq_close(d->router);
    d->router = NULL;
    d->want_router_restart = 0;
    if (s_open_router(d, err, sizeof err) != 0) {
        log_error("ROUTER", "%s", err);
        return -1;
    }
    log_info("ROUTER-REOPENED", "partner connections dropped; they come back through ZAP");
    return 0;
}

static void s_drop_links(daemon_t *d)
{
    for (size_t i = 0; i < d->n_links; i++)
        link_destroy(&d->links[i]);
    free(d->links);
    d->links = NULL;
    d->n_links = 0;
    free(d->unlinked);
    d->unlinked = NULL;
    d->n_unlinked = 0;
}

/* Opens the links still missing; a partner whose link cannot open now is
 * kept and tried again, never silently dropped. */
static void s_open_links(daemon_t *d)
{
    size_t kept = 0;
    for (size_t i = 0; i < d->n_unlinked; i++) {
        link_t *l = link_new(d, &d->unlinked[i]);
        if (l)
            d->links[d->n_links++] = l;
        else
            d->unlinked[kept++] = d->unlinked[i];
    }
    if (kept)
        log_warn("LINK-RETRY", "%zu partner link(s) could not open; retrying in 2 s", kept);
    d->n_unlinked = kept;
    d->relink_at_ms = mono_ms() + 2000;
}

int daemon_reload(daemon_t *d)
{
    partner_t *ps = NULL;
    size_t n = 0;
    if (store_partners(d->store, &ps, &n) != 0) {
        if (!d->reload_at_ms)
            log_error("RELOAD", "cannot read partners: %s; links closed until they can be read "
                      "(tried every second)", store_errmsg(d->store));
        /* Closed all the same: the caller may free the keys they speak with. */
        s_drop_links(d);
        d->reload_at_ms = mono_ms() + 1000;
        return -1;
    }
    if (d->reload_at_ms)
        log_info("RELOAD", "partners read again; links reopen");
    d->reload_at_ms = 0;
    s_drop_links(d); /* in-flight batches are resent from the outbox */
    d->links = calloc(n ? n : 1, sizeof *d->links);
    if (!d->links) {
        free(ps);
        d->reload_at_ms = mono_ms() + 1000;
        return -1;
    }
    d->unlinked = ps;
    d->n_unlinked = n;
    s_open_links(d);
    log_info("PARTNERS", "%zu partner(s) loaded", n);
    return 0;
}

link_t *daemon_link_by_agency(daemon_t *d, const char *agency)
{
    for (size_t i = 0; i < d->n_links; i++)
        if (strcmp(link_partner(d->links[i])->agency, agency) == 0)
            return d->links[i];
    return NULL;
}

int daemon_init(daemon_t *d, const char *dir, char *err, size_t errlen)
{
    memset(d, 0, sizeof *d);
    d->lock_fd = -1;
    d->started_ms = now_ms();
    if (config_load(dir, &d->cfg, err, errlen) != 0 || (d->lock_fd = nodelock_acquire(dir, err, errlen)) < 0)
        return -1;
    log_set_level(strcmp(d->cfg.log_level, "debug") == 0 ? LOG_LVL_DEBUG
                  : strcmp(d->cfg.log_level, "warn") == 0 ? LOG_LVL_WARN
                  : strcmp(d->cfg.log_level, "error") == 0 ? LOG_LVL_ERROR
                  : LOG_LVL_INFO);
    d->store = store_open(dir, STORE_RW, err, errlen);
    if (!d->store || keys_start(d, err, errlen) != 0)
        return -1;
    store_set_audit(d->store, d->cfg.audit_log != 0);
    char why[256];
    if (!(d->walckpt = walckpt_start(d->store, why, sizeof why)))
        log_warn("WAL-CHECKPOINT-INLINE", "%s; commits checkpoint themselves", why);
    d->zctx = zmq_ctx_new();
    if (!d->zctx || zap_start(d) != 0) {
        snprintf(err, errlen, "cannot start ZeroMQ: %s", zmq_strerror(zmq_errno()));
        return -1;
    }
    if (s_open_router(d, err, errlen) != 0 || ctl_start(d, err, errlen) != 0)
        return -1;
    if (daemon_reload(d) != 0) {
        snprintf(err, errlen, "cannot load partners");
        return -1;
    }
    s_signals();
    log_info("STARTED", "agency %s listening on %s", d->cfg.agency, d->cfg.listen);
    return 0;
}

/* Queues one version for a partner if its MOU allows it; if not, an older
 * version still queued for it goes too. */
static int s_queue_for(daemon_t *d, link_t *link, int64_t rid, const Moux__Indicator *ind)
{
    const partner_t *p = link_partner(link);
    agreement_t *a = link_agreement(link);
    policy_verdict_t v = policy_outbound(a->mou, d->cfg.agency, p->agency, ind, now_ms());
    agreement_count(a, "out", v.reason ? v.reason : "allowed");
    if (!v.reason)
        return store_outbox_put(d->store, p->pid, rid, ind->modified_ms);
    log_info("OUTBOUND-REFUSED", "%s not sent to %s: %s (%s)", ind->id, p->agency, v.reason,
             v.rule);
    return store_outbox_drop(d->store, p->pid, rid) ||
           store_event(d->store, "outbound-refused", p->agency, ind->id, v.reason, v.rule);
}

/* Every partner. One whose link could not be built yet (it is retried)
 * has no MOU loaded: its items queue unjudged, and the check when they
 * leave (link.c) decides, so nothing is lost and nothing goes unchecked. */
static int s_queue_for_partners(daemon_t *d, int64_t rid, const Moux__Indicator *ind)
{
    for (size_t j = 0; j < d->n_links; j++)
        if (s_queue_for(d, d->links[j], rid, ind) != 0)
            return -1;
    for (size_t j = 0; j < d->n_unlinked; j++)
        if (store_outbox_put(d->store, d->unlinked[j].pid, rid, ind->modified_ms) != 0)
            return -1;
    return 0;
}

int daemon_relay(daemon_t *d, link_t *from, int64_t rid, const Moux__Indicator *ind, int update)
{
    agreement_t *fa = link_agreement(from);
    const char *from_agency = link_partner(from)->agency;
    for (size_t j = 0; j < d->n_links; j++) {
        link_t *to = d->links[j];
        if (to == from)
            continue;
        const partner_t *p = link_partner(to);
        policy_verdict_t v = policy_relay(fa->mou, d->cfg.agency, from_agency, p->agency, ind);
        agreement_count(fa, "relay", v.reason ? v.reason : "allowed");
        if (!v.reason) {
            if (s_queue_for(d, to, rid, ind) != 0)
                return -1;
        } else if (update && store_outbox_drop(d->store, p->pid, rid) != 0) {
            return -1; /* an older version that could go may no longer */
        }
    }
    return 0;
}

int daemon_flush_counts(daemon_t *d)
{
    int rc = 0;
    for (size_t j = 0; j < d->n_links; j++)
        rc |= agreement_flush(link_agreement(d->links[j]), d->store);
    return rc;
}

void daemon_drop_counts(daemon_t *d)
{
    for (size_t j = 0; j < d->n_links; j++)
        link_agreement(d->links[j])->n_tally = 0;
}

int daemon_withdraw(daemon_t *d, const char *id, const char *type, const char *value,
                    char id_out[IND_ID_LEN + 1])
{
    Moux__Indicator *ind = NULL;
    int64_t rid = 0;
    if (store_begin(d->store) != 0)
        return -1;
    int rc = store_withdraw_local(d->store, id, type, value, &ind, &rid);
    int shared = rc == 1 && strcmp(ind->type, STIX_LOCAL_TYPE) != 0; /* never queued */
    if (rc == 1 && ((shared && s_queue_for_partners(d, rid, ind) != 0) ||
                    store_event(d->store, "withdrawn", NULL, ind->id, NULL, NULL) != 0 ||
                    daemon_flush_counts(d) != 0))
        rc = -1;
    if (rc < 0 || store_commit(d->store) != 0) {
        store_rollback(d->store);
        daemon_drop_counts(d);
        store_indicator_free(ind);
        return -1;
    }
    if (rc == 1) {
        str_copy(id_out, IND_ID_LEN + 1, ind->id);
        log_info("WITHDRAWN", "%s withdrawn; partners that may have it are told", ind->id);
        for (size_t j = 0; j < d->n_links; j++)
            link_pump(d->links[j]);
    }
    store_indicator_free(ind);
    return rc;
}

/* One STIX indicator, versioned by its id; queued unless nothing changed or
 * it cannot be shared. Inside daemon_publish's transaction. */
static int s_publish_stix(daemon_t *d, publish_item_t *it)
{
    static const struct {
        const char *status, *reason;
    } out[] = {
        [STORE_STIX_NEW] = {"new", NULL},
        [STORE_STIX_UPDATED] = {"updated", NULL},
        [STORE_STIX_UNCHANGED] = {"ignored", "this version is already held"},
        [STORE_STIX_OLDER] = {"ignored", "older than the version held (a later modified)"},
        [STORE_STIX_REVOKED] = {"ignored", "the version held is revoked (revocation is final)"},
        [STORE_STIX_SAME_MODIFIED] = {"refused", "same modified as the version held but "
                                                 "different content (the held version stays)"},
        [STORE_STIX_FROM_PARTNER] = {"refused", "id-conflict: this id was received from a "
                                                "partner, which alone versions it"},
    };
    int64_t rid = 0;
    store_stix_t res;
    if (store_put_stix(d->store, d->cfg.agency, &it->ind, it->stix, it->modified_ns, &rid,
                       &res) != 0)
        return -1;
    it->status = out[res].status;
    it->reason = out[res].reason;
    if ((res == STORE_STIX_NEW || res == STORE_STIX_UPDATED) && !it->local_only) {
        it->ind.origin = d->cfg.agency;
        return s_queue_for_partners(d, rid, &it->ind);
    }
    return 0;
}

int daemon_publish(daemon_t *d, publish_item_t *items, size_t n)
{
    static const char *names[] = {"new", "updated", "unchanged", "refused"};
    if (store_begin(d->store) != 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        int64_t rid = 0;
        store_put_t res;
        if (items[i].reason) /* refused before it got here */
            continue;
        if (items[i].stix) {
            if (s_publish_stix(d, &items[i]) != 0)
                goto fail;
            continue;
        }
        if (store_put_local(d->store, d->cfg.agency, &items[i].ind, &rid, &res) != 0)
            goto fail;
        str_copy(items[i].id, sizeof items[i].id, items[i].ind.id);
        items[i].status = names[res];
        if (res != STORE_UNCHANGED && s_queue_for_partners(d, rid, &items[i].ind) != 0)
            goto fail;
    }
    /* The outbox rows commit with the indicators: nothing published is lost
     * and nothing is queued that was not stored. */
    if (daemon_flush_counts(d) != 0 || store_commit(d->store) != 0)
        goto fail;
    for (size_t j = 0; j < d->n_links; j++)
        link_pump(d->links[j]);
    return 0;
fail:
    log_error("PUBLISH-FAILED", "store: %s", store_errmsg(d->store));
    store_rollback(d->store);
    daemon_drop_counts(d);
    return -1;
}

/* Rebuilds a link from the store (its partner's keys changed, or ours for
 * it); in-flight batches go out again from the outbox. */
static void s_rebuild_link(daemon_t *d, size_t i)
{
    partner_t *ps = NULL;
    size_t n = 0;
    int64_t pid = link_partner(d->links[i])->pid;
    if (store_partners(d->store, &ps, &n) != 0)
        return;
    for (size_t j = 0; j < n; j++)
        if (ps[j].pid == pid) {
            link_t *fresh = link_new(d, &ps[j]);
            if (fresh) {
                link_destroy(&d->links[i]);
                d->links[i] = fresh;
            }
        }
    free(ps);
}

int daemon_checkpoint(daemon_t *d, uint64_t *size)
{
    int rc = audit_checkpoint(d->store, d->cfg.agency, d->id->keys->sign_pk,
                              d->id->keys->sign_sk, size);
    if (rc < 0)
        log_error("CHECKPOINT", "cannot sign a checkpoint: %s", store_errmsg(d->store));
    if (rc == 1) {
        log_info("CHECKPOINT", "audit log checkpoint signed at size %llu", (unsigned long long)*size);
        for (size_t i = 0; i < d->n_links; i++)
            link_offer_checkpoint(d->links[i]);
    }
    return rc < 0 ? -1 : 0;
}

/* Retention and checkpoints on schedule, and each MOU's expiry recorded
 * once. */
static void s_agreements_tick(daemon_t *d)
{
    uint64_t mono = mono_ms(), now = now_ms(), purged = 0, size = 0;
    if (mono >= d->checkpoint_at_ms && store_audit_on(d->store)) {
        d->checkpoint_at_ms = mono + (uint64_t)d->cfg.checkpoint_interval_seconds * 1000u;
        daemon_checkpoint(d, &size);
    }
    if (mono >= d->purge_at_ms) {
        char err[512];
        d->purge_at_ms = mono + (uint64_t)d->cfg.retention_check_seconds * 1000u;
        if (retention_purge(d->store, d->cfg.agency, now, &purged, err, sizeof err) != 0)
            log_error("RETENTION", "%s", err);
    }
    for (size_t i = 0; i < d->n_links; i++) {
        agreement_t *a = link_agreement(d->links[i]);
        if (a->mou && !a->expiry_noted && now >= mou_expires_ms(a->mou)) {
            a->expiry_noted = 1;
            const char *peer = link_partner(d->links[i])->agency;
            if (store_event_exists(d->store, "mou-expired", peer, mou_id(a->mou)) != 0)
                continue; /* recorded before a reload or restart */
            log_warn("MOU-EXPIRED", "partner %s: MOU %s expired; nothing flows under it",
                     link_partner(d->links[i])->agency, mou_id(a->mou));
            store_event(d->store, "mou-expired", link_partner(d->links[i])->agency, NULL, NULL,
                        mou_id(a->mou));
        }
    }
}

/* Work the handlers asked for, done where no socket is in use. */
static void s_between_rounds(daemon_t *d)
{
    if (d->want_router_restart)
        daemon_router_restart(d);
    if (d->reload_at_ms && mono_ms() >= d->reload_at_ms)
        daemon_reload(d);
    for (size_t i = 0; i < d->n_links; i++)
        if (link_wants_rebuild(d->links[i]))
            s_rebuild_link(d, i);
    keys_tick(d);
    s_agreements_tick(d);
    /* Receipts commit unsynced: on disk within a second. A failing sync is
     * retried every second and said once a minute. */
    if (!store_take_unsynced(d->store, STORE_UNSYNCED_MAX_MS))
        return;
    uint64_t mono = mono_ms();
    if (store_sync_wal(d->store) != 0 && mono >= d->sync_warn_at_ms) {
        d->sync_warn_at_ms = mono + 60000;
        log_error("STORE-SYNC", "cannot sync the store's WAL: %s (the last receipts are not "
                  "yet safe from a power failure; retried every second)", strerror(errno));
    }
}

int daemon_run(daemon_t *d)
{
    while (!s_stop) {
        if (s_hup) {
            s_hup = 0;
            log_info("SIGHUP", "reloading partners");
            daemon_reload(d);
        }
        size_t n = 3 + 2 * d->n_links;
        zmq_pollitem_t *items = calloc(n, sizeof *items);
        if (!items)
            return -1;
        items[0] = (zmq_pollitem_t){d->router, 0, ZMQ_POLLIN, 0};
        items[1] = (zmq_pollitem_t){d->zap, 0, ZMQ_POLLIN, 0};
        items[2] = (zmq_pollitem_t){d->ctl, 0, ZMQ_POLLIN, 0};
        /* A link without a connection (its partner's key unusable) has no
         * sockets: it takes the ZAP socket's place with no events asked. */
        for (size_t i = 0; i < d->n_links; i++) {
            void *dealer = link_dealer(d->links[i]), *mon = link_monitor(d->links[i]);
            items[3 + 2 * i] = (zmq_pollitem_t){dealer ? dealer : d->zap, 0,
                                                (short)(dealer ? ZMQ_POLLIN : 0), 0};
            items[4 + 2 * i] = (zmq_pollitem_t){mon ? mon : d->zap, 0,
                                                (short)(mon ? ZMQ_POLLIN : 0), 0};
        }
        int rc = zmq_poll(items, (int)n, 100);
        if (rc < 0 && zmq_errno() != EINTR) {
            log_error("POLL", "%s", zmq_strerror(zmq_errno()));
            free(items);
            return -1;
        }
        if (rc > 0) {
            if (items[1].revents & ZMQ_POLLIN)
                zap_on_request(d);
            if (items[0].revents & ZMQ_POLLIN)
                inbound_on_router(d);
            size_t links = d->n_links; /* a control "reload" may rebuild them */
            for (size_t i = 0; i < links && i < d->n_links; i++) {
                if (items[4 + 2 * i].revents & ZMQ_POLLIN)
                    link_on_monitor(d->links[i]);
                if (items[3 + 2 * i].revents & ZMQ_POLLIN)
                    link_on_dealer(d->links[i]);
            }
            if (items[2].revents & ZMQ_POLLIN)
                ctl_on_request(d);
        }
        free(items);
        s_between_rounds(d);
        uint64_t now = mono_ms();
        if (d->n_unlinked && now >= d->relink_at_ms)
            s_open_links(d);
        for (size_t i = 0; i < d->n_links; i++) {
            link_tick(d->links[i], now);
            link_pump(d->links[i]);
        }
    }
    log_info("STOPPING", "signal received; shutting down");
    return 0;
}

void daemon_fini(daemon_t *d)
{
    s_drop_links(d);
    if (d->router)
        zmq_close(d->router);
    if (d->ctl) {
        char path[PATH_MAX_MOUX + 32];
        zmq_close(d->ctl);
        node_path(d->cfg.dir, "control.sock", path, sizeof path);
        unlink(path);
    }
    if (d->zap)
        zmq_close(d->zap);
    if (d->zctx)
        zmq_ctx_term(d->zctx);
    keys_stop(d);
    walckpt_stop(&d->walckpt);
    store_destroy(&d->store);
    if (d->lock_fd >= 0)
        close(d->lock_fd);
}
