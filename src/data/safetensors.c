/* safetensors.c -- reader and writer for safetensors files (checkpoints and test fixtures).
 *
 * The format (style.md section 9): 8 bytes N (unsigned little-endian), N bytes of JSON header
 * (an object, possibly padded with spaces), then the data buffer. Each header key except
 * "__metadata__" names a tensor: {"dtype", "shape", "data_offsets": [begin, end]}, offsets
 * relative to the data buffer. "__metadata__" maps strings to strings.
 *
 * The reader parses the header with Jansson (never by hand) and validates all of it against the
 * file size before it allocates or reads the data buffer; it reads the whole file into memory.
 * The writer builds the header with Jansson and saves atomically (temporary file, fsync, rename,
 * fsync of the directory).
 *
 * What this file is not: it knows nothing about models. Checking names, dtypes and shapes against
 * the parameter table is the caller's job (model.c). Only F32, F64, I32, I64 and U8 are
 * supported; other dtypes (BF16, F16, ...) are rejected. Little-endian hosts only.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "internal.h"

/* The reference implementation's limit on the header length. */
#define ST_MAX_HEADER 100000000u

// clang-format off
static const char *const dtype_names[RIN_DTYPE_COUNT] = {"F32", "F64", "I32", "I64", "U8"};
static const size_t dtype_sizes[RIN_DTYPE_COUNT]      = {4, 8, 4, 8, 1};
// clang-format on

const char *rin_dtype_name(rin_dtype t) {
    return (unsigned)t < RIN_DTYPE_COUNT ? dtype_names[t] : "?";
}

size_t rin_dtype_size(rin_dtype t) {
    return (unsigned)t < RIN_DTYPE_COUNT ? dtype_sizes[t] : 0;
}

/* The data are little-endian and used in place, so a big-endian host refuses. */
static int host_is_little_endian(void) {
    union {
        uint32_t u;
        uint8_t b[4];
    } x = {.u = 1};
    return x.b[0] == 1;
}

/* "(5,6)", "()" for a scalar; truncated to fit buf. */
static void format_shape(char *buf, size_t len, int ndim, const int64_t *shape) {
    size_t pos = 0;
    int n = snprintf(buf, len, "(");
    pos = n > 0 ? (size_t)n : 0;
    for (int i = 0; i < ndim && pos < len; i++) {
        n = snprintf(buf + pos, len - pos, "%s%lld", i ? "," : "", (long long)shape[i]);
        if (n < 0)
            return;
        pos += (size_t)n;
    }
    if (pos < len)
        snprintf(buf + pos, len - pos, ")");
}

/* numel and nbytes of a shape, with overflow checks. Returns 0 on overflow. */
static int shape_sizes(int ndim, const int64_t *shape, size_t elsize, size_t *numel,
                       size_t *nbytes) {
    size_t n = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0)
            return 0;
        uint64_t d = (uint64_t)shape[i];
        if (d > SIZE_MAX)
            return 0;
        if (d != 0 && n > SIZE_MAX / (size_t)d)
            return 0;
        n *= (size_t)d;
    }
    if (elsize != 0 && n > SIZE_MAX / elsize)
        return 0;
    *numel = n;
    *nbytes = n * elsize;
    return 1;
}

static char *dup_str(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

/* A JSON value's type, for messages. */
static const char *json_type_name(const json_t *v) {
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL: return "a real number";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    case JSON_NULL: return "null";
    }
    return "an unknown value";
}

/* ---- reader ---------------------------------------------------------------------------------- */

void rin_st_free(rin_st_file *f) {
    if (!f)
        return;
    if (f->tensors) {
        for (int i = 0; i < f->ntensors; i++)
            free(f->tensors[i].name);
        free(f->tensors);
    }
    if (f->meta_keys) {
        for (int i = 0; i < f->nmeta; i++)
            free(f->meta_keys[i]);
        free(f->meta_keys);
    }
    if (f->meta_values) {
        for (int i = 0; i < f->nmeta; i++)
            free(f->meta_values[i]);
        free(f->meta_values);
    }
    free(f->data);
    free(f);
}

/* Reads exactly n bytes; on a short read says whether the file ended or failed. */
static rin_status read_exact(FILE *fp, void *buf, size_t n, const char *path, const char *what,
                             size_t at, char *err, size_t errlen) {
    if (n == 0)
        return RIN_STATUS_OK;
    errno = 0;
    size_t got = fread(buf, 1, n, fp);
    if (got == n)
        return RIN_STATUS_OK;
    if (ferror(fp))
        return rin_errorf(err, errlen, RIN_STATUS_IO, "%s: cannot read the %s: %s", path, what,
                          errno ? strerror(errno) : "read error");
    return rin_errorf(err, errlen, RIN_STATUS_IO,
                      "%s: truncated while reading the %s: got %zu of %zu bytes at offset %zu",
                      path, what, got, n, at);
}

