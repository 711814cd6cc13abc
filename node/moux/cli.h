/* moux CLI internals: the subcommand table and shared helpers. */
#ifndef MOUX_CLI_H
#define MOUX_CLI_H

#include "config.h"

#include <jansson.h>

typedef struct {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *args;
    const char *help;
} cli_cmd_t;

int cmd_init(int argc, char **argv);
int cmd_bundle(int argc, char **argv);
int cmd_peer(int argc, char **argv);
int cmd_publish(int argc, char **argv);
int cmd_query(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_wait(int argc, char **argv);

/* Prints "moux: <message>" to stderr; returns 1 (the failure exit status). */
int cli_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The node directory: the -d value, else $MOUX_DIR, else NULL with a message. */
const char *cli_dir(const char *opt);
/* Loads DIR/moux.conf or prints why not. */
int cli_config(const char *dir, config_t *cfg);
/* Sends a control request; prints errors; the reply is owned by the caller. */
json_t *cli_call(const char *dir, json_t *req, int timeout_ms);

#endif
