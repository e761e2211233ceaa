/* test_featnet.c -- the convolution ops of op_conv.c and the feature network of featnet.c.
 *
 * T1 finite differences (gradcheck.h: L = sum(out * R) in double, central differences with
 * h = 1e-2 in float32, pass if |g_fd - g_an| <= 1e-3 + 1e-2 |g_fd|) for conv2d (dx, dw, db;
 * odd sizes, Ci > 1, fast and naive), 2x2 max pooling (inputs spaced 0.05 apart so no
 * perturbation changes an argmax), ReLU (inputs at least 0.05 from the kink) and softmax
 * cross-entropy (4-point stencil); every backward is also run on non-zero buffers to check that
 * it accumulates. T0: the im2col + GEMM convolution against the direct loops. Forward
 * semantics that differences cannot see: cross-correlation orientation, pooling ties and floor
 * mode, cross-entropy closed forms. Whole network: a directional check per parameter tensor
 * (KANN-style), batch independence, a short training run on a synthetic 2-class problem through
 * rin_featnet_train, the safetensors round trip and the rejection of wrong files, and the
 * committed Fashion-MNIST network's accuracy (skipped when the data or the file is absent).
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "data.h"
#include "featnet.h"
#include "gradcheck.h"
#include "internal.h"
#include "ops.h"
#include "test.h"

#define T0_ATOL 1e-5
#define T0_RTOL 1e-4

static float *copy_of(const float *x, size_t n) {
    float *p = gc_zeros(n);
    memcpy(p, x, n * sizeof *p);
    return p;
}

/* ---- conv2d: T1 --------------------------------------------------------------------------------
 */

typedef struct conv_ctx {
    float *out, *col;
    const float *x, *w, *b, *R;
    int B, H, W, Ci, Co, kh, kw, naive;
} conv_ctx;

static size_t conv_nout(const conv_ctx *c) {
    return (size_t)c->B * (size_t)(c->H - c->kh + 1) * (size_t)(c->W - c->kw + 1) * (size_t)c->Co;
}

static double conv_loss(void *p) {
    conv_ctx *c = p;
    if (c->naive)
        rin_conv2d_forward_naive(c->out, c->x, c->w, c->b, c->B, c->H, c->W, c->Ci, c->Co, c->kh,
                                 c->kw);
    else
        rin_conv2d_forward(c->out, c->col, c->x, c->w, c->b, c->B, c->H, c->W, c->Ci, c->Co, c->kh,
                           c->kw);
    return gc_dot(c->out, c->R, conv_nout(c));
}

/* Runs the backward of the variant c->naive (the fast one reads c->col from the last forward). */
static void conv_bwd(conv_ctx *c, float *dx, float *dw, float *db, float *dcol) {
    if (c->naive)
        rin_conv2d_backward_naive(dx, dw, db, c->R, c->x, c->w, c->B, c->H, c->W, c->Ci, c->Co,
                                  c->kh, c->kw);
    else
        rin_conv2d_backward(dx, dw, db, dcol, c->R, c->col, c->w, c->B, c->H, c->W, c->Ci, c->Co,
                            c->kh, c->kw);
}

TEST(featnet_conv2d_fd) {
    /* B, H, W, Ci, Co, kh, kw: odd sizes, Ci > 1, non-square kernels, a kernel as large as the
     * image (one output position) */
    static const int cases[][7] = {
        {2, 6, 7, 3, 4, 3, 2}, {1, 5, 5, 2, 3, 5, 5}, {2, 4, 5, 1, 2, 1, 3}};
    for (int ci = 0; ci < 3; ci++) {
        const int *k = cases[ci];
        int B = k[0], H = k[1], W = k[2], Ci = k[3], Co = k[4], kh = k[5], kw = k[6];
        size_t nx = (size_t)B * H * W * Ci, nw = (size_t)Co * kh * kw * Ci;
        size_t ncol = (size_t)B * (H - kh + 1) * (W - kw + 1) * kh * kw * Ci;
        unsigned long long s = 1000u + 10u * (unsigned)ci;
        for (int naive = 0; naive < 2; naive++) {
            float *x = gc_uniform(nx, s, -1.0f, 1.0f), *w = gc_uniform(nw, s + 1, -1.0f, 1.0f);
            float *b = gc_uniform((size_t)Co, s + 2, -1.0f, 1.0f);
            conv_ctx c = {NULL, gc_zeros(ncol), x, w, b, NULL, B, H, W, Ci, Co, kh, kw, naive};
            size_t nout = conv_nout(&c);
            c.out = gc_zeros(nout);
            float *R = gc_uniform(nout, s + 3, -1.0f, 1.0f);
            c.R = R;
            float *dx = gc_zeros(nx), *dw = gc_zeros(nw), *db = gc_zeros((size_t)Co);
            float *dcol = gc_zeros(ncol);
            conv_loss(&c);
            conv_bwd(&c, dx, dw, db, dcol);
            char what[128];
            const char *tag = naive ? "naive" : "fast";
            /* accumulation: backward into non-zero buffers gives g0 + g */
            float *dx0 = gc_uniform(nx, s + 4, -1.0f, 1.0f),
                  *dw0 = gc_uniform(nw, s + 5, -1.0f, 1.0f);
            float *db0 = gc_uniform((size_t)Co, s + 6, -1.0f, 1.0f);
            float *dxA = copy_of(dx0, nx), *dwA = copy_of(dw0, nw), *dbA = copy_of(db0, (size_t)Co);
            conv_bwd(&c, dxA, dwA, dbA, dcol);
            snprintf(what, sizeof what, "conv2d %s case %d dx", tag, ci);
            GC_ACCUM_CHECK(what, dxA, dx0, dx, nx);
            snprintf(what, sizeof what, "conv2d %s case %d dw", tag, ci);
            GC_ACCUM_CHECK(what, dwA, dw0, dw, nw);
            snprintf(what, sizeof what, "conv2d %s case %d db", tag, ci);
            GC_ACCUM_CHECK(what, dbA, db0, db, (size_t)Co);

            snprintf(what, sizeof what, "conv2d %s case %d dx", tag, ci);
            GC_FD_CHECK(what, conv_loss, &c, x, dx, nx, GC_STENCIL2);
            snprintf(what, sizeof what, "conv2d %s case %d dw", tag, ci);
            GC_FD_CHECK(what, conv_loss, &c, w, dw, nw, GC_STENCIL2);
            snprintf(what, sizeof what, "conv2d %s case %d db", tag, ci);
            GC_FD_CHECK(what, conv_loss, &c, b, db, (size_t)Co, GC_STENCIL2);
            free(x), free(w), free(b), free(R), free(c.out), free(c.col), free(dx), free(dw);
            free(db), free(dcol), free(dx0), free(dw0), free(db0), free(dxA), free(dwA), free(dbA);
        }
    }
}

