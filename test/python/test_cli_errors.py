"""`eegpt encode` on bad input: non-zero exit, exactly one line on stderr, no output file left behind.

Bad weight files are made from the tiny2 fixture with h5py; the loader must name the tensor or attribute
at fault (docs/weight-format.md)."""
import os
import subprocess

import h5py
import numpy as np
import pytest

from eegpt_testlib import one_line_error, run_engine, write_input

CHANNELS = ["Fp1", "cz", "O2.", "T7", "FPZ"]


def good_x(B=2, C=5, T=256):
    return (np.random.default_rng(3).standard_normal((B, C, T)) * 0.05).astype(np.float32)


def assert_clean_failure(r, out_dir, keep, needles=()):
    msg = r.stderr.strip()
    assert r.returncode != 0, "expected failure, got rc=0; stderr=%r" % r.stderr
    assert one_line_error(r.stderr), "stderr must be exactly one line, got:\n%s" % r.stderr
    for n in needles:
        assert n.lower() in msg.lower(), "error message %r should mention %r" % (msg, n)
    left = sorted(set(os.listdir(out_dir)) - set(keep))
    assert left == [], "files left behind: %s" % left


@pytest.fixture
def good_input(tmp_path):
    p = os.path.join(str(tmp_path), "in.h5")
    write_input(p, good_x(), CHANNELS)
    return p


def test_good_run_succeeds(eegpt_bin, tiny2_weights, good_input, tmp_path):
    """Sanity: the files the failure cases start from are accepted."""
    out = tmp_path / "out.h5"
    r = run_engine(eegpt_bin, tiny2_weights, good_input, out)
    assert r.returncode == 0, r.stderr
    with h5py.File(out, "r") as f:
        assert f["features"].shape == (2, 4, 4, 64) and f["features"].dtype == np.float32
        assert list(f["channel_ids"][()]) == [0, 29, 61, 25, 1]


# ------------------------------------------------------------------ weight files
def test_missing_weights_file(eegpt_bin, good_input, tmp_path):
    r = run_engine(eegpt_bin, tmp_path / "nope.h5", good_input, tmp_path / "out.h5")
    assert_clean_failure(r, tmp_path, ["in.h5"], ["nope.h5"])


