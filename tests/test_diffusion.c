/* test_diffusion.c -- the diffusion formulation of spec section 3:
 *   - the schedules' worked examples and endpoints (3.1), monotonicity on a grid, parsing and
 *     its error messages;
 *   - add_noise, normalisation, targets and the x0/eps recovery of 3.3: exact round trips for
 *     every pred type, clipping with the truncated-noise recomputation on hand cases, finite
 *     results at gamma = 1e-9 and gamma = 1;
 *   - single DDIM and DDPM (large, small) transitions against hand-computed numbers (3.4),
 *     the last step with gamma_next = 1, the time grid with td = 0 and td = 1;
 *   - 1 vs 2 threads on buffers large enough for the OpenMP loops.
 */
#include <stdlib.h>
#include <string.h>

#include "diffusion.h"
#include "internal.h"
#include "parallel.h"
#include "test.h"

static rin_schedule sched(const char *text) {
    rin_schedule s;
    char err[256];
    rin_status st = rin_schedule_parse(&s, text, err, sizeof err);
    CHECK_MSG(st == RIN_STATUS_OK, "rin_schedule_parse('%s'): %s", text, err);
    return s;
}

/* ---- schedules (3.1) ------------------------------------------------------------------------- */

TEST(diffusion_schedule_sigmoid_examples) {
    /* spec 3.1: sigmoid@-3,3,0.9 gives 1, 0.866, 0.5, 0.134, 0 (-> 1e-9) */
    rin_schedule s = sched("sigmoid@-3,3,0.9");
    const double t[5] = {0, 0.25, 0.5, 0.75, 1}, want[5] = {1, 0.866, 0.5, 0.134, 1e-9};
    for (int i = 0; i < 5; i++)
        CHECK_CLOSE(rin_schedule_gamma(&s, t[i]), want[i], 1e-3, 0);
    CHECK(rin_schedule_gamma(&s, 0) == 1.0);  /* (v_end - v_start)/(v_end - v_start) */
    CHECK(rin_schedule_gamma(&s, 1) == 1e-9); /* 0, clipped */
    /* "sigmoid" alone is sigmoid@-3,3,1; symmetric, so gamma(0.5) = 0.5 */
    rin_schedule d = sched("sigmoid");
    rin_schedule d1 = sched("sigmoid@-3,3,1");
    CHECK(d.kind == RIN_SCHEDULE_SIGMOID && d.s == -3 && d.e == 3 && d.tau == 1);
    CHECK(!strcmp(d.text, "sigmoid@-3,3,1"));
    for (int i = 0; i <= 10; i++)
        CHECK(rin_schedule_gamma(&d, i / 10.0) == rin_schedule_gamma(&d1, i / 10.0));
    CHECK_CLOSE(rin_schedule_gamma(&d, 0.5), 0.5, 1e-15, 0);
    /* t = 0.25 with tau = 1: (s(3) - s(-1.5))/(s(3) - s(-3)) = (0.9525741 - 0.1824255)/0.9051483 */
    CHECK_CLOSE(rin_schedule_gamma(&d, 0.25), 0.85085355, 1e-8, 0);
}

TEST(diffusion_schedule_cosine_simple) {
    rin_schedule s = sched("cosine");
    CHECK(s.kind == RIN_SCHEDULE_COSINE_SIMPLE && !strcmp(s.text, "cosine"));
    double g0 = rin_schedule_gamma(&s, 0), g1 = rin_schedule_gamma(&s, 1);
    printf("  cosine: 1 - gamma(0) = %.4e, gamma(1) = %.4e\n", 1 - g0, g1);
    /* spec: gamma(0) ~ 1 - 9.9e-8, gamma(1) ~ 6.2e-9 (to the digits stated); no clipping */
    CHECK_CLOSE(1 - g0, 9.9e-8, 0.05e-8, 0);
    CHECK_CLOSE(g1, 6.2e-9, 0.05e-9, 0);
    /* cos^2(0.5002/1.00025 pi/2) = 0.5 - sin(0.000075 pi)/2 = 0.49988222 */
    CHECK_CLOSE(rin_schedule_gamma(&s, 0.5), 0.49988222, 1e-8, 0);
}

