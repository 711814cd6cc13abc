/* Key files, key ids, fingerprints and the node key set. Every key is
 * generated at run time into a temporary directory that is removed at exit. */
#include "keyfile.h"
#include "keyid.h"
#include "nodekeys.h"
#include "test.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PUB_LABEL "moux-x25519-public"
#define SEC_LABEL "moux-ed25519-secret"


/* ---- helpers ---- */

/* A fresh, empty subdirectory of s_tmp. */
static const char *tmp_dir(char *buf, size_t cap, const char *name)
{
    tmp_path(buf, cap, name);
    rm_rf(buf);
    mkdir(buf, 0700);
    return buf;
}

/* Writes exactly len bytes to a new file with the given mode. */
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

/* Reads a whole small file into buf (NUL terminated); returns its length or -1. */
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

/* The valid file line for key[len] under label: "label base64\n". */
static void key_line(const char *label, const unsigned char *key, size_t len, char *out,
                     size_t cap)
{
    char b64[100]; /* base64 of up to 64 bytes */
    sodium_bin2base64(b64, sizeof b64, key, len, sodium_base64_VARIANT_ORIGINAL);
    snprintf(out, cap, "%s %s\n", label, b64);
}

/* Reads a 32-byte public key from a file holding exactly text. */
static key_err_t read_public_text(const char *text, size_t len)
{
    char path[256];
    unsigned char out[32];
    tmp_path(path, sizeof path, "text.pub");
    if (write_raw(path, text, len, 0644) != 0)
        return (key_err_t)-1;
    return keyfile_read_public(path, PUB_LABEL, out, sizeof out);
}

static int mode_of(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (int)(st.st_mode & 07777) : -1;
}

/* ---- key files ---- */

static void test_public_round_trip(void)
{
    char path[256], text[256], want[256];
    unsigned char key[32], back[32];
    randombytes_buf(key, sizeof key);
    tmp_path(path, sizeof path, "rt.pub");
    CHECK(keyfile_write(path, PUB_LABEL, key, sizeof key, 0) == KEY_OK);
    CHECK(keyfile_read_public(path, PUB_LABEL, back, sizeof back) == KEY_OK);
    CHECK(memcmp(key, back, sizeof key) == 0);
    /* The file is exactly one line: label, space, base64, newline. */
    key_line(PUB_LABEL, key, sizeof key, want, sizeof want);
    CHECK(read_raw(path, text, sizeof text) == (long)strlen(want));
    CHECK_STR(text, want);
    CHECK((mode_of(path) & 0022) == 0); /* created 0644 at most */
}

static void test_secret_round_trip(void)
{
    char path[256];
    unsigned char key[64], *back = NULL;
    randombytes_buf(key, sizeof key);
    tmp_path(path, sizeof path, "rt.sec");
    CHECK(keyfile_write(path, SEC_LABEL, key, sizeof key, 1) == KEY_OK);
    CHECK(keyfile_read_secret(path, SEC_LABEL, sizeof key, &back) == KEY_OK);
    CHECK(back != NULL && memcmp(key, back, sizeof key) == 0);
    sodium_free(back);
}

static void test_secret_created_0600(void)
{
    char path[256];
    unsigned char key[32];
    randombytes_buf(key, sizeof key);
    tmp_path(path, sizeof path, "mode.sec");
    mode_t old = umask(0); /* the file must be 0600 whatever the umask */
    CHECK(keyfile_write(path, SEC_LABEL, key, sizeof key, 1) == KEY_OK);
    umask(old);
    CHECK(mode_of(path) == 0600);
}

static void test_secret_group_or_other_access_refused(void)
{
    static const mode_t bad[] = {0640, 0604, 0660, 0606, 0610, 0601, 0644};
    char path[256];
    unsigned char key[32], *back = NULL;
    randombytes_buf(key, sizeof key);
    tmp_path(path, sizeof path, "perm.sec");
    CHECK(keyfile_write(path, SEC_LABEL, key, sizeof key, 1) == KEY_OK);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK(chmod(path, bad[i]) == 0);
        CHECK(keyfile_read_secret(path, SEC_LABEL, sizeof key, &back) == KEY_ERR_PERM);
        CHECK(back == NULL);
    }
    CHECK(chmod(path, 0400) == 0); /* owner-only read is fine */
    CHECK(keyfile_read_secret(path, SEC_LABEL, sizeof key, &back) == KEY_OK);
    sodium_free(back);
}

