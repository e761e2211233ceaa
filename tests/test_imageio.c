/* test_imageio.c -- T6 tests of PNG files, sample grids (src/data/imageio.c) and the training
 * report that shows them (cli/report.c, linked from librin_cli.a).
 *
 * Exact bytes of the float -> byte mapping; bitwise PNG round trips (grey and RGB, odd sizes),
 * conversion of grey+alpha and RGBA files on read, rejection of non-PNG files and atomic-write
 * failures; grid geometry and padding; the report's charts, escaping, embedded PNG (decoded
 * here and compared with the file byte for byte), the n = 0 and n = 1 cases, and downsampling.
 * Every test works in its own directory from mkdtemp under /tmp and removes it.
 */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <stb_image_write.h>
#include <zlib.h>

#include "data.h"
#include "imageio.h"
#include "internal.h"
#include "report.h"
#include "test.h"

/* ---- helpers --------------------------------------------------------------------------------- */

/* The whole file, NUL-terminated (so text can be searched); NULL on failure. */
static uint8_t *read_all(const char *path, size_t *n) {
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return NULL;
    uint8_t *buf = NULL;
    size_t cap = 0, len = 0;
    for (;;) {
        if (len + 1 >= cap) {
            cap = cap ? 2 * cap : 4096;
            uint8_t *b = realloc(buf, cap);
            if (!b) {
                free(buf);
                fclose(fp);
                return NULL;
            }
            buf = b;
        }
        size_t got = fread(buf + len, 1, cap - len - 1, fp);
        len += got;
        if (got == 0)
            break;
    }
    fclose(fp);
    buf[len] = 0;
    *n = len;
    return buf;
}

static int count_substr(const char *s, const char *sub) {
    int n = 0;
    size_t l = strlen(sub);
    for (const char *p = strstr(s, sub); p; p = strstr(p + l, sub))
        n++;
    return n;
}

/* Decodes standard base64 up to the first character outside the alphabet (and '='). Returns
 * the decoded length, or (size_t)-1 on malformed input (bad length, misplaced padding). */
static size_t b64_decode(uint8_t *out, const char *in, const char **end) {
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t n = 0, len = 0;
    uint32_t acc = 0;
    int pad = 0;
    const char *p = in;
    for (; *p; p++) {
        const char *q = strchr(tab, *p); /* *p != 0 here */
        if (*p == '=') {
            pad++;
            acc <<= 6;
        } else if (q) {
            if (pad)
                return (size_t)-1;
            acc = acc << 6 | (uint32_t)(q - tab);
        } else {
            break;
        }
        if (++n % 4 == 0) {
            if (pad > 2)
                return (size_t)-1;
            out[len++] = (uint8_t)(acc >> 16);
            if (pad < 2)
                out[len++] = (uint8_t)(acc >> 8);
            if (pad < 1)
                out[len++] = (uint8_t)acc;
            acc = 0;
        }
    }
    *end = p;
    if (n % 4 != 0)
        return (size_t)-1;
    return len;
}

/* ---- float -> byte --------------------------------------------------------------------------- */

TEST(imageio_float_to_u8) {
    /* b = 1: 255 (x/2 + 0.5); 0 -> 127.5 rounds to even 128 */
    const float x1[] = {-1.0f, 0.0f,      1.0f,     -2.0f, 3.0f,  -1e30f, 1e30f,
                        NAN,   -INFINITY, INFINITY, 0.5f,  -0.5f, 0.25f};
    const uint8_t e1[] = {0, 128, 255, 0, 255, 0, 255, 0, 0, 255, 191, 64, 159};
    /* 0.5: 191.25 -> 191; -0.5: 63.75 -> 64; 0.25: 159.375 -> 159 */
    uint8_t got[13];
    memset(got, 0xAA, sizeof got);
    rin_float_to_u8(got, x1, 13, 1.0f);
    for (int i = 0; i < 13; i++)
        CHECK_MSG(got[i] == e1[i], "b=1 x[%d]=%g: got %d, expected %d", i, (double)x1[i], got[i],
                  e1[i]);

    /* b = 0.5: 255 (x + 0.5) */
    const float x2[] = {-0.5f, 0.0f, 0.5f, -1.0f, 1.0f, NAN, 0.25f, -0.25f, 0.1f};
    const uint8_t e2[] = {0, 128, 255, 0, 255, 0, 191, 64, 153};
    /* 0.25: 191.25; -0.25: 63.75; 0.1f: 255 * 0.6 = 153.0 (in float) */
    memset(got, 0xAA, sizeof got);
    rin_float_to_u8(got, x2, 9, 0.5f);
    for (int i = 0; i < 9; i++)
        CHECK_MSG(got[i] == e2[i], "b=0.5 x[%d]=%g: got %d, expected %d", i, (double)x2[i], got[i],
                  e2[i]);

    /* every byte k survives the round trip k -> (k/255 - 0.5) 2b -> byte */
    float x3[256];
    uint8_t got3[256];
    for (int k = 0; k < 256; k++)
        x3[k] = ((float)k / 255.0f - 0.5f) * 2.0f;
    rin_float_to_u8(got3, x3, 256, 1.0f);
    for (int k = 0; k < 256; k++)
        CHECK_MSG(got3[k] == k, "byte %d came back as %d", k, got3[k]);
}

/* ---- PNG ------------------------------------------------------------------------------------- */

static void png_roundtrip(const test_dir *d, int H, int W, int C) {
    char path[128], name[32];
    snprintf(name, sizeof name, "rt_%dx%dx%d.png", H, W, C);
    test_dir_file(path, sizeof path, d, name);
    size_t n = (size_t)H * W * C;
    uint8_t *px = malloc(n);
    for (size_t i = 0; i < n; i++)
        px[i] = (uint8_t)(i * 37u + 11u); /* every byte value pattern, no smooth gradient */
    char err[256] = "";
    rin_status s = rin_png_write(path, px, H, W, C, err, sizeof err);
    CHECK_MSG(s == RIN_STATUS_OK, "write %s: %s", path, err);

    size_t flen = 0;
    uint8_t *file = read_all(path, &flen);
    static const uint8_t sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    CHECK(file && flen > 8 && memcmp(file, sig, 8) == 0);

    /* rin_png_encode gives the same bytes as the file */
    uint8_t *mem = NULL;
    size_t mlen = 0;
    CHECK(rin_png_encode(&mem, &mlen, px, H, W, C) == RIN_STATUS_OK);
    CHECK(file && mem && mlen == flen && memcmp(mem, file, flen) == 0);

    uint8_t *back = NULL;
    int h = 0, w = 0, c = 0;
    s = rin_png_read(path, &back, &h, &w, &c, err, sizeof err);
    CHECK_MSG(s == RIN_STATUS_OK, "read %s: %s", path, err);
    CHECK_MSG(h == H && w == W && c == C, "read back %dx%dx%d, wrote %dx%dx%d", h, w, c, H, W, C);
    CHECK(back && h == H && w == W && c == C && memcmp(back, px, n) == 0);
    free(back);
    free(mem);
    free(file);
    free(px);
}

