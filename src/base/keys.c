/* keys.c -- the settings-table engine of keys.h: set from text, get as text, format, defaults,
 * range checks, --help listings, and presets written as "key=value" text.
 *
 * The messages are those the tables had before they shared this code, word for word, because
 * tests and users' scripts match them: "KEY: 'VALUE' is not an integer", "KEY: N is out of
 * range [LO, HI]", "KEY: 'VALUE' is not supported (expected A or B)".
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"
#include "keys.h"

/* The column where --help text starts after "name=value"; longer entries get two spaces. */
#define HELP_COLUMN 30

int rin_keys_find(const rin_key *keys, int n, const char *name) {
    for (int i = 0; i < n; i++)
        if (!strcmp(keys[i].name, name))
            return i;
    return -1;
}

static int num_choices(const rin_key *k) {
    int n = 0;
    while (k->choices && k->choices[n])
        n++;
    return n;
}

/* An integer in the key's range; `text` is the value as typed (a list entry for lists). */
static rin_status parse_integer(const rin_key *k, const char *text, long long *out, char *err,
                                size_t errlen) {
    char *end;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (errno || end == text || *end)
        return rin_errorf(err, errlen, RIN_STATUS_CONFIG, "%s: '%s' is not an integer", k->name,
                          text);
    if ((double)v < k->lo || (double)v > k->hi)
        return rin_errorf(err, errlen, RIN_STATUS_CONFIG, "%s: %lld is out of range [%.0f, %.0f]",
                          k->name, v, k->lo, k->hi);
    *out = v;
    return RIN_STATUS_OK;
}

static rin_status parse_real(const rin_key *k, const char *text, double *out, char *err,
                             size_t errlen) {
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (errno || end == text || *end || ((k->flags & RIN_KEY_FINITE) && !isfinite(v)))
        return rin_errorf(err, errlen, RIN_STATUS_CONFIG, "%s: '%s' is not a number", k->name,
                          text);
    /* written so that nan fails: a key without RIN_KEY_FINITE lets its range judge nan and inf */
    int open = (k->flags & RIN_KEY_OPEN_HI) != 0;
    if (!(v >= k->lo && (open ? v < k->hi : v <= k->hi))) {
        if (k->what)
            return rin_errorf(err, errlen, RIN_STATUS_CONFIG, "%s: %s (expected %s)", k->name, text,
                              k->what);
        return rin_errorf(err, errlen, RIN_STATUS_CONFIG, "%s: %s is out of range [%g, %g%c",
                          k->name, text, k->lo, k->hi, open ? ')' : ']');
    }
    *out = v;
    return RIN_STATUS_OK;
}

static rin_status parse_list(const rin_key *k, const char *value, void *obj, char *err,
                             size_t errlen) {
    int vals[256], n = 0;
    int cap = k->size < 256 ? (int)k->size : 256;
    const char *p = value;
    while (1) {
        char tok[32];
        size_t len = strcspn(p, ",");
        if (len == 0 || len >= sizeof tok)
            return rin_errorf(err, errlen, RIN_STATUS_CONFIG, "%s: '%s' is not %s", k->name, value,
                              k->what ? k->what : "a comma-separated list of integers");
        if (n == cap)
            return rin_errorf(err, errlen, RIN_STATUS_CONFIG, "%s: more than %d entries", k->name,
                              cap);
        memcpy(tok, p, len);
        tok[len] = 0;
        long long v;
        rin_status s = parse_integer(k, tok, &v, err, errlen);
        if (s)
            return s;
        vals[n++] = (int)v;
        if (!p[len])
            break;
        p += len + 1;
    }
    memcpy((char *)obj + k->offset, vals, (size_t)n * sizeof *vals);
    *(int *)((char *)obj + k->count) = n;
    return RIN_STATUS_OK;
}

