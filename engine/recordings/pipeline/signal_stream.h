// A recording as a continuous stream of preprocessed samples: the mapped channels, in millivolts,
// resampled to the model's rate, optionally band-pass/notch filtered and average-referenced,
// produced block by block. Two filter designs and two resampling methods (preparation.h):
//   scipy filters run after resampling (ChunkedZeroPhase, bounded context: filter_context_seconds);
//   mne filters run at each signal's native rate before resampling: a StreamingFir band-pass then
//     a StreamingFir notch per channel, each with its own padding as MNE applies raw.filter then
//     raw.notch_filter; exact in streaming, with (taps - 1) / 2 samples of look-ahead each
//     (filter_context_s() is their sum, at the slowest signal's rate);
//   poly resampling streams (PolyphaseResampler): memory does not depend on the recording's length;
//   fft resampling (MNE's raw.resample) needs each channel whole: the constructor reads, filters and
//     resamples every mapped channel whole, one at a time, and keeps the results in float32 (what
//     next() serves anyway); next() then serves blocks of them. Memory: channels x output samples x
//     4 bytes, plus one channel's work in float64.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "encoder/conventions.h"

#include "recordings/channel_map.h"
#include "recordings/io/sample_source.h"
#include "recordings/pipeline/preparation.h"
#include "recordings/preprocess/filter.h"
#include "recordings/preprocess/resample.h"

namespace eegpt {

class StreamingFir;

struct PreprocessOptions {
    bool average_reference = false;  // subtract the mean of the recorded (not zero-filled) channels
    FilterOptions filters;           // off by default
    FilterDesign filter_design = FilterDesign::scipy;
    ResampleMethod resample_method = ResampleMethod::poly;
    OutOfRange out_of_range = OutOfRange::keep;
};

class SignalStream {
public:
    // rate_hz: the whole-number rate every channel is resampled to (the model's).
    SignalStream(SampleSource& reader, const ChannelPlan& plan, const PreprocessOptions& options, int rate_hz);
    ~SignalStream();
    int channels() const { return static_cast<int>(plan_.ids.size()); }
    int64_t total_samples() const { return total_; }  // at the stream's rate, per channel
    // The resampling ratio (up, down) of each output channel (1/1 for zero-filled ones).
    const std::vector<ResampleRatio>& ratios() const { return ratios_; }
    // Seconds of signal beyond a block that the filters look at (0 without filters).
    double filter_context_s() const { return filter_context_s_; }
    // Next block, channels x n floats (channel-major) in `block`; false when the stream is done.
    bool next(std::vector<float>& block, int64_t& n);

private:
    void read_records();
    void move_aligned();
    void read_whole();  // fft resampling
    void native_filter(size_t r, const double* x, size_t n, bool last, std::vector<double>& out);

    SampleSource& reader_;
    ChannelPlan plan_;
    PreprocessOptions options_;
    int rate_hz_ = 0;
    std::vector<int> recorded_;  // output channels that come from a signal
    std::vector<ResampleRatio> ratios_;
    std::vector<std::unique_ptr<PolyphaseResampler>> resamplers_;      // per recorded channel (poly)
    std::vector<std::unique_ptr<ChunkedZeroPhase>> filters_;           // per recorded channel, scipy filters
    std::vector<std::vector<std::unique_ptr<StreamingFir>>> firs_;     // per recorded channel, mne filters in order
    std::vector<std::vector<double>> resampled_, filtered_;            // per recorded channel
    std::vector<std::vector<float>> whole_;                            // per recorded channel (fft)
    std::vector<double> read_buffer_, native_, stage_;
    double filter_context_s_ = 0;
    int64_t total_ = 0, produced_ = 0, next_record_ = 0, records_per_block_ = 1;
    bool input_done_ = false;
};

}  // namespace eegpt
