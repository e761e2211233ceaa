/* fuzz_config.c -- the config file parser (rin_config_parse_text, what `rin train --config`
 * reads) feeding rin_config_set and rin_train_config_set, then validation. A config that
 * validates must be usable: its derived sizes are positive, a small one builds a model whose
 * parameter count matches, and its noise schedule gives finite gamma in [0, 1]. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "diffusion.h"
#include "fuzz.h"
#include "internal.h"

typedef struct both {
    rin_config c;
    rin_train_config t;
} both;

static rin_status apply(void *user, const char *key, const char *value, int lineno) {
    (void)lineno;
    both *b = user;
    char err[512] = "";
    for (int i = 0; i < rin_config_num_keys(); i++)
        if (!strcmp(rin_config_key(i), key)) {
            rin_status s = rin_config_set(&b->c, key, value, err, sizeof err);
            if (s && strlen(key) < 200 && !strstr(err, key))
                abort(); /* a message must name the key (a longer one may be truncated) */
            return s;
        }
    rin_status s = rin_train_config_set(&b->t, key, value, err, sizeof err);
    if (s && strlen(key) < 200 && !strstr(err, key))
        abort();
    return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    both b;
    char err[512];
    rin_config_preset(&b.c, "tiny", NULL, 0);
    rin_train_config_default(&b.t);
    if (rin_config_parse_text((const char *)data, size, "fuzz.conf", apply, &b, err,
                              sizeof err) != RIN_STATUS_OK)
        return 0;
    if (rin_config_validate(&b.c, err, sizeof err) == RIN_STATUS_OK) {
        rin_dims d;
        rin_dims_compute(&d, &b.c);
        if (d.n < 1 || d.Lz < 1 || d.dt < 1 || d.A < 1)
            abort();
        size_t np = rin_config_num_params(&b.c);
        if (np == 0)
            abort();
        if (np <= 100000) {
            rin_model *m;
            if (rin_model_create(&m, &b.c, err, sizeof err) != RIN_STATUS_OK)
                abort();
            size_t sum = 0;
            for (int i = 0; i < rin_model_num_tensors(m); i++)
                sum += rin_model_tensor(m, i)->numel;
            if (sum != np)
                abort();
            rin_model_free(m);
        }
    }
    if (rin_train_config_validate(&b.t, err, sizeof err) == RIN_STATUS_OK) {
        rin_schedule s;
        if (rin_schedule_parse(&s, b.t.train_schedule, err, sizeof err) != RIN_STATUS_OK)
            abort();
        for (int i = 0; i <= 16; i++) {
            double g = rin_schedule_gamma(&s, i / 16.0);
            if (!(g >= 0.0 && g <= 1.0))
                abort();
        }
    }
    return 0;
}
