/* gemm_bf16.c -- rin's own bf16 matrix product (issue 21, item 2): the operands rounded to
 * bfloat16, every product exact, the sums in fp32, as the authors' TPU matmuls ran. gemm.h
 * says what it computes; docs/performance.md has the measurements.
 *
 * On a CPU with AVX512_BF16 the product is packed and computed here with VDPBF16PS: A is cut
 * into tiles of MR = 8 rows and B into panels of NR = 32 columns; both are packed once per call
 * as bf16 pairs (k, k + 1) in one 32-bit word, so that one VDPBF16PS multiplies a broadcast
 * pair of A by 16 columns' pairs of B and adds both products to 16 fp32 sums. The micro-kernel
 * keeps an 8 x 32 block of C in 16 registers over KC = 256 values of k, then adds it to C.
 * Every element of C is summed in the same order whatever the thread count (the tiles are
 * shared out, never cut), so the results are bitwise identical for any number of threads.
 * Elsewhere (AVX2 or older, other architectures) the operands are rounded to bf16 values held
 * in fp32 and multiplied by rin_sgemm: the same products, summed in the library's order.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gemm.h"
#include "internal.h"
#include "simd.h"

#ifdef _OPENMP
#include <omp.h>
#endif

#define MR 8   /* rows of A per tile */
#define NR 32  /* columns of B per panel: two vectors of 16 floats */
#define KC 256 /* values of k per block (a multiple of 2) */

uint16_t rin_bf16_round(float x) {
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    if ((u & 0x7fffffffu) > 0x7f800000u) /* NaN stays NaN (quiet) */
        return (uint16_t)((u >> 16) | 0x40u);
    u += 0x7fffu + ((u >> 16) & 1u); /* round to nearest, ties to even */
    return (uint16_t)(u >> 16);
}

float rin_bf16_to_float(uint16_t h) {
    uint32_t u = (uint32_t)h << 16;
    float x;
    memcpy(&x, &u, sizeof x);
    return x;
}

static int native_off; /* tests: rin_gemm_bf16_set_native(0) */

static int cpu_has_bf16(void) {
#ifdef RIN_X86_SIMD
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bf16");
#else
    return 0;
#endif
}

int rin_gemm_bf16_native(void) {
    return !native_off && cpu_has_bf16();
}

int rin_gemm_bf16_set_native(int on) {
    int was = rin_gemm_bf16_native();
    native_off = !on;
    return was;
}

/* Element (i, k) of op(A) and (k, j) of op(B). */
static inline float elem_a(const float *A, int lda, int ta, int i, int k) {
    return ta ? A[(size_t)k * lda + i] : A[(size_t)i * lda + k];
}
static inline float elem_b(const float *B, int ldb, int tb, int k, int j) {
    return tb ? B[(size_t)j * ldb + k] : B[(size_t)k * ldb + j];
}

#ifdef RIN_BLAS
/* Without AVX512_BF16: the operands rounded to bf16 values in fp32, then rin_sgemm. */
static void gemm_bf16_emulated(int ta, int tb, int M, int N, int K, float alpha, const float *A,
                               int lda, const float *B, int ldb, float beta, float *C, int ldc) {
    float *a = malloc((size_t)M * K * sizeof *a), *b = malloc((size_t)K * N * sizeof *b);
    RIN_ASSERT(a && b);
    for (int i = 0; i < M; i++)
        for (int k = 0; k < K; k++)
            a[(size_t)i * K + k] = rin_bf16_to_float(rin_bf16_round(elem_a(A, lda, ta, i, k)));
    for (int k = 0; k < K; k++)
        for (int j = 0; j < N; j++)
            b[(size_t)k * N + j] = rin_bf16_to_float(rin_bf16_round(elem_b(B, ldb, tb, k, j)));
    rin_sgemm(0, 0, M, N, K, alpha, a, K, b, N, beta, C, ldc);
    free(a), free(b);
}
#endif

#ifdef RIN_X86_SIMD
/* One 32-bit word of two bf16: x in the low half (the even k), y in the high half. */
static inline uint32_t bf16_pair(float x, float y) {
    return (uint32_t)rin_bf16_round(x) | (uint32_t)rin_bf16_round(y) << 16;
}

#define ROWS_8(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7)