static void test_public_file_may_be_world_readable(void)
{
    char path[256];
    unsigned char key[32], back[32];
    randombytes_buf(key, sizeof key);
    tmp_path(path, sizeof path, "world.pub");
    CHECK(keyfile_write(path, PUB_LABEL, key, sizeof key, 0) == KEY_OK);
    CHECK(chmod(path, 0644) == 0);
    CHECK(keyfile_read_public(path, PUB_LABEL, back, sizeof back) == KEY_OK);
}

static void test_trailing_garbage_refused(void)
{
    unsigned char key[32];
    char line[256], text[512];
    randombytes_buf(key, sizeof key);
    key_line(PUB_LABEL, key, sizeof key, line, sizeof line);
    size_t len = strlen(line);
    CHECK(read_public_text(line, len) == KEY_OK); /* the control */

    snprintf(text, sizeof text, "%s%s", line, line); /* an extra line */
    CHECK(read_public_text(text, strlen(text)) == KEY_ERR_FORMAT);
    snprintf(text, sizeof text, "%sx", line); /* one char after the newline */
    CHECK(read_public_text(text, strlen(text)) == KEY_ERR_FORMAT);
    snprintf(text, sizeof text, "%s\n", line); /* a blank line after it */
    CHECK(read_public_text(text, strlen(text)) == KEY_ERR_FORMAT);
    CHECK(read_public_text(line, len - 1) == KEY_ERR_FORMAT); /* no newline */
    snprintf(text, sizeof text, "%.*s \n", (int)(len - 1), line); /* space before \n */
    CHECK(read_public_text(text, strlen(text)) == KEY_ERR_FORMAT);
    snprintf(text, sizeof text, "%.*s\r\n", (int)(len - 1), line); /* CRLF */
    CHECK(read_public_text(text, strlen(text)) == KEY_ERR_FORMAT);
    snprintf(text, sizeof text, " %s", line); /* leading space */
    CHECK(read_public_text(text, strlen(text)) == KEY_ERR_FORMAT);
    CHECK(read_public_text("", 0) == KEY_ERR_FORMAT); /* empty file */
    memcpy(text, line, len); /* anything hidden behind a NUL byte */
    memcpy(text + len, "\0garbage", 8);
    CHECK(read_public_text(text, len + 8) == KEY_ERR_FORMAT);
}

static void test_oversized_file_refused(void)
{
    char big[1024];
    memset(big, 'A', sizeof big);
    memcpy(big, PUB_LABEL " ", strlen(PUB_LABEL) + 1);
    big[sizeof big - 1] = '\n';
    CHECK(read_public_text(big, sizeof big) == KEY_ERR_FORMAT);
}

static void test_wrong_label_refused(void)
{
    char path[256];
    unsigned char key[32], back[32], *sec = NULL;
    randombytes_buf(key, sizeof key);
    tmp_path(path, sizeof path, "label.pub");
    CHECK(keyfile_write(path, PUB_LABEL, key, sizeof key, 0) == KEY_OK);
    CHECK(keyfile_read_public(path, "moux-ed25519-public", back, 32) == KEY_ERR_FORMAT);
    CHECK(keyfile_read_public(path, "moux-x25519-publi", back, 32) == KEY_ERR_FORMAT);
    CHECK(keyfile_read_public(path, "moux-x25519-public-x", back, 32) == KEY_ERR_FORMAT);
    CHECK(keyfile_read_public(path, "MOUX-X25519-PUBLIC", back, 32) == KEY_ERR_FORMAT);

    /* A secret read under a public label (and vice versa) is refused too. */
    tmp_path(path, sizeof path, "label.sec");
    CHECK(keyfile_write(path, SEC_LABEL, key, sizeof key, 1) == KEY_OK);
    CHECK(keyfile_read_secret(path, "moux-x25519-secret", 32, &sec) == KEY_ERR_FORMAT);
    CHECK(sec == NULL);
    CHECK(keyfile_read_public(path, "moux-ed25519-public", back, 32) == KEY_ERR_FORMAT);
}

