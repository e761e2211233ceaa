/* test_gemm.c -- rin_sgemm's paths (gemm.h), each against the naive reference (T0), and the
 * choice of a path:
 *   - every path on odd sizes (7, 13, 33), on rin's real shapes (the cifar10 and fmnist-small
 *     linear layers per image, the attention heads read in place through a row stride), every
 *     transpose combination (rin uses NT, NN and TN), K = 0, alpha 1 and the attention scale, beta
 * 0 over a C full of NaN and beta 1, against a double-precision loop;
 *   - every path through the ops: linear forward/backward and the attention core against
 *     their *_naive loops;
 *   - a product cut into tiles gives the same bits with 1 and 2 threads, per path;
 *   - products start no thread beside rin's team (no second pool spinning against it);
 *   - RIN_GEMM's values: unknown names and paths the build lacks give a message that names the
 *     variable, the value and the choices, in the library and through the CLI.
 * A path this build or CPU lacks is skipped with the reason printed, never passed silently.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gemm.h"
#include "gradcheck.h"
#include "internal.h"
#include "ops.h"
#include "parallel.h"
#include "test.h"

/* T0 bound, with the absolute term grown with sqrt(K): a K-term float sum of products of
 * values in [-1, 1] carries rounding of order sqrt(K) ulp of its terms. */
#define GEMM_ATOL(K) (1e-6 * sqrt((double)(K) + 1.0) + 1e-6)
#define GEMM_RTOL    1e-4

/* Forces path p for the running test; 0 (and the test skipped, with why) when it is missing. */
static int use_path(rin_gemm_path p) {
    char why[256], msg[320];
    if (rin_gemm_force(p, why, sizeof why) == 0) {
        char d[256];
        rin_gemm_describe(d, sizeof d);
        printf("  GEMM path: %s\n", d);
        return 1;
    }
    snprintf(msg, sizeof msg, "GEMM path %s: %s", rin_gemm_path_name(p), why);
    test_skip(msg);
    return 0;
}

#ifdef RIN_BLAS
static void set_threads(int n) {
#ifdef _OPENMP
    omp_set_num_threads(n);
#endif
    (void)n;
}

/* C = alpha op(A) op(B) + beta C0 in double. */
static void ref_gemm(double *C, int ta, int tb, int M, int N, int K, double alpha, const float *A,
                     int lda, const float *B, int ldb, double beta, const float *C0, int ldc) {
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            double s = 0;
            for (int k = 0; k < K; k++) {
                double a = (double)(ta ? A[(size_t)k * lda + i] : A[(size_t)i * lda + k]);
                double b = (double)(tb ? B[(size_t)j * ldb + k] : B[(size_t)k * ldb + j]);
                s += a * b;
            }
            double c0 = beta != 0.0 ? beta * (double)C0[(size_t)i * ldc + j] : 0.0;
            C[(size_t)i * N + j] = alpha * s + c0;
        }
}

/* The elements of x (n) rounded to bfloat16 values, in place. */
static void round_bf16(float *x, size_t n) {
    for (size_t i = 0; i < n; i++)
        x[i] = rin_bf16_to_float(rin_bf16_round(x[i]));
}

/* One product through rin_sgemm (bf16 = 0) or rin_gemm_bf16 (1) against ref_gemm, which for
 * bf16 multiplies the rounded operands; pad widens every leading dimension. */
