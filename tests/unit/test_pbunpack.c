/* Unpacking what comes from outside (proto/pbunpack.h): a string field that
 * holds a NUL byte, which protobuf-c alone would silently cut, is refused,
 * at any depth, in repeated fields, in oneof members and in any occurrence
 * of a field; bytes fields and unknown fields may hold NULs; clean and
 * malformed messages fare as with protobuf-c itself. Messages are packed by
 * protobuf-c and then altered byte by byte, or written by hand. */
#include "moux.pb-c.h"
#include "pbunpack.h"
#include "test.h"

#include <stdlib.h>
#include <string.h>

/* A batch of two indicators, the second with two hops; caller frees. */
static uint8_t *s_batch(size_t *len)
{
    Moux__Indicator a = MOUX__INDICATOR__INIT, b = MOUX__INDICATOR__INIT;
    a.id = "indicator--0f8fad5b-d9cb-469f-a165-70867728950e";
    a.type = "domain-name";
    a.value = "evil.example";
    b.id = "indicator--7c9e6679-7425-40de-944b-e07fc1f90ae7";
    b.type = "ipv4-addr";
    b.value = "198.51.100.7";
    char *hops[] = {"hop-one.example", "hop-two.example"};
    b.n_hops = 2;
    b.hops = hops;
    Moux__Indicator *items[] = {&a, &b};
    Moux__Batch batch = MOUX__BATCH__INIT;
    batch.n_items = 2;
    batch.items = items;
    *len = moux__batch__get_packed_size(&batch);
    uint8_t *buf = malloc(*len);
    if (buf)
        moux__batch__pack(&batch, buf);
    return buf;
}

/* A frame packed into a new buffer; caller frees. */
static uint8_t *s_frame(const Moux__Frame *f, size_t *len)
{
    *len = moux__frame__get_packed_size(f);
    uint8_t *buf = malloc(*len);
    if (buf)
        moux__frame__pack(f, buf);
    return buf;
}

/* Replaces a byte in the middle of the first occurrence of text with NUL. */
static int s_nul_at(uint8_t *buf, size_t len, const char *text)
{
    size_t n = strlen(text);
    for (size_t i = 0; i + n <= len; i++)
        if (memcmp(buf + i, text, n) == 0) {
            buf[i + n / 2] = 0;
            return 0;
        }
    return -1;
}

static void test_clean_batch_unpacks(void)
{
    size_t len = 0;
    uint8_t *buf = s_batch(&len);
    CHECK(buf != NULL);
    CHECK(pb_strings_clean(&moux__batch__descriptor, buf, len) == 0);
    Moux__Batch *b = (Moux__Batch *)pb_unpack(&moux__batch__descriptor, NULL, len, buf);
    CHECK(b != NULL && b->n_items == 2);
    if (b) {
        CHECK_STR(b->items[0]->value, "evil.example");
        CHECK_STR(b->items[1]->hops[1], "hop-two.example");
        moux__batch__free_unpacked(b, NULL);
    }
    CHECK(pb_strings_clean(&moux__batch__descriptor, NULL, 0) == 0); /* the empty message */
    free(buf);
}

/* What protobuf-c alone lets through, altered, is refused. */
static void test_nul_in_nested_string_refused(void)
{
    size_t len = 0;
    uint8_t *buf = s_batch(&len);
    CHECK(buf && s_nul_at(buf, len, "evil.example") == 0);
    Moux__Batch *plain = moux__batch__unpack(NULL, len, buf);
    CHECK(plain != NULL && plain->n_items == 2 && strcmp(plain->items[0]->value, "evil.example"));
    if (plain)
        moux__batch__free_unpacked(plain, NULL);
    CHECK(pb_strings_clean(&moux__batch__descriptor, buf, len) == -1);
    CHECK(pb_unpack(&moux__batch__descriptor, NULL, len, buf) == NULL);
    free(buf);
}

static void test_nul_in_repeated_string_refused(void)
{
    size_t len = 0;
    uint8_t *buf = s_batch(&len);
    CHECK(buf && s_nul_at(buf, len, "hop-two.example") == 0);
    CHECK(pb_unpack(&moux__batch__descriptor, NULL, len, buf) == NULL);
    free(buf);
}

/* Bytes may hold anything: an envelope full of NULs passes. */
static void test_nul_in_bytes_allowed(void)
{
    uint8_t zeros[64] = {0};
    Moux__Envelope env = MOUX__ENVELOPE__INIT;
    env.ciphertext = (ProtobufCBinaryData){sizeof zeros, zeros};
    env.header = (ProtobufCBinaryData){sizeof zeros, zeros};
    Moux__Frame f = MOUX__FRAME__INIT;
    f.kind_case = MOUX__FRAME__KIND_ENVELOPE;
    f.envelope = &env;
    size_t len = 0;
    uint8_t *buf = s_frame(&f, &len);
    CHECK(buf != NULL);
    if (!buf)
        return;
    Moux__Frame *g = (Moux__Frame *)pb_unpack(&moux__frame__descriptor, NULL, len, buf);
    CHECK(g != NULL && g->kind_case == MOUX__FRAME__KIND_ENVELOPE &&
          g->envelope->ciphertext.len == sizeof zeros);
    if (g)
        moux__frame__free_unpacked(g, NULL);
    free(buf);
}

