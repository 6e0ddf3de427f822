// The model: its configuration, its fp32 tensors, the strict HDF5 loader (format:
// docs/weight-format.md), and the one place where tensor names become typed fields
// (EncoderWeights): backends and the test reference take that structure, never a name.
// Knows nothing of recordings or backends.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace eegpt {

struct ModelConfig {
    int embed_dim = 512;
    int depth = 8;
    int num_heads = 8;
    int embed_num = 4;
    int patch_size = 64;
    // Samples between the starts of consecutive patches: patch_size in the released model;
    // smaller for overlapping patches (braindecode's EEGPT defaults to 32, a strided patch embedding).
    int patch_stride = 64;
    int mlp_hidden = 2048;
    double layernorm_eps = 1e-6;
    bool qkv_bias = true;
    int head_dim() const { return embed_dim / num_heads; }
    // Time patches in a window of `samples` (>= min_samples()): the released patch embedding is a
    // Conv2d with kernel (1, patch_size) and stride (1, patch_stride), so patch n covers samples
    // n * stride .. n * stride + patch_size - 1, and the samples past the last whole patch are ignored.
    int patches(int samples) const { return (samples - patch_size) / patch_stride + 1; }
    // The shortest window the encoder takes (one patch); any longer one is taken as it is.
    int min_samples() const { return patch_size; }
    // Throws Error when the numbers do not describe a buildable encoder.
    void validate() const;
};

// Named configurations of the paper's code (docs/architecture.md): tiny1 .. large.
ModelConfig named_config(const std::string& name);
std::vector<std::string> named_config_names();

struct Provenance {
    bool trained = false;
    int64_t random_seed = 0;
    std::string source_checkpoint, source_sha256, source_prefix, converter_version;
};

struct Tensor {
    std::vector<int64_t> shape;
    std::vector<float> data;
};

struct TensorSpec {
    std::string name;
    std::vector<int64_t> shape;
};

// Every tensor the configuration needs, in the canonical order of docs/weight-format.md.
std::vector<TensorSpec> tensor_specs(const ModelConfig& config);

struct ModelWeights {
    ModelConfig config;
    Provenance provenance;
    std::map<std::string, Tensor> tensors;
    std::vector<std::string> warnings;  // from loading, e.g. a file without checksums
    const Tensor& at(const std::string& name) const;
};

// The tensors of an encoder, typed: pointers into the ModelWeights they were bound from (no copy),
// valid while it lives. Matrices are row-major as PyTorch stores them.
struct LinearWeights {
    const float* weight = nullptr;  // out x in
    const float* bias = nullptr;    // out values, or null (qkv without bias)
    int out = 0, in = 0;
};
struct NormWeights {
    const float* weight = nullptr;  // dim values each
    const float* bias = nullptr;
};
struct BlockWeights {
    NormWeights norm1;
    LinearWeights qkv;  // rows: queries, keys, values (D each)
    LinearWeights proj;
    NormWeights norm2;
    LinearWeights fc1, fc2;
};
struct EncoderWeights {
    ModelConfig config;
    LinearWeights patch;             // D x patch_size: the (D, 1, 1, P) convolution kernel read as a matrix
    const float* channel_embedding;  // dictionary size x D
    const float* summary_tokens;     // embed_num x D
    std::vector<BlockWeights> blocks;
    NormWeights norm;
};

// Checks every tensor against tensor_specs(weights.config) (names, shapes) and binds them.
EncoderWeights bind_encoder_weights(const ModelWeights& weights);

// Version 1: non-overlapping patches (patch_stride = patch_size, not recorded). Version 2 adds the
// attribute patch_stride and is written only when it differs from patch_size, so that an engine
// that cannot compute overlapping patches refuses such a file instead of misreading it.
constexpr int64_t kWeightFormatVersion = 1;
constexpr int64_t kWeightFormatVersionStrided = 2;

ModelWeights load_weights(const std::string& path);
void save_weights(const ModelWeights& weights, const std::string& path);
// Deterministic random initialisation defined in docs/weight-format.md (bit-identical to the converter's).
ModelWeights random_weights(const ModelConfig& config, uint64_t seed);

std::string shape_string(const std::vector<int64_t>& shape);

}  // namespace eegpt
