"""bench_eegpt as documented (docs/benchmarks.md): every timed case is a Catch2 BENCHMARK, --benchmark-samples and Catch2's
reporters work, the results file has the spec's fields and is a pytest-benchmark file that
`pytest-benchmark compare` reads, the recording cases run `eegpt embed`'s pipeline on EDF files and
say which, targets are judged only for the model they were set for, a missed target is a failed
CHECK under --strict, and the runner, baselines and `make benchmark` still work.

Runs bench_eegpt on the small tiny1 model with few samples (seconds each). Needs EEGPT_BENCH_BIN
(bench_eegpt), EEGPT_BENCH_VENV (a venv with pytest-benchmark: tools/setup/make_venv.sh DIR
bench, a CTest fixture) and EEGPT_BENCH_BUILD_DIR (the build directory: the eegpt command line, the runner and make).
"""
import json
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET

import h5py
import numpy as np
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tools", "bench"))
import bench_compare  # noqa: E402
sys.path.insert(0, HERE)
import recordings_testlib  # noqa: E402

BIN = os.environ.get("EEGPT_BENCH_BIN", "")
VENV = os.environ.get("EEGPT_BENCH_VENV", "")
BUILD = os.environ.get("EEGPT_BENCH_BUILD_DIR", "")
pytestmark = pytest.mark.skipif(not (BIN and VENV and BUILD), reason="run through CTest (EEGPT_BENCH_* not set)")

MODEL = ["--model", "tiny1"]


def bench(tmp_path, *args, name="results.json", expect=0, model=MODEL):
    path = tmp_path / name
    p = subprocess.run([BIN, *args, *model, "--no-peers", "--json", str(path)], capture_output=True, text=True,
                       timeout=900)
    assert p.returncode == expect, "exit %d\n%s\n%s" % (p.returncode, p.stdout[-4000:], p.stderr[-2000:])
    return (json.loads(path.read_text()) if path.exists() else None), p


@pytest.fixture(scope="module")
def two_quick_runs(tmp_path_factory):
    d = tmp_path_factory.mktemp("quick")
    return [bench(d, "[quick]", name="run%d.json" % i)[0] for i in (1, 2)], d


# ---- every timed case is a BENCHMARK

def test_every_test_case_times_through_catch2_benchmark():
    """Statically: no clock in bench/ sources but the ceiling loops of peak.cpp (which run for a set
    time to measure the machine, not a case), and every TEST_CASE reaches a BENCHMARK (directly or
    through a helper whose body has one), GPU cases included."""
    for f in os.listdir(os.path.join(ROOT, "bench")):
        if f == "peak.cpp":
            continue
        text = open(os.path.join(ROOT, "bench", f)).read()
        for clock in ("steady_clock", "high_resolution_clock", "system_clock", "clock_gettime", "gettimeofday"):
            assert clock not in text, "%s times with %s, not with Catch2's BENCHMARK" % (f, clock)
    src = open(os.path.join(ROOT, "bench", "bench_cases.cpp")).read()
    # Top-level definitions start at column 0; a function's text runs to the next one.
    starts = [m.start() for m in re.finditer(r"^(?:[A-Za-z_][\w:<>&*, ]*\s+[*&]?\w+\(|TEST_CASE\()", src, re.M)]
    chunks = [src[a:b] for a, b in zip(starts, starts[1:] + [len(src)])]
    timed = set()
    for _ in range(3):  # helpers calling helpers
        for c in chunks:
            m = re.match(r"[^(]*?(\w+)\(", c)
            if not c.startswith("TEST_CASE") and ("BENCHMARK(" in c or any(re.search(r"\b%s\(" % h, c) for h in timed)):
                timed.add(m.group(1))
    assert {"encode_case", "recording_case", "memory_case"} <= timed
    cases = [c for c in chunks if c.startswith("TEST_CASE")]
    assert len(cases) >= 15
    for c in cases:
        name = re.match(r'TEST_CASE\("([^"]+)"', c).group(1)
        assert "BENCHMARK(" in c or any(re.search(r"\b%s\(" % h, c) for h in timed), name


