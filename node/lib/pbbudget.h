/* Decoding hostile protobuf with a memory budget. protobuf-c allocates per
 * field while unpacking, so a small frame of many empty or unknown fields can
 * cost a hundred times its size; every decode of wire bytes goes through an
 * allocator that refuses to grow past a budget, and the decode then fails
 * like any malformed input. */
#ifndef MOUX_PBBUDGET_H
#define MOUX_PBBUDGET_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>

/* Budget for decoding one message from a partner: a few times the largest
 * frame is plenty for honest input. */
#define PB_BUDGET_BYTES (16u * 1024 * 1024)

typedef struct {
    ProtobufCAllocator allocator; /* pass &self->allocator to unpack and free */
    size_t used, limit;
} pbbudget_t;

void pbbudget_init(pbbudget_t *self, size_t limit);

#endif
