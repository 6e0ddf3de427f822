"""Recordings to features: eegpt.embed, eegpt.classify, eegpt.read_features.

A recording goes through the C++ pipeline of `eegpt embed` / `eegpt classify` (reading, channel
mapping, resampling, filters, windows, encoder, head) into an HDF5 file written as the CLI writes
it, which is then read back: the Python results are the CLI's outputs, bit for bit, with the same
metadata.
"""
import os
import sys
import tempfile
import time
import warnings
from typing import TYPE_CHECKING, Any, Dict, Optional, Sequence, Tuple, Union

import numpy as np

from . import _core
from ._errors import PathArg, engine_call, fs_path, whole_number
from ._model import Model, channel_names, check_millivolts, refuse_complex
from ._progress import ProgressArg, progress_callback

if TYPE_CHECKING:
    import mne

    from ._classifier import Classifier

# Datasets that become attributes of Recording; every other dataset and attribute is in metadata.
_FIELDS = ("features", "window_start_s", "channels", "channel_ids", "channels_dropped", "channels_dropped_reason",
           "channels_filled", "warnings", "logits", "probabilities", "predicted_class", "class_names")


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
    epoch             for Epochs (and 3-D arrays): the index of the epoch each window is from
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
        self.epoch = None  # mne.Epochs or a 3-D array: the epoch each window is from
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
    attrs, datasets = engine_call(_core.read_output, path, files=(path,))
    if "content" not in attrs:
        raise _core.Error("'%s' is not an output of eegpt embed or classify (no 'content' attribute)" % path)
    if attrs.get("complete") != 1:
        raise _core.Error("'%s' is incomplete (its attribute 'complete' is not 1): the run that wrote it did "
                          "not finish; compute it again" % path)
    fields, metadata = {}, attrs
    for name, value in datasets.items():
        (fields if name in _FIELDS else metadata)[name] = value
    return Recording(fields, metadata)


def _montage(channels):
    if channels is None:
        return []
    if not isinstance(channels, str):
        channels = ",".join(channel_names(channels, "channels"))
    return engine_call(_core.parse_montage, channels)


def _number(value, what):
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError("%s must be a number, not %r" % (what, value))
    return float(value)


FILTER_DESIGNS = ("scipy", "mne")
RESAMPLE_METHODS = ("poly", "fft")


def _filters(bandpass, notch):
    """(low, high, notch) for the engine: bandpass None is (0, 0), notch None is -1 (not given:
    a head's preparation applies), 0 is off."""
    low = high = 0.0
    if bandpass is not None:
        try:
            low, high = (float(v) for v in bandpass)
        except (TypeError, ValueError):
            raise TypeError("bandpass must be (LOW, HIGH) in Hz, e.g. (0.1, 75), not %r" % (bandpass,)) from None
    if notch is None:
        return low, high, -1.0
    notch = _number(notch, "notch")
    if not notch >= 0:
        raise ValueError("notch must be a frequency in Hz (0 < F < 128), or 0 for off, not %r" % notch)
    return low, high, notch


def _choice(value, name, choices):
    """A filter_design / resample_method keyword: None (the head's, else the default) or one of `choices`."""
    if value is None:
        return ""
    if not isinstance(value, str) or value not in choices:
        raise ValueError("%s must be None or one of %s, not %r" % (name, ", ".join(repr(c) for c in choices), value))
    return value


class ChannelMap:
    """What eegpt.map_channels found.

    Parameters
    ----------
    plan : dict
        The engine's channel plan (_core.map_channels).
    labels : list of str
        The names that were mapped, in their given order.

    Attributes
    ----------
    names : list of str
        Dictionary names, in the encoder's order.
    index : list of int
        The position in the given list each comes from; -1: filled with zeros.
    labels : list of str or None
        The given names at those positions; None: filled.
    dropped : list of (str, str)
        The names not used, with the reason.
    filled : list of str
        Dictionary names filled with zeros.
    warnings : list of str
        E.g. two names of one electrode.
    """

    def __init__(self, plan: Dict[str, Any], labels: Sequence[str]) -> None:
        self.names, self.index = plan["names"], plan["signal"]
        self.labels = [labels[i] if i >= 0 else None for i in self.index]
        self.dropped = list(zip(plan["dropped"], plan["dropped_reasons"]))
        self.filled, self.warnings = plan["filled"], plan["warnings"]

    def __repr__(self):
        return "eegpt.ChannelMap(names=%r, dropped=%r)" % (self.names, self.dropped)


