/* test_train.c -- training and sampling end to end in the library:
 *   - a tiny model overfits a handful of images with self-conditioning on (the loss falls);
 *   - resume equivalence: N steps straight == N/2, save, restore into a new trainer, N/2;
 *   - the sampler carries each step's latents into the next (checked against a hand-written
 *     two-step loop) and ignores them with self_cond = 0;
 *   - sampling is deterministic by seed; a non-finite loss stops a step without touching the
 *     weights; training config errors name the key.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "diffusion.h"
#include "internal.h"
#include "test.h"

static rin_config small_config(void) {
    rin_config c;
    rin_config_preset(&c, "tiny", NULL, 0);
    rin_config_set(&c, "image_channels", "1", NULL, 0);
    rin_config_set(&c, "num_classes", "4", NULL, 0);
    return c;
}

/* n images of 8x8x1 in [-1, 1]: distinct simple shapes */
static void make_images(float *x, int n) {
    for (int i = 0; i < n; i++)
        for (int y = 0; y < 8; y++)
            for (int xx = 0; xx < 8; xx++) {
                int on = (i % 4 == 0 && y < 4) || (i % 4 == 1 && xx < 4) ||
                         (i % 4 == 2 && (y + xx) % 2 == 0) || (i % 4 == 3 && y >= 2 && y < 6);
                x[(size_t)i * 64 + y * 8 + xx] = on ? 1.0f : -1.0f;
            }
}

static rin_train_config train_config(int B, long steps) {
    rin_train_config t;
    rin_train_config_default(&t);
    t.batch_size = B;
    t.total_steps = steps;
    t.warmup_steps = 20;
    t.lr = 3e-3;
    snprintf(t.optimizer, sizeof t.optimizer, "adamw");
    snprintf(t.lr_schedule, sizeof t.lr_schedule, "constant");
    t.ema_decay = 0.99;
    t.seed = 5;
    return t;
}

/* Mean losses of steps [0, 40) and [steps - 40, steps) of the overfitting run in `precision`. */
static void overfit_losses(const char *precision, int steps, double *first, double *last,
                           double *step1) {
    rin_config c = small_config();
    rin_train_config tc = train_config(8, steps);
    snprintf(tc.precision, sizeof tc.precision, "%s", precision);
    rin_model *m;
    rin_trainer *tr;
    char err[512];
    RIN_ASSERT(rin_model_create(&m, &c, err, sizeof err) == RIN_STATUS_OK);
    rin_model_init_params(m, 1);
    RIN_ASSERT(rin_trainer_create(&tr, m, &tc, err, sizeof err) == RIN_STATUS_OK);
    float x0[8 * 64];
    int labels[8];
    make_images(x0, 8);
    for (int i = 0; i < 8; i++)
        labels[i] = i % 4;
    *first = *last = 0;
    for (int s = 0; s < steps; s++) {
        rin_step_stats st;
        RIN_ASSERT(rin_trainer_step(tr, x0, labels, &st) == RIN_STATUS_OK);
        if (s == 0)
            *step1 = st.loss;
        if (s < 40)
            *first += st.loss / 40;
        if (s >= steps - 40)
            *last += st.loss / 40;
    }
    rin_trainer_free(tr);
    rin_model_free(m);
}

TEST(train_overfits_a_few_images) {
    double first, last, step1;
    overfit_losses("fp32", 400, &first, &last, &step1);
    printf("  mean loss of steps 1-40: %.4f; of steps 361-400: %.4f (ratio %.1f)\n", first, last,
           first / last);
    CHECK(last < first / 4);
}

TEST(train_resume_is_bit_exact) {
    rin_config c = small_config();
    rin_config_set(&c, "drop_units", "0.1", NULL, 0);
    rin_config_set(&c, "drop_path", "0.1", NULL, 0);
    rin_train_config tc = train_config(4, 12);
    snprintf(tc.optimizer, sizeof tc.optimizer, "lamb");
    snprintf(tc.lr_schedule, sizeof tc.lr_schedule, "cosine@0.8");
    tc.warmup_steps = 3;
    tc.cond_dropout = 0.2;
    tc.ema_warmup = 1; /* the decay depends on the step: restored with it */
    char err[512], path[256];
    snprintf(path, sizeof path, "/tmp/rin_resume_%d.safetensors", (int)getpid());
    float x0[4 * 64];
    int labels[4] = {0, 1, 2, 3};
    make_images(x0, 4);

    rin_model *a, *b;
    rin_trainer *ta, *tb;
    CHECK(rin_model_create(&a, &c, NULL, 0) == RIN_STATUS_OK);
    rin_model_init_params(a, 9);
    CHECK(rin_trainer_create(&ta, a, &tc, err, sizeof err) == RIN_STATUS_OK);
    for (int s = 0; s < 12; s++)
        CHECK(rin_trainer_step(ta, x0, labels, NULL) == RIN_STATUS_OK);

    CHECK(rin_model_create(&b, &c, NULL, 0) == RIN_STATUS_OK);
    rin_model_init_params(b, 9);
    CHECK(rin_trainer_create(&tb, b, &tc, err, sizeof err) == RIN_STATUS_OK);
    for (int s = 0; s < 6; s++)
        CHECK(rin_trainer_step(tb, x0, labels, NULL) == RIN_STATUS_OK);
    CHECK(rin_trainer_save(tb, path, NULL, err, sizeof err) == RIN_STATUS_OK);
    rin_trainer_free(tb);
    rin_model_free(b);
    /* a fresh process would load the model and its trainer from the file */
    CHECK(rin_model_load(&b, path, err, sizeof err) == RIN_STATUS_OK);
    rin_train_config tc2;
    CHECK(rin_train_config_from_file(&tc2, path, err, sizeof err) == RIN_STATUS_OK);
    CHECK(tc2.total_steps == 12 && tc2.cond_dropout == 0.2 && !strcmp(tc2.optimizer, "lamb"));
    CHECK(tc2.ema_warmup == 1);
    CHECK(rin_trainer_create(&tb, b, &tc2, err, sizeof err) == RIN_STATUS_OK);
    CHECK(rin_trainer_restore(tb, path, err, sizeof err) == RIN_STATUS_OK);
    CHECK(rin_trainer_step_count(tb) == 6);
    for (int s = 6; s < 12; s++)
        CHECK(rin_trainer_step(tb, x0, labels, NULL) == RIN_STATUS_OK);
    size_t nf = rin_model_buffer_floats(a);
    int same_w = !memcmp(rin_model_params(a), rin_model_params(b), nf * 4);
    int same_e = !memcmp(rin_trainer_ema(ta), rin_trainer_ema(tb), nf * 4);
    printf("  12 steps straight vs 6 + save/restore + 6: weights %s, EMA %s\n",
           same_w ? "bitwise equal" : "DIFFER", same_e ? "bitwise equal" : "DIFFER");
    CHECK(same_w && same_e);
    rin_trainer_free(ta);
    rin_trainer_free(tb);
    rin_model_free(a);
    rin_model_free(b);
    unlink(path);
}

