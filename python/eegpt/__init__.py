"""eegpt: the EEGPT EEG encoder engine (C++, CUDA) for NumPy, MNE-Python, scikit-learn and Dask.

    import eegpt
    model = eegpt.Model("eegpt_large.h5")              # or eegpt.Model.random("large", seed=0)
    feats = model.encode(x, channels)                  # (batch, channels, samples) mV at 256 Hz
    rec = eegpt.embed("recording.edf", model)          # or an mne.io.Raw, mne.Epochs
    eegpt.map_channels(raw.ch_names).names             # the CLI's channel mapping
    rec.features, rec.window_start_s, rec.channels, rec.dropped, rec.metadata
    clf = eegpt.Classifier("tuab_head.h5", "tuab_encoder.h5")  # a downstream model (docs/downstream.md)
    clf.predict_proba(x)                               # the official forward; eegpt.classify(path, model, clf)

The computation is the C++ engine's, the same as the `eegpt` command line's: the same channel
mapping, resampling, filters and encoder, and the same one-line error messages, raised as
eegpt.Error (a ValueError) for bad input and OSError for files that cannot be read.
"""
from . import _core, _errors
from ._core import Error, __version__
from ._model import Model
from ._classifier import Classifier
from ._recordings import ChannelMap, Recording, classify, embed, map_channels, output_name, read_features
from ._many import embed_many


def write_demo_recording(path: _errors.PathArg = "eegpt_demo_recording.edf") -> str:
    """Writes the demo's synthetic 60 s EDF+ recording: not a real recording.

    19 EEG channels at 500 Hz labelled `EEG Fp1-REF` ..., alpha rhythm, 1/f background, eye
    blinks, plus ECG.

    Parameters
    ----------
    path : str, bytes or os.PathLike, default="eegpt_demo_recording.edf"

    Returns
    -------
    path : str
    """
    from ._errors import engine_call, fs_path

    path = fs_path(path)
    engine_call(_core.write_synthetic_recording, path)
    return path

__all__ = ["Error", "Model", "Classifier", "Recording", "embed", "classify", "read_features", "embed_many", "output_name",
           "map_channels", "ChannelMap",
           "EEGPTFeatures", "write_demo_recording", "__version__"]


def __getattr__(name):
    # scikit-learn is optional: imported only when the transformer is asked for.
    if name == "EEGPTFeatures":
        from .sklearn import EEGPTFeatures
        return EEGPTFeatures
    raise AttributeError("module 'eegpt' has no attribute %r" % name)
