/* test_ops.c -- T0 kernel parity and T1 finite-difference tests of every op in src/nn/ops.h.
 *
 * T0: rin_linear_forward/backward (cblas_sgemm under RIN_BLAS) against the *_naive loops on odd
 * sizes, accumulating into non-zero gradients, with and without din/db and bias;
 * |a - b| <= 1e-5 + 1e-4 |b| elementwise.
 * T1: L = sum(out * R) with fixed random R, accumulated in double; the analytic gradient is the
 * backward with dout = R on zeroed buffers; every element of every input and parameter is
 * perturbed in float32 with h = 1e-2 (gradcheck.h), 4-point stencil for softmax and LayerNorm;
 * pass if |g_fd - g_an| <= 1e-3 + 1e-2 |g_fd|. Every backward is also run on buffers that start
 * non-zero, to check that it accumulates (+=) as ops.h promises.
 * Forward semantics that finite differences cannot see are checked directly: exact erf GELU
 * (not tanh), attention against a double-precision softmax attention, the patch index formula
 * and adjointness, dropout masks, the gamma code formula, and the MSE against hand-computed
 * numbers. Inputs are uniform in [-1, 1] from fixed seeds unless a test says otherwise.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gemm.h"
#include "gradcheck.h"
#include "internal.h"
#include "ops.h"
#include "parallel.h"
#include "simd.h"
#include "test.h"

/* T0 and T2-style forward tolerance (style.md section 10). */
#define T0_ATOL 1e-5
#define T0_RTOL 1e-4

static float *copy_of(const float *x, size_t n) {
    float *p = gc_zeros(n);
    memcpy(p, x, n * sizeof *p);
    return p;
}

/* ---- T0: linear, BLAS (or whatever rin_linear_* is built with) against the naive loops ------ */

static void linear_parity_case(int N, int I, int O, unsigned long long seed) {
    size_t nin = (size_t)N * I, nw = (size_t)O * I, nout = (size_t)N * O;
    float *in = gc_uniform(nin, seed, -1.0f, 1.0f);
    float *w = gc_uniform(nw, seed + 1, -1.0f, 1.0f);
    float *b = gc_uniform((size_t)O, seed + 2, -1.0f, 1.0f);
    float *dout = gc_uniform(nout, seed + 3, -1.0f, 1.0f);
    float *din0 = gc_uniform(nin, seed + 4, -1.0f, 1.0f);
    float *dw0 = gc_uniform(nw, seed + 5, -1.0f, 1.0f);
    float *db0 = gc_uniform((size_t)O, seed + 6, -1.0f, 1.0f);
    float *o_fast = gc_zeros(nout), *o_ref = gc_zeros(nout);
    char what[96];

    /* outputs start as garbage: forward overwrites */
    for (size_t i = 0; i < nout; i++)
        o_fast[i] = o_ref[i] = 1e30f;
    rin_linear_forward(o_fast, in, w, b, N, I, O, RIN_PRECISION_FP32);
    rin_linear_forward_naive(o_ref, in, w, b, N, I, O);
    snprintf(what, sizeof what, "T0 linear (%d,%d,%d) out", N, I, O);
    GC_COMPARE_F32(what, o_fast, o_ref, nout, T0_ATOL, T0_RTOL);

    rin_linear_forward(o_fast, in, w, NULL, N, I, O, RIN_PRECISION_FP32);
    rin_linear_forward_naive(o_ref, in, w, NULL, N, I, O);
    snprintf(what, sizeof what, "T0 linear (%d,%d,%d) out b=NULL", N, I, O);
    GC_COMPARE_F32(what, o_fast, o_ref, nout, T0_ATOL, T0_RTOL);

    /* backward into non-zero gradients */
    float *din_f = copy_of(din0, nin), *dw_f = copy_of(dw0, nw), *db_f = copy_of(db0, (size_t)O);
    float *din_r = copy_of(din0, nin), *dw_r = copy_of(dw0, nw), *db_r = copy_of(db0, (size_t)O);
    rin_linear_backward(din_f, dw_f, db_f, dout, in, w, N, I, O, RIN_PRECISION_FP32);
    rin_linear_backward_naive(din_r, dw_r, db_r, dout, in, w, N, I, O);
    snprintf(what, sizeof what, "T0 linear (%d,%d,%d) din (+=)", N, I, O);
    GC_COMPARE_F32(what, din_f, din_r, nin, T0_ATOL, T0_RTOL);
    snprintf(what, sizeof what, "T0 linear (%d,%d,%d) dw (+=)", N, I, O);
    GC_COMPARE_F32(what, dw_f, dw_r, nw, T0_ATOL, T0_RTOL);
    snprintf(what, sizeof what, "T0 linear (%d,%d,%d) db (+=)", N, I, O);
    GC_COMPARE_F32(what, db_f, db_r, (size_t)O, T0_ATOL, T0_RTOL);

    /* the naive reference itself accumulates: result - initial == the product computed in
     * double */
    {
        double *ref = malloc(nw * sizeof *ref);
        if (!ref)
            abort();
        for (int o = 0; o < O; o++)
            for (int i = 0; i < I; i++) {
                double s = (double)dw0[(size_t)o * I + i];
                for (int r = 0; r < N; r++)
                    s += (double)dout[(size_t)r * O + o] * (double)in[(size_t)r * I + i];
                ref[(size_t)o * I + i] = s;
            }
        snprintf(what, sizeof what, "T0 linear (%d,%d,%d) dw naive vs f64", N, I, O);
        GC_COMPARE_F64(what, dw_r, ref, nw, T0_ATOL, T0_RTOL);
        free(ref);
    }

    /* NULL din and db: dw alone, same values */
    float *dw_f2 = copy_of(dw0, nw), *dw_r2 = copy_of(dw0, nw);
    rin_linear_backward(NULL, dw_f2, NULL, dout, in, w, N, I, O, RIN_PRECISION_FP32);
    rin_linear_backward_naive(NULL, dw_r2, NULL, dout, in, w, N, I, O);
    snprintf(what, sizeof what, "T0 linear (%d,%d,%d) dw, din=db=NULL", N, I, O);
    GC_COMPARE_F32(what, dw_f2, dw_r2, nw, T0_ATOL, T0_RTOL);
    snprintf(what, sizeof what, "T0 linear (%d,%d,%d) dw NULL vs full", N, I, O);
    GC_COMPARE_F32(what, dw_f2, dw_r, nw, T0_ATOL, T0_RTOL);

    free(in), free(w), free(b), free(dout), free(din0), free(dw0), free(db0);
    free(o_fast), free(o_ref), free(din_f), free(dw_f), free(db_f), free(din_r), free(dw_r);
    free(db_r), free(dw_f2), free(dw_r2);
}

TEST(ops_linear_parity) {
#ifdef RIN_BLAS
    printf("  fast path: cblas_sgemm (RIN_BLAS)\n");
#else
    printf("  fast path: the naive loops (built without RIN_BLAS)\n");
#endif
    static const int sizes[][3] = {{7, 13, 33}, {33, 7, 13}, {1, 5, 3}, {64, 48, 96}};
    for (int s = 0; s < 4; s++)
        linear_parity_case(sizes[s][0], sizes[s][1], sizes[s][2], 100u + 10u * (unsigned)s);
}

/* ---- T1: linear ------------------------------------------------------------------------------ */

typedef struct lin_ctx {
    float *out;
    const float *in, *w, *b, *R;
    int N, I, O, naive;
} lin_ctx;

static double lin_loss(void *p) {
    lin_ctx *c = p;
    if (c->naive)
        rin_linear_forward_naive(c->out, c->in, c->w, c->b, c->N, c->I, c->O);
    else
        rin_linear_forward(c->out, c->in, c->w, c->b, c->N, c->I, c->O, RIN_PRECISION_FP32);
    return gc_dot(c->out, c->R, (size_t)c->N * c->O);
}

static void lin_backward(int naive, float *din, float *dw, float *db, const float *dout,
                         const float *in, const float *w, int N, int I, int O) {
    if (naive)
        rin_linear_backward_naive(din, dw, db, dout, in, w, N, I, O);
    else
        rin_linear_backward(din, dw, db, dout, in, w, N, I, O, RIN_PRECISION_FP32);
}

