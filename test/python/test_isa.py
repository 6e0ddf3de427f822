"""The eegpt binary runs on any x86-64 CPU up to the point where it says what is missing: only the
AVX2 CPU operations (engine/encoder/cpu/ops.cpp, all in namespace eegpt::cpu::avx2, with the GEMM
kernel and the Eigen code they instantiate) are compiled for AVX2; every other function, the ISA
check itself (engine/encoder/cpu/dispatch.cpp, eegpt::cpu) first, must be free of VEX/EVEX
instructions, or a CPU without AVX2 would die of SIGILL before the check could print its one line.
Read off the disassembly (binutils' objdump)."""
import os
import re
import shutil
import subprocess

import pytest


ISA_NAMESPACE = "eegpt::cpu::avx2::"
# What must run before the ISA is known: the check and the table lookup (cpu/ops.h).
DISPATCHER = ["eegpt::cpu::to_string", "eegpt::cpu::parse_isa", "eegpt::cpu::isa_unavailable_reason",
              "eegpt::cpu::bf16_unavailable_reason", "eegpt::cpu::default_isa", "eegpt::cpu::ops",
              "eegpt::cpu::int8_vnni_unavailable_reason", "eegpt::cpu::int8_tile", "eegpt::cpu::int8_kernel_name"]


def name_of(function):
    """The qualified name without ABI tags and parameter list: "ns::f<T>" of "ns::f[abi:cxx11]<T>(int) const"."""
    return re.sub(r"\[abi:\w+\]", "", function.replace("(anonymous namespace)", "{anonymous}")).split("(")[0]


def functions_using_avx(binary):
    """{function: count of AVX instructions} for every function of the binary (0 for none)."""
    out = subprocess.run(["objdump", "-d", "-C", "--no-show-raw-insn", binary], capture_output=True, text=True,
                         check=True).stdout
    current, found = None, {}
    for line in out.splitlines():
        m = re.match(r"^[0-9a-f]+ <(.*)>:$", line.strip())
        if m:
            current = m.group(1)
            found.setdefault(current, 0)
            continue
        parts = line.split("\t")
        if current is None or len(parts) < 2:
            continue
        instruction = parts[1].strip()
        if instruction.split(" ")[0].startswith("v") or re.search(r"%[yz]mm", instruction):
            found[current] += 1
    return found


def fftw_functions(binary):
    """The functions of the static FFTW the binary links (its CMake cache names it). FFTW carries
    codelets for several SIMD levels and picks them at run time by CPUID (its planner is plain
    code), so its AVX codelets never run on a CPU without AVX."""
    cache = os.path.join(os.path.dirname(binary), "CMakeCache.txt")
    library = None
    if os.path.exists(cache):
        for line in open(cache):
            if line.startswith("FFTW3_LIBRARY:"):
                library = line.split("=", 1)[1].strip()
    if not library or not library.endswith(".a"):
        return set()
    out = subprocess.run(["nm", "--defined-only", library], capture_output=True, text=True).stdout
    return {parts[2] for parts in (line.split() for line in out.splitlines())
            if len(parts) == 3 and parts[1] in "tT"}


def allowed(function, fftw=frozenset()):
    """In the AVX2 operations' namespace, a template instantiated on one of its types (the GEMM kernel
    on its vector type), Eigen's code (instantiated by the operations only), or FFTW's codelets."""
    name = name_of(function)
    return ISA_NAMESPACE in name or "Eigen::" in name or name in fftw


@pytest.mark.skipif(shutil.which("objdump") is None, reason="objdump (binutils) is not installed")
def test_only_the_cpu_operations_use_avx(eegpt_bin):
    found = functions_using_avx(eegpt_bin)
    avx = {f for f, n in found.items() if n}
    assert any(name_of(f).startswith(ISA_NAMESPACE) for f in avx), \
        "no AVX code in %s at all: are the CPU operations built for AVX2?" % ISA_NAMESPACE
    fftw = fftw_functions(eegpt_bin)
    offenders = sorted(f for f in avx if not allowed(f, fftw))
    assert offenders == [], "functions outside the CPU operations use AVX: %s" % offenders[:10]
    # The check runs on every CPU: it is in the binary, outside the exempt namespace, and plain.
    for prefix in DISPATCHER:
        mine = [f for f in found if name_of(f) == prefix]
        assert mine, "%s is not in the binary" % prefix
        assert not any(allowed(f) for f in mine) and not any(found[f] for f in mine), mine


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
