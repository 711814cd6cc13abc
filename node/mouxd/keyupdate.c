/* Certificates, rotation and revocation in the running node.
 *
 * Every new link starts with a KeyUpdate: our certificate and our agency's
 * latest revocation list, both root-signed. The partner checks them against
 * the root it pinned and answers with what it now holds.
 *
 * Rotation: `moux keys rotate` leaves a certified key set in DIR/next. The
 * node announces that certificate over the existing links (still speaking
 * with its current keys), and once every connected partner holds it (or
 * after rotation_ack_ms) installs it: the old set moves to
 * DIR/retired/<serial>/, the ROUTER reopens with the new transport key, and
 * each link speaks with the new keys as soon as its partner has them. The
 * old keys stay usable for rotation_overlap_seconds, then their secrets are
 * deleted; their public halves and certificates stay in the store.
 *
 * Revocation: a newer list from a partner marks the keys it covers; they are
 * refused from then on (ZAP, batches, receipts), and the ROUTER reopens so
 * no connection made with a revoked key survives. */
#include "pbpack.h"
#include "daemon.h"
#include "log.h"
#include "reason.h"
#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void s_path(const daemon_t *d, const char *rel, char *out, size_t cap)
{
    snprintf(out, cap, "%s/%s", d->cfg.dir, rel);
}

const identity_t *keys_announced(const daemon_t *d)
{
    return d->pending ? d->pending : d->id;
}

/* Our agency's revocation list, if the operator made one. */
/* Our own key events go into the audit log once each (a restart loads the
 * same certificate and list again). */
static void s_key_event(daemon_t *d, const char *kind, const char *detail)
{
    if (store_event_exists(d->store, kind, NULL, detail) == 0)
        store_event(d->store, kind, NULL, NULL, NULL, detail);
}

static void s_cert_event(daemon_t *d, const char *kind, const cert_t *c)
{
    char detail[160], until[32];
    format_time_ms(c->not_after_ms, until);
    snprintf(detail, sizeof detail, "serial %llu, valid until %s", (unsigned long long)c->serial,
             until);
    s_key_event(d, kind, detail);
}

static void s_load_own_revs(daemon_t *d)
{
    char path[PATH_MAX_MOUX + 64], err[512];
    s_path(d, "keys/revocations.list", path, sizeof path);
    uint8_t *raw = NULL;
    size_t len = 0;
    if (access(path, F_OK) != 0 || revlist_load(path, &raw, &len, err, sizeof err) != 0)
        return;
    revlist_t l;
    const char *why = NULL;
    if (revlist_verify(raw, len, d->id->root_pk, &l, &why) != 0) {
        log_error("REVOCATIONS-INVALID", "%s: %s; not announced", path, why);
        free(raw);
        return;
    }
    log_info("REVOCATIONS", "our revocation list %llu: %zu serial(s), %zu key(s)",
             (unsigned long long)l.number, l.n_serials, l.n_key_ids);
    char detail[96];
    snprintf(detail, sizeof detail, "list %llu: %zu serial(s), %zu key(s)",
             (unsigned long long)l.number, l.n_serials, l.n_key_ids);
    s_key_event(d, "keys-revoked", detail);
    revlist_free(&l);
    free(d->own_revs);
    d->own_revs = raw;
    d->own_revs_len = len;
}

/* DIR/next holds a certified key set that is not installed yet. */
static identity_t *s_load_next(daemon_t *d, char *err, size_t errlen)
{
    char base[PATH_MAX_MOUX + 16];
    s_path(d, "next", base, sizeof base);
    struct stat st;
    if (stat(base, &st) != 0)
        return NULL;
    identity_t *next = identity_load(base, &d->cfg, err, errlen);
    if (next && (memcmp(next->root_pk, d->id->root_pk, 32) != 0 ||
                 next->cert.serial <= d->id->cert.serial)) {
        snprintf(err, errlen, "%s: its certificate must come from our root with a serial above "
                              "%llu", base, (unsigned long long)d->id->cert.serial);
        identity_destroy(&next);
    }
    return next;
}

/* When the retired key set in directory SET (made at NS) was retired: on
 * record in the store for its certificate (the key files are as old as the
 * keys, and a copied node directory may not keep its directories' times);
 * without the record (a crash between the renames and the store's update),
 * the directory's time. -1 with err set if its certificate cannot be read. */
static int s_retired_at(const daemon_t *d, const char *set, uint64_t ns, cert_t *c,
                        uint64_t *retired, char *err, size_t errlen)
{
    if (identity_retired_cert(set, c, err, errlen) != 0)
        return -1;
    if (store_own_key_retired_ms(d->store, c->serial, c->sign_pk, retired) != 0 || *retired == 0)
        *retired = ns / 1000000u;
    return 0;
}

