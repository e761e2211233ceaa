/* model.c -- the parameter table made concrete: layout, views, initialisation, named tensors,
 * checkpoints.
 *
 * rin_layout() walks the X-macro tables of tensors.h in buffer order and is the only code that
 * knows where a tensor lives. It serves three uses from one walk: counting floats, pointing a
 * view's fields into a buffer, and filling the named tensor records (name, shape, offset, init
 * rule, optimizer class). Initialisation follows spec 1.8; each tensor draws from its own
 * stream (seed, hash of its name), so a tensor's initial values do not depend on the others.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

typedef struct layout_state {
    const rin_config *c;
    float *base;
    size_t off;
    rin_tensor_rec *recs;
    int nt;
} layout_state;

static float init_limit(int init, int ndim, int d0, int d1, int heads, const rin_config *c) {
    (void)ndim;
    double fan_in, fan_out;
    switch (init) {
    case RIN_INIT_GLOROT:
        fan_in = d1;
        fan_out = d0;
        break;
    case RIN_INIT_STEM: { /* conv kernel (p, p, C, E); video (s, p, p, C, E), (s, p, p,
                           * C (1 + k), E) with video_cond = channels */
        double rf = (double)c->patch * c->patch * (c->seq_len > 0 ? c->seq_stride : 1);
        fan_in = d1; /* Pin: input channels x rf, exactly */
        fan_out = (double)c->E * rf;
        break;
    }
    case RIN_INIT_MHA_QKV: { /* kernel (d_in, heads, key_dim): Keras conv-style fans */
        double d_in = d1, key_dim = (double)d0 / heads;
        fan_in = heads * d_in;
        fan_out = key_dim * d_in;
        break;
    }
    case RIN_INIT_MHA_OUT: { /* kernel (heads, key_dim, d_out) */
        double key_dim = (double)d1 / heads, d_out = d0;
        fan_in = key_dim * heads;
        fan_out = d_out * heads;
        break;
    }
    case RIN_INIT_TRUNC_NORM: return 0.02f;
    default: return 0.0f;
    }
    return (float)sqrt(6.0 / (fan_in + fan_out));
}

static float *add_tensor(layout_state *s, const char *prefix, const char *field, int present,
                         int ndim, int d0, int d1, int init, int heads, int decayed) {
    if (!present)
        return NULL;
    size_t numel = ndim == 1 ? (size_t)d0 : (size_t)d0 * (size_t)d1;
    size_t off = s->off;
    s->off += rin_round16(numel);
    if (s->recs) {
        rin_tensor_rec *r = &s->recs[s->nt];
        memset(r, 0, sizeof *r);
        snprintf(r->name, sizeof r->name, "%s%s", prefix, field);
        r->info.name = r->name;
        r->info.ndim = ndim;
        r->info.shape[0] = d0;
        r->info.shape[1] = ndim == 2 ? d1 : 0;
        r->info.offset = off;
        r->info.numel = numel;
        r->info.decayed = decayed;
        r->init = init;
        r->limit = init_limit(init, ndim, d0, d1, heads, s->c);
    }
    s->nt++;
    return s->base ? s->base + off : NULL;
}

