/* test_optim.c -- the optimisers, lr schedule, EMA and norms of spec section 4:
 *   - LAMB and AdamW single updates and 3 consecutive LAMB updates against the float64
 *     fixture tests/fixtures/optim_lamb.safetensors (ref/make_optim_fixture.py);
 *   - the exclusions: with g = 0, decayed tensors shrink by exactly lr ratio wd w and biases
 *     and LayerNorm parameters stay bitwise equal; the alignment padding is never touched;
 *   - the warm-up and truncated cosine of rin_lr_at, including the final factors of spec 4;
 *   - one EMA step, the global norm against a plain double sum, rin_scale;
 *   - T5: 1 vs 2 (and 3) threads give bitwise identical updates and norms.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "optim.h"
#include "parallel.h"
#include "simd.h"
#include "test.h"

/* ---- helpers --------------------------------------------------------------------------------- */

static void set_threads(int n) {
#ifdef _OPENMP
    omp_set_num_threads(n);
#else
    (void)n;
#endif
}

static int threads_now(void) {
    return rin_max_threads();
}

static rin_optim_config optim_config(rin_optimizer_kind kind) {
    rin_optim_config o;
    memset(&o, 0, sizeof o);
    o.kind = kind;
    o.lr = 2e-3;
    o.beta1 = 0.9;
    o.beta2 = 0.999;
    o.eps = 1e-8;
    o.weight_decay = 0.01;
    return o;
}

/* The "tiny" preset with an interface width of 24, so that some tensors (24 floats) are
 * followed by alignment padding: every tensor of the preset itself has a multiple of 16. */
static rin_model *tiny_model(void) {
    rin_config c;
    rin_model *m = NULL;
    char err[256];
    RIN_ASSERT(rin_config_preset(&c, "tiny", err, sizeof err) == RIN_STATUS_OK);
    RIN_ASSERT(rin_config_set(&c, "tape_dim", "24", err, sizeof err) == RIN_STATUS_OK);
    RIN_ASSERT(rin_model_create(&m, &c, err, sizeof err) == RIN_STATUS_OK);
    return m;
}

static float *alloc_floats(size_t n) {
    float *p = calloc(n ? n : 1, sizeof *p);
    RIN_ASSERT(p != NULL);
    return p;
}

/* Marks every float outside the table's tensors with a sentinel; returns how many. */
static size_t fill_padding(float *buf, const rin_model *m, float value) {
    size_t nf = rin_model_buffer_floats(m), count = 0;
    unsigned char *in = calloc(nf, 1);
    RIN_ASSERT(in != NULL);
    for (int t = 0; t < rin_model_num_tensors(m); t++) {
        const rin_tensor_info *ti = rin_model_tensor(m, t);
        memset(in + ti->offset, 1, ti->numel);
    }
    for (size_t i = 0; i < nf; i++)
        if (!in[i]) {
            buf[i] = value;
            count++;
        }
    free(in);
    return count;
}

/* Random w, g, m, v over the table tensors of m (v >= 0). */
static void fill_state(float *w, float *g, float *mm, float *v, const rin_model *m,
                       unsigned long long seed) {
    for (int t = 0; t < rin_model_num_tensors(m); t++) {
        const rin_tensor_info *ti = rin_model_tensor(m, t);
        unsigned long long s = seed * 1000 + (unsigned long long)t * 4;
        test_fill_uniform(w + ti->offset, ti->numel, s, -0.5f, 0.5f);
        test_fill_uniform(g + ti->offset, ti->numel, s + 1, -0.05f, 0.05f);
        test_fill_uniform(mm + ti->offset, ti->numel, s + 2, -0.02f, 0.02f);
        test_fill_uniform(v + ti->offset, ti->numel, s + 3, 1e-5f, 1e-3f);
    }
}

/* ---- the fixture ----------------------------------------------------------------------------- */

typedef struct optim_fixture {
    rin_st_file *f;
    rin_model *m;
    size_t nf;
    float *w, *g, *mm, *v, *g2, *g3; /* inputs, model layout */
    char path[512];
} optim_fixture;

