/* imageio.c -- PNG files and sample grids (src/data/imageio.h).
 *
 * PNG encoding and decoding are stb_image_write and stb_image from Debian's libstb (linked with
 * -lstb; this file defines no STB_*_IMPLEMENTATION, see shared/spec/evaluation.md section 7).
 * stb cannot write text chunks, so rin_png_write_text encodes with stb and then splices tEXt
 * chunks in after IHDR (PNG specification 11.3.4.3), their CRCs from zlib's crc32; the chunk
 * walk that checks files before stb reads them also reads the text chunks back.
 * Every file is built whole in memory and then written with rin_write_file_atomic, so a reader
 * (a browser refreshing report.html during training) never sees half a file. Errors follow
 * shared/spec/style.md section 7: a status, and a message naming the file.
 *
 * Not here: GIF output (video.c), dataset decoding beyond rin_png_read, and the training report
 * (cli/report.c: a page for people, the program's concern).
 *
 * stb keeps a few process-wide settings (vertical flip, PNG compression level and filter); this
 * file never changes them, so their defaults apply: no flip, zlib level 8, adaptive filters.
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <stb_image.h>
#include <stb_image_write.h>
#include <zlib.h>

#include "imageio.h"
#include "internal.h"

rin_status rin_read_whole_file(const char *path, uint8_t **data, size_t *len, char *err,
                               size_t errlen) {
    *data = NULL;
    *len = 0;
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return rin_errorf(err, errlen, RIN_STATUS_IO, "%s: cannot open: %s", path, strerror(errno));
    rin_membuf b = {0};
    for (;;) {
        if (!rin_membuf_reserve(&b, 65536))
            break;
        size_t got = fread(b.p + b.len, 1, b.cap - b.len, fp);
        b.len += got;
        if (got == 0)
            break;
    }
    int bad = ferror(fp);
    int e = errno;
    fclose(fp);
    if (b.oom) {
        free(b.p);
        return rin_errorf(err, errlen, RIN_STATUS_NOMEM, "%s: out of memory reading the file",
                          path);
    }
    if (bad) {
        free(b.p);
        return rin_errorf(err, errlen, RIN_STATUS_IO, "%s: read failed: %s", path, strerror(e));
    }
    *data = b.p;
    *len = b.len;
    return RIN_STATUS_OK;
}

/* ---- PNG ------------------------------------------------------------------------------------- */

static const uint8_t png_signature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};

static uint32_t be32(const uint8_t *b) {
    return ((uint32_t)b[0] << 24) | ((uint32_t)b[1] << 16) | ((uint32_t)b[2] << 8) | b[3];
}

static void put_be32(uint8_t *b, uint32_t v) {
    b[0] = (uint8_t)(v >> 24);
    b[1] = (uint8_t)(v >> 16);
    b[2] = (uint8_t)(v >> 8);
    b[3] = (uint8_t)v;
}

/* Called for each chunk of a walk (IHDR first, IEND last) with its type, data and length, and
 * its offset in the file; returns NULL to go on or a reason to stop with. */
typedef const char *(*png_chunk_fn)(void *user, const uint8_t *type, const uint8_t *data,
                                    uint32_t n, size_t offset);

/* Walks the chunks of a PNG held in memory without decoding: the signature, IHDR first (13
 * bytes), every chunk's length inside the file, up to IEND; with check_crc also every chunk's
 * CRC-32 (zlib's crc32 over type and data, PNG specification 5.3). Returns NULL and the size,
 * or a reason (*why_at: the offset of the chunk at fault, or 0). */
