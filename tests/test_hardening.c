/* test_hardening.c -- bad inputs, impossible configs, resource errors, non-finite training
 * (issue 8; docs/reliability.md).
 *
 * Reader regressions found by fuzzing (fuzz/), the config text parser and validation (each
 * rejection names the key and the constraint), `rin train` under a file-size limit, an address-
 * space limit, an unwritable run directory and a missing dataset package (a clear message, a
 * non-zero exit, nothing half-written), and --check-numerics naming the first op that went
 * non-finite. The CLI runs as a child with its own limits and environment (spawn below).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <time.h>
#include <poll.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "data.h"
#include "imageio.h"
#include "internal.h"
#include "test.h"

/* ---- running the CLI with limits ------------------------------------------------------------ */

typedef struct limits {
    rlim_t fsize;       /* RLIMIT_FSIZE in bytes; 0 = unchanged */
    rlim_t as;          /* RLIMIT_AS in bytes; 0 = unchanged */
    const char *env[4]; /* "NAME=value" entries added to the environment */
} limits;

/* Runs $RIN_CLI (build/rin) with argv[1..] (NULL-terminated), stdout and stderr captured in
 * out; returns the exit status, or 128 + the signal that killed it. */
static int spawn(char *out, size_t cap, const limits *lim, const char *const *argv) {
    const char *cli = getenv("RIN_CLI");
    if (!cli || !*cli)
        cli = "build/rin";
    int fd[2];
    if (pipe(fd))
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fd[1], 1);
        dup2(fd[1], 2);
        close(fd[0]);
        close(fd[1]);
        for (int i = 0; lim && i < 4 && lim->env[i]; i++) {
            char name[64];
            const char *eq = strchr(lim->env[i], '=');
            snprintf(name, sizeof name, "%.*s", (int)(eq - lim->env[i]), lim->env[i]);
            setenv(name, eq + 1, 1);
        }
        setenv("OMP_NUM_THREADS", "1", 1);
        setenv("OPENBLAS_NUM_THREADS", "1", 1);
        if (lim && lim->fsize) {
            struct rlimit r = {lim->fsize, lim->fsize};
            setrlimit(RLIMIT_FSIZE, &r);
        }
        if (lim && lim->as) {
            struct rlimit r = {lim->as, lim->as};
            setrlimit(RLIMIT_AS, &r);
        }
        execv(cli, (char *const *)(uintptr_t)argv);
        _exit(127);
    }
    close(fd[1]);
    size_t n = 0;
    ssize_t r;
    while ((r = read(fd[0], out + n, cap - 1 - n)) > 0 && n + (size_t)r < cap - 1)
        n += (size_t)r;
    if (r > 0)
        n += (size_t)r;
    out[n] = 0;
    close(fd[0]);
    int st = 0;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : WIFSIGNALED(st) ? 128 + WTERMSIG(st) : -1;
}

static int exists(const char *p) {
    return access(p, F_OK) == 0;
}

/* A dataset of 16 8x8 grey images in td, and the --data value for it. */
static void dataset(const test_dir *td, char *data, size_t cap) {
    char img[200], lab[200];
    test_dir_file(img, sizeof img, td, "img.idx");
    test_dir_file(lab, sizeof lab, td, "lab.idx");
    write_idx(img, lab, 16);
    snprintf(data, cap, "idx:%s,%s", img, lab);
}

/* A dataset in td and the paths of a run directory td/run and its checkpoint. */
typedef struct run_paths {
    char data[600], run[256], ck[300];
} run_paths;

static run_paths run_setup(const test_dir *td) {
    run_paths p;
    dataset(td, p.data, sizeof p.data);
    test_dir_file(p.run, sizeof p.run, td, "run");
    snprintf(p.ck, sizeof p.ck, "%s/checkpoint.safetensors", p.run);
    return p;
}

#define TINY_RUN                                                                                   \
    "--preset", "tiny", "--set", "image_channels=1", "--set", "num_classes=4", "--set",            \
        "batch_size=2", "--set", "warmup_steps=1", "--set", "sample_every=0", "--set",             \
        "sample_count=2", "--set", "sample_steps=1"

/* ---- readers: fuzzing regressions ----------------------------------------------------------- */

/* A PNG: signature, IHDR (w x h, 8-bit grey), one IDAT whose header claims idat_len bytes but
 * carries `have`, IEND. CRCs are not checked by the readers and are left zero. */
