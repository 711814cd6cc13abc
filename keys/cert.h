/* Node certificates: the agency root key binds a node's agency id, its
 * signing, encryption and transport public keys, its endpoint, a serial
 * and a validity window (the NodeCert message, docs/KEYS.md). On disk,
 * DIR/keys/node.cert holds one line "moux-node-cert <base64 NodeCert>\n". */
#ifndef MOUX_CERT_H
#define MOUX_CERT_H

#include "keyid.h"
#include "rootkey.h"

#include <stddef.h>
#include <stdint.h>

#define CERT_AGENCY_MAX 64
#define CERT_ENDPOINT_MAX 256
#define CERT_MAX_BYTES 4096 /* larger serialised certificates are refused */
#define CERT_DEFAULT_DAYS 30

typedef struct {
    char agency[CERT_AGENCY_MAX + 1];
    char endpoint[CERT_ENDPOINT_MAX];
    unsigned char root_key_id[KEYID_BYTES];
    unsigned char sign_pk[32], enc_pk[32], curve_pk[32];
    uint64_t serial, not_before_ms, not_after_ms;
} cert_t;

/* Signs c (root_key_id is taken from root) into a serialised NodeCert;
 * *out is owned by the caller (free). The signature is verified right after
 * it is made. */
int cert_issue(const cert_t *c, const rootkey_t *root, uint8_t **out, size_t *len);
/* Parses a serialised NodeCert and checks its form and its signature by
 * root_pk (and that root_key_id names root_pk). Time and revocation are the
 * caller's: see cert_check_time. On failure -1 and a reason code in *why:
 * "malformed-certificate", "wrong-root", "bad-certificate-signature". */
int cert_verify(const uint8_t *data, size_t len, const unsigned char root_pk[32], cert_t *out,
                const char **why);
/* 0 inside [not_before, not_after]; else -1 with "certificate-not-yet-valid"
 * or "certificate-expired". */
int cert_check_time(const cert_t *c, uint64_t now_ms, const char **why);

int cert_save(const char *path, const uint8_t *data, size_t len, char *err, size_t errlen);
/* *data owned by the caller (free). */
int cert_load(const char *path, uint8_t **data, size_t *len, char *err, size_t errlen);

#endif
