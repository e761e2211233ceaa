/* video.c -- the video side of the command line (docs/video.md): clip sources for `rin train`,
 * future-frame prediction from conditioning frames and its roll-out to any length (--frames),
 * the PNG strip and the animated GIF of `rin sample`, and the per-frame metrics of `rin eval`
 * against the copy-last-frame and all-black baselines.
 *
 *   rin train  --preset video --data mmnist --run runs/video
 *   rin sample --model runs/video/model.safetensors --n 4 --strip strip.png --gif clip.gif
 *   rin eval   --model runs/video/model.safetensors --data mmnist:fmnist:test --n 100 --k 4
 *   rin eval   --model runs/video/model.safetensors --frames 33      # 3 rounds of 11
 */
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "diffusion.h"
#include "imageio.h"
#include "rng.h"
#include "safetensors.h"
#include "util.h"
#include "video.h"

/* The source `data` with clips of T frames, or NULL with the message in err. */
static rin_video_source *open_source(const rin_config *c, const char *data, uint64_t seed, int T,
                                     char *err, size_t errlen) {
    char src[600];
    /* an image dataset source means moving items of that dataset */
    if (!strncmp(data, "mmnist", 6) || !strncmp(data, "clips:", 6))
        snprintf(src, sizeof src, "%s", data);
    else
        snprintf(src, sizeof src, "mmnist:%s", data);
    rin_video_source *v;
    if (rin_video_open(&v, src, T, c->H, c->W, c->C, seed, err, errlen))
        return NULL;
    return v;
}

rin_video_source *video_open_for(const rin_config *c, const char *data, uint64_t seed, int extra) {
    char err[1024];
    rin_video_source *v = open_source(c, data, seed, c->seq_len + extra, err, sizeof err);
    if (!v)
        die("%s", err);
    return v;
}

int video_model_file(const char *path) {
    rin_st_file *f;
    char err[1024];
    if (!path || rin_st_read(&f, path, err, sizeof err))
        return 0;
    const char *v = rin_st_meta(f, "seq_len");
    int video = v && atoi(v) > 0;
    rin_st_free(f);
    return video;
}

/* The value of --model in argv (either "--model X" or "--model=X"), or NULL. */
static const char *find_model_arg(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--model") && i + 1 < argc)
            return argv[i + 1];
        if (!strncmp(argv[i], "--model=", 8))
            return argv[i] + 8;
    }
    return NULL;
}

int video_args_name_video_model(int argc, char **argv) {
    return video_model_file(find_model_arg(argc, argv));
}

void video_predict(rin_ctx *ctx, const rin_sample_config *sc, const float *cond, int N,
                   int max_batch, float *out) {
    char err[1024];
    if (rin_video_predict(ctx, sc, cond, N, max_batch, out, err, sizeof err))
        die("sampling: %s", err);
}

/* The strip of N clips whose predicted part has F frames (truth and pred (N, F, H, W, C)): per
 * clip a row of cond + truth, then a row of cond + pred, Nc + F frames each. */
static void write_strip(const char *path, const rin_config *c, const float *cond,
                        const float *truth, const float *pred, int N, int F, float b, int scale,
                        const png_provenance *prov) {
    int Nc = c->cond_frames, T = Nc + F;
    size_t frame = (size_t)c->H * c->W * c->C, nc = (size_t)Nc * frame, nx = (size_t)F * frame;
    float *tiles = malloc(2 * (size_t)N * (nc + nx) * sizeof *tiles);
    if (!tiles)
        die("out of memory (strip)");
    for (int i = 0; i < N; i++)
        for (int k = 0; k < 2; k++) {
            float *row = tiles + (size_t)(2 * i + k) * (nc + nx);
            memcpy(row, cond + (size_t)i * nc, nc * sizeof *row);
            memcpy(row + nc, (k ? pred : truth) + (size_t)i * nx, nx * sizeof *row);
        }
    char err[1024];
    if (rin_grid_write(path, tiles, 2 * N * T, c->H, c->W, c->C, T, b, scale,
                       prov ? prov->text : NULL, prov ? prov->n : 0, err, sizeof err))
        die("%s", err);
    free(tiles);
}

