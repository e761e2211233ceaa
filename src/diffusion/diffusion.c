/* diffusion.c -- the diffusion formulation of spec section 3: the gamma(t) schedules (3.1), the
 * forward process and input normalisation (3.2), prediction targets and the recovery of x0 and
 * eps from the network output with clipping and truncated noise (3.3), one DDPM or DDIM
 * transition (3.4), and the noise levels and update of rin's own solvers (docs/sampling.md).
 *
 * Schedule arithmetic is double. Per-element arithmetic is done in double from the float
 * inputs and rounded to float once, so results do not depend on the compiler's evaluation of
 * float expressions; every element is independent, so OpenMP loops are deterministic.
 */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diffusion.h"
#include "internal.h"

#define RIN_PI    3.14159265358979323846
#define GAMMA_MIN 1e-9              /* clip_min of the parametric schedules (diffusion_utils.py) */
#define PAR_MIN   ((size_t)1 << 15) /* loops shorter than this stay serial */

/* ---- schedules (spec 3.1) -------------------------------------------------------------------- */

/* Parses exactly n comma-separated finite numbers (no spaces) from s into out; 1 on success. */
static int parse_numbers(const char *s, double *out, int n) {
    for (int i = 0; i < n; i++) {
        if (!*s || isspace((unsigned char)*s))
            return 0;
        char *end;
        out[i] = strtod(s, &end);
        if (end == s || !isfinite(out[i]))
            return 0;
        s = end;
        if (i < n - 1) {
            if (*s != ',')
                return 0;
            s++;
        }
    }
    return *s == '\0';
}

/* Writes x with the fewest significant digits that read back as the same double. */
static void format_shortest(char *buf, size_t len, double x) {
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, len, "%.*g", prec, x);
        if (strtod(buf, NULL) == x)
            return;
    }
}

/* Fills s->text as "<name>@s,e,tau" with the shortest decimal forms; 0 if it does not fit. */
static int format_schedule(rin_schedule *s, const char *name) {
    char a[32], b[32], c[32];
    format_shortest(a, sizeof a, s->s);
    format_shortest(b, sizeof b, s->e);
    format_shortest(c, sizeof c, s->tau);
    int len = snprintf(s->text, sizeof s->text, "%s@%s,%s,%s", name, a, b, c);
    return len >= 0 && (size_t)len < sizeof s->text;
}

static double logistic(double x) {
    return 1.0 / (1.0 + exp(-x));
}

