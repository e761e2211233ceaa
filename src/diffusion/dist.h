/* dist.h -- data-parallel training across processes: the few MPI calls rin needs (dist.c).
 *
 * Built with MPI=1 these are OpenMPI calls on MPI_COMM_WORLD; with MPI=0 they are the
 * single-process stand-ins (rank 0 of 1; a sum over one rank is the identity). A program joins a
 * job only when an MPI launcher started it (mpirun sets OMPI_COMM_WORLD_SIZE), so a plain
 * `rin train` never initialises MPI and behaves as a build without it. The state lives in the
 * MPI library itself (MPI_Initialized), not here. docs/distributed.md describes the scheme.
 */
#ifndef RIN_DIST_H
#define RIN_DIST_H

#include <stddef.h>
#include <stdint.h>

#include "rin.h"

/* 1 when built with MPI. */
int rin_dist_built(void);
/* Joins the job when an MPI launcher started this process; otherwise does nothing (a single
 * process). Fails with a message when a launcher asks for several processes and the build has
 * no MPI, since each would silently train alone. */
rin_status rin_dist_init(char *err, size_t errlen);
/* Leaves the job (MPI_Finalize) if rin_dist_init joined one. */
void rin_dist_finalize(void);
int rin_dist_rank(void); /* 0 outside a job */
int rin_dist_size(void); /* 1 outside a job */

/* In-place sums over all ranks (MPI_Allreduce, MPI_SUM); every rank gets the same result.
 * Outside a job they return at once (the sum over one rank). RIN_STATUS_IO if MPI fails. */
rin_status rin_dist_sum_f32(float *x, size_t n);
rin_status rin_dist_sum_f64(double *x, int n);
/* The largest v over the ranks, on every rank (a collective: all ranks must call it). */
int rin_dist_max(int v);
/* 1 on every rank when v is the same on all ranks (a collective). */
int rin_dist_same_u64(uint64_t v);
/* Ends every rank of the job with `code` (MPI_Abort); does nothing outside a job. For programs
 * (the CLI's die): the library itself never ends the process. */
void rin_dist_abort(int code);

#endif /* RIN_DIST_H */