static void gemm_case_as(int bf16, int ta, int tb, int M, int N, int K, float alpha, float beta,
                         int pad, unsigned long long seed) {
    int lda = (ta ? M : K) + pad, ldb = (tb ? K : N) + pad, ldc = N + pad;
    size_t na = (size_t)(ta ? K : M) * lda, nb = (size_t)(tb ? N : K) * ldb;
    size_t nc = (size_t)M * ldc;
    float *A = gc_uniform(na, seed, -1.0f, 1.0f), *B = gc_uniform(nb, seed + 1, -1.0f, 1.0f);
    float *C0 = gc_uniform(nc, seed + 2, -1.0f, 1.0f), *C = gc_zeros(nc);
    float *got = gc_zeros((size_t)M * N);
    double *ref = malloc((size_t)M * N * sizeof *ref);
    RIN_ASSERT(ref);
    memcpy(C, C0, nc * sizeof *C);
    if (beta == 0.0f) /* beta 0 must not read C: NaN there would show */
        for (size_t i = 0; i < nc; i++)
            C[i] = NAN;
    if (bf16) {
        float *Ar = gc_zeros(na), *Br = gc_zeros(nb);
        memcpy(Ar, A, na * sizeof *A);
        memcpy(Br, B, nb * sizeof *B);
        round_bf16(Ar, na);
        round_bf16(Br, nb);
        ref_gemm(ref, ta, tb, M, N, K, (double)alpha, Ar, lda, Br, ldb, (double)beta, C0, ldc);
        free(Ar), free(Br);
        rin_gemm_bf16(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    } else {
        ref_gemm(ref, ta, tb, M, N, K, (double)alpha, A, lda, B, ldb, (double)beta, C0, ldc);
        rin_sgemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    }
    for (int i = 0; i < M; i++)
        memcpy(got + (size_t)i * N, C + (size_t)i * ldc, (size_t)N * sizeof *got);
    int tm, tn;
    rin_gemm_tiles(M, N, K, &tm, &tn);
    char what[160];
    snprintf(what, sizeof what, "%s%c%c M=%d N=%d K=%d alpha=%g beta=%g pad=%d (%dx%d tiles)",
             bf16 ? "bf16 " : "", ta ? 'T' : 'N', tb ? 'T' : 'N', M, N, K, (double)alpha,
             (double)beta, pad, tm, tn);
    GC_COMPARE_F64(what, got, ref, (size_t)M * N, GEMM_ATOL(K), GEMM_RTOL);
    /* the padding columns of C are not C's: untouched */
    size_t moved = 0;
    for (int i = 0; i < M; i++)
        for (int j = N; j < ldc; j++) {
            size_t k = (size_t)i * ldc + j;
            if (beta == 0.0f ? !isnan(C[k]) : C[k] != C0[k])
                moved++;
        }
    CHECK_MSG(moved == 0, "%s: %zu elements outside C written", what, moved);
    free(A), free(B), free(C0), free(C), free(got), free(ref);
}

static void gemm_case(int ta, int tb, int M, int N, int K, float alpha, float beta, int pad,
                      unsigned long long seed) {
    gemm_case_as(0, ta, tb, M, N, K, alpha, beta, pad, seed);
}
#endif

static void gemm_parity(rin_gemm_path path) {
    if (!use_path(path))
        return;
#ifdef RIN_BLAS
    const float scale = 0.17677669f; /* 1/sqrt(32): the attention scale */
    static const int odd[][3] = {{7, 13, 33}, {13, 33, 7}, {33, 7, 13},
                                 {1, 5, 3},   {33, 33, 1}, {7, 13, 0}};
    unsigned long long seed = 1000;
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++)
            for (size_t s = 0; s < sizeof odd / sizeof odd[0]; s++) {
                gemm_case(ta, tb, odd[s][0], odd[s][1], odd[s][2], 1.0f, 0.0f, 0, seed += 10);
                gemm_case(ta, tb, odd[s][0], odd[s][1], odd[s][2], scale, 1.0f, 3, seed += 10);
            }
    /* rin's real shapes, per image (256 tokens of cifar10, 196 of fmnist-small) as the linear
     * op calls them: forward NT (beta 1 over the bias), din NN, dw TN (both beta 1) */
    static const int lin[][3] = {
        {256, 768, 256}, {256, 256, 768}, {196, 256, 128}, {128, 2048, 512}};
    for (size_t s = 0; s < sizeof lin / sizeof lin[0]; s++) {
        int N = lin[s][0], O = lin[s][1], I = lin[s][2];
        gemm_case(0, 1, N, O, I, 1.0f, 1.0f, 0, seed += 10);
        gemm_case(0, 1, N, O, I, 1.0f, 0.0f, 0, seed += 10);
        gemm_case(0, 0, N, I, O, 1.0f, 1.0f, 0, seed += 10);
        gemm_case(1, 0, O, I, N, 1.0f, 1.0f, 0, seed += 10);
    }
    /* the attention core, head size 32 read through a row stride (pad: other heads' columns):
     * S = scale q k^T (NT, beta 0), out = P v (NN), dv += P^T dout (TN) */
    gemm_case(0, 1, 128, 128, 32, scale, 0.0f, 224, seed += 10);
    gemm_case(0, 1, 256, 128, 32, scale, 0.0f, 96, seed += 10);
    gemm_case(0, 0, 128, 32, 128, 1.0f, 0.0f, 224, seed += 10);
    gemm_case(1, 0, 128, 32, 128, 1.0f, 1.0f, 224, seed += 10);
    gemm_case(1, 0, 64, 32, 196, 1.0f, 1.0f, 96, seed += 10);
    /* several tiles, with 2 threads, odd edges */
    int threads = rin_max_threads();
    set_threads(2);
    gemm_case(0, 1, 2047, 515, 96, 1.0f, 1.0f, 1, seed += 10);
    gemm_case(1, 0, 515, 261, 2049, 1.0f, 1.0f, 0, seed += 10);
    set_threads(threads);
#endif
}

