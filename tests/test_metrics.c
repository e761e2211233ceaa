/* test_metrics.c -- the metrics of src/eval/metrics.c against closed forms (T6, evaluation.md 5):
 *   - covariance with the N-1 divisor, and the blocked dsyrk path against a plain double loop;
 *   - the symmetric square root of a known matrix and of random SPD matrices;
 *   - every FD row of the table in section 5 (diagonal example 7, I against [[2,1],[1,2]],
 *     the non-commuting 2x2 case, the scaled covariance 29, FD(X, X) ~ 0), the 2x2 formula
 *     Tr sqrt M = sqrt(tr M + 2 sqrt det M) on random SPD pairs, convergence of FD on Gaussian
 *     samples to the analytic FD, and the n <= d rejection;
 *   - KID: the d = 1 and d = 2 closed forms, a whole-set subset against the direct estimate,
 *     the estimator against a plain loop for m != n, same/different distributions;
 *   - the classifier score cases 1, 10 and 1.139753528477389 and the population std over splits;
 *   - PSNR 20 dB and +inf; SSIM 1, 0.8000639795265515 and ramp images with a closed form.
 * Measured errors are printed on lines starting with "    ".
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "metrics.h"
#include "test.h"

/* ---- helpers --------------------------------------------------------------------------------- */

/* Statistics over caller-owned arrays (not freed), n chosen > d so FD accepts them. */
static rin_feature_stats stats_of(int d, double *mu, double *cov) {
    rin_feature_stats s;
    s.d = d;
    s.n = 1000;
    s.mu = mu;
    s.cov = cov;
    return s;
}

static double fd_of(const rin_feature_stats *a, const rin_feature_stats *b) {
    char err[256] = "";
    double fd = (double)NAN;
    rin_status st = rin_frechet_distance(&fd, a, b, err, sizeof err);
    CHECK_MSG(st == RIN_STATUS_OK, "rin_frechet_distance: %s", err);
    return fd;
}

/* A random SPD (d, d) matrix A A^T / d + eps I with A uniform in [-1, 1). */
static void random_spd(double *S, int d, double eps, rin_rng *r) {
    double *A = malloc((size_t)d * (size_t)d * sizeof *A);
    for (size_t i = 0; i < (size_t)d * (size_t)d; i++)
        A[i] = 2.0 * rin_rng_uniform(r) - 1.0;
    for (int i = 0; i < d; i++)
        for (int j = 0; j < d; j++) {
            double s = 0.0;
            for (int k = 0; k < d; k++)
                s += A[(size_t)i * d + k] * A[(size_t)j * d + k];
            S[(size_t)i * d + j] = s / d + (i == j ? eps : 0.0);
        }
    free(A);
}

/* Lower Cholesky factor L of SPD S (d, d): S = L L^T. */
static void cholesky(double *L, const double *S, int d) {
    memset(L, 0, (size_t)d * (size_t)d * sizeof *L);
    for (int j = 0; j < d; j++) {
        double s = S[(size_t)j * d + j];
        for (int k = 0; k < j; k++)
            s -= L[(size_t)j * d + k] * L[(size_t)j * d + k];
        L[(size_t)j * d + j] = sqrt(s);
        for (int i = j + 1; i < d; i++) {
            double t = S[(size_t)i * d + j];
            for (int k = 0; k < j; k++)
                t -= L[(size_t)i * d + k] * L[(size_t)j * d + k];
            L[(size_t)i * d + j] = t / L[(size_t)j * d + j];
        }
    }
}

/* n samples (n, d) float of N(mu, S). */
static void gaussian_samples(float *x, long n, int d, const double *mu, const double *S,
                             rin_rng *r) {
    double *L = malloc((size_t)d * (size_t)d * sizeof *L);
    double *z = malloc((size_t)d * sizeof *z);
    cholesky(L, S, d);
    for (long i = 0; i < n; i++) {
        for (int k = 0; k < d; k++)
            z[k] = rin_rng_normal(r);
        for (int a = 0; a < d; a++) {
            double v = mu[a];
            for (int k = 0; k <= a; k++)
                v += L[(size_t)a * d + k] * z[k];
            x[(size_t)i * d + a] = (float)v;
        }
    }
    free(L);
    free(z);
}

/* ---- covariance ------------------------------------------------------------------------------ */

TEST(metrics_cov_n_minus_1) {
    const float x[8] = {0, 0, 2, 0, 0, 2, 2, 2};
    rin_feature_stats s;
    char err[256] = "";
    CHECK(rin_stats_compute(&s, x, 4, 2, err, sizeof err) == RIN_STATUS_OK);
    CHECK(s.n == 4 && s.d == 2);
    CHECK_CLOSE(s.mu[0], 1.0, 1e-15, 0);
    CHECK_CLOSE(s.mu[1], 1.0, 1e-15, 0);
    CHECK_CLOSE(s.cov[0], 4.0 / 3.0, 1e-15, 0);
    CHECK_CLOSE(s.cov[3], 4.0 / 3.0, 1e-15, 0);
    CHECK(s.cov[1] == 0.0 && s.cov[2] == 0.0);
    printf("    mu=(%.17g, %.17g) cov diag=(%.17g, %.17g) (4/3 = %.17g)\n", s.mu[0], s.mu[1],
           s.cov[0], s.cov[3], 4.0 / 3.0);
    rin_stats_free(&s);
    CHECK(s.mu == NULL && s.cov == NULL);
}

