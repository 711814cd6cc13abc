/* MOU documents and signature lines: operators' files, but also what a
 * partner sends for signing. The first input byte picks a mode:
 *   0  the rest is an MOU document: mou_parse either refuses it with a
 *      message naming the source, or accepts it, and then everything the
 *      node reads from it is readable and consistent (parties differ, the
 *      validity window is ordered, each direction goes between the two
 *      parties, hashing the same bytes gives the same hash).
 *   1  the rest is a signature line, checked against a fixed valid MOU: it
 *      must never verify (the fuzzer holds no party's root key). */
#include "fuzz_common.h"
#include "mou.h"

static mou_t *s_fixed;

static const char s_doc[] =
    "moux-mou: 1\n"
    "id: fuzz-1\n"
    "title: fuzz\n"
    "party-a: a.example root-fingerprint AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAAA\n"
    "party-b: b.example root-fingerprint BBBB-BBBB-BBBB-BBBB-BBBB-BBBB-BBBB-BBBB\n"
    "effective: 2026-01-01\n"
    "expires: 2031-01-01\n"
    "\n"
    "[a-to-b]\n"
    "types: all\n"
    "max-tlp: amber\n"
    "onward: none\n"
    "anonymise: no\n"
    "retention-days: 30\n"
    "min-confidence: 0\n"
    "receipts: required\n";

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_sodium_init();
    char err[512];
    if (mou_parse(s_doc, sizeof s_doc - 1, "fixed", &s_fixed, err, sizeof err) != 0) {
        fprintf(stderr, "fuzz_mou: fixed document refused: %s\n", err);
        abort();
    }
    return 0;
}

static void s_document(const uint8_t *data, size_t size)
{
    mou_t *m = NULL;
    char err[512] = "";
    if (mou_parse((const char *)data, size, "f", &m, err, sizeof err) != 0) {
        FUZZ_CHECK(m == NULL && strncmp(err, "f", 1) == 0);
        return;
    }
    FUZZ_CHECK(strcmp(mou_party(m, 0), mou_party(m, 1)) != 0);
    FUZZ_CHECK(mou_effective_ms(m) < mou_expires_ms(m));
    unsigned char h[MOU_HASH_BYTES];
    mou_hash((const char *)data, size, h);
    FUZZ_CHECK(memcmp(h, mou_hash_bytes(m), MOU_HASH_BYTES) == 0);
    for (int i = 0; i < 2; i++) {
        const mou_dir_t *d = mou_dir(m, i);
        if (d)
            FUZZ_CHECK(mou_direction(m, mou_party(m, i), mou_party(m, !i)) == d);
    }
    char why[256];
    mou_valid_at(m, mou_effective_ms(m), why, sizeof why);
    mou_destroy(&m);
}

static void s_signature(const uint8_t *data, size_t size)
{
    char why[256];
    int party = -2;
    char *line = fuzz_cstr(data, size);
    FUZZ_CHECK(mou_verify_sig(s_fixed, line, size, NULL, &party, why, sizeof why) != 0);
    free(line);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    if (data[0] % 2 == 0)
        s_document(data + 1, size - 1);
    else
        s_signature(data + 1, size - 1);
    return 0;
}
