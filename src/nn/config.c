/* config.c -- the model configuration: its keys, presets, validation, derived sizes, and the
 * config-text parser. Setting, getting and formatting the keys is keys.h's engine.
 *
 * Keys use the names of the official code's config (shared/spec/rin.md section 0), so a user
 * who knows config_diffusion_cifar10.py reads them at once. They are also the checkpoint
 * metadata keys (style.md section 9).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "keys.h"

/* tape_pos_encoding values, indexed by rin_config.tape_pos_encoding */
static const char *const pos_encodings[] = {"learned", "sin_cos_plus_learned",
                                            "sin_cos_3d_plus_learned", NULL};
/* video_cond values, indexed by rin_config.video_cond */
static const char *const video_conds[] = {"tokens", "channels", NULL};
/* self_cond values; "1" and "0" are accepted too (RIN_KEY_INDEX), as the first configs wrote */
static const char *const self_conds[] = {"none", "latent", NULL};

/* The keys in their fixed order (the checkpoint metadata's, keys.h). The defaults are those
 * every preset starts from; the presets below set the rest. */
#define F(f) RIN_KEY_FIELD(rin_config, f)
#define NEW  RIN_KEY_OPTIONAL
// clang-format off
static const rin_key keys[] = {
    {"image_height",   RIN_KEY_INT, F(H),     .lo = 1, .hi = 4096,  .help = "image height H"},
    {"image_width",    RIN_KEY_INT, F(W),     .lo = 1, .hi = 4096,  .help = "image width W"},
    {"image_channels", RIN_KEY_INT, F(C),     .lo = 1, .hi = 3,     .help = "channels C (1 or 3)"},
    {"patch_size",     RIN_KEY_INT, F(patch), .lo = 1, .hi = 256,   .help = "patch size p"},
    {"tape_dim",       RIN_KEY_INT, F(E),     .lo = 1, .hi = 16384, .help = "interface width E"},
    {"latent_dim",     RIN_KEY_INT, F(D),     .lo = 1, .hi = 16384, .help = "latent width D"},
    {"latent_slots",      RIN_KEY_INT,  F(L),     .lo = 1, .hi = 65536,
                          .help = "latent slots L (incl. time/class tokens)"},
    {"num_layers",        RIN_KEY_INT_LIST, offsetof(rin_config, K), RIN_MAX_BLOCKS,
                          offsetof(rin_config, num_blocks), .lo = 0, .hi = 256,
                          .what = "a comma-separated list of depths such as 2,2,2",
                          .help = "process depth per block, e.g. 2,2,2"},
    {"latent_num_heads",  RIN_KEY_INT,  F(lat_heads), .lo = 1, .hi = 1024,
                          .help = "latent self-attention heads"},
    {"rw_num_heads",      RIN_KEY_INT,  F(rw_heads), .lo = 1, .hi = 1024,
                          .help = "read/write cross-attention heads"},
    {"latent_mlp_ratio",  RIN_KEY_INT,  F(lat_mlp_ratio), .lo = 1, .hi = 64,
                          .help = "latent MLP ratio"},
    {"tape_mlp_ratio",    RIN_KEY_INT,  F(tape_mlp_ratio), .lo = 0, .hi = 64,
                          .help = "write MLP ratio (0 = none)"},
    {"drop_units",        RIN_KEY_FLOAT, F(drop_units), .lo = 0, .hi = 1, .flags = RIN_KEY_OPEN_HI,
                          .help = "process-MLP dropout rate"},
    {"drop_path",         RIN_KEY_FLOAT, F(drop_path), .lo = 0, .hi = 1, .flags = RIN_KEY_OPEN_HI,
                          .help = "process-layer drop-path rate"},
    {"num_classes",       RIN_KEY_INT,  F(num_classes), .lo = 0, .hi = 100000,
                          .help = "classes (0 = unconditional)"},
    {"time_on_latent",    RIN_KEY_BOOL, F(time_on_latent), .def = "1",
                          .help = "time token on the latents"},
    {"cond_on_latent",    RIN_KEY_BOOL, F(cond_on_latent), .def = "1",
                          .help = "class token on the latents"},
    {"self_cond",         RIN_KEY_ENUM, F(self_cond), .choices = self_conds,
                          .flags = RIN_KEY_INDEX, .what = "latent or none", .def = "latent",
                          .help = "latent or none"},
    /* the keys from here on came after the first checkpoints (rin_config_key_optional) */
    {"seq_len",           RIN_KEY_INT,  F(seq_len), .lo = 0, .hi = 4096, .flags = NEW,
                          .help = "video: frames per clip (0 = images)"},
    {"seq_stride",        RIN_KEY_INT,  F(seq_stride), .lo = 0, .hi = 4096, .flags = NEW,
                          .help = "video: frames per token"},
    {"cond_frames",       RIN_KEY_INT,  F(cond_frames), .lo = 0, .hi = 4095, .flags = NEW,
                          .help = "video: conditioning frames"},
    {"tape_pos_encoding", RIN_KEY_ENUM, F(tape_pos_encoding), .choices = pos_encodings,
                          .flags = NEW,
                          .help = "learned, sin_cos_plus_learned or sin_cos_3d_plus_learned"},
    {"video_cond",        RIN_KEY_ENUM, F(video_cond), .choices = video_conds, .flags = NEW,
                          .help = "video: conditioning as tokens (spec) or channels (rin's)"},
    {"video_cond_frames", RIN_KEY_INT,  F(video_cond_frames), .lo = 0, .hi = 4095, .flags = NEW,
                          .help = "video: last clean frames stacked as channels (channels mode)"},
    {"token_gamma",       RIN_KEY_BOOL, F(token_gamma), .flags = NEW,
                          .help = "each token gets an embedding of its noise level (rin's)"},
    {"video_cond_halo",   RIN_KEY_INT,  F(video_cond_halo), .lo = 0, .hi = 4096, .flags = NEW,
                          .help = "video: pixels of clean context around each patch (channels)"},
};
// clang-format on
#undef NEW
#undef F
#define NKEYS ((int)(sizeof keys / sizeof keys[0]))

