/* RFC 6962 Merkle tree math. Generation follows the recursive definitions of
 * RFC 6962 2.1 (MTH, PATH, SUBPROOF), unrolled into loops over [lo, hi)
 * ranges; verification follows RFC 9162 2.1.3.2 and 2.1.4.2, which need no
 * recursion and check the proof length implicitly (sn must reach 0 exactly
 * when the proof runs out). */
#include "merkle.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define HB MERKLE_HASH_BYTES

/* ---- hashing ---- */

/* Hashes prefix || a || b. Streaming, so out may alias a or b: both are
 * absorbed before out is written. */
static void s_hash(uint8_t prefix, const uint8_t *a, size_t alen, const uint8_t *b, size_t blen,
                   uint8_t out[HB])
{
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, &prefix, 1);
    if (alen)
        crypto_hash_sha256_update(&st, a, alen);
    if (blen)
        crypto_hash_sha256_update(&st, b, blen);
    crypto_hash_sha256_final(&st, out);
}

void merkle_leaf_hash(const uint8_t *entry, size_t len, uint8_t out[HB])
{
    s_hash(0x00, entry, len, NULL, 0, out);
}

void merkle_node_hash(const uint8_t left[HB], const uint8_t right[HB], uint8_t out[HB])
{
    s_hash(0x01, left, HB, right, HB, out);
}

void merkle_empty_root(uint8_t out[HB])
{
    crypto_hash_sha256(out, (const unsigned char *)"", 0);
}

/* ---- bit arithmetic ---- */

static unsigned s_bit_len(uint64_t x)
{
    unsigned n = 0;
    while (x) {
        n++;
        x >>= 1;
    }
    return n;
}

/* The largest power of two strictly below count (count >= 2): the size of
 * the left subtree in RFC 6962's split of count leaves. */
static uint64_t s_split(uint64_t count)
{
    return (uint64_t)1 << (s_bit_len(count - 1) - 1);
}

static int s_is_pow2(uint64_t x)
{
    return x != 0 && (x & (x - 1)) == 0;
}

/* ---- subtree roots from a source ---- */

static int s_source_ok(const merkle_source_t *src)
{
    return src != NULL && src->leaf != NULL;
}

/* Asks the node callback for [start, start + count) if that range is a
 * perfect, aligned subtree. 0 = got it, 1 = compute it, -1 = failure. */
static int s_try_node(const merkle_source_t *src, uint64_t start, uint64_t count, uint8_t out[HB])
{
    if (!src->node || !s_is_pow2(count) || start % count != 0)
        return 1;
    unsigned level = s_bit_len(count) - 1;
    int rc = src->node(src->arg, level, start >> level, out);
    return rc == 0 || rc == 1 ? rc : -1;
}

/* MTH(D[start:end]), start < end. The recursion splits as RFC 6962 does, so
 * its depth is at most 64. For the ranges MTH, PATH and SUBPROOF ask for,
 * start is a multiple of the left half's size, so every left half is a
 * perfect aligned subtree and a node callback answers it in one read. */
static int s_range_root(const merkle_source_t *src, uint64_t start, uint64_t end, uint8_t out[HB])
{
    uint64_t count = end - start;
    if (count == 1)
        return src->leaf(src->arg, start, out) == 0 ? 0 : -1;
    int rc = s_try_node(src, start, count, out);
    if (rc <= 0)
        return rc;
    uint64_t mid = start + s_split(count);
    uint8_t left[HB], right[HB];
    if (s_range_root(src, start, mid, left) != 0 || s_range_root(src, mid, end, right) != 0)
        return -1;
    merkle_node_hash(left, right, out);
    return 0;
}

int merkle_root_src(uint64_t size, const merkle_source_t *src, uint8_t out[HB])
{
    if (!out)
        return -1;
    if (size == 0) {
        merkle_empty_root(out);
        return 0;
    }
    if (!s_source_ok(src))
        return -1;
    return s_range_root(src, 0, size, out);
}

int merkle_root(uint64_t size, merkle_leaf_fn fn, void *arg, uint8_t out[HB])
{
    merkle_source_t src = {fn, NULL, arg};
    return merkle_root_src(size, &src, out);
}

/* ---- proof generation ---- */

/* Proof hashes collected root-first (the order the loops discover them) in
 * a bounded buffer, reversed on output into the RFC's leaf-first order. */
struct s_path {
    uint8_t h[MERKLE_MAX_CONSISTENCY_HASHES][HB];
    size_t n;
};

static int s_path_push(struct s_path *p, const merkle_source_t *src, uint64_t start, uint64_t end)
{
    if (p->n >= MERKLE_MAX_CONSISTENCY_HASHES) /* unreachable (see merkle.h); checked anyway */
        return -1;
    if (s_range_root(src, start, end, p->h[p->n]) != 0)
        return -1;
    p->n++;
    return 0;
}

