/* op_conv.c -- 2-D convolution, 2x2 max pooling, ReLU and softmax cross-entropy, forward and
 * backward, for the evaluation feature network (featnet.c; shared/spec/evaluation.md 4.2).
 *
 * Layout: images NHWC, conv weights (Co, kh, kw, Ci), so that one im2col row ordered
 * (i, j, ci) times one weight row is one output value. The fast convolution writes the im2col
 * matrix into a caller-provided buffer and hands the product to rin_linear_forward/backward
 * (cblas_sgemm under RIN_BLAS); the *_naive functions are direct loops over the image, the
 * reference the tests compare against. Valid padding and stride 1 only: that is all the
 * LeNet-style network needs. Not a general convolution library (no padding, stride, dilation,
 * groups).
 *
 * Parallel loops give each thread whole rows (or whole images, or whole output channels), and
 * every sum runs in a fixed order, so results do not depend on the thread count.
 *
 * PyTorch equivalents, with NHWC <-> NCHW permutes: F.conv2d, F.max_pool2d(x, 2), F.relu,
 * F.cross_entropy (see the comments in ops.h).
 */
#include <math.h>
#include <string.h>

#include "internal.h"
#include "ops.h"

/* ---- im2col and its adjoint -------------------------------------------------------------- */

/* col (B*Ho*Wo, kh*kw*Ci) = patches of x (B,H,W,Ci). For a fixed kernel row i the kw*Ci values
 * x[b, y+i, x..x+kw-1, :] are contiguous in NHWC, so each row is kh copies. Overwrites. */
static void im2col(float *col, const float *x, int B, int H, int W, int Ci, int kh, int kw) {
    const int Ho = H - kh + 1, Wo = W - kw + 1;
    const long rows = (long)B * Ho * Wo;
    const size_t K = (size_t)kh * kw * Ci, span = (size_t)kw * Ci;
#pragma omp parallel for
    for (long r = 0; r < rows; r++) {
        int b = (int)(r / ((long)Ho * Wo)), rem = (int)(r % ((long)Ho * Wo));
        int y = rem / Wo, xo = rem % Wo;
        float *dst = col + (size_t)r * K;
        for (int i = 0; i < kh; i++) {
            const float *src = x + (((size_t)b * H + (size_t)(y + i)) * W + (size_t)xo) * Ci;
            memcpy(dst + (size_t)i * span, src, span * sizeof *dst);
        }
    }
}

/* dx (B,H,W,Ci) += the sum of dcol's entries over every place im2col copied them from. One
 * thread per image, rows in order, so each dx element is summed in a fixed order. */
static void col2im_add(float *dx, const float *dcol, int B, int H, int W, int Ci, int kh, int kw) {
    const int Ho = H - kh + 1, Wo = W - kw + 1;
    const size_t K = (size_t)kh * kw * Ci, span = (size_t)kw * Ci;
#pragma omp parallel for
    for (int b = 0; b < B; b++) {
        for (int y = 0; y < Ho; y++)
            for (int xo = 0; xo < Wo; xo++) {
                const float *src = dcol + (((size_t)b * Ho + (size_t)y) * Wo + (size_t)xo) * K;
                for (int i = 0; i < kh; i++) {
                    float *d = dx + (((size_t)b * H + (size_t)(y + i)) * W + (size_t)xo) * Ci;
                    const float *s = src + (size_t)i * span;
                    for (size_t k = 0; k < span; k++)
                        d[k] += s[k];
                }
            }
    }
}

/* ---- conv2d ------------------------------------------------------------------------------ */

void rin_conv2d_forward(float *out, float *col, const float *x, const float *w, const float *b,
                        int B, int H, int W, int Ci, int Co, int kh, int kw) {
    RIN_ASSERT(B >= 0 && kh >= 1 && kw >= 1 && H >= kh && W >= kw && Ci >= 1 && Co >= 1);
    const int Ho = H - kh + 1, Wo = W - kw + 1;
    im2col(col, x, B, H, W, Ci, kh, kw);
    /* out (B*Ho*Wo, Co) = col (B*Ho*Wo, K) @ w (Co, K)^T + b */
    rin_linear_forward(out, col, w, b, B * Ho * Wo, kh * kw * Ci, Co, RIN_PRECISION_FP32);
}

