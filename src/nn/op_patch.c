/* op_patch.c -- patchify and unpatchify (spec 1.1 and 1.6), and their video form (spec 6.1).
 *
 * patches[b, r*(W/p)+c, (i*p+j)*C+ch] = img[b, r*p+i, c*p+j, ch]: row-major tokens, patch
 * vectors ordered (row-in-patch, column-in-patch, channel) like the stem kernel (p,p,C,E), and
 * unpatchify is TF depth_to_space with the same order. The two are inverse permutations, so
 * each one's adjoint is the other.
 *
 * Video: F frames (B,F,H,W,C) are cut into s x p x p patches. Time slot u holds frames
 * u*s .. u*s+s-1; frames past F (the SAME padding at the end of the time axis) read as zeros
 * and are dropped when written back. Tokens are (u, r, c) row-major and the vector is ordered
 * (frame-in-slot, row, column, channel), i.e. the Conv3D kernel (s,p,p,C,E) flattened and the
 * rearrange 'b (t h w) (t1 h1 w1 c) -> b (t t1) (h h1) (w w1) c'. An image is the case F = s = 1.
 *
 * Channel conditioning (rin's video_cond = channels, not in the spec): the noisy part's patches
 * with C (1 + k) channels per pixel, the last k clean frames' pixels after the noisy ones.
 */
#include <string.h>

#include "internal.h"
#include "ops.h"
#include "profile.h"

typedef struct geom {
    int B, F, H, W, C, s, p;
    int n, tok0; /* tokens per example in the patch array; the first one this clip fills */
    size_t row;  /* floats per token row; 0: s p p C (a halo layout's rows are wider) */
} geom;

/* dir 0: patches <- clip; dir 1: clip <- patches; accumulate: += instead of =. */
static void permute(float *patches, float *clip, const geom *g, int dir, int accumulate) {
    int H = g->H, W = g->W, C = g->C, s = g->s, p = g->p, gw = W / p;
    int grid = (H / p) * gw, slots = (g->F + s - 1) / s, nt = slots * grid;
    size_t P = g->row ? g->row : (size_t)s * p * p * C;
    double prof_t0 = RIN_PROF_BEGIN();
#pragma omp parallel for
    for (int bt = 0; bt < g->B * nt; bt++) {
        int b = bt / nt, t = bt % nt, u = t / grid, r = (t % grid) / gw, c = t % gw;
        float *pv = patches + ((size_t)b * g->n + g->tok0 + t) * P;
        for (int f1 = 0; f1 < s; f1++) {
            int f = u * s + f1;
            float *pf = pv + (size_t)f1 * p * p * C;
            if (f >= g->F) { /* padding frame */
                if (dir == 0 && !accumulate)
                    memset(pf, 0, (size_t)p * p * C * sizeof(float));
                continue;
            }
            for (int i = 0; i < p; i++) {
                float *row =
                    clip +
                    ((((size_t)b * g->F + f) * H + (size_t)r * p + i) * W + (size_t)c * p) * C;
                float *pr = pf + (size_t)i * p * C;
                for (int e = 0; e < p * C; e++) {
                    if (dir == 0)
                        pr[e] = accumulate ? pr[e] + row[e] : row[e];
                    else
                        row[e] = accumulate ? row[e] + pr[e] : pr[e];
                }
            }
        }
    }
    RIN_PROF_END(PATCH, prof_t0, 0);
}

static geom image_geom(int B, int H, int W, int C, int p) {
    return (geom){
        .B = B, .F = 1, .H = H, .W = W, .C = C, .s = 1, .p = p, .n = (H / p) * (W / p), .tok0 = 0};
}

void rin_patchify(float *patches, const float *img, int B, int H, int W, int C, int p) {
    geom g = image_geom(B, H, W, C, p);
    permute(patches, (float *)(uintptr_t)img, &g, 0, 0);
}

