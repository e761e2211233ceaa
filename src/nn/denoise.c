/* denoise.c -- the RIN denoiser: forward and hand-written backward (spec section 1).
 *
 * Data flow (B images, shapes per image):
 *
 *   x_t (H,W,C) -patchify-> patches (n,P) -stem linear-> stem (n,E) -LN, +tape_pos-> x0 (n,E)
 *   gamma -code-> tcode (dt) -linear, SiLU, linear-> ttok (Dt)      labels -> onehot -> ctok
 *   z_prev (L,D) -[LN, MLP, residual, LN_zero]-> + [latent_pos; ttok; ctok] -> z0 (L,D)
 *   for each block: read (Z <- X), process (Z self-attention, K layers), write (X <- Z)
 *   X -LN, linear-> ro_y (n,P) -unpatchify-> pred (H,W,C);  Z after the last block -> z_out
 *
 * Memory: rin_ctx_create allocates one arena sized by layout_arena() -- the single place that
 * knows every activation buffer -- and nothing is allocated afterwards. In RIN_CTX_TRAIN mode
 * each sub-layer keeps its own saved tensors and every residual-stream state has its own
 * buffer, so backward finds each sub-layer's input as the previous sub-layer's output. In
 * RIN_CTX_INFER mode the sub-layers share one scratch set and the streams ping-pong between two
 * buffers, so inference memory does not grow with depth.
 *
 * Backward walks the same structure in reverse. Stream gradients dX and dZ are updated in
 * place: a residual sub-layer y = x + f(x) turns dy into dx = dy + f'(x)^T dy, and the
 * cross-attention key/value gradients go straight into the other stream's gradient (the read's
 * into dX, the write's into dZ), which at that point of the reverse walk is the gradient of the
 * state the sub-layer read.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gemm.h"
#include "internal.h"
#include "ops.h"
#include "parallel.h"

/* ---- arena layout ------------------------------------------------------------------------- */

typedef struct arena {
    float *base; /* NULL while counting */
    size_t off;
} arena;

static float *take(arena *a, size_t nfloats) {
    size_t o = a->off;
    a->off += rin_round16(nfloats ? nfloats : 1);
    return a->base ? a->base + o : NULL;
}

static size_t max2(size_t a, size_t b) {
    return a > b ? a : b;
}

/* Sub-layer internals. shared != NULL (inference): point into the shared scratch instead. */
static void take_attn(arena *a, rin_attn_acts *s, const rin_attn_acts *shared, int B, int Nq,
                      int Nk, int Dq, int A, int NH) {
    if (shared) {
        float *out = s->out;
        *s = *shared;
        s->out = out;
        return;
    }
    s->ln = take(a, (size_t)B * Nq * Dq);
    s->mean = take(a, (size_t)B * Nq);
    s->rstd = take(a, (size_t)B * Nq);
    s->q = take(a, (size_t)B * Nq * A);
    s->k = take(a, (size_t)B * Nk * A);
    s->v = take(a, (size_t)B * Nk * A);
    s->att = take(a, (size_t)B * NH * Nq * Nk);
    s->o = take(a, (size_t)B * Nq * A);
    s->f = take(a, (size_t)B * Nq * Dq);
}

static void take_mlp(arena *a, rin_mlp_acts *s, const rin_mlp_acts *shared, int B, int N, int Dm,
                     int Hd) {
    if (shared) {
        float *out = s->out;
        *s = *shared;
        s->out = out;
        return;
    }
    s->ln = take(a, (size_t)B * N * Dm);
    s->mean = take(a, (size_t)B * N);
    s->rstd = take(a, (size_t)B * N);
    s->h = take(a, (size_t)B * N * Hd);
    s->a = take(a, (size_t)B * N * Hd);
    s->f = take(a, (size_t)B * N * Dm);
}

/* A new residual-stream buffer: fresh in training, the other ping-pong buffer in inference. */
static float *next_stream(arena *a, int train, float *cur, float *pp0, float *pp1, size_t n) {
    if (train)
        return take(a, n);
    return cur == pp0 ? pp1 : pp0;
}

