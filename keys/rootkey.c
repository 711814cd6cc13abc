#include "rootkey.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define ROOT_MAGIC "moux-root-key 1"
#define ROOT_FP_TAG "moux/root-fp/1"
/* A valid file is under 300 bytes; anything near this is not ours. */
#define ROOT_FILE_MAX 1024
#define SEED_BYTES crypto_sign_SEEDBYTES
#define SALT_BYTES crypto_pwhash_argon2id_SALTBYTES
#define NONCE_BYTES crypto_secretbox_NONCEBYTES
#define BOX_BYTES (SEED_BYTES + crypto_secretbox_MACBYTES)
#define DEC_DIGITS_MAX 20 /* UINT64_MAX has 20 digits */

/* The parsed file. secret holds the sealed box (sealed) or the bare seed in
 * its first SEED_BYTES (kdf none); it is sodium_malloc memory either way. */
typedef struct {
    unsigned char pk[crypto_sign_PUBLICKEYBYTES];
    int sealed;
    unsigned long long ops;
    size_t mem;
    unsigned char salt[SALT_BYTES], nonce[NONCE_BYTES];
    unsigned char *secret;
} s_rootfile_t;

/* ---- small helpers ---- */

static void s_rootfile_clear(s_rootfile_t *f)
{
    sodium_free(f->secret); /* wipes */
    memset(f, 0, sizeof *f);
}

/* Strict base64 (padded, canonical): b64 must decode to exactly len bytes. */
static int s_b64(const char *b64, unsigned char *out, size_t len)
{
    size_t inlen = strlen(b64), got = 0;
    const char *end = NULL;
    if (inlen != sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_ORIGINAL) - 1)
        return -1;
    if (sodium_base642bin(out, len, b64, inlen, NULL, &got, &end,
                          sodium_base64_VARIANT_ORIGINAL) != 0)
        return -1;
    return got == len && *end == '\0' ? 0 : -1;
}

