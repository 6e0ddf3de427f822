// Deterministic synthetic EEG for the demo job and tests: a stand-in, never a real recording.
#pragma once
#include <cstdint>
#include <vector>

namespace eegpt {

// batch x channels x samples floats in millivolts at 256 Hz: a 10 Hz alpha rhythm of ~20 uV with a
// channel-dependent phase, slow drift and white noise, all from a fixed seed.
std::vector<float> synthetic_eeg_windows(int batch, int channels, int samples, uint64_t seed);

}  // namespace eegpt
