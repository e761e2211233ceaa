/* data.h -- datasets and batches (shared/spec/evaluation.md section 1).
 *
 * A dataset is held in memory as uint8 NHWC images plus optional labels. Sources:
 *   "fmnist" / "fmnist:train" / "fmnist:test"  Debian's dataset-fashion-mnist (gzipped IDX under
 *                           /usr/share/datasets/fashion-mnist; $RIN_FMNIST_DIR overrides), with the
 *                           decompressed SHA-256 of evaluation.md verified;
 *   "idx:IMAGES[,LABELS]"   any MNIST-format IDX files, gzipped or not;
 *   "cifar10:DIR[:test]"    CIFAR-10 binary batches data_batch_1..5.bin (or test_batch.bin);
 *   "png:DIR"               a folder of PNG images (no labels), centre-cropped to a square and
 *                           resized to the model's size.
 * Every failure names the file and what was wrong (missing package, truncated file, bad magic).
 */
#ifndef RIN_DATA_H
#define RIN_DATA_H

#include <stddef.h>
#include <stdint.h>

#include "rin.h"

typedef struct rin_dataset {
    int n, H, W, C;
    uint8_t *images; /* (n, H, W, C) */
    int *labels;     /* (n) or NULL */
    int num_classes; /* 0 when there are no labels */
    char name[256];  /* the source string */
} rin_dataset;

/* Loads `source`. H, W, C: the size the caller needs (the model's): PNG folders are resized to
 * it; other sources must match it exactly, else RIN_STATUS_FORMAT naming both sizes. Pass
 * H = W = C = 0 to accept the source's own size (not for PNG folders). */
rin_status rin_dataset_load(rin_dataset **out, const char *source, int H, int W, int C, char *err,
                            size_t errlen);
void rin_dataset_free(rin_dataset *d);

/* Shuffled batches, deterministic by seed: epoch e visits the images in the permutation drawn
 * from (seed, e); a flipped image (random_flip) is chosen by the counter hash of (seed, epoch,
 * position). The whole state is (epoch, pos), so a resumed run continues exactly. */
typedef struct rin_batcher {
    const rin_dataset *d;
    uint64_t seed;
    int random_flip;
    long epoch, pos;
    int *perm; /* (n), the permutation of `epoch` */
} rin_batcher;

rin_status rin_batcher_init(rin_batcher *b, const rin_dataset *d, uint64_t seed, int random_flip,
                            long epoch, long pos);
void rin_batcher_free(rin_batcher *b);
/* The next B images as floats x0 = (2 u/255 - 1) * b_scale, (B, H, W, C); labels (B) when the
 * dataset has them and labels != NULL. Wraps into the next epoch as needed. */
void rin_batcher_next(rin_batcher *b, int B, float b_scale, float *x0, int *labels);
/* Moves past n images as rin_batcher_next would, without reading them (a data-parallel rank
 * skips the other ranks' shares of the global batch). */
void rin_batcher_skip(rin_batcher *b, long n);

/* Decodes len bytes of CIFAR-10 binary records (a whole number of 3073-byte records: label
 * 0..9, then planar R, G, B 32x32) into images (NHWC, 3072 bytes each) and labels; path names
 * the source in errors. The file reader checks the file size; this checks everything else. */
rin_status rin_cifar_decode(uint8_t *images, int *labels, const uint8_t *buf, size_t len,
                            const char *path, char *err, size_t errlen);

/* The largest PNG (width x height) a png: dataset accepts: 64 megapixels. */
#define RIN_PNG_MAX_PIXELS (1 << 26)

/* SHA-256 of a buffer as 64 lowercase hex characters plus NUL (OpenSSL's libcrypto). */
void rin_sha256_hex(const void *data, size_t len, char out[65]);
/* SHA-256 of a file's bytes, read in pieces, as 64 lower-case hex digits (out[65]). */
rin_status rin_file_sha256_hex(const char *path, char out[65], char *err, size_t errlen);

#endif /* RIN_DATA_H */
