#include "policy.h"
#include "reason.h"
#include "util.h"

#include <stdio.h>
#include <string.h>

/* Both directions share one rule set per partner for now. */
static const char *s_check(const partner_t *p, const Moux__Indicator *ind)
{
    ind_type_t type;
    if (ind_type_parse(ind->type, &type) != 0 || !(p->allow_types & (1u << type)))
        return REASON_TYPE_NOT_ALLOWED;
    if ((int)ind->tlp > (int)p->max_tlp)
        return REASON_TLP_NOT_ALLOWED;
    return NULL;
}

const char *policy_outbound(const partner_t *p, const Moux__Indicator *ind)
{
    return s_check(p, ind);
}

const char *policy_inbound(const partner_t *p, const Moux__Indicator *ind)
{
    return s_check(p, ind);
}

int policy_types_parse(const char *list, uint32_t *mask, const char **bad)
{
    static char s_bad[64];
    if (strcmp(list, "all") == 0) {
        *mask = POLICY_ALL_TYPES;
        return 0;
    }
    char copy[512], *save = NULL;
    if (str_copy(copy, sizeof copy, list) != 0) {
        *bad = "(list too long)";
        return -1;
    }
    uint32_t m = 0;
    for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        ind_type_t t;
        if (ind_type_parse(tok, &t) != 0) {
            str_copy(s_bad, sizeof s_bad, tok);
            *bad = s_bad;
            return -1;
        }
        m |= 1u << t;
    }
    if (!m) {
        *bad = "(empty list)";
        return -1;
    }
    *mask = m;
    return 0;
}

void policy_types_format(uint32_t mask, char *out, size_t cap)
{
    if ((mask & POLICY_ALL_TYPES) == POLICY_ALL_TYPES) {
        str_copy(out, cap, "all");
        return;
    }
    size_t used = 0;
    out[0] = '\0';
    for (int t = 0; t < IND_TYPE_COUNT; t++)
        if (mask & (1u << t)) {
            int n = snprintf(out + used, cap - used, "%s%s", used ? "," : "",
                             ind_type_name((ind_type_t)t));
            if (n < 0 || (size_t)n >= cap - used)
                return;
            used += (size_t)n;
        }
}
