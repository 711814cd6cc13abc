/* RFC 6962 / RFC 9162 Merkle tree math for the audit log: leaf and node
 * hashes, tree roots, inclusion and consistency proofs (generation and
 * verification) and an incremental frontier for O(log n) appends.
 *
 * The tree never owns its leaves: it reads them through callbacks, so it can
 * sit on top of the store. Sizes and indices are uint64_t throughout and every
 * function is correct up to a tree of UINT64_MAX leaves.
 *
 * Hashes:  leaf = SHA-256(0x00 || entry)
 *          node = SHA-256(0x01 || left || right)
 *          root of the empty tree = SHA-256("")
 *
 * Return convention: 0 = ok / valid, -1 = error / invalid. */
#ifndef MOUX_MERKLE_H
#define MOUX_MERKLE_H

#include <stddef.h>
#include <stdint.h>

#define MERKLE_HASH_BYTES 32
/* The longest proof any tree of up to UINT64_MAX leaves can need: 64 hashes
 * for inclusion, 65 for consistency. A proof from the wire that is longer is
 * malformed; the verifiers refuse it before hashing anything. */
#define MERKLE_MAX_INCLUSION_HASHES 64
#define MERKLE_MAX_CONSISTENCY_HASHES 65

/* Writes the leaf hash of entry index into out. Returns 0, or nonzero on
 * failure (which the caller sees as -1). */
typedef int (*merkle_leaf_fn)(void *arg, uint64_t index, uint8_t out[MERKLE_HASH_BYTES]);

/* Optional: writes the root of the perfect subtree of 2^level leaves that
 * starts at leaf index << level (level >= 1). Returns 0 if it has it, 1 if it
 * does not (the tree then computes it from its two halves), -1 on failure.
 * With it, roots and proofs cost O(log n) reads instead of O(n). */
typedef int (*merkle_node_fn)(void *arg, unsigned level, uint64_t index,
                              uint8_t out[MERKLE_HASH_BYTES]);

typedef struct merkle_source {
    merkle_leaf_fn leaf; /* required whenever a leaf may be read */
    merkle_node_fn node; /* may be NULL */
    void *arg;           /* passed to both */
} merkle_source_t;

void merkle_leaf_hash(const uint8_t *entry, size_t len, uint8_t out[MERKLE_HASH_BYTES]);
void merkle_node_hash(const uint8_t left[MERKLE_HASH_BYTES], const uint8_t right[MERKLE_HASH_BYTES],
                      uint8_t out[MERKLE_HASH_BYTES]);
void merkle_empty_root(uint8_t out[MERKLE_HASH_BYTES]);

/* MTH of the first size leaves. With only a leaf callback this reads every
 * leaf once (O(n)); with a node callback it reads O(log n) subtree roots. */
int merkle_root(uint64_t size, merkle_leaf_fn fn, void *arg, uint8_t out[MERKLE_HASH_BYTES]);
int merkle_root_src(uint64_t size, const merkle_source_t *src, uint8_t out[MERKLE_HASH_BYTES]);

/* Audit path (RFC 6962 2.1.1) for leaf index in a tree of size leaves,
 * ordered from the leaf's sibling up to the root's child. Requires
 * index < size. On success *proof is malloc'd (caller frees; NULL when *n is
 * 0). On failure *proof = NULL and *n = 0.
 * Each proof hash is a subtree root; with only a leaf callback computing them
 * reads all size leaves (O(n)), with a node callback O(log n) reads. */
int merkle_inclusion_proof(uint64_t index, uint64_t size, merkle_leaf_fn fn, void *arg,
                           uint8_t (**proof)[MERKLE_HASH_BYTES], size_t *n);
int merkle_inclusion_proof_src(uint64_t index, uint64_t size, const merkle_source_t *src,
                               uint8_t (**proof)[MERKLE_HASH_BYTES], size_t *n);

/* A proof from merkle_*_proof is uint8_t (*)[32]; ISO C before C2x wants an
 * explicit cast to const uint8_t (*)[32] for the verifiers (GCC -pedantic
 * warns, plain -Wall -Wextra does not).
 *
 * RFC 9162 2.1.3.2. 0 if proof shows leaf_hash at index in the tree of size
 * leaves with the given root, -1 otherwise (including index >= size, a proof
 * of the wrong length, or proof == NULL with n > 0). Take size and root from
 * one signed checkpoint: the proof itself only fixes the path's shape, so it
 * also verifies for another size whose path has the same shape (index 0 of 3
 * and of 4 leaves), and the same holds for consistency proofs. */
int merkle_verify_inclusion(uint64_t index, uint64_t size,
                            const uint8_t leaf_hash[MERKLE_HASH_BYTES],
                            const uint8_t (*proof)[MERKLE_HASH_BYTES], size_t n,
                            const uint8_t root[MERKLE_HASH_BYTES]);

/* Consistency proof (RFC 6962 2.1.2) that the tree of size1 leaves is a
 * prefix of the tree of size2 leaves. Requires 0 < size1 <= size2 (the proof
 * for size1 == size2 is empty). Ownership as for merkle_inclusion_proof. */
int merkle_consistency_proof(uint64_t size1, uint64_t size2, merkle_leaf_fn fn, void *arg,
                             uint8_t (**proof)[MERKLE_HASH_BYTES], size_t *n);
int merkle_consistency_proof_src(uint64_t size1, uint64_t size2, const merkle_source_t *src,
                                 uint8_t (**proof)[MERKLE_HASH_BYTES], size_t *n);

/* RFC 9162 2.1.4.2, plus the equal-size case: 0 if the proof shows root1
 * (size1) is a prefix of root2 (size2), -1 otherwise. size1 == size2 is valid
 * only with an empty proof and root1 == root2. size1 == 0 is always refused:
 * the empty tree is a prefix of every tree, so there is nothing to prove and
 * a caller that accepts it has skipped a check it meant to make. */
int merkle_verify_consistency(uint64_t size1, uint64_t size2,
                              const uint8_t root1[MERKLE_HASH_BYTES],
                              const uint8_t root2[MERKLE_HASH_BYTES],
                              const uint8_t (*proof)[MERKLE_HASH_BYTES], size_t n);

/* The compact range [0, size): one perfect subtree root per set bit of size.
 * Appending is O(1) amortized, O(log n) worst case; the root is O(log n). */
typedef struct merkle_frontier {
    uint64_t size;
    /* nodes[l] is the root of the perfect subtree of 2^l leaves in the
     * range, valid only when bit l of size is set. */
    uint8_t nodes[64][MERKLE_HASH_BYTES];
} merkle_frontier_t;

void merkle_frontier_init(merkle_frontier_t *f);
/* Rebuilds the frontier of the first size leaves from a source: O(log n)
 * reads with a node callback, O(n) with leaves only (once, at start-up). */
int merkle_frontier_load(merkle_frontier_t *f, uint64_t size, const merkle_source_t *src);
/* -1 (frontier unchanged) if the tree already holds UINT64_MAX leaves. */
int merkle_frontier_append(merkle_frontier_t *f, const uint8_t leaf_hash[MERKLE_HASH_BYTES]);
void merkle_frontier_root(const merkle_frontier_t *f, uint8_t out[MERKLE_HASH_BYTES]);
uint64_t merkle_frontier_size(const merkle_frontier_t *f);

#endif
