/* Termination notices: a party ends an MOU with a notice signed by its
 * agency root (Ed25519 over "moux/mou-notice/1" || MouNoticeBody). The node
 * that terminates sends it to the other party on the link until that party
 * holds it; either node checks it against the root it has pinned for the
 * party that signed. docs/PROTOCOL.md §7 is the reference. */
#ifndef MOUX_MOUNOTICE_H
#define MOUX_MOUNOTICE_H

#include "config.h"
#include "mou.h"
#include "rootkey.h"

#include <stddef.h>
#include <stdint.h>

#define MOU_NOTICE_VERSION 1
#define MOU_NOTICE_REASON_MAX 200
#define MOU_NOTICE_MAX_BYTES 1024 /* a longer serialised notice is refused */

typedef struct {
    char agency[AGENCY_MAX + 1];            /* the terminating party */
    unsigned char root_key_id[KEYID_BYTES];
    char mou_id[MOU_ID_MAX + 1];
    unsigned char mou_hash[MOU_HASH_BYTES];
    uint64_t effective_ms;
    char reason[MOU_NOTICE_REASON_MAX + 1]; /* printable ASCII */
} mou_notice_t;

/* Signs n with root (root_key_id is taken from root) into a serialised
 * MouNotice; *out is the caller's (free). 0, or -1 with why. */
int mou_notice_sign(const mou_notice_t *n, const rootkey_t *root, uint8_t **out, size_t *len,
                    const char **why);
/* Parses a serialised MouNotice and checks its form (version, sizes,
 * agency id, printable reason) without checking the signature. */
int mou_notice_parse(const uint8_t *raw, size_t len, mou_notice_t *n, const char **why);
/* mou_notice_parse, then the signature against root_pk, whose key id must
 * be the notice's. 0 when valid, else -1 with why. */
int mou_notice_verify(const uint8_t *raw, size_t len, const unsigned char root_pk[32],
                      mou_notice_t *n, const char **why);

#endif
