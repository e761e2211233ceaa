/* test_model.c -- whole-model checks that need no fixture:
 *   - preset parameter counts (spec 1.9) and the init rules (spec 1.8);
 *   - per-element finite differences of every parameter, x_t and z_prev of a micro model
 *     (covers the time embedding, the class token and the self-conditioning path in place),
 *     also as video models (conditioning tokens, and rin's video_cond = channels);
 *   - T4: a directional derivative over the whole parameter buffer (KANN's criterion), on an
 *     image model and on a video_cond = channels model;
 *   - T5: 1 vs 2 threads (image and video_cond = channels, and per GEMM path), training-mode
 *     determinism by seed, inference == training forward;
 *   - the self-conditioning LN at zero scale makes z_prev irrelevant;
 *   - checkpoints: bitwise round trip and the messages for wrong files.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gemm.h"
#include "internal.h"
#include "parallel.h"
#include "profile.h"
#include "gradcheck.h"
#include "test.h"

/* ---- helpers ------------------------------------------------------------------------------- */

static void set_threads(int n) {
#ifdef _OPENMP
    omp_set_num_threads(n);
#endif
    (void)n; /* the GEMM libraries run on rin's threads (gemm.h): nothing to set for them */
}

typedef struct problem {
    rin_config c;
    rin_model *m;
    rin_ctx *ctx;
    int B;
    float *x, *gamma, *zprev, *R, *Rz; /* inputs and the loss weights */
    float *cond;                       /* video: conditioning frames */
    float *gamma_tok;                  /* token_gamma: per-slot levels (NULL: gamma) */
    int *labels;
    float *pred, *z, *dpred, *dz, *dx, *dzp;
    size_t npix, nz;
    int training;
    uint64_t seed;
} problem;

static void problem_init(problem *p, const rin_config *c, int B, uint64_t seed) {
    char err[256];
    memset(p, 0, sizeof *p);
    p->c = *c;
    p->B = B;
    p->seed = 77;
    RIN_ASSERT(rin_model_create(&p->m, c, err, sizeof err) == RIN_STATUS_OK);
    rin_model_init_params(p->m, seed);
    /* randomise every parameter so no gradient hides behind a zero or a one */
    float *w = rin_model_params(p->m);
    for (int t = 0; t < rin_model_num_tensors(p->m); t++) {
        const rin_tensor_info *ti = rin_model_tensor(p->m, t);
        float lim = ti->ndim == 2 ? 1.5f / sqrtf((float)ti->shape[1]) : 0.3f;
        test_fill_uniform(w + ti->offset, ti->numel, seed * 1000 + (unsigned)t, -lim, lim);
        if (strstr(ti->name, "ln_w"))
            for (size_t i = 0; i < ti->numel; i++)
                w[ti->offset + i] += 1.0f;
    }
    RIN_ASSERT(rin_ctx_create(&p->ctx, p->m, B, RIN_CTX_TRAIN, err, sizeof err) == RIN_STATUS_OK);
    p->npix = (size_t)B * rin_config_input_floats(c);
    p->cond = gc_uniform((size_t)B * rin_config_cond_floats(c) + 1, seed + 6, -1, 1);
    rin_ctx_set_cond(p->ctx, p->cond);
    p->nz = (size_t)B * c->L * c->D;
    size_t np = p->npix, nz = p->nz;
    p->x = malloc(np * 4), p->R = malloc(np * 4), p->pred = malloc(np * 4);
    p->dpred = malloc(np * 4), p->dx = malloc(np * 4);
    p->zprev = malloc(nz * 4), p->Rz = malloc(nz * 4), p->z = malloc(nz * 4);
    p->dz = malloc(nz * 4), p->dzp = malloc(nz * 4);
    p->gamma = malloc((size_t)B * 4);
    p->labels = malloc((size_t)B * sizeof(int));
    test_fill_uniform(p->x, np, seed + 1, -1, 1);
    test_fill_uniform(p->R, np, seed + 2, -1, 1);
    test_fill_uniform(p->zprev, nz, seed + 3, -1, 1);
    test_fill_uniform(p->Rz, nz, seed + 4, -0.5f, 0.5f);
    test_fill_uniform(p->gamma, (size_t)B, seed + 5, 0.05f, 0.95f);
    for (int b = 0; b < B; b++)
        p->labels[b] = c->num_classes > 0 ? (b % (c->num_classes + 1)) - 1 : 0;
}

static void problem_free(problem *p) {
    rin_ctx_free(p->ctx);
    rin_model_free(p->m);
    free(p->x), free(p->R), free(p->pred), free(p->dpred), free(p->dx), free(p->zprev);
    free(p->Rz), free(p->z), free(p->dz), free(p->dzp), free(p->gamma), free(p->labels);
    free(p->cond), free(p->gamma_tok);
}

static rin_batch problem_batch(const problem *p) {
    rin_batch in = {.B = p->B,
                    .x_t = p->x,
                    .gamma = p->gamma,
                    .labels = p->c.num_classes > 0 ? p->labels : NULL,
                    .z_prev = p->c.self_cond ? p->zprev : NULL,
                    .training = p->training,
                    .seed = p->seed,
                    .gamma_tok = p->gamma_tok};
    return in;
}

/* The scalar objective sum(pred R) + sum(z Rz), accumulated in double. */
static double problem_loss(problem *p) {
    rin_batch in = problem_batch(p);
    RIN_ASSERT(rin_forward(p->ctx, &in, p->pred, p->z) == RIN_STATUS_OK);
    double s = 0;
    for (size_t i = 0; i < p->npix; i++)
        s += (double)p->pred[i] * (double)p->R[i];
    for (size_t i = 0; i < p->nz; i++)
        s += (double)p->z[i] * (double)p->Rz[i];
    return s;
}

/* Gradients of problem_loss: parameters into the ctx, x_t into dx, z_prev into dzp. */
static void problem_grad(problem *p) {
    problem_loss(p);
    rin_ctx_zero_grad(p->ctx);
    RIN_ASSERT(rin_backward(p->ctx, p->R, p->Rz, p->dx, p->c.self_cond ? p->dzp : NULL) ==
               RIN_STATUS_OK);
}

static rin_config micro_config(void) {
    rin_config c;
    RIN_ASSERT(rin_config_preset(&c, "tiny", NULL, 0) == RIN_STATUS_OK);
    const char *sets[][2] = {
        {"image_height", "4"}, {"image_width", "6"},      {"image_channels", "1"},
        {"patch_size", "2"},   {"tape_dim", "8"},         {"latent_dim", "8"},
        {"latent_slots", "5"}, {"num_layers", "1,0"},     {"latent_num_heads", "2"},
        {"rw_num_heads", "2"}, {"latent_mlp_ratio", "2"}, {"tape_mlp_ratio", "1"},
        {"num_classes", "3"}};
    for (size_t i = 0; i < sizeof sets / sizeof sets[0]; i++)
        RIN_ASSERT(rin_config_set(&c, sets[i][0], sets[i][1], NULL, 0) == RIN_STATUS_OK);
    return c;
}

/* The micro model as a video model: 4 x 4 frames, no classes, T frames of which Nc condition,
 * s = 2, one block; extra: more {key, value} settings, n_extra of them. */
static rin_config micro_video_config(const char *T, const char *Nc, const char *const (*extra)[2],
                                     size_t n_extra) {
    rin_config c = micro_config();
    const char *sets[][2] = {{"image_height", "4"}, {"image_width", "4"}, {"num_classes", "0"},
                             {"seq_len", T},        {"seq_stride", "2"},  {"cond_frames", Nc},
                             {"num_layers", "1"}};
    for (size_t i = 0; i < sizeof sets / sizeof sets[0]; i++)
        RIN_ASSERT(rin_config_set(&c, sets[i][0], sets[i][1], NULL, 0) == RIN_STATUS_OK);
    for (size_t i = 0; i < n_extra; i++)
        RIN_ASSERT(rin_config_set(&c, extra[i][0], extra[i][1], NULL, 0) == RIN_STATUS_OK);
    return c;
}

/* ---- parameter counts and initialisation ----------------------------------------------------- */

TEST(model_preset_param_counts) {
    struct {
        const char *name;
        size_t want;
    } cases[] = {{"cifar10", 30951180}, {"imagenet64", 157780160}};
    for (size_t i = 0; i < 2; i++) {
        rin_config c;
        CHECK(rin_config_preset(&c, cases[i].name, NULL, 0) == RIN_STATUS_OK);
        CHECK(rin_config_validate(&c, NULL, 0) == RIN_STATUS_OK);
        size_t n = rin_config_num_params(&c);
        printf("  %s: %zu parameters (spec: %zu)\n", cases[i].name, n, cases[i].want);
        CHECK(n == cases[i].want);
    }
    /* the spec's CIFAR-10 breakdown, part by part */
    rin_config c;
    rin_model *m;
    rin_config_preset(&c, "cifar10", NULL, 0);
    CHECK(rin_model_create(&m, &c, NULL, 0) == RIN_STATUS_OK);
    size_t read0 = 0, proc00 = 0, write0 = 0, sc = 0;
    for (int t = 0; t < rin_model_num_tensors(m); t++) {
        const rin_tensor_info *ti = rin_model_tensor(m, t);
        if (!strncmp(ti->name, "blocks.0.read_", 14))
            read0 += ti->numel;
        if (!strncmp(ti->name, "blocks.0.process.0.", 19))
            proc00 += ti->numel;
        if (!strncmp(ti->name, "blocks.0.write_", 15))
            write0 += ti->numel;
        if (!strncmp(ti->name, "sc_", 3))
            sc += ti->numel;
    }
    CHECK(read0 == 2496256);
    CHECK(proc00 == 3152384);
    CHECK(write0 == 658176);
    CHECK(sc == 2101760);
    CHECK(rin_model_find_tensor(m, "latent_pos")->shape[0] == 126);
    rin_model_free(m);
    /* every other preset validates and has a sane size */
    for (const char *const *p = rin_config_preset_names(); *p; p++) {
        CHECK(rin_config_preset(&c, *p, NULL, 0) == RIN_STATUS_OK);
        CHECK(rin_config_validate(&c, NULL, 0) == RIN_STATUS_OK);
        printf("  preset %-10s %zu parameters\n", *p, rin_config_num_params(&c));
    }
}

