/* test_generator.c -- the embedding API (rin_generator_*, rin_generate): it makes the images
 * `rin sample` makes, says why it fails, and stops when asked, from the progress callback or
 * from another thread. Uses the shipped models/fmnist.safetensors and $RIN_CLI (build/rin).
 */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "imageio.h"
#include "rin.h"
#include "test.h"

static const char *const MODEL = "models/fmnist.safetensors";

static rin_generator *open_model(int max_batch) {
    char err[512];
    rin_generator_options o = {.weights = NULL, .max_batch = max_batch};
    rin_generator *g = NULL;
    rin_status s = rin_generator_open(&g, MODEL, &o, err, sizeof err);
    CHECK_MSG(s == RIN_STATUS_OK && g, "rin_generator_open: %s", err);
    return g;
}

TEST(generator_matches_rin_sample) {
    rin_generator *g = open_model(3); /* 5 images in batches of 3 and 2, as --batch 3 */
    if (!g)
        return;
    const rin_config *c = rin_generator_config(g);
    size_t per = rin_generator_image_floats(g);
    CHECK(per == (size_t)c->H * c->W * c->C && c->num_classes == 10);
    rin_generate_request r;
    rin_generate_request_default(&r);
    r.n = 5, r.sampler = "ddim", r.steps = 4, r.seed = 11, r.guidance = 0.5;
    float *px = malloc(5 * per * sizeof *px);
    rin_status s = rin_generate(g, &r, px);
    CHECK_MSG(s == RIN_STATUS_OK, "rin_generate: %s", rin_generator_last_error(g));
    CHECK(!strcmp(rin_generator_last_error(g), ""));
    int inside = 1;
    for (size_t k = 0; k < 5 * per; k++)
        inside &= px[k] >= 0 && px[k] <= 1;
    CHECK(inside);

    test_dir d = test_dir_make("gen");
    char cmd[1024], out[4096];
    snprintf(cmd, sizeof cmd,
             "%s sample --model %s --n 5 --batch 3 --sampler ddim --steps 4 --seed 11 "
             "--guidance 0.5 --out-dir %s/png",
             getenv("RIN_CLI") ? getenv("RIN_CLI") : "build/rin", MODEL, d.path);
    CHECK_MSG(test_shell(out, sizeof out, cmd) == 0, "%s", out);
    uint8_t *u8 = malloc(per);
    for (int i = 0; i < 5; i++) {
        char p[256], err[256];
        snprintf(p, sizeof p, "%s/png/sample_%05d.png", d.path, i);
        uint8_t *png = NULL;
        int H, W, C;
        if (rin_png_read(p, &png, &H, &W, &C, err, sizeof err)) {
            test_fail(__FILE__, __LINE__, "%s", err);
            continue;
        }
        CHECK(H == c->H && W == c->W && C == c->C);
        for (size_t k = 0; k < per; k++) /* [0, 1] back to rin sample's bytes */
            u8[k] = (uint8_t)lrintf(255.0f * px[(size_t)i * per + k]);
        CHECK_MSG(!memcmp(u8, png, per), "image %d differs from rin sample's", i);
        free(png);
    }
    free(u8);
    test_dir_remove(&d);

    /* the same request again: the same images; another seed: others */
    float *again = malloc(5 * per * sizeof *again);
    CHECK(rin_generate(g, &r, again) == RIN_STATUS_OK);
    CHECK(!memcmp(px, again, 5 * per * sizeof *px));
    r.seed = 12;
    CHECK(rin_generate(g, &r, again) == RIN_STATUS_OK);
    CHECK(memcmp(px, again, per * sizeof *px) != 0);
    free(again);
    free(px);
    rin_generator_close(g);
}

