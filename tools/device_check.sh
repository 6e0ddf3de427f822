#!/usr/bin/env bash
# The CUDA check on a GPU machine, and its dry run on a machine without one.
#
#   tools/device_check.sh OUTDIR             on the GPU machine (docs/gpu.md)
#   tools/device_check.sh --dry-run OUTDIR   here and in CI: everything that needs no GPU
#
# A fresh build (Catch2 v3, CUDA for sm_90), then on the GPU: the CUDA tests (parity with the CPU
# path, the eegpt binary with --device cuda), compute-sanitizer memcheck and racecheck on the kernel
# tests and one encoder call, the bench's [gpu] cases and PyTorch on the same GPU, eager and
# torch.compile (tools/bench/peer_bench_gpu.py: the GPU table's rows, attention through
# scaled_dot_product_attention as the official model computes it); then the GPU machine's own CPU
# (16 cores: its model and flags in cpu_info.log): the AVX-512 GEMM and AVX512_BF16 kernels against
# their emulations and the cpu avx512 parity rows (both beside the CUDA tests: correctness only),
# and, alone at the end, bench_eegpt's CPU cases with 16 threads (fp32, bf16, PyTorch on the CPU in
# the same run) and the thread scaling at batch 1 and 32.
#
# Order and budget: one call of the device tool has 15 minutes of device time in all, start-up
# included, so the script stops starting steps when its budget (EEGPT_DEVICE_BUDGET_S, default 540 s
# on a GPU machine) is spent, in the order of what matters most: the build, correctness of the
# backend, our speed, the peers, the CPU's speed. A step that could not start says so in its log and
# in results.json. EEGPT_DEVICE_STEPS=name,name runs only those steps (the build always), for a rerun
# of what failed or was cut. The parity table
# (test_eegpt "[parity]", every row) includes windows of any length: T = 537 and 512 at patch
# stride 32, 2000 and 7680 at 64 (the samples past the last whole patch ignored, and shown to be);
# memcheck's kernel tests include the patch embedding on such windows (no read past the last patch).
# One log per step and results.json (each step: name, status, exit code, seconds, budget) go to
# OUTDIR; each step prints one line with its time against its budget. Exits non-zero when a step
# that ran failed, or when a GPU step could not run on a GPU machine.
#
# What the GPU machine lacks comes from .deps/ (tools/setup/fill_deps.sh here, then carry .deps/include
# and .deps/lib): CLI11's headers and EDFlib. The dry run stands in for that machine: CLI11 and
# EDFlib from .deps/ only (the system's copies ignored), Catch2 3.4.0 built from
# third_party/, cmake 4.4 from PyPI, a fresh build of every target, the CPU tests on that
# build; the GPU steps are listed as not run, with the reason.
#
# compute-sanitizer options, and why:
#   --error-exitcode 1        a finding fails the step.
#   --report-api-errors no    cuBLASLt and the runtime probe the driver and handle the errors they
#                             get; reported, those would be findings that are not ours. Every API
#                             status of ours is checked in code and becomes an exception, so an API
#                             error of ours still fails the test that made it.
#   racecheck on the kernel tests (every kernel of ours, fp32 and bf16 outputs; they launch no
#                             other kernel), and on one fp32 encoder call filtered to our kernels
#                             (--kernel-name kns=eegpt: the mangled names of namespace
#                             eegpt::kernels). Measured on an H200 (CUDA 13.0, driver 580.159):
#                             unfiltered, racecheck reports hazards inside cuBLASLt's nvjet_sm90
#                             GEMM kernels (bf16 call), which are not ours to judge or fix; filtered,
#                             the bf16 and tf32 calls end in "Internal Sanitizer Error: failed to
#                             handle a hardware exception" although the same calls pass memcheck and
#                             plain runs; the fp32 call reports nothing. The bf16 and tf32 modes run
#                             the same kernels of ours as the kernel tests.
#   memcheck on the kernel, GEMM and one-call tests (all three precisions), every kernel checked,
#                             cuBLASLt's included: a wrong descriptor or pointer of ours shows there.
#   no leak check             device memory is owned by RAII objects (engine/encoder/cuda/cuda_util.h);
#                             leaks are not what this check is for.
set -uo pipefail