/* The blocked dsyrk path (2000 rows of d = 300 cross two block boundaries) against a plain
 * two-pass double loop, on features with a large common offset (1000) that a one-pass formula
 * would cancel badly. */
TEST(metrics_cov_blocks_vs_naive) {
    const long n = 2000;
    const int d = 300;
    float *x = malloc((size_t)n * d * sizeof *x);
    test_fill_uniform(x, (size_t)n * d, 11, -1.0f, 1.0f);
    for (size_t i = 0; i < (size_t)n * d; i++)
        x[i] += 1000.0f + (float)(i % d) * 0.01f;
    double *mu = calloc((size_t)d, sizeof *mu);
    double *cov = calloc((size_t)d * d, sizeof *cov);
    for (long i = 0; i < n; i++)
        for (int j = 0; j < d; j++)
            mu[j] += (double)x[(size_t)i * d + j];
    for (int j = 0; j < d; j++)
        mu[j] /= (double)n;
    double *c = malloc((size_t)d * sizeof *c);
    for (long i = 0; i < n; i++) {
        for (int j = 0; j < d; j++)
            c[j] = (double)x[(size_t)i * d + j] - mu[j];
        for (int a = 0; a < d; a++)
            for (int b = a; b < d; b++)
                cov[(size_t)a * d + b] += c[a] * c[b];
    }
    rin_feature_stats s;
    char err[256] = "";
    CHECK(rin_stats_compute(&s, x, n, d, err, sizeof err) == RIN_STATUS_OK);
    double max_mu = 0.0, max_cov = 0.0, max_ref = 0.0;
    int symmetric = 1;
    for (int a = 0; a < d; a++) {
        max_mu = fmax(max_mu, fabs(s.mu[a] - mu[a]) / fabs(mu[a]));
        for (int b = a; b < d; b++) {
            double ref = cov[(size_t)a * d + b] / (double)(n - 1);
            max_ref = fmax(max_ref, fabs(ref));
            max_cov = fmax(max_cov, fabs(s.cov[(size_t)a * d + b] - ref));
            if (s.cov[(size_t)a * d + b] != s.cov[(size_t)b * d + a])
                symmetric = 0;
        }
    }
    printf("    n=%ld d=%d: mu max rel err %.3g, cov max abs err %.3g (max |cov| %.3g)\n", n, d,
           max_mu, max_cov, max_ref);
    CHECK(max_mu <= 1e-15);
    CHECK(max_cov <= 1e-12 * max_ref);
    CHECK(symmetric);
    rin_stats_free(&s);
    free(x);
    free(mu);
    free(cov);
    free(c);
}

TEST(metrics_stats_errors) {
    rin_feature_stats s;
    char err[256] = "";
    float x[6] = {0, 1, 2, 3, 4, 5};
    CHECK(rin_stats_compute(&s, x, 1, 2, err, sizeof err) == RIN_STATUS_ARG);
    CHECK(strstr(err, "n >= 2") != NULL);
    CHECK(s.mu == NULL && s.cov == NULL);
    x[3] = NAN;
    CHECK(rin_stats_compute(&s, x, 3, 2, err, sizeof err) == RIN_STATUS_NONFINITE);
    CHECK(s.mu == NULL);
    rin_stats_free(&s);
}

/* ---- square root and FD ---------------------------------------------------------------------- */

TEST(metrics_sqrtm_known) {
    const double A[4] = {5, 4, 4, 5};
    double R[4];
    CHECK(rin_sqrtm_psd(R, A, 2) == RIN_STATUS_OK);
    const double want[4] = {2, 1, 1, 2};
    double e = 0.0;
    for (int i = 0; i < 4; i++)
        e = fmax(e, fabs(R[i] - want[i]));
    printf("    sqrtm([[5,4],[4,5]]) max abs err vs [[2,1],[1,2]]: %.3g\n", e);
    CHECK(e <= 1e-14);
    /* in place */
    double B[4] = {5, 4, 4, 5};
    CHECK(rin_sqrtm_psd(B, B, 2) == RIN_STATUS_OK);
    CHECK(memcmp(B, R, sizeof B) == 0);

    /* random SPD d = 12: R R = A, R symmetric */
    rin_rng r;
    rin_rng_seed(&r, 5);
    const int d = 12;
    double S[144], Q[144];
    random_spd(S, d, 0.1, &r);
    CHECK(rin_sqrtm_psd(Q, S, d) == RIN_STATUS_OK);
    double err2 = 0.0, smax = 0.0;
    int sym = 1;
    for (int i = 0; i < d; i++)
        for (int j = 0; j < d; j++) {
            double v = 0.0;
            for (int k = 0; k < d; k++)
                v += Q[i * d + k] * Q[k * d + j];
            err2 = fmax(err2, fabs(v - S[i * d + j]));
            smax = fmax(smax, fabs(S[i * d + j]));
            if (Q[i * d + j] != Q[j * d + i])
                sym = 0;
        }
    printf("    random SPD d=12: max |R R - A| = %.3g (max |A| %.3g)\n", err2, smax);
    CHECK(err2 <= 1e-13 * smax);
    CHECK(sym);
    double N[4] = {1, (double)NAN, (double)NAN, 1};
    CHECK(rin_sqrtm_psd(R, N, 2) == RIN_STATUS_NONFINITE);
}

