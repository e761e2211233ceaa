/* optim.c -- optimisers, learning-rate schedule, EMA and gradient norms (spec section 4).
 *
 * LAMB follows tensorflow_addons' LAMB (the optimizer of the official code); AdamW follows
 * torch.optim.AdamW (decoupled weight decay). Both walk the parameter table, so the alignment
 * padding between tensors is never touched, and both take the decayed flag of each tensor:
 * biases and LayerNorm parameters get no weight decay and, in LAMB, a trust ratio of 1.
 *
 * Determinism: every tensor is updated by one thread, in element order, and the per-tensor
 * norms are double sums in element order; the global norm adds the per-tensor sums in table
 * order. So results are bitwise the same for any thread count (no OpenMP reductions).
 * Per-element arithmetic is double, rounded to float once per stored value.
 *
 * Speed: the double divisions and square roots of the Adam direction bound the update (a
 * quarter of a small video model's training step). With AVX2 the same operations run four
 * elements at a time: IEEE division, square root, products and sums are correctly rounded in
 * any lane, there is no contraction (-ffp-contract=off, no FMA intrinsics), and LAMB's norms
 * still add the squares one element at a time in element order, so the vector paths give the
 * scalar loops' results bit for bit (optim_simd_matches_scalar).
 */
#include <math.h>
#include <string.h>

#include "internal.h"
#include "optim.h"
#include "profile.h"
#include "simd.h"

#define RIN_PI  3.14159265358979323846
#define PAR_MIN ((size_t)1 << 15) /* elementwise loops shorter than this stay serial */

/* Warm-up then the truncated cosine (WarmUpAndDecay, spec 4). A cosine length S <= 0 (no steps
 * after warm-up) or cosine_frac <= 0 gives the constant base rate after warm-up. */
double rin_lr_at(const rin_optim_config *o, long step) {
    if (o->warmup_steps > 0 && step < o->warmup_steps)
        return o->lr * (double)step / (double)o->warmup_steps;
    if (!(o->cosine_frac > 0))
        return o->lr;
    double S = (double)(o->total_steps - o->warmup_steps) / o->cosine_frac;
    if (!(S > 0))
        return o->lr;
    double s = (double)(step - o->warmup_steps);
    if (s > S)
        s = S;
    return o->lr * 0.5 * (1.0 + cos(RIN_PI * s / S));
}

/* Moments and bias corrections shared by LAMB and AdamW. */
typedef struct adam_consts {
    double b1, b2, eps, bc1, bc2; /* bc = 1 - beta^k */
} adam_consts;

/* m <- b1 m + (1-b1) g and v <- b2 v + (1-b2) g^2, stored as float; returns
 * m_hat/(sqrt(v_hat) + eps) computed from the stored (rounded) moments, so that a second pass
 * can recompute it exactly with adam_dir. */
static inline double adam_moments(float *m, float *v, float g, const adam_consts *a) {
    double gd = (double)g;
    float mf = (float)(a->b1 * (double)*m + (1.0 - a->b1) * gd);
    float vf = (float)(a->b2 * (double)*v + (1.0 - a->b2) * gd * gd);
    *m = mf;
    *v = vf;
    return ((double)mf / a->bc1) / (sqrt((double)vf / a->bc2) + a->eps);
}

/* m_hat/(sqrt(v_hat) + eps) from the stored moments. */
static inline double adam_dir(float m, float v, const adam_consts *a) {
    return ((double)m / a->bc1) / (sqrt((double)v / a->bc2) + a->eps);
}

#ifdef RIN_X86_SIMD
/* adam_dir for 4 stored (float) moments. */
RIN_AVX2 static inline __m256d adam_dir4(__m128 mf, __m128 vf, const adam_consts *a) {
    __m256d num = _mm256_div_pd(_mm256_cvtps_pd(mf), _mm256_set1_pd(a->bc1));
    __m256d den =
        _mm256_add_pd(_mm256_sqrt_pd(_mm256_div_pd(_mm256_cvtps_pd(vf), _mm256_set1_pd(a->bc2))),
                      _mm256_set1_pd(a->eps));
    return _mm256_div_pd(num, den);
}

