/* moux audit: the node's tamper-evident log (docs/AUDIT.md). verify
 * recomputes it all; checkpoint signs its current state; prove writes an
 * inclusion proof an outside auditor checks with `moux audit check` and the
 * agency's root fingerprint alone. */
#include "audit.h"
#include "cli.h"
#include "ctlclient.h"
#include "keyfile.h"
#include "nodekeys.h"
#include "util.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *s_usage_text =
    "usage: moux audit verify -d DIR [--json]\n"
    "       moux audit checkpoint -d DIR\n"
    "       moux audit prove -d DIR ENTRY [--out FILE]\n"
    "       moux audit check PROOF --root-fp FINGERPRINT [--json]\n"
    "       moux audit report -d DIR [--mou ID] [--from DATE] [--to DATE]\n"
    "                         [--format text|json|html] [--out FILE]";

static int s_usage(void)
{
    fprintf(stderr, "%s\n", s_usage_text);
    return 2;
}

typedef struct {
    const char *dir, *out, *root_fp;
    int as_json;
} s_opts_t;

/* -d DIR, --json, --out FILE, --root-fp FP; leaves optind at the operands. */
static int s_opts(int argc, char **argv, s_opts_t *o)
{
    static const struct option opts[] = {{"dir", required_argument, 0, 'd'},
                                         {"json", no_argument, 0, 'j'},
                                         {"out", required_argument, 0, 'o'},
                                         {"root-fp", required_argument, 0, 'r'},
                                         {0, 0, 0, 0}};
    memset(o, 0, sizeof *o);
    int c;
    optind = 2;
    while ((c = getopt_long(argc, argv, "d:", opts, NULL)) != -1) {
        switch (c) {
        case 'd': o->dir = optarg; break;
        case 'j': o->as_json = 1; break;
        case 'o': o->out = optarg; break;
        case 'r': o->root_fp = optarg; break;
        default: return -1;
        }
    }
    return 0;
}

/* ---- verify ---- */

typedef struct {
    json_t *problems;
    int as_json;
} s_found_t;

static void s_problem(void *arg, uint64_t index, const char *what)
{
    s_found_t *f = arg;
    if (f->as_json)
        json_array_append_new(f->problems,
                              json_pack("{s:I, s:s}", "entry", (json_int_t)index, "problem", what));
    else
        printf("  entry %llu: %s\n", (unsigned long long)index, what);
}

static int s_verify(const s_opts_t *o)
{
    const char *dir = cli_dir(o->dir);
    config_t cfg;
    char err[512];
    if (!dir || cli_config(dir, &cfg) != 0)
        return 1;
    store_t *st = store_open(dir, STORE_RO, err, sizeof err);
    if (!st)
        return cli_fail("%s", err);
    s_found_t f = {json_array(), o->as_json};
    uint64_t entries = 0, cps = 0;
    if (!o->as_json)
        printf("audit log of %s (%s/store.db)\n", cfg.agency, dir);
    long n = audit_verify(st, s_problem, &f, &entries, &cps);
    store_destroy(&st);
    if (n < 0) {
        json_decref(f.problems);
        return cli_fail("%s: cannot read the audit log", dir);
    }
    if (o->as_json) {
        json_t *r = json_pack("{s:s, s:I, s:I, s:b, s:o}", "agency", cfg.agency, "entries",
                              (json_int_t)entries, "checkpoints", (json_int_t)cps, "intact",
                              n == 0, "problems", f.problems);
        char *text = json_dumps(r, JSON_COMPACT);
        printf("%s\n", text);
        free(text);
        json_decref(r);
    } else {
        json_decref(f.problems);
        if (n == 0)
            printf("  %llu entries, %llu signed checkpoint(s): intact\n",
                   (unsigned long long)entries, (unsigned long long)cps);
        else
            printf("  %llu entries, %llu signed checkpoint(s): %ld PROBLEM(S): the log was "
                   "altered\n", (unsigned long long)entries, (unsigned long long)cps, n);
    }
    return n == 0 ? 0 : 1;
}

/* ---- checkpoint ---- */

/* Signs a checkpoint now: through the running node, or with the node's
 * keys when it is not running. */
static int s_sign_now(const char *dir, uint64_t *size)
{
    if (ctl_running(dir)) {
        json_t *req = json_pack("{s:s}", "cmd", "checkpoint"), *reply = cli_call(dir, req, 10000);
        json_decref(req);
        if (!reply)
            return 1;
        *size = (uint64_t)json_integer_value(json_object_get(reply, "size"));
        json_decref(reply);
        return 0;
    }
    config_t cfg;
    char err[512];
    if (cli_config(dir, &cfg) != 0)
        return 1;
    nodekeys_t *keys = nodekeys_load(dir, err, sizeof err);
    store_t *st = keys ? store_open(dir, STORE_RW, err, sizeof err) : NULL;
    int rc = st ? audit_checkpoint(st, cfg.agency, keys->sign_pk, keys->sign_sk, size) : -1;
    if (rc < 0)
        cli_fail("%s: %s", dir, st ? store_errmsg(st) : err);
    store_destroy(&st);
    nodekeys_destroy(&keys);
    return rc < 0 ? 1 : 0;
}

