/* moux keys: the agency root key, node certificates and revocation lists
 * (docs/KEYS.md). The root key lives offline; every command that opens it
 * takes --passphrase-file or asks on the terminal. */
#include "cli.h"
#include "cert.h"
#include "ctlclient.h"
#include "keyfile.h"
#include "nodekeys.h"
#include "passphrase.h"
#include "revocation.h"
#include "rootkey.h"
#include "util.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DAY_MS 86400000ULL
#define WARN_DAYS 7
#define CTL_TIMEOUT_MS 5000
#define HEX_ID (2 * KEYID_BYTES + 1)

static const char *s_use_gen =
    "usage: moux keys root-gen --out FILE [--passphrase-file F | --no-passphrase] [--force]";
static const char *s_use_pub = "usage: moux keys root-pub FILE [--json]";
static const char *s_use_passwd = "usage: moux keys passwd FILE [--passphrase-file OLD] "
                                  "[--new-passphrase-file NEW | --no-passphrase]";
static const char *s_use_certify = "usage: moux keys certify -d DIR --root FILE "
                                   "[--passphrase-file F] [--days N | --until TIME] [--serial N]";
static const char *s_use_revoke =
    "usage: moux keys revoke --root FILE [--passphrase-file F] (--serial N | --key KEYID_HEX)... "
    "[--list FILE] [-d DIR] [--agency ID] [--force]";
static const char *s_use_show = "usage: moux keys show -d DIR [--json]";

/* ---- shared helpers ---- */

static int s_usage(const char *usage)
{
    cli_fail("%s", usage);
    return 2;
}

/* Strict decimal in [1, max]. */
static int s_parse_u64(const char *text, uint64_t max, uint64_t *out)
{
    char *end = NULL;
    if (!text[0] || text[0] < '0' || text[0] > '9')
        return -1;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno || *end || v == 0 || v > max)
        return -1;
    *out = v;
    return 0;
}

static int s_keys_path(const char *dir, const char *name, char *out, size_t cap)
{
    if (snprintf(out, cap, "%s/keys/%s", dir, name) >= (int)cap)
        return cli_fail("%s: path too long", dir);
    return 0;
}

static int s_exists(const char *path)
{
    return access(path, F_OK) == 0;
}

static void s_fp_text(const unsigned char pk[32], char out[FP_STRLEN])
{
    unsigned char fp[FP_BYTES];
    root_fingerprint(pk, fp);
    fingerprint_format(fp, out);
}

/* A new passphrase (asked twice on the terminal), or NULL for none. */
static int s_new_passphrase(const char *pass_file, int none, char **pass)
{
    char err[512];
    *pass = NULL;
    if (none) {
        fprintf(stderr, "moux: WARNING: the root key is stored UNENCRYPTED; use only for "
                        "tests\n");
        return 0;
    }
    *pass = passphrase_read(pass_file, "New root key passphrase: ", 1, err, sizeof err);
    return *pass ? 0 : cli_fail("%s", err);
}

static void s_print_json(json_t *o)
{
    char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    if (text)
        printf("%s\n", text);
    else
        cli_fail("out of memory");
    free(text);
}

/* ---- root-gen, root-pub, passwd ---- */

