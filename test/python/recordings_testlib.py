"""Helpers of the recording tests (EDF in, features out): running the CLI, small random weight files
written with h5py per docs/weight-format.md, reading the real recordings with MNE, and an independent
Python version of the channel mapping for the three real files.

EEGPT_BIN       engine CLI (default <repo>/build/eegpt)
EEGPT_DATA_DIR  the real EDF recordings (default <repo>/test/data/eeg)
"""
import os
import subprocess
import time

import h5py
import numpy as np
import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DICTIONARY = ("FP1 FPZ FP2 AF7 AF3 AF4 AF8 F7 F5 F3 F1 FZ F2 F4 F6 F8 FT7 FC5 FC3 FC1 FCZ FC2 FC4 FC6 FT8 "
              "T7 C5 C3 C1 CZ C2 C4 C6 T8 TP7 CP5 CP3 CP1 CPZ CP2 CP4 CP6 TP8 P7 P5 P3 P1 PZ P2 P4 P6 P8 "
              "PO7 PO5 PO3 POZ PO4 PO6 PO8 O1 OZ O2").split()
RECORDINGS = ["Subject00_1.edf", "Subject00_2.edf", "S001R03.edf"]


def wait_for(predicate, timeout):
    """Polls predicate until it is true (True) or timeout seconds pass (False)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def binary():
    path = os.path.abspath(os.environ.get("EEGPT_BIN", os.path.join(REPO, "build", "eegpt")))
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        pytest.fail("engine binary not found: %s (build it, or set EEGPT_BIN)" % path, pytrace=False)
    return path


def data_dir():
    path = os.environ.get("EEGPT_DATA_DIR", os.path.join(REPO, "test", "data", "eeg"))
    if not os.path.isdir(path):
        pytest.fail("EEG data directory not found: %s (set EEGPT_DATA_DIR)" % path, pytrace=False)
    return path


def recording(name):
    return os.path.join(data_dir(), name)


def run(*args, timeout=600, **kwargs):
    """Runs the CLI; returns the CompletedProcess (text)."""
    return subprocess.run([binary(), *map(str, args)], capture_output=True, text=True, timeout=timeout, **kwargs)


def run_ok(*args, **kwargs):
    r = run(*args, **kwargs)
    assert r.returncode == 0, "eegpt %s failed:\n%s" % (" ".join(map(str, args)), r.stderr)
    return r


def write_random_weights(path, embed_dim=32, embed_num=4, depth=2, heads=4, seed=0):
    """A random-initialised encoder weight file written with h5py, following docs/weight-format.md."""
    rng = np.random.default_rng(seed)
    D, H, P = embed_dim, 4 * embed_dim, 64
    with h5py.File(path, "w") as f:
        a = f.attrs
        a["format"] = "eegpt-encoder"
        for key, value in dict(format_version=1, embed_dim=D, depth=depth, num_heads=heads, embed_num=embed_num,
                               patch_size=P, mlp_hidden=H, qkv_bias=1, trained=0, random_seed=seed).items():
            a[key] = np.int64(value)
        a["layernorm_eps"] = 1e-6
        a["channel_names"] = DICTIONARY
        for key in ("source_checkpoint", "source_sha256", "source_prefix", "converter_version"):
            a[key] = "pytest random"
        g = f.create_group("encoder")

        def tensor(name, shape, norm=False):
            v = 1 + 0.1 * rng.standard_normal(shape) if norm else 0.05 * rng.standard_normal(shape)
            g.create_dataset(name, data=v.astype(np.float32), fletcher32=True)

        tensor("summary_token", (1, embed_num, D))
        tensor("patch_embed.proj.weight", (D, 1, 1, P))
        tensor("patch_embed.proj.bias", (D,))
        tensor("chan_embed.weight", (62, D))
        for i in range(depth):
            p = "blocks.%d." % i
            tensor(p + "norm1.weight", (D,), True)
            tensor(p + "norm1.bias", (D,))
            tensor(p + "attn.qkv.weight", (3 * D, D))
            tensor(p + "attn.qkv.bias", (3 * D,))
            tensor(p + "attn.proj.weight", (D, D))
            tensor(p + "attn.proj.bias", (D,))
            tensor(p + "norm2.weight", (D,), True)
            tensor(p + "norm2.bias", (D,))
            tensor(p + "mlp.fc1.weight", (H, D))
            tensor(p + "mlp.fc1.bias", (H,))
            tensor(p + "mlp.fc2.weight", (D, H))
            tensor(p + "mlp.fc2.bias", (D,))
        tensor("norm.weight", (D,), True)
        tensor("norm.bias", (D,))
    return path


def strings(dataset):
    return [s.decode() if isinstance(s, bytes) else str(s) for s in dataset[()]]


def read_mne(name):
    """MNE's reading of a real recording: (raw, data in volts)."""
    import mne

    mne.set_log_level("ERROR")
    raw = mne.io.read_raw_edf(recording(name), preload=True, verbose="ERROR")
    return raw, raw.get_data()


