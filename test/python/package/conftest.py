"""Tests of the Python package (`pip install .`): run with the interpreter it was installed into
(tools/test.sh: a venv over Debian's numpy, scipy, h5py, mne and scikit-learn). They compare with
the `eegpt` CLI (EEGPT_BIN) and read the real recordings (EEGPT_DATA_DIR), like the other Python
tests."""
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import recordings_testlib as lib  # noqa: E402

# Small random weights for speed; the large model is exercised by test_model.py's random model.
D, E = 32, 4


@pytest.fixture(scope="session")
def weights(tmp_path_factory):
    return str(lib.write_random_weights(tmp_path_factory.mktemp("w") / "small.h5", embed_dim=D, embed_num=E, depth=2))


@pytest.fixture(scope="session")
def model(weights):
    import eegpt

    return eegpt.Model(weights)