/* ---- conv2d: T0 and orientation ------------------------------------------------------------- */

/* T0 with the absolute part scaled by the tensor's largest magnitude: |a - b| <= 1e-5 max|ref| +
 * 1e-4 |ref|. The convolutions sum up to 800 (dx, out) or 1152 (dw) products of [-1, 1]
 * values, so outputs reach 40 while single elements cancel to near 0; there the two summation
 * orders differ by a few ulp of the partial sums (measured: 1.6e-5 at an output of -0.014,
 * max |ref| 37), more than the fixed 1e-5 of short reductions. Normalised max error stays at
 * 1e-6. */
static int conv_compare(const char *what, const float *got, const float *ref, size_t n) {
    double mx = 0.0;
    for (size_t i = 0; i < n; i++)
        mx = fmax(mx, fabs((double)ref[i]));
    return GC_COMPARE_F32(what, got, ref, n, T0_ATOL * fmax(mx, 1.0), T0_RTOL);
}

static void conv_parity_case(int B, int H, int W, int Ci, int Co, int kh, int kw,
                             unsigned long long s) {
    int Ho = H - kh + 1, Wo = W - kw + 1;
    size_t nx = (size_t)B * H * W * Ci, nw = (size_t)Co * kh * kw * Ci;
    size_t nout = (size_t)B * Ho * Wo * Co, ncol = (size_t)B * Ho * Wo * kh * kw * Ci;
    float *x = gc_uniform(nx, s, -1.0f, 1.0f), *w = gc_uniform(nw, s + 1, -1.0f, 1.0f);
    float *b = gc_uniform((size_t)Co, s + 2, -1.0f, 1.0f);
    float *dout = gc_uniform(nout, s + 3, -1.0f, 1.0f);
    float *col = gc_zeros(ncol), *dcol = gc_zeros(ncol);
    float *of = gc_zeros(nout), *orf = gc_zeros(nout);
    char what[128];
    for (size_t i = 0; i < nout; i++)
        of[i] = orf[i] = 1e30f; /* forward overwrites */
    for (size_t i = 0; i < ncol; i++)
        col[i] = dcol[i] = 1e30f; /* scratch is overwritten */
    rin_conv2d_forward(of, col, x, w, b, B, H, W, Ci, Co, kh, kw);
    rin_conv2d_forward_naive(orf, x, w, b, B, H, W, Ci, Co, kh, kw);
    snprintf(what, sizeof what, "T0 conv2d (%d,%d,%d,%d)->%d k%dx%d out", B, H, W, Ci, Co, kh, kw);
    conv_compare(what, of, orf, nout);
    rin_conv2d_forward(of, col, x, w, NULL, B, H, W, Ci, Co, kh, kw);
    rin_conv2d_forward_naive(orf, x, w, NULL, B, H, W, Ci, Co, kh, kw);
    snprintf(what, sizeof what, "T0 conv2d (%d,%d,%d,%d)->%d out b=NULL", B, H, W, Ci, Co);
    conv_compare(what, of, orf, nout);

    float *dx0 = gc_uniform(nx, s + 4, -1.0f, 1.0f), *dw0 = gc_uniform(nw, s + 5, -1.0f, 1.0f);
    float *db0 = gc_uniform((size_t)Co, s + 6, -1.0f, 1.0f);
    float *dxf = copy_of(dx0, nx), *dwf = copy_of(dw0, nw), *dbf = copy_of(db0, (size_t)Co);
    float *dxr = copy_of(dx0, nx), *dwr = copy_of(dw0, nw), *dbr = copy_of(db0, (size_t)Co);
    rin_conv2d_backward(dxf, dwf, dbf, dcol, dout, col, w, B, H, W, Ci, Co, kh, kw);
    rin_conv2d_backward_naive(dxr, dwr, dbr, dout, x, w, B, H, W, Ci, Co, kh, kw);
    snprintf(what, sizeof what, "T0 conv2d (%d,%d,%d,%d)->%d dx (+=)", B, H, W, Ci, Co);
    conv_compare(what, dxf, dxr, nx);
    snprintf(what, sizeof what, "T0 conv2d (%d,%d,%d,%d)->%d dw (+=)", B, H, W, Ci, Co);
    conv_compare(what, dwf, dwr, nw);
    snprintf(what, sizeof what, "T0 conv2d (%d,%d,%d,%d)->%d db (+=)", B, H, W, Ci, Co);
    conv_compare(what, dbf, dbr, (size_t)Co);
    /* dx = NULL, db = NULL: dw alone, dcol not needed */
    float *dw2 = copy_of(dw0, nw);
    rin_conv2d_backward(NULL, dw2, NULL, NULL, dout, col, w, B, H, W, Ci, Co, kh, kw);
    snprintf(what, sizeof what, "T0 conv2d (%d,%d,%d,%d)->%d dw, dx=db=NULL", B, H, W, Ci, Co);
    conv_compare(what, dw2, dwr, nw);
    free(x), free(w), free(b), free(dout), free(col), free(dcol), free(of), free(orf);
    free(dx0), free(dw0), free(db0), free(dxf), free(dwf), free(dbf), free(dxr), free(dwr);
    free(dbr), free(dw2);
}

