// MNE's FIR filters and FFT resampling (mne_filter.h, mne_resample.h): what can be checked without
// MNE itself. test/python/test_mne_dsp.py compares taps and signals with MNE-Python 1.4.2.
#include <cmath>
#include <functional>
#include <random>
#include <string>
#include <thread>

#include "catch_compat.h"
#include "encoder/error.h"
#include "recordings/preprocess/mne_filter.h"
#include "recordings/preprocess/mne_resample.h"
#include "recordings/preprocess/real_fft.h"

using namespace eegpt;
using Catch::Matchers::Contains;

namespace {

std::vector<double> noise(size_t n, unsigned seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<double> d(0.0, 20.0);
    std::vector<double> x(n);
    double drift = 0;
    for (auto& v : x) v = (drift += 0.05 * d(rng)) + d(rng);
    return x;
}

double sum(const std::vector<double>& v) {
    double s = 0;
    for (double x : v) s += x;
    return s;
}

// MNE's _overlap_add_filter written out directly (the definition, O(n x taps)): extend by
// n_edge = min(taps, n) - 1 with _smart_pad's reflect_limited, convolve, shift by (taps - 1) / 2.
std::vector<double> reference_filter(const std::vector<double>& h, const std::vector<double>& x) {
    const auto n = static_cast<int64_t>(x.size()), nh = static_cast<int64_t>(h.size());
    const int64_t edge = std::max<int64_t>(std::min(nh, n) - 1, 0), c = (nh - 1) / 2;
    std::vector<double> xe;
    for (int64_t t = 0; t < edge; ++t) xe.push_back(edge - t <= n - 1 ? 2 * x[0] - x[static_cast<size_t>(edge - t)] : 0.0);
    xe.insert(xe.end(), x.begin(), x.end());
    for (int64_t t = 0; t < edge; ++t) xe.push_back(n - 2 - t >= 0 ? 2 * x.back() - x[static_cast<size_t>(n - 2 - t)] : 0.0);
    std::vector<double> y(x.size(), 0.0);
    for (int64_t i = 0; i < n; ++i) {
        double acc = 0;
        for (int64_t k = 0; k < nh; ++k) {
            const int64_t j = i + edge + c - k;
            if (j >= 0 && j < static_cast<int64_t>(xe.size())) acc += h[static_cast<size_t>(k)] * xe[static_cast<size_t>(j)];
        }
        y[static_cast<size_t>(i)] = acc;
    }
    return y;
}

std::vector<double> stream(const std::vector<double>& h, const std::vector<double>& x, size_t step,
                           FirPad pad = FirPad::reflect_limited) {
    StreamingFir fir(h, pad);
    std::vector<double> out;
    for (size_t i = 0; i < x.size(); i += step)
        fir.push(x.data() + i, static_cast<int64_t>(std::min(step, x.size() - i)), out);
    fir.finish(out);
    return out;
}

double max_abs_diff(const std::vector<double>& a, const std::vector<double>& b) {
    REQUIRE(a.size() == b.size());
    double m = 0;
    for (size_t i = 0; i < a.size(); ++i) m = std::max(m, std::fabs(a[i] - b[i]));
    return m;
}

double peak(const std::vector<double>& v) {
    double m = 0;
    for (double x : v) m = std::max(m, std::fabs(x));
    return m;
}

void require_one_line_error(const std::function<void()>& f, const std::string& part) {
    try {
        f();
        FAIL("no Error thrown (expected one containing '" << part << "')");
    } catch (const Error& e) {
        const std::string what = e.what();
        INFO(what);
        CHECK(what.find(part) != std::string::npos);
        CHECK(what.find('\n') == std::string::npos);
    }
}

}  // namespace