TEST(metrics_fd_diagonal_example) {
    double mu1[2] = {0, 0}, c1[4] = {1, 0, 0, 4};
    double mu2[2] = {1, 2}, c2[4] = {4, 0, 0, 9};
    rin_feature_stats a = stats_of(2, mu1, c1), b = stats_of(2, mu2, c2);
    double fd = fd_of(&a, &b);
    printf("    FD = %.17g (7), err %.3g\n", fd, fd - 7.0);
    CHECK_CLOSE(fd, 7.0, 1e-13, 0);
}

/* Commuting (diagonal) covariances: |dmu|^2 + sum (sqrt s1 - sqrt s2)^2, d = 6 random. */
TEST(metrics_fd_commuting_diagonal) {
    rin_rng r;
    rin_rng_seed(&r, 17);
    const int d = 6;
    double mu1[6], mu2[6], c1[36] = {0}, c2[36] = {0}, want = 0.0;
    for (int i = 0; i < d; i++) {
        mu1[i] = rin_rng_normal(&r);
        mu2[i] = rin_rng_normal(&r);
        c1[i * d + i] = 0.1 + 3.0 * rin_rng_uniform(&r);
        c2[i * d + i] = 0.1 + 3.0 * rin_rng_uniform(&r);
        double dm = mu1[i] - mu2[i], ds = sqrt(c1[i * d + i]) - sqrt(c2[i * d + i]);
        want += dm * dm + ds * ds;
    }
    rin_feature_stats a = stats_of(d, mu1, c1), b = stats_of(d, mu2, c2);
    double fd = fd_of(&a, &b);
    printf("    FD = %.17g, closed form %.17g, err %.3g\n", fd, want, fd - want);
    CHECK_CLOSE(fd, want, 1e-13, 1e-13);
}

TEST(metrics_fd_identity_vs_correlated) {
    double mu[2] = {0.5, -1}, c1[4] = {1, 0, 0, 1}, c2[4] = {2, 1, 1, 2};
    rin_feature_stats a = stats_of(2, mu, c1), b = stats_of(2, mu, c2);
    double fd = fd_of(&a, &b), want = 4.0 - 2.0 * sqrt(3.0);
    printf("    FD = %.17g, 4 - 2 sqrt 3 = %.17g, err %.3g\n", fd, want, fd - want);
    CHECK_CLOSE(fd, want, 1e-14, 0);
    CHECK_CLOSE(fd, 0.5358983848622456, 1e-14, 0);
    /* symmetric in its arguments */
    CHECK_CLOSE(fd_of(&b, &a), want, 1e-14, 0);
}

TEST(metrics_fd_noncommuting_2x2) {
    double mu[2] = {0, 0}, c1[4] = {2, 1, 1, 2}, c2[4] = {1, 0, 0, 4};
    rin_feature_stats a = stats_of(2, mu, c1), b = stats_of(2, mu, c2);
    double fd = fd_of(&a, &b), want = 9.0 - 2.0 * sqrt(10.0 + 4.0 * sqrt(3.0));
    printf("    FD = %.17g, 9 - 2 sqrt(10 + 4 sqrt 3) = %.17g, err %.3g\n", fd, want, fd - want);
    CHECK_CLOSE(fd, want, 1e-14, 0);
    CHECK_CLOSE(fd, 0.7712204476543416, 1e-14, 0);
    CHECK_CLOSE(fd_of(&b, &a), want, 1e-14, 0);
}

/* S2 = c^2 S1: |dmu|^2 + (1 - c)^2 Tr S1; S1 = [[2,1],[1,2]], c = 2, dmu = (3, 4) -> 29. */
TEST(metrics_fd_scaled_covariance) {
    double mu1[2] = {0, 0}, mu2[2] = {3, 4}, c1[4] = {2, 1, 1, 2}, c2[4] = {8, 4, 4, 8};
    rin_feature_stats a = stats_of(2, mu1, c1), b = stats_of(2, mu2, c2);
    double fd = fd_of(&a, &b);
    printf("    FD = %.17g (29), err %.3g\n", fd, fd - 29.0);
    CHECK_CLOSE(fd, 29.0, 1e-13, 0);
}

