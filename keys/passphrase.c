#include "passphrase.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

/* Room for PASSPHRASE_MAX characters, a '\r', a '\n' and one byte more, so
 * an over-long line is seen as such rather than silently cut. */
#define LINE_CAP (PASSPHRASE_MAX + 3)
#define CONFIRM_PROMPT "Repeat the passphrase: "

/* ---- from a file ---- */

/* Reads at most LINE_CAP bytes, stopping early at the first newline: only
 * the first line is ours, and a huge file is no reason to read it all. */
static ssize_t s_read_first_line(int fd, char *buf)
{
    size_t got = 0;
    while (got < LINE_CAP && !memchr(buf, '\n', got)) {
        ssize_t n = read(fd, buf + got, LINE_CAP - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        if (n == 0)
            break;
        got += (size_t)n;
    }
    return (ssize_t)got;
}

/* Turns buf[got] into the NUL-terminated first line; NULL or what is wrong. */
static const char *s_cut_line(char *buf, size_t got)
{
    char *nl = memchr(buf, '\n', got);
    size_t n = nl ? (size_t)(nl - buf) : got;
    if (!nl && got == LINE_CAP)
        return "first line is too long";
    if (n > 0 && buf[n - 1] == '\r')
        n--;
    if (memchr(buf, '\0', n))
        return "contains a NUL byte";
    if (n == 0)
        return "the first line is empty";
    if (n > PASSPHRASE_MAX)
        return "first line is too long";
    sodium_memzero(buf + n, LINE_CAP + 1 - n); /* also drops what followed it */
    return NULL;
}

static char *s_from_file(const char *file, char *err, size_t errlen)
{
    char *buf = sodium_malloc(LINE_CAP + 1);
    int fd = open(file, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (!buf || fd < 0 || fstat(fd, &st) != 0) {
        snprintf(err, errlen, "%s: %s", file, buf ? strerror(errno) : "out of secure memory");
        goto fail;
    }
    /* Warn, not refuse: the operator may feed it from a pipe or a tmpfs
     * file on purpose, but should know when others can read it. */
    if (S_ISREG(st.st_mode) && (st.st_mode & 077))
        fprintf(stderr, "moux: WARNING: %s is accessible by group or others; keep passphrase "
                        "files 0600\n", file);
    ssize_t got = s_read_first_line(fd, buf);
    if (got < 0) {
        snprintf(err, errlen, "%s: %s", file, strerror(errno));
        goto fail;
    }
    const char *why = s_cut_line(buf, (size_t)got);
    if (why) {
        snprintf(err, errlen, "%s: not a usable passphrase file: %s (at most %d bytes)", file,
                 why, PASSPHRASE_MAX);
        goto fail;
    }
    close(fd);
    return buf;
fail:
    if (fd >= 0)
        close(fd);
    sodium_free(buf);
    return NULL;
}

/* ---- from the terminal ---- */

/* A signal while echo is off must not leave the operator's terminal mute:
 * we catch it, restore the terminal, then deliver it again. */
static volatile sig_atomic_t s_signo;
static const int s_sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGTSTP};
#define N_SIGS (sizeof s_sigs / sizeof s_sigs[0])

static void s_on_signal(int sig)
{
    s_signo = sig;
}

static void s_catch(struct sigaction saved[N_SIGS])
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = s_on_signal; /* no SA_RESTART: read() returns EINTR */
    sigemptyset(&sa.sa_mask);
    s_signo = 0;
    for (size_t i = 0; i < N_SIGS; i++)
        sigaction(s_sigs[i], &sa, &saved[i]);
}

static void s_uncatch(const struct sigaction saved[N_SIGS])
{
    for (size_t i = 0; i < N_SIGS; i++)
        sigaction(s_sigs[i], &saved[i], NULL);
}

/* Prompts and reads one line from the terminal into sodium_malloc memory. */
static char *s_tty_line(int fd, const char *prompt, char *err, size_t errlen)
{
    char *buf = sodium_malloc(LINE_CAP + 1), c = 0;
    size_t n = 0;
    int too_long = 0;
    if (!prompt)
        prompt = "Passphrase: ";
    if (!buf || write(fd, prompt, strlen(prompt)) < 0) {
        snprintf(err, errlen, "/dev/tty: %s", buf ? strerror(errno) : "out of secure memory");
        goto fail;
    }
    for (;;) {
        ssize_t r = read(fd, &c, 1);
        if (r < 0 && errno == EINTR && !s_signo)
            continue;
        if (r <= 0) {
            snprintf(err, errlen, "%s", r == 0 ? "no passphrase entered" : s_signo
                                                     ? "interrupted" : strerror(errno));
            goto fail;
        }
        if (c == '\n')
            break;
        if (n < LINE_CAP) /* keep reading past the limit: the rest is not a new answer */
            buf[n++] = c;
        else
            too_long = 1;
    }
    const char *why = too_long ? "first line is too long" : s_cut_line(buf, n);
    if (why) {
        snprintf(err, errlen, "passphrase refused: %s", why);
        goto fail;
    }
    sodium_memzero(&c, sizeof c);
    return buf;
fail:
    sodium_memzero(&c, sizeof c);
    sodium_free(buf);
    return NULL;
}

static int s_same(const char *a, const char *b)
{
    size_t n = strlen(a);
    return n == strlen(b) && sodium_memcmp(a, b, n) == 0;
}

/* Asks once or twice with echo off; the terminal's settings come back on
 * every path out. */
static char *s_ask(int fd, const char *prompt, int confirm, char *err, size_t errlen)
{
    char *first = s_tty_line(fd, prompt, err, errlen), *second = NULL;
    if (first && confirm) {
        second = s_tty_line(fd, CONFIRM_PROMPT, err, errlen);
        if (second && !s_same(first, second))
            snprintf(err, errlen, "passphrases do not match");
        if (!second || !s_same(first, second)) {
            sodium_free(first);
            first = NULL;
        }
    }
    sodium_free(second);
    return first;
}

static char *s_from_tty(const char *prompt, int confirm, char *err, size_t errlen)
{
    int fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "no terminal to ask for the passphrase (/dev/tty: %s); use "
                              "--passphrase-file", strerror(errno));
        return NULL;
    }
    struct termios old, quiet;
    struct sigaction saved[N_SIGS];
    char *pass = NULL;
    if (tcgetattr(fd, &old) != 0) {
        snprintf(err, errlen, "/dev/tty: %s", strerror(errno));
        goto out_fd;
    }
    s_catch(saved);
    quiet = old;
    quiet.c_lflag &= ~(tcflag_t)ECHO;
    quiet.c_lflag |= ECHONL; /* the Enter still shows, so the next output is on its line */
    if (tcsetattr(fd, TCSAFLUSH, &quiet) != 0)
        snprintf(err, errlen, "/dev/tty: cannot turn echo off: %s", strerror(errno));
    else
        pass = s_ask(fd, prompt, confirm, err, errlen);
    tcsetattr(fd, TCSAFLUSH, &old);
    s_uncatch(saved);
    if (s_signo) /* delivered now, with the terminal restored */
        raise(s_signo);
out_fd:
    close(fd);
    return pass;
}

char *passphrase_read(const char *file, const char *prompt, int confirm, char *err,
                      size_t errlen)
{
    return file ? s_from_file(file, err, errlen) : s_from_tty(prompt, confirm, err, errlen);
}
