/* One logging module: one line per event on stderr, a stable event name per
 * message, journald friendly. Nothing is formatted below the active level. */
#ifndef MOUX_LOG_H
#define MOUX_LOG_H

typedef enum { LOG_LVL_ERROR, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG } log_level_t;

void log_set_level(log_level_t level);
void log_set_ident(const char *ident);      /* borrowed; must outlive logging */
int log_enabled(log_level_t level);
void log_emit(log_level_t level, const char *event, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define log_error(ev, ...) log_emit(LOG_LVL_ERROR, ev, __VA_ARGS__)
#define log_warn(ev, ...) log_emit(LOG_LVL_WARN, ev, __VA_ARGS__)
#define log_info(ev, ...) \
  do { if (log_enabled(LOG_LVL_INFO)) log_emit(LOG_LVL_INFO, ev, __VA_ARGS__); } while (0)
#define log_debug(ev, ...) \
  do { if (log_enabled(LOG_LVL_DEBUG)) log_emit(LOG_LVL_DEBUG, ev, __VA_ARGS__); } while (0)

#endif
