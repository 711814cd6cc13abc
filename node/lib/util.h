/* Small shared helpers: time, encodings, bounded strings. */
#ifndef MOUX_UTIL_H
#define MOUX_UTIL_H

#include <stddef.h>
#include <stdint.h>

uint64_t now_ms(void);          /* wall clock, Unix milliseconds */
uint64_t mono_ms(void);         /* monotonic clock, milliseconds */

/* ISO 8601 UTC with milliseconds ("2026-11-21T23:40:10.123Z"). */
void format_time_ms(uint64_t ms, char out[32]);
/* Parses ISO 8601 UTC ("YYYY-MM-DD", "YYYY-MM-DDTHH:MM:SS[.fff]Z") or a
 * relative "+Nd"/"+Nh". Returns 0 and writes *ms on success, -1 otherwise. */
int parse_time_ms(const char *text, uint64_t *ms);

void hex_encode(const unsigned char *bin, size_t len, char *out); /* out: 2*len+1 */
/* Strict: exact length, hex only. Returns 0 on success. */
int hex_decode(const char *hex, unsigned char *out, size_t len);

/* Standard base64 with padding (sodium ORIGINAL variant). */
size_t b64_encoded_len(size_t binlen);
void b64_encode(const unsigned char *bin, size_t len, char *out, size_t outlen);
/* Strict: must decode to exactly len bytes with nothing left over. */
int b64_decode_exact(const char *b64, unsigned char *out, size_t len);

/* Copies at most cap-1 bytes and always terminates. Returns -1 if truncated. */
int str_copy(char *dst, size_t cap, const char *src);
/* Lowercase ASCII in place. */
void str_lower(char *s);
/* Copies text from a partner for logs, status and the event table: printable
 * ASCII only (anything else becomes '?'), at most cap-1 bytes. */
void str_sanitize(char *dst, size_t cap, const char *src);

/* Random lowercase UUID v4 "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx". */
void uuid4(char out[37]);
/* Time-ordered lowercase UUID v7 (RFC 9562): 48 bits of Unix milliseconds,
 * 12 of sub-millisecond time, 62 random. Ids made later sort later, so a
 * store's index on them grows at its end instead of everywhere. */
void uuid7(char out[37]);

#endif
