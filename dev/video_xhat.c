/* video_xhat.c -- dev diagnostic for a video checkpoint: the one-step x0_hat error of every
 * predicted frame at fixed noise levels, with each clip's own conditioning frames and with the
 * next clip's. It shows what a video model has learned where `rin eval` shows only samples:
 *   - error that does not depend on the conditioning at small gamma: it does not read it;
 *   - error that alternates over the frames: its tokens treat their frames unequally (s > 1).
 * Each is measured twice: from zero latents (the first sampling step) and self-conditioned on
 * that pass's latents ("sc", as training's second pass is). With each clip's own conditioning
 * it also prints where the attention goes, per block and pass: the read's mass on every
 * conditioning time slot (averaged over clips, heads and latents; a uniform read puts 1/slots of
 * it on each) and how peaked the write is (the largest of a noisy token's L weights, averaged;
 * uniform is 1/L). A model that routes reads the last conditioning frames from pure noise and
 * writes from a few latents.
 * The clips are the test set of `rin eval` (data seed 1, clips 0..n-1); every frame of a clip
 * is noised to the same gamma. Errors are squared errors summed over a frame, pixels in [0, 1].
 *
 *   make && gcc -O2 -fopenmp -Iinclude -Isrc -Isrc/base -Isrc/nn -Isrc/diffusion -Isrc/data -Isrc/eval -I/usr/include/stb dev/video_xhat.c build/librin.a \
 *       -lopenblas -ljansson -lstb -lgif -lz -lcrypto -llapacke -lm $(mpicc --showme:link) \
 *       -o build/video_xhat
 *   build/video_xhat runs/video/model.safetensors [ema|raw] [data] [clips]
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diffusion.h"
#include "internal.h"
#include "video.h"

static void die(const char *msg) {
    fprintf(stderr, "video_xhat: %s\n", msg);
    exit(1);
}

static float *falloc(size_t n) {
    float *p = malloc(n * sizeof *p);
    if (!p)
        die("out of memory");
    return p;
}

/* err[f] += per-frame squared error of x0_hat against x0, in [0, 1] units, averaged over B */
static void frame_errors(double *err, const float *x0_hat, const float *x0, int B, int F,
                         size_t frame, float b) {
    for (int i = 0; i < B; i++)
        for (int f = 0; f < F; f++)
            for (size_t k = 0; k < frame; k++) {
                size_t j = ((size_t)i * F + f) * frame + k;
                double e = ((double)x0_hat[j] - x0[j]) / (2.0 * b);
                err[f] += e * e / B;
            }
}

/* Where block i's read and write attention went in the last forward of ctx (see the top). */
static void attention_summary(const rin_ctx *ctx, int B) {
    const rin_config *c = &ctx->model->cfg;
    const rin_dims *d = &ctx->model->dims;
    int hw = (c->H / c->patch) * (c->W / c->patch), n = d->n, nx = d->nx, cs = (n - nx) / hw;
    int nk = n + d->nr, L = c->L, NH = c->rw_heads; /* the read's keys: interface, read-only */
    for (int bi = 0; bi < c->num_blocks; bi++) {
        const rin_block_acts *ba = &ctx->acts.blocks[bi];
        double slot[64] = {0}, peak = 0;
        for (size_t r = 0; r < (size_t)B * NH * L; r++) /* rows of (B,NH,L,nk) */
            for (int j = nx; j < n; j++)
                slot[(j - nx) / hw < 64 ? (j - nx) / hw : 63] +=
                    ba->read_attn.att[r * nk + j] / ((double)B * NH * L);
        printf("    block %d read, mass per conditioning slot (uniform %.3f):", bi + 1,
               (double)hw / nk);
        for (int u = 0; u < cs && u < 64; u++)
            printf(" %.3f", slot[u]);
        if (c->K[bi] > 0) {
            for (int b = 0; b < B; b++) /* rows of (B,NH,n,L), noisy tokens only */
                for (int h = 0; h < NH; h++)
                    for (int q = 0; q < nx; q++) {
                        const float *row = ba->write_attn.att + (((size_t)b * NH + h) * n + q) * L;
                        float mx = 0;
                        for (int k = 0; k < L; k++)
                            mx = row[k] > mx ? row[k] : mx;
                        peak += mx / ((double)B * NH * nx);
                    }
            printf("; write, largest weight %.3f (uniform %.3f)", peak, 1.0 / L);
        }
        printf("\n");
    }
}

