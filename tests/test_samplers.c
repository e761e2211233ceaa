/* test_samplers.c -- the sampling loop and rin's solvers (euler, euler_a, heun, dpm++2m) on
 * closed-form cases, where the exact denoiser and the exact ODE solution are known.
 *
 * Data x0 ~ N(MU, V) per element. At VP level gamma (x = a x0 + s eps, a = sqrt(gamma),
 * s = sqrt(1 - gamma)) the exact denoiser is E[x0 | x] = MU + a V / (a^2 V + s^2) (x - a MU), and
 * the probability-flow ODE in the VE view x~ = x/a = x0 + sigma eps has the solution
 * x~(sigma) = MU + sqrt(V + sigma^2) / sqrt(V + sigma0^2) (x~(sigma0) - MU). The hand values
 * below come from k-diffusion's update rules written in that VE view (a short Python script,
 * quoted where used), not from rin's VP-form code, so the two derivations check each other.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "diffusion.h"
#include "internal.h"
#include "test.h"

#define MU 0.3
#define V  0.25

typedef struct gauss {
    size_t n; /* elements per call */
    int calls;
    int first[64]; /* the `first` flag of the first 64 calls */
    double gamma[64];
} gauss;

static rin_status gauss_denoise(void *user, const float *x, double g, int first, float *x0,
                                float *eps) {
    gauss *G = user;
    size_t n = G->n;
    if (G->calls < 64) {
        G->first[G->calls] = first;
        G->gamma[G->calls] = g;
    }
    G->calls++;
    double a = sqrt(g), s = sqrt(1.0 - g);
    for (size_t i = 0; i < n; i++) {
        double d = MU + a * V / (a * a * V + s * s) * ((double)x[i] - a * MU);
        x0[i] = (float)d;
        eps[i] = s > 0 ? (float)(((double)x[i] - a * d) / s) : 0.0f;
    }
    return RIN_STATUS_OK;
}

typedef struct trace {
    int steps;
    double x[16]; /* x after each step, element 0 */
} trace;

static void on_step(void *user, int step, int steps, const float *x0_hat, const float *x) {
    trace *t = user;
    (void)x0_hat;
    if (step < 16)
        t->x[step] = (double)x[0];
    t->steps = steps;
}

static rin_sampler_plan plan_of(rin_sampler_kind k, rin_spacing sp, int N) {
    rin_sampler_plan p;
    memset(&p, 0, sizeof p);
    p.kind = k;
    p.spacing = sp;
    p.steps = N;
    RIN_ASSERT(rin_schedule_parse(&p.schedule, "cosine", NULL, 0) == RIN_STATUS_OK);
    return p;
}

