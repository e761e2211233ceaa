"""make_fixtures.py -- writes the model fixtures tests/fixtures/model_<name>.safetensors.

Usage: /usr/bin/python3 ref/make_fixtures.py OUTDIR      (the Makefile's `make fixtures`)

For each configuration below it draws float32 parameters and inputs from a fixed seed, runs the
reference model of ref/rin_ref.py in float64 on those values, and stores:

  - every parameter under its table name (F32), random (none left at its spec initial value,
    so that every path, self-conditioning included, has non-trivial gradients);
  - inputs in.x_t, in.gamma, in.labels (I32, with one dropped label -1 when there are classes),
    in.z_prev (self-conditioning only), in.target, in.dz (F32);
  - expectations out.pred, out.z, out.loss (the MSE part, shape []), grad.<param> for every
    parameter, grad.x_t and grad.z_prev (F64), all of the objective
        mean((pred - target)^2) + sum(z_out * dz);
  - __metadata__: format "rin-fixture", every config key, batch, training, seed (of the dropout
    hash), source and precision.

Before writing, it checks the reference itself: each primitive op against PyTorch's own
implementation, and the autograd gradients against central finite differences (float64,
h = 1e-6) on random parameter and input elements. Seeds are fixed and the output is
byte-identical from run to run.
"""

import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rin_ref as R  # noqa: E402

# Config metadata strings (rin_ref.CONFIG_KEYS) plus the run settings of each fixture.
FIXTURES = [
    dict(name="model_cond", draw_seed=1001, batch=3, training=1, seed=12345,
         meta=dict(image_height="8", image_width="8", image_channels="3", patch_size="2",
                   tape_dim="24", latent_dim="32", latent_slots="8", num_layers="1,0,2",
                   latent_num_heads="4", rw_num_heads="2", latent_mlp_ratio="2",
                   tape_mlp_ratio="2", drop_units="0.25", drop_path="0.3", num_classes="5",
                   time_on_latent="1", cond_on_latent="1", self_cond="latent")),
    dict(name="model_uncond", draw_seed=1002, batch=2, training=0, seed=0,
         meta=dict(image_height="8", image_width="12", image_channels="1", patch_size="2",
                   tape_dim="16", latent_dim="24", latent_slots="5", num_layers="2,1",
                   latent_num_heads="3", rw_num_heads="4", latent_mlp_ratio="4",
                   tape_mlp_ratio="0", drop_units="0", drop_path="0", num_classes="0",
                   time_on_latent="1", cond_on_latent="1", self_cond="latent")),
    dict(name="model_readonly", draw_seed=1003, batch=2, training=0, seed=0,
         meta=dict(image_height="4", image_width="4", image_channels="3", patch_size="2",
                   tape_dim="16", latent_dim="16", latent_slots="4", num_layers="1,1",
                   latent_num_heads="2", rw_num_heads="2", latent_mlp_ratio="2",
                   tape_mlp_ratio="1", drop_units="0", drop_path="0", num_classes="3",
                   time_on_latent="0", cond_on_latent="0", self_cond="none")),
    # spec 6: 3 noisy + 2 conditioning frames with 2x2x2 patches, so both parts are padded by a
    # frame at the end of time; readout on every token, cropped to the 3 predicted frames
    dict(name="model_video", draw_seed=1004, batch=2, training=0, seed=0,
         meta=dict(image_height="4", image_width="6", image_channels="1", patch_size="2",
                   tape_dim="16", latent_dim="16", latent_slots="4", num_layers="1,1",
                   latent_num_heads="2", rw_num_heads="2", latent_mlp_ratio="2",
                   tape_mlp_ratio="1", drop_units="0", drop_path="0", num_classes="0",
                   time_on_latent="1", cond_on_latent="1", self_cond="latent", seq_len="5",
                   seq_stride="2", cond_frames="2")),
]
# model_video with tape_pos_encoding = sin_cos_plus_learned: fixed 2-D codes (a 2 x 3 grid)
# repeated over the 2 + 1 time slots under the learned residual
FIXTURES.append(dict(FIXTURES[-1], name="model_video_sincos", draw_seed=1005,
                     meta=dict(FIXTURES[-1]["meta"], tape_pos_encoding="sin_cos_plus_learned")))
