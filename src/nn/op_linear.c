/* op_linear.c -- fully connected layer, forward and backward.
 *
 * out (N,O) = in (N,I) @ w^T + b with w in PyTorch layout (O,I). The GEMMs go to rin_sgemm
 * (gemm.h: OpenBLAS or oneDNN, tiles independent of the thread count) when built with BLAS,
 * or to rin_gemm_bf16 in bf16 precision; the *_naive loops are the reference the tests compare
 * against and the fp32 path of a BLAS=none build. Bias work is split over output features,
 * so every sum runs over rows in a fixed order whatever the thread count.
 */
#include <string.h>

#include "gemm.h"
#include "ops.h"
#include "parallel.h"
#include "profile.h"

void rin_linear_forward_naive(float *out, const float *in, const float *w, const float *b, int N,
                              int I, int O) {
#pragma omp parallel for
    for (int r = 0; r < N; r++) {
        const float *x = in + (size_t)r * I;
        for (int o = 0; o < O; o++) {
            const float *wr = w + (size_t)o * I;
            float acc = 0.0f;
            for (int i = 0; i < I; i++)
                acc += x[i] * wr[i];
            out[(size_t)r * O + o] = acc + (b ? b[o] : 0.0f);
        }
    }
}

void rin_linear_backward_naive(float *din, float *dw, float *db, const float *dout, const float *in,
                               const float *w, int N, int I, int O) {
    if (din) {
#pragma omp parallel for
        for (int r = 0; r < N; r++) {
            const float *g = dout + (size_t)r * O;
            float *dx = din + (size_t)r * I;
            for (int o = 0; o < O; o++) {
                const float *wr = w + (size_t)o * I;
                for (int i = 0; i < I; i++)
                    dx[i] += g[o] * wr[i];
            }
        }
    }
#pragma omp parallel for
    for (int o = 0; o < O; o++) {
        float *dwr = dw + (size_t)o * I;
        float bsum = 0.0f;
        for (int r = 0; r < N; r++) {
            float g = dout[(size_t)r * O + o];
            const float *x = in + (size_t)r * I;
            for (int i = 0; i < I; i++)
                dwr[i] += g * x[i];
            bsum += g;
        }
        if (db)
            db[o] += bsum;
    }
}

/* The GEMM paths: gemm is rin_sgemm or rin_gemm_bf16 (rin_gemm_for). */
static void linear_forward_gemm(rin_gemm_fn gemm, float *out, const float *in, const float *w,
                                const float *b, int N, int I, int O) {
    /* the bias is the GEMM's starting value (beta 1): one pass over out, not two */
    if (b) {
#pragma omp parallel for schedule(static)
        for (int r = 0; r < N; r++)
            memcpy(out + (size_t)r * O, b, (size_t)O * sizeof *out);
    }
    gemm(0, 1, N, O, I, 1.0f, in, I, w, I, b ? 1.0f : 0.0f, out, O);
}

static void linear_backward_gemm(rin_gemm_fn gemm, float *din, float *dw, float *db,
                                 const float *dout, const float *in, const float *w, int N, int I,
                                 int O) {
    /* din (N,I) += dout (N,O) @ w (O,I) */
    if (din)
        gemm(0, 0, N, I, O, 1.0f, dout, O, w, I, 1.0f, din, I);
    /* dw (O,I) += dout^T (O,N) @ in (N,I) */
    gemm(1, 0, O, I, N, 1.0f, dout, O, in, I, 1.0f, dw, I);
    /* db (O) += column sums of dout: each thread a block of features, rows in order */
    if (db) {
#pragma omp parallel
        {
            long lo, hi;
            rin_thread_range(O, &lo, &hi);
            for (int r = 0; r < N; r++) {
                const float *g = dout + (size_t)r * O;
                for (long o = lo; o < hi; o++)
                    db[o] += g[o];
            }
        }
    }
}

void rin_linear_forward(float *out, const float *in, const float *w, const float *b, int N, int I,
                        int O, rin_precision prec) {
    if (N == 0)
        return;
    double prof_t0 = RIN_PROF_BEGIN();
    rin_gemm_fn gemm = rin_gemm_for(prec);
    if (gemm)
        linear_forward_gemm(gemm, out, in, w, b, N, I, O);
    else
        rin_linear_forward_naive(out, in, w, b, N, I, O);
    RIN_PROF_END(LINEAR_FWD, prof_t0, 2.0 * N * I * O);
}

void rin_linear_backward(float *din, float *dw, float *db, const float *dout, const float *in,
                         const float *w, int N, int I, int O, rin_precision prec) {
    if (N == 0)
        return;
    double prof_t0 = RIN_PROF_BEGIN();
    rin_gemm_fn gemm = rin_gemm_for(prec);
    if (gemm)
        linear_backward_gemm(gemm, din, dw, db, dout, in, w, N, I, O);
    else
        rin_linear_backward_naive(din, dw, db, dout, in, w, N, I, O);
    RIN_PROF_END(LINEAR_BWD, prof_t0, (din ? 4.0 : 2.0) * N * I * O);
}
