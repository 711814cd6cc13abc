/* Enforcement points: every item is checked here before it is queued for a
 * partner (outbound) and before a partner's item is stored (inbound). Until
 * the MOU engine lands, the rules are the partner entry's allowed types and
 * highest TLP; the MOU engine replaces the rule source, not the call sites. */
#ifndef MOUX_POLICY_H
#define MOUX_POLICY_H

#include "moux.pb-c.h"
#include "store.h"

#include <stdint.h>

#define POLICY_ALL_TYPES ((1u << IND_TYPE_COUNT) - 1)

/* NULL when the item may go to the partner; otherwise a reason code. */
const char *policy_outbound(const partner_t *p, const Moux__Indicator *ind);
/* NULL when the partner's item may be stored; otherwise a reason code. */
const char *policy_inbound(const partner_t *p, const Moux__Indicator *ind);

/* "all" or a comma list of type names into a bitmask; -1 naming the bad
 * entry in *bad (points into a static buffer). */
int policy_types_parse(const char *list, uint32_t *mask, const char **bad);
/* Comma list of type names ("all" when every type). */
void policy_types_format(uint32_t mask, char *out, size_t cap);

#endif