/* One validated tensor entry, plus begin/end for the tiling check. */
typedef struct st_span {
    uint64_t begin, end;
    int index;
} st_span;

static int span_cmp(const void *a, const void *b) {
    const st_span *x = a, *y = b;
    if (x->begin != y->begin)
        return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end)
        return x->end < y->end ? -1 : 1;
    return (x->index > y->index) - (x->index < y->index);
}

/* Parses a non-negative JSON integer into *v; 0 if it is not one. */
static int json_nonneg_int(const json_t *j, int64_t *v) {
    if (!json_is_integer(j))
        return 0;
    json_int_t x = json_integer_value(j);
    if (x < 0)
        return 0;
    *v = (int64_t)x;
    return 1;
}

/* Validates one tensor entry and fills t (except name). data_size is the data buffer's size. */
static rin_status parse_tensor(rin_st_tensor *t, uint64_t *begin_out, uint64_t *end_out,
                               const char *path, const char *name, json_t *entry, size_t data_size,
                               char *err, size_t errlen) {
    if (!json_is_object(entry))
        return rin_errorf(err, errlen, RIN_STATUS_FORMAT,
                          "%s: tensor %s: entry is %s, not an object", path, name,
                          json_type_name(entry));
    const char *key;
    json_t *val;
    json_object_foreach(entry, key, val) {
        if (strcmp(key, "dtype") && strcmp(key, "shape") && strcmp(key, "data_offsets"))
            return rin_errorf(err, errlen, RIN_STATUS_FORMAT,
                              "%s: tensor %s: unexpected field \"%s\" (an entry has exactly "
                              "dtype, shape and data_offsets)",
                              path, name, key);
    }
    const json_t *jdtype = json_object_get(entry, "dtype");
    const json_t *jshape = json_object_get(entry, "shape");
    const json_t *joffs = json_object_get(entry, "data_offsets");
    const char *missing = !jdtype ? "dtype" : !jshape ? "shape" : !joffs ? "data_offsets" : NULL;
    if (missing)
        return rin_errorf(err, errlen, RIN_STATUS_FORMAT, "%s: tensor %s: missing field %s", path,
                          name, missing);

    /* dtype */
    if (!json_is_string(jdtype))
        return rin_errorf(err, errlen, RIN_STATUS_FORMAT,
                          "%s: tensor %s: dtype is %s, not a string", path, name,
                          json_type_name(jdtype));
    const char *ds = json_string_value(jdtype);
    int dt = -1;
    for (int i = 0; i < RIN_DTYPE_COUNT; i++)
        if (!strcmp(ds, dtype_names[i]))
            dt = i;
    if (dt < 0)
        return rin_errorf(err, errlen, RIN_STATUS_FORMAT,
                          "%s: tensor %s: unknown dtype %s (supported: F32, F64, I32, I64, U8)",
                          path, name, ds);
    t->dtype = (rin_dtype)dt;

    /* shape */
    if (!json_is_array(jshape))
        return rin_errorf(err, errlen, RIN_STATUS_FORMAT,
                          "%s: tensor %s: shape is %s, not an array", path, name,
                          json_type_name(jshape));
    size_t nd = json_array_size(jshape);
    if (nd > RIN_ST_MAX_DIMS)
        return rin_errorf(err, errlen, RIN_STATUS_FORMAT,
                          "%s: tensor %s: shape has %zu dimensions, at most %d are supported", path,
                          name, nd, RIN_ST_MAX_DIMS);
    t->ndim = (int)nd;
    for (size_t i = 0; i < nd; i++) {
        const json_t *d = json_array_get(jshape, i);
        if (!json_nonneg_int(d, &t->shape[i])) {
            if (json_is_integer(d))
                return rin_errorf(err, errlen, RIN_STATUS_FORMAT,
                                  "%s: tensor %s: shape entry %zu is %lld, not a non-negative "
                                  "integer",
                                  path, name, i, (long long)json_integer_value(d));
            return rin_errorf(err, errlen, RIN_STATUS_FORMAT,
                              "%s: tensor %s: shape entry %zu is %s, not a non-negative integer",
                              path, name, i, json_type_name(d));
        }
    }
    char shp[160];
    format_shape(shp, sizeof shp, t->ndim, t->shape);
    if (!shape_sizes(t->ndim, t->shape, dtype_sizes[dt], &t->numel, &t->nbytes))
        return rin_errorf(err, errlen, RIN_STATUS_FORMAT,
                          "%s: tensor %s: %s shape %s is too large (size overflows)", path, name,
                          ds, shp);

    /* data_offsets */
    int64_t b = 0, e = 0;
    if (!json_is_array(joffs) || json_array_size(joffs) != 2 ||
        !json_nonneg_int(json_array_get(joffs, 0), &b) ||
        !json_nonneg_int(json_array_get(joffs, 1), &e))
        return rin_errorf(err, errlen, RIN_STATUS_FORMAT,
                          "%s: tensor %s: data_offsets must be [begin, end], two non-negative "
                          "integers",
                          path, name);
    if (b > e)
        return rin_errorf(err, errlen, RIN_STATUS_FORMAT,
                          "%s: tensor %s: data_offsets [%lld, %lld] has begin > end", path, name,
                          (long long)b, (long long)e);
    if ((uint64_t)(e - b) != (uint64_t)t->nbytes)
        return rin_errorf(err, errlen, RIN_STATUS_FORMAT,
                          "%s: tensor %s: data_offsets [%lld, %lld] but %s shape %s needs %zu "
                          "bytes",
                          path, name, (long long)b, (long long)e, ds, shp, t->nbytes);
    if ((uint64_t)e > (uint64_t)data_size)
        return rin_errorf(err, errlen, RIN_STATUS_IO,
                          "%s: truncated: tensor %s: data_offsets [%lld, %lld] end past the data "
                          "buffer of %zu bytes",
                          path, name, (long long)b, (long long)e, data_size);
    t->offset = (size_t)b;
    *begin_out = (uint64_t)b;
    *end_out = (uint64_t)e;
    return RIN_STATUS_OK;
}

