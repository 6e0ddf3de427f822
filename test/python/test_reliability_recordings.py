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


# ---------------------------------------------------------------- 18. header messages


NS = 22  # signals of REC, the annotation signal last


def signal_field(field, signal):
    """Byte offset of a per-signal header field of REC (0 label, 2 unit, 3 physical minimum ... 8 samples per record)."""
    widths = [16, 80, 8, 8, 8, 8, 8, 80, 8, 32]
    return 256 + sum(w * NS for w in widths[:field]) + widths[field] * signal


def patched(tmp_path, name, patches):
    """A copy of REC with header bytes replaced: patches maps a byte offset to the bytes written there."""
    data = bytearray(open(lib.recording(REC), "rb").read())
    assert data[192:197] == b"EDF+C" and data[signal_field(0, NS - 1):][:16] == b"EDF Annotations "
    for offset, new in patches.items():
        data[offset:offset + len(new)] = new
    path = tmp_path / name
    path.write_bytes(bytes(data))
    return path


@pytest.mark.parametrize("patches, needle", [
    ({168: b"99.99.99"}, "startdate field '99.99.99' is not a date dd.mm.yy"),
    ({176: b"24.00.00"}, "starttime field '24.00.00' is not a time hh.mm.ss"),
    ({signal_field(3, 1): b"0x10    "}, "signal 2 'EEG Fp2': physical minimum '0x10' is not a number"),
    ({236: b"62\0\0\0\0\0\0"}, "number-of-data-records field '62\\x00\\x00\\x00\\x00\\x00\\x00' holds a byte outside"),
    ({236: b" 62     "}, "number-of-data-records field ' 62' starts with a space (EDF numbers are left-aligned)"),
    ({signal_field(8, 0): b"500.0   "}, "signal 1 'EEG Fp1': samples per record '500.0' is not an integer"),
], ids=["date", "time", "hex-physical-minimum", "nul-in-record-count", "space-in-record-count", "dot-in-integer"])
def test_header_messages_name_the_field_at_fault_in_patched_real_headers(patches, needle, tmp_path):
    """EDFlib refuses each of these; the engine's own check of the header said the fixed fields looked
    sound ("EDFlib reports format errors ... (the fixed header fields look sound ...)")."""
    rec = patched(tmp_path, "bad.edf", patches)
    for args in (["inspect", rec], ["preprocess", rec, "--output", tmp_path / "p.h5"]):
        line = one_line_error(lib.run(*args))
        assert needle in line and "look sound" not in line, line
    assert not (tmp_path / "p.h5").exists()


def test_an_edf_plus_file_without_an_annotation_signal_is_read_as_plain_edf_and_says_why(tmp_path):
    """EDFlib refuses EDF+C without an annotation signal; every signal holds samples, so the plain
    reading is the file's (as MNE reads it). Was: "EDFlib reports format errors ... (the fixed header
    fields look sound ...)"."""
    rec = patched(tmp_path, "plus.edf", {signal_field(0, NS - 1): b"EEG Extra       "})
    r = lib.run_ok("preprocess", rec, "--output", tmp_path / "p.h5")
    assert ("reserved field says EDF+C, but no signal is labelled 'EDF Annotations' (which EDF+ requires): EDFlib "
            "refuses it; read from a repaired temporary copy as plain EDF") in r.stderr, r.stderr
    plain, labels = preprocessed(lib.recording(REC), tmp_path / "plain.h5")
    with h5py.File(tmp_path / "p.h5", "r") as f:
        np.testing.assert_array_equal(f["signals"][()], plain)
        assert lib.strings(f["source_labels"]) == labels


# ---------------------------------------------------------------- units


def preprocessed(rec, out):
    lib.run_ok("preprocess", rec, "--output", out)
    with h5py.File(out, "r") as f:
        return f["signals"][()].astype(np.float64), lib.strings(f["source_labels"])


@pytest.mark.parametrize("unit, factor", [(b"kV      ", 1e9), (b"\xce\xbcV     ", 1.0), (b"\xb5V      ", 1.0),
                                          (b"nV      ", 1e-3)], ids=["kV", "greek-mu", "latin1-micro", "nV"])
def test_voltage_units_scale_the_signal(unit, factor, tmp_path):
    """Signal 2 (EEG Fp2, recorded in uV) relabelled: kV and the Greek mu were dropped as "not a voltage"."""
    plain, labels = preprocessed(lib.recording(REC), tmp_path / "plain.h5")
    ours, relabelled = preprocessed(patched(tmp_path, "unit.edf", {signal_field(2, 1): unit}), tmp_path / "unit.h5")
    assert relabelled == labels
    row = labels.index("EEG Fp2")
    np.testing.assert_allclose(ours[row], plain[row] * factor, rtol=1e-6, atol=0)
    others = [i for i in range(len(labels)) if i != row]
    np.testing.assert_array_equal(ours[others], plain[others])
