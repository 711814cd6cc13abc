/* libmouxpowercut.so: preloaded into a daemon (LD_PRELOAD) to let a test
 * cut its power. Before each write to a tracked file it records what the
 * write replaces in the file's undo journal (powercut.h); an fsync or
 * fdatasync of the file empties the journal, since the disk then holds
 * every change so far. After the daemon is killed, powercut_apply undoes
 * the journals: the store is left as a power failure that lost every
 * unsynced write would leave it.
 *
 *   MOUX_POWERCUT_NODE=DIR          the node whose store.db and store.db-wal
 *                                   are tracked (when opened for writing)
 *   MOUX_POWERCUT_DIR=DIR           where the journals go
 *   MOUX_POWERCUT_SYNC_DELAY_MS=N   sleep N ms before each sync of a tracked
 *                                   file: a slow disk, which widens every
 *                                   window between a write and its sync
 *
 * The cut itself: once MOUX_POWERCUT_DIR/cut.<file> exists, the next sync
 * of that file with something to lose (for the WAL, a whole commit; for
 * the database, any write) renames it fired.<file> and kills the process
 * (SIGKILL) after the delay, instead of syncing: the cut lands where a
 * commit is written and not synced, and the test can tell it from any
 * other death.
 *
 * Without the first two variables it only passes calls through. A write and
 * its record, and a sync and the emptying of the journal, each happen under
 * one lock, so a write racing a sync is never counted as synced. Calls that
 * would make a tracked write escape the journal (an O_SYNC open, a
 * descriptor beyond the table) abort the process rather than lie. Not
 * modelled: torn pages, unsynced writes that survive (any subset may, on a
 * real disk), directory entries (a created file counts as durable), dup(),
 * writev() and fallocate() (SQLite uses none of them), and writes through
 * mmap (SQLite maps only the -shm index). Built without sanitizers: an
 * ASan daemon preloads it with ASAN_OPTIONS=verify_asan_link_order=0. */
#define _GNU_SOURCE
#include "powercut.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#define FD_SLOTS 65536

static int (*r_open)(const char *, int, ...);
static int (*r_open64)(const char *, int, ...);
static int (*r_openat)(int, const char *, int, ...);
static int (*r_openat64)(int, const char *, int, ...);
static int (*r_close)(int);
static ssize_t (*r_write)(int, const void *, size_t);
static ssize_t (*r_pwrite)(int, const void *, size_t, off_t);
static ssize_t (*r_pwrite64)(int, const void *, size_t, off_t);
static int (*r_ftruncate)(int, off_t);
static int (*r_ftruncate64)(int, off_t);
static int (*r_fsync)(int);
static int (*r_fdatasync)(int);
static int (*r_unlink)(const char *);

static pthread_once_t s_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t s_lock = PTHREAD_MUTEX_INITIALIZER;
static int s_on;
static long s_delay_ms;
static char s_path[POWERCUT_NFILES][PATH_MAX]; /* tracked, resolved */
static char s_journal[POWERCUT_NFILES][PATH_MAX];
static char s_cut[POWERCUT_NFILES][PATH_MAX];
static char s_fired[POWERCUT_NFILES][PATH_MAX];
static int s_jfd[POWERCUT_NFILES];
static unsigned long s_pending[POWERCUT_NFILES]; /* records since the last sync */
static int s_commit_pending[POWERCUT_NFILES]; /* a WAL commit frame written, not synced */
static unsigned char s_fd_file[FD_SLOTS]; /* 0: untracked; else file index + 1 */

static void s_die(const char *what, const char *detail)
{
    fprintf(stderr, "powercut: %s: %s\n", what, detail);
    abort(); /* a journal we cannot keep would make the test lie */
}

/* The real calls, found on first use (another library's constructor may
 * open a file before ours runs), and the settings. */
static void s_init(void)
{
#define REAL(name) (r_##name = dlsym(RTLD_NEXT, #name))
    REAL(open), REAL(open64), REAL(openat), REAL(openat64), REAL(close), REAL(write);
    REAL(pwrite), REAL(pwrite64), REAL(ftruncate), REAL(ftruncate64);
    REAL(fsync), REAL(fdatasync), REAL(unlink);
#undef REAL
    const char *node = getenv("MOUX_POWERCUT_NODE"), *dir = getenv("MOUX_POWERCUT_DIR");
    const char *delay = getenv("MOUX_POWERCUT_SYNC_DELAY_MS");
    char real[PATH_MAX], jdir[PATH_MAX];
    if (!node || !dir)
        return;
    if (!realpath(node, real) || !realpath(dir, jdir))
        s_die("MOUX_POWERCUT_NODE or MOUX_POWERCUT_DIR does not exist", strerror(errno));
    for (int i = 0; i < POWERCUT_NFILES; i++) {
        int a = snprintf(s_path[i], sizeof s_path[i], "%s/%s", real, powercut_files[i]);
        int b = snprintf(s_journal[i], sizeof s_journal[i], "%s/%s.undo", jdir, powercut_files[i]);
        int c = snprintf(s_cut[i], sizeof s_cut[i], "%s/cut.%s", jdir, powercut_files[i]);
        int d = snprintf(s_fired[i], sizeof s_fired[i], "%s/fired.%s", jdir, powercut_files[i]);
        if (a < 0 || b < 0 || c < 0 || d < 0 || (size_t)a >= sizeof s_path[i] ||
            (size_t)b >= sizeof s_journal[i] || (size_t)c >= sizeof s_cut[i] ||
            (size_t)d >= sizeof s_fired[i])
            s_die("path too long", jdir);
        s_jfd[i] = -1;
    }
    s_delay_ms = delay ? atol(delay) : 0;
    s_on = 1;
}