TEST_CASE("mne taps: odd, symmetric, the lengths MNE's 'auto' gives, unit gain where the band passes", "[mne]") {
    struct Case {
        double rate, l, h;
        size_t taps;  // mne.filter.create_filter(None, rate, l, h).size, MNE 1.4.2
    };
    for (const Case& c : {Case{250, 0.1, 75, 8251}, Case{250, 0.5, 45, 1651}, Case{250, 1, 40, 825},
                          Case{500, 0.5, 45, 3301}, Case{256, 0, 40, 85}, Case{160, 1, 0, 529}}) {
        INFO("rate " << c.rate << " l " << c.l << " h " << c.h);
        const std::vector<double> h = mne_filter_taps(c.rate, c.l, c.h);
        CHECK(h.size() == c.taps);
        CHECK(h.size() % 2 == 1);
        // Symmetric to rounding (the window's linspace is not exactly symmetric, in scipy either).
        for (size_t i = 0; i < h.size(); ++i) REQUIRE(h[i] == Approx(h[h.size() - 1 - i]).margin(1e-15));
        // DC gain: 1 for a low-pass, 0 where a high-pass edge is.
        CHECK(sum(h) == Approx(c.l > 0 ? 0.0 : 1.0).margin(1e-12));
    }
    const std::vector<double> notch = mne_notch_taps(250, 50);
    CHECK(notch.size() == 1651);
    CHECK(sum(notch) == Approx(1.0).margin(1e-12));
    // Hann differs from Hamming (the mutation the Python tests must catch).
    const std::vector<double> hamming = mne_filter_taps(250, 1, 40), hann = mne_filter_taps(250, 1, 40, FirWindow::hann);
    CHECK(max_abs_diff(hamming, hann) > 1e-4);
}

TEST_CASE("StreamingFir: the same output bit for bit whatever the push sizes", "[mne]") {
    for (const auto& taps : {mne_filter_taps(250, 1, 40), mne_filter_taps(250, 0.1, 75)}) {
        const std::vector<double> x = noise(30011, 3);
        const std::vector<double> whole = stream(taps, x, x.size());
        for (size_t step : {size_t{1}, size_t{7}, size_t{4096}}) {
            INFO("taps " << taps.size() << " push " << step);
            const std::vector<double> y = stream(taps, x, step);
            REQUIRE(y.size() == x.size());
            CHECK(y == whole);
        }
        // And it is MNE's definition, to rounding.
        CHECK(max_abs_diff(whole, reference_filter(taps, x)) <= 1e-12 * peak(x));
    }
}

TEST_CASE("StreamingFir: reflect_limited ends on signals shorter than the taps", "[mne]") {
    const std::vector<double> taps = mne_filter_taps(250, 1, 40);  // 825 taps
    for (size_t n : {size_t{1}, size_t{2}, size_t{3}, size_t{100}, size_t{824}, size_t{825}, size_t{826}, size_t{2000}}) {
        INFO("n " << n);
        const std::vector<double> x = noise(n, static_cast<unsigned>(n));
        const std::vector<double> expected = reference_filter(taps, x);
        for (size_t step : {size_t{1}, size_t{7}, n}) {
            const std::vector<double> y = stream(taps, x, step);
            CHECK(max_abs_diff(y, expected) <= 1e-12 * std::max(peak(x), 1.0));
        }
        // Zero padding is a different result (the Python tests' mutation), except where no
        // padding reaches the output.
        if (n > 2) CHECK(max_abs_diff(stream(taps, x, n, FirPad::zeros), expected) > 1e-6 * peak(x));
    }
    // A constant passes a low-pass unchanged at the ends too (2 x[0] - x[k] keeps it constant).
    const std::vector<double> flat(300, 7.0);
    const std::vector<double> y = stream(mne_filter_taps(250, 0, 30), flat, 300);
    for (double v : y) REQUIRE(v == Approx(7.0).margin(1e-9));
}

TEST_CASE("mne_resample: MNE's output lengths, half to even", "[mne]") {
    struct Case {
        double from, to;
        int64_t n, expected;  // max(round(to / from * n), 1) in Python
    };
    for (const Case& c : {Case{250, 200, 15000, 12000}, Case{250, 200, 1001, 801}, Case{256, 200, 1000, 781},
                          Case{256, 200, 16, 12}, Case{256, 200, 48, 38}, Case{500, 256, 1001, 513},
                          Case{500, 256, 30000, 15360}, Case{160, 256, 333, 533}, Case{160, 256, 1, 2},
                          Case{500, 200, 1, 1}}) {
        INFO(c.from << " -> " << c.to << " of " << c.n);
        CHECK(mne_resample_length(c.n, c.from, c.to) == c.expected);
        const std::vector<double> y = mne_resample(noise(static_cast<size_t>(c.n), 5), c.from, c.to);
        CHECK(static_cast<int64_t>(y.size()) == c.expected);
    }
    // A constant stays constant (reflect_limited padding keeps it so).
    const std::vector<double> flat(1000, -3.0);
    for (double v : mne_resample(flat, 250, 200)) REQUIRE(v == Approx(-3.0).margin(1e-9));
    for (double v : mne_resample(flat, 160, 256)) REQUIRE(v == Approx(-3.0).margin(1e-9));
}