TEST(imageio_png_roundtrip) {
    test_dir d = test_dir_make("io");
    if (!d.ok)
        return;
    png_roundtrip(&d, 7, 5, 1);
    png_roundtrip(&d, 7, 5, 3);
    png_roundtrip(&d, 5, 7, 3);
    png_roundtrip(&d, 1, 1, 1);
    png_roundtrip(&d, 13, 3, 3);
    CHECK(test_dir_count(&d, NULL) == 5); /* no temporary files left */
    test_dir_remove(&d);
}

/* Grey+alpha files read as grey, RGBA files as RGB (alpha dropped, colour kept). */
TEST(imageio_png_read_converts_alpha) {
    test_dir d = test_dir_make("io");
    if (!d.ok)
        return;
    enum { H = 3, W = 5 };
    uint8_t ga[H * W * 2], rgba[H * W * 4];
    for (int i = 0; i < H * W; i++) {
        ga[2 * i] = (uint8_t)(17 * i);
        ga[2 * i + 1] = (uint8_t)(255 - 3 * i); /* alpha, not premultiplied on read */
        for (int k = 0; k < 3; k++)
            rgba[4 * i + k] = (uint8_t)(29 * i + 71 * k);
        rgba[4 * i + 3] = (uint8_t)(7 * i);
    }
    char p2[128], p4[128], err[256] = "";
    test_dir_file(p2, sizeof p2, &d, "ga.png");
    test_dir_file(p4, sizeof p4, &d, "rgba.png");
    CHECK(stbi_write_png(p2, W, H, 2, ga, W * 2) != 0);
    CHECK(stbi_write_png(p4, W, H, 4, rgba, W * 4) != 0);

    uint8_t *px = NULL;
    int h, w, c;
    CHECK(rin_png_read(p2, &px, &h, &w, &c, err, sizeof err) == RIN_STATUS_OK);
    CHECK(px && h == H && w == W && c == 1);
    for (int i = 0; px && c == 1 && i < H * W; i++)
        CHECK_MSG(px[i] == ga[2 * i], "grey+alpha pixel %d: %d vs %d", i, px[i], ga[2 * i]);
    free(px);
    px = NULL;
    CHECK(rin_png_read(p4, &px, &h, &w, &c, err, sizeof err) == RIN_STATUS_OK);
    CHECK(px && h == H && w == W && c == 3);
    for (int i = 0; px && c == 3 && i < H * W; i++)
        for (int k = 0; k < 3; k++)
            CHECK(px[3 * i + k] == rgba[4 * i + k]);
    free(px);
    test_dir_remove(&d);
}

TEST(imageio_png_errors) {
    test_dir d = test_dir_make("io");
    if (!d.ok)
        return;
    char path[128], err[256];
    uint8_t *px = (uint8_t *)"sentinel";
    int h = -1, w = -1, c = -1;

    /* not a PNG: the message names the file */
    test_dir_file(path, sizeof path, &d, "not_a.png");
    const char text[] = "P5\n2 2\n255\nabcd this is not a PNG";
    CHECK(test_write_bytes(path, text, sizeof text - 1));
    err[0] = 0;
    rin_status s = rin_png_read(path, &px, &h, &w, &c, err, sizeof err);
    CHECK(s == RIN_STATUS_FORMAT);
    CHECK_MSG(strstr(err, path) != NULL, "message does not name the file: %s", err);
    CHECK(px == NULL && h == 0 && w == 0 && c == 0);

    /* a truncated PNG: signature right, chunks cut off; stb's reason follows the file name */
    uint8_t img[4 * 4] = {0};
    uint8_t *png = NULL;
    size_t plen = 0;
    CHECK(rin_png_encode(&png, &plen, img, 4, 4, 1) == RIN_STATUS_OK);
    test_dir_file(path, sizeof path, &d, "truncated.png");
    CHECK(png && test_write_bytes(path, png, plen / 2));
    err[0] = 0;
    s = rin_png_read(path, &px, &h, &w, &c, err, sizeof err);
    CHECK(s == RIN_STATUS_FORMAT);
    CHECK_MSG(strstr(err, path) != NULL, "message does not name the file: %s", err);
    free(png);

    /* a missing file */
    test_dir_file(path, sizeof path, &d, "missing.png");
    err[0] = 0;
    s = rin_png_read(path, &px, &h, &w, &c, err, sizeof err);
    CHECK(s == RIN_STATUS_IO);
    CHECK_MSG(strstr(err, path) != NULL, "message does not name the file: %s", err);

    /* writing into a directory that does not exist: IO, nothing left behind */
    int before = test_dir_count(&d, NULL);
    test_dir_file(path, sizeof path, &d, "no_such_dir/x.png");
    err[0] = 0;
    s = rin_png_write(path, img, 4, 4, 1, err, sizeof err);
    CHECK(s == RIN_STATUS_IO);
    CHECK_MSG(strstr(err, "no_such_dir") != NULL, "message does not name the file: %s", err);
    CHECK(test_dir_count(&d, NULL) == before);
    struct stat st;
    CHECK(stat(path, &st) != 0);

    /* bad shapes are refused before any file is touched */
    test_dir_file(path, sizeof path, &d, "bad.png");
    CHECK(rin_png_write(path, img, 4, 4, 2, err, sizeof err) == RIN_STATUS_ARG);
    CHECK(rin_png_write(path, img, 0, 4, 1, err, sizeof err) == RIN_STATUS_ARG);
    CHECK(rin_png_write(path, NULL, 4, 4, 1, err, sizeof err) == RIN_STATUS_ARG);
    CHECK(stat(path, &st) != 0);
    CHECK(test_dir_count(&d, NULL) == before);
    test_dir_remove(&d);
}

/* ---- grids ----------------------------------------------------------------------------------- */