/* With warm-up the first update's decay is 1/10: ema = 0.1 w_init + 0.9 w_1, and without it
 * the spec's ema_decay; computed here from the weights before and after the step. */
TEST(train_ema_warmup_first_step) {
    rin_config c = small_config();
    float x0[4 * 64];
    int labels[4] = {0, 1, 2, 3};
    make_images(x0, 4);
    for (int warm = 0; warm <= 1; warm++) {
        rin_train_config tc = train_config(4, 30);
        tc.ema_warmup = warm;
        tc.warmup_steps = 0; /* the first step moves the weights */
        rin_model *m;
        rin_trainer *tr;
        char err[512];
        CHECK(rin_model_create(&m, &c, NULL, 0) == RIN_STATUS_OK);
        rin_model_init_params(m, 3);
        size_t nf = rin_model_buffer_floats(m);
        float *w0 = malloc(nf * sizeof *w0);
        memcpy(w0, rin_model_params(m), nf * sizeof *w0);
        CHECK(rin_trainer_create(&tr, m, &tc, err, sizeof err) == RIN_STATUS_OK);
        CHECK(rin_trainer_step(tr, x0, labels, NULL) == RIN_STATUS_OK);
        const float *w1 = rin_model_params(m), *ema = rin_trainer_ema(tr);
        double d = warm ? 0.1 : tc.ema_decay;
        size_t bad = 0, moved = 0;
        for (size_t i = 0; i < nf; i++) {
            bad += ema[i] != (float)(d * (double)w0[i] + (1.0 - d) * (double)w1[i]);
            moved += w1[i] != w0[i];
        }
        printf("  ema_warmup=%d: decay %g at step 0, %zu of %zu EMA values differ from the "
               "formula (%zu weights moved)\n",
               warm, d, bad, nf, moved);
        CHECK(bad == 0 && moved > nf / 2);
        free(w0);
        rin_trainer_free(tr);
        rin_model_free(m);
    }
}

/* A checkpoint written before ema_warmup existed has no such key: it reads back as 0 (how it
 * was trained), whatever the current default. */
TEST(train_config_file_without_ema_warmup) {
    char path[256], err[512];
    snprintf(path, sizeof path, "/tmp/rin_old_cfg_%d.safetensors", (int)getpid());
    rin_st_writer *w = rin_st_writer_new();
    CHECK(w != NULL);
    CHECK(rin_st_writer_meta(w, "ema_decay", "0.999") == RIN_STATUS_OK);
    CHECK(rin_st_writer_meta(w, "lr", "0.002") == RIN_STATUS_OK);
    CHECK(rin_st_writer_save(w, path, err, sizeof err) == RIN_STATUS_OK);
    rin_st_writer_free(w);
    rin_train_config t;
    CHECK(rin_train_config_from_file(&t, path, err, sizeof err) == RIN_STATUS_OK);
    CHECK(t.ema_warmup == 0 && t.ema_decay == 0.999 && t.lr == 0.002);
    unlink(path);
}

/* The two exclusion lists of the official code are accepted, anything else is named. */
TEST(train_config_exclude_from_weight_decay) {
    rin_train_config t;
    rin_train_config_default(&t);
    char err[256];
    CHECK(!strcmp(t.exclude_from_weight_decay, "bias,beta,gamma"));
    CHECK(rin_train_config_set(&t, "exclude_from_weight_decay", "bias,beta,gamma,emb", err,
                               sizeof err) == RIN_STATUS_OK);
    CHECK(rin_train_config_validate(&t, err, sizeof err) == RIN_STATUS_OK);
    CHECK(rin_train_config_set(&t, "exclude_from_weight_decay", "bias", err, sizeof err) ==
          RIN_STATUS_OK);
    CHECK(rin_train_config_validate(&t, err, sizeof err) == RIN_STATUS_CONFIG);
    CHECK_MSG(strstr(err, "exclude_from_weight_decay") && strstr(err, "bias,beta,gamma,emb"),
              "message: %s", err);
}

/* Config values are printed in their shortest exact form and read back bit for bit. */
TEST(train_config_prints_shortest_numbers) {
    rin_train_config t;
    rin_train_config_default(&t);
    char buf[64], err[256];
    const char *vals[] = {"0.003", "0.1", "1e-08", "0.99990000000000001", "3.0000000000000004"};
    const char *want[] = {"0.003", "0.1", "1e-08", "0.9999", "3.0000000000000004"};
    int lr_key = -1;
    for (int i = 0; i < rin_train_config_num_keys(); i++)
        if (!strcmp(rin_train_config_key(i), "lr"))
            lr_key = i;
    CHECK(lr_key >= 0);
    for (int k = 0; k < 5; k++) {
        CHECK(rin_train_config_set(&t, "lr", vals[k], err, sizeof err) == RIN_STATUS_OK);
        double v = t.lr;
        rin_train_config_get(&t, lr_key, buf, sizeof buf);
        CHECK_MSG(!strcmp(buf, want[k]), "lr=%s printed as %s, want %s", vals[k], buf, want[k]);
        CHECK(rin_train_config_set(&t, "lr", buf, err, sizeof err) == RIN_STATUS_OK);
        CHECK(t.lr == v);
    }
}

