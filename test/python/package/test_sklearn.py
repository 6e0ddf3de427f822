"""EEGPTFeatures in scikit-learn: a pipeline with cross-validation on windows of a real recording;
get_params, clone and pickling (the model reloads from its path)."""
import pickle

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import make_pipeline

import eegpt
from conftest import D, E, lib


@pytest.fixture(scope="module")
def labelled_windows():
    # EEGMMIDB S001R03: 4 s windows every 2 s, labelled rest (T0) or task (T1/T2) by the
    # annotation at the window's middle.
    x, names, starts = lib.prepared_windows("S001R03.edf", stride=512)
    raw, _ = lib.read_mne("S001R03.edf")
    a = raw.annotations
    y = []
    for s in starts + 2.0:
        k = np.searchsorted(a.onset, s, side="right") - 1
        y.append(0 if a.description[k] == "T0" else 1)
    return x, names, np.array(y)


def test_pipeline_with_cross_validation(weights, labelled_windows):
    x, names, y = labelled_windows
    assert len(x) > 50 and 0 < y.mean() < 1
    pipe = make_pipeline(eegpt.EEGPTFeatures(weights, channels=names, batch=16), LogisticRegression(max_iter=500))
    scores = cross_val_score(pipe, x, y, cv=3)
    assert scores.shape == (3,) and np.all((scores >= 0) & (scores <= 1))


def test_features_are_the_pooled_encoder_output(model, weights, labelled_windows):
    x, names, _ = labelled_windows
    x = x[:5]
    f = model.encode(x, names)
    mean = eegpt.EEGPTFeatures(model, channels=names, batch=2).fit_transform(x)
    assert mean.shape == (5, D)
    np.testing.assert_allclose(mean, f.mean(axis=(1, 2)), rtol=1e-6, atol=1e-7)
    flat = eegpt.EEGPTFeatures(weights, channels=names, pooling="flatten").fit(x).transform(x)
    np.testing.assert_array_equal(flat, f.reshape(5, 16 * E * D))


def test_get_params_clone_and_pickle(weights, labelled_windows):
    x, names, y = labelled_windows
    t = eegpt.EEGPTFeatures(eegpt.Model(weights), channels=names, pooling="flatten", batch=8)
    assert set(t.get_params()) == {"model", "channels", "pooling", "batch", "memory", "filter_design",
                                 "resample_method"}
    c = clone(t)
    assert c.model is not t.model and c.model.path == weights and c.get_params()["batch"] == 8
    pipe = make_pipeline(eegpt.EEGPTFeatures(weights, channels=names), LogisticRegression(max_iter=500)).fit(x, y)
    blob = pickle.dumps(pipe)
    assert len(blob) < 200_000  # the model is reloaded from its path, not pickled as numbers
    again = pickle.loads(blob)
    np.testing.assert_array_equal(again.predict_proba(x[:7]), pipe.predict_proba(x[:7]))
    with pytest.raises(eegpt.Error, match="pooling"):
        eegpt.EEGPTFeatures(weights, channels=names, pooling="max").fit(x)
    with pytest.raises(eegpt.Error, match="needs channels"):
        eegpt.EEGPTFeatures(weights).fit(x)
