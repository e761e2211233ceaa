/* trainer.c -- one training step with latent self-conditioning (spec 2.1), the training
 * configuration, and training checkpoints.
 *
 * A step, for a batch x0 in [-b, b]:
 *   1. per example t ~ U(0,1), gamma = gamma_train(t); eps ~ N(0, I); x_t = sqrt(g) x0 +
 *      sqrt(1-g) eps (optionally normalised per example); labels dropped with cond_dropout;
 *      (frame_noise = independent, rin's: one t per time slot of a video's predicted frames,
 *      drawn in the place of the example's, and each frame noised with its slot's gamma);
 *   2. self-conditioning: a first forward pass in training mode with zero latents, without
 *      gradient, in an inference context (it keeps no activations); its latents are kept per
 *      example with probability self_cond_rate and zeroed otherwise (stop-gradient: they are
 *      an input of the second pass);
 *   3. the second pass with those latents, MSE against the target, backward;
 *   4. optional global-norm clipping, LAMB or AdamW, EMA.
 * All randomness of step s comes from (seed, s): the sequential RNG seeded with
 * rin_hash64(seed, STREAM_STEP, s) draws t, eps, label dropout and the masks in that order, and
 * the two passes' dropout masks use seeds derived the same way. A checkpoint therefore holds the
 * whole state (weights, moments, EMA, step) and a resumed run repeats the same steps bit for bit.
 *
 * Data parallel (docs/distributed.md): rank r of N holds examples [r b, (r+1) b) of the global
 * batch, b = batch_size / N. It draws the same stream and keeps its examples' values, skipping
 * the others' draws (rin_rng_discard: two u64 per normal, cheap next to a forward pass), and
 * the masks are indexed by global example (rin_batch.example0); so every example gets what a
 * single process with the whole batch would give it, and one process is the case N = 1,
 * unchanged. Each rank's output gradient is scaled by 1/N, so the sum over ranks is the
 * gradient of the mean over the global batch.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "diffusion.h"
#include "dist.h"
#include "internal.h"
#include "keys.h"
#include "ops.h"
#include "optim.h"

#define STREAM_STEP  0x53544550ull /* "STEP" */
#define STREAM_DROP1 0x44525031ull /* "DRP1": first (no-gradient) pass */
#define STREAM_DROP2 0x44525032ull /* "DRP2": gradient pass */
#define STREAM_ROLL  0x524F4C54ull /* "ROLT": roll-out training's choices, levels and noise */

/* ---- the training configuration ------------------------------------------------------------ */

/* The keys in their fixed order (the checkpoint metadata's, keys.h), with the defaults of the
 * released CIFAR-10 sweep where they apply. The strings are checked where they are interpreted
 * (derive, below), so a key can be set before the one it depends on. */
