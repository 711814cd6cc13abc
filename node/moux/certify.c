/* Certifying a node with the agency root key, shared by moux init --root,
 * moux keys certify and moux keys rotate. */
#include "cli.h"
#include "passphrase.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cli_days(const char *text, unsigned *days)
{
    char *end = NULL;
    long v = strtol(text, &end, 10);
    if (*end || end == text || v < 1 || v > 366)
        return cli_fail("--days: \"%s\" is not a number of days from 1 to 366", text);
    *days = (unsigned)v;
    return 0;
}

rootkey_t *cli_open_root(const char *root_file, const char *pass_file)
{
    char err[512];
    int sealed = rootkey_is_sealed(root_file, err, sizeof err);
    if (sealed < 0) {
        cli_fail("%s", err);
        return NULL;
    }
    char *pass = NULL;
    if (sealed) {
        pass = passphrase_read(pass_file, "agency root key passphrase: ", 0, err, sizeof err);
        if (!pass) {
            cli_fail("%s", err);
            return NULL;
        }
    }
    rootkey_t *root = rootkey_load(root_file, pass, err, sizeof err);
    sodium_free(pass);
    if (!root)
        cli_fail("%s", err);
    return root;
}

int cli_certify(const char *base, const config_t *cfg, const nodekeys_t *keys,
                const char *root_file, const char *pass_file, unsigned days, uint64_t serial,
                cert_t *out)
{
    rootkey_t *root = cli_open_root(root_file, pass_file);
    if (!root)
        return 1;
    char err[512], fps[FP_STRLEN], from[32], until[32];
    cert_t c;
    int rc = identity_certify(base, cfg, keys, root, days, serial, &c, err, sizeof err);
    if (rc != 0) {
        cli_fail("%s", err);
    } else {
        unsigned char fp[FP_BYTES];
        root_fingerprint(root->pk, fp);
        fingerprint_format(fp, fps);
        format_time_ms(c.not_before_ms, from);
        format_time_ms(c.not_after_ms, until);
        printf("certified %s: serial %llu, valid %s to %s\n  agency root fingerprint %s\n",
               cfg->agency, (unsigned long long)c.serial, from, until, fps);
        if (out)
            *out = c;
    }
    rootkey_destroy(&root);
    return rc ? 1 : 0;
}