def map_channels(names: Union[Sequence[str], str], channels: Union[Sequence[str], str, None] = None,
                 fill_missing: bool = False) -> ChannelMap:
    """The channel mapping of `eegpt embed` applied to a list of names.

    "EEG Fp1-REF" -> "FP1", "T3" -> "T7"; bipolar derivations, non-EEG signals and names outside
    the 62-name dictionary are dropped with the reason; of two names of one electrode the first is
    used.

    Parameters
    ----------
    names : list of str or str
        The names, e.g. MNE's raw.ch_names ("FP1,CZ" is two names).
    channels : None, "standard19" or list of str, default=None
        The dictionary names wanted, in that order; None: every name that maps.
    fill_missing : bool, default=False
        A wanted name that is missing is zeros (else an eegpt.Error).

    Returns
    -------
    mapping : ChannelMap
        x[:, m.index] are the channels of names m.names (when nothing is filled).
    """
    labels = channel_names(names, "names")
    return ChannelMap(engine_call(_core.map_channels, labels, _montage(channels), bool(fill_missing)), labels)


def run_recording(model, recording, output, head=None, stride=None, channels=None, fill_missing=False,
                  average_reference=False, bandpass=None, bandpass_order=4, notch=None, notch_q=30.0, batch=32,
                  features_dtype="float32", save_features=True, progress=True, job="", filter_design=None,
                  resample_method=None):
    """One recording (a path, or a source of _memory_source) through the C++ pipeline into
    `output`; returns the engine's summary."""
    files = []
    if isinstance(recording, tuple):
        name = os.path.basename(recording[4])
    else:
        recording = fs_path(recording, "recording")
        files.append(recording)
        name = os.path.basename(recording)
    low, high, notch_hz = _filters(bandpass, notch)
    head = "" if head is None else fs_path(head, "head")
    progress = progress_callback(progress, name)
    stride = 0.0 if stride is None else _number(stride, "stride")  # 0: the window length, or the head's stride
    batch = whole_number(batch, "batch", 1)
    return engine_call(model._core.process, recording, os.fspath(output), stride, batch,
                       _montage(channels), bool(fill_missing), bool(average_reference), low, high,
                       whole_number(bandpass_order, "bandpass_order", 0), notch_hz, _number(notch_q, "notch_q"),
                       _choice(filter_design, "filter_design", FILTER_DESIGNS),
                       _choice(resample_method, "resample_method", RESAMPLE_METHODS),
                       str(features_dtype), head, bool(save_features), progress or None, job,
                       files=files + ([head] if head else []))


def _run_to_memory(model, recording, head, options):
    with tempfile.TemporaryDirectory(prefix="eegpt-") as tmp:
        out = os.path.join(tmp, "out.h5")
        run_recording(model, recording, out, head=head, **options)
        return read_features(out)


def _mne_type(x):
    """"raw" or "epochs" for MNE's objects, else None (MNE is imported only if the caller has)."""
    mne = sys.modules.get("mne")
    if mne is None:
        return None
    if isinstance(x, mne.io.BaseRaw):
        return "raw"
    if isinstance(x, mne.BaseEpochs):
        return "epochs"
    return None


def _memory_source(data, names, units, sfreq, description):
    """The engine's in-memory recording: float64 (channels, samples) in `units`, names, rate."""
    return (np.ascontiguousarray(data, dtype=np.float64), list(names), list(units), float(sfreq), description)


def _mne_channels(inst):
    """Picks of an MNE object's channels not in info['bads'], their units ("V" for voltages; other
    channels get none and are dropped as the CLI drops non-voltage signals), and the bads, dropped
    with a warning."""
    from mne.io.constants import FIFF

    bads = [c for c in inst.info["bads"] if c in inst.ch_names]
    if bads:
        warnings.warn("channels in info['bads'] not used: %s" % ", ".join(bads), stacklevel=4)
    picks = [i for i, c in enumerate(inst.ch_names) if c not in bads]
    units = ["V" if inst.info["chs"][i]["unit"] == FIFF.FIFF_UNIT_V else "" for i in picks]
    return picks, [inst.ch_names[i] for i in picks], units, bads


