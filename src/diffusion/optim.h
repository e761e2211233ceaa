/* optim.h -- optimisers, learning-rate schedule, EMA, gradient norms (spec section 4).
 *
 * Parameters, gradients, first and second moments and the EMA share the layout of the
 * parameter table (src/nn/tensors.h), so every update is a loop over the table's tensors.
 * Per-tensor norms (LAMB) and the global norm are computed in double in a fixed order, so
 * results do not depend on the thread count.
 */
#ifndef RIN_OPTIM_H
#define RIN_OPTIM_H

#include <stddef.h>

#include "rin.h"

typedef enum rin_optimizer_kind { RIN_OPT_LAMB, RIN_OPT_ADAMW } rin_optimizer_kind;

typedef struct rin_optim_config {
    rin_optimizer_kind kind;
    double lr;           /* base learning rate */
    double beta1, beta2; /* 0.9, 0.999 */
    double eps;          /* 1e-8 */
    double weight_decay; /* 0.01 in the RIN sweeps */
    long warmup_steps;   /* linear warm-up from 0 */
    long total_steps;    /* the run's length, for the cosine decay */
    double cosine_frac;  /* r of "cosine@r": the cosine stops at fraction r; <= 0: constant */
    double clip_norm;    /* global-norm clipping of gradients; <= 0: off (LAMB never clips in
                            the official code) */
    double ema_decay;    /* 0.9999; <= 0: no EMA */
    int ema_warmup;      /* 1: the decay ramps up as min(ema_decay, (1 + k) / (10 + k)) */
    int exclude_emb;     /* 1: the embedding tables (rin_optim_is_emb) are excluded from weight
                            decay and the trust ratio too: the official code's default list
                            'bias,beta,gamma,emb'; 0: 'bias,beta,gamma', the released config */
} rin_optim_config;

/* 1 for the tensors the official code names *emb*: the positional tables (tape_pos,
 * latent_pos), the time embedding MLP (time_*) and the class embedding (cond_*). */
int rin_optim_is_emb(const char *name);

/* The learning rate at 0-based step `step` (WarmUpAndDecay of the official code):
 * lr = base step/warmup during warm-up, then base (1 + cos(pi min(s, S)/S))/2 with
 * s = step - warmup and S = (total - warmup)/r. */
double rin_lr_at(const rin_optim_config *o, long step);

/* One update of w from g with moments m, v (all in the layout of `model`'s parameter buffer;
 * only the tensors of the table are touched, never the alignment padding). step: the 0-based number
 * of updates done before this one (bias correction uses k = step + 1). Tensors with decayed == 0
 * (biases, LayerNorm), and the embeddings when o->exclude_emb, get no weight decay and, in LAMB,
 * no trust ratio (spec 4). */
void rin_optim_update(float *w, const float *g, float *m, float *v, const rin_model *model,
                      const rin_optim_config *o, double lr, long step);

/* sqrt(sum g^2) over the model's tensors, in double, fixed order. */
double rin_global_norm(const float *g, const rin_model *model);
/* g *= scale over the whole buffer. */
void rin_scale(float *g, size_t n, float scale);
/* The EMA decay of the update that follows optimizer step `step` (0-based: the number of
 * updates done before it). Without warm-up, ema_decay (spec 4). With warm-up (rin's own
 * option), min(ema_decay, (1 + step) / (10 + step)): the form of TensorFlow's
 * ExponentialMovingAverage with num_updates, so the average forgets the random
 * initialisation within a few hundred steps instead of ~1 / (1 - ema_decay). */
double rin_ema_decay_at(const rin_optim_config *o, long step);
/* ema = decay ema + (1 - decay) w. */
void rin_ema_update(float *ema, const float *w, size_t n, double decay);

#endif /* RIN_OPTIM_H */
