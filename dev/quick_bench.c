/* quick_bench.c -- scratch: time forward and forward+backward of a preset (dev only). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "internal.h"
int main(int argc, char **argv) {
    const char *preset = argc > 1 ? argv[1] : "fmnist";
    int B = argc > 2 ? atoi(argv[2]) : 64;
    rin_config c;
    rin_config_preset(&c, preset, NULL, 0);
    for (int i = 3; i + 1 < argc; i += 2)
        rin_config_set(&c, argv[i], argv[i + 1], NULL, 0);
    rin_model *m;
    rin_ctx *ctx, *ictx;
    char err[256];
    if (rin_model_create(&m, &c, err, sizeof err)) { puts(err); return 1; }
    rin_model_init_params(m, 1);
    rin_ctx_create(&ctx, m, B, RIN_CTX_TRAIN, NULL, 0);
    rin_ctx_create(&ictx, m, B, RIN_CTX_INFER, NULL, 0);
    size_t np = (size_t)B * c.H * c.W * c.C, nz = (size_t)B * c.L * c.D;
    float *x = calloc(np, 4), *pred = calloc(np, 4), *z = calloc(nz, 4), *g = malloc((size_t)B * 4);
    int *lab = calloc((size_t)B, sizeof(int));
    for (size_t i = 0; i < np; i++) x[i] = (float)((i * 7919) % 200) / 100.0f - 1.0f;
    for (int b = 0; b < B; b++) g[b] = 0.5f;
    rin_batch in = {.B = B, .x_t = x, .gamma = g, .labels = lab, .training = 1};
    double t0 = rin_time_seconds();
    int reps = 3;
    for (int r = 0; r < reps; r++) rin_forward(ictx, &in, pred, z);
    double t1 = rin_time_seconds();
    for (int r = 0; r < reps; r++) {
        rin_forward(ctx, &in, pred, z);
        rin_ctx_zero_grad(ctx);
        rin_backward(ctx, pred, NULL, NULL, NULL);
    }
    double t2 = rin_time_seconds();
    printf("%s B=%d params=%zu: infer fwd %.1f img/s, train fwd+bwd %.1f img/s, train ctx %.0f MB\n",
           preset, B, rin_config_num_params(&c), reps * B / (t1 - t0), reps * B / (t2 - t1),
           rin_ctx_bytes(ctx) / 1e6);
    return 0;
}
