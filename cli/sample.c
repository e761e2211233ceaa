/* sample.c -- `rin sample`: images from a checkpoint.
 *
 *   rin sample --model runs/fm/model.safetensors --n 40 --steps 250 --grid grid.png
 *   rin sample --model ckpt --n 8 --class 3 --sampler ddim --steps 50 --out-dir imgs/
 *   rin sample --model ckpt --n 8 --trajectory traj.png
 *
 * The sampling schedule, sampler, steps, guidance and seed are options; the prediction type,
 * input scale and input normalisation come from the training config stored in the checkpoint.
 * A training checkpoint is sampled with its EMA weights unless --weights raw.
 *
 * Grids and trajectories are enlarged by a whole number so each image is at least 84 pixels
 * (--scale); --out-dir images stay at the model's size, since they are data for `rin eval`.
 * Every PNG carries its provenance in tEXt chunks: the checkpoint's SHA-256 and step, sampler,
 * steps, seed, guidance, class (`rin info FILE.png` prints them).
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "diffusion.h"
#include "imageio.h"
#include "rng.h"
#include "util.h"

static void sample_usage(FILE *f) {
    fprintf(f,
            "usage: rin sample --model CKPT [options]\n"
            "\n"
            "  --model CKPT       checkpoint (rin train's model.safetensors or checkpoint)\n"
            "  --weights W        ema (default; plain weights if the file has no EMA) or raw\n"
            "  --n N              images (default 16)\n"
            "  --steps T          sampler steps (default 15 with the default dpm++2m; heun makes\n"
            "                     up to 2T - 1 calls)\n" SAMPLING_USAGE
            "  --td X             time difference (default 0; ddpm and ddim on the t spacing)\n"
            "  --guidance W       classifier-free guidance weight (default 0)\n"
            "  --class K          every image of class K (default: classes in turn)\n"
            "  --classes random   uniformly random classes (as for FID sampling)\n"
            "  --no-self-cond     do not carry latents between steps (ablation)\n"
            "  --seed S           noise seed (default 0)\n"
            "  --batch B          images per network call (default 64)\n"
            "  --grid FILE        write a grid PNG (default samples.png unless --out-dir)\n"
            "  --cols C           grid columns (default: the class count up to 16, else 8)\n"
            "  --scale N          enlarge grids and trajectories N times, nearest neighbour\n"
            "                     (default auto: each image at least 84 pixels, e.g. 28 or\n"
            "                     32 -> 3x, 64 -> 2x; --scale 1 = the model's size)\n"
            "  --out-dir DIR      write one PNG per image, DIR/sample_00000.png ... (always\n"
            "                     the model's size: data for `rin eval --fake png:DIR`)\n"
            "  --trajectory FILE  a strip of x0_hat at 10 steps for the first 8 images\n"
            "\n"
            "Every PNG records the checkpoint's SHA-256 and step, the sampler, steps, seed,\n"
            "guidance and class in text chunks: `rin info FILE.png` prints them.\n");
}

typedef struct traj {
    uint8_t *canvas; /* rows: images, columns: snapshots */
    int rows, cols, H, W, C, pad, steps;
    float b;
    int *snap_steps;
} traj;

/* Keeps x0_hat at evenly spaced steps for the trajectory strip. */
static void on_step(void *user, int step, int steps, const float *x0_hat, const float *x) {
    (void)x;
    traj *t = user;
    for (int k = 0; k < t->cols; k++) {
        if (t->snap_steps[k] != step)
            continue;
        int cw = t->W + t->pad, ch = t->H + t->pad, GW = t->cols * cw + t->pad;
        for (int r = 0; r < t->rows; r++) {
            uint8_t tile[256 * 256 * 3];
            rin_float_to_u8(tile, x0_hat + (size_t)r * t->H * t->W * t->C,
                            (size_t)t->H * t->W * t->C, t->b);
            for (int y = 0; y < t->H; y++)
                memcpy(t->canvas + (((size_t)(t->pad + r * ch + y) * GW) + t->pad + k * cw) * t->C,
                       tile + (size_t)y * t->W * t->C, (size_t)t->W * t->C);
        }
    }
    (void)steps;
}