TEST(ops_linear_fd) {
    const int N = 4, I = 7, O = 5;
    size_t nin = (size_t)N * I, nw = (size_t)O * I, nout = (size_t)N * O;
    for (int naive = 0; naive < 2; naive++) {
        float *in = gc_uniform(nin, 201, -1.0f, 1.0f), *w = gc_uniform(nw, 202, -1.0f, 1.0f);
        float *b = gc_uniform((size_t)O, 203, -1.0f, 1.0f), *R = gc_uniform(nout, 204, -1.0f, 1.0f);
        float *out = gc_zeros(nout);
        float *din = gc_zeros(nin), *dw = gc_zeros(nw), *db = gc_zeros((size_t)O);
        const char *tag = naive ? "naive" : "fast";
        char what[96];
        lin_ctx c = {out, in, w, b, R, N, I, O, naive};
        lin_loss(&c);
        lin_backward(naive, din, dw, db, R, in, w, N, I, O);

        /* accumulation */
        float *din0 = gc_uniform(nin, 205, -1.0f, 1.0f), *dw0 = gc_uniform(nw, 206, -1.0f, 1.0f);
        float *db0 = gc_uniform((size_t)O, 207, -1.0f, 1.0f);
        float *dinA = copy_of(din0, nin), *dwA = copy_of(dw0, nw), *dbA = copy_of(db0, (size_t)O);
        lin_backward(naive, dinA, dwA, dbA, R, in, w, N, I, O);
        snprintf(what, sizeof what, "linear %s din", tag);
        GC_ACCUM_CHECK(what, dinA, din0, din, nin);
        snprintf(what, sizeof what, "linear %s dw", tag);
        GC_ACCUM_CHECK(what, dwA, dw0, dw, nw);
        snprintf(what, sizeof what, "linear %s db", tag);
        GC_ACCUM_CHECK(what, dbA, db0, db, (size_t)O);

        snprintf(what, sizeof what, "linear %s din", tag);
        GC_FD_CHECK(what, lin_loss, &c, in, din, nin, GC_STENCIL2);
        snprintf(what, sizeof what, "linear %s dw", tag);
        GC_FD_CHECK(what, lin_loss, &c, w, dw, nw, GC_STENCIL2);
        snprintf(what, sizeof what, "linear %s db", tag);
        GC_FD_CHECK(what, lin_loss, &c, b, db, (size_t)O, GC_STENCIL2);
        free(in), free(w), free(b), free(R), free(out), free(din), free(dw), free(db);
        free(din0), free(dw0), free(db0), free(dinA), free(dwA), free(dbA);
    }
}

/* ---- T1: LayerNorm --------------------------------------------------------------------------- */

typedef struct ln_ctx {
    float *out, *mean, *rstd;
    const float *x, *w, *b, *R;
    int N, C;
} ln_ctx;

static double ln_loss(void *p) {
    ln_ctx *c = p;
    rin_layernorm_forward(c->out, c->mean, c->rstd, c->x, c->w, c->b, c->N, c->C);
    return gc_dot(c->out, c->R, (size_t)c->N * c->C);
}

TEST(ops_layernorm_fd) {
    static const int Cs[2] = {5, 16};
    for (int ci = 0; ci < 2; ci++) {
        const int N = 3, C = Cs[ci];
        size_t n = (size_t)N * C;
        unsigned long long s = 300u + 10u * (unsigned)ci;
        float *x = gc_uniform(n, s, -1.0f, 1.0f), *w = gc_uniform((size_t)C, s + 1, -1.0f, 1.0f);
        float *b = gc_uniform((size_t)C, s + 2, -1.0f, 1.0f),
              *R = gc_uniform(n, s + 3, -1.0f, 1.0f);
        float *out = gc_zeros(n), *mean = gc_zeros((size_t)N), *rstd = gc_zeros((size_t)N);
        float *dx = gc_zeros(n), *dw = gc_zeros((size_t)C), *db = gc_zeros((size_t)C);
        ln_ctx c = {out, mean, rstd, x, w, b, R, N, C};
        char what[96];

        /* forward against double: biased variance, eps 1e-6 inside the sqrt */
        ln_loss(&c);
        double *ref = malloc(n * sizeof *ref);
        if (!ref)
            abort();
        for (int r = 0; r < N; r++) {
            double m = 0.0, v = 0.0;
            for (int k = 0; k < C; k++)
                m += (double)x[(size_t)r * C + k];
            m /= C;
            for (int k = 0; k < C; k++) {
                double d = (double)x[(size_t)r * C + k] - m;
                v += d * d;
            }
            v /= C;
            for (int k = 0; k < C; k++)
                ref[(size_t)r * C + k] =
                    ((double)x[(size_t)r * C + k] - m) / sqrt(v + 1e-6) * (double)w[k] +
                    (double)b[k];
        }
        snprintf(what, sizeof what, "layernorm C=%d forward vs f64", C);
        GC_COMPARE_F64(what, out, ref, n, T0_ATOL, T0_RTOL);
        free(ref);

        rin_layernorm_backward(dx, dw, db, R, x, mean, rstd, w, N, C);
        float *dx0 = gc_uniform(n, s + 4, -1.0f, 1.0f),
              *dw0 = gc_uniform((size_t)C, s + 5, -1.0f, 1.0f);
        float *db0 = gc_uniform((size_t)C, s + 6, -1.0f, 1.0f);
        float *dxA = copy_of(dx0, n), *dwA = copy_of(dw0, (size_t)C),
              *dbA = copy_of(db0, (size_t)C);
        rin_layernorm_backward(dxA, dwA, dbA, R, x, mean, rstd, w, N, C);
        snprintf(what, sizeof what, "layernorm C=%d dx", C);
        GC_ACCUM_CHECK(what, dxA, dx0, dx, n);
        snprintf(what, sizeof what, "layernorm C=%d dw", C);
        GC_ACCUM_CHECK(what, dwA, dw0, dw, (size_t)C);
        snprintf(what, sizeof what, "layernorm C=%d db", C);
        GC_ACCUM_CHECK(what, dbA, db0, db, (size_t)C);

        snprintf(what, sizeof what, "layernorm C=%d dx", C);
        GC_FD_CHECK(what, ln_loss, &c, x, dx, n, GC_STENCIL4);
        snprintf(what, sizeof what, "layernorm C=%d dw", C);
        GC_FD_CHECK(what, ln_loss, &c, w, dw, (size_t)C, GC_STENCIL4);
        snprintf(what, sizeof what, "layernorm C=%d db", C);
        GC_FD_CHECK(what, ln_loss, &c, b, db, (size_t)C, GC_STENCIL4);
        free(x), free(w), free(b), free(R), free(out), free(mean), free(rstd), free(dx), free(dw);
        free(db), free(dx0), free(dw0), free(db0), free(dxA), free(dwA), free(dbA);
    }
}

/* ---- T1: GELU and SiLU ----------------------------------------------------------------------- */

typedef struct pw_ctx {
    float *out;
    const float *x, *R;
    size_t n;
    int silu;
} pw_ctx;

static double pw_loss(void *p) {
    pw_ctx *c = p;
    if (c->silu)
        rin_silu_forward(c->out, c->x, c->n);
    else
        rin_gelu_forward(c->out, c->x, c->n);
    return gc_dot(c->out, c->R, c->n);
}

static double gelu_exact(double x) {
    return 0.5 * x * (1.0 + erf(x / sqrt(2.0)));
}
static double silu_exact(double x) {
    return x / (1.0 + exp(-x));
}

