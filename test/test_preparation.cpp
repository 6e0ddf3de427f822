// The preprocessing settings (recordings/pipeline/preparation.h): option > head > default setting
// by setting, the refusals of contradictions, the head's /preparation group written and read back
// and refused when it disagrees with the head, and the line classify prints.
#include <cstdio>
#include <functional>
#include <string>

#include "catch_compat.h"
#include "encoder/error.h"
#include "encoder/io/hdf5.h"
#include "recordings/heads/head.h"
#include "recordings/pipeline/preparation.h"
#include "recordings/pipeline/signal_stream.h"

using namespace eegpt;
using Catch::Matchers::Contains;

namespace {

HeadPreparation tuab() {
    HeadPreparation p;
    p.name = "tuab";
    p.channels = {"FP1", "FP2"};
    p.filter_design = FilterDesign::mne;
    p.bandpass_low_hz = 0.1;
    p.bandpass_high_hz = 75;
    p.notch_hz = 50;
    p.resample_method = ResampleMethod::fft;
    p.sample_rate_hz = 200;
    p.unit_mv = 0.1;
    return p;
}

PreprocessOptions resolve(const PreparationRequest& r, const HeadPreparation* head) {
    PreprocessOptions o;
    resolve_preparation(r, head, o);
    return o;
}

std::string refusal(const PreparationRequest& r, const HeadPreparation* head) {
    try {
        resolve(r, head);
    } catch (const Error& e) {
        return e.what();
    }
    return "";
}

// A minimal version 3 head (one encoder step) with the TUAB preparation, for the loader.
Head small_head() {
    Head h;
    h.recipe = "custom";
    h.class_names = {"a", "b"};
    h.input_labels = {"FP1", "FP2"};
    h.sample_rate_hz = 200;
    h.window_samples = 2000;
    h.input_unit_mv = 0.1;
    h.stride_s = 10;
    HeadStep e = make_step(StepOp::encoder);
    e.channels = {"FP1", "FP2"};
    e.patch_stride = 64;
    h.steps.push_back(e);
    h.source = "test";
    h.has_preparation = true;
    h.preparation = tuab();
    return h;
}

std::string temp_path(const char* name) { return std::string("/tmp/eegpt_test_preparation_") + name; }

}  // namespace

TEST_CASE("without options or a head the preprocessing is the default: no filter, scipy, poly", "[preparation]") {
    const PreprocessOptions o = resolve({}, nullptr);
    CHECK_FALSE(o.filters.enabled());
    CHECK(o.filter_design == FilterDesign::scipy);
    CHECK(o.resample_method == ResampleMethod::poly);
}

TEST_CASE("a head's preparation applies when no option is given", "[preparation]") {
    const HeadPreparation p = tuab();
    const PreprocessOptions o = resolve({}, &p);
    CHECK(o.filter_design == FilterDesign::mne);
    CHECK(o.resample_method == ResampleMethod::fft);
    CHECK(o.filters.bandpass_low_hz == 0.1);
    CHECK(o.filters.bandpass_high_hz == 75);
    CHECK(o.filters.notch_hz == 50);
}

TEST_CASE("options override the head's preparation setting by setting", "[preparation]") {
    const HeadPreparation p = tuab();
    PreparationRequest r;
    r.resample_method_given = true;
    r.resample_method = ResampleMethod::poly;
    PreprocessOptions o = resolve(r, &p);
    CHECK(o.resample_method == ResampleMethod::poly);
    CHECK(o.filter_design == FilterDesign::mne);  // the rest stays the head's
    CHECK(o.filters.notch_hz == 50);

    PreparationRequest off;
    off.notch_given = true;  // --notch 0: explicitly off
    off.bandpass_given = true;
    off.bandpass_low_hz = 1;
    off.bandpass_high_hz = 40;
    o = resolve(off, &p);
    CHECK(o.filters.notch_hz == 0);
    CHECK(o.filters.bandpass_low_hz == 1);
    CHECK(o.filters.bandpass_high_hz == 40);
    CHECK(o.filter_design == FilterDesign::mne);

    PreparationRequest scipy;
    scipy.filter_design_given = true;
    scipy.filter_design = FilterDesign::scipy;
    o = resolve(scipy, &p);  // the head's band edges through the Butterworth design
    CHECK(o.filter_design == FilterDesign::scipy);
    CHECK(o.filters.bandpass_order == 4);
    CHECK(o.filters.notch_q == 30);
    CHECK(o.filters.bandpass_high_hz == 75);
}

