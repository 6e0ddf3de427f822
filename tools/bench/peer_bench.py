#!/usr/bin/env python3
"""Times the peers of the C++ engine on the inputs that bench_eegpt wrote: the reference PyTorch
encoder (tools/fixtures/eegpt_reference.py, float32), ONNX Runtime on CPU (the same model exported with
torch.onnx.export) and ONNX Runtime on that model quantized by onnxruntime.quantization's
quantize_dynamic (int8 weights per output channel, activations quantized at run time: the peer of
--precision int8; and with reduce_range, 7-bit weights, as ONNX Runtime advises for CPUs without
VNNI). Called by bench_eegpt's [comparison] cases; usable by hand too.

  peer_bench.py --weights W.h5 --channels 0,2,... --rounds N [--threads 2] [--peers pytorch,...]
                [--isa avx2] [--pace] --case X.f32,B,C,T[,OURS.f32] [--case ...]

--pace: before each timed call the caller (bench_eegpt) takes a turn: this writes `ready peer=P
case=I`, the caller makes an untimed call of its own and writes `start`, makes a timed one and writes
`done`; this times from `start` to `done` (the caller's samples, reported as ours_samples_ms), waits
200 ms for the caller's worker threads to stop spinning, and makes an untimed call of its own (the
caller's calls have evicted its weights from the caches) before its timed one. The peers' calls and
ours then alternate, timed by one clock, and a drift of the machine's speed moves both alike. Ends
(exit status 1) when the input ends or says something else.

--isa avx2 makes the peers run their AVX2 code on a CPU with AVX-512, as the engine does under
EEGPT_CPU_ISA=avx2, so that an AVX-512 machine can stand in for an AVX2-only one on both sides:
PyTorch through its libraries' switches (ATEN_CPU_CAPABILITY, ONEDNN_MAX_CPU_ISA,
OPENBLAS_CORETYPE); ONNX Runtime, which has none, through a copy of its package whose CPU detection
reads the AVX-512 state as disabled (ort_without_avx512). On a CPU without AVX-512 it changes nothing.

X.f32 is raw float32 (B x C x T, C order); OURS.f32 the C++ engine's features for it (optional),
used to report the largest absolute difference. Every peer's features and ours are also compared
with the fp32 reference (PyTorch's, computed here whatever --peers says): the relative error of the
whole output and the smallest cosine of a window, so that a quantized peer's fidelity and ours
come from the same run. Output, one line per peer and case, easy to parse from C++ (space-separated
key=value, values without spaces; ours_samples_ms only with --pace):
  peer=pytorch case=0 version=1.13.1 level=native max_abs_diff=2.1e-06 rel_err_vs_fp32=0 min_cosine_vs_fp32=1
      ours_rel_err_vs_fp32=3.1e-07 ours_min_cosine_vs_fp32=1 samples_ms=812.1,809.4,815.0
      ours_samples_ms=402.3,399.8,401.1
  peer=onnxruntime skipped=onnxruntime_not_installed
"""
import argparse
import importlib.util
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import warnings

import numpy as np

TOOLS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [TOOLS, os.path.join(TOOLS, "fixtures")]  # eegpt_format; eegpt_reference


def line(**kv):
    print(" ".join("%s=%s" % (k, str(v).replace(" ", "_")) for k, v in kv.items()), flush=True)


class InputClosed(Exception):
    """--pace: the caller's input ended, or was not the turn's `start` and `done`."""


def time_calls(fn, rounds, pace=None):
    """rounds timed calls of fn after an untimed one; pace, if given, is called before each."""
    fn()  # warm-up, untimed
    samples = []
    for _ in range(rounds):
        if pace:
            pace()
            fn()  # the turn's untimed call
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


def report(peer, index, version, level, samples, out, ours, reference, pace=None):
    diff = float(np.max(np.abs(out - ours))) if ours is not None else float("nan")
    batch = reference.shape[0]
    rel, cos = fidelity(out, reference, batch)
    ours_rel, ours_cos = fidelity(ours, reference, batch) if ours is not None else (float("nan"), float("nan"))
    line(peer=peer, case=index, version=version, level=level, max_abs_diff="%.3g" % diff, rel_err_vs_fp32="%.3g" % rel,
         min_cosine_vs_fp32="%.6f" % cos, ours_rel_err_vs_fp32="%.3g" % ours_rel,
         ours_min_cosine_vs_fp32="%.6f" % ours_cos, samples_ms=",".join("%.3f" % s for s in samples),
         **({"ours_samples_ms": ",".join("%.3f" % s for s in pace.ours)} if pace else {}))