dry_run=0
if [ "${1:-}" = "--dry-run" ]; then
    dry_run=1
    shift
fi
out=${1:?usage: tools/device_check.sh [--dry-run] OUTDIR}
mkdir -p "$out" && out=$(cd "$out" && pwd)
src=$(cd "$(dirname "$0")/.." && pwd)
build=${EEGPT_DEVICE_BUILD_DIR:-/tmp/eegpt-device-build}
jobs=${EEGPT_DEVICE_JOBS:-$(nproc)}
budget=${EEGPT_DEVICE_BUDGET_S:-$([ "$dry_run" -eq 1 ] && echo 3600 || echo 540)}
only=${EEGPT_DEVICE_STEPS:-}
deadline=$(($(date +%s) + budget))
rm -rf "$out/steps" "$out"/*.log "$out/results.json"  # a failure marker of an earlier run must not count
mkdir -p "$out/steps"

json_step() {  # NAME STATUS EXIT_CODE SECONDS BUDGET REASON
    printf '{"name": "%s", "status": "%s", "exit_code": %s, "seconds": %s, "budget_s": %s, "reason": "%s"}\n' \
        "$1" "$2" "$3" "$4" "$5" "$6" > "$out/steps/$(date +%s%N)_$1.json"
}

not_run() {  # NAME REASON
    echo "not run: $2" > "$out/$1.log"
    json_step "$1" not_run -1 0 0 "$2"
    printf 'device_check: %-14s not run: %s\n' "$1" "$2"
}

# step NAME BUDGET_S COMMAND...: runs COMMAND with its output in OUTDIR/NAME.log, cut at its budget
# or at the overall deadline, whichever comes first.
step() {
    local name=$1 limit=$2 rc start end seconds status
    shift 2
    case "$name" in
        gpu_info | cpu_info | configure | build) ;;
        *)
            if [ -n "$only" ] && [[ ",$only," != *",$name,"* ]]; then
                not_run "$name" "not selected (EEGPT_DEVICE_STEPS=$only)"
                return 0
            fi
            ;;
    esac
    local left=$((deadline - $(date +%s)))
    if [ "$left" -lt 10 ]; then
        not_run "$name" "the ${budget}-second budget is spent"
        echo failed > "$out/steps/.failed"
        return 1
    fi
    [ "$limit" -gt "$left" ] && limit=$left
    start=$(date +%s.%N)
    timeout --kill-after=10 "$limit" "$@" > "$out/$name.log" 2>&1
    rc=$?
    end=$(date +%s.%N)
    seconds=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.1f", b - a }')
    [ "$rc" -eq 124 ] && echo "cut after ${limit}s" >> "$out/$name.log"
    status=passed
    [ "$rc" -ne 0 ] && status=failed && echo failed > "$out/steps/.failed"
    json_step "$name" "$status" "$rc" "$seconds" "$limit" ""
    printf 'device_check: %-14s %-6s exit %3d in %6.1fs of %4ds\n' "$name" "$status" "$rc" "$seconds" "$limit"
    return "$rc"
}

finish() {
    local steps failed=false
    steps=$(cat "$out"/steps/*.json 2>/dev/null | paste -sd, -)
    [ -f "$out/steps/.failed" ] && failed=true
    printf '{"source": "%s", "build_dir": "%s", "dry_run": %s, "failed": %s, "steps": [%s]}\n' \
        "$src" "$build" "$([ "$dry_run" -eq 1 ] && echo true || echo false)" "$failed" "$steps" > "$out/results.json"
    if [ "$failed" = false ]; then
        echo "device_check: all steps that ran passed ($([ "$dry_run" -eq 1 ] && echo "dry run" || echo "GPU"))"
        exit 0
    fi
    echo "device_check: FAILED (logs in $out)"
    exit 1
}

# ---- what the build needs, one line per missing piece ----
missing=0
need() {  # DESCRIPTION TEST...
    local what=$1
    shift
    if ! "$@"; then
        echo "device_check: missing: $what" | tee -a "$out/deps.log" >&2
        missing=1
    fi
}
have_any() { for f in "$@"; do [ -e "$f" ] && return 0; done; return 1; }
deps=$src/.deps
cmake_bin=cmake
cmake_args=(-DCMAKE_BUILD_TYPE=Release -DEEGPT_WITH_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90)
if [ "$dry_run" -eq 1 ]; then
    # Only what the GPU machine will have: .deps/ for CLI11 and EDFlib, Catch2 3.4.0, cmake 4.4.
    cmake_bin=$deps/cmake-4.4/bin/cmake
    cmake_args+=(-DEEGPT_DEPS_ONLY=ON "-DCMAKE_PREFIX_PATH=$deps/catch2-3.4.0")
    need "CLI11 headers in $deps/include/CLI (run tools/setup/fill_deps.sh)" test -f "$deps/include/CLI/CLI.hpp"
    need "EDFlib header $deps/include/edflib.h (run tools/setup/fill_deps.sh)" test -f "$deps/include/edflib.h"
    need "EDFlib library $deps/lib/libedf.a (run tools/setup/fill_deps.sh)" test -f "$deps/lib/libedf.a"
    need "FFTW3 header $deps/include/fftw3.h (run tools/setup/fill_deps.sh)" test -f "$deps/include/fftw3.h"
    need "FFTW3 library $deps/lib/libfftw3.a (run tools/setup/fill_deps.sh)" test -f "$deps/lib/libfftw3.a"
    need "Catch2 3.4.0 in $deps/catch2-3.4.0 (run tools/setup/fill_deps.sh)" \
        test -f "$deps/catch2-3.4.0/lib/cmake/Catch2/Catch2Config.cmake"
    need "cmake 4.4 in $deps/cmake-4.4 (run tools/setup/fill_deps.sh)" test -x "$cmake_bin"
    if ! command -v nvcc >/dev/null && [ ! -x /usr/local/cuda/bin/nvcc ]; then
        echo "device_check: no nvcc here: the dry run builds the CPU engine only" | tee -a "$out/deps.log"
        cmake_args=("${cmake_args[@]/-DEEGPT_WITH_CUDA=ON/-DEEGPT_WITH_CUDA=OFF}")
    fi
else
    need "a GPU: nvidia-smi -L lists none (use --dry-run on a machine without one)" \
        sh -c 'nvidia-smi -L 2>/dev/null | grep -q GPU'
    need "CLI11 headers: carry .deps/include (tools/setup/fill_deps.sh) or install CLI11" \
        have_any "$deps/include/CLI/CLI.hpp" /usr/include/CLI/CLI.hpp /usr/local/include/CLI/CLI.hpp
    need "EDFlib header: carry .deps/include (tools/setup/fill_deps.sh) or install EDFlib" \
        have_any "$deps/include/edflib.h" /usr/include/edflib.h /usr/local/include/edflib.h
    need "EDFlib library: carry .deps/lib (tools/setup/fill_deps.sh) or install EDFlib" \
        have_any "$deps/lib/libedf.a" /usr/lib/x86_64-linux-gnu/libedf.a /usr/lib/x86_64-linux-gnu/libedf.so \
        /usr/local/lib/libedf.a
    need "FFTW3 header: carry .deps/include (tools/setup/fill_deps.sh) or install libfftw3-dev" \
        have_any "$deps/include/fftw3.h" /usr/include/fftw3.h /usr/local/include/fftw3.h
    need "FFTW3 static library: carry .deps/lib (tools/setup/fill_deps.sh) or install libfftw3-dev" \
        have_any "$deps/lib/libfftw3.a" /usr/lib/x86_64-linux-gnu/libfftw3.a /usr/local/lib/libfftw3.a
    need "Catch2 v3 (a CMake package)" have_any /usr/lib/cmake/Catch2 /usr/lib/x86_64-linux-gnu/cmake/Catch2 \
        /usr/local/lib/cmake/Catch2 /usr/share/cmake/Catch2 "$deps/catch2-3.4.0/lib/cmake/Catch2"
    [ -d "$deps/catch2-3.4.0/lib/cmake/Catch2" ] && cmake_args+=("-DCMAKE_PREFIX_PATH=$deps/catch2-3.4.0")
    need "compute-sanitizer" have_any "$(command -v compute-sanitizer || echo /nonexistent)" \
        /usr/local/cuda/bin/compute-sanitizer
fi
need "cmake" sh -c "command -v '$cmake_bin' >/dev/null"
if [ "$missing" -ne 0 ]; then
    json_step deps failed 2 0 0 "missing pieces, see deps.log"
    echo failed > "$out/steps/.failed"
    finish
fi
json_step deps passed 0 0 0 ""
export PATH=$PATH:/usr/local/cuda/bin

# ---- build ----
rm -rf "$build"
[ "$dry_run" -eq 0 ] && step gpu_info 20 nvidia-smi
# The CPU by name: family, model and the flags the CPU paths choose by (AMX too: the engine has no AMX
# kernel yet, so the flags say whether one could run there).
step cpu_info 10 sh -c 'lscpu; grep -m1 -E "^(cpu family|model)\s" /proc/cpuinfo; grep -m1 "^model\s" /proc/cpuinfo;
    grep -m1 "^flags" /proc/cpuinfo | tr " " "\n" | grep -E "^(fma|avx2|avx512|avx_vnni|amx)" | sort | paste -sd" "'
grep -m1 "Model name" "$out/cpu_info.log" | sed 's/^/device_check:   /'
tail -1 "$out/cpu_info.log" | sed 's/^/device_check:   flags: /'
step configure 90 "$cmake_bin" -S "$src" -B "$build" "${cmake_args[@]}"
if [ "$dry_run" -eq 1 ]; then
    grep -E "eegpt:|Catch2" "$out/configure.log" | sed 's/^/device_check:   /'
    step build 1500 "$cmake_bin" --build "$build" -j "$jobs"  # every target
    built=()
    for f in eegpt test_eegpt test_cuda bench_eegpt libeegpt_encoder.a libeegpt_recordings.a libeegpt_cpu_avx512.so \
             libeegpt_cuda.so libeegpt_kernels.a; do
        [ -f "$build/$f" ] && built+=("$f")
    done
    echo "device_check:   built: ${built[*]}"
else
    step build 240 "$cmake_bin" --build "$build" -j "$jobs" --target test_eegpt test_cuda eegpt eegpt_cuda bench_eegpt
fi
test_bin=$build/test_eegpt  # everything through make_encoder, incl. the parity table
cuda_bin=$build/test_cuda   # the CUDA kernels, GEMMs and encoder called directly
gpu_steps=(parity cuda_tests memcheck racecheck racecheck_call bench_gpu peers cpu_kernels cpu_bench cpu_threads)
if [ ! -x "$test_bin" ]; then
    for name in cpu_tests "${gpu_steps[@]}"; do not_run "$name" "the build produced no $test_bin"; done
    finish
fi

if [ "$dry_run" -eq 1 ]; then
    # The CPU tests on the Catch2 3.4 build; the CUDA ones report "no CUDA device" and skip.
    step cpu_tests 1800 "$test_bin" --reporter console
    # Without a GPU every CUDA test skips (Catch2 v3 exits 4 when all did): anything else fails here.
    if [ -x "$cuda_bin" ]; then
        step cuda_skips 60 sh -c '"$0" "[cuda]"; [ $? -eq 4 ]' "$cuda_bin"
    fi
    for name in "${gpu_steps[@]}"; do not_run "$name" "dry run: needs the GPU machine"; done
    finish
fi

# ---- on the GPU ----
sanitizer=$(command -v compute-sanitizer || echo /usr/local/cuda/bin/compute-sanitizer)
ours=(--kernel-name kns=eegpt)  # a substring of the mangled names of our kernels (namespace eegpt::kernels)
sanitize=("$sanitizer" --error-exitcode 1 --report-api-errors no --print-limit 20)
# The sanitizers run beside the CUDA tests (the tests' CPU references keep the cores busy, the
# sanitizers mostly the GPU); the bench and the peers run alone afterwards.
(
    step memcheck 200 "${sanitize[@]}" --tool memcheck "$cuda_bin" "[cuda][kernels],[cuda][gemm],[one-call]"
    step racecheck 60 "${sanitize[@]}" --tool racecheck "$cuda_bin" "[cuda][kernels]"
    step racecheck_call 90 "${sanitize[@]}" --tool racecheck "${ours[@]}" "$cuda_bin" "[one-call]" -c fp32
    # The CPU kernels against their exact emulations on this CPU (AVX-512 GEMM, AVX512_BF16), and the
    # ISA checks: correctness only, so they may share the machine with the CUDA tests.
    step cpu_kernels 90 "$test_bin" "[gemm],[bf16],[isa]" --reporter console
) &
sanitizers=$!
step parity 240 "$test_bin" "[parity]" --reporter console --reporter "junit::out=$out/parity.junit.xml"
step cuda_tests 200 "$cuda_bin" --reporter console --reporter "junit::out=$out/cuda_tests.junit.xml"
# On a GPU machine no CUDA test may skip for want of a device or of the CUDA module.
for name in parity cuda_tests; do
    if grep -qE "no CUDA device|CUDA backend" "$out/$name.log"; then
        echo "device_check: $name: tests skipped for want of a CUDA device or module on a GPU machine" |
            tee -a "$out/$name.log"
        echo failed > "$out/steps/.failed"
    fi
done
grep -E "^parity cuda" "$out/parity.log" | grep -E "large|fixture|T = " | sed 's/^/device_check:   /'
grep -E "^cli " "$out/cuda_tests.log" | sed 's/^/device_check:   /'
wait "$sanitizers"
step bench_gpu 150 "$build/bench_eegpt" "[gpu]" --json "$out/bench_gpu.json"
grep -E "gpu" "$out/bench_gpu.log" | grep -vE "^(\s*$|~|-)" | head -40 | sed 's/^/device_check:   /'
if python3 -c "import torch; assert torch.cuda.is_available()" 2>/dev/null; then
    # The peer stops starting rows 20 s before its step's limit, so that its lines come back.
    step peers 200 python3 "$src/tools/bench/peer_bench_gpu.py" --budget-s 180
    grep "^peer=" "$out/peers.log" | sed 's/^/device_check:   /'
else
    not_run peers "python3 has no torch with CUDA here"
fi
# The CPU's speed, alone: 16 threads, fp32 and bf16, and PyTorch on the CPU in the same run (the
# comparison case: PyTorch and ONNX Runtime, both installed there); then threads 1..16 at batch 1 and 8..64.
cores=$(nproc)
step cpu_bench 120 sh -c '"$0" "single window cpu 19ch 1024" --threads "$1" --benchmark-samples 10 --no-peers &&
    "$0" "single window cpu 19ch 1024" --threads "$1" --benchmark-samples 10 --no-peers --precision bf16 &&
    "$0" "comparison peers*" --threads "$1" --python python3' \
    "$build/bench_eegpt" "$cores"
# (Catch2 test specs split at commas: the batch case is named by its prefix.)
step cpu_threads 120 sh -c 'for t in 1 2 4 8 "$1"; do "$0" "single window cpu 19ch 1024" --threads $t \
    --benchmark-samples 5 --no-peers || exit; done
    for t in 8 "$1"; do "$0" "batch cpu 8*" --threads $t --benchmark-samples 2 --no-peers || exit; done' \
    "$build/bench_eegpt" "$cores"
finish
