#include "recordings/pipeline/signal_stream.h"

#include <algorithm>

#include "encoder/error.h"

namespace eegpt {
namespace {

constexpr int64_t kSamplesPerRead = 4096;         // per signal and block, before resampling
constexpr int64_t kFilterChunkSeconds = 60;

}  // namespace

SignalStream::SignalStream(SampleSource& reader, const ChannelPlan& plan, const PreprocessOptions& options, int rate_hz)
    : reader_(reader), plan_(plan), options_(options) {
    if (rate_hz < 1) throw Error("the target sample rate must be a positive whole number of Hz");
    const auto& signals = reader.signals();
    int max_per_record = 1;
    for (int k = 0; k < plan.channels(); ++k) {
        const int s = plan.signal[static_cast<size_t>(k)];
        if (s < 0) {
            ratios_.push_back({1, 1});
            continue;
        }
        const EdfSignal& sig = signals.at(static_cast<size_t>(s));
        // rate = samples_per_record / record duration; target / rate = target * duration / samples_per_record.
        ResampleRatio r = resample_ratio(static_cast<int64_t>(rate_hz) * reader.record_duration_100ns(),
                                         static_cast<int64_t>(sig.samples_per_record) * 10000000);
        const int64_t total = (sig.samples * r.up + r.down - 1) / r.down;
        if (recorded_.empty()) total_ = total;
        if (total != total_) throw Error("signals of one recording have different durations");
        ratios_.push_back(r);
        recorded_.push_back(k);
        resamplers_.push_back(std::make_unique<PolyphaseResampler>(r.up, r.down));
        max_per_record = std::max(max_per_record, sig.samples_per_record);
    }
    if (recorded_.empty()) throw Error("no recorded channel to read");
    if (options.average_reference && recorded_.size() < 2)
        throw Error("average reference needs at least 2 recorded channels");
    records_per_block_ = std::max<int64_t>(1, kSamplesPerRead / max_per_record);
    resampled_.resize(recorded_.size());
    if (options.filters.enabled()) {
        const auto sos = design_filters(options.filters, rate_hz);
        const auto context = static_cast<int64_t>(filter_context_seconds(options.filters) * rate_hz);
        for (size_t r = 0; r < recorded_.size(); ++r)
            filters_.push_back(std::make_unique<ChunkedZeroPhase>(sos, kFilterChunkSeconds * rate_hz, context));
        filtered_.resize(recorded_.size());
    }
}

void SignalStream::read_records() {
    if (next_record_ >= reader_.records()) {
        for (size_t r = 0; r < recorded_.size(); ++r) resamplers_[r]->finish(resampled_[r]);
        input_done_ = true;
        return;
    }
    const int64_t count = std::min(records_per_block_, reader_.records() - next_record_);
    for (size_t r = 0; r < recorded_.size(); ++r) {
        const int k = recorded_[r];
        const int s = plan_.signal[static_cast<size_t>(k)];
        const EdfSignal& sig = reader_.signals()[static_cast<size_t>(s)];
        const int64_t per_record = sig.samples_per_record;
        const int64_t n = std::min(per_record * count, sig.samples - next_record_ * per_record);  // last record may be short
        read_buffer_.resize(static_cast<size_t>(n));
        reader_.read(s, next_record_ * per_record, static_cast<int>(n), read_buffer_.data());
        const double scale = plan_.to_millivolts[static_cast<size_t>(k)];
        for (double& v : read_buffer_) v *= scale;
        resamplers_[r]->push(read_buffer_.data(), read_buffer_.size(), resampled_[r]);
    }
    next_record_ += count;
}

// Moves the samples all channels have reached through the filters (when filtering).
void SignalStream::move_aligned() {
    if (filters_.empty()) return;
    size_t m = resampled_[0].size();
    for (const auto& v : resampled_) m = std::min(m, v.size());
    for (size_t r = 0; r < recorded_.size(); ++r) {
        filters_[r]->push(resampled_[r].data(), m, filtered_[r]);
        resampled_[r].erase(resampled_[r].begin(), resampled_[r].begin() + static_cast<std::ptrdiff_t>(m));
        if (input_done_) filters_[r]->finish(filtered_[r]);
    }
}

bool SignalStream::next(std::vector<float>& block, int64_t& n) {
    auto& source = filters_.empty() ? resampled_ : filtered_;
    while (true) {
        size_t m = source[0].size();
        for (const auto& v : source) m = std::min(m, v.size());
        if (m > 0) {
            n = static_cast<int64_t>(m);
            block.assign(static_cast<size_t>(channels()) * m, 0.0f);
            std::vector<double> mean(m, 0.0);
            if (options_.average_reference) {
                for (const auto& v : source)
                    for (size_t t = 0; t < m; ++t) mean[t] += v[t];
                for (double& v : mean) v /= static_cast<double>(recorded_.size());
            }
            for (size_t r = 0; r < recorded_.size(); ++r) {
                float* row = block.data() + static_cast<size_t>(recorded_[r]) * m;
                for (size_t t = 0; t < m; ++t) row[t] = static_cast<float>(source[r][t] - mean[t]);
                source[r].erase(source[r].begin(), source[r].begin() + static_cast<std::ptrdiff_t>(m));
            }
            produced_ += n;
            if (produced_ > total_) throw Error("internal error: preprocessing produced more samples than expected");
            return true;
        }
        if (input_done_) {
            if (produced_ != total_) throw Error("internal error: preprocessing produced fewer samples than expected");
            return false;
        }
        read_records();
        move_aligned();
    }
}

}  // namespace eegpt
