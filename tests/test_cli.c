/* test_cli.c -- the `rin` program end to end: init, info, forward, and its error messages.
 *
 * The binary comes from $RIN_CLI (the Makefile's test target sets it to build/rin). The
 * forward test runs the PyTorch reference's fixture model through `rin forward` and compares
 * the written outputs with the float64 expectations, so the command line is checked against
 * another implementation, not only against the library.
 */
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <gif_lib.h>

#include "data.h"
#include "imageio.h"
#include "internal.h"
#include "test.h"
#include "video.h"

static const char *cli(void) {
    const char *p = getenv("RIN_CLI");
    return p && *p ? p : "build/rin";
}

/* Runs `rin args` with stderr merged into the captured output; returns the exit status. */
static int run(char *out, size_t outlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int run(char *out, size_t outlen, const char *fmt, ...) {
    char args[2048], cmd[2600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    snprintf(cmd, sizeof cmd, "%s %s 2>&1", cli(), args);
    return test_shell(out, outlen, cmd);
}

static void tmp(char *buf, size_t len, const char *name) {
    snprintf(buf, len, "/tmp/rin_cli_%d_%s", (int)getpid(), name);
}

TEST(cli_init_and_info) {
    if (access(cli(), X_OK)) {
        test_fail(__FILE__, __LINE__, "%s is not built", cli());
        return;
    }
    char path[256], out[16384];
    tmp(path, sizeof path, "init.safetensors");
    int st =
        run(out, sizeof out, "init --preset tiny --set num_layers=2,0 --seed 3 --out %s", path);
    printf("  %s", out);
    CHECK(st == 0);
    /* the file holds exactly the library's initialisation for that seed */
    rin_model *m, *ref;
    char err[512];
    CHECK(rin_model_load(&m, path, err, sizeof err) == RIN_STATUS_OK);
    rin_config c;
    rin_config_preset(&c, "tiny", NULL, 0);
    rin_config_set(&c, "num_layers", "2,0", NULL, 0);
    CHECK(rin_model_create(&ref, &c, NULL, 0) == RIN_STATUS_OK);
    rin_model_init_params(ref, 3);
    CHECK(!memcmp(rin_model_params(m), rin_model_params(ref), rin_model_buffer_floats(m) * 4));
    rin_model_free(m);
    rin_model_free(ref);

    st = run(out, sizeof out, "info %s", path);
    CHECK(st == 0);
    char total[64];
    snprintf(total, sizeof total, "%zu", rin_config_num_params(&c));
    CHECK_MSG(strstr(out, "total") && strstr(out, total), "info output lacks the total %s", total);
    CHECK(strstr(out, "num_layers=2,0") != NULL);
    CHECK(strstr(out, "block 0 process") != NULL);
    CHECK(strstr(out, "self-conditioning") != NULL);
    unlink(path);
}

TEST(cli_errors_are_clear) {
    char out[8192], path[256];
    tmp(path, sizeof path, "err.safetensors");
    CHECK(run(out, sizeof out, "init --preset tiny") == 2);
    CHECK(strstr(out, "--preset and --out are required") != NULL);
    CHECK(run(out, sizeof out, "init --preset nope --out %s", path) == 1);
    CHECK(strstr(out, "unknown preset 'nope'") != NULL);
    CHECK(run(out, sizeof out, "init --preset tiny --set patch_size=3 --out %s", path) == 1);
    CHECK(strstr(out, "patch_size: 3 does not divide the image 8x8") != NULL);
    CHECK(access(path, F_OK) != 0); /* nothing written */
    CHECK(run(out, sizeof out, "frobnicate") == 2);
    CHECK(strstr(out, "unknown command 'frobnicate'") != NULL);
    CHECK(run(out, sizeof out, "info /nonexistent/model.safetensors") == 1);
    CHECK(strstr(out, "/nonexistent/model.safetensors") != NULL);
    /* a truncated checkpoint */
    CHECK(run(out, sizeof out, "init --preset tiny --out %s", path) == 0);
    CHECK(truncate(path, 1000) == 0);
    CHECK(run(out, sizeof out, "info %s", path) == 1);
    CHECK_MSG(strstr(out, path) && strstr(out, "truncated"), "%s", out);
    printf("  truncated checkpoint: %s", out);
    CHECK(run(out, sizeof out, "--help") == 0);
    CHECK(strstr(out, "forward") != NULL);
    unlink(path);
}

TEST(cli_forward_matches_reference) {
    char fx[512], err[512], model[256], inputs[256], outputs[256], out[8192];
    snprintf(fx, sizeof fx, "%s/model_cond.safetensors", test_fixture_dir());
    tmp(model, sizeof model, "fwd_model.safetensors");
    tmp(inputs, sizeof inputs, "fwd_in.safetensors");
    tmp(outputs, sizeof outputs, "fwd_out.safetensors");
    rin_st_file *f;
    if (rin_st_read(&f, fx, err, sizeof err)) {
        test_fail(__FILE__, __LINE__, "%s", err);
        return;
    }
    /* the fixture's parameters as a checkpoint */
    rin_config c;
    rin_model *m;
    CHECK(rin_config_from_meta(&c, f, fx, err, sizeof err) == RIN_STATUS_OK);
    CHECK(rin_model_create(&m, &c, NULL, 0) == RIN_STATUS_OK);
    CHECK(rin_model_read_tensors(m, rin_model_params(m), f, "", fx, err, sizeof err) == 0);
    CHECK(rin_model_save(m, model, NULL, err, sizeof err) == RIN_STATUS_OK);
    /* its inputs under the names rin forward reads */
    rin_st_writer *w = rin_st_writer_new();
    const char *map[][2] = {
        {"in.x_t", "x_t"}, {"in.gamma", "gamma"}, {"in.labels", "labels"}, {"in.z_prev", "z_prev"}};
    for (int i = 0; i < 4; i++) {
        const rin_st_tensor *t = rin_st_find(f, map[i][0]);
        CHECK(t != NULL);
        rin_st_writer_add(w, map[i][1], t->dtype, t->ndim, t->shape, rin_st_data(f, t));
    }
    CHECK(rin_st_writer_save(w, inputs, err, sizeof err) == RIN_STATUS_OK);
    rin_st_writer_free(w);
    int training = atoi(rin_st_meta(f, "training"));
    int st = run(out, sizeof out, "forward --model %s --in %s --out %s %s --seed %s", model, inputs,
                 outputs, training ? "--train" : "", rin_st_meta(f, "seed"));
    printf("  %s", out);
    CHECK(st == 0);
    rin_st_file *o;
    CHECK(rin_st_read(&o, outputs, err, sizeof err) == RIN_STATUS_OK);
    const rin_st_tensor *pe = rin_st_find(f, "out.pred"), *pz = rin_st_find(f, "out.z");
    float *eps = malloc(pe->numel * 4), *lat = malloc(pz->numel * 4);
    double *reps = malloc(pe->numel * 8), *rlat = malloc(pz->numel * 8);
    CHECK(rin_st_get_f32(o, "eps", eps, pe->numel, err, sizeof err) == RIN_STATUS_OK);
    CHECK(rin_st_get_f32(o, "latents", lat, pz->numel, err, sizeof err) == RIN_STATUS_OK);
    rin_st_get_f64(f, "out.pred", reps, pe->numel, NULL, 0);
    rin_st_get_f64(f, "out.z", rlat, pz->numel, NULL, 0);
    tensor_err e1 = tensor_compare_f64(eps, reps, pe->numel, 1e-5, 1e-4);
    tensor_err e2 = tensor_compare_f64(lat, rlat, pz->numel, 1e-5, 1e-4);
    tensor_err_print("rin forward eps vs reference", e1, eps, reps, pe->numel);
    tensor_err_print("rin forward latents vs reference", e2, lat, rlat, pz->numel);
    CHECK(e1.n_bad == 0 && e2.n_bad == 0);
    /* a missing input tensor is named */
    w = rin_st_writer_new();
    const rin_st_tensor *tg = rin_st_find(f, "in.gamma");
    rin_st_writer_add(w, "gamma", tg->dtype, tg->ndim, tg->shape, rin_st_data(f, tg));
    CHECK(rin_st_writer_save(w, inputs, err, sizeof err) == RIN_STATUS_OK);
    rin_st_writer_free(w);
    CHECK(run(out, sizeof out, "forward --model %s --in %s --out %s", model, inputs, outputs) == 1);
    CHECK_MSG(strstr(out, "tensor 'x_t' is missing"), "%s", out);
    free(eps), free(lat), free(reps), free(rlat);
    rin_st_free(o);
    rin_st_free(f);
    rin_model_free(m);
    unlink(model), unlink(inputs), unlink(outputs);
}

/* ---- rin train / rin sample ----------------------------------------------------------------- */

/* Writes an IDX image file and label file of n 8x8 images with 4 classes. */
void write_idx(const char *img, const char *lab, int n) {
    FILE *f = fopen(img, "wb"), *g = fopen(lab, "wb");
    RIN_ASSERT(f && g);
    unsigned char h1[16] = {0, 0, 8, 3, 0, 0, 0, 0, 0, 0, 0, 8, 0, 0, 0, 8};
    unsigned char h2[8] = {0, 0, 8, 1, 0, 0, 0, 0};
    h1[6] = (unsigned char)(n >> 8), h1[7] = (unsigned char)n;
    h2[6] = (unsigned char)(n >> 8), h2[7] = (unsigned char)n;
    fwrite(h1, 1, 16, f);
    fwrite(h2, 1, 8, g);
    for (int i = 0; i < n; i++) {
        unsigned char px[64], l = (unsigned char)(i % 4);
        for (int k = 0; k < 64; k++)
            px[k] = (unsigned char)(((k / 8 < 4) == (l % 2)) ? 230 : 20);
        fwrite(px, 1, 64, f);
        fwrite(&l, 1, 1, g);
    }
    fclose(f);
    fclose(g);
}

/* A fresh directory /tmp/rin_cli_TAG_PID holding img.idx and lab.idx of n images (write_idx). */
static void idx_fixture(char dir[256], char img[300], char lab[300], const char *tag, int n) {
    char cmd[300];
    snprintf(dir, 256, "/tmp/rin_cli_%s_%d", tag, (int)getpid());
    snprintf(img, 300, "%s/img.idx", dir);
    snprintf(lab, 300, "%s/lab.idx", dir);
    snprintf(cmd, sizeof cmd, "mkdir -p %s", dir);
    RIN_ASSERT(system(cmd) == 0);
    write_idx(img, lab, n);
}

/* The first len - 1 bytes of a text file into buf, NUL-terminated; "" when it cannot be read. */
static size_t read_text(const char *path, char *buf, size_t len) {
    FILE *f = fopen(path, "r");
    size_t n = f ? fread(buf, 1, len - 1, f) : 0;
    buf[n] = 0;
    if (f)
        fclose(f);
    return n;
}

static void write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

/* Does the config.txt of run directory dir hold text (e.g. "key=value\n")? */
static int run_config_has(const char *dir, const char *text) {
    char p[600], cfg[8192];
    snprintf(p, sizeof p, "%s/config.txt", dir);
    read_text(p, cfg, sizeof cfg);
    return strstr(cfg, text) != NULL;
}

static long file_size(const char *p) {
    FILE *f = fopen(p, "rb");
    if (!f)
        return -1;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fclose(f);
    return n;
}

static int count_lines(const char *p) {
    FILE *f = fopen(p, "r");
    int n = 0, ch;
    if (!f)
        return -1;
    while ((ch = fgetc(f)) != EOF)
        n += ch == '\n';
    fclose(f);
    return n;
}

/* The value of the line "key: value" of `rin info FILE.png` output, into buf ("" if absent). */
static const char *info_value(const char *out, const char *key, char *buf, size_t cap) {
    char pat[128];
    snprintf(pat, sizeof pat, "\n%s: ", key);
    const char *p = strstr(out, pat);
    buf[0] = 0;
    if (p) {
        p += strlen(pat);
        size_t n = strcspn(p, "\n");
        snprintf(buf, cap, "%.*s", (int)(n < cap ? n : cap - 1), p);
    }
    return buf;
}

/* The SHA-256 of a file's bytes, computed here from the whole file. */
static void file_sha256(const char *path, char out[65]) {
    FILE *f = fopen(path, "rb");
    out[0] = 0;
    if (!f)
        return;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *buf = malloc(n > 0 ? (size_t)n : 1);
    if (buf && fread(buf, 1, (size_t)n, f) == (size_t)n)
        rin_sha256_hex(buf, (size_t)n, out);
    free(buf);
    fclose(f);
}

/* Sizes and provenance of what `rin sample --n 8 --steps 4 --sampler ddim --seed 3` wrote from
 * the tiny model (8x8 grey images, 4 classes): the grid and trajectory enlarged 11 times
 * (ceil(84 / 8)), the --out-dir images at the model's size, `rin info` printing the
 * checkpoint's SHA-256 and step and the sampler settings; --scale 1 the grid of before; a
 * corrupt PNG named by rin info. */
static void check_sample_pngs(const char *dir, const char *model, const char *grid,
                              const char *traj, const char *one) {
    uint8_t *px = NULL;
    int H = 0, W = 0, C = 0;
    CHECK(rin_png_read(grid, &px, &H, &W, &C, NULL, 0) == RIN_STATUS_OK);
    CHECK_MSG(H == 11 * (2 * 10 + 2) && W == 11 * (4 * 10 + 2) && C == 1, "grid %dx%dx%d", H, W, C);
    free(px);
    CHECK(rin_png_read(traj, &px, &H, &W, &C, NULL, 0) == RIN_STATUS_OK);
    CHECK_MSG(H == 11 * (8 * 10 + 2) && W == 11 * (4 * 10 + 2), "trajectory %dx%d", H, W);
    free(px);
    CHECK(rin_png_read(one, &px, &H, &W, &C, NULL, 0) == RIN_STATUS_OK);
    CHECK_MSG(H == 8 && W == 8 && C == 1, "--out-dir image %dx%dx%d", H, W, C);
    free(px);

    char out[8192], v[256], sha[65], p[900];
    int st = run(out, sizeof out, "info %s", grid);
    printf("%s", out);
    CHECK(st == 0);
    file_sha256(model, sha);
    rin_st_file *f;
    char err[512];
    CHECK(rin_st_read(&f, model, err, sizeof err) == RIN_STATUS_OK);
    const char *step = rin_st_meta(f, "step");
    CHECK(step && !strcmp(step, "6"));
    CHECK(strstr(out, ": PNG 462 x 242 (width x height), 8-bit grey") != NULL);
    CHECK_MSG(sha[0] && !strcmp(info_value(out, "checkpoint_sha256", v, sizeof v), sha),
              "checkpoint_sha256 '%s', the file's %s", v, sha);
    CHECK(step && !strcmp(info_value(out, "step", v, sizeof v), step));
    CHECK(!strcmp(info_value(out, "sampler", v, sizeof v), "ddim"));
    CHECK(!strcmp(info_value(out, "steps", v, sizeof v), "4"));
    CHECK(!strcmp(info_value(out, "seed", v, sizeof v), "3"));
    CHECK(!strcmp(info_value(out, "guidance", v, sizeof v), "0"));
    CHECK(!strcmp(info_value(out, "class", v, sizeof v), "per column"));
    CHECK(!strcmp(info_value(out, "Software", v, sizeof v), "rin"));
    CHECK(!strcmp(info_value(out, "checkpoint", v, sizeof v), model));
    rin_st_free(f);
    /* the --out-dir images carry their own class; the trajectory the same provenance */
    CHECK(run(out, sizeof out, "info %s", one) == 0);
    CHECK(!strcmp(info_value(out, "class", v, sizeof v), "3")); /* image 7 of 4 classes */
    CHECK(!strcmp(info_value(out, "image", v, sizeof v), "7"));
    CHECK(run(out, sizeof out, "info %s", traj) == 0);
    CHECK(!strcmp(info_value(out, "checkpoint_sha256", v, sizeof v), sha));

    /* --scale 1: the model's size, as before enlargement existed; --class and --classes */
    snprintf(p, sizeof p, "%s/grid1.png", dir);
    st = run(out, sizeof out,
             "sample --model %s --n 8 --steps 1 --scale 1 --class 2 --guidance 0.5 --grid %s",
             model, p);
    CHECK(st == 0);
    CHECK(rin_png_read(p, &px, &H, &W, &C, NULL, 0) == RIN_STATUS_OK);
    CHECK_MSG(H == 2 * 10 + 2 && W == 4 * 10 + 2, "--scale 1 grid %dx%d", H, W);
    free(px);
    CHECK(run(out, sizeof out, "info %s", p) == 0);
    CHECK(!strcmp(info_value(out, "class", v, sizeof v), "2"));
    CHECK(!strcmp(info_value(out, "guidance", v, sizeof v), "0.5"));
    CHECK(run(out, sizeof out, "sample --model %s --n 4 --steps 1 --classes random --grid %s",
              model, p) == 0);
    CHECK(run(out, sizeof out, "info %s", p) == 0);
    CHECK(!strcmp(info_value(out, "class", v, sizeof v), "random"));
    CHECK(run(out, sizeof out, "sample --model %s --n 4 --steps 1 --scale 0 --grid %s", model, p) ==
          1);
    CHECK(strstr(out, "--scale") != NULL);

    /* a changed byte inside a text chunk: rin info names the file and the CRC */
    size_t n = (size_t)file_size(p);
    unsigned char *b = malloc(n);
    FILE *fp = fopen(p, "rb");
    CHECK(fp && b && fread(b, 1, n, fp) == n);
    if (fp)
        fclose(fp);
    CHECK(b && n > 50 && !memcmp(b + 37, "tEXt", 4));
    if (b && n > 50) {
        b[45] ^= 0x01;
        snprintf(p, sizeof p, "%s/corrupt.png", dir);
        fp = fopen(p, "wb");
        CHECK(fp && fwrite(b, 1, n, fp) == n);
        if (fp)
            fclose(fp);
        CHECK(run(out, sizeof out, "info %s", p) == 1);
        CHECK_MSG(strstr(out, p) && strstr(out, "CRC"), "%s", out);
        printf("  %s", out);
        CHECK(truncate(p, 50) == 0); /* cut inside the first text chunk */
        CHECK(run(out, sizeof out, "info %s", p) == 1);
        CHECK_MSG(strstr(out, p) && strstr(out, "truncated"), "%s", out);
    }
    free(b);
}

/* The grids `rin train` wrote (sample_every 3, steps 4, resumed to 6): the provenance of the
 * run's EMA weights, and report.html showing all three with a slider after the resume. */
static void check_train_grids(const char *run_dir, const char *model) {
    char out[8192], v[256], p[900];
    snprintf(p, sizeof p, "%s/samples/step_0000006.png", run_dir);
    CHECK(run(out, sizeof out, "info %s", p) == 0);
    printf("%s", out);
    CHECK(!strcmp(info_value(out, "run", v, sizeof v), run_dir));
    CHECK(!strcmp(info_value(out, "step", v, sizeof v), "6"));
    CHECK(!strcmp(info_value(out, "weights", v, sizeof v), "ema"));
    CHECK(!strcmp(info_value(out, "sampler", v, sizeof v), "dpm++2m"));
    CHECK(!strcmp(info_value(out, "steps", v, sizeof v), "3"));
    CHECK(!strcmp(info_value(out, "seed", v, sizeof v), "1234"));
    CHECK(info_value(out, "checkpoint_sha256", v, sizeof v)[0] == 0);
    /* weights_sha256 is the digest of the EMA weights as held in memory: the buffer that
     * model.safetensors of the same step loads back into */
    rin_model *m;
    char err[512], sha[65];
    CHECK(rin_model_load(&m, model, err, sizeof err) == RIN_STATUS_OK);
    rin_sha256_hex(rin_model_params(m), rin_model_buffer_floats(m) * sizeof(float), sha);
    rin_model_free(m);
    CHECK_MSG(!strcmp(info_value(out, "weights_sha256", v, sizeof v), sha),
              "weights_sha256 %s, the exported EMA weights %s", v, sha);
    /* report.html: steps 3 and 4 from the first invocation, 6 from the resumed one */
    char *html = malloc(1 << 22);
    snprintf(p, sizeof p, "%s/report.html", run_dir);
    read_text(p, html, 1 << 22);
    int thumbs = 0;
    for (const char *q = strstr(html, "<img class=\"thumb\""); q;
         q = strstr(q + 1, "<img class=\"thumb\""))
        thumbs++;
    CHECK_MSG(thumbs == 3, "report.html has %d thumbnails", thumbs);
    CHECK(strstr(html, "title=\"step 3, dpm++2m, 3 steps, seed 1234\"") != NULL);
    CHECK(strstr(html, "id=\"history\" min=\"0\" max=\"2\"") != NULL);
    CHECK(strstr(html, "<span id=\"latest-cap\" class=\"cap\">step 6, dpm++2m, 3 steps, seed "
                       "1234</span>") != NULL);
    free(html);
}

TEST(cli_train_resume_sample) {
    char dir[256], img[300], lab[300], run_dir[300], p[900], out[16384], common[1200];
    idx_fixture(dir, img, lab, "train", 24);
    snprintf(run_dir, sizeof run_dir, "%s/run", dir);
    snprintf(common, sizeof common,
             "--preset tiny --set image_channels=1 --set num_classes=4 --data idx:%s,%s "
             "--set batch_size=4 --set warmup_steps=2 --set log_every=1 --set sample_every=3 "
             "--set sample_count=8 --set sample_steps=3 --set ckpt_every=3",
             img, lab);
    int st = run(out, sizeof out, "train --run %s %s --steps 4", run_dir, common);
    printf("%s", out);
    CHECK(st == 0);
    const char *files[] = {"checkpoint.safetensors",
                           "model.safetensors",
                           "metrics.csv",
                           "report.html",
                           "config.txt",
                           "samples/step_0000003.png",
                           "samples/step_0000004.png"};
    for (int i = 0; i < 7; i++) {
        snprintf(p, sizeof p, "%s/%s", run_dir, files[i]);
        CHECK_MSG(file_size(p) > 0, "%s missing or empty", p);
    }
    snprintf(p, sizeof p, "%s/metrics.csv", run_dir);
    CHECK(count_lines(p) == 5); /* header + 4 steps */
    /* the training checkpoint is 4x the export (weights, EMA, two moments) */
    char ck[600], mo[600];
    snprintf(ck, sizeof ck, "%s/checkpoint.safetensors", run_dir);
    snprintf(mo, sizeof mo, "%s/model.safetensors", run_dir);
    CHECK(file_size(ck) > 3 * file_size(mo));
    /* an existing run is not overwritten */
    CHECK(run(out, sizeof out, "train --run %s %s --steps 4", run_dir, common) == 1);
    CHECK(strstr(out, "already holds a checkpoint") != NULL);
    /* resume to 6 steps */
    st = run(out, sizeof out, "train --resume %s --set total_steps=6", run_dir);
    printf("%s", out);
    CHECK(st == 0);
    CHECK(strstr(out, "steps 4 -> 6") != NULL);
    CHECK(count_lines(p) == 7);
    /* sample from the export: grid size (2 rows x 4 cols of 8x8, pad 2) */
    char grid[600], traj[600], odir[600];
    snprintf(grid, sizeof grid, "%s/grid.png", dir);
    snprintf(traj, sizeof traj, "%s/traj.png", dir);
    snprintf(odir, sizeof odir, "%s/imgs", dir);
    st = run(out, sizeof out,
             "sample --model %s --n 8 --steps 4 --sampler ddim --grid %s --trajectory %s "
             "--out-dir %s --seed 3",
             mo, grid, traj, odir);
    printf("%s", out);
    CHECK(st == 0);
    CHECK(file_size(grid) > 0 && file_size(traj) > 0);
    snprintf(p, sizeof p, "%s/sample_00007.png", odir);
    CHECK(file_size(p) > 0);
    check_sample_pngs(dir, mo, grid, traj, p);
    check_train_grids(run_dir, mo);
    /* bad input: a truncated dataset, a missing file, an unknown key */
    FILE *f = fopen(img, "r+b");
    RIN_ASSERT(f);
    fclose(f);
    CHECK(truncate(img, 16 + 64 * 10) == 0);
    snprintf(p, sizeof p, "%s/run2", dir);
    CHECK(run(out, sizeof out, "train --run %s %s --steps 2", p, common) == 1);
    CHECK_MSG(strstr(out, img) != NULL, "message does not name the file: %s", out);
    CHECK(access(p, F_OK) != 0); /* nothing half-made */
    CHECK(run(out, sizeof out, "train --run %s --set learning_rate=1", p) == 1);
    CHECK(strstr(out, "unknown key 'learning_rate'") != NULL);
    CHECK(run(out, sizeof out, "sample --model %s/none.safetensors", dir) == 1);
    snprintf(p, sizeof p, "rm -rf %s", dir);
    CHECK(system(p) == 0);
}

/* --init-from: a new run from a run's exported weights continues its step and settings, and
 * the model keys cannot change. */
TEST(cli_train_init_from) {
    char dir[256], img[300], lab[300], a[300], b[300], p[900], out[16384];
    idx_fixture(dir, img, lab, "initfrom", 24);
    snprintf(a, sizeof a, "%s/a", dir);
    snprintf(b, sizeof b, "%s/b", dir);
    int st = run(out, sizeof out,
                 "train --run %s --preset tiny --set image_channels=1 --set num_classes=4 "
                 "--data idx:%s,%s --set batch_size=4 --set warmup_steps=2 --set log_every=1 "
                 "--set sample_every=0 --set sample_count=4 --set sample_steps=2 --steps 4",
                 a, img, lab);
    CHECK_MSG(st == 0, "%s", out);
    /* --config repeats: files apply in order, so the second file's lr wins and the first
     * file's other key stays */
    char c1[300], c2[300];
    snprintf(c1, sizeof c1, "%s/one.conf", dir);
    snprintf(c2, sizeof c2, "%s/two.conf", dir);
    write_text(c1, "lr = 0.01\nsample_steps = 3\n");
    write_text(c2, "lr = 0.02\n");
    st = run(out, sizeof out,
             "train --run %s --init-from %s/model.safetensors --config %s --config %s --steps 7", b,
             a, c1, c2);
    printf("%s", out);
    CHECK(st == 0);
    CHECK_MSG(strstr(out, "steps 4 -> 7") != NULL, "the step does not continue: %s", out);
    snprintf(p, sizeof p, "%s/metrics.csv", b);
    CHECK(count_lines(p) == 4); /* header + steps 5, 6, 7 */
    char cfg[8192];
    snprintf(p, sizeof p, "%s/config.txt", b);
    read_text(p, cfg, sizeof cfg);
    CHECK_MSG(strstr(cfg, "num_classes=4") && strstr(cfg, "batch_size=4"),
              "settings not taken from the file: %s", cfg);
    CHECK_MSG(strstr(cfg, "\nlr=0.02\n") && strstr(cfg, "sample_steps=3"),
              "two --config files not applied in order: %s", cfg);
    /* the model keys are the file's; --init-from does not mix with --resume */
    snprintf(p, sizeof p, "%s/c", dir);
    CHECK(run(out, sizeof out,
              "train --run %s --init-from %s/model.safetensors --set latent_slots=9", p, a) == 1);
    CHECK_MSG(strstr(out, "model keys come from the file") != NULL, "%s", out);
    CHECK(access(p, F_OK) != 0);
    CHECK(run(out, sizeof out, "train --resume %s --init-from %s/model.safetensors", b, a) == 1);
    CHECK(run(out, sizeof out, "train --run %s --init-from %s/none.safetensors", p, a) == 1);
    CHECK_MSG(strstr(out, "none.safetensors") != NULL, "%s", out);
    snprintf(p, sizeof p, "rm -rf %s", dir);
    CHECK(system(p) == 0);
}

/* report.html keeps at most 24 grids of a run, evenly spaced, the first and the latest
 * always, oldest first. */
TEST(cli_train_report_history) {
    char dir[256], img[300], lab[300], p[900], out[16384];
    idx_fixture(dir, img, lab, "history", 8);
    int st = run(out, sizeof out,
                 "train --run %s/run --preset tiny --set image_channels=1 --set num_classes=4 "
                 "--data idx:%s,%s --set batch_size=2 --set warmup_steps=1 --set log_every=10 "
                 "--set sample_every=1 --set sample_count=2 --set sample_steps=1 "
                 "--set ckpt_every=0 --set sample_scale=1 --steps 30",
                 dir, img, lab);
    CHECK_MSG(st == 0, "%s", out);
    snprintf(p, sizeof p, "%s/run/samples/step_0000030.png", dir);
    uint8_t *px = NULL;
    int H = 0, W = 0, C = 0;
    CHECK(rin_png_read(p, &px, &H, &W, &C, NULL, 0) == RIN_STATUS_OK);
    /* 2 images in 4 columns (the class count) of 8x8, 2-pixel borders */
    CHECK_MSG(H == 8 + 2 * 2 && W == 4 * 8 + 5 * 2, "sample_scale=1 grid %dx%d", H, W);
    free(px);
    char *html = malloc(1 << 22);
    snprintf(p, sizeof p, "%s/run/report.html", dir);
    read_text(p, html, 1 << 22);
    long prev = 0, first = -1, last = -1;
    int thumbs = 0, ordered = 1;
    for (const char *q = strstr(html, "<img class=\"thumb\" title=\"step "); q;
         q = strstr(q + 1, "<img class=\"thumb\" title=\"step ")) {
        long s = atol(q + strlen("<img class=\"thumb\" title=\"step "));
        ordered &= s > prev;
        prev = s;
        first = first < 0 ? s : first;
        last = s;
        thumbs++;
    }
    CHECK_MSG(thumbs == 24 && first == 1 && last == 30 && ordered,
              "%d thumbnails, steps %ld to %ld%s", thumbs, first, last,
              ordered ? "" : ", out of order");
    CHECK(strstr(html, "id=\"history\" min=\"0\" max=\"23\" value=\"23\"") != NULL);
    CHECK(strstr(html, "sample_scale</td><td>1</td>") != NULL);
    free(html);
    snprintf(p, sizeof p, "rm -rf %s", dir);
    CHECK(system(p) == 0);
}

TEST(cli_train_fmnist_when_installed) {
    if (access("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz", R_OK)) {
        test_skip("dataset-fashion-mnist is not installed");
        return;
    }
    char dir[256], out[16384], p[600];
    snprintf(dir, sizeof dir, "/tmp/rin_cli_fm_%d", (int)getpid());
    int st = run(out, sizeof out,
                 "train --run %s --preset fmnist --data fmnist --steps 2 --set batch_size=8 "
                 "--set sample_count=10 --set sample_steps=2 --set warmup_steps=1",
                 dir);
    printf("%s", out);
    CHECK(st == 0);
    CHECK(strstr(out, "fmnist (60000 images)") != NULL);
    snprintf(p, sizeof p, "%s/samples/step_0000002.png", dir);
    CHECK(file_size(p) > 0);
    snprintf(p, sizeof p, "rm -rf %s", dir);
    CHECK(system(p) == 0);
}

TEST(cli_train_ctrl_c_saves_and_resumes) {
    char dir[256], img[300], lab[300], run_dir[300], metrics_csv[400], ck[400], out[16384];
    idx_fixture(dir, img, lab, "sigint", 16);
    snprintf(run_dir, sizeof run_dir, "%s/run", dir);
    snprintf(metrics_csv, sizeof metrics_csv, "%s/metrics.csv", run_dir);
    snprintf(ck, sizeof ck, "%s/checkpoint.safetensors", run_dir);
    char cmd[600];
    char data[700];
    snprintf(data, sizeof data, "data=idx:%s,%s", img, lab);
    pid_t pid = fork();
    if (pid == 0) {
        FILE *devnull = freopen("/dev/null", "w", stderr);
        (void)devnull;
        execl(cli(), "rin", "train", "--run", run_dir, "--preset", "tiny", "--set",
              "image_channels=1", "--set", "num_classes=4", "--set", data, "--set", "batch_size=2",
              "--set", "warmup_steps=1", "--set", "log_every=1", "--set", "sample_every=0", "--set",
              "ckpt_every=0", "--set", "sample_count=2", "--set", "sample_steps=1", "--steps",
              "1000000", (char *)NULL);
        _exit(127);
    }
    CHECK(pid > 0);
    /* wait until it has trained a few steps, then press Ctrl-C */
    int lines = 0;
    for (int i = 0; i < 3000 && lines < 4; i++) {
        struct timespec ts = {0, 10000000};
        nanosleep(&ts, NULL);
        lines = count_lines(metrics_csv);
    }
    CHECK(lines >= 4);
    kill(pid, SIGINT);
    int status = 0;
    waitpid(pid, &status, 0);
    CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 130, "exit status %d",
              WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    rin_st_file *f;
    char err[512];
    CHECK(rin_st_read(&f, ck, err, sizeof err) == RIN_STATUS_OK);
    long step = atol(rin_st_meta(f, "step"));
    rin_st_free(f);
    printf("  interrupted after %d logged steps; checkpoint at step %ld\n", lines - 1, step);
    CHECK(step >= lines - 1);
    int st = run(out, sizeof out, "train --resume %s --set total_steps=%ld", run_dir, step + 2);
    CHECK(st == 0);
    CHECK(strstr(out, "done at step") != NULL);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK(system(cmd) == 0);
}

TEST(cli_eval_floor_and_checkpoint) {
    if (access("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz", R_OK) ||
        access("models/featnet-fmnist.safetensors", R_OK)) {
        test_skip("dataset-fashion-mnist or models/featnet-fmnist.safetensors is missing");
        return;
    }
    char out[16384], json[256];
    snprintf(json, sizeof json, "/tmp/rin_eval_%d.json", (int)getpid());
    /* real vs real: a small floor; the JSON carries the numbers and the network's hash */
    int st = run(out, sizeof out,
                 "eval --real fmnist:test --real-n 1000 --fake fmnist:train --fake-n 1000 "
                 "--kid-size 500 --kid-subsets 20 --json %s",
                 json);
    printf("%s", out);
    CHECK(st == 0);
    CHECK(strstr(out, "FD-LeNet(FMNIST)") && !strstr(out, "FID"));
    double fd_floor = -1;
    const char *p = strstr(out, "FD-LeNet(FMNIST)");
    if (p)
        fd_floor = atof(p + strlen("FD-LeNet(FMNIST)"));
    char buf[4096];
    read_text(json, buf, sizeof buf);
    CHECK(strstr(buf, "\"fd_lenet_fmnist\"") && strstr(buf, "\"featnet_sha256\": \"c75c4e1e"));
    CHECK(!strstr(buf, "\"sampler\"")); /* two datasets: nothing was sampled */
    /* a few samples of the shipped model, 1 step (the blurred mean of the data from pure
     * noise): far from the data, so FD is much larger; the JSON records how they were drawn */
    st = run(out, sizeof out,
             "eval --real fmnist:test --real-n 1000 --fake ckpt:models/fmnist.safetensors "
             "--fake-n 200 --steps 1 --sampler ddim --kid-size 100 --kid-subsets 10 --json %s",
             json);
    printf("%s", out);
    CHECK(st == 0);
    read_text(json, buf, sizeof buf);
    CHECK_MSG(strstr(buf, "\"samples\": 200,") && strstr(buf, "\"weights\": \"ema\"") &&
                  strstr(buf, "\"sampler\": \"ddim\"") && strstr(buf, "\"steps\": 1,") &&
                  strstr(buf, "\"calls\": 1,") && strstr(buf, "\"guidance\": 0,"),
              "%s", buf);
    p = strstr(out, "FD-LeNet(FMNIST)");
    double fd_gen = p ? atof(p + strlen("FD-LeNet(FMNIST)")) : -1;
    printf("  FD floor (train vs test, 1000 each) %.3f; 1-step samples %.3f\n", fd_floor, fd_gen);
    CHECK(fd_floor >= 0 && fd_gen > 10 * fd_floor);
    CHECK(run(out, sizeof out, "eval --fake png:/nonexistent") == 1);
    unlink(json);
}

/* Reads the number after "key": at or after *from, and moves *from past the key. */
static double json_number(const char *key, const char **from) {
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\": ", key);
    const char *p = strstr(*from, pat);
    if (!p)
        return (double)NAN;
    *from = p + strlen(pat);
    return strtod(*from, NULL);
}

/* rin bench end to end on the tiny preset: both phases run for each thread count, the JSON
 * holds the figures the table prints, and they are consistent with each other (img/s from the
 * step time, GFLOP/s from the FLOP count: 4 forwards per image for a train step with
 * self-conditioning, 1 for a sampling step); each thread count's fp32 FMA peak follows, on the
 * ISA the CPU has. Speed itself is not asserted. */
TEST(cli_bench_tiny) {
    char json[256], out[16384];
    tmp(json, sizeof json, "bench.json");
    int st =
        run(out, sizeof out,
            "bench --preset tiny --batch 3 --steps 2 --warmup 1 --threads 1,2 --json %s", json);
    printf("%s", out);
    CHECK(st == 0);
    CHECK(strstr(out, "scaling 1 -> 2 threads") != NULL);
    char text[8192];
    CHECK(read_text(json, text, sizeof text) > 0);
    rin_config c;
    rin_config_preset(&c, "tiny", NULL, 0);
    const char *fma_isa = NULL; /* what bench's peak loop runs on this CPU */
#if defined(__x86_64__)
    if (__builtin_cpu_supports("avx512f"))
        fma_isa = "(avx512f, registers only)";
    else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        fma_isa = "(avx2+fma, registers only)";
#endif
    const char *p = text;
    double gf = json_number("gflop_forward", &p);
    CHECK(fabs(gf - rin_config_flops(&c) / 1e9) < 1e-9);
    for (int r = 0; r < 4; r++) { /* threads 1 train, 1 sample, 2 train, 2 sample */
        double threads = json_number("threads", &p);
        const char *phase = strstr(p, "\"phase\": \"");
        CHECK(phase != NULL);
        int train = phase && !strncmp(phase + 10, "train", 5);
        double ips = json_number("img_per_s", &p), step = json_number("step_s", &p);
        double g = json_number("gflops", &p), sg = json_number("sgemm_gflops", &p);
        double mb = json_number("peak_rss_mb", &p);
        CHECK_MSG(threads == (r < 2 ? 1 : 2), "run %d: threads %g", r, threads);
        CHECK_MSG(train == (r % 2 == 0), "run %d: phase out of order", r);
        CHECK(ips > 0 && step > 0 && sg > 0 && mb > 1);
        CHECK_MSG(fabs(ips * step - 3) < 1e-3, "run %d: img/s %g x step %g != batch 3", r, ips,
                  step);
        double per_img = (train ? 4.0 : 1.0) * gf;
        CHECK_MSG(fabs(g - ips * per_img) <= 1e-4 * g, "run %d: %g GFLOP/s, expected %g", r, g,
                  ips * per_img);
        if (r % 2 == 1 && fma_isa) { /* then the thread count's FMA peak */
            CHECK(json_number("threads", &p) == threads);
            CHECK(strstr(p, "\"phase\": \"fma_peak\"") != NULL);
            CHECK(json_number("gflops", &p) > 0);
        }
        if (r % 2 == 1) { /* and its bf16 figures: rin_gemm_bf16 always runs */
            CHECK(json_number("threads", &p) == threads);
            CHECK(strstr(p, "\"phase\": \"bf16\"") != NULL);
            CHECK(json_number("gemm_gflops", &p) > 0);
        }
    }
    /* the peak line names the ISA of the register-only loop, or says it was not measured */
    CHECK_MSG(fma_isa ? strstr(out, fma_isa) != NULL
                      : strstr(out, "fp32 FMA peak: not measured") != NULL,
              "%s", out);
    unlink(json);

    /* bad input is named */
    st = run(out, sizeof out, "bench --preset tiny --set no_such_key=1");
    CHECK(st != 0 && strstr(out, "no_such_key"));
    st = run(out, sizeof out, "bench --preset tiny --only both");
    CHECK(st != 0 && strstr(out, "--only"));
}

/* A micro video model's run: a temp dir /tmp/rin_cli_TAG_PID holding 6 IDX items, a run dir in
 * it, and `common`, the settings that train it on their moving items (16 x 16 frames, seq_len 6,
 * widths 16, 4 latents, one layer; grids and checkpoints every `every` steps) plus `keys`. */
typedef struct micro_video {
    char dir[256], img[300], lab[300], run_dir[300], common[1200];
} micro_video;

static void micro_video_setup(micro_video *mv, const char *tag, const char *keys, int every) {
    idx_fixture(mv->dir, mv->img, mv->lab, tag, 6);
    snprintf(mv->run_dir, sizeof mv->run_dir, "%s/run", mv->dir);
    snprintf(mv->common, sizeof mv->common,
             "--preset video --data mmnist:idx:%s --set image_height=16 --set image_width=16 "
             "--set seq_len=6 %s --set tape_dim=16 --set latent_dim=16 "
             "--set latent_slots=4 --set num_layers=1 --set latent_num_heads=2 "
             "--set rw_num_heads=2 --set batch_size=2 --set warmup_steps=1 --set log_every=1 "
             "--set sample_every=%d --set sample_count=2 --set sample_steps=2 --set ckpt_every=%d",
             mv->img, keys, every, every);
}

TEST(cli_video_train_sample_eval) {
    /* a micro video model on moving items of a synthetic IDX file: train, resume, sample a
     * strip and a GIF, and evaluate against the copy-last-frame baseline */
    char p[900], out[16384];
    micro_video mv;
    micro_video_setup(&mv, "video", "--set cond_frames=2", 2);
    const char *dir = mv.dir, *img = mv.img, *run_dir = mv.run_dir, *common = mv.common;
    int st = run(out, sizeof out, "train --run %s %s --steps 2", run_dir, common);
    printf("%s", out);
    CHECK(st == 0);
    snprintf(p, sizeof p, "%s/samples/step_0000002.png", run_dir);
    CHECK_MSG(file_size(p) > 0, "%s missing", p);
    /* the preset's positions */
    CHECK(run_config_has(run_dir, "tape_pos_encoding=sin_cos_3d_plus_learned\n"));
    st = run(out, sizeof out, "train --resume %s --set total_steps=3", run_dir);
    CHECK(st == 0 && strstr(out, "steps 2 -> 3") != NULL);
    char mo[600], strip[600], gif[600];
    snprintf(mo, sizeof mo, "%s/model.safetensors", run_dir);
    snprintf(strip, sizeof strip, "%s/strip.png", dir);
    snprintf(gif, sizeof gif, "%s/clip.gif", dir);
    st = run(out, sizeof out,
             "sample --model %s --data mmnist:idx:%s --n 2 --steps 2 --strip %s "
             "--gif %s",
             mo, img, strip, gif);
    printf("%s", out);
    CHECK(st == 0 && file_size(strip) > 0 && file_size(gif) > 0);
    /* the strip: 2 clips x (truth row + prediction row) of 6 frames of 16x16, 2-pixel grey
     * borders: (4 x 18 + 2) x (6 x 18 + 2) */
    uint8_t *px = NULL;
    int H = 0, W = 0, C = 0;
    CHECK(rin_png_read(strip, &px, &H, &W, &C, NULL, 0) == RIN_STATUS_OK);
    /* enlarged ceil(84 / 16) = 6 times */
    CHECK_MSG(H == 6 * (4 * 18 + 2) && W == 6 * (6 * 18 + 2) && C == 1, "strip %dx%dx%d", H, W, C);
    free(px);
    char v[256], sha[65];
    CHECK(run(out, sizeof out, "info %s", strip) == 0);
    file_sha256(mo, sha);
    CHECK(!strcmp(info_value(out, "checkpoint_sha256", v, sizeof v), sha));
    CHECK(!strcmp(info_value(out, "step", v, sizeof v), "3"));
    st = run(out, sizeof out,
             "sample --model %s --data mmnist:idx:%s --n 2 --steps 1 --strip %s --gif %s "
             "--scale 1",
             mo, img, strip, gif);
    CHECK(st == 0);
    CHECK(rin_png_read(strip, &px, &H, &W, &C, NULL, 0) == RIN_STATUS_OK);
    CHECK_MSG(H == 4 * 18 + 2 && W == 6 * 18 + 2 && C == 1, "--scale 1 strip %dx%dx%d", H, W, C);
    free(px);
    /* the training previews: strips enlarged the same way, with the run's provenance */
    snprintf(p, sizeof p, "%s/samples/step_0000002.png", run_dir);
    CHECK(rin_png_read(p, &px, &H, &W, &C, NULL, 0) == RIN_STATUS_OK);
    CHECK_MSG(H == 6 * (4 * 18 + 2) && W == 6 * (6 * 18 + 2), "preview %dx%d", H, W);
    free(px);
    CHECK(run(out, sizeof out, "info %s", p) == 0);
    CHECK(!strcmp(info_value(out, "weights", v, sizeof v), "ema"));
    char csv[600], text[4096];
    snprintf(csv, sizeof csv, "%s/frames.csv", dir);
    st = run(out, sizeof out, "eval --model %s --data mmnist:idx:%s --n 3 --k 2 --steps 2 --csv %s",
             mo, img, csv);
    printf("%s", out);
    CHECK(st == 0 && strstr(out, "copy-last") && strstr(out, "mean "));
    /* --csv: a header and one row per predicted frame (6 - 2), the first row frame 3 */
    read_text(csv, text, sizeof text);
    CHECK(!strncmp(text, "frame,best_mse,", 15) && strstr(text, "\n3,") != NULL);
    CHECK(count_lines(csv) == 1 + 4);
    /* the conditioning check: the first sample's scores again with the next clip's
     * conditioning frames; its "own" figures are the mean row's 1-sample column, and an
     * untrained network's output still depends on its conditioning tokens */
    const char *mean = strstr(out, "mean "), *chk = strstr(out, "conditioning check:");
    double own[3], row[8], other[3];
    CHECK(mean && chk);
    if (mean && chk) {
        CHECK(sscanf(mean, "mean | %lf %lf %lf %lf | %lf %lf %lf %lf", &row[0], &row[1], &row[2],
                     &row[3], &row[4], &row[5], &row[6], &row[7]) == 8);
        const char *sc = strstr(chk, "scores ");
        CHECK(sc && sscanf(sc, "scores %lf %lf %lf (MSE PSNR SSIM) vs %lf %lf %lf", &other[0],
                           &other[1], &other[2], &own[0], &own[1], &own[2]) == 6);
        CHECK(fabs(own[0] - row[4]) < 0.01 && fabs(own[1] - row[5]) < 0.01);
        CHECK(other[0] != own[0]);
    }
    snprintf(p, sizeof p, "rm -rf %s", dir);
    CHECK(system(p) == 0);
}

TEST(cli_video_halo_short_blocks) {
    /* rin's video_cond_halo through the commands: a short-block model (1 frame from the last 2)
     * whose tokens see the clean frames' 12 x 12 windows around their 8 x 8 patches; the key
     * reaches config.txt and the checkpoint, the stem is as wide as the windows, and sample and
     * eval roll it out to 4 frames */
    char p[900], out[16384];
    micro_video mv;
    micro_video_setup(&mv, "vhalo",
                      "--set seq_len=3 --set cond_frames=2 --set video_cond=channels "
                      "--set video_cond_frames=2 --set video_cond_halo=2",
                      2);
    const char *dir = mv.dir, *img = mv.img, *run_dir = mv.run_dir, *common = mv.common;
    int st = run(out, sizeof out, "train --run %s %s --steps 2", run_dir, common);
    printf("%s", out);
    CHECK(st == 0);
    CHECK(run_config_has(run_dir, "video_cond_halo=2\n"));
    char mo[600], strip[600], err[512];
    snprintf(mo, sizeof mo, "%s/model.safetensors", run_dir);
    rin_model *m = NULL;
    CHECK(rin_model_load(&m, mo, err, sizeof err) == RIN_STATUS_OK);
    if (m) {
        CHECK(rin_model_config(m)->video_cond_halo == 2);
        /* the noisy 8 x 8 patch, then 2 clean 12 x 12 windows */
        CHECK(rin_model_find_tensor(m, "stem_w")->shape[1] == 8 * 8 + 2 * 12 * 12);
        rin_model_free(m);
    }
    snprintf(strip, sizeof strip, "%s/strip.png", dir);
    st = run(out, sizeof out,
             "sample --model %s --data mmnist:idx:%s --n 2 --steps 2 --frames 4 --strip %s", mo,
             img, strip);
    printf("%s", out);
    CHECK(st == 0 && file_size(strip) > 0 && strstr(out, "roll-out: 4 rounds of 1"));
    /* without --gif the GIF goes beside the strip, not into the working directory */
    snprintf(p, sizeof p, "%s/strip.gif", dir);
    CHECK_MSG(file_size(p) > 0 && strstr(out, "gif /tmp/"), "%s", out);
    st = run(out, sizeof out,
             "eval --model %s --data mmnist:idx:%s --n 2 --k 1 --steps 2 --frames 4", mo, img);
    printf("%s", out);
    CHECK(st == 0 && strstr(out, "copy-last") && strstr(out, "conditioning check:"));
    /* --no-check leaves the conditioning check out, and only it */
    st = run(out, sizeof out,
             "eval --model %s --data mmnist:idx:%s --n 2 --k 1 --steps 2 --frames 4 --no-check", mo,
             img);
    CHECK_MSG(st == 0 && strstr(out, "copy-last") && !strstr(out, "conditioning check:"), "%s",
              out);
    st = run(out, sizeof out, "sample --model %s --no-check", mo);
    CHECK_MSG(st != 0 && strstr(out, "--no-check is an option of rin eval"), "%s", out);
    /* a halo without channels is refused, naming the key */
    st = run(out, sizeof out,
             "train --run %s/r2 %s --set video_cond=tokens --set video_cond_halo=2", dir, common);
    CHECK_MSG(st != 0 && strstr(out, "video_cond_halo: 2 applies to video_cond = channels only"),
              "%s", out);
    snprintf(p, sizeof p, "rm -rf %s", dir);
    CHECK(system(p) == 0);
}

TEST(cli_video_channels_train_sample_eval) {
    /* rin's video_cond = channels through the same commands with no new option: train a micro
     * model whose noisy pixels also carry the last 2 clean frames, sample a strip and a GIF,
     * evaluate; the conditioning frames must reach the stem in training and in sampling */
    char p[900], out[16384];
    micro_video mv;
    micro_video_setup(&mv, "vchan",
                      "--set cond_frames=3 --set video_cond=channels --set video_cond_frames=2", 3);
    const char *dir = mv.dir, *img = mv.img, *run_dir = mv.run_dir, *common = mv.common;
    int st = run(out, sizeof out, "train --run %s %s --steps 3", run_dir, common);
    printf("%s", out);
    CHECK(st == 0);
    snprintf(p, sizeof p, "%s/samples/step_0000003.png", run_dir);
    CHECK_MSG(file_size(p) > 0, "%s missing", p);
    CHECK(run_config_has(run_dir, "video_cond=channels\nvideo_cond_frames=2\n"));
    /* the checkpoint carries the keys, and the stem is C (1 + k) = 3 channels wide per pixel */
    char mo[600], strip[600], gif[600], err[512];
    snprintf(mo, sizeof mo, "%s/model.safetensors", run_dir);
    rin_model *m = NULL;
    CHECK(rin_model_load(&m, mo, err, sizeof err) == RIN_STATUS_OK);
    if (m) {
        const rin_config *c = rin_model_config(m);
        CHECK(c->video_cond == 1 && c->video_cond_frames == 2);
        CHECK(rin_model_find_tensor(m, "stem_w")->shape[1] == 8 * 8 * 3);
        CHECK(rin_config_num_tokens(c) == 3 * 4); /* the 3 noisy frames' tokens only */
        rin_model_free(m);
    }
    snprintf(strip, sizeof strip, "%s/strip.png", dir);
    snprintf(gif, sizeof gif, "%s/clip.gif", dir);
    st = run(out, sizeof out,
             "sample --model %s --data mmnist:idx:%s --n 2 --steps 2 --strip %s --gif %s", mo, img,
             strip, gif);
    printf("%s", out);
    CHECK(st == 0 && file_size(strip) > 0 && file_size(gif) > 0);
    st =
        run(out, sizeof out, "eval --model %s --data mmnist:idx:%s --n 3 --k 2 --steps 2", mo, img);
    printf("%s", out);
    CHECK(st == 0 && strstr(out, "copy-last") && strstr(out, "mean "));
    /* the conditioning check: the next clip's clean frames change the prediction */
    const char *mean = strstr(out, "mean "), *chk = strstr(out, "conditioning check:");
    double own[3], other[3];
    CHECK(mean && chk);
    if (mean && chk) {
        const char *sc = strstr(chk, "scores ");
        CHECK(sc && sscanf(sc, "scores %lf %lf %lf (MSE PSNR SSIM) vs %lf %lf %lf", &other[0],
                           &other[1], &other[2], &own[0], &own[1], &own[2]) == 6);
        CHECK(other[0] != own[0]);
    }
    /* the static copy probe: copy-last equals the truth in every frame, so its per-frame PSNR
     * is +inf; those frames are counted and left out of the averages, not averaged into inf */
    st = run(out, sizeof out, "eval --model %s --data mmnist,speed=0:idx:%s --n 3 --k 1 --steps 2",
             mo, img);
    printf("%s", out);
    CHECK(st == 0);
    CHECK(strstr(out, "PSNR: 9 of copy-last's 9 frames equal the truth exactly (+inf dB)") != NULL);
    CHECK(strstr(out, "nan") == NULL); /* every copy-last cell is inf, not an empty average */
    const char *row = strstr(out, "\nmean ");
    double cm[4];
    CHECK(row &&
          sscanf(strstr(row + 1, "|") + 1, "%*f %*f %*f %*f | %*f %*f %*f %*f | %lf %lf", &cm[0],
                 &cm[1]) == 2 &&
          cm[0] == 0 && isinf(cm[1]));
    /* slow items (0.2-0.4 px a frame, integer positions): some copy-last frames equal the truth
     * and some do not; the equal ones are left out, so the averages stay finite */
    st = run(out, sizeof out,
             "eval --model %s --data mmnist,items=1,speed=0.2-0.4:idx:%s --n 4 --k 1 --steps 2", mo,
             img);
    printf("%s", out);
    const char *note = strstr(out, "PSNR: ");
    int k = 0;
    CHECK(st == 0 && note && sscanf(note, "PSNR: %d of copy-last's 12 frames", &k) == 1);
    CHECK(k > 0 && k < 12);
    row = strstr(out, "\nmean ");
    CHECK(row &&
          sscanf(strstr(row + 1, "|") + 1, "%*f %*f %*f %*f | %*f %*f %*f %*f | %lf %lf", &cm[0],
                 &cm[1]) == 2 &&
          isfinite(cm[1]) && cm[1] > 0);
    CHECK(!strstr(out, "nan"));
    snprintf(p, sizeof p, "rm -rf %s", dir);
    CHECK(system(p) == 0);
}

/* 1 when the two files hold the same bytes. */
static int same_file_bytes(const char *a, const char *b) {
    long na = file_size(a), nb = file_size(b);
    if (na < 0 || na != nb)
        return 0;
    char *x = malloc((size_t)na + 1), *y = malloc((size_t)nb + 1);
    FILE *f = fopen(a, "rb"), *g = fopen(b, "rb");
    int same = x && y && f && g && fread(x, 1, (size_t)na, f) == (size_t)na &&
               fread(y, 1, (size_t)nb, g) == (size_t)nb && !memcmp(x, y, (size_t)na);
    if (f)
        fclose(f);
    if (g)
        fclose(g);
    free(x), free(y);
    return same;
}

/* Column `col` (0 = frame) of the CSV row whose frame is `frame`, or NAN. */
static double csv_value(const char *text, int frame, int col) {
    char key[32];
    snprintf(key, sizeof key, "\n%d,", frame);
    const char *p = strstr(text, key);
    if (!p)
        return (double)NAN;
    p++;
    for (int k = 0; k < col; k++) {
        p = strchr(p, ',');
        if (!p)
            return (double)NAN;
        p++;
    }
    return strtod(p, NULL);
}

TEST(cli_video_rollout) {
    /* --frames: the default and --frames b are today's output byte for byte; --frames 2b + 1
     * rolls out three rounds, writes strips and GIFs of every frame, and rin eval reports every
     * horizon against copy-last and all-black on clips as long as the roll-out; too short a
     * clips file is named with its frame count and what was needed. An initialised (untrained)
     * micro model: 2 conditioning + b = 3 predicted frames of 16 x 16. */
    char dir[256], img[300], lab[300], p[900], out[16384], mo[600], clips[600];
    idx_fixture(dir, img, lab, "vroll", 6);
    snprintf(mo, sizeof mo, "%s/model.safetensors", dir);
    snprintf(clips, sizeof clips, "%s/clips.safetensors", dir);
    int st = run(out, sizeof out,
                 "init --preset video --set image_height=16 --set image_width=16 --set seq_len=5 "
                 "--set cond_frames=2 --set tape_dim=16 --set latent_dim=16 --set latent_slots=4 "
                 "--set num_layers=1 --set latent_num_heads=2 --set rw_num_heads=2 --seed 3 "
                 "--out %s",
                 mo);
    CHECK_MSG(st == 0, "%s", out);
    char a_png[600], a_gif[600], b_png[600], b_gif[600], common[1200];
    snprintf(common, sizeof common, "--model %s --data mmnist:idx:%s --n 3 --steps 2 --batch 2", mo,
             img);
    snprintf(a_png, sizeof a_png, "%s/a.png", dir);
    snprintf(a_gif, sizeof a_gif, "%s/a.gif", dir);
    snprintf(b_png, sizeof b_png, "%s/b.png", dir);
    snprintf(b_gif, sizeof b_gif, "%s/b.gif", dir);
    st = run(out, sizeof out, "sample %s --strip %s --gif %s", common, a_png, a_gif);
    CHECK_MSG(st == 0, "%s", out);
    st = run(out, sizeof out, "sample %s --strip %s --gif %s --frames 3", common, b_png, b_gif);
    CHECK_MSG(st == 0, "%s", out);
    CHECK(same_file_bytes(a_png, b_png) && same_file_bytes(a_gif, b_gif));
    /* three rounds: 2 + 7 frames per row, and as many GIF frames */
    st = run(out, sizeof out, "sample %s --strip %s --gif %s --frames 7 --scale 1", common, b_png,
             b_gif);
    printf("%s", out);
    CHECK(st == 0 && strstr(out, "2 conditioning + 7 predicted frames (roll-out: 3 rounds of 3)"));
    uint8_t *px = NULL;
    int H = 0, W = 0, C = 0;
    CHECK(rin_png_read(b_png, &px, &H, &W, &C, NULL, 0) == RIN_STATUS_OK);
    CHECK_MSG(H == 6 * 18 + 2 && W == 9 * 18 + 2, "strip %dx%d", H, W);
    free(px);
    char v[256];
    CHECK(run(out, sizeof out, "info %s", b_png) == 0);
    CHECK(!strcmp(info_value(out, "rollout", v, sizeof v), "7 frames in 3 rounds of 3"));
    /* the GIF: 2 + 7 frames of the one-round GIF's size, 2 + 3 frames (default --scale) */
    int gerr = 0, n[2] = {0, 0}, gw[2] = {0, 0}, gh[2] = {0, 0};
    const char *gifs[2] = {a_gif, b_gif};
    for (int j = 0; j < 2; j++) {
        GifFileType *g = DGifOpenFileName(gifs[j], &gerr);
        CHECK(g && DGifSlurp(g) == GIF_OK);
        if (g) {
            n[j] = g->ImageCount, gw[j] = g->SWidth, gh[j] = g->SHeight;
            DGifCloseFile(g, &gerr);
        }
    }
    CHECK_MSG(n[0] == 5 && n[1] == 9, "gif frames %d and %d", n[0], n[1]);
    CHECK_MSG(gw[0] == 6 * gw[1] && gh[0] == 6 * gh[1], "gif %dx%d vs %dx%d at scale 1", gw[0],
              gh[0], gw[1], gh[1]);

    /* rin eval: the first round of a roll-out is the one-round prediction (same noise), so its
     * rows equal the default's; then every horizon against both baselines */
    char csv1[600], csv7[600], t1[8192], t7[8192];
    snprintf(csv1, sizeof csv1, "%s/one.csv", dir);
    snprintf(csv7, sizeof csv7, "%s/seven.csv", dir);
    st = run(out, sizeof out, "eval %s --k 1 --csv %s", common, csv1);
    CHECK_MSG(st == 0 && strstr(out, "all-black"), "%s", out);
    st = run(out, sizeof out, "eval %s --k 1 --csv %s --frames 7", common, csv7);
    printf("%s", out);
    CHECK(st == 0 && strstr(out, "roll-out: 3 rounds of 3 frames") &&
          strstr(out, "conditioning check:"));
    read_text(csv1, t1, sizeof t1);
    read_text(csv7, t7, sizeof t7);
    const char *hdr = "frame,best_mse,best_psnr,best_ssim,best_com,one_mse,one_psnr,one_ssim,"
                      "one_com,copy_mse,copy_psnr,copy_ssim,copy_com,black_mse,black_psnr,"
                      "black_ssim,black_com\n";
    CHECK(!strncmp(t7, hdr, strlen(hdr)));
    CHECK(count_lines(csv1) == 1 + 3 && count_lines(csv7) == 1 + 7);
    const char *nl = strchr(t1, '\n');
    CHECK(nl && !strncmp(t7, t1, strlen(t1))); /* header and rows of frames 3, 4, 5 */
    CHECK(csv_value(t7, 9, 0) == 9 && isnan(csv_value(t7, 10, 0)));
    /* the centre-of-mass error: copy-last's is a distance, an all-black frame has none */
    for (int f = 3; f <= 9; f++)
        CHECK(csv_value(t7, f, 12) >= 0 && isnan(csv_value(t7, f, 16)));
    /* the all-black baseline against the clips' own frames 3..9 (the truth of the roll-out):
     * the per-frame squared sum of the pixels in [0, 1], averaged over the 3 clips */
    rin_video_source *src = NULL;
    char err[512], spec[400];
    snprintf(spec, sizeof spec, "mmnist:idx:%s", img);
    CHECK(rin_video_open(&src, spec, 9, 16, 16, 1, 1, err, sizeof err) == RIN_STATUS_OK);
    if (src) {
        uint8_t clip[9 * 256];
        double want[9] = {0};
        for (int i = 0; i < 3; i++) {
            rin_video_clip(src, i, clip);
            for (int f = 2; f < 9; f++)
                for (int k = 0; k < 256; k++) {
                    double u = clip[f * 256 + k] / 255.0;
                    want[f] += u * u / 3;
                }
        }
        for (int f = 2; f < 9; f++) {
            double got = csv_value(t7, f + 1, 13);
            CHECK_MSG(fabs(got - want[f]) <= 1e-5 * want[f] + 1e-9, "frame %d: black %g vs %g",
                      f + 1, got, want[f]);
        }
        rin_video_free(src);
    }

    /* errors: --frames out of range, a clips file shorter than the roll-out */
    st = run(out, sizeof out, "eval %s --frames 0", common);
    CHECK_MSG(st != 0 && strstr(out, "--frames"), "%s", out);
    uint8_t *data = calloc((size_t)2 * 6 * 256, 1);
    rin_st_writer *w = rin_st_writer_new();
    int64_t shape[5] = {2, 6, 16, 16, 1};
    CHECK(rin_st_writer_add(w, "clips", RIN_DTYPE_U8, 5, shape, data) == RIN_STATUS_OK);
    CHECK(rin_st_writer_save(w, clips, err, sizeof err) == RIN_STATUS_OK);
    rin_st_writer_free(w);
    free(data);
    st = run(out, sizeof out, "eval --model %s --data clips:%s --n 2 --steps 1 --frames 4", mo,
             clips);
    CHECK_MSG(st == 0, "a 6-frame file holds 2 + 4: %s", out);
    st = run(out, sizeof out, "sample --model %s --data clips:%s --n 2 --steps 1 --frames 7", mo,
             clips);
    printf("%s", out);
    CHECK_MSG(st != 0 && strstr(out, clips) &&
                  strstr(out, "its clips have 6 frames, but 9 are needed") &&
                  strstr(out, "; --frames needs 2 conditioning + 7 predicted frames per clip"),
              "%s", out);
    snprintf(p, sizeof p, "rm -rf %s", dir);
    CHECK(system(p) == 0);
}

TEST(cli_video_token_gamma_frame_noise) {
    /* rin's token_gamma and frame_noise = independent (diffusion forcing) through the commands
     * with no option beyond the keys: train a micro video model a few steps, resume it (the
     * training key comes back from the checkpoint), sample a strip with one gamma for all
     * predicted frames */
    char p[900], out[16384];
    micro_video mv;
    micro_video_setup(&mv, "vtg",
                      "--set cond_frames=3 --set token_gamma=1 --set frame_noise=independent", 3);
    const char *dir = mv.dir, *img = mv.img, *run_dir = mv.run_dir, *common = mv.common;
    int st = run(out, sizeof out, "train --run %s %s --steps 3", run_dir, common);
    printf("%s", out);
    CHECK(st == 0);
    CHECK(run_config_has(run_dir, "token_gamma=1\n"));
    CHECK(run_config_has(run_dir, "frame_noise=independent\n"));
    char ck[600], mo[600], strip[600], gif[600], err[512];
    snprintf(ck, sizeof ck, "%s/checkpoint.safetensors", run_dir);
    rin_train_config tc;
    CHECK(rin_train_config_from_file(&tc, ck, err, sizeof err) == RIN_STATUS_OK);
    CHECK(!strcmp(tc.frame_noise, "independent"));
    st = run(out, sizeof out, "train --resume %s --set total_steps=5", run_dir);
    printf("%s", out);
    CHECK(st == 0);
    snprintf(mo, sizeof mo, "%s/model.safetensors", run_dir);
    rin_model *m = NULL;
    CHECK(rin_model_load(&m, mo, err, sizeof err) == RIN_STATUS_OK);
    if (m) {
        CHECK(rin_model_config(m)->token_gamma == 1);
        CHECK(rin_model_find_tensor(m, "time_tape_w") != NULL);
        rin_model_free(m);
    }
    snprintf(strip, sizeof strip, "%s/strip.png", dir);
    snprintf(gif, sizeof gif, "%s/clip.gif", dir);
    st = run(out, sizeof out,
             "sample --model %s --data mmnist:idx:%s --n 2 --steps 2 --strip %s --gif %s", mo, img,
             strip, gif);
    printf("%s", out);
    CHECK(st == 0 && file_size(strip) > 0 && file_size(gif) > 0);
    snprintf(p, sizeof p, "rm -rf %s", dir);
    CHECK(system(p) == 0);
}

/* Does `key=value` of a config file hold in a resolved config.txt? Numbers compare as numbers
 * ("2e-3" is "0.002"), anything else as text. */
static int config_txt_has(const char *cfg, const char *key, const char *value) {
    char pat[200];
    snprintf(pat, sizeof pat, "\n%s=", key);
    const char *at = strstr(cfg, pat);
    if (!at)
        return 0;
    at += strlen(pat);
    char got[200];
    size_t n = strcspn(at, "\n");
    snprintf(got, sizeof got, "%.*s", (int)n, at);
    char *e1, *e2;
    double a = strtod(got, &e1), b = strtod(value, &e2);
    if (*got && *value && !*e1 && !*e2)
        return a == b;
    return !strcmp(got, value);
}

TEST(cli_configs_every_file_trains) {
    /* Every file in configs/ is a recipe a user runs as its header says: it must parse, and
     * every key it sets must reach the run's config.txt (the later file winning). One step of
     * each on synthetic data; the keys this test overrides to keep it short are not checked. */
    static const struct {
        const char *preset, *files[2];
    } recipes[] = {
        {"fmnist", {"fmnist.conf", NULL}},
        {"fmnist", {"fmnist.conf", "fmnist-long.conf"}},
        {"fmnist", {"bench-fmnist-small.conf", NULL}},
        {"video", {"video.conf", NULL}},
        {"video", {"video.conf", "video-short.conf"}},
    };
    static const char *const overridden[] = {
        "data",       "total_steps",  "batch_size",  "sample_every", "sample_count", "sample_steps",
        "time_limit", "image_height", "image_width", "warmup_steps", "ckpt_every",   NULL};
    const int R = (int)(sizeof recipes / sizeof recipes[0]);
    /* a new file in configs/ needs a recipe here */
    char out[16384];
    CHECK(test_shell(out, sizeof out, "ls configs/*.conf") == 0);
    for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
        const char *name = strrchr(line, '/') ? strrchr(line, '/') + 1 : line;
        int found = 0;
        for (int r = 0; r < R; r++)
            for (int f = 0; f < 2; f++)
                found |= recipes[r].files[f] && !strcmp(recipes[r].files[f], name);
        CHECK_MSG(found, "configs/%s has no recipe in cli_configs_every_file_trains", name);
    }
    char dir[256], img[300], lab[300], p[900];
    idx_fixture(dir, img, lab, "configs", 8);
    for (int r = 0; r < R; r++) {
        char cfgs[300] = "", run_dir[400], data[800];
        for (int f = 0; f < 2 && recipes[r].files[f]; f++) {
            size_t n = strlen(cfgs);
            snprintf(cfgs + n, sizeof cfgs - n, " --config configs/%s", recipes[r].files[f]);
        }
        snprintf(run_dir, sizeof run_dir, "%s/run%d", dir, r);
        if (!strcmp(recipes[r].preset, "video"))
            snprintf(data, sizeof data, "--data mmnist:idx:%s", img);
        else
            snprintf(data, sizeof data, "--data idx:%s,%s --set image_height=8 --set image_width=8",
                     img, lab);
        int st = run(out, sizeof out,
                     "train --run %s --preset %s%s %s --steps 1 --set batch_size=2 "
                     "--set sample_every=0 --set sample_count=1 --set sample_steps=1 "
                     "--set time_limit=0 --set warmup_steps=1 --set ckpt_every=1",
                     run_dir, recipes[r].preset, cfgs, data);
        CHECK_MSG(st == 0, "%s:%s\n%s", recipes[r].preset, cfgs, out);
        char cfg[8192];
        cfg[0] = '\n';
        snprintf(p, sizeof p, "%s/config.txt", run_dir);
        read_text(p, cfg + 1, sizeof cfg - 1);
        /* every key of every file, the later file's value where both set it */
        for (int f = 1; f >= 0; f--) {
            if (!recipes[r].files[f])
                continue;
            char path[300], text[8192];
            snprintf(path, sizeof path, "configs/%s", recipes[r].files[f]);
            CHECK(read_text(path, text, sizeof text) > 0);
            char *save = NULL;
            for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
                char key[100], value[200];
                if (l[0] == '#' || sscanf(l, " %99[a-z_0-9] = %199s", key, value) != 2)
                    continue;
                int skip = 0;
                for (int o = 0; overridden[o]; o++)
                    skip |= !strcmp(key, overridden[o]);
                if (f == 0 && recipes[r].files[1]) { /* the later file wins */
                    char p2[300], t2[8192], pat[120];
                    snprintf(p2, sizeof p2, "configs/%s", recipes[r].files[1]);
                    t2[0] = '\n';
                    read_text(p2, t2 + 1, sizeof t2 - 1);
                    snprintf(pat, sizeof pat, "\n%s =", key);
                    skip |= strstr(t2, pat) != NULL;
                }
                if (!skip)
                    CHECK_MSG(config_txt_has(cfg, key, value), "%s: %s = %s not in %s",
                              recipes[r].files[f], key, value, p);
            }
        }
    }
    snprintf(p, sizeof p, "rm -rf %s", dir);
    CHECK(system(p) == 0);
}

