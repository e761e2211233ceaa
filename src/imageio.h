/* imageio.h -- image output: PNG files, sample grids, trajectory strips; the training report.
 *
 * PNG encoding is stb_image_write (Debian libstb-dev); files are written atomically (temporary
 * file, fsync, rename). Float images map to bytes as round(255 (x/(2b) + 0.5)) clamped to
 * [0, 255], the inverse of the data scaling of spec 3.2.
 */
#ifndef RIN_IMAGEIO_H
#define RIN_IMAGEIO_H

#include <stddef.h>
#include <stdint.h>

#include "rin.h"

/* Writes an 8-bit PNG (C = 1 grey or 3 RGB) atomically. */
rin_status rin_png_write(const char *path, const uint8_t *pixels, int H, int W, int C, char *err,
                         size_t errlen);
/* Encodes a PNG into memory (malloc'd *out, *outlen), for embedding in HTML. */
rin_status rin_png_encode(uint8_t **out, size_t *outlen, const uint8_t *pixels, int H, int W,
                          int C);
/* Reads a PNG (for tests and PNG datasets): *pixels malloc'd (H, W, C), C = 1 or 3 (grey
 * alpha and RGBA are converted). */
rin_status rin_png_read(const char *path, uint8_t **pixels, int *H, int *W, int *C, char *err,
                        size_t errlen);

/* Checks a PNG in memory before decoding: signature, IHDR first, every chunk inside the file,
 * an IEND. Returns NULL and the size (*W, *H), or the reason it is not a usable PNG. */
const char *rin_png_probe(const uint8_t *png, size_t len, int *W, int *H);

/* float in [-b, b] -> byte, see above. */
void rin_float_to_u8(uint8_t *dst, const float *src, size_t n, float b);

/* Tiles N images (N, H, W, C) floats in [-b, b] into a grid of `cols` columns with a `pad`
 * pixel border of grey 128; the result (*GH, *GW, C) is malloc'd into *out. */
rin_status rin_grid_make(uint8_t **out, int *GH, int *GW, const float *imgs, int N, int H, int W,
                         int C, int cols, int pad, float b);
/* rin_grid_make + rin_png_write. */
rin_status rin_grid_write(const char *path, const float *imgs, int N, int H, int W, int C, int cols,
                          float b, char *err, size_t errlen);

/* The self-contained training report (report.html): inline SVG curves of loss and learning
 * rate against step, the run's config, and the latest sample grid embedded as a data: URI. */
typedef struct rin_report {
    const char *title;       /* e.g. the run directory */
    const char *config_text; /* "key=value" lines, shown as a table */
    const long *steps;       /* (n) */
    const double *loss;      /* (n) */
    const double *lr;        /* (n) */
    int n;
    const char *grid_png; /* path of the latest sample grid, or NULL */
    const char *notes;    /* free text (progress, timing), or NULL */
} rin_report;
rin_status rin_report_write(const char *path, const rin_report *r, char *err, size_t errlen);

#endif /* RIN_IMAGEIO_H */
