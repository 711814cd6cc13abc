/* A minimal unit-test harness: CHECK records failures and carries on, the
 * closing line is "N passed, N failed" so CI can read it. */
#ifndef MOUX_TEST_H
#define MOUX_TEST_H

#include <stdio.h>
#include <string.h>

static int t_failed_checks;
static int t_passed, t_failed;

#define CHECK(cond)                                                            \
  do {                                                                         \
    if (!(cond)) {                                                             \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
      t_failed_checks++;                                                       \
    }                                                                          \
  } while (0)

#define CHECK_STR(a, b)                                                        \
  do {                                                                         \
    const char *t_a = (a), *t_b = (b);                                         \
    if (!t_a || !t_b || strcmp(t_a, t_b) != 0) {                               \
      fprintf(stderr, "%s:%d: CHECK_STR failed: \"%s\" != \"%s\"\n", __FILE__,  \
              __LINE__, t_a ? t_a : "(null)", t_b ? t_b : "(null)");          \
      t_failed_checks++;                                                       \
    }                                                                          \
  } while (0)

#define RUN(fn)                                                                \
  do {                                                                         \
    int t_before = t_failed_checks;                                            \
    fn();                                                                      \
    if (t_failed_checks == t_before) { t_passed++; printf("ok   %s\n", #fn); } \
    else { t_failed++; printf("FAIL %s\n", #fn); }                             \
  } while (0)

#define TEST_DONE()                                                            \
  (printf("%d passed, %d failed\n", t_passed, t_failed), t_failed ? 1 : 0)

#endif
