// The compute ceilings of the bench's roofline: GFLOP/s of one thread on registers alone (no memory
// traffic), measured for about `seconds`, with the instructions of one ISA level of the CPU
// operations (engine/encoder/cpu/ops.h).
#pragma once
#include "encoder/cpu/ops.h"

namespace bench {

using PeakLoop = double (*)(double seconds);

// Fused multiply-adds with the vectors of `isa` (AVX2: 8 lanes, AVX-512: 16); run it only where
// eegpt::cpu::isa_unavailable_reason(isa) is empty.
PeakLoop fma_peak_loop(eegpt::cpu::Isa isa);
// AVX512_BF16's VDPBF16PS; run it only where eegpt::cpu::bf16_unavailable_reason(Isa::avx512) is empty.
double bf16_peak_gflops(double seconds);

}  // namespace bench