void video_write_strip(const char *path, const rin_config *c, const float *cond, const float *truth,
                       const float *pred, int N, float b, int scale, const png_provenance *prov) {
    write_strip(path, c, cond, truth, pred, N, c->seq_len - c->cond_frames, b, scale, prov);
}

/* The GIF of N clips whose predicted part has F frames: Nc + F frames of truth beside
 * prediction. */
static void write_gif(const char *path, const rin_config *c, const float *cond, const float *truth,
                      const float *pred, int N, int F, float b, int scale) {
    int Nc = c->cond_frames, T = Nc + F;
    size_t frame = (size_t)c->H * c->W * c->C;
    float *tiles = malloc(2 * (size_t)N * frame * sizeof *tiles);
    uint8_t *frames = NULL;
    int GH = 0, GW = 0;
    char err[1024];
    if (!tiles)
        die("out of memory (gif)");
    if (scale == 0)
        scale = rin_grid_auto_scale(c->H, c->W);
    for (int t = 0; t < T; t++) {
        for (int i = 0; i < N; i++)
            for (int k = 0; k < 2; k++) {
                const float *src = t < Nc ? cond + ((size_t)i * Nc + t) * frame
                                          : (k ? pred : truth) + ((size_t)i * F + t - Nc) * frame;
                memcpy(tiles + (size_t)(2 * i + k) * frame, src, frame * sizeof(float));
            }
        uint8_t *g, *big;
        if (rin_grid_make(&g, &GH, &GW, tiles, 2 * N, c->H, c->W, c->C, 2, 1, b))
            die("out of memory (gif)");
        if (scale > 1) {
            if (rin_image_upscale(&big, g, GH, GW, c->C, scale))
                die("%s: cannot enlarge %d x %d frames %d times", path, GH, GW, scale);
            free(g);
            g = big;
            GH *= scale;
            GW *= scale;
        }
        if (!frames && !(frames = malloc((size_t)T * GH * GW * c->C)))
            die("out of memory (gif)");
        memcpy(frames + (size_t)t * GH * GW * c->C, g, (size_t)GH * GW * c->C);
        free(g);
    }
    if (rin_gif_write(path, frames, T, GH, GW, c->C, 20, err, sizeof err))
        die("%s", err);
    free(tiles);
    free(frames);
}

void video_write_gif(const char *path, const rin_config *c, const float *cond, const float *truth,
                     const float *pred, int N, float b, int scale) {
    write_gif(path, c, cond, truth, pred, N, c->seq_len - c->cond_frames, b, scale);
}

void video_preview(const char *path, rin_ctx *ctx, const rin_video_source *src,
                   const rin_sample_config *sc, int N, float b, int scale,
                   const png_provenance *prov) {
    const rin_config *c = rin_model_config(rin_ctx_model(ctx));
    float *cond = malloc((size_t)N * rin_config_cond_floats(c) * sizeof *cond + 4);
    float *truth = malloc((size_t)N * rin_config_input_floats(c) * sizeof *truth);
    float *pred = malloc((size_t)N * rin_config_input_floats(c) * sizeof *pred);
    if (!cond || !truth || !pred)
        die("out of memory (preview)");
    /* negative clip indices: never a training clip of the generator */
    rin_video_batch(src, -(long)N, N, c->cond_frames, b, cond, truth);
    video_predict(ctx, sc, cond, N, N, pred);
    video_write_strip(path, c, cond, truth, pred, N, b, scale, prov);
    free(cond), free(truth), free(pred);
}

/* ---- rin sample / rin eval for video models ------------------------------------------------ */

