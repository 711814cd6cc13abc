/* Serialising a protobuf message into a buffer of its own: for frames we
 * send, and for the signed parts of a received frame that are re-serialised
 * to be checked (their signed body bytes are kept exactly). */
#ifndef MOUX_PBPACK_H
#define MOUX_PBPACK_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>
#include <stdint.h>

/* m serialised into a fresh buffer (caller frees) of *len bytes; NULL when
 * out of memory. */
uint8_t *pb_pack(const ProtobufCMessage *m, size_t *len);

#endif
