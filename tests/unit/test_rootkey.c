/* The agency root key file: sealing, strict parsing, permissions, atomic
 * replacement. Keys are generated at run time into a temporary directory
 * that is removed at exit; nothing here is key material worth keeping.
 *
 * Cost: rootkey_save with a passphrase uses Argon2id MODERATE (~0.7 s, 256
 * MiB); only test_sealed_round_trip pays it (three times). Every other
 * sealed file is built here with the cheapest parameters the format allows
 * (opslimit 1, memlimit 8 KiB), which the loader must accept because the
 * parameters are read from the file. */
#include "keyid.h"
#include "rootkey.h"
#include "test.h"

#include <dirent.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PASS "correct horse battery staple"
#define TEXT_CAP 1024


/* ---- helpers ---- */

static int write_raw(const char *path, const void *data, size_t len, mode_t mode)
{
    unlink(path);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, mode);
    if (fd < 0)
        return -1;
    ssize_t n = write(fd, data, len);
    close(fd);
    if (chmod(path, mode) != 0)
        return -1;
    return n == (ssize_t)len ? 0 : -1;
}

static long read_raw(const char *path, char *buf, size_t cap)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, cap - 1, f);
    fclose(f);
    buf[n] = '\0';
    return (long)n;
}

static int mode_of(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (int)(st.st_mode & 07777) : -1;
}

static void b64(const unsigned char *bin, size_t len, char *out, size_t cap)
{
    sodium_bin2base64(out, cap, bin, len, sodium_base64_VARIANT_ORIGINAL);
}

/* An unsealed ("kdf none") file for seed, claiming public key pk. */
static void unsealed_text(const unsigned char seed[32], const unsigned char pk[32], char *out,
                          size_t cap)
{
    char p[64], s[64];
    b64(pk, 32, p, sizeof p);
    b64(seed, 32, s, sizeof s);
    snprintf(out, cap, "moux-root-key 1\npublic %s\nkdf none\nsecret %s\n", p, s);
}

/* A sealed file in the exact format rootkey_save writes, with cheap KDF
 * parameters (see the cost note at the top). */
static void sealed_text(const unsigned char seed[32], const unsigned char pk[32],
                        const char *pass, char *out, size_t cap)
{
    unsigned char salt[16], nonce[24], key[32], box[48];
    char p[64], sa[64], n[64], bx[96];
    randombytes_buf(salt, sizeof salt);
    randombytes_buf(nonce, sizeof nonce);
    CHECK(crypto_pwhash(key, sizeof key, pass, strlen(pass), salt, 1, 8192,
                        crypto_pwhash_ALG_ARGON2ID13) == 0);
    crypto_secretbox_easy(box, seed, 32, nonce, key);
    b64(pk, 32, p, sizeof p);
    b64(salt, sizeof salt, sa, sizeof sa);
    b64(nonce, sizeof nonce, n, sizeof n);
    b64(box, sizeof box, bx, sizeof bx);
    snprintf(out, cap,
             "moux-root-key 1\npublic %s\nkdf argon2id13 1 8192 %s\nnonce %s\nsecret %s\n", p,
             sa, n, bx);
}

/* A fresh seed and its public key. */
static void new_seed(unsigned char seed[32], unsigned char pk[32])
{
    unsigned char sk[64];
    randombytes_buf(seed, 32);
    crypto_sign_seed_keypair(pk, sk, seed);
    sodium_memzero(sk, sizeof sk);
}

/* Loads a file holding exactly text (mode 0600); 1 if it loads with pass. */
static int loads(const char *text, size_t len, const char *pass, char *err, size_t errlen)
{
    char path[256];
    tmp_path(path, sizeof path, "probe.key");
    if (write_raw(path, text, len, 0600) != 0)
        return -1;
    rootkey_t *k = rootkey_load(path, pass, err, errlen);
    int ok = k != NULL;
    rootkey_destroy(&k);
    return ok;
}

