#!/usr/bin/env python3
"""Times the peers of the C++ engine on the inputs that bench_eegpt wrote: the reference PyTorch
encoder (tools/fixtures/eegpt_reference.py, float32) and ONNX Runtime on CPU (the same model exported with
torch.onnx.export). Called by bench_eegpt's [comparison] cases; usable by hand too.

  peer_bench.py --weights W.h5 --channels 0,2,... --rounds N [--threads 2]
                --case X.f32,B,C,T[,OURS.f32] [--case ...]

X.f32 is raw float32 (B x C x T, C order); OURS.f32 the C++ engine's features for it (optional),
used to report the largest absolute difference. Output, one line per peer and case, easy to parse
from C++ (space-separated key=value, values without spaces):
  peer=pytorch case=0 version=1.13.1 max_abs_diff=2.1e-06 samples_ms=812.1,809.4,815.0
  peer=onnxruntime skipped=onnxruntime_not_installed
"""
import argparse
import os
import sys
import tempfile
import time
import warnings

import numpy as np

TOOLS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [TOOLS, os.path.join(TOOLS, "fixtures")]  # eegpt_format; eegpt_reference


def line(**kv):
    print(" ".join("%s=%s" % (k, str(v).replace(" ", "_")) for k, v in kv.items()), flush=True)


def time_calls(fn, rounds):
    fn()  # warm-up, untimed
    samples = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1000.0)
    return samples


def report(peer, index, version, samples, out, ours):
    diff = float(np.max(np.abs(out - ours))) if ours is not None else float("nan")
    line(peer=peer, case=index, version=version, max_abs_diff="%.3g" % diff,
         samples_ms=",".join("%.3f" % s for s in samples))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--weights", required=True)
    ap.add_argument("--channels", required=True, help="comma-separated channel ids")
    ap.add_argument("--case", action="append", required=True, help="X.f32,B,C,T[,OURS.f32]")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--peers", default="pytorch,onnxruntime")
    a = ap.parse_args(argv)

    cases = []
    for spec in a.case:
        parts = spec.split(",")
        b, c, t = (int(v) for v in parts[1:4])
        x = np.fromfile(parts[0], dtype=np.float32).reshape(b, c, t)
        ours = np.fromfile(parts[4], dtype=np.float32) if len(parts) > 4 else None
        cases.append((x, ours))
    ids = np.array([int(v) for v in a.channels.split(",")], dtype=np.int64)
    peers = a.peers.split(",")

    try:
        import torch
        import eegpt_reference as ref
    except ImportError as e:
        for p in peers:
            line(peer=p, skipped="torch_not_importable:" + str(e))
        return 0
    torch.set_num_threads(a.threads)
    model, _ = ref.load_model(a.weights, torch.float32)
    tids = torch.from_numpy(ids)

    def torch_run(x):
        with torch.no_grad():
            return model(torch.from_numpy(x), tids).numpy()

    if "pytorch" in peers:
        for i, (x, ours) in enumerate(cases):
            samples = time_calls(lambda: torch_run(x), a.rounds)
            out = torch_run(x).reshape(-1)
            report("pytorch", i, torch.__version__, samples, out, ours)

    if "onnxruntime" in peers:
        try:
            import onnxruntime as ort
        except ImportError:
            line(peer="onnxruntime", skipped="onnxruntime_not_installed")
            return 0
        with tempfile.TemporaryDirectory(prefix="eegpt_onnx_") as tmp:
            path = os.path.join(tmp, "eegpt.onnx")
            x0 = torch.from_numpy(cases[0][0])
            with torch.no_grad(), warnings.catch_warnings():
                warnings.simplefilter("ignore")  # tracer warnings about shape arithmetic: checked by max_abs_diff
                torch.onnx.export(model, (x0, tids), path, input_names=["x", "channel_ids"],
                                  output_names=["features"], opset_version=17,
                                  dynamic_axes={"x": {0: "batch", 1: "channels", 2: "samples"},
                                                "channel_ids": {0: "channels"},
                                                "features": {0: "batch", 1: "patches"}})
            opts = ort.SessionOptions()
            opts.intra_op_num_threads = a.threads
            opts.inter_op_num_threads = 1
            sess = ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])
            for i, (x, ours) in enumerate(cases):
                def run():
                    return sess.run(None, {"x": x, "channel_ids": ids})[0]
                samples = time_calls(run, a.rounds)
                report("onnxruntime", i, ort.__version__, samples, run().reshape(-1), ours)
    return 0


if __name__ == "__main__":
    sys.exit(main())
