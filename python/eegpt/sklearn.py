"""EEGPTFeatures: EEGPT features as a scikit-learn transformer.

    make_pipeline(EEGPTFeatures(model, channels=names, memory="cache/"), LogisticRegression())

X is windows (n, channels, samples) in millivolts at 256 Hz; transform gives, per window, the
features pooled over time patches and summary tokens (pooling="mean": embed_dim values) or all of
them (pooling="flatten": patches * embed_num * embed_dim values). The transformer has nothing to
fit. clone() and pickling keep the parameters; the model is reloaded from its weight path (or its
random seed), never pickled as numbers.

The cache (memory=, as in sklearn.pipeline.Pipeline) holds one entry per window, keyed by a hash of
the window's bytes, shape and dtype, the weights (their digest, or the random configuration and
seed), device, precision, channels and pooling: the folds of a cross-validation share their
windows' features, so each window is encoded once however often it is seen. Epochs are cached the
same way, per epoch, keyed by its samples as MNE holds them (volts, its own rate) and by what
eegpt.embed reads besides (channel names, bads, rate). Cross-validation splits Epochs into a list
of one-epoch Epochs (scikit-learn's indexing); fit and transform take such a list as the Epochs.
"""
import hashlib
import os
from typing import Optional, Sequence, Union

import joblib
import numpy as np
from numpy.typing import ArrayLike
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted, check_memory

from . import _core
from ._errors import PathArg, engine_call, fs_path
from ._model import Model, refuse_complex, windows_and_channels
from ._recordings import _mne_type, embed

# The window eegpt.embed cuts from Epochs: 4 s at the model's 256 Hz.
_EPOCH_WINDOW_SAMPLES = 1024


def _as_epochs(X):
    """X itself, or one Epochs for a list of Epochs (what scikit-learn's indexing makes of Epochs in a
    cross-validation split: one single-epoch Epochs per index)."""
    if isinstance(X, (list, tuple)) and X and all(_mne_type(e) == "epochs" for e in X):
        import mne

        return mne.concatenate_epochs(list(X), add_offset=False, verbose="ERROR")
    return X


def _stored(key, features=None):
    # The cache's entry: the result depends on `key` alone (features is ignored by the cache), so a
    # call with the features stores them and a later call with only the key reads them back.
    return features


