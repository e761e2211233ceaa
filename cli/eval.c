/* eval.c -- `rin eval`: sample quality of any set of 28x28x1 images against real data
 * (shared/spec/evaluation.md sections 3 and 4).
 *
 *   rin eval --real fmnist:test --fake png:samples/            # a folder of PNGs
 *   rin eval --real fmnist:test --fake fmnist:train --fake-n 10000   # the real-vs-real floor
 *   rin eval --real fmnist:test --fake ckpt:models/fmnist.safetensors --fake-n 10000 \
 *            --steps 250 --sampler ddpm                           # sample, then score
 *
 * Features come from the frozen LeNet of models/featnet-fmnist.safetensors (src/eval/featnet.h):
 * the Frechet distance on its 128-d penultimate features is reported as FD-LeNet(FMNIST),
 * never "FID"; KID (cubic kernel, subsets) on the same features; the classifier score (the
 * Inception Score analogue, 10 splits) on its logits; the class histogram of the generated
 * images. Every statistic is float64 (src/eval/metrics.c). The network's SHA-256 is printed with
 * the scores, since a score means something only for that exact file.
 */
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "diffusion.h"
#include "data.h"
#include "featnet.h"
#include "imageio.h"
#include "rng.h"
#include "util.h"
#include "metrics.h"

/* A set of images as floats in [-1, 1], (n, 28, 28, 1). */
typedef struct image_set {
    float *x;
    long n;
    char what[600];
    char sampling[400]; /* generated sets: the sampling settings as JSON members, else empty */
} image_set;

static void set_from_dataset(image_set *s, const char *source, long limit) {
    char err[1024];
    rin_dataset *d;
    if (rin_dataset_load(&d, source, RIN_FEATNET_IN_H, RIN_FEATNET_IN_W, RIN_FEATNET_IN_C, err,
                         sizeof err))
        die("%s", err);
    long n = limit > 0 && limit < d->n ? limit : d->n;
    size_t per = (size_t)RIN_FEATNET_IN_H * RIN_FEATNET_IN_W;
    s->x = malloc((size_t)n * per * sizeof *s->x);
    if (!s->x)
        die("out of memory for %ld images", n);
    for (size_t i = 0; i < (size_t)n * per; i++)
        s->x[i] = 2.0f * d->images[i] / 255.0f - 1.0f;
    s->n = n;
    snprintf(s->what, sizeof s->what, "%s (%ld images)", source, n);
    rin_dataset_free(d);
}

typedef struct sample_opts {
    rin_sample_config sc; /* steps, sampler, spacing, schedule, carry, self_cond, guidance, seed */
    int batch;
    const char *weights; /* "ema" or "raw" (rin_model_load_weights) */
} sample_opts;