static int count_lines(const char *s)
{
    int n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

/* ---- round trips ---- */

static void test_sealed_round_trip(void)
{
    char path[256], text[TEXT_CAP], err[256] = "";
    tmp_path(path, sizeof path, "sealed.key");
    rootkey_t *k = rootkey_generate(), *back = NULL, *wrong = NULL;
    CHECK(k != NULL);
    if (!k)
        return;
    CHECK(rootkey_save(k, path, PASS, 0, err, sizeof err) == 0); /* Argon2id #1 */
    CHECK(mode_of(path) == 0600);
    CHECK(read_raw(path, text, sizeof text) > 0);
    /* Five lines, the kdf line with the default (MODERATE) parameters. */
    CHECK(count_lines(text) == 5);
    CHECK(strncmp(text, "moux-root-key 1\npublic ", 23) == 0);
    char want[64];
    snprintf(want, sizeof want, "\nkdf argon2id13 %llu %zu ",
             (unsigned long long)crypto_pwhash_argon2id_OPSLIMIT_MODERATE,
             (size_t)crypto_pwhash_argon2id_MEMLIMIT_MODERATE);
    CHECK(strstr(text, want) != NULL);
    CHECK(strstr(text, "\nnonce ") != NULL && strstr(text, "\nsecret ") != NULL);
    CHECK(rootkey_is_sealed(path, err, sizeof err) == 1);
    unsigned char pk[32];
    CHECK(rootkey_read_public(path, pk, err, sizeof err) == 0);
    CHECK(memcmp(pk, k->pk, 32) == 0);
    /* No passphrase for a sealed file: refused before any KDF work. */
    CHECK(rootkey_load(path, NULL, err, sizeof err) == NULL);
    CHECK(strstr(err, "passphrase is needed") != NULL);

    back = rootkey_load(path, PASS, err, sizeof err); /* Argon2id #2 */
    CHECK(back != NULL);
    if (back) {
        CHECK(memcmp(back->pk, k->pk, 32) == 0);
        CHECK(memcmp(back->sk, k->sk, crypto_sign_SECRETKEYBYTES) == 0);
        CHECK(memcmp(back->key_id, k->key_id, KEYID_BYTES) == 0);
    }
    wrong = rootkey_load(path, PASS "!", err, sizeof err); /* Argon2id #3 */
    CHECK(wrong == NULL);
    char want_err[320];
    snprintf(want_err, sizeof want_err, "%s: wrong passphrase", path);
    CHECK_STR(err, want_err);
    rootkey_destroy(&wrong);
    rootkey_destroy(&back);
    rootkey_destroy(&k);
    CHECK(k == NULL);
}

static void test_unsealed_round_trip(void)
{
    char path[256], text[TEXT_CAP], want[TEXT_CAP], err[256] = "";
    unsigned char seed[32];
    tmp_path(path, sizeof path, "plain.key");
    rootkey_t *k = rootkey_generate();
    CHECK(k != NULL);
    if (!k)
        return;
    CHECK(rootkey_save(k, path, NULL, 0, err, sizeof err) == 0);
    CHECK(mode_of(path) == 0600);
    /* Byte for byte the documented format. */
    crypto_sign_ed25519_sk_to_seed(seed, k->sk);
    unsealed_text(seed, k->pk, want, sizeof want);
    CHECK(read_raw(path, text, sizeof text) == (long)strlen(want));
    CHECK_STR(text, want);
    CHECK(rootkey_is_sealed(path, err, sizeof err) == 0);
    rootkey_t *back = rootkey_load(path, NULL, err, sizeof err);
    CHECK(back != NULL && memcmp(back->sk, k->sk, crypto_sign_SECRETKEYBYTES) == 0);
    rootkey_destroy(&back);
    back = rootkey_load(path, "ignored for kdf none", err, sizeof err);
    CHECK(back != NULL);
    rootkey_destroy(&back);
    /* An empty passphrase is never a seal. */
    tmp_path(path, sizeof path, "empty-pass.key");
    CHECK(rootkey_save(k, path, "", 0, err, sizeof err) != 0);
    CHECK(access(path, F_OK) != 0);
    sodium_memzero(seed, sizeof seed);
    rootkey_destroy(&k);
}

static void test_cheap_parameters_are_read_from_the_file(void)
{
    char text[TEXT_CAP], err[256] = "";
    unsigned char seed[32], pk[32];
    new_seed(seed, pk);
    sealed_text(seed, pk, PASS, text, sizeof text);
    CHECK(loads(text, strlen(text), PASS, err, sizeof err) == 1);
    CHECK(loads(text, strlen(text), "not it", err, sizeof err) == 0);
    CHECK(strstr(err, "wrong passphrase") != NULL);
}

/* ---- strict parsing ---- */

/* Replaces the first occurrence of from in text by to, into out. */
static int edit(const char *text, const char *from, const char *to, char *out, size_t cap)
{
    const char *at = strstr(text, from);
    if (!at)
        return -1;
    snprintf(out, cap, "%.*s%s%s", (int)(at - text), text, to, at + strlen(from));
    return 0;
}

/* The value of line "key ..." in text (up to the newline), into out. */
static void line_value(const char *text, const char *key, char *out, size_t cap)
{
    char pat[32];
    snprintf(pat, sizeof pat, "\n%s ", key);
    const char *at = strstr(text, pat);
    out[0] = '\0';
    if (at) {
        at += strlen(pat);
        snprintf(out, cap, "%.*s", (int)strcspn(at, "\n"), at);
    }
}

/* Another base64 string of the same length and alphabet (a valid encoding
 * of different bytes): flips bits of the first character. */
static void other_b64(const char *v, char *out, size_t cap)
{
    snprintf(out, cap, "%s", v);
    out[0] = out[0] == 'A' ? 'B' : 'A';
}

static void test_tampered_lines_refused(void)
{
    char text[TEXT_CAP], bad[TEXT_CAP], err[256], v[128], w[128];
    unsigned char seed[32], pk[32], seed2[32], pk2[32];
    new_seed(seed, pk);
    new_seed(seed2, pk2);
    sealed_text(seed, pk, PASS, text, sizeof text);
    char pk2b[64];
    b64(pk2, 32, pk2b, sizeof pk2b);
    static const char *keys[] = {"public", "nonce", "secret"};
    for (size_t i = 0; i < 3; i++) {
        line_value(text, keys[i], v, sizeof v);
        other_b64(v, w, sizeof w);
        CHECK(edit(text, v, w, bad, sizeof bad) == 0);
        CHECK(loads(bad, strlen(bad), PASS, err, sizeof err) == 0);
    }
    /* kdf: each parameter, the salt, and the algorithm name. */
    line_value(text, "kdf", v, sizeof v);
    const char *salt = strrchr(v, ' ') + 1;
    char salt2[64];
    other_b64(salt, salt2, sizeof salt2);
    static const char *kdf_edits[][2] = {{"argon2id13 1 ", "argon2id13 2 "},
                                         {" 8192 ", " 16384 "},
                                         {"argon2id13", "argon2i13"},
                                         {"argon2id13", "scrypt"}};
    for (size_t i = 0; i < sizeof kdf_edits / sizeof kdf_edits[0]; i++) {
        CHECK(edit(text, kdf_edits[i][0], kdf_edits[i][1], bad, sizeof bad) == 0);
        CHECK(loads(bad, strlen(bad), PASS, err, sizeof err) == 0);
    }
    CHECK(edit(text, salt, salt2, bad, sizeof bad) == 0);
    CHECK(loads(bad, strlen(bad), PASS, err, sizeof err) == 0);
    /* A valid public key, but not the seed's: caught after unsealing. */
    line_value(text, "public", v, sizeof v);
    CHECK(edit(text, v, pk2b, bad, sizeof bad) == 0);
    CHECK(loads(bad, strlen(bad), PASS, err, sizeof err) == 0);
    CHECK(strstr(err, "does not match") != NULL);
    /* The header. */
    CHECK(edit(text, "moux-root-key 1", "moux-root-key 2", bad, sizeof bad) == 0);
    CHECK(loads(bad, strlen(bad), PASS, err, sizeof err) == 0);
    /* The original still loads: the refusals above were the edits. */
    CHECK(loads(text, strlen(text), PASS, err, sizeof err) == 1);
}

static void test_kdf_parameters_out_of_bounds_refused(void)
{
    char text[TEXT_CAP], bad[TEXT_CAP], err[256], big[64];
    unsigned char seed[32], pk[32];
    new_seed(seed, pk);
    sealed_text(seed, pk, PASS, text, sizeof text);
    snprintf(big, sizeof big, " %llu ",
             (unsigned long long)crypto_pwhash_argon2id_memlimit_max() + 1);
    const char *edits[][2] = {
        {"argon2id13 1 ", "argon2id13 0 "},        /* opslimit below min */
        {"argon2id13 1 ", "argon2id13 4294967296 "}, /* above max */
        {"argon2id13 1 ", "argon2id13 01 "},        /* leading zero */
        {"argon2id13 1 ", "argon2id13 +1 "},        /* sign */
        {"argon2id13 1 ", "argon2id13  1 "},        /* double space */
        {" 8192 ", " 8191 "},                       /* memlimit below min */
        {" 8192 ", big},                            /* above max */
        {" 8192 ", " 99999999999999999999999 "},    /* overflow */
        {" 8192 ", " 8193 "},                       /* same KiB count: not canonical */
        {" 8192 ", " 9000 "},
        {" 8192 ", " 8192x "},
        {" 8192 ", " "},                            /* missing */
    };
    for (size_t i = 0; i < sizeof edits / sizeof edits[0]; i++) {
        CHECK(edit(text, edits[i][0], edits[i][1], bad, sizeof bad) == 0);
        err[0] = '\0';
        CHECK(loads(bad, strlen(bad), PASS, err, sizeof err) == 0);
        /* Refused by the parser, not by a failed unseal. */
        CHECK(strstr(err, "not a valid root key file") != NULL);
    }
}

/* Every single-byte change anywhere in the file is refused. */
static void flip_every_byte(const char *text, const char *pass)
{
    char bad[TEXT_CAP], err[256];
    size_t len = strlen(text);
    int accepted = 0;
    for (size_t i = 0; i < len; i++) {
        const char repl[2] = {(char)(text[i] ^ 0x01), text[i] == 'A' ? 'B' : 'A'};
        for (int r = 0; r < 2; r++) {
            memcpy(bad, text, len + 1);
            bad[i] = repl[r];
            if (loads(bad, len, pass, err, sizeof err) != 0) {
                fprintf(stderr, "accepted with byte %zu changed to 0x%02x\n", i,
                        (unsigned char)repl[r]);
                accepted++;
            }
        }
    }
    CHECK(accepted == 0);
}

static void test_every_byte_changed_refused(void)
{
    char text[TEXT_CAP];
    unsigned char seed[32], pk[32];
    new_seed(seed, pk);
    sealed_text(seed, pk, PASS, text, sizeof text);
    flip_every_byte(text, PASS);
    unsealed_text(seed, pk, text, sizeof text);
    flip_every_byte(text, NULL);
}

static void test_truncated_refused(void)
{
    char text[TEXT_CAP], err[256];
    unsigned char seed[32], pk[32];
    new_seed(seed, pk);
    for (int sealed = 0; sealed < 2; sealed++) {
        if (sealed)
            sealed_text(seed, pk, PASS, text, sizeof text);
        else
            unsealed_text(seed, pk, text, sizeof text);
        size_t len = strlen(text);
        int accepted = 0;
        for (size_t n = 0; n < len; n++)
            accepted += loads(text, n, PASS, err, sizeof err) != 0;
        CHECK(accepted == 0);
        CHECK(loads(text, len, PASS, err, sizeof err) == 1);
    }
}

static void test_padded_refused(void)
{
    static const char *tails[] = {"\n", " ", "x", "garbage\n", "\r", "secret AAAA\n"};
    char text[TEXT_CAP], bad[TEXT_CAP + 16], err[256];
    unsigned char seed[32], pk[32];
    new_seed(seed, pk);
    unsealed_text(seed, pk, text, sizeof text);
    size_t len = strlen(text);
    for (size_t i = 0; i < sizeof tails / sizeof tails[0]; i++) {
        snprintf(bad, sizeof bad, "%s%s", text, tails[i]);
        CHECK(loads(bad, strlen(bad), NULL, err, sizeof err) == 0);
    }
    /* A trailing NUL byte (invisible to string functions). */
    memcpy(bad, text, len);
    bad[len] = '\0';
    CHECK(loads(bad, len + 1, NULL, err, sizeof err) == 0);
    /* A space before a newline, and CRLF line ends. */
    CHECK(edit(text, "kdf none\n", "kdf none \n", bad, sizeof bad) == 0);
    CHECK(loads(bad, strlen(bad), NULL, err, sizeof err) == 0);
    CHECK(edit(text, "kdf none\n", "kdf none\r\n", bad, sizeof bad) == 0);
    CHECK(loads(bad, strlen(bad), NULL, err, sizeof err) == 0);
    /* Lines out of order. */
    char pub[128], sec[128];
    line_value(text, "public", pub, sizeof pub);
    line_value(text, "secret", sec, sizeof sec);
    snprintf(bad, sizeof bad, "moux-root-key 1\nkdf none\npublic %s\nsecret %s\n", pub, sec);
    CHECK(loads(bad, strlen(bad), NULL, err, sizeof err) == 0);
    /* kdf none with a nonce line. */
    snprintf(bad, sizeof bad, "moux-root-key 1\npublic %s\nkdf none\nnonce %s\nsecret %s\n", pub,
             "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", sec);
    CHECK(loads(bad, strlen(bad), NULL, err, sizeof err) == 0);
    /* Oversized. */
    char *huge = malloc(4096);
    if (huge) {
        memset(huge, 'A', 4096);
        memcpy(huge, text, len);
        CHECK(loads(huge, 4096, NULL, err, sizeof err) == 0);
        free(huge);
    }
}

static void test_public_key_must_match_seed(void)
{
    char text[TEXT_CAP], path[256], err[256] = "";
    unsigned char seed[32], pk[32], seed2[32], pk2[32], got[32];
    new_seed(seed, pk);
    new_seed(seed2, pk2);
    unsealed_text(seed, pk2, text, sizeof text);
    CHECK(loads(text, strlen(text), NULL, err, sizeof err) == 0);
    CHECK(strstr(err, "does not match") != NULL);
    /* Without a passphrase too, for an unsealed file. */
    tmp_path(path, sizeof path, "probe.key");
    CHECK(rootkey_read_public(path, got, err, sizeof err) != 0);
    sealed_text(seed, pk2, PASS, text, sizeof text);
    err[0] = '\0';
    CHECK(loads(text, strlen(text), PASS, err, sizeof err) == 0);
    CHECK(strstr(err, "does not match") != NULL);
}

/* ---- permissions and replacement ---- */

static void test_group_or_other_access_refused(void)
{
    static const mode_t bad[] = {0640, 0604, 0660, 0606, 0644, 0610, 0601};
    char path[256], err[256] = "";
    unsigned char pk[32];
    tmp_path(path, sizeof path, "perm.key");
    rootkey_t *k = rootkey_generate();
    CHECK(k && rootkey_save(k, path, NULL, 0, err, sizeof err) == 0);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK(chmod(path, bad[i]) == 0);
        rootkey_t *back = rootkey_load(path, NULL, err, sizeof err);
        CHECK(back == NULL);
        rootkey_destroy(&back);
        CHECK(strstr(err, "group or others") != NULL);
        CHECK(rootkey_read_public(path, pk, err, sizeof err) != 0);
        CHECK(rootkey_is_sealed(path, err, sizeof err) == -1);
    }
    CHECK(chmod(path, 0400) == 0); /* owner read-only is fine */
    rootkey_t *back = rootkey_load(path, NULL, err, sizeof err);
    CHECK(back != NULL);
    rootkey_destroy(&back);
    rootkey_destroy(&k);
}