TEST(ops_gelu_silu_fd) {
    const size_t n = 64;
    /* [-1, 1] as T1 prescribes, and [-4, 4] for the tails */
    static const float range[2] = {1.0f, 4.0f};
    for (int silu = 0; silu < 2; silu++) {
        for (int ri = 0; ri < 2; ri++) {
            unsigned long long s = 400u + 10u * (unsigned)silu + (unsigned)ri;
            float *x = gc_uniform(n, s, -range[ri], range[ri]);
            float *R = gc_uniform(n, s + 100, -1.0f, 1.0f);
            float *out = gc_zeros(n), *dx = gc_zeros(n);
            pw_ctx c = {out, x, R, n, silu};
            const char *name = silu ? "silu" : "gelu";
            char what[96];

            pw_loss(&c);
            double *ref = malloc(n * sizeof *ref);
            if (!ref)
                abort();
            for (size_t i = 0; i < n; i++)
                ref[i] = silu ? silu_exact((double)x[i]) : gelu_exact((double)x[i]);
            snprintf(what, sizeof what, "%s forward [-%g,%g] vs f64", name, (double)range[ri],
                     (double)range[ri]);
            GC_COMPARE_F64(what, out, ref, n, 1e-6, 1e-6);
            free(ref);

            if (silu)
                rin_silu_backward(dx, R, x, n);
            else
                rin_gelu_backward(dx, R, x, n);
            float *dx0 = gc_uniform(n, s + 200, -1.0f, 1.0f), *dxA = copy_of(dx0, n);
            if (silu)
                rin_silu_backward(dxA, R, x, n);
            else
                rin_gelu_backward(dxA, R, x, n);
            snprintf(what, sizeof what, "%s dx [-%g,%g]", name, (double)range[ri],
                     (double)range[ri]);
            GC_ACCUM_CHECK(what, dxA, dx0, dx, n);
            GC_FD_CHECK(what, pw_loss, &c, x, dx, n, GC_STENCIL2);
            free(x), free(R), free(out), free(dx), free(dx0), free(dxA);
        }
    }
}

TEST(ops_gelu_is_exact_erf) {
    static const float pts[] = {-5.0f, -3.0f, -2.0f, -1.0f, -0.5f, -1e-3f, 0.0f,
                                1e-3f, 0.5f,  1.0f,  2.0f,  3.0f,  5.0f};
    const size_t n = sizeof pts / sizeof pts[0];
    float out[sizeof pts / sizeof pts[0]];
    double ref[sizeof pts / sizeof pts[0]];
    rin_gelu_forward(out, pts, n);
    for (size_t i = 0; i < n; i++)
        ref[i] = gelu_exact((double)pts[i]);
    /* float32 erff is accurate to a few ulp; 1e-6 is 10x below the erf/tanh gap near x = 1 */
    GC_COMPARE_F64("gelu forward at fixed points vs f64 erf", out, ref, n, 1e-6, 1e-6);
    const double exact1 = 0.8413447460685429, tanh1 = 0.8411919906082768;
    CHECK_CLOSE(gelu_exact(1.0), exact1, 1e-15, 0.0);
    CHECK_CLOSE(out[9], exact1, 1e-6, 0.0);
    CHECK_MSG(fabs((double)out[9] - tanh1) > 1e-4,
              "gelu(1) = %.9g is the tanh approximation %.9g, not exact erf", (double)out[9],
              tanh1);
    printf("  gelu(1) = %.9f  exact %.9f  tanh-approx %.9f\n", (double)out[9], exact1, tanh1);
    /* in place: out may alias x */
    float xs[3] = {-1.0f, 0.25f, 1.0f}, ys[3];
    rin_gelu_forward(ys, xs, 3);
    rin_gelu_forward(xs, xs, 3);
    GC_BITWISE("gelu in place", xs, ys, 3);
}

/* ---- the AVX2 and scalar paths of the pointwise math (simd.h) --------------------------- */

/* GELU and its derivative on a dense grid, each path against double: absolute error within
 * 2e-7 (about 2 ulp of the largest erf terms), relative error within 1e-5 where |gelu| > 0.1. */
static void gelu_paths_case(int avx2) {
    enum { N = 16001 };
    float *x = gc_zeros(N), *y = gc_zeros(N), *dx = gc_zeros(N), *one = gc_zeros(N);
    for (int i = 0; i < N; i++) {
        x[i] = -8.0f + 16.0f * (float)i / (N - 1);
        one[i] = 1.0f;
    }
    int prev = rin_simd_set(avx2);
    rin_gelu_forward(y, x, N);
    rin_gelu_backward(dx, one, x, N);
    rin_simd_set(prev);
    double worst_abs = 0, worst_rel = 0, worst_dabs = 0;
    for (int i = 0; i < N; i++) {
        double v = (double)x[i], cdf = 0.5 * (1.0 + erf(v / sqrt(2.0)));
        double g = v * cdf, dg = cdf + v * exp(-0.5 * v * v) * 0.39894228040143268;
        double ea = fabs((double)y[i] - g), ed = fabs((double)dx[i] - dg);
        worst_abs = ea > worst_abs ? ea : worst_abs;
        worst_dabs = ed > worst_dabs ? ed : worst_dabs;
        if (fabs(g) > 0.1 && ea / fabs(g) > worst_rel)
            worst_rel = ea / fabs(g);
    }
    printf("  gelu %-6s max abs err %.2e (rel %.2e where |gelu|>0.1), gelu' max abs err %.2e\n",
           avx2 ? "avx2" : "scalar", worst_abs, worst_rel, worst_dabs);
    CHECK_MSG(worst_abs <= 1e-6 && worst_rel <= 1e-6 && worst_dabs <= 1e-6,
              "gelu %s path: abs %.3g rel %.3g d %.3g", avx2 ? "avx2" : "scalar", worst_abs,
              worst_rel, worst_dabs);
    free(x), free(y), free(dx), free(one);
}

TEST(ops_simd_paths_agree) {
    int had = rin_simd_set(1);
    int have = rin_simd_avx2();
    rin_simd_set(had);
    if (!have) {
        gelu_paths_case(0);
        test_skip("this CPU has no AVX2+FMA: only the scalar path was checked");
        return;
    }
    gelu_paths_case(0);
    gelu_paths_case(1);
    /* softmax inside attention: both paths on the same inputs, with a row length (13) that
     * has a vector part and a tail */
    const int B = 2, Nq = 5, Nk = 13, A = 8, NH = 2;
    size_t nq = (size_t)B * Nq * A, nk = (size_t)B * Nk * A, na = (size_t)B * NH * Nq * Nk;
    float *q = gc_uniform(nq, 900, -3.0f, 3.0f), *k = gc_uniform(nk, 901, -3.0f, 3.0f);
    float *v = gc_uniform(nk, 902, -1.0f, 1.0f);
    float *o0 = gc_zeros(nq), *o1 = gc_zeros(nq), *a0 = gc_zeros(na), *a1 = gc_zeros(na);
    int prev = rin_simd_set(0);
    rin_attention_forward(o0, a0, q, k, v, B, Nq, Nk, A, NH, RIN_PRECISION_FP32);
    rin_simd_set(1);
    rin_attention_forward(o1, a1, q, k, v, B, Nq, Nk, A, NH, RIN_PRECISION_FP32);
    rin_simd_set(prev);
    GC_COMPARE_F32("softmax avx2 vs scalar: att", a1, a0, na, 1e-7, 1e-5);
    GC_COMPARE_F32("softmax avx2 vs scalar: out", o1, o0, nq, 1e-7, 1e-5);
    free(q), free(k), free(v), free(o0), free(o1), free(a0), free(a1);
}

/* ---- T1: attention --------------------------------------------------------------------------- */

typedef struct att_ctx {
    float *out, *att;
    const float *q, *k, *v, *R;
    int B, Nq, Nk, A, NH;
} att_ctx;

static double att_loss(void *p) {
    att_ctx *c = p;
    rin_attention_forward(c->out, c->att, c->q, c->k, c->v, c->B, c->Nq, c->Nk, c->A, c->NH,
                          RIN_PRECISION_FP32);
    return gc_dot(c->out, c->R, (size_t)c->B * c->Nq * c->A);
}

