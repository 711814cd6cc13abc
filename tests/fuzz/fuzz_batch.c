/* A decrypted batch payload, decoded under the daemon's budget (which must
 * be all given back once freed) and checked item by item the way the
 * daemon does before policy and the store see an item. s_check_item below is a copy of
 * s_check_item in node/mouxd/inbound.c (static there, so it cannot be
 * called); keep the two the same. Items that pass must also satisfy what
 * the rest of the daemon assumes of them. */
#include "config.h"
#include "fuzz_common.h"
#include "indicator.h"
#include "moux.pb-c.h"
#include "pbbudget.h"
#include "reason.h"

#define BATCH_ITEMS_MAX 1024 /* inbound.c */

/* ---- copied from node/mouxd/inbound.c ---- */
static const char *s_check_item(const Moux__Indicator *ind)
{
    ind_type_t type;
    char norm[IND_VALUE_MAX + 1];
    const char *why = NULL;
    char pattern[IND_PATTERN_MAX + 1];
    /* On the wire only the canonical type names; the CLI's aliases are not. */
    if (!ind_id_valid(ind->id) || ind_type_parse(ind->type, &type) != 0 ||
        strcmp(ind_type_name(type), ind->type) != 0 ||
        (unsigned)ind->tlp > MOUX__TLP__TLP_RED || ind->confidence > 100 ||
        ind->modified_ms < ind->created_ms || strlen(ind->pattern) > IND_PATTERN_MAX ||
        ind->n_hops > 16)
        return REASON_INVALID_ITEM;
    for (size_t i = 0; i < ind->n_hops; i++)
        if (!agency_id_valid(ind->hops[i]))
            return REASON_INVALID_ITEM;
    if (ind_normalise(type, ind->value, norm, sizeof norm, &why) != 0 ||
        strcmp(norm, ind->value) != 0)
        return REASON_INVALID_VALUE;
    /* Until STIX patterns are parsed, the pattern must be the one the
     * (type, value) gives, so it can never say something else. */
    if (ind_pattern(type, ind->value, pattern, sizeof pattern) != 0 ||
        strcmp(pattern, ind->pattern) != 0)
        return REASON_INVALID_ITEM;
    return NULL;
}
/* ---- end of copy ---- */

/* What holds for every item s_check_item lets through. */
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
    Moux__Batch *batch = moux__batch__unpack(&pb.allocator, size, data);
    if (!batch) {
        FUZZ_CHECK(pb.used == 0);
        return 0;
    }
    if (batch->n_items <= BATCH_ITEMS_MAX) {
        for (size_t i = 0; i < batch->n_items; i++) {
            const Moux__Indicator *ind = batch->items[i];
            FUZZ_CHECK(ind != NULL);
            const char *reason = s_check_item(ind);
            if (!reason)
                s_accepted(ind);
        }
    }
    moux__batch__free_unpacked(batch, &pb.allocator);
    FUZZ_CHECK(pb.used == 0);
    return 0;
}
