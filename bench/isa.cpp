// The CPU operations' ISA level the CPU cases run with (engine/encoder/cpu/ops.h): the best this CPU
// has, or what EEGPT_CPU_ISA names.
#include <string>

#include "bench_util.h"
#include "encoder/cpu/ops.h"
#include "encoder/error.h"

namespace bench {

std::string run_time_isa() {
    try {
        return eegpt::cpu::to_string(eegpt::cpu::default_isa()) + " (of avx2, avx512: chosen at run time)";
    } catch (const eegpt::Error& e) {
        return std::string("none: ") + e.what();
    }
}

}  // namespace bench
