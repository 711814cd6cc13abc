/* Revocation lists: root-signed, versioned lists of revoked certificate
 * serials and node signing key ids (the RevocationList message). A node
 * keeps, per agency, the list with the highest number it has seen: an
 * older list replayed over a newer one is refused. On disk, one line
 * "moux-revocation-list <base64 RevocationList>\n". */
#ifndef MOUX_REVOCATION_H
#define MOUX_REVOCATION_H

#include "keyid.h"
#include "rootkey.h"

#include <stddef.h>
#include <stdint.h>

#define REVLIST_MAX_BYTES (256 * 1024)
#define REVLIST_MAX_ENTRIES 4096

typedef struct {
    char agency[65];
    unsigned char root_key_id[KEYID_BYTES];
    uint64_t number, issued_ms;
    uint64_t *serials;
    size_t n_serials;
    unsigned char (*key_ids)[KEYID_BYTES];
    size_t n_key_ids;
} revlist_t;

/* Signs l (root_key_id from root) into a serialised RevocationList; *out is
 * owned by the caller (free). Verified right after signing. */
int revlist_sign(const revlist_t *l, const rootkey_t *root, uint8_t **out, size_t *len);
/* Parses and checks form and signature by root_pk; fills *out (release with
 * revlist_free). -1 with "malformed-revocation-list", "wrong-root" or
 * "bad-revocation-signature". */
int revlist_verify(const uint8_t *data, size_t len, const unsigned char root_pk[32],
                   revlist_t *out, const char **why);
/* 1 if the list revokes this certificate serial or signing key id. */
int revlist_covers(const revlist_t *l, uint64_t serial, const unsigned char key_id[KEYID_BYTES]);
/* Adds a serial or key id (for building the next list); 0 or -1. */
int revlist_add_serial(revlist_t *l, uint64_t serial);
int revlist_add_key_id(revlist_t *l, const unsigned char key_id[KEYID_BYTES]);
void revlist_free(revlist_t *l);

int revlist_save(const char *path, const uint8_t *data, size_t len, char *err, size_t errlen);
int revlist_load(const char *path, uint8_t **data, size_t *len, char *err, size_t errlen);

#endif