/* Naive softmax attention in double, from the float inputs. */
static void attention_ref(double *out, double *att, const float *q, const float *k, const float *v,
                          int B, int Nq, int Nk, int A, int NH) {
    int hs = A / NH;
    double scale = 1.0 / sqrt((double)hs);
    double srow[64];
    for (int b = 0; b < B; b++)
        for (int h = 0; h < NH; h++)
            for (int i = 0; i < Nq; i++) {
                double mx = -(double)INFINITY, sum = 0.0;
                for (int j = 0; j < Nk; j++) {
                    double s = 0.0;
                    for (int d = 0; d < hs; d++)
                        s += (double)q[((size_t)b * Nq + i) * A + (size_t)h * hs + d] *
                             (double)k[((size_t)b * Nk + j) * A + (size_t)h * hs + d];
                    srow[j] = s * scale;
                    if (srow[j] > mx)
                        mx = srow[j];
                }
                for (int j = 0; j < Nk; j++) {
                    srow[j] = exp(srow[j] - mx);
                    sum += srow[j];
                }
                double *ar = att + (((size_t)b * NH + h) * Nq + i) * Nk;
                for (int j = 0; j < Nk; j++)
                    ar[j] = srow[j] / sum;
                for (int d = 0; d < hs; d++) {
                    double o = 0.0;
                    for (int j = 0; j < Nk; j++)
                        o += ar[j] * (double)v[((size_t)b * Nk + j) * A + (size_t)h * hs + d];
                    out[((size_t)b * Nq + i) * A + (size_t)h * hs + d] = o;
                }
            }
}

static void attention_case(int Nq, int Nk, int NH, unsigned long long s) {
    const int B = 2, A = 8;
    size_t nq = (size_t)B * Nq * A, nk = (size_t)B * Nk * A, na = (size_t)B * NH * Nq * Nk;
    float *q = gc_uniform(nq, s, -1.0f, 1.0f), *k = gc_uniform(nk, s + 1, -1.0f, 1.0f);
    float *v = gc_uniform(nk, s + 2, -1.0f, 1.0f), *R = gc_uniform(nq, s + 3, -1.0f, 1.0f);
    float *out = gc_zeros(nq), *att = gc_zeros(na), *scratch = gc_zeros(na);
    float *dq = gc_zeros(nq), *dk = gc_zeros(nk), *dv = gc_zeros(nk);
    att_ctx c = {out, att, q, k, v, R, B, Nq, Nk, A, NH};
    char tag[48], what[96];
    snprintf(tag, sizeof tag, "attention %s Nq=%d Nk=%d NH=%d", Nq == Nk ? "self" : "cross", Nq, Nk,
             NH);

    /* forward against double softmax attention; att rows sum to 1 */
    att_loss(&c);
    double *oref = malloc(nq * sizeof *oref), *aref = malloc(na * sizeof *aref);
    if (!oref || !aref)
        abort();
    attention_ref(oref, aref, q, k, v, B, Nq, Nk, A, NH);
    snprintf(what, sizeof what, "%s out vs f64", tag);
    GC_COMPARE_F64(what, out, oref, nq, T0_ATOL, T0_RTOL);
    snprintf(what, sizeof what, "%s att vs f64", tag);
    GC_COMPARE_F64(what, att, aref, na, T0_ATOL, T0_RTOL);
    double worst_sum = 0.0;
    for (size_t r = 0; r < (size_t)B * NH * Nq; r++) {
        double sum = 0.0;
        for (int j = 0; j < Nk; j++)
            sum += (double)att[r * Nk + j];
        if (fabs(sum - 1.0) > worst_sum)
            worst_sum = fabs(sum - 1.0);
        /* Nk <= 7 float terms each within an ulp of exact: 1e-6 is ~10 ulp of 1 */
        CHECK_MSG(fabs(sum - 1.0) <= 1e-6, "%s: att row %zu sums to %.9g", tag, r, sum);
    }
    printf("  %-40s max |row sum - 1| = %.3e\n", tag, worst_sum);
    free(oref), free(aref);

    rin_attention_backward(dq, dk, dv, scratch, R, q, k, v, att, B, Nq, Nk, A, NH,
                           RIN_PRECISION_FP32);
    float *dq0 = gc_uniform(nq, s + 4, -1.0f, 1.0f), *dk0 = gc_uniform(nk, s + 5, -1.0f, 1.0f);
    float *dv0 = gc_uniform(nk, s + 6, -1.0f, 1.0f);
    float *dqA = copy_of(dq0, nq), *dkA = copy_of(dk0, nk), *dvA = copy_of(dv0, nk);
    rin_attention_backward(dqA, dkA, dvA, scratch, R, q, k, v, att, B, Nq, Nk, A, NH,
                           RIN_PRECISION_FP32);
    snprintf(what, sizeof what, "%s dq", tag);
    GC_ACCUM_CHECK(what, dqA, dq0, dq, nq);
    snprintf(what, sizeof what, "%s dk", tag);
    GC_ACCUM_CHECK(what, dkA, dk0, dk, nk);
    snprintf(what, sizeof what, "%s dv", tag);
    GC_ACCUM_CHECK(what, dvA, dv0, dv, nk);

    snprintf(what, sizeof what, "%s dq", tag);
    GC_FD_CHECK(what, att_loss, &c, q, dq, nq, GC_STENCIL4);
    snprintf(what, sizeof what, "%s dk", tag);
    GC_FD_CHECK(what, att_loss, &c, k, dk, nk, GC_STENCIL4);
    snprintf(what, sizeof what, "%s dv", tag);
    GC_FD_CHECK(what, att_loss, &c, v, dv, nk, GC_STENCIL4);
    free(q), free(k), free(v), free(R), free(out), free(att), free(scratch), free(dq), free(dk);
    free(dv), free(dq0), free(dk0), free(dv0), free(dqA), free(dkA), free(dvA);
}

TEST(ops_attention_self_fd) {
    static const int heads[3] = {1, 2, 4};
    for (int h = 0; h < 3; h++)
        attention_case(5, 5, heads[h], 500u + 10u * (unsigned)h);
}

TEST(ops_attention_cross_fd) {
    static const int heads[3] = {1, 2, 4};
    for (int h = 0; h < 3; h++)
        attention_case(3, 7, heads[h], 600u + 10u * (unsigned)h);
}

/* The fast path (BLAS GEMMs per head) against the serial loops, on shapes with odd sizes and
 * a head width that no GEMM kernel tile divides; backward into non-zero gradients. */
static void attention_parity_case(int B, int Nq, int Nk, int A, int NH, unsigned long long s) {
    size_t nq = (size_t)B * Nq * A, nk = (size_t)B * Nk * A, na = (size_t)B * NH * Nq * Nk;
    float *q = gc_uniform(nq, s, -2.0f, 2.0f), *k = gc_uniform(nk, s + 1, -2.0f, 2.0f);
    float *v = gc_uniform(nk, s + 2, -1.0f, 1.0f), *g = gc_uniform(nq, s + 3, -1.0f, 1.0f);
    float *dq0 = gc_uniform(nq, s + 4, -1.0f, 1.0f), *dk0 = gc_uniform(nk, s + 5, -1.0f, 1.0f);
    float *dv0 = gc_uniform(nk, s + 6, -1.0f, 1.0f);
    float *of = gc_zeros(nq), *orf = gc_zeros(nq), *af = gc_zeros(na), *ar = gc_zeros(na);
    float *scratch = gc_zeros(na);
    float *dqf = copy_of(dq0, nq), *dkf = copy_of(dk0, nk), *dvf = copy_of(dv0, nk);
    float *dqr = copy_of(dq0, nq), *dkr = copy_of(dk0, nk), *dvr = copy_of(dv0, nk);
    char what[96];
    for (size_t i = 0; i < nq; i++)
        of[i] = orf[i] = 1e30f; /* forward overwrites */
    rin_attention_forward(of, af, q, k, v, B, Nq, Nk, A, NH, RIN_PRECISION_FP32);
    rin_attention_forward_naive(orf, ar, q, k, v, B, Nq, Nk, A, NH);
    snprintf(what, sizeof what, "attention parity (%d,%d,%d,%d,%d) out", B, Nq, Nk, A, NH);
    GC_COMPARE_F32(what, of, orf, nq, T0_ATOL, T0_RTOL);
    snprintf(what, sizeof what, "attention parity (%d,%d,%d,%d,%d) att", B, Nq, Nk, A, NH);
    GC_COMPARE_F32(what, af, ar, na, T0_ATOL, T0_RTOL);
    rin_attention_backward(dqf, dkf, dvf, scratch, g, q, k, v, ar, B, Nq, Nk, A, NH,
                           RIN_PRECISION_FP32);
    rin_attention_backward_naive(dqr, dkr, dvr, scratch, g, q, k, v, ar, B, Nq, Nk, A, NH);
    snprintf(what, sizeof what, "attention parity (%d,%d,%d,%d,%d) dq (+=)", B, Nq, Nk, A, NH);
    GC_COMPARE_F32(what, dqf, dqr, nq, T0_ATOL, T0_RTOL);
    snprintf(what, sizeof what, "attention parity (%d,%d,%d,%d,%d) dk (+=)", B, Nq, Nk, A, NH);
    GC_COMPARE_F32(what, dkf, dkr, nk, T0_ATOL, T0_RTOL);
    snprintf(what, sizeof what, "attention parity (%d,%d,%d,%d,%d) dv (+=)", B, Nq, Nk, A, NH);
    GC_COMPARE_F32(what, dvf, dvr, nk, T0_ATOL, T0_RTOL);
    free(q), free(k), free(v), free(g), free(dq0), free(dk0), free(dv0), free(of), free(orf);
    free(af), free(ar), free(scratch), free(dqf), free(dkf), free(dvf), free(dqr), free(dkr);
    free(dvr);
}

