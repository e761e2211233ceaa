/* test_video.c -- clips for video prediction (src/data/video.c):
 *   - the moving-items generator: deterministic by (seed, index), items stay in the frame and
 *     are drawn where the documented trajectory puts them, bounces reverse the direction; a
 *     longer clip (a roll-out's ground truth) begins with the shorter one; its options (items,
 *     size, speed in pixels, speed=0 static) and their messages;
 *   - the centre-of-mass error of one-item predictions;
 *   - stored clips (uint8 safetensors N x T x H x W x C) and their rejection messages;
 *   - prediction and roll-out: one round is the CLI's former prediction loop bit for bit, three
 *     rounds condition each round on the last frames of the one before;
 *   - batches split into conditioning and predicted frames, scaled as the image batcher does;
 *   - per-frame MSE/PSNR/SSIM: identical clips and a hand-computed pair;
 *   - the animated GIF read back with giflib;
 *   - the 3-D patch permutation: placement, padding, inverse and adjoints;
 *   - the video config keys;
 *   - video_cond = channels: the stacked patches (placement, padding, adjoint) and its keys.
 */
#include <gif_lib.h>
#include <stdlib.h>
#include <string.h>

#include "gradcheck.h"
#include "internal.h"
#include "test.h"
#include "video.h"
#include "ops.h"

/* An uncompressed IDX image file of n solid white h x w items. */
static int write_white_items(const char *path, int n, int h, int w) {
    size_t bytes = 16 + (size_t)n * h * w;
    uint8_t *b = malloc(bytes);
    uint32_t head[4] = {0x803, (uint32_t)n, (uint32_t)h, (uint32_t)w};
    for (int i = 0; i < 4; i++)
        for (int k = 0; k < 4; k++)
            b[4 * i + k] = (uint8_t)(head[i] >> (24 - 8 * k));
    memset(b + 16, 255, bytes - 16);
    int ok = test_write_bytes(path, b, bytes);
    free(b);
    return ok;
}

/* An IDX file of n h x w items that differ from each other and have no symmetry: item i's
 * pixel (y, x) is (37 i + 11 y + 3 x y) mod 256. */
static int write_patterned_items(const char *path, int n, int h, int w) {
    size_t bytes = 16 + (size_t)n * h * w;
    uint8_t *b = malloc(bytes);
    uint32_t head[4] = {0x803, (uint32_t)n, (uint32_t)h, (uint32_t)w};
    for (int i = 0; i < 4; i++)
        for (int k = 0; k < 4; k++)
            b[4 * i + k] = (uint8_t)(head[i] >> (24 - 8 * k));
    for (int i = 0; i < n; i++)
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
                b[16 + ((size_t)i * h + y) * w + x] =
                    (uint8_t)((37 * i + 11 * y + 3 * x * y) % 256);
    int ok = test_write_bytes(path, b, bytes);
    free(b);
    return ok;
}

static rin_video_source *open_items(const test_dir *td, int T, int H, int W, uint64_t seed) {
    char path[300], src[400], err[512];
    test_dir_file(path, sizeof path, td, "items-idx3-ubyte");
    if (!write_white_items(path, 3, 8, 8))
        return NULL;
    snprintf(src, sizeof src, "mmnist:idx:%s", path);
    rin_video_source *v = NULL;
    if (rin_video_open(&v, src, T, H, W, 1, seed, err, sizeof err)) {
        test_fail(__FILE__, __LINE__, "%s", err);
        return NULL;
    }
    return v;
}

TEST(video_generator_deterministic) {
    test_dir td = test_dir_make("video");
    if (!td.ok)
        return;
    int T = 20, H = 64, W = 64;
    size_t per = (size_t)T * H * W;
    rin_video_source *a = open_items(&td, T, H, W, 7), *b = open_items(&td, T, H, W, 7);
    rin_video_source *c = open_items(&td, T, H, W, 8);
    uint8_t *x = malloc(per), *y = malloc(per);
    if (a && b && c) {
        CHECK(a->item == 28); /* the standard recipe at 64x64 */
        rin_video_clip(a, 5, x);
        rin_video_clip(b, 5, y);
        CHECK(!memcmp(x, y, per));
        rin_video_clip(b, 6, y);
        CHECK(memcmp(x, y, per) != 0);
        rin_video_clip(c, 5, y);
        CHECK(memcmp(x, y, per) != 0);
        rin_video_clip(a, 5, y); /* no hidden state */
        CHECK(!memcmp(x, y, per));
    }
    free(x), free(y);
    rin_video_free(a), rin_video_free(b), rin_video_free(c);
    test_dir_remove(&td);
}

TEST(video_generator_longer_clips) {
    /* A roll-out's ground truth: clip i of T' frames begins with clip i of T frames (same seed,
     * any index, negative ones too), and its later frames continue the motion. */
    test_dir td = test_dir_make("video");
    if (!td.ok)
        return;
    char path[300], src[400], err[512];
    test_dir_file(path, sizeof path, &td, "items-idx3-ubyte");
    CHECK(write_patterned_items(path, 7, 28, 28));
    snprintf(src, sizeof src, "mmnist:idx:%s", path);
    int T = 16, Tl = 5 + 3 * 11 + 1, H = 32, W = 32;
    size_t fr = (size_t)H * W;
    rin_video_source *v[3] = {NULL, NULL, NULL};
    int Ts[3] = {T, Tl, Tl + 7};
    for (int j = 0; j < 3; j++)
        CHECK(rin_video_open(&v[j], src, Ts[j], H, W, 1, 4, err, sizeof err) == RIN_STATUS_OK);
    uint8_t *a = malloc((Tl + 7) * fr), *b = malloc((Tl + 7) * fr), *c = malloc((Tl + 7) * fr);
    int prefix_bad = 0, still = 0, empty = 0;
    long idx[] = {0, 1, 5, 123456, -1, -3};
    for (size_t q = 0; v[0] && v[1] && v[2] && q < sizeof idx / sizeof idx[0]; q++) {
        rin_video_clip(v[0], idx[q], a);
        rin_video_clip(v[1], idx[q], b);
        rin_video_clip(v[2], idx[q], c);
        prefix_bad += memcmp(a, b, T * fr) != 0;
        prefix_bad += memcmp(b, c, Tl * fr) != 0;
        /* the frames past T move and are not blank */
        for (int f = T; f < Tl; f++) {
            still += !memcmp(b + (size_t)f * fr, b + (size_t)(f - 1) * fr, fr);
            int lit = 0;
            for (size_t k = 0; k < fr; k++)
                lit += b[(size_t)f * fr + k] != 0;
            empty += lit == 0;
        }
    }
    CHECK_MSG(prefix_bad == 0, "%d clips do not begin with the shorter clip", prefix_bad);
    CHECK_MSG(still == 0 && empty == 0, "%d still and %d empty frames past T", still, empty);
    /* batches too: the conditioning frames are the same, the truth continues */
    int Nc = 5, B = 2;
    float *c0 = malloc((size_t)B * Nc * fr * sizeof *c0), *x0 = malloc(B * (T - Nc) * fr * 4);
    float *c1 = malloc((size_t)B * Nc * fr * sizeof *c1), *x1 = malloc(B * (Tl - Nc) * fr * 4);
    if (v[0] && v[1]) {
        rin_video_batch(v[0], 3, B, Nc, 1.0f, c0, x0);
        rin_video_batch(v[1], 3, B, Nc, 1.0f, c1, x1);
        CHECK(!memcmp(c0, c1, (size_t)B * Nc * fr * sizeof *c0));
        for (int i = 0; i < B; i++)
            CHECK(!memcmp(x0 + (size_t)i * (T - Nc) * fr, x1 + (size_t)i * (Tl - Nc) * fr,
                          (size_t)(T - Nc) * fr * sizeof *x0));
    }
    for (int j = 0; j < 3; j++)
        rin_video_free(v[j]);
    /* the limit is named */
    rin_video_source *big = NULL;
    CHECK(rin_video_open(&big, src, RIN_VIDEO_MAX_FRAMES + 1, H, W, 1, 4, err, sizeof err) ==
          RIN_STATUS_ARG);
    CHECK_MSG(strstr(err, "4097 frames") && strstr(err, "at most 4096"), "%s", err);
    free(a), free(b), free(c), free(c0), free(x0), free(c1), free(x1);
    test_dir_remove(&td);
}