def test_every_cpu_case_that_runs_reports_catch2_benchmarks(tmp_path):
    """Dynamically: every CPU test case (all of them, slow ones included, on tiny1 with 1 sample) puts
    at least one BENCHMARK in the results file, and nothing else does."""
    path = tmp_path / "all.json"
    p = subprocess.run([BIN, "~[gpu]", "--benchmark-samples", "1", *MODEL, "--json", str(path)],
                       capture_output=True, text=True, timeout=900)
    assert p.returncode == 0, p.stdout[-4000:] + p.stderr[-2000:]
    doc = json.loads(path.read_text())
    src = open(os.path.join(ROOT, "bench", "bench_cases.cpp")).read()
    cases = [name for name, tags in re.findall(r'^TEST_CASE\("([^"]+)", "([^"]+)"\)', src, re.M) if "[gpu]" not in tags]
    assert len(cases) >= 10
    ran = {b["fullname"].split("::")[1] for b in doc["benchmarks"]}
    assert set(cases) == ran, "cases without a BENCHMARK result: %s" % sorted(set(cases) - ran)
    assert all(b["stats"]["rounds"] == 1 for b in doc["benchmarks"])
    # Catch2's own console reporter shows every BENCHMARK
    for b in doc["benchmarks"]:
        assert b["name"][:20] in p.stdout


def test_benchmark_samples_sets_the_rounds(tmp_path):
    default, _ = bench(tmp_path, "[single-window][quick]", name="default.json")
    three, _ = bench(tmp_path, "[single-window][quick]", "--benchmark-samples", "3", name="three.json")
    assert [b["rounds"] for b in default["benchmarks"]] == [10, 10]  # the per-case default of a window
    assert [b["rounds"] for b in three["benchmarks"]] == [3, 3]
    assert all(len(b["stats"]["data"]) == 3 and b["stats"]["rounds"] == 3 for b in three["benchmarks"])
    assert three["config"]["benchmark_samples"] == 3


def test_catch2_reporters_list_the_benchmark_cases(tmp_path):
    junit = tmp_path / "bench.junit.xml"
    doc, p = bench(tmp_path, "[quick]", "--benchmark-samples", "2", "-r", "junit", "-o", str(junit))
    root = ET.parse(junit).getroot()
    names = {tc.get("name") for tc in root.iter("testcase")}
    assert {"single window cpu 19ch 1024", "batch cpu 1, 4", "recording cpu 1 min", "recording cpu Subject00_2.edf",
            "memory cpu one window", "comparison cpu batch vs one-by-one"} <= names
    assert not list(root.iter("failure")) and not list(root.iter("error"))
    assert len(doc["benchmarks"]) == 9
    xml = tmp_path / "bench.xml"
    bench(tmp_path, "[single-window][quick]", "--benchmark-samples", "2", "-r", "xml", "-o", str(xml))
    results = {b.get("name"): b for b in ET.parse(xml).getroot().iter("BenchmarkResults")}
    assert set(results) == {"single-window cpu 19ch 1024", "single-window cpu 19ch 512"}
    assert all(b.get("samples") == "2" for b in results.values())


# ---- the results file

SPEC_FIELDS = ("name", "mean", "min", "max", "stddev", "rounds")
PYTEST_BENCHMARK_STATS = ("min", "max", "mean", "stddev", "rounds", "median", "iqr", "q1", "q3", "outliers", "ops",
                          "total", "iterations", "data")