#define F(f) RIN_KEY_FIELD(rin_train_config, f)
#define FIN  RIN_KEY_FINITE
// clang-format off
static const rin_key tkeys[] = {
    {"batch_size",     RIN_KEY_INT,    F(batch_size),     .lo = 1, .hi = 65536, .def = "64",
                       .help = "images per step, over all ranks"},
    {"total_steps",    RIN_KEY_LONG,   F(total_steps),    .lo = 1, .hi = 1e12, .def = "150000",
                       .help = "optimizer steps of the whole run"},
    {"seed",           RIN_KEY_U64,    F(seed),           .def = "0",
                       .help = "initialisation, noise, data order"},
    {"optimizer",      RIN_KEY_STRING, F(optimizer),      .def = "lamb", .help = "lamb or adamw"},
    {"lr",             RIN_KEY_DOUBLE, F(lr),             .lo = 0, .hi = 10, .flags = FIN,
                       .def = "3e-3", .help = "base learning rate"},
    {"beta1",          RIN_KEY_DOUBLE, F(beta1),          .lo = 0, .hi = 0.999999, .flags = FIN,
                       .def = "0.9", .help = "first-moment decay"},
    {"beta2",          RIN_KEY_DOUBLE, F(beta2),          .lo = 0, .hi = 0.999999999, .flags = FIN,
                       .def = "0.999", .help = "second-moment decay"},
    {"eps",            RIN_KEY_DOUBLE, F(eps),            .lo = 0, .hi = 1, .flags = FIN,
                       .def = "1e-8", .help = "added to sqrt(v)"},
    {"weight_decay",   RIN_KEY_DOUBLE, F(weight_decay),   .lo = 0, .hi = 10, .flags = FIN,
                       .def = "0.01", .help = "weight decay"},
    {"warmup_steps",   RIN_KEY_LONG,   F(warmup_steps),   .lo = 0, .hi = 1e12, .def = "10000",
                       .help = "linear learning-rate warm-up"},
    {"lr_schedule",    RIN_KEY_STRING, F(lr_schedule),    .def = "cosine@0.8",
                       .help = "cosine, cosine@R (0 < R <= 1) or constant"},
    {"clip_norm",      RIN_KEY_DOUBLE, F(clip_norm),      .lo = 0, .hi = 1e30, .flags = FIN,
                       .def = "0", .help = "global gradient-norm clipping (0 = off)"},
    {"exclude_from_weight_decay", RIN_KEY_STRING, F(exclude_from_weight_decay),
                       .def = "bias,beta,gamma", .help = "or bias,beta,gamma,emb"},
    {"ema_decay",      RIN_KEY_DOUBLE, F(ema_decay),      .lo = 0, .hi = 0.99999999, .flags = FIN,
                       .def = "0.9999", .help = "0 = no EMA"},
    /* rin's own; docs/training.md measures it (ema_warmup=0 is the spec's) */
    {"ema_warmup",     RIN_KEY_BOOL,   F(ema_warmup),     .def = "1",
                       .help = "EMA decay min(ema_decay, (1 + k) / (10 + k)) (rin's)"},
    {"train_schedule", RIN_KEY_STRING, F(train_schedule), .def = "sigmoid@-3,3,0.9",
                       .help = "cosine, cosine@s,e,tau, sigmoid@s,e,tau or simple_linear"},
    {"pred_type",      RIN_KEY_STRING, F(pred_type),      .def = "eps", .help = "eps, x0 or v"},
    {"b_scale",        RIN_KEY_DOUBLE, F(b_scale),        .lo = 1e-6, .hi = 1e6, .flags = FIN,
                       .def = "1", .help = "input scale b: images in [-b, b]"},
    {"normalize_noisy_input", RIN_KEY_BOOL, F(normalize_noisy_input), .def = "0",
                       .help = "x_t normalised per example"},
    {"self_cond_rate", RIN_KEY_DOUBLE, F(self_cond_rate), .lo = 0, .hi = 1, .flags = FIN,
                       .def = "0.9", .help = "chance an example gets the first pass's latents"},
    {"cond_dropout",   RIN_KEY_DOUBLE, F(cond_dropout),   .lo = 0, .hi = 0.999999, .flags = FIN,
                       .def = "0", .help = "label dropout for classifier-free guidance"},
    {"frame_noise",    RIN_KEY_STRING, F(frame_noise),    .def = "shared",
                       .help = "video: shared or independent (rin's)"},
    {"precision",      RIN_KEY_STRING, F(precision),      .def = "fp32",
                       .help = "matrix products: fp32 or bf16 (rin's)"},
    {"rollout_rate",   RIN_KEY_DOUBLE, F(rollout_rate),   .lo = 0, .hi = 1, .flags = FIN,
                       .def = "0",
                       .help = "video: chance a clip is conditioned on the model's own "
                               "prediction (rin's)"},
};
// clang-format on
#undef F
#undef FIN
#define NTKEYS ((int)(sizeof tkeys / sizeof tkeys[0]))

int rin_train_config_num_keys(void) {
    return NTKEYS;
}
const char *rin_train_config_key(int i) {
    return i >= 0 && i < NTKEYS ? tkeys[i].name : NULL;
}
const rin_key *rin_train_config_keys(int *n) {
    *n = NTKEYS;
    return tkeys;
}

void rin_train_config_default(rin_train_config *t) {
    memset(t, 0, sizeof *t);
    rin_keys_defaults(tkeys, NTKEYS, t);
}

rin_status rin_train_config_set(rin_train_config *t, const char *key, const char *value, char *err,
                                size_t errlen) {
    int i = rin_keys_find(tkeys, NTKEYS, key);
    if (i < 0)
        return rin_errorf(err, errlen, RIN_STATUS_CONFIG, "unknown config key '%s'", key);
    return rin_key_set(&tkeys[i], t, value, err, errlen);
}

int rin_train_config_get(const rin_train_config *t, int i, char *buf, size_t buflen) {
    if (i < 0 || i >= NTKEYS)
        return -1;
    return rin_key_get(&tkeys[i], t, buf, buflen);
}

/* "cosine@R" -> R; "constant" -> 0. */
static rin_status parse_lr_schedule(const char *s, double *frac, char *err, size_t errlen) {
    if (!strcmp(s, "constant")) {
        *frac = 0;
        return RIN_STATUS_OK;
    }
    char *end;
    if (!strncmp(s, "cosine@", 7)) {
        double r = strtod(s + 7, &end);
        if (end != s + 7 && !*end && r > 0 && r <= 1) {
            *frac = r;
            return RIN_STATUS_OK;
        }
    } else if (!strcmp(s, "cosine")) {
        *frac = 1;
        return RIN_STATUS_OK;
    }
    return rin_errorf(err, errlen, RIN_STATUS_CONFIG,
                      "lr_schedule: '%s' is not supported (expected cosine, cosine@R with "
                      "0 < R <= 1, or constant)",
                      s);
}