/* Sorted by begin, the spans must tile [0, data_size) exactly. */
static rin_status check_tiling(const rin_st_file *f, st_span *spans, const char *path, char *err,
                               size_t errlen) {
    if (f->ntensors > 0)
        qsort(spans, (size_t)f->ntensors, sizeof *spans, span_cmp);
    uint64_t pos = 0;
    int prev = -1; /* the tensor that ends at pos */
    for (int i = 0; i < f->ntensors; i++) {
        const st_span *s = &spans[i];
        const char *name = f->tensors[s->index].name;
        if (s->begin > pos) {
            if (prev < 0)
                return rin_errorf(err, errlen, RIN_STATUS_FORMAT,
                                  "%s: hole in the data buffer: bytes [0, %llu) before tensor %s "
                                  "belong to no tensor",
                                  path, (unsigned long long)s->begin, name);
            return rin_errorf(err, errlen, RIN_STATUS_FORMAT,
                              "%s: hole in the data buffer: bytes [%llu, %llu) between tensor %s "
                              "and tensor %s belong to no tensor",
                              path, (unsigned long long)pos, (unsigned long long)s->begin,
                              f->tensors[prev].name, name);
        }
        if (s->begin < pos)
            return rin_errorf(err, errlen, RIN_STATUS_FORMAT,
                              "%s: tensor %s: data_offsets [%llu, %llu] overlap tensor %s, "
                              "which ends at %llu",
                              path, name, (unsigned long long)s->begin, (unsigned long long)s->end,
                              prev >= 0 ? f->tensors[prev].name : "?", (unsigned long long)pos);
        if (s->end > s->begin || prev < 0) {
            pos = s->end;
            prev = s->index;
        }
    }
    if (pos != (uint64_t)f->data_size)
        return rin_errorf(err, errlen, RIN_STATUS_FORMAT,
                          "%s: bytes [%llu, %zu) at the end of the data buffer belong to no "
                          "tensor",
                          path, (unsigned long long)pos, f->data_size);
    return RIN_STATUS_OK;
}