int rin_config_num_keys(void) {
    return NKEYS;
}
const char *rin_config_key(int i) {
    return i >= 0 && i < NKEYS ? keys[i].name : NULL;
}
const rin_key *rin_config_keys(int *n) {
    *n = NKEYS;
    return keys;
}

/* The keys flagged RIN_KEY_OPTIONAL (the video keys, tape_pos_encoding, the video_cond keys and
 * token_gamma) came after the first checkpoints: a file without them holds an image model with
 * learned positions, or a video model with the spec's conditioning tokens, and no per-token noise
 * level (their value 0). */
int rin_config_key_optional(int i) {
    return i >= 0 && i < NKEYS && (keys[i].flags & RIN_KEY_OPTIONAL);
}

/* ---- presets -------------------------------------------------------------------------------
 * One row per preset: its name and its settings over the keys' defaults, written as --set takes
 * them. The name list, the lookup and the "known: ..." message all come from this one table.
 * What each preset is for and how it was measured: docs/presets.md. */
// clang-format off
#define PRESETS(X)                                                                                 \
    /* the released CIFAR-10 sweep (spec 5.1): 30,951,180 parameters; docs/presets.md */           \
    X(cifar10, "image_height=32 image_width=32 image_channels=3 patch_size=2 tape_dim=256 "        \
               "latent_dim=512 latent_slots=128 num_layers=2,2,2 latent_num_heads=16 "             \
               "rw_num_heads=8 latent_mlp_ratio=4 tape_mlp_ratio=2 drop_units=0.1 "                \
               "drop_path=0.1 num_classes=10")                                                     \
    /* the released ImageNet 64x64 sweep (spec 5.1): 157,780,160 parameters; docs/presets.md */    \
    X(imagenet64, "image_height=64 image_width=64 image_channels=3 patch_size=8 tape_dim=512 "     \
                  "latent_dim=768 latent_slots=128 num_layers=4,4,4,4 latent_num_heads=16 "        \
                  "rw_num_heads=16 latent_mlp_ratio=4 tape_mlp_ratio=4 num_classes=1000")          \
    /* Fashion-MNIST sized for 2 CPU cores, 1.35 M parameters; measured in docs/presets.md */      \
    X(fmnist, "image_height=28 image_width=28 image_channels=1 patch_size=4 tape_dim=64 "          \
              "latent_dim=128 latent_slots=32 num_layers=2,2 latent_num_heads=4 rw_num_heads=4 "   \
              "latent_mlp_ratio=4 tape_mlp_ratio=2 num_classes=10")                                \
    /* for tests: every part present in 56,720 parameters; docs/presets.md */                      \
    X(tiny, "image_height=8 image_width=8 image_channels=3 patch_size=4 tape_dim=32 "              \
            "latent_dim=32 latent_slots=8 num_layers=1,1 latent_num_heads=4 rw_num_heads=2 "       \
            "latent_mlp_ratio=2 tape_mlp_ratio=1 num_classes=10")                                  \
    /* Moving Fashion-MNIST prediction for 2 CPU cores; its choices measured in docs/presets.md */ \
    X(video, "image_height=32 image_width=32 image_channels=1 patch_size=8 tape_dim=128 "          \
             "latent_dim=128 latent_slots=32 num_layers=2,2 latent_num_heads=4 rw_num_heads=4 "    \
             "latent_mlp_ratio=4 tape_mlp_ratio=2 num_classes=0 seq_len=16 seq_stride=1 "          \
             "cond_frames=5 tape_pos_encoding=sin_cos_3d_plus_learned")
