#include "audit.h"
#include "cert.h"
#include "merkle.h"
#include "rootkey.h"
#include "tlp.h"
#include "util.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int audit_checkpoint(store_t *st, const char *agency, const unsigned char sign_pk[32],
                     const unsigned char *sign_sk, uint64_t *size)
{
    merkle_frontier_t f;
    uint8_t *old = NULL, old_root[32], *raw = NULL;
    size_t old_len = 0, len = 0;
    uint64_t old_size = 0;
    if (store_begin(st) != 0)
        return -1;
    int rc = -1;
    int have = store_checkpoint_latest(st, UINT64_MAX, &old_size, old_root, &old, &old_len);
    if (have < 0 || store_audit_frontier(st, &f) != 0)
        goto out;
    *size = f.size;
    if (have == 1 && old_size == f.size) {
        rc = 0;
        goto out;
    }
    checkpoint_t c = {.size = f.size, .timestamp_ms = now_ms()};
    str_copy(c.log, sizeof c.log, agency);
    merkle_frontier_root(&f, c.root);
    if (checkpoint_sign(&c, sign_pk, sign_sk, &raw, &len) == 0 &&
        store_checkpoint_put(st, c.size, c.root, c.timestamp_ms, raw, len) == 0)
        rc = 1;
out:
    if (rc >= 0 && store_commit(st) != 0)
        rc = -1;
    if (rc < 0)
        store_rollback(st);
    free(old);
    free(raw);
    return rc;
}

/* ---- verification ---- */

typedef struct {
    void (*problem)(void *, uint64_t, const char *);
    void *arg;
    long n;
} s_report_t;

static void s_problem(s_report_t *r, uint64_t index, const char *what)
{
    r->problem(r->arg, index, what);
    r->n++;
}