TEST(featnet_conv2d_parity) {
    /* the two layers of the network at batch 2, and odd shapes */
    conv_parity_case(2, 28, 28, 1, 32, 5, 5, 1100);
    conv_parity_case(2, 12, 12, 32, 64, 5, 5, 1110);
    conv_parity_case(3, 13, 11, 5, 7, 5, 3, 1120);
    conv_parity_case(1, 7, 9, 3, 13, 2, 4, 1130);

    /* orientation: cross-correlation as PyTorch (no kernel flip), im2col order (i, j, ci).
     * x = 1..9 on a 3x3 grid, w = [[1, 0], [0, -1]]: out[y,x] = x[y,x] - x[y+1,x+1] = -4. Two
     * input channels with w = (1, 10) per tap check the channel order: channel 1 = 100 x. */
    float x1[9], w1[4] = {1, 0, 0, -1}, out[4], col[16];
    for (int i = 0; i < 9; i++)
        x1[i] = (float)(i + 1);
    rin_conv2d_forward(out, col, x1, w1, NULL, 1, 3, 3, 1, 1, 2, 2);
    for (int i = 0; i < 4; i++)
        CHECK_MSG(out[i] == -4.0f, "conv orientation: out[%d] = %g, expected -4", i,
                  (double)out[i]);
    float x2[18], w2[8] = {1, 10, 0, 0, 0, 0, 0, 0}, out2[4], col2[32];
    for (int i = 0; i < 9; i++) {
        x2[2 * i] = (float)(i + 1);
        x2[2 * i + 1] = 100.0f * (float)(i + 1);
    }
    rin_conv2d_forward(out2, col2, x2, w2, NULL, 1, 3, 3, 2, 1, 2, 2);
    /* out[y,x] = x0[y,x] + 10 * x1[y,x] = 1001 * x[y,x]; x[0,0] = 1, x[1,1] = 5 */
    CHECK_MSG(out2[0] == 1001.0f && out2[3] == 5005.0f,
              "conv channel order: out = %g %g, expected 1001 5005", (double)out2[0],
              (double)out2[3]);
}

/* ---- max pooling ---------------------------------------------------------------------------- */

typedef struct pool_ctx {
    float *out;
    int *arg;
    const float *x, *R;
    int B, H, W, C;
} pool_ctx;

static double pool_loss(void *p) {
    pool_ctx *c = p;
    rin_maxpool2_forward(c->out, c->arg, c->x, c->B, c->H, c->W, c->C);
    return gc_dot(c->out, c->R, (size_t)c->B * (c->H / 2) * (c->W / 2) * c->C);
}

/* x: a shuffled ramp with steps of 0.05, so that h = 1e-2 never changes an argmax. */
static float *distinct_values(size_t n, uint64_t seed) {
    float *x = gc_zeros(n);
    for (size_t i = 0; i < n; i++)
        x[i] = 0.05f * ((float)i - 0.5f * (float)n);
    rin_rng r;
    rin_rng_seed(&r, seed);
    for (size_t i = n - 1; i > 0; i--) {
        size_t j = (size_t)(rin_rng_u64(&r) % (uint64_t)(i + 1));
        float t = x[i];
        x[i] = x[j];
        x[j] = t;
    }
    return x;
}

TEST(featnet_maxpool_fd) {
    /* odd H: the last row is dropped (floor mode) and gets no gradient */
    const int B = 2, H = 5, W = 6, C = 3;
    size_t nx = (size_t)B * H * W * C, nout = (size_t)B * (H / 2) * (W / 2) * C;
    float *x = distinct_values(nx, 1200);
    float *R = gc_uniform(nout, 1201, -1.0f, 1.0f), *out = gc_zeros(nout), *dx = gc_zeros(nx);
    int *arg = calloc(nout, sizeof *arg);
    pool_ctx c = {out, arg, x, R, B, H, W, C};
    pool_loss(&c);
    /* out is the window maximum computed directly */
    for (int b = 0; b < B; b++)
        for (int y = 0; y < H / 2; y++)
            for (int xo = 0; xo < W / 2; xo++)
                for (int ch = 0; ch < C; ch++) {
                    float m = -INFINITY;
                    for (int k = 0; k < 4; k++) {
                        float v =
                            x[(((size_t)b * H + 2 * y + (k >> 1)) * W + 2 * xo + (k & 1)) * C + ch];
                        m = v > m ? v : m;
                    }
                    size_t o = (((size_t)b * (H / 2) + y) * (W / 2) + xo) * C + ch;
                    CHECK_MSG(out[o] == m, "maxpool out[%zu] = %g, window max %g", o,
                              (double)out[o], (double)m);
                }
    rin_maxpool2_backward(dx, R, arg, B, H, W, C);
    float *dx0 = gc_uniform(nx, 1202, -1.0f, 1.0f), *dxA = copy_of(dx0, nx);
    rin_maxpool2_backward(dxA, R, arg, B, H, W, C);
    GC_ACCUM_CHECK("maxpool dx", dxA, dx0, dx, nx);
    GC_FD_CHECK("maxpool dx", pool_loss, &c, x, dx, nx, GC_STENCIL2);

    /* ties: the first maximum in (di, dj) order wins, as in the comment of ops.h */
    float xt[4] = {1.0f, 3.0f, 3.0f, 2.0f}, ot;
    int at;
    rin_maxpool2_forward(&ot, &at, xt, 1, 2, 2, 1);
    CHECK_MSG(ot == 3.0f && at == 1, "maxpool tie: out %g at %d, expected 3 at 1", (double)ot, at);
    free(x), free(R), free(out), free(dx), free(arg), free(dx0), free(dxA);
}

