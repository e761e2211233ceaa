/* gemm.h -- rin's one matrix product, and the choice of the library that computes it.
 *
 * Every GEMM of the model (linear layers, the attention core, the feature network's
 * convolutions through the linear op) calls rin_sgemm. It takes cblas_sgemm's row-major
 * meaning and hands the work to one of the paths below, chosen once per process:
 *
 *   openblas  cblas_sgemm of the OpenBLAS we link (its kernels follow OPENBLAS_CORETYPE:
 *             Haswell means AVX2 even on an AVX-512 CPU);
 *   dnnl      dnnl_sgemm of oneDNN (Debian's libdnnl-dev 2.6), whose JIT kernels follow the
 *             CPU's features (AVX-512 where there is AVX-512) whatever OPENBLAS_CORETYPE says;
 *             built in with DNNL=1 (the default when oneDNN is installed).
 *
 * The default is the fastest path measured for the CPU (docs/performance.md): dnnl on a CPU
 * where oneDNN runs its AVX-512 kernels, openblas otherwise. RIN_GEMM=openblas|dnnl in the
 * environment forces one; an unknown value or a path this build or CPU lacks is an error
 * that names the variable, the value and the choices (rin_gemm_check, called by
 * rin_ctx_create; an op that runs before any context aborts with the same message).
 *
 * Threads: rin's own OpenMP team only. Every library call is single-threaded (OpenBLAS is set
 * to one thread; oneDNN's OpenMP runtime, the same libgomp as ours, runs one thread inside
 * our parallel regions, so rin calls it only inside one). Called from serial code, rin_sgemm
 * cuts C into tiles that depend on (M, N, K) alone, never on the thread count, and runs them
 * over the team; called inside a parallel region it runs the same tiles on the calling
 * thread. Each tile is one library call on the same sub-matrices whatever the thread count,
 * so a path gives bitwise identical results for any number of threads (the libraries' results
 * may depend on where a product is cut, so the cut must not).
 */
#ifndef RIN_GEMM_H
#define RIN_GEMM_H

#include <stddef.h>
#include <stdint.h>

#include "rin.h"

typedef enum rin_gemm_path { RIN_GEMM_OPENBLAS, RIN_GEMM_DNNL, RIN_GEMM_PATH_COUNT } rin_gemm_path;

/* C (M,N) = alpha op(A) op(B) + beta C, all row-major; op(X) = X or X^T (ta, tb = 0 or 1).
 * A is (M,K) with row stride lda (ta = 0) or (K,M) (ta = 1); B is (K,N) with row stride ldb
 * (tb = 0) or (N,K) (tb = 1). As cblas_sgemm(CblasRowMajor, ...); beta 0 ignores C's old
 * contents. Only in builds with a GEMM library (RIN_BLAS); BLAS=none builds run the ops'
 * naive loops instead. */
#ifdef RIN_BLAS
void rin_sgemm(int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda,
               const float *B, int ldb, float beta, float *C, int ldc);
#endif

/* ---- bf16 (gemm_bf16.c) ------------------------------------------------------------------
 * C (M,N) = alpha op(A) op(B) + beta C as rin_sgemm, with every element of A and B first
 * rounded to bfloat16 (round to nearest even): the products are exact in fp32 and summed in
 * fp32. rin's own AVX512_BF16 kernel (VDPBF16PS) where the CPU has it, bitwise identical for
 * any thread count; elsewhere the rounded operands go through rin_sgemm (the same products,
 * summed in the library's order, so the two differ by fp32 rounding of the sums). */
void rin_gemm_bf16(int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda,
                   const float *B, int ldb, float beta, float *C, int ldc);
/* rin_sgemm's and rin_gemm_bf16's signature: the product an op is handed. */
typedef void (*rin_gemm_fn)(int ta, int tb, int M, int N, int K, float alpha, const float *A,
                            int lda, const float *B, int ldb, float beta, float *C, int ldc);
/* The product of precision p (rin_ctx_set_precision): rin_sgemm for fp32, rin_gemm_bf16 for
 * bf16; NULL for fp32 in a BLAS=none build, whose ops then run their naive loops. */
rin_gemm_fn rin_gemm_for(rin_precision p);
/* 1 when rin_gemm_bf16 runs its AVX512_BF16 kernel on this CPU. */
int rin_gemm_bf16_native(void);
/* Tests only: 0 makes rin_gemm_bf16 take the rin_sgemm path even where the kernel runs, 1 goes
 * back to the CPU's choice; returns the previous rin_gemm_bf16_native(). Serial code only. */
int rin_gemm_bf16_set_native(int on);
/* float -> bfloat16 bits, round to nearest even (NaN stays NaN), and back (exact). */
uint16_t rin_bf16_round(float x);
float rin_bf16_to_float(uint16_t h);

/* "openblas", "dnnl" */
const char *rin_gemm_path_name(rin_gemm_path p);
/* 1 when this build has the path and the CPU runs it; otherwise 0 and why (when why != NULL). */
int rin_gemm_path_available(rin_gemm_path p, char *why, size_t whylen);
/* The path this CPU gets when RIN_GEMM is unset. */
rin_gemm_path rin_gemm_default_path(void);
/* RIN_GEMM's value to a path this build and CPU run, or RIN_STATUS_CONFIG and a message that
 * names the variable, the value and the choices. */
rin_status rin_gemm_parse(const char *value, rin_gemm_path *out, char *err, size_t errlen);
/* Reads RIN_GEMM once: RIN_STATUS_OK, or RIN_STATUS_CONFIG with the message in err. */
rin_status rin_gemm_check(char *err, size_t errlen);
/* The path rin_sgemm uses (aborts with rin_gemm_check's message when RIN_GEMM is wrong). */
rin_gemm_path rin_gemm_active(void);
/* Tests and `rin bench`: use path p from now on (0), or 1 with why when it is unavailable.
 * Call from serial code, between products. */
int rin_gemm_force(rin_gemm_path p, char *why, size_t whylen);
/* Back to the path RIN_GEMM (or the default) gives, as at the start. */
void rin_gemm_reset(void);
/* One line on the active path and its library: "dnnl (oneDNN 2.6.3, JIT avx512_core_bf16)". */
void rin_gemm_describe(char *buf, size_t len);

/* The tiles rin_sgemm cuts an (M,N,K) product into: tm row blocks by tn column blocks. */
void rin_gemm_tiles(int M, int N, int K, int *tm, int *tn);

/* `rin bench`: while on, every distinct call shape is counted (under a lock); off clears. */
typedef struct rin_gemm_shape {
    int ta, tb, M, N, K;
    float alpha, beta;
    int in_parallel; /* called inside a parallel region (one per (batch, head) pair) */
    long calls;
} rin_gemm_shape;
void rin_gemm_trace(int on);
/* The recorded shapes (at most cap), most total work first; returns how many. */
int rin_gemm_trace_get(rin_gemm_shape *out, int cap);

#endif /* RIN_GEMM_H */