TEST(model_init_rules) {
    rin_config c;
    rin_model *m;
    rin_config_preset(&c, "cifar10", NULL, 0);
    CHECK(rin_model_create(&m, &c, NULL, 0) == RIN_STATUS_OK);
    rin_model_init_params(m, 5);
    const float *w = rin_model_params(m);
    struct {
        const char *name;
        double limit; /* uniform bound; 0 = exact constant */
        double constant;
    } cases[] = {
        /* Keras MHA q kernel (512, 8, 32): sqrt(6 / (512 (8 + 32))) = 0.0171 (spec 1.8) */
        {"blocks.0.read_wq", 0.017116329, 0},
        /* output kernel (8, 32, 512): sqrt(6 / (8 (32 + 512))) */
        {"blocks.0.read_wo", 0.037131607, 0},
        /* latent self-attention q (512, 16, 32): sqrt(6 / (512 (16 + 32))) */
        {"blocks.0.process.0.attn_wq", 0.015625, 0},
        /* dense W1 (2048, 512): Glorot sqrt(6 / 2560) */
        {"blocks.0.process.0.mlp_w1", 0.048412292, 0},
        /* stem conv (2, 2, 3, 256): fan_in 12, fan_out 1024 */
        {"stem_w", 0.076102, 0},
        {"blocks.1.write_ln_w", 0, 1.0},
        {"blocks.1.write_ln_b", 0, 0.0},
        {"sc_ln_w", 0, 0.0}, /* LN_zero: zero scale (spec 1.4) */
        {"sc_ln_b", 0, 0.0},
        {"out_b", 0, 0.0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const rin_tensor_info *ti = rin_model_find_tensor(m, cases[i].name);
        CHECK_MSG(ti != NULL, "tensor %s missing", cases[i].name);
        if (!ti)
            continue;
        const float *x = w + ti->offset;
        double mx = 0, s2 = 0;
        int all_const = 1;
        for (size_t k = 0; k < ti->numel; k++) {
            mx = fabs((double)x[k]) > mx ? fabs((double)x[k]) : mx;
            s2 += (double)x[k] * (double)x[k];
            all_const &= x[k] == (float)cases[i].constant;
        }
        double sd = sqrt(s2 / (double)ti->numel);
        if (cases[i].limit > 0) {
            /* U(-a, a): max close to a, std a/sqrt(3) */
            printf("  %-28s max %.6f (limit %.6f) std %.6f (want %.6f)\n", cases[i].name, mx,
                   cases[i].limit, sd, cases[i].limit / sqrt(3.0));
            CHECK(mx <= cases[i].limit * (1 + 1e-6) && mx > 0.99 * cases[i].limit);
            CHECK_CLOSE(sd, cases[i].limit / sqrt(3.0), 0, 0.02);
        } else {
            CHECK_MSG(all_const, "%s not all %g", cases[i].name, cases[i].constant);
        }
    }
    /* truncated normal std 0.02 cut at 2 std: |x| <= 0.04, std = 0.02 * 0.8796 */
    const rin_tensor_info *tp = rin_model_find_tensor(m, "tape_pos");
    double mx = 0, s2 = 0;
    for (size_t k = 0; k < tp->numel; k++) {
        mx = fabs((double)w[tp->offset + k]) > mx ? fabs((double)w[tp->offset + k]) : mx;
        s2 += (double)w[tp->offset + k] * (double)w[tp->offset + k];
    }
    printf("  tape_pos max %.5f std %.5f (want <= 0.04, 0.01759)\n", mx, sqrt(s2 / tp->numel));
    CHECK(mx <= 0.04 && mx > 0.039);
    CHECK_CLOSE(sqrt(s2 / (double)tp->numel), 0.02 * 0.879597, 0, 0.02);
    /* deterministic by seed, different across seeds */
    rin_model *m2;
    CHECK(rin_model_create(&m2, &c, NULL, 0) == RIN_STATUS_OK);
    rin_model_init_params(m2, 5);
    CHECK(!memcmp(rin_model_params(m2), w, rin_model_buffer_floats(m) * 4));
    rin_model_init_params(m2, 6);
    CHECK(memcmp(rin_model_params(m2), w, rin_model_buffer_floats(m) * 4) != 0);
    rin_model_free(m2);
    rin_model_free(m);
}

/* ---- finite differences --------------------------------------------------------------------- */

/* 4-point central difference of the loss along element x[i] (float32, step h). */
static double fd4(problem *p, float *x, double h) {
    float x0 = *x;
    *x = (float)((double)x0 + 2 * h);
    double f2 = problem_loss(p);
    *x = (float)((double)x0 + h);
    double f1 = problem_loss(p);
    *x = (float)((double)x0 - h);
    double fm1 = problem_loss(p);
    *x = (float)((double)x0 - 2 * h);
    double fm2 = problem_loss(p);
    *x = x0;
    return (-f2 + 8 * f1 - 8 * fm1 + fm2) / (12 * h);
}

/* Checks every element of x (n) against g; returns the number of failures. */
static int fd_check(problem *p, const char *what, float *x, const float *g, size_t n,
                    double *worst) {
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        double fd = fd4(p, x + i, 1e-2);
        double err = fabs(fd - (double)g[i]);
        if (!isfinite(g[i]) || !(err <= 1e-3 + 1e-2 * fabs(fd))) {
            if (bad < 3)
                printf("    %s[%zu]: analytic %.7g, finite difference %.7g\n", what, i,
                       (double)g[i], fd);
            bad++;
        }
        double rel = err / (1e-3 + fabs(fd));
        if (rel > *worst)
            *worst = rel;
    }
    return bad;
}

static void fd_whole_model(problem *p) {
    problem_grad(p);
    size_t nf = rin_model_buffer_floats(p->m);
    float *g = malloc(nf * 4), *dx = malloc(p->npix * 4), *dzp = malloc(p->nz * 4);
    memcpy(g, rin_ctx_grads(p->ctx), nf * 4);
    memcpy(dx, p->dx, p->npix * 4);
    memcpy(dzp, p->dzp, p->nz * 4);
    float *w = rin_model_params(p->m);
    int bad = 0, checked = 0;
    /* thousands of tiny forwards: one thread avoids OpenMP spin-wait stalls on a busy
     * machine; results do not depend on the thread count (model_threads_1_vs_2) */
    int threads = rin_max_threads();
    set_threads(1);
    for (int t = 0; t < rin_model_num_tensors(p->m); t++) {
        const rin_tensor_info *ti = rin_model_tensor(p->m, t);
        double worst = 0;
        int b = fd_check(p, ti->name, w + ti->offset, g + ti->offset, ti->numel, &worst);
        checked += (int)ti->numel;
        if (b)
            printf("  %-34s %d of %zu elements off\n", ti->name, b, ti->numel);
        bad += b;
    }
    double wx = 0, wz = 0;
    bad += fd_check(p, "x_t", p->x, dx, p->npix, &wx);
    if (p->c.self_cond)
        bad += fd_check(p, "z_prev", p->zprev, dzp, p->nz, &wz);
    set_threads(threads);
    printf("  %d parameter elements + x_t (%zu) + z_prev (%zu) checked; %d off; worst "
           "|fd - an| / (1e-3 + |fd|) on x_t %.2e, z_prev %.2e\n",
           checked, p->npix, p->c.self_cond ? p->nz : 0, bad, wx, wz);
    CHECK(bad == 0);
    free(g), free(dx), free(dzp);
}

TEST(model_fd_every_element) {
    rin_config c = micro_config();
    problem p;
    problem_init(&p, &c, 3, 11);
    printf("  micro model: %zu parameters, blocks 1,0, classes 3, self-conditioning on\n",
           rin_config_num_params(&c));
    fd_whole_model(&p);
    problem_free(&p);
}

TEST(model_fd_training_mode) {
    /* dropout and drop-path masks are a function of the seed, so with a fixed seed the
     * training-mode network is an ordinary smooth function of its parameters */
    rin_config c = micro_config();
    rin_config_set(&c, "num_layers", "2", NULL, 0);
    rin_config_set(&c, "drop_units", "0.3", NULL, 0);
    rin_config_set(&c, "drop_path", "0.4", NULL, 0);
    problem p;
    problem_init(&p, &c, 4, 12);
    p.training = 1;
    fd_whole_model(&p);
    problem_free(&p);
}

TEST(model_fd_readonly_tokens) {
    rin_config c = micro_config();
    rin_config_set(&c, "time_on_latent", "0", NULL, 0);
    rin_config_set(&c, "cond_on_latent", "0", NULL, 0);
    rin_config_set(&c, "self_cond", "none", NULL, 0);
    rin_config_set(&c, "latent_slots", "3", NULL, 0);
    problem p;
    problem_init(&p, &c, 2, 13);
    fd_whole_model(&p);
    problem_free(&p);
}

