/* rin.h -- Recurrent Interface Networks in C: the one public header.
 *
 * The RIN denoiser of Jabri, Fleet and Chen (arXiv 2212.11972) as specified in
 * shared/spec/rin.md section 1, with a hand-written backward pass. Everything a user needs is
 * here; the structs behind the opaque handles live in src/internal.h.
 *
 * Usage: initialise a model, run the denoiser on a batch, back-propagate a loss.
 *
 *     rin_config cfg;
 *     char err[256];
 *     if (rin_config_preset(&cfg, "cifar10", err, sizeof err) != RIN_STATUS_OK) die(err);
 *     rin_config_set(&cfg, "num_classes", "0", err, sizeof err);   // any key=value override
 *
 *     rin_model *m;
 *     if (rin_model_create(&m, &cfg, err, sizeof err) != RIN_STATUS_OK) die(err);
 *     rin_model_init_params(m, 1234);       // spec 1.8 initialisation, deterministic by seed
 *     // or: rin_model_load(&m, "model.safetensors", err, sizeof err);
 *
 *     rin_ctx *ctx;                         // activations (and gradients) for up to 8 images
 *     rin_ctx_create(&ctx, m, 8, RIN_CTX_TRAIN, err, sizeof err);
 *
 *     rin_batch in = {.B = 8, .x_t = x, .gamma = g, .labels = y, .z_prev = NULL,
 *                     .training = 1, .seed = 42};
 *     rin_forward(ctx, &in, eps_hat, z_out);      // eps_hat (B,H,W,C), z_out (B,L,D)
 *     rin_ctx_zero_grad(ctx);
 *     rin_backward(ctx, d_eps_hat, NULL, dx);     // accumulates into rin_ctx_grads(ctx)
 *
 *     rin_ctx_free(ctx);
 *     rin_model_free(m);
 *
 * Layouts: images are NHWC float32, row-major; a patch vector is ordered (row-in-patch,
 * column-in-patch, channel). Latents are (B, L, D), token-major. Parameters use PyTorch layouts
 * (a Linear weight is (out, in)); docs/tensors.md lists every tensor by name.
 *
 * Threads: OpenMP loops and OpenBLAS take their counts from OMP_NUM_THREADS and
 * OPENBLAS_NUM_THREADS; set both to the number of physical cores. Results do not depend on the
 * thread count.
 */
#ifndef RIN_H
#define RIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define RIN_VERSION "0.1.0"

/* What the shared library exports: the functions of the public headers (include/rin.h,
 * include/rin_image.h), and nothing else (the library is built with -fvisibility=hidden). */
#if defined(__GNUC__)
#define RIN_API __attribute__((visibility("default")))
#else
#define RIN_API
#endif

typedef enum rin_status {
    RIN_STATUS_OK = 0,
    RIN_STATUS_NOMEM,     /* an allocation failed */
    RIN_STATUS_IO,        /* a file could not be opened, read or written */
    RIN_STATUS_FORMAT,    /* a file's contents are malformed or do not match the model */
    RIN_STATUS_CONFIG,    /* an impossible or unknown configuration */
    RIN_STATUS_NONFINITE, /* a loss or gradient became NaN or infinite */
    RIN_STATUS_ARG,       /* a bad argument to a library call */
    RIN_STATUS_CANCELLED  /* stopped on request (a progress callback, rin_generator_cancel) */
} rin_status;

/* A short text for a status ("out of memory", "cancelled"). Thread-safe. */
RIN_API const char *rin_status_str(rin_status s);

/* ------------------------------------------------------------------------------------------ */
/* Configuration: every architecture option of spec section 1.                               */

#define RIN_MAX_BLOCKS 32

