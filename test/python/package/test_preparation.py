"""filter_design= and resample_method= in Python (docs/python.md): the CLI's --filter-design and
--resample-method, with the same numbers as the CLI, Python-style refusals, in the job record
(embed_many's settings tag) and in EEGPTFeatures' cache key; classify applies a head's
/preparation as `eegpt classify` does, and the keywords override it."""
import os
import sys

import h5py
import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import recordings_testlib as lib  # noqa: E402

import eegpt  # noqa: E402
import test_classifier  # noqa: E402  (its TUAB-like head writer)

REC = "Subject00_1.edf"  # 500 Hz
MNE_FFT = dict(filter_design="mne", bandpass=(0.5, 45), resample_method="fft")


def cli_features(weights, tmp_path, *options):
    out = tmp_path / "cli.h5"
    lib.run_ok("embed", lib.recording(REC), "--weights", weights, "--output", out, "--quiet", "--force", *options)
    with h5py.File(out, "r") as f:
        return f["features"][()]


def test_embed_with_mne_filters_and_fft_equals_the_cli(weights, model, tmp_path):
    rec = eegpt.embed(lib.recording(REC), model, progress=False, **MNE_FFT)
    expected = cli_features(weights, tmp_path, "--filter-design", "mne", "--bandpass", "0.5,45",
                            "--resample-method", "fft")
    np.testing.assert_allclose(rec.features, expected, rtol=0, atol=1e-6 * np.abs(expected).max())
    assert rec.metadata["filter_design"] == "mne" and rec.metadata["resample_method"] == "fft"
    default = eegpt.embed(lib.recording(REC), model, progress=False, bandpass=(0.5, 45))
    assert default.metadata["filter_design"] == "scipy" and default.metadata["resample_method"] == "poly"
    assert np.abs(default.features - rec.features).max() > 1e-3 * np.abs(expected).max()


@pytest.mark.parametrize("kwargs,message", [
    (dict(filter_design="fir"), "filter_design must be None or one of 'scipy', 'mne', not 'fir'"),
    (dict(resample_method="sinc"), "resample_method must be None or one of 'poly', 'fft', not 'sinc'"),
])
def test_unknown_choices_are_value_errors(kwargs, message, model):
    with pytest.raises(ValueError, match="^" + message.replace("(", r"\(").replace(")", r"\)") + "$"):
        eegpt.embed(lib.recording(REC), model, progress=False, **kwargs)


@pytest.mark.parametrize("kwargs,message", [
    (dict(filter_design="mne"), "there is no filter to design"),
    (dict(filter_design="mne", bandpass=(0.5, 45), bandpass_order=6), "is the order of the Butterworth band-pass"),
    (dict(bandpass=(40, 1)), "need 0 <= LOW < HIGH, in Hz"),
])
def test_contradictions_are_refused_in_one_line(kwargs, message, model):
    with pytest.raises(eegpt.Error) as e:
        eegpt.embed(lib.recording(REC), model, progress=False, **kwargs)
    assert message in str(e.value) and "\n" not in str(e.value)


def test_embed_many_puts_both_choices_in_the_job_record(model, tmp_path):
    out = tmp_path / "many"
    poly = eegpt.embed_many([lib.recording(REC)], out, model, name_settings=True, progress=False, bandpass=(0.5, 45),
                            filter_design="mne")
    fft = eegpt.embed_many([lib.recording(REC)], out, model, name_settings=True, progress=False, bandpass=(0.5, 45),
                           filter_design="mne", resample_method="fft")
    assert poly[0].status == fft[0].status == "done"
    assert poly[0].output != fft[0].output  # other settings, other job: both kept
    with h5py.File(fft[0].output, "r") as f:
        assert "\nresample_method=fft" in f.attrs["job"] and "\nfilter_design=mne" in f.attrs["job"]


def test_eegpt_features_keys_its_cache_by_the_resampling(model, tmp_path):
    mne = pytest.importorskip("mne")
    from eegpt.sklearn import EEGPTFeatures

    raw = mne.io.read_raw_edf(lib.recording(REC), preload=True, verbose="error")
    raw.pick(["EEG Fp1", "EEG Cz", "EEG O1"])
    epochs = mne.make_fixed_length_epochs(raw, duration=4.0, verbose="error")[:3]
    cache = str(tmp_path / "cache")
    poly = EEGPTFeatures(model, memory=cache).fit_transform(epochs)
    fft = EEGPTFeatures(model, memory=cache, resample_method="fft").fit_transform(epochs)
    again = EEGPTFeatures(model, memory=cache, resample_method="fft").fit_transform(epochs)
    assert np.abs(poly - fft).max() > 0  # not the poly entries read back
    np.testing.assert_array_equal(fft, again)
    with pytest.raises(eegpt.Error, match="apply to Epochs"):
        EEGPTFeatures(model, channels=["FP1"], resample_method="fft").fit_transform(np.zeros((1, 1, 1024), np.float32))


def prepared_head(path):
    """test_classifier's TUAB-like head as format version 3 with a /preparation group."""
    test_classifier.write_head(path)
    with h5py.File(path, "r+") as f:
        classes = list(f.attrs["class_names"])
        del f.attrs["class_names"]
        f.create_dataset("class_names", data=np.array(classes, dtype=object), dtype=h5py.string_dtype())
        f.attrs["format_version"] = np.int64(3)
        p = f.create_group("preparation")
        p.attrs.update(name="test", filter_design="mne", bandpass_low_hz=0.5, bandpass_high_hz=45.0, notch_hz=50.0,
                       resample_method="fft", sample_rate_hz=256.0, unit_mv=0.1)
        p.attrs.create("channels", data=np.array(test_classifier.INPUTS, dtype=object), dtype=h5py.string_dtype())
    return path


def test_classify_applies_the_heads_preparation_as_the_cli_does(weights, model, tmp_path):
    head = prepared_head(tmp_path / "head.h5")
    rec = eegpt.classify(lib.recording(REC), model, head, fill_missing=True, progress=False)
    out = tmp_path / "cli.pred.h5"
    r = lib.run_ok("classify", lib.recording(REC), "--weights", weights, "--head", head, "--fill-missing", "zeros",
                   "--output", out)
    assert r.stdout.splitlines()[0] == ("preparation from the head (test): mne FIR 0.5-45 Hz, notch 50 Hz, fft "
                                        "resampling to 256 Hz; options override it")
    with h5py.File(out, "r") as f:
        expected = f["probabilities"][()]
        assert f.attrs["filter_design"] == "mne" and f.attrs["resample_method"] == "fft"
    np.testing.assert_allclose(rec.probabilities, expected, rtol=1e-5, atol=1e-7)
    assert rec.metadata["filter_design"] == "mne" and rec.metadata["notch_hz"] == 50.0
    poly = eegpt.classify(lib.recording(REC), model, head, fill_missing=True, progress=False, resample_method="poly",
                          notch=0)
    assert poly.metadata["resample_method"] == "poly" and poly.metadata["notch_hz"] == 0.0
    assert poly.metadata["filter_design"] == "mne" and poly.metadata["bandpass_low_hz"] == 0.5