#define PRESET_NAME(name, settings) #name,
#define PRESET_SETTINGS(name, settings) settings,
static const char *const preset_names[] = {PRESETS(PRESET_NAME) NULL};
static const char *const preset_settings[] = {PRESETS(PRESET_SETTINGS)};
// clang-format on

const char *const *rin_config_preset_names(void) {
    return preset_names;
}

static rin_status preset_set(void *c, const char *key, const char *value, char *err,
                             size_t errlen) {
    return rin_config_set(c, key, value, err, errlen);
}

rin_status rin_config_preset(rin_config *c, const char *name, char *err, size_t errlen) {
    memset(c, 0, sizeof *c);
    rin_keys_defaults(keys, NKEYS, c);
    for (int i = 0; preset_names[i]; i++)
        if (!strcmp(name, preset_names[i]))
            return rin_keys_apply(preset_settings[i], preset_set, c, err, errlen);
    char known[256];
    rin_keys_join(known, sizeof known, preset_names, ", ");
    return rin_errorf(err, errlen, RIN_STATUS_CONFIG, "unknown preset '%s' (known: %s)", name,
                      known);
}

rin_status rin_config_set(rin_config *c, const char *key, const char *value, char *err,
                          size_t errlen) {
    int i = rin_keys_find(keys, NKEYS, key);
    if (i < 0)
        return rin_errorf(err, errlen, RIN_STATUS_CONFIG, "unknown config key '%s'", key);
    rin_status s = rin_key_set(&keys[i], c, value, err, errlen);
    /* video_cond_frames follows the mode: 'channels' takes 1 unless it was set before; 'tokens'
     * has no frames and no halo. A checkpoint's or a file's keys apply in table order, so the
     * keys after video_cond still set their own values. */
    if (!s && keys[i].offset == offsetof(rin_config, video_cond)) {
        if (!c->video_cond)
            c->video_cond_frames = c->video_cond_halo = 0;
        else if (c->video_cond_frames == 0)
            c->video_cond_frames = 1;
    }
    return s;
}

int rin_config_get(const rin_config *c, int i, char *buf, size_t buflen) {
    if (i < 0 || i >= NKEYS)
        return -1;
    return rin_key_get(&keys[i], c, buf, buflen);
}

int rin_config_format(const rin_config *c, char *buf, size_t buflen) {
    return rin_keys_format(keys, NKEYS, c, buf, buflen);
}

/* Time slots of a run of F frames cut s at a time, padded at the end (spec 6.1). */
static int time_slots(int F, int s) {
    return s > 0 ? (F + s - 1) / s : 0;
}

int rin_config_num_tokens(const rin_config *c) {
    int grid = c->patch > 0 ? (c->H / c->patch) * (c->W / c->patch) : 0;
    if (c->seq_len <= 0)
        return grid;
    /* video_cond = channels: the conditioning frames ride in the noisy tokens, none of their own */
    int cond_slots = c->video_cond ? 0 : time_slots(c->cond_frames, c->seq_stride);
    return grid * (time_slots(c->seq_len - c->cond_frames, c->seq_stride) + cond_slots);
}

size_t rin_config_input_floats(const rin_config *c) {
    size_t frame = (size_t)c->H * c->W * c->C;
    return c->seq_len > 0 ? (size_t)(c->seq_len - c->cond_frames) * frame : frame;
}

size_t rin_config_cond_floats(const rin_config *c) {
    return c->seq_len > 0 ? (size_t)c->cond_frames * c->H * c->W * c->C : 0;
}

