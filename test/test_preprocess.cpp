// Preprocessing: resampling and filters against numbers computed by scipy 1.10 (the pytest suite
// compares with scipy itself on the real recordings), streaming equal to whole-signal, windows.
#include <cmath>
#include <random>

#include "catch_compat.h"
#include "encoder/error.h"
#include "recordings/io/row_dataset.h"
#include "recordings/preprocess/filter.h"
#include "recordings/preprocess/resample.h"
#include "recordings/preprocess/windows.h"

using namespace eegpt;
using Catch::Matchers::Contains;

namespace {

constexpr double kTwoPi = 6.283185307179586;

std::vector<double> test_signal(int n) {  // numpy: sin(0.3 n) + (0.1 n) % 3
    std::vector<double> x(static_cast<size_t>(n));
    for (int i = 0; i < n; ++i) x[static_cast<size_t>(i)] = std::sin(0.3 * i) + std::fmod(0.1 * i, 3.0);
    return x;
}

void check_close(const std::vector<double>& y, const std::vector<std::pair<int, double>>& expected, double tol) {
    for (const auto& [i, v] : expected) {
        INFO("index " << i);
        CHECK(y[static_cast<size_t>(i)] == Approx(v).margin(tol));
    }
}

}  // namespace

TEST_CASE("firwin with a Kaiser window matches scipy.signal.firwin", "[preprocess]") {
    const std::vector<double> h = firwin_kaiser_lowpass(21, 0.2, 5.0);
    const double expected[] = {-2.8528151126592458e-19, -1.9703270149805442e-03, -6.7583311822410827e-03,
                               -1.2393058731250579e-02, -1.2895925569350068e-02, 4.2962286833101140e-18,
                               3.2179220860267518e-02,  8.1930112555104781e-02,  1.3787046979761186e-01,
                               1.8236250255775549e-01,  1.9935067345416532e-01};
    for (int i = 0; i < 11; ++i) {
        CHECK(h[static_cast<size_t>(i)] == Approx(expected[i]).margin(1e-15));
        CHECK(h[static_cast<size_t>(20 - i)] == h[static_cast<size_t>(i)]);
    }
}

TEST_CASE("resample_poly matches scipy.signal.resample_poly", "[preprocess]") {
    const std::vector<double> x = test_signal(50);
    std::vector<double> y = resample_poly(x, 2, 3);
    REQUIRE(y.size() == 34);
    check_close(y, {{0, 0.0372088691820902}, {1, 0.5786799820040612}, {5, 1.527283381120839},
                    {16, 3.1644202218684137}, {32, 3.0540302643813058}, {33, 1.3722062414491347}}, 1e-12);
    y = resample_poly(x, 128, 250);  // reduced to 64/125 (500 Hz -> 256 Hz)
    REQUIRE(y.size() == 26);
    check_close(y, {{0, 0.06173723900930588}, {1, 0.7384195996664504}, {5, 1.185701683091534},
                    {12, 3.109492326718233}, {24, 2.8107970477428026}, {25, 2.3026937993457914}}, 1e-12);
    y = resample_poly(x, 8, 5);  // 160 Hz -> 256 Hz
    REQUIRE(y.size() == 80);
    check_close(y, {{0, 3.7191171932396076e-18}, {1, 2.1874806322126142e-01}, {5, 1.1222284236415412e+00},
                    {40, 3.4402881316916916e+00}, {78, 3.0777382293092530e+00}, {79, 1.7673318434253655e+00}}, 1e-12);
    CHECK(resample_poly(x, 3, 3) == x);
}

TEST_CASE("streaming resampling gives the whole-signal result for any block sizes", "[preprocess]") {
    std::mt19937 rng(3);
    std::normal_distribution<double> noise;
    std::vector<double> x(20000);
    for (double& v : x) v = noise(rng);
    for (auto [up, down] : {std::pair<int, int>{64, 125}, {8, 5}, {1, 2}, {128, 125}}) {
        const std::vector<double> whole = resample_poly(x, up, down);
        CHECK(whole.size() == (x.size() * static_cast<size_t>(up) + static_cast<size_t>(down) - 1) / static_cast<size_t>(down));
        for (size_t block : {size_t{1}, size_t{7}, size_t{500}, size_t{4096}}) {
            if (block == 1 && up == 128) continue;  // slow and adds nothing
            PolyphaseResampler r(up, down);
            std::vector<double> y;
            for (size_t i = 0; i < x.size(); i += block) r.push(x.data() + i, std::min(block, x.size() - i), y);
            r.finish(y);
            INFO(up << "/" << down << " in blocks of " << block);
            CHECK(y == whole);
        }
    }
}

