"""The recording commands as a user (or a cluster scheduler) meets them: the no-argument demo,
one-line errors, many recordings with list files and shards, resuming, killed runs, progress."""
import os
import pty
import signal
import subprocess
import sys
import time

import h5py
import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import recordings_testlib as lib  # noqa: E402
from eegpt_testlib import error_lines  # noqa: E402


@pytest.fixture(scope="module")
def micro(tmp_path_factory):
    return lib.write_random_weights(tmp_path_factory.mktemp("w") / "micro.h5", embed_dim=16, embed_num=1, depth=1,
                                    heads=2)


def one_line_error(r):
    assert r.returncode != 0
    lines = error_lines(r.stderr)
    assert len(lines) == 1 and lines[0].startswith("eegpt: error: "), r.stderr
    return lines[0]


def test_no_argument_demo_embeds_a_synthetic_edf_with_stand_in_weights(tmp_path):
    r = lib.run_ok("--demo-output", tmp_path / "demo.h5", cwd=tmp_path, timeout=300)
    assert "STAND-INS ONLY" in r.stdout and "SYNTHETIC" in r.stdout and "RANDOM-INITIALISED" in r.stdout
    assert (tmp_path / "eegpt_demo_recording.edf").exists()
    with h5py.File(tmp_path / "demo.h5", "r") as f:
        assert f["features"].shape == (15, 16, 4, 512)
        assert f.attrs["weights_trained"] == 0
        assert f.attrs["weights_source_checkpoint"] == "random-init:large"
        assert lib.strings(f["channels_dropped"]) == ["ECG"]
        assert len(lib.strings(f["channels"])) == 19


def test_bad_inputs_are_one_line_errors(micro, tmp_path):
    missing = tmp_path / "missing.edf"
    assert "No such file" in one_line_error(lib.run("embed", missing, "--weights", micro, "--output-dir", tmp_path))
    not_edf = tmp_path / "notes.edf"
    not_edf.write_text("this is not an EDF file\n" * 20)
    assert "not an EDF or BDF file" in one_line_error(lib.run("embed", not_edf, "--weights", micro, "--output-dir", tmp_path))
    short = lib.write_edf(tmp_path / "short.edf", seconds=3)
    assert "shorter than one 4 s window" in one_line_error(
        lib.run("embed", short, "--weights", micro, "--output-dir", tmp_path))
    rec = lib.recording("Subject00_2.edf")
    assert "--shard 2/2" in one_line_error(lib.run("embed", rec, "--shard", "2/2", "--output-dir", tmp_path))
    assert "'XYZ' is not a channel" in one_line_error(lib.run("embed", rec, "--channels", "FP1,XYZ"))
    assert "whole number" in one_line_error(lib.run("embed", rec, "--stride", "0.001"))
    assert "LOW,HIGH" in one_line_error(lib.run("embed", rec, "--bandpass", "40"))
    assert "--fill-missing zeros" in one_line_error(
        lib.run("embed", rec, "--weights", micro, "--channels", "FP1,PO5", "--output-dir", tmp_path))
    assert not list(tmp_path.glob("*.features.h5")) and not list(tmp_path.glob("*.partial-*"))
    lib.run_ok("embed", rec, "--weights", micro, "--channels", "FP1,PO5", "--fill-missing", "zeros", "--output",
               tmp_path / "filled.h5")
    with h5py.File(tmp_path / "filled.h5", "r") as f:
        assert lib.strings(f["channels_filled"]) == ["PO5"]