TEST(generator_errors_say_why) {
    char err[512] = "";
    rin_generator *g = (rin_generator *)1;
    CHECK(rin_generator_open(&g, "/nonexistent/m.safetensors", NULL, err, sizeof err) ==
          RIN_STATUS_IO);
    CHECK(g == NULL);
    CHECK_MSG(strstr(err, "/nonexistent/m.safetensors") != NULL, "%s", err);
    rin_generator_options o = {.weights = "best"};
    CHECK(rin_generator_open(&g, MODEL, &o, err, sizeof err) == RIN_STATUS_ARG);
    CHECK_MSG(strstr(err, "best") != NULL, "%s", err);

    g = open_model(2);
    if (!g)
        return;
    float px[2 * 28 * 28];
    rin_generate_request r;
    rin_generate_request_default(&r);
    r.n = 2, r.steps = 2;
    r.sampler = "dpm++9m";
    CHECK(rin_generate(g, &r, px) == RIN_STATUS_CONFIG);
    CHECK_MSG(strstr(rin_generator_last_error(g), "dpm++9m") != NULL, "%s",
              rin_generator_last_error(g));
    r.sampler = NULL;
    int labels[2] = {3, 10};
    r.labels = labels;
    CHECK(rin_generate(g, &r, px) == RIN_STATUS_ARG);
    CHECK_MSG(strstr(rin_generator_last_error(g), "labels[1] = 10") != NULL, "%s",
              rin_generator_last_error(g));
    r.labels = NULL;
    r.n = 0;
    CHECK(rin_generate(g, &r, px) == RIN_STATUS_ARG);
    CHECK(strstr(rin_generator_last_error(g), "n 0") != NULL);
    r.n = 2;
    CHECK(rin_generate(g, &r, px) == RIN_STATUS_OK); /* and the generator still works */
    CHECK(!strcmp(rin_generator_last_error(g), ""));
    rin_generator_close(g);
}

/* A progress callback that stops after `stop_at` steps and records what it saw. */
typedef struct progress_log {
    int stop_at, calls, last_done, last_total, monotonic;
} progress_log;

static int on_progress(void *user, int done, int total) {
    progress_log *p = user;
    p->monotonic &= done == p->last_done + 1;
    p->calls++, p->last_done = done, p->last_total = total;
    return p->stop_at && done >= p->stop_at;
}

TEST(generator_progress_and_stop) {
    rin_generator *g = open_model(2);
    if (!g)
        return;
    size_t per = rin_generator_image_floats(g);
    float *px = malloc(5 * per * sizeof *px);
    rin_generate_request r;
    rin_generate_request_default(&r);
    r.n = 5, r.sampler = "euler", r.steps = 3, r.progress = on_progress;
    progress_log all = {.monotonic = 1};
    r.user = &all;
    CHECK(rin_generate(g, &r, px) == RIN_STATUS_OK);
    /* 3 batches (2, 2, 1) of 3 steps */
    CHECK_MSG(all.calls == 9 && all.last_done == 9 && all.last_total == 9 && all.monotonic,
              "%d calls, last %d of %d", all.calls, all.last_done, all.last_total);

    progress_log stop = {.stop_at = 4, .monotonic = 1};
    r.user = &stop;
    rin_status s = rin_generate(g, &r, px);
    CHECK(s == RIN_STATUS_CANCELLED);
    /* step 4 is the second batch's first: its second network call is refused */
    CHECK_MSG(stop.calls == 4, "%d steps ran after the stop", stop.calls - 4);
    CHECK_MSG(strstr(rin_generator_last_error(g), "stopped") != NULL, "%s",
              rin_generator_last_error(g));
    /* a stop at a batch's last step: the next batch does not start */
    stop = (progress_log){.stop_at = 3, .monotonic = 1};
    CHECK(rin_generate(g, &r, px) == RIN_STATUS_CANCELLED && stop.calls == 3);
    CHECK(strstr(rin_generator_last_error(g), "after 2 of 5 images") != NULL);
    /* the next request runs whole */
    all = (progress_log){.monotonic = 1};
    r.user = &all;
    CHECK(rin_generate(g, &r, px) == RIN_STATUS_OK && all.calls == 9);
    free(px);
    rin_generator_close(g);
}

/* rin_generator_cancel from another thread: the callback of step 1 hands over to the thread and
 * waits until it has called cancel, so the refusal of the next call is certain. */
typedef struct canceller {
    rin_generator *g;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int go, cancelled, steps;
} canceller;

