#include "recordings/pipeline/signal_stream.h"

#include <algorithm>
#include <map>
#include <new>
#include <utility>

#include "encoder/error.h"
#include "recordings/preprocess/mne_filter.h"
#include "recordings/preprocess/mne_resample.h"

namespace eegpt {
namespace {

constexpr int64_t kSamplesPerRead = 4096;         // per signal and block, before resampling
constexpr int64_t kFilterChunkSeconds = 60;
constexpr int64_t kWholeReadSamples = 1 << 20;    // per read() call when reading a channel whole
constexpr int64_t kServeSamples = 16384;          // per block served from whole channels

}  // namespace

SignalStream::~SignalStream() = default;

SignalStream::SignalStream(SampleSource& reader, const ChannelPlan& plan, const PreprocessOptions& options, int rate_hz)
    : reader_(reader), plan_(plan), options_(options), rate_hz_(rate_hz) {
    if (rate_hz < 1) throw Error("the target sample rate must be a positive whole number of Hz");
    const auto& signals = reader.signals();
    const bool fft = options.resample_method == ResampleMethod::fft;
    const FilterOptions& f = options.filters;
    const bool mne_filters = f.enabled() && options.filter_design == FilterDesign::mne;
    // One design per native rate (MNE designs the taps from sfreq).
    std::map<double, std::pair<std::vector<double>, std::vector<double>>> taps;
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
        if (!fft) resamplers_.push_back(std::make_unique<PolyphaseResampler>(r.up, r.down));
        if (mne_filters) {
            auto it = taps.find(sig.rate_hz);
            if (it == taps.end()) {
                std::vector<double> band, notch;
                if (f.bandpass_high_hz > 0) band = mne_filter_taps(sig.rate_hz, f.bandpass_low_hz, f.bandpass_high_hz);
                if (f.notch_hz > 0) notch = mne_notch_taps(sig.rate_hz, f.notch_hz);
                it = taps.emplace(sig.rate_hz, std::make_pair(std::move(band), std::move(notch))).first;
            }
            std::vector<std::unique_ptr<StreamingFir>> chain;
            for (const auto* t : {&it->second.first, &it->second.second})
                if (!t->empty()) chain.push_back(std::make_unique<StreamingFir>(*t));
            double context = 0;
            for (const auto& fir : chain) context += static_cast<double>(fir->context()) / sig.rate_hz;
            filter_context_s_ = std::max(filter_context_s_, context);
            firs_.push_back(std::move(chain));
        }
        max_per_record = std::max(max_per_record, sig.samples_per_record);
    }
    if (recorded_.empty()) throw Error("no recorded channel to read");
    if (options.average_reference && recorded_.size() < 2)
        throw Error("average reference needs at least 2 recorded channels");
    records_per_block_ = std::max<int64_t>(1, kSamplesPerRead / max_per_record);
    resampled_.resize(recorded_.size());
    if (f.enabled() && options.filter_design == FilterDesign::scipy) {
        filter_context_s_ = filter_context_seconds(f);
        if (!fft) {
            const auto sos = design_filters(f, rate_hz);
            const auto context = static_cast<int64_t>(filter_context_seconds(f) * rate_hz);
            for (size_t r = 0; r < recorded_.size(); ++r)
                filters_.push_back(std::make_unique<ChunkedZeroPhase>(sos, kFilterChunkSeconds * rate_hz, context));
            filtered_.resize(recorded_.size());
        }
    }
    if (fft) read_whole();
}

// The mne filters of channel r, in order; `last`: the end of the channel (flushes them).
// Each stage reads the previous one's output in place (no copy of the input: for a whole channel
// that is one copy of the channel fewer).
void SignalStream::native_filter(size_t r, const double* x, size_t n, bool last, std::vector<double>& out) {
    std::vector<double> done, next;
    const double* in = x;
    size_t count = n;
    for (auto& fir : firs_[r]) {
        next.clear();
        if (count > 0) fir->push(in, static_cast<int64_t>(count), next);
        if (last) fir->finish(next);
        done.swap(next);
        in = done.data();
        count = done.size();
    }
    out.swap(done);
}

