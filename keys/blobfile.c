#include "blobfile.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int blobfile_write(const char *path, const char *label, const uint8_t *data, size_t len,
                   char *err, size_t errlen)
{
    size_t b64 = sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_ORIGINAL);
    size_t lab = strlen(label), total = lab + 1 + b64; /* b64 counts the NUL -> '\n' */
    char *line = malloc(total), tmp[4096 + 8];
    if (!line || snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp) {
        free(line);
        snprintf(err, errlen, "%s: out of memory or path too long", path);
        return -1;
    }
    memcpy(line, label, lab);
    line[lab] = ' ';
    sodium_bin2base64(line + lab + 1, b64, data, len, sodium_base64_VARIANT_ORIGINAL);
    line[total - 1] = '\n';
    int rc = -1;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd >= 0) {
        ssize_t wrote = write(fd, line, total);
        int synced = fsync(fd);
        rc = close(fd) == 0 && wrote == (ssize_t)total && synced == 0 && rename(tmp, path) == 0
                 ? 0 : -1;
    }
    if (rc != 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        unlink(tmp);
    }
    free(line);
    return rc;
}

int blobfile_read(const char *path, const char *label, size_t max, uint8_t **data, size_t *len,
                  char *err, size_t errlen)
{
    size_t lab = strlen(label);
    size_t cap = lab + 1 + sodium_base64_ENCODED_LEN(max, sodium_base64_VARIANT_ORIGINAL) + 1;
    char *buf = malloc(cap + 1);
    uint8_t *out = malloc(max ? max : 1);
    int rc = -1;
    FILE *f = fopen(path, "re");
    if (!buf || !out || !f) {
        snprintf(err, errlen, "%s: %s", path, f ? "out of memory" : strerror(errno));
        goto out;
    }
    size_t n = fread(buf, 1, cap + 1, f);
    const char *end = NULL;
    size_t got = 0;
    if (n == 0 || n > cap || buf[n - 1] != '\n' || memchr(buf, '\0', n) || n < lab + 3 ||
        memcmp(buf, label, lab) != 0 || buf[lab] != ' ' ||
        sodium_base642bin(out, max, buf + lab + 1, n - lab - 2, NULL, &got, &end,
                          sodium_base64_VARIANT_ORIGINAL) != 0 ||
        end != buf + n - 1) {
        snprintf(err, errlen, "%s: not a valid \"%s\" file (one line: label, base64)", path, label);
        goto out;
    }
    *data = out;
    *len = got;
    out = NULL;
    rc = 0;
out:
    if (f)
        fclose(f);
    free(buf);
    free(out);
    return rc;
}
