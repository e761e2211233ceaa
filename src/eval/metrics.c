/* metrics.c -- sample-quality metrics, all arithmetic in float64 (evaluation.md 3.4).
 *
 * What each function follows (shared/spec/evaluation.md):
 *   - rin_stats_compute: mean and unbiased (N-1) covariance, as np.cov(act, rowvar=False) in
 *     pytorch-fid and TF-GAN's Xc^T Xc / (N-1) (section 3.1, recipe step 1): two passes, the
 *     centred rows go to dsyrk in blocks of about 2 MiB.
 *   - rin_sqrtm_psd, rin_frechet_distance: the symmetric route of section 3.1 (TF-GAN's
 *     trace_sqrt_product, with dsyevd instead of its SVD): sqrt(S1) = V diag(sqrt(max(w,0))) V^T,
 *     M = sqrt(S1) S2 sqrt(S1) symmetrised, Tr sqrt(S1 S2) = sum sqrt(max(eig(M), 0)). FD needs
 *     N > d for both sets (TTUR README); no eps*I is added and the result is not clamped.
 *   - rin_kid_mmd2, rin_kid: torch-fidelity metric_kid.py (section 3.3): k(x,y) = (x.y/d + 1)^3
 *     computed as (dot * gamma + coef0)^3 with gamma = 1/d as sklearn's polynomial_kernel does,
 *     the unbiased MMD^2 of mmd2(), subsets drawn without replacement, mean and np.std
 *     (population, ddof = 0) over subsets.
 *   - rin_classifier_score: torch-fidelity metric_isc.py (section 3.2): seeded shuffle, split s
 *     is rows [s*N/splits, (s+1)*N/splits) (integer division, as torch-fidelity and OpenAI's
 *     inception_score), p = softmax, log_p = log_softmax, q = mean p over the split, score =
 *     exp(mean_rows sum_y p (log_p - log q)), mean and np.std (population) over splits.
 *   - rin_psnr, rin_ssim: section 6.3; SSIM as tf.image.ssim (Wang et al. 2004): 11x11 Gaussian
 *     window sigma 1.5 normalised to sum 1, valid positions only, C1 = (0.01 L)^2,
 *     C2 = (0.03 L)^2, population (weighted) statistics, map averaged over pixels and channels.
 *
 * The shuffles use rin_rng (xoshiro256**), not numpy's RandomState(2020), so subsets and splits
 * are not the reference libraries' exact ones; the estimators are. BLAS (OpenBLAS cblas_d*) is
 * used under RIN_BLAS and called from serial code only; a BLAS=none build runs plain loops.
 * LAPACKE (dsyevd) is always required: link -llapacke (evaluation.md 4.3).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <lapacke.h>
#ifdef RIN_BLAS
#include <cblas.h>
#endif
/* lapacke.h and cblas.h pull in <complex.h>, whose macro I is not wanted here. */
#undef I

#include "internal.h"
#include "metrics.h"

#define STATS_BLOCK_DOUBLES ((size_t)1 << 18) /* centred rows per dsyrk call: 2 MiB */
#define KID_BLOCK_ROWS      64                /* Gram rows per dgemm call in rin_kid_mmd2 */
#define SSIM_WIN            11                /* window size of tf.image.ssim */
#define SSIM_SIGMA          1.5
#define SSIM_TILE           256 /* output columns per tile of the separable SSIM filter */

/* ---- small helpers --------------------------------------------------------------------------- */

static int all_finite(const double *x, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i]))
            return 0;
    return 1;
}

/* M = (M + M^T) / 2 for a (d, d) row-major matrix. */
static void symmetrise(double *M, int d) {
    for (int i = 0; i < d; i++)
        for (int j = i + 1; j < d; j++) {
            double v = 0.5 * (M[(size_t)i * d + j] + M[(size_t)j * d + i]);
            M[(size_t)i * d + j] = v;
            M[(size_t)j * d + i] = v;
        }
}