void rin_conv2d_backward(float *dx, float *dw, float *db, float *dcol, const float *dout,
                         const float *col, const float *w, int B, int H, int W, int Ci, int Co,
                         int kh, int kw) {
    RIN_ASSERT(B >= 0 && kh >= 1 && kw >= 1 && H >= kh && W >= kw && Ci >= 1 && Co >= 1);
    RIN_ASSERT(!dx || dcol);
    const int Ho = H - kh + 1, Wo = W - kw + 1;
    const int N = B * Ho * Wo, K = kh * kw * Ci;
    /* forward: out = col @ w^T + b, col = im2col(x) */
    if (dx)
        memset(dcol, 0, (size_t)N * (size_t)K * sizeof *dcol);
    /* dcol = dout @ w; dw += dout^T @ col; db += column sums of dout */
    rin_linear_backward(dx ? dcol : NULL, dw, db, dout, col, w, N, K, Co, RIN_PRECISION_FP32);
    /* dx += im2col^T(dcol) */
    if (dx)
        col2im_add(dx, dcol, B, H, W, Ci, kh, kw);
}

void rin_conv2d_forward_naive(float *out, const float *x, const float *w, const float *b, int B,
                              int H, int W, int Ci, int Co, int kh, int kw) {
    RIN_ASSERT(B >= 0 && kh >= 1 && kw >= 1 && H >= kh && W >= kw && Ci >= 1 && Co >= 1);
    const int Ho = H - kh + 1, Wo = W - kw + 1;
    const long rows = (long)B * Ho;
#pragma omp parallel for
    for (long r = 0; r < rows; r++) {
        int bi = (int)(r / Ho), y = (int)(r % Ho);
        for (int xo = 0; xo < Wo; xo++) {
            float *o = out + (((size_t)bi * Ho + (size_t)y) * Wo + (size_t)xo) * Co;
            for (int co = 0; co < Co; co++) {
                float acc = 0.0f;
                for (int i = 0; i < kh; i++)
                    for (int j = 0; j < kw; j++) {
                        const float *xp =
                            x + (((size_t)bi * H + (size_t)(y + i)) * W + (size_t)(xo + j)) * Ci;
                        const float *wp = w + (((size_t)co * kh + (size_t)i) * kw + (size_t)j) * Ci;
                        for (int c = 0; c < Ci; c++)
                            acc += xp[c] * wp[c];
                    }
                o[co] = acc + (b ? b[co] : 0.0f);
            }
        }
    }
}

void rin_conv2d_backward_naive(float *dx, float *dw, float *db, const float *dout, const float *x,
                               const float *w, int B, int H, int W, int Ci, int Co, int kh,
                               int kw) {
    RIN_ASSERT(B >= 0 && kh >= 1 && kw >= 1 && H >= kh && W >= kw && Ci >= 1 && Co >= 1);
    const int Ho = H - kh + 1, Wo = W - kw + 1;
    /* forward: out[b,y,x,o] = b[o] + sum_{i,j,c} x[b,y+i,x+j,c] w[o,i,j,c] */
    if (dx) {
        /* dx[b,y+i,x+j,c] += dout[b,y,x,o] w[o,i,j,c]: one thread per image */
#pragma omp parallel for
        for (int bi = 0; bi < B; bi++)
            for (int y = 0; y < Ho; y++)
                for (int xo = 0; xo < Wo; xo++) {
                    const float *g = dout + (((size_t)bi * Ho + (size_t)y) * Wo + (size_t)xo) * Co;
                    for (int co = 0; co < Co; co++)
                        for (int i = 0; i < kh; i++)
                            for (int j = 0; j < kw; j++) {
                                float *dxp = dx + (((size_t)bi * H + (size_t)(y + i)) * W +
                                                   (size_t)(xo + j)) *
                                                      Ci;
                                const float *wp =
                                    w + (((size_t)co * kh + (size_t)i) * kw + (size_t)j) * Ci;
                                for (int c = 0; c < Ci; c++)
                                    dxp[c] += g[co] * wp[c];
                            }
                }
    }
    /* dw[o,i,j,c] += sum_{b,y,x} dout[b,y,x,o] x[b,y+i,x+j,c]; db[o] += sum dout[...,o]:
     * one thread per output channel */
#pragma omp parallel for
    for (int co = 0; co < Co; co++) {
        float bsum = 0.0f;
        float *dwo = dw + (size_t)co * kh * kw * Ci;
        for (int bi = 0; bi < B; bi++)
            for (int y = 0; y < Ho; y++)
                for (int xo = 0; xo < Wo; xo++) {
                    float g = dout[(((size_t)bi * Ho + (size_t)y) * Wo + (size_t)xo) * Co + co];
                    bsum += g;
                    for (int i = 0; i < kh; i++)
                        for (int j = 0; j < kw; j++) {
                            const float *xp =
                                x +
                                (((size_t)bi * H + (size_t)(y + i)) * W + (size_t)(xo + j)) * Ci;
                            float *dwp = dwo + ((size_t)i * kw + (size_t)j) * Ci;
                            for (int c = 0; c < Ci; c++)
                                dwp[c] += g * xp[c];
                        }
                }
        if (db)
            db[co] += bsum;
    }
}