TEST(imageio_grid_layout) {
    enum { N = 5, H = 3, W = 2, C = 3, COLS = 3, PAD = 1 };
    const float b = 1.0f;
    float imgs[N * H * W * C];
    test_fill_uniform(imgs, N * H * W * C, 42, -1.0f, 1.0f);
    uint8_t expect[N * H * W * C];
    rin_float_to_u8(expect, imgs, N * H * W * C, b);

    uint8_t *g = NULL;
    int gh = 0, gw = 0;
    CHECK(rin_grid_make(&g, &gh, &gw, imgs, N, H, W, C, COLS, PAD, b) == RIN_STATUS_OK);
    /* 2 rows of 3: GH = 2*3 + 3 pads, GW = 3*2 + 4 pads */
    CHECK_MSG(gh == 2 * 3 + 3 && gw == 3 * 2 + 4, "grid %d x %d", gh, gw);
    if (!g || gh != 9 || gw != 10)
        return;

    /* which tile (or -1 for padding) covers each grid pixel, computed independently */
    int bad_tile = 0, bad_pad = 0;
    for (int y = 0; y < gh; y++)
        for (int x = 0; x < gw; x++) {
            int ty = -1, tx = -1, iy = 0, ix = 0;
            for (int r = 0; r < 2; r++)
                if (y >= 1 + r * 4 && y < 1 + r * 4 + H) {
                    ty = r;
                    iy = y - (1 + r * 4);
                }
            for (int q = 0; q < 3; q++)
                if (x >= 1 + q * 3 && x < 1 + q * 3 + W) {
                    tx = q;
                    ix = x - (1 + q * 3);
                }
            int tile = (ty >= 0 && tx >= 0) ? ty * COLS + tx : -1;
            for (int k = 0; k < C; k++) {
                uint8_t v = g[((size_t)y * gw + x) * C + k];
                if (tile >= 0 && tile < N) {
                    uint8_t e = expect[(((size_t)tile * H + iy) * W + ix) * C + k];
                    if (v != e && bad_tile++ < 5)
                        test_fail(__FILE__, __LINE__, "tile %d (%d,%d,%d): %d vs %d", tile, iy, ix,
                                  k, v, e);
                } else if (v != 128 && bad_pad++ < 5) {
                    /* padding, and the unused 6th tile */
                    test_fail(__FILE__, __LINE__, "grid (%d,%d,%d) = %d, expected grey 128", y, x,
                              k, v);
                }
            }
        }
    /* spot checks: the first pixel of image 0 at (1,1), of image 4 (row 1, col 1) at (5,4) */
    CHECK(g[(1 * gw + 1) * C] == expect[0]);
    CHECK(g[(5 * gw + 4) * C + 2] == expect[(size_t)4 * H * W * C + 2]);
    CHECK(g[(5 * gw + 7) * C] == 128); /* inside the 6th tile */
    free(g);

    /* one column, no padding: the images stacked */
    CHECK(rin_grid_make(&g, &gh, &gw, imgs, N, H, W, C, 1, 0, b) == RIN_STATUS_OK);
    CHECK(gh == N * H && gw == W);
    CHECK(g && memcmp(g, expect, sizeof expect) == 0);
    free(g);

    /* bad arguments */
    CHECK(rin_grid_make(&g, &gh, &gw, imgs, 0, H, W, C, COLS, PAD, b) == RIN_STATUS_ARG);
    CHECK(rin_grid_make(&g, &gh, &gw, imgs, N, H, W, C, 0, PAD, b) == RIN_STATUS_ARG);
    CHECK(rin_grid_make(&g, &gh, &gw, imgs, N, H, W, 2, COLS, PAD, b) == RIN_STATUS_ARG);
    CHECK(rin_grid_make(&g, &gh, &gw, imgs, N, H, W, C, COLS, -1, b) == RIN_STATUS_ARG);
    CHECK(rin_grid_make(&g, &gh, &gw, imgs, N, H, W, C, COLS, PAD, 0.0f) == RIN_STATUS_ARG);
    CHECK(g == NULL);
}

TEST(imageio_grid_write) {
    test_dir d = test_dir_make("io");
    if (!d.ok)
        return;
    enum { N = 4, H = 5, W = 7, C = 1, COLS = 3 };
    float imgs[N * H * W * C];
    test_fill_uniform(imgs, N * H * W * C, 7, -1.0f, 1.0f);
    char path[128], err[256] = "";
    test_dir_file(path, sizeof path, &d, "grid.png");
    CHECK_MSG(rin_grid_write(path, imgs, N, H, W, C, COLS, 1.0f, 1, NULL, 0, err, sizeof err) ==
                  RIN_STATUS_OK,
              "%s", err);
    uint8_t *g = NULL, *px = NULL;
    int gh, gw, h, w, c;
    CHECK(rin_png_read(path, &px, &h, &w, &c, err, sizeof err) == RIN_STATUS_OK);
    /* the file holds exactly the grid of rin_grid_make with some pad */
    int found = 0;
    for (int pad = 0; pad <= 8 && !found; pad++) {
        CHECK(rin_grid_make(&g, &gh, &gw, imgs, N, H, W, C, COLS, pad, 1.0f) == RIN_STATUS_OK);
        if (px && gh == h && gw == w && c == C && memcmp(g, px, (size_t)h * w * c) == 0)
            found = 1;
        free(g);
    }
    CHECK_MSG(found, "grid.png (%d x %d x %d) is no rin_grid_make grid", h, w, c);
    /* scale 1 is the grid of before (2-pixel borders): 2 rows x 3 columns */
    CHECK_MSG(h == 2 * H + 3 * 2 && w == COLS * W + 4 * 2, "scale 1 grid is %d x %d", h, w);

    /* scale 3, and scale 0 (automatic: ceil(84 / 7) = 12): the scale-1 grid enlarged */
    for (int k = 0; k < 2; k++) {
        int scale = k == 0 ? 3 : 0, s = k == 0 ? 3 : 12;
        char big[128];
        test_dir_file(big, sizeof big, &d, k == 0 ? "grid3.png" : "grid_auto.png");
        CHECK(rin_grid_write(big, imgs, N, H, W, C, COLS, 1.0f, scale, NULL, 0, err, sizeof err) ==
              RIN_STATUS_OK);
        uint8_t *bp = NULL, *up = NULL;
        int bh = 0, bw = 0, bc = 0;
        CHECK(rin_png_read(big, &bp, &bh, &bw, &bc, err, sizeof err) == RIN_STATUS_OK);
        CHECK_MSG(bh == h * s && bw == w * s && bc == C, "scale %d: %d x %d, expected %d x %d",
                  scale, bh, bw, h * s, w * s);
        CHECK(px && rin_image_upscale(&up, px, h, w, C, s) == RIN_STATUS_OK);
        CHECK(bp && up && bh == h * s && bw == w * s && memcmp(bp, up, (size_t)bh * bw * C) == 0);
        free(bp);
        free(up);
    }
    free(px);
    test_dir_file(path, sizeof path, &d, "nodir/grid.png");
    CHECK(rin_grid_write(path, imgs, N, H, W, C, COLS, 1.0f, 1, NULL, 0, err, sizeof err) ==
          RIN_STATUS_IO);
    CHECK(rin_grid_write(path, imgs, N, H, W, 2, COLS, 1.0f, 1, NULL, 0, err, sizeof err) ==
          RIN_STATUS_ARG);
    CHECK(rin_grid_write(path, imgs, N, H, W, C, COLS, 1.0f, -1, NULL, 0, err, sizeof err) ==
          RIN_STATUS_ARG);
    CHECK(test_dir_count(&d, NULL) == 3);
    test_dir_remove(&d);
}

