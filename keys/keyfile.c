#include "keyfile.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Longest line we accept: label, space, base64 of a 64-byte key, newline. */
#define LINE_MAX_BYTES 256

const char *key_strerror(key_err_t err)
{
    switch (err) {
    case KEY_OK: return "ok";
    case KEY_ERR_IO: return "cannot read or write the file";
    case KEY_ERR_PERM:
        return "secret key file is accessible by group or others, or not owned by this user "
               "(must be 0600 and ours)";
    case KEY_ERR_FORMAT: return "not a valid key file (wrong label, encoding, length or trailing data)";
    case KEY_ERR_EXISTS: return "file exists; refusing to overwrite";
    case KEY_ERR_NOMEM: return "out of secure memory";
    }
    return "unknown error";
}

key_err_t keyfile_write(const char *path, const char *label, const unsigned char *key,
                        size_t len, int secret)
{
    char *line = sodium_malloc(LINE_MAX_BYTES);
    if (!line)
        return KEY_ERR_NOMEM;
    key_err_t rc = KEY_ERR_FORMAT;
    size_t b64len = sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_ORIGINAL);
    size_t lablen = strlen(label);
    if (lablen + 1 + b64len + 1 > LINE_MAX_BYTES)
        goto out;
    memcpy(line, label, lablen);
    line[lablen] = ' ';
    sodium_bin2base64(line + lablen + 1, b64len, key, len, sodium_base64_VARIANT_ORIGINAL);
    size_t total = lablen + b64len; /* b64len counts the NUL, which becomes '\n' */
    line[total] = '\n';

    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, secret ? 0600 : 0644);
    if (fd < 0) {
        rc = errno == EEXIST ? KEY_ERR_EXISTS : KEY_ERR_IO;
        goto out;
    }
    ssize_t wrote = write(fd, line, total + 1);
    int synced = fsync(fd);
    if (close(fd) != 0 || wrote != (ssize_t)(total + 1) || synced != 0) {
        unlink(path);
        rc = KEY_ERR_IO;
        goto out;
    }
    rc = KEY_OK;
out:
    sodium_free(line);
    return rc;
}

/* Reads the whole (small) file into buf; refuses anything larger. */
static key_err_t s_read_line(const char *path, int secret, char *buf, size_t cap, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return KEY_ERR_IO;
    struct stat st;
    key_err_t rc = KEY_ERR_IO;
    if (fstat(fd, &st) != 0)
        goto out;
    rc = KEY_ERR_PERM;
    if (secret && ((st.st_mode & 077) || st.st_uid != geteuid()))
        goto out;
    rc = KEY_ERR_FORMAT;
    if (!S_ISREG(st.st_mode) || st.st_size <= 0 || (size_t)st.st_size >= cap)
        goto out;
    ssize_t got = read(fd, buf, cap - 1);
    if (got != st.st_size) {
        rc = KEY_ERR_IO;
        goto out;
    }
    buf[got] = '\0';
    *len = (size_t)got;
    rc = KEY_OK;
out:
    close(fd);
    return rc;
}

static key_err_t s_parse(char *line, size_t linelen, const char *label, unsigned char *out,
                         size_t len)
{
    size_t lablen = strlen(label);
    if (strlen(line) != linelen || linelen < lablen + 3 || memcmp(line, label, lablen) != 0 || line[lablen] != ' ' ||
        line[linelen - 1] != '\n')
        return KEY_ERR_FORMAT;
    line[linelen - 1] = '\0';
    const char *b64 = line + lablen + 1;
    size_t b64len = strlen(b64);
    size_t got = 0;
    const char *end = NULL;
    if (b64len != sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_ORIGINAL) - 1 ||
        sodium_base642bin(out, len, b64, b64len, NULL, &got, &end,
                          sodium_base64_VARIANT_ORIGINAL) != 0 ||
        got != len || *end != '\0')
        return KEY_ERR_FORMAT;
    return KEY_OK;
}

key_err_t keyfile_read_public(const char *path, const char *label, unsigned char *out,
                              size_t len)
{
    char line[LINE_MAX_BYTES];
    size_t linelen = 0;
    key_err_t rc = s_read_line(path, 0, line, sizeof line, &linelen);
    if (rc == KEY_OK)
        rc = s_parse(line, linelen, label, out, len);
    return rc;
}

key_err_t keyfile_read_secret(const char *path, const char *label, size_t len,
                              unsigned char **out)
{
    char *line = sodium_malloc(LINE_MAX_BYTES);
    unsigned char *key = sodium_malloc(len);
    key_err_t rc = KEY_ERR_NOMEM;
    if (!line || !key)
        goto out;
    size_t linelen = 0;
    rc = s_read_line(path, 1, line, LINE_MAX_BYTES, &linelen);
    if (rc == KEY_OK)
        rc = s_parse(line, linelen, label, key, len);
    if (rc == KEY_OK) {
        *out = key;
        key = NULL;
    }
out:
    sodium_free(line);
    sodium_free(key);
    return rc;
}
