/* powercut_apply: the power failure itself, after the daemon whose store
 * libmouxpowercut.so tracked was killed.
 *
 *   powercut_apply JOURNAL_DIR NODE_DIR
 *
 * Undoes each journal (powercut.h) newest record first, so that store.db
 * and store.db-wal hold what they held at their last sync; removes the
 * journals, the shim's .syncing flags and the store's -shm index (memory,
 * which a reboot loses).
 * Prints one line: the records and bytes undone per file. Exit 0 when
 * done, 1 on an error (named), 2 on a usage error. */
#include "powercut.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int s_fail(const char *what, const char *path)
{
    fprintf(stderr, "powercut_apply: %s: %s: %s\n", path, what, errno ? strerror(errno) : "");
    return -1;
}

/* Reads a whole journal; NULL with *len 0 when there is none. */
static unsigned char *s_slurp(const char *path, size_t *len)
{
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    struct stat st;
    unsigned char *buf = NULL;
    if (fstat(fileno(f), &st) == 0 && st.st_size > 0 && (buf = malloc((size_t)st.st_size)) &&
        fread(buf, 1, (size_t)st.st_size, f) == (size_t)st.st_size)
        *len = (size_t)st.st_size;
    fclose(f);
    return buf;
}

/* Undoes one file's journal; counts what it undid. */
static int s_undo(const char *journal, const char *target, size_t *records, size_t *bytes)
{
    size_t len = 0, n = 0;
    unsigned char *j = s_slurp(journal, &len);
    *records = *bytes = 0;
    if (!j)
        return 0; /* nothing written since the last sync */
    /* Index the records first: they can only be undone from the newest. */
    size_t cap = len / sizeof(powercut_rec_t) + 1, *at = malloc(cap * sizeof *at);
    int rc = at ? 0 : s_fail("out of memory", journal);
    for (size_t off = 0; rc == 0 && off < len; n++) {
        powercut_rec_t r;
        if (len - off >= sizeof r)
            memcpy(&r, j + off, sizeof r);
        if (len - off < sizeof r || r.magic != POWERCUT_MAGIC || r.len > len - off - sizeof r) {
            errno = 0;
            rc = s_fail("bad record", journal);
            break;
        }
        at[n] = off;
        off += sizeof r + r.len;
    }
    int fd = rc == 0 ? open(target, O_RDWR) : -1;
    if (rc == 0 && fd < 0)
        rc = s_fail("cannot open", target);
    for (size_t i = n; rc == 0 && i-- > 0;) {
        powercut_rec_t r;
        memcpy(&r, j + at[i], sizeof r);
        if (ftruncate(fd, (off_t)r.old_size) != 0 ||
            (r.len && pwrite(fd, j + at[i] + sizeof r, r.len, (off_t)r.off) != (ssize_t)r.len))
            rc = s_fail("cannot undo a write", target);
        *bytes += r.len;
    }
    *records = n;
    if (fd >= 0 && (fsync(fd) != 0 || close(fd) != 0) && rc == 0)
        rc = s_fail("cannot sync", target);
    free(at);
    free(j);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: powercut_apply JOURNAL_DIR NODE_DIR\n");
        return 2;
    }
    char journal[4096], target[4096];
    printf("power cut:");
    for (int i = 0; i < POWERCUT_NFILES; i++) {
        size_t records = 0, bytes = 0;
        snprintf(journal, sizeof journal, "%s/%s.undo", argv[1], powercut_files[i]);
        snprintf(target, sizeof target, "%s/%s", argv[2], powercut_files[i]);
        if (s_undo(journal, target, &records, &bytes) != 0)
            return 1;
        if (unlink(journal) != 0 && errno != ENOENT) {
            s_fail("cannot remove", journal);
            return 1;
        }
        snprintf(journal, sizeof journal, "%s/%s.syncing", argv[1], powercut_files[i]);
        if (unlink(journal) != 0 && errno != ENOENT) {
            s_fail("cannot remove", journal);
            return 1;
        }
        printf(" %s %zu writes (%zu bytes) undone;", powercut_files[i], records, bytes);
    }
    snprintf(target, sizeof target, "%s/store.db-shm", argv[2]);
    if (unlink(target) != 0 && errno != ENOENT) {
        s_fail("cannot remove", target);
        return 1;
    }
    printf(" index removed\n");
    return 0;
}
