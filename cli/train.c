/* train.c -- `rin train`: a training run in a run directory.
 *
 *   rin train --preset fmnist --data fmnist --run runs/fm [--config FILE] [--set key=value]...
 *   rin train --resume runs/fm [--set total_steps=...]
 *
 * Settings come, in increasing priority, from the preset, the config file, then --set; a key is
 * a model key (rin_config), a training key (rin_train_config) or one of the run keys below.
 * The run directory holds:
 *   config.txt              every setting, resolved
 *   checkpoint.safetensors  full training state (weights, EMA, moments, step, data position),
 *                           written atomically every ckpt_every steps, at the end and on Ctrl-C
 *   model.safetensors       the EMA weights alone, for `rin sample`
 *   metrics.csv             step, loss, lr, grad_norm, img_per_s, elapsed_s
 *   samples/step_NNNNNNN.png  sample grids from the EMA weights every sample_every steps,
 *                           enlarged (sample_scale) and with their provenance in text chunks
 *   report.html             loss and lr curves, the latest grid, the history of grids (at most
 *                           24 of samples/, so it survives --resume) and the config
 * A resumed run continues bit for bit as if it had never stopped.
 *
 * Under mpirun (docs/distributed.md) each rank trains on its share of every batch; rank 0 alone
 * writes the run directory and prints, the others only compute.
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "diffusion.h"
#include "data.h"
#include "dist.h"
#include "imageio.h"
#include "rng.h"
#include "safetensors.h"
#include "util.h"
#include "keys.h"
#include "video.h"

typedef struct run_config {
    char data[512];    /* dataset source (see data.h) */
    int random_flip;   /* horizontal flips */
    long log_every;    /* metrics.csv row and non-tty progress line */
    long sample_every; /* sample grid; 0 = only at the end */
    long ckpt_every;   /* checkpoint; 0 = only at the end */
    int sample_count;  /* images per grid */
    int sample_steps;  /* sampler steps for grids */
    int sample_scale;  /* grid enlargement; 0 = automatic (rin_grid_auto_scale) */
    char sample_sampler[16];
    char sample_spacing[16]; /* "auto" or a spacing (docs/sampling.md) */
    double time_limit;       /* seconds of training in this invocation; 0 = none */
} run_config;

static rin_status check_sampler(const char *v, char *err, size_t errlen) {
    rin_sampler_kind k;
    return rin_sampler_parse(&k, v, err, errlen);
}
static rin_status check_spacing(const char *v, char *err, size_t errlen) {
    rin_spacing sp;
    return rin_spacing_parse(&sp, v, err, errlen);
}

/* The run keys in their fixed order (checkpoint metadata, config.txt, --help), after the model's
 * and the training's. Setting, printing, storing and --help all read this one table. */
#define F(f)  RIN_KEY_FIELD(run_config, f)
#define EVERY 1099511627776.0 /* 2^40 steps */
// clang-format off
static const rin_key run_keys[] = {
    {"data",           RIN_KEY_STRING, F(data),           .def = "fmnist",
                       .help = "dataset source (Data sources above)"},
    {"random_flip",    RIN_KEY_INT,    F(random_flip),    .lo = 0, .hi = 1, .def = "0",
                       .help = "horizontal flips"},
    {"log_every",      RIN_KEY_LONG,   F(log_every),      .lo = 1, .hi = EVERY, .def = "15",
                       .help = "a metrics.csv row (and a progress line) every N steps"},
    {"sample_every",   RIN_KEY_LONG,   F(sample_every),   .lo = 0, .hi = EVERY, .def = "1000",
                       .help = "a sample grid every N steps (0 = only at the end)"},
    {"ckpt_every",     RIN_KEY_LONG,   F(ckpt_every),     .lo = 0, .hi = EVERY, .def = "1000",
                       .help = "a checkpoint every N steps (0 = only at the end)"},
    {"sample_count",   RIN_KEY_INT,    F(sample_count),   .lo = 1, .hi = 1024, .def = "40",
                       .help = "images per grid"},
    {"sample_steps",   RIN_KEY_INT,    F(sample_steps),   .lo = 1, .hi = 100000, .def = "15",
                       .help = "sampler steps for grids"},
    {"sample_sampler", RIN_KEY_STRING, F(sample_sampler), .check = check_sampler, .def = "dpm++2m",
                       .help = "sampler for grids (docs/sampling.md)"},
    {"time_limit",     RIN_KEY_DOUBLE, F(time_limit),     .lo = 0, .hi = (double)INFINITY,
                       .what = "seconds >= 0", .def = "0",
                       .help = "seconds of training in this invocation (0 = none)"},
    {"sample_scale",   RIN_KEY_INT,    F(sample_scale),   .lo = 0, .hi = 64, .def = "0",
                       .help = "grids enlarged N times (0 = auto: each image >= 84 pixels)"},
    {"sample_spacing", RIN_KEY_STRING, F(sample_spacing), .check = check_spacing, .def = "auto",
                       .help = "noise levels of grids (docs/sampling.md)"},
};
// clang-format on
#undef F
#undef EVERY
#define NRUNKEYS ((int)(sizeof run_keys / sizeof run_keys[0]))

static void run_defaults(run_config *r) {
    memset(r, 0, sizeof *r);
    rin_keys_defaults(run_keys, NRUNKEYS, r);
}

