/* main.c -- runs every registered test (optionally filtered by a substring) and prints the
 * closing line "N passed, N failed". Exit status: 0 only if every test passed and at least one
 * ran. */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "test.h"

#define MAX_TESTS 1024

typedef struct test_entry {
    const char *name, *file;
    test_fn fn;
} test_entry;

static test_entry tests[MAX_TESTS];
static int ntests;
static int current_failures;
static int current_skipped;

void test_register(const char *name, const char *file, test_fn fn) {
    if (ntests >= MAX_TESTS) {
        fprintf(stderr, "too many tests\n");
        abort();
    }
    tests[ntests].name = name;
    tests[ntests].file = file;
    tests[ntests].fn = fn;
    ntests++;
}

void test_fail(const char *file, int line, const char *fmt, ...) {
    va_list ap;
    current_failures++;
    fprintf(stdout, "    FAILED at %s:%d: ", file, line);
    va_start(ap, fmt);
    vfprintf(stdout, fmt, ap);
    va_end(ap);
    fputc('\n', stdout);
    fflush(stdout);
}

void test_skip(const char *why) {
    current_skipped = 1;
    printf("    skipped: %s\n", why);
}

int test_failed_now(void) {
    return current_failures > 0;
}

tensor_err tensor_compare_f64(const float *got, const double *ref, size_t n, double atol,
                              double rtol) {
    tensor_err e = {0};
    double se = 0, sr = 0;
    for (size_t i = 0; i < n; i++) {
        double g = (double)got[i], r = ref[i], d = fabs(g - r);
        if (!(d <= e.max_abs) || isnan(d)) {
            if (isnan(d) || d > e.max_abs) {
                e.max_abs = isnan(d) ? (double)INFINITY : d;
                e.worst = i;
            }
        }
        if (fabs(r) > e.max_ref)
            e.max_ref = fabs(r);
        se += (g - r) * (g - r);
        sr += r * r;
        if (!(d <= atol + rtol * fabs(r)))
            e.n_bad++;
    }
    e.norm_max = e.max_ref > 0 ? e.max_abs / e.max_ref : e.max_abs;
    e.nmse = sr > 0 ? se / sr : se;
    return e;
}

tensor_err tensor_compare_f32(const float *got, const float *ref, size_t n, double atol,
                              double rtol) {
    double *r = malloc((n ? n : 1) * sizeof *r);
    if (!r)
        abort();
    for (size_t i = 0; i < n; i++)
        r[i] = (double)ref[i];
    tensor_err e = tensor_compare_f64(got, r, n, atol, rtol);
    free(r);
    return e;
}

void tensor_err_print(const char *what, tensor_err e, const float *got, const double *ref,
                      size_t n) {
    printf("  %-40s n=%-7zu max_abs=%.3e norm_max=%.3e nmse=%.3e", what, n, e.max_abs, e.norm_max,
           e.nmse);
    if (n > 0 && got && ref)
        printf("  [worst %zu: %.7g vs %.7g]", e.worst, (double)got[e.worst], ref[e.worst]);
    printf("\n");
}

void test_fill_uniform(float *x, size_t n, unsigned long long seed, float lo, float hi) {
    rin_rng r;
    rin_rng_seed(&r, seed);
    for (size_t i = 0; i < n; i++)
        x[i] = lo + (hi - lo) * (float)rin_rng_uniform(&r);
}

const char *test_fixture_dir(void) {
    const char *d = getenv("RIN_FIXTURES");
    return d && *d ? d : "tests/fixtures";
}

test_dir test_dir_make(const char *tag) {
    test_dir d;
    snprintf(d.path, sizeof d.path, "/tmp/rin_%s_XXXXXX", tag);
    d.ok = mkdtemp(d.path) != NULL;
    if (!d.ok)
        test_fail(__FILE__, __LINE__, "mkdtemp %s: %s", d.path, strerror(errno));
    return d;
}

void test_tree_remove(const char *path) {
    chmod(path, 0700);
    DIR *dp = opendir(path);
    if (dp) {
        struct dirent *e;
        while ((e = readdir(dp)) != NULL) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
                continue;
            char p[1024];
            snprintf(p, sizeof p, "%s/%s", path, e->d_name);
            struct stat st;
            if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode))
                test_tree_remove(p);
            else
                unlink(p);
        }
        closedir(dp);
    }
    if (rmdir(path) != 0)
        test_fail(__FILE__, __LINE__, "cannot remove %s: %s", path, strerror(errno));
}

void test_dir_remove(const test_dir *d) {
    if (d->ok)
        test_tree_remove(d->path);
}

void test_dir_file(char *out, size_t len, const test_dir *d, const char *name) {
    snprintf(out, len, "%s/%s", d->path, name);
}

int test_dir_count(const test_dir *d, const char *substr) {
    int n = 0;
    DIR *dp = opendir(d->path);
    if (!dp)
        return -1;
    struct dirent *e;
    while ((e = readdir(dp)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        if (!substr || strstr(e->d_name, substr))
            n++;
    }
    closedir(dp);
    return n;
}

int test_write_bytes(const char *path, const void *buf, size_t n) {
    FILE *fp = fopen(path, "wb");
    if (!fp)
        return 0;
    int ok = fwrite(buf, 1, n, fp) == n;
    return (fclose(fp) == 0) && ok;
}

int test_shell(char *out, size_t outlen, const char *cmd) {
    FILE *p = popen(cmd, "r");
    if (!p)
        return -1;
    size_t n = fread(out, 1, outlen - 1, p);
    out[n] = 0;
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int cmp_entry(const void *a, const void *b) {
    const test_entry *x = a, *y = b;
    int c = strcmp(x->file, y->file);
    return c ? c : strcmp(x->name, y->name);
}

int main(int argc, char **argv) {
    const char *filter = argc > 1 ? argv[1] : NULL;
    int passed = 0, failed = 0, skipped = 0;
    setvbuf(stdout, NULL, _IOLBF, 0);
    qsort(tests, (size_t)ntests, sizeof tests[0], cmp_entry);
    for (int i = 0; i < ntests; i++) {
        if (filter && !strstr(tests[i].name, filter))
            continue;
        current_failures = 0;
        current_skipped = 0;
        printf("[ RUN  ] %s\n", tests[i].name);
        double t0 = rin_time_seconds();
        tests[i].fn();
        double dt = rin_time_seconds() - t0;
        if (current_failures) {
            printf("[ FAIL ] %s (%d failed checks, %.2fs)\n", tests[i].name, current_failures, dt);
            failed++;
        } else {
            printf("[ %s ] %s (%.2fs)\n", current_skipped ? "SKIP" : " OK ", tests[i].name, dt);
            if (current_skipped)
                skipped++;
            else
                passed++;
        }
    }
    if (skipped)
        printf("%d skipped (see the SKIP lines for why)\n", skipped);
    printf("%d passed, %d failed\n", passed, failed);
    return (failed > 0 || passed == 0) ? 1 : 0;
}
