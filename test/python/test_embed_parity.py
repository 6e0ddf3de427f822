"""`eegpt embed` on a real recording equals `eegpt encode` on the same windows prepared independently
in Python (MNE read, scipy resample_poly, windows cut in numpy), to 1e-5."""
import os
import sys

import h5py
import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import recordings_testlib as lib  # noqa: E402


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    return lib.write_random_weights(tmp_path_factory.mktemp("w") / "small.h5", embed_dim=32, embed_num=4, depth=2)


def encode(weights, x, names, tmp_path):
    inp, out = tmp_path / "windows.h5", tmp_path / "encoded.h5"
    with h5py.File(inp, "w") as f:
        f["x"] = x
        f.create_dataset("channels", data=np.array(names, dtype=object), dtype=h5py.string_dtype())
    lib.run_ok("encode", "--weights", weights, "--input", inp, "--output", out)
    with h5py.File(out, "r") as f:
        return f["features"][()]


@pytest.mark.parametrize("name,stride_s", [("Subject00_2.edf", 2), ("S001R03.edf", 4)])
def test_embed_equals_encode_on_python_prepared_windows(name, stride_s, weights, tmp_path):
    lib.run_ok("embed", lib.recording(name), "--weights", weights, "--output-dir", tmp_path, "--stride", stride_s,
               "--batch", 7, "--quiet")
    out = tmp_path / name.replace(".edf", ".features.h5")
    x, names, starts = lib.prepared_windows(name, stride=int(stride_s * 256))
    expected = encode(weights, x, names, tmp_path)
    with h5py.File(out, "r") as f:
        features = f["features"][()]
        assert lib.strings(f["channels"]) == names
        np.testing.assert_array_equal(f["window_start_s"][()], starts)
        assert f.attrs["n_windows"] == len(x)
        assert f.attrs["stride_s"] == stride_s
        assert f.attrs["weights_source_checkpoint"] == "pytest random"
        assert f.attrs["weights_trained"] == 0
    assert features.shape == expected.shape == (len(x), 16, 4, 32)
    assert np.abs(features - expected).max() <= 1e-5 * np.abs(expected).max()


def test_float16_features_are_the_float32_features_rounded(weights, tmp_path):
    # Two runs of the CPU encoder agree to float32 rounding, not always bit for bit (heap alignment
    # changes Eigen's summation order), so a feature near a float16 rounding boundary may round the
    # other way: allow one float16 step, and require almost all to be exactly numpy's rounding.
    name = "Subject00_2.edf"
    lib.run_ok("embed", lib.recording(name), "--weights", weights, "--output", tmp_path / "f32.h5", "--quiet")
    lib.run_ok("embed", lib.recording(name), "--weights", weights, "--output", tmp_path / "f16.h5",
               "--features-dtype", "float16", "--quiet")
    with h5py.File(tmp_path / "f32.h5", "r") as a, h5py.File(tmp_path / "f16.h5", "r") as b:
        assert b["features"].dtype == np.float16
        assert b.attrs["features_dtype"] == "float16"
        half, full = b["features"][()], a["features"][()]
    rounded = full.astype(np.float16)
    assert np.all(np.abs(half.astype(np.float32) - rounded.astype(np.float32)) <= np.spacing(np.abs(rounded)))
    assert np.mean(half == rounded) > 0.99
