#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>

static log_level_t s_level = LOG_LVL_INFO;
static const char *s_ident = "moux";

void log_set_level(log_level_t level) { s_level = level; }
void log_set_ident(const char *ident) { s_ident = ident; }
int log_enabled(log_level_t level) { return level <= s_level; }

void log_emit(log_level_t level, const char *event, const char *fmt, ...)
{
    static const char *names[] = {"error", "warn", "info", "debug"};
    if (!log_enabled(level))
        return;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char when[32];
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);

    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    /* One write per line so concurrent writers never interleave mid-line. */
    fprintf(stderr, "%s.%06ldZ %s %s %s: %s\n", when, ts.tv_nsec / 1000L, s_ident,
            names[level], event, msg);
}