static int fixture_open(optim_fixture *fx) {
    char err[512];
    memset(fx, 0, sizeof *fx);
    snprintf(fx->path, sizeof fx->path, "%s/optim_lamb.safetensors", test_fixture_dir());
    if (rin_st_read(&fx->f, fx->path, err, sizeof err)) {
        test_fail(__FILE__, __LINE__, "%s", err);
        return 0;
    }
    rin_config c;
    if (rin_config_from_meta(&c, fx->f, fx->path, err, sizeof err) ||
        rin_model_create(&fx->m, &c, err, sizeof err)) {
        test_fail(__FILE__, __LINE__, "%s", err);
        return 0;
    }
    fx->nf = rin_model_buffer_floats(fx->m);
    float **bufs[6] = {&fx->w, &fx->g, &fx->mm, &fx->v, &fx->g2, &fx->g3};
    const char *roles[6] = {"w", "g", "m", "v", "g2", "g3"};
    for (int r = 0; r < 6; r++) {
        char prefix[16];
        *bufs[r] = alloc_floats(fx->nf);
        snprintf(prefix, sizeof prefix, "in.%s.", roles[r]);
        if (rin_model_read_tensors(fx->m, *bufs[r], fx->f, prefix, fx->path, err, sizeof err)) {
            test_fail(__FILE__, __LINE__, "%s", err);
            return 0;
        }
    }
    /* the fixture's exclusion list must be the table's */
    const rin_st_tensor *dt = rin_st_find(fx->f, "decayed");
    int nt = rin_model_num_tensors(fx->m);
    CHECK(dt && dt->dtype == RIN_DTYPE_I32 && dt->numel == (size_t)nt);
    if (dt && dt->dtype == RIN_DTYPE_I32 && dt->numel == (size_t)nt) {
        const int32_t *d = rin_st_data(fx->f, dt);
        for (int t = 0; t < nt; t++) {
            const rin_tensor_info *ti = rin_model_tensor(fx->m, t);
            CHECK_MSG(d[t] == ti->decayed, "tensor %s: decayed %d, fixture says %d", ti->name,
                      ti->decayed, (int)d[t]);
        }
    }
    return !test_failed_now();
}

static void fixture_close(optim_fixture *fx) {
    free(fx->w), free(fx->g), free(fx->mm), free(fx->v), free(fx->g2), free(fx->g3);
    rin_model_free(fx->m);
    rin_st_free(fx->f);
}

/* Compares buf (model layout) with the fixture's F64 tensors "<role>.<name>", all tensors as
 * one array; prints the statistics and names the worst tensor. Returns the max abs error. */
static double compare_role(const optim_fixture *fx, const float *buf, const char *role, double atol,
                           double rtol) {
    int nt = rin_model_num_tensors(fx->m);
    size_t total = 0;
    for (int t = 0; t < nt; t++)
        total += rin_model_tensor(fx->m, t)->numel;
    float *got = alloc_floats(total);
    double *ref = malloc(total * sizeof *ref);
    int *owner = malloc(total * sizeof *owner);
    RIN_ASSERT(ref && owner);
    size_t o = 0;
    for (int t = 0; t < nt; t++) {
        const rin_tensor_info *ti = rin_model_tensor(fx->m, t);
        char name[128], err[512];
        snprintf(name, sizeof name, "%s.%s", role, ti->name);
        if (rin_st_get_f64(fx->f, name, ref + o, ti->numel, err, sizeof err))
            test_fail(__FILE__, __LINE__, "%s", err);
        memcpy(got + o, buf + ti->offset, ti->numel * sizeof *got);
        for (size_t i = 0; i < ti->numel; i++)
            owner[o + i] = t;
        o += ti->numel;
    }
    tensor_err e = tensor_compare_f64(got, ref, total, atol, rtol);
    tensor_err_print(role, e, got, ref, total);
    CHECK_MSG(e.n_bad == 0, "%s: %zu elements off by more than %g + %g |ref| (worst in %s)", role,
              e.n_bad, atol, rtol, rin_model_tensor(fx->m, owner[e.worst])->name);
    free(got), free(ref), free(owner);
    return e.max_abs;
}

/* Tolerances. Measured (gcc -O2, the fixture's data: |w| up to 2, |m| up to 0.04, v up to
 * 6e-4): one step max_abs w 5.9e-8, m 1.8e-9, v 2.9e-11; three steps w 1.6e-7, m 2.3e-9,
 * v 7.2e-11, i.e. at most ~1.5 float32 ulps of the stored value per step: the only error is the
 * float32 rounding of w, m and v (the C state is float32, the reference's float64). */