/* adam_moments for 4 elements at i: stores m and v, returns the direction. */
RIN_AVX2 static inline __m256d adam_moments4(float *m, float *v, const float *g, size_t i,
                                             const adam_consts *a) {
    __m256d gd = _mm256_cvtps_pd(_mm_loadu_ps(g + i));
    __m256d md =
        _mm256_add_pd(_mm256_mul_pd(_mm256_set1_pd(a->b1), _mm256_cvtps_pd(_mm_loadu_ps(m + i))),
                      _mm256_mul_pd(_mm256_set1_pd(1.0 - a->b1), gd));
    __m256d vd =
        _mm256_add_pd(_mm256_mul_pd(_mm256_set1_pd(a->b2), _mm256_cvtps_pd(_mm_loadu_ps(v + i))),
                      _mm256_mul_pd(_mm256_mul_pd(_mm256_set1_pd(1.0 - a->b2), gd), gd));
    __m128 mf = _mm256_cvtpd_ps(md), vf = _mm256_cvtpd_ps(vd);
    _mm_storeu_ps(m + i, mf);
    _mm_storeu_ps(v + i, vf);
    return adam_dir4(mf, vf, a);
}

/* lamb_tensor's first pass over the first n & ~3 elements; the sums in element order. */
RIN_AVX2 static size_t lamb_pass1_avx2(const float *w, const float *g, float *m, float *v, size_t n,
                                       double wdt, const adam_consts *a, double *ww, double *uu) {
    size_t n4 = n & ~(size_t)3;
    double sw = *ww, su = *uu, w2[4], u2[4];
    for (size_t i = 0; i < n4; i += 4) {
        __m256d wi = _mm256_cvtps_pd(_mm_loadu_ps(w + i));
        __m256d u =
            _mm256_add_pd(adam_moments4(m, v, g, i, a), _mm256_mul_pd(_mm256_set1_pd(wdt), wi));
        _mm256_storeu_pd(w2, _mm256_mul_pd(wi, wi));
        _mm256_storeu_pd(u2, _mm256_mul_pd(u, u));
        sw += w2[0], su += u2[0];
        sw += w2[1], su += u2[1];
        sw += w2[2], su += u2[2];
        sw += w2[3], su += u2[3];
    }
    *ww = sw;
    *uu = su;
    return n4;
}

/* lamb_tensor's second pass over the first n & ~3 elements. */
RIN_AVX2 static size_t lamb_pass2_avx2(float *w, const float *m, const float *v, size_t n,
                                       double wdt, double step, const adam_consts *a) {
    size_t n4 = n & ~(size_t)3;
    for (size_t i = 0; i < n4; i += 4) {
        __m256d wi = _mm256_cvtps_pd(_mm_loadu_ps(w + i));
        __m256d u = _mm256_add_pd(adam_dir4(_mm_loadu_ps(m + i), _mm_loadu_ps(v + i), a),
                                  _mm256_mul_pd(_mm256_set1_pd(wdt), wi));
        _mm_storeu_ps(w + i,
                      _mm256_cvtpd_ps(_mm256_sub_pd(wi, _mm256_mul_pd(_mm256_set1_pd(step), u))));
    }
    return n4;
}

/* adamw_tensor over the first n & ~3 elements. */
RIN_AVX2 static size_t adamw_avx2(float *w, const float *g, float *m, float *v, size_t n,
                                  double wdt, double lr, const adam_consts *a) {
    size_t n4 = n & ~(size_t)3;
    __m256d vlr = _mm256_set1_pd(lr), vlrwd = _mm256_set1_pd(lr * wdt);
    for (size_t i = 0; i < n4; i += 4) {
        __m256d wi = _mm256_cvtps_pd(_mm_loadu_ps(w + i));
        __m256d u = adam_moments4(m, v, g, i, a);
        wi = _mm256_sub_pd(wi, _mm256_mul_pd(vlrwd, wi));
        _mm_storeu_ps(w + i, _mm256_cvtpd_ps(_mm256_sub_pd(wi, _mm256_mul_pd(vlr, u))));
    }
    return n4;
}