def test_truncated_weights(eegpt_bin, tiny2_copy, good_input, tmp_path):
    data = open(tiny2_copy, "rb").read()
    with open(tiny2_copy, "wb") as f:
        f.write(data[: len(data) // 2])
    r = run_engine(eegpt_bin, tiny2_copy, good_input, tmp_path / "out.h5")
    assert_clean_failure(r, tmp_path, ["in.h5", "w.h5"])


def test_not_hdf5_weights(eegpt_bin, good_input, tmp_path):
    (tmp_path / "w.h5").write_bytes(b"not an hdf5 file\n" * 100)
    r = run_engine(eegpt_bin, tmp_path / "w.h5", good_input, tmp_path / "out.h5")
    assert_clean_failure(r, tmp_path, ["in.h5", "w.h5"])


def _missing(f):
    del f["encoder/blocks.1.mlp.fc2.bias"]


def _extra(f):
    f["encoder"].create_dataset("blocks.0.attn.q_norm.weight", data=np.ones(64, np.float32))


def _misshaped(f):
    del f["encoder/blocks.0.attn.proj.weight"]
    f["encoder"].create_dataset("blocks.0.attn.proj.weight", data=np.zeros((64, 63), np.float32))


def _wrong_dtype(f):
    a = f["encoder/norm.bias"][()]
    del f["encoder/norm.bias"]
    f["encoder"].create_dataset("norm.bias", data=a.astype(np.float64))


def _nan(f):
    d = f["encoder/blocks.1.mlp.fc1.weight"]
    d[3, 7] = np.nan


def _version3(f):
    f.attrs["format_version"] = np.int64(3)


def _version2_without_stride(f):
    f.attrs["format_version"] = np.int64(2)  # version 2 records patch_stride


def _missing_attr(f):
    del f.attrs["num_heads"]


def _bad_heads(f):
    f.attrs["num_heads"] = np.int64(5)  # 64 is not divisible by 5


BAD_WEIGHTS = [
    ("missing_tensor", _missing, ["blocks.1.mlp.fc2.bias"]),
    ("extra_tensor", _extra, ["blocks.0.attn.q_norm.weight"]),
    ("misshaped_tensor", _misshaped, ["blocks.0.attn.proj.weight"]),
    ("float64_tensor", _wrong_dtype, ["norm.bias"]),
    ("nan_tensor", _nan, ["blocks.1.mlp.fc1.weight"]),
    ("format_version_3", _version3, ["format_version"]),
    ("format_version_2_without_stride", _version2_without_stride, ["patch_stride"]),
    ("missing_attribute", _missing_attr, ["num_heads"]),
    ("heads_not_dividing", _bad_heads, ["num_heads"]),
]


@pytest.mark.parametrize("case,corrupt,needles", BAD_WEIGHTS, ids=[c[0] for c in BAD_WEIGHTS])
def test_bad_weights(eegpt_bin, tiny2_copy, good_input, tmp_path, case, corrupt, needles):
    with h5py.File(tiny2_copy, "r+") as f:
        corrupt(f)
    r = run_engine(eegpt_bin, tiny2_copy, good_input, tmp_path / "out.h5")
    assert_clean_failure(r, tmp_path, ["in.h5", "w.h5"], needles)


# ------------------------------------------------------------------ input files
def test_missing_input_file(eegpt_bin, tiny2_weights, tmp_path):
    r = run_engine(eegpt_bin, tiny2_weights, tmp_path / "nope.h5", tmp_path / "out.h5")
    assert_clean_failure(r, tmp_path, [], ["nope.h5"])


def _x_nan():
    x = good_x()
    x[1, 2, 100] = np.nan
    return x


BAD_INPUTS = [
    # (id, x, channels, words the message should contain)
    ("x_float64", good_x().astype(np.float64), CHANNELS, []),
    ("x_rank2", good_x()[0], CHANNELS, []),
    ("t_shorter_than_a_patch", good_x(T=50), CHANNELS, ["at least 64 (one patch), got 50"]),
    ("unknown_channel", good_x(), ["Fp1", "cz", "XYZ9", "T7", "FPZ"], ["XYZ9"]),
    ("channel_count_mismatch", good_x(), CHANNELS[:4], []),
    ("nan_in_x", _x_nan(), CHANNELS, []),
]


@pytest.mark.parametrize("case,x,channels,needles", BAD_INPUTS, ids=[c[0] for c in BAD_INPUTS])
def test_bad_input(eegpt_bin, tiny2_weights, tmp_path, case, x, channels, needles):
    inp = tmp_path / "in.h5"
    write_input(inp, x, channels)
    r = run_engine(eegpt_bin, tiny2_weights, inp, tmp_path / "out.h5")
    assert_clean_failure(r, tmp_path, ["in.h5"], needles)


def test_missing_x_dataset(eegpt_bin, tiny2_weights, tmp_path):
    inp = tmp_path / "in.h5"
    with h5py.File(inp, "w") as f:
        f.create_dataset("channels", data=np.array(CHANNELS, dtype=object), dtype=h5py.string_dtype())
    r = run_engine(eegpt_bin, tiny2_weights, inp, tmp_path / "out.h5")
    assert_clean_failure(r, tmp_path, ["in.h5"])


# ------------------------------------------------------------------ the CUDA module
def _encode_cuda(eegpt_bin, weights, inp, out, module):
    env = dict(os.environ, EEGPT_CUDA_MODULE=str(module))
    cmd = [eegpt_bin, "encode", "--weights", str(weights), "--input", str(inp), "--output", str(out),
           "--device", "cuda"]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env)


def test_cuda_module_missing(eegpt_bin, tiny2_weights, good_input, tmp_path):
    r = _encode_cuda(eegpt_bin, tiny2_weights, good_input, tmp_path / "out.h5", tmp_path / "nope.so")
    assert_clean_failure(r, tmp_path, ["in.h5"], ["EEGPT_CUDA_MODULE", "nope.so", "no such file"])


def test_cuda_module_not_a_library(eegpt_bin, tiny2_weights, good_input, tmp_path):
    (tmp_path / "fake.so").write_bytes(b"not a shared library\n" * 10)
    r = _encode_cuda(eegpt_bin, tiny2_weights, good_input, tmp_path / "out.h5", tmp_path / "fake.so")
    assert_clean_failure(r, tmp_path, ["in.h5", "fake.so"], ["cannot load the CUDA backend", "fake.so"])


def test_cpu_commands_never_map_the_cuda_runtime(eegpt_bin, tiny2_weights, good_input, tmp_path):
    """--version and a CPU encode run with the CUDA libraries made unloadable."""
    env = dict(os.environ, LD_LIBRARY_PATH=str(tmp_path), LD_DEBUG="libs")
    r = subprocess.run([eegpt_bin, "--version"], capture_output=True, text=True, timeout=60, env=env)
    assert r.returncode == 0
    assert "libcudart" not in r.stderr and "libcublas" not in r.stderr and "libeegpt_cuda" not in r.stderr
    cmd = [eegpt_bin, "encode", "--weights", str(tiny2_weights), "--input", good_input, "--output",
           str(tmp_path / "out.h5")]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "libcudart" not in r.stderr and "libcublas" not in r.stderr and "libeegpt_cuda" not in r.stderr