/* ---- ReLU ----------------------------------------------------------------------------------- */

typedef struct relu_ctx {
    float *out;
    const float *x, *R;
    size_t n;
} relu_ctx;

static double relu_loss(void *p) {
    relu_ctx *c = p;
    rin_relu_forward(c->out, c->x, c->n);
    return gc_dot(c->out, c->R, c->n);
}

TEST(featnet_relu_fd) {
    const size_t n = 97;
    float *x = gc_uniform(n, 1300, -1.0f, 1.0f);
    for (size_t i = 0; i < n; i++) /* at least 0.05 from the kink at 0 */
        x[i] = x[i] < 0.0f ? x[i] * 0.95f - 0.05f : x[i] * 0.95f + 0.05f;
    float *R = gc_uniform(n, 1301, -1.0f, 1.0f), *out = gc_zeros(n), *dx = gc_zeros(n);
    relu_ctx c = {out, x, R, n};
    relu_loss(&c);
    for (size_t i = 0; i < n; i++)
        CHECK(out[i] == (x[i] > 0.0f ? x[i] : 0.0f));
    rin_relu_backward(dx, R, out, n);
    float *dx0 = gc_uniform(n, 1302, -1.0f, 1.0f), *dxA = copy_of(dx0, n);
    rin_relu_backward(dxA, R, out, n);
    GC_ACCUM_CHECK("relu dx", dxA, dx0, dx, n);
    GC_FD_CHECK("relu dx", relu_loss, &c, x, dx, n, GC_STENCIL2);
    /* in place, as featnet uses it */
    float *y = copy_of(x, n);
    rin_relu_forward(y, y, n);
    GC_BITWISE("relu in place", y, out, n);
    free(x), free(R), free(out), free(dx), free(dx0), free(dxA), free(y);
}

/* ---- softmax cross-entropy ------------------------------------------------------------------ */

typedef struct xent_ctx {
    const float *z;
    const int *labels;
    int B, K;
} xent_ctx;

static double xent_loss(void *p) {
    xent_ctx *c = p;
    return rin_softmax_xent_forward_backward(NULL, c->z, c->labels, c->B, c->K);
}

TEST(featnet_softmax_xent) {
    const int B = 4, K = 7;
    size_t n = (size_t)B * K;
    float *z = gc_uniform(n, 1400, -2.0f, 2.0f), *dz = gc_zeros(n);
    int labels[4] = {0, 6, 3, 3};
    xent_ctx c = {z, labels, B, K};
    for (size_t i = 0; i < n; i++)
        dz[i] = 1e30f; /* overwritten */
    double L = rin_softmax_xent_forward_backward(dz, z, labels, B, K);
    /* the loss against a direct double computation */
    double ref = 0.0;
    for (int b = 0; b < B; b++) {
        double s = 0.0;
        for (int k = 0; k < K; k++)
            s += exp((double)z[b * K + k]);
        ref += log(s) - (double)z[b * K + labels[b]];
    }
    ref /= B;
    CHECK_CLOSE(L, ref, 1e-12, 1e-12);
    for (int b = 0; b < B; b++) { /* each gradient row sums to 0 */
        double s = 0.0;
        for (int k = 0; k < K; k++)
            s += (double)dz[b * K + k];
        CHECK_CLOSE(s, 0.0, 1e-7, 0.0);
    }
    GC_FD_CHECK("softmax xent dlogits", xent_loss, &c, z, dz, n, GC_STENCIL4);

    /* closed forms: uniform logits give ln K; huge margins neither overflow nor lose the value */
    float zu[10] = {0}, zb[2] = {1000.0f, 0.0f};
    int y0 = 3, y1 = 1;
    CHECK_CLOSE(rin_softmax_xent_forward_backward(NULL, zu, &y0, 1, 10), log(10.0), 1e-12, 0.0);
    CHECK_CLOSE(rin_softmax_xent_forward_backward(NULL, zb, &y1, 1, 2), 1000.0, 1e-9, 0.0);
    float g[2];
    y0 = 0;
    CHECK_CLOSE(rin_softmax_xent_forward_backward(g, zb, &y0, 1, 2), 0.0, 1e-12, 0.0);
    CHECK(g[0] == 0.0f && g[1] == 0.0f);
    free(z), free(dz);
}

/* ---- the network ---------------------------------------------------------------------------- */

