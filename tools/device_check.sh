#!/usr/bin/env bash
# The CUDA check on a GPU machine (../shared/gpu/README.md: Ubuntu 24.04, 16 cores, Catch2 v3, no
# CLI11 installed: carry .deps/include/CLI in). Usage, from anywhere:
#   tools/device_check.sh OUTDIR
# Builds from scratch into a fresh directory, runs compute-sanitizer memcheck (kernels + cuBLASLt
# tests) and racecheck (kernel tests), the CUDA tests (JUnit + console), and a short timing of the
# encoder. Writes one log per step and results.json (each step: name, exit code, seconds) into
# OUTDIR. Everything must finish within 6 minutes; a step that would not fit is cut and fails.
# Exits non-zero when any step failed.
set -uo pipefail

out=${1:?usage: tools/device_check.sh OUTDIR}
mkdir -p "$out" && out=$(cd "$out" && pwd)
src=$(cd "$(dirname "$0")/.." && pwd)
build=${EEGPT_DEVICE_BUILD_DIR:-/tmp/eegpt-device-build}
jobs=${EEGPT_DEVICE_JOBS:-16}
deadline=$(($(date +%s) + ${EEGPT_DEVICE_BUDGET_S:-360}))
results=()
failed=0

write_results() {
    local IFS=,
    printf '{"source": "%s", "build_dir": "%s", "failed": %s, "steps": [%s]}\n' \
        "$src" "$build" "$([ "$failed" -eq 0 ] && echo false || echo true)" "${results[*]}" > "$out/results.json"
}

# step NAME MAX_SECONDS COMMAND...: runs COMMAND with its output in OUTDIR/NAME.log.
step() {
    local name=$1 limit=$2 rc start end seconds
    shift 2
    local left=$((deadline - $(date +%s)))
    if [ "$left" -lt 10 ]; then
        echo "not run: the 6-minute budget is spent" > "$out/$name.log"
        results+=("{\"name\": \"$name\", \"exit_code\": 124, \"seconds\": 0}")
        failed=1
        echo "device_check: $name: not run (out of time)"
        return
    fi
    [ "$limit" -gt "$left" ] && limit=$left
    start=$(date +%s.%N)
    timeout --kill-after=10 "$limit" "$@" > "$out/$name.log" 2>&1
    rc=$?
    end=$(date +%s.%N)
    seconds=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.1f", b - a }')
    [ "$rc" -eq 124 ] && echo "cut after ${limit}s" >> "$out/$name.log"
    results+=("{\"name\": \"$name\", \"exit_code\": $rc, \"seconds\": $seconds}")
    [ "$rc" -ne 0 ] && failed=1
    echo "device_check: $name: exit $rc in ${seconds}s"
}

# CLI11: installed (CMake package or header), or headers carried into .deps/include.
if [ ! -f "$src/.deps/include/CLI/CLI.hpp" ] && [ ! -f /usr/include/CLI/CLI.hpp ] &&
   [ ! -f /usr/local/include/CLI/CLI.hpp ] &&
   ! ls -d /usr/lib/*/cmake/CLI11 /usr/lib/cmake/CLI11 /usr/share/cmake/CLI11 /usr/local/lib/cmake/CLI11 >/dev/null 2>&1; then
    echo "device_check: CLI11 not found: neither an installed CLI11 nor $src/.deps/include/CLI/CLI.hpp" \
         "(copy /usr/include/CLI from a development machine to .deps/include/CLI)" | tee "$out/cli11.log" >&2
    results+=('{"name": "cli11", "exit_code": 2, "seconds": 0}')
    failed=1
    write_results
    exit 2
fi

sanitizer=$(command -v compute-sanitizer || echo /usr/local/cuda/bin/compute-sanitizer)
test_bin=$build/test_eegpt

rm -rf "$build"
step gpu_info 20 nvidia-smi
step configure 60 cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=Release -DEEGPT_WITH_CUDA=ON \
    -DCMAKE_CUDA_ARCHITECTURES=90
step build 180 cmake --build "$build" -j "$jobs" --target test_eegpt eegpt
if [ -x "$test_bin" ]; then
    step memcheck 75 "$sanitizer" --tool memcheck --error-exitcode 1 --print-limit 20 \
        "$test_bin" "[cuda][kernels],[cuda][gemm]"
    step racecheck 60 "$sanitizer" --tool racecheck --error-exitcode 1 --print-limit 20 \
        "$test_bin" "[cuda][kernels]"
    step cuda_tests 200 "$test_bin" "[cuda]" --reporter console --reporter "junit::out=$out/cuda_tests.junit.xml"
    step timing 45 "$test_bin" "[cuda-timing]"
else
    for name in memcheck racecheck cuda_tests timing; do
        echo "not run: the build produced no $test_bin" > "$out/$name.log"
        results+=("{\"name\": \"$name\", \"exit_code\": 125, \"seconds\": 0}")
    done
    failed=1
fi
write_results
[ "$failed" -eq 0 ] && echo "device_check: all steps passed" || echo "device_check: FAILED (see $out)"
exit "$failed"