typedef struct video_opts {
    const char *model, *weights, *data, *strip, *gif, *csv;
    char gif_default[1100]; /* the strip's path with .gif for .png, when --gif is not given */
    long first;             /* first clip index of the source */
    int n, k, steps, batch, scale;
    int frames;           /* predicted frames per clip, by roll-out (0: seq_len - cond_frames) */
    int no_check;         /* rin eval --no-check: skip the conditioning check */
    rin_sample_config sc; /* sampler, spacing, schedule, latent carry (SAMPLING_OPTIONS) */
    uint64_t seed, data_seed;
} video_opts;

static void video_usage(FILE *f, int eval) {
    fprintf(f,
            "usage: rin %s --model CKPT [options]        (a video model: docs/video.md)\n"
            "\n"
            "  --model CKPT      checkpoint of a video model (seq_len > 0)\n"
            "  --weights W       ema (default) or raw\n"
            "  --data SOURCE     clips: mmnist:fmnist:test (default), mmnist[,OPT=V]:ITEMS, "
            "clips:FILE\n"
            "  --data-seed S     seed of the generated clips (default 1: the documented test set)\n"
            "  --first I         first clip index (default 0)\n"
            "  --n N             clips (default %d)\n"
            "  --k K             samples per clip; metrics take the best of K (default 1)\n"
            "  --steps T         sampler steps (default 50)\n"
            "  --sampler S       ddim (default), ddpm, ddpm@small, euler, euler_a, heun,\n"
            "                    dpm++2m; --spacing, --schedule, --latent-carry as for\n"
            "                    rin sample (docs/sampling.md)\n"
            "  --seed S          noise seed (default 0)\n"
            "  --batch B         clips per network call (default 16)\n"
            "  --frames F        frames to predict per clip, by roll-out: rounds of\n"
            "                    seq_len - cond_frames frames, each conditioned on the last\n"
            "                    cond_frames frames so far (default seq_len - cond_frames:\n"
            "                    one round, no roll-out)\n"
            "%s",
            eval ? "eval" : "sample", eval ? 100 : 4,
            eval ? "  --csv FILE        per-frame table (frame; model, copy-last and all-black\n"
                   "                    MSE, PSNR, SSIM)\n"
                   "  --no-check        skip the conditioning check (the first sample again with\n"
                   "                    the next clip's conditioning frames), which doubles the\n"
                   "                    time of an eval\n"
                 : "  --strip FILE      PNG strip, per clip truth row then prediction row\n"
                   "                    (default video_strip.png)\n"
                   "  --gif FILE        animated GIF, truth beside prediction (default: the\n"
                   "                    strip's path with .gif for .png)\n"
                   "  --scale N         enlarge the strip and GIF N times, nearest neighbour\n"
                   "                    (default auto: frames of at least 84 pixels; 1 = none)\n"
                   "The strip records the checkpoint's SHA-256 and step, sampler, steps and seed\n"
                   "in text chunks: `rin info FILE.png` prints them.\n");
}