void rin_unpatchify(float *img, const float *patches, int B, int H, int W, int C, int p) {
    geom g = image_geom(B, H, W, C, p);
    permute((float *)(uintptr_t)patches, img, &g, 1, 0);
}

void rin_patchify_backward(float *dimg, const float *dpatches, int B, int H, int W, int C, int p) {
    geom g = image_geom(B, H, W, C, p);
    permute((float *)(uintptr_t)dpatches, dimg, &g, 1, 1);
}

void rin_unpatchify_backward(float *dpatches, const float *dimg, int B, int H, int W, int C,
                             int p) {
    geom g = image_geom(B, H, W, C, p);
    permute(dpatches, (float *)(uintptr_t)dimg, &g, 0, 0);
}

static geom video_geom(const rin_video_patch *v, int B) {
    return (geom){.B = B,
                  .F = v->F,
                  .H = v->H,
                  .W = v->W,
                  .C = v->C,
                  .s = v->s,
                  .p = v->p,
                  .n = v->n,
                  .tok0 = v->tok0};
}

void rin_patchify3d(float *patches, const float *clip, const rin_video_patch *v, int B) {
    geom g = video_geom(v, B);
    permute(patches, (float *)(uintptr_t)clip, &g, 0, 0);
}

void rin_unpatchify3d(float *clip, const float *patches, const rin_video_patch *v, int B) {
    geom g = video_geom(v, B);
    permute((float *)(uintptr_t)patches, clip, &g, 1, 0);
}

void rin_patchify3d_backward(float *dclip, const float *dpatches, const rin_video_patch *v, int B) {
    geom g = video_geom(v, B);
    permute((float *)(uintptr_t)dpatches, dclip, &g, 1, 1);
}

void rin_unpatchify3d_backward(float *dpatches, const float *dclip, const rin_video_patch *v,
                               int B) {
    geom g = video_geom(v, B);
    permute(dpatches, (float *)(uintptr_t)dclip, &g, 0, 0);
}

/* dir 0: patches <- [clip | cond frames Nc-k..Nc-1] per pixel; dir 1: dclip += the clip channels
 * of patches (cond is not read). */
static void stack_permute(float *patches, float *clip, const float *cond, int Nc, int k,
                          const rin_video_patch *v, int B, int dir) {
    int F = v->F, H = v->H, W = v->W, C = v->C, s = v->s, p = v->p, gw = W / p;
    int grid = (H / p) * gw, nt = ((F + s - 1) / s) * grid, Ct = C * (1 + k);
    size_t P = (size_t)s * p * p * Ct, frame = (size_t)H * W * C;
    double prof_t0 = RIN_PROF_BEGIN();
#pragma omp parallel for
    for (int bt = 0; bt < B * nt; bt++) {
        int b = bt / nt, t = bt % nt, u = t / grid, r = (t % grid) / gw, c = t % gw;
        float *pv = patches + ((size_t)b * v->n + v->tok0 + t) * P;
        const float *cb = cond ? cond + ((size_t)b * Nc + (Nc - k)) * frame : NULL;
        for (int f1 = 0; f1 < s; f1++) {
            int f = u * s + f1;
            float *pf = pv + (size_t)f1 * p * p * Ct;
            if (f >= F) { /* padding frame: zero in every channel */
                if (dir == 0)
                    memset(pf, 0, (size_t)p * p * Ct * sizeof(float));
                continue;
            }
            for (int i = 0; i < p; i++)
                for (int j = 0; j < p; j++) {
                    size_t pix = ((size_t)r * p + i) * W + (size_t)c * p + j;
                    float *x = clip + ((size_t)b * F + f) * frame + pix * C;
                    float *e = pf + ((size_t)i * p + j) * Ct;
                    if (dir == 1) {
                        for (int ch = 0; ch < C; ch++)
                            x[ch] += e[ch];
                        continue;
                    }
                    for (int ch = 0; ch < C; ch++)
                        e[ch] = x[ch];
                    for (int m = 0; m < k; m++)
                        memcpy(e + (size_t)(1 + m) * C, cb + (size_t)m * frame + pix * C,
                               (size_t)C * sizeof(float));
                }
        }
    }
    RIN_PROF_END(PATCH, prof_t0, 0);
}

