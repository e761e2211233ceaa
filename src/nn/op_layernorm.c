/* op_layernorm.c -- LayerNorm over the last axis, eps 1e-6, biased variance (spec section 0).
 *
 * Forward saves mean and rstd per row. Backward: dx over rows, then dw/db over channels in a
 * second loop (each thread owns a channel range), so no atomics and no thread-dependent sums;
 * its AVX2 form keeps 32 channels' sums in registers over the rows, the scalar loop's
 * operations per channel, so the same bits (layernorm_simd_dwdb_matches_scalar).
 * Statistics accumulate in double. PyTorch: F.layer_norm(x, (C,), w, b, eps=1e-6).
 */
#include <math.h>

#include "ops.h"
#include "parallel.h"
#include "profile.h"
#include "simd.h"

#define RIN_LN_EPS 1e-6

#ifdef RIN_X86_SIMD
/* Sum of 4 doubles, in a fixed order. */
RIN_AVX2 static inline double hsum4d(__m256d v) {
    __m128d s = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
    return _mm_cvtsd_f64(_mm_add_sd(s, _mm_unpackhi_pd(s, s)));
}

/* One row's statistics in double, 8 floats at a time (two 4-lane double accumulators), the
 * C % 8 tail scalar: the same values as the scalar loop up to the order of the sums. */
RIN_AVX2 static void ln_row_stats_avx2(const float *x, int C, double *m_out, double *rs_out) {
    int c8 = C & ~7;
    __m256d s0 = _mm256_setzero_pd(), s1 = _mm256_setzero_pd();
    for (int c = 0; c < c8; c += 8) {
        __m256 v = _mm256_loadu_ps(x + c);
        s0 = _mm256_add_pd(s0, _mm256_cvtps_pd(_mm256_castps256_ps128(v)));
        s1 = _mm256_add_pd(s1, _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)));
    }
    double s = hsum4d(_mm256_add_pd(s0, s1));
    for (int c = c8; c < C; c++)
        s += (double)x[c];
    double m = s / C;
    __m256d vm = _mm256_set1_pd(m);
    s0 = _mm256_setzero_pd(), s1 = _mm256_setzero_pd();
    for (int c = 0; c < c8; c += 8) {
        __m256 v = _mm256_loadu_ps(x + c);
        __m256d d0 = _mm256_sub_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(v)), vm);
        __m256d d1 = _mm256_sub_pd(_mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)), vm);
        s0 = _mm256_fmadd_pd(d0, d0, s0);
        s1 = _mm256_fmadd_pd(d1, d1, s1);
    }
    double var = hsum4d(_mm256_add_pd(s0, s1));
    for (int c = c8; c < C; c++) {
        double d = (double)x[c] - m;
        var += d * d;
    }
    *m_out = m;
    *rs_out = 1.0 / sqrt(var / C + RIN_LN_EPS);
}

/* Row r. The parallel loop is the caller's: clang does not carry a target attribute into an
 * outlined OpenMP region. */
RIN_AVX2 static void ln_forward_avx2(float *out, float *mean, float *rstd, const float *x,
                                     const float *w, const float *b, int r, int C) {
    int c8 = C & ~7;
    const float *xr = x + (size_t)r * C;
    float *y = out + (size_t)r * C;
    double m, rs;
    ln_row_stats_avx2(xr, C, &m, &rs);
    float mf = (float)m, rf = (float)rs;
    __m256 vm = _mm256_set1_ps(mf), vr = _mm256_set1_ps(rf);
    for (int c = 0; c < c8; c += 8) {
        __m256 xh = _mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(xr + c), vm), vr);
        _mm256_storeu_ps(y + c,
                         _mm256_fmadd_ps(xh, _mm256_loadu_ps(w + c), _mm256_loadu_ps(b + c)));
    }
    for (int c = c8; c < C; c++)
        y[c] = (xr[c] - mf) * rf * w[c] + b[c];
    mean[r] = mf;
    rstd[r] = rf;
}

