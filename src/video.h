/* video.h -- clips for video prediction (shared/spec/rin.md section 6, evaluation.md section 6):
 * the Moving-MNIST-style generator, stored clips, GIF and strip output, and per-frame metrics.
 *
 * Sources (the `data` setting of a video run):
 *   "mmnist" / "mmnist:ITEMS"   two items bouncing in the frame (evaluation.md 6.2), generated on
 *                              the fly; ITEMS is any rin_dataset_load source of greyscale items,
 *                              default "fmnist" (Debian's Fashion-MNIST training split); use
 *                              "mmnist:fmnist:test" for test clips, "mmnist:idx:FILE" for MNIST;
 *   "clips:FILE"               a safetensors file holding one uint8 tensor (N, T', H, W, C) with
 *                              T' >= T (the tensor named "clips" when there are several); the
 *                              first T frames of each clip are used.
 * Clip i of a source is a pure function of (source, seed, i), so training batches are indexed by
 * step and a resumed run continues exactly; test sets are clips 0..N-1 of a fixed seed.
 */
#ifndef RIN_VIDEO_H
#define RIN_VIDEO_H

#include <stddef.h>
#include <stdint.h>

#include "data.h"
#include "internal.h"

/* The standard recipe: 64x64 frames, 28x28 items, 2 items, 20 frames, step 0.1. */
#define RIN_MMNIST_FRAME  64
#define RIN_MMNIST_ITEM   28
#define RIN_MMNIST_ITEMS  2
#define RIN_MMNIST_FRAMES 20
#define RIN_MMNIST_STEP   0.1

typedef struct rin_video_source {
    int T, H, W, C; /* clip shape */
    uint64_t seed;
    /* moving items */
    rin_dataset *items; /* source items (n, h, w, 1) */
    uint8_t *scaled;    /* items resized to (n, item, item) */
    int item;           /* item size in the frame: 28 * min(H, W) / 64 */
    /* stored clips */
    rin_st_file *file;
    const uint8_t *clips; /* (n, Tf, H, W, C) */
    long n;               /* clips in the file (0 for the generator) */
    int Tf;               /* frames per stored clip */
    char name[512];
} rin_video_source;

/* Opens `source` for clips of T frames of H x W x C. C may be 1 or 3 (grey items are copied to
 * every channel). Errors name the source and the problem. */
rin_status rin_video_open(rin_video_source **out, const char *source, int T, int H, int W, int C,
                          uint64_t seed, char *err, size_t errlen);
void rin_video_free(rin_video_source *v);

/* Clip `index` as bytes (T, H, W, C). The generator draws from rin_rng seeded with
 * rin_hash64(seed, "MMNI", index): for each item its index, then y, x, theta; stored clips are
 * taken in order, clip index mod n. */
void rin_video_clip(const rin_video_source *v, long index, uint8_t *clip);

/* Clips index0 .. index0+B-1 as floats (2u/255 - 1) b, split into the first Nc frames
 * cond (B, Nc, H, W, C) and the rest x0 (B, T - Nc, H, W, C). cond may be NULL when Nc = 0. */
void rin_video_batch(const rin_video_source *v, long index0, int B, int Nc, float b, float *cond,
                     float *x0);

/* One item's trajectory by the recipe (evaluation.md 6.2): y, x ~ U[0,1), theta ~ U[0, 2 pi)
 * drawn from rng in that order; each frame moves by step (cos theta, sin theta) and then
 * reflects at 0 and 1; ys, xs (T) receive the positions after each frame's move. The top-left
 * pixel of frame f is (int)(canvas * ys[f]), (int)(canvas * xs[f]). */
void rin_moving_trajectory(rin_rng *rng, int T, double step, double *ys, double *xs);

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

#endif /* RIN_VIDEO_H */