/* C = A B (trans_b == 0) or A B^T (trans_b != 0), all (d, d) row-major; C must not alias. */
static void matmul_dd(double *C, const double *A, const double *B, int d, int trans_b) {
#ifdef RIN_BLAS
    cblas_dgemm(CblasRowMajor, CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans, d, d, d, 1.0, A,
                d, B, d, 0.0, C, d);
#else
    size_t n = (size_t)d;
#pragma omp parallel for
    for (int i = 0; i < d; i++) {
        double *c = C + (size_t)i * n;
        for (size_t j = 0; j < n; j++)
            c[j] = 0.0;
        for (size_t k = 0; k < n; k++) {
            double a = A[(size_t)i * n + k];
            if (trans_b)
                for (size_t j = 0; j < n; j++)
                    c[j] += a * B[j * n + k];
            else
                for (size_t j = 0; j < n; j++)
                    c[j] += a * B[k * n + j];
        }
    }
#endif
}

/* Uniform integer in [0, n), n >= 1, without modulo bias (rejection). */
static uint64_t rng_below(rin_rng *r, uint64_t n) {
    uint64_t limit = UINT64_MAX - UINT64_MAX % n; /* accept u < limit */
    uint64_t u;
    do
        u = rin_rng_u64(r);
    while (u >= limit);
    return u % n;
}

/* Partial Fisher-Yates: afterwards idx[0..k) is a uniform random k-subset of the n entries of
 * idx, in random order (whatever order idx had before). */
static void partial_shuffle(long *idx, long n, long k, rin_rng *r) {
    for (long i = 0; i < k && i < n - 1; i++) {
        long j = i + (long)rng_below(r, (uint64_t)(n - i));
        long t = idx[i];
        idx[i] = idx[j];
        idx[j] = t;
    }
}

/* Mean and population standard deviation (np.mean, np.std with ddof = 0) of v (n). */
static void mean_pop_std(double *mean, double *std, const double *v, long n) {
    double s = 0.0;
    for (long i = 0; i < n; i++)
        s += v[i];
    double m = s / (double)n, ss = 0.0;
    for (long i = 0; i < n; i++)
        ss += (v[i] - m) * (v[i] - m);
    *mean = m;
    *std = sqrt(ss / (double)n);
}

/* ---- feature statistics ---------------------------------------------------------------------- */

/* Two passes in double: mu = sum x / n, then cov = sum (x - mu)(x - mu)^T / (n - 1) over blocks
 * of centred rows (dsyrk, upper triangle, alpha = 1/(n-1)), then the lower triangle is copied
 * from the upper. On failure *s is left zeroed (rin_stats_free is still safe). */
rin_status rin_stats_compute(rin_feature_stats *s, const float *feats, long n, int d, char *err,
                             size_t errlen) {
    memset(s, 0, sizeof *s);
    if (n < 2 || d < 1)
        return rin_errorf(err, errlen, RIN_STATUS_ARG,
                          "feature statistics need n >= 2 samples and d >= 1 (n=%ld, d=%d)", n, d);
    size_t dd = (size_t)d;
    size_t rows = STATS_BLOCK_DOUBLES / dd;
    if (rows < 1)
        rows = 1;
    if (rows > (size_t)n)
        rows = (size_t)n;
    double *mu = calloc(dd, sizeof *mu);
    double *cov = calloc(dd * dd, sizeof *cov);
    double *blk = malloc(rows * dd * sizeof *blk);
    if (!mu || !cov || !blk) {
        free(mu);
        free(cov);
        free(blk);
        return rin_errorf(err, errlen, RIN_STATUS_NOMEM,
                          "feature statistics: out of memory for d=%d (%zu bytes of covariance)", d,
                          dd * dd * sizeof(double));
    }

    for (size_t i = 0; i < (size_t)n; i++) {
        const float *x = feats + i * dd;
        for (size_t j = 0; j < dd; j++)
            mu[j] += (double)x[j];
    }
    for (size_t j = 0; j < dd; j++)
        mu[j] /= (double)n;
    if (!all_finite(mu, dd)) {
        free(mu);
        free(cov);
        free(blk);
        return rin_errorf(err, errlen, RIN_STATUS_NONFINITE,
                          "feature statistics: the features contain NaN or infinite values");
    }

    double alpha = 1.0 / (double)(n - 1);
    for (size_t r0 = 0; r0 < (size_t)n; r0 += rows) {
        size_t nb = (size_t)n - r0 < rows ? (size_t)n - r0 : rows;
        for (size_t i = 0; i < nb; i++) {
            const float *x = feats + (r0 + i) * dd;
            double *c = blk + i * dd;
            for (size_t j = 0; j < dd; j++)
                c[j] = (double)x[j] - mu[j];
        }
#ifdef RIN_BLAS
        cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, d, (int)nb, alpha, blk, d, 1.0, cov, d);
#else
#pragma omp parallel for schedule(dynamic)
        for (int i = 0; i < d; i++) {
            double *ci = cov + (size_t)i * dd;
            for (size_t r = 0; r < nb; r++) {
                const double *row = blk + r * dd;
                double xi = alpha * row[i];
                for (size_t j = (size_t)i; j < dd; j++)
                    ci[j] += xi * row[j];
            }
        }
#endif
    }
    for (size_t i = 0; i < dd; i++)
        for (size_t j = i + 1; j < dd; j++)
            cov[j * dd + i] = cov[i * dd + j];
    free(blk);
    s->d = d;
    s->n = n;
    s->mu = mu;
    s->cov = cov;
    return RIN_STATUS_OK;
}

