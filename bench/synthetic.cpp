#include "synthetic.h"

#include <cmath>
#include <random>

namespace eegpt {

std::vector<float> synthetic_eeg_windows(int batch, int channels, int samples, uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::normal_distribution<double> noise(0.0, 0.008);
    std::vector<float> x(static_cast<size_t>(batch) * channels * samples);
    const double rate = 256.0, two_pi = 6.283185307179586;
    for (int b = 0; b < batch; ++b)
        for (int c = 0; c < channels; ++c)
            for (int t = 0; t < samples; ++t) {
                double time = (b * samples + t) / rate;
                double alpha = 0.02 * std::sin(two_pi * 10.0 * time + 0.3 * c);
                double drift = 0.01 * std::sin(two_pi * 0.3 * time + c);
                x[(static_cast<size_t>(b) * channels + c) * samples + t] = static_cast<float>(alpha + drift + noise(rng));
            }
    return x;
}

}  // namespace eegpt
