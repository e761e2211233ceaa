#!/usr/bin/env bash
# dev/sampler_sweep.sh -- issue 19's measurement: FD-LeNet against network calls for every
# sampler (docs/sampling.md) on one model, all with the same noise and label seed, scored by
# `rin eval` against fmnist:test. Writes OUT/table.md (FD per sampler and call budget) and
# OUT/fd_vs_calls.svg (one line per sampler, calls on a log axis).
#
#   dev/sampler_sweep.sh [OUT]                       # default runs/sweep
#   MODEL=runs/x/model.safetensors N=1000 CALLS="10 25 50" VARIANTS="ddpm dpm++2m" dev/sampler_sweep.sh
#
# A variant is SAMPLER[:SPACING[:CARRY]] (spacing auto when left out, carry call). heun makes
# 2T - 1 calls for T steps, so it gets T = (calls + 1)/2 and its row shows the calls it made.
# Resumable: a point with OUT/VARIANT_CALLS.json is done. Time on two idle cores with the patch-4
# model and 1,000 samples: about 4 s per network call per 1,000 images, so a whole sweep (8
# variants, 450 calls each) is about 4 hours; run the cheap budgets first (CALLS="10 15 25").
set -euo pipefail
cd "$(dirname "$0")/.."

OUT=${1:-runs/sweep}
MODEL=${MODEL:-models/fmnist.safetensors}
N=${N:-1000}
CALLS=${CALLS:-10 15 25 50 100 250}
VARIANTS=${VARIANTS:-ddpm ddim euler euler_a heun dpm++2m heun:karras:step dpm++2m:logsnr}
THREADS=${THREADS:-2}
RIN=${RIN:-build/rin}
EXTRA=${EXTRA:-} # more rin eval options, e.g. "--kid-size 100" for a quick check

[ -x "$RIN" ] || make -j2 all
mkdir -p "$OUT"
export OMP_NUM_THREADS=$THREADS OMP_WAIT_POLICY=passive

for v in $VARIANTS; do
    IFS=: read -r sampler spacing carry <<<"$v"
    spacing=${spacing:-auto}
    carry=${carry:-call}
    for calls in $CALLS; do
        steps=$calls
        [ "$sampler" = heun ] && steps=$(((calls + 1) / 2))
        tag="${v//:/_}_$calls"
        [ -f "$OUT/$tag.json" ] && continue
        echo "== $v: $steps steps ($calls calls budget)"
        t0=$(date +%s)
        "$RIN" eval --fake "ckpt:$MODEL" --fake-n "$N" --sampler "$sampler" --spacing "$spacing" \
            --latent-carry "$carry" --steps "$steps" --seed 0 --json "$OUT/$tag.tmp" $EXTRA
        t1=$(date +%s)
        python3 - "$OUT/$tag.tmp" "$OUT/$tag.json" "$v" "$sampler" "$steps" "$calls" "$((t1 - t0))" <<'EOF'
import json, os, sys
src, dst, variant, sampler, steps, budget, secs = sys.argv[1:]
r = json.load(open(src))
steps = int(steps)
r.update(variant=variant, steps=steps, calls=2 * steps - 1 if sampler == "heun" else steps,
         budget=int(budget), seconds=int(secs))
with open(dst + ".tmp", "w") as f:
    json.dump(r, f, indent=1)
    f.flush()
    os.fsync(f.fileno())
os.replace(dst + ".tmp", dst)
os.remove(src)
EOF
    done
done

python3 - "$OUT" "$MODEL" "$N" <<'EOF'
import glob, json, math, os, sys
out, model, n = sys.argv[1:]
pts = [json.load(open(f)) for f in sorted(glob.glob(f"{out}/*.json"))]
variants = []
for p in pts:
    if p["variant"] not in variants:
        variants.append(p["variant"])
