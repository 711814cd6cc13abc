/* The MOU (memorandum of understanding) as a document: the text format, a
 * strict parser, detached signatures by the parties' agency roots, and the
 * queries the policy engine makes per direction. docs/MOU.md is the
 * reference for the format; this header is the reference for the API.
 *
 * Life of an MOU on a node (activation and enforcement are elsewhere):
 *   read the exact file bytes (mou_read_file), mou_parse them (the mou_t
 *   keeps their SHA-256, the MOU hash); check both parties' signature lines
 *   with mou_verify_sig against the roots the node has pinned; check
 *   mou_valid_at(now); then ask mou_direction(m, from, to) for every item.
 *
 * A parsed mou_t is immutable and owns no outside memory: share it
 * read-only between threads, free it with mou_destroy. */
#ifndef MOUX_MOU_H
#define MOUX_MOU_H

#include "config.h"
#include "indicator.h"
#include "keyid.h"
#include "rootkey.h"
#include "tlp.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define MOU_VERSION 1
#define MOU_MAX_BYTES 65536      /* a longer file is refused unparsed */
#define MOU_LINE_MAX 4096        /* bytes per line, without the '\n' */
#define MOU_ID_MAX 128
#define MOU_TITLE_MAX 200
#define MOU_LABEL_MAX 64         /* one purpose label */
#define MOU_MAX_PURPOSES 16
#define MOU_MAX_ONWARD 32        /* agencies named by "onward: agencies ..." */
#define MOU_RETENTION_MAX 3650   /* days */
#define MOU_DAILY_LIMIT_MAX 1000000000u
#define MOU_ALL_TYPES ((1u << IND_TYPE_COUNT) - 1)

#define MOU_HASH_BYTES 32
#define MOU_HASH_HEX 65          /* 64 lowercase hex digits + NUL */

/* Signatures: Ed25519(root_sk, MOU_SIG_CONTEXT || SHA-256(exact file bytes)),
 * one line "moux-mou-sig 1 <agency> <base64 root pk> <base64 sig>\n". */
#define MOU_SIG_CONTEXT "moux/mou/1"
#define MOU_SIG_LABEL "moux-mou-sig"
#define MOU_SIG_LINE_MAX 256     /* the longest line is 214 bytes */

typedef struct mou mou_t;

/* Direction indexes: party-a to party-b ([a-to-b]) and back ([b-to-a]). */
#define MOU_A_TO_B 0
#define MOU_B_TO_A 1

typedef enum {
    MOU_ONWARD_NONE = 0, /* the recipient never passes items on */
    MOU_ONWARD_TLP,      /* as TLP 2.0 allows */
    MOU_ONWARD_AGENCIES  /* only to onward_agencies, and only as TLP 2.0 allows */
} mou_onward_t;

/* One direction: what `from` may send to `to`, and what `to` may do with it. */
typedef struct {
    char from[AGENCY_MAX + 1];
    char to[AGENCY_MAX + 1];
    unsigned line;                 /* line of its [a-to-b] / [b-to-a] header */
    uint32_t types;                /* bit (1u << ind_type_t) per type that may flow */
    tlp_t max_tlp;                 /* items with tlp <= max_tlp may flow */
    mou_onward_t onward;
    char onward_agencies[MOU_MAX_ONWARD][AGENCY_MAX + 1];
    size_t n_onward;               /* > 0 exactly when onward == MOU_ONWARD_AGENCIES */
    int anonymise;                 /* 1: the sender removes origin (and hops) before sending */
    uint32_t retention_days;       /* the recipient deletes items this many days after receipt */
    uint32_t min_confidence;       /* items with confidence >= this may flow (0-100) */
    char purposes[MOU_MAX_PURPOSES][MOU_LABEL_MAX + 1];
    size_t n_purposes;             /* 0: any item; else it must carry at least one of them */
    uint64_t daily_limit;          /* items per UTC day in this direction; 0: no limit */
    int receipts_required;         /* 1: "receipts: required" */
} mou_dir_t;

/* ---- parsing ---- */

/* Parses text[0..len) (need not be NUL terminated). source names the text
 * in errors (a path; NULL: "MOU"). On success returns 0 and *out (caller
 * owns it); on failure returns -1 and err holds the first error as
 * "SOURCE:LINE: FIELD: what is wrong" (FIELD is a key or a section; a few
 * line-level errors have no field). */
int mou_parse(const char *text, size_t len, const char *source, mou_t **out, char *err,
              size_t errlen);
/* Reads a whole MOU file (a regular file, at most MOU_MAX_BYTES) into a
 * malloc'd buffer (*text, NUL terminated for convenience; *len excludes
 * the NUL). 0, or -1 with "PATH: reason" in err. */
int mou_read_file(const char *path, char **text, size_t *len, char *err, size_t errlen);
/* mou_read_file + mou_parse, naming errors after path. */
int mou_load(const char *path, mou_t **out, char *err, size_t errlen);
void mou_destroy(mou_t **self_p);

/* ---- the document ---- */

const char *mou_id(const mou_t *self);
const char *mou_title(const mou_t *self);
/* Party i (0: party-a, 1: party-b): agency id, root fingerprint (FP_BYTES)
 * and its canonical text. NULL for any other i. */
const char *mou_party(const mou_t *self, int i);
const unsigned char *mou_party_fp(const mou_t *self, int i);
const char *mou_party_fp_text(const mou_t *self, int i);
/* 0 or 1 when agency is a party, else -1. */
int mou_party_index(const mou_t *self, const char *agency);
/* The other party's agency id, or NULL when agency is not a party. */
const char *mou_peer_of(const mou_t *self, const char *agency);
uint64_t mou_effective_ms(const mou_t *self);
uint64_t mou_expires_ms(const mou_t *self);
/* 1 when effective <= now < expires; else 0 and why ("not yet effective
 * (effective 2026-01-01T00:00:00.000Z)", "expired (2027-...)"). why may be NULL. */
