#!/usr/bin/env python3
"""Markdown report of a benchmark run (bench_eegpt's JSON, pytest-benchmark's layout): machine, one
table per category with PASS/FAIL against the targets, and a plot of time per window vs batch size
(hand-written SVG, no plotting library needed).

  bench_report.py RESULTS.json [--output REPORT.md]      (default: RESULTS with .md; the plot beside it)
"""
import argparse
import math
import os
import sys

import bench_compare

CATEGORIES = ("single-window", "batch", "recording", "memory", "comparison")
EXTRA_LABELS = {
    "per_window_ms": "%.1f ms per window",
    "gflops": "%.0f GFLOP/s",
    "fraction_of_fma_peak": "%.2f of the measured peak",
    "batch_efficiency": "batch efficiency %.2fx",
    "x_real_time": "%.1fx real time",
    "peak_rss_mb": "peak RSS %.1f MB",
    "device_memory_mb": "device memory %.1f MB",
    "returned_mb": "returned %.1f MB",
    "heap_in_use_mb": "heap in use %.3f MB",
    "start_mb": "%.1f MB at process start",
    "ratio_to_batch": "%.2fx the batch",
    "speedup_over_cpu": "%.2fx the cpu",
    "relative_difference": "outputs differ by %.2g (relative)",
}


def num(v):
    if v is None:
        return "-"
    a = abs(v)
    return "%.1f" % v if a >= 100 else "%.2f" % v if a >= 10 else "%.3f" % v if a >= 0.1 else "%.3g" % v


def target_text(t):
    if not t:
        return "-"
    return "%s %g %s" % ("<" if t["better"] == "lower" else ">=", t["value"], t["unit"])


def notes(extra):
    extra = dict(extra)
    if extra.get("batch") == 1:
        extra.pop("per_window_ms", None)  # the mean itself
    out = [EXTRA_LABELS[k] % extra[k] for k in EXTRA_LABELS if extra.get(k) is not None]
    for k in sorted(extra):
        if k.startswith("peer_") and k.endswith("_ratio_to_ours"):
            peer = k[len("peer_"):-len("_ratio_to_ours")]
            out.append("%s %s: %.2fx ours" % (peer, extra.get("peer_%s_version" % peer, ""), extra[k]))
    return ", ".join(out)


def batch_points(benchmarks):
    """{device: [(batch, ms per window)]} from the batch cases."""
    series = {}
    for b in benchmarks:
        extra, name = b.get("extra_info", {}), b["name"]
        if b.get("group") == "batch" and "batch" in extra and "per_window_ms" in extra:
            device = "gpu" if " gpu " in name else "cpu"
            series.setdefault(device, []).append((int(extra["batch"]), extra["per_window_ms"]))
    return {d: sorted(p) for d, p in series.items()}