/* Nearest-neighbour enlargement, pixel by pixel against in[y / s][x / s]. */
TEST(imageio_upscale) {
    enum { H = 2, W = 3, C = 3, S = 3 };
    const uint8_t in[H * W * C] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18};
    uint8_t *out = NULL;
    CHECK(rin_image_upscale(&out, in, H, W, C, S) == RIN_STATUS_OK);
    if (!out)
        return;
    /* the first row of the result, written out: pixel 0 three times, then 1, then 2 */
    const uint8_t row0[W * S * C] = {1, 2, 3, 1, 2, 3, 1, 2, 3, 4, 5, 6, 4, 5,
                                     6, 4, 5, 6, 7, 8, 9, 7, 8, 9, 7, 8, 9};
    CHECK(memcmp(out, row0, sizeof row0) == 0);
    int bad = 0;
    for (int y = 0; y < H * S; y++)
        for (int x = 0; x < W * S; x++)
            for (int k = 0; k < C; k++) {
                uint8_t got = out[((size_t)y * W * S + x) * C + k];
                uint8_t want = in[((size_t)(y / S) * W + x / S) * C + k];
                if (got != want && bad++ < 5)
                    test_fail(__FILE__, __LINE__, "(%d,%d,%d) = %d, expected %d", y, x, k, got,
                              want);
            }
    /* the last pixel is the last input pixel */
    CHECK(out[(size_t)H * S * W * S * C - 1] == 18);
    free(out);
    /* s = 1 copies; grey works */
    CHECK(rin_image_upscale(&out, in, H, W, C, 1) == RIN_STATUS_OK);
    CHECK(out && memcmp(out, in, sizeof in) == 0);
    free(out);
    CHECK(rin_image_upscale(&out, in, 3, 6, 1, 2) == RIN_STATUS_OK);
    CHECK(out && out[0] == 1 && out[1] == 1 && out[2] == 2 && out[12] == 1 && out[13] == 1 &&
          out[(size_t)6 * 12 - 1] == 18);
    free(out);
    /* bad arguments */
    CHECK(rin_image_upscale(&out, in, H, W, C, 0) == RIN_STATUS_ARG && out == NULL);
    CHECK(rin_image_upscale(&out, in, 0, W, C, 2) == RIN_STATUS_ARG);
    CHECK(rin_image_upscale(&out, in, H, W, 5, 2) == RIN_STATUS_ARG);
    CHECK(rin_image_upscale(&out, NULL, H, W, C, 2) == RIN_STATUS_ARG);
    CHECK(rin_image_upscale(&out, in, 1 << 20, 1 << 20, 1, 4096) == RIN_STATUS_ARG);
}

/* The automatic scale: each image at least 84 pixels on its longer side. */
TEST(imageio_grid_auto_scale) {
    static const int table[][3] = {
        /* H, W, scale */
        {28, 28, 3},   {32, 32, 3}, {64, 64, 2}, {84, 84, 1}, {96, 96, 1},
        {256, 256, 1}, {8, 8, 11},  {16, 16, 6}, {42, 42, 2}, {43, 43, 2},
        {83, 83, 2},   {28, 64, 2}, {64, 28, 2}, {1, 1, 84},  {0, 0, 1},
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        int s = rin_grid_auto_scale(table[i][0], table[i][1]);
        CHECK_MSG(s == table[i][2], "%d x %d: scale %d, expected %d", table[i][0], table[i][1], s,
                  table[i][2]);
        int m = table[i][0] > table[i][1] ? table[i][0] : table[i][1];
        if (m > 0) /* the smallest scale that reaches 84 pixels */
            CHECK(m * s >= RIN_GRID_MIN_PX && (s == 1 || m * (s - 1) < RIN_GRID_MIN_PX));
    }
}

/* ---- PNG text chunks ------------------------------------------------------------------------- */