typedef struct rin_config {
    int H, W, C;           /* image height, width, channels (C = 1 or 3) */
    int patch;             /* p: patch size; must divide H and W */
    int E;                 /* interface (tape) width */
    int D;                 /* latent width */
    int L;                 /* latent slots, including the time and class tokens */
    int num_blocks;        /* S */
    int K[RIN_MAX_BLOCKS]; /* process depth of each block; K = 0 means read only */
    int lat_heads;         /* heads of latent self-attention */
    int rw_heads;          /* heads of read and write cross-attention */
    int lat_mlp_ratio;     /* MLP ratio of read, process and self-conditioning MLPs */
    int tape_mlp_ratio;    /* MLP ratio of the write MLP; 0 = no write MLP */
    float drop_units;      /* dropout on process-MLP hidden units (training only) */
    float drop_path;       /* stochastic depth in process layers (training only) */
    int num_classes;       /* 0 = unconditional */
    int time_on_latent;    /* 1: time token is a latent; 0: a read-only interface token */
    int cond_on_latent;    /* 1: class token is a latent; 0: a read-only interface token */
    int self_cond;         /* 1: latent self-conditioning ('latent'); 0: none */
    /* Video prediction (spec 6; docs/video.md). seq_len = 0: images (the two others are 0). */
    int seq_len;     /* frames per clip T, conditioning frames included */
    int seq_stride;  /* s: frames per token (3-D patches s x p x p) */
    int cond_frames; /* Nc: the first Nc frames are clean conditioning frames */
    /* Interface positions (spec 1.1 step 4): 0 = 'learned' (the table alone, truncated-normal
     * initialised; every released config); 1 = 'sin_cos_plus_learned' (fixed 2-D sin/cos codes
     * of the patch row and column, the same in every time slot, plus the table as a
     * zero-initialised learned residual); 2 = 'sin_cos_3d_plus_learned' (video only: the codes
     * also carry each slot's frame time, so slots differ from step 0; not in the spec). */
    int tape_pos_encoding;
    /* How a video model sees its clean conditioning frames (docs/video.md): 0 = 'tokens' (spec
     * 6.1: extra interface tokens through the same stem; every checkpoint written before the key
     * existed); 1 = 'channels' (rin's own, not in the spec: no conditioning tokens; each noisy
     * token's stem input also holds the same pixels of the last video_cond_frames clean frames,
     * the stem taking C (1 + k) channels per pixel). */
    int video_cond;
    int video_cond_frames; /* k of 'channels', 1 .. cond_frames; 0 with 'tokens' and images */
    /* rin's own, not in the spec (docs/video.md): 1 adds to every interface token a linear map
     * (time_tape_w) of the sin/cos code of that token's noise level: a noisy token's time slot
     * gets its gamma (rin_batch.gamma_tok, or the example's gamma), a conditioning token
     * gamma = 1. 0 (every checkpoint without the key) is the spec's model. */
    int token_gamma;
    /* rin's own, not in the spec (docs/video.md): with video_cond = channels, h > 0 gives every
     * noisy token the clean frames' (p + 2h) x (p + 2h) window centred on its patch (zero past
     * the frame's edge) instead of the patch's own pixels, so content moving up to h pixels per
     * frame across a patch border is in the token's stem input. 0 (every checkpoint without the
     * key): the same pixels only. */
    int video_cond_halo;
} rin_config;

/* Fills c with a named preset: "cifar10", "imagenet64", "fmnist", "tiny" or "video". */
RIN_API rin_status rin_config_preset(rin_config *c, const char *name, char *err, size_t errlen);
/* The preset names, NULL-terminated. */
RIN_API const char *const *rin_config_preset_names(void);
/* Sets one field from text: rin_config_set(c, "num_layers", "2,2,0", ...). Unknown keys,
 * malformed values and out-of-range values fail with a message naming the key. */
RIN_API rin_status rin_config_set(rin_config *c, const char *key, const char *value, char *err,
                                  size_t errlen);
/* Checks every constraint (patch divides the image, heads divide widths, ...). */
RIN_API rin_status rin_config_validate(const rin_config *c, char *err, size_t errlen);
/* Writes "key=value" lines describing c into buf (for logs and checkpoints' metadata). */
RIN_API int rin_config_format(const rin_config *c, char *buf, size_t buflen);
/* Number of config keys and their names, in a fixed order (the checkpoint metadata keys). */
RIN_API int rin_config_num_keys(void);
RIN_API const char *rin_config_key(int i);
/* The value of key i of c as text; returns the number of characters written. */
RIN_API int rin_config_get(const rin_config *c, int i, char *buf, size_t buflen);

