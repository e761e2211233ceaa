/* generator.c -- the embedding API of include/rin.h: a checkpoint opened for generation.
 *
 * A generator owns the model (its sampling weights), one inference ctx of max_batch images and
 * the sample settings the checkpoint's training fixed. rin_generate is `rin sample` without the
 * files: the same labels (class i mod num_classes unless given), the same batches of max_batch
 * images with noise seed + first index, the same rin_sample underneath; then [-b, b] is mapped
 * to [0, 1]. Stopping goes through one atomic flag that rin_sample_stoppable reads before each
 * network call: rin_generator_cancel sets it from any thread, a progress callback's nonzero
 * return sets it from the sampling thread.
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "diffusion.h"
#include "internal.h"

struct rin_generator {
    rin_model *model;
    rin_ctx *ctx;
    int max_batch;
    rin_sample_config base; /* the checkpoint's pred_type, b_scale, normalize_noisy_input */
    atomic_int stop;
    /* the progress of the running request */
    const rin_generate_request *req;
    int done, total;
    char err[1024];
};

const char *rin_version(void) {
    return RIN_VERSION;
}

rin_status rin_generator_open(rin_generator **out, const char *path,
                              const rin_generator_options *opt, char *err, size_t errlen) {
    *out = NULL;
    if (!path)
        return rin_errorf(err, errlen, RIN_STATUS_ARG, "rin_generator_open: path is NULL");
    const char *weights = opt && opt->weights ? opt->weights : "ema";
    int max_batch = opt && opt->max_batch ? opt->max_batch : 64;
    if (max_batch < 1)
        return rin_errorf(err, errlen, RIN_STATUS_ARG,
                          "rin_generator_open: max_batch %d (expected >= 1, or 0 for 64)",
                          max_batch);
    rin_generator *g = calloc(1, sizeof *g);
    if (!g)
        return rin_errorf(err, errlen, RIN_STATUS_NOMEM, "out of memory opening %s", path);
    g->max_batch = max_batch;
    atomic_init(&g->stop, 0);
    rin_status s = rin_model_load_weights(&g->model, path, weights, err, errlen);
    if (!s && g->model->cfg.seq_len > 0)
        s = rin_errorf(err, errlen, RIN_STATUS_ARG,
                       "%s: a video model (seq_len %d): the generator samples image models; "
                       "`rin sample --frames` rolls video out",
                       path, g->model->cfg.seq_len);
    rin_train_config tc;
    if (!s)
        s = rin_train_config_from_file(&tc, path, err, errlen);
    if (!s) {
        rin_sample_config_default(&g->base);
        rin_sample_config_from_train(&g->base, &tc);
        s = rin_ctx_create(&g->ctx, g->model, max_batch, RIN_CTX_INFER, err, errlen);
    }
    if (s) {
        rin_generator_close(g);
        return s;
    }
    *out = g;
    return RIN_STATUS_OK;
}

void rin_generator_close(rin_generator *g) {
    if (!g)
        return;
    rin_ctx_free(g->ctx);
    rin_model_free(g->model);
    free(g);
}

const rin_config *rin_generator_config(const rin_generator *g) {
    return &g->model->cfg;
}

size_t rin_generator_image_floats(const rin_generator *g) {
    return rin_config_input_floats(&g->model->cfg);
}

void rin_generate_request_default(rin_generate_request *r) {
    memset(r, 0, sizeof *r);
    r->n = 1;
}

void rin_generator_cancel(rin_generator *g) {
    atomic_store(&g->stop, 1);
}

const char *rin_generator_last_error(const rin_generator *g) {
    return g->err;
}

/* rin_sample's per-step callback: the request's progress, and its wish to stop. */
static void on_step(void *user, int step, int steps, const float *x0_hat, const float *x) {
    (void)step, (void)steps, (void)x0_hat, (void)x;
    rin_generator *g = user;
    g->done++;
    if (g->req->progress && g->req->progress(g->req->user, g->done, g->total))
        atomic_store(&g->stop, 1);
}