void rin_stats_free(rin_feature_stats *s) {
    if (!s)
        return;
    free(s->mu);
    free(s->cov);
    memset(s, 0, sizeof *s);
}

/* ---- matrix square root and Frechet distance ------------------------------------------------- */

/* rin_sqrtm_psd with LAPACK's info returned (0 when dsyevd was not reached or succeeded). */
static rin_status sqrtm_psd_info(double *out, const double *A, int d, int *info) {
    *info = 0;
    if (d < 1)
        return RIN_STATUS_ARG;
    size_t dd = (size_t)d;
    if (!all_finite(A, dd * dd))
        return RIN_STATUS_NONFINITE;
    double *V = malloc(dd * dd * sizeof *V);
    double *B = malloc(dd * dd * sizeof *B);
    double *w = malloc(dd * sizeof *w);
    if (!V || !B || !w) {
        free(V);
        free(B);
        free(w);
        return RIN_STATUS_NOMEM;
    }
    memcpy(V, A, dd * dd * sizeof *V);
    /* Row-major: column k of V is the eigenvector of w[k]. */
    lapack_int inf = LAPACKE_dsyevd(LAPACK_ROW_MAJOR, 'V', 'U', d, V, d, w);
    if (inf != 0) {
        *info = (int)inf;
        free(V);
        free(B);
        free(w);
        return (inf == LAPACK_WORK_MEMORY_ERROR || inf == LAPACK_TRANSPOSE_MEMORY_ERROR)
                   ? RIN_STATUS_NOMEM
                   : RIN_STATUS_ARG;
    }
    /* B = V diag(sqrt(max(w, 0))), out = B V^T: negative round-off eigenvalues clip to 0. */
    for (size_t k = 0; k < dd; k++) {
        double sk = sqrt(w[k] > 0.0 ? w[k] : 0.0);
        for (size_t i = 0; i < dd; i++)
            B[i * dd + k] = V[i * dd + k] * sk;
    }
    matmul_dd(out, B, V, d, 1);
    symmetrise(out, d);
    free(V);
    free(B);
    free(w);
    return RIN_STATUS_OK;
}

/* V diag(sqrt(max(w, 0))) V^T from dsyevd('V'). out may alias A (A is copied first). Returns
 * RIN_STATUS_NONFINITE for a NaN/Inf entry, RIN_STATUS_NOMEM, or RIN_STATUS_ARG for d < 1 or a
 * dsyevd failure. */
rin_status rin_sqrtm_psd(double *out, const double *A, int d) {
    int info;
    return sqrtm_psd_info(out, A, d, &info);
}