/* Strict decimal: digits only, no sign, no leading zero, no overflow. */
static int s_decimal(const char *s, unsigned long long *out)
{
    size_t n = strlen(s);
    if (n == 0 || n > DEC_DIGITS_MAX || (n > 1 && s[0] == '0'))
        return -1;
    unsigned long long v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (~0ULL - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

/* Cuts the next '\n'-terminated line out of [*p, end); NULL if there is none
 * (a missing final newline is a truncated file). */
static char *s_next_line(char **p, char *end)
{
    char *start = *p, *nl = start < end ? memchr(start, '\n', (size_t)(end - start)) : NULL;
    if (!nl)
        return NULL;
    *nl = '\0';
    *p = nl + 1;
    return start;
}

/* "key value": returns value when line starts with key and one space. */
static char *s_value(char *line, const char *key)
{
    size_t k = strlen(key);
    return line && strncmp(line, key, k) == 0 && line[k] == ' ' ? line + k + 1 : NULL;
}

/* ---- reading and parsing ---- */

/* Reads the whole file into buf (sodium_malloc, ROOT_FILE_MAX + 1) after
 * the ownership and permission checks a secret key file must pass. */
static int s_read_file(const char *path, char *buf, size_t *len, char *err, size_t errlen)
{
    /* O_NONBLOCK: a FIFO planted at path must not hang us (it is refused
     * below as not a regular file). */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK), rc = -1;
    if (fd < 0) {
        snprintf(err, errlen, "%s: %s", path,
                 errno == ELOOP ? "is a symbolic link; refusing it" : strerror(errno));
        return -1;
    }
    struct stat st;
    size_t got = 0;
    if (fstat(fd, &st) != 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        goto out;
    }
    if (!S_ISREG(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 077)) {
        snprintf(err, errlen, "%s: %s", path,
                 !S_ISREG(st.st_mode) ? "not a regular file"
                 : st.st_uid != geteuid()
                     ? "not owned by this user; refusing a root key someone else controls"
                     : "root key file is accessible by group or others (must be 0600)");
        goto out;
    }
    for (;;) {
        ssize_t n = read(fd, buf + got, ROOT_FILE_MAX + 1 - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            snprintf(err, errlen, "%s: %s", path, strerror(errno));
            goto out;
        }
        got += (size_t)n;
        if (n == 0 || got > ROOT_FILE_MAX)
            break;
    }
    if (got > ROOT_FILE_MAX) {
        snprintf(err, errlen, "%s: too large to be a root key file", path);
        goto out;
    }
    buf[got] = '\0';
    *len = got;
    rc = 0;
out:
    close(fd);
    return rc;
}

/* "kdf argon2id13 OPS MEM SALT" or "kdf none". Edits v (splits at spaces). */
static const char *s_parse_kdf(char *v, s_rootfile_t *f)
{
    if (strcmp(v, "none") == 0) {
        f->sealed = 0;
        return NULL;
    }
    char *ops = s_value(v, "argon2id13") ? v + strlen("argon2id13 ") : NULL;
    char *mem = ops ? strchr(ops, ' ') : NULL;
    char *salt = mem ? strchr(mem + 1, ' ') : NULL;
    if (!salt)
        return "kdf: expected \"argon2id13 OPSLIMIT MEMLIMIT SALT\" or \"none\"";
    *mem++ = '\0';
    *salt++ = '\0';
    unsigned long long m = 0;
    if (s_decimal(ops, &f->ops) != 0 || s_decimal(mem, &m) != 0 ||
        f->ops < crypto_pwhash_argon2id_opslimit_min() ||
        f->ops > crypto_pwhash_argon2id_opslimit_max() ||
        m < crypto_pwhash_argon2id_memlimit_min() || m > crypto_pwhash_argon2id_memlimit_max())
        return "kdf: opslimit or memlimit malformed or outside libsodium's bounds";
    /* Argon2 counts memory in KiB (libsodium divides by 1024): 8192 and 9000
     * would derive the same key. Only one spelling of each setting is valid. */
    if (m % 1024 != 0)
        return "kdf: memlimit must be a multiple of 1024";
    f->mem = (size_t)m;
    if (s_b64(salt, f->salt, SALT_BYTES) != 0)
        return "kdf: the salt must be base64 of 16 bytes";
    f->sealed = 1;
    return NULL;
}

/* Parses text[len] strictly; on failure returns what is wrong. */
static const char *s_parse_text(char *text, size_t len, s_rootfile_t *f)
{
    char *p = text, *end = text + len;
    if (memchr(text, '\0', len))
        return "contains a NUL byte";
    char *line = s_next_line(&p, end);
    if (!line || strcmp(line, ROOT_MAGIC) != 0)
        return "line 1 must be \"" ROOT_MAGIC "\"";
    const char *v = s_value(s_next_line(&p, end), "public");
    if (!v || s_b64(v, f->pk, sizeof f->pk) != 0)
        return "line 2 must be \"public\" and base64 of 32 bytes";
    char *kdf = s_value(s_next_line(&p, end), "kdf");
    if (!kdf)
        return "line 3 must be \"kdf ...\"";
    const char *why = s_parse_kdf(kdf, f);
    if (why)
        return why;
    if (f->sealed) {
        v = s_value(s_next_line(&p, end), "nonce");
        if (!v || s_b64(v, f->nonce, NONCE_BYTES) != 0)
            return "line 4 must be \"nonce\" and base64 of 24 bytes";
    }
    v = s_value(s_next_line(&p, end), "secret");
    if (!v || s_b64(v, f->secret, f->sealed ? BOX_BYTES : SEED_BYTES) != 0)
        return f->sealed ? "the \"secret\" line must be base64 of 48 bytes (sealed seed)"
                         : "the \"secret\" line must be base64 of 32 bytes (seed)";
    if (p != end)
        return "trailing data after the \"secret\" line";
    return NULL;
}

/* Reads and parses path into *f (f->secret allocated on success only). */
static int s_load_file(const char *path, s_rootfile_t *f, char *err, size_t errlen)
{
    memset(f, 0, sizeof *f);
    char *text = sodium_malloc(ROOT_FILE_MAX + 1); /* a "kdf none" file holds the seed */
    f->secret = sodium_malloc(BOX_BYTES);
    size_t len = 0;
    int rc = -1;
    if (!text || !f->secret) {
        snprintf(err, errlen, "%s: out of secure memory", path);
        goto out;
    }
    if (s_read_file(path, text, &len, err, errlen) != 0)
        goto out;
    const char *why = s_parse_text(text, len, f);
    if (why) {
        snprintf(err, errlen, "%s: not a valid root key file: %s", path, why);
        goto out;
    }
    rc = 0;
out:
    sodium_free(text);
    if (rc != 0)
        s_rootfile_clear(f);
    return rc;
}

/* ---- keys ---- */

static rootkey_t *s_alloc(void)
{
    rootkey_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->sk = sodium_malloc(crypto_sign_SECRETKEYBYTES);
    if (!self->sk) {
        free(self);
        return NULL;
    }
    return self;
}

/* The secret never changes once made: read-only pages catch stray writes. */
static rootkey_t *s_finish(rootkey_t *self)
{
    keyid_of(self->pk, sizeof self->pk, self->key_id);
    sodium_mprotect_readonly(self->sk);
    return self;
}

static rootkey_t *s_from_seed(const unsigned char *seed)
{
    rootkey_t *self = s_alloc();
    if (!self)
        return NULL;
    crypto_sign_seed_keypair(self->pk, self->sk, seed);
    return s_finish(self);
}

rootkey_t *rootkey_generate(void)
{
    rootkey_t *self = s_alloc();
    if (!self)
        return NULL;
    crypto_sign_keypair(self->pk, self->sk);
    return s_finish(self);
}

void rootkey_destroy(rootkey_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    sodium_free((*self_p)->sk); /* wipes, read-only or not */
    free(*self_p);
    *self_p = NULL;
}

void root_fingerprint(const unsigned char pk[32], unsigned char fp[FP_BYTES])
{
    fingerprint_of(ROOT_FP_TAG, pk, 32, fp);
}

/* The box key from the passphrase, into sodium_malloc memory. */
static unsigned char *s_derive(const s_rootfile_t *f, const char *passphrase)
{
    unsigned char *key = sodium_malloc(crypto_secretbox_KEYBYTES);
    if (key && crypto_pwhash(key, crypto_secretbox_KEYBYTES, passphrase, strlen(passphrase),
                             f->salt, f->ops, f->mem, crypto_pwhash_ALG_ARGON2ID13) != 0) {
        sodium_free(key); /* only fails when memlimit cannot be allocated */
        key = NULL;
    }
    return key;
}

/* Recovers the seed into seed[SEED_BYTES]. */
static int s_unseal(const s_rootfile_t *f, const char *path, const char *passphrase,
                    unsigned char *seed, char *err, size_t errlen)
{
    if (!f->sealed) {
        memcpy(seed, f->secret, SEED_BYTES);
        return 0;
    }
    if (!passphrase) {
        snprintf(err, errlen, "%s: the root key is sealed; a passphrase is needed", path);
        return -1;
    }
    unsigned char *key = s_derive(f, passphrase);
    if (!key) {
        snprintf(err, errlen, "%s: out of memory deriving the key (memlimit %zu bytes)", path,
                 f->mem);
        return -1;
    }
    /* The MAC fails alike for a wrong passphrase and for an altered salt,
     * nonce, kdf line or box: both mean we cannot trust what we would get. */
    int rc = crypto_secretbox_open_easy(seed, f->secret, BOX_BYTES, f->nonce, key);
    sodium_free(key);
    if (rc != 0)
        snprintf(err, errlen, "%s: wrong passphrase", path);
    return rc == 0 ? 0 : -1;
}

rootkey_t *rootkey_load(const char *path, const char *passphrase, char *err, size_t errlen)
{
    s_rootfile_t f;
    unsigned char *seed = sodium_malloc(SEED_BYTES);
    rootkey_t *self = NULL;
    if (!seed) {
        snprintf(err, errlen, "%s: out of secure memory", path);
        return NULL;
    }
    if (s_load_file(path, &f, err, errlen) != 0)
        goto out;
    if (s_unseal(&f, path, passphrase, seed, err, errlen) != 0)
        goto out;
    if (!(self = s_from_seed(seed))) {
        snprintf(err, errlen, "%s: out of secure memory", path);
        goto out;
    }
    if (sodium_memcmp(self->pk, f.pk, sizeof f.pk) != 0) {
        snprintf(err, errlen, "%s: the public key line does not match the secret key (file "
                              "damaged or altered)", path);
        rootkey_destroy(&self);
    }
out:
    s_rootfile_clear(&f);
    sodium_free(seed);
    return self;
}

/* The public key of an unsealed file can be checked against its seed
 * without a passphrase; a sealed one is checked when it is opened. */
static int s_check_unsealed(const s_rootfile_t *f, const char *path, char *err, size_t errlen)
{
    if (f->sealed)
        return 0;
    rootkey_t *k = s_from_seed(f->secret);
    int ok = k && sodium_memcmp(k->pk, f->pk, sizeof f->pk) == 0;
    rootkey_destroy(&k);
    if (!ok)
        snprintf(err, errlen, "%s: the public key line does not match the secret key", path);
    return ok ? 0 : -1;
}

int rootkey_read_public(const char *path, unsigned char pk[32], char *err, size_t errlen)
{
    s_rootfile_t f;
    if (s_load_file(path, &f, err, errlen) != 0)
        return -1;
    int rc = s_check_unsealed(&f, path, err, errlen);
    if (rc == 0)
        memcpy(pk, f.pk, sizeof f.pk);
    s_rootfile_clear(&f);
    return rc;
}

int rootkey_is_sealed(const char *path, char *err, size_t errlen)
{
    s_rootfile_t f;
    if (s_load_file(path, &f, err, errlen) != 0)
        return -1;
    int sealed = f.sealed;
    s_rootfile_clear(&f);
    return sealed;
}

/* ---- writing ---- */

static int s_put(char *buf, size_t cap, size_t *off, const char *s)
{
    size_t n = strlen(s);
    if (*off + n >= cap)
        return -1;
    memcpy(buf + *off, s, n + 1);
    *off += n;
    return 0;
}

static int s_put_b64(char *buf, size_t cap, size_t *off, const unsigned char *bin, size_t len)
{
    size_t enc = sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_ORIGINAL);
    if (*off + enc > cap)
        return -1;
    sodium_bin2base64(buf + *off, enc, bin, len, sodium_base64_VARIANT_ORIGINAL);
    *off += enc - 1;
    return 0;
}

