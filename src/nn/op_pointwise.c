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
#include "profile.h"
#include "simd.h"

#ifdef RIN_X86_SIMD
/* The vector paths take 8 elements at a time, the last partial group through a padded copy,
 * so every element goes through the same arithmetic wherever it falls. The parallel loop runs
 * over fixed blocks outside the AVX2 functions (clang does not carry a target attribute into
 * an outlined OpenMP region). */
#define RIN_V8_BLOCK 2048

/* Loads cnt (<= 8) floats, zero-padded. */
RIN_AVX2 static inline __m256 load8(const float *p, size_t cnt) {
    if (cnt == 8)
        return _mm256_loadu_ps(p);
    float t[8] = {0};
    for (size_t i = 0; i < cnt; i++)
        t[i] = p[i];
    return _mm256_loadu_ps(t);
}

RIN_AVX2 static inline void store8(float *p, __m256 v, size_t cnt) {
    if (cnt == 8) {
        _mm256_storeu_ps(p, v);
        return;
    }
    float t[8];
    _mm256_storeu_ps(t, v);
    for (size_t i = 0; i < cnt; i++)
        p[i] = t[i];
}

/* Elements [i0, i1). */
RIN_AVX2 static void gelu_forward_avx2(float *out, const float *x, size_t i0, size_t i1) {
    for (size_t i = i0; i < i1; i += 8) {
        size_t cnt = i1 - i < 8 ? i1 - i : 8;
        __m256 v = load8(x + i, cnt);
        __m256 e = rin_v_erf(_mm256_mul_ps(v, _mm256_set1_ps(0.70710678118654752f)));
        __m256 h = _mm256_mul_ps(_mm256_set1_ps(0.5f), v);
        store8(out + i, _mm256_fmadd_ps(h, e, h), cnt);
    }
}

RIN_AVX2 static void gelu_backward_avx2(float *dx, const float *dout, const float *x, size_t i0,
                                        size_t i1) {
    for (size_t i = i0; i < i1; i += 8) {
        size_t cnt = i1 - i < 8 ? i1 - i : 8;
        __m256 v = load8(x + i, cnt);
        __m256 e = rin_v_erf(_mm256_mul_ps(v, _mm256_set1_ps(0.70710678118654752f)));
        __m256 cdf = _mm256_fmadd_ps(_mm256_set1_ps(0.5f), e, _mm256_set1_ps(0.5f));
        __m256 pdf =
            _mm256_mul_ps(_mm256_set1_ps(0.39894228040143268f),
                          rin_v_exp(_mm256_mul_ps(_mm256_set1_ps(-0.5f), _mm256_mul_ps(v, v))));
        __m256 d = _mm256_fmadd_ps(v, pdf, cdf);
        store8(dx + i, _mm256_fmadd_ps(load8(dout + i, cnt), d, load8(dx + i, cnt)), cnt);
    }
}
#endif

void rin_gelu_forward(float *out, const float *x, size_t n) {
    double prof_t0 = RIN_PROF_BEGIN();
#ifdef RIN_X86_SIMD
    if (rin_simd_avx2()) {
#pragma omp parallel for
        for (size_t blk = 0; blk < (n + RIN_V8_BLOCK - 1) / RIN_V8_BLOCK; blk++) {
            size_t i0 = blk * RIN_V8_BLOCK, i1 = i0 + RIN_V8_BLOCK < n ? i0 + RIN_V8_BLOCK : n;
            gelu_forward_avx2(out, x, i0, i1);
        }
    } else
#endif
#pragma omp parallel for
        for (size_t i = 0; i < n; i++) {
            float v = x[i];
            out[i] = 0.5f * v * (1.0f + erff(v * 0.70710678118654752f));
        }
    RIN_PROF_END(GELU_FWD, prof_t0, 0);
}

void rin_gelu_backward(float *dx, const float *dout, const float *x, size_t n) {
    double prof_t0 = RIN_PROF_BEGIN();
    /* gelu'(x) = Phi(x) + x phi(x) */
#ifdef RIN_X86_SIMD
    if (rin_simd_avx2()) {
#pragma omp parallel for
        for (size_t blk = 0; blk < (n + RIN_V8_BLOCK - 1) / RIN_V8_BLOCK; blk++) {
            size_t i0 = blk * RIN_V8_BLOCK, i1 = i0 + RIN_V8_BLOCK < n ? i0 + RIN_V8_BLOCK : n;
            gelu_backward_avx2(dx, dout, x, i0, i1);
        }
    } else
#endif
#pragma omp parallel for
        for (size_t i = 0; i < n; i++) {
            float v = x[i];
            float cdf = 0.5f * (1.0f + erff(v * 0.70710678118654752f));
            float pdf = 0.39894228040143268f * expf(-0.5f * v * v);
            dx[i] += dout[i] * (cdf + v * pdf);
        }
    RIN_PROF_END(GELU_BWD, prof_t0, 0);
}