def cpu_flags():
    """The CPU's feature flags, as /proc/cpuinfo names them (avx2, avx512f, avx512_vnni, ...)."""
    with open("/proc/cpuinfo") as f:
        for row in f:
            if row.startswith("flags"):
                return set(row.split(":", 1)[1].split())
    return set()


def text_section(data):
    """(file offset, address, size) of an ELF64 shared object's .text section."""
    if data[:4] != b"\x7fELF" or data[4] != 2:
        raise ValueError("not an ELF64 file")
    shoff, = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3A)
    headers = [struct.unpack_from("<IIQQQQIIQQ", data, shoff + i * shentsize) for i in range(shnum)]
    names = headers[shstrndx][4]
    for h in headers:
        start = names + h[0]
        if data[start:data.index(b"\0", start)] == b".text":
            return h[4], h[3], h[5]
    raise ValueError("no .text section")


def hide_avx512_state(path):
    """Rewrites every XGETBV instruction of the shared object at `path` (0F 01 D0) into
    PUSH 7; POP RAX (6A 07 58, the same length): XCR0 then reads x87 | SSE | AVX, the state of an
    operating system that enables AVX but not AVX-512, and the library's own CPU detection picks
    its AVX2 code, as on an AVX2-only CPU (AVX-VNNI, which needs only the AVX state, stays visible:
    an AVX2-only CPU lacks it). EDX keeps a stale value: it is XCR0's upper half, whose bits are
    reserved. The instructions are found by objdump, not by the byte pattern, which also occurs
    inside other instructions. Returns how many were rewritten."""
    listing = subprocess.run(["objdump", "-d", "--no-show-raw-insn", "-j", ".text", path],
                             check=True, capture_output=True, text=True).stdout
    addresses = [int(m.group(1), 16) for m in re.finditer(r"^\s*([0-9a-f]+):\s+xgetbv\s*$", listing, re.M)]
    with open(path, "rb") as f:
        data = bytearray(f.read())
    offset, address, size = text_section(data)
    for a in addresses:
        if not address <= a < address + size - 2:
            raise ValueError("xgetbv at %#x outside .text" % a)
        at = a - address + offset
        if data[at:at + 3] != b"\x0f\x01\xd0":
            raise ValueError("no xgetbv bytes at %#x" % a)
        data[at:at + 3] = b"\x6a\x07\x58"
    with open(path, "wb") as f:
        f.write(data)
    return len(addresses)


def ort_without_avx512(tmp):
    """A copy of the installed onnxruntime package under tmp (links to its files, its native
    libraries rewritten by hide_avx512_state), to be imported instead of it; the number of
    instructions rewritten. ONNX Runtime has no switch of its own for its CPU level."""
    spec = importlib.util.find_spec("onnxruntime")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("onnxruntime is not installed")
    source = list(spec.submodule_search_locations)[0]
    root = os.path.join(tmp, "onnxruntime_avx2")
    target = os.path.join(root, "onnxruntime")
    rewritten = 0
    for where, dirs, files in os.walk(source):
        dirs[:] = [d for d in dirs if d != "__pycache__"]
        into = os.path.join(target, os.path.relpath(where, source))
        os.makedirs(into, exist_ok=True)
        for name in files:
            src, dst = os.path.join(where, name), os.path.join(into, name)
            if ".so" in name:
                shutil.copyfile(src, dst)
                rewritten += hide_avx512_state(dst)
            else:
                os.symlink(src, dst)
    if rewritten == 0:
        raise ValueError("no xgetbv instruction found in onnxruntime's libraries under " + source)
    sys.path.insert(0, root)
    return rewritten


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--weights", required=True)
    ap.add_argument("--channels", required=True, help="comma-separated channel ids")
    ap.add_argument("--case", action="append", required=True, help="X.f32,B,C,T[,OURS.f32]")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--peers", default="pytorch,onnxruntime,onnxruntime-int8,onnxruntime-int8-7bit")
    ap.add_argument("--isa", choices=("native", "avx2"), default="native",
                    help="avx2: the peers' AVX2 code even where the CPU has AVX-512")
    ap.add_argument("--pace", action="store_true",
                    help="before each timed call, let the caller take a turn (ready, start, done; above)")
    a = ap.parse_args(argv)
    try:
        return bench(a)
    except InputClosed:
        return 1


