/* The undo journal shared by the power-cut shim (powercut_shim.c, preloaded
 * into a daemon) and the tool that applies it (powercut_apply.c).
 *
 * For each tracked file, JOURNAL_DIR/<file name>.undo holds one record per
 * change the file took since its last fsync/fdatasync, oldest first: what
 * the change replaced. Undoing the records newest first leaves the file as
 * the disk held it at the last sync: what a power failure that lost every
 * unsynced write would leave. Test-only, host byte order. */
#ifndef MOUX_POWERCUT_H
#define MOUX_POWERCUT_H

#include <stdint.h>

#define POWERCUT_MAGIC 0x6d756e64u /* "mund" */

/* Followed by `len` bytes: the file's old content at [off, off + len). The
 * undo: truncate (or extend) the file to `old_size`, then write the bytes
 * back at `off`. A write that extended the file has len < its own length;
 * a truncation records the tail it cut (off = the new size). */
typedef struct {
    uint32_t magic;
    uint32_t pad;
    uint64_t off;
    uint64_t len;
    uint64_t old_size;
} powercut_rec_t;

/* The files of a node's store whose loss matters: the database and its WAL
 * (the -shm index is rebuilt from the WAL after a reboot). */
static const char *const powercut_files[] = {"store.db", "store.db-wal"};
#define POWERCUT_NFILES 2

#endif
