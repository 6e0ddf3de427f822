// The model: its configuration, its fp32 tensors, and the strict HDF5 loader
// (format: weights/FORMAT.md). Knows nothing of recordings or backends.
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
    int mlp_hidden = 2048;
    double layernorm_eps = 1e-6;
    bool qkv_bias = true;
    int head_dim() const { return embed_dim / num_heads; }
    // Throws Error when the numbers do not describe a buildable encoder.
    void validate() const;
};

// Named configurations of the paper's code (ARCHITECTURE.md): tiny1 .. large.
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

// Every tensor the configuration needs, in the canonical order of FORMAT.md.
std::vector<TensorSpec> tensor_specs(const ModelConfig& config);

struct ModelWeights {
    ModelConfig config;
    Provenance provenance;
    std::map<std::string, Tensor> tensors;
    const Tensor& at(const std::string& name) const;
};

constexpr int64_t kWeightFormatVersion = 1;

ModelWeights load_weights(const std::string& path);
void save_weights(const ModelWeights& weights, const std::string& path);
// Deterministic random initialisation defined in FORMAT.md (bit-identical to the converter's).
ModelWeights random_weights(const ModelConfig& config, uint64_t seed);

std::string shape_string(const std::vector<int64_t>& shape);

}  // namespace eegpt