/* Validates the parsed header and fills f's tensor and metadata tables (not the data). */
static rin_status parse_header(rin_st_file *f, json_t *root, const char *path, char *err,
                               size_t errlen) {
    json_t *meta = json_object_get(root, "__metadata__");
    size_t nkeys = json_object_size(root);
    size_t nt = nkeys - (meta ? 1 : 0);
    if (nt > INT_MAX)
        return rin_errorf(err, errlen, RIN_STATUS_FORMAT, "%s: too many tensors (%zu)", path, nt);

    if (meta) {
        if (!json_is_object(meta))
            return rin_errorf(err, errlen, RIN_STATUS_FORMAT,
                              "%s: __metadata__ is %s, not an object of strings", path,
                              json_type_name(meta));
        size_t nm = json_object_size(meta);
        if (nm > INT_MAX)
            return rin_errorf(err, errlen, RIN_STATUS_FORMAT, "%s: too many metadata keys", path);
        const char *key;
        json_t *val;
        json_object_foreach(meta, key, val) {
            if (!json_is_string(val))
                return rin_errorf(err, errlen, RIN_STATUS_FORMAT,
                                  "%s: __metadata__ value of key \"%s\" is %s, not a string", path,
                                  key, json_type_name(val));
        }
        if (nm > 0) {
            f->meta_keys = calloc(nm, sizeof *f->meta_keys);
            f->meta_values = calloc(nm, sizeof *f->meta_values);
            if (!f->meta_keys || !f->meta_values)
                return rin_errorf(err, errlen, RIN_STATUS_NOMEM,
                                  "%s: out of memory for %zu metadata entries", path, nm);
            json_object_foreach(meta, key, val) {
                int i = f->nmeta;
                f->meta_keys[i] = dup_str(key);
                f->meta_values[i] = dup_str(json_string_value(val));
                f->nmeta++; /* counted before the check so that rin_st_free frees both */
                if (!f->meta_keys[i] || !f->meta_values[i])
                    return rin_errorf(err, errlen, RIN_STATUS_NOMEM,
                                      "%s: out of memory for metadata", path);
            }
        }
    }

    if (nt == 0)
        return check_tiling(f, NULL, path, err, errlen);
    f->tensors = calloc(nt, sizeof *f->tensors);
    st_span *spans = calloc(nt, sizeof *spans);
    if (!f->tensors || !spans) {
        free(spans);
        return rin_errorf(err, errlen, RIN_STATUS_NOMEM, "%s: out of memory for %zu tensors", path,
                          nt);
    }
    /* Jansson (>= 2.8) iterates an object in insertion order, which is file order. */
    const char *key;
    json_t *val;
    rin_status st = RIN_STATUS_OK;
    json_object_foreach(root, key, val) {
        if (!strcmp(key, "__metadata__"))
            continue;
        int i = f->ntensors;
        rin_st_tensor *t = &f->tensors[i];
        st = parse_tensor(t, &spans[i].begin, &spans[i].end, path, key, val, f->data_size, err,
                          errlen);
        if (st != RIN_STATUS_OK)
            break;
        t->name = dup_str(key);
        if (!t->name) {
            st = rin_errorf(err, errlen, RIN_STATUS_NOMEM, "%s: out of memory", path);
            break;
        }
        spans[i].index = i;
        f->ntensors++;
    }
    if (st == RIN_STATUS_OK)
        st = check_tiling(f, spans, path, err, errlen);
    free(spans);
    return st;
}

