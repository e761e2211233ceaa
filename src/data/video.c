/* video.c -- clips for video prediction: the Moving-MNIST-style generator (evaluation.md 6.2),
 * stored uint8 clips, animated GIF output (giflib) and per-frame metrics (evaluation.md 6.3).
 * See video.h for the sources and the determinism contract.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gif_lib.h>

#include "internal.h"
#include "metrics.h"
#include "video.h"

#define STREAM_MMNIST 0x4D4D4E49ull /* "MMNI" */

/* Box-filter resize of a (h, w) grey image to (k, k): each output pixel is the mean of the
 * source pixels whose centres fall in its cell (exact area averaging for integer factors). */
static void resize_box(uint8_t *dst, int k, const uint8_t *src, int h, int w) {
    for (int i = 0; i < k; i++)
        for (int j = 0; j < k; j++) {
            int y0 = i * h / k, y1 = (i + 1) * h / k, x0 = j * w / k, x1 = (j + 1) * w / k;
            if (y1 <= y0)
                y1 = y0 + 1;
            if (x1 <= x0)
                x1 = x0 + 1;
            unsigned sum = 0, cnt = 0;
            for (int y = y0; y < y1; y++)
                for (int x = x0; x < x1; x++, cnt++)
                    sum += src[(size_t)y * w + x];
            dst[(size_t)i * k + j] = (uint8_t)((sum + cnt / 2) / cnt);
        }
}

/* The generator's options, "items=N,size=S,speed=A[-B]" (video.h), into v; opts ends at its
 * first ':' or NUL. */
static rin_status parse_moving_options(rin_video_source *v, const char *opts, char *err,
                                       size_t errlen) {
    const char *p = opts;
    while (*p == ',') {
        p++;
        size_t len = strcspn(p, ",:");
        char kv[64];
        if (len >= sizeof kv)
            len = sizeof kv - 1;
        memcpy(kv, p, len);
        kv[len] = '\0';
        p += strcspn(p, ",:");
        char *eq = strchr(kv, '='), *end = NULL;
        if (!eq)
            return rin_errorf(err, errlen, RIN_STATUS_ARG,
                              "video source %s: option '%s' needs a value (items=N, size=S, "
                              "speed=A or speed=A-B)",
                              v->name, kv);
        *eq = '\0';
        const char *val = eq + 1;
        if (!strcmp(kv, "items") || !strcmp(kv, "size")) {
            long n = strtol(val, &end, 10);
            int items = !strcmp(kv, "items");
            long hi = items ? RIN_MMNIST_ITEMS_MAX : (v->H < v->W ? v->H : v->W);
            if (end == val || *end || n < 1 || n > hi)
                return rin_errorf(err, errlen, RIN_STATUS_ARG,
                                  "video source %s: %s=%s: expected a whole number from 1 to %ld%s",
                                  v->name, kv, val, hi, items ? "" : " (the frame's shorter side)");
            if (items)
                v->n_items = (int)n;
            else
                v->item = (int)n;
        } else if (!strcmp(kv, "speed")) {
            double a = strtod(val, &end), b = a;
            int ok = end != val;
            if (ok && *end == '-') {
                const char *q = end + 1;
                b = strtod(q, &end);
                ok = end != q; /* not "A-" */
            }
            if (!ok || *end || !(a >= 0) || !(b >= a) || !isfinite(b))
                return rin_errorf(err, errlen, RIN_STATUS_ARG,
                                  "video source %s: speed=%s: expected pixels per frame, A or A-B "
                                  "with 0 <= A <= B",
                                  v->name, val);
            v->speed_lo = a;
            v->speed_hi = b;
        } else {
            return rin_errorf(err, errlen, RIN_STATUS_ARG,
                              "video source %s: unknown option '%s' (expected items, size or "
                              "speed)",
                              v->name, kv);
        }
    }
    if (*p && *p != ':')
        return rin_errorf(err, errlen, RIN_STATUS_ARG,
                          "video source %s: expected ',OPTION=VALUE' or ':ITEMS' after mmnist",
                          v->name);
    return RIN_STATUS_OK;
}

