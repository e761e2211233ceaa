/* bench.c -- `rin bench`: throughput of a train step and of a sampling step.
 *
 *   rin bench --preset cifar10 --batch 32 [--config FILE] [--set key=value]... [--steps N]
 *             [--warmup W] [--threads 1,2] [--only train|sample] [--json FILE]
 *
 * The train step is rin_trainer_step as `rin train` runs it (self-conditioning pass at the
 * configured rate, gradient pass, backward, optimizer, EMA) on synthetic images; the sampling
 * step is one network evaluation plus the sampler update of rin_sample, timed between its
 * callbacks. Each (phase, thread count) runs in a child process, so its peak resident memory
 * (getrusage of the child) is its own and the OpenMP thread count is fixed before any parallel
 * region. Figures are medians over --steps steps after --warmup untimed ones (the first step
 * pays the page faults of the arena).
 *
 * Achieved GFLOP/s use rin_config_flops (linear layers and attention products): a train step
 * with self-conditioning is 4 forward-equivalents per image (no-grad pass, gradient pass,
 * backward at twice the forward), 3 without; a sampling step is 1. The SGEMM ceiling is
 * rin_sgemm on a 2048^3 product with the same threads and the same GEMM path: the best the
 * machine does on the operation that dominates the model.
 *
 * The GEMM path (gemm.h: RIN_GEMM, or the default for the CPU) is printed first. With
 * --gemm openblas,dnnl every figure is taken for each path side by side: rounds of one child
 * per path (the order rotating each round), so a machine shared with other jobs loads the
 * paths alike; each figure is the median over rounds of each child's median step, with the
 * ratio to the first path; then the GEMM shapes of one train step, each timed on every path.
 */
#define _DEFAULT_SOURCE /* wait4 */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "keys.h"
#include "gemm.h"
#include "rng.h"
#include "util.h"
#include "parallel.h"
#include "profile.h"
#include "simd.h"

#ifdef _OPENMP
#include <omp.h>
#endif
#define MAX_THREADS_LIST 8
#define MAX_STEPS        1000
#define MAX_ROUNDS       15
#define MAX_SHAPES       12

typedef struct bench_settings {
    rin_config model;
    rin_train_config train;
} bench_settings;

static void bench_set(void *user, const char *key, const char *value, const char *where) {
    bench_settings *s = user;
    if (set_model_or_train_key(&s->model, &s->train, key, value, where))
        return;
    die("%sunknown key '%s' (bench takes model and training keys: `rin train --help`)", where, key);
}

/* What a child sends back. */
typedef struct bench_result {
    int ok;
    double median_s; /* per step */
    double min_s;
    double gflop_per_step;
    double prof_s[RIN_PROF_COUNT], prof_gflop[RIN_PROF_COUNT]; /* per step, --profile */
    double prof_total_s;                                       /* per step */
    /* --gemm: the shapes of one train step, GFLOP/s of each on each path */
    int nshapes;
    rin_gemm_shape shapes[MAX_SHAPES];
    double shape_gflops[MAX_SHAPES][RIN_GEMM_PATH_COUNT];
    double gemm_macs_per_step; /* all shapes' multiply-adds */
    double bf16_peak_gflops;   /* PHASE_BF16: the register-only VDPBF16PS loop (0: no kernel) */
    double bf16_gemm_gflops;   /* PHASE_BF16: rin_gemm_bf16 on the 2048^3 product */
    char err[256];
} bench_result;

static int want_profile;

/* Called before the first timed step and after the last. */
static void profile_start(void) {
    if (want_profile)
        rin_profile_enable(1);
}

