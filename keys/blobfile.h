/* Public, variable-length key material on disk (certificates, revocation
 * lists): one line "<label> <base64>\n", parsed strictly, written atomically
 * (temporary file, fsync, rename) so a crash leaves the old or the new one. */
#ifndef MOUX_BLOBFILE_H
#define MOUX_BLOBFILE_H

#include <stddef.h>
#include <stdint.h>

int blobfile_write(const char *path, const char *label, const uint8_t *data, size_t len,
                   char *err, size_t errlen);
/* *data owned by the caller (free); refuses more than max decoded bytes. */
int blobfile_read(const char *path, const char *label, size_t max, uint8_t **data, size_t *len,
                  char *err, size_t errlen);

#endif