TEST(featnet_table) {
    const rin_featnet_tensor *t = rin_featnet_table();
    size_t off = 0;
    for (int i = 0; i < RIN_FEATNET_NTENSORS; i++) {
        size_t numel = 1;
        for (int d = 0; d < t[i].ndim; d++)
            numel *= (size_t)t[i].shape[d];
        CHECK_MSG(t[i].offset == off && t[i].numel == numel,
                  "tensor %s: offset %zu numel %zu, expected %zu %zu", t[i].name, t[i].offset,
                  t[i].numel, off, numel);
        off += numel;
    }
    /* 32*25+32 + 64*800+64 + 128*1024+128 + 10*128+10 */
    CHECK(rin_featnet_num_params() == 184586);
    CHECK(off == rin_featnet_num_params());

    char err[512] = "";
    CHECK(rin_featnet_check_size(28, 28, 1, err, sizeof err) == RIN_STATUS_OK);
    CHECK(rin_featnet_check_size(32, 32, 3, err, sizeof err) == RIN_STATUS_FORMAT);
    CHECK_MSG(strstr(err, "28x28x1") && strstr(err, "32x32x3"), "message: %s", err);
    /* a 32x32x3 dataset is refused by name */
    rin_dataset d = {.n = 1, .H = 32, .W = 32, .C = 3, .num_classes = 10};
    uint8_t img[32 * 32 * 3] = {0};
    int lab = 0;
    d.images = img;
    d.labels = &lab;
    snprintf(d.name, sizeof d.name, "cifar10:somewhere");
    rin_featnet *net;
    CHECK(rin_featnet_create(&net, 4, 0, err, sizeof err) == RIN_STATUS_OK);
    double acc;
    err[0] = 0;
    CHECK(rin_featnet_accuracy(net, &d, &acc, NULL, err, sizeof err) == RIN_STATUS_FORMAT);
    CHECK_MSG(strstr(err, "cifar10:somewhere") && strstr(err, "28x28x1"), "message: %s", err);
    float x[28 * 28];
    CHECK(rin_featnet_forward(net, x, 5, NULL, NULL) == RIN_STATUS_ARG); /* over max_batch */
    CHECK(rin_featnet_backward(net, NULL, NULL, x) == RIN_STATUS_ARG);   /* inference mode */
    rin_featnet_free(net);
}

typedef struct net_ctx {
    rin_featnet *net;
    const float *x, *Rf;
    const int *labels;
    int B;
} net_ctx;

/* L = xent(logits) + sum(features * Rf), so both outputs' backward paths are exercised. */
static double net_loss(void *p) {
    net_ctx *c = p;
    rin_featnet_forward(c->net, c->x, c->B, NULL, NULL);
    return rin_softmax_xent_forward_backward(NULL, c->net->logits, c->labels, c->B,
                                             RIN_FEATNET_CLASSES) +
           gc_dot(c->net->feat, c->Rf, (size_t)c->B * RIN_FEATNET_FEATURES);
}

TEST(featnet_model_directional) {
    /* T4 per tensor: a direction d over one tensor, g.d against the 4-point difference of
     * L(p + s h d). L is only piecewise smooth (ReLU and pooling kinks): a kink crossed inside
     * [p-2hd, p+2hd] adds an error of order h, float32 forward noise one of order 1e-6/h. Two
     * choices keep both small: d_k = sign(g_k) u_k with u_k in [0.5, 1] (so g.d = sum |g_k| u_k
     * is large; a wrong sign or size of any g_k still shows), and h = 1e-2 / (g.d), so that
     * every tensor moves L by about 1e-2. Measured errors are below 3e-3; the bound is 1e-2.
     * With a random +-1 direction and one h for all, errors of 10% and more were measured,
     * kinks and noise, not bugs. */
    const int B = 3;
    char err[512];
    rin_featnet *net;
    CHECK(rin_featnet_create(&net, B, 1, err, sizeof err) == RIN_STATUS_OK);
    rin_featnet_init(net, 5);
    const rin_featnet_tensor *t = rin_featnet_table();
    /* non-zero biases, so that their gradients are exercised off the initial point */
    for (int i = 0; i < RIN_FEATNET_NTENSORS; i++)
        if (t[i].ndim == 1)
            test_fill_uniform(net->params + t[i].offset, t[i].numel, 1500u + (unsigned)i, -0.1f,
                              0.1f);
    size_t np = rin_featnet_num_params();
    float *x = gc_uniform((size_t)B * 28 * 28, 1510, -1.0f, 1.0f);
    float *Rf = gc_uniform((size_t)B * RIN_FEATNET_FEATURES, 1511, -0.2f, 0.2f);
    float *dl = gc_zeros((size_t)B * RIN_FEATNET_CLASSES), *g = gc_zeros(np);
    int labels[3] = {2, 7, 9};
    net_ctx c = {net, x, Rf, labels, B};
    net_loss(&c);
    rin_softmax_xent_forward_backward(dl, net->logits, labels, B, RIN_FEATNET_CLASSES);
    CHECK(rin_featnet_backward(net, dl, Rf, g) == RIN_STATUS_OK);
    GC_FINITE("featnet grads", g, np);
    float *p0 = copy_of(net->params, np);
    for (int i = 0; i < RIN_FEATNET_NTENSORS; i++) {
        float *d = gc_uniform(t[i].numel, 1520u + (unsigned)i, 0.5f, 1.0f);
        float *p = net->params + t[i].offset;
        const float *q = p0 + t[i].offset;
        double an = 0.0, f[4];
        for (size_t k = 0; k < t[i].numel; k++) {
            if (g[t[i].offset + k] < 0.0f)
                d[k] = -d[k];
            an += (double)g[t[i].offset + k] * (double)d[k];
        }
        CHECK_MSG(an > 1e-6, "tensor %s: the gradient is zero", t[i].name);
        const double h = 1e-2 / fmax(an, 1e-6);
        static const double steps[4] = {2.0, 1.0, -1.0, -2.0};
        for (int s = 0; s < 4; s++) {
            for (size_t k = 0; k < t[i].numel; k++)
                p[k] = (float)((double)q[k] + steps[s] * h * (double)d[k]);
            f[s] = net_loss(&c);
        }
        memcpy(p, q, t[i].numel * sizeof *p);
        double fd = (-f[0] + 8.0 * f[1] - 8.0 * f[2] + f[3]) / (12.0 * h);
        double rel = fabs(fd - an) / an;
        printf("  directional %-8s h %.1e  analytic %+.6e  finite difference %+.6e  rel %.2e\n",
               t[i].name, h, an, fd, rel);
        CHECK_MSG(rel < 1e-2, "tensor %s: analytic %.7g vs finite difference %.7g", t[i].name, an,
                  fd);
        free(d);
    }
    /* accumulation: a second backward adds the same gradient again */
    float *g2 = copy_of(g, np), *gz = gc_zeros(np);
    net_loss(&c);
    rin_featnet_backward(net, dl, Rf, g2);
    rin_featnet_backward(net, dl, Rf, gz);
    GC_ACCUM_CHECK("featnet grads", g2, g, gz, np);
    free(x), free(Rf), free(dl), free(g), free(p0), free(g2), free(gz);
    rin_featnet_free(net);
}

