/* rin.c -- the `rin` command line: a dispatcher over librin.
 *
 *   rin init    --preset NAME [--set key=value ...] [--seed S] --out FILE
 *   rin info    FILE          (a checkpoint, or a PNG: its text chunks)
 *   rin forward --model FILE --in INPUTS --out OUTPUTS [--train --seed S]
 *
 * The CLI owns process concerns (arguments, messages, exit codes); the library does the work.
 * Every failure prints what went wrong and exits non-zero.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <errno.h>
#include <stdarg.h>

#include "cli.h"
#include "data.h"
#include "diffusion.h"
#include "dist.h"
#include "internal.h"
#include "rin.h"

#define MAX_SETS 64

void die(const char *fmt, ...) {
    va_list ap;
    fprintf(stderr, "rin: ");
    if (rin_dist_size() > 1)
        fprintf(stderr, "rank %d: ", rin_dist_rank());
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n");
    rin_dist_abort(1); /* in an MPI job: stop every rank, never leave them waiting */
    exit(1);
}

unsigned long long parse_u64(const char *opt, const char *v) {
    char *end;
    errno = 0;
    unsigned long long x = strtoull(v, &end, 10);
    if (errno || end == v || *end || v[0] == '-')
        die("%s: '%s' is not a non-negative integer", opt, v);
    return x;
}

long parse_long(const char *opt, const char *v, long lo, long hi) {
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (errno || end == v || *end)
        die("%s: '%s' is not an integer", opt, v);
    if (x < lo || x > hi)
        die("%s: %ld is out of range [%ld, %ld]", opt, x, lo, hi);
    return x;
}

double parse_double(const char *opt, const char *v) {
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    if (errno || end == v || *end)
        die("%s: '%s' is not a number", opt, v);
    return x;
}

int parse_scale(const char *opt, const char *v) {
    return strcmp(v, "auto") ? (int)parse_long(opt, v, 1, 64) : 0;
}

