#!/usr/bin/env bash
# Makes the Python environment for the benchmark peers (bench_eegpt [comparison], tools/bench/peer_bench.py):
#   tools/setup/make_peer_venv.sh [DIR] [--torch2]     (default DIR: .peers, git-ignored)
# then run the bench with --python DIR/bin/python. A venv over Debian's python3 and its packages
# (torch 1.13, h5py, scipy): Debian's own numpy is never replaced (numpy 2 breaks Debian's torch, h5py
# and scipy); inside the venv numpy stays below 2 for the same reason. Adds ONNX Runtime and onnx from
# PyPI; --torch2 also PyTorch 2.x from PyPI (it brings the CUDA libraries: several GB).
set -euo pipefail
dir=.peers
torch2=0
for a in "$@"; do
    case "$a" in
        --torch2) torch2=1 ;;
        *) dir=$a ;;
    esac
done
/usr/bin/python3 -m venv --system-site-packages "$dir"
pip=("$dir/bin/pip" install -q --disable-pip-version-check)
packages=(onnxruntime onnx "numpy<2")
[ "$torch2" -eq 1 ] && packages+=(torch)
"${pip[@]}" "${packages[@]}"
"$dir/bin/python" -c "import numpy, onnxruntime, torch; print('peers:', 'numpy', numpy.__version__, 'onnxruntime', onnxruntime.__version__, 'torch', torch.__version__)"
/usr/bin/python3 -c "import numpy; assert numpy.__version__.startswith('1.'), 'Debian numpy was replaced'"
