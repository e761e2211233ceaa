/* init.c -- `rin init`: a freshly initialised checkpoint of a preset, with --set overrides.
 *
 *   rin init --preset NAME [--set key=value ...] [--seed S] --out FILE
 */
#include <getopt.h>
#include <stdio.h>

#include "cli.h"
#include "keys.h"
#include "rin.h"

#define MAX_SETS 64

static void init_usage(FILE *f) {
    char names[256];
    rin_keys_join(names, sizeof names, rin_config_preset_names(), " or ");
    fprintf(f,
            "usage: rin init --preset NAME [--set key=value]... [--seed S] --out FILE\n"
            "\n"
            "  --preset NAME     %s (required)\n"
            "  --set key=value   override a config key (repeatable); keys:\n",
            names);
    for (int i = 0; i < rin_config_num_keys(); i++)
        fprintf(f, "                      %s\n", rin_config_key(i));
    fprintf(f, "  --seed S          initialisation seed (default 0)\n"
               "  --out FILE        checkpoint to write (safetensors, required)\n");
}

int cmd_init(int argc, char **argv) {
    static const struct option opts[] = {
        {"preset", required_argument, 0, 'p'}, {"set", required_argument, 0, 's'},
        {"seed", required_argument, 0, 'r'},   {"out", required_argument, 0, 'o'},
        {"help", no_argument, 0, 'h'},         {0, 0, 0, 0}};
    const char *preset = NULL, *out = NULL, *sets[MAX_SETS];
    int nsets = 0;
    unsigned long long seed = 0;
    int o;
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (o) {
        case 'p': preset = optarg; break;
        case 's':
            if (nsets == MAX_SETS)
                die("too many --set options (max %s)", "64");
            sets[nsets++] = optarg;
            break;
        case 'r': seed = parse_u64("--seed", optarg); break;
        case 'o': out = optarg; break;
        case 'h': init_usage(stdout); return 0;
        default: init_usage(stderr); return 2;
        }
    }
    if (!preset || !out) {
        init_usage(stderr);
        fprintf(stderr, "rin init: --preset and --out are required\n");
        return 2;
    }
    char err[512];
    rin_config c;
    if (rin_config_preset(&c, preset, err, sizeof err))
        die("%s", err);
    for (int i = 0; i < nsets; i++) {
        char key[128];
        const char *value = split_kv(sets[i], key, sizeof key, "--set");
        if (rin_config_set(&c, key, value, err, sizeof err))
            die("--set: %s", err);
    }
    rin_model *m;
    if (rin_model_create(&m, &c, err, sizeof err))
        die("%s", err);
    rin_model_init_params(m, seed);
    char seedbuf[32];
    snprintf(seedbuf, sizeof seedbuf, "%llu", seed);
    const char *meta[] = {"init_seed", seedbuf, "preset", preset, NULL};
    if (rin_model_save(m, out, meta, err, sizeof err)) {
        rin_model_free(m);
        die("%s", err);
    }
    printf("wrote %s: preset %s, %zu parameters, seed %llu\n", out, preset,
           rin_config_num_params(&c), seed);
    rin_model_free(m);
    return 0;
}
