"""run.py -- `make bench`: rin and its PyTorch peer on the same models, shapes and threads.

  python3 bench/run.py [--rin build/rin] [--steps N] [--threads 1,2] [--only NAME]
                       [--out runs/bench]

For each benchmark model (the cifar10 preset at batch 32 and the small Fashion-MNIST model of
configs/bench-fmnist-small.conf at batch 64), runs `rin bench` (train and sampling steps, each
thread count, SGEMM ceiling, fp32 FMA peak), the train step again with `precision = bf16`
(its ratio is against rin's own fp32 step), and bench/torch_peer.py under every PyTorch it finds: Debian's
python3-torch (/usr/bin/python3) and the interpreters in $TORCH_PYTHON (colon-separated; by
default bench/.venv/bin/python when it exists, made by `make bench-torch`). Prints one table
with the ratios rin/PyTorch and writes runs/bench/summary.json and summary.md.
Standard library only, so it runs without torch (then only rin's figures are shown).
"""

import argparse
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

MODELS = [
    # name, rin bench model arguments, batch
    ("cifar10", ["--preset", "cifar10"], 32),
    ("fmnist-small", ["--preset", "fmnist", "--config", "configs/bench-fmnist-small.conf"], 64),
]


def run(cmd, **kw):
    r = subprocess.run(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       **kw)
    if r.returncode != 0:
        sys.exit("bench: %s failed (exit %d):\n%s%s" % (" ".join(cmd), r.returncode, r.stdout,
                                                         r.stderr))
    return r.stdout