/* Validates one statistics struct for FD; which = 1 or 2 names it in the message. */
static rin_status check_fd_stats(const rin_feature_stats *s, int which, char *err, size_t errlen) {
    if (!s->mu || !s->cov || s->d < 1)
        return rin_errorf(err, errlen, RIN_STATUS_ARG,
                          "Frechet distance: statistics %d are empty (d=%d)", which, s->d);
    if (s->n <= (long)s->d)
        return rin_errorf(err, errlen, RIN_STATUS_ARG,
                          "Frechet distance needs more samples than feature dimensions "
                          "(statistics %d: N=%ld, d=%d); the covariance is singular otherwise",
                          which, s->n, s->d);
    size_t dd = (size_t)s->d;
    if (!all_finite(s->mu, dd) || !all_finite(s->cov, dd * dd))
        return rin_errorf(err, errlen, RIN_STATUS_NONFINITE,
                          "Frechet distance: statistics %d contain NaN or infinite values", which);
    return RIN_STATUS_OK;
}

/* FD = |mu1 - mu2|^2 + Tr S1 + Tr S2 - 2 sum sqrt(max(eig(sqrt(S1) S2 sqrt(S1)), 0)), the
 * recipe of evaluation.md 3.1 (two dsyevd calls). *fd is NaN on failure. */
rin_status rin_frechet_distance(double *fd, const rin_feature_stats *a, const rin_feature_stats *b,
                                char *err, size_t errlen) {
    *fd = (double)NAN;
    rin_status st;
    if (a->d != b->d)
        return rin_errorf(err, errlen, RIN_STATUS_ARG,
                          "Frechet distance: feature dimensions differ (%d vs %d)", a->d, b->d);
    if ((st = check_fd_stats(a, 1, err, errlen)) != RIN_STATUS_OK ||
        (st = check_fd_stats(b, 2, err, errlen)) != RIN_STATUS_OK)
        return st;
    int d = a->d;
    size_t dd = (size_t)d;
    double *sq = malloc(dd * dd * sizeof *sq);
    double *T = malloc(dd * dd * sizeof *T);
    double *M = malloc(dd * dd * sizeof *M);
    double *w = malloc(dd * sizeof *w);
    if (!sq || !T || !M || !w) {
        st = rin_errorf(err, errlen, RIN_STATUS_NOMEM, "Frechet distance: out of memory (d=%d)", d);
        goto done;
    }
    int info;
    st = sqrtm_psd_info(sq, a->cov, d, &info);
    if (st != RIN_STATUS_OK) {
        st = rin_errorf(err, errlen, st,
                        "Frechet distance: LAPACKE_dsyevd('V') for sqrt(S1) failed (info=%d, d=%d)",
                        info, d);
        goto done;
    }
    matmul_dd(T, sq, b->cov, d, 0); /* sqrt(S1) S2 */
    matmul_dd(M, T, sq, d, 0);      /* sqrt(S1) S2 sqrt(S1) */
    symmetrise(M, d);
    lapack_int inf = LAPACKE_dsyevd(LAPACK_ROW_MAJOR, 'N', 'U', d, M, d, w);
    if (inf != 0) {
        st = rin_errorf(err, errlen,
                        (inf == LAPACK_WORK_MEMORY_ERROR || inf == LAPACK_TRANSPOSE_MEMORY_ERROR)
                            ? RIN_STATUS_NOMEM
                            : RIN_STATUS_ARG,
                        "Frechet distance: LAPACKE_dsyevd('N') on sqrt(S1) S2 sqrt(S1) failed "
                        "(info=%d, d=%d)",
                        (int)inf, d);
        goto done;
    }
    double tr_sqrt = 0.0, tr1 = 0.0, tr2 = 0.0, dmu = 0.0;
    for (size_t k = 0; k < dd; k++)
        tr_sqrt += sqrt(w[k] > 0.0 ? w[k] : 0.0);
    for (size_t k = 0; k < dd; k++) {
        double diff = a->mu[k] - b->mu[k];
        dmu += diff * diff;
        tr1 += a->cov[k * dd + k];
        tr2 += b->cov[k * dd + k];
    }
    *fd = dmu + tr1 + tr2 - 2.0 * tr_sqrt;
    st = RIN_STATUS_OK;
done:
    free(sq);
    free(T);
    free(M);
    free(w);
    return st;
}