TEST(model_fd_video) {
    /* spec 6: 3-D patches with time padding on both clip parts (3 noisy frames and 3
     * conditioning frames, s = 2: one padding frame each), conditioning tokens after the noisy
     * ones, the readout cropped to the predicted frames */
    rin_config c = micro_video_config("6", "3", NULL, 0);
    problem p;
    problem_init(&p, &c, 2, 14);
    printf("  micro video model: %d tokens (%d noisy), %zu parameters\n", rin_config_num_tokens(&c),
           p.m->dims.nx, rin_config_num_params(&c));
    CHECK(rin_config_num_tokens(&c) == 16 && p.m->dims.nx == 8 && p.m->dims.P == 8);
    fd_whole_model(&p);
    /* the conditioning frames matter, and the prediction ignores nothing of x_t */
    float *pred0 = malloc(p.npix * 4);
    problem_loss(&p);
    memcpy(pred0, p.pred, p.npix * 4);
    p.cond[7] += 0.5f;
    problem_loss(&p);
    CHECK(memcmp(pred0, p.pred, p.npix * 4) != 0);
    free(pred0);
    problem_free(&p);
}

/* Channels mode with k = 2 of 3 clean frames: the last k reach the prediction; frame 0 does not
 * (example 0's pixel 5 of each frame nudged in turn). */
static void check_last_clean_frames(problem *p, const rin_config *c) {
    size_t frame = (size_t)c->H * c->W * c->C;
    float *pred0 = malloc(p->npix * 4);
    problem_loss(p);
    memcpy(pred0, p->pred, p->npix * 4);
    for (int f = 0; f < 3; f++) {
        p->cond[(size_t)f * frame + 5] += 0.5f;
        problem_loss(p);
        int same = !memcmp(pred0, p->pred, p->npix * 4);
        CHECK_MSG(f == 0 ? same : !same, "clean frame %d %s", f, f == 0 ? "was used" : "ignored");
        p->cond[(size_t)f * frame + 5] -= 0.5f;
    }
    free(pred0);
}

TEST(model_fd_video_channels) {
    /* video_cond = channels (rin's, docs/video.md): 3 noisy frames (s = 2: one padding frame)
     * whose every pixel also carries the last k = 2 of 3 clean frames, through a stem 3x as
     * wide; no conditioning tokens. Every stem_w column (the clean frames' included) and x_t by
     * finite differences. */
    const char *const extra[][2] = {{"video_cond", "channels"}, {"video_cond_frames", "2"}};
    rin_config c = micro_video_config("6", "3", extra, 2);
    problem p;
    problem_init(&p, &c, 2, 17);
    printf("  micro video model, channels k=2: %d tokens (%d noisy), stem input %d, %zu "
           "parameters\n",
           rin_config_num_tokens(&c), p.m->dims.nx, p.m->dims.Pin, rin_config_num_params(&c));
    CHECK(rin_config_num_tokens(&c) == 8 && p.m->dims.nx == 8 && p.m->dims.P == 8 &&
          p.m->dims.Pin == 24);
    fd_whole_model(&p);
    check_last_clean_frames(&p, &c);
    problem_free(&p);
}

TEST(model_fd_video_halo) {
    /* video_cond_halo = 1 (rin's, docs/video.md): model_fd_video_channels' clean frames as
     * (p + 2) x (p + 2) windows around each patch, zero past the 4 x 4 frame. Every stem_w column
     * (the windows' included) and x_t by finite differences. */
    const char *const extra[][2] = {
        {"video_cond", "channels"}, {"video_cond_frames", "2"}, {"video_cond_halo", "1"}};
    rin_config c = micro_video_config("6", "3", extra, 3);
    problem p;
    problem_init(&p, &c, 2, 18);
    int w = c.patch + 2;
    printf("  micro video model, channels k=2, halo 1: %d tokens, stem input %d, %zu parameters\n",
           rin_config_num_tokens(&c), p.m->dims.Pin, rin_config_num_params(&c));
    CHECK(rin_config_num_tokens(&c) == 8 && p.m->dims.P == 8 &&
          p.m->dims.Pin == 8 + 2 * w * w * c.C);
    fd_whole_model(&p);
    check_last_clean_frames(&p, &c); /* through the windows */
    problem_free(&p);
}

TEST(model_fd_token_gamma) {
    /* token_gamma (rin's, docs/video.md): every interface token gets time_tape_w @ code(gamma)
     * of its time slot. Video with conditioning tokens (gamma = 1) and a level per noisy slot
     * (3 noisy frames, s = 2: 2 slots), then an image model (the example's gamma): every
     * parameter element, time_tape_w included, and x_t by finite differences. */
    const char *const extra[][2] = {{"token_gamma", "1"}};
    rin_config c = micro_video_config("6", "3", extra, 1);
    problem p;
    problem_init(&p, &c, 2, 18);
    CHECK(p.m->dims.ns == 2 && p.m->dims.ng == 3 && p.m->dims.grid == 4);
    CHECK(rin_model_find_tensor(p.m, "time_tape_w") != NULL);
    p.gamma_tok = malloc(4 * sizeof(float));
    const float gt[4] = {0.9f, 0.2f, 0.35f, 0.6f};
    memcpy(p.gamma_tok, gt, sizeof gt);
    fd_whole_model(&p);
    /* each slot's level reaches the prediction; NULL means the example's gamma everywhere */
    float *pred0 = malloc(p.npix * 4), *pred1 = malloc(p.npix * 4);
    problem_loss(&p);
    memcpy(pred0, p.pred, p.npix * 4);
    p.gamma_tok[1] = 0.5f;
    problem_loss(&p);
    CHECK(memcmp(pred0, p.pred, p.npix * 4) != 0);
    for (int b = 0; b < 2; b++)
        p.gamma_tok[2 * b] = p.gamma_tok[2 * b + 1] = p.gamma[b];
    problem_loss(&p);
    memcpy(pred1, p.pred, p.npix * 4);
    free(p.gamma_tok);
    p.gamma_tok = NULL;
    problem_loss(&p);
    CHECK(memcmp(pred1, p.pred, p.npix * 4) == 0);
    free(pred0), free(pred1);
    problem_free(&p);

    c = micro_config();
    rin_config_set(&c, "token_gamma", "1", NULL, 0);
    problem_init(&p, &c, 3, 19);
    CHECK(p.m->dims.ns == 1 && p.m->dims.ng == 1);
    fd_whole_model(&p);
    problem_free(&p);
}

TEST(model_token_gamma_off_is_the_spec_model) {
    /* token_gamma = 1 with time_tape_w = 0 (its initialisation) computes exactly the model
     * without it; and the key adds only time_tape_w (E x dt) */
    const char *const extra[][2] = {{"token_gamma", "1"}};
    rin_config c1 = micro_video_config("6", "3", extra, 1),
               c0 = micro_video_config("6", "3", NULL, 0);
    problem p0, p1;
    problem_init(&p0, &c0, 2, 20);
    problem_init(&p1, &c1, 2, 20);
    CHECK(rin_config_num_params(&c1) == rin_config_num_params(&c0) + (size_t)c0.E * (c0.D / 4));
    const rin_tensor_info *tw = rin_model_find_tensor(p1.m, "time_tape_w");
    CHECK(tw && tw->shape[0] == c1.E && tw->shape[1] == c1.D / 4);
    for (int t = 0; t < rin_model_num_tensors(p0.m); t++) {
        const rin_tensor_info *a = rin_model_tensor(p0.m, t);
        const rin_tensor_info *b = rin_model_find_tensor(p1.m, a->name);
        memcpy(rin_model_params(p1.m) + b->offset, rin_model_params(p0.m) + a->offset,
               a->numel * 4);
    }
    memset(rin_model_params(p1.m) + tw->offset, 0, tw->numel * 4);
    problem_loss(&p0);
    problem_loss(&p1);
    CHECK(memcmp(p0.pred, p1.pred, p0.npix * 4) == 0);
    CHECK(memcmp(p0.z, p1.z, p0.nz * 4) == 0);
    /* a fresh model initialises it to zero */
    rin_model_init_params(p1.m, 3);
    for (size_t i = 0; i < tw->numel; i++)
        CHECK(rin_model_params(p1.m)[tw->offset + i] == 0.0f);
    problem_free(&p0);
    problem_free(&p1);
}

/* ---- tape_pos_encoding = sin_cos_plus_learned (spec 1.1 step 4) ---------------------------- */

/* The official 2-D code written out: for patch row r of R and column q of Q, with
 * y = 1000 r/(R-1), x = 1000 q/(Q-1) and w_j = 10000^(-4j/E): features [0, E/4) are sin(y w_j),
 * [E/4, E/2) cos(y w_j), [E/2, 3E/4) sin(x w_j), [3E/4, E) cos(x w_j). */
static double pos_code_2d(int r, int R, int q, int Q, int E, int f) {
    int half = f / (E / 2), k = f % (E / 2), j = k % (E / 4);
    double coord = half ? 1000.0 * q / (Q - 1) : 1000.0 * r / (R - 1);
    double a = coord * pow(10000.0, -4.0 * j / E);
    return k < E / 4 ? sin(a) : cos(a);
}

