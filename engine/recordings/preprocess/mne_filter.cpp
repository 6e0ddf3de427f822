// MNE's FIR design and overlap-add filtering; see mne_filter.h for the definitions followed.
#include "recordings/preprocess/mne_filter.h"

#include <algorithm>
#include <cmath>
#include <complex>
#include <limits>
#include <string>
#include <utility>

#include "encoder/error.h"
#include "recordings/preprocess/real_fft.h"

namespace eegpt {
namespace {

constexpr double kPi = 3.141592653589793;  // np.pi
constexpr double kHammingFactor = 3.3;     // MNE's _length_factors['hamming']

// numpy's pairwise summation (np.sum of a contiguous float64 array), so that firwin's scale is the
// same sum in the same order as scipy's.
double pairwise_sum(const double* a, int64_t n) {
    if (n < 8) {
        double res = 0.0;
        for (int64_t i = 0; i < n; ++i) res += a[i];
        return res;
    }
    if (n <= 128) {
        double r[8];
        for (int j = 0; j < 8; ++j) r[j] = a[j];
        int64_t i = 8;
        for (; i < n - (n % 8); i += 8)
            for (int j = 0; j < 8; ++j) r[j] += a[i + j];
        double res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for (; i < n; ++i) res += a[i];
        return res;
    }
    int64_t n2 = n / 2;
    n2 -= n2 % 8;
    return pairwise_sum(a, n2) + pairwise_sum(a + n2, n - n2);
}

// scipy.signal.get_window(window, m, fftbins=False): general_cosine with np.linspace(-pi, pi, m).
std::vector<double> symmetric_window(int64_t m, FirWindow window) {
    const double alpha = window == FirWindow::hamming ? 0.54 : 0.5;
    std::vector<double> w(static_cast<size_t>(m), 1.0);
    if (m <= 1) return w;
    const double step = (kPi - -kPi) / static_cast<double>(m - 1);
    for (int64_t i = 0; i < m; ++i) {
        const double fac = i == m - 1 ? kPi : static_cast<double>(i) * step + -kPi;
        w[static_cast<size_t>(i)] = (0.0 + alpha * std::cos(0.0 * fac)) + (1.0 - alpha) * std::cos(fac);
    }
    return w;
}

// scipy.signal.firwin(taps, cutoff, window, pass_zero=True, fs=2): a low-pass, unit gain at DC.
std::vector<double> firwin_lowpass(int64_t taps, double cutoff, FirWindow window) {
    const double alpha = 0.5 * static_cast<double>(taps - 1);
    const std::vector<double> win = symmetric_window(taps, window);
    std::vector<double> h(static_cast<size_t>(taps));
    for (int64_t i = 0; i < taps; ++i) {
        const double x = cutoff * (static_cast<double>(i) - alpha);
        const double y = kPi * (x == 0.0 ? 1.0e-20 : x);  // np.sinc
        h[static_cast<size_t>(i)] = cutoff * (std::sin(y) / y) * win[static_cast<size_t>(i)];
    }
    const double s = 0.0 + pairwise_sum(h.data(), taps);
    for (double& v : h) v /= s;
    return h;
}

// MNE's _firwin_design(N, freq, gain, window): freq relative to Nyquist (0 .. 1), gain 0 or 1.
std::vector<double> firwin_design(int64_t n, const std::vector<double>& freq, const std::vector<double>& gain,
                                  FirWindow window, double sfreq) {
    std::vector<double> h(static_cast<size_t>(n), 0.0);
    double prev_freq = freq.back(), prev_gain = gain.back();
    if (prev_gain == 1) h[static_cast<size_t>(n / 2)] = 1;
    for (size_t k = freq.size() - 1; k-- > 0;) {
        const double this_freq = freq[k], this_gain = gain[k];
        if (this_gain != prev_gain) {
            const double transition = (prev_freq - this_freq) / 2.0;
            // Python's round (half to even), as std::nearbyint rounds. Hann keeps Hamming's length
            // factor: the mutation check changes the window alone.
            auto this_n = static_cast<int64_t>(std::nearbyint(kHammingFactor / transition));
            this_n += 1 - this_n % 2;
            if (this_n > n)
                throw Error("mne filter: the filter length " + std::to_string(n) + " is too short for the " +
                            format_number(transition * sfreq / 2.0) + " Hz transition band, which needs " +
                            std::to_string(this_n) + " samples");
            const std::vector<double> piece = firwin_lowpass(this_n, (prev_freq + this_freq) / 2.0, window);
            const int64_t offset = (n - this_n) / 2;
            for (int64_t i = 0; i < this_n; ++i) {
                if (this_gain == 0) h[static_cast<size_t>(offset + i)] -= piece[static_cast<size_t>(i)];
                else h[static_cast<size_t>(offset + i)] += piece[static_cast<size_t>(i)];
            }
        }
        prev_gain = this_gain;
        prev_freq = this_freq;
    }
    return h;
}

// _triage_filter_params' filter_length 'auto' for firwin: "%ss" % (3.3 / min_trans), to samples.
int64_t auto_length(double sfreq, double min_trans) {
    const double seconds = kHammingFactor * 1.0 / min_trans;
    const double samples = std::ceil(seconds * sfreq);
    if (!(samples < 1e9)) throw Error("mne filter: the filter would need " + format_number(samples) + " taps");
    int64_t n = std::max<int64_t>(static_cast<int64_t>(samples), 1);
    n += (n - 1) % 2;  // odd (firwin, phase 'zero')
    return n;
}

// _construct_fir_filter for fir_design 'firwin': points in Hz, normalised by Nyquist.
std::vector<double> construct(double sfreq, std::vector<double> freq, const std::vector<double>& gain,
                              int64_t n, FirWindow window) {
    for (double& f : freq) f /= sfreq / 2.0;
    return firwin_design(n, freq, gain, window, sfreq);
}

void check_rate(double sfreq, const std::string& what) {
    if (!std::isfinite(sfreq) || sfreq <= 0)
        throw Error(what + ": the sampling rate must be a positive number, got " + format_number(sfreq));
}

std::string edges(double l, double h) { return format_number(l) + "-" + format_number(h) + " Hz"; }

}  // namespace

std::vector<double> mne_filter_taps(double sfreq, double l_freq, double h_freq) {
    return mne_filter_taps(sfreq, l_freq, h_freq, FirWindow::hamming);
}

std::vector<double> mne_filter_taps(double sfreq, double l_freq, double h_freq, FirWindow window) {
    const std::string what = "mne filter " + edges(l_freq, h_freq) + " at " + format_number(sfreq) + " Hz";
    check_rate(sfreq, what);
    const double nyq = sfreq / 2.0;
    if (!std::isfinite(l_freq) || !std::isfinite(h_freq)) throw Error(what + ": band edges must be numbers");
    const bool low = l_freq > 0, high = h_freq > 0;
    if (!low && !high) throw Error(what + ": no band edge above 0 Hz (give a high-pass, a low-pass or both)");
    if (low && l_freq >= nyq)
        throw Error(what + ": the high-pass edge must be below Nyquist (" + format_number(nyq) + " Hz)");
    if (high && h_freq >= nyq)
        throw Error(what + ": the low-pass edge must be below Nyquist (" + format_number(nyq) + " Hz)");
    if (low && high && l_freq >= h_freq) throw Error(what + ": the high-pass edge must be below the low-pass edge");
    // MNE's 'auto' transition bandwidths.
    const double l_trans = low ? std::min(std::max(0.25 * l_freq, 2.0), l_freq) : 0;
    const double h_trans = high ? std::min(std::max(0.25 * h_freq, 2.0), nyq - h_freq) : 0;
    const double l_stop = l_freq - l_trans, h_stop = h_freq + h_trans;
    if (high && h_stop > nyq) throw Error(what + ": the stop band passes Nyquist");
    const double min_trans = low && high ? std::min(h_trans, l_trans) : low ? l_trans : h_trans;
    const int64_t n = auto_length(sfreq, min_trans);
    std::vector<double> freq, gain;
    if (low && high) {
        freq = {l_stop, l_freq, h_freq, h_stop};
        gain = {0, 1, 1, 0};
        if (h_stop != nyq) freq.push_back(nyq), gain.push_back(0);
        if (l_stop != 0) freq.insert(freq.begin(), 0.0), gain.insert(gain.begin(), 0.0);
    } else if (low) {
        freq = {l_stop, l_freq, nyq};
        gain = {0, 1, 1};
        if (l_stop != 0) freq.insert(freq.begin(), 0.0), gain.insert(gain.begin(), 0.0);
    } else {
        freq = {0, h_freq, h_stop};
        gain = {1, 1, 0};
        if (h_stop != nyq) freq.push_back(nyq), gain.push_back(0);
    }
    return construct(sfreq, freq, gain, n, window);
}

std::vector<double> mne_notch_taps(double sfreq, double freq) {
    return mne_notch_taps(sfreq, freq, FirWindow::hamming);
}

std::vector<double> mne_notch_taps(double sfreq, double freq, FirWindow window) {
    const std::string what = "mne notch " + format_number(freq) + " Hz at " + format_number(sfreq) + " Hz";
    check_rate(sfreq, what);
    const double nyq = sfreq / 2.0;
    if (!std::isfinite(freq) || freq <= 0) throw Error(what + ": the notch frequency must be above 0 Hz");
    // raw.notch_filter: notch_widths = freq / 200, trans_bandwidth = 1.
    const double width = freq / 200.0, tb_2 = 1 / 2.0;
    const double low = freq - width / 2.0 - tb_2, high = freq + width / 2.0 + tb_2;
    // create_filter's band-stop: _triage_filter_params(h_freq=low as l, l_freq=high as h, reverse).
    if (low <= 0) throw Error(what + ": the notch's lower edge " + format_number(low) + " Hz must be above 0 Hz");
    if (high >= nyq)
        throw Error(what + ": the notch's upper edge " + format_number(high) + " Hz must be below Nyquist (" +
                    format_number(nyq) + " Hz)");
    double l_stop = low - tb_2, l_pass = low;
    l_stop += tb_2;
    l_pass += tb_2;
    double h_stop = high + tb_2, h_pass = high;
    h_stop -= tb_2;
    h_pass -= tb_2;
    if (l_stop < 0 || h_stop > nyq) throw Error(what + ": the notch's bands leave (0, Nyquist)");
    const int64_t n = auto_length(sfreq, tb_2);
    // freq = [f_p1, f_s1, f_s2, f_p2] with (f_s1, f_s2, f_p1, f_p2) = (l_pass, h_pass, l_stop, h_stop).
    std::vector<double> f = {l_stop, l_pass, h_pass, h_stop}, g = {1, 0, 0, 1};
    if (!std::is_sorted(f.begin(), f.end())) throw Error(what + ": the notch is too narrow");
    if (f.front() != 0) f.insert(f.begin(), 0.0), g.insert(g.begin(), 1.0);
    if (f.back() != nyq) f.push_back(nyq), g.push_back(1.0);
    return construct(sfreq, f, g, n, window);
}

// ---- StreamingFir ----

StreamingFir::StreamingFir(std::vector<double> taps) : StreamingFir(std::move(taps), FirPad::reflect_limited) {}

StreamingFir::StreamingFir(std::vector<double> taps, FirPad pad) : taps_(std::move(taps)), pad_(pad) {
    n_h_ = static_cast<int64_t>(taps_.size());
    if (n_h_ < 1 || n_h_ % 2 == 0)
        throw Error("mne filter: zero-phase FIR taps must be of odd length, got " + std::to_string(n_h_));
    for (double v : taps_)
        if (!std::isfinite(v)) throw Error("mne filter: the taps must be finite numbers");
    c_ = (n_h_ - 1) / 2;
    int64_t size = 256;
    while (size < 2 * n_h_) size *= 2;
    block_ = size - n_h_ + 1;
    fft_ = std::make_unique<RealFft>(size);
    // The taps' spectrum, with the inverse FFT's 1 / size folded in.
    double* r = fft_->real();
    std::fill(r, r + size, 0.0);
    std::copy(taps_.begin(), taps_.end(), r);
    fft_->forward();
    taps_spectrum_.resize(static_cast<size_t>(2 * fft_->bins()));
    const double scale = 1.0 / static_cast<double>(size);
    for (int64_t k = 0; k < fft_->bins(); ++k) {
        taps_spectrum_[static_cast<size_t>(2 * k)] = fft_->spectrum()[k].real() * scale;
        taps_spectrum_[static_cast<size_t>(2 * k + 1)] = fft_->spectrum()[k].imag() * scale;
    }
}

StreamingFir::~StreamingFir() = default;
StreamingFir::StreamingFir(StreamingFir&&) noexcept = default;
StreamingFir& StreamingFir::operator=(StreamingFir&&) noexcept = default;

int64_t StreamingFir::context() const { return c_; }

void StreamingFir::start(int64_t n_edge) {
    // Positions p in [0, c) hold xe[p + n_edge - c]: the left pad's last samples, or zeros before it.
    // Left pad (MNE's _smart_pad): pad[t] = 2 x[0] - x[n_edge - t], 0 where that index passes x's end.
    n_edge_ = n_edge;
    started_ = true;
    stream_.assign(static_cast<size_t>(c_), 0.0);
    const int64_t n = static_cast<int64_t>(head_.size());
    for (int64_t p = 0; p < c_; ++p) {
        const int64_t t = p + n_edge - c_;  // index into the left pad
        if (t < 0 || pad_ == FirPad::zeros) continue;
        const int64_t k = n_edge - t;
        if (k <= n - 1) stream_[static_cast<size_t>(p)] = 2 * head_[0] - head_[static_cast<size_t>(k)];
    }
    stream_.insert(stream_.end(), head_.begin(), head_.end());
    stream_start_ = 0;
    head_.clear();
    head_.shrink_to_fit();
}

void StreamingFir::run_blocks(bool last, std::vector<double>& out) {
    const int64_t size = fft_->size();
    double* r = fft_->real();
    std::complex<double>* bins = fft_->spectrum();
    for (;;) {
        const int64_t b0 = emitted_;  // a block starts at every multiple of L (emitted_ stays one)
        const int64_t remaining = n_in_ - emitted_;
        if (remaining <= 0) break;
        const int64_t available = stream_start_ + static_cast<int64_t>(stream_.size()) - b0;
        if (available < size && !last) break;
        // Segment: positions [b0, b0 + size); beyond the stream (only at the end) zeros.
        const int64_t off = b0 - stream_start_;
        const int64_t have = std::min<int64_t>(size, available);
        std::copy(stream_.begin() + off, stream_.begin() + off + have, r);
        std::fill(r + have, r + size, 0.0);
        fft_->forward();
        for (int64_t k = 0; k < fft_->bins(); ++k) {
            const std::complex<double> h(taps_spectrum_[static_cast<size_t>(2 * k)],
                                         taps_spectrum_[static_cast<size_t>(2 * k + 1)]);
            bins[k] *= h;
        }
        fft_->inverse();
        const int64_t count = std::min(block_, remaining);
        out.insert(out.end(), r + n_h_ - 1, r + n_h_ - 1 + count);
        emitted_ += count;
        // Drop what no later block reads, but keep the last taps samples (the right pad needs them).
        const int64_t end = stream_start_ + static_cast<int64_t>(stream_.size());
        const int64_t keep_from = std::min(emitted_, end - n_h_);
        if (keep_from > stream_start_) {
            stream_.erase(stream_.begin(), stream_.begin() + (keep_from - stream_start_));
            stream_start_ = keep_from;
        }
    }
}

void StreamingFir::push(const double* x, int64_t n, std::vector<double>& out) {
    if (finished_) throw Error("mne filter: push after finish");
    if (n < 0) throw Error("mne filter: negative sample count");
    if (n == 0) return;
    if (!started_) {
        head_.insert(head_.end(), x, x + n);
        n_in_ += n;
        if (n_in_ >= n_h_) start(n_h_ - 1);  // n_edge = min(taps, n) - 1 is known now
        else return;
    } else {
        stream_.insert(stream_.end(), x, x + n);
        n_in_ += n;
    }
    run_blocks(false, out);
}

void StreamingFir::finish(std::vector<double>& out) {
    if (finished_) return;
    finished_ = true;
    if (n_in_ == 0) return;
    if (!started_) start(n_in_ - 1);  // shorter than the taps: n_edge = n - 1
    // Right pad: pad[t] = 2 x[-1] - x[n - 2 - t], 0 where that index passes x's start; then zeros.
    // The last n_edge + 1 samples of x are the stream's last ones (x[j] at p = j + c).
    auto x_at = [&](int64_t j) { return stream_[static_cast<size_t>(j + c_ - stream_start_)]; };
    const double last = x_at(n_in_ - 1);
    std::vector<double> pad(static_cast<size_t>(n_edge_), 0.0);
    for (int64_t t = 0; t < n_edge_ && pad_ == FirPad::reflect_limited; ++t) {
        const int64_t j = n_in_ - 2 - t;
        if (j >= 0) pad[static_cast<size_t>(t)] = 2 * last - x_at(j);
    }
    stream_.insert(stream_.end(), pad.begin(), pad.end());
    run_blocks(true, out);
    stream_.clear();
    stream_.shrink_to_fit();
}

}  // namespace eegpt