TEST(video_generator_items_in_frame) {
    /* solid white items: every frame must be exactly the union of two k x k squares at the
     * positions of the documented draw (item index, then rin_moving_trajectory) */
    test_dir td = test_dir_make("video");
    if (!td.ok)
        return;
    int T = 30, H = 32, W = 32;
    rin_video_source *v = open_items(&td, T, H, W, 3);
    uint8_t *clip = malloc((size_t)T * H * W), *want = malloc((size_t)H * W);
    int k = v ? v->item : 0, bad = 0;
    CHECK(k == 14);
    for (long idx = 0; v && idx < 40; idx++) {
        rin_video_clip(v, idx, clip);
        rin_rng rng;
        rin_rng_seed(&rng, rin_hash64(3, 0x4D4D4E49ull, (uint64_t)idx));
        double ys[2][30], xs[2][30];
        for (int it = 0; it < 2; it++) {
            (void)rin_rng_u64(&rng);
            rin_moving_trajectory(&rng, T, 0.1, 0.1, ys[it], xs[it]);
        }
        for (int f = 0; f < T; f++) {
            memset(want, 0, (size_t)H * W);
            for (int it = 0; it < 2; it++) {
                int top = (int)((H - k) * ys[it][f]), left = (int)((W - k) * xs[it][f]);
                if (top < 0 || left < 0 || top + k > H || left + k > W)
                    bad++;
                for (int i = 0; i < k; i++)
                    for (int j = 0; j < k; j++)
                        want[(top + i) * W + left + j] = 255;
            }
            bad += memcmp(want, clip + (size_t)f * H * W, (size_t)H * W) != 0;
        }
    }
    CHECK_MSG(bad == 0, "%d frames differ from the trajectory or leave the frame", bad);
    free(clip), free(want);
    rin_video_free(v);
    test_dir_remove(&td);
}

TEST(video_generator_options) {
    /* mmnist,items=1,size=S,speed=A-B: one solid white S x S square per frame, at the positions
     * of the documented draw (item index, speed A + (B - A) U, then the trajectory with a step
     * of u / canvas on each axis), moving u pixels a frame between walls; speed=0 never moves */
    test_dir td = test_dir_make("video");
    if (!td.ok)
        return;
    char path[300], src[400], err[512];
    test_dir_file(path, sizeof path, &td, "items-idx3-ubyte");
    CHECK(write_white_items(path, 3, 8, 8));
    int T = 24, H = 32, W = 40, k = 10;
    size_t fr = (size_t)H * W;
    snprintf(src, sizeof src, "mmnist,items=1,size=%d,speed=1-3:idx:%s", k, path);
    rin_video_source *v = NULL;
    CHECK_MSG(rin_video_open(&v, src, T, H, W, 1, 9, err, sizeof err) == RIN_STATUS_OK, "%s", err);
    uint8_t *clip = malloc((size_t)T * fr), *want = malloc(fr);
    int bad = 0, moves = 0;
    double lo = 1e9, hi = 0;
    for (long idx = 0; v && idx < 60; idx++) {
        rin_video_clip(v, idx, clip);
        rin_rng rng;
        rin_rng_seed(&rng, rin_hash64(9, 0x4D4D4E49ull, (uint64_t)idx));
        (void)rin_rng_u64(&rng);
        double u = 1 + 2 * rin_rng_uniform(&rng), ys[24], xs[24];
        lo = u < lo ? u : lo, hi = u > hi ? u : hi;
        rin_moving_trajectory(&rng, T, u / (H - k), u / (W - k), ys, xs);
        for (int f = 0; f < T; f++) {
            int top = (int)((H - k) * ys[f]), left = (int)((W - k) * xs[f]);
            memset(want, 0, fr);
            for (int i = 0; i < k; i++)
                for (int j = 0; j < k; j++)
                    want[(top + i) * W + left + j] = 255;
            bad += memcmp(want, clip + (size_t)f * fr, fr) != 0;
            /* the speed in pixels, on moves that touch no wall */
            if (f > 0 && ys[f] > 0 && ys[f] < 1 && xs[f] > 0 && xs[f] < 1 && ys[f - 1] > 0 &&
                ys[f - 1] < 1 && xs[f - 1] > 0 && xs[f - 1] < 1) {
                double dy = (H - k) * (ys[f] - ys[f - 1]), dx = (W - k) * (xs[f] - xs[f - 1]);
                bad += fabs(hypot(dy, dx) - u) > 1e-9;
                moves++;
            }
        }
    }
    CHECK_MSG(bad == 0, "%d frames or moves differ from the documented draw", bad);
    CHECK(moves > 500 && lo >= 1 && lo < 1.3 && hi <= 3 && hi > 2.7);
    rin_video_free(v);
    /* speed=0: the static copy probe, every frame the first */
    snprintf(src, sizeof src, "mmnist,speed=0:idx:%s", path);
    v = NULL;
    CHECK_MSG(rin_video_open(&v, src, T, H, W, 1, 9, err, sizeof err) == RIN_STATUS_OK, "%s", err);
    int still = 0, lit = 0;
    for (long idx = 0; v && idx < 10; idx++) {
        rin_video_clip(v, idx, clip);
        for (int f = 1; f < T; f++)
            still += !memcmp(clip, clip + (size_t)f * fr, fr);
        for (size_t q = 0; q < fr; q++)
            lit += clip[q] != 0;
    }
    CHECK(still == 10 * (T - 1) && lit > 10 * 14 * 14); /* two 14 x 14 items at 32 x 40 */
    rin_video_free(v);
    /* without options the draws are the recipe's, whatever the other sources do */
    snprintf(src, sizeof src, "mmnist,items=2:idx:%s", path);
    rin_video_source *a = NULL, *b = NULL;
    uint8_t *c2 = malloc((size_t)T * fr);
    CHECK(rin_video_open(&a, src, T, H, W, 1, 9, err, sizeof err) == RIN_STATUS_OK);
    snprintf(src, sizeof src, "mmnist:idx:%s", path);
    CHECK(rin_video_open(&b, src, T, H, W, 1, 9, err, sizeof err) == RIN_STATUS_OK);
    if (a && b) {
        rin_video_clip(a, 3, clip);
        rin_video_clip(b, 3, c2);
        CHECK(!memcmp(clip, c2, (size_t)T * fr));
    }
    rin_video_free(a), rin_video_free(b);
    /* bad options are named */
    const char *bad_src[][2] = {
        {"mmnist,items=0", "items=0: expected a whole number from 1 to 4"},
        {"mmnist,items=5", "items=5"},
        {"mmnist,size=33", "size=33: expected a whole number from 1 to 32"},
        {"mmnist,speed=3-1", "speed=3-1: expected pixels per frame"},
        {"mmnist,speed=fast", "speed=fast"},
        {"mmnist,speed=1-", "speed=1-"},
        {"mmnist,colour=red", "unknown option 'colour'"},
        {"mmnist,items", "option 'items' needs a value"},
        {"mmnistx", "unknown video source 'mmnistx'"},
    };
    for (size_t q = 0; q < sizeof bad_src / sizeof bad_src[0]; q++) {
        rin_video_source *x = NULL;
        rin_status st = rin_video_open(&x, bad_src[q][0], T, H, W, 1, 9, err, sizeof err);
        CHECK_MSG(st == RIN_STATUS_ARG && strstr(err, bad_src[q][1]), "%s: %s", bad_src[q][0], err);
        rin_video_free(x);
    }
    free(clip), free(want), free(c2);
    test_dir_remove(&td);
}

