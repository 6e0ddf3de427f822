"""eegpt.Model: weights plus an encoder of the C++ engine."""
import os
import warnings
from typing import Any, Dict, Optional, Sequence, Union

import numpy as np
from numpy.typing import ArrayLike

from . import _core
from ._errors import PathArg, engine_call, fs_path, whole_number


def _threads(threads):
    # As the CLI's --threads: more threads than cores only adds memory and contention.
    threads = whole_number(threads, "threads", 0)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    if threads > cores:
        warnings.warn("threads %d: only %d cores are available to this process; using %d" % (threads, cores, cores))
        return cores
    return threads


def refuse_complex(x):
    """TypeError for complex values: converting them to float32 would drop the imaginary part."""
    if "complex" in str(getattr(x, "dtype", "")):
        raise TypeError("x is complex (%s): EEG windows are real; pass the real part (x.real) or the "
                        "magnitude explicitly" % (x.dtype,))


def channel_names(names, what):
    """A list of channel names; TypeError for anything but a str ("FP1,CZ") or an iterable of str."""
    if isinstance(names, str):
        return names.split(",")
    try:
        names = list(names)
    except TypeError:
        raise TypeError("%s must be a list of channel names or a comma-separated str, not %s" % (
            what, type(names).__name__)) from None
    for n in names:
        if not isinstance(n, str):
            raise TypeError("%s must hold channel names (str), not %s" % (what, type(n).__name__))
    return names