/* The file text for f into buf; its length, or 0 if it does not fit. */
static size_t s_format(const s_rootfile_t *f, char *buf, size_t cap)
{
    size_t off = 0;
    char nums[64];
    snprintf(nums, sizeof nums, " %llu %zu ", f->ops, f->mem);
    int bad = s_put(buf, cap, &off, ROOT_MAGIC "\npublic ") ||
              s_put_b64(buf, cap, &off, f->pk, sizeof f->pk) ||
              s_put(buf, cap, &off, f->sealed ? "\nkdf argon2id13" : "\nkdf none\n");
    if (!bad && f->sealed)
        bad = s_put(buf, cap, &off, nums) || s_put_b64(buf, cap, &off, f->salt, SALT_BYTES) ||
              s_put(buf, cap, &off, "\nnonce ") ||
              s_put_b64(buf, cap, &off, f->nonce, NONCE_BYTES) || s_put(buf, cap, &off, "\n");
    bad = bad || s_put(buf, cap, &off, "secret ") ||
          s_put_b64(buf, cap, &off, f->secret, f->sealed ? BOX_BYTES : SEED_BYTES) ||
          s_put(buf, cap, &off, "\n");
    return bad ? 0 : off;
}

/* Seals seed under passphrase with fresh salt and nonce (or stores it bare
 * when passphrase is NULL) into f. */
