/* test_dist.c -- data-parallel training (docs/distributed.md):
 *   - in one process: N shard trainers whose gradients and losses are summed by hand follow the
 *     single trainer on the whole batch (same losses, same weights, EMA and moments, within
 *     float32 summation-order tolerance), with dropout, drop-path, label dropout and
 *     self-conditioning on, so every per-example random draw must land on the same example;
 *   - with MPI (built MPI=1 and mpirun installed): `mpirun -np 2 rin train` against
 *     `rin train` with the same global batch, and a 2-rank run resumed by 1 rank; and an error
 *     on one rank stops both with its message. Skipped when either is missing.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "dist.h"
#include "internal.h"
#include "test.h"

static rin_config dist_model_config(void) {
    rin_config c;
    rin_config_preset(&c, "tiny", NULL, 0);
    rin_config_set(&c, "drop_units", "0.1", NULL, 0);
    rin_config_set(&c, "drop_path", "0.2", NULL, 0);
    return c;
}

static rin_train_config dist_train_config(int B) {
    rin_train_config t;
    rin_train_config_default(&t);
    t.batch_size = B;
    t.total_steps = 100;
    t.warmup_steps = 2;
    t.lr = 2e-3;
    t.clip_norm = 1.0;
    t.cond_dropout = 0.3;
    t.ema_decay = 0.9;
    t.seed = 11;
    return t;
}

/* Float32 summation order: the shards sum each gradient in parts. Measured over 5 steps:
 * losses within 3e-8 relative, weights within 4.3e-5 of their largest magnitude (LAMB divides by
 * sqrt(v), so a tiny gradient that differs by rounding moves its weight by up to ~lr). A shard
 * that draws another example's noise or dropout mask gives 5e-3 and 1e-2 (tried). */
#define DIST_LOSS_RTOL  1e-6
#define DIST_WEIGHT_TOL 5e-4

static int compare_state(const char *what, const float *got, const float *ref, size_t n) {
    tensor_err e = tensor_compare_f32(got, ref, n, 0, 0);
    tensor_err_print(what, e, NULL, NULL, n);
    return e.norm_max <= DIST_WEIGHT_TOL;
}

TEST(dist_shards_in_one_process_match_the_whole_batch) {
    const int B = 8, K = 5;
    rin_config c = dist_model_config();
    size_t per = (size_t)c.H * c.W * c.C;
    float *x0 = malloc((size_t)B * K * per * sizeof *x0);
    int *labels = malloc((size_t)B * K * sizeof *labels);
    RIN_ASSERT(x0 && labels);
    test_fill_uniform(x0, (size_t)B * K * per, 77, -1.0f, 1.0f);
    for (int i = 0; i < B * K; i++)
        labels[i] = (i * 7) % c.num_classes;

    for (int N = 2; N <= 4; N *= 2) {
        rin_train_config tc = dist_train_config(B);
        rin_model *whole_m, *m[4];
        rin_trainer *whole, *tr[4];
        RIN_ASSERT(rin_model_create(&whole_m, &c, NULL, 0) == RIN_STATUS_OK);
        rin_model_init_params(whole_m, 5);
        RIN_ASSERT(rin_trainer_create(&whole, whole_m, &tc, NULL, 0) == RIN_STATUS_OK);
        for (int r = 0; r < N; r++) {
            char err[256];
            RIN_ASSERT(rin_model_create(&m[r], &c, NULL, 0) == RIN_STATUS_OK);
            rin_model_init_params(m[r], 5);
            CHECK(rin_trainer_create_shard(&tr[r], m[r], &tc, r, N, err, sizeof err) == 0);
        }
        size_t nf = rin_model_buffer_floats(whole_m);
        float *gsum = malloc(nf * sizeof *gsum);
        RIN_ASSERT(gsum);
        int b = B / N, loss_ok = 1;
        for (int k = 0; k < K; k++) {
            const float *xk = x0 + (size_t)k * B * per;
            const int *lk = labels + (size_t)k * B;
            rin_step_stats ws, ss;
            CHECK(rin_trainer_step(whole, xk, lk, &ws) == RIN_STATUS_OK);
            /* what rin_trainer_step does on N ranks, with the sums done here */
            double loss = 0, lr;
            memset(gsum, 0, nf * sizeof *gsum);
            for (int r = 0; r < N; r++) {
                CHECK(rin_trainer_shard_forward(tr[r], xk + (size_t)r * b * per, lk + r * b, &lr) ==
                      RIN_STATUS_OK);
                loss += lr;
                CHECK(rin_trainer_shard_backward(tr[r]) == RIN_STATUS_OK);
                const float *g = rin_trainer_grads(tr[r]);
                for (size_t i = 0; i < nf; i++)
                    gsum[i] += g[i];
            }
            loss /= N;
            for (int r = 0; r < N; r++) {
                memcpy(rin_trainer_grads(tr[r]), gsum, nf * sizeof *gsum);
                CHECK(rin_trainer_apply(tr[r], loss, &ss) == RIN_STATUS_OK);
            }
            printf("  N=%d step %d: loss %.9f whole %.9f (rel %.1e); grad norm %.7f whole %.7f\n",
                   N, k + 1, loss, ws.loss, fabs(loss - ws.loss) / ws.loss, ss.grad_norm,
                   ws.grad_norm);
            loss_ok &= fabs(loss - ws.loss) <= DIST_LOSS_RTOL * ws.loss;
            loss_ok &= fabs(ss.grad_norm - ws.grad_norm) <= 1e-4 * ws.grad_norm;
        }
        CHECK_MSG(loss_ok, "N=%d: losses or gradient norms differ from the whole batch's", N);
        char what[64];
        snprintf(what, sizeof what, "N=%d weights vs whole batch", N);
        CHECK(compare_state(what, rin_model_params(m[0]), rin_model_params(whole_m), nf));
        snprintf(what, sizeof what, "N=%d EMA vs whole batch", N);
        CHECK(compare_state(what, rin_trainer_ema(tr[0]), rin_trainer_ema(whole), nf));
        for (int r = 1; r < N; r++) /* the ranks apply the same update to the same weights */
            CHECK(!memcmp(rin_model_params(m[r]), rin_model_params(m[0]), nf * sizeof(float)));
        for (int r = 0; r < N; r++) {
            rin_trainer_free(tr[r]);
            rin_model_free(m[r]);
        }
        rin_trainer_free(whole);
        rin_model_free(whole_m);
        free(gsum);
    }
    free(x0);
    free(labels);
}

