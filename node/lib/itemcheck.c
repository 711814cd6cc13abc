#include "itemcheck.h"
#include "config.h"
#include "indicator.h"
#include "reason.h"
#include "stix_pattern.h"

#include <string.h>

const char *item_check_shape(const Moux__Indicator *ind)
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
        ind->n_hops > 16 || ind->n_labels > IND_LABELS_MAX ||
        (ind->origin[0] && !agency_id_valid(ind->origin)))
        return REASON_INVALID_ITEM;
    for (size_t i = 0; i < ind->n_labels; i++)
        if (!ind_label_valid(ind->labels[i]))
            return REASON_INVALID_ITEM;
    for (size_t i = 0; i < ind->n_hops; i++)
        if (!agency_id_valid(ind->hops[i]))
            return REASON_INVALID_ITEM;
    if (ind_normalise(type, ind->value, norm, sizeof norm, &why) != 0 ||
        strcmp(norm, ind->value) != 0)
        return REASON_INVALID_VALUE;
    /* The pattern (docs/PROTOCOL.md 6.1 row 1a): the one the (type, value)
     * gives, or any valid STIX 2.1 pattern with a positive comparison ('='
     * or IN) of the item's (type, value), its literal normalising to value. */
    if (ind_pattern(type, ind->value, pattern, sizeof pattern) == 0 &&
        strcmp(pattern, ind->pattern) == 0)
        return NULL;
    return item_pattern_names(ind->pattern, type, ind->value) ? NULL : REASON_INVALID_ITEM;
}

int item_pattern_names(const char *pattern, ind_type_t type, const char *value)
{
    stix_pattern_result_t res;
    int found = 0;
    if (stix_pattern_check(pattern, &res) != 0) {
        stix_pattern_result_free(&res);
        return 0;
    }
    for (size_t i = 0; i < res.observable_count && !found; i++) {
        char norm[IND_VALUE_MAX + 1];
        const char *why = NULL;
        found = res.observables[i].kind == type &&
                ind_normalise(type, res.observables[i].value, norm, sizeof norm, &why) == 0 &&
                strcmp(norm, value) == 0;
    }
    stix_pattern_result_free(&res);
    return found;
}