#define W_ATOL 1e-8
#define W_RTOL 2.5e-7
#define M_ATOL 2e-9
#define M_RTOL 2e-7
#define V_ATOL 1e-11
#define V_RTOL 2e-7

TEST(optim_lamb_fixture_one_step) {
    optim_fixture fx;
    if (!fixture_open(&fx)) {
        fixture_close(&fx);
        return;
    }
    rin_optim_config o = optim_config(RIN_OPT_LAMB);
    CHECK(!strcmp(rin_st_meta(fx.f, "step"), "3"));
    CHECK(atof(rin_st_meta(fx.f, "lr")) == o.lr);
    CHECK(atof(rin_st_meta(fx.f, "weight_decay")) == o.weight_decay);
    rin_optim_update(fx.w, fx.g, fx.mm, fx.v, fx.m, &o, o.lr, 3);
    compare_role(&fx, fx.w, "lamb.w", W_ATOL, W_RTOL);
    compare_role(&fx, fx.mm, "one.m", M_ATOL, M_RTOL);
    compare_role(&fx, fx.v, "one.v", V_ATOL, V_RTOL);
    fixture_close(&fx);
}

TEST(optim_adamw_fixture_one_step) {
    optim_fixture fx;
    if (!fixture_open(&fx)) {
        fixture_close(&fx);
        return;
    }
    rin_optim_config o = optim_config(RIN_OPT_ADAMW);
    rin_optim_update(fx.w, fx.g, fx.mm, fx.v, fx.m, &o, o.lr, 3);
    compare_role(&fx, fx.w, "adamw.w", W_ATOL, W_RTOL);
    compare_role(&fx, fx.mm, "one.m", M_ATOL, M_RTOL);
    compare_role(&fx, fx.v, "one.v", V_ATOL, V_RTOL);
    fixture_close(&fx);
}

TEST(optim_lamb_fixture_three_steps) {
    optim_fixture fx;
    if (!fixture_open(&fx)) {
        fixture_close(&fx);
        return;
    }
    rin_optim_config o = optim_config(RIN_OPT_LAMB);
    const float *gs[3] = {fx.g, fx.g2, fx.g3};
    for (int i = 0; i < 3; i++)
        rin_optim_update(fx.w, gs[i], fx.mm, fx.v, fx.m, &o, o.lr, 3 + i);
    compare_role(&fx, fx.w, "lamb3.w", W_ATOL, W_RTOL);
    compare_role(&fx, fx.mm, "lamb3.m", M_ATOL, M_RTOL);
    compare_role(&fx, fx.v, "lamb3.v", V_ATOL, V_RTOL);
    fixture_close(&fx);
}

/* ---- exclusions and padding ------------------------------------------------------------------ */

/* g = m = v = 0: u = wd w on decayed tensors, so LAMB's ratio is ||w||/||wd w|| and
 * w_new = w - lr ratio wd w (= (1 - lr) w up to rounding); AdamW gives w - lr wd w. Excluded
 * tensors (biases, LayerNorm) get u = 0 and must stay bitwise equal; padding stays untouched. */
