#include "policy.h"
#include "reason.h"
#include "stix_pattern.h"

#include <string.h>

static policy_verdict_t s_verdict(const char *reason, const char *rule)
{
    return (policy_verdict_t){reason, rule};
}

static const policy_verdict_t s_allowed = {NULL, NULL};

/* The direction from -> to of m, in force at now, or a refusal. */
static policy_verdict_t s_direction(const mou_t *m, const char *from, const char *to,
                                    uint64_t now, const mou_dir_t **d)
{
    *d = NULL;
    if (!m)
        return s_verdict(REASON_NO_MOU, "mou");
    if (!mou_valid_at(m, now, NULL, 0))
        return s_verdict(REASON_MOU_NOT_IN_FORCE, "validity");
    if (!(*d = mou_direction(m, from, to)))
        return s_verdict(REASON_DIRECTION_NOT_AGREED, from && mou_party_index(m, from) == 0
                                                          ? "[a-to-b]" : "[b-to-a]");
    return s_allowed;
}

/* A pattern says more than its (type, value) when it is not the canonical
 * one: every observable in it must be of a type the direction allows, and
 * comparisons on anything else only go where "types: all". Otherwise a
 * pattern could carry what the MOU keeps back. */
static int s_pattern_allowed(const mou_dir_t *d, ind_type_t type, const Moux__Indicator *ind)
{
    char canonical[IND_PATTERN_MAX + 1];
    if (!ind->pattern || !ind->pattern[0] ||
        (ind_pattern(type, ind->value, canonical, sizeof canonical) == 0 &&
         strcmp(canonical, ind->pattern) == 0))
        return 1;
    stix_pattern_result_t r;
    int ok = stix_pattern_check(ind->pattern, &r) == 0 &&
             (r.unindexed_count == 0 || (d->types & MOU_ALL_TYPES) == MOU_ALL_TYPES);
    for (size_t i = 0; ok && i < r.observable_count; i++)
        ok = (d->types & (1u << r.observables[i].kind)) != 0;
    stix_pattern_result_free(&r);
    return ok;
}

static policy_verdict_t s_item(const mou_dir_t *d, const Moux__Indicator *ind)
{
    static const char *reasons[] = {
        [MOU_ITEM_TYPE] = REASON_TYPE_NOT_ALLOWED,
        [MOU_ITEM_TLP] = REASON_TLP_NOT_ALLOWED,
        [MOU_ITEM_CONFIDENCE] = REASON_CONFIDENCE_TOO_LOW,
        [MOU_ITEM_PURPOSE] = REASON_PURPOSE_MISSING,
    };
    ind_type_t type;
    if (ind_type_parse(ind->type, &type) != 0)
        return s_verdict(REASON_TYPE_NOT_ALLOWED, "types");
    mou_item_t v = mou_dir_check_item(d, type, (tlp_t)ind->tlp, ind->confidence,
                                      (const char *const *)ind->labels, ind->n_labels);
    if (v == MOU_ITEM_OK && !s_pattern_allowed(d, type, ind))
        return s_verdict(REASON_TYPE_NOT_ALLOWED, "types (pattern)");
    return v == MOU_ITEM_OK ? s_allowed : s_verdict(reasons[v], mou_item_field(v));
}

policy_verdict_t policy_outbound(const mou_t *m, const char *self, const char *peer,
                                 const Moux__Indicator *ind, uint64_t now)
{
    const mou_dir_t *d;
    policy_verdict_t v = s_direction(m, self, peer, now, &d);
    return v.reason ? v : s_item(d, ind);
}

static int s_on_path(const Moux__Indicator *ind, const char *agency)
{
    if (ind->origin[0] && strcmp(ind->origin, agency) == 0)
        return 1;
    for (size_t i = 0; i < ind->n_hops; i++)
        if (strcmp(ind->hops[i], agency) == 0)
            return 1;
    return 0;
}

/* The path an item states: origin and hops name the agencies that held it
 * before the sender, the origin first; an anonymised item names none. */
static const char *s_path_check(const char *self, const char *peer, const Moux__Indicator *ind)
{
    if (s_on_path(ind, self))
        return REASON_LOOP;
    if (!ind->origin[0])
        return ind->n_hops ? REASON_ORIGIN_MISMATCH : NULL;
    if (strcmp(ind->origin, peer) == 0)
        return ind->n_hops ? REASON_ORIGIN_MISMATCH : NULL;
    /* Relayed: the path starts at the origin and the sender is not on it. */
    if (!ind->n_hops || strcmp(ind->hops[0], ind->origin) != 0)
        return REASON_ORIGIN_MISMATCH;
    for (size_t i = 0; i < ind->n_hops; i++)
        if (strcmp(ind->hops[i], peer) == 0)
            return REASON_ORIGIN_MISMATCH;
    return NULL;
}

policy_verdict_t policy_inbound(const mou_t *m, const char *self, const char *peer,
                                const Moux__Indicator *ind, uint64_t now)
{
    const char *why = s_path_check(self, peer, ind);
    if (why)
        return s_verdict(why, "origin");
    const mou_dir_t *d;
    policy_verdict_t v = s_direction(m, peer, self, now, &d);
    if (v.reason)
        return v;
    if (d->anonymise && (ind->origin[0] || ind->n_hops))
        return s_verdict(REASON_NOT_ANONYMISED, "anonymise");
    return s_item(d, ind);
}

policy_verdict_t policy_relay(const mou_t *m_from, const char *self, const char *from,
                              const char *to, const Moux__Indicator *ind)
{
    if (strcmp(to, from) == 0 || s_on_path(ind, to))
        return s_verdict(REASON_ALREADY_HOLDS, "origin");
    const mou_dir_t *d = m_from ? mou_direction(m_from, from, self) : NULL;
    if (!d || !mou_dir_onward_allowed(d, to))
        return s_verdict(REASON_ONWARD_NOT_ALLOWED, "onward");
    if ((tlp_t)ind->tlp > TLP_GREEN)
        return s_verdict(REASON_TLP_FORBIDS_ONWARD, "tlp-2.0");
    return s_allowed;
}

int policy_anonymise(const mou_t *m, const char *self, const char *peer)
{
    const mou_dir_t *d = m ? mou_direction(m, self, peer) : NULL;
    return d && d->anonymise;
}