void rin_dims_compute(rin_dims *d, const rin_config *c) {
    memset(d, 0, sizeof *d);
    d->n = rin_config_num_tokens(c);
    d->P = c->patch * c->patch * c->C;
    d->nx = d->n;
    d->Tx = 1;
    if (c->seq_len > 0) {
        /* video (spec 6.1): tokens of the noisy frames first, then the conditioning frames' */
        d->P *= c->seq_stride;
        d->Tx = c->seq_len - c->cond_frames;
        d->nx = (c->patch > 0 ? (c->H / c->patch) * (c->W / c->patch) : 0) *
                time_slots(d->Tx, c->seq_stride);
    }
    /* video_cond = channels: each pixel of a noisy patch also carries k clean frames' C; with a
     * halo h, the token carries k clean (p + 2h)^2 windows after its noisy pixels instead */
    d->Pin = d->P;
    if (c->seq_len > 0 && c->video_cond) {
        int w = c->patch + 2 * c->video_cond_halo;
        d->Pin = c->video_cond_halo > 0 ? d->P + c->video_cond_frames * w * w * c->C
                                        : d->P * (1 + c->video_cond_frames);
    }
    /* token_gamma: one noise level per noisy time slot, and gamma = 1 for conditioning tokens */
    d->grid = c->patch > 0 ? (c->H / c->patch) * (c->W / c->patch) : 0;
    d->ns = c->seq_len > 0 ? time_slots(d->Tx, c->seq_stride) : 1;
    d->ng = d->ns + (d->n > d->nx);
    d->A = c->E < c->D ? c->E : c->D;
    int has_class = c->num_classes > 0;
    d->Lz = c->L - c->time_on_latent - (has_class && c->cond_on_latent);
    d->Dt = c->time_on_latent ? c->D : c->E;
    d->dt = d->Dt / 4;
    d->Dc = c->cond_on_latent ? c->D : c->E;
    d->nr = !c->time_on_latent + (has_class && !c->cond_on_latent);
    d->rD = c->lat_mlp_ratio * c->D;
    d->rE = c->tape_mlp_ratio * c->E;
    for (int b = 0; b < c->num_blocks; b++)
        d->total_layers += c->K[b];
}