rin_status rin_schedule_parse(rin_schedule *s, const char *text, char *err, size_t errlen) {
    memset(s, 0, sizeof *s);
    if (!text)
        return rin_errorf(err, errlen, RIN_STATUS_CONFIG,
                          "schedule: missing (expected cosine, "
                          "cosine@start,end,tau, sigmoid@start,end,tau or simple_linear)");
    double p[3];
    if (!strcmp(text, "cosine")) {
        s->kind = RIN_SCHEDULE_COSINE_SIMPLE;
        snprintf(s->text, sizeof s->text, "cosine");
    } else if (!strcmp(text, "simple_linear")) {
        s->kind = RIN_SCHEDULE_LINEAR;
        snprintf(s->text, sizeof s->text, "simple_linear");
    } else if (!strcmp(text, "sigmoid")) {
        s->kind = RIN_SCHEDULE_SIGMOID;
        s->s = -3, s->e = 3, s->tau = 1;
        (void)format_schedule(s, "sigmoid");
    } else if (!strncmp(text, "sigmoid@", 8)) {
        if (!parse_numbers(text + 8, p, 3))
            return rin_errorf(err, errlen, RIN_STATUS_CONFIG,
                              "schedule '%s': expected sigmoid@start,end,tau", text);
        if (!(p[0] < p[1]) || !(p[2] > 0))
            return rin_errorf(err, errlen, RIN_STATUS_CONFIG,
                              "schedule '%s': expected start < end and tau > 0", text);
        /* gamma divides by logistic(end/tau) - logistic(start/tau): infinite numbers make it
         * NaN and a tau far larger than end - start makes it 0 (found by fuzz/fuzz_config.c) */
        if (!isfinite(p[1] - p[0]) || !isfinite(p[2]) ||
            !(logistic(p[1] / p[2]) - logistic(p[0] / p[2]) > 1e-6))
            return rin_errorf(err, errlen, RIN_STATUS_CONFIG,
                              "schedule '%s': start, end and tau must be finite and tau small "
                              "enough that the sigmoid changes between start/tau and end/tau",
                              text);
        s->kind = RIN_SCHEDULE_SIGMOID;
        s->s = p[0], s->e = p[1], s->tau = p[2];
        if (!format_schedule(s, "sigmoid"))
            return rin_errorf(err, errlen, RIN_STATUS_CONFIG,
                              "schedule '%s': the numbers are too long to record", text);
    } else if (!strncmp(text, "cosine@", 7)) {
        if (!parse_numbers(text + 7, p, 3))
            return rin_errorf(err, errlen, RIN_STATUS_CONFIG,
                              "schedule '%s': expected cosine@start,end,tau", text);
        /* outside [0, 1] the cosine turns negative (its power is undefined) or increases */
        if (!(p[0] >= 0 && p[0] < p[1] && p[1] <= 1) || !(p[2] > 0))
            return rin_errorf(err, errlen, RIN_STATUS_CONFIG,
                              "schedule '%s': expected 0 <= start < end <= 1 and tau > 0", text);
        /* gamma divides by cos(start pi/2)^2tau - cos(end pi/2)^2tau, which a large tau
         * underflows to 0 (found by fuzz/fuzz_config.c) */
        if (!(pow(cos(p[0] * RIN_PI / 2), 2 * p[2]) - pow(cos(p[1] * RIN_PI / 2), 2 * p[2]) > 1e-6))
            return rin_errorf(err, errlen, RIN_STATUS_CONFIG,
                              "schedule '%s': tau is too large: cos(start pi/2)^(2 tau) and "
                              "cos(end pi/2)^(2 tau) are equal in double precision",
                              text);
        s->kind = RIN_SCHEDULE_COSINE;
        s->s = p[0], s->e = p[1], s->tau = p[2];
        if (!format_schedule(s, "cosine"))
            return rin_errorf(err, errlen, RIN_STATUS_CONFIG,
                              "schedule '%s': the numbers are too long to record", text);
    } else {
        return rin_errorf(err, errlen, RIN_STATUS_CONFIG,
                          "schedule '%s': unknown (expected cosine, cosine@start,end,tau, "
                          "sigmoid, sigmoid@start,end,tau or simple_linear)",
                          text);
    }
    return RIN_STATUS_OK;
}

static double clip_gamma(double g) {
    return g < GAMMA_MIN ? GAMMA_MIN : (g > 1.0 ? 1.0 : g);
}

/* gamma(t) of spec 3.1 (diffusion_utils.py cosine_schedule_simple, cosine_schedule,
 * sigmoid_schedule, simple_linear_schedule). t in [0, 1]. */
double rin_schedule_gamma(const rin_schedule *s, double t) {
    switch (s->kind) {
    case RIN_SCHEDULE_COSINE_SIMPLE: {
        double c = cos((t + 0.0002) / (1.0 + 0.00025) * RIN_PI / 2);
        return c * c;
    }
    case RIN_SCHEDULE_COSINE: {
        double pw = 2 * s->tau;
        double v_start = pow(cos(s->s * RIN_PI / 2), pw);
        double v_end = pow(cos(s->e * RIN_PI / 2), pw);
        double out = pow(cos((t * (s->e - s->s) + s->s) * RIN_PI / 2), pw);
        return clip_gamma((v_end - out) / (v_end - v_start));
    }
    case RIN_SCHEDULE_SIGMOID: {
        double v_start = logistic(s->s / s->tau), v_end = logistic(s->e / s->tau);
        double out = logistic((t * (s->e - s->s) + s->s) / s->tau);
        return clip_gamma((v_end - out) / (v_end - v_start));
    }
    case RIN_SCHEDULE_LINEAR: return clip_gamma(1.0 - t);
    }
    return 1.0;
}