typedef struct {
    const daemon_t *d;
    char set[sizeof ((daemon_t *)0)->prev_dir];
    cert_t cert;
    uint64_t retired_ms;
    int found;
} s_prev_pick_t;

static void s_pick_prev(const char *set, uint64_t ns, void *arg)
{
    s_prev_pick_t *p = arg;
    char err[PATH_MAX_MOUX + 512];
    cert_t c;
    uint64_t retired = 0;
    if (s_retired_at(p->d, set, ns, &c, &retired, err, sizeof err) != 0)
        return; /* s_sweep_stale names it */
    /* Ties (copies of one set): the higher serial, then the name, so that
     * the choice does not depend on the order of the directory. */
    int later = !p->found || retired > p->retired_ms ||
                (retired == p->retired_ms &&
                 (c.serial > p->cert.serial ||
                  (c.serial == p->cert.serial && strcmp(set, p->set) > 0)));
    if (later) {
        p->found = 1;
        p->retired_ms = retired;
        p->cert = c;
        str_copy(p->set, sizeof p->set, set);
    }
}

/* The most recently retired key set whose secrets are still on disk, if its
 * overlap is not over: partners that missed the rotation still know it. The
 * overlap runs from its retirement. A set that cannot be loaded still has
 * its secrets deleted when that overlap ends (keys_tick). */
static void s_load_prev(daemon_t *d)
{
    char err[512];
    s_prev_pick_t pick = {.d = d};
    identity_retired_each(d->cfg.dir, 0, s_pick_prev, &pick);
    if (!pick.found)
        return;
    str_copy(d->prev_dir, sizeof d->prev_dir, pick.set);
    d->prev_serial = pick.cert.serial;
    d->prev_until_ms = pick.retired_ms + (uint64_t)d->cfg.rotation_overlap_seconds * 1000u;
    /* A retirement found only by its directory's time (a crash before the
     * store recorded it) is recorded now, so that a later copy of the node
     * directory, which may not keep the times, does not move it. */
    if (memcmp(pick.cert.sign_pk, d->id->cert.sign_pk, 32) != 0)
        store_own_key_retire(d->store, pick.cert.serial, pick.cert.sign_pk, pick.retired_ms);
    d->prev = identity_load(d->prev_dir, &d->cfg, err, sizeof err);
    if (!d->prev)
        log_warn("KEYS-PREVIOUS", "%s; its secret keys are deleted when its overlap ends", err);
}

/* Another retired set that still holds secret keys (a crash between a
 * rotation and the end of its overlap, or retired/<serial>.<n> of a version
 * before 2026-11-22, which never wiped those): its secrets go once its own
 * overlap is over. The previous set in use is left to keys_tick. */
static void s_sweep_stale(const char *set, uint64_t ns, void *arg)
{
    daemon_t *d = arg;
    char err[PATH_MAX_MOUX + 512];
    cert_t c;
    uint64_t retired = 0, now = now_ms();
    if (d->prev_dir[0] && strcmp(set, d->prev_dir) == 0)
        return;
    if (s_retired_at(d, set, ns, &c, &retired, err, sizeof err) != 0) {
        log_warn("KEYS-STALE", "%s holds secret keys but its certificate cannot be read (%s); "
                 "left as it is", set, err);
        return;
    }
    if (retired + (uint64_t)d->cfg.rotation_overlap_seconds * 1000u > now)
        return; /* its overlap is still on: the next start looks again */
    if (identity_wipe_secrets(set, err, sizeof err) != 0)
        log_error("KEYS-WIPE", "%s", err);
    else
        log_warn("KEYS-STALE", "%s: retired key set (serial %llu) past its overlap still held "
                 "secret keys; deleted", set, (unsigned long long)c.serial);
}