/* --init-from: a checkpoint gives its weights and EMA, an export its EMA as both; the step
 * continues; a different model is refused by name. */
TEST(train_init_from_file) {
    rin_config c = small_config();
    rin_train_config tc = train_config(4, 30);
    tc.ema_warmup = 1;
    char err[512], ckpt[256], export[256];
    snprintf(ckpt, sizeof ckpt, "/tmp/rin_initfrom_ckpt_%d.safetensors", (int)getpid());
    snprintf(export, sizeof export, "/tmp/rin_initfrom_model_%d.safetensors", (int)getpid());
    float x0[4 * 64];
    int labels[4] = {0, 1, 2, 3};
    make_images(x0, 4);
    rin_model *a, *b;
    rin_trainer *ta, *tb;
    CHECK(rin_model_create(&a, &c, NULL, 0) == RIN_STATUS_OK);
    rin_model_init_params(a, 2);
    CHECK(rin_trainer_create(&ta, a, &tc, err, sizeof err) == RIN_STATUS_OK);
    for (int s = 0; s < 25; s++)
        CHECK(rin_trainer_step(ta, x0, labels, NULL) == RIN_STATUS_OK);
    CHECK(rin_trainer_save(ta, ckpt, NULL, err, sizeof err) == RIN_STATUS_OK);
    CHECK(rin_trainer_export(ta, export, NULL, err, sizeof err) == RIN_STATUS_OK);
    size_t nf = rin_model_buffer_floats(a);
    const float *wa = rin_model_params(a), *ea = rin_trainer_ema(ta);
    CHECK(memcmp(wa, ea, nf * 4) != 0); /* the two copies differ, so the test can tell them apart */

    for (int k = 0; k < 2; k++) {
        CHECK(rin_model_create(&b, &c, NULL, 0) == RIN_STATUS_OK);
        rin_model_init_params(b, 77); /* other weights, overwritten by the file */
        CHECK(rin_trainer_create(&tb, b, &tc, err, sizeof err) == RIN_STATUS_OK);
        CHECK_MSG(rin_trainer_init_from(tb, k ? export : ckpt, err, sizeof err) == RIN_STATUS_OK,
                  "%s", err);
        CHECK(rin_trainer_step_count(tb) == 25);
        CHECK(!memcmp(rin_model_params(b), k ? ea : wa, nf * 4));
        CHECK(!memcmp(rin_trainer_ema(tb), ea, nf * 4));
        CHECK(rin_trainer_step(tb, x0, labels, NULL) == RIN_STATUS_OK);
        CHECK(rin_trainer_step_count(tb) == 26);
        rin_trainer_free(tb);
        rin_model_free(b);
    }
    /* a model of another size: refused, naming the file */
    rin_config c2 = c;
    CHECK(rin_config_set(&c2, "latent_slots", "6", NULL, 0) == RIN_STATUS_OK);
    CHECK(rin_model_create(&b, &c2, NULL, 0) == RIN_STATUS_OK);
    CHECK(rin_trainer_create(&tb, b, &tc, err, sizeof err) == RIN_STATUS_OK);
    CHECK(rin_trainer_init_from(tb, ckpt, err, sizeof err) == RIN_STATUS_CONFIG);
    CHECK_MSG(strstr(err, ckpt) && strstr(err, "model config"), "message: %s", err);
    rin_trainer_free(tb);
    rin_model_free(b);
    rin_trainer_free(ta);
    rin_model_free(a);
    unlink(ckpt);
    unlink(export);
}

/* The sampler's first two steps written out by hand with the library's pieces. */
static void manual_two_steps(rin_ctx *ctx, const rin_config *c, int B, const int *labels, int carry,
                             uint64_t seed, float *out) {
    size_t per = (size_t)c->H * c->W * c->C, n = B * per, nz = (size_t)B * c->L * c->D;
    float *x = malloc(n * 4), *net = malloc(n * 4), *x0 = malloc(n * 4), *eps = malloc(n * 4);
    float *z = malloc(n * 4), *lat = malloc(nz * 4), gam[16];
    rin_schedule sched;
    rin_schedule_parse(&sched, "cosine", NULL, 0);
    rin_rng rng;
    rin_rng_seed(&rng, seed);
    for (size_t i = 0; i < n; i++)
        x[i] = (float)rin_rng_normal(&rng);
    for (int i = 0; i < 2; i++) {
        double tn, tx;
        rin_sampler_times(&tn, &tx, i, 2, 0);
        double gn = rin_schedule_gamma(&sched, tn), gx = rin_schedule_gamma(&sched, tx);
        for (int b = 0; b < B; b++)
            gam[b] = (float)gn;
        rin_batch in = {.B = B,
                        .x_t = x,
                        .gamma = gam,
                        .labels = labels,
                        .z_prev = (carry && i == 1) ? lat : NULL};
        RIN_ASSERT(rin_forward(ctx, &in, net, lat) == RIN_STATUS_OK);
        rin_diffusion_x0_eps(x0, eps, net, x, gam, B, per, RIN_PRED_EPS, 1.0f);
        for (size_t k = 0; k < n; k++)
            z[k] = (float)rin_rng_normal(&rng);
        rin_sampler_step(x, x0, eps, z, RIN_SAMPLER_DDPM, gn, gx, n);
    }
    memcpy(out, x0, n * 4);
    free(x), free(net), free(x0), free(eps), free(z), free(lat);
}

