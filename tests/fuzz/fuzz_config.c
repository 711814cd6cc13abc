/* moux.conf as an operator (or anyone who can write the node directory)
 * might write it: the input is written to DIR/moux.conf in a private
 * temporary directory (under $TMPDIR, made at start-up and removed at
 * exit) and read with config_load. A loaded config must hold what the
 * rest of the node relies on; a refusal must come with a message. */
#include "config.h"
#include "envelope.h"
#include "fuzz_common.h"

#include <fcntl.h>
#include <unistd.h>

static char s_dir[PATH_MAX_MOUX], s_path[PATH_MAX_MOUX + 16];

static void s_cleanup(void)
{
    unlink(s_path);
    rmdir(s_dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    const char *tmp = getenv("TMPDIR");
    snprintf(s_dir, sizeof s_dir, "%s/moux-fuzz-config.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(s_dir)) {
        perror("fuzz_config: mkdtemp");
        abort();
    }
    snprintf(s_path, sizeof s_path, "%s/moux.conf", s_dir);
    atexit(s_cleanup);
    return 0;
}

static void s_write(const uint8_t *data, size_t size)
{
    int fd = open(s_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        perror("fuzz_config: open");
        abort();
    }
    while (size > 0) {
        ssize_t n = write(fd, data, size);
        if (n <= 0) {
            perror("fuzz_config: write");
            abort();
        }
        data += n;
        size -= (size_t)n;
    }
    close(fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    config_t cfg;
    char err[200]; /* shorter than the path plus some messages: must truncate safely */
    s_write(data, size);
    memset(&cfg, 0xa5, sizeof cfg);
    memset(err, 0, sizeof err);
    if (config_load(s_dir, &cfg, err, sizeof err) != 0) {
        FUZZ_CHECK(err[0] != '\0' && memchr(err, '\0', sizeof err) != NULL);
        return 0;
    }
    FUZZ_CHECK(strcmp(cfg.dir, s_dir) == 0);
    FUZZ_CHECK(agency_id_valid(cfg.agency));
    FUZZ_CHECK(endpoint_valid(cfg.listen) && endpoint_valid(cfg.endpoint));
    FUZZ_CHECK(!strchr(cfg.listen, '\n') && !strchr(cfg.endpoint, '\n'));
    FUZZ_CHECK(strcmp(cfg.log_level, "error") == 0 || strcmp(cfg.log_level, "warn") == 0 ||
               strcmp(cfg.log_level, "info") == 0 || strcmp(cfg.log_level, "debug") == 0);
    /* envelope.h: every node takes a full batch frame. */
    FUZZ_CHECK(cfg.max_message_bytes >= FRAME_MAX_BYTES);
    FUZZ_CHECK(cfg.clock_skew_seconds > 0 && cfg.batch_max_items > 0 &&
               cfg.max_inflight_batches > 0 && cfg.retry_initial_ms > 0 &&
               cfg.retry_max_ms > 0 && cfg.heartbeat_ms > 0);
    return 0;
}
