#!/usr/bin/env bash
# Builds the libFuzzer harnesses of fuzz/ (clang, ASan+UBSan) and runs each for FUZZ_SECONDS
# (default 25) over a scratch copy of its committed seed corpus fuzz/corpus/<name>/, so the
# committed seeds never change. Any crash, leak, sanitizer report or timeout fails the stage;
# the reproducer is left in $FUZZ_OUT (default build-fuzz/findings/<name>/) and should become a
# regression test. Prints one line per harness: executions, exec/s, coverage, corpus size.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_EACH=${FUZZ_SECONDS:-25}
OUT=${FUZZ_OUT:-build-fuzz/findings}
make -j2 BUILD=build-fuzz CC=clang OMP=0 BLAS=none MPI=0 SAN=fuzzer-no-link,address,undefined \
    WERROR=1 fuzz >/dev/null
# scratch files on tmpfs when there is one: several times more executions per second
[ -z "${TMPDIR:-}" ] && [ -d /dev/shm ] && [ -w /dev/shm ] && export TMPDIR=/dev/shm
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
status=0
summary=""
for src in fuzz/fuzz_*.c; do
    name=$(basename "$src" .c)
    corpus=${name#fuzz_}
    work=$(mktemp -d -p "${TMPDIR:-/tmp}")
    mkdir -p "$OUT/$corpus"
    dict=()
    [ -f "fuzz/$corpus.dict" ] && dict=(-dict="fuzz/$corpus.dict")
    log="$OUT/$corpus/log.txt"
    if ./build-fuzz/"$name" -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=2048 \
        -max_len=16384 -print_final_stats=1 -artifact_prefix="$OUT/$corpus/" "${dict[@]}" \
        "$work" "fuzz/corpus/$corpus" >"$log" 2>&1; then
        verdict=ok
    else
        verdict=FAILED
        status=1
        tail -n 40 "$log"
    fi
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
    corp=$(ls "$work" | wc -l)
    line=$(printf '%-12s %s: %s executions in %ss (%s/s), coverage %s edges, %s new corpus inputs' \
        "$corpus" "$verdict" "${execs:-?}" "$SECONDS_EACH" "${rate:-?}" "${cov:-?}" "$corp")
    echo "$line"
    summary="$summary$line"$'\n'
    rm -rf "$work"
done
printf '%s' "$summary" >"$OUT/summary.txt"
exit $status