/* rin_ema_update over elements [lo, hi), hi - lo a multiple of 4. */
RIN_AVX2 static void ema_avx2(float *ema, const float *w, size_t lo, size_t hi, double decay,
                              double c) {
    __m256d vd = _mm256_set1_pd(decay), vc = _mm256_set1_pd(c);
    for (size_t i = lo; i < hi; i += 4) {
        __m256d e = _mm256_mul_pd(vd, _mm256_cvtps_pd(_mm_loadu_ps(ema + i)));
        __m256d x = _mm256_mul_pd(vc, _mm256_cvtps_pd(_mm_loadu_ps(w + i)));
        _mm_storeu_ps(ema + i, _mm256_cvtpd_ps(_mm256_add_pd(e, x)));
    }
}
#endif

/* LAMB on one tensor of n elements (TFA):
 *   pass 1: m, v; u = m_hat/(sqrt(v_hat) + eps) + wd w; ||w||^2 and ||u||^2 (double, in order);
 *   ratio = ||w||/||u|| if both > 0 and the tensor is decayed, else 1;
 *   pass 2: w <- w - lr ratio u, with u recomputed from the stored moments and the
 *           pre-update w, so the norms are those of the pre-update weights. */
static void lamb_tensor(float *w, const float *g, float *m, float *v, size_t n, int decayed,
                        double wd, double lr, const adam_consts *a) {
    double wdt = decayed ? wd : 0.0, ww = 0, uu = 0;
    size_t i0 = 0;
#ifdef RIN_X86_SIMD
    if (rin_simd_avx2())
        i0 = lamb_pass1_avx2(w, g, m, v, n, wdt, a, &ww, &uu);
#endif
    for (size_t i = i0; i < n; i++) {
        double wi = (double)w[i];
        double u = adam_moments(&m[i], &v[i], g[i], a) + wdt * wi;
        ww += wi * wi;
        uu += u * u;
    }
    double ratio = 1.0;
    if (decayed && ww > 0 && uu > 0)
        ratio = sqrt(ww) / sqrt(uu);
    double step = lr * ratio;
    i0 = 0;
#ifdef RIN_X86_SIMD
    if (rin_simd_avx2())
        i0 = lamb_pass2_avx2(w, m, v, n, wdt, step, a);
#endif
    for (size_t i = i0; i < n; i++) {
        double wi = (double)w[i];
        double u = adam_dir(m[i], v[i], a) + wdt * wi;
        w[i] = (float)(wi - step * u);
    }
}

/* AdamW on one tensor (torch.optim.AdamW): w <- w - lr wd w (decayed tensors only), then
 * w <- w - lr m_hat/(sqrt(v_hat) + eps). */
static void adamw_tensor(float *w, const float *g, float *m, float *v, size_t n, int decayed,
                         double wd, double lr, const adam_consts *a) {
    double wdt = decayed ? wd : 0.0;
    size_t i0 = 0;
#ifdef RIN_X86_SIMD
    if (rin_simd_avx2())
        i0 = adamw_avx2(w, g, m, v, n, wdt, lr, a);
#endif
    for (size_t i = i0; i < n; i++) {
        double wi = (double)w[i];
        double u = adam_moments(&m[i], &v[i], g[i], a);
        wi -= lr * wdt * wi;
        w[i] = (float)(wi - lr * u);
    }
}