/* Fills the optimizer config and parses the strings; the single place that interprets them. */
static rin_status derive(const rin_train_config *t, rin_optim_config *o, rin_schedule *sched,
                         rin_pred_type *pred, char *err, size_t errlen) {
    memset(o, 0, sizeof *o);
    if (!strcmp(t->optimizer, "lamb"))
        o->kind = RIN_OPT_LAMB;
    else if (!strcmp(t->optimizer, "adamw"))
        o->kind = RIN_OPT_ADAMW;
    else
        return rin_errorf(err, errlen, RIN_STATUS_CONFIG,
                          "optimizer: '%s' is not supported (expected lamb or adamw)",
                          t->optimizer);
    o->lr = t->lr;
    o->beta1 = t->beta1;
    o->beta2 = t->beta2;
    o->eps = t->eps;
    o->weight_decay = t->weight_decay;
    o->warmup_steps = t->warmup_steps;
    o->total_steps = t->total_steps;
    o->clip_norm = t->clip_norm;
    o->ema_decay = t->ema_decay;
    o->ema_warmup = t->ema_warmup;
    if (!strcmp(t->exclude_from_weight_decay, "bias,beta,gamma"))
        o->exclude_emb = 0;
    else if (!strcmp(t->exclude_from_weight_decay, "bias,beta,gamma,emb"))
        o->exclude_emb = 1;
    else
        return rin_errorf(err, errlen, RIN_STATUS_CONFIG,
                          "exclude_from_weight_decay: '%s' is not supported (expected "
                          "bias,beta,gamma or bias,beta,gamma,emb)",
                          t->exclude_from_weight_decay);
    rin_status s = parse_lr_schedule(t->lr_schedule, &o->cosine_frac, err, errlen);
    char e2[200];
    if (!s && rin_schedule_parse(sched, t->train_schedule, e2, sizeof e2))
        s = rin_errorf(err, errlen, RIN_STATUS_CONFIG, "train_schedule: %s", e2);
    if (!s)
        s = rin_pred_type_parse(pred, t->pred_type, err, errlen);
    /* Adam and LAMB divide by sqrt(v) + eps, and v is 0 where a gradient element is 0 */
    if (!s && !(t->eps > 0))
        s = rin_errorf(err, errlen, RIN_STATUS_CONFIG,
                       "eps: %g is out of range (0, 1] (the optimizer divides by sqrt(v) + eps)",
                       t->eps);
    if (!s && strcmp(t->frame_noise, "shared") && strcmp(t->frame_noise, "independent"))
        s = rin_errorf(err, errlen, RIN_STATUS_CONFIG,
                       "frame_noise: '%s' is not supported (expected shared or independent)",
                       t->frame_noise);
    if (!s && strcmp(t->precision, "fp32") && strcmp(t->precision, "bf16"))
        s = rin_errorf(err, errlen, RIN_STATUS_CONFIG,
                       "precision: '%s' is not supported (expected fp32 or bf16)", t->precision);
    if (!s && t->warmup_steps > t->total_steps)
        s = rin_errorf(err, errlen, RIN_STATUS_CONFIG,
                       "warmup_steps: %ld is more than total_steps %ld", t->warmup_steps,
                       t->total_steps);
    return s;
}

rin_status rin_train_config_validate(const rin_train_config *t, char *err, size_t errlen) {
    rin_optim_config o;
    rin_schedule sched;
    rin_pred_type pred;
    return derive(t, &o, &sched, &pred, err, errlen);
}

/* ---- the trainer ---------------------------------------------------------------------------- */

struct rin_trainer {
    rin_model *m;
    rin_train_config tc;
    rin_optim_config oc;
    rin_schedule sched;
    rin_pred_type pred;
    rin_ctx *ctx;  /* gradient pass */
    rin_ctx *ictx; /* the self-conditioning pass (inference arena, training-mode dropout) and
                    * roll-out training's prediction */
    int sc_pass;   /* self_cond and self_cond_rate > 0: the step's first pass */
    float *m1, *v1, *ema;
    float *xt, *xin, *eps, *target, *out, *dout, *zt, *gamma; /* this rank's b examples */
    int frame_indep;                                          /* frame_noise = independent */
    float *gslot, *gframe; /* then: (b, ns) levels per time slot, (b, Tx) per frame */
    int *labels;
    long step;
    int rank, nranks, b; /* data parallel: this rank's shard of b = batch_size / nranks */
    char last_error[512];
};

static void trainer_free_buffers(rin_trainer *t) {
    free(t->m1), free(t->v1), free(t->ema), free(t->xt), free(t->xin), free(t->eps);
    free(t->target), free(t->out), free(t->dout), free(t->zt), free(t->gamma), free(t->labels);
    free(t->gslot), free(t->gframe);
}

void rin_trainer_free(rin_trainer *t) {
    if (!t)
        return;
    rin_ctx_free(t->ctx);
    rin_ctx_free(t->ictx);
    trainer_free_buffers(t);
    free(t);
}

rin_status rin_trainer_create(rin_trainer **out, rin_model *m, const rin_train_config *tc,
                              char *err, size_t errlen) {
    return rin_trainer_create_shard(out, m, tc, 0, 1, err, errlen);
}