static void count_steps(void *user, int step, int steps, const float *x0_hat, const float *x) {
    (void)step, (void)steps, (void)x0_hat, (void)x;
    ++*(int *)user;
}

TEST(sample_carries_latents) {
    rin_config c = small_config();
    rin_model *m;
    rin_ctx *ctx;
    CHECK(rin_model_create(&m, &c, NULL, 0) == RIN_STATUS_OK);
    rin_model_init_params(m, 4);
    /* give LN_zero a scale so the latents matter */
    const rin_tensor_info *t = rin_model_find_tensor(m, "sc_ln_w");
    for (size_t i = 0; i < t->numel; i++)
        rin_model_params(m)[t->offset + i] = 0.7f;
    CHECK(rin_ctx_create(&ctx, m, 3, RIN_CTX_INFER, NULL, 0) == RIN_STATUS_OK);
    int labels[3] = {0, 2, -1};
    float got[3 * 64], want[3 * 64], nolat[3 * 64], again[3 * 64];
    rin_sample_config sc;
    rin_sample_config_default(&sc);
    snprintf(sc.sampler, sizeof sc.sampler, "ddpm"); /* manual_two_steps is DDPM */
    sc.steps = 2;
    sc.seed = 17;
    char err[256];
    CHECK(rin_sample(ctx, &sc, 3, labels, got, NULL, NULL, err, sizeof err) == RIN_STATUS_OK);
    manual_two_steps(ctx, &c, 3, labels, 1, 17, want);
    CHECK(!memcmp(got, want, sizeof got)); /* step 2 received step 1's latents */
    sc.self_cond = 0;
    CHECK(rin_sample(ctx, &sc, 3, labels, nolat, NULL, NULL, err, sizeof err) == RIN_STATUS_OK);
    manual_two_steps(ctx, &c, 3, labels, 0, 17, want);
    CHECK(!memcmp(nolat, want, sizeof nolat));
    CHECK(memcmp(got, nolat, sizeof got) != 0); /* and it made a difference */
    sc.self_cond = 1;
    CHECK(rin_sample(ctx, &sc, 3, labels, again, NULL, NULL, err, sizeof err) == RIN_STATUS_OK);
    CHECK(!memcmp(got, again, sizeof got)); /* deterministic by seed */
    for (int i = 0; i < 3 * 64; i++)
        CHECK_MSG(got[i] >= -1.0f && got[i] <= 1.0f, "sample %d = %g outside [-b, b]", i,
                  (double)got[i]);
    /* guidance with w = 0 equals no guidance; w > 0 changes the class-conditional images */
    sc.guidance = 0.0;
    sc.sampler[0] = 0;
    snprintf(sc.sampler, sizeof sc.sampler, "ddim");
    CHECK(rin_sample(ctx, &sc, 3, labels, got, NULL, NULL, err, sizeof err) == RIN_STATUS_OK);
    sc.guidance = 2.0;
    CHECK(rin_sample(ctx, &sc, 3, labels, again, NULL, NULL, err, sizeof err) == RIN_STATUS_OK);
    CHECK(memcmp(got, again, 64 * 4) != 0);
    rin_ctx_free(ctx);
    rin_model_free(m);
}

/* Every sampler on every spacing and prediction target runs the network to finite images in
 * [-b, b], the same bytes twice, one callback per step; heun's corrector changes what the next
 * step receives only with latent_carry = call, and a one-call-per-step sampler is the same under
 * both carries. */
TEST(sample_every_sampler_spacing_target) {
    rin_config c = small_config();
    rin_model *m;
    rin_ctx *ctx;
    CHECK(rin_model_create(&m, &c, NULL, 0) == RIN_STATUS_OK);
    rin_model_init_params(m, 4);
    const rin_tensor_info *t = rin_model_find_tensor(m, "sc_ln_w");
    for (size_t i = 0; i < t->numel; i++)
        rin_model_params(m)[t->offset + i] = 0.7f; /* so the carried latents matter */
    CHECK(rin_ctx_create(&ctx, m, 2, RIN_CTX_INFER, NULL, 0) == RIN_STATUS_OK);
    int labels[2] = {1, 3};
    float a[2 * 64], b[2 * 64];
    char err[256];
    const char *samplers[] = {"ddpm", "ddpm@small", "ddim", "euler", "euler_a", "heun", "dpm++2m"};
    const char *spacings[] = {"t", "logsnr", "karras"};
    const char *preds[] = {"eps", "x0", "v"};
    for (int k = 0; k < 7; k++)
        for (int s = 0; s < 3; s++)
            for (int p = 0; p < 3; p++) {
                rin_sample_config sc;
                rin_sample_config_default(&sc);
                sc.steps = 3;
                sc.seed = 5;
                snprintf(sc.sampler, sizeof sc.sampler, "%s", samplers[k]);
                snprintf(sc.spacing, sizeof sc.spacing, "%s", spacings[s]);
                snprintf(sc.pred_type, sizeof sc.pred_type, "%s", preds[p]);
                int steps = 0;
                CHECK_MSG(rin_sample(ctx, &sc, 2, labels, a, count_steps, &steps, err,
                                     sizeof err) == RIN_STATUS_OK,
                          "%s", err);
                CHECK(rin_sample(ctx, &sc, 2, labels, b, NULL, NULL, err, sizeof err) ==
                      RIN_STATUS_OK);
                CHECK_MSG(!memcmp(a, b, sizeof a) && steps == 3, "%s %s %s: %d steps", samplers[k],
                          spacings[s], preds[p], steps);
                for (int i = 0; i < 2 * 64; i++)
                    CHECK_MSG(isfinite(a[i]) && a[i] >= -1.0f && a[i] <= 1.0f,
                              "%s %s %s: sample %d = %g", samplers[k], spacings[s], preds[p], i,
                              (double)a[i]);
            }
    const char *carried[2] = {"heun", "dpm++2m"};
    for (int k = 0; k < 2; k++) {
        rin_sample_config sc;
        rin_sample_config_default(&sc);
        sc.steps = 4;
        snprintf(sc.sampler, sizeof sc.sampler, "%s", carried[k]);
        CHECK(rin_sample(ctx, &sc, 2, labels, a, NULL, NULL, err, sizeof err) == RIN_STATUS_OK);
        snprintf(sc.latent_carry, sizeof sc.latent_carry, "step");
        CHECK(rin_sample(ctx, &sc, 2, labels, b, NULL, NULL, err, sizeof err) == RIN_STATUS_OK);
        CHECK_MSG((memcmp(a, b, sizeof a) != 0) == (k == 0), "%s: the carries %s", carried[k],
                  k == 0 ? "agree" : "differ");
    }
    rin_ctx_free(ctx);
    rin_model_free(m);
}

