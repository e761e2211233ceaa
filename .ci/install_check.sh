#!/usr/bin/env bash
# CI: rin as an installed library (docs/library.md). `make install` into a temporary prefix;
# the C example built with pkg-config against the shared library, then statically; both run on
# the shipped model and must write a PNG; the Python example (ctypes, no build step) must return
# images; the exported symbols of librin.so must be abi/librin.symbols exactly (a change to the
# public API shows up here and is committed on purpose); the soname and the man page are checked.
set -euo pipefail
cd "$(dirname "$0")/.."
prefix=$(mktemp -d /tmp/rin_prefix_XXXXXX)
trap 'rm -rf "$prefix"' EXIT
make -j2 BUILD=build-install WERROR=1 PREFIX="$prefix" install
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig" OMP_WAIT_POLICY=passive

echo "-- exported symbols against abi/librin.symbols"
nm -D --defined-only "$prefix/lib/librin.so" | awk '{print $3}' | LC_ALL=C sort >"$prefix/symbols"
diff -u abi/librin.symbols "$prefix/symbols"
soname=$(readelf -d "$prefix/lib/librin.so" | sed -n 's/.*SONAME.*\[\(.*\)\]/\1/p')
[ "$soname" = librin.so.0 ] || { echo "soname '$soname', expected librin.so.0"; exit 1; }

echo "-- examples/sample_png.c against the shared library (pkg-config rin)"
cc -std=c11 -Wall -Wextra -Werror examples/sample_png.c $(pkg-config --cflags --libs rin) -lm \
    -o "$prefix/sample_png"
LD_LIBRARY_PATH="$prefix/lib" ldd "$prefix/sample_png" | grep -q "$prefix/lib/librin.so.0"
LD_LIBRARY_PATH="$prefix/lib" "$prefix/sample_png" models/fmnist.safetensors "$prefix/a.png" 10 2>/dev/null
"$prefix/bin/rin" info "$prefix/a.png" | grep -q "PNG 280 x 28 "

echo "-- the same, linked statically (pkg-config --static)"
cc -std=c11 -Wall -Wextra -Werror examples/sample_png.c -I"$prefix/include" "$prefix/lib/librin.a" \
    $(pkg-config --static --libs rin | sed 's/ -lrin / /') -lm \
    -o "$prefix/sample_png_static"
if ldd "$prefix/sample_png_static" | grep -q librin; then echo "static build links librin.so"; exit 1; fi
"$prefix/sample_png_static" models/fmnist.safetensors "$prefix/b.png" 10 2>/dev/null
cmp "$prefix/a.png" "$prefix/b.png"

echo "-- examples/sample.py through ctypes"
LD_LIBRARY_PATH="$prefix/lib" /usr/bin/python3 examples/sample.py models/fmnist.safetensors --n 4 \
    | tee "$prefix/py.txt"
grep -q "4 images (28, 28, 1) float32" "$prefix/py.txt"

echo "-- man page"
[ -s "$prefix/share/man/man1/rin.1" ]
if command -v man >/dev/null; then MANWIDTH=80 man -l "$prefix/share/man/man1/rin.1" | grep -q "rin sample"; fi
echo "install check passed"
