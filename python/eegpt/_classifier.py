"""eegpt.Classifier: a downstream model (head file) on an encoder, for windows in memory."""
from typing import Sequence, Union

import numpy as np
from numpy.typing import ArrayLike

from . import _core
from ._errors import PathArg, engine_call, fs_path
from ._model import Model, windows_and_channels


class Classifier:
    """A downstream EEGPT model: a head file on an encoder.

    The head fixes the inputs: `input_labels` in order, windows of `window_samples` samples at
    `sample_rate_hz`, values in the model's input unit (`input_unit_mv` millivolts per unit: 0.1 for
    the TUAB/TUEV models' microvolts / 100). predict_proba / predict compute the official forward,
    as `eegpt encode --head` does; eegpt.classify(recording, model, classifier) runs a recording.

    Parameters
    ----------
    head : str, bytes or os.PathLike
        The head file of tools/convert_head.py (docs/downstream.md).
    model : eegpt.Model or path
        The encoder, or the path of its weight file (e.g. the fine-tuned encoder converted from the
        same checkpoint).
    device : {"cpu", "cuda"}, default="cpu"
    precision : {"fp32", "tf32", "bf16", "int8"}, default="fp32"
    threads : int, default=0
        As eegpt.Model's, when `model` is a path.
    """

    def __init__(self, head: PathArg, model: Union[Model, PathArg], device: str = "cpu", precision: str = "fp32",
                 threads: int = 0) -> None:
        self.head_path = fs_path(head, "head")
        self._head = engine_call(_core.Head.load, self.head_path, files=[self.head_path])
        self.model = model if isinstance(model, Model) else Model(model, device, precision, threads)

    recipe = property(lambda self: self._head.recipe, doc="the official model the head follows")
    class_names = property(lambda self: list(self._head.class_names), doc="the classes, in logit order")
    output = property(lambda self: self._head.output, doc="'softmax' or 'sigmoid' (one logit)")
    input_labels = property(lambda self: list(self._head.input_labels), doc="the inputs, in order")
    sample_rate_hz = property(lambda self: self._head.sample_rate_hz, doc="the windows' sampling rate")
    window_samples = property(lambda self: self._head.window_samples, doc="samples per window")
    input_unit_mv = property(lambda self: self._head.input_unit_mv, doc="millivolts per unit of the inputs")

    def __repr__(self):
        return "eegpt.Classifier(%s, recipe %s, %s over %s, on %r)" % (
            self.head_path, self.recipe, self.output, " ".join(self.class_names), self.model)

    def __reduce__(self):
        return (Classifier, (self.head_path, self.model))

    def _run(self, x, channels):
        x, channels = windows_and_channels(x, self.input_labels if channels is None else channels,
                                           "(windows, inputs, samples)")
        return engine_call(self.model._core.predict, self._head, x, channels)

    def logits(self, x: ArrayLike, channels: Union[Sequence[str], str, None] = None) -> np.ndarray:
        """The logits of windows.

        Parameters
        ----------
        x : array of shape (windows, inputs, samples)
            In the head's input unit (input_unit_mv), window_samples samples at sample_rate_hz.
        channels : list of str or str, optional
            The labels of x's channels (default: the head's input_labels), which must be the head's
            inputs in order.

        Returns
        -------
        logits : ndarray of shape (windows, K), or (windows, 1) for a sigmoid head
        """
        return self._run(x, channels)[0]

    def predict_proba(self, x: ArrayLike, channels: Union[Sequence[str], str, None] = None) -> np.ndarray:
        """Class probabilities of windows.

        Parameters
        ----------
        x : array of shape (windows, inputs, samples)
            In the head's input unit (input_unit_mv), window_samples samples at sample_rate_hz.
        channels : list of str or str, optional
            The labels of x's channels (default: the head's input_labels), which must be the head's
            inputs in order.

        Returns
        -------
        probabilities : ndarray
            Softmax: (windows, K), one column per class name; sigmoid: (windows, 1), the
            probability of class_names[1].
        """
        return self._run(x, channels)[1]

    def predict(self, x: ArrayLike, channels: Union[Sequence[str], str, None] = None) -> np.ndarray:
        """The predicted class name of each window.

        Parameters
        ----------
        x : array of shape (windows, inputs, samples)
            In the head's input unit (input_unit_mv), window_samples samples at sample_rate_hz.
        channels : list of str or str, optional
            The labels of x's channels (default: the head's input_labels), which must be the head's
            inputs in order.

        Returns
        -------
        classes : ndarray of str, shape (windows,)
            Sigmoid: class_names[1] where p >= 0.5.
        """
        p = self.predict_proba(x, channels)
        index = (p[:, 0] >= 0.5).astype(int) if self.output == "sigmoid" else p.argmax(axis=1)
        return np.asarray(self.class_names, dtype=object)[index]