TEST(train_nonfinite_stops_the_step) {
    rin_config c = small_config();
    rin_train_config tc = train_config(2, 30);
    rin_model *m;
    rin_trainer *tr;
    CHECK(rin_model_create(&m, &c, NULL, 0) == RIN_STATUS_OK);
    rin_model_init_params(m, 2);
    RIN_ASSERT(rin_trainer_create(&tr, m, &tc, NULL, 0) == RIN_STATUS_OK);
    float x0[2 * 64];
    int labels[2] = {0, 1};
    make_images(x0, 2);
    x0[5] = NAN;
    size_t nf = rin_model_buffer_floats(m);
    float *before = malloc(nf * 4);
    memcpy(before, rin_model_params(m), nf * 4);
    CHECK(rin_trainer_step(tr, x0, labels, NULL) == RIN_STATUS_NONFINITE);
    CHECK(!memcmp(before, rin_model_params(m), nf * 4));
    CHECK(rin_trainer_step_count(tr) == 0);
    free(before);
    rin_trainer_free(tr);
    rin_model_free(m);
}

TEST(train_config_errors) {
    rin_train_config t;
    char err[256];
    rin_train_config_default(&t);
    CHECK(rin_train_config_set(&t, "optimiser", "lamb", err, sizeof err) == RIN_STATUS_CONFIG);
    CHECK(strstr(err, "unknown config key 'optimiser'") != NULL);
    CHECK(rin_train_config_set(&t, "lr", "fast", err, sizeof err) == RIN_STATUS_CONFIG);
    CHECK(strstr(err, "lr: 'fast' is not a number") != NULL);
    CHECK(rin_train_config_set(&t, "self_cond_rate", "1.5", err, sizeof err) == RIN_STATUS_CONFIG);
    CHECK(rin_train_config_set(&t, "optimizer", "sgd", err, sizeof err) == RIN_STATUS_OK);
    CHECK(rin_train_config_validate(&t, err, sizeof err) == RIN_STATUS_CONFIG);
    CHECK(strstr(err, "optimizer: 'sgd' is not supported") != NULL);
    rin_train_config_default(&t);
    CHECK(rin_train_config_set(&t, "train_schedule", "sigmoid@-3", err, sizeof err) == 0);
    CHECK(rin_train_config_validate(&t, err, sizeof err) == RIN_STATUS_CONFIG);
    printf("  bad schedule: %s\n", err);
    rin_train_config_default(&t);
    CHECK(rin_train_config_set(&t, "lr_schedule", "cosine@1.5", err, sizeof err) == 0);
    CHECK(rin_train_config_validate(&t, err, sizeof err) == RIN_STATUS_CONFIG);
    CHECK(strstr(err, "lr_schedule") != NULL);
    /* every key round-trips through text */
    rin_train_config a, b;
    rin_train_config_default(&a);
    a.lr = 1.2345678901234e-3;
    a.seed = 18446744073709551615ull;
    rin_train_config_default(&b);
    for (int i = 0; i < rin_train_config_num_keys(); i++) {
        char v[128];
        rin_train_config_get(&a, i, v, sizeof v);
        CHECK(rin_train_config_set(&b, rin_train_config_key(i), v, NULL, 0) == RIN_STATUS_OK);
    }
    CHECK(!memcmp(&a, &b, sizeof a));
}

TEST(train_without_self_conditioning) {
    /* the paper's ablation: self_cond=none (no latent path at all), and self_cond=latent with
     * rate 0 (the path sees only zeros) both train */
    for (int variant = 0; variant < 2; variant++) {
        rin_config c = small_config();
        rin_train_config tc = train_config(4, 60);
        if (variant == 0)
            rin_config_set(&c, "self_cond", "none", NULL, 0);
        else
            tc.self_cond_rate = 0;
        rin_model *m;
        rin_trainer *tr;
        RIN_ASSERT(rin_model_create(&m, &c, NULL, 0) == RIN_STATUS_OK);
        rin_model_init_params(m, 3);
        RIN_ASSERT(rin_trainer_create(&tr, m, &tc, NULL, 0) == RIN_STATUS_OK);
        float x0[4 * 64];
        int labels[4] = {0, 1, 2, 3};
        make_images(x0, 4);
        double first = 0, last = 0;
        for (int s = 0; s < 60; s++) {
            rin_step_stats st;
            CHECK(rin_trainer_step(tr, x0, labels, &st) == RIN_STATUS_OK);
            first += s < 10 ? st.loss / 10 : 0;
            last += s >= 50 ? st.loss / 10 : 0;
        }
        printf("  %s: loss %.3f -> %.3f\n", variant ? "self_cond_rate=0" : "self_cond=none", first,
               last);
        CHECK(last < first);
        rin_trainer_free(tr);
        rin_model_free(m);
    }
}

/* ---- frame_noise = independent (rin's, docs/video.md) -----------------------------------------
 */

