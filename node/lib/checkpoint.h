/* Signed checkpoints of a node's audit log (docs/AUDIT.md §3): the log's
 * agency, the signing key's id, the tree size and root, and the time,
 * signed with the node's Ed25519 key; and a partner's countersignature of
 * one (it witnessed it consistent with every earlier one it saw). */
#ifndef MOUX_CHECKPOINT_H
#define MOUX_CHECKPOINT_H

#include "config.h"
#include "keyid.h"

#include <stddef.h>
#include <stdint.h>

#define CHECKPOINT_VERSION 1
#define CHECKPOINT_MAX_BYTES 512

typedef struct {
    char log[AGENCY_MAX + 1];
    unsigned char signer_key_id[KEYID_BYTES];
    uint64_t size;
    uint8_t root[32];
    uint64_t timestamp_ms;
} checkpoint_t;

/* Serialises and signs c (signer_key_id taken from sign_pk) into a
 * SignedCheckpoint; *out is the caller's (free). 0, or -1. */
int checkpoint_sign(const checkpoint_t *c, const unsigned char sign_pk[32],
                    const unsigned char *sign_sk, uint8_t **out, size_t *len);
/* Parses a SignedCheckpoint without checking its signature. 0, or -1 and why. */
int checkpoint_parse(const uint8_t *raw, size_t len, checkpoint_t *c, const char **why);
/* Parses and checks the signature with sign_pk (whose key id it must name). */
int checkpoint_verify(const uint8_t *raw, size_t len, const unsigned char sign_pk[32],
                      checkpoint_t *c, const char **why);
/* A witness's countersignature over the checkpoint's body. */
int checkpoint_countersign(const uint8_t *raw, size_t len, const unsigned char *sign_sk,
                           uint8_t sig[64]);
int checkpoint_countersig_verify(const uint8_t *raw, size_t len, const unsigned char pk[32],
                                 const uint8_t sig[64]);

#endif
