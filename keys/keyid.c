#include "keyid.h"

#include <ctype.h>
#include <sodium.h>
#include <string.h>

static const char s_b32[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

void keyid_of(const unsigned char *pk, size_t len, unsigned char out[KEYID_BYTES])
{
    crypto_hash_sha256(out, pk, len);
}

void fingerprint_of(const char *tag, const unsigned char *data, size_t len,
                    unsigned char out[FP_BYTES])
{
    crypto_hash_sha256_state st;
    unsigned char full[crypto_hash_sha256_BYTES];
    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, (const unsigned char *)tag, strlen(tag));
    crypto_hash_sha256_update(&st, data, len);
    crypto_hash_sha256_final(&st, full);
    memcpy(out, full, FP_BYTES);
}

void fingerprint_format(const unsigned char fp[FP_BYTES], char out[FP_STRLEN])
{
    /* 160 bits = 32 symbols of 5 bits, most significant bit first. */
    size_t o = 0;
    for (int sym = 0; sym < 32; sym++) {
        int bit = sym * 5, val = 0;
        for (int i = 0; i < 5; i++, bit++)
            val = (val << 1) | ((fp[bit / 8] >> (7 - bit % 8)) & 1);
        if (sym && sym % 4 == 0)
            out[o++] = '-';
        out[o++] = s_b32[val];
    }
    out[o] = '\0';
}

int fingerprint_parse(const char *text, unsigned char out[FP_BYTES])
{
    unsigned char buf[FP_BYTES] = {0};
    int bit = 0;
    for (const char *p = text; *p; p++) {
        if (*p == '-' || *p == ' ')
            continue;
        const char *hit = strchr(s_b32, toupper((unsigned char)*p));
        if (!hit || !*hit || bit >= 160)
            return -1;
        int val = (int)(hit - s_b32);
        for (int i = 4; i >= 0; i--, bit++)
            if ((val >> i) & 1)
                buf[bit / 8] |= (unsigned char)(1 << (7 - bit % 8));
    }
    if (bit != 160)
        return -1;
    memcpy(out, buf, FP_BYTES);
    return 0;
}
