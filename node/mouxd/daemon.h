/* mouxd internals: the daemon object and its parts. One thread, one
 * zmq_poll loop: the partners' ROUTER, the ZAP handler, the control socket,
 * and one DEALER (plus its monitor) per partner. */
#ifndef MOUXD_DAEMON_H
#define MOUXD_DAEMON_H

#include "config.h"
#include "nodekeys.h"
#include "store.h"

#include <stdint.h>

typedef struct link link_t;

typedef struct {
    config_t cfg;
    nodekeys_t *keys;
    store_t *store;
    void *zctx;
    void *router;     /* CURVE server for all partners */
    void *zap;        /* ZAP handler (REP at inproc://zeromq.zap.01) */
    void *ctl;        /* control socket (REP at ipc://DIR/control.sock) */
    link_t **links;
    size_t n_links;
    partner_t *unlinked;      /* partners whose link failed to open: retried */
    size_t n_unlinked;
    uint64_t relink_at_ms;
    int lock_fd;
    uint64_t started_ms;
} daemon_t;

int daemon_init(daemon_t *d, const char *dir, char *err, size_t errlen);
int daemon_run(daemon_t *d);
void daemon_fini(daemon_t *d);
/* Re-reads partners from the store and rebuilds the links. */
int daemon_reload(daemon_t *d);
link_t *daemon_link_by_agency(daemon_t *d, const char *agency);

/* zmq_setsockopt for an int option; 0 on success. */
int zsock_set_int(void *sock, int option, int value);
/* The options every partner-facing socket carries: maximum message size,
 * ZMTP heartbeats (interval, timeout and TTL of three intervals), linger 0. */
int zsock_set_link_options(void *sock, const config_t *cfg);

/* ---- link.c: one partner ---- */
link_t *link_new(daemon_t *d, const partner_t *p);
void link_destroy(link_t **self_p);
const partner_t *link_partner(const link_t *self);
void *link_dealer(link_t *self);
void *link_monitor(link_t *self);
const unsigned char *link_rx_key(const link_t *self);
int link_is_up(const link_t *self);
uint64_t link_last_receipt(const link_t *self);
uint64_t link_refused_in(const link_t *self); /* batches/frames we refused */
void link_count_refusal(link_t *self);
void link_set_rx_high(link_t *self, uint64_t seq);
const char *link_last_error(const link_t *self);
void link_on_monitor(link_t *self);
void link_on_dealer(link_t *self);
/* Sends what the outbox holds, as far as the window allows. */
void link_pump(link_t *self);
/* Retransmission timers. */
void link_tick(link_t *self, uint64_t now);

/* ---- inbound.c: batches arriving on the ROUTER ---- */
void inbound_on_router(daemon_t *d);

/* ---- zap.c ---- */
int zap_start(daemon_t *d);
void zap_on_request(daemon_t *d);

/* ---- ctlserver.c ---- */
int ctl_start(daemon_t *d, char *err, size_t errlen);
void ctl_on_request(daemon_t *d);

/* ---- publishing (daemon.c) ---- */
typedef struct {
    Moux__Indicator ind;  /* type, value, pattern, tlp, confidence, valid_until_ms */
    const char *status;   /* out: "new", "updated", "unchanged", "refused" */
    const char *reason;   /* out, when refused */
    char id[IND_ID_LEN + 1]; /* out */
} publish_item_t;
int daemon_publish(daemon_t *d, publish_item_t *items, size_t n);

#endif
