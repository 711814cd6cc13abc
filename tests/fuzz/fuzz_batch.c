/* A decrypted batch payload, decoded under the daemon's budget (which must
 * be all given back once freed) and checked item by item with the daemon's
 * own item_check_shape, before policy and the store see an item. Items that
 * pass must also satisfy what the rest of the daemon assumes of them. */
#include "config.h"
#include "fuzz_common.h"
#include "indicator.h"
#include "itemcheck.h"
#include "moux.pb-c.h"
#include "pbbudget.h"
#include "pbunpack.h"
#include "reason.h"

#define BATCH_ITEMS_MAX 1024 /* inbound.c */


/* What holds for every item item_check_shape lets through. */
static void s_accepted(const Moux__Indicator *ind)
{
    ind_type_t type;
    char norm[IND_VALUE_MAX + 1];
    FUZZ_CHECK(strlen(ind->id) == IND_ID_LEN);
    FUZZ_CHECK(ind_type_parse(ind->type, &type) == 0 && (unsigned)type < IND_TYPE_COUNT);
    FUZZ_CHECK(strlen(ind->value) <= IND_VALUE_MAX);
    FUZZ_CHECK(ind_normalise(type, ind->value, norm, sizeof norm, NULL) == 0);
    FUZZ_CHECK(strcmp(norm, ind->value) == 0);
    FUZZ_CHECK(strlen(ind->pattern) <= IND_PATTERN_MAX);
    for (size_t i = 0; i < ind->n_labels; i++)
        (void)strlen(ind->labels[i]); /* labels are stored as given */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    pbbudget_t pb;
    pbbudget_init(&pb, PB_BUDGET_BYTES);
    Moux__Batch *batch =
        (Moux__Batch *)pb_unpack(&moux__batch__descriptor, &pb.allocator, size, data);
    if (!batch) {
        FUZZ_CHECK(pb.used == 0);
        return 0;
    }
    if (batch->n_items <= BATCH_ITEMS_MAX) {
        for (size_t i = 0; i < batch->n_items; i++) {
            const Moux__Indicator *ind = batch->items[i];
            FUZZ_CHECK(ind != NULL);
            const char *reason = item_check_shape(ind);
            if (!reason)
                s_accepted(ind);
        }
    }
    moux__batch__free_unpacked(batch, &pb.allocator);
    FUZZ_CHECK(pb.used == 0);
    return 0;
}