TEST(video_com_error) {
    /* a 3 x 3 square moved by (3, 4) pixels is 5 pixels off; its intensity does not matter; a
     * black frame has no centre */
    int F = 3, H = 12, W = 12;
    size_t fr = (size_t)H * W;
    float *p = calloc(F * fr, sizeof *p), *t = calloc(F * fr, sizeof *t);
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) {
            t[(1 + i) * W + 2 + j] = 1.0f, p[(4 + i) * W + 6 + j] = 0.3f;           /* frame 0 */
            t[fr + (5 + i) * W + 5 + j] = 1.0f, p[fr + (5 + i) * W + 5 + j] = 0.5f; /* frame 1 */
            t[2 * fr + i * W + j] = 1.0f; /* frame 2: the prediction is black */
        }
    double e[3];
    rin_video_com_error(p, t, F, H, W, 1, e);
    CHECK_CLOSE(e[0], 5.0, 1e-12, 0);
    CHECK(e[1] == 0.0);
    CHECK(isnan(e[2]));
    free(p), free(t);
}

TEST(video_trajectory_bounces) {
    /* positions stay in [0, 1]; away from the walls every step moves by exactly 0.1 in the
     * drawn direction; at a wall the coordinate is clamped and its direction reverses */
    int T = 400, bounces = 0, bad = 0;
    double ys[400], xs[400];
    for (uint64_t s = 0; s < 20; s++) {
        rin_rng rng;
        rin_rng_seed(&rng, s);
        rin_moving_trajectory(&rng, T, 0.1, 0.1, ys, xs);
        for (int f = 0; f < T; f++)
            bad += ys[f] < 0 || ys[f] > 1 || xs[f] < 0 || xs[f] > 1;
        for (int axis = 0; axis < 2; axis++) {
            const double *p = axis ? xs : ys;
            for (int f = 2; f < T; f++) {
                double d1 = p[f - 1] - p[f - 2], d2 = p[f] - p[f - 1];
                int wall = p[f - 1] == 0.0 || p[f - 1] == 1.0;
                int at_wall_now = p[f] == 0.0 || p[f] == 1.0;
                if (wall && fabs(d1) > 1e-12) {
                    bounces++;
                    bad += d1 * d2 > 0; /* moved into the wall, must come back out */
                } else if (!wall && !at_wall_now && p[f - 2] != 0.0 && p[f - 2] != 1.0) {
                    bad += fabs(d2 - d1) > 1e-9; /* constant velocity between walls */
                }
            }
        }
        /* speed: sqrt(dx^2 + dy^2) = 0.1 on steps that touch no wall */
        for (int f = 1; f < T; f++) {
            int walls = ys[f] == 0 || ys[f] == 1 || xs[f] == 0 || xs[f] == 1 || ys[f - 1] == 0 ||
                        ys[f - 1] == 1 || xs[f - 1] == 0 || xs[f - 1] == 1;
            double dy = ys[f] - ys[f - 1], dx = xs[f] - xs[f - 1];
            if (!walls)
                bad += fabs(sqrt(dx * dx + dy * dy) - 0.1) > 1e-9;
        }
    }
    printf("  %d bounces in 20 trajectories of %d frames\n", bounces, T);
    CHECK(bounces > 100);
    CHECK_MSG(bad == 0, "%d violations", bad);
}