static rin_config frame_noise_model(void) {
    rin_config c;
    rin_config_preset(&c, "tiny", NULL, 0);
    const char *sets[][2] = {{"image_channels", "1"}, {"num_classes", "0"}, {"seq_len", "5"},
                             {"seq_stride", "2"},     {"cond_frames", "2"}, {"self_cond", "none"},
                             {"token_gamma", "1"}};
    for (size_t i = 0; i < sizeof sets / sizeof sets[0]; i++)
        RIN_ASSERT(rin_config_set(&c, sets[i][0], sets[i][1], NULL, 0) == RIN_STATUS_OK);
    return c;
}

TEST(train_frame_noise_independent) {
    /* 3 predicted frames in 2 time slots (s = 2, the second slot padded): the first step's loss
     * equals a hand-written step in which each slot draws its own t (B x ns uniforms where the
     * shared mode draws B), each frame is noised and its v target formed with its slot's gamma,
     * the model gets the slot levels per token and the frame mean as the time token's gamma */
    rin_config c = frame_noise_model();
    rin_train_config tc = train_config(2, 40);
    char err[512];
    snprintf(tc.pred_type, sizeof tc.pred_type, "v");
    snprintf(tc.train_schedule, sizeof tc.train_schedule, "cosine");
    CHECK(rin_train_config_set(&tc, "frame_noise", "independent", NULL, 0) == RIN_STATUS_OK);
    CHECK_MSG(rin_train_config_validate(&tc, err, sizeof err) == RIN_STATUS_OK, "%s", err);
    rin_model *m, *m0;
    rin_trainer *tr;
    RIN_ASSERT(rin_model_create(&m, &c, NULL, 0) == RIN_STATUS_OK);
    RIN_ASSERT(rin_model_create(&m0, &c, NULL, 0) == RIN_STATUS_OK);
    rin_model_init_params(m, 3);
    const rin_tensor_info *tw = rin_model_find_tensor(m, "time_tape_w");
    test_fill_uniform(rin_model_params(m) + tw->offset, tw->numel, 4, -0.5f, 0.5f);
    memcpy(rin_model_params(m0), rin_model_params(m), rin_model_buffer_floats(m) * 4);
    RIN_ASSERT(rin_trainer_create(&tr, m, &tc, err, sizeof err) == RIN_STATUS_OK);
    const int B = 2, Tx = 3, ns = 2;
    size_t frame = (size_t)c.H * c.W, per = Tx * frame, n = B * per;
    float *x0 = malloc(n * 4), *cond = malloc(B * 2 * frame * 4), *xt = malloc(n * 4);
    float *target = malloc(n * 4), *out = malloc(n * 4);
    test_fill_uniform(x0, n, 7, -1, 1);
    test_fill_uniform(cond, B * 2 * frame, 8, -1, 1);
    rin_trainer_set_cond(tr, cond);
    rin_step_stats st;
    CHECK(rin_trainer_step(tr, x0, NULL, &st) == RIN_STATUS_OK);

    rin_schedule sch;
    RIN_ASSERT(rin_schedule_parse(&sch, "cosine", NULL, 0) == RIN_STATUS_OK);
    rin_rng rng;
    rin_rng_seed(&rng, rin_hash64(tc.seed, 0x53544550ull /* STEP */, 0));
    float gslot[4], gmean[2];
    for (int i = 0; i < B * ns; i++)
        gslot[i] = (float)rin_schedule_gamma(&sch, rin_rng_uniform(&rng));
    for (int b = 0; b < B; b++)
        gmean[b] = (float)(((double)gslot[2 * b] * 2 + (double)gslot[2 * b + 1]) / 3);
    double loss[2];
    for (int variant = 0; variant < 2; variant++) { /* 1: one gamma per example (wrong) */
        rin_rng r2 = rng;
        for (size_t i = 0; i < n; i++) {
            size_t b = i / per, f = (i % per) / frame;
            double g = variant ? (double)gmean[b] : (double)gslot[b * ns + f / 2];
            double e = (double)(float)rin_rng_normal(&r2);
            xt[i] = (float)(sqrt(g) * (double)x0[i] + sqrt(1 - g) * e);
            target[i] = (float)(sqrt(g) * e - sqrt(1 - g) * (double)x0[i]);
        }
        rin_ctx *ctx;
        RIN_ASSERT(rin_ctx_create(&ctx, m0, B, RIN_CTX_TRAIN, NULL, 0) == RIN_STATUS_OK);
        rin_ctx_set_cond(ctx, cond);
        rin_batch in = {.B = B,
                        .x_t = xt,
                        .gamma = gmean,
                        .training = 1,
                        .seed = rin_hash64(tc.seed, 0x44525032ull /* DRP2 */, 0),
                        .gamma_tok = variant ? NULL : gslot};
        CHECK(rin_forward(ctx, &in, out, NULL) == RIN_STATUS_OK);
        loss[variant] = rin_mse_loss(NULL, out, target, n);
        rin_ctx_free(ctx);
    }
    printf("  slot gammas %.4f %.4f | %.4f %.4f; loss %.9g, by hand %.9g (one gamma per example: "
           "%.9g)\n",
           (double)gslot[0], (double)gslot[1], (double)gslot[2], (double)gslot[3], st.loss, loss[0],
           loss[1]);
    CHECK(fabs(st.loss - loss[0]) <= 1e-6 * loss[0]);
    CHECK(fabs(loss[1] - loss[0]) > 1e-3 * loss[0]);
    rin_trainer_free(tr);

    /* errors: a bad value, an image model, a video model without token_gamma */
    CHECK(rin_train_config_set(&tc, "frame_noise", "per_frame", NULL, 0) == RIN_STATUS_OK);
    CHECK(rin_train_config_validate(&tc, err, sizeof err) == RIN_STATUS_CONFIG);
    CHECK_MSG(strstr(err, "frame_noise: 'per_frame' is not supported (expected shared or "
                          "independent)") != NULL,
              "%s", err);
    snprintf(tc.frame_noise, sizeof tc.frame_noise, "independent");
    rin_model *mi;
    rin_config ci = small_config();
    rin_config_set(&ci, "token_gamma", "1", NULL, 0);
    RIN_ASSERT(rin_model_create(&mi, &ci, NULL, 0) == RIN_STATUS_OK);
    CHECK(rin_trainer_create(&tr, mi, &tc, err, sizeof err) == RIN_STATUS_CONFIG);
    CHECK_MSG(strstr(err, "frame_noise") && strstr(err, "seq_len 0"), "%s", err);
    rin_model_free(mi);
    c.token_gamma = 0;
    RIN_ASSERT(rin_model_create(&mi, &c, NULL, 0) == RIN_STATUS_OK);
    CHECK(rin_trainer_create(&tr, mi, &tc, err, sizeof err) == RIN_STATUS_CONFIG);
    CHECK_MSG(strstr(err, "token_gamma 0") != NULL, "%s", err);
    printf("  %s\n", err);
    rin_model_free(mi);
    rin_model_free(m0);
    rin_model_free(m);
    free(x0), free(cond), free(xt), free(target), free(out);
}