int main(int argc, char **argv) {
    if (argc < 2)
        die("usage: video_xhat CKPT [ema|raw] [data] [clips]");
    const char *which = argc > 2 ? argv[2] : "ema",
               *data = argc > 3 ? argv[3] : "mmnist:fmnist:test";
    int B = argc > 4 ? atoi(argv[4]) : 32;
    char err[1024];
    rin_model *m;
    rin_train_config tc;
    if (rin_model_load_weights(&m, argv[1], which, err, sizeof err) ||
        rin_train_config_from_file(&tc, argv[1], err, sizeof err))
        die(err);
    const rin_config *c = rin_model_config(m);
    if (c->seq_len <= 0 || c->cond_frames <= 0 || B < 2)
        die("needs a video model with conditioning frames and at least 2 clips");
    rin_pred_type pt;
    if (rin_pred_type_parse(&pt, tc.pred_type, err, sizeof err))
        die(err);
    rin_video_source *v;
    if (rin_video_open(&v, data, c->seq_len, c->H, c->W, c->C, 1, err, sizeof err))
        die(err);
    int F = c->seq_len - c->cond_frames;
    size_t nc = rin_config_cond_floats(c), nx = rin_config_input_floats(c), frame = nx / F;
    float b = (float)tc.b_scale;
    float *cond = falloc((size_t)B * nc), *other = falloc((size_t)B * nc);
    float *x0 = falloc((size_t)B * nx), *eps = falloc((size_t)B * nx), *xt = falloc((size_t)B * nx);
    float *xin = falloc((size_t)B * nx), *out = falloc((size_t)B * nx),
          *xh = falloc((size_t)B * nx);
    float *g = falloc((size_t)B), *z = falloc((size_t)B * c->L * c->D);
    rin_ctx *ctx;
    /* a training context keeps every attention matrix of the forward */
    if (rin_ctx_create(&ctx, m, B, RIN_CTX_TRAIN, err, sizeof err))
        die(err);
    rin_video_batch(v, 0, B, c->cond_frames, b, cond, x0);
    for (int i = 0; i < B; i++) /* clip i gets clip i+1's conditioning frames */
        memcpy(other + (size_t)i * nc, cond + (size_t)((i + 1) % B) * nc, nc * sizeof *cond);
    rin_rng rng;
    rin_rng_seed(&rng, 7);
    static const float gammas[] = {1e-4f, 0.1f, 0.5f, 0.9f};
    printf("%s (%s weights): one-step x0_hat error per predicted frame, %d clips of %s\n", argv[1],
           which, B, data);
    for (int gi = 0; gi < 4; gi++) {
        for (int i = 0; i < B; i++)
            g[i] = gammas[gi];
        for (size_t k = 0; k < (size_t)B * nx; k++)
            eps[k] = (float)rin_rng_normal(&rng);
        rin_diffusion_add_noise(xt, x0, eps, g, B, nx);
        for (int which_cond = 0; which_cond < 2; which_cond++) {
            memcpy(xin, xt, (size_t)B * nx * sizeof *xin);
            if (tc.normalize_noisy_input)
                rin_diffusion_normalize(xin, B, nx);
            rin_ctx_set_cond(ctx, which_cond ? other : cond);
            /* pass 0 from zero latents; pass 1 self-conditioned on pass 0's latents, as
             * training's second pass is for self_cond_rate of its examples */
            for (int pass = 0; pass < (c->self_cond ? 2 : 1); pass++) {
                rin_batch in = {.B = B, .x_t = xin, .gamma = g, .z_prev = pass ? z : NULL};
                if (rin_forward(ctx, &in, out, pass ? NULL : z))
                    die("forward failed");
                rin_diffusion_x0_eps(xh, NULL, out, xt, g, B, nx, pt, b);
                double e[256] = {0}, mean = 0;
                frame_errors(e, xh, x0, B, F < 256 ? F : 256, frame, b);
                printf("gamma %-6g %-16s %s", gammas[gi],
                       which_cond ? "next clip's cond" : "own cond", pass ? "sc" : "  ");
                for (int f = 0; f < F && f < 256; f++)
                    printf(" %6.1f", e[f]), mean += e[f] / F;
                printf("  | mean %6.2f\n", mean);
                if (!which_cond)
                    attention_summary(ctx, B);
            }
        }
    }
    free(cond), free(other), free(x0), free(eps), free(xt), free(xin), free(out), free(xh), free(g);
    free(z);
    rin_ctx_free(ctx);
    rin_model_free(m);
    rin_video_free(v);
    return 0;
}
