"""eegpt.Classifier: a downstream model on windows in memory equals `eegpt encode --head` bit for
bit (that path is checked against the official PyTorch forwards in test/python/test_downstream.py),
and eegpt.classify takes it; its errors are the engine's one-line messages."""
import os
import sys

import h5py
import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import recordings_testlib as lib  # noqa: E402

import eegpt  # noqa: E402
from conftest import D, E  # noqa: E402

INPUTS = ["FP1", "T3", "A1", "CZ", "O1"]  # an old name and a non-dictionary electrode, as TUAB's


def tensor(group, name, values):
    arr = np.ascontiguousarray(values, dtype=np.float32)
    group.create_dataset(name, data=arr, chunks=arr.shape, fletcher32=True)


def write_head(path, output="sigmoid", seed=0):
    """A TUAB-like downstream model written from docs/weight-format.md: channel mixing (rows within
    max norm 1), BatchNorm, GELU, a valid depthwise convolution, the encoder, flatten, one linear."""
    rng = np.random.default_rng(seed)
    T, K = 1100, 15  # 1100 - 14 = 1086 samples reach the encoder: 16 patches, 62 trailing samples unused
    mix = rng.normal(0, 1, (2, len(INPUTS)))
    mix /= np.linalg.norm(mix, axis=1, keepdims=True) * 1.5
    classes = ["normal", "abnormal"] if output == "sigmoid" else ["a", "b", "c"]
    logits = 1 if output == "sigmoid" else 3
    with h5py.File(path, "w") as f:
        f.attrs.update(format="eegpt-head", format_version=np.int64(2), recipe="custom", class_names=classes,
                       output=output, input_labels=INPUTS, sample_rate_hz=256.0, window_samples=np.int64(T),
                       input_unit_mv=0.1, stride_s=4.0, max_norm_applied=np.int64(1), n_steps=np.int64(7),
                       source="test", source_sha256="", converter_version="test")
        steps = f.create_group("steps")

        def step(i, op, **attrs):
            g = steps.create_group(str(i))
            g.attrs["op"] = op
            g.attrs.update(attrs)
            return g

        g = step(0, "channel_mix", max_norm=1.0)
        tensor(g, "weight", mix)
        tensor(g, "bias", rng.normal(0, 0.1, 2))
        g = step(1, "batch_norm", eps=1e-5)
        tensor(g, "running_mean", rng.normal(0, 0.1, 2))
        tensor(g, "running_var", rng.uniform(0.5, 2, 2))
        tensor(g, "weight", rng.normal(1, 0.1, 2))
        tensor(g, "bias", rng.normal(0, 0.1, 2))
        step(2, "gelu")
        g = step(3, "depthwise_conv", padding="valid")
        tensor(g, "weight", rng.normal(0, 0.3, (2, K)))
        tensor(g, "bias", rng.normal(0, 0.1, 2))
        step(4, "encoder", channels=["FZ", "PZ"], patch_stride=np.int64(64))
        step(5, "flatten")
        g = step(6, "linear")
        tensor(g, "weight", rng.normal(0, 0.02, (logits, 16 * E * D)))
        tensor(g, "bias", rng.normal(0, 0.1, logits))
    return path