class Pacer:
    """--pace: the handshake of a turn of the caller's before each timed call (time_calls' pace),
    and the caller's samples it timed."""

    def __init__(self, peer, index):
        self.peer, self.index, self.ours = peer, index, []

    def __call__(self):
        print("ready peer=%s case=%d" % (self.peer, self.index), flush=True)
        if sys.stdin.readline().strip() != "start":
            raise InputClosed()
        t0 = time.perf_counter()
        if sys.stdin.readline().strip() != "done":
            raise InputClosed()
        self.ours.append((time.perf_counter() - t0) * 1000.0)
        time.sleep(0.2)


def pacer(enabled, peer, index):
    """What time_calls calls before each timed call: nothing, or a Pacer."""
    return Pacer(peer, index) if enabled else None


def bench(a):
    hide_avx512 = a.isa == "avx2" and "avx512f" in cpu_flags()
    # What the peers' lines say of their CPU code: "native", or AVX2 on a CPU that has AVX-512.
    level = "avx2_on_an_avx512_cpu" if hide_avx512 else "native"
    if hide_avx512:
        # Read when torch and its libraries load: set before the import below. OpenBLAS is the BLAS
        # of Debian's torch; Haswell is its AVX2 kernel set.
        os.environ["ATEN_CPU_CAPABILITY"] = "avx2"
        os.environ["ONEDNN_MAX_CPU_ISA"] = "AVX2"
        os.environ["OPENBLAS_CORETYPE"] = "Haswell"

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
            pace = pacer(a.pace, "pytorch", i)
            samples = time_calls(lambda: torch_run(x), a.rounds, pace)
            out = torch_run(x).reshape(-1)
            report("pytorch", i, torch.__version__, level, samples, out, ours, references[i], pace)

    onnx_peers = [p for p in peers if p in ("onnxruntime", "onnxruntime-int8", "onnxruntime-int8-7bit")]
    if onnx_peers:
        with tempfile.TemporaryDirectory(prefix="eegpt_onnx_") as tmp:
            try:
                if hide_avx512:
                    ort_without_avx512(tmp)
                import onnxruntime as ort
            except (ImportError, OSError, ValueError, subprocess.CalledProcessError) as e:
                why = "onnxruntime_not_installed" if isinstance(e, ImportError) else "avx2_copy_failed:" + str(e)
                for p in onnx_peers:
                    line(peer=p, skipped=why)
                return 0
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
            # Int8 weights per output channel and dynamically quantized activations: what
            # --precision int8 does, in ONNX Runtime's own way (its MatMulInteger kernels). -7bit:
            # reduce_range, the 7-bit weights ONNX Runtime documents for CPUs without VNNI, whose
            # VPMADDUBSW kernel clips 8-bit products in pairs (ours keeps 7-bit weights there too).
            for peer, reduce_range in (("onnxruntime-int8", False), ("onnxruntime-int8-7bit", True)):
                if peer not in onnx_peers:
                    continue
                try:
                    from onnxruntime.quantization import QuantType, quantize_dynamic
                    models[peer] = os.path.join(tmp, peer + ".onnx")
                    quantize_dynamic(path, models[peer], weight_type=QuantType.QInt8, per_channel=True,
                                     reduce_range=reduce_range)
                except ImportError as e:
                    line(peer=peer, skipped="onnxruntime_quantization_not_importable:" + str(e))
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
                    pace = pacer(a.pace, peer, i)
                    samples = time_calls(run, a.rounds, pace)
                    report(peer, i, ort.__version__, level, samples, run().reshape(-1), ours, references[i], pace)
    return 0


if __name__ == "__main__":
    sys.exit(main())