def test_results_file_has_the_spec_and_pytest_benchmark_fields(two_quick_runs):
    doc = two_quick_runs[0][0]
    for key in ("machine_info", "commit_info", "datetime", "version", "benchmarks"):
        assert key in doc
    assert isinstance(doc["benchmarks"], list) and len(doc["benchmarks"]) == 9
    assert doc["machine_info"]["cores"] >= 1 and doc["commit_info"]["id"]
    assert doc["commit_info"]["dirty"] in (True, False, None)
    for b in doc["benchmarks"]:
        for key in SPEC_FIELDS + ("group", "fullname", "params", "stats", "extra_info"):
            assert key in b, (b["name"], key)
        s = b["stats"]
        for key in PYTEST_BENCHMARK_STATS:
            assert key in s, (b["name"], key)
        assert s["rounds"] == len(s["data"]) == b["rounds"] and s["iterations"] >= 1
        assert 0 < s["min"] <= s["median"] <= s["max"] and s["min"] <= s["mean"] <= s["max"]
        assert s["mean"] < 30, "seconds, as in the spec"
        assert s["q1"] <= s["median"] <= s["q3"] and s["iqr"] == pytest.approx(s["q3"] - s["q1"])
        assert s["ops"] == pytest.approx(1 / s["mean"])
        assert b["mean"] == s["mean"] and b["min"] == s["min"] and b["stddev"] == s["stddev"]
        extra = b["extra_info"]
        assert extra["category"] == b["group"] and extra["catch2"]["analysed"] is True
        assert extra["catch2"]["mean_low"] <= s["mean"] <= extra["catch2"]["mean_high"]
        assert b["name"] in extra["line"]
    mem = [b for b in doc["benchmarks"] if b["group"] == "memory"][0]
    assert mem["extra_info"]["figures"][0]["key"] == "peak_rss_mb" and mem["extra_info"]["peak_rss_mb"] > 1
    bench_compare.check_layout(doc)


def test_pytest_benchmark_compare_reads_two_runs(two_quick_runs):
    (first, second), d = two_quick_runs
    exe = os.path.join(VENV, "bin", "pytest-benchmark")
    p = subprocess.run([exe, "compare", str(d / "run1.json"), str(d / "run2.json"), "--group-by", "group"],
                       capture_output=True, text=True, cwd=str(d), timeout=120)
    assert p.returncode == 0 and "Warning" not in p.stderr, p.stdout + p.stderr
    for b in first["benchmarks"]:
        assert p.stdout.count(b["name"]) >= 2, b["name"]  # one row per run
    assert "benchmark 'single-window'" in p.stdout and "Rounds" in p.stdout
    # and it says so when a file is not one of its files (a warning, and the file's rows left out): the old layout
    old = d / "old.json"
    old.write_text(json.dumps({"machine": {}, "benchmarks": {"x": {"median": 1.0}}}))
    p = subprocess.run([exe, "compare", str(d / "run1.json"), str(old)], capture_output=True, text=True, cwd=str(d),
                       timeout=120)
    assert "old.json" in p.stderr and "Warning" in p.stderr


def test_our_comparison_reads_the_new_files(two_quick_runs):
    (first, second), _ = two_quick_runs
    rows = bench_compare.compare(first, second, 10.0)  # same build: nothing beyond a 1000% threshold
    assert not bench_compare.regressions(rows)
    names = {r["name"] for r in rows}
    assert "memory cpu one window 19ch 1024 [peak_rss_mb]" in names and "single-window cpu 19ch 1024" in names


# ---- the recording cases run `eegpt embed`'s pipeline

# The quick ones: file -> (duration in s, channels used, sample rate in Hz, 4 s windows at 2 s stride).
QUICK_RECORDINGS = {"synthetic_1min.edf": (60, 19, 500, 29), "Subject00_2.edf": (62, 19, 500, 30)}
# What differs between two outputs of the same recording: the model's numbers, the weights' provenance
# and the resume record (`eegpt embed` writes one, the bench does not).
MODEL_ATTRS = {"job", "weights_source_checkpoint", "weights_source_sha256", "weights_source_prefix",
               "weights_converter_version", "weights_trained", "weights_random_seed", "model_embed_dim",
               "model_depth", "model_embed_num"}