TEST(tape_pos_codes_are_the_official_sin_cos) {
    rin_config c = micro_config(); /* 4 x 6 image, 2 x 2 patches: a 2 x 3 grid */
    CHECK(rin_config_set(&c, "tape_dim", "16", NULL, 0) == RIN_STATUS_OK);
    CHECK(rin_config_set(&c, "tape_pos_encoding", "sin_cos_plus_learned", NULL, 0) ==
          RIN_STATUS_OK);
    float codes[6 * 16];
    rin_tape_pos_codes(codes, &c);
    double worst = 0;
    for (int g = 0; g < 6; g++)
        for (int f = 0; f < 16; f++)
            worst = fmax(worst,
                         fabs((double)codes[g * 16 + f] - pos_code_2d(g / 3, 2, g % 3, 3, 16, f)));
    CHECK_MSG(worst < 1e-6, "worst difference %g", worst);
    /* by hand: the last row (y = 1000) has sin(1000) first and cos(1000) at E/4 */
    CHECK(fabs((double)codes[3 * 16 + 0] - 0.8268795405) < 1e-6);
    CHECK(fabs((double)codes[3 * 16 + 4] - 0.5623790763) < 1e-6);
    CHECK(codes[0] == 0.0f && codes[4] == 1.0f && codes[8] == 0.0f && codes[12] == 1.0f);

    /* a one-row grid: one 1-D code over the E features */
    CHECK(rin_config_set(&c, "image_height", "2", NULL, 0) == RIN_STATUS_OK);
    rin_tape_pos_codes(codes, &c);
    for (int g = 0; g < 3; g++)
        for (int f = 0; f < 16; f++) {
            double a = 1000.0 * g / 2 * pow(10000.0, -2.0 * (f % 8) / 16);
            CHECK(fabs((double)codes[g * 16 + f] - (f < 8 ? sin(a) : cos(a))) < 1e-6);
        }

    /* video: every time slot, the conditioning frames' included, repeats the spatial codes */
    const char *const extra[][2] = {{"tape_pos_encoding", "sin_cos_plus_learned"}};
    rin_config v = micro_video_config("6", "3", extra, 1);
    int n = rin_config_num_tokens(&v);
    float *vc = malloc((size_t)n * 8 * sizeof *vc);
    rin_tape_pos_codes(vc, &v);
    CHECK(n == 16);
    for (int t = 0; t < n / 4; t++)
        for (int k = 0; k < 4 * 8; k++)
            CHECK(vc[t * 32 + k] == vc[k]);
    CHECK(fabs((double)vc[3 * 8 + 0] - pos_code_2d(1, 2, 1, 2, 8, 0)) < 1e-6);
    free(vc);
}

/* One coordinate's code over dim features written out: sines of x 10000^(-2j/dim) for
 * j < dim/2, then the cosines. */
static double code_1d(double x, int dim, int f) {
    int half = dim / 2, j = f % half;
    double a = x * pow(10000.0, -2.0 * j / dim);
    return f < half ? sin(a) : cos(a);
}

/* sin_cos_3d_plus_learned: [time | row | column] codes, the time being each slot's first clip
 * frame, so the conditioning slots and every noisy slot have codes of their own. */
TEST(tape_pos_codes_space_time) {
    /* T = 6, Nc = 3, s = 2: noisy slots start at frames 3 and 5, conditioning slots at 0 and 2;
     * a 2 x 2 grid; E = 16: 4 time features, 6 row, 6 column */
    const char *const extra[][2] = {{"tape_dim", "16"},
                                    {"tape_pos_encoding", "sin_cos_3d_plus_learned"}};
    rin_config v = micro_video_config("6", "3", extra, 2);
    char err[256];
    CHECK(rin_config_validate(&v, err, sizeof err) == RIN_STATUS_OK);
    CHECK(rin_config_num_tokens(&v) == 16);
    float codes[16 * 16];
    rin_tape_pos_codes(codes, &v);
    const int frame[4] = {3, 5, 0, 2};
    double worst = 0;
    for (int u = 0; u < 4; u++)
        for (int g = 0; g < 4; g++)
            for (int f = 0; f < 16; f++) {
                double want = f < 4    ? code_1d(1000.0 * frame[u] / 5, 4, f)
                              : f < 10 ? code_1d(1000.0 * (g / 2), 6, f - 4)
                                       : code_1d(1000.0 * (g % 2), 6, f - 10);
                worst = fmax(worst, fabs((double)codes[(u * 4 + g) * 16 + f] - want));
            }
    CHECK_MSG(worst < 1e-6, "worst difference %g", worst);
    /* by hand: frame 5 of 6 is time 1000, sin(1000) = 0.8268795405; frame 0 is sin 0, cos 1 */
    CHECK(fabs((double)codes[1 * 4 * 16] - 0.8268795405) < 1e-6);
    CHECK(codes[2 * 4 * 16] == 0.0f && codes[2 * 4 * 16 + 2] == 1.0f);
    /* the same place in two slots differs only in the time features */
    for (int f = 4; f < 16; f++)
        CHECK(codes[(0 * 4 + 3) * 16 + f] == codes[(2 * 4 + 3) * 16 + f]);
    /* the name round-trips; images and widths that do not split are refused */
    char buf[4096];
    rin_config_format(&v, buf, sizeof buf);
    CHECK(strstr(buf, "tape_pos_encoding=sin_cos_3d_plus_learned\n") != NULL);
    rin_config b = v;
    b.E = 24;
    CHECK(rin_config_validate(&b, err, sizeof err) == RIN_STATUS_CONFIG);
    CHECK_MSG(strstr(err, "divisible by 16") != NULL, "%s", err);
    b = micro_config();
    b.E = 16;
    b.tape_pos_encoding = 2;
    CHECK(rin_config_validate(&b, err, sizeof err) == RIN_STATUS_CONFIG);
    CHECK_MSG(strstr(err, "video") != NULL, "%s", err);
}

/* The fixed codes enter the forward pass exactly as a learned table holding them would: a
 * sin_cos_plus_learned model equals a 'learned' model whose tape_pos = codes + residual, in the
 * outputs and in every gradient (the codes are constants); the residual starts at zero. */
TEST(tape_pos_sin_cos_plus_learned_forward_and_backward) {
    rin_config c = micro_config();
    CHECK(rin_config_set(&c, "tape_pos_encoding", "sin_cos_plus_learned", NULL, 0) ==
          RIN_STATUS_OK);
    problem p, q;
    problem_init(&p, &c, 2, 15);
    const rin_tensor_info *tp = rin_model_find_tensor(p.m, "tape_pos");
    RIN_ASSERT(tp);
    rin_model_init_params(p.m, 3);
    float *w = rin_model_params(p.m);
    for (size_t i = 0; i < tp->numel; i++)
        CHECK(w[tp->offset + i] == 0.0f);
    for (size_t i = 0; i < tp->numel; i++) /* a residual that is not zero */
        w[tp->offset + i] = 0.01f * (float)((i * 7) % 13) - 0.06f;
    rin_config l = c;
    l.tape_pos_encoding = 0;
    problem_init(&q, &l, 2, 15);
    float *u = rin_model_params(q.m);
    memcpy(u, w, rin_model_buffer_floats(p.m) * sizeof *u);
    int n = rin_config_num_tokens(&c);
    float *codes = malloc((size_t)n * c.E * sizeof *codes);
    rin_tape_pos_codes(codes, &c);
    for (size_t i = 0; i < tp->numel; i++)
        u[tp->offset + i] += codes[i];
    problem_grad(&p);
    problem_grad(&q);
    tensor_err e = tensor_compare_f32(p.pred, q.pred, p.npix, 1e-6, 1e-5);
    CHECK(e.n_bad == 0);
    e = tensor_compare_f32(rin_ctx_grads(p.ctx), rin_ctx_grads(q.ctx), rin_model_buffer_floats(p.m),
                           1e-6, 1e-5);
    CHECK(e.n_bad == 0);
    /* and the positions matter: without the codes the output changes */
    for (size_t i = 0; i < tp->numel; i++)
        u[tp->offset + i] -= codes[i];
    problem_loss(&q);
    CHECK(memcmp(p.pred, q.pred, p.npix * sizeof(float)) != 0);
    free(codes);
    problem_free(&p);
    problem_free(&q);
}

TEST(model_fd_video_sin_cos_positions) {
    const char *const extra[][2] = {{"tape_pos_encoding", "sin_cos_plus_learned"}};
    rin_config c = micro_video_config("5", "2", extra, 1);
    problem p;
    problem_init(&p, &c, 2, 16);
    fd_whole_model(&p);
    problem_free(&p);
}

/* T4: g.delta vs (L(w + h delta) - L(w - h delta)) / 2h over the whole buffer. */
static void directional_check(const rin_config *c, int B, uint64_t seed) {
    problem p;
    problem_init(&p, c, B, seed);
    problem_grad(&p);
    size_t nf = rin_model_buffer_floats(p.m);
    float *w = rin_model_params(p.m), *w0 = malloc(nf * 4), *delta = malloc(nf * 4);
    memcpy(w0, w, nf * 4);
    test_fill_uniform(delta, nf, 99, -1, 1);
    const float *g = rin_ctx_grads(p.ctx);
    double gd = 0;
    for (size_t i = 0; i < nf; i++)
        gd += (double)g[i] * (double)delta[i];
    double hs[] = {1e-2, 3e-3, 1e-3};
    double fd[3];
    for (int k = 0; k < 3; k++) {
        for (size_t i = 0; i < nf; i++)
            w[i] = (float)((double)w0[i] + hs[k] * (double)delta[i]);
        double fp = problem_loss(&p);
        for (size_t i = 0; i < nf; i++)
            w[i] = (float)((double)w0[i] - hs[k] * (double)delta[i]);
        double fm = problem_loss(&p);
        fd[k] = (fp - fm) / (2 * hs[k]);
    }
    memcpy(w, w0, nf * 4);
    /* KANN: the O(h^2) curvature error estimated from two step sizes calibrates the bound */
    double curv = fabs(fd[0] - fd[1]);
    double rel = fabs(fd[1] - gd) / fabs(gd);
    printf("  g.delta = %.8g; central differences h=1e-2: %.8g, 3e-3: %.8g, 1e-3: %.8g; "
           "rel. error at 3e-3: %.2e (curvature estimate %.2e)\n",
           gd, fd[0], fd[1], fd[2], rel, curv / fabs(gd));
    CHECK(!(rel > 1e-2 && fabs(fd[1] - gd) > curv));
    CHECK(rel < 1e-2);
    free(w0), free(delta);
    problem_free(&p);
}

