"""The benchmark regression check (tools/bench_compare.py) and report (tools/bench_report.py) on recorded
results, no timing involved.

bench_fixtures/baseline.json is a real `run_benchmarks.py --cpu-only --quick` run (large model, shared
2-core CPU). slowed.json is that run with single-window 19ch 1024 and the 1-minute recording made 30%
slower and the one-window peak memory 25% higher: a deliberately slowed build. noisy.json is the same
run on a busier machine: single-window 19ch 512's median is 10.5% higher (over the threshold) with a
wide spread that overlaps the baseline's range, 19ch 1024 is 6% slower, batch x4 3% faster.
"""
import copy
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tools"))
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
    assert flagged == ["memory cpu one window 19ch 1024 peak RSS", "recording cpu 1 min 19ch",
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


def entry(samples, better="lower", unit="ms"):
    s = sorted(samples)
    return dict(category="x", unit=unit, better=better, samples=samples, rounds=len(s), min=s[0], max=s[-1],
                median=s[len(s) // 2], mean=sum(s) / len(s), stddev=0.0)


def doc(**benchmarks):
    return {"benchmarks": benchmarks}


def test_rules_for_direction_rounds_and_missing_cases():
    base = doc(t=entry([100, 101, 102]), speedup=entry([4.0, 4.1, 4.2], "higher", "x"),
               one=entry([10.0]), peer=entry([50, 51, 52], None), gone=entry([1, 2, 3]))
    new = doc(t=entry([120, 121, 122]), speedup=entry([3.0, 3.1, 3.2], "higher", "x"),
              one=entry([11.5]), peer=entry([500, 510, 520], None), added=entry([1, 2, 3]))
    s = status_of(bc.compare(base, new))
    assert s == {"t": "REGRESSED", "speedup": "REGRESSED", "one": "REGRESSED", "peer": "not compared",
                 "added": "new", "gone": "missing"}
    faster = doc(t=entry([70, 71, 72]), speedup=entry([5.0, 5.1, 5.2], "higher", "x"))
    s = status_of(bc.compare(doc(t=base["benchmarks"]["t"], speedup=base["benchmarks"]["speedup"]), faster))
    assert s == {"t": "improved", "speedup": "improved"}


def test_skipped_cases_are_listed_not_compared():
    base = fixture("baseline")
    new = copy.deepcopy(base)
    new["benchmarks"]["single-window gpu"] = {"category": "single-window", "status": "SKIP", "skipped": "no GPU"}
    base2 = copy.deepcopy(new)
    assert status_of(bc.compare(base2, new))["single-window gpu"] == "skipped"


def test_report_has_tables_status_and_batch_plot(tmp_path):
    results = tmp_path / "r.json"
    results.write_text(json.dumps(fixture("baseline")))
    assert bench_report.main([str(results)]) == 0
    md = (tmp_path / "r.md").read_text()
    for heading in ("## single-window", "## batch", "## recording", "## memory", "## comparison"):
        assert heading in md
    assert "| FAIL |" in md and "| PASS |" in md
    svg = (tmp_path / "r_batch.svg").read_text()
    assert svg.startswith("<svg") and svg.count("<circle") == 2  # batch 1 and 4 of the quick run
