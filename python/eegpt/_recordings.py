"""Recordings to features: eegpt.embed, eegpt.classify, eegpt.read_features.

A recording goes through the C++ pipeline of `eegpt embed` / `eegpt classify` (reading, channel
mapping, resampling, filters, windows, encoder, head) into an HDF5 file written as the CLI writes
it, which is then read back: the Python results are the CLI's outputs, bit for bit, with the same
metadata.
"""
import os
import sys
import tempfile

import numpy as np

from . import _core
from ._errors import engine_call, fs_path

# Datasets that become attributes of Recording; every other dataset and attribute is in metadata.
_FIELDS = ("features", "window_start_s", "channels", "channel_ids", "channels_dropped", "channels_dropped_reason",
           "channels_filled", "warnings", "logits", "probabilities", "predicted_class", "class_names")


class Recording:
    """Features (and predictions) of one recording, as the CLI writes them.

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

    def __init__(self, fields, metadata):
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


def read_features(path):
    """Reads an output of `eegpt embed` / `eegpt classify` (or of embed_many) into a Recording; an
    output whose run did not finish (attribute `complete` not 1) is refused, as the CLI's resume
    treats it."""
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


class _ProgressBar:
    """The CLI's progress line (windows done, windows/s, time left), on sys.stderr so that
    notebooks show it."""

    def __init__(self, name, width=30):
        self.name, self.width = name, width

    def __call__(self, done, total, elapsed):
        full = self.width * done // max(1, total)
        rate = done / elapsed if elapsed > 0 else 0.0
        left = (total - done) / rate if rate > 0 else 0.0
        sys.stderr.write("\r%s [%s%s] %d/%d windows  %.1f windows/s  %d:%02d left " % (
            self.name, "#" * full, "." * (self.width - full), done, total, rate, left // 60, left % 60))
        if done == total:
            sys.stderr.write("\n")
        sys.stderr.flush()


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
    if progress is True:
        progress = _ProgressBar(os.path.basename(files[0]) if files else "mne.io.Raw")
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


def embed(recording, model, stride=4.0, channels=None, fill_missing=False, average_reference=False, bandpass=None,
          bandpass_order=4, notch=None, notch_q=30.0, batch=32, features_dtype="float32", progress=True):
    """Features of a recording: an EDF/BDF path or an mne.io.Raw, as `eegpt embed` computes them.

    stride: seconds between 4 s windows; channels: None (every signal that maps), "standard19",
    "all" or a list of names; fill_missing: a requested channel the recording lacks is zeros
    (else an error); bandpass=(LOW, HIGH) Hz and notch=F Hz: zero-phase filters (off by default);
    batch: windows per encoder call; progress: True (a progress line on stderr), False, or a callable
    (windows_done, windows_total, elapsed_s) called after every batch, e.g. to drive tqdm; an
    exception it raises (or Ctrl-C) stops the recording. Returns a Recording."""
    return _run_to_memory(model, recording, None, dict(
        stride=stride, channels=channels, fill_missing=fill_missing, average_reference=average_reference,
        bandpass=bandpass, bandpass_order=bandpass_order, notch=notch, notch_q=notch_q, batch=batch,
        features_dtype=features_dtype, progress=progress))


def classify(recording, model, head, stride=None, fill_missing=False, average_reference=False, bandpass=None,
             bandpass_order=4, notch=None, notch_q=30.0, batch=32, save_features=False, progress=True):
    """Class probabilities of a recording with a head file (docs/weight-format.md), as `eegpt classify`:
    a Recording with logits, probabilities, predicted_class and class_names; the recording-level
    result is in metadata (recording_mean_probability, recording_class_fraction,
    recording_predicted_class). The head fixes the input channels, the sample rate, the window
    length, the unit and the default stride (stride=None); fill_missing: an input the recording
    lacks is zeros (else an error). head: a head file or an eegpt.Classifier."""
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


def output_name(recording, output_dir, suffix=".features.h5"):
    """Where the CLI writes a recording's output: OUTPUT_DIR/NAME.features.h5, NAME being the file
    name less a .edf/.bdf/.rec extension."""
    stem = os.path.basename(fs_path(recording, "recording"))
    base, ext = os.path.splitext(stem)
    if base and ext.lower() in (".edf", ".bdf", ".rec"):
        stem = base
    return os.path.join(fs_path(output_dir, "output_dir") or ".", stem + suffix)
