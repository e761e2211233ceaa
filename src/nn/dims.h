/* dims.h -- the sizes a model config implies (model.c): token counts, widths, the rows of
 * each table, computed once per model. Shared by the layers and by `rin info`.
 */
#ifndef RIN_DIMS_H
#define RIN_DIMS_H

#include "rin.h"

/* Sizes derived from the config, computed once. */
typedef struct rin_dims {
    int n;            /* interface tokens */
    int P;            /* p*p*C (video: s*p*p*C), a token's readout width */
    int Pin;          /* the stem's input width: P, or P (1 + k) with video_cond = channels */
    int grid;         /* tokens per time slot, (H/p)(W/p) */
    int ns;           /* noisy time slots (1 for images): rows of rin_batch.gamma_tok */
    int ng;           /* token_gamma rows per example: ns, + 1 (gamma = 1) with cond. tokens */
    int A;            /* min(E, D) */
    int Lz;           /* learned latent rows = L - latent condition tokens */
    int Dt;           /* time-token width (D if time_on_latent else E) */
    int dt;           /* sinusoid width Dt/4 */
    int Dc;           /* class-token width */
    int nr;           /* read-only interface tokens (time/class tokens not on the latents) */
    int rD;           /* lat_mlp_ratio * D */
    int rE;           /* tape_mlp_ratio * E */
    int total_layers; /* sum of K */
    int nx; /* tokens read out: n for images; video: the noisy frames' tokens (spec 6.1) */
    int Tx; /* frames predicted: 1 for images; video: seq_len - cond_frames */
} rin_dims;
void rin_dims_compute(rin_dims *d, const rin_config *c);

#endif /* RIN_DIMS_H */
