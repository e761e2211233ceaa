/* bench_dist.c -- scratch: data-parallel training speed (dev only; docs/distributed.md).
 *
 * Times rin_trainer_step of a preset on random data, as one process or as each rank of an MPI
 * job, and the bare all-reduce of the gradient buffer. Rank 0 prints the median step time, the
 * global images per second, the median time a step spent in the sums (transfer plus waiting
 * for the slower rank) and the median of a bare MPI all-reduce of the same buffer.
 *
 *   cc -O2 -std=c11 -D_POSIX_C_SOURCE=200809L -fopenmp -Iinclude -Isrc -Isrc/base -Isrc/nn -Isrc/diffusion -Isrc/data -Isrc/eval -DRIN_MPI \
 *      $(mpicc --showme:compile) \
 *      dev/bench_dist.c build/librin.a -lopenblas -ljansson -lstb -lz -lcrypto -llapacke -lm \
 *      $(mpicc --showme:link) -o build/bench_dist
 *   OMP_NUM_THREADS=2 OPENBLAS_NUM_THREADS=2 build/bench_dist fmnist 64 12
 *   OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 mpirun -np 2 build/bench_dist fmnist 64 12
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dist.h"
#include "internal.h"

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

int main(int argc, char **argv) {
    const char *preset = argc > 1 ? argv[1] : "fmnist";
    int B = argc > 2 ? atoi(argv[2]) : 64, steps = argc > 3 ? atoi(argv[3]) : 12, warm = 2;
    char err[512];
    if (rin_dist_init(err, sizeof err)) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    int rank = rin_dist_rank(), N = rin_dist_size(), b = B / N;
    rin_config c;
    rin_train_config tc;
    rin_config_preset(&c, preset, NULL, 0);
    rin_train_config_default(&tc);
    tc.batch_size = B;
    tc.warmup_steps = 10;
    rin_model *m;
    rin_trainer *t;
    if (rin_model_create(&m, &c, err, sizeof err) ||
        rin_trainer_create_shard(&t, m, &tc, rank, N, err, sizeof err)) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    rin_model_init_params(m, 1);
    size_t per = (size_t)c.H * c.W * c.C, nf = rin_model_buffer_floats(m);
    float *x0 = malloc((size_t)b * per * sizeof *x0);
    int *labels = calloc((size_t)b, sizeof *labels);
    rin_rng rng;
    rin_rng_seed(&rng, 7 + (uint64_t)rank);
    for (size_t i = 0; i < (size_t)b * per; i++)
        x0[i] = (float)(2 * rin_rng_uniform(&rng) - 1);
    double *dt = malloc((size_t)steps * sizeof *dt), *comm = malloc((size_t)steps * sizeof *comm);
    for (int s = 0; s < warm + steps; s++) {
        rin_step_stats st;
        double t0 = rin_time_seconds();
        if (rin_trainer_step(t, x0, c.num_classes > 0 ? labels : NULL, &st)) {
            fprintf(stderr, "step failed\n");
            return 1;
        }
        if (s >= warm) {
            dt[s - warm] = rin_time_seconds() - t0;
            comm[s - warm] = st.comm_s;
        }
    }
    /* the bare all-reduce of the gradient buffer, ranks lined up by a small sum first */
    double bare[20];
    float *g = calloc(nf, sizeof *g);
    for (int i = 0; i < 20; i++) {
        double one = 1;
        rin_dist_sum_f64(&one, 1);
        double t0 = rin_time_seconds();
        rin_dist_sum_f32(g, nf);
        bare[i] = rin_time_seconds() - t0;
    }
    if (rank == 0) {
        double md = median(dt, steps), mc = median(comm, steps), mb = median(bare, 20);
        printf("%s batch %d = %d rank(s) x %d, %zu floats: median step %.3f s (%d steps), "
               "%.1f img/s; in sums %.4f s/step; bare all-reduce %.4f s (%.2f%% of a step)\n",
               preset, B, N, b, nf, md, steps, B / md, mc, mb, 100 * mb / md);
    }
    free(x0), free(labels), free(dt), free(comm), free(g);
    rin_trainer_free(t);
    rin_model_free(m);
    rin_dist_finalize();
    return 0;
}
