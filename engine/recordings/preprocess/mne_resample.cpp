// MNE's FFT resampling; see mne_resample.h for the definition followed.
#include "recordings/preprocess/mne_resample.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>

#include "encoder/error.h"
#include "recordings/preprocess/real_fft.h"

namespace eegpt {
namespace {

// int(round(v)) in Python: half to even (std::nearbyint in the default rounding mode).
int64_t py_round(double v) {
    if (!(std::fabs(v) < 9e15)) throw Error("mne resample: a length of " + format_number(v) + " samples is out of range");
    return static_cast<int64_t>(std::nearbyint(v));
}

void check_rates(double from_hz, double to_hz) {
    if (!std::isfinite(from_hz) || from_hz <= 0 || !std::isfinite(to_hz) || to_hz <= 0)
        throw Error("mne resample " + format_number(from_hz) + " Hz -> " + format_number(to_hz) +
                    " Hz: both rates must be positive numbers");
}

std::vector<double> resample(const std::vector<double>& x, double from_hz, double to_hz, bool reflect) {
    check_rates(from_hz, to_hz);
    const auto n = static_cast<int64_t>(x.size());
    if (n == 0) throw Error("mne resample: the channel is empty");
    const double ratio = to_hz / from_hz;
    const int64_t final_len = std::max<int64_t>(py_round(ratio * static_cast<double>(n)), 1);
    // npad 'auto': up to the next power of two with at least min_add samples of padding.
    const int64_t min_add = std::min<int64_t>(n / 8, 100) * 2;
    int64_t pow2 = 1;
    while (pow2 < n + min_add) pow2 *= 2;
    const int64_t npad_total = pow2 - n;
    const int64_t pad0 = npad_total / 2, pad1 = npad_total - pad0;
    const int64_t old_len = n + npad_total;
    const int64_t new_len = std::max<int64_t>(py_round(ratio * static_cast<double>(old_len)), 1);
    const int64_t remove0 = py_round(ratio * static_cast<double>(pad0));
    const int64_t remove1 = new_len - final_len - remove0;
    if (remove0 < 0 || remove1 < 0 || remove0 + final_len > new_len)
        throw Error("mne resample " + format_number(from_hz) + " Hz -> " + format_number(to_hz) + " Hz of " +
                    std::to_string(n) + " samples: MNE's padding arithmetic does not fit");

    // The two transforms never live together: the bins the inverse keeps are copied out and the
    // forward transform freed first (a whole channel's FFT is the memory that matters here).
    const int64_t new_bins = new_len / 2 + 1;
    std::vector<std::complex<double>> kept(static_cast<size_t>(new_bins), std::complex<double>(0.0, 0.0));
    {
        RealFft forward(old_len);
        double* p = forward.real();
        // _smart_pad reflect_limited: pad[t] = 2 x[0] - x[pad0 - t] (0 past x's end) at the start,
        // pad[t] = 2 x[-1] - x[n - 2 - t] (0 past x's start) at the end.
        for (int64_t t = 0; t < pad0; ++t) {
            const int64_t k = pad0 - t;
            p[t] = reflect && k <= n - 1 ? 2 * x[0] - x[static_cast<size_t>(k)] : 0.0;
        }
        std::copy(x.begin(), x.end(), p + pad0);
        for (int64_t t = 0; t < pad1; ++t) {
            const int64_t j = n - 2 - t;
            p[pad0 + n + t] = reflect && j >= 0 ? 2 * x.back() - x[static_cast<size_t>(j)] : 0.0;
        }
        forward.forward();
        std::complex<double>* spectrum = forward.spectrum();
        const bool shorter = new_len < old_len;
        const int64_t use_len = shorter ? new_len : old_len;
        if (use_len % 2 == 0) spectrum[use_len / 2] *= shorter ? 2.0 : 0.5;
        const double window = 1.0 * (static_cast<double>(new_len) / static_cast<double>(old_len));  // boxcar
        const int64_t common = std::min(forward.bins(), new_bins);
        for (int64_t k = 0; k < common; ++k) kept[static_cast<size_t>(k)] = spectrum[k] * window;
    }
    RealFft inverse(new_len);
    std::copy(kept.begin(), kept.end(), inverse.spectrum());
    kept = std::vector<std::complex<double>>();
    inverse.inverse();
    const double* y = inverse.real();
    const double scale = 1.0 / static_cast<double>(new_len);
    std::vector<double> out(static_cast<size_t>(final_len));
    for (int64_t i = 0; i < final_len; ++i) out[static_cast<size_t>(i)] = y[remove0 + i] * scale;
    return out;
}

}  // namespace

int64_t mne_resample_length(int64_t n, double from_hz, double to_hz) {
    check_rates(from_hz, to_hz);
    return std::max<int64_t>(py_round(to_hz / from_hz * static_cast<double>(n)), 1);
}

std::vector<double> mne_resample(const std::vector<double>& x, double from_hz, double to_hz) {
    return resample(x, from_hz, to_hz, true);
}

std::vector<double> mne_resample_zero_padded(const std::vector<double>& x, double from_hz, double to_hz) {
    return resample(x, from_hz, to_hz, false);
}

}  // namespace eegpt
