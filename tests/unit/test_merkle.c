/* Merkle tree math: the shared transparency-dev/merkle vectors, known RFC
 * 6962 roots, exhaustive proofs over every tree of up to 70 leaves with
 * tampering, the frontier, a node-cache source (O(log n) reads) and trees of
 * up to UINT64_MAX leaves. */
#include "merkle.h"
#include "test.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define HB MERKLE_HASH_BYTES
#define VECTOR_DIR "../shared/vectors/merkle/testdata" /* tests run in the repo root */
#define SMALL_MAX 70     /* exhaustive proofs over sizes 0..SMALL_MAX */
#define LEAVES_MAX 1100  /* leaves available to the larger tests */

typedef uint8_t hash_t[HB];

/* ---- a tree of "leaf-i" entries behind the callbacks ---- */

static hash_t s_leaf[LEAVES_MAX];
static hash_t s_root[SMALL_MAX * 2 + 3]; /* s_root[n]: root of the first n leaves */

struct counter {
    uint64_t size;  /* leaves the source may hand out */
    unsigned long reads;
    int fail_at;    /* leaf index whose read fails, or -1 */
};

static int s_leaf_fn(void *arg, uint64_t index, uint8_t out[HB])
{
    struct counter *c = arg;
    if (index >= c->size || (c->fail_at >= 0 && index == (uint64_t)c->fail_at))
        return -1;
    memcpy(out, s_leaf[index], HB);
    c->reads++;
    return 0;
}

static void s_setup_leaves(void)
{
    for (unsigned i = 0; i < LEAVES_MAX; i++) {
        char entry[32];
        int len = snprintf(entry, sizeof entry, "leaf-%u", i);
        merkle_leaf_hash((const uint8_t *)entry, (size_t)len, s_leaf[i]);
    }
    struct counter c = {LEAVES_MAX, 0, -1};
    for (unsigned n = 0; n < sizeof s_root / sizeof s_root[0]; n++)
        if (merkle_root(n, s_leaf_fn, &c, s_root[n]) != 0)
            memset(s_root[n], 0, HB);
}

static int s_incl_len(uint64_t index, uint64_t size, size_t *n)
{
    struct counter c = {LEAVES_MAX, 0, -1};
    hash_t *p = NULL;
    int rc = merkle_inclusion_proof(index, size, s_leaf_fn, &c, &p, n);
    free(p);
    return rc;
}

static int s_cons_len(uint64_t size1, uint64_t size2, size_t *n)
{
    struct counter c = {LEAVES_MAX, 0, -1};
    hash_t *p = NULL;
    int rc = merkle_consistency_proof(size1, size2, s_leaf_fn, &c, &p, n);
    free(p);
    return rc;
}

/* A copy of proof with room for two more hashes, so probes can grow it.
 * (const void *: ISO C before C2x will not convert hash_t * to
 * const hash_t * implicitly, hence also the casts before each verify.) */
static hash_t *s_dup(const void *proof, size_t n)
{
    hash_t *d = malloc((n + 2) * sizeof *d);
    if (d && n)
        memcpy(d, proof, n * sizeof *d);
    return d;
}

/* Counts probes that should have been refused, printing the first few. */
static int s_wrong;

static void s_expect_refused(int rc, const char *what, uint64_t a, uint64_t b)
{
    if (rc == 0) {
        if (s_wrong < 10)
            fprintf(stderr, "  accepted %s (%llu, %llu)\n", what, (unsigned long long)a,
                    (unsigned long long)b);
        s_wrong++;
    }
}

/* ---- hashes and known roots ---- */