static void test_bad_base64_refused(void)
{
    unsigned char key[32];
    char line[256], text[256];
    randombytes_buf(key, sizeof key);
    key_line(PUB_LABEL, key, sizeof key, line, sizeof line);
    size_t at = strlen(PUB_LABEL) + 1 + 5; /* a symbol inside the base64 */
    const char bad[] = {'!', '*', '-', '_', ' ', '.', '='};
    for (size_t i = 0; i < sizeof bad; i++) {
        snprintf(text, sizeof text, "%s", line);
        text[at] = bad[i];
        CHECK(read_public_text(text, strlen(text)) == KEY_ERR_FORMAT);
    }
    /* Padding removed, or an extra symbol in place of the padding. */
    size_t len = strlen(line);
    snprintf(text, sizeof text, "%.*s\n", (int)(len - 2), line);
    CHECK(read_public_text(text, strlen(text)) == KEY_ERR_FORMAT);
    snprintf(text, sizeof text, "%.*sA\n", (int)(len - 2), line);
    CHECK(read_public_text(text, strlen(text)) == KEY_ERR_FORMAT);
}

static void test_wrong_key_length_refused(void)
{
    unsigned char key[64], back[32], *sec = NULL;
    char line[256], path[256];
    randombytes_buf(key, sizeof key);
    for (size_t len = 30; len <= 34; len++) {
        if (len == 32)
            continue;
        key_line(PUB_LABEL, key, len, line, sizeof line);
        CHECK(read_public_text(line, strlen(line)) == KEY_ERR_FORMAT);
    }
    /* A 32-byte secret where 64 are expected, and the reverse. */
    tmp_path(path, sizeof path, "len.sec");
    unlink(path);
    CHECK(keyfile_write(path, SEC_LABEL, key, 32, 1) == KEY_OK);
    CHECK(keyfile_read_secret(path, SEC_LABEL, 64, &sec) == KEY_ERR_FORMAT);
    CHECK(sec == NULL);
    unlink(path);
    CHECK(keyfile_write(path, SEC_LABEL, key, 64, 1) == KEY_OK);
    CHECK(keyfile_read_public(path, SEC_LABEL, back, 32) == KEY_ERR_FORMAT);
}

static void test_existing_file_not_overwritten(void)
{
    char path[256], before[256], after[256];
    unsigned char a[32], b[32];
    randombytes_buf(a, sizeof a);
    randombytes_buf(b, sizeof b);
    tmp_path(path, sizeof path, "exists.sec");
    CHECK(keyfile_write(path, SEC_LABEL, a, sizeof a, 1) == KEY_OK);
    CHECK(read_raw(path, before, sizeof before) > 0);
    CHECK(keyfile_write(path, SEC_LABEL, b, sizeof b, 1) == KEY_ERR_EXISTS);
    CHECK(keyfile_write(path, PUB_LABEL, b, sizeof b, 0) == KEY_ERR_EXISTS);
    CHECK(read_raw(path, after, sizeof after) > 0);
    CHECK_STR(after, before);
}

static void test_symlink_refused(void)
{
    char target[256], link[256], dangling[256], missing[256];
    unsigned char key[32], back[32], *sec = NULL;
    randombytes_buf(key, sizeof key);
    tmp_path(target, sizeof target, "real.sec");
    tmp_path(link, sizeof link, "link.sec");
    CHECK(keyfile_write(target, SEC_LABEL, key, sizeof key, 1) == KEY_OK);
    CHECK(symlink(target, link) == 0);
    /* Reading through a symlink: O_NOFOLLOW makes the open fail. */
    CHECK(keyfile_read_secret(link, SEC_LABEL, sizeof key, &sec) == KEY_ERR_IO);
    CHECK(sec == NULL);
    errno = 0;
    CHECK(keyfile_read_public(link, SEC_LABEL, back, sizeof back) == KEY_ERR_IO);
    CHECK(errno == ELOOP);
    /* Writing through a symlink, even a dangling one, never follows it. */
    CHECK(keyfile_write(link, SEC_LABEL, key, sizeof key, 1) == KEY_ERR_EXISTS);
    tmp_path(missing, sizeof missing, "nowhere.sec");
    tmp_path(dangling, sizeof dangling, "dangling.sec");
    CHECK(symlink(missing, dangling) == 0);
    CHECK(keyfile_write(dangling, SEC_LABEL, key, sizeof key, 1) == KEY_ERR_EXISTS);
    CHECK(access(missing, F_OK) != 0);
}

