/* video.h -- clips for video prediction (shared/spec/rin.md section 6, evaluation.md section 6):
 * the Moving-MNIST-style generator, stored clips, the GIF encoder, and per-frame metrics. The
 * strips and the truth-beside-prediction GIFs people look at are composed by the program
 * (cli/video.c).
 *
 * Sources (the `data` setting of a video run):
 *   "mmnist" / "mmnist:ITEMS"   two items bouncing in the frame (evaluation.md 6.2), generated on
 *                              the fly; ITEMS is any rin_dataset_load source of greyscale items,
 *                              default "fmnist" (Debian's Fashion-MNIST training split); use
 *                              "mmnist:fmnist:test" for test clips, "mmnist:idx:FILE" for MNIST;
 *   "mmnist,OPT=V,...[:ITEMS]"  the generator with rin's own options (docs/video.md):
 *                              items=N (1..4, default 2), size=S (item side in pixels, default
 *                              28 per 64 of the frame), speed=A or speed=A-B (pixels per frame,
 *                              drawn uniformly per clip; default: the recipe's 0.1 of the free
 *                              canvas). "mmnist,items=1,speed=1-3" is issue 20's one-item task,
 *                              "mmnist,speed=0" the static copy probe;
 *   "clips:FILE"               a safetensors file holding one uint8 tensor (N, T', H, W, C) with
 *                              T' >= T (the tensor named "clips" when there are several); the
 *                              first T frames of each clip are used.
 * Clip i of a source is a pure function of (source, seed, i), so training batches are indexed by
 * step and a resumed run continues exactly; test sets are clips 0..N-1 of a fixed seed. T is the
 * clip length asked for, not a property of the clips: a source opened with a longer T (the
 * ground truth of a roll-out, rin_video_rollout) gives the same clips, longer. Clip i of T' > T
 * frames begins with clip i of T frames, for the generator too.
 */
#ifndef RIN_VIDEO_H
#define RIN_VIDEO_H

#include <stddef.h>
#include <stdint.h>

#include "data.h"
#include "rng.h"
#include "safetensors.h"
#include "util.h"

/* The standard recipe: 64x64 frames, 28x28 items, 2 items, 20 frames, step 0.1. */
#define RIN_MMNIST_FRAME     64
#define RIN_MMNIST_ITEM      28
#define RIN_MMNIST_ITEMS     2
#define RIN_MMNIST_ITEMS_MAX 4 /* items= */
#define RIN_MMNIST_FRAMES    20
#define RIN_MMNIST_STEP      0.1
/* The longest clip a source gives (the generator's trajectories live on the stack). */
#define RIN_VIDEO_MAX_FRAMES 4096

typedef struct rin_video_source {
    int T, H, W, C; /* clip shape */
    uint64_t seed;
    /* moving items */
    rin_dataset *items;        /* source items (n, h, w, 1) */
    uint8_t *scaled;           /* items resized to (n, item, item) */
    int item;                  /* item size in the frame: 28 * min(H, W) / 64 unless size= */
    int n_items;               /* items per clip: RIN_MMNIST_ITEMS unless items= */
    double speed_lo, speed_hi; /* speed= in pixels per frame; speed_lo < 0: the recipe's step */
    /* stored clips */
    rin_st_file *file;
    const uint8_t *clips; /* (n, Tf, H, W, C) */
    long n;               /* clips in the file (0 for the generator) */
    int Tf;               /* frames per stored clip */
    char name[512];
} rin_video_source;

/* Opens `source` for clips of T frames of H x W x C, 1 <= T <= RIN_VIDEO_MAX_FRAMES. C may be 1
 * or 3 (grey items are copied to every channel). Errors name the source and the problem; stored
 * clips shorter than T name the file, its frame count and T. */
rin_status rin_video_open(rin_video_source **out, const char *source, int T, int H, int W, int C,
                          uint64_t seed, char *err, size_t errlen);
void rin_video_free(rin_video_source *v);

/* Clip `index` as bytes (T, H, W, C). The generator draws from rin_rng seeded with
 * rin_hash64(seed, "MMNI", index): for each item its index, then (with speed= only) its speed
 * u in [A, B) as A + (B - A) U, then y, x, theta, and nothing per frame, so the draws do not
 * depend on T and a longer clip only continues the motion; stored clips are taken in order,
 * clip index mod n. */
