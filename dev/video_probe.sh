#!/usr/bin/env bash
# dev/video_probe.sh -- issue 20's quick probes: short video runs that each change one thing of
# the video preset (configs/video.conf), trained for the SAME NUMBER OF STEPS on the one-item
# task (mmnist,items=1,speed=1-3) or the static copy probe (mmnist,speed=0), then scored by
# `rin eval` on held-out clips with one sample per clip (not best of K), DDPM, against
# copy-last and all-black, with the centre-of-mass error and the conditioning check.
#
#   dev/video_probe.sh [OUT]                     # all arms, into OUT (default runs/vprobe)
#   ARMS="tokens channels" dev/video_probe.sh    # some arms
#   STEPS=1500 EVAL_N=200 EVAL_STEPS=100 THREADS=2 dev/video_probe.sh
#
# Resumable: an arm with OUT/ARM.csv is done and skipped; a stopped run continues with
# `rin train --resume`. Every arm is scored on the same 11 predicted frames: a short-block arm
# rolls out (`rin eval --frames 11`). OUT/table.md is rewritten after every arm. Time at the
# defaults on two idle AVX-512 cores: about 5-7 minutes of training and 1 of evaluation per arm
# (the short-block arms train faster).
set -euo pipefail
cd "$(dirname "$0")/.."

OUT=${1:-runs/vprobe}
STEPS=${STEPS:-1500}
EVAL_N=${EVAL_N:-200}
EVAL_STEPS=${EVAL_STEPS:-100}
THREADS=${THREADS:-2}
RIN=${RIN:-build/rin}
ONE="mmnist,items=1,speed=1-3"
STATIC="mmnist,speed=0"
TWO="mmnist"
ALL_ARMS="tokens channels channels_tg channels_df channels_x0 channels_eps short2 short1 short2_x0 short1_x0 static_tokens static_channels static_channels_x0 two_tokens two_channels_x0 short1_halo4 short1_halo8 short2_halo8 short1_halo8_deep short1_halo8_e256 short1_p4_halo4"
ARMS=${ARMS:-$ALL_ARMS}

# arm -> "data|what changes|--set overrides"
arm_spec() {
    local ch="video_cond=channels video_cond_frames=2"
    case "$1" in
    tokens) echo "$ONE|the spec's conditioning tokens (the preset)|" ;;
    channels) echo "$ONE|channels, k = 2|$ch" ;;
    channels_tg) echo "$ONE|channels, k = 2, token_gamma|$ch token_gamma=1" ;;
    channels_df) echo "$ONE|channels, k = 2, token_gamma, frame_noise = independent|$ch token_gamma=1 frame_noise=independent" ;;
    channels_x0) echo "$ONE|channels, k = 2, x0 target|$ch pred_type=x0" ;;
    channels_eps) echo "$ONE|channels, k = 2, eps target|$ch pred_type=eps" ;;
    short2) echo "$ONE|short blocks: 2 frames from the last 2 (channels), rolled out|seq_len=4 cond_frames=2 $ch" ;;
    short1) echo "$ONE|short blocks: 1 frame from the last 2 (channels), rolled out|seq_len=3 cond_frames=2 $ch" ;;
    short2_x0) echo "$ONE|short blocks: 2 frames from the last 2 (channels, x0 target), rolled out|seq_len=4 cond_frames=2 $ch pred_type=x0" ;;
    short1_x0) echo "$ONE|short blocks: 1 frame from the last 2 (channels, x0 target), rolled out|seq_len=3 cond_frames=2 $ch pred_type=x0" ;;
    short1_halo4) echo "$ONE|short blocks: 1 frame from 2, channels with a 4-pixel halo, x0, rolled out|seq_len=3 cond_frames=2 $ch pred_type=x0 video_cond_halo=4" ;;
    short1_halo8) echo "$ONE|short blocks: 1 frame from 2, channels with an 8-pixel halo, x0, rolled out|seq_len=3 cond_frames=2 $ch pred_type=x0 video_cond_halo=8" ;;
    short2_halo8) echo "$ONE|short blocks: 2 frames from 2, channels with an 8-pixel halo, x0, rolled out|seq_len=4 cond_frames=2 $ch pred_type=x0 video_cond_halo=8" ;;
    short1_halo8_deep) echo "$ONE|short1_halo8 with 3 blocks and a 4x write MLP (more per-token depth)|seq_len=3 cond_frames=2 $ch pred_type=x0 video_cond_halo=8 num_layers=2,2,2 tape_mlp_ratio=4" ;;
    short1_halo8_e256) echo "$ONE|short1_halo8 with tape_dim 256 (a wider token for the window)|seq_len=3 cond_frames=2 $ch pred_type=x0 video_cond_halo=8 tape_dim=256" ;;
    short1_p4_halo4) echo "$ONE|short blocks: 1 frame from 2, 4x4 patches with a 4-pixel halo, x0, rolled out|seq_len=3 cond_frames=2 $ch pred_type=x0 video_cond_halo=4 patch_size=4" ;;
    static_tokens) echo "$STATIC|static copy probe, tokens|" ;;
    static_channels) echo "$STATIC|static copy probe, channels, k = 2|$ch" ;;
    static_channels_x0) echo "$STATIC|static copy probe, channels, k = 2, x0 target|$ch pred_type=x0" ;;
    two_tokens) echo "$TWO|two items (issue 6's task), the spec's tokens|" ;;
    two_channels_x0) echo "$TWO|two items (issue 6's task), channels, k = 2, x0 target|$ch pred_type=x0" ;;
    *)
        echo "dev/video_probe.sh: unknown arm '$1' (arms: $ALL_ARMS)" >&2
        exit 2
        ;;
    esac
}