def _raw_description(raw):
    """The file a Raw was read from when it holds that whole file; else says which samples."""
    files = [str(f) for f in (getattr(raw, "filenames", None) or []) if f]
    if not files:
        return "mne.io.Raw"
    whole = None
    if len(files) == 1 and raw.first_samp == 0:
        try:
            import mne
            whole = mne.io.read_raw(files[0], preload=False, verbose="ERROR").n_times
        except Exception:  # not readable again: describe the samples
            whole = None
    if whole == raw.n_times:
        return files[0]
    return "mne.io.Raw of %s, samples %d..%d" % (files[0], raw.first_samp, raw.last_samp)


def _with_windows(rec, keep):
    """rec with only the windows `keep` (bool per window); a classify result's recording-level
    values are those of the windows kept, computed as the engine does."""
    for name in ("features", "window_start_s", "logits", "probabilities", "predicted_class", "epoch"):
        value = getattr(rec, name)
        if value is not None:
            setattr(rec, name, np.asarray(value)[keep])
    rec.metadata["n_windows"] = len(rec)
    if rec.probabilities is not None:
        _recording_level(rec)
    return rec


def _recording_level(rec):
    if len(rec) == 0:
        raise _core.Error("no window left: every window overlaps a BAD_ annotation or is rejected")
    p = np.asarray(rec.probabilities, dtype=np.float64)
    mean = p.mean(axis=0)
    fraction = np.bincount(np.asarray(rec.predicted_class), minlength=len(rec.class_names)) / len(rec)
    best = (1 if mean[0] >= 0.5 else 0) if p.shape[1] == 1 else int(np.argmax(mean))
    rec.metadata.update(recording_mean_probability=mean, recording_class_fraction=fraction,
                        recording_predicted_class=rec.class_names[best])


def _bad_annotation_mask(raw):
    """True for each sample of raw inside a BAD_* annotation (MNE's own rule: get_data's
    reject_by_annotation), or None when there is none."""
    if not any(d.upper().startswith("BAD") for d in raw.annotations.description):
        return None
    return np.isnan(raw.get_data(picks=[0], reject_by_annotation="NaN", verbose="ERROR")[0])


def _embed_raw(raw, model, head, reject_by_annotation, options):
    picks, names, units, bads = _mne_channels(raw)
    data = raw.get_data(picks=picks)
    rec = _run_to_memory(model, _memory_source(data, names, units, raw.info["sfreq"], _raw_description(raw)),
                         head, options)
    rec.dropped += [(b, "in info['bads']") for b in bads]
    rec.metadata["first_samp"] = int(raw.first_samp)
    mask = _bad_annotation_mask(raw)
    overlap = np.zeros(len(rec), bool)
    if mask is not None:
        sfreq, length = raw.info["sfreq"], rec.metadata["window_s"]
        for i, t in enumerate(rec.window_start_s):
            a = int(round(t * sfreq))
            overlap[i] = mask[a:a + int(round(length * sfreq))].any()
    rec.metadata["windows_overlapping_bad_s"] = rec.window_start_s[overlap]
    rec.metadata["reject_by_annotation"] = int(bool(reject_by_annotation))
    return _with_windows(rec, ~overlap) if reject_by_annotation and overlap.any() else rec


def _embed_epochs(data, names, units, sfreq, starts, description, model, head, options):
    """Each epoch (data: epochs, channels, samples) through the pipeline as a recording of its own
    (resampled and filtered on its own, as MNE filters epochs); windows are stacked, timed from
    `starts` (seconds of each epoch's first sample) and numbered in rec.epoch."""
    progress, t0 = options.pop("progress"), time.monotonic()
    recs = []
    for i, epoch in enumerate(data):
        rec = _run_to_memory(model, _memory_source(epoch, names, units, sfreq, description), head,
                             dict(options, progress=False))
        rec.window_start_s = rec.window_start_s + starts[i]
        rec.epoch = np.full(len(rec), i)
        recs.append(rec)
        if callable(progress):
            progress(i + 1, len(data), time.monotonic() - t0)
    if not recs:
        raise _core.Error("no epochs: the Epochs object is empty")
    rec = recs[0]
    for name in ("features", "window_start_s", "logits", "probabilities", "predicted_class", "epoch"):
        if getattr(rec, name) is not None:
            setattr(rec, name, np.concatenate([np.asarray(getattr(r, name)) for r in recs]))
    rec.warnings = [w for r in recs for w in r.warnings]
    rec.metadata["n_windows"] = len(rec)
    if rec.probabilities is not None:
        _recording_level(rec)
    return rec


