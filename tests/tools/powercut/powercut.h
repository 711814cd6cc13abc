/* The undo journal shared by the power-cut shim (powercut_shim.c, preloaded
 * into a daemon) and the tool that applies it (powercut_apply.c).
 *
 * For each tracked file, JOURNAL_DIR/<file name>.undo holds one record per
 * change the file took since its last fsync/fdatasync, oldest first: what
 * the change replaced. Undoing the records newest first leaves the file as
 * the disk held it at the last sync. Test-only, host byte order. */
#ifndef MOUX_POWERCUT_H
#define MOUX_POWERCUT_H

#include <stdint.h>

#define POWERCUT_MAGIC 0x6d756e64u /* "mund" */

/* Followed by `len` bytes: the file's old content at [off, off + len). The
 * undo: truncate (or extend) the file to `old_size`, then write the bytes
 * back at `off`. A write that extended the file has len < its own length;
 * a truncation records the tail it cut (off = the new size). A record is
 * written whole before its change is made, so a torn last record (the
 * process killed while writing it) stands for a change never made. */
typedef struct {
    uint32_t magic;
    uint32_t pad;
    uint64_t off;
    uint64_t len;
    uint64_t old_size;
} powercut_rec_t;

/* The files of a node's store whose loss matters: the database and its WAL
 * (SQLite rebuilds the -shm index from the WAL). */
static const char *const powercut_files[] = {"store.db", "store.db-wal"};
#define POWERCUT_NFILES ((int)(sizeof powercut_files / sizeof powercut_files[0]))

#endif