/* ---- KID ------------------------------------------------------------------------------------- */

/* The cubic polynomial kernel from a dot product, as sklearn: (dot * gamma + 1)^3. */
static inline double poly3(double dot, double gamma) {
    double t = dot * gamma + 1.0;
    return t * t * t;
}

/* sum over i < m, j < n of k(X_i, Y_j); with upper != 0 (X == Y, m == n) only over i < j.
 * Rows are summed in j order and then added in i order. Plain loops. */
static double kernel_sum_loops(const double *X, long m, const double *Y, long n, int d,
                               double gamma, int upper) {
    double total = 0.0;
    for (long i = 0; i < m; i++) {
        const double *x = X + (size_t)i * (size_t)d;
        double row = 0.0;
        for (long j = upper ? i + 1 : 0; j < n; j++) {
            const double *y = Y + (size_t)j * (size_t)d;
            double dot = 0.0;
            for (int k = 0; k < d; k++)
                dot += x[k] * y[k];
            row += poly3(dot, gamma);
        }
        total += row;
    }
    return total;
}

#ifdef RIN_BLAS
/* kernel_sum_loops with the dot products from dgemm, KID_BLOCK_ROWS rows of X at a time; for
 * upper only the columns j >= the block's first row are formed. G: KID_BLOCK_ROWS * n. */
static double kernel_sum_blas(const double *X, long m, const double *Y, long n, int d, double gamma,
                              int upper, double *G) {
    double total = 0.0;
    for (long i0 = 0; i0 < m; i0 += KID_BLOCK_ROWS) {
        long nb = m - i0 < KID_BLOCK_ROWS ? m - i0 : KID_BLOCK_ROWS;
        long j0 = upper ? i0 : 0, nc = n - j0;
        if (nc <= 0)
            break;
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)nb, (int)nc, d, 1.0,
                    X + (size_t)i0 * (size_t)d, d, Y + (size_t)j0 * (size_t)d, d, 0.0, G, (int)nc);
        for (long r = 0; r < nb; r++) {
            const double *g = G + (size_t)r * (size_t)nc;
            long c0 = upper ? (i0 + r + 1) - j0 : 0;
            double row = 0.0;
            for (long c = c0; c < nc; c++)
                row += poly3(g[c], gamma);
            total += row;
        }
    }
    return total;
}
#endif

/* Unbiased MMD^2 (torch-fidelity mmd2, mmd_est='unbiased'), generalised to m != n:
 *   sum_{i!=j} K_XX / (m(m-1)) + sum_{i!=j} K_YY / (n(n-1)) - 2 sum K_XY / (m n);
 * for m == n the first two terms are (sum K_XX + sum K_YY) / (m(m-1)) as in torch-fidelity.
 * Requires m, n >= 2 and d >= 1 (RIN_ASSERT). The off-diagonal sums use symmetry: 2 sum_{i<j}.
 * With BLAS the dot products come from dgemm on 64-row blocks (falling back to the loops if the
 * block buffer cannot be allocated), so results differ from the loops only by rounding. */
double rin_kid_mmd2(const double *X, long m, const double *Y, long n, int d) {
    RIN_ASSERT(m >= 2 && n >= 2 && d >= 1);
    double gamma = 1.0 / (double)d;
    double sxx, syy, sxy;
#ifdef RIN_BLAS
    long cols = m > n ? m : n;
    double *G = malloc((size_t)KID_BLOCK_ROWS * (size_t)cols * sizeof *G);
    if (G) {
        sxx = 2.0 * kernel_sum_blas(X, m, X, m, d, gamma, 1, G);
        syy = 2.0 * kernel_sum_blas(Y, n, Y, n, d, gamma, 1, G);
        sxy = kernel_sum_blas(X, m, Y, n, d, gamma, 0, G);
        free(G);
    } else
#endif
    {
        sxx = 2.0 * kernel_sum_loops(X, m, X, m, d, gamma, 1);
        syy = 2.0 * kernel_sum_loops(Y, n, Y, n, d, gamma, 1);
        sxy = kernel_sum_loops(X, m, Y, n, d, gamma, 0);
    }
    double dm = (double)m, dn = (double)n, within;
    if (m == n)
        within = (sxx + syy) / (dm * (dm - 1.0));
    else
        within = sxx / (dm * (dm - 1.0)) + syy / (dn * (dn - 1.0));
    return within - 2.0 * sxy / (dm * dn);
}

