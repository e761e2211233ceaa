/* ops.h -- every op of the RIN denoiser, forward and backward, over flat float arrays.
 *
 * Dimension legend (shared/spec/rin.md section 0):
 *   B batch, n interface tokens, E interface width, L latent slots, D latent width,
 *   A cross-attention width = min(E, D), S blocks, K process layers in a block, p patch size,
 *   H W C image, P = p*p*C patch-vector length, NH heads, Nq/Nk query/key token counts,
 *   N a generic token count (rows), I/O a linear layer's input/output width.
 *
 * Contract (shared/spec/style.md section 4):
 *   - arguments: outputs, then saved/scratch buffers, then const inputs, then dimensions;
 *   - forward overwrites its outputs; backward ACCUMULATES (+=) into parameter gradients and
 *     into input gradients, unless a comment says "overwrites";
 *   - ops never allocate; parallel loops give bitwise identical results for any thread count;
 *   - each GEMM op has a *_naive serial reference used by the tests;
 *   - the GEMM ops' last argument is the precision of their products (rin_gemm_for, gemm.h):
 *     RIN_PRECISION_FP32 is the fp32 path (naive loops in a BLAS=none build), BF16 rounds the
 *     operands of every product to bfloat16 and sums in fp32.
 */
#ifndef RIN_OPS_H
#define RIN_OPS_H

#include <stddef.h>
#include <stdint.h>

#include "rin.h"

/* ---- linear (op_linear.c) ------------------------------------------------------------------
 * out (N,O) = in (N,I) @ w^T + b;  w (O,I) PyTorch layout, b (O) or NULL.
 * PyTorch: out = torch.nn.functional.linear(in, w, b) */
void rin_linear_forward(float *out, const float *in, const float *w, const float *b, int N, int I,
                        int O, rin_precision prec);
/* din (N,I) += dout @ w (din may be NULL); dw (O,I) += dout^T @ in; db (O) += sum_rows dout
 * (db may be NULL). */
void rin_linear_backward(float *din, float *dw, float *db, const float *dout, const float *in,
                         const float *w, int N, int I, int O, rin_precision prec);
void rin_linear_forward_naive(float *out, const float *in, const float *w, const float *b, int N,
                              int I, int O);
void rin_linear_backward_naive(float *din, float *dw, float *db, const float *dout, const float *in,
                               const float *w, int N, int I, int O);

/* ---- LayerNorm (op_layernorm.c) ------------------------------------------------------------
 * out (N,C) = (x - mean) * rstd * w + b over the last axis, eps = 1e-6, biased variance.
 * mean, rstd (N) are saved for backward. PyTorch: F.layer_norm(x, (C,), w, b, 1e-6) */
void rin_layernorm_forward(float *out, float *mean, float *rstd, const float *x, const float *w,
                           const float *b, int N, int C);
/* dx (N,C) += ...; dw, db (C) += ... */
void rin_layernorm_backward(float *dx, float *dw, float *db, const float *dout, const float *x,
                            const float *mean, const float *rstd, const float *w, int N, int C);

/* ---- pointwise (op_pointwise.c) ------------------------------------------------------------ */
/* Exact (erf) GELU, out may alias x. PyTorch: F.gelu(x) (approximate='none'). */
void rin_gelu_forward(float *out, const float *x, size_t n);
/* dx += dout * gelu'(x) */
void rin_gelu_backward(float *dx, const float *dout, const float *x, size_t n);
/* SiLU x * sigmoid(x). PyTorch: F.silu(x) */
void rin_silu_forward(float *out, const float *x, size_t n);
void rin_silu_backward(float *dx, const float *dout, const float *x, size_t n);
/* y (B,N,C) = x + s_b * f, with s_b = scale[b] (scale NULL: 1). Residual add with drop-path. */
void rin_residual_forward(float *y, const float *x, const float *f, const float *scale, int B,
                          size_t per_example);
