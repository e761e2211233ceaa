/* parallel.h -- the one place that talks to OpenMP and BLAS threading.
 *
 * rin_thread_range splits [0, n) into contiguous per-thread ranges inside a parallel region;
 * loops that use it write disjoint outputs and sum in a fixed order, so results do not depend
 * on the thread count. */
#ifndef RIN_PARALLEL_H
#define RIN_PARALLEL_H

#ifdef _OPENMP
#include <omp.h>
static inline int rin_thread_id(void) {
    return omp_get_thread_num();
}
static inline int rin_thread_count(void) {
    return omp_get_num_threads();
}
static inline int rin_max_threads(void) {
    return omp_get_max_threads();
}
#else
static inline int rin_thread_id(void) {
    return 0;
}
static inline int rin_thread_count(void) {
    return 1;
}
static inline int rin_max_threads(void) {
    return 1;
}
#endif

/* This thread's share [*lo, *hi) of [0, n). */
static inline void rin_thread_range(long n, long *lo, long *hi) {
    long t = rin_thread_id(), nt = rin_thread_count();
    *lo = n * t / nt;
    *hi = n * (t + 1) / nt;
}

/* BLAS threads: gemm.h. Every GEMM library call runs on its caller's thread (OpenBLAS is set to
 * one thread, oneDNN runs one inside our regions); letting a threaded OpenBLAS run beside our
 * OpenMP loops made the two pools spin against each other on a 2-core machine (measured: 64 vs
 * 122 img/s for a train step of a small model). */

#endif /* RIN_PARALLEL_H */
