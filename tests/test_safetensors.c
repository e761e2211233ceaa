/* test_safetensors.c -- T6 tests of the safetensors reader and writer (src/data/safetensors.c).
 *
 * Bitwise round trips of every supported dtype (scalars, zero-size tensors, metadata, unaligned
 * offsets), header alignment, F32/F64 conversion, rejection of corrupt files (each case checks
 * the status and a distinctive part of the message), writer argument checks, and atomic saves.
 * Corrupt files are written byte by byte here, not with the writer. Every test works in its own
 * directory from mkdtemp under /tmp and removes it.
 */
#include <dirent.h>
#include <errno.h>
#include <float.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "test.h"

/* ---- helpers --------------------------------------------------------------------------------- */

/* A file with header length hlen (as written in the first 8 bytes), the header text, then ndata
 * bytes 0, 1, 2, ... */
static int write_st_len(const char *path, uint64_t hlen, const char *header, size_t ndata) {
    size_t jl = strlen(header);
    size_t n = 8 + jl + ndata;
    uint8_t *buf = malloc(n);
    if (!buf)
        return 0;
    for (int i = 0; i < 8; i++)
        buf[i] = (uint8_t)(hlen >> (8 * i));
    memcpy(buf + 8, header, jl);
    for (size_t i = 0; i < ndata; i++)
        buf[8 + jl + i] = (uint8_t)i;
    int ok = test_write_bytes(path, buf, n);
    free(buf);
    return ok;
}

static int write_st(const char *path, const char *header, size_t ndata) {
    return write_st_len(path, strlen(header), header, ndata);
}

static uint8_t *read_all(const char *path, size_t *n) {
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return NULL;
    uint8_t *buf = NULL;
    size_t cap = 0, len = 0;
    for (;;) {
        if (len == cap) {
            cap = cap ? 2 * cap : 4096;
            uint8_t *b = realloc(buf, cap);
            if (!b) {
                free(buf);
                fclose(fp);
                return NULL;
            }
            buf = b;
        }
        size_t got = fread(buf + len, 1, cap - len, fp);
        len += got;
        if (got == 0)
            break;
    }
    fclose(fp);
    *n = len;
    return buf;
}

static uint64_t le64(const uint8_t *b) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | b[i];
    return v;
}

/* Reads path, expecting failure with status want and a message containing substr and the path. */
static void expect_read_fails(const char *file, int line, const char *path, rin_status want,
                              const char *substr) {
    rin_st_file dummy;
    rin_st_file *f = &dummy;
    char err[512] = "";
    rin_status st = rin_st_read(&f, path, err, sizeof err);
    if (st != want)
        test_fail(file, line, "status %s, expected %s (message: %s)", rin_status_str(st),
                  rin_status_str(want), err);
    if (!strstr(err, substr))
        test_fail(file, line, "message \"%s\" lacks \"%s\"", err, substr);
    if (!strstr(err, path))
        test_fail(file, line, "message \"%s\" does not name the file", err);
    if (f != NULL)
        test_fail(file, line, "*out not NULL after a failure");
    if (st == RIN_STATUS_OK && f && f != &dummy)
        rin_st_free(f);
}

/* Writes header + ndata bytes to a fresh file and expects the read to fail. */
static void reject_at(const char *file, int line, const char *header, size_t ndata, rin_status want,
                      const char *substr) {
    test_dir d = test_dir_make("st");
    if (!d.ok)
        return;
    char path[256];
    test_dir_file(path, sizeof path, &d, "bad.safetensors");
    if (!write_st(path, header, ndata))
        test_fail(file, line, "cannot write %s", path);
    else
        expect_read_fails(file, line, path, want, substr);
    test_dir_remove(&d);
}
#define REJECT(header, ndata, want, substr)                                                        \
    reject_at(__FILE__, __LINE__, header, ndata, want, substr)

