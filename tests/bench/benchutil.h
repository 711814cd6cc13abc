/* Helpers shared by the baseline programs of the benchmark suite: clocks,
 * medians, JSON-lines output, and a synthetic indicator workload identical
 * to the one tests/bench/run feeds the daemons (its gen_items). */
#ifndef MOUX_BENCHUTIL_H
#define MOUX_BENCHUTIL_H

#include "moux.pb-c.h"

#include <stddef.h>
#include <stdint.h>

/* Monotonic seconds. */
double bu_now(void);
/* Wall clock, Unix microseconds. */
int64_t bu_wall_us(void);

/* Median of n values (sorts v in place). */
double bu_median(double *v, size_t n);
/* q-quantile (0..1) by nearest rank of n values (sorts v in place). */
double bu_quantile(double *v, size_t n, double q);

/* Prints one result as a JSON line on stdout:
 * {"name":NAME,"unit":UNIT,"median":M,"reps":N,"samples":[...]} */
void bu_emit(const char *name, const char *unit, double *samples, size_t n);
/* A distribution (latencies): p50, p90, p99, max, mean and count of n
 * samples; "median" is p50. Sorts v. */
void bu_emit_dist(const char *name, const char *unit, double *v, size_t n);
/* A single value (reps 1). */
void bu_emit1(const char *name, const char *unit, double value);

/* The i-th line of the synthetic workload: type name and normalised value
 * (out holds the value). The mix cycles through ipv4-addr, domain-name, url
 * and file:sha256, all distinct for distinct i within a run tag. */
const char *bu_item(uint64_t i, unsigned tag, char *out, size_t cap);

/* n indicators of the workload as the sender's store would hand them to the
 * batch packer (id, type, value, pattern, TLP amber, confidence 50, times,
 * origin). Free with bu_items_free. */
Moux__Indicator **bu_items(size_t n, unsigned tag, const char *origin);
void bu_items_free(Moux__Indicator **items, size_t n);

/* Parses "--name value" style integer options: returns the value of name in
 * argv, or dflt. */
long bu_opt(int argc, char **argv, const char *name, long dflt);
const char *bu_opt_str(int argc, char **argv, const char *name, const char *dflt);

#endif