static void test_missing_file_and_directory_refused(void)
{
    char path[256];
    unsigned char back[32], *sec = NULL;
    tmp_path(path, sizeof path, "does-not-exist.pub");
    CHECK(keyfile_read_public(path, PUB_LABEL, back, 32) == KEY_ERR_IO);
    CHECK(keyfile_read_secret(path, SEC_LABEL, 32, &sec) == KEY_ERR_IO);
    CHECK(sec == NULL);
    tmp_dir(path, sizeof path, "adir");
    CHECK(keyfile_read_public(path, PUB_LABEL, back, 32) == KEY_ERR_FORMAT);
}

static void test_key_strerror_names_every_error(void)
{
    CHECK_STR(key_strerror(KEY_OK), "ok");
    CHECK(strstr(key_strerror(KEY_ERR_PERM), "0600") != NULL);
    CHECK(strstr(key_strerror(KEY_ERR_EXISTS), "overwrite") != NULL);
    CHECK(strlen(key_strerror(KEY_ERR_IO)) > 0);
    CHECK(strlen(key_strerror(KEY_ERR_FORMAT)) > 0);
    CHECK(strlen(key_strerror(KEY_ERR_NOMEM)) > 0);
}

/* ---- key ids and fingerprints ---- */

static void test_keyid_is_sha256(void)
{
    unsigned char pk[32], id[KEYID_BYTES], want[crypto_hash_sha256_BYTES];
    randombytes_buf(pk, sizeof pk);
    keyid_of(pk, sizeof pk, id);
    crypto_hash_sha256(want, pk, sizeof pk);
    CHECK(memcmp(id, want, KEYID_BYTES) == 0);
    /* SHA-256("abc"), FIPS 180-2. */
    static const unsigned char abc[32] = {
        0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40, 0xde, 0x5d, 0xae, 0x22,
        0x23, 0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17, 0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00,
        0x15, 0xad};
    keyid_of((const unsigned char *)"abc", 3, id);
    CHECK(memcmp(id, abc, 32) == 0);
}

static void test_fingerprint_of_is_tagged_sha256(void)
{
    unsigned char data[40], fp[FP_BYTES], full[32];
    randombytes_buf(data, sizeof data);
    fingerprint_of("moux/test/1", data, sizeof data, fp);
    unsigned char msg[11 + sizeof data];
    memcpy(msg, "moux/test/1", 11);
    memcpy(msg + 11, data, sizeof data);
    crypto_hash_sha256(full, msg, sizeof msg);
    CHECK(memcmp(fp, full, FP_BYTES) == 0);
    unsigned char other[FP_BYTES];
    fingerprint_of("moux/test/2", data, sizeof data, other);
    CHECK(memcmp(fp, other, FP_BYTES) != 0); /* the tag separates domains */
}

static void test_fingerprint_format_known_values(void)
{
    unsigned char fp[FP_BYTES];
    char text[FP_STRLEN];
    memset(fp, 0, sizeof fp);
    fingerprint_format(fp, text);
    CHECK_STR(text, "AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAAA");
    memset(fp, 0xff, sizeof fp);
    fingerprint_format(fp, text);
    CHECK_STR(text, "7777-7777-7777-7777-7777-7777-7777-7777");
    /* 0x08 0x42 ... : 00001 00001 00001 0... -> "BBBA" (RFC 4648 symbols). */
    memset(fp, 0, sizeof fp);
    fp[0] = 0x08;
    fp[1] = 0x42;
    fingerprint_format(fp, text);
    CHECK_STR(text, "BBBA-AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAAA");
}

static void test_fingerprint_round_trip(void)
{
    for (int round = 0; round < 50; round++) {
        unsigned char fp[FP_BYTES], back[FP_BYTES];
        char text[FP_STRLEN], plain[64], lower[FP_STRLEN], spaced[64];
        randombytes_buf(fp, sizeof fp);
        fingerprint_format(fp, text);
        CHECK(strlen(text) == FP_STRLEN - 1);
        for (int i = 4; i < FP_STRLEN - 1; i += 5)
            CHECK(text[i] == '-');

        memset(back, 0, sizeof back);
        CHECK(fingerprint_parse(text, back) == 0);
        CHECK(memcmp(fp, back, FP_BYTES) == 0);

        size_t o = 0, s = 0;
        for (const char *p = text; *p; p++) {
            if (*p != '-')
                plain[o++] = *p;
            spaced[s++] = *p == '-' ? ' ' : *p;
        }
        plain[o] = spaced[s] = '\0';
        memset(back, 0, sizeof back);
        CHECK(fingerprint_parse(plain, back) == 0);
        CHECK(memcmp(fp, back, FP_BYTES) == 0);
        memset(back, 0, sizeof back);
        CHECK(fingerprint_parse(spaced, back) == 0);
        CHECK(memcmp(fp, back, FP_BYTES) == 0);

        for (size_t i = 0; i < sizeof lower; i++)
            lower[i] = (char)(text[i] >= 'A' && text[i] <= 'Z' ? text[i] + 32 : text[i]);
        memset(back, 0, sizeof back);
        CHECK(fingerprint_parse(lower, back) == 0);
        CHECK(memcmp(fp, back, FP_BYTES) == 0);
    }
}