/* Lays out (a->base == NULL: counts) every activation and scratch buffer of ctx. */
static void layout_arena(rin_ctx *ctx, arena *a) {
    const rin_config *c = &ctx->model->cfg;
    const rin_dims *d = &ctx->model->dims;
    rin_acts *acts = &ctx->acts;
    int B = ctx->max_batch, train = ctx->mode == RIN_CTX_TRAIN;
    int n = d->n, E = c->E, D = c->D, L = c->L, A = d->A, nkv = d->n + d->nr;
    size_t xsz = (size_t)B * n * E, zsz = (size_t)B * L * D;

    /* sizes of the largest sub-layer, for the shared inference scratch and gradient scratch */
    size_t maxN = max2((size_t)nkv, (size_t)L), maxW = max2((size_t)E, (size_t)D);
    size_t maxA = max2((size_t)A, (size_t)D), maxHid = max2((size_t)d->rD, (size_t)d->rE);
    size_t maxAtt = (size_t)c->rw_heads * L * nkv;
    maxAtt = max2(maxAtt, (size_t)c->lat_heads * L * L);
    maxAtt = max2(maxAtt, (size_t)c->rw_heads * n * L);

    rin_block_acts *keep_blocks = acts->blocks; /* allocated by rin_ctx_create */
    memset(acts, 0, sizeof *acts);
    acts->blocks = keep_blocks;

    acts->patches = take(a, (size_t)B * n * d->Pin);
    acts->stem = take(a, xsz);
    acts->stem_mean = take(a, (size_t)B * n);
    acts->stem_rstd = take(a, (size_t)B * n);
    acts->tcode = take(a, (size_t)B * d->dt);
    acts->th = take(a, (size_t)B * 4 * d->dt);
    acts->ta = take(a, (size_t)B * 4 * d->dt);
    acts->ttok = take(a, (size_t)B * d->Dt);
    if (c->token_gamma) {
        acts->tg_gamma = take(a, (size_t)B * d->ng);
        acts->tg_code = take(a, (size_t)B * d->ng * d->dt);
        acts->tg_emb = take(a, (size_t)B * d->ng * E);
    }
    if (c->num_classes > 0) {
        acts->onehot = take(a, (size_t)B * c->num_classes);
        acts->ctok = take(a, (size_t)B * d->Dc);
    }
    if (d->nr > 0)
        acts->xr = take(a, (size_t)B * d->nr * E);
    acts->dps = take(a, (size_t)B);

    /* shared scratch of inference mode: one set sized for the largest sub-layer */
    rin_attn_acts sh_attn = {0}, *sa = NULL;
    rin_mlp_acts sh_mlp = {0}, *sm = NULL;
    float *xpp[2] = {NULL, NULL}, *zpp[2] = {NULL, NULL};
    if (!train) {
        sh_attn.ln = take(a, (size_t)B * maxN * maxW);
        sh_attn.mean = take(a, (size_t)B * maxN);
        sh_attn.rstd = take(a, (size_t)B * maxN);
        sh_attn.q = take(a, (size_t)B * maxN * maxA);
        sh_attn.k = take(a, (size_t)B * maxN * maxA);
        sh_attn.v = take(a, (size_t)B * maxN * maxA);
        sh_attn.att = take(a, (size_t)B * maxAtt);
        sh_attn.o = take(a, (size_t)B * maxN * maxA);
        sh_attn.f = take(a, (size_t)B * maxN * maxW);
        sh_mlp.ln = sh_attn.ln;
        sh_mlp.mean = sh_attn.mean;
        sh_mlp.rstd = sh_attn.rstd;
        sh_mlp.h = take(a, (size_t)B * maxN * maxHid);
        sh_mlp.a = take(a, (size_t)B * maxN * maxHid);
        sh_mlp.f = sh_attn.f;
        sa = &sh_attn;
        sm = &sh_mlp;
        xpp[0] = take(a, xsz);
        xpp[1] = take(a, xsz);
        zpp[0] = take(a, zsz);
        zpp[1] = take(a, zsz);
    }

    acts->x0 = train ? take(a, xsz) : xpp[0];
    if (c->self_cond) {
        acts->zp = take(a, zsz);
        take_mlp(a, &acts->sc, sm, B, L, D, d->rD);
        acts->sc.out = take(a, zsz); /* r = zp + MLP(zp), input of LN_zero */
        acts->sc_mean = take(a, (size_t)B * L);
        acts->sc_rstd = take(a, (size_t)B * L);
    }
    acts->z0 = train ? take(a, zsz) : zpp[0];

    float *X = acts->x0, *Z = acts->z0;
    for (int i = 0; i < c->num_blocks; i++) {
        rin_block_acts *ba = &acts->blocks[i];
        rin_attn_acts *keep_pa = ba->proc_attn;
        rin_mlp_acts *keep_pm = ba->proc_mlp;
        memset(ba, 0, sizeof *ba);
        ba->proc_attn = keep_pa;
        ba->proc_mlp = keep_pm;
        ba->x_in = X;
        ba->z_in = Z;
        if (d->nr > 0)
            ba->kv = (train || i == 0) ? take(a, (size_t)B * nkv * E) : acts->blocks[0].kv;
        ba->read_attn.out = Z = next_stream(a, train, Z, zpp[0], zpp[1], zsz);
        take_attn(a, &ba->read_attn, sa, B, L, nkv, D, A, c->rw_heads);
        ba->read_mlp.out = Z = next_stream(a, train, Z, zpp[0], zpp[1], zsz);
        take_mlp(a, &ba->read_mlp, sm, B, L, D, d->rD);
        for (int j = 0; j < c->K[i]; j++) {
            ba->proc_attn[j].out = Z = next_stream(a, train, Z, zpp[0], zpp[1], zsz);
            take_attn(a, &ba->proc_attn[j], sa, B, L, L, D, D, c->lat_heads);
            ba->proc_mlp[j].out = Z = next_stream(a, train, Z, zpp[0], zpp[1], zsz);
            take_mlp(a, &ba->proc_mlp[j], sm, B, L, D, d->rD);
        }
        if (c->K[i] > 0) {
            ba->write_attn.out = X = next_stream(a, train, X, xpp[0], xpp[1], xsz);
            take_attn(a, &ba->write_attn, sa, B, n, L, E, A, c->rw_heads);
            if (c->tape_mlp_ratio > 0) {
                ba->write_mlp.out = X = next_stream(a, train, X, xpp[0], xpp[1], xsz);
                take_mlp(a, &ba->write_mlp, sm, B, n, E, d->rE);
            }
        }
    }
    acts->zfinal = Z;
    acts->xfinal = X;
    acts->ro_ln = take(a, xsz);
    acts->ro_mean = take(a, (size_t)B * n);
    acts->ro_rstd = take(a, (size_t)B * n);
    acts->ro_y = take(a, (size_t)B * n * d->P);

    if (train) {
        rin_grad_scratch *g = &ctx->gs;
        g->dX = take(a, xsz);
        g->dZ = take(a, zsz);
        g->dxr = take(a, (size_t)B * d->nr * E);
        g->dln = take(a, (size_t)B * maxN * maxW);
        g->dq = take(a, (size_t)B * maxN * maxA);
        g->dk = take(a, (size_t)B * maxN * maxA);
        g->dv = take(a, (size_t)B * maxN * maxA);
        g->dO = take(a, (size_t)B * maxN * maxA);
        g->dkv = take(a, (size_t)B * nkv * E);
        g->dha = take(a, (size_t)B * maxN * maxHid);
        g->dh = take(a, (size_t)B * maxN * maxHid);
        g->datt = take(a, (size_t)B * maxAtt);
        g->dtmp = take(a, (size_t)B * maxN * maxW);
        g->dpatch = take(a, (size_t)B * n * d->Pin); /* readout (P) and stem (Pin >= P) */
        g->dtt = take(a, (size_t)B * d->Dt);
        if (c->token_gamma)
            g->dtg = take(a, (size_t)B * d->ng * E);
        g->dta = take(a, (size_t)B * 4 * d->dt);
        g->dth = take(a, (size_t)B * 4 * d->dt);
        g->dct = take(a, (size_t)B * d->Dc);
    }
}

/* ---- context ------------------------------------------------------------------------------ */

