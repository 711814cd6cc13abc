#include "pbunpack.h"

#include <string.h>

static int s_varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
    uint64_t r = 0;
    for (unsigned shift = 0; shift < 64 && *p < end; shift += 7) {
        uint8_t b = *(*p)++;
        r |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *v = r;
            return 0;
        }
    }
    return -1; /* truncated, or longer than ten bytes */
}

static int s_clean(const ProtobufCMessageDescriptor *desc, const uint8_t *p, const uint8_t *end,
                   int depth)
{
    if (depth > PB_NEST_MAX)
        return -1;
    const ProtobufCFieldDescriptor *f = NULL, *last = desc->fields + desc->n_fields;
    while (p < end) {
        uint64_t key = 0, len = 0;
        if (s_varint(&p, end, &key) != 0)
            return -1;
        switch (key & 7) {
        case 0: /* varint */
            if (s_varint(&p, end, &len) != 0)
                return -1;
            break;
        case 1: /* 64-bit */
            if (end - p < 8)
                return -1;
            p += 8;
            break;
        case 5: /* 32-bit */
            if (end - p < 4)
                return -1;
            p += 4;
            break;
        case 2: { /* length-delimited: a string, bytes, a message or a packed array */
            if (s_varint(&p, end, &len) != 0 || len > (uint64_t)(end - p))
                return -1;
            /* Fields mostly come in the order the schema declares them: try
             * the one after the last before searching. */
            uint64_t num = key >> 3;
            if (!(f && f->id == num) && !(f && f + 1 < last && f[1].id == num))
                f = num <= UINT32_MAX ? protobuf_c_message_descriptor_get_field(desc, (unsigned)num)
                                      : NULL;
            else if (f->id != num)
                f++;
            if (f && f->type == PROTOBUF_C_TYPE_STRING && memchr(p, 0, (size_t)len))
                return -1;
            if (f && f->type == PROTOBUF_C_TYPE_MESSAGE &&
                s_clean(f->descriptor, p, p + len, depth + 1) != 0)
                return -1;
            p += len;
            break;
        }
        default: /* groups: not proto3, and protobuf-c refuses them too */
            return -1;
        }
    }
    return 0;
}

int pb_strings_clean(const ProtobufCMessageDescriptor *desc, const uint8_t *data, size_t len)
{
    if (!data)
        return len ? -1 : 0;
    return s_clean(desc, data, data + len, 0);
}

ProtobufCMessage *pb_unpack(const ProtobufCMessageDescriptor *desc, ProtobufCAllocator *alloc,
                            size_t len, const uint8_t *data)
{
    if (pb_strings_clean(desc, data, len) != 0)
        return NULL;
    return protobuf_c_message_unpack(desc, alloc, len, data);
}
