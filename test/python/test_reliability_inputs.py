"""What the commands read (issue 23, items 6-9 and the smaller input items; docs/reliability.md):
every input path must name a regular file, list files are bounded, start-up is linear in the list
length, a memory limit is not reported as a corrupted file, empty paths and non-decimal numbers are
refused. A hang fails the test quickly: every run has a timeout."""
import os
import resource
import shutil
import subprocess
import sys

import h5py
import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import recordings_testlib as lib  # noqa: E402
from test_reliability import REC, head, micro, one_line_error  # noqa: E402,F401 - head and micro are fixtures

QUICK = 30  # seconds: each of these commands fails at once, or hangs (before the fix)


def address_space(limit):
    """preexec_fn: a virtual-memory limit (ulimit -v), so that an unbounded allocation fails."""
    return lambda: resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def run_quick(*args, **kwargs):
    try:
        return lib.run(*args, timeout=QUICK, preexec_fn=address_space(4 << 30), **kwargs)
    except subprocess.TimeoutExpired:
        pytest.fail("eegpt %s hangs (no answer in %d s)" % (" ".join(map(str, args)), QUICK))


@pytest.fixture(scope="module")
def windows(tmp_path_factory):
    path = tmp_path_factory.mktemp("x") / "windows.h5"
    with h5py.File(path, "w") as f:
        f["x"] = np.zeros((1, 3, 1024), np.float32)
        f["channels"] = np.array(["FP1", "CZ", "O2"], dtype="S")
    return path


# ---------------------------------------------------------------- 6. inputs that are not regular files


def not_regular_cases(micro, head, windows, out, bad):
    rec = lib.recording(REC)
    return [
        ["info", bad],
        ["encode", "--weights", bad, "--input", windows, "--output", out / "e.h5"],
        ["encode", "--weights", micro, "--input", bad, "--output", out / "e.h5"],
        ["encode", "--weights", micro, "--input", windows, "--head", bad, "--output", out / "e.h5"],
        ["embed", rec, "--weights", bad, "--output-dir", out],
        ["embed", bad, "--weights", micro, "--output-dir", out],
        ["embed", "@%s" % bad, "--weights", micro, "--output-dir", out],
        ["classify", rec, "--weights", micro, "--head", bad, "--output-dir", out],
        ["inspect", bad],
        ["inspect", rec, "--head", bad],
        ["preprocess", bad, "--output", out / "p.h5"],
        ["preprocess", rec, "--head", bad, "--output", out / "p.h5"],
    ]


