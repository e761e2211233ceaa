/* op_linear.c -- fully connected layer, forward and backward.
 *
 * out (N,O) = in (N,I) @ w^T + b with w in PyTorch layout (O,I). The GEMMs go to cblas_sgemm
 * (row-major) when built with BLAS, called from serial code so a threaded BLAS does not nest
 * inside OpenMP; the *_naive loops are the reference the tests compare against and the path of
 * a BLAS=none build. Bias work is split over output features, so every sum runs over rows in a
 * fixed order whatever the thread count.
 */
#include "ops.h"
#include "parallel.h"

#ifdef RIN_BLAS
#include <cblas.h>
/* OpenBLAS's cblas.h pulls in <complex.h>, whose macro I would rename our dimension. */
#undef I
#endif

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

void rin_linear_backward_naive(float *din, float *dw, float *db, const float *dout,
                               const float *in, const float *w, int N, int I, int O) {
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

#ifdef RIN_BLAS
/* db (O) += column sums of dout (N,O); each thread owns a range of columns. */
static void bias_backward(float *db, const float *dout, int N, int O) {
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

void rin_linear_forward(float *out, const float *in, const float *w, const float *b, int N, int I,
                        int O) {
    if (N == 0)
        return;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, O, I, 1.0f, in, I, w, I, 0.0f, out,
                O);
    if (b) {
#pragma omp parallel for
        for (int r = 0; r < N; r++) {
            float *y = out + (size_t)r * O;
            for (int o = 0; o < O; o++)
                y[o] += b[o];
        }
    }
}

void rin_linear_backward(float *din, float *dw, float *db, const float *dout, const float *in,
                         const float *w, int N, int I, int O) {
    if (N == 0)
        return;
    /* din (N,I) += dout (N,O) @ w (O,I) */
    if (din)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, I, O, 1.0f, dout, O, w, I, 1.0f,
                    din, I);
    /* dw (O,I) += dout^T (O,N) @ in (N,I) */
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, O, I, N, 1.0f, dout, O, in, I, 1.0f, dw,
                I);
    if (db)
        bias_backward(db, dout, N, O);
}
#else
void rin_linear_forward(float *out, const float *in, const float *w, const float *b, int N, int I,
                        int O) {
    rin_linear_forward_naive(out, in, w, b, N, I, O);
}

void rin_linear_backward(float *din, float *dw, float *db, const float *dout, const float *in,
                         const float *w, int N, int I, int O) {
    rin_linear_backward_naive(din, dw, db, dout, in, w, N, I, O);
}
#endif
