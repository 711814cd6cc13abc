/* powercut_apply: the power failure itself, after the daemon whose store
 * libmouxpowercut.so tracked was killed.
 *
 *   powercut_apply JOURNAL_DIR NODE_DIR
 *
 * Undoes each journal (powercut.h) newest record first, so that store.db
 * and store.db-wal hold what they held at their last sync. A torn last
 * record (the kill came while it was written) stands for a change never
 * made and is dropped. Removes the journals, the cut requests (asked for
 * and fired) and the store's -shm index, which SQLite rebuilds from the
 * WAL when it finds it missing. Prints one line: the writes and bytes undone per file. Exit 0
 * when done, 1 on an error (named), 2 on a usage error. */
#include "powercut.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int s_fail(const char *path, const char *what)
{
    fprintf(stderr, "powercut_apply: %s: %s%s%s\n", path, what, errno ? ": " : "",
            errno ? strerror(errno) : "");
    return -1;
}

/* Reads a whole journal. 0 with *buf NULL when there is none. */
static int s_slurp(const char *path, unsigned char **buf, size_t *len)
{
    *buf = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return errno == ENOENT ? 0 : s_fail(path, "cannot open");
    struct stat st;
    int rc = fstat(fileno(f), &st) == 0 ? 0 : s_fail(path, "cannot stat");
    if (rc == 0 && st.st_size > 0) {
        *buf = malloc((size_t)st.st_size);
        if (!*buf || fread(*buf, 1, (size_t)st.st_size, f) != (size_t)st.st_size)
            rc = s_fail(path, "cannot read");
        else
            *len = (size_t)st.st_size;
    }
    fclose(f);
    return rc;
}

/* Undoes one file's journal; counts what it undid and a torn tail. */
static int s_undo(const char *journal, const char *target, size_t *writes, size_t *bytes,
                  int *torn)
{
    unsigned char *j = NULL;
    size_t len = 0, n = 0, off = 0;
    *writes = *bytes = 0;
    *torn = 0;
    if (s_slurp(journal, &j, &len) != 0)
        return -1;
    if (!j)
        return 0; /* nothing written since the last sync */
    /* Index the records first: they can only be undone from the newest. */
    size_t *at = malloc((len / sizeof(powercut_rec_t) + 1) * sizeof *at);
    if (!at) {
        free(j);
        return s_fail(journal, "out of memory");
    }
    while (off < len) {
        powercut_rec_t r;
        if (len - off < sizeof r) {
            *torn = 1; /* the last record, cut short: its change was never made */
            break;
        }
        memcpy(&r, j + off, sizeof r);
        if (r.magic != POWERCUT_MAGIC) {
            errno = 0;
            free(at);
            free(j);
            return s_fail(journal, "a record without its magic number");
        }
        if (r.len > len - off - sizeof r) {
            *torn = 1;
            break;
        }
        at[n++] = off;
        off += sizeof r + r.len;
    }
    int rc = 0, fd = open(target, O_RDWR);
    if (fd < 0)
        rc = s_fail(target, "cannot open");
    for (size_t i = n; rc == 0 && i-- > 0;) {
        powercut_rec_t r;
        memcpy(&r, j + at[i], sizeof r);
        const unsigned char *old = j + at[i] + sizeof r;
        if (ftruncate(fd, (off_t)r.old_size) != 0 ||
            (r.len && pwrite(fd, old, r.len, (off_t)r.off) != (ssize_t)r.len))
            rc = s_fail(target, "cannot undo a write");
        *bytes += r.len;
    }
    *writes = n;
    if (fd >= 0 && (fsync(fd) != 0 || close(fd) != 0) && rc == 0)
        rc = s_fail(target, "cannot sync");
    free(at);
    free(j);
    return rc;
}

static int s_remove(const char *dir, const char *prefix, const char *name, const char *suffix)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s%s%s", dir, prefix, name, suffix);
    return unlink(path) == 0 || errno == ENOENT ? 0 : s_fail(path, "cannot remove");
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: powercut_apply JOURNAL_DIR NODE_DIR\n");
        return 2;
    }
    char journal[4096], target[4096], line[1024];
    size_t used = 0;
    for (int i = 0; i < POWERCUT_NFILES; i++) {
        size_t writes = 0, bytes = 0;
        int torn = 0;
        snprintf(journal, sizeof journal, "%s/%s.undo", argv[1], powercut_files[i]);
        snprintf(target, sizeof target, "%s/%s", argv[2], powercut_files[i]);
        if (s_undo(journal, target, &writes, &bytes, &torn) != 0 ||
            s_remove(argv[1], "", powercut_files[i], ".undo") != 0 ||
            s_remove(argv[1], "cut.", powercut_files[i], "") != 0 ||
            s_remove(argv[1], "fired.", powercut_files[i], "") != 0)
            return 1;
        used += (size_t)snprintf(line + used, sizeof line - used, " %s %zu writes (%zu bytes)%s undone;",
                                 powercut_files[i], writes, bytes,
                                 torn ? " and a torn record" : "");
    }
    if (s_remove(argv[2], "", "store.db", "-shm") != 0)
        return 1;
    printf("power cut:%s index removed\n", line);
    return 0;
}
