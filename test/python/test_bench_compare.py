"""The benchmark regression check (tools/bench/bench_compare.py) and report (tools/bench/bench_report.py) on recorded
results, no timing involved.

bench_fixtures/baseline.json is a real `run_benchmarks.py --cpu-only --quick` run (large model, shared
2-core CPU). slowed.json is that run with single-window 19ch 1024 and the 1-minute recording made 30%
slower and the one-window peak memory 25% higher: a deliberately slowed build. noisy.json is the same
run on a busier machine: single-window 19ch 512's median is 10.5% higher (over the threshold) with a
wide spread that overlaps the baseline's range, 19ch 1024 is 6% slower, batch x4 3% faster.
The three were recorded before bench_eegpt timed with Catch2's BENCHMARK and are kept in the results
layout of today (pytest-benchmark's; the samples unchanged, times in seconds).
"""
import copy
import json
import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tools", "bench"))
import bench_compare as bc  # noqa: E402
import bench_report  # noqa: E402

FIX = os.path.join(HERE, "bench_fixtures")


def fixture(name):
    return bc.load(os.path.join(FIX, name + ".json"))


def status_of(rows):
    return {r["name"]: r["status"] for r in rows}


def test_same_run_has_no_regression():
    base = fixture("baseline")
    rows = bc.compare(base, base)
    assert bc.regressions(rows) == []
    assert all(s in ("same", "not compared") for s in status_of(rows).values())


def test_deliberately_slowed_build_is_flagged():
    rows = bc.compare(fixture("baseline"), fixture("slowed"))
    flagged = sorted(r["name"] for r in bc.regressions(rows))
    assert flagged == ["memory cpu one window 19ch 1024 [peak_rss_mb]", "recording cpu 1 min 19ch",
                       "single-window cpu 19ch 1024"]
    slowed = [r for r in rows if r["name"] == "single-window cpu 19ch 1024"][0]
    assert abs(slowed["change"] - 0.30) < 1e-9
    assert "REGRESSED" in bc.format_table(rows)


def test_noisy_but_equal_run_is_not_flagged():
    rows = bc.compare(fixture("baseline"), fixture("noisy"))
    assert bc.regressions(rows) == []
    noisy = [r for r in rows if r["name"] == "single-window cpu 19ch 512"][0]
    assert noisy["change"] > 0.10  # over the threshold, but the ranges overlap: noise
    assert noisy["status"] == "same"


def test_command_line_exit_status():
    base = os.path.join(FIX, "baseline.json")
    assert bc.main([base, os.path.join(FIX, "slowed.json")]) == 1
    assert bc.main([base, os.path.join(FIX, "noisy.json")]) == 0
    # a looser threshold lets the 30% / 25% slow-down through
    assert bc.main([base, os.path.join(FIX, "slowed.json"), "--threshold", "0.5"]) == 0


def entry(name, samples, better="lower", unit="ms", figures=()):
    s = sorted(samples)
    stats = dict(rounds=len(s), min=s[0], max=s[-1], median=s[len(s) // 2], mean=sum(s) / len(s), stddev=0.0)
    return dict(name=name, group="x", stats=stats, extra_info=dict(unit=unit, better=better, figures=list(figures)))


def doc(*benchmarks, skipped=()):
    return {"machine_info": {}, "benchmarks": list(benchmarks), "skipped": list(skipped)}


def memory(name, peaks):
    s = sorted(peaks)
    return entry(name, [0.5, 0.5], unit="s",
                 figures=[dict(key="peak_rss_mb", unit="MB", better="lower", median=s[len(s) // 2], min=s[0], max=s[-1])])


def test_rules_for_direction_rounds_and_missing_cases():
    base = doc(entry("t", [0.100, 0.101, 0.102]), entry("speedup", [4.0, 4.1, 4.2], "higher", "x"),
               entry("one", [0.010]), entry("peer", [0.050, 0.051, 0.052], None), entry("gone", [1, 2, 3]),
               memory("mem", [100, 101, 102]))
    new = doc(entry("t", [0.120, 0.121, 0.122]), entry("speedup", [3.0, 3.1, 3.2], "higher", "x"),
              entry("one", [0.0115]), entry("peer", [0.500, 0.510, 0.520], None), entry("added", [1, 2, 3]),
              memory("mem", [130, 131, 132]))
    s = status_of(bc.compare(base, new))
    assert s == {"t": "REGRESSED", "speedup": "REGRESSED", "one": "REGRESSED", "peer": "not compared",
                 "added": "new", "gone": "missing", "mem": "same", "mem [peak_rss_mb]": "REGRESSED"}
    faster = doc(entry("t", [0.070, 0.071, 0.072]), entry("speedup", [5.0, 5.1, 5.2], "higher", "x"))
    s = status_of(bc.compare(doc(base["benchmarks"][0], base["benchmarks"][1]), faster))
    assert s == {"t": "improved", "speedup": "improved"}


def test_times_are_compared_in_the_unit_they_are_shown_in():
    rows = bc.compare(doc(entry("t", [0.100, 0.101, 0.102])), doc(entry("t", [0.100, 0.101, 0.102])))
    assert rows[0]["base"]["median"] == pytest.approx(101.0) and rows[0]["base"]["unit"] == "ms"
    assert "101 ms [100 .. 102]" in bc.format_table(rows)


def test_skipped_cases_are_listed_not_compared():
    base = fixture("baseline")
    new = copy.deepcopy(base)
    new["skipped"].append({"name": "single-window gpu", "group": "single-window", "reason": "no GPU"})
    base2 = copy.deepcopy(new)
    assert status_of(bc.compare(base2, new))["single-window gpu"] == "skipped"


def test_old_layout_is_rejected_with_one_line(tmp_path, capsys):
    old = tmp_path / "old.json"
    old.write_text(json.dumps({"machine": {"cpu": "x"}, "benchmarks": {"single-window cpu 19ch 1024": {
        "category": "single-window", "unit": "ms", "median": 1.0, "min": 1.0, "max": 1.0}}}))
    new = os.path.join(FIX, "baseline.json")
    assert bc.main([str(old), new]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "old layout" in err[0] and "run the benchmarks again" in err[0]
    assert bench_report.main([str(old)]) == 2
    assert "old layout" in capsys.readouterr().err
    with pytest.raises(bc.ResultsError, match="not a benchmark results file"):
        bc.check_layout({"benchmarks": []})


def test_report_has_tables_status_and_batch_plot(tmp_path):
    results = tmp_path / "r.json"
    run = fixture("baseline")
    run["skipped"].append({"name": "single-window gpu", "group": "single-window", "reason": "no CUDA backend"})
    results.write_text(json.dumps(run))
    assert bench_report.main([str(results)]) == 0
    md = (tmp_path / "r.md").read_text()
    for heading in ("## single-window", "## batch", "## recording", "## memory"):
        assert heading in md
    assert "| FAIL |" in md and "| PASS |" in md
    assert "| single-window gpu | - | - | - | - | - | - | - | SKIP | no CUDA backend |" in md
    assert "peak RSS" in md and "1.1 s" not in md
    svg = (tmp_path / "r_batch.svg").read_text()
    assert svg.startswith("<svg") and svg.count("<circle") == 2  # batch 1 and 4 of the quick run