static size_t make_png(uint8_t *buf, uint32_t w, uint32_t h, uint32_t idat_len, uint32_t have) {
    static const uint8_t sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    size_t n = 0;
    memcpy(buf, sig, 8);
    n = 8;
    uint8_t ihdr[25] = {0, 0, 0, 13, 'I', 'H', 'D', 'R'};
    for (int i = 0; i < 4; i++) {
        ihdr[8 + i] = (uint8_t)(w >> (24 - 8 * i));
        ihdr[12 + i] = (uint8_t)(h >> (24 - 8 * i));
    }
    ihdr[16] = 8; /* depth; colour type 0 (grey) */
    memcpy(buf + n, ihdr, 25);
    n += 25;
    uint8_t idat[8] = {(uint8_t)(idat_len >> 24),
                       (uint8_t)(idat_len >> 16),
                       (uint8_t)(idat_len >> 8),
                       (uint8_t)idat_len,
                       'I',
                       'D',
                       'A',
                       'T'};
    memcpy(buf + n, idat, 8);
    n += 8;
    memset(buf + n, 0x78, have);
    n += have + 4;
    static const uint8_t iend[12] = {0, 0, 0, 0, 'I', 'E', 'N', 'D', 0xae, 0x42, 0x60, 0x82};
    memcpy(buf + n, iend, 12);
    return n + 12;
}

TEST(hardening_png_chunk_length_checked_before_decoding) {
    /* fuzz_png found it: stb_image reallocs a chunk's claimed length before reading it, so 60
     * bytes claiming a 2 GB IDAT cost 2 GB. Both readers now refuse such a file first. */
    test_dir td = test_dir_make("hard_png");
    char p[256], src[300], err[512];
    uint8_t buf[256];
    size_t n = make_png(buf, 4, 4, 0x7ffffff0u, 10);
    int w = 0, h = 0;
    CHECK(rin_png_probe(buf, n, &w, &h) != NULL);
    test_dir_file(p, sizeof p, &td, "claim.png");
    CHECK(test_write_bytes(p, buf, n));
    uint8_t *px = NULL;
    int H, W, C;
    CHECK(rin_png_read(p, &px, &H, &W, &C, err, sizeof err) == RIN_STATUS_FORMAT);
    CHECK_MSG(strstr(err, p) && strstr(err, "runs past the end of the file"), "%s", err);
    printf("  %s\n", err);
    rin_dataset *d = NULL;
    snprintf(src, sizeof src, "png:%s", td.path);
    CHECK(rin_dataset_load(&d, src, 8, 8, 3, err, sizeof err) == RIN_STATUS_FORMAT);
    CHECK_MSG(strstr(err, "runs past the end of the file"), "%s", err);
    /* a well-formed file of the same shape passes the probe with its size */
    uint8_t grey[16] = {0};
    uint8_t *enc;
    size_t len;
    CHECK(rin_png_encode(&enc, &len, grey, 4, 4, 1) == RIN_STATUS_OK);
    CHECK(rin_png_probe(enc, len, &w, &h) == NULL && w == 4 && h == 4);
    /* cut anywhere inside, it fails the probe */
    for (size_t cut = 0; cut < len; cut += 7)
        CHECK_MSG(rin_png_probe(enc, cut, &w, &h) != NULL, "a %zu-byte prefix passed", cut);
    free(enc);
    test_dir_remove(&td);
}

TEST(hardening_png_huge_and_foreign_files_rejected) {
    test_dir td = test_dir_make("hard_png2");
    char p[256], src[300], err[512];
    uint8_t buf[256];
    /* a small file claiming 30000 x 30000: refused before stb allocates 900 MB */
    size_t n = make_png(buf, 30000, 30000, 8, 8);
    test_dir_file(p, sizeof p, &td, "huge.png");
    CHECK(test_write_bytes(p, buf, n));
    uint8_t *px = NULL;
    int H, W, C;
    CHECK(rin_png_read(p, &px, &H, &W, &C, err, sizeof err) == RIN_STATUS_FORMAT);
    CHECK_MSG(strstr(err, "unsupported PNG size 30000 x 30000"), "%s", err);
    rin_dataset *d = NULL;
    snprintf(src, sizeof src, "png:%s", td.path);
    CHECK(rin_dataset_load(&d, src, 8, 8, 3, err, sizeof err) == RIN_STATUS_FORMAT);
    CHECK_MSG(strstr(err, "huge.png") && strstr(err, "64 megapixels"), "%s", err);
    unlink(p);
    /* a binary PPM under a .png name: stb would decode it; the dataset refuses it */
    test_dir_file(p, sizeof p, &td, "fake.png");
    CHECK(test_write_bytes(p, "P5 2 2 255\n\0\0\0\0", 15));
    CHECK(rin_dataset_load(&d, src, 8, 8, 3, err, sizeof err) == RIN_STATUS_FORMAT);
    CHECK_MSG(strstr(err, "fake.png") && strstr(err, "not a PNG file"), "%s", err);
    test_dir_remove(&td);
}

