/* Open-file-description locks (F_OFD_*, Linux) for two reasons:
 * - F_OFD_GETLK tests a lock without taking one. A flock() probe has to take
 *   a shared lock to learn anything, and a mouxd starting in that instant
 *   finds the file locked and refuses to start.
 * - The lock belongs to the descriptor, not the process: unlike a classic
 *   fcntl() lock, a probe from the daemon itself neither misses it nor, on
 *   close, releases it. */
#define _GNU_SOURCE
#include "nodelock.h"
#include "config.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void s_whole_file(struct flock *fl, short type)
{
    memset(fl, 0, sizeof *fl); /* l_start 0, l_len 0, l_pid 0 (OFD requires it) */
    fl->l_type = type;
    fl->l_whence = SEEK_SET;
}

/* The pid the holder recorded in the file, or 0 if it has not yet. */
static long s_recorded_pid(int fd)
{
    char buf[32];
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    char *end;
    long pid = strtol(buf, &end, 10);
    return end != buf && *end == '\n' && pid > 0 ? pid : 0;
}

int nodelock_acquire(const char *dir, char *err, size_t errlen)
{
    char path[PATH_MAX_MOUX + 16];
    if (node_path(dir, "mouxd.lock", path, sizeof path) != 0) {
        snprintf(err, errlen, "%s: node directory path too long", dir);
        return -1;
    }
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    struct flock fl;
    s_whole_file(&fl, F_WRLCK);
    if (fcntl(fd, F_OFD_SETLK, &fl) != 0) {
        int e = errno;
        long pid = s_recorded_pid(fd);
        if ((e == EAGAIN || e == EACCES) && pid)
            snprintf(err, errlen, "%s: another mouxd (pid %ld) is running on this node", path,
                     pid);
        else if (e == EAGAIN || e == EACCES)
            snprintf(err, errlen, "%s: another mouxd is running on this node", path);
        else
            snprintf(err, errlen, "%s: %s", path, strerror(e));
        close(fd);
        return -1;
    }
    char pid[32];
    int n = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) != 0 || pwrite(fd, pid, (size_t)n, 0) != n)
        log_warn("LOCK-PID", "%s: cannot record pid", path); /* the lock still holds */
    return fd;
}

int nodelock_held(const char *dir)
{
    char path[PATH_MAX_MOUX + 16];
    if (node_path(dir, "mouxd.lock", path, sizeof path) != 0)
        return 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return 0;
    struct flock fl;
    s_whole_file(&fl, F_WRLCK);
    int held = fcntl(fd, F_OFD_GETLK, &fl) == 0 && fl.l_type != F_UNLCK;
    close(fd);
    return held;
}