/* Dropout with keep mask from the counter RNG: x *= keep / (1 - rate), in place, x (rows, cols)
 * with global element ids first, first+1, ... in stream `stream` (first > 0 for a data-parallel
 * shard that is not the batch's first). rate 0: no-op. */
void rin_dropout_apply(float *x, uint64_t seed, uint64_t stream, float rate, uint64_t first,
                       size_t n);

/* ---- attention core (op_attention.c) -------------------------------------------------------
 * q (B,Nq,A), k (B,Nk,A), v (B,Nk,A); A = NH * hs. For each batch b and head h:
 *   att[b,h] = softmax(q_h k_h^T / sqrt(hs)) (Nq,Nk); out_h = att[b,h] v_h; heads concatenated.
 * out (B,Nq,A) overwritten; att (B,NH,Nq,Nk) saved for backward (may be a scratch in inference).
 * PyTorch: (q.view(B,Nq,NH,hs).transpose(1,2) @ k...^T / sqrt(hs)).softmax(-1) @ v... */
void rin_attention_forward(float *out, float *att, const float *q, const float *k, const float *v,
                           int B, int Nq, int Nk, int A, int NH, rin_precision prec);
/* dq, dk, dv += ...; scratch (B,NH,Nq,Nk) caller-provided. */
void rin_attention_backward(float *dq, float *dk, float *dv, float *scratch, const float *dout,
                            const float *q, const float *k, const float *v, const float *att, int B,
                            int Nq, int Nk, int A, int NH, rin_precision prec);
void rin_attention_forward_naive(float *out, float *att, const float *q, const float *k,
                                 const float *v, int B, int Nq, int Nk, int A, int NH);
void rin_attention_backward_naive(float *dq, float *dk, float *dv, float *scratch,
                                  const float *dout, const float *q, const float *k, const float *v,
                                  const float *att, int B, int Nq, int Nk, int A, int NH);

/* ---- patches (op_patch.c) ------------------------------------------------------------------
 * patchify: img (B,H,W,C) -> patches (B,n,P), token r*(W/p)+c, vector (i, j, ch) ordered, i.e.
 * patches[b, r*(W/p)+c, (i*p+j)*C+ch] = img[b, r*p+i, c*p+j, ch]. Overwrites.
 * unpatchify is its inverse (TF depth_to_space). Each is the other's adjoint, so the backward
 * of one is the forward of the other (accumulating variants below). */
void rin_patchify(float *patches, const float *img, int B, int H, int W, int C, int p);
void rin_unpatchify(float *img, const float *patches, int B, int H, int W, int C, int p);
/* dimg += unpatchify(dpatches) */
void rin_patchify_backward(float *dimg, const float *dpatches, int B, int H, int W, int C, int p);
/* dpatches = patchify(dimg) (overwrites) */
void rin_unpatchify_backward(float *dpatches, const float *dimg, int B, int H, int W, int C, int p);

/* ---- video patches (op_patch.c, spec 6.1) ---------------------------------------------------
 * A clip part of F frames (B,F,H,W,C) zero-padded at the END of the time axis to a multiple of
 * s, cut into s x p x p patches: ceil(F/s) (H/p) (W/p) tokens in (t, h, w) row-major order, the
 * vector of length P = s*p*p*C ordered (frame-in-slot, row, column, channel). The tokens go to
 * rows tok0.. of each example's (n, P) block of the patch array, so two clip parts (the noisy
 * and the conditioning frames) share one array. unpatchify3d writes the F real frames (padding
 * dropped); the adjoints are as for images, and unpatchify3d_backward writes zeros in the
 * padding entries. PyTorch: F.pad on time, then rearrange 'b (t t1) (h h1) (w w1) c ->
 * b (t h w) (t1 h1 w1 c)'. */
