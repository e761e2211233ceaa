/* imageio.c -- PNG files, sample grids and the self-contained training report (src/data/imageio.h).
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
 * Not here: GIF output, dataset decoding beyond rin_png_read.
 *
 * stb keeps a few process-wide settings (vertical flip, PNG compression level and filter); this
 * file never changes them, so their defaults apply: no flip, zlib level 8, adaptive filters.
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <stb_image.h>
#include <stb_image_write.h>
#include <zlib.h>

#include "imageio.h"
#include "internal.h"

/* ---- growable memory buffer ------------------------------------------------------------------ */

/* Bytes appended at the end; an allocation failure sets oom and makes every later append a
 * no-op, so builders check once at the end. */
typedef struct membuf {
    uint8_t *p;
    size_t len, cap;
    int oom;
} membuf;

static int mb_reserve(membuf *b, size_t extra) {
    if (b->oom)
        return 0;
    if (extra <= b->cap - b->len)
        return 1;
    size_t need = b->len + extra;
    if (need < b->len) {
        b->oom = 1;
        return 0;
    }
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < need) {
        if (cap > SIZE_MAX / 2) {
            cap = need;
            break;
        }
        cap *= 2;
    }
    uint8_t *p = realloc(b->p, cap);
    if (!p) {
        b->oom = 1;
        return 0;
    }
    b->p = p;
    b->cap = cap;
    return 1;
}

static void mb_append(membuf *b, const void *data, size_t n) {
    if (n == 0 || !mb_reserve(b, n))
        return;
    memcpy(b->p + b->len, data, n);
    b->len += n;
}

static void mb_puts(membuf *b, const char *s) {
    mb_append(b, s, strlen(s));
}

static void mb_printf(membuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void mb_printf(membuf *b, const char *fmt, ...) {
    if (b->oom)
        return;
    char small[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n < sizeof small) {
        mb_append(b, small, (size_t)n);
        return;
    }
    if (!mb_reserve(b, (size_t)n + 1))
        return;
    va_start(ap, fmt);
    vsnprintf((char *)b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

/* Appends s with & < > " ' replaced by entities (safe in element content and quoted
 * attributes). NULL appends nothing. */
static void mb_escape(membuf *b, const char *s) {
    if (!s)
        return;
    const char *run = s;
    for (; *s; s++) {
        const char *ent = NULL;
        switch (*s) {
        case '&': ent = "&amp;"; break;
        case '<': ent = "&lt;"; break;
        case '>': ent = "&gt;"; break;
        case '"': ent = "&quot;"; break;
        case '\'': ent = "&#39;"; break;
        default: break;
        }
        if (ent) {
            mb_append(b, run, (size_t)(s - run));
            mb_puts(b, ent);
            run = s + 1;
        }
    }
    mb_append(b, run, (size_t)(s - run));
}

/* Standard base64 (RFC 4648, with '=' padding, no line breaks). */
static void mb_base64(membuf *b, const uint8_t *data, size_t n) {
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    if (!mb_reserve(b, (n + 2) / 3 * 4))
        return;
    char *o = (char *)b->p + b->len;
    size_t i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)data[i] << 16 | (uint32_t)data[i + 1] << 8 | data[i + 2];
        *o++ = tab[v >> 18];
        *o++ = tab[(v >> 12) & 63];
        *o++ = tab[(v >> 6) & 63];
        *o++ = tab[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)data[i] << 16;
        *o++ = tab[v >> 18];
        *o++ = tab[(v >> 12) & 63];
        *o++ = '=';
        *o++ = '=';
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)data[i] << 16 | (uint32_t)data[i + 1] << 8;
        *o++ = tab[v >> 18];
        *o++ = tab[(v >> 12) & 63];
        *o++ = tab[(v >> 6) & 63];
        *o++ = '=';
    }
    b->len = (size_t)(o - (char *)b->p);
}