budgets = sorted({p["budget"] for p in pts})
by = {(p["variant"], p["budget"]): p for p in pts}
lines = [f"FD-LeNet of {int(n):,} samples of {model} against fmnist:test, by budget of network "
         "calls (a cell that made fewer calls, heun's 2T - 1, says how many); the same noise and "
         "label seed in every cell.", "",
         "| sampler | " + " | ".join(str(b) for b in budgets) + " |",
         "|---|" + "---|" * len(budgets)]
for v in variants:
    cells = []
    for b in budgets:
        p = by.get((v, b))
        c = "" if not p else f"{p['fd_lenet_fmnist']:.1f}"
        if p and p["calls"] != b:
            c += f" ({p['calls']})"
        cells.append(c)
    lines.append(f"| {v} | " + " | ".join(cells) + " |")
with open(f"{out}/table.md.tmp", "w") as f:
    f.write("\n".join(lines) + "\n")
os.replace(f"{out}/table.md.tmp", f"{out}/table.md")
print("\n".join(lines))

# the plot: calls (log) against FD, one polyline per variant
W, H, L, R, T, B = 640, 400, 60, 150, 20, 40
xs = [p["calls"] for p in pts] or [1]
ys = [p["fd_lenet_fmnist"] for p in pts] or [1]
x0, x1 = math.log(min(xs)), math.log(max(xs)) + 1e-9
y0, y1 = 0.0, max(ys) * 1.05 + 1e-9
X = lambda c: L + (math.log(c) - x0) / (x1 - x0) * (W - L - R)
Y = lambda f: H - B - (f - y0) / (y1 - y0) * (H - T - B)
colors = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"]
svg = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="11">',
       f'<rect width="{W}" height="{H}" fill="white"/>',
       f'<line x1="{L}" y1="{H-B}" x2="{W-R}" y2="{H-B}" stroke="black"/>',
       f'<line x1="{L}" y1="{T}" x2="{L}" y2="{H-B}" stroke="black"/>',
       f'<text x="{(L+W-R)/2}" y="{H-8}" text-anchor="middle">network calls (log scale)</text>',
       f'<text x="14" y="{(T+H-B)/2}" transform="rotate(-90 14 {(T+H-B)/2})" text-anchor="middle">FD-LeNet</text>']
for c in sorted(set(xs)):
    svg.append(f'<text x="{X(c):.1f}" y="{H-B+14}" text-anchor="middle">{c}</text>')
for k in range(5):
    f = y0 + (y1 - y0) * k / 4
    svg.append(f'<text x="{L-6}" y="{Y(f)+4:.1f}" text-anchor="end">{f:.0f}</text>')
    svg.append(f'<line x1="{L}" y1="{Y(f):.1f}" x2="{W-R}" y2="{Y(f):.1f}" stroke="#ddd"/>')
for i, v in enumerate(variants):
    ps = sorted((p for p in pts if p["variant"] == v), key=lambda p: p["calls"])
    col = colors[i % len(colors)]
    path = " ".join(f"{X(p['calls']):.1f},{Y(p['fd_lenet_fmnist']):.1f}" for p in ps)
    svg.append(f'<polyline points="{path}" fill="none" stroke="{col}" stroke-width="2"/>')
    for p in ps:
        svg.append(f'<circle cx="{X(p["calls"]):.1f}" cy="{Y(p["fd_lenet_fmnist"]):.1f}" r="3" fill="{col}"/>')
    svg.append(f'<line x1="{W-R+10}" y1="{T+14*i+6}" x2="{W-R+30}" y2="{T+14*i+6}" stroke="{col}" stroke-width="2"/>')
    svg.append(f'<text x="{W-R+34}" y="{T+14*i+10}">{v}</text>')
svg.append("</svg>")
with open(f"{out}/fd_vs_calls.svg.tmp", "w") as f:
    f.write("\n".join(svg) + "\n")
os.replace(f"{out}/fd_vs_calls.svg.tmp", f"{out}/fd_vs_calls.svg")
print(f"wrote {out}/table.md and {out}/fd_vs_calls.svg")
EOF
