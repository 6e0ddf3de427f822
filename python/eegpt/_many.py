"""eegpt.embed_many: a corpus of recordings, locally or on a Dask `distributed` cluster.

The rules are the CLI's (`eegpt embed A.edf B.edf ... --output-dir DIR`): outputs are
DIR/NAME.features.h5, two recordings that would write the same name are refused before any work,
outputs are written under a temporary name and renamed when complete, and a failing recording is
reported without stopping the others. Resuming: each output records the job that made it (the
recording's path, size and modification time, the weights' digest, every option: the CLI's `job`
attribute, made by the CLI's own builder, engine/recordings/pipeline/job_record.h, from the
parsed options, so every spelling of an option records the same text); an existing output is kept
only when it is complete and its record equals this job's, so the CLI and embed_many resume each
other's runs; otherwise it is recomputed with a warning, unless the file there is not an output of
eegpt (a recording, weights: that recording fails, as in the CLI); force=True recomputes everything.
"""
import os
import warnings
from typing import Any, Iterable, List, Optional, Union

from . import _core
from ._errors import PathArg, engine_call, fs_path
from ._model import Model
from ._progress import ProgressArg, progress_callback
from ._recordings import FILTER_DESIGNS, RESAMPLE_METHODS, _choice, _filters, _montage, output_name, run_recording


class Job:
    """One recording of embed_many and what became of it.

    Parameters
    ----------
    recording : str
        The recording's path.
    output : str
        Its output, OUTPUT_DIR/NAME.features.h5.
    status : {"done", "skipped", "failed"}
        "skipped": a complete output of the same job was there already.
    error : str or None
        For failures, the engine's one-line message.
    """

    def __init__(self, recording: str, output: str, status: str, error: Optional[str] = None) -> None:
        self.recording, self.output, self.status, self.error = recording, output, status, error

    def __repr__(self):
        return "Job(%r -> %r: %s%s)" % (self.recording, self.output, self.status,
                                        ": " + self.error if self.error else "")


def _model_spec(model):
    if model is None:
        return ("random", "large", 0, "cpu", "fp32", 0)  # the CLI's stand-in without --weights
    if isinstance(model, Model):
        return model._spec
    path = fs_path(model, "model")
    return ("file", os.path.abspath(path), "cpu", "fp32", 0)


def _job_record(spec, options):
    """The CLI's job record for these options, made by the CLI's builder (job_record.h)."""
    if spec[0] == "file":
        weights = engine_call(_core.file_digest, spec[1], files=[spec[1]])
    else:
        weights = "random-init:%s seed %d" % (spec[1], spec[2])
    low, high, notch = _filters(options.get("bandpass"), options.get("notch"))
    return _core.job_record(weights, spec[-3], spec[-2], float(options.get("stride") or 0.0),
                            _montage(options.get("channels")), bool(options.get("fill_missing")),
                            bool(options.get("average_reference")), low, high, int(options.get("bandpass_order", 4)),
                            notch, float(options.get("notch_q", 30.0)),
                            _choice(options.get("filter_design"), "filter_design", FILTER_DESIGNS),
                            _choice(options.get("resample_method"), "resample_method", RESAMPLE_METHODS),
                            options.get("features_dtype", "float32"))


def _embed_one(recording, output, spec, options, job="", progress=False):
    # On a Dask worker: the model is loaded once per worker process and kept on the worker.
    try:
        from distributed import get_worker
        cache = get_worker().__dict__.setdefault("_eegpt_models", {})
    except (ImportError, ValueError):
        cache = {}
    if spec not in cache:
        cache[spec] = Model._from_spec(spec)
    try:
        run_recording(cache[spec], recording, output, progress=progress, job=job, **options)
        return Job(recording, output, "done")
    except (_core.Error, OSError) as e:
        return Job(recording, output, "failed", str(e))