rin_status rin_trainer_create_shard(rin_trainer **out, rin_model *m, const rin_train_config *tc,
                                    int rank, int nranks, char *err, size_t errlen) {
    *out = NULL;
    if (nranks < 1 || rank < 0 || rank >= nranks)
        return rin_errorf(err, errlen, RIN_STATUS_ARG, "rank %d of %d ranks", rank, nranks);
    if (tc->batch_size % nranks)
        return rin_errorf(err, errlen, RIN_STATUS_CONFIG,
                          "batch_size %d is not a multiple of the %d ranks (each rank takes an "
                          "equal share of the batch)",
                          tc->batch_size, nranks);
    rin_trainer *t = calloc(1, sizeof *t);
    if (!t)
        return rin_errorf(err, errlen, RIN_STATUS_NOMEM, "out of memory (trainer)");
    t->m = m;
    t->tc = *tc;
    t->rank = rank;
    t->nranks = nranks;
    t->b = tc->batch_size / nranks;
    rin_status s = derive(tc, &t->oc, &t->sched, &t->pred, err, errlen);
    if (s) {
        free(t);
        return s;
    }
    const rin_config *c = &m->cfg;
    int B = t->b;
    size_t nf = m->nfloats, per = rin_config_input_floats(c), nz = (size_t)c->L * c->D;
    t->frame_indep = !strcmp(tc->frame_noise, "independent");
    if (t->frame_indep && (c->seq_len == 0 || !c->token_gamma)) {
        free(t);
        return rin_errorf(err, errlen, RIN_STATUS_CONFIG,
                          "frame_noise: independent gives each predicted frame of a video model "
                          "its own noise level, which the model must see per token: it needs "
                          "seq_len > 0 and token_gamma = 1 (got seq_len %d, token_gamma %d)",
                          c->seq_len, c->token_gamma);
    }
    if (tc->rollout_rate > 0 && (c->seq_len == 0 || c->cond_frames < 1)) {
        free(t);
        return rin_errorf(err, errlen, RIN_STATUS_CONFIG,
                          "rollout_rate: %g conditions a video model on its own prediction of "
                          "frames it was given: it needs seq_len > 0 and cond_frames >= 1 (got "
                          "seq_len %d, cond_frames %d)",
                          tc->rollout_rate, c->seq_len, c->cond_frames);
    }
    t->sc_pass = c->self_cond && tc->self_cond_rate > 0;
    s = rin_ctx_create(&t->ctx, m, B, RIN_CTX_TRAIN, err, errlen);
    if (!s && (t->sc_pass || tc->rollout_rate > 0))
        s = rin_ctx_create(&t->ictx, m, B, RIN_CTX_INFER, err, errlen);
    if (s) {
        rin_trainer_free(t);
        return s;
    }
    rin_precision prec = strcmp(tc->precision, "bf16") ? RIN_PRECISION_FP32 : RIN_PRECISION_BF16;
    rin_ctx_set_precision(t->ctx, prec);
    if (t->ictx)
        rin_ctx_set_precision(t->ictx, prec);
    t->m1 = rin_aligned_alloc(nf * sizeof(float));
    t->v1 = rin_aligned_alloc(nf * sizeof(float));
    t->ema = rin_aligned_alloc(nf * sizeof(float));
    t->xt = malloc(B * per * sizeof(float));
    t->xin = malloc(B * per * sizeof(float));
    t->eps = malloc(B * per * sizeof(float));
    t->target = malloc(B * per * sizeof(float));
    t->out = malloc(B * per * sizeof(float));
    t->dout = malloc(B * per * sizeof(float));
    t->zt = malloc(B * nz * sizeof(float));
    t->gamma = malloc((size_t)B * sizeof(float));
    t->labels = malloc((size_t)B * sizeof(int));
    if (t->frame_indep) {
        t->gslot = malloc((size_t)B * m->dims.ns * sizeof(float));
        t->gframe = malloc((size_t)B * m->dims.Tx * sizeof(float));
    }
    if (!t->m1 || !t->v1 || !t->ema || !t->xt || !t->xin || !t->eps || !t->target || !t->out ||
        !t->dout || !t->zt || !t->gamma || !t->labels ||
        (t->frame_indep && (!t->gslot || !t->gframe))) {
        rin_trainer_free(t);
        return rin_errorf(err, errlen, RIN_STATUS_NOMEM,
                          "out of memory: optimizer state for %zu parameters", nf);
    }
    memset(t->m1, 0, nf * sizeof(float));
    memset(t->v1, 0, nf * sizeof(float));
    /* The official EMA starts from its own random initialisation (spec 4), which only washes
     * out after ~1e5 steps at decay 0.9999; starting from the weights is the sensible choice
     * for runs of any length. */
    memcpy(t->ema, m->params, nf * sizeof(float));
    *out = t;
    return RIN_STATUS_OK;
}

long rin_trainer_step_count(const rin_trainer *t) {
    return t->step;
}

void rin_trainer_set_cond(rin_trainer *t, const float *cond) {
    rin_ctx_set_cond(t->ctx, cond);
    if (t->ictx)
        rin_ctx_set_cond(t->ictx, cond);
}

const char *rin_trainer_last_error(const rin_trainer *t) {
    return t->last_error;
}

void rin_trainer_set_check_numerics(rin_trainer *t, int on) {
    rin_ctx_set_check_numerics(t->ctx, on);
    if (t->ictx)
        rin_ctx_set_check_numerics(t->ictx, on);
}

/* Records why step t->step + 1 failed and returns s. */
static rin_status step_failed(rin_trainer *t, rin_status s, const rin_ctx *ctx, const char *what) {
    const char *detail = ctx ? rin_ctx_last_error(ctx) : "";
    snprintf(t->last_error, sizeof t->last_error, "step %ld: %s%s%s", t->step + 1, what,
             detail[0] ? "; " : "", detail);
    return s;
}
const float *rin_trainer_ema(const rin_trainer *t) {
    return t->ema;
}
const rin_train_config *rin_trainer_config(const rin_trainer *t) {
    return &t->tc;
}

