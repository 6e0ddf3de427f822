"""Recordings to features: eegpt.embed, eegpt.classify, eegpt.read_features.

A recording goes through the C++ pipeline of `eegpt embed` / `eegpt classify` (reading, channel
mapping, resampling, filters, windows, encoder, head) into an HDF5 file written as the CLI writes
it, which is then read back: the Python results are the CLI's outputs, bit for bit, with the same
metadata.
"""
import os
import tempfile
from typing import TYPE_CHECKING, Any, Dict, Optional, Sequence, Tuple, Union

import h5py
import numpy as np

from . import _core
from ._errors import PathArg, engine_call, fs_path
from ._progress import ProgressArg, progress_callback

if TYPE_CHECKING:
    import mne

    from ._classifier import Classifier
    from ._model import Model

# Datasets that become attributes of Recording; every other dataset and attribute is in metadata.
_FIELDS = ("features", "window_start_s", "channels", "channel_ids", "channels_dropped", "channels_dropped_reason",
           "channels_filled", "warnings", "logits", "probabilities", "predicted_class", "class_names")


def _text(v):
    if isinstance(v, bytes):
        return v.decode("utf-8")
    if isinstance(v, np.ndarray) and v.dtype.kind in "OS":
        return [_text(x) for x in v.tolist()]
    if isinstance(v, np.generic):
        return v.item()
    return v


class Recording:
    """Features (and predictions) of one recording, as the CLI writes them.

    Made by embed, classify and read_features.

    Parameters
    ----------
    fields : dict
        The output file's datasets named below, by name.
    metadata : dict
        Every other dataset and attribute of the output file.

    Attributes
    ----------
    features          float32 (windows, patches, embed_num, embed_dim), or float16; None if not saved
    window_start_s    float64 (windows,): start of each window in the recording (4 s windows, or
                      the head's)
    channels          the channels the encoder saw, in order (dictionary names)
    channel_ids       their dictionary ids
    dropped           [(source label, reason)] of the recording's signals not used
    filled            channels filled with zeros (fill_missing)
    warnings          repairs and oddities met while reading
    logits, probabilities, predicted_class, class_names: classify only (else None); a sigmoid
                      head (one logit) has one probability column, of class_names[1]
    metadata          every other dataset and attribute of the output file (recording path, file
                      type, duration, preprocessing, source labels and rates, weights' provenance,
                      device, precision, engine version, ...)
    """

    def __init__(self, fields: Dict[str, Any], metadata: Dict[str, Any]) -> None:
        self.features = fields.get("features")
        self.window_start_s = fields.get("window_start_s")
        self.channels = fields.get("channels", [])
        self.channel_ids = fields.get("channel_ids")
        self.dropped = list(zip(fields.get("channels_dropped", []), fields.get("channels_dropped_reason", [])))
        self.filled = fields.get("channels_filled", [])
        self.warnings = fields.get("warnings", [])
        self.logits = fields.get("logits")
        self.probabilities = fields.get("probabilities")
        self.predicted_class = fields.get("predicted_class")
        self.class_names = fields.get("class_names")
        self.metadata = metadata

    def __len__(self):
        return 0 if self.window_start_s is None else len(self.window_start_s)

    def __repr__(self):
        shape = None if self.features is None else self.features.shape
        return "eegpt.Recording(%s: %d windows, features %s, channels %s)" % (
            self.metadata.get("recording"), len(self), shape, " ".join(self.channels))


def read_features(path: PathArg) -> Recording:
    """Reads an output of `eegpt embed` / `eegpt classify` (or of embed_many).

    An output whose run did not finish (attribute `complete` not 1) is refused, as the CLI's resume
    treats it.

    Parameters
    ----------
    path : str, bytes or os.PathLike

    Returns
    -------
    recording : Recording
    """
    path = fs_path(path)
    try:
        f = h5py.File(path, "r")
    except FileNotFoundError:
        raise FileNotFoundError(2, "cannot read '%s': no such file" % path, path) from None
    except OSError as e:
        raise _core.Error("'%s' is not an HDF5 file (or it is truncated): %s" % (path, e)) from None
    with f:
        if "content" not in f.attrs:
            raise _core.Error("'%s' is not an output of eegpt embed or classify (no 'content' attribute)" % path)
        if f.attrs.get("complete") != 1:
            raise _core.Error("'%s' is incomplete (its attribute 'complete' is not 1): the run that wrote it did "
                              "not finish; compute it again" % path)
        fields, metadata = {}, {k: _text(v) for k, v in f.attrs.items()}
        for name, ds in f.items():
            value = _text(ds[()])
            (fields if name in _FIELDS else metadata)[name] = value
    return Recording(fields, metadata)


