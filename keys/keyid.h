/* Key ids and fingerprints. A key id is SHA-256 of the public key bytes.
 * A fingerprint is SHA-256 over a domain tag and the bytes it identifies,
 * shown as the first 160 bits in base32 (RFC 4648 alphabet), in eight groups
 * of four: easy to read aloud and to compare over the phone. */
#ifndef MOUX_KEYID_H
#define MOUX_KEYID_H

#include <stddef.h>

#define KEYID_BYTES 32
#define FP_BYTES 20
#define FP_STRLEN 40 /* 32 symbols + 7 dashes + NUL */

void keyid_of(const unsigned char *pk, size_t len, unsigned char out[KEYID_BYTES]);

/* SHA-256(tag || data), truncated to FP_BYTES. */
void fingerprint_of(const char *tag, const unsigned char *data, size_t len,
                    unsigned char out[FP_BYTES]);
void fingerprint_format(const unsigned char fp[FP_BYTES], char out[FP_STRLEN]);
/* Accepts any case, with or without dashes or spaces. Returns 0 on success. */
int fingerprint_parse(const char *text, unsigned char out[FP_BYTES]);

#endif