TEST(hardening_cifar_decode) {
    uint8_t rec[2 * 3073];
    for (size_t i = 0; i < sizeof rec; i++)
        rec[i] = (uint8_t)(i * 7);
    rec[0] = 3;
    rec[3073] = 9;
    uint8_t img[2 * 3072];
    int lab[2];
    char err[256];
    CHECK(rin_cifar_decode(img, lab, rec, sizeof rec, "t", err, sizeof err) == RIN_STATUS_OK);
    CHECK(lab[0] == 3 && lab[1] == 9);
    /* NHWC from planar: pixel (r, c) channel ch is byte 1 + ch*1024 + r*32 + c of the record */
    CHECK(img[3072 + (5 * 32 + 6) * 3 + 2] == rec[3073 + 1 + 2048 + 5 * 32 + 6]);
    rec[3073] = 10;
    CHECK(rin_cifar_decode(img, lab, rec, sizeof rec, "t", err, sizeof err) == RIN_STATUS_FORMAT);
    CHECK_MSG(strstr(err, "record 1 has label 10"), "%s", err);
    CHECK(rin_cifar_decode(img, lab, rec, 3072, "t", err, sizeof err) == RIN_STATUS_FORMAT);
    CHECK_MSG(strstr(err, "not a whole number"), "%s", err);
}

/* ---- config text and validation ---------------------------------------------------------------
 */

typedef struct lines {
    int n;
    char key[8][64];
    size_t vlen[8];
    int lineno[8];
} lines;

static rin_status collect(void *user, const char *key, const char *value, int lineno) {
    lines *l = user;
    if (l->n == 8)
        return RIN_STATUS_CONFIG;
    snprintf(l->key[l->n], sizeof l->key[0], "%s", key);
    l->vlen[l->n] = strlen(value);
    l->lineno[l->n] = lineno;
    l->n++;
    return RIN_STATUS_OK;
}

TEST(hardening_config_text_parser) {
    /* a 3000-character value stays one line (the old 1024-byte fgets buffer split it and read
     * its tail as a malformed line), CRLF, comments, blank lines and line numbers */
    size_t cap = 4000;
    char *text = malloc(cap);
    int w = snprintf(text, cap, "# header\r\n  a = 1 # one\r\n\r\nlong = ");
    memset(text + w, 'x', 3000);
    w += 3000;
    w += snprintf(text + w, cap - (size_t)w, "\nb\t=\t2\n");
    lines l = {0};
    char err[256];
    CHECK(rin_config_parse_text(text, (size_t)w, "t.conf", collect, &l, err, sizeof err) ==
          RIN_STATUS_OK);
    CHECK(l.n == 3);
    CHECK(!strcmp(l.key[0], "a") && l.lineno[0] == 2 && l.vlen[0] == 1);
    CHECK(!strcmp(l.key[1], "long") && l.lineno[1] == 4 && l.vlen[1] == 3000);
    CHECK(!strcmp(l.key[2], "b") && l.lineno[2] == 5);
    free(text);
    const char *bad[] = {"a = 1\nb 2\n", "a = 1\n= 2\n", "a = 1\nb = \0 x\n"};
    const size_t blen[] = {10, 10, 13};
    const char *want[] = {"t.conf:2: expected 'key = value', got 'b 2'",
                          "t.conf:2: expected 'key = value'", "t.conf:2: the line holds a NUL"};
    for (int i = 0; i < 3; i++) {
        lines m = {0};
        CHECK(rin_config_parse_text(bad[i], blen[i], "t.conf", collect, &m, err, sizeof err) ==
              RIN_STATUS_CONFIG);
        CHECK_MSG(strstr(err, want[i]), "case %d: %s", i, err);
    }
}

TEST(hardening_train_config_validation_names_key_and_constraint) {
    /* the training keys (the model keys' table is config_rejects_impossible in test_model.c):
     * rin_train_config_set or rin_train_config_validate fails naming key and constraint */
    char err[256];
    static const struct {
        const char *key, *value, *msg;
    } tcases[] = {
        {"eps", "0", "eps: 0 is out of range (0, 1]"},
        {"self_cond_rate", "1.5", "self_cond_rate: 1.5 is out of range [0, 1]"},
        {"cond_dropout", "1", "cond_dropout: 1 is out of range"},
        {"lr", "-1", "lr: -1 is out of range"},
        {"beta2", "1", "beta2: 1 is out of range"},
        {"warmup_steps", "200000", "warmup_steps: 200000 is more than total_steps 150000"},
        {"train_schedule", "sigmoid@3,-3,1", "train_schedule: schedule 'sigmoid@3,-3,1'"},
        {"lr_schedule", "linear", "lr_schedule: 'linear' is not supported"},
        {"batch_size", "0", "batch_size: 0 is out of range [1, 65536]"},
        /* fuzz_config found these: a flat schedule made gamma 0/0 = NaN */
        {"train_schedule", "sigmoid@-6,6,1e43", "train_schedule: schedule 'sigmoid@-6,6,1e43'"},
        {"train_schedule", "sigmoid@-1e308,1e308,1", "must be finite and tau small enough"},
        {"train_schedule", "cosine@0.5,1,6215",
         "train_schedule: schedule 'cosine@0.5,1,6215': tau "
         "is too large"},
    };
    for (size_t i = 0; i < sizeof tcases / sizeof tcases[0]; i++) {
        rin_train_config t;
        rin_train_config_default(&t);
        err[0] = 0;
        rin_status s = rin_train_config_set(&t, tcases[i].key, tcases[i].value, err, sizeof err);
        if (s == RIN_STATUS_OK)
            s = rin_train_config_validate(&t, err, sizeof err);
        CHECK_MSG(s == RIN_STATUS_CONFIG && strstr(err, tcases[i].msg), "%s=%s: %s", tcases[i].key,
                  tcases[i].value, err);
    }
}