rin_status rin_key_set(const rin_key *k, void *obj, const char *value, char *err, size_t errlen) {
    void *f = (char *)obj + k->offset;
    rin_status s = RIN_STATUS_OK;
    long long i = 0;
    double d = 0;
    switch (k->type) {
    case RIN_KEY_INT:
    case RIN_KEY_LONG:
        s = parse_integer(k, value, &i, err, errlen);
        if (!s && k->type == RIN_KEY_INT)
            *(int *)f = (int)i;
        else if (!s)
            *(long *)f = (long)i;
        return s;
    case RIN_KEY_U64: {
        char *end;
        errno = 0;
        unsigned long long v = strtoull(value, &end, 10);
        if (errno || end == value || *end || value[0] == '-')
            return rin_errorf(err, errlen, RIN_STATUS_CONFIG,
                              "%s: '%s' is not a non-negative integer", k->name, value);
        *(uint64_t *)f = v;
        return RIN_STATUS_OK;
    }
    case RIN_KEY_BOOL: {
        int b;
        if (!rin_parse_bool(value, &b))
            return rin_errorf(err, errlen, RIN_STATUS_CONFIG,
                              "%s: '%s' is not a boolean (expected 1, 0, true or false)", k->name,
                              value);
        *(int *)f = b;
        return RIN_STATUS_OK;
    }
    case RIN_KEY_FLOAT:
    case RIN_KEY_DOUBLE:
        s = parse_real(k, value, &d, err, errlen);
        if (!s && k->type == RIN_KEY_FLOAT)
            *(float *)f = (float)d;
        else if (!s)
            *(double *)f = d;
        return s;
    case RIN_KEY_STRING:
        /* the meaning first: a value the owner rejects says why, not merely that it is long */
        if (k->check) {
            char e2[256];
            if (k->check(value, e2, sizeof e2))
                return rin_errorf(err, errlen, RIN_STATUS_CONFIG, "%s: %s", k->name, e2);
        }
        if (strlen(value) >= k->size)
            return rin_errorf(err, errlen, RIN_STATUS_CONFIG, "%s: '%s' is too long", k->name,
                              value);
        snprintf((char *)f, k->size, "%s", value);
        return RIN_STATUS_OK;
    case RIN_KEY_ENUM: {
        int n = num_choices(k);
        for (int e = 0; e < n; e++) {
            char idx[16];
            snprintf(idx, sizeof idx, "%d", e);
            if (!strcmp(value, k->choices[e]) ||
                ((k->flags & RIN_KEY_INDEX) && !strcmp(value, idx))) {
                *(int *)f = e;
                return RIN_STATUS_OK;
            }
        }
        char names[512];
        if (!k->what)
            rin_keys_join(names, sizeof names, k->choices, " or ");
        return rin_errorf(err, errlen, RIN_STATUS_CONFIG, "%s: '%s' is not supported (expected %s)",
                          k->name, value, k->what ? k->what : names);
    }
    case RIN_KEY_INT_LIST: return parse_list(k, value, obj, err, errlen);
    }
    return rin_errorf(err, errlen, RIN_STATUS_CONFIG, "%s: unknown key type %d", k->name,
                      (int)k->type);
}

int rin_key_get(const rin_key *k, const void *obj, char *buf, size_t buflen) {
    const void *f = (const char *)obj + k->offset;
    switch (k->type) {
    case RIN_KEY_INT:
    case RIN_KEY_BOOL: return snprintf(buf, buflen, "%d", *(const int *)f);
    case RIN_KEY_LONG: return snprintf(buf, buflen, "%ld", *(const long *)f);
    case RIN_KEY_U64:
        return snprintf(buf, buflen, "%llu", (unsigned long long)*(const uint64_t *)f);
    case RIN_KEY_FLOAT: return rin_format_float(buf, buflen, *(const float *)f);
    case RIN_KEY_DOUBLE: return rin_format_double(buf, buflen, *(const double *)f);
    case RIN_KEY_STRING: return snprintf(buf, buflen, "%s", (const char *)f);
    case RIN_KEY_ENUM: {
        int e = *(const int *)f;
        return snprintf(buf, buflen, "%s", e >= 0 && e < num_choices(k) ? k->choices[e] : "?");
    }
    case RIN_KEY_INT_LIST: {
        int n = *(const int *)((const char *)obj + k->count), w = 0;
        if (buflen)
            buf[0] = 0;
        for (int i = 0; i < n; i++) {
            int r = snprintf(buf + w, buflen > (size_t)w ? buflen - (size_t)w : 0, "%s%d",
                             i ? "," : "", ((const int *)f)[i]);
            if (r < 0)
                return r;
            w += r;
        }
        return w;
    }
    }
    return -1;
}

/* Appends to buf at *w like snprintf, counting what did not fit. */
static void put(char *buf, size_t buflen, size_t *w, const char *fmt, const char *a,
                const char *b) {
    int r = snprintf(buf + *w, buflen > *w ? buflen - *w : 0, fmt, a, b);
    if (r > 0)
        *w += (size_t)r;
}

int rin_keys_format(const rin_key *keys, int n, const void *obj, char *buf, size_t buflen) {
    size_t w = 0;
    if (buflen)
        buf[0] = 0;
    for (int i = 0; i < n; i++) {
        char v[1024];
        rin_key_get(&keys[i], obj, v, sizeof v);
        put(buf, buflen, &w, "%s=%s\n", keys[i].name, v);
    }
    return (int)w;
}