rin_status rin_ctx_create(rin_ctx **out, rin_model *m, int max_batch, rin_ctx_mode mode, char *err,
                          size_t errlen) {
    *out = NULL;
    if (max_batch < 1)
        return rin_errorf(err, errlen, RIN_STATUS_ARG, "max_batch must be >= 1 (got %d)",
                          max_batch);
    rin_status gst = rin_gemm_check(err, errlen); /* RIN_GEMM names a path this build runs */
    if (gst)
        return gst;
    const rin_config *c = &m->cfg;
    rin_ctx *ctx = calloc(1, sizeof *ctx);
    if (!ctx)
        return rin_errorf(err, errlen, RIN_STATUS_NOMEM, "out of memory (context)");
    ctx->model = m;
    ctx->params = m->params;
    ctx->mode = mode;
    ctx->max_batch = max_batch;
    size_t nl = m->dims.total_layers > 0 ? (size_t)m->dims.total_layers : 1;
    ctx->acts.blocks = calloc((size_t)c->num_blocks, sizeof *ctx->acts.blocks);
    rin_attn_acts *pa = calloc(nl, sizeof *pa);
    rin_mlp_acts *pm = calloc(nl, sizeof *pm);
    if (!ctx->acts.blocks || !pa || !pm) {
        free(pa);
        free(pm);
        rin_ctx_free(ctx);
        return rin_errorf(err, errlen, RIN_STATUS_NOMEM, "out of memory (context)");
    }
    for (int i = 0, l = 0; i < c->num_blocks; l += c->K[i], i++) {
        ctx->acts.blocks[i].proc_attn = pa + l;
        ctx->acts.blocks[i].proc_mlp = pm + l;
    }
    arena a = {0};
    layout_arena(ctx, &a);
    ctx->arena_floats = a.off;
    ctx->arena = rin_aligned_alloc(a.off * sizeof(float));
    if (!ctx->arena) {
        rin_ctx_free(ctx);
        return rin_errorf(err, errlen, RIN_STATUS_NOMEM,
                          "out of memory: activations for batch %d need %.1f MB", max_batch,
                          (double)a.off * 4e-6);
    }
    a = (arena){.base = ctx->arena};
    layout_arena(ctx, &a);
    RIN_ASSERT(a.off == ctx->arena_floats);
    if (rin_view_build(&ctx->pv, c, (float *)(uintptr_t)ctx->params)) {
        rin_ctx_free(ctx);
        return rin_errorf(err, errlen, RIN_STATUS_NOMEM, "out of memory (context)");
    }
    if (mode == RIN_CTX_TRAIN) {
        ctx->grads = rin_aligned_alloc(m->nfloats * sizeof(float));
        if (!ctx->grads || rin_view_build(&ctx->gv, c, ctx->grads)) {
            rin_ctx_free(ctx);
            return rin_errorf(err, errlen, RIN_STATUS_NOMEM,
                              "out of memory: gradients need %.1f MB", (double)m->nfloats * 4e-6);
        }
        memset(ctx->grads, 0, m->nfloats * sizeof(float));
    }
    *out = ctx;
    return RIN_STATUS_OK;
}

const rin_model *rin_ctx_model(const rin_ctx *ctx) {
    return ctx->model;
}

void rin_ctx_free(rin_ctx *ctx) {
    if (!ctx)
        return;
    if (ctx->acts.blocks) {
        free(ctx->acts.blocks[0].proc_attn);
        free(ctx->acts.blocks[0].proc_mlp);
    }
    free(ctx->acts.blocks);
    free(ctx->arena);
    free(ctx->grads);
    rin_view_free(&ctx->pv);
    rin_view_free(&ctx->gv);
    free(ctx);
}

void rin_ctx_set_params(rin_ctx *ctx, const float *params) {
    ctx->params = params ? params : ctx->model->params;
    rin_layout(&ctx->model->cfg, (float *)(uintptr_t)ctx->params, &ctx->pv, NULL, NULL);
}

float *rin_ctx_grads(rin_ctx *ctx) {
    return ctx->grads;
}

void rin_ctx_zero_grad(rin_ctx *ctx) {
    if (ctx->grads)
        memset(ctx->grads, 0, ctx->model->nfloats * sizeof(float));
}

size_t rin_ctx_bytes(const rin_ctx *ctx) {
    size_t b = ctx->arena_floats * sizeof(float);
    if (ctx->grads)
        b += ctx->model->nfloats * sizeof(float);
    return b;
}

void rin_ctx_set_precision(rin_ctx *ctx, rin_precision p) {
    RIN_ASSERT(p == RIN_PRECISION_FP32 || p == RIN_PRECISION_BF16);
    ctx->precision = p;
}

void rin_ctx_set_cond(rin_ctx *ctx, const float *cond) {
    ctx->cond = cond;
}

/* ---- tokenisation and readout (spec 1.1, 1.6; video 6.1, 6.2) -------------------------------- */

/* The patch geometry of the noisy input (part 0) or of the conditioning frames (part 1). An
 * image is the one-frame case with s = 1, so both go through the same permutation. */
static rin_video_patch patch_part(const rin_ctx *ctx, int part) {
    const rin_config *c = &ctx->model->cfg;
    const rin_dims *d = &ctx->model->dims;
    return (rin_video_patch){.F = part ? c->cond_frames : d->Tx,
                             .H = c->H,
                             .W = c->W,
                             .C = c->C,
                             .s = c->seq_len > 0 ? c->seq_stride : 1,
                             .p = c->patch,
                             .n = d->n,
                             .tok0 = part ? d->nx : 0};
}

/* patches (B,n,Pin) from x_t; video: the noisy frames' tokens, then the clean conditioning
 * frames' tokens, both through the same stem (spec 6.1); with video_cond = channels (rin's) the
 * noisy tokens alone, each pixel followed by the same pixel of the last k clean frames. */
static void tokenise(const rin_ctx *ctx, float *patches, const float *x_t, int B) {
    const rin_config *c = &ctx->model->cfg;
    rin_video_patch v = patch_part(ctx, 0);
    if (c->seq_len > 0 && c->video_cond) {
        rin_patchify3d_stack(patches, x_t, ctx->cond, c->cond_frames, c->video_cond_frames,
                             c->video_cond_halo, &v, B);
        return;
    }
    rin_patchify3d(patches, x_t, &v, B);
    if (c->seq_len > 0 && c->cond_frames > 0) {
        v = patch_part(ctx, 1);
        rin_patchify3d(patches, ctx->cond, &v, B);
    }
}

