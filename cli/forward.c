/* forward.c -- `rin forward`: the denoiser of a checkpoint run once on tensors from a
 * safetensors file, its outputs written to another (docs/tensors.md; tests/test_cli.c compares
 * them with the PyTorch reference).
 *
 *   rin forward --model FILE --in INPUTS --out OUTPUTS [--train --seed S]
 */
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "data.h"
#include "safetensors.h"
#include "rin.h"

static void forward_usage(FILE *f) {
    fprintf(f, "usage: rin forward --model CKPT --in INPUTS --out OUTPUTS [--train] [--seed S]\n"
               "\n"
               "  --model CKPT   checkpoint (safetensors) written by rin init or rin train\n"
               "  --in INPUTS    safetensors with x_t (B,H,W,C) F32, gamma (B) F32, labels (B)\n"
               "                 I32 or I64 (class ids, -1 = dropped; needed when the model has\n"
               "                 classes) and optionally z_prev (B,L,D) F32 (default zeros)\n"
               "  --out OUTPUTS  safetensors to write with eps (B,H,W,C) and latents (B,L,D), F32\n"
               "  --train        training mode: dropout and drop-path on (default off)\n"
               "  --seed S       seed of the dropout masks in training mode (default 0)\n");
}

static const rin_st_tensor *need(const rin_st_file *f, const char *path, const char *name,
                                 int required) {
    const rin_st_tensor *t = rin_st_find(f, name);
    if (!t && required) {
        fprintf(stderr, "rin forward: %s: tensor '%s' is missing\n", path, name);
        exit(1);
    }
    return t;
}

static void check_shape(const rin_st_tensor *t, const char *path, int ndim, const int64_t *want) {
    int ok = t->ndim == ndim;
    for (int i = 0; ok && i < ndim; i++)
        ok = t->shape[i] == want[i];
    if (!ok || t->dtype != RIN_DTYPE_F32) {
        fprintf(stderr, "rin forward: %s: tensor '%s' must be F32 of shape (", path, t->name);
        for (int i = 0; i < ndim; i++)
            fprintf(stderr, "%s%lld", i ? "," : "", (long long)want[i]);
        fprintf(stderr, "); file has %s of shape (", rin_dtype_name(t->dtype));
        for (int i = 0; i < t->ndim; i++)
            fprintf(stderr, "%s%lld", i ? "," : "", (long long)t->shape[i]);
        fprintf(stderr, ")\n");
        exit(1);
    }
}