static void test_created_0600_whatever_the_umask(void)
{
    char path[256], err[256] = "";
    tmp_path(path, sizeof path, "umask.key");
    rootkey_t *k = rootkey_generate();
    mode_t old = umask(0);
    CHECK(k && rootkey_save(k, path, NULL, 0, err, sizeof err) == 0);
    umask(old);
    CHECK(mode_of(path) == 0600);
    rootkey_destroy(&k);
}

static void test_existing_file_not_overwritten(void)
{
    char path[256], before[TEXT_CAP], after[TEXT_CAP], err[256] = "";
    tmp_path(path, sizeof path, "exists.key");
    rootkey_t *a = rootkey_generate(), *b = rootkey_generate();
    CHECK(a && b && rootkey_save(a, path, NULL, 0, err, sizeof err) == 0);
    CHECK(read_raw(path, before, sizeof before) > 0);
    CHECK(rootkey_save(b, path, NULL, 0, err, sizeof err) != 0);
    CHECK(strstr(err, "exists") != NULL);
    CHECK(read_raw(path, after, sizeof after) > 0);
    CHECK_STR(after, before);
    rootkey_destroy(&a);
    rootkey_destroy(&b);
}

static void test_force_replaces_atomically(void)
{
    char path[256], tmp[300], stale[TEXT_CAP], before[TEXT_CAP], err[256] = "";
    struct stat st1, st2;
    tmp_path(path, sizeof path, "force.key");
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    rootkey_t *a = rootkey_generate(), *b = rootkey_generate(), *back = NULL;
    CHECK(a && b && rootkey_save(a, path, NULL, 0, err, sizeof err) == 0);
    CHECK(stat(path, &st1) == 0);
    CHECK(rootkey_save(b, path, NULL, 1, err, sizeof err) == 0);
    CHECK(stat(path, &st2) == 0);
    /* A new file renamed into place, not the old one rewritten. */
    CHECK(st1.st_ino != st2.st_ino);
    CHECK(mode_of(path) == 0600);
    CHECK(access(tmp, F_OK) != 0);
    back = rootkey_load(path, NULL, err, sizeof err);
    CHECK(back && memcmp(back->pk, b->pk, 32) == 0);
    rootkey_destroy(&back);
    /* A stale PATH.tmp (an interrupted write, or someone's trap) is neither
     * reused nor followed: force refuses, and PATH is left whole. */
    CHECK(read_raw(path, before, sizeof before) > 0);
    CHECK(write_raw(tmp, "stale\n", 6, 0600) == 0);
    CHECK(rootkey_save(a, path, NULL, 1, err, sizeof err) != 0);
    CHECK(strstr(err, ".tmp") != NULL);
    CHECK(read_raw(path, stale, sizeof stale) > 0);
    CHECK_STR(stale, before);
    CHECK(read_raw(tmp, stale, sizeof stale) == 6);
    unlink(tmp);
    /* Force onto a path that does not exist yet simply creates it. */
    tmp_path(path, sizeof path, "force-new.key");
    CHECK(rootkey_save(a, path, NULL, 1, err, sizeof err) == 0);
    CHECK(mode_of(path) == 0600);
    rootkey_destroy(&a);
    rootkey_destroy(&b);
}

