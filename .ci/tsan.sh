#!/usr/bin/env bash
# The threaded tests under ThreadSanitizer: clang, -fsanitize=thread, OpenMP from LLVM's libomp
# (libomp-dev) with its Archer tool, which tells TSan about OpenMP's barriers and task
# synchronisation, and ignore_noninstrumented_modules=1, which hides what libomp does inside
# itself (it is not built with TSan; Archer asks for this option). gcc's libgomp gives false
# positives under TSan and is not used here. BLAS=none: OpenBLAS's own threads are not
# instrumented either; the naive loops run the same OpenMP pragmas' kernels. Every test runs
# with 2 threads; any report fails the stage (halt_on_error, exit code 66).
#
# The subset: the thread-count tests (T5: model, optimizer, sampler bitwise for 1 vs 2 threads),
# every op's kernel tests, the trainer's bit-exact resume and the infer/train context
# equivalence, and `rin train` end to end (the CLI binary is the TSan build too). The whole
# suite under TSan takes over 20 minutes on 2 cores (the naive GEMMs of the feature network's
# training test dominate), so it is not run here; ASan+UBSan covers all of it in .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."
make -j2 BUILD=build-tsan CC=clang SAN=thread BLAS=none MPI=0 WERROR=1 all >/dev/null
ARCHER=$(ls /usr/lib/llvm-*/lib/libarcher.so 2>/dev/null | sort -V | tail -n 1)
[ -n "$ARCHER" ] || { echo "tsan: libarcher.so not found (install libomp-dev)"; exit 1; }
export OMP_TOOL_LIBRARIES="$ARCHER" OMP_NUM_THREADS=2 OMP_WAIT_POLICY=passive
export TSAN_OPTIONS="ignore_noninstrumented_modules=1 halt_on_error=1 exitcode=66"
export RIN_CLI=build-tsan/rin
for filter in threads ops_ train_resume_is_bit_exact model_infer_ctx_matches_train_ctx \
    sample_carries_latents cli_train_resume_sample cli_train_sigkill_trials; do
    echo "-- TSan: $filter"
    ./build-tsan/rin_tests "$filter" | tail -n 1
done
echo "TSan: no races reported"
