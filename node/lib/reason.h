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

/* Per item. */
#define REASON_TYPE_NOT_ALLOWED "type-not-allowed"
#define REASON_TLP_NOT_ALLOWED "tlp-not-allowed"
#define REASON_INVALID_ITEM "invalid-item"
#define REASON_INVALID_VALUE "invalid-value"
#define REASON_ID_CONFLICT "id-conflict"
#define REASON_ORIGIN_MISMATCH "origin-mismatch"

#endif
