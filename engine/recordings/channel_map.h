// From a recording's signal labels to the 62-name channel dictionary (channels.h): which signals the
// encoder gets, under which ids, and which are dropped and why.
#pragma once
#include <string>
#include <vector>

namespace eegpt {

// Dictionary name of a recording label, or "" when it does not name one electrode of the
// dictionary. Steps: trim, upper-case, drop trailing dots ("Fc5." -> FC5), drop a type prefix
// "EEG " ("EEG Fp1" -> FP1), drop a reference suffix (-REF -LE -RE -AR -AV -AVG -M1 -M2 -A1 -A2
// -A1A2 -CZ -CAR ...: "EEG Fp1-REF" -> FP1), old 10-20 names (T3 T4 T5 T6 -> T7 T8 P7 P8).
// A pair whose second electrode is not a reference ("F3-C3", "EEG A2-A1") is a bipolar
// derivation and maps to "".
std::string dictionary_name_of_label(const std::string& label);

// Why a label does not map ("non-EEG signal (ECG)", "bipolar derivation", "not in the 62-name
// dictionary"); "" when it maps.
std::string unmapped_reason(const std::string& label);

// Multiplier from a physical unit to millivolts: "uV"/"µV" 1e-3, "mV" 1, "V" 1e3, "nV" 1e-6;
// 0 when the unit is not a voltage.
double millivolts_per_unit(const std::string& unit);

struct SignalDescription {
    std::string label, unit;
};

// How a downstream model's input label and a recording label are compared: upper case, trimmed,
// trailing dots, the type prefix "EEG " and a non-electrode reference suffix (-REF -AVG -LE ...)
// dropped, old 10-20 names (T3 -> T7 ...) on each side of a pair; a derivation against an electrode
// ("Fpz-Cz") keeps both electrodes ("FPZ-CZ").
std::string model_input_key(const std::string& label);

struct MontageOptions {
    std::vector<std::string> channels;  // dictionary names wanted, in output order; empty: every mapped signal
    // A downstream model's input labels (any strings), in order: each takes the first recording
    // signal with the same model_input_key, else the first whose dictionary name is the label's.
    // Excludes `channels`.
    std::vector<std::string> model_inputs;
    bool fill_missing_zeros = false;    // a wanted channel absent from the recording is zeros (else an error)
};

// `spec` is a preset ("standard19", "all") or a comma-separated list of channel names (mapped like
// recording labels, so "T3" means T7). Throws Error naming an unknown name or a duplicate.
std::vector<std::string> parse_montage(const std::string& spec);

// The 19 channels of the standard 10-20 montage (docs/architecture.md), as dictionary names.
const std::vector<std::string>& standard19_montage();

struct ChannelPlan {
    // Output channels, in encoder order.
    std::vector<int> ids;             // dictionary ids (-1 for a model input outside the dictionary)
    std::vector<std::string> names;   // dictionary names (model inputs: the model's labels)
    std::vector<int> signal;          // index of the source signal in the recording; -1: zero-filled
    std::vector<std::string> labels;  // the source label as written in the recording ("" when filled)
    std::vector<double> to_millivolts;  // unit factor of each source signal (0 when filled)
    // Recording signals not used, with the reason, in recording order.
    std::vector<std::string> dropped, dropped_reasons;
    std::vector<std::string> filled;     // dictionary names filled with zeros
    std::vector<std::string> warnings;   // e.g. duplicate electrodes
    int channels() const { return static_cast<int>(ids.size()); }
};

// Throws Error when no signal maps, or a wanted channel is missing and filling is off.
ChannelPlan plan_channels(const std::vector<SignalDescription>& signals, const MontageOptions& options);

}  // namespace eegpt
