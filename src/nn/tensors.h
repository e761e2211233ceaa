/* tensors.h -- the parameter table: every tensor of the model listed once.
 *
 * Each X(...) row is: field, ndim, dim0, dim1, init rule (spec 1.8), heads (MHA init only),
 * decayed (1: weight decay and LAMB trust ratio; 0: biases and LayerNorm, spec section 4).
 * From these rows src/nn/model.c derives the parameter layout, the named tensor list used by
 * checkpoints and tests, the view structs below and the initialisation. Nothing else in the
 * code lists tensors, so names, sizes and buffer order cannot drift apart.
 *
 * Layout in the buffer (block-major): the global tensors, then block 0 (read attention, read
 * MLP, process layers 0..K-1 each attention then MLP, write attention, write MLP), then
 * block 1, ... Each tensor starts at a multiple of 16 floats. Names in files are the prefix
 * plus the field: "stem_w", "blocks.0.read_wq", "blocks.0.process.1.mlp_w1",
 * "blocks.2.write_mlp_ln_w". docs/tensors.md documents them.
 */
#ifndef RIN_TENSORS_H
#define RIN_TENSORS_H

enum rin_init {
    RIN_INIT_ZERO,
    RIN_INIT_ONE,
    RIN_INIT_GLOROT,    /* U(+-sqrt(6/(fan_in+fan_out))), fan_in = dim1, fan_out = dim0 */
    RIN_INIT_STEM,      /* Glorot with conv fans: fan_in = dim1 (C p^2), fan_out = E p^2 */
    RIN_INIT_MHA_QKV,   /* Keras MHA q/k/v kernel (d_in, heads, key_dim) fans */
    RIN_INIT_MHA_OUT,   /* Keras MHA output kernel (heads, key_dim, d_out) fans */
    RIN_INIT_TRUNC_NORM /* normal(0, 0.02) re-drawn outside +-2 std */
};

/* tape_pos is the whole positional table ('learned') or the learned residual over fixed sin/cos
 * codes ('sin_cos_plus_learned', zero-initialised as the official tape_pos_emb_res) */
#define TAPE_POS_INIT (c->tape_pos_encoding ? RIN_INIT_ZERO : RIN_INIT_TRUNC_NORM)

/* time_tape_w (token_gamma, rin's own): each interface token gets time_tape_w @ code(its gamma),
 * the time token's sin/cos code without its MLP; zero-initialised, so a new model starts as the
 * model without it. */

/* Globals. Columns: field, present, ndim, dim0, dim1, init, heads, decayed.
 * Symbols in scope: c (config), n, P (= p*p*C), Pin (stem input: P, or P (1 + k) with
 * video_cond = channels), Lz (learned latents), Dt (time-token width),
 * Dc (class-token width), dt (= Dt/4, sinusoid width), rD (= lat_mlp_ratio * D). */
// clang-format off
#define RIN_GLOBAL_TENSORS(X)                                                                  \
    X(stem_w,        1,                  2, c->E,   Pin,            RIN_INIT_STEM,       0, 1) \
    X(stem_b,        1,                  1, c->E,   0,              RIN_INIT_ZERO,       0, 0) \
    X(stem_ln_w,     1,                  1, c->E,   0,              RIN_INIT_ONE,        0, 0) \
    X(stem_ln_b,     1,                  1, c->E,   0,              RIN_INIT_ZERO,       0, 0) \
    X(tape_pos,      1,                  2, n,      c->E,           TAPE_POS_INIT,       0, 1) \
    X(latent_pos,    1,                  2, Lz,     c->D,           RIN_INIT_TRUNC_NORM, 0, 1) \
    X(time_w1,       1,                  2, 4 * dt, dt,             RIN_INIT_GLOROT,     0, 1) \
    X(time_b1,       1,                  1, 4 * dt, 0,              RIN_INIT_ZERO,       0, 0) \
    X(time_w2,       1,                  2, 4 * dt, 4 * dt,         RIN_INIT_GLOROT,     0, 1) \
    X(time_b2,       1,                  1, 4 * dt, 0,              RIN_INIT_ZERO,       0, 0) \
    X(time_tape_w,   c->token_gamma,     2, c->E,   dt,             RIN_INIT_ZERO,       0, 1) \
    X(cond_w,        c->num_classes > 0, 2, Dc,     c->num_classes, RIN_INIT_GLOROT,     0, 1) \
    X(cond_b,        c->num_classes > 0, 1, Dc,     0,              RIN_INIT_ZERO,       0, 0) \
    X(sc_mlp_ln_w,   c->self_cond,       1, c->D,   0,              RIN_INIT_ONE,        0, 0) \
    X(sc_mlp_ln_b,   c->self_cond,       1, c->D,   0,              RIN_INIT_ZERO,       0, 0) \
    X(sc_mlp_w1,     c->self_cond,       2, rD,     c->D,           RIN_INIT_GLOROT,     0, 1) \
    X(sc_mlp_b1,     c->self_cond,       1, rD,     0,              RIN_INIT_ZERO,       0, 0) \
    X(sc_mlp_w2,     c->self_cond,       2, c->D,   rD,             RIN_INIT_GLOROT,     0, 1) \
    X(sc_mlp_b2,     c->self_cond,       1, c->D,   0,              RIN_INIT_ZERO,       0, 0) \
    X(sc_ln_w,       c->self_cond,       1, c->D,   0,              RIN_INIT_ZERO,       0, 0) \
    X(sc_ln_b,       c->self_cond,       1, c->D,   0,              RIN_INIT_ZERO,       0, 0) \
    X(out_ln_w,      1,                  1, c->E,   0,              RIN_INIT_ONE,        0, 0) \
    X(out_ln_b,      1,                  1, c->E,   0,              RIN_INIT_ZERO,       0, 0) \
    X(out_w,         1,                  2, P,      c->E,           RIN_INIT_GLOROT,     0, 1) \
    X(out_b,         1,                  1, P,      0,              RIN_INIT_ZERO,       0, 0)