TEST_CASE("resampling ratios that need absurd filters are refused", "[preprocess]") {
    CHECK(resample_ratio(512, 1000).up == 64);
    CHECK(resample_ratio(512, 1000).down == 125);
    REQUIRE_THROWS_WITH(resample_ratio(256 * 10000000LL, 1234567 * 10000000LL + 1), Contains("needs a filter longer"));
    REQUIRE_THROWS_AS(resample_ratio(0, 5), Error);
}

TEST_CASE("zero-phase filters match scipy.signal.sosfiltfilt with butter and iirnotch", "[preprocess]") {
    const double fs = 256;
    const Biquad notch = iir_notch(50, 30, fs);
    CHECK(notch[0] == Approx(0.9799541272795681).margin(1e-15));
    CHECK(notch[1] == Approx(-0.6602732045406293).margin(1e-15));
    CHECK(notch[5] == Approx(0.9599082545591362).margin(1e-15));
    std::vector<double> x(2048);
    for (size_t i = 0; i < x.size(); ++i) {
        const double t = static_cast<double>(i) / fs;
        x[i] = std::sin(kTwoPi * 10 * t) + 0.5 * std::sin(kTwoPi * 50 * t) + 0.01 * t;
    }
    FilterOptions options;
    options.bandpass_low_hz = 0.5;
    options.bandpass_high_hz = 40;
    options.notch_hz = 50;
    const std::vector<double> y = sosfiltfilt(design_filters(options, fs), x);
    check_close(y, {{0, 0.42322699147952036}, {1, 0.6742771687013036}, {100, -0.4919423396307714},
                    {1000, 0.38842909278789006}, {2046, -0.01128474075475899}, {2047, -0.18022164364383117}}, 1e-10);
    REQUIRE_THROWS_WITH(butter_bandpass(4, 40, 10, fs), Contains("below the high edge"));
    REQUIRE_THROWS_WITH(butter_bandpass(4, 1, 200, fs), Contains("Nyquist"));
    REQUIRE_THROWS_WITH(sosfiltfilt(design_filters(options, fs), std::vector<double>(20, 1.0)), Contains("too short"));
}

TEST_CASE("band-pass designs of every order are scipy's sections, odd orders and wide bands too", "[preprocess]") {
    auto check_sos = [](const std::vector<Biquad>& sos, const std::vector<Biquad>& expected) {
        REQUIRE(sos.size() == expected.size());
        for (size_t s = 0; s < sos.size(); ++s)
            for (size_t k = 0; k < 6; ++k) {
                INFO("section " << s << " coefficient " << k);
                CHECK(sos[s][k] == Approx(expected[s][k]).margin(1e-15));
            }
    };
    // butter(3, [1, 40], 'bandpass', fs=256, output='sos'): the real prototype pole gives two real
    // poles, which share the section with zeros at 1 and -1.
    check_sos(butter_bandpass(3, 1, 40, 256),
              {{0.05142852614857131, 0.10285705229714262, 0.05142852614857131, 1.0, -0.8049918223020595, 0.42982392231601385},
               {1.0, 0.0, -1.0, 1.0, -1.2996353283781734, 0.31679852695260374},
               {1.0, -2.0, 1.0, 1.0, -1.975734755244616, 0.9763430034059589}});
    check_sos(butter_bandpass(5, 0.5, 100, 256),
              {{0.3130155364416438, 0.6260310728832876, 0.3130155364416438, 1.0, 1.0198958128548872, 0.32136280358169866},
               {1.0, 2.0, 1.0, 1.0, 1.2931113281236948, 0.6731877878140611},
               {1.0, 0.0, -1.0, 1.0, -0.5164981764869656, -0.46547790674300166},
               {1.0, -2.0, 1.0, 1.0, -1.980163287013284, 0.9803132603264408},
               {1.0, -2.0, 1.0, 1.0, -1.99232102254107, 0.9924711768747828}});
    for (int order = 1; order <= 12; ++order) {
        INFO("order " << order);
        CHECK(butter_bandpass(order, 1, 40, 256).size() == static_cast<size_t>(order));
    }
    // 0.01 to 127.99 Hz, order 12: sosfiltfilt(butter(12, [0.01, 127.99], ...), x), peak 3.8. The
    // design is ill-conditioned (poles 2.5e-4 from z = +-1): scipy's own result moves by about
    // 3e-9 of its peak when its coefficients move by 4 ulp, hence 1e-8 here.
    const std::vector<double> y = sosfiltfilt(butter_bandpass(12, 0.01, 127.99, 256), test_signal(4096));
    check_close(y, {{0, -0.2509473916506035}, {1, 0.09320958736892315}, {100, -0.25340067509819786},
                    {2000, 1.4658177634715506}, {4094, -1.3322902110561012}, {4095, -1.6102776545619049}}, 4e-8);
}