TEST(ops_attention_fast_vs_naive) {
    attention_parity_case(2, 37, 37, 48, 3, 700u); /* self, hs 16 */
    attention_parity_case(3, 19, 53, 20, 4, 710u); /* cross, hs 5 */
    attention_parity_case(1, 64, 9, 64, 2, 720u);  /* write-like: many queries, few keys */
}

/* ---- bf16 precision of the GEMM ops ------------------------------------------------------------
 */

static float *bf16_rounded(const float *x, size_t n) {
    float *r = gc_zeros(n);
    for (size_t i = 0; i < n; i++)
        r[i] = rin_bf16_to_float(rin_bf16_round(x[i]));
    return r;
}

/* The linear op in bf16 is the fp32 op on bf16-rounded operands (the products of bf16 values
 * are exact in fp32; only the order of the fp32 sums differs), the bias unrounded. */
TEST(ops_linear_bf16) {
    const int N = 37, I = 70, O = 29;
    size_t nin = (size_t)N * I, nw = (size_t)O * I, nout = (size_t)N * O;
    float *in = gc_uniform(nin, 801, -1.0f, 1.0f), *w = gc_uniform(nw, 802, -1.0f, 1.0f);
    float *b = gc_uniform((size_t)O, 803, -1.0f, 1.0f), *g = gc_uniform(nout, 804, -1.0f, 1.0f);
    float *in_r = bf16_rounded(in, nin), *w_r = bf16_rounded(w, nw), *g_r = bf16_rounded(g, nout);
    float *o16 = gc_zeros(nout), *oref = gc_zeros(nout), *o32 = gc_zeros(nout);
    rin_linear_forward(o16, in, w, b, N, I, O, RIN_PRECISION_BF16);
    rin_linear_forward(oref, in_r, w_r, b, N, I, O, RIN_PRECISION_FP32);
    rin_linear_forward(o32, in, w, b, N, I, O, RIN_PRECISION_FP32);
    GC_COMPARE_F32("linear bf16 out vs fp32 on rounded operands", o16, oref, nout, T0_ATOL,
                   T0_RTOL);
    double e = gc_rel_l2(o16, o32, nout);
    printf("  linear bf16 vs fp32 out: relative L2 %.2e\n", e);
    CHECK(e > 1e-5 && e < 1.0 / 64); /* rounded, by about bf16's step */
    float *din16 = gc_uniform(nin, 805, -1.0f, 1.0f), *dw16 = gc_uniform(nw, 806, -1.0f, 1.0f);
    float *db16 = gc_uniform((size_t)O, 807, -1.0f, 1.0f);
    float *dinr = copy_of(din16, nin), *dwr = copy_of(dw16, nw), *dbr = copy_of(db16, (size_t)O);
    rin_linear_backward(din16, dw16, db16, g, in, w, N, I, O, RIN_PRECISION_BF16);
    rin_linear_backward(dinr, dwr, NULL, g_r, in_r, w_r, N, I, O, RIN_PRECISION_FP32);
    for (int o = 0; o < O; o++) {
        double sum = (double)dbr[o];
        for (int r = 0; r < N; r++)
            sum += (double)g[(size_t)r * O + o];
        dbr[o] = (float)sum;
    }
    GC_COMPARE_F32("linear bf16 din (+=)", din16, dinr, nin, T0_ATOL, T0_RTOL);
    GC_COMPARE_F32("linear bf16 dw (+=)", dw16, dwr, nw, T0_ATOL, T0_RTOL);
    GC_COMPARE_F32("linear bf16 db (+=, fp32: a sum, not a product)", db16, dbr, (size_t)O, T0_ATOL,
                   T0_RTOL);
    free(in), free(w), free(b), free(g), free(in_r), free(w_r), free(g_r), free(o16), free(oref);
    free(o32), free(din16), free(dw16), free(db16), free(dinr), free(dwr), free(dbr);
}

/* The attention core in bf16 against fp32: within bf16's tolerance, and rounded (not equal). */
TEST(ops_attention_bf16) {
    const int B = 2, Nq = 19, Nk = 33, A = 32, NH = 2;
    size_t nq = (size_t)B * Nq * A, nk = (size_t)B * Nk * A, na = (size_t)B * NH * Nq * Nk;
    float *q = gc_uniform(nq, 811, -1.0f, 1.0f), *k = gc_uniform(nk, 812, -1.0f, 1.0f);
    float *v = gc_uniform(nk, 813, -1.0f, 1.0f), *g = gc_uniform(nq, 814, -1.0f, 1.0f);
    float *o16 = gc_zeros(nq), *o32 = gc_zeros(nq), *a16 = gc_zeros(na), *a32 = gc_zeros(na);
    float *scratch = gc_zeros(na);
    rin_attention_forward(o16, a16, q, k, v, B, Nq, Nk, A, NH, RIN_PRECISION_BF16);
    rin_attention_forward(o32, a32, q, k, v, B, Nq, Nk, A, NH, RIN_PRECISION_FP32);
    float *d16[3] = {gc_zeros(nq), gc_zeros(nk), gc_zeros(nk)};
    float *d32[3] = {gc_zeros(nq), gc_zeros(nk), gc_zeros(nk)};
    rin_attention_backward(d16[0], d16[1], d16[2], scratch, g, q, k, v, a32, B, Nq, Nk, A, NH,
                           RIN_PRECISION_BF16);
    rin_attention_backward(d32[0], d32[1], d32[2], scratch, g, q, k, v, a32, B, Nq, Nk, A, NH,
                           RIN_PRECISION_FP32);
    double e[5] = {gc_rel_l2(o16, o32, nq), gc_rel_l2(a16, a32, na), gc_rel_l2(d16[0], d32[0], nq),
                   gc_rel_l2(d16[1], d32[1], nk), gc_rel_l2(d16[2], d32[2], nk)};
    printf("  attention bf16 vs fp32 relative L2: out %.2e att %.2e dq %.2e dk %.2e dv %.2e\n",
           e[0], e[1], e[2], e[3], e[4]);
    for (int i = 0; i < 5; i++)
        CHECK(e[i] > 1e-5 && e[i] < 1.0 / 64);
    free(q), free(k), free(v), free(g), free(o16), free(o32), free(a16), free(a32), free(scratch);
    for (int i = 0; i < 3; i++)
        free(d16[i]), free(d32[i]);
}

/* ---- patchify / unpatchify ------------------------------------------------------------------- */

static double dot_f64(const float *a, const float *b, size_t n) {
    return gc_dot(a, b, n);
}