static const char *s_json_str(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

static int s_same(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* One row: its entry bytes are canonical, name its index, and say what its
 * columns say; its leaf is their hash. */
static void s_check_row(s_report_t *r, sqlite3_stmt *q, uint64_t idx)
{
    const uint8_t *entry = sqlite3_column_blob(q, 7);
    size_t len = (size_t)sqlite3_column_bytes(q, 7);
    uint8_t leaf[32];
    merkle_leaf_hash(entry, len, leaf);
    if (sqlite3_column_bytes(q, 8) != 32 || memcmp(sqlite3_column_blob(q, 8), leaf, 32) != 0)
        s_problem(r, idx, "its leaf hash is not the hash of its bytes");
    json_error_t je;
    json_t *o = entry ? json_loadb((const char *)entry, len, 0, &je) : NULL;
    char *canon = o ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII) : NULL;
    if (!o || !canon || strlen(canon) != len || memcmp(canon, entry, len) != 0) {
        s_problem(r, idx, "its bytes are not a canonical entry");
        goto out;
    }
    if ((uint64_t)json_integer_value(json_object_get(o, "index")) != idx)
        s_problem(r, idx, "it names another index (rows reordered or moved)");
    const json_t *d = json_object_get(o, "detail");
    char *dtext = json_is_object(d) ? json_dumps(d, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    const char *detail = dtext ? dtext : json_string_value(d);
    if ((uint64_t)json_integer_value(json_object_get(o, "time_ms")) !=
            (uint64_t)sqlite3_column_int64(q, 1) ||
        !s_same(s_json_str(o, "kind"), (const char *)sqlite3_column_text(q, 2)) ||
        !s_same(s_json_str(o, "partner"), (const char *)sqlite3_column_text(q, 3)) ||
        !s_same(s_json_str(o, "subject"), (const char *)sqlite3_column_text(q, 4)) ||
        !s_same(s_json_str(o, "reason"), (const char *)sqlite3_column_text(q, 5)) ||
        !s_same(detail, (const char *)sqlite3_column_text(q, 6)))
        s_problem(r, idx, "its columns were changed after it was logged");
    free(dtext);
out:
    free(canon);
    json_decref(o);
}

/* The signing key (of our own key history) with this key id. */
static int s_own_sign_pk(store_t *st, const unsigned char kid[KEYID_BYTES], unsigned char pk[32])
{
    sqlite3_stmt *q = NULL;
    int found = 0;
    if (sqlite3_prepare_v2(store_db(st), "SELECT sign_pk FROM own_key", -1, &q, NULL) != SQLITE_OK)
        return -1;
    while (!found && sqlite3_step(q) == SQLITE_ROW) {
        unsigned char id[KEYID_BYTES];
        if (sqlite3_column_bytes(q, 0) != 32)
            continue;
        keyid_of(sqlite3_column_blob(q, 0), 32, id);
        if (memcmp(id, kid, KEYID_BYTES) == 0) {
            memcpy(pk, sqlite3_column_blob(q, 0), 32);
            found = 1;
        }
    }
    sqlite3_finalize(q);
    return found;
}

/* Checkpoints in size order, checked as the scan reaches their size. */
typedef struct {
    sqlite3_stmt *q;
    int have;
    uint64_t size;
} s_cps_t;

static void s_next_cp(s_cps_t *c)
{
    c->have = sqlite3_step(c->q) == SQLITE_ROW;
    c->size = c->have ? (uint64_t)sqlite3_column_int64(c->q, 0) : 0;
}

static void s_check_cp(s_report_t *r, store_t *st, s_cps_t *c, const merkle_frontier_t *f,
                       uint64_t *last_good)
{
    checkpoint_t cp;
    const char *why = NULL;
    unsigned char pk[32];
    char what[256];
    const uint8_t *raw = sqlite3_column_blob(c->q, 2);
    size_t len = (size_t)sqlite3_column_bytes(c->q, 2);
    uint8_t root[32];
    merkle_frontier_root(f, root);
    if (checkpoint_parse(raw, len, &cp, &why) != 0 || s_own_sign_pk(st, cp.signer_key_id, pk) != 1 ||
        checkpoint_verify(raw, len, pk, &cp, &why) != 0) {
        snprintf(what, sizeof what, "checkpoint of size %llu: %s", (unsigned long long)c->size,
                 why ? why : "signed by a key this node never had");
        s_problem(r, c->size, what);
    } else if (cp.size != c->size) {
        snprintf(what, sizeof what, "checkpoint of size %llu: its size column was changed (the "
                 "signed checkpoint says %llu)", (unsigned long long)c->size,
                 (unsigned long long)cp.size);
        s_problem(r, c->size, what);
    } else if (memcmp(cp.root, root, 32) != 0) {
        snprintf(what, sizeof what, "checkpoint of size %llu: the log's root differs: an entry "
                 "from %llu to %llu was changed, removed or reordered after it was signed",
                 (unsigned long long)c->size, (unsigned long long)*last_good,
                 (unsigned long long)(c->size - 1));
        s_problem(r, *last_good, what);
    } else {
        *last_good = c->size;
    }
}

long audit_verify(store_t *st, void (*problem)(void *arg, uint64_t index, const char *what),
                  void *arg, uint64_t *entries, uint64_t *checkpoints)
{
    s_report_t r = {problem, arg, 0};
    sqlite3_stmt *q = NULL;
    s_cps_t cps = {NULL, 0, 0};
    merkle_frontier_t f;
    uint64_t expect = 0, last_good = 0;
    *entries = *checkpoints = 0;
    merkle_frontier_init(&f);
    if (sqlite3_prepare_v2(store_db(st), "SELECT idx, ts_ms, kind, partner, subject, reason,"
                           " detail, entry, leaf FROM audit ORDER BY idx", -1, &q, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(store_db(st), "SELECT size, root, signed FROM checkpoint ORDER BY size",
                           -1, &cps.q, NULL) != SQLITE_OK) {
        sqlite3_finalize(q);
        return -1;
    }
    s_next_cp(&cps);
    while (cps.have && cps.size == 0) { /* the empty log */
        (*checkpoints)++;
        s_check_cp(&r, st, &cps, &f, &last_good);
        s_next_cp(&cps);
    }
    int rc;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        uint64_t idx = (uint64_t)sqlite3_column_int64(q, 0);
        if (idx != expect) {
            char gap[128];
            if (idx > expect)
                snprintf(gap, sizeof gap, "missing: deleted (entries %llu to %llu are gone)",
                         (unsigned long long)expect, (unsigned long long)(idx - 1));
            else
                snprintf(gap, sizeof gap, "out of order");
            s_problem(&r, expect, gap);
        }
        s_check_row(&r, q, idx);
        uint8_t leaf[32];
        merkle_leaf_hash(sqlite3_column_blob(q, 7), (size_t)sqlite3_column_bytes(q, 7), leaf);
        merkle_frontier_append(&f, leaf);
        expect = idx + 1; /* one gap is reported once */
        (*entries)++;
        while (cps.have && cps.size == f.size) {
            (*checkpoints)++;
            s_check_cp(&r, st, &cps, &f, &last_good);
            s_next_cp(&cps);
        }
    }
    while (cps.have) { /* checkpoints of a longer log than the table holds */
        char what[128];
        snprintf(what, sizeof what, "checkpoint of size %llu: the log has only %llu entries "
                 "(entries at the end were removed)", (unsigned long long)cps.size,
                 (unsigned long long)f.size);
        s_problem(&r, f.size, what);
        (*checkpoints)++;
        s_next_cp(&cps);
    }
    sqlite3_finalize(q);
    sqlite3_finalize(cps.q);
    return rc == SQLITE_DONE ? r.n : -1;
}

/* ---- proofs ---- */

static json_t *s_b64(const uint8_t *data, size_t len)
{
    size_t cap = sodium_base64_encoded_len(len, sodium_base64_VARIANT_ORIGINAL);
    char *out = malloc(cap);
    json_t *s = NULL;
    if (out) {
        sodium_bin2base64(out, cap, data, len, sodium_base64_VARIANT_ORIGINAL);
        s = json_string(out);
    }
    free(out);
    return s;
}

/* The certificate (own key history) that certified the key with this id
 * at time `at` (a renewal certifies the same key for a later window). */
static int s_own_cert(store_t *st, const unsigned char kid[KEYID_BYTES], uint64_t at,
                      const unsigned char root_pk[32], uint8_t **cert, size_t *len)
{
    sqlite3_stmt *q = NULL;
    int found = 0;
    if (sqlite3_prepare_v2(store_db(st), "SELECT sign_pk, cert FROM own_key ORDER BY serial DESC",
                           -1, &q, NULL) != SQLITE_OK)
        return -1;
    while (!found && sqlite3_step(q) == SQLITE_ROW) {
        unsigned char id[KEYID_BYTES];
        const uint8_t *raw = sqlite3_column_blob(q, 1);
        size_t n = (size_t)sqlite3_column_bytes(q, 1);
        cert_t c;
        const char *why = NULL;
        if (sqlite3_column_bytes(q, 0) != 32)
            continue;
        keyid_of(sqlite3_column_blob(q, 0), 32, id);
        if (memcmp(id, kid, KEYID_BYTES) != 0 || !raw ||
            cert_verify(raw, n, root_pk, &c, &why) != 0 || at < c.not_before_ms ||
            at > c.not_after_ms || !(*cert = malloc(n)))
            continue;
        memcpy(*cert, raw, n);
        *len = n;
        found = 1;
    }
    sqlite3_finalize(q);
    return found;
}

json_t *audit_prove(store_t *st, uint64_t index, const unsigned char root_pk[32], char *err,
                    size_t errlen)
{
    uint8_t leaf[32], root[32], *entry = NULL, *cp_raw = NULL, *cert = NULL;
    uint8_t(*path)[MERKLE_HASH_BYTES] = NULL;
    size_t elen = 0, cplen = 0, certlen = 0, n = 0;
    uint64_t size = 0;
    checkpoint_t cp;
    const char *why = NULL;
    json_t *out = NULL;
    merkle_source_t src;
    store_audit_source(st, &src);
    int found = store_audit_entry(st, index, leaf, &entry, &elen);
    if (found != 1) {
        snprintf(err, errlen, found < 0 ? "cannot read the audit log" : "no entry %llu in the log",
                 (unsigned long long)index);
        goto out;
    }
    if (store_checkpoint_covering(st, index, &size, root, &cp_raw, &cplen) != 1) {
        snprintf(err, errlen, "no signed checkpoint covers entry %llu yet",
                 (unsigned long long)index);
        goto out;
    }
    if (checkpoint_parse(cp_raw, cplen, &cp, &why) != 0 ||
        s_own_cert(st, cp.signer_key_id, cp.timestamp_ms, root_pk, &cert, &certlen) != 1) {
        snprintf(err, errlen, "the checkpoint of size %llu: %s", (unsigned long long)size,
                 why ? why : "no certificate of its signing key covers its time");
        goto out;
    }
    if (merkle_inclusion_proof_src(index, size, &src, &path, &n) != 0) {
        snprintf(err, errlen, "cannot compute the inclusion proof");
        goto out;
    }
    json_t *hashes = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(hashes, s_b64(path[i], MERKLE_HASH_BYTES));
    out = json_pack("{s:s, s:s, s:I, s:s%, s:o, s:o, s:o, s:o}", "format", AUDIT_PROOF_FORMAT,
                    "agency", cp.log, "index", (json_int_t)index, "entry", (const char *)entry,
                    elen, "checkpoint", s_b64(cp_raw, cplen), "inclusion", hashes,
                    "certificate", s_b64(cert, certlen), "root_key", s_b64(root_pk, 32));
    if (!out)
        snprintf(err, errlen, "out of memory");
out:
    free(entry);
    free(cp_raw);
    free(cert);
    free(path);
    return out;
}

/* Decodes a base64 string member into a fresh buffer of at most max bytes. */
static uint8_t *s_unb64(const json_t *o, const char *key, size_t max, size_t *len)
{
    const char *s = json_string_value(json_object_get(o, key));
    uint8_t *buf = s ? malloc(max) : NULL;
    if (buf && sodium_base642bin(buf, max, s, strlen(s), NULL, len, NULL,
                                 sodium_base64_VARIANT_ORIGINAL) != 0) {
        free(buf);
        buf = NULL;
    }
    return buf;
}

int audit_check(const json_t *proof, const unsigned char fp[FP_BYTES], const char **entry,
                checkpoint_t *cp, char *why, size_t whylen)
{
    size_t rlen = 0, clen = 0, cplen = 0;
    uint8_t *root = s_unb64(proof, "root_key", 64, &rlen);
    uint8_t *cert = s_unb64(proof, "certificate", 4096, &clen);
    uint8_t *cpr = s_unb64(proof, "checkpoint", CHECKPOINT_MAX_BYTES, &cplen);
    const json_t *hashes = json_object_get(proof, "inclusion");
    const char *agency = json_string_value(json_object_get(proof, "agency")), *w = NULL;
    const json_t *jidx = json_object_get(proof, "index");
    uint64_t index = (uint64_t)json_integer_value(jidx);
    unsigned char got_fp[FP_BYTES];
    uint8_t(*path)[MERKLE_HASH_BYTES] = NULL;
    size_t n = json_array_size(hashes);
    cert_t c;
    int rc = -1;
    *entry = json_string_value(json_object_get(proof, "entry"));
    if (!s_same(json_string_value(json_object_get(proof, "format")), AUDIT_PROOF_FORMAT) ||
        !root || rlen != 32 || !cert || !cpr || !*entry || !agency || !json_is_integer(jidx) ||
        json_integer_value(jidx) < 0 || !json_is_array(hashes) || n > MERKLE_MAX_INCLUSION_HASHES) {
        snprintf(why, whylen, "not a moux audit proof (format \"%s\", or a field missing or "
                 "malformed)", AUDIT_PROOF_FORMAT);
        goto out;
    }
    root_fingerprint(root, got_fp);
    if (sodium_memcmp(got_fp, fp, FP_BYTES) != 0) {
        snprintf(why, whylen, "the proof's root key is not the root with this fingerprint");
        goto out;
    }
    if (cert_verify(cert, clen, root, &c, &w) != 0 || strcmp(c.agency, agency) != 0) {
        snprintf(why, whylen, "the node certificate is not %s's root's: %s", agency,
                 w ? w : "another agency");
        goto out;
    }
    if (checkpoint_verify(cpr, cplen, c.sign_pk, cp, &w) != 0 || strcmp(cp->log, agency) != 0) {
        snprintf(why, whylen, "the checkpoint is not signed by the certified key: %s",
                 w ? w : "another log");
        goto out;
    }
    if (cp->timestamp_ms < c.not_before_ms || cp->timestamp_ms > c.not_after_ms) {
        snprintf(why, whylen, "the checkpoint was signed outside its key's certificate validity");
        goto out;
    }
    path = calloc(n ? n : 1, sizeof *path);
    for (size_t i = 0; path && i < n; i++) {
        const char *h = json_string_value(json_array_get(hashes, i));
        size_t hl = 0;
        if (!h || sodium_base642bin(path[i], MERKLE_HASH_BYTES, h, strlen(h), NULL, &hl, NULL,
                                    sodium_base64_VARIANT_ORIGINAL) != 0 || hl != 32) {
            snprintf(why, whylen, "inclusion hash %zu is malformed", i);
            goto out;
        }
    }
    uint8_t leaf[32];
    json_error_t je;
    json_t *e = json_loads(*entry, 0, &je);
    int idx_ok = e && (uint64_t)json_integer_value(json_object_get(e, "index")) == index;
    json_decref(e);
    merkle_leaf_hash((const uint8_t *)*entry, strlen(*entry), leaf);
    if (!path || !idx_ok ||
        merkle_verify_inclusion(index, cp->size, leaf, (const uint8_t(*)[32])path, n,
                                cp->root) != 0) {
        snprintf(why, whylen, "entry %llu is not in the log of size %llu the checkpoint signs",
                 (unsigned long long)index, (unsigned long long)cp->size);
        goto out;
    }
    rc = 0;
out:
    free(root);
    free(cert);
    free(cpr);
    free(path);
    return rc;
}

void audit_count_item(json_t *by_type, const char *type, int tlp)
{
    json_t *t = json_object_get(by_type, type);
    if (!t) {
        t = json_object();
        json_object_set_new(by_type, type, t);
    }
    const char *level = tlp_name((tlp_t)tlp);
    json_int_t n = json_integer_value(json_object_get(t, level));
    json_object_set_new(t, level, json_integer(n + 1));
}