/* The moving-items generator: "mmnist" then options, then ":ITEMS" (default fmnist). */
static rin_status open_items(rin_video_source *v, const char *source, char *err, size_t errlen) {
    int side = v->H < v->W ? v->H : v->W;
    v->item = RIN_MMNIST_ITEM * side / RIN_MMNIST_FRAME;
    v->n_items = RIN_MMNIST_ITEMS;
    v->speed_lo = v->speed_hi = -1;
    rin_status s = parse_moving_options(v, source + strlen("mmnist"), err, errlen);
    if (s)
        return s;
    const char *colon = strchr(source, ':'), *items = colon ? colon + 1 : "fmnist";
    char e2[400];
    if (rin_dataset_load(&v->items, items, 0, 0, 0, e2, sizeof e2))
        return rin_errorf(err, errlen, RIN_STATUS_FORMAT, "video source %s: items: %s", v->name,
                          e2);
    const rin_dataset *d = v->items;
    if (d->C != 1 || d->n < 1)
        return rin_errorf(err, errlen, RIN_STATUS_FORMAT,
                          "video source %s: items must be greyscale images (got %d of %dx%dx%d)",
                          v->name, d->n, d->H, d->W, d->C);
    if (v->item < 1 || v->item > side)
        return rin_errorf(err, errlen, RIN_STATUS_FORMAT,
                          "video source %s: frames of %dx%d are too small for moving items",
                          v->name, v->H, v->W);
    size_t per = (size_t)v->item * v->item;
    v->scaled = malloc((size_t)d->n * per);
    if (!v->scaled)
        return rin_errorf(err, errlen, RIN_STATUS_NOMEM, "video source %s: out of memory", v->name);
    for (int i = 0; i < d->n; i++)
        resize_box(v->scaled + (size_t)i * per, v->item, d->images + (size_t)i * d->H * d->W, d->H,
                   d->W);
    return RIN_STATUS_OK;
}

static rin_status open_clips(rin_video_source *v, const char *path, char *err, size_t errlen) {
    rin_status s = rin_st_read(&v->file, path, err, errlen);
    if (s)
        return s;
    const rin_st_tensor *t = rin_st_find(v->file, "clips");
    if (!t && v->file->ntensors == 1)
        t = &v->file->tensors[0];
    if (!t)
        return rin_errorf(err, errlen, RIN_STATUS_FORMAT,
                          "%s: expected one tensor, or one named \"clips\" (found %d tensors)",
                          path, v->file->ntensors);
    if (t->dtype != RIN_DTYPE_U8 || t->ndim != 5)
        return rin_errorf(err, errlen, RIN_STATUS_FORMAT,
                          "%s: tensor %s must be U8 with 5 dimensions (N, T, H, W, C); it is %s "
                          "with %d",
                          path, t->name, rin_dtype_name(t->dtype), t->ndim);
    if (t->shape[0] < 1 || t->shape[2] != v->H || t->shape[3] != v->W || t->shape[4] != v->C)
        return rin_errorf(err, errlen, RIN_STATUS_FORMAT,
                          "%s: tensor %s has shape (%lld, %lld, %lld, %lld, %lld); the model needs "
                          "(N >= 1, T >= %d, %d, %d, %d)",
                          path, t->name, (long long)t->shape[0], (long long)t->shape[1],
                          (long long)t->shape[2], (long long)t->shape[3], (long long)t->shape[4],
                          v->T, v->H, v->W, v->C);
    /* the frame count alone: a roll-out asks for longer clips than the model's */
    if (t->shape[1] < v->T)
        return rin_errorf(err, errlen, RIN_STATUS_FORMAT,
                          "%s: its clips have %lld frames, but %d are needed (tensor %s, shape "
                          "(%lld, %lld, %lld, %lld, %lld))",
                          path, (long long)t->shape[1], v->T, t->name, (long long)t->shape[0],
                          (long long)t->shape[1], (long long)t->shape[2], (long long)t->shape[3],
                          (long long)t->shape[4]);
    v->n = (long)t->shape[0];
    v->Tf = (int)t->shape[1];
    v->clips = rin_st_data(v->file, t);
    return RIN_STATUS_OK;
}