static void video_parse(video_opts *o, int argc, char **argv, int eval) {
    static const struct option opts[] = {{"model", required_argument, 0, 'm'},
                                         {"weights", required_argument, 0, 'w'},
                                         {"data", required_argument, 0, 'd'},
                                         {"data-seed", required_argument, 0, 'D'},
                                         {"first", required_argument, 0, 'f'},
                                         {"n", required_argument, 0, 'n'},
                                         {"k", required_argument, 0, 'k'},
                                         {"steps", required_argument, 0, 't'},
                                         SAMPLING_OPTIONS,
                                         {"seed", required_argument, 0, 's'},
                                         {"batch", required_argument, 0, 'b'},
                                         {"strip", required_argument, 0, 'P'},
                                         {"gif", required_argument, 0, 'G'},
                                         {"csv", required_argument, 0, 'C'},
                                         {"scale", required_argument, 0, 'Z'},
                                         {"frames", required_argument, 0, 'F'},
                                         {"no-check", no_argument, 0, 'N'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    *o = (video_opts){.weights = "ema",
                      .data = "mmnist:fmnist:test",
                      .n = eval ? 100 : 4,
                      .k = 1,
                      .steps = 50,
                      .batch = 16,
                      .data_seed = 1,
                      .strip = "video_strip.png"};
    rin_sample_config_default(&o->sc);
    snprintf(o->sc.sampler, sizeof o->sc.sampler, "ddim");
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'm': o->model = optarg; break;
        case 'w': o->weights = optarg; break;
        case 'd': o->data = optarg; break;
        case 'D': o->data_seed = parse_u64("--data-seed", optarg); break;
        case 'f': o->first = parse_long("--first", optarg, 0, 1L << 50); break;
        case 'n': o->n = (int)parse_long("--n", optarg, 1, 1000000); break;
        case 'k': o->k = (int)parse_long("--k", optarg, 1, 10000); break;
        case 't': o->steps = (int)parse_long("--steps", optarg, 1, 100000); break;
        case 's': o->seed = parse_u64("--seed", optarg); break;
        case 'b': o->batch = (int)parse_long("--batch", optarg, 1, 4096); break;
        case 'P': o->strip = optarg; break;
        case 'G': o->gif = optarg; break;
        case 'C': o->csv = optarg; break;
        case 'Z': o->scale = parse_scale("--scale", optarg); break;
        case 'F': o->frames = (int)parse_long("--frames", optarg, 1, RIN_VIDEO_MAX_FRAMES); break;
        case 'N':
            if (!eval)
                die("--no-check is an option of rin eval");
            o->no_check = 1;
            break;
        case 'h': video_usage(stdout, eval); exit(0);
        default:
            if (sampling_option(&o->sc, c, optarg))
                break;
            video_usage(stderr, eval);
            exit(2);
        }
    }
    if (optind < argc)
        die("unexpected argument '%s'", argv[optind]);
    if (!o->model)
        die("--model is required");
    if (!o->gif) { /* beside the strip, not wherever the command ran */
        size_t n = strlen(o->strip);
        if (n >= 4 && !strcmp(o->strip + n - 4, ".png"))
            n -= 4;
        if (n + 5 > sizeof o->gif_default)
            die("--strip: path too long (%zu bytes)", strlen(o->strip));
        snprintf(o->gif_default, sizeof o->gif_default, "%.*s.gif", (int)n, o->strip);
        o->gif = o->gif_default;
    }
}

/* The model, a ctx and the sampling config of a video checkpoint. */
typedef struct video_run {
    rin_model *m;
    rin_ctx *ctx;
    rin_sample_config sc;
    rin_video_source *src;
    int F;                      /* predicted frames per clip (--frames) */
    float *cond, *truth, *pred; /* (n, Nc, ...), (n, F, ...), (n, F, ...) */
} video_run;

static void video_run_open(video_run *r, const video_opts *o) {
    char err[1024];
    memset(r, 0, sizeof *r);
    if (rin_model_load_weights(&r->m, o->model, o->weights, err, sizeof err))
        die("%s", err);
    const rin_config *c = rin_model_config(r->m);
    if (c->seq_len <= 0)
        die("%s is not a video model (seq_len = 0)", o->model);
    rin_train_config tc;
    if (rin_train_config_from_file(&tc, o->model, err, sizeof err))
        die("%s", err);
    r->sc = o->sc;
    rin_sample_config_from_train(&r->sc, &tc);
    r->sc.steps = o->steps;
    r->sc.seed = o->seed;
    rin_sampler_plan plan;
    if (rin_sample_plan(&plan, &r->sc, err, sizeof err))
        die("%s", err);
    int B = o->batch < o->n ? o->batch : o->n;
    if (rin_ctx_create(&r->ctx, r->m, B, RIN_CTX_INFER, err, sizeof err))
        die("%s", err);
    /* the ground truth of a roll-out: the same clips, Nc + F frames long */
    int b = c->seq_len - c->cond_frames;
    r->F = o->frames ? o->frames : b;
    r->src = open_source(c, o->data, o->data_seed, c->cond_frames + r->F, err, sizeof err);
    if (!r->src)
        die("%s; %s needs %d conditioning + %d predicted frames per clip", err,
            o->frames ? "--frames" : "the model", c->cond_frames, r->F);
    size_t nc = rin_config_cond_floats(c), nx = (size_t)r->F * c->H * c->W * c->C;
    r->cond = malloc(((size_t)o->n * nc + 1) * sizeof(float));
    r->truth = malloc((size_t)o->n * nx * sizeof(float));
    r->pred = malloc((size_t)o->n * nx * sizeof(float));
    if (!r->cond || !r->truth || !r->pred)
        die("out of memory for %d clips", o->n);
    rin_video_batch(r->src, o->first, o->n, c->cond_frames, (float)r->sc.b_scale, r->cond,
                    r->truth);
}

