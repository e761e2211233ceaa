#!/bin/sh
# Installs the Debian packages that the build (gcc), the tests and `make demo` need: the
# libraries of the Makefile's LDLIBS, oneDNN (the dnnl GEMM path, docs/performance.md), the
# Fashion-MNIST data the tests and the demo read, and OpenMPI (the MPI build and the tests'
# mpirun). Idempotent: it only calls apt-get when something
# is missing. Run as root (CI and the demo do), or with sudo. Arguments are further packages:
# `make CC=clang test` adds clang and LLVM's OpenMP (and the sanitizer runtimes with SAN=...),
# .ci/run its checkers (clang-format) and the clang, fuzzing and TSan runtimes.
set -eu
PKGS="make gcc libc6-dev libopenblas-dev liblapacke-dev libdnnl-dev libjansson-dev zlib1g-dev
      libstb-dev libgif-dev libssl-dev dataset-fashion-mnist openmpi-bin libopenmpi-dev $*"
if ! command -v dpkg-query >/dev/null 2>&1; then
    echo "install-deps: not a Debian system; install the equivalents of: $PKGS" | tr -s ' \n' ' '
    echo
    exit 0
fi
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
    echo "installing:$missing"
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing
fi