# The mapping of the three real files, written out label by label (None: dropped, with the reason
# the engine gives). Old names T3 T4 T5 T6 are T7 T8 P7 P8; EEGMMIDB pads labels with dots.
EEGMAT_MAPPING = {
    "EEG Fp1": "FP1", "EEG Fp2": "FP2", "EEG F3": "F3", "EEG F4": "F4", "EEG F7": "F7", "EEG F8": "F8",
    "EEG T3": "T7", "EEG T4": "T8", "EEG C3": "C3", "EEG C4": "C4", "EEG T5": "P7", "EEG T6": "P8",
    "EEG P3": "P3", "EEG P4": "P4", "EEG O1": "O1", "EEG O2": "O2", "EEG Fz": "FZ", "EEG Cz": "CZ",
    "EEG Pz": "PZ", "EEG A2-A1": None, "ECG ECG": None,
}
EEGMAT_DROPPED = {"EEG A2-A1": "bipolar derivation", "ECG ECG": "non-EEG signal (ECG)"}
EEGMMIDB_LABELS = ("Fc5. Fc3. Fc1. Fcz. Fc2. Fc4. Fc6. C5.. C3.. C1.. Cz.. C2.. C4.. C6.. Cp5. Cp3. Cp1. Cpz. "
                   "Cp2. Cp4. Cp6. Fp1. Fpz. Fp2. Af7. Af3. Afz. Af4. Af8. F7.. F5.. F3.. F1.. Fz.. F2.. F4.. "
                   "F6.. F8.. Ft7. Ft8. T7.. T8.. T9.. T10. Tp7. Tp8. P7.. P5.. P3.. P1.. Pz.. P2.. P4.. P6.. "
                   "P8.. Po7. Po3. Poz. Po4. Po8. O1.. Oz.. O2.. Iz..").split()
EEGMMIDB_MAPPING = {label: (None if label in ("Afz.", "T9..", "T10.", "Iz..") else label.rstrip(".").upper())
                    for label in EEGMMIDB_LABELS}
EEGMMIDB_DROPPED = {label: "not in the 62-name dictionary" for label in ("Afz.", "T9..", "T10.", "Iz..")}
MAPPINGS = {"Subject00_1.edf": (EEGMAT_MAPPING, EEGMAT_DROPPED), "Subject00_2.edf": (EEGMAT_MAPPING, EEGMAT_DROPPED),
            "S001R03.edf": (EEGMMIDB_MAPPING, EEGMMIDB_DROPPED)}
UNIT_TO_VOLTS = {"uV": 1e-6, "mV": 1e-3, "V": 1.0}


def prepared_windows(name, stride=512, up_down=None):
    """Windows prepared independently of the engine: MNE read, volts -> millivolts, scipy
    resample_poly to 256 Hz, 1024-sample windows every `stride` samples. Returns (x, channel names,
    window starts in seconds)."""
    from fractions import Fraction

    import scipy.signal

    raw, data = read_mne(name)
    mapping, _ = MAPPINGS[name]
    picks = [i for i, label in enumerate(raw.ch_names) if mapping[label] is not None]
    names = [mapping[raw.ch_names[i]] for i in picks]
    ratio = Fraction(256, int(round(raw.info["sfreq"])))
    up, down = up_down or (ratio.numerator, ratio.denominator)
    signals = np.stack([scipy.signal.resample_poly(data[i] * 1e3, up, down) for i in picks])
    n = (signals.shape[1] - 1024) // stride + 1
    x = np.stack([signals[:, w * stride: w * stride + 1024] for w in range(n)]).astype(np.float32)
    return x, names, np.arange(n) * stride / 256.0


def write_edf(path, seconds, rate=200, labels=("EEG Fp1-REF", "EEG Cz-REF", "EEG O2-REF")):
    """A small plain EDF file (ramp-like samples), written with the fuzz corpus's byte writer."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_corpus", os.path.join(REPO, "test", "fuzz", "make_corpus.py"))
    corpus = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(corpus)
    signals = [corpus.eeg(label, rate) for label in labels]
    with open(path, "wb") as f:
        f.write(corpus.edf_bytes(signals, records=seconds))
    return path
