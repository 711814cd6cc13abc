/* mouxctl: sends one raw control request to a running node, for the tests
 * of what the control socket refuses.
 *
 *   mouxctl DIR REQUEST_JSON [--items-pb ITEMS_JSON | --body-hex HEX]
 *           [--extra-frame]
 *
 * --items-pb: a JSON array of Indicator fields (type, value, tlp as a
 * number, confidence, valid_until_ms, labels, and the node-assigned id,
 * pattern, origin, created_ms) packed as a protobuf Batch in a second frame.
 * --body-hex: the second frame's bytes as given. --extra-frame: one more,
 * empty frame after that. REQUEST_JSON may be @FILE, the request read from
 * FILE (for requests too large for a command line). Prints the node's
 * answer; exit 0 if it answered,
 * 1 otherwise. Only DIR/control.sock is contacted. */
#include "moux.pb-c.h"
#include "util.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

static int s_fail(const char *what)
{
    fprintf(stderr, "mouxctl: %s\n", what);
    return 1;
}

/* Packs ITEMS_JSON as a Batch into *out (malloc'd). */
static int s_items_pb(const char *text, uint8_t **out, size_t *len)
{
    json_error_t jerr;
    json_t *arr = json_loads(text, 0, &jerr), *o;
    size_t n = json_array_size(arr), i;
    if (!json_is_array(arr))
        return s_fail("--items-pb: not a JSON array");
    Moux__Indicator *inds = calloc(n ? n : 1, sizeof *inds);
    Moux__Indicator **ptrs = calloc(n ? n : 1, sizeof *ptrs);
    char **labels = calloc(n * 17 + 1, sizeof *labels);
    json_array_foreach(arr, i, o) {
        Moux__Indicator *it = &inds[i];
        moux__indicator__init(it);
        ptrs[i] = it;
        const char *s;
        if ((s = json_string_value(json_object_get(o, "type"))))
            it->type = (char *)s;
        if ((s = json_string_value(json_object_get(o, "value"))))
            it->value = (char *)s;
        if ((s = json_string_value(json_object_get(o, "id"))))
            it->id = (char *)s;
        if ((s = json_string_value(json_object_get(o, "pattern"))))
            it->pattern = (char *)s;
        if ((s = json_string_value(json_object_get(o, "origin"))))
            it->origin = (char *)s;
        it->tlp = (Moux__Tlp)json_integer_value(json_object_get(o, "tlp"));
        it->confidence = (uint32_t)json_integer_value(json_object_get(o, "confidence"));
        it->valid_until_ms = (uint64_t)json_integer_value(json_object_get(o, "valid_until_ms"));
        it->created_ms = (uint64_t)json_integer_value(json_object_get(o, "created_ms"));
        json_t *ls = json_object_get(o, "labels"), *l;
        size_t j;
        it->labels = &labels[i * 17];
        json_array_foreach(ls, j, l) {
            if (j < 17 && json_is_string(l))
                it->labels[it->n_labels++] = (char *)json_string_value(l);
        }
    }
    Moux__Batch b = MOUX__BATCH__INIT;
    b.n_items = n;
    b.items = ptrs;
    *len = moux__batch__get_packed_size(&b);
    *out = malloc(*len ? *len : 1);
    moux__batch__pack(&b, *out);
    free(labels);
    free(ptrs);
    free(inds);
    json_decref(arr); /* after packing: the items point into it */
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 3)
        return s_fail("usage: mouxctl DIR REQUEST_JSON [--items-pb ITEMS_JSON | --body-hex HEX] "
                      "[--extra-frame]");
    uint8_t *body = NULL;
    size_t body_len = 0;
    int extra = 0;
    for (int i = 3; i < argc; i++) {
        if (strcmp(argv[i], "--items-pb") == 0 && i + 1 < argc) {
            if (s_items_pb(argv[++i], &body, &body_len) != 0)
                return 1;
        } else if (strcmp(argv[i], "--body-hex") == 0 && i + 1 < argc) {
            size_t n = strlen(argv[++i]) / 2;
            body = malloc(n ? n : 1);
            if (hex_decode(argv[i], body, n) != 0)
                return s_fail("--body-hex: not hex");
            body_len = n;
        } else if (strcmp(argv[i], "--extra-frame") == 0) {
            extra = 1;
        } else {
            return s_fail("unknown option");
        }
    }
    const char *req = argv[2];
    char *req_file = NULL;
    if (req[0] == '@') {
        FILE *f = fopen(req + 1, "rb");
        long n = f && fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
        if (n < 0 || fseek(f, 0, SEEK_SET) != 0 || !(req_file = malloc((size_t)n + 1)) ||
            fread(req_file, 1, (size_t)n, f) != (size_t)n)
            return s_fail("cannot read the request file");
        req_file[n] = '\0';
        fclose(f);
        req = req_file;
    }
    char ep[4200];
    snprintf(ep, sizeof ep, "ipc://%s/control.sock", argv[1]);
    void *ctx = zmq_ctx_new(), *sock = zmq_socket(ctx, ZMQ_REQ);
    int timeout = 10000, zero = 0;
    zmq_setsockopt(sock, ZMQ_RCVTIMEO, &timeout, sizeof timeout);
    zmq_setsockopt(sock, ZMQ_LINGER, &zero, sizeof zero);
    int more = body || extra ? ZMQ_SNDMORE : 0;
    if (zmq_connect(sock, ep) != 0 || zmq_send(sock, req, strlen(req), more) < 0 ||
        (body && zmq_send(sock, body, body_len, extra ? ZMQ_SNDMORE : 0) < 0) ||
        (extra && zmq_send(sock, "", 0, 0) < 0))
        return s_fail(zmq_strerror(zmq_errno()));
    char reply[65536];
    int n = zmq_recv(sock, reply, sizeof reply - 1, 0);
    if (n < 0)
        return s_fail("no answer within 10 s");
    reply[n < (int)sizeof reply - 1 ? n : (int)sizeof reply - 1] = '\0';
    puts(reply);
    free(body);
    free(req_file);
    zmq_close(sock);
    zmq_ctx_term(ctx);
    return 0;
}
