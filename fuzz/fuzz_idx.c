/* fuzz_idx.c -- the IDX dataset reader ("idx:IMAGES[,LABELS]", plain or gzipped), then a few
 * batches of what it accepted.
 *
 * Input: byte 0 flags (bit 0: a label file, bit 1: the image file is gzipped, bit 2: the label
 * file is gzipped), bytes 1-2 the length of the image file (little-endian, clamped), then the
 * image file's bytes, then the label file's. */
#include <stdio.h>
#include <stdlib.h>

#include "data.h"
#include "fuzz.h"
#include "internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 3)
        return 0;
    int flags = data[0];
    size_t ilen = (size_t)data[1] | (size_t)data[2] << 8;
    data += 3;
    size -= 3;
    if (ilen > size)
        ilen = size;
    char img[600], lab[600], src[1300], err[512];
    fuzz_path(img, sizeof img, flags & 2 ? "img.idx.gz" : "img.idx");
    fuzz_path(lab, sizeof lab, flags & 4 ? "lab.idx.gz" : "lab.idx");
    fuzz_write(img, data, ilen);
    if (flags & 1) {
        fuzz_write(lab, data + ilen, size - ilen);
        snprintf(src, sizeof src, "idx:%s,%s", img, lab);
    } else {
        snprintf(src, sizeof src, "idx:%s", img);
    }
    rin_dataset *d;
    if (rin_dataset_load(&d, src, 0, 0, 0, err, sizeof err) != RIN_STATUS_OK) {
        if (!err[0])
            abort();
        return 0;
    }
    if (d->n < 1 || d->H < 1 || d->W < 1 || d->C != 1 || (d->labels && d->num_classes < 1))
        abort();
    rin_batcher b;
    if (rin_batcher_init(&b, d, 7, 1, 0, 0) == RIN_STATUS_OK) {
        size_t per = (size_t)d->H * d->W;
        if (per <= 1u << 20) {
            float *x = malloc(3 * per * sizeof(float));
            int labels[3];
            rin_batcher_next(&b, 3, 1.0f, x, labels);
            for (size_t i = 0; i < 3 * per; i++)
                if (!(x[i] >= -1.0f && x[i] <= 1.0f))
                    abort();
            free(x);
        }
        rin_batcher_free(&b);
    }
    rin_dataset_free(d);
    return 0;
}