static const char *png_walk(const uint8_t *p, size_t len, int *W, int *H, int check_crc,
                            png_chunk_fn fn, void *user, size_t *why_at) {
    *why_at = 0;
    if (len < 8 || memcmp(p, png_signature, 8) != 0)
        return "not a PNG file (no PNG signature)";
    if (len > (size_t)INT_MAX)
        return "file too large";
    size_t pos = 8;
    int first = 1;
    for (;;) {
        *why_at = pos;
        if (len - pos < 12)
            return "truncated PNG (a chunk header runs past the end of the file)";
        uint32_t n = be32(p + pos);
        const uint8_t *type = p + pos + 4;
        if (n > len - pos - 12)
            return "truncated PNG (a chunk's length runs past the end of the file)";
        if (first) {
            if (memcmp(type, "IHDR", 4) != 0 || n != 13)
                return "malformed PNG (the first chunk is not a 13-byte IHDR)";
            uint32_t w = be32(p + pos + 8), ht = be32(p + pos + 12);
            if (w == 0 || ht == 0 || w > (uint32_t)INT_MAX || ht > (uint32_t)INT_MAX)
                return "malformed PNG (zero or huge width or height)";
            *W = (int)w;
            *H = (int)ht;
            first = 0;
        }
        if (check_crc && crc32(0L, type, (uInt)n + 4) != be32(p + pos + 8 + n))
            return "corrupt PNG (a chunk's CRC does not match its contents)";
        const char *why = fn ? fn(user, type, p + pos + 8, n, pos) : NULL;
        if (why)
            return why;
        pos += 12 + (size_t)n;
        if (memcmp(type, "IEND", 4) == 0) {
            *why_at = 0;
            return NULL;
        }
    }
}

/* stb_image trusts a chunk's length and allocates it before reading (a 100-byte file claiming a
 * 2 GB IDAT costs 2 GB), so the readers call this first. */
const char *rin_png_probe(const uint8_t *p, size_t len, int *W, int *H) {
    size_t at;
    return png_walk(p, len, W, H, 0, NULL, NULL, &at);
}

/* ---- PNG text chunks ------------------------------------------------------------------------- */

static int latin1_printable(unsigned char ch) {
    return (ch >= 32 && ch <= 126) || ch >= 161;
}

/* Why a text chunk breaks the rules of imageio.h, or NULL. */
static const char *png_text_invalid(const rin_png_text *t) {
    if (!t->key || !t->value)
        return "NULL keyword or value";
    size_t k = strlen(t->key);
    if (k < 1 || k > 79)
        return "the keyword must have 1 to 79 characters";
    for (size_t i = 0; i < k; i++) {
        unsigned char ch = (unsigned char)t->key[i];
        if (!latin1_printable(ch))
            return "the keyword has a character outside printable Latin-1";
        if (ch == ' ' && (i == 0 || i == k - 1 || t->key[i + 1] == ' '))
            return "the keyword has a leading, trailing or double space";
    }
    for (const char *v = t->value; *v; v++)
        if (!latin1_printable((unsigned char)*v) && *v != '\n')
            return "the value has a character outside printable Latin-1 and line feed";
    return NULL;
}

void rin_png_text_latin1(char *dst, size_t cap, const char *src) {
    if (cap == 0)
        return;
    size_t o = 0;
    const unsigned char *s = (const unsigned char *)(src ? src : "");
    while (*s && o + 1 < cap) {
        unsigned cp = 0x110000; /* not a character: becomes '?' */
        int n = 1;
        if (s[0] < 0x80) {
            cp = s[0];
        } else if ((s[0] & 0xE0) == 0xC0 && (s[1] & 0xC0) == 0x80) {
            cp = ((unsigned)(s[0] & 0x1F) << 6) | (s[1] & 0x3F);
            n = 2;
            if (cp < 0x80)
                cp = 0x110000; /* overlong */
        } else if ((s[0] & 0xF0) == 0xE0 && (s[1] & 0xC0) == 0x80 && (s[2] & 0xC0) == 0x80) {
            n = 3; /* beyond Latin-1 whatever its value */
        } else if ((s[0] & 0xF8) == 0xF0 && (s[1] & 0xC0) == 0x80 && (s[2] & 0xC0) == 0x80 &&
                   (s[3] & 0xC0) == 0x80) {
            n = 4;
        }
        dst[o++] = cp == '\n' || (cp < 256 && latin1_printable((unsigned char)cp)) ? (char)cp : '?';
        s += n;
    }
    dst[o] = 0;
}

/* Builds a copy of the PNG png (len bytes, IHDR first) with the text chunks inserted after
 * IHDR. */
