"""rin_ref.py -- a PyTorch reference of the RIN denoiser, built from primitive tensor ops.

This is the executable form of shared/spec/rin.md section 1 that the C code is tested against
(style.md section 10, "Reference style"). It is functional: the model is a dict of parameter
tensors named exactly as the C parameter table (src/nn/tensors.h), plus a config dict. There is no
nn.Module, no nn.MultiheadAttention and no fused attention, so every packing and scaling
convention is visible here:

  - one Python function per C op of src/nn/ops.h, with the same name (minus "rin_" and
    "_forward") and the same order of inputs: linear, layernorm, gelu, silu, residual,
    dropout_apply, attention, patchify, unpatchify, patchify3d, unpatchify3d, patchify3d_stack,
    add_rows, add_slot_rows, gamma_code, mse;
  - the sub-layers and the model on top of them: attn_branch, mlp_branch, time_token,
    class_token, init_latents, rin_block, readout, forward;
  - the counter-based hash of src/base/rng.c (hash64, counter_uniform), so that dropout and
    drop-path masks are bit-identical to the C ones;
  - a small safetensors reader and writer (json + struct + numpy; Debian ships no safetensors
    module) and config_from_meta, which turns a file's __metadata__ into a config dict.

Everything works in whatever floating dtype the parameters have: float64 for fixtures
(ref/make_fixtures.py), float32 for timing. Run with Debian's interpreter, /usr/bin/python3
(python3-torch 1.13, python3-numpy).

Layouts: images NHWC; parameters in PyTorch layout (a Linear weight is (out, in)); latents
(B, L, D); interface (B, n, E).
"""

import json
import math
import struct

import numpy as np
import torch

LN_EPS = 1e-6
TIME_SCALING = 1000.0  # s = 1000 * gamma (spec 1.2)

# ---- counter-based hash (src/base/rng.c) -----------------------------------------------------------

_GOLDEN = 0x9E3779B97F4A7C15
_M64 = (1 << 64) - 1


def _mix64(z):
    """splitmix64 finaliser on a numpy uint64 array (wraparound arithmetic)."""
    z = z ^ (z >> np.uint64(30))
    z = z * np.uint64(0xBF58476D1CE4E5B9)
    z = z ^ (z >> np.uint64(27))
    z = z * np.uint64(0x94D049BB133111EB)
    z = z ^ (z >> np.uint64(31))
    return z


def hash64(seed, stream, index):
    """rin_hash64: mix(mix(mix(seed ^ GOLDEN) ^ stream) ^ index); index an int or int array.
    Returns a numpy uint64 array shaped like index."""
    idx = np.asarray(index, dtype=np.uint64)
    a = _mix64(np.array([(int(seed) ^ _GOLDEN) & _M64], dtype=np.uint64))
    a = _mix64(a ^ np.uint64(int(stream) & _M64))
    return _mix64(a ^ idx.reshape(-1)).reshape(idx.shape)


def counter_uniform(seed, stream, index):
    """rin_counter_uniform: float32 in [0, 1) with 24 bits, (hash >> 40) / 2^24."""
    h = hash64(seed, stream, index)
    return (h >> np.uint64(40)).astype(np.float32) * np.float32(1.0 / 16777216.0)


def stream_drop_units(layer):
    return 16 * layer + 1


def stream_drop_path_attn(layer):
    return 16 * layer + 2


def stream_drop_path_mlp(layer):
    return 16 * layer + 3


# ---- ops (src/nn/ops.h) ------------------------------------------------------------------------


def linear(x, w, b):
    """rin_linear_forward: x (..., I) @ w(O, I)^T + b(O); b may be None."""
    y = torch.matmul(x, w.t())
    return y if b is None else y + b


def layernorm(x, w, b):
    """rin_layernorm_forward: over the last axis, eps 1e-6, biased (population) variance."""
    mean = x.mean(dim=-1, keepdim=True)
    xc = x - mean
    var = (xc * xc).mean(dim=-1, keepdim=True)
    rstd = 1.0 / torch.sqrt(var + LN_EPS)
    return xc * rstd * w + b


def gelu(x):
    """rin_gelu_forward: exact erf GELU, 0.5 x (1 + erf(x / sqrt 2))."""
    return 0.5 * x * (1.0 + torch.erf(x * (1.0 / math.sqrt(2.0))))


def silu(x):
    """rin_silu_forward: x * sigmoid(x)."""
    return x / (1.0 + torch.exp(-x))


def residual(x, f, scale):
    """rin_residual_forward: y = x + scale[b] * f per example b (scale None: 1)."""
    if scale is None:
        return x + f
    return x + scale.reshape((-1,) + (1,) * (f.dim() - 1)) * f


def dropout_keep_scale(seed, stream, rate, n):
    """The multiplier of rin_dropout_apply for n elements with ids 0..n-1: keep / (1 - rate),
    keep iff counter_uniform >= float32(rate). A float64 numpy array. rate 0: all ones."""
    rate32 = np.float32(rate)
    if rate32 == 0:
        return np.ones(n)
    u = counter_uniform(seed, stream, np.arange(n, dtype=np.uint64))
    return np.where(u >= rate32, 1.0 / (1.0 - float(rate32)), 0.0)


