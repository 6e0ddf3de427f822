"""eegpt.Classifier: a downstream model (head file) on an encoder, for windows in memory."""
import numpy as np

from . import _core
from ._errors import engine_call, fs_path
from ._model import Model, windows_and_channels


class Classifier:
    """A downstream EEGPT model: the head file of tools/convert_head.py (docs/downstream.md) on the
    encoder `model` (an eegpt.Model, or the path of its weight file, e.g. the fine-tuned encoder
    converted from the same checkpoint).

    The head fixes the inputs: `input_labels` in order, windows of `window_samples` samples at
    `sample_rate_hz`, values in the model's input unit (`input_unit_mv` millivolts per unit: 0.1 for
    the TUAB/TUEV models' microvolts / 100). predict_proba / predict compute the official forward,
    as `eegpt encode --head` does; eegpt.classify(recording, model, classifier) runs a recording.
    """

    def __init__(self, head, model, device="cpu", precision="fp32", threads=0):
        self.head_path = fs_path(head, "head")
        self._head = engine_call(_core.Head.load, self.head_path, files=[self.head_path])
        self.model = model if isinstance(model, Model) else Model(model, device, precision, threads)

    recipe = property(lambda self: self._head.recipe, doc="the official model the head follows")
    class_names = property(lambda self: list(self._head.class_names))
    output = property(lambda self: self._head.output, doc="'softmax' or 'sigmoid' (one logit)")
    input_labels = property(lambda self: list(self._head.input_labels))
    sample_rate_hz = property(lambda self: self._head.sample_rate_hz)
    window_samples = property(lambda self: self._head.window_samples)
    input_unit_mv = property(lambda self: self._head.input_unit_mv)

    def __repr__(self):
        return "eegpt.Classifier(%s, recipe %s, %s over %s, on %r)" % (
            self.head_path, self.recipe, self.output, " ".join(self.class_names), self.model)

    def __reduce__(self):
        return (Classifier, (self.head_path, self.model))

    def _run(self, x, channels):
        x, channels = windows_and_channels(x, self.input_labels if channels is None else channels,
                                           "(windows, inputs, samples)")
        return engine_call(self.model._core.predict, self._head, x, channels)

    def logits(self, x, channels=None):
        """The logits (windows, K), or (windows, 1) for a sigmoid head."""
        return self._run(x, channels)[0]

    def predict_proba(self, x, channels=None):
        """Probabilities of windows x (windows, inputs, samples) in the head's input unit; channels:
        the labels of x's channels (default: the head's input_labels), which must be the head's
        inputs in order. Softmax: (windows, K), one column per class name; sigmoid: (windows, 1),
        the probability of class_names[1]."""
        return self._run(x, channels)[1]

    def predict(self, x, channels=None):
        """The predicted class name of each window (sigmoid: class_names[1] where p >= 0.5)."""
        p = self.predict_proba(x, channels)
        index = (p[:, 0] >= 0.5).astype(int) if self.output == "sigmoid" else p.argmax(axis=1)
        return np.asarray(self.class_names, dtype=object)[index]