TEST_CASE("contradictions are refused in one line", "[preparation]") {
    const HeadPreparation p = tuab();
    PreparationRequest order;
    order.bandpass_order_given = true;
    order.bandpass_order = 6;
    CHECK_THAT(refusal(order, &p), Contains("--bandpass-order is the order of the Butterworth band-pass") &&
                                       Contains("the head's mne filter design"));
    PreparationRequest q;
    q.filter_design_given = true;
    q.filter_design = FilterDesign::mne;
    q.notch_given = true;
    q.notch_hz = 50;
    q.notch_q_given = true;
    q.notch_q = 20;
    CHECK_THAT(refusal(q, nullptr), Contains("--notch-q is the quality factor") && Contains("--filter-design mne"));
    PreparationRequest nothing;
    nothing.filter_design_given = true;
    nothing.filter_design = FilterDesign::mne;
    CHECK(refusal(nothing, nullptr) == "--filter-design mne: there is no filter to design; give --bandpass or --notch");
    PreparationRequest lowpass;  // LOW 0 is a low-pass for mne, not for the Butterworth band-pass
    lowpass.bandpass_given = true;
    lowpass.bandpass_high_hz = 40;
    CHECK_THAT(refusal(lowpass, nullptr), Contains("needs LOW > 0"));
    lowpass.filter_design_given = true;
    lowpass.filter_design = FilterDesign::mne;
    CHECK(refusal(lowpass, nullptr).empty());
    PreparationRequest reversed;
    reversed.bandpass_given = true;
    reversed.bandpass_low_hz = 40;
    reversed.bandpass_high_hz = 1;
    CHECK_THAT(refusal(reversed, nullptr), Contains("need 0 <= LOW < HIGH"));
    PreprocessOptions o;
    CHECK_THROWS_WITH(resolve_preparation(nothing, nullptr, o, SettingNames::keywords()),
                      "filter_design='mne': there is no filter to design; give bandpass or notch");
    CHECK_THROWS_WITH(resolve_preparation(reversed, nullptr, o, SettingNames::keywords()),
                      "bandpass=(40, 1): need 0 <= LOW < HIGH, in Hz");
}

TEST_CASE("the line classify prints names the head's preparation", "[preparation]") {
    CHECK(describe_head_preparation(tuab()) ==
          "preparation from the head (tuab): mne FIR 0.1-75 Hz, notch 50 Hz, fft resampling to 200 Hz; options override it");
}

TEST_CASE("a head's preparation is written, read back, and refused when it disagrees with the head", "[preparation]") {
    const std::string path = temp_path("head.h5");
    Head h = small_head();
    save_head(h, path);
    const Head back = load_head(path);
    REQUIRE(back.has_preparation);
    CHECK(back.preparation.name == "tuab");
    CHECK(back.preparation.channels == h.input_labels);
    CHECK(back.preparation.filter_design == FilterDesign::mne);
    CHECK(back.preparation.resample_method == ResampleMethod::fft);
    CHECK(back.preparation.notch_hz == 50);
    CHECK(back.preparation.bandpass_low_hz == 0.1);

    h.has_preparation = false;
    save_head(h, path);
    CHECK_FALSE(load_head(path).has_preparation);

    auto refused = [&](const std::function<void(Head&)>& edit, const std::function<void(hid_t)>& poke,
                       const std::string& expected) {
        Head bad = small_head();
        edit(bad);
        save_head(bad, path);
        {
            h5::Handle f(H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT), H5Fclose);
            h5::Handle g = h5::open_group(f, "preparation");
            poke(g);
        }
        INFO(expected);
        CHECK_THROWS_WITH(load_head(path), Contains(expected));
    };
    auto none = [](Head&) {};
    auto nothing = [](hid_t) {};
    refused([](Head& b) { b.preparation.channels = {"FP2", "FP1"}; }, nothing, "channels must be the head's input_labels");
    refused([](Head& b) { b.preparation.sample_rate_hz = 250; }, nothing, "sample_rate_hz must be the head's");
    refused([](Head& b) { b.preparation.unit_mv = 0.001; }, nothing, "unit_mv must be the head's input_unit_mv");
    refused([](Head& b) { b.preparation.bandpass_low_hz = 80; }, nothing, "need 0 <= bandpass_low_hz < bandpass_high_hz");
    refused(none, [](hid_t g) { h5::write_attr(g, "window", std::string("hann")); }, "unknown attribute 'window'");
    refused(none, [](hid_t g) { H5Adelete(g, "notch_hz"); }, "notch_hz");
    refused(none, [](hid_t g) {
        H5Adelete(g, "resample_method");
        h5::write_attr(g, "resample_method", std::string("sinc"));
    }, "resample_method 'sinc'");
    std::remove(path.c_str());
}