static void patch_case(int B, int H, int W, int C, int p, unsigned long long s) {
    int gw = W / p, n = (H / p) * gw, P = p * p * C;
    size_t ni = (size_t)B * H * W * C;
    char tag[48], what[96];
    snprintf(tag, sizeof tag, "patch B=%d H=%d W=%d C=%d p=%d", B, H, W, C, p);
    CHECK(ni == (size_t)B * n * P);

    /* index formula over every element, on an image whose values encode their index */
    float *img = gc_zeros(ni), *pt = gc_zeros(ni), *back = gc_zeros(ni);
    for (size_t i = 0; i < ni; i++)
        img[i] = (float)i;
    rin_patchify(pt, img, B, H, W, C, p);
    size_t nbad = 0;
    for (int b = 0; b < B; b++)
        for (int r = 0; r < H / p; r++)
            for (int c = 0; c < gw; c++)
                for (int i = 0; i < p; i++)
                    for (int j = 0; j < p; j++)
                        for (int ch = 0; ch < C; ch++) {
                            size_t pi = ((size_t)b * n + (size_t)r * gw + c) * P +
                                        (size_t)(i * p + j) * C + ch;
                            size_t ii =
                                (((size_t)b * H + (size_t)r * p + i) * W + (size_t)c * p + j) * C +
                                ch;
                            if (pt[pi] != img[ii] && nbad++ == 0)
                                test_fail(__FILE__, __LINE__,
                                          "%s: patches[%d,%d,%d] = %g, expected img[%d,%d,%d,%d] "
                                          "= %g",
                                          tag, b, r * gw + c, (i * p + j) * C + ch, (double)pt[pi],
                                          b, r * p + i, c * p + j, ch, (double)img[ii]);
                        }
    printf("  %-40s index formula: %zu of %zu elements differ\n", tag, nbad, ni);

    /* round trips are the identity, bitwise, on random values */
    float *x = gc_uniform(ni, s, -1.0f, 1.0f), *y = gc_uniform(ni, s + 1, -1.0f, 1.0f);
    rin_patchify(pt, x, B, H, W, C, p);
    rin_unpatchify(back, pt, B, H, W, C, p);
    snprintf(what, sizeof what, "%s unpatchify(patchify(x))", tag);
    GC_BITWISE(what, back, x, ni);
    rin_unpatchify(back, y, B, H, W, C, p);
    rin_patchify(pt, back, B, H, W, C, p);
    snprintf(what, sizeof what, "%s patchify(unpatchify(y))", tag);
    GC_BITWISE(what, pt, y, ni);

    /* adjoints: <patchify(x), y> == <x, patchify_backward(y)>, and the same for unpatchify */
    float *g = gc_zeros(ni);
    rin_patchify(pt, x, B, H, W, C, p);
    rin_patchify_backward(g, y, B, H, W, C, p);
    double lhs = dot_f64(pt, y, ni), rhs = dot_f64(x, g, ni);
    printf("  %-40s <P x, y> = %.17g  <x, P^T y> = %.17g\n", tag, lhs, rhs);
    CHECK_MSG(fabs(lhs - rhs) <= 1e-6 * fabs(lhs), "%s: patchify adjoint %.17g vs %.17g", tag, lhs,
              rhs);
    rin_unpatchify(back, y, B, H, W, C, p);
    for (size_t i = 0; i < ni; i++)
        g[i] = 1e30f; /* unpatchify_backward overwrites */
    rin_unpatchify_backward(g, x, B, H, W, C, p);
    lhs = dot_f64(back, x, ni), rhs = dot_f64(y, g, ni);
    printf("  %-40s <U y, x> = %.17g  <y, U^T x> = %.17g\n", tag, lhs, rhs);
    CHECK_MSG(fabs(lhs - rhs) <= 1e-6 * fabs(lhs), "%s: unpatchify adjoint %.17g vs %.17g", tag,
              lhs, rhs);

    /* patchify_backward accumulates: g0 + unpatchify(y), bitwise (one float add each) */
    float *g0 = gc_uniform(ni, s + 2, -1.0f, 1.0f), *gA = copy_of(g0, ni), *ref = gc_zeros(ni);
    rin_patchify_backward(gA, y, B, H, W, C, p);
    rin_unpatchify(back, y, B, H, W, C, p);
    for (size_t i = 0; i < ni; i++)
        ref[i] = g0[i] + back[i];
    snprintf(what, sizeof what, "%s patchify_backward (+=)", tag);
    GC_BITWISE(what, gA, ref, ni);
    free(img), free(pt), free(back), free(x), free(y), free(g), free(g0), free(gA), free(ref);
}

TEST(ops_patchify) {
    patch_case(2, 4, 6, 3, 2, 700);
    patch_case(2, 6, 4, 1, 2, 710);
    patch_case(1, 4, 6, 1, 2, 720);

    /* hand-picked elements: img[b,y,x,ch] = 1000 b + 100 y + 10 x + ch, B=2 H=4 W=6 C=3 p=2;
     * W/p = 3 tokens per row, P = 12 */
    float img[2 * 4 * 6 * 3], pt[2 * 4 * 6 * 3];
    for (int b = 0; b < 2; b++)
        for (int y = 0; y < 4; y++)
            for (int x = 0; x < 6; x++)
                for (int ch = 0; ch < 3; ch++)
                    img[((b * 4 + y) * 6 + x) * 3 + ch] = (float)(1000 * b + 100 * y + 10 * x + ch);
    rin_patchify(pt, img, 2, 4, 6, 3, 2);
    /* {b, token t = r*3 + c, vector index v = (i*2 + j)*3 + ch, expected value}, worked by hand:
     *   b0 t0 (r0,c0) v0  (i0,j0,ch0) -> img[0,0,0,0] =    0
     *   b0 t0 (r0,c0) v4  (i0,j1,ch1) -> img[0,0,1,1] =   11
     *   b0 t0 (r0,c0) v7  (i1,j0,ch1) -> img[0,1,0,1] =  101
     *   b0 t2 (r0,c2) v11 (i1,j1,ch2) -> img[0,1,5,2] =  152
     *   b0 t3 (r1,c0) v0  (i0,j0,ch0) -> img[0,2,0,0] =  200
     *   b1 t5 (r1,c2) v8  (i1,j0,ch2) -> img[1,3,4,2] = 1342
     *   b1 t4 (r1,c1) v5  (i0,j1,ch2) -> img[1,2,3,2] = 1232 */
    static const int picks[7][4] = {{0, 0, 0, 0},    {0, 0, 4, 11},  {0, 0, 7, 101},
                                    {0, 2, 11, 152}, {0, 3, 0, 200}, {1, 5, 8, 1342},
                                    {1, 4, 5, 1232}};
    printf("  hand-picked patch elements:");
    for (int e = 0; e < 7; e++) {
        float got = pt[((size_t)picks[e][0] * 6 + (size_t)picks[e][1]) * 12 + (size_t)picks[e][2]];
        printf(" %g", (double)got);
        CHECK_MSG(got == (float)picks[e][3], "patches[%d,%d,%d] = %g, expected %d", picks[e][0],
                  picks[e][1], picks[e][2], (double)got, picks[e][3]);
    }
    printf("\n");
}

/* ---- residual add with drop-path scale, dropout ---------------------------------------------- */

TEST(ops_residual_forward) {
    const int B = 3;
    const size_t per = 10, n = (size_t)B * per;
    float *x = gc_uniform(n, 800, -1.0f, 1.0f), *f = gc_uniform(n, 801, -1.0f, 1.0f);
    float *y = gc_zeros(n), *ref = gc_zeros(n);
    const float scale[3] = {0.0f, 1.0f / (1.0f - 0.25f), 1.0f};
    rin_residual_forward(y, x, f, scale, B, per);
    for (int b = 0; b < B; b++)
        for (size_t i = 0; i < per; i++)
            ref[(size_t)b * per + i] = x[(size_t)b * per + i] + scale[b] * f[(size_t)b * per + i];
    GC_BITWISE("residual y = x + s_b f", y, ref, n);
    GC_BITWISE("residual s_b = 0 gives x", y, x, per);
    rin_residual_forward(y, x, f, NULL, B, per);
    for (size_t i = 0; i < n; i++)
        ref[i] = x[i] + f[i];
    GC_BITWISE("residual scale NULL: y = x + f", y, ref, n);
    free(x), free(f), free(y), free(ref);
}

