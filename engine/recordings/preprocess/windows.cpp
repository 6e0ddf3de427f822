#include "recordings/preprocess/windows.h"

#include <algorithm>

#include "encoder/error.h"

namespace eegpt {

int64_t window_count(int64_t total, int64_t window, int64_t stride) {
    if (window < 1 || stride < 1) throw Error("window and stride must be positive");
    return total < window ? 0 : (total - window) / stride + 1;
}

WindowCutter::WindowCutter(int channels, int64_t window, int64_t stride)
    : channels_(channels), window_(window), stride_(stride), buffer_(static_cast<size_t>(channels)) {
    if (window < 1 || stride < 1) throw Error("window and stride must be positive");
}

void WindowCutter::push(const float* block, int64_t n) {
    for (int c = 0; c < channels_; ++c) {
        const float* row = block + static_cast<size_t>(c) * static_cast<size_t>(n);
        buffer_[static_cast<size_t>(c)].insert(buffer_[static_cast<size_t>(c)].end(), row, row + n);
    }
}

bool WindowCutter::pop(float* out, int64_t& start_sample) {
    const int64_t held = static_cast<int64_t>(buffer_[0].size());
    if (buffer_start_ + held < next_start_ + window_) return false;
    const int64_t offset = next_start_ - buffer_start_;
    for (int c = 0; c < channels_; ++c) {
        const auto& b = buffer_[static_cast<size_t>(c)];
        std::copy(b.begin() + offset, b.begin() + offset + window_, out + static_cast<size_t>(c) * static_cast<size_t>(window_));
    }
    start_sample = next_start_;
    next_start_ += stride_;
    // Forget what no later window needs.
    const int64_t drop = std::min(next_start_ - buffer_start_, held);
    if (drop > 0) {
        for (auto& b : buffer_) b.erase(b.begin(), b.begin() + drop);
        buffer_start_ += drop;
    }
    return true;
}

}  // namespace eegpt
