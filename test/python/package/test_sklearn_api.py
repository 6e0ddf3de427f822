"""The package as scikit-learn and Python users expect it. EEGPTFeatures: n_features_in_,
get_feature_names_out, set_output, and a per-window feature cache (memory=) with which a 5-fold
cross-validation encodes each window once (counted at Model.encode). Progress: shown only on a
terminal (tqdm when installed), a callable called anywhere, passed through by embed_many (or a
warning that a Dask cluster cannot show it)."""
import io
import os
import pickle
import sys
import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import make_pipeline

import eegpt
from conftest import D, E, lib


@pytest.fixture(scope="module")
def windows():
    # EEGMMIDB S001R03: 4 s windows every 4 s, labelled by alternating halves (the labels only
    # need two classes for the classifier to fit).
    x, names, _ = lib.prepared_windows("S001R03.edf", stride=1024)
    x = x[:30]
    return x, names, np.arange(len(x)) % 2


@pytest.fixture
def encoded(monkeypatch):
    """Counts the windows that go through Model.encode, whichever Model instance (clone copies it)."""
    count = [0]
    encode = eegpt.Model.encode

    def counting(self, x, channels):
        count[0] += len(x)
        return encode(self, x, channels)

    monkeypatch.setattr(eegpt.Model, "encode", counting)
    return count


def test_n_features_in_and_feature_names(weights, windows):
    x, names, _ = windows
    mean = eegpt.EEGPTFeatures(weights, channels=names).fit(x)
    assert mean.n_features_in_ == len(names) and mean.n_times_in_ == x.shape[2]
    out = mean.get_feature_names_out()
    assert list(out) == ["eegpt_d%d" % d for d in range(D)]
    assert out.shape == (mean.transform(x[:2]).shape[1],)
    flat = eegpt.EEGPTFeatures(weights, channels=names, pooling="flatten").fit(x)
    out = flat.get_feature_names_out()
    assert len(out) == flat.transform(x[:2]).shape[1] == 16 * E * D
    assert out[0] == "eegpt_p0_t0_d0" and out[D] == "eegpt_p0_t1_d0" and out[-1] == "eegpt_p15_t%d_d%d" % (E - 1, D - 1)
    with pytest.raises(eegpt.Error, match="X has 3 channels, but EEGPTFeatures was fitted on %d" % len(names)):
        mean.transform(x[:2, :3])


def test_set_output_pandas(weights, windows):
    x, names, _ = windows
    t = eegpt.EEGPTFeatures(weights, channels=names).set_output(transform="pandas")
    try:
        import pandas
    except ImportError:
        # The output is wired to pandas: without it, scikit-learn says so (instead of ignoring it).
        with pytest.raises(ImportError, match="pandas"):
            t.fit_transform(x[:3])
        return
    df = t.fit_transform(x[:3])
    assert isinstance(df, pandas.DataFrame) and list(df.columns) == list(t.get_feature_names_out())
    np.testing.assert_array_equal(df.to_numpy(), eegpt.EEGPTFeatures(weights, channels=names).fit_transform(x[:3]))


def test_cross_validation_with_the_cache_encodes_each_window_once(weights, windows, encoded, tmp_path):
    x, names, y = windows
    plain = make_pipeline(eegpt.EEGPTFeatures(weights, channels=names, batch=8), LogisticRegression(max_iter=500))
    expected = cross_val_score(plain, x, y, cv=5)
    assert encoded[0] == 5 * len(x)  # without a cache, each fold encodes every window (train + test)

    encoded[0] = 0
    cached = make_pipeline(eegpt.EEGPTFeatures(weights, channels=names, batch=8, memory=str(tmp_path)),
                           LogisticRegression(max_iter=500))
    np.testing.assert_array_equal(cross_val_score(cached, x, y, cv=5), expected)
    assert encoded[0] == len(x)
    # A second run (a clone, another memory object on the same directory) encodes nothing.
    import joblib
    again = clone(cached).set_params(eegptfeatures__memory=joblib.Memory(str(tmp_path), verbose=0))
    np.testing.assert_array_equal(cross_val_score(again, x, y, cv=5), expected)
    assert encoded[0] == len(x)


def test_the_cache_key_is_the_window_and_the_model(weights, windows, encoded, tmp_path):
    x, names, _ = windows
    t = eegpt.EEGPTFeatures(weights, channels=names, memory=tmp_path)
    first = t.fit_transform(x[:4])
    np.testing.assert_array_equal(first, eegpt.EEGPTFeatures(weights, channels=names).fit_transform(x[:4]))
    encoded[0] = 0
    y = x[:4].copy()
    y[1, 0, 0] += 1e-3  # one sample of one window changed: that window only is encoded again
    second = t.transform(y)
    assert encoded[0] == 1
    np.testing.assert_array_equal(second[[0, 2, 3]], first[[0, 2, 3]])
    # Other pooling, weights or channel order: other features, not the cached ones.
    encoded[0] = 0
    flat = eegpt.EEGPTFeatures(weights, channels=names, pooling="flatten", memory=tmp_path).fit_transform(x[:4])
    other_weights = str(lib.write_random_weights(tmp_path / "other.h5", embed_dim=D, embed_num=E, seed=1))
    other = eegpt.EEGPTFeatures(other_weights, channels=names, memory=tmp_path).fit_transform(x[:4])
    swapped = eegpt.EEGPTFeatures(weights, channels=names[::-1], memory=tmp_path).fit_transform(x[:4])
    assert encoded[0] == 12 and flat.shape[1] == 16 * E * D
    assert not np.array_equal(other, first) and not np.array_equal(swapped, first)