TEST(featnet_batch_independence) {
    /* the features of an image do not depend on its batch neighbours or on the mode */
    const int B = 5;
    char err[512];
    rin_featnet *tr, *inf;
    CHECK(rin_featnet_create(&tr, B, 1, err, sizeof err) == RIN_STATUS_OK);
    CHECK(rin_featnet_create(&inf, 1, 0, err, sizeof err) == RIN_STATUS_OK);
    rin_featnet_init(tr, 11);
    memcpy(inf->params, tr->params, rin_featnet_num_params() * sizeof(float));
    float *x = gc_uniform((size_t)B * 784, 1600, -1.0f, 1.0f);
    float *fb = gc_zeros((size_t)B * 128), *lb = gc_zeros((size_t)B * 10);
    float f1[128], l1[10];
    rin_featnet_forward(tr, x, B, fb, lb);
    for (int b = 0; b < B; b++) {
        rin_featnet_forward(inf, x + (size_t)b * 784, 1, f1, l1);
        char what[64];
        snprintf(what, sizeof what, "features of image %d alone", b);
        GC_COMPARE_F32(what, f1, fb + (size_t)b * 128, 128, T0_ATOL, T0_RTOL);
        snprintf(what, sizeof what, "logits of image %d alone", b);
        GC_COMPARE_F32(what, l1, lb + (size_t)b * 10, 10, T0_ATOL, T0_RTOL);
    }
    int alive = 0; /* the He init leaves a good share of the features active */
    for (int i = 0; i < B * 128; i++)
        alive += fb[i] > 0.0f;
    CHECK_MSG(alive > B * 128 / 5, "only %d of %d features are positive", alive, B * 128);
    free(x), free(fb), free(lb);
    rin_featnet_free(tr);
    rin_featnet_free(inf);
}

/* ---- training -------------------------------------------------------------------------------- */

/* n synthetic 28x28 images: class 0 a horizontal bar, class 1 a vertical bar, both 3 pixels
 * thick at a random place, on a noisy dark background. */
static rin_dataset *bars_dataset(int n, uint64_t seed) {
    rin_dataset *d = calloc(1, sizeof *d);
    d->n = n;
    d->H = d->W = 28;
    d->C = 1;
    d->num_classes = 2;
    d->images = malloc((size_t)n * 784);
    d->labels = malloc((size_t)n * sizeof *d->labels);
    snprintf(d->name, sizeof d->name, "synthetic bars");
    rin_rng r;
    rin_rng_seed(&r, seed);
    for (int i = 0; i < n; i++) {
        int cls = (int)(rin_rng_u64(&r) & 1), at = 3 + (int)(rin_rng_u64(&r) % 20);
        d->labels[i] = cls;
        uint8_t *img = d->images + (size_t)i * 784;
        for (int y = 0; y < 28; y++)
            for (int x = 0; x < 28; x++) {
                int on = cls == 0 ? (y >= at && y < at + 3) : (x >= at && x < at + 3);
                int v = (on ? 200 : 20) + (int)(rin_rng_u64(&r) % 40);
                img[y * 28 + x] = (uint8_t)v;
            }
    }
    return d;
}

typedef struct epoch_log {
    int calls;
    double loss[16], acc[16];
} epoch_log;

static void on_epoch(void *user, int epoch, int epochs, double loss, double acc, double secs) {
    epoch_log *l = user;
    printf("  epoch %d/%d: train loss %.4f, test accuracy %.4f (%.2f s)\n", epoch, epochs, loss,
           acc, secs);
    if (l->calls < 16) {
        l->loss[l->calls] = loss;
        l->acc[l->calls] = acc;
    }
    l->calls++;
}