static void video_run_close(video_run *r) {
    free(r->cond), free(r->truth), free(r->pred);
    rin_video_free(r->src);
    rin_ctx_free(r->ctx);
    rin_model_free(r->m);
}

/* F predicted frames per clip by roll-out (rin_video_rollout; F = seq_len - cond_frames is
 * video_predict bit for bit). */
static void rollout(rin_ctx *ctx, const rin_sample_config *sc, const float *cond, int N,
                    int max_batch, int F, float *out) {
    char err[1024];
    if (rin_video_rollout(ctx, sc, cond, N, max_batch, F, out, err, sizeof err))
        die("sampling: %s", err);
}

int cmd_sample_video(int argc, char **argv) {
    video_opts o;
    video_parse(&o, argc, argv, 0);
    video_run r;
    video_run_open(&r, &o);
    const rin_config *c = rin_model_config(r.m);
    double t0 = rin_time_seconds();
    rollout(r.ctx, &r.sc, r.cond, o.n, o.batch, r.F, r.pred);
    float b = (float)r.sc.b_scale;
    png_provenance prov;
    provenance_checkpoint(&prov, o.model, o.weights);
    provenance_sampler(&prov, &r.sc);
    provenance_add(&prov, "data", "%s (data seed %llu), clips %ld-%ld", o.data,
                   (unsigned long long)o.data_seed, o.first, o.first + o.n - 1);
    int bf = c->seq_len - c->cond_frames;
    if (r.F != bf) /* a strip without roll-out keeps its bytes */
        provenance_add(&prov, "rollout", "%d frames in %d rounds of %d", r.F, (r.F + bf - 1) / bf,
                       bf);
    write_strip(o.strip, c, r.cond, r.truth, r.pred, o.n, r.F, b, o.scale, &prov);
    write_gif(o.gif, c, r.cond, r.truth, r.pred, o.n, r.F, b, o.scale);
    fprintf(stderr, "rin sample: %d clips of %s (from %ld), %d conditioning + %d predicted frames",
            o.n, o.data, o.first, c->cond_frames, r.F);
    if (r.F != bf)
        fprintf(stderr, " (roll-out: %d rounds of %d)", (r.F + bf - 1) / bf, bf);
    fprintf(stderr, ", %s %d steps, %.1f s; strip %s, gif %s\n", o.sc.sampler, o.steps,
            rin_time_seconds() - t0, o.strip, o.gif);
    video_run_close(&r);
    return 0;
}

/* The per-frame metrics of rin eval, in this order; a group of them per column of the table. */
enum { M_SSE, M_PSNR, M_SSIM, M_COM, METRICS };
static const char *const metric_names[METRICS] = {"mse", "psnr", "ssim", "com"};

/* Per-frame metrics in [0, 1] of pred against truth, both (F, H, W, C) in [-b, b], into m
 * (METRICS, F). The centre-of-mass error is NaN where a frame is all black. */