static int s_root_gen(int argc, char **argv)
{
    static const struct option opts[] = {{"out", required_argument, 0, 'o'},
                                         {"passphrase-file", required_argument, 0, 'p'},
                                         {"no-passphrase", no_argument, 0, 'n'},
                                         {"force", no_argument, 0, 'F'},
                                         {0, 0, 0, 0}};
    const char *out = NULL, *pass_file = NULL;
    int none = 0, force = 0, c;
    optind = 2;
    while ((c = getopt_long(argc, argv, "o:", opts, NULL)) != -1) {
        switch (c) {
        case 'o': out = optarg; break;
        case 'p': pass_file = optarg; break;
        case 'n': none = 1; break;
        case 'F': force = 1; break;
        default: return s_usage(s_use_gen);
        }
    }
    if (!out || optind != argc || (pass_file && none))
        return s_usage(s_use_gen);
    char *pass = NULL, err[512], fps[FP_STRLEN], kid[HEX_ID];
    rootkey_t *root = NULL;
    int rc = 1;
    /* Before the passphrase is typed twice for nothing. */
    if (!force && s_exists(out)) {
        cli_fail("%s exists; refusing to overwrite a root key (--force replaces it, and the "
                 "old key is then gone)", out);
        goto out;
    }
    if (s_new_passphrase(pass_file, none, &pass) != 0)
        goto out;
    if (!(root = rootkey_generate())) {
        cli_fail("out of secure memory");
        goto out;
    }
    if (rootkey_save(root, out, pass, force, err, sizeof err) != 0) {
        cli_fail("%s", err);
        goto out;
    }
    s_fp_text(root->pk, fps);
    hex_encode(root->key_id, KEYID_BYTES, kid);
    printf("root key written to %s (%s)\n  key id      %s\n  fingerprint %s\n"
           "keep %s offline; read the fingerprint to every partner out of band\n",
           out, pass ? "sealed with a passphrase" : "UNENCRYPTED", kid, fps, out);
    rc = 0;
out:
    sodium_free(pass);
    rootkey_destroy(&root);
    return rc;
}

static int s_root_pub(int argc, char **argv)
{
    const char *file = NULL;
    int as_json = 0;
    if (cli_file_json_args(argc, argv, &file, &as_json) != 0)
        return s_usage(s_use_pub);
    unsigned char pk[32], id[KEYID_BYTES];
    char err[512], b64[64], kid[HEX_ID], fps[FP_STRLEN];
    if (rootkey_read_public(file, pk, err, sizeof err) != 0)
        return cli_fail("%s", err);
    keyid_of(pk, sizeof pk, id);
    b64_encode(pk, sizeof pk, b64, sizeof b64);
    hex_encode(id, sizeof id, kid);
    s_fp_text(pk, fps);
    if (!as_json) {
        printf("public      %s\nkey id      %s\nfingerprint %s\n", b64, kid, fps);
        return 0;
    }
    json_t *o = json_pack("{s:s, s:s, s:s}", "public", b64, "key_id", kid, "fingerprint", fps);
    s_print_json(o);
    json_decref(o);
    return o ? 0 : 1;
}

static int s_passwd(int argc, char **argv)
{
    static const struct option opts[] = {{"passphrase-file", required_argument, 0, 'p'},
                                         {"new-passphrase-file", required_argument, 0, 'N'},
                                         {"no-passphrase", no_argument, 0, 'n'},
                                         {0, 0, 0, 0}};
    const char *old_file = NULL, *new_file = NULL;
    int none = 0, c;
    optind = 2;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'p': old_file = optarg; break;
        case 'N': new_file = optarg; break;
        case 'n': none = 1; break;
        default: return s_usage(s_use_passwd);
        }
    }
    if (optind != argc - 1 || (new_file && none))
        return s_usage(s_use_passwd);
    const char *file = argv[optind];
    char *pass = NULL, err[512], fps[FP_STRLEN];
    rootkey_t *root = cli_open_root(file, old_file);
    int rc = 1;
    if (!root || s_new_passphrase(new_file, none, &pass) != 0)
        goto out;
    /* force: replaced atomically (FILE.tmp, fsync, rename), never half-written */
    if (rootkey_save(root, file, pass, 1, err, sizeof err) != 0) {
        cli_fail("%s", err);
        goto out;
    }
    s_fp_text(root->pk, fps);
    printf("%s re-sealed (%s); same key, fingerprint %s\n", file,
           pass ? "new passphrase" : "UNENCRYPTED", fps);
    rc = 0;
out:
    sodium_free(pass);
    rootkey_destroy(&root);
    return rc;
}

/* ---- certify ---- */

/* DIR/keys/root.pub must be absent or hold pk: a node answers to one root. */
static int s_check_root_pub(const char *dir, const unsigned char pk[32])
{
    char path[PATH_MAX_MOUX + 32];
    unsigned char have[32];
    if (s_keys_path(dir, "root.pub", path, sizeof path) != 0)
        return 1;
    if (!s_exists(path))
        return 0;
    key_err_t kr = keyfile_read_public(path, ROOT_PUB_LABEL, have, sizeof have);
    if (kr != KEY_OK)
        return cli_fail("%s: %s", path, key_strerror(kr));
    if (sodium_memcmp(have, pk, 32) != 0)
        return cli_fail("%s holds another root key; this node belongs to that root (remove "
                        "%s only if the agency really changed its root)", path, path);
    return 0;
}

