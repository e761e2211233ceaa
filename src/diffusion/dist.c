/* dist.c -- the MPI calls of data-parallel training (dist.h), or their single-process stand-ins
 * when built with MPI=0. All MPI code of rin is in this file.
 *
 * Threads: only the thread that calls rin_trainer_step talks to MPI (OpenMP threads compute
 * between the calls), so MPI_THREAD_FUNNELED is enough.
 */
#include <stdio.h>
#include <stdlib.h>

#include "dist.h"
#include "internal.h"

/* The environment variables by which launchers tell a process its job size: OpenMPI's mpirun,
 * PMIx launchers (OpenMPI 5, Slurm with PMIx) and PMI-1/2 launchers (MPICH, Slurm). */
static int launcher_size(void) {
    static const char *const vars[] = {"OMPI_COMM_WORLD_SIZE", "PMIX_SIZE", "PMI_SIZE"};
    for (int i = 0; i < 3; i++) {
        const char *v = getenv(vars[i]);
        if (v && *v)
            return atoi(v) > 0 ? atoi(v) : 1;
    }
    return getenv("PMIX_RANK") ? 1 : 0; /* a PMIx launch that does not say its size */
}

#ifdef RIN_MPI
#include <mpi.h>

static int in_job(void) {
    int init = 0, fin = 0;
    MPI_Initialized(&init);
    MPI_Finalized(&fin);
    return init && !fin;
}

int rin_dist_built(void) {
    return 1;
}

rin_status rin_dist_init(char *err, size_t errlen) {
    if (in_job() || launcher_size() == 0)
        return RIN_STATUS_OK;
    int provided = 0;
    if (MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS)
        return rin_errorf(err, errlen, RIN_STATUS_IO, "MPI_Init_thread failed");
    if (provided < MPI_THREAD_FUNNELED) {
        MPI_Finalize();
        return rin_errorf(err, errlen, RIN_STATUS_CONFIG,
                          "the MPI library does not provide MPI_THREAD_FUNNELED");
    }
    return RIN_STATUS_OK;
}

void rin_dist_finalize(void) {
    if (in_job())
        MPI_Finalize();
}

int rin_dist_rank(void) {
    int r = 0;
    if (in_job())
        MPI_Comm_rank(MPI_COMM_WORLD, &r);
    return r;
}

int rin_dist_size(void) {
    int n = 1;
    if (in_job())
        MPI_Comm_size(MPI_COMM_WORLD, &n);
    return n;
}

/* MPI counts are int: large buffers go in chunks. */
#define CHUNK ((size_t)1 << 30)

rin_status rin_dist_sum_f32(float *x, size_t n) {
    if (!in_job())
        return RIN_STATUS_OK;
    for (size_t i = 0; i < n; i += CHUNK) {
        int cnt = (int)(n - i < CHUNK ? n - i : CHUNK);
        if (MPI_Allreduce(MPI_IN_PLACE, x + i, cnt, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD) !=
            MPI_SUCCESS)
            return RIN_STATUS_IO;
    }
    return RIN_STATUS_OK;
}

rin_status rin_dist_sum_f64(double *x, int n) {
    if (!in_job())
        return RIN_STATUS_OK;
    return MPI_Allreduce(MPI_IN_PLACE, x, n, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD) == MPI_SUCCESS
               ? RIN_STATUS_OK
               : RIN_STATUS_IO;
}

int rin_dist_max(int v) {
    if (in_job())
        MPI_Allreduce(MPI_IN_PLACE, &v, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    return v;
}

int rin_dist_same_u64(uint64_t v) {
    if (!in_job())
        return 1;
    /* max(v) and max(~v) = ~min(v) in one reduction */
    uint64_t mm[2] = {v, ~v};
    MPI_Allreduce(MPI_IN_PLACE, mm, 2, MPI_UINT64_T, MPI_MAX, MPI_COMM_WORLD);
    return mm[0] == v && ~mm[1] == v;
}

void rin_dist_abort(int code) {
    if (in_job() && rin_dist_size() > 1) {
        fflush(stdout);
        fflush(stderr);
        MPI_Abort(MPI_COMM_WORLD, code);
    }
}

#else /* MPI=0: one process */

int rin_dist_built(void) {
    return 0;
}

rin_status rin_dist_init(char *err, size_t errlen) {
    int n = launcher_size();
    if (n > 1)
        return rin_errorf(err, errlen, RIN_STATUS_CONFIG,
                          "started by an MPI launcher with %d processes, but this rin was built "
                          "with MPI=0: each process would train alone (rebuild with MPI=1)",
                          n);
    return RIN_STATUS_OK;
}

void rin_dist_finalize(void) {}
int rin_dist_rank(void) {
    return 0;
}
int rin_dist_size(void) {
    return 1;
}

rin_status rin_dist_sum_f32(float *x, size_t n) {
    (void)x, (void)n;
    return RIN_STATUS_OK;
}

rin_status rin_dist_sum_f64(double *x, int n) {
    (void)x, (void)n;
    return RIN_STATUS_OK;
}

int rin_dist_max(int v) {
    return v;
}

int rin_dist_same_u64(uint64_t v) {
    (void)v;
    return 1;
}

void rin_dist_abort(int code) {
    (void)code;
}

#endif
