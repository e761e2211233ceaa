/* numerics.c -- the --check-numerics debug path: which op first produced a NaN or an infinity.
 *
 * Off by default; rin_ctx_set_check_numerics turns it on for one context. rin_forward and
 * rin_backward then call the scans below once, at their end, so the kernels and the forward and
 * backward compositions of denoise.c stay untouched (one hook line each). That works because a
 * training context keeps every activation in its own buffer: walking them in the order the
 * forward computed them finds the first op whose output is not finite, exactly as a check after
 * each op would, at the cost of one pass over the arena. An inference context shares its scratch
 * between sub-layers, so there only the outputs can be checked. Backward reuses its scratch, so
 * its scan walks the parameter gradients in the order backward produces them (readout, blocks
 * last to first, each sub-layer output side first, then the stem, time, class and
 * self-conditioning tensors): the first non-finite one names the op.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

void rin_ctx_set_check_numerics(rin_ctx *ctx, int on) {
    ctx->check_numerics = on != 0;
}

const char *rin_ctx_last_error(const rin_ctx *ctx) {
    return ctx->last_error;
}

typedef struct scan {
    rin_ctx *ctx;
    const char *pass;
    int found;
} scan;

/* Checks x (n values); on the first non-finite one records what, and the op that wrote it. */
static int check(scan *s, const float *x, size_t n, const char *what, const char *op) {
    if (s->found || !x)
        return s->found;
    size_t bad = 0, first = 0;
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i]) && bad++ == 0)
            first = i;
    if (!bad)
        return 0;
    snprintf(s->ctx->last_error, sizeof s->ctx->last_error,
             "%s: first non-finite tensor is %s, written by %s (%zu of %zu values not finite; "
             "element %zu is %g)",
             s->pass, what, op, bad, n, first, (double)x[first]);
    s->found = 1;
    return 1;
}

/* One saved tensor of a sub-layer, in the order the forward computes them. */
typedef struct step {
    const float *x;
    size_t n;
    const char *field; /* "q" -> "<where>.q" */
    const char *op;    /* printf format taking the parameter prefix */
} step;

static void check_steps(scan *s, const char *where, const char *prefix, const step *st, int n) {
    for (int i = 0; i < n && !s->found; i++) {
        char what[160], op[160];
        snprintf(what, sizeof what, "%s.%s", where, st[i].field);
        snprintf(op, sizeof op, st[i].op, prefix);
        check(s, st[i].x, st[i].n, what, op);
    }
}

static void check_attn(scan *s, const rin_attn_acts *a, const char *where, const char *prefix,
                       size_t B, size_t Nq, size_t Nk, size_t Dq, size_t A, size_t NH) {
    const step st[] = {
        {a->ln, B * Nq * Dq, "ln", "layernorm %sln_w/ln_b"},
        {a->q, B * Nq * A, "q", "linear %swq"},
        {a->k, B * Nk * A, "k", "linear %swk"},
        {a->v, B * Nk * A, "v", "linear %swv"},
        {a->att, B * NH * Nq * Nk, "att", "the attention softmax of %swq/wk"},
        {a->o, B * Nq * A, "o", "attention probabilities times values (%swv)"},
        {a->f, B * Nq * Dq, "f", "linear %swo"},
        {a->out, B * Nq * Dq, "out", "the residual add after %swo"},
    };
    check_steps(s, where, prefix, st, (int)(sizeof st / sizeof st[0]));
}

static void check_mlp(scan *s, const rin_mlp_acts *a, const char *where, const char *prefix,
                      size_t B, size_t N, size_t Dm, size_t Hd) {
    const step st[] = {
        {a->ln, B * N * Dm, "ln", "layernorm %sln_w/ln_b"},
        {a->h, B * N * Hd, "h", "linear %sw1"},
        {a->a, B * N * Hd, "a", "GELU (and dropout) after %sw1"},
        {a->f, B * N * Dm, "f", "linear %sw2"},
        {a->out, B * N * Dm, "out", "the residual add after %sw2"},
    };
    check_steps(s, where, prefix, st, (int)(sizeof st / sizeof st[0]));
}

