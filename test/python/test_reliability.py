"""Nothing lost, nothing silently wrong (docs/reliability.md): write failures, outputs that would replace
inputs, non-finite results, option ranges, resuming that checks what it keeps, killed runs,
corrupted weights, messages, out-of-range samples. Every case asserts the exit status, one line
on stderr, no partial output, earlier outputs intact and no leftover temporary file."""
import os
import resource
import shutil
import signal
import subprocess
import sys

import h5py
import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import recordings_testlib as lib  # noqa: E402
from eegpt_testlib import error_lines, write_input  # noqa: E402

REC = "Subject00_2.edf"  # 60 s, 21 signals at 500 Hz
CONVERT_HEAD = os.path.join(lib.REPO, "tools", "convert_head.py")


@pytest.fixture(scope="module")
def micro(tmp_path_factory):
    return lib.write_random_weights(tmp_path_factory.mktemp("w") / "micro.h5", embed_dim=16, embed_num=1, depth=1,
                                    heads=2)


@pytest.fixture(scope="module")
def head(tmp_path_factory):
    path = tmp_path_factory.mktemp("h") / "head.h5"
    r = subprocess.run([sys.executable, CONVERT_HEAD, "--random", str(path), "--input-channels", "standard19",
                        "--classes", "a,b", "--embed-num", "1", "--embed-dim", "16"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return path


def one_line_error(r):
    assert r.returncode == 1, "exit %d (expected 1); stderr:\n%s" % (r.returncode, r.stderr)
    lines = error_lines(r.stderr)
    assert len(lines) == 1 and lines[0].startswith("eegpt: error: "), r.stderr
    return lines[0]


def snapshot(directory):
    return {p.name: (p.stat().st_size, p.stat().st_mtime_ns) for p in directory.iterdir()}


def size_limited(limit):
    """preexec_fn: files may grow to `limit` bytes; writes beyond fail with EFBIG (SIGXFSZ ignored,
    which exec keeps), as on a full disk."""
    def apply():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return apply


# ---------------------------------------------------------------- 1. write failures


def write_commands(tmp_path, micro, head):
    rec = lib.recording(REC)
    window_file = tmp_path / "windows.h5"
    with h5py.File(window_file, "w") as f:
        f["x"] = (np.random.default_rng(0).standard_normal((64, 19, 1024)) * 0.02).astype(np.float32)
        f["channels"] = np.array(["FP1", "FP2", "F3", "F4", "C3", "C4", "P3", "P4", "O1", "O2", "F7", "F8", "T7",
                                  "T8", "P7", "P8", "FZ", "CZ", "PZ"], dtype="S")
    return {
        "embed": ["embed", rec, "--weights", micro, "--stride", "0.25", "--batch", "8"],
        "classify": ["classify", rec, "--weights", micro, "--head", head, "--stride", "0.25", "--save-features"],
        "preprocess": ["preprocess", rec],
        "encode": ["encode", "--weights", micro, "--input", window_file],
    }


@pytest.mark.parametrize("command", ["embed", "classify", "preprocess", "encode"])
def test_a_write_failure_is_one_line_no_signal_no_partial_and_the_old_output_intact(command, micro, head, tmp_path):
    args = write_commands(tmp_path, micro, head)[command]
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    out = out_dir / "result.h5"
    extra = ["--force"] if command in ("embed", "classify") else []
    lib.run_ok(*args, "--output", out, *extra)  # an earlier, complete output
    complete = out.read_bytes()
    assert len(complete) > 60000
    before = snapshot(out_dir)
    # Failing at several points of the write: the file's first metadata, the datasets, the rows.
    for limit in (1000, 4000, 30000, len(complete) // 2, len(complete) - 1000):
        r = subprocess.run([lib.binary(), *map(str, args), "--output", str(out), *extra], capture_output=True,
                           text=True, timeout=300, preexec_fn=size_limited(limit))
        assert r.returncode == 1, "limit %d: exit %d, stderr %r" % (limit, r.returncode, r.stderr)
        line = one_line_error(r)
        assert "cannot" in line, line
        assert snapshot(out_dir) == before, "limit %d left %s" % (limit, sorted(os.listdir(out_dir)))
        assert out.read_bytes() == complete


def test_a_write_failure_on_every_recording_of_a_list_reports_each_once(micro, tmp_path):
    recs = [lib.write_edf(tmp_path / ("r%d.edf" % i), 20) for i in range(3)]
    out = tmp_path / "out"
    r = subprocess.run([lib.binary(), "embed", *map(str, recs), "--weights", str(micro), "--stride", "0.25",
                        "--output-dir", str(out)], capture_output=True, text=True, timeout=300,
                       preexec_fn=size_limited(20000))
    assert r.returncode == 1, r.stderr
    lines = error_lines(r.stderr)
    assert len(lines) == 4 and lines[-1] == "eegpt: 3 of 3 recordings failed", r.stderr
    assert os.listdir(out) == []


# ---------------------------------------------------------------- 3. outputs never replace inputs


def test_an_output_that_is_an_input_is_refused(micro, head, tmp_path):
    rec = tmp_path / "x.edf"
    shutil.copyfile(lib.recording(REC), rec)
    w = tmp_path / "w.h5"
    shutil.copyfile(micro, w)
    listing = tmp_path / "list.txt"
    listing.write_text("%s\n" % rec)
    before = snapshot(tmp_path)
    cases = [
        (["embed", rec, "--weights", w, "--output", rec, "--force"], "is an input recording"),
        (["embed", rec, "--weights", w, "--output", w], "is the weights"),
        (["embed", "@%s" % listing, "--weights", w, "--output", listing], "is a list file"),
        (["classify", rec, "--weights", w, "--head", head, "--output", head, "--force"], "is the head"),
        (["preprocess", rec, "--output", rec], "is the input recording"),
        (["inspect", rec, "--raw-output", rec], "is the input recording"),
        (["encode", "--weights", w, "--input", w, "--output", w], "is the input"),
        (["embed", rec, "--weights", w, "--output", tmp_path], "is a directory"),
        (["preprocess", rec, "--output", tmp_path], "is a directory"),
        (["embed", rec, "--weights", w, "--output", ""], "--output is empty"),
        (["embed", rec, "--weights", w, "--output-dir", ""], "--output-dir is empty"),
        (["preprocess", rec, "--output", ""], "--output is empty"),
        (["encode", "--weights", w, "--input", w, "--output", ""], "--output is empty"),
    ]
    # a symbolic link to the input is the input
    link = tmp_path / "link.h5"
    os.symlink(w, link)
    cases.append((["encode", "--weights", w, "--input", w, "--output", link], "is the"))
    before = snapshot(tmp_path)
    for args, needle in cases:
        line = one_line_error(lib.run(*args, cwd=tmp_path))
        assert needle in line, (args, line)
        assert snapshot(tmp_path) == before, args
    assert not list(tmp_path.glob("*.partial-*")) and not (tmp_path / "x.features.h5").exists()


# ---------------------------------------------------------------- 4. non-finite results


def huge_range_edf(path, physical):
    """A plain EDF whose signals declare a physical range of +-`physical` uV."""
    lib.write_edf(path, 10)
    data = bytearray(path.read_bytes())
    n = int(data[252:256].decode())
    field = ("%-8s" % ("%.0e" % physical).replace("+", ""))[:8].encode()
    neg = ("%-8s" % ("-%.0e" % physical).replace("+", ""))[:8].encode()
    base = 256 + n * (16 + 80 + 8)
    for s in range(n):
        data[base + 8 * s: base + 8 * s + 8] = neg
        data[base + 8 * n + 8 * s: base + 8 * n + 8 * s + 8] = field
    path.write_bytes(bytes(data))
    return path


def test_physical_ranges_that_overflow_float32_are_refused(micro, tmp_path):
    rec = huge_range_edf(tmp_path / "huge.edf", 1e300)
    before = snapshot(tmp_path)
    for args in (["embed", rec, "--weights", micro, "--output", tmp_path / "f.h5"],
                 ["preprocess", rec, "--output", tmp_path / "p.h5"]):
        line = one_line_error(lib.run(*args))
        assert "too large for float32" in line, line
        assert snapshot(tmp_path) == before


def test_non_finite_features_are_refused(tmp_path):
    # Finite weights whose last LayerNorm scales by 3e38: features overflow to infinity.
    w = lib.write_random_weights(tmp_path / "overflow.h5", embed_dim=16, embed_num=1, depth=1, heads=2)
    with h5py.File(w, "a") as f:
        f["encoder/norm.weight"][...] = np.float32(3e38)
    before = snapshot(tmp_path)
    line = one_line_error(lib.run("embed", lib.recording(REC), "--weights", w, "--output", tmp_path / "f.h5"))
    assert "a feature of window 0 is not finite" in line, line
    assert snapshot(tmp_path) == before


def test_tiny_filter_frequencies_are_refused(micro, tmp_path):
    rec = lib.recording(REC)
    for args, needle in ((["--notch", "1e-300"], "between 0.01 Hz"), (["--bandpass", "1e-300,40"], "between 0.01 Hz")):
        for cmd in (["embed", rec, "--weights", micro, "--output", tmp_path / "f.h5"],
                    ["preprocess", rec, "--output", tmp_path / "p.h5"]):
            assert needle in one_line_error(lib.run(*cmd, *args))
    assert os.listdir(tmp_path) == []


# ---------------------------------------------------------------- 5. options validated


def test_numeric_options_are_validated_with_a_human_message(micro, tmp_path):
    rec = lib.recording(REC)
    base = ["embed", rec, "--weights", micro, "--output", tmp_path / "f.h5"]
    cases = [
        (["--notch", "nan"], "--notch nan: must be a frequency"),
        (["--notch", "-50"], "--notch -50: must be"),
        (["--notch", "inf"], "--notch inf"),
        (["--notch", "50", "--notch-q", "0"], "--notch-q 0: must be"),
        (["--notch", "50", "--notch-q", "nan"], "--notch-q nan"),
        (["--batch", "0"], "--batch 0: must be between 1 and 4096 windows"),
        (["--batch", "100000"], "--batch 100000: must be between 1 and 4096"),
        (["--threads", "-1"], "--threads -1"),
        (["--stride", "nan"], "--stride"),
        (["--bandpass", "1,40x"], "LOW,HIGH"),
        (["--bandpass", "nan,40"], "--bandpass nan,40: need 0 <= LOW < HIGH"),
        (["--out-of-range", "drop"], "--out-of-range 'drop'"),
        (["--bandpass-order", "0"], "--bandpass-order 0: must be between 1 and 12"),
    ]
    for extra, needle in cases:
        line = one_line_error(lib.run(*base, *extra))
        assert needle in line, (extra, line)
        assert "1.79" not in line and "0.000000 to" not in line
    for extra, needle in ((["--notch", "nan"], "--notch nan"), (["--notch-q", "-1"], "--notch-q -1")):
        assert needle in one_line_error(lib.run("preprocess", rec, "--output", tmp_path / "p.h5", *extra))
    for seconds in ("nan", "-1", "inf"):
        assert "--seconds" in one_line_error(lib.run("inspect", rec, "--raw-output", tmp_path / "r.h5", "--seconds",
                                                     seconds))
    assert os.listdir(tmp_path) == []


def test_threads_are_clamped_to_the_cores_available(micro, tmp_path):
    cores = len(os.sched_getaffinity(0))
    r = lib.run_ok("embed", lib.recording(REC), "--weights", micro, "--output", tmp_path / "f.h5", "--threads", "1000",
                   "--quiet")
    assert error_lines(r.stderr) == ["eegpt: warning: --threads 1000: only %d cores are available to this process; using %d"
                                     % (cores, cores)]
    with h5py.File(tmp_path / "f.h5", "r") as f:
        assert f.attrs["complete"] == 1


def test_a_shard_with_nothing_to_do_says_so(micro, tmp_path):
    recs = [lib.write_edf(tmp_path / ("r%d.edf" % i), 5) for i in range(3)]
    r = lib.run_ok("embed", *recs, "--weights", micro, "--output-dir", tmp_path / "out", "--shard", "5/10")
    assert r.stderr.strip() == "eegpt: shard 5/10 has nothing to do: the list has 3 recordings"
    assert not (tmp_path / "out").exists()


# ---------------------------------------------------------------- 2. resume that checks


def test_resume_keeps_only_outputs_this_job_made(micro, tmp_path):
    rec = tmp_path / "rec.edf"
    shutil.copyfile(lib.recording(REC), rec)
    out = tmp_path / "out"
    good = out / "rec.features.h5"
    args = ["embed", rec, "--weights", micro, "--output-dir", out]
    lib.run_ok(*args)
    with h5py.File(good, "r") as f:
        assert f.attrs["complete"] == 1 and "stride_s=4" in f.attrs["job"]
    reference = good.read_bytes()

    r = lib.run_ok(*args)  # the same job: kept
    assert "done already" in r.stdout and good.read_bytes() == reference

    def recomputed(r, why):
        assert "exists but %s" % why in r.stderr and "recomputing" in r.stderr, r.stderr
        assert "done already" not in r.stdout
        with h5py.File(good, "r") as f:
            assert f.attrs["complete"] == 1

    # damaged outputs
    good.write_bytes(reference[: len(reference) // 2])
    recomputed(lib.run_ok(*args), "it cannot be read")
    good.write_bytes(b"")
    recomputed(lib.run_ok(*args), "it cannot be read")
    good.write_bytes(reference[:8] + os.urandom(5000))  # HDF5's signature, then garbage (bytes that are not
    recomputed(lib.run_ok(*args), "it cannot be read")  # HDF5 at all are not replaced: test_reliability_outputs)
    # an output without the completeness marker (as written before, or cut short inside HDF5)
    with h5py.File(good, "a") as f:
        del f.attrs["complete"]
    recomputed(lib.run_ok(*args), "it is incomplete")
    # other numbers: stride, weights, options
    recomputed(lib.run_ok(*args, "--stride", "2"), "it was made with other stride_s (was '4', now '2')")
    other = lib.write_random_weights(tmp_path / "other.h5", embed_dim=16, embed_num=1, depth=1, heads=2, seed=5)
    recomputed(lib.run_ok("embed", rec, "--weights", other, "--output-dir", out, "--stride", "2"),
               "it was made with other weights")
    recomputed(lib.run_ok("embed", rec, "--weights", other, "--output-dir", out, "--stride", "2", "--notch", "50"),
               "it was made with other notch_hz")
    # another recording under the same name (or the same file changed)
    shutil.copyfile(lib.recording("Subject00_1.edf"), rec)
    r = lib.run_ok("embed", rec, "--weights", other, "--output-dir", out, "--stride", "2", "--notch", "50")
    recomputed(r, "it was made with other recording_size")

    # --no-overwrite: a mismatch is reported, the file left alone
    kept = good.read_bytes()
    r = lib.run(*args, "--no-overwrite")
    line = one_line_error(r)
    assert "exists but it was made with other weights" in line and "--no-overwrite" in line
    assert good.read_bytes() == kept


def test_a_missing_input_is_reported_even_when_its_output_exists(micro, tmp_path):
    rec = tmp_path / "gone.edf"
    shutil.copyfile(lib.recording(REC), rec)
    lib.run_ok("embed", rec, "--weights", micro, "--output-dir", tmp_path)
    rec.unlink()
    line = one_line_error(lib.run("embed", rec, "--weights", micro, "--output-dir", tmp_path, "--quiet"))
    assert "gone.edf" in line and "No such file" in line


# ---------------------------------------------------------------- 6. killed runs


def test_a_killed_run_leaves_no_repaired_copy_and_sighup_removes_the_partial(tmp_path):
    # S001R03.edf needs the repaired copy (BCI2000's annotation prefilter); the large stand-in
    # model, one window per batch, is slow enough to be caught while it reads.
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    out = tmp_path / "out"
    cmd = [lib.binary(), "embed", lib.recording("S001R03.edf"), "--output-dir", str(out), "--batch", "1", "--quiet"]
    env = dict(os.environ, TMPDIR=str(tmp))
    for sig, status in ((signal.SIGKILL, -signal.SIGKILL), (signal.SIGHUP, 130)):
        p = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            assert lib.wait_for(lambda: list(out.glob("*.partial-*")), 120)
            assert os.listdir(tmp) == [], "the repaired copy has a name while it is read"
            p.send_signal(sig)
            _, err = p.communicate(timeout=60)
        finally:
            if p.poll() is None:
                p.kill()
        assert p.returncode == status, (sig, p.returncode, err)
        assert os.listdir(tmp) == []
        if sig == signal.SIGHUP:
            assert "interrupted" in err and not list(out.glob("*.partial-*"))
        for leftover in out.glob("*.partial-*"):  # what SIGKILL leaves, never under the final name
            leftover.unlink()
        assert os.listdir(out) == []


# ---------------------------------------------------------------- 7. weight integrity


def corrupt_tensor(path, name, length=4096):
    """Writes `length` bytes of 0xAA inside the stored data of dataset `name`."""
    with h5py.File(path, "r") as f:
        d = f[name]
        offset = d.id.get_chunk_info(0).byte_offset if d.chunks else d.id.get_offset()
        size = d.id.get_storage_size()
    assert size > length + 512
    with open(path, "r+b") as f:
        f.seek(offset + 256)
        f.write(b"\xaa" * length)


def converted(tmp_path, name="w.h5"):
    path = tmp_path / name
    r = subprocess.run([sys.executable, os.path.join(lib.REPO, "tools", "convert_ckpt.py"), "--random-init", "tiny2",
                        "--seed", "0", str(path)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return path


def without_checksums(src, dst):
    """The same file as written before checksums existed: plain contiguous datasets."""
    with h5py.File(src, "r") as a, h5py.File(dst, "w") as b:
        for k, v in a.attrs.items():
            b.attrs[k] = v

        def copy(name, obj):
            if isinstance(obj, h5py.Group):
                g = b.require_group(name)
                for k, v in obj.attrs.items():
                    g.attrs[k] = v
            else:
                b.create_dataset(name, data=obj[()])
        a.visititems(copy)
    return dst


def test_a_corrupted_tensor_is_refused_by_name(tmp_path):
    w = converted(tmp_path)
    rec = lib.recording(REC)
    lib.run_ok("embed", rec, "--weights", w, "--output", tmp_path / "good.h5", "--quiet")
    corrupt_tensor(w, "encoder/blocks.0.mlp.fc1.weight")
    before = snapshot(tmp_path)
    for args in (["embed", rec, "--weights", w, "--output", tmp_path / "f.h5"], ["info", w]):
        line = one_line_error(lib.run(*args))
        assert "'encoder/blocks.0.mlp.fc1.weight' fails its checksum" in line, line
    assert snapshot(tmp_path) == before


def test_untrained_weights_get_one_warning_and_trained_ones_none(micro, tmp_path):
    x = tmp_path / "x.h5"
    write_input(x, np.zeros((1, 2, 1024), np.float32), ["FP1", "FP2"])
    for command in (["embed", lib.recording(REC), "--output", tmp_path / "e.h5", "--quiet"],
                    ["encode", "--input", x, "--output", tmp_path / "x_out.h5"]):
        r = lib.run_ok(*command, "--weights", micro)
        lines = r.stderr.strip().splitlines()
        assert lines == ["eegpt: warning: weights '%s' are untrained (random-initialised, seed 0): their features and "
                         "predictions mean nothing" % micro], r.stderr
    trained = tmp_path / "trained.h5"
    shutil.copy(micro, trained)
    with h5py.File(trained, "r+") as f:
        f.attrs["trained"] = np.int64(1)
        del f.attrs["random_seed"]
    r = lib.run_ok("embed", lib.recording(REC), "--weights", trained, "--output", tmp_path / "t.h5", "--quiet")
    assert r.stderr == ""


def test_weights_without_checksums_load_with_a_warning(tmp_path):
    old = without_checksums(converted(tmp_path), tmp_path / "old.h5")
    r = lib.run_ok("embed", lib.recording(REC), "--weights", old, "--output", tmp_path / "f.h5", "--quiet")
    assert error_lines(r.stderr) == ["eegpt: warning: weights '%s': no checksums (converted before they were written): "
                                     "a corrupted tensor cannot be detected; convert the checkpoint again with "
                                     "tools/convert_ckpt.py" % old]
    # one tensor without its checksum among checksummed ones: the file was altered
    w = converted(tmp_path, "mixed.h5")
    with h5py.File(w, "a") as f:
        v = f["encoder/norm.bias"][()]
        del f["encoder/norm.bias"]
        f["encoder/norm.bias"] = v
    assert "'encoder/norm.bias' has no checksum" in one_line_error(
        lib.run("embed", lib.recording(REC), "--weights", w, "--output", tmp_path / "g.h5"))


def test_heads_carry_checksums_too(micro, head, tmp_path):
    rec = lib.recording(REC)
    h = tmp_path / "head.h5"
    shutil.copyfile(head, h)
    with h5py.File(h, "r") as f:
        weights = ["steps/%d/weight" % i for i in range(f.attrs["n_steps"]) if "weight" in f["steps/%d" % i]]
        assert weights and all(f[n].fletcher32 for n in weights)
        big = max(weights, key=lambda n: f[n].size)
        small = min(weights, key=lambda n: f[n].size).replace("weight", "bias")
    corrupt_tensor(h, big, length=512)
    line = one_line_error(lib.run("classify", rec, "--weights", micro, "--head", h, "--output", tmp_path / "p.h5"))
    assert "'%s' fails its checksum" % big in line and str(h) in line, line
    old = without_checksums(head, tmp_path / "old_head.h5")
    r = lib.run_ok("classify", rec, "--weights", micro, "--head", old, "--output", tmp_path / "p.h5", "--quiet")
    assert r.stderr.strip().startswith("eegpt: warning: head '%s': no checksums" % old), r.stderr
    # one tensor without its checksum among checksummed ones: the file was altered
    mixed = tmp_path / "mixed_head.h5"
    shutil.copyfile(head, mixed)
    with h5py.File(mixed, "a") as f:
        v = f[small][()]
        del f[small]
        f[small] = v
    assert "'%s' has no checksum" % small in one_line_error(
        lib.run("classify", rec, "--weights", micro, "--head", mixed, "--output", tmp_path / "q.h5"))


# ---------------------------------------------------------------- 8. messages


def corpus():
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_corpus", os.path.join(lib.REPO, "test", "fuzz", "make_corpus.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def edf_with(path, patches, signals=None, records=10, **kwargs):
    """A small EDF (three EEG signals at 200 Hz unless `signals`), then fixed-header fields replaced:
    patches maps a byte offset to (width, text)."""
    c = corpus()
    sigs = signals or [c.eeg(label, 200) for label in ("EEG Fp1-REF", "EEG Cz-REF", "EEG O2-REF")]
    data = bytearray(c.edf_bytes(sigs, records=records, **kwargs))
    for offset, (width, text) in patches.items():
        data[offset:offset + width] = text.encode("latin-1").ljust(width)[:width]
    path.write_bytes(bytes(data))
    return path


def signal_field(ns, field, signal):
    """Byte offset of a per-signal header field (0 label ... 8 samples per record)."""
    widths = [16, 80, 8, 8, 8, 8, 8, 80, 8, 32]
    return 256 + sum(w * ns for w in widths[:field]) + widths[field] * signal


def test_header_messages_name_the_field_at_fault(micro, tmp_path):
    cases = [
        ({244: (8, "1e-9")}, "data-record-duration field '1e-9' uses exponent notation"),
        ({244: (8, "1e0")}, "data-record-duration field '1e0' uses exponent notation"),  # EDFlib read 630 s
        ({236: (8, "1e1")}, "number-of-data-records field '1e1' uses exponent notation"),
        ({signal_field(3, 8, 1): (8, "2.56e2")}, "samples per record '2.56e2' uses exponent notation"),
        ({signal_field(3, 5, 0): (8, "-3.2e4")}, "digital minimum '-3.2e4' uses exponent notation"),
    ]
    for patches, needle in cases:
        rec = edf_with(tmp_path / "bad.edf", patches)
        for args in (["inspect", rec], ["embed", rec, "--weights", micro, "--output", tmp_path / "f.h5"]):
            line = one_line_error(lib.run(*args))
            assert needle in line and "annotation records" not in line, (patches, line)
    empty = tmp_path / "empty.edf"
    empty.write_bytes(b"")
    assert "file is too short for an EDF/BDF header (0 bytes" in one_line_error(lib.run("inspect", empty))
    assert not (tmp_path / "f.h5").exists()


def test_labels_with_nul_or_invalid_utf8_are_escaped_in_messages_and_outputs(micro, tmp_path):
    ns = 3
    rec = edf_with(tmp_path / "odd.edf", {signal_field(ns, 0, 0): (16, "EEG Fp1\x00\xff-REF"),
                                           signal_field(ns, 0, 1): (16, "EEG Cz\xe9")})
    out = tmp_path / "f.h5"
    r = lib.run_ok("embed", rec, "--weights", micro, "--output", out, "--quiet")
    assert "\x00" not in r.stderr and "\\x00" in r.stderr and "\\xFF" in r.stderr
    with h5py.File(out, "r") as f:
        warnings = list(f["warnings"].asstr()[()])  # failed on invalid UTF-8 before
        for name in ("source_labels", "channels_dropped", "channels_dropped_reason", "recording_channels"):
            list(f[name].asstr()[()])
    assert any("\\x00\\xFF" in w for w in warnings), warnings


def test_a_byte_order_mark_starting_a_list_is_ignored(micro, tmp_path):
    rec = lib.write_edf(tmp_path / "a.edf", 5)
    listing = tmp_path / "list.txt"
    listing.write_bytes(b"\xef\xbb\xbf" + str(rec).encode() + b"\n")
    lib.run_ok("embed", "@%s" % listing, "--weights", micro, "--output-dir", tmp_path / "out", "--quiet")
    assert (tmp_path / "out" / "a.features.h5").exists()


# ---------------------------------------------------------------- 11. out-of-range samples


def out_of_range_edf(path, records=10):
    """Samples of the corpus writer lie in -100..99; the first signal declares -50..50 (about half
    of its samples outside), the others the full 16-bit range."""
    c = corpus()
    sigs = [("EEG Fp1-REF", "uV", 200, -50, 50, -50, 50, ""), c.eeg("EEG Cz-REF", 200), c.eeg("EEG O2-REF", 200)]
    path.write_bytes(c.edf_bytes(sigs, records=records))
    return path


def test_out_of_range_samples_are_counted_warned_recorded_and_kept_as_mne_does(tmp_path):
    import mne

    rec = out_of_range_edf(tmp_path / "oor.edf")
    raw = mne.io.read_raw_edf(str(rec), preload=True, verbose="ERROR").get_data()  # volts, values kept
    digital = np.round(raw[0] * 1e6)
    outside = int(np.sum((digital < -50) | (digital > 50)))
    assert outside > 0.3 * raw.shape[1]
    outputs = {}
    for mode in ("keep", "clip"):
        out = tmp_path / ("%s.h5" % mode)
        extra = [] if mode == "keep" else ["--out-of-range", "clip"]
        r = lib.run_ok("preprocess", rec, "--output", out, *extra)
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("eegpt: warning: %s: signal 'EEG Fp1-REF': %d of 2000 samples"
                                                       % (rec, outside)), r.stderr
        assert ("kept as recorded" if mode == "keep" else "clipped") in lines[0]
        with h5py.File(out, "r") as f:
            assert f.attrs["out_of_range"] == mode
            assert list(f["samples_out_of_range"][()]) == [outside, 0, 0]
            assert lines[0].split("warning: %s: " % rec)[1] in list(f["warnings"].asstr()[()])
            outputs[mode] = f["signals"][()]
    # What the engine resamples is MNE's reading (kept) or MNE's clipped to the range.
    import scipy.signal

    for mode, expected_uv in (("keep", raw[0] * 1e6), ("clip", np.clip(raw[0] * 1e6, -50, 50))):
        expected = scipy.signal.resample_poly(expected_uv * 1e-3, 32, 25)
        got = outputs[mode][0]
        assert np.max(np.abs(got - expected)) <= 1e-5 * np.max(np.abs(expected)), mode
    assert np.max(np.abs(outputs["keep"][0] - outputs["clip"][0])) > 0.01  # mV: the choice matters


def test_an_annotation_only_edf_plus_says_so(tmp_path):
    c = corpus()
    rec = tmp_path / "hypnogram.edf"
    data = bytearray(c.edf_bytes([], records=1, reserved="EDF+C", annotation=""))
    data[244:252] = b"0       "  # record duration 0: legal for an annotation-only EDF+ file
    rec.write_bytes(bytes(data))
    line = one_line_error(lib.run("inspect", rec))
    assert "no signals, annotations only" in line, line


def test_an_ear_electrode_against_the_reference_is_not_a_bipolar_derivation(tmp_path):
    c = corpus()
    rec = tmp_path / "ears.edf"
    rec.write_bytes(c.edf_bytes([c.eeg(label, 200) for label in ("EEG Fp1-Ref", "EEG A1-Ref", "EEG A2-A1")], records=5))
    r = lib.run_ok("inspect", rec)
    assert "'EEG A1-Ref'" in r.stdout and "dropped: not in the 62-name dictionary" in r.stdout
    assert "dropped: bipolar derivation" in r.stdout  # A2-A1 still is one
    line_a1 = [l for l in r.stdout.splitlines() if "'EEG A1-Ref'" in l][0]
    assert "bipolar" not in line_a1


# ---- no non-finite value in any result with a zero exit (issue 23, items 1-3)
def test_encode_refuses_features_that_overflow(micro, tmp_path):
    """Finite windows of 3e38 overflow float32 inside the encoder: one line, nothing written."""
    x = np.full((2, 3, 128), 3e38, np.float32)
    with h5py.File(tmp_path / "in.h5", "w") as f:
        f["x"] = x
        f["channels"] = ["FP1", "CZ", "O2"]
    before = snapshot(tmp_path)
    line = one_line_error(lib.run("encode", "--weights", micro, "--input", tmp_path / "in.h5", "--output",
                                  tmp_path / "out.h5"))
    assert "the features of window 0 are not finite" in line, line
    assert snapshot(tmp_path) == before


def scaled_norm_weights(tmp_path, scale):
    w = lib.write_random_weights(tmp_path / "scaled.h5", embed_dim=16, embed_num=1, depth=1, heads=2)
    with h5py.File(w, "a") as f:
        f["encoder/norm.weight"][...] = np.float32(scale)
    return w


@pytest.mark.parametrize("command", ["embed", "classify"])
def test_float16_features_beyond_its_range_are_refused(command, head, tmp_path):
    """Features of about 1e6 are finite in float32 but infinite in float16: refused, not written as inf."""
    w = scaled_norm_weights(tmp_path, 1e6)
    extra = ["--head", head, "--save-features"] if command == "classify" else []
    before = snapshot(tmp_path)
    line = one_line_error(lib.run(command, lib.recording(REC), "--weights", w, "--output", tmp_path / "f.h5",
                                  "--features-dtype", "float16", *extra))
    assert "beyond float16's range (+-65504); nothing written" in line, line
    assert snapshot(tmp_path) == before
    lib.run_ok(command, lib.recording(REC), "--weights", w, "--output", tmp_path / "f.h5", "--quiet", *extra)
    with h5py.File(tmp_path / "f.h5", "r") as f:
        assert np.isfinite(f["features"][()]).all() and np.abs(f["features"][()]).max() > 65504


def test_a_head_whose_logits_overflow_is_refused(micro, head, tmp_path):
    """Finite head weights of 3e38 make infinite logits: no NaN probabilities, no predicted class."""
    h = tmp_path / "overflow_head.h5"
    shutil.copyfile(head, h)
    with h5py.File(h, "a") as f:
        last = f["steps/%d" % (int(f.attrs["n_steps"]) - 1)]
        assert last.attrs["op"] == "linear"
        if "max_norm" in last.attrs:
            del last.attrs["max_norm"]
        shape = last["weight"].shape
        del last["weight"]
        last.create_dataset("weight", data=np.full(shape, 3e38, np.float32), chunks=shape, fletcher32=True)
    before = snapshot(tmp_path)
    line = one_line_error(lib.run("classify", lib.recording(REC), "--weights", micro, "--head", h, "--output",
                                  tmp_path / "p.h5"))
    assert "the head's logits are not finite" in line, line
    assert snapshot(tmp_path) == before