class EEGPTFeatures(TransformerMixin, BaseEstimator):
    """EEGPT encoder features of EEG windows, as a scikit-learn transformer.

    Parameters
    ----------
    model : eegpt.Model or str or os.PathLike
        The encoder, or the path of a weight file (loaded once, reloaded after clone or pickling).
    channels : list of str or str
        One dictionary name per channel of X, in order; a comma-separated string ("FP1,CZ", as the
        CLI's ``--channels``) is also accepted.
    pooling : {"mean", "flatten"}, default="mean"
        "mean": the features averaged over time patches and summary tokens (embed_dim values per
        window); "flatten": all of them (patches * embed_num * embed_dim values).
    batch : int, default=32
        Windows per encoder call.
    memory : None, str, os.PathLike or joblib.Memory, default=None
        A cache of the features of each window (a directory, or a joblib.Memory), as
        ``sklearn.pipeline.Pipeline``'s ``memory``: a window already encoded with the same weights,
        device, precision, channels and pooling is read back instead of encoded again. None: no
        cache.
    filter_design : {None, "scipy", "mne"}, default=None
    resample_method : {None, "poly", "fft"}, default=None
        For Epochs (which are resampled to 256 Hz): as eegpt.embed's, and part of the cache's key.
        Windows arrays are encoded as given: these must stay None for them.

    Attributes
    ----------
    n_features_in_ : int
        Channels of the windows seen by fit (X's second dimension).
    n_times_in_ : int
        Samples per window seen by fit (X's third dimension).

    See Also
    --------
    eegpt.Model.encode : the encoder's full output, (windows, patches, embed_num, embed_dim).

    Examples
    --------
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.linear_model import LogisticRegression
    >>> pipe = make_pipeline(EEGPTFeatures("eegpt_large.h5", channels=names, memory="cache/"),
    ...                      LogisticRegression())  # doctest: +SKIP
    >>> cross_val_score(pipe, x, y, cv=5)  # doctest: +SKIP
    """

    def __init__(self, model: Union[Model, PathArg, None] = None, channels: Union[Sequence[str], str, None] = None,
                 pooling: str = "mean", batch: int = 32, memory: Union[PathArg, joblib.Memory, None] = None,
                 filter_design: Optional[str] = None, resample_method: Optional[str] = None) -> None:
        self.model = model
        self.channels = channels
        self.pooling = pooling
        self.batch = batch
        self.memory = memory
        self.filter_design = filter_design
        self.resample_method = resample_method

    def _model(self):
        if isinstance(self.model, Model):
            return self.model
        if self.model is None:
            raise _core.Error("EEGPTFeatures needs a model: an eegpt.Model or a weight file path")
        # A path: loaded once, kept out of get_params and of pickles.
        cached = self.__dict__.get("_loaded")
        if cached is None or cached[0] != self.model:
            cached = (self.model, Model(self.model))
            self._loaded = cached
        return cached[1]

    def __getstate__(self):
        state = dict(self.__dict__)
        state.pop("_loaded", None)
        return state

    def _check_params(self, X):
        if self.pooling not in ("mean", "flatten"):
            raise _core.Error("pooling must be 'mean' or 'flatten', not %r" % (self.pooling,))
        if self.channels is None and _mne_type(X) != "epochs":
            raise _core.Error("EEGPTFeatures needs channels: one dictionary name per channel of X")
        if int(self.batch) < 1:
            raise _core.Error("batch must be at least 1")
        if (self.filter_design is not None or self.resample_method is not None) and _mne_type(X) != "epochs":
            raise _core.Error("filter_design and resample_method apply to Epochs, which EEGPTFeatures resamples; "
                              "windows arrays are encoded as given")
        return self._model()

    def _epochs_features(self, model, X):
        # Epochs: eegpt.embed's windows (its channels, volts to millivolts, resampling), one per epoch.
        f = embed(X, model, batch=int(self.batch), progress=False, filter_design=self.filter_design,
                  resample_method=self.resample_method).features
        if len(f) != len(X):
            raise _core.Error("EEGPTFeatures takes Epochs of one 4 s window each; these give %d windows for %d "
                              "epochs (use eegpt.embed)" % (len(f), len(X)))
        return f.mean(axis=(1, 2)) if self.pooling == "mean" else f.reshape(len(f), -1)

    def _cached_epochs_features(self, model, X, memory):
        data = X.get_data()  # applies pending rejection first, as eegpt.embed does: indices below match
        info = X.info
        identity = repr((self._weights_identity(model), model.device, model.precision, list(X.ch_names),
                         list(info["bads"]), float(info["sfreq"]), self.pooling, data.shape[1:], data.dtype.str,
                         "epochs", self.filter_design, self.resample_method)).encode()
        store = memory.cache(_stored, ignore=["features"])
        keys = [hashlib.sha256(identity + e.tobytes()).hexdigest() for e in data]
        todo = [i for i, k in enumerate(keys) if not store.check_call_in_cache(k)]
        if todo:
            for i, f in zip(todo, self._epochs_features(model, X[todo])):
                store(keys[i], features=f)
        return np.stack([store(k) for k in keys]) if keys else self._epochs_features(model, X)

    def _windows(self, X):
        X = np.asarray(X)
        refuse_complex(X)
        if X.ndim != 3:
            raise _core.Error("X must be windows (n, channels, samples), not of %d dimensions" % X.ndim)
        return np.ascontiguousarray(X, dtype=np.float32)

    def fit(self, X: ArrayLike, y: None = None) -> "EEGPTFeatures":
        """Checks the parameters and loads the model; records the shape of the windows.

        Parameters
        ----------
        X : array-like of shape (n_windows, n_channels, n_samples), or mne.Epochs
            Windows in millivolts at 256 Hz; or Epochs of one 4 s window each, or a list of Epochs
            (through eegpt.embed: their channel names, volts, any rate).
        y : None
            Ignored.

        Returns
        -------
        self : EEGPTFeatures
        """
        X = _as_epochs(X)
        self._check_params(X)
        if _mne_type(X) == "epochs":
            self.n_features_in_, self.n_times_in_ = len(X.ch_names), _EPOCH_WINDOW_SAMPLES
            return self
        X = self._windows(X)
        self.n_features_in_, self.n_times_in_ = X.shape[1], X.shape[2]
        return self

    def transform(self, X: ArrayLike) -> np.ndarray:
        """The features of each window.

        Parameters
        ----------
        X : array-like of shape (n_windows, n_channels, n_samples), or mne.Epochs
            Windows in millivolts at 256 Hz; or Epochs of one 4 s window each, or a list of Epochs
            (through eegpt.embed: their channel names, volts, any rate).

        Returns
        -------
        features : ndarray of shape (n_windows, n_features_out)
            float32; a pandas DataFrame with the columns of get_feature_names_out after
            ``set_output(transform="pandas")``.
        """
        X = _as_epochs(X)
        model = self._check_params(X)
        memory = self.memory
        memory = check_memory(fs_path(memory, "memory") if isinstance(memory, (str, bytes, os.PathLike)) else memory)
        if _mne_type(X) == "epochs":
            if memory.location is None:
                return self._epochs_features(model, X)
            return self._cached_epochs_features(model, X, memory)
        X = self._windows(X)
        if hasattr(self, "n_features_in_") and X.shape[1] != self.n_features_in_:
            raise _core.Error("X has %d channels, but EEGPTFeatures was fitted on %d" % (X.shape[1],
                                                                                        self.n_features_in_))
        if memory.location is None:
            return self._encode(model, X)
        store = memory.cache(_stored, ignore=["features"])
        identity = self._identity(model, X)
        keys = [hashlib.sha256(identity + w.tobytes()).hexdigest() for w in X]
        todo = [i for i, k in enumerate(keys) if not store.check_call_in_cache(k)]
        if todo:
            for i, f in zip(todo, self._encode(model, X[todo])):
                store(keys[i], features=f)
        return np.stack([store(k) for k in keys]) if keys else self._encode(model, X)

    @staticmethod
    def _weights_identity(model):
        spec = model._spec
        return engine_call(_core.file_digest, spec[1], files=[spec[1]]) if spec[0] == "file" else repr(spec[1:3])

    def _identity(self, model, X):
        # What the features of a window depend on besides its samples.
        _, channels = windows_and_channels(X[:0], self.channels, "")
        return repr((self._weights_identity(model), model.device, model.precision, channels, self.pooling,
                     X.shape[1:], X.dtype.str)).encode()

    def _encode(self, model, X):
        out = []
        for start in range(0, len(X), int(self.batch)):
            f = model.encode(X[start:start + int(self.batch)], self.channels)
            out.append(f.mean(axis=(1, 2)) if self.pooling == "mean" else f.reshape(len(f), -1))
        return np.concatenate(out) if out else np.zeros((0, self._n_features_out(model, X.shape[2])), np.float32)

    def _n_features_out(self, model, samples):
        c = model.config
        if self.pooling == "mean":
            return c["embed_dim"]
        return max(0, (samples - c["patch_size"]) // c["patch_stride"] + 1) * c["embed_num"] * c["embed_dim"]

    def get_feature_names_out(self, input_features: Optional[Sequence[str]] = None) -> np.ndarray:
        """Names of the output features.

        Parameters
        ----------
        input_features : None
            Ignored (the inputs are channels of windows, not columns).

        Returns
        -------
        names : ndarray of str
            pooling="mean": ``eegpt_d{dim}``; pooling="flatten": ``eegpt_p{patch}_t{token}_d{dim}``
            (patch, summary token, feature dimension), in the order of transform's columns.
        """
        check_is_fitted(self, "n_features_in_")
        c = self._model().config
        dims = ["d%d" % d for d in range(c["embed_dim"])]
        if self.pooling == "mean":
            names = ["eegpt_" + d for d in dims]
        else:
            patches = self._n_features_out(self._model(), self.n_times_in_) // (c["embed_num"] * c["embed_dim"])
            names = ["eegpt_p%d_t%d_%s" % (p, t, d) for p in range(patches) for t in range(c["embed_num"])
                     for d in dims]
        return np.asarray(names, dtype=object)