TEST(video_stored_clips) {
    test_dir td = test_dir_make("video");
    if (!td.ok)
        return;
    int N = 3, T = 6, H = 4, W = 5, C = 1;
    size_t per = (size_t)T * H * W * C;
    uint8_t *data = malloc(N * per);
    for (size_t i = 0; i < N * per; i++)
        data[i] = (uint8_t)(i * 7 + 3);
    char path[300], src[400], err[512];
    test_dir_file(path, sizeof path, &td, "clips.safetensors");
    rin_st_writer *w = rin_st_writer_new();
    int64_t shape[5] = {N, T, H, W, C};
    CHECK(rin_st_writer_add(w, "clips", RIN_DTYPE_U8, 5, shape, data) == RIN_STATUS_OK);
    CHECK(rin_st_writer_save(w, path, err, sizeof err) == RIN_STATUS_OK);
    rin_st_writer_free(w);
    snprintf(src, sizeof src, "clips:%s", path);
    rin_video_source *v = NULL;
    /* the model takes the first 5 of 6 frames */
    CHECK(rin_video_open(&v, src, 5, H, W, C, 0, err, sizeof err) == RIN_STATUS_OK);
    uint8_t clip[120];
    if (v) {
        rin_video_clip(v, 1, clip);
        CHECK(!memcmp(clip, data + per, 5 * (size_t)H * W));
        rin_video_clip(v, 4, clip); /* index mod N */
        CHECK(!memcmp(clip, data + per, 5 * (size_t)H * W));
        /* batches: the first 2 frames are conditioning, values (2u/255 - 1) b */
        float cond[2 * 2 * 20], x0[2 * 3 * 20];
        rin_video_batch(v, 2, 2, 2, 0.5f, cond, x0);
        CHECK_CLOSE(cond[0], (2.0 * data[2 * per] / 255.0 - 1.0) * 0.5, 1e-6, 0);
        CHECK_CLOSE(x0[0], (2.0 * data[2 * per + 2 * 20] / 255.0 - 1.0) * 0.5, 1e-6, 0);
        CHECK_CLOSE(x0[3 * 20], (2.0 * data[0 + 2 * 20] / 255.0 - 1.0) * 0.5, 1e-6, 0);
        CHECK_CLOSE(cond[2 * 20 + 39], (2.0 * data[39] / 255.0 - 1.0) * 0.5, 1e-6, 0);
    }
    rin_video_free(v);
    /* too many frames wanted (a model's clip or a roll-out's ground truth): the message names
     * the file, its frame count and what was needed */
    CHECK(rin_video_open(&v, src, 7, H, W, C, 0, err, sizeof err) == RIN_STATUS_FORMAT);
    CHECK_MSG(strstr(err, path) && strstr(err, "its clips have 6 frames, but 7 are needed") &&
                  strstr(err, "(3, 6, 4, 5, 1)"),
              "%s", err);
    /* exactly the file's length is fine */
    CHECK(rin_video_open(&v, src, 6, H, W, C, 0, err, sizeof err) == RIN_STATUS_OK);
    rin_video_free(v);
    /* a wrong frame size: the message gives both shapes */
    CHECK(rin_video_open(&v, src, 5, 4, 4, C, 0, err, sizeof err) == RIN_STATUS_FORMAT);
    CHECK_MSG(strstr(err, "(3, 6, 4, 5, 1)") && strstr(err, "(N >= 1, T >= 5, 4, 4, 1)"), "%s",
              err);
    CHECK(rin_video_open(&v, "movies:x", 5, 4, 4, C, 0, err, sizeof err) == RIN_STATUS_ARG);
    CHECK(strstr(err, "unknown video source") != NULL);
    free(data);
    test_dir_remove(&td);
}

TEST(video_frame_metrics) {
    int F = 2, H = 16, W = 16;
    size_t fr = (size_t)H * W;
    float *a = malloc(2 * fr * sizeof *a), *b = malloc(2 * fr * sizeof *b);
    test_fill_uniform(a, 2 * fr, 5, 0, 1);
    double sse[2], psnr[2], ssim[2];
    rin_video_frame_metrics(a, a, F, H, W, 1, sse, psnr, ssim);
    CHECK(sse[0] == 0 && sse[1] == 0 && isinf(psnr[0]) && ssim[0] == 1.0 && ssim[1] == 1.0);
    /* constant frames 0.25 vs 0.75: per-frame MSE 256 x 0.25 = 64, PSNR 10 log10(4), and with
     * no variance SSIM = (2 mu_a mu_b + C1) / (mu_a^2 + mu_b^2 + C1) = 0.3751 / 0.6251 */
    for (size_t i = 0; i < fr; i++) {
        a[fr + i] = 0.25f;
        b[fr + i] = 0.75f;
        b[i] = a[i];
    }
    rin_video_frame_metrics(a, b, F, H, W, 1, sse, psnr, ssim);
    CHECK(sse[0] == 0 && ssim[0] == 1.0);
    CHECK_CLOSE(sse[1], 64.0, 1e-12, 0);
    CHECK_CLOSE(psnr[1], 10.0 * log10(4.0), 1e-12, 0);
    CHECK_CLOSE(ssim[1], 0.3751 / 0.6251, 1e-12, 0);
    free(a), free(b);
}

TEST(video_gif_round_trip) {
    test_dir td = test_dir_make("video");
    if (!td.ok)
        return;
    int F = 3, H = 5, W = 7;
    uint8_t frames[3 * 5 * 7];
    for (int i = 0; i < F * H * W; i++)
        frames[i] = (uint8_t)(i * 11);
    char path[300], err[512];
    test_dir_file(path, sizeof path, &td, "a.gif");
    CHECK(rin_gif_write(path, frames, F, H, W, 1, 20, err, sizeof err) == RIN_STATUS_OK);
    int gerr = 0;
    GifFileType *g = DGifOpenFileName(path, &gerr);
    CHECK(g && DGifSlurp(g) == GIF_OK);
    if (g && g->ImageCount == F) {
        CHECK(g->SWidth == W && g->SHeight == H);
        int bad = 0;
        for (int f = 0; f < F; f++) {
            const SavedImage *im = &g->SavedImages[f];
            const ColorMapObject *cm =
                im->ImageDesc.ColorMap ? im->ImageDesc.ColorMap : g->SColorMap;
            GraphicsControlBlock gcb;
            DGifSavedExtensionToGCB(g, f, &gcb);
            bad += gcb.DelayTime != 20;
            for (int i = 0; i < H * W; i++)
                bad += cm->Colors[im->RasterBits[i]].Red != frames[f * H * W + i];
        }
        CHECK_MSG(bad == 0, "%d pixels or delays differ", bad);
    } else {
        CHECK_MSG(0, "expected %d frames", F);
    }
    if (g)
        DGifCloseFile(g, &gerr);
    test_dir_remove(&td);
}