/* The certificate DIR's node speaks with (keys/node.cert), verified
 * against the root; *have stays 0 when the node has none yet. hint ends
 * every error ("" for none). */
static int s_node_cert(const char *dir, const unsigned char root_pk[32], cert_t *cert, int *have,
                       const char *hint)
{
    char path[PATH_MAX_MOUX + 32], err[512];
    *have = 0;
    if (s_keys_path(dir, "node.cert", path, sizeof path) != 0)
        return 1;
    if (!s_exists(path))
        return 0;
    uint8_t *data = NULL;
    size_t len = 0;
    const char *why = NULL;
    if (cert_load(path, &data, &len, err, sizeof err) != 0)
        return cli_fail("%s%s", err, hint);
    int rc = cert_verify(data, len, root_pk, cert, &why);
    free(data);
    if (rc != 0 && strcmp(why, "wrong-root") == 0)
        return cli_fail("%s was issued by another root%s", path, hint);
    if (rc != 0)
        return cli_fail("%s: %s%s", path, why, hint);
    *have = 1;
    return 0;
}

/* One more than the serial of the current DIR/keys/node.cert, or 1. */
static int s_next_serial(const char *dir, const unsigned char root_pk[32], uint64_t *serial)
{
    cert_t old;
    int have = 0;
    *serial = 1;
    if (s_node_cert(dir, root_pk, &old, &have, "; use --serial to start over") != 0)
        return 1;
    if (!have)
        return 0;
    if (old.serial == UINT64_MAX)
        return cli_fail("%s/keys/node.cert: serial %" PRIu64 " cannot be followed; use --serial",
                        dir, old.serial);
    *serial = old.serial + 1;
    return 0;
}

/* What certify adds to cli_certify's report: where things are, and the key
 * id an operator would name in a revocation. */
static void s_cert_report(const char *dir, const nodekeys_t *keys)
{
    char kid[HEX_ID];
    hex_encode(keys->sign_id, KEYID_BYTES, kid);
    printf("  sign key id %s\n  written     %s/keys/node.cert, %s/keys/root.pub\n", kid, dir,
           dir);
}

static int s_certify(int argc, char **argv)
{
    static const struct option opts[] = {{"dir", required_argument, 0, 'd'},
                                         {"root", required_argument, 0, 'r'},
                                         {"passphrase-file", required_argument, 0, 'p'},
                                         {"days", required_argument, 0, 'D'},
                                         {"until", required_argument, 0, 'U'},
                                         {"serial", required_argument, 0, 's'},
                                         {0, 0, 0, 0}};
    const char *dir_opt = NULL, *root_file = NULL, *pass_file = NULL;
    uint64_t not_after = cli_default_not_after();
    uint64_t serial = 0;
    int c;
    optind = 2;
    while ((c = getopt_long(argc, argv, "d:", opts, NULL)) != -1) {
        switch (c) {
        case 'd': dir_opt = optarg; break;
        case 'r': root_file = optarg; break;
        case 'p': pass_file = optarg; break;
        case 'D':
            if (cli_days(optarg, &not_after) != 0)
                return 2;
            break;
        case 'U':
            if (cli_until(optarg, &not_after) != 0)
                return 2;
            break;
        case 's':
            if (s_parse_u64(optarg, UINT64_MAX, &serial) != 0) {
                cli_fail("--serial: \"%s\" is not a serial (a number from 1)", optarg);
                return 2;
            }
            break;
        default: return s_usage(s_use_certify);
        }
    }
    if (!root_file || optind != argc)
        return s_usage(s_use_certify);
    const char *dir = cli_dir(dir_opt);
    if (!dir)
        return 2;
    config_t cfg;
    char err[512];
    unsigned char pk[32];
    int rc = 1;
    nodekeys_t *keys = NULL;
    /* Everything that can be checked without the passphrase is checked
     * first, and before anything is written: a node.cert from another root
     * is never replaced by accident. */
    if (cli_config(dir, &cfg) != 0)
        goto out;
    if (!(keys = nodekeys_load(dir, err, sizeof err))) {
        cli_fail("%s", err);
        goto out;
    }
    if (rootkey_read_public(root_file, pk, err, sizeof err) != 0) {
        cli_fail("%s", err);
        goto out;
    }
    if (s_check_root_pub(dir, pk) != 0 || (!serial && s_next_serial(dir, pk, &serial) != 0))
        goto out;
    cert_t cert;
    if (cli_certify(dir, &cfg, keys, root_file, pass_file, not_after, serial, &cert) != 0)
        goto out;
    s_cert_report(dir, keys);
    rc = cli_tell_node(dir, "it announces the renewed certificate to its partners",
                       "it announces the certificate when it starts");
out:
    nodekeys_destroy(&keys);
    return rc;
}