TEST(ops_dropout) {
    const size_t n = 100000;
    const uint64_t seed = 1234, stream = 7;
    float *x = gc_uniform(n, 900, 0.5f, 1.5f); /* no zeros: a zero output means dropped */

    /* rate 0 is the identity */
    float *a = copy_of(x, n);
    rin_dropout_apply(a, seed, stream, 0.0f, 0, n);
    GC_BITWISE("dropout rate 0", a, x, n);

    static const float rates[2] = {0.1f, 0.5f};
    for (int ri = 0; ri < 2; ri++) {
        float rate = rates[ri];
        char what[96];
        memcpy(a, x, n * sizeof *a);
        float *a2 = copy_of(x, n);
        rin_dropout_apply(a, seed, stream, rate, 0, n);
        rin_dropout_apply(a2, seed, stream, rate, 0, n);
        snprintf(what, sizeof what, "dropout rate %.2f same seed twice", (double)rate);
        GC_BITWISE(what, a2, a, n);
        /* a shard starting at element k (first = k) draws the whole tensor's mask there */
        const size_t k = 37777;
        memcpy(a2, x, n * sizeof *a2);
        rin_dropout_apply(a2 + k, seed, stream, rate, k, n - k);
        snprintf(what, sizeof what, "dropout rate %.2f shard from %zu", (double)rate, k);
        GC_BITWISE(what, a2 + k, a + k, n - k);

        /* the mask is the counter RNG at (seed, stream, i); kept values are x / (1 - rate) */
        size_t kept = 0, mask_bad = 0, val_bad = 0;
        double worst_rel = 0.0;
        for (size_t i = 0; i < n; i++) {
            int keep = rin_counter_uniform(seed, stream, i) >= rate;
            if (keep != (a[i] != 0.0f))
                mask_bad++;
            if (a[i] != 0.0f) {
                double want = (double)x[i] / (1.0 - (double)rate);
                double rel = fabs((double)a[i] - want) / want;
                if (rel > worst_rel)
                    worst_rel = rel;
                /* two float roundings (1/(1-rate), the product): 1e-6 is ~8 ulp */
                if (rel > 1e-6)
                    val_bad++;
                kept++;
            }
        }
        double frac = (double)kept / (double)n, want = 1.0 - (double)rate;
        printf("  dropout rate %.2f: kept %.5f (want %.5f, rel %.2e), scale max rel err %.2e, "
               "mask mismatches %zu\n",
               (double)rate, frac, want, fabs(frac - want) / want, worst_rel, mask_bad);
        CHECK_MSG(mask_bad == 0, "dropout rate %g: %zu elements disagree with the counter RNG mask",
                  (double)rate, mask_bad);
        CHECK_MSG(val_bad == 0, "dropout rate %g: %zu kept values not x/(1-rate)", (double)rate,
                  val_bad);
        CHECK_MSG(fabs(frac - want) <= 0.01 * want, "dropout rate %g: kept fraction %.5f",
                  (double)rate, frac);

        /* another seed, or another stream, gives another mask (about 2 rate (1-rate) n
         * elements differ for independent masks; require at least half of that) */
        for (int which = 0; which < 2; which++) {
            memcpy(a2, x, n * sizeof *a2);
            rin_dropout_apply(a2, which ? seed : seed + 1, which ? stream + 1 : stream, rate, 0, n);
            size_t diff = 0;
            for (size_t i = 0; i < n; i++)
                diff += (a[i] != 0.0f) != (a2[i] != 0.0f);
            double expect = 2.0 * (double)rate * (1.0 - (double)rate) * (double)n;
            printf("  dropout rate %.2f: other %s differs at %zu elements (independent: ~%.0f)\n",
                   (double)rate, which ? "stream" : "seed", diff, expect);
            CHECK_MSG((double)diff >= 0.5 * expect,
                      "dropout rate %g: other %s differs at only %zu elements", (double)rate,
                      which ? "stream" : "seed", diff);
        }
        free(a2);
    }
    free(x), free(a);
}

/* ---- add_rows -------------------------------------------------------------------------------- */

typedef struct rows_ctx {
    float *y;
    const float *x, *t, *R;
    int B, N, C;
} rows_ctx;

static double rows_loss(void *p) {
    rows_ctx *c = p;
    rin_add_rows_forward(c->y, c->x, c->t, c->B, c->N, c->C);
    return gc_dot(c->y, c->R, (size_t)c->B * c->N * c->C);
}

TEST(ops_add_rows_fd) {
    const int B = 3, N = 4, C = 5;
    size_t nt = (size_t)N * C, ny = (size_t)B * nt;
    float *x = gc_uniform(ny, 1000, -1.0f, 1.0f), *t = gc_uniform(nt, 1001, -1.0f, 1.0f);
    float *R = gc_uniform(ny, 1002, -1.0f, 1.0f), *y = gc_zeros(ny), *ref = gc_zeros(ny);
    rows_ctx c = {y, x, t, R, B, N, C};
    rows_loss(&c);
    for (size_t i = 0; i < ny; i++)
        ref[i] = x[i] + t[i % nt];
    GC_BITWISE("add_rows y = x + t", y, ref, ny);
    float *xa = copy_of(x, ny);
    rin_add_rows_forward(xa, xa, t, B, N, C);
    GC_BITWISE("add_rows in place (y aliases x)", xa, ref, ny);

    float *dt = gc_zeros(nt);
    rin_add_rows_backward(dt, R, B, N, C);
    double *sum = malloc(nt * sizeof *sum);
    if (!sum)
        abort();
    for (size_t i = 0; i < nt; i++) {
        sum[i] = 0.0;
        for (int b = 0; b < B; b++)
            sum[i] += (double)R[(size_t)b * nt + i];
    }
    GC_COMPARE_F64("add_rows dt = sum_b dy", dt, sum, nt, 1e-6, 1e-6);
    float *dt0 = gc_uniform(nt, 1003, -1.0f, 1.0f), *dtA = copy_of(dt0, nt);
    rin_add_rows_backward(dtA, R, B, N, C);
    GC_ACCUM_CHECK("add_rows dt", dtA, dt0, dt, nt);
    GC_FD_CHECK("add_rows dt", rows_loss, &c, t, dt, nt, GC_STENCIL2);
    free(x), free(t), free(R), free(y), free(ref), free(xa), free(dt), free(sum), free(dt0);
    free(dtA);
}

/* ---- composite: the time embedding ----------------------------------------------------------- */

typedef struct temb_ctx {
    float *code, *h, *a, *out;
    const float *gamma, *w1, *b1, *w2, *b2, *R;
    int B, d;
} temb_ctx;

static double temb_loss(void *p) {
    temb_ctx *c = p;
    int d = c->d, d4 = 4 * d;
    rin_gamma_code(c->code, c->gamma, 1000.0f, c->B, d);
    rin_linear_forward(c->h, c->code, c->w1, c->b1, c->B, d, d4, RIN_PRECISION_FP32);
    rin_silu_forward(c->a, c->h, (size_t)c->B * d4);
    rin_linear_forward(c->out, c->a, c->w2, c->b2, c->B, d4, d4, RIN_PRECISION_FP32);
    return gc_dot(c->out, c->R, (size_t)c->B * d4);
}

