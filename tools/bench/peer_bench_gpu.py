#!/usr/bin/env python3
"""Times PyTorch's encoder on a CUDA GPU, eager and torch.compile, in the cases of the GPU table
(docs/gpu.md): the peer of bench_eegpt's [gpu] cases in the same device check (tools/device_check.sh).

  peer_bench_gpu.py [--rows ROW,...] [--budget-s S] [--samples 1024]

The model is the reference encoder (tools/fixtures/eegpt_reference.py, large configuration, random
weights) with attention through torch's scaled_dot_product_attention, as the official model computes
it, so that PyTorch picks its fused attention kernels; it is checked first against the explicit
softmax form on one batch in fp32 (a relative difference above 1e-4 is an error: the peer would be
timing another function).

Precisions: fp32 (TF32 off), tf32 (TF32 matmuls), bf16 (autocast). torch.compile runs with
mode="reduce-overhead" (CUDA graphs) and fixed shapes; each row compiles its own copy, and the
compile time is printed, since it is what a user pays once per shape. Timing: CUDA events around the
forward pass with the input already on the device (median of the rounds, after warm-up calls, three
for compiled copies so that the graphs are recorded), or, for the recording rows, wall-clock time
host to host (a float32 NumPy array of 599 windows in, features copied back to NumPy), as
bench_eegpt's [recording][gpu] case measures ours.

Rows (the GPU table's; `--rows all` is the default):
  w1-fp32      19 ch, 1 window, fp32: eager and compiled
  b512-bf16    19 ch, 512 windows, bf16: eager and compiled
  b512-tf32    19 ch, 512 windows, tf32: eager and compiled
  b512-fp32    19 ch, 512 windows, fp32: eager and compiled
  rec-bf16     20-minute recording (599 windows at a 2 s stride), host to host, bf16: eager and compiled
  rec-fp32     the same in fp32: eager and compiled
  b512-58-bf16 58 ch, 512 windows, bf16: eager and compiled
A row (or its compiled half) that would start after the budget is spent prints `skipped=budget`.
One line per measurement:
  peer=pytorch version=2.11.0 device=NVIDIA_H200 row=b512-bf16 mode=compiled precision=bf16 channels=19
  batch=512 median_ms=32.8 ms_per_window=0.0641 compile_s=41.2
Exits 2 with one line when torch has no CUDA device or no scaled_dot_product_attention, 1 when the
attention check fails.
"""
import argparse
import os
import statistics
import sys
import time

import numpy as np
import torch

TOOLS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [TOOLS, os.path.join(TOOLS, "fixtures")]  # eegpt_format; eegpt_reference
import eegpt_format as fmt  # noqa: E402
import eegpt_reference as ref  # noqa: E402

ROWS = {  # name: (channels, batch, precision, host_to_host)
    "w1-fp32": (19, 1, "fp32", False),
    "b512-bf16": (19, 512, "bf16", False),
    "b512-tf32": (19, 512, "tf32", False),
    "b512-fp32": (19, 512, "fp32", False),
    "rec-bf16": (19, 599, "bf16", True),
    "rec-fp32": (19, 599, "fp32", True),
    "b512-58-bf16": (58, 512, "bf16", False),
}


class Precision(torch.nn.Module):
    """The encoder under one precision: the TF32 switches set around the call, autocast inside it, so
    that a compiled copy traces (and is guarded on) the precision it is timed in."""

    def __init__(self, model, precision):
        super().__init__()
        self.model, self.precision = model, precision

    def forward(self, x, ids):
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=self.precision == "bf16"):
            return self.model(x, ids)


def set_tf32(precision):
    torch.backends.cuda.matmul.allow_tf32 = precision == "tf32"
    torch.backends.cudnn.allow_tf32 = precision == "tf32"


def device_median_ms(fn, x, ids, rounds, warmup):
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    samples = []
    for i in range(warmup + rounds):
        start.record()
        fn(x, ids)
        end.record()
        end.synchronize()
        if i >= warmup:
            samples.append(start.elapsed_time(end))
    return statistics.median(samples)


