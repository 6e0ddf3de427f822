#!/usr/bin/env bash
# Set-up, build, and the main job on its embedded default (stand-in weights and input).
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup/install_deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release ${EEGPT_CMAKE_ARGS:-} >/dev/null
cmake --build build -j"$(nproc)" --target eegpt
./build/eegpt "$@"