TEST(imageio_png_text_roundtrip) {
    test_dir d = test_dir_make("io");
    if (!d.ok)
        return;
    enum { H = 5, W = 6, C = 3 };
    uint8_t px[H * W * C];
    for (int i = 0; i < H * W * C; i++)
        px[i] = (uint8_t)(i * 53 + 7);
    const rin_png_text text[] = {
        {"Software", "rin"},
        {"checkpoint_sha256", "c6642458f71b2399b8ec15721767e97678b21f195b4b5baa25c89fd27f926acb"},
        {"step", "4000"},
        {"empty", ""},
        {"two words", "line one\nline two"},
        {"latin1", "caf\xe9 \xb5s"},
        {"Software", "a repeated keyword is kept"},
    };
    const int nt = (int)(sizeof text / sizeof text[0]);
    char path[128], plain[128], err[256] = "";
    test_dir_file(path, sizeof path, &d, "text.png");
    test_dir_file(plain, sizeof plain, &d, "plain.png");
    CHECK_MSG(rin_png_write_text(path, px, H, W, C, text, nt, err, sizeof err) == RIN_STATUS_OK,
              "%s", err);
    CHECK(rin_png_write(plain, px, H, W, C, err, sizeof err) == RIN_STATUS_OK);

    rin_png_info pi;
    CHECK_MSG(rin_png_info_read(path, &pi, err, sizeof err) == RIN_STATUS_OK, "%s", err);
    CHECK(pi.W == W && pi.H == H && pi.bit_depth == 8 && pi.color_type == 2);
    CHECK_MSG(pi.ntext == nt, "%d text chunks read back, %d written", pi.ntext, nt);
    for (int i = 0; i < nt && i < pi.ntext; i++) {
        CHECK_MSG(!strcmp(pi.text[i].key, text[i].key), "key %d: '%s' vs '%s'", i, pi.text[i].key,
                  text[i].key);
        CHECK_MSG(!strcmp(pi.text[i].value, text[i].value), "value %d: '%s' vs '%s'", i,
                  pi.text[i].value, text[i].value);
    }
    CHECK(rin_png_info_text(&pi, "step") && !strcmp(rin_png_info_text(&pi, "step"), "4000"));
    CHECK(rin_png_info_text(&pi, "Software") &&
          !strcmp(rin_png_info_text(&pi, "Software"), "rin")); /* the first */
    CHECK(rin_png_info_text(&pi, "seed") == NULL);
    rin_png_info_free(&pi);

    /* the chunks sit right after IHDR; the file is the plain one plus exactly those chunks */
    size_t flen = 0, plen = 0, extra = 0;
    uint8_t *file = read_all(path, &flen), *pfile = read_all(plain, &plen);
    for (int i = 0; i < nt; i++)
        extra += 12 + strlen(text[i].key) + 1 + strlen(text[i].value);
    CHECK(file && pfile && flen == plen + extra);
    CHECK(file && flen > 41 && memcmp(file + 37, "tEXt", 4) == 0);
    CHECK(file && pfile && memcmp(file, pfile, 33) == 0 &&
          memcmp(file + 33 + extra, pfile + 33, plen - 33) == 0);
    free(file);
    free(pfile);

    /* stb still decodes it, pixels unchanged; a PNG without text reads with ntext 0 */
    uint8_t *back = NULL;
    int h, w, c;
    CHECK(rin_png_read(path, &back, &h, &w, &c, err, sizeof err) == RIN_STATUS_OK);
    CHECK(back && h == H && w == W && c == C && memcmp(back, px, sizeof px) == 0);
    free(back);
    CHECK(rin_png_info_read(plain, &pi, err, sizeof err) == RIN_STATUS_OK);
    CHECK(pi.ntext == 0 && pi.text == NULL && pi.W == W && pi.H == H);
    rin_png_info_free(&pi);

    /* the file's SHA-256, read in pieces, equals the digest of its bytes */
    char h1[65], h2[65];
    file = read_all(path, &flen);
    rin_sha256_hex(file, flen, h1);
    CHECK(rin_file_sha256_hex(path, h2, err, sizeof err) == RIN_STATUS_OK);
    CHECK_MSG(!strcmp(h1, h2), "%s vs %s", h1, h2);
    free(file);
    test_dir_file(plain, sizeof plain, &d, "missing.png");
    CHECK(rin_file_sha256_hex(plain, h2, err, sizeof err) == RIN_STATUS_IO && h2[0] == 0);
    CHECK(strstr(err, "missing.png") != NULL);
    test_dir_remove(&d);
}

/* Reads path's chunks and expects a FORMAT error whose message names the file and says `what`. */
static void expect_png_info_error(const char *path, const char *what) {
    rin_png_info pi;
    char err[512] = "";
    rin_status s = rin_png_info_read(path, &pi, err, sizeof err);
    CHECK_MSG(s == RIN_STATUS_FORMAT, "%s: status %d, expected FORMAT (%s)", path, (int)s, err);
    CHECK_MSG(strstr(err, path) != NULL, "message does not name the file: %s", err);
    CHECK_MSG(strstr(err, what) != NULL, "message does not say '%s': %s", what, err);
    CHECK(pi.ntext == 0 && pi.text == NULL);
    printf("  %s\n", err);
}

TEST(imageio_png_text_errors) {
    test_dir d = test_dir_make("io");
    if (!d.ok)
        return;
    uint8_t px[4 * 4] = {0};
    const rin_png_text text[] = {{"Software", "rin"}, {"step", "12"}};
    char path[128], bad[128], err[256] = "";
    test_dir_file(path, sizeof path, &d, "ok.png");
    CHECK(rin_png_write_text(path, px, 4, 4, 1, text, 2, err, sizeof err) == RIN_STATUS_OK);
    size_t len = 0;
    uint8_t *file = read_all(path, &len);
    CHECK(file && len > 60 && memcmp(file + 37, "tEXt", 4) == 0);
    if (!file || len <= 60) {
        free(file);
        test_dir_remove(&d);
        return;
    }
    /* a changed byte in the first text chunk's value: its CRC no longer matches */
    test_dir_file(bad, sizeof bad, &d, "bad_crc.png");
    file[41 + 9] ^= 0x20; /* "Software\0rin": the 'r' */
    CHECK(test_write_bytes(bad, file, len));
    expect_png_info_error(bad, "CRC");
    file[41 + 9] ^= 0x20;
    /* a changed CRC byte */
    file[41 + 12] ^= 1;
    CHECK(test_write_bytes(bad, file, len));
    expect_png_info_error(bad, "CRC");
    file[41 + 12] ^= 1;
    /* cut inside the second text chunk */
    test_dir_file(bad, sizeof bad, &d, "truncated.png");
    CHECK(test_write_bytes(bad, file, 33 + 24 + 10));
    expect_png_info_error(bad, "truncated");
    /* a tEXt chunk without the NUL after its keyword (CRC made right) */
    uint8_t nokey[33 + 12 + 5];
    memcpy(nokey, file, 33);
    const uint8_t chunk[] = {0, 0, 0, 5, 't', 'E', 'X', 't', 'a', 'b', 'c', 'd', 'e'};
    memcpy(nokey + 33, chunk, sizeof chunk);
    uLong crc = crc32(0L, nokey + 37, 9);
    for (int k = 0; k < 4; k++)
        nokey[33 + 13 + k] = (uint8_t)(crc >> (24 - 8 * k));
    size_t rest = len - 33 - 24 - 19; /* the IDAT and IEND after both text chunks */
    uint8_t *joined = malloc(sizeof nokey + rest);
    memcpy(joined, nokey, sizeof nokey);
    memcpy(joined + sizeof nokey, file + len - rest, rest);
    test_dir_file(bad, sizeof bad, &d, "nokey.png");
    CHECK(test_write_bytes(bad, joined, sizeof nokey + rest));
    expect_png_info_error(bad, "tEXt");
    free(joined);
    /* not a PNG; a missing file */
    test_dir_file(bad, sizeof bad, &d, "text.png");
    CHECK(test_write_bytes(bad, "hello", 5));
    expect_png_info_error(bad, "not a PNG");
    rin_png_info pi;
    test_dir_file(bad, sizeof bad, &d, "none.png");
    CHECK(rin_png_info_read(bad, &pi, err, sizeof err) == RIN_STATUS_IO);
    CHECK(strstr(err, bad) != NULL);
    free(file);

    /* keys and values that break the rules are refused before anything is written */
    char k80[81];
    memset(k80, 'k', 80);
    k80[80] = 0;
    const rin_png_text badtext[][1] = {{{"", "v"}},       {{k80, "v"}},           {{" key", "v"}},
                                       {{"key ", "v"}},   {{"two  spaces", "v"}}, {{"tab\t", "v"}},
                                       {{"k", "bell\a"}}, {{"k", "cr\r"}},        {{"k", NULL}}};
    int before = test_dir_count(&d, NULL);
    test_dir_file(bad, sizeof bad, &d, "refused.png");
    for (size_t i = 0; i < sizeof badtext / sizeof badtext[0]; i++) {
        err[0] = 0;
        rin_status s = rin_png_write_text(bad, px, 4, 4, 1, badtext[i], 1, err, sizeof err);
        CHECK_MSG(s == RIN_STATUS_ARG, "bad text %zu accepted", i);
        CHECK_MSG(strstr(err, "refused.png") && strstr(err, "text chunk"), "%s", err);
    }
    CHECK(test_dir_count(&d, NULL) == before);
    k80[79] = 0; /* 79 characters are allowed */
    const rin_png_text longest = {k80, "v"};
    CHECK(rin_png_write_text(bad, px, 4, 4, 1, &longest, 1, err, sizeof err) == RIN_STATUS_OK);
    test_dir_remove(&d);
}

