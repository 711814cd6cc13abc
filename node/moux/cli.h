/* moux CLI internals: the subcommand table and shared helpers. */
#ifndef MOUX_CLI_H
#define MOUX_CLI_H

#include "config.h"
#include "identity.h"
#include "mou.h"

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
int cmd_withdraw(int argc, char **argv);
int cmd_mou(int argc, char **argv);
int cmd_keys(int argc, char **argv);
int cmd_keys_rotate(int argc, char **argv);
#define CMD_KEYS_ROTATE_USAGE \
    "usage: moux keys rotate -d DIR --root ROOTKEY [--passphrase-file F] [--days N] [--force]"
int cmd_pattern(int argc, char **argv);
/* STIX 2.1 bundles (cmd_stix.c, docs/STIX.md): moux export --stix, and the
 * import behind moux publish --stix FILE (0, or 1 after saying why). */
int cmd_export(int argc, char **argv);
int cli_publish_stix(const char *dir, const char *file);
int cmd_audit(int argc, char **argv);
/* moux audit report (cmd_audit_report.c); argv[1] is "report". */
int cmd_audit_report(int argc, char **argv);
/* moux mou sub-commands that work on a node (cmd_mou_node.c). */
int cmd_mou_activate(int argc, char **argv);
int cmd_mou_list(int argc, char **argv);
int cmd_mou_show_active(int argc, char **argv);
int cmd_mou_terminate(int argc, char **argv);
int cmd_mou_purge(int argc, char **argv);

/* How one party's signature on an MOU stands (cli_mou_sigs). */
#define CLI_MOU_MAX_SIGS 8
typedef struct {
    const char *file;                /* the file read for the party (path), or NULL */
    char path[PATH_MAX_MOUX];
    char line[MOU_SIG_LINE_MAX + 1]; /* its signature line, when present */
    int present, valid;
    int unpinned; /* valid for the MOU, but the node has no root to compare */
    char why[512];
} cli_sig_state_t;
/* Reads the signature files (sigs; none: FILE.AGENCY.sig for each party)
 * and checks each against m and, with dir, the roots node dir has pinned
 * for the parties (pinned[i]); own gets the node's agency. 0, or 1 after
 * saying why. */
int cli_mou_sigs(const mou_t *m, const char *file, const char **sigs, size_t n_sigs,
                 const char *dir, cli_sig_state_t st[2], int pinned[2], char own[AGENCY_MAX + 1]);

/* Prints "moux: <message>" to stderr; returns 1 (the failure exit status). */
int cli_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The node directory: the -d value, else $MOUX_DIR, else NULL with a message. */
const char *cli_dir(const char *opt);
/* Parses "GROUP SUBCOMMAND FILE [--json]": 0 with *file and *as_json set,
 * -1 on a usage error (the caller prints its usage). */
int cli_file_json_args(int argc, char **argv, const char **file, int *as_json);
/* Loads DIR/moux.conf or prints why not. */
int cli_config(const char *dir, config_t *cfg);
/* A sub-command of a command group ("moux keys root-gen ..."). */
typedef struct {
    const char *name;
    int (*fn)(int argc, char **argv);
} cli_sub_t;
/* Runs the sub-command argv[1] names with (argc, argv); with none, or an
 * unknown one, says so and returns usage(). */
int cli_dispatch(const char *group, const cli_sub_t *subs, size_t n, int argc, char **argv,
                 int (*usage)(void));
/* Prints an MOU's decision counts ({"out": {"allowed": n, REASON: n}, ...}),
 * one direction per line, indented. */
void cli_print_counts(const json_t *counts, int indent);
/* Sends a control request; prints errors; the reply is owned by the caller. */
json_t *cli_call(const char *dir, json_t *req, int timeout_ms);
/* The same with a second, binary frame (ctl_call_body). */
json_t *cli_call_body(const char *dir, json_t *req, const void *body, size_t body_len,
                      int timeout_ms);

/* "--days N" (1-366) or "--until TIME" (a minute to 366 days from now)
 * into the end of a certificate's validity. 0, or 1 after saying why. */
int cli_days(const char *text, uint64_t *not_after_ms);
int cli_until(const char *text, uint64_t *not_after_ms);
/* The default end of validity: CERT_DEFAULT_DAYS from now. */
uint64_t cli_default_not_after(void);
/* Opens the agency root key (asking for its passphrase, from pass_file or
 * the terminal, unless it is stored unsealed). Caller owns the result. */
rootkey_t *cli_open_root(const char *root_file, const char *pass_file);
/* Certifies keys under BASE/keys/ with the root key in root_file and prints
 * what it issued (serial 0: the next one). 0, or 1 after saying why. */
/* Asks a running node to take up new keys, certificates or revocations
 * (control "keys-reload") and prints now_msg; if the node is not running,
 * prints later_msg. 0, or 1 after saying why. */
int cli_tell_node(const char *dir, const char *now_msg, const char *later_msg);
/* The same with another control command ("reload": partners and MOUs). */
int cli_tell_node_cmd(const char *dir, const char *cmd, const char *now_msg,
                      const char *later_msg);
int cli_certify(const char *base, const config_t *cfg, const nodekeys_t *keys,
                const char *root_file, const char *pass_file, uint64_t not_after_ms,
                uint64_t serial, cert_t *out);

#endif
