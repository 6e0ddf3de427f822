"""Outputs and signals (docs/reliability.md, issue 23): outputs are only ever regular files, a stop
signal removes the partial file of every command, a thread that cannot be created is one line and
no partial file, what stdout loses is an error, a file this engine did not write is not replaced
without --force, nor one another process is writing."""
import importlib.util
import os
import resource
import signal
import socket
import stat
import subprocess
import sys

import h5py
import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import recordings_testlib as lib  # noqa: E402
from test_reliability import REC, head, micro, one_line_error, snapshot  # noqa: E402,F401 - head and micro are fixtures


@pytest.fixture(scope="module")
def windows(tmp_path_factory):
    path = tmp_path_factory.mktemp("x") / "windows.h5"
    with h5py.File(path, "w") as f:
        f["x"] = (np.random.default_rng(0).standard_normal((4, 19, 1024)) * 0.02).astype(np.float32)
        # in the head's order, so that encode --head takes them too
        f["channels"] = np.array("FP1 FP2 F7 F3 FZ F4 F8 T7 C3 CZ C4 T8 P7 P3 PZ P4 P8 O1 O2".split(), dtype="S")
    return path


def writers(micro, head, windows):
    """Every command that writes an output, without its output option."""
    rec = lib.recording(REC)
    return {
        "encode": (["encode", "--weights", micro, "--input", windows], "--output"),
        "encode --head --save-features": (["encode", "--weights", micro, "--input", windows, "--head", head,
                                           "--save-features"], "--output"),
        "embed": (["embed", rec, "--weights", micro], "--output"),
        "classify": (["classify", rec, "--weights", micro, "--head", head], "--output"),
        "preprocess": (["preprocess", rec], "--output"),
        "inspect --raw-output": (["inspect", rec], "--raw-output"),
    }


def partials(directory):
    return sorted(p.name for p in directory.glob("*.partial-*"))


# ---------------------------------------------------------------- 5. outputs are regular files


def test_an_output_that_is_a_fifo_a_socket_or_a_device_is_refused_before_any_work(micro, head, windows, tmp_path,
                                                                                  monkeypatch):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    sock = socket.socket(socket.AF_UNIX)
    monkeypatch.chdir(tmp_path)
    sock.bind("sock")  # relative: a socket's path is limited to 107 bytes
    try:
        for name, (args, option) in writers(micro, head, windows).items():
            for target, kind in ((fifo, "a FIFO"), (tmp_path / "sock", "a socket")):
                r = lib.run(*args, option, target, timeout=60)
                line = one_line_error(r)
                assert ("'%s' is %s, not a file" % (target, kind)) in line, (name, line)
                assert r.stdout == "", (name, "work was done before the refusal")
        assert stat.S_ISFIFO(os.stat(fifo).st_mode) and stat.S_ISSOCK(os.stat(tmp_path / "sock").st_mode)
        assert sorted(os.listdir(tmp_path)) == ["fifo", "sock"]
    finally:
        sock.close()
    # A device: only after the FIFO was refused above (an engine that renames onto it would, as
    # root, replace the machine's /dev/null).
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)
    for name in ("encode", "embed", "preprocess"):
        args, option = writers(micro, head, windows)[name]
        line = one_line_error(lib.run(*args, option, "/dev/null", timeout=120))
        assert "'/dev/null' is a character device, not a file: refusing to replace it" in line, line
        assert stat.S_ISCHR(os.stat("/dev/null").st_mode)


# ---------------------------------------------------------------- 10. threads that cannot be created


def thread_stacks_beyond_the_memory_limit():
    """preexec_fn: every new thread's default stack (RLIMIT_STACK) is larger than the address space
    left (RLIMIT_AS), so the model loads and the first thread cannot be created."""
    def apply():
        resource.setrlimit(resource.RLIMIT_STACK, (4 << 30, resource.getrlimit(resource.RLIMIT_STACK)[1]))
        resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))
    return apply


@pytest.mark.parametrize("command", ["embed", "classify"])
def test_threads_that_cannot_be_created_are_one_line_and_no_partial(command, micro, head, tmp_path):
    if len(os.sched_getaffinity(0)) < 2:
        pytest.skip("one core: the encoder starts no thread")
    hard = resource.getrlimit(resource.RLIMIT_STACK)[1]
    if hard != resource.RLIM_INFINITY and hard < (4 << 30):
        pytest.skip("the stack size's hard limit is below the 4 GiB this test needs")
    args = ["embed", lib.recording(REC), "--weights", micro, "--batch", "1"]
    if command == "classify":
        args = ["classify", lib.recording(REC), "--weights", micro, "--head", head, "--batch", "1"]
    r = subprocess.run([lib.binary(), *map(str, args), "--output", str(tmp_path / "out.h5")], capture_output=True,
                       text=True, timeout=300, preexec_fn=thread_stacks_beyond_the_memory_limit())
    line = one_line_error(r)
    assert "cannot start" in line and "threads" in line, line
    assert os.listdir(tmp_path) == []


# ---------------------------------------------------------------- 16. stop signals, every command