static void add_attn(layout_state *s, rin_attn_params *v, const char *prefix, int Dq, int Dk, int A,
                     int NH) {
#define ADD_ATTN(f, ndim, d0, d1, init, heads, dec)                                                \
    v->f = add_tensor(s, prefix, #f, 1, ndim, d0, d1, init, heads, dec);
    RIN_ATTN_TENSORS(ADD_ATTN, Dq, Dk, A, NH)
#undef ADD_ATTN
}

static void add_mlp(layout_state *s, rin_mlp_params *v, const char *prefix, int Dm, int Hd) {
#define ADD_MLP(f, ndim, d0, d1, init, heads, dec)                                                 \
    v->f = add_tensor(s, prefix, #f, 1, ndim, d0, d1, init, heads, dec);
    RIN_MLP_TENSORS(ADD_MLP, Dm, Hd)
#undef ADD_MLP
}

size_t rin_layout(const rin_config *c, float *base, rin_params_view *view, rin_tensor_rec *recs,
                  int *ntensors) {
    layout_state s = {.c = c, .base = base, .recs = recs};
    rin_dims d;
    rin_dims_compute(&d, c);
    /* symbols used by RIN_GLOBAL_TENSORS */
    int n = d.n, P = d.P, Pin = d.Pin, Lz = d.Lz, dt = d.dt, Dc = d.Dc, rD = d.rD;
    rin_params_view scratch;
    rin_attn_params dummy_attn;
    rin_mlp_params dummy_mlp;
    rin_params_view *v = view ? view : &scratch;

#define ADD_GLOBAL(f, present, ndim, d0, d1, init, heads, dec)                                     \
    v->g.f = add_tensor(&s, "", #f, present, ndim, d0, d1, init, heads, dec);
    RIN_GLOBAL_TENSORS(ADD_GLOBAL)
#undef ADD_GLOBAL

    v->S = c->num_blocks;
    int layer = 0;
    for (int i = 0; i < c->num_blocks; i++) {
        rin_block_params *bp = &v->blocks[i];
        char pre[64];
        bp->K = c->K[i];
        snprintf(pre, sizeof pre, "blocks.%d.read_", i);
        add_attn(&s, &bp->read_attn, pre, c->D, c->E, d.A, c->rw_heads);
        snprintf(pre, sizeof pre, "blocks.%d.read_mlp_", i);
        add_mlp(&s, &bp->read_mlp, pre, c->D, d.rD);
        bp->proc_attn = view ? view->proc_attn_all + layer : NULL;
        bp->proc_mlp = view ? view->proc_mlp_all + layer : NULL;
        for (int j = 0; j < c->K[i]; j++, layer++) {
            snprintf(pre, sizeof pre, "blocks.%d.process.%d.attn_", i, j);
            add_attn(&s, view ? &bp->proc_attn[j] : &dummy_attn, pre, c->D, c->D, c->D,
                     c->lat_heads);
            snprintf(pre, sizeof pre, "blocks.%d.process.%d.mlp_", i, j);
            add_mlp(&s, view ? &bp->proc_mlp[j] : &dummy_mlp, pre, c->D, d.rD);
        }
        bp->has_write = c->K[i] > 0;
        bp->has_write_mlp = bp->has_write && c->tape_mlp_ratio > 0;
        memset(&bp->write_attn, 0, sizeof bp->write_attn);
        memset(&bp->write_mlp, 0, sizeof bp->write_mlp);
        if (bp->has_write) {
            snprintf(pre, sizeof pre, "blocks.%d.write_", i);
            add_attn(&s, &bp->write_attn, pre, c->E, c->D, d.A, c->rw_heads);
        }
        if (bp->has_write_mlp) {
            snprintf(pre, sizeof pre, "blocks.%d.write_mlp_", i);
            add_mlp(&s, &bp->write_mlp, pre, c->E, d.rE);
        }
    }
    if (ntensors)
        *ntensors = s.nt;
    return s.off;
}

rin_status rin_view_build(rin_params_view *v, const rin_config *c, float *base) {
    rin_dims d;
    rin_dims_compute(&d, c);
    memset(v, 0, sizeof *v);
    size_t nl = d.total_layers > 0 ? (size_t)d.total_layers : 1;
    v->proc_attn_all = calloc(nl, sizeof *v->proc_attn_all);
    v->proc_mlp_all = calloc(nl, sizeof *v->proc_mlp_all);
    if (!v->proc_attn_all || !v->proc_mlp_all) {
        rin_view_free(v);
        return RIN_STATUS_NOMEM;
    }
    rin_layout(c, base, v, NULL, NULL);
    return RIN_STATUS_OK;
}

void rin_view_free(rin_params_view *v) {
    free(v->proc_attn_all);
    free(v->proc_mlp_all);
    v->proc_attn_all = NULL;
    v->proc_mlp_all = NULL;
}

/* transformers.py positional_encoding of one coordinate x over dim features: the sines of the
 * even feature indices, then the cosines of the odd ones; index i has angle
 * x / 10000^(2 floor(i/2) / dim). */
static void sincos_code(float *out, double x, int dim) {
    int ns = (dim + 1) / 2;
    for (int i = 0; i < dim; i++) {
        double angle = x / pow(10000.0, 2.0 * (i / 2) / dim);
        if (i % 2 == 0)
            out[i / 2] = (float)sin(angle);
        else
            out[ns + i / 2] = (float)cos(angle);
    }
}

/* Coordinates of the fixed codes run over [0, POS_NORM_MAX]: the time_scaling of every diffusion
 * config (spec 1.2). */
#define POS_NORM_MAX 1000.0

/* Index i of n equally spaced coordinates, 0 ... POS_NORM_MAX (0 when n = 1). */
static double pos_coord(int i, int n) {
    return n > 1 ? (double)i / (n - 1) * POS_NORM_MAX : 0.0;
}

/* sin_cos_3d_plus_learned: per token [time code (E/4) | row code (3E/8) | column code (3E/8)].
 * The time of a slot is the clip frame of its first frame (noisy slot u: Nc + u s; conditioning
 * slot u: u s), normalised as 1000 t / (T - 1); rows and columns as in the 2-D codes. */
static void space_time_codes(float *out, const rin_config *c) {
    int rows = c->H / c->patch, cols = c->W / c->patch, grid = rows * cols, E = c->E;
    int s = c->seq_stride, Nc = c->cond_frames, T = c->seq_len;
    rin_dims d;
    rin_dims_compute(&d, c);
    int noisy_slots = d.nx / grid, slots = d.n / grid, Et = E / 4, Es = 3 * E / 8;
    for (int u = 0; u < slots; u++) {
        int frame = u < noisy_slots ? Nc + u * s : (u - noisy_slots) * s;
        for (int g = 0; g < grid; g++) {
            float *o = out + ((size_t)u * grid + g) * E;
            sincos_code(o, pos_coord(frame, T), Et);
            sincos_code(o + Et, pos_coord(g / cols, rows), Es);
            sincos_code(o + Et + Es, pos_coord(g % cols, cols), Es);
        }
    }
}

void rin_tape_pos_codes(float *out, const rin_config *c) {
    if (c->tape_pos_encoding == 2) {
        space_time_codes(out, c);
        return;
    }
    int rows = c->H / c->patch, cols = c->W / c->patch, grid = rows * cols, E = c->E;
    int n = rin_config_num_tokens(c);
    for (int g = 0; g < grid; g++) {
        float *o = out + (size_t)g * E;
        if (rows > 1 && cols > 1) {
            sincos_code(o, pos_coord(g / cols, rows), E / 2);
            sincos_code(o + E / 2, pos_coord(g % cols, cols), E / 2);
        } else {
            sincos_code(o, pos_coord(g, grid), E);
        }
    }
    for (int t = 1; t < n / grid; t++)
        memcpy(out + (size_t)t * grid * E, out, (size_t)grid * E * sizeof(float));
}

rin_status rin_model_create(rin_model **out, const rin_config *c, char *err, size_t errlen) {
    *out = NULL;
    rin_status st = rin_config_validate(c, err, errlen);
    if (st)
        return st;
    rin_model *m = calloc(1, sizeof *m);
    if (!m)
        return rin_errorf(err, errlen, RIN_STATUS_NOMEM, "out of memory (model struct)");
    m->cfg = *c;
    rin_dims_compute(&m->dims, c);
    m->nfloats = rin_layout(c, NULL, NULL, NULL, &m->ntensors);
    m->tensors = calloc((size_t)m->ntensors, sizeof *m->tensors);
    m->params = rin_aligned_alloc(m->nfloats * sizeof(float));
    if (!m->tensors || !m->params || rin_view_build(&m->view, c, m->params)) {
        size_t nf = m->nfloats;
        rin_model_free(m);
        return rin_errorf(err, errlen, RIN_STATUS_NOMEM,
                          "out of memory allocating %zu parameters (%.1f MB)", nf,
                          (double)nf * 4e-6);
    }
    memset(m->params, 0, m->nfloats * sizeof(float));
    rin_layout(c, m->params, NULL, m->tensors, NULL);
    if (c->tape_pos_encoding) {
        m->tape_pos_fixed = malloc((size_t)m->dims.n * c->E * sizeof(float));
        if (!m->tape_pos_fixed) {
            rin_model_free(m);
            return rin_errorf(err, errlen, RIN_STATUS_NOMEM, "out of memory (position codes)");
        }
        rin_tape_pos_codes(m->tape_pos_fixed, c);
    }
    *out = m;
    return RIN_STATUS_OK;
}

void rin_model_free(rin_model *m) {
    if (!m)
        return;
    rin_view_free(&m->view);
    free(m->params);
    free(m->tensors);
    free(m->tape_pos_fixed);
    free(m);
}

void rin_model_init_params(rin_model *m, uint64_t seed) {
    for (int t = 0; t < m->ntensors; t++) {
        const rin_tensor_rec *r = &m->tensors[t];
        float *x = m->params + r->info.offset;
        rin_rng rng;
        rin_rng_seed(&rng, rin_hash64(seed, rin_hash_str(r->name), 0));
        for (size_t i = 0; i < r->info.numel; i++) {
            switch (r->init) {
            case RIN_INIT_ZERO: x[i] = 0.0f; break;
            case RIN_INIT_ONE: x[i] = 1.0f; break;
            case RIN_INIT_TRUNC_NORM: {
                /* tf.keras TruncatedNormal: draws beyond 2 std are re-drawn */
                double z;
                do
                    z = rin_rng_normal(&rng);
                while (z < -2.0 || z > 2.0);
                x[i] = (float)(z * (double)r->limit);
                break;
            }
            default: /* the uniform rules */
                x[i] = (float)((2.0 * rin_rng_uniform(&rng) - 1.0) * (double)r->limit);
                break;
            }
        }
    }
}

const rin_config *rin_model_config(const rin_model *m) {
    return &m->cfg;
}
float *rin_model_params(rin_model *m) {
    return m->params;
}
size_t rin_model_buffer_floats(const rin_model *m) {
    return m->nfloats;
}
int rin_model_num_tensors(const rin_model *m) {
    return m->ntensors;
}

const rin_tensor_info *rin_model_tensor(const rin_model *m, int i) {
    return i >= 0 && i < m->ntensors ? &m->tensors[i].info : NULL;
}

const rin_tensor_info *rin_model_find_tensor(const rin_model *m, const char *name) {
    for (int i = 0; i < m->ntensors; i++)
        if (!strcmp(m->tensors[i].name, name))
            return &m->tensors[i].info;
    return NULL;
}

/* ---- checkpoints ----------------------------------------------------------------------------- */

/* Adds every parameter of buffer `buf` under prefix + table name. Names are kept in `names`
 * (ntensors x 96 chars) until the writer saves. */
rin_status rin_model_add_tensors(const rin_model *m, rin_st_writer *w, const float *buf,
                                 const char *prefix, char (*names)[96]) {
    for (int t = 0; t < m->ntensors; t++) {
        const rin_tensor_info *ti = &m->tensors[t].info;
        int64_t shape[2] = {ti->shape[0], ti->shape[1]};
        snprintf(names[t], 96, "%s%s", prefix, ti->name);
        rin_status s =
            rin_st_writer_add(w, names[t], RIN_DTYPE_F32, ti->ndim, shape, buf + ti->offset);
        if (s)
            return s;
    }
    return RIN_STATUS_OK;
}

rin_status rin_model_add_config_meta(const rin_config *c, rin_st_writer *w) {
    rin_status s = rin_st_writer_meta(w, "format", "rin-checkpoint");
    if (!s)
        s = rin_st_writer_meta(w, "version", RIN_VERSION);
    for (int i = 0; !s && i < rin_config_num_keys(); i++) {
        char v[256];
        rin_config_get(c, i, v, sizeof v);
        s = rin_st_writer_meta(w, rin_config_key(i), v);
    }
    return s;
}

rin_status rin_model_save(const rin_model *m, const char *path, const char *const *extra_meta,
                          char *err, size_t errlen) {
    rin_st_writer *w = rin_st_writer_new();
    char(*names)[96] = calloc((size_t)m->ntensors, sizeof *names);
    rin_status s = RIN_STATUS_NOMEM;
    if (!w || !names) {
        rin_errorf(err, errlen, s, "%s: out of memory", path);
        goto done;
    }
    s = rin_model_add_config_meta(&m->cfg, w);
    for (int i = 0; !s && extra_meta && extra_meta[i]; i += 2)
        s = rin_st_writer_meta(w, extra_meta[i], extra_meta[i + 1]);
    if (!s)
        s = rin_model_add_tensors(m, w, m->params, "", names);
    if (s) {
        rin_errorf(err, errlen, s, "%s: cannot build the checkpoint header (%s)", path,
                   rin_status_str(s));
        goto done;
    }
    s = rin_st_writer_save(w, path, err, errlen);
done:
    rin_st_writer_free(w);
    free(names);
    return s;
}

rin_status rin_config_from_meta(rin_config *c, const rin_st_file *f, const char *path, char *err,
                                size_t errlen) {
    memset(c, 0, sizeof *c);
    const char *fmt = rin_st_meta(f, "format");
    if (fmt && strcmp(fmt, "rin-checkpoint") && strcmp(fmt, "rin-fixture"))
        return rin_errorf(err, errlen, RIN_STATUS_FORMAT,
                          "%s: __metadata__ format is '%s' (expected rin-checkpoint)", path, fmt);
    for (int i = 0; i < rin_config_num_keys(); i++) {
        const char *key = rin_config_key(i), *v = rin_st_meta(f, key);
        if (!v && rin_config_key_optional(i))
            continue;
        if (!v)
            return rin_errorf(err, errlen, RIN_STATUS_FORMAT,
                              "%s: __metadata__ lacks the config key '%s' (is this a rin "
                              "checkpoint?)",
                              path, key);
        char e2[200];
        if (rin_config_set(c, key, v, e2, sizeof e2))
            return rin_errorf(err, errlen, RIN_STATUS_FORMAT, "%s: __metadata__: %s", path, e2);
    }
    char e3[200];
    if (rin_config_validate(c, e3, sizeof e3))
        return rin_errorf(err, errlen, RIN_STATUS_FORMAT, "%s: __metadata__: %s", path, e3);
    return RIN_STATUS_OK;
}

static void format_shape(char *buf, size_t len, int ndim, const int64_t *shape) {
    size_t w = 0;
    w += (size_t)snprintf(buf, len, "(");
    for (int i = 0; i < ndim && w < len; i++)
        w += (size_t)snprintf(buf + w, len - w, "%s%lld", i ? "," : "", (long long)shape[i]);
    if (w < len)
        snprintf(buf + w, len - w, ")");
}

rin_status rin_model_read_tensors(rin_model *m, float *buf, const rin_st_file *f,
                                  const char *prefix, const char *path, char *err, size_t errlen) {
    for (int t = 0; t < m->ntensors; t++) {
        const rin_tensor_info *ti = &m->tensors[t].info;
        char name[128];
        snprintf(name, sizeof name, "%s%s", prefix, ti->name);
        const rin_st_tensor *st = rin_st_find(f, name);
        if (!st)
            return rin_errorf(err, errlen, RIN_STATUS_FORMAT, "%s: tensor %s is missing", path,
                              name);
        int64_t want[2] = {ti->shape[0], ti->shape[1]};
        int same = st->ndim == ti->ndim;
        for (int i = 0; same && i < ti->ndim; i++)
            same = st->shape[i] == want[i];
        if (!same) {
            char a[64], b[64];
            format_shape(a, sizeof a, ti->ndim, want);
            format_shape(b, sizeof b, st->ndim, st->shape);
            return rin_errorf(err, errlen, RIN_STATUS_FORMAT,
                              "%s: tensor %s: expected shape %s, file has %s", path, name, a, b);
        }
        if (st->dtype != RIN_DTYPE_F32)
            return rin_errorf(err, errlen, RIN_STATUS_FORMAT,
                              "%s: tensor %s: expected dtype F32, file has %s", path, name,
                              rin_dtype_name(st->dtype));
        memcpy(buf + ti->offset, rin_st_data(f, st), ti->numel * sizeof(float));
    }
    return RIN_STATUS_OK;
}

/* Tensors whose names start with one of these belong to training state (EMA, optimizer
 * moments) and are not model parameters. */
static int is_state_tensor(const char *name) {
    return !strncmp(name, "ema.", 4) || !strncmp(name, "opt.", 4);
}

int rin_model_file_has_ema(const rin_model *m, const rin_st_file *f) {
    char probe[128];
    snprintf(probe, sizeof probe, "ema.%s", m->tensors[0].name);
    return rin_st_find(f, probe) != NULL;
}

rin_status rin_model_load_weights(rin_model **out, const char *path, const char *which, char *err,
                                  size_t errlen) {
    *out = NULL;
    if (strcmp(which, "ema") && strcmp(which, "raw"))
        return rin_errorf(err, errlen, RIN_STATUS_ARG, "weights: '%s' (expected ema or raw)",
                          which);
    rin_st_file *f = NULL;
    rin_status s = rin_st_read(&f, path, err, errlen);
    if (s)
        return s;
    rin_config c;
    s = rin_config_from_meta(&c, f, path, err, errlen);
    rin_model *m = NULL;
    if (!s) {
        char e2[200];
        s = rin_model_create(&m, &c, e2, sizeof e2);
        if (s)
            rin_errorf(err, errlen, s, "%s: %s", path, e2);
    }
    /* a training checkpoint has an "ema." copy; a sampling export has only plain names */
    const char *prefix = !s && !strcmp(which, "ema") && rin_model_file_has_ema(m, f) ? "ema." : "";
    if (!s)
        s = rin_model_read_tensors(m, m->params, f, prefix, path, err, errlen);
    for (int i = 0; !s && i < f->ntensors; i++) {
        const char *name = f->tensors[i].name;
        if (!is_state_tensor(name) && !rin_model_find_tensor(m, name))
            s = rin_errorf(err, errlen, RIN_STATUS_FORMAT,
                           "%s: tensor %s is not a parameter of this configuration", path, name);
    }
    rin_st_free(f);
    if (s) {
        rin_model_free(m);
        return s;
    }
    *out = m;
    return RIN_STATUS_OK;
}

rin_status rin_model_load(rin_model **out, const char *path, char *err, size_t errlen) {
    return rin_model_load_weights(out, path, "raw", err, errlen);
}