# column NAME of the CSV row of predicted frame number F (1-based among the predicted)
csv_col() {
    awk -F, -v name="$2" -v row="$3" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == name) c = i }
        NR == row + 1 { print $c }' "$1"
}

# mean of column NAME over the predicted frames
csv_mean() {
    awk -F, -v name="$2" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == name) c = i; next }
        { s += $c; n++ } END { printf "%.4f", s / n }' "$1"
}

# the smallest margin of the model's SSIM over the better baseline, across the horizons
csv_margin() {
    awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
        { b = $col["copy_ssim"] > $col["black_ssim"] ? $col["copy_ssim"] : $col["black_ssim"];
          m = $col["one_ssim"] - b; if (NR == 2 || m < min) min = m }
        END { printf "%+.4f", min }' "$1"
}

write_table() {
    local arm # the caller's loop variable is also called arm
    {
        echo "One sample per clip, $EVAL_N held-out clips, DDPM $EVAL_STEPS steps, EMA weights,"
        echo "after $STEPS steps of batch 16; SSIM mean over the 11 predicted frames, its worst"
        echo "margin over max(copy-last, all-black) across the horizons, the centre-of-mass error"
        echo "in pixels at t+1 and t+3 (copy-last's beside it), and the conditioning check (mean"
        echo "MSE with the clip's own conditioning frames vs the next clip's)."
        echo
        echo "| arm | data | SSIM | copy | black | worst margin | CoM t+1 (copy) | CoM t+3 (copy) | MSE own / other |"
        echo "|---|---|---|---|---|---|---|---|---|"
        for arm in $ALL_ARMS; do
            local csv="$OUT/$arm.csv" log="$OUT/$arm.eval.log"
            [ -f "$csv" ] || continue
            local spec data what
            spec=$(arm_spec "$arm")
            data=${spec%%|*}
            what=${spec#*|}
            what=${what%%|*}
            local chk
            chk=$(sed -n 's/.*scores \([0-9.]*\) .* vs \([0-9.]*\) .*/\2 \/ \1/p' "$log")
            printf '| %s | `%s` | %s | %s | %s | %s | %.2f (%.2f) | %.2f (%.2f) | %s |\n' \
                "$what" "$data" "$(csv_mean "$csv" one_ssim)" "$(csv_mean "$csv" copy_ssim)" \
                "$(csv_mean "$csv" black_ssim)" "$(csv_margin "$csv")" \
                "$(csv_col "$csv" one_com 1)" "$(csv_col "$csv" copy_com 1)" \
                "$(csv_col "$csv" one_com 3)" "$(csv_col "$csv" copy_com 3)" "$chk"
        done
    } >"$OUT/table.md.tmp"
    mv "$OUT/table.md.tmp" "$OUT/table.md"
}

mkdir -p "$OUT"
for arm in $ARMS; do
    spec=$(arm_spec "$arm")
    data=${spec%%|*}
    sets=${spec##*|}
    [ -f "$OUT/$arm.csv" ] && continue
    run="$OUT/$arm"
    args=()
    for kv in $sets; do args+=(--set "$kv"); done
    if [ -f "$run/checkpoint.safetensors" ]; then
        OMP_NUM_THREADS=$THREADS "$RIN" train --resume "$run" --set total_steps="$STEPS" \
            >"$OUT/$arm.train.log" 2>&1
    else
        OMP_NUM_THREADS=$THREADS "$RIN" train --run "$run" --preset video \
            --config configs/video.conf --data "$data" --set total_steps="$STEPS" \
            --set warmup_steps="$((STEPS / 15 < 100 ? STEPS / 15 : 100))" --set time_limit=0 --set sample_every=0 "${args[@]}" \
            >"$OUT/$arm.train.log" 2>&1
    fi
    OMP_NUM_THREADS=$THREADS "$RIN" eval --model "$run/model.safetensors" \
        --data "$data:fmnist:test" --n "$EVAL_N" --k 1 --sampler ddpm --steps "$EVAL_STEPS" --frames 11 \
        --csv "$OUT/$arm.csv.tmp" >"$OUT/$arm.eval.log" 2>&1
    mv "$OUT/$arm.csv.tmp" "$OUT/$arm.csv"
    write_table
    echo "dev/video_probe.sh: $arm done"
done
write_table
cat "$OUT/table.md"