void rin_keys_defaults(const rin_key *keys, int n, void *obj) {
    for (int i = 0; i < n; i++)
        if (keys[i].def)
            RIN_ASSERT(rin_key_set(&keys[i], obj, keys[i].def, NULL, 0) == RIN_STATUS_OK);
}

rin_status rin_keys_check(const rin_key *keys, int n, const void *obj, char *err, size_t errlen) {
    for (int i = 0; i < n; i++) {
        const rin_key *k = &keys[i];
        const void *f = (const char *)obj + k->offset;
        int open = (k->flags & RIN_KEY_OPEN_HI) != 0;
        switch (k->type) {
        case RIN_KEY_INT:
        case RIN_KEY_BOOL:
        case RIN_KEY_ENUM: {
            int v = *(const int *)f;
            int lo = k->type == RIN_KEY_INT ? (int)k->lo : 0;
            int hi = k->type == RIN_KEY_INT    ? (int)k->hi
                     : k->type == RIN_KEY_BOOL ? 1
                                               : num_choices(k) - 1;
            if (v < lo || v > hi)
                return rin_errorf(err, errlen, RIN_STATUS_CONFIG, "%s: %d is out of range [%d, %d]",
                                  k->name, v, lo, hi);
            break;
        }
        case RIN_KEY_LONG: {
            long v = *(const long *)f;
            if ((double)v < k->lo || (double)v > k->hi)
                return rin_errorf(err, errlen, RIN_STATUS_CONFIG,
                                  "%s: %ld is out of range [%.0f, %.0f]", k->name, v, k->lo, k->hi);
            break;
        }
        case RIN_KEY_FLOAT:
        case RIN_KEY_DOUBLE: {
            double v = k->type == RIN_KEY_FLOAT ? (double)*(const float *)f : *(const double *)f;
            if (!(v >= k->lo && (open ? v < k->hi : v <= k->hi)))
                return rin_errorf(err, errlen, RIN_STATUS_CONFIG,
                                  "%s: %g is out of range [%g, %g%c", k->name, v, k->lo, k->hi,
                                  open ? ')' : ']');
            break;
        }
        case RIN_KEY_U64:
        case RIN_KEY_STRING:
        case RIN_KEY_INT_LIST: break;
        }
    }
    return RIN_STATUS_OK;
}

int rin_keys_usage(const rin_key *keys, int n, const void *obj, const char *indent, char *buf,
                   size_t buflen) {
    size_t w = 0;
    if (buflen)
        buf[0] = 0;
    for (int i = 0; i < n; i++) {
        char v[1024], entry[1200];
        rin_key_get(&keys[i], obj, v, sizeof v);
        int len = snprintf(entry, sizeof entry, "%s=%s", keys[i].name, v);
        if (!keys[i].help) {
            put(buf, buflen, &w, "%s%s\n", indent, entry);
            continue;
        }
        put(buf, buflen, &w, "%s%s", indent, entry);
        char pad[HELP_COLUMN + 3];
        int np = len < HELP_COLUMN ? HELP_COLUMN - len : 0;
        np += 2;
        memset(pad, ' ', (size_t)np);
        pad[np] = 0;
        put(buf, buflen, &w, "%s%s\n", pad, keys[i].help);
    }
    return (int)w;
}

int rin_keys_join(char *buf, size_t buflen, const char *const *names, const char *last) {
    size_t w = 0;
    if (buflen)
        buf[0] = 0;
    for (int i = 0; names[i]; i++) {
        const char *sep = i == 0 ? "" : names[i + 1] ? ", " : last;
        put(buf, buflen, &w, "%s%s", sep, names[i]);
    }
    return (int)w;
}

rin_status rin_keys_apply(const char *text, rin_key_setter set, void *obj, char *err,
                          size_t errlen) {
    const char *p = text;
    while (1) {
        p += strspn(p, " \t\n");
        if (!*p)
            return RIN_STATUS_OK;
        size_t len = strcspn(p, " \t\n");
        char tok[512];
        if (len >= sizeof tok)
            return rin_errorf(err, errlen, RIN_STATUS_CONFIG, "'%.40s...': too long a setting", p);
        memcpy(tok, p, len);
        tok[len] = 0;
        p += len;
        char *eq = strchr(tok, '=');
        if (!eq || eq == tok)
            return rin_errorf(err, errlen, RIN_STATUS_CONFIG, "'%s': expected key=value", tok);
        *eq = 0;
        rin_status s = set(obj, tok, eq + 1, err, errlen);
        if (s)
            return s;
    }
}