void provenance_add(png_provenance *p, const char *key, const char *fmt, ...) {
    if (p->n == PROVENANCE_MAX)
        die("provenance: more than %d text chunks (a bug)", PROVENANCE_MAX);
    char raw[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(raw, sizeof raw, fmt, ap);
    va_end(ap);
    rin_png_text_latin1(p->values[p->n], sizeof p->values[p->n], raw);
    p->text[p->n].key = key;
    p->text[p->n].value = p->values[p->n];
    p->n++;
}

int sampling_option(rin_sample_config *sc, int opt, const char *v) {
    char err[256];
    rin_sampler_kind k;
    rin_spacing sp;
    rin_schedule sch;
    switch (opt) {
    case OPT_SAMPLER:
        if (rin_sampler_parse(&k, v, err, sizeof err))
            die("--sampler: %s", err);
        snprintf(sc->sampler, sizeof sc->sampler, "%s", v);
        return 1;
    case OPT_SPACING:
        if (rin_spacing_parse(&sp, v, RIN_SAMPLER_DDPM, err, sizeof err))
            die("--spacing: %s", err);
        snprintf(sc->spacing, sizeof sc->spacing, "%s", v);
        return 1;
    case OPT_SCHEDULE:
        if (strlen(v) >= sizeof sc->schedule || rin_schedule_parse(&sch, v, err, sizeof err))
            die("--schedule: %s", strlen(v) >= sizeof sc->schedule ? "too long" : err);
        snprintf(sc->schedule, sizeof sc->schedule, "%s", v);
        return 1;
    case OPT_LATENT_CARRY:
        if (strcmp(v, "call") && strcmp(v, "step"))
            die("--latent-carry: '%s' (expected call or step)", v);
        snprintf(sc->latent_carry, sizeof sc->latent_carry, "%s", v);
        return 1;
    }
    return 0;
}

void provenance_sampler(png_provenance *p, const rin_sample_config *sc) {
    char num[64], err[256];
    rin_sampler_plan plan;
    provenance_add(p, "sampler", "%s", sc->sampler);
    if (!rin_sample_plan(&plan, sc, err, sizeof err))
        provenance_add(p, "spacing", "%s", rin_spacing_name(plan.spacing));
    provenance_add(p, "steps", "%d", sc->steps);
    provenance_add(p, "seed", "%llu", (unsigned long long)sc->seed);
    rin_format_double(num, sizeof num, sc->guidance);
    provenance_add(p, "guidance", "%s", num);
    provenance_add(p, "schedule", "%s", sc->schedule);
    if (sc->td != 0) {
        rin_format_double(num, sizeof num, sc->td);
        provenance_add(p, "td", "%s", num);
    }
    if (strcmp(sc->latent_carry, "call"))
        provenance_add(p, "latent_carry", "%s", sc->latent_carry);
    if (!sc->self_cond)
        provenance_add(p, "self_cond", "off");
}

void provenance_checkpoint(png_provenance *p, const char *path, const char *weights) {
    char sha[65], err[1024];
    if (rin_file_sha256_hex(path, sha, err, sizeof err))
        die("%s", err);
    rin_st_file *f;
    if (rin_st_read(&f, path, err, sizeof err))
        die("%s", err);
    const char *step = rin_st_meta(f, "step");
    p->n = 0;
    provenance_add(p, "Software", "rin");
    provenance_add(p, "checkpoint", "%s", path);
    provenance_add(p, "checkpoint_sha256", "%s", sha);
    provenance_add(p, "step", "%s", step ? step : "unknown");
    provenance_add(p, "weights", "%s", weights);
    rin_st_free(f);
}

const char *split_kv(const char *text, char *key, size_t cap, const char *what) {
    const char *eq = strchr(text, '=');
    if (!eq || eq == text || (size_t)(eq - text) >= cap)
        die("%s '%s': expected key=value", what, text);
    memcpy(key, text, (size_t)(eq - text));
    key[eq - text] = 0;
    return eq + 1;
}

int set_model_or_train_key(rin_config *model, rin_train_config *train, const char *key,
                           const char *value, const char *where) {
    char err[512];
    for (int i = 0; i < rin_config_num_keys(); i++)
        if (!strcmp(rin_config_key(i), key)) {
            if (rin_config_set(model, key, value, err, sizeof err))
                die("%s%s", where, err);
            return 1;
        }
    for (int i = 0; i < rin_train_config_num_keys(); i++)
        if (!strcmp(rin_train_config_key(i), key)) {
            if (rin_train_config_set(train, key, value, err, sizeof err))
                die("%s%s", where, err);
            return 1;
        }
    return 0;
}

typedef struct file_ctx {
    settings_fn set;
    void *user;
    const char *path;
} file_ctx;

static rin_status file_line(void *user, const char *key, const char *value, int lineno) {
    file_ctx *fc = user;
    char where[600];
    snprintf(where, sizeof where, "%s:%d: ", fc->path, lineno);
    fc->set(fc->user, key, value, where);
    return RIN_STATUS_OK;
}

/* Reads the whole file, then the library's parser (rin_config_parse_text, the one the config
 * fuzzer exercises) splits it into settings. */
void read_settings_file(const char *path, settings_fn set, void *user) {
    FILE *f = fopen(path, "rb");
    if (!f)
        die("%s: cannot open: %s", path, strerror(errno));
    char *text = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len == cap) {
            cap = cap ? 2 * cap : 4096;
            if (cap > (64u << 20))
                die("%s: larger than 64 MiB: not a config file", path);
            text = realloc(text, cap);
            if (!text)
                die("out of memory (config file)");
        }
        size_t got = fread(text + len, 1, cap - len, f);
        len += got;
        if (got == 0)
            break;
    }
    if (ferror(f))
        die("%s: cannot read: %s", path, strerror(errno));
    fclose(f);
    char err[1024];
    file_ctx fc = {set, user, path};
    if (rin_config_parse_text(text, len, path, file_line, &fc, err, sizeof err))
        die("%s", err);
    free(text);
}

static void usage(FILE *f) {
    fprintf(f,
            "rin %s -- Recurrent Interface Networks in C\n"
            "\n"
            "usage: rin COMMAND [options]\n"
            "\n"
            "commands:\n"
            "  init      write a freshly initialised checkpoint\n"
            "  info      print a checkpoint's config and parameter counts per part, or a\n"
            "            PNG's size and text chunks (the provenance of rin's samples)\n"
            "  forward   run the denoiser of a checkpoint on tensors from a safetensors file\n"
            "  train     train a model on a dataset, with checkpoints, samples and a report\n"
            "  sample    generate images from a checkpoint\n"
            "  eval      FD, KID and classifier score of images against real data\n"
            "  featnet   train or check the feature network the metrics use\n"
            "  bench     measure train and sampling throughput\n"
            "\n"
            "Run `rin COMMAND --help` for the options of a command.\n",
            RIN_VERSION);
}

/* ---- init --------------------------------------------------------------------------------- */

