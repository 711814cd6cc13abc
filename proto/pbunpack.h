/* Unpacking a message that came from outside: the wire bytes are checked
 * first for what protobuf-c would let through altered. protobuf-c hands
 * strings out as C strings, so a string holding a NUL byte would be cut at
 * it, and what the node stores, compares or relays would not be what was
 * signed. A message with such a string, in it or in any message nested in
 * it, is refused like any malformed one (PROTOCOL.md 4). Bytes fields are
 * not looked into: a signed body carried as bytes is checked when it is
 * unpacked in turn. */
#ifndef MOUX_PBUNPACK_H
#define MOUX_PBUNPACK_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>
#include <stdint.h>

/* Messages nest at most this deep (the schema nests two: Frame, KeyUpdate,
 * NodeCert). */
#define PB_NEST_MAX 16

/* 0 when no string field of the message, at any depth, holds a NUL byte;
 * -1 when one does, or the bytes are not a well-formed message. */
int pb_strings_clean(const ProtobufCMessageDescriptor *desc, const uint8_t *data, size_t len);

/* protobuf_c_message_unpack after pb_strings_clean; NULL if either fails. */
ProtobufCMessage *pb_unpack(const ProtobufCMessageDescriptor *desc, ProtobufCAllocator *alloc,
                            size_t len, const uint8_t *data);

#endif
