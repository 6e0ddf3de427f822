// A recording as a continuous stream of preprocessed samples: the mapped channels, in millivolts,
// resampled to 256 Hz, optionally band-pass/notch filtered and average-referenced, produced block by
// block while the file is read block by block. Memory does not depend on the recording's length.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "encoder/conventions.h"

#include "recordings/channel_map.h"
#include "recordings/io/sample_source.h"
#include "recordings/preprocess/filter.h"
#include "recordings/preprocess/resample.h"

namespace eegpt {


struct PreprocessOptions {
    bool average_reference = false;  // subtract the mean of the recorded (not zero-filled) channels
    FilterOptions filters;           // off by default
    OutOfRange out_of_range = OutOfRange::keep;
};

class SignalStream {
public:
    // rate_hz: the whole-number rate every channel is resampled to (the model's).
    SignalStream(SampleSource& reader, const ChannelPlan& plan, const PreprocessOptions& options, int rate_hz);
    int channels() const { return static_cast<int>(plan_.ids.size()); }
    int64_t total_samples() const { return total_; }  // at the stream's rate, per channel
    // The resampling ratio (up, down) of each output channel (1/1 for zero-filled ones).
    const std::vector<ResampleRatio>& ratios() const { return ratios_; }
    // Next block, channels x n floats (channel-major) in `block`; false when the stream is done.
    bool next(std::vector<float>& block, int64_t& n);

private:
    void read_records();
    void move_aligned();

    SampleSource& reader_;
    ChannelPlan plan_;
    PreprocessOptions options_;
    std::vector<int> recorded_;  // output channels that come from a signal
    std::vector<ResampleRatio> ratios_;
    std::vector<std::unique_ptr<PolyphaseResampler>> resamplers_;      // per recorded channel
    std::vector<std::unique_ptr<ChunkedZeroPhase>> filters_;           // per recorded channel, if filtering
    std::vector<std::vector<double>> resampled_, filtered_;            // per recorded channel
    std::vector<double> read_buffer_;
    int64_t total_ = 0, produced_ = 0, next_record_ = 0, records_per_block_ = 1;
    bool input_done_ = false;
};

}  // namespace eegpt