/* ---- names ----------------------------------------------------------------------------------- */

rin_status rin_pred_type_parse(rin_pred_type *p, const char *text, char *err, size_t errlen) {
    if (text && !strcmp(text, "eps"))
        *p = RIN_PRED_EPS;
    else if (text && (!strcmp(text, "x0") || !strcmp(text, "x")))
        *p = RIN_PRED_X0;
    else if (text && !strcmp(text, "v"))
        *p = RIN_PRED_V;
    else
        return rin_errorf(err, errlen, RIN_STATUS_CONFIG,
                          "pred_type '%s': unknown (expected eps, x0 (or x) or v)",
                          text ? text : "(null)");
    return RIN_STATUS_OK;
}

const char *rin_pred_type_name(rin_pred_type p) {
    switch (p) {
    case RIN_PRED_EPS: return "eps";
    case RIN_PRED_X0: return "x0";
    case RIN_PRED_V: return "v";
    }
    return "?";
}

static const struct {
    const char *name;
    rin_sampler_kind kind;
} sampler_names[] = {
    {"ddpm", RIN_SAMPLER_DDPM},
    {"ddpm@large", RIN_SAMPLER_DDPM},
    {"ddpm@small", RIN_SAMPLER_DDPM_SMALL},
    {"ddim", RIN_SAMPLER_DDIM},
    {"euler", RIN_SAMPLER_EULER},
    {"euler_a", RIN_SAMPLER_EULER_A},
    {"heun", RIN_SAMPLER_HEUN},
    {"dpm++2m", RIN_SAMPLER_DPMPP_2M},
};
#define NSAMPLERS ((int)(sizeof sampler_names / sizeof sampler_names[0]))

rin_status rin_sampler_parse(rin_sampler_kind *k, const char *text, char *err, size_t errlen) {
    for (int i = 0; text && i < NSAMPLERS; i++)
        if (!strcmp(text, sampler_names[i].name)) {
            *k = sampler_names[i].kind;
            return RIN_STATUS_OK;
        }
    return rin_errorf(err, errlen, RIN_STATUS_CONFIG,
                      "sampler '%s': unknown (expected ddpm, ddpm@large, ddpm@small, ddim, euler, "
                      "euler_a, heun or dpm++2m)",
                      text ? text : "(null)");
}

const char *rin_sampler_name(rin_sampler_kind k) {
    if (k == RIN_SAMPLER_DDPM)
        return "ddpm";
    for (int i = 0; i < NSAMPLERS; i++)
        if (sampler_names[i].kind == k)
            return sampler_names[i].name;
    return "?";
}

int rin_sampler_is_spec(rin_sampler_kind k) {
    return k == RIN_SAMPLER_DDPM || k == RIN_SAMPLER_DDPM_SMALL || k == RIN_SAMPLER_DDIM;
}

rin_status rin_spacing_parse(rin_spacing *sp, const char *text, char *err, size_t errlen) {
    if (!text || !*text || !strcmp(text, "auto"))
        *sp = RIN_SPACING_T; /* the best at few calls for every sampler: docs/quality.md */
    else if (!strcmp(text, "t"))
        *sp = RIN_SPACING_T;
    else if (!strcmp(text, "logsnr"))
        *sp = RIN_SPACING_LOGSNR;
    else if (!strcmp(text, "karras"))
        *sp = RIN_SPACING_KARRAS;
    else
        return rin_errorf(err, errlen, RIN_STATUS_CONFIG,
                          "spacing '%s': unknown (expected t, logsnr, karras or auto)", text);
    return RIN_STATUS_OK;
}