/* Sets a run key; returns 0 if `key` is not one, 1 if set; dies on a bad value. */
static int run_set(run_config *r, const char *key, const char *v, const char *where) {
    int i = rin_keys_find(run_keys, NRUNKEYS, key);
    if (i < 0)
        return 0;
    char err[1024];
    if (rin_key_set(&run_keys[i], r, v, err, sizeof err))
        die("%s%s", where, err);
    return 1;
}

typedef struct settings {
    rin_config model;
    rin_train_config train;
    run_config run;
} settings;

/* One key=value into whichever config owns the key; dies naming `where` and the key. */
static void settings_set(settings *s, const char *key, const char *value, const char *where) {
    if (set_model_or_train_key(&s->model, &s->train, key, value, where))
        return;
    if (run_set(&s->run, key, value, where))
        return;
    die("%sunknown key '%s' (see `rin train --help` for the keys)", where, key);
}

static void settings_set_cb(void *user, const char *key, const char *value, const char *where) {
    settings_set(user, key, value, where);
}

/* The three tables of settings in their order (config.txt, --help): the model's, the
 * training's, the run's; and the part of s each one fills. */
static const rin_key *settings_keys(int t, int *n) {
    if (t == 0)
        return rin_config_keys(n);
    if (t == 1)
        return rin_train_config_keys(n);
    *n = NRUNKEYS;
    return run_keys;
}
static const void *settings_part(const settings *s, int t) {
    return t == 0 ? (const void *)&s->model : t == 1 ? (const void *)&s->train : &s->run;
}

/* Every setting as "key=value" lines. */
static void settings_format(const settings *s, char *buf, size_t cap) {
    size_t w = 0;
    buf[0] = 0;
    for (int t = 0; t < 3 && w < cap; t++) {
        int n;
        const rin_key *k = settings_keys(t, &n);
        w += (size_t)rin_keys_format(k, n, settings_part(s, t), buf + w, cap - w);
    }
}

/* ---- metrics ------------------------------------------------------------------------------ */

typedef struct metrics {
    long *step;
    double *loss, *lr;
    int n, cap;
} metrics;

static void metrics_add(metrics *m, long step, double loss, double lr) {
    if (m->n == m->cap) {
        m->cap = m->cap ? 2 * m->cap : 1024;
        m->step = realloc(m->step, (size_t)m->cap * sizeof *m->step);
        m->loss = realloc(m->loss, (size_t)m->cap * sizeof *m->loss);
        m->lr = realloc(m->lr, (size_t)m->cap * sizeof *m->lr);
        if (!m->step || !m->loss || !m->lr)
            die("out of memory (metrics)");
    }
    m->step[m->n] = step;
    m->loss[m->n] = loss;
    m->lr[m->n] = lr;
    m->n++;
}

/* Reads metrics.csv back on resume, keeping only rows up to `upto` (a run killed after its last
 * checkpoint logged steps that will be repeated), and rewrites the file to match. */
static void metrics_reload(metrics *m, const char *path, long upto) {
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    char line[512];
    char *kept = NULL;
    size_t klen = 0, kcap = 0;
    int first = 1;
    while (fgets(line, sizeof line, f)) {
        long step;
        double loss, lr;
        int ok = sscanf(line, "%ld,%lf,%lf", &step, &loss, &lr) == 3;
        if (!first && (!ok || step > upto))
            continue;
        if (!first)
            metrics_add(m, step, loss, lr);
        first = 0;
        size_t L = strlen(line);
        if (klen + L + 1 > kcap) {
            kcap = 2 * (klen + L + 1);
            kept = realloc(kept, kcap);
            if (!kept)
                die("out of memory (metrics)");
        }
        memcpy(kept + klen, line, L);
        klen += L;
    }
    fclose(f);
    char err[512];
    if (kept && rin_write_file_atomic(path, kept, klen, err, sizeof err))
        die("%s", err);
    free(kept);
}

/* ---- the run ------------------------------------------------------------------------------ */

static volatile sig_atomic_t stop_requested;
static void on_signal(int sig) {
    (void)sig;
    stop_requested = 1;
}

static void mkdir_p(const char *dir) {
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", dir);
    for (char *p = buf + 1; *p; p++)
        if (*p == '/') {
            *p = 0;
            mkdir(buf, 0755);
            *p = '/';
        }
    if (mkdir(buf, 0755) && errno != EEXIST)
        die("%s: cannot create the run directory: %s", dir, strerror(errno));
    /* writable? create and remove a probe, so a read-only directory fails now, not at step 1000 */
    char probe[1100];
    snprintf(probe, sizeof probe, "%s/.rin_probe.%d", dir, (int)getpid());
    FILE *f = fopen(probe, "w");
    if (!f)
        die("%s: the run directory is not writable: %s", dir, strerror(errno));
    fclose(f);
    unlink(probe);
}

/* Files "NAME.tmp.PID" that a killed run left behind (the atomic writers' temporaries; never
 * visible under a real name) are removed when the run resumes. */
static void remove_stale_temporaries(const char *dir) {
    DIR *dp = opendir(dir);
    if (!dp)
        return;
    struct dirent *e;
    while ((e = readdir(dp)) != NULL) {
        const char *t = strstr(e->d_name, ".tmp.");
        if (!t || t == e->d_name || strspn(t + 5, "0123456789") != strlen(t + 5) || !t[5])
            continue;
        char p[1400];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        if (unlink(p) == 0)
            fprintf(stderr, "rin train: removed %s, left by an interrupted write\n", p);
    }
    closedir(dp);
}