/* ---- revoke ---- */

typedef struct {
    const char *root_file, *pass_file, *list_opt, *dir, *agency;
    int force; /* revoke the node's current key too */
    uint64_t *serials;
    size_t n_serials;
    unsigned char (*key_ids)[KEYID_BYTES];
    size_t n_key_ids;
} s_revoke_args_t;

static void s_revoke_args_free(s_revoke_args_t *a)
{
    free(a->serials);
    free(a->key_ids);
}

/* Parses the options; 0, or the exit status (2 for usage). */
static int s_revoke_parse(int argc, char **argv, s_revoke_args_t *a)
{
    static const struct option opts[] = {
        {"root", required_argument, 0, 'r'},  {"passphrase-file", required_argument, 0, 'p'},
        {"serial", required_argument, 0, 's'}, {"key", required_argument, 0, 'k'},
        {"list", required_argument, 0, 'l'},  {"dir", required_argument, 0, 'd'},
        {"agency", required_argument, 0, 'a'}, {"force", no_argument, 0, 'f'},
        {0, 0, 0, 0}};
    memset(a, 0, sizeof *a);
    a->serials = calloc((size_t)argc, sizeof *a->serials); /* never more entries than words */
    a->key_ids = calloc((size_t)argc, sizeof *a->key_ids);
    if (!a->serials || !a->key_ids)
        return cli_fail("out of memory");
    int c;
    optind = 2;
    while ((c = getopt_long(argc, argv, "d:", opts, NULL)) != -1) {
        switch (c) {
        case 'r': a->root_file = optarg; break;
        case 'p': a->pass_file = optarg; break;
        case 'l': a->list_opt = optarg; break;
        case 'd': a->dir = optarg; break;
        case 'a': a->agency = optarg; break;
        case 'f': a->force = 1; break;
        case 's':
            if (s_parse_u64(optarg, UINT64_MAX, &a->serials[a->n_serials++]) != 0) {
                cli_fail("--serial: \"%s\" is not a certificate serial (a number from 1)", optarg);
                return 2;
            }
            break;
        case 'k':
            if (hex_decode(optarg, a->key_ids[a->n_key_ids++], KEYID_BYTES) != 0) {
                cli_fail("--key: \"%s\" is not a key id (64 hex digits; see moux keys show)",
                         optarg);
                return 2;
            }
            break;
        default: return s_usage(s_use_revoke);
        }
    }
    if (!a->root_file || optind != argc || a->n_serials + a->n_key_ids == 0 ||
        (!a->list_opt && !a->dir))
        return s_usage(s_use_revoke);
    return 0;
}

/* The list on disk, verified against root_pk, into *l; *l stays empty when
 * there is no file yet. */
static int s_load_list(const char *path, const unsigned char root_pk[32], revlist_t *l)
{
    char err[512];
    uint8_t *data = NULL;
    size_t len = 0;
    const char *why = NULL;
    memset(l, 0, sizeof *l);
    if (!s_exists(path))
        return 0;
    if (revlist_load(path, &data, &len, err, sizeof err) != 0)
        return cli_fail("%s", err);
    int rc = revlist_verify(data, len, root_pk, l, &why);
    free(data);
    if (rc != 0)
        return cli_fail("%s: %s; refusing to build on it (is --root the right root key?)", path,
                        why);
    return 0;
}