rin_status rin_video_open(rin_video_source **out, const char *source, int T, int H, int W, int C,
                          uint64_t seed, char *err, size_t errlen) {
    *out = NULL;
    if (T < 1 || H < 1 || W < 1 || (C != 1 && C != 3))
        return rin_errorf(err, errlen, RIN_STATUS_ARG,
                          "video source %s: bad clip shape %dx%dx%dx%d", source, T, H, W, C);
    if (T > RIN_VIDEO_MAX_FRAMES)
        return rin_errorf(err, errlen, RIN_STATUS_ARG,
                          "video source %s: clips of %d frames asked for; at most %d", source, T,
                          RIN_VIDEO_MAX_FRAMES);
    rin_video_source *v = calloc(1, sizeof *v);
    if (!v)
        return rin_errorf(err, errlen, RIN_STATUS_NOMEM, "out of memory");
    *v = (rin_video_source){.T = T, .H = H, .W = W, .C = C, .seed = seed};
    snprintf(v->name, sizeof v->name, "%s", source);
    rin_status s;
    if (!strncmp(source, "mmnist", 6) && strchr(",:", source[6])) /* also the NUL */
        s = open_items(v, source, err, errlen);
    else if (!strncmp(source, "clips:", 6))
        s = open_clips(v, source + 6, err, errlen);
    else
        s = rin_errorf(err, errlen, RIN_STATUS_ARG,
                       "unknown video source '%s' (expected mmnist[,OPTIONS][:ITEMS] or "
                       "clips:FILE)",
                       source);
    if (s) {
        rin_video_free(v);
        return s;
    }
    *out = v;
    return RIN_STATUS_OK;
}

void rin_video_free(rin_video_source *v) {
    if (!v)
        return;
    rin_dataset_free(v->items);
    free(v->scaled);
    rin_st_free(v->file);
    free(v);
}

/* Reflection at the walls 0 and 1: clamp the coordinate and reverse its velocity. */
static void reflect(double *x, double *v) {
    if (*x <= 0.0) {
        *x = 0.0;
        *v = -*v;
    }
    if (*x >= 1.0) {
        *x = 1.0;
        *v = -*v;
    }
}

void rin_moving_trajectory(rin_rng *rng, int T, double step_y, double step_x, double *ys,
                           double *xs) {
    double y = rin_rng_uniform(rng), x = rin_rng_uniform(rng);
    double theta = rin_rng_uniform(rng) * 6.283185307179586;
    double vy = sin(theta), vx = cos(theta);
    for (int f = 0; f < T; f++) {
        y += vy * step_y;
        x += vx * step_x;
        reflect(&x, &vx);
        reflect(&y, &vy);
        ys[f] = y;
        xs[f] = x;
    }
}