def test_many_recordings_lists_shards_and_resume(micro, tmp_path):
    recs = [lib.recording("Subject00_2.edf"), lib.write_edf(tmp_path / "a.edf", 9), lib.write_edf(tmp_path / "b.bdf", 8)]
    # b.bdf is really EDF inside: the engine reads the header, not the file name.
    listing = tmp_path / "list.txt"
    listing.write_text("# corpus\n%s\n\n  %s\n%s\n" % tuple(recs))
    out = tmp_path / "out"
    out.mkdir()
    r0 = lib.run_ok("embed", "@%s" % listing, "--weights", micro, "--output-dir", out, "--shard", "0/2")
    assert sorted(p.name for p in out.iterdir()) == ["Subject00_2.features.h5", "b.features.h5"]
    assert "->" in r0.stdout
    lib.run_ok("embed", "@%s" % listing, "--weights", micro, "--output-dir", out, "--shard", "1/2")
    assert sorted(p.name for p in out.iterdir()) == ["Subject00_2.features.h5", "a.features.h5", "b.features.h5"]
    before = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    r = lib.run_ok("embed", "@%s" % listing, "--weights", micro, "--output-dir", out)
    assert r.stdout.count("done already") == 3
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir()} == before
    lib.run_ok("embed", recs[1], "--weights", micro, "--output-dir", out, "--force")
    assert (out / "a.features.h5").stat().st_mtime_ns != before["a.features.h5"]
    # Two inputs that would write the same output name are refused before any work.
    twin = tmp_path / "twin"
    twin.mkdir()
    lib.write_edf(twin / "a.edf", 9)
    assert "would both write" in one_line_error(
        lib.run("embed", recs[1], twin / "a.edf", "--weights", micro, "--output-dir", tmp_path / "x"))


def test_a_killed_run_leaves_no_output_and_a_rerun_resumes(micro, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    first, second = lib.write_edf(tmp_path / "first.edf", 8), lib.recording("Subject00_1.edf")
    # Large stand-in model, one window per batch: slow enough to be caught half-way.
    cmd = [lib.binary(), "embed", str(first), str(second), "--output-dir", str(out), "--batch", "1", "--quiet"]
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert lib.wait_for(lambda: list(out.glob("Subject00_1.features.h5.partial-*")), 120)
        time.sleep(0.5)
        p.kill()
        p.wait(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
    assert (out / "first.features.h5").exists()
    assert not (out / "Subject00_1.features.h5").exists()
    for leftover in out.glob("*.partial-*"):  # what SIGKILL leaves behind is never under the final name
        leftover.unlink()
    # The same job again (the stand-in weights): the finished output is kept, the other computed.
    r = lib.run_ok("embed", first, second, "--output-dir", out, timeout=600)
    assert "first.edf: done already" in r.stdout
    with h5py.File(out / "Subject00_1.features.h5", "r") as f:
        assert f.attrs["n_windows"] == 45

    # Ctrl-C (or Slurm's SIGTERM) stops at once and removes the partial file.
    (out / "Subject00_1.features.h5").unlink()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    assert lib.wait_for(lambda: list(out.glob("Subject00_1.features.h5.partial-*")), 120)
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=60)
    assert p.returncode == 130 and "interrupted" in err
    assert not list(out.glob("*.partial-*")) and not (out / "Subject00_1.features.h5").exists()


def test_progress_bar_only_on_a_terminal(micro, tmp_path):
    rec = lib.recording("Subject00_2.edf")
    r = lib.run_ok("embed", rec, "--weights", micro, "--output", tmp_path / "a.h5", "--batch", "4")
    assert "\r" not in r.stderr and "windows/s" not in r.stderr
    master, slave = pty.openpty()
    p = subprocess.run([lib.binary(), "embed", rec, "--weights", micro, "--output", tmp_path / "b.h5", "--batch", "4"],
                       stdout=subprocess.PIPE, stderr=slave, timeout=120)
    os.close(slave)
    shown = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:
            break
        if not chunk:
            break
        shown += chunk
    os.close(master)
    assert p.returncode == 0
    assert b"15/15 windows" in shown and b"windows/s" in shown and b"\r" in shown
    p = subprocess.run([lib.binary(), "embed", rec, "--weights", micro, "--output", tmp_path / "c.h5", "--quiet"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
    assert p.returncode == 0 and p.stdout == b"" and error_lines(p.stderr.decode()) == []


def test_inspect_reports_the_mapping(tmp_path):
    r = lib.run_ok("inspect", lib.recording("Subject00_1.edf"), lib.recording("S001R03.edf"))
    assert "'EEG T3'" in r.stdout and "T7" in r.stdout
    assert "dropped: bipolar derivation" in r.stdout and "dropped: non-EEG signal (ECG)" in r.stdout
    assert "encoder channels (60)" in r.stdout and "annotation signal with a non-blank prefilter" in r.stdout