static int s_seal(s_rootfile_t *f, const unsigned char *seed, const char *passphrase,
                  const char *path, char *err, size_t errlen)
{
    if (!passphrase) {
        f->sealed = 0;
        memcpy(f->secret, seed, SEED_BYTES);
        return 0;
    }
    if (!*passphrase) {
        snprintf(err, errlen, "%s: refusing an empty passphrase", path);
        return -1;
    }
    f->sealed = 1;
    f->ops = crypto_pwhash_argon2id_OPSLIMIT_MODERATE;
    f->mem = crypto_pwhash_argon2id_MEMLIMIT_MODERATE;
    randombytes_buf(f->salt, SALT_BYTES);
    randombytes_buf(f->nonce, NONCE_BYTES);
    unsigned char *key = s_derive(f, passphrase);
    if (!key) {
        snprintf(err, errlen, "%s: out of memory deriving the key (memlimit %zu bytes)", path,
                 f->mem);
        return -1;
    }
    crypto_secretbox_easy(f->secret, seed, SEED_BYTES, f->nonce, key);
    sodium_free(key);
    return 0;
}

static int s_write_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Creates path (which must not exist, and is never followed if a symlink)
 * 0600 with exactly text[len], synced; removes it again on failure.
 * Returns 0, -1, or -2 when path already exists. */