typedef struct run {
    settings s;
    const char *dir;
    rin_model *model;
    rin_trainer *tr;
    rin_dataset *data;
    rin_batcher batcher;
    rin_ctx *sctx;           /* sampling from the EMA weights */
    rin_video_source *video; /* video models: clips of seq_len frames instead of data/batcher */
    float *cond;             /* video: the batch's conditioning frames */
    metrics met;
    char last_grid[1200];
    double elapsed;   /* training seconds over all invocations */
    int rank, nranks; /* data parallel: this process's rank of nranks (0 of 1 alone) */
} run;

/* An error that every rank met at the same point (a non-finite loss is summed over the ranks):
 * rank 0 reports it and every rank leaves the job in order, with status 1. */
static void die_together(const run *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3), noreturn));
static void die_together(const run *r, const char *fmt, ...) {
    if (r->rank == 0) {
        va_list ap;
        fprintf(stderr, "rin: ");
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fprintf(stderr, "\n");
    }
    rin_dist_finalize();
    exit(1);
}

/* All ranks must hold the same weights: at the start (same seed, or the same checkpoint file on
 * every machine) and at every checkpoint (the same update of the same summed gradient). A
 * collective; compares SHA-256 prefixes of the weights and the EMA. */
static void check_ranks_agree(const run *r, const char *when, const char *hint) {
    if (r->nranks == 1)
        return;
    size_t nf = rin_model_buffer_floats(r->model);
    char hw[65], he[65];
    rin_sha256_hex(rin_model_params(r->model), nf * sizeof(float), hw);
    rin_sha256_hex(rin_trainer_ema(r->tr), nf * sizeof(float), he);
    hw[16] = he[16] = 0;
    uint64_t h = strtoull(hw, NULL, 16) ^ (strtoull(he, NULL, 16) * 3);
    if (!rin_dist_same_u64(h))
        die_together(r, "the %d ranks hold different weights %s (%s)", r->nranks, when, hint);
}

static void path_in(char *buf, size_t cap, const run *r, const char *name) {
    snprintf(buf, cap, "%s/%s", r->dir, name);
}

static void save_checkpoint(run *r) {
    char when[64];
    snprintf(when, sizeof when, "at step %ld", rin_trainer_step_count(r->tr));
    check_ranks_agree(r, when, "a bug: please report it");
    if (r->rank != 0)
        return;
    char path[1200], epoch[32], pos[32], el[64], err[1024];
    snprintf(epoch, sizeof epoch, "%ld", r->batcher.epoch);
    snprintf(pos, sizeof pos, "%ld", r->batcher.pos);
    snprintf(el, sizeof el, "%.3f", r->elapsed);
    char vals[NRUNKEYS][600];
    const char *meta[2 * (NRUNKEYS + 4) + 1];
    int k = 0;
    for (int i = 0; i < NRUNKEYS; i++) {
        rin_key_get(&run_keys[i], &r->s.run, vals[i], sizeof vals[i]);
        meta[k++] = run_keys[i].name;
        meta[k++] = vals[i];
    }
    meta[k++] = "data_epoch";
    meta[k++] = epoch;
    meta[k++] = "data_pos";
    meta[k++] = pos;
    meta[k++] = "elapsed_s";
    meta[k++] = el;
    meta[k] = NULL;
    path_in(path, sizeof path, r, "checkpoint.safetensors");
    if (rin_trainer_save(r->tr, path, meta, err, sizeof err))
        die("%s", err);
    path_in(path, sizeof path, r, "model.safetensors");
    if (rin_trainer_export(r->tr, path, meta, err, sizeof err))
        die("%s", err);
}

/* ---- sample grids and the report ---------------------------------------------------------- */

#define REPORT_HISTORY 24 /* grids of the run in report.html, at most: a few MB */

typedef struct grid_file {
    long step;
    char path[1200];
} grid_file;

static int grid_file_cmp(const void *a, const void *b) {
    const grid_file *x = a, *y = b;
    return (x->step > y->step) - (x->step < y->step);
}

/* The grids in DIR/samples (step_NNNNNNN.png, whatever invocation wrote them), sorted by step,
 * thinned to at most `max` evenly spaced ones that always keep the first and the latest.
 * Returns their count; *out is malloc'd (NULL when there are none). */
static int list_grids(const run *r, grid_file **out, int max) {
    *out = NULL;
    char dir[1200];
    path_in(dir, sizeof dir, r, "samples");
    DIR *dp = opendir(dir);
    if (!dp)
        return 0;
    grid_file *g = NULL;
    int n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(dp)) != NULL) {
        const char *d = e->d_name;
        if (strncmp(d, "step_", 5) != 0)
            continue;
        size_t digits = strspn(d + 5, "0123456789");
        if (digits == 0 || digits > 15 || strcmp(d + 5 + digits, ".png") != 0)
            continue; /* also the atomic writers' step_N.png.tmp.PID */
        if (n == cap) {
            cap = cap ? 2 * cap : 64;
            grid_file *ng = realloc(g, (size_t)cap * sizeof *g);
            if (!ng)
                die("out of memory (listing %s)", dir);
            g = ng;
        }
        int w = snprintf(g[n].path, sizeof g[n].path, "%s/%s", dir, d);
        if (w < 0 || (size_t)w >= sizeof g[n].path)
            continue;
        g[n].step = atol(d + 5);
        n++;
    }
    closedir(dp);
    if (n == 0) {
        free(g);
        return 0;
    }
    qsort(g, (size_t)n, sizeof *g, grid_file_cmp);
    if (n > max) { /* grid k of max is number round(k (n - 1) / (max - 1)): distinct, 0 and n-1 */
        for (int k = 0; k < max; k++)
            g[k] = g[(int)(((long)k * (n - 1) + (max - 1) / 2) / (max - 1))];
        n = max;
    }
    *out = g;
    return n;
}