void rin_video_clip(const rin_video_source *v, long index, uint8_t *clip);

/* Clips index0 .. index0+B-1 as floats (2u/255 - 1) b, split into the first Nc frames
 * cond (B, Nc, H, W, C) and the rest x0 (B, T - Nc, H, W, C). cond may be NULL when Nc = 0. */
void rin_video_batch(const rin_video_source *v, long index0, int B, int Nc, float b, float *cond,
                     float *x0);

/* One item's trajectory by the recipe (evaluation.md 6.2): y, x ~ U[0,1), theta ~ U[0, 2 pi)
 * drawn from rng in that order; each frame moves by (step_y sin theta, step_x cos theta) and
 * then reflects at 0 and 1; ys, xs (T) receive the positions after each frame's move. The
 * top-left pixel of frame f is (int)(canvas_y * ys[f]), (int)(canvas_x * xs[f]). The recipe
 * has step_y = step_x = 0.1; speed= gives u / canvas_y and u / canvas_x, u pixels a frame. */
void rin_moving_trajectory(rin_rng *rng, int T, double step_y, double step_x, double *ys,
                           double *xs);

/* ---- prediction and roll-out (docs/video.md) ----------------------------------------------------
 */

/* The b = T - Nc frames after each of N clips' conditioning frames cond (N, Nc, H, W, C), in
 * [-b_scale, b_scale], into out (N, b, H, W, C): rin_sample in chunks of max_batch clips (at most
 * the ctx's max_batch), the chunk starting at clip i0 with its noise seeded
 * rin_hash64(sc->seed, "VIDE", i0). cond may be NULL when Nc = 0. The ctx's conditioning
 * pointer is left at the last chunk's. */
rin_status rin_video_predict(rin_ctx *ctx, const rin_sample_config *sc, const float *cond, int N,
                             int max_batch, float *out, char *err, size_t errlen);

/* The noise seed of roll-out round r: sc->seed itself for round 0 (so a roll-out of b frames is
 * rin_video_predict bit for bit), rin_hash64(seed, "ROLL", r) after. */
uint64_t rin_video_round_seed(uint64_t seed, int r);

/* Roll-out to F >= 1 predicted frames per clip, any F: round r = 0, 1, ... conditions on the
 * last Nc frames of [cond ; the r b frames predicted so far] and predicts b more with
 * rin_video_predict at seed rin_video_round_seed(sc->seed, r); the last round's surplus frames
 * are dropped. ceil(F / b) rounds; out (N, F, H, W, C). Allocates its round buffers. */
rin_status rin_video_rollout(rin_ctx *ctx, const rin_sample_config *sc, const float *cond, int N,
                             int max_batch, int F, float *out, char *err, size_t errlen);

/* ---- output -----------------------------------------------------------------------------------
 */

/* An animated GIF (looping, delay in 1/100 s) of F greyscale or RGB frames (F, H, W, C) bytes;
 * RGB is converted to grey. Written atomically. */
rin_status rin_gif_write(const char *path, const uint8_t *frames, int F, int H, int W, int C,
                         int delay_cs, char *err, size_t errlen);

/* ---- metrics (evaluation.md 6.3) ---------------------------------------------------------------
 */

/* Per-frame errors of a predicted clip part against the truth, both (F, H, W, C) in [0, 1]:
 * sse[f] = sum of squared errors over the frame (the ConvLSTM/PredRNN "per-frame MSE"),
 * psnr[f] with MAX = 1, ssim[f] (rin_ssim, L = 1). */
void rin_video_frame_metrics(const float *pred, const float *truth, int F, int H, int W, int C,
                             double *sse, double *psnr, double *ssim);

/* The distance in pixels between the intensity centroids (centres of mass, pixel centres at
 * integer coordinates, channels averaged) of pred's and truth's frames, both (F, H, W, C) in
 * [0, 1], into err (F): issue 20's localisation error for one-item clips. NaN for a frame
 * whose prediction or truth is all zero (an all-black frame has no centre). */
void rin_video_com_error(const float *pred, const float *truth, int F, int H, int W, int C,
                         double *err);

#endif /* RIN_VIDEO_H */