/* ---- precision = bf16 (rin's, docs/performance.md "bf16") ----------------------------------- */

/* The overfitting run in bf16 learns as the fp32 one does: the same first-step loss to bf16's
 * rounding (not bitwise: the products were rounded), and a final loss as far below the start. */
TEST(train_precision_bf16) {
    double f32, l32, s32, f16, l16, s16;
    overfit_losses("fp32", 300, &f32, &l32, &s32);
    overfit_losses("bf16", 300, &f16, &l16, &s16);
    printf("  first-step loss fp32 %.6f bf16 %.6f; mean of steps 1-40 %.4f / %.4f; of steps "
           "261-300 %.4f / %.4f\n",
           s32, s16, f32, f16, l32, l16);
    CHECK(s16 != s32 && fabs(s16 - s32) < 0.02 * s32);
    CHECK(l16 < f16 / 3 && l32 < f32 / 3);
    CHECK(l16 < 1.5 * l32 && l32 < 1.5 * l16);

    rin_train_config tc;
    rin_train_config_default(&tc);
    char err[256];
    CHECK(strcmp(tc.precision, "fp32") == 0);
    CHECK(rin_train_config_set(&tc, "precision", "fp16", NULL, 0) == RIN_STATUS_OK);
    CHECK(rin_train_config_validate(&tc, err, sizeof err) == RIN_STATUS_CONFIG);
    CHECK_MSG(strstr(err, "precision: 'fp16' is not supported (expected fp32 or bf16)") != NULL,
              "%s", err);
}

/* ---- rollout_rate (rin's, docs/video.md "Roll-out training") -------------------------------- */

/* A video model of Nc conditioning and bf predicted 8 x 8 frames, with self-conditioning. */
static rin_config rollout_model(int Nc, int bf) {
    rin_config c;
    rin_config_preset(&c, "tiny", NULL, 0);
    char sl[16], cf[16];
    snprintf(sl, sizeof sl, "%d", Nc + bf);
    snprintf(cf, sizeof cf, "%d", Nc);
    const char *sets[][2] = {{"image_channels", "1"},  {"num_classes", "0"},
                             {"seq_len", sl},          {"seq_stride", "1"},
                             {"cond_frames", cf},      {"video_cond", "channels"},
                             {"video_cond_frames", cf}};
    for (size_t i = 0; i < sizeof sets / sizeof sets[0]; i++)
        RIN_ASSERT(rin_config_set(&c, sets[i][0], sets[i][1], NULL, 0) == RIN_STATUS_OK);
    return c;
}

/* Checks one rin_trainer_rollout_batch against a hand-written one: per global example two
 * uniforms from the "ROLT" stream of (seed, step) (rolled when the first < rate; the second the
 * level), then the rolled examples' noise; x0_hat by an inference pass over the whole shard. */
