/* A minimal unit-test harness: CHECK records failures and carries on, the
 * closing line is "N passed, N failed" so CI can read it. */
#ifndef MOUX_TEST_H
#define MOUX_TEST_H

#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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

/* ---- files: each test program works in one private directory ---- */

/* The test's private directory (the test makes it with mkdtemp). */
static char s_tmp[64] __attribute__((unused));

/* Removes a file or a whole directory tree. */
static inline void rm_rf(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return;
    if (!S_ISDIR(st.st_mode)) {
        unlink(path);
        return;
    }
    DIR *d = opendir(path);
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char sub[4096];
        int n = snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
        if (n > 0 && (size_t)n < sizeof sub)
            rm_rf(sub);
    }
    if (d)
        closedir(d);
    rmdir(path);
}

/* s_tmp/name in buf. */
static inline const char *tmp_path(char *buf, size_t cap, const char *name)
{
    snprintf(buf, cap, "%s/%s", s_tmp, name);
    return buf;
}

#define TEST_DONE()                                                            \
  (printf("%d passed, %d failed\n", t_passed, t_failed), t_failed ? 1 : 0)

#endif
