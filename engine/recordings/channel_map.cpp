#include "recordings/channel_map.h"

#include "encoder/conventions.h"

#include <algorithm>
#include <cctype>
#include <set>

#include "encoder/channels.h"
#include "encoder/error.h"

namespace eegpt {
namespace {

std::string upper_trimmed(const std::string& label) {
    size_t b = 0, e = label.size();
    while (b < e && std::isspace(static_cast<unsigned char>(label[b]))) ++b;
    while (e > b && std::isspace(static_cast<unsigned char>(label[e - 1]))) --e;
    std::string s = label.substr(b, e - b);
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char ch) { return static_cast<char>(std::toupper(ch)); });
    while (!s.empty() && s.back() == '.') s.pop_back();
    return s;
}

// Leading type word of a label ("EEG", "ECG", ...) when followed by a space, colon or underscore.
std::string type_prefix(const std::string& s) {
    size_t end = s.find_first_of(" :_");
    return end == std::string::npos ? "" : s.substr(0, end);
}

const std::set<std::string>& non_eeg_types() {
    static const std::set<std::string> types = {"ECG",    "EKG",   "EOG",   "EMG",   "RESP",  "SAO2",   "SPO2",
                                                "PULSE",  "PLETH", "STATUS", "TRIGGER", "EVENT", "PHOTIC", "IBI",
                                                "BURSTS", "SUPPR", "HR",     "TEMP",  "POS",   "LIGHT",  "MARKER",
                                                "LOC",    "ROC",   "CHIN",  "LEG",   "SNORE", "THOR",   "ABDO"};
    return types;
}

const std::set<std::string>& reference_suffixes() {
    static const std::set<std::string> refs = {"REF", "LE",   "RE",  "AR",   "AV",   "AVG",    "AVE",       "AVERAGE",
                                               "CAR", "M1",   "M2",  "A1",   "A2",   "A1A2",   "M1M2",      "CZ",
                                               "LINKED", "REFERENCE", "MASTOIDS", "EARS", "A12", "LM", "CMS"};
    return refs;
}

// The reference suffixes that name an electrode (as opposed to REF, AVG, LINKED...).
const std::set<std::string>& electrode_suffixes() {
    static const std::set<std::string> names = {"M1", "M2", "A1", "A2", "A1A2", "M1M2", "CZ", "A12"};
    return names;
}

const std::string kOldNames[][2] = {{"T3", "T7"}, {"T4", "T8"}, {"T5", "P7"}, {"T6", "P8"}};

// The label with case, dots, "EEG " prefix and old names handled; the reference suffix is split
// off into `suffix` (empty when there is no "-").
std::string core_name(const std::string& label, std::string& suffix) {
    std::string s = upper_trimmed(label);
    if (type_prefix(s) == "EEG") {
        s = s.substr(4);
        while (!s.empty() && s.front() == ' ') s.erase(0, 1);
    }
    suffix.clear();
    size_t dash = s.find('-');
    if (dash != std::string::npos) {
        suffix = s.substr(dash + 1);
        s = s.substr(0, dash);
        while (!suffix.empty() && suffix.back() == '.') suffix.pop_back();
        while (!s.empty() && (s.back() == ' ' || s.back() == '.')) s.pop_back();
    }
    for (const auto& pair : kOldNames)
        if (s == pair[0]) s = pair[1];
    return s;
}

const std::set<std::string>& non_electrode_references() {
    static const std::set<std::string> refs = [] {
        std::set<std::string> r;
        for (const auto& s : reference_suffixes())
            if (!electrode_suffixes().count(s)) r.insert(s);
        return r;
    }();
    return refs;
}

std::string old_name_mapped(const std::string& s) {
    for (const auto& pair : kOldNames)
        if (s == pair[0]) return pair[1];
    return s;
}

