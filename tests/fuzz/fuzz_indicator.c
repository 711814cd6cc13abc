/* Indicator values: the input (cut at the first NUL) is normalised as every
 * type. Properties, abort() when one fails:
 *   - the output is NUL terminated within the cap, and at most
 *     IND_VALUE_MAX bytes (output buffers are exactly cap bytes of heap, so
 *     ASan catches a write past them);
 *   - normalising is idempotent: a normalised value normalises to itself;
 *   - a smaller cap gives the same answer or a refusal, never a truncation;
 *   - ind_pattern fits every normalised value in IND_PATTERN_MAX.
 * The first input byte only picks the smaller cap; the rest is the value. */
#include "fuzz_common.h"
#include "indicator.h"

static char *s_buf(size_t cap)
{
    char *b = malloc(cap ? cap : 1);
    if (!b)
        abort();
    memset(b, 0x5a, cap ? cap : 1);
    return b;
}

static void s_one(ind_type_t type, const char *value, size_t small_cap)
{
    const size_t cap = IND_VALUE_MAX + 1;
    char *out = s_buf(cap), *again = s_buf(cap), *small = s_buf(small_cap);
    const char *why = NULL;
    int rc = ind_normalise(type, value, out, cap, &why);
    if (rc != 0) {
        FUZZ_CHECK(why != NULL);
        /* What does not fit in the full cap does not fit in less. */
        FUZZ_CHECK(ind_normalise(type, value, small, small_cap, NULL) != 0);
        goto out;
    }
    FUZZ_CHECK(memchr(out, '\0', cap) != NULL);
    size_t len = strlen(out);
    FUZZ_CHECK(len > 0 && len <= IND_VALUE_MAX);

    why = NULL;
    if (ind_normalise(type, out, again, cap, &why) != 0) {
        fprintf(stderr, "%s: \"%s\" normalised to \"%s\", which is refused: %s\n",
                ind_type_name(type), value, out, why ? why : "?");
        abort();
    }
    if (strcmp(out, again) != 0) {
        fprintf(stderr, "%s: \"%s\" -> \"%s\" -> \"%s\": not idempotent\n",
                ind_type_name(type), value, out, again);
        abort();
    }

    if (ind_normalise(type, value, small, small_cap, NULL) == 0) {
        FUZZ_CHECK(len < small_cap && strcmp(small, out) == 0);
    } else {
        FUZZ_CHECK(len >= small_cap);
    }

    char *pattern = s_buf(IND_PATTERN_MAX + 1);
    FUZZ_CHECK(ind_pattern(type, out, pattern, IND_PATTERN_MAX + 1) == 0);
    FUZZ_CHECK(strlen(pattern) <= IND_PATTERN_MAX);
    free(pattern);
out:
    free(out);
    free(again);
    free(small);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    size_t small_cap = data[0]; /* 0..255: spans the hash and address lengths */
    char *value = fuzz_cstr(data + 1, size - 1);
    for (int t = 0; t < IND_TYPE_COUNT; t++)
        s_one((ind_type_t)t, value, small_cap);
    /* The other entry points that take wire strings. */
    ind_type_t type;
    if (ind_type_parse(value, &type) == 0)
        FUZZ_CHECK((unsigned)type < IND_TYPE_COUNT);
    if (ind_id_valid(value))
        FUZZ_CHECK(strlen(value) == IND_ID_LEN);
    free(value);
    return 0;
}