static rin_status png_insert_text(rin_membuf *out, const uint8_t *png, size_t len,
                                  const rin_png_text *text, int ntext) {
    const size_t after_ihdr = 8 + 12 + 13;
    RIN_ASSERT(len > after_ihdr);
    rin_membuf_append(out, png, after_ihdr);
    for (int i = 0; i < ntext; i++) {
        size_t k = strlen(text[i].key), v = strlen(text[i].value);
        if (k + 1 + v > 0x7FFFFFFF - 4)
            return RIN_STATUS_ARG;
        uint8_t head[8];
        put_be32(head, (uint32_t)(k + 1 + v));
        memcpy(head + 4, "tEXt", 4);
        size_t at = out->len;
        rin_membuf_append(out, head, 8);
        rin_membuf_append(out, text[i].key, k + 1); /* with its NUL, the separator */
        rin_membuf_append(out, text[i].value, v);
        if (out->oom)
            return RIN_STATUS_NOMEM;
        uint8_t crc[4];
        put_be32(crc, (uint32_t)crc32(0L, out->p + at + 4, (uInt)(4 + k + 1 + v)));
        rin_membuf_append(out, crc, 4);
    }
    rin_membuf_append(out, png + after_ihdr, len - after_ihdr);
    return out->oom ? RIN_STATUS_NOMEM : RIN_STATUS_OK;
}

typedef struct text_collect {
    rin_membuf strings; /* key NUL value NUL, per chunk */
    int n, bit_depth, color_type;
} text_collect;

static const char *collect_text(void *user, const uint8_t *type, const uint8_t *data, uint32_t n,
                                size_t offset) {
    (void)offset;
    text_collect *tc = user;
    if (!memcmp(type, "IHDR", 4)) {
        tc->bit_depth = data[8];
        tc->color_type = data[9];
    }
    if (memcmp(type, "tEXt", 4) != 0)
        return NULL;
    const uint8_t *nul = memchr(data, 0, n);
    if (!nul || nul == data || nul - data > 79)
        return "malformed tEXt chunk (no keyword of 1-79 characters before a NUL)";
    if (tc->n == INT_MAX)
        return "too many text chunks";
    rin_membuf_append(&tc->strings, data, n);
    rin_membuf_append(&tc->strings, "", 1); /* the value's terminator */
    tc->n++;
    return NULL;
}

rin_status rin_png_info_parse(const uint8_t *png, size_t len, rin_png_info *info, const char **why,
                              size_t *why_at) {
    memset(info, 0, sizeof *info);
    text_collect tc = {0};
    *why = png_walk(png, len, &info->W, &info->H, 1, collect_text, &tc, why_at);
    if (*why || tc.strings.oom) {
        free(tc.strings.p);
        return *why ? RIN_STATUS_FORMAT : RIN_STATUS_NOMEM;
    }
    info->bit_depth = tc.bit_depth;
    info->color_type = tc.color_type;
    if (tc.n == 0) {
        free(tc.strings.p);
        return RIN_STATUS_OK;
    }
    /* one block: the array, then the strings it points into */
    size_t head = (size_t)tc.n * sizeof *info->text;
    uint8_t *block = malloc(head + tc.strings.len);
    if (!block) {
        free(tc.strings.p);
        return RIN_STATUS_NOMEM;
    }
    memcpy(block + head, tc.strings.p, tc.strings.len);
    free(tc.strings.p);
    info->text = (rin_png_text *)(void *)block;
    const char *s = (const char *)block + head;
    for (int i = 0; i < tc.n; i++) {
        info->text[i].key = s;
        s += strlen(s) + 1;
        info->text[i].value = s;
        s += strlen(s) + 1;
    }
    info->ntext = tc.n;
    return RIN_STATUS_OK;
}

void rin_png_info_free(rin_png_info *info) {
    if (!info)
        return;
    free(info->text);
    memset(info, 0, sizeof *info);
}

const char *rin_png_info_text(const rin_png_info *info, const char *key) {
    for (int i = 0; i < info->ntext; i++)
        if (!strcmp(info->text[i].key, key))
            return info->text[i].value;
    return NULL;
}

/* stb works in int: keep every size it derives (rows of W*C+1 bytes, H of them, and the zlib
 * output) well inside INT_MAX. */
static int png_shape_ok(int H, int W, int C) {
    if (H < 1 || W < 1 || (C != 1 && C != 3))
        return 0;
    size_t row = (size_t)W * (size_t)C + 1;
    return row <= (size_t)INT_MAX / 4 && (size_t)H <= ((size_t)INT_MAX / 4) / row;
}

static void png_sink(void *ctx, void *data, int size) {
    if (size > 0)
        rin_membuf_append(ctx, data, (size_t)size);
}