def long_edf(path, seconds, rate=500):
    """A plain EDF of `seconds` one-second records of 6 EEG signals (random samples), written at once."""
    spec = importlib.util.spec_from_file_location("make_corpus", os.path.join(lib.REPO, "test", "fuzz", "make_corpus.py"))
    corpus = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(corpus)
    labels = ["EEG %s-REF" % name for name in ("Fp1", "Cz", "O2", "C3", "C4", "P3")]
    header = bytearray(corpus.edf_bytes([corpus.eeg(label, rate) for label in labels], records=0))
    header[236:244] = corpus.field(seconds, 8)
    data = np.random.default_rng(0).integers(-2000, 2000, (seconds, len(labels), rate)).astype("<i2")
    path.write_bytes(bytes(header) + data.tobytes())
    return path


@pytest.fixture(scope="module")
def two_hours(tmp_path_factory):
    return long_edf(tmp_path_factory.mktemp("long") / "two_hours.edf", 7200)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP], ids=["SIGINT", "SIGTERM", "SIGHUP"])
@pytest.mark.parametrize("command", ["preprocess", "inspect --raw-output"])
def test_a_stop_signal_removes_the_partial_of_every_command(command, sig, two_hours, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    if command == "preprocess":
        args = ["preprocess", two_hours, "--bandpass", "0.5,40", "--notch", "50", "--output", out / "p.h5"]
    else:
        args = ["inspect", two_hours, "--seconds", "100000", "--raw-output", out / "raw.h5"]
    p = subprocess.Popen([lib.binary(), *map(str, args)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        assert lib.wait_for(lambda: partials(out), 120), "no partial file appeared"
        # Stopped while its partial file exists, so that the signal is sure to arrive mid-write.
        p.send_signal(signal.SIGSTOP)
        assert p.poll() is None and partials(out), "the run finished before it could be signalled"
        p.send_signal(sig)
        p.send_signal(signal.SIGCONT)
        _, err = p.communicate(timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert p.returncode == 130, (p.returncode, err)
    assert "interrupted" in err and os.listdir(out) == [], (err, os.listdir(out))


# ---------------------------------------------------------------- smaller items


@pytest.mark.parametrize("command", ["info", "inspect"])
def test_stdout_that_cannot_be_written_is_an_error(command, micro):
    args = [micro] if command == "info" else [lib.recording(REC)]
    with open("/dev/full", "w") as full:
        r = subprocess.run([lib.binary(), command, *map(str, args)], stdout=full, stderr=subprocess.PIPE, text=True,
                           timeout=120)
    line = one_line_error(r)
    assert "cannot write the standard output" in line, line


@pytest.mark.parametrize("command", ["encode", "encode --head --save-features", "embed", "classify", "preprocess",
                                     "inspect --raw-output"])
def test_an_existing_file_this_engine_did_not_write_is_replaced_only_with_force(command, micro, head, windows,
                                                                               tmp_path):
    args, option = writers(micro, head, windows)[command]
    out = tmp_path / "out.h5"
    edf = open(lib.recording("S001R03.edf"), "rb").read()
    for content in (edf, open(micro, "rb").read(), b"notes\n"):
        out.write_bytes(content)
        line = one_line_error(lib.run(*args, option, out))
        assert "'%s' exists and is not an output of eegpt; not replaced (--force replaces it)" % out in line, line
        assert out.read_bytes() == content and partials(tmp_path) == []
    lib.run_ok(*args, option, out, "--force")
    with h5py.File(out, "r") as f:
        assert "content" in f.attrs
    # the command's own output is written over without --force (embed and classify: recomputed, with a
    # warning, when the job differs)
    again = args + (["--stride", "2"] if command in ("embed", "classify") else [])
    r = lib.run_ok(*again, option, out)
    if command in ("embed", "classify"):
        assert "recomputing" in r.stderr
    assert partials(tmp_path) == []


def test_an_output_another_process_is_writing_is_not_replaced(micro, tmp_path):
    rec = lib.recording(REC)
    out = tmp_path / "out.h5"
    lib.run_ok("embed", rec, "--weights", micro, "--output", out)
    with h5py.File(out, "a") as writer:  # HDF5 holds its writer's lock on the file until it closes it
        writer.attrs["note"] = "being edited"
        writer.flush()
        before = snapshot(tmp_path)
        for args in (["embed", rec, "--weights", micro, "--output", out, "--stride", "2"],
                     ["embed", rec, "--weights", micro, "--output", out, "--force"],
                     ["preprocess", rec, "--output", out]):
            line = one_line_error(lib.run(*args))
            assert "'%s' is being written by another process" % out in line, line
            assert snapshot(tmp_path) == before
    with h5py.File(out, "r") as f:
        assert f.attrs["note"] == "being edited"


def test_a_partial_that_cannot_be_created_says_why(tmp_path):
    out = tmp_path / "missing" / "p.h5"
    line = one_line_error(lib.run("preprocess", lib.recording(REC), "--output", out))
    assert ("cannot create '%s.partial-" % out) in line and line.endswith(": No such file or directory"), line