/* The agency the list speaks for: the existing list's, which must agree
 * with the node's (-d) and --agency; else one of those. */
static int s_list_agency(const s_revoke_args_t *a, const revlist_t *old,
                         char out[AGENCY_MAX + 1])
{
    config_t cfg;
    const char *node = NULL;
    if (a->dir) {
        if (cli_config(a->dir, &cfg) != 0)
            return 1;
        node = cfg.agency;
    }
    const char *want = old->number ? old->agency : node ? node : a->agency;
    if (!want)
        return cli_fail("a first revocation list needs its agency: give -d DIR or --agency ID");
    if ((node && strcmp(node, want) != 0) || (a->agency && strcmp(a->agency, want) != 0))
        return cli_fail("agency mismatch: the list is for %s, but %s was given", want,
                        node && strcmp(node, want) != 0 ? node : a->agency);
    if (!agency_id_valid(want))
        return cli_fail("\"%s\" is not an agency id", want);
    char copy[AGENCY_MAX + 1]; /* out may be old->agency itself */
    str_copy(copy, sizeof copy, want);
    memcpy(out, copy, sizeof copy);
    return 0;
}

/* Adds the new entries; returns how many were not on the list yet, or -1. */
static long s_add_entries(revlist_t *l, const s_revoke_args_t *a)
{
    size_t before = l->n_serials + l->n_key_ids;
    for (size_t i = 0; i < a->n_serials; i++)
        if (revlist_add_serial(l, a->serials[i]) != 0)
            return -1;
    for (size_t i = 0; i < a->n_key_ids; i++)
        if (revlist_add_key_id(l, a->key_ids[i]) != 0)
            return -1;
    return (long)(l->n_serials + l->n_key_ids - before);
}

static void s_list_report(const char *path, const revlist_t *l)
{
    char when[32], kid[HEX_ID];
    format_time_ms(l->issued_ms, when);
    printf("revocation list %" PRIu64 " for %s written to %s (issued %s)\n", l->number, l->agency,
           path, when);
    for (size_t i = 0; i < l->n_serials; i++)
        printf("  serial      %" PRIu64 "\n", l->serials[i]);
    for (size_t i = 0; i < l->n_key_ids; i++) {
        hex_encode(l->key_ids[i], KEYID_BYTES, kid);
        printf("  key id      %s\n", kid);
    }
}

/* Tells a running node to reload its keys and revocation list. */
static int s_push(const char *dir, uint64_t number)
{
    char now[128], later[128];
    snprintf(now, sizeof now, "partners get revocation list %" PRIu64 " now", number);
    snprintf(later, sizeof later, "it announces list %" PRIu64 " when it starts", number);
    return cli_tell_node(dir, now, later);
}

/* Signs l and writes it to path atomically. */
static int s_sign_save(const char *path, const revlist_t *l, const rootkey_t *root)
{
    char err[512];
    uint8_t *data = NULL;
    size_t len = 0;
    if (revlist_sign(l, root, &data, &len) != 0)
        return cli_fail("cannot sign the revocation list (too many entries or out of memory)");
    int rc = revlist_save(path, data, len, err, sizeof err) != 0 ? cli_fail("%s", err) : 0;
    free(data);
    return rc;
}

/* Revoking the key a node still speaks with cuts it off before partners
 * learn its next certificate (KEYS.md 7.3): refused unless --force. */
static int s_guard_current(const s_revoke_args_t *a, const unsigned char root_pk[32])
{
    cert_t cur;
    int have = 0;
    if (!a->dir || a->force)
        return 0;
    if (s_node_cert(a->dir, root_pk, &cur, &have,
                    " (checked so as not to revoke the node's current key; --force skips it)") != 0)
        return 1;
    unsigned char kid[KEYID_BYTES];
    char hex[HEX_ID];
    keyid_of(cur.sign_pk, 32, kid);
    hex_encode(kid, KEYID_BYTES, hex);
    int hit = 0;
    for (size_t i = 0; have && i < a->n_serials; i++)
        hit |= a->serials[i] == cur.serial;
    for (size_t i = 0; have && i < a->n_key_ids; i++)
        hit |= memcmp(a->key_ids[i], kid, KEYID_BYTES) == 0;
    if (!hit)
        return 0;
    return cli_fail("refusing to revoke the key %s speaks with now (certificate serial %" PRIu64
                    ", key id %s): partners would refuse it before they learn a new "
                    "certificate. Rotate first (moux keys rotate -d %s --root ROOTFILE), wait "
                    "for KEYS-ACKED, then revoke the old key; or, to cut the node off now (a "
                    "compromised key), add --force", a->dir, cur.serial, hex, a->dir);
}

