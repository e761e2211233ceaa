"""torch_peer.py -- the PyTorch side of `make bench`: the same RIN, the same step, timed.

The model is ref/rin_ref.py's forward (the structure the C code is tested against), with its
primitive ops swapped for the fused PyTorch kernels a PyTorch user would call: F.linear,
F.layer_norm, F.gelu, F.silu, F.scaled_dot_product_attention (torch >= 2.0; matmul-softmax-
matmul before), F.dropout, and a torch drop-path mask instead of the reference's counter hash
(which exists for bitwise parity, not speed). Weights and config come from a checkpoint
written by `rin init`, so both sides run the same model on the same shapes.

  python3 bench/torch_peer.py --model FILE --phase train|sample --batch B --threads T
                              [--steps N] [--warmup W]

The train step is what src/diffusion/trainer.c does: a no-grad self-conditioning pass over the whole
batch, latents kept per example with probability 0.9, the gradient pass, MSE against the
noise (eps prediction), backward, LAMB (per-tensor trust ratio, weight decay on weights and
position tables) and an EMA of the weights. The sampling step is one no-grad forward with the
previous latents plus a DDIM update. Prints one JSON line: median seconds per step, img/s,
peak RSS (ru_maxrss, whole process) and the RSS right after import and model load.
"""

import argparse
import json
import math
import os
import resource
import statistics
import sys
import time


def _threads_from_argv():
    """--threads, read before torch loads its BLAS: OpenBLAS and MKL size their thread pools
    from the environment at load time, and torch.set_num_threads alone does not reach a
    'generic' BLAS such as Debian's OpenBLAS (measured: '1 thread' ran its GEMMs on 2)."""
    for i, a in enumerate(sys.argv):
        if a == "--threads" and i + 1 < len(sys.argv):
            return sys.argv[i + 1]
        if a.startswith("--threads="):
            return a.split("=", 1)[1]
    return None


_T = _threads_from_argv()
if _T:
    for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[_v] = _T

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "ref"))
import rin_ref as R  # noqa: E402


def rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


# ---- the fast ops, swapped into the reference's module namespace ------------------------------

def _layernorm(x, w, b):
    return F.layer_norm(x, (x.shape[-1],), w, b, R.LN_EPS)


def _attention(q, k, v, NH):
    B, Nq, A = q.shape
    Nk = k.shape[1]
    hs = A // NH
    qh = q.reshape(B, Nq, NH, hs).transpose(1, 2)
    kh = k.reshape(B, Nk, NH, hs).transpose(1, 2)
    vh = v.reshape(B, Nk, NH, hs).transpose(1, 2)
    if hasattr(F, "scaled_dot_product_attention"):
        o = F.scaled_dot_product_attention(qh, kh, vh)
    else:
        att = torch.softmax(torch.matmul(qh, kh.transpose(-1, -2)) * (1.0 / math.sqrt(hs)), -1)
        o = torch.matmul(att, vh)
    return o.transpose(1, 2).reshape(B, Nq, A)


def _dropout_apply(x, seed, stream, rate):
    return F.dropout(x, p=float(rate), training=True)


def _drop_path_scale(seed, stream, rate, B):
    if np.float32(rate) == 0:
        return None
    return (torch.rand(B) >= rate).float() / (1.0 - rate)


R.linear = F.linear
R.layernorm = _layernorm
R.gelu = F.gelu
R.silu = F.silu
R.attention = _attention
R.dropout_apply = _dropout_apply
R.drop_path_scale = _drop_path_scale


# ---- training ---------------------------------------------------------------------------------

def sigmoid_gamma(t, start=-3.0, end=3.0, tau=0.9):
    """The sigmoid@-3,3,0.9 schedule of the default training config (src/diffusion/diffusion.c)."""
    v_start = torch.sigmoid(torch.tensor(start / tau))
    v_end = torch.sigmoid(torch.tensor(end / tau))
    out = (-torch.sigmoid((t * (end - start) + start) / tau) + v_end) / (v_end - v_start)
    return out.clamp(1e-9, 1.0)