def test_recording_cases_time_the_embed_pipeline(tmp_path):
    """Each [recording][quick] result names the EDF file it read (its length, channels and rate) and the
    HDF5 file it wrote, and that file is what `eegpt embed --stride 2` writes for the same recording
    (the same datasets, attributes, windows and channels; only the model differs): the figures are
    those of the pipeline. The pipeline's own share is the time outside the encoder."""
    doc, p = bench(tmp_path, "[recording][quick]", "--benchmark-samples", "1")
    results = {b["extra_info"]["recording"]: b for b in doc["benchmarks"]}
    assert sorted(results) == sorted(QUICK_RECORDINGS)
    weights = recordings_testlib.write_random_weights(tmp_path / "micro.h5", embed_dim=16, embed_num=1, depth=1,
                                                      heads=2)
    for name, (duration, channels, rate, windows) in QUICK_RECORDINGS.items():
        b = results[name]
        e = b["extra_info"]
        assert (e["duration_s"], e["channels"], e["sample_rate_hz"], e["windows"]) == (duration, channels, rate, windows)
        assert e["x_real_time"] == pytest.approx(duration / b["stats"]["mean"])
        assert 0 < e["encoder_s"] < b["stats"]["mean"]
        assert e["pipeline_s"] == pytest.approx(b["stats"]["mean"] - e["encoder_s"])
        assert "the pipeline's own share" in e["line"] and name in e["line"]
        assert os.path.basename(e["output"]) == name[:-4] + ".features.h5"
        reference = tmp_path / (name + ".embed.h5")
        r = subprocess.run([os.path.join(BUILD, "eegpt"), "embed", e["recording_path"], "--stride", "2", "--weights",
                            str(weights), "--output", str(reference), "--quiet"], capture_output=True, text=True,
                           timeout=300)
        assert r.returncode == 0, r.stderr
        with h5py.File(e["output"], "r") as ours, h5py.File(reference, "r") as embed:
            assert ours["features"].shape[:2] == (windows, 16)
            assert np.isfinite(ours["features"][...]).all()
            assert sorted(ours.keys()) == sorted(embed.keys())
            assert set(ours.attrs) - MODEL_ATTRS == set(embed.attrs) - MODEL_ATTRS
            for key in set(ours.attrs) - MODEL_ATTRS:
                assert np.array_equal(ours.attrs[key], embed.attrs[key]), key
            for key in ours.keys():
                if key != "features":
                    assert np.array_equal(ours[key][...], embed[key][...]), key
            assert ours.attrs["recording"] == e["recording_path"] and ours.attrs["n_windows"] == windows
            assert ours.attrs["complete"] == 1 and ours.attrs["stride_s"] == 2


# ---- targets

def test_targets_are_not_judged_for_another_model(two_quick_runs):
    doc = two_quick_runs[0][0]
    statuses = [b["extra_info"]["status"] for b in doc["benchmarks"]]
    assert "PASS" not in statuses and "FAIL" not in statuses
    with_target = [b for b in doc["benchmarks"] if b["extra_info"]["target"]]
    assert len(with_target) == 5  # two windows, the two quick recordings, peak memory
    for b in with_target:
        assert b["extra_info"]["status"] == "NOT APPLICABLE"
        assert "is for the large model, not judged (model tiny1)" in b["extra_info"]["line"]


def test_strict_makes_a_missed_target_a_failed_check(tmp_path):
    """The large model on one thread misses the 50 ms single-window target on any CPU of today."""
    junit = tmp_path / "strict.xml"
    doc, p = bench(tmp_path, "single window cpu 19ch 1024", "--strict", "--threads", "1", "--benchmark-samples", "1",
                   "-r", "junit", "-o", str(junit), model=["--model", "large"], expect=3)
    b = doc["benchmarks"][0]
    assert b["extra_info"]["status"] == "FAIL" and b["extra_info"]["target"]["figure"] > 50
    failures = list(ET.parse(junit).getroot().iter("failure"))
    assert len(failures) == 1 and "FAIL" in (failures[0].text or "") + (failures[0].get("message") or "")
    assert "--strict: 1 missed target(s), exit status 3" in p.stderr


def test_bad_model_is_one_line(tmp_path):
    p = subprocess.run([BIN, "[quick]", "--model", "nope"], capture_output=True, text=True, timeout=60)
    assert p.returncode == 2 and p.stdout == ""
    assert p.stderr.count("\n") == 1 and "unknown model configuration 'nope'" in p.stderr


