// The input conventions of the released EEGPT model, spelled out once: every place that cuts,
// resamples or labels windows for it takes them from here.
#pragma once
#include <array>

namespace eegpt {

constexpr double kModelRateHz = 256.0;  // the rate the model was trained at
constexpr int kWindowSamples = 1024;    // one window: 4 s at 256 Hz

// The 10-20 montage of 19 electrodes in dictionary names (T7/T8/P7/P8 for the old T3/T4/T5/T6).
constexpr std::array<const char*, 19> kStandard19Montage = {"FP1", "FP2", "F7", "F3", "FZ", "F4", "F8",
                                                            "T7",  "C3",  "CZ", "C4", "T8", "P7", "P3",
                                                            "PZ",  "P4",  "P8", "O1", "O2"};

}  // namespace eegpt