static int s_path_emit(const struct s_path *p, uint8_t (**proof)[HB], size_t *n)
{
    if (p->n == 0)
        return 0; /* *proof already NULL, *n already 0 */
    uint8_t (*out)[HB] = malloc(p->n * sizeof *out);
    if (!out)
        return -1;
    for (size_t i = 0; i < p->n; i++)
        memcpy(out[i], p->h[p->n - 1 - i], HB);
    *proof = out;
    *n = p->n;
    return 0;
}

/* PATH(index, D[0:size]): at each split the sibling of the half holding the
 * leaf joins the proof. */
static int s_inclusion_path(uint64_t index, uint64_t size, const merkle_source_t *src,
                            struct s_path *p)
{
    uint64_t lo = 0, hi = size;
    while (hi - lo > 1) {
        uint64_t mid = lo + s_split(hi - lo);
        int left = index < mid;
        if (s_path_push(p, src, left ? mid : lo, left ? hi : mid) != 0)
            return -1;
        if (left)
            hi = mid;
        else
            lo = mid;
    }
    return 0;
}

int merkle_inclusion_proof_src(uint64_t index, uint64_t size, const merkle_source_t *src,
                               uint8_t (**proof)[HB], size_t *n)
{
    if (!proof || !n)
        return -1;
    *proof = NULL;
    *n = 0;
    if (index >= size || !s_source_ok(src))
        return -1;
    struct s_path p = {.n = 0};
    if (s_inclusion_path(index, size, src, &p) != 0)
        return -1;
    return s_path_emit(&p, proof, n);
}

int merkle_inclusion_proof(uint64_t index, uint64_t size, merkle_leaf_fn fn, void *arg,
                           uint8_t (**proof)[HB], size_t *n)
{
    merkle_source_t src = {fn, NULL, arg};
    return merkle_inclusion_proof_src(index, size, &src, proof, n);
}

/* SUBPROOF(size1, D[0:size2], true). Invariant: lo < size1 <= hi. `whole`
 * is the RFC's b: true while [lo, hi) still starts at 0, i.e. while the
 * verifier already knows the subtree [lo, size1) as root1 itself. */
static int s_consistency_path(uint64_t size1, uint64_t size2, const merkle_source_t *src,
                              struct s_path *p)
{
    uint64_t lo = 0, hi = size2;
    int whole = 1;
    while (size1 != hi) {
        uint64_t mid = lo + s_split(hi - lo);
        if (size1 <= mid) {
            if (s_path_push(p, src, mid, hi) != 0)
                return -1;
            hi = mid;
        } else {
            if (s_path_push(p, src, lo, mid) != 0)
                return -1;
            lo = mid;
            whole = 0;
        }
    }
    return whole ? 0 : s_path_push(p, src, lo, hi);
}

int merkle_consistency_proof_src(uint64_t size1, uint64_t size2, const merkle_source_t *src,
                                 uint8_t (**proof)[HB], size_t *n)
{
    if (!proof || !n)
        return -1;
    *proof = NULL;
    *n = 0;
    if (size1 == 0 || size1 > size2 || !s_source_ok(src))
        return -1;
    struct s_path p = {.n = 0};
    if (s_consistency_path(size1, size2, src, &p) != 0)
        return -1;
    return s_path_emit(&p, proof, n);
}

int merkle_consistency_proof(uint64_t size1, uint64_t size2, merkle_leaf_fn fn, void *arg,
                             uint8_t (**proof)[HB], size_t *n)
{
    merkle_source_t src = {fn, NULL, arg};
    return merkle_consistency_proof_src(size1, size2, &src, proof, n);
}

/* ---- proof verification ---- */

/* Roots are public, so constant time is not needed; sodium_memcmp costs
 * nothing here and spares the reader the question. */
static int s_equal(const uint8_t a[HB], const uint8_t b[HB])
{
    return sodium_memcmp(a, b, HB) == 0;
}

/* RFC 9162: after hashing in a left sibling at a node on the right border,
 * skip the levels where that node has no right sibling (fn is even). */
static void s_skip_border(uint64_t *fn, uint64_t *sn)
{
    while ((*fn & 1) == 0 && *fn != 0) {
        *fn >>= 1;
        *sn >>= 1;
    }
}

int merkle_verify_inclusion(uint64_t index, uint64_t size, const uint8_t leaf_hash[HB],
                            const uint8_t (*proof)[HB], size_t n, const uint8_t root[HB])
{
    if (!leaf_hash || !root || index >= size || n > MERKLE_MAX_INCLUSION_HASHES ||
        (n > 0 && !proof))
        return -1;
    uint64_t fn = index, sn = size - 1;
    uint8_t r[HB];
    memcpy(r, leaf_hash, HB);
    for (size_t i = 0; i < n; i++) {
        if (sn == 0)
            return -1; /* proof too long */
        if ((fn & 1) || fn == sn) {
            merkle_node_hash(proof[i], r, r);
            s_skip_border(&fn, &sn);
        } else {
            merkle_node_hash(r, proof[i], r);
        }
        fn >>= 1;
        sn >>= 1;
    }
    return sn == 0 && s_equal(r, root) ? 0 : -1; /* sn != 0: proof too short */
}

