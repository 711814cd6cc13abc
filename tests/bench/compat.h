/* bench_batch calls the library's hot-path functions directly, and two of
 * them have had two signatures while the library changes under concurrent
 * work. These macros call whichever the tree being benchmarked declares
 * (C11 _Generic on the function's type: only the matching branch is
 * evaluated; both compile because each casts the function to its own type).
 * Drop a branch once every tree in use has the new form. */
#ifndef MOUX_BENCH_COMPAT_H
#define MOUX_BENCH_COMPAT_H

#include "receipt.h"
#include "store.h"

typedef int (*bench_ropen5_t)(const Moux__SignedReceipt *, const unsigned char *,
                              ProtobufCAllocator *, Moux__ReceiptBody **, const char **);
typedef int (*bench_ropen4_t)(const Moux__SignedReceipt *, const unsigned char *,
                              Moux__ReceiptBody **, const char **);
/* receipt_open(sr, pk, [alloc = NULL,] body, why) */
#define BENCH_RECEIPT_OPEN(sr, pk, body, why)                                                    \
    _Generic(&receipt_open,                                                                      \
        bench_ropen5_t: ((bench_ropen5_t)(void (*)(void))receipt_open)(sr, pk, NULL, body, why), \
        default: ((bench_ropen4_t)(void (*)(void))receipt_open)(sr, pk, body, why))

typedef int (*bench_odone_rid_t)(store_t *, int64_t, int64_t, uint64_t);
typedef int (*bench_odone_id_t)(store_t *, int64_t, const char *, uint64_t);
/* store_outbox_done(st, pid, rid or indicator id, modified_ms) */
#define BENCH_OUTBOX_DONE(st, pid, rid, id, modified)                                            \
    _Generic(&store_outbox_done,                                                                 \
        bench_odone_rid_t: ((bench_odone_rid_t)(void (*)(void))store_outbox_done)(st, pid, rid,  \
                                                                                 modified),      \
        default: ((bench_odone_id_t)(void (*)(void))store_outbox_done)(st, pid, id, modified))

#endif