static void profile_stop(bench_result *res, int steps, double total_s) {
    if (!want_profile)
        return;
    for (int k = 0; k < RIN_PROF_COUNT; k++) {
        const rin_prof_entry *e = rin_profile_get((rin_prof_kind)k);
        res->prof_s[k] = e->seconds / steps;
        res->prof_gflop[k] = e->flops / 1e9 / steps;
    }
    res->prof_total_s = total_s / steps;
    rin_profile_enable(0);
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static void set_threads(int T) {
#ifdef _OPENMP
    omp_set_num_threads(T);
#else
    (void)T;
#endif
}

static void fill_batch(float *x, int *labels, int B, size_t per, int classes, uint64_t seed) {
    rin_rng r;
    rin_rng_seed(&r, seed);
    for (size_t i = 0; i < (size_t)B * per; i++)
        x[i] = (float)(2.0 * rin_rng_uniform(&r) - 1.0);
    for (int b = 0; b < B; b++)
        labels[b] = classes > 0 ? (int)(rin_rng_u64(&r) % (uint64_t)classes) : -1;
}

static void bench_train(const bench_settings *s, int B, int warm, int steps, bench_result *res) {
    rin_model *m = NULL;
    rin_trainer *t = NULL;
    rin_train_config tc = s->train;
    tc.batch_size = B;
    size_t per = rin_config_input_floats(&s->model);
    float *x = malloc((size_t)B * per * sizeof *x);
    float *cond = calloc((size_t)B * rin_config_cond_floats(&s->model) + 1, sizeof *cond);
    int *labels = malloc((size_t)B * sizeof *labels);
    double *dt = malloc((size_t)steps * sizeof *dt);
    if (!x || !labels || !dt || !cond) {
        snprintf(res->err, sizeof res->err, "out of memory");
        return;
    }
    if (rin_model_create(&m, &s->model, res->err, sizeof res->err))
        goto done;
    rin_model_init_params(m, 1);
    if (rin_trainer_create(&t, m, &tc, res->err, sizeof res->err))
        goto done;
    if (s->model.cond_frames > 0) /* video: grey conditioning frames */
        rin_trainer_set_cond(t, cond);
    fill_batch(x, labels, B, per, s->model.num_classes, 7);
    double t_first = 0;
    for (int i = 0; i < warm + steps; i++) {
        rin_step_stats st;
        if (i == warm) {
            profile_start();
            t_first = rin_time_seconds();
        }
        double t0 = rin_time_seconds();
        if (rin_trainer_step(t, x, labels, &st) != RIN_STATUS_OK) {
            snprintf(res->err, sizeof res->err, "train step %d failed", i);
            goto done;
        }
        if (i >= warm)
            dt[i - warm] = rin_time_seconds() - t0;
    }
    profile_stop(res, steps, rin_time_seconds() - t_first);
    double fwd = s->model.self_cond && tc.self_cond_rate > 0 ? 4.0 : 3.0;
    res->gflop_per_step = fwd * B * rin_config_flops(&s->model) / 1e9;
    res->median_s = median(dt, steps);
    res->min_s = dt[0];
    res->ok = 1;
done:
    rin_trainer_free(t);
    rin_model_free(m);
    free(x), free(labels), free(dt), free(cond);
}

typedef struct step_clock {
    double last, *dt, t_first;
    int n, cap, warm;
} step_clock;

static void on_sample_step(void *user, int step, int steps, const float *x0_hat, const float *x) {
    (void)step, (void)steps, (void)x0_hat, (void)x;
    step_clock *c = user;
    double now = rin_time_seconds();
    if (c->n < c->cap)
        c->dt[c->n++] = now - c->last;
    if (c->n == c->warm) {
        profile_start();
        c->t_first = rin_time_seconds();
    }
    c->last = rin_time_seconds();
}

static void bench_sample(const bench_settings *s, int B, int warm, int steps, bench_result *res) {
    rin_model *m = NULL;
    rin_ctx *ctx = NULL;
    rin_sample_config sc;
    rin_sample_config_default(&sc);
    rin_sample_config_from_train(&sc, &s->train);
    sc.steps = warm + steps;
    size_t per = rin_config_input_floats(&s->model);
    float *out = malloc((size_t)B * per * sizeof *out);
    float *cond = calloc((size_t)B * rin_config_cond_floats(&s->model) + 1, sizeof *cond);
    int *labels = malloc((size_t)B * sizeof *labels);
    double *dt = malloc((size_t)(warm + steps) * sizeof *dt);
    if (!out || !labels || !dt || !cond) {
        snprintf(res->err, sizeof res->err, "out of memory");
        return;
    }
    if (rin_model_create(&m, &s->model, res->err, sizeof res->err))
        goto done;
    rin_model_init_params(m, 1);
    if (rin_ctx_create(&ctx, m, B, RIN_CTX_INFER, res->err, sizeof res->err))
        goto done;
    if (s->model.cond_frames > 0)
        rin_ctx_set_cond(ctx, cond);
    fill_batch(out, labels, B, per, s->model.num_classes, 7);
    step_clock clk = {.last = rin_time_seconds(), .dt = dt, .cap = warm + steps, .warm = warm};
    if (warm == 0) {
        profile_start();
        clk.t_first = rin_time_seconds();
    }
    if (rin_sample(ctx, &sc, B, labels, out, on_sample_step, &clk, res->err, sizeof res->err))
        goto done;
    if (clk.n != warm + steps) {
        snprintf(res->err, sizeof res->err, "sampler reported %d steps, expected %d", clk.n,
                 warm + steps);
        goto done;
    }
    profile_stop(res, steps, rin_time_seconds() - clk.t_first);
    res->gflop_per_step = B * rin_config_flops(&s->model) / 1e9;
    res->min_s = dt[warm];
    res->median_s = median(dt + warm, steps);
    res->ok = 1;
done:
    rin_ctx_free(ctx);
    rin_model_free(m);
    free(out), free(labels), free(dt), free(cond);
}

/* The ceiling's product, C = A B^T on 2048 x 2048 operands, through gemm (rin_sgemm's
 * signature): the best of 5 timed calls after one that warms the library's buffers; seconds,
 * or a negative number with res->err set when the memory is not there. */
#define SQUARE_N 2048
static double time_square(rin_gemm_fn gemm, bench_result *res) {
    const int N = SQUARE_N;
    float *a = malloc((size_t)N * N * sizeof *a), *b = malloc((size_t)N * N * sizeof *b);
    float *c = malloc((size_t)N * N * sizeof *c);
    double best = 1e30;
    if (!a || !b || !c) {
        snprintf(res->err, sizeof res->err, "out of memory");
        best = -1;
    } else {
        for (size_t i = 0; i < (size_t)N * N; i++) {
            a[i] = (float)(i % 7) * 0.25f - 0.75f;
            b[i] = (float)(i % 5) * 0.25f - 0.5f;
        }
        for (int r = 0; r < 6; r++) {
            double t0 = rin_time_seconds();
            gemm(0, 1, N, N, N, 1.0f, a, N, b, N, 0.0f, c, N);
            double e = rin_time_seconds() - t0;
            if (r > 0 && e < best)
                best = e;
        }
    }
    free(a), free(b), free(c);
    return best;
}

/* rin_sgemm on a 2048^3 product (NT, as the linear layers), over rin's threads, best of 5. */
static void bench_sgemm(bench_result *res) {
#ifdef RIN_BLAS
    double best = time_square(rin_sgemm, res);
    if (best < 0)
        return;
    res->gflop_per_step = 2.0 * SQUARE_N * SQUARE_N * (double)SQUARE_N / 1e9;
    res->median_s = res->min_s = best;
    res->ok = 1;
#else
    snprintf(res->err, sizeof res->err, "built without BLAS (BLAS=none)");
#endif
}

/* ---- the hardware's fp32 FMA peak (issue 21's yardstick, not a BLAS's) ---------------------
 * Every thread of the team runs a loop of independent fused multiply-adds on registers only
 * (no loads, no stores): ACC accumulators, enough to cover the FMA latency on two ports, each
 * acc = acc * m + a. The widest vectors the CPU has: AVX-512 (16 floats), else AVX2+FMA (8),
 * else none (the figure is not measured). The best of 5 timed runs of the whole team. */
#ifdef RIN_X86_SIMD
/* The accumulators are named variables, not an array, so that the compiler keeps them in
 * registers (an array loop compiled to FMAs with memory operands). */
#define FMA_ACC     16
#define FMA_ACC_256 12 /* of 16 ymm registers, leaving m and a */
#define FMA_12(X)   X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)
#define FMA_16(X)   FMA_12(X) X(12) X(13) X(14) X(15)

__attribute__((target("avx512f"))) static float fma_loop_512(long iters, float seed) {
    __m512 m = _mm512_set1_ps(0.9999999f), a = _mm512_set1_ps(1e-7f);
#define DECL(i) __m512 c##i = _mm512_set1_ps(seed + (float)(i));
#define STEP(i) c##i = _mm512_fmadd_ps(c##i, m, a);
#define SUM(i)  s = _mm512_add_ps(s, c##i);
    FMA_16(DECL)
    for (long i = 0; i < iters; i++) {
        FMA_16(STEP)
    }
    __m512 s = _mm512_setzero_ps();
    FMA_16(SUM)
#undef DECL
#undef STEP
#undef SUM
    return _mm512_reduce_add_ps(s);
}

RIN_AVX2 static float fma_loop_256(long iters, float seed) {
    __m256 m = _mm256_set1_ps(0.9999999f), a = _mm256_set1_ps(1e-7f);
#define DECL(i) __m256 c##i = _mm256_set1_ps(seed + (float)(i));
#define STEP(i) c##i = _mm256_fmadd_ps(c##i, m, a);
#define SUM(i)  s = _mm256_add_ps(s, c##i);
    FMA_12(DECL)
    for (long i = 0; i < iters; i++) {
        FMA_12(STEP)
    }
    __m256 s = _mm256_setzero_ps();
    FMA_12(SUM)
#undef DECL
#undef STEP
#undef SUM
    float v[8];
    _mm256_storeu_ps(v, s);
    return v[0] + v[1] + v[2] + v[3] + v[4] + v[5] + v[6] + v[7];
}
/* The same for VDPBF16PS: each instruction multiplies 16 pairs of bf16 and adds both products
 * to 16 fp32 sums, 64 flops. */
__attribute__((target("avx512f,avx512bf16"))) static float bf16_loop_512(long iters, float seed) {
    __m512bh m = (__m512bh)_mm512_set1_epi32(0x3F803F80),
             a = (__m512bh)_mm512_set1_epi32(0x33D633D6);
#define DECL(i) __m512 c##i = _mm512_set1_ps(seed + (float)(i));
#define STEP(i) c##i = _mm512_dpbf16_ps(c##i, m, a);
#define SUM(i)  s = _mm512_add_ps(s, c##i);
    FMA_16(DECL)
    for (long i = 0; i < iters; i++) {
        FMA_16(STEP)
    }
    __m512 s = _mm512_setzero_ps();
    FMA_16(SUM)
#undef DECL
#undef STEP
#undef SUM
    return _mm512_reduce_add_ps(s);
}
#endif

/* The ISA the peak loop uses on this CPU ("avx512f", "avx2+fma"), or NULL when none. */
static const char *fma_isa(void) {
#ifdef RIN_X86_SIMD
    if (__builtin_cpu_supports("avx512f"))
        return "avx512f";
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        return "avx2+fma";
#endif
    return NULL;
}

#ifdef RIN_X86_SIMD
/* A register-only loop on every thread of the team at once: the best of 5 timed runs after one
 * that wakes the cores, in seconds; *team receives the thread count. */
static double time_team(float (*loop)(long, float), long iters, int *team) {
    double best = 1e30;
    volatile float sink = 0;
    *team = 1;
    for (int r = 0; r < 6; r++) {
        double t0 = rin_time_seconds();
#pragma omp parallel
        {
#ifdef _OPENMP
#pragma omp single
            *team = omp_get_num_threads();
#endif
            float v = loop(iters, (float)r);
#pragma omp atomic
            sink += v;
        }
        double e = rin_time_seconds() - t0;
        if (r > 0 && e < best)
            best = e;
    }
    (void)sink;
    return best;
}
#endif

static void bench_fma_peak(bench_result *res) {
    res->ok = 1;
    const char *isa = fma_isa();
    if (!isa)
        return; /* nothing to measure: gflop_per_step 0 says so */
#ifdef RIN_X86_SIMD
    int wide = !strcmp(isa, "avx512f"), team;
    const long iters = 20000000L / (wide ? 2 : 1);
    double best = time_team(wide ? fma_loop_512 : fma_loop_256, iters, &team);
    res->gflop_per_step = 2.0 * iters * (wide ? 16.0 * FMA_ACC : 8.0 * FMA_ACC_256) * team / 1e9;
    res->median_s = res->min_s = best;
    snprintf(res->err, sizeof res->err, "%s", isa);
#endif
}

/* bf16 (issue 21, item 2): the register-only VDPBF16PS peak where rin's kernel runs, and
 * rin_gemm_bf16 on the ceiling's product (the kernel, or the emulation elsewhere). */
static void bench_bf16(bench_result *res) {
#ifdef RIN_X86_SIMD
    if (rin_gemm_bf16_native()) {
        const long iters = 10000000L;
        int team;
        double best = time_team(bf16_loop_512, iters, &team);
        res->bf16_peak_gflops = 64.0 * FMA_ACC * iters * team / best / 1e9;
    }
#endif
    double best = time_square(rin_gemm_bf16, res);
    if (best < 0)
        return;
    res->bf16_gemm_gflops = 2.0 * SQUARE_N * SQUARE_N * (double)SQUARE_N / best / 1e9;
    res->ok = 1;
}

#ifdef RIN_BLAS
/* One recorded shape, n products in a row: from serial code as the linear op calls it (the
 * team's tiles), or as the attention core does, every thread its own products at once. */
static double time_shape(const rin_gemm_shape *g, int n, float *A, float *B, float *C,
                         size_t per_thread) {
    int lda = g->ta ? g->M : g->K, ldb = g->tb ? g->K : g->N;
    double t0 = rin_time_seconds();
    if (g->in_parallel) {
#pragma omp parallel
        {
            size_t o = per_thread * (size_t)rin_thread_id();
            for (int r = 0; r < n; r++)
                rin_sgemm(g->ta, g->tb, g->M, g->N, g->K, g->alpha, A + o, lda, B + o, ldb, g->beta,
                          C + o, g->N);
        }
    } else {
        for (int r = 0; r < n; r++)
            rin_sgemm(g->ta, g->tb, g->M, g->N, g->K, g->alpha, A, lda, B, ldb, g->beta, C, g->N);
    }
    return rin_time_seconds() - t0;
}
#endif

/* The shapes of one train step (traced), then each timed on every path in paths[], the paths
 * interleaved, rounds times; GFLOP/s from the median. */
static void bench_shapes(const bench_settings *s, int B, const int *paths, int npaths, int rounds,
                         bench_result *res) {
#ifdef RIN_BLAS
    rin_gemm_trace(1);
    bench_train(s, B, 0, 1, res);
    rin_gemm_shape all[256];
    int n = rin_gemm_trace_get(all, 256);
    rin_gemm_trace(0);
    if (!res->ok)
        return;
    res->ok = 0;
    res->gemm_macs_per_step = 0;
    for (int i = 0; i < n; i++)
        res->gemm_macs_per_step += (double)all[i].M * all[i].N * all[i].K * (double)all[i].calls;
    res->nshapes = n < MAX_SHAPES ? n : MAX_SHAPES;
    memcpy(res->shapes, all, (size_t)res->nshapes * sizeof all[0]);
    int T = rin_max_threads();
    size_t big = 0;
    for (int i = 0; i < res->nshapes; i++) {
        const rin_gemm_shape *g = &res->shapes[i];
        size_t m = (size_t)g->M * g->K + (size_t)g->K * g->N + (size_t)g->M * g->N;
        if (m > big)
            big = m;
    }
    /* one buffer per operand, T copies for the shapes the threads run side by side */
    size_t per = big + 64, tot = per * (size_t)T;
    float *A = rin_aligned_alloc(tot * sizeof(float)), *Bm = rin_aligned_alloc(tot * 4);
    float *C = rin_aligned_alloc(tot * sizeof(float));
    if (!A || !Bm || !C) {
        snprintf(res->err, sizeof res->err, "out of memory");
        free(A), free(Bm), free(C);
        return;
    }
    for (size_t i = 0; i < tot; i++) {
        A[i] = (float)(i % 7) * 0.25f - 0.75f;
        Bm[i] = (float)(i % 5) * 0.25f - 0.5f;
        C[i] = 0.0f;
    }
    for (int i = 0; i < res->nshapes; i++) {
        const rin_gemm_shape *g = &res->shapes[i];
        double flop = 2.0 * g->M * g->N * g->K * (g->in_parallel ? T : 1);
        int reps = (int)(0.05e9 / flop) + 1; /* about 50 MFLOP, a few ms, per timing */
        double t[RIN_GEMM_PATH_COUNT][MAX_ROUNDS];
        for (int r = 0; r < rounds; r++)
            for (int k = 0; k < npaths; k++) {
                int q = paths[(k + r) % npaths];
                rin_gemm_force((rin_gemm_path)q, NULL, 0);
                time_shape(g, 1, A, Bm, C, per); /* warm */
                t[q][r] = time_shape(g, reps, A, Bm, C, per) / reps;
            }
        for (int k = 0; k < npaths; k++)
            res->shape_gflops[i][paths[k]] = flop / median(t[paths[k]], rounds) / 1e9;
    }
    free(A), free(Bm), free(C);
    res->ok = 1;
#else
    (void)s, (void)B, (void)paths, (void)npaths, (void)rounds;
    snprintf(res->err, sizeof res->err, "built without BLAS (BLAS=none)");
#endif
}

typedef enum { PHASE_TRAIN, PHASE_SAMPLE, PHASE_SGEMM, PHASE_SHAPES, PHASE_FMA, PHASE_BF16 } phase;

/* What a child runs besides the phase: the GEMM path (-1: as chosen), and for PHASE_SHAPES the
 * paths to compare. */
typedef struct child_gemm {
    int path;
    const int *paths;
    int npaths, rounds;
} child_gemm;

/* Runs one measurement in a child with T threads; returns its peak RSS in MiB. */
static double run_child(phase ph, const bench_settings *s, int B, int warm, int steps, int T,
                        const child_gemm *cg, bench_result *res) {
    int fd[2];
    memset(res, 0, sizeof *res);
    if (pipe(fd))
        die("bench: pipe: %s", strerror(errno));
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0)
        die("bench: fork: %s", strerror(errno));
    if (pid == 0) {
        close(fd[0]);
        bench_result r;
        memset(&r, 0, sizeof r);
        set_threads(T);
        if (cg && cg->path >= 0 && rin_gemm_force((rin_gemm_path)cg->path, r.err, sizeof r.err))
            ; /* r.ok stays 0: the parent reports r.err */
        else if (ph == PHASE_TRAIN)
            bench_train(s, B, warm, steps, &r);
        else if (ph == PHASE_SAMPLE)
            bench_sample(s, B, warm, steps, &r);
        else if (ph == PHASE_SHAPES)
            bench_shapes(s, B, cg->paths, cg->npaths, cg->rounds, &r);
        else if (ph == PHASE_FMA)
            bench_fma_peak(&r);
        else if (ph == PHASE_BF16)
            bench_bf16(&r);
        else
            bench_sgemm(&r);
        ssize_t w = write(fd[1], &r, sizeof r);
        _exit(w == (ssize_t)sizeof r ? 0 : 3);
    }
    close(fd[1]);
    ssize_t got = read(fd[0], res, sizeof *res);
    close(fd[0]);
    int status;
    struct rusage ru;
    if (wait4(pid, &status, 0, &ru) < 0)
        die("bench: wait: %s", strerror(errno));
    if (got != (ssize_t)sizeof *res || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
        die("bench: the measuring process failed (status %d)", status);
    if (!res->ok)
        die("bench: %s (phase %d, status %d, got %zd)", res->err, (int)ph, status, got);
    return (double)ru.ru_maxrss / 1024.0;
}

static void print_profile(const char *what, int T, const bench_result *r) {
    printf("\nwhere a %s step goes, %d thread%s (%.3f s per step):\n", what, T, T > 1 ? "s" : "",
           r->prof_total_s);
    printf("  %-32s %9s %7s %9s\n", "op", "ms/step", "share", "GFLOP/s");
    double rest = r->prof_total_s;
    for (int k = 0; k < RIN_PROF_COUNT; k++) {
        if (r->prof_s[k] <= 0)
            continue;
        rest -= r->prof_s[k];
        printf("  %-32s %9.1f %6.1f%%", rin_profile_name((rin_prof_kind)k), 1e3 * r->prof_s[k],
               100.0 * r->prof_s[k] / r->prof_total_s);
        if (r->prof_gflop[k] > 0)
            printf(" %9.1f", r->prof_gflop[k] / r->prof_s[k]);
        printf("\n");
    }
    printf("  %-32s %9.1f %6.1f%%\n", "everything else", 1e3 * rest,
           100.0 * rest / r->prof_total_s);
}

/* --gemm: the GEMM shapes of one train step, each timed on every path (a child). */
static void print_shapes(const bench_settings *s, int B, int T, const int *paths, int npaths,
                         int rounds) {
    bench_result r;
    child_gemm cg = {.path = -1, .paths = paths, .npaths = npaths, .rounds = rounds};
    run_child(PHASE_SHAPES, s, B, 0, 1, T, &cg, &r);
    printf("\nGEMM shapes of one train step, %d thread%s (%.1f GFLOP in GEMMs; the %d largest "
           "by work), GFLOP/s per path, median of %d:\n",
           T, T > 1 ? "s" : "", 2.0 * r.gemm_macs_per_step / 1e9, r.nshapes, rounds);
    printf("  %-34s %6s %6s |", "op(A) op(B)  M x N x K  alpha beta", "calls", "share");
    for (int k = 0; k < npaths; k++)
        printf(" %9s", rin_gemm_path_name((rin_gemm_path)paths[k]));
    for (int k = 1; k < npaths; k++)
        printf(" %6s/%s", rin_gemm_path_name((rin_gemm_path)paths[k]),
               rin_gemm_path_name((rin_gemm_path)paths[0]));
    printf("\n");
    for (int i = 0; i < r.nshapes; i++) {
        const rin_gemm_shape *g = &r.shapes[i];
        char what[64];
        snprintf(what, sizeof what, "%c%c %5d x %4d x %4d  %.3g %g%s", g->ta ? 'T' : 'N',
                 g->tb ? 'T' : 'N', g->M, g->N, g->K, (double)g->alpha, (double)g->beta,
                 g->in_parallel ? " (per head)" : "");
        double share = (double)g->M * g->N * g->K * (double)g->calls / r.gemm_macs_per_step;
        printf("  %-34s %6ld %5.1f%% |", what, g->calls, 100.0 * share);
        for (int k = 0; k < npaths; k++)
            printf(" %9.1f", r.shape_gflops[i][paths[k]]);
        for (int k = 1; k < npaths; k++)
            printf(" %*.2fx",
                   (int)strlen(rin_gemm_path_name((rin_gemm_path)paths[k])) +
                       (int)strlen(rin_gemm_path_name((rin_gemm_path)paths[0])),
                   r.shape_gflops[i][paths[k]] / r.shape_gflops[i][paths[0]]);
        printf("\n");
    }
}

static void bench_usage(FILE *f) {
    char names[256];
    rin_keys_join(names, sizeof names, rin_config_preset_names(), ", ");
    fprintf(f,
            "usage: rin bench [--preset NAME] [--config FILE] [--set key=value]... [--batch B]\n"
            "                 [--steps N] [--warmup W] [--threads LIST] [--only PHASE]\n"
            "                 [--json FILE]\n"
            "\n"
            "Median img/s of a train step (self-conditioning pass, gradient pass, backward,\n"
            "optimizer, EMA, as `rin train` runs it) and of a sampling step, with the achieved\n"
            "GFLOP/s, the peak resident memory and the scaling over thread counts, next to the\n"
            "SGEMM ceiling of the GEMM path. Weights are freshly initialised, images synthetic.\n"
            "\n"
            "  --preset NAME    %s (default fmnist)\n"
            "  --config FILE    'key = value' lines: model and training keys\n"
            "  --set key=value  one setting (repeatable; wins over the file)\n"
            "  --batch B        images per step (default 32)\n"
            "  --steps N        timed steps (default 5); --warmup W untimed first (default 1)\n"
            "  --threads LIST   comma-separated OpenMP thread counts (default 1,<max>)\n"
            "  --only PHASE     train or sample (default both)\n"
            "  --profile        also print where the time goes, per kind of op\n"
            "  --gemm LIST      GEMM paths side by side: openblas,dnnl or all (default: the\n"
            "                   one path RIN_GEMM or the CPU chooses); then each GEMM shape\n"
            "                   of a train step on every path\n"
            "  --rounds R       with --gemm: rounds of one child per path, the order\n"
            "                   rotating, figures the medians over rounds (default 3)\n"
            "  --json FILE      also write the figures as JSON\n"
            "\n"
            "RIN_GEMM=openblas|dnnl forces a GEMM path (default: the fastest for the CPU).\n",
            names);
}

int cmd_bench(int argc, char **argv) {
    static const struct option opts[] = {
        {"preset", required_argument, 0, 'p'},  {"config", required_argument, 0, 'c'},
        {"set", required_argument, 0, 's'},     {"batch", required_argument, 0, 'b'},
        {"steps", required_argument, 0, 'n'},   {"warmup", required_argument, 0, 'w'},
        {"threads", required_argument, 0, 't'}, {"only", required_argument, 0, 'o'},
        {"json", required_argument, 0, 'j'},    {"help", no_argument, 0, 'h'},
        {"profile", no_argument, 0, 'P'},       {"gemm", required_argument, 0, 'g'},
        {"rounds", required_argument, 0, 'r'},  {0, 0, 0, 0}};
    const char *preset = "fmnist", *cfgfile = NULL, *json = NULL, *threads = NULL;
    const char *sets[64];
    int nsets = 0, B = 32, steps = 5, warm = 1, do_train = 1, do_sample = 1, rounds = 3;
    const char *gemm_list = NULL;
    int o;
    optind = 1;
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (o) {
        case 'p': preset = optarg; break;
        case 'c': cfgfile = optarg; break;
        case 's':
            if (nsets == 64)
                die("--set: at most 64");
            sets[nsets++] = optarg;
            break;
        case 'b': B = (int)parse_long("--batch", optarg, 1, 1 << 16); break;
        case 'n': steps = (int)parse_long("--steps", optarg, 1, MAX_STEPS); break;
        case 'w': warm = (int)parse_long("--warmup", optarg, 0, MAX_STEPS); break;
        case 't': threads = optarg; break;
        case 'o':
            if (!strcmp(optarg, "train"))
                do_sample = 0;
            else if (!strcmp(optarg, "sample"))
                do_train = 0;
            else
                die("--only: '%s' (expected train or sample)", optarg);
            break;
        case 'j': json = optarg; break;
        case 'P': want_profile = 1; break;
        case 'g': gemm_list = optarg; break;
        case 'r': rounds = (int)parse_long("--rounds", optarg, 1, MAX_ROUNDS); break;
        case 'h': bench_usage(stdout); return 0;
        default: bench_usage(stderr); return 2;
        }
    }
    if (optind < argc)
        die("bench: unexpected argument '%s'", argv[optind]);

    bench_settings s;
    char err[512];
    if (rin_config_preset(&s.model, preset, err, sizeof err))
        die("--preset: %s", err);
    rin_train_config_default(&s.train);
    if (cfgfile)
        read_settings_file(cfgfile, bench_set, &s);
    for (int i = 0; i < nsets; i++) {
        char key[128];
        const char *v = split_kv(sets[i], key, sizeof key, "--set");
        bench_set(&s, key, v, "--set: ");
    }
    s.train.batch_size = B;
    if (rin_config_validate(&s.model, err, sizeof err))
        die("%s", err);
    if (rin_train_config_validate(&s.train, err, sizeof err))
        die("%s", err);

    /* thread counts: the parent never enters a parallel region, so the children can fork */
    int tl[MAX_THREADS_LIST], nt = 0;
    if (threads) {
        char buf[128];
        snprintf(buf, sizeof buf, "%s", threads);
        for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
            if (nt == MAX_THREADS_LIST)
                die("--threads: at most %d counts", MAX_THREADS_LIST);
            tl[nt++] = (int)parse_long("--threads", tok, 1, 1024);
        }
    } else {
        long mx = sysconf(_SC_NPROCESSORS_ONLN);
        const char *env = getenv("OMP_NUM_THREADS");
        if (env && atoi(env) > 0)
            mx = atoi(env);
        tl[nt++] = 1;
        if (mx > 1)
            tl[nt++] = (int)mx;
    }

    /* the GEMM paths: RIN_GEMM is checked here, before any child runs */
    if (rin_gemm_check(err, sizeof err))
        die("%s", err);
    int paths[RIN_GEMM_PATH_COUNT], npaths = 0, side = gemm_list != NULL;
    if (!side) {
        paths[npaths++] = (int)rin_gemm_active();
        rounds = 1;
    } else if (!strcmp(gemm_list, "all")) {
        for (int p = 0; p < RIN_GEMM_PATH_COUNT; p++)
            if (rin_gemm_path_available((rin_gemm_path)p, NULL, 0))
                paths[npaths++] = p;
    } else {
        char buf[128];
        snprintf(buf, sizeof buf, "%s", gemm_list);
        for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
            rin_gemm_path p;
            if (rin_gemm_parse(tok, &p, err, sizeof err))
                die("--gemm: %s", err);
            for (int k = 0; k < npaths; k++)
                if (paths[k] == (int)p)
                    die("--gemm: '%s' twice", tok);
            paths[npaths++] = (int)p;
        }
    }
    if (npaths == 0)
        die("--gemm: no GEMM path in this build");

    double flops = rin_config_flops(&s.model);
    printf("rin bench: %s, %zu parameters, %.3f GFLOP per image forward; batch %d, median of %d "
           "steps after %d warm-up\n",
           preset, rin_config_num_params(&s.model), flops / 1e9, B, steps, warm);
    char gdesc[320];
    rin_gemm_describe(gdesc, sizeof gdesc);
    printf("GEMM path: %s\n", gdesc);
    if (side) {
        printf("GEMM paths side by side:");
        for (int k = 0; k < npaths; k++)
            printf(" %s", rin_gemm_path_name((rin_gemm_path)paths[k]));
        printf("; %d round%s of one child per path in turn (order rotating), figures the median "
               "over rounds\n",
               rounds, rounds > 1 ? "s" : "");
    }
    printf("%7s %s| %-44s | %-44s\n", "", side ? "         " : "",
           "train step (self-cond, backward, LAMB, EMA)", "sampling step");
    printf("%7s %s| %8s %8s %8s %7s %8s | %8s %8s %8s %7s %8s\n", "threads",
           side ? "path     " : "", "img/s", "step s", "GFLOP/s", "%sgemm", "peak MB", "img/s",
           "step s", "GFLOP/s", "%sgemm", "peak MB");

    /* [thread][phase][path]: img/s (GFLOP/s for the ceiling), peak MB */
    double ips[MAX_THREADS_LIST][3][RIN_GEMM_PATH_COUNT], mbs[3][RIN_GEMM_PATH_COUNT];
    bench_result prof[2]; /* the last thread count's, for --profile */
    char jbuf[16384];
    int jw = snprintf(jbuf, sizeof jbuf,
                      "{\n  \"preset\": \"%s\",\n  \"params\": %zu,\n  \"gflop_forward\": %.6g,\n"
                      "  \"batch\": %d,\n  \"steps\": %d,\n  \"gemm\": \"%s\",\n  \"runs\": [",
                      preset, rin_config_num_params(&s.model), flops / 1e9, B, steps,
                      rin_gemm_path_name(rin_gemm_active()));
    for (int i = 0; i < nt; i++) {
        int T = tl[i];
        double secs[3][RIN_GEMM_PATH_COUNT][MAX_ROUNDS], gflop[3] = {0, 0, 0};
        /* phase by phase, and within a phase the paths in turn, so load drifts hit all alike */
        for (int ph = PHASE_TRAIN; ph <= PHASE_SGEMM; ph++) {
            if ((ph == PHASE_TRAIN && !do_train) || (ph == PHASE_SAMPLE && !do_sample))
                continue;
            for (int k = 0; k < npaths; k++)
                mbs[ph][k] = 0;
            for (int r = 0; r < rounds; r++)
                for (int kk = 0; kk < npaths; kk++) {
                    int k = (kk + r) % npaths;
                    child_gemm cg = {.path = side ? paths[k] : -1};
                    bench_result res;
                    double mb = run_child((phase)ph, &s, B, warm, steps, T, &cg, &res);
                    secs[ph][k][r] = res.median_s;
                    gflop[ph] = res.gflop_per_step;
                    if (mb > mbs[ph][k])
                        mbs[ph][k] = mb;
                    if (ph != PHASE_SGEMM && k == 0)
                        prof[ph] = res;
                }
        }
        for (int k = 0; k < npaths; k++) {
            double ceil_g = gflop[PHASE_SGEMM] / median(secs[PHASE_SGEMM][k], rounds);
            ips[i][PHASE_SGEMM][k] = ceil_g;
            if (side)
                printf("%7d %-8s |", T, rin_gemm_path_name((rin_gemm_path)paths[k]));
            else
                printf("%7d |", T);
            for (int ph = PHASE_TRAIN; ph <= PHASE_SAMPLE; ph++) {
                if ((ph == PHASE_TRAIN && !do_train) || (ph == PHASE_SAMPLE && !do_sample)) {
                    printf(" %-44s |", "-");
                    continue;
                }
                double sec = median(secs[ph][k], rounds);
                double v = B / sec, g = gflop[ph] / sec;
                ips[i][ph][k] = v;
                printf(" %8.2f %8.3f %8.1f %6.0f%% %8.0f %s", v, sec, g, 100.0 * g / ceil_g,
                       mbs[ph][k], ph == PHASE_TRAIN ? "|" : "");
                if (jw > 0 && (size_t)jw < sizeof jbuf)
                    jw += snprintf(jbuf + jw, sizeof jbuf - (size_t)jw,
                                   "%s\n    {\"threads\": %d, \"gemm\": \"%s\", \"phase\": \"%s\", "
                                   "\"img_per_s\": %.6g, \"step_s\": %.6g, \"gflops\": %.6g, "
                                   "\"sgemm_gflops\": %.6g, \"peak_rss_mb\": %.6g}",
                                   jbuf[jw - 1] == '[' ? "" : ",", T,
                                   rin_gemm_path_name((rin_gemm_path)paths[k]),
                                   ph == PHASE_TRAIN ? "train" : "sample", v, sec, g, ceil_g,
                                   mbs[ph][k]);
            }
            printf("   sgemm %.1f GFLOP/s\n", ceil_g);
        }
        /* the hardware's fp32 FMA peak with the same threads: what issue 21 measures against */
        bench_result pk;
        child_gemm cg_fma = {.path = -1};
        run_child(PHASE_FMA, &s, B, 0, 1, T, &cg_fma, &pk);
        double peak = pk.gflop_per_step > 0 ? pk.gflop_per_step / pk.median_s : 0;
        if (peak > 0) {
            printf("  fp32 FMA peak, %d thread%s (%s, registers only): %.1f GFLOP/s;", T,
                   T > 1 ? "s" : "", pk.err, peak);
            for (int k = 0; k < npaths; k++) {
                if (side)
                    printf(" %s:", rin_gemm_path_name((rin_gemm_path)paths[k]));
                if (do_train)
                    printf(" train %.0f%%", 100.0 * gflop[PHASE_TRAIN] /
                                                median(secs[PHASE_TRAIN][k], rounds) / peak);
                if (do_sample)
                    printf(" sample %.0f%%", 100.0 * gflop[PHASE_SAMPLE] /
                                                 median(secs[PHASE_SAMPLE][k], rounds) / peak);
                printf(" sgemm %.0f%%%s", 100.0 * ips[i][PHASE_SGEMM][k] / peak,
                       k + 1 < npaths ? ";" : "");
            }
            printf(" of it\n");
        } else {
            printf("  fp32 FMA peak: not measured (no AVX2+FMA or AVX-512 on this CPU)\n");
        }
        if (peak > 0 && jw > 0 && (size_t)jw < sizeof jbuf)
            jw += snprintf(jbuf + jw, sizeof jbuf - (size_t)jw,
                           "%s\n    {\"threads\": %d, \"phase\": \"fma_peak\", \"isa\": \"%s\", "
                           "\"gflops\": %.6g}",
                           jbuf[jw - 1] == '[' ? "" : ",", T, pk.err, peak);
        /* bf16: the hardware's dot-product peak and rin's kernel on the ceiling's product */
        bench_result bf;
        run_child(PHASE_BF16, &s, B, 0, 1, T, &cg_fma, &bf);
        printf("  bf16, %d thread%s: ", T, T > 1 ? "s" : "");
        if (bf.bf16_peak_gflops > 0)
            printf(
                "VDPBF16PS peak %.1f GFLOP/s (%.2fx the fp32 FMA peak); rin's AVX512_BF16 kernel",
                bf.bf16_peak_gflops, peak > 0 ? bf.bf16_peak_gflops / peak : 0.0);
        else
            printf("no AVX512_BF16 (operands rounded, then the fp32 GEMM)");
        printf(" on 2048^3 %.1f GFLOP/s, %.2fx the sgemm ceiling\n", bf.bf16_gemm_gflops,
               bf.bf16_gemm_gflops / ips[i][PHASE_SGEMM][0]);
        if (jw > 0 && (size_t)jw < sizeof jbuf)
            jw += snprintf(jbuf + jw, sizeof jbuf - (size_t)jw,
                           "%s\n    {\"threads\": %d, \"phase\": \"bf16\", \"native\": %d, "
                           "\"peak_gflops\": %.6g, \"gemm_gflops\": %.6g}",
                           jbuf[jw - 1] == '[' ? "" : ",", T, bf.bf16_peak_gflops > 0,
                           bf.bf16_peak_gflops, bf.bf16_gemm_gflops);
        for (int k = 1; side && k < npaths; k++) {
            printf("  %s / %s, %d thread%s:", rin_gemm_path_name((rin_gemm_path)paths[k]),
                   rin_gemm_path_name((rin_gemm_path)paths[0]), T, T > 1 ? "s" : "");
            if (do_train)
                printf(" train %.2fx", ips[i][PHASE_TRAIN][k] / ips[i][PHASE_TRAIN][0]);
            if (do_sample)
                printf(" sample %.2fx", ips[i][PHASE_SAMPLE][k] / ips[i][PHASE_SAMPLE][0]);
            printf(" sgemm %.2fx\n", ips[i][PHASE_SGEMM][k] / ips[i][PHASE_SGEMM][0]);
        }
        fflush(stdout);
    }
    for (int i = 1; i < nt; i++)
        for (int k = 0; k < npaths; k++) {
            printf("scaling %d -> %d threads%s%s:", tl[0], tl[i], side ? ", " : "",
                   side ? rin_gemm_path_name((rin_gemm_path)paths[k]) : "");
            if (do_train)
                printf(" train %.2fx", ips[i][PHASE_TRAIN][k] / ips[0][PHASE_TRAIN][k]);
            if (do_sample)
                printf(" sample %.2fx", ips[i][PHASE_SAMPLE][k] / ips[0][PHASE_SAMPLE][k]);
            printf(" (sgemm %.2fx)\n", ips[i][PHASE_SGEMM][k] / ips[0][PHASE_SGEMM][k]);
        }
    if (side)
        print_shapes(&s, B, tl[nt - 1], paths, npaths, rounds);
    if (want_profile) {
        if (do_train)
            print_profile("train", tl[nt - 1], &prof[PHASE_TRAIN]);
        if (do_sample)
            print_profile("sampling", tl[nt - 1], &prof[PHASE_SAMPLE]);
    }
    if (jw > 0 && (size_t)jw < sizeof jbuf)
        jw += snprintf(jbuf + jw, sizeof jbuf - (size_t)jw, "\n  ]\n}\n");
    if (json) {
        if (jw < 0 || (size_t)jw >= sizeof jbuf)
            die("--json: the result does not fit");
        if (rin_write_file_atomic(json, jbuf, (size_t)jw, err, sizeof err))
            die("%s", err);
    }
    return 0;
}