TEST(model_directional_derivative) {
    rin_config c;
    rin_config_preset(&c, "tiny", NULL, 0);
    rin_config_set(&c, "num_layers", "2,0,1", NULL, 0);
    directional_check(&c, 3, 21);
}

TEST(model_directional_derivative_video_channels) {
    /* video_cond = channels with the preset's space-time positions, k = 2 of 3 clean frames,
     * s = 2 (padding), two blocks */
    const char *const extra[][2] = {{"video_cond", "channels"},
                                    {"video_cond_frames", "2"},
                                    {"tape_dim", "16"},
                                    {"tape_pos_encoding", "sin_cos_3d_plus_learned"},
                                    {"num_layers", "1,2"}};
    rin_config c = micro_video_config("8", "3", extra, 5);
    directional_check(&c, 3, 22);
}

/* ---- determinism and modes ------------------------------------------------------------------- */

static void threads_check_prec(const rin_config *c, int B, uint64_t seed, rin_precision prec) {
    problem p;
    problem_init(&p, c, B, seed);
    rin_ctx_set_precision(p.ctx, prec);
    p.training = 1;
    size_t nf = rin_model_buffer_floats(p.m);
    float *g1 = malloc(nf * 4), *pred1 = malloc(p.npix * 4), *z1 = malloc(p.nz * 4);
    float *dx1 = malloc(p.npix * 4);
    set_threads(1);
    problem_grad(&p);
    memcpy(g1, rin_ctx_grads(p.ctx), nf * 4);
    memcpy(pred1, p.pred, p.npix * 4);
    memcpy(z1, p.z, p.nz * 4);
    memcpy(dx1, p.dx, p.npix * 4);
    set_threads(2);
    problem_grad(&p);
    int same_pred = !memcmp(pred1, p.pred, p.npix * 4), same_z = !memcmp(z1, p.z, p.nz * 4);
    int same_g = !memcmp(g1, rin_ctx_grads(p.ctx), nf * 4);
    int same_dx = !memcmp(dx1, p.dx, p.npix * 4);
#ifdef RIN_BLAS
    char path[256];
    rin_gemm_describe(path, sizeof path);
    printf("  GEMM path: %s\n", path);
#endif
    printf("  bitwise equal with 1 and 2 threads: pred %d, latents %d, gradients %d, dx %d\n",
           same_pred, same_z, same_g, same_dx);
    /* our own loops own their outputs and sum in a fixed order, and rin_sgemm cuts products
     * into the same tiles whatever the thread count: bitwise, with and without BLAS */
    CHECK(same_pred && same_z && same_g && same_dx);
    free(g1), free(pred1), free(z1), free(dx1);
    problem_free(&p);
}

static void threads_check(const rin_config *c, int B, uint64_t seed) {
    threads_check_prec(c, B, seed, RIN_PRECISION_FP32);
}

TEST(model_threads_1_vs_2) {
    rin_config c;
    rin_config_preset(&c, "tiny", NULL, 0);
    rin_config_set(&c, "drop_units", "0.1", NULL, 0);
    rin_config_set(&c, "drop_path", "0.2", NULL, 0);
    rin_config_set(&c, "num_layers", "2,1", NULL, 0);
    threads_check(&c, 5, 31);
}

TEST(model_threads_1_vs_2_video_channels) {
    rin_config c;
    rin_config_preset(&c, "video", NULL, 0);
    const char *sets[][2] = {
        {"image_height", "16"},     {"image_width", "16"},     {"seq_len", "7"},
        {"cond_frames", "3"},       {"seq_stride", "2"},       {"tape_dim", "32"},
        {"latent_dim", "32"},       {"latent_slots", "6"},     {"drop_path", "0.2"},
        {"video_cond", "channels"}, {"video_cond_frames", "2"}};
    for (size_t i = 0; i < sizeof sets / sizeof sets[0]; i++)
        CHECK(rin_config_set(&c, sets[i][0], sets[i][1], NULL, 0) == RIN_STATUS_OK);
    threads_check(&c, 5, 32);
    /* and with a 3-pixel halo (14 x 14 windows around the 8 x 8 patches) */
    CHECK(rin_config_set(&c, "video_cond_halo", "3", NULL, 0) == RIN_STATUS_OK);
    threads_check(&c, 5, 33);
}

/* T5 per GEMM path: the tiny model, and one whose layers are large enough for rin_sgemm to cut
 * their products into several tiles (2048 token rows of width 64, MLP 256 wide). */
static void threads_check_path(rin_gemm_path path) {
#ifdef RIN_BLAS
    char why[256];
    if (rin_gemm_force(path, why, sizeof why)) {
        char msg[320];
        snprintf(msg, sizeof msg, "GEMM path %s: %s", rin_gemm_path_name(path), why);
        test_skip(msg);
        return;
    }
    rin_config c;
    rin_config_preset(&c, "tiny", NULL, 0);
    rin_config_set(&c, "drop_units", "0.1", NULL, 0);
    rin_config_set(&c, "drop_path", "0.2", NULL, 0);
    rin_config_set(&c, "num_layers", "2,1", NULL, 0);
    threads_check(&c, 5, 31);
    const char *sets[][2] = {{"image_height", "32"},  {"image_width", "32"}, {"patch_size", "2"},
                             {"tape_dim", "64"},      {"latent_dim", "64"},  {"latent_slots", "16"},
                             {"tape_mlp_ratio", "4"}, {"num_layers", "1"}};
    for (size_t i = 0; i < sizeof sets / sizeof sets[0]; i++)
        CHECK(rin_config_set(&c, sets[i][0], sets[i][1], NULL, 0) == RIN_STATUS_OK);
    int tm, tn;
    rin_gemm_tiles(8 * 256, 256, 64, &tm, &tn);
    printf("  the 32x32 model's MLP product (2048 x 256 x 64) runs as %d x %d tiles\n", tm, tn);
    CHECK(tm * tn > 1);
    threads_check(&c, 8, 33);
    rin_gemm_reset();
#else
    (void)path;
    test_skip("built with BLAS=none: no GEMM library, the naive loops (model_threads_1_vs_2)");
#endif
}

TEST(model_threads_1_vs_2_gemm_openblas) {
    threads_check_path(RIN_GEMM_OPENBLAS);
}

TEST(model_threads_1_vs_2_gemm_dnnl) {
    threads_check_path(RIN_GEMM_DNNL);
}

/* ---- bf16 precision ------------------------------------------------------------------------- */

/* The tiny model with two process layers, and one whose products are large enough to be cut
 * into several tiles (the 32x32 model of threads_check_path). */
static rin_config bf16_config(int big) {
    rin_config c;
    rin_config_preset(&c, "tiny", NULL, 0);
    rin_config_set(&c, "drop_units", "0.1", NULL, 0);
    rin_config_set(&c, "drop_path", "0.2", NULL, 0);
    rin_config_set(&c, "num_layers", "2,1", NULL, 0);
    if (big) {
        const char *sets[][2] = {
            {"image_height", "32"}, {"image_width", "32"},   {"patch_size", "2"},
            {"tape_dim", "64"},     {"latent_dim", "64"},    {"latent_slots", "16"},
            {"num_layers", "1"},    {"tape_mlp_ratio", "4"}, {"latent_mlp_ratio", "4"}};
        for (size_t i = 0; i < sizeof sets / sizeof sets[0]; i++)
            RIN_ASSERT(rin_config_set(&c, sets[i][0], sets[i][1], NULL, 0) == RIN_STATUS_OK);
    }
    return c;
}

/* bf16 products through both of rin_gemm_bf16's paths (its AVX512_BF16 kernel where the CPU has
 * it, the rounded operands through rin_sgemm otherwise): bitwise equal with 1 and 2 threads. */
TEST(model_threads_1_vs_2_bf16) {
    for (int native = 1; native >= 0; native--) {
        if (native && !rin_gemm_bf16_native()) {
            test_skip("this CPU has no AVX512_BF16: rin_gemm_bf16's kernel is not run (its "
                      "emulated path is checked below)");
            continue;
        }
        int was = rin_gemm_bf16_set_native(native);
        printf("  bf16 path: %s\n", native ? "AVX512_BF16 kernel" : "rounded operands, rin_sgemm");
        for (int big = 0; big < 2; big++) {
            rin_config c = bf16_config(big);
            threads_check_prec(&c, big ? 8 : 5, 31u + (unsigned)big, RIN_PRECISION_BF16);
        }
        rin_gemm_bf16_set_native(was);
    }
}

/* The bf16 model against the fp32 one on the same inputs: every output and gradient within the
 * bf16 tolerance (relative L2 error below 2^-5, about 8 of bf16's rounding steps 2^-8 through
 * the depth of the model), and not equal to it (the products were rounded). */