@pytest.mark.parametrize("kind", ["fifo", "chardev", "directory"])
def test_every_input_path_must_be_a_regular_file(kind, micro, head, windows, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    if kind == "fifo":
        bad = tmp_path / "pipe"
        os.mkfifo(bad)
        named = "is a FIFO, not a regular file"
    elif kind == "chardev":
        bad, named = "/dev/zero", "is a character device, not a regular file"
    else:
        bad, named = tmp_path / "folder", "is a directory"
        bad.mkdir()
    for args in not_regular_cases(micro, head, windows, out, bad):
        line = one_line_error(run_quick(*args))
        assert str(bad) in line and named in line, (args, line)
    assert os.listdir(out) == []


# ---------------------------------------------------------------- 7. list files are bounded


def test_a_list_file_is_a_bounded_regular_file_of_paths(micro, tmp_path):
    out = tmp_path / "out"
    base = ["--weights", micro, "--output-dir", out]
    # /dev/zero as a list grew memory without bound; under a memory limit it said "no recordings given".
    line = one_line_error(run_quick("embed", "@/dev/zero", *base))
    assert "list file '/dev/zero'" in line and "character device" in line, line
    huge = tmp_path / "huge.txt"
    with open(huge, "wb") as f:
        f.truncate((64 << 20) + 1)  # sparse: no disk used
    line = one_line_error(run_quick("embed", "@%s" % huge, *base))
    assert "list file '%s'" % huge in line and "64 MiB" in line, line
    long_line = tmp_path / "long.txt"
    long_line.write_text("%s\n%s\n" % (lib.recording(REC), "a" * 5000))
    line = one_line_error(run_quick("embed", "@%s" % long_line, *base))
    assert "list file '%s'" % long_line in line and "line 2" in line and "4096 bytes" in line, line
    binary = tmp_path / "binary.txt"
    binary.write_bytes(b"\x7fELF\x00\x01\x02\n")
    line = one_line_error(run_quick("embed", "@%s" % binary, *base))
    assert "list file '%s'" % binary in line and "line 1" in line and "NUL" in line, line
    assert not out.exists()


def test_a_list_file_keeps_its_format(tmp_path):
    # The rules of the reader that replaced the old one: a byte-order mark, CRLF, blanks, comments.
    rec = lib.recording(REC)
    listing = tmp_path / "list.txt"
    listing.write_bytes(b"\xef\xbb\xbf# recordings\r\n\r\n   %s \t\r\n\t# %s\n" % (rec.encode(), rec.encode()))
    r = lib.run_ok("inspect", "@%s" % listing, timeout=QUICK)
    assert r.stdout.count("%s: EDF+C" % rec) == 1, r.stdout
    empty = tmp_path / "empty.txt"
    empty.write_text("# nothing\n\n")
    assert one_line_error(run_quick("inspect", "@%s" % empty)) == "eegpt: error: no recordings given"


# ---------------------------------------------------------------- 8. start-up linear in the list length


def test_start_up_is_linear_in_the_list_length(micro, tmp_path):
    """20,000 entries, shard 19999/20000: one recording to do after checking every name and every
    collision. The quadratic start-up took 8 s for 2,000 entries (some 800 s for 20,000); the linear
    one takes a fraction of a second, so 20 s is far from both, even on a loaded machine."""
    count = 20000
    folder = tmp_path / "recordings"
    folder.mkdir()
    paths = []
    for i in range(count - 1):
        path = folder / ("r%05d.edf" % i)
        path.touch()
        paths.append(str(path))
    paths.append(str(lib.write_edf(folder / "last.edf", 5)))
    listing = tmp_path / "list.txt"
    listing.write_text("\n".join(paths) + "\n")
    out = tmp_path / "out"
    try:
        r = lib.run("embed", "@%s" % listing, "--weights", micro, "--output-dir", out, "--shard",
                    "%d/%d" % (count - 1, count), "--quiet", timeout=20)
    except subprocess.TimeoutExpired:
        pytest.fail("start-up over %d list entries takes more than 20 s: quadratic" % count)
    assert r.returncode == 0, r.stderr
    assert os.listdir(out) == ["last.features.h5"]


# ---------------------------------------------------------------- 9. a memory limit is not a corrupted file


def limited(args, limit_kib):
    return subprocess.run([lib.binary(), *map(str, args)], capture_output=True, text=True, timeout=QUICK,
                          preexec_fn=address_space(limit_kib << 10))


def smallest_limit(args, low=8 << 10, high=1 << 20):
    """The smallest address-space limit (KiB, to 256 KiB) under which `args` succeeds."""
    assert limited(args, high).returncode == 0
    while high - low > 256:
        mid = (low + high) // 2
        if limited(args, mid).returncode == 0:
            high = mid
        else:
            low = mid
    return high


def test_a_memory_limit_is_reported_as_out_of_memory_not_as_a_corrupted_file(micro, tmp_path):
    """Weights of 25 MB read under address-space limits from what the smallest weights need (the
    engine's own footprint) up to what these need, in steps of 512 KiB: each step runs out at
    another allocation, ours or HDF5's. Every failure must say out of memory, in one line: before,
    HDF5's failed allocations were reported as "fails its checksum: the file is corrupted"."""
    weights = lib.write_random_weights(tmp_path / "mid.h5", embed_dim=512, embed_num=1, depth=2, heads=8)
    base = smallest_limit(["info", micro])
    outcomes = []
    for limit in range(base, base + (40 << 10), 512):
        r = limited(["info", weights], limit)
        if r.returncode == 0:
            break
        outcomes.append((limit, r.returncode, r.stderr.strip()))
    assert outcomes, "the weights load under the engine's own footprint: nothing was tested"
    assert r.returncode == 0, "never loaded up to %d KiB" % limit
    for limit, code, message in outcomes:
        assert code == 1 and len(message.splitlines()) == 1, (limit, code, message)
        assert "out of memory" in message and "checksum" not in message and "corrupt" not in message, (limit, message)
    assert any("out of memory reading 'encoder/" in m for _, _, m in outcomes), outcomes


# ---------------------------------------------------------------- smaller items


def test_an_empty_path_is_refused(micro, head, windows, tmp_path):
    rec = lib.write_edf(tmp_path / "rec.edf", 5)
    out = tmp_path / "out"
    cases = [
        (["embed", rec, "--weights", "", "--output-dir", out], "--weights is empty"),  # ran the random stand-in
        (["classify", rec, "--weights", micro, "--head", "", "--output-dir", out], "--head is empty"),
        (["inspect", rec, "--head", ""], "--head is empty"),
        (["preprocess", rec, "--head", "", "--output", out / "p.h5"], "--head is empty"),
        (["encode", "--weights", "", "--input", windows, "--output", out / "e.h5"], "--weights is empty"),
        (["encode", "--weights", micro, "--input", "", "--output", out / "e.h5"], "--input is empty"),
        (["encode", "--weights", micro, "--input", windows, "--head", "", "--output", out / "e.h5"], "--head is empty"),
        (["info", ""], "is empty"),
        (["embed", rec, "--weights", micro, "--output", ""], "--output is empty"),
    ]
    for args, needle in cases:
        line = one_line_error(run_quick(*args))
        assert needle in line, (args, line)
    assert not out.exists()


def test_numbers_are_plain_decimals_and_shown_as_such(micro, tmp_path):
    rec = lib.write_edf(tmp_path / "rec.edf", 5)
    base = ["embed", rec, "--weights", micro, "--output", tmp_path / "f.h5"]
    for extra in (["--stride", "0x2"], ["--batch", "0x10"], ["--threads", "0x1"], ["--notch", "0x32"],
                  ["--stride", "2s"], ["--stride", " 2"]):
        r = run_quick(*base, *extra)
        assert r.returncode == 2 and "not a plain decimal number" in r.stderr, (extra, r.returncode, r.stderr)
        assert len(r.stderr.strip().splitlines()) == 1
    r = run_quick("encode", "--weights", micro, "--input", tmp_path / "x.h5", "--output", tmp_path / "e.h5",
                  "--threads", "0x1")
    assert r.returncode == 2 and "not a plain decimal number" in r.stderr, r.stderr
    assert "LOW,HIGH" in one_line_error(run_quick(*base, "--bandpass", "0x1,40"))
    assert "must be i/n" in one_line_error(run_quick(*base, "--shard", "0x0/2"))
    for extra, shown in ((["--bandpass", "1,1e300"], "high edge 1e+300 Hz"), (["--notch", "1e300"], "1e+300 Hz"),
                         (["--notch", "1e-9"], "frequency 1e-09 Hz"), (["--bandpass", "1e-9,40"], "low edge 1e-09 Hz"),
                         (["--stride", "1e-9"], "--stride 1e-09 s"), (["--bandpass", "0.001,40"], "low edge 0.001 Hz")):
        line = one_line_error(run_quick(*base, *extra))
        assert shown in line and "0.000000" not in line and len(line) < 200, (extra, line)
        assert "Nyquist" not in line or "128 Hz" in line, line
    assert not (tmp_path / "f.h5").exists()
    lib.run_ok(*base, "--stride", "2.", "--batch", "+8", timeout=QUICK)  # plain decimals still are


def test_the_gpu_is_called_cuda(micro, tmp_path):
    # "gpu" was an undocumented alias: outputs record the device, so two names would not resume each other.
    rec = lib.write_edf(tmp_path / "rec.edf", 5)
    line = one_line_error(run_quick("embed", rec, "--weights", micro, "--device", "gpu", "--output-dir", tmp_path))
    assert "unknown device 'gpu'" in line and "'cuda'" in line, line
    assert os.listdir(tmp_path) == ["rec.edf"]


def test_a_missing_cuda_backend_is_said_in_plain_words(micro, windows, tmp_path):
    alone = tmp_path / "bin" / "eegpt"  # without libeegpt_cuda.so beside it
    alone.parent.mkdir()
    shutil.copy(lib.binary(), alone)
    env = {k: v for k, v in os.environ.items() if k not in ("EEGPT_CUDA_MODULE", "LD_LIBRARY_PATH")}
    r = subprocess.run([alone, "encode", "--weights", micro, "--input", windows, "--output", tmp_path / "e.h5",
                        "--device", "cuda"], capture_output=True, text=True, timeout=QUICK, env=env)
    line = one_line_error(r)
    assert "has no the" not in line and "cannot use the CUDA backend: libeegpt_cuda.so was not found" in line, line
