#!/usr/bin/env bash
# Builds the CUDA tests against the CPU stand-ins in this folder (README.md):
#   tools/cuda_emulation/build.sh OUTDIR [asan|fast]
# OUTDIR gets test_eegpt_emu (the [cuda] Catch2 tests) and parity_emu (large-model parity).
set -euo pipefail
out=$(realpath -m "${1:?usage: build.sh OUTDIR [asan|fast]}")
mode=${2:-asan}
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
mkdir -p "$out/kernels" "$out/obj"

# Kernel sources as C++: launches become emu_launch(...), dynamic shared memory a pointer.
for f in "$src"/kernels/*.cu; do
  sed -E -e 's/([A-Za-z_][A-Za-z0-9_]*(<[A-Za-z0-9_]+>)?)<<<(.*)>>>\(/emu_launch(\1, \3, /' \
         -e 's/extern __shared__ float ([A-Za-z_][A-Za-z0-9_]*)\[\];/float* \1 = emu_shared<float>();/' \
         "$f" > "$out/kernels/$(basename "$f" .cu).cpp"
  if grep -q '<<<\|__shared__' "$out/kernels/$(basename "$f" .cu).cpp"; then
    echo "build.sh: could not rewrite a launch or shared array in $f" >&2; exit 1
  fi
done
cp "$src"/kernels/*.h "$src"/kernels/*.cuh "$out/kernels/"

case "$mode" in
  asan) flags="-O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined" ;;
  fast) flags="-O2 -g" ;;
  *) echo "build.sh: mode must be asan or fast" >&2; exit 2 ;;
esac
# Compiler flags in a response file (keeps the quoted string macros intact through xargs).
cat > "$out/flags.rsp" <<RSP
-std=c++17 -march=x86-64-v3 -fopenmp $flags -I$here/include -I$src/engine -I$src -I$src/test
-I/usr/include/hdf5/serial -isystem /usr/include/eigen3 -DEEGPT_WITH_CUDA -DEEGPT_CUDA_EMULATION
'-DEEGPT_VERSION="emu"' '-DEEGPT_SOURCE_DIR="$src"'
RSP

sources=("$src"/engine/channels.cpp "$src"/engine/encoder.cpp "$src"/engine/synthetic.cpp
         "$src"/engine/model/weights.cpp "$src"/engine/io/hdf5.cpp "$src"/engine/io/window_file.cpp
         "$src"/engine/cpu/encoder_cpu.cpp "$src"/engine/cuda/encoder_cuda.cpp "$src"/engine/cuda/gemm.cpp
         "$out"/kernels/*.cpp "$here/emu.cpp" "$src/test/catch_main_v2.cpp" "$src/test/test_cuda.cpp"
         "$here/parity_main.cpp")
# Objects are reused only while no header changed since the last build.
stamp="$out/obj/.stamp"
if [ ! -f "$stamp" ] || [ -n "$(find "$here/include" "$src/kernels" "$src/engine" "$src/test" -name '*.h*' -newer "$stamp" -print -quit)" ]; then
  rm -f "$out"/obj/*.o
fi
[ -f "$stamp" ] && [ "$(cat "$stamp")" = "$mode" ] || rm -f "$out"/obj/*.o
printf '%s\n' "${sources[@]}" | xargs -P 2 -I{} sh -c \
  'o="$0/obj/$(echo "{}" | md5sum | cut -c1-12).o"; [ "$o" -nt "{}" ] || g++ @"$0/flags.rsp" -c "{}" -o "$o"' "$out"
echo "$mode" > "$stamp"

obj() { echo "$out/obj/$(echo "$1" | md5sum | cut -c1-12).o"; }
lib=()
for s in "${sources[@]}"; do
  case "$s" in *catch_main_v2.cpp|*test_cuda.cpp|*parity_main.cpp) ;; *) lib+=("$(obj "$s")") ;; esac
done
link="-fopenmp $flags -L/usr/lib/x86_64-linux-gnu/hdf5/serial -lhdf5"
g++ "${lib[@]}" "$(obj "$src/test/catch_main_v2.cpp")" "$(obj "$src/test/test_cuda.cpp")" $link -o "$out/test_eegpt_emu"
g++ "${lib[@]}" "$(obj "$here/parity_main.cpp")" $link -o "$out/parity_emu"
echo "built $out/test_eegpt_emu and $out/parity_emu ($mode)"