static void init_usage(FILE *f) {
    fprintf(f, "usage: rin init --preset NAME [--set key=value]... [--seed S] --out FILE\n"
               "\n"
               "  --preset NAME     cifar10, imagenet64, fmnist, tiny or video (required)\n"
               "  --set key=value   override a config key (repeatable); keys:\n");
    for (int i = 0; i < rin_config_num_keys(); i++)
        fprintf(f, "                      %s\n", rin_config_key(i));
    fprintf(f, "  --seed S          initialisation seed (default 0)\n"
               "  --out FILE        checkpoint to write (safetensors, required)\n");
}

int cmd_init(int argc, char **argv) {
    static const struct option opts[] = {
        {"preset", required_argument, 0, 'p'}, {"set", required_argument, 0, 's'},
        {"seed", required_argument, 0, 'r'},   {"out", required_argument, 0, 'o'},
        {"help", no_argument, 0, 'h'},         {0, 0, 0, 0}};
    const char *preset = NULL, *out = NULL, *sets[MAX_SETS];
    int nsets = 0;
    unsigned long long seed = 0;
    int o;
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (o) {
        case 'p': preset = optarg; break;
        case 's':
            if (nsets == MAX_SETS)
                die("too many --set options (max %s)", "64");
            sets[nsets++] = optarg;
            break;
        case 'r': seed = parse_u64("--seed", optarg); break;
        case 'o': out = optarg; break;
        case 'h': init_usage(stdout); return 0;
        default: init_usage(stderr); return 2;
        }
    }
    if (!preset || !out) {
        init_usage(stderr);
        fprintf(stderr, "rin init: --preset and --out are required\n");
        return 2;
    }
    char err[512];
    rin_config c;
    if (rin_config_preset(&c, preset, err, sizeof err))
        die("%s", err);
    for (int i = 0; i < nsets; i++) {
        char key[128];
        const char *value = split_kv(sets[i], key, sizeof key, "--set");
        if (rin_config_set(&c, key, value, err, sizeof err))
            die("--set: %s", err);
    }
    rin_model *m;
    if (rin_model_create(&m, &c, err, sizeof err))
        die("%s", err);
    rin_model_init_params(m, seed);
    char seedbuf[32];
    snprintf(seedbuf, sizeof seedbuf, "%llu", seed);
    const char *meta[] = {"init_seed", seedbuf, "preset", preset, NULL};
    if (rin_model_save(m, out, meta, err, sizeof err)) {
        rin_model_free(m);
        die("%s", err);
    }
    printf("wrote %s: preset %s, %zu parameters, seed %llu\n", out, preset,
           rin_config_num_params(&c), seed);
    rin_model_free(m);
    return 0;
}

/* ---- info --------------------------------------------------------------------------------- */

/* The part a tensor belongs to, for the per-part counts. */
static void part_of(const char *name, char *part, size_t len) {
    if (!strncmp(name, "blocks.", 7)) {
        int blk = atoi(name + 7);
        const char *rest = strchr(name + 7, '.');
        rest = rest ? rest + 1 : "";
        if (!strncmp(rest, "read_", 5))
            snprintf(part, len, "block %d read", blk);
        else if (!strncmp(rest, "process.", 8))
            snprintf(part, len, "block %d process", blk);
        else
            snprintf(part, len, "block %d write", blk);
        return;
    }
    static const struct {
        const char *prefix, *part;
    } map[] = {{"stem_ln", "stem LayerNorm"},
               {"stem", "stem (patch embedding)"},
               {"tape_pos", "interface positions"},
               {"latent_pos", "latent table"},
               {"time_", "time MLP"},
               {"cond_", "class projection"},
               {"sc_", "self-conditioning"},
               {"out_", "readout"}};
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (!strncmp(name, map[i].prefix, strlen(map[i].prefix))) {
            snprintf(part, len, "%s", map[i].part);
            return;
        }
    snprintf(part, len, "other");
}

/* 1 when the file starts with the PNG signature. */
static int is_png_file(const char *path) {
    static const unsigned char sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    unsigned char head[8];
    FILE *f = fopen(path, "rb");
    int png = f && fread(head, 1, 8, f) == 8 && !memcmp(head, sig, 8);
    if (f)
        fclose(f);
    return png;
}

/* Latin-1 bytes (a PNG text chunk) to stdout as UTF-8. */
static void print_latin1(const char *s) {
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch < 0x80) {
            putchar(ch);
        } else {
            putchar(0xC0 | (ch >> 6));
            putchar(0x80 | (ch & 0x3F));
        }
    }
}