# video_cond = channels (rin's, docs/video.md): 3 noisy frames (padded to 2 slots of s = 2) whose
# every pixel also carries the last 2 of 3 clean frames; no conditioning tokens, a stem 3x wide
FIXTURES.append(dict(FIXTURES[3], name="model_video_channels", draw_seed=1006,
                     meta=dict(FIXTURES[3]["meta"], seq_len="6", cond_frames="3",
                               video_cond="channels", video_cond_frames="2")))
# video_cond_halo = 1 (rin's, docs/video.md): model_video_channels with each token's last 2 clean
# frames as 4 x 4 windows around its 2 x 2 patch (zero past the 4 x 6 frame's edge)
FIXTURES.append(dict(FIXTURES[-1], name="model_video_halo", draw_seed=1008,
                     meta=dict(FIXTURES[-1]["meta"], video_cond_halo="1")))
# token_gamma (rin's, docs/video.md): model_video's 3 noisy frames in 2 slots of s = 2, each slot
# its own gamma (in.gamma_tok), the conditioning tokens at gamma = 1, time_tape_w in the table
FIXTURES.append(dict(FIXTURES[3], name="model_video_token_gamma", draw_seed=1007,
                     meta=dict(FIXTURES[3]["meta"], token_gamma="1")))

FD_H = 1e-6
FD_RTOL = 1e-6
# The float64 central difference carries cancellation noise of about eps |L| / h = 2.2e-16 x
# O(1) / 1e-6, a few 1e-10, whatever the gradient's size: a gradient of 1e-4 (model_cond's
# blocks.2.process.1.attn_bq[12]) then misses FD_RTOL by rounding alone on some machines.
FD_ATOL = 1e-9
FD_PARAM_ELEMENTS = 10  # random parameter elements checked per config (plus x_t, z_prev)


def f32(rng, lo, hi, shape):
    return rng.uniform(lo, hi, size=shape).astype(np.float32)


def draw_param(rng, shape, kind):
    """Fixture values by kind: weights U(+-sqrt(3/fan_in)) (unit gain, so attention logits are
    O(1) and softmax is far from uniform), biases U(+-0.1), LN scales 1 + U(+-0.2),
    positional tables U(+-0.5), the self-conditioning LN_zero scale U(0.5, 1.5)."""
    if kind == "weight":
        lim = np.sqrt(3.0 / shape[1])
        return f32(rng, -lim, lim, shape)
    if kind == "bias":
        return f32(rng, -0.1, 0.1, shape)
    if kind == "ln_w":
        return (1.0 + rng.uniform(-0.2, 0.2, size=shape)).astype(np.float32)
    if kind == "pos":
        return f32(rng, -0.5, 0.5, shape)
    if kind == "sc_ln_w":
        return f32(rng, 0.5, 1.5, shape)
    raise ValueError(kind)