TEST(gemm_openblas_vs_naive) {
    gemm_parity(RIN_GEMM_OPENBLAS);
    rin_gemm_reset();
}

TEST(gemm_dnnl_vs_naive) {
    gemm_parity(RIN_GEMM_DNNL);
    rin_gemm_reset();
}

/* The ops through path p against their naive loops. */
static void ops_parity(rin_gemm_path path) {
    if (!use_path(path))
        return;
    static const int lin[][3] = {{7, 13, 33}, {33, 7, 13}, {1, 5, 3}, {512, 128, 256}};
    for (size_t s = 0; s < sizeof lin / sizeof lin[0]; s++) {
        int N = lin[s][0], I = lin[s][1], O = lin[s][2];
        unsigned long long seed = 2000 + 10 * s;
        float *in = gc_uniform((size_t)N * I, seed, -1.0f, 1.0f);
        float *w = gc_uniform((size_t)O * I, seed + 1, -1.0f, 1.0f);
        float *b = gc_uniform((size_t)O, seed + 2, -1.0f, 1.0f);
        float *dout = gc_uniform((size_t)N * O, seed + 3, -1.0f, 1.0f);
        float *o1 = gc_zeros((size_t)N * O), *o2 = gc_zeros((size_t)N * O);
        float *dx1 = gc_uniform((size_t)N * I, seed + 4, -1.0f, 1.0f),
              *dx2 = gc_zeros((size_t)N * I);
        float *dw1 = gc_uniform((size_t)O * I, seed + 5, -1.0f, 1.0f),
              *dw2 = gc_zeros((size_t)O * I);
        float *db1 = gc_uniform((size_t)O, seed + 6, -1.0f, 1.0f), *db2 = gc_zeros((size_t)O);
        memcpy(dx2, dx1, (size_t)N * I * sizeof *dx1);
        memcpy(dw2, dw1, (size_t)O * I * sizeof *dw1);
        memcpy(db2, db1, (size_t)O * sizeof *db1);
        rin_linear_forward(o1, in, w, b, N, I, O, RIN_PRECISION_FP32);
        rin_linear_forward_naive(o2, in, w, b, N, I, O);
        rin_linear_backward(dx1, dw1, db1, dout, in, w, N, I, O, RIN_PRECISION_FP32);
        rin_linear_backward_naive(dx2, dw2, db2, dout, in, w, N, I, O);
        char what[96];
        double atol_o = GEMM_ATOL(I), atol_x = GEMM_ATOL(O), atol_w = GEMM_ATOL(N);
        snprintf(what, sizeof what, "linear (%d,%d,%d) out", N, I, O);
        GC_COMPARE_F32(what, o1, o2, (size_t)N * O, atol_o, GEMM_RTOL);
        snprintf(what, sizeof what, "linear (%d,%d,%d) din", N, I, O);
        GC_COMPARE_F32(what, dx1, dx2, (size_t)N * I, atol_x, GEMM_RTOL);
        snprintf(what, sizeof what, "linear (%d,%d,%d) dw", N, I, O);
        GC_COMPARE_F32(what, dw1, dw2, (size_t)O * I, atol_w, GEMM_RTOL);
        snprintf(what, sizeof what, "linear (%d,%d,%d) db", N, I, O);
        GC_COMPARE_F32(what, db1, db2, (size_t)O, atol_w, GEMM_RTOL);
        free(in), free(w), free(b), free(dout), free(o1), free(o2), free(dx1), free(dx2);
        free(dw1), free(dw2), free(db1), free(db2);
    }
    /* attention: self (odd sizes, head size 13) and cross (the read: 16 latents over 64 tokens) */
    static const int att[][5] = {{2, 33, 33, 39, 3}, {2, 16, 64, 64, 2}};
    for (size_t s = 0; s < sizeof att / sizeof att[0]; s++) {
        int B = att[s][0], Nq = att[s][1], Nk = att[s][2], A = att[s][3], NH = att[s][4];
        unsigned long long seed = 3000 + 10 * s;
        size_t nq = (size_t)B * Nq * A, nk = (size_t)B * Nk * A, np = (size_t)B * NH * Nq * Nk;
        float *q = gc_uniform(nq, seed, -1.0f, 1.0f), *k = gc_uniform(nk, seed + 1, -1.0f, 1.0f);
        float *v = gc_uniform(nk, seed + 2, -1.0f, 1.0f);
        float *dout = gc_uniform(nq, seed + 3, -1.0f, 1.0f);
        float *o1 = gc_zeros(nq), *o2 = gc_zeros(nq), *P1 = gc_zeros(np), *P2 = gc_zeros(np);
        float *sc = gc_zeros(np);
        float *dq1 = gc_zeros(nq), *dq2 = gc_zeros(nq), *dk1 = gc_zeros(nk), *dk2 = gc_zeros(nk);
        float *dv1 = gc_zeros(nk), *dv2 = gc_zeros(nk);
        rin_attention_forward(o1, P1, q, k, v, B, Nq, Nk, A, NH, RIN_PRECISION_FP32);
        rin_attention_forward_naive(o2, P2, q, k, v, B, Nq, Nk, A, NH);
        rin_attention_backward(dq1, dk1, dv1, sc, dout, q, k, v, P1, B, Nq, Nk, A, NH,
                               RIN_PRECISION_FP32);
        rin_attention_backward_naive(dq2, dk2, dv2, sc, dout, q, k, v, P2, B, Nq, Nk, A, NH);
        char what[96];
        snprintf(what, sizeof what, "attention B=%d Nq=%d Nk=%d A=%d NH=%d out", B, Nq, Nk, A, NH);
        GC_COMPARE_F32(what, o1, o2, nq, 1e-5, GEMM_RTOL);
        snprintf(what, sizeof what, "attention B=%d Nq=%d Nk=%d A=%d NH=%d P", B, Nq, Nk, A, NH);
        GC_COMPARE_F32(what, P1, P2, np, 1e-5, GEMM_RTOL);
        snprintf(what, sizeof what, "attention B=%d Nq=%d Nk=%d A=%d NH=%d dq", B, Nq, Nk, A, NH);
        GC_COMPARE_F32(what, dq1, dq2, nq, 1e-5, GEMM_RTOL);
        snprintf(what, sizeof what, "attention B=%d Nq=%d Nk=%d A=%d NH=%d dk", B, Nq, Nk, A, NH);
        GC_COMPARE_F32(what, dk1, dk2, nk, 1e-5, GEMM_RTOL);
        snprintf(what, sizeof what, "attention B=%d Nq=%d Nk=%d A=%d NH=%d dv", B, Nq, Nk, A, NH);
        GC_COMPARE_F32(what, dv1, dv2, nk, 1e-5, GEMM_RTOL);
        free(q), free(k), free(v), free(dout), free(o1), free(o2), free(P1), free(P2), free(sc);
        free(dq1), free(dq2), free(dk1), free(dk2), free(dv1), free(dv2);
    }
}

