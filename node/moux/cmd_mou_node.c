/* moux mou activate / list / show -d / terminate / purge: the MOUs a node
 * enforces (docs/MOU.md §8). The store holds each activated MOU's exact
 * bytes and both signatures; a running node is told to reload, and then
 * announces the MOU hash to the partner. */
#include "cli.h"
#include "ctlclient.h"
#include "mounotice.h"
#include "retention.h"
#include "store.h"
#include "util.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *s_use_activate = "usage: moux mou activate -d DIR FILE [--sig SIGFILE]...";
static const char *s_use_list = "usage: moux mou list -d DIR [--json]";
static const char *s_use_show_node = "usage: moux mou show -d DIR ID [--json]";
static const char *s_use_terminate = "usage: moux mou terminate -d DIR ID --root ROOTKEY "
                                     "[--passphrase-file F] [--reason TEXT]";
static const char *s_use_purge = "usage: moux mou purge -d DIR [--at TIME]";

#define DAY_MS 86400000ull

static int s_usage_node(const char *usage)
{
    cli_fail("%s", usage);
    return 2;
}

static store_t *s_store(const char *dir, int mode)
{
    char err[512];
    store_t *st = store_open(dir, mode, err, sizeof err);
    if (!st)
        cli_fail("%s", err);
    return st;
}

/* ---- activate ---- */

int cmd_mou_activate(int argc, char **argv)
{
    static const struct option opts[] = {{"dir", required_argument, 0, 'd'},
                                         {"sig", required_argument, 0, 's'},
                                         {0, 0, 0, 0}};
    const char *sigs[CLI_MOU_MAX_SIGS], *dir_opt = NULL;
    size_t n_sigs = 0;
    int c;
    optind = 2;
    while ((c = getopt_long(argc, argv, "d:", opts, NULL)) != -1) {
        if (c == 'd')
            dir_opt = optarg;
        else if (c == 's' && n_sigs < CLI_MOU_MAX_SIGS)
            sigs[n_sigs++] = optarg;
        else
            return s_usage_node(s_use_activate);
    }
    const char *dir = cli_dir(dir_opt);
    if (!dir || optind != argc - 1)
        return dir ? s_usage_node(s_use_activate) : 1;
    const char *file = argv[optind];
    char *text = NULL, err[1024], own[AGENCY_MAX + 1] = "", why[160];
    size_t len = 0;
    mou_t *m = NULL;
    int rc = 1, pinned[2];
    cli_sig_state_t st[2];
    store_t *store = NULL;
    if (mou_read_file(file, &text, &len, err, sizeof err) != 0 ||
        mou_parse(text, len, file, &m, err, sizeof err) != 0) {
        cli_fail("%s", err);
        goto out;
    }
    if (cli_mou_sigs(m, file, sigs, n_sigs, dir, st, pinned, own) != 0)
        goto out;
    int me = mou_party_index(m, own);
    if (me < 0) {
        cli_fail("%s: node %s (%s) is not a party to MOU %s (%s and %s are)", file, dir, own,
                 mou_id(m), mou_party(m, 0), mou_party(m, 1));
        goto out;
    }
    const char *peer = mou_party(m, 1 - me);
    for (int i = 0; i < 2; i++)
        if (!st[i].valid) {
            cli_fail("%s: MOU %s is not activated: party-%c %s: %s%s%s", file, mou_id(m),
                     'a' + i, mou_party(m, i), st[i].why, st[i].file ? " — " : "",
                     st[i].file ? st[i].file : "");
            goto out;
        }
    if (!mou_valid_at(m, now_ms(), why, sizeof why)) {
        cli_fail("%s: MOU %s is not activated: it is %s", file, mou_id(m), why);
        goto out;
    }
    if (!(store = s_store(dir, STORE_RW)))
        goto out;
    store_mou_t row = {.activated_ms = now_ms(), .text = text, .text_len = len};
    char sigs_text[2 * (MOU_SIG_LINE_MAX + 1)];
    snprintf(sigs_text, sizeof sigs_text, "%s%s", st[0].line, st[1].line);
    row.sigs = sigs_text;
    memcpy(row.hash, mou_hash_bytes(m), MOU_HASH_BYTES);
    str_copy(row.id, sizeof row.id, mou_id(m));
    str_copy(row.peer, sizeof row.peer, peer);
    const char *refused = NULL;
    int r = store_begin(store);
    if (r == 0)
        r = store_mou_activate(store, &row, &refused);
    if (r == 0)
        r = store_event(store, "mou-activated", peer, NULL, NULL, mou_hash_hex(m));
    if (r < 0 || store_commit(store) != 0) {
        store_rollback(store);
        cli_fail("%s: MOU %s is not activated: %s", file, mou_id(m),
                 refused ? refused : store_errmsg(store));
        goto out;
    }
    if (r == 1)
        printf("MOU %s with %s is already active (hash %s)\n", mou_id(m), peer, mou_hash_hex(m));
    else
        printf("MOU %s with %s activated (hash %s); it replaces any earlier MOU with %s\n",
               mou_id(m), peer, mou_hash_hex(m), peer);
    rc = cli_tell_node_cmd(dir, "reload", "it now enforces this MOU",
                           "it enforces this MOU when it starts");
out:
    store_destroy(&store);
    mou_destroy(&m);
    free(text);
    return rc;
}