TEST(ops_gamma_code) {
    /* gamma = 0.5, d = 8, scale 1000: s = 500, w_k = 10000^(-2k/8), [sin(s w), cos(s w)],
     * standardised with the population std */
    const int d = 8;
    const float gamma[3] = {0.5f, 0.0f, 0.9f};
    float code[3 * 8];
    rin_gamma_code(code, gamma, 1000.0f, 3, d);
    double ref[8], m = 0.0, v = 0.0;
    for (int k = 0; k < 4; k++) {
        double w = pow(10000.0, -2.0 * k / 8.0);
        ref[k] = sin(500.0 * w);
        ref[4 + k] = cos(500.0 * w);
    }
    for (int k = 0; k < 8; k++)
        m += ref[k];
    m /= 8.0;
    for (int k = 0; k < 8; k++)
        v += (ref[k] - m) * (ref[k] - m);
    for (int k = 0; k < 8; k++)
        ref[k] = (ref[k] - m) / sqrt(v / 8.0);
    /* float32 rounding of O(1) values: 1e-6 */
    GC_COMPARE_F64("gamma code gamma=0.5 d=8 vs f64 formula", code, ref, 8, 1e-6, 0.0);
    for (int b = 0; b < 3; b++) {
        double cm = 0.0, cv = 0.0;
        for (int k = 0; k < d; k++)
            cm += (double)code[b * d + k];
        cm /= d;
        for (int k = 0; k < d; k++)
            cv += ((double)code[b * d + k] - cm) * ((double)code[b * d + k] - cm);
        double sd = sqrt(cv / d);
        printf("  gamma code gamma=%.2f: mean %.3e, population std %.9f\n", (double)gamma[b], cm,
               sd);
        CHECK_MSG(fabs(cm) <= 1e-6, "gamma code row %d mean %.3g", b, cm);
        CHECK_MSG(fabs(sd - 1.0) <= 1e-6, "gamma code row %d std %.9g", b, sd);
    }
}

TEST(ops_time_embedding_fd) {
    const int B = 3, d = 8, d4 = 4 * d;
    const float gamma[3] = {0.5f, 0.03f, 0.87f};
    size_t n1 = (size_t)d4 * d, n2 = (size_t)d4 * d4, nh = (size_t)B * d4;
    /* weights at the model's Glorot-uniform scale sqrt(6 / (fan_in + fan_out)), so every
     * activation stays O(1) as in the model; biases and R uniform in [-1, 1] */
    float *w1 = gc_uniform(n1, 1100, -sqrtf(6.0f / 40.0f), sqrtf(6.0f / 40.0f));
    float *w2 = gc_uniform(n2, 1101, -sqrtf(6.0f / 64.0f), sqrtf(6.0f / 64.0f));
    float *b1 = gc_uniform((size_t)d4, 1102, -1.0f, 1.0f);
    float *b2 = gc_uniform((size_t)d4, 1103, -1.0f, 1.0f);
    float *R = gc_uniform(nh, 1104, -1.0f, 1.0f);
    float *code = gc_zeros((size_t)B * d), *h = gc_zeros(nh), *a = gc_zeros(nh),
          *out = gc_zeros(nh);
    temb_ctx c = {code, h, a, out, gamma, w1, b1, w2, b2, R, B, d};
    temb_loss(&c);

    float *dw1 = gc_zeros(n1), *db1 = gc_zeros((size_t)d4), *dw2 = gc_zeros(n2);
    float *db2 = gc_zeros((size_t)d4), *da = gc_zeros(nh), *dh = gc_zeros(nh);
    rin_linear_backward(da, dw2, db2, R, a, w2, B, d4, d4, RIN_PRECISION_FP32);
    rin_silu_backward(dh, da, h, nh);
    rin_linear_backward(NULL, dw1, db1, dh, code, w1, B, d, d4, RIN_PRECISION_FP32);
    GC_FD_CHECK("time emb dw1 (d->4d)", temb_loss, &c, w1, dw1, n1, GC_STENCIL2);
    GC_FD_CHECK("time emb db1", temb_loss, &c, b1, db1, (size_t)d4, GC_STENCIL2);
    GC_FD_CHECK("time emb dw2 (4d->4d)", temb_loss, &c, w2, dw2, n2, GC_STENCIL2);
    GC_FD_CHECK("time emb db2", temb_loss, &c, b2, db2, (size_t)d4, GC_STENCIL2);
    free(w1), free(w2), free(b1), free(b2), free(R), free(code), free(h), free(a), free(out);
    free(dw1), free(db1), free(dw2), free(db2), free(da), free(dh);
}

/* ---- MSE ------------------------------------------------------------------------------------- */

TEST(ops_mse) {
    /* diffs 1, 0, -2, 2.5: squares 1, 0, 4, 6.25, mean 11.25 / 4 = 2.8125;
     * gradient 2 d / 4 = 0.5, 0, -1, 1.25 (all exact in float) */
    const float pred[4] = {1.0f, 2.0f, 3.0f, 4.0f}, target[4] = {0.0f, 2.0f, 5.0f, 1.5f};
    float dpred[4] = {1e30f, 1e30f, 1e30f, 1e30f}; /* overwritten */
    const double want_g[4] = {0.5, 0.0, -1.0, 1.25};
    double l = rin_mse_forward_backward(dpred, pred, target, 4);
    printf("  mse = %.17g (want 2.8125)\n", l);
    CHECK(l == 2.8125);
    GC_COMPARE_F64("mse dpred", dpred, want_g, 4, 0.0, 0.0);
    CHECK(rin_mse_forward_backward(NULL, pred, target, 4) == 2.8125);
    CHECK(rin_mse_forward_backward(NULL, pred, target, 0) == 0.0);
    /* values not exact in binary: the result is the double-precision mean of the float
     * inputs' squared differences */
    const float p2[2] = {0.1f, -0.3f}, t2[2] = {0.0f, 0.0f};
    double l2 = rin_mse_forward_backward(NULL, p2, t2, 2);
    double want2 = ((double)p2[0] * (double)p2[0] + (double)p2[1] * (double)p2[1]) / 2.0;
    printf("  mse(0.1, -0.3) = %.17g (want %.17g)\n", l2, want2);
    CHECK_CLOSE(l2, want2, 0.0, 1e-15);
}

TEST(layernorm_simd_dwdb_matches_scalar) {
    /* the AVX2 weight and bias gradients of LayerNorm against the scalar loop, bit for bit,
     * with channel counts that leave 32-, 8- and scalar-wide parts in each thread's range, on
     * 1 and 2 threads, accumulating into nonzero sums */
    int had = rin_simd_set(1), have = rin_simd_avx2();
    rin_simd_set(had);
    if (!have) {
        test_skip("this CPU has no AVX2+FMA: only the scalar LayerNorm gradient runs here");
        return;
    }
    static const int Cs[] = {8, 37, 64, 100, 129};
    for (int ci = 0; ci < 5; ci++)
        for (int threads = 1; threads <= 2; threads++) {
            int N = 23, C = Cs[ci];
            size_t n = (size_t)N * C;
            float *x = gc_uniform(n, 40 + ci, -2, 3), *g = gc_uniform(n, 50 + ci, -1, 1);
            float *w = gc_uniform((size_t)C, 60 + ci, 0.5f, 1.5f), *b = gc_zeros((size_t)C);
            float *y = gc_zeros(n), *mean = gc_zeros((size_t)N), *rstd = gc_zeros((size_t)N);
            float *dw[2], *db[2];
            rin_layernorm_forward(y, mean, rstd, x, w, b, N, C);
#ifdef _OPENMP
            int saved = omp_get_max_threads();
            omp_set_num_threads(threads);
#endif
            for (int p = 0; p < 2; p++) {
                dw[p] = gc_uniform((size_t)C, 70, -1, 1), db[p] = gc_uniform((size_t)C, 71, -1, 1);
                int prev = rin_simd_set(p);
                rin_layernorm_backward(NULL, dw[p], db[p], g, x, mean, rstd, w, N, C);
                rin_simd_set(prev);
            }
#ifdef _OPENMP
            omp_set_num_threads(saved);
#endif
            CHECK_MSG(!memcmp(dw[0], dw[1], (size_t)C * sizeof(float)) &&
                          !memcmp(db[0], db[1], (size_t)C * sizeof(float)),
                      "C %d, %d threads: the AVX2 dw/db differ from the scalar loop's", C, threads);
            free(x), free(g), free(w), free(b), free(y), free(mean), free(rstd);
            free(dw[0]), free(dw[1]), free(db[0]), free(db[1]);
        }
}
