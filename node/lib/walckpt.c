#include "walckpt.h"

#include "log.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

struct walckpt {
    sqlite3 *main;  /* the daemon's connection: its commits call s_on_commit */
    sqlite3 *own;   /* this thread's connection to the same file */
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int due, stop;
    unsigned long done;
    time_t warned; /* the last WAL-CHECKPOINT-FAILED line: one a minute at most */
};

/* SQLite's WAL hook, on the committing thread after each commit. */
static int s_on_commit(void *arg, sqlite3 *db, const char *name, int pages)
{
    walckpt_t *self = arg;
    if (pages >= WALCKPT_INLINE_PAGES) /* the thread is far behind: help */
        sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
    else if (pages < WALCKPT_PAGES)
        return SQLITE_OK;
    pthread_mutex_lock(&self->mu);
    self->due = 1;
    pthread_cond_signal(&self->cv);
    pthread_mutex_unlock(&self->mu);
    return SQLITE_OK;
}

static void *s_run(void *arg)
{
    walckpt_t *self = arg;
    for (;;) {
        pthread_mutex_lock(&self->mu);
        while (!self->due && !self->stop)
            pthread_cond_wait(&self->cv, &self->mu);
        int stop = self->stop;
        self->due = 0;
        pthread_mutex_unlock(&self->mu);
        if (stop)
            break;
        int log_pages = 0, copied = 0;
        int rc = sqlite3_wal_checkpoint_v2(self->own, NULL, SQLITE_CHECKPOINT_PASSIVE,
                                           &log_pages, &copied);
        time_t now = time(NULL);
        if (rc != SQLITE_OK && rc != SQLITE_BUSY && now - self->warned >= 60) {
            self->warned = now; /* BUSY: another checkpoint runs */
            log_warn("WAL-CHECKPOINT-FAILED", "%s (the next commits retry)",
                     sqlite3_errmsg(self->own));
        }
        pthread_mutex_lock(&self->mu);
        self->done++;
        pthread_mutex_unlock(&self->mu);
    }
    return NULL;
}

walckpt_t *walckpt_start(store_t *st, char *err, size_t errlen)
{
    sqlite3 *db = store_db(st);
    const char *path = sqlite3_db_filename(db, "main");
    if (!sqlite3_threadsafe()) {
        snprintf(err, errlen, "background checkpoints: this SQLite is built without threads");
        return NULL;
    }
    walckpt_t *self = calloc(1, sizeof *self);
    if (!self || !path) {
        snprintf(err, errlen, "background checkpoints: out of memory");
        free(self);
        return NULL;
    }
    self->main = db;
    /* FULL, like the daemon's: the checkpoint syncs the WAL before copying
     * and the database file after. */
    if (sqlite3_open_v2(path, &self->own, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) !=
            SQLITE_OK ||
        sqlite3_exec(self->own, "PRAGMA synchronous = FULL", NULL, NULL, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "background checkpoints: %s: %s", path,
                 self->own ? sqlite3_errmsg(self->own) : "cannot open");
        sqlite3_close(self->own);
        free(self);
        return NULL;
    }
    pthread_mutex_init(&self->mu, NULL);
    pthread_cond_init(&self->cv, NULL);
    if (pthread_create(&self->thread, NULL, s_run, self) != 0) {
        snprintf(err, errlen, "background checkpoints: cannot start a thread");
        pthread_mutex_destroy(&self->mu);
        pthread_cond_destroy(&self->cv);
        sqlite3_close(self->own);
        free(self);
        return NULL;
    }
    sqlite3_wal_hook(db, s_on_commit, self); /* replaces the automatic checkpoint */
    return self;
}

void walckpt_stop(walckpt_t **self_p)
{
    walckpt_t *self = *self_p;
    if (!self)
        return;
    sqlite3_wal_autocheckpoint(self->main, WALCKPT_PAGES); /* SQLite's own again */
    pthread_mutex_lock(&self->mu);
    self->stop = 1;
    pthread_cond_signal(&self->cv);
    pthread_mutex_unlock(&self->mu);
    pthread_join(self->thread, NULL);
    pthread_mutex_destroy(&self->mu);
    pthread_cond_destroy(&self->cv);
    sqlite3_close(self->own);
    free(self);
    *self_p = NULL;
}

unsigned long walckpt_count(walckpt_t *self)
{
    pthread_mutex_lock(&self->mu);
    unsigned long n = self->done;
    pthread_mutex_unlock(&self->mu);
    return n;
}
