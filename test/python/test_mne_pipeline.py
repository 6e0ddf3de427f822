"""The engine's MNE preprocessing end to end, against MNE 1.4.2 itself (run with the Python of the
MNE 1.4.2 venv, build/mne_venv, made by the CTest fixture "mne: MNE 1.4.2 venv"):

1. `eegpt embed --filter-design mne --bandpass 0.5,45 --resample-method fft` on a real 500 Hz
   recording equals the official encoder (the reference PyTorch encoder, float64) on windows an MNE
   user prepares: raw.filter(0.5, 45), raw.resample(256), volts -> millivolts, 4 s windows.
2. The official TUAB data preparation (downstream_tueg/dataset_maker/make_TUAB.py of BINE022/EEGPT,
   its steps re-stated here: drop the listed channels, reorder to the 23 TUH channels, check the
   order, raw.filter(l_freq=0.1, h_freq=75.0), raw.notch_filter(50.0), raw.resample(200),
   get_data(units='uV')) equals `eegpt preprocess --head` with a TUAB head (whose /preparation
   group the converter writes), to 1e-5 of the peak at every sample; and `eegpt classify` with that
   head (random weights) equals the official TUAB forward (PyTorch, float64) on 10 s windows of
   the MNE-prepared data in uV / 100, to 1e-5.

The real recordings are not TUH recordings: they lack A1, A2, T1 and T2 and name their channels
'EEG Fp1'. So the TUAB case runs on a copy of the real 500 Hz recording written as a TUH-layout EDF
('EEG FP1-REF' ... 'EEG T2-REF', A1 A2 T1 T2 made from neighbours as test_downstream does, plus an
'EEG EKG1-REF' signal that make_TUAB.py drops): make_TUAB.py's steps then apply to it unchanged,
and both sides read the same file.
"""
import copy
import os
import subprocess
import sys

import h5py
import numpy as np
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import recordings_testlib as lib  # noqa: E402

REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "tools"))
sys.path.insert(0, os.path.join(REPO, "tools", "fixtures"))
import eegpt_format as fmt  # noqa: E402

mne = pytest.importorskip("mne")
if mne.__version__ != "1.4.2":
    pytest.fail("these tests compare with MNE 1.4.2 (the official makers' version); this Python has MNE %s: "
                "run them with build/mne_venv/bin/python" % mne.__version__, pytrace=False)
mne.set_log_level("ERROR")

import downstream_reference as ref  # noqa: E402  (needs torch)
import eegpt_reference  # noqa: E402
import test_downstream as ds  # noqa: E402  (the random TUAB model, its checkpoint and the EDF writer)

REC = "Subject00_1.edf"  # EEGMAT, 500 Hz
TOL = 1e-5


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    return lib.write_random_weights(tmp_path_factory.mktemp("w") / "small.h5", embed_dim=32, embed_num=4, depth=2)


def mne_prepared_windows(l_freq, h_freq):
    """An MNE user's windows: the mapped channels, raw.filter, raw.resample(256), mV, 4 s windows."""
    raw, _ = lib.read_mne(REC)
    mapping, _ = lib.MAPPINGS[REC]
    labels = [label for label in raw.ch_names if mapping[label] is not None]
    raw.pick(labels)
    raw.filter(l_freq, h_freq)
    raw.resample(256)
    data = raw.get_data() * 1e3
    n = (data.shape[1] - 1024) // 1024 + 1
    x = np.stack([data[:, w * 1024:(w + 1) * 1024] for w in range(n)]).astype(np.float32)
    return x, [mapping[label] for label in labels]


def official_features(weights, x, names):
    model, _ = eegpt_reference.load_model(str(weights))
    return eegpt_reference.encode(model, x, fmt.channel_ids(names))


def embed(weights, tmp_path, tag, *options):
    out = tmp_path / ("%s.features.h5" % tag)
    lib.run_ok("embed", lib.recording(REC), "--weights", weights, "--output", out, "--quiet", *options)
    with h5py.File(out, "r") as f:
        return f["features"][()], dict(f.attrs), lib.strings(f["channels"])