static int all_finite(const float *x, size_t n) {
    int ok = 1;
    for (size_t i = 0; i < n; i++)
        ok &= isfinite(x[i]);
    return ok;
}

/* Roll-out training (rin's own, docs/video.md): the clip is Nc + 2 bf frames; the training
 * example predicts the second block of bf frames from the last Nc frames before it, where the
 * first block is, with probability rollout_rate, the model's own x0_hat of it: one inference
 * pass (no dropout, no self-conditioning latents) at a level gamma drawn from the training
 * schedule, from the true frames noised, clipped to [-b, b] as the samplers clip. Randomness
 * comes from (seed, step, global example), like the step's, so a resumed or data-parallel run
 * draws the same. */
rin_status rin_trainer_rollout_batch(rin_trainer *t, const float *cond0, const float *frames,
                                     float *cond, float *x0, int *rolled) {
    const rin_config *c = &t->m->cfg;
    const rin_train_config *tc = &t->tc;
    int B = t->b, Bg = tc->batch_size, e0 = t->rank * t->b, Nc = c->cond_frames;
    size_t frame = (size_t)c->H * c->W * c->C, per = rin_config_input_floats(c);
    int bf = (int)(per / frame);
    t->last_error[0] = 0;
    if (c->seq_len == 0 || Nc < 1)
        return RIN_STATUS_ARG;
    rin_rng rng;
    rin_rng_seed(&rng, rin_hash64(tc->seed, STREAM_ROLL, (uint64_t)t->step));
    int any = 0;
    for (int g = 0; g < Bg; g++) {
        double u = rin_rng_uniform(&rng), v = rin_rng_uniform(&rng);
        if (g >= e0 && g < e0 + B) {
            int r = u < tc->rollout_rate;
            t->labels[g - e0] = r; /* scratch: the step draws its labels afresh */
            t->gamma[g - e0] = (float)rin_schedule_gamma(&t->sched, v);
            any |= r;
        }
    }
    /* the first block of every example: the truth, replaced below where rolled */
    for (int i = 0; i < B; i++)
        memcpy(t->target + (size_t)i * per, frames + (size_t)i * 2 * per, per * sizeof(float));
    if (any) {
        rin_rng_discard(&rng, 2 * (uint64_t)e0 * per);
        for (size_t k = 0; k < (size_t)B * per; k++)
            t->eps[k] = (float)rin_rng_normal(&rng);
        rin_diffusion_add_noise(t->xt, t->target, t->eps, t->gamma, B, per);
        const float *xin = t->xt;
        if (tc->normalize_noisy_input) {
            memcpy(t->xin, t->xt, (size_t)B * per * sizeof(float));
            rin_diffusion_normalize(t->xin, B, per);
            xin = t->xin;
        }
        rin_ctx_set_cond(t->ictx, cond0);
        rin_batch in = {.B = B, .x_t = xin, .gamma = t->gamma, .example0 = (uint64_t)e0};
        rin_status s = rin_forward(t->ictx, &in, t->out, NULL);
        if (s)
            return step_failed(t, s, t->ictx,
                               s == RIN_STATUS_NONFINITE ? "the roll-out prediction is not finite"
                                                         : rin_status_str(s));
        rin_diffusion_x0_eps(t->dout, NULL, t->out, t->xt, t->gamma, B, per, t->pred,
                             (float)tc->b_scale);
        for (int i = 0; i < B; i++)
            if (t->labels[i])
                memcpy(t->target + (size_t)i * per, t->dout + (size_t)i * per, per * sizeof(float));
    }
    /* cond: the last Nc frames of [cond0 ; first block]; x0: the second block */
    for (int i = 0; i < B; i++) {
        for (int j = 0; j < Nc; j++) {
            int g = bf + j; /* frame g of the clip, counting cond0's from 0 */
            const float *src = g < Nc ? cond0 + ((size_t)i * Nc + g) * frame
                                      : t->target + (size_t)i * per + (size_t)(g - Nc) * frame;
            memcpy(cond + ((size_t)i * Nc + j) * frame, src, frame * sizeof(float));
        }
        memcpy(x0 + (size_t)i * per, frames + (size_t)i * 2 * per + per, per * sizeof(float));
        if (rolled)
            rolled[i] = t->labels[i];
    }
    rin_trainer_set_cond(t, cond);
    return RIN_STATUS_OK;
}

/* Phase 1 of a step on this rank's shard x0 (b examples): noise, the self-conditioning pass and
 * the gradient pass's forward; *loss = the shard's mean squared error. */
