#!/usr/bin/env bash
# The venv the benchmark results test (test/python/test_bench_json.py) runs pytest-benchmark from:
#   tools/setup/make_bench_venv.sh DIR
# A venv over Debian's python3 (--system-site-packages) with pytest-benchmark from PyPI in the venv
# only: Debian's own packages, numpy first, are never replaced. Does nothing when DIR already has it.
set -euo pipefail
dir=${1:?usage: tools/setup/make_bench_venv.sh DIR}
if [ -x "$dir/bin/pytest-benchmark" ] && "$dir/bin/python" -c "import pytest_benchmark" 2>/dev/null; then
    exit 0
fi
/usr/bin/python3 -m venv --system-site-packages "$dir"
"$dir/bin/pip" install -q --disable-pip-version-check pytest-benchmark
"$dir/bin/pytest-benchmark" --help >/dev/null
"$dir/bin/python" -c "import pytest_benchmark; from importlib.metadata import version; print('bench venv: pytest-benchmark', version('pytest-benchmark'))"
/usr/bin/python3 -c "import numpy; assert numpy.__version__.startswith('1.'), 'Debian numpy was replaced'"