TEST(video_config_keys) {
    rin_config c;
    char err[256];
    CHECK(rin_config_preset(&c, "video", err, sizeof err) == RIN_STATUS_OK);
    CHECK(rin_config_validate(&c, err, sizeof err) == RIN_STATUS_OK);
    /* 11 + 5 time slots (one frame each) of 4x4 tokens; 11 predicted frames of 32x32 */
    CHECK(c.seq_stride == 1 && rin_config_num_tokens(&c) == 256);
    CHECK(rin_config_input_floats(&c) == 11 * 32 * 32 && rin_config_cond_floats(&c) == 5 * 1024);
    /* sin_cos_3d_plus_learned: the recipe that reads its conditioning frames most */
    CHECK(c.tape_pos_encoding == 2);
    rin_config b = c;
    b.cond_frames = 16;
    CHECK(rin_config_validate(&b, err, sizeof err) == RIN_STATUS_CONFIG);
    CHECK_MSG(strstr(err, "cond_frames") != NULL, "%s", err);
    b = c;
    b.seq_stride = 17;
    CHECK(rin_config_validate(&b, err, sizeof err) == RIN_STATUS_CONFIG);
    b = c;
    b.seq_stride = 0;
    CHECK(rin_config_validate(&b, err, sizeof err) == RIN_STATUS_CONFIG);
    b = c;
    b.seq_len = 0; /* an image model with video keys left over */
    CHECK(rin_config_validate(&b, err, sizeof err) == RIN_STATUS_CONFIG);
    CHECK_MSG(strstr(err, "video only") != NULL, "%s", err);
    /* the spec's s = 2: the 11 and 5 frames are padded to 6 + 3 slots */
    b = c;
    b.seq_stride = 2;
    CHECK(rin_config_validate(&b, err, sizeof err) == RIN_STATUS_OK);
    CHECK(rin_config_num_tokens(&b) == (6 + 3) * 16);
    /* odd parts with s = 4: 12/4 + 8/4 slots */
    b = c;
    b.seq_stride = 4;
    CHECK(rin_config_validate(&b, err, sizeof err) == RIN_STATUS_OK);
    CHECK(rin_config_num_tokens(&b) == (3 + 2) * 16);
    /* the keys round-trip as text */
    char buf[4096];
    rin_config_format(&c, buf, sizeof buf);
    CHECK(strstr(buf, "seq_len=16\nseq_stride=1\ncond_frames=5\n") != NULL);
    /* an image preset has none of it */
    CHECK(rin_config_preset(&b, "fmnist", err, sizeof err) == RIN_STATUS_OK);
    CHECK(b.seq_len == 0 && rin_config_input_floats(&b) == 28 * 28 && !rin_config_cond_floats(&b));
}

TEST(video_patch3d_inverse_and_adjoint) {
    /* 5 frames, s = 2: slot 2 holds frame 4 and one zero padding frame. Two parts share a patch
     * array of n = 3 slots x 6 tokens + 1 slot x 6 tokens (the second part at tok0 = 18). */
    int B = 2, F = 5, H = 4, W = 6, C = 2, s = 2, p = 2, grid = 6, P = s * p * p * C;
    int n = 4 * grid;
    rin_video_patch v = {.F = F, .H = H, .W = W, .C = C, .s = s, .p = p, .n = n, .tok0 = 0};
    rin_video_patch v2 = {.F = 1, .H = H, .W = W, .C = C, .s = s, .p = p, .n = n, .tok0 = 18};
    size_t nclip = (size_t)B * F * H * W * C, npat = (size_t)B * n * P;
    float *x = gc_uniform(nclip, 1, -1, 1), *y = gc_uniform(npat, 2, -1, 1);
    float *pat = gc_uniform(npat, 3, 5, 6), *back = gc_zeros(nclip), *dx = gc_zeros(nclip);
    float *dp = gc_uniform(npat, 4, 5, 6), *c2 = gc_uniform((size_t)B * H * W * C, 5, -1, 1);
    rin_patchify3d(pat, x, &v, B);
    rin_patchify3d(pat, c2, &v2, B);
    /* element (b, frame f, row, col, ch) lands at token (f/s, row/p, col/p), entry
     * ((f%s) p + row%p) p + col%p) C + ch */
    int bad = 0;
    for (int b = 0; b < B; b++)
        for (int f = 0; f < 6; f++)
            for (int r = 0; r < H; r++)
                for (int q = 0; q < W; q++)
                    for (int ch = 0; ch < C; ch++) {
                        int tok = (f / s) * grid + (r / p) * (W / p) + q / p;
                        int e = (((f % s) * p + r % p) * p + q % p) * C + ch;
                        float got = pat[((size_t)b * n + tok) * P + e];
                        float want =
                            f < F ? x[(((size_t)b * F + f) * H + r) * W * C + q * C + ch] : 0.0f;
                        bad += got != want;
                    }
    CHECK_MSG(bad == 0, "%d entries misplaced", bad);
    /* the second part filled tokens 18..23 only: frame 0 of c2 and a zero padding frame */
    CHECK(pat[((size_t)1 * n + 18) * P + 0] == c2[(size_t)1 * H * W * C] &&
          pat[((size_t)1 * n + 18) * P + p * p * C] == 0.0f);
    rin_unpatchify3d(back, pat, &v, B);
    CHECK(!memcmp(back, x, nclip * sizeof *x));
    /* adjoints: <patchify3d(x), y> = <x, patchify3d_backward(y)> on the part's tokens */
    rin_patchify3d_backward(dx, y, &v, B);
    memset(pat, 0, npat * sizeof *pat);
    rin_patchify3d(pat, x, &v, B);
    CHECK_CLOSE(gc_dot(pat, y, npat), gc_dot(x, dx, nclip), 1e-9, 1e-9);
    /* unpatchify3d_backward writes the part's tokens, zero in padding, nothing elsewhere */
    rin_unpatchify3d_backward(dp, x, &v, B);
    CHECK(dp[((size_t)0 * n + 2 * grid) * P + p * p * C] == 0.0f);
    CHECK(dp[((size_t)0 * n + 18) * P] >= 5.0f);
    rin_unpatchify3d(back, y, &v, B);
    memcpy(pat, dp, npat * sizeof *pat);
    for (int b = 0; b < B; b++)
        memset(pat + ((size_t)b * n + 18) * P, 0, (size_t)grid * P * sizeof *pat);
    CHECK_CLOSE(gc_dot(pat, y, npat), gc_dot(x, back, nclip), 1e-9, 1e-9);
    free(x), free(y), free(pat), free(back), free(dx), free(dp), free(c2);
}

