#!/usr/bin/env bash
# Makes the Python environment that runs braindecode itself, for tools/fixtures/make_braindecode_fixture.py
# and the live braindecode comparison (test/python/package/test_braindecode.py runs it when
# EEGPT_BRAINDECODE_PYTHON names this venv's python):
#   tools/setup/make_braindecode_venv.sh [DIR]     (default DIR: .braindecode, git-ignored)
# braindecode 1.8.1 needs PyTorch >= 2 and MNE >= 1.11, newer than Debian's (torch 1.13, MNE 1.3),
# so this venv does not see the system packages and takes numpy 2 from PyPI: Debian's numpy is
# untouched. PyTorch is pinned to torchaudio's newest release (2.11: a newer torch refuses its
# CUDA build at import); it brings the CUDA libraries from PyPI (several GB).
set -euo pipefail
dir=${1:-.braindecode}
/usr/bin/python3 -m venv "$dir"
"$dir/bin/pip" install -q --disable-pip-version-check "braindecode==1.8.1" "torch==2.11.0" "torchaudio==2.11.0"
"$dir/bin/python" -c "import braindecode, torch, mne; print('braindecode', braindecode.__version__, 'torch', torch.__version__, 'mne', mne.__version__)"
/usr/bin/python3 -c "import numpy; assert numpy.__version__.startswith('1.'), 'Debian numpy was replaced'"