TEST(gemm_openblas_ops_vs_naive) {
    ops_parity(RIN_GEMM_OPENBLAS);
    rin_gemm_reset();
}

TEST(gemm_dnnl_ops_vs_naive) {
    ops_parity(RIN_GEMM_DNNL);
    rin_gemm_reset();
}

/* A product cut into several tiles: the same bits with 1 and 2 threads (T5 for rin_sgemm). */
static void gemm_threads(rin_gemm_path path) {
    if (!use_path(path))
        return;
#ifdef RIN_BLAS
    int threads = rin_max_threads();
    static const int shp[][5] = {{0, 1, 4099, 771, 256},
                                 {0, 0, 2053, 256, 768},
                                 {1, 0, 768, 259, 4097},
                                 {0, 1, 128, 128, 32}};
    for (size_t s = 0; s < sizeof shp / sizeof shp[0]; s++) {
        int ta = shp[s][0], tb = shp[s][1], M = shp[s][2], N = shp[s][3], K = shp[s][4];
        int lda = ta ? M : K, ldb = tb ? K : N;
        size_t na = (size_t)M * K, nb = (size_t)K * N, nc = (size_t)M * N;
        float *A = gc_uniform(na, 4000 + s, -1.0f, 1.0f), *B = gc_uniform(nb, 4100 + s, -1, 1);
        float *C0 = gc_uniform(nc, 4200 + s, -1.0f, 1.0f), *C1 = gc_zeros(nc), *C2 = gc_zeros(nc);
        memcpy(C1, C0, nc * sizeof *C0);
        memcpy(C2, C0, nc * sizeof *C0);
        set_threads(1);
        rin_sgemm(ta, tb, M, N, K, 1.0f, A, lda, B, ldb, 1.0f, C1, N);
        set_threads(2);
        rin_sgemm(ta, tb, M, N, K, 1.0f, A, lda, B, ldb, 1.0f, C2, N);
        int tm, tn;
        rin_gemm_tiles(M, N, K, &tm, &tn);
        char what[128];
        snprintf(what, sizeof what, "%c%c M=%d N=%d K=%d (%dx%d tiles): 1 vs 2 threads",
                 ta ? 'T' : 'N', tb ? 'T' : 'N', M, N, K, tm, tn);
        GC_BITWISE(what, C2, C1, nc);
        free(A), free(B), free(C0), free(C1), free(C2);
    }
    set_threads(threads);
#endif
}