/* Derived sizes. */
RIN_API int rin_config_num_tokens(const rin_config *c); /* n = (H/p)(W/p); video: spec 6.1 */
RIN_API size_t rin_config_num_params(const rin_config *c);
/* Floating-point operations of one forward pass per image: 2 per multiply-add of every linear
 * layer and attention product (QK^T and PV), the work that dominates; LayerNorm, softmax and
 * pointwise ops are not counted. Backward is about twice this. */
RIN_API double rin_config_flops(const rin_config *c);
/* Floats of one example of the network's input x_t and its prediction: H W C for images,
 * (seq_len - cond_frames) H W C for video (the predicted frames, frame-major). */
RIN_API size_t rin_config_input_floats(const rin_config *c);
/* Floats of one example's clean conditioning frames: cond_frames H W C (0 for images). */
RIN_API size_t rin_config_cond_floats(const rin_config *c);

/* ------------------------------------------------------------------------------------------ */
/* Model: configuration plus one parameter buffer.                                            */

typedef struct rin_model rin_model;

RIN_API rin_status rin_model_create(rin_model **out, const rin_config *c, char *err, size_t errlen);
/* Initialises every parameter as spec section 1.8 says, deterministically from seed. */
RIN_API void rin_model_init_params(rin_model *m, uint64_t seed);
RIN_API void rin_model_free(rin_model *m);
RIN_API const rin_config *rin_model_config(const rin_model *m);

/* The flat parameter buffer and the named tensors in it (same layout for gradients). */
RIN_API float *rin_model_params(rin_model *m);
RIN_API size_t rin_model_buffer_floats(const rin_model *m); /* including alignment padding */
RIN_API int rin_model_num_tensors(const rin_model *m);
typedef struct rin_tensor_info {
    const char *name; /* e.g. "blocks.1.process.0.attn_wq" */
    int ndim;
    int shape[2];
    size_t offset; /* in floats, into the parameter buffer */
    size_t numel;
    int decayed; /* 1: weight decay and LAMB trust ratio; 0: bias or LayerNorm */
} rin_tensor_info;
RIN_API const rin_tensor_info *rin_model_tensor(const rin_model *m, int i);
RIN_API const rin_tensor_info *rin_model_find_tensor(const rin_model *m, const char *name);

/* Checkpoints in safetensors format: every parameter by name (F32), the config in
 * __metadata__. extra_meta: optional NULL-terminated key, value pairs added to the metadata.
 * The write is atomic: a temporary file, fsync, then rename. */
RIN_API rin_status rin_model_save(const rin_model *m, const char *path,
                                  const char *const *extra_meta, char *err, size_t errlen);
/* Loads a checkpoint written by rin_model_save (or by any tool that uses the same names):
 * names, shapes and dtypes are checked against the config in the metadata. */
RIN_API rin_status rin_model_load(rin_model **out, const char *path, char *err, size_t errlen);

/* ------------------------------------------------------------------------------------------ */
/* Running the denoiser.                                                                      */

typedef struct rin_ctx rin_ctx;

typedef enum rin_ctx_mode {
    RIN_CTX_INFER = 0, /* forward only; activations are not kept */
    RIN_CTX_TRAIN = 1  /* forward keeps activations; backward and gradients available */
} rin_ctx_mode;

/* Allocates everything a forward (and backward) of up to max_batch images needs; nothing is
 * allocated later. The ctx refers to m's parameters, which must outlive it. */
RIN_API rin_status rin_ctx_create(rin_ctx **out, rin_model *m, int max_batch, rin_ctx_mode mode,
                                  char *err, size_t errlen);