ChannelPlan plan_model_inputs(const std::vector<SignalDescription>& signals, const MontageOptions& options) {
    ChannelPlan plan;
    std::vector<bool> used(signals.size(), false);
    std::vector<std::string> reason(signals.size());
    std::vector<std::string> keys(signals.size()), names(signals.size());
    for (size_t i = 0; i < signals.size(); ++i) {
        if (millivolts_per_unit(signals[i].unit) == 0) {
            reason[i] = "unit '" + signals[i].unit + "' is not a voltage (nV, uV, mV, V, kV)";
            continue;
        }
        keys[i] = model_input_key(signals[i].label);
        names[i] = dictionary_name_of_label(signals[i].label);
    }
    std::string missing;
    for (const auto& wanted : options.model_inputs) {
        const std::string key = model_input_key(wanted), name = dictionary_name_of_label(wanted);
        int signal = -1;
        for (size_t i = 0; i < signals.size() && signal < 0; ++i)
            if (reason[i].empty() && !used[i] && keys[i] == key) signal = static_cast<int>(i);
        for (size_t i = 0; i < signals.size() && signal < 0 && !name.empty(); ++i)
            if (reason[i].empty() && !used[i] && names[i] == name) signal = static_cast<int>(i);
        if (signal < 0) {
            missing += (missing.empty() ? "" : ", ") + wanted;
            plan.filled.push_back(wanted);
        } else {
            used[static_cast<size_t>(signal)] = true;
        }
        plan.ids.push_back(name.empty() ? -1 : find_channel_id(name));
        plan.names.push_back(wanted);
        plan.signal.push_back(signal);
        plan.labels.push_back(signal >= 0 ? signals[static_cast<size_t>(signal)].label : "");
        plan.to_millivolts.push_back(signal >= 0 ? millivolts_per_unit(signals[static_cast<size_t>(signal)].unit) : 0.0);
    }
    if (!missing.empty() && !options.fill_missing_zeros)
        throw Error("the model's input(s) " + missing +
                    " are not in the recording (--fill-missing zeros fills them with zeros)");
    if (plan.filled.size() == plan.ids.size()) throw Error("none of the model's inputs is in the recording");
    for (size_t i = 0; i < signals.size(); ++i) {
        if (used[i]) continue;
        plan.dropped.push_back(signals[i].label);
        plan.dropped_reasons.push_back(reason[i].empty() ? "not an input of the model" : reason[i]);
    }
    return plan;
}

}  // namespace

std::string model_input_key(const std::string& label) {
    std::string s = upper_trimmed(label);
    if (type_prefix(s) == "EEG") {
        s = s.substr(4);
        while (!s.empty() && s.front() == ' ') s.erase(0, 1);
    }
    const size_t dash = s.find('-');
    if (dash == std::string::npos) return old_name_mapped(s);
    std::string first = s.substr(0, dash), second = s.substr(dash + 1);
    while (!first.empty() && (first.back() == ' ' || first.back() == '.')) first.pop_back();
    while (!second.empty() && (second.front() == ' ')) second.erase(0, 1);
    while (!second.empty() && second.back() == '.') second.pop_back();
    if (non_electrode_references().count(second)) return old_name_mapped(first);
    return old_name_mapped(first) + "-" + old_name_mapped(second);
}

double millivolts_per_unit(const std::string& raw) {
    size_t b = 0, e = raw.size();
    while (b < e && raw[b] == ' ') ++b;
    while (e > b && raw[e - 1] == ' ') --e;
    const std::string unit = raw.substr(b, e - b);
    // Micro as u, as the micro sign (U+00B5: UTF-8, Latin-1) or as the Greek mu (U+03BC, UTF-8), as
    // MNE reads them; the prefixes' case as EDF writers spell them (only m for milli: M is mega).
    if (unit == "uV" || unit == "uv" || unit == "UV" || unit == "\xC2\xB5V" || unit == "\xB5V" || unit == "\xCE\xBCV")
        return 1e-3;
    if (unit == "mV" || unit == "mv") return 1.0;
    if (unit == "V" || unit == "v") return 1e3;
    if (unit == "nV" || unit == "nv") return 1e-6;
    if (unit == "kV" || unit == "kv" || unit == "KV") return 1e6;
    return 0.0;
}

std::string dictionary_name_of_label(const std::string& label) {
    std::string suffix;
    std::string name = core_name(label, suffix);
    if (!suffix.empty() && !reference_suffixes().count(suffix)) return "";
    const auto& names = channel_dictionary();
    return std::find(names.begin(), names.end(), name) != names.end() ? name : "";
}

std::string unmapped_reason(const std::string& label) {
    if (!dictionary_name_of_label(label).empty()) return "";
    const std::string s = upper_trimmed(label);
    if (s == "EDF ANNOTATIONS" || s == "BDF ANNOTATIONS") return "annotation signal";
    std::string type = type_prefix(s);
    if (non_eeg_types().count(type)) return "non-EEG signal (" + type + ")";
    std::string suffix;
    std::string name = core_name(label, suffix);
    for (const auto& t : non_eeg_types())
        if (name.rfind(t, 0) == 0) return "non-EEG signal (" + t + ")";
    // "A2-A1" is a derivation between two electrodes; "A1-REF" is an electrode (outside the
    // dictionary) against the reference.
    if (!suffix.empty() && (!reference_suffixes().count(suffix) ||
                            (reference_suffixes().count(name) && electrode_suffixes().count(suffix))))
        return "bipolar derivation";
    return "not in the 62-name dictionary";
}

