/* sampler.c -- the generation loop: the spec's DDPM and DDIM (spec 2.2 and 3.4) and rin's own
 * ODE/SDE solvers (euler, euler_a, heun, dpm++2m; docs/sampling.md), with latent
 * self-conditioning carried from network call to network call.
 *
 * rin_sampler_run is the loop, independent of the network: it asks a denoiser for the clipped
 * x0_hat and eps_hat at each level the plan visits and combines them (rin_sampler_step for the
 * spec's samplers, rin_sampler_combine for rin's). rin_sample plugs in the network: it gets x
 * (normalised per example if the model was trained so), gamma, the labels and the carried
 * latents (zeros at the first call); with guidance w > 0 a second call with the dropped label and
 * the same latents gives eps_uncond and eps = (1+w) eps_cond - w eps_uncond, and only the
 * conditional call's latents are carried on. The result is the last call's clipped x0_hat, not
 * x (spec pitfall 11); rin's solvers end at sigma = 0, where x is that x0_hat. The noise comes
 * from one RNG seeded by `seed`, drawn in a fixed order, so a seed gives the same images every
 * time.
 *
 * Which latents a call receives (`latent_carry`): "call" gives every call the latents of the
 * call before it; "step" gives a step's first call the latents of the previous step's first
 * call and a corrector call (heun's second) those of its own step's first call, whose outputs
 * are then dropped. The two differ only for heun.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "diffusion.h"
#include "internal.h"

void rin_sample_config_default(rin_sample_config *s) {
    memset(s, 0, sizeof *s);
    /* the best FD per network call measured on the shipped models (docs/quality.md, "Samplers
     * against network calls"): dpm++2m on the t spacing, 15 calls, beat DDPM 250 on the
     * step-9,000, 23,796 and 34,000 models; the paper's DDPM by name */
    s->steps = 15;
    snprintf(s->sampler, sizeof s->sampler, "dpm++2m");
    snprintf(s->schedule, sizeof s->schedule, "cosine");
    snprintf(s->spacing, sizeof s->spacing, "auto");
    snprintf(s->latent_carry, sizeof s->latent_carry, "call");
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