TEST(imageio_png_text_latin1) {
    static const char *const cases[][2] = {
        {"plain ASCII 0-9", "plain ASCII 0-9"},
        {"caf\xc3\xa9", "caf\xe9"},                  /* U+00E9 -> its Latin-1 byte */
        {"\xc2\xa0nbsp", "?nbsp"},                   /* U+00A0 is not printable in PNG text */
        {"\xe2\x82\xac 5", "? 5"},                   /* the euro sign: outside Latin-1 */
        {"\xf0\x9f\x98\x80!", "?!"},                 /* outside the BMP */
        {"bad \xe9 byte", "bad ? byte"},             /* not UTF-8 */
        {"tab\there\nnewline", "tab?here\nnewline"}, /* controls but the line feed */
        {"\xc3", "?"},                               /* cut-off sequence */
        {"", ""},
    };
    char out[64];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        rin_png_text_latin1(out, sizeof out, cases[i][0]);
        CHECK_MSG(!strcmp(out, cases[i][1]), "case %zu: got '%s'", i, out);
    }
    rin_png_text_latin1(out, 4, "truncated");
    CHECK(!strcmp(out, "tru"));
    rin_png_text_latin1(out, sizeof out, NULL);
    CHECK(out[0] == 0);
}

/* ---- report ---------------------------------------------------------------------------------- */

/* Checks that the report's data: URI decodes to exactly the bytes of png_path. */
static void check_embedded_png(const char *html, const char *png_path) {
    const char *prefix = "data:image/png;base64,";
    const char *p = strstr(html, prefix);
    CHECK_MSG(p != NULL, "no %s in the report", prefix);
    if (!p)
        return;
    CHECK(count_substr(html, prefix) == 1);
    size_t flen = 0;
    uint8_t *file = read_all(png_path, &flen);
    CHECK(file != NULL);
    p += strlen(prefix);
    uint8_t *dec = malloc(strlen(p) / 4 * 3 + 3);
    const char *end = NULL;
    size_t dlen = b64_decode(dec, p, &end);
    CHECK_MSG(dlen != (size_t)-1, "malformed base64 payload");
    CHECK(end && *end == '"'); /* the payload ends the attribute */
    CHECK_MSG(file && dlen == flen && memcmp(dec, file, flen) == 0,
              "payload (%zu bytes) differs from %s (%zu bytes)", dlen, png_path, flen);
    free(dec);
    free(file);
}

TEST(imageio_report) {
    test_dir d = test_dir_make("io");
    if (!d.ok)
        return;
    char grid[128], path[128], err[256] = "";
    test_dir_file(grid, sizeof grid, &d, "grid.png");
    test_dir_file(path, sizeof path, &d, "report.html");
    enum { N = 6, H = 4, W = 4, C = 3 };
    float imgs[N * H * W * C];
    test_fill_uniform(imgs, N * H * W * C, 3, -1.0f, 1.0f);
    CHECK(rin_grid_write(grid, imgs, N, H, W, C, 3, 1.0f, 1, NULL, 0, err, sizeof err) ==
          RIN_STATUS_OK);

    enum { NP = 50 };
    long steps[NP];
    double loss[NP], lr[NP];
    for (int i = 0; i < NP; i++) {
        steps[i] = 10 * (i + 1);
        loss[i] = 2.0 * exp(-0.05 * i) + 0.01;
        lr[i] = 1e-3 * (i < 10 ? (i + 1) / 10.0 : 1.0);
    }
    run_report r = {
        .title = "runs/<demo>",
        .config_text = "preset=cifar10\nlr=0.001\r\nweird<&>=x<y&\"z\"\n\nno equals sign\n",
        .steps = steps,
        .loss = loss,
        .lr = lr,
        .n = NP,
        .grid_png = grid,
        .notes = "step 500/1000 <b>bold?</b> & done",
    };
    CHECK_MSG(report_write(path, &r, err, sizeof err) == RIN_STATUS_OK, "%s", err);
    size_t len = 0;
    char *html = (char *)read_all(path, &len);
    CHECK(html != NULL);
    if (!html) {
        test_dir_remove(&d);
        return;
    }
    CHECK(strncmp(html, "<!DOCTYPE html>", 15) == 0);
    CHECK(strstr(html, "</html>") != NULL);
    CHECK(count_substr(html, "<svg") == 2);
    CHECK(count_substr(html, "<polyline") == 2);
    CHECK(strstr(html, "(log scale)") != NULL); /* all losses > 0 */
    /* escaping of the title, config keys and values, and notes */
    CHECK(strstr(html, "runs/&lt;demo&gt;") != NULL);
    CHECK(strstr(html, "<td>weird&lt;&amp;&gt;</td><td>x&lt;y&amp;&quot;z&quot;</td>") != NULL);
    CHECK(strstr(html, "<td>preset</td><td>cifar10</td>") != NULL);
    CHECK(strstr(html, "<td>lr</td><td>0.001</td>") != NULL); /* \r stripped */
    CHECK(strstr(html, "no equals sign") != NULL);
    CHECK(strstr(html, "<&>") == NULL && strstr(html, "<demo>") == NULL);
    CHECK(strstr(html, "&lt;b&gt;bold?&lt;/b&gt; &amp; done") != NULL);
    CHECK(strstr(html, "<pre>") != NULL);
    /* summary: latest step 500, latest and min loss are the last value */
    CHECK(strstr(html, "<td>500</td>") != NULL);
    char buf[64];
    snprintf(buf, sizeof buf, "<td>%.6g (step 500)</td>", loss[NP - 1]);
    CHECK_MSG(strstr(html, buf) != NULL, "no min loss %s", buf);
    /* self-contained: nothing fetched from elsewhere */
    CHECK(count_substr(html, "http:") ==
          count_substr(html, "xmlns=\"http://www.w3.org/2000/svg\"")); /* xmlns only */
    CHECK(strstr(html, "https:") == NULL);
    CHECK(strstr(html, "<script") == NULL && strstr(html, "<link") == NULL);
    check_embedded_png(html, grid);
    free(html);

    /* no temporary files; the failure case leaves nothing either */
    CHECK(test_dir_count(&d, NULL) == 2);
    test_dir_file(path, sizeof path, &d, "nodir/report.html");
    CHECK(report_write(path, &r, err, sizeof err) == RIN_STATUS_IO);
    CHECK(test_dir_count(&d, NULL) == 2);
    test_dir_remove(&d);
}