static void write_report(run *r, const char *note) {
    char path[1200], err[1024], cfg[16384];
    settings_format(&r->s, cfg, sizeof cfg);
    grid_file *g;
    int ng = list_grids(r, &g, REPORT_HISTORY);
    const char *hist[REPORT_HISTORY];
    long steps[REPORT_HISTORY];
    for (int i = 0; i < ng; i++) {
        hist[i] = g[i].path;
        steps[i] = g[i].step;
    }
    /* the latest grid: this invocation's, or after --resume the newest in samples/ */
    const char *latest = r->last_grid[0] ? r->last_grid : ng > 0 ? g[ng - 1].path : NULL;
    run_report rep = {.title = r->dir,
                      .config_text = cfg,
                      .steps = r->met.step,
                      .loss = r->met.loss,
                      .lr = r->met.lr,
                      .n = r->met.n,
                      .grid_png = latest,
                      .notes = note,
                      .history_png = hist,
                      .history_steps = steps,
                      .nhistory = ng};
    path_in(path, sizeof path, r, "report.html");
    if (report_write(path, &rep, err, sizeof err))
        die("%s", err);
    free(g);
}

static void sample_grid(run *r) {
    const rin_config *c = &r->s.model;
    int N = r->s.run.sample_count;
    if (r->video) /* a strip of a few held-out clips: truth rows and prediction rows */
        N = N < 4 ? N : 4;
    rin_sample_config sc;
    rin_sample_config_default(&sc);
    sc.steps = r->s.run.sample_steps;
    snprintf(sc.sampler, sizeof sc.sampler, "%s", r->s.run.sample_sampler);
    snprintf(sc.spacing, sizeof sc.spacing, "%s", r->s.run.sample_spacing);
    rin_sample_config_from_train(&sc, &r->s.train);
    sc.seed = 1234; /* the same noise every time, so grids show progress, not luck */
    int *labels = malloc((size_t)N * sizeof *labels);
    float *imgs = malloc((size_t)N * c->H * c->W * c->C * sizeof *imgs);
    if (!labels || !imgs)
        die("out of memory (samples)");
    for (int i = 0; i < N; i++)
        labels[i] = c->num_classes > 0 ? i % c->num_classes : -1;
    char err[1024];
    rin_ctx_set_params(r->sctx, rin_trainer_ema(r->tr));
    char name[64];
    long step = rin_trainer_step_count(r->tr);
    snprintf(name, sizeof name, "samples/step_%07ld.png", step);
    int cols = c->num_classes > 0 && c->num_classes <= 16 ? c->num_classes : 8;
    /* provenance: no checkpoint file exists for this step yet, so the run, the step and the
     * SHA-256 of the EMA weights as held in memory (the float32 buffer of rin_trainer_ema,
     * padding included; docs/training.md) */
    char sha[65];
    rin_sha256_hex(rin_trainer_ema(r->tr), rin_model_buffer_floats(r->model) * sizeof(float), sha);
    png_provenance prov = {.n = 0};
    provenance_add(&prov, "Software", "rin");
    provenance_add(&prov, "run", "%s", r->dir);
    provenance_add(&prov, "step", "%ld", step);
    provenance_add(&prov, "weights", "ema");
    provenance_add(&prov, "weights_sha256", "%s", sha);
    provenance_sampler(&prov, &sc);
    if (r->video)
        provenance_add(&prov, "data", "held-out clips -%d to -1 of %s", N, r->s.run.data);
    else if (c->num_classes > 0)
        provenance_add(&prov, "class", cols == c->num_classes ? "per column" : "in turn");
    else
        provenance_add(&prov, "class", "none (unconditional)");
    if (r->video) {
        path_in(r->last_grid, sizeof r->last_grid, r, name);
        video_preview(r->last_grid, r->sctx, r->video, &sc, N, (float)sc.b_scale,
                      r->s.run.sample_scale, &prov);
        free(labels);
        free(imgs);
        return;
    }
    if (rin_sample(r->sctx, &sc, N, c->num_classes > 0 ? labels : NULL, imgs, NULL, NULL, err,
                   sizeof err))
        die("sampling: %s", err);
    path_in(r->last_grid, sizeof r->last_grid, r, name);
    if (rin_grid_write(r->last_grid, imgs, N, c->H, c->W, c->C, cols, (float)sc.b_scale,
                       r->s.run.sample_scale, prov.text, prov.n, err, sizeof err))
        die("%s", err);
    free(labels);
    free(imgs);
}

static void fmt_duration(char *buf, size_t cap, double s) {
    if (!(s >= 0) || s > 1e7)
        snprintf(buf, cap, "?");
    else if (s >= 3600)
        snprintf(buf, cap, "%dh%02dm", (int)(s / 3600), (int)fmod(s / 60, 60));
    else if (s >= 60)
        snprintf(buf, cap, "%dm%02ds", (int)(s / 60), (int)fmod(s, 60));
    else
        snprintf(buf, cap, "%.0fs", s);
}