TEST(samplers_levels_and_plans) {
    char err[256];
    rin_spacing sp;
    CHECK(rin_spacing_parse(&sp, "auto", err, sizeof err) == RIN_STATUS_OK && sp == RIN_SPACING_T);
    CHECK(rin_spacing_parse(&sp, "", err, sizeof err) == RIN_STATUS_OK && sp == RIN_SPACING_T);
    CHECK(rin_spacing_parse(&sp, "logsnr", err, sizeof err) == RIN_STATUS_OK &&
          sp == RIN_SPACING_LOGSNR);
    CHECK(rin_spacing_parse(&sp, "edm", err, sizeof err) == RIN_STATUS_CONFIG);
    CHECK_MSG(strstr(err, "spacing 'edm'") && strstr(err, "t, logsnr, karras or auto"), "%s", err);

    /* karras, N = 3: sigma = 80, ((80^(1/7) + 0.002^(1/7))/2)^7 = 2.515218976147159, 0.002, 0;
     * gamma = 1/(1 + sigma^2) */
    rin_sampler_plan p = plan_of(RIN_SAMPLER_HEUN, RIN_SPACING_KARRAS, 3);
    double g, gn;
    rin_sampler_levels(&p, 0, &g, &gn);
    CHECK_CLOSE(g, 1.0 / 6401.0, 1e-15, 1e-12);
    CHECK_CLOSE(gn, 1.0 / (1.0 + 2.515218976147159 * 2.515218976147159), 0, 1e-12);
    rin_sampler_levels(&p, 2, &g, &gn);
    CHECK_CLOSE(g, 1.0 / (1.0 + 0.002 * 0.002), 0, 1e-14);
    CHECK(gn == 1.0);
    CHECK(rin_sampler_calls(&p) == 5);
    /* logsnr, N = 3: the middle sigma is the geometric mean sqrt(80 * 0.002) = 0.4 */
    p = plan_of(RIN_SAMPLER_DPMPP_2M, RIN_SPACING_LOGSNR, 3);
    rin_sampler_levels(&p, 1, &g, &gn);
    CHECK_CLOSE(g, 1.0 / 1.16, 0, 1e-13);
    CHECK(rin_sampler_calls(&p) == 3);
    /* t spacing: the levels of spec 3.4, except that rin's solvers end at gamma = 1 while the
     * spec's samplers step to the schedule's gamma(0) (cosine: 1 - 9.9e-8) */
    p = plan_of(RIN_SAMPLER_EULER, RIN_SPACING_T, 4);
    rin_sampler_levels(&p, 1, &g, &gn);
    CHECK(g == rin_schedule_gamma(&p.schedule, 0.75) && gn == rin_schedule_gamma(&p.schedule, 0.5));
    rin_sampler_levels(&p, 3, &g, &gn);
    CHECK(gn == 1.0);
    p.kind = RIN_SAMPLER_DDIM;
    rin_sampler_levels(&p, 3, &g, &gn);
    CHECK(gn == rin_schedule_gamma(&p.schedule, 0.0) && gn < 1.0);

    /* plans: td belongs to the spec's samplers on the t spacing */
    p.td = 1;
    CHECK(rin_sampler_plan_check(&p, err, sizeof err) == RIN_STATUS_OK);
    p.kind = RIN_SAMPLER_HEUN;
    CHECK(rin_sampler_plan_check(&p, err, sizeof err) == RIN_STATUS_CONFIG);
    CHECK_MSG(strstr(err, "td: 1 applies to ddpm and ddim") && strstr(err, "heun"), "%s", err);
    p = plan_of(RIN_SAMPLER_DDIM, RIN_SPACING_KARRAS, 0);
    CHECK(rin_sampler_plan_check(&p, err, sizeof err) == RIN_STATUS_ARG);
    CHECK_MSG(strstr(err, "steps: 0"), "%s", err);

    rin_sample_config sc;
    rin_sample_config_default(&sc);
    CHECK(rin_sample_plan(&p, &sc, err, sizeof err) == RIN_STATUS_OK);
    /* the default: dpm++2m, 15 steps on the t spacing (auto = t) */
    CHECK(p.kind == RIN_SAMPLER_DPMPP_2M && p.spacing == RIN_SPACING_T && p.steps == 15);
    snprintf(sc.sampler, sizeof sc.sampler, "heun");
    CHECK(rin_sample_plan(&p, &sc, err, sizeof err) == RIN_STATUS_OK);
    CHECK(p.kind == RIN_SAMPLER_HEUN && p.spacing == RIN_SPACING_T);
    snprintf(sc.sampler, sizeof sc.sampler, "dpm++2m");
    CHECK(rin_sample_plan(&p, &sc, err, sizeof err) == RIN_STATUS_OK);
    CHECK(p.kind == RIN_SAMPLER_DPMPP_2M && p.spacing == RIN_SPACING_T);
    snprintf(sc.sampler, sizeof sc.sampler, "euler_a");
    snprintf(sc.latent_carry, sizeof sc.latent_carry, "all");
    CHECK(rin_sample_plan(&p, &sc, err, sizeof err) == RIN_STATUS_CONFIG);
    CHECK_MSG(strstr(err, "latent_carry 'all'") && strstr(err, "call or step"), "%s", err);
}