static void frame_metrics_01(const float *pred, const float *truth, const rin_config *c, int F,
                             float b, double *m) {
    size_t nx = (size_t)F * c->H * c->W * c->C;
    float *p = malloc(2 * nx * sizeof *p);
    if (!p)
        die("out of memory");
    for (size_t k = 0; k < nx; k++) {
        float v = pred[k] / (2 * b) + 0.5f;
        p[k] = v < 0 ? 0 : v > 1 ? 1 : v;
        p[nx + k] = truth[k] / (2 * b) + 0.5f;
    }
    rin_video_frame_metrics(p, p + nx, F, c->H, c->W, c->C, m + M_SSE * F, m + M_PSNR * F,
                            m + M_SSIM * F);
    rin_video_com_error(p, p + nx, F, c->H, c->W, c->C, m + M_COM * F);
    free(p);
}

/* The mean of the finite values of x (n); +inf when all the values there are +inf (PSNRs of
 * frames equal to the truth), NaN when there are none. */
static double mean_of(const double *x, int n) {
    double s = 0;
    int k = 0, ninf = 0;
    for (int i = 0; i < n; i++)
        if (isinf(x[i]))
            ninf++;
        else if (!isnan(x[i]))
            s += x[i], k++;
    return k ? s / k : ninf ? (double)INFINITY : (double)NAN;
}

/* Adds v to a per-frame average (sum, count): NaN (a CoM without a value) is left out, and so is
 * +inf (a PSNR of a frame equal to the truth), counted in *ninf. */
static void average_in(double *sum, double *cnt, double *ninf, double v) {
    if (isinf(v))
        *ninf += 1;
    else if (!isnan(v))
        *sum += v, *cnt += 1;
}

/* Is v a better score than w for metric q? NaN is worse than any number. */
static int metric_better(int q, double v, double w) {
    if (isnan(v))
        return 0;
    if (isnan(w))
        return 1;
    return q == M_SSE || q == M_COM ? v < w : v > w;
}

/* The noise seed of sample k of every clip (the conditioning check reuses sample 0's). */
static uint64_t eval_sample_seed(const video_opts *o, int k) {
    return rin_hash64(o->seed, 0x4B534D50ull /* "KSMP" */, (uint64_t)k);
}

/* One table cell group: MSE PSNR SSIM CoM, "-" for a CoM without a value. */
static void print_group(const double *v) {
    printf(" %8.2f %7.2f %7.4f", v[M_SSE], v[M_PSNR], v[M_SSIM]);
    if (isnan(v[M_COM]))
        printf(" %6s  |", "-");
    else
        printf(" %6.2f  |", v[M_COM]);
}

