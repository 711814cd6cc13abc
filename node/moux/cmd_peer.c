/* moux peer add|list: partners and what may flow to each. */
#include "cli.h"
#include "bundle.h"
#include "ctlclient.h"
#include "policy.h"
#include "store.h"
#include "util.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BUNDLE_FILE_MAX 16384 /* as bundle.c allows */

static char *s_read_file(const char *path)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
    if (!f) {
        cli_fail("%s: %s", path, strerror(errno));
        return NULL;
    }
    char *buf = malloc(BUNDLE_FILE_MAX + 1);
    size_t n = buf ? fread(buf, 1, BUNDLE_FILE_MAX + 1, f) : 0;
    int bad = !buf || ferror(f) || n > BUNDLE_FILE_MAX || memchr(buf, '\0', n);
    if (f != stdin)
        fclose(f);
    if (bad) {
        cli_fail("%s: unreadable, too large or binary; a bundle is a small text file", path);
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    return buf;
}

/* 1 if a partner has this agency id or transport key (its agency in
 * holder; its pinned root's fingerprint in pinned_fp when that root is not
 * root_pk, else ""), 0 if none, -1 on error. */
static int s_has_partner(store_t *st, const char *agency, const unsigned char *curve_pk,
                         const unsigned char *root_pk, char *holder, size_t cap,
                         char pinned_fp[FP_STRLEN])
{
    partner_t *ps = NULL;
    size_t n = 0;
    int found = 0;
    pinned_fp[0] = '\0';
    if (store_partners(st, &ps, &n) != 0)
        return -1;
    for (size_t i = 0; i < n && !found; i++)
        if (strcmp(ps[i].agency, agency) == 0 || memcmp(ps[i].curve_pk, curve_pk, 32) == 0) {
            found = 1;
            str_copy(holder, cap, ps[i].agency);
            if (memcmp(ps[i].root_pk, root_pk, 32) != 0)
                str_copy(pinned_fp, FP_STRLEN, ps[i].fingerprint);
        }
    free(ps);
    return found;
}

/* The checks an operator relies on before trusting a bundle. */
static int s_check_bundle(const bundle_t *b, const char *file, const char *fp_text,
                          const char *own_agency, char fps[FP_STRLEN])
{
    fingerprint_format(b->fp, fps);
    unsigned char want[FP_BYTES];
    const char *why = NULL;
    if (fp_text && fingerprint_parse(fp_text, want) != 0)
        return cli_fail("--fingerprint: \"%s\" is not a fingerprint (32 base32 symbols)", fp_text);
    if (fp_text && sodium_memcmp(want, b->fp, FP_BYTES) != 0)
        return cli_fail("%s: root fingerprint mismatch: the bundle of %s has %s, not %s; refusing "
                        "it (ask the partner's operator, out of band)", file, b->agency, fps,
                        fp_text);
    if (strcmp(b->agency, own_agency) == 0)
        return cli_fail("%s: that is this node's own bundle (%s)", file, b->agency);
    if (cert_check_time(&b->cert, now_ms(), &why) != 0)
        return cli_fail("%s: the certificate of %s is not valid now: %s", file, b->agency, why);
    return 0;
}

static void s_partner_from_bundle(partner_t *p, const bundle_t *b, const char *fps)
{
    str_copy(p->agency, sizeof p->agency, b->agency);
    str_copy(p->endpoint, sizeof p->endpoint, b->endpoint);
    memcpy(p->sign_pk, b->cert.sign_pk, 32);
    memcpy(p->enc_pk, b->cert.enc_pk, 32);
    memcpy(p->curve_pk, b->cert.curve_pk, 32);
    memcpy(p->root_pk, b->root_pk, 32);
    str_copy(p->fingerprint, sizeof p->fingerprint, fps);
    p->cert_serial = b->cert.serial;
    p->cert_not_after_ms = b->cert.not_after_ms;
    p->added_ms = now_ms();
}