/* ---- list and show ---- */


/* One stored MOU as JSON: state, dates, decisions; the whole document too
 * when full. */
static json_t *s_row_json(store_t *st, const store_mou_t *row, int full)
{
    char when[32], hex[MOU_HASH_HEX];
    mou_t *m = NULL;
    char err[512];
    uint64_t now = now_ms();
    hex_encode(row->hash, MOU_HASH_BYTES, hex);
    format_time_ms(row->activated_ms, when);
    json_t *counts = store_mou_counts_json(st, row->hash);
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:o}", "id", row->id, "peer", row->peer,
                          "state", row->state, "hash", hex, "activated", when, "counts", counts);
    if (row->ended_ms) {
        format_time_ms(row->ended_ms, when);
        json_object_set_new(o, "ended", json_string(when));
    }
    if (row->ended_by[0]) {
        json_object_set_new(o, "terminated_by", json_string(row->ended_by));
        json_object_set_new(o, "reason", json_string(row->end_reason));
    }
    if (mou_parse(row->text, row->text_len, row->id, &m, err, sizeof err) == 0) {
        uint64_t exp = mou_expires_ms(m);
        format_time_ms(exp, when);
        json_object_set_new(o, "expires", json_string(when));
        json_object_set_new(o, "days_to_expiry",
                            json_integer(now < exp ? (json_int_t)((exp - now) / DAY_MS) : -1));
        json_object_set_new(o, "in_force", json_boolean(mou_valid_at(m, now, NULL, 0)));
        if (full)
            json_object_set_new(o, "mou", mou_to_json(m, now));
        mou_destroy(&m);
    }
    return o;
}

static void s_row_text(const json_t *o)
{
    const char *state = json_string_value(json_object_get(o, "state"));
    if (strcmp(state, "active") == 0 && json_is_false(json_object_get(o, "in_force")))
        state = "not-in-force"; /* active, but expired or not yet effective */
    printf("%-34s %-18s %-12s expires %s (%lld days)  hash %.16s...\n",
           json_string_value(json_object_get(o, "id")),
           json_string_value(json_object_get(o, "peer")), state,
           json_string_value(json_object_get(o, "expires")),
           (long long)json_integer_value(json_object_get(o, "days_to_expiry")),
           json_string_value(json_object_get(o, "hash")));
    if (json_object_get(o, "terminated_by"))
        printf("%-34s terminated by %s on %s: %s\n", "",
               json_string_value(json_object_get(o, "terminated_by")),
               json_string_value(json_object_get(o, "ended")),
               json_string_value(json_object_get(o, "reason")));
    cli_print_counts(json_object_get(o, "counts"), 35);
}

static int s_parse_dir_json(int argc, char **argv, const char *usage, const char **dir,
                            int *as_json, int want_args)
{
    static const struct option opts[] = {{"dir", required_argument, 0, 'd'},
                                         {"json", no_argument, 0, 'j'},
                                         {0, 0, 0, 0}};
    const char *dir_opt = NULL;
    int c;
    *as_json = 0;
    optind = 2;
    while ((c = getopt_long(argc, argv, "d:", opts, NULL)) != -1) {
        if (c == 'd')
            dir_opt = optarg;
        else if (c == 'j')
            *as_json = 1;
        else
            return s_usage_node(usage);
    }
    if (!(*dir = cli_dir(dir_opt)))
        return 1;
    return argc - optind == want_args ? 0 : s_usage_node(usage);
}