static float f32_bits(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static double f64_bits(uint64_t u) {
    double f;
    memcpy(&f, &u, 8);
    return f;
}

/* ---- round trips ----------------------------------------------------------------------------- */

TEST(st_roundtrip_bitwise) {
    test_dir d = test_dir_make("st");
    if (!d.ok)
        return;
    char path[256];
    test_dir_file(path, sizeof path, &d, "rt.safetensors");

    /* U8 first with an odd size, so every later tensor sits at an unaligned offset. */
    const uint8_t u8[5] = {0, 1, 127, 128, 255};
    const float f32[6] = {1.5f, -0.0f, f32_bits(0x7fc00123u), f32_bits(1u), INFINITY, -3e38f};
    const double f64[3] = {f64_bits(0x7ff8000000000abcull), -0.0, DBL_MIN / 4};
    const int32_t i32[4] = {INT32_MIN, -1, 0, INT32_MAX};
    const int64_t i64[2] = {INT64_MIN, INT64_MAX};
    const float scalar = 3.25f;
    const float *empty = NULL;

    const int64_t s_u8[1] = {5}, s_f32[2] = {2, 3}, s_f64[1] = {3}, s_i32[2] = {2, 2},
                  s_i64[1] = {2}, s_empty[2] = {0, 4};
    struct {
        const char *name;
        rin_dtype dt;
        int ndim;
        const int64_t *shape;
        const void *data;
        size_t nbytes;
    } tab[] = {
        {"images", RIN_DTYPE_U8, 1, s_u8, u8, sizeof u8},
        {"w.f32", RIN_DTYPE_F32, 2, s_f32, f32, sizeof f32},
        {"ref.f64", RIN_DTYPE_F64, 1, s_f64, f64, sizeof f64},
        {"labels", RIN_DTYPE_I32, 2, s_i32, i32, sizeof i32},
        {"labels64", RIN_DTYPE_I64, 1, s_i64, i64, sizeof i64},
        {"scalar", RIN_DTYPE_F32, 0, NULL, &scalar, sizeof scalar},
        {"empty", RIN_DTYPE_F32, 2, s_empty, empty, 0},
    };
    const int nt = (int)(sizeof tab / sizeof tab[0]);

    rin_st_writer *w = rin_st_writer_new();
    CHECK(w != NULL);
    if (!w) {
        test_dir_remove(&d);
        return;
    }
    for (int i = 0; i < nt; i++)
        CHECK(rin_st_writer_add(w, tab[i].name, tab[i].dt, tab[i].ndim, tab[i].shape,
                                tab[i].data) == RIN_STATUS_OK);
    CHECK(rin_st_writer_meta(w, "format", "rin-fixture") == RIN_STATUS_OK);
    CHECK(rin_st_writer_meta(w, "note", "caf\xc3\xa9 \"quoted\" \\ / \xe2\x9c\x93") ==
          RIN_STATUS_OK);
    CHECK(rin_st_writer_meta(w, "empty", "") == RIN_STATUS_OK);
    char err[512] = "";
    rin_status st = rin_st_writer_save(w, path, err, sizeof err);
    CHECK_MSG(st == RIN_STATUS_OK, "save: %s", err);
    rin_st_writer_free(w);

    rin_st_file *f = NULL;
    st = rin_st_read(&f, path, err, sizeof err);
    CHECK_MSG(st == RIN_STATUS_OK, "read: %s", err);
    if (st == RIN_STATUS_OK) {
        CHECK(f->ntensors == nt);
        size_t off = 0;
        for (int i = 0; i < nt && i < f->ntensors; i++) {
            const rin_st_tensor *t = &f->tensors[i];
            CHECK_MSG(!strcmp(t->name, tab[i].name), "tensor %d is %s, expected %s", i, t->name,
                      tab[i].name);
            CHECK(t->dtype == tab[i].dt);
            CHECK(t->ndim == tab[i].ndim);
            for (int k = 0; k < t->ndim; k++)
                CHECK(t->shape[k] == tab[i].shape[k]);
            CHECK(t->nbytes == tab[i].nbytes);
            CHECK(t->numel == tab[i].nbytes / rin_dtype_size(tab[i].dt));
            CHECK(t->offset == off);
            CHECK(rin_st_find(f, tab[i].name) == t);
            if (t->nbytes == tab[i].nbytes && tab[i].nbytes > 0)
                CHECK_MSG(!memcmp(rin_st_data(f, t), tab[i].data, tab[i].nbytes),
                          "tensor %s differs", tab[i].name);
            off += tab[i].nbytes;
        }
        CHECK(f->data_size == off);
        CHECK(f->tensors[5].numel == 1);
        CHECK(f->tensors[6].numel == 0);
        CHECK(f->nmeta == 3);
        const char *fm = rin_st_meta(f, "format");
        CHECK(fm && !strcmp(fm, "rin-fixture"));
        const char *note = rin_st_meta(f, "note");
        CHECK(note && !strcmp(note, "caf\xc3\xa9 \"quoted\" \\ / \xe2\x9c\x93"));
        const char *em = rin_st_meta(f, "empty");
        CHECK(em && !strcmp(em, ""));
        CHECK(rin_st_meta(f, "absent") == NULL);
        CHECK(rin_st_find(f, "absent") == NULL);
        if (f->nmeta == 3)
            CHECK(!strcmp(f->meta_keys[0], "format") && !strcmp(f->meta_keys[2], "empty"));

        /* Unaligned F32 and F64 through the getters, bit for bit. */
        float g32[6];
        double g64[3];
        CHECK(rin_st_get_f32(f, "w.f32", g32, 6, err, sizeof err) == RIN_STATUS_OK);
        CHECK(!memcmp(g32, f32, sizeof f32));
        CHECK(rin_st_get_f64(f, "ref.f64", g64, 3, err, sizeof err) == RIN_STATUS_OK);
        CHECK(!memcmp(g64, f64, sizeof f64));
        float gs = 0;
        CHECK(rin_st_get_f32(f, "scalar", &gs, 1, err, sizeof err) == RIN_STATUS_OK);
        CHECK(gs == 3.25f);
        CHECK(rin_st_get_f32(f, "empty", NULL, 0, err, sizeof err) == RIN_STATUS_OK);
        rin_st_free(f);
    }

    /* The raw bytes: metadata first, header padded with spaces, data right after it. */
    size_t n = 0;
    uint8_t *raw = read_all(path, &n);
    CHECK(raw != NULL && n >= 8);
    if (raw && n >= 8) {
        uint64_t hl = le64(raw);
        CHECK((8 + hl) % 8 == 0);
        CHECK(8 + hl <= n);
        if (8 + hl <= n && hl > 16) {
            CHECK(!memcmp(raw + 8, "{\"__metadata__\":", 16));
            size_t end = 8 + (size_t)hl;
            while (end > 8 && raw[end - 1] == ' ')
                end--;
            CHECK(raw[end - 1] == '}');
            CHECK(n - 8 - hl ==
                  sizeof u8 + sizeof f32 + sizeof f64 + sizeof i32 + sizeof i64 + sizeof scalar);
            CHECK(!memcmp(raw + 8 + hl, u8, sizeof u8));
        }
    }
    free(raw);
    CHECK(test_dir_count(&d, ".tmp.") == 0);
    test_dir_remove(&d);
}

/* Every padding length 0..7 occurs; the header always ends on a multiple of 8. */
TEST(st_header_aligned) {
    test_dir d = test_dir_make("st");
    if (!d.ok)
        return;
    char path[256];
    test_dir_file(path, sizeof path, &d, "align.safetensors");
    int seen_pad[8] = {0};
    for (int len = 1; len <= 24; len++) {
        char name[32];
        memset(name, 'x', (size_t)len);
        name[len] = '\0';
        const int64_t shape[1] = {3};
        const float v[3] = {1, 2, 3};
        rin_st_writer *w = rin_st_writer_new();
        CHECK(w && rin_st_writer_add(w, name, RIN_DTYPE_F32, 1, shape, v) == RIN_STATUS_OK);
        char err[256] = "";
        CHECK_MSG(w && rin_st_writer_save(w, path, err, sizeof err) == RIN_STATUS_OK, "%s", err);
        rin_st_writer_free(w);
        size_t n = 0;
        uint8_t *raw = read_all(path, &n);
        CHECK(raw && n >= 8);
        if (raw && n >= 8) {
            uint64_t hl = le64(raw);
            CHECK_MSG((8 + hl) % 8 == 0, "name length %d: 8 + N = %llu", len,
                      (unsigned long long)(8 + hl));
            CHECK(n == 8 + hl + sizeof v);
            size_t jl = (size_t)hl;
            while (jl > 0 && raw[8 + jl - 1] == ' ')
                jl--;
            seen_pad[(hl - jl) & 7] = 1;
        }
        free(raw);
        rin_st_file *f = NULL;
        CHECK_MSG(rin_st_read(&f, path, err, sizeof err) == RIN_STATUS_OK, "%s", err);
        if (f) {
            float g[3];
            CHECK(rin_st_get_f32(f, name, g, 3, err, sizeof err) == RIN_STATUS_OK);
            CHECK(g[0] == 1 && g[2] == 3);
        }
        rin_st_free(f);
    }
    for (int p = 0; p < 8; p++)
        CHECK_MSG(seen_pad[p], "padding %d never occurred", p);

    /* An empty writer still gives a valid, aligned file with no tensors. */
    rin_st_writer *w = rin_st_writer_new();
    char err[256] = "";
    CHECK(w && rin_st_writer_save(w, path, err, sizeof err) == RIN_STATUS_OK);
    rin_st_writer_free(w);
    rin_st_file *f = NULL;
    CHECK_MSG(rin_st_read(&f, path, err, sizeof err) == RIN_STATUS_OK, "%s", err);
    if (f)
        CHECK(f->ntensors == 0 && f->nmeta == 0 && f->data_size == 0);
    rin_st_free(f);
    test_dir_remove(&d);
}

/* A file as another writer may produce it: no padding, metadata last, tensors listed out of
 * offset order, a zero-size tensor at the very end. Tensors keep file (header) order. */
TEST(st_read_foreign_layout) {
    test_dir d = test_dir_make("st");
    if (!d.ok)
        return;
    char path[256];
    test_dir_file(path, sizeof path, &d, "foreign.safetensors");
    const char *hdr = "{\"b\":{\"dtype\":\"I32\",\"shape\":[2],\"data_offsets\":[8,16]},"
                      "\"a\":{\"shape\":[8],\"data_offsets\":[0,8],\"dtype\":\"U8\"},"
                      "\"z\":{\"dtype\":\"F64\",\"shape\":[0,3],\"data_offsets\":[16,16]},"
                      "\"__metadata__\":{\"k\":\"v\"}}";
    CHECK(strlen(hdr) % 8 != 0);
    CHECK(write_st(path, hdr, 16));
    rin_st_file *f = NULL;
    char err[256] = "";
    rin_status st = rin_st_read(&f, path, err, sizeof err);
    CHECK_MSG(st == RIN_STATUS_OK, "%s", err);
    if (f) {
        CHECK(f->ntensors == 3);
        if (f->ntensors == 3) {
            CHECK(!strcmp(f->tensors[0].name, "b") && f->tensors[0].offset == 8);
            CHECK(!strcmp(f->tensors[1].name, "a") && f->tensors[1].offset == 0);
            CHECK(!strcmp(f->tensors[2].name, "z") && f->tensors[2].numel == 0);
            const uint8_t *a = rin_st_data(f, &f->tensors[1]);
            CHECK(a[0] == 0 && a[7] == 7);
            int32_t b[2];
            memcpy(b, rin_st_data(f, &f->tensors[0]), sizeof b);
            CHECK(b[0] == 0x0b0a0908 && b[1] == 0x0f0e0d0c);
        }
        CHECK(rin_st_meta(f, "k") && !strcmp(rin_st_meta(f, "k"), "v"));
    }
    rin_st_free(f);
    test_dir_remove(&d);
}

TEST(st_get_converts) {
    test_dir d = test_dir_make("st");
    if (!d.ok)
        return;
    char path[256];
    test_dir_file(path, sizeof path, &d, "conv.safetensors");
    const float x32[4] = {0.1f, -2.5f, 1e-30f, 3.0e38f};
    const double x64[4] = {0.1, -2.5, 1e-300, 1.0 / 3.0};
    const int64_t shape[2] = {2, 2};
    rin_st_writer *w = rin_st_writer_new();
    CHECK(w && rin_st_writer_add(w, "x32", RIN_DTYPE_F32, 2, shape, x32) == RIN_STATUS_OK);
    CHECK(w && rin_st_writer_add(w, "x64", RIN_DTYPE_F64, 2, shape, x64) == RIN_STATUS_OK);
    char err[256] = "";
    CHECK(w && rin_st_writer_save(w, path, err, sizeof err) == RIN_STATUS_OK);
    rin_st_writer_free(w);
    rin_st_file *f = NULL;
    CHECK_MSG(rin_st_read(&f, path, err, sizeof err) == RIN_STATUS_OK, "%s", err);
    if (f) {
        float g32[4];
        double g64[4];
        CHECK(rin_st_get_f32(f, "x64", g32, 4, err, sizeof err) == RIN_STATUS_OK);
        for (int i = 0; i < 4; i++)
            CHECK(g32[i] == (float)x64[i]);
        CHECK(rin_st_get_f64(f, "x32", g64, 4, err, sizeof err) == RIN_STATUS_OK);
        for (int i = 0; i < 4; i++)
            CHECK(g64[i] == (double)x32[i]);
    }
    rin_st_free(f);
    test_dir_remove(&d);
}

TEST(st_get_errors) {
    test_dir d = test_dir_make("st");
    if (!d.ok)
        return;
    char path[256];
    test_dir_file(path, sizeof path, &d, "get.safetensors");
    const float x[6] = {0};
    const int32_t lab[3] = {1, 2, 3};
    const int64_t shape[2] = {2, 3}, s3[1] = {3};
    rin_st_writer *w = rin_st_writer_new();
    CHECK(w && rin_st_writer_add(w, "blocks.0.w", RIN_DTYPE_F32, 2, shape, x) == RIN_STATUS_OK);
    CHECK(w && rin_st_writer_add(w, "labels", RIN_DTYPE_I32, 1, s3, lab) == RIN_STATUS_OK);
    char err[256] = "";
    CHECK(w && rin_st_writer_save(w, path, err, sizeof err) == RIN_STATUS_OK);
    rin_st_writer_free(w);
    rin_st_file *f = NULL;
    CHECK_MSG(rin_st_read(&f, path, err, sizeof err) == RIN_STATUS_OK, "%s", err);
    if (f) {
        float g[8];
        double g64[8];
        err[0] = '\0';
        CHECK(rin_st_get_f32(f, "blocks.0.w", g, 5, err, sizeof err) == RIN_STATUS_FORMAT);
        CHECK_MSG(strstr(err, "tensor blocks.0.w") && strstr(err, "expected 5 elements") &&
                      strstr(err, "(2,3)"),
                  "message: %s", err);
        err[0] = '\0';
        CHECK(rin_st_get_f64(f, "blocks.0.w", g64, 8, err, sizeof err) == RIN_STATUS_FORMAT);
        CHECK_MSG(strstr(err, "expected 8 elements"), "message: %s", err);
        err[0] = '\0';
        CHECK(rin_st_get_f32(f, "labels", g, 3, err, sizeof err) == RIN_STATUS_FORMAT);
        CHECK_MSG(strstr(err, "tensor labels") && strstr(err, "dtype I32"), "message: %s", err);
        err[0] = '\0';
        CHECK(rin_st_get_f32(f, "nope", g, 3, err, sizeof err) == RIN_STATUS_FORMAT);
        CHECK_MSG(strstr(err, "tensor nope: not in the file"), "message: %s", err);
    }
    rin_st_free(f);
    test_dir_remove(&d);
}

/* ---- rejection of corrupt files -------------------------------------------------------------- */

#define T_A "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}"

TEST(st_reject_short_file) {
    test_dir d = test_dir_make("st");
    if (!d.ok)
        return;
    char path[256];
    test_dir_file(path, sizeof path, &d, "short.safetensors");
    CHECK(test_write_bytes(path, "\x10\0\0\0\0", 5));
    expect_read_fails(__FILE__, __LINE__, path, RIN_STATUS_IO, "truncated: file has 5 bytes");
    CHECK(test_write_bytes(path, "", 0));
    expect_read_fails(__FILE__, __LINE__, path, RIN_STATUS_IO, "truncated: file has 0 bytes");
    test_dir_remove(&d);
}

TEST(st_reject_missing_file) {
    test_dir d = test_dir_make("st");
    if (!d.ok)
        return;
    char path[256];
    test_dir_file(path, sizeof path, &d, "absent.safetensors");
    expect_read_fails(__FILE__, __LINE__, path, RIN_STATUS_IO, "No such file");
    expect_read_fails(__FILE__, __LINE__, d.path, RIN_STATUS_IO, "not a regular file");
    test_dir_remove(&d);
}

TEST(st_reject_header_past_end) {
    test_dir d = test_dir_make("st");
    if (!d.ok)
        return;
    char path[256];
    test_dir_file(path, sizeof path, &d, "past.safetensors");
    CHECK(write_st_len(path, 100, "{" T_A "}", 8));
    expect_read_fails(__FILE__, __LINE__, path, RIN_STATUS_IO, "truncated: header length 100");
    test_dir_remove(&d);
}

TEST(st_reject_data_short) {
    REJECT("{\"w\":{\"dtype\":\"F32\",\"shape\":[5,6],\"data_offsets\":[0,120]}}", 100,
           RIN_STATUS_IO, "truncated: tensor w: data_offsets [0, 120]");
}

TEST(st_reject_header_too_long) {
    test_dir d = test_dir_make("st");
    if (!d.ok)
        return;
    char path[256];
    test_dir_file(path, sizeof path, &d, "long.safetensors");
    CHECK(write_st_len(path, 100000001, "{}", 0));
    expect_read_fails(__FILE__, __LINE__, path, RIN_STATUS_FORMAT,
                      "header length 100000001 exceeds the limit");
    CHECK(write_st_len(path, UINT64_MAX, "{}", 0));
    expect_read_fails(__FILE__, __LINE__, path, RIN_STATUS_FORMAT, "exceeds the limit");
    test_dir_remove(&d);
}

TEST(st_reject_not_json) {
    REJECT("{\"a\": {\"dtype\": \"F32\",", 0, RIN_STATUS_FORMAT, "header is not valid JSON");
    REJECT("", 0, RIN_STATUS_FORMAT, "header is not valid JSON");
    REJECT("{\"a\":\xff}", 0, RIN_STATUS_FORMAT, "header is not valid JSON");
}

TEST(st_reject_header_not_object) {
    REJECT("[1, 2, 3]", 0, RIN_STATUS_FORMAT, "header is an array, not a JSON object");
    REJECT("\"x\"", 0, RIN_STATUS_FORMAT, "header is a string, not a JSON object");
    REJECT("  {" T_A "}", 8, RIN_STATUS_FORMAT, "header must start with '{'");
}

TEST(st_reject_unknown_dtype) {
    REJECT("{\"blocks.0.w\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[0,4]}}", 4,
           RIN_STATUS_FORMAT, "tensor blocks.0.w: unknown dtype BF16");
    REJECT("{\"a\":{\"dtype\":7,\"shape\":[2],\"data_offsets\":[0,8]}}", 8, RIN_STATUS_FORMAT,
           "tensor a: dtype is an integer, not a string");
}

TEST(st_reject_missing_field) {
    REJECT("{\"a\":{\"dtype\":\"F32\",\"shape\":[2]}}", 8, RIN_STATUS_FORMAT,
           "tensor a: missing field data_offsets");
    REJECT("{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,8]}}", 8, RIN_STATUS_FORMAT,
           "tensor a: missing field shape");
    REJECT("{\"a\":[1,2]}", 8, RIN_STATUS_FORMAT, "tensor a: entry is an array, not an object");
}

TEST(st_reject_extra_field) {
    REJECT("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8],\"foo\":1}}", 8,
           RIN_STATUS_FORMAT, "tensor a: unexpected field \"foo\"");
}

TEST(st_reject_bad_shape) {
    REJECT("{\"a\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", 8,
           RIN_STATUS_FORMAT, "tensor a: shape entry 0 is -2");
    REJECT("{\"a\":{\"dtype\":\"F32\",\"shape\":[2, 1.0],\"data_offsets\":[0,8]}}", 8,
           RIN_STATUS_FORMAT, "tensor a: shape entry 1 is a real number");
    REJECT("{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,2],\"data_offsets\":[0,8]}}", 8,
           RIN_STATUS_FORMAT, "tensor a: shape has 9 dimensions");
    REJECT("{\"a\":{\"dtype\":\"F32\",\"shape\":\"2\",\"data_offsets\":[0,8]}}", 8,
           RIN_STATUS_FORMAT, "tensor a: shape is a string");
    REJECT("{\"a\":{\"dtype\":\"F64\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,8]}}",
           8, RIN_STATUS_FORMAT, "too large");
}

TEST(st_reject_bad_offsets) {
    REJECT("{\"a\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[8,0]}}", 8, RIN_STATUS_FORMAT,
           "tensor a: data_offsets [8, 0] has begin > end");
    REJECT("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8,8]}}", 8,
           RIN_STATUS_FORMAT, "tensor a: data_offsets must be [begin, end]");
    REJECT("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[-8,0]}}", 8,
           RIN_STATUS_FORMAT, "tensor a: data_offsets must be [begin, end]");
}

TEST(st_reject_size_mismatch) {
    REJECT("{\"blocks.0.read_wq\":{\"dtype\":\"F32\",\"shape\":[5,6],\"data_offsets\":[0,100]}}",
           100, RIN_STATUS_FORMAT,
           "tensor blocks.0.read_wq: data_offsets [0, 100] but F32 shape (5,6) needs 120 bytes");
    REJECT("{\"s\":{\"dtype\":\"F64\",\"shape\":[],\"data_offsets\":[0,4]}}", 4, RIN_STATUS_FORMAT,
           "tensor s: data_offsets [0, 4] but F64 shape () needs 8 bytes");
}

TEST(st_reject_overlap) {
    REJECT("{" T_A ",\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12,
           RIN_STATUS_FORMAT, "tensor b: data_offsets [4, 12] overlap tensor a");
    /* the same range twice */
    REJECT("{" T_A ",\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8,
           RIN_STATUS_FORMAT, "overlap tensor a");
}

TEST(st_reject_hole) {
    REJECT("{" T_A ",\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[12,20]}}", 20,
           RIN_STATUS_FORMAT,
           "hole in the data buffer: bytes [8, 12) between tensor a and tensor b");
    REJECT("{\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12,
           RIN_STATUS_FORMAT, "bytes [0, 4) before tensor b");
    REJECT("{" T_A "}", 12, RIN_STATUS_FORMAT,
           "bytes [8, 12) at the end of the data buffer belong to no tensor");
    REJECT("{}", 3, RIN_STATUS_FORMAT, "bytes [0, 3) at the end");
}

TEST(st_reject_duplicate_names) {
    REJECT("{" T_A ",\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}", 16,
           RIN_STATUS_FORMAT, "duplicate key");
    REJECT("{\"__metadata__\":{\"k\":\"1\",\"k\":\"2\"}," T_A "}", 8, RIN_STATUS_FORMAT,
           "duplicate key");
}

TEST(st_reject_bad_metadata) {
    REJECT("{\"__metadata__\":{\"format\":\"x\",\"step\":3}," T_A "}", 8, RIN_STATUS_FORMAT,
           "__metadata__ value of key \"step\" is an integer, not a string");
    REJECT("{\"__metadata__\":{\"n\":{\"a\":\"b\"}}}", 0, RIN_STATUS_FORMAT,
           "key \"n\" is an object");
    REJECT("{\"__metadata__\":\"x\"," T_A "}", 8, RIN_STATUS_FORMAT,
           "__metadata__ is a string, not an object");
}

/* ---- writer ---------------------------------------------------------------------------------- */

TEST(st_writer_rejects_bad_args) {
    test_dir d = test_dir_make("st");
    if (!d.ok)
        return;
    const float x[4] = {1, 2, 3, 4};
    const int64_t s4[1] = {4}, neg[1] = {-1}, s9[9] = {1, 1, 1, 1, 1, 1, 1, 1, 4};
    rin_st_writer *w = rin_st_writer_new();
    CHECK(w != NULL);
    if (!w) {
        test_dir_remove(&d);
        return;
    }
    CHECK(rin_st_writer_add(w, "x", RIN_DTYPE_F32, 1, s4, x) == RIN_STATUS_OK);
    CHECK(rin_st_writer_add(w, "x", RIN_DTYPE_F32, 1, s4, x) == RIN_STATUS_ARG);
    CHECK(rin_st_writer_add(w, "__metadata__", RIN_DTYPE_F32, 1, s4, x) == RIN_STATUS_ARG);
    CHECK(rin_st_writer_add(w, "n", RIN_DTYPE_F32, 1, neg, x) == RIN_STATUS_ARG);
    CHECK(rin_st_writer_add(w, "d9", RIN_DTYPE_F32, 9, s9, x) == RIN_STATUS_ARG);
    CHECK(rin_st_writer_add(w, "nd", RIN_DTYPE_F32, -1, s4, x) == RIN_STATUS_ARG);
    CHECK(rin_st_writer_add(w, "nodata", RIN_DTYPE_F32, 1, s4, NULL) == RIN_STATUS_ARG);
    CHECK(rin_st_writer_add(w, "dt", RIN_DTYPE_COUNT, 1, s4, x) == RIN_STATUS_ARG);
    CHECK(rin_st_writer_add(w, "bad\xff", RIN_DTYPE_F32, 1, s4, x) == RIN_STATUS_ARG);
    CHECK(rin_st_writer_add(w, NULL, RIN_DTYPE_F32, 1, s4, x) == RIN_STATUS_ARG);
    CHECK(rin_st_writer_meta(w, "k", "v") == RIN_STATUS_OK);
    CHECK(rin_st_writer_meta(w, "k", "w") == RIN_STATUS_ARG);
    CHECK(rin_st_writer_meta(w, "k2", "\xc3") == RIN_STATUS_ARG);
    CHECK(rin_st_writer_meta(w, "k3", NULL) == RIN_STATUS_ARG);

    /* The writer still holds exactly what was accepted. */
    char path[256], err[256] = "";
    test_dir_file(path, sizeof path, &d, "args.safetensors");
    CHECK_MSG(rin_st_writer_save(w, path, err, sizeof err) == RIN_STATUS_OK, "%s", err);
    rin_st_writer_free(w);
    rin_st_file *f = NULL;
    CHECK_MSG(rin_st_read(&f, path, err, sizeof err) == RIN_STATUS_OK, "%s", err);
    if (f) {
        CHECK(f->ntensors == 1 && f->nmeta == 1);
        CHECK(rin_st_meta(f, "k") && !strcmp(rin_st_meta(f, "k"), "v"));
    }
    rin_st_free(f);
    rin_st_writer_free(NULL);
    rin_st_free(NULL);
    test_dir_remove(&d);
}

static rin_status save_one(const char *path, const char *name, const float *x, int64_t n, char *err,
                           size_t errlen) {
    rin_st_writer *w = rin_st_writer_new();
    if (!w)
        return RIN_STATUS_NOMEM;
    rin_status st = rin_st_writer_add(w, name, RIN_DTYPE_F32, 1, &n, x);
    if (st == RIN_STATUS_OK)
        st = rin_st_writer_save(w, path, err, errlen);
    rin_st_writer_free(w);
    return st;
}

TEST(st_save_fails_without_dir) {
    test_dir d = test_dir_make("st");
    if (!d.ok)
        return;
    char path[256], sub[256], err[512] = "";
    test_dir_file(sub, sizeof sub, &d, "missing");
    test_dir_file(path, sizeof path, &d, "missing/x.safetensors");
    const float x[2] = {1, 2};
    rin_status st = save_one(path, "x", x, 2, err, sizeof err);
    CHECK(st == RIN_STATUS_IO);
    CHECK_MSG(strstr(err, path) && strstr(err, strerror(ENOENT)), "message: %s", err);
    struct stat sb;
    CHECK(stat(sub, &sb) != 0);
    CHECK(test_dir_count(&d, ".tmp.") == 0);
    test_dir_remove(&d);
}

/* The failure comes after the temporary file was written (rename onto a directory fails), so
 * the temporary file must be removed. */
TEST(st_save_failure_removes_temp) {
    test_dir d = test_dir_make("st");
    if (!d.ok)
        return;
    char path[256], err[512] = "";
    test_dir_file(path, sizeof path, &d, "target");
    CHECK(mkdir(path, 0700) == 0);
    const float x[2] = {1, 2};
    rin_status st = save_one(path, "x", x, 2, err, sizeof err);
    CHECK(st == RIN_STATUS_IO);
    CHECK_MSG(strstr(err, path) && strstr(err, "cannot rename"), "message: %s", err);
    struct stat sb;
    CHECK(stat(path, &sb) == 0 && S_ISDIR(sb.st_mode));
    CHECK(test_dir_count(&d, ".tmp.") == 0);
    test_dir_remove(&d);
}

TEST(st_save_replaces_existing) {
    test_dir d = test_dir_make("st");
    if (!d.ok)
        return;
    char path[256], err[512] = "";
    test_dir_file(path, sizeof path, &d, "ckpt.safetensors");
    const float a[3] = {1, 2, 3}, b[2] = {-4, 5};
    CHECK_MSG(save_one(path, "old", a, 3, err, sizeof err) == RIN_STATUS_OK, "%s", err);
    CHECK_MSG(save_one(path, "new", b, 2, err, sizeof err) == RIN_STATUS_OK, "%s", err);
    rin_st_file *f = NULL;
    CHECK_MSG(rin_st_read(&f, path, err, sizeof err) == RIN_STATUS_OK, "%s", err);
    if (f) {
        float g[2] = {0};
        CHECK(f->ntensors == 1 && rin_st_find(f, "old") == NULL);
        CHECK(rin_st_get_f32(f, "new", g, 2, err, sizeof err) == RIN_STATUS_OK);
        CHECK(g[0] == -4 && g[1] == 5);
        CHECK(f->data_size == sizeof b);
    }
    rin_st_free(f);
    CHECK(test_dir_count(&d, ".tmp.") == 0);
    test_dir_remove(&d);
}

/* With the directory read-only the save fails before touching the old file. Root ignores the
 * permission bits, so the test is skipped there. */
TEST(st_save_readonly_dir_keeps_old) {
    if (geteuid() == 0) {
        test_skip("running as root: directory permissions are not enforced");
        return;
    }
    test_dir d = test_dir_make("st");
    if (!d.ok)
        return;
    char path[256], err[512] = "";
    test_dir_file(path, sizeof path, &d, "ckpt.safetensors");
    const float a[3] = {1, 2, 3}, b[2] = {-4, 5};
    CHECK_MSG(save_one(path, "old", a, 3, err, sizeof err) == RIN_STATUS_OK, "%s", err);
    CHECK(chmod(d.path, 0500) == 0);
    CHECK(save_one(path, "new", b, 2, err, sizeof err) == RIN_STATUS_IO);
    CHECK_MSG(strstr(err, path) && strstr(err, strerror(EACCES)), "message: %s", err);
    CHECK(chmod(d.path, 0700) == 0);
    rin_st_file *f = NULL;
    CHECK_MSG(rin_st_read(&f, path, err, sizeof err) == RIN_STATUS_OK, "%s", err);
    if (f) {
        float g[3] = {0};
        CHECK(rin_st_get_f32(f, "old", g, 3, err, sizeof err) == RIN_STATUS_OK);
        CHECK(g[0] == 1 && g[2] == 3);
    }
    rin_st_free(f);
    CHECK(test_dir_count(&d, ".tmp.") == 0);
    test_dir_remove(&d);
}