TEST(cli_hardening_bad_config_rejected_before_any_work) {
    test_dir td = test_dir_make("hard_cfg");
    char out[16384], data[600], conf[256], run[256];
    dataset(&td, data, sizeof data);
    test_dir_file(conf, sizeof conf, &td, "bad.conf");
    test_dir_file(run, sizeof run, &td, "run");
    const char *text = "# model\nlatent_num_heads = 4\nlatent_num_heads = 3\n";
    CHECK(test_write_bytes(conf, text, strlen(text)));
    const char *argv[] = {"rin", "train",  "--run",    run,  "--data",
                          data,  TINY_RUN, "--config", conf, NULL};
    CHECK(spawn(out, sizeof out, NULL, argv) == 1);
    CHECK_MSG(strstr(out, "latent_num_heads: 3 does not divide latent_dim 32"), "%s", out);
    CHECK(!exists(run));
    text = "tape_dim = 32\nlearning_rate = 0.1\n";
    CHECK(test_write_bytes(conf, text, strlen(text)));
    CHECK(spawn(out, sizeof out, NULL, argv) == 1);
    CHECK_MSG(strstr(out, "bad.conf:2: unknown key 'learning_rate'"), "%s", out);
    CHECK(!exists(run));
    test_dir_remove(&td);
}

/* ---- resource errors ------------------------------------------------------------------------ */

/* Files of dir whose name contains ".tmp." (temporaries of the atomic writers). */
static int temporaries(const char *dir) {
    DIR *dp = opendir(dir);
    int n = 0;
    struct dirent *e;
    while (dp && (e = readdir(dp)) != NULL)
        n += strstr(e->d_name, ".tmp.") != NULL;
    if (dp)
        closedir(dp);
    return n;
}

TEST(cli_resource_full_disk_keeps_the_last_checkpoint) {
    /* RLIMIT_FSIZE (ulimit -f) stands in for a full disk: a write past it fails with EFBIG, as
     * one on a full disk fails with ENOSPC, through the same code */
    test_dir td = test_dir_make("hard_full");
    run_paths rp = run_setup(&td);
    const char *data = rp.data, *run = rp.run, *ck = rp.ck;
    char out[16384], mo[300];
    snprintf(mo, sizeof mo, "%s/model.safetensors", run);
    /* a fresh run whose first checkpoint (870 KB) does not fit in 300 KB */
    const char *argv[] = {"rin", "train",  "--run",   run, "--data",
                          data,  TINY_RUN, "--steps", "2", NULL};
    limits lim = {.fsize = 300000};
    int st = spawn(out, sizeof out, &lim, argv);
    printf("  fresh run, 300 KB limit: exit %d: %s", st, out);
    CHECK(st == 1);
    CHECK_MSG(strstr(out, "checkpoint.safetensors") && strstr(out, "File too large"), "%s", out);
    CHECK(!exists(ck) && !exists(mo));
    CHECK(temporaries(run) == 0);
    /* a run with a good checkpoint at step 2: resuming to 4 under the limit fails at the save
     * and leaves the step-2 checkpoint intact */
    test_tree_remove(run);
    CHECK(spawn(out, sizeof out, NULL, argv) == 0);
    rin_model *m = NULL;
    char err[512];
    CHECK(rin_model_load(&m, ck, err, sizeof err) == RIN_STATUS_OK);
    rin_model_free(m);
    struct stat before, after;
    CHECK(stat(ck, &before) == 0);
    const char *resume[] = {"rin", "train", "--resume", run, "--set", "total_steps=4", NULL};
    st = spawn(out, sizeof out, &lim, resume);
    CHECK(st == 1);
    CHECK_MSG(strstr(out, "File too large"), "%s", out);
    CHECK(stat(ck, &after) == 0);
    CHECK(before.st_ino == after.st_ino && before.st_size == after.st_size);
    rin_st_file *f = NULL;
    CHECK(rin_st_read(&f, ck, err, sizeof err) == RIN_STATUS_OK);
    CHECK(f && !strcmp(rin_st_meta(f, "step"), "2"));
    rin_st_free(f);
    CHECK(temporaries(run) == 0);
    /* and with room again it continues */
    CHECK(spawn(out, sizeof out, NULL, resume) == 0);
    CHECK_MSG(strstr(out, "done at step 4"), "%s", out);
    test_dir_remove(&td);
}

