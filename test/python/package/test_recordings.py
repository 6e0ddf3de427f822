"""eegpt.embed / classify / read_features: the CLI's outputs, bit for bit, with the same metadata;
errors as the documented types."""
import os
import subprocess
import sys

import numpy as np
import pytest

import eegpt
from eegpt._errors import python_words
from conftest import D, E, lib
from eegpt_testlib import error_lines

CONVERT_HEAD = os.path.join(lib.REPO, "tools", "convert_head.py")


def cli_embed(weights, path, out, *args):
    lib.run_ok("embed", path, "--weights", weights, "--output", out, "--quiet", *args)
    return eegpt.read_features(out)


def same(a, b):
    np.testing.assert_array_equal(a.features, b.features)
    np.testing.assert_array_equal(a.window_start_s, b.window_start_s)
    assert a.channels == b.channels and a.dropped == b.dropped and a.filled == b.filled
    assert a.warnings == b.warnings
    skip = {"recording", "job"}  # the CLI's input path as given, and its resume record (CLI only)
    assert set(a.metadata) - skip == set(b.metadata) - skip
    np.testing.assert_equal({k: v for k, v in a.metadata.items() if k not in skip},
                            {k: v for k, v in b.metadata.items() if k not in skip})


@pytest.mark.parametrize("name,args", [("S001R03.edf", dict(stride=2.0, batch=5)),
                                       ("Subject00_2.edf", dict(channels="standard19", bandpass=(0.5, 40), notch=50))])
def test_embed_equals_the_cli(name, args, model, weights, tmp_path):
    cli_args = ["--stride", str(args.get("stride", 4.0)), "--batch", str(args.get("batch", 32))]
    if "channels" in args:
        cli_args += ["--channels", args["channels"], "--bandpass", "0.5,40", "--notch", "50"]
    expected = cli_embed(weights, lib.recording(name), tmp_path / "cli.h5", *cli_args)
    got = eegpt.embed(lib.recording(name), model, progress=False, **args)
    assert got.features.shape == (len(got), 16, E, D) and len(got) > 10
    same(got, expected)
    assert got.metadata["recording"] == lib.recording(name)
    assert got.metadata["weights_source_checkpoint"] == "pytest random"
    if name == "S001R03.edf":
        assert ("T9..", "not in the 62-name dictionary") in got.dropped
        assert got.channels[:3] == ["FC5", "FC3", "FC1"]


def test_read_features_of_a_cli_output(weights, tmp_path):
    rec = cli_embed(weights, lib.recording("Subject00_1.edf"), tmp_path / "f.h5", "--features-dtype", "float16")
    assert rec.features.dtype == np.float16 and rec.metadata["features_dtype"] == "float16"
    assert rec.metadata["content"] == "features" and rec.metadata["recording_file_type"].startswith("EDF")
    assert rec.metadata["source_labels"][0] == "EEG Fp1" and rec.metadata["source_rates_hz"][0] == 500
    assert ("ECG ECG", "non-EEG signal (ECG)") in rec.dropped
    np.testing.assert_array_equal(rec.channel_ids, [eegpt._core.channel_dictionary().index(c) for c in rec.channels])
    with pytest.raises(FileNotFoundError):
        eegpt.read_features(tmp_path / "nothing.h5")
    (tmp_path / "junk.h5").write_text("junk")
    with pytest.raises(eegpt.Error, match="not an HDF5 file"):
        eegpt.read_features(tmp_path / "junk.h5")