int cmd_sample(int argc, char **argv) {
    if (video_args_name_video_model(argc, argv))
        return cmd_sample_video(argc, argv);
    static const struct option opts[] = {{"model", required_argument, 0, 'm'},
                                         {"weights", required_argument, 0, 'w'},
                                         {"n", required_argument, 0, 'n'},
                                         {"steps", required_argument, 0, 't'},
                                         SAMPLING_OPTIONS,
                                         {"td", required_argument, 0, 'd'},
                                         {"guidance", required_argument, 0, 'g'},
                                         {"class", required_argument, 0, 'c'},
                                         {"classes", required_argument, 0, 'C'},
                                         {"no-self-cond", no_argument, 0, 'x'},
                                         {"seed", required_argument, 0, 's'},
                                         {"batch", required_argument, 0, 'b'},
                                         {"grid", required_argument, 0, 'G'},
                                         {"cols", required_argument, 0, 'l'},
                                         {"out-dir", required_argument, 0, 'o'},
                                         {"trajectory", required_argument, 0, 'T'},
                                         {"scale", required_argument, 0, 'Z'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *mpath = NULL, *weights = "ema", *grid = NULL, *outdir = NULL, *trajpath = NULL;
    int N = 16, batch = 64, cls = -2, random_classes = 0, cols = 0, scale = 0, o;
    rin_sample_config sc;
    rin_sample_config_default(&sc);
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (o) {
        case 'm': mpath = optarg; break;
        case 'w': weights = optarg; break;
        case 'n': N = (int)parse_long("--n", optarg, 1, 1000000); break;
        case 't': sc.steps = (int)parse_long("--steps", optarg, 1, 1000000); break;
        case 'd': sc.td = parse_double("--td", optarg); break;
        case 'g': sc.guidance = parse_double("--guidance", optarg); break;
        case 'c': cls = (int)parse_long("--class", optarg, -1, 1000000); break;
        case 'C':
            if (strcmp(optarg, "random"))
                die("--classes: '%s' (expected random)", optarg);
            random_classes = 1;
            break;
        case 'x': sc.self_cond = 0; break;
        case 's': sc.seed = parse_u64("--seed", optarg); break;
        case 'b': batch = (int)parse_long("--batch", optarg, 1, 4096); break;
        case 'G': grid = optarg; break;
        case 'l': cols = (int)parse_long("--cols", optarg, 1, 1024); break;
        case 'o': outdir = optarg; break;
        case 'T': trajpath = optarg; break;
        case 'Z': scale = parse_scale("--scale", optarg); break;
        case 'h': sample_usage(stdout); return 0;
        default:
            if (sampling_option(&sc, o, optarg))
                break;
            sample_usage(stderr);
            return 2;
        }
    }
    if (!mpath) {
        sample_usage(stderr);
        fprintf(stderr, "rin sample: --model is required\n");
        return 2;
    }
    if (optind < argc)
        die("sample: unexpected argument '%s'", argv[optind]);
    if (!grid && !outdir)
        grid = "samples.png";
    char err[1024];
    rin_sampler_plan plan;
    if (rin_sample_plan(&plan, &sc, err, sizeof err))
        die("%s", err);
    rin_model *m;
    if (rin_model_load_weights(&m, mpath, weights, err, sizeof err))
        die("%s", err);
    const rin_config *c = rin_model_config(m);
    rin_train_config tc;
    if (rin_train_config_from_file(&tc, mpath, err, sizeof err))
        die("%s", err);
    rin_sample_config_from_train(&sc, &tc);
    if (cls >= c->num_classes || (cls >= 0 && c->num_classes == 0))
        die("--class %d: the model has %d classes", cls, c->num_classes);

    size_t per = (size_t)c->H * c->W * c->C;
    float *imgs = malloc((size_t)N * per * sizeof *imgs);
    int *labels = malloc((size_t)N * sizeof *labels);
    if (!imgs || !labels)
        die("out of memory for %d images", N);
    rin_rng lr;
    rin_rng_seed(&lr, sc.seed ^ 0xC1A55E5ull);
    for (int i = 0; i < N; i++) {
        if (c->num_classes == 0)
            labels[i] = -1;
        else if (cls != -2)
            labels[i] = cls;
        else if (random_classes)
            labels[i] = (int)(rin_rng_u64(&lr) % (uint64_t)c->num_classes);
        else
            labels[i] = i % c->num_classes;
    }
    int B = N < batch ? N : batch;
    rin_ctx *ctx;
    if (rin_ctx_create(&ctx, m, B, RIN_CTX_INFER, err, sizeof err))
        die("%s", err);

    traj tr = {0};
    if (trajpath) {
        tr.rows = B < 8 ? B : 8;
        tr.cols = sc.steps < 10 ? sc.steps : 10;
        tr.H = c->H, tr.W = c->W, tr.C = c->C, tr.pad = 2, tr.b = (float)sc.b_scale;
        if (c->H > 256 || c->W > 256)
            die("--trajectory: images larger than 256x256 are not supported");
        tr.snap_steps = malloc((size_t)tr.cols * sizeof *tr.snap_steps);
        size_t GW = (size_t)tr.cols * (c->W + 2) + 2, GH = (size_t)tr.rows * (c->H + 2) + 2;
        tr.canvas = malloc(GW * GH * (size_t)c->C);
        if (!tr.snap_steps || !tr.canvas)
            die("out of memory (trajectory)");
        memset(tr.canvas, 128, GW * GH * (size_t)c->C);
        for (int k = 0; k < tr.cols; k++)
            tr.snap_steps[k] =
                tr.cols == 1 ? sc.steps - 1 : (int)((long)k * (sc.steps - 1) / (tr.cols - 1));
    }
    double t0 = rin_time_seconds();
    for (int start = 0; start < N; start += B) {
        int nb = N - start < B ? N - start : B;
        rin_sample_config sb = sc;
        sb.seed = sc.seed + (uint64_t)start; /* each chunk its own noise */
        if (rin_sample(ctx, &sb, nb, c->num_classes > 0 ? labels + start : NULL,
                       imgs + (size_t)start * per, trajpath && start == 0 ? on_step : NULL, &tr,
                       err, sizeof err))
            die("%s", err);
        fprintf(stderr, "\rsampled %d/%d", start + nb, N);
    }
    double dt = rin_time_seconds() - t0;
    fprintf(stderr,
            "\rsampled %d images in %.1f s (%.2f img/s; %s, %d steps on the %s spacing, %d network "
            "calls%s%s)\n",
            N, dt, N / dt, sc.sampler, sc.steps, rin_spacing_name(plan.spacing),
            rin_sampler_calls(&plan) * (sc.guidance != 0 && c->num_classes > 0 ? 2 : 1),
            plan.spacing == RIN_SPACING_T ? ", schedule " : "",
            plan.spacing == RIN_SPACING_T ? sc.schedule : "");
    if (!sc.self_cond)
        fprintf(stderr, "(no self-conditioning)\n");
    /* the provenance every PNG carries; "class" is added per file */
    png_provenance prov;
    provenance_checkpoint(&prov, mpath, weights);
    provenance_sampler(&prov, &sc);
    const int nprov = prov.n;
    /* the classes as this command chose them, for a file whose image i has label i */
    char classes[64];
    if (c->num_classes == 0)
        snprintf(classes, sizeof classes, "none (unconditional)");
    else if (cls != -2)
        snprintf(classes, sizeof classes, "%d", cls);
    else if (random_classes)
        snprintf(classes, sizeof classes, "random");
    else
        snprintf(classes, sizeof classes, "in turn (image i: class i mod %d)", c->num_classes);
    if (grid) {
        if (!cols)
            cols = c->num_classes > 0 && c->num_classes <= 16 ? c->num_classes : 8;
        prov.n = nprov;
        if (c->num_classes > 0 && cls == -2 && !random_classes && cols == c->num_classes)
            provenance_add(&prov, "class", "per column");
        else
            provenance_add(&prov, "class", "%s", classes);
        if (rin_grid_write(grid, imgs, N, c->H, c->W, c->C, cols, (float)sc.b_scale, scale,
                           prov.text, prov.n, err, sizeof err))
            die("%s", err);
        printf("wrote %s (%d images)\n", grid, N);
    }
    if (outdir) {
        if (mkdir(outdir, 0755) && access(outdir, W_OK))
            die("%s: cannot create the output directory", outdir);
        uint8_t *px = malloc(per);
        if (!px)
            die("out of memory");
        for (int i = 0; i < N; i++) {
            char p[1200];
            snprintf(p, sizeof p, "%s/sample_%05d.png", outdir, i);
            rin_float_to_u8(px, imgs + (size_t)i * per, per, (float)sc.b_scale);
            prov.n = nprov;
            provenance_add(&prov, "image", "%d", i);
            if (c->num_classes > 0)
                provenance_add(&prov, "class", "%d", labels[i]);
            else
                provenance_add(&prov, "class", "%s", classes);
            if (rin_png_write_text(p, px, c->H, c->W, c->C, prov.text, prov.n, err, sizeof err))
                die("%s", err);
        }
        free(px);
        printf("wrote %d images to %s/\n", N, outdir);
    }
    if (trajpath) {
        int GW = tr.cols * (c->W + 2) + 2, GH = tr.rows * (c->H + 2) + 2;
        int s = scale ? scale : rin_grid_auto_scale(c->H, c->W);
        uint8_t *big;
        if (rin_image_upscale(&big, tr.canvas, GH, GW, c->C, s))
            die("--trajectory: cannot enlarge a %d x %d strip %d times", GH, GW, s);
        prov.n = nprov;
        provenance_add(&prov, "class", "%s", classes);
        provenance_add(&prov, "trajectory",
                       "x0_hat of the first %d images (rows) at %d of the %d steps (columns)",
                       tr.rows, tr.cols, sc.steps);
        if (rin_png_write_text(trajpath, big, GH * s, GW * s, c->C, prov.text, prov.n, err,
                               sizeof err))
            die("%s", err);
        free(big);
        printf("wrote %s (x0_hat of %d images at %d steps, left to right)\n", trajpath, tr.rows,
               tr.cols);
        free(tr.canvas);
        free(tr.snap_steps);
    }
    free(imgs);
    free(labels);
    rin_ctx_free(ctx);
    rin_model_free(m);
    return 0;
}