void rin_silu_forward(float *out, const float *x, size_t n) {
    double prof_t0 = RIN_PROF_BEGIN();
#pragma omp parallel for
    for (size_t i = 0; i < n; i++) {
        float v = x[i];
        out[i] = v / (1.0f + expf(-v));
    }
    RIN_PROF_END(POINTWISE, prof_t0, 0);
}

void rin_silu_backward(float *dx, const float *dout, const float *x, size_t n) {
    double prof_t0 = RIN_PROF_BEGIN();
    /* silu'(x) = s (1 + x (1 - s)), s = sigmoid(x) */
#pragma omp parallel for
    for (size_t i = 0; i < n; i++) {
        float v = x[i];
        float s = 1.0f / (1.0f + expf(-v));
        dx[i] += dout[i] * (s * (1.0f + v * (1.0f - s)));
    }
    RIN_PROF_END(POINTWISE, prof_t0, 0);
}

void rin_residual_forward(float *y, const float *x, const float *f, const float *scale, int B,
                          size_t per_example) {
    double prof_t0 = RIN_PROF_BEGIN();
#pragma omp parallel for
    for (int b = 0; b < B; b++) {
        float s = scale ? scale[b] : 1.0f;
        size_t o = (size_t)b * per_example;
        for (size_t i = 0; i < per_example; i++)
            y[o + i] = x[o + i] + s * f[o + i];
    }
    RIN_PROF_END(POINTWISE, prof_t0, 0);
}

void rin_dropout_apply(float *x, uint64_t seed, uint64_t stream, float rate, uint64_t first,
                       size_t n) {
    if (rate <= 0.0f)
        return;
    double prof_t0 = RIN_PROF_BEGIN();
    float keep_scale = 1.0f / (1.0f - rate);
    uint64_t key = rin_hash_key(seed, stream); /* = rin_counter_uniform(seed, stream, .) */
#pragma omp parallel for
    for (size_t i = 0; i < n; i++)
        x[i] = rin_hash_uniform(rin_mix64(key ^ (first + i))) >= rate ? x[i] * keep_scale : 0.0f;
    RIN_PROF_END(POINTWISE, prof_t0, 0);
}

void rin_add_rows_forward(float *y, const float *x, const float *t, int B, int N, int C) {
    double prof_t0 = RIN_PROF_BEGIN();
    size_t per = (size_t)N * C;
#pragma omp parallel for
    for (int b = 0; b < B; b++)
        for (size_t i = 0; i < per; i++)
            y[(size_t)b * per + i] = x[(size_t)b * per + i] + t[i];
    RIN_PROF_END(POINTWISE, prof_t0, 0);
}

void rin_add_rows_backward(float *dt, const float *dy, int B, int N, int C) {
    double prof_t0 = RIN_PROF_BEGIN();
    long per = (long)N * C;
#pragma omp parallel
    {
        long lo, hi;
        rin_thread_range(per, &lo, &hi);
        for (int b = 0; b < B; b++)
            for (long i = lo; i < hi; i++)
                dt[i] += dy[(size_t)b * per + i];
    }
    RIN_PROF_END(POINTWISE, prof_t0, 0);
}

/* The row of e that token i of rin_add_slot_rows_* takes. */
static int slot_row(int i, int nx, int grid, int ng) {
    return i < nx ? i / grid : ng - 1;
}

void rin_add_slot_rows_forward(float *x, const float *e, int B, int n, int nx, int grid, int ng,
                               int C) {
    double prof_t0 = RIN_PROF_BEGIN();
#pragma omp parallel for
    for (int b = 0; b < B; b++)
        for (int i = 0; i < n; i++) {
            float *xi = x + ((size_t)b * n + i) * C;
            const float *er = e + ((size_t)b * ng + slot_row(i, nx, grid, ng)) * C;
            for (int k = 0; k < C; k++)
                xi[k] += er[k];
        }
    RIN_PROF_END(POINTWISE, prof_t0, 0);
}

void rin_add_slot_rows_backward(float *de, const float *dx, int B, int n, int nx, int grid, int ng,
                                int C) {
    double prof_t0 = RIN_PROF_BEGIN();
    /* each example owns its rows; tokens in order, so the sums do not depend on threads */
#pragma omp parallel for
    for (int b = 0; b < B; b++)
        for (int i = 0; i < n; i++) {
            const float *dxi = dx + ((size_t)b * n + i) * C;
            float *dr = de + ((size_t)b * ng + slot_row(i, nx, grid, ng)) * C;
            for (int k = 0; k < C; k++)
                dr[k] += dxi[k];
        }
    RIN_PROF_END(POINTWISE, prof_t0, 0);
}
