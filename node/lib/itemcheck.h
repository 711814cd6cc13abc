/* The shape every indicator received from a partner must have before any
 * policy looks at it: one function, used by the daemon and by the fuzzer. */
#ifndef MOUX_ITEMCHECK_H
#define MOUX_ITEMCHECK_H

#include "moux.pb-c.h"

/* NULL when the item is well formed; otherwise a reason code
 * (invalid-item, invalid-value: docs/PROTOCOL.md 6.1). */
const char *item_check_shape(const Moux__Indicator *ind);

#endif
