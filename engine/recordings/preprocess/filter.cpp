#include "recordings/preprocess/filter.h"

#include <algorithm>
#include <cmath>
#include <complex>
#include <string>

#include "encoder/error.h"

namespace eegpt {
namespace {

constexpr double kPi = 3.14159265358979323846;
using Complex = std::complex<double>;

// Below 0.01 Hz the designs degenerate (coefficients round to a pole on the unit circle) and the
// zero-phase context (9 / LOW seconds) grows without bound.
constexpr double kMinFilterHz = 0.01;

void check_frequency(double f, double rate_hz, const char* what) {
    if (!(f >= kMinFilterHz) || !(f < rate_hz / 2))
        throw Error(std::string(what) + " " + format_number(f) +
                    " Hz must be between 0.01 Hz and the Nyquist frequency " + format_number(rate_hz / 2) + " Hz");
}

// scipy.signal.lfilter_zi for one biquad (a0 = 1), solved in closed form.
std::array<double, 2> biquad_zi(const Biquad& s) {
    const double b0 = s[0], b1 = s[1], b2 = s[2], a1 = s[4], a2 = s[5];
    const double B0 = b1 - a1 * b0, B1 = b2 - a2 * b0;
    const double z0 = (B0 + B1) / (1.0 + a1 + a2);
    return {z0, B1 - a2 * z0};
}

// scipy.signal.sosfilt with initial state zi (per section), in place.
void sosfilt(const std::vector<Biquad>& sos, std::vector<std::array<double, 2>> zi, std::vector<double>& x) {
    for (double& v : x) {
        double cur = v;
        for (size_t s = 0; s < sos.size(); ++s) {
            const Biquad& c = sos[s];
            auto& z = zi[s];
            const double y = c[0] * cur + z[0];
            z[0] = c[1] * cur - c[4] * y + z[1];
            z[1] = c[2] * cur - c[5] * y;
            cur = y;
        }
        v = cur;
    }
}

}  // namespace

std::vector<Biquad> butter_bandpass(int order, double low_hz, double high_hz, double rate_hz) {
    if (order < 1 || order > 12) throw Error("band-pass order must be 1..12, got " + std::to_string(order));
    check_frequency(low_hz, rate_hz, "band-pass low edge");
    check_frequency(high_hz, rate_hz, "band-pass high edge");
    if (!(low_hz < high_hz)) throw Error("band-pass low edge must be below the high edge");
    // scipy: pre-warp for the bilinear transform with fs = 2, analog Butterworth prototype,
    // low-pass to band-pass, bilinear transform.
    const double w1 = 4.0 * std::tan(kPi * (2.0 * low_hz / rate_hz) / 2.0);
    const double w2 = 4.0 * std::tan(kPi * (2.0 * high_hz / rate_hz) / 2.0);
    const double bw = w2 - w1, wo = std::sqrt(w1 * w2);
    std::vector<Complex> poles;
    for (int m = -order + 1; m < order; m += 2) {
        const Complex p = -std::exp(Complex(0, kPi * m / (2.0 * order))) * (bw / 2.0);
        const Complex root = std::sqrt(p * p - wo * wo);
        poles.push_back(p + root);
        poles.push_back(p - root);
    }
    double gain = std::pow(bw, order);  // k of the analog band-pass
    Complex den(1, 0);
    for (const auto& p : poles) den *= 4.0 - p;
    gain *= std::real(std::pow(Complex(4.0, 0), order) / den);  // bilinear: prod(fs2 - z) / prod(fs2 - p), order zeros at 0
    std::vector<Biquad> sos;
    for (const auto& p : poles) {
        const Complex pz = (4.0 + p) / (4.0 - p);
        if (pz.imag() <= 0) continue;  // one of each conjugate pair
        sos.push_back({1.0, 0.0, -1.0, 1.0, -2.0 * pz.real(), std::norm(pz)});
    }
    if (static_cast<int>(sos.size()) != order) throw Error("band-pass design failed (poles not in conjugate pairs)");
    for (int k = 0; k < 3; ++k) sos[0][static_cast<size_t>(k)] *= gain;
    return sos;
}

Biquad iir_notch(double f0_hz, double q, double rate_hz) {
    check_frequency(f0_hz, rate_hz, "notch frequency");
    if (!(q > 0) || !(q <= 1000)) throw Error("notch quality factor must be between 0 and 1000");
    const double w0 = 2.0 * f0_hz / rate_hz;
    const double bw = w0 / q * kPi;
    const double beta = std::tan(bw / 2.0);  // scipy: sqrt(1 - gb^2) / gb * tan(bw / 2), gb = 1 / sqrt(2)
    const double gain = 1.0 / (1.0 + beta);
    const double c = std::cos(w0 * kPi);
    return {gain, -2.0 * gain * c, gain, 1.0, -2.0 * gain * c, 2.0 * gain - 1.0};
}

std::vector<Biquad> design_filters(const FilterOptions& options, double rate_hz) {
    std::vector<Biquad> sos;
    if (options.bandpass_low_hz > 0 || options.bandpass_high_hz > 0)
        sos = butter_bandpass(options.bandpass_order, options.bandpass_low_hz, options.bandpass_high_hz, rate_hz);
    if (options.notch_hz > 0) sos.push_back(iir_notch(options.notch_hz, options.notch_q, rate_hz));
    return sos;
}

std::vector<double> sosfiltfilt(const std::vector<Biquad>& sos, const std::vector<double>& x) {
    if (sos.empty()) return x;
    const int64_t edge = 3 * (2 * static_cast<int64_t>(sos.size()) + 1);
    const int64_t n = static_cast<int64_t>(x.size());
    if (n <= edge)
        throw Error("signal of " + std::to_string(n) + " samples is too short to filter (needs more than " +
                    std::to_string(edge) + ")");
    std::vector<double> ext;
    ext.reserve(static_cast<size_t>(n + 2 * edge));
    for (int64_t i = edge; i >= 1; --i) ext.push_back(2.0 * x[0] - x[static_cast<size_t>(i)]);
    ext.insert(ext.end(), x.begin(), x.end());
    for (int64_t i = n - 2; i >= n - 1 - edge; --i) ext.push_back(2.0 * x[static_cast<size_t>(n - 1)] - x[static_cast<size_t>(i)]);
    // sosfilt_zi: each section's lfilter_zi, scaled by the DC gain of the sections before it.
    std::vector<std::array<double, 2>> zi(sos.size());
    double scale = 1.0;
    for (size_t s = 0; s < sos.size(); ++s) {
        auto z = biquad_zi(sos[s]);
        zi[s] = {scale * z[0], scale * z[1]};
        scale *= (sos[s][0] + sos[s][1] + sos[s][2]) / (sos[s][3] + sos[s][4] + sos[s][5]);
    }
    auto scaled = [&](double v) {
        auto z = zi;
        for (auto& e : z) e = {e[0] * v, e[1] * v};
        return z;
    };
    sosfilt(sos, scaled(ext.front()), ext);
    std::reverse(ext.begin(), ext.end());
    sosfilt(sos, scaled(ext.front()), ext);
    std::reverse(ext.begin(), ext.end());
    return std::vector<double>(ext.begin() + edge, ext.end() - edge);
}

double filter_context_seconds(const FilterOptions& options) {
    double context = 10.0;
    if (options.bandpass_low_hz > 0) context += 9.0 / options.bandpass_low_hz;
    return context;
}

ChunkedZeroPhase::ChunkedZeroPhase(std::vector<Biquad> sos, int64_t chunk, int64_t context)
    : sos_(std::move(sos)), chunk_(chunk), context_(context) {}

void ChunkedZeroPhase::run(int64_t end, bool last, std::vector<double>& out) {
    const int64_t segment_start = buffer_start_;
    std::vector<double> segment(buffer_.begin(), buffer_.begin() + (end - segment_start));
    std::vector<double> y = sosfiltfilt(sos_, segment);
    const int64_t count = last ? end - emitted_ : chunk_;
    const auto from = y.begin() + (emitted_ - segment_start);
    out.insert(out.end(), from, from + count);
    emitted_ += count;
    const int64_t keep_from = std::max<int64_t>(0, emitted_ - context_);
    buffer_.erase(buffer_.begin(), buffer_.begin() + (keep_from - buffer_start_));
    buffer_start_ = keep_from;
}

void ChunkedZeroPhase::push(const double* x, size_t n, std::vector<double>& out) {
    buffer_.insert(buffer_.end(), x, x + n);
    while (buffer_start_ + static_cast<int64_t>(buffer_.size()) >= emitted_ + chunk_ + context_)
        run(emitted_ + chunk_ + context_, false, out);
}

void ChunkedZeroPhase::finish(std::vector<double>& out) {
    const int64_t received = buffer_start_ + static_cast<int64_t>(buffer_.size());
    if (received > emitted_) run(received, true, out);
}

}  // namespace eegpt
