#!/usr/bin/env python3
"""Times the PyTorch reference encoder (tools/fixtures/eegpt_reference.py, large configuration, random
weights) on a CUDA GPU, in the three precisions the engine has: fp32 (TF32 off), TF32, and bf16
autocast. The peer for bench_eegpt's [gpu] cases on the same machine (tools/device_check.sh).

  peer_bench_gpu.py [--cases 19x1,19x512,58x1,58x512] [--compile]

Device-side timing with CUDA events around the forward pass (input already on the device), median
of the rounds, after two warm-up calls. One line per case:
  peer=pytorch device=NVIDIA_H200 precision=bf16 channels=19 batch=512 median_ms=43.2 ms_per_window=0.0844
Exits 2 with one line when torch has no CUDA device.
"""
import argparse
import os
import statistics
import sys

import torch

TOOLS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [TOOLS, os.path.join(TOOLS, "fixtures")]  # eegpt_format; eegpt_reference
import eegpt_format as fmt  # noqa: E402
import eegpt_reference as ref  # noqa: E402


def time_forward(model, x, ids, precision, rounds):
    torch.backends.cuda.matmul.allow_tf32 = precision == "tf32"
    torch.backends.cudnn.allow_tf32 = precision == "tf32"
    autocast = torch.autocast("cuda", dtype=torch.bfloat16, enabled=precision == "bf16")
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    samples = []
    with torch.no_grad(), autocast:
        for i in range(rounds + 2):
            start.record()
            model(x, ids)
            end.record()
            end.synchronize()
            if i >= 2:
                samples.append(start.elapsed_time(end))
    return statistics.median(samples)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cases", default="19x1,19x512,58x1,58x512", help="CHANNELSxBATCH, comma-separated")
    ap.add_argument("--precisions", default="fp32,tf32,bf16")
    ap.add_argument("--samples", type=int, default=1024)
    ap.add_argument("--compile", action="store_true", help="also torch.compile(mode='reduce-overhead')")
    args = ap.parse_args()
    if not torch.cuda.is_available():
        print("peer_bench_gpu: torch %s sees no CUDA device" % torch.__version__, file=sys.stderr)
        return 2
    torch.manual_seed(0)
    device = torch.device("cuda")
    name = torch.cuda.get_device_name(0).replace(" ", "_")
    model = ref.build_model(fmt.named_config("large")).to(device)
    variants = [("eager", model)]
    if args.compile:
        variants.append(("compiled", torch.compile(model, mode="reduce-overhead")))
    for case in args.cases.split(","):
        channels, batch = (int(v) for v in case.split("x"))
        x = 0.05 * torch.randn(batch, channels, args.samples, device=device)
        ids = torch.arange(channels, device=device)
        for mode, m in variants:
            for precision in args.precisions.split(","):
                rounds = 20 if batch <= 8 else 5
                ms = time_forward(m, x, ids, precision, rounds)
                print("peer=pytorch version=%s device=%s mode=%s precision=%s channels=%d batch=%d median_ms=%.3f "
                      "ms_per_window=%.4f" % (torch.__version__, name, mode, precision, channels, batch, ms, ms / batch),
                      flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