int mou_valid_at(const mou_t *self, uint64_t now, char *why, size_t whylen);

/* The MOU hash: SHA-256 of the exact bytes parsed. Both nodes announce and
 * compare it; signatures are over it. */
void mou_hash(const char *text, size_t len, unsigned char out[MOU_HASH_BYTES]);
const unsigned char *mou_hash_bytes(const mou_t *self);
const char *mou_hash_hex(const mou_t *self); /* 64 lowercase hex digits */

/* ---- directions ---- */

/* Direction index (MOU_A_TO_B, MOU_B_TO_A), or NULL when the MOU has no such
 * section (one-way agreement) or index is out of range. */
const mou_dir_t *mou_dir(const mou_t *self, int index);
/* What may flow from `from` to `to`: NULL unless from and to are the two
 * parties in that order and that direction is in the MOU. NULL means
 * nothing at all may flow that way. */
const mou_dir_t *mou_direction(const mou_t *self, const char *from, const char *to);

/* The per-item checks of a direction, in this order. */
typedef enum {
    MOU_ITEM_OK = 0,
    MOU_ITEM_TYPE,       /* type not in "types" */
    MOU_ITEM_TLP,        /* tlp above "max-tlp" */
    MOU_ITEM_CONFIDENCE, /* confidence below "min-confidence" */
    MOU_ITEM_PURPOSE     /* none of the item's labels is one of "purposes" */
} mou_item_t;

/* Checks one item against a direction (not anonymisation, volume, onward
 * or retention, which are not properties of the item). labels may be NULL
 * when n_labels is 0. */
mou_item_t mou_dir_check_item(const mou_dir_t *d, ind_type_t type, tlp_t tlp,
                              uint32_t confidence, const char *const *labels, size_t n_labels);
/* The MOU key a verdict refers to ("types", "max-tlp", "min-confidence",
 * "purposes"; "" for MOU_ITEM_OK). */
const char *mou_item_field(mou_item_t verdict);
/* 1 when the recipient of d (d->to) may pass items received under d on to
 * agency: never under "none"; under "tlp" always (TLP 2.0 still decides per
 * item); under "agencies" only to a named one (and TLP still decides). */
int mou_dir_onward_allowed(const mou_dir_t *d, const char *agency);
/* "none", "tlp", "agencies". */
const char *mou_onward_name(mou_onward_t onward);
/* "all" or the type names joined by ", ". */
void mou_types_format(uint32_t types, char *out, size_t cap);

/* The whole MOU as JSON: id, title, hash, parties, effective/expires (text
 * and ms), in_force at now (with why when not), and directions (absent
 * ones omitted). Caller owns the result; NULL when out of memory. */
json_t *mou_to_json(const mou_t *self, uint64_t now);

/* ---- signatures ---- */

/* Signs the MOU with an agency root key. The root must be a party's root:
 * agency (NULL: whichever party states this root's fingerprint) must be a
 * party and its root fingerprint in the MOU must be the root's. Writes the
 * signature line (with its '\n', NUL terminated) into line and the party
 * index into *party (may be NULL). root_name names the key in errors
 * (NULL: "the root key"). 0, or -1 with the reason in err, e.g.
 * "KEYFILE is not party-a vn.ais's root (fingerprint X, the MOU says Y)". */
int mou_sign(const mou_t *self, const rootkey_t *root, const char *agency,
             const char *root_name, char *line, size_t cap, int *party, char *err,
             size_t errlen);

/* Parses a signature line without checking it against anything: exactly
 * "moux-mou-sig 1 AGENCY PK SIG\n" and nothing else. 0, or -1 with why. */
int mou_sig_parse(const char *line, size_t len, char agency[AGENCY_MAX + 1],
                  unsigned char pk[32], unsigned char sig[64], char *why, size_t whylen);

/* Checks a signature line against the MOU: it parses, names a party, its
 * root key has the root fingerprint the MOU states for that party, and the
 * signature verifies over the MOU hash. When pinned is non-NULL, pinned[i]
 * (NULL: no pin to compare) must also equal party i's signing root: pass
 * the roots the node has pinned. *party (may be NULL) is the party the
 * line names (-1 if none), set even on failure. 0 when valid, else -1 with
 * why. */
int mou_verify_sig(const mou_t *self, const char *line, size_t len,
                   const unsigned char *const *pinned, int *party, char *why, size_t whylen);

/* Reads a signature file (one line, at most MOU_SIG_LINE_MAX bytes) into
 * line (NUL terminated), its length into *len. 0; -1 with "PATH: reason";
 * 1 when the file does not exist (err says so). */
int mou_sig_read(const char *path, char *line, size_t cap, size_t *len, char *err,
                 size_t errlen);
/* The default signature file of a party: "MOUPATH.AGENCY.sig". -1 if it does
 * not fit. */
int mou_sig_path(const char *mou_path, const char *agency, char *out, size_t cap);

/* The roots node DIR has pinned for the MOU's parties: for its own agency
 * the root in DIR/keys/root.pub, for a partner the root in the partner
 * table. pinned[i] is 1 and pk[i] filled when party i has a pinned root,
 * 0 otherwise (not a partner; own root not yet written). own (may be NULL)
 * gets the node's agency id. 0, or -1 with err (no configuration, store). */
int mou_node_pins(const char *dir, const mou_t *self, unsigned char pk[2][32], int pinned[2],
                  char own[AGENCY_MAX + 1], char *err, size_t errlen);

#endif