rin_status rin_st_read(rin_st_file **out, const char *path, char *err, size_t errlen) {
    if (!out || !path)
        return rin_errorf(err, errlen, RIN_STATUS_ARG, "rin_st_read: NULL argument");
    *out = NULL;
    if (!host_is_little_endian())
        return rin_errorf(err, errlen, RIN_STATUS_FORMAT,
                          "%s: safetensors data are little-endian and this host is big-endian "
                          "(not supported)",
                          path);

    FILE *fp = fopen(path, "rb");
    if (!fp)
        return rin_errorf(err, errlen, RIN_STATUS_IO, "%s: cannot open: %s", path, strerror(errno));
    rin_status st = RIN_STATUS_OK;
    char *header = NULL;
    json_t *root = NULL;
    rin_st_file *f = NULL;

    struct stat sb;
    if (fstat(fileno(fp), &sb) != 0) {
        st = rin_errorf(err, errlen, RIN_STATUS_IO, "%s: cannot stat: %s", path, strerror(errno));
        goto done;
    }
    if (!S_ISREG(sb.st_mode)) {
        st = rin_errorf(err, errlen, RIN_STATUS_IO, "%s: not a regular file", path);
        goto done;
    }
    if (sb.st_size < 0 || (uintmax_t)sb.st_size > SIZE_MAX) {
        st = rin_errorf(err, errlen, RIN_STATUS_IO, "%s: file size %lld not supported", path,
                        (long long)sb.st_size);
        goto done;
    }
    size_t fsize = (size_t)sb.st_size;
    if (fsize < 8) {
        st = rin_errorf(err, errlen, RIN_STATUS_IO,
                        "%s: truncated: file has %zu bytes, needs at least 8 for the header "
                        "length",
                        path, fsize);
        goto done;
    }
    uint8_t lenbuf[8];
    st = read_exact(fp, lenbuf, 8, path, "header length", 0, err, errlen);
    if (st != RIN_STATUS_OK)
        goto done;
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--)
        n = (n << 8) | lenbuf[i];
    if (n > ST_MAX_HEADER) {
        st = rin_errorf(err, errlen, RIN_STATUS_FORMAT,
                        "%s: header length %llu exceeds the limit of %u bytes", path,
                        (unsigned long long)n, ST_MAX_HEADER);
        goto done;
    }
    if (n > fsize - 8) {
        st = rin_errorf(err, errlen, RIN_STATUS_IO,
                        "%s: truncated: header length %llu but the file has only %zu bytes after "
                        "the 8-byte length",
                        path, (unsigned long long)n, fsize - 8);
        goto done;
    }
    size_t hlen = (size_t)n;
    header = malloc(hlen ? hlen : 1);
    if (!header) {
        st = rin_errorf(err, errlen, RIN_STATUS_NOMEM, "%s: out of memory for a %zu-byte header",
                        path, hlen);
        goto done;
    }
    st = read_exact(fp, header, hlen, path, "header", 8, err, errlen);
    if (st != RIN_STATUS_OK)
        goto done;

    json_error_t jerr;
    root = json_loadb(header, hlen, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
    if (!root) {
        if (json_error_code(&jerr) == json_error_duplicate_key)
            st = rin_errorf(err, errlen, RIN_STATUS_FORMAT,
                            "%s: header has a duplicate key (tensor name, field or metadata "
                            "key): %s (line %d, column %d)",
                            path, jerr.text, jerr.line, jerr.column);
        else
            st = rin_errorf(err, errlen, RIN_STATUS_FORMAT,
                            "%s: header is not valid JSON: %s (line %d, column %d)", path,
                            jerr.text, jerr.line, jerr.column);
        goto done;
    }
    if (!json_is_object(root)) {
        st = rin_errorf(err, errlen, RIN_STATUS_FORMAT, "%s: header is %s, not a JSON object", path,
                        json_type_name(root));
        goto done;
    }
    if (header[0] != '{') {
        st = rin_errorf(err, errlen, RIN_STATUS_FORMAT,
                        "%s: header must start with '{' (it starts with byte 0x%02x)", path,
                        (unsigned)(uint8_t)header[0]);
        goto done;
    }
    free(header);
    header = NULL;

    f = calloc(1, sizeof *f);
    if (!f) {
        st = rin_errorf(err, errlen, RIN_STATUS_NOMEM, "%s: out of memory", path);
        goto done;
    }
    f->data_size = fsize - 8 - hlen;
    st = parse_header(f, root, path, err, errlen);
    if (st != RIN_STATUS_OK)
        goto done;
    json_decref(root);
    root = NULL;

    /* Validated: now the one allocation for the data. */
    f->data = rin_aligned_alloc(f->data_size);
    if (!f->data) {
        st = rin_errorf(err, errlen, RIN_STATUS_NOMEM,
                        "%s: out of memory for the %zu-byte data buffer", path, f->data_size);
        goto done;
    }
    st = read_exact(fp, f->data, f->data_size, path, "data buffer", 8 + hlen, err, errlen);

done:
    json_decref(root);
    free(header);
    if (fclose(fp) != 0 && st == RIN_STATUS_OK)
        st = rin_errorf(err, errlen, RIN_STATUS_IO, "%s: cannot close: %s", path, strerror(errno));
    if (st != RIN_STATUS_OK) {
        rin_st_free(f);
        return st;
    }
    *out = f;
    return RIN_STATUS_OK;
}

const rin_st_tensor *rin_st_find(const rin_st_file *f, const char *name) {
    if (!f || !name)
        return NULL;
    for (int i = 0; i < f->ntensors; i++)
        if (!strcmp(f->tensors[i].name, name))
            return &f->tensors[i];
    return NULL;
}

const char *rin_st_meta(const rin_st_file *f, const char *key) {
    if (!f || !key)
        return NULL;
    for (int i = 0; i < f->nmeta; i++)
        if (!strcmp(f->meta_keys[i], key))
            return f->meta_values[i];
    return NULL;
}