/* Bytes that are no message are refused by the walk as by protobuf-c. */
static void test_malformed_refused(void)
{
    size_t len = 0;
    uint8_t *buf = s_batch(&len);
    CHECK(buf != NULL);
    CHECK(pb_strings_clean(&moux__batch__descriptor, buf, len - 3) == -1); /* cut short */
    CHECK(pb_unpack(&moux__batch__descriptor, NULL, len - 3, buf) == NULL);
    const uint8_t endless[] = {0x08, 0xff, 0xff}; /* a varint that never ends */
    CHECK(pb_strings_clean(&moux__batch__descriptor, endless, sizeof endless) == -1);
    const uint8_t group[] = {0x0b, 0x0c}; /* start and end group: not proto3 */
    CHECK(pb_strings_clean(&moux__batch__descriptor, group, sizeof group) == -1);
    CHECK(protobuf_c_message_unpack(&moux__batch__descriptor, NULL, sizeof group, group) == NULL);
    free(buf);
}

/* A string in a oneof member (Frame.key_update_ack.refused) is checked. */
static void test_nul_in_oneof_string_refused(void)
{
    Moux__KeyUpdateAck ack = MOUX__KEY_UPDATE_ACK__INIT;
    ack.refused = "wrong-root";
    Moux__Frame f = MOUX__FRAME__INIT;
    f.kind_case = MOUX__FRAME__KIND_KEY_UPDATE_ACK;
    f.key_update_ack = &ack;
    size_t len = 0;
    uint8_t *buf = s_frame(&f, &len);
    CHECK(buf != NULL);
    if (!buf)
        return;
    CHECK(pb_strings_clean(&moux__frame__descriptor, buf, len) == 0);
    CHECK(s_nul_at(buf, len, "wrong-root") == 0);
    CHECK(pb_unpack(&moux__frame__descriptor, NULL, len, buf) == NULL);
    free(buf);
}

/* Fields out of order, unknown fields, and a string given twice: every
 * occurrence is checked, even one protobuf-c would replace by the last. */
static void test_order_unknown_and_repeats(void)
{
    /* Indicator: value (3), an unknown field 99 holding a NUL, then id (1). */
    const uint8_t shuffled[] = {0x1a, 0x02, 'a', 'b', 0x9a, 0x06, 0x02, 'x', 0x00,
                                0x0a, 0x02, 'c', 'd'};
    CHECK(pb_strings_clean(&moux__indicator__descriptor, shuffled, sizeof shuffled) == 0);
    Moux__Indicator *ind = (Moux__Indicator *)pb_unpack(&moux__indicator__descriptor, NULL,
                                                        sizeof shuffled, shuffled);
    CHECK(ind != NULL);
    if (ind) {
        CHECK_STR(ind->value, "ab");
        CHECK_STR(ind->id, "cd");
        moux__indicator__free_unpacked(ind, NULL);
    }
    /* value twice, the first with a NUL: protobuf-c keeps "ok", the node refuses. */
    const uint8_t twice[] = {0x1a, 0x02, 'a', 0x00, 0x1a, 0x02, 'o', 'k'};
    Moux__Indicator *plain = moux__indicator__unpack(NULL, sizeof twice, twice);
    CHECK(plain != NULL && strcmp(plain->value, "ok") == 0);
    if (plain)
        moux__indicator__free_unpacked(plain, NULL);
    CHECK(pb_unpack(&moux__indicator__descriptor, NULL, sizeof twice, twice) == NULL);
    /* A string field sent as a varint: the walk lets protobuf-c refuse it. */
    const uint8_t varint_id[] = {0x08, 0x05};
    CHECK(pb_strings_clean(&moux__indicator__descriptor, varint_id, sizeof varint_id) == 0);
    CHECK(pb_unpack(&moux__indicator__descriptor, NULL, sizeof varint_id, varint_id) == NULL);
}

int main(void)
{
    RUN(test_clean_batch_unpacks);
    RUN(test_nul_in_nested_string_refused);
    RUN(test_nul_in_repeated_string_refused);
    RUN(test_nul_in_bytes_allowed);
    RUN(test_malformed_refused);
    RUN(test_nul_in_oneof_string_refused);
    RUN(test_order_unknown_and_repeats);
    return TEST_DONE();
}