static void set_from_checkpoint(image_set *s, const char *path, long n, const sample_opts *o) {
    char err[1024];
    rin_model *m;
    if (rin_model_load_weights(&m, path, o->weights, err, sizeof err))
        die("%s", err);
    const rin_config *c = rin_model_config(m);
    if (rin_featnet_check_size(c->H, c->W, c->C, err, sizeof err))
        die("%s: %s", path, err);
    rin_train_config tc;
    if (rin_train_config_from_file(&tc, path, err, sizeof err))
        die("%s", err);
    rin_sample_config sc = o->sc;
    rin_sample_config_from_train(&sc, &tc);
    int B = n < o->batch ? (int)n : o->batch;
    rin_ctx *ctx;
    if (rin_ctx_create(&ctx, m, B, RIN_CTX_INFER, err, sizeof err))
        die("%s", err);
    size_t per = (size_t)c->H * c->W * c->C;
    s->x = malloc((size_t)n * per * sizeof *s->x);
    int *labels = malloc((size_t)B * sizeof *labels);
    if (!s->x || !labels)
        die("out of memory for %ld samples", n);
    /* classes drawn uniformly at random, as for FID sampling (spec 3.4) */
    rin_rng lr;
    rin_rng_seed(&lr, o->sc.seed ^ 0x4C4142454Cull);
    double t0 = rin_time_seconds();
    for (long start = 0; start < n; start += B) {
        int nb = n - start < B ? (int)(n - start) : B;
        for (int b = 0; b < nb; b++)
            labels[b] =
                c->num_classes > 0 ? (int)(rin_rng_u64(&lr) % (uint64_t)c->num_classes) : -1;
        sc.seed = o->sc.seed + (uint64_t)start;
        if (rin_sample(ctx, &sc, nb, c->num_classes > 0 ? labels : NULL, s->x + (size_t)start * per,
                       NULL, NULL, err, sizeof err))
            die("%s", err);
        double dt = rin_time_seconds() - t0;
        fprintf(stderr, "\rsampling %ld/%ld (%.2f img/s)", start + nb, n, (start + nb) / dt);
    }
    fprintf(stderr, "\n");
    /* the images as a PNG would store them: bytes, then back to [-1, 1] */
    uint8_t *u = malloc((size_t)n * per);
    if (!u)
        die("out of memory");
    rin_float_to_u8(u, s->x, (size_t)n * per, (float)sc.b_scale);
    for (size_t i = 0; i < (size_t)n * per; i++)
        s->x[i] = 2.0f * u[i] / 255.0f - 1.0f;
    free(u);
    s->n = n;
    rin_sampler_plan plan;
    if (rin_sample_plan(&plan, &sc, err, sizeof err))
        die("%s", err);
    snprintf(s->what, sizeof s->what,
             "%s (%s weights): %ld samples, %s %d steps on the %s spacing (%d calls)%s%s%s%s", path,
             o->weights, n, sc.sampler, sc.steps, rin_spacing_name(plan.spacing),
             rin_sampler_calls(&plan), plan.spacing == RIN_SPACING_T ? ", schedule " : "",
             plan.spacing == RIN_SPACING_T ? sc.schedule : "",
             sc.self_cond ? "" : ", no self-conditioning", sc.guidance != 0 ? ", guided" : "");
    snprintf(
        s->sampling, sizeof s->sampling,
        "  \"samples\": %ld,\n  \"weights\": \"%s\",\n  \"sampler\": \"%s\",\n  \"steps\": %d,\n"
        "  \"spacing\": \"%s\",\n  \"calls\": %d,\n  \"guidance\": %.9g,\n"
        "  \"self_cond\": %d,\n",
        n, o->weights, sc.sampler, sc.steps, rin_spacing_name(plan.spacing),
        rin_sampler_calls(&plan), sc.guidance, sc.self_cond);
    free(labels);
    rin_ctx_free(ctx);
    rin_model_free(m);
}

/* Features (n,128) and logits (n,10) of a set. */
static void featurise(rin_featnet *net, const image_set *s, float *feat, float *logits) {
    size_t per = (size_t)RIN_FEATNET_IN_H * RIN_FEATNET_IN_W;
    for (long start = 0; start < s->n; start += net->max_batch) {
        int nb = s->n - start < net->max_batch ? (int)(s->n - start) : net->max_batch;
        rin_status st = rin_featnet_forward(net, s->x + (size_t)start * per, nb,
                                            feat + (size_t)start * RIN_FEATNET_FEATURES,
                                            logits + (size_t)start * RIN_FEATNET_CLASSES);
        if (st)
            die("feature network: %s", rin_status_str(st));
    }
}

static void eval_usage(FILE *f) {
    fprintf(f,
            "usage: rin eval --fake SOURCE [--real SOURCE] [options]\n"
            "\n"
            "  --real SOURCE     real images (default fmnist:test)\n"
            "  --real-n N        use the first N real images (default all)\n"
            "  --fake SOURCE     generated images: png:DIR, any dataset source (fmnist:train\n"
            "                    gives the real-vs-real floor), or ckpt:FILE to sample first\n"
            "  --fake-n N        images to use or to sample (default: all, or 10000 for ckpt:)\n"
            "  --featnet FILE    feature network (default models/featnet-fmnist.safetensors)\n"
            "  --json FILE       also write the results as JSON\n"
            "  --kid-subsets K   KID subsets (default 100)\n"
            "  --kid-size M      KID subset size (default 1000)\n"
            "  --splits S        classifier-score splits (default 10)\n"
            "  --seed S          seed of subsets, splits, sampling noise and labels (default 0)\n"
            "sampling options for ckpt: sources:\n"
            "  --steps T (default 250), --sampler S (default ddpm), --spacing P (default auto),\n"
            "  --schedule S (default cosine), --latent-carry C (default call), --no-self-cond,\n"
            "  --guidance W, --batch B (64), as for rin sample (docs/sampling.md);\n"
            "  --weights ema|raw (default ema: a training checkpoint's EMA copy; raw: its\n"
            "  optimised weights)\n");
}