TEST(cli_resource_unwritable_run_directory) {
    test_dir td = test_dir_make("hard_ro");
    char out[16384], data[600], run[300], file[256];
    dataset(&td, data, sizeof data);
    /* under a regular file: cannot be created, whoever runs the test */
    test_dir_file(file, sizeof file, &td, "plain");
    CHECK(test_write_bytes(file, "x", 1));
    snprintf(run, sizeof run, "%s/run", file);
    const char *argv[] = {"rin", "train",  "--run",   run, "--data",
                          data,  TINY_RUN, "--steps", "1", NULL};
    CHECK(spawn(out, sizeof out, NULL, argv) == 1);
    CHECK_MSG(strstr(out, run) && strstr(out, "cannot create the run directory"), "%s", out);
    /* a read-only directory (root ignores permissions, so only as another user) */
    if (geteuid() != 0) {
        test_dir_file(run, sizeof run, &td, "ro");
        CHECK(mkdir(run, 0500) == 0);
        CHECK(spawn(out, sizeof out, NULL, argv) == 1);
        CHECK_MSG(strstr(out, "not writable"), "%s", out);
        CHECK(test_dir_count(&td, NULL) == 4);
    } else {
        printf("  running as root: the read-only directory case is covered by the full-disk "
               "test's write failures\n");
    }
    test_dir_remove(&td);
}

TEST(cli_resource_missing_dataset_package) {
    test_dir td = test_dir_make("hard_pkg");
    char out[16384], run[256], env[300];
    test_dir_file(run, sizeof run, &td, "run");
    snprintf(env, sizeof env, "RIN_FMNIST_DIR=%s", td.path); /* an empty folder */
    limits lim = {.env = {env}};
    const char *argv[] = {"rin",    "train",          "--run",  run,       "--preset",
                          "fmnist", "--data",         "fmnist", "--steps", "1",
                          "--set",  "warmup_steps=0", NULL};
    CHECK(spawn(out, sizeof out, &lim, argv) == 1);
    CHECK_MSG(strstr(out, "apt-get install dataset-fashion-mnist"), "%s", out);
    CHECK(!exists(run));
    test_dir_remove(&td);
}

/* Whether this program (and so the CLI, built with the same flags) runs under ASan or TSan,
 * whose shadow memory cannot live in a 2 GB address space. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define UNDER_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define UNDER_SANITIZER 1
#endif
#endif

TEST(cli_resource_out_of_memory) {
    /* a 2 GB address space and a batch whose activations need about 6.6 GB. Under a sanitizer
     * the limit is the sanitizer's own: allocations over 2 GB return NULL, as they would from
     * malloc under the rlimit. */
    test_dir td = test_dir_make("hard_oom");
    char out[16384], data[600], run[256];
    dataset(&td, data, sizeof data);
    test_dir_file(run, sizeof run, &td, "run");
    const char *argv[] = {
        "rin",     "train", "--run", run, "--data", data, TINY_RUN, "--set", "batch_size=65536",
        "--steps", "1",     NULL};
#ifdef UNDER_SANITIZER
    char asan[512], tsan[512];
    const char *a0 = getenv("ASAN_OPTIONS"), *t0 = getenv("TSAN_OPTIONS");
    snprintf(asan, sizeof asan,
             "ASAN_OPTIONS=%s%sallocator_may_return_null=1:"
             "max_allocation_size_mb=2048",
             a0 ? a0 : "", a0 && *a0 ? ":" : "");
    snprintf(tsan, sizeof tsan,
             "TSAN_OPTIONS=%s%sallocator_may_return_null=1 "
             "max_allocation_size_mb=2048",
             t0 ? t0 : "", t0 && *t0 ? " " : "");
    limits lim = {.env = {asan, tsan}};
#else
    limits lim = {.as = (rlim_t)2 << 30};
#endif
    int st = spawn(out, sizeof out, &lim, argv);
    printf("  exit %d: %s", st, out);
    CHECK(st == 1);
    CHECK_MSG(strstr(out, "out of memory"), "%s", out);
    CHECK(!exists(run));
    test_dir_remove(&td);
}