static int s_revoke(int argc, char **argv)
{
    s_revoke_args_t a;
    revlist_t l;
    rootkey_t *root = NULL;
    char path[PATH_MAX_MOUX + 32], err[512];
    unsigned char pk[32];
    memset(&l, 0, sizeof l);
    int rc = s_revoke_parse(argc, argv, &a);
    if (rc != 0)
        goto out;
    rc = 1;
    if (a.list_opt)
        str_copy(path, sizeof path, a.list_opt);
    else if (s_keys_path(a.dir, "revocations.list", path, sizeof path) != 0)
        goto out;
    if (rootkey_read_public(a.root_file, pk, err, sizeof err) != 0) {
        cli_fail("%s", err);
        goto out;
    }
    /* A node's list must come from the root the node answers to. */
    if ((a.dir && s_check_root_pub(a.dir, pk) != 0) || s_guard_current(&a, pk) != 0 ||
        s_load_list(path, pk, &l) != 0 || s_list_agency(&a, &l, l.agency) != 0)
        goto out;
    if (l.number == UINT64_MAX) {
        cli_fail("%s: list number %" PRIu64 " cannot be followed", path, l.number);
        goto out;
    }
    long added = s_add_entries(&l, &a);
    if (added < 0) {
        cli_fail("%s: the list would exceed %d serials or %d key ids", path,
                 REVLIST_MAX_ENTRIES, REVLIST_MAX_ENTRIES);
        goto out;
    }
    if (added == 0) {
        printf("nothing new: every entry is already on list %" PRIu64 " (%s)\n", l.number, path);
        rc = 0;
        goto out;
    }
    l.number++;
    l.issued_ms = now_ms();
    if (!(root = cli_open_root(a.root_file, a.pass_file)) || s_sign_save(path, &l, root) != 0)
        goto out;
    s_list_report(path, &l);
    rc = a.dir ? s_push(a.dir, l.number) : 0;
out:
    rootkey_destroy(&root);
    revlist_free(&l);
    s_revoke_args_free(&a);
    return rc;
}

/* ---- show ---- */

typedef struct {
    char sign_id[HEX_ID], enc_id[HEX_ID], curve_b64[64];
    int have_root, have_cert, have_list;
    char root_fp[FP_STRLEN];
    cert_t cert;
    int cert_matches; /* the certificate names this node's current keys */
    int64_t days_left;
    revlist_t list;
    int revoked; /* the list covers this node's certificate or signing key */
} s_show_t;

static int s_show_root(const char *dir, unsigned char pk[32], s_show_t *s)
{
    char path[PATH_MAX_MOUX + 32];
    if (s_keys_path(dir, "root.pub", path, sizeof path) != 0)
        return 1;
    if (!s_exists(path))
        return 0;
    key_err_t kr = keyfile_read_public(path, ROOT_PUB_LABEL, pk, 32);
    if (kr != KEY_OK)
        return cli_fail("%s: %s", path, key_strerror(kr));
    s->have_root = 1;
    s_fp_text(pk, s->root_fp);
    return 0;
}