/* One trajectory against hand values: the logsnr spacing with N = 3 visits sigma = 80, 0.4,
 * 0.002, 0, from x = 0.7 (VP) at sigma = 80. The values (VP, after each step) are from
 *   D(x~, s) = MU + V/(V + s^2) (x~ - MU);  d = (x~ - D)/s
 *   euler:   x~ += (sn - s) d
 *   heun:    x2 = x~ + (sn - s) d; sn = 0: x~ = x2; else x~ += (sn - s)(d + (x2 - D(x2, sn))/sn)/2
 *   dpm++2m: t = -log s, h = t_n - t; first step or sn = 0: x~ = (sn/s) x~ - expm1(-h) D,
 *            else r = h_prev/h, D' = (1 + 1/2r) D - (1/2r) D_prev, x~ = (sn/s) x~ - expm1(-h) D'
 * and x = x~ / sqrt(1 + sn^2). */
TEST(samplers_gaussian_steps_hand) {
    static const struct {
        rin_sampler_kind k;
        double x[3];
        int calls;
    } cases[] = {
        {RIN_SAMPLER_EULER, {0.5391542160, 0.4716972639, 0.4716954601}, 3},
        {RIN_SAMPLER_HEUN, {16.1496128710, 14.0583184694, 14.0581264559}, 5},
        {RIN_SAMPLER_DPMPP_2M, {0.5391542160, 0.5557619883, 0.5557590077}, 3},
    };
    char err[256];
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        rin_sampler_plan p = plan_of(cases[c].k, RIN_SPACING_LOGSNR, 3);
        float x = 0.7f, out;
        gauss G = {.n = 1};
        trace tr = {0};
        rin_rng rng;
        rin_rng_seed(&rng, 1);
        CHECK(rin_sampler_run(&p, 1, &x, &out, &rng, gauss_denoise, &G, on_step, &tr, err,
                              sizeof err) == RIN_STATUS_OK);
        for (int i = 0; i < 3; i++)
            CHECK_MSG(fabs(tr.x[i] - cases[c].x[i]) <= 2e-6 * (1 + fabs(cases[c].x[i])),
                      "%s step %d: x = %.10f, expected %.10f", rin_sampler_name(cases[c].k), i,
                      tr.x[i], cases[c].x[i]);
        CHECK(tr.steps == 3);
        CHECK_MSG(G.calls == cases[c].calls, "%s: %d calls", rin_sampler_name(cases[c].k), G.calls);
        CHECK((double)out == (double)(float)tr.x[2]); /* the result is the final x = x0_hat */
        if (cases[c].k == RIN_SAMPLER_HEUN) {
            /* predictor, corrector at the next level, ..., and no corrector towards sigma = 0 */
            const int want[5] = {1, 0, 1, 0, 1};
            for (int i = 0; i < 5; i++)
                CHECK(G.first[i] == want[i]);
            CHECK(G.gamma[1] == G.gamma[2]); /* the corrector runs at the next step's level */
        }
    }
    /* euler is ddim on the same levels, and both return the last x0_hat */
    float a = 0.7f, b = 0.7f, oa, ob;
    gauss G = {.n = 1};
    rin_rng rng;
    rin_rng_seed(&rng, 1);
    rin_sampler_plan pe = plan_of(RIN_SAMPLER_EULER, RIN_SPACING_KARRAS, 7);
    rin_sampler_plan pd = plan_of(RIN_SAMPLER_DDIM, RIN_SPACING_KARRAS, 7);
    CHECK(rin_sampler_run(&pe, 1, &a, &oa, &rng, gauss_denoise, &G, NULL, NULL, err, sizeof err) ==
          0);
    CHECK(rin_sampler_run(&pd, 1, &b, &ob, &rng, gauss_denoise, &G, NULL, NULL, err, sizeof err) ==
          0);
    CHECK(oa == ob);
}

/* The error at sigma = 0 against the exact ODE solution halves (euler) or quarters (heun,
 * dpm++2m) when the steps double: the methods' orders 1 and 2. Karras spacing, 64 starting
 * points x_T ~ N(0, 1). */
