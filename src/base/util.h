/* util.h -- assertions, errors with text, aligned allocation, the clock, atomic file writes and
 * number formatting (util.c): what every layer and the program use.
 */
#ifndef RIN_UTIL_H
#define RIN_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "rin.h"

/* ---- assertions and errors (util.c) -------------------------------------------------------- */

/* Always compiled in (not removed by NDEBUG): prints file:line and aborts. For invariants. */
#define RIN_ASSERT(cond)                                                                           \
    do {                                                                                           \
        if (!(cond))                                                                               \
            rin_assert_fail(__FILE__, __LINE__, #cond);                                            \
    } while (0)
void rin_assert_fail(const char *file, int line, const char *cond);

/* snprintf into err (when err is not NULL) and return status s. */
rin_status rin_errorf(char *err, size_t errlen, rin_status s, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* 64-byte aligned allocation, size rounded up to 64; NULL on failure. Free with free(). */
void *rin_aligned_alloc(size_t bytes);
/* Round a float count up to a multiple of 16 (64 bytes). */
static inline size_t rin_round16(size_t n) {
    return (n + 15) & ~(size_t)15;
}

double rin_time_seconds(void); /* monotonic clock */

/* Writes a whole file atomically (temporary file, fsync, rename, directory fsync); on failure
 * nothing appears under path and the message names the file and errno's text. */
rin_status rin_write_file_atomic(const char *path, const void *data, size_t len, char *err,
                                 size_t errlen);
void rin_fsync_parent_dir(const char *path); /* best effort */
/* "1"/"true" -> 1, "0"/"false" -> 0; returns 0 for anything else. */
int rin_parse_bool(const char *v, int *out);
/* The shortest decimal that reads back (strtod) as exactly v: "0.003", not
 * "0.0030000000000000001". Returns snprintf's count. */
int rin_format_double(char *buf, size_t buflen, double v);
/* The same for a float read back with strtof: "0.1", not "0.100000001". */
int rin_format_float(char *buf, size_t buflen, float v);

/* A growable byte buffer: bytes appended at the end; an allocation failure sets oom and makes
 * every later append a no-op, so builders check once at the end. Start with {0}; free(p). */
typedef struct rin_membuf {
    uint8_t *p;
    size_t len, cap;
    int oom;
} rin_membuf;
/* Room for `extra` more bytes: 1, or 0 (and oom set) when it cannot be had. */
int rin_membuf_reserve(rin_membuf *b, size_t extra);
void rin_membuf_append(rin_membuf *b, const void *data, size_t n);

/* ---- config text (config.c) -----------------------------------------------------------------
 * "key = value" lines; '#' starts a comment; blank lines are skipped. For each setting fn gets
 * the trimmed key and value and the 1-based line number; a non-OK return stops the parse and is
 * returned. A line without '=' (or with an empty key) fails with "name:line: expected ...". */
typedef rin_status (*rin_config_line_fn)(void *user, const char *key, const char *value,
                                         int lineno);
rin_status rin_config_parse_text(const char *text, size_t len, const char *name,
                                 rin_config_line_fn fn, void *user, char *err, size_t errlen);

#endif /* RIN_UTIL_H */
