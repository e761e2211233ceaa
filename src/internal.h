/* internal.h -- the structs behind the public handles of include/rin.h (model, context,
 * trainer) and the private functions over them, shared by the layers of src/ and by tests/
 * (not installed, and not for the program in cli/, which uses the public headers and the
 * layers' own headers). It includes the base and data headers every library file needs:
 * util.h (errors, allocation, files), rng.h, safetensors.h. See shared/spec/style.md sections
 * 3, 5 and 7.
 */
#ifndef RIN_INTERNAL_H
#define RIN_INTERNAL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "dims.h"
#include "rin.h"
#include "rng.h"
#include "safetensors.h"
#include "tensors.h"
#include "util.h"

/* ---- model (model.c) ------------------------------------------------------------------------ */

typedef struct rin_tensor_rec {
    rin_tensor_info info;
    char name[80];
    int init;    /* enum rin_init */
    float limit; /* uniform init bound, or std for RIN_INIT_TRUNC_NORM */
} rin_tensor_rec;

/* 1 for config keys that a checkpoint may lack (then 0: the video keys, added later). */
int rin_config_key_optional(int i);

struct rin_model {
    rin_config cfg;
    rin_dims dims;
    float *params; /* one buffer, nfloats */
    size_t nfloats;
    int ntensors;
    rin_tensor_rec *tensors;
    rin_params_view view;  /* pointers into params */
    float *tape_pos_fixed; /* (n, E) fixed sin/cos codes added to the interface, or NULL */
};

/* The fixed interface positions of tape_pos_encoding = sin_cos_plus_learned, (n, E): the
 * official code's 2-D sin/cos codes (transformers.py get_2d_position_codes, coordinates
 * normalised to [0, 1000] = time_scaling) of each token's patch row (first E/2 features) and
 * column (last E/2); a 1-D code over all patches when the grid has one row or column. A video's
 * time slots, the conditioning frames' included, all repeat the same spatial codes.
 * sin_cos_3d_plus_learned (video): [time E/4 | row 3E/8 | column 3E/8], the time being the clip
 * frame that starts the token's slot. */
void rin_tape_pos_codes(float *out, const rin_config *c);

/* Lays out the table over base (NULL: count only) and fills view and recs when not NULL.
 * Returns the number of floats. The single place that knows the layout. */
size_t rin_layout(const rin_config *c, float *base, rin_params_view *view, rin_tensor_rec *recs,
                  int *ntensors);
/* A view over another buffer of the same layout (gradients, moments, EMA). Caller frees with
 * rin_view_free. */
rin_status rin_view_build(rin_params_view *v, const rin_config *c, float *base);
void rin_view_free(rin_params_view *v);

/* Checkpoint pieces shared by rin_model_save/load and the trainer's checkpoints. */
rin_status rin_model_add_config_meta(const rin_config *c, rin_st_writer *w);
/* Adds every tensor of buf (model layout) as prefix + name; names: ntensors x 96 chars, kept
 * alive by the caller until the writer saves. */
rin_status rin_model_add_tensors(const rin_model *m, rin_st_writer *w, const float *buf,
                                 const char *prefix, char (*names)[96]);
/* Reads prefix + name of every table tensor into buf, checking shape and dtype. */
rin_status rin_model_read_tensors(rin_model *m, float *buf, const rin_st_file *f,
                                  const char *prefix, const char *path, char *err, size_t errlen);
/* 1 when f holds an "ema." copy of m's tensors (a training checkpoint; an export has only
 * the plain names). */
int rin_model_file_has_ema(const rin_model *m, const rin_st_file *f);
/* Builds and validates the config stored in a file's metadata. */
rin_status rin_config_from_meta(rin_config *c, const rin_st_file *f, const char *path, char *err,
                                size_t errlen);

/* ---- forward/backward context (denoise.c) ---------------------------------------------------- */

/* Saved state of a pre-LN residual attention sub-layer. */
typedef struct rin_attn_acts {
    float *ln, *mean, *rstd; /* (B,Nq,Dq) (B,Nq) (B,Nq) */
    float *q, *k, *v;        /* (B,Nq,A) (B,Nk,A) (B,Nk,A) */
    float *att;              /* (B,NH,Nq,Nk) */
    float *o;                /* (B,Nq,A) heads concatenated */
    float *f;                /* (B,Nq,Dq) branch output before the residual add */
    float *out;              /* (B,Nq,Dq) residual stream after the sub-layer */
} rin_attn_acts;

/* Saved state of a pre-LN residual MLP sub-layer. */
typedef struct rin_mlp_acts {
    float *ln, *mean, *rstd; /* (B,N,Dm) (B,N) (B,N) */
    float *h;                /* (B,N,Hd) pre-activation */
    float *a;                /* (B,N,Hd) GELU output after dropout */
    float *f;                /* (B,N,Dm) branch output */
    float *out;              /* (B,N,Dm) residual stream after the sub-layer */
} rin_mlp_acts;

typedef struct rin_block_acts {
    float *x_in; /* (B,n,E) interface entering the block (alias of a stream buffer) */
    float *z_in; /* (B,L,D) latents entering the block (alias) */
    float *kv;   /* (B,n+nr,E) read keys/values input when nr > 0, else NULL */
    rin_attn_acts read_attn;
    rin_mlp_acts read_mlp;
    rin_attn_acts *proc_attn; /* K entries */
    rin_mlp_acts *proc_mlp;
    rin_attn_acts write_attn;
    rin_mlp_acts write_mlp;
} rin_block_acts;

