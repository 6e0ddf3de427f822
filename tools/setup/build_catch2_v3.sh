#!/usr/bin/env bash
# Builds Catch2 3.4.0 (the GPU machine's version) from third_party/catch2-3.4.0.tar.gz and
# installs it into a build-local prefix, so the tests and the bench are compiled against v3 on every
# change, not first on a GPU. Usage: tools/setup/build_catch2_v3.sh [PREFIX]  (default .deps/catch2-3.4.0).
# Prints the prefix; configure the project with -DCMAKE_PREFIX_PATH=PREFIX. Reuses an existing install.
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
prefix=${1:-$src/.deps/catch2-3.4.0}
tarball=${EEGPT_CATCH2_TARBALL:-$src/third_party/catch2-3.4.0.tar.gz}
if [ -f "$prefix/lib/cmake/Catch2/Catch2ConfigVersion.cmake" ] &&
   grep -q '"3.4.0"' "$prefix/lib/cmake/Catch2/Catch2ConfigVersion.cmake"; then
    echo "$prefix"
    exit 0
fi
[ -f "$tarball" ] || { echo "build_catch2_v3: $tarball not found (third_party/)" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
tar -xzf "$tarball" -C "$work"
top=$(find "$work" -mindepth 1 -maxdepth 1 -type d | head -1)
cmake -S "$top" -B "$work/b" -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF -DCATCH_INSTALL_DOCS=OFF \
      -DCATCH_INSTALL_EXTRAS=ON -DCMAKE_POSITION_INDEPENDENT_CODE=ON >&2
cmake --build "$work/b" -j"$(nproc)" >&2
cmake --install "$work/b" --prefix "$prefix" >&2
echo "$prefix"
