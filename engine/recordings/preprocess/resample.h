// Polyphase resampling that computes what scipy.signal.resample_poly(x, up, down) computes with its
// defaults (window ('kaiser', 5.0), padtype 'constant' = zeros beyond both ends), in float64, but
// streaming: samples go in block by block and the resampler keeps only the filter's history.
//
// scipy's definition, which this follows exactly:
//   up, down divided by their gcd; max_rate = max(up, down); half_len = 10 * max_rate;
//   h = firwin(2 * half_len + 1, 1 / max_rate, window=('kaiser', 5.0)) * up;
//   n_out = ceil(n_in * up / down);
//   y[j] = sum_m h[j * down + half_len - m * up] * x[m]   (terms with the h index outside
//          0..2*half_len, or m outside 0..n_in-1, are zero).
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace eegpt {

// scipy.signal.firwin(taps, cutoff, window=('kaiser', beta)) for a low-pass with cutoff relative
// to Nyquist (pass_zero, scale: unit gain at DC).
std::vector<double> firwin_kaiser_lowpass(int taps, double cutoff, double beta = 5.0);

// up/down reduced by their gcd. Throws Error when the ratio would need an unreasonably long filter.
struct ResampleRatio {
    int64_t up = 1, down = 1;
};
ResampleRatio resample_ratio(int64_t up, int64_t down);

class PolyphaseResampler {
public:
    PolyphaseResampler(int64_t up, int64_t down);
    // Appends the outputs that the samples seen so far determine.
    void push(const double* x, size_t n, std::vector<double>& out);
    // End of input: appends the remaining outputs, ceil(n_in * up / down) in all.
    void finish(std::vector<double>& out);
    int64_t up() const { return up_; }
    int64_t down() const { return down_; }

private:
    void emit(int64_t limit_j, std::vector<double>& out);

    int64_t up_, down_, half_len_;
    std::vector<std::vector<double>> phases_;  // phases_[p][q] = h[p + q * up]
    std::vector<double> history_;              // x[history_start_ ..]
    int64_t history_start_ = 0, received_ = 0, next_j_ = 0;
    bool passthrough_ = false;
};

// Whole-signal convenience (tests, small inputs): the same numbers as the streaming form.
std::vector<double> resample_poly(const std::vector<double>& x, int64_t up, int64_t down);

}  // namespace eegpt
