/* rin_image.h -- rin's image files, for programs that embed rin (a second-tier public header
 * next to rin.h; docs/library.md): 8-bit PNGs read and written, float images in [-b, b] turned
 * into bytes and tiled into grids.
 *
 * PNG encoding is stb_image_write (Debian libstb-dev), decoding stb_image; files are written
 * atomically (temporary file, fsync, rename). Float images map to bytes as round(255 (x/(2b) +
 * 0.5)) clamped to [0, 255]; rin_generate's pixels v in [0, 1] become the same bytes as
 * round(255 v).
 */
#ifndef RIN_IMAGE_H
#define RIN_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#include "rin.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One tEXt chunk (PNG specification 11.3.4.3): a keyword of 1-79 printable Latin-1 characters
 * (bytes 32-126 and 161-255) without leading, trailing or consecutive spaces, and a value of
 * printable Latin-1 characters and line feeds. Both are NUL-terminated C strings. */
typedef struct rin_png_text {
    const char *key;
    const char *value;
} rin_png_text;

/* Writes an 8-bit PNG (C = 1 grey or 3 RGB) atomically. */
RIN_API rin_status rin_png_write(const char *path, const uint8_t *pixels, int H, int W, int C,
                                 char *err, size_t errlen);
/* The same with ntext tEXt chunks, placed right after IHDR in the given order. A key or value
 * that breaks the rules above is refused (RIN_STATUS_ARG, naming the key) before anything is
 * written. */
RIN_API rin_status rin_png_write_text(const char *path, const uint8_t *pixels, int H, int W, int C,
                                      const rin_png_text *text, int ntext, char *err,
                                      size_t errlen);
/* Reads a PNG: *pixels malloc'd (H, W, C), C = 1 or 3 (grey
 * alpha and RGBA are converted). */
RIN_API rin_status rin_png_read(const char *path, uint8_t **pixels, int *H, int *W, int *C,
                                char *err, size_t errlen);

/* float in [-b, b] -> byte, see above. */
RIN_API void rin_float_to_u8(uint8_t *dst, const float *src, size_t n, float b);

/* N images (N, H, W, C) floats in [-b, b] tiled into `cols` columns with 2-pixel grey
 * borders, enlarged `scale` times (0: enough to show each image at 84 pixels or more), and
 * written with rin_png_write_text (text may be NULL when ntext = 0). */
RIN_API rin_status rin_grid_write(const char *path, const float *imgs, int N, int H, int W, int C,
                                  int cols, float b, int scale, const rin_png_text *text, int ntext,
                                  char *err, size_t errlen);

#ifdef __cplusplus
}
#endif
#endif /* RIN_IMAGE_H */