TEST(optim_decay_exclusions) {
    rin_model *m = tiny_model();
    size_t nf = rin_model_buffer_floats(m);
    float *w0 = alloc_floats(nf), *w = alloc_floats(nf), *g = alloc_floats(nf);
    float *mm = alloc_floats(nf), *v = alloc_floats(nf), *junk = alloc_floats(nf);
    fill_state(w0, junk, junk, junk, m, 5);
    const float sentinel = 12345.0f;
    size_t npad = fill_padding(w0, m, sentinel);
    printf("  tiny (E = 24): %d tensors, %zu floats in the buffer, %zu of them padding\n",
           rin_model_num_tensors(m), nf, npad);
    CHECK(npad > 0);
    int n_excluded = 0;
    for (int kind = 0; kind < 2; kind++) {
        rin_optim_config o = optim_config(kind == 0 ? RIN_OPT_LAMB : RIN_OPT_ADAMW);
        memcpy(w, w0, nf * sizeof *w);
        memset(g, 0, nf * sizeof *g);
        memset(mm, 0, nf * sizeof *mm);
        memset(v, 0, nf * sizeof *v);
        fill_padding(g, m, sentinel);
        fill_padding(mm, m, sentinel);
        fill_padding(v, m, sentinel);
        rin_optim_update(w, g, mm, v, m, &o, o.lr, 7);
        double worst = 0;
        n_excluded = 0;
        for (int t = 0; t < rin_model_num_tensors(m); t++) {
            const rin_tensor_info *ti = rin_model_tensor(m, t);
            const float *a = w0 + ti->offset, *b = w + ti->offset;
            if (!ti->decayed) {
                n_excluded++;
                CHECK_MSG(!memcmp(a, b, ti->numel * sizeof *a), "%s: excluded tensor %s changed",
                          kind ? "adamw" : "lamb", ti->name);
                continue;
            }
            double ww = 0;
            for (size_t i = 0; i < ti->numel; i++)
                ww += (double)a[i] * (double)a[i];
            double uu = o.weight_decay * o.weight_decay * ww;
            double ratio = kind == 0 && ww > 0 ? sqrt(ww) / sqrt(uu) : 1.0;
            for (size_t i = 0; i < ti->numel; i++) {
                double want = (double)a[i] - o.lr * ratio * o.weight_decay * (double)a[i];
                double d = fabs((double)b[i] - want);
                worst = d > worst ? d : worst;
                if (d > 1e-7 + 1e-7 * fabs(want)) {
                    CHECK_MSG(0, "%s: %s[%zu] = %.9g, expected %.9g", kind ? "adamw" : "lamb",
                              ti->name, i, (double)b[i], want);
                    break;
                }
            }
        }
        printf("  %s: %d excluded tensors unchanged; decayed max |w - (w - lr r wd w)| = %.3e\n",
               kind ? "adamw" : "lamb", n_excluded, worst);
        for (size_t i = 0; i < nf; i++)
            if (w0[i] == sentinel)
                CHECK_MSG(w[i] == sentinel && mm[i] == sentinel && v[i] == sentinel,
                          "padding float %zu was written", i);
    }
    CHECK(n_excluded > 0);
    /* the names of spec 4's exclusion list decide the flag */
    for (int t = 0; t < rin_model_num_tensors(m); t++) {
        const rin_tensor_info *ti = rin_model_tensor(m, t);
        int ln_or_bias = strstr(ti->name, "_b") || strstr(ti->name, "ln_w");
        CHECK_MSG(ti->decayed == !ln_or_bias, "tensor %s: decayed = %d", ti->name, ti->decayed);
    }
    free(w0), free(w), free(g), free(mm), free(v), free(junk);
    rin_model_free(m);
}

/* ---- lr schedule ----------------------------------------------------------------------------- */

/* exclude_emb: under a zero gradient the embedding tables keep their values (no decay) while
 * the other decayed tensors shrink; without it they shrink too. */
TEST(optim_exclude_emb) {
    rin_config c;
    rin_model *m = NULL;
    char err[256];
    CHECK(rin_config_preset(&c, "tiny", err, sizeof err) == RIN_STATUS_OK);
    CHECK(c.num_classes > 0);
    CHECK(rin_model_create(&m, &c, err, sizeof err) == RIN_STATUS_OK);
    rin_model_init_params(m, 4);
    size_t nf = rin_model_buffer_floats(m);
    float *w = alloc_floats(nf), *g = alloc_floats(nf), *mm = alloc_floats(nf);
    float *v = alloc_floats(nf);
    const float *w0 = rin_model_params(m);
    for (int ex = 0; ex <= 1; ex++) {
        rin_optim_config o = optim_config(RIN_OPT_LAMB);
        o.exclude_emb = ex;
        memcpy(w, w0, nf * sizeof *w);
        memset(mm, 0, nf * sizeof *mm);
        memset(v, 0, nf * sizeof *v);
        rin_optim_update(w, g, mm, v, m, &o, o.lr, 3);
        int n_emb = 0;
        for (int t = 0; t < rin_model_num_tensors(m); t++) {
            const rin_tensor_info *ti = rin_model_tensor(m, t);
            if (!ti->decayed)
                continue;
            int emb = rin_optim_is_emb(ti->name);
            n_emb += emb;
            int same = !memcmp(w0 + ti->offset, w + ti->offset, ti->numel * sizeof *w);
            CHECK_MSG(same == (ex && emb), "exclude_emb=%d: %s %s", ex, ti->name,
                      same ? "kept its values" : "was decayed");
        }
        /* tape_pos, latent_pos, time_w1, time_w2, cond_w */
        CHECK(n_emb == 5);
    }
    CHECK(rin_optim_is_emb("latent_pos") && rin_optim_is_emb("time_b2") &&
          !rin_optim_is_emb("blocks.0.read_wq") && !rin_optim_is_emb("stem_w"));
    free(w), free(g), free(mm), free(v);
    rin_model_free(m);
}

