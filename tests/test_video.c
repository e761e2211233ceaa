/* test_video.c -- clips for video prediction (src/video.c):
 *   - the moving-items generator: deterministic by (seed, index), items stay in the frame and
 *     are drawn where the documented trajectory puts them, bounces reverse the direction;
 *   - stored clips (uint8 safetensors N x T x H x W x C) and their rejection messages;
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
            rin_moving_trajectory(&rng, T, 0.1, ys[it], xs[it]);
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

TEST(video_trajectory_bounces) {
    /* positions stay in [0, 1]; away from the walls every step moves by exactly 0.1 in the
     * drawn direction; at a wall the coordinate is clamped and its direction reverses */
    int T = 400, bounces = 0, bad = 0;
    double ys[400], xs[400];
    for (uint64_t s = 0; s < 20; s++) {
        rin_rng rng;
        rin_rng_seed(&rng, s);
        rin_moving_trajectory(&rng, T, 0.1, ys, xs);
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
    /* too many frames wanted, a wrong frame size: the message gives both shapes */
    CHECK(rin_video_open(&v, src, 7, H, W, C, 0, err, sizeof err) == RIN_STATUS_FORMAT);
    CHECK_MSG(strstr(err, "(3, 6, 4, 5, 1)") && strstr(err, "T >= 7"), "%s", err);
    CHECK(rin_video_open(&v, src, 5, 4, 4, C, 0, err, sizeof err) == RIN_STATUS_FORMAT);
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
    rin_patchify3d_stack(pat, x, cond, Nc, k, &v, B);
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
    rin_patchify3d_stack_backward(dx, y, k, &v, B);
    rin_patchify3d_stack(pat, x, zero, Nc, k, &v, B);
    double lhs = gc_dot(pat, y, npat), rhs = gc_dot(x, dx, nclip) - gc_dot(x, dx0, nclip);
    CHECK_CLOSE(lhs, rhs, 1e-9, 1e-6);
    /* k = 1 is the last clean frame alone */
    int P1 = s * p * p * 2 * C;
    float *pat1 = gc_zeros((size_t)B * n * P1);
    rin_patchify3d_stack(pat1, x, cond, Nc, 1, &v, B);
    CHECK(pat1[C] == cond[(size_t)(Nc - 1) * frame] && pat1[0] == x[0]);
    free(x), free(cond), free(pat), free(y), free(zero), free(dx), free(dx0), free(pat1);
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