rin_status rin_trainer_shard_forward(rin_trainer *t, const float *x0, const int *labels,
                                     double *loss) {
    const rin_config *c = &t->m->cfg;
    const rin_train_config *tc = &t->tc;
    int B = t->b, Bg = tc->batch_size, e0 = t->rank * t->b;
    size_t per = rin_config_input_floats(c), n = B * per, nz = (size_t)c->L * c->D;
    rin_rng rng;
    rin_rng_seed(&rng, rin_hash64(tc->seed, STREAM_STEP, (uint64_t)t->step));
#define MINE(g) ((g) >= e0 && (g) < e0 + B) /* global example g is in this shard */
    t->last_error[0] = 0;

    /* 1. noise levels, noise, the noisy input and the target */
    const rin_dims *dm = &t->m->dims;
    int ns = dm->ns, Tx = dm->Tx;
    if (!t->frame_indep) {
        for (int g = 0; g < Bg; g++) {
            double u = rin_rng_uniform(&rng);
            if (MINE(g))
                t->gamma[g - e0] = (float)rin_schedule_gamma(&t->sched, u);
        }
    } else { /* frame_noise = independent: one t per time slot, slot-major per example */
        for (int g = 0; g < Bg; g++)
            for (int r = 0; r < ns; r++) {
                double u = rin_rng_uniform(&rng);
                if (MINE(g))
                    t->gslot[(size_t)(g - e0) * ns + r] = (float)rin_schedule_gamma(&t->sched, u);
            }
        for (int b = 0; b < B; b++) { /* each frame its slot's level; the time token the mean */
            double sum = 0;
            for (int f = 0; f < Tx; f++) {
                float gf = t->gslot[(size_t)b * ns + f / c->seq_stride];
                t->gframe[(size_t)b * Tx + f] = gf;
                sum += (double)gf;
            }
            t->gamma[b] = (float)(sum / Tx);
        }
    }
    rin_rng_discard(&rng, 2 * (uint64_t)e0 * per); /* a normal is two u64 draws */
    for (size_t i = 0; i < n; i++)
        t->eps[i] = (float)rin_rng_normal(&rng);
    rin_rng_discard(&rng, 2 * (uint64_t)(Bg - e0 - B) * per);
    /* frame_noise = independent: the frames (B Tx of H W C floats, frame-major) are the
     * examples of the noising and the target, each with its own gamma */
    const float *gnoise = t->frame_indep ? t->gframe : t->gamma;
    int Bn = t->frame_indep ? B * Tx : B;
    size_t pern = t->frame_indep ? per / (size_t)Tx : per;
    rin_diffusion_add_noise(t->xt, x0, t->eps, gnoise, Bn, pern);
    const float *xin = t->xt;
    if (tc->normalize_noisy_input) {
        memcpy(t->xin, t->xt, n * sizeof(float));
        rin_diffusion_normalize(t->xin, B, per);
        xin = t->xin;
    }
    rin_diffusion_target(t->target, t->pred, x0, t->eps, gnoise, Bn, pern);
    const int *lab = NULL;
    if (c->num_classes > 0) {
        for (int g = 0; g < Bg; g++) {
            int drop = tc->cond_dropout > 0 && rin_rng_uniform(&rng) < tc->cond_dropout;
            if (MINE(g)) /* the dropped label -1: the class token is its bias alone */
                t->labels[g - e0] = drop || !labels ? -1 : labels[g - e0];
        }
        lab = t->labels;
    }

    /* 2. self-conditioning: the first pass's latents, kept with probability rate */
    const float *zprev = NULL;
    if (t->sc_pass) {
        rin_batch first = {.B = B,
                           .x_t = xin,
                           .gamma = t->gamma,
                           .labels = lab,
                           .z_prev = NULL,
                           .training = 1,
                           .seed = rin_hash64(tc->seed, STREAM_DROP1, (uint64_t)t->step),
                           .example0 = (uint64_t)e0,
                           .gamma_tok = t->gslot};
        rin_status s = rin_forward(t->ictx, &first, NULL, t->zt);
        if (s == RIN_STATUS_NONFINITE && t->ctx->check_numerics) {
            /* the inference context cannot say which op: repeat the pass in the training
             * context, which keeps every activation */
            (void)rin_forward(t->ctx, &first, NULL, NULL);
            return step_failed(t, s, t->ctx, "the self-conditioning pass is not finite");
        }
        if (s)
            return step_failed(t, s, t->ictx, rin_status_str(s));
        for (int g = 0; g < Bg; g++) {
            int keep = rin_rng_uniform(&rng) > 1.0 - tc->self_cond_rate;
            if (MINE(g) && !keep)
                memset(t->zt + (size_t)(g - e0) * nz, 0, nz * sizeof(float));
        }
        zprev = t->zt;
    }
#undef MINE

    /* 3. the gradient pass's forward and the loss */
    rin_batch second = {.B = B,
                        .x_t = xin,
                        .gamma = t->gamma,
                        .labels = lab,
                        .z_prev = zprev,
                        .training = 1,
                        .seed = rin_hash64(tc->seed, STREAM_DROP2, (uint64_t)t->step),
                        .example0 = (uint64_t)e0,
                        .gamma_tok = t->gslot};
    rin_status s = rin_forward(t->ctx, &second, t->out, NULL);
    if (s)
        return step_failed(t, s, t->ctx,
                           s == RIN_STATUS_NONFINITE ? "the forward pass is not finite"
                                                     : rin_status_str(s));
    *loss = rin_mse_forward_backward(t->dout, t->out, t->target, n);
    return RIN_STATUS_OK;
}

/* Phase 2: this shard's part of the gradient of the global-batch mean, into rin_trainer_grads
 * (the sum of all shards' parts is the whole batch's gradient). */
