// Zero-phase IIR filtering as scipy.signal.sosfiltfilt does it (odd extension of 3 x (2 sections
// + 1) samples at both ends, steady-state initial conditions from sosfilt_zi, forward then
// backward), with the filters scipy designs:
//   band-pass: butter(order, [low, high], 'bandpass', fs=rate, output='sos')
//   notch:     tf2sos(*iirnotch(f0, Q, fs=rate))
// both in one cascade (band-pass sections first), i.e. sosfiltfilt(vstack([bandpass, notch]), x).
//
// Zero-phase filtering needs the whole signal; a recording is filtered in chunks instead, each
// with `context` seconds of signal on both sides (ChunkedZeroPhase). At the recording's two ends
// this is exactly scipy's result; inside, the difference is the filter's impulse response beyond
// the context, below 1e-7 of the signal for the default context (10 s + 9 / low cutoff).
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace eegpt {

using Biquad = std::array<double, 6>;  // b0 b1 b2 a0(=1) a1 a2, as one row of scipy's sos

struct FilterOptions {
    double bandpass_low_hz = 0, bandpass_high_hz = 0;  // both 0: no band-pass
    int bandpass_order = 4;
    double notch_hz = 0;  // 0: no notch
    double notch_q = 30;
    bool enabled() const { return bandpass_high_hz > 0 || notch_hz > 0; }
};

// The sections of the cascade; throws Error on frequencies outside (0, rate / 2) or low >= high.
std::vector<Biquad> design_filters(const FilterOptions& options, double rate_hz);
std::vector<Biquad> butter_bandpass(int order, double low_hz, double high_hz, double rate_hz);
Biquad iir_notch(double f0_hz, double q, double rate_hz);

// scipy.signal.sosfiltfilt(sos, x) with its defaults (padtype 'odd'). Throws Error when x is not
// longer than the padding (3 x (2 sections + 1) samples).
std::vector<double> sosfiltfilt(const std::vector<Biquad>& sos, const std::vector<double>& x);

// Context on each side of a chunk, in seconds, for these options.
double filter_context_seconds(const FilterOptions& options);

// Streaming zero-phase filter of one channel: push samples, receive filtered samples with a delay
// of up to chunk + context samples; finish() flushes. Memory: chunk + 2 x context samples.
class ChunkedZeroPhase {
public:
    ChunkedZeroPhase(std::vector<Biquad> sos, int64_t chunk, int64_t context);
    void push(const double* x, size_t n, std::vector<double>& out);
    void finish(std::vector<double>& out);

private:
    void run(int64_t end, bool last, std::vector<double>& out);

    std::vector<Biquad> sos_;
    int64_t chunk_, context_;
    std::vector<double> buffer_;  // x[buffer_start_ ..]
    int64_t buffer_start_ = 0, emitted_ = 0;
};

}  // namespace eegpt