RIN_API void rin_ctx_free(rin_ctx *ctx);
/* The model the ctx runs (its config: rin_model_config(rin_ctx_model(ctx))). */
RIN_API const rin_model *rin_ctx_model(const rin_ctx *ctx);
/* Parameters the ctx reads (default: the model's); lets a caller run another copy (EMA). */
RIN_API void rin_ctx_set_params(rin_ctx *ctx, const float *params);
/* Gradient buffer (same layout as the parameters); NULL in RIN_CTX_INFER mode. */
RIN_API float *rin_ctx_grads(rin_ctx *ctx);
RIN_API void rin_ctx_zero_grad(rin_ctx *ctx);
/* Bytes held by the ctx (activations, scratch, gradients). */
RIN_API size_t rin_ctx_bytes(const rin_ctx *ctx);
/* Video models with cond_frames > 0: the clean conditioning frames (B, cond_frames, H, W, C),
 * in [-b, b], that the following rin_forward calls tokenise after the noisy frames (spec 6.1;
 * video_cond = channels: whose last video_cond_frames frames join every noisy pixel).
 * Referenced, not copied: keep the buffer alive and unchanged while the ctx uses it. */
RIN_API void rin_ctx_set_cond(rin_ctx *ctx, const float *cond);
/* Debugging (off by default): after each rin_forward and rin_backward, scan the activations
 * (and parameter gradients) for NaN and infinity; the first one found makes the call return
 * RIN_STATUS_NONFINITE and rin_ctx_last_error names the tensor and the op that wrote it. Costs
 * one pass over the activations per call. */
RIN_API void rin_ctx_set_check_numerics(rin_ctx *ctx, int on);
/* The arithmetic of the matrix products of the following rin_forward and rin_backward calls.
 * RIN_PRECISION_BF16 (rin's, docs/performance.md "bf16"): the products of the attention and
 * MLP sub-layers (their linear layers and the attention core, forward and backward) round
 * their operands to bfloat16 and sum the exact products in fp32, as the authors' TPU training
 * ran its matmuls; the stem, readout, time and class embeddings, LayerNorm, softmax, the
 * activations and the parameters stay fp32. AVX512_BF16 CPUs run rin's VDPBF16PS kernel, others
 * the same rounding through the fp32 path. Default RIN_PRECISION_FP32 (the spec). */
typedef enum rin_precision { RIN_PRECISION_FP32 = 0, RIN_PRECISION_BF16 = 1 } rin_precision;
RIN_API void rin_ctx_set_precision(rin_ctx *ctx, rin_precision p);
/* Why the last rin_forward or rin_backward failed: a bad argument (RIN_STATUS_ARG: which one and
 * what was expected) or the numerics finding; "" when there is nothing to report. */
RIN_API const char *rin_ctx_last_error(const rin_ctx *ctx);

typedef struct rin_batch {
    int B;               /* images in this batch, 1..max_batch */
    const float *x_t;    /* (B, H, W, C) noisy images; video: (B, T - Nc, H, W, C) frames */
    const float *gamma;  /* (B) noise levels in (0, 1] */
    const int *labels;   /* (B) class ids, or -1 for the dropped label; NULL if unconditional */
    const float *z_prev; /* (B, L, D) previous latents; NULL = zeros */
    int training;        /* 1: dropout and drop-path active */
    uint64_t seed;       /* randomness of dropout and drop-path */
    uint64_t example0;   /* global index of example 0: a data-parallel shard of a larger batch
                          * draws the masks that the whole batch would (0 otherwise) */
    /* token_gamma models only (else ignored): (B, noisy time slots) the noise level of each
     * time slot of the noisy frames, slot-major per example (an image has one slot); the
     * time token still takes gamma. NULL: gamma for every slot. */
    const float *gamma_tok;
} rin_batch;

/* pred (B,H,W,C): the network output (eps by default); z_out (B,L,D): latents after the last
 * block's process step. Either output may be NULL. */
RIN_API rin_status rin_forward(rin_ctx *ctx, const rin_batch *in, float *pred, float *z_out);

/* Back-propagates the last rin_forward of a RIN_CTX_TRAIN ctx: dpred (B,H,W,C) and optional
 * dz_out (B,L,D) are the loss gradients of the outputs. Parameter gradients are ACCUMULATED
 * into rin_ctx_grads(ctx); dx_t (B,H,W,C) and dz_prev (B,L,D), when not NULL, are overwritten
 * with the gradients of the inputs. */