/* The request as a sample config: errors name the field. */
static rin_status request_config(rin_sample_config *sc, const rin_generator *g,
                                 const rin_generate_request *r, char *err, size_t errlen) {
    *sc = g->base;
    if (r->sampler &&
        snprintf(sc->sampler, sizeof sc->sampler, "%s", r->sampler) >= (int)sizeof sc->sampler)
        return rin_errorf(err, errlen, RIN_STATUS_ARG, "sampler '%s': unknown", r->sampler);
    if (r->spacing &&
        snprintf(sc->spacing, sizeof sc->spacing, "%s", r->spacing) >= (int)sizeof sc->spacing)
        return rin_errorf(err, errlen, RIN_STATUS_ARG, "spacing '%s': unknown", r->spacing);
    if (r->steps < 0)
        return rin_errorf(err, errlen, RIN_STATUS_ARG, "steps %d (expected >= 1, or 0 for %d)",
                          r->steps, sc->steps);
    if (r->steps)
        sc->steps = r->steps;
    if (!(r->guidance >= 0 && r->guidance < 1e6))
        return rin_errorf(err, errlen, RIN_STATUS_ARG, "guidance %g (expected >= 0)", r->guidance);
    sc->guidance = r->guidance;
    sc->seed = r->seed;
    rin_sampler_plan plan;
    return rin_sample_plan(&plan, sc, err, errlen);
}

rin_status rin_generate(rin_generator *g, const rin_generate_request *r, float *out) {
    const rin_config *c = &g->model->cfg;
    char *err = g->err;
    size_t errlen = sizeof g->err;
    err[0] = 0;
    atomic_store(&g->stop, 0);
    if (!r || !out)
        return rin_errorf(err, errlen, RIN_STATUS_ARG, "rin_generate: %s is NULL",
                          !r ? "the request" : "out");
    if (r->n < 1)
        return rin_errorf(err, errlen, RIN_STATUS_ARG, "n %d (expected >= 1)", r->n);
    rin_sample_config sc;
    rin_status s = request_config(&sc, g, r, err, errlen);
    if (s)
        return s;
    int *labels = NULL;
    if (c->num_classes > 0) {
        labels = malloc((size_t)r->n * sizeof *labels);
        if (!labels)
            return rin_errorf(err, errlen, RIN_STATUS_NOMEM, "out of memory for %d labels", r->n);
        for (int i = 0; i < r->n; i++) {
            labels[i] = r->labels ? r->labels[i] : i % c->num_classes;
            if (labels[i] < -1 || labels[i] >= c->num_classes) {
                s = rin_errorf(err, errlen, RIN_STATUS_ARG,
                               "labels[%d] = %d (the model has classes 0 to %d; -1 for none)", i,
                               labels[i], c->num_classes - 1);
                free(labels);
                return s;
            }
        }
    }
    size_t per = rin_config_input_floats(c);
    int B = g->max_batch;
    g->req = r;
    g->done = 0;
    g->total = sc.steps * ((r->n + B - 1) / B);
    for (int start = 0; start < r->n && !s; start += B) {
        if (atomic_load(&g->stop)) {
            s = rin_errorf(err, errlen, RIN_STATUS_CANCELLED,
                           "stopped on request after %d of %d images", start, r->n);
            break;
        }
        int nb = r->n - start < B ? r->n - start : B;
        rin_sample_config sb = sc;
        sb.seed = sc.seed + (uint64_t)start; /* each batch its own noise, as rin sample */
        float *dst = out + (size_t)start * per;
        s = rin_sample_stoppable(g->ctx, &sb, nb, labels ? labels + start : NULL, dst, on_step, g,
                                 &g->stop, err, errlen);
        /* rin_float_to_u8's map, so 255 v rounds to the pixels rin sample writes */
        const float two_b = 2.0f * (float)sc.b_scale;
        for (size_t k = 0; !s && k < (size_t)nb * per; k++) {
            float v = dst[k] / two_b + 0.5f;
            dst[k] = !(v >= 0.0f) ? 0.0f : v > 1.0f ? 1.0f : v;
        }
    }
    g->req = NULL;
    free(labels);
    return s;
}