TEST(gemm_openblas_threads_1_vs_2) {
    gemm_threads(RIN_GEMM_OPENBLAS);
    rin_gemm_reset();
}

TEST(gemm_dnnl_threads_1_vs_2) {
    gemm_threads(RIN_GEMM_DNNL);
    rin_gemm_reset();
}

#ifdef RIN_BLAS
/* Threads of this process (Linux /proc), -1 when unknown. */
static int process_threads(void) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    int n = -1;
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "Threads:", 8))
            n = atoi(line + 8);
    if (f)
        fclose(f);
    return n;
}
#endif

/* No second pool: with rin's team of 2 running, products through path p (several tiles from
 * serial code, one tile from serial code, one inside a parallel region) start no thread, so
 * the library computed on rin's threads (a oneDNN team of its own, or a threaded OpenBLAS,
 * would have added threads). */
static void gemm_no_second_pool(rin_gemm_path path) {
    if (!use_path(path))
        return;
#ifdef RIN_BLAS
#ifdef _OPENMP
    const int M = 1024, N = 512, K = 256;
    float *A = gc_uniform((size_t)M * K, 5000, -1.0f, 1.0f);
    float *B = gc_uniform((size_t)K * N, 5001, -1.0f, 1.0f), *C = gc_zeros((size_t)M * N);
    int threads = rin_max_threads();
    set_threads(2);
    int seen = 0;
#pragma omp parallel
    {
#pragma omp atomic
        seen++;
    }
    int before = process_threads();
    rin_sgemm(0, 0, M, N, K, 1.0f, A, K, B, N, 0.0f, C, N);    /* several tiles */
    rin_sgemm(0, 0, 64, 64, 64, 1.0f, A, K, B, N, 0.0f, C, N); /* one tile, from serial code */
#pragma omp parallel
    rin_sgemm(0, 0, 64, 64, 64, 1.0f, A, K, B, N, 0.0f, C + (size_t)64 * rin_thread_id(), N);
    int after = process_threads();
    printf("  team of %d; process threads %d before the products, %d after\n", seen, before, after);
    if (before < 0)
        test_skip("no /proc/self/status: thread count unknown");
    else
        CHECK(after == before);
    set_threads(threads);
    free(A), free(B), free(C);
#else
    test_skip("built with OMP=0: no team to share");
#endif
#endif
}