rin_status rin_config_validate(const rin_config *c, char *err, size_t errlen) {
    /* ranges of single keys (also enforced by rin_config_set, repeated for structs built in
     * code) */
    rin_status ks = rin_keys_check(keys, NKEYS, c, err, errlen);
    if (ks)
        return ks;
    if (c->C != 1 && c->C != 3)
        return rin_errorf(err, errlen, RIN_STATUS_CONFIG,
                          "image_channels: %d is not supported (expected 1 or 3)", c->C);
    if (c->H % c->patch || c->W % c->patch)
        return rin_errorf(err, errlen, RIN_STATUS_CONFIG,
                          "patch_size: %d does not divide the image %dx%d", c->patch, c->H, c->W);
    if (c->seq_len == 0 && (c->seq_stride || c->cond_frames))
        return rin_errorf(err, errlen, RIN_STATUS_CONFIG,
                          "seq_stride and cond_frames apply to video only (set seq_len > 0, or "
                          "leave them 0)");
    if (c->seq_len > 0 && (c->seq_stride < 1 || c->seq_stride > c->seq_len))
        return rin_errorf(err, errlen, RIN_STATUS_CONFIG,
                          "seq_stride: %d is out of range [1, seq_len = %d]", c->seq_stride,
                          c->seq_len);
    if (c->seq_len > 0 && c->cond_frames >= c->seq_len)
        return rin_errorf(err, errlen, RIN_STATUS_CONFIG,
                          "cond_frames: %d leaves no frame to predict of seq_len %d",
                          c->cond_frames, c->seq_len);
    if (c->num_blocks < 1 || c->num_blocks > RIN_MAX_BLOCKS)
        return rin_errorf(err, errlen, RIN_STATUS_CONFIG,
                          "num_layers: %d blocks (expected 1 to %d)", c->num_blocks,
                          RIN_MAX_BLOCKS);
    for (int b = 0; b < c->num_blocks; b++)
        if (c->K[b] < 0 || c->K[b] > 256)
            return rin_errorf(err, errlen, RIN_STATUS_CONFIG,
                              "num_layers: block %d has depth %d (expected 0 to 256)", b, c->K[b]);
    if (c->tape_pos_encoding && c->E % 4)
        return rin_errorf(err, errlen, RIN_STATUS_CONFIG,
                          "tape_pos_encoding: sin_cos_plus_learned needs tape_dim divisible by 4 "
                          "(a sin and a cos half for the row and for the column), not %d",
                          c->E);
    if (c->video_cond && c->seq_len == 0)
        return rin_errorf(err, errlen, RIN_STATUS_CONFIG,
                          "video_cond: channels is for video models (seq_len > 0); an image model "
                          "takes tokens (the default)");
    if (c->video_cond && c->cond_frames < 1)
        return rin_errorf(err, errlen, RIN_STATUS_CONFIG,
                          "video_cond: channels needs clean conditioning frames (cond_frames >= "
                          "1), got cond_frames %d",
                          c->cond_frames);
    if (c->video_cond && (c->video_cond_frames < 1 || c->video_cond_frames > c->cond_frames))
        return rin_errorf(err, errlen, RIN_STATUS_CONFIG,
                          "video_cond_frames: %d is out of range [1, cond_frames = %d] for "
                          "video_cond = channels (the last k clean frames are stacked as "
                          "channels)",
                          c->video_cond_frames, c->cond_frames);
    if (!c->video_cond && c->video_cond_frames != 0)
        return rin_errorf(err, errlen, RIN_STATUS_CONFIG,
                          "video_cond_frames: %d applies to video_cond = channels only (tokens "
                          "feeds every conditioning frame as tokens); set video_cond = channels "
                          "or leave it 0",
                          c->video_cond_frames);
    if (!c->video_cond && c->video_cond_halo != 0)
        return rin_errorf(err, errlen, RIN_STATUS_CONFIG,
                          "video_cond_halo: %d applies to video_cond = channels only (the "
                          "clean frames' context around each noisy patch); set video_cond = "
                          "channels or leave it 0",
                          c->video_cond_halo);
    if (c->video_cond_halo > (c->H > c->W ? c->H : c->W))
        return rin_errorf(err, errlen, RIN_STATUS_CONFIG,
                          "video_cond_halo: %d is out of range [0, max(image_height, "
                          "image_width) = %d] (a wider window sees only zeros past the frame)",
                          c->video_cond_halo, c->H > c->W ? c->H : c->W);
    if (c->video_cond_halo > 0) { /* the windows' width, before rin_dims_compute's int sizes */
        double w = (double)c->patch + 2.0 * c->video_cond_halo;
        double pin = (double)c->patch * c->patch * c->C * (c->seq_stride > 0 ? c->seq_stride : 1) +
                     (double)c->video_cond_frames * w * w * c->C;
        if (pin > 1e7)
            return rin_errorf(err, errlen, RIN_STATUS_CONFIG,
                              "video_cond_halo: %d makes each token's stem input %.0f floats "
                              "wide (at most 10,000,000)",
                              c->video_cond_halo, pin);
    }
    if (c->tape_pos_encoding == 2 && (c->seq_len == 0 || c->E % 16))
        return rin_errorf(err, errlen, RIN_STATUS_CONFIG,
                          "tape_pos_encoding: sin_cos_3d_plus_learned is for video models "
                          "(seq_len > 0) with tape_dim divisible by 16 (E/4 features for the "
                          "time, 3E/8 for the row and for the column); got seq_len %d, tape_dim %d",
                          c->seq_len, c->E);
    rin_dims d;
    rin_dims_compute(&d, c);
    if (c->D % c->lat_heads)
        return rin_errorf(err, errlen, RIN_STATUS_CONFIG,
                          "latent_num_heads: %d does not divide latent_dim %d", c->lat_heads, c->D);
    if (d.A % c->rw_heads)
        return rin_errorf(err, errlen, RIN_STATUS_CONFIG,
                          "rw_num_heads: %d does not divide the cross-attention width "
                          "min(tape_dim, latent_dim) = %d",
                          c->rw_heads, d.A);
    if (d.Dt % 8)
        return rin_errorf(err, errlen, RIN_STATUS_CONFIG,
                          "%s: %d must be a multiple of 8 (the time embedding has width %s/4 "
                          "split into sines and cosines)",
                          c->time_on_latent ? "latent_dim" : "tape_dim", d.Dt,
                          c->time_on_latent ? "latent_dim" : "tape_dim");
    if (d.Lz < 1)
        return rin_errorf(err, errlen, RIN_STATUS_CONFIG,
                          "latent_slots: %d leaves no learned latent after the %d time/class "
                          "token(s) (need at least %d)",
                          c->L, c->L - d.Lz, c->L - d.Lz + 1);
    /* every buffer must stay addressable with int dims times int dims in size_t */
    double biggest = (double)c->L * c->D * d.rD + (double)d.n * c->E * (d.rE > 0 ? d.rE : 1);
    if (biggest > 1e15)
        return rin_errorf(err, errlen, RIN_STATUS_CONFIG, "model too large");
    return RIN_STATUS_OK;
}