rin_status rin_sampler_run(const rin_sampler_plan *p, size_t n, float *x, float *out, rin_rng *rng,
                           rin_denoise_fn f, void *fuser, rin_sample_callback cb, void *cbuser,
                           char *err, size_t errlen) {
    rin_status s = rin_sampler_plan_check(p, err, errlen);
    if (s)
        return s;
    rin_sampler_kind k = p->kind;
    int noisy = k == RIN_SAMPLER_DDPM || k == RIN_SAMPLER_DDPM_SMALL || k == RIN_SAMPLER_EULER_A;
    int two = k == RIN_SAMPLER_HEUN || k == RIN_SAMPLER_DPMPP_2M; /* a second x0/eps pair */
    float *x0 = malloc(n * sizeof *x0), *eps = malloc(n * sizeof *eps);
    float *z = noisy ? malloc(n * sizeof *z) : NULL;
    float *x0b = two ? malloc(n * sizeof *x0b) : NULL,
          *epsb = two ? malloc(n * sizeof *epsb) : NULL;
    float *xb = k == RIN_SAMPLER_HEUN ? malloc(n * sizeof *xb) : NULL;
    if (!x0 || !eps || (noisy && !z) || (two && (!x0b || !epsb)) ||
        (k == RIN_SAMPLER_HEUN && !xb)) {
        s = rin_errorf(err, errlen, RIN_STATUS_NOMEM, "out of memory sampling %zu values", n);
        goto done;
    }
    int N = p->steps;
    double h_prev = 0; /* dpm++2m: the previous step's log-SNR step (half lambda) */
    for (int i = 0; i < N; i++) {
        double g, gn;
        rin_sampler_levels(p, i, &g, &gn);
        s = f(fuser, x, g, 1, x0, eps);
        if (s)
            goto done;
        /* VP coefficients: x = a x0 + sd eps, sigma = sd / a (VE), at both levels */
        double a = sqrt(g), sd = sqrt(1.0 - g), sig = sd / a;
        double an = sqrt(gn), sdn = sqrt(1.0 - gn), sign = sdn / an;
        switch (k) {
        case RIN_SAMPLER_DDPM:
        case RIN_SAMPLER_DDPM_SMALL:
            for (size_t j = 0; j < n; j++)
                z[j] = (float)rin_rng_normal(rng);
            rin_sampler_step(x, x0, eps, z, k, g, gn, n);
            break;
        case RIN_SAMPLER_DDIM:
        case RIN_SAMPLER_EULER: /* x~ += (sigma_n - sigma) eps, i.e. x = an x0 + sdn eps */
            rin_sampler_step(x, x0, eps, NULL, RIN_SAMPLER_DDIM, g, gn, n);
            break;
        case RIN_SAMPLER_EULER_A: {
            /* x~ = x0 + sigma_down eps + sigma_up z, with sigma_up^2 + sigma_down^2 = sigma_n^2 */
            double up = 0, down = 0;
            if (gn < 1) {
                up = sqrt(sign * sign * (sig * sig - sign * sign) / (sig * sig));
                up = up < sign ? up : sign;
                down = sqrt(sign * sign - up * up);
            }
            if (up > 0)
                for (size_t j = 0; j < n; j++)
                    z[j] = (float)rin_rng_normal(rng);
            rin_term t[3] = {{x0, an}, {eps, an * down}, {z, an * up}};
            rin_sampler_combine(x, 0, t, 3, n);
            break;
        }
        case RIN_SAMPLER_HEUN: {
            rin_term e[2] = {{x0, an}, {eps, sdn}}; /* the Euler predictor */
            if (!rin_heun_corrects(g, gn)) {        /* to sigma = 0, or from beyond EDM's range */
                rin_sampler_combine(x, 0, e, 2, n);
                break;
            }
            rin_sampler_combine(xb, 0, e, 2, n);
            s = f(fuser, xb, gn, 0, x0b, epsb);
            if (s)
                goto done;
            /* x~ = x0 + sigma eps + (sigma_n - sigma)(eps + eps')/2 */
            rin_term t[3] = {{x0, an}, {eps, an * (sign + sig) / 2}, {epsb, an * (sign - sig) / 2}};
            rin_sampler_combine(x, 0, t, 3, n);
            break;
        }
        case RIN_SAMPLER_DPMPP_2M: {
            if (gn >= 1) { /* sigma_n = 0: x = x0 (k-diffusion's first-order last step) */
                rin_term t[1] = {{x0, 1.0}};
                rin_sampler_combine(x, 0, t, 1, n);
                break;
            }
            double h = 0.5 * log(gn / (1.0 - gn)) - 0.5 * log(g / (1.0 - g));
            double em = -expm1(-h); /* 1 - sigma_n/sigma */
            double c0 = an * em, cprev = 0;
            if (i > 0) { /* D = (1 + 1/2r) x0 - (1/2r) x0_prev, r = h_prev / h */
                double q = h / (2.0 * h_prev);
                c0 = an * em * (1.0 + q);
                cprev = -an * em * q;
            }
            rin_term t[2] = {{x0, c0}, {x0b, cprev}};
            rin_sampler_combine(x, sdn / sd, t, 2, n);
            memcpy(x0b, x0, n * sizeof *x0b);
            h_prev = h;
            break;
        }
        }
        if (cb)
            cb(cbuser, i, N, x0, x);
    }
    memcpy(out, x0, n * sizeof *out);
done:
    free(x0), free(eps), free(z), free(x0b), free(epsb), free(xb);
    return s;
}

/* The network as rin_sampler_run's denoiser. */
typedef struct net_denoiser {
    rin_ctx *ctx;
    const rin_sample_config *sc;
    int B;
    size_t per, n;
    rin_pred_type pred;
    const int *labels;
    int *drop;              /* (B) the dropped label, for the guidance call */
    int carry;              /* latents carried at all */
    int carry_step;         /* latent_carry = step */
    int have_z;             /* z_in holds latents to feed */
    float *xin;             /* (B, per) the normalised input */
    float *net, *unc;       /* (B, per) network outputs, conditional and unconditional */
    float *gam;             /* (B) */
    float *z_in, *z_out;    /* (B, L, D) latents fed to and returned by the call */
    int calls;              /* network calls so far */
    const atomic_int *stop; /* nonzero: refuse the next call (rin_sample_stoppable) */
    char *err;
    size_t errlen;
} net_denoiser;

static rin_status net_denoise(void *user, const float *x, double gamma, int first, float *x0,
                              float *eps) {
    net_denoiser *d = user;
    if (d->stop && atomic_load(d->stop))
        return rin_errorf(d->err, d->errlen, RIN_STATUS_CANCELLED,
                          "sampling stopped on request after %d network calls", d->calls);
    for (int b = 0; b < d->B; b++)
        d->gam[b] = (float)gamma;
    const float *input = x;
    if (d->sc->normalize_noisy_input) {
        memcpy(d->xin, x, d->n * sizeof *d->xin);
        rin_diffusion_normalize(d->xin, d->B, d->per);
        input = d->xin;
    }
    rin_batch in = {.B = d->B,
                    .x_t = input,
                    .gamma = d->gam,
                    .labels = d->labels,
                    .z_prev = d->carry && d->have_z ? d->z_in : NULL,
                    .training = 0,
                    .seed = 0};
    rin_status s = rin_forward(d->ctx, &in, d->net, d->carry ? d->z_out : NULL);
    if (!s && d->drop) {
        in.labels = d->drop;
        s = rin_forward(d->ctx, &in, d->unc, NULL);
        float w = (float)d->sc->guidance;
        for (size_t k = 0; k < d->n; k++)
            d->net[k] = (1.0f + w) * d->net[k] - w * d->unc[k];
    }
    if (s) {
        const char *why = rin_ctx_last_error(d->ctx);
        return rin_errorf(d->err, d->errlen, s, "network call %d failed: %s", d->calls,
                          why[0] ? why : rin_status_str(s));
    }
    d->calls++;
    if (d->carry && (first || !d->carry_step)) {
        float *t = d->z_in;
        d->z_in = d->z_out;
        d->z_out = t;
        d->have_z = 1;
    }
    rin_diffusion_x0_eps(x0, eps, d->net, x, d->gam, d->B, d->per, d->pred, (float)d->sc->b_scale);
    return RIN_STATUS_OK;
}