static void test_symlinks_refused(void)
{
    char path[256], link[256], target[256], err[256] = "";
    tmp_path(path, sizeof path, "real.key");
    tmp_path(link, sizeof link, "link.key");
    tmp_path(target, sizeof target, "elsewhere.key");
    rootkey_t *k = rootkey_generate();
    CHECK(k && rootkey_save(k, path, NULL, 0, err, sizeof err) == 0);
    CHECK(symlink(path, link) == 0);
    rootkey_t *back = rootkey_load(link, NULL, err, sizeof err);
    CHECK(back == NULL);
    rootkey_destroy(&back);
    CHECK(strstr(err, "symbolic link") != NULL);
    /* Saving through a dangling link must not create its target. */
    unlink(link);
    CHECK(symlink(target, link) == 0);
    CHECK(rootkey_save(k, link, NULL, 0, err, sizeof err) != 0);
    CHECK(access(target, F_OK) != 0);
    rootkey_destroy(&k);
}

static void test_missing_file(void)
{
    char path[256], err[256] = "";
    unsigned char pk[32];
    tmp_path(path, sizeof path, "absent.key");
    CHECK(rootkey_load(path, NULL, err, sizeof err) == NULL);
    CHECK(strstr(err, path) != NULL);
    CHECK(rootkey_read_public(path, pk, err, sizeof err) != 0);
    CHECK(rootkey_is_sealed(path, err, sizeof err) == -1);
    rootkey_destroy(NULL); /* harmless */
}