def dropout_apply(x, seed, stream, rate):
    """rin_dropout_apply: x * keep / (1 - rate) over the flattened (row-major) elements of x."""
    if np.float32(rate) == 0:
        return x
    m = dropout_keep_scale(seed, stream, rate, x.numel())
    return x * torch.as_tensor(m, dtype=x.dtype).reshape(x.shape)


def drop_path_scale(seed, stream, rate, B):
    """Per-example drop-path multipliers s_b: 1/(1-rate) if counter_uniform(seed, stream, b) >=
    float32(rate) else 0. None when rate is 0 (no mask at all)."""
    if np.float32(rate) == 0:
        return None
    return dropout_keep_scale(seed, stream, rate, B)


def softmax(s):
    """Softmax over the last axis, max-subtracted."""
    e = torch.exp(s - s.amax(dim=-1, keepdim=True))
    return e / e.sum(dim=-1, keepdim=True)


def attention(q, k, v, NH):
    """rin_attention_forward: q (B,Nq,A), k and v (B,Nk,A); head h is columns h*hs:(h+1)*hs;
    softmax(q_h k_h^T / sqrt(hs)) v_h, heads concatenated -> (B,Nq,A)."""
    B, Nq, A = q.shape
    Nk = k.shape[1]
    hs = A // NH
    qh = q.reshape(B, Nq, NH, hs).transpose(1, 2)  # (B,NH,Nq,hs)
    kh = k.reshape(B, Nk, NH, hs).transpose(1, 2)
    vh = v.reshape(B, Nk, NH, hs).transpose(1, 2)
    att = softmax(torch.matmul(qh, kh.transpose(-1, -2)) * (1.0 / math.sqrt(hs)))
    o = torch.matmul(att, vh)  # (B,NH,Nq,hs)
    return o.transpose(1, 2).reshape(B, Nq, A)


