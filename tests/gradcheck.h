/* gradcheck.h -- finite-difference gradient checks (T1) and tensor comparisons for op tests.
 *
 * The loss of a check is L = sum(out * R) for a fixed random R, accumulated in double by
 * gc_dot; the analytic gradient comes from the op's backward called with dout = R on zeroed
 * buffers. gc_fd_check perturbs every element of one input in float32 with step GC_FD_H,
 * central differences (2-point, or the 4-point stencil for ops containing softmax or LayerNorm),
 * and passes when |g_fd - g_an| <= GC_FD_ATOL + GC_FD_RTOL |g_fd| for every element
 * (shared/spec/style.md section 10). It prints the tensor_err_print line of the analytic
 * gradient against the differences, then ggml's mean absolute asymmetry.
 */
#ifndef RIN_GRADCHECK_H
#define RIN_GRADCHECK_H

#include <stddef.h>

#define GC_FD_H    1e-2f
#define GC_FD_ATOL 1e-3
#define GC_FD_RTOL 1e-2
/* Asymmetry terms are skipped when |a| and |b| are both below this: with h = 1e-2 in float32
 * the differences carry noise of order 1e-6..1e-5, so smaller gradients are not resolved and
 * their asymmetry would measure noise, not the backward. */
#define GC_ASYM_TINY 1e-4

typedef enum gc_stencil { GC_STENCIL2 = 2, GC_STENCIL4 = 4 } gc_stencil;

/* Runs the forward on the current inputs and returns L = sum(out * R) in double. */
typedef double (*gc_loss_fn)(void *ctx);

typedef struct gc_stats {
    double max_abs;  /* max |g_fd - g_an| */
    double max_frac; /* max |g_fd - g_an| / (atol + rtol |g_fd|): <= 1 passes */
    double asym;     /* mean |a - b| / |a + b| over the terms not skipped */
    size_t n_bad;
} gc_stats;

/* sum_i out[i] * R[i] in double. */
double gc_dot(const float *out, const float *R, size_t n);
/* ||a - ref|| / ||ref|| in double (the difference's norm alone when ref is 0). */
double gc_rel_l2(const float *a, const float *ref, size_t n);

/* Returns 1 when every g[i] is finite; otherwise records a failure naming the first bad
 * element and returns 0. */
int gc_finite_at(const char *file, int line, const char *what, const float *g, size_t n);
#define GC_FINITE(what, g, n) gc_finite_at(__FILE__, __LINE__, what, g, n)

/* Checks g_an (n) against finite differences of loss(ctx) in x (n, perturbed one element at a
 * time and restored bitwise). Fails at once, without differencing, when g_an holds a NaN/Inf.
 * Records a failure naming the worst element when any element is outside the bound.
 * Returns 1 on pass. stats may be NULL. */
int gc_fd_check_at(const char *file, int line, const char *what, gc_loss_fn loss, void *ctx,
                   float *x, const float *g_an, size_t n, gc_stencil stencil, gc_stats *stats);
#define GC_FD_CHECK(what, loss, ctx, x, g, n, stencil)                                             \
    gc_fd_check_at(__FILE__, __LINE__, what, loss, ctx, x, g, n, stencil, NULL)

/* Compares got against ref elementwise with |got - ref| <= atol + rtol |ref|, prints the
 * tensor_err_print line, and records a failure naming the worst element. Returns 1 on pass. */
int gc_compare_f32_at(const char *file, int line, const char *what, const float *got,
                      const float *ref, size_t n, double atol, double rtol);
int gc_compare_f64_at(const char *file, int line, const char *what, const float *got,
                      const double *ref, size_t n, double atol, double rtol);
#define GC_COMPARE_F32(what, got, ref, n, atol, rtol)                                              \
    gc_compare_f32_at(__FILE__, __LINE__, what, got, ref, n, atol, rtol)
#define GC_COMPARE_F64(what, got, ref, n, atol, rtol)                                              \
    gc_compare_f64_at(__FILE__, __LINE__, what, got, ref, n, atol, rtol)

/* Accumulation contract: after a backward on a buffer that started at g0, the buffer (got)
 * must equal g0 + g, where g is the same backward's result on a zeroed buffer. Bound
 * 1e-5 + 1e-4 |g0 + g| (T0), which allows a kernel to add g0 before or after its own sum. */
int gc_accum_check_at(const char *file, int line, const char *what, const float *got,
                      const float *g0, const float *g, size_t n);
#define GC_ACCUM_CHECK(what, got, g0, g, n)                                                        \
    gc_accum_check_at(__FILE__, __LINE__, what, got, g0, g, n)

/* Bitwise equality of two float arrays; prints a line and records a failure at the first
 * difference. Returns 1 when equal. */
int gc_bitwise_at(const char *file, int line, const char *what, const float *got, const float *ref,
                  size_t n);
#define GC_BITWISE(what, got, ref, n) gc_bitwise_at(__FILE__, __LINE__, what, got, ref, n)

/* calloc of n floats that aborts on failure (tests only). */
float *gc_zeros(size_t n);
/* gc_zeros then test_fill_uniform(x, n, seed, lo, hi). */
float *gc_uniform(size_t n, unsigned long long seed, float lo, float hi);

#endif /* RIN_GRADCHECK_H */
