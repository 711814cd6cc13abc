/* The MOU with one partner as its link enforces it: loaded from the store
 * when the link is built, compared with what the partner announces (both
 * nodes must hold the same MOU hash, or nothing flows), the daily volume,
 * the decision counts, and termination notices in both directions. */
#include "daemon.h"
#include "log.h"
#include "mounotice.h"
#include "pbpack.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DAY_MS 86400000u

static void s_hex8(const unsigned char *h, char out[17])
{
    for (int i = 0; i < 8; i++)
        snprintf(out + 2 * i, 3, "%02x", h[i]);
}

int agreement_load(agreement_t *a, daemon_t *d, const char *peer)
{
    agreement_fini(a);
    store_mou_t row;
    int found = store_mou_active(d->store, peer, &row);
    if (found < 0)
        return -1;
    if (found) {
        char err[512];
        if (mou_parse(row.text, row.text_len, row.id, &a->mou, err, sizeof err) != 0)
            log_error("MOU-UNREADABLE", "partner %s: stored MOU %s: %s", peer, row.id, err);
        store_mou_free(&row);
    }
    if (!a->mou && store_mou_last_notice(d->store, peer, &row) == 1) {
        snprintf(a->ended, sizeof a->ended, "MOU %s terminated by %s: %s", row.id, row.ended_by,
                 row.end_reason[0] ? row.end_reason : "(no reason given)");
        a->notice = row.notice; /* passed on until the partner holds it too */
        a->notice_len = row.notice_len;
        row.notice = NULL;
        store_mou_free(&row);
    }
    return 0;
}

void agreement_fini(agreement_t *a)
{
    mou_destroy(&a->mou);
    free(a->notice);
    memset(a, 0, sizeof *a);
}

const unsigned char *agreement_hash(const agreement_t *a)
{
    return a->mou ? mou_hash_bytes(a->mou) : NULL;
}

const char *agreement_blocked(const agreement_t *a, uint64_t now, char *buf, size_t cap)
{
    char why[160], ours[17], theirs[17];
    if (!a->mou) {
        snprintf(buf, cap, "no MOU with this partner%s%s", a->ended[0] ? ": " : "", a->ended);
        return buf;
    }
    if (!mou_valid_at(a->mou, now, why, sizeof why)) {
        snprintf(buf, cap, "MOU %s is %s", mou_id(a->mou), why);
        return buf;
    }
    if (!a->peer_heard) {
        snprintf(buf, cap, "waiting for the partner to announce its MOU");
        return buf;
    }
    s_hex8(mou_hash_bytes(a->mou), ours);
    if (!a->peer_has) {
        snprintf(buf, cap, "mou-mismatch: we hold MOU %s (hash %s...), the partner holds none",
                 mou_id(a->mou), ours);
        return buf;
    }
    if (sodium_memcmp(a->peer_hash, mou_hash_bytes(a->mou), MOU_HASH_BYTES) != 0) {
        s_hex8(a->peer_hash, theirs);
        snprintf(buf, cap, "mou-mismatch: we hold MOU %s (hash %s...), the partner another "
                 "(hash %s...)", mou_id(a->mou), ours, theirs);
        return buf;
    }
    return NULL;
}

void agreement_heard(agreement_t *a, const ProtobufCBinaryData *hash, const char *peer)
{
    int has = hash->len == MOU_HASH_BYTES;
    int changed = !a->peer_heard || has != a->peer_has ||
                  (has && memcmp(a->peer_hash, hash->data, MOU_HASH_BYTES) != 0);
    a->peer_heard = 1;
    a->peer_has = has;
    if (has)
        memcpy(a->peer_hash, hash->data, MOU_HASH_BYTES);
    char why[256];
    if (changed && agreement_blocked(a, now_ms(), why, sizeof why))
        log_warn("MOU-BLOCKED", "partner %s: nothing flows: %s", peer, why);
    else if (changed)
        log_info("MOU-AGREED", "partner %s holds the same MOU %s", peer, mou_id(a->mou));
}

static const mou_dir_t *s_out_dir(const agreement_t *a, daemon_t *d)
{
    return a->mou ? mou_direction(a->mou, d->cfg.agency, mou_peer_of(a->mou, d->cfg.agency))
                  : NULL;
}