rin_status rin_trainer_shard_backward(rin_trainer *t) {
    const rin_config *c = &t->m->cfg;
    size_t n = (size_t)t->b * rin_config_input_floats(c);
    if (t->nranks > 1) /* dout is d(shard mean); the global mean is the mean of nranks shards */
        rin_scale(t->dout, n, 1.0f / (float)t->nranks);
    rin_ctx_zero_grad(t->ctx);
    rin_status s = rin_backward(t->ctx, t->dout, NULL, NULL, NULL);
    if (s)
        return step_failed(t, s, t->ctx,
                           s == RIN_STATUS_NONFINITE ? "a gradient is not finite"
                                                     : rin_status_str(s));
    return RIN_STATUS_OK;
}

float *rin_trainer_grads(rin_trainer *t) {
    return rin_ctx_grads(t->ctx);
}

/* Phase 3, with the gradient summed over the ranks and loss the global batch's mean:
 * clipping, the optimizer and the EMA. Identical on every rank. */
rin_status rin_trainer_apply(rin_trainer *t, double loss, rin_step_stats *stats) {
    float *g = rin_ctx_grads(t->ctx);
    double gn = rin_global_norm(g, t->m);
    if (!isfinite(gn) || !all_finite(g, t->m->nfloats))
        return step_failed(t, RIN_STATUS_NONFINITE, NULL,
                           "a gradient is not finite (--check-numerics names the tensor)");
    if (t->oc.clip_norm > 0 && gn > t->oc.clip_norm)
        rin_scale(g, t->m->nfloats, (float)(t->oc.clip_norm / gn));
    double lr = rin_lr_at(&t->oc, t->step);
    rin_optim_update(t->m->params, g, t->m1, t->v1, t->m, &t->oc, lr, t->step);
    if (t->oc.ema_decay > 0)
        rin_ema_update(t->ema, t->m->params, t->m->nfloats, rin_ema_decay_at(&t->oc, t->step));
    else
        memcpy(t->ema, t->m->params, t->m->nfloats * sizeof(float));
    t->step++;
    if (stats) {
        stats->loss = loss;
        stats->lr = lr;
        stats->grad_norm = gn;
    }
    return RIN_STATUS_OK;
}

rin_status rin_trainer_step(rin_trainer *t, const float *x0, const int *labels,
                            rin_step_stats *stats) {
    int N = t->nranks;
    if (N > 1 && rin_dist_size() != N)
        return RIN_STATUS_ARG; /* a shard of N ranks outside a job of N ranks */
    double loss, comm_s = 0, t0;
    rin_status s = rin_trainer_shard_forward(t, x0, labels, &loss);
    /* One rank's failure must reach the others, which would wait in the sums below: a failed
     * rank contributes NaN, so every rank sees a non-finite loss and stops at the same step. */
    if (s)
        loss = (double)NAN;
    if (N > 1) {
        t0 = rin_time_seconds();
        rin_status ds = rin_dist_sum_f64(&loss, 1);
        comm_s += rin_time_seconds() - t0;
        if (ds)
            return ds;
        loss /= N;
    }
    if (s)
        return s;
    if (!isfinite(loss))
        return step_failed(t, RIN_STATUS_NONFINITE, NULL,
                           isnan(loss) ? "the loss is NaN" : "the loss is infinite");
    s = rin_trainer_shard_backward(t);
    if (s)
        return s;
    if (N > 1) {
        t0 = rin_time_seconds();
        s = rin_dist_sum_f32(rin_ctx_grads(t->ctx), t->m->nfloats);
        comm_s += rin_time_seconds() - t0;
        if (s)
            return s;
    }
    s = rin_trainer_apply(t, loss, stats);
    if (stats)
        stats->comm_s = comm_s;
    return s;
}

/* ---- checkpoints --------------------------------------------------------------------------- */

static rin_status add_train_meta(const rin_trainer *t, rin_st_writer *w, char *stepbuf,
                                 size_t stepcap, char (*vals)[128]) {
    rin_status s = RIN_STATUS_OK;
    for (int i = 0; !s && i < NTKEYS; i++) {
        rin_train_config_get(&t->tc, i, vals[i], 128);
        s = rin_st_writer_meta(w, tkeys[i].name, vals[i]);
    }
    snprintf(stepbuf, stepcap, "%ld", t->step);
    if (!s)
        s = rin_st_writer_meta(w, "step", stepbuf);
    return s;
}

static rin_status save_buffers(const rin_trainer *t, const char *path,
                               const char *const *extra_meta, int full, char *err, size_t errlen) {
    const rin_model *m = t->m;
    int nt = m->ntensors;
    rin_st_writer *w = rin_st_writer_new();
    char(*names)[96] = calloc((size_t)nt * 4, sizeof *names);
    char(*vals)[128] = calloc(NTKEYS, sizeof *vals);
    char stepbuf[32];
    rin_status s = RIN_STATUS_NOMEM;
    if (w && names && vals) {
        s = rin_model_add_config_meta(&m->cfg, w);
        if (!s)
            s = add_train_meta(t, w, stepbuf, sizeof stepbuf, vals);
        for (int i = 0; !s && extra_meta && extra_meta[i]; i += 2)
            s = rin_st_writer_meta(w, extra_meta[i], extra_meta[i + 1]);
        if (full) {
            if (!s)
                s = rin_model_add_tensors(m, w, m->params, "", names);
            if (!s)
                s = rin_model_add_tensors(m, w, t->ema, "ema.", names + nt);
            if (!s)
                s = rin_model_add_tensors(m, w, t->m1, "opt.m.", names + 2 * nt);
            if (!s)
                s = rin_model_add_tensors(m, w, t->v1, "opt.v.", names + 3 * nt);
        } else if (!s) {
            s = rin_model_add_tensors(m, w, t->ema, "", names);
        }
        if (s)
            rin_errorf(err, errlen, s, "%s: cannot build the checkpoint (%s)", path,
                       rin_status_str(s));
        else
            s = rin_st_writer_save(w, path, err, errlen);
    } else {
        rin_errorf(err, errlen, s, "%s: out of memory", path);
    }
    rin_st_writer_free(w);
    free(names);
    free(vals);
    return s;
}

