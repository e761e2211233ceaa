/* test.h -- the small test harness: TEST(), CHECK(), tensor comparison with error statistics.
 *
 * Tests register themselves (a constructor per TEST), so test files never edit a central list.
 * One program, build/rin_tests, runs them all (or those whose name contains argv[1]) and ends
 * with the line "N passed, N failed"; it exits non-zero when a test failed or none ran.
 */
#ifndef RIN_TEST_H
#define RIN_TEST_H

#include <math.h>
#include <stddef.h>
#include <stdio.h>

typedef void (*test_fn)(void);
void test_register(const char *name, const char *file, test_fn fn);
/* Records a failure of the running test and prints it. */
void test_fail(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Prints why and marks the running test skipped: counted apart from passed and failed. */
void test_skip(const char *why);
int test_failed_now(void);

#define TEST(name)                                                                                 \
    static void test_##name(void);                                                                 \
    __attribute__((constructor)) static void test_register_##name(void) {                          \
        test_register(#name, __FILE__, test_##name);                                               \
    }                                                                                              \
    static void test_##name(void)

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            test_fail(__FILE__, __LINE__, "CHECK(%s)", #cond);                                     \
    } while (0)

#define CHECK_MSG(cond, ...)                                                                       \
    do {                                                                                           \
        if (!(cond))                                                                               \
            test_fail(__FILE__, __LINE__, __VA_ARGS__);                                            \
    } while (0)

/* |a - b| <= atol + rtol |b| */
#define CHECK_CLOSE(a, b, atol, rtol)                                                              \
    do {                                                                                           \
        double a_ = (double)(a), b_ = (double)(b);                                                 \
        if (!(fabs(a_ - b_) <= (atol) + (rtol)*fabs(b_)))                                          \
            test_fail(__FILE__, __LINE__, "CHECK_CLOSE(%s, %s): %.9g vs %.9g", #a, #b, a_, b_);    \
    } while (0)

/* Error statistics of got against ref (n elements): printed as one line. */
typedef struct tensor_err {
    double max_abs;  /* max |got - ref| */
    double max_ref;  /* max |ref| */
    double norm_max; /* max_abs / max_ref (max_abs when ref is all zero) */
    double nmse;     /* sum (got-ref)^2 / sum ref^2 */
    size_t worst;    /* index of max_abs */
    size_t n_bad;    /* elements violating atol + rtol |ref| (when those are given) */
} tensor_err;
tensor_err tensor_compare_f64(const float *got, const double *ref, size_t n, double atol,
                              double rtol);
tensor_err tensor_compare_f32(const float *got, const float *ref, size_t n, double atol,
                              double rtol);
/* Prints "  <what>: n=.. max_abs=.. norm_max=.. nmse=.." plus the first pairs. */
void tensor_err_print(const char *what, tensor_err e, const float *got, const double *ref,
                      size_t n);

/* Fixed inputs for tests: uniform in [lo, hi) from a seed. */
void test_fill_uniform(float *x, size_t n, unsigned long long seed, float lo, float hi);
/* Directory of committed fixtures: $RIN_FIXTURES or "tests/fixtures". */
const char *test_fixture_dir(void);

/* A fresh temporary directory /tmp/rin_<tag>_XXXXXX (ok = 0 and a recorded failure if it
 * cannot be made). */
typedef struct test_dir {
    char path[64];
    int ok;
} test_dir;
test_dir test_dir_make(const char *tag);
/* Removes the directory with everything in it (records a failure if it cannot). */
void test_dir_remove(const test_dir *d);
void test_tree_remove(const char *path);
/* out = d/name */
void test_dir_file(char *out, size_t len, const test_dir *d, const char *name);
/* Entries of d whose names contain `substr` (all entries when NULL); -1 if unreadable. */
int test_dir_count(const test_dir *d, const char *substr);
/* Writes n bytes to path; 1 on success. */
int test_write_bytes(const char *path, const void *buf, size_t n);
/* Runs a shell command with stderr merged into out (NUL-terminated, at most outlen-1 bytes);
 * returns its exit status, or -1 if it could not run or was killed. */
int test_shell(char *out, size_t outlen, const char *cmd);

/* An IDX image file and label file of n 8x8 one-channel images with 4 classes (test_cli.c). */
void write_idx(const char *img, const char *lab, int n);

#endif /* RIN_TEST_H */