void SignalStream::read_whole() {
    const size_t channels = recorded_.size();
    const int64_t expected = total_;
    try {
        whole_.resize(channels);
        std::vector<double> x, y;
        for (size_t r = 0; r < channels; ++r) {
            const int k = recorded_[r];
            const int s = plan_.signal[static_cast<size_t>(k)];
            const EdfSignal& sig = reader_.signals()[static_cast<size_t>(s)];
            x.resize(static_cast<size_t>(sig.samples));
            for (int64_t at = 0; at < sig.samples; at += kWholeReadSamples) {
                const int64_t n = std::min(kWholeReadSamples, sig.samples - at);
                reader_.read(s, at, static_cast<int>(n), x.data() + at);
            }
            const double scale = plan_.to_millivolts[static_cast<size_t>(k)];
            for (double& v : x) v *= scale;
            if (!firs_.empty()) {
                native_filter(r, x.data(), x.size(), true, y);
                x.swap(y);
                std::vector<double>().swap(y);  // the unfiltered channel, before the FFT needs memory
            }
            const ResampleRatio& ratio = ratios_[static_cast<size_t>(k)];
            if (ratio.up != ratio.down) x = mne_resample(x, sig.rate_hz, static_cast<double>(rate_hz_));
            if (options_.filters.enabled() && options_.filter_design == FilterDesign::scipy) {
                ChunkedZeroPhase zero_phase(design_filters(options_.filters, rate_hz_), kFilterChunkSeconds * rate_hz_,
                                            static_cast<int64_t>(filter_context_seconds(options_.filters) * rate_hz_));
                y.clear();
                zero_phase.push(x.data(), x.size(), y);
                zero_phase.finish(y);
                x.swap(y);
            }
            const int64_t total = static_cast<int64_t>(x.size());
            if (r == 0) total_ = total;
            if (total != total_) throw Error("signals of one recording have different durations after resampling");
            whole_[r].assign(x.begin(), x.end());
            std::vector<double>().swap(y);
        }
    } catch (const std::bad_alloc&) {
        const double mib = static_cast<double>(channels) * static_cast<double>(expected) * 4.0 / (1024.0 * 1024.0);
        throw Error("out of memory for --resample-method fft, which keeps every channel whole (" +
                    std::to_string(channels) + " channels x " + std::to_string(expected) + " samples = " +
                    format_number(mib, 4) +
                    " MiB in float32, plus one channel at its native rate in float64): --resample-method poly "
                    "streams in bounded memory");
    }
    input_done_ = true;
}

void SignalStream::read_records() {
    if (next_record_ >= reader_.records()) {
        for (size_t r = 0; r < recorded_.size(); ++r) {
            if (!firs_.empty()) {
                native_filter(r, nullptr, 0, true, native_);
                resamplers_[r]->push(native_.data(), native_.size(), resampled_[r]);
            }
            resamplers_[r]->finish(resampled_[r]);
        }
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
        if (firs_.empty()) {
            resamplers_[r]->push(read_buffer_.data(), read_buffer_.size(), resampled_[r]);
        } else {
            native_filter(r, read_buffer_.data(), read_buffer_.size(), false, native_);
            resamplers_[r]->push(native_.data(), native_.size(), resampled_[r]);
        }
    }
    next_record_ += count;
}

// Moves the samples all channels have reached through the filters (when filtering after resampling).
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
    if (!whole_.empty()) {  // fft: the channels are whole already
        if (produced_ >= total_) return false;
        const size_t m = static_cast<size_t>(std::min(kServeSamples, total_ - produced_));
        const size_t at = static_cast<size_t>(produced_);
        n = static_cast<int64_t>(m);
        block.assign(static_cast<size_t>(channels()) * m, 0.0f);
        std::vector<double> mean(m, 0.0);
        if (options_.average_reference) {
            for (const auto& v : whole_)
                for (size_t t = 0; t < m; ++t) mean[t] += v[at + t];
            for (double& v : mean) v /= static_cast<double>(recorded_.size());
        }
        for (size_t r = 0; r < recorded_.size(); ++r) {
            float* row = block.data() + static_cast<size_t>(recorded_[r]) * m;
            const float* src = whole_[r].data() + at;
            if (options_.average_reference)
                for (size_t t = 0; t < m; ++t) row[t] = static_cast<float>(src[t] - mean[t]);
            else
                std::copy(src, src + m, row);
        }
        produced_ += n;
        return true;
    }
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
