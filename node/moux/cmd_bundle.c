/* moux bundle: this node's public bundle, for partners. */
#include "cli.h"
#include "bundle.h"
#include "identity.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    identity_t *id = identity_load(dir, &cfg, err, sizeof err);
    if (!id)
        return cli_fail("%s", err);
    unsigned char fp[FP_BYTES];
    root_fingerprint(id->root_pk, fp);
    fingerprint_format(fp, fps);
    char *text = NULL;
    int rc = 0;
    if (only_fp)
        printf("%s\n", fps);
    else if (strcmp(cfg.endpoint, id->cert.endpoint) != 0)
        rc = cli_fail("moux.conf says endpoint %s but the certificate says %s: certify again "
                      "(moux keys certify) so partners can accept the bundle", cfg.endpoint,
                      id->cert.endpoint);
    else if (bundle_make(&cfg, id->root_pk, id->cert_raw, id->cert_len, &text) == 0)
        printf("# moux public bundle of %s (certificate serial %llu)\n"
               "# agency root fingerprint %s\n%s",
               cfg.agency, (unsigned long long)id->cert.serial, fps, text);
    else
        rc = cli_fail("cannot build the bundle");
    free(text);
    identity_destroy(&id);
    return rc;
}
