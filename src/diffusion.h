/* diffusion.h -- the diffusion formulation of spec section 3: noise-level schedules, the
 * forward process, prediction targets, and single DDPM/DDIM sampler steps.
 *
 * All schedule arithmetic is double; tensors are float32. t in [0, 1]: t = 0 clean, 1 noise.
 */
#ifndef RIN_DIFFUSION_H
#define RIN_DIFFUSION_H

#include <stddef.h>

#include "rin.h"

typedef enum rin_schedule_kind {
    RIN_SCHEDULE_COSINE_SIMPLE, /* "cosine": cos^2(((t + 0.0002)/(1 + 0.00025)) pi/2), no clip */
    RIN_SCHEDULE_COSINE,        /* "cosine@s,e,tau", clipped to [1e-9, 1] */
    RIN_SCHEDULE_SIGMOID,       /* "sigmoid@s,e,tau" (defaults -3,3,1), clipped to [1e-9, 1] */
    RIN_SCHEDULE_LINEAR         /* "simple_linear": clip(1 - t, 1e-9, 1) */
} rin_schedule_kind;

typedef struct rin_schedule {
    rin_schedule_kind kind;
    double s, e, tau;
    char text[64]; /* the string it was parsed from, normalised */
} rin_schedule;

/* Parses "cosine", "cosine@0.2,1,1", "sigmoid@-3,3,0.9", "sigmoid" (= -3,3,1),
 * "simple_linear". Errors name the string and what was expected. */
rin_status rin_schedule_parse(rin_schedule *s, const char *text, char *err, size_t errlen);
double rin_schedule_gamma(const rin_schedule *s, double t);

typedef enum rin_pred_type {
    RIN_PRED_EPS, /* the network predicts eps (all RIN configs) */
    RIN_PRED_X0,  /* the network predicts x0 */
    RIN_PRED_V    /* the network predicts v = sqrt(g) eps - sqrt(1-g) x0 */
} rin_pred_type;
rin_status rin_pred_type_parse(rin_pred_type *p, const char *text, char *err, size_t errlen);
const char *rin_pred_type_name(rin_pred_type p);

/* x_t (B,per) = sqrt(gamma_b) x0 + sqrt(1 - gamma_b) eps. */
void rin_diffusion_add_noise(float *x_t, const float *x0, const float *eps, const float *gamma,
                             int B, size_t per);
/* normalize_noisy_input: x_t /= its per-example empirical (population) std over per elements. */
void rin_diffusion_normalize(float *x_t, int B, size_t per);
/* The regression target of the network for pred type p: eps, x0, or v. */
void rin_diffusion_target(float *target, rin_pred_type p, const float *x0, const float *eps,
                          const float *gamma, int B, size_t per);
/* From network output `out` to x0_hat and eps_hat (either may be NULL), spec 3.3:
 * clip > 0 clips x0_hat to [-clip, clip] and then, for eps and v predictions, recomputes
 * eps_hat from the clipped x0_hat ("truncated noise"). x_t is the UNnormalised noisy input. */
void rin_diffusion_x0_eps(float *x0_hat, float *eps_hat, const float *out, const float *x_t,
                          const float *gamma, int B, size_t per, rin_pred_type p, float clip);

typedef enum rin_sampler_kind {
    RIN_SAMPLER_DDPM,       /* "ddpm" = "ddpm@large": sigma^2 = 1 - alpha */
    RIN_SAMPLER_DDPM_SMALL, /* "ddpm@small": sigma^2 = (1-g_next)/(1-g_now) (1 - alpha) */
    RIN_SAMPLER_DDIM        /* "ddim" */
} rin_sampler_kind;
rin_status rin_sampler_parse(rin_sampler_kind *k, const char *text, char *err, size_t errlen);
const char *rin_sampler_name(rin_sampler_kind k);

/* t_now = 1 - i/T, t_next = max(1 - (i + 1 + td)/T, 0), spec 3.4. */
void rin_sampler_times(double *t_now, double *t_next, int i, int T, double td);

/* One transition x <- x_next (n elements), given x0_hat and eps_hat from the network at
 * gamma_now (after clipping and recomputing eps). z: standard normal noise (DDPM only). */
void rin_sampler_step(float *x, const float *x0_hat, const float *eps_hat, const float *z,
                      rin_sampler_kind k, double gamma_now, double gamma_next, size_t n);

#endif /* RIN_DIFFUSION_H */
