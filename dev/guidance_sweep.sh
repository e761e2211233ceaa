#!/usr/bin/env bash
# dev/guidance_sweep.sh -- issue 18's classifier-free guidance sweep: FD-LeNet and
# ClassifierScore per guidance weight w on one model (trained with cond_dropout > 0, so the
# unconditional branch means something), then the class sheet (10 classes x 10 samples) at the
# w with the lowest FD. Writes OUT/table.md, OUT/w_W.json and OUT/sheet.png.
#
#   MODEL=runs/fmnist-long/model.safetensors dev/guidance_sweep.sh [OUT]   # default runs/guidance
#   WS="0 0.5 1 2 4" N=1000 STEPS=50 SAMPLER=ddim dev/guidance_sweep.sh
#
# Resumable (a w with OUT/w_W.json is done). Each w costs two network calls per step.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-runs/guidance}
MODEL=${MODEL:-models/fmnist.safetensors}
WS=${WS:-0 0.5 1 2 4}
N=${N:-1000}
STEPS=${STEPS:-50}
SAMPLER=${SAMPLER:-ddim}
RIN=${RIN:-build/rin}
EXTRA=${EXTRA:-} # more rin eval options, e.g. "--kid-size 100" for a quick check
[ -x "$RIN" ] || make -j2 all
mkdir -p "$OUT"
export OMP_WAIT_POLICY=passive
for w in $WS; do
    [ -f "$OUT/w_$w.json" ] && continue
    echo "== guidance $w"
    "$RIN" eval --fake "ckpt:$MODEL" --fake-n "$N" --steps "$STEPS" --sampler "$SAMPLER" \
        --guidance "$w" --json "$OUT/w_$w.tmp" $EXTRA
    mv "$OUT/w_$w.tmp" "$OUT/w_$w.json"
done
best=$(python3 - "$OUT" "$MODEL" "$N" "$SAMPLER" "$STEPS" $WS <<'PY'
import json, os, sys
out, model, n, sampler, steps, *ws = sys.argv[1:]
rows = [(w, json.load(open(f"{out}/w_{w}.json"))) for w in ws]
lines = [f"{int(n):,} samples of {model}, {sampler} {steps} steps, classes uniform, against "
         "fmnist:test.", "",
         "| guidance w | FD-LeNet | ClassifierScore | predicted classes (T-shirt ... ankle boot) |",
         "|---|---|---|---|"]
lines += [f"| {w} | {r['fd_lenet_fmnist']:.2f} | {r['classifier_score']:.2f} | "
          f"{' '.join(map(str, r['class_histogram']))} |" for w, r in rows]
with open(f"{out}/table.md.tmp", "w") as f:
    f.write("\n".join(lines) + "\n")
os.replace(f"{out}/table.md.tmp", f"{out}/table.md")
print("\n".join(lines), file=sys.stderr)
print(min(rows, key=lambda wr: wr[1]["fd_lenet_fmnist"])[0])
PY
)
echo "lowest FD at w = $best: the class sheet"
"$RIN" sample --model "$MODEL" --n 100 --cols 10 --guidance "$best" --steps "$STEPS" \
    --sampler "$SAMPLER" --grid "$OUT/sheet.png"