def test_classify_equals_the_cli(model, weights, tmp_path):
    head = tmp_path / "head.h5"
    r = subprocess.run([sys.executable, CONVERT_HEAD, "--random", head, "--input-channels", "FP1,FP2,F3,F4,CZ",
                        "--encoder-channels", "FZ,CZ,PZ,OZ", "--classes", "a,b,c", "--embed-num", str(E),
                        "--embed-dim", str(D)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    name = lib.recording("Subject00_2.edf")
    lib.run_ok("classify", name, "--weights", weights, "--head", head, "--output", tmp_path / "p.h5", "--quiet")
    expected = eegpt.read_features(tmp_path / "p.h5")
    got = eegpt.classify(name, model, head, progress=False)
    assert got.class_names == ["a", "b", "c"] and got.features is None
    assert got.probabilities.shape == (len(got), 3)
    np.testing.assert_array_equal(got.probabilities, expected.probabilities)
    np.testing.assert_array_equal(got.predicted_class, expected.predicted_class)
    assert got.metadata["recording_predicted_class"] == expected.metadata["recording_predicted_class"]
    with_features = eegpt.classify(name, model, head, save_features=True, progress=False)
    assert with_features.features.shape == (len(got), 16, E, D)
    with pytest.raises(FileNotFoundError, match="missing.h5"):
        eegpt.classify(name, model, tmp_path / "missing.h5", progress=False)


def test_bad_inputs_raise_the_cli_messages(model, weights, tmp_path):
    name = lib.recording("Subject00_2.edf")
    cases = [
        (dict(stride=0.001), ["--stride", "0.001"]),
        (dict(channels="FP1,XYZ"), ["--channels", "FP1,XYZ"]),
        (dict(channels=["FP1", "FPZ"]), ["--channels", "FP1,FPZ"]),
        (dict(bandpass=(40, 1)), ["--bandpass", "40,1"]),
        (dict(notch=200), ["--notch", "200"]),
    ]
    for kwargs, args in cases:
        r = lib.run("embed", name, "--weights", weights, "--output", tmp_path / "x.h5", "--quiet", *args)
        assert r.returncode != 0
        with pytest.raises(eegpt.Error) as info:
            eegpt.embed(name, model, progress=False, **kwargs)
        assert isinstance(info.value, ValueError)
        # The CLI's line, its options named as the Python arguments (stride=, fill_missing=True).
        assert python_words("\n".join(error_lines(r.stderr))).endswith(str(info.value)), (kwargs, r.stderr,
                                                                                         str(info.value))
    missing = str(tmp_path / "missing.edf")
    r = lib.run("embed", missing, "--weights", weights, "--output", tmp_path / "x.h5", "--quiet")
    with pytest.raises(FileNotFoundError) as info:
        eegpt.embed(missing, model, progress=False)
    assert error_lines(r.stderr) == ["eegpt: error: " + str(info.value)]
    short = lib.write_edf(tmp_path / "short.edf", seconds=3)
    with pytest.raises(eegpt.Error, match="shorter than one 4 s window"):
        eegpt.embed(short, model, progress=False)


@pytest.mark.parametrize("name,args", [("S001R03.edf", dict(stride=2.0)),
                                       ("Subject00_2.edf", dict(channels="standard19", bandpass=(0.5, 40)))])
def test_embed_of_an_mne_raw_equals_embed_of_the_file(name, args, model):
    raw, _ = lib.read_mne(name)
    from_file = eegpt.embed(lib.recording(name), model, progress=False, **args)
    from_raw = eegpt.embed(raw, model, progress=False, **args)
    assert from_raw.features.shape == from_file.features.shape
    # MNE scales the samples to volts, the engine to millivolts: the same numbers up to rounding.
    scale = np.abs(from_file.features).max()
    assert np.abs(from_raw.features - from_file.features).max() <= 1e-6 * scale
    np.testing.assert_array_equal(from_raw.window_start_s, from_file.window_start_s)
    assert from_raw.channels == from_file.channels and from_raw.dropped == from_file.dropped
    assert from_raw.metadata["recording_file_type"] == "memory"
    assert from_raw.metadata["recording"] == lib.recording(name)
    assert from_raw.metadata["resample_up"].tolist() == from_file.metadata["resample_up"].tolist()


def test_mne_raw_edge_cases(model):
    mne = pytest.importorskip("mne")
    rng = np.random.default_rng(0)
    info = mne.create_info(["Fp1", "Cz", "O2", "STI"], 250.0, ["eeg", "eeg", "eeg", "stim"])
    data = 20e-6 * rng.standard_normal((4, 250 * 9 + 17))  # not a whole number of seconds
    rec = eegpt.embed(mne.io.RawArray(data, info, verbose="ERROR"), model, progress=False)
    assert rec.channels == ["FP1", "CZ", "O2"] and rec.dropped[0][0] == "STI"
    assert len(rec) == 2 and rec.metadata["recording"] == "mne.io.Raw"
    assert rec.metadata["recording_duration_s"] == pytest.approx((250 * 9 + 17) / 250)
    odd = mne.create_info(["Fp1", "Cz"], 250.5, "eeg")
    with pytest.raises(eegpt.Error, match="250.5 Hz is not a whole number"):
        eegpt.embed(mne.io.RawArray(data[:2], odd, verbose="ERROR"), model, progress=False)
    data[1, 100] = np.nan
    with pytest.raises(eegpt.Error, match="non-finite"):
        eegpt.embed(mne.io.RawArray(data, info, verbose="ERROR"), model, progress=False)


def test_progress_callable_and_stopping(model, tmp_path):
    from eegpt._recordings import run_recording

    calls = []
    rec = eegpt.embed(lib.recording("Subject00_2.edf"), model, batch=7,
                      progress=lambda done, total, elapsed: calls.append((done, total)))
    assert calls[-1] == (len(rec), len(rec)) and len(calls) == -(-len(rec) // 7)

    class Stop(Exception):
        pass

    def stop(done, total, elapsed):
        raise Stop("stop at %d" % done)

    out = tmp_path / "stopped.h5"
    with pytest.raises(Stop, match="stop at 7"):
        run_recording(model, lib.recording("Subject00_2.edf"), out, batch=7, progress=stop)
    assert os.listdir(tmp_path) == []  # the partial output is removed, no final name written