typedef struct rin_acts {
    float *patches;                      /* (B,n,P) */
    float *stem, *stem_mean, *stem_rstd; /* (B,n,E) (B,n) (B,n) */
    float *x0;                           /* (B,n,E) interface after stem LN and positions */
    float *tcode;                        /* (B,dt) */
    float *th, *ta;                      /* (B,4dt) time MLP pre-activation and SiLU output */
    float *ttok;                         /* (B,Dt) */
    float *tg_gamma, *tg_code, *tg_emb;  /* token_gamma: (B,ng) (B,ng,dt) (B,ng,E) */
    float *onehot;                       /* (B,classes) */
    float *ctok;                         /* (B,Dc) */
    float *xr;                           /* (B,nr,E) read-only interface tokens */
    float *zp;                           /* (B,L,D) previous latents (copy of the input) */
    rin_mlp_acts sc;                     /* self-conditioning MLP over zp (its out = zp + MLP) */
    float *sc_mean, *sc_rstd;            /* (B,L) LN_zero statistics */
    float *z0;                           /* (B,L,D) */
    rin_block_acts *blocks;              /* S entries */
    float *dps;                          /* (B) drop-path scales of the current branch */
    float *zfinal;                       /* (B,L,D) latents after the last process step (alias) */
    float *xfinal;                       /* (B,n,E) interface after the last write (alias) */
    float *ro_ln, *ro_mean, *ro_rstd;    /* (B,n,E) (B,n) (B,n) readout LayerNorm */
    float *ro_y;                         /* (B,n,P) */
} rin_acts;

/* Gradient scratch for backward (RIN_CTX_TRAIN only). */
typedef struct rin_grad_scratch {
    float *dX, *dZ;           /* (B,n,E) (B,L,D) residual stream gradients */
    float *dxr;               /* (B,nr,E) read-only tokens */
    float *dln;               /* (B,maxN,maxW) LayerNorm output gradient */
    float *dq, *dk, *dv, *dO; /* (B,maxN,A') A' = max(A, D) */
    float *dkv;               /* (B,n+nr,E) */
    float *dha, *dh;          /* (B,maxN,maxHid) MLP hidden gradients (after, before GELU) */
    float *datt;              /* (B,NH,Nq,Nk) the largest attention */
    float *dtmp;              /* (B,maxN,maxW) drop-path scaled branch gradient, stem grad */
    float *dpatch;            /* (B,n,P) */
    float *dtt, *dta, *dth;   /* (B,Dt) (B,4dt) (B,4dt) time MLP */
    float *dct;               /* (B,Dc) class token */
    float *dtg;               /* (B,ng,E) token_gamma embeddings */
} rin_grad_scratch;

struct rin_ctx {
    rin_model *model;
    const float *params; /* the buffer read (model->params by default) */
    rin_params_view pv;  /* view of params */
    rin_ctx_mode mode;
    int max_batch;
    float *arena; /* activations and scratch, one allocation */
    size_t arena_floats;
    rin_acts acts;
    rin_grad_scratch gs;
    float *grads;       /* same layout as params (TRAIN mode) */
    rin_params_view gv; /* view of grads */
    /* the last forward's inputs, for backward */
    int last_B;
    int last_training;
    uint64_t last_seed;
    uint64_t last_example0;
    const int *last_labels;
    int have_forward;
    const float *cond;       /* video: (B, cond_frames, H, W, C) clean frames (rin_ctx_set_cond) */
    rin_precision precision; /* of the attention and MLP products (rin_ctx_set_precision) */
    /* --check-numerics (numerics.c): scan after forward/backward; last_error holds the first
     * finding, or why the last rin_forward / rin_backward refused its arguments */
    int check_numerics;
    char last_error[384];
};

/* The debug scans of numerics.c, called at the end of rin_forward / rin_backward when
 * ctx->check_numerics is set: RIN_STATUS_NONFINITE with ctx->last_error naming the first
 * non-finite tensor and the op that wrote it. */
rin_status rin_numerics_forward(rin_ctx *ctx, const rin_batch *in);
rin_status rin_numerics_backward(rin_ctx *ctx);

/* ---- the phases of a training step (trainer.c) ---------------------------------------------
 * rin_trainer_step is: shard_forward; sum the shards' losses over the ranks, divided by nranks;
 * shard_backward; sum rin_trainer_grads over the ranks; apply. Tests combine the shards of a
 * data-parallel step in one process with these. */
rin_status rin_trainer_shard_forward(rin_trainer *t, const float *x0, const int *labels,
                                     double *loss);
rin_status rin_trainer_shard_backward(rin_trainer *t);
float *rin_trainer_grads(rin_trainer *t); /* model layout */
rin_status rin_trainer_apply(rin_trainer *t, double loss, rin_step_stats *stats);

/* Stream ids of the counter RNG for dropout and drop-path of process layer `layer` (global
 * index over all blocks). */
#define RIN_STREAM_DROP_UNITS(layer)     (16u * (uint64_t)(layer) + 1u)
#define RIN_STREAM_DROP_PATH_ATTN(layer) (16u * (uint64_t)(layer) + 2u)
#define RIN_STREAM_DROP_PATH_MLP(layer)  (16u * (uint64_t)(layer) + 3u)

#endif /* RIN_INTERNAL_H */
