#include "recordings/io/sample_source.h"

#include <cmath>
#include <cstdio>

#include "encoder/error.h"

namespace eegpt {

MemorySource::MemorySource(std::string description, const std::vector<std::string>& labels,
                           const std::vector<std::string>& units, double rate_hz, const double* data, int64_t samples)
    : description_(std::move(description)), rate_hz_(rate_hz), data_(data), samples_(samples) {
    if (!(rate_hz >= 1 && rate_hz <= 1e6) || rate_hz != std::floor(rate_hz)) {
        throw Error("sampling rate " + format_number(rate_hz) +
                    " Hz is not a whole number of Hz (resample the signals first)");
    }
    if (labels.size() != units.size()) throw Error("one unit per channel label is needed");
    if (labels.empty()) throw Error("the recording has no signals");
    if (samples < 1) throw Error("the recording has no samples");
    const int per_record = static_cast<int>(rate_hz);
    records_ = (samples + per_record - 1) / per_record;
    for (size_t i = 0; i < labels.size(); ++i) {
        EdfSignal s;
        s.label = labels[i];
        s.unit = units[i];
        s.samples_per_record = per_record;
        s.samples = samples;
        s.rate_hz = rate_hz;
        signals_.push_back(s);
    }
    out_of_range_counts_.assign(signals_.size(), 0);
}

void MemorySource::read(int index, int64_t start, int count, double* out) {
    if (index < 0 || static_cast<size_t>(index) >= signals_.size() || start < 0 || count < 0 ||
        start + count > samples_)
        throw Error("internal error: read outside the recording");
    const double* row = data_ + static_cast<size_t>(index) * static_cast<size_t>(samples_) + static_cast<size_t>(start);
    for (int i = 0; i < count; ++i) {
        if (!std::isfinite(row[i]))
            throw Error("signal '" + signals_[static_cast<size_t>(index)].label + "' has a non-finite sample at " +
                        std::to_string(start + i));
        out[i] = row[i];
    }
}

}  // namespace eegpt
