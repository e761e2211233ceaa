/* safetensors.h -- the safetensors reader and writer (safetensors.c).
 */
#ifndef RIN_SAFETENSORS_H
#define RIN_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "rin.h"

/* ---- safetensors (safetensors.c) ----------------------------------------------------------
 * Reader and writer for checkpoints and test fixtures (style.md section 9). The JSON header is
 * parsed with Jansson and validated completely before any data is used. */
typedef enum rin_dtype {
    RIN_DTYPE_F32,
    RIN_DTYPE_F64,
    RIN_DTYPE_I32,
    RIN_DTYPE_I64,
    RIN_DTYPE_U8,
    RIN_DTYPE_COUNT
} rin_dtype;
const char *rin_dtype_name(rin_dtype t); /* "F32", ... */
size_t rin_dtype_size(rin_dtype t);

#define RIN_ST_MAX_DIMS 8
typedef struct rin_st_tensor {
    char *name;
    rin_dtype dtype;
    int ndim;
    int64_t shape[RIN_ST_MAX_DIMS];
    size_t numel;
    size_t nbytes;
    size_t offset; /* into the data buffer */
} rin_st_tensor;

typedef struct rin_st_file {
    int ntensors;
    rin_st_tensor *tensors; /* in file order */
    int nmeta;
    char **meta_keys, **meta_values;
    uint8_t *data; /* the data buffer (all bytes after the header) */
    size_t data_size;
} rin_st_file;

/* Reads and validates a whole file. Errors name the file and the problem. */
rin_status rin_st_read(rin_st_file **out, const char *path, char *err, size_t errlen);
void rin_st_free(rin_st_file *f);
const rin_st_tensor *rin_st_find(const rin_st_file *f, const char *name);
const char *rin_st_meta(const rin_st_file *f, const char *key); /* NULL if absent */
static inline const void *rin_st_data(const rin_st_file *f, const rin_st_tensor *t) {
    return f->data + t->offset;
}
/* Copies tensor `name` into dst as float32 (converting F64), checking that it exists and has
 * exactly numel elements. */
rin_status rin_st_get_f32(const rin_st_file *f, const char *name, float *dst, size_t numel,
                          char *err, size_t errlen);
/* Same, as float64 (converting F32). */
rin_status rin_st_get_f64(const rin_st_file *f, const char *name, double *dst, size_t numel,
                          char *err, size_t errlen);

typedef struct rin_st_writer rin_st_writer;
rin_st_writer *rin_st_writer_new(void);
/* Adds a tensor; data is referenced, not copied, and must live until save. */
rin_status rin_st_writer_add(rin_st_writer *w, const char *name, rin_dtype dtype, int ndim,
                             const int64_t *shape, const void *data);
rin_status rin_st_writer_meta(rin_st_writer *w, const char *key, const char *value);
/* Writes atomically: path.tmp.<pid>, fflush, fsync, rename, fsync of the directory. */
rin_status rin_st_writer_save(rin_st_writer *w, const char *path, char *err, size_t errlen);
void rin_st_writer_free(rin_st_writer *w);

#endif /* RIN_SAFETENSORS_H */