static int s_show_cert(const char *dir, const unsigned char pk[32], const nodekeys_t *keys,
                       s_show_t *s)
{
    char path[PATH_MAX_MOUX + 32];
    if (s_keys_path(dir, "node.cert", path, sizeof path) != 0)
        return 1;
    if (!s_exists(path))
        return 0;
    if (!s->have_root)
        return cli_fail("%s exists but %s/keys/root.pub does not: cannot check it; run moux "
                        "keys certify -d %s --root ROOTFILE", path, dir, dir);
    if (s_node_cert(dir, pk, &s->cert, &s->have_cert, "") != 0)
        return 1;
    s->cert_matches = memcmp(s->cert.sign_pk, keys->sign_pk, 32) == 0 &&
                      memcmp(s->cert.enc_pk, keys->enc_pk, 32) == 0 &&
                      memcmp(s->cert.curve_pk, keys->curve_pk, 32) == 0;
    int64_t left = (int64_t)s->cert.not_after_ms - (int64_t)now_ms();
    s->days_left = left < 0 ? -1 : left / (int64_t)DAY_MS;
    return 0;
}

static int s_show_list(const char *dir, const unsigned char pk[32], const nodekeys_t *keys,
                       s_show_t *s)
{
    char path[PATH_MAX_MOUX + 32];
    if (s_keys_path(dir, "revocations.list", path, sizeof path) != 0)
        return 1;
    if (!s_exists(path))
        return 0;
    if (!s->have_root)
        return cli_fail("%s exists but %s/keys/root.pub does not: cannot check it", path, dir);
    if (s_load_list(path, pk, &s->list) != 0)
        return 1;
    s->have_list = 1;
    s->revoked = revlist_covers(&s->list, s->have_cert ? s->cert.serial : 0, keys->sign_id);
    return 0;
}

static void s_show_warn(const char *dir, const s_show_t *s)
{
    if (s->have_cert && s->days_left < 0)
        fprintf(stderr, "moux: WARNING: the node certificate has EXPIRED; partners refuse it: "
                        "moux keys certify -d %s --root ROOTFILE\n", dir);
    else if (s->have_cert && s->days_left == 0)
        fprintf(stderr, "moux: WARNING: the node certificate expires within a day: moux keys "
                        "certify -d %s --root ROOTFILE\n", dir);
    else if (s->have_cert && s->days_left < WARN_DAYS)
        fprintf(stderr, "moux: WARNING: the node certificate expires in %" PRId64 " days: "
                        "moux keys certify -d %s --root ROOTFILE\n", s->days_left, dir);
    if (s->have_cert && !s->cert_matches)
        fprintf(stderr, "moux: WARNING: the certificate is for other keys than the node's "
                        "current ones; certify again\n");
    if (s->revoked)
        fprintf(stderr, "moux: WARNING: this node's certificate or signing key is on its own "
                        "agency's revocation list\n");
}

static void s_show_text(const char *dir, const s_show_t *s)
{
    char from[32], to[32], when[32], kid[HEX_ID];
    printf("node keys (%s/keys)\n  sign key id %s\n  enc key id  %s\n  curve key   %s\n", dir,
           s->sign_id, s->enc_id, s->curve_b64);
    printf("root fingerprint %s\n", s->have_root ? s->root_fp : "(none: no keys/root.pub)");
    if (!s->have_cert) {
        printf("not certified: run moux keys certify -d %s --root ROOTFILE\n", dir);
    } else {
        format_time_ms(s->cert.not_before_ms, from);
        format_time_ms(s->cert.not_after_ms, to);
        printf("certificate\n  serial      %" PRIu64 "\n  not before  %s\n  not after   %s\n",
               s->cert.serial, from, to);
        if (s->days_left < 0)
            printf("  days left   expired\n");
        else
            printf("  days left   %" PRId64 "\n", s->days_left);
    }
    if (!s->have_list) {
        printf("revocation list: none\n");
        return;
    }
    format_time_ms(s->list.issued_ms, when);
    printf("revocation list %" PRIu64 " (issued %s)\n", s->list.number, when);
    for (size_t i = 0; i < s->list.n_serials; i++)
        printf("  serial      %" PRIu64 "\n", s->list.serials[i]);
    for (size_t i = 0; i < s->list.n_key_ids; i++) {
        hex_encode(s->list.key_ids[i], KEYID_BYTES, kid);
        printf("  key id      %s\n", kid);
    }
}

