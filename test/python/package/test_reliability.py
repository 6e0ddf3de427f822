"""Nothing silently wrong in the Python package (issue 23): a failed write never crashes Python at
exit, a forked child never hangs, embed_many and the CLI resume each other for every spelling of
the same job and never for another job, a pickled Model survives os.chdir, Ctrl-C stops
Model.encode within a batch, and the arguments the engine cannot take are refused clearly."""
import os
import pickle
import signal
import subprocess
import sys
import time

import h5py
import numpy as np
import pytest

import eegpt
from conftest import lib

CHANNELS = ["FP1", "CZ", "O2"]


@pytest.fixture(scope="module")
def edf(tmp_path_factory):
    return str(lib.write_edf(tmp_path_factory.mktemp("edf") / "rec.edf", seconds=120))


def windows(n=2, channels=3, samples=256, seed=0):
    return (np.random.default_rng(seed).standard_normal((n, channels, samples)) * 0.02).astype(np.float32)


def python(code, *args, timeout=120, **kwargs):
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1", **kwargs.pop("env", {}))
    return subprocess.run([sys.executable, "-c", code, *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, env=env, **kwargs)


# ---- item 11: a failed write, then a clean exit ----

WRITE_UNDER_A_SIZE_LIMIT = r"""
import resource, signal, sys
import eegpt
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG instead
resource.setrlimit(resource.RLIMIT_FSIZE, (65536, 65536))
recording, out, weights = sys.argv[1:]
job, = eegpt.embed_many([recording], out, model=weights)
print("embed_many:", job.status, job.error)
try:
    eegpt.embed(recording, eegpt.Model(weights), progress=False)
except (eegpt.Error, OSError) as e:
    print("embed:", type(e).__name__, e)
"""


def test_a_failed_write_does_not_crash_python_at_exit(edf, weights, tmp_path):
    # HDF5 1.10 leaves a file whose close failed pointing at freed memory, and its exit-time
    # cleanup then died with SIGSEGV (rc -11) after the error had been reported.
    r = python(WRITE_UNDER_A_SIZE_LIMIT, edf, tmp_path / "out", weights, env={"TMPDIR": str(tmp_path)})
    assert r.returncode == 0, (r.returncode, r.stdout, r.stderr)
    assert "embed_many: failed" in r.stdout and "embed: Error" in r.stdout, r.stdout
    assert not [f for f in os.listdir(tmp_path / "out") if ".partial" in f]


# ---- item 12: fork after a threaded encode ----

ENCODE_IN_FORKED_CHILDREN = r"""
import multiprocessing, os, sys
import numpy as np
import eegpt
weights, = sys.argv[1:]
x = (np.random.default_rng(0).standard_normal((4, 3, 512)) * 0.02).astype(np.float32)
channels = ["FP1", "CZ", "O2"]
model = eegpt.Model(weights, threads=2)
parent = model.encode(x, channels)  # OpenMP's threads start here

def fresh(_):
    return eegpt.Model(weights, threads=2).encode(x, channels)

with multiprocessing.get_context("fork").Pool(1) as pool:
    assert np.array_equal(pool.map(fresh, [0])[0], parent)
    assert np.array_equal(pool.apply(model.encode, (x, channels)), parent)  # the pickled parent model
pid = os.fork()
if pid == 0:
    os._exit(0 if np.array_equal(model.encode(x, channels), parent) else 3)
_, status = os.waitpid(pid, 0)
assert os.waitstatus_to_exitcode(status) == 0, status
print("ok")
"""


def test_forked_children_encode_after_the_parent_used_threads(weights):
    # libgomp's threads do not survive fork(): a parallel region in the child hung for ever.
    child = subprocess.Popen([sys.executable, "-c", ENCODE_IN_FORKED_CHILDREN, weights], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        out, err = child.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(child.pid, signal.SIGKILL)  # the hung children too
        child.communicate()
        pytest.fail("a forked child's encode hung")
    assert child.returncode == 0 and out.strip() == "ok", (child.returncode, out, err)


# ---- item 14: one canonical job record for the CLI and embed_many ----

def cli_embed(edf, out, weights, *options):
    return lib.run_ok("embed", edf, "--weights", weights, "--output-dir", out, *options)


def test_the_cli_and_embed_many_resume_each_others_spellings(edf, weights, tmp_path):
    out = tmp_path / "a"
    cli_embed(edf, out, weights, "--quiet", "--bandpass", "0.50,40.0", "--channels", "fp1,cz,o2", "--notch", "50.0")
    job, = eegpt.embed_many([edf], out, model=weights, bandpass=(0.5, 40), channels=CHANNELS, notch=50)
    assert job.status == "skipped"
    # The other way: embed_many first, the CLI with other spellings of the same options keeps it.
    out = tmp_path / "b"
    job, = eegpt.embed_many([edf], out, model=weights, bandpass=(0.5, 40), channels="fp1,Cz,o2", stride=4)
    assert job.status == "done"
    r = cli_embed(edf, out, weights, "--bandpass", "5e-1,40.000", "--channels", "FP1,CZ,O2", "--stride", "4.0")
    assert "done already" in r.stdout, r.stdout + r.stderr


def test_close_numbers_are_other_jobs(edf, weights, tmp_path):
    # %g made 40.00001 and 40.00004 one job: the old features were kept for another band-pass.
    job, = eegpt.embed_many([edf], tmp_path, model=weights, bandpass=(0.5, 40.00001))
    assert job.status == "done"
    with pytest.warns(UserWarning, match="other bandpass"):
        job, = eegpt.embed_many([edf], tmp_path, model=weights, bandpass=(0.5, 40.00004))
    assert job.status == "done"
    r = cli_embed(edf, tmp_path, weights, "--bandpass", "0.5,40.00001")
    assert "done already" not in r.stdout and "other bandpass" in r.stderr, r.stdout + r.stderr
    with pytest.warns(UserWarning, match="other bandpass"):
        job, = eegpt.embed_many([edf], tmp_path, model=weights, bandpass=(0.5, 40.0000100000001))
    assert job.status == "done"


# ---- item 15: a pickled Model after os.chdir ----

def test_a_model_from_a_relative_path_pickles_after_chdir(weights, tmp_path, monkeypatch):
    monkeypatch.chdir(os.path.dirname(weights))
    model = eegpt.Model(os.path.basename(weights))
    expected = model.encode(windows(), CHANNELS)
    assert model.path == weights
    monkeypatch.chdir(tmp_path)
    again = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(again.encode(windows(), CHANNELS), expected)


# ---- Ctrl-C during Model.encode ----

ENCODE_UNTIL_INTERRUPTED = r"""
import sys, time
import numpy as np
import eegpt
model = eegpt.Model.random("large", seed=0)
channels = ["FP1", "CZ", "O2"]
x = np.zeros((32, 3, 1024), np.float32)
t0 = time.monotonic()
model.encode(x, channels)  # one batch of 32 windows
batch_s = time.monotonic() - t0
batches = min(60, max(10, int(10 / batch_s) + 1))  # 10 s at least, unless that is over 60 batches
x = np.zeros((32 * batches, 3, 1024), np.float32)
print("go %.3f %d" % (batch_s, batches), flush=True)
try:
    model.encode(x, channels)
    print("finished", flush=True)
except KeyboardInterrupt:
    print("interrupted", flush=True)
"""


def test_ctrl_c_stops_model_encode_within_a_batch():
    child = subprocess.Popen([sys.executable, "-c", ENCODE_UNTIL_INTERRUPTED], stdout=subprocess.PIPE, text=True,
                             env=dict(os.environ, PYTHONDONTWRITEBYTECODE="1"))
    try:
        _, batch_s, batches = child.stdout.readline().split()
        batch_s, batches = float(batch_s), int(batches)
        time.sleep(0.5)
        child.send_signal(signal.SIGINT)
        sent = time.monotonic()
        out = child.stdout.read()
        child.wait(timeout=10 * batch_s * batches)
        latency = time.monotonic() - sent
    finally:
        child.kill()
    assert out.strip() == "interrupted", out
    # The whole input is `batches` batches (10 or more): Ctrl-C came within the one running.
    assert latency < 3 * batch_s + 1, (latency, batch_s, batches)


# ---- smaller items ----

def test_embed_many_with_a_missing_model_file_is_file_not_found(edf, tmp_path):
    with pytest.raises(FileNotFoundError, match="/nonexistent.h5"):
        eegpt.embed_many([edf], tmp_path, model="/nonexistent.h5")


def test_embed_many_takes_one_path(edf, weights, tmp_path):
    jobs = eegpt.embed_many(edf, tmp_path, model=weights)
    assert [(j.recording, j.status) for j in jobs] == [(edf, "done")]


def test_eegpt_features_channels_as_a_comma_separated_string(weights):
    pytest.importorskip("sklearn")
    x = windows(3)
    listed = eegpt.EEGPTFeatures(weights, channels=CHANNELS).fit_transform(x)
    np.testing.assert_array_equal(eegpt.EEGPTFeatures(weights, channels="FP1,CZ,O2").fit_transform(x), listed)


def test_classify_without_a_head_is_refused(edf, model):
    with pytest.raises(TypeError, match="head"):
        eegpt.classify(edf, model, None, progress=False)


def test_read_features_refuses_an_incomplete_output(edf, weights, tmp_path):
    job, = eegpt.embed_many([edf], tmp_path, model=weights)
    assert eegpt.read_features(job.output).features is not None
    with h5py.File(job.output, "a") as f:
        f.attrs["complete"] = 0
    with pytest.raises(eegpt.Error, match="incomplete"):
        eegpt.read_features(job.output)
    with h5py.File(job.output, "a") as f:
        del f.attrs["complete"]
    with pytest.raises(eegpt.Error, match="incomplete"):
        eegpt.read_features(job.output)


def test_complex_windows_are_refused(model):
    x = windows().astype(np.complex64)
    with pytest.raises(TypeError, match="complex"):
        model.encode(x, CHANNELS)
    with pytest.raises(TypeError, match="complex"):
        model.encode(x.tolist(), CHANNELS)
    torch = pytest.importorskip("torch")
    with pytest.raises(TypeError, match="complex"):
        model.encode(torch.from_numpy(x), CHANNELS)
    pytest.importorskip("sklearn")
    with pytest.raises(TypeError, match="complex"):
        eegpt.EEGPTFeatures(model, channels=CHANNELS).fit_transform(x)


def test_threads_seeds_and_bytes_paths(weights, edf, tmp_path):
    with pytest.warns(UserWarning, match="cores are available"):
        m = eegpt.Model.random("tiny1", threads=2**40)
    assert 1 <= m.threads <= os.cpu_count()
    with pytest.raises(ValueError, match="threads"):
        eegpt.Model(weights, threads=-1)
    with pytest.raises(TypeError, match="threads"):
        eegpt.Model(weights, threads="2")
    with pytest.raises(ValueError, match="seed -1"):
        eegpt.Model.random("tiny1", seed=-1)
    with pytest.raises(ValueError, match="seed"):
        eegpt.Model.random("tiny1", seed=2**64)
    with pytest.raises(TypeError, match="seed"):
        eegpt.Model.random("tiny1", seed=1.5)
    # bytes paths, as os functions take them
    by_bytes = eegpt.Model(os.fsencode(weights))
    assert by_bytes.path == weights
    job, = eegpt.embed_many([os.fsencode(edf)], os.fsencode(str(tmp_path)), model=os.fsencode(weights))
    assert job.status == "done" and job.recording == edf
    assert eegpt.read_features(os.fsencode(job.output)).features is not None
    with pytest.raises(TypeError, match="must be a str, bytes or os.PathLike"):
        eegpt.Model(3)


def test_embed_many_replaces_only_its_own_outputs_unless_forced(edf, weights, tmp_path):
    # The CLI's rule: a file at an output's name that eegpt did not write (a recording, notes) is the
    # user's; that recording fails and the file is left as it is, force=True replaces it.
    out = tmp_path / "rec.features.h5"
    out.write_bytes(b"notes\n")
    job, = eegpt.embed_many([edf], tmp_path, model=weights)
    assert job.status == "failed" and "is not an output of eegpt" in job.error, job
    assert out.read_bytes() == b"notes\n"
    job, = eegpt.embed_many([edf], tmp_path, model=weights, force=True)
    assert job.status == "done"
    with pytest.warns(UserWarning, match="recomputing"):  # its own output, for another job: recomputed
        job, = eegpt.embed_many([edf], tmp_path, model=weights, stride=2)
    assert job.status == "done"