TEST(imageio_report_small) {
    test_dir d = test_dir_make("io");
    if (!d.ok)
        return;
    char path[128], err[256] = "";
    test_dir_file(path, sizeof path, &d, "report.html");
    size_t len;
    char *html;

    /* n = 0, nothing optional */
    run_report r0 = {0};
    CHECK_MSG(report_write(path, &r0, err, sizeof err) == RIN_STATUS_OK, "%s", err);
    html = (char *)read_all(path, &len);
    CHECK(html && strstr(html, "no steps yet") != NULL);
    CHECK(html && strstr(html, "<polyline") == NULL);
    CHECK(html && strstr(html, "</html>") != NULL);
    free(html);

    /* n = 1; a missing grid file is reported on the page, not an error */
    long s1 = 0;
    double l1 = 0.75, r1 = 1e-4;
    run_report r = {.title = "one",
                    .steps = &s1,
                    .loss = &l1,
                    .lr = &r1,
                    .n = 1,
                    .grid_png = "/nonexistent/grid.png",
                    .config_text = "",
                    .notes = ""};
    CHECK_MSG(report_write(path, &r, err, sizeof err) == RIN_STATUS_OK, "%s", err);
    html = (char *)read_all(path, &len);
    CHECK(html && count_substr(html, "<polyline") == 2);
    CHECK(html && strstr(html, "sample grid unavailable") != NULL);
    CHECK(html && strstr(html, "data:image/png") == NULL);
    CHECK(html && strstr(html, "nan") == NULL && strstr(html, "inf") == NULL);
    free(html);

    /* a zero and a NaN loss: linear axis, still two curves, no nan coordinates */
    long st[4] = {1, 2, 3, 4};
    double lo[4] = {1.0, 0.0, (double)NAN, 0.5}, lrs[4] = {1e-3, 1e-3, 1e-3, 1e-3};
    run_report r4 = {.steps = st, .loss = lo, .lr = lrs, .n = 4};
    CHECK_MSG(report_write(path, &r4, err, sizeof err) == RIN_STATUS_OK, "%s", err);
    html = (char *)read_all(path, &len);
    CHECK(html && count_substr(html, "<polyline") == 2);
    CHECK(html && strstr(html, "(log scale)") == NULL);
    const char *pl = html ? strstr(html, "<polyline") : NULL;
    CHECK(pl && strstr(pl, "nan,") == NULL && strstr(pl, ",nan") == NULL);
    free(html);

    /* missing arrays with n > 0 are refused */
    run_report bad = {.n = 3};
    CHECK(report_write(path, &bad, err, sizeof err) == RIN_STATUS_ARG);
    test_dir_remove(&d);
}

/* The run's history: three grids with their provenance as a slider and thumbnails, captions
 * from the grids' own text chunks; a missing grid is left out of the history and reported in
 * place of the latest, and the page stays whole. */