void rin_optim_update(float *w, const float *g, float *m, float *v, const rin_model *model,
                      const rin_optim_config *o, double lr, long step) {
    RIN_ASSERT(step >= 0);
    double k = (double)step + 1.0;
    adam_consts a = {.b1 = o->beta1,
                     .b2 = o->beta2,
                     .eps = o->eps,
                     .bc1 = 1.0 - pow(o->beta1, k),
                     .bc2 = 1.0 - pow(o->beta2, k)};
    int nt = rin_model_num_tensors(model);
    int lamb = o->kind == RIN_OPT_LAMB;
    double prof_t0 = RIN_PROF_BEGIN();
    /* one tensor per thread at a time: the work of a tensor never depends on the thread count */
#pragma omp parallel for schedule(dynamic, 1)
    for (int t = 0; t < nt; t++) {
        const rin_tensor_info *ti = rin_model_tensor(model, t);
        size_t off = ti->offset;
        int decayed = ti->decayed && !(o->exclude_emb && rin_optim_is_emb(ti->name));
        if (lamb)
            lamb_tensor(w + off, g + off, m + off, v + off, ti->numel, decayed, o->weight_decay, lr,
                        &a);
        else
            adamw_tensor(w + off, g + off, m + off, v + off, ti->numel, decayed, o->weight_decay,
                         lr, &a);
    }
    RIN_PROF_END(OPTIM, prof_t0, 0);
}

int rin_optim_is_emb(const char *name) {
    static const char *const prefix[] = {"tape_pos", "latent_pos", "time_", "cond_"};
    for (size_t i = 0; i < sizeof prefix / sizeof prefix[0]; i++)
        if (!strncmp(name, prefix[i], strlen(prefix[i])))
            return 1;
    return 0;
}

/* sum g^2 over one tensor, double, in element order. */
static double sum_squares(const float *g, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += (double)g[i] * (double)g[i];
    return s;
}

/* Per-tensor sums (in parallel, a group of tensors at a time) added in table order. */
double rin_global_norm(const float *g, const rin_model *model) {
    enum { GROUP = 64 };
    double part[GROUP];
    double total = 0;
    int nt = rin_model_num_tensors(model);
    for (int t0 = 0; t0 < nt; t0 += GROUP) {
        int cnt = nt - t0 < GROUP ? nt - t0 : GROUP;
#pragma omp parallel for schedule(dynamic, 1)
        for (int j = 0; j < cnt; j++) {
            const rin_tensor_info *ti = rin_model_tensor(model, t0 + j);
            part[j] = sum_squares(g + ti->offset, ti->numel);
        }
        for (int j = 0; j < cnt; j++)
            total += part[j];
    }
    return sqrt(total);
}

void rin_scale(float *g, size_t n, float scale) {
#pragma omp parallel for schedule(static) if (n >= PAR_MIN)
    for (size_t i = 0; i < n; i++)
        g[i] *= scale;
}

double rin_ema_decay_at(const rin_optim_config *o, long step) {
    if (!(o->ema_decay > 0))
        return 0;
    if (!o->ema_warmup)
        return o->ema_decay;
    double ramp = (1.0 + (double)step) / (10.0 + (double)step);
    return ramp < o->ema_decay ? ramp : o->ema_decay;
}

/* ema = decay ema + (1 - decay) w, in double per element. */
void rin_ema_update(float *ema, const float *w, size_t n, double decay) {
    double c = 1.0 - decay, prof_t0 = RIN_PROF_BEGIN();
#ifdef RIN_X86_SIMD
    if (rin_simd_avx2()) {
        /* blocks of 4096 elements: a block's values do not depend on who computes it */
        size_t nb = n / 4096;
#pragma omp parallel for schedule(static) if (n >= PAR_MIN)
        for (size_t k = 0; k < nb; k++)
            ema_avx2(ema, w, k * 4096, (k + 1) * 4096, decay, c);
        size_t t4 = nb * 4096 + ((n - nb * 4096) & ~(size_t)3);
        ema_avx2(ema, w, nb * 4096, t4, decay, c);
        for (size_t i = t4; i < n; i++)
            ema[i] = (float)(decay * (double)ema[i] + c * (double)w[i]);
        RIN_PROF_END(OPTIM, prof_t0, 0);
        return;
    }
#endif
#pragma omp parallel for schedule(static) if (n >= PAR_MIN)
    for (size_t i = 0; i < n; i++)
        ema[i] = (float)(decay * (double)ema[i] + c * (double)w[i]);
    RIN_PROF_END(OPTIM, prof_t0, 0);
}