def torch_pythons():
    env = os.environ.get("TORCH_PYTHON")
    cands = ["/usr/bin/python3"]
    if env is not None:
        cands += [p for p in env.split(":") if p]
    elif os.path.exists(os.path.join(ROOT, "bench/.venv/bin/python")):
        cands.append(os.path.join(ROOT, "bench/.venv/bin/python"))
    found = []
    for py in cands:
        if not os.path.exists(py):
            continue
        r = subprocess.run([py, "-c", "import torch; print(torch.__version__)"],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        if r.returncode == 0:
            found.append((py, r.stdout.strip()))
        else:
            print("bench: %s has no torch; skipped" % py)
    return found


def init_args(model_args):
    """`rin init` takes --preset and --set; turn a --config file into --set pairs."""
    out, i = [], 0
    while i < len(model_args):
        if model_args[i] == "--config":
            with open(os.path.join(ROOT, model_args[i + 1])) as f:
                for line in f:
                    line = line.split("#", 1)[0].strip()
                    if line:
                        k, v = (s.strip() for s in line.split("=", 1))
                        out += ["--set", "%s=%s" % (k, v)]
        else:
            out += model_args[i:i + 2]
        i += 2
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rin", default="build/rin")
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--only", default=None, help="one model name: cifar10 or fmnist-small")
    ap.add_argument("--out", default="runs/bench")
    ap.add_argument("--reuse-rin", action="store_true",
                    help="take rin's figures from OUT/NAME.rin.json of an earlier run")
    a = ap.parse_args()
    os.makedirs(os.path.join(ROOT, a.out), exist_ok=True)
    threads = [int(t) for t in a.threads.split(",")]
    pythons = torch_pythons()
    summary = {"models": []}
    for name, margs, B in MODELS:
        if a.only and name != a.only:
            continue
        print("== %s, batch %d ==" % (name, B), flush=True)
        rj = os.path.join(a.out, name + ".rin.json")
        if not a.reuse_rin:
            out = run([a.rin, "bench"] + margs + ["--batch", str(B), "--steps", str(a.steps),
                                                  "--threads", a.threads, "--json", rj])
            print(out, end="", flush=True)
        with open(os.path.join(ROOT, rj)) as f:
            rin = json.load(f)
        # the train step again in bf16 precision (rin's, docs/performance.md "bf16")
        bj = os.path.join(a.out, name + ".rin-bf16.json")
        if not a.reuse_rin:
            out = run([a.rin, "bench"] + margs + ["--batch", str(B), "--steps", str(a.steps),
                                                  "--threads", a.threads, "--only", "train",
                                                  "--set", "precision=bf16", "--json", bj])
            print(out, end="", flush=True)
        with open(os.path.join(ROOT, bj)) as f:
            rin_bf16 = json.load(f)
        ckpt = os.path.join(a.out, name + ".safetensors")
        run([a.rin, "init"] + init_args(margs) + ["--out", ckpt])
        peers = []
        for py, ver in pythons:
            for T in threads:
                for phase in ("train", "sample"):
                    r = run([py, "bench/torch_peer.py", "--model", ckpt, "--phase", phase,
                             "--batch", str(B), "--threads", str(T), "--steps", str(a.steps)])
                    d = json.loads(r.strip().splitlines()[-1])
                    peers.append(d)
                    print("  torch %s, %d thread%s, %s: %.2f img/s, peak %.0f MB" %
                          (ver, T, "s" if T > 1 else "", phase, d["img_per_s"],
                           d["peak_rss_mb"]), flush=True)
        summary["models"].append({"name": name, "batch": B, "rin": rin, "rin_bf16": rin_bf16,
                                  "torch": peers})

    # the table
    lines = ["| model | threads | step | rin img/s | rin GFLOP/s (% SGEMM, % FMA peak) | "
             "rin peak MB | " +
             " | ".join("torch %s img/s | ratio | peak MB" % v for _, v in pythons) + " |",
             "|" + "---|" * (6 + 3 * len(pythons))]

    def fma_peak(runs, T):
        p = [r["gflops"] for r in runs if r.get("phase") == "fma_peak" and r["threads"] == T]
        return p[0] if p else 0

    for m in summary["models"]:
        for r in m["rin"]["runs"]:
            if r.get("phase") not in ("train", "sample"):
                continue  # the FMA peak and bf16 entries are read below
            peak = fma_peak(m["rin"]["runs"], r["threads"])
            row = "| %s (B=%d) | %d | %s | %.2f | %.1f (%.0f%%, %s) | %.0f |" % (
                m["name"], m["batch"], r["threads"], r["phase"], r["img_per_s"], r["gflops"],
                100 * r["gflops"] / r["sgemm_gflops"],
                "%.0f%%" % (100 * r["gflops"] / peak) if peak else "-", r["peak_rss_mb"])
            for _, ver in pythons:
                p = [d for d in m["torch"] if d["torch"] == ver and d["threads"] == r["threads"]
                     and d["phase"] == r["phase"]]
                if p:
                    row += " %.2f | **%.2fx** | %.0f |" % (
                        p[0]["img_per_s"], r["img_per_s"] / p[0]["img_per_s"],
                        p[0]["peak_rss_mb"])
                else:
                    row += " - | - | - |"
            lines.append(row)
        for r in m["rin_bf16"]["runs"]:
            if r.get("phase") != "train":
                continue
            f32 = [q for q in m["rin"]["runs"]
                   if q.get("phase") == "train" and q["threads"] == r["threads"]]
            # the ratio column holds bf16 against rin's own fp32 train step
            lines.append("| %s (B=%d) | %d | train, bf16 | %.2f | %.1f | %.0f |" % (
                m["name"], m["batch"], r["threads"], r["img_per_s"], r["gflops"],
                r["peak_rss_mb"]) + "".join(
                " - | %s | - |" % ("**%.2fx** rin fp32" % (r["img_per_s"] / f32[0]["img_per_s"])
                                   if f32 and i == 0 else "-")
                for i in range(max(len(pythons), 1))))
        ceil = sorted({(r["threads"], r["sgemm_gflops"]) for r in m["rin"]["runs"]
                       if "sgemm_gflops" in r})
        lines.append("")
        lines.append("%s: GEMM path %s; its SGEMM ceiling (2048^3) " % (
                         m["name"], m["rin"].get("gemm", "openblas")) +
                     ", ".join("%d thread%s %.1f GFLOP/s" % (t, "s" if t > 1 else "", g)
                               for t, g in ceil) +
                     "; the fp32 FMA peak " +
                     ", ".join("%d thread%s %.1f GFLOP/s" % (t, "s" if t > 1 else "",
                                                            fma_peak(m["rin"]["runs"], t))
                               for t, _ in ceil))
        lines.append("")
    table = "\n".join(lines)
    print()
    print(table)
    with open(os.path.join(ROOT, a.out, "summary.md"), "w") as f:
        f.write(table + "\n")
    with open(os.path.join(ROOT, a.out, "summary.json"), "w") as f:
        json.dump(summary, f, indent=1)
    print("\nwrote %s/summary.md and summary.json" % a.out)


if __name__ == "__main__":
    main()
