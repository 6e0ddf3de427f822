#!/usr/bin/env bash
# Fills the ignored .deps/ with what the GPU machine lacks (docs/gpu.md), taken from this
# machine's Debian packages, so that the device check builds there without a package manager:
#   .deps/include/CLI/       CLI11 headers (libcli11-dev, header-only)
#   .deps/include/edflib.h   EDFlib's header       (libedf-dev)
#   .deps/lib/libedf.a       EDFlib, static, PIC   (libedf-dev; no shared library to carry along)
#   .deps/include/fftw3.h    FFTW3's header        (libfftw3-dev)
#   .deps/lib/libfftw3.a     FFTW3, static, PIC    (libfftw3-dev; linked statically, see CMakeLists.txt)
#   .deps/catch2-3.4.0/      Catch2 3.4.0 built from third_party/ (for builds here only:
#                            the GPU machine has its own 3.4.0 installed)
#   .deps/cmake-4.4/         cmake 4.4 from PyPI in a venv (for the dry run here: the GPU machine's
#                            cmake; Debian 12 has 3.25)
# CMake looks in .deps/ first (CMakeLists.txt, EEGPT_DEPS_DIR). Carry `.deps` to the GPU machine.
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
deps=$src/.deps
bash "$src/tools/setup/install_deps.sh"
multiarch=$(gcc -print-multiarch)
mkdir -p "$deps/include" "$deps/lib"
rm -rf "$deps/include/CLI"
cp -r /usr/include/CLI "$deps/include/CLI"
cp /usr/include/edflib.h "$deps/include/edflib.h"
cp "/usr/lib/$multiarch/libedf.a" "$deps/lib/libedf.a"
cp /usr/include/fftw3.h "$deps/include/fftw3.h"
cp "/usr/lib/$multiarch/libfftw3.a" "$deps/lib/libfftw3.a"
bash "$src/tools/setup/build_catch2_v3.sh" "$deps/catch2-3.4.0" >/dev/null
if ! "$deps/cmake-4.4/bin/cmake" --version 2>/dev/null | grep -q "version 4\.4"; then
    rm -rf "$deps/cmake-4.4"
    python3 -m venv "$deps/cmake-4.4"
    "$deps/cmake-4.4/bin/pip" install -q --disable-pip-version-check "cmake==4.4.*"
fi
echo "fill_deps: $deps: CLI11 $(sed -n 's/^#define CLI11_VERSION "\(.*\)"/\1/p' "$deps/include/CLI/Version.hpp"), EDFlib, FFTW3, Catch2 3.4.0, $("$deps/cmake-4.4/bin/cmake" --version | head -1)"
