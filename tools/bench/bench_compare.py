#!/usr/bin/env python3
"""Regression check of a benchmark run (bench_eegpt's JSON) against a saved baseline.

  bench_compare.py BASELINE.json CURRENT.json [--threshold 0.10]     (exit 1 when a case regressed)

The files are bench_eegpt's results in pytest-benchmark's layout (docs/benchmarks.md). What is
compared, for every benchmark present in both files: its time per call (stats median, min, max; in
the direction extra_info.better, "lower"; benchmarks without one, such as a ratio of two of our
timings, are listed but never flagged) and each figure in extra_info.figures (peak memory: lower is
better; the GPU's speedup: higher), as a row named "NAME [figure]". The rule, noise-aware:
  change = how much worse the new median is, as a fraction of the baseline median
           (lower is better: new / base - 1; higher is better: base / new - 1)
  REGRESSED when change > threshold AND the two ranges do not overlap
           (lower is better: new min > baseline max; higher is better: new max < baseline min);
  improved  symmetrically; otherwise same (inside the threshold, or the spread says it is noise).
With one sample, min = max = median and only the threshold applies.
"""
import argparse
import json
import sys

REGRESSED, IMPROVED, SAME = "REGRESSED", "improved", "same"


class ResultsError(Exception):
    """A results file this tool cannot read, with the one line that says why."""


def check_layout(doc, path="results"):
    """Raises ResultsError unless doc is bench_eegpt's results in pytest-benchmark's layout."""
    if not isinstance(doc, dict):
        raise ResultsError("%s: not a benchmark results file (a JSON object expected)" % path)
    if isinstance(doc.get("benchmarks"), dict) and "machine" in doc:
        raise ResultsError("%s: a results file of the old layout ('machine' and benchmarks keyed by name, before "
                           "bench_eegpt used Catch2's BENCHMARK); it cannot be compared: run the benchmarks again "
                           "to make a new one" % path)
    if not isinstance(doc.get("benchmarks"), list) or not isinstance(doc.get("machine_info"), dict):
        raise ResultsError("%s: not a benchmark results file (machine_info and a list of benchmarks expected)" % path)
    for b in doc["benchmarks"]:
        missing = [k for k in ("name", "stats") if k not in b]
        if missing:
            raise ResultsError("%s: a benchmark without %s" % (path, " and ".join(missing)))


def load(path):
    try:
        with open(path) as f:
            doc = json.load(f)
    except (OSError, ValueError) as e:
        raise ResultsError("%s: cannot read: %s" % (path, e))
    check_layout(doc, path)
    return doc


def _scale(unit):
    return 1e3 if unit == "ms" else 1.0


def entries(doc):
    """{row name: entry} of a run: per benchmark its time (in its display unit) and each figure;
    skipped cases as {"skipped": reason}."""
    out = {}
    for b in doc["benchmarks"]:
        extra, stats = b.get("extra_info", {}), b["stats"]
        unit = extra.get("unit", "s")
        k = _scale(unit)
        out[b["name"]] = dict(median=stats["median"] * k, min=stats["min"] * k, max=stats["max"] * k, unit=unit,
                              better=extra.get("better"))
        for f in extra.get("figures", []):
            out["%s [%s]" % (b["name"], f["key"])] = dict(median=f["median"], min=f["min"], max=f["max"],
                                                          unit=f["unit"], better=f["better"])
    for s in doc.get("skipped", []):
        out.setdefault(s["name"], {"skipped": s.get("reason", "")})
    return out


def _classify(base, new, threshold):
    better = base.get("better")
    if better not in ("lower", "higher") or new.get("better") != better:
        return "not compared", None
    b, n = base["median"], new["median"]
    if not b or not n:
        return "not compared", None
    if better == "lower":
        change = n / b - 1.0
        separated_worse = new["min"] > base["max"]
        separated_better = new["max"] < base["min"]
    else:
        change = b / n - 1.0
        separated_worse = new["max"] < base["min"]
        separated_better = new["min"] > base["max"]
    if change > threshold and separated_worse:
        return REGRESSED, change
    if change < -threshold and separated_better:
        return IMPROVED, change
    return SAME, change


def compare(baseline, current, threshold=0.10):
    """Rows (dicts) for every benchmark and figure in either run; baseline/current: parsed JSON documents."""
    check_layout(baseline, "baseline")
    check_layout(current, "current")
    base_e, cur_e = entries(baseline), entries(current)
    rows = []
    for name in list(cur_e) + [n for n in base_e if n not in cur_e]:
        base, new = base_e.get(name), cur_e.get(name)
        row = dict(name=name, base=base, new=new, change=None)
        if base is None:
            row["status"] = "new"
        elif new is None:
            row["status"] = "missing"
        elif "median" not in base or "median" not in new:
            row["status"] = "skipped"
        else:
            row["status"], row["change"] = _classify(base, new, threshold)
        rows.append(row)
    return rows


def regressions(rows):
    return [r for r in rows if r["status"] == REGRESSED]


def _range(e):
    if not e or "median" not in e:
        return "-"
    return "%.4g %s [%.4g .. %.4g]" % (e["median"], e.get("unit", ""), e["min"], e["max"])


def format_table(rows, threshold=0.10, markdown=False):
    head = ("benchmark", "baseline median [min .. max]", "current median [min .. max]", "change", "status")
    body = [(r["name"], _range(r["base"]), _range(r["new"]),
             "-" if r["change"] is None else "%+.1f%%" % (100.0 * r["change"]), r["status"]) for r in rows]
    n = len(regressions(rows))
    summary = "%d regression(s) beyond %.0f%% with separated ranges, %d benchmarks compared" % (
        n, 100 * threshold, sum(1 for r in rows if r["change"] is not None))
    if markdown:
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        lines += ["| " + " | ".join(row) + " |" for row in body]
        return "\n".join(lines + ["", summary])
    widths = [max(len(x[i]) for x in [head] + body) for i in range(len(head))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in [head] + body]
    return "\n".join(lines + [summary])


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("baseline")
    ap.add_argument("current")
    ap.add_argument("--threshold", type=float, default=0.10, help="fraction, default 0.10 (10%%)")
    a = ap.parse_args(argv)
    try:
        rows = compare(load(a.baseline), load(a.current), a.threshold)
    except ResultsError as e:
        print("bench_compare: %s" % e, file=sys.stderr)
        return 2
    print(format_table(rows, a.threshold))
    return 1 if regressions(rows) else 0


if __name__ == "__main__":
    sys.exit(main())