TEST(diffusion_schedule_linear_and_cosine_param) {
    rin_schedule l = sched("simple_linear");
    CHECK(l.kind == RIN_SCHEDULE_LINEAR);
    CHECK(rin_schedule_gamma(&l, 0) == 1.0);
    CHECK_CLOSE(rin_schedule_gamma(&l, 0.3), 0.7, 1e-15, 0);
    CHECK(rin_schedule_gamma(&l, 1) == 1e-9);
    rin_schedule c = sched("cosine@0.2,1,1");
    CHECK(c.kind == RIN_SCHEDULE_COSINE && !strcmp(c.text, "cosine@0.2,1,1"));
    CHECK(rin_schedule_gamma(&c, 0) == 1.0);  /* output == v_start */
    CHECK(rin_schedule_gamma(&c, 1) == 1e-9); /* output == v_end: 0, clipped */
    /* t = 0.5: cos^2(0.6 pi/2)/cos^2(0.2 pi/2) = 0.3454915/0.9045085 = 0.3819660 (v_end ~ 4e-33) */
    CHECK_CLOSE(rin_schedule_gamma(&c, 0.5), 0.38196601, 1e-8, 0);
    /* tau = 1 with start 0 and end 1 is the plain cos^2(t pi/2) */
    rin_schedule p = sched("cosine@0,1,1");
    CHECK_CLOSE(rin_schedule_gamma(&p, 0.5), 0.5, 1e-15, 0);
}

TEST(diffusion_schedule_monotone) {
    const char *names[] = {"cosine",           "cosine@0.2,1,1",   "cosine@0,1,0.5",
                           "sigmoid",          "sigmoid@-3,3,0.9", "sigmoid@0,3,0.3",
                           "sigmoid@-3,3,1.1", "simple_linear"};
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
        rin_schedule s = sched(names[k]);
        double prev = rin_schedule_gamma(&s, 0);
        int bad = 0;
        for (int i = 1; i <= 1000 && !bad; i++) {
            double g = rin_schedule_gamma(&s, i / 1000.0);
            int clipped = g == 1e-9 || g == 1.0;
            if (!(g > 0 && g <= 1) || !(g <= prev) || (!clipped && !(g < prev))) {
                CHECK_MSG(0, "%s: gamma(%g) = %.17g after %.17g", names[k], i / 1000.0, g, prev);
                bad = 1;
            }
            prev = g;
        }
    }
}

