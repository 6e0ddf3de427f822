"""Paths for the Python tests.

EEGPT_BIN       engine CLI (default build/eegpt under the repo root); tests that need it FAIL if it is absent
EEGPT_DATA_DIR  real EDF recordings (default <repo>/test/data/eeg)
EEGPT_DEVICE    optional: passed to `eegpt encode --device`
"""
import os
import shutil
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from eegpt_testlib import FIXTURES, REPO, engine_path, run_converter  # noqa: E402


@pytest.fixture(scope="session")
def repo_root():
    return REPO


@pytest.fixture(scope="session")
def fixtures_dir():
    return FIXTURES


@pytest.fixture(scope="session")
def eegpt_bin():
    """Path of the engine CLI. Not checked here: run_engine() fails the test (FAILED, not ERROR or
    skipped) when the binary is absent, with a message naming the path."""
    return engine_path()


@pytest.fixture(scope="session")
def data_dir():
    path = os.environ.get("EEGPT_DATA_DIR", os.path.join(REPO, "test", "data", "eeg"))
    if not os.path.isdir(path):
        pytest.fail("EEG data directory not found: %s (set EEGPT_DATA_DIR)" % path, pytrace=False)
    return path


@pytest.fixture(scope="session")
def session_tmp(tmp_path_factory):
    return tmp_path_factory.mktemp("eegpt")


@pytest.fixture
def tmp_dir(tmp_path):
    return tmp_path


@pytest.fixture(scope="session")
def tiny2_weights(fixtures_dir):
    return os.path.join(fixtures_dir, "tiny2_seed0.h5")


@pytest.fixture(scope="session")
def large_weights(session_tmp):
    """Random-init large (seed 0), made once per session through the converter CLI."""
    out = os.path.join(str(session_tmp), "large_seed0.h5")
    r = run_converter("--random-init", "large", "--seed", "0", out)
    assert r.returncode == 0, r.stderr
    return out


@pytest.fixture(scope="session")
def large_normal_weights(session_tmp):
    """Random-init large (seed 0) with normal weights (--normal, the official initialisation's sd),
    made once per session through the converter CLI."""
    out = os.path.join(str(session_tmp), "large_seed0_normal.h5")
    r = run_converter("--random-init", "large", "--seed", "0", "--normal", out)
    assert r.returncode == 0, r.stderr
    return out


@pytest.fixture
def tiny2_copy(tiny2_weights, tmp_path):
    """A writable copy of the tiny2 fixture, to corrupt."""
    dst = os.path.join(str(tmp_path), "w.h5")
    shutil.copyfile(tiny2_weights, dst)
    return dst
