"""Engine (fp32) vs the float64 PyTorch reference: relative error ||out-ref|| / ||ref|| <= 1e-5.

Large configuration (random-init, seed 0) with 19 and 58 channels, batch 1 and 7, on random input and on
real 4 s windows from the EDF recordings; the tiny2 configuration; the committed tiny2 parity fixture."""
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


def check(binary, weights, x, names, expected, tmp_path):
    feats, ids = encode_with_engine(binary, weights, x, names, tmp_path)
    B, C, T = x.shape
    assert feats.shape == expected.shape == (B, T // 64) + expected.shape[2:], feats.shape
    assert list(ids) == list(fmt.channel_ids(names))
    err = rel_err(feats, expected)
    print("B=%d C=%d T=%d relative error %.3g" % (B, C, T, err))  # shown with -rP / -s
    assert err <= TOL, "relative error %.3g > %g" % (err, TOL)
    return err


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
    """T need not be 1024: any multiple of the patch size (here 1 and 5 patches)."""
    require_engine(eegpt_bin)
    rng = np.random.default_rng(7)
    for T in (64, 320):
        x = (rng.standard_normal((2, 3, T)) * 0.05).astype(np.float32)
        names = ["Cz", "c3", "C4."]
        check(eegpt_bin, tiny2_weights, x, names, ref.encode(tiny2_model, x, fmt.channel_ids(names)),
              tmp_path)


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