#define INIT() pthread_once(&s_once, s_init)

/* The tracked file a resolved path names, or -1. */
static int s_file_named(const char *real)
{
    for (int i = 0; i < POWERCUT_NFILES; i++)
        if (strcmp(real, s_path[i]) == 0)
            return i;
    return -1;
}

static int s_tracked(int fd)
{
    return s_on && fd >= 0 && fd < FD_SLOTS ? (int)s_fd_file[fd] - 1 : -1;
}

/* Notes what a new descriptor refers to, whatever path (relative, through a
 * directory descriptor) opened it; clears what an unseen close left. */
static int s_opened(int fd, int flags)
{
    char link[64], real[PATH_MAX];
    if (!s_on || fd < 0)
        return fd;
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, real, sizeof real - 1);
    int f = -1;
    if (n > 0 && (flags & O_ACCMODE) != O_RDONLY) {
        real[n] = '\0';
        f = s_file_named(real);
    }
    if (f >= 0 && (fd >= FD_SLOTS || (flags & (O_SYNC | O_DSYNC))))
        s_die("a tracked file opened in a way the journal cannot follow", real);
    if (fd < FD_SLOTS) {
        pthread_mutex_lock(&s_lock);
        s_fd_file[fd] = (unsigned char)(f + 1);
        pthread_mutex_unlock(&s_lock);
    }
    return fd;
}

/* Appends one whole record (one write: a kill leaves at most its tail
 * torn, which powercut_apply drops). Under s_lock. */
