/* bench_batch calls the library's hot-path functions directly, and some of
 * them have changed form as the library changed; `--rev` builds this bench
 * against older trees. These helpers call whichever form the tree being
 * benchmarked has (by PROTOCOL_VERSION, STORE_HAS_DONE_RANGE, or C11
 * _Generic on the function's type). Drop a branch once every tree in use
 * has the new form: receipt_open's four-argument form went with bffaf17,
 * older than the benchmarks themselves. */
#ifndef MOUX_BENCH_COMPAT_H
#define MOUX_BENCH_COMPAT_H

#include "envelope.h"
#include "receipt.h"
#include "store.h"

#include <string.h>

/* What comes from outside is unpacked with pb_unpack, which first refuses
 * strings holding NUL bytes; older trees called protobuf-c directly. */
#if __has_include("pbunpack.h")
#include "pbunpack.h"
#define BENCH_UNPACK(type, name, alloc, len, data)                                                 \
    ((type *)pb_unpack(&moux__##name##__descriptor, (alloc), (len), (data)))
#else
#define BENCH_UNPACK(type, name, alloc, len, data) moux__##name##__unpack((alloc), (len), (data))
#endif

/* envelope_open and the batch hash the receipt names: protocol version 2
 * returns both from the open; version 1 returned the signature and the
 * receiver hashed the batch again. */
static inline int bench_envelope_open(const Moux__Envelope *env, const unsigned char *key,
                                      const unsigned char *pk, uint8_t **plain, size_t *len,
                                      uint8_t sig[64], uint8_t hash[BATCH_HASH_BYTES],
                                      const char **why)
{
#if PROTOCOL_VERSION >= 2
    envelope_proof_t proof;
    if (envelope_open(env, key, pk, plain, len, &proof, why) != 0)
        return -1;
    memcpy(sig, proof.sig, 64);
    memcpy(hash, proof.hash, BATCH_HASH_BYTES);
#else
    if (envelope_open(env, key, pk, plain, len, sig, why) != 0)
        return -1;
    envelope_hash(env->header.data, env->header.len, *plain, *len, hash);
#endif
    return 0;
}

typedef int (*bench_odone_rid_t)(store_t *, int64_t, int64_t, uint64_t);
typedef int (*bench_odone_id_t)(store_t *, int64_t, const char *, uint64_t);
/* store_outbox_done(st, pid, rid or indicator id, modified_ms) */
#define BENCH_OUTBOX_DONE(st, pid, rid, id, modified)                                            \
    _Generic(&store_outbox_done,                                                                 \
        bench_odone_rid_t: ((bench_odone_rid_t)(void (*)(void))store_outbox_done)(st, pid, rid,  \
                                                                                 modified),      \
        default: ((bench_odone_id_t)(void (*)(void))store_outbox_done)(st, pid, id, modified))

/* The transaction that applies a receipt, as link.c begins it: unsynced in
 * the trees that have the range delete (2b249fb on; store_begin_unsynced
 * came just before it, in f890d52). */
static inline int bench_begin_receipts(store_t *st)
{
#ifdef STORE_HAS_DONE_RANGE
    return store_begin_unsynced(st);
#else
    return store_begin(st);
#endif
}

/* A receipt's outbox rows, as link.c clears them: one range for a batch
 * read whole (from the tree that has it), else row by row. */
static inline int bench_outbox_done_batch(store_t *st, int64_t pid, const outbox_batch_t *ob,
                                          const Moux__ReceiptBody *rb)
{
#ifdef STORE_HAS_DONE_RANGE
    if (rb->n_results == ob->n)
        return store_outbox_done_range(st, pid, ob->rids[0], ob->rids[ob->n - 1], ob->qseq);
    for (size_t i = 0; i < rb->n_results; i++)
        if (store_outbox_done(st, pid, ob->rids[i], rb->results[i]->modified_ms, ob->qseq))
            return -1;
#else
    for (size_t i = 0; i < rb->n_results; i++)
        if (BENCH_OUTBOX_DONE(st, pid, ob->rids[i], rb->results[i]->id,
                              rb->results[i]->modified_ms))
            return -1;
#endif
    return 0;
}

#endif
