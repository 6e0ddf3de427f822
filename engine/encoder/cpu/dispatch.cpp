// Picking the CPU operations' ISA level (cpu/ops.h). Compiled for plain x86-64, like everything
// outside cpu/ops.cpp, so that a CPU without AVX2 reaches the check and gets its one line.
#include <cstdlib>

#include "encoder/cpu/ops.h"
#include "encoder/error.h"
#include "encoder/module_loader.h"

namespace eegpt::cpu {
namespace {

bool cpu_has_avx2() {
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("bmi2");
}
// x86-64-v4: what -march=x86-64-v4 lets the compiler use.
bool cpu_has_avx512() {
    return cpu_has_avx2() && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512cd");
}

// The AVX-512 module, opened on first use.
struct Avx512Module {
    static Avx512Module& get() {
        static Avx512Module module;
        return module;
    }
    LoadedModule module = open_module("libeegpt_cpu_avx512.so", "EEGPT_CPU_AVX512_MODULE",
                                      "the AVX-512 CPU operations", "eegpt_cpu_ops_module_version",
                                      "it is built with the encoder library");
    const Ops* table = nullptr;

private:
    Avx512Module() {
        auto entry = reinterpret_cast<const Ops* (*)()>(module.symbol("eegpt_cpu_ops_table"));
        if (entry) table = entry();
    }
};

}  // namespace

std::string to_string(Isa isa) { return isa == Isa::avx2 ? "avx2" : "avx512"; }

Isa parse_isa(const std::string& name) {
    if (name == "avx2") return Isa::avx2;
    if (name == "avx512") return Isa::avx512;
    throw Error("unknown CPU ISA level '" + name + "' (use avx2 or avx512)");
}

std::string isa_unavailable_reason(Isa isa) {
    if (!cpu_has_avx2()) return "this CPU lacks AVX2, FMA or BMI2, which the CPU backend needs (x86-64-v3)";
    if (isa == Isa::avx2) return "";
    if (!cpu_has_avx512())
        return "this CPU lacks AVX-512 (avx512f, avx512bw, avx512vl, avx512dq, avx512cd: x86-64-v4)";
    return Avx512Module::get().module.error;
}

std::string bf16_unavailable_reason(Isa isa) {
    if (!(cpu_has_avx512() && __builtin_cpu_supports("avx512bf16")))
        return "bf16 on the cpu needs AVX512_BF16 (VDPBF16PS), which this CPU lacks (use --precision fp32, or a CPU "
               "with it: AMD Zen 4 or later, Intel Cooper Lake or Sapphire Rapids and later)";
    if (isa != Isa::avx512) return "bf16 on the cpu needs the avx512 CPU operations (EEGPT_CPU_ISA chose " + to_string(isa) + ")";
    return isa_unavailable_reason(isa);
}

std::string int8_vnni_unavailable_reason(Isa isa) {
    if (isa == Isa::avx2 && !(cpu_has_avx2() && __builtin_cpu_supports("avxvnni")))
        return "this CPU lacks AVX-VNNI (VPDPBUSD on ymm: Intel Alder Lake, AMD Zen 5 and later)";
    if (isa == Isa::avx512 && !(cpu_has_avx512() && __builtin_cpu_supports("avx512vnni")))
        return "this CPU lacks AVX512_VNNI (VPDPBUSD on zmm: Intel Cascade Lake, AMD Zen 4 and later)";
    return isa_unavailable_reason(isa);
}

Int8Kernel int8_tile(const Ops& ops) {
    return int8_vnni_unavailable_reason(ops.isa).empty() ? ops.int8_vnni : ops.int8_maddubs;
}

std::string int8_kernel_name(const Ops& ops) {
    if (!int8_vnni_unavailable_reason(ops.isa).empty()) return "vpmaddubsw (" + to_string(ops.isa) + "), 7-bit weights";
    return ops.isa == Isa::avx2 ? "vpdpbusd ymm (avx-vnni), 8-bit weights" : "vpdpbusd zmm (avx512-vnni), 8-bit weights";
}

Isa default_isa() {
    if (const char* forced = std::getenv("EEGPT_CPU_ISA")) {
        const Isa isa = parse_isa(forced);
        const std::string why = isa_unavailable_reason(isa);
        if (!why.empty()) throw Error("EEGPT_CPU_ISA=" + std::string(forced) + ": " + why);
        return isa;
    }
    if (isa_unavailable_reason(Isa::avx512).empty()) return Isa::avx512;
    const std::string why = isa_unavailable_reason(Isa::avx2);
    if (!why.empty()) throw Error(why);
    return Isa::avx2;
}

const Ops& ops(Isa isa) {
    const std::string why = isa_unavailable_reason(isa);
    if (!why.empty()) throw Error(why);
    return isa == Isa::avx2 ? avx2::table() : *Avx512Module::get().table;
}

}  // namespace eegpt::cpu
