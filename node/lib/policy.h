/* Enforcement of the MOUs (docs/MOU.md §10). Every item is judged here:
 * before it is queued for a partner and again when it leaves (outbound),
 * before a partner's item is stored (inbound), and before an item received
 * from one partner is queued for another (relay). The rules come from the
 * active MOU with each partner; with none, nothing flows. Each verdict names
 * the rule that decided it, for the record. */
#ifndef MOUX_POLICY_H
#define MOUX_POLICY_H

#include "mou.h"
#include "moux.pb-c.h"

#include <stdint.h>

typedef struct {
    const char *reason; /* NULL: allowed; else a reason code (reason.h) */
    const char *rule;   /* what decided: an MOU key ("types", "max-tlp", ...),
                           "mou" (none active), "validity", "origin", "tlp-2.0" */
} policy_verdict_t;

/* May `self` send ind to `peer` under m (the active MOU with peer, NULL when
 * there is none) at time now? */
policy_verdict_t policy_outbound(const mou_t *m, const char *self, const char *peer,
                                 const Moux__Indicator *ind, uint64_t now);
/* May `self` store ind as it arrived from `peer` under m? Beyond the
 * direction's item rules: anonymisation when the MOU requires it, and an
 * origin and hop path that are consistent and do not loop back to self. */
policy_verdict_t policy_inbound(const mou_t *m, const char *self, const char *peer,
                                const Moux__Indicator *ind, uint64_t now);
/* May `self` pass ind, received from `from` under m_from, on to `to`? The
 * MOU with `from` must allow onward sharing to `to`, TLP 2.0 must allow it
 * (CLEAR and GREEN only: AMBER is for the agency's own constituents, which
 * partner agencies are not; AMBER+STRICT and RED never leave), and `to`
 * must not be on the item's path (from, origin, hops). The caller then asks
 * policy_outbound with the MOU with `to`. */
policy_verdict_t policy_relay(const mou_t *m_from, const char *self, const char *from,
                              const char *to, const Moux__Indicator *ind);
/* 1 when items self sends peer under m leave without origin and hops. */
int policy_anonymise(const mou_t *m, const char *self, const char *peer);

#endif