static void *cancel_thread(void *arg) {
    canceller *c = arg;
    pthread_mutex_lock(&c->mu);
    while (!c->go)
        pthread_cond_wait(&c->cv, &c->mu);
    rin_generator_cancel(c->g);
    c->cancelled = 1;
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
    return NULL;
}

static int hand_over(void *user, int done, int total) {
    (void)total;
    canceller *c = user;
    c->steps = done;
    if (done == 1) {
        pthread_mutex_lock(&c->mu);
        c->go = 1;
        pthread_cond_broadcast(&c->cv);
        while (!c->cancelled)
            pthread_cond_wait(&c->cv, &c->mu);
        pthread_mutex_unlock(&c->mu);
    }
    return 0;
}

TEST(generator_cancel_from_another_thread) {
    rin_generator *g = open_model(4);
    if (!g)
        return;
    canceller c = {.g = g};
    pthread_mutex_init(&c.mu, NULL);
    pthread_cond_init(&c.cv, NULL);
    pthread_t th;
    CHECK(pthread_create(&th, NULL, cancel_thread, &c) == 0);
    size_t per = rin_generator_image_floats(g);
    float *px = malloc(4 * per * sizeof *px);
    rin_generate_request r;
    rin_generate_request_default(&r);
    r.n = 4, r.sampler = "ddim", r.steps = 6, r.progress = hand_over, r.user = &c;
    CHECK(rin_generate(g, &r, px) == RIN_STATUS_CANCELLED);
    CHECK_MSG(c.steps == 1, "%d steps ran", c.steps);
    pthread_join(th, NULL);
    pthread_mutex_destroy(&c.mu);
    pthread_cond_destroy(&c.cv);
    free(px);
    rin_generator_close(g);
}

TEST(forward_argument_errors_have_text) {
    char err[256];
    rin_config cfg;
    CHECK(rin_config_preset(&cfg, "tiny", err, sizeof err) == RIN_STATUS_OK);
    CHECK(rin_config_set(&cfg, "num_classes", "3", err, sizeof err) == RIN_STATUS_OK);
    rin_model *m;
    CHECK(rin_model_create(&m, &cfg, err, sizeof err) == RIN_STATUS_OK);
    rin_model_init_params(m, 1);
    rin_ctx *ctx;
    CHECK(rin_ctx_create(&ctx, m, 2, RIN_CTX_INFER, err, sizeof err) == RIN_STATUS_OK);
    size_t per = rin_config_input_floats(&cfg);
    float *x = calloc(2 * per, sizeof *x), *pred = malloc(2 * per * sizeof *pred);
    float gam[2] = {0.5f, 0.5f};
    int labels[2] = {1, 3};
    rin_batch in = {.B = 2, .x_t = x, .gamma = gam, .labels = labels};
    CHECK(rin_forward(ctx, &in, pred, NULL) == RIN_STATUS_ARG);
    CHECK_MSG(strstr(rin_ctx_last_error(ctx), "labels[1] = 3") != NULL, "%s",
              rin_ctx_last_error(ctx));
    in.B = 3;
    CHECK(rin_forward(ctx, &in, pred, NULL) == RIN_STATUS_ARG);
    CHECK(strstr(rin_ctx_last_error(ctx), "batch 3") != NULL);
    labels[1] = 2, in.B = 2;
    CHECK(rin_forward(ctx, &in, pred, NULL) == RIN_STATUS_OK);
    CHECK(!strcmp(rin_ctx_last_error(ctx), ""));
    float *d = calloc(2 * per, sizeof *d);
    CHECK(rin_backward(ctx, d, NULL, NULL, NULL) == RIN_STATUS_ARG);
    CHECK(strstr(rin_ctx_last_error(ctx), "RIN_CTX_INFER") != NULL);
    free(d), free(x), free(pred);
    rin_ctx_free(ctx);
    rin_model_free(m);
    CHECK(!strcmp(rin_status_str(RIN_STATUS_CANCELLED), "cancelled"));
    CHECK(!strcmp(rin_version(), RIN_VERSION));
}
