/* data.c -- datasets held in memory as uint8 NHWC images, and the shuffled batcher (data.h).
 *
 * Readers (shared/spec/evaluation.md section 1):
 *   fmnist[:train|:test]  Debian's dataset-fashion-mnist: gzipped IDX files read with zlib, the
 *                         SHA-256 of the decompressed bytes checked against evaluation.md 1.1
 *                         (OpenSSL libcrypto);
 *   idx:IMAGES[,LABELS]   any IDX files, gzipped when the name ends in ".gz";
 *   cifar10:DIR[:test]    CIFAR-10 binary batches, planar RGB records converted to NHWC;
 *   png:DIR               every *.png of a folder in name order, decoded by stb_image, converted
 *                         to the model's channels, centre-cropped to a square, resized by
 *                         stb_image_resize (the implementations come from libstb).
 * Every reader validates sizes before using them and every error names the file and the problem;
 * nothing here prints or exits.
 *
 * The batcher is stateless apart from (epoch, pos): the permutation of epoch e is Fisher-Yates
 * driven by rin_rng seeded with rin_hash64(seed, "SHUFF", e), drawing j = u64 % (i + 1) for
 * i = n-1 .. 1 over the identity; the image at (epoch, pos) is flipped horizontally iff
 * rin_counter_uniform(seed, "FLIP", epoch * n + pos) < 0.5. Not here: augmentation other than the
 * flip (rin.md section 4 has none), class balancing, streaming of data sets larger than memory.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <openssl/evp.h>
#include <stb_image.h>
#include <stb_image_resize.h>
#include <zlib.h>

#include "data.h"
#include "imageio.h"
#include "internal.h"

#define STREAM_SHUFFLE 0x5348554646ull /* "SHUFF" */
#define STREAM_FLIP    0x464C4950ull   /* "FLIP" */

#define FMNIST_DEFAULT_DIR "/usr/share/datasets/fashion-mnist"
#define CIFAR_RECORD       3073
#define CIFAR_RECORDS      10000
#define CIFAR_FILE_BYTES   ((long long)CIFAR_RECORD * CIFAR_RECORDS) /* 30,730,000 */

/* evaluation.md 1.1: SHA-256 of the decompressed files. */
// clang-format off
static const struct fmnist_file {
    const char *name;
    const char *sha256;
} fmnist_files[4] = {
    {"train-images-idx3-ubyte", "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888"},
    {"train-labels-idx1-ubyte", "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9"},
    {"t10k-images-idx3-ubyte",  "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b"},
    {"t10k-labels-idx1-ubyte",  "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34"},
};
// clang-format on

void rin_sha256_hex(const void *data, size_t len, char out[65]) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    out[0] = '\0';
    if (EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != 32)
        return; /* an empty string never matches a checksum */
    static const char hex[] = "0123456789abcdef";
    for (unsigned int i = 0; i < 32; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[64] = '\0';
}

rin_status rin_file_sha256_hex(const char *path, char out[65], char *err, size_t errlen) {
    out[0] = 0;
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return rin_errorf(err, errlen, RIN_STATUS_IO, "%s: cannot open: %s", path, strerror(errno));
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    unsigned char *buf = malloc(1 << 20);
    rin_status s = RIN_STATUS_OK;
    if (!md || !buf || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
        s = rin_errorf(err, errlen, RIN_STATUS_NOMEM, "%s: cannot start a SHA-256 digest", path);
    } else {
        size_t got;
        while (!s && (got = fread(buf, 1, 1 << 20, fp)) > 0)
            if (EVP_DigestUpdate(md, buf, got) != 1)
                s = rin_errorf(err, errlen, RIN_STATUS_NOMEM, "%s: SHA-256 digest failed", path);
        unsigned char d[EVP_MAX_MD_SIZE];
        unsigned int dlen = 0;
        if (!s && ferror(fp))
            s = rin_errorf(err, errlen, RIN_STATUS_IO, "%s: read failed: %s", path,
                           strerror(errno));
        else if (!s && (EVP_DigestFinal_ex(md, d, &dlen) != 1 || dlen != 32))
            s = rin_errorf(err, errlen, RIN_STATUS_NOMEM, "%s: SHA-256 digest failed", path);
        for (unsigned i = 0; !s && i < 32; i++)
            snprintf(out + 2 * i, 3, "%02x", d[i]);
    }
    EVP_MD_CTX_free(md);
    free(buf);
    fclose(fp);
    return s;
}

/* ---- whole files ----------------------------------------------------------------------------- */