def host_median_ms(fn, x_host, ids, rounds, warmup, device):
    samples = []
    for i in range(warmup + rounds):
        t0 = time.perf_counter()
        out = fn(torch.from_numpy(x_host).to(device), ids)
        features = out.float().cpu().numpy()  # .cpu() waits for the device
        t1 = time.perf_counter()
        if i >= warmup:
            samples.append(1e3 * (t1 - t0))
    assert np.isfinite(features).all()
    return statistics.median(samples)


def check_attention(config, device):
    """The sdpa encoder against the explicit-softmax one, same weights, fp32 without TF32."""
    torch.manual_seed(1)
    explicit = ref.build_model(config).to(device)
    sdpa = ref.build_model(config, attention="sdpa").to(device)
    sdpa.load_state_dict(explicit.state_dict())
    set_tf32("fp32")
    x = 0.05 * torch.randn(2, 19, 1024, device=device)
    ids = torch.arange(19, device=device)
    with torch.no_grad():
        a, b = explicit(x, ids), sdpa(x, ids)
    rel = float((a - b).norm() / a.norm())
    print("peer=pytorch check=sdpa_vs_explicit relative_difference=%.3g" % rel, flush=True)
    return rel <= 1e-4


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", default="all", help="comma-separated row names, or all: " + ", ".join(ROWS))
    ap.add_argument("--budget-s", type=float, default=240.0, help="no row (or compile) starts after this")
    ap.add_argument("--samples", type=int, default=1024)
    ap.add_argument("--no-compile", action="store_true", help="eager only")
    args = ap.parse_args()
    rows = list(ROWS) if args.rows == "all" else args.rows.split(",")
    unknown = [r for r in rows if r not in ROWS]
    if unknown:
        print("peer_bench_gpu: unknown row %s (rows: %s)" % (unknown[0], ", ".join(ROWS)), file=sys.stderr)
        return 2
    if not torch.cuda.is_available():
        print("peer_bench_gpu: torch %s sees no CUDA device" % torch.__version__, file=sys.stderr)
        return 2
    if not hasattr(torch.nn.functional, "scaled_dot_product_attention"):
        print("peer_bench_gpu: torch %s has no scaled_dot_product_attention (needs >= 2.0)" % torch.__version__,
              file=sys.stderr)
        return 2
    deadline = time.monotonic() + args.budget_s
    device = torch.device("cuda")
    name = torch.cuda.get_device_name(0).replace(" ", "_")
    config = fmt.named_config("large")
    if not check_attention(config, device):
        print("peer_bench_gpu: the sdpa encoder differs from the explicit one", file=sys.stderr)
        return 1
    torch.manual_seed(0)
    model = ref.build_model(config, attention="sdpa").to(device)
    for row in rows:
        channels, batch, precision, host = ROWS[row]
        head = "peer=pytorch version=%s device=%s row=%s" % (torch.__version__, name, row)
        ids = torch.arange(channels, device=device)
        x_host = (0.05 * np.random.default_rng(0).standard_normal((batch, channels, args.samples))).astype(np.float32)
        x = torch.from_numpy(x_host).to(device)
        rounds = 20 if batch <= 8 else 5
        set_tf32(precision)
        eager = Precision(model, precision)
        modes = [("eager", eager)] + ([] if args.no_compile else [("compiled", None)])
        for mode, fn in modes:
            if time.monotonic() > deadline:
                print("%s mode=%s precision=%s skipped=budget" % (head, mode, precision), flush=True)
                continue
            compile_s = 0.0
            with torch.no_grad():
                if fn is None:
                    torch._dynamo.reset()  # each row compiles its own copy, traced at its own shape
                    fn = torch.compile(Precision(model, precision), mode="reduce-overhead", dynamic=False)
                    t0 = time.perf_counter()
                    fn(x, ids)
                    torch.cuda.synchronize()
                    compile_s = time.perf_counter() - t0
                warmup = 3 if mode == "compiled" else 2
                if host:
                    ms = host_median_ms(fn, x_host, ids, 3, warmup, device)
                else:
                    ms = device_median_ms(fn, x, ids, rounds, warmup)
            print("%s mode=%s precision=%s channels=%d batch=%d %s=%.3f ms_per_window=%.4f compile_s=%.1f"
                  % (head, mode, precision, channels, batch, "host_to_host_ms" if host else "median_ms", ms,
                     ms / batch, compile_s), flush=True)
        set_tf32("fp32")
    return 0


if __name__ == "__main__":
    sys.exit(main())