rin_status rin_sample_plan(rin_sampler_plan *p, const rin_sample_config *sc, char *err,
                           size_t errlen) {
    memset(p, 0, sizeof *p);
    rin_status s = rin_schedule_parse(&p->schedule, sc->schedule, err, errlen);
    if (!s)
        s = rin_sampler_parse(&p->kind, sc->sampler, err, errlen);
    if (!s)
        s = rin_spacing_parse(&p->spacing, sc->spacing, err, errlen);
    if (s)
        return s;
    if (strcmp(sc->latent_carry, "call") && strcmp(sc->latent_carry, "step"))
        return rin_errorf(err, errlen, RIN_STATUS_CONFIG,
                          "latent_carry '%s': unknown (expected call or step)", sc->latent_carry);
    p->steps = sc->steps;
    p->td = sc->td;
    return rin_sampler_plan_check(p, err, errlen);
}

rin_status rin_sample(rin_ctx *ctx, const rin_sample_config *sc, int B, const int *labels,
                      float *out, rin_sample_callback cb, void *user, char *err, size_t errlen) {
    return rin_sample_stoppable(ctx, sc, B, labels, out, cb, user, NULL, err, errlen);
}

rin_status rin_sample_stoppable(rin_ctx *ctx, const rin_sample_config *sc, int B, const int *labels,
                                float *out, rin_sample_callback cb, void *user,
                                const atomic_int *stop, char *err, size_t errlen) {
    const rin_config *c = &ctx->model->cfg;
    rin_sampler_plan plan;
    net_denoiser d = {.ctx = ctx, .sc = sc, .B = B, .labels = labels, .stop = stop};
    rin_status s = rin_sample_plan(&plan, sc, err, errlen);
    if (!s)
        s = rin_pred_type_parse(&d.pred, sc->pred_type, err, errlen);
    if (s)
        return s;
    if (B < 1 || B > ctx->max_batch)
        return rin_errorf(err, errlen, RIN_STATUS_ARG, "batch %d exceeds the context's %d", B,
                          ctx->max_batch);
    if (c->num_classes > 0 && !labels)
        return rin_errorf(err, errlen, RIN_STATUS_ARG, "the model has classes: labels needed");
    int guided = sc->guidance != 0 && c->num_classes > 0;
    d.carry = c->self_cond && sc->self_cond;
    d.carry_step = !strcmp(sc->latent_carry, "step");
    d.per = rin_config_input_floats(c);
    d.n = (size_t)B * d.per;
    size_t n = d.n, nz = (size_t)B * c->L * c->D;
    float *x = malloc(n * sizeof *x);
    d.xin = malloc(n * sizeof *d.xin);
    d.net = malloc(n * sizeof *d.net);
    d.unc = guided ? malloc(n * sizeof *d.unc) : NULL;
    d.gam = malloc((size_t)B * sizeof *d.gam);
    d.z_in = d.carry ? malloc(nz * sizeof *d.z_in) : NULL;
    d.z_out = d.carry ? malloc(nz * sizeof *d.z_out) : NULL;
    d.drop = guided ? malloc((size_t)B * sizeof *d.drop) : NULL;
    if (!x || !d.xin || !d.net || (guided && (!d.unc || !d.drop)) || !d.gam ||
        (d.carry && (!d.z_in || !d.z_out))) {
        s = rin_errorf(err, errlen, RIN_STATUS_NOMEM, "out of memory sampling %d images", B);
        goto done;
    }
    for (int b = 0; guided && b < B; b++)
        d.drop[b] = -1;
    rin_rng rng;
    rin_rng_seed(&rng, sc->seed);
    for (size_t i = 0; i < n; i++)
        x[i] = (float)rin_rng_normal(&rng);
    d.err = err;
    d.errlen = errlen;
    s = rin_sampler_run(&plan, n, x, out, &rng, net_denoise, &d, cb, user, err, errlen);
done:
    free(x), free(d.xin), free(d.net), free(d.unc), free(d.gam), free(d.z_in), free(d.z_out);
    free(d.drop);
    return s;
}