def _model_of(model):
    if isinstance(model, Model):
        return model
    try:
        return Model(fs_path(model))
    except TypeError:
        raise TypeError("model must be an eegpt.Model or a weight file path (str, bytes or os.PathLike), not %s"
                        % type(model).__name__) from None


def _run(recording, model, head, sfreq, ch_names, reject_by_annotation, options):
    """recording (a path, an mne.io.Raw, mne.Epochs, or a NumPy array with sfreq and ch_names)
    through the pipeline."""
    model = _model_of(model)
    kind = _mne_type(recording)
    if kind is not None and (sfreq is not None or ch_names is not None):
        raise TypeError("sfreq= and ch_names= are for NumPy arrays; an MNE object has its own")
    if kind == "raw":
        return _embed_raw(recording, model, head, reject_by_annotation, options)
    if kind == "epochs":
        picks, names, units, bads = _mne_channels(recording)
        data = recording.get_data(picks=picks)  # drops the bad epochs first: events below match
        starts = recording.events[:, 0] / recording.info["sfreq"] + recording.tmin
        rec = _embed_epochs(data, names, units, recording.info["sfreq"], starts, "mne.Epochs (%d epochs)" % len(data),
                            model, head, options)
        rec.dropped += [(b, "in info['bads']") for b in bads]
        return rec
    if isinstance(recording, np.ndarray) or hasattr(recording, "__array__") and not isinstance(recording, str):
        if sfreq is None or ch_names is None:
            raise TypeError("recording is an array: give sfreq= (its sampling rate, Hz) and ch_names= (one name per "
                            "channel); arrays are in millivolts")
        x = np.asarray(recording)
        refuse_complex(x)
        names = channel_names(ch_names, "ch_names")
        sfreq = _number(sfreq, "sfreq")
        check_millivolts(x, "recording")
        if x.ndim == 2:
            return _run_to_memory(model, _memory_source(x, names, ["mV"] * len(names), sfreq, "numpy array"), head,
                                  options)
        if x.ndim == 3:
            starts = np.arange(len(x)) * (x.shape[2] / sfreq)
            return _embed_epochs(x, names, ["mV"] * len(names), sfreq, starts, "numpy array (%d epochs)" % len(x),
                                 model, head, options)
        raise _core.Error("recording array must be (channels, samples) or (epochs, channels, samples), not of %d "
                          "dimensions" % x.ndim)
    if sfreq is not None or ch_names is not None:
        raise TypeError("sfreq= and ch_names= are for NumPy arrays; a file has its own")
    try:
        fs_path(recording)
    except TypeError:
        raise TypeError("recording must be an EDF/BDF path (str, bytes or os.PathLike), an mne.io.Raw, mne.Epochs "
                        "or a NumPy array (with sfreq= and ch_names=), not %s" % type(recording).__name__) from None
    return _run_to_memory(model, recording, head, options)


def embed(recording: Union[PathArg, "mne.io.BaseRaw", "mne.BaseEpochs", np.ndarray], model: Union["Model", PathArg],
          stride: float = 4.0, channels: Union[Sequence[str], str, None] = None,
          fill_missing: bool = False, average_reference: bool = False,
          bandpass: Optional[Tuple[float, float]] = None, bandpass_order: int = 4, notch: Optional[float] = None,
          notch_q: float = 30.0, batch: int = 32, features_dtype: str = "float32",
          progress: ProgressArg = True, sfreq: Optional[float] = None, ch_names: Optional[Sequence[str]] = None,
          reject_by_annotation: bool = True, filter_design: Optional[str] = None,
          resample_method: Optional[str] = None) -> Recording:
    """Features of a recording, as `eegpt embed` computes them.

    Parameters
    ----------
    recording : path, mne.io.Raw, mne.Epochs or ndarray
        An EDF/BDF file; an mne.io.Raw or mne.Epochs (volts, any rate: converted and resampled;
        channels in info['bads'] left out with a warning and listed in `dropped`; each epoch is a
        recording of its own); or a NumPy array (channels, samples) or (epochs, channels,
        samples) in millivolts, with sfreq= and ch_names=.
    model : eegpt.Model or path
        A Model, or a weight file.
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
        (windows_done, windows_total, elapsed_s) is called after every batch (for Epochs: after
        every epoch, counting epochs); an exception it raises (or Ctrl-C) stops the recording.
    sfreq : float, optional
        The array's sampling rate in Hz (arrays only).
    ch_names : list of str, optional
        One name per channel of the array, mapped as a recording's labels (arrays only).
    reject_by_annotation : bool, default=True
        A Raw's windows overlapping BAD_* annotations are removed (as MNE does); False keeps them.
        Their starts are in metadata["windows_overlapping_bad_s"] either way.
    filter_design : {None, "scipy", "mne"}, default=None
        "scipy": the band-pass and notch are Butterworth and iirnotch filters run forward and
        backward (sosfiltfilt) after resampling; "mne": MNE 1.4.2's FIR filters (raw.filter,
        raw.notch_filter with their defaults) at the recording's rate before resampling, as MNE
        users and the official TUAB/TUEV makers apply them (bandpass LOW may then be 0: a low-pass;
        bandpass_order and notch_q are scipy's and must stay at their defaults). None: a head's
        preparation, else "scipy".
    resample_method : {None, "poly", "fft"}, default=None
        "poly": scipy's resample_poly, streamed in bounded memory; "fft": MNE 1.4.2's
        raw.resample, which keeps every channel whole in memory. None: a head's preparation, else
        "poly".

    Returns
    -------
    recording : Recording
    """
    return _run(recording, model, None, sfreq, ch_names, reject_by_annotation, dict(
        stride=stride, channels=channels, fill_missing=fill_missing, average_reference=average_reference,
        bandpass=bandpass, bandpass_order=bandpass_order, notch=notch, notch_q=notch_q, batch=batch,
        features_dtype=features_dtype, progress=progress, filter_design=filter_design,
        resample_method=resample_method))


