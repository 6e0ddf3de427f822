"""The three real recordings as the engine reads, maps and resamples them, against MNE-Python
(read_raw_edf) and scipy (resample_poly, sosfiltfilt)."""
import os
import sys
from fractions import Fraction

import h5py
import numpy as np
import pytest
import scipy.signal

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import recordings_testlib as lib  # noqa: E402


@pytest.mark.parametrize("name", lib.RECORDINGS)
def test_names_rates_and_first_seconds_match_mne(name, tmp_path):
    out = tmp_path / "raw.h5"
    lib.run_ok("inspect", lib.recording(name), "--raw-output", out, "--seconds", 10)
    raw, volts = lib.read_mne(name)
    with h5py.File(out, "r") as f:
        signals = f["signals"]
        assert len(signals) == len(raw.ch_names)
        for i, mne_name in enumerate(raw.ch_names):
            ds = signals[str(i)]
            assert ds.attrs["label"] == mne_name
            assert ds.attrs["rate_hz"] == raw.info["sfreq"]
            assert len(ds) == int(10 * raw.info["sfreq"])
            ours = ds[()] * lib.UNIT_TO_VOLTS[ds.attrs["unit"]]  # the same units as MNE: volts
            ref = volts[i, : len(ours)]
            np.testing.assert_allclose(ours, ref, rtol=1e-6, atol=1e-6 * np.abs(ref).max(), err_msg=mne_name)


@pytest.mark.parametrize("name", lib.RECORDINGS)
def test_channel_mapping_name_by_name(name, tmp_path):
    out = tmp_path / "pre.h5"
    lib.run_ok("preprocess", lib.recording(name), "--output", out)
    mapping, dropped = lib.MAPPINGS[name]
    with h5py.File(out, "r") as f:
        used = dict(zip(lib.strings(f["source_labels"]), lib.strings(f["recording_channels"])))
        got_dropped = dict(zip(lib.strings(f["channels_dropped"]), lib.strings(f["channels_dropped_reason"])))
        assert lib.strings(f["channels_filled"]) == []
    assert used == {label: ch for label, ch in mapping.items() if ch is not None}
    assert got_dropped == dropped
    assert set(used) | set(got_dropped) == set(mapping)


@pytest.mark.parametrize("name", lib.RECORDINGS)
def test_resampling_matches_scipy_resample_poly(name, tmp_path):
    out = tmp_path / "pre.h5"
    lib.run_ok("preprocess", lib.recording(name), "--output", out)
    raw, volts = lib.read_mne(name)
    ratio = Fraction(256, int(round(raw.info["sfreq"])))
    with h5py.File(out, "r") as f:
        ours = f["signals"][()]
        labels = lib.strings(f["source_labels"])
        assert list(f["resample_up"][()]) == [ratio.numerator] * len(labels)
        assert list(f["resample_down"][()]) == [ratio.denominator] * len(labels)
        assert f.attrs["unit"] == "mV" and f.attrs["sampling_rate_hz"] == 256
    for c, label in enumerate(labels):
        ref = scipy.signal.resample_poly(volts[raw.ch_names.index(label)] * 1e3, ratio.numerator, ratio.denominator)
        assert ours.shape[1] == ref.shape[0]
        assert np.abs(ours[c] - ref).max() <= 1e-5 * np.abs(ref).max(), label


def test_average_reference_and_filters_match_scipy(tmp_path):
    name = "Subject00_1.edf"  # 182 s: the chunked filter joins chunks at 60 s and 120 s
    out = tmp_path / "pre.h5"
    lib.run_ok("preprocess", lib.recording(name), "--output", out, "--average-reference", "--bandpass", "0.5,40",
               "--notch", "50")
    raw, volts = lib.read_mne(name)
    with h5py.File(out, "r") as f:
        ours = f["signals"][()]
        labels = lib.strings(f["source_labels"])
        assert f.attrs["average_reference"] == 1
        assert f.attrs["bandpass_low_hz"] == 0.5 and f.attrs["bandpass_high_hz"] == 40
        assert f.attrs["notch_hz"] == 50 and f.attrs["notch_q"] == 30
    x = np.stack([scipy.signal.resample_poly(volts[raw.ch_names.index(l)] * 1e3, 64, 125) for l in labels])
    sos = np.vstack([scipy.signal.butter(4, [0.5, 40], "bandpass", fs=256, output="sos"),
                     scipy.signal.tf2sos(*scipy.signal.iirnotch(50, 30, fs=256))])
    ref = scipy.signal.sosfiltfilt(sos, x, axis=1)
    ref = ref - ref.mean(axis=0, keepdims=True)
    assert np.abs(ours - ref).max() <= 1e-5 * np.abs(ref).max()