/* FD(X, X) on N = 500 random samples of d = 16: |FD| <= 1e-10 Tr S (no clamping). */
TEST(metrics_fd_same_statistics) {
    const long n = 500;
    const int d = 16;
    float *x = malloc((size_t)n * d * sizeof *x);
    test_fill_uniform(x, (size_t)n * d, 3, -2.0f, 3.0f);
    rin_feature_stats s;
    char err[256] = "";
    CHECK(rin_stats_compute(&s, x, n, d, err, sizeof err) == RIN_STATUS_OK);
    double tr = 0.0;
    for (int i = 0; i < d; i++)
        tr += s.cov[i * d + i];
    double fd = fd_of(&s, &s);
    printf("    FD(X, X) = %.3g, Tr S = %.6g, |FD| / Tr S = %.3g\n", fd, tr, fabs(fd) / tr);
    CHECK(fabs(fd) <= 1e-10 * tr);
    rin_stats_free(&s);
    free(x);
}

/* The eigen route against Tr sqrt(S1 S2) = sqrt(tr(S1 S2) + 2 sqrt(det S1 det S2)) on random
 * 2x2 SPD pairs. */
TEST(metrics_fd_2x2_formula_random) {
    rin_rng r;
    rin_rng_seed(&r, 23);
    double worst = 0.0;
    for (int t = 0; t < 8; t++) {
        double c1[4], c2[4], mu1[2], mu2[2];
        random_spd(c1, 2, 0.05 + rin_rng_uniform(&r), &r);
        random_spd(c2, 2, 0.05 + rin_rng_uniform(&r), &r);
        for (int i = 0; i < 4; i++) {
            c1[i] *= 1.0 + 4.0 * (double)t;
            c2[i] *= 0.5 + (double)t;
        }
        for (int i = 0; i < 2; i++) {
            mu1[i] = rin_rng_normal(&r);
            mu2[i] = rin_rng_normal(&r);
        }
        double trp = c1[0] * c2[0] + c1[1] * c2[2] + c1[2] * c2[1] + c1[3] * c2[3];
        double det = (c1[0] * c1[3] - c1[1] * c1[2]) * (c2[0] * c2[3] - c2[1] * c2[2]);
        double trs = sqrt(trp + 2.0 * sqrt(det));
        double dm = (mu1[0] - mu2[0]) * (mu1[0] - mu2[0]) + (mu1[1] - mu2[1]) * (mu1[1] - mu2[1]);
        double scale = c1[0] + c1[3] + c2[0] + c2[3];
        double want = dm + scale - 2.0 * trs;
        rin_feature_stats a = stats_of(2, mu1, c1), b = stats_of(2, mu2, c2);
        double fd = fd_of(&a, &b);
        worst = fmax(worst, fabs(fd - want) / scale);
        CHECK_CLOSE(fd, want, 1e-12 * scale, 0);
    }
    printf("    8 random SPD pairs: max |FD - formula| / (Tr S1 + Tr S2) = %.3g\n", worst);
}

/* Samples of N(mu1, S1) and N(mu2, S2), N = 20000, d = 4: FD of the sample statistics within 5%
 * of FD of the exact ones. */
TEST(metrics_fd_gaussian_samples_converge) {
    const long n = 20000;
    const int d = 4;
    rin_rng r;
    rin_rng_seed(&r, 99);
    double mu1[4] = {0, 1, 0, -1}, mu2[4] = {1, 0, 2, -1}, S1[16], S2[16];
    random_spd(S1, d, 0.5, &r);
    random_spd(S2, d, 0.2, &r);
    for (int i = 0; i < 16; i++)
        S2[i] *= 3.0;
    rin_feature_stats ea = stats_of(d, mu1, S1), eb = stats_of(d, mu2, S2);
    double exact = fd_of(&ea, &eb);
    float *x = malloc((size_t)n * d * sizeof *x), *y = malloc((size_t)n * d * sizeof *y);
    gaussian_samples(x, n, d, mu1, S1, &r);
    gaussian_samples(y, n, d, mu2, S2, &r);
    rin_feature_stats a, b;
    char err[256] = "";
    CHECK(rin_stats_compute(&a, x, n, d, err, sizeof err) == RIN_STATUS_OK);
    CHECK(rin_stats_compute(&b, y, n, d, err, sizeof err) == RIN_STATUS_OK);
    double fd = fd_of(&a, &b);
    printf("    N=%ld d=%d: sample FD %.6g, analytic %.6g, rel err %.3g\n", n, d, fd, exact,
           fabs(fd - exact) / exact);
    CHECK_CLOSE(fd, exact, 0, 0.05);
    rin_stats_free(&a);
    rin_stats_free(&b);
    free(x);
    free(y);
}

