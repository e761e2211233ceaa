/* gradcheck.c -- finite-difference gradient checks and tensor comparisons (see gradcheck.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "gradcheck.h"
#include "test.h"

double gc_dot(const float *out, const float *R, size_t n) {
    double s = 0.0;
    for (size_t i = 0; i < n; i++)
        s += (double)out[i] * (double)R[i];
    return s;
}

double gc_rel_l2(const float *a, const float *ref, size_t n) {
    double d = 0.0, r = 0.0;
    for (size_t i = 0; i < n; i++) {
        double x = (double)a[i], y = (double)ref[i];
        d += (x - y) * (x - y);
        r += y * y;
    }
    return sqrt(d / (r > 0.0 ? r : 1.0));
}

int gc_finite_at(const char *file, int line, const char *what, const float *g, size_t n) {
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(g[i])) {
            test_fail(file, line, "%s: non-finite analytic value %g at element %zu", what,
                      (double)g[i], i);
            return 0;
        }
    }
    return 1;
}

int gc_fd_check_at(const char *file, int line, const char *what, gc_loss_fn loss, void *ctx,
                   float *x, const float *g_an, size_t n, gc_stencil stencil, gc_stats *stats) {
    gc_stats st = {0};
    if (!gc_finite_at(file, line, what, g_an, n)) {
        if (stats)
            *stats = st;
        return 0;
    }
    double *fd = malloc((n ? n : 1) * sizeof *fd);
    if (!fd)
        abort();
    const float h = GC_FD_H;
    const double hd = (double)h;
    /* The differences run the forward 2-4 times per element, thousands of tiny OpenMP regions
     * per check. On a loaded 2-core machine each region's barrier can cost a scheduler time
     * slice while a spinning thread waits for a descheduled one (measured: 6 s and more
     * instead of 0.1 s for this file under load). The ops promise results independent of the
     * thread count, so the differences use one thread; the analytic gradient was computed by
     * the caller with the configured count, and thread-count equality is T5's subject. */
#ifdef _OPENMP
    int nthreads = omp_get_max_threads();
    omp_set_num_threads(1);
#endif
    for (size_t i = 0; i < n; i++) {
        float x0 = x[i];
        x[i] = x0 + h;
        double fp = loss(ctx);
        x[i] = x0 - h;
        double fm = loss(ctx);
        if (stencil == GC_STENCIL4) {
            x[i] = x0 + 2.0f * h;
            double fpp = loss(ctx);
            x[i] = x0 - 2.0f * h;
            double fmm = loss(ctx);
            fd[i] = (-fpp + 8.0 * fp - 8.0 * fm + fmm) / (12.0 * hd);
        } else {
            fd[i] = (fp - fm) / (2.0 * hd);
        }
        x[i] = x0;
    }
#ifdef _OPENMP
    omp_set_num_threads(nthreads);
#endif
    double asum = 0.0;
    size_t nasym = 0, worst_frac = 0;
    for (size_t i = 0; i < n; i++) {
        double a = (double)g_an[i], b = fd[i], d = fabs(a - b);
        double frac = d / (GC_FD_ATOL + GC_FD_RTOL * fabs(b));
        if (!(frac <= 1.0))
            st.n_bad++;
        if (frac > st.max_frac || isnan(frac)) {
            st.max_frac = isnan(frac) ? (double)INFINITY : frac;
            worst_frac = i;
        }
        if (d > st.max_abs)
            st.max_abs = d;
        if (fabs(a) < GC_ASYM_TINY && fabs(b) < GC_ASYM_TINY)
            continue;
        double s = fabs(a + b);
        asum += s > 0.0 ? d / s : 1.0;
        nasym++;
    }
    st.asym = nasym ? asum / (double)nasym : 0.0;
    char label[160];
    snprintf(label, sizeof label, "fd%d %s", (int)stencil, what);
    tensor_err e = tensor_compare_f64(g_an, fd, n, GC_FD_ATOL, GC_FD_RTOL);
    tensor_err_print(label, e, g_an, fd, n);
    printf("      asym=%.2e over %zu of %zu (ggml bound 1e-4)  worst err/tol=%.3f at %zu\n",
           st.asym, nasym, n, st.max_frac, worst_frac);
    if (st.n_bad)
        test_fail(file, line,
                  "%s: %zu of %zu elements outside 1e-3 + 1e-2|fd|; worst element %zu: analytic "
                  "%.7g, finite difference %.7g",
                  what, st.n_bad, n, worst_frac, (double)g_an[worst_frac], fd[worst_frac]);
    free(fd);
    if (stats)
        *stats = st;
    return st.n_bad == 0;
}

int gc_compare_f64_at(const char *file, int line, const char *what, const float *got,
                      const double *ref, size_t n, double atol, double rtol) {
    tensor_err e = tensor_compare_f64(got, ref, n, atol, rtol);
    tensor_err_print(what, e, got, ref, n);
    if (e.n_bad) {
        size_t w = 0;
        double wf = -1.0;
        for (size_t i = 0; i < n; i++) {
            double d = fabs((double)got[i] - ref[i]);
            double f = d / (atol + rtol * fabs(ref[i]));
            if (isnan(d) || f > wf) {
                wf = isnan(d) ? (double)INFINITY : f;
                w = i;
            }
        }
        test_fail(file, line,
                  "%s: %zu of %zu elements outside %g + %g|ref|; worst element %zu: got %.9g, "
                  "expected %.9g",
                  what, e.n_bad, n, atol, rtol, w, (double)got[w], ref[w]);
    }
    return e.n_bad == 0;
}

int gc_compare_f32_at(const char *file, int line, const char *what, const float *got,
                      const float *ref, size_t n, double atol, double rtol) {
    double *r = malloc((n ? n : 1) * sizeof *r);
    if (!r)
        abort();
    for (size_t i = 0; i < n; i++)
        r[i] = (double)ref[i];
    int ok = gc_compare_f64_at(file, line, what, got, r, n, atol, rtol);
    free(r);
    return ok;
}

int gc_accum_check_at(const char *file, int line, const char *what, const float *got,
                      const float *g0, const float *g, size_t n) {
    double *r = malloc((n ? n : 1) * sizeof *r);
    if (!r)
        abort();
    for (size_t i = 0; i < n; i++)
        r[i] = (double)g0[i] + (double)g[i];
    char label[160];
    snprintf(label, sizeof label, "accum %s", what);
    int ok = gc_compare_f64_at(file, line, label, got, r, n, 1e-5, 1e-4);
    free(r);
    return ok;
}

int gc_bitwise_at(const char *file, int line, const char *what, const float *got, const float *ref,
                  size_t n) {
    for (size_t i = 0; i < n; i++) {
        if (memcmp(&got[i], &ref[i], sizeof(float)) != 0) {
            printf("  %-40s n=%-7zu differs at %zu\n", what, n, i);
            test_fail(file, line, "%s: not bitwise equal at element %zu: %.9g vs %.9g", what, i,
                      (double)got[i], (double)ref[i]);
            return 0;
        }
    }
    printf("  %-40s n=%-7zu bitwise equal\n", what, n);
    return 1;
}

float *gc_zeros(size_t n) {
    float *p = calloc(n ? n : 1, sizeof *p);
    if (!p)
        abort();
    return p;
}

float *gc_uniform(size_t n, unsigned long long seed, float lo, float hi) {
    float *p = gc_zeros(n);
    test_fill_uniform(p, n, seed, lo, hi);
    return p;
}
