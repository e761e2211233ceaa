/* test_imageio.c -- T6 tests of PNG files, sample grids and the training report (src/imageio.c).
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

#include "imageio.h"
#include "internal.h"
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
    CHECK_MSG(rin_grid_write(path, imgs, N, H, W, C, COLS, 1.0f, err, sizeof err) == RIN_STATUS_OK,
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
    free(px);
    test_dir_file(path, sizeof path, &d, "nodir/grid.png");
    CHECK(rin_grid_write(path, imgs, N, H, W, C, COLS, 1.0f, err, sizeof err) == RIN_STATUS_IO);
    CHECK(rin_grid_write(path, imgs, N, H, W, 2, COLS, 1.0f, err, sizeof err) == RIN_STATUS_ARG);
    CHECK(test_dir_count(&d, NULL) == 1);
    test_dir_remove(&d);
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
    CHECK(rin_grid_write(grid, imgs, N, H, W, C, 3, 1.0f, err, sizeof err) == RIN_STATUS_OK);

    enum { NP = 50 };
    long steps[NP];
    double loss[NP], lr[NP];
    for (int i = 0; i < NP; i++) {
        steps[i] = 10 * (i + 1);
        loss[i] = 2.0 * exp(-0.05 * i) + 0.01;
        lr[i] = 1e-3 * (i < 10 ? (i + 1) / 10.0 : 1.0);
    }
    rin_report r = {
        .title = "runs/<demo>",
        .config_text = "preset=cifar10\nlr=0.001\r\nweird<&>=x<y&\"z\"\n\nno equals sign\n",
        .steps = steps,
        .loss = loss,
        .lr = lr,
        .n = NP,
        .grid_png = grid,
        .notes = "step 500/1000 <b>bold?</b> & done",
    };
    CHECK_MSG(rin_report_write(path, &r, err, sizeof err) == RIN_STATUS_OK, "%s", err);
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
    CHECK(rin_report_write(path, &r, err, sizeof err) == RIN_STATUS_IO);
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
    rin_report r0 = {0};
    CHECK_MSG(rin_report_write(path, &r0, err, sizeof err) == RIN_STATUS_OK, "%s", err);
    html = (char *)read_all(path, &len);
    CHECK(html && strstr(html, "no steps yet") != NULL);
    CHECK(html && strstr(html, "<polyline") == NULL);
    CHECK(html && strstr(html, "</html>") != NULL);
    free(html);

    /* n = 1; a missing grid file is reported on the page, not an error */
    long s1 = 0;
    double l1 = 0.75, r1 = 1e-4;
    rin_report r = {.title = "one",
                    .steps = &s1,
                    .loss = &l1,
                    .lr = &r1,
                    .n = 1,
                    .grid_png = "/nonexistent/grid.png",
                    .config_text = "",
                    .notes = ""};
    CHECK_MSG(rin_report_write(path, &r, err, sizeof err) == RIN_STATUS_OK, "%s", err);
    html = (char *)read_all(path, &len);
    CHECK(html && count_substr(html, "<polyline") == 2);
    CHECK(html && strstr(html, "sample grid unavailable") != NULL);
    CHECK(html && strstr(html, "data:image/png") == NULL);
    CHECK(html && strstr(html, "nan") == NULL && strstr(html, "inf") == NULL);
    free(html);

    /* a zero and a NaN loss: linear axis, still two curves, no nan coordinates */
    long st[4] = {1, 2, 3, 4};
    double lo[4] = {1.0, 0.0, (double)NAN, 0.5}, lrs[4] = {1e-3, 1e-3, 1e-3, 1e-3};
    rin_report r4 = {.steps = st, .loss = lo, .lr = lrs, .n = 4};
    CHECK_MSG(rin_report_write(path, &r4, err, sizeof err) == RIN_STATUS_OK, "%s", err);
    html = (char *)read_all(path, &len);
    CHECK(html && count_substr(html, "<polyline") == 2);
    CHECK(html && strstr(html, "(log scale)") == NULL);
    const char *pl = html ? strstr(html, "<polyline") : NULL;
    CHECK(pl && strstr(pl, "nan,") == NULL && strstr(pl, ",nan") == NULL);
    free(html);

    /* missing arrays with n > 0 are refused */
    rin_report bad = {.n = 3};
    CHECK(rin_report_write(path, &bad, err, sizeof err) == RIN_STATUS_ARG);
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
    rin_report r = {.title = "long", .steps = steps, .loss = loss, .lr = lr, .n = NP};
    CHECK_MSG(rin_report_write(path, &r, err, sizeof err) == RIN_STATUS_OK, "%s", err);
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