TEST(metrics_fd_errors) {
    double mu[3] = {0, 0, 0}, c[9] = {1, 0, 0, 0, 1, 0, 0, 0, 1};
    rin_feature_stats a = stats_of(3, mu, c), b = stats_of(3, mu, c);
    char err[256] = "";
    double fd = 0.0;
    a.n = 3; /* n <= d */
    CHECK(rin_frechet_distance(&fd, &a, &b, err, sizeof err) == RIN_STATUS_ARG);
    CHECK(strstr(err, "more samples than feature dimensions") != NULL);
    CHECK(strstr(err, "N=3, d=3") != NULL);
    CHECK(isnan(fd));
    printf("    n <= d: %s\n", err);
    a.n = 4;
    b.n = 2;
    CHECK(rin_frechet_distance(&fd, &a, &b, err, sizeof err) == RIN_STATUS_ARG);
    CHECK(strstr(err, "N=2, d=3") != NULL);
    b.n = 4;
    CHECK(rin_frechet_distance(&fd, &a, &b, err, sizeof err) == RIN_STATUS_OK);
    CHECK(fd == 0.0);
    rin_feature_stats two = stats_of(2, mu, c);
    CHECK(rin_frechet_distance(&fd, &a, &two, err, sizeof err) == RIN_STATUS_ARG);
    CHECK(strstr(err, "dimensions differ") != NULL);
    double cn[9] = {1, 0, 0, 0, (double)NAN, 0, 0, 0, 1};
    rin_feature_stats bad = stats_of(3, mu, cn);
    CHECK(rin_frechet_distance(&fd, &a, &bad, err, sizeof err) == RIN_STATUS_NONFINITE);
}

/* ---- KID ------------------------------------------------------------------------------------- */

TEST(metrics_kid_closed_forms) {
    const double x1[2] = {0, 1}, y1[2] = {0, 2};
    double v1 = rin_kid_mmd2(x1, 2, x1, 2, 1);
    double v2 = rin_kid_mmd2(x1, 2, y1, 2, 1);
    const double x3[6] = {1, 0, 0, 1, 1, 1}, y3[6] = {0, 0, 1, 0, 0, 2};
    double v3 = rin_kid_mmd2(x3, 3, y3, 3, 2);
    printf("    X=Y={0,1}: %.17g (-3.5); {0,1} vs {0,2}: %.17g (-13); d=2: %.17g (-31/12, err "
           "%.3g)\n",
           v1, v2, v3, v3 + 31.0 / 12.0);
    CHECK_CLOSE(v1, -3.5, 1e-12, 0);
    CHECK_CLOSE(v2, -13.0, 1e-12, 0);
    CHECK_CLOSE(v3, -31.0 / 12.0, 1e-12, 0);
    CHECK_CLOSE(v3, -2.583333333333333, 1e-12, 0);
}

/* Plain-loop unbiased MMD^2 with k = (x.y/d + 1)^3 and the full off-diagonal sums. */
static double mmd2_reference(const double *X, long m, const double *Y, long n, int d) {
    double sxx = 0.0, syy = 0.0, sxy = 0.0;
    for (long i = 0; i < m; i++)
        for (long j = 0; j < m; j++)
            if (i != j) {
                double t = 0.0;
                for (int k = 0; k < d; k++)
                    t += X[i * d + k] * X[j * d + k];
                t = t / d + 1.0;
                sxx += t * t * t;
            }
    for (long i = 0; i < n; i++)
        for (long j = 0; j < n; j++)
            if (i != j) {
                double t = 0.0;
                for (int k = 0; k < d; k++)
                    t += Y[i * d + k] * Y[j * d + k];
                t = t / d + 1.0;
                syy += t * t * t;
            }
    for (long i = 0; i < m; i++)
        for (long j = 0; j < n; j++) {
            double t = 0.0;
            for (int k = 0; k < d; k++)
                t += X[i * d + k] * Y[j * d + k];
            t = t / d + 1.0;
            sxy += t * t * t;
        }
    return sxx / ((double)m * (m - 1)) + syy / ((double)n * (n - 1)) - 2.0 * sxy / ((double)m * n);
}

/* m = 150, n = 130 (unequal, across the 64-row blocks), d = 7 against the plain loops. */
TEST(metrics_kid_mmd2_vs_reference) {
    const long m = 150, n = 130;
    const int d = 7;
    rin_rng r;
    rin_rng_seed(&r, 41);
    double *X = malloc((size_t)m * d * sizeof *X), *Y = malloc((size_t)n * d * sizeof *Y);
    for (long i = 0; i < m * d; i++)
        X[i] = rin_rng_normal(&r);
    for (long i = 0; i < n * d; i++)
        Y[i] = 0.3 + rin_rng_normal(&r);
    double got = rin_kid_mmd2(X, m, Y, n, d), want = mmd2_reference(X, m, Y, n, d);
    printf("    m=%ld n=%ld d=%d: %.17g vs loops %.17g, rel err %.3g\n", m, n, d, got, want,
           fabs(got - want) / fabs(want));
    CHECK_CLOSE(got, want, 0, 1e-12);
    free(X);
    free(Y);
}

/* One subset as large as the whole set (or larger: reduced to min(nx, ny)) is the direct
 * estimate on a permutation of the rows. */
