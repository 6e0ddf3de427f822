"""Helpers shared by the Python tests: running the engine CLI and the converter, writing input files,
loading real EEG windows, comparing outputs."""
import os
import re
import subprocess
import sys
from fractions import Fraction

import h5py
import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TOOLS = os.path.join(REPO, "tools")
FIXTURES = os.path.join(REPO, "weights", "fixtures")
# tools/: eegpt_format, convert_ckpt; tools/fixtures/: eegpt_reference
sys.path[:0] = [d for d in (TOOLS, os.path.join(TOOLS, "fixtures")) if d not in sys.path]

import eegpt_format as fmt  # noqa: E402

PYTHON = sys.executable  # the tests are run with /usr/bin/python3; the tools need the same torch/h5py


def rel_err(out, ref):
    """||out - ref||_2 / ||ref||_2 over the whole array, in float64."""
    out = np.asarray(out, dtype=np.float64)
    ref = np.asarray(ref, dtype=np.float64)
    return float(np.linalg.norm(out - ref) / np.linalg.norm(ref))


def write_input(path, x, channels, x_dtype=None):
    with h5py.File(path, "w") as f:
        f.create_dataset("x", data=np.asarray(x) if x_dtype is None else np.asarray(x, dtype=x_dtype))
        f.create_dataset("channels", data=np.array(list(channels), dtype=object),
                         dtype=h5py.string_dtype("utf-8"))


def engine_path():
    path = os.environ.get("EEGPT_BIN", os.path.join(REPO, "build", "eegpt"))
    return path if os.path.isabs(path) else os.path.join(REPO, path)


def require_engine(binary):
    import pytest

    if not (os.path.isfile(binary) and os.access(binary, os.X_OK)):
        pytest.fail("engine binary not found or not executable: %s (build it, or set EEGPT_BIN)"
                    % binary, pytrace=False)


def run_engine(binary, weights, inp, out, device=None, timeout=600):
    require_engine(binary)
    cmd = [binary, "encode", "--weights", str(weights), "--input", str(inp), "--output", str(out)]
    device = device or os.environ.get("EEGPT_DEVICE")
    if device:
        cmd += ["--device", device]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


def encode_with_engine(binary, weights, x, channels, tmpdir, tag="run"):
    """Run `eegpt encode` on (x, channels); returns (features, channel_ids), asserting success."""
    inp = os.path.join(str(tmpdir), tag + "_in.h5")
    out = os.path.join(str(tmpdir), tag + "_out.h5")
    write_input(inp, x, channels)
    r = run_engine(binary, weights, inp, out)
    assert r.returncode == 0, "eegpt encode failed (rc=%d): %s" % (r.returncode, r.stderr.strip())
    with h5py.File(out, "r") as f:
        feats = f["features"][()]
        ids = f["channel_ids"][()]
    assert feats.dtype == np.float32, "features dtype %s, expected float32" % feats.dtype
    return feats, ids


def run_converter(*args, timeout=600):
    cmd = [PYTHON, os.path.join(TOOLS, "convert_ckpt.py")] + [str(a) for a in args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


# The one warning a random-initialised weight file gets when a command loads it (engine/cli/model.cpp);
# the test fixtures are such files, so an error after loading follows it.
UNTRAINED_WARNING = re.compile(r"eegpt: warning: weights '[^\n]*' are untrained \(random-initialised, seed \d+\): "
                               r"their features and predictions mean nothing")


def error_lines(stderr):
    """stderr's non-empty lines, less one untrained-weights warning (a second one stays: it is a defect)."""
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    for i, ln in enumerate(lines):
        if UNTRAINED_WARNING.fullmatch(ln):
            return lines[:i] + lines[i + 1:]
    return lines


def one_line_error(stderr):
    """The contract for CLI errors: exactly one non-empty line on stderr, no traceback."""
    return len(error_lines(stderr)) == 1 and "Traceback" not in stderr


# ------------------------------------------------------------------ real EEG
_OLD_NAMES = {"T3": "T7", "T4": "T8", "T5": "P7", "T6": "P8"}


def map_edf_label(label):
    """EDF label -> dictionary name or None: 'EEG Fp1-REF' -> 'FP1', 'Cz..' -> 'CZ', 'EEG T3' -> 'T7'."""
    s = label.strip()
    if s.upper().startswith("EEG "):
        s = s[4:]
    s = s.split("-")[0]  # reference suffixes: -REF, -LE, -A1 ...
    s = fmt.normalize_channel(s)
    s = _OLD_NAMES.get(s, s)
    return s if s in fmt.CHANNEL_INDEX else None


def load_edf_mv_256(path, max_channels=None):
    """-> (data float64 C x T in millivolts at 256 Hz, dictionary names), unmappable channels dropped."""
    import mne
    from scipy.signal import resample_poly

    raw = mne.io.read_raw_edf(path, preload=True, verbose="ERROR")
    picks, names = [], []
    for i, lab in enumerate(raw.ch_names):
        name = map_edf_label(lab)
        if name is not None and name not in names:
            picks.append(i)
            names.append(name)
    if max_channels is not None:
        picks, names = picks[:max_channels], names[:max_channels]
    data = raw.get_data(picks=picks) * 1000.0  # MNE gives volts; the model wants millivolts
    ratio = Fraction(256, int(round(raw.info["sfreq"])))
    if ratio != 1:
        data = resample_poly(data, ratio.numerator, ratio.denominator, axis=1)
    return data, names


def cut_windows(data, n, length=1024, start=2560):
    """n consecutive non-overlapping windows, skipping the first 10 s (filter edge effects)."""
    assert data.shape[1] >= start + n * length, "recording too short"
    return np.stack([data[:, start + k * length: start + (k + 1) * length] for k in range(n)]
                    ).astype(np.float32)