TEST(samplers_gaussian_order) {
    enum { NPT = 64, NN = 4 };
    const int Ns[NN] = {20, 40, 80, 160};
    const struct {
        rin_sampler_kind k;
        double lo, hi;
    } cases[] = {{RIN_SAMPLER_EULER, 0.8, 1.3},
                 {RIN_SAMPLER_HEUN, 1.7, 2.6},
                 {RIN_SAMPLER_DPMPP_2M, 1.7, 2.6}};
    float xT[NPT], x[NPT], out[NPT];
    rin_rng rng;
    rin_rng_seed(&rng, 5);
    for (int i = 0; i < NPT; i++)
        xT[i] = (float)rin_rng_normal(&rng);
    double s0 = RIN_SIGMA_MAX, a0 = 1.0 / sqrt(1.0 + s0 * s0);
    char err[256];
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        double e[NN];
        for (int j = 0; j < NN; j++) {
            rin_sampler_plan p = plan_of(cases[c].k, RIN_SPACING_KARRAS, Ns[j]);
            memcpy(x, xT, sizeof x);
            gauss G = {.n = NPT};
            CHECK(rin_sampler_run(&p, NPT, x, out, &rng, gauss_denoise, &G, NULL, NULL, err,
                                  sizeof err) == RIN_STATUS_OK);
            e[j] = 0;
            for (int i = 0; i < NPT; i++) {
                double exact = MU + sqrt(V) / sqrt(V + s0 * s0) * ((double)xT[i] / a0 - MU);
                double d = fabs((double)out[i] - exact);
                e[j] = d > e[j] ? d : e[j];
            }
        }
        for (int j = 1; j < NN; j++) {
            double slope = log2(e[j - 1] / e[j]);
            printf("  %-8s N %3d -> %3d: max error %.3e -> %.3e, order %.2f\n",
                   rin_sampler_name(cases[c].k), Ns[j - 1], Ns[j], e[j - 1], e[j], slope);
            if (j >= 2) /* the asymptotic range */
                CHECK_MSG(slope >= cases[c].lo && slope <= cases[c].hi,
                          "%s: order %.2f outside [%.1f, %.1f]", rin_sampler_name(cases[c].k),
                          slope, cases[c].lo, cases[c].hi);
        }
    }
}

/* Every sampler on every spacing, 400 steps from x_T ~ N(0, 1), draws from the data
 * distribution: the mean and variance of 10,000 outputs match N(MU, V) (at 100 steps the
 * first-order methods are still 0.014 short in variance). This sees a wrong noise scale in the
 * stochastic samplers (ddpm, euler_a), which the ODE tests cannot. */
TEST(samplers_gaussian_distribution) {
    enum { NPT = 10000 };
    float *x = malloc(NPT * sizeof *x), *out = malloc(NPT * sizeof *out);
    const rin_sampler_kind ks[7] = {RIN_SAMPLER_DDPM,    RIN_SAMPLER_DDPM_SMALL, RIN_SAMPLER_DDIM,
                                    RIN_SAMPLER_EULER,   RIN_SAMPLER_EULER_A,    RIN_SAMPLER_HEUN,
                                    RIN_SAMPLER_DPMPP_2M};
    const rin_spacing sps[3] = {RIN_SPACING_T, RIN_SPACING_LOGSNR, RIN_SPACING_KARRAS};
    char err[256];
    for (int k = 0; k < 7; k++)
        for (int s = 0; s < 3; s++) {
            rin_sampler_plan p = plan_of(ks[k], sps[s], 400);
            rin_rng rng;
            rin_rng_seed(&rng, 11);
            for (int i = 0; i < NPT; i++)
                x[i] = (float)rin_rng_normal(&rng);
            gauss G = {.n = NPT};
            CHECK(rin_sampler_run(&p, NPT, x, out, &rng, gauss_denoise, &G, NULL, NULL, err,
                                  sizeof err) == RIN_STATUS_OK);
            double m = 0, v = 0;
            for (int i = 0; i < NPT; i++)
                m += (double)out[i];
            m /= NPT;
            for (int i = 0; i < NPT; i++)
                v += ((double)out[i] - m) * ((double)out[i] - m);
            v /= NPT - 1;
            /* standard errors: mean 0.005, variance 0.0035 */
            CHECK_MSG(fabs(m - MU) < 0.015 && fabs(v - V) < 0.0125,
                      "%s on %s: mean %.4f (want %.2f), variance %.4f (want %.2f)",
                      rin_sampler_name(ks[k]), rin_spacing_name(sps[s]), m, MU, v, V);
        }
    free(x), free(out);
}

