/* Traffic Light Protocol 2.0 levels, ordered: a higher value is more
 * restricted, so "may flow" is a simple comparison against a ceiling. */
#ifndef MOUX_TLP_H
#define MOUX_TLP_H

typedef enum {
    TLP_CLEAR = 0,
    TLP_GREEN = 1,
    TLP_AMBER = 2,
    TLP_AMBER_STRICT = 3,
    TLP_RED = 4
} tlp_t;

#define TLP_COUNT 5

/* Accepts clear, green, amber, amber+strict, red in any case, with or
 * without a "tlp:" prefix. Returns 0 and writes *out on success. */
int tlp_parse(const char *text, tlp_t *out);
/* "clear", "green", "amber", "amber+strict", "red". */
const char *tlp_name(tlp_t tlp);

#endif