RIN_API rin_status rin_backward(rin_ctx *ctx, const float *dpred, const float *dz_out, float *dx_t,
                                float *dz_prev);

/* ------------------------------------------------------------------------------------------ */
/* Training (spec sections 2-4).                                                              */

typedef struct rin_train_config {
    int batch_size;
    long total_steps;
    uint64_t seed;
    /* optimisation */
    char optimizer[16]; /* "lamb" (spec 4) or "adamw" */
    double lr;          /* base learning rate */
    double beta1, beta2, eps, weight_decay;
    long warmup_steps;
    char lr_schedule[32]; /* "cosine@R" (truncated cosine, spec 4) or "constant" */
    double clip_norm;     /* global gradient-norm clipping; 0 = off */
    /* "bias,beta,gamma" (the released config: biases and LayerNorm get no weight decay and no
     * trust ratio) or "bias,beta,gamma,emb" (the official code's default: also the positional
     * tables and the time and class embeddings) */
    char exclude_from_weight_decay[32];
    double ema_decay; /* 0 = no EMA */
    int ema_warmup;   /* rin's own: decay min(ema_decay, (1 + k) / (10 + k)) at step k */
    /* diffusion */
    char train_schedule[64]; /* "cosine", "cosine@s,e,tau", "sigmoid@s,e,tau", "simple_linear" */
    char pred_type[8];       /* "eps", "x0" or "v" */
    double b_scale;          /* input scale b: x0 in [-b, b] */
    int normalize_noisy_input;
    double self_cond_rate; /* probability that an example gets the first pass's latents */
    double cond_dropout;   /* label dropout for classifier-free guidance */
    /* Video models, rin's own (docs/video.md): "shared" (the spec; every checkpoint without the
     * key) draws one t per example for all its predicted frames; "independent" (diffusion
     * forcing) one t per time slot of the predicted frames, each slot noised and its target
     * formed with its own gamma, which token_gamma models see per token (the time token gets
     * the mean over the predicted frames). Needs token_gamma = 1. */
    char frame_noise[16];
    /* rin's own: "fp32" (the spec; every checkpoint without the key) or "bf16", the matrix
     * products of the training step's forward and backward (rin_ctx_set_precision) */
    char precision[8];
    /* rin's own, video models (docs/video.md, "Roll-out training"): the chance that a training
     * clip is conditioned on the model's own prediction of its last block of frames
     * (rin_trainer_rollout_batch); 0 (every checkpoint without the key) never. */
    double rollout_rate;
} rin_train_config;

/* Defaults of the released CIFAR-10 sweep where they apply (LAMB, lr 3e-3, cosine@0.8,
 * warm-up 10,000, weight decay 0.01, EMA 0.9999, self_cond_rate 0.9, eps prediction,
 * train_schedule sigmoid@-3,3,0.9), with rin's EMA warm-up on (ema_warmup = 0 is the spec's
 * constant decay). */
RIN_API void rin_train_config_default(rin_train_config *t);
/* key=value, like rin_config_set; the keys are listed by rin_train_config_key(i). */
RIN_API rin_status rin_train_config_set(rin_train_config *t, const char *key, const char *value,
                                        char *err, size_t errlen);
RIN_API rin_status rin_train_config_validate(const rin_train_config *t, char *err, size_t errlen);
RIN_API int rin_train_config_num_keys(void);
RIN_API const char *rin_train_config_key(int i);
RIN_API int rin_train_config_get(const rin_train_config *t, int i, char *buf, size_t buflen);

typedef struct rin_trainer rin_trainer;

typedef struct rin_step_stats {
    double loss;      /* MSE of the gradient pass */
    double lr;        /* learning rate used */
    double grad_norm; /* global gradient norm before clipping */
    double comm_s;    /* seconds spent in the sums over data-parallel ranks (0 alone) */
} rin_step_stats;

/* Owns the gradient context, the optimizer moments and the EMA copy of m's parameters (which
 * starts equal to the parameters). The model must outlive the trainer. */
