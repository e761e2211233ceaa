#!/bin/sh
# Installs the Debian packages that the build, the tests and `make demo` need. Idempotent: it
# only calls apt-get when something is missing. Run as root (CI and the demo do). Arguments are
# further packages (CI adds its checkers: clang-format).
set -eu
PKGS="gcc clang make libc6-dev libopenblas-dev liblapacke-dev libjansson-dev zlib1g-dev
      libstb-dev libgif-dev libomp-dev libclang-rt-dev libssl-dev dataset-fashion-mnist
      openmpi-bin libopenmpi-dev $*"
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
