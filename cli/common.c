/* common.c -- the helpers every command of `rin` calls (cli/cli.h): fatal errors, option values,
 * key=value settings and settings files, the provenance text chunks of PNGs of samples, and the
 * sampling options that rin sample, rin eval and their video forms share.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "data.h"
#include "diffusion.h"
#include "dist.h"
#include "safetensors.h"
#include "util.h"
#include "rin.h"

void die(const char *fmt, ...) {
    va_list ap;
    fprintf(stderr, "rin: ");
    if (rin_dist_size() > 1)
        fprintf(stderr, "rank %d: ", rin_dist_rank());
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n");
    rin_dist_abort(1); /* in an MPI job: stop every rank, never leave them waiting */
    exit(1);
}

unsigned long long parse_u64(const char *opt, const char *v) {
    char *end;
    errno = 0;
    unsigned long long x = strtoull(v, &end, 10);
    if (errno || end == v || *end || v[0] == '-')
        die("%s: '%s' is not a non-negative integer", opt, v);
    return x;
}

long parse_long(const char *opt, const char *v, long lo, long hi) {
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (errno || end == v || *end)
        die("%s: '%s' is not an integer", opt, v);
    if (x < lo || x > hi)
        die("%s: %ld is out of range [%ld, %ld]", opt, x, lo, hi);
    return x;
}

double parse_double(const char *opt, const char *v) {
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    if (errno || end == v || *end)
        die("%s: '%s' is not a number", opt, v);
    return x;
}

int parse_scale(const char *opt, const char *v) {
    return strcmp(v, "auto") ? (int)parse_long(opt, v, 1, 64) : 0;
}

void provenance_add(png_provenance *p, const char *key, const char *fmt, ...) {
    if (p->n == PROVENANCE_MAX)
        die("provenance: more than %d text chunks (a bug)", PROVENANCE_MAX);
    char raw[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(raw, sizeof raw, fmt, ap);
    va_end(ap);
    rin_png_text_latin1(p->values[p->n], sizeof p->values[p->n], raw);
    p->text[p->n].key = key;
    p->text[p->n].value = p->values[p->n];
    p->n++;
}

int sampling_option(rin_sample_config *sc, int opt, const char *v) {
    char err[256];
    rin_sampler_kind k;
    rin_spacing sp;
    rin_schedule sch;
    switch (opt) {
    case OPT_SAMPLER:
        if (rin_sampler_parse(&k, v, err, sizeof err))
            die("--sampler: %s", err);
        snprintf(sc->sampler, sizeof sc->sampler, "%s", v);
        return 1;
    case OPT_SPACING:
        if (rin_spacing_parse(&sp, v, err, sizeof err))
            die("--spacing: %s", err);
        snprintf(sc->spacing, sizeof sc->spacing, "%s", v);
        return 1;
    case OPT_SCHEDULE:
        if (strlen(v) >= sizeof sc->schedule || rin_schedule_parse(&sch, v, err, sizeof err))
            die("--schedule: %s", strlen(v) >= sizeof sc->schedule ? "too long" : err);
        snprintf(sc->schedule, sizeof sc->schedule, "%s", v);
        return 1;
    case OPT_LATENT_CARRY:
        if (strcmp(v, "call") && strcmp(v, "step"))
            die("--latent-carry: '%s' (expected call or step)", v);
        snprintf(sc->latent_carry, sizeof sc->latent_carry, "%s", v);
        return 1;
    }
    return 0;
}

void provenance_sampler(png_provenance *p, const rin_sample_config *sc) {
    char num[64], err[256];
    rin_sampler_plan plan;
    provenance_add(p, "sampler", "%s", sc->sampler);
    if (!rin_sample_plan(&plan, sc, err, sizeof err))
        provenance_add(p, "spacing", "%s", rin_spacing_name(plan.spacing));
    provenance_add(p, "steps", "%d", sc->steps);
    provenance_add(p, "seed", "%llu", (unsigned long long)sc->seed);
    rin_format_double(num, sizeof num, sc->guidance);
    provenance_add(p, "guidance", "%s", num);
    provenance_add(p, "schedule", "%s", sc->schedule);
    if (sc->td != 0) {
        rin_format_double(num, sizeof num, sc->td);
        provenance_add(p, "td", "%s", num);
    }
    if (strcmp(sc->latent_carry, "call"))
        provenance_add(p, "latent_carry", "%s", sc->latent_carry);
    if (!sc->self_cond)
        provenance_add(p, "self_cond", "off");
}

void provenance_checkpoint(png_provenance *p, const char *path, const char *weights) {
    char sha[65], err[1024];
    if (rin_file_sha256_hex(path, sha, err, sizeof err))
        die("%s", err);
    rin_st_file *f;
    if (rin_st_read(&f, path, err, sizeof err))
        die("%s", err);
    const char *step = rin_st_meta(f, "step");
    p->n = 0;
    provenance_add(p, "Software", "rin");
    provenance_add(p, "checkpoint", "%s", path);
    provenance_add(p, "checkpoint_sha256", "%s", sha);
    provenance_add(p, "step", "%s", step ? step : "unknown");
    provenance_add(p, "weights", "%s", weights);
    rin_st_free(f);
}

const char *split_kv(const char *text, char *key, size_t cap, const char *what) {
    const char *eq = strchr(text, '=');
    if (!eq || eq == text || (size_t)(eq - text) >= cap)
        die("%s '%s': expected key=value", what, text);
    memcpy(key, text, (size_t)(eq - text));
    key[eq - text] = 0;
    return eq + 1;
}

int set_model_or_train_key(rin_config *model, rin_train_config *train, const char *key,
                           const char *value, const char *where) {
    char err[512];
    for (int i = 0; i < rin_config_num_keys(); i++)
        if (!strcmp(rin_config_key(i), key)) {
            if (rin_config_set(model, key, value, err, sizeof err))
                die("%s%s", where, err);
            return 1;
        }
    for (int i = 0; i < rin_train_config_num_keys(); i++)
        if (!strcmp(rin_train_config_key(i), key)) {
            if (rin_train_config_set(train, key, value, err, sizeof err))
                die("%s%s", where, err);
            return 1;
        }
    return 0;
}

typedef struct file_ctx {
    settings_fn set;
    void *user;
    const char *path;
} file_ctx;

static rin_status file_line(void *user, const char *key, const char *value, int lineno) {
    file_ctx *fc = user;
    char where[600];
    snprintf(where, sizeof where, "%s:%d: ", fc->path, lineno);
    fc->set(fc->user, key, value, where);
    return RIN_STATUS_OK;
}

/* Reads the whole file, then the library's parser (rin_config_parse_text, the one the config
 * fuzzer exercises) splits it into settings. */
void read_settings_file(const char *path, settings_fn set, void *user) {
    FILE *f = fopen(path, "rb");
    if (!f)
        die("%s: cannot open: %s", path, strerror(errno));
    char *text = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len == cap) {
            cap = cap ? 2 * cap : 4096;
            if (cap > (64u << 20))
                die("%s: larger than 64 MiB: not a config file", path);
            text = realloc(text, cap);
            if (!text)
                die("out of memory (config file)");
        }
        size_t got = fread(text + len, 1, cap - len, f);
        len += got;
        if (got == 0)
            break;
    }
    if (ferror(f))
        die("%s: cannot read: %s", path, strerror(errno));
    fclose(f);
    char err[1024];
    file_ctx fc = {set, user, path};
    if (rin_config_parse_text(text, len, path, file_line, &fc, err, sizeof err))
        die("%s", err);
    free(text);
}