TEST(featnet_train_tiny) {
    /* 256 training images, 8 epochs of batch 8: 256 Adam steps through rin_featnet_train
     * (constant lr, no flips), then 200 unseen test images */
    rin_dataset *train = bars_dataset(256, 1700), *test = bars_dataset(200, 1701);
    char err[512];
    rin_featnet *net;
    CHECK(rin_featnet_create(&net, 8, 1, err, sizeof err) == RIN_STATUS_OK);
    rin_featnet_init(net, 3);
    rin_featnet_train_opts o = {.epochs = 8, .batch = 8, .lr = 1e-3, .seed = 9};
    epoch_log log = {0};
    double acc = 0.0;
    rin_status s = rin_featnet_train(net, &o, train, test, on_epoch, &log, &acc, err, sizeof err);
    CHECK_MSG(s == RIN_STATUS_OK, "train: %s", err);
    CHECK(log.calls == 8);
    /* the first epoch includes the untrained start (ln 10 = 2.3); the loss must fall a lot */
    CHECK_MSG(log.loss[7] < 0.05 * log.loss[0], "loss %.4f -> %.4f", log.loss[0], log.loss[7]);
    CHECK_MSG(acc >= 0.98, "test accuracy %.4f", acc);
    CHECK(acc == log.acc[7]);

    /* the step API: a batch with a label outside [0, 10) is refused, weights untouched */
    rin_featnet_trainer *t;
    CHECK(rin_featnet_trainer_create(&t, net, 1e-3, err, sizeof err) == RIN_STATUS_OK);
    float x[784] = {0};
    int bad = 10;
    float *p0 = copy_of(net->params, rin_featnet_num_params());
    CHECK(rin_featnet_train_step(t, x, &bad, 1, NULL) == RIN_STATUS_ARG);
    GC_BITWISE("params after a refused step", net->params, p0, rin_featnet_num_params());
    free(p0);
    rin_featnet_trainer_free(t);
    rin_featnet_free(net);
    rin_dataset_free(train);
    rin_dataset_free(test);
}

/* ---- files ----------------------------------------------------------------------------------- */

static void tmp_path(char *buf, size_t len, const char *tag) {
    snprintf(buf, len, "/tmp/rin_test_featnet_%ld_%s.safetensors", (long)getpid(), tag);
}

TEST(featnet_save_load) {
    char err[512], path[256], path2[256];
    tmp_path(path, sizeof path, "a");
    tmp_path(path2, sizeof path2, "b");
    rin_featnet *a, *b;
    CHECK(rin_featnet_create(&a, 2, 0, err, sizeof err) == RIN_STATUS_OK);
    rin_featnet_init(a, 7);
    const char *meta[] = {"seed", "7", "epochs", "0", NULL};
    CHECK_MSG(rin_featnet_save(a, path, meta, err, sizeof err) == RIN_STATUS_OK, "%s", err);
    CHECK_MSG(rin_featnet_load(&b, path, 2, 1, err, sizeof err) == RIN_STATUS_OK, "%s", err);
    if (test_failed_now()) {
        rin_featnet_free(a);
        return;
    }
    size_t np = rin_featnet_num_params();
    GC_BITWISE("params after save/load", b->params, a->params, np);
    float *x = gc_uniform(2 * 784, 1800, -1.0f, 1.0f);
    float fa[256], fb[256], la[20], lb[20];
    rin_featnet_forward(a, x, 2, fa, la);
    rin_featnet_forward(b, x, 2, fb, lb);
    GC_BITWISE("features after save/load", fb, fa, 256);
    GC_BITWISE("logits after save/load", lb, la, 20);

    /* the SHA-256: 64 hex digits, the same as rin_sha256_hex of the bytes, and the same for a
     * second save of the same weights (the writer is deterministic) */
    char sha[65], sha2[65];
    CHECK(rin_file_sha256_hex(path, sha, err, sizeof err) == RIN_STATUS_OK);
    CHECK(strlen(sha) == 64 && strspn(sha, "0123456789abcdef") == 64);
    CHECK(!strcmp(sha, b->sha256));
    FILE *fp = fopen(path, "rb");
    static unsigned char bytes[1 << 20];
    size_t nb = fp ? fread(bytes, 1, sizeof bytes, fp) : 0;
    if (fp)
        fclose(fp);
    rin_sha256_hex(bytes, nb, sha2);
    CHECK(!strcmp(sha, sha2));
    CHECK(nb > np * 4 && nb < np * 4 + 4096);
    CHECK(rin_featnet_save(b, path2, meta, err, sizeof err) == RIN_STATUS_OK);
    CHECK(rin_file_sha256_hex(path2, sha2, err, sizeof err) == RIN_STATUS_OK);
    CHECK_MSG(!strcmp(sha, sha2), "two saves differ: %s vs %s", sha, sha2);

    /* metadata */
    rin_st_file *f;
    CHECK(rin_st_read(&f, path, err, sizeof err) == RIN_STATUS_OK);
    const char *fmt = rin_st_meta(f, "format"), *arch = rin_st_meta(f, "architecture");
    const char *seed = rin_st_meta(f, "seed");
    CHECK(fmt && !strcmp(fmt, "rin-featnet"));
    CHECK(arch && !strcmp(arch, RIN_FEATNET_ARCH));
    CHECK(seed && !strcmp(seed, "7"));
    CHECK(f->ntensors == RIN_FEATNET_NTENSORS);
    rin_st_free(f);
    /* a missing file is an I/O error naming it */
    rin_featnet sentinel, *c = &sentinel;
    CHECK(rin_featnet_load(&c, "/nonexistent/featnet.safetensors", 2, 0, err, sizeof err) ==
          RIN_STATUS_IO);
    CHECK(c == NULL && strstr(err, "/nonexistent/featnet.safetensors"));
    unlink(path);
    unlink(path2);
    free(x);
    rin_featnet_free(a);
    rin_featnet_free(b);
}