def _montage(channels):
    if channels is None:
        return []
    if not isinstance(channels, str):
        channels = ",".join(channels)
    return _core.parse_montage(channels)


def _filters(bandpass, notch):
    low = high = 0.0
    if bandpass is not None:
        try:
            low, high = (float(v) for v in bandpass)
        except (TypeError, ValueError):
            raise _core.Error("bandpass %r must be (LOW, HIGH) in Hz, e.g. (0.1, 75)" % (bandpass,)) from None
    return low, high, float(notch or 0.0)


def run_recording(model, recording, output, head=None, stride=None, channels=None, fill_missing=False,
                  average_reference=False, bandpass=None, bandpass_order=4, notch=None, notch_q=30.0, batch=32,
                  features_dtype="float32", save_features=True, progress=True, job=""):
    """One recording (a path, or an mne.io.Raw) through the C++ pipeline into `output`; returns the
    engine's summary."""
    files = []
    if _is_mne_raw(recording):
        recording = _raw_source(recording)
    else:
        recording = fs_path(recording, "recording")
        files.append(recording)
    low, high, notch_hz = _filters(bandpass, notch)
    head = "" if head is None else fs_path(head, "head")
    progress = progress_callback(progress, os.path.basename(files[0]) if files else "mne.io.Raw")
    stride = 0.0 if stride is None else float(stride)  # 0: the window length, or the head's stride
    return engine_call(model._core.process, recording, os.fspath(output), stride, int(batch),
                       _montage(channels), bool(fill_missing), bool(average_reference), low, high,
                       int(bandpass_order), notch_hz, float(notch_q), features_dtype, head, bool(save_features),
                       progress or None, job, files=files + ([head] if head else []))


def _run_to_memory(model, recording, head, options):
    with tempfile.TemporaryDirectory(prefix="eegpt-") as tmp:
        out = os.path.join(tmp, "out.h5")
        run_recording(model, recording, out, head=head, **options)
        return read_features(out)


def _is_mne_raw(x):
    return hasattr(x, "info") and hasattr(x, "get_data") and hasattr(x, "ch_names")


def _raw_source(raw):
    """An mne.io.Raw as the engine's in-memory recording: its samples (float64, in volts for
    channels whose unit is the volt; other channels get no unit and are dropped as the CLI drops
    non-voltage signals), names and sampling rate. MNE reads the data once (get_data); from there
    the channel mapping, resampling and filters are the C++ pipeline's."""
    from mne.io.constants import FIFF

    data = np.ascontiguousarray(raw.get_data(), dtype=np.float64)
    units = ["V" if ch["unit"] == FIFF.FIFF_UNIT_V else "" for ch in raw.info["chs"]]
    names = [f for f in (getattr(raw, "filenames", None) or []) if f]
    description = str(names[0]) if names else "mne.io.Raw"
    return (data, list(raw.ch_names), units, float(raw.info["sfreq"]), description)


