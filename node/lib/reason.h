/* Stable reason codes for refusals. They appear in receipts, logs and the
 * event table, and docs/PROTOCOL.md lists them; never renumber or rename. */
#ifndef MOUX_REASON_H
#define MOUX_REASON_H

#define REASON_MALFORMED_FRAME "malformed-frame"
#define REASON_MALFORMED_HEADER "malformed-header"
#define REASON_UNSUPPORTED_VERSION "unsupported-version"
#define REASON_SENDER_MISMATCH "sender-mismatch"
#define REASON_WRONG_RECIPIENT "wrong-recipient"
#define REASON_UNKNOWN_SENDER_KEY "unknown-sender-key"
#define REASON_WRONG_RECIPIENT_KEY "wrong-recipient-key"
#define REASON_STALE_TIMESTAMP "stale-timestamp"
#define REASON_SEQUENCE_REPLAYED "sequence-replayed"
#define REASON_BAD_CIPHERTEXT "bad-ciphertext"
#define REASON_BAD_SIGNATURE "bad-signature"
#define REASON_MALFORMED_PAYLOAD "malformed-payload"
#define REASON_ITEM_COUNT "item-count-mismatch"
#define REASON_TOO_MANY_ITEMS "too-many-items"
#define REASON_STORE_FAILED "store-failed"
#define REASON_REVOKED_KEY "revoked-key"
#define REASON_RETIRED_KEY "retired-key"
#define REASON_CERT_EXPIRED "certificate-expired"
#define REASON_MOU_MISMATCH "mou-mismatch"         /* header names another MOU than ours */
#define REASON_NO_MOU "no-mou"                     /* no active MOU with the partner */
#define REASON_MOU_NOT_IN_FORCE "mou-not-in-force" /* before effective, or expired */

/* Per item. */
#define REASON_TYPE_NOT_ALLOWED "type-not-allowed"
#define REASON_TLP_NOT_ALLOWED "tlp-not-allowed"
#define REASON_INVALID_ITEM "invalid-item"
#define REASON_INVALID_VALUE "invalid-value"
#define REASON_ID_CONFLICT "id-conflict"
#define REASON_ORIGIN_MISMATCH "origin-mismatch"
/* Per item, by the MOU (docs/MOU.md §10). */
#define REASON_DIRECTION_NOT_AGREED "direction-not-agreed"
#define REASON_CONFIDENCE_TOO_LOW "confidence-too-low"
#define REASON_PURPOSE_MISSING "purpose-missing"
#define REASON_NOT_ANONYMISED "not-anonymised"
#define REASON_DAILY_LIMIT "daily-limit"
#define REASON_LOOP "loop"
/* Relays only (recorded, never on the wire). */
#define REASON_ONWARD_NOT_ALLOWED "onward-not-allowed"
#define REASON_TLP_FORBIDS_ONWARD "tlp-forbids-onward"
#define REASON_ALREADY_HOLDS "already-holds"
/* Checkpoint witnessing (CheckpointAck.refused). */
#define REASON_NEED_CONSISTENCY "need-consistency-proof"
#define REASON_INCONSISTENT_CHECKPOINT "inconsistent-checkpoint"
#define REASON_BAD_CHECKPOINT "bad-checkpoint"

#endif