TEST(metrics_kid_whole_set_subset) {
    const long n = 90;
    const int d = 5;
    float *x = malloc((size_t)n * d * sizeof *x), *y = malloc((size_t)n * d * sizeof *y);
    test_fill_uniform(x, (size_t)n * d, 7, -1.0f, 1.0f);
    test_fill_uniform(y, (size_t)n * d, 8, -0.8f, 1.2f);
    double *xd = malloc((size_t)n * d * sizeof *xd), *yd = malloc((size_t)n * d * sizeof *yd);
    for (long i = 0; i < n * d; i++) {
        xd[i] = (double)x[i];
        yd[i] = (double)y[i];
    }
    double direct = rin_kid_mmd2(xd, n, yd, n, d);
    double mean = 0.0, std = -1.0;
    char err[256] = "";
    CHECK(rin_kid(&mean, &std, x, n, y, n, d, 1, (int)n, 2020, err, sizeof err) == RIN_STATUS_OK);
    printf("    direct %.17g, one whole-set subset %.17g, rel err %.3g\n", direct, mean,
           fabs(mean - direct) / fabs(direct));
    CHECK_CLOSE(mean, direct, 0, 1e-12);
    CHECK(std == 0.0);
    CHECK(rin_kid(&mean, &std, x, n, y, n, d, 3, 1000, 1, err, sizeof err) == RIN_STATUS_OK);
    CHECK_CLOSE(mean, direct, 0, 1e-12);
    CHECK(std <= 1e-12 * fabs(direct));
    free(x);
    free(y);
    free(xd);
    free(yd);
}

/* Two samples of one Gaussian: the mean over 40 subsets lies within a few std of 0; a sample
 * shifted by 0.5 gives a mean several std above 0; the seed fixes the result. */
TEST(metrics_kid_subsets_distribution) {
    const long n = 600;
    const int d = 8;
    rin_rng r;
    rin_rng_seed(&r, 2024);
    float *x = malloc((size_t)n * d * sizeof *x), *y = malloc((size_t)n * d * sizeof *y);
    float *z = malloc((size_t)n * d * sizeof *z);
    for (long i = 0; i < n * d; i++) {
        x[i] = (float)rin_rng_normal(&r);
        y[i] = (float)rin_rng_normal(&r);
        z[i] = (float)(0.5 + rin_rng_normal(&r));
    }
    double m1, s1, m2, s2, m3, s3;
    char err[256] = "";
    CHECK(rin_kid(&m1, &s1, x, n, y, n, d, 40, 200, 2020, err, sizeof err) == RIN_STATUS_OK);
    CHECK(rin_kid(&m2, &s2, x, n, y, n, d, 40, 200, 2020, err, sizeof err) == RIN_STATUS_OK);
    CHECK(rin_kid(&m3, &s3, x, n, z, n, d, 40, 200, 2020, err, sizeof err) == RIN_STATUS_OK);
    printf("    same distribution: KID %.4g +- %.4g; shifted by 0.5: %.4g +- %.4g\n", m1, s1, m3,
           s3);
    CHECK(s1 > 0.0);
    CHECK(fabs(m1) <= 3.0 * s1);
    CHECK(m1 == m2 && s1 == s2);
    CHECK(m3 > 5.0 * s3 && m3 > 10.0 * fabs(m1));
    double m4, s4;
    CHECK(rin_kid(&m4, &s4, x, n, y, n, d, 40, 200, 2021, err, sizeof err) == RIN_STATUS_OK);
    CHECK(m4 != m1);
    free(x);
    free(y);
    free(z);
}

TEST(metrics_kid_errors) {
    float x[4] = {0, 1, 2, 3};
    double m, s;
    char err[256] = "";
    CHECK(rin_kid(&m, &s, x, 4, x, 4, 1, 0, 2, 1, err, sizeof err) == RIN_STATUS_ARG);
    CHECK(isnan(m) && isnan(s));
    CHECK(rin_kid(&m, &s, x, 4, x, 4, 1, 2, 1, 1, err, sizeof err) == RIN_STATUS_ARG);
    CHECK(rin_kid(&m, &s, x, 1, x, 4, 1, 2, 2, 1, err, sizeof err) == RIN_STATUS_ARG);
    CHECK(strstr(err, "nx=1") != NULL);
    x[2] = INFINITY;
    CHECK(rin_kid(&m, &s, x, 4, x, 4, 1, 2, 4, 1, err, sizeof err) == RIN_STATUS_NONFINITE);
}

/* ---- classifier score ------------------------------------------------------------------------ */

TEST(metrics_cs_uniform_is_one) {
    float l[7 * 5];
    for (int i = 0; i < 35; i++)
        l[i] = 0.75f * (float)(i / 5); /* equal logits within each row */
    double m, s;
    char err[256] = "";
    CHECK(rin_classifier_score(&m, &s, l, 7, 5, 1, 1, err, sizeof err) == RIN_STATUS_OK);
    printf("    uniform logits, 1 split: %.17g (err %.3g)\n", m, m - 1.0);
    CHECK_CLOSE(m, 1.0, 1e-14, 0);
    CHECK(s == 0.0);
    CHECK(rin_classifier_score(&m, &s, l, 7, 5, 3, 1, err, sizeof err) == RIN_STATUS_OK);
    CHECK_CLOSE(m, 1.0, 1e-14, 0);
    CHECK(s <= 1e-14);
}