TEST(optim_lr_schedule) {
    rin_optim_config o = optim_config(RIN_OPT_LAMB);
    o.lr = 1e-3;
    o.warmup_steps = 100;
    o.total_steps = 1100;
    o.cosine_frac = 0.8;
    /* warm-up: base step/warmup */
    CHECK(rin_lr_at(&o, 0) == 0.0);
    CHECK_CLOSE(rin_lr_at(&o, 1), 1e-5, 1e-18, 1e-12);
    CHECK_CLOSE(rin_lr_at(&o, 50), 5e-4, 1e-18, 1e-12);
    CHECK_CLOSE(rin_lr_at(&o, 99), 9.9e-4, 1e-18, 1e-12);
    /* cosine: S = 1000/0.8 = 1250; s = 0 gives base, s = 625 gives base/2 */
    CHECK_CLOSE(rin_lr_at(&o, 100), 1e-3, 1e-18, 1e-12);
    CHECK_CLOSE(rin_lr_at(&o, 100 + 625), 5e-4, 1e-18, 1e-12);
    /* the end: (1 + cos(0.8 pi))/2 = 0.0954915; one step earlier is within 2e-3 */
    CHECK_CLOSE(rin_lr_at(&o, 1100) / o.lr, 0.5 * (1 + cos(0.8 * 3.14159265358979323846)), 0,
                1e-12);
    CHECK_CLOSE(rin_lr_at(&o, 1100) / o.lr, 0.0955, 5e-5, 0);
    CHECK_CLOSE(rin_lr_at(&o, 1099) / o.lr, 0.0955, 2e-3, 0);
    /* decreasing after warm-up */
    for (long s = 100; s < 1100; s++)
        CHECK_MSG(rin_lr_at(&o, s + 1) < rin_lr_at(&o, s), "lr not decreasing at step %ld", s);
    /* r = 0.7 (ImageNet-64): 0.206 base */
    o.cosine_frac = 0.7;
    CHECK_CLOSE(rin_lr_at(&o, 1100) / o.lr, 0.206, 5e-4, 0);
    /* past s = S = 1000/0.7 the cosine is held at its end, (1 + cos(pi))/2 = 0 */
    CHECK(rin_lr_at(&o, 5000) == rin_lr_at(&o, 100000));
    CHECK_CLOSE(rin_lr_at(&o, 5000), 0.0, 1e-18, 0);
    /* r <= 0: constant after warm-up */
    o.cosine_frac = 0;
    CHECK(rin_lr_at(&o, 100) == o.lr && rin_lr_at(&o, 1099) == o.lr);
    CHECK_CLOSE(rin_lr_at(&o, 10), 1e-4, 1e-18, 1e-12);
    /* no warm-up: the first step already has the base rate */
    o.cosine_frac = 0.8;
    o.warmup_steps = 0;
    CHECK(rin_lr_at(&o, 0) == o.lr);
    CHECK_CLOSE(rin_lr_at(&o, 1100) / o.lr, 0.0955, 5e-5, 0);
    /* warm-up as long as the run: no division by zero */
    o.warmup_steps = 1100;
    CHECK(rin_lr_at(&o, 1100) == o.lr);
}

/* ---- EMA, norms, scale ----------------------------------------------------------------------- */

TEST(optim_ema_one_step) {
    enum { N = 1000 };
    float ema[N], w[N], want[N];
    test_fill_uniform(ema, N, 1, -1, 1);
    test_fill_uniform(w, N, 2, -1, 1);
    double d = 0.9999;
    for (int i = 0; i < N; i++)
        want[i] = (float)(d * (double)ema[i] + (1.0 - d) * (double)w[i]);
    rin_ema_update(ema, w, N, d);
    CHECK(!memcmp(ema, want, sizeof want));
    /* decay 0 copies, decay 1 keeps */
    float e2[N];
    memcpy(e2, want, sizeof e2);
    rin_ema_update(e2, w, N, 0.0);
    CHECK(!memcmp(e2, w, sizeof e2));
    rin_ema_update(e2, want, N, 1.0);
    CHECK(!memcmp(e2, w, sizeof e2));
}