def embed(recording: Union[PathArg, "mne.io.BaseRaw"], model: "Model", stride: float = 4.0, channels: Union[Sequence[str], str, None] = None,
          fill_missing: bool = False, average_reference: bool = False,
          bandpass: Optional[Tuple[float, float]] = None, bandpass_order: int = 4, notch: Optional[float] = None,
          notch_q: float = 30.0, batch: int = 32, features_dtype: str = "float32",
          progress: ProgressArg = True) -> Recording:
    """Features of a recording, as `eegpt embed` computes them.

    Parameters
    ----------
    recording : path or mne.io.Raw
        An EDF/BDF file, or an mne.io.Raw.
    model : eegpt.Model
    stride : float, default=4.0
        Seconds between 4 s windows.
    channels : None, "standard19", "all" or list of str, default=None
        None: every signal that maps.
    fill_missing : bool, default=False
        A requested channel the recording lacks is zeros (else an error).
    average_reference : bool, default=False
        Subtract the mean of the recorded channels.
    bandpass : (float, float) or None, default=None
        A zero-phase Butterworth band-pass (LOW, HIGH) in Hz.
    bandpass_order : int, default=4
    notch : float or None, default=None
        A zero-phase notch at this frequency in Hz.
    notch_q : float, default=30.0
        The notch's quality factor.
    batch : int, default=32
        Windows per encoder call.
    features_dtype : {"float32", "float16"}, default="float32"
    progress : bool or callable, default=True
        True: shown when stderr is a terminal (tqdm when installed); False: none; a callable
        (windows_done, windows_total, elapsed_s) is called after every batch; an exception it
        raises (or Ctrl-C) stops the recording.

    Returns
    -------
    recording : Recording
    """
    return _run_to_memory(model, recording, None, dict(
        stride=stride, channels=channels, fill_missing=fill_missing, average_reference=average_reference,
        bandpass=bandpass, bandpass_order=bandpass_order, notch=notch, notch_q=notch_q, batch=batch,
        features_dtype=features_dtype, progress=progress))


def classify(recording: Union[PathArg, "mne.io.BaseRaw"], model: "Model", head: Union[PathArg, "Classifier"], stride: Optional[float] = None, fill_missing: bool = False,
             average_reference: bool = False, bandpass: Optional[Tuple[float, float]] = None,
             bandpass_order: int = 4, notch: Optional[float] = None, notch_q: float = 30.0, batch: int = 32,
             save_features: bool = False, progress: ProgressArg = True) -> Recording:
    """Class probabilities of a recording with a head (docs/weight-format.md), as `eegpt classify`.

    The head fixes the input channels, the sample rate, the window length, the unit and the
    default stride.

    Parameters
    ----------
    recording : path or mne.io.Raw
    model : eegpt.Model
    head : path or eegpt.Classifier
        A head file, or a Classifier (its head).
    stride : float or None, default=None
        Seconds between windows; None: the head's.
    fill_missing : bool, default=False
        An input the recording lacks is zeros (else an error).
    average_reference : bool, default=False
    bandpass : (float, float) or None, default=None
    bandpass_order : int, default=4
    notch : float or None, default=None
    notch_q : float, default=30.0
        As embed's.
    batch : int, default=32
    save_features : bool, default=False
        Also keep the features.
    progress : bool or callable, default=True
        As embed's.

    Returns
    -------
    recording : Recording
        With logits, probabilities, predicted_class and class_names; the recording-level result
        is in metadata (recording_mean_probability, recording_class_fraction,
        recording_predicted_class).
    """
    if isinstance(head, _classifier_type()):
        head = head.head_path
    elif head is None:
        raise TypeError("classify needs a head: a head file path or an eegpt.Classifier, not None")
    return _run_to_memory(model, recording, head, dict(
        stride=stride, fill_missing=fill_missing, average_reference=average_reference, bandpass=bandpass,
        bandpass_order=bandpass_order, notch=notch, notch_q=notch_q, batch=batch, save_features=save_features,
        progress=progress))


def _classifier_type():
    from ._classifier import Classifier
    return Classifier


def output_name(recording: PathArg, output_dir: PathArg, suffix: str = ".features.h5") -> str:
    """Where the CLI writes a recording's output.

    Parameters
    ----------
    recording : str, bytes or os.PathLike
    output_dir : str, bytes or os.PathLike
    suffix : str, default=".features.h5"

    Returns
    -------
    path : str
        OUTPUT_DIR/NAME + suffix, NAME being the file name less a .edf/.bdf/.rec extension.
    """
    stem = os.path.basename(fs_path(recording, "recording"))
    base, ext = os.path.splitext(stem)
    if base and ext.lower() in (".edf", ".bdf", ".rec"):
        stem = base
    return os.path.join(fs_path(output_dir, "output_dir") or ".", stem + suffix)
