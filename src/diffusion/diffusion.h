/* diffusion.h -- the diffusion formulation of spec section 3: noise-level schedules, the
 * forward process, prediction targets, and single DDPM/DDIM sampler steps.
 *
 * All schedule arithmetic is double; tensors are float32. t in [0, 1]: t = 0 clean, 1 noise.
 */
#ifndef RIN_DIFFUSION_H
#define RIN_DIFFUSION_H

#include <stdatomic.h>
#include <stddef.h>

#include "rng.h"
#include "util.h"

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
    RIN_SAMPLER_DDPM,       /* "ddpm" = "ddpm@large": sigma^2 = 1 - alpha (spec 3.4) */
    RIN_SAMPLER_DDPM_SMALL, /* "ddpm@small": sigma^2 = (1-g_next)/(1-g_now) (1 - alpha) */
    RIN_SAMPLER_DDIM,       /* "ddim" (spec 3.4) */
    RIN_SAMPLER_EULER,      /* "euler": the probability-flow ODE, Euler (= DDIM's update) */
    RIN_SAMPLER_EULER_A,    /* "euler_a": Euler ancestral (k-diffusion, eta = 1) */
    RIN_SAMPLER_HEUN,       /* "heun": Heun's second-order method (EDM), 2 calls per step */
    RIN_SAMPLER_DPMPP_2M    /* "dpm++2m": DPM-Solver++ 2M, data prediction, multistep */
} rin_sampler_kind;
rin_status rin_sampler_parse(rin_sampler_kind *k, const char *text, char *err, size_t errlen);
const char *rin_sampler_name(rin_sampler_kind k);
/* 1 for the spec's samplers (ddpm, ddpm@small, ddim): they return the last x0_hat and take
 * their levels from the spec's times (td included); 0 for the ODE/SDE solvers added by rin. */
int rin_sampler_is_spec(rin_sampler_kind k);

/* Where a sampler's noise levels sit, in the VE view x/sqrt(g) = x0 + sigma eps with
 * sigma = sqrt((1 - g)/g) and log-SNR lambda = -2 log sigma:
 *   t       uniform in t through the sampling schedule (the spec's spacing);
 *   logsnr  uniform in lambda from sigma_max to sigma_min;
 *   karras  uniform in sigma^(1/rho), rho = 7 (Karras et al. 2022, EDM).
 * logsnr and karras span [RIN_SIGMA_MIN, RIN_SIGMA_MAX] (EDM's range for data in [-1, 1]) and
 * do not depend on the schedule. Every rin solver ends at sigma = 0 (g = 1). */
typedef enum rin_spacing { RIN_SPACING_T, RIN_SPACING_LOGSNR, RIN_SPACING_KARRAS } rin_spacing;
#define RIN_SIGMA_MIN  0.002
#define RIN_SIGMA_MAX  80.0
#define RIN_KARRAS_RHO 7.0
/* "t", "logsnr", "karras"; "" or "auto" gives t for every sampler (the measured best at few
 * calls, docs/quality.md). */
rin_status rin_spacing_parse(rin_spacing *sp, const char *text, char *err, size_t errlen);
const char *rin_spacing_name(rin_spacing sp);

/* t_now = 1 - i/T, t_next = max(1 - (i + 1 + td)/T, 0), spec 3.4. */
void rin_sampler_times(double *t_now, double *t_next, int i, int T, double td);

/* One transition x <- x_next (n elements), given x0_hat and eps_hat from the network at
 * gamma_now (after clipping and recomputing eps). z: standard normal noise (DDPM only). */
void rin_sampler_step(float *x, const float *x0_hat, const float *eps_hat, const float *z,
                      rin_sampler_kind k, double gamma_now, double gamma_next, size_t n);

/* x <- cx x + sum_k terms[k].c terms[k].v over n elements, in double per element. A term with
 * c = 0 is not read, nor is x when cx = 0 (so x may then hold anything). Every step of rin's
 * solvers is one such combination of x, the denoiser's outputs and noise. */
typedef struct rin_term {
    const float *v; /* (n) */
    double c;
} rin_term;
void rin_sampler_combine(float *x, double cx, const rin_term *terms, int nterms, size_t n);

/* A whole sampling run, independent of the network (which `rin_sample` plugs in, and the tests
 * replace by closed-form denoisers). */
typedef struct rin_sampler_plan {
    rin_sampler_kind kind;
    rin_spacing spacing;
    rin_schedule schedule; /* the t spacing's gamma(t) */
    int steps;             /* solver steps N (network calls: N, or 2N - 1 for heun) */
    double td;             /* time difference, the spec's samplers on the t spacing only */
} rin_sampler_plan;

/* Checks a plan (steps >= 1, td only where it applies); the error names what is wrong. */
rin_status rin_sampler_plan_check(const rin_sampler_plan *p, char *err, size_t errlen);
/* Network calls a plan makes (guidance doubles each, not counted here). */
int rin_sampler_calls(const rin_sampler_plan *p);
/* Whether heun's step from gamma to gamma_next makes its corrector call: not on the last step
 * (to sigma = 0) and not from a level beyond EDM's range (sigma > 2 sigma_max, as the t
 * spacing's first levels are: sigma is infinite at t = 1), where the trapezoid's
 * (sigma_n - sigma)(eps' - eps) / 2 is unbounded; those steps are Euler steps. Karras and
 * logsnr levels stay within the range, so there heun makes 2T - 1 calls. */
int rin_heun_corrects(double gamma, double gamma_next);
/* The noise levels of step i: gamma_now (where the step's first call is made) and gamma_next. */
void rin_sampler_levels(const rin_sampler_plan *p, int i, double *gamma_now, double *gamma_next);

/* The denoiser a plan runs: x (n) at noise level gamma -> the clipped x0_hat and the eps_hat
 * recomputed from it (spec 3.3). `first` is 1 for a step's first call and 0 for a corrector's
 * extra call (heun), so a denoiser that carries latents can choose which call feeds the next. */
typedef rin_status (*rin_denoise_fn)(void *user, const float *x, double gamma, int first,
                                     float *x0_hat, float *eps_hat);

/* Runs plan p from x (n floats, x_T on entry) to the sample in `out` (n): the last x0_hat, which
 * for rin's solvers is also the final x at sigma = 0. Noise comes from rng in a fixed order
 * (ddpm: n normals after each call; euler_a: n normals per step that adds noise). cb, if given,
 * sees each step's x0_hat and new x. x is overwritten. A failing denoiser's status is returned
 * as it is (the denoiser writes its own message into err). */
rin_status rin_sampler_run(const rin_sampler_plan *p, size_t n, float *x, float *out, rin_rng *rng,
                           rin_denoise_fn f, void *fuser, rin_sample_callback cb, void *cbuser,
                           char *err, size_t errlen);

/* The plan of a sample config (sampler, spacing, schedule, steps, td), with latent_carry
 * checked too; errors name the setting and what was expected. */
rin_status rin_sample_plan(rin_sampler_plan *p, const rin_sample_config *sc, char *err,
                           size_t errlen);

/* rin_sample that can be stopped: once *stop is nonzero (written from any thread, or by cb),
 * the next network call returns RIN_STATUS_CANCELLED instead of running. stop may be NULL. */
rin_status rin_sample_stoppable(rin_ctx *ctx, const rin_sample_config *sc, int B, const int *labels,
                                float *out, rin_sample_callback cb, void *user,
                                const atomic_int *stop, char *err, size_t errlen);

#endif /* RIN_DIFFUSION_H */