TEST(dist_shard_config_errors) {
    rin_config c = dist_model_config();
    rin_train_config tc = dist_train_config(6);
    rin_model *m;
    rin_trainer *t;
    char err[256];
    RIN_ASSERT(rin_model_create(&m, &c, NULL, 0) == RIN_STATUS_OK);
    CHECK(rin_trainer_create_shard(&t, m, &tc, 0, 4, err, sizeof err) == RIN_STATUS_CONFIG);
    CHECK(strstr(err, "batch_size 6 is not a multiple of the 4 ranks") != NULL);
    CHECK(rin_trainer_create_shard(&t, m, &tc, 3, 3, err, sizeof err) == RIN_STATUS_ARG);
    /* a shard of 3 ranks stepped outside a 3-rank job refuses rather than train alone */
    CHECK(rin_trainer_create_shard(&t, m, &tc, 1, 3, err, sizeof err) == RIN_STATUS_OK);
    float x0[2 * 8 * 8 * 3] = {0};
    int labels[2] = {0, 1};
    CHECK(rin_trainer_step(t, x0, labels, NULL) == RIN_STATUS_ARG);
    CHECK(rin_trainer_step_count(t) == 0);
    rin_trainer_free(t);
    rin_model_free(m);
}

/* ---- under mpirun ---------------------------------------------------------------------------- */

static const char *dist_cli(void) {
    const char *p = getenv("RIN_CLI");
    return p && *p ? p : "build/rin";
}

/* The launcher: $RIN_MPIRUN, or OpenMPI's mpirun as CI runs it (as root, 2 ranks on however
 * many cores; no single-copy shared memory, which containers often forbid). The ranks run
 * without LeakSanitizer: OpenMPI leaks in MPI_Init from plug-ins it has unloaded by exit, so
 * their stacks cannot be suppressed; rin's own code is leak-checked by the single-process
 * tests, and dist.c allocates nothing. */
static const char *mpirun_cmd(void) {
    const char *p = getenv("RIN_MPIRUN");
    return p && *p ? p
                   : "env ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 "
                     "mpirun --allow-run-as-root --oversubscribe "
                     "--mca btl_vader_single_copy_mechanism none";
}

/* 1 when the test can launch ranks; otherwise marks the test skipped, or failed when
 * $RIN_REQUIRE_MPI is set (CI: a skip must not hide a lost MPI build). */
static int mpi_available(void) {
    const char *why = NULL;
    if (!rin_dist_built())
        why = "built with MPI=0";
    else if (!getenv("RIN_MPIRUN") && system("command -v mpirun >/dev/null 2>&1") != 0)
        why = "mpirun is not installed (Debian: openmpi-bin)";
    if (!why)
        return 1;
    if (getenv("RIN_REQUIRE_MPI"))
        test_fail(__FILE__, __LINE__, "RIN_REQUIRE_MPI is set but %s", why);
    else
        test_skip(why);
    return 0;
}

/* Runs a shell command under `timeout` (a hang fails instead of stalling the suite), stderr
 * merged into out; returns the exit status (124: timed out). */