/* token_gamma (rin's, docs/video.md): row r of example b's embeddings is time_tape_w @ code(g),
 * g the noise level of noisy time slot r (gamma_tok, or the example's gamma), and g = 1 for the
 * last row when there are conditioning tokens; x0 += each token's row. */
static void token_gamma_forward(rin_ctx *ctx, const rin_batch *in) {
    const rin_dims *d = &ctx->model->dims;
    rin_acts *a = &ctx->acts;
    int B = in->B, E = ctx->model->cfg.E;
    for (int b = 0; b < B; b++) {
        float *g = a->tg_gamma + (size_t)b * d->ng;
        for (int r = 0; r < d->ns; r++)
            g[r] = in->gamma_tok ? in->gamma_tok[(size_t)b * d->ns + r] : in->gamma[b];
        if (d->ng > d->ns)
            g[d->ns] = 1.0f; /* clean conditioning tokens */
    }
    rin_gamma_code(a->tg_code, a->tg_gamma, 1000.0f, B * d->ng, d->dt);
    rin_linear_forward(a->tg_emb, a->tg_code, ctx->pv.g.time_tape_w, NULL, B * d->ng, d->dt, E,
                       RIN_PRECISION_FP32);
    rin_add_slot_rows_forward(a->x0, a->tg_emb, B, d->n, d->nx, d->grid, d->ng, E);
}

/* ---- sub-layers --------------------------------------------------------------------------- */

/* Drop-path scales of one branch: 1/(1-rate) for kept examples, 0 for dropped; NULL when the
 * branch is not dropped (inference, or rate 0). e0: global index of example 0 (rin_batch). */
static const float *drop_path_scales(float *dps, int B, float rate, uint64_t seed, uint64_t stream,
                                     uint64_t e0) {
    if (rate <= 0.0f)
        return NULL;
    float keep = 1.0f / (1.0f - rate);
    for (int b = 0; b < B; b++)
        dps[b] = rin_counter_uniform(seed, stream, e0 + (uint64_t)b) >= rate ? keep : 0.0f;
    return dps;
}

/* out = xq + s * (MHA(LN(xq), kv) ); kv NULL: self-attention on LN(xq). */
static void attn_forward(rin_precision prec, const rin_attn_params *p, rin_attn_acts *a,
                         const float *xq, const float *kv, int B, int Nq, int Nk, int Dq, int Dk,
                         int A, int NH, const float *scale) {
    rin_layernorm_forward(a->ln, a->mean, a->rstd, xq, p->ln_w, p->ln_b, B * Nq, Dq);
    if (!kv)
        kv = a->ln;
    rin_linear_forward(a->q, a->ln, p->wq, p->bq, B * Nq, Dq, A, prec);
    rin_linear_forward(a->k, kv, p->wk, p->bk, B * Nk, Dk, A, prec);
    rin_linear_forward(a->v, kv, p->wv, p->bv, B * Nk, Dk, A, prec);
    rin_attention_forward(a->o, a->att, a->q, a->k, a->v, B, Nq, Nk, A, NH, prec);
    rin_linear_forward(a->f, a->o, p->wo, p->bo, B * Nq, A, Dq, prec);
    rin_residual_forward(a->out, xq, a->f, scale, B, (size_t)Nq * Dq);
}

/* out = x + s * (W2 dropout(GELU(W1 LN(x) + b1)) + b2) */
static void mlp_forward(rin_precision prec, const rin_mlp_params *p, rin_mlp_acts *a,
                        const float *x, int B, int N, int Dm, int Hd, const float *scale,
                        float drop, uint64_t seed, uint64_t stream, uint64_t e0) {
    size_t nh = (size_t)B * N * Hd;
    rin_layernorm_forward(a->ln, a->mean, a->rstd, x, p->ln_w, p->ln_b, B * N, Dm);
    rin_linear_forward(a->h, a->ln, p->w1, p->b1, B * N, Dm, Hd, prec);
    rin_gelu_forward(a->a, a->h, nh);
    rin_dropout_apply(a->a, seed, stream, drop, e0 * (uint64_t)N * (uint64_t)Hd, nh);
    rin_linear_forward(a->f, a->a, p->w2, p->b2, B * N, Hd, Dm, prec);
    rin_residual_forward(a->out, x, a->f, scale, B, (size_t)N * Dm);
}

/* The branch gradient s_b * g (g itself when there is no drop-path). */
static const float *scaled_grad(float *tmp, const float *g, const float *scale, int B, size_t per) {
    if (!scale)
        return g;
#pragma omp parallel for
    for (int b = 0; b < B; b++)
        for (size_t i = 0; i < per; i++)
            tmp[(size_t)b * per + i] = scale[b] * g[(size_t)b * per + i];
    return tmp;
}

/* g (B,Nq,Dq): gradient of the sub-layer output on entry, of its input xq on return.
 * Cross-attention (kv != NULL) accumulates the key/value input's gradient into dkv. */
