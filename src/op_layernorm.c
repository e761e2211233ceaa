/* op_layernorm.c -- LayerNorm over the last axis, eps 1e-6, biased variance (spec section 0).
 *
 * Forward saves mean and rstd per row. Backward: dx over rows, then dw/db over channels in a
 * second loop (each thread owns a channel range), so no atomics and no thread-dependent sums.
 * Statistics accumulate in double. PyTorch: F.layer_norm(x, (C,), w, b, eps=1e-6).
 */
#include <math.h>

#include "ops.h"
#include "parallel.h"
#include "profile.h"

#define RIN_LN_EPS 1e-6

void rin_layernorm_forward(float *out, float *mean, float *rstd, const float *x, const float *w,
                           const float *b, int N, int C) {
    double prof_t0 = RIN_PROF_BEGIN();
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