typedef struct rin_video_patch {
    int F, H, W, C, s, p; /* frames in this part, frame size, time and space patch sizes */
    int n, tok0;          /* tokens per example of the patch array, first row of this part */
} rin_video_patch;
void rin_patchify3d(float *patches, const float *clip, const rin_video_patch *v, int B);
void rin_unpatchify3d(float *clip, const float *patches, const rin_video_patch *v, int B);
/* dclip += unpatchify3d(dpatches) */
void rin_patchify3d_backward(float *dclip, const float *dpatches, const rin_video_patch *v, int B);
/* dpatches rows of this part = patchify3d(dclip) (overwrites) */
void rin_unpatchify3d_backward(float *dpatches, const float *dclip, const rin_video_patch *v,
                               int B);

/* Channel conditioning (video_cond = channels; rin's own, not in the spec; docs/video.md): the
 * noisy part v (tok0 = 0, n = its tokens) cut as above, each pixel's C channels widened to
 * C (1 + k): the noisy frame's C, then the same pixel of the clean frames cond[Nc-k .. Nc-1]
 * (oldest first, C each). The clean frames do not move with the time slot: every frame of every
 * slot gets the same k frames. Padding frames are zero in all C (1 + k) channels (a Conv3D's
 * SAME padding of the stacked input). patches (B,n,s p p C (1+k)), clip (B,F,H,W,C),
 * cond (B,Nc,H,W,C), 1 <= k <= Nc. PyTorch: patchify3d(torch.cat([clip,
 * cond[:, Nc-k:].permute(0,2,3,1,4).reshape(B,1,H,W,k C).expand(B,F,H,W,k C)], -1), s, p). */
/* halo h > 0 (video_cond_halo, rin's own) lays each token out differently: its noisy patch
 * (s p p C, rin_patchify3d's order), then for each clean frame cond[Nc-k .. Nc-1] the
 * (p + 2h) x (p + 2h) x C window whose rows are r p - h .. r p + p + h - 1 and columns
 * c p - h .. c p + p + h - 1 of the token's patch row r and column c, zero past the frame's
 * edge; the same windows in every time slot. Rows are s p p C + k (p + 2h)^2 C wide. PyTorch:
 * torch.cat([patchify3d(clip), F.unfold(cond frame, p + 2h, padding=h, stride=p)
 * in (row, column, channel) order, per frame], -1). h = 0 is the per-pixel layout above. */
void rin_patchify3d_stack(float *patches, const float *clip, const float *cond, int Nc, int k,
                          int halo, const rin_video_patch *v, int B);
/* dclip += the noisy channels of dpatches (the clean frames are data and get no gradient). */
void rin_patchify3d_stack_backward(float *dclip, const float *dpatches, int k, int halo,
                                   const rin_video_patch *v, int B);

/* ---- rows broadcast (op_pointwise.c) --------------------------------------------------------
 * y (B,N,C) = x (B,N,C) + t (N,C) for every b (x may alias y); dt (N,C) += sum_b dy. */
void rin_add_rows_forward(float *y, const float *x, const float *t, int B, int N, int C);
void rin_add_rows_backward(float *dt, const float *dy, int B, int N, int C);
/* token_gamma (rin's): x (B,n,C) += e (B,ng,C) row r(i) for token i, where tokens [0, nx) of
 * time slot i / grid take row i / grid and tokens [nx, n) (conditioning) take row ng - 1.
 * PyTorch: x += e[:, r] with r = [i // grid for i < nx] + [ng - 1] * (n - nx).
 * Backward: de (B,ng,C) += sum over each row's tokens of dx. */
void rin_add_slot_rows_forward(float *x, const float *e, int B, int n, int nx, int grid, int ng,
                               int C);
void rin_add_slot_rows_backward(float *de, const float *dx, int B, int n, int nx, int grid, int ng,
                                int C);

/* ---- gamma embedding (op_embed.c) ----------------------------------------------------------
 * code (B,d): s = scale*gamma[b]; [sin(s w_0..w_{d/2-1}), cos(...)], w_k = 10000^(-2k/d), then
 * standardised over d (population std, no eps). d even. No gradient (gamma is an input). */
void rin_gamma_code(float *code, const float *gamma, float scale, int B, int d);