/* torch-fidelity's protocol (defaults: 100 subsets of 1000, rng_seed 2020): per subset, draw
 * subset_size rows of X and then of Y without replacement (partial Fisher-Yates with a rin_rng
 * seeded by seed), convert to double, rin_kid_mmd2. subset_size is reduced to min(nx, ny) when
 * larger (clean-fid's rule; torch-fidelity refuses instead). std is np.std, the population
 * standard deviation (ddof = 0), as torch-fidelity reports it. */
rin_status rin_kid(double *mean, double *std, const float *X, long nx, const float *Y, long ny,
                   int d, int subsets, int subset_size, uint64_t seed, char *err, size_t errlen) {
    *mean = (double)NAN;
    *std = (double)NAN;
    if (d < 1 || subsets < 1 || subset_size < 2 || nx < 2 || ny < 2)
        return rin_errorf(err, errlen, RIN_STATUS_ARG,
                          "KID needs d >= 1, subsets >= 1, subset_size >= 2 and at least 2 "
                          "samples per set (d=%d, subsets=%d, subset_size=%d, nx=%ld, ny=%ld)",
                          d, subsets, subset_size, nx, ny);
    long m = subset_size;
    if (m > nx)
        m = nx;
    if (m > ny)
        m = ny;
    size_t dd = (size_t)d;
    long *ix = malloc((size_t)nx * sizeof *ix);
    long *iy = malloc((size_t)ny * sizeof *iy);
    double *xs = malloc((size_t)m * dd * sizeof *xs);
    double *ys = malloc((size_t)m * dd * sizeof *ys);
    double *vals = malloc((size_t)subsets * sizeof *vals);
    rin_status st = RIN_STATUS_OK;
    if (!ix || !iy || !xs || !ys || !vals) {
        st = rin_errorf(err, errlen, RIN_STATUS_NOMEM,
                        "KID: out of memory (nx=%ld, ny=%ld, subset %ld x %d)", nx, ny, m, d);
        goto done;
    }
    for (long i = 0; i < nx; i++)
        ix[i] = i;
    for (long i = 0; i < ny; i++)
        iy[i] = i;
    rin_rng rng;
    rin_rng_seed(&rng, seed);
    for (int s = 0; s < subsets; s++) {
        partial_shuffle(ix, nx, m, &rng);
        partial_shuffle(iy, ny, m, &rng);
        for (long i = 0; i < m; i++) {
            const float *x = X + (size_t)ix[i] * dd;
            const float *y = Y + (size_t)iy[i] * dd;
            for (size_t k = 0; k < dd; k++) {
                xs[(size_t)i * dd + k] = (double)x[k];
                ys[(size_t)i * dd + k] = (double)y[k];
            }
        }
        if (!all_finite(xs, (size_t)m * dd) || !all_finite(ys, (size_t)m * dd)) {
            st = rin_errorf(err, errlen, RIN_STATUS_NONFINITE,
                            "KID: the features contain NaN or infinite values");
            goto done;
        }
        vals[s] = rin_kid_mmd2(xs, m, ys, m, d);
    }
    mean_pop_std(mean, std, vals, subsets);
done:
    free(ix);
    free(iy);
    free(xs);
    free(ys);
    free(vals);
    return st;
}

/* ---- classifier score ------------------------------------------------------------------------ */

/* log_softmax of one row of K float logits into lp (double): (x - max) - log sum exp(x - max). */
static void log_softmax_row(double *lp, const float *x, int K) {
    double mx = (double)x[0];
    for (int k = 1; k < K; k++)
        if ((double)x[k] > mx)
            mx = (double)x[k];
    double s = 0.0;
    for (int k = 0; k < K; k++)
        s += exp((double)x[k] - mx);
    double ls = log(s);
    for (int k = 0; k < K; k++)
        lp[k] = ((double)x[k] - mx) - ls;
}