TEST_CASE("chunked zero-phase filtering stays within 1e-7 of the whole-signal filter", "[preprocess]") {
    const double fs = 256;
    FilterOptions options;
    options.bandpass_low_hz = 0.5;
    options.bandpass_high_hz = 75;
    options.notch_hz = 50;
    const auto sos = design_filters(options, fs);
    std::mt19937 rng(5);
    std::normal_distribution<double> noise;
    std::vector<double> x(static_cast<size_t>(fs * 200));
    double walk = 0;
    for (double& v : x) v = (walk += 0.05 * noise(rng)) + noise(rng);
    const std::vector<double> whole = sosfiltfilt(sos, x);
    const auto context = static_cast<int64_t>(filter_context_seconds(options) * fs);
    ChunkedZeroPhase chunked(sos, 30 * 256, context);
    std::vector<double> y;
    for (size_t i = 0; i < x.size(); i += 1000) chunked.push(x.data() + i, std::min<size_t>(1000, x.size() - i), y);
    chunked.finish(y);
    REQUIRE(y.size() == x.size());
    double peak = 0, worst = 0;
    for (size_t i = 0; i < y.size(); ++i) {
        peak = std::max(peak, std::fabs(whole[i]));
        worst = std::max(worst, std::fabs(y[i] - whole[i]));
    }
    CHECK(worst / peak < 1e-7);
    for (size_t i = 0; i < 256; ++i) CHECK(y[i] == Approx(whole[i]).margin(1e-12));  // the start is exact
}

TEST_CASE("window counts and window contents", "[preprocess]") {
    CHECK(window_count(20 * 60 * 256, 1024, 512) == 599);
    CHECK(window_count(20 * 60 * 256, 1024, 1024) == 300);
    CHECK(window_count(1023, 1024, 512) == 0);
    CHECK(window_count(1024, 1024, 512) == 1);
    for (int64_t stride : {256, 1024, 1500}) {
        const int channels = 3;
        const int64_t total = 5000;
        WindowCutter cutter(channels, 1024, stride);
        std::vector<float> out(static_cast<size_t>(channels) * 1024);
        int64_t at = 0, count = 0, start = 0;
        while (at < total) {
            const int64_t n = std::min<int64_t>(333, total - at);
            std::vector<float> block(static_cast<size_t>(channels * n));
            for (int c = 0; c < channels; ++c)
                for (int64_t t = 0; t < n; ++t) block[static_cast<size_t>(c * n + t)] = static_cast<float>(c * 100000 + at + t);
            cutter.push(block.data(), n);
            at += n;
            while (cutter.pop(out.data(), start)) {
                CHECK(start == count * stride);
                CHECK(out[0] == static_cast<float>(start));
                CHECK(out[1023] == static_cast<float>(start + 1023));
                CHECK(out[2 * 1024 + 5] == static_cast<float>(200000 + start + 5));
                ++count;
            }
        }
        CHECK(count == window_count(total, 1024, stride));
    }
}

TEST_CASE("float16 conversion rounds to nearest even like numpy", "[io]") {
    CHECK(float_to_half(1.0f) == 0x3C00);
    CHECK(float_to_half(-2.0f) == 0xC000);
    CHECK(float_to_half(0.1f) == 0x2E66);
    CHECK(float_to_half(65504.0f) == 0x7BFF);
    CHECK(float_to_half(65520.0f) == 0x7C00);  // rounds up to infinity
    CHECK(float_to_half(std::ldexp(1.0f, -24)) == 0x0001);
    CHECK(float_to_half(std::ldexp(1.0f, -26)) == 0x0000);
    CHECK(float_to_half(1.0f + std::ldexp(1.0f, -11)) == 0x3C00);  // tie -> even
    CHECK(float_to_half(1.0f + 3 * std::ldexp(1.0f, -11)) == 0x3C02);
    CHECK(float_to_half(std::nanf("")) == 0x7E00);
}