static int s_add(const char *dir, const char *file, const char *fp_text, int force)
{
    config_t cfg;
    if (cli_config(dir, &cfg) != 0)
        return 1;
    partner_t p;
    memset(&p, 0, sizeof p);
    char *text = s_read_file(file), err[512], fps[FP_STRLEN];
    if (!text)
        return 1;
    bundle_t b;
    int rc = bundle_parse(text, file, &b, err, sizeof err);
    free(text);
    if (rc != 0)
        return cli_fail("%s", err);
    rc = s_check_bundle(&b, file, fp_text, cfg.agency, fps);
    store_t *st = rc ? NULL : store_open(dir, STORE_RW, err, sizeof err);
    if (!rc && !st)
        rc = cli_fail("%s", err);
    char holder[AGENCY_MAX + 1] = "", pinned[FP_STRLEN] = "";
    int have = rc ? 0 : s_has_partner(st, b.agency, b.cert.curve_pk, b.root_pk, holder,
                                      sizeof holder, pinned);
    if (have == 1 && !force)
        rc = cli_fail("%s: %s is already a partner (same agency or transport key); use --force "
                      "to replace it", file, holder);
    /* Re-pinning a partner to another root is the one step an attacker with
     * a forged bundle needs: it takes the fingerprint, confirmed out of band. */
    else if (have == 1 && pinned[0] && !fp_text)
        rc = cli_fail("%s: %s is pinned to root %s; this bundle has root %s. Replacing the root "
                      "needs --fingerprint, confirmed with its operator out of band", file, holder,
                      pinned, fps);
    if (!rc) {
        s_partner_from_bundle(&p, &b, fps);
        if (have < 0 || store_partner_upsert(st, &p, b.cert_raw, b.cert_len) != 0)
            rc = cli_fail("%s: cannot store partner: %s", dir, store_errmsg(st));
    }
    store_destroy(&st);
    bundle_free(&b);
    if (rc)
        return 1;
    printf("partner %s added (%s)\n  root fingerprint %s (certificate serial %llu)\n"
           "  items flow only under an active MOU with it (moux mou list, moux mou activate)\n",
           p.agency, p.endpoint, fps, (unsigned long long)p.cert_serial);
    if (!fp_text)
        fprintf(stderr, "moux: WARNING: no --fingerprint given: before relying on %s, confirm "
                        "%s with its operator out of band\n", p.agency, fps);
    return cli_tell_node_cmd(dir, "reload", "partners reloaded", "it loads them when it starts");
}

static int s_list(const char *dir, int as_json)
{
    char err[512];
    store_t *st = store_open(dir, STORE_RO, err, sizeof err);
    if (!st)
        return cli_fail("%s", err);
    partner_t *ps = NULL;
    size_t n = 0;
    if (store_partners(st, &ps, &n) != 0) {
        store_destroy(&st);
        return cli_fail("%s: cannot read partners", dir);
    }
    for (size_t i = 0; i < n; i++) {
        if (as_json) {
            json_t *o = json_pack("{s:s, s:s, s:s}", "agency", ps[i].agency,
                                  "endpoint", ps[i].endpoint, "fingerprint", ps[i].fingerprint);
            char *line = json_dumps(o, JSON_COMPACT);
            printf("%s\n", line);
            free(line);
            json_decref(o);
        } else {
            printf("%-20s %-28s %s\n", ps[i].agency, ps[i].endpoint, ps[i].fingerprint);
        }
    }
    if (!as_json && n == 0)
        printf("no partners yet: moux peer add -d %s BUNDLE --fingerprint FP\n", dir);
    free(ps);
    store_destroy(&st);
    return 0;
}

int cmd_peer(int argc, char **argv)
{
    static const struct option opts[] = {
        {"dir", required_argument, 0, 'd'}, {"fingerprint", required_argument, 0, 'f'},
        {"force", no_argument, 0, 'F'},     {"json", no_argument, 0, 'j'},
        {0, 0, 0, 0}};
    static const char *usage =
        "usage: moux peer add -d DIR BUNDLE [--fingerprint FP] [--force]\n"
        "       moux peer list -d DIR [--json]";
    if (argc < 2)
        return cli_fail("%s", usage);
    const char *sub = argv[1], *dir_opt = NULL, *fp = NULL;
    int force = 0, as_json = 0, c;
    optind = 2;
    while ((c = getopt_long(argc, argv, "d:", opts, NULL)) != -1) {
        switch (c) {
        case 'd': dir_opt = optarg; break;
        case 'f': fp = optarg; break;
        case 'F': force = 1; break;
        case 'j': as_json = 1; break;
        default: return cli_fail("%s", usage);
        }
    }
    const char *dir = cli_dir(dir_opt);
    if (!dir)
        return 1;
    if (strcmp(sub, "add") == 0 && optind == argc - 1)
        return s_add(dir, argv[optind], fp, force);
    if (strcmp(sub, "list") == 0 && optind == argc)
        return s_list(dir, as_json);
    return cli_fail("%s", usage);
}