def patchify(img, p):
    """rin_patchify: img (B,H,W,C) -> (B,n,P),
    patches[b, r*(W/p)+c, (i*p+j)*C+ch] = img[b, r*p+i, c*p+j, ch]."""
    B, H, W, C = img.shape
    x = img.reshape(B, H // p, p, W // p, p, C).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(B, (H // p) * (W // p), p * p * C)


def unpatchify(patches, H, W, C, p):
    """rin_unpatchify: the inverse of patchify (TF depth_to_space), (B,n,P) -> (B,H,W,C)."""
    B = patches.shape[0]
    x = patches.reshape(B, H // p, W // p, p, p, C).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(B, H, W, C)


def patchify3d(clip, s, p):
    """rin_patchify3d (spec 6.1): clip (B,F,H,W,C) zero-padded at the end of time to a multiple
    of s, cut into s x p x p patches -> (B, ceil(F/s)(H/p)(W/p), s*p*p*C), tokens (t, h, w),
    vectors (t1, h1, w1, c): rearrange 'b (t t1) (h h1) (w w1) c -> b (t h w) (t1 h1 w1 c)'."""
    B, F_, H, W, C = clip.shape
    pad = (-F_) % s
    if pad:
        clip = torch.cat([clip, clip.new_zeros(B, pad, H, W, C)], dim=1)
    nt = clip.shape[1] // s
    x = clip.reshape(B, nt, s, H // p, p, W // p, p, C).permute(0, 1, 3, 5, 2, 4, 6, 7)
    return x.reshape(B, nt * (H // p) * (W // p), s * p * p * C)


def unpatchify3d(patches, H, W, C, s, p):
    """The rearrange 'b (t h w) (t1 h1 w1 c) -> b (t t1) (h h1) (w w1) c' of spec 6.2 (all
    frames, no crop): (B, nt (H/p)(W/p), s p p C) -> (B, nt s, H, W, C)."""
    B, n, _ = patches.shape
    nt = n // ((H // p) * (W // p))
    x = patches.reshape(B, nt, H // p, W // p, s, p, p, C).permute(0, 1, 4, 2, 5, 3, 6, 7)
    return x.reshape(B, nt * s, H, W, C)


def patchify3d_stack(clip, cond, Nc, k, s, p, halo=0):
    """rin_patchify3d_stack (video_cond = channels; rin's own, not in the spec): the noisy frames
    clip (B,F,H,W,C) with every pixel's channels widened to C (1 + k), the noisy frame's C, then
    the same pixel of the clean frames cond[:, Nc-k:] (oldest first) in every frame, then cut as
    patchify3d (padding frames are zero in all channels) -> (B, n, s*p*p*C*(1+k)).
    halo h > 0 (video_cond_halo): each token's row is instead its patchify3d patch followed by
    the k clean frames' (p+2h) x (p+2h) x C windows centred on its patch (zero past the frame's
    edge), the same in every time slot -> (B, n, s*p*p*C + k*(p+2h)^2*C)."""
    B, F_, H, W, C = clip.shape
    assert cond.shape[1] == Nc and 1 <= k <= Nc and halo >= 0
    if halo == 0:
        last = cond[:, Nc - k:].permute(0, 2, 3, 1, 4).reshape(B, 1, H, W, k * C)
        return patchify3d(torch.cat([clip, last.expand(B, F_, H, W, k * C)], dim=-1), s, p)
    noisy = patchify3d(clip, s, p)
    w, grid = p + 2 * halo, (H // p) * (W // p)
    padded = torch.nn.functional.pad(cond[:, Nc - k:], (0, 0, halo, halo, halo, halo))
    win = padded.unfold(2, w, p).unfold(3, w, p)  # (B, k, H/p, W/p, C, w, w)
    win = win.permute(0, 2, 3, 1, 5, 6, 4).reshape(B, grid, k * w * w * C)
    slots = noisy.shape[1] // grid
    return torch.cat([noisy, win.repeat(1, slots, 1)], dim=-1)


def add_rows(x, t):
    """rin_add_rows_forward: x (B,N,C) + t (N,C) for every b."""
    return x + t.unsqueeze(0)


def add_slot_rows(x, e, nx, grid):
    """rin_add_slot_rows_forward (token_gamma; rin's own): x (B,n,C) + e (B,ng,C), token i < nx
    taking row i // grid (its time slot), every token i >= nx (conditioning) the last row."""
    n, ng = x.shape[1], e.shape[1]
    r = [i // grid for i in range(nx)] + [ng - 1] * (n - nx)
    return x + e[:, r]


def gamma_code(gamma, scale, d):
    """rin_gamma_code: s = scale*gamma; [sin(s w_k), cos(s w_k)] for k < d/2, w_k =
    10000^(-2k/d), standardised per example (population std, no eps). (B,) -> (B,d)."""
    half = d // 2
    k = torch.arange(half, dtype=torch.float64)
    w = torch.pow(torch.tensor(10000.0, dtype=torch.float64), -2.0 * k / d).to(gamma.dtype)
    arg = (scale * gamma).unsqueeze(1) * w.unsqueeze(0)
    code = torch.cat([torch.sin(arg), torch.cos(arg)], dim=1)
    mean = code.mean(dim=1, keepdim=True)
    c = code - mean
    std = torch.sqrt((c * c).mean(dim=1, keepdim=True))
    return c / std


def mse(pred, target):
    """rin_mse_forward_backward (forward part): mean((pred - target)^2) over all elements."""
    d = pred - target
    return (d * d).mean()


# ---- sub-layers ------------------------------------------------------------------------------


def attn_branch(params, prefix, xq, xkv, NH, acts=None):
    """Branch of a pre-LN residual MHA sub-layer (fields ln_w, ln_b, wq..bo under prefix).
    Queries from LN(xq); keys and values from LN(xq) when xkv is None (self-attention), else
    from the RAW xkv (cross-attention). Returns f, the branch output before the residual add."""
    P = params
    y = layernorm(xq, P[prefix + "ln_w"], P[prefix + "ln_b"])
    kv = y if xkv is None else xkv
    q = linear(y, P[prefix + "wq"], P[prefix + "bq"])
    k = linear(kv, P[prefix + "wk"], P[prefix + "bk"])
    v = linear(kv, P[prefix + "wv"], P[prefix + "bv"])
    o = attention(q, k, v, NH)
    f = linear(o, P[prefix + "wo"], P[prefix + "bo"])
    if acts is not None:
        acts.update({prefix + "ln": y, prefix + "q": q, prefix + "k": k, prefix + "v": v,
                     prefix + "o": o, prefix + "f": f})
    return f


def mlp_branch(params, prefix, x, drop=None, acts=None):
    """Branch of a pre-LN residual MLP sub-layer (fields ln_w, ln_b, w1, b1, w2, b2):
    w2 . dropout(gelu(w1 . LN(x) + b1)) + b2. drop: None or (seed, stream, rate)."""
    P = params
    y = layernorm(x, P[prefix + "ln_w"], P[prefix + "ln_b"])
    h = linear(y, P[prefix + "w1"], P[prefix + "b1"])
    a = gelu(h)
    if drop is not None:
        a = dropout_apply(a, *drop)
    f = linear(a, P[prefix + "w2"], P[prefix + "b2"])
    if acts is not None:
        acts.update({prefix + "ln": y, prefix + "h": h, prefix + "a": a, prefix + "f": f})
    return f


def time_token(params, cfg, gamma, acts=None):
    """Spec 1.2: standardised sinusoidal code of 1000*gamma, Dense, SiLU, Dense -> (B, 4 dt)."""
    code = gamma_code(gamma, TIME_SCALING, cfg["dt"])
    th = linear(code, params["time_w1"], params["time_b1"])
    ta = silu(th)
    ttok = linear(ta, params["time_w2"], params["time_b2"])
    if acts is not None:
        acts.update({"tcode": code, "th": th, "ta": ta, "ttok": ttok})
    return ttok


def class_token(params, cfg, labels, dtype, acts=None):
    """Spec 1.3: one-hot (label -1: all zero) @ cond_w^T + cond_b -> (B, Dc)."""
    lab = torch.as_tensor(np.asarray(labels), dtype=torch.int64)
    nc = cfg["num_classes"]
    onehot = (lab.unsqueeze(1) == torch.arange(nc).unsqueeze(0)).to(dtype)  # -1 matches none
    ctok = linear(onehot, params["cond_w"], params["cond_b"])
    if acts is not None:
        acts.update({"onehot": onehot, "ctok": ctok})
    return ctok


def init_latents(params, cfg, ttok, ctok, z_prev, B, acts=None):
    """Spec 1.4: Z0 = [latent_pos tiled; t_tok if time_on_latent; c_tok if class on latents]
    plus, with self-conditioning, LN_zero(z_prev + MLP(LN(z_prev))) (never skipped)."""
    parts = [params["latent_pos"].unsqueeze(0).expand(B, -1, -1)]
    if cfg["time_on_latent"]:
        parts.append(ttok.unsqueeze(1))
    if ctok is not None and cfg["cond_on_latent"]:
        parts.append(ctok.unsqueeze(1))
    z = torch.cat(parts, dim=1)
    if cfg["self_cond"]:
        r = z_prev + mlp_branch(params, "sc_mlp_", z_prev, acts=acts)
        z = z + layernorm(r, params["sc_ln_w"], params["sc_ln_b"])
    if acts is not None:
        acts["z0"] = z
    return z


def read_only_tokens(cfg, ttok, ctok):
    """Spec 1.7: the read-only interface tokens [t_tok if not time_on_latent; c_tok if class
    and not cond_on_latent] -> (B, nr, E), or None when nr = 0."""
    parts = []
    if not cfg["time_on_latent"]:
        parts.append(ttok.unsqueeze(1))
    if ctok is not None and not cfg["cond_on_latent"]:
        parts.append(ctok.unsqueeze(1))
    return torch.cat(parts, dim=1) if parts else None


def rin_block(params, cfg, i, X, Z, xr, layer0, training, seed, acts=None):
    """Spec 1.5: block i (read, K process layers, write when K > 0). layer0 is the global index
    of the block's first process layer (it selects the dropout and drop-path streams).
    Returns (X, Z)."""
    pre = "blocks.%d." % i
    B = X.shape[0]
    dtype = X.dtype
    # read: latents <- interface (and read-only tokens); K/V from the raw interface
    kv = X if xr is None else torch.cat([X, xr], dim=1)
    Z = residual(Z, attn_branch(params, pre + "read_", Z, kv, cfg["rw_num_heads"], acts), None)
    Z = residual(Z, mlp_branch(params, pre + "read_mlp_", Z, acts=acts), None)
    K = cfg["num_layers"][i]
    for j in range(K):
        layer = layer0 + j
        lp = pre + "process.%d." % j
        s_attn = s_mlp = drop = None
        if training:
            sa = drop_path_scale(seed, stream_drop_path_attn(layer), cfg["drop_path"], B)
            sm = drop_path_scale(seed, stream_drop_path_mlp(layer), cfg["drop_path"], B)
            s_attn = None if sa is None else torch.as_tensor(sa, dtype=dtype)
            s_mlp = None if sm is None else torch.as_tensor(sm, dtype=dtype)
            if np.float32(cfg["drop_units"]) != 0:
                drop = (seed, stream_drop_units(layer), cfg["drop_units"])
        f = attn_branch(params, lp + "attn_", Z, None, cfg["latent_num_heads"], acts)
        Z = residual(Z, f, s_attn)
        f = mlp_branch(params, lp + "mlp_", Z, drop=drop, acts=acts)
        Z = residual(Z, f, s_mlp)
    if K > 0:
        # write: interface <- latents; K/V from the raw latents
        X = residual(X, attn_branch(params, pre + "write_", X, Z, cfg["rw_num_heads"], acts), None)
        if cfg["tape_mlp_ratio"] > 0:
            X = residual(X, mlp_branch(params, pre + "write_mlp_", X, acts=acts), None)
    return X, Z


def readout(params, cfg, X):
    """Spec 1.6: Y = LN_out(X) @ out_w^T + out_b, (B,n,P)."""
    return linear(layernorm(X, params["out_ln_w"], params["out_ln_b"]), params["out_w"],
                  params["out_b"])


def token_gamma_rows(params, cfg, gamma, gamma_tok):
    """token_gamma (rin's own, not the spec's): (B, ng, E) rows time_tape_w @ code(g), g the
    level of each noisy time slot (gamma_tok (B, ns), or gamma for every slot), then g = 1 when
    there are conditioning tokens."""
    B = gamma.shape[0]
    g = gamma_tok if gamma_tok is not None else gamma.unsqueeze(1).expand(B, cfg["ns"])
    if cfg["ng"] > cfg["ns"]:
        g = torch.cat([g, torch.ones(B, 1, dtype=g.dtype)], dim=1)
    code = gamma_code(g.reshape(-1), TIME_SCALING, cfg["dt"])
    return linear(code, params["time_tape_w"], None).reshape(B, cfg["ng"], -1)


def forward(params, cfg, x_t, gamma, labels, z_prev, training, seed, acts=None, cond=None,
            gamma_tok=None):
    """The denoiser f(x_t, gamma, labels, z_prev) -> (pred (B,H,W,C), z_out (B,L,D)).

    params: dict name -> torch tensor (all one floating dtype); cfg: from config_from_meta or
    make_config; x_t (B,H,W,C) and gamma (B,) torch tensors of that dtype; labels (B,) ints
    (-1: dropped label) or None when num_classes is 0; z_prev (B,L,D) or None (zeros; only used
    with self-conditioning); training: dropout and drop-path on; seed: their counter-RNG seed.
    Video (cfg seq_len > 0, spec 6): x_t (B, T-Nc, H, W, C) noisy frames, cond (B, Nc, H, W, C)
    clean frames; pred (B, T-Nc, H, W, C). cfg video_cond "tokens" (the spec's) tokenises cond
    after the noisy frames; "channels" (rin's) stacks its last video_cond_frames frames onto every
    noisy pixel instead (patchify3d_stack; with video_cond_halo h > 0 their windows around each
    patch) and has no conditioning tokens.
    cfg token_gamma (rin's): every interface token also gets token_gamma_rows of its noise level,
    gamma_tok (B, noisy time slots) or None (gamma for every slot).
    acts: optional dict that receives the intermediates (names as in the C rin_acts where there
    is one), for bisecting a failing test op by op."""
    B = x_t.shape[0]
    dtype = params["stem_w"].dtype
    H, W, C, p = cfg["image_height"], cfg["image_width"], cfg["image_channels"], cfg["patch_size"]
    # interface (spec 1.1)
    video = cfg["seq_len"] > 0
    if video and cfg["video_cond"] == "channels":  # rin's: the last k clean frames as channels
        patches = patchify3d_stack(x_t, cond, cfg["cond_frames"], cfg["video_cond_frames"],
                                   cfg["seq_stride"], p, cfg["video_cond_halo"])
    elif video:  # spec 6.1: noisy tokens, then the conditioning frames' through the same stem
        s = cfg["seq_stride"]
        patches = patchify3d(x_t, s, p)
        if cfg["cond_frames"] > 0:
            patches = torch.cat([patches, patchify3d(cond, s, p)], dim=1)
    else:
        patches = patchify(x_t, p)
    stem = linear(patches, params["stem_w"], params["stem_b"])
    X = add_rows(layernorm(stem, params["stem_ln_w"], params["stem_ln_b"]), params["tape_pos"])
    if cfg["tape_pos_encoding"] == "sin_cos_plus_learned":  # fixed codes under the residual
        X = X + tape_pos_codes(cfg, dtype)
    if cfg["token_gamma"]:  # rin's: each token's noise level, conditioning tokens at 1
        X = add_slot_rows(X, token_gamma_rows(params, cfg, gamma, gamma_tok), cfg["nx"],
                          cfg["grid"])
    # conditioning tokens (spec 1.2, 1.3)
    ttok = time_token(params, cfg, gamma, acts)
    ctok = class_token(params, cfg, labels, dtype, acts) if cfg["num_classes"] > 0 else None
    # latents (spec 1.4) and read-only tokens (spec 1.7)
    if cfg["self_cond"] and z_prev is None:
        z_prev = torch.zeros(B, cfg["latent_slots"], cfg["latent_dim"], dtype=dtype)
    Z = init_latents(params, cfg, ttok, ctok, z_prev, B, acts)
    xr = read_only_tokens(cfg, ttok, ctok)
    if acts is not None:
        acts.update({"patches": patches, "stem": stem, "x0": X, "xr": xr})
    # blocks (spec 1.5)
    layer0 = 0
    for i in range(len(cfg["num_layers"])):
        X, Z = rin_block(params, cfg, i, X, Z, xr, layer0, training, seed, acts)
        layer0 += cfg["num_layers"][i]
    # outputs (spec 1.6)
    Y = readout(params, cfg, X)
    if video:  # spec 6.2: read out every token, rearrange, crop to the predicted frames
        pred = unpatchify3d(Y, H, W, C, cfg["seq_stride"], p)[:, :cfg["seq_len"] - cfg["cond_frames"]]
    else:
        pred = unpatchify(Y, H, W, C, p)
    if acts is not None:
        acts.update({"zfinal": Z, "xfinal": X, "ro_y": Y})
    return pred, Z


def objective(pred, z_out, target, dz):
    """The fixtures' scalar: mean((pred - target)^2) + sum(z_out * dz). Returns (total, mse)."""
    m = mse(pred, target)
    return m + (z_out * dz).sum(), m


# ---- configuration and the parameter table -------------------------------------------------

CONFIG_KEYS = ["image_height", "image_width", "image_channels", "patch_size", "tape_dim",
               "latent_dim", "latent_slots", "num_layers", "latent_num_heads", "rw_num_heads",
               "latent_mlp_ratio", "tape_mlp_ratio", "drop_units", "drop_path", "num_classes",
               "time_on_latent", "cond_on_latent", "self_cond"]

VIDEO_KEYS = ["seq_len", "seq_stride", "cond_frames"]

VIDEO_COND_KEYS = ["video_cond", "video_cond_frames"]  # absent: "tokens", 0 (the spec's)
# rin's halo (absent: 0), written only when nonzero, after token_gamma as in the C key table

_INT_KEYS = ["image_height", "image_width", "image_channels", "patch_size", "tape_dim",
             "latent_dim", "latent_slots", "latent_num_heads", "rw_num_heads",
             "latent_mlp_ratio", "tape_mlp_ratio", "num_classes"]


def sincos_1d(coords, dim, dtype):
    """transformers.py positional_encoding: feature i of coordinate x has the angle
    x / 10000^(2 floor(i/2) / dim); the sines of the even i come first, then the cosines of the
    odd i."""
    i = torch.arange(dim, dtype=torch.float64)
    angles = coords[:, None] / torch.pow(10000.0, 2 * torch.div(i, 2, rounding_mode="floor") / dim)
    return torch.cat([torch.sin(angles[:, 0::2]), torch.cos(angles[:, 1::2])], dim=1).to(dtype)


def tape_pos_codes(cfg, dtype):
    """The fixed (n, E) codes of tape_pos_encoding = sin_cos_plus_learned: get_2d_position_codes
    over the patch grid with coordinates normalised to [0, 1000] (time_scaling), repeated over a
    video's time slots as VideoTapeDenoiser does."""
    p, E = cfg["patch_size"], cfg["tape_dim"]
    R, Q = cfg["image_height"] // p, cfg["image_width"] // p
    if R > 1 and Q > 1:
        y = sincos_1d(torch.arange(R, dtype=torch.float64) / (R - 1) * 1000.0, E // 2, dtype)
        x = sincos_1d(torch.arange(Q, dtype=torch.float64) / (Q - 1) * 1000.0, E // 2, dtype)
        grid = torch.cat([y[:, None, :].expand(R, Q, E // 2), x[None, :, :].expand(R, Q, E // 2)],
                         dim=2).reshape(R * Q, E)
    else:
        m = R * Q
        coords = torch.arange(m, dtype=torch.float64) / max(m - 1, 1) * 1000.0
        grid = sincos_1d(coords, E, dtype)
    return grid.repeat(cfg["n"] // (R * Q), 1)


def config_from_meta(meta):
    """Parses the config keys of a safetensors __metadata__ dict (strings) into a config dict
    with the derived sizes of src/internal.h rin_dims added (n, P, A, Lz, Dt, dt, Dc, nr, rD,
    rE, total_layers). Rates are kept as float32 values, as the C config stores them."""
    cfg = {k: int(meta[k]) for k in _INT_KEYS}
    cfg["num_layers"] = [int(s) for s in meta["num_layers"].split(",")]
    cfg["drop_units"] = float(np.float32(meta["drop_units"]))
    cfg["drop_path"] = float(np.float32(meta["drop_path"]))
    for k in ("time_on_latent", "cond_on_latent"):
        if meta[k] not in ("0", "1"):
            raise ValueError("%s must be 0 or 1, not %r" % (k, meta[k]))
        cfg[k] = meta[k] == "1"
    if meta["self_cond"] not in ("latent", "none"):
        raise ValueError("self_cond must be latent or none, not %r" % meta["self_cond"])
    cfg["self_cond"] = meta["self_cond"] == "latent"
    for k in VIDEO_KEYS:  # absent in image checkpoints: 0
        cfg[k] = int(meta.get(k, "0"))
    cfg["video_cond"] = meta.get("video_cond", "tokens")
    cfg["video_cond_frames"] = int(meta.get("video_cond_frames", "0"))
    cfg["video_cond_halo"] = int(meta.get("video_cond_halo", "0"))
    if cfg["video_cond_halo"] < 0 or (cfg["video_cond_halo"] and cfg["video_cond"] != "channels"):
        raise ValueError("video_cond_halo must be 0, or > 0 with video_cond = channels")
    if cfg["video_cond"] not in ("tokens", "channels"):
        raise ValueError("video_cond must be tokens or channels, not %r" % cfg["video_cond"])
    if cfg["video_cond"] == "channels" and not (
            cfg["seq_len"] > 0 and 1 <= cfg["video_cond_frames"] <= cfg["cond_frames"]):
        raise ValueError("video_cond = channels needs a video model and 1 <= video_cond_frames "
                         "<= cond_frames")
    if meta.get("token_gamma", "0") not in ("0", "1"):
        raise ValueError("token_gamma must be 0 or 1, not %r" % meta["token_gamma"])
    cfg["token_gamma"] = meta.get("token_gamma", "0") == "1"  # absent: 0 (the spec's)
    cfg["tape_pos_encoding"] = meta.get("tape_pos_encoding", "learned")
    if cfg["tape_pos_encoding"] not in ("learned", "sin_cos_plus_learned"):
        raise ValueError("tape_pos_encoding must be learned or sin_cos_plus_learned, not %r"
                         % cfg["tape_pos_encoding"])
    return derive_dims(cfg)


def config_to_meta(cfg):
    """The inverse of config_from_meta for the config keys (strings)."""
    m = {k: str(cfg[k]) for k in _INT_KEYS}
    m["num_layers"] = ",".join(str(k) for k in cfg["num_layers"])
    m["drop_units"] = _rate_str(cfg["drop_units"])
    m["drop_path"] = _rate_str(cfg["drop_path"])
    m["time_on_latent"] = "1" if cfg["time_on_latent"] else "0"
    m["cond_on_latent"] = "1" if cfg["cond_on_latent"] else "0"
    m["self_cond"] = "latent" if cfg["self_cond"] else "none"
    keys = list(CONFIG_KEYS)
    if cfg.get("seq_len", 0) > 0:
        keys += VIDEO_KEYS
        m.update({k: str(cfg[k]) for k in VIDEO_KEYS})
    if cfg.get("tape_pos_encoding", "learned") != "learned":
        keys.append("tape_pos_encoding")
        m["tape_pos_encoding"] = cfg["tape_pos_encoding"]
    if cfg.get("video_cond", "tokens") != "tokens":
        keys += VIDEO_COND_KEYS
        m.update({k: str(cfg[k]) for k in VIDEO_COND_KEYS})
    if cfg.get("token_gamma"):
        keys.append("token_gamma")
        m["token_gamma"] = "1"
    if cfg.get("video_cond_halo", 0):
        keys.append("video_cond_halo")
        m["video_cond_halo"] = str(cfg["video_cond_halo"])
    return {k: m[k] for k in keys}


def _rate_str(r):
    """Shortest decimal that reads back as the same float32."""
    return np.format_float_positional(np.float32(r), trim="-")


def derive_dims(cfg):
    """Adds the sizes of rin_dims (src/internal.h) to cfg and returns it."""
    c = cfg
    p, E, D = c["patch_size"], c["tape_dim"], c["latent_dim"]
    has_class = c["num_classes"] > 0
    c["n"] = (c["image_height"] // p) * (c["image_width"] // p)
    c["P"] = p * p * c["image_channels"]
    c["A"] = min(E, D)
    c["Dt"] = D if c["time_on_latent"] else E
    c["dt"] = c["Dt"] // 4
    c["Dc"] = D if c["cond_on_latent"] else E
    nlc = int(c["time_on_latent"]) + int(has_class and c["cond_on_latent"])
    c["Lz"] = c["latent_slots"] - nlc
    c["nr"] = int(not c["time_on_latent"]) + int(has_class and not c["cond_on_latent"])
    c["rD"] = c["latent_mlp_ratio"] * D
    c["rE"] = c["tape_mlp_ratio"] * E
    c["total_layers"] = sum(c["num_layers"])
    c["grid"] = c["n"]  # tokens per time slot
    c["nx"], c["ns"] = c["n"], 1  # read-out tokens, noisy time slots (an image: one)
    if c.get("seq_len", 0) > 0:  # spec 6.1: time slots of the noisy and conditioning frames
        s, grid = c["seq_stride"], c["n"]
        Tx, Nc = c["seq_len"] - c["cond_frames"], c["cond_frames"]
        channels = c.get("video_cond", "tokens") == "channels"  # no conditioning tokens
        c["n"] = grid * (-(-Tx // s) + (0 if channels else -(-Nc // s)))
        c["P"] = s * c["P"]
        c["nx"] = grid * -(-Tx // s)
        c["ns"] = -(-Tx // s)
    c["ng"] = c["ns"] + (1 if c["n"] > c["nx"] else 0)  # token_gamma rows: + gamma = 1
    # the stem's input width: P, or P (1 + k) with video_cond = channels, or P + k (p + 2h)^2 C
    # with a halo h
    c["Pin"] = c["P"]
    if c.get("video_cond") == "channels":
        h, w = c.get("video_cond_halo", 0), p + 2 * c.get("video_cond_halo", 0)
        c["Pin"] = (c["P"] + c["video_cond_frames"] * w * w * c["image_channels"] if h
                    else c["P"] * (1 + c["video_cond_frames"]))
    return c


def _attn_rows(prefix, Dq, Dk, A):
    """RIN_ATTN_TENSORS: (name, shape, kind) rows; kind drives fixture initialisation."""
    return [(prefix + "ln_w", (Dq,), "ln_w"), (prefix + "ln_b", (Dq,), "bias"),
            (prefix + "wq", (A, Dq), "weight"), (prefix + "bq", (A,), "bias"),
            (prefix + "wk", (A, Dk), "weight"), (prefix + "bk", (A,), "bias"),
            (prefix + "wv", (A, Dk), "weight"), (prefix + "bv", (A,), "bias"),
            (prefix + "wo", (Dq, A), "weight"), (prefix + "bo", (Dq,), "bias")]


def _mlp_rows(prefix, Dm, Hd):
    """RIN_MLP_TENSORS rows."""
    return [(prefix + "ln_w", (Dm,), "ln_w"), (prefix + "ln_b", (Dm,), "bias"),
            (prefix + "w1", (Hd, Dm), "weight"), (prefix + "b1", (Hd,), "bias"),
            (prefix + "w2", (Dm, Hd), "weight"), (prefix + "b2", (Dm,), "bias")]


def param_table(cfg):
    """Every parameter as (name, shape, kind), in the order of src/nn/tensors.h: the globals, then
    block 0 (read attention, read MLP, process layers each attention then MLP, write attention,
    write MLP), block 1, ... kind is one of weight, bias, ln_w, pos, sc_ln_w."""
    c = cfg
    E, D, A, dt, rD, rE = c["tape_dim"], c["latent_dim"], c["A"], c["dt"], c["rD"], c["rE"]
    rows = [("stem_w", (E, c["Pin"]), "weight"), ("stem_b", (E,), "bias"),
            ("stem_ln_w", (E,), "ln_w"), ("stem_ln_b", (E,), "bias"),
            ("tape_pos", (c["n"], E), "pos"), ("latent_pos", (c["Lz"], D), "pos"),
            ("time_w1", (4 * dt, dt), "weight"), ("time_b1", (4 * dt,), "bias"),
            ("time_w2", (4 * dt, 4 * dt), "weight"), ("time_b2", (4 * dt,), "bias")]
    if c.get("token_gamma"):
        rows += [("time_tape_w", (E, dt), "weight")]
    if c["num_classes"] > 0:
        rows += [("cond_w", (c["Dc"], c["num_classes"]), "weight"), ("cond_b", (c["Dc"],), "bias")]
    if c["self_cond"]:
        rows += _mlp_rows("sc_mlp_", D, rD)
        rows += [("sc_ln_w", (D,), "sc_ln_w"), ("sc_ln_b", (D,), "bias")]
    rows += [("out_ln_w", (E,), "ln_w"), ("out_ln_b", (E,), "bias"),
             ("out_w", (c["P"], E), "weight"), ("out_b", (c["P"],), "bias")]
    for i, K in enumerate(c["num_layers"]):
        pre = "blocks.%d." % i
        rows += _attn_rows(pre + "read_", D, E, A)
        rows += _mlp_rows(pre + "read_mlp_", D, rD)
        for j in range(K):
            rows += _attn_rows(pre + "process.%d.attn_" % j, D, D, D)
            rows += _mlp_rows(pre + "process.%d.mlp_" % j, D, rD)
        if K > 0:
            rows += _attn_rows(pre + "write_", E, D, A)
            if c["tape_mlp_ratio"] > 0:
                rows += _mlp_rows(pre + "write_mlp_", E, rE)
    return rows


# ---- safetensors (style.md section 9) --------------------------------------------------------

_DTYPES = {"F32": "<f4", "F64": "<f8", "I32": "<i4", "I64": "<i8", "U8": "u1"}
_DTYPE_NAMES = {np.dtype(v).str: k for k, v in _DTYPES.items()}


def save_safetensors(path, tensors, metadata=None):
    """Writes tensors (dict name -> numpy array, in dict order, contiguous offsets) and
    metadata (str -> str) in safetensors format; the header is space-padded so the data starts
    at a multiple of 8 bytes."""
    header, blobs, off = {}, [], 0
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    for name, arr in tensors.items():
        arr = np.asarray(arr)
        le = arr.astype(arr.dtype.newbyteorder("<"), copy=False)
        code = _DTYPE_NAMES[np.dtype(le.dtype).str]
        data = np.ascontiguousarray(le).tobytes()
        header[name] = {"dtype": code, "shape": list(arr.shape),
                        "data_offsets": [off, off + len(data)]}
        blobs.append(data)
        off += len(data)
    h = json.dumps(header, separators=(",", ":")).encode("utf-8")
    h += b" " * ((8 - (8 + len(h)) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for blob in blobs:
            f.write(blob)


def load_safetensors(path):
    """Reads a safetensors file: returns (dict name -> numpy array in file order, metadata)."""
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    if n > len(raw) - 8:
        raise ValueError("%s: header length %d exceeds the file" % (path, n))
    header = json.loads(raw[8:8 + n].decode("utf-8"))
    meta = header.pop("__metadata__", {})
    data = raw[8 + n:]
    tensors = {}
    for name, e in sorted(header.items(), key=lambda kv: kv[1]["data_offsets"][0]):
        b, end = e["data_offsets"]
        dt = np.dtype(_DTYPES[e["dtype"]])
        shape = tuple(e["shape"])
        if int(np.prod(shape, dtype=np.int64)) * dt.itemsize != end - b or end > len(data):
            raise ValueError("%s: tensor %s has inconsistent size" % (path, name))
        tensors[name] = np.frombuffer(data[b:end], dtype=dt).reshape(shape).copy()
    return tensors, meta