static void s_put(int f, const powercut_rec_t *r, const void *old)
{
    size_t n = sizeof *r + r->len;
    char *buf = malloc(n);
    if (!buf)
        s_die("out of memory", s_journal[f]);
    memcpy(buf, r, sizeof *r);
    if (r->len)
        memcpy(buf + sizeof *r, old, r->len);
    if (s_jfd[f] < 0 && (s_jfd[f] = r_open(s_journal[f], O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
                                           0600)) < 0)
        s_die(s_journal[f], strerror(errno));
    for (const char *c = buf; n > 0;) {
        ssize_t w = r_write(s_jfd[f], c, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            s_die(s_journal[f], strerror(errno));
        c += w;
        n -= (size_t)w;
    }
    free(buf);
}

/* Records what a change of [off, end) replaces: for a write its range, for
 * a truncation to N the range [N, end of file). Under s_lock. */
static void s_record(int fd, int f, off_t off, off_t end)
{
    struct stat st;
    if (fstat(fd, &st) != 0)
        s_die("fstat", strerror(errno));
    if (end > st.st_size)
        end = st.st_size;
    powercut_rec_t r = {POWERCUT_MAGIC, 0, (uint64_t)off, end > off ? (uint64_t)(end - off) : 0,
                        (uint64_t)st.st_size};
    char *old = r.len ? malloc(r.len) : NULL;
    if (r.len && (!old || pread(fd, old, r.len, off) != (ssize_t)r.len))
        s_die("reading what a write replaces", s_path[f]);
    s_put(f, &r, old);
    s_pending[f]++;
    free(old);
}

/* SQLite writes each WAL frame's 24-byte header on its own; bytes 4-7 (the
 * database size after a commit) are not zero in a commit's last frame. */
static int s_commit_frame(int f, const void *buf, size_t n)
{
    const unsigned char *h = buf;
    return strcmp(powercut_files[f], "store.db-wal") == 0 && n == 24 && (h[4] | h[5] | h[6] | h[7]);
}

static ssize_t s_pwrite(ssize_t (*real)(int, const void *, size_t, off_t), int fd,
                        const void *buf, size_t n, off_t off)
{
    int f = s_tracked(fd);
    if (f < 0)
        return real(fd, buf, n, off);
    pthread_mutex_lock(&s_lock);
    s_record(fd, f, off, off + (off_t)n);
    ssize_t rc = real(fd, buf, n, off);
    if (s_commit_frame(f, buf, n))
        s_commit_pending[f] = 1;
    pthread_mutex_unlock(&s_lock);
    return rc;
}

ssize_t pwrite(int fd, const void *buf, size_t n, off_t off)
{
    INIT();
    return s_pwrite(r_pwrite, fd, buf, n, off);
}

ssize_t pwrite64(int fd, const void *buf, size_t n, off_t off)
{
    INIT();
    return s_pwrite(r_pwrite64, fd, buf, n, off);
}

ssize_t write(int fd, const void *buf, size_t n)
{
    INIT();
    int f = s_tracked(fd);
    if (f < 0)
        return r_write(fd, buf, n);
    pthread_mutex_lock(&s_lock);
    off_t off = lseek(fd, 0, SEEK_CUR);
    s_record(fd, f, off, off + (off_t)n);
    ssize_t rc = r_write(fd, buf, n);
    pthread_mutex_unlock(&s_lock);
    return rc;
}

static int s_truncate(int (*real)(int, off_t), int fd, off_t size)
{
    int f = s_tracked(fd);
    if (f < 0)
        return real(fd, size);
    pthread_mutex_lock(&s_lock);
    s_record(fd, f, size, (off_t)INT64_MAX);
    int rc = real(fd, size);
    pthread_mutex_unlock(&s_lock);
    return rc;
}

int ftruncate(int fd, off_t size)
{
    INIT();
    return s_truncate(r_ftruncate, fd, size);
}

int ftruncate64(int fd, off_t size)
{
    INIT();
    return s_truncate(r_ftruncate64, fd, size);
}

/* What the journal of file f holds is on disk now. Under s_lock. */
static void s_synced(int f)
{
    if (s_jfd[f] >= 0 && r_ftruncate(s_jfd[f], 0) != 0)
        s_die(s_journal[f], strerror(errno));
    s_pending[f] = 0;
    s_commit_pending[f] = 0;
}

static int s_sync(int (*real)(int), int fd)
{
    int f = s_tracked(fd);
    if (f < 0)
        return real(fd);
    if (s_delay_ms > 0) {
        struct timespec ts = {s_delay_ms / 1000, (s_delay_ms % 1000) * 1000000L};
        while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
            ;
    }
    pthread_mutex_lock(&s_lock);
    int armed = strcmp(powercut_files[f], "store.db-wal") == 0 ? s_commit_pending[f]
                                                                 : s_pending[f] > 0;
    if (armed && rename(s_cut[f], s_fired[f]) == 0) {
        kill(getpid(), SIGKILL); /* the power fails before this sync */
        for (;;)
            pause();
    }
    int rc = real(fd);
    if (rc == 0)
        s_synced(f);
    pthread_mutex_unlock(&s_lock);
    return rc;
}

int fsync(int fd)
{
    INIT();
    return s_sync(r_fsync, fd);
}

int fdatasync(int fd)
{
    INIT();
    return s_sync(r_fdatasync, fd);
}

int close(int fd)
{
    INIT();
    if (s_tracked(fd) >= 0) {
        pthread_mutex_lock(&s_lock);
        s_fd_file[fd] = 0;
        pthread_mutex_unlock(&s_lock);
    }
    return r_close(fd);
}

/* A removed file's changes no longer matter (a new one starts empty). */
int unlink(const char *path)
{
    INIT();
    char real[PATH_MAX];
    int f = s_on && realpath(path, real) ? s_file_named(real) : -1;
    int rc = r_unlink(path);
    if (rc == 0 && f >= 0) {
        pthread_mutex_lock(&s_lock);
        s_synced(f);
        pthread_mutex_unlock(&s_lock);
    }
    return rc;
}

static mode_t s_mode(int flags, va_list ap)
{
    return (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE ? (mode_t)va_arg(ap, int) : 0;
}

/* open, open64, openat, openat64: the real call, then note what it opened. */
#define OPEN_LIKE(name, real, params, args)                                    \
    int name params                                                            \
    {                                                                          \
        INIT();                                                                \
        va_list ap;                                                            \
        va_start(ap, flags);                                                   \
        mode_t mode = s_mode(flags, ap);                                       \
        va_end(ap);                                                            \
        return s_opened(real args, flags);                                     \
    }

OPEN_LIKE(open, r_open, (const char *path, int flags, ...), (path, flags, mode))
OPEN_LIKE(open64, r_open64, (const char *path, int flags, ...), (path, flags, mode))
OPEN_LIKE(openat, r_openat, (int dirfd, const char *path, int flags, ...), (dirfd, path, flags, mode))
OPEN_LIKE(openat64, r_openat64, (int dirfd, const char *path, int flags, ...),
          (dirfd, path, flags, mode))