/* The parameters of two model files are bitwise equal. */
static int same_params(const char *a, const char *b) {
    rin_model *ma = NULL, *mb = NULL;
    int same = rin_model_load(&ma, a, NULL, 0) == RIN_STATUS_OK &&
               rin_model_load(&mb, b, NULL, 0) == RIN_STATUS_OK &&
               rin_model_buffer_floats(ma) == rin_model_buffer_floats(mb) &&
               !memcmp(rin_model_params(ma), rin_model_params(mb),
                       rin_model_buffer_floats(ma) * sizeof(float));
    rin_model_free(ma);
    rin_model_free(mb);
    return same;
}

TEST(cli_video_rollout_training) {
    /* rollout_rate through rin train: the key reaches config.txt, a resumed run repeats the
     * uninterrupted one bit for bit (the choices, levels and noise come from seed and step, the
     * longer clips from the same source indices), and it changes what is trained */
    char p[900], a[700], out[16384];
    micro_video mv;
    micro_video_setup(&mv, "vrolltrain",
                      "--set seq_len=3 --set cond_frames=2 --set video_cond=channels "
                      "--set video_cond_frames=2",
                      2);
    const char *dir = mv.dir, *common = mv.common;
    int st =
        run(out, sizeof out, "train --run %s/a %s --set rollout_rate=0.5 --steps 4", dir, common);
    printf("%s", out);
    CHECK(st == 0);
    char a_dir[300];
    snprintf(a_dir, sizeof a_dir, "%s/a", dir);
    CHECK(run_config_has(a_dir, "rollout_rate=0.5\n"));
    st = run(out, sizeof out, "train --run %s/b %s --set rollout_rate=0.5 --steps 2", dir, common);
    CHECK(st == 0);
    st = run(out, sizeof out, "train --resume %s/b --set total_steps=4", dir);
    CHECK_MSG(st == 0 && strstr(out, "steps 2 -> 4"), "%s", out);
    st = run(out, sizeof out, "train --run %s/c %s --steps 4", dir, common);
    CHECK(st == 0);
    snprintf(a, sizeof a, "%s/a/model.safetensors", dir);
    snprintf(p, sizeof p, "%s/b/model.safetensors", dir);
    CHECK_MSG(same_params(a, p), "a resumed roll-out run differs from the uninterrupted one");
    snprintf(p, sizeof p, "%s/c/model.safetensors", dir);
    CHECK_MSG(!same_params(a, p), "rollout_rate=0.5 trained the same weights as 0");
    /* an image model is refused, naming the key */
    st = run(
        out, sizeof out,
        "train --run %s/d --preset tiny --set num_classes=0 --set image_channels=1 --data idx:%s "
        "--set rollout_rate=0.5 --set warmup_steps=1 --steps 1",
        dir, mv.img);
    CHECK_MSG(st != 0 && strstr(out, "rollout_rate: 0.5") && strstr(out, "seq_len 0"), "%s", out);
    snprintf(p, sizeof p, "rm -rf %s", dir);
    CHECK(system(p) == 0);
}

