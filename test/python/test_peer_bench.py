"""tools/bench/peer_bench.py --isa avx2: the peers' AVX2 code on a CPU with AVX-512.

ONNX Runtime has no switch for its CPU level, so peer_bench imports a copy of its package whose
XGETBV instructions read XCR0 as x87 | SSE | AVX (hide_avx512_state). Checked here on a small shared
object built for the test: the real instruction rewritten, a look-alike byte sequence inside another
instruction left alone, the library still callable. Then, where the benchmark peers' venv exists
(tools/setup/make_venv.sh .peers peers, or EEGPT_PEERS_PYTHON), on ONNX Runtime itself: its int8
MatMulInteger gives the exact sum natively (its AVX512_VNNI kernel) and VPMADDUBSW's 16-bit
saturation in the copy, which is what its AVX2 kernel computes on an AVX2-only CPU.
"""
import ctypes
import os
import shutil
import subprocess
import sys
import textwrap

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..")
sys.path.insert(0, os.path.join(ROOT, "tools", "bench"))
import peer_bench  # noqa: E402

LIBRARY = textwrap.dedent("""
    unsigned xcr0_low(void) {
        unsigned eax, edx;
        __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
        return eax;
    }
    /* MOV EAX, 0x00D0010F: its immediate holds the bytes of XGETBV (0F 01 D0). */
    unsigned look_alike(void) {
        unsigned v;
        __asm__ volatile(".byte 0xb8, 0x0f, 0x01, 0xd0, 0x00" : "=a"(v));
        return v;
    }
""")


def build_library(tmp_path):
    for tool in ("gcc", "objdump"):
        if shutil.which(tool) is None:
            pytest.skip(tool + " is not installed (binutils and gcc build this test's library)")
    src, lib = tmp_path / "probe.c", tmp_path / "libprobe.so"
    src.write_text(LIBRARY)
    subprocess.run(["gcc", "-O1", "-shared", "-fPIC", "-o", str(lib), str(src)], check=True)
    return lib


def test_xgetbv_reads_the_avx_state_only_after_the_rewrite(tmp_path):
    lib = build_library(tmp_path)
    patched = tmp_path / "libprobe_avx2.so"
    shutil.copyfile(lib, patched)
    assert peer_bench.hide_avx512_state(str(patched)) == 1
    before, after = ctypes.CDLL(str(lib)), ctypes.CDLL(str(patched))
    # Every x86-64 CPU the engine runs on has AVX enabled by the OS (XCR0 bits 0-2).
    assert before.xcr0_low() & 7 == 7
    if "avx512f" in peer_bench.cpu_flags():
        assert before.xcr0_low() & 0xE0 == 0xE0
    assert after.xcr0_low() == 7
    assert before.look_alike() == after.look_alike() == 0x00D0010F
    with open(lib, "rb") as a, open(patched, "rb") as b:
        original, rewritten = a.read(), b.read()
    assert len(original) == len(rewritten)
    changed = [i for i in range(len(original)) if original[i] != rewritten[i]]
    assert len(changed) <= 3 and rewritten.count(b"\x6a\x07\x58") == original.count(b"\x6a\x07\x58") + 1


def test_rewrite_refuses_what_is_not_an_elf_library(tmp_path):
    bad = tmp_path / "not_elf.so"
    bad.write_bytes(b"MZ" + bytes(200))
    with pytest.raises((ValueError, subprocess.CalledProcessError)):
        peer_bench.hide_avx512_state(str(bad))
    assert bad.read_bytes() == b"MZ" + bytes(200)


def test_text_section_of_a_library(tmp_path):
    lib = build_library(tmp_path)
    offset, address, size = peer_bench.text_section(lib.read_bytes())
    assert size > 0 and offset > 0 and address >= offset
    with pytest.raises(ValueError):
        peer_bench.text_section(b"\x7fELF\x01" + bytes(100))  # 32-bit ELF