/* The cases RFC 9162 leaves to the caller. Returns 0 valid, -1 invalid, 1
 * when the general algorithm must decide (0 < size1 < size2, n > 0). */
static int s_consistency_trivial(uint64_t size1, uint64_t size2, const uint8_t root1[HB],
                                 const uint8_t root2[HB], size_t n)
{
    if (size1 == 0 || size1 > size2)
        return -1;
    if (size1 == size2)
        return n == 0 && s_equal(root1, root2) ? 0 : -1;
    return n == 0 ? -1 : 1;
}

int merkle_verify_consistency(uint64_t size1, uint64_t size2, const uint8_t root1[HB],
                              const uint8_t root2[HB], const uint8_t (*proof)[HB], size_t n)
{
    if (!root1 || !root2 || n > MERKLE_MAX_CONSISTENCY_HASHES || (n > 0 && !proof))
        return -1;
    int rc = s_consistency_trivial(size1, size2, root1, root2, n);
    if (rc != 1)
        return rc;
    /* When size1 is a power of two the old tree is itself a subtree of the
     * new one, so the proof omits it and root1 is the starting point. */
    size_t i = 0;
    const uint8_t *seed = s_is_pow2(size1) ? root1 : proof[i++];
    uint64_t fn = size1 - 1, sn = size2 - 1;
    while (fn & 1) {
        fn >>= 1;
        sn >>= 1;
    }
    uint8_t fr[HB], sr[HB];
    memcpy(fr, seed, HB);
    memcpy(sr, seed, HB);
    for (; i < n; i++) {
        if (sn == 0)
            return -1; /* proof too long */
        if ((fn & 1) || fn == sn) {
            merkle_node_hash(proof[i], fr, fr);
            merkle_node_hash(proof[i], sr, sr);
            s_skip_border(&fn, &sn);
        } else {
            merkle_node_hash(sr, proof[i], sr); /* only in the new tree */
        }
        fn >>= 1;
        sn >>= 1;
    }
    return sn == 0 && s_equal(fr, root1) && s_equal(sr, root2) ? 0 : -1;
}

/* ---- frontier ---- */

void merkle_frontier_init(merkle_frontier_t *f)
{
    memset(f, 0, sizeof *f);
}

uint64_t merkle_frontier_size(const merkle_frontier_t *f)
{
    return f->size;
}

int merkle_frontier_load(merkle_frontier_t *f, uint64_t size, const merkle_source_t *src)
{
    if (!f || (size > 0 && !s_source_ok(src)))
        return -1;
    merkle_frontier_t tmp;
    merkle_frontier_init(&tmp);
    uint64_t start = 0;
    /* Largest subtree first: the compact range is laid out left to right in
     * decreasing powers of two, one per set bit of size. */
    for (unsigned level = 64; level-- > 0;) {
        if (((size >> level) & 1) == 0)
            continue;
        uint64_t end = start + ((uint64_t)1 << level);
        if (s_range_root(src, start, end, tmp.nodes[level]) != 0)
            return -1;
        start = end;
    }
    tmp.size = size;
    *f = tmp;
    return 0;
}

int merkle_frontier_append(merkle_frontier_t *f, const uint8_t leaf_hash[HB])
{
    if (!f || !leaf_hash || f->size == UINT64_MAX)
        return -1;
    /* Binary increment: each set low bit is a full subtree that merges with
     * the carry; the carry lands on the first clear bit (at most bit 63,
     * since size < UINT64_MAX). */
    uint8_t carry[HB];
    memcpy(carry, leaf_hash, HB);
    unsigned level = 0;
    while ((f->size >> level) & 1) {
        merkle_node_hash(f->nodes[level], carry, carry);
        level++;
    }
    memcpy(f->nodes[level], carry, HB);
    f->size++;
    return 0;
}

void merkle_frontier_root(const merkle_frontier_t *f, uint8_t out[HB])
{
    if (f->size == 0) {
        merkle_empty_root(out);
        return;
    }
    /* MTH folds from the right: the smallest subtree is the deepest right
     * child, each larger one is the left sibling of everything after it. */
    unsigned level = 0;
    while (((f->size >> level) & 1) == 0)
        level++;
    uint8_t r[HB];
    memcpy(r, f->nodes[level], HB);
    for (level++; level < 64; level++)
        if ((f->size >> level) & 1)
            merkle_node_hash(f->nodes[level], r, r);
    memcpy(out, r, HB);
}
