#!/usr/bin/env bash
# Makes one of the project's Python virtual environments in DIR (relative to the current directory):
#   tools/setup/make_venv.sh DIR package|bench|peers|braindecode|mne [--torch2]
#
#   package      the Python package (README "Python"; tools/test.sh makes .venv): what Debian 12 lacks,
#                from PyPI at pinned versions: the build backend (scikit-build-core, nanobind) and Dask
#                distributed. Debian's numpy is a pip constraint, so pip can never replace it. The
#                build backend's wheels are kept in DIR/build-wheels, so that another venv gets them
#                offline (pip install --no-index --find-links DIR/build-wheels scikit-build-core
#                nanobind; test/python/package/test_install.py does). Reuses DIR's venv when there is one.
#   bench        pytest-benchmark, which test/python/test_bench_json.py reads the results file with (the
#                CTest test "bench: pytest-benchmark venv" makes it in the build directory). Does
#                nothing when DIR already has it.
#   peers        the benchmark peers (bench_eegpt [comparison], tools/bench/peer_bench.py; run the bench
#                with --python DIR/bin/python; .peers is git-ignored): ONNX Runtime and onnx, with numpy
#                kept below 2 in the venv (numpy 2 breaks Debian's torch, h5py and scipy). --torch2 adds
#                PyTorch 2.x (it brings the CUDA libraries: several GB).
#   mne          MNE-Python 1.4.2 from PyPI (the version of the official EEGPT data makers), which
#                test/python/test_mne_dsp.py checks the engine's MNE filters and resampling against
#                (the CTest test "mne: MNE 1.4.2 venv" makes it in the build directory). Debian's
#                numpy is a pip constraint, and Debian's own MNE (1.3) stays as it is: the venv's
#                1.4.2 shadows it. Does nothing when DIR already has 1.4.2.
#   braindecode  braindecode itself, for tools/fixtures/make_braindecode_fixture.py and the live
#                comparison (test/python/package/test_braindecode.py runs it when
#                EEGPT_BRAINDECODE_PYTHON names DIR/bin/python; .braindecode is git-ignored).
#
# package, bench, peers and mne are venvs over Debian's python3 and its packages (--system-site-packages:
# numpy, scipy, h5py, mne, torch 1.13, scikit-learn). braindecode 1.8.1 needs PyTorch >= 2 and
# MNE >= 1.11, newer than Debian's (torch 1.13, MNE 1.3), so its venv does not see the system
# packages and takes numpy 2 from PyPI; PyTorch is pinned to torchaudio's newest release (2.11: a
# newer torch refuses its CUDA build at import) and brings the CUDA libraries (several GB). No set
# touches Debian's own packages: checked at the end.
set -euo pipefail
usage="usage: tools/setup/make_venv.sh DIR package|bench|peers|braindecode|mne [--torch2 (peers only)]"
[ $# -ge 2 ] || { echo "$usage" >&2; exit 2; }
dir=$1
kind=$2
shift 2
case "$kind" in
    package | bench | peers | braindecode | mne) ;;
    *) echo "make_venv: unknown set '$kind'; $usage" >&2; exit 2 ;;
esac
torch2=0
for a in "$@"; do
    case "$kind:$a" in
        peers:--torch2) torch2=1 ;;
        *) echo "make_venv: unknown option '$a' for the $kind set; $usage" >&2; exit 2 ;;
    esac
done
pip=("$dir/bin/python" -m pip install -q --disable-pip-version-check)

case "$kind" in
    package)
        [ -x "$dir/bin/python" ] || /usr/bin/python3 -m venv --system-site-packages "$dir"
        constraints=$(mktemp)
        trap 'rm -f "$constraints"' EXIT
        /usr/bin/python3 -c 'import numpy; print("numpy==" + numpy.__version__)' > "$constraints"
        backend=(scikit-build-core==1.1.2 nanobind==3.1.0)
        if ! compgen -G "$dir/build-wheels/scikit_build_core-1.1.2-*.whl" >/dev/null ||
           ! compgen -G "$dir/build-wheels/nanobind-3.1.0-*.whl" >/dev/null; then
            "$dir/bin/python" -m pip download -q --disable-pip-version-check -d "$dir/build-wheels" "${backend[@]}"
        fi
        "${pip[@]}" --no-index --find-links "$dir/build-wheels" "${backend[@]}"
        "${pip[@]}" -c "$constraints" "dask[distributed]==2026.8.0"
        ;;
    bench)
        if [ -x "$dir/bin/pytest-benchmark" ] && "$dir/bin/python" -c "import pytest_benchmark" 2>/dev/null; then
            exit 0
        fi
        /usr/bin/python3 -m venv --system-site-packages "$dir"
        "${pip[@]}" pytest-benchmark
        "$dir/bin/pytest-benchmark" --help >/dev/null
        "$dir/bin/python" -c "import pytest_benchmark; from importlib.metadata import version; print('bench venv: pytest-benchmark', version('pytest-benchmark'))"
        ;;
    peers)
        /usr/bin/python3 -m venv --system-site-packages "$dir"
        packages=(onnxruntime onnx "numpy<2")
        [ "$torch2" -eq 1 ] && packages+=(torch)
        "${pip[@]}" "${packages[@]}"
        "$dir/bin/python" -c "import numpy, onnxruntime, torch; print('peers:', 'numpy', numpy.__version__, 'onnxruntime', onnxruntime.__version__, 'torch', torch.__version__)"
        ;;
    mne)
        if "$dir/bin/python" -c "import mne, sys; sys.exit(mne.__version__ != '1.4.2')" 2>/dev/null; then
            exit 0
        fi
        debian_mne=$(/usr/bin/python3 -c 'import mne; print(mne.__version__)')
        /usr/bin/python3 -m venv --system-site-packages "$dir"
        constraints=$(mktemp)
        trap 'rm -f "$constraints"' EXIT
        /usr/bin/python3 -c 'import numpy; print("numpy==" + numpy.__version__)' > "$constraints"
        "${pip[@]}" -c "$constraints" "mne==1.4.2"
        "$dir/bin/python" -c "import mne, numpy, scipy; assert mne.__version__ == '1.4.2', mne.__version__; print('mne venv: mne', mne.__version__, 'numpy', numpy.__version__, 'scipy', scipy.__version__)"
        [ "$(/usr/bin/python3 -c 'import mne; print(mne.__version__)')" = "$debian_mne" ] ||
            { echo "make_venv: Debian's MNE was replaced" >&2; exit 1; }
        ;;
    braindecode)
        /usr/bin/python3 -m venv "$dir"
        "${pip[@]}" "braindecode==1.8.1" "torch==2.11.0" "torchaudio==2.11.0"
        "$dir/bin/python" -c "import braindecode, torch, mne; print('braindecode', braindecode.__version__, 'torch', torch.__version__, 'mne', mne.__version__)"
        ;;
esac
/usr/bin/python3 -c "import numpy; assert numpy.__version__.startswith('1.'), 'Debian numpy was replaced'"
