/* STIX 2.1 patterning: a validating parser for the whole grammar of
 * STIXPattern.g4 (lexer rules followed exactly, longest match first), and
 * extraction of the observables a moux node indexes for lookup.
 *
 * Hand-written recursive descent so that hostile input costs bounded time,
 * memory and stack: the input length and the nesting depth are capped, and
 * the first error stops the parse. Beyond the grammar, the qualifier rules
 * of the specification are enforced (REPEATS at least 1, WITHIN more than 0
 * seconds, STOP later than START, no qualifier kind twice on one bracketed
 * observation expression, as the OASIS validator does). */
#ifndef MOUX_STIX_PATTERN_H
#define MOUX_STIX_PATTERN_H

#include "indicator.h"

#include <stddef.h>

#define STIX_PATTERN_MAX_LEN 65536 /* bytes; longer input is refused unparsed */
#define STIX_PATTERN_MAX_DEPTH 64  /* nested '(' and '[' groups */
#define STIX_PATTERN_ERROR_MAX 256 /* room for out->error, NUL included */

/* One (type, value) the node can index: from a positive '=' comparison (or a
 * positive IN, one per string in the set) on a path that maps onto a moux
 * indicator type. The value is the literal unescaped but not normalised. */
typedef struct {
    ind_type_t kind;
    const char *type; /* ind_type_name(kind): "ipv4-addr", "file:sha256", ... */
    char *value;      /* owned by the result */
    size_t pos;       /* byte offset of the string literal in the pattern */
} stix_observable_t;

typedef struct {
    int valid;                          /* 1 if the pattern parsed */
    size_t error_pos;                   /* 0-based byte offset, when invalid */
    char error[STIX_PATTERN_ERROR_MAX]; /* "at 14: expected ']' but found 'AND'" */
    size_t observation_count;           /* bracketed observation expressions */
    size_t comparison_count;            /* comparisons, EXISTS included */
    size_t qualifier_count;             /* WITHIN, REPEATS and START..STOP */
    size_t unindexed_count;             /* comparisons that yield no observable:
                                           other objects or paths, negated, other
                                           operators, EXISTS */
    stix_observable_t *observables;     /* in order of appearance */
    size_t observable_count;
} stix_pattern_result_t;

/* Parses pattern (NUL terminated, UTF-8). Returns 0 if it is a valid STIX 2.1
 * pattern, -1 if not. out need not be initialised; it is overwritten, so free
 * the result of an earlier check first. When invalid, out->error says what
 * was expected and what was found, and out->error_pos where; counts are 0
 * and there are no observables. out may be NULL to only validate. */
int stix_pattern_check(const char *pattern, stix_pattern_result_t *out);

/* Frees the observables and leaves an empty result; safe to call twice. */
void stix_pattern_result_free(stix_pattern_result_t *out);

#endif