/* rin info FILE.png: the size and every text chunk (the provenance rin sample and rin train
 * record), each chunk's CRC verified. */
static int info_png(const char *path) {
    char err[1024];
    rin_png_info pi;
    if (rin_png_info_read(path, &pi, err, sizeof err))
        die("%s", err);
    static const char *const colour[7] = {"grey", "?", "RGB", "palette", "grey+alpha", "?", "RGBA"};
    printf("%s: PNG %d x %d (width x height), %d-bit %s, %d text chunk%s\n", path, pi.W, pi.H,
           pi.bit_depth, pi.color_type <= 6 ? colour[pi.color_type] : "?", pi.ntext,
           pi.ntext == 1 ? "" : "s");
    for (int i = 0; i < pi.ntext; i++) {
        print_latin1(pi.text[i].key);
        printf(": ");
        print_latin1(pi.text[i].value);
        printf("\n");
    }
    rin_png_info_free(&pi);
    return 0;
}

int cmd_info(int argc, char **argv) {
    if (argc != 2 || !strcmp(argv[1], "--help")) {
        fprintf(argc == 2 ? stdout : stderr,
                "usage: rin info FILE\n"
                "\n"
                "  FILE.safetensors  a checkpoint: its config and parameter counts per part\n"
                "  FILE.png          a PNG: its size and text chunks, one 'key: value' line\n"
                "                    each (rin's samples record their checkpoint's SHA-256,\n"
                "                    step, sampler, steps, seed, guidance and class)\n");
        return argc == 2 ? 0 : 2;
    }
    if (is_png_file(argv[1]))
        return info_png(argv[1]);
    char err[512];
    rin_model *m;
    if (rin_model_load(&m, argv[1], err, sizeof err))
        die("%s", err);
    const rin_config *c = rin_model_config(m);
    char buf[4096];
    rin_config_format(c, buf, sizeof buf);
    printf("%s\nconfig:\n", argv[1]);
    for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n"))
        printf("  %s\n", line);
    rin_dims d;
    rin_dims_compute(&d, c);
    printf("derived: n=%d interface tokens, A=%d, %d learned latents, %d read-only tokens\n", d.n,
           d.A, d.Lz, d.nr);
    printf("parameters by part:\n");
    char parts[256][48];
    size_t counts[256];
    int np = 0;
    size_t total = 0;
    for (int i = 0; i < rin_model_num_tensors(m); i++) {
        const rin_tensor_info *t = rin_model_tensor(m, i);
        char p[48];
        part_of(t->name, p, sizeof p);
        int k = 0;
        while (k < np && strcmp(parts[k], p))
            k++;
        if (k == np && np < 256) {
            snprintf(parts[np], sizeof parts[np], "%s", p);
            counts[np++] = 0;
        }
        if (k < np)
            counts[k] += t->numel;
        total += t->numel;
    }
    for (int k = 0; k < np; k++)
        printf("  %-28s %12zu\n", parts[k], counts[k]);
    printf("  %-28s %12zu\n", "total", total);
    printf("tensors: %d\n", rin_model_num_tensors(m));
    rin_model_free(m);
    return 0;
}

/* ---- forward ------------------------------------------------------------------------------ */

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

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    /* A file-size limit (ulimit -f) then fails a write with EFBIG, which the writers report
     * naming the file, instead of killing the process mid-write with SIGXFSZ. */
    signal(SIGXFSZ, SIG_IGN);
    const char *cmd = argv[1];
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(cmd, "--version")) {
        printf("rin %s\n", RIN_VERSION);
        return 0;
    }
    if (!strcmp(cmd, "init"))
        return cmd_init(argc - 1, argv + 1);
    if (!strcmp(cmd, "info"))
        return cmd_info(argc - 1, argv + 1);
    if (!strcmp(cmd, "forward"))
        return cmd_forward(argc - 1, argv + 1);
    if (!strcmp(cmd, "train"))
        return cmd_train(argc - 1, argv + 1);
    if (!strcmp(cmd, "sample"))
        return cmd_sample(argc - 1, argv + 1);
    if (!strcmp(cmd, "eval"))
        return cmd_eval(argc - 1, argv + 1);
    if (!strcmp(cmd, "featnet"))
        return cmd_featnet(argc - 1, argv + 1);
    if (!strcmp(cmd, "bench"))
        return cmd_bench(argc - 1, argv + 1);
    fprintf(stderr, "rin: unknown command '%s'\n\n", cmd);
    usage(stderr);
    return 2;
}
