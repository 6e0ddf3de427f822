#include "recordings/preprocess/filter.h"

#include <algorithm>
#include <cmath>
#include <complex>
#include <limits>
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

// numpy's complex division (Smith's method, as numpy computes it), so that the bilinear transform
// and the gain round as scipy's do: that matters where the design is ill-conditioned (see below).
Complex divide(Complex a, Complex b) {
    if (std::fabs(b.real()) >= std::fabs(b.imag())) {
        const double rat = b.imag() / b.real(), scl = 1.0 / (b.real() + b.imag() * rat);
        return {(a.real() + a.imag() * rat) * scl, (a.imag() - a.real() * rat) * scl};
    }
    const double rat = b.real() / b.imag(), scl = 1.0 / (b.imag() + b.real() * rat);
    return {(a.real() * rat + a.imag()) * scl, (a.imag() * rat - a.real()) * scl};
}

struct Pole {
    Complex z;  // a real pole, or one of a conjugate pair (positive imaginary part)
    bool real;
};

// zpk2sos's "worst" pole: the one closest to the unit circle, the first of equals; among the real
// poles only if real_only. poles.size() when there is none.
size_t worst_pole(const std::vector<Pole>& poles, bool real_only) {
    size_t worst = poles.size();
    for (size_t i = 0; i < poles.size(); ++i)
        if ((poles[i].real || !real_only) &&
            (worst == poles.size() || std::fabs(1.0 - std::abs(poles[i].z)) < std::fabs(1.0 - std::abs(poles[worst].z))))
            worst = i;
    return worst;
}

}  // namespace

// scipy.signal.butter(order, [low, high], 'bandpass', fs=rate, output='sos') step by step, in
// scipy's arithmetic and order: buttap, lp2bp_zpk, bilinear_zpk (fs = 2), zpk2sos (pairing
// 'nearest'), so the sections are scipy's, in its order. The pairing is what keeps wide bands of
// high order finite: each pole pair gets the zeros (at z = 1 or z = -1) nearest to it, so no
// section amplifies what a later one removes. Odd orders have two real poles (from the real
// prototype pole) when the band is wide; they share a section.
// Conditioning: the poles near z = 1 come out of p - sqrt(p^2 - wo^2) with cancellation, so even
// scipy's carry a relative error of about eps x w2 / w1 (the pre-warped edges): 7e7 x eps for 0.01
// to 127.99 Hz at 256 Hz. Following scipy's arithmetic keeps to its rounding there.
std::vector<Biquad> butter_bandpass(int order, double low_hz, double high_hz, double rate_hz) {
    if (order < 1 || order > 12) throw Error("band-pass order must be 1..12, got " + std::to_string(order));
    check_frequency(low_hz, rate_hz, "band-pass low edge");
    check_frequency(high_hz, rate_hz, "band-pass high edge");
    if (!(low_hz < high_hz)) throw Error("band-pass low edge must be below the high edge");
    const double w1 = 4.0 * std::tan(kPi * (2.0 * low_hz / rate_hz) / 2.0);  // pre-warped, fs = 2
    const double w2 = 4.0 * std::tan(kPi * (2.0 * high_hz / rate_hz) / 2.0);
    const double bw = w2 - w1, wo = std::sqrt(w1 * w2);
    // Analog band-pass poles: each prototype pole p gives p + sqrt(p^2 - wo^2), then all p - sqrt(..).
    const auto n = static_cast<size_t>(order);
    std::vector<Complex> analog(2 * n);
    for (size_t i = 0; i < n; ++i) {
        // The angle pi m / (2 order), m = 1 - order, 3 - order, .., as numpy rounds it (times the reciprocal).
        const double angle = kPi * (2 * static_cast<int>(i) - order + 1) * (1.0 / (2.0 * order));
        const Complex p = -std::exp(Complex(0, angle)) * bw / 2.0;
        const Complex root = std::sqrt(p * p - wo * wo);
        analog[i] = p + root;
        analog[n + i] = p - root;
    }
    // Gain: bw^order of the analog band-pass, times prod(4 - zero) / prod(4 - pole) of the bilinear
    // transform (`order` analog zeros at 0, which go to z = 1; the other `order` zeros are at -1).
    Complex den(1, 0);
    for (const Complex& p : analog) den *= 4.0 - p;
    const double gain = std::pow(bw, order) * divide(Complex(std::pow(4.0, order), 0), den).real();
    // Digital poles as scipy's _cplxreal lists them: one of each conjugate pair (exact conjugates
    // here, from the mirrored prototype poles) by real then imaginary part, then the real ones.
    std::vector<Pole> poles, real_poles;
    for (const Complex& p : analog) {
        const Complex z = divide(4.0 + p, 4.0 - p);
        if (std::fabs(z.imag()) <= 100 * std::numeric_limits<double>::epsilon() * std::abs(z))
            real_poles.push_back({Complex(z.real(), 0), true});
        else if (z.imag() > 0)
            poles.push_back({z, false});
    }
    auto by_value = [](const Pole& a, const Pole& b) {
        return a.z.real() != b.z.real() ? a.z.real() < b.z.real() : a.z.imag() < b.z.imag();
    };
    std::sort(poles.begin(), poles.end(), by_value);
    std::sort(real_poles.begin(), real_poles.end(), by_value);
    poles.insert(poles.end(), real_poles.begin(), real_poles.end());
    // zpk2sos: the worst remaining pole (with its conjugate, or with the worst other real pole) and
    // the two remaining zeros nearest to it make the last section still free; the gain goes to the first.
    auto take_pole = [&](size_t i) {
        if (i >= poles.size()) throw Error("band-pass design failed (a real pole without a partner)");
        const Pole p = poles[i];
        poles.erase(poles.begin() + static_cast<std::ptrdiff_t>(i));
        return p;
    };
    int zeros_at_one = order, zeros_at_minus_one = order;
    auto take_zero = [&](Complex p) {
        if (zeros_at_minus_one == 0 || (zeros_at_one > 0 && std::abs(p - 1.0) < std::abs(p + 1.0))) {
            --zeros_at_one;
            return 1.0;
        }
        --zeros_at_minus_one;
        return -1.0;
    };
    std::vector<Biquad> sos(n);
    for (size_t s = n; s-- > 0;) {
        const Pole p1 = take_pole(worst_pole(poles, false));
        double a1 = -2.0 * p1.z.real(), a2 = p1.z.real() * p1.z.real() + p1.z.imag() * p1.z.imag();
        if (p1.real) {
            const Pole p2 = take_pole(worst_pole(poles, true));
            a1 = -(p1.z.real() + p2.z.real());
            a2 = p1.z.real() * p2.z.real();
        }
        const double z1 = take_zero(p1.z), z2 = take_zero(p1.z);
        sos[s] = {1.0, -z1 - z2, z1 * z2, 1.0, a1, a2};
    }
    for (size_t k = 0; k < 3; ++k) sos[0][k] *= gain;
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