TEST(metrics_cs_one_hot_is_ten) {
    float l[100] = {0};
    for (int k = 0; k < 10; k++)
        l[k * 10 + k] = 1000.0f;
    double m, s;
    char err[256] = "";
    CHECK(rin_classifier_score(&m, &s, l, 10, 10, 1, 2020, err, sizeof err) == RIN_STATUS_OK);
    printf("    one-hot logits 1000: %.17g (err %.3g)\n", m, m - 10.0);
    CHECK_CLOSE(m, 10.0, 1e-12, 0);
}

TEST(metrics_cs_two_rows) {
    const float l[4] = {(float)log(3.0), 0.0f, 0.0f, (float)log(3.0)};
    double m, s;
    char err[256] = "";
    CHECK(rin_classifier_score(&m, &s, l, 2, 2, 1, 0, err, sizeof err) == RIN_STATUS_OK);
    /* the exact value for the float32-rounded ln 3 */
    double p = 1.0 / (1.0 + exp(-(double)l[0]));
    double want = 2.0 * pow(p, p) * pow(1.0 - p, 1.0 - p);
    double closed = 2.0 * pow(0.75, 0.75) * pow(0.25, 0.25);
    printf("    two rows: %.17g, 2 p^p (1-p)^(1-p) for float ln 3: %.17g (err %.3g); "
           "closed form %.16g (diff %.3g, float ln 3)\n",
           m, want, m - want, closed, m - closed);
    CHECK_CLOSE(m, want, 1e-14, 0);
    CHECK_CLOSE(closed, 1.139753528477389, 1e-15, 0);
    CHECK_CLOSE(m, 1.139753528477389, 1e-7, 0);
}

/* 12 distinct one-hot rows (classes 0..11) in 5 splits: a split with c rows scores exactly c,
 * the sizes are {2, 2, 3, 2, 3} in some order, so mean 2.4 and population std sqrt(0.24)
 * (the sample std would be sqrt(0.3)), whatever the shuffle. */
TEST(metrics_cs_split_mean_std) {
    float l[144] = {0};
    for (int k = 0; k < 12; k++)
        l[k * 12 + k] = 1000.0f;
    double m, s;
    char err[256] = "";
    CHECK(rin_classifier_score(&m, &s, l, 12, 12, 5, 7, err, sizeof err) == RIN_STATUS_OK);
    printf("    mean %.17g (2.4), std %.17g (sqrt 0.24 = %.17g)\n", m, s, sqrt(0.24));
    CHECK_CLOSE(m, 2.4, 1e-12, 0);
    CHECK_CLOSE(s, sqrt(0.24), 1e-12, 0);
}

TEST(metrics_cs_errors) {
    float l[6] = {0, 1, 2, 3, 4, 5};
    double m, s;
    char err[256] = "";
    CHECK(rin_classifier_score(&m, &s, l, 3, 2, 4, 1, err, sizeof err) == RIN_STATUS_ARG);
    CHECK(strstr(err, "splits") != NULL);
    CHECK(isnan(m) && isnan(s));
    CHECK(rin_classifier_score(&m, &s, l, 3, 2, 0, 1, err, sizeof err) == RIN_STATUS_ARG);
    l[5] = NAN;
    CHECK(rin_classifier_score(&m, &s, l, 3, 2, 1, 1, err, sizeof err) == RIN_STATUS_NONFINITE);
    CHECK(strstr(err, "row 2") != NULL);
}

/* ---- PSNR and SSIM --------------------------------------------------------------------------- */

TEST(metrics_psnr) {
    float a[100] = {0}, b[100] = {0};
    b[37] = 1.0f; /* MSE = 1/100 */
    double p = rin_psnr(a, b, 100, 1.0);
    printf("    MSE 0.01, MAX 1: %.17g dB (err %.3g)\n", p, p - 20.0);
    CHECK_CLOSE(p, 20.0, 1e-12, 0);
    b[37] = 255.0f;
    CHECK_CLOSE(rin_psnr(a, b, 100, 255.0), 20.0, 1e-12, 0);
    CHECK(isinf(rin_psnr(a, a, 100, 1.0)) && rin_psnr(a, a, 100, 1.0) > 0);
    b[37] = 0.5f; /* MSE = 0.0025: 26.0206 dB */
    CHECK_CLOSE(rin_psnr(a, b, 100, 1.0), 10.0 * log10(400.0), 1e-12, 0);
}