/* ---- non-finite training -------------------------------------------------------------------- */

/* The tiny model with row 0 of blocks.0.process.0.mlp_w1 set to 3e38: that linear's output
 * overflows to infinity in the first step. */
static rin_model *poisoned_model(void) {
    rin_config c;
    rin_config_preset(&c, "tiny", NULL, 0);
    rin_model *m;
    RIN_ASSERT(rin_model_create(&m, &c, NULL, 0) == RIN_STATUS_OK);
    rin_model_init_params(m, 5);
    const rin_tensor_info *t = rin_model_find_tensor(m, "blocks.0.process.0.mlp_w1");
    RIN_ASSERT(t);
    for (int k = 0; k < t->shape[1]; k++)
        rin_model_params(m)[t->offset + (size_t)k] = 3e38f;
    return m;
}

TEST(train_check_numerics_names_the_op) {
    rin_model *m = poisoned_model();
    rin_train_config tc;
    rin_train_config_default(&tc);
    tc.batch_size = 2;
    tc.warmup_steps = 1;
    float x0[2 * 192];
    test_fill_uniform(x0, 2 * 192, 4, -1, 1);
    int labels[2] = {1, 2};
    size_t nf = rin_model_buffer_floats(m);
    float *before = malloc(nf * sizeof(float));
    memcpy(before, rin_model_params(m), nf * sizeof(float));
    for (int on = 0; on < 2; on++) {
        rin_trainer *tr;
        RIN_ASSERT(rin_trainer_create(&tr, m, &tc, NULL, 0) == RIN_STATUS_OK);
        rin_trainer_set_check_numerics(tr, on);
        CHECK(rin_trainer_step(tr, x0, labels, NULL) == RIN_STATUS_NONFINITE);
        const char *e = rin_trainer_last_error(tr);
        printf("  check_numerics=%d: %s\n", on, e);
        CHECK_MSG(!strncmp(e, "step 1: ", 8), "%s", e);
        if (on) /* the first pass sees it first, and is repeated to name the op */
            CHECK_MSG(strstr(e, "the self-conditioning pass is not finite") &&
                          strstr(e, "linear blocks.0.process.0.mlp_w1"),
                      "%s", e);
        else
            CHECK_MSG(strstr(e, "loss"), "%s", e);
        CHECK(!memcmp(before, rin_model_params(m), nf * sizeof(float)));
        CHECK(rin_trainer_step_count(tr) == 0);
        rin_trainer_free(tr);
    }
    /* a training context names the op and the tensor */
    rin_ctx *ctx;
    RIN_ASSERT(rin_ctx_create(&ctx, m, 2, RIN_CTX_TRAIN, NULL, 0) == RIN_STATUS_OK);
    float gamma[2] = {0.5f, 0.9f}, pred[2 * 192];
    rin_batch in = {.B = 2, .x_t = x0, .gamma = gamma, .labels = labels};
    CHECK(rin_forward(ctx, &in, pred, NULL) == RIN_STATUS_OK); /* off: no scan */
    rin_ctx_set_check_numerics(ctx, 1);
    CHECK(rin_forward(ctx, &in, pred, NULL) == RIN_STATUS_NONFINITE);
    const char *e = rin_ctx_last_error(ctx);
    printf("  %s\n", e);
    CHECK_MSG(strstr(e, "blocks.0.process.0.mlp.h") &&
                  strstr(e, "linear blocks.0.process.0.mlp_w1"),
              "%s", e);
    rin_ctx_free(ctx);
    free(before);
    rin_model_free(m);
}

TEST(train_check_numerics_backward) {
    /* a NaN in the output gradient: the first parameter gradient it reaches is the readout's */
    rin_config c;
    rin_config_preset(&c, "tiny", NULL, 0);
    rin_model *m;
    RIN_ASSERT(rin_model_create(&m, &c, NULL, 0) == RIN_STATUS_OK);
    rin_model_init_params(m, 6);
    rin_ctx *ctx;
    RIN_ASSERT(rin_ctx_create(&ctx, m, 1, RIN_CTX_TRAIN, NULL, 0) == RIN_STATUS_OK);
    rin_ctx_set_check_numerics(ctx, 1);
    float x[192], dpred[192], pred[192], gamma = 0.5f;
    int label = 3;
    test_fill_uniform(x, 192, 8, -1, 1);
    rin_batch in = {.B = 1, .x_t = x, .gamma = &gamma, .labels = &label};
    CHECK(rin_forward(ctx, &in, pred, NULL) == RIN_STATUS_OK);
    CHECK(rin_ctx_last_error(ctx)[0] == 0);
    test_fill_uniform(dpred, 192, 9, -1, 1);
    rin_ctx_zero_grad(ctx);
    CHECK(rin_backward(ctx, dpred, NULL, NULL, NULL) == RIN_STATUS_OK);
    dpred[100] = NAN;
    rin_ctx_zero_grad(ctx);
    CHECK(rin_backward(ctx, dpred, NULL, NULL, NULL) == RIN_STATUS_NONFINITE);
    const char *e = rin_ctx_last_error(ctx);
    printf("  %s\n", e);
    CHECK_MSG(strstr(e, "backward: first non-finite tensor is the gradient of out_"), "%s", e);
    rin_ctx_free(ctx);
    rin_model_free(m);
}