static void test_fingerprint_parse_refuses(void)
{
    unsigned char out[FP_BYTES], keep[FP_BYTES];
    memset(out, 0x5a, sizeof out);
    memcpy(keep, out, sizeof out);
    /* 31 and 33 symbols. */
    CHECK(fingerprint_parse("AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAA", out) == -1);
    CHECK(fingerprint_parse("AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAAAA", out) == -1);
    CHECK(fingerprint_parse("", out) == -1);
    CHECK(fingerprint_parse("----", out) == -1);
    /* Symbols outside the RFC 4648 base32 alphabet. */
    CHECK(fingerprint_parse("AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAA0", out) == -1);
    CHECK(fingerprint_parse("AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAA1", out) == -1);
    CHECK(fingerprint_parse("AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAA8", out) == -1);
    CHECK(fingerprint_parse("AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAA9", out) == -1);
    CHECK(fingerprint_parse("AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAA=", out) == -1);
    CHECK(fingerprint_parse("AAAA_AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAAA", out) == -1);
    CHECK(fingerprint_parse("AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAA\xc3", out) == -1);
    CHECK(fingerprint_parse("AAAA\tAAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAAA", out) == -1);
    CHECK(memcmp(out, keep, sizeof out) == 0); /* untouched on failure */
}

/* ---- the node key set ---- */

static void check_same_keys(const nodekeys_t *a, const nodekeys_t *b)
{
    CHECK(memcmp(a->sign_pk, b->sign_pk, sizeof a->sign_pk) == 0);
    CHECK(memcmp(a->enc_pk, b->enc_pk, sizeof a->enc_pk) == 0);
    CHECK(memcmp(a->curve_pk, b->curve_pk, sizeof a->curve_pk) == 0);
    CHECK(memcmp(a->sign_id, b->sign_id, KEYID_BYTES) == 0);
    CHECK(memcmp(a->enc_id, b->enc_id, KEYID_BYTES) == 0);
    CHECK(memcmp(a->sign_sk, b->sign_sk, crypto_sign_SECRETKEYBYTES) == 0);
    CHECK(memcmp(a->enc_sk, b->enc_sk, crypto_box_SECRETKEYBYTES) == 0);
    CHECK(memcmp(a->curve_sk, b->curve_sk, 32) == 0);
}

static void test_nodekeys_generate_consistent(void)
{
    nodekeys_t *k = nodekeys_generate();
    CHECK(k != NULL);
    if (!k)
        return;
    unsigned char pk[32], id[32], sig[64];
    crypto_scalarmult_base(pk, k->enc_sk);
    CHECK(memcmp(pk, k->enc_pk, 32) == 0);
    crypto_scalarmult_base(pk, k->curve_sk);
    CHECK(memcmp(pk, k->curve_pk, 32) == 0);
    crypto_sign_detached(sig, NULL, (const unsigned char *)"m", 1, k->sign_sk);
    CHECK(crypto_sign_verify_detached(sig, (const unsigned char *)"m", 1, k->sign_pk) == 0);
    crypto_hash_sha256(id, k->sign_pk, 32);
    CHECK(memcmp(id, k->sign_id, 32) == 0);
    crypto_hash_sha256(id, k->enc_pk, 32);
    CHECK(memcmp(id, k->enc_id, 32) == 0);
    /* Three independent key pairs. */
    CHECK(memcmp(k->enc_pk, k->curve_pk, 32) != 0);
    nodekeys_t *other = nodekeys_generate();
    CHECK(other && memcmp(other->sign_pk, k->sign_pk, 32) != 0);
    nodekeys_destroy(&other);
    nodekeys_destroy(&k);
    CHECK(k == NULL);
    nodekeys_destroy(&k); /* destroying NULL is harmless */
}