const char *rin_spacing_name(rin_spacing sp) {
    switch (sp) {
    case RIN_SPACING_T: return "t";
    case RIN_SPACING_LOGSNR: return "logsnr";
    case RIN_SPACING_KARRAS: return "karras";
    }
    return "?";
}

/* ---- forward process and targets (spec 3.2, 3.3) --------------------------------------------- */

/* x_t = sqrt(gamma_b) x0 + sqrt(1 - gamma_b) eps, per example b. */
void rin_diffusion_add_noise(float *x_t, const float *x0, const float *eps, const float *gamma,
                             int B, size_t per) {
    size_t n = (size_t)B * per;
#pragma omp parallel for schedule(static) if (n >= PAR_MIN)
    for (size_t i = 0; i < n; i++) {
        double g = (double)gamma[i / per];
        x_t[i] = (float)(sqrt(g) * (double)x0[i] + sqrt(1.0 - g) * (double)eps[i]);
    }
}

/* x_t(b) /= std(x_t(b)), the population std over the example's per elements (tf.math.reduce_std,
 * no centring of x_t itself). An example with zero spread is left as it is. */
void rin_diffusion_normalize(float *x_t, int B, size_t per) {
#pragma omp parallel for schedule(static)
    for (int b = 0; b < B; b++) {
        float *x = x_t + (size_t)b * per;
        double mean = 0, var = 0;
        for (size_t i = 0; i < per; i++)
            mean += (double)x[i];
        mean /= (double)per;
        for (size_t i = 0; i < per; i++) {
            double d = (double)x[i] - mean;
            var += d * d;
        }
        double sd = sqrt(var / (double)per);
        if (sd > 0)
            for (size_t i = 0; i < per; i++)
                x[i] = (float)((double)x[i] / sd);
    }
}

/* eps: eps; x0: x0; v: sqrt(gamma) eps - sqrt(1 - gamma) x0. */
void rin_diffusion_target(float *target, rin_pred_type p, const float *x0, const float *eps,
                          const float *gamma, int B, size_t per) {
    size_t n = (size_t)B * per;
    if (p == RIN_PRED_EPS) {
        memcpy(target, eps, n * sizeof *target);
        return;
    }
    if (p == RIN_PRED_X0) {
        memcpy(target, x0, n * sizeof *target);
        return;
    }
#pragma omp parallel for schedule(static) if (n >= PAR_MIN)
    for (size_t i = 0; i < n; i++) {
        double g = (double)gamma[i / per];
        target[i] = (float)(sqrt(g) * (double)eps[i] - sqrt(1.0 - g) * (double)x0[i]);
    }
}

/* One element of spec 3.3's table, with sg = sqrt(gamma), sn = sqrt(1 - gamma). With clip > 0,
 * x0 is clipped to [-clip, clip] and eps recomputed from it, for every pred type (for x0
 * prediction eps always comes from x0). Divisions by an exact zero (gamma = 0 for eps
 * prediction, gamma = 1 for the eps recomputation) are skipped: x0 = 0, or eps keeps the
 * table's value (0 for x0 prediction), so no Inf or NaN is made from finite inputs. */
static void x0_eps_one(double out, double xt, double sg, double sn, rin_pred_type p, double clip,
                       double *x0, double *eps) {
    double a = 0, e = 0;
    switch (p) {
    case RIN_PRED_EPS:
        e = out;
        a = sg > 0 ? (xt - sn * e) / sg : 0.0;
        break;
    case RIN_PRED_X0:
        a = out;
        e = 0.0;
        break;
    case RIN_PRED_V:
        a = sg * xt - sn * out;
        e = sn * xt + sg * out;
        break;
    }
    if (clip > 0) {
        /* comparisons rather than fmin/fmax, so that a NaN stays visible */
        if (a > clip)
            a = clip;
        else if (a < -clip)
            a = -clip;
    }
    if ((clip > 0 || p == RIN_PRED_X0) && sn > 0)
        e = (xt - sg * a) / sn;
    *x0 = a;
    *eps = e;
}