/* ---- fingerprint ---- */

static void test_root_fingerprint_is_tagged_hash(void)
{
    unsigned char pk[32], fp[FP_BYTES], full[32], buf[14 + 32];
    randombytes_buf(pk, sizeof pk);
    root_fingerprint(pk, fp);
    memcpy(buf, "moux/root-fp/1", 14);
    memcpy(buf + 14, pk, 32);
    crypto_hash_sha256(full, buf, sizeof buf);
    CHECK(memcmp(fp, full, FP_BYTES) == 0);
    /* Not the bare key id: a root fingerprint is never another kind's. */
    unsigned char kid[KEYID_BYTES];
    keyid_of(pk, 32, kid);
    CHECK(memcmp(fp, kid, FP_BYTES) != 0);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    snprintf(s_tmp, sizeof s_tmp, "/tmp/moux-test-rootkey-XXXXXX");
    if (!mkdtemp(s_tmp)) {
        perror("mkdtemp");
        return 1;
    }
    RUN(test_sealed_round_trip);
    RUN(test_unsealed_round_trip);
    RUN(test_cheap_parameters_are_read_from_the_file);
    RUN(test_tampered_lines_refused);
    RUN(test_kdf_parameters_out_of_bounds_refused);
    RUN(test_every_byte_changed_refused);
    RUN(test_truncated_refused);
    RUN(test_padded_refused);
    RUN(test_public_key_must_match_seed);
    RUN(test_group_or_other_access_refused);
    RUN(test_created_0600_whatever_the_umask);
    RUN(test_existing_file_not_overwritten);
    RUN(test_force_replaces_atomically);
    RUN(test_symlinks_refused);
    RUN(test_missing_file);
    RUN(test_root_fingerprint_is_tagged_hash);
    rm_rf(s_tmp);
    return TEST_DONE();
}