class Lamb:
    """LAMB as src/diffusion/optim.c (lr 3e-3, betas 0.9/0.999, eps 1e-8, weight decay 0.01)."""

    def __init__(self, params, decayed, lr=3e-3, b1=0.9, b2=0.999, eps=1e-8, wd=0.01):
        self.p, self.decayed = params, decayed
        self.m = [torch.zeros_like(p) for p in params]
        self.v = [torch.zeros_like(p) for p in params]
        self.lr, self.b1, self.b2, self.eps, self.wd, self.k = lr, b1, b2, eps, wd, 0

    @torch.no_grad()
    def step(self):
        self.k += 1
        bc1, bc2 = 1 - self.b1 ** self.k, 1 - self.b2 ** self.k
        grads = [p.grad for p in self.p]
        torch._foreach_mul_(self.m, self.b1)
        torch._foreach_add_(self.m, grads, alpha=1 - self.b1)
        torch._foreach_mul_(self.v, self.b2)
        torch._foreach_addcmul_(self.v, grads, grads, value=1 - self.b2)
        for p, m, v, dec in zip(self.p, self.m, self.v, self.decayed):
            u = (m / bc1) / ((v / bc2).sqrt_() + self.eps)
            r = 1.0
            if dec:
                u.add_(p, alpha=self.wd)
                wn, un = p.norm(), u.norm()
                if wn > 0 and un > 0:
                    r = (wn / un).item()
            p.add_(u, alpha=-self.lr * r)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--phase", choices=("train", "sample"), required=True)
    ap.add_argument("--batch", type=int, required=True)
    ap.add_argument("--threads", type=int, required=True)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=1)
    a = ap.parse_args()

    torch.set_num_threads(a.threads)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass
    torch.manual_seed(0)
    rss_import = rss_mb()
    tensors, meta = R.load_safetensors(a.model)
    cfg = R.config_from_meta(meta)
    table = {name: kind for name, _, kind in R.param_table(cfg)}
    names = [n for n in tensors if n in table]
    params = {n: torch.from_numpy(tensors[n]).float().requires_grad_(a.phase == "train")
              for n in names}
    del tensors
    B, H, W, C = a.batch, cfg["image_height"], cfg["image_width"], cfg["image_channels"]
    nc = cfg["num_classes"]
    labels = np.random.RandomState(7).randint(0, max(nc, 1), size=B) if nc > 0 else None
    x0 = torch.rand(B, H, W, C) * 2 - 1
    rss_model = rss_mb()
    times = []

    if a.phase == "train":
        plist = [params[n] for n in names]
        opt = Lamb(plist, [table[n] in ("weight", "pos") for n in names])
        ema = [p.detach().clone() for p in plist]
        for i in range(a.warmup + a.steps):
            t0 = time.perf_counter()
            t = torch.rand(B)
            gamma = sigmoid_gamma(t)
            eps = torch.randn(B, H, W, C)
            g4 = gamma.view(B, 1, 1, 1)
            x_t = g4.sqrt() * x0 + (1 - g4).sqrt() * eps
            zprev = None
            if cfg["self_cond"]:
                with torch.no_grad():
                    _, z1 = R.forward(params, cfg, x_t, gamma, labels, None, True, 0)
                keep = (torch.rand(B) < 0.9).float().view(B, 1, 1)
                zprev = z1 * keep
            pred, _ = R.forward(params, cfg, x_t, gamma, labels, zprev, True, 0)
            loss = F.mse_loss(pred, eps)
            for p in plist:
                p.grad = None
            loss.backward()
            opt.step()
            with torch.no_grad():
                torch._foreach_mul_(ema, 0.9999)
                torch._foreach_add_(ema, plist, alpha=1 - 0.9999)
            if i >= a.warmup:
                times.append(time.perf_counter() - t0)
    else:
        x = torch.randn(B, H, W, C)
        z = None
        steps = a.warmup + a.steps
        with torch.no_grad():
            for i in range(steps):
                t0 = time.perf_counter()
                t_now, t_next = 1.0 - i / steps, 1.0 - (i + 1) / steps
                g = torch.full((B,), math.cos(t_now * math.pi / 2) ** 2).clamp(1e-9, 1.0)
                gn = math.cos(t_next * math.pi / 2) ** 2
                pred, z = R.forward(params, cfg, x, g, labels,
                                    z if cfg["self_cond"] else None, False, 0)
                g0 = float(g[0])
                x0h = ((x - math.sqrt(1 - g0) * pred) / math.sqrt(g0)).clamp(-1, 1)
                e = (x - math.sqrt(g0) * x0h) / math.sqrt(1 - g0)
                x = math.sqrt(gn) * x0h + math.sqrt(1 - gn) * e
                if i >= a.warmup:
                    times.append(time.perf_counter() - t0)

    med = statistics.median(times)
    print(json.dumps({"torch": torch.__version__, "blas_threads_env": os.environ.get(
                          "OPENBLAS_NUM_THREADS"), "phase": a.phase, "threads": a.threads,
                      "batch": B, "step_s": med, "img_per_s": B / med,
                      "peak_rss_mb": rss_mb(), "rss_after_import_mb": rss_import,
                      "rss_after_model_mb": rss_model,
                      "sdpa": hasattr(F, "scaled_dot_product_attention")}))


if __name__ == "__main__":
    main()
