#!/usr/bin/env python3
"""Regression check of a benchmark run (bench_eegpt's JSON) against a saved baseline.

  bench_compare.py BASELINE.json CURRENT.json [--threshold 0.10]     (exit 1 when a case regressed)

The rule, noise-aware, for every benchmark present in both files whose entry has a direction
("better": "lower" for times and memory, "higher" for speedups; entries without one, such as the
peers' own timings, are listed but never flagged):
  change = how much worse the new median is, as a fraction of the baseline median
           (lower is better: new / base - 1; higher is better: base / new - 1)
  REGRESSED when change > threshold AND the two ranges do not overlap
           (lower is better: new min > baseline max; higher is better: new max < baseline min);
  improved  symmetrically; otherwise same (inside the threshold, or the spread says it is noise).
With one round, min = max = median and only the threshold applies.
"""
import argparse
import json
import sys

REGRESSED, IMPROVED, SAME = "REGRESSED", "improved", "same"


def load(path):
    with open(path) as f:
        return json.load(f)


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
    """Rows (dicts) for every benchmark name in either run; baseline/current: parsed JSON documents."""
    base_b, cur_b = baseline["benchmarks"], current["benchmarks"]
    rows = []
    for name in list(cur_b) + [n for n in base_b if n not in cur_b]:
        base, new = base_b.get(name), cur_b.get(name)
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
    rows = compare(load(a.baseline), load(a.current), a.threshold)
    print(format_table(rows, a.threshold))
    return 1 if regressions(rows) else 0


if __name__ == "__main__":
    sys.exit(main())
