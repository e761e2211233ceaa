/* info.c -- `rin info FILE`: a checkpoint's config and parameter counts per part, or a PNG's
 * size and text chunks (the provenance rin's samples record).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "dims.h"
#include "rin.h"

/* The part a tensor belongs to, for the per-part counts. */
static void part_of(const char *name, char *part, size_t len) {
    if (!strncmp(name, "blocks.", 7)) {
        int blk = atoi(name + 7);
        const char *rest = strchr(name + 7, '.');
        rest = rest ? rest + 1 : "";
        if (!strncmp(rest, "read_", 5))
            snprintf(part, len, "block %d read", blk);
        else if (!strncmp(rest, "process.", 8))
            snprintf(part, len, "block %d process", blk);
        else
            snprintf(part, len, "block %d write", blk);
        return;
    }
    static const struct {
        const char *prefix, *part;
    } map[] = {{"stem_ln", "stem LayerNorm"},
               {"stem", "stem (patch embedding)"},
               {"tape_pos", "interface positions"},
               {"latent_pos", "latent table"},
               {"time_", "time MLP"},
               {"cond_", "class projection"},
               {"sc_", "self-conditioning"},
               {"out_", "readout"}};
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (!strncmp(name, map[i].prefix, strlen(map[i].prefix))) {
            snprintf(part, len, "%s", map[i].part);
            return;
        }
    snprintf(part, len, "other");
}

/* 1 when the file starts with the PNG signature. */
static int is_png_file(const char *path) {
    static const unsigned char sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    unsigned char head[8];
    FILE *f = fopen(path, "rb");
    int png = f && fread(head, 1, 8, f) == 8 && !memcmp(head, sig, 8);
    if (f)
        fclose(f);
    return png;
}

/* Latin-1 bytes (a PNG text chunk) to stdout as UTF-8. */
static void print_latin1(const char *s) {
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch < 0x80) {
            putchar(ch);
        } else {
            putchar(0xC0 | (ch >> 6));
            putchar(0x80 | (ch & 0x3F));
        }
    }
}

/* rin info FILE.png: the size and every text chunk (the provenance rin sample and rin train
 * record), each chunk's CRC verified. */
static int info_png(const char *path) {
    char err[1024];
    rin_png_info pi;
    if (rin_png_info_read(path, &pi, err, sizeof err))
        die("%s", err);
    static const char *const colour[7] = {"grey", "?", "RGB", "palette", "grey+alpha", "?", "RGBA"};
    printf("%s: PNG %d x %d (width x height), %d-bit %s, %d text chunk%s\n", path, pi.W, pi.H,
           pi.bit_depth, pi.color_type <= 6 ? colour[pi.color_type] : "?", pi.ntext,
           pi.ntext == 1 ? "" : "s");
    for (int i = 0; i < pi.ntext; i++) {
        print_latin1(pi.text[i].key);
        printf(": ");
        print_latin1(pi.text[i].value);
        printf("\n");
    }
    rin_png_info_free(&pi);
    return 0;
}

int cmd_info(int argc, char **argv) {
    if (argc != 2 || !strcmp(argv[1], "--help")) {
        fprintf(argc == 2 ? stdout : stderr,
                "usage: rin info FILE\n"
                "\n"
                "  FILE.safetensors  a checkpoint: its config and parameter counts per part\n"
                "  FILE.png          a PNG: its size and text chunks, one 'key: value' line\n"
                "                    each (rin's samples record their checkpoint's SHA-256,\n"
                "                    step, sampler, steps, seed, guidance and class)\n");
        return argc == 2 ? 0 : 2;
    }
    if (is_png_file(argv[1]))
        return info_png(argv[1]);
    char err[512];
    rin_model *m;
    if (rin_model_load(&m, argv[1], err, sizeof err))
        die("%s", err);
    const rin_config *c = rin_model_config(m);
    char buf[4096];
    rin_config_format(c, buf, sizeof buf);
    printf("%s\nconfig:\n", argv[1]);
    for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n"))
        printf("  %s\n", line);
    rin_dims d;
    rin_dims_compute(&d, c);
    printf("derived: n=%d interface tokens, A=%d, %d learned latents, %d read-only tokens\n", d.n,
           d.A, d.Lz, d.nr);
    printf("parameters by part:\n");
    char parts[256][48];
    size_t counts[256];
    int np = 0;
    size_t total = 0;
    for (int i = 0; i < rin_model_num_tensors(m); i++) {
        const rin_tensor_info *t = rin_model_tensor(m, i);
        char p[48];
        part_of(t->name, p, sizeof p);
        int k = 0;
        while (k < np && strcmp(parts[k], p))
            k++;
        if (k == np && np < 256) {
            snprintf(parts[np], sizeof parts[np], "%s", p);
            counts[np++] = 0;
        }
        if (k < np)
            counts[k] += t->numel;
        total += t->numel;
    }
    for (int k = 0; k < np; k++)
        printf("  %-28s %12zu\n", parts[k], counts[k]);
    printf("  %-28s %12zu\n", "total", total);
    printf("tensors: %d\n", rin_model_num_tensors(m));
    rin_model_free(m);
    return 0;
}
