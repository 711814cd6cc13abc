/* Certifying a node with the agency root key, shared by moux init --root,
 * moux keys certify and moux keys rotate. */
#include "cli.h"
#include "ctlclient.h"
#include "passphrase.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DAY_MS 86400000ull

uint64_t cli_default_not_after(void)
{
    return now_ms() + CERT_DEFAULT_DAYS * DAY_MS;
}

int cli_days(const char *text, uint64_t *not_after_ms)
{
    char *end = NULL;
    long v = strtol(text, &end, 10);
    if (*end || end == text || v < 1 || v > 366)
        return cli_fail("--days: \"%s\" is not a number of days from 1 to 366", text);
    *not_after_ms = now_ms() + (uint64_t)v * DAY_MS;
    return 0;
}

int cli_until(const char *text, uint64_t *not_after_ms)
{
    uint64_t t = 0, now = now_ms();
    /* Short certificates are fine (to end with an agreement, or in tests);
     * one that ends before partners could even hold it is not. */
    if (parse_time_ms(text, &t) != 0 || t < now + 1000 || t > now + 366 * DAY_MS)
        return cli_fail("--until: \"%s\" is not a time from a second to 366 days from now "
                        "(YYYY-MM-DDTHH:MM:SS[.fff]Z or +Nd/+Nh)", text);
    *not_after_ms = t;
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
                const char *root_file, const char *pass_file, uint64_t not_after_ms,
                uint64_t serial, cert_t *out)
{
    rootkey_t *root = cli_open_root(root_file, pass_file);
    if (!root)
        return 1;
    char err[512], fps[FP_STRLEN], from[32], until[32];
    cert_t c;
    int rc = identity_certify(base, cfg, keys, root, not_after_ms, serial, &c, err, sizeof err);
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

int cli_tell_node(const char *dir, const char *now_msg, const char *later_msg)
{
    return cli_tell_node_cmd(dir, "keys-reload", now_msg, later_msg);
}

int cli_tell_node_cmd(const char *dir, const char *cmd, const char *now_msg,
                      const char *later_msg)
{
    if (!ctl_running(dir)) {
        printf("the node is not running: %s\n", later_msg);
        return 0;
    }
    json_t *req = json_pack("{s:s}", "cmd", cmd), *reply = cli_call(dir, req, 10000);
    json_decref(req);
    if (!reply)
        return 1;
    json_decref(reply);
    printf("the running node took it up: %s\n", now_msg);
    return 0;
}