static void test_nodekeys_save_load_round_trip(void)
{
    char dir[256], path[512], err[512] = "";
    tmp_dir(dir, sizeof dir, "node-rt");
    nodekeys_t *k = nodekeys_generate();
    CHECK(nodekeys_save(k, dir, err, sizeof err) == 0);
    static const char *names[] = {"sign", "enc", "curve"};
    for (int i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/keys/%s.sec", dir, names[i]);
        CHECK(mode_of(path) == 0600);
        snprintf(path, sizeof path, "%s/keys/%s.pub", dir, names[i]);
        CHECK(mode_of(path) >= 0 && (mode_of(path) & 0022) == 0);
    }
    snprintf(path, sizeof path, "%s/keys", dir);
    CHECK((mode_of(path) & 0077) == 0);

    nodekeys_t *back = nodekeys_load(dir, err, sizeof err);
    CHECK(back != NULL);
    if (back)
        check_same_keys(k, back);
    nodekeys_destroy(&back);
    nodekeys_destroy(&k);
}

static void test_nodekeys_save_never_overwrites(void)
{
    char dir[256], err[512] = "";
    tmp_dir(dir, sizeof dir, "node-twice");
    nodekeys_t *k = nodekeys_generate(), *k2 = nodekeys_generate();
    CHECK(nodekeys_save(k, dir, err, sizeof err) == 0);
    CHECK(nodekeys_save(k2, dir, err, sizeof err) == -1);
    CHECK(strstr(err, "sign.sec") != NULL);
    CHECK(strstr(err, "overwrite") != NULL);
    nodekeys_t *back = nodekeys_load(dir, err, sizeof err);
    CHECK(back != NULL);
    if (back)
        check_same_keys(k, back); /* still the first key set */
    nodekeys_destroy(&back);
    nodekeys_destroy(&k);
    nodekeys_destroy(&k2);
}

/* Replaces DIR/keys/NAME.pub with another node's public key of that kind. */
static void swap_public(const char *dir, int which, const nodekeys_t *other)
{
    static const char *names[] = {"sign", "enc", "curve"};
    static const char *labels[] = {"moux-ed25519-public", "moux-x25519-public",
                                   "moux-curve-public"};
    const unsigned char *pk = which == 0 ? other->sign_pk
                              : which == 1 ? other->enc_pk
                                           : other->curve_pk;
    char path[512];
    snprintf(path, sizeof path, "%s/keys/%s.pub", dir, names[which]);
    CHECK(unlink(path) == 0);
    CHECK(keyfile_write(path, labels[which], pk, 32, 0) == KEY_OK);
}

static void test_nodekeys_load_refuses_mismatched_public_key(void)
{
    static const char *names[] = {"node-sign", "node-enc", "node-curve"};
    for (int which = 0; which < 3; which++) {
        char dir[256], err[512] = "";
        tmp_dir(dir, sizeof dir, names[which]);
        nodekeys_t *k = nodekeys_generate(), *other = nodekeys_generate();
        CHECK(nodekeys_save(k, dir, err, sizeof err) == 0);
        swap_public(dir, which, other);
        nodekeys_t *back = nodekeys_load(dir, err, sizeof err);
        CHECK(back == NULL);
        CHECK(strstr(err, "do not match") != NULL);
        nodekeys_destroy(&back);
        nodekeys_destroy(&k);
        nodekeys_destroy(&other);
    }
}

static void test_nodekeys_load_refuses_open_secret(void)
{
    char dir[256], path[512], err[512] = "";
    tmp_dir(dir, sizeof dir, "node-perm");
    nodekeys_t *k = nodekeys_generate();
    CHECK(nodekeys_save(k, dir, err, sizeof err) == 0);
    snprintf(path, sizeof path, "%s/keys/enc.sec", dir);
    CHECK(chmod(path, 0640) == 0);
    nodekeys_t *back = nodekeys_load(dir, err, sizeof err);
    CHECK(back == NULL);
    CHECK(strstr(err, "enc.sec") != NULL);
    CHECK(strstr(err, "0600") != NULL);
    nodekeys_destroy(&back);
    nodekeys_destroy(&k);
}

