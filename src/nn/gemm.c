/* gemm.c -- rin_sgemm: the fixed tiling, the paths behind it (OpenBLAS, oneDNN) and the choice
 * between them (gemm.h says what and why; docs/performance.md has the measurements).
 *
 * Not a GEMM implementation: the arithmetic is the libraries'. What is rin's own is the cut of
 * a product into tiles that do not depend on the thread count, the one-thread discipline of
 * every library call, and the run-time choice.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "gemm.h"
#include "internal.h"
#include "parallel.h"

#ifdef RIN_BLAS
#include <cblas.h>
/* OpenBLAS's cblas.h pulls in <complex.h>, whose macro I is not wanted here. */
#undef I
#endif
#ifdef RIN_DNNL
#include <oneapi/dnnl/dnnl.h>
#if DNNL_CPU_RUNTIME != DNNL_RUNTIME_OMP
#error "rin needs oneDNN built with the OpenMP CPU runtime (Debian's is): its threads must be ours"
#endif
#endif

static const char *const path_names[RIN_GEMM_PATH_COUNT] = {"openblas", "dnnl"};

const char *rin_gemm_path_name(rin_gemm_path p) {
    return (unsigned)p < RIN_GEMM_PATH_COUNT ? path_names[p] : "?";
}

int rin_gemm_path_available(rin_gemm_path p, char *why, size_t whylen) {
    const char *no = NULL;
    switch (p) {
    case RIN_GEMM_OPENBLAS:
#ifndef RIN_BLAS
        no = "this build has no BLAS (built with BLAS=none: the naive loops)";
#endif
        break;
    case RIN_GEMM_DNNL:
#ifndef RIN_DNNL
        no = "this build has no oneDNN (built with DNNL=0, or without libdnnl-dev installed: "
             "`make deps` installs it)";
#endif
        break;
    default: no = "no such path"; break;
    }
    if (no && why)
        snprintf(why, whylen, "%s", no);
    return no == NULL;
}

#ifdef RIN_DNNL
/* oneDNN's JIT level on this CPU (DNNL_MAX_CPU_ISA may lower it). */
static const char *dnnl_isa_name(void) {
    switch (dnnl_get_effective_cpu_isa()) {
    case dnnl_cpu_isa_sse41: return "sse41";
    case dnnl_cpu_isa_avx: return "avx";
    case dnnl_cpu_isa_avx2: return "avx2";
    case dnnl_cpu_isa_avx2_vnni: return "avx2_vnni";
    case dnnl_cpu_isa_avx512_core: return "avx512_core";
    case dnnl_cpu_isa_avx512_core_vnni: return "avx512_core_vnni";
    case dnnl_cpu_isa_avx512_core_bf16: return "avx512_core_bf16";
    case dnnl_cpu_isa_avx512_core_amx: return "avx512_core_amx";
    default: return "other";
    }
}

static int dnnl_has_avx512(void) {
    unsigned isa = (unsigned)dnnl_get_effective_cpu_isa();
    return (isa & (unsigned)dnnl_cpu_isa_avx512_core) == (unsigned)dnnl_cpu_isa_avx512_core;
}
#endif

/* Measured (docs/performance.md): on AVX-512, oneDNN's kernels run rin's shapes 1.8-2.3x faster
 * than OpenBLAS held to AVX2 by OPENBLAS_CORETYPE=Haswell; on AVX2 the two are within a few
 * percent, and OpenBLAS stays. */
rin_gemm_path rin_gemm_default_path(void) {
#ifdef RIN_DNNL
    if (dnnl_has_avx512())
        return RIN_GEMM_DNNL;
#endif
    return RIN_GEMM_OPENBLAS;
}

/* ---- the choice: read once, thread-safe (the first product may run inside a parallel region) */

static pthread_once_t choice_once = PTHREAD_ONCE_INIT;
static rin_gemm_path active_path;
static int active_forced;    /* by RIN_GEMM or rin_gemm_force */
static char choice_err[320]; /* non-empty: RIN_GEMM is wrong */

