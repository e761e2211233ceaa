/* sampler.c -- the generation loop (spec 2.2 and 3.4): DDPM or DDIM over T steps with latent
 * self-conditioning carried from step to step.
 *
 * x_T ~ N(0, I). At step i: t_now = 1 - i/T, t_next = max(1 - (i+1+td)/T, 0); the network
 * gets x (normalised per example if the model was trained so), gamma_now, the labels and the
 * previous step's latents (zeros at the first step); with guidance w > 0 a second call with the
 * dropped label and the same latents gives eps_uncond and eps = (1+w) eps_cond - w eps_uncond,
 * and only the conditional call's latents are carried on. x0_hat is clipped to [-b, b], eps is
 * recomputed from it, and the DDPM or DDIM transition gives the next x. The result is the last
 * step's clipped x0_hat, not x (spec pitfall 11). The noise comes from one RNG seeded by `seed`,
 * drawn in a fixed order, so a seed gives the same images every time.
 */
#include <stdlib.h>
#include <string.h>

#include "diffusion.h"
#include "internal.h"

void rin_sample_config_default(rin_sample_config *s) {
    memset(s, 0, sizeof *s);
    s->steps = 100;
    snprintf(s->sampler, sizeof s->sampler, "ddpm");
    snprintf(s->schedule, sizeof s->schedule, "cosine");
    s->td = 0;
    s->guidance = 0;
    s->self_cond = 1;
    snprintf(s->pred_type, sizeof s->pred_type, "eps");
    s->b_scale = 1.0;
    s->normalize_noisy_input = 0;
    s->seed = 0;
}

void rin_sample_config_from_train(rin_sample_config *s, const rin_train_config *t) {
    snprintf(s->pred_type, sizeof s->pred_type, "%s", t->pred_type);
    s->b_scale = t->b_scale;
    s->normalize_noisy_input = t->normalize_noisy_input;
}

rin_status rin_sample(rin_ctx *ctx, const rin_sample_config *sc, int B, const int *labels,
                      float *out, rin_sample_callback cb, void *user, char *err, size_t errlen) {
    const rin_config *c = &ctx->model->cfg;
    rin_schedule sched;
    rin_sampler_kind kind;
    rin_pred_type pred;
    rin_status s = rin_schedule_parse(&sched, sc->schedule, err, errlen);
    if (!s)
        s = rin_sampler_parse(&kind, sc->sampler, err, errlen);
    if (!s)
        s = rin_pred_type_parse(&pred, sc->pred_type, err, errlen);
    if (s)
        return s;
    if (sc->steps < 1)
        return rin_errorf(err, errlen, RIN_STATUS_ARG, "steps: %d (expected >= 1)", sc->steps);
    if (B < 1 || B > ctx->max_batch)
        return rin_errorf(err, errlen, RIN_STATUS_ARG, "batch %d exceeds the context's %d", B,
                          ctx->max_batch);
    if (c->num_classes > 0 && !labels)
        return rin_errorf(err, errlen, RIN_STATUS_ARG, "the model has classes: labels needed");
    int guided = sc->guidance != 0 && c->num_classes > 0;
    int carry = c->self_cond && sc->self_cond;
    size_t per = rin_config_input_floats(c), n = (size_t)B * per;
    size_t nz = (size_t)B * c->L * c->D;
    float *x = malloc(n * sizeof *x), *xin = malloc(n * sizeof *xin);
    float *net = malloc(n * sizeof *net), *unc = guided ? malloc(n * sizeof *unc) : NULL;
    float *x0 = malloc(n * sizeof *x0), *eps = malloc(n * sizeof *eps);
    float *z = malloc(n * sizeof *z), *gam = malloc((size_t)B * sizeof *gam);
    float *zprev = carry ? malloc(nz * sizeof *zprev) : NULL;
    float *zout = carry ? malloc(nz * sizeof *zout) : NULL;
    int *drop = guided ? malloc((size_t)B * sizeof *drop) : NULL;
    if (!x || !xin || !net || (guided && (!unc || !drop)) || !x0 || !eps || !z || !gam ||
        (carry && (!zprev || !zout))) {
        s = rin_errorf(err, errlen, RIN_STATUS_NOMEM, "out of memory sampling %d images", B);
        goto done;
    }
    for (int b = 0; guided && b < B; b++)
        drop[b] = -1;

    rin_rng rng;
    rin_rng_seed(&rng, sc->seed);
    for (size_t i = 0; i < n; i++)
        x[i] = (float)rin_rng_normal(&rng);
    int T = sc->steps;
    for (int i = 0; i < T; i++) {
        double t_now, t_next;
        rin_sampler_times(&t_now, &t_next, i, T, sc->td);
        double g_now = rin_schedule_gamma(&sched, t_now);
        double g_next = rin_schedule_gamma(&sched, t_next);
        for (int b = 0; b < B; b++)
            gam[b] = (float)g_now;
        const float *input = x;
        if (sc->normalize_noisy_input) {
            memcpy(xin, x, n * sizeof *xin);
            rin_diffusion_normalize(xin, B, per);
            input = xin;
        }
        rin_batch in = {.B = B,
                        .x_t = input,
                        .gamma = gam,
                        .labels = labels,
                        .z_prev = carry && i > 0 ? zprev : NULL,
                        .training = 0,
                        .seed = 0};
        s = rin_forward(ctx, &in, net, zout);
        if (!s && guided) {
            in.labels = drop;
            s = rin_forward(ctx, &in, unc, NULL);
            float w = (float)sc->guidance;
            for (size_t k = 0; k < n; k++)
                net[k] = (1.0f + w) * net[k] - w * unc[k];
        }
        if (s) {
            rin_errorf(err, errlen, s, "network call failed at step %d: %s", i, rin_status_str(s));
            goto done;
        }
        rin_diffusion_x0_eps(x0, eps, net, x, gam, B, per, pred, (float)sc->b_scale);
        if (kind != RIN_SAMPLER_DDIM)
            for (size_t k = 0; k < n; k++)
                z[k] = (float)rin_rng_normal(&rng);
        rin_sampler_step(x, x0, eps, z, kind, g_now, g_next, n);
        if (cb)
            cb(user, i, T, x0, x);
        if (carry) {
            float *tmp = zprev;
            zprev = zout;
            zout = tmp;
        }
    }
    memcpy(out, x0, n * sizeof *out);
done:
    free(x), free(xin), free(net), free(unc), free(x0), free(eps), free(z), free(gam);
    free(zprev), free(zout), free(drop);
    return s;
}
