/* sample_png.c -- samples a PNG from a rin checkpoint with the installed library alone.
 *
 *   cc sample_png.c $(pkg-config --cflags --libs rin) -o sample_png
 *   ./sample_png models/fmnist.safetensors samples.png [N [SEED]]
 *
 * N images (default 20) of classes in turn, DDIM 50 steps, tiled one class per column.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <rin.h>
#include <rin_image.h>

static int show_progress(void *user, int done, int total) {
    fprintf(stderr, "\r%s: step %d of %d", (const char *)user, done, total);
    return 0; /* nonzero would stop the request */
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s MODEL OUT.png [N [SEED]]\n", argv[0]);
        return 2;
    }
    char err[1024];
    rin_generator *g;
    if (rin_generator_open(&g, argv[1], NULL, err, sizeof err)) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    const rin_config *c = rin_generator_config(g);
    rin_generate_request r;
    rin_generate_request_default(&r);
    r.n = argc > 3 ? atoi(argv[3]) : 20;
    r.seed = argc > 4 ? strtoull(argv[4], NULL, 10) : 0;
    r.sampler = "ddim", r.steps = 50;
    r.progress = show_progress, r.user = argv[1];
    float *px = malloc((size_t)(r.n > 0 ? r.n : 1) * rin_generator_image_floats(g) * sizeof *px);
    if (!px || rin_generate(g, &r, px)) {
        fprintf(stderr, "\n%s\n", px ? rin_generator_last_error(g) : "out of memory");
        return 1;
    }
    /* image i at row i / cols, column i % cols; pixels v in [0, 1] -> bytes */
    int H = c->H, W = c->W, C = c->C, cols = c->num_classes > 0 ? c->num_classes : 8;
    int rows = (r.n + cols - 1) / cols;
    uint8_t *grid = calloc((size_t)rows * H * cols * W * C, 1);
    for (int i = 0; grid && i < r.n; i++)
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W * C; x++)
                grid[((size_t)(i / cols * H + y) * cols * W + (size_t)(i % cols) * W) * C + x] =
                    (uint8_t)lrintf(255.0f * px[((size_t)i * H + y) * W * C + x]);
    if (!grid || rin_png_write(argv[2], grid, rows * H, cols * W, C, err, sizeof err)) {
        fprintf(stderr, "\n%s\n", grid ? err : "out of memory");
        return 1;
    }
    fprintf(stderr, "\nwrote %s: %d images of %dx%d, rin %s\n", argv[2], r.n, H, W, rin_version());
    free(grid), free(px);
    rin_generator_close(g);
    return 0;
}