static int s_checkpoint(const s_opts_t *o)
{
    const char *dir = cli_dir(o->dir);
    uint64_t size = 0;
    if (!dir || s_sign_now(dir, &size) != 0)
        return 1;
    printf("checkpoint of the audit log at size %llu signed\n", (unsigned long long)size);
    return 0;
}

/* ---- prove ---- */

static int s_write(const char *path, const char *text)
{
    FILE *f = path ? fopen(path, "w") : stdout;
    if (!f)
        return cli_fail("%s: cannot write", path);
    int bad = fputs(text, f) < 0 || fputc('\n', f) == EOF;
    if (path && fclose(f) != 0)
        bad = 1;
    return bad ? cli_fail("%s: write failed", path ? path : "stdout") : 0;
}

static int s_prove(const s_opts_t *o, const char *entry_text)
{
    const char *dir = cli_dir(o->dir);
    char *end = NULL, err[512], path[PATH_MAX_MOUX];
    unsigned long long index = strtoull(entry_text, &end, 10);
    unsigned char root_pk[32];
    uint64_t size = 0;
    if (!dir)
        return 1;
    if (!*entry_text || *end)
        return cli_fail("ENTRY: \"%s\" is not an entry number", entry_text);
    snprintf(path, sizeof path, "%s/keys/root.pub", dir);
    if (keyfile_read_public(path, ROOT_PUB_LABEL, root_pk, 32) != KEY_OK)
        return cli_fail("%s: cannot read the agency root public key", path);
    store_t *st = store_open(dir, STORE_RO, err, sizeof err);
    if (!st)
        return cli_fail("%s", err);
    uint64_t have = 0, csize = 0;
    uint8_t root[32], *raw = NULL;
    size_t len = 0;
    store_audit_size(st, &have);
    int covered = index < have ? store_checkpoint_covering(st, index, &csize, root, &raw, &len) : 0;
    free(raw);
    store_destroy(&st);
    if (index >= have)
        return cli_fail("%s: no entry %llu: the log has %llu entries", dir, index,
                        (unsigned long long)have);
    if (covered != 1 && s_sign_now(dir, &size) != 0) /* a checkpoint that covers it */
        return 1;
    if (!(st = store_open(dir, STORE_RO, err, sizeof err)))
        return cli_fail("%s", err);
    json_t *proof = audit_prove(st, index, root_pk, err, sizeof err);
    store_destroy(&st);
    if (!proof)
        return cli_fail("%s: %s", dir, err);
    char *text = json_dumps(proof, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(proof);
    int rc = text ? s_write(o->out, text) : cli_fail("out of memory");
    free(text);
    if (rc == 0 && o->out)
        printf("inclusion proof of entry %llu written to %s\n", index, o->out);
    return rc;
}

/* ---- check ---- */

static int s_check(const s_opts_t *o, const char *file)
{
    unsigned char fp[FP_BYTES];
    if (!o->root_fp)
        return s_usage();
    if (fingerprint_parse(o->root_fp, fp) != 0)
        return cli_fail("--root-fp: \"%s\" is not a root fingerprint", o->root_fp);
    json_error_t je;
    json_t *proof = json_load_file(file, 0, &je);
    if (!proof)
        return cli_fail("%s:%d: not JSON: %s", file, je.line, je.text);
    const char *entry = NULL;
    checkpoint_t cp;
    char why[512], when[32];
    int rc = audit_check(proof, fp, &entry, &cp, why, sizeof why);
    if (rc == 0) {
        format_time_ms(cp.timestamp_ms, when);
        if (o->as_json) {
            json_t *r = json_pack("{s:b, s:s, s:I, s:I, s:s, s:s}", "valid", 1, "agency", cp.log,
                                  "index", json_object_get(proof, "index")
                                               ? json_integer_value(json_object_get(proof, "index"))
                                               : 0,
                                  "tree_size", (json_int_t)cp.size, "checkpoint_time", when,
                                  "entry", entry);
            char *text = json_dumps(r, JSON_COMPACT);
            printf("%s\n", text);
            free(text);
            json_decref(r);
        } else {
            printf("VALID: entry %lld is in the audit log of %s (size %llu, checkpoint signed "
                   "%s by a key its root certified)\n  %s\n",
                   (long long)json_integer_value(json_object_get(proof, "index")), cp.log,
                   (unsigned long long)cp.size, when, entry);
        }
    } else {
        cli_fail("%s: INVALID: %s", file, why);
    }
    json_decref(proof);
    return rc == 0 ? 0 : 1;
}

int cmd_audit(int argc, char **argv)
{
    s_opts_t o;
    if (argc < 2)
        return s_usage();
    const char *sub = argv[1];
    if (strcmp(sub, "report") == 0)
        return cmd_audit_report(argc, argv);
    if (s_opts(argc, argv, &o) != 0)
        return s_usage();
    int operands = argc - optind;
    if (strcmp(sub, "verify") == 0 && operands == 0)
        return s_verify(&o);
    if (strcmp(sub, "checkpoint") == 0 && operands == 0)
        return s_checkpoint(&o);
    if (strcmp(sub, "prove") == 0 && operands == 1)
        return s_prove(&o, argv[optind]);
    if (strcmp(sub, "check") == 0 && operands == 1)
        return s_check(&o, argv[optind]);
    return s_usage();
}
