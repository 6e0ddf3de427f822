#include "recordings/synthetic_recording.h"

#include <array>
#include <cmath>
#include <random>
#include <vector>

#include "encoder/error.h"
#include "recordings/io/edf_writer.h"

namespace eegpt {
namespace {

constexpr double kTwoPi = 6.283185307179586;

struct Electrode {
    const char* label;
    double alpha_weight;  // 0 front .. 1 back
    double blink_weight;  // 1 at Fp1/Fp2
};

const Electrode kElectrodes[] = {
    {"EEG Fp1-REF", 0.0, 1.0},  {"EEG Fp2-REF", 0.0, 1.0},  {"EEG F7-REF", 0.1, 0.35}, {"EEG F3-REF", 0.1, 0.35},
    {"EEG Fz-REF", 0.1, 0.4},   {"EEG F4-REF", 0.1, 0.35},  {"EEG F8-REF", 0.1, 0.35}, {"EEG T3-REF", 0.3, 0.1},
    {"EEG C3-REF", 0.35, 0.1},  {"EEG Cz-REF", 0.35, 0.1},  {"EEG C4-REF", 0.35, 0.1}, {"EEG T4-REF", 0.3, 0.1},
    {"EEG T5-REF", 0.7, 0.05},  {"EEG P3-REF", 0.75, 0.05}, {"EEG Pz-REF", 0.8, 0.05}, {"EEG P4-REF", 0.75, 0.05},
    {"EEG T6-REF", 0.7, 0.05},  {"EEG O1-REF", 1.0, 0.02},  {"EEG O2-REF", 1.0, 0.02}};

// Paul Kellet's "economy" pink-noise filter: white noise in, ~1/f noise out.
struct PinkNoise {
    double b0 = 0, b1 = 0, b2 = 0;
    double next(double white) {
        b0 = 0.99765 * b0 + white * 0.0990460;
        b1 = 0.96300 * b1 + white * 0.2965164;
        b2 = 0.57000 * b2 + white * 1.0526913;
        return b0 + b1 + b2 + white * 0.1848;
    }
};

}  // namespace

void write_synthetic_recording(const std::string& path, const SyntheticRecordingSpec& spec) {
    if (spec.seconds < 1 || spec.rate_hz < 1 || spec.rate_hz > 100000) throw Error("synthetic recording: bad length or rate");
    const int eeg = static_cast<int>(std::size(kElectrodes));
    std::vector<EdfWriterSignal> signals;
    for (const auto& e : kElectrodes) signals.push_back({e.label, "uV", spec.rate_hz, -3276.8, 3276.7, -32768, 32767});
    if (spec.bdf)
        for (auto& s : signals) {
            s.digital_min = -8388608;
            s.digital_max = 8388607;
        }
    if (spec.with_ecg) signals.push_back({"ECG", "mV", spec.rate_hz, -5.0, 5.0, signals[0].digital_min, signals[0].digital_max});
    EdfWriter writer(path, signals, spec.bdf);

    std::mt19937_64 rng(spec.seed);
    std::normal_distribution<double> white(0.0, 1.0);
    std::uniform_real_distribution<double> uniform(0.0, 1.0);
    std::vector<PinkNoise> pink(static_cast<size_t>(eeg));
    std::vector<double> phase(static_cast<size_t>(eeg));
    for (auto& p : phase) p = kTwoPi * uniform(rng);
    const double blink_length = 0.4;
    double blink_start = 1.0 + 3.0 * uniform(rng);
    std::vector<double> record(signals.size() * static_cast<size_t>(spec.rate_hz));
    for (int second = 0; second < spec.seconds; ++second) {
        for (int i = 0; i < spec.rate_hz; ++i) {
            const double t = second + static_cast<double>(i) / spec.rate_hz;
            if (t > blink_start + blink_length) {
                blink_start += blink_length + 3.0 + 4.0 * uniform(rng);
                if (blink_start < spec.seconds) writer.annotate(blink_start, blink_length, "blink");
            }
            const double in_blink = t - blink_start;
            const double blink = in_blink >= 0 && in_blink <= blink_length
                                     ? 120.0 * 0.5 * (1.0 - std::cos(kTwoPi * in_blink / blink_length))
                                     : 0.0;
            for (int c = 0; c < eeg; ++c) {
                const Electrode& e = kElectrodes[c];
                const double envelope = 0.6 + 0.4 * std::sin(kTwoPi * 0.07 * t + c);
                const double alpha = (6.0 + 18.0 * e.alpha_weight) * envelope * std::sin(kTwoPi * 10.0 * t + phase[static_cast<size_t>(c)]);
                const double background = 4.0 * pink[static_cast<size_t>(c)].next(white(rng));
                record[static_cast<size_t>(c) * static_cast<size_t>(spec.rate_hz) + static_cast<size_t>(i)] =
                    alpha + background + e.blink_weight * blink;
            }
            if (spec.with_ecg) {
                const double beat = std::fmod(t * 1.1, 1.0) - 0.5;  // QRS complex once per beat
                record[static_cast<size_t>(eeg) * static_cast<size_t>(spec.rate_hz) + static_cast<size_t>(i)] =
                    1.0 * std::exp(-beat * beat / (2 * 0.012 * 0.012)) - 0.1;
            }
        }
        writer.write_record(record);
    }
    writer.close();
}

}  // namespace eegpt
