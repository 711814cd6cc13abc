/* moux: the operator's command-line tool. */
#include "cli.h"
#include "ctlclient.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const cli_cmd_t s_cmds[] = {
    {"init", cmd_init, "-d DIR --agency ID --listen tcp://HOST:PORT [--root ROOTKEY]",
     "create a node: directory, keys, configuration, store"},
    {"bundle", cmd_bundle, "-d DIR [--fingerprint]",
     "print this node's public bundle (or only its fingerprint)"},
    {"peer", cmd_peer, "add|list -d DIR ...", "import a partner's bundle; list partners"},
    {"publish", cmd_publish, "-d DIR (--type T --value V | --file FILE) ...",
     "hand indicators to the running node"},
    {"withdraw", cmd_withdraw, "-d DIR (--id ID | --type T --value V)",
     "revoke an indicator this agency published, at every partner"},
    {"query", cmd_query, "-d DIR [--type T] [--value V] [--from AGENCY] [--json]",
     "search the node's store"},
    {"status", cmd_status, "-d DIR [--json]", "links, outboxes and receipts"},
    {"wait", cmd_wait, "-d DIR [--timeout SECONDS]",
     "wait until the node runs and every partner link is up"},
    {"keys", cmd_keys, "root-gen|root-pub|passwd|certify|rotate|revoke|show ...",
     "agency root key, node certificates, rotation and revocation"},
    {"mou", cmd_mou, "new|check|show|hash|sign|verify|activate|list|terminate|purge ...",
     "write, sign and verify MOUs; activate, list and terminate a node's MOUs; retention"},
    {"audit", cmd_audit, "verify|checkpoint|prove|check|report ...",
     "verify the tamper-evident audit log, sign checkpoints, prove entries, check proofs,"
     " report per MOU"},
    {"pattern", cmd_pattern, "check 'PATTERN' [--json]",
     "validate a STIX 2.1 pattern and show what it indicates"},
    {"export", cmd_export, "-d DIR --stix [--since TIME] [--from AGENCY] [--tlp MAX] [--out FILE]",
     "write the stored indicators as a STIX 2.1 bundle"},
};

static void s_usage(FILE *out)
{
    fprintf(out, "usage: moux COMMAND [ARGS]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof s_cmds / sizeof s_cmds[0]; i++)
        fprintf(out, "  %-8s %s\n           %s\n", s_cmds[i].name, s_cmds[i].args,
                s_cmds[i].help);
    fprintf(out, "\nEvery command takes -d DIR (or $MOUX_DIR); see docs/OPERATING.md.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 ||
        strcmp(argv[1], "help") == 0) {
        s_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (sodium_init() < 0)
        return cli_fail("libsodium failed to initialise");
    for (size_t i = 0; i < sizeof s_cmds / sizeof s_cmds[0]; i++)
        if (strcmp(argv[1], s_cmds[i].name) == 0)
            return s_cmds[i].fn(argc - 1, argv + 1);
    cli_fail("unknown command \"%s\"", argv[1]);
    s_usage(stderr);
    return 2;
}
