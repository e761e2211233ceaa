#!/usr/bin/env bash
# dev/training_curve.sh -- FD-LeNet and ClassifierScore against images seen: scores every
# weights file of a folder (a long run's snapshots, e.g. DIR/step_0004000.safetensors, each a
# model.safetensors copied at that step) with one fixed `rin eval`, then writes DIR/curve.md and
# DIR/curve.svg. Issue 18 uses it to say whether a run still improves.
#
#   dev/training_curve.sh DIR                      # 1,000 samples, DDIM 50, EMA weights
#   N=1000 STEPS=50 SAMPLER=ddim BATCH=64 dev/training_curve.sh runs/long-snap
#
# Resumable: a snapshot with DIR/NAME.eval.json is skipped. About 4 minutes per snapshot on two
# idle cores with the patch-2 fmnist model.
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=${1:?usage: dev/training_curve.sh DIR}
N=${N:-1000}
STEPS=${STEPS:-50}
SAMPLER=${SAMPLER:-ddim}
BATCH=${BATCH:-64}
RIN=${RIN:-build/rin}
[ -x "$RIN" ] || make -j2 all
export OMP_WAIT_POLICY=passive

for f in "$DIR"/step_*.safetensors; do
    [ -e "$f" ] || continue
    j="${f%.safetensors}.eval.json"
    [ -f "$j" ] && continue
    echo "== $f"
    "$RIN" eval --fake "ckpt:$f" --fake-n "$N" --steps "$STEPS" --sampler "$SAMPLER" --json "$j.tmp"
    mv "$j.tmp" "$j"
done

python3 - "$DIR" "$BATCH" "$N" "$SAMPLER" "$STEPS" <<'PY'
import glob, json, os, re, sys
sys.path.insert(0, "dev")
import svgplot
d, batch, n, sampler, steps = sys.argv[1:]
rows = []
for j in sorted(glob.glob(f"{d}/step_*.eval.json"), key=lambda p: int(re.search(r"step_(\d+)", p).group(1))):
    step = int(re.search(r"step_(\d+)", j).group(1))
    r = json.load(open(j))
    rows.append((step, step * int(batch), r["fd_lenet_fmnist"], r["classifier_score"],
                 r.get("class_histogram", [])))
lines = [f"{int(n):,} samples, {sampler} {steps} steps, EMA weights, against fmnist:test.", "",
         "| step | images seen | FD-LeNet | ClassifierScore | predicted classes |", "|---|---|---|---|---|"]
lines += [f"| {s:,} | {i:,} | {fd:.2f} | {cs:.2f} | {' '.join(map(str, h))} |"
          for s, i, fd, cs, h in rows]
with open(f"{d}/curve.md.tmp", "w") as f:
    f.write("\n".join(lines) + "\n")
os.replace(f"{d}/curve.md.tmp", f"{d}/curve.md")
print("\n".join(lines))
svgplot.write(f"{d}/curve.svg", {"FD-LeNet": [(i, fd) for s, i, fd, cs, h in rows]},
              "images seen", "FD-LeNet (1,000 samples)")
PY