void rin_diffusion_x0_eps(float *x0_hat, float *eps_hat, const float *out, const float *x_t,
                          const float *gamma, int B, size_t per, rin_pred_type p, float clip) {
    size_t n = (size_t)B * per;
    double c = (double)clip;
#pragma omp parallel for schedule(static) if (n >= PAR_MIN)
    for (size_t i = 0; i < n; i++) {
        double g = (double)gamma[i / per], a, e;
        x0_eps_one((double)out[i], (double)x_t[i], sqrt(g), sqrt(1.0 - g), p, c, &a, &e);
        if (x0_hat)
            x0_hat[i] = (float)a;
        if (eps_hat)
            eps_hat[i] = (float)e;
    }
}

/* ---- samplers (spec 3.4) --------------------------------------------------------------------- */

void rin_sampler_times(double *t_now, double *t_next, int i, int T, double td) {
    *t_now = 1.0 - (double)i / (double)T;
    double tn = 1.0 - ((double)i + 1.0 + td) / (double)T;
    *t_next = tn > 0 ? tn : 0.0;
}

/* DDIM: x = sqrt(g_next) x0 + sqrt(1 - g_next) eps.
 * DDPM: alpha = clip(g_now/g_next, 0, 1), mu = (x - (1 - alpha)/sqrt(1 - g_now) eps)/sqrt(alpha),
 * x = mu + sigma z, sigma^2 = 1 - alpha (large) or (1 - g_next)/(1 - g_now) (1 - alpha) (small).
 * When alpha = 1 (g_now >= g_next) the eps term and sigma are exactly 0, which also covers
 * g_now = 1 where (1 - alpha)/sqrt(1 - g_now) would be 0/0. */
void rin_sampler_step(float *x, const float *x0_hat, const float *eps_hat, const float *z,
                      rin_sampler_kind k, double gamma_now, double gamma_next, size_t n) {
    RIN_ASSERT(gamma_now > 0 && gamma_now <= 1 && gamma_next > 0 && gamma_next <= 1);
    if (k == RIN_SAMPLER_DDIM) {
        double a = sqrt(gamma_next), b = sqrt(1.0 - gamma_next);
#pragma omp parallel for schedule(static) if (n >= PAR_MIN)
        for (size_t i = 0; i < n; i++)
            x[i] = (float)(a * (double)x0_hat[i] + b * (double)eps_hat[i]);
        return;
    }
    RIN_ASSERT(z != NULL);
    double alpha = gamma_now / gamma_next;
    alpha = alpha < 0 ? 0 : (alpha > 1 ? 1 : alpha);
    double one_m = 1.0 - alpha; /* > 0 implies gamma_now < gamma_next <= 1 */
    double c_eps = one_m > 0 ? one_m / sqrt(1.0 - gamma_now) : 0.0;
    double sa = sqrt(alpha);
    double var = one_m;
    if (k == RIN_SAMPLER_DDPM_SMALL)
        var = one_m > 0 ? (1.0 - gamma_next) / (1.0 - gamma_now) * one_m : 0.0;
    double sigma = sqrt(var);
#pragma omp parallel for schedule(static) if (n >= PAR_MIN)
    for (size_t i = 0; i < n; i++) {
        double mu = ((double)x[i] - c_eps * (double)eps_hat[i]) / sa;
        x[i] = (float)(mu + sigma * (double)z[i]);
    }
}

/* ---- rin's solvers: levels and updates (docs/sampling.md) ----------------------------------- */