TEST_CASE("mne filters and resampling refuse bad arguments with one line", "[mne]") {
    require_one_line_error([] { mne_filter_taps(250, 40, 10); }, "below the low-pass edge");
    require_one_line_error([] { mne_filter_taps(250, 0.1, 125); }, "below Nyquist");
    require_one_line_error([] { mne_filter_taps(250, 130, 0); }, "below Nyquist");
    require_one_line_error([] { mne_filter_taps(250, 0, 0); }, "no band edge");
    require_one_line_error([] { mne_filter_taps(-250, 1, 40); }, "sampling rate");
    require_one_line_error([] { mne_filter_taps(250, NAN, 40); }, "must be numbers");
    require_one_line_error([] { mne_notch_taps(250, 124.9); }, "below Nyquist");
    require_one_line_error([] { mne_notch_taps(250, 0); }, "above 0 Hz");
    require_one_line_error([] { StreamingFir fir(std::vector<double>(10, 0.1)); }, "odd length");
    require_one_line_error([] { StreamingFir fir(std::vector<double>{}); }, "odd length");
    require_one_line_error([] { mne_resample(std::vector<double>(10, 1.0), 250, 0); }, "positive numbers");
    require_one_line_error([] { mne_resample(std::vector<double>(10, 1.0), NAN, 200); }, "positive numbers");
    require_one_line_error([] { mne_resample(std::vector<double>{}, 250, 200); }, "empty");
    StreamingFir fir(mne_filter_taps(250, 1, 40));
    std::vector<double> out;
    fir.finish(out);
    CHECK(out.empty());
    const double one = 1.0;
    require_one_line_error([&] { fir.push(&one, 1, out); }, "after finish");
}

TEST_CASE("RealFft: plans made from many threads at once, each transform right", "[mne]") {
    // FFTW's planner is not thread-safe: without the lock in real_fft.cpp, planning distinct
    // lengths from many threads at once corrupts its tables.
    std::vector<int> bad(16, 0);
    std::vector<std::thread> threads;
    for (int t = 0; t < 16; ++t)
        threads.emplace_back([&bad, t] {
            for (int k = 0; k < 40; ++k) {
                const int64_t n = 64 + 16 * t + 256 * k + (k % 3);
                RealFft fft(n);
                for (int64_t i = 0; i < n; ++i) fft.real()[i] = (i == 1) ? 1.0 : 0.0;
                fft.forward();
                // The DFT of a unit impulse at 1 is e^{-2 pi i k / n}.
                const std::complex<double> b = fft.spectrum()[1];
                if (std::abs(b - std::polar(1.0, -2 * 3.141592653589793 / static_cast<double>(n))) > 1e-12) ++bad[t];
                fft.inverse();
                if (std::fabs(fft.real()[1] - static_cast<double>(n)) > 1e-9 * static_cast<double>(n)) ++bad[t];
            }
        });
    for (auto& th : threads) th.join();
    for (int t = 0; t < 16; ++t) CHECK(bad[static_cast<size_t>(t)] == 0);
}

TEST_CASE("mne filters and resampling give the same results from several threads at once", "[mne]") {
    const std::vector<double> x = noise(20000, 11);
    const std::vector<std::vector<double>> taps = {mne_filter_taps(250, 1, 40), mne_filter_taps(250, 0.5, 45),
                                                   mne_notch_taps(250, 50), mne_filter_taps(500, 0.1, 75)};
    std::vector<std::vector<double>> serial, parallel(8);
    for (int t = 0; t < 8; ++t)
        serial.push_back(t % 2 ? mne_resample(x, 250, 200 + t) : stream(taps[static_cast<size_t>(t / 2)], x, 4096));
    for (int round = 0; round < 3; ++round) {
        std::vector<std::thread> threads;
        for (int t = 0; t < 8; ++t)
            threads.emplace_back([&, t] {
                parallel[static_cast<size_t>(t)] =
                    t % 2 ? mne_resample(x, 250, 200 + t) : stream(taps[static_cast<size_t>(t / 2)], x, 4096);
            });
        for (auto& th : threads) th.join();
        for (int t = 0; t < 8; ++t) REQUIRE(parallel[static_cast<size_t>(t)] == serial[static_cast<size_t>(t)]);
    }
}