def test_weights_file_replaces_the_random_model(tmp_path):
    """--weights FILE: the cases run that file (its configuration names the model), the report says
    so; a file that cannot be read, or that contradicts --model, is one line and exit 2."""
    weights = tmp_path / "normal.h5"
    subprocess.run([sys.executable, os.path.join(ROOT, "tools", "convert_ckpt.py"), "--random-init", "tiny1", "--normal",
                    str(weights)], check=True, capture_output=True)
    doc, p = bench(tmp_path, "single window cpu 19ch 1024", "--benchmark-samples", "1", "--weights", str(weights), model=[])
    assert doc["config"]["model"] == "tiny1 (weights %s)" % weights
    assert "model: tiny1 (weights %s)" % weights in p.stdout
    for args, needle in ((["--weights", str(tmp_path / "none.h5")], "none.h5"),
                         (["--weights", str(weights), "--model", "large"], "is the tiny1 configuration, not large")):
        p = subprocess.run([BIN, "[quick]", *args], capture_output=True, text=True, timeout=60)
        assert p.returncode == 2 and p.stdout == "", p.stdout
        assert p.stderr.count("\n") == 1 and p.stderr.startswith("bench_eegpt: --weights: ") and needle in p.stderr, p.stderr


# ---- the runner, baselines, make

def test_runner_quick_verbose_save_and_compare(tmp_path):
    name = "test_bench_json_%d" % os.getpid()
    baseline = os.path.join(ROOT, "benchmark_results", "baselines", name + ".json")
    runner = [sys.executable, os.path.join(ROOT, "tools", "bench", "run_benchmarks.py"), "--cpu-only", "--quick",
              "--verbose", "--no-build", "--build-dir", BUILD, "--model", "tiny1", "--benchmark-samples", "2"]
    try:
        out = tmp_path / "r.json"
        p = subprocess.run(runner + ["--json", str(out), "--save", name], capture_output=True, text=True, timeout=900)
        assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-2000:]
        assert "saved baseline" in p.stdout and os.path.exists(baseline)
        assert "benchmark name" in p.stdout  # --verbose: Catch2's own benchmark table
        md = (tmp_path / "r.md").read_text()
        assert "## single-window" in md and "NOT APPLICABLE" in md
        p = subprocess.run(runner + ["--json", str(tmp_path / "r2.json"), "--compare", name, "--threshold", "10"],
                           capture_output=True, text=True, timeout=900)
        assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-2000:]
        assert "compared with baseline %s" % name in p.stdout and "0 regression(s)" in p.stdout
    finally:
        if os.path.exists(baseline):
            os.remove(baseline)


def test_make_benchmark(tmp_path):
    out = tmp_path / "make.json"
    p = subprocess.run(["make", "-s", "benchmark", "BUILD=" + BUILD, "JOBS=2",
                        "BENCH_ARGS=--cpu-only --quick --model tiny1 --benchmark-samples 1 --json " + str(out)],
                       cwd=ROOT, capture_output=True, text=True, timeout=1200)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-2000:]
    assert len(json.loads(out.read_text())["benchmarks"]) == 9


def test_ctest_lists_the_benchmark_tests():
    p = subprocess.run(["ctest", "--test-dir", BUILD, "-N", "-L", "benchmark"], capture_output=True, text=True)
    assert "benchmark: single-window quick" in p.stdout and "benchmark: recording" in p.stdout


# ---- the commit the results name

def commit_stamp(src, out):
    """Runs cmake/commit_stamp.cmake as the build does; returns the header's commit and dirty flag."""
    script = os.path.join(ROOT, "cmake", "commit_stamp.cmake")
    subprocess.run(["cmake", f"-DSOURCE_DIR={src}", f"-DOUT={out}", "-P", script], check=True, timeout=60)
    text = out.read_text()
    commit = re.search(r'#define EEGPT_BENCH_GIT_COMMIT "([^"]*)"', text).group(1)
    dirty = int(re.search(r"#define EEGPT_BENCH_GIT_DIRTY (-?\d+)", text).group(1))
    return commit, dirty