def test_embed_with_mne_filters_and_fft_equals_mne_prepared_windows(weights, tmp_path):
    got, attrs, names = embed(weights, tmp_path, "mne", "--filter-design", "mne", "--bandpass", "0.5,45",
                              "--resample-method", "fft")
    x, mne_names = mne_prepared_windows(0.5, 45)
    assert names == mne_names
    expected = official_features(weights, x, names)
    assert got.shape == expected.shape
    assert np.abs(got - expected).max() <= TOL * np.abs(expected).max()
    assert attrs["filter_design"] == "mne" and attrs["resample_method"] == "fft"
    assert attrs["bandpass_low_hz"] == 0.5 and attrs["bandpass_high_hz"] == 45.0
    assert attrs["bandpass_order"] == 0  # no Butterworth order
    assert "raw.resample" in attrs["resampling"] and "MNE" in attrs["filter"]
    # the band-pass's look-ahead at 500 Hz: half MNE's 'auto' length for a 0.5 Hz transition, (3.3 / 0.5) / 2 s
    assert 3.0 < float(attrs["filter_context_s"]) < 3.5
    job = attrs["job"]
    assert "\nfilter_design=mne" in job and "\nresample_method=fft" in job

    # The test can fail: the scipy design with polyphase resampling, the same band, is far away.
    scipy, _, _ = embed(weights, tmp_path, "scipy", "--bandpass", "0.5,45")
    assert np.abs(scipy - expected).max() > 100 * TOL * np.abs(expected).max()


def test_streamed_mne_filters_with_poly_resampling_equal_mne_filters_then_resample_poly(weights, tmp_path):
    """--filter-design mne alone streams (poly): MNE's raw.filter, then scipy's resample_poly."""
    import scipy.signal

    got, attrs, names = embed(weights, tmp_path, "mne-poly", "--filter-design", "mne", "--bandpass", "0.5,45")
    raw, _ = lib.read_mne(REC)
    mapping, _ = lib.MAPPINGS[REC]
    raw.pick([label for label in raw.ch_names if mapping[label] is not None])
    raw.filter(0.5, 45)
    data = np.stack([scipy.signal.resample_poly(row * 1e3, 64, 125) for row in raw.get_data()])
    n = (data.shape[1] - 1024) // 1024 + 1
    x = np.stack([data[:, w * 1024:(w + 1) * 1024] for w in range(n)]).astype(np.float32)
    expected = official_features(weights, x, names)
    assert attrs["resample_method"] == "poly"
    assert np.abs(got - expected).max() <= TOL * np.abs(expected).max()


# ---------------------------------------------------------------- TUAB: the official preparation
# make_TUAB.py's lists (BINE022/EEGPT downstream_tueg/dataset_maker/make_TUAB.py), re-stated.
DROP = (["PHOTIC-REF", "IBI", "BURSTS", "SUPPR", "EEG ROC-REF", "EEG LOC-REF", "EEG EKG1-REF", "EMG-REF",
         "EEG C3P-REF", "EEG C4P-REF", "EEG SP1-REF", "EEG SP2-REF", "EEG LUC-REF", "EEG RLC-REF", "EEG RESP1-REF",
         "EEG RESP2-REF", "EEG EKG-REF", "RESP ABDOMEN-REF", "ECG EKG-REF", "PULSE RATE", "EEG PG2-REF", "EEG PG1-REF"]
        + ["EEG %d-REF" % i for i in range(20, 129)])
ORDER = ["EEG %s-REF" % c for c in "FP1 FP2 F3 F4 C3 C4 P3 P4 O1 O2 F7 F8 T3 T4 T5 T6 A1 A2 FZ CZ PZ T1 T2".split()]


