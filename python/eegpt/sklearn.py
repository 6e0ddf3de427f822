"""EEGPTFeatures: EEGPT features as a scikit-learn transformer.

    make_pipeline(EEGPTFeatures(model, channels=names), LogisticRegression())

X is windows (n, channels, samples) in millivolts at 256 Hz; transform gives, per window, the
features pooled over time patches and summary tokens (pooling="mean": embed_dim values) or all of
them (pooling="flatten": patches * embed_num * embed_dim values). The transformer has nothing to
fit. clone() and pickling keep the parameters; the model is reloaded from its weight path (or its
random seed), never pickled as numbers.
"""
import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

from . import _core
from ._model import Model, refuse_complex
from ._recordings import _mne_type, embed


class EEGPTFeatures(TransformerMixin, BaseEstimator):
    """channels: one dictionary name per channel of X, a list or a comma-separated string
    ("FP1,CZ", as the CLI's --channels)."""

    def __init__(self, model=None, channels=None, pooling="mean", batch=32):
        self.model = model
        self.channels = channels
        self.pooling = pooling
        self.batch = batch

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

    def fit(self, X, y=None):
        if self.pooling not in ("mean", "flatten"):
            raise _core.Error("pooling must be 'mean' or 'flatten', not %r" % (self.pooling,))
        if self.channels is None and _mne_type(X) != "epochs":
            raise _core.Error("EEGPTFeatures needs channels: one dictionary name per channel of X")
        if int(self.batch) < 1:
            raise _core.Error("batch must be at least 1")
        self._model()
        return self

    def transform(self, X):
        self.fit(X)
        model = self._model()
        if _mne_type(X) == "epochs":
            # Epochs: eegpt.embed's windows (its channels, volts to millivolts, resampling), one per epoch.
            f = embed(X, model, batch=int(self.batch), progress=False).features
            if len(f) != len(X):
                raise _core.Error("EEGPTFeatures takes Epochs of one 4 s window each; these give %d windows for %d "
                                  "epochs (use eegpt.embed)" % (len(f), len(X)))
            return f.mean(axis=(1, 2)) if self.pooling == "mean" else f.reshape(len(f), -1)
        X = np.asarray(X)
        refuse_complex(X)
        X = X.astype(np.float32, copy=False)
        if X.ndim != 3:
            raise _core.Error("X must be windows (n, channels, samples), not of %d dimensions" % X.ndim)
        out = []
        for start in range(0, len(X), int(self.batch)):
            f = model.encode(np.ascontiguousarray(X[start:start + int(self.batch)]), self.channels)
            out.append(f.mean(axis=(1, 2)) if self.pooling == "mean" else f.reshape(len(f), -1))
        return np.concatenate(out) if out else np.zeros((0, 0), np.float32)
