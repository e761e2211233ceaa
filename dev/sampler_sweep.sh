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
# up to 2T - 1 calls for T steps, so it gets T = (calls + 1)/2 and its row shows the calls it
# made (rin eval reports them).
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
            --latent-carry "$carry" --steps "$steps" --seed 0 --json "$OUT/$tag.tmp" $EXTRA |
            tee "$OUT/$tag.log"
        t1=$(date +%s)
        # the calls rin made, as its report says ("ddpm 10 steps on the t spacing (10 calls)")
        ncalls=$(sed -n 's/.*(\([0-9]*\) calls).*/\1/p' "$OUT/$tag.log" | head -n 1)
        python3 dev/json_tag.py "$OUT/$tag.tmp" "$OUT/$tag.json" "variant=$v" "steps=$steps" \
            "calls=$ncalls" "budget=$calls" "seconds=$((t1 - t0))"
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
         "calls (a cell that made fewer calls, as heun's 2T - 1, says how many); the same noise and "
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

sys.path.insert(0, "dev")
import svgplot
# each point at its budget (heun's 2T - 1 calls sit at the budget they fill), the y axis capped
# at 100 so that the samplers that matter are readable: cells above it are in the table
series = {v: [(p["budget"], p["fd_lenet_fmnist"]) for p in sorted(pts, key=lambda p: p["budget"])
              if p["variant"] == v] for v in variants}
svgplot.write(f"{out}/fd_vs_calls.svg", series, "network calls (log scale; FD above 100 not drawn)",
              "FD-LeNet", True, ymax=100, xticks=budgets)
print(f"wrote {out}/table.md and {out}/fd_vs_calls.svg")
EOF
