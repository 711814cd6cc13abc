/* moux keys rotate: a new node key set, certified by the agency root, left
 * in DIR/next for the node to announce and install (see keyupdate.c). */
#include "cli.h"
#include "store.h"
#include "util.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Rotating again while a partner knows only our previous keys retires the
 * keys it knows: the node would speak to it with keys it never learnt, so
 * it could not learn the new ones either (KEYS.md 7.2). Refused, naming
 * those partners, unless --force. */
static int s_guard_lagging(const char *dir, const identity_t *id)
{
    char err[512], names[512] = "";
    if (identity_retired_held(dir) == 0)
        return 0; /* no overlap on: every partner knows the current keys or none */
    store_t *st = store_open(dir, STORE_RO, err, sizeof err);
    if (!st)
        return cli_fail("%s (read to check that no partner is cut off; --force skips it)", err);
    uint64_t since = id->cert.serial; /* the first serial of these keys (renewals keep them) */
    partner_t *ps = NULL;
    size_t n = 0, lagging = 0;
    if (store_own_key_first_serial(st, id->cert.sign_pk, &since) != 0)
        since = id->cert.serial;
    int rc = store_partners(st, &ps, &n);
    if (rc != 0)
        cli_fail("%s: cannot read partners: %s", dir, store_errmsg(st));
    for (size_t i = 0; rc == 0 && i < n; i++)
        if (ps[i].acked_serial < since) {
            size_t used = strlen(names);
            snprintf(names + used, sizeof names - used, "%s%s (holds serial %llu)",
                     lagging++ ? ", " : "", ps[i].agency, (unsigned long long)ps[i].acked_serial);
        }
    if (rc == 0 && lagging)
        rc = cli_fail("refusing to rotate: %s %s not acknowledged our current keys (serial %llu) "
                      "and still speak%s with the previous ones, which this rotation would "
                      "retire; they could not learn the new keys. Wait until moux status shows "
                      "holds_our_serial >= %llu for them, or add --force and give them the new "
                      "bundle afterwards", names, lagging > 1 ? "have" : "has",
                      (unsigned long long)since, lagging > 1 ? "" : "s",
                      (unsigned long long)since);
    free(ps);
    store_destroy(&st);
    return rc != 0;
}

static int s_announce(const char *dir, uint64_t serial)
{
    char now[160], later[160];
    snprintf(now, sizeof now, "it announces serial %llu and switches to the new keys once "
             "partners hold it", (unsigned long long)serial);
    snprintf(later, sizeof later, "it announces serial %llu when it starts",
             (unsigned long long)serial);
    return cli_tell_node(dir, now, later);
}

int cmd_keys_rotate(int argc, char **argv)
{
    static const struct option opts[] = {{"dir", required_argument, 0, 'd'},
                                         {"root", required_argument, 0, 'r'},
                                         {"passphrase-file", required_argument, 0, 'p'},
                                         {"days", required_argument, 0, 'D'},
                                         {"force", no_argument, 0, 'f'},
                                         {0, 0, 0, 0}};
    static const char *usage = CMD_KEYS_ROTATE_USAGE;
    const char *dir_opt = NULL, *root_file = NULL, *pass_file = NULL;
    uint64_t not_after = cli_default_not_after();
    int c, force = 0;
    optind = 2;
    while ((c = getopt_long(argc, argv, "d:", opts, NULL)) != -1) {
        switch (c) {
        case 'd': dir_opt = optarg; break;
        case 'r': root_file = optarg; break;
        case 'p': pass_file = optarg; break;
        case 'f': force = 1; break;
        case 'D':
            if (cli_days(optarg, &not_after) != 0)
                return 1;
            break;
        default: cli_fail("%s", usage); return 2;
        }
    }
    const char *dir = cli_dir(dir_opt);
    config_t cfg;
    if (!dir || !root_file || optind != argc) {
        if (dir)
            cli_fail("%s", usage);
        return 2;
    }
    if (cli_config(dir, &cfg) != 0)
        return 1;
    char err[512], next[PATH_MAX_MOUX + 16];
    identity_t *id = identity_load(dir, &cfg, err, sizeof err);
    if (!id)
        return cli_fail("%s", err);
    uint64_t serial = id->cert.serial + 1;
    unsigned char root_pk[32];
    int rc = 1;
    nodekeys_t *keys = NULL;
    snprintf(next, sizeof next, "%s/next", dir);
    if (rootkey_read_public(root_file, root_pk, err, sizeof err) != 0) {
        cli_fail("%s", err);
        goto out;
    }
    if (memcmp(root_pk, id->root_pk, 32) != 0) {
        cli_fail("%s is not the root that certified this node (keys/root.pub)", root_file);
        goto out;
    }
    if (!force && s_guard_lagging(dir, id) != 0)
        goto out;
    if (mkdir(next, 0700) != 0) {
        cli_fail("%s: %s", next, errno == EEXIST ? "a rotation is already pending (its keys are "
                 "there); wait for the node to install it" : strerror(errno));
        goto out;
    }
    keys = nodekeys_generate();
    if (!keys || nodekeys_save(keys, next, err, sizeof err) != 0) {
        cli_fail("%s", keys ? err : "out of secure memory");
        goto out;
    }
    if (cli_certify(next, &cfg, keys, root_file, pass_file, not_after, serial, NULL) != 0)
        goto out;
    rc = s_announce(dir, serial);
out:
    nodekeys_destroy(&keys);
    identity_destroy(&id);
    return rc;
}
