// A deterministic synthetic EEG recording written as a real EDF+ (or BDF+) file: the demo's input
// and the tests' long recordings. A stand-in, never a recording of a brain.
#pragma once
#include <cstdint>
#include <string>

namespace eegpt {

struct SyntheticRecordingSpec {
    int seconds = 60;     // whole 1 s data records
    int rate_hz = 500;    // not 256, so that the engine resamples
    bool bdf = false;     // BDF+ (24-bit) instead of EDF+
    bool with_ecg = true;  // an ECG signal, which the engine drops
    uint64_t seed = 1;
};

// 19 channels labelled as clinical systems write them ("EEG Fp1-REF", old names T3 T4 T5 T6), in
// microvolts: a 10 Hz alpha rhythm strongest at the back and waxing and waning, a 1/f background,
// and eye blinks at the front every 3 to 7 s; plus "ECG" in millivolts and one annotation per blink.
// Written block by block: memory does not depend on `seconds`.
void write_synthetic_recording(const std::string& path, const SyntheticRecordingSpec& spec);

}  // namespace eegpt