def classify(recording: Union[PathArg, "mne.io.BaseRaw", "mne.BaseEpochs", np.ndarray],
             model: Union["Model", PathArg], head: Union[PathArg, "Classifier"], stride: Optional[float] = None,
             fill_missing: bool = False, average_reference: bool = False,
             bandpass: Optional[Tuple[float, float]] = None, bandpass_order: int = 4, notch: Optional[float] = None,
             notch_q: float = 30.0, batch: int = 32, save_features: bool = False, progress: ProgressArg = True,
             sfreq: Optional[float] = None, ch_names: Optional[Sequence[str]] = None,
             reject_by_annotation: bool = True, filter_design: Optional[str] = None,
             resample_method: Optional[str] = None) -> Recording:
    """Class probabilities of a recording with a head (docs/weight-format.md), as `eegpt classify`.

    The head fixes the input channels, the sample rate, the window length, the unit and the
    default stride.

    Parameters
    ----------
    recording : path, mne.io.Raw, mne.Epochs or ndarray
        An EDF/BDF file; an mne.io.Raw or mne.Epochs (volts, any rate: converted and resampled;
        channels in info['bads'] left out with a warning and listed in `dropped`; each epoch is a
        recording of its own); or a NumPy array (channels, samples) or (epochs, channels,
        samples) in millivolts, with sfreq= and ch_names=.
    model : eegpt.Model or path
        A Model, or a weight file.
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
    sfreq : float, optional
        The array's sampling rate in Hz (arrays only).
    ch_names : list of str, optional
        One name per channel of the array, mapped as a recording's labels (arrays only).
    reject_by_annotation : bool, default=True
        A Raw's windows overlapping BAD_* annotations are removed (as MNE does); False keeps them.
        Their starts are in metadata["windows_overlapping_bad_s"] either way.
    filter_design : {None, "scipy", "mne"}, default=None
    resample_method : {None, "poly", "fft"}, default=None
        As embed's. A head that carries a data preparation (tuab, tuev: MNE FIR 0.1-75 Hz, notch
        50 Hz, FFT resampling to 200 Hz) applies it unless these and the filter keywords override
        it, setting by setting.

    Returns
    -------
    recording : Recording
        With logits, probabilities, predicted_class and class_names; the recording-level result
        (metadata: recording_mean_probability, recording_class_fraction, recording_predicted_class)
        is of the windows kept.
    """
    if isinstance(head, _classifier_type()):
        head = head.head_path
    elif head is None:
        raise TypeError("classify needs a head: a head file path or an eegpt.Classifier, not None")
    return _run(recording, model, head, sfreq, ch_names, reject_by_annotation, dict(
        stride=stride, fill_missing=fill_missing, average_reference=average_reference, bandpass=bandpass,
        bandpass_order=bandpass_order, notch=notch, notch_q=notch_q, batch=batch, save_features=save_features,
        progress=progress, filter_design=filter_design, resample_method=resample_method))


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
