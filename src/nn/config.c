/* config.c -- the model configuration: presets, key=value setting, validation, formatting.
 *
 * Keys use the names of the official code's config (shared/spec/rin.md section 0), so a user
 * who knows config_diffusion_cifar10.py reads them at once. They are also the checkpoint
 * metadata keys (style.md section 9).
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

enum key_kind {
    KEY_INT,
    KEY_BOOL,
    KEY_RATE,
    KEY_LAYERS,
    KEY_SELF_COND,
    KEY_POS_ENC,
    KEY_VIDEO_COND
};

/* tape_pos_encoding values, indexed by rin_config.tape_pos_encoding */
static const char *const pos_encodings[] = {"learned", "sin_cos_plus_learned",
                                            "sin_cos_3d_plus_learned"};
#define NPOS_ENC ((int)(sizeof pos_encodings / sizeof pos_encodings[0]))

/* video_cond values, indexed by rin_config.video_cond */
static const char *const video_conds[] = {"tokens", "channels"};
#define NVIDEO_COND ((int)(sizeof video_conds / sizeof video_conds[0]))

typedef struct config_key {
    const char *name;
    enum key_kind kind;
    size_t offset; /* into rin_config */
    int lo, hi;    /* integer range */
    const char *help;
} config_key;

#define OFF(f) offsetof(rin_config, f)
// clang-format off
static const config_key keys[] = {
    {"image_height",     KEY_INT,       OFF(H),              1, 4096,  "image height H"},
    {"image_width",      KEY_INT,       OFF(W),              1, 4096,  "image width W"},
    {"image_channels",   KEY_INT,       OFF(C),              1, 3,     "channels C (1 or 3)"},
    {"patch_size",       KEY_INT,       OFF(patch),          1, 256,   "patch size p"},
    {"tape_dim",         KEY_INT,       OFF(E),              1, 16384, "interface width E"},
    {"latent_dim",       KEY_INT,       OFF(D),              1, 16384, "latent width D"},
    {"latent_slots",     KEY_INT,       OFF(L),              1, 65536, "latent slots L (incl. time/class tokens)"},
    {"num_layers",       KEY_LAYERS,    OFF(K),              0, 256,   "process depth per block, e.g. 2,2,2"},
    {"latent_num_heads", KEY_INT,       OFF(lat_heads),      1, 1024,  "latent self-attention heads"},
    {"rw_num_heads",     KEY_INT,       OFF(rw_heads),       1, 1024,  "read/write cross-attention heads"},
    {"latent_mlp_ratio", KEY_INT,       OFF(lat_mlp_ratio),  1, 64,    "latent MLP ratio"},
    {"tape_mlp_ratio",   KEY_INT,       OFF(tape_mlp_ratio), 0, 64,    "write MLP ratio (0 = none)"},
    {"drop_units",       KEY_RATE,      OFF(drop_units),     0, 0,     "process-MLP dropout rate"},
    {"drop_path",        KEY_RATE,      OFF(drop_path),      0, 0,     "process-layer drop-path rate"},
    {"num_classes",      KEY_INT,       OFF(num_classes),    0, 100000, "classes (0 = unconditional)"},
    {"time_on_latent",   KEY_BOOL,      OFF(time_on_latent), 0, 1,     "time token on the latents"},
    {"cond_on_latent",   KEY_BOOL,      OFF(cond_on_latent), 0, 1,     "class token on the latents"},
    {"self_cond",        KEY_SELF_COND, OFF(self_cond),      0, 1,     "latent or none"},
    {"seq_len",          KEY_INT,       OFF(seq_len),        0, 4096,  "video: frames per clip (0 = images)"},
    {"seq_stride",       KEY_INT,       OFF(seq_stride),     0, 4096,  "video: frames per token"},
    {"cond_frames",      KEY_INT,       OFF(cond_frames),    0, 4095,  "video: conditioning frames"},
    {"tape_pos_encoding", KEY_POS_ENC,  OFF(tape_pos_encoding), 0, 2,  "learned, sin_cos_plus_learned or sin_cos_3d_plus_learned"},
    {"video_cond",       KEY_VIDEO_COND, OFF(video_cond),    0, 1,     "video: conditioning frames as tokens (spec) or channels (rin's)"},
    {"video_cond_frames", KEY_INT,      OFF(video_cond_frames), 0, 4095, "video: last clean frames stacked as channels (channels mode)"},
    {"token_gamma",      KEY_BOOL,      OFF(token_gamma),    0, 1,     "each interface token gets an embedding of its noise level (rin's)"},
};
// clang-format on
#define NKEYS ((int)(sizeof keys / sizeof keys[0]))