static void train_usage(FILE *f) {
    char presets[256];
    rin_keys_join(presets, sizeof presets, rin_config_preset_names(), ", ");
    fprintf(
        f,
        "usage: rin train --run DIR [--preset NAME | --init-from FILE] [--config FILE]\n"
        "                 [--set key=value]...\n"
        "                 [--data SOURCE] [--steps N] [--check-numerics]\n"
        "       rin train --resume DIR [--set key=value]...\n"
        "\n"
        "  --run DIR        run directory (created; must not hold a checkpoint already)\n"
        "  --resume DIR     continue the run in DIR exactly where its checkpoint left off\n"
        "  --init-from FILE start the new run from the weights of FILE (a checkpoint, or a\n"
        "                   model.safetensors: its EMA weights as both copies): its model,\n"
        "                   training and run settings; the step and data position continue;\n"
        "                   fresh optimizer moments (--config and --set change settings)\n"
        "  --preset NAME    model preset: %s (default fmnist)\n"
        "  --config FILE    'key = value' lines ('#' comments); repeatable, later files win\n"
        "  --set key=value  one setting (repeatable; wins over the file)\n"
        "  --data SOURCE    same as --set data=SOURCE\n"
        "  --steps N        same as --set total_steps=N\n"
        "  --check-numerics check every op's output at every step; stop at the first NaN or\n"
        "                   infinity and name the op and tensor (slower; for debugging)\n"
        "\n"
        "Data sources: fmnist, fmnist:test (Debian's dataset-fashion-mnist), idx:IMAGES[,LABELS],\n"
        "cifar10:DIR[:test] (binary batches), png:DIR (a folder of PNGs, resized).\n"
        "Video models (seq_len > 0): mmnist[,items=N,size=S,speed=A-B][:ITEMS] (moving items),\n"
        "clips:FILE (docs/video.md).\n",
        presets);
    settings s;
    rin_config_preset(&s.model, "fmnist", NULL, 0);
    rin_train_config_default(&s.train);
    run_defaults(&s.run);
    static const char *const heads[] = {
        "\nModel keys, in the order of config.txt (values: the fmnist preset's):\n",
        "Training keys (defaults: the released CIFAR-10 sweep's where it has them):\n",
        "Run keys:\n"};
    for (int t = 0; t < 3; t++) {
        int n;
        const rin_key *k = settings_keys(t, &n);
        char buf[16384];
        rin_keys_usage(k, n, settings_part(&s, t), "  ", buf, sizeof buf);
        fprintf(f, "%s%s", heads[t], buf);
    }
    fprintf(f,
            "\nGrids record run, step, sampler, steps, seed and the EMA weights' SHA-256 in text\n"
            "chunks (`rin info FILE.png`); report.html shows them over the run.\n"
            "Ctrl-C saves a checkpoint and exits; `rin train --resume DIR` continues.\n"
            "Data parallel: `mpirun -np N rin train ...` (docs/distributed.md).\n");
}

/* The training and run settings and the data position stored in a file rin train wrote (a
 * checkpoint or model.safetensors); the model config is read with the weights. Returns 1 when
 * the file has no data position (not written by rin train). */
static int settings_from_file(settings *st, const char *path, long *epoch, long *pos,
                              double *elapsed) {
    char err[1024];
    if (rin_train_config_from_file(&st->train, path, err, sizeof err))
        die("%s", err);
    run_defaults(&st->run);
    rin_st_file *f;
    if (rin_st_read(&f, path, err, sizeof err))
        die("%s", err);
    for (int i = 0; i < NRUNKEYS; i++) {
        const char *v = rin_st_meta(f, run_keys[i].name);
        if (v)
            run_set(&st->run, run_keys[i].name, v, "checkpoint: ");
    }
    const char *e = rin_st_meta(f, "data_epoch"), *p = rin_st_meta(f, "data_pos");
    const char *el = rin_st_meta(f, "elapsed_s");
    int missing = !e || !p;
    if (!missing) {
        *epoch = parse_long("data_epoch", e, 0, 1L << 60);
        *pos = parse_long("data_pos", p, 0, 1L << 60);
    }
    *elapsed = el ? atof(el) : 0;
    rin_st_free(f);
    return missing;
}

