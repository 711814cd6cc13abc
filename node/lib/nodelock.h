/* One mouxd per node directory: the running daemon holds a write lock on
 * DIR/mouxd.lock for as long as it runs, and a crash releases it. */
#ifndef MOUX_NODELOCK_H
#define MOUX_NODELOCK_H

#include <stddef.h>

/* Takes DIR's lock and records our pid in the file. Returns the descriptor
 * that holds it (closing it releases the lock), or -1 with the reason in
 * err: another mouxd runs on DIR (its pid named), or the file cannot be
 * opened. */
int nodelock_acquire(const char *dir, char *err, size_t errlen);

/* 1 if some descriptor holds DIR's lock, in this process or another. It
 * only tests the lock, never takes it, so probing cannot make a starting
 * mouxd fail. */
int nodelock_held(const char *dir);

#endif
