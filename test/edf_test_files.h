// EDF/BDF files written byte by byte for the reader tests: every header field under the test's
// control, so that each kind of damage can be made on purpose.
#pragma once
#include <cmath>
#include <cstdint>
#include <fstream>
#include <string>
#include <vector>

namespace eegpt_test {

struct RawSignal {
    std::string label, unit = "uV";
    int samples_per_record = 32;
    std::string physical_min = "-3276.8", physical_max = "3276.7", digital_min = "-32768", digital_max = "32767";
    std::string prefilter;
};

struct RawEdf {
    std::vector<RawSignal> signals;
    bool bdf = false;
    std::string reserved;           // "EDF+C", "EDF+D", "BDF+C", "24BIT", ...
    std::string records = "2";      // as written in the header
    std::string duration = "1";     // seconds per record, as written
    std::string header_bytes;       // default: 256 x (signals + 1)
    int data_records = -1;          // records of data actually written (default: the header's)
    bool annotation = false;        // append an EDF+/BDF+ annotation signal with time-keeping TALs
    std::string annotation_prefilter;
};

inline std::string field(const std::string& value, size_t width) {
    std::string s = value.substr(0, width);
    s.resize(width, ' ');
    return s;
}

// The digital value written for sample k of signal i in record r (a small deterministic ramp).
inline int raw_value(int r, int i, int k) { return ((k * 37 + r * 11 + i * 5) % 200) - 100; }

inline std::string edf_bytes(const RawEdf& spec) {
    std::vector<RawSignal> sigs = spec.signals;
    if (spec.annotation) {
        RawSignal a;
        a.label = spec.bdf ? "BDF Annotations" : "EDF Annotations";
        a.unit = "";
        a.samples_per_record = 30;
        a.physical_min = "-1";
        a.physical_max = "1";
        a.digital_min = spec.bdf ? "-8388608" : "-32768";
        a.digital_max = spec.bdf ? "8388607" : "32767";
        a.prefilter = spec.annotation_prefilter;
        sigs.push_back(a);
    }
    const size_t ns = sigs.size();
    std::string h = spec.bdf ? std::string("\xff") + "BIOSEMI" : field("0", 8);
    h += field("X X X X", 80) + field("Startdate 01-JAN-1985 X X X", 80) + field("01.01.85", 8) + field("00.00.00", 8);
    h += field(spec.header_bytes.empty() ? std::to_string(256 * (ns + 1)) : spec.header_bytes, 8);
    h += field(spec.reserved, 44) + field(spec.records, 8) + field(spec.duration, 8) + field(std::to_string(ns), 4);
    for (auto& s : sigs) h += field(s.label, 16);
    for (size_t i = 0; i < ns; ++i) h += field("", 80);
    for (auto& s : sigs) h += field(s.unit, 8);
    for (auto& s : sigs) h += field(s.physical_min, 8);
    for (auto& s : sigs) h += field(s.physical_max, 8);
    for (auto& s : sigs) h += field(s.digital_min, 8);
    for (auto& s : sigs) h += field(s.digital_max, 8);
    for (auto& s : sigs) h += field(s.prefilter, 80);
    for (auto& s : sigs) h += field(std::to_string(s.samples_per_record), 8);
    for (size_t i = 0; i < ns; ++i) h += field("", 32);
    const int bytes = spec.bdf ? 3 : 2;
    const int records = spec.data_records >= 0 ? spec.data_records : std::atoi(spec.records.c_str());
    for (int r = 0; r < records; ++r) {
        for (size_t i = 0; i < ns; ++i) {
            const int n = sigs[i].samples_per_record;
            if (spec.annotation && i == ns - 1) {
                std::string tal = "+" + std::to_string(r) + "\x14\x14";
                tal.push_back('\0');
                tal.resize(static_cast<size_t>(n * bytes), '\0');
                h += tal;
                continue;
            }
            for (int k = 0; k < n; ++k) {
                const int v = raw_value(r, static_cast<int>(i), k);
                for (int b = 0; b < bytes; ++b) h.push_back(static_cast<char>((v >> (8 * b)) & 0xFF));
            }
        }
    }
    return h;
}

inline void write_file(const std::string& path, const std::string& bytes) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

inline RawSignal eeg_signal(const std::string& label, int samples_per_record = 32) {
    RawSignal s;
    s.label = label;
    s.samples_per_record = samples_per_record;
    return s;
}

}  // namespace eegpt_test