int cmd_mou_list(int argc, char **argv)
{
    const char *dir;
    int as_json, rc = s_parse_dir_json(argc, argv, s_use_list, &dir, &as_json, 0);
    store_t *st = rc ? NULL : s_store(dir, STORE_RO);
    if (!st)
        return rc ? rc : 1;
    store_mou_t *rows = NULL;
    size_t n = 0;
    if (store_mou_list(st, &rows, &n) != 0)
        rc = cli_fail("%s: cannot read MOUs: %s", dir, store_errmsg(st));
    for (size_t i = 0; i < n; i++) {
        json_t *o = s_row_json(st, &rows[i], 0);
        if (as_json) {
            char *line = json_dumps(o, JSON_COMPACT);
            printf("%s\n", line);
            free(line);
        } else {
            s_row_text(o);
        }
        json_decref(o);
        store_mou_free(&rows[i]);
    }
    if (!rc && !as_json && n == 0)
        printf("no MOUs: nothing flows to or from any partner (moux mou activate)\n");
    free(rows);
    store_destroy(&st);
    return rc;
}

/* The newest MOU with this id (or hash) the node holds. */
static int s_find(store_t *st, const char *key, store_mou_t *out)
{
    store_mou_t *rows = NULL;
    size_t n = 0, hit = (size_t)-1;
    if (store_mou_list(st, &rows, &n) != 0)
        return -1;
    for (size_t i = 0; i < n && hit == (size_t)-1; i++) {
        char hex[MOU_HASH_HEX];
        hex_encode(rows[i].hash, MOU_HASH_BYTES, hex);
        if (strcmp(rows[i].id, key) == 0 || strcmp(hex, key) == 0)
            hit = i;
    }
    for (size_t i = 0; i < n; i++)
        if (i == hit)
            *out = rows[i];
        else
            store_mou_free(&rows[i]);
    free(rows);
    return hit != (size_t)-1;
}

int cmd_mou_show_active(int argc, char **argv)
{
    const char *dir;
    int as_json, rc = s_parse_dir_json(argc, argv, s_use_show_node, &dir, &as_json, 1);
    store_t *st = rc ? NULL : s_store(dir, STORE_RO);
    if (!st)
        return rc ? rc : 1;
    store_mou_t row;
    int found = s_find(st, argv[optind], &row);
    if (found <= 0) {
        rc = found < 0 ? cli_fail("%s: cannot read MOUs: %s", dir, store_errmsg(st))
                       : cli_fail("%s: no MOU with id or hash %s", dir, argv[optind]);
    } else {
        json_t *o = s_row_json(st, &row, 1);
        if (as_json) {
            char *line = json_dumps(o, JSON_COMPACT);
            printf("%s\n", line);
            free(line);
        } else {
            s_row_text(o);
            fwrite(row.text, 1, row.text_len, stdout);
        }
        json_decref(o);
        store_mou_free(&row);
    }
    store_destroy(&st);
    return rc;
}

/* ---- terminate ---- */