typedef struct byte_buf {
    uint8_t *p;
    size_t n;
} byte_buf;

static int ends_with(const char *s, const char *suffix, int nocase) {
    size_t ls = strlen(s), lx = strlen(suffix);
    if (ls < lx)
        return 0;
    return nocase ? strcasecmp(s + ls - lx, suffix) == 0 : strcmp(s + ls - lx, suffix) == 0;
}

static rin_status read_plain(byte_buf *b, const char *path, char *err, size_t errlen) {
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return rin_errorf(err, errlen, RIN_STATUS_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(fp), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(fp);
        return rin_errorf(err, errlen, RIN_STATUS_IO, "%s: not a regular file", path);
    }
    size_t n = (size_t)st.st_size;
    uint8_t *p = malloc(n ? n : 1);
    if (!p) {
        fclose(fp);
        return rin_errorf(err, errlen, RIN_STATUS_NOMEM, "%s: out of memory for %zu bytes", path,
                          n);
    }
    size_t got = fread(p, 1, n, fp);
    int rerr = ferror(fp);
    fclose(fp);
    if (got != n || rerr) {
        free(p);
        return rin_errorf(err, errlen, RIN_STATUS_IO, "%s: read %zu of %zu bytes", path, got, n);
    }
    b->p = p;
    b->n = n;
    return RIN_STATUS_OK;
}

/* The decompressed content of a gzip file. A truncated or corrupt stream is an error. */
static rin_status read_gz(byte_buf *b, const char *path, char *err, size_t errlen) {
    errno = 0;
    gzFile f = gzopen(path, "rb");
    if (!f)
        return rin_errorf(err, errlen, RIN_STATUS_IO, "%s: cannot open: %s", path,
                          errno ? strerror(errno) : "out of memory");
    gzbuffer(f, 1u << 17);
    size_t cap = (size_t)1 << 20, n = 0;
    uint8_t *p = malloc(cap);
    rin_status s = RIN_STATUS_OK;
    if (!p)
        s = rin_errorf(err, errlen, RIN_STATUS_NOMEM, "%s: out of memory", path);
    while (s == RIN_STATUS_OK) {
        if (n == cap) {
            uint8_t *q = cap <= SIZE_MAX / 2 ? realloc(p, 2 * cap) : NULL;
            if (!q) {
                s = rin_errorf(err, errlen, RIN_STATUS_NOMEM,
                               "%s: out of memory after %zu decompressed bytes", path, n);
                break;
            }
            p = q;
            cap *= 2;
        }
        size_t want = cap - n;
        if (want > (size_t)1 << 30)
            want = (size_t)1 << 30;
        int r = gzread(f, p + n, (unsigned)want);
        if (r <= 0) {
            int errnum = Z_OK;
            const char *msg = gzerror(f, &errnum);
            if (errnum == Z_ERRNO)
                s = rin_errorf(err, errlen, RIN_STATUS_IO, "%s: cannot read: %s", path,
                               strerror(errno));
            else if (r < 0 || errnum != Z_OK)
                s = rin_errorf(err, errlen, RIN_STATUS_FORMAT,
                               "%s: cannot decompress after %zu bytes: %s (truncated or corrupt "
                               "gzip file)",
                               path, n, msg);
            break;
        }
        n += (size_t)r;
    }
    int rc = gzclose_r(f);
    if (s == RIN_STATUS_OK && rc != Z_OK)
        s = rin_errorf(err, errlen, RIN_STATUS_FORMAT,
                       "%s: gzip stream ends early or is corrupt (zlib error %d)", path, rc);
    if (s != RIN_STATUS_OK) {
        free(p);
        return s;
    }
    b->p = p;
    b->n = n;
    return RIN_STATUS_OK;
}

static rin_status read_idx_file(byte_buf *b, const char *path, char *err, size_t errlen) {
    return ends_with(path, ".gz", 0) ? read_gz(b, path, err, errlen)
                                     : read_plain(b, path, err, errlen);
}

/* ---- IDX ------------------------------------------------------------------------------------- */

