#!/usr/bin/env bash
# A venv for the Python package (README "Python"): over Debian's numpy, scipy, h5py, mne, torch and
# scikit-learn (--system-site-packages), with what Debian 12 lacks from PyPI at pinned versions: the
# build backend (scikit-build-core, nanobind) and Dask distributed. Debian's numpy is pinned as a
# constraint, so pip can never replace it. Usage: tools/setup/make_python_venv.sh [DIR] (default .venv).
set -euo pipefail
cd "$(dirname "$0")/../.."
dir=${1:-.venv}
[ -x "$dir/bin/python" ] || /usr/bin/python3 -m venv --system-site-packages "$dir"
constraints=$(mktemp)
trap 'rm -f "$constraints"' EXIT
/usr/bin/python3 -c 'import numpy; print("numpy==" + numpy.__version__)' > "$constraints"
"$dir/bin/python" -m pip install -q -c "$constraints" scikit-build-core==1.1.2 nanobind==3.1.0 \
    "dask[distributed]==2026.8.0"