/* ---- loss (op_loss.c) ---------------------------------------------------------------------- */
/* mean((pred - target)^2) in double; dpred (may be NULL) overwritten with 2(pred-target)/n. */
double rin_mse_forward_backward(float *dpred, const float *pred, const float *target, size_t n);

/* ---- convolution, pooling, ReLU, softmax cross-entropy (op_conv.c) ------------------------
 * For the evaluation feature network (featnet.c, shared/spec/evaluation.md section 4.2).
 * Images are NHWC. conv2d: valid padding, stride 1, Ho = H-kh+1, Wo = W-kw+1;
 * x (B,H,W,Ci), w (Co,kh,kw,Ci), b (Co) or NULL, out (B,Ho,Wo,Co);
 * out[b,y,x,o] = b[o] + sum_{i,j,c} x[b,y+i,x+j,c] w[o,i,j,c].
 * col (B*Ho*Wo, kh*kw*Ci) is the im2col matrix, row (b,y,x), column (i*kw+j)*Ci+c; it is
 * overwritten and saved for backward. out = linear(col, w viewed as (Co, kh*kw*Ci), b).
 * PyTorch: F.conv2d(x.permute(0,3,1,2), w.permute(0,3,1,2), b).permute(0,2,3,1) */
void rin_conv2d_forward(float *out, float *col, const float *x, const float *w, const float *b,
                        int B, int H, int W, int Ci, int Co, int kh, int kw);
/* dx (B,H,W,Ci) += ... (dx may be NULL: then dcol is unused and may be NULL);
 * dw (Co,kh,kw,Ci) += ...; db (Co) += ... (may be NULL). dcol (B*Ho*Wo, kh*kw*Ci) scratch,
 * overwritten. col: the forward's im2col matrix. dout (B,Ho,Wo,Co). */
void rin_conv2d_backward(float *dx, float *dw, float *db, float *dcol, const float *dout,
                         const float *col, const float *w, int B, int H, int W, int Ci, int Co,
                         int kh, int kw);
/* Direct loops over x, the reference of the two above (same shapes, same accumulation). */
void rin_conv2d_forward_naive(float *out, const float *x, const float *w, const float *b, int B,
                              int H, int W, int Ci, int Co, int kh, int kw);
void rin_conv2d_backward_naive(float *dx, float *dw, float *db, const float *dout, const float *x,
                               const float *w, int B, int H, int W, int Ci, int Co, int kh, int kw);

/* 2x2 max pooling, stride 2, floor mode (an odd last row/column is dropped).
 * x (B,H,W,C) -> out (B,H/2,W/2,C); arg (B,H/2,W/2,C) saved for backward: the window position
 * 2*di+dj of the maximum (the first one in (di,dj) order on ties).
 * PyTorch: F.max_pool2d(x.permute(0,3,1,2), 2).permute(0,2,3,1) */
void rin_maxpool2_forward(float *out, int *arg, const float *x, int B, int H, int W, int C);
/* dx (B,H,W,C) += dout routed to the saved argmax positions. dout (B,H/2,W/2,C). */
void rin_maxpool2_backward(float *dx, const float *dout, const int *arg, int B, int H, int W,
                           int C);

/* ReLU max(x, 0), out may alias x. PyTorch: F.relu(x) */
void rin_relu_forward(float *out, const float *x, size_t n);
/* dx += dout * (y > 0), with y the forward's output (or its input: y > 0 iff x > 0). */
void rin_relu_backward(float *dx, const float *dout, const float *y, size_t n);

/* Mean cross-entropy of logits (B,K) against integer labels (B) in [0, K), in double:
 * returns mean_b (logsumexp(logits[b]) - logits[b, labels[b]]). dlogits (B,K) (may be NULL) is
 * OVERWRITTEN with (softmax(logits) - onehot(labels)) / B.
 * PyTorch: F.cross_entropy(logits, labels) (reduction='mean') */
double rin_softmax_xent_forward_backward(float *dlogits, const float *logits, const int *labels,
                                         int B, int K);

#endif /* RIN_OPS_H */