static void choice_list(char *buf, size_t len, int available_only) {
    size_t w = 0;
    buf[0] = 0;
    for (int p = 0; p < RIN_GEMM_PATH_COUNT; p++) {
        if (available_only && !rin_gemm_path_available((rin_gemm_path)p, NULL, 0))
            continue;
        int n = snprintf(buf + w, len - w, "%s%s", w ? ", " : "", path_names[p]);
        if (n < 0 || (size_t)n >= len - w)
            break;
        w += (size_t)n;
    }
}

rin_status rin_gemm_parse(const char *value, rin_gemm_path *out, char *err, size_t errlen) {
    char all[64], here[64], why[160];
    choice_list(all, sizeof all, 0);
    choice_list(here, sizeof here, 1);
    int p = 0;
    while (p < RIN_GEMM_PATH_COUNT && strcmp(value, path_names[p]))
        p++;
    rin_gemm_path def = rin_gemm_default_path();
    const char *unset = rin_gemm_path_available(def, NULL, 0) ? path_names[def] : "none here";
    if (p == RIN_GEMM_PATH_COUNT)
        return rin_errorf(err, errlen, RIN_STATUS_CONFIG,
                          "RIN_GEMM=%.40s: unknown GEMM path; the choices are %s (unset: the "
                          "fastest for this CPU, %s)",
                          value, all, unset);
    if (!rin_gemm_path_available((rin_gemm_path)p, why, sizeof why))
        return rin_errorf(err, errlen, RIN_STATUS_CONFIG,
                          "RIN_GEMM=%s: %s; the choices in this build are: %s (or unset RIN_GEMM)",
                          value, why, here[0] ? here : "none");
    *out = (rin_gemm_path)p;
    return RIN_STATUS_OK;
}

static void choice_init(void) {
#ifdef RIN_BLAS
    /* rin's threads are the only ones: every OpenBLAS call runs on its caller's thread */
    openblas_set_num_threads(1);
#endif
    active_path = rin_gemm_default_path();
    const char *env = getenv("RIN_GEMM");
    if (env && *env && rin_gemm_parse(env, &active_path, choice_err, sizeof choice_err) == 0)
        active_forced = 1;
}

rin_status rin_gemm_check(char *err, size_t errlen) {
    pthread_once(&choice_once, choice_init);
    if (choice_err[0])
        return rin_errorf(err, errlen, RIN_STATUS_CONFIG, "%s", choice_err);
    return RIN_STATUS_OK;
}

rin_gemm_path rin_gemm_active(void) {
    pthread_once(&choice_once, choice_init);
    if (choice_err[0]) {
        fprintf(stderr, "rin: %s\n", choice_err);
        abort();
    }
    return active_path;
}

void rin_gemm_reset(void) {
    pthread_once(&choice_once, choice_init);
    active_path = rin_gemm_default_path();
    active_forced = 0;
    choice_err[0] = 0;
    const char *env = getenv("RIN_GEMM");
    if (env && *env && rin_gemm_parse(env, &active_path, choice_err, sizeof choice_err) == 0)
        active_forced = 1;
}

int rin_gemm_force(rin_gemm_path p, char *why, size_t whylen) {
    pthread_once(&choice_once, choice_init);
    if (!rin_gemm_path_available(p, why, whylen))
        return 1;
    active_path = p;
    active_forced = 1;
    choice_err[0] = 0;
    return 0;
}

void rin_gemm_describe(char *buf, size_t len) {
    char err[320];
    if (rin_gemm_check(err, sizeof err)) {
        snprintf(buf, len, "none: %s", err);
        return;
    }
#ifdef RIN_BLAS
    const char *how = active_forced ? "forced" : "the default for this CPU";
    switch (active_path) {
    case RIN_GEMM_OPENBLAS:
        snprintf(buf, len, "openblas (%s; OpenBLAS core %s, %s)", how, openblas_get_corename(),
                 openblas_get_config());
        return;
    case RIN_GEMM_DNNL:
#ifdef RIN_DNNL
    {
        const dnnl_version_t *v = dnnl_version();
        snprintf(buf, len, "dnnl (%s; oneDNN %d.%d.%d, JIT for %s)", how, v->major, v->minor,
                 v->patch, dnnl_isa_name());
        return;
    }
#endif
    default: break;
    }
#endif
    snprintf(buf, len, "none (BLAS=none: the naive loops)");
}

