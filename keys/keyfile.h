/* Key files: one line "<label> <base64>\n", parsed strictly (label must
 * match, exact key length, no trailing bytes). Secret files are created 0600
 * with O_EXCL and refused when group or others can read them. */
#ifndef MOUX_KEYFILE_H
#define MOUX_KEYFILE_H

#include <stddef.h>

typedef enum {
    KEY_OK = 0,
    KEY_ERR_IO,       /* open/read/write failed (errno is kept) */
    KEY_ERR_PERM,     /* secret file readable by group or others */
    KEY_ERR_FORMAT,   /* wrong label, bad base64, wrong length, garbage */
    KEY_ERR_EXISTS,   /* refusing to overwrite */
    KEY_ERR_NOMEM
} key_err_t;

const char *key_strerror(key_err_t err);

key_err_t keyfile_write(const char *path, const char *label, const unsigned char *key,
                        size_t len, int secret);
/* Reads a public key into out[len]. */
key_err_t keyfile_read_public(const char *path, const char *label, unsigned char *out,
                              size_t len);
/* Reads a secret key into sodium_malloc memory. On success *out is owned by
 * the caller and must be released with sodium_free (which wipes it). */
key_err_t keyfile_read_secret(const char *path, const char *label, size_t len,
                              unsigned char **out);

#endif
