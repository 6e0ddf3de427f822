#!/usr/bin/env bash
# Set-up, build, and every test except the benchmarks. The README's test command; CI runs it.
#  1. the Debian 12 build (Catch2 2.13, CUDA module where nvcc is, the CUDA emulation) and all its
#     tests through CTest;
#  1b. the fuzz targets (clang, ASan + UBSan) built and replaying their committed corpora;
#  2. the CPU engine built without CUDA, and the encoder library built alone, with their tests;
#  3. the GPU machine's build in a dry run (tools/device_check.sh --dry-run): Catch2 3.4.0, cmake 4.4,
#     CLI11 and EDFlib from .deps/ only, every target (CUDA for sm_90), the CPU tests on that build.
#     Before it, on a machine without a GPU, the real device check must refuse with one clear line.
#  4. the Python package (`pip install .` offline into a venv over Debian's numpy and h5py) and its pytest tests.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup/install_deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DEEGPT_CUDA_EMULATION=ON ${EEGPT_CMAKE_ARGS:-} | grep "^-- eegpt: optional"
cmake --build build -j"$(nproc)"
ctest --test-dir build -LE benchmark --output-on-failure

echo "== the fuzz targets replay their corpora (test/fuzz/README.md): every input an error or an answer, no sanitizer report"
cmake -S test/fuzz -B build-fuzz -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo > /dev/null
cmake --build build-fuzz -j"$(nproc)"
for target in edf_reader:corpus list_file:corpus_list head_file:corpus_head; do
    (cd build-fuzz && "./fuzz_${target%%:*}" -runs=0 -timeout=10 "../test/fuzz/${target##*:}" 2>&1 | tail -1)
done

echo "== the CPU engine without CUDA (-DEEGPT_WITH_CUDA=OFF), and the encoder library alone"
cmake -S . -B build-cpu -DCMAKE_BUILD_TYPE=Release -DEEGPT_WITH_CUDA=OFF -DEEGPT_BUILD_BENCH=OFF | grep "^-- eegpt: optional"
cmake --build build-cpu -j"$(nproc)"
ctest --test-dir build-cpu -L "unit|install" --output-on-failure
cmake -S . -B build-encoder -DCMAKE_BUILD_TYPE=Release -DEEGPT_WITH_CUDA=OFF -DEEGPT_BUILD_RECORDINGS=OFF \
      -DEEGPT_BUILD_BENCH=OFF | grep "^-- eegpt: optional"
cmake --build build-encoder -j"$(nproc)"
ctest --test-dir build-encoder --output-on-failure

echo "== the GPU machine's build, dry run (tools/device_check.sh --dry-run)"
bash tools/setup/fill_deps.sh
out=build-device/out
log=build-device/no_gpu_check.log
mkdir -p build-device
if ! nvidia-smi -L 2>/dev/null | grep -q GPU; then
    if bash tools/device_check.sh "$out" > "$log" 2>&1; then
        echo "test.sh: tools/device_check.sh passed on a machine without a GPU" >&2
        exit 1
    fi
    grep -q "missing: a GPU" "$log" || { cat "$log" >&2; exit 1; }
    echo "device check without a GPU: refused as it should ($(grep -c missing: "$log") missing pieces named)"
fi
EEGPT_DEVICE_BUILD_DIR=$PWD/build-device/build bash tools/device_check.sh --dry-run "$out"

echo "== the Python package: pip install . into a venv over Debian's numpy (tools/setup/make_venv.sh), its tests"
bash tools/setup/make_venv.sh .venv package
# Offline and without build isolation: the venv has the pinned build backend. CPU only (the CUDA
# module is opt-in: EEGPT_PYTHON_CUDA). test_install.py repeats this in fresh venvs, and a wheel.
CMAKE_BUILD_PARALLEL_LEVEL="$(nproc)" .venv/bin/python -m pip install -q --no-build-isolation --no-index .
EEGPT_BIN="$PWD/build/eegpt" OMP_NUM_THREADS=2 .venv/bin/python -m pytest -q -p no:cacheprovider test/python/package
