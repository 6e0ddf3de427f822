// A downstream classification head (format: docs/weight-format.md, "Head files"): optional 1x1
// channel mixing before the encoder, then Linear layers with activations on the window's features,
// softmax at the end.
#pragma once
#include <string>
#include <vector>

namespace eegpt {

enum class Activation { identity, relu, gelu };

struct HeadLayer {
    int in = 0, out = 0;
    std::vector<float> weight;  // out x in (PyTorch Linear layout)
    std::vector<float> bias;    // out
    Activation activation = Activation::identity;
    bool flatten_input = false;  // flatten all rows of the input into one row first
};

enum class HeadPooling { flatten_tokens, mean_tokens };

struct Head {
    std::vector<std::string> class_names;
    std::vector<std::string> input_channels;    // dictionary names taken from the recording, in order
    std::vector<std::string> encoder_channels;  // what the encoder sees (= input_channels without mixing)
    bool channel_mixing = false;
    std::vector<float> mix_weight, mix_bias;  // encoder_channels x input_channels, encoder_channels
    HeadPooling pooling = HeadPooling::flatten_tokens;  // rows: time patches; columns: E*D or D
    std::vector<HeadLayer> layers;
    std::string source;  // provenance: what the head was exported from
    std::vector<std::string> warnings;  // from loading, e.g. a file without checksums
    int classes() const { return static_cast<int>(class_names.size()); }
};

Head load_head(const std::string& path);
void save_head(const Head& head, const std::string& path);

// Throws Error unless the layers fit features of (patches x embed_num x embed_dim) and end in one
// row of class scores.
void check_head_fits(const Head& head, int patches, int embed_num, int embed_dim);

// x: windows x input_channels x samples -> out: windows x encoder_channels x samples.
void mix_channels(const Head& head, const float* x, int windows, int samples, float* out);

// features: windows x patches x embed_num x embed_dim -> probabilities: windows x classes.
void head_probabilities(const Head& head, const float* features, int windows, int patches, int embed_num,
                        int embed_dim, float* probabilities);

}  // namespace eegpt