uint64_t agreement_quota(agreement_t *a, daemon_t *d, uint64_t now)
{
    const mou_dir_t *dir = s_out_dir(a, d);
    if (!dir || !dir->daily_limit)
        return UINT64_MAX;
    uint64_t day = now / DAY_MS;
    if (day != a->day) { /* a new day, or the first look: what the store counted */
        uint64_t sent = 0;
        if (store_mou_daily_get(d->store, mou_hash_bytes(a->mou), "out", day, &sent)) {
            if (!a->count_unread) /* once, not at every look */
                log_error("STORE-FAILED", "MOU %s: cannot read today's count of items sent; "
                          "nothing is sent until it can be read: %s", mou_id(a->mou),
                          store_errmsg(d->store));
            a->count_unread = 1;
            return 0; /* unknown: nothing goes, and the next look reads again */
        }
        a->count_unread = 0;
        a->day = day;
        a->sent_today = sent;
    }
    return a->sent_today >= dir->daily_limit ? 0 : dir->daily_limit - a->sent_today;
}

void agreement_sent(agreement_t *a, daemon_t *d, uint64_t n, uint64_t now)
{
    const mou_dir_t *dir = s_out_dir(a, d);
    if (!dir || !dir->daily_limit)
        return;
    a->sent_today += n;
    if (store_mou_daily_add(d->store, mou_hash_bytes(a->mou), "out", now / DAY_MS, n) != 0)
        log_error("STORE-FAILED", "MOU %s: cannot count items sent: %s", mou_id(a->mou),
                  store_errmsg(d->store));
}

void agreement_count(agreement_t *a, const char *dir, const char *outcome)
{
    for (size_t i = 0; i < a->n_tally; i++)
        if (a->tally[i].dir == dir && strcmp(a->tally[i].outcome, outcome) == 0) {
            a->tally[i].n++;
            return;
        }
    if (a->n_tally < TALLY_MAX)
        a->tally[a->n_tally++] = (tally_t){dir, outcome, 1};
}

int agreement_flush(agreement_t *a, store_t *st)
{
    int rc = 0;
    for (size_t i = 0; a->mou && i < a->n_tally && rc == 0; i++)
        rc = store_mou_count_add(st, mou_hash_bytes(a->mou), a->tally[i].dir,
                                 a->tally[i].outcome, a->tally[i].n);
    a->n_tally = 0;
    return rc;
}

const char *agreement_take_notice(daemon_t *d, link_t *link, const Moux__MouNotice *mn)
{
    const partner_t *p = link_partner(link);
    size_t len = 0;
    uint8_t *raw = pb_pack(&mn->base, &len);
    if (!raw || len > MOU_NOTICE_MAX_BYTES) {
        free(raw);
        return "malformed notice";
    }
    mou_notice_t n;
    const char *why = NULL;
    store_mou_t row = {0};
    int found = 0;
    if (mou_notice_parse(raw, len, &n, &why) != 0)
        goto out;
    if (strcmp(n.agency, d->cfg.agency) == 0)
        goto out; /* our own notice coming back: we hold it */
    if (strcmp(n.agency, p->agency) != 0) {
        why = "notice names a third agency";
        goto out;
    }
    if (mou_notice_verify(raw, len, p->root_pk, &n, &why) != 0)
        goto out;
    if ((found = store_mou_by_hash(d->store, n.mou_hash, &row)) <= 0) {
        why = found < 0 ? "store failure" : NULL; /* an MOU we never held: nothing to end */
        goto out;
    }
    if (strcmp(row.peer, p->agency) != 0) {
        why = "notice names an MOU with another agency";
        goto out;
    }
    int rc = store_mou_terminate(d->store, n.mou_hash, n.agency, n.reason, n.effective_ms, raw,
                                 len);
    if (rc < 0) {
        why = "store failure";
        goto out;
    }
    if (rc == 0) {
        log_warn("MOU-TERMINATED", "partner %s terminated MOU %s: %s; nothing flows under it",
                 p->agency, n.mou_id, n.reason[0] ? n.reason : "(no reason given)");
        store_event(d->store, "mou-terminated", p->agency, NULL, n.reason, n.mou_id);
        agreement_load(link_agreement(link), d, p->agency);
    }
out:
    store_mou_free(&row);
    free(raw);
    return why;
}