static void moving_clip(const rin_video_source *v, long index, uint8_t *clip) {
    int T = v->T, H = v->H, W = v->W, C = v->C, k = v->item;
    memset(clip, 0, (size_t)T * H * W * C);
    rin_rng rng;
    rin_rng_seed(&rng, rin_hash64(v->seed, STREAM_MMNIST, (uint64_t)index));
    double ys[RIN_VIDEO_MAX_FRAMES], xs[RIN_VIDEO_MAX_FRAMES];
    RIN_ASSERT(T <= RIN_VIDEO_MAX_FRAMES);
    for (int it = 0; it < v->n_items; it++) {
        int id = (int)(rin_rng_u64(&rng) % (uint64_t)v->items->n);
        const uint8_t *img = v->scaled + (size_t)id * k * k;
        double sy = RIN_MMNIST_STEP, sx = RIN_MMNIST_STEP;
        if (v->speed_lo >= 0) { /* pixels per frame; an item as large as the frame stays put */
            double u = v->speed_lo + (v->speed_hi - v->speed_lo) * rin_rng_uniform(&rng);
            sy = H > k ? u / (H - k) : 0;
            sx = W > k ? u / (W - k) : 0;
        }
        rin_moving_trajectory(&rng, T, sy, sx, ys, xs);
        for (int f = 0; f < T; f++) {
            int top = (int)((H - k) * ys[f]), left = (int)((W - k) * xs[f]);
            uint8_t *frame = clip + (size_t)f * H * W * C;
            for (int i = 0; i < k; i++)
                for (int j = 0; j < k; j++) {
                    uint8_t u = img[(size_t)i * k + j];
                    uint8_t *px = frame + ((size_t)(top + i) * W + left + j) * C;
                    for (int c = 0; c < C; c++)
                        px[c] = px[c] > u ? px[c] : u; /* overlaps: elementwise maximum */
                }
        }
    }
}

void rin_video_clip(const rin_video_source *v, long index, uint8_t *clip) {
    if (v->clips) {
        size_t frame = (size_t)v->H * v->W * v->C;
        long i = ((index % v->n) + v->n) % v->n;
        memcpy(clip, v->clips + (size_t)i * v->Tf * frame, (size_t)v->T * frame);
    } else {
        moving_clip(v, index, clip);
    }
}

void rin_video_batch(const rin_video_source *v, long index0, int B, int Nc, float b, float *cond,
                     float *x0) {
    size_t frame = (size_t)v->H * v->W * v->C, per = (size_t)v->T * frame;
    size_t nc = (size_t)Nc * frame, nx = per - nc;
    uint8_t *clip = malloc(per);
    RIN_ASSERT(clip && Nc >= 0 && Nc < v->T);
    float lut[256];
    for (int u = 0; u < 256; u++)
        lut[u] = (2.0f * (float)u / 255.0f - 1.0f) * b;
    for (int i = 0; i < B; i++) {
        rin_video_clip(v, index0 + i, clip);
        for (size_t k = 0; k < nc; k++)
            cond[(size_t)i * nc + k] = lut[clip[k]];
        for (size_t k = 0; k < nx; k++)
            x0[(size_t)i * nx + k] = lut[clip[nc + k]];
    }
    free(clip);
}

/* ---- prediction and roll-out ------------------------------------------------------------------
 */

#define STREAM_VIDEO_CHUNK 0x56494445ull /* "VIDE" */
#define STREAM_ROLLOUT     0x524F4C4Cull /* "ROLL" */

rin_status rin_video_predict(rin_ctx *ctx, const rin_sample_config *sc, const float *cond, int N,
                             int max_batch, float *out, char *err, size_t errlen) {
    const rin_config *c = &ctx->model->cfg;
    size_t nc = rin_config_cond_floats(c), nx = rin_config_input_floats(c);
    for (int i0 = 0; i0 < N; i0 += max_batch) {
        int B = N - i0 < max_batch ? N - i0 : max_batch;
        rin_sample_config s = *sc;
        s.seed = rin_hash64(sc->seed, STREAM_VIDEO_CHUNK, (uint64_t)i0);
        rin_ctx_set_cond(ctx, cond ? cond + (size_t)i0 * nc : NULL);
        rin_status st =
            rin_sample(ctx, &s, B, NULL, out + (size_t)i0 * nx, NULL, NULL, err, errlen);
        if (st)
            return st;
    }
    return RIN_STATUS_OK;
}

uint64_t rin_video_round_seed(uint64_t seed, int r) {
    return r == 0 ? seed : rin_hash64(seed, STREAM_ROLLOUT, (uint64_t)r);
}

