/* Client side of the control socket (ipc://DIR/control.sock). */
#ifndef MOUX_CTLCLIENT_H
#define MOUX_CTLCLIENT_H

#include <jansson.h>
#include <stddef.h>

/* 1 if a mouxd is running on DIR (it holds DIR/mouxd.lock). */
int ctl_running(const char *dir);
/* Sends req and waits up to timeout_ms for the reply. The reply is owned by
 * the caller (json_decref). NULL on failure, with the reason in err. A reply
 * with "ok": false is returned as is. */
json_t *ctl_call(const char *dir, json_t *req, int timeout_ms, char *err, size_t errlen);
/* As ctl_call, with body (body_len bytes, which may be 0) sent as the
 * request's second frame; a NULL body sends none. "publish" takes its items
 * there as a protobuf Batch. */
json_t *ctl_call_body(const char *dir, json_t *req, const void *body, size_t body_len,
                      int timeout_ms, char *err, size_t errlen);

#endif
