#!/usr/bin/env python3
"""Markdown report of a benchmark run: machine, one table per category with PASS/FAIL against the
targets, and a plot of time per window vs batch size (hand-written SVG, no plotting library needed).

  bench_report.py RESULTS.json [--output REPORT.md]      (default: RESULTS with .md; the plot beside it)
"""
import argparse
import json
import math
import os
import sys

CATEGORIES = ("single-window", "batch", "recording", "memory", "comparison")
EXTRA_LABELS = {
    "per_window_ms": "%.1f ms per window",
    "x_real_time": "%.1fx real time",
    "ratio_to_ours": "%.2fx ours",
    "returned_mb": "returned %.1f MB",
    "heap_in_use_mb": "heap in use %.3f MB",
    "max_abs_diff": "max abs diff %.2g",
    "start_mb": "%.1f MB at process start",
    "batch_ms": "batch %.1f ms",
    "one_by_one_ms": "one-by-one %.1f ms",
    "cpu_ms": "cpu %.1f ms",
    "gpu_ms": "gpu %.2f ms",
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


def notes(e):
    extra = dict(e.get("extra", {}))
    if extra.get("batch") == 1:
        extra.pop("per_window_ms", None)  # the median itself
    return ", ".join(EXTRA_LABELS[k] % extra[k] for k in EXTRA_LABELS if extra.get(k) is not None)


def batch_points(benchmarks):
    """{device: [(batch, ms per window)]} from the batch cases."""
    series = {}
    for name, e in benchmarks.items():
        extra = e.get("extra", {})
        if e.get("category") == "batch" and "batch" in extra and "per_window_ms" in extra:
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
    m, cfg, benchmarks = doc["machine"], doc.get("config", {}), doc["benchmarks"]
    gpu = "%s, %s GiB, CUDA %s, cuBLAS %s" % (m["gpu"], num(m["gpu_memory_gb"]), m["cuda_runtime"], m["cublas"]) \
        if m.get("gpu") else "none (%s)" % m.get("gpu_note", "")
    lines = ["# EEGPT engine benchmarks", "",
             "| | |", "|---|---|",
             "| CPU | %s, %d cores, flags: %s |" % (m["cpu"], m["cores"], m["cpu_flags"]),
             "| memory | %.1f GiB |" % m["memory_gb"],
             "| GPU | %s |" % gpu,
             "| build | %s, %s, engine ISA %s, commit %s |" % (m["compiler"], m["build_type"], m["isa_build"],
                                                             m["git_commit"]),
             "| run | %s; model %s; cpu threads %s; filter `%s`; rounds %s |" % (
                 m["date"], cfg.get("model", "?"), cfg.get("cpu_threads", "?"), cfg.get("filter", ""),
                 cfg.get("rounds_override") or "per-case defaults"),
             ""]
    status = [e.get("status") for e in benchmarks.values()]
    lines += ["Targets: **%d PASS, %d FAIL**, %d skipped, %d without target." % (
        status.count("PASS"), status.count("FAIL"), status.count("SKIP"), status.count(None)), ""]
    others = sorted({e.get("category", "other") for e in benchmarks.values()} - set(CATEGORIES))
    for cat in list(CATEGORIES) + others:
        rows = [(n, e) for n, e in benchmarks.items() if e.get("category", "other") == cat]
        if not rows:
            continue
        lines += ["## %s" % cat, "",
                  "| benchmark | median | min | max | mean +- sd | rounds | target | status | notes |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for name, e in rows:
            if "median" not in e:
                lines.append("| %s | - | - | - | - | - | - | SKIP | %s |" % (name, e.get("skipped", "")))
                continue
            unit = e["unit"]
            lines.append("| %s | %s %s | %s | %s | %s +- %s | %d | %s | %s | %s |" % (
                name, num(e["median"]), unit, num(e["min"]), num(e["max"]), num(e["mean"]), num(e["stddev"]),
                e["rounds"], target_text(e.get("target")), e.get("status") or "-", notes(e)))
        if cat == "batch" and plot_name:
            lines += ["", "![time per window vs batch size](%s)" % plot_name]
        lines.append("")
    return "\n".join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("results")
    ap.add_argument("--output")
    a = ap.parse_args(argv)
    with open(a.results) as f:
        doc = json.load(f)
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
