/* test_data.c -- T6 tests of the dataset readers and the batcher (src/data/data.c, data.h).
 *
 * Fashion-MNIST from Debian's dataset-fashion-mnist (skipped when absent): counts, class balance,
 * mean pixel (shared/spec/evaluation.md 1.1), checksum verification on an altered copy and the
 * missing-package message. IDX, CIFAR-10 and PNG readers on files written here: round trips and
 * rejection of corrupt files, each case checking the status and a distinctive part of the message
 * (always including the file name). The batcher: determinism by seed, permutations, exact resume
 * from (epoch, pos), flips, and the exact x0 values. Every test works in its own directory from
 * mkdtemp under /tmp and removes it.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <stb_image_write.h>
#include <zlib.h>

#include "data.h"
#include "internal.h"
#include "test.h"

/* ---- helpers --------------------------------------------------------------------------------- */

static int write_gz(const char *path, const void *buf, size_t n) {
    gzFile f = gzopen(path, "wb1");
    if (!f)
        return 0;
    int ok = n == 0 || gzwrite(f, buf, (unsigned)n) == (int)n;
    return (gzclose(f) == Z_OK) && ok;
}

/* Whole file, decompressed when gz. NULL on failure. */
static uint8_t *read_all(const char *path, int gz, size_t *n) {
    gzFile f = gz ? gzopen(path, "rb") : NULL;
    FILE *fp = gz ? NULL : fopen(path, "rb");
    if (!f && !fp)
        return NULL;
    uint8_t *buf = NULL;
    size_t cap = 0, len = 0;
    int bad = 0;
    for (;;) {
        if (len == cap) {
            cap = cap ? 2 * cap : 1 << 16;
            uint8_t *b = realloc(buf, cap);
            if (!b) {
                bad = 1;
                break;
            }
            buf = b;
        }
        size_t got;
        if (gz) {
            int r = gzread(f, buf + len, (unsigned)(cap - len));
            bad = r < 0;
            got = r > 0 ? (size_t)r : 0;
        } else {
            got = fread(buf + len, 1, cap - len, fp);
        }
        len += got;
        if (got == 0 || bad)
            break;
    }
    if (gz)
        gzclose(f);
    else
        fclose(fp);
    if (bad) {
        free(buf);
        return NULL;
    }
    *n = len;
    return buf;
}

static void put_be32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* Loads source, expecting status `want` and every string of subs (NULL-terminated) in the
 * message; the output pointer must stay NULL. */
static void expect_load_fail(const char *file, int line, const char *source, int H, int W, int C,
                             rin_status want, const char *const *subs) {
    char err[1024] = "";
    rin_dataset *d = (rin_dataset *)(uintptr_t)1;
    rin_status s = rin_dataset_load(&d, source, H, W, C, err, sizeof err);
    if (s != want)
        test_fail(file, line, "%s: status %d (%s), expected %d (%s); message: %s", source, (int)s,
                  rin_status_str(s), (int)want, rin_status_str(want), err);
    if (s == RIN_STATUS_OK) {
        rin_dataset_free(d);
        return;
    }
    if (d != NULL)
        test_fail(file, line, "%s: *out not NULL after an error", source);
    for (; *subs; subs++)
        if (!strstr(err, *subs))
            test_fail(file, line, "%s: message \"%s\" lacks \"%s\"", source, err, *subs);
}
#define EXPECT_LOAD_FAIL(src, H, W, C, want, ...)                                                  \
    expect_load_fail(__FILE__, __LINE__, (src), (H), (W), (C), (want),                             \
                     (const char *const[]){__VA_ARGS__, NULL})

/* Loads source and reports the error if any; NULL on failure. */
static rin_dataset *load_ok(const char *file, int line, const char *source, int H, int W, int C) {
    char err[1024] = "";
    rin_dataset *d = NULL;
    rin_status s = rin_dataset_load(&d, source, H, W, C, err, sizeof err);
    if (s != RIN_STATUS_OK || !d) {
        test_fail(file, line, "%s: %s: %s", source, rin_status_str(s), err);
        return NULL;
    }
    return d;
}
#define LOAD_OK(src, H, W, C) load_ok(__FILE__, __LINE__, (src), (H), (W), (C))

/* ---- SHA-256 --------------------------------------------------------------------------------- */