/* A pre-LN residual multi-head attention sub-layer: queries from width Dq (normalised),
 * keys and values from width Dk (raw for cross-attention), inner width A over NH heads. */
#define RIN_ATTN_TENSORS(X, Dq, Dk, A, NH)                               \
    X(ln_w, 1, Dq, 0,  RIN_INIT_ONE,     0,  0)                          \
    X(ln_b, 1, Dq, 0,  RIN_INIT_ZERO,    0,  0)                          \
    X(wq,   2, A,  Dq, RIN_INIT_MHA_QKV, NH, 1)                          \
    X(bq,   1, A,  0,  RIN_INIT_ZERO,    0,  0)                          \
    X(wk,   2, A,  Dk, RIN_INIT_MHA_QKV, NH, 1)                          \
    X(bk,   1, A,  0,  RIN_INIT_ZERO,    0,  0)                          \
    X(wv,   2, A,  Dk, RIN_INIT_MHA_QKV, NH, 1)                          \
    X(bv,   1, A,  0,  RIN_INIT_ZERO,    0,  0)                          \
    X(wo,   2, Dq, A,  RIN_INIT_MHA_OUT, NH, 1)                          \
    X(bo,   1, Dq, 0,  RIN_INIT_ZERO,    0,  0)

/* A pre-LN residual MLP sub-layer of width Dm and hidden width Hd (exact GELU). */
#define RIN_MLP_TENSORS(X, Dm, Hd)                                       \
    X(ln_w, 1, Dm, 0,  RIN_INIT_ONE,    0, 0)                            \
    X(ln_b, 1, Dm, 0,  RIN_INIT_ZERO,   0, 0)                            \
    X(w1,   2, Hd, Dm, RIN_INIT_GLOROT, 0, 1)                            \
    X(b1,   1, Hd, 0,  RIN_INIT_ZERO,   0, 0)                            \
    X(w2,   2, Dm, Hd, RIN_INIT_GLOROT, 0, 1)                            \
    X(b2,   1, Dm, 0,  RIN_INIT_ZERO,   0, 0)
// clang-format on

#define RIN_FIELD_PTR(name, ...) float *name;

typedef struct rin_global_params {
    RIN_GLOBAL_TENSORS(RIN_FIELD_PTR)
} rin_global_params;

typedef struct rin_attn_params {
    RIN_ATTN_TENSORS(RIN_FIELD_PTR, 0, 0, 0, 0)
} rin_attn_params;

typedef struct rin_mlp_params {
    RIN_MLP_TENSORS(RIN_FIELD_PTR, 0, 0)
} rin_mlp_params;

/* Block i's tensors. proc_attn/proc_mlp point into the owning view's arrays (K entries). */
typedef struct rin_block_params {
    rin_attn_params read_attn;  /* prefix "read_"      Dq = D, Dk = E */
    rin_mlp_params read_mlp;    /* prefix "read_mlp_"  Dm = D, Hd = r_lat D */
    int K;                      /* process layers */
    rin_attn_params *proc_attn; /* prefix "process.j.attn_" */
    rin_mlp_params *proc_mlp;   /* prefix "process.j.mlp_" */
    int has_write;              /* K > 0 */
    rin_attn_params write_attn; /* prefix "write_"     Dq = E, Dk = D */
    int has_write_mlp;          /* K > 0 and tape_mlp_ratio > 0 */
    rin_mlp_params write_mlp;   /* prefix "write_mlp_" Dm = E, Hd = r_tape E */
} rin_block_params;

/* Pointers to every tensor of one buffer laid out by the table (parameters or gradients). */
typedef struct rin_params_view {
    rin_global_params g;
    int S;
    rin_block_params blocks[32];    /* RIN_MAX_BLOCKS */
    rin_attn_params *proc_attn_all; /* sum K entries, owned */
    rin_mlp_params *proc_mlp_all;
} rin_params_view;

#endif /* RIN_TENSORS_H */