static void bf16_vs_fp32_case(const rin_config *c, int B, uint64_t seed, const char *what) {
    problem p;
    problem_init(&p, c, B, seed);
    p.training = 1;
    size_t nf = rin_model_buffer_floats(p.m);
    float *g32 = malloc(nf * 4), *pred32 = malloc(p.npix * 4), *z32 = malloc(p.nz * 4);
    float *dx32 = malloc(p.npix * 4);
    problem_grad(&p);
    memcpy(g32, rin_ctx_grads(p.ctx), nf * 4);
    memcpy(pred32, p.pred, p.npix * 4);
    memcpy(z32, p.z, p.nz * 4);
    memcpy(dx32, p.dx, p.npix * 4);
    rin_ctx_set_precision(p.ctx, RIN_PRECISION_BF16);
    problem_grad(&p);
    double tol = 1.0 / 32;
    double e[4] = {gc_rel_l2(p.pred, pred32, p.npix), gc_rel_l2(p.z, z32, p.nz),
                   gc_rel_l2(rin_ctx_grads(p.ctx), g32, nf), gc_rel_l2(p.dx, dx32, p.npix)};
    /* the worst single tensor of the parameter gradient; not the key biases, whose exact
     * gradient is 0 (adding q.bk to a whole row of logits leaves the softmax unchanged), so
     * that what both precisions compute there is rounding noise */
    double worst = 0;
    const char *worst_name = "";
    for (int t = 0; t < rin_model_num_tensors(p.m); t++) {
        const rin_tensor_info *ti = rin_model_tensor(p.m, t);
        size_t len = strlen(ti->name);
        if (len >= 3 && !strcmp(ti->name + len - 3, "_bk"))
            continue;
        double r = gc_rel_l2(rin_ctx_grads(p.ctx) + ti->offset, g32 + ti->offset, ti->numel);
        if (r > worst)
            worst = r, worst_name = ti->name;
    }
    printf("  %s: bf16 vs fp32 relative L2: pred %.2e, latents %.2e, gradients %.2e (worst "
           "tensor %s %.2e), dx %.2e (tolerance %.2e)\n",
           what, e[0], e[1], e[2], worst_name, worst, e[3], tol);
    for (int i = 0; i < 4; i++)
        CHECK(e[i] < tol && e[i] > 1e-6);
    CHECK(worst < 4 * tol);
    rin_ctx_set_precision(p.ctx, RIN_PRECISION_FP32);
    problem_grad(&p);
    CHECK(!memcmp(p.pred, pred32, p.npix * 4)); /* and back: fp32 is fp32 again */
    free(g32), free(pred32), free(z32), free(dx32);
    problem_free(&p);
}

TEST(model_bf16_close_to_fp32) {
    for (int big = 0; big < 2; big++) {
        rin_config c = bf16_config(big);
        rin_config_set(&c, "drop_units", "0", NULL, 0);
        rin_config_set(&c, "drop_path", "0", NULL, 0);
        bf16_vs_fp32_case(&c, big ? 4 : 5, 41u + (unsigned)big, big ? "32x32 model" : "tiny");
    }
}

TEST(model_seed_determinism) {
    rin_config c;
    rin_config_preset(&c, "tiny", NULL, 0);
    rin_config_set(&c, "drop_units", "0.2", NULL, 0);
    rin_config_set(&c, "drop_path", "0.3", NULL, 0);
    problem p;
    problem_init(&p, &c, 4, 41);
    p.training = 1;
    float *a = malloc(p.npix * 4);
    problem_loss(&p);
    memcpy(a, p.pred, p.npix * 4);
    problem_loss(&p);
    CHECK(!memcmp(a, p.pred, p.npix * 4)); /* same seed: same result */
    p.seed = 78;
    problem_loss(&p);
    CHECK(memcmp(a, p.pred, p.npix * 4) != 0); /* another seed: other masks */
    p.training = 0;
    problem_loss(&p);
    memcpy(a, p.pred, p.npix * 4);
    p.seed = 79;
    problem_loss(&p);
    CHECK(!memcmp(a, p.pred, p.npix * 4)); /* inference ignores the seed */
    free(a);
    problem_free(&p);
}

TEST(model_infer_ctx_matches_train_ctx) {
    /* the inference arena aliases sub-layer buffers and ping-pongs the streams; its outputs
     * must equal the training arena's bit for bit */
    const char *layers[] = {"2,0,1", "0,3", "1"};
    for (int k = 0; k < 3; k++) {
        rin_config c;
        rin_config_preset(&c, "tiny", NULL, 0);
        rin_config_set(&c, "num_layers", layers[k], NULL, 0);
        if (k == 1) {
            rin_config_set(&c, "time_on_latent", "0", NULL, 0);
            rin_config_set(&c, "cond_on_latent", "0", NULL, 0);
        }
        problem p;
        problem_init(&p, &c, 3, 51 + (unsigned)k);
        problem_loss(&p);
        rin_ctx *ictx;
        CHECK(rin_ctx_create(&ictx, p.m, 3, RIN_CTX_INFER, NULL, 0) == RIN_STATUS_OK);
        float *pred = malloc(p.npix * 4), *z = malloc(p.nz * 4);
        rin_batch in = problem_batch(&p);
        CHECK(rin_forward(ictx, &in, pred, z) == RIN_STATUS_OK);
        CHECK(!memcmp(pred, p.pred, p.npix * 4));
        CHECK(!memcmp(z, p.z, p.nz * 4));
        printf("  num_layers %s: inference arena %.1f KB vs training %.1f KB, outputs equal\n",
               layers[k], rin_ctx_bytes(ictx) / 1024.0, rin_ctx_bytes(p.ctx) / 1024.0);
        /* a smaller batch in the same ctx */
        in.B = 1;
        CHECK(rin_forward(ictx, &in, pred, z) == RIN_STATUS_OK);
        /* BLAS blocks a GEMM by its row count, so a batch of 1 rounds differently: T0 bounds */
        tensor_err e = tensor_compare_f32(pred, p.pred, p.npix / 3, 1e-5, 1e-4);
        CHECK(e.n_bad == 0);
        free(pred), free(z);
        rin_ctx_free(ictx);
        problem_free(&p);
    }
}

TEST(model_self_cond_zero_scale_ignores_zprev) {
    /* freshly initialised: LN_zero has scale 0 and shift 0, so z_prev cannot matter */
    rin_config c;
    rin_config_preset(&c, "tiny", NULL, 0);
    rin_model *m;
    rin_ctx *ctx;
    CHECK(rin_model_create(&m, &c, NULL, 0) == RIN_STATUS_OK);
    rin_model_init_params(m, 3);
    CHECK(rin_ctx_create(&ctx, m, 2, RIN_CTX_INFER, NULL, 0) == RIN_STATUS_OK);
    size_t np = 2 * 8 * 8 * 3, nz = 2 * 8 * 32;
    float x[2 * 8 * 8 * 3], zp[2 * 8 * 32], a[2 * 8 * 8 * 3], b[2 * 8 * 8 * 3];
    float za[2 * 8 * 32], zb[2 * 8 * 32], gam[2] = {0.3f, 0.8f};
    int labels[2] = {1, 7};
    test_fill_uniform(x, np, 1, -1, 1);
    test_fill_uniform(zp, nz, 2, -3, 3);
    rin_batch in = {.B = 2, .x_t = x, .gamma = gam, .labels = labels, .z_prev = NULL};
    CHECK(rin_forward(ctx, &in, a, za) == RIN_STATUS_OK);
    in.z_prev = zp;
    CHECK(rin_forward(ctx, &in, b, zb) == RIN_STATUS_OK);
    CHECK(!memcmp(a, b, sizeof a) && !memcmp(za, zb, sizeof za));
    /* with a non-zero scale it does matter */
    float *w = rin_model_params(m);
    const rin_tensor_info *t = rin_model_find_tensor(m, "sc_ln_w");
    for (size_t i = 0; i < t->numel; i++)
        w[t->offset + i] = 0.5f;
    CHECK(rin_forward(ctx, &in, b, zb) == RIN_STATUS_OK);
    CHECK(memcmp(a, b, sizeof a) != 0);
    rin_ctx_free(ctx);
    rin_model_free(m);
}

TEST(model_bad_batch_arguments) {
    rin_config c;
    rin_config_preset(&c, "tiny", NULL, 0);
    problem p;
    problem_init(&p, &c, 2, 61);
    rin_batch in = problem_batch(&p);
    in.B = 3; /* more than max_batch */
    CHECK(rin_forward(p.ctx, &in, p.pred, p.z) == RIN_STATUS_ARG);
    in = problem_batch(&p);
    in.labels = NULL; /* the model has classes */
    CHECK(rin_forward(p.ctx, &in, p.pred, p.z) == RIN_STATUS_ARG);
    in = problem_batch(&p);
    p.labels[1] = 10; /* out of range */
    CHECK(rin_forward(p.ctx, &in, p.pred, p.z) == RIN_STATUS_ARG);
    rin_ctx *ictx;
    CHECK(rin_ctx_create(&ictx, p.m, 2, RIN_CTX_INFER, NULL, 0) == RIN_STATUS_OK);
    CHECK(rin_backward(ictx, p.R, NULL, NULL, NULL) == RIN_STATUS_ARG); /* no backward there */
    rin_ctx_free(ictx);
    problem_free(&p);
}

/* ---- config ------------------------------------------------------------------------------- */

