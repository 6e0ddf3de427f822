// Cutting a continuous multichannel stream into fixed windows with a stride, holding only what the
// next window needs.
#pragma once
#include <cstdint>
#include <vector>

namespace eegpt {

// Windows of `window` samples starting every `stride` samples, over `total` samples.
int64_t window_count(int64_t total, int64_t window, int64_t stride);

class WindowCutter {
public:
    WindowCutter(int channels, int64_t window, int64_t stride);
    // Appends `n` samples of each channel; block is channels x n (channel-major).
    void push(const float* block, int64_t n);
    // Copies the next complete window (channels x window) to `out`; false when it is not complete yet.
    bool pop(float* out, int64_t& start_sample);

private:
    int channels_;
    int64_t window_, stride_;
    std::vector<std::vector<float>> buffer_;  // per channel: samples from buffer_start_
    int64_t buffer_start_ = 0, next_start_ = 0;
};

}  // namespace eegpt