static void attn_backward(rin_ctx *ctx, const rin_attn_params *p, rin_attn_params *dp,
                          const rin_attn_acts *a, float *g, const float *xq, const float *kv,
                          float *dkv, int B, int Nq, int Nk, int Dq, int Dk, int A, int NH,
                          const float *scale) {
    rin_grad_scratch *s = &ctx->gs;
    rin_precision prec = ctx->precision;
    const float *gf = scaled_grad(s->dtmp, g, scale, B, (size_t)Nq * Dq);
    /* f = o Wo^T + bo */
    memset(s->dO, 0, (size_t)B * Nq * A * sizeof(float));
    rin_linear_backward(s->dO, dp->wo, dp->bo, gf, a->o, p->wo, B * Nq, A, Dq, prec);
    /* o = attention(q, k, v) */
    memset(s->dq, 0, (size_t)B * Nq * A * sizeof(float));
    memset(s->dk, 0, (size_t)B * Nk * A * sizeof(float));
    memset(s->dv, 0, (size_t)B * Nk * A * sizeof(float));
    rin_attention_backward(s->dq, s->dk, s->dv, s->datt, s->dO, a->q, a->k, a->v, a->att, B, Nq, Nk,
                           A, NH, prec);
    /* q = ln Wq^T + bq;  k, v from ln (self) or from the raw kv input (cross) */
    memset(s->dln, 0, (size_t)B * Nq * Dq * sizeof(float));
    rin_linear_backward(s->dln, dp->wq, dp->bq, s->dq, a->ln, p->wq, B * Nq, Dq, A, prec);
    const float *kin = kv ? kv : a->ln;
    float *dkin = kv ? dkv : s->dln;
    rin_linear_backward(dkin, dp->wk, dp->bk, s->dk, kin, p->wk, B * Nk, Dk, A, prec);
    rin_linear_backward(dkin, dp->wv, dp->bv, s->dv, kin, p->wv, B * Nk, Dk, A, prec);
    /* ln = LN(xq);  out = xq + ... so the residual gradient g stays and LN's adds to it */
    rin_layernorm_backward(g, dp->ln_w, dp->ln_b, s->dln, xq, a->mean, a->rstd, p->ln_w, B * Nq,
                           Dq);
}

static void mlp_backward(rin_ctx *ctx, const rin_mlp_params *p, rin_mlp_params *dp,
                         const rin_mlp_acts *a, float *g, const float *x, int B, int N, int Dm,
                         int Hd, const float *scale, float drop, uint64_t seed, uint64_t stream,
                         uint64_t e0) {
    rin_grad_scratch *s = &ctx->gs;
    rin_precision prec = ctx->precision;
    size_t nh = (size_t)B * N * Hd;
    const float *gf = scaled_grad(s->dtmp, g, scale, B, (size_t)N * Dm);
    /* f = a W2^T + b2 */
    memset(s->dha, 0, nh * sizeof(float));
    rin_linear_backward(s->dha, dp->w2, dp->b2, gf, a->a, p->w2, B * N, Hd, Dm, prec);
    /* a = dropout(gelu(h)): the same mask and scale apply to the gradient */
    rin_dropout_apply(s->dha, seed, stream, drop, e0 * (uint64_t)N * (uint64_t)Hd, nh);
    memset(s->dh, 0, nh * sizeof(float));
    rin_gelu_backward(s->dh, s->dha, a->h, nh);
    /* h = ln W1^T + b1 */
    memset(s->dln, 0, (size_t)B * N * Dm * sizeof(float));
    rin_linear_backward(s->dln, dp->w1, dp->b1, s->dh, a->ln, p->w1, B * N, Dm, Hd, prec);
    rin_layernorm_backward(g, dp->ln_w, dp->ln_b, s->dln, x, a->mean, a->rstd, p->ln_w, B * N, Dm);
}

/* ---- the whole model ---------------------------------------------------------------------- */

/* A bad argument: RIN_STATUS_ARG, with the reason in the ctx's last error. */
static rin_status arg_error(rin_ctx *ctx, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static rin_status arg_error(rin_ctx *ctx, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ctx->last_error, sizeof ctx->last_error, fmt, ap);
    va_end(ap);
    return RIN_STATUS_ARG;
}

static rin_status check_batch(rin_ctx *ctx, const rin_batch *in) {
    const rin_config *c = &ctx->model->cfg;
    ctx->last_error[0] = 0;
    if (in->B < 1 || in->B > ctx->max_batch)
        return arg_error(ctx, "rin_forward: batch %d (the ctx holds 1 to %d images)", in->B,
                         ctx->max_batch);
    if (!in->x_t || !in->gamma)
        return arg_error(ctx, "rin_forward: %s is NULL", !in->x_t ? "x_t" : "gamma");
    if (c->seq_len > 0 && c->cond_frames > 0 && !ctx->cond)
        return arg_error(ctx,
                         "rin_forward: a video model with %d conditioning frames needs "
                         "rin_ctx_set_cond first",
                         c->cond_frames);
    if (c->num_classes > 0) {
        if (!in->labels)
            return arg_error(ctx, "rin_forward: the model has %d classes: labels needed",
                             c->num_classes);
        for (int b = 0; b < in->B; b++)
            if (in->labels[b] < -1 || in->labels[b] >= c->num_classes)
                return arg_error(ctx, "rin_forward: labels[%d] = %d (expected -1 to %d)", b,
                                 in->labels[b], c->num_classes - 1);
    }
    return RIN_STATUS_OK;
}

