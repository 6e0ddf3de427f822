// Which preprocessing a run uses, and where each choice comes from: an option the user gave, else
// the data preparation a head file carries (the recipe its model was trained with, e.g. the
// official TUAB/TUEV makers: MNE FIR band-pass 0.1-75 Hz, FIR notch 50 Hz, FFT resampling to 200 Hz,
// microvolts / 100), else the engine's defaults (no filter, scipy design, polyphase resampling).
// Each setting is resolved on its own (option > head > default), so `--resample-method poly` with a
// TUAB head keeps the head's filters; contradictions (a Butterworth order for an FIR design, a
// filter design with nothing to filter) are refused in one line before any work.
//
// Two filter designs:
//   scipy  Butterworth band-pass + iirnotch, zero phase (sosfiltfilt), after resampling (filter.h);
//   mne    MNE 1.4.2's raw.filter / raw.notch_filter FIR filters, at the recording's native rate
//          before resampling, as MNE users and the official makers apply them (mne_filter.h).
// Two resampling methods:
//   poly   scipy.signal.resample_poly, streamed in bounded memory (resample.h);
//   fft    MNE 1.4.2's raw.resample, one FFT per whole channel (mne_resample.h).
#pragma once
#include <string>
#include <vector>

namespace eegpt {

struct PreprocessOptions;

enum class FilterDesign { scipy, mne };
enum class ResampleMethod { poly, fft };

std::string to_string(FilterDesign d);
std::string to_string(ResampleMethod m);
// Throw Error naming `what` (e.g. "--filter-design") and the choices.
FilterDesign parse_filter_design(const std::string& text, const std::string& what);
ResampleMethod parse_resample_method(const std::string& text, const std::string& what);

// The data preparation a head file carries (its group /preparation, docs/weight-format.md). The
// channels, rate and unit repeat the head's input_labels, sample_rate_hz and input_unit_mv (the
// loader requires them equal): they say what the recipe did, the head's attributes what the
// model takes.
struct HeadPreparation {
    std::string name;                   // e.g. "tuab"
    std::vector<std::string> channels;  // the recording's channels, dropped and reordered to these
    FilterDesign filter_design = FilterDesign::mne;
    double bandpass_low_hz = 0, bandpass_high_hz = 0;  // both 0: no band-pass
    int bandpass_order = 0;             // scipy design only
    double notch_hz = 0;                // 0: no notch
    double notch_q = 0;                 // scipy design only
    ResampleMethod resample_method = ResampleMethod::fft;
    double sample_rate_hz = 0;
    double unit_mv = 0;                 // one input unit in millivolts (microvolts / 100: 0.1)
};

// What the user asked for; *_given false: not given (the head's or the default applies).
struct PreparationRequest {
    bool filter_design_given = false, resample_method_given = false;
    FilterDesign filter_design = FilterDesign::scipy;
    ResampleMethod resample_method = ResampleMethod::poly;
    bool bandpass_given = false;  // bandpass_high_hz 0 with bandpass_given: explicitly off
    double bandpass_low_hz = 0, bandpass_high_hz = 0;
    bool bandpass_order_given = false;
    int bandpass_order = 4;
    bool notch_given = false;     // notch_hz 0 with notch_given: explicitly off
    double notch_hz = 0;
    bool notch_q_given = false;
    double notch_q = 30;
};

// How messages name the settings: the CLI's options or Python's keywords.
struct SettingNames {
    std::string filter_design = "--filter-design", bandpass = "--bandpass", bandpass_order = "--bandpass-order",
                notch = "--notch", notch_q = "--notch-q";
    bool python = false;  // values written name='value' / name=(low, high) instead of --name value
    static SettingNames keywords() {
        return {"filter_design", "bandpass", "bandpass_order", "notch", "notch_q", true};
    }
};

// Fills out's filters, filter_design and resample_method (the rest of `out` is left as it is).
// `head` may be null. Throws Error (one line) on a contradiction or a filter that cannot be designed.
void resolve_preparation(const PreparationRequest& request, const HeadPreparation* head, PreprocessOptions& out,
                         const SettingNames& names = SettingNames());

// One line for the user: "preparation from the head (tuab): mne FIR 0.1-75 Hz, notch 50 Hz, fft
// resampling to 200 Hz; options override it".
std::string describe_head_preparation(const HeadPreparation& p);

}  // namespace eegpt