def test_commit_stamp_outside_a_checkout_is_unknown(tmp_path):
    """A source tree that is not a git checkout (or a machine without git) builds, and its results
    say the commit is unknown (dirty null) rather than naming one."""
    (tmp_path / "src").mkdir()
    assert commit_stamp(tmp_path / "src", tmp_path / "bench_commit.h") == ("unknown", -1)


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed (the build then names no commit)")
def test_commit_stamp_names_the_tree_at_build_time(tmp_path):
    """cmake/commit_stamp.cmake (run at every build) names the commit the sources are at and whether
    tracked files differ from it, and rewrites its header only when that changes: results never name
    the commit an older configure saw."""
    src, out = tmp_path / "src", tmp_path / "bench_commit.h"
    src.mkdir()
    stamp = lambda: commit_stamp(src, out)
    git = ["git", "-C", str(src), "-c", "user.name=t", "-c", "user.email=t@example.org"]
    subprocess.run(git + ["init", "-q"], check=True)
    (src / "a.txt").write_text("one\n")
    subprocess.run(git + ["add", "a.txt"], check=True)
    subprocess.run(git + ["commit", "-q", "-m", "one"], check=True)
    head = lambda: subprocess.run(git + ["rev-parse", "--short=12", "HEAD"], capture_output=True, text=True,
                                  check=True).stdout.strip()
    first = head()
    assert stamp() == (first, 0)
    mtime = out.stat().st_mtime_ns
    os.utime(out, ns=(mtime - 10**9, mtime - 10**9))
    assert stamp() == (first, 0) and out.stat().st_mtime_ns == mtime - 10**9  # unchanged: not rewritten
    (src / "untracked.txt").write_text("x\n")
    assert stamp() == (first, 0)  # untracked files do not make the tree dirty
    (src / "a.txt").write_text("two\n")
    assert stamp() == (first, 1)
    subprocess.run(git + ["commit", "-q", "-am", "two"], check=True)
    assert head() != first and stamp() == (head(), 0)


# ---- the peers run at the engine's ISA level

FAKE_PEERS = """#!/bin/sh
# Stands in for the peers' python: records its command line, answers as peer_bench.py does.
echo "$@" >> "$0.args"
for c in 0 1; do
  echo "peer=onnxruntime-int8 case=$c version=9.9 level=L max_abs_diff=0.1 rel_err_vs_fp32=0.02 min_cosine_vs_fp32=0.9997 ours_rel_err_vs_fp32=0.02 ours_min_cosine_vs_fp32=0.9997 samples_ms=5,6"
done
"""


@pytest.mark.parametrize("forced", [True, False])
def test_comparison_asks_the_peers_for_the_engines_isa_level(tmp_path, forced):
    """With EEGPT_CPU_ISA=avx2 the comparison asks peer_bench.py for the peers' AVX2 code (--isa
    avx2), and records what the peers say they ran; at the engine's own level it does not ask."""
    fake = tmp_path / "python"
    fake.write_text(FAKE_PEERS)
    fake.chmod(0o755)
    env = dict(os.environ)
    env.pop("EEGPT_CPU_ISA", None)
    if forced:
        env["EEGPT_CPU_ISA"] = "avx2"
    path = tmp_path / "peers.json"
    p = subprocess.run([BIN, "comparison peers*", *MODEL, "--benchmark-samples", "1", "--python", str(fake),
                        "--json", str(path)], capture_output=True, text=True, timeout=900, env=env)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-2000:]
    args = (tmp_path / "python.args").read_text()
    assert "peer_bench.py" in args
    ours = [b for b in json.loads(path.read_text())["benchmarks"] if b["name"].startswith("peer ours")]
    assert len(ours) == 2 and all(b["extra_info"]["peer_onnxruntime-int8_cpu_code"] == "L" for b in ours)
    engine_level = re.search(r"engine ISA (\w+)", p.stdout).group(1)
    if forced:
        assert engine_level == "avx2"
    assert ("--isa avx2" in args) == (engine_level == "avx2")


# ---- the peers' calls and ours in turns