/* torch-fidelity isc_features_to_metric with a rin_rng shuffle. Split s covers the shuffled rows
 * [s*n/splits, (s+1)*n/splits). Terms with p == 0 (exp underflow) contribute 0 (the limit of
 * p log p), where torch would produce NaN only if a whole split underflows for one class.
 * std is np.std over splits (population). Requires 1 <= splits <= n. */
rin_status rin_classifier_score(double *mean, double *std, const float *logits, long n, int K,
                                int splits, uint64_t seed, char *err, size_t errlen) {
    *mean = (double)NAN;
    *std = (double)NAN;
    if (n < 1 || K < 1 || splits < 1 || splits > n)
        return rin_errorf(err, errlen, RIN_STATUS_ARG,
                          "classifier score needs n >= 1, K >= 1 and 1 <= splits <= n "
                          "(n=%ld, K=%d, splits=%d)",
                          n, K, splits);
    size_t kk = (size_t)K;
    for (size_t i = 0; i < (size_t)n * kk; i++)
        if (!isfinite(logits[i]))
            return rin_errorf(err, errlen, RIN_STATUS_NONFINITE,
                              "classifier score: logit %zu (row %zu) is not finite", i % kk,
                              i / kk);
    long *perm = malloc((size_t)n * sizeof *perm);
    double *lp = malloc(kk * sizeof *lp);
    double *logq = malloc(kk * sizeof *logq);
    double *scores = malloc((size_t)splits * sizeof *scores);
    rin_status st = RIN_STATUS_OK;
    if (!perm || !lp || !logq || !scores) {
        st =
            rin_errorf(err, errlen, RIN_STATUS_NOMEM, "classifier score: out of memory (n=%ld)", n);
        goto done;
    }
    for (long i = 0; i < n; i++)
        perm[i] = i;
    rin_rng rng;
    rin_rng_seed(&rng, seed);
    partial_shuffle(perm, n, n, &rng);
    for (int s = 0; s < splits; s++) {
        long lo = (long)((int64_t)s * n / splits), hi = (long)((int64_t)(s + 1) * n / splits);
        /* q = mean of p over the split's rows */
        for (size_t k = 0; k < kk; k++)
            logq[k] = 0.0;
        for (long r = lo; r < hi; r++) {
            log_softmax_row(lp, logits + (size_t)perm[r] * kk, K);
            for (size_t k = 0; k < kk; k++)
                logq[k] += exp(lp[k]);
        }
        for (size_t k = 0; k < kk; k++)
            logq[k] = log(logq[k] / (double)(hi - lo));
        /* mean over rows of KL(p || q) */
        double kl = 0.0;
        for (long r = lo; r < hi; r++) {
            log_softmax_row(lp, logits + (size_t)perm[r] * kk, K);
            double row = 0.0;
            for (size_t k = 0; k < kk; k++) {
                double p = exp(lp[k]);
                if (p > 0.0)
                    row += p * (lp[k] - logq[k]);
            }
            kl += row;
        }
        scores[s] = exp(kl / (double)(hi - lo));
    }
    mean_pop_std(mean, std, scores, splits);
done:
    free(perm);
    free(lp);
    free(logq);
    free(scores);
    return st;
}

/* ---- PSNR and SSIM --------------------------------------------------------------------------- */

/* 10 log10(max_val^2 / MSE), MSE the double mean of squared differences; +INFINITY when the
 * inputs are equal. Requires n >= 1 (RIN_ASSERT). */
double rin_psnr(const float *a, const float *b, size_t n, double max_val) {
    RIN_ASSERT(n >= 1);
    double se = 0.0;
    for (size_t i = 0; i < n; i++) {
        double e = (double)a[i] - (double)b[i];
        se += e * e;
    }
    double mse = se / (double)n;
    if (mse == 0.0)
        return (double)INFINITY;
    return 10.0 * log10(max_val * max_val / mse);
}