rin_status rin_video_rollout(rin_ctx *ctx, const rin_sample_config *sc, const float *cond, int N,
                             int max_batch, int F, float *out, char *err, size_t errlen) {
    const rin_config *c = &ctx->model->cfg;
    int Nc = c->cond_frames, b = c->seq_len - Nc;
    size_t frame = (size_t)c->H * c->W * c->C;
    if (F < 1 || b < 1)
        return rin_errorf(err, errlen, RIN_STATUS_ARG,
                          "roll-out of %d frames with %d predicted per round: both must be >= 1", F,
                          b);
    /* round r's conditioning frames (N, Nc) and prediction (N, b) */
    float *rc = malloc(((size_t)N * Nc * frame + 1) * sizeof *rc);
    float *rp = malloc((size_t)N * b * frame * sizeof *rp);
    if (!rc || !rp) {
        free(rc), free(rp);
        return rin_errorf(err, errlen, RIN_STATUS_NOMEM, "roll-out of %d clips: out of memory", N);
    }
    rin_status st = RIN_STATUS_OK;
    for (int r = 0, done = 0; done < F; r++, done += b) {
        /* the last Nc frames of [cond ; out's first `done` frames]: sequence frame g (counting
         * the conditioning frames from 0) is cond's frame g for g < Nc, else out's g - Nc */
        for (int i = 0; i < N; i++)
            for (int j = 0; j < Nc; j++) {
                int g = done + j;
                const float *src = g < Nc ? cond + ((size_t)i * Nc + g) * frame
                                          : out + ((size_t)i * F + g - Nc) * frame;
                memcpy(rc + ((size_t)i * Nc + j) * frame, src, frame * sizeof *rc);
            }
        rin_sample_config s = *sc;
        s.seed = rin_video_round_seed(sc->seed, r);
        st = rin_video_predict(ctx, &s, Nc ? rc : NULL, N, max_batch, rp, err, errlen);
        if (st)
            break;
        int keep = F - done < b ? F - done : b; /* the last round's surplus is dropped */
        for (int i = 0; i < N; i++)
            memcpy(out + ((size_t)i * F + done) * frame, rp + (size_t)i * b * frame,
                   (size_t)keep * frame * sizeof *out);
    }
    rin_ctx_set_cond(ctx, NULL); /* rc is about to go */
    free(rc), free(rp);
    return st;
}

/* ---- GIF ------------------------------------------------------------------------------------- */

typedef struct membuf {
    uint8_t *p;
    size_t n, cap;
    int oom;
} membuf;

static int gif_out(GifFileType *g, const GifByteType *data, int len) {
    membuf *m = g->UserData;
    if (m->n + (size_t)len > m->cap) {
        size_t cap = 2 * (m->n + (size_t)len) + 4096;
        uint8_t *p = realloc(m->p, cap);
        if (!p) {
            m->oom = 1;
            return 0;
        }
        m->p = p;
        m->cap = cap;
    }
    memcpy(m->p + m->n, data, (size_t)len);
    m->n += (size_t)len;
    return len;
}