def test_get_params_clone_and_pickle_keep_memory(weights, windows, tmp_path):
    x, names, _ = windows
    t = eegpt.EEGPTFeatures(weights, channels=names, memory=str(tmp_path))
    assert set(t.get_params()) == {"model", "channels", "pooling", "batch", "memory", "filter_design",
                                 "resample_method"}
    c = clone(t)
    assert c.get_params() == t.get_params()
    again = pickle.loads(pickle.dumps(t.fit(x[:2])))
    assert again.memory == str(tmp_path) and again.n_features_in_ == len(names)
    np.testing.assert_array_equal(again.transform(x[:2]), t.transform(x[:2]))
    # scikit-learn's own checks of the parameters (the others need 2-D data: X here is windows).
    from sklearn.utils import estimator_checks as checks

    for check in (checks.check_no_attributes_set_in_init, checks.check_parameters_default_constructible,
                  checks.check_get_params_invariance, checks.check_set_params):
        check("EEGPTFeatures", eegpt.EEGPTFeatures(weights, channels=names, memory=str(tmp_path)))


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_progress_only_on_a_terminal(model, capsys, monkeypatch):
    name = lib.recording("Subject00_2.edf")
    rec = eegpt.embed(name, model, batch=16)  # progress=True by default; stderr is not a terminal here
    assert capsys.readouterr().err == ""
    for tqdm in (True, False):
        if not tqdm:  # the CLI's line when tqdm is not installed
            monkeypatch.setitem(sys.modules, "tqdm", None)
        term = Terminal()
        monkeypatch.setattr(sys, "stderr", term)
        eegpt.embed(name, model, batch=16)
        monkeypatch.setattr(sys, "stderr", sys.__stderr__)
        shown = term.getvalue()
        assert "%d/%d" % (len(rec), len(rec)) in shown and "Subject00_2.edf" in shown
        assert "windows/s" in shown and ("%|" in shown) == tqdm and ("left" in shown) == (not tqdm)
    with pytest.raises(TypeError, match="progress must be True, False or a callable"):
        eegpt.embed(name, model, progress="yes")


def test_embed_many_passes_progress_through(weights, tmp_path, capsys):
    names = [lib.recording("Subject00_1.edf"), lib.recording("Subject00_2.edf")]
    calls = []
    jobs = eegpt.embed_many(names, tmp_path / "a", model=weights,
                            progress=lambda done, total, elapsed: calls.append((done, total)))
    assert [j.status for j in jobs] == ["done", "done"]
    ends = [c for c in calls if c[0] == c[1]]
    assert [n for n, _ in ends] == [len(eegpt.read_features(j.output)) for j in jobs]
    eegpt.embed_many(names, tmp_path / "b", model=weights)  # default: a terminal only
    assert capsys.readouterr().err == ""
    with pytest.raises(TypeError, match="progress must be"):
        eegpt.embed_many(names, tmp_path / "c", model=weights, progress=1)
    assert not (tmp_path / "c").exists() or os.listdir(tmp_path / "c") == []


class InProcessClient:
    """The two calls embed_many makes of a dask.distributed Client, run here."""

    def submit(self, fn, *args, pure=True, key=None):
        return fn(*args)

    def gather(self, futures):
        return list(futures)


def test_embed_many_on_a_cluster_says_progress_is_not_shown(weights, tmp_path):
    name = lib.recording("Subject00_2.edf")
    calls = []
    with pytest.warns(UserWarning, match="progress=.* is not shown for recordings computed on a Dask cluster"):
        jobs = eegpt.embed_many(name, tmp_path, model=weights, client=InProcessClient(),
                                progress=lambda *a: calls.append(a))
    assert [j.status for j in jobs] == ["done"] and calls == []
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the default (progress=None) says nothing about progress
        warnings.filterwarnings("ignore", message="weights .* are untrained")  # the test's random weights
        eegpt.embed_many(name, tmp_path / "b", model=weights, client=InProcessClient())


def test_runs_of_different_settings_share_a_directory(weights, tmp_path):
    name = lib.recording("Subject00_2.edf")
    four = eegpt.embed_many(name, tmp_path, model=weights, stride=4.0, name_settings=True)[0]
    two = eegpt.embed_many(name, tmp_path, model=weights, stride=2.0, name_settings=True)[0]
    assert four.status == two.status == "done" and four.output != two.output
    assert sorted(os.listdir(tmp_path)) == sorted(os.path.basename(j.output) for j in (four, two))
    for job, stride in ((four, 4.0), (two, 2.0)):
        assert os.path.basename(job.output).startswith("Subject00_2.settings-")
        assert job.output.endswith(".features.h5")
        starts = eegpt.read_features(job.output).window_start_s
        assert starts[1] - starts[0] == stride
    # The CLI names the same settings the same: it resumes embed_many's outputs, and the reverse.
    for stride, job in (("4", four), ("2", two)):
        r = lib.run_ok("embed", name, "--weights", weights, "--stride", stride, "--output-dir", tmp_path,
                       "--name-settings")
        assert "done already (%s exists), skipped" % job.output in r.stdout
    lib.run_ok("embed", name, "--weights", weights, "--stride", "1", "--output-dir", tmp_path, "--name-settings",
               "--quiet")
    assert len(os.listdir(tmp_path)) == 3
    assert eegpt.embed_many(name, tmp_path, model=weights, stride=1.0, name_settings=True)[0].status == "skipped"
    r = lib.run("embed", name, "--output", tmp_path / "x.h5", "--name-settings")
    assert r.returncode == 1 and r.stderr == \
        "eegpt: error: --name-settings names the outputs in --output-dir; --output names the file\n"