int cmd_train(int argc, char **argv) {
    static const struct option opts[] = {{"run", required_argument, 0, 'r'},
                                         {"resume", required_argument, 0, 'R'},
                                         {"preset", required_argument, 0, 'p'},
                                         {"config", required_argument, 0, 'c'},
                                         {"set", required_argument, 0, 's'},
                                         {"data", required_argument, 0, 'd'},
                                         {"steps", required_argument, 0, 'n'},
                                         {"help", no_argument, 0, 'h'},
                                         {"check-numerics", no_argument, 0, 'N'},
                                         {"init-from", required_argument, 0, 'I'},
                                         {0, 0, 0, 0}};
    const char *dir = NULL, *resume = NULL, *preset = "fmnist", *init_from = NULL;
    const char *sets[256], *cfgfiles[16];
    int nsets = 0, ncfg = 0, o, check_numerics = 0;
    char steps_kv[64], data_kv[600];
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (o) {
        case 'r': dir = optarg; break;
        case 'R': resume = optarg; break;
        case 'p': preset = optarg; break;
        case 'c': /* repeatable: files apply in order, a later file's keys win */
            if (ncfg == 16)
                die("too many --config files (at most 16)");
            cfgfiles[ncfg++] = optarg;
            break;
        case 's':
        case 'd':
        case 'n':
            if (nsets == 256)
                die("too many settings");
            if (o == 'd') {
                snprintf(data_kv, sizeof data_kv, "data=%s", optarg);
                sets[nsets++] = data_kv;
            } else if (o == 'n') {
                snprintf(steps_kv, sizeof steps_kv, "total_steps=%s", optarg);
                sets[nsets++] = steps_kv;
            } else {
                sets[nsets++] = optarg;
            }
            break;
        case 'N': check_numerics = 1; break;
        case 'I': init_from = optarg; break;
        case 'h': train_usage(stdout); return 0;
        default: train_usage(stderr); return 2;
        }
    }
    if (optind < argc)
        die("train: unexpected argument '%s'", argv[optind]);
    if (!dir == !resume) {
        train_usage(stderr);
        fprintf(stderr, "rin train: give exactly one of --run DIR and --resume DIR\n");
        return 2;
    }
    if (init_from && resume)
        die("--init-from starts a new run (--run DIR); --resume continues one");
    char err[1024], path[1200];
    if (rin_dist_init(err, sizeof err))
        die("%s", err);
    run R;
    memset(&R, 0, sizeof R);
    run *r = &R;
    r->rank = rin_dist_rank();
    r->nranks = rin_dist_size();
    r->dir = resume ? resume : dir;
    long epoch = 0, pos = 0;
    if (resume) {
        if (ncfg)
            die("--config cannot change a resumed run (use --set for run keys)");
        snprintf(path, sizeof path, "%s/checkpoint.safetensors", resume);
        if (rin_model_load(&r->model, path, err, sizeof err))
            die("cannot resume: %s", err);
        r->s.model = *rin_model_config(r->model);
        if (settings_from_file(&r->s, path, &epoch, &pos, &r->elapsed))
            die("%s: __metadata__ lacks data_epoch/data_pos (not a rin train checkpoint?)", path);
        for (int i = 0; i < nsets; i++) {
            char key[128];
            const char *v = split_kv(sets[i], key, sizeof key, "--set");
            for (int k = 0; k < rin_config_num_keys(); k++)
                if (!strcmp(key, rin_config_key(k)))
                    die("--set %s: the model of a resumed run cannot change", key);
            settings_set(&r->s, key, v, "--set: ");
        }
    } else {
        if (init_from) { /* the file's model, settings and data position; the weights below */
            rin_model *fm;
            if (rin_model_load(&fm, init_from, err, sizeof err))
                die("--init-from: %s", err);
            r->s.model = *rin_model_config(fm);
            rin_model_free(fm);
            double el;
            if (settings_from_file(&r->s, init_from, &epoch, &pos, &el))
                epoch = pos = 0;
        } else {
            if (rin_config_preset(&r->s.model, preset, err, sizeof err))
                die("%s", err);
            rin_train_config_default(&r->s.train);
            run_defaults(&r->s.run);
        }
        rin_config file_model = r->s.model;
        for (int i = 0; i < ncfg; i++)
            read_settings_file(cfgfiles[i], settings_set_cb, &r->s);
        for (int i = 0; i < nsets; i++) {
            char key[128];
            const char *v = split_kv(sets[i], key, sizeof key, "--set");
            settings_set(&r->s, key, v, "--set: ");
        }
        if (init_from && memcmp(&file_model, &r->s.model, sizeof file_model))
            die("--init-from %s: the model keys come from the file; --config and --set may "
                "change only training and run keys",
                init_from);
        snprintf(path, sizeof path, "%s/checkpoint.safetensors", dir);
        if (access(path, F_OK) == 0)
            die("%s already holds a checkpoint: continue it with `rin train --resume %s`, or "
                "choose another --run directory",
                dir, dir);
    }
    if (rin_config_validate(&r->s.model, err, sizeof err))
        die("%s", err);
    if (rin_train_config_validate(&r->s.train, err, sizeof err))
        die("%s", err);
    const rin_config *c = &r->s.model;
    const rin_train_config *tc = &r->s.train;

    /* data before anything is written: a missing dataset must not leave a half-made run */
    if (c->seq_len > 0)
        r->video = video_open_for(c, r->s.run.data, tc->seed, 0);
    else if (rin_dataset_load(&r->data, r->s.run.data, c->H, c->W, c->C, err, sizeof err))
        die("%s", err);
    if (c->num_classes > 0 && (!r->data || !r->data->labels))
        die("the model has %d classes but %s has no labels (set num_classes=0)", c->num_classes,
            r->s.run.data);
    if (c->num_classes > 0 && r->data && r->data->num_classes > c->num_classes)
        die("%s has %d classes but the model only %d (set num_classes=%d)", r->s.run.data,
            r->data->num_classes, c->num_classes, r->data->num_classes);

    if (!resume) {
        if (rin_model_create(&r->model, c, err, sizeof err))
            die("%s", err);
        rin_model_init_params(r->model, tc->seed);
    }
    if (rin_trainer_create_shard(&r->tr, r->model, tc, r->rank, r->nranks, err, sizeof err))
        die("%s", err);
    rin_trainer_set_check_numerics(r->tr, check_numerics);
    if (init_from && rin_trainer_init_from(r->tr, init_from, err, sizeof err))
        die("--init-from: %s", err);
    if (resume) {
        snprintf(path, sizeof path, "%s/checkpoint.safetensors", resume);
        if (rin_trainer_restore(r->tr, path, err, sizeof err))
            die("cannot resume: %s", err);
    }
    check_ranks_agree(r, "at the start",
                      resume ? "is the checkpoint the same file on every machine?"
                             : "is the build the same on every machine?");
    rin_status bs = r->video ? RIN_STATUS_OK
                             : rin_batcher_init(&r->batcher, r->data, tc->seed,
                                                r->s.run.random_flip, epoch, pos);
    if (bs == RIN_STATUS_ARG)
        die("%s: the checkpoint's data position (epoch %ld, image %ld) does not fit %s with %d "
            "images: was the dataset changed?",
            r->dir, epoch, pos, r->s.run.data, r->data->n);
    if (bs)
        die("out of memory (batcher for %d images)", r->data->n);
    long step0 = rin_trainer_step_count(r->tr);
    FILE *mf = NULL; /* rank 0 alone writes the run directory */
    if (r->rank == 0) {
        if (rin_ctx_create(&r->sctx, r->model, r->s.run.sample_count, RIN_CTX_INFER, err,
                           sizeof err))
            die("%s", err);
        /* everything is allocated: only now does the run directory appear */
        mkdir_p(r->dir);
        snprintf(path, sizeof path, "%s/samples", r->dir);
        mkdir_p(path);
        if (resume) {
            remove_stale_temporaries(r->dir);
            remove_stale_temporaries(path);
        }
        char cfgtext[16384];
        settings_format(&r->s, cfgtext, sizeof cfgtext);
        path_in(path, sizeof path, r, "config.txt");
        if (rin_write_file_atomic(path, cfgtext, strlen(cfgtext), err, sizeof err))
            die("%s", err);
        char metrics_path[1200];
        path_in(metrics_path, sizeof metrics_path, r, "metrics.csv");
        if (resume)
            metrics_reload(&r->met, metrics_path, step0);
        mf = fopen(metrics_path, resume ? "a" : "w");
        if (!mf)
            die("%s: cannot open: %s", metrics_path, strerror(errno));
        if (!resume)
            fprintf(mf, "step,loss,lr,grad_norm,img_per_s,elapsed_s\n");
        fflush(mf);
    }

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    /* B: the global batch; b: this rank's share, examples [rank b, (rank+1) b) of it */
    int B = tc->batch_size, b = B / r->nranks, tty = r->rank == 0 && isatty(2);
    size_t per = rin_config_input_floats(c);
    float *x0 = malloc((size_t)b * per * sizeof *x0);
    r->cond = malloc(((size_t)b * rin_config_cond_floats(c) + 1) * sizeof *r->cond);
    int *labels = malloc((size_t)b * sizeof *labels);
    /* roll-out training: the clip's first frames and its two blocks (rin_trainer_rollout_batch) */
    int rollout = r->video && tc->rollout_rate > 0;
    /* the same clips one block longer (the previews keep r->video's clips of seq_len frames) */
    rin_video_source *longer =
        rollout ? video_open_for(c, r->s.run.data, tc->seed, c->seq_len - c->cond_frames) : NULL;
    float *cond0 =
        rollout ? malloc(((size_t)b * rin_config_cond_floats(c) + 1) * sizeof *cond0) : NULL;
    float *blocks = rollout ? malloc((size_t)b * 2 * per * sizeof *blocks) : NULL;
    if (!x0 || !labels || !r->cond || (rollout && (!cond0 || !blocks)))
        die("out of memory (batch)");
    char ranks[64] = "";
    if (r->nranks > 1)
        snprintf(ranks, sizeof ranks, " (%d ranks x %d)", r->nranks, b);
    char source[64]; /* a video source generates or holds clips; an image source counts them */
    if (r->data)
        snprintf(source, sizeof source, "%d images", r->data->n);
    else if (rollout)
        snprintf(source, sizeof source, "clips of %d frames, roll-out rate %g",
                 2 * c->seq_len - c->cond_frames, tc->rollout_rate);
    else
        snprintf(source, sizeof source, "clips of %d frames", c->seq_len);
    if (r->rank == 0)
        fprintf(stderr,
                "rin train: %s, %zu parameters, %s (%s), batch %d%s, steps %ld -> %ld, %s lr %g\n",
                r->dir, rin_config_num_params(c), r->s.run.data, source, B, ranks, step0,
                tc->total_steps, tc->optimizer, tc->lr);

    double t_start = rin_time_seconds(), t_window = t_start, elapsed0 = r->elapsed;
    long window_steps = 0;
    double ips = 0, loss_avg = 0;
    int loss_n = 0, interrupted = 0;
    while (rin_trainer_step_count(r->tr) < tc->total_steps) {
        /* the ranks stop together: 2 when any was interrupted, 1 when rank 0's clock says so */
        int stop = stop_requested ? 2
                   : r->rank == 0 && r->s.run.time_limit > 0 &&
                           rin_time_seconds() - t_start >= r->s.run.time_limit
                       ? 1
                       : 0;
        if (r->nranks > 1)
            stop = rin_dist_max(stop);
        if (stop) {
            interrupted = stop == 2;
            break;
        }
        if (rollout) { /* the same clips, one block longer */
            rin_video_batch(longer, rin_trainer_step_count(r->tr) * B + (long)r->rank * b, b,
                            c->cond_frames, (float)tc->b_scale, cond0, blocks);
            rin_status s = rin_trainer_rollout_batch(r->tr, cond0, blocks, r->cond, x0, NULL);
            if (s)
                die("step %ld: %s", rin_trainer_step_count(r->tr) + 1,
                    rin_trainer_last_error(r->tr)[0] ? rin_trainer_last_error(r->tr)
                                                     : rin_status_str(s));
        } else if (r->video) { /* clip i of the stream is clip step * B + i of the source */
            rin_video_batch(r->video, rin_trainer_step_count(r->tr) * B + (long)r->rank * b, b,
                            c->cond_frames, (float)tc->b_scale, r->cond, x0);
            rin_trainer_set_cond(r->tr, r->cond);
        } else {
            rin_batcher_skip(&r->batcher, (long)r->rank * b);
            rin_batcher_next(&r->batcher, b, (float)tc->b_scale, x0,
                             c->num_classes > 0 ? labels : NULL);
            rin_batcher_skip(&r->batcher, (long)(r->nranks - 1 - r->rank) * b);
        }
        rin_step_stats st;
        rin_status s = rin_trainer_step(r->tr, x0, c->num_classes > 0 ? labels : NULL, &st);
        long step = rin_trainer_step_count(r->tr);
        if (s == RIN_STATUS_NONFINITE)
            die_together(r,
                         "%s; nothing was saved: the checkpoint in %s (if any) is the last good "
                         "state (try a lower lr or clip_norm%s)",
                         rin_trainer_last_error(r->tr), r->dir,
                         check_numerics ? ""
                                        : "; --check-numerics names the first op that went "
                                          "non-finite");
        if (s)
            die("step %ld: %s", step + 1, rin_status_str(s));
        r->elapsed = elapsed0 + rin_time_seconds() - t_start;
        window_steps++;
        loss_avg += st.loss;
        loss_n++;
        double now = rin_time_seconds();
        /* a 2-second window, and the first step alone before one has passed (a short run's
         * progress lines showed 0.0 img/s and no ETA) */
        if ((now - t_window >= 2.0 || ips == 0) && now > t_window) {
            ips = (double)window_steps * B / (now - t_window);
            t_window = now;
            window_steps = 0;
        }
        if (r->rank == 0 && (step % r->s.run.log_every == 0 || step == tc->total_steps)) {
            double lavg = loss_avg / loss_n;
            fprintf(mf, "%ld,%.6g,%.6g,%.6g,%.2f,%.1f\n", step, lavg, st.lr, st.grad_norm, ips,
                    r->elapsed);
            fflush(mf);
            metrics_add(&r->met, step, lavg, st.lr);
            loss_avg = 0;
            loss_n = 0;
        }
        if (r->rank == 0 && (tty || step % r->s.run.log_every == 0)) {
            char eta[32];
            fmt_duration(eta, sizeof eta,
                         ips > 0 ? (double)(tc->total_steps - step) * B / ips : -1);
            fprintf(stderr, "%sstep %ld/%ld  loss %.4f  lr %.2e  %.1f img/s  ETA %s%s",
                    tty ? "\r" : "", step, tc->total_steps, st.loss, st.lr, ips, eta,
                    tty ? "   " : "\n");
        }
        int last = step == tc->total_steps;
        if (r->rank == 0 &&
            ((r->s.run.sample_every > 0 && step % r->s.run.sample_every == 0) || last)) {
            sample_grid(r);
            write_report(r, NULL);
        }
        if ((r->s.run.ckpt_every > 0 && step % r->s.run.ckpt_every == 0) || last)
            save_checkpoint(r);
    }
    if (tty)
        fprintf(stderr, "\n");
    long step = rin_trainer_step_count(r->tr);
    if (step < tc->total_steps) {
        /* stopped early (Ctrl-C or time limit): keep everything for --resume */
        if (r->rank == 0)
            sample_grid(r);
        save_checkpoint(r);
    }
    if (r->rank == 0) {
        char note[256];
        snprintf(note, sizeof note, "step %ld of %ld; %.0f s of training", step, tc->total_steps,
                 r->elapsed);
        write_report(r, note);
        fclose(mf);
        fprintf(stderr,
                "rin train: %s at step %ld; checkpoint %s/checkpoint.safetensors, report "
                "%s/report.html\n",
                interrupted ? "interrupted"
                            : (step < tc->total_steps ? "time limit reached" : "done"),
                step, r->dir, r->dir);
        if (step < tc->total_steps)
            fprintf(stderr, "rin train: continue with `rin train --resume %s`\n", r->dir);
    }
    free(x0), free(cond0), free(blocks);
    rin_video_free(longer);
    free(labels);
    free(r->met.step), free(r->met.loss), free(r->met.lr);
    rin_ctx_free(r->sctx);
    rin_batcher_free(&r->batcher);
    rin_trainer_free(r->tr);
    rin_dataset_free(r->data);
    rin_video_free(r->video);
    free(r->cond);
    rin_model_free(r->model);
    rin_dist_finalize();
    return interrupted ? 130 : 0;
}
