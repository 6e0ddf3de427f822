// The targets of the benchmark spec, in one place. Every case that has a target names one of these;
// the figure compared with it is the case's median (or a figure derived from it, e.g. x real time).
#pragma once

namespace bench {

struct Target {
    const char* key;
    double value;
    const char* unit;
    bool lower_is_better;  // true: PASS when the figure is below `value`; false: PASS when at or above
};

inline constexpr Target kSingleWindowCpu{"single_window_cpu", 50.0, "ms", true};
inline constexpr Target kSingleWindowGpu{"single_window_gpu", 25.0, "ms", true};
inline constexpr Target kRecording20Min{"recording_20min", 120.0, "s", true};
inline constexpr Target kPeakMemory{"peak_memory", 2048.0, "MB", true};
inline constexpr Target kGpuSpeedup{"gpu_speedup", 2.0, "x", false};
inline constexpr Target kThroughput{"throughput", 10.0, "x real time", false};
// --precision int8 on a 2-core AVX2 CPU (docs/cpu.md, "int8"), judged in the comparison with ONNX
// Runtime's quantize_dynamic models: our one window and our batch of 32 per window (the case's own
// benchmark), our speed over each quantized peer's (its mean over our calls taken in turns with it),
// and our error over the peer's against the same fp32 reference (the larger of the two ratios,
// relative error and 1 - min window cosine; below 1: ours at least as exact on both).
inline constexpr Target kInt8WindowCpu{"int8_single_window_cpu", 55.0, "ms", true};
inline constexpr Target kInt8BatchCpu{"int8_batch32_per_window_cpu", 52.0, "ms", true};
inline constexpr Target kInt8OverQuantizedPeer{"int8_speedup_over_quantized_peer", 1.3, "x", false};
inline constexpr Target kInt8ErrorToQuantizedPeer{"int8_error_to_quantized_peer", 1.0, "x", true};

inline constexpr const Target* kAllTargets[] = {&kSingleWindowCpu, &kSingleWindowGpu, &kRecording20Min,
                                                &kPeakMemory,      &kGpuSpeedup,      &kThroughput,
                                                &kInt8WindowCpu,   &kInt8BatchCpu,    &kInt8OverQuantizedPeer,
                                                &kInt8ErrorToQuantizedPeer};

}  // namespace bench