TEST(cli_train_nonfinite_names_step_and_keeps_checkpoint) {
    test_dir td = test_dir_make("hard_nan");
    run_paths rp = run_setup(&td);
    const char *data = rp.data, *run = rp.run, *ck = rp.ck;
    char out[16384], err[512];
    const char *argv[] = {"rin",    "train", "--run",          run,       "--data", data,
                          TINY_RUN, "--set", "self_cond=none", "--steps", "2",      NULL};
    CHECK(spawn(out, sizeof out, NULL, argv) == 0);
    /* poison the checkpoint's blocks.0.process.0.mlp_w1 row 0 (the bad state a diverging run
     * would reach), then resume: step 3 overflows */
    rin_st_file *f = NULL;
    RIN_ASSERT(rin_st_read(&f, ck, err, sizeof err) == RIN_STATUS_OK);
    rin_st_writer *w = rin_st_writer_new();
    for (int i = 0; i < f->nmeta; i++)
        rin_st_writer_meta(w, f->meta_keys[i], f->meta_values[i]);
    for (int i = 0; i < f->ntensors; i++) {
        rin_st_tensor *t = &f->tensors[i];
        if (!strcmp(t->name, "blocks.0.process.0.mlp_w1"))
            for (int64_t k = 0; k < t->shape[1]; k++)
                ((float *)(f->data + t->offset))[k] = 3e38f;
        rin_st_writer_add(w, t->name, t->dtype, t->ndim, t->shape, f->data + t->offset);
    }
    CHECK(rin_st_writer_save(w, ck, err, sizeof err) == RIN_STATUS_OK);
    rin_st_writer_free(w);
    rin_st_free(f);
    struct stat before, after;
    CHECK(stat(ck, &before) == 0);
    const char *resume[] = {"rin", "train", "--resume", run, "--set", "total_steps=5", NULL};
    CHECK(spawn(out, sizeof out, NULL, resume) == 1);
    printf("  %s", out);
    CHECK_MSG(strstr(out, "step 3: the loss is") && strstr(out, "--check-numerics names"), "%s",
              out);
    const char *resume_checked[] = {"rin",   "train",         "--resume",         run,
                                    "--set", "total_steps=5", "--check-numerics", NULL};
    CHECK(spawn(out, sizeof out, NULL, resume_checked) == 1);
    printf("  %s", out);
    CHECK_MSG(strstr(out, "step 3: the forward pass is not finite") &&
                  strstr(out, "blocks.0.process.0.mlp.h") &&
                  strstr(out, "linear blocks.0.process.0.mlp_w1"),
              "%s", out);
    /* nothing was saved over the last checkpoint */
    CHECK(stat(ck, &after) == 0);
    CHECK(before.st_ino == after.st_ino && before.st_mtime == after.st_mtime);
    test_dir_remove(&td);
}

/* ---- SIGKILL at random moments ----------------------------------------------------------------
 */

/* Starts `rin argv...` with output discarded; returns its pid. */
static pid_t start(const char *const *argv) {
    const char *cli = getenv("RIN_CLI");
    if (!cli || !*cli)
        cli = "build/rin";
    pid_t pid = fork();
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        dup2(null, 1);
        dup2(null, 2);
        setenv("OMP_NUM_THREADS", "1", 1);
        setenv("OPENBLAS_NUM_THREADS", "1", 1);
        execv(cli, (char *const *)(uintptr_t)argv);
        _exit(127);
    }
    return pid;
}

/* Waits (up to 20 s) until the k-th file whose name starts with `prefix` is created in the
 * watched directory; 1 if it was. */
static int wait_created(int ifd, const char *prefix, int k) {
    char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
    int seen = 0;
    double t0 = rin_time_seconds();
    while (seen < k && rin_time_seconds() - t0 < 20) {
        struct pollfd p = {ifd, POLLIN, 0};
        if (poll(&p, 1, 100) <= 0)
            continue;
        ssize_t n = read(ifd, buf, sizeof buf);
        for (ssize_t off = 0; off < n;) {
            const struct inotify_event *ev = (const struct inotify_event *)(buf + off);
            if (ev->len && !strncmp(ev->name, prefix, strlen(prefix)))
                seen++;
            off += (ssize_t)(sizeof *ev + ev->len);
        }
    }
    return seen >= k;
}