TEST(cli_committed_video_models) {
    /* the committed video models (docs/video.md) load as the recipe they document and roll out
     * through rin eval; a truncated or mislabelled file fails here, not in a user's hands */
    static const char *const files[] = {"models/video-one-short.safetensors",
                                        "models/video-two-short.safetensors"};
    static const char *const data[] = {"mmnist,items=1,speed=1-3:fmnist:test",
                                       "mmnist:fmnist:test"};
    int have_fm = access("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz", R_OK) == 0;
    for (int i = 0; i < 2; i++) {
        rin_model *m = NULL;
        char err[512], out[16384];
        CHECK_MSG(rin_model_load(&m, files[i], err, sizeof err) == RIN_STATUS_OK, "%s", err);
        if (!m)
            continue;
        const rin_config *c = rin_model_config(m);
        CHECK_MSG(c->seq_len == 6 && c->cond_frames == 5 && c->video_cond == 1 &&
                      c->video_cond_frames == 5 && c->video_cond_halo == 8 &&
                      rin_config_num_params(c) == 1999296,
                  "%s: seq_len %d, cond_frames %d, halo %d, %zu parameters", files[i], c->seq_len,
                  c->cond_frames, c->video_cond_halo, rin_config_num_params(c));
        rin_model_free(m);
        if (!have_fm)
            continue;
        int st =
            run(out, sizeof out, "eval --model %s --data %s --n 2 --steps 2 --frames 2 --no-check",
                files[i], data[i]);
        CHECK_MSG(st == 0 && strstr(out, "roll-out: 2 rounds of 1") && strstr(out, "copy-last"),
                  "%s", out);
    }
    if (!have_fm)
        test_skip("dataset-fashion-mnist is not installed: the models were loaded, not sampled");
}