int cmd_mou_terminate(int argc, char **argv)
{
    static const struct option opts[] = {{"dir", required_argument, 0, 'd'},
                                         {"root", required_argument, 0, 'r'},
                                         {"passphrase-file", required_argument, 0, 'p'},
                                         {"reason", required_argument, 0, 'R'},
                                         {0, 0, 0, 0}};
    const char *dir_opt = NULL, *root_file = NULL, *pass_file = NULL, *reason = "";
    int c;
    optind = 2;
    while ((c = getopt_long(argc, argv, "d:", opts, NULL)) != -1) {
        switch (c) {
        case 'd': dir_opt = optarg; break;
        case 'r': root_file = optarg; break;
        case 'p': pass_file = optarg; break;
        case 'R': reason = optarg; break;
        default: return s_usage_node(s_use_terminate);
        }
    }
    const char *dir = cli_dir(dir_opt);
    if (!dir)
        return 1;
    if (optind != argc - 1 || !root_file)
        return s_usage_node(s_use_terminate);
    if (strlen(reason) > MOU_NOTICE_REASON_MAX)
        return cli_fail("--reason: at most %d bytes", MOU_NOTICE_REASON_MAX);
    config_t cfg;
    if (cli_config(dir, &cfg) != 0)
        return 1;
    store_t *st = s_store(dir, STORE_RW);
    if (!st)
        return 1;
    int rc = 1;
    store_mou_t row = {0};
    rootkey_t *root = NULL;
    uint8_t *notice = NULL;
    size_t nlen = 0;
    unsigned char own_root[32];
    char err[512];
    int found = s_find(st, argv[optind], &row);
    if (found <= 0) {
        cli_fail("%s: no MOU with id or hash %s", dir, argv[optind]);
        goto out;
    }
    if (strcmp(row.state, "active") != 0) {
        cli_fail("%s: MOU %s is %s, not active: nothing to terminate", dir, row.id, row.state);
        goto out;
    }
    char root_pub[PATH_MAX_MOUX];
    snprintf(root_pub, sizeof root_pub, "%s/keys/root.pub", dir);
    if (!(root = cli_open_root(root_file, pass_file)))
        goto out;
    if (keyfile_read_public(root_pub, ROOT_PUB_LABEL, own_root, 32) != KEY_OK ||
        sodium_memcmp(own_root, root->pk, 32) != 0) {
        cli_fail("%s is not the root key of %s (%s): only a party's own root ends an MOU",
                 root_file, cfg.agency, root_pub);
        goto out;
    }
    mou_notice_t n = {.effective_ms = now_ms()};
    str_copy(n.agency, sizeof n.agency, cfg.agency);
    str_copy(n.mou_id, sizeof n.mou_id, row.id);
    str_copy(n.reason, sizeof n.reason, reason);
    memcpy(n.mou_hash, row.hash, MOU_HASH_BYTES);
    const char *why = NULL;
    if (mou_notice_sign(&n, root, &notice, &nlen, &why) != 0) {
        cli_fail("cannot sign the termination notice: %s", why);
        goto out;
    }
    if (store_begin(st) != 0 ||
        store_mou_terminate(st, row.hash, cfg.agency, reason, n.effective_ms, notice, nlen) < 0 ||
        store_event(st, "mou-terminated", row.peer, NULL, reason, row.id) != 0 ||
        store_commit(st) != 0) {
        store_rollback(st);
        snprintf(err, sizeof err, "%s", store_errmsg(st));
        cli_fail("%s: cannot record the termination: %s", dir, err);
        goto out;
    }
    printf("MOU %s with %s terminated: nothing flows under it from now; the signed notice goes "
           "to %s on the link\n", row.id, row.peer, row.peer);
    rc = cli_tell_node_cmd(dir, "reload", "it stopped and tells the partner",
                           "it tells the partner when it starts");
out:
    free(notice);
    rootkey_destroy(&root);
    store_mou_free(&row);
    store_destroy(&st);
    return rc;
}

/* ---- purge ---- */

int cmd_mou_purge(int argc, char **argv)
{
    static const struct option opts[] = {{"dir", required_argument, 0, 'd'},
                                         {"at", required_argument, 0, 'a'},
                                         {0, 0, 0, 0}};
    const char *dir_opt = NULL, *at = NULL;
    int c;
    optind = 2;
    while ((c = getopt_long(argc, argv, "d:", opts, NULL)) != -1) {
        if (c == 'd')
            dir_opt = optarg;
        else if (c == 'a')
            at = optarg;
        else
            return s_usage_node(s_use_purge);
    }
    const char *dir = cli_dir(dir_opt);
    if (!dir || optind != argc)
        return dir ? s_usage_node(s_use_purge) : 1;
    uint64_t when = now_ms(), purged = 0;
    /* Later than now only: retention is a most, so purging as of a later
     * time deletes early but never keeps anything too long. */
    if (at && (parse_time_ms(at, &when) != 0 || when < now_ms()))
        return cli_fail("--at: \"%s\" is not a time from now on (YYYY-MM-DDTHH:MM:SSZ or +Nd)",
                        at);
    if (ctl_running(dir)) {
        json_t *req = json_pack("{s:s, s:I}", "cmd", "purge", "at_ms", (json_int_t)when);
        json_t *reply = cli_call(dir, req, 60000);
        json_decref(req);
        if (!reply)
            return 1;
        purged = (uint64_t)json_integer_value(json_object_get(reply, "purged"));
        json_decref(reply);
    } else {
        config_t cfg;
        char err[512];
        store_t *st = cli_config(dir, &cfg) == 0 ? s_store(dir, STORE_RW) : NULL;
        if (!st)
            return 1;
        int rc = retention_purge(st, cfg.agency, when, &purged, err, sizeof err);
        store_destroy(&st);
        if (rc != 0)
            return cli_fail("%s: %s", dir, err);
    }
    printf("%llu item(s) held past their MOU's retention purged\n", (unsigned long long)purged);
    return 0;
}