@pytest.mark.parametrize("output", ["sigmoid", "softmax"])
def test_predict_proba_equals_encode_head(output, weights, model, tmp_path):
    head = write_head(tmp_path / "head.h5", output)
    clf = eegpt.Classifier(head, model)
    assert clf.input_labels == INPUTS and clf.window_samples == 1100 and clf.input_unit_mv == 0.1
    assert clf.output == output
    x = np.random.default_rng(1).normal(0, 20, (3, len(INPUTS), 1100)).astype(np.float32)
    with h5py.File(tmp_path / "in.h5", "w") as f:
        f["x"] = x
        f["channels"] = INPUTS
    lib.run_ok("encode", "--weights", weights, "--head", head, "--input", tmp_path / "in.h5", "--output",
               tmp_path / "out.h5")
    with h5py.File(tmp_path / "out.h5", "r") as f:
        expected_p, expected_logits = f["probabilities"][()], f["logits"][()]
        assert [c.decode() if isinstance(c, bytes) else c for c in f["class_names"][()]] == clf.class_names
        assert f.attrs["head_output"] == output
    p = clf.predict_proba(x)
    np.testing.assert_array_equal(p, expected_p)
    np.testing.assert_array_equal(clf.logits(x.astype(np.float64), INPUTS), expected_logits)
    assert p.shape == (3, 1 if output == "sigmoid" else 3)
    if output == "sigmoid":
        np.testing.assert_allclose(p[:, 0], 1 / (1 + np.exp(-expected_logits[:, 0].astype(np.float64))), rtol=1e-6)
        assert list(clf.predict(x)) == [clf.class_names[int(v >= 0.5)] for v in p[:, 0]]
    else:
        assert list(clf.predict(x)) == [clf.class_names[i] for i in p.argmax(axis=1)]
    # The inputs are matched by their normalised labels, in the head's order.
    np.testing.assert_array_equal(clf.predict_proba(x, ["EEG FP1-REF", "EEG T7-REF", "A1", "Cz", "o1"]), p)


def test_classifier_errors_are_one_line(model, tmp_path):
    clf = eegpt.Classifier(write_head(tmp_path / "head.h5"), model)
    x = np.zeros((2, len(INPUTS), 1100), np.float32)
    with pytest.raises(eegpt.Error, match="channel 1 is 'CZ', the head's input 1 is 'T3'"):
        clf.predict_proba(x, ["FP1", "CZ", "A1", "T3", "O1"])
    with pytest.raises(eegpt.Error, match="windows of 1024 samples; the head takes 1100"):
        clf.predict_proba(np.zeros((2, len(INPUTS), 1024), np.float32))
    with pytest.raises(eegpt.Error, match="takes 5 inputs"):
        clf.predict_proba(np.zeros((2, 4, 1100), np.float32), INPUTS[:4])
    x[1, 2, 7] = np.nan
    with pytest.raises(eegpt.Error, match="non-finite value \\(window 1, channel 'A1'"):
        clf.predict_proba(x)
    with pytest.raises(FileNotFoundError):
        eegpt.Classifier(tmp_path / "missing.h5", model)
    wide = eegpt.Model.random("tiny1")  # E = 1, D = 64: the head's linear layer does not fit
    with pytest.raises(eegpt.Error, match="does not fit the model: step 6 \\(linear\\) takes"):
        eegpt.Classifier(tmp_path / "head.h5", wide).predict_proba(np.zeros((1, 5, 1100), np.float32))


def test_classify_a_recording_with_a_classifier(model, weights, tmp_path):
    head = write_head(tmp_path / "head.h5")
    clf = eegpt.Classifier(head, model)
    name = lib.recording("Subject00_2.edf")  # has no A1 signal: filled with zeros as the CLI fills it
    lib.run_ok("classify", name, "--weights", weights, "--head", head, "--output", tmp_path / "p.h5", "--quiet",
               "--fill-missing", "zeros")
    expected = eegpt.read_features(tmp_path / "p.h5")
    assert expected.probabilities.shape[1] == 1 and expected.metadata["head_output"] == "sigmoid"
    assert expected.metadata["window_samples"] == 1100 and expected.metadata["head_input_unit_mv"] == 0.1
    got = eegpt.classify(name, model, clf, fill_missing=True, progress=False)
    np.testing.assert_array_equal(got.probabilities, expected.probabilities)
    np.testing.assert_array_equal(got.logits, expected.logits)
    assert got.metadata["recording_predicted_class"] == expected.metadata["recording_predicted_class"]
    with pytest.raises(eegpt.Error, match="the model's input\\(s\\) A1 are not in the recording"):
        eegpt.classify(name, model, clf, progress=False)