def make_tuab_preparation(path):
    """make_TUAB.py's split_and_dump up to the data: (channels x samples, uV)."""
    raw = mne.io.read_raw_edf(str(path), preload=True)
    raw.drop_channels([ch for ch in DROP if ch in raw.ch_names])
    if len(ORDER) == len(raw.ch_names):
        raw.reorder_channels(ORDER)
    assert raw.ch_names == ORDER, "channel order is wrong!"
    raw.filter(l_freq=0.1, h_freq=75.0)
    raw.notch_filter(50.0)
    raw.resample(200)
    return raw.get_data(units="uV")


@pytest.fixture(scope="module")
def tuab(tmp_path_factory):
    """A TUH-layout copy of the real 500 Hz recording, a random TUAB model, its converted files."""
    work = tmp_path_factory.mktemp("tuab")
    raw = mne.io.read_raw_edf(lib.recording(REC), preload=True)
    uv = {name.split()[-1].split("-")[0].upper(): raw.get_data(picks=[i])[0] * 1e6 for i, name in enumerate(raw.ch_names)}
    uv["A1"], uv["A2"] = 0.5 * (uv["T3"] + uv["T5"]), 0.5 * (uv["T4"] + uv["T6"])
    uv["T1"], uv["T2"] = 0.5 * (uv["F7"] + uv["T3"]), 0.5 * (uv["F8"] + uv["T4"])
    seconds, rate = 60, 500
    # the order of a TUH file is not make_TUAB's: reversed here, so that the reordering matters
    labels = ORDER[::-1] + ["EEG EKG1-REF"]
    data = np.stack([uv[l.split()[1].split("-")[0]][:seconds * rate] for l in ORDER[::-1]] + [uv["ECG"][:seconds * rate]])
    edf = ds.write_edf(work / "tuh_500hz.edf", labels, data, rate)
    model, config = ds.make_model("tuab", 11)
    ckpt, head, w = work / "tuab.ckpt", work / "tuab.head.h5", work / "tuab.weights.h5"
    ds.save_checkpoint("tuab", model, ckpt)
    for tool, args in (("convert_ckpt.py", (ckpt, w)), ("convert_head.py", (ckpt, head, "--recipe", "tuab"))):
        r = ds.run_tool(tool, *args)
        assert r.returncode == 0, r.stderr
    return dict(edf=edf, model=model, head=head, weights=w, work=work)


def test_the_converter_writes_the_tuab_preparation(tuab, tmp_path):
    with h5py.File(tuab["head"], "r") as f:
        p = dict(f["preparation"].attrs)
    assert p["name"] == "tuab" and p["filter_design"] == "mne" and p["resample_method"] == "fft"
    assert (p["bandpass_low_hz"], p["bandpass_high_hz"], p["notch_hz"]) == (0.1, 75.0, 50.0)
    assert p["sample_rate_hz"] == 200.0 and p["unit_mv"] == 0.1
    assert [s.decode() if isinstance(s, bytes) else s for s in p["channels"]] == [c.split()[1][:-4] for c in ORDER]
    bare = tmp_path / "bare.h5"
    r = ds.run_tool("convert_head.py", tuab["work"] / "tuab.ckpt", bare, "--recipe", "tuab", "--no-preparation")
    assert r.returncode == 0, r.stderr
    with h5py.File(bare, "r") as f:
        assert "preparation" not in f


def test_eegpt_preprocess_with_the_tuab_head_equals_make_tuab(tuab, tmp_path):
    expected_uv = make_tuab_preparation(tuab["edf"])
    pre = tmp_path / "pre.h5"
    lib.run_ok("preprocess", tuab["edf"], "--head", tuab["head"], "--output", pre)
    with h5py.File(pre, "r") as f:
        got_uv = f["signals"][()].astype(np.float64) * 1e3
        attrs = dict(f.attrs)
        channels = lib.strings(f["channels"])
    assert attrs["filter_design"] == "mne" and attrs["resample_method"] == "fft" and attrs["notch_hz"] == 50.0
    assert float(attrs["sampling_rate_hz"]) == 200.0
    assert channels == [c.split()[1][:-4] for c in ORDER]
    assert got_uv.shape == expected_uv.shape
    assert np.abs(got_uv - expected_uv).max() <= TOL * np.abs(expected_uv).max()
    # without the preparation (as before heads carried one) the numbers are far from make_TUAB's
    plain = tmp_path / "plain.h5"
    lib.run_ok("preprocess", tuab["edf"], "--head", tuab["head"], "--output", plain, "--bandpass", "off",
               "--notch", "0", "--resample-method", "poly")
    with h5py.File(plain, "r") as f:
        plain_uv = f["signals"][()].astype(np.float64) * 1e3
    assert np.abs(plain_uv - expected_uv).max() > 100 * TOL * np.abs(expected_uv).max()