def batch_svg(series, width=560, height=320):
    """Time per window (ms, linear) vs batch size (log2 axis) as a standalone SVG document."""
    left, right, top, bottom = 60, 20, 20, 45
    pw, ph = width - left - right, height - top - bottom
    batches = sorted({b for pts in series.values() for b, _ in pts})
    bmin, bmax = math.log2(batches[0]), math.log2(batches[-1])
    ymax = max(v for pts in series.values() for _, v in pts) * 1.1

    def x(b):
        return left + (pw * (math.log2(b) - bmin) / (bmax - bmin) if bmax > bmin else pw / 2)

    def y(v):
        return top + ph - ph * v / ymax

    out = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" '
           'font-size="11">' % (width, height),
           '<rect width="100%" height="100%" fill="white"/>',
           '<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="black"/>' % (left, top + ph, left + pw, top + ph),
           '<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="black"/>' % (left, top, left, top + ph)]
    for b in batches:
        out.append('<text x="%.1f" y="%d" text-anchor="middle">%d</text>' % (x(b), top + ph + 15, b))
    for i in range(6):
        v = ymax * i / 5
        out.append('<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#ddd"/>' % (left, y(v), left + pw, y(v)))
        out.append('<text x="%d" y="%.1f" text-anchor="end">%s</text>' % (left - 5, y(v) + 4, num(v)))
    out.append('<text x="%d" y="%d" text-anchor="middle">batch size (windows per encode call)</text>'
               % (left + pw // 2, height - 8))
    out.append('<text x="14" y="%d" text-anchor="middle" transform="rotate(-90 14 %d)">ms per window</text>'
               % (top + ph // 2, top + ph // 2))
    colours = {"cpu": "#1f77b4", "gpu": "#d62728"}
    for i, (device, pts) in enumerate(sorted(series.items())):
        c = colours.get(device, "#2ca02c")
        out.append('<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>'
                   % (c, " ".join("%.1f,%.1f" % (x(b), y(v)) for b, v in pts)))
        for b, v in pts:
            out.append('<circle cx="%.1f" cy="%.1f" r="3" fill="%s"><title>%s batch %d: %.2f ms per window</title>'
                       '</circle>' % (x(b), y(v), c, device, b, v))
        out.append('<text x="%d" y="%d" fill="%s">%s</text>' % (left + pw - 40, top + 12 + 14 * i, c, device))
    out.append("</svg>")
    return "\n".join(out) + "\n"


def report(doc, plot_name=None):
    m, cfg, benchmarks = doc["machine_info"], doc.get("config", {}), doc["benchmarks"]
    skipped = doc.get("skipped", [])
    gpu = "%s, %s GiB, CUDA %s, cuBLAS %s" % (m["gpu"], num(m["gpu_memory_gb"]), m["cuda_runtime"], m["cublas"]) \
        if m.get("gpu") else "none (%s)" % m.get("gpu_note", "")
    lines = ["# EEGPT engine benchmarks", "",
             "| | |", "|---|---|",
             "| CPU | %s, %d cores, flags: %s |" % (m["processor"], m["cores"], m["cpu_flags"]),
             "| memory | %.1f GiB |" % m["memory_gb"],
             "| GPU | %s |" % gpu,
             "| build | %s, %s, engine ISA %s, commit %s; %s |" % (
                 m["compiler"], m["build_type"], m["isa_build"],
                 doc["commit_info"]["id"] + (" with uncommitted changes" if doc["commit_info"].get("dirty") else ""),
                 doc.get("version", "")),
             "| run | %s; model %s; cpu %s, threads %s; filter `%s`; samples %s |" % (
                 doc["datetime"], cfg.get("model", "?"), cfg.get("cpu_precision", "?"), cfg.get("cpu_threads", "?"),
                 cfg.get("filter", ""), cfg.get("benchmark_samples") or "per-case defaults"),
             ""]
    status = [b.get("extra_info", {}).get("status") for b in benchmarks]
    lines += ["Targets (set for the large model): **%d PASS, %d FAIL**, %d not measured, %d not judged "
              "(another model), %d without target; %d skipped." % (
                  status.count("PASS"), status.count("FAIL"), status.count("NOT MEASURED"),
                  status.count("NOT APPLICABLE"), status.count(None), len(skipped)), "",
              "Times per call from Catch2's BENCHMARK: mean (bootstrapped, with its confidence interval), "
              "median, min, max, standard deviation over the samples.", ""]
    groups = {b.get("group") or "other" for b in benchmarks} | {s.get("group") or "other" for s in skipped}
    for cat in list(CATEGORIES) + sorted(groups - set(CATEGORIES)):
        rows = [b for b in benchmarks if (b.get("group") or "other") == cat]
        skips = [s for s in skipped if (s.get("group") or "other") == cat]
        if not rows and not skips:
            continue
        lines += ["## %s" % cat, "",
                  "| benchmark | mean [CI] | median | min | max | sd | samples | target | status | notes |",
                  "|---|---|---|---|---|---|---|---|---|---|"]
        for b in rows:
            extra, st = b.get("extra_info", {}), b["stats"]
            unit = extra.get("unit", "s")
            k = 1e3 if unit == "ms" else 1.0
            c2 = extra.get("catch2", {})
            ci = " [%s .. %s]" % (num(c2["mean_low"] * k), num(c2["mean_high"] * k)) \
                if c2.get("analysed") and st["rounds"] > 1 else ""
            lines.append("| %s | %s %s%s | %s | %s | %s | %s | %d | %s | %s | %s |" % (
                b["name"], num(st["mean"] * k), unit, ci, num(st["median"] * k), num(st["min"] * k),
                num(st["max"] * k), num(st["stddev"] * k), st["rounds"], target_text(extra.get("target")),
                extra.get("status") or "-", notes(extra)))
        for s in skips:
            lines.append("| %s | - | - | - | - | - | - | - | SKIP | %s |" % (s["name"], s.get("reason", "")))
        if cat == "batch" and plot_name:
            lines += ["", "![time per window vs batch size](%s)" % plot_name]
        lines.append("")
    return "\n".join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("results")
    ap.add_argument("--output")
    a = ap.parse_args(argv)
    try:
        doc = bench_compare.load(a.results)
    except bench_compare.ResultsError as e:
        print("bench_report: %s" % e, file=sys.stderr)
        return 2
    out = a.output or os.path.splitext(a.results)[0] + ".md"
    series = batch_points(doc["benchmarks"])
    plot_name = None
    if series:
        plot_name = os.path.splitext(os.path.basename(out))[0] + "_batch.svg"
        with open(os.path.join(os.path.dirname(os.path.abspath(out)), plot_name), "w") as f:
            f.write(batch_svg(series))
    with open(out, "w") as f:
        f.write(report(doc, plot_name))
    print("report: %s%s" % (out, " (plot: %s)" % plot_name if plot_name else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