RIN_API rin_status rin_trainer_create(rin_trainer **out, rin_model *m, const rin_train_config *t,
                                      char *err, size_t errlen);
/* A rank of a data-parallel job (docs/distributed.md): rank of nranks ranks, each taking
 * batch_size / nranks images per step (batch_size must be a multiple of nranks); the step sums
 * gradients over the ranks with MPI, so every rank runs the optimizer on the same gradient of
 * the mean loss over the global batch. rank 0 of 1 is rin_trainer_create. */
RIN_API rin_status rin_trainer_create_shard(rin_trainer **out, rin_model *m,
                                            const rin_train_config *t, int rank, int nranks,
                                            char *err, size_t errlen);
RIN_API void rin_trainer_free(rin_trainer *t);
/* One optimisation step on a batch: x0 (batch_size, H, W, C) in [-b, b], labels (batch_size)
 * or NULL (of a shard trainer: this rank's batch_size / nranks images, the global batch's
 * examples [rank b, (rank+1) b); every rank must call it, and all return the same status). Noise
 * levels, noise, the self-conditioning masks, label dropout and dropout masks are drawn from (seed,
 * step), so a resumed run repeats exactly. Returns RIN_STATUS_NONFINITE (weights untouched) when
 * the loss or a gradient is not finite. */
RIN_API rin_status rin_trainer_step(rin_trainer *t, const float *x0, const int *labels,
                                    rin_step_stats *stats);
RIN_API long rin_trainer_step_count(const rin_trainer *t);
/* Video models: the conditioning frames (batch_size, cond_frames, H, W, C) of the following
 * rin_trainer_step calls, whose x0 is then (batch_size, seq_len - cond_frames, H, W, C).
 * Referenced, not copied. */
RIN_API void rin_trainer_set_cond(rin_trainer *t, const float *cond);
/* Roll-out training (rollout_rate > 0; rin's own): the next step's example from a clip of
 * cond_frames + 2 bf frames, bf = seq_len - cond_frames, given as cond0 (batch, cond_frames,
 * H, W, C), its first frames, and frames (batch, 2 bf, H, W, C), the rest. With probability
 * rollout_rate per clip the first block of bf frames is replaced by the model's own one-pass
 * x0 prediction of it from cond0, at a noise level from the training schedule. Writes cond
 * (batch, cond_frames, ...), the last cond_frames frames of [cond0 ; that block], and x0
 * (batch, bf, ...), the second block, makes cond the next step's conditioning
 * (rin_trainer_set_cond), and sets rolled[i] (may be NULL) to 1 where clip i's block was
 * predicted. Drawn from (seed, step, example) like the step; call it before each
 * rin_trainer_step. Data parallel: this rank's examples. */
RIN_API rin_status rin_trainer_rollout_batch(rin_trainer *t, const float *cond0,
                                             const float *frames, float *cond, float *x0,
                                             int *rolled);
/* Why the last rin_trainer_step failed, naming the step ("step 12: the loss is not finite");
 * with check_numerics on, also the first non-finite tensor and the op that wrote it. */
RIN_API const char *rin_trainer_last_error(const rin_trainer *t);
/* rin_ctx_set_check_numerics for both passes of every step (off by default). */
RIN_API void rin_trainer_set_check_numerics(rin_trainer *t, int on);
RIN_API const float *rin_trainer_ema(const rin_trainer *t); /* the EMA weights (model layout) */
RIN_API const rin_train_config *rin_trainer_config(const rin_trainer *t);
/* Training checkpoint: parameters, "ema." copy, "opt.m."/"opt.v." moments, the model and
 * training configs and the step in the metadata (plus extra_meta pairs). Atomic. */
RIN_API rin_status rin_trainer_save(const rin_trainer *t, const char *path,
                                    const char *const *extra_meta, char *err, size_t errlen);
/* A sampling checkpoint: the EMA weights under the plain parameter names (4x smaller). */
RIN_API rin_status rin_trainer_export(const rin_trainer *t, const char *path,
                                      const char *const *extra_meta, char *err, size_t errlen);
