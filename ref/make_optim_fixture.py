"""make_optim_fixture.py -- writes tests/fixtures/optim_lamb.safetensors, the optimizer fixture.

Usage: /usr/bin/python3 ref/make_optim_fixture.py OUTDIR

The optimizers of spec section 4, written from the spec's formulas in float64 torch (not
torch.optim, whose float32 state and fused updates would hide the exact answer):

  LAMB (tensorflow_addons), per tensor, k = step + 1:
      m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2
      u = (m/(1-b1^k)) / (sqrt(v/(1-b2^k)) + eps);  u += wd w  if the tensor is decayed
      r = ||w||/||u|| if both > 0 else 1;  r = 1 if the tensor is not decayed
      w = w - lr r u
  AdamW (torch.optim.AdamW, decoupled):
      w = w - lr wd w  (decayed tensors only);  w = w - lr (m/(1-b1^k)) / (sqrt(v/(1-b2^k)) + eps)

on the parameter table of a micro model (the config is in __metadata__, so the C test builds the
same table with rin_config_from_meta). A model the size of the "tiny" preset (56,720 floats)
would make a file of several MB; this one has 1,852 floats and 72 tensors of every kind
(weights, biases, LayerNorm, positional tables, the zero-initialised self-conditioning LN).

Stored:
  - in.w.<name>, in.g.<name>, in.m.<name>, in.v.<name>: F32 inputs; in.g2.<name>, in.g3.<name>:
    the gradients of the 2nd and 3rd consecutive LAMB steps;
  - decayed: I32 (ntensors,), table order, 1 = weight decay and trust ratio;
  - one.m.<name>, one.v.<name>: F64 moments after one update (the same for LAMB and AdamW);
  - lamb.w.<name>, adamw.w.<name>: F64 weights after one LAMB / one AdamW update at step 3;
  - lamb3.w.<name>, lamb3.m.<name>, lamb3.v.<name>: F64 state after 3 LAMB updates at steps
    3, 4, 5 with gradients g, g2, g3, starting from the inputs (the state is kept in float64);
  - __metadata__: format "rin-fixture", every config key, lr, weight_decay, beta1, beta2, eps,
    step, source, precision.

Edge cases put into the inputs: cond_w has w = 0 (decayed, ||w|| = 0: r = 1); time_w2 has
g = m = v = 0 (u = wd w, so r = 1/wd); latent_pos has w = g = m = v = 0 (u = 0: r = 1, no
change); out_b (a bias) has g = m = v = 0 (no change at all). Seeds are fixed and the output is
byte-identical from run to run.
"""

import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rin_ref as R  # noqa: E402

META = dict(image_height="4", image_width="4", image_channels="1", patch_size="2",
            tape_dim="8", latent_dim="8", latent_slots="4", num_layers="1",
            latent_num_heads="2", rw_num_heads="2", latent_mlp_ratio="1", tape_mlp_ratio="1",
            drop_units="0", drop_path="0", num_classes="3", time_on_latent="1",
            cond_on_latent="1", self_cond="latent")
LR, WD, B1, B2, EPS, STEP = 2e-3, 0.01, 0.9, 0.999, 1e-8, 3
SEED = 4242


def decayed_kind(kind):
    """tensors.h's decayed column from param_table's kind: weights and positional tables."""
    return kind in ("weight", "pos")


def lamb(w, g, m, v, step, decayed):
    """One LAMB update of one tensor (float64 tensors); returns the new (w, m, v)."""
    k = step + 1
    m = B1 * m + (1 - B1) * g
    v = B2 * v + (1 - B2) * g * g
    u = (m / (1 - B1 ** k)) / (torch.sqrt(v / (1 - B2 ** k)) + EPS)
    if decayed:
        u = u + WD * w
    wn, un = torch.linalg.norm(w.flatten()), torch.linalg.norm(u.flatten())
    r = (wn / un).item() if decayed and wn > 0 and un > 0 else 1.0
    return w - LR * r * u, m, v