static void test_hash_primitives(void)
{
    uint8_t buf[1 + 2 * HB], want[HB], got[HB];
    /* Leaf and node hashes against SHA-256 over the concatenation. */
    buf[0] = 0x00;
    memcpy(buf + 1, "hello", 5);
    crypto_hash_sha256(want, buf, 6);
    merkle_leaf_hash((const uint8_t *)"hello", 5, got);
    CHECK(memcmp(got, want, HB) == 0);

    buf[0] = 0x01;
    memcpy(buf + 1, s_leaf[0], HB);
    memcpy(buf + 1 + HB, s_leaf[1], HB);
    crypto_hash_sha256(want, buf, sizeof buf);
    merkle_node_hash(s_leaf[0], s_leaf[1], got);
    CHECK(memcmp(got, want, HB) == 0);

    /* out may alias an input */
    memcpy(got, s_leaf[0], HB);
    merkle_node_hash(got, s_leaf[1], got);
    CHECK(memcmp(got, want, HB) == 0);

    char hex[2 * HB + 1];
    merkle_empty_root(got);
    hex_encode(got, HB, hex);
    CHECK_STR(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    merkle_leaf_hash(NULL, 0, got);
    hex_encode(got, HB, hex);
    CHECK_STR(hex, "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d");
}

/* The RFC 6962 reference tree used by certificate-transparency and
 * transparency-dev/merkle: eight entries and the root of each prefix. */
static const char *const s_ct_entries[8] = {"", "00", "10", "2021", "3031", "40414243",
                                            "5051525354555657",
                                            "606162636465666768696a6b6c6d6e6f"};
static const char *const s_ct_roots[8] = {
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"};

static hash_t s_ct_leaf[8];

static int s_ct_leaf_fn(void *arg, uint64_t index, uint8_t out[HB])
{
    (void)arg;
    if (index >= 8)
        return -1;
    memcpy(out, s_ct_leaf[index], HB);
    return 0;
}

static void test_known_roots(void)
{
    for (unsigned i = 0; i < 8; i++) {
        uint8_t entry[16];
        size_t len = strlen(s_ct_entries[i]) / 2;
        CHECK(hex_decode(s_ct_entries[i], entry, len) == 0);
        merkle_leaf_hash(entry, len, s_ct_leaf[i]);
    }
    merkle_frontier_t f;
    merkle_frontier_init(&f);
    for (unsigned n = 1; n <= 8; n++) {
        uint8_t got[HB];
        char hex[2 * HB + 1];
        CHECK(merkle_root(n, s_ct_leaf_fn, NULL, got) == 0);
        hex_encode(got, HB, hex);
        CHECK_STR(hex, s_ct_roots[n - 1]);
        CHECK(merkle_frontier_append(&f, s_ct_leaf[n - 1]) == 0);
        merkle_frontier_root(&f, got);
        hex_encode(got, HB, hex);
        CHECK_STR(hex, s_ct_roots[n - 1]);
    }

    /* The "leaf-i" tree by hand, straight from the MTH definition. */
    hash_t h01, h23, h45, h0123, want;
    merkle_node_hash(s_leaf[0], s_leaf[1], h01);
    merkle_node_hash(s_leaf[2], s_leaf[3], h23);
    merkle_node_hash(s_leaf[4], s_leaf[5], h45);
    merkle_node_hash(h01, h23, h0123);
    CHECK(memcmp(s_root[1], s_leaf[0], HB) == 0);
    CHECK(memcmp(s_root[2], h01, HB) == 0);
    merkle_node_hash(h01, s_leaf[2], want);
    CHECK(memcmp(s_root[3], want, HB) == 0);
    CHECK(memcmp(s_root[4], h0123, HB) == 0);
    merkle_node_hash(h0123, s_leaf[4], want);
    CHECK(memcmp(s_root[5], want, HB) == 0);
    merkle_node_hash(h0123, h45, want);
    CHECK(memcmp(s_root[6], want, HB) == 0);
    hash_t h456;
    merkle_node_hash(h45, s_leaf[6], h456);
    merkle_node_hash(h0123, h456, want);
    CHECK(memcmp(s_root[7], want, HB) == 0);
    merkle_empty_root(want);
    CHECK(memcmp(s_root[0], want, HB) == 0);
}

/* ---- inclusion, exhaustively ---- */

/* Wrong sizes paired with the original root. RFC 9162 verification only sees
 * the path's shape, so a size with the same shape (e.g. index 0 of 3 and of
 * 4) passes; the size is bound by the signed checkpoint, not the proof. A
 * size whose proof has another length must always fail. */
static int s_same_shape_accepts;

static void s_incl_wrong_sizes(uint64_t i, uint64_t size, const hash_t *proof, size_t n)
{
    const uint64_t probes[] = {0, size - 1, size + 1, size * 2, size / 2, i};
    for (size_t k = 0; k < sizeof probes / sizeof probes[0]; k++) {
        uint64_t s2 = probes[k];
        size_t n2 = 0;
        if (s2 == size)
            continue;
        int rc = merkle_verify_inclusion(i, s2, s_leaf[i], proof, n, s_root[size]);
        if (s_incl_len(i, s2, &n2) != 0 || n2 != n)
            s_expect_refused(rc, "inclusion, wrong size", i, s2);
        else if (rc == 0)
            s_same_shape_accepts++;
    }
    /* Every other size with that size's own root: never. */
    for (uint64_t s2 = i + 1; s2 <= SMALL_MAX; s2++)
        if (s2 != size)
            s_expect_refused(merkle_verify_inclusion(i, s2, s_leaf[i], proof, n, s_root[s2]),
                             "inclusion, other checkpoint", i, s2);
}

static void s_incl_tamper(uint64_t i, uint64_t size, hash_t *proof, size_t n)
{
    const hash_t *ro = (const hash_t *)proof;
    for (size_t k = 0; k < n; k++)
        for (size_t b = 0; b < HB; b++) {
            proof[k][b] ^= 0x01;
            s_expect_refused(merkle_verify_inclusion(i, size, s_leaf[i], ro, n, s_root[size]),
                             "inclusion, flipped byte", i, size);
            proof[k][b] ^= 0x01;
        }
    hash_t bad;
    memcpy(bad, s_root[size], HB);
    bad[HB - 1] ^= 0x80;
    s_expect_refused(merkle_verify_inclusion(i, size, s_leaf[i], ro, n, bad), "wrong root", i,
                     size);
    s_expect_refused(merkle_verify_inclusion(i, size, s_leaf[i], ro, n, s_root[0]),
                     "empty-tree root", i, size);
    memcpy(bad, s_leaf[i], HB);
    bad[0] ^= 0x08;
    s_expect_refused(merkle_verify_inclusion(i, size, bad, ro, n, s_root[size]), "wrong leaf",
                     i, size);
    for (uint64_t j = 0; j < size + 2; j++)
        if (j != i)
            s_expect_refused(merkle_verify_inclusion(j, size, s_leaf[i], ro, n, s_root[size]),
                             "inclusion, wrong index", j, size);
    /* Length: one hash more (trailing root), one fewer. */
    memcpy(proof[n], s_root[size], HB);
    s_expect_refused(merkle_verify_inclusion(i, size, s_leaf[i], ro, n + 1, s_root[size]),
                     "inclusion, trailing hash", i, size);
    if (n > 0)
        s_expect_refused(merkle_verify_inclusion(i, size, s_leaf[i], ro, n - 1, s_root[size]),
                         "inclusion, truncated", i, size);
}

static void test_inclusion_exhaustive(void)
{
    struct counter c = {LEAVES_MAX, 0, -1};
    unsigned long proofs = 0;
    s_wrong = 0;
    s_same_shape_accepts = 0;
    for (uint64_t size = 1; size <= SMALL_MAX; size++)
        for (uint64_t i = 0; i < size; i++) {
            hash_t *p = NULL, *d;
            size_t n = 99;
            CHECK(merkle_inclusion_proof(i, size, s_leaf_fn, &c, &p, &n) == 0);
            CHECK(n <= MERKLE_MAX_INCLUSION_HASHES && (n == 0) == (p == NULL));
            CHECK(merkle_verify_inclusion(i, size, s_leaf[i], (const hash_t *)p, n,
                                          s_root[size]) == 0);
            d = s_dup(p, n);
            CHECK(d != NULL);
            if (d) {
                s_incl_tamper(i, size, d, n);
                s_incl_wrong_sizes(i, size, (const hash_t *)d, n);
            }
            free(d);
            free(p);
            proofs++;
        }
    CHECK(s_wrong == 0);
    printf("     inclusion: %lu proofs over sizes 1..%d verified, every tampered probe refused "
           "(%d same-shape wrong-size probes with the original root passed, as RFC 9162 "
           "allows)\n",
           proofs, SMALL_MAX, s_same_shape_accepts);

    /* Nothing is in the empty tree; indices past the end have no proof. */
    hash_t *p = (hash_t *)1;
    size_t n = 7;
    CHECK(merkle_inclusion_proof(0, 0, s_leaf_fn, &c, &p, &n) == -1 && p == NULL && n == 0);
    CHECK(merkle_inclusion_proof(5, 5, s_leaf_fn, &c, &p, &n) == -1);
    CHECK(merkle_verify_inclusion(0, 0, s_leaf[0], NULL, 0, s_root[0]) == -1);
    CHECK(merkle_verify_inclusion(UINT64_MAX, 1, s_leaf[0], NULL, 0, s_root[1]) == -1);
}

/* ---- consistency, exhaustively ---- */

static void s_cons_tamper(uint64_t s1, uint64_t s2, hash_t *proof, size_t n)
{
    const uint8_t *r1 = s_root[s1], *r2 = s_root[s2];
    const hash_t *ro = (const hash_t *)proof;
    for (size_t k = 0; k < n; k++)
        for (size_t b = 0; b < HB; b++) {
            proof[k][b] ^= 0x10;
            s_expect_refused(merkle_verify_consistency(s1, s2, r1, r2, ro, n),
                             "consistency, flipped byte", s1, s2);
            proof[k][b] ^= 0x10;
        }
    s_expect_refused(merkle_verify_consistency(s1, s2, r2, r1, ro, n), "swapped roots", s1, s2);
    s_expect_refused(merkle_verify_consistency(s1, s2, s_root[s1 - 1], r2, ro, n),
                     "wrong root1", s1, s2);
    s_expect_refused(merkle_verify_consistency(s1, s2, r1, s_root[s2 + 1], ro, n),
                     "wrong root2", s1, s2);
    s_expect_refused(merkle_verify_consistency(s1, s2, r1, r2, NULL, 0), "empty proof", s1, s2);
    s_expect_refused(merkle_verify_consistency(s1, s2, r1, r2, ro, n - 1), "truncated", s1, s2);
    memcpy(proof[n], r1, HB);
    s_expect_refused(merkle_verify_consistency(s1, s2, r1, r2, ro, n + 1), "trailing root1",
                     s1, s2);
    /* preceding proof[0] */
    memmove(proof[1], proof[0], n * HB);
    s_expect_refused(merkle_verify_consistency(s1, s2, r1, r2, ro, n + 1), "preceding hash",
                     s1, s2);
    memmove(proof[0], proof[1], n * HB);
}

static void s_cons_wrong_sizes(uint64_t s1, uint64_t s2, const hash_t *proof, size_t n)
{
    const uint64_t probes[][2] = {{s1 - 1, s2}, {s1 + 1, s2}, {s1 ^ 2, s2},
                                  {s1, s2 * 2}, {s1, s2 / 2}, {s1, s2 + 1}};
    for (size_t k = 0; k < sizeof probes / sizeof probes[0]; k++) {
        uint64_t a = probes[k][0], b = probes[k][1];
        size_t n2 = 0;
        if (a == s1 && b == s2)
            continue;
        int rc = merkle_verify_consistency(a, b, s_root[s1], s_root[s2], proof, n);
        if (s_cons_len(a, b, &n2) != 0 || n2 != n)
            s_expect_refused(rc, "consistency, wrong sizes", a, b);
        else if (rc == 0)
            s_same_shape_accepts++;
    }
    /* Other checkpoints, each with its own root: never. */
    for (uint64_t a = 1; a <= s2; a++)
        if (a != s1)
            s_expect_refused(merkle_verify_consistency(a, s2, s_root[a], s_root[s2], proof, n),
                             "consistency, other size1", a, s2);
    for (uint64_t b = s1; b <= SMALL_MAX; b++)
        if (b != s2)
            s_expect_refused(merkle_verify_consistency(s1, b, s_root[s1], s_root[b], proof, n),
                             "consistency, other size2", s1, b);
}

static void test_consistency_exhaustive(void)
{
    struct counter c = {LEAVES_MAX, 0, -1};
    unsigned long proofs = 0;
    s_wrong = 0;
    s_same_shape_accepts = 0;
    for (uint64_t s2 = 1; s2 <= SMALL_MAX; s2++)
        for (uint64_t s1 = 1; s1 <= s2; s1++) {
            hash_t *p = NULL, *d;
            size_t n = 99;
            CHECK(merkle_consistency_proof(s1, s2, s_leaf_fn, &c, &p, &n) == 0);
            CHECK(n <= MERKLE_MAX_CONSISTENCY_HASHES && (n == 0) == (s1 == s2));
            CHECK(merkle_verify_consistency(s1, s2, s_root[s1], s_root[s2], (const hash_t *)p,
                                            n) == 0);
            d = s_dup(p, n);
            CHECK(d != NULL);
            if (d && s1 < s2) {
                s_cons_tamper(s1, s2, d, n);
                s_cons_wrong_sizes(s1, s2, (const hash_t *)d, n);
            } else if (d) {
                /* Equal sizes: only the empty proof between equal roots. */
                s_expect_refused(merkle_verify_consistency(s1, s2, s_root[s1], s_root[s1 - 1],
                                                           NULL, 0),
                                 "equal sizes, other root", s1, s2);
                memcpy(d[0], s_root[s1], HB);
                s_expect_refused(merkle_verify_consistency(s1, s2, s_root[s1], s_root[s1],
                                                           (const hash_t *)d, 1),
                                 "equal sizes, non-empty proof", s1, s2);
            }
            free(d);
            free(p);
            proofs++;
        }
    CHECK(s_wrong == 0);
    printf("     consistency: %lu proofs over 1 <= size1 <= size2 <= %d verified, every "
           "tampered probe refused (%d same-shape wrong-size probes passed)\n",
           proofs, SMALL_MAX, s_same_shape_accepts);

    /* size1 == 0 and time travel are refused both ways. */
    hash_t *p = (hash_t *)1;
    size_t n = 7;
    CHECK(merkle_consistency_proof(0, 5, s_leaf_fn, &c, &p, &n) == -1 && p == NULL && n == 0);
    CHECK(merkle_consistency_proof(6, 5, s_leaf_fn, &c, &p, &n) == -1);
    CHECK(merkle_verify_consistency(0, 0, s_root[0], s_root[0], NULL, 0) == -1);
    CHECK(merkle_verify_consistency(0, 5, s_root[0], s_root[5], NULL, 0) == -1);
    CHECK(merkle_verify_consistency(6, 5, s_root[6], s_root[5], NULL, 0) == -1);
}

/* ---- frontier ---- */

static void test_frontier(void)
{
    struct counter c = {LEAVES_MAX, 0, -1};
    merkle_source_t src = {s_leaf_fn, NULL, &c};
    merkle_frontier_t f, g;
    int mismatches = 0;
    merkle_frontier_init(&f);
    for (uint64_t n = 0; n <= LEAVES_MAX; n++) {
        hash_t fr, want;
        CHECK(merkle_frontier_size(&f) == n);
        merkle_frontier_root(&f, fr);
        CHECK(merkle_root(n, s_leaf_fn, &c, want) == 0);
        mismatches += memcmp(fr, want, HB) != 0;
        /* Rebuilding from the source gives the same frontier. */
        if (n % 37 == 0 || n <= SMALL_MAX) {
            hash_t gr;
            CHECK(merkle_frontier_load(&g, n, &src) == 0);
            merkle_frontier_root(&g, gr);
            mismatches += memcmp(gr, want, HB) != 0;
        }
        if (n < LEAVES_MAX)
            CHECK(merkle_frontier_append(&f, s_leaf[n]) == 0);
    }
    CHECK(mismatches == 0);

    /* A full tree refuses to grow and stays as it was. */
    merkle_frontier_init(&g);
    g.size = UINT64_MAX;
    CHECK(merkle_frontier_append(&g, s_leaf[0]) == -1);
    CHECK(merkle_frontier_size(&g) == UINT64_MAX);
    CHECK(merkle_frontier_load(&g, 3, NULL) == -1);
    CHECK(merkle_frontier_load(&g, 0, NULL) == 0 && merkle_frontier_size(&g) == 0);
}

/* ---- a node cache: O(log n) reads ---- */

struct cache {
    struct counter leaves;
    hash_t *level[11]; /* level[l][i]: root of leaves [i << l, (i + 1) << l) */
    uint64_t count[11];
    unsigned long node_reads;
    int skip_odd_levels; /* pretend odd levels are not stored */
    int node_fail;       /* every node read fails */
};

static int s_cache_node_fn(void *arg, unsigned level, uint64_t index, uint8_t out[HB])
{
    struct cache *k = arg;
    if (k->node_fail)
        return -1;
    if (level >= 11 || index >= k->count[level] || (k->skip_odd_levels && (level & 1)))
        return 1;
    memcpy(out, k->level[level][index], HB);
    k->node_reads++;
    return 0;
}

static int s_cache_leaf_fn(void *arg, uint64_t index, uint8_t out[HB])
{
    struct cache *k = arg;
    return s_leaf_fn(&k->leaves, index, out);
}

static int s_cache_build(struct cache *k)
{
    memset(k, 0, sizeof *k);
    k->leaves = (struct counter){LEAVES_MAX, 0, -1};
    for (unsigned l = 1; l < 11; l++) {
        k->count[l] = LEAVES_MAX >> l;
        k->level[l] = malloc((k->count[l] ? k->count[l] : 1) * HB);
        if (!k->level[l])
            return -1;
        for (uint64_t i = 0; i < k->count[l]; i++)
            merkle_node_hash(l == 1 ? s_leaf[2 * i] : k->level[l - 1][2 * i],
                             l == 1 ? s_leaf[2 * i + 1] : k->level[l - 1][2 * i + 1],
                             k->level[l][i]);
    }
    return 0;
}

static void s_cache_free(struct cache *k)
{
    for (unsigned l = 0; l < 11; l++)
        free(k->level[l]);
}

static unsigned s_bits(uint64_t x)
{
    unsigned n = 0;
    for (; x; x >>= 1)
        n++;
    return n;
}

static unsigned long s_cache_reads(struct cache *k)
{
    unsigned long r = k->node_reads + k->leaves.reads;
    k->node_reads = 0;
    k->leaves.reads = 0;
    return r;
}

/* Proofs from the cache equal proofs from the leaves, in O(log n) reads. */
static void s_cache_check(struct cache *k, uint64_t a, uint64_t size, int inclusion)
{
    merkle_source_t src = {s_cache_leaf_fn, s_cache_node_fn, k};
    struct counter c = {LEAVES_MAX, 0, -1};
    hash_t *p1 = NULL, *p2 = NULL;
    size_t n1 = 0, n2 = 0;
    int rc1 = inclusion ? merkle_inclusion_proof(a, size, s_leaf_fn, &c, &p1, &n1)
                        : merkle_consistency_proof(a, size, s_leaf_fn, &c, &p1, &n1);
    s_cache_reads(k);
    int rc2 = inclusion ? merkle_inclusion_proof_src(a, size, &src, &p2, &n2)
                        : merkle_consistency_proof_src(a, size, &src, &p2, &n2);
    unsigned long reads = s_cache_reads(k);
    CHECK(rc1 == 0 && rc2 == 0 && n1 == n2);
    CHECK(n1 == 0 || memcmp(p1, p2, n1 * HB) == 0);
    if (!k->skip_odd_levels && reads > 2 * s_bits(size) + 2) {
        fprintf(stderr, "  %s(%llu, %llu): %lu reads\n", inclusion ? "inclusion" : "consistency",
                (unsigned long long)a, (unsigned long long)size, reads);
        CHECK(reads <= 2 * s_bits(size) + 2);
    }
    free(p1);
    free(p2);
}

static void test_node_source(void)
{
    struct cache k;
    CHECK(s_cache_build(&k) == 0);
    const uint64_t sizes[] = {1, 2, 3, 7, 8, 9, 63, 64, 65, 100, 1023, 1024, 1025, 1099, 1100};
    for (int pass = 0; pass < 2; pass++) {
        k.skip_odd_levels = pass;
        merkle_source_t src = {s_cache_leaf_fn, s_cache_node_fn, &k};
        for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
            uint64_t size = sizes[s];
            hash_t r1, r2;
            struct counter c = {LEAVES_MAX, 0, -1};
            CHECK(merkle_root(size, s_leaf_fn, &c, r1) == 0);
            s_cache_reads(&k);
            CHECK(merkle_root_src(size, &src, r2) == 0);
            unsigned long reads = s_cache_reads(&k);
            CHECK(memcmp(r1, r2, HB) == 0);
            CHECK(pass || reads <= s_bits(size));
            const uint64_t picks[] = {0, 1, size / 3, size / 2, size - 2, size - 1};
            for (size_t j = 0; j < sizeof picks / sizeof picks[0]; j++)
                if (picks[j] < size) { /* size - 2 wraps for size 1 */
                    s_cache_check(&k, picks[j], size, 1);
                    s_cache_check(&k, picks[j] + 1, size, 0);
                }
        }
    }
    /* A failing read is an error, not a fallback. */
    merkle_source_t src = {s_cache_leaf_fn, s_cache_node_fn, &k};
    hash_t r, *p = (hash_t *)1;
    size_t n = 3;
    k.skip_odd_levels = 0;
    k.node_fail = 1;
    CHECK(merkle_root_src(1100, &src, r) == -1);
    CHECK(merkle_inclusion_proof_src(5, 1100, &src, &p, &n) == -1 && p == NULL && n == 0);
    CHECK(merkle_consistency_proof_src(5, 1100, &src, &p, &n) == -1);
    CHECK(merkle_frontier_load(&(merkle_frontier_t){0}, 1100, &src) == -1);
    k.node_fail = 0;
    k.leaves.fail_at = 1098; /* 1099 = 1024 + 64 + 8 + 2 + 1: leaf 1098 is read */
    CHECK(merkle_root_src(1099, &src, r) == -1);
    CHECK(merkle_root_src(1098, &src, r) == 0);
    s_cache_free(&k);
}

/* ---- trees of up to UINT64_MAX leaves ---- */

/* A virtual tree: every leaf is the same filler except a few special ones,
 * so any subtree root is computable in O(64 * specials) hashes and the
 * whole uint64 range can be exercised through a node callback. */
static const uint64_t s_special[] = {0,
                                     1,
                                     5,
                                     ((uint64_t)1 << 32) + 7,
                                     ((uint64_t)1 << 63) - 1,
                                     (uint64_t)1 << 63,
                                     ((uint64_t)1 << 63) + 1,
                                     UINT64_MAX - 3,
                                     UINT64_MAX - 2,
                                     UINT64_MAX - 1};
#define N_SPECIAL (sizeof s_special / sizeof s_special[0])
static hash_t s_filler[64]; /* s_filler[l]: root of 2^l filler leaves */

static void s_virtual_leaf(uint64_t index, uint8_t out[HB])
{
    for (size_t i = 0; i < N_SPECIAL; i++)
        if (s_special[i] == index) {
            char entry[48];
            int len = snprintf(entry, sizeof entry, "special-%llu", (unsigned long long)index);
            merkle_leaf_hash((const uint8_t *)entry, (size_t)len, out);
            return;
        }
    memcpy(out, s_filler[0], HB);
}

static void s_virtual_node(unsigned level, uint64_t index, uint8_t out[HB])
{
    int special = 0;
    for (size_t i = 0; i < N_SPECIAL; i++)
        special |= (s_special[i] >> level) == index;
    if (level == 0) {
        s_virtual_leaf(index, out);
    } else if (!special) {
        memcpy(out, s_filler[level], HB);
    } else {
        hash_t l, r;
        s_virtual_node(level - 1, 2 * index, l);
        s_virtual_node(level - 1, 2 * index + 1, r);
        merkle_node_hash(l, r, out);
    }
}

static int s_virtual_leaf_fn(void *arg, uint64_t index, uint8_t out[HB])
{
    (void)arg;
    s_virtual_leaf(index, out);
    return 0;
}

static int s_virtual_node_fn(void *arg, unsigned level, uint64_t index, uint8_t out[HB])
{
    (void)arg;
    if (level > 63)
        return -1;
    s_virtual_node(level, index, out);
    return 0;
}

static void test_huge_trees(void)
{
    merkle_source_t src = {s_virtual_leaf_fn, s_virtual_node_fn, NULL};
    merkle_leaf_hash((const uint8_t *)"filler", 6, s_filler[0]);
    for (unsigned l = 1; l < 64; l++)
        merkle_node_hash(s_filler[l - 1], s_filler[l - 1], s_filler[l]);

    const uint64_t sizes[] = {1, 3, 6, ((uint64_t)1 << 32) + 8, (uint64_t)1 << 63,
                              ((uint64_t)1 << 63) + 1, ((uint64_t)1 << 63) + 2, UINT64_MAX - 1,
                              UINT64_MAX};
    const size_t ns = sizeof sizes / sizeof sizes[0];
    hash_t roots[sizeof sizes / sizeof sizes[0]];
    for (size_t s = 0; s < ns; s++)
        CHECK(merkle_root_src(sizes[s], &src, roots[s]) == 0);
    CHECK(memcmp(roots[1], roots[2], HB) != 0);

    for (size_t s = 0; s < ns; s++)
        for (size_t i = 0; i < N_SPECIAL; i++) {
            uint64_t idx = s_special[i], size = sizes[s];
            hash_t *p = NULL, leaf;
            size_t n = 0;
            if (idx >= size)
                continue;
            CHECK(merkle_inclusion_proof_src(idx, size, &src, &p, &n) == 0);
            s_virtual_leaf(idx, leaf);
            CHECK(merkle_verify_inclusion(idx, size, leaf, (const hash_t *)p, n, roots[s]) == 0);
            CHECK(merkle_verify_inclusion(idx ^ 1, size, leaf, (const hash_t *)p, n, roots[s]) ==
                  -1);
            if (idx == 0 && size == UINT64_MAX)
                CHECK(n == MERKLE_MAX_INCLUSION_HASHES);
            free(p);
        }

    for (size_t a = 0; a < ns; a++)
        for (size_t b = a; b < ns; b++) {
            hash_t *p = NULL;
            size_t n = 0;
            CHECK(merkle_consistency_proof_src(sizes[a], sizes[b], &src, &p, &n) == 0);
            CHECK(merkle_verify_consistency(sizes[a], sizes[b], roots[a], roots[b],
                                            (const hash_t *)p, n) == 0);
            if (a != b)
                CHECK(merkle_verify_consistency(sizes[a], sizes[b], roots[b], roots[a],
                                                (const hash_t *)p, n) == -1);
            if (sizes[a] == 3 && sizes[b] == UINT64_MAX)
                CHECK(n == MERKLE_MAX_CONSISTENCY_HASHES);
            free(p);
        }

    /* The frontier reaches the very last leaf and no further. */
    merkle_frontier_t f;
    hash_t leaf, fr;
    CHECK(merkle_frontier_load(&f, UINT64_MAX - 1, &src) == 0);
    merkle_frontier_root(&f, fr);
    CHECK(memcmp(fr, roots[ns - 2], HB) == 0);
    s_virtual_leaf(UINT64_MAX - 1, leaf);
    CHECK(merkle_frontier_append(&f, leaf) == 0);
    merkle_frontier_root(&f, fr);
    CHECK(memcmp(fr, roots[ns - 1], HB) == 0);
    CHECK(merkle_frontier_append(&f, leaf) == -1);
}

/* ---- errors ---- */

static void test_errors(void)
{
    struct counter c = {LEAVES_MAX, 0, 17};
    hash_t out, *p = (hash_t *)1;
    size_t n = 5;
    CHECK(merkle_root(40, s_leaf_fn, &c, out) == -1);
    CHECK(merkle_inclusion_proof(3, 40, s_leaf_fn, &c, &p, &n) == -1 && p == NULL && n == 0);
    CHECK(merkle_consistency_proof(3, 40, s_leaf_fn, &c, &p, &n) == -1 && p == NULL && n == 0);
    CHECK(merkle_root(40, NULL, NULL, out) == -1);
    CHECK(merkle_root(0, NULL, NULL, out) == 0);
    CHECK(merkle_inclusion_proof(0, 1, NULL, NULL, &p, &n) == -1);
    CHECK(merkle_inclusion_proof(0, 1, s_leaf_fn, &c, NULL, &n) == -1);
    CHECK(merkle_consistency_proof(1, 2, s_leaf_fn, &c, &p, NULL) == -1);

    /* Oversized or missing proofs are refused before any hashing. */
    static hash_t big[MERKLE_MAX_CONSISTENCY_HASHES + 1];
    CHECK(merkle_verify_inclusion(0, 2, s_leaf[0], NULL, 1, s_root[2]) == -1);
    CHECK(merkle_verify_inclusion(0, 2, s_leaf[0], (const hash_t *)big,
                                  MERKLE_MAX_INCLUSION_HASHES + 1, s_root[2]) == -1);
    CHECK(merkle_verify_consistency(1, 2, s_root[1], s_root[2], NULL, 1) == -1);
    CHECK(merkle_verify_consistency(1, 2, s_root[1], s_root[2], (const hash_t *)big,
                                    MERKLE_MAX_CONSISTENCY_HASHES + 1) == -1);
    CHECK(merkle_verify_inclusion(0, 1, NULL, NULL, 0, s_root[1]) == -1);
    CHECK(merkle_verify_consistency(1, 1, s_root[1], NULL, NULL, 0) == -1);
}

/* ---- the shared vectors (transparency-dev/merkle testdata) ---- */

struct vec_stats {
    int files, good, refused, mismatches, broken;
    int malformed;      /* vectors holding a byte string that is not 32 bytes */
    int good_malformed; /* good vectors among them */
};

static int s_read_file(const char *path, char **text)
{
    FILE *fp = fopen(path, "rb");
    char *buf = NULL;
    size_t len = 0, cap = 0;
    if (!fp)
        return -1;
    for (;;) {
        if (len + 4096 + 1 > cap) {
            char *nb = cap + 8192 <= (1u << 20) ? realloc(buf, cap + 8192) : NULL;
            if (!nb)
                break;
            buf = nb;
            cap += 8192;
        }
        size_t got = fread(buf + len, 1, 4096, fp);
        len += got;
        if (got < 4096)
            break;
    }
    int ok = buf && !ferror(fp) && feof(fp);
    fclose(fp);
    if (!ok) {
        free(buf);
        return -1;
    }
    buf[len] = '\0';
    *text = buf;
    return 0;
}

static int s_is_number_char(char c)
{
    return (c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E';
}

/* jansson stores integers as json_int_t (long long) and rejects the vectors'
 * 18446744073709551615 ("leafIdx sub 1" from 0) outright, so every bare
 * number is turned into a string and parsed as uint64 by s_get_u64. */
static char *s_quote_numbers(const char *in)
{
    size_t len = strlen(in), o = 0;
    char *out = malloc(3 * len + 1); /* each number token grows by 2 chars */
    int in_str = 0, esc = 0;
    if (!out)
        return NULL;
    for (size_t i = 0; i < len;) {
        char ch = in[i];
        if (in_str) {
            if (esc)
                esc = 0;
            else if (ch == '\\')
                esc = 1;
            else if (ch == '"')
                in_str = 0;
            out[o++] = in[i++];
        } else if (ch == '-' || (ch >= '0' && ch <= '9')) { /* not the e of true */
            out[o++] = '"';
            while (i < len && s_is_number_char(in[i]))
                out[o++] = in[i++];
            out[o++] = '"';
        } else {
            in_str = ch == '"';
            out[o++] = in[i++];
        }
    }
    out[o] = '\0';
    return out;
}

static int s_get_u64(json_t *obj, const char *key, uint64_t *out)
{
    const char *s = json_string_value(json_object_get(obj, key));
    char *end = NULL;
    if (!s || *s < '0' || *s > '9')
        return -1;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0')
        return -1;
    *out = (uint64_t)v;
    return 0;
}

/* The vectors were written for Go's []byte API and mix real hashes with
 * short "don't care" and empty strings. Ours takes 32-byte hashes (moux's
 * decoder refuses anything else), so such a string is replaced by a stand-in
 * that no real hash equals, and the verifier must still reach the vector's
 * verdict on its own. A stand-in keeps equal strings of one kind equal (root
 * against root is what Go compares byte for byte) but never equals one of
 * another kind (Go refuses a short leaf hash before comparing it to a root):
 * kind is "leaf", "root" or "node". */
static int s_get_hash(json_t *v, const char *kind, uint8_t out[HB], int *malformed)
{
    static const char tag[] = "moux-test: not a 32-byte hash:";
    const char *s = json_string_value(v);
    if (!s)
        return -1;
    if (b64_decode_exact(s, out, HB) == 0)
        return 0;
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, (const uint8_t *)tag, sizeof tag - 1);
    crypto_hash_sha256_update(&st, (const uint8_t *)kind, strlen(kind) + 1);
    crypto_hash_sha256_update(&st, (const uint8_t *)s, strlen(s));
    crypto_hash_sha256_final(&st, out);
    *malformed = 1;
    return 0;
}

/* "proof" is null or an array of base64 strings. *proof has one spare slot
 * so an empty proof still gets a non-NULL pointer to free. */
static int s_get_proof(json_t *obj, hash_t **proof, size_t *n, int *malformed)
{
    json_t *arr = json_object_get(obj, "proof");
    size_t len = json_is_array(arr) ? json_array_size(arr) : 0;
    if (!arr || (!json_is_null(arr) && !json_is_array(arr)))
        return -1;
    *proof = calloc(len + 1, sizeof **proof);
    if (!*proof)
        return -1;
    for (size_t i = 0; i < len; i++)
        if (s_get_hash(json_array_get(arr, i), "node", (*proof)[i], malformed) != 0)
            return -1;
    *n = len;
    return 0;
}

/* Verifies one vector: 0 valid, -1 refused, -2 not understood. */
static int s_run_vector(json_t *v, int inclusion, int *malformed)
{
    uint64_t a, b;
    hash_t h1, h2, *proof = NULL;
    size_t n = 0;
    int rc = -2;
    const char *ka = inclusion ? "leafIdx" : "size1", *kb = inclusion ? "treeSize" : "size2";
    const char *k1 = inclusion ? "leafHash" : "root1", *k2 = inclusion ? "root" : "root2";
    if (s_get_u64(v, ka, &a) != 0 || s_get_u64(v, kb, &b) != 0 ||
        s_get_hash(json_object_get(v, k1), inclusion ? "leaf" : "root", h1, malformed) != 0 ||
        s_get_hash(json_object_get(v, k2), "root", h2, malformed) != 0 ||
        s_get_proof(v, &proof, &n, malformed) != 0)
        goto out;
    rc = inclusion ? merkle_verify_inclusion(a, b, h1, (const hash_t *)proof, n, h2)
                   : merkle_verify_consistency(a, b, h1, h2, (const hash_t *)proof, n);
out:
    free(proof);
    return rc;
}

/* wantErr vectors must be refused, the others accepted. */
static void s_judge_vector(const char *path, json_t *v, int inclusion, struct vec_stats *st)
{
    int want_err = json_is_true(json_object_get(v, "wantErr")), malformed = 0;
    int rc = s_run_vector(v, inclusion, &malformed);
    const char *desc = json_string_value(json_object_get(v, "desc"));
    st->malformed += malformed;
    if (rc == -2) {
        fprintf(stderr, "  %s: fields missing or not understood\n", path);
        st->broken++;
    } else if ((rc == 0) == !want_err) {
        if (want_err) {
            st->refused++;
        } else {
            st->good++;
            if (malformed) {
                st->good_malformed++;
                printf("     note: %s (%s) is good only because Go compares equal-size roots "
                       "as raw bytes; its roots are not 32 bytes\n",
                       path, desc ? desc : "?");
            }
        }
    } else {
        fprintf(stderr, "  %s (%s): wantErr %d but the verifier said %s\n", path,
                desc ? desc : "?", want_err, rc == 0 ? "valid" : "invalid");
        st->mismatches++;
    }
}

static void s_check_vector_file(const char *path, int inclusion, struct vec_stats *st)
{
    char *text = NULL, *quoted = NULL;
    json_t *v = NULL;
    json_error_t err;
    st->files++;
    if (s_read_file(path, &text) != 0 || !(quoted = s_quote_numbers(text)) ||
        !(v = json_loads(quoted, 0, &err)) || !json_is_boolean(json_object_get(v, "wantErr"))) {
        fprintf(stderr, "  %s: unreadable vector\n", path);
        st->broken++;
        goto out;
    }
    s_judge_vector(path, v, inclusion, st);
out:
    json_decref(v);
    free(quoted);
    free(text);
}

static int s_has_suffix(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* Every *.json below dir, at any depth (inclusion/additional/N/ nests). */
static void s_walk(const char *dir, int inclusion, struct vec_stats *st)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    if (!d) {
        fprintf(stderr, "  cannot open %s: %s\n", dir, strerror(errno));
        st->broken++;
        return;
    }
    while ((e = readdir(d)) != NULL) {
        char path[4096];
        struct stat sb;
        if (e->d_name[0] == '.')
            continue;
        int len = snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (len < 0 || (size_t)len >= sizeof path || stat(path, &sb) != 0) {
            st->broken++;
            continue;
        }
        if (S_ISDIR(sb.st_mode))
            s_walk(path, inclusion, st);
        else if (S_ISREG(sb.st_mode) && s_has_suffix(e->d_name, ".json"))
            s_check_vector_file(path, inclusion, st);
    }
    closedir(d);
}

static void s_run_vector_kind(const char *kind, int inclusion)
{
    struct vec_stats st = {0};
    char dir[256];
    snprintf(dir, sizeof dir, "%s/%s", VECTOR_DIR, kind);
    s_walk(dir, inclusion, &st);
    printf("     %s vectors: %d files: %d good accepted, %d bad refused (%d files hold "
           "byte strings that are not 32 bytes, %d of them good)\n",
           kind, st.files, st.good, st.refused, st.malformed, st.good_malformed);
    CHECK(st.files > 0); /* a missing ../shared is a failure, not a pass */
    CHECK(st.good > 0 && st.refused > 0);
    CHECK(st.good + st.refused == st.files);
    CHECK(st.mismatches == 0);
    CHECK(st.broken == 0);
}

static void test_vectors_inclusion(void)
{
    s_run_vector_kind("inclusion", 1);
}

static void test_vectors_consistency(void)
{
    s_run_vector_kind("consistency", 0);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    s_setup_leaves();
    RUN(test_hash_primitives);
    RUN(test_known_roots);
    RUN(test_vectors_inclusion);
    RUN(test_vectors_consistency);
    RUN(test_inclusion_exhaustive);
    RUN(test_consistency_exhaustive);
    RUN(test_frontier);
    RUN(test_node_source);
    RUN(test_huge_trees);
    RUN(test_errors);
    return TEST_DONE();
}