/* Finds a float tensor of exactly numel elements; errors name the tensor. */
static rin_status find_float(const rin_st_tensor **out, const rin_st_file *f, const char *name,
                             const void *dst, size_t numel, char *err, size_t errlen) {
    if (!f || !name || (!dst && numel > 0))
        return rin_errorf(err, errlen, RIN_STATUS_ARG, "rin_st_get: NULL argument");
    const rin_st_tensor *t = rin_st_find(f, name);
    if (!t)
        return rin_errorf(err, errlen, RIN_STATUS_FORMAT, "tensor %s: not in the file", name);
    char shp[160];
    format_shape(shp, sizeof shp, t->ndim, t->shape);
    if (t->dtype != RIN_DTYPE_F32 && t->dtype != RIN_DTYPE_F64)
        return rin_errorf(err, errlen, RIN_STATUS_FORMAT,
                          "tensor %s: file has dtype %s shape %s, expected F32 or F64", name,
                          rin_dtype_name(t->dtype), shp);
    if (t->numel != numel)
        return rin_errorf(err, errlen, RIN_STATUS_FORMAT,
                          "tensor %s: expected %zu elements, file has %s shape %s (%zu elements)",
                          name, numel, rin_dtype_name(t->dtype), shp, t->numel);
    *out = t;
    return RIN_STATUS_OK;
}

rin_status rin_st_get_f32(const rin_st_file *f, const char *name, float *dst, size_t numel,
                          char *err, size_t errlen) {
    const rin_st_tensor *t = NULL;
    rin_status st = find_float(&t, f, name, dst, numel, err, errlen);
    if (st != RIN_STATUS_OK)
        return st;
    const uint8_t *src = rin_st_data(f, t);
    if (t->dtype == RIN_DTYPE_F32) {
        if (numel > 0)
            memcpy(dst, src, t->nbytes);
    } else {
        /* The data buffer need not be 8-byte aligned at this offset: copy element by element. */
        for (size_t i = 0; i < numel; i++) {
            double v;
            memcpy(&v, src + 8 * i, 8);
            dst[i] = (float)v;
        }
    }
    return RIN_STATUS_OK;
}

rin_status rin_st_get_f64(const rin_st_file *f, const char *name, double *dst, size_t numel,
                          char *err, size_t errlen) {
    const rin_st_tensor *t = NULL;
    rin_status st = find_float(&t, f, name, dst, numel, err, errlen);
    if (st != RIN_STATUS_OK)
        return st;
    const uint8_t *src = rin_st_data(f, t);
    if (t->dtype == RIN_DTYPE_F64) {
        if (numel > 0)
            memcpy(dst, src, t->nbytes);
    } else {
        for (size_t i = 0; i < numel; i++) {
            float v;
            memcpy(&v, src + 4 * i, 4);
            dst[i] = (double)v;
        }
    }
    return RIN_STATUS_OK;
}

/* ---- writer ---------------------------------------------------------------------------------- */

typedef struct st_wtensor {
    char *name;
    rin_dtype dtype;
    int ndim;
    int64_t shape[RIN_ST_MAX_DIMS];
    size_t nbytes;
    const void *data; /* referenced, not owned */
} st_wtensor;

struct rin_st_writer {
    int ntensors, cap;
    st_wtensor *tensors; /* in the order added */
    int nmeta, metacap;
    char **meta_keys, **meta_values;
    size_t total; /* data bytes so far */
};

rin_st_writer *rin_st_writer_new(void) {
    return calloc(1, sizeof(rin_st_writer));
}

void rin_st_writer_free(rin_st_writer *w) {
    if (!w)
        return;
    for (int i = 0; i < w->ntensors; i++)
        free(w->tensors[i].name);
    free(w->tensors);
    for (int i = 0; i < w->nmeta; i++) {
        free(w->meta_keys[i]);
        free(w->meta_values[i]);
    }
    free(w->meta_keys);
    free(w->meta_values);
    free(w);
}

/* Whether Jansson accepts s as a string (valid UTF-8). */
static int valid_json_string(const char *s) {
    json_t *j = json_string(s);
    if (!j)
        return 0;
    json_decref(j);
    return 1;
}

