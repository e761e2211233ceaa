/* op_pointwise.c -- exact GELU, SiLU, residual add with drop-path, dropout, row broadcast.
 *
 * GELU is the exact erf form (tf.nn.gelu default, spec pitfall 16), never the tanh
 * approximation. Dropout masks come from the counter RNG (rng.c), so a mask element depends
 * only on (seed, stream, index): the same seed gives the same result for any thread count.
 */
#include <math.h>

#include "internal.h"
#include "ops.h"
#include "parallel.h"

void rin_gelu_forward(float *out, const float *x, size_t n) {
#pragma omp parallel for
    for (size_t i = 0; i < n; i++) {
        float v = x[i];
        out[i] = 0.5f * v * (1.0f + erff(v * 0.70710678118654752f));
    }
}

void rin_gelu_backward(float *dx, const float *dout, const float *x, size_t n) {
    /* gelu'(x) = Phi(x) + x phi(x) */
#pragma omp parallel for
    for (size_t i = 0; i < n; i++) {
        float v = x[i];
        float cdf = 0.5f * (1.0f + erff(v * 0.70710678118654752f));
        float pdf = 0.39894228040143268f * expf(-0.5f * v * v);
        dx[i] += dout[i] * (cdf + v * pdf);
    }
}

void rin_silu_forward(float *out, const float *x, size_t n) {
#pragma omp parallel for
    for (size_t i = 0; i < n; i++) {
        float v = x[i];
        out[i] = v / (1.0f + expf(-v));
    }
}

void rin_silu_backward(float *dx, const float *dout, const float *x, size_t n) {
    /* silu'(x) = s (1 + x (1 - s)), s = sigmoid(x) */
#pragma omp parallel for
    for (size_t i = 0; i < n; i++) {
        float v = x[i];
        float s = 1.0f / (1.0f + expf(-v));
        dx[i] += dout[i] * (s * (1.0f + v * (1.0f - s)));
    }
}

void rin_residual_forward(float *y, const float *x, const float *f, const float *scale, int B,
                          size_t per_example) {
#pragma omp parallel for
    for (int b = 0; b < B; b++) {
        float s = scale ? scale[b] : 1.0f;
        size_t o = (size_t)b * per_example;
        for (size_t i = 0; i < per_example; i++)
            y[o + i] = x[o + i] + s * f[o + i];
    }
}

void rin_dropout_apply(float *x, uint64_t seed, uint64_t stream, float rate, uint64_t first,
                       size_t n) {
    if (rate <= 0.0f)
        return;
    float keep_scale = 1.0f / (1.0f - rate);
#pragma omp parallel for
    for (size_t i = 0; i < n; i++)
        x[i] = rin_counter_uniform(seed, stream, first + i) >= rate ? x[i] * keep_scale : 0.0f;
}

void rin_add_rows_forward(float *y, const float *x, const float *t, int B, int N, int C) {
    size_t per = (size_t)N * C;
#pragma omp parallel for
    for (int b = 0; b < B; b++)
        for (size_t i = 0; i < per; i++)
            y[(size_t)b * per + i] = x[(size_t)b * per + i] + t[i];
}

void rin_add_rows_backward(float *dt, const float *dy, int B, int N, int C) {
    long per = (long)N * C;
#pragma omp parallel
    {
        long lo, hi;
        rin_thread_range(per, &lo, &hi);
        for (int b = 0; b < B; b++)
            for (long i = lo; i < hi; i++)
                dt[i] += dy[(size_t)b * per + i];
    }
}
