/* Retention: an item received under an MOU is deleted once it has been held
 * longer than that MOU's retention-days for the direction it came in (the
 * MOU it was received under decides, also after that MOU ended). Each purge
 * is recorded: the purged table lists every item (never its value) and one
 * event per MOU says how many went, under which MOU and rule. */
#ifndef MOUX_RETENTION_H
#define MOUX_RETENTION_H

#include "store.h"

#include <stdint.h>

/* Purges, in one transaction, what every MOU's retention ends before now.
 * *total: items purged. 0, or -1 with the store's error in err. */
int retention_purge(store_t *st, const char *self_agency, uint64_t now, uint64_t *total,
                    char *err, size_t errlen);

#endif