static void test_nodekeys_load_refuses_missing_file(void)
{
    char dir[256], path[512], err[512] = "";
    tmp_dir(dir, sizeof dir, "node-missing");
    nodekeys_t *k = nodekeys_generate();
    CHECK(nodekeys_save(k, dir, err, sizeof err) == 0);
    snprintf(path, sizeof path, "%s/keys/curve.pub", dir);
    CHECK(unlink(path) == 0);
    nodekeys_t *back = nodekeys_load(dir, err, sizeof err);
    CHECK(back == NULL);
    CHECK(strstr(err, "curve.pub") != NULL);
    nodekeys_destroy(&back);
    nodekeys_destroy(&k);

    tmp_dir(dir, sizeof dir, "node-empty");
    back = nodekeys_load(dir, err, sizeof err);
    CHECK(back == NULL);
    CHECK(strstr(err, "sign.pub") != NULL);
}

static void test_nodekeys_load_refuses_swapped_secret(void)
{
    /* A secret file from another node under the right name: refused. */
    char dir[256], path[512], err[512] = "";
    tmp_dir(dir, sizeof dir, "node-swap-sec");
    nodekeys_t *k = nodekeys_generate(), *other = nodekeys_generate();
    CHECK(nodekeys_save(k, dir, err, sizeof err) == 0);
    snprintf(path, sizeof path, "%s/keys/curve.sec", dir);
    CHECK(unlink(path) == 0);
    CHECK(keyfile_write(path, "moux-curve-secret", other->curve_sk, 32, 1) == KEY_OK);
    nodekeys_t *back = nodekeys_load(dir, err, sizeof err);
    CHECK(back == NULL);
    CHECK(strstr(err, "do not match") != NULL);
    nodekeys_destroy(&back);
    nodekeys_destroy(&k);
    nodekeys_destroy(&other);
}

static void test_nodekeys_load_refuses_corrupted_signing_seed(void)
{
    /* sign.sec whose public half still matches but whose seed does not: it
     * would sign with a key nobody can verify, so loading refuses it. */
    char dir[256], path[512], err[512] = "";
    tmp_dir(dir, sizeof dir, "node-bad-seed");
    nodekeys_t *k = nodekeys_generate();
    CHECK(nodekeys_save(k, dir, err, sizeof err) == 0);
    unsigned char *bad = sodium_malloc(crypto_sign_SECRETKEYBYTES);
    memcpy(bad, k->sign_sk, crypto_sign_SECRETKEYBYTES);
    bad[0] ^= 0x01;
    snprintf(path, sizeof path, "%s/keys/sign.sec", dir);
    CHECK(unlink(path) == 0);
    CHECK(keyfile_write(path, "moux-ed25519-secret", bad, crypto_sign_SECRETKEYBYTES, 1) == KEY_OK);
    nodekeys_t *back = nodekeys_load(dir, err, sizeof err);
    CHECK(back == NULL);
    CHECK(strstr(err, "do not match") != NULL);
    nodekeys_destroy(&back);
    nodekeys_destroy(&k);
    sodium_free(bad);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    snprintf(s_tmp, sizeof s_tmp, "/tmp/moux-test-keys-XXXXXX");
    if (!mkdtemp(s_tmp)) {
        perror("mkdtemp");
        return 1;
    }
    RUN(test_public_round_trip);
    RUN(test_secret_round_trip);
    RUN(test_secret_created_0600);
    RUN(test_secret_group_or_other_access_refused);
    RUN(test_public_file_may_be_world_readable);
    RUN(test_trailing_garbage_refused);
    RUN(test_oversized_file_refused);
    RUN(test_wrong_label_refused);
    RUN(test_bad_base64_refused);
    RUN(test_wrong_key_length_refused);
    RUN(test_existing_file_not_overwritten);
    RUN(test_symlink_refused);
    RUN(test_missing_file_and_directory_refused);
    RUN(test_key_strerror_names_every_error);
    RUN(test_keyid_is_sha256);
    RUN(test_fingerprint_of_is_tagged_sha256);
    RUN(test_fingerprint_format_known_values);
    RUN(test_fingerprint_round_trip);
    RUN(test_fingerprint_parse_refuses);
    RUN(test_nodekeys_generate_consistent);
    RUN(test_nodekeys_save_load_round_trip);
    RUN(test_nodekeys_save_never_overwrites);
    RUN(test_nodekeys_load_refuses_mismatched_public_key);
    RUN(test_nodekeys_load_refuses_open_secret);
    RUN(test_nodekeys_load_refuses_missing_file);
    RUN(test_nodekeys_load_refuses_swapped_secret);
    RUN(test_nodekeys_load_refuses_corrupted_signing_seed);
    rm_rf(s_tmp);
    return TEST_DONE();
}
