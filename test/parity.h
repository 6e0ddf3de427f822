// What "the same numbers" means, per precision, for every test that compares a backend with a
// reference: the relative error of the whole output (||got - expected|| / ||expected||) and, for
// bf16, the cosine of every window. Shared by the parity table (test_encoder.cpp) and the CUDA
// tests (test_cuda.cpp).
#pragma once
#include <algorithm>
#include <cmath>
#include <vector>

#include "encoder/encoder.h"

namespace eegpt_test {

struct PrecisionBound {
    eegpt::Precision precision;
    double relative;    // bound on the relative error of the whole output
    double min_cosine;  // bound on the cosine of every window (0: not checked)
};
constexpr PrecisionBound kPrecisionBounds[] = {{eegpt::Precision::fp32, 1e-5, 0.0},
                                               {eegpt::Precision::tf32, 2e-3, 0.0},
                                               {eegpt::Precision::bf16, 2e-2, 0.999}};

inline const PrecisionBound& bound_for(eegpt::Precision precision) {
    return *std::find_if(std::begin(kPrecisionBounds), std::end(kPrecisionBounds),
                         [&](const PrecisionBound& b) { return b.precision == precision; });
}

// The smallest cosine between the windows of a and b (batch windows each); NaN if any is NaN.
template <typename A, typename B>
double min_window_cosine(const std::vector<A>& a, const std::vector<B>& b, int batch) {
    const size_t per = b.size() / static_cast<size_t>(batch);
    double worst = 1.0;
    for (int w = 0; w < batch; ++w) {
        double ab = 0, aa = 0, bb = 0;
        for (size_t i = static_cast<size_t>(w) * per; i < static_cast<size_t>(w + 1) * per; ++i) {
            ab += static_cast<double>(a[i]) * static_cast<double>(b[i]);
            aa += static_cast<double>(a[i]) * static_cast<double>(a[i]);
            bb += static_cast<double>(b[i]) * static_cast<double>(b[i]);
        }
        const double cosine = ab / std::sqrt(aa * bb);
        if (std::isnan(cosine)) return cosine;  // fails every check
        worst = std::min(worst, cosine);
    }
    return worst;
}

// encode into a NaN-filled buffer, so that an unwritten element fails every check.
inline std::vector<float> encode_with(eegpt::Encoder& encoder, const std::vector<float>& x, int batch, int channels,
                                      int samples, const std::vector<int>& ids) {
    std::vector<float> out(encoder.output_size(batch, samples), std::nanf(""));
    encoder.encode(x.data(), batch, channels, samples, ids.data(), out.data());
    return out;
}

}  // namespace eegpt_test