rin_status rin_sampler_plan_check(const rin_sampler_plan *p, char *err, size_t errlen) {
    if (p->steps < 1)
        return rin_errorf(err, errlen, RIN_STATUS_ARG, "steps: %d (expected >= 1)", p->steps);
    if (!isfinite(p->td) || p->td < 0)
        return rin_errorf(err, errlen, RIN_STATUS_CONFIG, "td: %g (expected a number >= 0)", p->td);
    if (p->td != 0 && (!rin_sampler_is_spec(p->kind) || p->spacing != RIN_SPACING_T))
        return rin_errorf(err, errlen, RIN_STATUS_CONFIG,
                          "td: %g applies to ddpm and ddim on the t spacing only (sampler %s, "
                          "spacing %s)",
                          p->td, rin_sampler_name(p->kind), rin_spacing_name(p->spacing));
    return RIN_STATUS_OK;
}

int rin_heun_corrects(double gamma, double gamma_next) {
    if (gamma_next >= 1)
        return 0;
    /* sigma^2 = (1 - gamma) / gamma > (2 sigma_max)^2, written so that gamma = 0 counts too */
    double lim = 2.0 * RIN_SIGMA_MAX;
    return !(1.0 - gamma > lim * lim * gamma);
}

int rin_sampler_calls(const rin_sampler_plan *p) {
    if (p->kind != RIN_SAMPLER_HEUN)
        return p->steps;
    int calls = 0;
    for (int i = 0; i < p->steps; i++) {
        double g, gn;
        rin_sampler_levels(p, i, &g, &gn);
        calls += 1 + rin_heun_corrects(g, gn);
    }
    return calls;
}

/* sigma of level i of N on the logsnr or karras spacing; level N is 0. */
static double spaced_sigma(rin_spacing sp, int i, int N) {
    if (i >= N)
        return 0.0;
    double f = N > 1 ? (double)i / (double)(N - 1) : 0.0;
    if (sp == RIN_SPACING_KARRAS) {
        double a = pow(RIN_SIGMA_MAX, 1.0 / RIN_KARRAS_RHO);
        double b = pow(RIN_SIGMA_MIN, 1.0 / RIN_KARRAS_RHO);
        return pow(a + f * (b - a), RIN_KARRAS_RHO);
    }
    /* lambda = -2 log sigma uniform is log sigma uniform */
    return exp(log(RIN_SIGMA_MAX) + f * (log(RIN_SIGMA_MIN) - log(RIN_SIGMA_MAX)));
}

void rin_sampler_levels(const rin_sampler_plan *p, int i, double *gamma_now, double *gamma_next) {
    if (p->spacing == RIN_SPACING_T) {
        double tn, tx;
        rin_sampler_times(&tn, &tx, i, p->steps, p->td);
        *gamma_now = rin_schedule_gamma(&p->schedule, tn);
        /* the spec's samplers step to gamma(0); rin's solvers end on the data, sigma = 0 */
        *gamma_next =
            tx == 0 && !rin_sampler_is_spec(p->kind) ? 1.0 : rin_schedule_gamma(&p->schedule, tx);
        return;
    }
    double sn = spaced_sigma(p->spacing, i, p->steps),
           sx = spaced_sigma(p->spacing, i + 1, p->steps);
    *gamma_now = 1.0 / (1.0 + sn * sn);
    *gamma_next = 1.0 / (1.0 + sx * sx);
}

void rin_sampler_combine(float *x, double cx, const rin_term *terms, int nterms, size_t n) {
    rin_term t[8];
    int nt = 0;
    RIN_ASSERT(nterms <= 8);
    for (int k = 0; k < nterms; k++)
        if (terms[k].c != 0)
            t[nt++] = terms[k];
#pragma omp parallel for schedule(static) if (n >= PAR_MIN)
    for (size_t i = 0; i < n; i++) {
        double v = cx != 0 ? cx * (double)x[i] : 0.0;
        for (int k = 0; k < nt; k++)
            v += t[k].c * (double)t[k].v[i];
        x[i] = (float)v;
    }
}