TEST(gemm_openblas_no_second_pool) {
    gemm_no_second_pool(RIN_GEMM_OPENBLAS);
    rin_gemm_reset();
}

TEST(gemm_dnnl_no_second_pool) {
    gemm_no_second_pool(RIN_GEMM_DNNL);
    rin_gemm_reset();
}

/* The tiling is a function of the shape: a fixed table, and every tile non-empty. */
TEST(gemm_tiles_from_the_shape_alone) {
    static const int cases[][5] = {
        /* M, N, K, tm, tn */
        {7, 13, 33, 1, 1},        {128, 128, 32, 1, 1},   {2048, 256, 64, 8, 1},
        {8192, 768, 256, 16, 1},  {768, 256, 8192, 4, 2}, {8192, 256, 1024, 16, 1},
        {2048, 2048, 2048, 4, 4}, {64, 4096, 512, 1, 16}, {256, 128, 12544, 2, 1}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int tm, tn;
        rin_gemm_tiles(cases[i][0], cases[i][1], cases[i][2], &tm, &tn);
        printf("  M=%d N=%d K=%d: %d x %d tiles\n", cases[i][0], cases[i][1], cases[i][2], tm, tn);
        CHECK_MSG(tm == cases[i][3] && tn == cases[i][4], "M=%d N=%d K=%d: %dx%d, expected %dx%d",
                  cases[i][0], cases[i][1], cases[i][2], tm, tn, cases[i][3], cases[i][4]);
    }
}

TEST(gemm_choice_messages) {
    char err[512];
    rin_gemm_path p = RIN_GEMM_PATH_COUNT;
    printf("  default path for this CPU: %s\n", rin_gemm_path_name(rin_gemm_default_path()));
    CHECK(rin_gemm_parse("bogus", &p, err, sizeof err) == RIN_STATUS_CONFIG);
    printf("  RIN_GEMM=bogus: %s\n", err);
    CHECK(strstr(err, "RIN_GEMM=bogus") && strstr(err, "openblas") && strstr(err, "dnnl"));
    CHECK(p == RIN_GEMM_PATH_COUNT);
    CHECK(rin_gemm_parse("DNNL", &p, err, sizeof err) == RIN_STATUS_CONFIG); /* exact names */
    for (int i = 0; i < RIN_GEMM_PATH_COUNT; i++) {
        char why[256];
        const char *name = rin_gemm_path_name((rin_gemm_path)i);
        int have = rin_gemm_path_available((rin_gemm_path)i, why, sizeof why);
        rin_status st = rin_gemm_parse(name, &p, err, sizeof err);
        printf("  RIN_GEMM=%s: %s\n", name, have ? "available" : err);
        if (have)
            CHECK(st == RIN_STATUS_OK && p == (rin_gemm_path)i);
        else
            CHECK(st == RIN_STATUS_CONFIG && strstr(err, "RIN_GEMM=") && strstr(err, why));
    }
}

/* The CLI stops at once with the message, before any work (rin bench checks in its parent;
 * every context creation checks too). */
TEST(gemm_choice_cli) {
    const char *cli = getenv("RIN_CLI");
    char cmd[512], out[4096];
    snprintf(
        cmd, sizeof cmd,
        "RIN_GEMM=bogus %s bench --preset tiny --batch 1 --steps 1 --warmup 0 --threads 1 2>&1",
        cli && *cli ? cli : "build/rin");
    int rc = test_shell(out, sizeof out, cmd);
    printf("  exit %d: %s", rc, out);
    CHECK(rc != 0);
    CHECK(strstr(out, "RIN_GEMM=bogus") && strstr(out, "unknown GEMM path") &&
          strstr(out, "openblas") && strstr(out, "dnnl"));
}

