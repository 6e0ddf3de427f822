// Resolution of the preprocessing settings (preparation.h): option > head > default, setting by
// setting, and the refusals of what contradicts itself.
#include "recordings/pipeline/preparation.h"

#include <cmath>

#include "encoder/conventions.h"
#include "encoder/error.h"
#include "recordings/pipeline/signal_stream.h"

namespace eegpt {
namespace {

std::string hz(double v) { return format_number(v); }

// "--filter-design mne" on the command line, "filter_design='mne'" in Python.
std::string setting(const SettingNames& n, const std::string& name, const std::string& value) {
    return n.python ? name + "='" + value + "'" : name + " " + value;
}
std::string band(const SettingNames& n, double lo, double hi) {
    return n.python ? n.bandpass + "=(" + hz(lo) + ", " + hz(hi) + ")" : n.bandpass + " " + hz(lo) + "," + hz(hi);
}

}  // namespace

std::string to_string(FilterDesign d) { return d == FilterDesign::mne ? "mne" : "scipy"; }
std::string to_string(ResampleMethod m) { return m == ResampleMethod::fft ? "fft" : "poly"; }

FilterDesign parse_filter_design(const std::string& text, const std::string& what) {
    if (text == "scipy") return FilterDesign::scipy;
    if (text == "mne") return FilterDesign::mne;
    throw Error(what + " '" + text + "': must be 'scipy' (Butterworth and iirnotch, zero phase) or 'mne' (MNE's FIR filters)");
}

ResampleMethod parse_resample_method(const std::string& text, const std::string& what) {
    if (text == "poly") return ResampleMethod::poly;
    if (text == "fft") return ResampleMethod::fft;
    throw Error(what + " '" + text + "': must be 'poly' (scipy's resample_poly, streamed) or 'fft' (MNE's raw.resample)");
}

void resolve_preparation(const PreparationRequest& r, const HeadPreparation* head, PreprocessOptions& out,
                         const SettingNames& names) {
    FilterOptions f;
    // Each setting: the option when given, else the head's, else the default.
    const FilterDesign design = r.filter_design_given ? r.filter_design : head ? head->filter_design : FilterDesign::scipy;
    const ResampleMethod method =
        r.resample_method_given ? r.resample_method : head ? head->resample_method : ResampleMethod::poly;
    if (r.bandpass_given) {
        f.bandpass_low_hz = r.bandpass_low_hz;
        f.bandpass_high_hz = r.bandpass_high_hz;
    } else if (head) {
        f.bandpass_low_hz = head->bandpass_low_hz;
        f.bandpass_high_hz = head->bandpass_high_hz;
    }
    f.notch_hz = r.notch_given ? r.notch_hz : head ? head->notch_hz : 0.0;
    const bool head_scipy = head && head->filter_design == FilterDesign::scipy;
    f.bandpass_order = r.bandpass_order_given ? r.bandpass_order : head_scipy && head->bandpass_order > 0 ? head->bandpass_order : 4;
    f.notch_q = r.notch_q_given ? r.notch_q : head_scipy && head->notch_q > 0 ? head->notch_q : 30.0;

    const std::string scipy = setting(names, names.filter_design, "scipy");
    if (design == FilterDesign::mne) {
        const std::string from = r.filter_design_given ? setting(names, names.filter_design, "mne") : "the head's mne filter design";
        if (r.bandpass_order_given)
            throw Error(names.bandpass_order + " is the order of the Butterworth band-pass of " + scipy + "; " + from +
                        " takes its FIR length from the band edges, as MNE does");
        if (r.notch_q_given)
            throw Error(names.notch_q + " is the quality factor of the IIR notch of " + scipy + "; " + from +
                        " uses MNE's notch widths (F / 200)");
    }
    if (r.filter_design_given && !f.enabled())
        throw Error(setting(names, names.filter_design, to_string(design)) + ": there is no filter to design; give " +
                    names.bandpass + " or " + names.notch);
    if (f.bandpass_high_hz > 0 || f.bandpass_low_hz != 0) {
        const double lo = f.bandpass_low_hz, hi = f.bandpass_high_hz;
        if (!std::isfinite(lo) || !std::isfinite(hi) || lo < 0 || !(hi > lo))
            throw Error(band(names, lo, hi) + ": need 0 <= LOW < HIGH, in Hz");
    }
    if (design == FilterDesign::scipy) {
        // Checked at the model's rate before any work, as before (the band must lie below 128 Hz).
        if (f.bandpass_high_hz > 0 && !(f.bandpass_low_hz > 0))
            throw Error(band(names, f.bandpass_low_hz, f.bandpass_high_hz) + ": the Butterworth band-pass of " + scipy +
                        " needs LOW > 0 (" + setting(names, names.filter_design, "mne") + " takes 0 for a low-pass)");
        if (f.enabled()) design_filters(f, kModelRateHz);
    } else if (f.notch_hz > 0 && !std::isfinite(f.notch_hz)) {
        throw Error(names.notch + " " + hz(f.notch_hz) + ": must be a frequency in Hz");
    }
    out.filters = f;
    out.filter_design = design;
    out.resample_method = method;
}

std::string describe_head_preparation(const HeadPreparation& p) {
    std::string text = "preparation from the head (" + p.name + "): ";
    std::string parts;
    auto add = [&](const std::string& s) { parts += (parts.empty() ? "" : ", ") + s; };
    const std::string design = to_string(p.filter_design) + (p.filter_design == FilterDesign::mne ? " FIR " : " Butterworth ");
    if (p.bandpass_high_hz > 0)
        add(p.bandpass_low_hz > 0 ? design + hz(p.bandpass_low_hz) + "-" + hz(p.bandpass_high_hz) + " Hz"
                                  : design + "low-pass " + hz(p.bandpass_high_hz) + " Hz");
    if (p.notch_hz > 0) add("notch " + hz(p.notch_hz) + " Hz");
    add(to_string(p.resample_method) + " resampling to " + hz(p.sample_rate_hz) + " Hz");
    return text + parts + "; options override it";
}

}  // namespace eegpt
