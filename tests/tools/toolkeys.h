/* Key files of another node's directory, for the hostile test tools. */
#ifndef MOUX_TOOLKEYS_H
#define MOUX_TOOLKEYS_H

#include "keyfile.h"

#include <stdio.h>

/* DIR/keys/NAME.pub (a public key file with this label) into out[32]; on
 * failure writes why into err and returns -1. */
static inline int toolkeys_read_pub(const char *dir, const char *name, const char *label,
                                    unsigned char out[32], char *err, size_t errlen)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/keys/%s.pub", dir, name);
    key_err_t rc = keyfile_read_public(path, label, out, 32);
    if (rc != KEY_OK)
        snprintf(err, errlen, "%s: %s", path, key_strerror(rc));
    return rc == KEY_OK ? 0 : -1;
}

#endif