def check_millivolts(x, what="x"):
    """A warning when the amplitudes of x look like volts (as MNE gives them) or microvolts rather
    than millivolts: a standard deviation under 1 uV or over 5 mV is not EEG in millivolts."""
    try:
        a = np.asarray(x).reshape(-1)
    except Exception:  # not readable from the host (a CUDA tensor): nothing to check here
        return
    # 512 values spread over x tell the scale; float64 so that huge values do not overflow; a
    # small sample keeps encode free of allocations the size of x.
    a = a[::max(1, a.size // 512)][:512]
    std = float(np.std(a, dtype=np.float64)) if a.size else 0.0
    if not np.isfinite(std) or std == 0:
        return
    if std < 1e-3:
        unit, factor = "volts", 1e3
    elif std > 5:
        unit, factor = "microvolts", 1e-3
    else:
        return
    warnings.warn("%s looks like %s, not millivolts (standard deviation %.3g): multiply it by %g" % (
        what, unit, std, factor), stacklevel=3)


def windows_and_channels(x, channels, shape):
    """Windows as the engine reads them (any array with DLPack or the buffer protocol; NumPy
    arrays converted once to C-contiguous float32 unless they are already) and channel names as a
    list ("FP1,CZ" is two names). shape: how the 3 dimensions are called in the message."""
    channels = channel_names(channels, "channels")
    if not (hasattr(x, "__dlpack__") or isinstance(x, np.ndarray)):
        if isinstance(x, (str, bytes)) or not hasattr(x, "__len__") and not hasattr(x, "__array__"):
            raise TypeError("x must be an array (batch, channels, samples): NumPy, a PyTorch CPU tensor or "
                            "anything with DLPack or the buffer protocol, not %s" % type(x).__name__)
        x = np.asarray(x)
    refuse_complex(x)
    if getattr(x, "ndim", 3) != 3:
        raise _core.Error("x must have 3 dimensions %s, not %d" % (shape, x.ndim))
    if isinstance(x, np.ndarray) and not (x.dtype == np.float32 and x.flags.c_contiguous):
        x = np.ascontiguousarray(x, dtype=np.float32)
    return x, channels


class Model:
    """The EEGPT encoder with weights from a file.

    Pickling and copying reload the weights from `path`, made absolute here (so that a pickle
    loads after os.chdir, or in a worker started elsewhere), or rebuild the random initialisation:
    a Model can be sent to other processes.

    Parameters
    ----------
    path : str, bytes or os.PathLike
        An HDF5 weight file of tools/convert_ckpt.py.
    device : {"cpu", "cuda"}, default="cpu"
    precision : {"fp32", "tf32", "bf16", "int8"}, default="fp32"
        "tf32": cuda only; "int8": cpu only, the linear layers in int8 (docs/cpu.md), never a default.
    threads : int, default=0
        CPU worker threads (0: all cores; more than the cores available: the cores, with a
        warning, as the CLI).
    """

    def __init__(self, path: PathArg, device: str = "cpu", precision: str = "fp32", threads: int = 0) -> None:
        path = fs_path(path)
        threads = _threads(threads)
        self._spec = ("file", os.path.abspath(path), str(device), str(precision), threads)
        self._core = engine_call(_core.Model.load, path, str(device), str(precision), threads, files=[path])
        if not self._core.provenance.trained:
            warnings.warn("weights '%s' are untrained (random-initialised, seed %d): their features and predictions "
                          "mean nothing" % (path, self._core.provenance.random_seed), stacklevel=2)

    @classmethod
    def random(cls, name: str = "large", seed: int = 0, device: str = "cpu", precision: str = "fp32",
               threads: int = 0) -> "Model":
        """A random-initialised, untrained model of a named configuration.

        The deterministic initialisation of docs/weight-format.md, the same as the CLI's stand-in.

        Parameters
        ----------
        name : str, default="large"
            The configuration, tiny1 .. large.
        seed : int, default=0
        device : {"cpu", "cuda"}, default="cpu"
        precision : {"fp32", "tf32", "bf16", "int8"}, default="fp32"
        threads : int, default=0
            As Model's.

        Returns
        -------
        model : Model
        """
        self = cls.__new__(cls)
        seed, threads = whole_number(seed, "seed", 0, 2**64 - 1), _threads(threads)
        self._spec = ("random", str(name), seed, str(device), str(precision), threads)
        self._core = engine_call(_core.Model.random, *self._spec[1:])
        return self

    @classmethod
    def _from_spec(cls, spec):
        if spec[0] == "file":
            return cls(*spec[1:])
        return cls.random(*spec[1:])

    def __reduce__(self):
        return (Model._from_spec, (self._spec,))

    def __deepcopy__(self, memo):
        return Model._from_spec(self._spec)

    def __repr__(self):
        what = self._spec[1] if self._spec[0] == "file" else "random %s seed %d" % self._spec[1:3]
        return "eegpt.Model(%s, device=%s, precision=%s, threads=%d)" % (what, self.device, self.precision,
                                                                           self.threads)

    @property
    def path(self) -> Optional[str]:
        """The weight file (absolute), or None for a random-initialised model."""
        return self._spec[1] if self._spec[0] == "file" else None

    @property
    def config(self) -> Dict[str, Any]:
        """embed_dim, depth, num_heads, embed_num, patch_size, patch_stride (patch_size unless the
        patches overlap, as in braindecode's EEGPT), mlp_hidden, layernorm_eps, qkv_bias."""
        c = self._core.config
        return {k: getattr(c, k) for k in ("embed_dim", "depth", "num_heads", "embed_num", "patch_size",
                                           "patch_stride", "mlp_hidden", "layernorm_eps", "qkv_bias")}

    @property
    def provenance(self) -> Dict[str, Any]:
        """Where the weights came from: trained, random_seed, source_checkpoint, source_sha256, ..."""
        p = self._core.provenance
        return {k: getattr(p, k) for k in ("trained", "random_seed", "source_checkpoint", "source_sha256",
                                           "source_prefix", "converter_version")}

    device = property(lambda self: self._core.device, doc="'cpu' or 'cuda'")
    precision = property(lambda self: self._core.precision, doc="'fp32', 'tf32', 'bf16' or 'int8'")
    threads = property(lambda self: self._core.threads, doc="CPU worker threads")
    isa = property(lambda self: self._core.isa, doc="CPU ISA level of the operations ('avx2', 'avx512')")

    def encode(self, x: ArrayLike, channels: Union[Sequence[str], str], sfreq: Optional[float] = None) -> np.ndarray:
        """Features of windows.

        The GIL is released while the engine computes; one Model encodes one call at a time.
        Amplitudes that look like volts or microvolts warn.

        Parameters
        ----------
        x : array of shape (batch, channels, samples)
            Millivolts at 256 Hz, samples >= patch_size (64); any array with DLPack or the buffer
            protocol (NumPy, PyTorch CPU tensors; read in place when C-contiguous float32, else
            converted once).
        channels : list of str or str
            One name per channel ("FP1,CZ" is two names), mapped as the CLI maps a recording's
            labels: "EEG Fp1-REF" and "T3" work, so raw.ch_names does; eegpt.map_channels says how.
        sfreq : float, optional
            The windows' rate, when known: other than 256 Hz is an error (eegpt.embed resamples).

        Returns
        -------
        features : ndarray of shape (batch, patches, embed_num, embed_dim)
            float32; patches = (samples - patch_size) // patch_stride + 1 (samples // 64 for the
            released model); the samples past the last whole patch are ignored, as by the released
            Conv2d patch embedding.
        """
        x, channels = windows_and_channels(x, channels, "(batch, channels, samples)")
        if sfreq is not None and float(sfreq) != 256.0:
            raise _core.Error("sfreq=%g: encode takes windows at 256 Hz; resample them, or pass the recording to "
                              "eegpt.embed(x, model, sfreq=..., ch_names=...), which resamples" % float(sfreq))
        check_millivolts(x)
        return engine_call(self._core.encode, x, channels)