/* Reads a whole file into *data (malloc'd; free it). */
static rin_status read_whole_file(const char *path, uint8_t **data, size_t *len, char *err,
                                  size_t errlen) {
    *data = NULL;
    *len = 0;
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return rin_errorf(err, errlen, RIN_STATUS_IO, "%s: cannot open: %s", path, strerror(errno));
    membuf b = {0};
    for (;;) {
        if (!mb_reserve(&b, 65536))
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
static rin_status png_insert_text(membuf *out, const uint8_t *png, size_t len,
                                  const rin_png_text *text, int ntext) {
    const size_t after_ihdr = 8 + 12 + 13;
    RIN_ASSERT(len > after_ihdr);
    mb_append(out, png, after_ihdr);
    for (int i = 0; i < ntext; i++) {
        size_t k = strlen(text[i].key), v = strlen(text[i].value);
        if (k + 1 + v > 0x7FFFFFFF - 4)
            return RIN_STATUS_ARG;
        uint8_t head[8];
        put_be32(head, (uint32_t)(k + 1 + v));
        memcpy(head + 4, "tEXt", 4);
        size_t at = out->len;
        mb_append(out, head, 8);
        mb_append(out, text[i].key, k + 1); /* with its NUL, the separator */
        mb_append(out, text[i].value, v);
        if (out->oom)
            return RIN_STATUS_NOMEM;
        uint8_t crc[4];
        put_be32(crc, (uint32_t)crc32(0L, out->p + at + 4, (uInt)(4 + k + 1 + v)));
        mb_append(out, crc, 4);
    }
    mb_append(out, png + after_ihdr, len - after_ihdr);
    return out->oom ? RIN_STATUS_NOMEM : RIN_STATUS_OK;
}

typedef struct text_collect {
    membuf strings; /* key NUL value NUL, per chunk */
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
    mb_append(&tc->strings, data, n);
    mb_append(&tc->strings, "", 1); /* the value's terminator */
    tc->n++;
    return NULL;
}

static rin_status png_info_parse(const uint8_t *png, size_t len, rin_png_info *info,
                                 const char **why, size_t *why_at) {
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
        mb_append(ctx, data, (size_t)size);
}

rin_status rin_png_encode(uint8_t **out, size_t *outlen, const uint8_t *pixels, int H, int W,
                          int C) {
    if (!out || !outlen)
        return RIN_STATUS_ARG;
    *out = NULL;
    *outlen = 0;
    if (!pixels || !png_shape_ok(H, W, C))
        return RIN_STATUS_ARG;
    membuf b = {0};
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
    membuf withtext = {0};
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
    rin_status s = read_whole_file(path, &file, &len, err, errlen);
    if (s != RIN_STATUS_OK)
        return s;
    const char *why = NULL;
    size_t at = 0;
    s = png_info_parse(file, len, info, &why, &at);
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
    rin_status s = read_whole_file(path, &file, &len, err, errlen);
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

/* ---- the report: SVG line charts ------------------------------------------------------------- */

#define CHART_MAX_POINTS 2000 /* drawn points per curve, plus the last */
#define CHART_W          720
#define CHART_H          300
#define CHART_L          76 /* margins: left (y tick labels), right, top (title), bottom (x labels) */
#define CHART_R          20
#define CHART_T          30
#define CHART_B          44

/* A "nice" tick spacing (1, 2 or 5 times a power of ten) for about `target` ticks. */
static double nice_step(double range, int target) {
    double raw = range / target;
    if (!(raw > 0.0) || !isfinite(raw))
        return 1.0;
    double mag = pow(10.0, floor(log10(raw)));
    double f = raw / mag;
    double m = f < 1.5 ? 1.0 : f < 3.0 ? 2.0 : f < 7.0 ? 5.0 : 10.0;
    return m * mag;
}

#define MAX_TICKS 32

/* Ticks in value space between lo and hi at multiples of step; returns their count. */
static int linear_ticks(double *t, double lo, double hi, double step) {
    int n = 0;
    double i0 = ceil(lo / step - 1e-9), i1 = floor(hi / step + 1e-9);
    for (double i = i0; i <= i1 && n < MAX_TICKS; i += 1.0) {
        double v = i * step;
        if (fabs(v) < 1e-9 * step)
            v = 0.0; /* no "-1e-17" labels */
        t[n++] = v;
    }
    return n;
}

/* Ticks for a log10 axis spanning [lo, hi] (exponents), as values. */
static int log_ticks(double *t, double lo, double hi) {
    double span = hi - lo;
    int n = 0;
    if (span <= 3.0) {
        static const double mant[3] = {1.0, 2.0, 5.0};
        for (double e = floor(lo); e <= ceil(hi) && n < MAX_TICKS; e += 1.0)
            for (int k = 0; k < 3 && n < MAX_TICKS; k++) {
                double v = mant[k] * pow(10.0, e), lv = log10(v);
                if (lv >= lo - 1e-9 && lv <= hi + 1e-9)
                    t[n++] = v;
            }
    } else {
        double every = span <= 10.0 ? 1.0 : ceil(span / 8.0);
        for (double e = ceil(lo / every) * every; e <= hi + 1e-9 && n < MAX_TICKS; e += every)
            t[n++] = pow(10.0, e);
    }
    if (n < 2) /* a narrow range inside one 1-2-5 interval: plain spacing in value space */
        n = linear_ticks(t, pow(10.0, lo), pow(10.0, hi),
                         nice_step(pow(10.0, hi) - pow(10.0, lo), 4));
    return n;
}

static int finite_for_axis(double v, int logy) {
    return isfinite(v) && (!logy || v > 0.0);
}

/* One <svg> line chart of y against steps (n >= 1 points). The y axis is log10 when allow_log
 * and every finite y is positive. Non-finite values are not drawn. At most CHART_MAX_POINTS
 * points are drawn (every k-th, and always the last). */
static void svg_chart(membuf *b, const char *id, const char *title, const char *ylabel,
                      const long *steps, const double *y, int n, int allow_log) {
    int logy = allow_log, nfin = 0;
    double ymin = (double)INFINITY, ymax = -(double)INFINITY;
    double xmin = (double)INFINITY, xmax = -(double)INFINITY;
    for (int i = 0; i < n; i++) {
        double s = (double)steps[i];
        xmin = s < xmin ? s : xmin;
        xmax = s > xmax ? s : xmax;
        if (!isfinite(y[i]))
            continue;
        if (y[i] <= 0.0)
            logy = 0;
        nfin++;
        ymin = y[i] < ymin ? y[i] : ymin;
        ymax = y[i] > ymax ? y[i] : ymax;
    }
    const double pw = CHART_W - CHART_L - CHART_R, ph = CHART_H - CHART_T - CHART_B;
    mb_printf(b,
              "<svg xmlns=\"http://www.w3.org/2000/svg\" id=\"%s\" width=\"%d\" height=\"%d\" "
              "viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" font-size=\"11\">\n"
              "<rect width=\"%d\" height=\"%d\" fill=\"#fff\"/>\n"
              "<text x=\"%d\" y=\"18\" font-size=\"13\" font-weight=\"bold\">",
              id, CHART_W, CHART_H, CHART_W, CHART_H, CHART_W, CHART_H, CHART_L);
    mb_escape(b, title);
    mb_puts(b, logy && nfin ? " (log scale)</text>\n" : "</text>\n");
    if (nfin == 0) {
        mb_printf(b, "<text x=\"%d\" y=\"%d\">no finite values</text>\n</svg>\n", CHART_L,
                  CHART_T + 20);
        return;
    }

    /* data ranges (in log10 units for a log axis), padded so the curve clears the frame */
    if (xmax <= xmin) {
        xmin = xmin >= 1.0 ? xmin - 1.0 : xmin;
        xmax = xmin + 2.0;
    }
    double lo = logy ? log10(ymin) : ymin, hi = logy ? log10(ymax) : ymax;
    if (hi <= lo) {
        double d = logy ? 0.5 : (lo != 0.0 ? 0.1 * fabs(lo) : 1.0);
        lo -= d;
        hi += d;
    } else {
        double d = 0.05 * (hi - lo);
        lo -= d;
        hi += d;
    }
#define SX(v) (CHART_L + ((v)-xmin) / (xmax - xmin) * pw)
#define SY(v) (CHART_T + ph - (((logy ? log10(v) : (v))) - lo) / (hi - lo) * ph)

    /* grid and tick labels */
    double t[MAX_TICKS];
    int nt = logy ? log_ticks(t, lo, hi) : linear_ticks(t, lo, hi, nice_step(hi - lo, 5));
    mb_puts(b, "<g stroke=\"#e6e6e6\" stroke-width=\"1\">\n");
    for (int i = 0; i < nt; i++)
        mb_printf(b, "<line x1=\"%d\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\"/>\n", CHART_L,
                  CHART_L + pw, SY(t[i]), SY(t[i]));
    double xs[MAX_TICKS];
    double xstep = nice_step(xmax - xmin, 6);
    int nx = linear_ticks(xs, xmin, xmax, xstep < 1.0 ? 1.0 : xstep);
    for (int i = 0; i < nx; i++)
        mb_printf(b, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%d\" y2=\"%.1f\"/>\n", SX(xs[i]),
                  SX(xs[i]), CHART_T, CHART_T + ph);
    mb_puts(b, "</g>\n<g fill=\"#444\">\n");
    for (int i = 0; i < nt; i++)
        mb_printf(b, "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%.4g</text>\n", CHART_L - 6,
                  SY(t[i]) + 4.0, t[i]);
    for (int i = 0; i < nx; i++)
        mb_printf(b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%.0f</text>\n", SX(xs[i]),
                  CHART_T + ph + 16.0, xs[i]);
    mb_printf(b, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">step</text>\n",
              CHART_L + pw / 2.0, CHART_H - 6);
    mb_printf(b,
              "<text transform=\"translate(14 %.1f) rotate(-90)\" "
              "text-anchor=\"middle\">",
              CHART_T + ph / 2.0);
    mb_escape(b, ylabel);
    mb_puts(b, "</text>\n</g>\n");
    /* axes */
    mb_printf(b,
              "<rect x=\"%d\" y=\"%d\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" "
              "stroke=\"#888\"/>\n",
              CHART_L, CHART_T, pw, ph);

    /* the curve: every k-th finite point, and always the last finite one */
    int last = n - 1;
    while (last >= 0 && !finite_for_axis(y[last], logy))
        last--;
    int k = n / CHART_MAX_POINTS + (n % CHART_MAX_POINTS != 0);
    mb_puts(b, "<polyline fill=\"none\" stroke=\"#1f6fb4\" stroke-width=\"1.5\" "
               "stroke-linejoin=\"round\" points=\"");
    for (int i = 0; i < n; i += k) {
        if (i != last && finite_for_axis(y[i], logy))
            mb_printf(b, "%.1f,%.1f ", SX((double)steps[i]), SY(y[i]));
    }
    mb_printf(b, "%.1f,%.1f\"/>\n", SX((double)steps[last]), SY(y[last]));
    mb_printf(b, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"#1f6fb4\"/>\n</svg>\n",
              SX((double)steps[last]), SY(y[last]));
#undef SX
#undef SY
}

/* ---- the report: page ------------------------------------------------------------------------ */

/* The config text as a two-column table: one row per non-empty line, split at the first '='
 * (a line without '=' spans both columns). */
static void html_config_table(membuf *b, const char *text) {
    mb_puts(b, "<table>\n<tr><th>key</th><th>value</th></tr>\n");
    char *copy = strdup(text);
    if (!copy) {
        b->oom = 1;
        return;
    }
    char *save = NULL;
    for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        size_t len = strlen(line);
        if (len > 0 && line[len - 1] == '\r')
            line[--len] = 0;
        if (len == 0)
            continue;
        char *eq = strchr(line, '=');
        if (eq) {
            *eq = 0;
            mb_puts(b, "<tr><td>");
            mb_escape(b, line);
            mb_puts(b, "</td><td>");
            mb_escape(b, eq + 1);
            mb_puts(b, "</td></tr>\n");
        } else {
            mb_puts(b, "<tr><td colspan=\"2\">");
            mb_escape(b, line);
            mb_puts(b, "</td></tr>\n");
        }
    }
    free(copy);
    mb_puts(b, "</table>\n");
}

#define REPORT_IMG_W 940 /* the widest a grid is shown, by whole multiples of its size */

/* A grid PNG read for the page: its bytes, size and text chunks (CRCs checked). */
typedef struct page_png {
    uint8_t *bytes;
    size_t len;
    rin_png_info info;
} page_png;

/* Reads png_path; on failure *why (cap bytes) says why and nothing is held. NOMEM is the only
 * failure returned: a missing or broken file is the page's to report. */
static rin_status page_png_read(page_png *pp, const char *png_path, char *why, size_t cap) {
    memset(pp, 0, sizeof *pp);
    rin_status s = read_whole_file(png_path, &pp->bytes, &pp->len, why, cap);
    if (s == RIN_STATUS_OK) {
        const char *bad = NULL;
        size_t at = 0;
        s = png_info_parse(pp->bytes, pp->len, &pp->info, &bad, &at);
        if (s == RIN_STATUS_FORMAT)
            snprintf(why, cap, "%s: %s", png_path, bad);
    }
    if (s != RIN_STATUS_OK) {
        free(pp->bytes);
        pp->bytes = NULL;
    }
    return s == RIN_STATUS_NOMEM ? s : RIN_STATUS_OK;
}

static void page_png_free(page_png *pp) {
    free(pp->bytes);
    rin_png_info_free(&pp->info);
}

/* "step 300, ddim, 50 steps, seed 1234" from the grid's text chunks; "step N" from `step`
 * (>= 0) when the PNG has none. ASCII only (the page is UTF-8, the chunks Latin-1). */
static void grid_caption(char *buf, size_t cap, const rin_png_info *info, long step) {
    const char *st = rin_png_info_text(info, "step"), *sa = rin_png_info_text(info, "sampler");
    const char *n = rin_png_info_text(info, "steps"), *seed = rin_png_info_text(info, "seed");
    size_t w = 0;
    buf[0] = 0;
#define CAPF(...)                                                                                  \
    do {                                                                                           \
        if (w < cap)                                                                               \
            w += (size_t)snprintf(buf + w, cap - w, __VA_ARGS__);                                  \
    } while (0)
    if (st)
        CAPF("step %s", st);
    else if (step >= 0)
        CAPF("step %ld", step);
    if (sa)
        CAPF("%s%s", w ? ", " : "", sa);
    if (n)
        CAPF("%s%s steps", w ? ", " : "", n);
    if (seed)
        CAPF("%sseed %s", w ? ", " : "", seed);
#undef CAPF
    for (char *c = buf; *c; c++)
        if ((unsigned char)*c >= 128)
            *c = '?';
}

/* The latest grid, large: an <img id="latest"> at a whole multiple of its size up to the page
 * width, with a caption. A missing or unreadable file is reported on the page rather than
 * failing the report (the first grid may not exist yet). */
static void html_latest_grid(membuf *b, const char *png_path, const char *caption) {
    page_png pp;
    char why[512];
    if (page_png_read(&pp, png_path, why, sizeof why) != RIN_STATUS_OK) {
        b->oom = 1;
        return;
    }
    if (!pp.bytes) {
        mb_puts(b, "<p>sample grid unavailable: ");
        mb_escape(b, why);
        mb_puts(b, "</p>\n");
        return;
    }
    int w = pp.info.W, h = pp.info.H;
    int k = w < REPORT_IMG_W ? REPORT_IMG_W / w : 1;
    k = k > 8 ? 8 : k;
    char cap[512];
    if (caption)
        snprintf(cap, sizeof cap, "%s", caption);
    else
        grid_caption(cap, sizeof cap, &pp.info, -1);
    mb_printf(b,
              "<figure><img id=\"latest\" class=\"grid\" style=\"width:%dpx\" "
              "alt=\"latest sample grid\" src=\"data:image/png;base64,",
              w * k);
    mb_base64(b, pp.bytes, pp.len);
    mb_puts(b, "\">\n<figcaption><span id=\"latest-cap\" class=\"cap\">");
    mb_escape(b, cap);
    mb_puts(b, "</span><br><span class=\"file\">");
    mb_escape(b, png_path);
    mb_printf(b, " (%d x %d)</span></figcaption></figure>\n", w, h);
    page_png_free(&pp);
}

/* The run's grids as thumbnails in div#thumbs, with an input#history slider over them when
 * there are two or more; the script shows the chosen one in img#latest. Unreadable files are
 * left out. */
static void html_history(membuf *b, const rin_report *r) {
    membuf thumbs = {0};
    int shown = 0;
    for (int i = 0; i < r->nhistory; i++) {
        page_png pp;
        char why[512];
        if (page_png_read(&pp, r->history_png[i], why, sizeof why) != RIN_STATUS_OK) {
            b->oom = 1;
            break;
        }
        if (!pp.bytes)
            continue;
        char cap[512];
        grid_caption(cap, sizeof cap, &pp.info, r->history_steps ? r->history_steps[i] : -1);
        if (!cap[0])
            snprintf(cap, sizeof cap, "grid %d", i + 1);
        mb_puts(&thumbs, "<img class=\"thumb\" title=\"");
        mb_escape(&thumbs, cap);
        mb_puts(&thumbs, "\" alt=\"");
        mb_escape(&thumbs, cap);
        mb_puts(&thumbs, "\" src=\"data:image/png;base64,");
        mb_base64(&thumbs, pp.bytes, pp.len);
        mb_puts(&thumbs, "\">\n");
        shown++;
        page_png_free(&pp);
    }
    if (thumbs.oom)
        b->oom = 1;
    if (shown > 0 && !b->oom) {
        mb_puts(b, "<h2>History</h2>\n");
        if (shown > 1)
            mb_printf(b,
                      "<p><label for=\"history\">grid of the run to show above (%d, oldest "
                      "first):</label><br>\n<input type=\"range\" id=\"history\" min=\"0\" "
                      "max=\"%d\" value=\"%d\" step=\"1\"></p>\n",
                      shown, shown - 1, shown - 1);
        mb_puts(b, "<div id=\"thumbs\">\n");
        mb_append(b, thumbs.p, thumbs.len);
        mb_puts(b, "</div>\n");
        /* the slider and a click on a thumbnail show that grid in img#latest */
        mb_puts(b, "<script>\n(function () {\n"
                   "  var s = document.getElementById('history'), im = "
                   "document.getElementById('latest');\n"
                   "  var cap = document.getElementById('latest-cap');\n"
                   "  var th = document.querySelectorAll('#thumbs img');\n"
                   "  function show(i) {\n"
                   "    if (im) im.src = th[i].src;\n"
                   "    if (cap) cap.textContent = th[i].title;\n"
                   "    if (s) s.value = i;\n"
                   "    for (var k = 0; k < th.length; k++) th[k].className = k == i ? "
                   "'thumb sel' : 'thumb';\n"
                   "  }\n"
                   "  if (s) s.oninput = function () { show(+s.value); };\n"
                   "  for (var k = 0; k < th.length; k++)\n"
                   "    th[k].onclick = (function (i) { return function () { show(i); }; })(k);\n"
                   "  th[th.length - 1].className = 'thumb sel';\n"
                   "})();\n</script>\n");
    }
    free(thumbs.p);
}

rin_status rin_report_write(const char *path, const rin_report *r, char *err, size_t errlen) {
    if (!path || !r)
        return rin_errorf(err, errlen, RIN_STATUS_ARG, "rin_report_write: NULL argument");
    if (r->n < 0 || (r->n > 0 && (!r->steps || !r->loss)))
        return rin_errorf(err, errlen, RIN_STATUS_ARG,
                          "%s: report with n = %d needs steps and loss arrays", path, r->n);
    if (r->nhistory < 0 || (r->nhistory > 0 && !r->history_png))
        return rin_errorf(err, errlen, RIN_STATUS_ARG,
                          "%s: report with nhistory = %d needs the history paths", path,
                          r->nhistory);
    const char *title = r->title ? r->title : "rin training report";
    const int n = r->n;
    membuf b = {0};

    mb_puts(&b, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>");
    mb_escape(&b, title);
    mb_puts(&b, "</title>\n<style>\n"
                "body{font-family:sans-serif;margin:1.5em;color:#222;max-width:60em}\n"
                "h1{font-size:1.4em}h2{font-size:1.1em;margin-top:1.5em}\n"
                "table{border-collapse:collapse}\n"
                "td,th{border:1px solid #ccc;padding:2px 8px;text-align:left;"
                "font-family:monospace}\n"
                "svg{display:block;margin:0.5em 0;max-width:100%;height:auto}\n"
                "pre{background:#f5f5f5;padding:0.6em;white-space:pre-wrap}\n"
                "figure{margin:0}figcaption{font-size:0.85em;color:#666}\n"
                "img.grid{max-width:100%;height:auto;image-rendering:pixelated;display:block}\n"
                ".cap{font-size:1.1em;color:#222}.file{font-size:0.85em}\n"
                "#history{width:100%}\n"
                "#thumbs img{height:56px;margin:0 4px 4px 0;border:2px solid transparent;"
                "cursor:pointer}\n"
                "#thumbs img.sel{border-color:#1f6fb4}\n"
                "</style>\n</head>\n<body>\n<h1>");
    mb_escape(&b, title);
    mb_puts(&b, "</h1>\n<h2>Summary</h2>\n");

    if (n == 0) {
        mb_puts(&b, "<p>no steps yet</p>\n");
    } else {
        int imin = -1;
        for (int i = 0; i < n; i++)
            if (isfinite(r->loss[i]) && (imin < 0 || r->loss[i] < r->loss[imin]))
                imin = i;
        mb_printf(&b, "<table>\n<tr><td>latest step</td><td>%ld</td></tr>\n", r->steps[n - 1]);
        mb_printf(&b, "<tr><td>latest loss</td><td>%.6g</td></tr>\n", r->loss[n - 1]);
        if (imin >= 0)
            mb_printf(&b, "<tr><td>min loss</td><td>%.6g (step %ld)</td></tr>\n", r->loss[imin],
                      r->steps[imin]);
        else
            mb_puts(&b, "<tr><td>min loss</td><td>none finite</td></tr>\n");
        if (r->lr)
            mb_printf(&b, "<tr><td>latest learning rate</td><td>%.6g</td></tr>\n", r->lr[n - 1]);
        mb_printf(&b, "<tr><td>points recorded</td><td>%d</td></tr>\n</table>\n", n);
    }
    /* what a person looks at first: the samples, then how the run got there */
    if (r->grid_png) {
        mb_puts(&b, "<h2>Latest samples</h2>\n");
        html_latest_grid(&b, r->grid_png, r->grid_caption);
    }
    if (r->nhistory > 0)
        html_history(&b, r);
    if (n > 0) {
        mb_puts(&b, "<h2>Curves</h2>\n");
        svg_chart(&b, "loss", "training loss", "loss", r->steps, r->loss, n, 1);
        if (r->lr)
            svg_chart(&b, "lr", "learning rate", "learning rate", r->steps, r->lr, n, 0);
    }
    if (r->config_text) {
        mb_puts(&b, "<h2>Config</h2>\n");
        html_config_table(&b, r->config_text);
    }
    if (r->notes) {
        mb_puts(&b, "<h2>Notes</h2>\n<pre>");
        mb_escape(&b, r->notes);
        mb_puts(&b, "</pre>\n");
    }
    mb_puts(&b, "</body>\n</html>\n");

    if (b.oom) {
        free(b.p);
        return rin_errorf(err, errlen, RIN_STATUS_NOMEM, "%s: out of memory building the report",
                          path);
    }
    rin_status s = rin_write_file_atomic(path, b.p, b.len, err, errlen);
    free(b.p);
    return s;
}