/* rin bench --gemm all: a row per path of this build, the ratio line, the shape table. */
TEST(gemm_bench_side_by_side) {
    const char *cli = getenv("RIN_CLI");
    char cmd[512], out[16384];
    snprintf(cmd, sizeof cmd,
             "%s bench --preset tiny --batch 2 --steps 1 --warmup 0 --threads 1 --gemm all "
             "--rounds 1 --only sample 2>&1",
             cli && *cli ? cli : "build/rin");
    int rc = test_shell(out, sizeof out, cmd);
    printf("%s", out);
#ifdef RIN_BLAS
    CHECK(rc == 0);
    CHECK(strstr(out, "GEMM path: ") && strstr(out, "GEMM paths side by side"));
    CHECK(strstr(out, "GEMM shapes of one train step"));
    int n = 0;
    for (int p = 0; p < RIN_GEMM_PATH_COUNT; p++) {
        char row[32];
        if (!rin_gemm_path_available((rin_gemm_path)p, NULL, 0))
            continue;
        n++;
        snprintf(row, sizeof row, "      1 %-8s |", rin_gemm_path_name((rin_gemm_path)p));
        CHECK_MSG(strstr(out, row), "no row '%s'", row);
    }
    if (n > 1)
        CHECK(strstr(out, " / openblas, 1 thread:"));
#else
    CHECK(rc != 0); /* no GEMM library: rin bench has no ceiling to measure */
#endif
}

/* ---- bf16 (gemm_bf16.c) ---------------------------------------------------------------------
 */

TEST(gemm_bf16_rounding) {
    /* round to nearest even on the 7 stored mantissa bits; NaN, infinities and overflow */
    CHECK(rin_bf16_round(1.0f) == 0x3F80);
    CHECK(rin_bf16_round(-2.0f) == 0xC000);
    CHECK(rin_bf16_round(1.0f + 0x1p-8f) == 0x3F80);            /* tie, to the even 1.0 */
    CHECK(rin_bf16_round(1.0f + 3 * 0x1p-8f) == 0x3F82);        /* tie, to the even 1 + 2^-6 */
    CHECK(rin_bf16_round(1.0f + 0x1p-8f + 0x1p-20f) == 0x3F81); /* above the tie: up */
    CHECK(rin_bf16_round(INFINITY) == 0x7F80 && rin_bf16_round(-INFINITY) == 0xFF80);
    CHECK(rin_bf16_round(3.4e38f) == 0x7F80); /* past the largest bf16: infinity */
    CHECK(isnan(rin_bf16_to_float(rin_bf16_round(NAN))));
    CHECK(rin_bf16_to_float(0x3F81) == 1.0f + 0x1p-7f);
    /* every bf16 value is a float: the round trip of a rounded value is exact */
    int bad = 0;
    for (uint32_t h = 0; h < 0x10000u; h++) {
        float x = rin_bf16_to_float((uint16_t)h);
        if (!isnan(x))
            bad += rin_bf16_round(x) != h;
    }
    CHECK_MSG(bad == 0, "%d bf16 values do not round to themselves", bad);
}

/* rin_gemm_bf16 on the shapes of gemm_parity against double products of the rounded operands,
 * and proof that the operands were rounded (the fp32 product differs by far more). */
