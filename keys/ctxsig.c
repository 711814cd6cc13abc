#include "ctxsig.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

static uint8_t *s_join(const char *context, const uint8_t *data, size_t len, size_t *out_len)
{
    size_t ctx = strlen(context);
    uint8_t *buf = malloc(ctx + len + 1);
    if (!buf)
        return NULL;
    memcpy(buf, context, ctx);
    if (len)
        memcpy(buf + ctx, data, len);
    *out_len = ctx + len;
    return buf;
}

int ctxsig_sign(const char *context, const uint8_t *data, size_t len, const unsigned char *sk,
                uint8_t sig[64])
{
    size_t n = 0;
    uint8_t *msg = s_join(context, data, len, &n);
    if (!msg)
        return -1;
    crypto_sign_detached(sig, NULL, msg, n, sk);
    free(msg);
    return 0;
}

int ctxsig_verify(const char *context, const uint8_t *data, size_t len,
                  const unsigned char pk[32], const uint8_t sig[64])
{
    size_t n = 0;
    uint8_t *msg = s_join(context, data, len, &n);
    if (!msg)
        return -1;
    int rc = crypto_sign_verify_detached(sig, msg, n, pk);
    free(msg);
    return rc == 0 ? 0 : -1;
}
