/* internal.h -- private declarations shared by src/ and tests/ (not installed for users).
 *
 * The structs behind the public handles of include/rin.h, the RNG, the safetensors reader and
 * writer, and small utilities. See shared/spec/style.md sections 3, 5 and 7.
 */
#ifndef RIN_INTERNAL_H
#define RIN_INTERNAL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "rin.h"
#include "tensors.h"

/* ---- assertions and errors (util.c) -------------------------------------------------------- */

/* Always compiled in (not removed by NDEBUG): prints file:line and aborts. For invariants. */
#define RIN_ASSERT(cond)                                                                           \
    do {                                                                                           \
        if (!(cond))                                                                               \
            rin_assert_fail(__FILE__, __LINE__, #cond);                                            \
    } while (0)
void rin_assert_fail(const char *file, int line, const char *cond);

/* snprintf into err (when err is not NULL) and return status s. */
rin_status rin_errorf(char *err, size_t errlen, rin_status s, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* 64-byte aligned allocation, size rounded up to 64; NULL on failure. Free with free(). */
void *rin_aligned_alloc(size_t bytes);
/* Round a float count up to a multiple of 16 (64 bytes). */
static inline size_t rin_round16(size_t n) {
    return (n + 15) & ~(size_t)15;
}

double rin_time_seconds(void); /* monotonic clock */

/* Writes a whole file atomically (temporary file, fsync, rename, directory fsync); on failure
 * nothing appears under path and the message names the file and errno's text. */
rin_status rin_write_file_atomic(const char *path, const void *data, size_t len, char *err,
                                 size_t errlen);
void rin_fsync_parent_dir(const char *path); /* best effort */
/* "1"/"true" -> 1, "0"/"false" -> 0; returns 0 for anything else. */
int rin_parse_bool(const char *v, int *out);
/* The shortest decimal that reads back (strtod) as exactly v: "0.003", not
 * "0.0030000000000000001". Returns snprintf's count. */
int rin_format_double(char *buf, size_t buflen, double v);
/* The same for a float read back with strtof: "0.1", not "0.100000001". */
int rin_format_float(char *buf, size_t buflen, float v);

/* ---- config text (config.c) -----------------------------------------------------------------
 * "key = value" lines; '#' starts a comment; blank lines are skipped. For each setting fn gets
 * the trimmed key and value and the 1-based line number; a non-OK return stops the parse and is
 * returned. A line without '=' (or with an empty key) fails with "name:line: expected ...". */
typedef rin_status (*rin_config_line_fn)(void *user, const char *key, const char *value,
                                         int lineno);
rin_status rin_config_parse_text(const char *text, size_t len, const char *name,
                                 rin_config_line_fn fn, void *user, char *err, size_t errlen);

/* ---- random numbers (rng.c) ---------------------------------------------------------------
 * Sequential: xoshiro256** seeded by splitmix64. Counter-based: a stateless hash of
 * (seed, stream, index), used for dropout and drop-path masks so that a mask element does not
 * depend on the order or thread that draws it. */
typedef struct rin_rng {
    uint64_t s[4];
} rin_rng;
void rin_rng_seed(rin_rng *r, uint64_t seed);
uint64_t rin_rng_u64(rin_rng *r);
double rin_rng_uniform(rin_rng *r); /* [0, 1), 53 bits */
double rin_rng_normal(rin_rng *r);  /* N(0, 1), Box-Muller: exactly two rin_rng_u64 draws */
/* Advances r by n rin_rng_u64 draws (a data-parallel shard skips the other shards' draws). */
void rin_rng_discard(rin_rng *r, uint64_t n);
/* The splitmix64 finaliser, a bijection of 64-bit words. */
static inline uint64_t rin_mix64(uint64_t z) {
    z ^= z >> 30;
    z *= 0xBF58476D1CE4E5B9ull;
    z ^= z >> 27;
    z *= 0x94D049BB133111EBull;
    z ^= z >> 31;
    return z;
}
/* rin_hash64(seed, stream, index) = rin_mix64(rin_hash_key(seed, stream) ^ index): loops over
 * many indices of one stream compute the key once. */
uint64_t rin_hash_key(uint64_t seed, uint64_t stream);
uint64_t rin_hash64(uint64_t seed, uint64_t stream, uint64_t index);
/* [0, 1) with 24 bits of a hash. */
static inline float rin_hash_uniform(uint64_t h) {
    return (float)(h >> 40) * (1.0f / 16777216.0f);
}
static inline float rin_counter_uniform(uint64_t seed, uint64_t stream, uint64_t index) {
    return rin_hash_uniform(rin_hash64(seed, stream, index));
}
uint64_t rin_hash_str(const char *s); /* FNV-1a, for per-tensor streams */

/* ---- safetensors (safetensors.c) ----------------------------------------------------------
 * Reader and writer for checkpoints and test fixtures (style.md section 9). The JSON header is
 * parsed with Jansson and validated completely before any data is used. */
typedef enum rin_dtype {
    RIN_DTYPE_F32,
    RIN_DTYPE_F64,
    RIN_DTYPE_I32,
    RIN_DTYPE_I64,
    RIN_DTYPE_U8,
    RIN_DTYPE_COUNT
} rin_dtype;
const char *rin_dtype_name(rin_dtype t); /* "F32", ... */
size_t rin_dtype_size(rin_dtype t);

#define RIN_ST_MAX_DIMS 8
typedef struct rin_st_tensor {
    char *name;
    rin_dtype dtype;
    int ndim;
    int64_t shape[RIN_ST_MAX_DIMS];
    size_t numel;
    size_t nbytes;
    size_t offset; /* into the data buffer */
} rin_st_tensor;

typedef struct rin_st_file {
    int ntensors;
    rin_st_tensor *tensors; /* in file order */
    int nmeta;
    char **meta_keys, **meta_values;
    uint8_t *data; /* the data buffer (all bytes after the header) */
    size_t data_size;
} rin_st_file;

/* Reads and validates a whole file. Errors name the file and the problem. */
rin_status rin_st_read(rin_st_file **out, const char *path, char *err, size_t errlen);
void rin_st_free(rin_st_file *f);
const rin_st_tensor *rin_st_find(const rin_st_file *f, const char *name);
const char *rin_st_meta(const rin_st_file *f, const char *key); /* NULL if absent */
static inline const void *rin_st_data(const rin_st_file *f, const rin_st_tensor *t) {
    return f->data + t->offset;
}
/* Copies tensor `name` into dst as float32 (converting F64), checking that it exists and has
 * exactly numel elements. */
rin_status rin_st_get_f32(const rin_st_file *f, const char *name, float *dst, size_t numel,
                          char *err, size_t errlen);
/* Same, as float64 (converting F32). */
rin_status rin_st_get_f64(const rin_st_file *f, const char *name, double *dst, size_t numel,
                          char *err, size_t errlen);

typedef struct rin_st_writer rin_st_writer;
rin_st_writer *rin_st_writer_new(void);
/* Adds a tensor; data is referenced, not copied, and must live until save. */
rin_status rin_st_writer_add(rin_st_writer *w, const char *name, rin_dtype dtype, int ndim,
                             const int64_t *shape, const void *data);
rin_status rin_st_writer_meta(rin_st_writer *w, const char *key, const char *value);
/* Writes atomically: path.tmp.<pid>, fflush, fsync, rename, fsync of the directory. */
rin_status rin_st_writer_save(rin_st_writer *w, const char *path, char *err, size_t errlen);
void rin_st_writer_free(rin_st_writer *w);

/* ---- model (model.c) ------------------------------------------------------------------------ */

typedef struct rin_tensor_rec {
    rin_tensor_info info;
    char name[80];
    int init;    /* enum rin_init */
    float limit; /* uniform init bound, or std for RIN_INIT_TRUNC_NORM */
} rin_tensor_rec;

/* Sizes derived from the config, computed once. */
typedef struct rin_dims {
    int n;            /* interface tokens */
    int P;            /* p*p*C (video: s*p*p*C), a token's readout width */
    int Pin;          /* the stem's input width: P, or P (1 + k) with video_cond = channels */
    int grid;         /* tokens per time slot, (H/p)(W/p) */
    int ns;           /* noisy time slots (1 for images): rows of rin_batch.gamma_tok */
    int ng;           /* token_gamma rows per example: ns, + 1 (gamma = 1) with cond. tokens */
    int A;            /* min(E, D) */
    int Lz;           /* learned latent rows = L - latent condition tokens */
    int Dt;           /* time-token width (D if time_on_latent else E) */
    int dt;           /* sinusoid width Dt/4 */
    int Dc;           /* class-token width */
    int nr;           /* read-only interface tokens (time/class tokens not on the latents) */
    int rD;           /* lat_mlp_ratio * D */
    int rE;           /* tape_mlp_ratio * E */
    int total_layers; /* sum of K */
    int nx; /* tokens read out: n for images; video: the noisy frames' tokens (spec 6.1) */
    int Tx; /* frames predicted: 1 for images; video: seq_len - cond_frames */
} rin_dims;
void rin_dims_compute(rin_dims *d, const rin_config *c);
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
    const float *cond; /* video: (B, cond_frames, H, W, C) clean frames (rin_ctx_set_cond) */
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
