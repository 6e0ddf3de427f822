"""eegpt.embed_many: a corpus of recordings, locally or on a Dask `distributed` cluster.

The rules are the CLI's (`eegpt embed A.edf B.edf ... --output-dir DIR`): outputs are
DIR/NAME.features.h5, two recordings that would write the same name are refused before any work,
an output that exists is a finished one and is skipped (resume; force=True recomputes), outputs
are written under a temporary name and renamed when complete, and a failing recording is reported
without stopping the others.
"""
import os

from . import _core
from ._model import Model
from ._recordings import output_name, run_recording


class Job:
    """One recording of embed_many: recording, output, status ("done", "skipped", "failed") and
    error (the engine's one line, for failures)."""

    def __init__(self, recording, output, status, error=None):
        self.recording, self.output, self.status, self.error = recording, output, status, error

    def __repr__(self):
        return "Job(%r -> %r: %s%s)" % (self.recording, self.output, self.status,
                                        ": " + self.error if self.error else "")


def _model_spec(model):
    if model is None:
        return ("random", "large", 0, "cpu", "fp32", 0)  # the CLI's stand-in without --weights
    if isinstance(model, Model):
        return model._spec
    return ("file", os.fspath(model), "cpu", "fp32", 0)


def _embed_one(recording, output, spec, options):
    # On a Dask worker: the model is loaded once per worker process and kept on the worker.
    try:
        from distributed import get_worker
        cache = get_worker().__dict__.setdefault("_eegpt_models", {})
    except (ImportError, ValueError):
        cache = {}
    if spec not in cache:
        cache[spec] = Model._from_spec(spec)
    try:
        run_recording(cache[spec], recording, output, progress=False, **options)
        return Job(recording, output, "done")
    except (_core.Error, OSError) as e:
        return Job(recording, output, "failed", str(e))


def embed_many(recordings, output_dir, model=None, client=None, force=False, **options):
    """Embeds every recording into OUTPUT_DIR/NAME.features.h5; returns one Job per recording.

    model: an eegpt.Model (sent to workers as its weight path or random seed, reloaded there), a
    weight file path, or None for the random-initialised 'large' stand-in (as the CLI without
    --weights). client: a dask.distributed Client (one task per recording), or None to run here.
    options: as eegpt.embed (stride, channels, bandpass, notch, batch, ...)."""
    recordings = [os.fspath(r) for r in recordings]
    if not recordings:
        raise _core.Error("no recordings given")
    output_dir = os.fspath(output_dir)
    owner, jobs = {}, []
    for r in recordings:
        out = output_name(r, output_dir)
        if out in owner:
            raise _core.Error("'%s' and '%s' would both write '%s'" % (owner[out], r, out))
        owner[out] = r
        jobs.append((r, out))
    try:
        os.makedirs(output_dir or ".", exist_ok=True)
    except OSError as e:
        raise type(e)("cannot create output_dir '%s': %s" % (output_dir, e.strerror)) from None
    options.pop("progress", None)
    spec = _model_spec(model)
    results = {}
    todo = []
    for r, out in jobs:
        if not force and os.path.exists(out):
            results[out] = Job(r, out, "skipped")
        else:
            todo.append((r, out))
    if client is None:
        for r, out in todo:
            results[out] = _embed_one(r, out, spec, options)
    elif todo:
        futures = [client.submit(_embed_one, r, out, spec, options, pure=False, key="eegpt-embed-%d-%s" % (i, out))
                   for i, (r, out) in enumerate(todo)]
        for job in client.gather(futures):
            results[job.output] = job
    return [results[out] for _, out in jobs]