/* The warm-up ramp min(decay, (1 + k) / (10 + k)) at hand-computed points. */
TEST(optim_ema_warmup_decay) {
    rin_optim_config o = {.ema_decay = 0.999, .ema_warmup = 1};
    CHECK(rin_ema_decay_at(&o, 0) == 0.1);              /* 1 / 10 */
    CHECK(rin_ema_decay_at(&o, 10) == 11.0 / 20.0);     /* 0.55 */
    CHECK(rin_ema_decay_at(&o, 990) == 991.0 / 1000.0); /* still on the ramp */
    CHECK(rin_ema_decay_at(&o, 8990) == 0.999);         /* ramp 0.999 exactly: the cap */
    CHECK(rin_ema_decay_at(&o, 1000000) == 0.999);
    o.ema_warmup = 0; /* the spec's constant decay */
    CHECK(rin_ema_decay_at(&o, 0) == 0.999 && rin_ema_decay_at(&o, 50) == 0.999);
    o.ema_decay = 0; /* no EMA: decay 0 copies the weights */
    o.ema_warmup = 1;
    CHECK(rin_ema_decay_at(&o, 0) == 0 && rin_ema_decay_at(&o, 1000) == 0);
}

TEST(optim_global_norm_and_scale) {
    rin_model *m = tiny_model();
    size_t nf = rin_model_buffer_floats(m);
    float *g = alloc_floats(nf);
    for (int t = 0; t < rin_model_num_tensors(m); t++) {
        const rin_tensor_info *ti = rin_model_tensor(m, t);
        test_fill_uniform(g + ti->offset, ti->numel, 100 + (unsigned)t, -1, 1);
    }
    fill_padding(g, m, 1e6f); /* the padding must not count */
    double ref = 0;
    for (int t = 0; t < rin_model_num_tensors(m); t++) {
        const rin_tensor_info *ti = rin_model_tensor(m, t);
        for (size_t i = 0; i < ti->numel; i++)
            ref += (double)g[ti->offset + i] * (double)g[ti->offset + i];
    }
    ref = sqrt(ref);
    double got = rin_global_norm(g, m);
    printf("  global norm %.17g, plain double sum %.17g, rel diff %.2e\n", got, ref,
           fabs(got - ref) / ref);
    CHECK_CLOSE(got, ref, 0, 1e-12);
    /* scale: exact float products over the whole buffer */
    float *h = alloc_floats(nf);
    memcpy(h, g, nf * sizeof *h);
    rin_scale(h, nf, 0.25f);
    int same = 1;
    for (size_t i = 0; i < nf; i++)
        same &= h[i] == g[i] * 0.25f;
    CHECK(same);
    CHECK_CLOSE(rin_global_norm(h, m), 0.25 * got, 0, 1e-14);
    free(g), free(h);
    rin_model_free(m);
}

/* ---- T5: thread count ------------------------------------------------------------------------ */

TEST(optim_threads_bitwise) {
    rin_model *m = tiny_model();
    size_t nf = rin_model_buffer_floats(m);
    int saved = threads_now();
    float *w[3], *mm[3], *v[3], *g = alloc_floats(nf);
    double norms[3];
    const int nthreads[3] = {1, 2, 3};
    for (int r = 0; r < 3; r++) {
        w[r] = alloc_floats(nf), mm[r] = alloc_floats(nf), v[r] = alloc_floats(nf);
        fill_state(w[r], g, mm[r], v[r], m, 9);
        set_threads(nthreads[r]);
        for (int kind = 0; kind < 2; kind++) {
            rin_optim_config o = optim_config(kind == 0 ? RIN_OPT_LAMB : RIN_OPT_ADAMW);
            for (long s = 0; s < 2; s++)
                rin_optim_update(w[r], g, mm[r], v[r], m, &o, o.lr, s);
        }
        norms[r] = rin_global_norm(w[r], m);
    }
    set_threads(saved);
    for (int r = 1; r < 3; r++) {
        CHECK_MSG(!memcmp(w[0], w[r], nf * sizeof(float)), "w: 1 vs %d threads differ",
                  nthreads[r]);
        CHECK_MSG(!memcmp(mm[0], mm[r], nf * sizeof(float)), "m: 1 vs %d threads differ",
                  nthreads[r]);
        CHECK_MSG(!memcmp(v[0], v[r], nf * sizeof(float)), "v: 1 vs %d threads differ",
                  nthreads[r]);
        CHECK_MSG(norms[0] == norms[r], "global norm: 1 vs %d threads differ", nthreads[r]);
    }
    for (int r = 0; r < 3; r++)
        free(w[r]), free(mm[r]), free(v[r]);
    free(g);
    rin_model_free(m);
}