int keys_start(daemon_t *d, char *err, size_t errlen)
{
    char keys[PATH_MAX_MOUX + 16], next[PATH_MAX_MOUX + 16];
    s_path(d, "keys", keys, sizeof keys);
    s_path(d, "next/keys", next, sizeof next);
    struct stat st;
    /* A crash between the two renames of an installation: finish it. */
    if (stat(keys, &st) != 0 && stat(next, &st) == 0 && rename(next, keys) == 0)
        log_warn("KEYS-RECOVERED", "finished installing the rotated keys from %s", next);
    d->id = identity_load(d->cfg.dir, &d->cfg, err, errlen);
    if (!d->id)
        return -1;
    d->keys = d->id->keys;
    const char *why = NULL;
    if (cert_check_time(&d->id->cert, now_ms(), &why) != 0)
        log_error("CERT-INVALID", "our certificate (serial %llu): %s; nothing will be sent until "
                  "it is renewed (moux keys certify)", (unsigned long long)d->id->cert.serial, why);
    if (store_own_key_put(d->store, &d->id->cert, d->id->cert_raw, d->id->cert_len) != 0 ||
        store_own_key_first_serial(d->store, d->keys->sign_pk, &d->keys_since_serial) != 0) {
        log_warn("STORE-FAILED", "cannot record our key: %s", store_errmsg(d->store));
        d->keys_since_serial = d->id->cert.serial;
    }
    s_cert_event(d, "key-certified", &d->id->cert);
    s_load_own_revs(d);
    s_load_prev(d);
    identity_retired_each(d->cfg.dir, 1, s_sweep_stale, d);
    char nerr[512] = "";
    d->pending = s_load_next(d, nerr, sizeof nerr);
    if (nerr[0])
        log_error("KEYS-NEXT", "%s", nerr);
    if (d->pending)
        d->pending_deadline_ms = mono_ms() + (uint64_t)d->cfg.rotation_ack_ms;
    return 0;
}

void keys_stop(daemon_t *d)
{
    identity_destroy(&d->id);
    identity_destroy(&d->prev);
    identity_destroy(&d->pending);
    d->keys = NULL;
    free(d->own_revs);
    d->own_revs = NULL;
}

static void s_announce_all(daemon_t *d)
{
    for (size_t i = 0; i < d->n_links; i++)
        if (link_is_up(d->links[i]))
            link_send_key_update(d->links[i]);
}

/* moux keys certify renewed our certificate (same keys, higher serial):
 * take it and announce it. */
static void s_take_renewal(daemon_t *d)
{
    char err[512];
    identity_t *fresh = identity_load(d->cfg.dir, &d->cfg, err, sizeof err);
    if (!fresh || fresh->cert.serial <= d->id->cert.serial ||
        memcmp(fresh->cert.sign_pk, d->id->cert.sign_pk, 32) != 0) {
        identity_destroy(&fresh);
        return;
    }
    store_own_key_put(d->store, &fresh->cert, fresh->cert_raw, fresh->cert_len);
    s_cert_event(d, "key-certified", &fresh->cert);
    log_info("CERT-RENEWED", "certificate serial %llu replaces serial %llu",
             (unsigned long long)fresh->cert.serial, (unsigned long long)d->id->cert.serial);
    identity_t *old = d->id;
    d->id = fresh;
    d->keys = fresh->keys;
    daemon_reload(d); /* links point at the identity: rebuild before freeing it */
    identity_destroy(&old);
}

int keys_reload(daemon_t *d, char *err, size_t errlen)
{
    s_load_own_revs(d);
    s_take_renewal(d);
    if (!d->pending) {
        err[0] = '\0';
        d->pending = s_load_next(d, err, errlen);
        if (!d->pending && err[0])
            return -1;
        if (d->pending) {
            d->pending_deadline_ms = mono_ms() + (uint64_t)d->cfg.rotation_ack_ms;
            log_info("KEYS-ROTATING", "announcing certificate serial %llu to partners",
                     (unsigned long long)d->pending->cert.serial);
        }
    }
    s_announce_all(d);
    return 0;
}

/* Every connected partner holds the pending certificate. */
static int s_all_acked(const daemon_t *d)
{
    for (size_t i = 0; i < d->n_links; i++)
        if (link_is_up(d->links[i]) &&
            link_partner(d->links[i])->acked_serial < d->pending->cert.serial)
            return 0;
    return 1;
}

/* DIR/keys -> DIR/retired/<serial>/keys, DIR/next/keys -> DIR/keys. A
 * crash between the two renames is finished by keys_start. */