def adamw(w, g, m, v, step, decayed):
    """One AdamW update of one tensor (float64 tensors); returns the new (w, m, v)."""
    k = step + 1
    m = B1 * m + (1 - B1) * g
    v = B2 * v + (1 - B2) * g * g
    if decayed:
        w = w - LR * WD * w
    w = w - LR * (m / (1 - B1 ** k)) / (torch.sqrt(v / (1 - B2 ** k)) + EPS)
    return w, m, v


def main():
    outdir = sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures"
    cfg = R.config_from_meta(META)
    table = R.param_table(cfg)
    rng = np.random.RandomState(SEED)

    def f32(shape, scale, kind="normal"):
        if kind == "normal":
            return (rng.standard_normal(shape) * scale).astype(np.float32)
        return (rng.uniform(0.2, 1.5, shape) * scale).astype(np.float32)

    out = {}
    inputs = {}
    for name, shape, kind in table:
        w = f32(shape, 0.5)
        g, m = f32(shape, 0.02), f32(shape, 0.01)
        v = f32(shape, 4e-4, "uniform")
        g2, g3 = f32(shape, 0.02), f32(shape, 0.02)
        if name == "cond_w":
            w[...] = 0
        if name in ("time_w2", "out_b", "latent_pos"):
            g[...] = 0
            m[...] = 0
            v[...] = 0
        if name == "latent_pos":
            w[...] = 0
        inputs[name] = dict(w=w, g=g, m=m, v=v, g2=g2, g3=g3)
    for role in ("w", "g", "m", "v", "g2", "g3"):
        for name, _, _ in table:
            out["in.%s.%s" % (role, name)] = inputs[name][role]
    out["decayed"] = np.array([1 if decayed_kind(k) else 0 for _, _, k in table], np.int32)

    res = {}
    for name, _, kind in table:
        t = {k: torch.from_numpy(a.astype(np.float64)) for k, a in inputs[name].items()}
        dec = decayed_kind(kind)
        lw, lm, lv = lamb(t["w"], t["g"], t["m"], t["v"], STEP, dec)
        aw, am, av = adamw(t["w"], t["g"], t["m"], t["v"], STEP, dec)
        assert torch.equal(lm, am) and torch.equal(lv, av)
        w3, m3, v3 = t["w"], t["m"], t["v"]
        for i, g in enumerate((t["g"], t["g2"], t["g3"])):
            w3, m3, v3 = lamb(w3, g, m3, v3, STEP + i, dec)
        res[name] = {"one.m": lm, "one.v": lv, "lamb.w": lw, "adamw.w": aw,
                     "lamb3.w": w3, "lamb3.m": m3, "lamb3.v": v3}
    for role in ("one.m", "one.v", "lamb.w", "adamw.w", "lamb3.w", "lamb3.m", "lamb3.v"):
        for name, _, _ in table:
            out["%s.%s" % (role, name)] = res[name][role].numpy()

    # sanity of the edge cases
    assert np.array_equal(res["latent_pos"]["lamb.w"].numpy(), inputs["latent_pos"]["w"])
    assert np.array_equal(res["out_b"]["lamb.w"].numpy(), inputs["out_b"]["w"].astype(np.float64))
    tw = inputs["time_w2"]["w"].astype(np.float64)
    assert np.allclose(res["time_w2"]["lamb.w"].numpy(), tw * (1 - LR), rtol=1e-12, atol=0)

    meta = {"format": "rin-fixture"}
    meta.update(R.config_to_meta(cfg))
    meta.update(lr=repr(LR), weight_decay=repr(WD), beta1=repr(B1), beta2=repr(B2),
                eps=repr(EPS), step=str(STEP),
                source="ref/make_optim_fixture.py (spec 4 formulas, torch float64)",
                precision="inputs F32, expectations F64")
    path = os.path.join(outdir, "optim_lamb.safetensors")
    R.save_safetensors(path, out, meta)
    n = sum(int(np.prod(s)) for _, s, _ in table)
    print("%s: %d tensors, %d floats, %d bytes" % (path, len(table), n, os.path.getsize(path)))


if __name__ == "__main__":
    main()