def test_eegpt_classify_with_the_tuab_head_equals_the_official_forward_on_make_tuab_windows(tuab, tmp_path):
    out = tmp_path / "pred.h5"
    r = subprocess.run([lib.binary(), "classify", str(tuab["edf"]), "--weights", str(tuab["weights"]), "--head",
                        str(tuab["head"]), "--output", str(out)], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[0] == ("preparation from the head (tuab): mne FIR 0.1-75 Hz, notch 50 Hz, "
                                        "fft resampling to 200 Hz; options override it")
    uv = make_tuab_preparation(tuab["edf"])
    # make_TUAB.py dumps 2000-sample pieces; the training loop divides them by 100
    x = np.stack([uv[:, i * 2000:(i + 1) * 2000] for i in range(uv.shape[1] // 2000)]) / 100
    expected = ds.probabilities(ref.forward(copy.deepcopy(tuab["model"]).double(), x), "sigmoid")
    with h5py.File(out, "r") as f:
        got = f["probabilities"][()]
        assert f.attrs["filter_design"] == "mne" and f.attrs["resample_method"] == "fft"
    assert got.shape == expected.shape == (6, 1)
    np.testing.assert_allclose(got, expected, rtol=TOL, atol=1e-7)


def one_line_error(r):
    assert r.returncode != 0
    lines = [ln for ln in r.stderr.splitlines() if ln.strip() and "are untrained" not in ln]
    assert len(lines) == 1 and lines[0].startswith("eegpt: error: "), r.stderr
    return lines[0][len("eegpt: error: "):]


def test_bad_choices_and_contradictions_are_one_line_errors(weights, tuab, tmp_path):
    rec = lib.recording(REC)
    out = ["--weights", weights, "--output", tmp_path / "x.h5"]
    assert one_line_error(lib.run("embed", rec, *out, "--filter-design", "fir")).startswith(
        "--filter-design 'fir': must be 'scipy'")
    assert one_line_error(lib.run("preprocess", rec, "--output", tmp_path / "p.h5", "--resample-method", "sinc")).startswith(
        "--resample-method 'sinc': must be 'poly'")
    assert one_line_error(lib.run("embed", rec, *out, "--filter-design", "mne")) == (
        "--filter-design mne: there is no filter to design; give --bandpass or --notch")
    assert one_line_error(lib.run("embed", rec, *out, "--filter-design", "mne", "--bandpass", "0.5,45",
                                  "--bandpass-order", "6")).startswith("--bandpass-order is the order of the Butterworth")
    assert one_line_error(lib.run("embed", rec, *out, "--filter-design", "mne", "--notch", "50", "--notch-q",
                                  "20")).startswith("--notch-q is the quality factor of the IIR notch")
    # the head's design counts as well: its preparation is mne
    r = lib.run("classify", tuab["edf"], "--weights", tuab["weights"], "--head", tuab["head"], "--output",
                tmp_path / "c.h5", "--bandpass-order", "6")
    assert "the head's mne filter design" in one_line_error(r)
    # what MNE refuses at the recording's own rate (500 Hz: Nyquist 250) names the recording
    msg = one_line_error(lib.run("embed", rec, *out, "--filter-design", "mne", "--bandpass", "0.5,300"))
    assert msg.startswith("recording '%s': " % rec) and "300" in msg
    assert not (tmp_path / "x.h5").exists()