int rin_config_num_keys(void) {
    return NKEYS;
}
const char *rin_config_key(int i) {
    return i >= 0 && i < NKEYS ? keys[i].name : NULL;
}

/* The video keys, tape_pos_encoding, the video_cond keys and token_gamma came after the first
 * checkpoints: a file without them holds an image model with learned positions, or a video model
 * with the spec's conditioning tokens, and no per-token noise level (their value 0). */
int rin_config_key_optional(int i) {
    const char *k = rin_config_key(i);
    return k && (!strcmp(k, "seq_len") || !strcmp(k, "seq_stride") || !strcmp(k, "cond_frames") ||
                 !strcmp(k, "tape_pos_encoding") || !strcmp(k, "video_cond") ||
                 !strcmp(k, "video_cond_frames") || !strcmp(k, "token_gamma"));
}

static void base_defaults(rin_config *c) {
    memset(c, 0, sizeof *c);
    c->time_on_latent = 1;
    c->cond_on_latent = 1;
    c->self_cond = 1;
}

static const char *const preset_names[] = {"cifar10", "imagenet64", "fmnist",
                                           "tiny",    "video",      NULL};
const char *const *rin_config_preset_names(void) {
    return preset_names;
}

static void set_layers(rin_config *c, int S, const int *K) {
    c->num_blocks = S;
    for (int i = 0; i < S; i++)
        c->K[i] = K[i];
}

rin_status rin_config_preset(rin_config *c, const char *name, char *err, size_t errlen) {
    base_defaults(c);
    /* the presets are tables: one designated initialiser each, packed */
    // clang-format off
    if (!strcmp(name, "cifar10")) {
        /* the released CIFAR-10 sweep (spec 5.1): 30,951,180 parameters */
        *c = (rin_config){.H = 32, .W = 32, .C = 3, .patch = 2, .E = 256, .D = 512, .L = 128,
                          .lat_heads = 16, .rw_heads = 8, .lat_mlp_ratio = 4,
                          .tape_mlp_ratio = 2, .drop_units = 0.1f, .drop_path = 0.1f,
                          .num_classes = 10, .time_on_latent = 1, .cond_on_latent = 1,
                          .self_cond = 1};
        set_layers(c, 3, (const int[]){2, 2, 2});
    } else if (!strcmp(name, "imagenet64")) {
        /* the released ImageNet 64x64 sweep (spec 5.1): 157,780,160 parameters */
        *c = (rin_config){.H = 64, .W = 64, .C = 3, .patch = 8, .E = 512, .D = 768, .L = 128,
                          .lat_heads = 16, .rw_heads = 16, .lat_mlp_ratio = 4,
                          .tape_mlp_ratio = 4, .num_classes = 1000, .time_on_latent = 1,
                          .cond_on_latent = 1, .self_cond = 1};
        set_layers(c, 4, (const int[]){4, 4, 4, 4});
    } else if (!strcmp(name, "fmnist")) {
        /* Fashion-MNIST sized for 2 CPU cores: 1.35 M parameters, 4x4 patches (49 interface
         * tokens), 32 latents; about 165 img/s per train step on 2 idle cores (measured
         * 2026-11-29), so 4 epochs take about 25 minutes and give recognisable (blocky)
         * garments (docs/training.md) */
        *c = (rin_config){.H = 28, .W = 28, .C = 1, .patch = 4, .E = 64, .D = 128, .L = 32,
                          .lat_heads = 4, .rw_heads = 4, .lat_mlp_ratio = 4,
                          .tape_mlp_ratio = 2, .num_classes = 10, .time_on_latent = 1,
                          .cond_on_latent = 1, .self_cond = 1};
        set_layers(c, 2, (const int[]){2, 2});
    } else if (!strcmp(name, "tiny")) {
        /* for tests: every part present, a few thousand parameters */
        *c = (rin_config){.H = 8, .W = 8, .C = 3, .patch = 4, .E = 32, .D = 32, .L = 8,
                          .lat_heads = 4, .rw_heads = 2, .lat_mlp_ratio = 2,
                          .tape_mlp_ratio = 1, .num_classes = 10, .time_on_latent = 1,
                          .cond_on_latent = 1, .self_cond = 1};
        set_layers(c, 2, (const int[]){1, 1});
    } else if (!strcmp(name, "video")) {
        /* Moving Fashion-MNIST prediction sized for 2 CPU cores (docs/video.md): 16 frames of
         * 32x32 greyscale, the first 5 clean. 1x8x8 patches give 11 + 5 time slots of 4x4
         * tokens = 256 interface tokens: 2x8x8 ones (the spec's s = 2) pack 128 pixels into a
         * 128-wide token, and the model then denoises the second frame of each token about 30%
         * worse than the first and trains about 3x slower for the same loss. Fixed sin/cos
         * positions with each slot's frame time (sin_cos_3d_plus_learned): with learned ones
         * (std 0.02 under LAMB's trust ratio) the model barely reads its conditioning frames,
         * and with the 2-D codes alone its latents read them less and its samples score a
         * lower SSIM (0.145 vs 0.159, best of 4, 20,000 steps). All measured in
         * docs/quality.md. */
        *c = (rin_config){.H = 32, .W = 32, .C = 1, .patch = 8, .E = 128, .D = 128, .L = 32,
                          .lat_heads = 4, .rw_heads = 4, .lat_mlp_ratio = 4,
                          .tape_mlp_ratio = 2, .num_classes = 0, .time_on_latent = 1,
                          .cond_on_latent = 1, .self_cond = 1, .seq_len = 16, .seq_stride = 1,
                          .cond_frames = 5, .tape_pos_encoding = 2};
        set_layers(c, 2, (const int[]){2, 2});
        // clang-format on
    } else {
        return rin_errorf(err, errlen, RIN_STATUS_CONFIG,
                          "unknown preset '%s' (known: cifar10, imagenet64, fmnist, tiny, video)",
                          name);
    }
    return RIN_STATUS_OK;
}