/* Writes a feature-network file with one defect: tensor `change` gets shape/dtype override
 * (ndim 0: dropped), `extra` (if not NULL) is added, `format` is the metadata format. */
static void write_variant(const char *path, const char *change, int ndim, const int64_t *shape,
                          rin_dtype dtype, const char *extra, const char *format) {
    static double zeros[131072 + 16];
    rin_st_writer *w = rin_st_writer_new();
    rin_st_writer_meta(w, "format", format);
    rin_st_writer_meta(w, "architecture", RIN_FEATNET_ARCH);
    const rin_featnet_tensor *t = rin_featnet_table();
    for (int i = 0; i < RIN_FEATNET_NTENSORS; i++) {
        if (change && !strcmp(change, t[i].name)) {
            if (ndim > 0)
                rin_st_writer_add(w, t[i].name, dtype, ndim, shape, zeros);
        } else {
            rin_st_writer_add(w, t[i].name, RIN_DTYPE_F32, t[i].ndim, t[i].shape, zeros);
        }
    }
    if (extra)
        rin_st_writer_add(w, extra, RIN_DTYPE_F32, 1, (const int64_t[]){4}, zeros);
    char err[512];
    CHECK_MSG(rin_st_writer_save(w, path, err, sizeof err) == RIN_STATUS_OK, "%s", err);
    rin_st_writer_free(w);
}

static void expect_rejected(const char *path, const char *what, const char *want1,
                            const char *want2) {
    char err[512] = "";
    rin_featnet *n = NULL;
    rin_status s = rin_featnet_load(&n, path, 1, 0, err, sizeof err);
    printf("  %s: %s\n", what, err);
    CHECK_MSG(s == RIN_STATUS_FORMAT && n == NULL, "%s: status %d", what, (int)s);
    CHECK_MSG(strstr(err, want1) && (!want2 || strstr(err, want2)),
              "%s: message '%s' should name '%s'%s%s", what, err, want1, want2 ? " and " : "",
              want2 ? want2 : "");
    rin_featnet_free(n);
}

TEST(featnet_load_rejects) {
    char path[256];
    tmp_path(path, sizeof path, "bad");
    write_variant(path, "conv2_w", 4, (const int64_t[]){64, 5, 5, 16}, RIN_DTYPE_F32, NULL,
                  "rin-featnet");
    expect_rejected(path, "wrong shape", "conv2_w", "(64,5,5,32)");
    write_variant(path, "fc2_b", 0, NULL, RIN_DTYPE_F32, NULL, "rin-featnet");
    expect_rejected(path, "missing tensor", "fc2_b", "missing");
    write_variant(path, "fc1_b", 1, (const int64_t[]){128}, RIN_DTYPE_F64, NULL, "rin-featnet");
    expect_rejected(path, "wrong dtype", "fc1_b", "F64");
    write_variant(path, NULL, 0, NULL, RIN_DTYPE_F32, "fc3_w", "rin-featnet");
    expect_rejected(path, "extra tensor", "fc3_w", NULL);
    write_variant(path, NULL, 0, NULL, RIN_DTYPE_F32, NULL, "rin-checkpoint");
    expect_rejected(path, "wrong format", "rin-featnet", "rin-checkpoint");
    unlink(path);
}

/* ---- the committed network ------------------------------------------------------------------ */

#define FEATNET_FILE "models/featnet-fmnist.safetensors"

TEST(featnet_fmnist_accuracy) {
    const char *dir = getenv("RIN_FMNIST_DIR");
    char probe[4096];
    snprintf(probe, sizeof probe, "%s/t10k-images-idx3-ubyte.gz",
             dir ? dir : "/usr/share/datasets/fashion-mnist");
    if (access(probe, R_OK)) {
        test_skip("Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)");
        return;
    }
    if (access(FEATNET_FILE, R_OK)) {
        test_skip(FEATNET_FILE " is absent (run from the repository root)");
        return;
    }
    char err[512];
    rin_dataset *d;
    rin_featnet *net;
    CHECK_MSG(rin_dataset_load(&d, "fmnist:test", 28, 28, 1, err, sizeof err) == RIN_STATUS_OK,
              "%s", err);
    if (test_failed_now())
        return;
    CHECK_MSG(rin_featnet_load(&net, FEATNET_FILE, 500, 0, err, sizeof err) == RIN_STATUS_OK, "%s",
              err);
    if (test_failed_now()) {
        rin_dataset_free(d);
        return;
    }
    double t0 = rin_time_seconds(), acc = 0.0;
    long correct = 0;
    CHECK_MSG(rin_featnet_accuracy(net, d, &acc, &correct, err, sizeof err) == RIN_STATUS_OK, "%s",
              err);
    printf("  %s: accuracy %.4f (%ld/%d) on fmnist:test in %.2f s, sha256 %s\n", FEATNET_FILE, acc,
           correct, d->n, rin_time_seconds() - t0, net->sha256);
    CHECK(d->n == 10000);
    CHECK_MSG(acc >= 0.90, "accuracy %.4f < 0.90", acc);
    /* the accuracy recorded at training time (batch 128) agrees up to a few argmax flips */
    rin_st_file *f;
    if (rin_st_read(&f, FEATNET_FILE, err, sizeof err) == RIN_STATUS_OK) {
        const char *rec = rin_st_meta(f, "test_accuracy");
        CHECK_MSG(rec && fabs(atof(rec) - acc) <= 0.002, "recorded test_accuracy %s, now %.4f",
                  rec ? rec : "(none)", acc);
        rin_st_free(f);
    }
    rin_featnet_free(net);
    rin_dataset_free(d);
}
