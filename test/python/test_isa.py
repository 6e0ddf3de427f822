"""The eegpt binary runs on any x86-64 CPU up to the point where it says what is missing: only the
CPU operations (engine/encoder/cpu/ops.cpp, namespace eegpt::cpu, and the Eigen code they
instantiate) are compiled for AVX2; every other function must be free of VEX/EVEX instructions, or a
CPU without AVX2 would die of SIGILL before the ISA check (engine/encoder/cpu/dispatch.cpp) could
print its one line. Read off the disassembly (binutils' objdump)."""
import os
import re
import shutil
import subprocess

import pytest


def functions_using_avx(binary):
    out = subprocess.run(["objdump", "-d", "-C", "--no-show-raw-insn", binary], capture_output=True, text=True,
                         check=True).stdout
    current, found = None, {}
    for line in out.splitlines():
        m = re.match(r"^[0-9a-f]+ <(.*)>:$", line.strip())
        if m:
            current = m.group(1)
            continue
        parts = line.split("\t")
        if current is None or len(parts) < 2:
            continue
        instruction = parts[1].strip()
        if instruction.split(" ")[0].startswith("v") or re.search(r"%[yz]mm", instruction):
            found[current] = found.get(current, 0) + 1
    return found


def allowed(function):
    name = function.split("(")[0]
    return name.startswith("eegpt::cpu::") or "Eigen::" in name


@pytest.mark.skipif(shutil.which("objdump") is None, reason="objdump (binutils) is not installed")
def test_only_the_cpu_operations_use_avx(eegpt_bin):
    found = functions_using_avx(eegpt_bin)
    assert any(allowed(f) for f in found), "no AVX code at all: are the CPU operations built for AVX2?"
    offenders = sorted(f for f in found if not allowed(f))
    assert offenders == [], "functions outside the CPU operations use AVX: %s" % offenders[:10]


@pytest.mark.skipif(shutil.which("objdump") is None, reason="objdump (binutils) is not installed")
def test_no_avx512_in_the_binary(eegpt_bin):
    """AVX-512 code lives in libeegpt_cpu_avx512.so only, opened on CPUs that have it."""
    out = subprocess.run(["objdump", "-d", "--no-show-raw-insn", eegpt_bin], capture_output=True, text=True,
                         check=True).stdout
    assert "%zmm" not in out
    module = os.path.join(os.path.dirname(eegpt_bin), "libeegpt_cpu_avx512.so")
    assert os.path.exists(module), "the AVX-512 module is built beside the binary"
    mod = subprocess.run(["objdump", "-d", "--no-show-raw-insn", module], capture_output=True, text=True,
                         check=True).stdout
    assert "%zmm" in mod, "the module holds AVX-512 code"