rin_status rin_png_encode(uint8_t **out, size_t *outlen, const uint8_t *pixels, int H, int W,
                          int C) {
    if (!out || !outlen)
        return RIN_STATUS_ARG;
    *out = NULL;
    *outlen = 0;
    if (!pixels || !png_shape_ok(H, W, C))
        return RIN_STATUS_ARG;
    rin_membuf b = {0};
    int ok = stbi_write_png_to_func(png_sink, &b, W, H, C, pixels, W * C);
    if (!ok || b.oom || b.len == 0) {
        free(b.p);
        return RIN_STATUS_NOMEM; /* stb's only failure with valid arguments is malloc */
    }
    *out = b.p;
    *outlen = b.len;
    return RIN_STATUS_OK;
}

rin_status rin_png_write_text(const char *path, const uint8_t *pixels, int H, int W, int C,
                              const rin_png_text *text, int ntext, char *err, size_t errlen) {
    if (!path)
        return rin_errorf(err, errlen, RIN_STATUS_ARG, "rin_png_write: path is NULL");
    if (!pixels || !png_shape_ok(H, W, C))
        return rin_errorf(err, errlen, RIN_STATUS_ARG,
                          "%s: cannot write a PNG of %d x %d x %d%s (need H, W >= 1 and C = 1 "
                          "or 3)",
                          path, H, W, C, pixels ? "" : " from NULL pixels");
    if (ntext < 0 || (ntext > 0 && !text))
        return rin_errorf(err, errlen, RIN_STATUS_ARG, "%s: %d text chunks from NULL", path, ntext);
    for (int i = 0; i < ntext; i++) {
        const char *why = png_text_invalid(&text[i]);
        if (why)
            return rin_errorf(err, errlen, RIN_STATUS_ARG, "%s: text chunk '%s': %s", path,
                              text[i].key ? text[i].key : "(null)", why);
    }
    uint8_t *png;
    size_t len;
    rin_status s = rin_png_encode(&png, &len, pixels, H, W, C);
    if (s != RIN_STATUS_OK)
        return rin_errorf(err, errlen, s, "%s: PNG encoding failed: %s", path, rin_status_str(s));
    rin_membuf withtext = {0};
    if (ntext > 0) {
        s = png_insert_text(&withtext, png, len, text, ntext);
        free(png);
        if (s != RIN_STATUS_OK) {
            free(withtext.p);
            return rin_errorf(err, errlen, s, "%s: cannot add the text chunks: %s", path,
                              rin_status_str(s));
        }
        png = withtext.p;
        len = withtext.len;
    }
    s = rin_write_file_atomic(path, png, len, err, errlen);
    free(png);
    return s;
}

rin_status rin_png_write(const char *path, const uint8_t *pixels, int H, int W, int C, char *err,
                         size_t errlen) {
    return rin_png_write_text(path, pixels, H, W, C, NULL, 0, err, errlen);
}

rin_status rin_png_info_read(const char *path, rin_png_info *info, char *err, size_t errlen) {
    if (!path || !info)
        return rin_errorf(err, errlen, RIN_STATUS_ARG, "rin_png_info_read: NULL argument");
    memset(info, 0, sizeof *info);
    uint8_t *file;
    size_t len;
    rin_status s = rin_read_whole_file(path, &file, &len, err, errlen);
    if (s != RIN_STATUS_OK)
        return s;
    const char *why = NULL;
    size_t at = 0;
    s = rin_png_info_parse(file, len, info, &why, &at);
    char type[5] = ""; /* the chunk at fault, when its type is there and readable */
    if (s == RIN_STATUS_FORMAT && at > 0 && len - at >= 8) {
        memcpy(type, file + at + 4, 4);
        for (int k = 0; k < 4; k++)
            if (!((type[k] >= 'A' && type[k] <= 'Z') || (type[k] >= 'a' && type[k] <= 'z')))
                type[0] = 0;
    }
    free(file);
    if (s == RIN_STATUS_NOMEM)
        return rin_errorf(err, errlen, s, "%s: out of memory reading the text chunks", path);
    if (s != RIN_STATUS_OK && at > 0)
        return rin_errorf(err, errlen, s, "%s: %s (%s%schunk at byte %zu)", path, why, type,
                          type[0] ? " " : "", at);
    if (s != RIN_STATUS_OK)
        return rin_errorf(err, errlen, s, "%s: %s", path, why);
    return RIN_STATUS_OK;
}