/* Restores parameters, EMA, moments and step from a training checkpoint of the same model. */
RIN_API rin_status rin_trainer_restore(rin_trainer *t, const char *path, char *err, size_t errlen);
/* Starts a trainer from weights in a file (rin train --init-from): a training checkpoint gives
 * its parameters and EMA copy, a sampling export (model.safetensors) its EMA weights as both;
 * the optimizer moments start at zero and the step counter continues from the file's "step"
 * (0 if it has none), so the lr schedule and the per-step randomness go on where the file left
 * them. The model config must be the file's. */
RIN_API rin_status rin_trainer_init_from(rin_trainer *t, const char *path, char *err,
                                         size_t errlen);
/* Reads the training config stored in a checkpoint's metadata (after rin_train_config_default
 * for keys an older file lacks). */
RIN_API rin_status rin_train_config_from_file(rin_train_config *t, const char *path, char *err,
                                              size_t errlen);

/* Loads a checkpoint's weights: which = "ema" takes the "ema." copy of a training checkpoint
 * when present (else the plain weights), "raw" the plain weights. */
RIN_API rin_status rin_model_load_weights(rin_model **out, const char *path, const char *which,
                                          char *err, size_t errlen);

/* ------------------------------------------------------------------------------------------ */
/* Sampling (spec sections 2.2 and 3.4).                                                      */

typedef struct rin_sample_config {
    int steps;            /* solver steps (network calls: steps; heun up to 2 steps - 1); 15 */
    char sampler[16];     /* the spec's "ddpm" (= ddpm@large), "ddpm@small", "ddim"; rin's
                             "euler", "euler_a", "heun", "dpm++2m" (default) (docs/sampling.md) */
    char schedule[64];    /* the sampling schedule of the t spacing, "cosine" by default */
    char spacing[16];     /* noise levels: "t", "logsnr", "karras" or "auto" (default: t) */
    char latent_carry[8]; /* "call" (default): each call gets the previous call's latents;
                             "step": only each step's first call carries (differs for heun) */
    double td;            /* time difference (0 in the paper) */
    double guidance;      /* classifier-free guidance weight w (0 = off) */
    int self_cond;        /* 1: carry each step's latents to the next (default); 0: zeros */
    char pred_type[8];    /* from the training config: eps, x0 or v */
    double b_scale;
    int normalize_noisy_input;
    uint64_t seed;
} rin_sample_config;

RIN_API void rin_sample_config_default(rin_sample_config *s);
/* Copies what sampling must share with training: prediction type, input scale, normalisation. */
RIN_API void rin_sample_config_from_train(rin_sample_config *s, const rin_train_config *t);

/* Called after each step with the clipped x0_hat (B,H,W,C) and the new x. */
typedef void (*rin_sample_callback)(void *user, int step, int steps, const float *x0_hat,
                                    const float *x);

/* Generates B images into out (B,H,W,C): the last step's clipped x0_hat, in [-b, b]. labels
 * (B) class ids (or -1 for unconditional) when the model has classes. ctx: any mode, with
 * max_batch >= B. */
RIN_API rin_status rin_sample(rin_ctx *ctx, const rin_sample_config *s, int B, const int *labels,
                              float *out, rin_sample_callback cb, void *user, char *err,
                              size_t errlen);

/* ------------------------------------------------------------------------------------------ */
/* Embedding a sampler: a checkpoint opened for generation (examples/, docs/library.md).       */
/*                                                                                            */
/*     rin_generator *g;                                                                      */
/*     if (rin_generator_open(&g, "models/fmnist.safetensors", NULL, err, sizeof err)) die(err); */
/*     rin_generate_request r;                                                                */
/*     rin_generate_request_default(&r);                                                      */
/*     r.n = 16, r.seed = 7;                                                                  */
/*     float *px = malloc(rin_generator_image_floats(g) * r.n * sizeof *px);                  */
/*     if (rin_generate(g, &r, px)) die(rin_generator_last_error(g));                         */
/*     rin_generator_close(g);                                                                */