rin_status rin_forward(rin_ctx *ctx, const rin_batch *in, float *pred, float *z_out) {
    rin_status st = check_batch(ctx, in);
    if (st)
        return st;
    const rin_config *c = &ctx->model->cfg;
    const rin_dims *d = &ctx->model->dims;
    const rin_params_view *pv = &ctx->pv;
    const rin_global_params *g = &pv->g;
    rin_acts *a = &ctx->acts;
    int B = in->B, n = d->n, E = c->E, D = c->D, L = c->L, A = d->A, nkv = d->n + d->nr;
    int train = in->training;
    uint64_t seed = in->seed, e0 = in->example0;

    /* interface: x0 = LN(stem(patches)) + tape_pos (+ fixed sin/cos codes) */
    tokenise(ctx, a->patches, in->x_t, B);
    rin_linear_forward(a->stem, a->patches, g->stem_w, g->stem_b, B * n, d->Pin, E,
                       RIN_PRECISION_FP32);
    rin_layernorm_forward(a->x0, a->stem_mean, a->stem_rstd, a->stem, g->stem_ln_w, g->stem_ln_b,
                          B * n, E);
    rin_add_rows_forward(a->x0, a->x0, g->tape_pos, B, n, E);
    if (ctx->model->tape_pos_fixed) /* sin_cos_plus_learned: the fixed codes; no gradient */
        rin_add_rows_forward(a->x0, a->x0, ctx->model->tape_pos_fixed, B, n, E);
    if (c->token_gamma) /* rin's: x0 += time_tape_w code(each token's gamma) */
        token_gamma_forward(ctx, in);

    /* time token from gamma (not t), class token from one-hot labels */
    rin_gamma_code(a->tcode, in->gamma, 1000.0f, B, d->dt);
    rin_linear_forward(a->th, a->tcode, g->time_w1, g->time_b1, B, d->dt, 4 * d->dt,
                       RIN_PRECISION_FP32);
    rin_silu_forward(a->ta, a->th, (size_t)B * 4 * d->dt);
    rin_linear_forward(a->ttok, a->ta, g->time_w2, g->time_b2, B, 4 * d->dt, 4 * d->dt,
                       RIN_PRECISION_FP32);
    if (c->num_classes > 0) {
        memset(a->onehot, 0, (size_t)B * c->num_classes * sizeof(float));
        for (int b = 0; b < B; b++)
            if (in->labels[b] >= 0) /* -1: the dropped label maps to the bias alone */
                a->onehot[(size_t)b * c->num_classes + in->labels[b]] = 1.0f;
        rin_linear_forward(a->ctok, a->onehot, g->cond_w, g->cond_b, B, c->num_classes, d->Dc,
                           RIN_PRECISION_FP32);
    }

    /* latents: z0 = [latent_pos; ttok; ctok] + LN_zero(zp + MLP(LN(zp))) */
    size_t zper = (size_t)L * D;
    if (c->self_cond) {
        if (in->z_prev)
            memcpy(a->zp, in->z_prev, (size_t)B * zper * sizeof(float));
        else
            memset(a->zp, 0, (size_t)B * zper * sizeof(float));
        rin_mlp_params scp = {g->sc_mlp_ln_w, g->sc_mlp_ln_b, g->sc_mlp_w1,
                              g->sc_mlp_b1,   g->sc_mlp_w2,   g->sc_mlp_b2};
        mlp_forward(ctx->precision, &scp, &a->sc, a->zp, B, L, D, d->rD, NULL, 0.0f, 0, 0, 0);
        rin_layernorm_forward(a->z0, a->sc_mean, a->sc_rstd, a->sc.out, g->sc_ln_w, g->sc_ln_b,
                              B * L, D);
    } else {
        memset(a->z0, 0, (size_t)B * zper * sizeof(float));
    }
    for (int b = 0; b < B; b++) {
        float *z = a->z0 + (size_t)b * zper;
        for (size_t i = 0; i < (size_t)d->Lz * D; i++)
            z[i] += g->latent_pos[i];
        int slot = d->Lz;
        if (c->time_on_latent) {
            for (int k = 0; k < D; k++)
                z[(size_t)slot * D + k] += a->ttok[(size_t)b * D + k];
            slot++;
        }
        if (c->num_classes > 0 && c->cond_on_latent)
            for (int k = 0; k < D; k++)
                z[(size_t)slot * D + k] += a->ctok[(size_t)b * D + k];
    }
    /* read-only interface tokens: [ttok if not on the latents; ctok if not on the latents] */
    if (d->nr > 0) {
        for (int b = 0; b < B; b++) {
            float *xr = a->xr + (size_t)b * d->nr * E;
            if (!c->time_on_latent) {
                memcpy(xr, a->ttok + (size_t)b * E, (size_t)E * sizeof(float));
                xr += E;
            }
            if (c->num_classes > 0 && !c->cond_on_latent)
                memcpy(xr, a->ctok + (size_t)b * E, (size_t)E * sizeof(float));
        }
    }

    /* blocks: read -> process -> write */
    const float *X = a->x0, *Z = a->z0;
    int layer = 0;
    for (int i = 0; i < c->num_blocks; i++) {
        const rin_block_params *bp = &pv->blocks[i];
        rin_block_acts *ba = &a->blocks[i];
        const float *kv = X;
        if (d->nr > 0) {
            for (int b = 0; b < B; b++) {
                memcpy(ba->kv + (size_t)b * nkv * E, X + (size_t)b * n * E,
                       (size_t)n * E * sizeof(float));
                memcpy(ba->kv + ((size_t)b * nkv + n) * E, a->xr + (size_t)b * d->nr * E,
                       (size_t)d->nr * E * sizeof(float));
            }
            kv = ba->kv;
        }
        attn_forward(ctx->precision, &bp->read_attn, &ba->read_attn, Z, kv, B, L, nkv, D, E, A,
                     c->rw_heads, NULL);
        mlp_forward(ctx->precision, &bp->read_mlp, &ba->read_mlp, ba->read_attn.out, B, L, D, d->rD,
                    NULL, 0.0f, 0, 0, 0);
        Z = ba->read_mlp.out;
        for (int j = 0; j < bp->K; j++, layer++) {
            float rate_p = train ? c->drop_path : 0.0f, rate_u = train ? c->drop_units : 0.0f;
            const float *s1 =
                drop_path_scales(a->dps, B, rate_p, seed, RIN_STREAM_DROP_PATH_ATTN(layer), e0);
            attn_forward(ctx->precision, &bp->proc_attn[j], &ba->proc_attn[j], Z, NULL, B, L, L, D,
                         D, D, c->lat_heads, s1);
            const float *s2 =
                drop_path_scales(a->dps, B, rate_p, seed, RIN_STREAM_DROP_PATH_MLP(layer), e0);
            mlp_forward(ctx->precision, &bp->proc_mlp[j], &ba->proc_mlp[j], ba->proc_attn[j].out, B,
                        L, D, d->rD, s2, rate_u, seed, RIN_STREAM_DROP_UNITS(layer), e0);
            Z = ba->proc_mlp[j].out;
        }
        if (bp->has_write) {
            attn_forward(ctx->precision, &bp->write_attn, &ba->write_attn, X, Z, B, n, L, E, D, A,
                         c->rw_heads, NULL);
            X = ba->write_attn.out;
            if (bp->has_write_mlp) {
                mlp_forward(ctx->precision, &bp->write_mlp, &ba->write_mlp, X, B, n, E, d->rE, NULL,
                            0.0f, 0, 0, 0);
                X = ba->write_mlp.out;
            }
        }
    }
    RIN_ASSERT(X == a->xfinal && Z == a->zfinal);

    /* readout: pred = unpatchify(LN(X) Wout^T + bout) */
    rin_layernorm_forward(a->ro_ln, a->ro_mean, a->ro_rstd, X, g->out_ln_w, g->out_ln_b, B * n, E);
    rin_linear_forward(a->ro_y, a->ro_ln, g->out_w, g->out_b, B * n, E, d->P, RIN_PRECISION_FP32);
    if (pred) { /* video: the predicted frames only (spec 6.2) */
        rin_video_patch v = patch_part(ctx, 0);
        rin_unpatchify3d(pred, a->ro_y, &v, B);
    }
    if (z_out)
        memcpy(z_out, Z, (size_t)B * zper * sizeof(float));

    ctx->last_B = B;
    ctx->last_training = train;
    ctx->last_seed = seed;
    ctx->last_example0 = e0;
    ctx->have_forward = 1;
    if (ctx->check_numerics) /* debug path, numerics.c */
        return rin_numerics_forward(ctx, in);
    return RIN_STATUS_OK;
}