TEST(optim_simd_matches_scalar) {
    /* the AVX2 paths of LAMB, AdamW and the EMA against the scalar loops, bit for bit: a model
     * with odd-sized tensors (image_channels 3, tape_dim 21 in 3 heads: tails of 1 to 3 elements),
     * two steps of each optimizer, decayed and excluded tensors, then an EMA step over a length
     * with a partial block and a tail */
#ifdef RIN_X86_SIMD
    int prev = rin_simd_set(1);
    if (!rin_simd_avx2()) {
        rin_simd_set(prev);
        test_skip("this CPU has no AVX2+FMA: only the scalar optimizer runs here");
        return;
    }
    rin_config c;
    rin_model *m = NULL;
    char err[256];
    RIN_ASSERT(rin_config_preset(&c, "tiny", err, sizeof err) == RIN_STATUS_OK);
    RIN_ASSERT(rin_config_set(&c, "tape_dim", "21", err, sizeof err) == RIN_STATUS_OK);
    RIN_ASSERT(rin_config_set(&c, "rw_num_heads", "3", err, sizeof err) == RIN_STATUS_OK);
    RIN_ASSERT(rin_config_set(&c, "image_channels", "3", err, sizeof err) == RIN_STATUS_OK);
    if (rin_model_create(&m, &c, err, sizeof err)) {
        CHECK_MSG(0, "%s", err);
        return;
    }
    int odd = 0;
    for (int t = 0; t < rin_model_num_tensors(m); t++)
        odd += rin_model_tensor(m, t)->numel % 4 != 0;
    CHECK_MSG(odd > 3, "only %d tensors have a tail", odd);
    size_t nf = rin_model_buffer_floats(m);
    float *w[2], *mm[2], *v[2], *e[2], *g = alloc_floats(nf);
    for (int r = 0; r < 2; r++) { /* r = 0 scalar, 1 AVX2 */
        w[r] = alloc_floats(nf), mm[r] = alloc_floats(nf), v[r] = alloc_floats(nf);
        e[r] = alloc_floats(nf);
        fill_state(w[r], g, mm[r], v[r], m, 17);
        test_fill_uniform(e[r], nf, 99, -0.5f, 0.5f);
        rin_simd_set(r);
        for (int kind = 0; kind < 2; kind++) {
            rin_optim_config o = optim_config(kind == 0 ? RIN_OPT_LAMB : RIN_OPT_ADAMW);
            o.exclude_emb = kind;
            for (long s = 0; s < 2; s++)
                rin_optim_update(w[r], g, mm[r], v[r], m, &o, o.lr, s);
        }
        rin_ema_update(e[r], w[r], nf - 3, 0.999);
        rin_ema_update(e[r], w[r], 4096 + 7, 0.9);
    }
    rin_simd_set(prev);
    CHECK_MSG(!memcmp(w[0], w[1], nf * sizeof(float)), "w: scalar and AVX2 differ");
    CHECK_MSG(!memcmp(mm[0], mm[1], nf * sizeof(float)), "m: scalar and AVX2 differ");
    CHECK_MSG(!memcmp(v[0], v[1], nf * sizeof(float)), "v: scalar and AVX2 differ");
    CHECK_MSG(!memcmp(e[0], e[1], nf * sizeof(float)), "ema: scalar and AVX2 differ");
    /* and the update did something */
    float *w0 = alloc_floats(nf), *g0 = alloc_floats(nf), *m0 = alloc_floats(nf);
    float *v0 = alloc_floats(nf);
    fill_state(w0, g0, m0, v0, m, 17);
    CHECK(memcmp(w0, w[1], nf * sizeof(float)) != 0);
    free(w0), free(g0), free(m0), free(v0);
    for (int r = 0; r < 2; r++)
        free(w[r]), free(mm[r]), free(v[r]), free(e[r]);
    free(g);
    rin_model_free(m);
#else
    test_skip("not an x86-64 build: only the scalar optimizer exists");
#endif
}