def test_average_reference_leaves_out_zero_filled_channels(tmp_path):
    """The mean is taken over the recorded channels only: NumPy on the engine's unreferenced signals."""
    rec = lib.recording("Subject00_2.edf")
    montage = "FP1,FP2,C3,C4,PO5,O1,O2,POZ"  # PO5 and POZ are not in the recording
    plain, referenced = tmp_path / "plain.h5", tmp_path / "ref.h5"
    lib.run_ok("preprocess", rec, "--output", plain, "--channels", montage, "--fill-missing", "zeros")
    lib.run_ok("preprocess", rec, "--output", referenced, "--channels", montage, "--fill-missing", "zeros",
               "--average-reference")
    with h5py.File(plain, "r") as f:
        x = f["signals"][()].astype(np.float64)
        filled = lib.strings(f["channels_filled"])
    with h5py.File(referenced, "r") as f:
        ours = f["signals"][()]
    names = montage.split(",")
    assert filled == ["PO5", "POZ"]
    recorded = [i for i, n in enumerate(names) if n not in filled]
    expected = np.zeros_like(x)
    expected[recorded] = x[recorded] - x[recorded].mean(axis=0, keepdims=True)
    peak = np.abs(expected).max()
    assert np.abs(ours - expected).max() <= 1e-6 * peak
    wrong = x - x.mean(axis=0, keepdims=True)  # dividing by every channel, the zero-filled ones too
    wrong[[names.index(n) for n in filled]] = 0
    assert np.abs(ours - wrong).max() > 1e-3 * peak


@pytest.mark.parametrize("low", [0.5, 0.1])
def test_chunked_filters_meet_the_documented_bounds_at_the_start_inside_and_at_the_end(tmp_path, low):
    """docs/recordings.md: identical to sosfiltfilt at both ends of the recording, within 1e-7 of its peak inside.
    float32 outputs: each value may also differ by its own rounding (2^-24 relative)."""
    name = "Subject00_1.edf"  # 182 s: chunks join at 60 s and 120 s
    out = tmp_path / "f.h5"
    lib.run_ok("preprocess", lib.recording(name), "--output", out, "--bandpass", "%g,40" % low, "--notch", "50")
    raw, volts = lib.read_mne(name)
    with h5py.File(out, "r") as f:
        ours = f["signals"][()].astype(np.float64)
        labels = lib.strings(f["source_labels"])
        context = f.attrs["filter_context_s"]
    assert context == 10 + 9 / low
    x = np.stack([scipy.signal.resample_poly(volts[raw.ch_names.index(l)] * 1e3, 64, 125) for l in labels])
    sos = np.vstack([scipy.signal.butter(4, [low, 40], "bandpass", fs=256, output="sos"),
                     scipy.signal.tf2sos(*scipy.signal.iirnotch(50, 30, fs=256))])
    ref = scipy.signal.sosfiltfilt(sos, x, axis=1)
    peak = np.abs(ref).max()
    excess = np.abs(ours - ref) - 2.0 ** -24 * np.abs(ref)  # beyond the float32 rounding of each value
    n = ref.shape[1]
    start, end = excess[:, : 10 * 256], excess[:, n - 10 * 256:]
    assert start.max() <= 1e-9 * peak and end.max() <= 1e-9 * peak, (start.max() / peak, end.max() / peak)
    print("low %g: start %.2e end %.2e inside %.2e of the peak" % (low, start.max() / peak, end.max() / peak, excess.max() / peak))
    assert excess.max() <= 1e-7 * peak, excess.max() / peak