int cmd_eval(int argc, char **argv) {
    if (video_args_name_video_model(argc, argv))
        return cmd_eval_video(argc, argv);
    static const struct option opts[] = {{"real", required_argument, 0, 'r'},
                                         {"real-n", required_argument, 0, 'R'},
                                         {"fake", required_argument, 0, 'f'},
                                         {"fake-n", required_argument, 0, 'F'},
                                         {"featnet", required_argument, 0, 'n'},
                                         {"json", required_argument, 0, 'j'},
                                         {"kid-subsets", required_argument, 0, 'k'},
                                         {"kid-size", required_argument, 0, 'K'},
                                         {"splits", required_argument, 0, 'p'},
                                         {"seed", required_argument, 0, 's'},
                                         {"steps", required_argument, 0, 't'},
                                         SAMPLING_OPTIONS,
                                         {"no-self-cond", no_argument, 0, 'x'},
                                         {"guidance", required_argument, 0, 'g'},
                                         {"batch", required_argument, 0, 'b'},
                                         {"weights", required_argument, 0, 'w'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *real = "fmnist:test", *fake = NULL, *netpath = "models/featnet-fmnist.safetensors";
    const char *json = NULL;
    long real_n = 0, fake_n = 0;
    int kid_subsets = 100, kid_size = 1000, splits = 10, o;
    uint64_t seed = 0;
    sample_opts so = {.batch = 64, .weights = "ema"};
    rin_sample_config_default(&so.sc);
    so.sc.steps = 250; /* the protocol of docs/quality.md: DDPM 250, not rin sample's default */
    snprintf(so.sc.sampler, sizeof so.sc.sampler, "ddpm");
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (o) {
        case 'r': real = optarg; break;
        case 'R': real_n = parse_long("--real-n", optarg, 1, 1L << 40); break;
        case 'f': fake = optarg; break;
        case 'F': fake_n = parse_long("--fake-n", optarg, 1, 1L << 40); break;
        case 'n': netpath = optarg; break;
        case 'j': json = optarg; break;
        case 'k': kid_subsets = (int)parse_long("--kid-subsets", optarg, 1, 100000); break;
        case 'K': kid_size = (int)parse_long("--kid-size", optarg, 2, 1000000); break;
        case 'p': splits = (int)parse_long("--splits", optarg, 1, 1000); break;
        case 's': seed = parse_u64("--seed", optarg); break;
        case 't': so.sc.steps = (int)parse_long("--steps", optarg, 1, 100000); break;
        case 'x': so.sc.self_cond = 0; break;
        case 'g': so.sc.guidance = parse_double("--guidance", optarg); break;
        case 'b': so.batch = (int)parse_long("--batch", optarg, 1, 4096); break;
        case 'w':
            if (strcmp(optarg, "ema") && strcmp(optarg, "raw"))
                die("--weights: '%s' (expected ema or raw)", optarg);
            so.weights = optarg;
            break;
        case 'h': eval_usage(stdout); return 0;
        default:
            if (sampling_option(&so.sc, o, optarg))
                break;
            eval_usage(stderr);
            return 2;
        }
    }
    char err0[512];
    if (!fake) {
        eval_usage(stderr);
        fprintf(stderr, "rin eval: --fake is required\n");
        return 2;
    }
    so.sc.seed = seed;
    rin_sampler_plan plan;
    if (rin_sample_plan(&plan, &so.sc, err0, sizeof err0))
        die("%s", err0);
    char err[1024];
    rin_featnet *net;
    if (rin_featnet_load(&net, netpath, 500, 0, err, sizeof err))
        die("%s", err);
    image_set R = {0}, G = {0};
    set_from_dataset(&R, real, real_n);
    if (!strncmp(fake, "ckpt:", 5))
        set_from_checkpoint(&G, fake + 5, fake_n ? fake_n : 10000, &so);
    else
        set_from_dataset(&G, fake, fake_n);
    long nmax = R.n > G.n ? R.n : G.n;
    float *feat = malloc((size_t)nmax * RIN_FEATNET_FEATURES * sizeof *feat);
    float *gfeat = malloc((size_t)G.n * RIN_FEATNET_FEATURES * sizeof *gfeat);
    float *logits = malloc((size_t)nmax * RIN_FEATNET_CLASSES * sizeof *logits);
    if (!feat || !gfeat || !logits)
        die("out of memory for features");
    rin_feature_stats sr = {0}, sg = {0};
    double fd, kid, kid_sd, cs_r, cs_r_sd, cs_g, cs_g_sd;
    featurise(net, &R, feat, logits);
    if (rin_stats_compute(&sr, feat, R.n, RIN_FEATNET_FEATURES, err, sizeof err))
        die("real features: %s", err);
    if (rin_classifier_score(&cs_r, &cs_r_sd, logits, R.n, RIN_FEATNET_CLASSES, splits, seed, err,
                             sizeof err))
        die("real classifier score: %s", err);
    /* keep the real features for KID: featurise the fake set into its own buffer */
    featurise(net, &G, gfeat, logits);
    if (rin_stats_compute(&sg, gfeat, G.n, RIN_FEATNET_FEATURES, err, sizeof err))
        die("generated features: %s", err);
    if (rin_classifier_score(&cs_g, &cs_g_sd, logits, G.n, RIN_FEATNET_CLASSES, splits, seed, err,
                             sizeof err))
        die("generated classifier score: %s", err);
    if (rin_frechet_distance(&fd, &sr, &sg, err, sizeof err))
        die("%s", err);
    if (rin_kid(&kid, &kid_sd, feat, R.n, gfeat, G.n, RIN_FEATNET_FEATURES, kid_subsets, kid_size,
                seed, err, sizeof err))
        die("%s", err);
    long hist[RIN_FEATNET_CLASSES] = {0};
    for (long i = 0; i < G.n; i++) {
        int best = 0;
        for (int k = 1; k < RIN_FEATNET_CLASSES; k++)
            if (logits[i * RIN_FEATNET_CLASSES + k] > logits[i * RIN_FEATNET_CLASSES + best])
                best = k;
        hist[best]++;
    }
    printf("real:      %s\n", R.what);
    printf("generated: %s\n", G.what);
    printf("features:  %s (sha256 %s)\n", netpath, net->sha256);
    printf("  %-26s %12.4f\n", "FD-LeNet(FMNIST)", fd);
    printf("  %-26s %12.4f +- %.4f  (%d subsets of %d)\n", "KID x 1e3", 1e3 * kid, 1e3 * kid_sd,
           kid_subsets, kid_size);
    printf("  %-26s %12.4f +- %.4f  (real: %.4f +- %.4f; %d splits)\n", "ClassifierScore", cs_g,
           cs_g_sd, cs_r, cs_r_sd, splits);
    printf("  predicted classes of the generated images:");
    for (int k = 0; k < RIN_FEATNET_CLASSES; k++)
        printf(" %ld", hist[k]);
    printf("\n");
    if (json) {
        char buf[8192];
        int w = snprintf(buf, sizeof buf,
                         "{\n  \"real\": \"%s\",\n  \"generated\": \"%s\",\n"
                         "  \"featnet\": \"%s\",\n  \"featnet_sha256\": \"%s\",\n"
                         "%s"
                         "  \"fd_lenet_fmnist\": %.17g,\n  \"kid\": %.17g,\n  \"kid_std\": %.17g,\n"
                         "  \"kid_subsets\": %d,\n  \"kid_subset_size\": %d,\n"
                         "  \"classifier_score\": %.17g,\n  \"classifier_score_std\": %.17g,\n"
                         "  \"classifier_score_real\": %.17g,\n  \"splits\": %d,\n"
                         "  \"class_histogram\": [",
                         real, fake, netpath, net->sha256, G.sampling, fd, kid, kid_sd, kid_subsets,
                         kid_size, cs_g, cs_g_sd, cs_r, splits);
        for (int k = 0; k < RIN_FEATNET_CLASSES && w > 0 && (size_t)w < sizeof buf; k++)
            w += snprintf(buf + w, sizeof buf - (size_t)w, "%s%ld", k ? ", " : "", hist[k]);
        if (w > 0 && (size_t)w < sizeof buf)
            w += snprintf(buf + w, sizeof buf - (size_t)w, "]\n}\n");
        if (w < 0 || (size_t)w >= sizeof buf)
            die("--json: the result does not fit (a path is too long)");
        if (rin_write_file_atomic(json, buf, (size_t)w, err, sizeof err))
            die("%s", err);
        printf("wrote %s\n", json);
    }
    rin_stats_free(&sr);
    rin_stats_free(&sg);
    free(feat), free(gfeat), free(logits), free(R.x), free(G.x);
    rin_featnet_free(net);
    return 0;
}