/* Sum of the SSIM map over the valid positions of channel c. Separable filtering: the five
 * weighted sums (x, y, x^2, y^2, xy) are filtered down the 11 rows, then across 11 columns, in
 * tiles of SSIM_TILE output columns (so no allocation). Variances and the covariance are
 * E[x^2] - E[x]^2 etc., tf.image.ssim's form, evaluated in double. */
static double ssim_channel_sum(const float *a, const float *b, int H, int W, int C, int c,
                               const double *g, double c1, double c2) {
    double v[5][SSIM_TILE + SSIM_WIN - 1];
    double total = 0.0;
    int wo = W - SSIM_WIN + 1;
    for (int i = 0; i + SSIM_WIN <= H; i++) {
        double rowsum = 0.0;
        for (int j0 = 0; j0 < wo; j0 += SSIM_TILE) {
            int nout = wo - j0 < SSIM_TILE ? wo - j0 : SSIM_TILE;
            int nin = nout + SSIM_WIN - 1;
            for (int jj = 0; jj < nin; jj++) {
                double sx = 0.0, sy = 0.0, sxx = 0.0, syy = 0.0, sxy = 0.0;
                for (int k = 0; k < SSIM_WIN; k++) {
                    size_t o =
                        ((size_t)(i + k) * (size_t)W + (size_t)(j0 + jj)) * (size_t)C + (size_t)c;
                    double x = (double)a[o], y = (double)b[o], w = g[k];
                    sx += w * x;
                    sy += w * y;
                    sxx += w * x * x;
                    syy += w * y * y;
                    sxy += w * x * y;
                }
                v[0][jj] = sx;
                v[1][jj] = sy;
                v[2][jj] = sxx;
                v[3][jj] = syy;
                v[4][jj] = sxy;
            }
            for (int jo = 0; jo < nout; jo++) {
                double mx = 0.0, my = 0.0, exx = 0.0, eyy = 0.0, exy = 0.0;
                for (int k = 0; k < SSIM_WIN; k++) {
                    double w = g[k];
                    mx += w * v[0][jo + k];
                    my += w * v[1][jo + k];
                    exx += w * v[2][jo + k];
                    eyy += w * v[3][jo + k];
                    exy += w * v[4][jo + k];
                }
                double vx = exx - mx * mx, vy = eyy - my * my, cxy = exy - mx * my;
                rowsum += ((2.0 * mx * my + c1) * (2.0 * cxy + c2)) /
                          ((mx * mx + my * my + c1) * (vx + vy + c2));
            }
        }
        total += rowsum;
    }
    return total;
}

/* SSIM of two (H, W, C) images with data range L, as tf.image.ssim (see the file comment): the
 * mean of the SSIM map over the (H-10)(W-10) valid positions and the C channels. The 2-D window
 * is the outer product of the normalised 1-D Gaussian exp(-(k-5)^2 / (2 1.5^2)), which equals
 * tf's softmax-normalised 2-D kernel. Requires H, W >= 11 and C >= 1 (RIN_ASSERT), as tf.image.ssim
 * requires images at least as large as the filter. */
double rin_ssim(const float *a, const float *b, int H, int W, int C, double L) {
    RIN_ASSERT(H >= SSIM_WIN && W >= SSIM_WIN && C >= 1);
    double g[SSIM_WIN], gs = 0.0;
    for (int k = 0; k < SSIM_WIN; k++) {
        double t = (double)(k - SSIM_WIN / 2);
        g[k] = exp(-t * t / (2.0 * SSIM_SIGMA * SSIM_SIGMA));
        gs += g[k];
    }
    for (int k = 0; k < SSIM_WIN; k++)
        g[k] /= gs;
    double c1 = (0.01 * L) * (0.01 * L), c2 = (0.03 * L) * (0.03 * L);
    double total = 0.0;
    for (int c = 0; c < C; c++)
        total += ssim_channel_sum(a, b, H, W, C, c, g, c1, c2);
    double count = (double)C * (double)(H - SSIM_WIN + 1) * (double)(W - SSIM_WIN + 1);
    return total / count;
}