static rin_status parse_int(const char *key, const char *v, long lo, long hi, int *out, char *err,
                            size_t errlen) {
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (errno || end == v || *end)
        return rin_errorf(err, errlen, RIN_STATUS_CONFIG, "%s: '%s' is not an integer", key, v);
    if (x < lo || x > hi)
        return rin_errorf(err, errlen, RIN_STATUS_CONFIG, "%s: %ld is out of range [%ld, %ld]", key,
                          x, lo, hi);
    *out = (int)x;
    return RIN_STATUS_OK;
}

rin_status rin_config_set(rin_config *c, const char *key, const char *value, char *err,
                          size_t errlen) {
    for (int i = 0; i < NKEYS; i++) {
        const config_key *k = &keys[i];
        if (strcmp(k->name, key))
            continue;
        void *field = (char *)c + k->offset;
        switch (k->kind) {
        case KEY_INT: return parse_int(key, value, k->lo, k->hi, (int *)field, err, errlen);
        case KEY_BOOL:
            if (!rin_parse_bool(value, (int *)field))
                return rin_errorf(err, errlen, RIN_STATUS_CONFIG,
                                  "%s: '%s' is not a boolean (expected 1, 0, true or false)", key,
                                  value);
            return RIN_STATUS_OK;
        case KEY_RATE: {
            char *end;
            errno = 0;
            double x = strtod(value, &end);
            if (errno || end == value || *end)
                return rin_errorf(err, errlen, RIN_STATUS_CONFIG, "%s: '%s' is not a number", key,
                                  value);
            if (!(x >= 0.0 && x < 1.0))
                return rin_errorf(err, errlen, RIN_STATUS_CONFIG, "%s: %s is out of range [0, 1)",
                                  key, value);
            *(float *)field = (float)x;
            return RIN_STATUS_OK;
        }
        case KEY_SELF_COND:
            if (!strcmp(value, "latent") || !strcmp(value, "1"))
                c->self_cond = 1;
            else if (!strcmp(value, "none") || !strcmp(value, "0"))
                c->self_cond = 0;
            else
                return rin_errorf(err, errlen, RIN_STATUS_CONFIG,
                                  "self_cond: '%s' is not supported (expected latent or none)",
                                  value);
            return RIN_STATUS_OK;
        case KEY_POS_ENC:
            for (int e = 0; e < NPOS_ENC; e++)
                if (!strcmp(value, pos_encodings[e])) {
                    *(int *)field = e;
                    return RIN_STATUS_OK;
                }
            return rin_errorf(err, errlen, RIN_STATUS_CONFIG,
                              "%s: '%s' is not supported (expected learned, "
                              "sin_cos_plus_learned or sin_cos_3d_plus_learned)",
                              key, value);
        case KEY_VIDEO_COND:
            /* k follows the mode: 'channels' takes 1 unless video_cond_frames was set before,
             * 'tokens' has no k (so a checkpoint's or a file's keys apply in table order) */
            if (!strcmp(value, "tokens")) {
                c->video_cond = 0;
                c->video_cond_frames = 0;
            } else if (!strcmp(value, "channels")) {
                c->video_cond = 1;
                if (c->video_cond_frames == 0)
                    c->video_cond_frames = 1;
            } else {
                return rin_errorf(err, errlen, RIN_STATUS_CONFIG,
                                  "%s: '%s' is not supported (expected tokens or channels)", key,
                                  value);
            }
            return RIN_STATUS_OK;
        case KEY_LAYERS: {
            int K[RIN_MAX_BLOCKS], S = 0;
            const char *p = value;
            while (1) {
                char tok[32];
                size_t len = strcspn(p, ",");
                if (len == 0 || len >= sizeof tok)
                    return rin_errorf(err, errlen, RIN_STATUS_CONFIG,
                                      "num_layers: '%s' is not a comma-separated list of depths "
                                      "such as 2,2,2",
                                      value);
                if (S == RIN_MAX_BLOCKS)
                    return rin_errorf(err, errlen, RIN_STATUS_CONFIG,
                                      "num_layers: more than %d blocks", RIN_MAX_BLOCKS);
                memcpy(tok, p, len);
                tok[len] = 0;
                rin_status s = parse_int(key, tok, k->lo, k->hi, &K[S], err, errlen);
                if (s)
                    return s;
                S++;
                if (!p[len])
                    break;
                p += len + 1;
            }
            set_layers(c, S, K);
            return RIN_STATUS_OK;
        }
        }
    }
    return rin_errorf(err, errlen, RIN_STATUS_CONFIG, "unknown config key '%s'", key);
}