/* ---- tiles ----------------------------------------------------------------------------------
 * A product is cut into tm x tn tiles from its shape alone: powers of two, as many as keep at
 * least TILE_MACS multiply-adds each (a call's fixed cost stays small), at most MAX_TILES
 * (enough for up to 16 threads to balance), cutting the longer side first, down to MIN_ROWS
 * rows or MIN_COLS columns. Every tile packs its own share of both operands, so a weight
 * gradient (K = all tokens) pays its packing once per tile: measured on rin's shapes (2
 * threads, docs/performance.md), 128-row and 128-column floors keep that within a few percent
 * where 32 x 64 tiles lost a third. Row cuts fall on multiples of 8, column cuts on 16. */
#define TILE_MACS (1L << 22)
#define MAX_TILES 16
#define MIN_ROWS  128
#define MIN_COLS  128

void rin_gemm_tiles(int M, int N, int K, int *tm, int *tn) {
    double macs = (double)M * N * K;
    int want = 1;
    while (want < MAX_TILES && macs / (2.0 * want) >= (double)TILE_MACS)
        want *= 2;
    int a = 1, b = 1;
    while (a * b < want) {
        int can_m = M / (2 * a) >= MIN_ROWS, can_n = N / (2 * b) >= MIN_COLS;
        if (can_m && (!can_n || M / a >= N / b))
            a *= 2;
        else if (can_n)
            b *= 2;
        else
            break;
    }
    *tm = a;
    *tn = b;
}

#ifdef RIN_BLAS
static int cut(int n, int i, int parts, int align) {
    if (i <= 0)
        return 0;
    if (i >= parts)
        return n;
    return (int)((long)n * i / parts) / align * align;
}

/* One tile on the calling thread, by the library of path p. */
static void tile_product(rin_gemm_path p, int ta, int tb, int m, int n, int K, float alpha,
                         const float *A, int lda, const float *B, int ldb, float beta, float *C,
                         int ldc) {
    switch (p) {
#ifdef RIN_DNNL
    case RIN_GEMM_DNNL: {
        dnnl_status_t st = dnnl_sgemm(ta ? 'T' : 'N', tb ? 'T' : 'N', m, n, K, alpha, A, lda, B,
                                      ldb, beta, C, ldc);
        RIN_ASSERT(st == dnnl_success);
        return;
    }
#endif
    default:
        cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
                    m, n, K, alpha, A, lda, B, ldb, beta, C, ldc);
        return;
    }
}

/* ---- the shape trace (`rin bench`) */
#define TRACE_CAP 256
static int trace_on;
static int trace_n;
static rin_gemm_shape trace_tab[TRACE_CAP];
/* a mutex of our own: a named omp critical would be a global symbol of librin.so */
static pthread_mutex_t trace_mu = PTHREAD_MUTEX_INITIALIZER;

static void trace_add(int ta, int tb, int M, int N, int K, float alpha, float beta, int in_par) {
    pthread_mutex_lock(&trace_mu);
    {
        int i = 0;
        while (i < trace_n &&
               !(trace_tab[i].ta == ta && trace_tab[i].tb == tb && trace_tab[i].M == M &&
                 trace_tab[i].N == N && trace_tab[i].K == K && trace_tab[i].alpha == alpha &&
                 trace_tab[i].beta == beta && trace_tab[i].in_parallel == in_par))
            i++;
        if (i < trace_n)
            trace_tab[i].calls++;
        else if (trace_n < TRACE_CAP)
            trace_tab[trace_n++] = (rin_gemm_shape){ta, tb, M, N, K, alpha, beta, in_par, 1};
    }
    pthread_mutex_unlock(&trace_mu);
}