RIN_AVX2 static void ln_backward_dx_avx2(float *dx, const float *dout, const float *x,
                                         const float *mean, const float *rstd, const float *w,
                                         int r, int C) {
    int c8 = C & ~7;
    const float *xr = x + (size_t)r * C, *g = dout + (size_t)r * C;
    float *d = dx + (size_t)r * C;
    float m = mean[r], rs = rstd[r];
    __m256 vm = _mm256_set1_ps(m), vr = _mm256_set1_ps(rs);
    __m256d s10 = _mm256_setzero_pd(), s11 = _mm256_setzero_pd();
    __m256d s20 = _mm256_setzero_pd(), s21 = _mm256_setzero_pd();
    for (int c = 0; c < c8; c += 8) {
        __m256 dxh = _mm256_mul_ps(_mm256_loadu_ps(g + c), _mm256_loadu_ps(w + c));
        __m256 xh = _mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(xr + c), vm), vr);
        __m256 p = _mm256_mul_ps(dxh, xh);
        s10 = _mm256_add_pd(s10, _mm256_cvtps_pd(_mm256_castps256_ps128(dxh)));
        s11 = _mm256_add_pd(s11, _mm256_cvtps_pd(_mm256_extractf128_ps(dxh, 1)));
        s20 = _mm256_add_pd(s20, _mm256_cvtps_pd(_mm256_castps256_ps128(p)));
        s21 = _mm256_add_pd(s21, _mm256_cvtps_pd(_mm256_extractf128_ps(p, 1)));
    }
    double s1 = hsum4d(_mm256_add_pd(s10, s11)), s2 = hsum4d(_mm256_add_pd(s20, s21));
    for (int c = c8; c < C; c++) {
        float dxh = g[c] * w[c];
        s1 += (double)dxh;
        s2 += (double)(dxh * ((xr[c] - m) * rs));
    }
    float a = (float)(s1 / C), bb = (float)(s2 / C);
    __m256 va = _mm256_set1_ps(a), vb = _mm256_set1_ps(bb);
    for (int c = 0; c < c8; c += 8) {
        __m256 xh = _mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(xr + c), vm), vr);
        __m256 t = _mm256_sub_ps(_mm256_mul_ps(_mm256_loadu_ps(g + c), _mm256_loadu_ps(w + c)), va);
        t = _mm256_fnmadd_ps(xh, vb, t);
        _mm256_storeu_ps(d + c, _mm256_fmadd_ps(vr, t, _mm256_loadu_ps(d + c)));
    }
    for (int c = c8; c < C; c++) {
        float xh = (xr[c] - m) * rs;
        d[c] += rs * (g[c] * w[c] - a - xh * bb);
    }
}

/* dw, db over channels [lo, hi) and all N rows, 32 then 8 channels at a time in registers, rows
 * in order: per channel the scalar loop's float operations in its order, so the same bits.
 * Returns the first channel left to the scalar loop. */
RIN_AVX2 static long ln_backward_dwdb_avx2(float *dw, float *db, const float *dout, const float *x,
                                           const float *mean, const float *rstd, int N, int C,
                                           long lo, long hi) {
    long c = lo;
    for (; c + 32 <= hi; c += 32) {
        __m256 w0 = _mm256_loadu_ps(dw + c), w1 = _mm256_loadu_ps(dw + c + 8);
        __m256 w2 = _mm256_loadu_ps(dw + c + 16), w3 = _mm256_loadu_ps(dw + c + 24);
        __m256 b0 = _mm256_loadu_ps(db + c), b1 = _mm256_loadu_ps(db + c + 8);
        __m256 b2 = _mm256_loadu_ps(db + c + 16), b3 = _mm256_loadu_ps(db + c + 24);
        for (int r = 0; r < N; r++) {
            const float *xr = x + (size_t)r * C + c, *g = dout + (size_t)r * C + c;
            __m256 vm = _mm256_set1_ps(mean[r]), vr = _mm256_set1_ps(rstd[r]);
#define LN_DWDB(k, W, Bv)                                                                          \
    do {                                                                                           \
        __m256 gk = _mm256_loadu_ps(g + 8 * (k));                                                  \
        __m256 xh = _mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(xr + 8 * (k)), vm), vr);           \
        W = _mm256_add_ps(W, _mm256_mul_ps(gk, xh));                                               \
        Bv = _mm256_add_ps(Bv, gk);                                                                \
    } while (0)
            LN_DWDB(0, w0, b0);
            LN_DWDB(1, w1, b1);
            LN_DWDB(2, w2, b2);
            LN_DWDB(3, w3, b3);
        }
        _mm256_storeu_ps(dw + c, w0), _mm256_storeu_ps(dw + c + 8, w1);
        _mm256_storeu_ps(dw + c + 16, w2), _mm256_storeu_ps(dw + c + 24, w3);
        _mm256_storeu_ps(db + c, b0), _mm256_storeu_ps(db + c + 8, b1);
        _mm256_storeu_ps(db + c + 16, b2), _mm256_storeu_ps(db + c + 24, b3);
    }
    for (; c + 8 <= hi; c += 8) {
        __m256 w0 = _mm256_loadu_ps(dw + c), b0 = _mm256_loadu_ps(db + c);
        for (int r = 0; r < N; r++) {
            const float *xr = x + (size_t)r * C + c, *g = dout + (size_t)r * C + c;
            __m256 vm = _mm256_set1_ps(mean[r]), vr = _mm256_set1_ps(rstd[r]);
            LN_DWDB(0, w0, b0);
        }
#undef LN_DWDB
        _mm256_storeu_ps(dw + c, w0), _mm256_storeu_ps(db + c, b0);
    }
    return c;
}
#endif