PEERS_PYTHON = os.environ.get("EEGPT_PEERS_PYTHON", os.path.join(ROOT, ".peers", "bin", "python"))

SATURATION = textwrap.dedent("""
    import os, sys, tempfile
    import numpy as np
    sys.path.insert(0, sys.argv[1])
    import peer_bench
    tmp = tempfile.mkdtemp()
    if sys.argv[2] == "avx2":
        assert peer_bench.ort_without_avx512(tmp) > 0
    import onnxruntime as ort
    from onnx import TensorProto, helper
    k, n = 64, 16
    graph = helper.make_graph([helper.make_node("MatMulInteger", ["A", "B"], ["Y"])], "g",
                              [helper.make_tensor_value_info("A", TensorProto.UINT8, [4, k]),
                               helper.make_tensor_value_info("B", TensorProto.INT8, [k, n])],
                              [helper.make_tensor_value_info("Y", TensorProto.INT32, [4, n])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    path = os.path.join(tmp, "m.onnx")
    with open(path, "wb") as f:
        f.write(model.SerializeToString())
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    y = sess.run(None, {"A": np.full((4, k), 255, np.uint8), "B": np.full((k, n), 127, np.int8)})[0]
    print(ort.__file__.startswith(tmp), int(y.min()), int(y.max()))
""")


def test_onnxruntime_copy_runs_its_avx2_int8_kernel():
    flags = peer_bench.cpu_flags()
    if "avx512f" not in flags:
        pytest.skip("this CPU has no AVX-512: ONNX Runtime runs its AVX2 code anyway, and --isa avx2 changes nothing")
    if "avx512_vnni" not in flags:
        # Without VNNI ONNX Runtime's own AVX-512 kernel saturates as its AVX2 one does.
        pytest.skip("this CPU lacks AVX512_VNNI: ONNX Runtime's native int8 sums saturate too, nothing to tell apart")
    if not os.path.exists(PEERS_PYTHON):
        pytest.skip("no benchmark peers' venv at %s (tools/setup/make_venv.sh .peers peers)" % PEERS_PYTHON)
    tools = os.path.join(ROOT, "tools", "bench")

    def run(level):
        p = subprocess.run([PEERS_PYTHON, "-c", SATURATION, tools, level], capture_output=True, text=True, timeout=300)
        assert p.returncode == 0, p.stderr
        copied, low, high = p.stdout.split()
        return copied == "True", int(low), int(high)

    exact, saturated = 255 * 127 * 64, 32767 * 32  # every pair of products clipped at int16's top
    assert run("native") == (False, exact, exact)
    assert run("avx2") == (True, saturated, saturated)


def test_pace_takes_the_callers_turn_before_each_timed_call(monkeypatch, capsys):
    """--pace: `ready peer=P case=I` before each timed call (not before the untimed warm-up), then
    `start` and `done` read from standard input (the caller's call between them timed), then an
    untimed call; the run abandoned when the input ends or says something else."""
    import io
    calls = []
    monkeypatch.setattr(sys, "stdin", io.StringIO("start\ndone\n" * 2))
    pace = peer_bench.pacer(True, "p", 1)
    samples = peer_bench.time_calls(lambda: calls.append(sys.stdin.tell()), 2, pace)
    assert len(samples) == 2 and all(s >= 0 for s in samples)
    assert len(pace.ours) == 2 and all(s >= 0 for s in pace.ours)
    assert capsys.readouterr().out == "ready peer=p case=1\n" * 2
    # The warm-up before any line, then for each timed call a turn read and an untimed call first.
    assert calls == [0, 11, 11, 22, 22]
    for text in ("start\n", "start\nstop\n"):
        monkeypatch.setattr(sys, "stdin", io.StringIO(text))
        with pytest.raises(peer_bench.InputClosed):
            peer_bench.time_calls(lambda: None, 1, peer_bench.pacer(True, "p", 0))
    assert peer_bench.pacer(False, "p", 0) is None