static uint32_t be32(const uint8_t *p) {
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

/* Validates an IDX image file: magic 0x00000803, count, rows, cols, then exactly
 * count*rows*cols bytes. */
static rin_status idx_check_images(const byte_buf *b, const char *path, int *n, int *rows,
                                   int *cols, char *err, size_t errlen) {
    uint32_t magic = b->n >= 4 ? be32(b->p) : 0;
    if (b->n >= 4 && magic != 0x00000803u)
        return rin_errorf(err, errlen, RIN_STATUS_FORMAT,
                          "%s: bad magic 0x%08x, expected 0x00000803 (IDX unsigned-byte images, "
                          "3 dimensions)",
                          path, (unsigned)magic);
    if (b->n < 16)
        return rin_errorf(err, errlen, RIN_STATUS_FORMAT,
                          "%s: truncated: %zu bytes, an IDX image header needs 16", path, b->n);
    uint32_t cnt = be32(b->p + 4), r = be32(b->p + 8), c = be32(b->p + 12);
    if (cnt == 0 || r == 0 || c == 0 || cnt > INT_MAX || r > 65535 || c > 65535)
        return rin_errorf(err, errlen, RIN_STATUS_FORMAT,
                          "%s: bad IDX dimensions %u images of %ux%u", path, (unsigned)cnt,
                          (unsigned)r, (unsigned)c);
    unsigned long long want = 16ull + (unsigned long long)cnt * r * c;
    if (b->n != want)
        return rin_errorf(err, errlen, RIN_STATUS_FORMAT,
                          "%s: %s: expected %llu bytes (16-byte header + %u images of %ux%u), "
                          "file has %zu",
                          path, b->n < want ? "truncated" : "trailing bytes", want, (unsigned)cnt,
                          (unsigned)r, (unsigned)c, b->n);
    *n = (int)cnt;
    *rows = (int)r;
    *cols = (int)c;
    return RIN_STATUS_OK;
}

/* Validates an IDX label file: magic 0x00000801, count, then exactly count bytes. */
static rin_status idx_check_labels(const byte_buf *b, const char *path, int *n, char *err,
                                   size_t errlen) {
    uint32_t magic = b->n >= 4 ? be32(b->p) : 0;
    if (b->n >= 4 && magic != 0x00000801u)
        return rin_errorf(err, errlen, RIN_STATUS_FORMAT,
                          "%s: bad magic 0x%08x, expected 0x00000801 (IDX unsigned-byte labels, "
                          "1 dimension)",
                          path, (unsigned)magic);
    if (b->n < 8)
        return rin_errorf(err, errlen, RIN_STATUS_FORMAT,
                          "%s: truncated: %zu bytes, an IDX label header needs 8", path, b->n);
    uint32_t cnt = be32(b->p + 4);
    if (cnt > INT_MAX)
        return rin_errorf(err, errlen, RIN_STATUS_FORMAT, "%s: bad IDX label count %u", path,
                          (unsigned)cnt);
    unsigned long long want = 8ull + cnt;
    if (b->n != want)
        return rin_errorf(err, errlen, RIN_STATUS_FORMAT,
                          "%s: %s: expected %llu bytes (8-byte header + %u labels), file has %zu",
                          path, b->n < want ? "truncated" : "trailing bytes", want, (unsigned)cnt,
                          b->n);
    *n = (int)cnt;
    return RIN_STATUS_OK;
}

/* Reads one file of the Fashion-MNIST package into b and verifies its SHA-256; path receives
 * the file's path. */
static rin_status fmnist_read(byte_buf *b, char path[4096], const char *dir, int which, char *err,
                              size_t errlen) {
    if (snprintf(path, 4096, "%s/%s.gz", dir, fmnist_files[which].name) >= 4096)
        return rin_errorf(err, errlen, RIN_STATUS_IO, "fmnist: path too long: %s", dir);
    struct stat st;
    if (stat(path, &st) != 0)
        return rin_errorf(err, errlen, RIN_STATUS_IO,
                          "fmnist: %s: %s; install Debian's dataset-fashion-mnist (apt-get install "
                          "dataset-fashion-mnist) or set RIN_FMNIST_DIR to a folder with its four "
                          ".gz files",
                          path, strerror(errno));
    rin_status s = read_gz(b, path, err, errlen);
    if (s)
        return s;
    char got[65];
    rin_sha256_hex(b->p, b->n, got);
    if (strcmp(got, fmnist_files[which].sha256) != 0) {
        free(b->p);
        b->p = NULL;
        return rin_errorf(err, errlen, RIN_STATUS_FORMAT,
                          "%s: checksum mismatch: SHA-256 of the decompressed content is %s, "
                          "expected %s; reinstall dataset-fashion-mnist",
                          path, got[0] ? got : "(unavailable)", fmnist_files[which].sha256);
    }
    return RIN_STATUS_OK;
}

/* Fills d from validated IDX buffers; lab may be empty (p == NULL). */
static rin_status idx_build(rin_dataset *d, const byte_buf *img, const char *img_path,
                            const byte_buf *lab, const char *lab_path, char *err, size_t errlen) {
    int n = 0, rows = 0, cols = 0;
    rin_status s = idx_check_images(img, img_path, &n, &rows, &cols, err, errlen);
    if (s)
        return s;
    int nl = 0;
    if (lab->p) {
        s = idx_check_labels(lab, lab_path, &nl, err, errlen);
        if (s)
            return s;
        if (nl != n)
            return rin_errorf(err, errlen, RIN_STATUS_FORMAT,
                              "idx: %s has %d labels but %s has %d images", lab_path, nl, img_path,
                              n);
    }
    size_t bytes = (size_t)n * rows * cols;
    d->images = malloc(bytes);
    if (!d->images)
        return rin_errorf(err, errlen, RIN_STATUS_NOMEM, "%s: out of memory for %zu bytes",
                          img_path, bytes);
    memcpy(d->images, img->p + 16, bytes);
    d->n = n;
    d->H = rows;
    d->W = cols;
    d->C = 1;
    if (lab->p) {
        d->labels = malloc((size_t)n * sizeof *d->labels);
        if (!d->labels)
            return rin_errorf(err, errlen, RIN_STATUS_NOMEM, "%s: out of memory", lab_path);
        int maxl = 0;
        for (int i = 0; i < n; i++) {
            d->labels[i] = lab->p[8 + i]; /* a byte, so always < 256 */
            if (d->labels[i] > maxl)
                maxl = d->labels[i];
        }
        d->num_classes = maxl + 1;
    }
    return RIN_STATUS_OK;
}

static rin_status load_fmnist(rin_dataset *d, const char *split, char *err, size_t errlen) {
    int test;
    if (!strcmp(split, "") || !strcmp(split, ":train"))
        test = 0;
    else if (!strcmp(split, ":test"))
        test = 1;
    else
        return rin_errorf(err, errlen, RIN_STATUS_ARG,
                          "unknown Fashion-MNIST split 'fmnist%s' (fmnist:train or fmnist:test)",
                          split);
    const char *dir = getenv("RIN_FMNIST_DIR");
    if (!dir || !*dir)
        dir = FMNIST_DEFAULT_DIR;
    byte_buf img = {0}, lab = {0};
    char img_path[4096], lab_path[4096];
    /* labels first: the small file fails fast when the package is missing or altered */
    rin_status s = fmnist_read(&lab, lab_path, dir, test ? 3 : 1, err, errlen);
    if (!s)
        s = fmnist_read(&img, img_path, dir, test ? 2 : 0, err, errlen);
    if (!s)
        s = idx_build(d, &img, img_path, &lab, lab_path, err, errlen);
    free(img.p);
    free(lab.p);
    return s;
}

static rin_status load_idx(rin_dataset *d, const char *spec, char *err, size_t errlen) {
    char paths[4096];
    if (snprintf(paths, sizeof paths, "%s", spec) >= (int)sizeof paths)
        return rin_errorf(err, errlen, RIN_STATUS_ARG, "idx: paths too long");
    char *comma = strchr(paths, ',');
    const char *img_path = paths, *lab_path = NULL;
    if (comma) {
        *comma = '\0';
        lab_path = comma + 1;
    }
    if (!*img_path || (lab_path && !*lab_path))
        return rin_errorf(err, errlen, RIN_STATUS_ARG,
                          "idx:%s: expected idx:IMAGES or idx:IMAGES,LABELS", spec);
    byte_buf img = {0}, lab = {0};
    rin_status s = read_idx_file(&img, img_path, err, errlen);
    if (!s && lab_path)
        s = read_idx_file(&lab, lab_path, err, errlen);
    if (!s)
        s = idx_build(d, &img, img_path, &lab, lab_path, err, errlen);
    free(img.p);
    free(lab.p);
    return s;
}

/* ---- CIFAR-10 -------------------------------------------------------------------------------- */

static rin_status cifar_size_error(const char *path, long long size, char *err, size_t errlen) {
    return rin_errorf(err, errlen, RIN_STATUS_FORMAT,
                      "cifar10: %s: expected %lld bytes (10000 records of 3073), file has %lld "
                      "(%s)",
                      path, CIFAR_FILE_BYTES, size,
                      size < CIFAR_FILE_BYTES ? "truncated" : "trailing bytes");
}

/* One batch file into images/labels from record `base` on: byte 1 + ch*1024 + r*32 + c of a
 * record becomes NHWC element ((r*32 + c)*3 + ch). buf holds CIFAR_FILE_BYTES. */
static rin_status cifar_read(rin_dataset *d, const char *path, int base, uint8_t *buf, char *err,
                             size_t errlen) {
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return rin_errorf(err, errlen, RIN_STATUS_IO, "cifar10: %s: cannot open: %s", path,
                          strerror(errno));
    struct stat st;
    if (fstat(fileno(fp), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(fp);
        return rin_errorf(err, errlen, RIN_STATUS_IO, "cifar10: %s: not a regular file", path);
    }
    if ((long long)st.st_size != CIFAR_FILE_BYTES) {
        fclose(fp);
        return cifar_size_error(path, (long long)st.st_size, err, errlen);
    }
    size_t got = fread(buf, 1, (size_t)CIFAR_FILE_BYTES, fp);
    fclose(fp);
    if (got != (size_t)CIFAR_FILE_BYTES)
        return rin_errorf(err, errlen, RIN_STATUS_IO, "cifar10: %s: read %zu of %lld bytes", path,
                          got, CIFAR_FILE_BYTES);
    return rin_cifar_decode(d->images + (size_t)base * 3072, d->labels + base, buf,
                            (size_t)CIFAR_FILE_BYTES, path, err, errlen);
}

rin_status rin_cifar_decode(uint8_t *images, int *labels, const uint8_t *buf, size_t len,
                            const char *path, char *err, size_t errlen) {
    if (len % CIFAR_RECORD)
        return rin_errorf(err, errlen, RIN_STATUS_FORMAT,
                          "cifar10: %s: %zu bytes is not a whole number of 3073-byte records", path,
                          len);
    for (size_t i = 0; i < len / CIFAR_RECORD; i++) {
        const uint8_t *rec = buf + i * CIFAR_RECORD;
        if (rec[0] > 9)
            return rin_errorf(err, errlen, RIN_STATUS_FORMAT,
                              "cifar10: %s: record %zu has label %d, expected 0..9", path, i,
                              rec[0]);
        labels[i] = rec[0];
        const uint8_t *R = rec + 1, *G = rec + 1 + 1024, *B = rec + 1 + 2048;
        uint8_t *o = images + i * 3072;
        for (int k = 0; k < 1024; k++) {
            o[3 * k] = R[k];
            o[3 * k + 1] = G[k];
            o[3 * k + 2] = B[k];
        }
    }
    return RIN_STATUS_OK;
}

static rin_status load_cifar(rin_dataset *d, const char *spec, char *err, size_t errlen) {
    char dir[4096];
    if (snprintf(dir, sizeof dir, "%s", spec) >= (int)sizeof dir)
        return rin_errorf(err, errlen, RIN_STATUS_ARG, "cifar10: path too long");
    int test = 0;
    if (ends_with(dir, ":test", 0)) {
        test = 1;
        dir[strlen(dir) - 5] = '\0';
    }
    if (!*dir)
        return rin_errorf(err, errlen, RIN_STATUS_ARG,
                          "cifar10:%s: expected cifar10:DIR or cifar10:DIR:test", spec);
    int nfiles = test ? 1 : 5;
    /* every file present and of the right size before 150 MB are allocated */
    for (int f = 0; f < nfiles; f++) {
        char path[4200];
        if (test)
            snprintf(path, sizeof path, "%s/test_batch.bin", dir);
        else
            snprintf(path, sizeof path, "%s/data_batch_%d.bin", dir, f + 1);
        struct stat st;
        if (stat(path, &st) != 0)
            return rin_errorf(err, errlen, RIN_STATUS_IO, "cifar10: %s: cannot open: %s", path,
                              strerror(errno));
        if (S_ISREG(st.st_mode) && (long long)st.st_size != CIFAR_FILE_BYTES)
            return cifar_size_error(path, (long long)st.st_size, err, errlen);
    }
    d->n = nfiles * CIFAR_RECORDS;
    d->H = d->W = 32;
    d->C = 3;
    d->num_classes = 10;
    d->images = malloc((size_t)d->n * 3072);
    d->labels = malloc((size_t)d->n * sizeof *d->labels);
    uint8_t *buf = malloc((size_t)CIFAR_FILE_BYTES);
    rin_status s = RIN_STATUS_OK;
    if (!d->images || !d->labels || !buf)
        s = rin_errorf(err, errlen, RIN_STATUS_NOMEM, "cifar10: %s: out of memory for %d images",
                       dir, d->n);
    for (int f = 0; f < nfiles && !s; f++) {
        char path[4200];
        if (test)
            snprintf(path, sizeof path, "%s/test_batch.bin", dir);
        else
            snprintf(path, sizeof path, "%s/data_batch_%d.bin", dir, f + 1);
        s = cifar_read(d, path, f * CIFAR_RECORDS, buf, err, errlen);
    }
    free(buf);
    return s;
}

/* ---- PNG folders ----------------------------------------------------------------------------- */

static int cmp_name(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void free_names(char **names, int n) {
    for (int i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

/* The *.png names of dir (case-insensitive suffix), sorted by strcmp. */
static rin_status png_list(const char *dir, char ***out, int *count, char *err, size_t errlen) {
    DIR *dp = opendir(dir);
    if (!dp)
        return rin_errorf(err, errlen, RIN_STATUS_IO, "png:%s: cannot open folder: %s", dir,
                          strerror(errno));
    char **names = NULL;
    int n = 0, cap = 0;
    rin_status s = RIN_STATUS_OK;
    struct dirent *e;
    while ((e = readdir(dp)) != NULL) {
        if (e->d_name[0] == '.' || !ends_with(e->d_name, ".png", 1))
            continue;
        if (n == cap) {
            int nc = cap ? 2 * cap : 64;
            char **q = realloc(names, (size_t)nc * sizeof *q);
            if (!q) {
                s = rin_errorf(err, errlen, RIN_STATUS_NOMEM, "png:%s: out of memory", dir);
                break;
            }
            names = q;
            cap = nc;
        }
        names[n] = strdup(e->d_name);
        if (!names[n]) {
            s = rin_errorf(err, errlen, RIN_STATUS_NOMEM, "png:%s: out of memory", dir);
            break;
        }
        n++;
    }
    closedir(dp);
    if (!s && n == 0)
        s = rin_errorf(err, errlen, RIN_STATUS_FORMAT, "png:%s: no *.png files in the folder", dir);
    if (s) {
        free_names(names, n);
        return s;
    }
    qsort(names, (size_t)n, sizeof *names, cmp_name);
    *out = names;
    *count = n;
    return RIN_STATUS_OK;
}

/* Pixels (w*h, comp channels of 1..4) to C channels (1 or 3): grey is the luminance
 * 0.299 R + 0.587 G + 0.114 B rounded half up, RGB from grey replicates it, alpha is dropped. */
static void png_convert(const uint8_t *src, int comp, size_t npix, int C, uint8_t *dst) {
    for (size_t i = 0; i < npix; i++) {
        const uint8_t *p = src + i * (size_t)comp;
        int r, g, b;
        if (comp >= 3) {
            r = p[0];
            g = p[1];
            b = p[2];
        } else {
            r = g = b = p[0];
        }
        if (C == 1) {
            dst[i] = comp >= 3 ? (uint8_t)((299 * r + 587 * g + 114 * b + 500) / 1000) : (uint8_t)r;
        } else {
            dst[3 * i] = (uint8_t)r;
            dst[3 * i + 1] = (uint8_t)g;
            dst[3 * i + 2] = (uint8_t)b;
        }
    }
}

/* Decodes one file into out (H*W*C): convert, largest central square, resize. */
static rin_status png_one(const char *dir, const char *path, int H, int W, int C, uint8_t *out,
                          char *err, size_t errlen) {
    /* Only PNG, probed before decoding (rin_png_probe): stb_image would also decode other
     * formats hidden under a .png name, trusts chunk lengths, and allocates the whole image
     * before it finds the data short; only its PNG decoder is fuzzed (fuzz/fuzz_png.c). */
    byte_buf file = {0};
    rin_status rs = read_plain(&file, path, err, errlen);
    if (rs)
        return rs;
    int w, h, comp;
    const char *bad = rin_png_probe(file.p, file.n, &w, &h);
    if (!bad && (size_t)w * (size_t)h > RIN_PNG_MAX_PIXELS)
        bad = "larger than the limit of 64 megapixels";
    uint8_t *px = bad ? NULL : stbi_load_from_memory(file.p, (int)file.n, &w, &h, &comp, 0);
    free(file.p);
    if (bad)
        return rin_errorf(err, errlen, RIN_STATUS_FORMAT, "png:%s: %s: %s", dir, path, bad);
    if (!px) {
        const char *why = stbi_failure_reason();
        return rin_errorf(err, errlen, RIN_STATUS_FORMAT, "png:%s: cannot decode %s: %s", dir, path,
                          why ? why : "unknown error");
    }
    if (w <= 0 || h <= 0 || comp < 1 || comp > 4) {
        stbi_image_free(px);
        return rin_errorf(err, errlen, RIN_STATUS_FORMAT,
                          "png:%s: %s: unsupported image %dx%d with %d channels", dir, path, w, h,
                          comp);
    }
    size_t npix = (size_t)w * h;
    uint8_t *conv = malloc(npix * C);
    if (!conv) {
        stbi_image_free(px);
        return rin_errorf(err, errlen, RIN_STATUS_NOMEM, "png:%s: %s: out of memory (%dx%d)", dir,
                          path, w, h);
    }
    png_convert(px, comp, npix, C, conv);
    stbi_image_free(px);
    int side = w < h ? w : h, x0 = (w - side) / 2, y0 = (h - side) / 2;
    const uint8_t *crop = conv + ((size_t)y0 * w + x0) * C;
    rin_status s = RIN_STATUS_OK;
    if (side == H && side == W) {
        for (int r = 0; r < side; r++)
            memcpy(out + (size_t)r * W * C, crop + (size_t)r * w * C, (size_t)side * C);
    } else if (!stbir_resize_uint8(crop, side, side, w * C, out, W, H, 0, C)) {
        s = rin_errorf(err, errlen, RIN_STATUS_NOMEM, "png:%s: %s: resize from %dx%d failed", dir,
                       path, side, side);
    }
    free(conv);
    return s;
}

static rin_status load_png(rin_dataset *d, const char *dir, int H, int W, int C, char *err,
                           size_t errlen) {
    if (!*dir)
        return rin_errorf(err, errlen, RIN_STATUS_ARG, "png:DIR: missing folder name");
    if (H <= 0 || W <= 0 || (C != 1 && C != 3))
        return rin_errorf(err, errlen, RIN_STATUS_ARG,
                          "png:%s: images are resized to the model's size, which must be given "
                          "(got %dx%dx%d; channels 1 or 3)",
                          dir, H, W, C);
    char **names = NULL;
    int n = 0;
    rin_status s = png_list(dir, &names, &n, err, errlen);
    if (s)
        return s;
    size_t per = (size_t)H * W * C;
    d->images = malloc((size_t)n * per);
    if (!d->images)
        s = rin_errorf(err, errlen, RIN_STATUS_NOMEM, "png:%s: out of memory for %d images", dir,
                       n);
    for (int i = 0; i < n && !s; i++) {
        char path[4352];
        if (snprintf(path, sizeof path, "%s/%s", dir, names[i]) >= (int)sizeof path)
            s = rin_errorf(err, errlen, RIN_STATUS_ARG, "png:%s: path too long", dir);
        else
            s = png_one(dir, path, H, W, C, d->images + (size_t)i * per, err, errlen);
    }
    free_names(names, n);
    if (!s) {
        d->n = n;
        d->H = H;
        d->W = W;
        d->C = C;
    }
    return s;
}

/* ---- rin_dataset_load ------------------------------------------------------------------------ */

/* The data's size (h, w, c) against the model's (H, W, C); all zero accepts any. */
static rin_status size_check(const char *source, int h, int w, int c, int H, int W, int C,
                             char *err, size_t errlen) {
    if ((H || W || C) && (H != h || W != w || C != c))
        return rin_errorf(err, errlen, RIN_STATUS_FORMAT,
                          "dataset %s has %dx%dx%d images but the model expects %dx%dx%d", source,
                          h, w, c, H, W, C);
    return RIN_STATUS_OK;
}

rin_status rin_dataset_load(rin_dataset **out, const char *source, int H, int W, int C, char *err,
                            size_t errlen) {
    if (!out || !source)
        return rin_errorf(err, errlen, RIN_STATUS_ARG, "rin_dataset_load: NULL argument");
    *out = NULL;
    if (H < 0 || W < 0 || C < 0)
        return rin_errorf(err, errlen, RIN_STATUS_ARG, "dataset %s: negative size %dx%dx%d", source,
                          H, W, C);
    rin_dataset *d = calloc(1, sizeof *d);
    if (!d)
        return rin_errorf(err, errlen, RIN_STATUS_NOMEM, "dataset %s: out of memory", source);
    snprintf(d->name, sizeof d->name, "%s", source);
    rin_status s;
    int png = 0;
    if (!strncmp(source, "fmnist", 6) && (source[6] == '\0' || source[6] == ':'))
        s = load_fmnist(d, source + 6, err, errlen);
    else if (!strncmp(source, "idx:", 4))
        s = load_idx(d, source + 4, err, errlen);
    else if (!strncmp(source, "cifar10:", 8)) {
        /* the size is known before reading 150 MB */
        s = size_check(source, 32, 32, 3, H, W, C, err, errlen);
        if (!s)
            s = load_cifar(d, source + 8, err, errlen);
    } else if (!strncmp(source, "png:", 4)) {
        png = 1;
        s = load_png(d, source + 4, H, W, C, err, errlen);
    } else
        s = rin_errorf(err, errlen, RIN_STATUS_ARG,
                       "unknown dataset source '%s' (expected fmnist, fmnist:train, fmnist:test, "
                       "idx:IMAGES[,LABELS], cifar10:DIR[:test] or png:DIR)",
                       source);
    if (!s && !png)
        s = size_check(source, d->H, d->W, d->C, H, W, C, err, errlen);
    if (s) {
        rin_dataset_free(d);
        return s;
    }
    *out = d;
    return RIN_STATUS_OK;
}

void rin_dataset_free(rin_dataset *d) {
    if (!d)
        return;
    free(d->images);
    free(d->labels);
    free(d);
}

/* ---- batcher --------------------------------------------------------------------------------- */

/* The permutation of b->epoch: Fisher-Yates over the identity, j = u64 % (i + 1). */
static void batcher_perm(rin_batcher *b) {
    int n = b->d->n;
    rin_rng r;
    rin_rng_seed(&r, rin_hash64(b->seed, STREAM_SHUFFLE, (uint64_t)b->epoch));
    for (int i = 0; i < n; i++)
        b->perm[i] = i;
    for (int i = n - 1; i > 0; i--) {
        int j = (int)(rin_rng_u64(&r) % (uint64_t)(i + 1));
        int t = b->perm[i];
        b->perm[i] = b->perm[j];
        b->perm[j] = t;
    }
}

rin_status rin_batcher_init(rin_batcher *b, const rin_dataset *d, uint64_t seed, int random_flip,
                            long epoch, long pos) {
    if (!b)
        return RIN_STATUS_ARG;
    memset(b, 0, sizeof *b);
    if (!d || d->n <= 0 || !d->images || epoch < 0 || pos < 0 || pos > d->n)
        return RIN_STATUS_ARG;
    b->perm = malloc((size_t)d->n * sizeof *b->perm);
    if (!b->perm)
        return RIN_STATUS_NOMEM;
    b->d = d;
    b->seed = seed;
    b->random_flip = random_flip != 0;
    b->epoch = epoch;
    b->pos = pos;
    batcher_perm(b);
    return RIN_STATUS_OK;
}

void rin_batcher_free(rin_batcher *b) {
    if (!b)
        return;
    free(b->perm);
    b->perm = NULL;
}

/* Before each image: past the end of the epoch, the next epoch's permutation starts. */
static void batcher_wrap(rin_batcher *b) {
    if (b->pos >= b->d->n) {
        b->epoch++;
        b->pos = 0;
        batcher_perm(b);
    }
}

void rin_batcher_skip(rin_batcher *b, long n) {
    RIN_ASSERT(b && b->perm && n >= 0);
    for (long i = 0; i < n; i++) {
        batcher_wrap(b);
        b->pos++;
    }
}

void rin_batcher_next(rin_batcher *b, int B, float b_scale, float *x0, int *labels) {
    RIN_ASSERT(b && b->perm && B >= 0 && (x0 || B == 0));
    const rin_dataset *d = b->d;
    int H = d->H, W = d->W, C = d->C;
    size_t per = (size_t)H * W * C;
    float lut[256];
    for (int u = 0; u < 256; u++)
        lut[u] = (2.0f * (float)u / 255.0f - 1.0f) * b_scale;
    for (int i = 0; i < B; i++) {
        batcher_wrap(b);
        int idx = b->perm[b->pos];
        uint64_t counter = (uint64_t)b->epoch * (uint64_t)d->n + (uint64_t)b->pos;
        int flip = b->random_flip && rin_counter_uniform(b->seed, STREAM_FLIP, counter) < 0.5f;
        const uint8_t *src = d->images + (size_t)idx * per;
        float *dst = x0 + (size_t)i * per;
        if (!flip) {
            for (size_t k = 0; k < per; k++)
                dst[k] = lut[src[k]];
        } else {
            for (int h = 0; h < H; h++)
                for (int w = 0; w < W; w++)
                    for (int c = 0; c < C; c++)
                        dst[((size_t)h * W + w) * C + c] =
                            lut[src[((size_t)h * W + (W - 1 - w)) * C + c]];
        }
        if (labels && d->labels)
            labels[i] = d->labels[idx];
        b->pos++;
    }
}
