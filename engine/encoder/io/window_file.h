// The `eegpt encode` file interface (docs/weight-format.md): windows in, features out.
#pragma once
#include <string>
#include <vector>

#include "encoder/model/weights.h"

namespace eegpt {

struct WindowBatch {
    int batch = 0, channels = 0, samples = 0;
    std::vector<float> x;                 // batch x channels x samples
    std::vector<std::string> channel_labels;  // as written in the file
    std::vector<int> channel_ids;
};

// Reads datasets `x` and `channels`; throws Error naming the problem (dtype, rank, NaN, unknown channel...).
// With dictionary_channels false (a downstream model's inputs, any labels), `channels` is only
// counted and `channel_ids` stays empty.
WindowBatch read_window_file(const std::string& path, bool dictionary_channels = true);

struct FeatureFileInfo {
    std::string engine_version, device, precision, isa;  // isa: the CPU ISA level, empty for other devices
    const Provenance* weights = nullptr;
    std::string int8_kernel;  // Encoder::int8_kernel(), empty unless int8
};

// Writes `features` (batch x N x E x D), `channel_ids`, `channels` and provenance attributes
// atomically (temporary name, then rename).
void write_feature_file(const std::string& path, const std::vector<float>& features, int batch, int patches,
                        int embed_num, int embed_dim, const std::vector<int>& channel_ids,
                        const FeatureFileInfo& info);

}  // namespace eegpt
