#include "recordings/preprocess/resample.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "encoder/error.h"

namespace eegpt {
namespace {

constexpr double kPi = 3.14159265358979323846;
constexpr int64_t kMaxRate = 10000;  // longest filter: 2 * 10 * kMaxRate + 1 taps

// Modified Bessel function of the first kind, order 0 (power series; exact to rounding for the
// arguments a Kaiser window uses).
double bessel_i0(double x) {
    const double q = 0.25 * x * x;
    double term = 1.0, sum = 1.0;
    for (int k = 1; k < 500; ++k) {
        term *= q / (static_cast<double>(k) * k);
        sum += term;
        if (term < 1e-17 * sum) break;
    }
    return sum;
}

double sinc(double x) {
    if (x == 0.0) return 1.0;
    const double y = kPi * x;
    return std::sin(y) / y;
}

}  // namespace

std::vector<double> firwin_kaiser_lowpass(int taps, double cutoff, double beta) {
    if (taps < 1) throw Error("firwin: taps must be positive");
    std::vector<double> h(static_cast<size_t>(taps));
    const double alpha = 0.5 * (taps - 1);
    const double i0_beta = bessel_i0(beta);
    double sum = 0;
    for (int i = 0; i < taps; ++i) {
        const double m = i - alpha;
        const double r = alpha > 0 ? m / alpha : 0.0;
        const double window = bessel_i0(beta * std::sqrt(std::max(0.0, 1.0 - r * r))) / i0_beta;
        h[static_cast<size_t>(i)] = cutoff * sinc(cutoff * m) * window;
        sum += h[static_cast<size_t>(i)];
    }
    for (double& v : h) v /= sum;
    return h;
}

ResampleRatio resample_ratio(int64_t up, int64_t down) {
    if (up < 1 || down < 1) throw Error("resampling factors must be positive");
    const int64_t g = std::gcd(up, down);
    ResampleRatio r{up / g, down / g};
    if (std::max(r.up, r.down) > kMaxRate)
        throw Error("resampling ratio " + std::to_string(r.up) + "/" + std::to_string(r.down) +
                    " needs a filter longer than this engine allows (max(up, down) <= " + std::to_string(kMaxRate) + ")");
    return r;
}

PolyphaseResampler::PolyphaseResampler(int64_t up, int64_t down) {
    ResampleRatio r = resample_ratio(up, down);
    up_ = r.up;
    down_ = r.down;
    passthrough_ = up_ == 1 && down_ == 1;
    const int64_t max_rate = std::max(up_, down_);
    half_len_ = 10 * max_rate;
    if (passthrough_) return;
    std::vector<double> h = firwin_kaiser_lowpass(static_cast<int>(2 * half_len_ + 1), 1.0 / static_cast<double>(max_rate));
    phases_.resize(static_cast<size_t>(up_));
    for (int64_t p = 0; p < up_; ++p) {
        auto& taps = phases_[static_cast<size_t>(p)];
        for (int64_t k = p; k <= 2 * half_len_; k += up_) taps.push_back(h[static_cast<size_t>(k)] * static_cast<double>(up_));
        std::reverse(taps.begin(), taps.end());
    }
}

void PolyphaseResampler::emit(int64_t limit_j, std::vector<double>& out) {
    for (int64_t j = next_j_; j < limit_j; ++j) {
        const int64_t t = j * down_ + half_len_;
        const int64_t m_max = t / up_;
        // phases_[p] holds this phase's taps reversed, so tap i meets x[m_low + i].
        const auto& taps = phases_[static_cast<size_t>(t % up_)];
        const int64_t len = static_cast<int64_t>(taps.size());
        const int64_t m_low = m_max - len + 1;
        const int64_t i_begin = std::max<int64_t>(0, -m_low);           // x before the start is zero
        const int64_t i_end = std::min<int64_t>(len, received_ - m_low);  // and after the end
        const double* x = history_.data();
        const int64_t offset = m_low - history_start_;
        double y = 0;
        for (int64_t i = i_begin; i < i_end; ++i) y += taps[static_cast<size_t>(i)] * x[offset + i];
        out.push_back(y);
    }
    if (limit_j > next_j_) next_j_ = limit_j;
    // Drop the history no later output can reach.
    const int64_t longest = static_cast<int64_t>(phases_[0].size());
    const int64_t keep_from = (next_j_ * down_ + half_len_) / up_ - longest;
    const int64_t drop = std::min(keep_from - history_start_, static_cast<int64_t>(history_.size()));
    if (drop > 4096 && drop > static_cast<int64_t>(history_.size()) / 2) {
        history_.erase(history_.begin(), history_.begin() + drop);
        history_start_ += drop;
    }
}

void PolyphaseResampler::push(const double* x, size_t n, std::vector<double>& out) {
    if (passthrough_) {
        out.insert(out.end(), x, x + n);
        received_ += static_cast<int64_t>(n);
        return;
    }
    history_.insert(history_.end(), x, x + n);
    received_ += static_cast<int64_t>(n);
    // Output j needs x up to (j * down + half_len) / up.
    const int64_t last = received_ * up_ - 1 - half_len_;
    if (last >= 0) emit(last / down_ + 1, out);
}

void PolyphaseResampler::finish(std::vector<double>& out) {
    if (passthrough_) return;
    const int64_t n_out = (received_ * up_ + down_ - 1) / down_;
    emit(n_out, out);
}

std::vector<double> resample_poly(const std::vector<double>& x, int64_t up, int64_t down) {
    PolyphaseResampler r(up, down);
    std::vector<double> y;
    r.push(x.data(), x.size(), y);
    r.finish(y);
    return y;
}

}  // namespace eegpt
