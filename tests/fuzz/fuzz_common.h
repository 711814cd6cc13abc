/* Shared by the libFuzzer targets in tests/fuzz/. Each target is one file
 * with an LLVMFuzzerTestOneInput; keys are generated at start-up, never
 * read from or written to disk. FUZZ_CHECK is a property check: it aborts,
 * and libFuzzer keeps the input as a crash reproducer. */
#ifndef MOUX_FUZZ_COMMON_H
#define MOUX_FUZZ_COMMON_H

#include <sodium.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond)                                                              \
    do {                                                                              \
        if (!(cond)) {                                                                \
            fprintf(stderr, "%s:%d: property violated: %s\n", __FILE__, __LINE__, #cond); \
            abort();                                                                  \
        }                                                                             \
    } while (0)

static inline void fuzz_sodium_init(void)
{
    if (sodium_init() < 0) {
        fprintf(stderr, "fuzz: sodium_init failed\n");
        abort();
    }
}

/* A NUL-terminated heap copy of data (which may itself contain NULs). */
static inline char *fuzz_cstr(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s)
        abort();
    if (size)
        memcpy(s, data, size);
    s[size] = '\0';
    return s;
}

/* A sodium_malloc'd 32-byte key buffer (what the daemon uses for batch keys). */
static inline unsigned char *fuzz_secure_key(void)
{
    unsigned char *k = sodium_malloc(32);
    if (!k)
        abort();
    memset(k, 0, 32);
    return k;
}

/* Consumes n bytes from the front of (*data, *size); short input reads as 0. */
static inline uint64_t fuzz_take(const uint8_t **data, size_t *size, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        v <<= 8;
        if (*size) {
            v |= **data;
            (*data)++;
            (*size)--;
        }
    }
    return v;
}

#endif