def draw_inputs(rng, cfg, B):
    H, W, C = cfg["image_height"], cfg["image_width"], cfg["image_channels"]
    L, D = cfg["latent_slots"], cfg["latent_dim"]
    F = cfg["seq_len"] - cfg["cond_frames"] if cfg["seq_len"] > 0 else 0
    shape = (B, F, H, W, C) if F else (B, H, W, C)
    inp = {"in.x_t": rng.standard_normal(shape).astype(np.float32),
           "in.gamma": f32(rng, 0.02, 0.98, (B,))}
    if cfg["num_classes"] > 0:
        labels = rng.integers(0, cfg["num_classes"], size=B).astype(np.int32)
        labels[min(1, B - 1)] = -1
        inp["in.labels"] = labels
    if cfg["self_cond"]:
        inp["in.z_prev"] = rng.standard_normal((B, L, D)).astype(np.float32)
    inp["in.target"] = rng.standard_normal(shape).astype(np.float32)
    # scaled like the MSE gradient (about 1/numel) so neither output dominates the gradients
    inp["in.dz"] = (rng.standard_normal((B, L, D)) / (B * L * D)).astype(np.float32)
    if F:
        inp["in.cond"] = f32(rng, -1, 1, (B, cfg["cond_frames"], H, W, C))
    if cfg["token_gamma"]:  # drawn last: the other fixtures' draws stay as they were
        inp["in.gamma_tok"] = f32(rng, 0.02, 0.98, (B, cfg["ns"]))
    return inp


def t64(a, grad=False):
    return torch.tensor(np.asarray(a, dtype=np.float64), requires_grad=grad)


def run(params, cfg, inp, training, seed):
    """Float64 forward of the objective. Returns (total, mse, pred, z_out)."""
    labels = inp.get("labels")
    pred, z = R.forward(params, cfg, inp["x_t"], inp["gamma"], labels, inp.get("z_prev"),
                        training, seed, cond=inp.get("cond"), gamma_tok=inp.get("gamma_tok"))
    total, m = R.objective(pred, z, inp["target"], inp["dz"])
    return total, m, pred, z


def drop_path_scales(cfg, B, seed):
    out = []
    for layer in range(cfg["total_layers"]):
        for st in (R.stream_drop_path_attn(layer), R.stream_drop_path_mlp(layer)):
            s = R.drop_path_scale(seed, st, cfg["drop_path"], B)
            if s is not None:
                out.extend(s.tolist())
    return out