static int s_create(const char *path, const char *text, size_t len, char *err, size_t errlen)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        int exists = errno == EEXIST;
        snprintf(err, errlen, "%s: %s", path,
                 exists ? "exists; refusing to overwrite it" : strerror(errno));
        return exists ? -2 : -1;
    }
    int wrote = s_write_all(fd, text, len), synced = wrote == 0 ? fsync(fd) : -1;
    int saved = errno;
    if (close(fd) != 0 || wrote != 0 || synced != 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(wrote != 0 || synced != 0 ? saved : errno));
        unlink(path);
        return -1;
    }
    return 0;
}

/* Makes a rename or create durable: syncs the directory holding path. */
static int s_sync_dir(const char *path, char *err, size_t errlen)
{
    char dir[4096];
    const char *slash = strrchr(path, '/');
    size_t n = slash ? (size_t)(slash - path) : 0;
    if (n >= sizeof dir) {
        snprintf(err, errlen, "%s: path too long", path);
        return -1;
    }
    if (!slash) {
        memcpy(dir, ".", 2);
    } else if (n == 0) {
        memcpy(dir, "/", 2);
    } else {
        memcpy(dir, path, n);
        dir[n] = '\0';
    }
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    /* Some file systems cannot sync a directory (EINVAL): nothing to do. */
    int rc = fd >= 0 && (fsync(fd) == 0 || errno == EINVAL) ? 0 : -1;
    if (rc != 0)
        snprintf(err, errlen, "%s: %s", dir, strerror(errno));
    if (fd >= 0)
        close(fd);
    return rc;
}

/* With force, the old file stays whole until the new one is complete on
 * disk: write PATH.tmp (O_EXCL, so a stale one is reported, not reused),
 * then rename over PATH. */
static int s_write(const char *path, const char *text, size_t len, int force, char *err,
                   size_t errlen)
{
    if (!force)
        return s_create(path, text, len, err, errlen) != 0 ? -1 : s_sync_dir(path, err, errlen);

    char tmp[4096 + 8];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp) {
        snprintf(err, errlen, "%s: path too long", path);
        return -1;
    }
    int made = s_create(tmp, text, len, err, errlen);
    if (made != 0) {
        if (made == -2)
            snprintf(err, errlen, "%s: exists (left from an interrupted write?); remove it and "
                                  "try again", tmp);
        return -1;
    }
    if (rename(tmp, path) != 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        unlink(tmp);
        return -1;
    }
    return s_sync_dir(path, err, errlen);
}

int rootkey_save(const rootkey_t *self, const char *path, const char *passphrase, int force,
                 char *err, size_t errlen)
{
    s_rootfile_t f;
    memset(&f, 0, sizeof f);
    f.secret = sodium_malloc(BOX_BYTES);
    unsigned char *seed = sodium_malloc(SEED_BYTES);
    char *text = sodium_malloc(ROOT_FILE_MAX); /* holds the bare seed with kdf none */
    size_t len = 0;
    int rc = -1;
    if (!f.secret || !seed || !text) {
        snprintf(err, errlen, "%s: out of secure memory", path);
        goto out;
    }
    memcpy(f.pk, self->pk, sizeof f.pk);
    crypto_sign_ed25519_sk_to_seed(seed, self->sk);
    if (s_seal(&f, seed, passphrase, path, err, errlen) != 0)
        goto out;
    if ((len = s_format(&f, text, ROOT_FILE_MAX)) == 0) {
        snprintf(err, errlen, "%s: internal error formatting the key file", path);
        goto out;
    }
    rc = s_write(path, text, len, force, err, errlen);
out:
    s_rootfile_clear(&f);
    sodium_free(seed);
    sodium_free(text);
    return rc;
}