static void check_rollout(int Nc, int bf, const char *pred, double rate, int B, int rank,
                          int nranks, int *nrolled) {
    rin_config c = rollout_model(Nc, bf);
    rin_train_config tc = train_config(B, 40);
    snprintf(tc.pred_type, sizeof tc.pred_type, "%s", pred);
    tc.rollout_rate = rate;
    char err[512];
    rin_model *m;
    rin_trainer *tr;
    if (rin_model_create(&m, &c, err, sizeof err)) {
        CHECK_MSG(0, "%s", err);
        return;
    }
    rin_model_init_params(m, 3);
    RIN_ASSERT(rin_trainer_create_shard(&tr, m, &tc, rank, nranks, err, sizeof err) ==
               RIN_STATUS_OK);
    int b = B / nranks, e0 = rank * b;
    size_t frame = 64, per = (size_t)bf * frame, nc = (size_t)Nc * frame;
    float *cond0 = malloc(b * nc * 4), *frames = malloc(b * 2 * per * 4);
    float *cond = malloc(b * nc * 4), *x0 = malloc(b * per * 4);
    float *xt = malloc(b * per * 4), *out = malloc(b * per * 4), *xh = malloc(b * per * 4);
    int *rolled = malloc(b * sizeof(int));
    /* the shard's clips are the global batch's examples e0.. */
    float *gc = malloc((size_t)B * nc * 4), *gf = malloc((size_t)B * 2 * per * 4);
    test_fill_uniform(gc, (size_t)B * nc, 11, -1, 1);
    test_fill_uniform(gf, (size_t)B * 2 * per, 12, -1, 1);
    memcpy(cond0, gc + e0 * nc, b * nc * 4);
    memcpy(frames, gf + e0 * 2 * per, b * 2 * per * 4);
    CHECK(rin_trainer_rollout_batch(tr, cond0, frames, cond, x0, rolled) == RIN_STATUS_OK);

    rin_schedule sch;
    RIN_ASSERT(rin_schedule_parse(&sch, tc.train_schedule, NULL, 0) == RIN_STATUS_OK);
    rin_rng rng;
    rin_rng_seed(&rng, rin_hash64(tc.seed, 0x524F4C54ull /* ROLT */, 0));
    int want[64] = {0}, any = 0;
    float gam[64];
    for (int g = 0; g < B; g++) {
        double u = rin_rng_uniform(&rng), v = rin_rng_uniform(&rng);
        if (g >= e0 && g < e0 + b) {
            want[g - e0] = u < rate;
            gam[g - e0] = (float)rin_schedule_gamma(&sch, v);
            any |= want[g - e0];
        }
    }
    rin_pred_type pt;
    RIN_ASSERT(rin_pred_type_parse(&pt, pred, NULL, 0) == RIN_STATUS_OK);
    if (any) {
        rin_rng_discard(&rng, 2 * (uint64_t)e0 * per);
        float *eps = malloc(b * per * 4);
        for (size_t k = 0; k < b * per; k++)
            eps[k] = (float)rin_rng_normal(&rng);
        for (int i = 0; i < b; i++)
            for (size_t k = 0; k < per; k++) {
                double g = (double)gam[i];
                xt[i * per + k] = (float)(sqrt(g) * (double)frames[i * 2 * per + k] +
                                          sqrt(1 - g) * (double)eps[i * per + k]);
            }
        rin_ctx *ctx;
        RIN_ASSERT(rin_ctx_create(&ctx, m, b, RIN_CTX_INFER, NULL, 0) == RIN_STATUS_OK);
        rin_ctx_set_cond(ctx, cond0);
        rin_batch in = {.B = b, .x_t = xt, .gamma = gam, .example0 = (uint64_t)e0};
        CHECK(rin_forward(ctx, &in, out, NULL) == RIN_STATUS_OK);
        rin_diffusion_x0_eps(xh, NULL, out, xt, gam, b, per, pt, 1.0f);
        rin_ctx_free(ctx);
        free(eps);
    }
    int bad_cond = 0, bad_x0 = 0, bad_flag = 0, differs = 0;
    for (int i = 0; i < b; i++) {
        bad_flag += rolled[i] != want[i];
        *nrolled += want[i];
        for (int j = 0; j < Nc; j++) {
            int g = bf + j;
            const float *exp = g < Nc    ? cond0 + (i * Nc + g) * frame
                               : want[i] ? xh + i * per + (g - Nc) * frame
                                         : frames + i * 2 * per + (g - Nc) * frame;
            bad_cond += memcmp(cond + (i * Nc + j) * frame, exp, frame * 4) != 0;
            if (g >= Nc && want[i])
                differs += memcmp(exp, frames + i * 2 * per + (g - Nc) * frame, frame * 4) != 0;
        }
        bad_x0 += memcmp(x0 + i * per, frames + i * 2 * per + per, per * 4) != 0;
    }
    CHECK_MSG(!bad_cond && !bad_x0 && !bad_flag,
              "Nc %d bf %d %s rate %g rank %d/%d: %d conditioning frames, %d targets, %d flags "
              "differ from the hand-written roll-out",
              Nc, bf, pred, rate, rank, nranks, bad_cond, bad_x0, bad_flag);
    if (any) /* the prediction is not the truth it was made from */
        CHECK(differs > 0);
    /* the step that follows trains on them */
    if (nranks == 1) {
        rin_step_stats st;
        CHECK(rin_trainer_step(tr, x0, NULL, &st) == RIN_STATUS_OK && isfinite(st.loss));
    }
    rin_trainer_free(tr);
    rin_model_free(m);
    free(cond0), free(frames), free(cond), free(x0), free(xt), free(out), free(xh), free(rolled);
    free(gc), free(gf);
}

TEST(train_rollout_batch) {
    /* the conditioning of a roll-out training step: the last Nc frames of [first frames ; the
     * first block], that block the model's own x0_hat where drawn, bit for bit as by hand; for
     * a mixed (Nc 3, bf 1) and an all-predicted (Nc 2, bf 2) window, x0 and v targets, every
     * rate, and each rank of a 2-rank shard drawing what one process would */
    int n = 0;
    check_rollout(3, 1, "x0", 1.0, 4, 0, 1, &n);
    CHECK(n == 4);
    check_rollout(2, 2, "v", 1.0, 4, 0, 1, &n);
    n = 0;
    check_rollout(3, 1, "eps", 0.0, 4, 0, 1, &n);
    CHECK(n == 0);
    check_rollout(3, 1, "x0", 0.5, 16, 0, 1, &n);
    CHECK_MSG(n > 2 && n < 14, "%d of 16 clips rolled at rate 0.5", n);
    n = 0;
    check_rollout(3, 1, "x0", 0.5, 8, 0, 2, &n);
    check_rollout(3, 1, "x0", 0.5, 8, 1, 2, &n);
    CHECK(n > 0 && n < 8);

    /* errors: out of range, an image model */
    rin_train_config tc = train_config(4, 40);
    char err[512];
    CHECK(rin_train_config_set(&tc, "rollout_rate", "1.5", err, sizeof err) != RIN_STATUS_OK);
    CHECK_MSG(strstr(err, "rollout_rate") != NULL, "%s", err);
    CHECK(rin_train_config_set(&tc, "rollout_rate", "0.5", err, sizeof err) == RIN_STATUS_OK);
    rin_config ci = small_config();
    rin_model *mi;
    rin_trainer *tr;
    RIN_ASSERT(rin_model_create(&mi, &ci, NULL, 0) == RIN_STATUS_OK);
    CHECK(rin_trainer_create(&tr, mi, &tc, err, sizeof err) == RIN_STATUS_CONFIG);
    CHECK_MSG(strstr(err, "rollout_rate: 0.5") && strstr(err, "seq_len 0"), "%s", err);
    printf("  %s\n", err);
    rin_model_free(mi);
}