def check_ops():
    """Each primitive op of rin_ref against PyTorch's own implementation (float64)."""
    g = torch.Generator().manual_seed(7)
    x = torch.randn(5, 7, 12, dtype=torch.float64, generator=g)
    w = torch.randn(12, dtype=torch.float64, generator=g)
    b = torch.randn(12, dtype=torch.float64, generator=g)
    errs = {"layernorm": (R.layernorm(x, w, b) - F.layer_norm(x, (12,), w, b, 1e-6)).abs().max(),
            "gelu": (R.gelu(x) - F.gelu(x)).abs().max(),
            "silu": (R.silu(x) - F.silu(x)).abs().max(),
            "softmax": (R.softmax(x) - torch.softmax(x, -1)).abs().max()}
    # attention with projections == F.multi_head_attention_forward (batch-second layout)
    B, Nq, Nk, Dq, Dk, A, NH = 2, 5, 7, 12, 10, 12, 4  # torch needs A = Dq
    xq = torch.randn(B, Nq, Dq, dtype=torch.float64, generator=g)
    xkv = torch.randn(B, Nk, Dk, dtype=torch.float64, generator=g)
    Wq, Wk, Wv = (torch.randn(A, d, dtype=torch.float64, generator=g) for d in (Dq, Dk, Dk))
    Wo = torch.randn(Dq, A, dtype=torch.float64, generator=g)
    bq, bk, bv = (torch.randn(A, dtype=torch.float64, generator=g) for _ in range(3))
    bo = torch.randn(Dq, dtype=torch.float64, generator=g)
    mine = R.linear(R.attention(R.linear(xq, Wq, bq), R.linear(xkv, Wk, bk),
                                R.linear(xkv, Wv, bv), NH), Wo, bo)
    ref, _ = F.multi_head_attention_forward(
        xq.transpose(0, 1), xkv.transpose(0, 1), xkv.transpose(0, 1), Dq, NH, None,
        torch.cat([bq, bk, bv]), None, None, False, 0.0, Wo, bo, training=False,
        need_weights=False, use_separate_proj_weight=True, q_proj_weight=Wq, k_proj_weight=Wk,
        v_proj_weight=Wv)
    errs["attention"] = (mine - ref.transpose(0, 1)).abs().max()
    # patchify + linear == VALID conv with kernel (p, p, C, E) ordered (i, j, ch)
    Bi, H, W, C, p, E = 2, 6, 8, 3, 2, 5
    img = torch.randn(Bi, H, W, C, dtype=torch.float64, generator=g)
    sw = torch.randn(E, p * p * C, dtype=torch.float64, generator=g)
    conv = F.conv2d(img.permute(0, 3, 1, 2), sw.reshape(E, p, p, C).permute(0, 3, 1, 2),
                    stride=p)  # (B, E, H/p, W/p)
    errs["patchify"] = (R.linear(R.patchify(img, p), sw, None)
                        - conv.permute(0, 2, 3, 1).reshape(Bi, -1, E)).abs().max()
    errs["unpatchify"] = (R.unpatchify(R.patchify(img, p), H, W, C, p) - img).abs().max()
    # patchify3d + linear == Conv3D, kernel = stride (s, p, p), time zero-padded at the end
    Fr, s = 5, 2
    clip = torch.randn(Bi, Fr, H, W, C, dtype=torch.float64, generator=g)
    sw3 = torch.randn(E, s * p * p * C, dtype=torch.float64, generator=g)
    padded = F.pad(clip.permute(0, 4, 1, 2, 3), (0, 0, 0, 0, 0, 1))  # (B, C, F+1, H, W)
    conv3 = F.conv3d(padded, sw3.reshape(E, s, p, p, C).permute(0, 4, 1, 2, 3), stride=(s, p, p))
    errs["patchify3d"] = (R.linear(R.patchify3d(clip, s, p), sw3, None)
                          - conv3.permute(0, 2, 3, 4, 1).reshape(Bi, -1, E)).abs().max()
    errs["unpatchify3d"] = (R.unpatchify3d(R.patchify3d(clip, s, p), H, W, C, s, p)[:, :Fr]
                            - clip).abs().max()
    # patchify3d_stack + linear == Conv3D over the noisy frames with the last k clean frames
    # stacked as channels (written out frame by frame), time zero-padded at the end
    Nc, k = 3, 2
    cond = torch.randn(Bi, Nc, H, W, C, dtype=torch.float64, generator=g)
    swk = torch.randn(E, s * p * p * C * (1 + k), dtype=torch.float64, generator=g)
    frames = [torch.cat([clip[:, f]] + [cond[:, Nc - k + m] for m in range(k)], dim=-1)
              for f in range(Fr)]
    stacked = torch.stack(frames + [torch.zeros_like(frames[0])], dim=1)  # (B, F+1, H, W, C(1+k))
    convk = F.conv3d(stacked.permute(0, 4, 1, 2, 3),
                     swk.reshape(E, s, p, p, C * (1 + k)).permute(0, 4, 1, 2, 3), stride=(s, p, p))
    errs["patchify3d_stack"] = (R.linear(R.patchify3d_stack(clip, cond, Nc, k, s, p), swk, None)
                                - convk.permute(0, 2, 3, 4, 1).reshape(Bi, -1, E)).abs().max()
    # the halo layout + linear == Conv3D over the noisy frames plus, per clean frame m, a Conv2D
    # with kernel p + 2h, stride p and zero padding h, the same in every time slot
    hl = 1
    wk = p + 2 * hl
    Pn = s * p * p * C
    swh = torch.randn(E, Pn + k * wk * wk * C, dtype=torch.float64, generator=g)
    convn = F.conv3d(padded, swh[:, :Pn].reshape(E, s, p, p, C).permute(0, 4, 1, 2, 3),
                     stride=(s, p, p))  # (B, E, slots, H/p, W/p)
    for m in range(k):
        km = swh[:, Pn + m * wk * wk * C:Pn + (m + 1) * wk * wk * C].reshape(E, wk, wk, C)
        convn = convn + F.conv2d(cond[:, Nc - k + m].permute(0, 3, 1, 2), km.permute(0, 3, 1, 2),
                                 stride=p, padding=hl).unsqueeze(2)
    errs["patchify3d_stack_halo"] = (
        R.linear(R.patchify3d_stack(clip, cond, Nc, k, s, p, hl), swh, None)
        - convn.permute(0, 2, 3, 4, 1).reshape(Bi, -1, E)).abs().max()
    # gamma code: direct formula on one example
    d, gm = 8, 0.37
    k = np.arange(d // 2)
    code = np.concatenate([np.sin(1000 * gm * 10000.0 ** (-2 * k / d)),
                           np.cos(1000 * gm * 10000.0 ** (-2 * k / d))])
    code = (code - code.mean()) / code.std()
    errs["gamma_code"] = np.abs(R.gamma_code(torch.tensor([gm], dtype=torch.float64), 1000.0, d)
                                .numpy()[0] - code).max()
    print("op checks vs PyTorch built-ins (max abs error): "
          + ", ".join("%s %.1e" % (k, float(v)) for k, v in errs.items()))
    assert all(float(v) < 1e-12 for v in errs.values()), errs


def fd_check(params64, cfg, inp64, training, seed, grads, rng):
    """Central differences of the float64 objective on random elements of random parameters
    and of x_t and z_prev, against autograd. Returns the worst relative error."""
    names = list(params64)
    picks = [(names[i], None) for i in rng.integers(0, len(names), size=FD_PARAM_ELEMENTS)]
    picks += [("x_t", None)] + ([("z_prev", None)] if "z_prev" in inp64 else [])
    if cfg.get("video_cond") == "channels":  # a stem_w column of a clean frame's channel
        C = cfg["image_channels"]
        col = C + int(rng.integers(0, C * cfg["video_cond_frames"]))
        if cfg.get("video_cond_halo", 0):  # a column of the clean windows
            col = cfg["Pin"] - 1 - int(rng.integers(0, cfg["Pin"] - cfg["P"]))
        picks.append(("stem_w", int(rng.integers(0, cfg["tape_dim"])) * cfg["Pin"] + col))
    if cfg.get("token_gamma"):  # the per-token noise-level embedding
        picks.append(("time_tape_w", None))
    worst = 0.0
    with torch.no_grad():
        for name, fixed in picks:
            t = params64[name] if name in params64 else inp64[name]
            flat = t.view(-1)
            e = int(rng.integers(0, flat.numel())) if fixed is None else fixed
            old = float(flat[e])
            flat[e] = old + FD_H
            lp = float(run(params64, cfg, inp64, training, seed)[0])
            flat[e] = old - FD_H
            lm = float(run(params64, cfg, inp64, training, seed)[0])
            flat[e] = old
            fd = (lp - lm) / (2 * FD_H)
            an = float(grads[name].reshape(-1)[e])
            rel = abs(fd - an) / max(abs(fd), abs(an), 1e-300)
            worst = max(worst, rel)
            print("    fd %-36s [%4d] autograd % .10e  fd % .10e  rel %.1e"
                  % (name, e, an, fd, rel))
            assert abs(fd - an) <= FD_ATOL + FD_RTOL * max(abs(fd), abs(an)), (name, e, an, fd,
                                                                               rel)
    return worst


def make_fixture(fx, outdir):
    meta_cfg = fx["meta"]
    cfg = R.config_from_meta(meta_cfg)
    assert R.config_to_meta(cfg) == meta_cfg, "config round trip"
    B, training, seed = fx["batch"], fx["training"], fx["seed"]
    rng = np.random.default_rng(fx["draw_seed"])
    table = R.param_table(cfg)
    params32 = {name: draw_param(rng, shape, kind) for name, shape, kind in table}
    inp32 = draw_inputs(rng, cfg, B)

    params64 = {k: t64(v, grad=True) for k, v in params32.items()}
    inp64 = {k[3:]: t64(v, grad=k in ("in.x_t", "in.z_prev"))
             for k, v in inp32.items() if k != "in.labels"}
    if "in.labels" in inp32:
        inp64["labels"] = inp32["in.labels"]
    total, m, pred, z = run(params64, cfg, inp64, training, seed)
    total.backward()
    grads = {k: v.grad.detach().clone() for k, v in params64.items()}
    grads["x_t"] = inp64["x_t"].grad.detach().clone()
    if "z_prev" in inp64:
        grads["z_prev"] = inp64["z_prev"].grad.detach().clone()
    missing = [k for k, v in grads.items() if float(v.abs().max()) == 0.0]
    assert not missing, "parameters with all-zero gradient: %s" % missing

    print("%s: %d parameters in %d tensors, loss %.6f" % (
        fx["name"], sum(v.size for v in params32.values()), len(table), float(m)))
    if training:
        scales = drop_path_scales(cfg, B, seed)
        assert any(s == 0 for s in scales) and any(s != 0 for s in scales), scales
        keep = np.concatenate([
            R.dropout_keep_scale(seed, R.stream_drop_units(l), cfg["drop_units"],
                                 B * cfg["latent_slots"] * cfg["rD"]) != 0
            for l in range(cfg["total_layers"])])
        print("    drop-path scales %s; dropout keeps %.3f of %d units"
              % (" ".join("%.4g" % s for s in scales), keep.mean(), keep.size))
    for p in params64.values():
        p.grad = None
    for k in ("x_t", "z_prev"):
        if k in inp64:
            inp64[k].grad = None
    worst = fd_check(params64, cfg, inp64, training, seed, grads,
                     np.random.default_rng(fx["draw_seed"] + 7))
    print("    finite differences: worst relative error %.1e (bound %.0e + %.0e / |g|)"
          % (worst, FD_RTOL, FD_ATOL))

    tensors = dict(params32)
    tensors.update(inp32)
    tensors["out.pred"] = pred.detach().numpy()
    tensors["out.z"] = z.detach().numpy()
    tensors["out.loss"] = np.array(float(m), dtype=np.float64)
    for name, _, _ in table:
        tensors["grad." + name] = grads[name].numpy()
    tensors["grad.x_t"] = grads["x_t"].numpy()
    if "z_prev" in grads:
        tensors["grad.z_prev"] = grads["z_prev"].numpy()
    meta = {"format": "rin-fixture"}
    meta.update(meta_cfg)
    meta.update({"batch": str(B), "training": str(training), "seed": str(seed),
                 "source": "ref/make_fixtures.py",
                 "precision": "float64 expectations from float32 inputs"})
    path = os.path.join(outdir, fx["name"] + ".safetensors")
    R.save_safetensors(path, tensors, meta)

    # read back: identical tensors and metadata, and the config parses to the same dims
    back, bmeta = R.load_safetensors(path)
    assert list(back) == list(tensors) and bmeta == meta
    for k, v in tensors.items():
        assert back[k].dtype == np.asarray(v).dtype and np.array_equal(back[k], v), k
    assert R.config_from_meta(bmeta) == cfg
    return path


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: %s OUTDIR" % sys.argv[0])
    outdir = sys.argv[1]
    os.makedirs(outdir, exist_ok=True)
    torch.set_num_threads(1)  # fixed reduction order: identical bytes on every run
    check_ops()
    paths = [make_fixture(fx, outdir) for fx in FIXTURES]
    total = 0
    for p in paths:
        sz = os.path.getsize(p)
        total += sz
        print("wrote %-45s %8d bytes" % (p, sz))
    print("total %d bytes" % total)


if __name__ == "__main__":
    main()