rin_status rin_png_read(const char *path, uint8_t **pixels, int *H, int *W, int *C, char *err,
                        size_t errlen) {
    if (!path || !pixels || !H || !W || !C)
        return rin_errorf(err, errlen, RIN_STATUS_ARG, "rin_png_read: NULL argument");
    *pixels = NULL;
    *H = *W = *C = 0;
    uint8_t *file;
    size_t len;
    rin_status s = rin_read_whole_file(path, &file, &len, err, errlen);
    if (s != RIN_STATUS_OK)
        return s;
    int w, h, comp;
    const char *why = rin_png_probe(file, len, &w, &h);
    if (why) {
        free(file);
        return rin_errorf(err, errlen, RIN_STATUS_FORMAT, "%s: %s", path, why);
    }
    if (!stbi_info_from_memory(file, (int)len, &w, &h, &comp)) {
        free(file);
        return rin_errorf(err, errlen, RIN_STATUS_FORMAT, "%s: malformed PNG: %s", path,
                          stbi_failure_reason());
    }
    int want = comp <= 2 ? 1 : 3;    /* grey(+alpha) -> grey, RGB(A) -> RGB */
    if (!png_shape_ok(h, w, want)) { /* before decoding: no huge allocation for a tiny file */
        free(file);
        return rin_errorf(err, errlen, RIN_STATUS_FORMAT, "%s: unsupported PNG size %d x %d", path,
                          h, w);
    }
    int n0;
    uint8_t *img = stbi_load_from_memory(file, (int)len, &w, &h, &n0, want);
    free(file);
    if (!img)
        return rin_errorf(err, errlen, RIN_STATUS_FORMAT, "%s: cannot decode PNG: %s", path,
                          stbi_failure_reason());
    if (!png_shape_ok(h, w, want)) {
        stbi_image_free(img);
        return rin_errorf(err, errlen, RIN_STATUS_FORMAT, "%s: unsupported PNG size %d x %d", path,
                          h, w);
    }
    /* copied so that the caller's free() matches our malloc whatever allocator stb uses */
    size_t n = (size_t)h * (size_t)w * (size_t)want;
    uint8_t *px = malloc(n);
    if (!px) {
        stbi_image_free(img);
        return rin_errorf(err, errlen, RIN_STATUS_NOMEM, "%s: out of memory (%zu bytes)", path, n);
    }
    memcpy(px, img, n);
    stbi_image_free(img);
    *pixels = px;
    *H = h;
    *W = w;
    *C = want;
    return RIN_STATUS_OK;
}

/* ---- float images and grids ------------------------------------------------------------------ */

void rin_float_to_u8(uint8_t *dst, const float *src, size_t n, float b) {
    RIN_ASSERT(b > 0.0f);
    RIN_ASSERT(n == 0 || (dst && src));
    const float two_b = 2.0f * b;
    for (size_t i = 0; i < n; i++) {
        float v = 255.0f * (src[i] / two_b + 0.5f);
        if (!(v >= 0.0f)) /* also NaN */
            v = 0.0f;
        if (v > 255.0f)
            v = 255.0f;
        dst[i] = (uint8_t)lrintf(v); /* nearest, ties to even */
    }
}

#define GRID_GREY 128
#define GRID_PAD  2 /* rin_grid_write's border and gap, pixels */

rin_status rin_grid_make(uint8_t **out, int *GH, int *GW, const float *imgs, int N, int H, int W,
                         int C, int cols, int pad, float b) {
    if (!out || !GH || !GW)
        return RIN_STATUS_ARG;
    *out = NULL;
    *GH = *GW = 0;
    if (!imgs || N < 1 || H < 1 || W < 1 || (C != 1 && C != 3) || cols < 1 || pad < 0 ||
        !(b > 0.0f) || !isfinite(b))
        return RIN_STATUS_ARG;
    int rows = N / cols + (N % cols != 0);
    /* GH = rows H + (rows + 1) pad, GW = cols W + (cols + 1) pad, computed without overflow */
    int64_t gh = (int64_t)rows * H + ((int64_t)rows + 1) * pad;
    int64_t gw = (int64_t)cols * W + ((int64_t)cols + 1) * pad;
    if (gh > INT_MAX || gw > INT_MAX || !png_shape_ok((int)gh, (int)gw, C))
        return RIN_STATUS_ARG;
    size_t rowbytes = (size_t)gw * (size_t)C;
    uint8_t *g = malloc((size_t)gh * rowbytes);
    if (!g)
        return RIN_STATUS_NOMEM;
    memset(g, GRID_GREY, (size_t)gh * rowbytes);
    size_t img_row = (size_t)W * (size_t)C;
    for (int i = 0; i < N; i++) {
        size_t top = (size_t)pad + (size_t)(i / cols) * (size_t)(H + pad);
        size_t left = (size_t)pad + (size_t)(i % cols) * (size_t)(W + pad);
        const float *im = imgs + (size_t)i * (size_t)H * img_row;
        for (int y = 0; y < H; y++)
            rin_float_to_u8(g + (top + (size_t)y) * rowbytes + left * (size_t)C,
                            im + (size_t)y * img_row, img_row, b);
    }
    *out = g;
    *GH = (int)gh;
    *GW = (int)gw;
    return RIN_STATUS_OK;
}