size_t rin_config_num_params(const rin_config *c) {
    int nt = 0;
    size_t total = 0;
    rin_tensor_rec *recs = NULL;
    rin_layout(c, NULL, NULL, NULL, &nt);
    recs = calloc((size_t)nt, sizeof *recs);
    if (!recs)
        return 0;
    rin_layout(c, NULL, NULL, recs, &nt);
    for (int i = 0; i < nt; i++)
        total += recs[i].info.numel;
    free(recs);
    return total;
}

double rin_config_flops(const rin_config *c) {
    rin_dims d;
    rin_dims_compute(&d, c);
    double n = d.n, E = c->E, D = c->D, L = c->L, A = d.A, nkv = d.n + d.nr;
    double f = n * d.Pin * E + d.dt * 4.0 * d.dt + 16.0 * d.dt * d.dt; /* stem, time MLP */
    if (c->token_gamma) /* the per-slot embeddings of the noise levels */
        f += (double)d.ng * d.dt * E;
    if (c->num_classes > 0)
        f += (double)c->num_classes * d.Dc;
    if (c->self_cond)
        f += 2.0 * L * D * d.rD;
    for (int i = 0; i < c->num_blocks; i++) {
        /* read: q, k, v, o projections, QK^T and PV; its MLP */
        f += L * D * A + 2.0 * nkv * E * A + 2.0 * L * nkv * A + L * A * D + 2.0 * L * D * d.rD;
        /* process: four D x D projections, QK^T and PV, the MLP */
        f += c->K[i] * (4.0 * L * D * D + 2.0 * L * L * D + 2.0 * L * D * d.rD);
        if (c->K[i] > 0) { /* write (blocks without process layers do not write) */
            f += n * E * A + 2.0 * L * D * A + 2.0 * n * L * A + n * A * E;
            if (c->tape_mlp_ratio > 0)
                f += 2.0 * n * E * d.rE;
        }
    }
    f += n * E * d.P; /* readout */
    return 2.0 * f;
}

/* ---- config text ---------------------------------------------------------------------------- */

rin_status rin_config_parse_text(const char *text, size_t len, const char *name,
                                 rin_config_line_fn fn, void *user, char *err, size_t errlen) {
    /* one line at a time into a growable copy, so no line is ever split or truncated */
    char *line = NULL;
    size_t cap = 0;
    rin_status s = RIN_STATUS_OK;
    int lineno = 0;
    for (size_t pos = 0; pos < len && !s;) {
        size_t end = pos;
        while (end < len && text[end] != '\n')
            end++;
        size_t n = end - pos;
        lineno++;
        if (n + 1 > cap) {
            char *q = realloc(line, n + 1);
            if (!q) {
                s = rin_errorf(err, errlen, RIN_STATUS_NOMEM, "%s:%d: out of memory", name, lineno);
                break;
            }
            line = q;
            cap = n + 1;
        }
        memcpy(line, text + pos, n);
        line[n] = 0;
        pos = end + 1;
        if (memchr(line, 0, n)) {
            s = rin_errorf(err, errlen, RIN_STATUS_CONFIG, "%s:%d: the line holds a NUL byte", name,
                           lineno);
            break;
        }
        char *hash = strchr(line, '#');
        if (hash)
            *hash = 0;
        char *p = line;
        while (*p == ' ' || *p == '\t')
            p++;
        char *e = p + strlen(p);
        while (e > p && (e[-1] == '\r' || e[-1] == ' ' || e[-1] == '\t'))
            *--e = 0;
        if (!*p)
            continue;
        char *eq = strchr(p, '=');
        if (!eq || eq == p) {
            s = rin_errorf(err, errlen, RIN_STATUS_CONFIG,
                           "%s:%d: expected 'key = value', got '%.100s'", name, lineno, p);
            break;
        }
        char *k_end = eq;
        while (k_end > p && (k_end[-1] == ' ' || k_end[-1] == '\t'))
            k_end--;
        *k_end = 0;
        char *v = eq + 1;
        while (*v == ' ' || *v == '\t')
            v++;
        s = fn(user, p, v, lineno);
    }
    free(line);
    return s;
}