/* The library's version, RIN_VERSION of the build ("0.1.0"). Thread-safe. */
RIN_API const char *rin_version(void);

typedef struct rin_generator rin_generator;

typedef struct rin_generator_options {
    const char *weights; /* "ema" (NULL: default; a training checkpoint's EMA copy) or "raw" */
    int max_batch;       /* images per network call; 0: 64 (rin sample's --batch) */
} rin_generator_options;

/* Opens a checkpoint (a sampling export such as models/fmnist.safetensors, or a training
 * checkpoint) for generation: its weights, and what sampling must share with its training
 * (prediction type, input scale, input normalisation) from its metadata. opt may be NULL. Image
 * models only: a video model fails with RIN_STATUS_ARG (rin sample --frames rolls video out).
 * On failure *out is NULL and err says why, naming the file. */
RIN_API rin_status rin_generator_open(rin_generator **out, const char *path,
                                      const rin_generator_options *opt, char *err, size_t errlen);
RIN_API void rin_generator_close(rin_generator *g); /* NULL is fine */
/* The model's configuration: H, W, C of the images, num_classes, ... */
RIN_API const rin_config *rin_generator_config(const rin_generator *g);
/* Floats of one generated image: H W C. */
RIN_API size_t rin_generator_image_floats(const rin_generator *g);

/* Progress of rin_generate: `done` of `total` solver steps, counted over every batch of the
 * request (total = steps x batches), after each step. Return nonzero to stop the request: it
 * then returns RIN_STATUS_CANCELLED before its next network call. */
typedef int (*rin_progress_fn)(void *user, int done, int total);

typedef struct rin_generate_request {
    int n;               /* images to generate, >= 1 */
    const int *labels;   /* (n) class ids, -1 for the dropped (unconditional) label; NULL: image
                            i gets class i mod num_classes (every class in turn). Ignored by an
                            unconditional model. */
    double guidance;     /* classifier-free guidance weight w; 0: off (docs/sampling.md) */
    const char *sampler; /* "ddpm", "ddim", "euler", "euler_a", "heun", "dpm++2m", ...; NULL:
                            rin sample's default */
    int steps;           /* solver steps; 0: rin sample's default */
    const char *spacing; /* "t", "logsnr", "karras" or "auto" (NULL) */
    uint64_t seed;       /* noise; a seed gives the same images every time */
    rin_progress_fn progress; /* may be NULL */
    void *user;               /* passed to progress */
} rin_generate_request;

/* n = 1, every other field its default (as rin sample without options). Thread-safe. */
RIN_API void rin_generate_request_default(rin_generate_request *r);

/* Generates r->n images into out (n, H, W, C), float pixel values in [0, 1] (0 is black), in
 * batches of max_batch images. The images are the ones `rin sample --model PATH --n N --seed S`
 * (with the same sampler, steps, spacing, guidance and --batch) writes. On failure the text is
 * in rin_generator_last_error(g); out may hold the batches finished before the failure. */
RIN_API rin_status rin_generate(rin_generator *g, const rin_generate_request *r, float *out);
/* Asks the rin_generate running on g to stop (RIN_STATUS_CANCELLED before its next network
 * call). The one function that may be called from another thread while rin_generate runs; a
 * request started after it runs normally. */
RIN_API void rin_generator_cancel(rin_generator *g);
/* Why the last rin_generate (or the last failed call on g) failed; "" after a success. */
RIN_API const char *rin_generator_last_error(const rin_generator *g);

/* Thread safety: the functions marked thread-safe may be called from any thread at any time.
 * Every other function works on the objects it is given: different objects (models, ctxs,
 * trainers, generators) may be used from different threads at once; one object must not be
 * used by two threads at once, except rin_generator_cancel. A model shared by several ctxs is
 * only read by them. Each call runs its work on the calling thread's OpenMP team. */

/* Mean squared error over n elements; dpred (may be NULL) gets 2(pred - target)/n. */
RIN_API double rin_mse_loss(float *dpred, const float *pred, const float *target, size_t n);

#ifdef __cplusplus
}
#endif
#endif /* RIN_H */