/* ---- 2x2 max pooling --------------------------------------------------------------------- */

void rin_maxpool2_forward(float *out, int *arg, const float *x, int B, int H, int W, int C) {
    const int Ho = H / 2, Wo = W / 2;
    const long rows = (long)B * Ho;
#pragma omp parallel for
    for (long r = 0; r < rows; r++) {
        int b = (int)(r / Ho), y = (int)(r % Ho);
        for (int xo = 0; xo < Wo; xo++) {
            size_t o = (((size_t)b * Ho + (size_t)y) * Wo + (size_t)xo) * C;
            for (int c = 0; c < C; c++) {
                float best = 0.0f;
                int at = -1;
                for (int k = 0; k < 4; k++) {
                    int di = k >> 1, dj = k & 1;
                    float v =
                        x[(((size_t)b * H + (size_t)(2 * y + di)) * W + (size_t)(2 * xo + dj)) * C +
                          (size_t)c];
                    /* strict >: the first maximum wins; a NaN is taken if it comes first */
                    if (at < 0 || v > best) {
                        best = v;
                        at = k;
                    }
                }
                out[o + (size_t)c] = best;
                arg[o + (size_t)c] = at;
            }
        }
    }
}

void rin_maxpool2_backward(float *dx, const float *dout, const int *arg, int B, int H, int W,
                           int C) {
    const int Ho = H / 2, Wo = W / 2;
    const long rows = (long)B * Ho;
    /* forward: out[b,y,x,c] = x[b, 2y+di, 2x+dj, c] at the saved (di,dj); windows do not
     * overlap, so each dx element receives at most one term */
#pragma omp parallel for
    for (long r = 0; r < rows; r++) {
        int b = (int)(r / Ho), y = (int)(r % Ho);
        for (int xo = 0; xo < Wo; xo++) {
            size_t o = (((size_t)b * Ho + (size_t)y) * Wo + (size_t)xo) * C;
            for (int c = 0; c < C; c++) {
                int k = arg[o + (size_t)c], di = k >> 1, dj = k & 1;
                dx[(((size_t)b * H + (size_t)(2 * y + di)) * W + (size_t)(2 * xo + dj)) * C +
                   (size_t)c] += dout[o + (size_t)c];
            }
        }
    }
}

/* ---- ReLU -------------------------------------------------------------------------------- */

void rin_relu_forward(float *out, const float *x, size_t n) {
#pragma omp parallel for
    for (size_t i = 0; i < n; i++)
        out[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

void rin_relu_backward(float *dx, const float *dout, const float *y, size_t n) {
    /* forward: y = max(x, 0); dy/dx = 1 where x > 0 (0 at the kink, as PyTorch) */
#pragma omp parallel for
    for (size_t i = 0; i < n; i++)
        if (y[i] > 0.0f)
            dx[i] += dout[i];
}

/* ---- softmax cross-entropy --------------------------------------------------------------- */

double rin_softmax_xent_forward_backward(float *dlogits, const float *logits, const int *labels,
                                         int B, int K) {
    RIN_ASSERT(B >= 0 && K >= 1);
    double total = 0.0;
    for (int b = 0; b < B; b++) {
        const float *z = logits + (size_t)b * K;
        int y = labels[b];
        RIN_ASSERT(y >= 0 && y < K);
        double mx = (double)z[0];
        for (int k = 1; k < K; k++)
            if ((double)z[k] > mx)
                mx = (double)z[k];
        double s = 0.0;
        for (int k = 0; k < K; k++)
            s += exp((double)z[k] - mx);
        double lse = mx + log(s);
        /* loss_b = logsumexp(z) - z_y */
        total += lse - (double)z[y];
        if (dlogits) {
            /* d loss / d z_k = (softmax(z)_k - [k == y]) / B */
            float *g = dlogits + (size_t)b * K;
            for (int k = 0; k < K; k++) {
                double p = exp((double)z[k] - lse);
                g[k] = (float)((p - (k == y ? 1.0 : 0.0)) / (double)B);
            }
        }
    }
    return B ? total / (double)B : 0.0;
}