rin_status rin_backward(rin_ctx *ctx, const float *dpred, const float *dz_out, float *dx_t,
                        float *dz_prev) {
    if (ctx->mode != RIN_CTX_TRAIN)
        return arg_error(ctx, "rin_backward: the ctx was created for inference (RIN_CTX_INFER)");
    if (!ctx->have_forward)
        return arg_error(ctx, "rin_backward: no rin_forward to back-propagate");
    if (!dpred)
        return arg_error(ctx, "rin_backward: dpred is NULL");
    const rin_config *c = &ctx->model->cfg;
    const rin_dims *d = &ctx->model->dims;
    const rin_params_view *pv = &ctx->pv;
    const rin_global_params *g = &pv->g;
    rin_global_params *dg = &ctx->gv.g;
    rin_acts *a = &ctx->acts;
    rin_grad_scratch *s = &ctx->gs;
    int B = ctx->last_B, n = d->n, E = c->E, D = c->D, L = c->L, A = d->A, nkv = d->n + d->nr;
    int train = ctx->last_training;
    uint64_t seed = ctx->last_seed, e0 = ctx->last_example0;
    size_t xsz = (size_t)B * n * E, zsz = (size_t)B * L * D;

    /* readout: pred = unpatchify(ro_y), ro_y = ro_ln Wout^T + bout, ro_ln = LN(xfinal) */
    rin_video_patch pp = patch_part(ctx, 0);
    if (d->nx < n) /* video: the conditioning tokens' outputs are not read out */
        memset(s->dpatch, 0, (size_t)B * n * d->P * sizeof(float));
    rin_unpatchify3d_backward(s->dpatch, dpred, &pp, B);
    memset(s->dln, 0, xsz * sizeof(float));
    rin_linear_backward(s->dln, dg->out_w, dg->out_b, s->dpatch, a->ro_ln, g->out_w, B * n, E, d->P,
                        RIN_PRECISION_FP32);
    memset(s->dX, 0, xsz * sizeof(float));
    rin_layernorm_backward(s->dX, dg->out_ln_w, dg->out_ln_b, s->dln, a->xfinal, a->ro_mean,
                           a->ro_rstd, g->out_ln_w, B * n, E);
    if (dz_out)
        memcpy(s->dZ, dz_out, zsz * sizeof(float));
    else
        memset(s->dZ, 0, zsz * sizeof(float));
    if (d->nr > 0)
        memset(s->dxr, 0, (size_t)B * d->nr * E * sizeof(float));

    int layer = d->total_layers;
    for (int i = c->num_blocks - 1; i >= 0; i--) {
        const rin_block_params *bp = &pv->blocks[i];
        rin_block_params *dbp = &ctx->gv.blocks[i];
        const rin_block_acts *ba = &a->blocks[i];
        const float *z_proc = bp->K > 0 ? ba->proc_mlp[bp->K - 1].out : ba->read_mlp.out;
        if (bp->has_write) {
            if (bp->has_write_mlp)
                mlp_backward(ctx, &bp->write_mlp, &dbp->write_mlp, &ba->write_mlp, s->dX,
                             ba->write_attn.out, B, n, E, d->rE, NULL, 0.0f, 0, 0, 0);
            attn_backward(ctx, &bp->write_attn, &dbp->write_attn, &ba->write_attn, s->dX, ba->x_in,
                          z_proc, s->dZ, B, n, L, E, D, A, c->rw_heads, NULL);
        }
        for (int j = bp->K - 1; j >= 0; j--) {
            layer--;
            float rate_p = train ? c->drop_path : 0.0f, rate_u = train ? c->drop_units : 0.0f;
            const float *zin_mlp = ba->proc_attn[j].out;
            const float *zin_attn = j > 0 ? ba->proc_mlp[j - 1].out : ba->read_mlp.out;
            const float *s2 =
                drop_path_scales(a->dps, B, rate_p, seed, RIN_STREAM_DROP_PATH_MLP(layer), e0);
            mlp_backward(ctx, &bp->proc_mlp[j], &dbp->proc_mlp[j], &ba->proc_mlp[j], s->dZ, zin_mlp,
                         B, L, D, d->rD, s2, rate_u, seed, RIN_STREAM_DROP_UNITS(layer), e0);
            const float *s1 =
                drop_path_scales(a->dps, B, rate_p, seed, RIN_STREAM_DROP_PATH_ATTN(layer), e0);
            attn_backward(ctx, &bp->proc_attn[j], &dbp->proc_attn[j], &ba->proc_attn[j], s->dZ,
                          zin_attn, NULL, NULL, B, L, L, D, D, D, c->lat_heads, s1);
        }
        mlp_backward(ctx, &bp->read_mlp, &dbp->read_mlp, &ba->read_mlp, s->dZ, ba->read_attn.out, B,
                     L, D, d->rD, NULL, 0.0f, 0, 0, 0);
        if (d->nr > 0) {
            memset(s->dkv, 0, (size_t)B * nkv * E * sizeof(float));
            attn_backward(ctx, &bp->read_attn, &dbp->read_attn, &ba->read_attn, s->dZ, ba->z_in,
                          ba->kv, s->dkv, B, L, nkv, D, E, A, c->rw_heads, NULL);
            for (int b = 0; b < B; b++) {
                const float *src = s->dkv + (size_t)b * nkv * E;
                float *dx = s->dX + (size_t)b * n * E, *dr = s->dxr + (size_t)b * d->nr * E;
                for (size_t k = 0; k < (size_t)n * E; k++)
                    dx[k] += src[k];
                for (size_t k = 0; k < (size_t)d->nr * E; k++)
                    dr[k] += src[(size_t)n * E + k];
            }
        } else {
            attn_backward(ctx, &bp->read_attn, &dbp->read_attn, &ba->read_attn, s->dZ, ba->z_in,
                          ba->x_in, s->dX, B, L, nkv, D, E, A, c->rw_heads, NULL);
        }
    }

    /* interface: x0 = LN(stem) + tape_pos (+ token_gamma's rows), stem = patches Wstem^T + bstem */
    rin_add_rows_backward(dg->tape_pos, s->dX, B, n, E);
    if (c->token_gamma) { /* tg_emb = tg_code time_tape_w^T; the codes have no gradient */
        memset(s->dtg, 0, (size_t)B * d->ng * E * sizeof(float));
        rin_add_slot_rows_backward(s->dtg, s->dX, B, n, d->nx, d->grid, d->ng, E);
        rin_linear_backward(NULL, dg->time_tape_w, NULL, s->dtg, a->tg_code, g->time_tape_w,
                            B * d->ng, d->dt, E, RIN_PRECISION_FP32);
    }
    memset(s->dtmp, 0, xsz * sizeof(float));
    rin_layernorm_backward(s->dtmp, dg->stem_ln_w, dg->stem_ln_b, s->dX, a->stem, a->stem_mean,
                           a->stem_rstd, g->stem_ln_w, B * n, E);
    memset(s->dpatch, 0, (size_t)B * n * d->Pin * sizeof(float));
    /* stem_w's gradient covers every input column, the clean frames' of channels mode too */
    rin_linear_backward(dx_t ? s->dpatch : NULL, dg->stem_w, dg->stem_b, s->dtmp, a->patches,
                        g->stem_w, B * n, d->Pin, E, RIN_PRECISION_FP32);
    if (dx_t) { /* conditioning frames (tokens or channels) are data: no gradient */
        memset(dx_t, 0, (size_t)B * rin_config_input_floats(c) * sizeof(float));
        if (c->seq_len > 0 && c->video_cond)
            rin_patchify3d_stack_backward(dx_t, s->dpatch, c->video_cond_frames, c->video_cond_halo,
                                          &pp, B);
        else
            rin_patchify3d_backward(dx_t, s->dpatch, &pp, B);
    }

    /* latents: z0 = [latent_pos; ttok; ctok] + LN_zero(r) */
    size_t zper = (size_t)L * D;
    int has_class = c->num_classes > 0;
    for (int b = 0; b < B; b++) {
        const float *dz = s->dZ + (size_t)b * zper;
        const float *dxr = d->nr > 0 ? s->dxr + (size_t)b * d->nr * E : NULL;
        int slot = d->Lz;
        if (c->time_on_latent) {
            memcpy(s->dtt + (size_t)b * D, dz + (size_t)slot * D, (size_t)D * sizeof(float));
            slot++;
        } else {
            memcpy(s->dtt + (size_t)b * E, dxr, (size_t)E * sizeof(float));
            dxr += E;
        }
        if (has_class) {
            if (c->cond_on_latent)
                memcpy(s->dct + (size_t)b * D, dz + (size_t)slot * D, (size_t)D * sizeof(float));
            else
                memcpy(s->dct + (size_t)b * E, dxr, (size_t)E * sizeof(float));
        }
    }
    /* latent_pos gets the sum over the batch of its rows */
    for (int b = 0; b < B; b++) {
        const float *dz = s->dZ + (size_t)b * zper;
        for (size_t k = 0; k < (size_t)d->Lz * D; k++)
            dg->latent_pos[k] += dz[k];
    }
    /* ttok = W2 silu(W1 tcode + b1) + b2 */
    int T4 = 4 * d->dt;
    memset(s->dta, 0, (size_t)B * T4 * sizeof(float));
    rin_linear_backward(s->dta, dg->time_w2, dg->time_b2, s->dtt, a->ta, g->time_w2, B, T4, T4,
                        RIN_PRECISION_FP32);
    memset(s->dth, 0, (size_t)B * T4 * sizeof(float));
    rin_silu_backward(s->dth, s->dta, a->th, (size_t)B * T4);
    rin_linear_backward(NULL, dg->time_w1, dg->time_b1, s->dth, a->tcode, g->time_w1, B, d->dt, T4,
                        RIN_PRECISION_FP32);
    if (has_class)
        rin_linear_backward(NULL, dg->cond_w, dg->cond_b, s->dct, a->onehot, g->cond_w, B,
                            c->num_classes, d->Dc, RIN_PRECISION_FP32);
    if (c->self_cond) {
        /* z0 += LN_zero(r);  r = zp + MLP(zp) */
        float *dr = s->dtmp; /* (B,L,D) */
        memset(dr, 0, zsz * sizeof(float));
        rin_layernorm_backward(dr, dg->sc_ln_w, dg->sc_ln_b, s->dZ, a->sc.out, a->sc_mean,
                               a->sc_rstd, g->sc_ln_w, B * L, D);
        rin_mlp_params scp = {g->sc_mlp_ln_w, g->sc_mlp_ln_b, g->sc_mlp_w1,
                              g->sc_mlp_b1,   g->sc_mlp_w2,   g->sc_mlp_b2};
        rin_mlp_params dscp = {dg->sc_mlp_ln_w, dg->sc_mlp_ln_b, dg->sc_mlp_w1,
                               dg->sc_mlp_b1,   dg->sc_mlp_w2,   dg->sc_mlp_b2};
        /* mlp_backward uses dtmp for drop-path only, which is off here */
        mlp_backward(ctx, &scp, &dscp, &a->sc, dr, a->zp, B, L, D, d->rD, NULL, 0.0f, 0, 0, 0);
        if (dz_prev)
            memcpy(dz_prev, dr, zsz * sizeof(float));
    } else if (dz_prev) {
        memset(dz_prev, 0, zsz * sizeof(float));
    }
    if (ctx->check_numerics) /* debug path, numerics.c */
        return rin_numerics_backward(ctx);
    return RIN_STATUS_OK;
}
