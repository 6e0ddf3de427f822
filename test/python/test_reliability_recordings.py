"""Issue 23, recordings: band-pass designs of every order (scipy's sections), EDF headers read in the
C locale whatever the process locale, header messages that name the field at fault, voltage units.
Every case runs the CLI (EEGPT_BIN) on a real recording (EEGPT_DATA_DIR) or on a copy of one with
header bytes patched."""
import os
import sys

import h5py
import numpy as np
import pytest
import scipy.signal

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import recordings_testlib as lib  # noqa: E402
from test_reliability import one_line_error  # noqa: E402

REC = "Subject00_2.edf"  # 60 s, 21 EEG signals and an annotation signal at 500 Hz, EDF+C


@pytest.fixture(scope="module")
def resampled():
    """The recording as the engine sees it before filtering: MNE's volts in millivolts, scipy's
    resample_poly to 256 Hz; rows by label."""
    raw, volts = lib.read_mne(REC)
    return {name: scipy.signal.resample_poly(volts[i] * 1e3, 64, 125) for i, name in enumerate(raw.ch_names)}


def filtered(tmp_path, bandpass, order):
    out = tmp_path / ("bp%d.h5" % order)
    lib.run_ok("preprocess", lib.recording(REC), "--output", out, "--bandpass", bandpass, "--bandpass-order", order)
    with h5py.File(out, "r") as f:
        return f["signals"][()].astype(np.float64), lib.strings(f["source_labels"])


# ---------------------------------------------------------------- 4. band-pass orders


def excess_over_scipy(ours, labels, resampled, order, low, high):
    """|ours - scipy| beyond the float32 rounding of each value, relative to scipy's peak."""
    x = np.stack([resampled[label] for label in labels])
    ref = scipy.signal.sosfiltfilt(scipy.signal.butter(order, [low, high], "bandpass", fs=256, output="sos"), x, axis=1)
    peak = np.abs(ref).max()
    return (np.abs(ours - ref) - 2.0 ** -24 * np.abs(ref)).max() / peak


@pytest.mark.parametrize("order", range(1, 13))
def test_every_bandpass_order_designs_and_matches_scipy(order, resampled, tmp_path):
    """Odd orders were refused ("poles not in conjugate pairs"): a wide band turns the real prototype
    pole into two real poles. 60 s with 19 s of context on each side: one chunk, so scipy's result
    to its rounding (1e-9 of the peak, the bound docs/recordings.md gives at the recording's ends)."""
    ours, labels = filtered(tmp_path, "1,40", order)
    excess = excess_over_scipy(ours, labels, resampled, order, 1, 40)
    print("order %d: %.2e of the peak beyond float32 rounding" % (order, excess))
    assert excess <= 1e-9


def test_a_wide_bandpass_of_order_12_is_finite_and_matches_scipy(resampled, tmp_path):
    """0.01 to 127.99 Hz at 256 Hz, order 12 was refused as not finite: every section had one zero
    at 1 and one at -1, so sections with poles near -1 amplified by orders of magnitude what later ones
    removed; scipy pairs each pole pair with its nearest zeros. The design is ill-conditioned (poles
    2.5e-4 from z = +-1): scipy's own result moves by about 3e-9 of its peak when its coefficients move
    by 4 ulp, hence 1e-8 here instead of 1e-9."""
    ours, labels = filtered(tmp_path, "0.01,127.99", 12)
    assert np.isfinite(ours).all()
    excess = excess_over_scipy(ours, labels, resampled, 12, 0.01, 127.99)
    print("%.2e of the peak beyond float32 rounding" % excess)
    assert excess <= 1e-8