/* A seed gives the same bytes; another seed other bytes (the stochastic samplers). */
TEST(samplers_deterministic_by_seed) {
    enum { NPT = 300 };
    float x[NPT], a[NPT], b[NPT], c[NPT];
    char err[256];
    const rin_sampler_kind ks[3] = {RIN_SAMPLER_DDPM, RIN_SAMPLER_EULER_A, RIN_SAMPLER_DPMPP_2M};
    for (int k = 0; k < 3; k++) {
        float *outs[3] = {a, b, c};
        const uint64_t seeds[3] = {3, 3, 4};
        for (int r = 0; r < 3; r++) {
            rin_sampler_plan p = plan_of(ks[k], RIN_SPACING_KARRAS, 12);
            rin_rng rng;
            rin_rng_seed(&rng, seeds[r]);
            for (int i = 0; i < NPT; i++)
                x[i] = (float)rin_rng_normal(&rng);
            gauss G = {.n = NPT};
            CHECK(rin_sampler_run(&p, NPT, x, outs[r], &rng, gauss_denoise, &G, NULL, NULL, err,
                                  sizeof err) == RIN_STATUS_OK);
        }
        CHECK(!memcmp(a, b, sizeof a));
        CHECK(memcmp(a, c, sizeof a) != 0);
    }
}

/* heun on the t spacing starts at t = 1, where sigma is unbounded: its trapezoid there would
 * multiply (eps' - eps) by (sigma_n - sigma) / 2 and ruin every sample (FD 360 on the shipped
 * model at any step count, before the fix). Such steps are Euler steps, so heun makes 2N - 2
 * calls here and converges to the exact ODE solution from sigma(t = 1) as N grows. */
TEST(samplers_heun_from_t_spacing) {
    enum { NPT = 64, NN = 3 };
    const int Ns[NN] = {20, 40, 80};
    float xT[NPT], x[NPT], out[NPT];
    rin_rng rng;
    rin_rng_seed(&rng, 9);
    for (int i = 0; i < NPT; i++)
        xT[i] = (float)rin_rng_normal(&rng);
    char err[256];
    double e[NN];
    for (int j = 0; j < NN; j++) {
        rin_sampler_plan p = plan_of(RIN_SAMPLER_HEUN, RIN_SPACING_T, Ns[j]);
        CHECK_MSG(rin_sampler_calls(&p) == 2 * Ns[j] - 2, "N %d: %d calls", Ns[j],
                  rin_sampler_calls(&p));
        double g0, g1;
        rin_sampler_levels(&p, 0, &g0, &g1);
        CHECK(!rin_heun_corrects(g0, g1) && rin_heun_corrects(g1, 0.5));
        memcpy(x, xT, sizeof x);
        gauss G = {.n = NPT};
        CHECK(rin_sampler_run(&p, NPT, x, out, &rng, gauss_denoise, &G, NULL, NULL, err,
                              sizeof err) == RIN_STATUS_OK);
        CHECK(G.calls == 2 * Ns[j] - 2);
        e[j] = 0;
        for (int i = 0; i < NPT; i++) { /* the exact map from gamma g0 to sigma = 0 */
            double exact = MU + sqrt(V) / sqrt(V * g0 + 1.0 - g0) * ((double)xT[i] - MU * sqrt(g0));
            double d = fabs((double)out[i] - exact);
            e[j] = d > e[j] ? d : e[j];
        }
        printf("  heun on t, N %d: max error %.3e\n", Ns[j], e[j]);
    }
    CHECK_MSG(e[1] < e[0] && e[2] < e[1] && e[2] < 1e-2, "errors %.3e %.3e %.3e", e[0], e[1], e[2]);
    /* Karras levels stay inside EDM's range: the corrector runs on every step but the last */
    rin_sampler_plan k = plan_of(RIN_SAMPLER_HEUN, RIN_SPACING_KARRAS, 10);
    CHECK(rin_sampler_calls(&k) == 19);
}