TEST(metrics_ssim_identical_and_constant) {
    const int H = 16, W = 20, C = 3;
    float *a = malloc((size_t)H * W * C * sizeof *a);
    test_fill_uniform(a, (size_t)H * W * C, 5, 0.0f, 1.0f);
    double s = rin_ssim(a, a, H, W, C, 1.0);
    printf("    identical: %.17g (err %.3g)\n", s, s - 1.0);
    CHECK_CLOSE(s, 1.0, 1e-15, 0);

    float *x = malloc((size_t)H * W * sizeof *x), *y = malloc((size_t)H * W * sizeof *y);
    for (int i = 0; i < H * W; i++) {
        x[i] = 0.5f;
        y[i] = 0.25f;
    }
    double want = (2 * 0.5 * 0.25 + 1e-4) / (0.25 + 0.0625 + 1e-4);
    double c = rin_ssim(x, y, H, W, 1, 1.0);
    printf("    constant 0.5 vs 0.25: %.17g, closed form %.17g (err %.3g)\n", c, want, c - want);
    CHECK_CLOSE(c, want, 1e-13, 0);
    CHECK_CLOSE(c, 0.8000639795265515, 1e-13, 0);
    /* the same with L = 255 and values scaled by 255 */
    for (int i = 0; i < H * W; i++) {
        x[i] = 127.5f;
        y[i] = 63.75f;
    }
    CHECK_CLOSE(rin_ssim(x, y, H, W, 1, 255.0), want, 1e-12, 0);
    /* symmetric */
    float *b = malloc((size_t)H * W * C * sizeof *b);
    test_fill_uniform(b, (size_t)H * W * C, 6, 0.0f, 1.0f);
    double ab = rin_ssim(a, b, H, W, C, 1.0), ba = rin_ssim(b, a, H, W, C, 1.0);
    CHECK_CLOSE(ab, ba, 1e-15, 0);
    CHECK(ab < 0.5);
    free(a);
    free(b);
    free(x);
    free(y);
}

/* NHWC: channel 0 identical, channel 1 constants 0.5 / 0.25: the mean over channels. */
TEST(metrics_ssim_channel_mean) {
    const int H = 12, W = 11, C = 2;
    float a[12 * 11 * 2], b[12 * 11 * 2];
    test_fill_uniform(a, sizeof a / sizeof a[0], 9, 0.0f, 1.0f);
    for (int p = 0; p < H * W; p++) {
        b[p * C] = a[p * C];
        a[p * C + 1] = 0.5f;
        b[p * C + 1] = 0.25f;
    }
    double s = rin_ssim(a, b, H, W, C, 1.0), want = (1.0 + 0.8000639795265515) / 2.0;
    printf("    channel mean: %.17g vs %.17g (err %.3g)\n", s, want, s - want);
    CHECK_CLOSE(s, want, 1e-13, 0);
}

/* A linear ramp a = s t + t0 along one axis and b = beta a + c. By the symmetry and unit sum of
 * the window, at every valid centre mu_a is the centre value, var_a = s^2 v1 with v1 the 1-D
 * window's variance sum_k g_k (k-5)^2, var_b = beta^2 var_a, cov_ab = beta var_a. So
 * SSIM = mean over centres of ((2 mu_a mu_b + C1)(2 beta var_a + C2)) /
 * ((mu_a^2 + mu_b^2 + C1)((1 + beta^2) var_a + C2)); both orientations, H != W. */
TEST(metrics_ssim_ramp_closed_form) {
    const int H = 13, W = 24;
    const double sl = 1.0 / 64.0, t0 = 0.125, beta = 0.5, cc = 0.25, c1 = 1e-4, c2 = 9e-4;
    double g[11], gs = 0.0, v1 = 0.0;
    for (int k = 0; k < 11; k++) {
        g[k] = exp(-(double)((k - 5) * (k - 5)) / (2.0 * 1.5 * 1.5));
        gs += g[k];
    }
    for (int k = 0; k < 11; k++)
        v1 += g[k] / gs * (double)((k - 5) * (k - 5));
    float a[13 * 24], b[13 * 24];
    for (int dir = 0; dir < 2; dir++) {
        for (int i = 0; i < H; i++)
            for (int j = 0; j < W; j++) {
                double v = sl * (dir == 0 ? j : i) + t0;
                a[i * W + j] = (float)v;
                b[i * W + j] = (float)(beta * v + cc);
            }
        int ncent = dir == 0 ? W - 10 : H - 10, nother = dir == 0 ? H - 10 : W - 10;
        double want = 0.0, va = sl * sl * v1;
        for (int p = 5; p < 5 + ncent; p++) {
            double ma = sl * p + t0, mb = beta * ma + cc;
            want += ((2 * ma * mb + c1) * (2 * beta * va + c2)) /
                    ((ma * ma + mb * mb + c1) * ((1 + beta * beta) * va + c2));
        }
        want = want * nother / ((double)ncent * nother);
        double s = rin_ssim(a, b, H, W, 1, 1.0);
        printf("    ramp along %s: %.17g, closed form %.17g (err %.3g)\n", dir == 0 ? "W" : "H", s,
               want, s - want);
        CHECK_CLOSE(s, want, 1e-12, 0);
    }
}