rin_status rin_trainer_save(const rin_trainer *t, const char *path, const char *const *extra_meta,
                            char *err, size_t errlen) {
    return save_buffers(t, path, extra_meta, 1, err, errlen);
}

rin_status rin_trainer_export(const rin_trainer *t, const char *path, const char *const *extra_meta,
                              char *err, size_t errlen) {
    return save_buffers(t, path, extra_meta, 0, err, errlen);
}

/* Opens a file written for t's model (its model config must be t's; mismatch: the status to
 * return) and reads its "step": required (a checkpoint) or 0 when absent. */
static rin_status open_for_model(const rin_trainer *t, const char *path, rin_status mismatch,
                                 int need_step, rin_st_file **out, long *step, char *err,
                                 size_t errlen) {
    rin_st_file *f;
    rin_status s = rin_st_read(&f, path, err, errlen);
    if (s)
        return s;
    rin_config c;
    s = rin_config_from_meta(&c, f, path, err, errlen);
    if (!s && memcmp(&c, &t->m->cfg, sizeof c))
        s = rin_errorf(err, errlen, mismatch, "%s: the file's model config differs from the run's",
                       path);
    const char *v = rin_st_meta(f, "step");
    char *end = NULL;
    *step = v ? strtol(v, &end, 10) : 0;
    if (!s && ((!v && need_step) || (v && (*end || *step < 0))))
        s = rin_errorf(err, errlen, RIN_STATUS_FORMAT,
                       "%s: __metadata__ 'step' is missing or not a step count", path);
    if (s) {
        rin_st_free(f);
        return s;
    }
    *out = f;
    return RIN_STATUS_OK;
}

rin_status rin_trainer_restore(rin_trainer *t, const char *path, char *err, size_t errlen) {
    rin_st_file *f;
    long st;
    rin_status s = open_for_model(t, path, RIN_STATUS_FORMAT, 1, &f, &st, err, errlen);
    if (s)
        return s;
    s = rin_model_read_tensors(t->m, t->m->params, f, "", path, err, errlen);
    if (!s)
        s = rin_model_read_tensors(t->m, t->ema, f, "ema.", path, err, errlen);
    if (!s)
        s = rin_model_read_tensors(t->m, t->m1, f, "opt.m.", path, err, errlen);
    if (!s)
        s = rin_model_read_tensors(t->m, t->v1, f, "opt.v.", path, err, errlen);
    if (!s)
        t->step = st;
    rin_st_free(f);
    return s;
}

rin_status rin_trainer_init_from(rin_trainer *t, const char *path, char *err, size_t errlen) {
    rin_st_file *f;
    long st;
    rin_status s = open_for_model(t, path, RIN_STATUS_CONFIG, 0, &f, &st, err, errlen);
    if (s)
        return s;
    s = rin_model_read_tensors(t->m, t->m->params, f, "", path, err, errlen);
    /* a training checkpoint has its own EMA; a sampling export is the EMA */
    if (!s && rin_model_file_has_ema(t->m, f))
        s = rin_model_read_tensors(t->m, t->ema, f, "ema.", path, err, errlen);
    else if (!s)
        memcpy(t->ema, t->m->params, t->m->nfloats * sizeof(float));
    if (!s) {
        memset(t->m1, 0, t->m->nfloats * sizeof(float));
        memset(t->v1, 0, t->m->nfloats * sizeof(float));
        t->step = st;
    }
    rin_st_free(f);
    return s;
}

rin_status rin_train_config_from_file(rin_train_config *t, const char *path, char *err,
                                      size_t errlen) {
    rin_st_file *f;
    rin_status s = rin_st_read(&f, path, err, errlen);
    if (s)
        return s;
    rin_train_config_default(t);
    for (int i = 0; !s && i < NTKEYS; i++) {
        const char *v = rin_st_meta(f, tkeys[i].name);
        char e2[256];
        if (v && rin_train_config_set(t, tkeys[i].name, v, e2, sizeof e2))
            s = rin_errorf(err, errlen, RIN_STATUS_FORMAT, "%s: __metadata__: %s", path, e2);
    }
    /* A key newer than the file takes the value that keeps the file's behaviour: checkpoints
     * written before ema_warmup existed trained without it, and resume must repeat them. */
    if (!s && !rin_st_meta(f, "ema_warmup"))
        t->ema_warmup = 0;
    rin_st_free(f);
    return s;
}