int cmd_eval_video(int argc, char **argv) {
    video_opts o;
    video_parse(&o, argc, argv, 1);
    video_run r;
    video_run_open(&r, &o);
    const rin_config *c = rin_model_config(r.m);
    int F = r.F, N = o.n, Nc = c->cond_frames, bf = c->seq_len - Nc;
    size_t frame = (size_t)c->H * c->W * c->C, nx = (size_t)F * frame;
    float b = (float)r.sc.b_scale;
    /* per group, metric and frame, summed over the clips that have a value (cnt): [0] the
     * model's best of K (chosen per clip and metric by the mean over the predicted frames, as
     * SVG does), [1] the model's first sample, [2] copy-last, [3] all-black */
    enum { GROUPS = 4 };
    size_t per = (size_t)METRICS * F;
    double *acc = calloc(GROUPS * per, sizeof *acc), *cnt = calloc(GROUPS * per, sizeof *cnt);
    /* values of +inf (a PSNR of a frame equal to the truth: copy-last when the items did not
     * move) are counted here and left out of the averages, which they would make infinite; a
     * cell whose every value is +inf shows inf */
    double *icnt = calloc(GROUPS * per, sizeof *icnt);
    double *m = malloc(per * sizeof *m);
    float *base = malloc(nx * sizeof *base);
    float *preds = malloc((size_t)N * nx * sizeof *preds);
    double *all = malloc((size_t)o.k * N * per * sizeof *all);
    if (!acc || !cnt || !icnt || !m || !base || !preds || !all)
        die("out of memory");
    double t0 = rin_time_seconds();
    for (int k = 0; k < o.k; k++) {
        rin_sample_config sc = r.sc;
        sc.seed = eval_sample_seed(&o, k);
        rollout(r.ctx, &sc, r.cond, N, o.batch, F, preds);
        for (int i = 0; i < N; i++)
            frame_metrics_01(preds + (size_t)i * nx, r.truth + (size_t)i * nx, c, F, b,
                             all + ((size_t)k * N + i) * per);
        fprintf(stderr, "rin eval: sample %d of %d for %d clips, %.0f s\n", k + 1, o.k, N,
                rin_time_seconds() - t0);
    }
    for (int i = 0; i < N; i++) {
        const double *rows[2] = {NULL, all + (size_t)i * per}; /* best of K, first sample */
        /* the baselines: the last conditioning frame in every predicted frame (black without
         * conditioning frames), and an all-black frame (pixel 0, -b) */
        for (int g = 2; g < GROUPS; g++) {
            const float *last =
                g == 2 && Nc > 0 ? r.cond + ((size_t)i * Nc + Nc - 1) * frame : NULL;
            for (int f = 0; f < F; f++) {
                float *dst = base + (size_t)f * frame;
                if (last)
                    memcpy(dst, last, frame * sizeof *base);
                else
                    for (size_t q = 0; q < frame; q++)
                        dst[q] = g == 2 ? 0.0f : -b;
            }
            frame_metrics_01(base, r.truth + (size_t)i * nx, c, F, b, m);
            for (size_t j = 0; j < per; j++)
                average_in(acc + g * per + j, cnt + g * per + j, icnt + g * per + j, m[j]);
        }
        for (int q = 0; q < METRICS; q++) { /* the best of K per metric */
            int bk = 0;
            double bv = 0;
            for (int k = 0; k < o.k; k++) {
                double v = mean_of(all + ((size_t)k * N + i) * per + (size_t)q * F, F);
                if (k == 0 || metric_better(q, v, bv))
                    bv = v, bk = k;
            }
            rows[0] = all + ((size_t)bk * N + i) * per;
            for (int g = 0; g < 2; g++)
                for (int f = 0; f < F; f++) {
                    size_t j = g * per + (size_t)q * F + f;
                    average_in(acc + j, cnt + j, icnt + j, rows[g][(size_t)q * F + f]);
                }
        }
    }
    for (size_t j = 0; j < GROUPS * per; j++)
        acc[j] = cnt[j] > 0 ? acc[j] / cnt[j] : icnt[j] > 0 ? (double)INFINITY : (double)NAN;
    /* the table is built in memory and written atomically at the end */
    char *csv_text = NULL;
    size_t csv_len = 0;
    FILE *csv = o.csv ? open_memstream(&csv_text, &csv_len) : NULL;
    if (o.csv && !csv)
        die("out of memory (--csv %s)", o.csv);
    printf("video prediction: %s, %d clips of %s (data seed %llu, from %ld), %d conditioning "
           "frames, %d predicted; %s %d steps, K = %d\n",
           o.model, N, o.data, (unsigned long long)o.data_seed, o.first, Nc, F, o.sc.sampler,
           o.steps, o.k);
    if (F != bf)
        printf("roll-out: %d rounds of %d frames, each conditioned on the last %d frames so far "
               "(given or predicted); round r = 0, 1, ... starts at frame %d + %d r\n",
               (F + bf - 1) / bf, bf, Nc, Nc + 1, bf);
    printf("per-frame MSE = squared error summed over the %dx%d frame, pixels in [0,1]; PSNR "
           "(MAX 1) and SSIM (11x11 Gaussian, sigma 1.5) per frame; CoM = distance in pixels "
           "between the predicted and true centres of mass (- for black frames); then averaged\n",
           c->H, c->W);
    printf("%-6s | %-33s | %-33s | %-33s | %-33s\n", "frame", "model best-of-K MSE PSNR SSIM CoM",
           "model 1 sample MSE PSNR SSIM CoM", "copy-last MSE PSNR SSIM CoM",
           "all-black MSE PSNR SSIM CoM");
    static const char *const group_names[GROUPS] = {"best", "one", "copy", "black"};
    if (csv) {
        fprintf(csv, "frame");
        for (int g = 0; g < GROUPS; g++)
            for (int q = 0; q < METRICS; q++)
                fprintf(csv, ",%s_%s", group_names[g], metric_names[q]);
        fprintf(csv, "\n");
    }
    double v[METRICS];
    for (int f = 0; f < F; f++) {
        printf("%-6d |", Nc + f + 1);
        for (int g = 0; g < GROUPS; g++) {
            for (int q = 0; q < METRICS; q++)
                v[q] = acc[g * per + (size_t)q * F + f];
            print_group(v);
        }
        printf("\n");
        if (csv) {
            fprintf(csv, "%d", Nc + f + 1);
            for (size_t j = 0; j < (size_t)GROUPS * METRICS; j++)
                fprintf(csv, ",%.6g", acc[j * F + f]); /* nan for a CoM without a value */
            fprintf(csv, "\n");
        }
    }
    printf("%-6s |", "mean");
    for (int g = 0; g < GROUPS; g++) {
        for (int q = 0; q < METRICS; q++)
            v[q] = mean_of(acc + g * per + (size_t)q * F, F);
        print_group(v);
    }
    printf("\n");
    static const char *const group_titles[GROUPS] = {
        "the model's best of K", "the model's first sample", "copy-last", "all-black"};
    for (int g = 0; g < GROUPS; g++) {
        double n = 0;
        for (int f = 0; f < F; f++)
            n += icnt[g * per + (size_t)M_PSNR * F + f];
        if (n > 0)
            printf("PSNR: %.0f of %s's %ld frames equal the truth exactly (+inf dB); they are left "
                   "out of its PSNR averages (inf where every frame is)\n",
                   n, group_titles[g], (long)N * F);
    }
    if (N > 1 && Nc > 0 && !o.no_check) {
        /* Does the model use its conditioning frames? The first sample again, same noise,
         * with clip i + 1's conditioning frames (the whole roll-out from them): a model that
         * reads them does worse here. */
        size_t nc = rin_config_cond_floats(c);
        float *other = malloc((size_t)N * nc * sizeof *other);
        if (!other)
            die("out of memory");
        for (int i = 0; i < N; i++)
            memcpy(other + (size_t)i * nc, r.cond + (size_t)((i + 1) % N) * nc, nc * sizeof *other);
        rin_sample_config sc = r.sc;
        sc.seed = eval_sample_seed(&o, 0);
        rollout(r.ctx, &sc, other, N, o.batch, F, preds);
        double s3[3] = {0, 0, 0};
        for (int i = 0; i < N; i++) {
            frame_metrics_01(preds + (size_t)i * nx, r.truth + (size_t)i * nx, c, F, b, m);
            for (int q = 0; q < 3; q++)
                s3[q] += mean_of(m + (size_t)q * F, F) / N;
        }
        printf("conditioning check: the first sample with the next clip's conditioning frames "
               "scores %.2f %.2f %.4f (MSE PSNR SSIM) vs %.2f %.2f %.4f with its own\n",
               s3[0], s3[1], s3[2], mean_of(acc + per, F), mean_of(acc + per + F, F),
               mean_of(acc + per + 2 * F, F));
        free(other);
    }
    if (csv) {
        char err[1024];
        fclose(csv);
        if (rin_write_file_atomic(o.csv, csv_text, csv_len, err, sizeof err))
            die("--csv: %s", err);
        free(csv_text);
    }
    free(acc), free(cnt), free(icnt), free(m), free(base), free(preds), free(all);
    video_run_close(&r);
    return 0;
}