/* Floats per token row of a halo layout: the noisy patch, then k windows of (p + 2h)^2 pixels. */
static size_t halo_row(const rin_video_patch *v, int k, int h) {
    size_t w = (size_t)v->p + 2 * (size_t)h;
    return (size_t)v->s * v->p * v->p * v->C + (size_t)k * w * w * v->C;
}

/* With a halo h > 0: each token's row is its noisy patch (s p p C, as rin_patchify3d cuts it)
 * followed by the k clean windows, written here (dir 0 only: the clean frames get no gradient). */
static void halo_windows(float *patches, const float *cond, int Nc, int k, int h,
                         const rin_video_patch *v, int B) {
    int F = v->F, H = v->H, W = v->W, C = v->C, s = v->s, p = v->p, gw = W / p, w = p + 2 * h;
    int grid = (H / p) * gw, nt = ((F + s - 1) / s) * grid;
    size_t Pn = (size_t)s * p * p * C, Pin = halo_row(v, k, h);
    size_t frame = (size_t)H * W * C;
    double prof_t0 = RIN_PROF_BEGIN();
#pragma omp parallel for
    for (int bt = 0; bt < B * nt; bt++) {
        int b = bt / nt, t = bt % nt, r = (t % grid) / gw, c = t % gw;
        float *e = patches + ((size_t)b * v->n + v->tok0 + t) * Pin + Pn;
        for (int m = 0; m < k; m++) {
            const float *cf = cond + ((size_t)b * Nc + (Nc - k + m)) * frame;
            /* columns x0 .. x0 + w - 1 of the frame; [lo, hi) of them are inside it */
            int x0 = c * p - h, lo = x0 < 0 ? -x0 : 0, hi = x0 + w > W ? W - x0 : w;
            for (int i = 0; i < w; i++, e += (size_t)w * C) {
                int y = r * p - h + i;
                if (y < 0 || y >= H || hi <= lo) {
                    memset(e, 0, (size_t)w * C * sizeof(float));
                    continue;
                }
                memset(e, 0, (size_t)lo * C * sizeof(float));
                memcpy(e + (size_t)lo * C, cf + ((size_t)y * W + x0 + lo) * C,
                       (size_t)(hi - lo) * C * sizeof(float));
                memset(e + (size_t)hi * C, 0, (size_t)(w - hi) * C * sizeof(float));
            }
        }
    }
    RIN_PROF_END(PATCH, prof_t0, 0);
}

void rin_patchify3d_stack(float *patches, const float *clip, const float *cond, int Nc, int k,
                          int halo, const rin_video_patch *v, int B) {
    RIN_ASSERT(k >= 1 && k <= Nc && cond && halo >= 0);
    if (halo == 0) {
        stack_permute(patches, (float *)(uintptr_t)clip, cond, Nc, k, v, B, 0);
        return;
    }
    geom g = video_geom(v, B);
    g.row = halo_row(v, k, halo);
    permute(patches, (float *)(uintptr_t)clip, &g, 0, 0);
    halo_windows(patches, cond, Nc, k, halo, v, B);
}

void rin_patchify3d_stack_backward(float *dclip, const float *dpatches, int k, int halo,
                                   const rin_video_patch *v, int B) {
    RIN_ASSERT(k >= 1 && halo >= 0);
    if (halo == 0) {
        stack_permute((float *)(uintptr_t)dpatches, dclip, NULL, 0, k, v, B, 1);
        return;
    }
    geom g = video_geom(v, B);
    g.row = halo_row(v, k, halo);
    permute((float *)(uintptr_t)dpatches, dclip, &g, 1, 1);
}
