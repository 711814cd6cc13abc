#include "retention.h"
#include "log.h"
#include "mou.h"

#include <stdio.h>
#include <stdlib.h>

#define DAY_MS 86400000ull

/* One MOU: the items its peer sent us, held past its retention. */
static int s_purge_one(store_t *st, const store_mou_t *row, const char *self, uint64_t now,
                       uint64_t *total)
{
    mou_t *m = NULL;
    char err[512];
    if (mou_parse(row->text, row->text_len, row->id, &m, err, sizeof err) != 0) {
        log_error("RETENTION", "stored MOU %s unreadable: %s", row->id, err);
        return 0; /* its items stay: never purge by a rule we cannot read */
    }
    const mou_dir_t *d = mou_direction(m, row->peer, self);
    uint64_t n = 0, keep_ms = d ? d->retention_days * DAY_MS : 0;
    int rc = 0;
    if (d && now > keep_ms) {
        rc = store_purge_received(st, row->hash, row->id, now - keep_ms, &n);
        if (rc == 0 && n) {
            char detail[256];
            snprintf(detail, sizeof detail, "mou=%s retention-days=%u purged=%llu", row->id,
                     (unsigned)d->retention_days, (unsigned long long)n);
            rc = store_event(st, "retention-purge", row->peer, NULL, "retention-days", detail);
            log_info("RETENTION-PURGE", "MOU %s (%s): %llu item(s) held past %u day(s) deleted",
                     row->id, row->peer, (unsigned long long)n, (unsigned)d->retention_days);
        }
    }
    *total += n;
    mou_destroy(&m);
    return rc;
}

int retention_purge(store_t *st, const char *self_agency, uint64_t now, uint64_t *total,
                    char *err, size_t errlen)
{
    store_mou_t *rows = NULL;
    size_t n = 0;
    *total = 0;
    int rc = store_begin(st);
    if (rc == 0)
        rc = store_mou_list(st, &rows, &n);
    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = s_purge_one(st, &rows[i], self_agency, now, total);
    if (rc == 0)
        rc = store_commit(st);
    if (rc != 0) {
        snprintf(err, errlen, "retention purge: %s", store_errmsg(st));
        store_rollback(st);
        *total = 0;
    } else if (*total && store_wal_truncate(st) != 0) {
        /* The purge stands; only the WAL's older page images outlive it. */
        log_warn("RETENTION-WAL", "purged values may stay in store.db-wal until it is written "
                 "over: the WAL could not be emptied: %s", store_errmsg(st));
    }
    for (size_t i = 0; i < n; i++)
        store_mou_free(&rows[i]);
    free(rows);
    return rc;
}
