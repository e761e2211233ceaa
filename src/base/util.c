/* util.c -- status strings, errors, aligned allocation, clock, atomic file writes, the SIMD
 * path choice. */
#include <errno.h>
#include <math.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "simd.h"

const char *rin_status_str(rin_status s) {
    switch (s) {
    case RIN_STATUS_OK: return "ok";
    case RIN_STATUS_NOMEM: return "out of memory";
    case RIN_STATUS_IO: return "i/o error";
    case RIN_STATUS_FORMAT: return "malformed file";
    case RIN_STATUS_CONFIG: return "invalid configuration";
    case RIN_STATUS_NONFINITE: return "non-finite value";
    case RIN_STATUS_ARG: return "invalid argument";
    case RIN_STATUS_CANCELLED: return "cancelled";
    }
    return "unknown status";
}

void rin_assert_fail(const char *file, int line, const char *cond) {
    fprintf(stderr, "%s:%d: RIN_ASSERT(%s) failed\n", file, line, cond);
    fflush(stderr);
    abort();
}

rin_status rin_errorf(char *err, size_t errlen, rin_status s, const char *fmt, ...) {
    if (err && errlen > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return s;
}

void *rin_aligned_alloc(size_t bytes) {
    size_t rounded = (bytes + 63) & ~(size_t)63;
    if (rounded < bytes)
        return NULL;
    return aligned_alloc(64, rounded ? rounded : 64);
}

#ifdef RIN_X86_SIMD
/* -1: not decided yet. Decided once, before the first parallel region that asks. */
static int simd_choice = -1;

int rin_simd_avx2(void) {
    if (simd_choice < 0) {
        const char *env = getenv("RIN_SIMD");
        __builtin_cpu_init();
        simd_choice = !(env && !strcmp(env, "0")) && __builtin_cpu_supports("avx2") &&
                      __builtin_cpu_supports("fma");
    }
    return simd_choice;
}

int rin_simd_set(int on) {
    int prev = rin_simd_avx2();
    __builtin_cpu_init();
    simd_choice = on && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    return prev;
}
#endif

double rin_time_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Writes len bytes to path atomically: path.tmp.<pid>, fsync, rename, fsync of the directory.
 * On failure the temporary file is removed and path is untouched. */
rin_status rin_write_file_atomic(const char *path, const void *data, size_t len, char *err,
                                 size_t errlen) {
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof tmp)
        return rin_errorf(err, errlen, RIN_STATUS_IO, "%s: path too long", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        return rin_errorf(err, errlen, RIN_STATUS_IO, "%s: cannot create: %s", tmp,
                          strerror(errno));
    const uint8_t *p = data;
    size_t left = len;
    while (left > 0) {
        ssize_t w = write(fd, p, left);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            int e = errno;
            close(fd);
            unlink(tmp);
            return rin_errorf(err, errlen, RIN_STATUS_IO, "%s: write failed: %s", tmp, strerror(e));
        }
        p += w;
        left -= (size_t)w;
    }
    if (fsync(fd) != 0 || close(fd) != 0) {
        int e = errno;
        unlink(tmp);
        return rin_errorf(err, errlen, RIN_STATUS_IO, "%s: cannot flush to disk: %s", tmp,
                          strerror(e));
    }
    if (rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        return rin_errorf(err, errlen, RIN_STATUS_IO, "%s: cannot rename into place: %s", path,
                          strerror(e));
    }
    rin_fsync_parent_dir(path);
    return RIN_STATUS_OK;
}

void rin_fsync_parent_dir(const char *path) {
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash == dir)
        dir[1] = 0;
    else if (slash)
        *slash = 0;
    else
        snprintf(dir, sizeof dir, ".");
    int fd = open(dir, O_RDONLY);
    if (fd >= 0) {
        fsync(fd); /* best effort: some file systems refuse a directory fsync */
        close(fd);
    }
}

int rin_parse_bool(const char *v, int *out) {
    if (!strcmp(v, "1") || !strcmp(v, "true"))
        *out = 1;
    else if (!strcmp(v, "0") || !strcmp(v, "false"))
        *out = 0;
    else
        return 0;
    return 1;
}

int rin_format_double(char *buf, size_t buflen, double v) {
    char tmp[40];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*g", prec, v);
        if (strtod(tmp, NULL) == v || !isfinite(v))
            break;
    }
    return snprintf(buf, buflen, "%s", tmp);
}

int rin_format_float(char *buf, size_t buflen, float v) {
    char tmp[32];
    for (int prec = 1; prec <= 9; prec++) {
        snprintf(tmp, sizeof tmp, "%.*g", prec, (double)v);
        if (strtof(tmp, NULL) == v || !isfinite(v))
            break;
    }
    return snprintf(buf, buflen, "%s", tmp);
}

int rin_membuf_reserve(rin_membuf *b, size_t extra) {
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

void rin_membuf_append(rin_membuf *b, const void *data, size_t n) {
    if (n == 0 || !rin_membuf_reserve(b, n))
        return;
    memcpy(b->p + b->len, data, n);
    b->len += n;
}
