/* This node's certified identity: its key set, the certificate its agency
 * root issued for it (DIR/keys/node.cert) and that root's public key
 * (DIR/keys/root.pub). The root's secret key is never needed here. */
#ifndef MOUX_IDENTITY_H
#define MOUX_IDENTITY_H

#include "cert.h"
#include "config.h"
#include "nodekeys.h"
#include "rootkey.h"

typedef struct {
    nodekeys_t *keys;
    cert_t cert;
    uint8_t *cert_raw;
    size_t cert_len;
    unsigned char root_pk[32];
} identity_t;

#define ROOT_PUB_LABEL "moux-root-public"

/* Loads BASE/keys/ (BASE is the node directory, or DIR/next while a
 * rotation is pending) and checks that the certificate chains to root.pub,
 * names cfg's agency and certifies exactly these keys. Time is the
 * caller's (cert_check_time). Caller owns the result. */
identity_t *identity_load(const char *base, const config_t *cfg, char *err, size_t errlen);
void identity_destroy(identity_t **self_p);

/* Issues a certificate for keys (saved under BASE/keys/) signed by root,
 * valid from 5 minutes ago until not_after_ms, with serial (0: one more than
 * the certificate already there, or 1), and installs node.cert and root.pub
 * there. A root.pub already there must hold the same key. */
int identity_certify(const char *base, const config_t *cfg, const nodekeys_t *keys,
                     const rootkey_t *root, uint64_t not_after_ms, uint64_t serial,
                     cert_t *out, char *err, size_t errlen);

/* How many retired key sets of node DIR still hold their signing secret
 * (a rotation overlap is on, or a set was left from one). Which of them is
 * the previous set in use is the daemon's to choose, by the retirements on
 * record in its store (keyupdate.c). */
size_t identity_retired_held(const char *dir);
/* Deletes the secret halves (sign.sec, enc.sec, curve.sec) of the key set in
 * directory SET; its public keys and certificate stay, so that what it
 * signed stays verifiable. -1 with err set if one could not be deleted. */
int identity_wipe_secrets(const char *set, char *err, size_t errlen);
/* Calls fn for each retired key set of node DIR that still holds its signing
 * secret (any_secret: any of its three secret keys), with the set's
 * directory and that directory's time (ns). */
void identity_retired_each(const char *dir, int any_secret,
                           void (*fn)(const char *set, uint64_t ns, void *arg), void *arg);
/* The certificate of the retired key set in directory SET, checked against
 * the set's own root.pub (not against time or the node's configuration). */
int identity_retired_cert(const char *set, cert_t *out, char *err, size_t errlen);

#endif
