/* A node's public bundle: what one agency hands another, out of band, to
 * become partners. Text, one "key value" per line:
 *
 *   moux-bundle 2
 *   agency vn.ais
 *   endpoint tcp://127.0.0.1:7101
 *   root-key <base64 agency root public key, 32 bytes>
 *   certificate <base64 NodeCert signed by that root>
 *
 * Leading "#" lines are comments. Nothing else signs the bundle: the root
 * signs the certificate, which names the agency, the endpoint and the node
 * keys, and the two lines above must agree with it. What operators compare
 * by phone is the root fingerprint, which they also write into the MOU. */
#ifndef MOUX_BUNDLE_H
#define MOUX_BUNDLE_H

#include "cert.h"
#include "config.h"
#include "keyid.h"

#include <stdint.h>

typedef struct {
    char agency[AGENCY_MAX + 1];
    char endpoint[ENDPOINT_MAX];
    unsigned char root_pk[32];
    unsigned char fp[FP_BYTES];  /* root fingerprint */
    cert_t cert;                 /* verified against root_pk (not for time) */
    uint8_t *cert_raw;           /* owned: bundle_free */
    size_t cert_len;
} bundle_t;

/* The bundle text for this node; caller owns *text (free). */
int bundle_make(const config_t *cfg, const unsigned char root_pk[32], const uint8_t *cert,
                size_t cert_len, char **text);
/* Parses a bundle and verifies its certificate against its root key;
 * errors name the source and line. Release with bundle_free. */
int bundle_parse(const char *text, const char *source, bundle_t *out, char *err, size_t errlen);
void bundle_free(bundle_t *b);

#endif
