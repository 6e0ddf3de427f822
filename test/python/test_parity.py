"""Engine (fp32) vs the float64 PyTorch reference: relative error ||out-ref|| / ||ref|| <= 1e-5.

Large configuration (random-init, seed 0) with 19 and 58 channels, batch 1 and 7, on random input and on
real 4 s windows from the EDF recordings; the tiny2 configuration; the committed tiny2 parity fixture;
windows of any length at strides 64 and 32 (the samples past the last whole patch ignored, as by the
released Conv2d patch embedding that the reference is)."""
import os

import h5py
import numpy as np
import pytest

import eegpt_reference as ref
from eegpt_testlib import (cut_windows, encode_with_engine, fmt, load_edf_mv_256, rel_err,
                           require_engine)

TOL = 1e-5
_ref_cache = {}


@pytest.fixture(scope="session")
def large_model(large_weights):
    model, config = ref.load_model(large_weights)
    assert config == fmt.named_config("large")
    return model


@pytest.fixture(scope="session")
def tiny2_model(tiny2_weights):
    return ref.load_model(tiny2_weights)[0]


@pytest.fixture(scope="session")
def inputs(data_dir):
    """(source, C) -> (x: 7 x C x 1024 float32 in mV, channel names)."""
    rng = np.random.default_rng(2024)
    out = {}
    names19 = [n if i % 3 else n.lower() for i, n in enumerate(fmt.STANDARD_19)]
    out["random", 19] = ((rng.standard_normal((7, 19, 1024)) * 0.05).astype(np.float32), names19)
    names58 = [fmt.CHANNEL_NAMES[i] for i in rng.choice(62, 58, replace=False)]  # any order works
    out["random", 58] = ((rng.standard_normal((7, 58, 1024)) * 0.05).astype(np.float32), names58)

    data, names = load_edf_mv_256(os.path.join(data_dir, "Subject00_1.edf"))
    assert len(names) == 19, names
    out["real", 19] = (cut_windows(data, 7), names)
    data, names = load_edf_mv_256(os.path.join(data_dir, "S001R03.edf"), max_channels=58)
    assert len(names) == 58, names
    out["real", 58] = (cut_windows(data, 7), names)
    return out


def reference(model, key, x, names):
    """float64 reference of all 7 windows, computed once per (model, input) and sliced per batch."""
    if key not in _ref_cache:
        _ref_cache[key] = ref.encode(model, x, fmt.channel_ids(names))
    return _ref_cache[key]


def check(binary, weights, x, names, expected, tmp_path, stride=64, tag="run"):
    feats, ids = encode_with_engine(binary, weights, x, names, tmp_path, tag=tag)
    B, C, T = x.shape
    patches = (T - 64) // stride + 1  # the Conv2d's floor: trailing samples fill no patch
    assert feats.shape == expected.shape == (B, patches) + expected.shape[2:], feats.shape
    assert list(ids) == list(fmt.channel_ids(names))
    err = rel_err(feats, expected)
    print("B=%d C=%d T=%d stride %d relative error %.3g" % (B, C, T, stride, err))  # shown with -rP / -s
    assert err <= TOL, "relative error %.3g > %g" % (err, TOL)
    return feats


@pytest.mark.parametrize("batch", [1, 7])
@pytest.mark.parametrize("channels", [19, 58])
@pytest.mark.parametrize("source", ["random", "real"])
def test_large(eegpt_bin, large_weights, large_model, inputs, tmp_path, source, channels, batch):
    require_engine(eegpt_bin)
    x7, names = inputs[source, channels]
    expected = reference(large_model, ("large", source, channels), x7, names)[:batch]
    check(eegpt_bin, large_weights, x7[:batch], names, expected, tmp_path)


@pytest.mark.parametrize("source,channels,batch", [("random", 19, 3), ("random", 58, 7), ("real", 19, 7),
                                                   ("real", 58, 1)])
def test_tiny2(eegpt_bin, tiny2_weights, tiny2_model, inputs, tmp_path, source, channels, batch):
    require_engine(eegpt_bin)
    x7, names = inputs[source, channels]
    expected = reference(tiny2_model, ("tiny2", source, channels), x7, names)[:batch]
    check(eegpt_bin, tiny2_weights, x7[:batch], names, expected, tmp_path)


