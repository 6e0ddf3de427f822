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
// The int8 kernels' instructions (GOPS, 2 per u8 x s8 product): VPMADDUBSW + VPMADDWD + VPADDD on ymm (AVX2),
// VPDPBUSD on ymm (AVX-VNNI) or on zmm (AVX512_VNNI); run one only where the CPU has it.
enum class Int8PeakKind { maddubs, avxvnni, avx512vnni };
PeakLoop int8_peak_loop(Int8PeakKind kind);

// The ceiling of `loop` on the calling thread: the best rate of `slices` back-to-back runs that take
// `seconds` in all. A disturbance (another process, the hypervisor taking the core, an interrupt)
// only ever lowers a run's rate, so the best short run is the machine's, where one long run would
// average the disturbance into the ceiling and make a kernel read above 100% of it.
double best_rate(PeakLoop loop, double seconds, int slices = 10);
// The ceiling of `loop` on `threads` threads at once (each its best_rate over `seconds`): their sum.
double all_threads_rate(PeakLoop loop, int threads, double seconds);

}  // namespace bench
