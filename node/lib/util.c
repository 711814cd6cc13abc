#include "util.h"

#include <ctype.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void format_time_ms(uint64_t ms, char out[32])
{
    time_t secs = (time_t)(ms / 1000u);
    struct tm tm;
    gmtime_r(&secs, &tm);
    char base[24];
    strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, 32, "%s.%03uZ", base, (unsigned)(ms % 1000u));
}

static int s_parse_relative(const char *text, uint64_t *ms)
{
    char *end = NULL;
    unsigned long n = strtoul(text + 1, &end, 10);
    if (end == text + 1 || end[0] == '\0' || end[1] != '\0' || n > 100000)
        return -1;
    uint64_t unit = end[0] == 'd' ? 86400000u : end[0] == 'h' ? 3600000u : 0;
    if (!unit)
        return -1;
    *ms = now_ms() + n * unit;
    return 0;
}

int parse_time_ms(const char *text, uint64_t *ms)
{
    if (text[0] == '+')
        return s_parse_relative(text, ms);
    struct tm tm = {0};
    unsigned frac = 0;
    int used = 0;
    size_t len = strlen(text);
    if (len == 10) {
        if (sscanf(text, "%4d-%2d-%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &used) != 3 ||
            used != 10)
            return -1;
    } else {
        if (sscanf(text, "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                   &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &used) != 6 || used != 19)
            return -1;
        const char *rest = text + 19;
        if (*rest == '.') {
            int digits = 0;
            for (rest++; isdigit((unsigned char)*rest); rest++, digits++)
                if (digits < 3)
                    frac = frac * 10 + (unsigned)(*rest - '0');
            if (digits == 0)
                return -1;
            for (; digits < 3; digits++)
                frac *= 10;
        }
        if (strcmp(rest, "Z") != 0)
            return -1;
    }
    if (tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 || tm.tm_mday > 31 ||
        tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 60 || tm.tm_year < 1970)
        return -1;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    struct tm want = tm;
    time_t t = timegm(&tm);
    struct tm got;
    /* timegm normalises 2026-02-31 to March: refuse dates that do not exist. */
    if (t == (time_t)-1 || !gmtime_r(&t, &got) || got.tm_year != want.tm_year ||
        got.tm_mon != want.tm_mon || got.tm_mday != want.tm_mday)
        return -1;
    *ms = (uint64_t)t * 1000u + frac;
    return 0;
}

void hex_encode(const unsigned char *bin, size_t len, char *out)
{
    sodium_bin2hex(out, len * 2 + 1, bin, len);
}

int hex_decode(const char *hex, unsigned char *out, size_t len)
{
    size_t got = 0;
    const char *end = NULL;
    if (strlen(hex) != len * 2)
        return -1;
    if (sodium_hex2bin(out, len, hex, len * 2, NULL, &got, &end) != 0 || got != len ||
        *end != '\0')
        return -1;
    return 0;
}

size_t b64_encoded_len(size_t binlen)
{
    return sodium_base64_ENCODED_LEN(binlen, sodium_base64_VARIANT_ORIGINAL);
}

void b64_encode(const unsigned char *bin, size_t len, char *out, size_t outlen)
{
    sodium_bin2base64(out, outlen, bin, len, sodium_base64_VARIANT_ORIGINAL);
}

int b64_decode_exact(const char *b64, unsigned char *out, size_t len)
{
    size_t got = 0;
    const char *end = NULL;
    size_t inlen = strlen(b64);
    if (inlen != b64_encoded_len(len) - 1)
        return -1;
    if (sodium_base642bin(out, len, b64, inlen, NULL, &got, &end,
                          sodium_base64_VARIANT_ORIGINAL) != 0 ||
        got != len || *end != '\0')
        return -1;
    return 0;
}

int str_copy(char *dst, size_t cap, const char *src)
{
    size_t n = strlen(src);
    if (n >= cap) {
        memcpy(dst, src, cap - 1);
        dst[cap - 1] = '\0';
        return -1;
    }
    memcpy(dst, src, n + 1);
    return 0;
}

void str_sanitize(char *dst, size_t cap, const char *src)
{
    size_t i = 0;
    for (; src && src[i] && i + 1 < cap; i++)
        dst[i] = src[i] >= 0x20 && src[i] < 0x7f ? src[i] : '?';
    dst[i] = '\0';
}

void str_lower(char *s)
{
    for (; *s; s++)
        *s = (char)tolower((unsigned char)*s);
}

/* Sets the version and the RFC 9562 variant, and formats 8-4-4-4-12. */
static void s_uuid_format(unsigned char b[16], int version, char out[37])
{
    static const char hex[] = "0123456789abcdef";
    b[6] = (unsigned char)((b[6] & 0x0f) | (version << 4));
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    char *o = out;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            *o++ = '-';
        *o++ = hex[b[i] >> 4];
        *o++ = hex[b[i] & 15];
    }
    *o = '\0';
}

void uuid4(char out[37])
{
    unsigned char b[16];
    randombytes_buf(b, sizeof b);
    s_uuid_format(b, 4, out);
}

void uuid7(char out[37])
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t ms = (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
    /* RFC 9562 6.2 method 3: the 12 bits after the version are the
     * fraction of the millisecond, so ids also sort within one. */
    uint32_t frac = (uint32_t)(((uint64_t)(ts.tv_nsec % 1000000) << 12) / 1000000u);
    /* The random bits of ids (public, not keys) come from a pool refilled
     * 4 KiB at a time: one getrandom() per 512 ids instead of one each. */
    static unsigned char pool[4096];
    static size_t left;
    unsigned char b[16];
    if (left < 8) {
        randombytes_buf(pool, sizeof pool);
        left = sizeof pool;
    }
    memcpy(b + 8, pool + sizeof pool - left, 8);
    left -= 8;
    for (int i = 0; i < 6; i++)
        b[i] = (unsigned char)(ms >> (40 - 8 * i));
    b[6] = (unsigned char)(frac >> 8);
    b[7] = (unsigned char)frac;
    s_uuid_format(b, 7, out);
}