static int s_install_on_disk(daemon_t *d, uint64_t old_serial, char *moved_to, size_t moved_len)
{
    char keys[PATH_MAX_MOUX + 16], next[PATH_MAX_MOUX + 16], nextdir[PATH_MAX_MOUX + 16];
    char retired[PATH_MAX_MOUX + 64], old[PATH_MAX_MOUX + 80];
    s_path(d, "keys", keys, sizeof keys);
    s_path(d, "next", nextdir, sizeof nextdir);
    s_path(d, "next/keys", next, sizeof next);
    s_path(d, "retired", retired, sizeof retired);
    if (mkdir(retired, 0700) != 0 && errno != EEXIST)
        return -1;
    /* retired/<serial>, or retired/<serial>.<n> if an earlier key set (under
     * an earlier root, say) already used that serial. */
    snprintf(old, sizeof old, "%s/%llu", retired, (unsigned long long)old_serial);
    for (int n = 1; mkdir(old, 0700) != 0; n++) {
        if (errno != EEXIST || n > 100)
            return -1;
        snprintf(old, sizeof old, "%s/%llu.%d", retired, (unsigned long long)old_serial, n);
    }
    str_copy(moved_to, moved_len, old);
    strncat(old, "/keys", sizeof old - strlen(old) - 1);
    if (rename(keys, old) != 0 || rename(next, keys) != 0)
        return -1;
    rmdir(nextdir);
    /* Our revocation list stays with the current keys. */
    char from[PATH_MAX_MOUX + 128], to[PATH_MAX_MOUX + 64], err[256];
    snprintf(from, sizeof from, "%s/revocations.list", old);
    s_path(d, "keys/revocations.list", to, sizeof to);
    uint8_t *raw = NULL;
    size_t len = 0;
    if (access(to, F_OK) != 0 && revlist_load(from, &raw, &len, err, sizeof err) == 0)
        revlist_save(to, raw, len, err, sizeof err);
    free(raw);
    return 0;
}

/* Deletes the secret halves of the previous key set. */
static void s_wipe_secrets(const daemon_t *d)
{
    char err[sizeof d->prev_dir + 512];
    if (identity_wipe_secrets(d->prev_dir, err, sizeof err) != 0)
        log_error("KEYS-WIPE", "%s", err);
}

static void s_install(daemon_t *d)
{
    identity_t *old = d->id;
    char moved[sizeof d->prev_dir];
    if (s_install_on_disk(d, old->cert.serial, moved, sizeof moved) != 0) {
        log_error("KEYS-INSTALL", "cannot install the rotated keys: %s; still using serial %llu",
                  strerror(errno), (unsigned long long)old->cert.serial);
        identity_destroy(&d->pending);
        return;
    }
    if (d->prev_dir[0]) {
        s_wipe_secrets(d);
        identity_destroy(&d->prev);
    }
    store_own_key_put(d->store, &d->pending->cert, d->pending->cert_raw, d->pending->cert_len);
    store_own_key_retire(d->store, old->cert.serial, old->cert.sign_pk, now_ms());
    d->prev = old;
    d->prev_serial = old->cert.serial;
    str_copy(d->prev_dir, sizeof d->prev_dir, moved);
    d->prev_until_ms = now_ms() + (uint64_t)d->cfg.rotation_overlap_seconds * 1000u;
    d->id = d->pending;
    d->keys = d->id->keys;
    d->keys_since_serial = d->id->cert.serial;
    d->pending = NULL;
    log_info("KEYS-ROTATED", "now using certificate serial %llu; serial %llu stays valid for "
             "partners that have not caught up until the overlap ends",
             (unsigned long long)d->id->cert.serial, (unsigned long long)old->cert.serial);
    s_cert_event(d, "key-rotated", &d->id->cert);
    if (daemon_router_restart(d) != 0)
        log_error("KEYS-INSTALL", "cannot reopen the ROUTER with the new transport key");
    daemon_reload(d);
}

void keys_tick(daemon_t *d)
{
    if (d->pending && (s_all_acked(d) || mono_ms() >= d->pending_deadline_ms))
        s_install(d);
    if (d->prev_dir[0] && now_ms() >= d->prev_until_ms) {
        log_info("KEYS-OVERLAP-END", "certificate serial %llu is retired; its secret keys are "
                 "deleted", (unsigned long long)d->prev_serial);
        s_wipe_secrets(d);
        d->prev_dir[0] = '\0';
        if (d->prev) { /* links may speak with it */
            identity_destroy(&d->prev);
            daemon_reload(d);
        }
    }
}

/* ---- a partner's KeyUpdate ---- */

/* 1 if the partner's latest revocation list (as stored) covers this
 * certificate serial or signing key. */
static int s_revoked(daemon_t *d, const partner_t *p, uint64_t serial, const unsigned char *sign_pk)
{
    uint8_t *raw = NULL;
    size_t len = 0;
    revlist_t l;
    const char *why = NULL;
    unsigned char kid[KEYID_BYTES];
    int covered = 0;
    keyid_of(sign_pk, 32, kid);
    if (store_partner_rev_list(d->store, p->pid, &raw, &len) == 0 && raw &&
        revlist_verify(raw, len, p->root_pk, &l, &why) == 0) {
        covered = revlist_covers(&l, serial, kid);
        revlist_free(&l);
    }
    free(raw);
    return covered;
}

