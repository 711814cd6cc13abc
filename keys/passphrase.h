/* Passphrases for the root key: from a file (--passphrase-file; its first
 * line, without the newline) or from the terminal without echo. */
#ifndef MOUX_PASSPHRASE_H
#define MOUX_PASSPHRASE_H

#include <stddef.h>

#define PASSPHRASE_MAX 1024

/* Reads a passphrase from file, or from /dev/tty with prompt when file is
 * NULL (asked twice when confirm). Returns sodium_malloc memory the caller
 * frees with sodium_free, or NULL with the reason in err (no terminal, file
 * unreadable, empty, mismatch). */
char *passphrase_read(const char *file, const char *prompt, int confirm, char *err,
                      size_t errlen);

#endif
