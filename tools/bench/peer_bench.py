#!/usr/bin/env python3
"""Times the peers of the C++ engine on the inputs that bench_eegpt wrote: the reference PyTorch
encoder (tools/fixtures/eegpt_reference.py, float32), ONNX Runtime on CPU (the same model exported with
torch.onnx.export) and ONNX Runtime on that model quantized by onnxruntime.quantization's
quantize_dynamic (int8 weights per output channel, activations quantized at run time: the peer of
--precision int8). Called by bench_eegpt's [comparison] cases; usable by hand too.

  peer_bench.py --weights W.h5 --channels 0,2,... --rounds N [--threads 2] [--peers pytorch,...]
                --case X.f32,B,C,T[,OURS.f32] [--case ...]

X.f32 is raw float32 (B x C x T, C order); OURS.f32 the C++ engine's features for it (optional),
used to report the largest absolute difference. Every peer's features and ours are also compared
with the fp32 reference (PyTorch's, computed here whatever --peers says): the relative error of the
whole output and the smallest cosine of a window, so that a quantized peer's fidelity and ours
come from the same run. Output, one line per peer and case, easy to parse from C++ (space-separated
key=value, values without spaces):
  peer=pytorch case=0 version=1.13.1 max_abs_diff=2.1e-06 rel_err_vs_fp32=0 min_cosine_vs_fp32=1
      ours_rel_err_vs_fp32=3.1e-07 ours_min_cosine_vs_fp32=1 samples_ms=812.1,809.4,815.0
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


def fidelity(out, ref, batch):
    """(relative error of the whole output, smallest window cosine) of out against ref."""
    out = np.asarray(out, np.float64).reshape(batch, -1)
    ref = np.asarray(ref, np.float64).reshape(batch, -1)
    rel = float(np.linalg.norm(out - ref) / np.linalg.norm(ref))
    cos = (out * ref).sum(1) / np.sqrt((out * out).sum(1) * (ref * ref).sum(1))
    return rel, float(cos.min())


def report(peer, index, version, samples, out, ours, reference):
    diff = float(np.max(np.abs(out - ours))) if ours is not None else float("nan")
    batch = reference.shape[0]
    rel, cos = fidelity(out, reference, batch)
    ours_rel, ours_cos = fidelity(ours, reference, batch) if ours is not None else (float("nan"), float("nan"))
    line(peer=peer, case=index, version=version, max_abs_diff="%.3g" % diff, rel_err_vs_fp32="%.3g" % rel,
         min_cosine_vs_fp32="%.6f" % cos, ours_rel_err_vs_fp32="%.3g" % ours_rel,
         ours_min_cosine_vs_fp32="%.6f" % ours_cos, samples_ms=",".join("%.3f" % s for s in samples))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--weights", required=True)
    ap.add_argument("--channels", required=True, help="comma-separated channel ids")
    ap.add_argument("--case", action="append", required=True, help="X.f32,B,C,T[,OURS.f32]")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--peers", default="pytorch,onnxruntime,onnxruntime-int8")
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

    references = [torch_run(x) for x, _ in cases]  # the fp32 reference of every fidelity figure
    if "pytorch" in peers:
        for i, (x, ours) in enumerate(cases):
            samples = time_calls(lambda: torch_run(x), a.rounds)
            out = torch_run(x).reshape(-1)
            report("pytorch", i, torch.__version__, samples, out, ours, references[i])

    onnx_peers = [p for p in peers if p in ("onnxruntime", "onnxruntime-int8")]
    if onnx_peers:
        try:
            import onnxruntime as ort
        except ImportError:
            for p in onnx_peers:
                line(peer=p, skipped="onnxruntime_not_installed")
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
            models = {"onnxruntime": path}
            if "onnxruntime-int8" in onnx_peers:
                try:
                    from onnxruntime.quantization import QuantType, quantize_dynamic
                    models["onnxruntime-int8"] = os.path.join(tmp, "eegpt_int8.onnx")
                    # Int8 weights per output channel and dynamically quantized activations: what
                    # --precision int8 does, in ONNX Runtime's own way (its MatMulInteger kernels).
                    quantize_dynamic(path, models["onnxruntime-int8"], weight_type=QuantType.QInt8, per_channel=True)
                except ImportError as e:
                    line(peer="onnxruntime-int8", skipped="onnxruntime_quantization_not_importable:" + str(e))
            opts = ort.SessionOptions()
            opts.intra_op_num_threads = a.threads
            opts.inter_op_num_threads = 1
            for peer in onnx_peers:
                if peer not in models:
                    continue
                sess = ort.InferenceSession(models[peer], opts, providers=["CPUExecutionProvider"])
                for i, (x, ours) in enumerate(cases):
                    def run():
                        return sess.run(None, {"x": x, "channel_ids": ids})[0]
                    samples = time_calls(run, a.rounds)
                    report(peer, i, ort.__version__, samples, run().reshape(-1), ours, references[i])
    return 0


if __name__ == "__main__":
    sys.exit(main())
