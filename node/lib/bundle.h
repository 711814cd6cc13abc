/* A node's public bundle: what one agency hands another, out of band, to
 * become partners. Text, one "key value" per line, self-signed by the node
 * signing key; its fingerprint is what the operators compare by phone.
 *
 *   moux-bundle 1
 *   agency vn.ais
 *   endpoint tcp://127.0.0.1:7101
 *   sign-key <base64 Ed25519 public key>
 *   enc-key <base64 X25519 public key>
 *   curve-key <base64 CURVE public key>
 *   signature <base64 Ed25519 over "moux/bundle/1" || all lines above>
 */
#ifndef MOUX_BUNDLE_H
#define MOUX_BUNDLE_H

#include "config.h"
#include "keyid.h"
#include "nodekeys.h"

typedef struct {
    char agency[AGENCY_MAX + 1];
    char endpoint[ENDPOINT_MAX];
    unsigned char sign_pk[32], enc_pk[32], curve_pk[32];
    unsigned char fp[FP_BYTES];
} bundle_t;

/* The bundle text for this node; caller owns *text (free). */
int bundle_make(const config_t *cfg, const nodekeys_t *keys, char **text);
/* Parses and verifies a bundle; errors name the source and line. */
int bundle_parse(const char *text, const char *source, bundle_t *out, char *err, size_t errlen);
/* SHA-256("moux/bundle-fp/1" || agency || 0x00 || sign || enc || curve). */
void bundle_fingerprint(const char *agency, const unsigned char sign_pk[32],
                        const unsigned char enc_pk[32], const unsigned char curve_pk[32],
                        unsigned char fp[FP_BYTES]);

#endif
