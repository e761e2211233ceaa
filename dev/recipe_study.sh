#!/usr/bin/env bash
# dev/recipe_study.sh -- issue 18's recipe study for Fashion-MNIST: arms that each change one
# thing of a base recipe (configs/fmnist.conf with EMA warm-up), trained on the SAME NUMBER OF
# IMAGES (not the same wall time: the machines are shared and noisy, images seen are not), every
# arm with its full lr schedule (total_steps = IMAGES / batch_size), then scored by `rin eval`
# with one fixed sampler and sample count on the EMA weights.
#
#   dev/recipe_study.sh [OUT]              # all arms, into OUT (default runs/study)
#   ARMS="base patch2" dev/recipe_study.sh # some arms
#   IMAGES=128000 EVAL_N=1000 EVAL_STEPS=50 EVAL_SAMPLER=ddim THREADS=2 dev/recipe_study.sh
#
# Resumable: an arm with OUT/ARM.json is done and skipped; an arm whose run stopped (time out,
# Ctrl-C, a killed session) continues with `rin train --resume`. OUT/table.md is rewritten after
# every arm. Time at the defaults (64,000 images, 1,000 samples of DDIM 50) with the oneDNN GEMM
# path on an AVX-512 core: about 6 minutes of training per arm and 1-3 of sampling (the first
# arms of docs/quality.md's table took hours: OpenBLAS without OPENBLAS_CORETYPE ran SSE3 code).
set -euo pipefail
cd "$(dirname "$0")/.."

OUT=${1:-runs/study}
IMAGES=${IMAGES:-64000}
WARMUP_IMAGES=${WARMUP_IMAGES:-19200} # configs/fmnist.conf's 300 steps of 64
EVAL_N=${EVAL_N:-1000}
EVAL_STEPS=${EVAL_STEPS:-50}
EVAL_SAMPLER=${EVAL_SAMPLER:-ddim}
THREADS=${THREADS:-2}
RIN=${RIN:-build/rin}
ALL_ARMS="base no_warmup patch2 sincos exclude_emb batch256 adamw dropout bf16"
ARMS=${ARMS:-$ALL_ARMS}

# arm -> "what changes|--set overrides" (batch size first when it changes: steps follow it)
arm_spec() {
    case "$1" in
    base) echo "configs/fmnist.conf + ema_warmup=1|" ;;
    no_warmup) echo "no EMA warm-up (decay 0.999 from step 0)|ema_warmup=0" ;;
    patch2) echo "patch 2 (196 tokens) instead of 4 (49)|patch_size=2" ;;
    sincos) echo "fixed sin/cos positions + learned residual|tape_pos_encoding=sin_cos_plus_learned" ;;
    exclude_emb) echo "embeddings free of decay and trust ratio|exclude_from_weight_decay=bias,beta,gamma,emb" ;;
    batch256) echo "batch 256, lr x2 (LAMB's sqrt scaling)|batch_size=256 lr=4e-3" ;;
    adamw) echo "AdamW (lr 1e-3) instead of LAMB|optimizer=adamw lr=1e-3" ;;
    dropout) echo "dropout 0.1|drop_units=0.1" ;;
    bf16) echo "bf16 matrix products (issue 21)|precision=bf16" ;;
    *) echo "unknown arm '$1' (arms: $ALL_ARMS)" >&2; return 1 ;;
    esac
}

[ -x "$RIN" ] || make -j2 all
mkdir -p "$OUT"
export OMP_NUM_THREADS=$THREADS OMP_WAIT_POLICY=passive

for arm in $ARMS; do
    spec=$(arm_spec "$arm")
    what=${spec%%|*}
    sets=(--set ema_warmup=1)
    batch=64
    for kv in ${spec#*|}; do
        sets+=(--set "$kv")
        [ "${kv%%=*}" = batch_size ] && batch=${kv#*=}
    done
    steps=$((IMAGES / batch))
    warmup=$((WARMUP_IMAGES / batch)) # the lr warm-up spans the same images in every arm
    [ $warmup -le $((steps / 2)) ] || warmup=$((steps / 2))
    run="$OUT/$arm"
    if [ -f "$OUT/$arm.json" ]; then
        echo "== $arm: done ($OUT/$arm.json)"
        continue
    fi
    echo "== $arm: $what; $steps steps of $batch images"
    t0=$(date +%s)
    if [ -f "$run/checkpoint.safetensors" ]; then
        "$RIN" train --resume "$run"
    else
        rm -rf "$run"
        "$RIN" train --run "$run" --preset fmnist --config configs/fmnist.conf "${sets[@]}" \
            --set total_steps="$steps" --set warmup_steps="$warmup" --set time_limit=0 --set sample_every="$steps" \
            --set ckpt_every=250
    fi
    t1=$(date +%s)
    "$RIN" eval --fake "ckpt:$run/checkpoint.safetensors" --fake-n "$EVAL_N" \
        --steps "$EVAL_STEPS" --sampler "$EVAL_SAMPLER" --json "$OUT/$arm.eval.tmp"
    t2=$(date +%s)
    python3 dev/json_tag.py "$OUT/$arm.eval.tmp" "$OUT/$arm.json" "arm=$arm" "what=$what" \
        "batch=$batch" "steps=$steps" "train_s=$((t1 - t0))" "eval_s=$((t2 - t1))"
    python3 - "$OUT" "$IMAGES" "$EVAL_N" "$EVAL_STEPS" "$EVAL_SAMPLER" $ALL_ARMS <<'EOF'
import json, os, sys
out, images, n, steps, sampler, *arms = sys.argv[1:]
rows = [json.load(open(f"{out}/{a}.json")) for a in arms if os.path.exists(f"{out}/{a}.json")]
lines = [f"Equal images seen: {int(images):,} per arm; rin eval on the EMA weights, {int(n):,} "
         f"samples, {sampler} {steps} steps, classes uniform, against fmnist:test.", "",
         "| arm | change from base | batch × steps | FD-LeNet | KID ×10³ | ClassifierScore | train s |",
         "|---|---|---|---|---|---|---|"]
for r in rows:
    lines.append(f"| {r['arm']} | {r['what']} | {r['batch']} × {r['steps']} | "
                 f"{r['fd_lenet_fmnist']:.2f} | {1e3 * r['kid']:.0f} | {r['classifier_score']:.2f} | "
                 f"{r['train_s']} |")
with open(f"{out}/table.md.tmp", "w") as f:
    f.write("\n".join(lines) + "\n")
os.replace(f"{out}/table.md.tmp", f"{out}/table.md")
print("\n".join(lines))
EOF
done
