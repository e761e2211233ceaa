/* util.c -- status strings, errors, aligned allocation, clock. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "internal.h"

const char *rin_status_str(rin_status s) {
    switch (s) {
    case RIN_STATUS_OK:
        return "ok";
    case RIN_STATUS_NOMEM:
        return "out of memory";
    case RIN_STATUS_IO:
        return "i/o error";
    case RIN_STATUS_FORMAT:
        return "malformed file";
    case RIN_STATUS_CONFIG:
        return "invalid configuration";
    case RIN_STATUS_NONFINITE:
        return "non-finite value";
    case RIN_STATUS_ARG:
        return "invalid argument";
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

double rin_time_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
