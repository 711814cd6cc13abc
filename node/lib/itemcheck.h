/* The shape every indicator received from a partner must have before any
 * policy looks at it: one function, used by the daemon and by the fuzzer. */
#ifndef MOUX_ITEMCHECK_H
#define MOUX_ITEMCHECK_H

#include "indicator.h"
#include "moux.pb-c.h"

/* NULL when the item is well formed; otherwise a reason code
 * (invalid-item, invalid-value: docs/PROTOCOL.md 6.1). */
const char *item_check_shape(const Moux__Indicator *ind);

/* 1 if pattern is a valid STIX 2.1 pattern with a positive comparison ('='
 * or IN) of (type, value): its literal, normalised per 9.2, is value. */
int item_pattern_names(const char *pattern, ind_type_t type, const char *value);

#endif
