/* fuzz_cifar.c -- the CIFAR-10 reader: the record decoder (rin_cifar_decode) on the input, and
 * the file-level checks of rin_dataset_load ("cifar10:DIR:test") on the input as a batch file. A
 * real batch file is 30,730,000 bytes, too large to mutate usefully, so the decoder is fuzzed on
 * buffers of any length; the file reader's only other job, the exact-size check, is exercised on
 * every input. */
#include <stdlib.h>

#include "data.h"
#include "fuzz.h"
#include "internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char err[512], path[600], src[700];
    size_t nrec = size / 3073 + 1;
    uint8_t *images = malloc(nrec * 3072);
    int *labels = malloc(nrec * sizeof *labels);
    rin_status s = rin_cifar_decode(images, labels, data, size, "fuzz", err, sizeof err);
    if (s == RIN_STATUS_OK) {
        if (size % 3073)
            abort();
        for (size_t i = 0; i < size / 3073; i++)
            if (labels[i] < 0 || labels[i] > 9 || images[i * 3072] != data[i * 3073 + 1])
                abort();
    } else if (!err[0]) {
        abort();
    }
    free(images);
    free(labels);

    fuzz_path(path, sizeof path, "test_batch.bin");
    fuzz_write(path, data, size);
    snprintf(src, sizeof src, "cifar10:%s:test", fuzz_dir());
    rin_dataset *d;
    if (rin_dataset_load(&d, src, 32, 32, 3, err, sizeof err) == RIN_STATUS_OK)
        abort(); /* no input of a fuzzer's size is a whole batch file */
    if (!err[0])
        abort();
    return 0;
}
