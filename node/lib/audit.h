/* The audit log as a whole (docs/AUDIT.md): signing checkpoints of it,
 * verifying every entry and checkpoint, and inclusion proofs an outside
 * auditor checks with nothing but the proof file and the agency's root
 * fingerprint. Entries are appended by store_audit_append (store.h). */
#ifndef MOUX_AUDIT_H
#define MOUX_AUDIT_H

#include "checkpoint.h"
#include "keyid.h"
#include "store.h"

#include <jansson.h>
#include <stdint.h>

#define AUDIT_PROOF_FORMAT "moux-audit-proof 1"

/* Signs a checkpoint of the log as it is now and stores it, unless the
 * newest one already has this size (then *size is that one's and 0 is
 * returned without signing). 1 signed, 0 nothing new, -1 error. */
int audit_checkpoint(store_t *st, const char *agency, const unsigned char sign_pk[32],
                     const unsigned char *sign_sk, uint64_t *size);

/* Recomputes the whole log: every entry's bytes against its columns and its
 * index, every leaf hash, and the root at every stored checkpoint, whose
 * signature must verify with a signing key this node has had. Each problem
 * is passed to problem() naming the entry (or the checkpoint). Returns the
 * number of problems (0: intact), or -1 when the store cannot be read. */
long audit_verify(store_t *st, void (*problem)(void *arg, uint64_t index, const char *what),
                  void *arg, uint64_t *entries, uint64_t *checkpoints);

/* An inclusion proof for entry index (docs/AUDIT.md §5), under the smallest
 * checkpoint that covers it. NULL with err when there is none, or the
 * entry does not exist. root_pk: the node's agency root (DIR/keys/root.pub). */
json_t *audit_prove(store_t *st, uint64_t index, const unsigned char root_pk[32], char *err,
                    size_t errlen);

/* Checks a proof offline against the agency's root fingerprint: the root
 * key it carries has that fingerprint, the node certificate is the root's,
 * the checkpoint is signed by the certified key within its validity, and
 * the entry is in the checkpoint's tree. 0 with *entry (borrowed from
 * proof) and *cp; -1 with why. */
int audit_check(const json_t *proof, const unsigned char fp[FP_BYTES], const char **entry,
                checkpoint_t *cp, char *why, size_t whylen);

/* Adds one item to a {"TYPE": {"TLP": n}} tally (share and receipt
 * entries carry one, for reports by type and TLP). */
void audit_count_item(json_t *by_type, const char *type, int tlp);

#endif
