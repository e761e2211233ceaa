/* imageio.h -- image output: PNG files with text chunks, sample grids, trajectory strips. The
 * training report that shows them is the program's (cli/report.h).
 *
 * PNG encoding is stb_image_write (Debian libstb-dev); files are written atomically (temporary
 * file, fsync, rename). Float images map to bytes as round(255 (x/(2b) + 0.5)) clamped to
 * [0, 255], the inverse of the data scaling of spec 3.2. Grids of small images are enlarged by
 * a whole number (nearest neighbour) so that people can see them; PNGs of samples carry their
 * provenance (checkpoint hash, step, sampler, ...) in tEXt chunks, which `rin info FILE.png`
 * prints.
 */
#ifndef RIN_IMAGEIO_H
#define RIN_IMAGEIO_H

#include <stddef.h>
#include <stdint.h>

#include "rin.h"
#include "rin_image.h" /* the public part: PNG read and write, grids */

/* Copies the UTF-8 string src into dst (cap bytes, NUL-terminated, truncated to fit) as a valid
 * tEXt value: characters U+0020-U+007E, U+00A1-U+00FF and line feeds become their Latin-1
 * byte, anything else (other characters, control bytes, malformed UTF-8) a '?'. */
void rin_png_text_latin1(char *dst, size_t cap, const char *src);
/* Encodes a PNG into memory (malloc'd *out, *outlen), e.g. for embedding in HTML. */
rin_status rin_png_encode(uint8_t **out, size_t *outlen, const uint8_t *pixels, int H, int W,
                          int C);

/* Checks a PNG in memory before decoding: signature, IHDR first, every chunk inside the file,
 * an IEND. Returns NULL and the size (*W, *H), or the reason it is not a usable PNG. */
const char *rin_png_probe(const uint8_t *png, size_t len, int *W, int *H);

/* Reads the whole file path into *data (malloc'd, *len bytes; free it). Errors name the file:
 * RIN_STATUS_IO "PATH: cannot open: ..." or "PATH: read failed: ...", RIN_STATUS_NOMEM. */
rin_status rin_read_whole_file(const char *path, uint8_t **data, size_t *len, char *err,
                               size_t errlen);

/* What `rin info FILE.png` shows: the header and the text chunks, every chunk's CRC verified. */
typedef struct rin_png_info {
    int W, H, bit_depth, color_type; /* from IHDR; colour type 0 grey, 2 RGB, 4/6 with alpha */
    int ntext;
    rin_png_text *text; /* (ntext) in file order, Latin-1 bytes as stored; one allocation */
} rin_png_info;
/* Reads path's chunks (no pixels are decoded). A file that is not a PNG, is truncated, has a
 * chunk whose CRC does not match or a tEXt chunk without its keyword separator fails with
 * RIN_STATUS_FORMAT and a message naming the file. Free with rin_png_info_free. */
rin_status rin_png_info_read(const char *path, rin_png_info *info, char *err, size_t errlen);
void rin_png_info_free(rin_png_info *info);
/* rin_png_info_read on a PNG held in memory (len bytes): RIN_STATUS_OK, RIN_STATUS_NOMEM, or
 * RIN_STATUS_FORMAT with *why the reason and *why_at the offset of the chunk at fault (0 when no
 * chunk is); no message is formatted, so the caller names the file its own way. */
rin_status rin_png_info_parse(const uint8_t *png, size_t len, rin_png_info *info, const char **why,
                              size_t *why_at);
/* The value of the first text chunk with this keyword, or NULL. */
const char *rin_png_info_text(const rin_png_info *info, const char *key);

/* Tiles N images (N, H, W, C) floats in [-b, b] into a grid of `cols` columns with a `pad`
 * pixel border of grey 128; the result (*GH, *GW, C) is malloc'd into *out. */
rin_status rin_grid_make(uint8_t **out, int *GH, int *GW, const float *imgs, int N, int H, int W,
                         int C, int cols, int pad, float b);

/* Nearest-neighbour enlargement by a whole number: *out (H s, W s, C) malloc'd, pixel (y, x) of
 * it is pixel (y / s, x / s) of in. RIN_STATUS_ARG for s < 1, C outside 1-4 or a result too
 * large for a PNG. */
rin_status rin_image_upscale(uint8_t **out, const uint8_t *in, int H, int W, int C, int s);
/* The smallest pixels a person should have to look at in a grid, per image side. */
#define RIN_GRID_MIN_PX 84
/* The enlargement that shows an H x W image at least RIN_GRID_MIN_PX pixels on its longer side:
 * ceil(84 / max(H, W)), 1 for images of 84 pixels and more (28 and 32 -> 3, 64 -> 2). */
int rin_grid_auto_scale(int H, int W);

#endif /* RIN_IMAGEIO_H */