rin_status rin_gif_write(const char *path, const uint8_t *frames, int F, int H, int W, int C,
                         int delay_cs, char *err, size_t errlen) {
    membuf m = {0};
    int gerr = 0;
    GifFileType *g = EGifOpen(&m, gif_out, &gerr);
    ColorMapObject *cmap = GifMakeMapObject(256, NULL);
    GifPixelType *line = malloc((size_t)W);
    rin_status s = RIN_STATUS_OK;
    if (!g || !cmap || !line) {
        s = rin_errorf(err, errlen, RIN_STATUS_NOMEM, "%s: cannot start the GIF encoder", path);
        goto done;
    }
    for (int i = 0; i < 256; i++)
        cmap->Colors[i] = (GifColorType){(GifByteType)i, (GifByteType)i, (GifByteType)i};
    EGifSetGifVersion(g, true);
    int ok = EGifPutScreenDesc(g, W, H, 8, 0, cmap) == GIF_OK;
    /* NETSCAPE2.0 application extension: loop forever */
    static const GifByteType app[11] = {'N', 'E', 'T', 'S', 'C', 'A', 'P', 'E', '2', '.', '0'};
    static const GifByteType loop[3] = {1, 0, 0};
    ok = ok && EGifPutExtensionLeader(g, APPLICATION_EXT_FUNC_CODE) == GIF_OK &&
         EGifPutExtensionBlock(g, 11, app) == GIF_OK &&
         EGifPutExtensionBlock(g, 3, loop) == GIF_OK && EGifPutExtensionTrailer(g) == GIF_OK;
    for (int f = 0; ok && f < F; f++) {
        GraphicsControlBlock gcb = {.DisposalMode = DISPOSAL_UNSPECIFIED,
                                    .UserInputFlag = false,
                                    .DelayTime = delay_cs,
                                    .TransparentColor = NO_TRANSPARENT_COLOR};
        GifByteType ext[4];
        EGifGCBToExtension(&gcb, ext);
        ok = EGifPutExtension(g, GRAPHICS_EXT_FUNC_CODE, 4, ext) == GIF_OK &&
             EGifPutImageDesc(g, 0, 0, W, H, false, NULL) == GIF_OK;
        const uint8_t *fr = frames + (size_t)f * H * W * C;
        for (int y = 0; ok && y < H; y++) {
            for (int x = 0; x < W; x++) {
                const uint8_t *px = fr + ((size_t)y * W + x) * C;
                line[x] = C == 1
                              ? px[0]
                              : (GifPixelType)((299u * px[0] + 587u * px[1] + 114u * px[2] + 500u) /
                                               1000u);
            }
            ok = EGifPutLine(g, line, W) == GIF_OK;
        }
    }
    int cerr = 0;
    int closed = EGifCloseFile(g, &cerr) == GIF_OK;
    g = NULL;
    if (!ok || !closed || m.oom) {
        s = rin_errorf(err, errlen, RIN_STATUS_IO, "%s: GIF encoding failed (%s)", path,
                       m.oom ? "out of memory" : GifErrorString(ok ? cerr : 0));
        goto done;
    }
    s = rin_write_file_atomic(path, m.p, m.n, err, errlen);
done:
    if (g)
        EGifCloseFile(g, &gerr);
    GifFreeMapObject(cmap);
    free(line);
    free(m.p);
    return s;
}

/* ---- metrics ----------------------------------------------------------------------------------
 */

void rin_video_frame_metrics(const float *pred, const float *truth, int F, int H, int W, int C,
                             double *sse, double *psnr, double *ssim) {
    size_t frame = (size_t)H * W * C;
    for (int f = 0; f < F; f++) {
        const float *a = pred + (size_t)f * frame, *b = truth + (size_t)f * frame;
        double se = 0;
        for (size_t k = 0; k < frame; k++) {
            double e = (double)a[k] - (double)b[k];
            se += e * e;
        }
        if (sse)
            sse[f] = se;
        if (psnr)
            psnr[f] = rin_psnr(a, b, frame, 1.0);
        if (ssim)
            ssim[f] = rin_ssim(a, b, H, W, C, 1.0);
    }
}

/* Intensity centroid of one frame (channels averaged); 0 when the frame is all zero. */
static int frame_centroid(const float *a, int H, int W, int C, double *cy, double *cx) {
    double m = 0, my = 0, mx = 0;
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            double u = 0;
            for (int c = 0; c < C; c++)
                u += (double)a[((size_t)y * W + x) * C + c];
            m += u, my += u * y, mx += u * x;
        }
    if (!(m > 0))
        return 0;
    *cy = my / m, *cx = mx / m;
    return 1;
}

void rin_video_com_error(const float *pred, const float *truth, int F, int H, int W, int C,
                         double *err) {
    size_t frame = (size_t)H * W * C;
    for (int f = 0; f < F; f++) {
        double py, px, ty, tx;
        if (frame_centroid(pred + (size_t)f * frame, H, W, C, &py, &px) &&
            frame_centroid(truth + (size_t)f * frame, H, W, C, &ty, &tx))
            err[f] = hypot(py - ty, px - tx);
        else
            err[f] = (double)NAN;
    }
}
