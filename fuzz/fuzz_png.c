/* fuzz_png.c -- the PNG readers: rin_png_read (tests, evaluation of PNG folders) and the png:
 * dataset source (decode, convert channels, centre-crop, resize to 8x8x3). stb_image's PNG
 * decoder is compiled in with instrumentation (stb_image_impl.c).
 *
 * Inputs whose header claims more than 256x256 pixels are skipped: stb_image allocates the whole
 * image before it finds the pixel data short, so such inputs spend the time budget in malloc rather
 * than in the decoder. The readers' own size limits are tested in tests/test_hardening.c. */
#include <stdio.h>
#include <stdlib.h>

#include "data.h"
#include "fuzz.h"
#include "imageio.h"
#include "internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char path[600], src[700], err[512];
    int w0, h0;
    if (!rin_png_probe(data, size, &w0, &h0) && (long)w0 * h0 > 65536)
        return 0;
    fuzz_path(path, sizeof path, "x.png");
    fuzz_write(path, data, size);
    uint8_t *px;
    int H, W, C;
    if (rin_png_read(path, &px, &H, &W, &C, err, sizeof err) == RIN_STATUS_OK) {
        if (H < 1 || W < 1 || (C != 1 && C != 3))
            abort();
        volatile uint8_t sink = px[(size_t)H * W * C - 1]; /* the whole image is there */
        (void)sink;
        free(px);
    } else if (!err[0]) {
        abort();
    }
    snprintf(src, sizeof src, "png:%s", fuzz_dir());
    rin_dataset *d;
    if (rin_dataset_load(&d, src, 8, 8, 3, err, sizeof err) == RIN_STATUS_OK) {
        if (d->n != 1 || d->H != 8 || d->W != 8 || d->C != 3)
            abort();
        rin_dataset_free(d);
    } else if (!err[0]) {
        abort();
    }
    return 0;
}