rin_status rin_image_upscale(uint8_t **out, const uint8_t *in, int H, int W, int C, int s) {
    if (!out)
        return RIN_STATUS_ARG;
    *out = NULL;
    if (!in || H < 1 || W < 1 || C < 1 || C > 4 || s < 1 || (int64_t)H * s > INT_MAX ||
        (int64_t)W * s > INT_MAX || !png_shape_ok(H * s, W * s * C, 1))
        return RIN_STATUS_ARG;
    size_t orow = (size_t)W * (size_t)s * (size_t)C, irow = (size_t)W * (size_t)C;
    uint8_t *o = malloc((size_t)H * (size_t)s * orow);
    if (!o)
        return RIN_STATUS_NOMEM;
    for (int y = 0; y < H; y++) {
        uint8_t *row = o + (size_t)y * (size_t)s * orow;
        const uint8_t *src = in + (size_t)y * irow;
        for (int x = 0; x < W; x++)
            for (int k = 0; k < s; k++)
                memcpy(row + ((size_t)x * (size_t)s + (size_t)k) * (size_t)C,
                       src + (size_t)x * (size_t)C, (size_t)C);
        for (int k = 1; k < s; k++) /* the other s - 1 rows repeat the first */
            memcpy(row + (size_t)k * orow, row, orow);
    }
    *out = o;
    return RIN_STATUS_OK;
}

int rin_grid_auto_scale(int H, int W) {
    int m = H > W ? H : W;
    if (m < 1 || m >= RIN_GRID_MIN_PX)
        return 1;
    return (RIN_GRID_MIN_PX + m - 1) / m;
}

rin_status rin_grid_write(const char *path, const float *imgs, int N, int H, int W, int C, int cols,
                          float b, int scale, const rin_png_text *text, int ntext, char *err,
                          size_t errlen) {
    if (!path)
        return rin_errorf(err, errlen, RIN_STATUS_ARG, "rin_grid_write: path is NULL");
    if (scale < 0)
        return rin_errorf(err, errlen, RIN_STATUS_ARG,
                          "%s: grid scale %d (expected >= 1, or 0 "
                          "for automatic)",
                          path, scale);
    uint8_t *g;
    int gh, gw;
    rin_status s = rin_grid_make(&g, &gh, &gw, imgs, N, H, W, C, cols, GRID_PAD, b);
    if (s == RIN_STATUS_NOMEM)
        return rin_errorf(err, errlen, s, "%s: out of memory for a grid of %d images", path, N);
    if (s != RIN_STATUS_OK)
        return rin_errorf(err, errlen, s,
                          "%s: invalid grid: N=%d H=%d W=%d C=%d cols=%d b=%g (need N, H, W, "
                          "cols >= 1, C = 1 or 3, b > 0)",
                          path, N, H, W, C, cols, (double)b);
    if (scale == 0)
        scale = rin_grid_auto_scale(H, W);
    if (scale > 1) {
        uint8_t *big;
        s = rin_image_upscale(&big, g, gh, gw, C, scale);
        free(g);
        if (s != RIN_STATUS_OK)
            return rin_errorf(err, errlen, s, "%s: cannot enlarge a %d x %d grid %d times: %s",
                              path, gh, gw, scale, rin_status_str(s));
        g = big;
        gh *= scale;
        gw *= scale;
    }
    s = rin_png_write_text(path, g, gh, gw, C, text, ntext, err, errlen);
    free(g);
    return s;
}