/* One product and its tiling, as rin_sgemm received it. */
typedef struct product {
    rin_gemm_path path;
    int ta, tb, M, N, K, tm, tn, lda, ldb, ldc;
    float alpha, beta;
    const float *A, *B;
    float *C;
} product;

/* Tile t (row block t / tn, column block t % tn) on the calling thread. */
static void product_tile(const product *g, int t) {
    int i = t / g->tn, j = t % g->tn;
    int r0 = cut(g->M, i, g->tm, 8), r1 = cut(g->M, i + 1, g->tm, 8);
    int c0 = cut(g->N, j, g->tn, 16), c1 = cut(g->N, j + 1, g->tn, 16);
    const float *A = g->ta ? g->A + r0 : g->A + (size_t)r0 * g->lda;
    const float *B = g->tb ? g->B + (size_t)c0 * g->ldb : g->B + c0;
    tile_product(g->path, g->ta, g->tb, r1 - r0, c1 - c0, g->K, g->alpha, A, g->lda, B, g->ldb,
                 g->beta, g->C + (size_t)r0 * g->ldc + c0, g->ldc);
}

void rin_sgemm(int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda,
               const float *B, int ldb, float beta, float *C, int ldc) {
    if (M <= 0 || N <= 0)
        return;
    RIN_ASSERT(K >= 0 && lda >= (ta ? M : K) && ldb >= (tb ? K : N) && ldc >= N);
    if (K == 0) { /* C = beta C, which the libraries may refuse (lda < 1) */
        for (int i = 0; i < M; i++)
            for (int j = 0; j < N; j++)
                C[(size_t)i * ldc + j] = beta == 0.0f ? 0.0f : beta * C[(size_t)i * ldc + j];
        return;
    }
    product g = {.path = rin_gemm_active(),
                 .ta = ta,
                 .tb = tb,
                 .M = M,
                 .N = N,
                 .K = K,
                 .lda = lda,
                 .ldb = ldb,
                 .ldc = ldc,
                 .alpha = alpha,
                 .beta = beta,
                 .A = A,
                 .B = B,
                 .C = C};
    rin_gemm_tiles(M, N, K, &g.tm, &g.tn);
    int nt = g.tm * g.tn;
#ifdef _OPENMP
    int in_par = omp_in_parallel(), team = in_par ? 1 : omp_get_max_threads();
#else
    int in_par = 0, team = 1;
#endif
    if (trace_on)
        trace_add(ta, tb, M, N, K, alpha, beta, in_par);
    if (team > 1 && (nt > 1 || g.path == RIN_GEMM_DNNL)) {
        /* Inside our region every library call is one thread's: oneDNN sees omp_in_parallel()
         * and runs on its caller alone. A single tile of oneDNN's goes there too (one thread
         * works, the others wait at the barrier): from serial code oneDNN would open its own
         * parallel region over our threads and cut the product its own way, which depends on
         * the thread count; setting the count to 1 around the call measured slower (libgomp
         * re-docks its pool). */
#pragma omp parallel for schedule(static)
        for (int t = 0; t < nt; t++)
            product_tile(&g, t);
        return;
    }
    for (int t = 0; t < nt; t++)
        product_tile(&g, t);
}

void rin_gemm_trace(int on) {
    trace_on = on;
    if (!on)
        trace_n = 0;
}

static double shape_work(const rin_gemm_shape *s) {
    return (double)s->M * s->N * s->K * (double)s->calls;
}

static int shape_cmp(const void *a, const void *b) {
    double x = shape_work(a), y = shape_work(b);
    return (x < y) - (x > y);
}

int rin_gemm_trace_get(rin_gemm_shape *out, int cap) {
    qsort(trace_tab, (size_t)trace_n, sizeof trace_tab[0], shape_cmp);
    int n = trace_n < cap ? trace_n : cap;
    memcpy(out, trace_tab, (size_t)n * sizeof *out);
    return n;
}
#else
void rin_gemm_trace(int on) {
    (void)on;
}

int rin_gemm_trace_get(rin_gemm_shape *out, int cap) {
    (void)out, (void)cap;
    return 0;
}
#endif