rin_status rin_st_writer_add(rin_st_writer *w, const char *name, rin_dtype dtype, int ndim,
                             const int64_t *shape, const void *data) {
    if (!w || !name || (unsigned)dtype >= RIN_DTYPE_COUNT || ndim < 0 || ndim > RIN_ST_MAX_DIMS ||
        (ndim > 0 && !shape))
        return RIN_STATUS_ARG;
    if (!strcmp(name, "__metadata__") || !valid_json_string(name))
        return RIN_STATUS_ARG;
    size_t numel, nbytes;
    if (!shape_sizes(ndim, shape, dtype_sizes[dtype], &numel, &nbytes))
        return RIN_STATUS_ARG;
    if (nbytes > 0 && !data)
        return RIN_STATUS_ARG;
    /* Offsets are written as JSON integers (64-bit signed). */
    if (nbytes > (size_t)INT64_MAX - w->total)
        return RIN_STATUS_ARG;
    for (int i = 0; i < w->ntensors; i++)
        if (!strcmp(w->tensors[i].name, name))
            return RIN_STATUS_ARG;
    if (w->ntensors == w->cap) {
        if (w->cap > INT_MAX / 2)
            return RIN_STATUS_NOMEM;
        int cap = w->cap ? 2 * w->cap : 16;
        st_wtensor *t = realloc(w->tensors, (size_t)cap * sizeof *t);
        if (!t)
            return RIN_STATUS_NOMEM;
        w->tensors = t;
        w->cap = cap;
    }
    st_wtensor *t = &w->tensors[w->ntensors];
    memset(t, 0, sizeof *t);
    t->name = dup_str(name);
    if (!t->name)
        return RIN_STATUS_NOMEM;
    t->dtype = dtype;
    t->ndim = ndim;
    for (int i = 0; i < ndim; i++)
        t->shape[i] = shape[i];
    t->nbytes = nbytes;
    t->data = data;
    w->total += nbytes;
    w->ntensors++;
    return RIN_STATUS_OK;
}

rin_status rin_st_writer_meta(rin_st_writer *w, const char *key, const char *value) {
    if (!w || !key || !value || !valid_json_string(key) || !valid_json_string(value))
        return RIN_STATUS_ARG;
    for (int i = 0; i < w->nmeta; i++)
        if (!strcmp(w->meta_keys[i], key))
            return RIN_STATUS_ARG;
    if (w->nmeta == w->metacap) {
        if (w->metacap > INT_MAX / 2)
            return RIN_STATUS_NOMEM;
        int cap = w->metacap ? 2 * w->metacap : 16;
        char **k = realloc(w->meta_keys, (size_t)cap * sizeof *k);
        if (!k)
            return RIN_STATUS_NOMEM;
        w->meta_keys = k;
        char **v = realloc(w->meta_values, (size_t)cap * sizeof *v);
        if (!v)
            return RIN_STATUS_NOMEM;
        w->meta_values = v;
        w->metacap = cap;
    }
    char *k = dup_str(key), *v = dup_str(value);
    if (!k || !v) {
        free(k);
        free(v);
        return RIN_STATUS_NOMEM;
    }
    w->meta_keys[w->nmeta] = k;
    w->meta_values[w->nmeta] = v;
    w->nmeta++;
    return RIN_STATUS_OK;
}

/* The compact JSON header ("__metadata__" first, then tensors in order), or NULL (no memory). */
static char *build_header(const rin_st_writer *w) {
    json_t *root = json_object();
    if (!root)
        return NULL;
    int ok = 1;
    if (w->nmeta > 0) {
        json_t *meta = json_object();
        ok = meta && json_object_set_new(root, "__metadata__", meta) == 0;
        for (int i = 0; ok && i < w->nmeta; i++)
            ok = json_object_set_new(meta, w->meta_keys[i], json_string(w->meta_values[i])) == 0;
    }
    size_t off = 0;
    for (int i = 0; ok && i < w->ntensors; i++) {
        const st_wtensor *t = &w->tensors[i];
        json_t *e = json_object(), *shape = json_array(), *offs = json_array();
        ok = e && shape && offs;
        ok = ok && json_object_set_new(e, "dtype", json_string(dtype_names[t->dtype])) == 0;
        for (int d = 0; ok && d < t->ndim; d++)
            ok = json_array_append_new(shape, json_integer((json_int_t)t->shape[d])) == 0;
        ok = ok && json_array_append_new(offs, json_integer((json_int_t)off)) == 0;
        ok = ok && json_array_append_new(offs, json_integer((json_int_t)(off + t->nbytes))) == 0;
        /* set_new steals the reference even on failure; NULL the locals once handed over */
        if (ok) {
            ok = json_object_set_new(e, "shape", shape) == 0;
            shape = NULL;
        }
        if (ok) {
            ok = json_object_set_new(e, "data_offsets", offs) == 0;
            offs = NULL;
        }
        if (ok) {
            ok = json_object_set_new(root, t->name, e) == 0;
            e = NULL;
        }
        json_decref(shape);
        json_decref(offs);
        json_decref(e);
        off += t->nbytes;
    }
    char *s = ok ? json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(root);
    return s;
}

