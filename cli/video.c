/* video.c -- the video side of the command line (docs/video.md): clip sources for `rin train`,
 * future-frame prediction from conditioning frames, the PNG strip and the animated GIF of
 * `rin sample`, and the per-frame metrics of `rin eval` against the copy-last-frame baseline.
 *
 *   rin train  --preset video --data mmnist --run runs/video
 *   rin sample --model runs/video/model.safetensors --n 4 --strip strip.png --gif clip.gif
 *   rin eval   --model runs/video/model.safetensors --data mmnist:fmnist:test --n 100 --k 4
 */
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "imageio.h"
#include "internal.h"
#include "video.h"

rin_video_source *video_open_for(const rin_config *c, const char *data, uint64_t seed) {
    char src[600], err[1024];
    /* an image dataset source means moving items of that dataset */
    if (!strncmp(data, "mmnist", 6) || !strncmp(data, "clips:", 6))
        snprintf(src, sizeof src, "%s", data);
    else
        snprintf(src, sizeof src, "mmnist:%s", data);
    rin_video_source *v;
    if (rin_video_open(&v, src, c->seq_len, c->H, c->W, c->C, seed, err, sizeof err))
        die("%s", err);
    return v;
}

int video_model_file(const char *path) {
    rin_st_file *f;
    char err[1024];
    if (!path || rin_st_read(&f, path, err, sizeof err))
        return 0;
    const char *v = rin_st_meta(f, "seq_len");
    int video = v && atoi(v) > 0;
    rin_st_free(f);
    return video;
}

/* The value of --model in argv (either "--model X" or "--model=X"), or NULL. */
static const char *find_model_arg(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--model") && i + 1 < argc)
            return argv[i + 1];
        if (!strncmp(argv[i], "--model=", 8))
            return argv[i] + 8;
    }
    return NULL;
}

int video_args_name_video_model(int argc, char **argv) {
    return video_model_file(find_model_arg(argc, argv));
}

void video_predict(rin_ctx *ctx, const rin_sample_config *sc, const float *cond, int N,
                   int max_batch, float *out) {
    const rin_config *c = &ctx->model->cfg;
    size_t nc = rin_config_cond_floats(c), nx = rin_config_input_floats(c);
    char err[1024];
    for (int i0 = 0; i0 < N; i0 += max_batch) {
        int B = N - i0 < max_batch ? N - i0 : max_batch;
        rin_sample_config s = *sc;
        s.seed = rin_hash64(sc->seed, 0x56494445ull /* "VIDE" */, (uint64_t)i0);
        rin_ctx_set_cond(ctx, cond + (size_t)i0 * nc);
        if (rin_sample(ctx, &s, B, NULL, out + (size_t)i0 * nx, NULL, NULL, err, sizeof err))
            die("sampling: %s", err);
    }
}

/* Whole clips (N, T, H, W, C) from conditioning frames and predicted frames. */
static void join_clips(float *clips, const float *cond, const float *pred, int N,
                       const rin_config *c) {
    size_t nc = rin_config_cond_floats(c), nx = rin_config_input_floats(c);
    for (int i = 0; i < N; i++) {
        memcpy(clips + (size_t)i * (nc + nx), cond + (size_t)i * nc, nc * sizeof(float));
        memcpy(clips + (size_t)i * (nc + nx) + nc, pred + (size_t)i * nx, nx * sizeof(float));
    }
}

void video_write_strip(const char *path, const rin_config *c, const float *cond,
                       const float *truth, const float *pred, int N, float b) {
    size_t frame = (size_t)c->H * c->W * c->C, per = (size_t)c->seq_len * frame;
    float *tiles = malloc(2 * (size_t)N * per * sizeof *tiles);
    if (!tiles)
        die("out of memory (strip)");
    for (int i = 0; i < N; i++) {
        join_clips(tiles + (size_t)(2 * i) * per, cond + (size_t)i * rin_config_cond_floats(c),
                   truth + (size_t)i * rin_config_input_floats(c), 1, c);
        join_clips(tiles + (size_t)(2 * i + 1) * per,
                   cond + (size_t)i * rin_config_cond_floats(c),
                   pred + (size_t)i * rin_config_input_floats(c), 1, c);
    }
    char err[1024];
    if (rin_grid_write(path, tiles, 2 * N * c->seq_len, c->H, c->W, c->C, c->seq_len, b, err,
                       sizeof err))
        die("%s", err);
    free(tiles);
}

void video_write_gif(const char *path, const rin_config *c, const float *cond,
                     const float *truth, const float *pred, int N, float b) {
    int T = c->seq_len, Nc = c->cond_frames;
    size_t frame = (size_t)c->H * c->W * c->C;
    float *tiles = malloc(2 * (size_t)N * frame * sizeof *tiles);
    uint8_t *frames = NULL;
    int GH = 0, GW = 0;
    char err[1024];
    if (!tiles)
        die("out of memory (gif)");
    for (int t = 0; t < T; t++) {
        for (int i = 0; i < N; i++)
            for (int k = 0; k < 2; k++) {
                const float *src =
                    t < Nc ? cond + ((size_t)i * Nc + t) * frame
                           : (k ? pred : truth) + ((size_t)i * (T - Nc) + t - Nc) * frame;
                memcpy(tiles + (size_t)(2 * i + k) * frame, src, frame * sizeof(float));
            }
        uint8_t *g;
        if (rin_grid_make(&g, &GH, &GW, tiles, 2 * N, c->H, c->W, c->C, 2, 1, b))
            die("out of memory (gif)");
        if (!frames && !(frames = malloc((size_t)T * GH * GW * c->C)))
            die("out of memory (gif)");
        memcpy(frames + (size_t)t * GH * GW * c->C, g, (size_t)GH * GW * c->C);
        free(g);
    }
    if (rin_gif_write(path, frames, T, GH, GW, c->C, 20, err, sizeof err))
        die("%s", err);
    free(tiles);
    free(frames);
}

void video_preview(const char *path, rin_ctx *ctx, const rin_video_source *src,
                   const rin_sample_config *sc, int N, float b) {
    const rin_config *c = &ctx->model->cfg;
    float *cond = malloc((size_t)N * rin_config_cond_floats(c) * sizeof *cond + 4);
    float *truth = malloc((size_t)N * rin_config_input_floats(c) * sizeof *truth);
    float *pred = malloc((size_t)N * rin_config_input_floats(c) * sizeof *pred);
    if (!cond || !truth || !pred)
        die("out of memory (preview)");
    /* negative clip indices: never a training clip of the generator */
    rin_video_batch(src, -(long)N, N, c->cond_frames, b, cond, truth);
    video_predict(ctx, sc, cond, N, N, pred);
    video_write_strip(path, c, cond, truth, pred, N, b);
    free(cond), free(truth), free(pred);
}
