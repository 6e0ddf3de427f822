#!/usr/bin/env bash
# Set-up, build, and every test except the benchmarks. The README's test command; CI runs it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install_deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release ${EEGPT_CMAKE_ARGS:-} >/dev/null
cmake --build build -j"$(nproc)"
ctest --test-dir build -LE benchmark --output-on-failure