int cmd_forward(int argc, char **argv) {
    static const struct option opts[] = {{"model", required_argument, 0, 'm'},
                                         {"in", required_argument, 0, 'i'},
                                         {"out", required_argument, 0, 'o'},
                                         {"train", no_argument, 0, 't'},
                                         {"seed", required_argument, 0, 's'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *mpath = NULL, *ipath = NULL, *opath = NULL;
    int train = 0;
    unsigned long long seed = 0;
    int o;
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (o) {
        case 'm': mpath = optarg; break;
        case 'i': ipath = optarg; break;
        case 'o': opath = optarg; break;
        case 't': train = 1; break;
        case 's': seed = parse_u64("--seed", optarg); break;
        case 'h': forward_usage(stdout); return 0;
        default: forward_usage(stderr); return 2;
        }
    }
    if (!mpath || !ipath || !opath) {
        forward_usage(stderr);
        fprintf(stderr, "rin forward: --model, --in and --out are required\n");
        return 2;
    }
    char err[512];
    rin_model *m;
    if (rin_model_load(&m, mpath, err, sizeof err))
        die("%s", err);
    const rin_config *c = rin_model_config(m);
    if (c->seq_len > 0) /* TODO(#6): x_t (B,T-Nc,H,W,C) and cond inputs for video models */
        die("%s is a video model; rin forward handles image models (use rin sample or rin eval, "
            "docs/video.md)",
            mpath);
    rin_st_file *f;
    if (rin_st_read(&f, ipath, err, sizeof err))
        die("%s", err);
    const rin_st_tensor *tx = need(f, ipath, "x_t", 1);
    if (tx->ndim != 4 || tx->shape[0] < 1 || tx->shape[0] > 1 << 20) {
        fprintf(stderr, "rin forward: %s: x_t must have shape (B,%d,%d,%d)\n", ipath, c->H, c->W,
                c->C);
        return 1;
    }
    int B = (int)tx->shape[0];
    check_shape(tx, ipath, 4, (int64_t[]){B, c->H, c->W, c->C});
    const rin_st_tensor *tg = need(f, ipath, "gamma", 1);
    check_shape(tg, ipath, 1, (int64_t[]){B});
    const rin_st_tensor *tz = need(f, ipath, "z_prev", 0);
    if (tz)
        check_shape(tz, ipath, 3, (int64_t[]){B, c->L, c->D});
    int *labels = NULL;
    if (c->num_classes > 0) {
        const rin_st_tensor *tl = need(f, ipath, "labels", 1);
        if (tl->ndim != 1 || tl->shape[0] != B ||
            (tl->dtype != RIN_DTYPE_I32 && tl->dtype != RIN_DTYPE_I64)) {
            fprintf(stderr, "rin forward: %s: labels must be I32 or I64 of shape (%d)\n", ipath, B);
            return 1;
        }
        labels = malloc((size_t)B * sizeof *labels);
        if (!labels)
            die("%s", "out of memory");
        for (int b = 0; b < B; b++) {
            const uint8_t *raw = rin_st_data(f, tl);
            long long v;
            if (tl->dtype == RIN_DTYPE_I32) {
                int32_t v32;
                memcpy(&v32, raw + 4 * (size_t)b, 4);
                v = v32;
            } else {
                int64_t v64;
                memcpy(&v64, raw + 8 * (size_t)b, 8);
                v = v64;
            }
            if (v < -1 || v >= c->num_classes) {
                fprintf(stderr,
                        "rin forward: %s: labels[%d] = %lld is outside [-1, %d) (-1 = dropped "
                        "label)\n",
                        ipath, b, v, c->num_classes);
                return 1;
            }
            labels[b] = (int)v;
        }
    }
    size_t npix = (size_t)B * c->H * c->W * c->C, nz = (size_t)B * c->L * c->D;
    /* copies, not pointers into the file: safetensors does not align tensor data */
    float *x = malloc(npix * sizeof *x), *gam = malloc((size_t)B * sizeof *gam);
    float *zp = tz ? malloc(nz * sizeof *zp) : NULL;
    float *eps = malloc(npix * sizeof *eps), *lat = malloc(nz * sizeof *lat);
    if (!x || !gam || (tz && !zp) || !eps || !lat)
        die("%s", "out of memory");
    if (rin_st_get_f32(f, "x_t", x, npix, err, sizeof err) ||
        rin_st_get_f32(f, "gamma", gam, (size_t)B, err, sizeof err) ||
        (tz && rin_st_get_f32(f, "z_prev", zp, nz, err, sizeof err))) {
        fprintf(stderr, "rin forward: %s: %s\n", ipath, err);
        return 1;
    }
    for (int b = 0; b < B; b++)
        if (!(gam[b] > 0.0f && gam[b] <= 1.0f)) {
            fprintf(stderr, "rin forward: %s: gamma[%d] = %g is outside (0, 1]\n", ipath, b,
                    (double)gam[b]);
            return 1;
        }
    rin_ctx *ctx;
    if (rin_ctx_create(&ctx, m, B, RIN_CTX_INFER, err, sizeof err))
        die("%s", err);
    rin_batch in = {.B = B,
                    .x_t = x,
                    .gamma = gam,
                    .labels = labels,
                    .z_prev = zp,
                    .training = train,
                    .seed = seed};
    rin_status s = rin_forward(ctx, &in, eps, lat);
    if (s)
        die("forward failed: %s", rin_status_str(s));
    rin_st_writer *w = rin_st_writer_new();
    if (!w)
        die("%s", "out of memory");
    rin_st_writer_meta(w, "format", "rin-forward");
    rin_st_writer_meta(w, "model", mpath);
    rin_st_writer_add(w, "eps", RIN_DTYPE_F32, 4, (int64_t[]){B, c->H, c->W, c->C}, eps);
    rin_st_writer_add(w, "latents", RIN_DTYPE_F32, 3, (int64_t[]){B, c->L, c->D}, lat);
    if (rin_st_writer_save(w, opath, err, sizeof err))
        die("%s", err);
    printf("wrote %s: eps (%d,%d,%d,%d), latents (%d,%d,%d)\n", opath, B, c->H, c->W, c->C, B, c->L,
           c->D);
    rin_st_writer_free(w);
    rin_ctx_free(ctx);
    free(eps);
    free(lat);
    free(labels);
    free(x);
    free(gam);
    free(zp);
    rin_st_free(f);
    rin_model_free(m);
    return 0;
}