TEST(diffusion_schedule_parse_errors) {
    struct {
        const char *text, *msg;
    } cases[] = {
        {"sigmoid@-3,3", "schedule 'sigmoid@-3,3': expected sigmoid@start,end,tau"},
        {"sigmoid@-3,3,1,2", "expected sigmoid@start,end,tau"},
        {"sigmoid@a,b,c", "expected sigmoid@start,end,tau"},
        {"sigmoid@ -3,3,1", "expected sigmoid@start,end,tau"},
        {"sigmoid@-3,3,", "expected sigmoid@start,end,tau"},
        {"sigmoid@-3,3,inf", "expected sigmoid@start,end,tau"},
        {"sigmoid@3,-3,1", "schedule 'sigmoid@3,-3,1': expected start < end and tau > 0"},
        {"sigmoid@-3,3,0", "expected start < end and tau > 0"},
        {"cosine@0.2,1", "schedule 'cosine@0.2,1': expected cosine@start,end,tau"},
        {"cosine@", "expected cosine@start,end,tau"},
        {"cosine@0,1.5,1", "expected 0 <= start < end <= 1 and tau > 0"},
        {"cosine@0.5,0.2,1", "expected 0 <= start < end <= 1 and tau > 0"},
        {"cosine@0,1,-1", "expected 0 <= start < end <= 1 and tau > 0"},
        {"log@0.01,1,0", "schedule 'log@0.01,1,0': unknown (expected cosine"},
        {"Cosine", "unknown"},
        {"", "unknown"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        rin_schedule s;
        char err[256] = "";
        rin_status st = rin_schedule_parse(&s, cases[i].text, err, sizeof err);
        CHECK_MSG(st == RIN_STATUS_CONFIG, "'%s' was accepted", cases[i].text);
        CHECK_MSG(strstr(err, cases[i].msg) != NULL, "'%s': message '%s' lacks '%s'", cases[i].text,
                  err, cases[i].msg);
    }
    rin_schedule s;
    char err[256];
    CHECK(rin_schedule_parse(&s, "sigmoid@-3,3,0.9", err, sizeof err) == RIN_STATUS_OK);
    CHECK(!strcmp(s.text, "sigmoid@-3,3,0.9"));
    CHECK(rin_schedule_parse(&s, "sigmoid@-3.0,3e0,.9", err, sizeof err) == RIN_STATUS_OK);
    CHECK(!strcmp(s.text, "sigmoid@-3,3,0.9")); /* normalised */
    CHECK(rin_schedule_parse(&s, "cosine", NULL, 0) == RIN_STATUS_OK);
    CHECK(rin_schedule_parse(&s, "bogus", NULL, 0) == RIN_STATUS_CONFIG); /* err may be NULL */
}

TEST(diffusion_pred_type_and_sampler_names) {
    rin_pred_type p;
    char err[256];
    CHECK(rin_pred_type_parse(&p, "eps", err, sizeof err) == RIN_STATUS_OK && p == RIN_PRED_EPS);
    CHECK(rin_pred_type_parse(&p, "x0", err, sizeof err) == RIN_STATUS_OK && p == RIN_PRED_X0);
    CHECK(rin_pred_type_parse(&p, "x", err, sizeof err) == RIN_STATUS_OK && p == RIN_PRED_X0);
    CHECK(rin_pred_type_parse(&p, "v", err, sizeof err) == RIN_STATUS_OK && p == RIN_PRED_V);
    CHECK(rin_pred_type_parse(&p, "noise", err, sizeof err) == RIN_STATUS_CONFIG);
    CHECK_MSG(strstr(err, "pred_type 'noise'") && strstr(err, "eps, x0 (or x) or v"), "%s", err);
    const rin_pred_type all[3] = {RIN_PRED_EPS, RIN_PRED_X0, RIN_PRED_V};
    for (int i = 0; i < 3; i++)
        CHECK(rin_pred_type_parse(&p, rin_pred_type_name(all[i]), NULL, 0) == RIN_STATUS_OK &&
              p == all[i]);

    rin_sampler_kind k;
    CHECK(rin_sampler_parse(&k, "ddpm", err, sizeof err) == RIN_STATUS_OK && k == RIN_SAMPLER_DDPM);
    CHECK(rin_sampler_parse(&k, "ddpm@large", err, sizeof err) == RIN_STATUS_OK &&
          k == RIN_SAMPLER_DDPM);
    CHECK(rin_sampler_parse(&k, "ddpm@small", err, sizeof err) == RIN_STATUS_OK &&
          k == RIN_SAMPLER_DDPM_SMALL);
    CHECK(rin_sampler_parse(&k, "ddim", err, sizeof err) == RIN_STATUS_OK && k == RIN_SAMPLER_DDIM);
    CHECK(rin_sampler_parse(&k, "ddpm@medium", err, sizeof err) == RIN_STATUS_CONFIG);
    CHECK_MSG(strstr(err, "sampler 'ddpm@medium'") && strstr(err, "heun or dpm++2m"), "%s", err);
    const rin_sampler_kind ks[7] = {RIN_SAMPLER_DDPM,    RIN_SAMPLER_DDPM_SMALL, RIN_SAMPLER_DDIM,
                                    RIN_SAMPLER_EULER,   RIN_SAMPLER_EULER_A,    RIN_SAMPLER_HEUN,
                                    RIN_SAMPLER_DPMPP_2M};
    for (int i = 0; i < 7; i++)
        CHECK(rin_sampler_parse(&k, rin_sampler_name(ks[i]), NULL, 0) == RIN_STATUS_OK &&
              k == ks[i]);
}

/* ---- forward process and targets (3.2, 3.3) -------------------------------------------------- */

TEST(diffusion_add_noise_target_normalize_hand) {
    /* gamma = 0.36: sqrt = 0.6, sqrt(1 - gamma) = 0.8.
     * x_t = 0.6 * 0.5 + 0.8 * (-1) = -0.5;  v = 0.6 * (-1) - 0.8 * 0.5 = -1.0 */
    float x0[2] = {0.5f, 0.25f}, eps[2] = {-1.0f, 0.5f}, gam[2] = {0.36f, 1.0f}, xt[2], v[2];
    rin_diffusion_add_noise(xt, x0, eps, gam, 2, 1);
    CHECK_CLOSE(xt[0], -0.5, 1e-7, 0);
    CHECK(xt[1] == 0.25f); /* gamma = 1: x_t = x0 */
    rin_diffusion_target(v, RIN_PRED_V, x0, eps, gam, 2, 1);
    CHECK_CLOSE(v[0], -1.0, 1e-7, 0);
    CHECK(v[1] == 0.5f); /* gamma = 1: v = eps */
    rin_diffusion_target(v, RIN_PRED_EPS, x0, eps, gam, 2, 1);
    CHECK(v[0] == eps[0] && v[1] == eps[1]);
    rin_diffusion_target(v, RIN_PRED_X0, x0, eps, gam, 2, 1);
    CHECK(v[0] == x0[0] && v[1] == x0[1]);

    /* normalisation: [2, 6] has mean 4 and population std 2 -> [1, 3] (not centred); a
     * constant example (std 0) is left as it is */
    float a[6] = {2, 6, 2, 6, 5, 5};
    rin_diffusion_normalize(a, 3, 2);
    CHECK(a[0] == 1 && a[1] == 3 && a[2] == 1 && a[3] == 3 && a[4] == 5 && a[5] == 5);
    enum { B = 3, PER = 777 };
    float *r = malloc(sizeof(float) * B * PER);
    test_fill_uniform(r, (size_t)B * PER, 7, -3, 5);
    rin_diffusion_normalize(r, B, PER);
    for (int b = 0; b < B; b++) {
        double m = 0, s = 0;
        for (int i = 0; i < PER; i++)
            m += (double)r[b * PER + i];
        m /= PER;
        for (int i = 0; i < PER; i++)
            s += ((double)r[b * PER + i] - m) * ((double)r[b * PER + i] - m);
        CHECK_CLOSE(sqrt(s / PER), 1.0, 1e-6, 0);
    }
    free(r);
}

TEST(diffusion_x0_eps_round_trip) {
    enum { B = 4, PER = 300, N = B * PER };
    float *x0 = malloc(N * 4), *eps = malloc(N * 4), *xt = malloc(N * 4), *out = malloc(N * 4);
    float *x0h = malloc(N * 4), *epsh = malloc(N * 4);
    float gam[B] = {0.05f, 0.3f, 0.7f, 0.95f};
    test_fill_uniform(x0, N, 11, -1, 1);
    test_fill_uniform(eps, N, 12, -2.5f, 2.5f);
    rin_diffusion_add_noise(xt, x0, eps, gam, B, PER);
    const rin_pred_type all[3] = {RIN_PRED_EPS, RIN_PRED_X0, RIN_PRED_V};
    for (int k = 0; k < 3; k++) {
        rin_diffusion_target(out, all[k], x0, eps, gam, B, PER);
        for (int clip = 0; clip < 2; clip++) {
            /* x0 lies in [-1, 1], so clip = 1 changes nothing */
            rin_diffusion_x0_eps(x0h, epsh, out, xt, gam, B, PER, all[k], clip ? 1.0f : 0.0f);
            char what[64];
            snprintf(what, sizeof what, "%s clip=%d x0", rin_pred_type_name(all[k]), clip);
            tensor_err ex = tensor_compare_f32(x0h, x0, N, 1e-5, 0);
            tensor_err_print(what, ex, NULL, NULL, N);
            snprintf(what, sizeof what, "%s clip=%d eps", rin_pred_type_name(all[k]), clip);
            tensor_err ee = tensor_compare_f32(epsh, eps, N, 1e-5, 0);
            tensor_err_print(what, ee, NULL, NULL, N);
            CHECK_MSG(ex.n_bad == 0 && ee.n_bad == 0, "%s clip=%d: max err x0 %.3e eps %.3e",
                      rin_pred_type_name(all[k]), clip, ex.max_abs, ee.max_abs);
            if (all[k] == RIN_PRED_EPS && !clip)
                CHECK(!memcmp(epsh, out, N * 4)); /* the network's eps, untouched */
        }
    }
    /* either output may be NULL */
    rin_diffusion_x0_eps(NULL, epsh, out, xt, gam, B, PER, RIN_PRED_V, 1.0f);
    rin_diffusion_x0_eps(x0h, NULL, out, xt, gam, B, PER, RIN_PRED_V, 1.0f);
    free(x0), free(eps), free(xt), free(out), free(x0h), free(epsh);
}

TEST(diffusion_x0_eps_clip_recomputes_eps) {
    /* gamma = 0.25: sqrt(gamma) = 0.5, sqrt(1 - gamma) = 0.8660254; x_t = 0.9.
     * eps prediction, out = -0.8: x0 = (0.9 + 0.8660254 * 0.8)/0.5 = 3.1856406, clipped to 1;
     *   eps recomputed = (0.9 - 0.5 * 1)/0.8660254 = 0.46188022.
     * v prediction, out = -1.5: x0 = 0.5 * 0.9 + 0.8660254 * 1.5 = 1.7490381 -> 1, same eps;
     *   unclipped eps = 0.8660254 * 0.9 + 0.5 * (-1.5) = 0.02942286.
     * x0 prediction, out = 2: clipped to 1, same eps; unclipped eps = (0.9 - 1)/0.8660254
     *   = -0.11547005. */
    float xt = 0.9f, g = 0.25f, x0, eps;
    float o_eps = -0.8f, o_v = -1.5f, o_x = 2.0f, o_xn = -2.0f;
    rin_diffusion_x0_eps(&x0, &eps, &o_eps, &xt, &g, 1, 1, RIN_PRED_EPS, 1.0f);
    CHECK(x0 == 1.0f);
    CHECK_CLOSE(eps, 0.46188022, 1e-7, 0);
    rin_diffusion_x0_eps(&x0, &eps, &o_eps, &xt, &g, 1, 1, RIN_PRED_EPS, 0.0f);
    CHECK_CLOSE(x0, 3.1856406, 1e-6, 0);
    CHECK(eps == o_eps);
    rin_diffusion_x0_eps(&x0, &eps, &o_v, &xt, &g, 1, 1, RIN_PRED_V, 1.0f);
    CHECK(x0 == 1.0f);
    CHECK_CLOSE(eps, 0.46188022, 1e-7, 0);
    rin_diffusion_x0_eps(&x0, &eps, &o_v, &xt, &g, 1, 1, RIN_PRED_V, 0.0f);
    CHECK_CLOSE(x0, 1.7490381, 1e-6, 0);
    CHECK_CLOSE(eps, 0.02942286, 1e-7, 0);
    rin_diffusion_x0_eps(&x0, &eps, &o_x, &xt, &g, 1, 1, RIN_PRED_X0, 1.0f);
    CHECK(x0 == 1.0f);
    CHECK_CLOSE(eps, 0.46188022, 1e-7, 0);
    rin_diffusion_x0_eps(&x0, &eps, &o_x, &xt, &g, 1, 1, RIN_PRED_X0, 0.0f);
    CHECK(x0 == 2.0f);
    CHECK_CLOSE(eps, -0.11547005, 1e-7, 0);
    /* the lower bound: x0 = -2 -> -1, eps = (0.9 + 0.5)/0.8660254 = 1.6165808 */
    rin_diffusion_x0_eps(&x0, &eps, &o_xn, &xt, &g, 1, 1, RIN_PRED_X0, 1.0f);
    CHECK(x0 == -1.0f);
    CHECK_CLOSE(eps, 1.6165808, 1e-6, 0);
    /* b_scale 0.5 clips to [-0.5, 0.5]: eps = (0.9 - 0.25)/0.8660254 = 0.75055535 */
    rin_diffusion_x0_eps(&x0, &eps, &o_eps, &xt, &g, 1, 1, RIN_PRED_EPS, 0.5f);
    CHECK(x0 == 0.5f);
    CHECK_CLOSE(eps, 0.75055535, 1e-7, 0);
}

TEST(diffusion_x0_eps_extreme_gamma_finite) {
    /* gamma = 1e-9 (the clip floor): sqrt = 3.2e-5; gamma = 1 - 2^-24: sqrt(1 - g) = 2.4e-4;
     * gamma = 1 exactly (sigmoid and linear at t = 0) */
    float gam[3] = {1e-9f, 1.0f - 5.9604645e-8f, 1.0f};
    float xt[3] = {0.7f, -0.4f, 0.3f}, out[3] = {0.9f, -1.2f, 0.5f}, x0[3], eps[3];
    const rin_pred_type all[3] = {RIN_PRED_EPS, RIN_PRED_X0, RIN_PRED_V};
    for (int k = 0; k < 3; k++)
        for (int clip = 0; clip < 2; clip++)
            for (int b = 0; b < 3; b++) {
                rin_diffusion_x0_eps(&x0[b], &eps[b], &out[b], &xt[b], &gam[b], 1, 1, all[k],
                                     clip ? 1.0f : 0.0f);
                CHECK_MSG(isfinite(x0[b]) && isfinite(eps[b]),
                          "%s clip=%d gamma=%.9g: x0 %g eps %g", rin_pred_type_name(all[k]), clip,
                          (double)gam[b], (double)x0[b], (double)eps[b]);
                if (clip)
                    CHECK(fabsf(x0[b]) <= 1.0f);
            }
    /* eps prediction at gamma = 1e-9 with clipping: x0 = (0.7 - 0.9)/3.16e-5 -> -1, then
     * eps = (0.7 + 3.1623e-5)/sqrt(1 - 1e-9) = 0.70003162 */
    float g0 = 1e-9f;
    rin_diffusion_x0_eps(x0, eps, &out[0], &xt[0], &g0, 1, 1, RIN_PRED_EPS, 1.0f);
    CHECK(x0[0] == -1.0f);
    CHECK_CLOSE(eps[0], 0.70003162, 1e-7, 0);
}

/* ---- samplers (3.4) -------------------------------------------------------------------------- */

TEST(diffusion_sampler_steps_hand) {
    /* g_now = 0.5, g_next = 0.8, x = 0.3, x0_hat = 0.2, eps_hat = 0.1, z = 0.5.
     * DDIM: sqrt(0.8) 0.2 + sqrt(0.2) 0.1 = 0.5 sqrt(0.2) = 0.22360680.
     * DDPM: alpha = 0.5/0.8 = 0.625; mu = (0.3 - 0.375/sqrt(0.5) 0.1)/sqrt(0.625)
     *   = (0.3 - 0.05303301)/0.79056942 = 0.31239128;
     *   large: sigma = sqrt(0.375) = 0.61237244, x = mu + 0.5 sigma = 0.61857750;
     *   small: sigma^2 = (0.2/0.5) 0.375 = 0.15, x = mu + 0.5 sqrt(0.15) = 0.50604045. */
    float x0 = 0.2f, eps = 0.1f, z = 0.5f, x;
    x = 0.3f;
    rin_sampler_step(&x, &x0, &eps, NULL, RIN_SAMPLER_DDIM, 0.5, 0.8, 1);
    CHECK_CLOSE(x, 0.22360680, 2e-8, 0);
    x = 0.3f;
    rin_sampler_step(&x, &x0, &eps, &z, RIN_SAMPLER_DDPM, 0.5, 0.8, 1);
    CHECK_CLOSE(x, 0.61857750, 6e-8, 0);
    x = 0.3f;
    rin_sampler_step(&x, &x0, &eps, &z, RIN_SAMPLER_DDPM_SMALL, 0.5, 0.8, 1);
    CHECK_CLOSE(x, 0.50604045, 6e-8, 0);
    /* z = 0 gives mu itself */
    float z0 = 0;
    x = 0.3f;
    rin_sampler_step(&x, &x0, &eps, &z0, RIN_SAMPLER_DDPM, 0.5, 0.8, 1);
    CHECK_CLOSE(x, 0.31239128, 3e-8, 0);
    /* g_now >= g_next: alpha clipped to 1, so mu = x and sigma = 0 */
    x = 0.3f;
    rin_sampler_step(&x, &x0, &eps, &z, RIN_SAMPLER_DDPM, 0.9, 0.8, 1);
    CHECK(x == 0.3f);
}

TEST(diffusion_ddpm_last_step_finite) {
    /* the last step has t_next = 0, where sigmoid and simple_linear give gamma_next = 1 and
     * cosine 1 - 9.9e-8; g_now close to 1 as well with many steps */
    const double gn[4] = {0.9, 1.0 - 1e-7, 1.0 - 1e-12, 1.0};
    const double gx[2] = {1.0, 1.0 - 9.9e-8};
    float x0 = 0.2f, eps = -0.7f, z = 1.3f;
    for (int k = 0; k < 2; k++)
        for (int i = 0; i < 4; i++)
            for (int j = 0; j < 2; j++) {
                float x = 0.4f;
                rin_sampler_kind kind = k ? RIN_SAMPLER_DDPM_SMALL : RIN_SAMPLER_DDPM;
                rin_sampler_step(&x, &x0, &eps, &z, kind, gn[i], gx[j], 1);
                CHECK_MSG(isfinite(x) && fabsf(x) < 10, "%s g_now %.17g g_next %.17g: x = %g",
                          rin_sampler_name(kind), gn[i], gx[j], (double)x);
            }
    /* g_now = 0.9, g_next = 1: alpha = 0.9, small sigma = 0, so x = mu:
     * (0.4 - 0.1/sqrt(0.1) (-0.7))/sqrt(0.9) = (0.4 + 0.22135944)/0.9486833 = 0.65497035 */
    float x = 0.4f;
    rin_sampler_step(&x, &x0, &eps, &z, RIN_SAMPLER_DDPM_SMALL, 0.9, 1.0, 1);
    CHECK_CLOSE(x, 0.65497035, 6e-8, 0);
}

TEST(diffusion_sampler_times) {
    /* T = 4, td = 0: (1, .75), (.75, .5), (.5, .25), (.25, 0) */
    const double now0[4] = {1, 0.75, 0.5, 0.25}, next0[4] = {0.75, 0.5, 0.25, 0};
    /* td = 1: t_next = max(1 - (i + 2)/4, 0) = .5, .25, 0, 0 */
    const double next1[4] = {0.5, 0.25, 0, 0};
    for (int i = 0; i < 4; i++) {
        double a, b;
        rin_sampler_times(&a, &b, i, 4, 0);
        CHECK(a == now0[i] && b == next0[i]);
        rin_sampler_times(&a, &b, i, 4, 1);
        CHECK(a == now0[i] && b == next1[i]);
    }
    double a, b;
    rin_sampler_times(&a, &b, 0, 1, 0);
    CHECK(a == 1 && b == 0);
    rin_sampler_times(&a, &b, 999, 1000, 0);
    CHECK_CLOSE(a, 0.001, 1e-15, 0);
    CHECK(b == 0);
}

/* ---- T5 -------------------------------------------------------------------------------------- */

TEST(diffusion_threads_bitwise) {
    enum { B = 3, PER = 40000, N = B * PER };
    float *x0 = malloc(N * 4), *eps = malloc(N * 4), *out = malloc(N * 4), *z = malloc(N * 4);
    float *xt[2], *a[2], *e[2];
    float gam[B] = {0.1f, 0.5f, 0.97f};
    test_fill_uniform(x0, N, 21, -1, 1);
    test_fill_uniform(eps, N, 22, -2, 2);
    test_fill_uniform(out, N, 23, -2, 2);
    test_fill_uniform(z, N, 24, -2, 2);
#ifdef _OPENMP
    int saved = omp_get_max_threads();
#endif
    for (int r = 0; r < 2; r++) {
#ifdef _OPENMP
        omp_set_num_threads(r + 1);
#endif
        xt[r] = malloc(N * 4), a[r] = malloc(N * 4), e[r] = malloc(N * 4);
        rin_diffusion_add_noise(xt[r], x0, eps, gam, B, PER);
        rin_diffusion_x0_eps(a[r], e[r], out, xt[r], gam, B, PER, RIN_PRED_V, 1.0f);
        rin_sampler_step(xt[r], a[r], e[r], z, RIN_SAMPLER_DDPM, 0.5, 0.6, N);
        rin_diffusion_normalize(xt[r], B, PER);
    }
#ifdef _OPENMP
    omp_set_num_threads(saved);
#endif
    CHECK(!memcmp(xt[0], xt[1], N * 4));
    CHECK(!memcmp(a[0], a[1], N * 4));
    CHECK(!memcmp(e[0], e[1], N * 4));
    for (int r = 0; r < 2; r++)
        free(xt[r]), free(a[r]), free(e[r]);
    free(x0), free(eps), free(out), free(z);
}