TEST(video_patch3d_stack) {
    /* video_cond = channels: 5 noisy frames, s = 2 (slot 2 holds frame 4 and a padding frame),
     * 3 clean frames of which the last k = 2 ride in every pixel of every noisy patch */
    int B = 2, F = 5, Nc = 3, k = 2, H = 4, W = 6, C = 2, s = 2, p = 2, grid = 6;
    int Ct = C * (1 + k), P = s * p * p * Ct, n = 3 * grid;
    rin_video_patch v = {.F = F, .H = H, .W = W, .C = C, .s = s, .p = p, .n = n, .tok0 = 0};
    size_t frame = (size_t)H * W * C, nclip = (size_t)B * F * frame, npat = (size_t)B * n * P;
    float *x = gc_uniform(nclip, 11, -1, 1), *cond = gc_uniform((size_t)B * Nc * frame, 12, -1, 1);
    float *pat = gc_uniform(npat, 13, 5, 6), *y = gc_uniform(npat, 14, -1, 1);
    float *zero = gc_zeros((size_t)B * Nc * frame), *dx = gc_uniform(nclip, 15, -1, 1);
    float *dx0 = malloc(nclip * sizeof *dx0);
    rin_patchify3d_stack(pat, x, cond, Nc, k, 0, &v, B);
    /* entry (((f%s) p + row%p) p + col%p) Ct + ch' of token (f/s, row/p, col/p): ch' < C the
     * noisy frame f, then clean frame Nc-k+m at the same pixel; zero in padding frames */
    int bad = 0;
    for (int b = 0; b < B; b++)
        for (int f = 0; f < 6; f++)
            for (int r = 0; r < H; r++)
                for (int q = 0; q < W; q++)
                    for (int ch = 0; ch < Ct; ch++) {
                        int tok = (f / s) * grid + (r / p) * (W / p) + q / p;
                        int e = (((f % s) * p + r % p) * p + q % p) * Ct + ch;
                        size_t pix = ((size_t)r * W + q) * C + (size_t)(ch % C);
                        float want = 0.0f;
                        if (f < F && ch < C)
                            want = x[((size_t)b * F + f) * frame + pix];
                        else if (f < F)
                            want = cond[((size_t)b * Nc + Nc - k + ch / C - 1) * frame + pix];
                        bad += pat[((size_t)b * n + tok) * P + e] != want;
                    }
    CHECK_MSG(bad == 0, "%d entries misplaced", bad);
    /* the backward adds the noisy channels only: <stack(x, 0), y> = <x, back(y)>, and it
     * accumulates */
    memcpy(dx0, dx, nclip * sizeof *dx);
    rin_patchify3d_stack_backward(dx, y, k, 0, &v, B);
    rin_patchify3d_stack(pat, x, zero, Nc, k, 0, &v, B);
    double lhs = gc_dot(pat, y, npat), rhs = gc_dot(x, dx, nclip) - gc_dot(x, dx0, nclip);
    CHECK_CLOSE(lhs, rhs, 1e-9, 1e-6);
    /* k = 1 is the last clean frame alone */
    int P1 = s * p * p * 2 * C;
    float *pat1 = gc_zeros((size_t)B * n * P1);
    rin_patchify3d_stack(pat1, x, cond, Nc, 1, 0, &v, B);
    CHECK(pat1[C] == cond[(size_t)(Nc - 1) * frame] && pat1[0] == x[0]);
    free(x), free(cond), free(pat), free(y), free(zero), free(dx), free(dx0), free(pat1);
}

TEST(video_patch3d_stack_halo) {
    /* video_cond_halo = 3 on 2-pixel patches: every token holds its noisy s p p C patch, then k = 2
     * clean 8 x 8 windows centred on the patch (zero past the frame), the same in every slot */
    int B = 2, F = 3, Nc = 3, k = 2, h = 3, H = 4, W = 6, C = 2, s = 2, p = 2, grid = 6;
    int w = p + 2 * h, Pn = s * p * p * C, P = Pn + k * w * w * C, n = 2 * grid;
    rin_video_patch v = {.F = F, .H = H, .W = W, .C = C, .s = s, .p = p, .n = n, .tok0 = 0};
    size_t frame = (size_t)H * W * C, nclip = (size_t)B * F * frame, npat = (size_t)B * n * P;
    float *x = gc_uniform(nclip, 21, -1, 1), *cond = gc_uniform((size_t)B * Nc * frame, 22, -1, 1);
    float *pat = gc_uniform(npat, 23, 5, 6), *y = gc_uniform(npat, 24, -1, 1);
    float *zero = gc_zeros((size_t)B * Nc * frame), *dx = gc_uniform(nclip, 25, -1, 1);
    float *dx0 = malloc(nclip * sizeof *dx0), *plain = gc_zeros((size_t)B * n * Pn);
    rin_patchify3d_stack(pat, x, cond, Nc, k, h, &v, B);
    /* the noisy part is rin_patchify3d's patch, padding frame included */
    rin_patchify3d(plain, x, &v, B);
    int bad = 0;
    for (int b = 0; b < B; b++)
        for (int t = 0; t < n; t++)
            bad += memcmp(pat + ((size_t)b * n + t) * P, plain + ((size_t)b * n + t) * Pn,
                          (size_t)Pn * sizeof(float)) != 0;
    CHECK_MSG(bad == 0, "%d noisy patches differ from rin_patchify3d's", bad);
    /* window entry ((m w + i) w + j) C + ch of token (u, r, c): clean frame Nc-k+m at row
     * r p - h + i, column c p - h + j, or zero outside the frame */
    bad = 0;
    for (int b = 0; b < B; b++)
        for (int t = 0; t < n; t++)
            for (int m = 0; m < k; m++)
                for (int i = 0; i < w; i++)
                    for (int j = 0; j < w; j++)
                        for (int ch = 0; ch < C; ch++) {
                            int r = (t % grid) / (W / p), c = t % (W / p);
                            int yy = r * p - h + i, xx = c * p - h + j;
                            float want = 0.0f;
                            if (yy >= 0 && yy < H && xx >= 0 && xx < W)
                                want = cond[((size_t)b * Nc + Nc - k + m) * frame +
                                            ((size_t)yy * W + xx) * C + ch];
                            size_t e = Pn + (((size_t)m * w + i) * w + j) * C + ch;
                            bad += pat[((size_t)b * n + t) * P + e] != want;
                        }
    CHECK_MSG(bad == 0, "%d window entries misplaced", bad);
    /* spelled out once: token (slot 0, row 1, column 2) has its window origin at
     * (r p - h, c p - h) = (-1, 1), so its last window's entry (1, 0) is clean pixel (0, 1) */
    CHECK(pat[(size_t)(1 * (W / p) + 2) * P + Pn + (size_t)w * w * C + ((size_t)1 * w + 0) * C] ==
          cond[(size_t)(Nc - 1) * frame + ((size_t)0 * W + 1) * C]);
    /* adjoint on the noisy part; the clean windows get no gradient; it accumulates */
    memcpy(dx0, dx, nclip * sizeof *dx);
    rin_patchify3d_stack_backward(dx, y, k, h, &v, B);
    rin_patchify3d_stack(pat, x, zero, Nc, k, h, &v, B);
    double lhs = gc_dot(pat, y, npat), rhs = gc_dot(x, dx, nclip) - gc_dot(x, dx0, nclip);
    CHECK_CLOSE(lhs, rhs, 1e-9, 1e-6);
    free(x), free(cond), free(pat), free(y), free(zero), free(dx), free(dx0), free(plain);
}