def embed_many(recordings: Union[PathArg, Iterable[PathArg]], output_dir: PathArg,
               model: Union[Model, PathArg, None] = None, client: Any = None, force: bool = False,
               progress: ProgressArg = None, name_settings: bool = False, **options: Any) -> List[Job]:
    """Embeds every recording into OUTPUT_DIR/NAME.features.h5, as `eegpt embed ... --output-dir`.

    The CLI's rules: two recordings that would write the same name are refused before any work, an
    existing output is kept only when complete and made by the same job, a failing recording is
    reported in its Job without stopping the others.

    Parameters
    ----------
    recordings : path or iterable of paths
        EDF/BDF recordings (str, bytes or os.PathLike), or one.
    output_dir : path
        Where the outputs go (made if missing).
    model : eegpt.Model, path or None, default=None
        The encoder (sent to workers as its weight path or random seed, reloaded there), a weight
        file, or None for the random-initialised 'large' stand-in (as the CLI without --weights).
    client : dask.distributed.Client or None, default=None
        One task per recording on its cluster; None runs the recordings here, one after another.
    force : bool, default=False
        Recompute every output, even a complete one of the same job.
    progress : bool, callable or None, default=None
        As eegpt.embed's, per recording, when they run here (None: True). On a cluster the workers
        compute the windows: progress is not shown there, with a warning if it was asked for.
    name_settings : bool, default=False
        Put the settings in the output names, OUTPUT_DIR/NAME.settings-TAG.features.h5 (TAG: a
        digest of the job record, the CLI's ``--name-settings``), so that runs of different settings
        (stride, filters, channels, weights, ...) share output_dir instead of replacing each other.
    **options
        As eegpt.embed's: stride, channels, fill_missing, average_reference, bandpass,
        bandpass_order, notch, notch_q, filter_design, resample_method, batch, features_dtype.

    Returns
    -------
    jobs : list of Job
        One per recording, in order: its output, status ("done", "skipped", "failed") and error.
    """
    if isinstance(recordings, (str, bytes, os.PathLike)):
        recordings = [recordings]
    recordings = [fs_path(r, "recording") for r in recordings]
    if not recordings:
        raise _core.Error("no recordings given")
    output_dir = fs_path(output_dir, "output_dir")
    spec = _model_spec(model)
    job = _job_record(spec, options)
    suffix = (".settings-" + _core.settings_tag(job) if name_settings else "") + ".features.h5"
    owner, jobs = {}, []
    for r in recordings:
        out = output_name(r, output_dir, suffix)
        if out in owner:
            raise _core.Error("'%s' and '%s' would both write '%s'" % (owner[out], r, out))
        owner[out] = r
        jobs.append((r, out))
    try:
        os.makedirs(output_dir or ".", exist_ok=True)
    except OSError as e:
        raise type(e)("cannot create output_dir '%s': %s" % (output_dir, e.strerror)) from None
    progress_callback(progress, "")  # a wrong type is a TypeError before any work
    if client is not None and progress not in (None, False):
        # The windows are computed in the workers' processes, where a callable of this process
        # cannot be called and a terminal is not there: said, not dropped.
        warnings.warn("progress=%r is not shown for recordings computed on a Dask cluster; follow the tasks "
                      "on its dashboard (client.dashboard_link)" % (progress,))
    results = {}
    todo = []
    for r, out in jobs:
        try:
            record = _core.recording_identity(r) + job
        except _core.Error as e:  # reported even when an output of that name exists, as the CLI does
            results[out] = Job(r, out, "failed", str(e))
            continue
        if not force and os.path.exists(out):
            refusal = _core.reuse_refusal(out, record)
            if not refusal:
                results[out] = Job(r, out, "skipped")
                continue
            if not _core.replaceable_output(out):  # the user's file, not an output: as the CLI refuses it
                results[out] = Job(r, out, "failed",
                                   "'%s' exists and is not an output of eegpt; not replaced (force=True replaces it)" % out)
                continue
            warnings.warn("%s: '%s' exists but %s: recomputing" % (r, out, refusal))
        todo.append((r, out, record))
    if client is None:
        for r, out, record in todo:
            results[out] = _embed_one(r, out, spec, options, record, True if progress is None else progress)
    elif todo:
        futures = [client.submit(_embed_one, r, out, spec, options, record, pure=False,
                                 key="eegpt-embed-%d-%s" % (i, out)) for i, (r, out, record) in enumerate(todo)]
        for job in client.gather(futures):
            results[job.output] = job
    return [results[out] for _, out in jobs]