# Answers as peer_bench.py --pace does: before each of its two timed calls a case, `ready`, then the
# two lines of bench_eegpt's turn (recorded); its samples 30 and 50 ms, ours (as it timed them) 20.
PACED_PEERS = """#!/bin/sh
echo "$@" >> "$0.args"
for c in 0 1; do
  for r in 1 2; do
    echo "ready peer=onnxruntime-int8 case=$c"
    read first || exit 1
    read second || exit 1
    echo "$first $second" >> "$0.answers"
  done
  echo "peer=onnxruntime-int8 case=$c version=9.9 level=native max_abs_diff=0.1 rel_err_vs_fp32=0.02 min_cosine_vs_fp32=0.9997 ours_rel_err_vs_fp32=0.02 ours_min_cosine_vs_fp32=0.9997 samples_ms=30,50 ours_samples_ms=20,20"
done
"""

# Says it is ready and leaves: bench_eegpt's turn goes to a closed pipe.
LEAVING_PEERS = """#!/bin/sh
echo "ready peer=onnxruntime-int8 case=0"
echo "peer=onnxruntime-int8 case=0 version=9.9 level=native max_abs_diff=0.1 rel_err_vs_fp32=0.02 min_cosine_vs_fp32=0.9997 ours_rel_err_vs_fp32=0.02 ours_min_cosine_vs_fp32=0.9997 samples_ms=40"
exit 0
"""


def peers_run(tmp_path, script):
    fake = tmp_path / "python"
    fake.write_text(script)
    fake.chmod(0o755)
    path = tmp_path / "peers.json"
    p = subprocess.run([BIN, "comparison peers*", *MODEL, "--benchmark-samples", "1", "--python", str(fake),
                        "--json", str(path)], capture_output=True, text=True, timeout=900)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-2000:]
    ours = {b["name"]: b for b in json.loads(path.read_text())["benchmarks"] if b["name"].startswith("peer ours")}
    return fake, p.stdout, ours


def test_the_peers_calls_alternate_with_ours(tmp_path):
    """With --pace each of the peer's timed calls follows a turn of ours on the same case (an
    untimed call, `start`, the timed call, `done`), and its ratio divides by our calls the peer
    timed, not by our benchmark taken minutes before."""
    fake, out, ours = peers_run(tmp_path, PACED_PEERS)
    assert "--pace" in (tmp_path / "python.args").read_text()
    assert (tmp_path / "python.answers").read_text().splitlines() == ["start done"] * 4
    assert len(ours) == 2
    for b in ours.values():
        info = b["extra_info"]
        assert info["peer_onnxruntime-int8_ours_calls_in_turns"] == 2
        assert info["peer_onnxruntime-int8_ours_mean_ms"] == pytest.approx(20.0)
        assert info["peer_onnxruntime-int8_ratio_to_ours"] == pytest.approx(2.0)
    said = re.findall(r"peer onnxruntime-int8 cpu 19ch 1024 (x\d+): mean [^\n]*?, 2 calls in turns with the peer's", out)
    assert set(said) == {"x1", "x32"}
    # fp32: no int8 targets, and no judged results of the peers
    peers = json.loads((tmp_path / "peers.json").read_text())["benchmarks"]
    assert all(b["extra_info"]["target"] is None for b in peers if b["name"].startswith("peer "))


def test_a_peer_without_turns_is_divided_by_our_benchmark(tmp_path):
    """A peer that reports no turns of ours (peer_bench.py without --pace, or one that left after
    `ready`, which must not stop the bench) is compared with our benchmark of the case."""
    for script, cases in ((FAKE_PEERS, 2), (LEAVING_PEERS, 1)):
        fake, out, ours = peers_run(tmp_path, script)
        with_peer = [b for b in ours.values() if "peer_onnxruntime-int8_ratio_to_ours" in b["extra_info"]]
        assert len(with_peer) == cases
        for b in with_peer:
            info = b["extra_info"]
            assert info["peer_onnxruntime-int8_ours_calls_in_turns"] == 0
            assert info["peer_onnxruntime-int8_ours_mean_ms"] == pytest.approx(b["stats"]["mean"] * 1e3, rel=1e-3)
        assert "its benchmark above" in out


# ---- --precision int8 judged against the quantized peers