void rin_layernorm_forward(float *out, float *mean, float *rstd, const float *x, const float *w,
                           const float *b, int N, int C) {
    double prof_t0 = RIN_PROF_BEGIN();
#ifdef RIN_X86_SIMD
    if (rin_simd_avx2()) {
#pragma omp parallel for
        for (int r = 0; r < N; r++)
            ln_forward_avx2(out, mean, rstd, x, w, b, r, C);
        RIN_PROF_END(LN_FWD, prof_t0, 0);
        return;
    }
#endif
#pragma omp parallel for
    for (int r = 0; r < N; r++) {
        const float *xr = x + (size_t)r * C;
        float *y = out + (size_t)r * C;
        double s = 0.0;
        for (int c = 0; c < C; c++)
            s += (double)xr[c];
        double m = s / C;
        double v = 0.0;
        for (int c = 0; c < C; c++) {
            double d = (double)xr[c] - m;
            v += d * d;
        }
        double rs = 1.0 / sqrt(v / C + RIN_LN_EPS);
        float mf = (float)m, rf = (float)rs;
        for (int c = 0; c < C; c++)
            y[c] = (xr[c] - mf) * rf * w[c] + b[c];
        mean[r] = mf;
        rstd[r] = rf;
    }
    RIN_PROF_END(LN_FWD, prof_t0, 0);
}

void rin_layernorm_backward(float *dx, float *dw, float *db, const float *dout, const float *x,
                            const float *mean, const float *rstd, const float *w, int N, int C) {
    double prof_t0 = RIN_PROF_BEGIN();
    /* y = xhat * w + b, xhat = (x - mean) * rstd
     * dxhat = dy * w;  dx = rstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)) */
#ifdef RIN_X86_SIMD
    if (dx && rin_simd_avx2()) {
#pragma omp parallel for
        for (int r = 0; r < N; r++)
            ln_backward_dx_avx2(dx, dout, x, mean, rstd, w, r, C);
    } else
#endif
        if (dx) {
#pragma omp parallel for
        for (int r = 0; r < N; r++) {
            const float *xr = x + (size_t)r * C, *g = dout + (size_t)r * C;
            float *d = dx + (size_t)r * C;
            float m = mean[r], rs = rstd[r];
            double s1 = 0.0, s2 = 0.0;
            for (int c = 0; c < C; c++) {
                float dxh = g[c] * w[c];
                s1 += (double)dxh;
                s2 += (double)(dxh * ((xr[c] - m) * rs));
            }
            float a = (float)(s1 / C), bb = (float)(s2 / C);
            for (int c = 0; c < C; c++) {
                float xh = (xr[c] - m) * rs;
                d[c] += rs * (g[c] * w[c] - a - xh * bb);
            }
        }
    }
    /* dw = sum_rows dy * xhat; db = sum_rows dy */
#pragma omp parallel
    {
        long lo, hi;
        rin_thread_range(C, &lo, &hi);
#ifdef RIN_X86_SIMD
        if (rin_simd_avx2())
            lo = ln_backward_dwdb_avx2(dw, db, dout, x, mean, rstd, N, C, lo, hi);
#endif
        for (int r = 0; r < N; r++) {
            const float *xr = x + (size_t)r * C, *g = dout + (size_t)r * C;
            float m = mean[r], rs = rstd[r];
            for (long c = lo; c < hi; c++) {
                dw[c] += g[c] * ((xr[c] - m) * rs);
                db[c] += g[c];
            }
        }
    }
    RIN_PROF_END(LN_BWD, prof_t0, 0);
}
