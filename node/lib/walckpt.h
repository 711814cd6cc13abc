/* WAL checkpoints on a thread of their own.
 *
 * SQLite's automatic checkpoint runs inside whichever commit crosses
 * 1,000 WAL pages: that commit then also copies those pages into the
 * database file and syncs it, and the batch or receipt waiting on it waits
 * too. The daemon instead lets its commits only append to the WAL and hands
 * the copying to a thread with its own connection, which runs PASSIVE
 * checkpoints (they never block the daemon's writes) when the WAL has grown
 * by WALCKPT_PAGES. If that thread ever falls WALCKPT_INLINE_PAGES behind,
 * the committing thread checkpoints too, so the WAL cannot grow without
 * bound. Durability is unchanged: a commit is synced to the WAL
 * (synchronous = FULL) before it returns, except the sender's receipts
 * (store_begin_unsynced), which the daemon syncs within a second
 * (store_sync_wal). */
#ifndef MOUX_WALCKPT_H
#define MOUX_WALCKPT_H

#include "store.h"

#include <stddef.h>

#define WALCKPT_PAGES 1000         /* SQLite's own default */
#define WALCKPT_INLINE_PAGES 64000 /* 250 MiB of WAL at 4 KiB pages */

typedef struct walckpt walckpt_t;

/* Takes over the checkpoints of the store's connection until stopped.
 * NULL with err set if the thread or its connection cannot start (the
 * caller may go on with SQLite's automatic checkpoints). */
walckpt_t *walckpt_start(store_t *st, char *err, size_t errlen);
/* Stops the thread and gives the checkpoints back to the connection. */
void walckpt_stop(walckpt_t **self_p);
/* Checkpoints done by the thread, for status and tests. */
unsigned long walckpt_count(walckpt_t *self);

#endif