TEST(imageio_report_history) {
    test_dir d = test_dir_make("io");
    if (!d.ok)
        return;
    enum { N = 4, H = 4, W = 4, C = 1, NG = 3 };
    char grids[NG + 1][128], path[128], err[256] = "";
    long gsteps[NG + 1] = {100, 200, 300, 400};
    const char *hist[NG + 1];
    for (int g = 0; g < NG; g++) {
        char name[32], st[16];
        snprintf(name, sizeof name, "step_%07ld.png", gsteps[g]);
        test_dir_file(grids[g], sizeof grids[g], &d, name);
        snprintf(st, sizeof st, "%ld", gsteps[g]);
        float imgs[N * H * W * C];
        test_fill_uniform(imgs, N * H * W * C, 10 + (unsigned)g, -1.0f, 1.0f);
        const rin_png_text text[] = {{"Software", "rin"},
                                     {"step", st},
                                     {"sampler", "ddim"},
                                     {"steps", "50"},
                                     {"seed", "1234"}};
        CHECK(rin_grid_write(grids[g], imgs, N, H, W, C, 2, 1.0f, 0, text, 5, err, sizeof err) ==
              RIN_STATUS_OK);
        hist[g] = grids[g];
    }
    test_dir_file(grids[NG], sizeof grids[NG], &d, "step_0000400.png"); /* never written */
    hist[NG] = grids[NG];
    test_dir_file(path, sizeof path, &d, "report.html");
    long steps[2] = {100, 300};
    double loss[2] = {1.0, 0.5}, lr[2] = {1e-3, 1e-3};
    run_report r = {.title = "history",
                    .steps = steps,
                    .loss = loss,
                    .lr = lr,
                    .n = 2,
                    .grid_png = grids[NG - 1],
                    .history_png = hist,
                    .history_steps = gsteps,
                    .nhistory = NG};
    CHECK_MSG(report_write(path, &r, err, sizeof err) == RIN_STATUS_OK, "%s", err);
    size_t len = 0;
    char *html = (char *)read_all(path, &len);
    CHECK(html != NULL);
    if (!html) {
        test_dir_remove(&d);
        return;
    }
    /* the latest grid, large, with its caption from its text chunks */
    CHECK(strstr(html, "<img id=\"latest\"") != NULL);
    CHECK(strstr(html, "<span id=\"latest-cap\" class=\"cap\">step 300, ddim, 50 steps, seed "
                       "1234</span>") != NULL);
    CHECK(strstr(html, "<svg xmlns=\"http://www.w3.org/2000/svg\" id=\"loss\"") != NULL);
    /* the slider over 3 grids, the 3 thumbnails with their captions, the script */
    CHECK(strstr(html, "<input type=\"range\" id=\"history\" min=\"0\" max=\"2\" value=\"2\"") !=
          NULL);
    CHECK(strstr(html, "<div id=\"thumbs\">") != NULL);
    CHECK(count_substr(html, "<img class=\"thumb\"") == NG);
    for (int g = 0; g < NG; g++) {
        char cap[128];
        snprintf(cap, sizeof cap, "title=\"step %ld, ddim, 50 steps, seed 1234\"", gsteps[g]);
        CHECK_MSG(strstr(html, cap) != NULL, "no thumbnail %s", cap);
    }
    CHECK(count_substr(html, "data:image/png;base64,") == NG + 1); /* thumbnails + latest */
    CHECK(strstr(html, "<script>") != NULL && strstr(html, "oninput") != NULL);
    CHECK(strstr(html, "<script src") == NULL && strstr(html, "https:") == NULL);
    /* the thumbnails embed the grid files byte for byte, oldest first */
    const char *p = strstr(html, "<div id=\"thumbs\">");
    for (int g = 0; g < NG && p; g++) {
        p = strstr(p, "<img class=\"thumb\"");
        CHECK(p && strstr(p, "data:image/png;base64,") != NULL);
        if (!p)
            break;
        p = strstr(p, "data:image/png;base64,") + strlen("data:image/png;base64,");
        size_t flen = 0;
        uint8_t *file = read_all(grids[g], &flen);
        uint8_t *dec = malloc(strlen(p) / 4 * 3 + 3);
        const char *end = NULL;
        size_t dlen = b64_decode(dec, p, &end);
        CHECK_MSG(file && dlen == flen && memcmp(dec, file, flen) == 0, "thumbnail %d", g);
        free(dec);
        free(file);
        p = end;
    }
    free(html);

    /* a missing grid in the history is left out; a missing latest grid is named on the page;
     * a given caption wins over the chunks */
    r.nhistory = NG + 1;
    r.grid_png = grids[NG];
    CHECK_MSG(report_write(path, &r, err, sizeof err) == RIN_STATUS_OK, "%s", err);
    html = (char *)read_all(path, &len);
    CHECK(html && count_substr(html, "<img class=\"thumb\"") == NG);
    CHECK(html && strstr(html, "sample grid unavailable") && strstr(html, "step_0000400.png"));
    CHECK(html && strstr(html, "id=\"latest\"") == NULL);
    CHECK(html && strstr(html, "</html>") != NULL);
    free(html);
    r.grid_png = grids[0];
    r.grid_caption = "the caption <given>";
    CHECK_MSG(report_write(path, &r, err, sizeof err) == RIN_STATUS_OK, "%s", err);
    html = (char *)read_all(path, &len);
    CHECK(html && strstr(html, "class=\"cap\">the caption &lt;given&gt;</span>") != NULL);
    free(html);
    /* a grid without text chunks is captioned by its step; a single grid has no slider */
    test_dir_file(grids[NG], sizeof grids[NG], &d, "step_0000400.png");
    float one[H * W];
    test_fill_uniform(one, H * W, 5, -1.0f, 1.0f);
    CHECK(rin_grid_write(grids[NG], one, 1, H, W, 1, 1, 1.0f, 1, NULL, 0, err, sizeof err) ==
          RIN_STATUS_OK);
    r.history_png = hist + NG;
    r.history_steps = gsteps + NG;
    r.nhistory = 1;
    r.grid_caption = NULL;
    r.grid_png = grids[NG];
    CHECK_MSG(report_write(path, &r, err, sizeof err) == RIN_STATUS_OK, "%s", err);
    html = (char *)read_all(path, &len);
    CHECK(html && strstr(html, "title=\"step 400\"") != NULL);
    CHECK(html && strstr(html, "id=\"history\"") == NULL);
    CHECK(html && count_substr(html, "<img class=\"thumb\"") == 1);
    free(html);
    r.history_png = NULL; /* refused */
    CHECK(report_write(path, &r, err, sizeof err) == RIN_STATUS_ARG);
    test_dir_remove(&d);
}

TEST(imageio_report_downsample) {
    test_dir d = test_dir_make("io");
    if (!d.ok)
        return;
    char path[128], err[256] = "";
    test_dir_file(path, sizeof path, &d, "report.html");
    enum { NP = 100000 };
    long *steps = malloc(NP * sizeof *steps);
    double *loss = malloc(NP * sizeof *loss), *lr = malloc(NP * sizeof *lr);
    for (int i = 0; i < NP; i++) {
        steps[i] = i + 1;
        loss[i] = 1.0 / sqrt(i + 1.0);
        lr[i] = 1e-3 * cos(1.5 * i / NP);
    }
    loss[NP - 1] = 1e-6; /* the last point must be drawn: it sets the bottom of the axis */
    run_report r = {.title = "long", .steps = steps, .loss = loss, .lr = lr, .n = NP};
    CHECK_MSG(report_write(path, &r, err, sizeof err) == RIN_STATUS_OK, "%s", err);
    size_t len = 0;
    char *html = (char *)read_all(path, &len);
    CHECK_MSG(html && len < 300000, "report is %zu bytes", len);
    CHECK(html && count_substr(html, "<polyline") == 2);
    CHECK(html && strstr(html, "<td>100000</td>") != NULL);
    /* each curve has between 1000 and 2001 points, and ends at the right edge of the plot */
    const char *p = html;
    for (int c = 0; c < 2 && p; c++) {
        p = strstr(p, "<polyline");
        const char *pts = p ? strstr(p, "points=\"") : NULL;
        CHECK(pts != NULL);
        if (!pts)
            break;
        pts += 8;
        const char *end = strchr(pts, '"');
        int npts = 0;
        double lastx = -1.0, x0 = -1.0, ymax = -1.0, y = 0.0;
        for (const char *q = pts; q && q < end;) {
            double x;
            if (sscanf(q, "%lf,%lf", &x, &y) != 2)
                break;
            if (npts == 0)
                x0 = x;
            npts++;
            lastx = x;
            ymax = y > ymax ? y : ymax;
            q = strchr(q, ' ');
            if (q)
                q++;
        }
        CHECK_MSG(npts >= 1000 && npts <= 2001, "curve %d has %d points", c, npts);
        CHECK_MSG(lastx > x0 + 500.0, "curve %d ends at x=%g (starts at %g)", c, lastx, x0);
        if (c == 0)
            CHECK_MSG(y == ymax, "the loss curve's last point (y=%g) is not its lowest", y);
        p = end;
    }
    free(html);
    free(steps);
    free(loss);
    free(lr);
    test_dir_remove(&d);
}