int rin_config_get(const rin_config *c, int i, char *buf, size_t buflen) {
    if (i < 0 || i >= NKEYS)
        return -1;
    const config_key *k = &keys[i];
    const void *field = (const char *)c + k->offset;
    switch (k->kind) {
    case KEY_INT:
    case KEY_BOOL: return snprintf(buf, buflen, "%d", *(const int *)field);
    case KEY_RATE: return rin_format_float(buf, buflen, *(const float *)field);
    case KEY_SELF_COND: return snprintf(buf, buflen, "%s", c->self_cond ? "latent" : "none");
    case KEY_POS_ENC: {
        int e = *(const int *)field;
        return snprintf(buf, buflen, "%s", e >= 0 && e < NPOS_ENC ? pos_encodings[e] : "?");
    }
    case KEY_VIDEO_COND: {
        int e = *(const int *)field;
        return snprintf(buf, buflen, "%s", e >= 0 && e < NVIDEO_COND ? video_conds[e] : "?");
    }
    case KEY_LAYERS: {
        int w = 0;
        buf[0] = 0;
        for (int b = 0; b < c->num_blocks; b++) {
            int r = snprintf(buf + w, buflen > (size_t)w ? buflen - (size_t)w : 0, "%s%d",
                             b ? "," : "", c->K[b]);
            if (r < 0)
                return r;
            w += r;
        }
        return w;
    }
    }
    return -1;
}

int rin_config_format(const rin_config *c, char *buf, size_t buflen) {
    size_t w = 0;
    for (int i = 0; i < NKEYS; i++) {
        char v[256];
        rin_config_get(c, i, v, sizeof v);
        int r = snprintf(buf + w, buflen > w ? buflen - w : 0, "%s=%s\n", keys[i].name, v);
        if (r < 0)
            return r;
        w += (size_t)r;
    }
    return (int)w;
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
    /* video_cond = channels: each pixel of a noisy patch also carries k clean frames' C */
    d->Pin = c->seq_len > 0 && c->video_cond ? d->P * (1 + c->video_cond_frames) : d->P;
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
    for (int i = 0; i < NKEYS; i++) {
        const config_key *k = &keys[i];
        const void *f = (const char *)c + k->offset;
        if (k->kind == KEY_INT || k->kind == KEY_BOOL || k->kind == KEY_POS_ENC ||
            k->kind == KEY_VIDEO_COND) {
            int v = *(const int *)f;
            if (v < k->lo || v > k->hi)
                return rin_errorf(err, errlen, RIN_STATUS_CONFIG, "%s: %d is out of range [%d, %d]",
                                  k->name, v, k->lo, k->hi);
        } else if (k->kind == KEY_RATE) {
            float v = *(const float *)f;
            if (!(v >= 0.0f && v < 1.0f))
                return rin_errorf(err, errlen, RIN_STATUS_CONFIG, "%s: %g is out of range [0, 1)",
                                  k->name, (double)v);
        }
    }
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
