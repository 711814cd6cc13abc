/* moux init: a new node directory with keys, configuration and store. */
#include "cli.h"
#include "identity.h"
#include "nodekeys.h"
#include "store.h"
#include "util.h"

#include <errno.h>
#include <sodium.h>
#include <getopt.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

/* For "tcp://HOST:0": picks a free port on HOST now, so the endpoint written
 * into the bundle is fixed before partners see it. Ports come from below the
 * kernel's ephemeral range (which outgoing connections draw from), so a
 * connection made before the node starts cannot take its port. */
static int s_pick_port(char *endpoint, size_t cap)
{
    char *colon = strncmp(endpoint, "tcp://", 6) == 0 ? strrchr(endpoint + 6, ':') : NULL;
    if (!colon || strcmp(colon + 1, "0") != 0)
        return 0;
    char host[ENDPOINT_MAX];
    size_t hlen = (size_t)(colon - (endpoint + 6));
    memcpy(host, endpoint + 6, hlen);
    host[hlen] = '\0';
    if (hlen > 2 && host[0] == '[') { /* [::1] */
        memmove(host, host + 1, hlen - 2);
        host[hlen - 2] = '\0';
    }
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV}, *ai = NULL;
    if (getaddrinfo(host, "0", &hints, &ai) != 0)
        return -1;
    int rc = -1;
    for (int tries = 0; tries < 200 && rc != 0; tries++) {
        int port = 20000 + (int)randombytes_uniform(12000); /* 20000-31999 */
        int fd = socket(ai->ai_family, SOCK_STREAM, 0);
        if (fd < 0)
            break;
        if (ai->ai_family == AF_INET)
            ((struct sockaddr_in *)ai->ai_addr)->sin_port = htons((uint16_t)port);
        else
            ((struct sockaddr_in6 *)ai->ai_addr)->sin6_port = htons((uint16_t)port);
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
            snprintf(colon + 1, cap - (size_t)(colon + 1 - endpoint), "%d", port);
            rc = 0;
        }
        close(fd);
    }
    freeaddrinfo(ai);
    return rc;
}

/* The node directory: created 0700, or an existing empty one tightened. */
static int s_make_dir(const char *dir)
{
    if (mkdir(dir, 0700) == 0)
        return 0;
    if (errno != EEXIST)
        return cli_fail("%s: %s", dir, strerror(errno));
    char path[PATH_MAX_MOUX + 16];
    node_path(dir, "moux.conf", path, sizeof path);
    if (access(path, F_OK) == 0)
        return cli_fail("%s: already a node directory (moux.conf exists)", dir);
    if (chmod(dir, 0700) != 0)
        return cli_fail("%s: %s", dir, strerror(errno));
    return 0;
}

int cmd_init(int argc, char **argv)
{
    static const struct option opts[] = {{"dir", required_argument, 0, 'd'},
                                         {"agency", required_argument, 0, 'a'},
                                         {"listen", required_argument, 0, 'l'},
                                         {"endpoint", required_argument, 0, 'e'},
                                         {"root", required_argument, 0, 'r'},
                                         {"passphrase-file", required_argument, 0, 'p'},
                                         {"days", required_argument, 0, 'D'},
                                         {0, 0, 0, 0}};
    const char *dir_opt = NULL, *agency = NULL, *listen = NULL, *endpoint = NULL;
    const char *root_file = NULL, *pass_file = NULL;
    uint64_t not_after = cli_default_not_after();
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "d:", opts, NULL)) != -1) {
        switch (c) {
        case 'd': dir_opt = optarg; break;
        case 'a': agency = optarg; break;
        case 'l': listen = optarg; break;
        case 'e': endpoint = optarg; break;
        case 'r': root_file = optarg; break;
        case 'p': pass_file = optarg; break;
        case 'D':
            if (cli_days(optarg, &not_after) != 0)
                return 1;
            break;
        default: return cli_fail("usage: moux init -d DIR --agency ID --listen tcp://HOST:PORT "
                                 "[--endpoint tcp://HOST:PORT] [--root ROOTKEY "
                                 "[--passphrase-file F] [--days N]]");
        }
    }
    const char *dir = cli_dir(dir_opt);
    if (!dir)
        return 1;
    if (!agency || !agency_id_valid(agency))
        return cli_fail("--agency: give an agency id of 1-64 characters a-z 0-9 . - "
                        "(e.g. vn.ais)");
    if (!listen)
        return cli_fail("--listen: give tcp://HOST:PORT (port 0 picks a free one)");
    if (endpoint && !endpoint_valid(endpoint))
        return cli_fail("--endpoint: give tcp://HOST:PORT");
    config_t cfg;
    memset(&cfg, 0, sizeof cfg);
    str_copy(cfg.dir, sizeof cfg.dir, dir);
    str_copy(cfg.agency, sizeof cfg.agency, agency);
    str_copy(cfg.listen, sizeof cfg.listen, listen);
    if (s_pick_port(cfg.listen, sizeof cfg.listen) != 0)
        return cli_fail("--listen %s: cannot find a free port on that host", listen);
    if (!endpoint_valid(cfg.listen))
        return cli_fail("--listen %s: give tcp://HOST:PORT with a port 1-65535, or 0 to pick a "
                        "free one", listen);
    str_copy(cfg.endpoint, sizeof cfg.endpoint, endpoint ? endpoint : cfg.listen);
    if (s_make_dir(dir) != 0)
        return 1;

    char err[512];
    nodekeys_t *keys = nodekeys_generate();
    store_t *store = NULL;
    int rc = 1;
    if (!keys || nodekeys_save(keys, dir, err, sizeof err) != 0 ||
        config_write_new(&cfg, err, sizeof err) != 0 ||
        !(store = store_open(dir, STORE_RW, err, sizeof err))) {
        cli_fail("%s", keys ? err : "out of secure memory");
        goto out;
    }
    printf("created node %s in %s\n  listen      %s\n", cfg.agency, dir, cfg.listen);
    if (!root_file) {
        printf("next: moux keys certify -d %s --root ROOTKEY (the node runs only once its "
               "agency root has certified it)\n", dir);
        rc = 0;
        goto out;
    }
    rc = cli_certify(dir, &cfg, keys, root_file, pass_file, not_after, 0, NULL);
    if (rc == 0)
        printf("next: moux bundle -d %s > %s.bundle, give it to each partner, and read them the "
               "root fingerprint\n", dir, cfg.agency);
out:
    store_destroy(&store);
    nodekeys_destroy(&keys);
    return rc;
}
