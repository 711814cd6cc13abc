/* The one-mouxd-per-directory lock: a second daemon is refused, a crash
 * frees the lock, and probing it (as every moux command does) never makes a
 * starting daemon fail. */
#include "nodelock.h"
#include "test.h"
#include "util.h"

#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <sys/wait.h>
#include <unistd.h>

static void test_free_without_a_daemon(void)
{
    CHECK(nodelock_held(s_tmp) == 0); /* no file yet */
    char err[256];
    int fd = nodelock_acquire(s_tmp, err, sizeof err);
    CHECK(fd >= 0);
    close(fd);
    CHECK(nodelock_held(s_tmp) == 0); /* the file stays, the lock does not */
}

static void test_second_daemon_refused(void)
{
    char err[256], want[64];
    int fd = nodelock_acquire(s_tmp, err, sizeof err);
    CHECK(fd >= 0);
    CHECK(nodelock_held(s_tmp) == 1); /* seen from the holder's own process too */
    err[0] = '\0';
    CHECK(nodelock_acquire(s_tmp, err, sizeof err) == -1);
    snprintf(want, sizeof want, "another mouxd (pid %ld) is running", (long)getpid());
    CHECK(strstr(err, want) != NULL);
    CHECK(strstr(err, "mouxd.lock") != NULL);
    CHECK(nodelock_held(s_tmp) == 1); /* the refused attempt released nothing */
    close(fd);
    CHECK(nodelock_held(s_tmp) == 0);
}

static void test_killed_holder_frees_the_lock(void)
{
    int ready[2];
    CHECK(pipe(ready) == 0);
    pid_t child = fork();
    if (child == 0) {
        char err[256];
        char ok = nodelock_acquire(s_tmp, err, sizeof err) >= 0 ? 'y' : 'n';
        if (write(ready[1], &ok, 1) != 1)
            _exit(1);
        pause(); /* holds the lock until killed */
        _exit(0);
    }
    char ok = 'n';
    CHECK(read(ready[0], &ok, 1) == 1 && ok == 'y');
    char err[256];
    CHECK(nodelock_held(s_tmp) == 1);
    CHECK(nodelock_acquire(s_tmp, err, sizeof err) == -1);
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    CHECK(nodelock_held(s_tmp) == 0);
    int fd = nodelock_acquire(s_tmp, err, sizeof err);
    CHECK(fd >= 0);
    close(fd);
    close(ready[0]);
    close(ready[1]);
}

/* A probe running flat out in another process, while this one starts and
 * stops "daemons": every start must get the lock. At least 2,000 starts,
 * and on until the probe has seen one of them (so it did run alongside;
 * bounded by 10 s for a machine too busy to run both). */
static void test_probing_never_blocks_a_start(void)
{
    int stop[2], seen[2];
    CHECK(pipe(stop) == 0 && pipe(seen) == 0);
    pid_t child = fork();
    if (child == 0) {
        close(stop[1]);
        close(seen[0]);
        struct timeval none = {0, 0};
        int told = 0;
        for (long i = 0; i < 50000000; i++) { /* bounded; stopped long before */
            if (nodelock_held(s_tmp) && !told)
                told = write(seen[1], "y", 1) == 1;
            fd_set r;
            FD_ZERO(&r);
            FD_SET(stop[0], &r);
            if ((i & 63) == 0 && select(stop[0] + 1, &r, NULL, NULL, &none) != 0)
                break;
        }
        _exit(0);
    }
    close(stop[0]);
    close(seen[1]);
    char err[256];
    int refused = 0, probe_saw_one = 0;
    uint64_t deadline = mono_ms() + 10000;
    for (long i = 0; (i < 2000 || !probe_saw_one) && mono_ms() < deadline; i++) {
        int fd = nodelock_acquire(s_tmp, err, sizeof err);
        if (fd < 0) {
            if (!refused)
                fprintf(stderr, "start %ld refused: %s\n", i, err);
            refused++;
            continue;
        }
        close(fd);
        struct timeval none = {0, 0};
        fd_set r;
        FD_ZERO(&r);
        FD_SET(seen[0], &r);
        if (!probe_saw_one && select(seen[0] + 1, &r, NULL, NULL, &none) > 0)
            probe_saw_one = 1;
    }
    close(stop[1]);
    close(seen[0]);
    waitpid(child, NULL, 0);
    CHECK(refused == 0);
    CHECK(probe_saw_one);
}

int main(void)
{
    snprintf(s_tmp, sizeof s_tmp, "/tmp/moux-test-nodelock-XXXXXX");
    if (!mkdtemp(s_tmp)) {
        perror("mkdtemp");
        return 1;
    }
    RUN(test_free_without_a_daemon);
    RUN(test_second_daemon_refused);
    RUN(test_killed_holder_frees_the_lock);
    RUN(test_probing_never_blocks_a_start);
    rm_rf(s_tmp);
    return TEST_DONE();
}