# Two quantized peers in turns with ours (20 ms a call as the peer timed them): the first 2.0x
# slower than ours and less exact (ours at 0.8x its relative error, 0.67x its 1 - min cosine), the
# second 1.15x slower and more exact (ours at 1.33x and 1.6x).
INT8_PEERS = """#!/bin/sh
for c in 0 1; do
  for p in onnxruntime-int8 onnxruntime-int8-7bit; do
    for r in 1 2; do
      echo "ready peer=$p case=$c"
      read first || exit 1
      read second || exit 1
    done
  done
  echo "peer=onnxruntime-int8 case=$c version=9.9 level=native max_abs_diff=0.1 rel_err_vs_fp32=0.05 min_cosine_vs_fp32=0.9988 ours_rel_err_vs_fp32=0.04 ours_min_cosine_vs_fp32=0.9992 samples_ms=30,50 ours_samples_ms=20,20"
  echo "peer=onnxruntime-int8-7bit case=$c version=9.9 level=native max_abs_diff=0.1 rel_err_vs_fp32=0.03 min_cosine_vs_fp32=0.9995 ours_rel_err_vs_fp32=0.04 ours_min_cosine_vs_fp32=0.9992 samples_ms=22,24 ours_samples_ms=20,20"
done
"""


def test_int8_is_judged_against_the_quantized_peers(tmp_path):
    """Under --precision int8 (large model) the comparison judges our one window (< 55 ms) and batch
    of 32 (< 52 ms a window) by their own benchmarks, and against each quantized peer our speed (at
    least 1.3x its calls, over ours in turns with them) and our fidelity (the larger of our relative
    error and our 1 - min window cosine over the peer's, below 1): a peer that is fast enough or
    more exact makes a FAIL, and --strict a failed check."""
    fake = tmp_path / "python"
    fake.write_text(INT8_PEERS)
    fake.chmod(0o755)
    path = tmp_path / "peers.json"
    cmd = [BIN, "comparison peers*", "--model", "large", "--precision", "int8", "--benchmark-samples", "1",
           "--python", str(fake), "--json", str(path)]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-2000:]
    benchmarks = json.loads(path.read_text())["benchmarks"]
    results = {b["name"]: b["extra_info"] for b in benchmarks}
    means = {b["name"]: b["stats"]["mean"] for b in benchmarks}
    expected = {"onnxruntime-int8": ("PASS", 2.0, "PASS", 0.8), "onnxruntime-int8-7bit": ("FAIL", 1.15, "FAIL", 1.6)}
    for batch in ("x1", "x32"):
        for peer, (speed_status, ratio, fidelity_status, error) in expected.items():
            speed = results[f"peer {peer} cpu 19ch 1024 {batch} speed"]
            assert speed["target"]["key"] == "int8_speedup_over_quantized_peer"
            assert speed["target"]["figure"] == pytest.approx(ratio) and speed["status"] == speed_status
            assert speed["better"] is None  # the peer's time, not a regression figure of ours
            fidelity = results[f"peer {peer} cpu 19ch 1024 {batch} fidelity"]
            assert fidelity["target"]["key"] == "int8_error_to_quantized_peer"
            assert fidelity["target"]["figure"] == pytest.approx(error) and fidelity["status"] == fidelity_status
        ours = results[f"peer ours cpu 19ch 1024 {batch}"]
        limit = 55.0 if batch == "x1" else 52.0
        assert ours["target"]["key"] == ("int8_single_window_cpu" if batch == "x1" else "int8_batch32_per_window_cpu")
        assert ours["target"]["value"] == limit
        per_window_ms = means[f"peer ours cpu 19ch 1024 {batch}"] * 1e3 / int(batch[1:])
        assert ours["target"]["figure"] == pytest.approx(per_window_ms)
        assert ours["status"] == ("PASS" if per_window_ms < limit else "FAIL")
    assert re.search(r"peer onnxruntime-int8-7bit cpu 19ch 1024 x1 fidelity: .*relative error ours 0\.04 / "
                     r"the peer's 0\.03 = 1\.33x.* FAIL", p.stdout)
    strict = subprocess.run(cmd + ["--strict"], capture_output=True, text=True, timeout=900)
    assert strict.returncode != 0 and "FAIL" in strict.stdout
