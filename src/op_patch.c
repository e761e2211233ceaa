/* op_patch.c -- patchify and unpatchify (spec 1.1 and 1.6).
 *
 * patches[b, r*(W/p)+c, (i*p+j)*C+ch] = img[b, r*p+i, c*p+j, ch]: row-major tokens, patch
 * vectors ordered (row-in-patch, column-in-patch, channel) like the stem kernel (p,p,C,E), and
 * unpatchify is TF depth_to_space with the same order. The two are inverse permutations, so
 * each one's adjoint is the other.
 */
#include "ops.h"
#include "profile.h"

/* dir 0: patches <- img; dir 1: img <- patches; accumulate: += instead of =. */
static void permute(float *patches, float *img, int B, int H, int W, int C, int p, int dir,
                    int accumulate) {
    int gw = W / p, n = (H / p) * gw, P = p * p * C;
#pragma omp parallel for
    for (int bt = 0; bt < B * n; bt++) {
        int b = bt / n, t = bt % n, r = t / gw, c = t % gw;
        float *pv = patches + (size_t)bt * P;
        for (int i = 0; i < p; i++) {
            float *row = img + (((size_t)b * H + (size_t)r * p + i) * W + (size_t)c * p) * C;
            float *pr = pv + (size_t)i * p * C;
            for (int e = 0; e < p * C; e++) {
                if (dir == 0)
                    pr[e] = accumulate ? pr[e] + row[e] : row[e];
                else
                    row[e] = accumulate ? row[e] + pr[e] : pr[e];
            }
        }
    }
}

void rin_patchify(float *patches, const float *img, int B, int H, int W, int C, int p) {
    double prof_t0 = RIN_PROF_BEGIN();
    permute(patches, (float *)(uintptr_t)img, B, H, W, C, p, 0, 0);
    RIN_PROF_END(PATCH, prof_t0, 0);
}

void rin_unpatchify(float *img, const float *patches, int B, int H, int W, int C, int p) {
    double prof_t0 = RIN_PROF_BEGIN();
    permute((float *)(uintptr_t)patches, img, B, H, W, C, p, 1, 0);
    RIN_PROF_END(PATCH, prof_t0, 0);
}

void rin_patchify_backward(float *dimg, const float *dpatches, int B, int H, int W, int C, int p) {
    double prof_t0 = RIN_PROF_BEGIN();
    permute((float *)(uintptr_t)dpatches, dimg, B, H, W, C, p, 1, 1);
    RIN_PROF_END(PATCH, prof_t0, 0);
}

void rin_unpatchify_backward(float *dpatches, const float *dimg, int B, int H, int W, int C,
                             int p) {
    double prof_t0 = RIN_PROF_BEGIN();
    permute(dpatches, (float *)(uintptr_t)dimg, B, H, W, C, p, 0, 0);
    RIN_PROF_END(PATCH, prof_t0, 0);
}