static json_t *s_show_json_list(const revlist_t *l)
{
    char when[32], kid[HEX_ID];
    json_t *serials = json_array(), *ids = json_array();
    for (size_t i = 0; serials && i < l->n_serials; i++)
        json_array_append_new(serials, json_integer((json_int_t)l->serials[i]));
    for (size_t i = 0; ids && i < l->n_key_ids; i++) {
        hex_encode(l->key_ids[i], KEYID_BYTES, kid);
        json_array_append_new(ids, json_string(kid));
    }
    format_time_ms(l->issued_ms, when);
    return json_pack("{s:I, s:s, s:o, s:o}", "number", (json_int_t)l->number, "issued", when,
                     "serials", serials, "key_ids", ids);
}

static int s_show_json(const s_show_t *s)
{
    char from[32], to[32];
    json_t *cert = NULL;
    if (s->have_cert) {
        format_time_ms(s->cert.not_before_ms, from);
        format_time_ms(s->cert.not_after_ms, to);
        cert = json_pack("{s:I, s:s, s:s, s:I, s:b, s:b}", "serial", (json_int_t)s->cert.serial,
                         "not_before", from, "not_after", to, "days_left",
                         (json_int_t)s->days_left, "expired", s->days_left < 0, "matches_keys",
                         s->cert_matches);
    }
    json_t *o = json_pack("{s:s, s:s, s:s, s:s?, s:o?, s:o?, s:b}", "sign_key_id", s->sign_id,
                          "enc_key_id", s->enc_id, "curve_public", s->curve_b64,
                          "root_fingerprint", s->have_root ? s->root_fp : NULL, "certificate",
                          cert, "revocations", s->have_list ? s_show_json_list(&s->list) : NULL,
                          "revoked", s->revoked);
    s_print_json(o);
    json_decref(o);
    return o ? 0 : 1;
}

static int s_show(int argc, char **argv)
{
    static const struct option opts[] = {{"dir", required_argument, 0, 'd'},
                                         {"json", no_argument, 0, 'j'},
                                         {0, 0, 0, 0}};
    const char *dir_opt = NULL;
    int as_json = 0, c;
    optind = 2;
    while ((c = getopt_long(argc, argv, "d:", opts, NULL)) != -1) {
        switch (c) {
        case 'd': dir_opt = optarg; break;
        case 'j': as_json = 1; break;
        default: return s_usage(s_use_show);
        }
    }
    if (optind != argc)
        return s_usage(s_use_show);
    const char *dir = cli_dir(dir_opt);
    if (!dir)
        return 2;
    s_show_t s;
    memset(&s, 0, sizeof s);
    char err[512];
    unsigned char root_pk[32];
    int rc = 1;
    nodekeys_t *keys = nodekeys_load(dir, err, sizeof err);
    if (!keys) {
        cli_fail("%s", err);
        goto out;
    }
    hex_encode(keys->sign_id, KEYID_BYTES, s.sign_id);
    hex_encode(keys->enc_id, KEYID_BYTES, s.enc_id);
    b64_encode(keys->curve_pk, 32, s.curve_b64, sizeof s.curve_b64);
    if (s_show_root(dir, root_pk, &s) != 0 || s_show_cert(dir, root_pk, keys, &s) != 0 ||
        s_show_list(dir, root_pk, keys, &s) != 0)
        goto out;
    s_show_warn(dir, &s);
    if (as_json) {
        rc = s_show_json(&s);
    } else {
        s_show_text(dir, &s);
        rc = 0;
    }
out:
    revlist_free(&s.list);
    nodekeys_destroy(&keys);
    return rc;
}

/* ---- dispatch ---- */

static const cli_sub_t s_subs[] = {{"root-gen", s_root_gen}, {"root-pub", s_root_pub}, {"passwd", s_passwd},
              {"certify", s_certify},   {"rotate", cmd_keys_rotate}, {"revoke", s_revoke},
              {"show", s_show}};

static int s_usage_all(void)
{
    fprintf(stderr, "%s\n%s\n%s\n%s\n%s\n%s\n%s\n", s_use_gen, s_use_pub, s_use_passwd,
            s_use_certify, CMD_KEYS_ROTATE_USAGE, s_use_revoke, s_use_show);
    return 2;
}

int cmd_keys(int argc, char **argv)
{
    return cli_dispatch("keys", s_subs, sizeof s_subs / sizeof s_subs[0], argc, argv,
                        s_usage_all);
}
