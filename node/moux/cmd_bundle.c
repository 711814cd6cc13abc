/* moux bundle: this node's public bundle, for partners. */
#include "cli.h"
#include "bundle.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

int cmd_bundle(int argc, char **argv)
{
    static const struct option opts[] = {{"dir", required_argument, 0, 'd'},
                                         {"fingerprint", no_argument, 0, 'f'},
                                         {0, 0, 0, 0}};
    const char *dir_opt = NULL;
    int only_fp = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "d:", opts, NULL)) != -1) {
        if (c == 'd')
            dir_opt = optarg;
        else if (c == 'f')
            only_fp = 1;
        else
            return cli_fail("usage: moux bundle -d DIR [--fingerprint]");
    }
    const char *dir = cli_dir(dir_opt);
    config_t cfg;
    if (!dir || cli_config(dir, &cfg) != 0)
        return 1;
    char err[512], fps[FP_STRLEN];
    nodekeys_t *keys = nodekeys_load(dir, err, sizeof err);
    if (!keys)
        return cli_fail("%s", err);
    unsigned char fp[FP_BYTES];
    bundle_fingerprint(cfg.agency, keys->sign_pk, keys->enc_pk, keys->curve_pk, fp);
    fingerprint_format(fp, fps);
    char *text = NULL;
    int rc = 0;
    if (only_fp)
        printf("%s\n", fps);
    else if (bundle_make(&cfg, keys, &text) == 0)
        printf("# moux public bundle of %s\n# fingerprint %s\n%s", cfg.agency, fps, text);
    else
        rc = cli_fail("cannot build the bundle");
    free(text);
    nodekeys_destroy(&keys);
    return rc;
}