static void bf16_parity(void) {
#ifdef RIN_BLAS
    unsigned long long seed = 7000;
    static const int odd[][3] = {{7, 13, 33}, {13, 33, 7}, {33, 7, 13},
                                 {1, 5, 3},   {33, 33, 1}, {7, 13, 0}};
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++)
            for (size_t s = 0; s < sizeof odd / sizeof odd[0]; s++) {
                gemm_case_as(1, ta, tb, odd[s][0], odd[s][1], odd[s][2], 1.0f, 0.0f, 0, seed += 10);
                gemm_case_as(1, ta, tb, odd[s][0], odd[s][1], odd[s][2], 0.17677669f, 1.0f, 3,
                             seed += 10);
                gemm_case_as(1, ta, tb, odd[s][0], odd[s][1], odd[s][2], 0.5f, 0.25f, 1,
                             seed += 10);
            }
    /* several k blocks (K > 256), many tiles, odd edges, 2 threads */
    int threads = rin_max_threads();
    set_threads(2);
    gemm_case_as(1, 0, 1, 517, 259, 600, 1.0f, 1.0f, 1, seed += 10);
    gemm_case_as(1, 1, 0, 259, 517, 1031, 1.0f, 0.0f, 0, seed += 10);
    set_threads(threads);
    /* rounded for real: against the fp32 product of the unrounded operands */
    int M = 64, N = 64, K = 256;
    float *A = gc_uniform((size_t)M * K, 7900, -1, 1), *B = gc_uniform((size_t)K * N, 7901, -1, 1);
    float *C = gc_zeros((size_t)M * N), *F = gc_zeros((size_t)M * N);
    rin_gemm_bf16(0, 0, M, N, K, 1.0f, A, K, B, N, 0.0f, C, N);
    rin_sgemm(0, 0, M, N, K, 1.0f, A, K, B, N, 0.0f, F, N);
    double worst = 0;
    for (int i = 0; i < M * N; i++)
        worst =
            fabs((double)C[i] - (double)F[i]) > worst ? fabs((double)C[i] - (double)F[i]) : worst;
    printf("  bf16 vs fp32 operands, K = %d: largest difference %.3g\n", K, worst);
    CHECK(worst > 1e-3 && worst < 0.1); /* bf16's 2^-9 relative error over 256 terms */
    free(A), free(B), free(C), free(F);
#endif
}

TEST(gemm_bf16_kernel_vs_naive) {
    if (!rin_gemm_bf16_native()) {
        test_skip("rin's bf16 kernel needs AVX512_BF16, which this CPU lacks (the emulated "
                  "path is tested by gemm_bf16_emulated_vs_naive)");
        return;
    }
    printf("  rin_gemm_bf16: the AVX512_BF16 kernel\n");
    bf16_parity();
}

TEST(gemm_bf16_emulated_vs_naive) {
    int was = rin_gemm_bf16_set_native(0);
    printf("  rin_gemm_bf16: rounded operands through rin_sgemm\n");
    bf16_parity();
    rin_gemm_bf16_set_native(was);
}

TEST(gemm_bf16_threads_1_vs_2) {
    if (!rin_gemm_bf16_native()) {
        test_skip("rin's bf16 kernel needs AVX512_BF16, which this CPU lacks");
        return;
    }
#ifdef RIN_BLAS
    int threads = rin_max_threads();
    static const int shp[][5] = {{0, 1, 1031, 771, 256}, {1, 0, 768, 259, 1025}};
    for (size_t s = 0; s < sizeof shp / sizeof shp[0]; s++) {
        int ta = shp[s][0], tb = shp[s][1], M = shp[s][2], N = shp[s][3], K = shp[s][4];
        size_t nc = (size_t)M * N;
        float *A = gc_uniform((size_t)M * K, 8000 + s, -1, 1);
        float *B = gc_uniform((size_t)K * N, 8100 + s, -1, 1);
        float *C0 = gc_uniform(nc, 8200 + s, -1, 1), *C1 = gc_zeros(nc), *C2 = gc_zeros(nc);
        memcpy(C1, C0, nc * sizeof *C0);
        memcpy(C2, C0, nc * sizeof *C0);
        set_threads(1);
        rin_gemm_bf16(ta, tb, M, N, K, 1.0f, A, ta ? M : K, B, tb ? K : N, 1.0f, C1, N);
        set_threads(2);
        rin_gemm_bf16(ta, tb, M, N, K, 1.0f, A, ta ? M : K, B, tb ? K : N, 1.0f, C2, N);
        char what[96];
        snprintf(what, sizeof what, "bf16 %c%c M=%d N=%d K=%d: 1 vs 2 threads", ta ? 'T' : 'N',
                 tb ? 'T' : 'N', M, N, K);
        GC_BITWISE(what, C2, C1, nc);
        free(A), free(B), free(C0), free(C1), free(C2);
    }
    set_threads(threads);
#endif
}