TEST(data_sha256_known) {
    char h[65];
    rin_sha256_hex("", 0, h);
    CHECK(!strcmp(h, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));
    rin_sha256_hex("abc", 3, h);
    CHECK(!strcmp(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
    const char *m = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    rin_sha256_hex(m, strlen(m), h);
    CHECK(!strcmp(h, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"));
}

/* ---- Fashion-MNIST (Debian package) ---------------------------------------------------------- */

static const char *const fmnist_names[4] = {
    "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz"};

/* The package folder ($RIN_FMNIST_DIR or Debian's), or NULL (test skipped) without all four. */
static const char *fmnist_dir_or_skip(void) {
    const char *dir = getenv("RIN_FMNIST_DIR");
    if (!dir || !*dir)
        dir = "/usr/share/datasets/fashion-mnist";
    for (int i = 0; i < 4; i++) {
        char p[1024];
        snprintf(p, sizeof p, "%s/%s", dir, fmnist_names[i]);
        if (access(p, R_OK) != 0) {
            test_skip("Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)");
            return NULL;
        }
    }
    return dir;
}

/* Class counts must all equal per_class; returns the mean pixel / 255. */
static double fmnist_stats(const rin_dataset *d, int per_class) {
    int count[10] = {0};
    for (int i = 0; i < d->n; i++) {
        CHECK(d->labels[i] >= 0 && d->labels[i] < 10);
        if (d->labels[i] >= 0 && d->labels[i] < 10)
            count[d->labels[i]]++;
    }
    for (int k = 0; k < 10; k++)
        CHECK_MSG(count[k] == per_class, "class %d: %d images, expected %d", k, count[k],
                  per_class);
    size_t total = (size_t)d->n * d->H * d->W * d->C;
    uint64_t sum = 0;
    for (size_t i = 0; i < total; i++)
        sum += d->images[i];
    return (double)sum / (double)total / 255.0;
}

TEST(data_fmnist_train) {
    if (!fmnist_dir_or_skip())
        return;
    double t0 = rin_time_seconds();
    rin_dataset *d = LOAD_OK("fmnist", 0, 0, 0);
    double t1 = rin_time_seconds();
    if (!d)
        return;
    printf("    fmnist:train loaded and verified in %.2f s\n", t1 - t0);
    CHECK(d->n == 60000 && d->H == 28 && d->W == 28 && d->C == 1);
    CHECK(d->num_classes == 10 && d->labels != NULL);
    CHECK(!strcmp(d->name, "fmnist"));
    double mean = fmnist_stats(d, 6000);
    CHECK_MSG(fabs(mean - 0.2860) < 0.00005, "mean pixel %.6f, expected 0.2860", mean);
    rin_dataset_free(d);
}

TEST(data_fmnist_test) {
    if (!fmnist_dir_or_skip())
        return;
    rin_dataset *d = LOAD_OK("fmnist:test", 28, 28, 1);
    if (!d)
        return;
    CHECK(d->n == 10000 && d->H == 28 && d->W == 28 && d->C == 1 && d->num_classes == 10);
    double mean = fmnist_stats(d, 1000);
    CHECK_MSG(fabs(mean - 0.2868) < 0.00005, "mean pixel %.6f, expected 0.2868", mean);
    rin_dataset_free(d);
    EXPECT_LOAD_FAIL("fmnist:test", 32, 32, 3, RIN_STATUS_FORMAT,
                     "dataset fmnist:test has 28x28x1 images but the model expects 32x32x3");
    EXPECT_LOAD_FAIL("fmnist:val", 0, 0, 0, RIN_STATUS_ARG, "fmnist:val");
}

/* The checks of data_fmnist_checksum on copies in td (RIN_FMNIST_DIR is restored by the caller):
 * img is the t10k images .gz as is, lab the decompressed t10k labels. */
static void fmnist_corrupt_copy(const test_dir *td, const uint8_t *img, size_t nimg, uint8_t *lab,
                                size_t nlab) {
    char path[1024];
    test_dir_file(path, sizeof path, td, fmnist_names[2]);
    CHECK(test_write_bytes(path, img, nimg));
    test_dir_file(path, sizeof path, td, fmnist_names[3]);
    CHECK(write_gz(path, lab, nlab));

    setenv("RIN_FMNIST_DIR", td->path, 1);
    rin_dataset *d = LOAD_OK("fmnist:test", 28, 28, 1);
    CHECK(d && d->n == 10000);
    rin_dataset_free(d);

    lab[8 + 5] = (uint8_t)((lab[8 + 5] + 1) % 10);
    char bad_hash[65];
    rin_sha256_hex(lab, nlab, bad_hash);
    CHECK(write_gz(path, lab, nlab));
    EXPECT_LOAD_FAIL("fmnist:test", 28, 28, 1, RIN_STATUS_FORMAT, path, "checksum",
                     "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34", bad_hash);

    /* a folder without the files: the message names the file and the package */
    char empty[1024];
    test_dir_file(empty, sizeof empty, td, "empty");
    CHECK(mkdir(empty, 0700) == 0);
    setenv("RIN_FMNIST_DIR", empty, 1);
    EXPECT_LOAD_FAIL("fmnist", 0, 0, 0, RIN_STATUS_IO, "train-labels-idx1-ubyte.gz",
                     "apt-get install dataset-fashion-mnist");
}

/* RIN_FMNIST_DIR on a copy: the unaltered copy loads, one altered label byte (still a valid
 * label, re-gzipped) fails the checksum naming the file and both hashes; an empty folder gives
 * the install hint. */
TEST(data_fmnist_checksum) {
    const char *src = fmnist_dir_or_skip();
    if (!src)
        return;
    test_dir td = test_dir_make("data");
    if (!td.ok)
        return;
    const char *old = getenv("RIN_FMNIST_DIR");
    char *saved = old ? strdup(old) : NULL;
    char from[1024];
    uint8_t *img = NULL, *lab = NULL;
    size_t nimg = 0, nlab = 0;
    snprintf(from, sizeof from, "%s/%s", src, fmnist_names[2]);
    img = read_all(from, 0, &nimg); /* the .gz bytes, copied as they are */
    snprintf(from, sizeof from, "%s/%s", src, fmnist_names[3]);
    lab = read_all(from, 1, &nlab); /* decompressed */
    CHECK(img && lab && nlab == 10008);
    if (img && lab && nlab == 10008)
        fmnist_corrupt_copy(&td, img, nimg, lab, nlab);
    if (saved) {
        setenv("RIN_FMNIST_DIR", saved, 1);
        free(saved);
    } else {
        unsetenv("RIN_FMNIST_DIR");
    }
    free(img);
    free(lab);
    test_dir_remove(&td);
}

/* ---- IDX ------------------------------------------------------------------------------------- */

enum { IDX_N = 7, IDX_R = 5, IDX_C = 4, IDX_IMG_BYTES = 16 + IDX_N * IDX_R * IDX_C };

static uint8_t idx_pixel(int i, int r, int c) {
    return (uint8_t)((i * 31 + r * 7 + c * 50) % 256);
}

/* An IDX image file of n images of IDX_R x IDX_C with the given magic. */
static void idx_images(uint8_t *buf, uint32_t magic, int n) {
    put_be32(buf, magic);
    put_be32(buf + 4, (uint32_t)n);
    put_be32(buf + 8, IDX_R);
    put_be32(buf + 12, IDX_C);
    for (int i = 0; i < n; i++)
        for (int r = 0; r < IDX_R; r++)
            for (int c = 0; c < IDX_C; c++)
                buf[16 + (i * IDX_R + r) * IDX_C + c] = idx_pixel(i, r, c);
}

/* An IDX label file of n labels with the given magic. */
static void idx_labels(uint8_t *buf, uint32_t magic, int n) {
    put_be32(buf, magic);
    put_be32(buf + 4, (uint32_t)n);
    for (int i = 0; i < n; i++)
        buf[8 + i] = (uint8_t)(i % 3 == 2 ? 5 : i % 3); /* labels 0, 1, 5: num_classes 6 */
}

static void idx_check_content(const rin_dataset *d, int with_labels) {
    CHECK(d->n == IDX_N && d->H == IDX_R && d->W == IDX_C && d->C == 1);
    int bad = 0;
    for (int i = 0; i < IDX_N; i++)
        for (int r = 0; r < IDX_R; r++)
            for (int c = 0; c < IDX_C; c++)
                bad += d->images[(i * IDX_R + r) * IDX_C + c] != idx_pixel(i, r, c);
    CHECK_MSG(bad == 0, "%d pixels differ", bad);
    if (with_labels) {
        CHECK(d->labels != NULL && d->num_classes == 6);
        for (int i = 0; d->labels && i < IDX_N; i++)
            CHECK(d->labels[i] == (i % 3 == 2 ? 5 : i % 3));
    } else {
        CHECK(d->labels == NULL && d->num_classes == 0);
    }
}

TEST(data_idx_roundtrip) {
    test_dir td = test_dir_make("data");
    if (!td.ok)
        return;
    uint8_t img[IDX_IMG_BYTES], lab[8 + IDX_N];
    idx_images(img, 0x803, IDX_N);
    idx_labels(lab, 0x801, IDX_N);
    char ip[256], lp[256], igz[256], lgz[256], src[1200];
    test_dir_file(ip, sizeof ip, &td, "img-idx3-ubyte");
    test_dir_file(lp, sizeof lp, &td, "lab-idx1-ubyte");
    test_dir_file(igz, sizeof igz, &td, "img-idx3-ubyte.gz");
    test_dir_file(lgz, sizeof lgz, &td, "lab-idx1-ubyte.gz");
    CHECK(test_write_bytes(ip, img, sizeof img) && test_write_bytes(lp, lab, sizeof lab));
    CHECK(write_gz(igz, img, sizeof img) && write_gz(lgz, lab, sizeof lab));

    const char *pairs[3][2] = {{ip, lp}, {igz, lgz}, {igz, lp}};
    for (int k = 0; k < 3; k++) {
        snprintf(src, sizeof src, "idx:%s,%s", pairs[k][0], pairs[k][1]);
        rin_dataset *d = LOAD_OK(src, 0, 0, 0);
        if (d) {
            idx_check_content(d, 1);
            CHECK(!strcmp(d->name, src));
        }
        rin_dataset_free(d);
    }
    snprintf(src, sizeof src, "idx:%s", igz);
    rin_dataset *d = LOAD_OK(src, IDX_R, IDX_C, 1);
    if (d)
        idx_check_content(d, 0);
    rin_dataset_free(d);

    char want[1400];
    snprintf(src, sizeof src, "idx:%s", ip);
    snprintf(want, sizeof want, "dataset %s has 5x4x1 images but the model expects 28x28x1", src);
    EXPECT_LOAD_FAIL(src, 28, 28, 1, RIN_STATUS_FORMAT, want);
    test_dir_remove(&td);
}

TEST(data_idx_reject) {
    test_dir td = test_dir_make("data");
    if (!td.ok)
        return;
    uint8_t img[IDX_IMG_BYTES + 1], lab[8 + IDX_N + 1];
    char good_i[256], good_l[256], p[256], src[1200];
    idx_images(img, 0x803, IDX_N);
    idx_labels(lab, 0x801, IDX_N);
    test_dir_file(good_i, sizeof good_i, &td, "good-img");
    test_dir_file(good_l, sizeof good_l, &td, "good-lab");
    CHECK(test_write_bytes(good_i, img, IDX_IMG_BYTES) && test_write_bytes(good_l, lab, 8 + IDX_N));

    /* bad magic in the image file, and a label file given as images */
    idx_images(img, 0x804, IDX_N);
    test_dir_file(p, sizeof p, &td, "magic-img");
    CHECK(test_write_bytes(p, img, IDX_IMG_BYTES));
    snprintf(src, sizeof src, "idx:%s,%s", p, good_l);
    EXPECT_LOAD_FAIL(src, 0, 0, 0, RIN_STATUS_FORMAT, p, "bad magic 0x00000804",
                     "expected 0x00000803");
    snprintf(src, sizeof src, "idx:%s", good_l);
    EXPECT_LOAD_FAIL(src, 0, 0, 0, RIN_STATUS_FORMAT, good_l, "bad magic 0x00000801");
    /* bad magic in the label file */
    idx_labels(lab, 0x803, IDX_N);
    test_dir_file(p, sizeof p, &td, "magic-lab");
    CHECK(test_write_bytes(p, lab, 8 + IDX_N));
    snprintf(src, sizeof src, "idx:%s,%s", good_i, p);
    EXPECT_LOAD_FAIL(src, 0, 0, 0, RIN_STATUS_FORMAT, p, "bad magic 0x00000803",
                     "expected 0x00000801");

    /* truncated and trailing image data; a header cut short */
    idx_images(img, 0x803, IDX_N);
    img[IDX_IMG_BYTES] = 9;
    test_dir_file(p, sizeof p, &td, "short-img.gz");
    CHECK(write_gz(p, img, IDX_IMG_BYTES - 1));
    snprintf(src, sizeof src, "idx:%s", p);
    EXPECT_LOAD_FAIL(src, 0, 0, 0, RIN_STATUS_FORMAT, p, "truncated", "expected 156 bytes",
                     "file has 155");
    test_dir_file(p, sizeof p, &td, "long-img");
    CHECK(test_write_bytes(p, img, IDX_IMG_BYTES + 1));
    snprintf(src, sizeof src, "idx:%s,%s", p, good_l);
    EXPECT_LOAD_FAIL(src, 0, 0, 0, RIN_STATUS_FORMAT, p, "trailing bytes", "expected 156 bytes",
                     "file has 157");
    test_dir_file(p, sizeof p, &td, "header-img");
    CHECK(test_write_bytes(p, img, 10));
    snprintf(src, sizeof src, "idx:%s", p);
    EXPECT_LOAD_FAIL(src, 0, 0, 0, RIN_STATUS_FORMAT, p, "truncated", "header needs 16");

    /* label file: count mismatch, truncated, trailing */
    idx_labels(lab, 0x801, IDX_N - 1);
    test_dir_file(p, sizeof p, &td, "six-lab");
    CHECK(test_write_bytes(p, lab, 8 + IDX_N - 1));
    snprintf(src, sizeof src, "idx:%s,%s", good_i, p);
    EXPECT_LOAD_FAIL(src, 0, 0, 0, RIN_STATUS_FORMAT, p, "has 6 labels but", good_i,
                     "has 7 images");
    idx_labels(lab, 0x801, IDX_N);
    test_dir_file(p, sizeof p, &td, "short-lab");
    CHECK(test_write_bytes(p, lab, 8 + IDX_N - 2));
    snprintf(src, sizeof src, "idx:%s,%s", good_i, p);
    EXPECT_LOAD_FAIL(src, 0, 0, 0, RIN_STATUS_FORMAT, p, "truncated", "expected 15 bytes",
                     "file has 13");
    lab[8 + IDX_N] = 1;
    test_dir_file(p, sizeof p, &td, "long-lab");
    CHECK(test_write_bytes(p, lab, 8 + IDX_N + 1));
    snprintf(src, sizeof src, "idx:%s,%s", good_i, p);
    EXPECT_LOAD_FAIL(src, 0, 0, 0, RIN_STATUS_FORMAT, p, "trailing bytes", "file has 16");

    /* a cut gzip stream, a missing file, bad source strings */
    uint8_t big[16 + 50 * 28 * 28];
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (uint8_t)(i * 2654435761u >> 13); /* incompressible enough */
    put_be32(big, 0x803);
    put_be32(big + 4, 50);
    put_be32(big + 8, 28);
    put_be32(big + 12, 28);
    test_dir_file(p, sizeof p, &td, "cut.gz");
    CHECK(write_gz(p, big, sizeof big));
    size_t ngz = 0;
    uint8_t *gz = read_all(p, 0, &ngz);
    CHECK(gz && ngz > 100);
    if (gz) {
        CHECK(test_write_bytes(p, gz, ngz / 2));
        snprintf(src, sizeof src, "idx:%s", p);
        EXPECT_LOAD_FAIL(src, 0, 0, 0, RIN_STATUS_FORMAT, p, "truncated or corrupt gzip");
        free(gz);
    }
    test_dir_file(p, sizeof p, &td, "absent");
    snprintf(src, sizeof src, "idx:%s,%s", good_i, p);
    EXPECT_LOAD_FAIL(src, 0, 0, 0, RIN_STATUS_IO, p, "cannot open");
    EXPECT_LOAD_FAIL("idx:", 0, 0, 0, RIN_STATUS_ARG, "idx:IMAGES");
    EXPECT_LOAD_FAIL("mnist", 0, 0, 0, RIN_STATUS_ARG, "unknown dataset source 'mnist'");
    test_dir_remove(&td);
}

/* ---- CIFAR-10 -------------------------------------------------------------------------------- */

#define CIFAR_BYTES 30730000u

static uint8_t cifar_pixel(int g, int r, int c, int ch) {
    return (uint8_t)((g + ch * 7 + r * 3 + c) % 256);
}

/* A batch file of records g = first .. first+9999: label g % 10, planar pixels. Rows are copied
 * from a ramp, so writing 150 MB stays fast under sanitizers. */
static int cifar_write(const char *path, int first, uint8_t *buf) {
    uint8_t ramp[512];
    for (int k = 0; k < 512; k++)
        ramp[k] = (uint8_t)k;
    for (int i = 0; i < 10000; i++) {
        int g = first + i;
        uint8_t *rec = buf + (size_t)i * 3073;
        rec[0] = (uint8_t)(g % 10);
        for (int ch = 0; ch < 3; ch++)
            for (int r = 0; r < 32; r++)
                memcpy(rec + 1 + ch * 1024 + r * 32, ramp + (g + ch * 7 + r * 3) % 256, 32);
    }
    return test_write_bytes(path, buf, CIFAR_BYTES);
}

/* Every label of d, and every pixel of every 37th record and of the first and last record of
 * each file, against records first.. */
static void cifar_check(const rin_dataset *d, int first) {
    long bad = 0, badl = 0;
    for (int i = 0; i < d->n; i++) {
        badl += d->labels[i] != (first + i) % 10;
        if (i % 37 != 0 && i % 10000 != 0 && i % 10000 != 9999)
            continue;
        const uint8_t *im = d->images + (size_t)i * 3072;
        for (int r = 0; r < 32; r++)
            for (int c = 0; c < 32; c++)
                for (int ch = 0; ch < 3; ch++)
                    bad += im[(r * 32 + c) * 3 + ch] != cifar_pixel(first + i, r, c, ch);
    }
    CHECK_MSG(bad == 0 && badl == 0, "%ld pixels and %ld labels differ", bad, badl);
}

TEST(data_cifar10) {
    test_dir td = test_dir_make("data");
    if (!td.ok)
        return;
    uint8_t *buf = malloc(CIFAR_BYTES);
    CHECK(buf != NULL);
    if (!buf) {
        test_dir_remove(&td);
        return;
    }
    char p[256], src[300];
    for (int f = 0; f < 5; f++) {
        char name[32];
        snprintf(name, sizeof name, "data_batch_%d.bin", f + 1);
        test_dir_file(p, sizeof p, &td, name);
        CHECK(cifar_write(p, f * 10000, buf));
    }
    free(buf);

    snprintf(src, sizeof src, "cifar10:%s", td.path);
    rin_dataset *d = LOAD_OK(src, 32, 32, 3);
    if (d) {
        CHECK(d->n == 50000 && d->H == 32 && d->W == 32 && d->C == 3 && d->num_classes == 10);
        /* spot checks written out: (record, r, c, ch) -> value */
        CHECK(d->images[((size_t)0 * 1024 + 0 * 32 + 0) * 3 + 0] == 0);
        CHECK(d->images[((size_t)0 * 1024 + 0 * 32 + 1) * 3 + 2] == 15);
        CHECK(d->images[((size_t)12345 * 1024 + 31 * 32 + 30) * 3 + 1] ==
              (12345 + 7 + 93 + 30) % 256);
        CHECK(d->images[((size_t)49999 * 1024 + 2 * 32 + 5) * 3 + 2] == (49999 + 14 + 6 + 5) % 256);
        CHECK(d->labels[0] == 0 && d->labels[12345] == 5 && d->labels[49999] == 9);
        cifar_check(d, 0);
    }
    rin_dataset_free(d);

    /* the test split: data_batch_2.bin under the name test_batch.bin */
    char p2[256], pt[256];
    test_dir_file(p2, sizeof p2, &td, "data_batch_2.bin");
    test_dir_file(pt, sizeof pt, &td, "test_batch.bin");
    snprintf(src, sizeof src, "cifar10:%s:test", td.path);
    EXPECT_LOAD_FAIL(src, 32, 32, 3, RIN_STATUS_IO, pt, "cannot open");
    CHECK(link(p2, pt) == 0);
    d = LOAD_OK(src, 0, 0, 0);
    if (d) {
        CHECK(d->n == 10000 && d->H == 32 && d->C == 3);
        cifar_check(d, 10000);
    }
    rin_dataset_free(d);
    EXPECT_LOAD_FAIL(src, 28, 28, 1, RIN_STATUS_FORMAT,
                     "has 32x32x3 images but the model expects 28x28x1");

    /* a label out of range (record 7), then a truncated and an extended file */
    int fd = open(pt, O_WRONLY);
    CHECK(fd >= 0 && pwrite(fd, "\x0a", 1, 7 * 3073) == 1);
    if (fd >= 0)
        close(fd);
    EXPECT_LOAD_FAIL(src, 32, 32, 3, RIN_STATUS_FORMAT, pt, "record 7 has label 10");
    fd = open(pt, O_WRONLY); /* restore: the file is also data_batch_2.bin */
    CHECK(fd >= 0 && pwrite(fd, "\x07", 1, 7 * 3073) == 1);
    if (fd >= 0)
        close(fd);
    test_dir_file(p, sizeof p, &td, "data_batch_1.bin");
    CHECK(truncate(p, CIFAR_BYTES - 1) == 0);
    snprintf(src, sizeof src, "cifar10:%s", td.path);
    EXPECT_LOAD_FAIL(src, 32, 32, 3, RIN_STATUS_FORMAT, p, "truncated", "expected 30730000 bytes",
                     "file has 30729999");
    CHECK(truncate(p, CIFAR_BYTES + 3073) == 0);
    EXPECT_LOAD_FAIL(src, 32, 32, 3, RIN_STATUS_FORMAT, p, "trailing bytes", "file has 30733073");
    test_dir_remove(&td);
}

/* ---- PNG folders ----------------------------------------------------------------------------- */

static int png_uniform(const rin_dataset *d, int i, const uint8_t *rgb) {
    size_t per = (size_t)d->H * d->W * d->C;
    for (size_t k = 0; k < per; k++)
        if (d->images[(size_t)i * per + k] != rgb[k % (size_t)d->C])
            return 0;
    return 1;
}

/* Pixel (r, c, ch) of image i. */
static int px(const rin_dataset *d, int i, int r, int c, int ch) {
    return d->images[(((size_t)i * d->H + r) * d->W + c) * d->C + ch];
}

TEST(data_png_folder) {
    test_dir td = test_dir_make("data");
    if (!td.ok)
        return;
    char p[256], src[300];
    /* written out of name order; readdir order is not name order either */
    uint8_t tall[20][12][4];
    for (int r = 0; r < 20; r++)
        for (int c = 0; c < 12; c++) {
            int in = r >= 4 && r < 16; /* the central 12x12 square */
            const uint8_t v[4] = {in ? 10 : 250, in ? 21 : 250, in ? 30 : 250, in ? 128 : 255};
            memcpy(tall[r][c], v, 4);
        }
    test_dir_file(p, sizeof p, &td, "c_tall.png");
    CHECK(stbi_write_png(p, 12, 20, 4, tall, 12 * 4));
    uint8_t wide[30][40][3];
    for (int r = 0; r < 30; r++)
        for (int c = 0; c < 40; c++) {
            int in = c >= 5 && c < 35; /* the central 30x30 square */
            const uint8_t v[3] = {in ? 200 : 255, in ? 100 : 0, in ? 50 : 0};
            memcpy(wide[r][c], v, 3);
        }
    test_dir_file(p, sizeof p, &td, "a_wide.png");
    CHECK(stbi_write_png(p, 40, 30, 3, wide, 40 * 3));
    uint8_t quad[16][16];
    for (int r = 0; r < 16; r++)
        for (int c = 0; c < 16; c++)
            quad[r][c] = (uint8_t)((r < 8 ? 0 : 200) + (c < 8 ? 0 : 55));
    test_dir_file(p, sizeof p, &td, "b_grey.png");
    CHECK(stbi_write_png(p, 16, 16, 1, quad, 16));
    uint8_t small[8][8];
    memset(small, 123, sizeof small);
    test_dir_file(p, sizeof p, &td, "Z_same.PNG"); /* upper case sorts first; suffix case ignored */
    CHECK(stbi_write_png(p, 8, 8, 1, small, 8));
    test_dir_file(p, sizeof p, &td, "notes.txt");
    CHECK(test_write_bytes(p, "not an image", 12));

    snprintf(src, sizeof src, "png:%s", td.path);
    rin_dataset *d = LOAD_OK(src, 8, 8, 3);
    if (d) {
        CHECK(d->n == 4 && d->H == 8 && d->W == 8 && d->C == 3);
        CHECK(d->labels == NULL && d->num_classes == 0);
        /* name order: Z_same.PNG, a_wide.png, b_grey.png, c_tall.png */
        CHECK(png_uniform(d, 0, (const uint8_t[]){123, 123, 123}));
        CHECK(png_uniform(d, 1, (const uint8_t[]){200, 100, 50}));
        CHECK(png_uniform(d, 3, (const uint8_t[]){10, 21, 30}));
        /* quadrants keep their place: rows are rows, columns are columns */
        for (int ch = 0; ch < 3; ch++) {
            CHECK(abs(px(d, 2, 0, 0, ch) - 0) <= 8 && abs(px(d, 2, 0, 7, ch) - 55) <= 8);
            CHECK(abs(px(d, 2, 7, 0, ch) - 200) <= 8 && abs(px(d, 2, 7, 7, ch) - 255) <= 8);
            CHECK(px(d, 2, 3, 3, ch) == px(d, 2, 3, 3, 0));
        }
    }
    rin_dataset_free(d);

    d = LOAD_OK(src, 8, 8, 1);
    if (d) {
        CHECK(d->n == 4 && d->C == 1);
        CHECK(png_uniform(d, 0, (const uint8_t[]){123}));
        /* 0.299*200 + 0.587*100 + 0.114*50 = 124.2; 0.299*10 + 0.587*21 + 0.114*30 = 18.737 */
        CHECK(png_uniform(d, 1, (const uint8_t[]){124}));
        CHECK(png_uniform(d, 3, (const uint8_t[]){19}));
        CHECK(abs(px(d, 2, 0, 7, 0) - 55) <= 8 && abs(px(d, 2, 7, 0, 0) - 200) <= 8);
    }
    rin_dataset_free(d);

    d = LOAD_OK(src, 6, 10, 3); /* not square: the square crop is stretched */
    if (d) {
        CHECK(d->n == 4 && d->H == 6 && d->W == 10 && d->C == 3);
        CHECK(png_uniform(d, 0, (const uint8_t[]){123, 123, 123}));
        CHECK(png_uniform(d, 1, (const uint8_t[]){200, 100, 50}));
        CHECK(png_uniform(d, 3, (const uint8_t[]){10, 21, 30}));
    }
    rin_dataset_free(d);

    EXPECT_LOAD_FAIL(src, 0, 0, 0, RIN_STATUS_ARG, td.path, "model's size");
    EXPECT_LOAD_FAIL(src, 8, 8, 2, RIN_STATUS_ARG, td.path, "channels 1 or 3");

    /* an undecodable file, an empty folder, a missing folder */
    char sub[200];
    test_dir_file(sub, sizeof sub, &td, "bad");
    CHECK(mkdir(sub, 0700) == 0);
    snprintf(src, sizeof src, "png:%s", sub);
    EXPECT_LOAD_FAIL(src, 8, 8, 3, RIN_STATUS_FORMAT, sub, "no *.png files");
    snprintf(p, sizeof p, "%s/x.png", sub);
    CHECK(test_write_bytes(p, "\x89PNG garbage", 12));
    EXPECT_LOAD_FAIL(src, 8, 8, 3, RIN_STATUS_FORMAT, "not a PNG file", p);
    test_dir_file(sub, sizeof sub, &td, "absent");
    snprintf(src, sizeof src, "png:%s", sub);
    EXPECT_LOAD_FAIL(src, 8, 8, 3, RIN_STATUS_IO, sub, "cannot open folder");
    test_dir_remove(&td);
}

/* ---- batcher --------------------------------------------------------------------------------- */

/* n images of H x W x C with label i (so labels identify images); column 0 and W-1 differ, so a
 * flipped image never equals the original. */
static rin_dataset *synth(int n, int H, int W, int C) {
    rin_dataset *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    size_t per = (size_t)H * W * C;
    d->n = n;
    d->H = H;
    d->W = W;
    d->C = C;
    d->images = malloc((size_t)n * per);
    d->labels = malloc((size_t)n * sizeof *d->labels);
    d->num_classes = n;
    if (!d->images || !d->labels) {
        rin_dataset_free(d);
        return NULL;
    }
    for (int i = 0; i < n; i++) {
        d->labels[i] = i;
        for (int h = 0; h < H; h++)
            for (int w = 0; w < W; w++)
                for (int c = 0; c < C; c++)
                    d->images[(size_t)i * per + ((size_t)h * W + w) * C + c] =
                        (uint8_t)((i * 31 + h * 17 + w * 5 + w * w * 7 + c * 3) % 256);
    }
    return d;
}

static float x0_of(uint8_t u, float b) {
    return (2.0f * (float)u / 255.0f - 1.0f) * b;
}

/* 1 if out (one image) is image idx, unflipped (want_flip 0) or mirrored (1), bitwise. */
static int image_is(const rin_dataset *d, const float *out, int idx, int want_flip, float b) {
    int H = d->H, W = d->W, C = d->C;
    const uint8_t *src = d->images + (size_t)idx * H * W * C;
    for (int h = 0; h < H; h++)
        for (int w = 0; w < W; w++)
            for (int c = 0; c < C; c++) {
                int ws = want_flip ? W - 1 - w : w;
                float e = x0_of(src[(h * W + ws) * C + c], b);
                if (memcmp(&out[(h * W + w) * C + c], &e, sizeof e) != 0)
                    return 0;
            }
    return 1;
}

/* The contract of data.h and data.c's top comment, spelled out independently. */
static void ref_perm(int *perm, int n, uint64_t seed, long epoch) {
    rin_rng r;
    rin_rng_seed(&r, rin_hash64(seed, 0x5348554646ull, (uint64_t)epoch));
    for (int i = 0; i < n; i++)
        perm[i] = i;
    for (int i = n - 1; i > 0; i--) {
        int j = (int)(rin_rng_u64(&r) % (uint64_t)(i + 1));
        int t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
}

TEST(data_batcher_permutation) {
    enum { N = 1000 };
    rin_dataset *d = synth(N, 2, 3, 1);
    CHECK(d != NULL);
    if (!d)
        return;
    static float x0[N * 6];
    static int labels[N], prev[N], ref[N];
    rin_batcher b;
    CHECK(rin_batcher_init(&b, d, 77, 0, 0, 0) == RIN_STATUS_OK);
    for (int e = 0; e < 3; e++) {
        rin_batcher_next(&b, N, 1.0f, x0, labels);
        CHECK(b.epoch == e && b.pos == N);
        static int seen[N];
        memset(seen, 0, sizeof seen);
        int bad = 0, same = 0, fixed = 0;
        for (int i = 0; i < N; i++) {
            if (labels[i] >= 0 && labels[i] < N)
                seen[labels[i]]++;
            bad += !image_is(d, x0 + (size_t)i * 6, labels[i], 0, 1.0f);
            same += e > 0 && labels[i] == prev[i];
            fixed += labels[i] == i;
        }
        for (int i = 0; i < N; i++)
            bad += seen[i] != 1;
        CHECK_MSG(bad == 0, "epoch %d: %d errors", e, bad);
        CHECK_MSG(same < 20 && fixed < 20, "epoch %d: %d equal to the previous epoch, %d fixed", e,
                  same, fixed);
        ref_perm(ref, N, 77, e);
        CHECK(memcmp(ref, labels, sizeof ref) == 0);
        memcpy(prev, labels, sizeof prev);
    }
    rin_batcher_free(&b);
    CHECK(b.perm == NULL);

    /* batches that straddle epochs: every run of n consecutive images is an epoch */
    rin_dataset *s = synth(10, 1, 2, 1);
    CHECK(s != NULL);
    if (s) {
        int all[30];
        CHECK(rin_batcher_init(&b, s, 3, 1, 0, 0) == RIN_STATUS_OK);
        for (int k = 0; k < 10; k++)
            rin_batcher_next(&b, 3, 1.0f, x0, all + 3 * k);
        CHECK(b.epoch == 2 && b.pos == 10);
        for (int e = 0; e < 3; e++) {
            int seen[10] = {0};
            for (int i = 0; i < 10; i++)
                seen[all[10 * e + i]]++;
            for (int i = 0; i < 10; i++)
                CHECK(seen[i] == 1);
            ref_perm(ref, 10, 3, e);
            CHECK(memcmp(ref, all + 10 * e, 10 * sizeof *ref) == 0);
        }
        rin_batcher_free(&b);
        /* bad states */
        CHECK(rin_batcher_init(&b, s, 3, 1, 0, 11) == RIN_STATUS_ARG && b.perm == NULL);
        CHECK(rin_batcher_init(&b, s, 3, 1, -1, 0) == RIN_STATUS_ARG && b.perm == NULL);
        CHECK(rin_batcher_init(&b, s, 3, 1, 0, -1) == RIN_STATUS_ARG && b.perm == NULL);
    }
    rin_dataset_free(s);
    rin_dataset_free(d);
}

/* B images drawn `batches` times into x (batches*B images of per floats) and l. */
static void draw(rin_batcher *b, int batches, int B, size_t per, float scale, float *x, int *l) {
    for (int k = 0; k < batches; k++)
        rin_batcher_next(b, B, scale, x + (size_t)k * B * per, l + (size_t)k * B);
}

TEST(data_batcher_determinism) {
    enum { N = 13, B = 7, K = 5, PER = 4 * 5 * 3 };
    rin_dataset *d = synth(N, 4, 5, 3);
    CHECK(d != NULL);
    if (!d)
        return;
    static float x1[K * B * PER], x2[K * B * PER], x3[K * B * PER];
    int l1[K * B], l2[K * B], l3[K * B];
    rin_batcher b;
    CHECK(rin_batcher_init(&b, d, 1234, 1, 0, 0) == RIN_STATUS_OK);
    draw(&b, K, B, PER, 0.5f, x1, l1);
    rin_batcher_free(&b);
    CHECK(rin_batcher_init(&b, d, 1234, 1, 0, 0) == RIN_STATUS_OK);
    draw(&b, K, B, PER, 0.5f, x2, l2);
    rin_batcher_free(&b);
    CHECK(memcmp(x1, x2, sizeof x1) == 0 && memcmp(l1, l2, sizeof l1) == 0);
    CHECK(rin_batcher_init(&b, d, 1235, 1, 0, 0) == RIN_STATUS_OK);
    draw(&b, K, B, PER, 0.5f, x3, l3);
    rin_batcher_free(&b);
    CHECK(memcmp(l1, l3, sizeof l1) != 0 && memcmp(x1, x3, sizeof x1) != 0);
    rin_dataset_free(d);
}

TEST(data_batcher_resume) {
    enum { N = 13, B = 4, PER = 2 * 3 * 2 };
    rin_dataset *d = synth(N, 2, 3, 2);
    CHECK(d != NULL);
    if (!d)
        return;
    float xa[3 * B * PER], xb[3 * B * PER], skip[5 * B * PER];
    int la[3 * B], lb[3 * B], lskip[5 * B];
    rin_batcher a, b;
    CHECK(rin_batcher_init(&a, d, 99, 1, 0, 0) == RIN_STATUS_OK);
    draw(&a, 5, B, PER, 1.0f, skip, lskip); /* 20 images: epoch 1, position 7 */
    long epoch = a.epoch, pos = a.pos;
    CHECK(epoch == 1 && pos == 7);
    draw(&a, 3, B, PER, 1.0f, xa, la);
    CHECK(rin_batcher_init(&b, d, 99, 1, epoch, pos) == RIN_STATUS_OK);
    draw(&b, 3, B, PER, 1.0f, xb, lb);
    CHECK(memcmp(xa, xb, sizeof xa) == 0 && memcmp(la, lb, sizeof la) == 0);
    CHECK(a.epoch == b.epoch && a.pos == b.pos);
    rin_batcher_free(&a);
    rin_batcher_free(&b);

    /* the end of an epoch (e, n) continues like (e + 1, 0) */
    CHECK(rin_batcher_init(&a, d, 99, 1, 2, N) == RIN_STATUS_OK);
    CHECK(rin_batcher_init(&b, d, 99, 1, 3, 0) == RIN_STATUS_OK);
    draw(&a, 3, B, PER, 1.0f, xa, la);
    draw(&b, 3, B, PER, 1.0f, xb, lb);
    CHECK(memcmp(xa, xb, sizeof xa) == 0 && memcmp(la, lb, sizeof la) == 0);
    rin_batcher_free(&a);
    rin_batcher_free(&b);
    rin_dataset_free(d);
}

TEST(data_batcher_flip) {
    enum { N = 2000, PER = 3 * 5 * 2 };
    rin_dataset *d = synth(N, 3, 5, 2);
    CHECK(d != NULL);
    if (!d)
        return;
    static float x[N * PER];
    static int l[N];
    const uint64_t seed = 2024;
    rin_batcher b;
    for (int flip_on = 0; flip_on < 2; flip_on++) {
        CHECK(rin_batcher_init(&b, d, seed, flip_on, 1, 0) == RIN_STATUS_OK);
        rin_batcher_next(&b, N, 1.0f, x, l);
        int flips = 0, bad = 0, rule = 0;
        for (int pos = 0; pos < N; pos++) {
            const float *o = x + (size_t)pos * PER;
            int plain = image_is(d, o, l[pos], 0, 1.0f);
            int mirror = image_is(d, o, l[pos], 1, 1.0f);
            bad += plain == mirror; /* exactly one of the two */
            flips += mirror;
            int want =
                flip_on && rin_counter_uniform(seed, 0x464C4950ull, (uint64_t)(1 * N + pos)) < 0.5f;
            rule += mirror != want;
        }
        CHECK_MSG(bad == 0 && rule == 0, "flip %d: %d unmatched, %d against the rule", flip_on, bad,
                  rule);
        if (flip_on)
            CHECK_MSG(flips > N * 45 / 100 && flips < N * 55 / 100, "%d of %d flipped", flips, N);
        else
            CHECK(flips == 0);
        rin_batcher_free(&b);
    }
    rin_dataset_free(d);
}

TEST(data_batcher_values) {
    /* every byte value, x0 = (2 u / 255 - 1) * b exactly; labels optional */
    rin_dataset *d = calloc(1, sizeof *d);
    CHECK(d != NULL);
    if (!d)
        return;
    d->n = 3;
    d->H = 8;
    d->W = 8;
    d->C = 4;
    d->images = malloc(3 * 256);
    CHECK(d->images != NULL);
    if (!d->images) {
        rin_dataset_free(d);
        return;
    }
    for (int i = 0; i < 3 * 256; i++)
        d->images[i] = (uint8_t)((i % 256 + 85 * (i / 256)) % 256);
    static float x[5 * 256];
    int labels[5] = {-7, -7, -7, -7, -7};
    const float scales[3] = {1.0f, 0.5f, 0.7f};
    for (int k = 0; k < 3; k++) {
        rin_batcher b;
        CHECK(rin_batcher_init(&b, d, 5, 0, 0, 0) == RIN_STATUS_OK);
        rin_batcher_next(&b, 5, scales[k], x, labels);
        int bad = 0, ref[6];
        ref_perm(ref, 3, 5, 0);
        ref_perm(ref + 3, 3, 5, 1); /* images 3 and 4 come from epoch 1 */
        for (int j = 0; j < 5; j++) {
            int idx = ref[j];
            for (int q = 0; q < 256; q++) {
                float e = (2.0f * (float)d->images[idx * 256 + q] / 255.0f - 1.0f) * scales[k];
                bad += memcmp(&x[j * 256 + q], &e, sizeof e) != 0;
            }
        }
        CHECK_MSG(bad == 0, "scale %g: %d values differ", (double)scales[k], bad);
        rin_batcher_free(&b);
    }
    /* the end points */
    CHECK(x0_of(0, 0.7f) == -0.7f && x0_of(255, 0.7f) == 0.7f);
    for (int j = 0; j < 5; j++)
        CHECK(labels[j] == -7); /* no labels in the dataset: left alone */
    rin_dataset_free(d);
}
