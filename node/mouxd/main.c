/* mouxd: the moux node daemon. Runs in the foreground, logs to stderr. */
#include "daemon.h"
#include "log.h"

#include <sodium.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>

static void s_usage(FILE *out)
{
    fprintf(out, "usage: mouxd [-d DIR] [-v]\n"
                 "  -d DIR   node directory (default: $MOUX_DIR)\n"
                 "  -v       debug logging\n"
                 "Runs the node in the foreground; SIGHUP reloads partners, SIGTERM stops.\n");
}

int main(int argc, char **argv)
{
    const char *dir = getenv("MOUX_DIR");
    int verbose = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-d") == 0 && i + 1 < argc)
            dir = argv[++i];
        else if (strcmp(argv[i], "-v") == 0)
            verbose = 1;
        else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            s_usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "mouxd: unknown argument \"%s\"\n", argv[i]);
            s_usage(stderr);
            return 2;
        }
    }
    if (!dir) {
        fprintf(stderr, "mouxd: no node directory: give -d DIR or set MOUX_DIR\n");
        return 2;
    }
    log_set_ident("mouxd");
    /* Secret keys live in this process (libzmq keeps its own copy of the
     * CURVE key): never write them into a core file. */
    struct rlimit no_core = {0, 0};
    setrlimit(RLIMIT_CORE, &no_core);
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
#ifdef __GLIBC__
    /* Blocks of 1 MiB and more (a large control request, its decoded
     * items) come from mmap and go back to the system when freed. glibc's
     * default threshold rises with every such block freed, after which they
     * come from a heap that does not shrink: a refused 20 MiB request left
     * the daemon at 3.5 times its idle size. Batches (~100 KiB) stay below.
     * Fixing the threshold also fixes the trim threshold (128 KiB): raise it,
     * so freeing a batch frame at the top of the heap does not hand pages
     * back only to fault them in again; large requests trim explicitly. */
    mallopt(M_MMAP_THRESHOLD, 1024 * 1024);
    mallopt(M_TRIM_THRESHOLD, 32 * 1024 * 1024);
#endif
    if (sodium_init() < 0) {
        log_error("SODIUM", "libsodium failed to initialise");
        return 1;
    }
    daemon_t d;
    char err[512];
    int rc = 1;
    if (daemon_init(&d, dir, err, sizeof err) != 0) {
        log_error("START-FAILED", "%s", err);
    } else {
        if (verbose)
            log_set_level(LOG_LVL_DEBUG);
        rc = daemon_run(&d) == 0 ? 0 : 1;
        log_info("STOPPED", "clean shutdown");
    }
    daemon_fini(&d);
    return rc;
}
