#!/usr/bin/env python3
"""Runs the benchmark suite (build/bench_eegpt), writes the JSON results and the Markdown report,
and optionally saves the run as a named baseline or compares it with one.

  tools/bench/run_benchmarks.py [--cpu-only] [--quick] [--verbose] [--model NAME] [--json PATH] [--save NAME]
                          [--compare NAME] [--threshold 0.10] [--strict] [--benchmark-samples N]
                          [--build-dir build]

--quick runs the [quick] cases, --cpu-only leaves out the [gpu] ones. Each case takes its own default
number of Catch2 BENCHMARK samples (bench/bench_cases.cpp: many for a window, a few for a 20-minute
recording); --benchmark-samples N gives every case N. Without --strict, missed targets and
regressions are reported and the exit status is 0 (unless a case failed its output checks); with
--strict, bench_eegpt exits 3 on a missed target and this script exits 4 on a regression.
Baselines live in benchmark_results/baselines/NAME.json.
"""
import argparse
import os
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tools", "bench"))
import bench_compare  # noqa: E402
import bench_report  # noqa: E402

BASELINES = os.path.join(ROOT, "benchmark_results", "baselines")
# Lines of bench_eegpt's output shown without --verbose: the machine, one line per result, the totals.
SHOWN = (": mean ", ": SKIPPED", "peer ", "system:", "gpu:", "model:", "targets:", "--strict", "FAILED", "error")


def build(build_dir):
    if not os.path.exists(os.path.join(build_dir, "CMakeCache.txt")):
        subprocess.check_call(["cmake", "-S", ROOT, "-B", build_dir, "-DCMAKE_BUILD_TYPE=Release"])
    subprocess.check_call(["cmake", "--build", build_dir, "--target", "bench_eegpt", "-j%d" % min(os.cpu_count() or 1, 2)])


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cpu-only", action="store_true", help="leave out the [gpu] cases")
    ap.add_argument("--quick", action="store_true", help="only the [quick] cases")
    ap.add_argument("--verbose", action="store_true", help="show Catch2's full output")
    ap.add_argument("--json", default=os.path.join(ROOT, "benchmark_results", "benchmark_results.json"))
    ap.add_argument("--save", metavar="NAME", help="store this run as baseline NAME")
    ap.add_argument("--compare", metavar="NAME", help="compare this run with baseline NAME")
    ap.add_argument("--threshold", type=float, default=0.10, help="regression threshold (fraction, default 0.10)")
    ap.add_argument("--strict", action="store_true", help="exit non-zero on a missed target or a regression")
    ap.add_argument("--benchmark-samples", type=int, metavar="N",
                    help="Catch2 BENCHMARK samples of every case (default: per case)")
    ap.add_argument("--model", help="model configuration (default: bench_eegpt's, large; targets are for large)")
    ap.add_argument("--filter", default="", help="extra Catch2 test spec, e.g. '[batch]'")
    ap.add_argument("--build-dir", default=os.path.join(ROOT, "build"))
    ap.add_argument("--no-build", action="store_true", help="do not (re)build bench_eegpt first")
    a = ap.parse_args(argv)

    baseline = None
    if a.compare:
        path = os.path.join(BASELINES, a.compare + ".json")
        if not os.path.exists(path):
            ap.error("no baseline %r in %s" % (a.compare, BASELINES))
        try:
            baseline = bench_compare.load(path)
        except bench_compare.ResultsError as e:
            print("run_benchmarks: %s" % e, file=sys.stderr)
            return 2
    if not a.no_build:
        build(a.build_dir)
    spec = (a.filter or "") + ("[quick]" if a.quick else "") + ("~[gpu]" if a.cpu_only else "")
    cmd = [os.path.join(a.build_dir, "bench_eegpt")] + ([spec] if spec else []) + ["--json", os.path.abspath(a.json)]
    if a.model:
        cmd += ["--model", a.model]
    if a.strict:
        cmd.append("--strict")
    if a.benchmark_samples:
        cmd += ["--benchmark-samples", str(a.benchmark_samples)]
    if a.verbose:
        cmd += ["--durations", "yes"]
    if os.path.exists(a.json):
        os.remove(a.json)  # a file left by an earlier run must not stand for this one
    print("running: " + " ".join(cmd), flush=True)
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT)
    for line in proc.stdout:
        if a.verbose or any(s in line for s in SHOWN):
            print(line, end="", flush=True)
    rc = proc.wait()
    if not os.path.exists(a.json):
        print("no results written (bench_eegpt exit status %d)" % rc)
        return rc or 1
    if bench_report.main([a.json]) != 0:
        return rc or 1

    if a.save:
        os.makedirs(BASELINES, exist_ok=True)
        shutil.copyfile(a.json, os.path.join(BASELINES, a.save + ".json"))
        print("saved baseline %s" % os.path.join(BASELINES, a.save + ".json"))
    if a.compare:
        rows = bench_compare.compare(baseline, bench_compare.load(a.json), a.threshold)
        print("\ncompared with baseline %s:" % a.compare)
        print(bench_compare.format_table(rows, a.threshold))
        if bench_compare.regressions(rows) and a.strict and rc == 0:
            rc = 4
    return rc


if __name__ == "__main__":
    sys.exit(main())