/* fsync of the directory holding path, so that the rename is durable. */
static int sync_parent_dir(const char *path) {
    const char *slash = strrchr(path, '/');
    char *dir;
    if (!slash) {
        dir = dup_str(".");
    } else {
        size_t n = slash == path ? 1 : (size_t)(slash - path);
        dir = malloc(n + 1);
        if (dir) {
            memcpy(dir, path, n);
            dir[n] = '\0';
        }
    }
    if (!dir) {
        errno = ENOMEM;
        return -1;
    }
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    free(dir);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    /* Some file systems cannot fsync a directory (EINVAL): nothing more can be done there. */
    if (rc != 0 && errno == EINVAL)
        rc = 0;
    int saved = errno;
    if (close(fd) != 0 && rc == 0)
        return -1;
    errno = saved;
    return rc;
}

/* A write error's errno, or a description when fwrite set none. */
static const char *write_errstr(int e) {
    return e ? strerror(e) : "write error";
}

rin_status rin_st_writer_save(rin_st_writer *w, const char *path, char *err, size_t errlen) {
    if (!w || !path)
        return rin_errorf(err, errlen, RIN_STATUS_ARG, "rin_st_writer_save: NULL argument");
    if (!host_is_little_endian())
        return rin_errorf(err, errlen, RIN_STATUS_IO,
                          "%s: cannot write little-endian safetensors on a big-endian host", path);
    char *json = build_header(w);
    if (!json)
        return rin_errorf(err, errlen, RIN_STATUS_NOMEM, "%s: out of memory building the header",
                          path);
    size_t jlen = strlen(json);
    size_t pad = (8 - jlen % 8) % 8; /* 8 + N is then a multiple of 8 */
    size_t hlen = jlen + pad;
    size_t plen = strlen(path) + 32;
    char *tmp = malloc(plen);
    if (!tmp) {
        free(json);
        return rin_errorf(err, errlen, RIN_STATUS_NOMEM, "%s: out of memory", path);
    }
    snprintf(tmp, plen, "%s.tmp.%ld", path, (long)getpid());

    rin_status st = RIN_STATUS_OK;
    int created = 0;
    FILE *fp = fopen(tmp, "wb");
    if (!fp) {
        st = rin_errorf(err, errlen, RIN_STATUS_IO, "%s: cannot create %s: %s", path, tmp,
                        strerror(errno));
        goto done;
    }
    created = 1;

    uint8_t lenbuf[8];
    for (int i = 0; i < 8; i++)
        lenbuf[i] = (uint8_t)((uint64_t)hlen >> (8 * i));
    static const char spaces[] = "       "; /* pad <= 7 */
    errno = 0;
    if (fwrite(lenbuf, 1, 8, fp) != 8 || fwrite(json, 1, jlen, fp) != jlen ||
        (pad > 0 && fwrite(spaces, 1, pad, fp) != pad)) {
        st = rin_errorf(err, errlen, RIN_STATUS_IO, "%s: cannot write the header: %s", path,
                        write_errstr(errno));
        goto done;
    }
    for (int i = 0; i < w->ntensors; i++) {
        const st_wtensor *t = &w->tensors[i];
        errno = 0;
        if (t->nbytes > 0 && fwrite(t->data, 1, t->nbytes, fp) != t->nbytes) {
            st = rin_errorf(err, errlen, RIN_STATUS_IO, "%s: cannot write tensor %s: %s", path,
                            t->name, write_errstr(errno));
            goto done;
        }
    }
    if (fflush(fp) != 0) {
        st = rin_errorf(err, errlen, RIN_STATUS_IO, "%s: cannot flush: %s", path, strerror(errno));
        goto done;
    }
    if (fsync(fileno(fp)) != 0) {
        st = rin_errorf(err, errlen, RIN_STATUS_IO, "%s: cannot fsync: %s", path, strerror(errno));
        goto done;
    }
    int rc = fclose(fp);
    fp = NULL;
    if (rc != 0) {
        st = rin_errorf(err, errlen, RIN_STATUS_IO, "%s: cannot close: %s", path, strerror(errno));
        goto done;
    }
    if (rename(tmp, path) != 0) {
        st = rin_errorf(err, errlen, RIN_STATUS_IO, "%s: cannot rename %s over it: %s", path, tmp,
                        strerror(errno));
        goto done;
    }
    created = 0; /* the temporary file is now the file */
    if (sync_parent_dir(path) != 0)
        st = rin_errorf(err, errlen, RIN_STATUS_IO,
                        "%s: written, but cannot fsync its directory: %s", path, strerror(errno));

done:
    if (fp)
        fclose(fp); /* already failing: its status adds nothing */
    if (created)
        remove(tmp);
    free(tmp);
    free(json);
    return st;
}