const std::vector<std::string>& standard19_montage() {
    static const std::vector<std::string> names(kStandard19Montage.begin(), kStandard19Montage.end());
    return names;
}

std::vector<std::string> parse_montage(const std::string& spec) {
    if (spec == "standard19") return standard19_montage();
    if (spec == "all" || spec.empty()) return {};
    std::vector<std::string> names;
    size_t start = 0;
    while (start <= spec.size()) {
        size_t comma = spec.find(',', start);
        std::string item = spec.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
        std::string name = dictionary_name_of_label(item);
        if (name.empty())
            throw Error("--channels: '" + item + "' is not a channel of the 62-name dictionary (or a preset: standard19, all)");
        if (std::find(names.begin(), names.end(), name) != names.end())
            throw Error("--channels: '" + item + "' is listed twice");
        names.push_back(name);
        if (comma == std::string::npos) break;
        start = comma + 1;
    }
    return names;
}

ChannelPlan plan_channels(const std::vector<SignalDescription>& signals, const MontageOptions& options) {
    if (!options.model_inputs.empty()) {
        if (!options.channels.empty()) throw Error("--channels cannot be combined with a head: the head fixes its input channels");
        return plan_model_inputs(signals, options);
    }
    ChannelPlan plan;
    // First signal of each dictionary name; the rest are reported.
    std::vector<int> first_signal(channel_dictionary().size(), -1);
    std::vector<std::string> reason(signals.size());
    for (size_t i = 0; i < signals.size(); ++i) {
        const std::string& label = signals[i].label;
        std::string name = dictionary_name_of_label(label);
        if (name.empty()) {
            reason[i] = unmapped_reason(label);
            continue;
        }
        if (millivolts_per_unit(signals[i].unit) == 0) {
            reason[i] = "unit '" + signals[i].unit + "' is not a voltage (nV, uV, mV, V, kV)";
            continue;
        }
        int id = find_channel_id(name);
        int& first = first_signal[static_cast<size_t>(id)];
        if (first >= 0) {
            reason[i] = "duplicate of '" + signals[static_cast<size_t>(first)].label + "' (both are " + name + ")";
            plan.warnings.push_back("signals '" + signals[static_cast<size_t>(first)].label + "' and '" + label +
                                    "' are both " + name + ": the first one is used");
            continue;
        }
        first = static_cast<int>(i);
    }
    auto add = [&](const std::string& name, int signal) {
        plan.ids.push_back(find_channel_id(name));
        plan.names.push_back(name);
        plan.signal.push_back(signal);
        plan.labels.push_back(signal >= 0 ? signals[static_cast<size_t>(signal)].label : "");
        plan.to_millivolts.push_back(signal >= 0 ? millivolts_per_unit(signals[static_cast<size_t>(signal)].unit) : 0.0);
    };
    std::vector<bool> used(signals.size(), false);
    if (options.channels.empty()) {
        for (size_t i = 0; i < signals.size(); ++i) {
            if (!reason[i].empty()) continue;
            add(dictionary_name_of_label(signals[i].label), static_cast<int>(i));
            used[i] = true;
        }
        if (plan.ids.empty()) throw Error("no signal maps to the 62-name EEG channel dictionary");
    } else {
        std::string missing;
        for (const auto& wanted : options.channels) {
            int id = find_channel_id(wanted);
            if (id < 0) throw Error("channel '" + wanted + "' is not in the 62-name dictionary");
            int signal = first_signal[static_cast<size_t>(id)];
            if (signal < 0) {
                missing += (missing.empty() ? "" : ", ") + wanted;
                plan.filled.push_back(wanted);
            } else {
                used[static_cast<size_t>(signal)] = true;
            }
            add(wanted, signal);
        }
        if (!missing.empty() && !options.fill_missing_zeros)
            throw Error("channel(s) " + missing + " requested but not in the recording (--fill-missing zeros fills them with zeros)");
        if (plan.filled.size() == plan.ids.size()) throw Error("none of the requested channels is in the recording");
        for (size_t i = 0; i < signals.size(); ++i)
            if (reason[i].empty() && !used[i]) reason[i] = "not in the requested montage";
    }
    for (size_t i = 0; i < signals.size(); ++i) {
        if (used[i]) continue;
        plan.dropped.push_back(signals[i].label);
        plan.dropped_reasons.push_back(reason[i]);
    }
    return plan;
}

}  // namespace eegpt
