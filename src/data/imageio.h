/* imageio.h -- image output: PNG files with text chunks, sample grids, trajectory strips; the
 * training report.
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
/* Encodes a PNG into memory (malloc'd *out, *outlen), for embedding in HTML. */
rin_status rin_png_encode(uint8_t **out, size_t *outlen, const uint8_t *pixels, int H, int W,
                          int C);

/* Checks a PNG in memory before decoding: signature, IHDR first, every chunk inside the file,
 * an IEND. Returns NULL and the size (*W, *H), or the reason it is not a usable PNG. */
const char *rin_png_probe(const uint8_t *png, size_t len, int *W, int *H);

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

/* The self-contained training report (report.html): inline SVG curves of loss and learning
 * rate against step, the latest sample grid large with a caption, the grids of the run's history
 * as a slider (an <input type=range> and a few lines of inline script that show one of them in
 * place of the latest) over a strip of thumbnails, and the run's config. Every image is
 * embedded as a data: URI, so the one file works opened from disk, with no server.
 *
 * Captions: the latest grid's is grid_caption, or else built from the PNG's own text chunks
 * (step, sampler, steps, seed); a history grid's from its text chunks, or else "step N". A
 * missing or unreadable grid file is named on the page (the latest) or left out (history); it
 * never fails the report. Elements with ids for checks: img#latest, svg#loss, svg#lr,
 * input#history, div#thumbs. */
typedef struct rin_report {
    const char *title;       /* e.g. the run directory */
    const char *config_text; /* "key=value" lines, shown as a table */
    const long *steps;       /* (n) */
    const double *loss;      /* (n) */
    const double *lr;        /* (n) */
    int n;
    const char *grid_png;           /* path of the latest sample grid, or NULL */
    const char *grid_caption;       /* text under the latest grid, or NULL (see above) */
    const char *notes;              /* free text (progress, timing), or NULL */
    const char *const *history_png; /* (nhistory) earlier grids and the latest, oldest first */
    const long *history_steps;      /* (nhistory) their steps, for captions; or NULL */
    int nhistory;                   /* 0: no history section */
} rin_report;
rin_status rin_report_write(const char *path, const rin_report *r, char *err, size_t errlen);

#endif /* RIN_IMAGEIO_H */