/* tmp (MR, NR) = the tile's pairs kp0 .. kp1 - 1: a (Kp, MR) and b (Kp, NR) words. */
__attribute__((target("avx512f,avx512bf16"))) static void
kernel_8x32(const uint32_t *a, const uint32_t *b, int kp0, int kp1, float *tmp) {
#define DECL(r) __m512 c##r##0 = _mm512_setzero_ps(), c##r##1 = _mm512_setzero_ps();
    ROWS_8(DECL)
#undef DECL
    for (int kp = kp0; kp < kp1; kp++) {
        __m512bh b0 = (__m512bh)_mm512_loadu_si512(b + (size_t)kp * NR);
        __m512bh b1 = (__m512bh)_mm512_loadu_si512(b + (size_t)kp * NR + 16);
        const uint32_t *ar = a + (size_t)kp * MR;
#define STEP(r)                                                                                    \
    {                                                                                              \
        __m512bh x = (__m512bh)_mm512_set1_epi32((int)ar[r]);                                      \
        c##r##0 = _mm512_dpbf16_ps(c##r##0, x, b0);                                                \
        c##r##1 = _mm512_dpbf16_ps(c##r##1, x, b1);                                                \
    }
        ROWS_8(STEP)
#undef STEP
    }
#define STORE(r)                                                                                   \
    _mm512_storeu_ps(tmp + (r)*NR, c##r##0);                                                       \
    _mm512_storeu_ps(tmp + (r)*NR + 16, c##r##1);
    ROWS_8(STORE)
#undef STORE
}

/* The packed operands of one call. */
typedef struct packed {
    int M, N, Kp, mt, nt; /* pairs of k, row tiles, column panels */
    uint32_t *a;          /* (mt, Kp, MR) */
    uint32_t *b;          /* (nt, Kp, NR) */
} packed;

/* Rows t*W .. t*W + W - 1 of op(X) (n rows of K; op(X) = X, or X^T when trans), packed as
 * (Kp, W) bf16 pairs into dst, zero past n and K. A's row tiles are op(A)'s rows (W = MR);
 * B's column panels are op(B)^T's rows (W = NR), i.e. B with the transpose flag flipped. */
static void pack_rows(uint32_t *dst, const float *X, int ld, int trans, int n, int K, int Kp, int W,
                      int t) {
    dst += (size_t)t * Kp * W;
    for (int kp = 0; kp < Kp; kp++)
        for (int r = 0; r < W; r++) {
            int i = t * W + r, k = 2 * kp;
            float x = i < n ? elem_a(X, ld, trans, i, k) : 0.0f;
            float y = i < n && k + 1 < K ? elem_a(X, ld, trans, i, k + 1) : 0.0f;
            dst[(size_t)kp * W + r] = bf16_pair(x, y);
        }
}

/* Tile (it, jt) over the pairs kp0 .. kp1 - 1, added into C: the first block scales C by
 * beta (beta 0 ignores C's old contents), later blocks add. */
static void tile(const packed *p, int it, int jt, int kp0, int kp1, float alpha, float beta,
                 float *C, int ldc) {
    float tmp[MR * NR];
    kernel_8x32(p->a + (size_t)it * p->Kp * MR, p->b + (size_t)jt * p->Kp * NR, kp0, kp1, tmp);
    int rows = p->M - it * MR < MR ? p->M - it * MR : MR;
    int cols = p->N - jt * NR < NR ? p->N - jt * NR : NR;
    for (int r = 0; r < rows; r++) {
        float *c = C + (size_t)(it * MR + r) * ldc + (size_t)jt * NR;
        const float *t = tmp + r * NR;
        if (kp0 > 0 || beta == 1.0f)
            for (int j = 0; j < cols; j++)
                c[j] += alpha * t[j];
        else if (beta == 0.0f)
            for (int j = 0; j < cols; j++)
                c[j] = alpha * t[j];
        else
            for (int j = 0; j < cols; j++)
                c[j] = beta * c[j] + alpha * t[j];
    }
}

static void gemm_bf16_native(int ta, int tb, int M, int N, int K, float alpha, const float *A,
                             int lda, const float *B, int ldb, float beta, float *C, int ldc) {
    packed p = {
        .M = M, .N = N, .Kp = (K + 1) / 2, .mt = (M + MR - 1) / MR, .nt = (N + NR - 1) / NR};
    p.a = malloc((size_t)p.mt * p.Kp * MR * sizeof *p.a);
    p.b = malloc((size_t)p.nt * p.Kp * NR * sizeof *p.b);
    RIN_ASSERT(p.a && p.b);
#ifdef _OPENMP
    int par = !omp_in_parallel() && omp_get_max_threads() > 1 && (double)M * N * K > 1e6;
#else
    int par = 0;
#endif
    (void)par; /* read only by the pragma, which a build without OpenMP ignores */
#pragma omp parallel if (par)
    {
#pragma omp for schedule(static) nowait
        for (int t = 0; t < p.mt; t++)
            pack_rows(p.a, A, lda, ta, M, K, p.Kp, MR, t);
#pragma omp for schedule(static)
        for (int t = 0; t < p.nt; t++)
            pack_rows(p.b, B, ldb, !tb, N, K, p.Kp, NR, t);
        /* k blocks in order; within a block the tiles are independent */
        for (int kp0 = 0; kp0 < p.Kp; kp0 += KC / 2) {
            int kp1 = kp0 + KC / 2 < p.Kp ? kp0 + KC / 2 : p.Kp;
#pragma omp for schedule(static)
            for (int q = 0; q < p.mt * p.nt; q++)
                tile(&p, q % p.mt, q / p.mt, kp0, kp1, alpha, beta, C, ldc);
        }
    }
    free(p.a), free(p.b);
}
#endif

rin_gemm_fn rin_gemm_for(rin_precision p) {
    if (p == RIN_PRECISION_BF16)
        return rin_gemm_bf16;
#ifdef RIN_BLAS
    return rin_sgemm;
#else
    return NULL;
#endif
}

void rin_gemm_bf16(int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda,
                   const float *B, int ldb, float beta, float *C, int ldc) {
    if (M <= 0 || N <= 0)
        return;
    RIN_ASSERT(K >= 0 && lda >= (ta ? M : K) && ldb >= (tb ? K : N) && ldc >= N);
    if (K == 0) {
        for (int i = 0; i < M; i++)
            for (int j = 0; j < N; j++)
                C[(size_t)i * ldc + j] = beta == 0.0f ? 0.0f : beta * C[(size_t)i * ldc + j];
        return;
    }
#ifdef RIN_X86_SIMD
    if (rin_gemm_bf16_native()) {
        gemm_bf16_native(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
        return;
    }
#endif
#ifdef RIN_BLAS
    gemm_bf16_emulated(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
#else
    /* BLAS=none: the naive loops on the rounded operands */
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            float s = 0.0f;
            for (int k = 0; k < K; k++)
                s += rin_bf16_to_float(rin_bf16_round(elem_a(A, lda, ta, i, k))) *
                     rin_bf16_to_float(rin_bf16_round(elem_b(B, ldb, tb, k, j)));
            float *c = C + (size_t)i * ldc + j;
            *c = (beta == 0.0f ? 0.0f : beta * *c) + alpha * s;
        }
#endif
}