/* What a kill left: each file under a checkpoint's name loads completely; returns the step of
 * checkpoint.safetensors (-1 if there is none yet) and counts leftover temporaries. */
static long check_after_kill(const char *run, int *temps) {
    char ck[300], mo[300], err[512];
    snprintf(ck, sizeof ck, "%s/checkpoint.safetensors", run);
    snprintf(mo, sizeof mo, "%s/model.safetensors", run);
    long step = -1;
    if (exists(ck)) {
        rin_model *m = NULL;
        rin_st_file *f = NULL;
        CHECK_MSG(rin_model_load(&m, ck, err, sizeof err) == RIN_STATUS_OK, "%s", err);
        CHECK_MSG(rin_st_read(&f, ck, err, sizeof err) == RIN_STATUS_OK, "%s", err);
        if (f && rin_st_meta(f, "step"))
            step = atol(rin_st_meta(f, "step"));
        rin_st_free(f);
        rin_model_free(m);
    }
    if (exists(mo)) {
        rin_model *m = NULL;
        CHECK_MSG(rin_model_load_weights(&m, mo, "ema", err, sizeof err) == RIN_STATUS_OK, "%s",
                  err);
        rin_model_free(m);
    }
    *temps = temporaries(run);
    return step;
}

TEST(cli_train_sigkill_trials) {
    /* 24 runs of `rin train` checkpointing every step, each killed with SIGKILL: half at a
     * random time, half the moment a checkpoint's (or the export's) temporary file appears,
     * i.e. during the write. After each kill whatever is under a checkpoint's name loads, and
     * the next trial resumes from it; the step never goes back. At the end a resume finishes. */
    enum { TRIALS = 24 };
    test_dir td = test_dir_make("hard_kill");
    char data[600], run[256], out[16384], dset[700];
    dataset(&td, data, sizeof data);
    snprintf(dset, sizeof dset, "data=%s", data);
    test_dir_file(run, sizeof run, &td, "run");
    CHECK(mkdir(run, 0755) == 0);
    int ifd = inotify_init1(IN_NONBLOCK);
    CHECK(ifd >= 0 && inotify_add_watch(ifd, run, IN_CREATE) >= 0);
    const char *fresh[] = {"rin",    "train", "--run",        run,     TINY_RUN,      "--set",
                           dset,     "--set", "ckpt_every=1", "--set", "log_every=1", "--steps",
                           "100000", NULL};
    const char *resume[] = {"rin", "train", "--resume", run, NULL};
    rin_rng rng;
    rin_rng_seed(&rng, 2024);
    long last = -1;
    int mid_write = 0, no_ckpt = 0, temps = 0;
    for (int trial = 0; trial < TRIALS; trial++) {
        char drain[4096];
        while (read(ifd, drain, sizeof drain) > 0) {
        }
        pid_t pid = start(last < 0 ? fresh : resume);
        CHECK(pid > 0);
        if (trial % 2 == 0) {
            struct timespec ts = {0, (long)(1e6 * (20 + 280 * rin_rng_uniform(&rng)))};
            nanosleep(&ts, NULL);
        } else {
            const char *which =
                trial % 4 == 1 ? "checkpoint.safetensors.tmp." : "model.safetensors.tmp.";
            wait_created(ifd, which, 1 + (int)(4 * rin_rng_uniform(&rng)));
        }
        kill(pid, SIGKILL);
        int st = 0;
        waitpid(pid, &st, 0);
        CHECK_MSG(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, "trial %d: the run ended by itself",
                  trial);
        long step = check_after_kill(run, &temps);
        mid_write += temps > 0;
        no_ckpt += step < 0;
        CHECK_MSG(step >= last, "trial %d: checkpoint step went back from %ld to %ld", trial, last,
                  step);
        if (step > last)
            last = step;
    }
    close(ifd);
    printf("  %d SIGKILL trials: %d left a temporary file (killed mid-write), %d before the first "
           "checkpoint; checkpoint at step %ld\n",
           TRIALS, mid_write, no_ckpt, last);
    CHECK(mid_write >= 1);
    CHECK(last > 0);
    /* a final resume removes the temporaries and finishes */
    char total[64];
    snprintf(total, sizeof total, "total_steps=%ld", last + 2);
    const char *finish[] = {"rin", "train", "--resume", run, "--set", total, NULL};
    CHECK(spawn(out, sizeof out, NULL, finish) == 0);
    char want[64];
    snprintf(want, sizeof want, "done at step %ld", last + 2);
    CHECK_MSG(strstr(out, want), "%s", out);
    CHECK(temporaries(run) == 0);
    test_dir_remove(&td);
}
