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

inline constexpr const Target* kAllTargets[] = {&kSingleWindowCpu, &kSingleWindowGpu, &kRecording20Min,
                                                &kPeakMemory,      &kGpuSpeedup,      &kThroughput};

}  // namespace bench