TEST(video_config_channels) {
    rin_config c;
    char err[256];
    CHECK(rin_config_preset(&c, "video", err, sizeof err) == RIN_STATUS_OK);
    CHECK(c.video_cond == 0 && c.video_cond_frames == 0); /* the spec's tokens */
    rin_config t = c;
    /* channels: k defaults to 1; no conditioning tokens; the stem takes C (1 + k) per pixel */
    CHECK(rin_config_set(&c, "video_cond", "channels", err, sizeof err) == RIN_STATUS_OK);
    CHECK(c.video_cond == 1 && c.video_cond_frames == 1);
    CHECK(rin_config_validate(&c, err, sizeof err) == RIN_STATUS_OK);
    CHECK(rin_config_num_tokens(&c) == 11 * 16);
    rin_model *m;
    CHECK(rin_model_create(&m, &c, err, sizeof err) == RIN_STATUS_OK);
    const rin_tensor_info *sw = rin_model_find_tensor(m, "stem_w");
    CHECK(sw && sw->shape[0] == 128 && sw->shape[1] == 8 * 8 * 2);
    CHECK(rin_model_find_tensor(m, "out_w")->shape[0] == 8 * 8);
    CHECK(rin_model_find_tensor(m, "tape_pos")->shape[0] == 11 * 16);
    rin_model_free(m);
    /* a k set before the mode is kept; tokens clears it */
    CHECK(rin_config_set(&t, "video_cond_frames", "2", err, sizeof err) == RIN_STATUS_OK);
    CHECK(rin_config_set(&t, "video_cond", "channels", err, sizeof err) == RIN_STATUS_OK);
    CHECK(t.video_cond_frames == 2 && rin_config_validate(&t, err, sizeof err) == RIN_STATUS_OK);
    char buf[4096];
    rin_config_format(&t, buf, sizeof buf);
    CHECK(strstr(buf, "video_cond=channels\nvideo_cond_frames=2\n") != NULL);
    CHECK(rin_config_set(&t, "video_cond", "tokens", err, sizeof err) == RIN_STATUS_OK);
    CHECK(t.video_cond == 0 && t.video_cond_frames == 0);
    /* what is refused, and the message names the key, the value and what was expected */
    struct {
        const char *preset, *sets[3][2], *msg;
    } bad[] = {
        {"fmnist", {{"video_cond", "channels"}}, "video_cond: channels is for video models"},
        {"video",
         {{"video_cond", "channels"}, {"video_cond_frames", "6"}},
         "video_cond_frames: 6 is out of range [1, cond_frames = 5]"},
        {"video", {{"video_cond_frames", "2"}}, "video_cond_frames: 2 applies to video_cond = "},
        {"video",
         {{"video_cond", "channels"}, {"cond_frames", "0"}},
         "video_cond: channels needs clean conditioning frames"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        rin_config b;
        rin_config_preset(&b, bad[i].preset, NULL, 0);
        for (int j = 0; j < 3 && bad[i].sets[j][0]; j++)
            CHECK(rin_config_set(&b, bad[i].sets[j][0], bad[i].sets[j][1], err, sizeof err) ==
                  RIN_STATUS_OK);
        err[0] = 0;
        CHECK(rin_config_validate(&b, err, sizeof err) == RIN_STATUS_CONFIG);
        CHECK_MSG(strstr(err, bad[i].msg), "case %zu: '%s' lacks '%s'", i, err, bad[i].msg);
    }
    CHECK(rin_config_set(&t, "video_cond", "frames", err, sizeof err) == RIN_STATUS_CONFIG);
    CHECK_MSG(strstr(err, "video_cond: 'frames' is not supported (expected tokens or channels)"),
              "%s", err);
    CHECK(rin_config_set(&t, "video_cond_frames", "-1", err, sizeof err) == RIN_STATUS_CONFIG);
    CHECK_MSG(strstr(err, "video_cond_frames: -1 is out of range"), "%s", err);
}

/* ---- prediction and roll-out --------------------------------------------------------------- */

/* A micro video model of 8 x 8 frames (one 8 x 8 patch per frame): T frames of which Nc are
 * clean, initialised from seed 5. channels: video_cond = channels with k = Nc. */
static rin_model *rollout_model(const char *T, const char *Nc, int channels) {
    rin_config c;
    char err[512];
    rin_config_preset(&c, "video", NULL, 0);
    const char *sets[][2] = {{"image_height", "8"}, {"image_width", "8"}, {"seq_len", T},
                             {"cond_frames", Nc},   {"tape_dim", "16"},   {"latent_dim", "16"},
                             {"latent_slots", "4"}, {"num_layers", "1"},  {"latent_num_heads", "2"},
                             {"rw_num_heads", "2"}};
    for (size_t i = 0; i < sizeof sets / sizeof sets[0]; i++)
        RIN_ASSERT(rin_config_set(&c, sets[i][0], sets[i][1], NULL, 0) == RIN_STATUS_OK);
    if (channels) {
        RIN_ASSERT(rin_config_set(&c, "video_cond", "channels", NULL, 0) == RIN_STATUS_OK);
        RIN_ASSERT(rin_config_set(&c, "video_cond_frames", Nc, NULL, 0) == RIN_STATUS_OK);
    }
    rin_model *m = NULL;
    if (rin_model_create(&m, &c, err, sizeof err)) {
        test_fail(__FILE__, __LINE__, "%s", err);
        return NULL;
    }
    rin_model_init_params(m, 5);
    return m;
}

/* The prediction loop of cli/video.c before roll-out existed, written out: chunks of max_batch
 * clips, chunk i0's noise seeded rin_hash64(seed, "VIDE", i0). */
static void todays_predict(rin_ctx *ctx, const rin_sample_config *sc, const float *cond, int N,
                           int max_batch, float *out) {
    const rin_config *c = &ctx->model->cfg;
    size_t nc = rin_config_cond_floats(c), nx = rin_config_input_floats(c);
    char err[512];
    for (int i0 = 0; i0 < N; i0 += max_batch) {
        int B = N - i0 < max_batch ? N - i0 : max_batch;
        rin_sample_config s = *sc;
        s.seed = rin_hash64(sc->seed, 0x56494445ull, (uint64_t)i0);
        rin_ctx_set_cond(ctx, cond + (size_t)i0 * nc);
        if (rin_sample(ctx, &s, B, NULL, out + (size_t)i0 * nx, NULL, NULL, err, sizeof err))
            test_fail(__FILE__, __LINE__, "%s", err);
    }
}

static void rollout_sample_config(rin_sample_config *sc) {
    rin_sample_config_default(sc);
    snprintf(sc->sampler, sizeof sc->sampler, "ddim");
    sc->steps = 2;
    sc->seed = 11;
}

TEST(video_rollout_one_round_is_todays_prediction) {
    /* --frames b (and the default): the roll-out is one round, bit for bit the prediction the
     * CLI made before roll-out existed; F < b is its first F frames */
    rin_model *m = rollout_model("5", "2", 0);
    if (!m)
        return;
    const rin_config *c = rin_model_config(m);
    int N = 3, Nc = 2, b = 3, maxb = 2;
    size_t fr = (size_t)c->H * c->W * c->C, nx = (size_t)b * fr;
    rin_ctx *ctx = NULL;
    char err[512];
    CHECK(rin_ctx_create(&ctx, m, maxb, RIN_CTX_INFER, err, sizeof err) == RIN_STATUS_OK);
    rin_sample_config sc;
    rollout_sample_config(&sc);
    float *cond = gc_uniform((size_t)N * Nc * fr, 21, -1, 1);
    float *want = gc_uniform(N * nx, 22, 5, 6), *got = gc_uniform(N * nx, 23, 7, 8);
    float *one = gc_zeros((size_t)N * fr);
    todays_predict(ctx, &sc, cond, N, maxb, want);
    CHECK(rin_video_rollout(ctx, &sc, cond, N, maxb, b, got, err, sizeof err) == RIN_STATUS_OK);
    CHECK(!memcmp(want, got, N * nx * sizeof *got));
    CHECK(rin_video_predict(ctx, &sc, cond, N, maxb, got, err, sizeof err) == RIN_STATUS_OK);
    CHECK(!memcmp(want, got, N * nx * sizeof *got));
    CHECK(rin_video_rollout(ctx, &sc, cond, N, maxb, 1, one, err, sizeof err) == RIN_STATUS_OK);
    for (int i = 0; i < N; i++)
        CHECK(!memcmp(one + (size_t)i * fr, want + (size_t)i * nx, fr * sizeof *one));
    CHECK(rin_video_round_seed(11, 0) == 11);
    /* F = 0 is refused */
    CHECK(rin_video_rollout(ctx, &sc, cond, N, maxb, 0, got, err, sizeof err) == RIN_STATUS_ARG);
    CHECK_MSG(strstr(err, "roll-out of 0 frames"), "%s", err);
    free(cond), free(want), free(got), free(one);
    rin_ctx_free(ctx);
    rin_model_free(m);
}

TEST(video_rollout_three_rounds) {
    /* F = 2b + 1: three rounds, the last one's surplus dropped. Each round must be the
     * one-round prediction from the last Nc frames of [given ; predicted so far] with seed
     * rin_hash64(seed, "ROLL", r) (r > 0). Nc = 3 > b = 2 mixes given and predicted frames in
     * round 1; the channels model (Nc = 2 < b = 3) reads them through its stem. */
    struct {
        const char *T, *Nc;
        int channels;
    } cases[] = {{"5", "3", 0}, {"5", "2", 1}};
    for (size_t cs = 0; cs < sizeof cases / sizeof cases[0]; cs++) {
        rin_model *m = rollout_model(cases[cs].T, cases[cs].Nc, cases[cs].channels);
        if (!m)
            return;
        const rin_config *c = rin_model_config(m);
        int N = 3, maxb = 2, Nc = c->cond_frames, b = c->seq_len - Nc, F = 2 * b + 1;
        size_t fr = (size_t)c->H * c->W * c->C;
        int L = Nc + 3 * b; /* the reference's whole sequence per clip */
        rin_ctx *ctx = NULL;
        char err[512];
        CHECK(rin_ctx_create(&ctx, m, maxb, RIN_CTX_INFER, err, sizeof err) == RIN_STATUS_OK);
        rin_sample_config sc;
        rollout_sample_config(&sc);
        float *cond = gc_uniform((size_t)N * Nc * fr, 31, -1, 1);
        float *seq = gc_zeros((size_t)N * L * fr), *rc = gc_zeros((size_t)N * Nc * fr);
        float *rp = gc_zeros((size_t)N * b * fr), *got = gc_uniform((size_t)N * F * fr, 32, 5, 6);
        for (int i = 0; i < N; i++)
            memcpy(seq + (size_t)i * L * fr, cond + (size_t)i * Nc * fr, Nc * fr * sizeof *seq);
        int differs = 0;
        for (int r = 0; r < 3; r++) {
            /* round r reads sequence frames r b .. r b + Nc - 1 */
            for (int i = 0; i < N; i++)
                memcpy(rc + (size_t)i * Nc * fr, seq + ((size_t)i * L + r * b) * fr,
                       Nc * fr * sizeof *rc);
            rin_sample_config s = sc;
            s.seed = r ? rin_hash64(sc.seed, 0x524F4C4Cull, (uint64_t)r) : sc.seed;
            CHECK(rin_video_round_seed(sc.seed, r) == s.seed);
            todays_predict(ctx, &s, rc, N, maxb, rp);
            for (int i = 0; i < N; i++)
                memcpy(seq + ((size_t)i * L + Nc + r * b) * fr, rp + (size_t)i * b * fr,
                       b * fr * sizeof *seq);
            if (r == 1) {
                /* the model reads its conditioning: round 1 from the given frames again (the
                 * wrong ones) predicts something else, so the comparison below sees them */
                todays_predict(ctx, &s, cond, N, maxb, rp);
                for (int i = 0; i < N; i++)
                    differs += memcmp(rp + (size_t)i * b * fr, seq + ((size_t)i * L + Nc + b) * fr,
                                      b * fr * sizeof *rp) != 0;
            }
        }
        CHECK_MSG(differs == N, "case %zu: %d of %d clips depend on their conditioning", cs,
                  differs, N);
        CHECK(rin_video_rollout(ctx, &sc, cond, N, maxb, F, got, err, sizeof err) == RIN_STATUS_OK);
        int bad = 0;
        for (int i = 0; i < N; i++)
            bad += memcmp(got + (size_t)i * F * fr, seq + ((size_t)i * L + Nc) * fr,
                          F * fr * sizeof *got) != 0;
        CHECK_MSG(bad == 0,
                  "case %zu (Nc %d, b %d): %d clips differ from the round-by-round "
                  "reference",
                  cs, Nc, b, bad);
        /* the same seed gives the same bytes; rounds draw fresh noise (round 1 is not round 0
         * again: the seeds differ) */
        float *again = gc_zeros((size_t)N * F * fr);
        CHECK(rin_video_rollout(ctx, &sc, cond, N, maxb, F, again, err, sizeof err) ==
              RIN_STATUS_OK);
        CHECK(!memcmp(got, again, (size_t)N * F * fr * sizeof *got));
        CHECK(rin_video_round_seed(sc.seed, 1) != rin_video_round_seed(sc.seed, 2));
        free(cond), free(seq), free(rc), free(rp), free(got), free(again);
        rin_ctx_free(ctx);
        rin_model_free(m);
    }
}