/* A partner's revocation list: NULL, or the reason it was refused. *number
 * is the list number we hold afterwards. */
static const char *s_take_revs(daemon_t *d, link_t *link, const Moux__RevocationList *msg,
                               uint64_t *number)
{
    const partner_t *p = link_partner(link);
    size_t len = 0;
    uint8_t *raw = pb_pack(&msg->base, &len); /* its signed body bytes are kept */
    revlist_t l;
    const char *why = NULL;
    if (!raw || revlist_verify(raw, len, p->root_pk, &l, &why) != 0) {
        free(raw);
        return why ? why : "malformed-revocation-list";
    }
    if (strcmp(l.agency, p->agency) != 0)
        why = "revocation-list-agency-mismatch";
    else if (l.number < p->rev_number)
        why = "revocation-list-older"; /* a replay of an older list over a newer one */
    else if (l.number > p->rev_number) {
        if (store_partner_revocations(d->store, p->pid, &l, raw, len) != 0 ||
            link_refresh(link) != 0)
            why = REASON_STORE_FAILED;
        else {
            *number = l.number;
            log_warn("REVOCATION-RECEIVED", "partner %s: revocation list %llu: %zu serial(s), "
                     "%zu key(s) revoked; connections are re-admitted through ZAP", p->agency,
                     (unsigned long long)l.number, l.n_serials, l.n_key_ids);
            store_event(d->store, "revocation-received", p->agency, NULL, NULL, NULL);
            d->want_router_restart = 1;
            link_set_rebuild(link);
        }
    }
    revlist_free(&l);
    free(raw);
    return why;
}

/* A partner's certificate: NULL, or the reason it was refused. *serial is
 * the serial we hold afterwards. */
static const char *s_take_cert(daemon_t *d, link_t *link, const Moux__NodeCert *msg,
                               uint64_t *serial)
{
    const partner_t *p = link_partner(link);
    size_t len = 0;
    uint8_t *raw = pb_pack(&msg->base, &len); /* its signed body bytes are kept */
    cert_t c;
    const char *why = NULL;
    if (!raw || cert_verify(raw, len, p->root_pk, &c, &why) != 0)
        why = why ? why : "malformed-certificate";
    else if (strcmp(c.agency, p->agency) != 0)
        why = "certificate-agency-mismatch";
    else if (cert_check_time(&c, now_ms(), &why) != 0)
        ;
    else if (s_revoked(d, p, c.serial, c.sign_pk))
        why = "revoked-certificate";
    else if (c.serial > p->cert_serial) {
        uint64_t overlap = (uint64_t)d->cfg.rotation_overlap_seconds * 1000u;
        /* Refreshed at once: frames read before the rebuild may already be
         * under the new certificate (a renewal's first batch, say). */
        if (store_partner_key_add(d->store, p->pid, &c, raw, len, overlap) != 0 ||
            link_refresh(link) != 0)
            why = REASON_STORE_FAILED;
        else {
            *serial = c.serial;
            log_info("PARTNER-ROTATED", "partner %s: certificate serial %llu accepted; serial "
                     "%llu stays valid during the overlap", p->agency,
                     (unsigned long long)c.serial, (unsigned long long)p->cert_serial);
            store_event(d->store, "partner-key-rotated", p->agency, NULL, NULL, NULL);
            link_set_rebuild(link); /* new transport and encryption keys */
        }
    }
    free(raw);
    return why;
}

void keys_on_update(daemon_t *d, link_t *link, const Moux__KeyUpdate *ku, Moux__KeyUpdateAck *ack)
{
    const partner_t *p = link_partner(link);
    const char *why = NULL;
    uint64_t serial = p->cert_serial, number = p->rev_number;
    /* The list first: a certificate it revokes must not get in. A refused
     * list does not stop the certificate, which is checked against the
     * newest list we hold either way. */
    const char *why_revs = ku->revocations ? s_take_revs(d, link, ku->revocations, &number) : NULL;
    const char *why_cert = ku->cert ? s_take_cert(d, link, ku->cert, &serial) : NULL;
    why = why_revs ? why_revs : why_cert;
    if (why) {
        log_warn("KEYS-REFUSED", "partner %s: key update refused: %s", p->agency, why);
        store_event(d->store, "key-update-refused", p->agency, NULL, why, NULL);
        ack->refused = (char *)why;
    }
    ack->serial = serial;
    ack->revocation_number = number;
}
