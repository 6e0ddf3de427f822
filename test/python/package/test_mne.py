"""MNE objects in the package, on real recordings: eegpt.map_channels is the CLI's mapping and
Model.encode takes MNE's names; embed takes Raw, Epochs and arrays; info['bads'], BAD_ annotations
and a cropped Raw as documented; the checks that catch the common mistakes (units, rates,
untrained weights, argument types, Python words in messages)."""
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest

import eegpt
from conftest import D, E, lib

mne = pytest.importorskip("mne")


def read_raw(name, sfreq=None):
    raw = mne.io.read_raw_edf(lib.recording(name), preload=True, verbose="ERROR")
    if sfreq is not None:  # at the model's rate: the engine does not resample, windows are exact
        raw.resample(sfreq, verbose="ERROR")
    return raw


def quiet_embed(recording, model, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return eegpt.embed(recording, model, progress=False, **kwargs)


def test_map_channels_is_the_cli_mapping(model):
    raw = read_raw("Subject00_1.edf")
    m = eegpt.map_channels(raw.ch_names)
    rec = eegpt.embed(lib.recording("Subject00_1.edf"), model, progress=False)  # the CLI's pipeline
    assert m.names == rec.channels and m.dropped == rec.dropped
    assert [raw.ch_names[i] for i in m.index] == ["EEG " + c for c in ["Fp1", "Fp2", "F3", "F4", "F7", "F8",
                                                                        "T3", "T4", "C3", "C4", "T5", "T6", "P3",
                                                                        "P4", "O1", "O2", "Fz", "Cz", "Pz"]]
    m = eegpt.map_channels(["EEG Fp1-REF", "T3", "ECG ECG", "F3-C3", "Fp1"])
    assert m.names == ["FP1", "T7"] and m.index == [0, 1]
    assert m.dropped == [("ECG ECG", "non-EEG signal (ECG)"), ("F3-C3", "bipolar derivation"),
                         ("Fp1", "duplicate of 'EEG Fp1-REF' (both are FP1)")]
    m = eegpt.map_channels(["EEG Fp1-REF", "T3"], channels=["T7", "CZ"], fill_missing=True)
    assert m.names == ["T7", "CZ"] and m.index == [1, -1] and m.filled == ["CZ"]


def test_encode_takes_mne_names(model):
    raw = read_raw("Subject00_1.edf")
    m = eegpt.map_channels(raw.ch_names)
    x = 1e3 * raw.get_data(picks=m.index)[None, :, :1024]  # volts to millivolts
    expected = model.encode(x, m.names)
    mne_names = [raw.ch_names[i] for i in m.index]
    assert "EEG T3" in mne_names
    np.testing.assert_array_equal(model.encode(x, mne_names), expected)
    names = [{"EEG Fp1": "EEG Fp1-REF", "EEG T3": "T3"}.get(n, n) for n in mne_names]
    assert names[0] == "EEG Fp1-REF" and "T3" in names
    np.testing.assert_array_equal(model.encode(x, names), expected)
    with pytest.raises(eegpt.Error, match="unknown channel 'ECG ECG'"):
        model.encode(x[:, :2], ["EEG Fp1", "ECG ECG"])


def test_epochs_equal_raw_on_the_same_windows(model):
    raw = read_raw("S001R03.edf", sfreq=256)
    from_raw = eegpt.embed(raw, model, stride=4.0, progress=False)
    epochs = mne.make_fixed_length_epochs(raw, duration=4.0, preload=True, verbose="ERROR")
    assert epochs.get_data().shape[2] == 1024
    from_epochs = eegpt.embed(epochs, model, progress=False)
    n = len(epochs)
    assert n == len(from_raw)  # the raw has no samples past the last whole epoch's 4 s
    np.testing.assert_array_equal(from_epochs.features, from_raw.features[:n])
    np.testing.assert_array_equal(from_epochs.window_start_s, from_raw.window_start_s[:n])
    np.testing.assert_array_equal(from_epochs.epoch, np.arange(n))
    assert from_epochs.channels == from_raw.channels and from_epochs.metadata["recording"].startswith("mne.Epochs")
    # EEGPTFeatures on the Epochs: the same windows, pooled.
    features = eegpt.EEGPTFeatures(model).fit_transform(epochs)
    np.testing.assert_array_equal(features, from_raw.features[:n].mean(axis=(1, 2)))
    # The same epochs as a NumPy array in millivolts, with their rate and names.
    from_array = eegpt.embed(1e3 * epochs.get_data(), model, sfreq=256, ch_names=epochs.ch_names, progress=False)
    np.testing.assert_allclose(from_array.features, from_epochs.features, rtol=0, atol=1e-5)


def test_bads_and_bad_annotations_change_the_output(model):
    raw = read_raw("Subject00_1.edf")
    plain = eegpt.embed(raw, model, stride=4.0, progress=False)
    raw.info["bads"] = ["EEG Fp1"]
    with pytest.warns(UserWarning, match=r"info\['bads'\] not used: EEG Fp1"):
        rec = eegpt.embed(raw, model, stride=4.0, progress=False)
    assert rec.channels == plain.channels[1:] and ("EEG Fp1", "in info['bads']") in rec.dropped
    filled = quiet_embed(raw, model, channels="standard19", fill_missing=True)
    assert filled.filled == ["FP1"] and filled.channels[0] == "FP1"
    with pytest.raises(eegpt.Error, match=r"FP1 requested but not in the recording \(fill_missing=True fills"):
        quiet_embed(raw, model, channels="standard19")
    raw.info["bads"] = []
    raw.set_annotations(mne.Annotations(onset=[9.0], duration=[2.0], description=["BAD_blink"]))
    rejected = eegpt.embed(raw, model, stride=4.0, progress=False)
    assert 8.0 in plain.window_start_s.tolist() and 8.0 not in rejected.window_start_s.tolist()
    keep = plain.window_start_s != 8.0
    np.testing.assert_array_equal(rejected.features, plain.features[keep])
    np.testing.assert_array_equal(rejected.window_start_s, plain.window_start_s[keep])
    assert rejected.metadata["windows_overlapping_bad_s"].tolist() == [8.0]
    assert rejected.metadata["reject_by_annotation"] == 1 and rejected.metadata["n_windows"] == len(plain) - 1
    kept = eegpt.embed(raw, model, stride=4.0, progress=False, reject_by_annotation=False)
    np.testing.assert_array_equal(kept.features, plain.features)
    assert kept.metadata["windows_overlapping_bad_s"].tolist() == [8.0]


def test_epochs_in_a_cross_validation_are_encoded_once_with_the_cache(model, tmp_path, monkeypatch):
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_score
    from sklearn.pipeline import make_pipeline

    raw = read_raw("Subject00_1.edf")
    epochs = mne.make_fixed_length_epochs(raw.copy().crop(0, 80), duration=4.0, preload=True, verbose="ERROR")
    n = len(epochs)
    y = np.arange(n) % 2
    plain = eegpt.EEGPTFeatures(model).fit_transform(epochs)
    encoded = [0]
    real_embed = eegpt.sklearn.embed

    def counting(recording, *args, **kwargs):
        encoded[0] += len(recording)
        return real_embed(recording, *args, **kwargs)

    monkeypatch.setattr(eegpt.sklearn, "embed", counting)
    cached = make_pipeline(eegpt.EEGPTFeatures(model, memory=str(tmp_path)), LogisticRegression(max_iter=500))
    scores = cross_val_score(cached, epochs, y, cv=5)  # each split a list of one-epoch Epochs
    assert encoded[0] == n and np.all(np.isfinite(scores))
    expected = cross_val_score(make_pipeline(eegpt.EEGPTFeatures(model), LogisticRegression(max_iter=500)),
                               epochs, y, cv=5)
    assert encoded[0] == 6 * n  # without the cache every fold encodes its train and test epochs
    np.testing.assert_array_equal(scores, expected)
    # The cache gives the features the Epochs give; changed samples are encoded again.
    encoded[0] = 0
    t = eegpt.EEGPTFeatures(model, memory=str(tmp_path))
    np.testing.assert_array_equal(t.fit_transform(epochs), plain)
    assert encoded[0] == 0
    changed = epochs.copy()
    changed._data[1, 0, 0] += 1e-6
    again = t.transform(changed)
    assert encoded[0] == 1 and not np.array_equal(again[1], plain[1])
    np.testing.assert_array_equal(np.delete(again, 1, 0), np.delete(plain, 1, 0))


def test_classify_takes_epochs_and_recomputes_the_recording_result(model, tmp_path):
    head = tmp_path / "head.h5"
    r = subprocess.run([sys.executable, os.path.join(lib.REPO, "tools", "convert_head.py"), "--random", head,
                        "--input-channels", "FP1,FP2,F3,F4,CZ", "--encoder-channels", "FZ,CZ,PZ,OZ", "--classes",
                        "a,b,c", "--embed-num", str(E), "--embed-dim", str(D)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    raw = read_raw("Subject00_1.edf", sfreq=256)
    plain = eegpt.classify(raw, model, head, progress=False)
    # The engine's recording-level result is what the windows left after a rejection get again.
    np.testing.assert_allclose(plain.metadata["recording_mean_probability"],
                               plain.probabilities.astype(np.float64).mean(axis=0), rtol=1e-12)
    np.testing.assert_array_equal(plain.metadata["recording_class_fraction"],
                                  np.bincount(plain.predicted_class, minlength=3) / len(plain))
    raw.set_annotations(mne.Annotations(onset=[9.0], duration=[2.0], description=["BAD_blink"]))
    rejected = eegpt.classify(raw, model, head, progress=False)
    keep = plain.window_start_s != 8.0
    np.testing.assert_array_equal(rejected.probabilities, plain.probabilities[keep])
    np.testing.assert_array_equal(rejected.predicted_class, plain.predicted_class[keep])
    np.testing.assert_array_equal(rejected.metadata["recording_class_fraction"],
                                  np.bincount(plain.predicted_class[keep], minlength=3) / keep.sum())
    np.testing.assert_allclose(rejected.metadata["recording_mean_probability"],
                               plain.probabilities[keep].astype(np.float64).mean(axis=0), rtol=1e-12)
    assert not np.allclose(rejected.metadata["recording_mean_probability"], plain.metadata["recording_mean_probability"],
                           rtol=1e-9, atol=0)
    epochs = mne.make_fixed_length_epochs(raw, duration=4.0, preload=True, reject_by_annotation=False, verbose="ERROR")
    from_epochs = eegpt.classify(epochs, model, head, progress=False)
    n = len(epochs)
    np.testing.assert_array_equal(from_epochs.probabilities, plain.probabilities[:n])
    np.testing.assert_allclose(from_epochs.metadata["recording_mean_probability"],
                               plain.probabilities[:n].astype(np.float64).mean(axis=0), rtol=1e-12)


def test_a_cropped_raw(model):
    raw = read_raw("S001R03.edf", sfreq=256)
    whole = eegpt.embed(raw, model, stride=2.0, progress=False)
    cropped = raw.copy().crop(tmin=10.0, tmax=50.0)
    rec = eegpt.embed(cropped, model, stride=2.0, progress=False)
    assert rec.window_start_s[:3].tolist() == [0.0, 2.0, 4.0]  # from the Raw's own first sample
    assert rec.metadata["first_samp"] == cropped.first_samp == 2560
    first = whole.window_start_s.tolist().index(10.0)
    np.testing.assert_array_equal(rec.features, whole.features[first:first + len(rec)])
    assert rec.metadata["recording"] == "mne.io.Raw of %s, samples 2560..12800" % lib.recording("S001R03.edf")
    assert eegpt.embed(read_raw("S001R03.edf"), model, progress=False).metadata["recording"] == \
        lib.recording("S001R03.edf")


def test_units_rates_and_untrained_weights_warn(model, weights):
    raw = read_raw("Subject00_1.edf")
    m = eegpt.map_channels(raw.ch_names)
    volts = raw.get_data(picks=m.index)[None, :, :1024]
    with pytest.warns(UserWarning, match="x looks like volts, not millivolts .*multiply it by 1000"):
        model.encode(volts, m.names)
    with pytest.warns(UserWarning, match="x looks like microvolts, not millivolts .*multiply it by 0.001"):
        model.encode(1e6 * volts, m.names)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.encode(1e3 * volts, m.names)  # millivolts: no warning
    with pytest.warns(UserWarning, match="recording looks like volts"):
        eegpt.embed(raw.get_data(picks=m.index), model, sfreq=500, ch_names=m.names, progress=False)
    with pytest.raises(eegpt.Error, match="sfreq=500: encode takes windows at 256 Hz"):
        model.encode(1e3 * volts, m.names, sfreq=500)
    with pytest.warns(UserWarning, match="untrained"):
        eegpt.Model(weights)


def test_type_mistakes_name_the_argument(model, weights):
    raw = read_raw("Subject00_1.edf")
    x = np.zeros((1, 2, 1024), np.float32)
    # Accepted now: Epochs, a weight path as the model.
    epochs = mne.make_fixed_length_epochs(raw.copy().crop(0, 16), duration=4.0, preload=True, verbose="ERROR")
    assert len(quiet_embed(epochs, model)) == len(epochs)
    assert quiet_embed(raw, weights).features.shape == eegpt.embed(raw, model, progress=False).features.shape
    for call, words in [
        (lambda: eegpt.embed(raw, 42), "model must be an eegpt.Model or a weight file path"),
        (lambda: eegpt.embed(raw.get_data(), model), "sfreq= .* and ch_names="),
        (lambda: eegpt.embed(12, model), "recording must be an EDF/BDF path .*mne.io.Raw, mne.Epochs"),
        (lambda: eegpt.embed(raw, model, stride="4"), "stride must be a number"),
        (lambda: eegpt.embed(raw, model, batch=2.5), "batch must be an integer"),
        (lambda: eegpt.embed(raw, model, channels=5), "channels must be a list of channel names"),
        (lambda: eegpt.embed(raw, model, progress="yes"), "progress must be True, False or a callable"),
        (lambda: eegpt.embed(raw, model, sfreq=256), "sfreq= and ch_names= are for NumPy arrays"),
        (lambda: model.encode(x, 5), "channels must be a list of channel names"),
        (lambda: model.encode("abc", ["FP1", "CZ"]), "x must be an array"),
        (lambda: eegpt.map_channels(None), "names must be a list of channel names"),
    ]:
        with pytest.raises(TypeError, match=words):
            call()


def test_messages_use_python_names(model):
    name = lib.recording("Subject00_2.edf")
    with pytest.raises(eegpt.Error) as info:
        eegpt.embed(name, model, stride=0.001, progress=False)
    assert str(info.value).startswith("stride=0.001 s is not a positive whole number of samples")
    with pytest.raises(eegpt.Error, match=r"^channels: 'XYZ' is not a channel"):
        eegpt.embed(name, model, channels="FP1,XYZ", progress=False)
    with pytest.raises(eegpt.Error) as info:
        eegpt.embed(name, model, channels=["FP1", "FPZ"], progress=False)
    assert "fill_missing=True fills them with zeros" in str(info.value) and "--" not in str(info.value)


def test_the_mne_example_of_the_docs_runs(tmp_path, monkeypatch):
    import contextlib
    import io
    import re

    text = open(os.path.join(lib.REPO, "docs", "python.md")).read()
    code = re.search(r"```python\n(.*?)```", text[text.index("## MNE objects"):], re.S).group(1)
    monkeypatch.chdir(tmp_path)
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.warns(UserWarning, match=r"info\['bads'\] not used: EEG Fp1-REF"):
        exec(compile(code, "docs/python.md", "exec"), {})
    expected = [line.split("  # ", 1)[1] for line in code.splitlines() if line.startswith("print(")]
    assert len(expected) == 6 and out.getvalue().splitlines() == expected