TEST(config_rejects_impossible) {
    struct {
        const char *key, *value, *msg;
    } cases[] = {
        {"patch_size", "3", "patch_size: 3 does not divide the image 8x8"},
        {"rw_num_heads", "5", "rw_num_heads: 5 does not divide"},
        {"latent_num_heads", "3", "latent_num_heads: 3 does not divide latent_dim 32"},
        {"latent_slots", "2", "latent_slots: 2 leaves no learned latent"},
        {"latent_dim", "36", "latent_dim: 36 must be a multiple of 8"},
        {"image_channels", "2", "image_channels: 2 is not supported"},
        {"tape_dim", "30", "tape_pos_encoding: sin_cos_plus_learned needs tape_dim divisible by 4"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        rin_config c;
        char err[256] = "";
        rin_config_preset(&c, "tiny", NULL, 0);
        c.tape_pos_encoding = 1; /* no other case depends on it */
        CHECK(rin_config_set(&c, cases[i].key, cases[i].value, err, sizeof err) == RIN_STATUS_OK);
        CHECK(rin_config_validate(&c, err, sizeof err) == RIN_STATUS_CONFIG);
        CHECK_MSG(strstr(err, cases[i].msg), "message '%s' lacks '%s'", err, cases[i].msg);
    }
    struct {
        const char *key, *value, *msg;
    } bad_set[] = {
        {"tape_dimension", "8", "unknown config key 'tape_dimension'"},
        {"drop_path", "1.5", "drop_path: 1.5 is out of range [0, 1)"},
        {"num_layers", "2,,2", "num_layers: '2,,2' is not a comma-separated list"},
        {"num_layers", "2,x", "num_layers: 'x' is not an integer"},
        {"latent_dim", "-4", "latent_dim: -4 is out of range"},
        {"time_on_latent", "yes", "time_on_latent: 'yes' is not a boolean"},
        {"self_cond", "tape", "self_cond: 'tape' is not supported"},
        {"tape_pos_encoding", "sin_cos", "tape_pos_encoding: 'sin_cos' is not supported"},
    };
    for (size_t i = 0; i < sizeof bad_set / sizeof bad_set[0]; i++) {
        rin_config c;
        char err[256] = "";
        rin_config_preset(&c, "tiny", NULL, 0);
        CHECK(rin_config_set(&c, bad_set[i].key, bad_set[i].value, err, sizeof err) ==
              RIN_STATUS_CONFIG);
        CHECK_MSG(strstr(err, bad_set[i].msg), "message '%s' lacks '%s'", err, bad_set[i].msg);
    }
    char err[256];
    rin_config c;
    CHECK(rin_config_preset(&c, "cifar100", err, sizeof err) == RIN_STATUS_CONFIG);
    CHECK(strstr(err, "unknown preset 'cifar100'") != NULL);
}

TEST(config_text_round_trip) {
    rin_config c, d;
    rin_config_preset(&c, "cifar10", NULL, 0);
    c.tape_pos_encoding = 1;
    memset(&d, 0, sizeof d);
    for (int i = 0; i < rin_config_num_keys(); i++) {
        char v[256];
        rin_config_get(&c, i, v, sizeof v);
        CHECK(rin_config_set(&d, rin_config_key(i), v, NULL, 0) == RIN_STATUS_OK);
    }
    CHECK(!memcmp(&c, &d, sizeof c));
    char v[64];
    rin_config_get(&c, 12, v, sizeof v); /* drop_units */
    CHECK(!strcmp(v, "0.1"));
}

/* ---- checkpoints ------------------------------------------------------------------------- */

static void tmp_path(char *buf, size_t len, const char *name) {
    snprintf(buf, len, "/tmp/rin_test_%d_%s", (int)getpid(), name);
}

TEST(checkpoint_round_trip) {
    rin_config c;
    rin_config_preset(&c, "tiny", NULL, 0);
    rin_config_set(&c, "num_layers", "2,0", NULL, 0);
    rin_config_set(&c, "tape_pos_encoding", "sin_cos_plus_learned", NULL, 0);
    rin_model *m, *m2;
    char path[256], err[512];
    tmp_path(path, sizeof path, "ckpt.safetensors");
    CHECK(rin_model_create(&m, &c, NULL, 0) == RIN_STATUS_OK);
    rin_model_init_params(m, 8);
    const char *meta[] = {"note", "hello", NULL};
    CHECK(rin_model_save(m, path, meta, err, sizeof err) == RIN_STATUS_OK);
    CHECK(rin_model_load(&m2, path, err, sizeof err) == RIN_STATUS_OK);
    CHECK(!memcmp(rin_model_config(m), rin_model_config(m2), sizeof c));
    CHECK(rin_model_buffer_floats(m) == rin_model_buffer_floats(m2));
    CHECK(!memcmp(rin_model_params(m), rin_model_params(m2), rin_model_buffer_floats(m) * 4));
    rin_st_file *f;
    CHECK(rin_st_read(&f, path, err, sizeof err) == RIN_STATUS_OK);
    CHECK(!strcmp(rin_st_meta(f, "format"), "rin-checkpoint"));
    CHECK(!strcmp(rin_st_meta(f, "num_layers"), "2,0"));
    CHECK(!strcmp(rin_st_meta(f, "tape_pos_encoding"), "sin_cos_plus_learned"));
    CHECK(!strcmp(rin_st_meta(f, "note"), "hello"));
    CHECK(f->ntensors == rin_model_num_tensors(m));
    rin_st_free(f);
    rin_model_free(m2);
    rin_model_free(m);
    unlink(path);
}

/* Writes a checkpoint of `c`, then rewrites it with one tensor changed by `mutate`. */
static void write_variant(const char *path, int variant) {
    rin_config c;
    rin_config_preset(&c, "tiny", NULL, 0);
    rin_model *m;
    RIN_ASSERT(rin_model_create(&m, &c, NULL, 0) == RIN_STATUS_OK);
    rin_st_writer *w = rin_st_writer_new();
    char(*names)[96] = calloc((size_t)rin_model_num_tensors(m), sizeof *names);
    RIN_ASSERT(rin_model_add_config_meta(&c, w) == RIN_STATUS_OK);
    static float extra[64];
    static double d64[32 * 32];
    for (int t = 0; t < rin_model_num_tensors(m); t++) {
        const rin_tensor_info *ti = rin_model_tensor(m, t);
        int64_t shape[2] = {ti->shape[0], ti->shape[1]};
        const float *data = rin_model_params(m) + ti->offset;
        snprintf(names[t], 96, "%s", ti->name);
        if (!strcmp(ti->name, "blocks.0.read_wq")) {
            if (variant == 0)
                continue; /* missing */
            if (variant == 1)
                shape[1] = 16; /* wrong shape: (32,32) -> (32,16) */
            if (variant == 2) {
                rin_st_writer_add(w, names[t], RIN_DTYPE_F64, 2, shape, d64);
                continue;
            }
        }
        rin_st_writer_add(w, names[t], RIN_DTYPE_F32, ti->ndim, shape, data);
    }
    if (variant == 3)
        rin_st_writer_add(w, "blocks.9.read_wq", RIN_DTYPE_F32, 1, (int64_t[]){4}, extra);
    RIN_ASSERT(rin_st_writer_save(w, path, NULL, 0) == RIN_STATUS_OK);
    rin_st_writer_free(w);
    free(names);
    rin_model_free(m);
}

TEST(checkpoint_rejects_mismatches) {
    const char *want[] = {
        "tensor blocks.0.read_wq is missing",
        "tensor blocks.0.read_wq: expected shape (32,32), file has (32,16)",
        "tensor blocks.0.read_wq: expected dtype F32, file has F64",
        "tensor blocks.9.read_wq is not a parameter of this configuration",
    };
    char path[256], err[512];
    tmp_path(path, sizeof path, "bad.safetensors");
    for (int v = 0; v < 4; v++) {
        write_variant(path, v);
        rin_model *m = (rin_model *)1;
        err[0] = 0;
        CHECK(rin_model_load(&m, path, err, sizeof err) == RIN_STATUS_FORMAT);
        CHECK(m == NULL);
        CHECK_MSG(strstr(err, want[v]) && strstr(err, path), "variant %d: '%s'", v, err);
        printf("  variant %d: %s\n", v, err);
    }
    /* a config key missing from the metadata */
    rin_st_writer *w = rin_st_writer_new();
    rin_st_writer_meta(w, "format", "rin-checkpoint");
    CHECK(rin_st_writer_save(w, path, NULL, 0) == RIN_STATUS_OK);
    rin_st_writer_free(w);
    rin_model *m;
    CHECK(rin_model_load(&m, path, err, sizeof err) == RIN_STATUS_FORMAT);
    CHECK_MSG(strstr(err, "lacks the config key 'image_height'"), "%s", err);
    /* a file that is not there */
    CHECK(rin_model_load(&m, "/nonexistent/x.safetensors", err, sizeof err) == RIN_STATUS_IO);
    unlink(path);
}

/* rin_config_flops (an analytic formula) against the FLOPs the linear and attention ops
 * actually report to the profiler during one forward pass, for configs that exercise every
 * term: classes on the latents, read-only tokens, a K=0 block (no write), no write MLP,
 * self-conditioning on and off, non-square images. */
TEST(model_flops_match_the_ops) {
    static const char *const variants[][2] = {
        {"num_layers", "2,0"},   {"time_on_latent", "0"}, {"cond_on_latent", "0"},
        {"tape_mlp_ratio", "0"}, {"self_cond", "none"},   {"image_width", "12"},
    };
    int nv = (int)(sizeof variants / sizeof variants[0]);
    /* v == nv: the video preset (3-D patches, cond frames); nv + 1: the same with
     * video_cond = channels, k = 2 (a wider stem, no conditioning tokens); nv + 2: the video
     * preset with token_gamma (the per-slot embeddings) */
    for (int v = -1; v <= nv + 2; v++) {
        rin_config c;
        rin_config_preset(&c, v >= nv ? "video" : "tiny", NULL, 0);
        if (v >= 0 && v < nv)
            CHECK(rin_config_set(&c, variants[v][0], variants[v][1], NULL, 0) == RIN_STATUS_OK);
        if (v == nv + 1) {
            CHECK(rin_config_set(&c, "video_cond_frames", "2", NULL, 0) == RIN_STATUS_OK);
            CHECK(rin_config_set(&c, "video_cond", "channels", NULL, 0) == RIN_STATUS_OK);
        }
        if (v == nv + 2)
            CHECK(rin_config_set(&c, "token_gamma", "1", NULL, 0) == RIN_STATUS_OK);
        rin_model *m;
        rin_ctx *ctx;
        CHECK(rin_model_create(&m, &c, NULL, 0) == RIN_STATUS_OK);
        rin_model_init_params(m, 1);
        const int B = 3;
        CHECK(rin_ctx_create(&ctx, m, B, RIN_CTX_INFER, NULL, 0) == RIN_STATUS_OK);
        size_t np = (size_t)B * rin_config_input_floats(&c);
        float *x = calloc(np, sizeof *x), *pred = calloc(np, sizeof *pred);
        float *cond = calloc((size_t)B * rin_config_cond_floats(&c) + 1, sizeof *cond);
        if (c.cond_frames > 0)
            rin_ctx_set_cond(ctx, cond);
        float gam[3] = {0.2f, 0.5f, 0.9f};
        int lab[3] = {0, 1, -1};
        rin_batch in = {.B = B, .x_t = x, .gamma = gam, .labels = c.num_classes ? lab : NULL};
        rin_profile_enable(1);
        CHECK(rin_forward(ctx, &in, pred, NULL) == RIN_STATUS_OK);
        double ops =
            rin_profile_get(RIN_PROF_LINEAR_FWD)->flops + rin_profile_get(RIN_PROF_ATTN_FWD)->flops;
        rin_profile_enable(0);
        double want = B * rin_config_flops(&c);
        printf("  %s%s%s: %.0f FLOPs per example (formula) vs %.0f (ops)\n",
               v > nv + 1 ? "video token_gamma"
               : v > nv   ? "video channels"
               : v == nv  ? "video"
                          : "tiny",
               v >= 0 && v < nv ? " " : "", v >= 0 && v < nv ? variants[v][0] : "", want / B,
               ops / B);
        CHECK_MSG(ops == want, "variant %d: ops report %.0f, rin_config_flops says %.0f", v, ops,
                  want);
        free(x), free(pred), free(cond);
        rin_ctx_free(ctx);
        rin_model_free(m);
    }
    /* the CIFAR-10 preset by hand (multiply-adds, n 256, E 256, D 512, L 128, A 256):
     * a block reads 352,321,536, processes 2 x 419,430,400 and writes 150,994,944; three
     * blocks, stem and readout 2 x 786,432, time MLP 327,680, class 5,120: 4,028,437,504, i.e.
     * 8.06 GFLOP (the "8.1 GFLOP/forward" of issue 4), plus the self-conditioning MLP over
     * 128 latents, 2 x 128 x 512 x 2048 multiply-adds, 0.54 GFLOP more */
    rin_config c;
    rin_config_preset(&c, "cifar10", NULL, 0);
    double sc = 2.0 * 2.0 * 128 * 512 * 2048;
    CHECK(rin_config_flops(&c) == 2.0 * 4028437504.0 + sc);
}

/* Writes m as a checkpoint from before the model keys whose names start with `skip` existed:
 * every other key in the metadata, every tensor. */
static void save_without_keys(rin_model *m, const rin_config *c, const char *skip,
                              const char *path) {
    char err[512];
    rin_st_writer *w = rin_st_writer_new();
    char(*names)[96] = calloc((size_t)rin_model_num_tensors(m), sizeof *names);
    CHECK(rin_st_writer_meta(w, "format", "rin-checkpoint") == RIN_STATUS_OK);
    for (int i = 0; i < rin_config_num_keys(); i++) {
        char v[256];
        if (!strncmp(rin_config_key(i), skip, strlen(skip)))
            continue;
        rin_config_get(c, i, v, sizeof v);
        CHECK(rin_st_writer_meta(w, rin_config_key(i), v) == RIN_STATUS_OK);
    }
    CHECK(rin_model_add_tensors(m, w, rin_model_params(m), "", names) == RIN_STATUS_OK);
    CHECK(rin_st_writer_save(w, path, err, sizeof err) == RIN_STATUS_OK);
    rin_st_writer_free(w);
    free(names);
}

TEST(checkpoint_video_cond_keys) {
    /* a video checkpoint written before video_cond existed (no video_cond keys in its
     * metadata) loads as the spec's tokens, bit for bit; a channels checkpoint round-trips */
    rin_config c;
    rin_config_preset(&c, "video", NULL, 0);
    rin_config_set(&c, "image_height", "16", NULL, 0);
    rin_config_set(&c, "image_width", "16", NULL, 0);
    rin_model *m, *m2;
    char path[256], err[512];
    tmp_path(path, sizeof path, "vcond.safetensors");
    CHECK(rin_model_create(&m, &c, NULL, 0) == RIN_STATUS_OK);
    rin_model_init_params(m, 9);
    save_without_keys(m, &c, "video_cond", path);
    CHECK(rin_model_load(&m2, path, err, sizeof err) == RIN_STATUS_OK);
    CHECK(rin_model_config(m2)->video_cond == 0 && rin_model_config(m2)->video_cond_frames == 0);
    CHECK(!memcmp(rin_model_config(m), rin_model_config(m2), sizeof c));
    CHECK(!memcmp(rin_model_params(m), rin_model_params(m2), rin_model_buffer_floats(m) * 4));
    rin_model_free(m2);
    rin_model_free(m);
    /* channels, k = 2: saved and loaded with its keys */
    rin_config_set(&c, "video_cond", "channels", NULL, 0);
    rin_config_set(&c, "video_cond_frames", "2", NULL, 0);
    CHECK(rin_model_create(&m, &c, NULL, 0) == RIN_STATUS_OK);
    rin_model_init_params(m, 10);
    CHECK(rin_model_save(m, path, NULL, err, sizeof err) == RIN_STATUS_OK);
    CHECK(rin_model_load(&m2, path, err, sizeof err) == RIN_STATUS_OK);
    CHECK(!memcmp(rin_model_config(m), rin_model_config(m2), sizeof c));
    CHECK(!memcmp(rin_model_params(m), rin_model_params(m2), rin_model_buffer_floats(m) * 4));
    rin_st_file *f;
    CHECK(rin_st_read(&f, path, err, sizeof err) == RIN_STATUS_OK);
    CHECK(!strcmp(rin_st_meta(f, "video_cond"), "channels"));
    CHECK(!strcmp(rin_st_meta(f, "video_cond_frames"), "2"));
    rin_st_free(f);
    rin_model_free(m2);
    rin_model_free(m);
    unlink(path);
}

TEST(checkpoint_token_gamma_key) {
    /* a checkpoint written before token_gamma existed (no key in its metadata) loads as
     * token_gamma = 0, bit for bit; a token_gamma checkpoint round-trips with time_tape_w; the
     * key's value is checked with a message naming it */
    rin_config c;
    rin_config_preset(&c, "video", NULL, 0);
    rin_config_set(&c, "image_height", "16", NULL, 0);
    rin_config_set(&c, "image_width", "16", NULL, 0);
    rin_model *m, *m2;
    char path[256], err[512];
    tmp_path(path, sizeof path, "tgamma.safetensors");
    CHECK(rin_model_create(&m, &c, NULL, 0) == RIN_STATUS_OK);
    rin_model_init_params(m, 9);
    save_without_keys(m, &c, "token_gamma", path);
    CHECK(rin_model_load(&m2, path, err, sizeof err) == RIN_STATUS_OK);
    CHECK(rin_model_config(m2)->token_gamma == 0);
    CHECK(!memcmp(rin_model_config(m), rin_model_config(m2), sizeof c));
    CHECK(rin_model_buffer_floats(m) == rin_model_buffer_floats(m2));
    CHECK(!memcmp(rin_model_params(m), rin_model_params(m2), rin_model_buffer_floats(m) * 4));
    rin_model_free(m2);
    rin_model_free(m);
    CHECK(rin_config_set(&c, "token_gamma", "2", err, sizeof err) == RIN_STATUS_CONFIG);
    CHECK_MSG(strstr(err, "token_gamma") && strstr(err, "'2'") && strstr(err, "expected"), "%s",
              err);
    CHECK(rin_config_set(&c, "token_gamma", "1", NULL, 0) == RIN_STATUS_OK);
    CHECK(rin_model_create(&m, &c, NULL, 0) == RIN_STATUS_OK);
    rin_model_init_params(m, 10);
    const rin_tensor_info *tw = rin_model_find_tensor(m, "time_tape_w");
    CHECK(tw != NULL);
    test_fill_uniform(rin_model_params(m) + tw->offset, tw->numel, 5, -1, 1);
    CHECK(rin_model_save(m, path, NULL, err, sizeof err) == RIN_STATUS_OK);
    CHECK(rin_model_load(&m2, path, err, sizeof err) == RIN_STATUS_OK);
    CHECK(!memcmp(rin_model_config(m), rin_model_config(m2), sizeof c));
    CHECK(!memcmp(rin_model_params(m), rin_model_params(m2), rin_model_buffer_floats(m) * 4));
    rin_st_file *f;
    CHECK(rin_st_read(&f, path, err, sizeof err) == RIN_STATUS_OK);
    CHECK(!strcmp(rin_st_meta(f, "token_gamma"), "1"));
    rin_st_free(f);
    rin_model_free(m2);
    rin_model_free(m);
    unlink(path);
}