rin_status rin_numerics_forward(rin_ctx *ctx, const rin_batch *in) {
    const rin_config *c = &ctx->model->cfg;
    const rin_dims *d = &ctx->model->dims;
    const rin_acts *a = &ctx->acts;
    size_t B = (size_t)in->B, n = (size_t)d->n, E = (size_t)c->E, D = (size_t)c->D,
           L = (size_t)c->L, nkv = n + (size_t)d->nr;
    scan s = {ctx, "forward", 0};
    ctx->last_error[0] = 0;
    check(&s, in->x_t, B * c->H * c->W * c->C, "input x_t", "the caller");
    if (c->self_cond && in->z_prev)
        check(&s, in->z_prev, B * L * D, "input z_prev (self-conditioning latents)",
              "the caller (the first pass)");
    if (ctx->mode != RIN_CTX_TRAIN) {
        /* shared scratch: only the outputs survive */
        s.pass = "forward (inference context; a training context names the op)";
        check(&s, a->zfinal, B * L * D, "latents after the last block", "the blocks");
        check(&s, a->ro_y, B * n * d->P, "readout", "linear out_w");
        return s.found ? RIN_STATUS_NONFINITE : RIN_STATUS_OK;
    }
    check(&s, a->patches, B * n * d->Pin, "patches", "patchify");
    check(&s, a->stem, B * n * E, "stem", "linear stem_w");
    if (c->token_gamma)
        check(&s, a->tg_emb, B * d->ng * c->E, "token gamma embeddings",
              "linear time_tape_w over the sinusoidal codes of the tokens' gamma");
    check(&s, a->x0, B * n * E, "interface x0", "layernorm stem_ln_w and the tape_pos add");
    check(&s, a->tcode, B * d->dt, "time code", "the sinusoidal embedding of gamma");
    check(&s, a->th, B * 4 * d->dt, "time MLP hidden", "linear time_w1");
    check(&s, a->ta, B * 4 * d->dt, "time MLP SiLU", "SiLU after time_w1");
    check(&s, a->ttok, B * d->Dt, "time token", "linear time_w2");
    if (c->num_classes > 0)
        check(&s, a->ctok, B * d->Dc, "class token", "linear cond_w");
    if (c->self_cond) {
        check_mlp(&s, &a->sc, "self_cond_mlp", "sc_mlp_", B, L, D, (size_t)d->rD);
        check(&s, a->z0, B * L * D, "latents z0", "layernorm sc_ln_w and the latent_pos add");
    } else {
        check(&s, a->z0, B * L * D, "latents z0", "the latent_pos add");
    }
    size_t Ac = (size_t)d->A;
    for (int i = 0; i < c->num_blocks && !s.found; i++) {
        const rin_block_acts *ba = &a->blocks[i];
        char where[64], pre[64];
        snprintf(where, sizeof where, "blocks.%d.read_attn", i);
        snprintf(pre, sizeof pre, "blocks.%d.read_", i);
        check_attn(&s, &ba->read_attn, where, pre, B, L, nkv, D, Ac, (size_t)c->rw_heads);
        snprintf(where, sizeof where, "blocks.%d.read_mlp", i);
        snprintf(pre, sizeof pre, "blocks.%d.read_mlp_", i);
        check_mlp(&s, &ba->read_mlp, where, pre, B, L, D, (size_t)d->rD);
        for (int j = 0; j < c->K[i]; j++) {
            snprintf(where, sizeof where, "blocks.%d.process.%d.attn", i, j);
            snprintf(pre, sizeof pre, "blocks.%d.process.%d.attn_", i, j);
            check_attn(&s, &ba->proc_attn[j], where, pre, B, L, L, D, D, (size_t)c->lat_heads);
            snprintf(where, sizeof where, "blocks.%d.process.%d.mlp", i, j);
            snprintf(pre, sizeof pre, "blocks.%d.process.%d.mlp_", i, j);
            check_mlp(&s, &ba->proc_mlp[j], where, pre, B, L, D, (size_t)d->rD);
        }
        if (c->K[i] > 0) {
            snprintf(where, sizeof where, "blocks.%d.write_attn", i);
            snprintf(pre, sizeof pre, "blocks.%d.write_", i);
            check_attn(&s, &ba->write_attn, where, pre, B, n, L, E, Ac, (size_t)c->rw_heads);
            if (c->tape_mlp_ratio > 0) {
                snprintf(where, sizeof where, "blocks.%d.write_mlp", i);
                snprintf(pre, sizeof pre, "blocks.%d.write_mlp_", i);
                check_mlp(&s, &ba->write_mlp, where, pre, B, n, E, (size_t)d->rE);
            }
        }
    }
    check(&s, a->ro_ln, B * n * E, "readout layernorm", "layernorm out_ln_w/out_ln_b");
    check(&s, a->ro_y, B * n * d->P, "readout", "linear out_w");
    return s.found ? RIN_STATUS_NONFINITE : RIN_STATUS_OK;
}

/* Tensor i's gradient, named "gradient of <name>", written by the backward of its op. */
static int check_grad(scan *s, const rin_model *m, int i) {
    const rin_tensor_info *t = &m->tensors[i].info;
    char what[160];
    snprintf(what, sizeof what, "the gradient of %s", t->name);
    return check(s, s->ctx->grads + t->offset, t->numel, what, "the backward of its op");
}

rin_status rin_numerics_backward(rin_ctx *ctx) {
    const rin_model *m = ctx->model;
    scan s = {ctx, "backward", 0};
    ctx->last_error[0] = 0;
    int nt = m->ntensors;
    /* readout first, then the blocks from the last, then the other global tensors */
    for (int i = nt - 1; i >= 0 && !s.found; i--)
        if (!strncmp(m->tensors[i].info.name, "out_", 4))
            check_grad(&s, m, i);
    for (int i = nt - 1; i >= 0 && !s.found; i--)
        if (!strncmp(m->tensors[i].info.name, "blocks.", 7))
            check_grad(&s, m, i);
    for (int i = nt - 1; i >= 0 && !s.found; i--) {
        const char *name = m->tensors[i].info.name;
        if (strncmp(name, "out_", 4) && strncmp(name, "blocks.", 7))
            check_grad(&s, m, i);
    }
    return s.found ? RIN_STATUS_NONFINITE : RIN_STATUS_OK;
}