def test_tiny2_other_lengths(eegpt_bin, tiny2_weights, tiny2_model, tmp_path):
    """T need not be 1024: here multiples of the patch size (1 and 5 patches)."""
    require_engine(eegpt_bin)
    rng = np.random.default_rng(7)
    for T in (64, 320):
        x = (rng.standard_normal((2, 3, T)) * 0.05).astype(np.float32)
        names = ["Cz", "c3", "C4."]
        check(eegpt_bin, tiny2_weights, x, names, ref.encode(tiny2_model, x, fmt.channel_ids(names)),
              tmp_path)


@pytest.fixture(scope="session")
def tiny2_stride32(tiny2_weights, session_tmp):
    """The tiny2 fixture's tensors with patch_stride 32 (format version 2, overlapping patches):
    (weights path, reference model)."""
    config, sd = fmt.read_weights(tiny2_weights)
    path = os.path.join(str(session_tmp), "tiny2_stride32.h5")
    fmt.write_weights(path, sd, dict(config, patch_stride=32),
                      dict(trained=0, random_seed=0, source_checkpoint="random-init:tiny2 (stride 32)",
                           source_sha256="", source_prefix="", converter_version="test"))
    model, read_config = ref.load_model(path)
    assert read_config["patch_stride"] == 32
    return path, model


# Windows that need not be 64 plus whole strides: N = floor((T - 64) / stride) + 1 patches, the
# samples past the last whole patch ignored (T = 537 at 32: 15 patches, 25 samples unused; 2000 at
# 64: 31 patches, 16 unused).
@pytest.mark.parametrize("stride,T,patches", [(32, 537, 15), (32, 512, 15), (64, 2000, 31), (64, 7680, 120),
                                              (64, 100, 1)])
def test_tiny2_any_window_length(eegpt_bin, tiny2_weights, tiny2_model, tiny2_stride32, tmp_path, stride, T,
                                 patches):
    require_engine(eegpt_bin)
    weights, model = (tiny2_weights, tiny2_model) if stride == 64 else tiny2_stride32
    rng = np.random.default_rng(T)
    x = (rng.standard_normal((2, 19, T)) * 0.05).astype(np.float32)
    names = list(fmt.STANDARD_19)
    expected = ref.encode(model, x, fmt.channel_ids(names))
    assert expected.shape[1] == patches
    feats = check(eegpt_bin, weights, x, names, expected, tmp_path, stride=stride)
    used = (patches - 1) * stride + 64
    if used < T:  # the unused samples changed: the same features, bit for bit
        x[:, :, used:] = 1e3
        again, _ = encode_with_engine(eegpt_bin, weights, x, names, tmp_path, tag="perturbed")
        assert np.array_equal(again, feats)


@pytest.mark.parametrize("T", [2000, 7680])
def test_large_long_windows(eegpt_bin, large_weights, large_model, tmp_path, T):
    """The large model on 2000 (31 patches, the last 16 samples unused) and 7680 samples (30 s, 120)."""
    require_engine(eegpt_bin)
    x = (np.random.default_rng(T + 1).standard_normal((1, 19, T)) * 0.05).astype(np.float32)
    names = list(fmt.STANDARD_19)
    check(eegpt_bin, large_weights, x, names, ref.encode(large_model, x, fmt.channel_ids(names)), tmp_path)


def test_fixture_parity(eegpt_bin, tiny2_weights, fixtures_dir, tmp_path):
    """The committed fixture: engine on tiny2_parity.h5's x/channels equals its `expected`."""
    require_engine(eegpt_bin)
    with h5py.File(os.path.join(fixtures_dir, "tiny2_parity.h5"), "r") as f:
        x = f["x"][()]
        names = list(f["channels"].asstr()[()])
        ids = f["channel_ids"][()]
        expected = f["expected"][()]
        expected64 = f["expected_f64"][()]
    assert list(ids) == list(fmt.channel_ids(names))
    feats, out_ids = encode_with_engine(eegpt_bin, tiny2_weights, x, names, tmp_path)
    assert list(out_ids) == list(ids)
    assert rel_err(feats, expected64) <= TOL and rel_err(feats, expected) <= TOL


def test_fixture_expected_matches_reference(tiny2_model, fixtures_dir):
    """The fixture's `expected` is what the current reference computes (no engine needed)."""
    with h5py.File(os.path.join(fixtures_dir, "tiny2_parity.h5"), "r") as f:
        x, names = f["x"][()], list(f["channels"].asstr()[()])
        expected64 = f["expected_f64"][()]
    assert rel_err(ref.encode(tiny2_model, x, fmt.channel_ids(names)), expected64) < 1e-12
