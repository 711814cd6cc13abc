/* STIX: the input (cut at the first NUL) as a pattern, and, when it is JSON,
 * as an Indicator object to import. Properties, abort() when one fails:
 *   - a refused pattern says where (error_pos within the input) and why,
 *     and leaves no observables; a valid one has every observable's value
 *     inside the input's length and a known type;
 *   - an object that maps has a pattern the wire accepts for its (type,
 *     value) (docs/PROTOCOL.md 6.1 row 1a), unless it is kept local only. */
#include "fuzz_common.h"
#include "itemcheck.h"
#include "stix.h"
#include "stix_pattern.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        abort();
    memcpy(text, data, size);
    text[size] = '\0';
    size_t len = strlen(text);
    stix_pattern_result_t r;
    if (stix_pattern_check(text, &r) != 0) {
        FUZZ_CHECK(!r.valid && r.error[0] && r.error_pos <= len && r.observable_count == 0);
    } else {
        FUZZ_CHECK(r.valid);
        for (size_t i = 0; i < r.observable_count; i++)
            FUZZ_CHECK(r.observables[i].pos < len && r.observables[i].kind < IND_TYPE_COUNT &&
                       strlen(r.observables[i].value) <= len);
    }
    stix_pattern_result_free(&r);

    json_t *obj = json_loads(text, 0, NULL);
    if (obj) {
        stix_item_t it;
        char why[STIX_WHY_MAX];
        if (stix_indicator_map(obj, NULL, TLP_AMBER, &it, why, sizeof why) == 0) {
            FUZZ_CHECK(ind_id_valid(it.ind.id) && (int)it.ind.tlp <= (int)TLP_RED &&
                       it.ind.confidence <= 100 && it.ind.modified_ms >= it.ind.created_ms);
            if (!it.local_only) {
                ind_type_t t;
                FUZZ_CHECK(ind_type_parse(it.ind.type, &t) == 0);
                FUZZ_CHECK(item_pattern_names(it.ind.pattern, t, it.ind.value));
            }
            stix_item_free(&it);
        } else {
            FUZZ_CHECK(why[0] != '\0');
        }
        json_decref(obj);
    }
    free(text);
    return 0;
}