static int shell(char *out, size_t outlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int shell(char *out, size_t outlen, const char *fmt, ...) {
    char cmd[4096], full[4300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    snprintf(full, sizeof full, "timeout 120 %s 2>&1", cmd);
    return test_shell(out, outlen, full);
}

static int count_of(const char *hay, const char *needle) {
    int n = 0;
    for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

/* 32 grayscale 8x8 images with labels 0..3 as IDX files in dir */
static void write_dist_idx(const char *dir) {
    char path[512];
    snprintf(path, sizeof path, "%s/img.idx", dir);
    FILE *f = fopen(path, "wb");
    snprintf(path, sizeof path, "%s/lab.idx", dir);
    FILE *g = fopen(path, "wb");
    RIN_ASSERT(f && g);
    const unsigned char hi[16] = {0, 0, 8, 3, 0, 0, 0, 32, 0, 0, 0, 8, 0, 0, 0, 8};
    const unsigned char hl[8] = {0, 0, 8, 1, 0, 0, 0, 32};
    fwrite(hi, 1, sizeof hi, f);
    fwrite(hl, 1, sizeof hl, g);
    rin_rng rng;
    rin_rng_seed(&rng, 3);
    for (int i = 0; i < 32; i++) {
        unsigned char px[64], lab = (unsigned char)(i % 4);
        for (int k = 0; k < 64; k++)
            px[k] = (unsigned char)(rin_rng_u64(&rng) >> 56);
        fwrite(px, 1, sizeof px, f);
        fwrite(&lab, 1, 1, g);
    }
    fclose(f);
    fclose(g);
}

/* Losses of metrics.csv, by step (1..max); returns the last step read. */
static int read_losses(const char *run_dir, double *loss, int max) {
    char path[600], line[256];
    snprintf(path, sizeof path, "%s/metrics.csv", run_dir);
    FILE *f = fopen(path, "r");
    int last = 0;
    if (!f)
        return 0;
    while (fgets(line, sizeof line, f)) {
        long step;
        double l;
        if (sscanf(line, "%ld,%lf", &step, &l) == 2 && step >= 1 && step <= max) {
            loss[step - 1] = l;
            last = (int)step;
        }
    }
    fclose(f);
    return last;
}

/* Compares two runs' losses (metrics.csv keeps 6 digits) and their checkpoints' weights, EMA
 * and optimizer moments. */
static void compare_runs(const char *what, const char *a, const char *b, int steps) {
    double la[16] = {0}, lb[16] = {0};
    CHECK(read_losses(a, la, 16) == steps && read_losses(b, lb, 16) == steps);
    for (int s = 0; s < steps; s++)
        CHECK_MSG(fabs(la[s] - lb[s]) <= 1e-5 * fabs(la[s]), "%s: step %d loss %.6g vs %.6g", what,
                  s + 1, la[s], lb[s]);
    char pa[600], pb[600], err[512];
    snprintf(pa, sizeof pa, "%s/checkpoint.safetensors", a);
    snprintf(pb, sizeof pb, "%s/checkpoint.safetensors", b);
    rin_model *m;
    rin_st_file *fa, *fb;
    if (rin_model_load(&m, pa, err, sizeof err) || rin_st_read(&fa, pa, err, sizeof err) ||
        rin_st_read(&fb, pb, err, sizeof err)) {
        test_fail(__FILE__, __LINE__, "%s", err);
        return;
    }
    size_t nf = rin_model_buffer_floats(m);
    float *x = calloc(nf, sizeof *x), *y = calloc(nf, sizeof *y);
    RIN_ASSERT(x && y);
    const char *prefixes[4] = {"", "ema.", "opt.m.", "opt.v."};
    for (int i = 0; i < 4; i++) {
        CHECK(rin_model_read_tensors(m, x, fa, prefixes[i], pa, err, sizeof err) == 0);
        CHECK(rin_model_read_tensors(m, y, fb, prefixes[i], pb, err, sizeof err) == 0);
        char w[128];
        snprintf(w, sizeof w, "%s: %s", what, i ? prefixes[i] : "weights");
        CHECK_MSG(compare_state(w, x, y, nf), "%s differ", w);
    }
    free(x), free(y);
    rin_st_free(fa), rin_st_free(fb);
    rin_model_free(m);
}

TEST(dist_mpirun_two_ranks_match_one_and_resume_across_rank_counts) {
    if (!mpi_available())
        return;
    test_dir d = test_dir_make("dist");
    if (!d.ok)
        return;
    write_dist_idx(d.path);
    char common[1500], out[65536], one[300], two[300];
    snprintf(common, sizeof common,
             "--preset tiny --set image_channels=1 --set num_classes=4 "
             "--data idx:%s/img.idx,%s/lab.idx --set batch_size=8 --set random_flip=1 "
             "--set drop_units=0.1 --set drop_path=0.2 --set cond_dropout=0.3 "
             "--set clip_norm=1 --set warmup_steps=2 --set log_every=1 --set ckpt_every=3 "
             "--set sample_every=0 --set sample_count=4 --set sample_steps=2",
             d.path, d.path);
    snprintf(one, sizeof one, "%s/one", d.path);
    snprintf(two, sizeof two, "%s/two", d.path);
    /* 32 images, 8 a step: 6 steps cross an epoch boundary, so the shuffle is sharded too */
    int st = shell(out, sizeof out, "%s train --run %s %s --steps 6", dist_cli(), one, common);
    CHECK_MSG(st == 0, "1 rank: status %d\n%s", st, out);
    st = shell(out, sizeof out, "%s -np 2 %s train --run %s %s --steps 6", mpirun_cmd(), dist_cli(),
               two, common);
    CHECK_MSG(st == 0, "2 ranks: status %d\n%s", st, out);
    CHECK_MSG(strstr(out, "batch 8 (2 ranks x 4)") != NULL, "%s", out);
    CHECK_MSG(count_of(out, "rin train: done at step 6") == 1, "rank 0 alone reports:\n%s", out);
    compare_runs("2 ranks x 4 vs 1 x 8, 6 steps", one, two, 6);

    /* resume each with the other rank count: 1 -> 2 ranks and 2 -> 1 rank */
    st = shell(out, sizeof out, "%s -np 2 %s train --resume %s --set total_steps=9", mpirun_cmd(),
               dist_cli(), one);
    CHECK_MSG(st == 0, "resume with 2 ranks: status %d\n%s", st, out);
    st = shell(out, sizeof out, "%s train --resume %s --set total_steps=9", dist_cli(), two);
    CHECK_MSG(st == 0, "resume with 1 rank: status %d\n%s", st, out);
    compare_runs("resumed 1->2 vs 2->1 ranks, 9 steps", one, two, 9);
    test_dir_remove(&d);
}

TEST(dist_mpirun_errors_stop_every_rank) {
    if (!mpi_available())
        return;
    test_dir d = test_dir_make("dist_err");
    if (!d.ok)
        return;
    write_dist_idx(d.path);
    char common[1200], out[65536];
    snprintf(common, sizeof common,
             "--preset tiny --set image_channels=1 --set num_classes=4 --set batch_size=4 "
             "--set sample_every=0 --set sample_count=2 --set sample_steps=1 --set ckpt_every=0 "
             "--set warmup_steps=1");
    /* rank 1 alone cannot read its data: it names the file and takes rank 0 down with it */
    int st = shell(out, sizeof out,
                   "%s -np 2 sh -c 'if [ \"$OMPI_COMM_WORLD_RANK\" = 1 ]; then d=%s/none.idx; "
                   "else d=%s/img.idx; fi; exec %s train --run %s/bad %s "
                   "--data idx:$d,%s/lab.idx --steps 50'",
                   mpirun_cmd(), d.path, d.path, dist_cli(), d.path, common, d.path);
    printf("  one rank's missing file: status %d\n", st);
    CHECK_MSG(st != 0 && st != 124, "status %d (124: a hang)\n%s", st, out);
    CHECK_MSG(strstr(out, "rank 1: ") && strstr(out, "none.idx"), "%s", out);
    /* the loss diverges on every rank at once: rank 0 reports it once, all stop */
    st = shell(out, sizeof out,
               "%s -np 2 %s train --run %s/nan %s --data idx:%s/img.idx,%s/lab.idx --steps 50 "
               "--set b_scale=1000000 --set lr=10 --set warmup_steps=0",
               mpirun_cmd(), dist_cli(), d.path, common, d.path, d.path);
    printf("  non-finite loss: status %d\n", st);
    CHECK_MSG(st != 0 && st != 124, "status %d (124: a hang)\n%s", st, out);
    /* which check trips first (the loss, the forward pass or a gradient) depends on the
     * rounding of the vector paths and the thread count; exactly one report, from rank 0 */
    CHECK_MSG(count_of(out, "; nothing was saved") == 1 &&
                  (strstr(out, "is not finite") || strstr(out, "the loss is NaN") ||
                   strstr(out, "the loss is infinite")),
              "%s", out);
    /* a batch that does not split evenly is refused before anything is written */
    st = shell(out, sizeof out,
               "%s -np 2 %s train --run %s/odd %s --data idx:%s/img.idx,%s/lab.idx "
               "--set batch_size=5 --steps 2",
               mpirun_cmd(), dist_cli(), d.path, common, d.path, d.path);
    CHECK_MSG(st != 0 && st != 124 && strstr(out, "batch_size 5 is not a multiple of the 2 ranks"),
              "status %d\n%s", st, out);
    test_dir_remove(&d);
}
