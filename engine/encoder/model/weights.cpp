#include "encoder/model/weights.h"

#include <cmath>
#include <set>

#include "encoder/channels.h"
#include "encoder/error.h"
#include "encoder/io/hdf5.h"

namespace eegpt {

void ModelConfig::validate() const {
    auto positive = [](int v, const char* name) {
        if (v <= 0) throw Error(std::string("model configuration: ") + name + " must be positive, got " + std::to_string(v));
    };
    positive(embed_dim, "embed_dim");
    positive(depth, "depth");
    positive(num_heads, "num_heads");
    positive(embed_num, "embed_num");
    positive(patch_size, "patch_size");
    positive(mlp_hidden, "mlp_hidden");
    if (patch_stride < 1 || patch_stride > patch_size)
        throw Error("model configuration: patch_stride must be 1.." + std::to_string(patch_size) + " (patch_size), got " +
                    std::to_string(patch_stride));
    if (embed_dim % num_heads != 0)
        throw Error("model configuration: embed_dim " + std::to_string(embed_dim) + " is not divisible by num_heads " +
                    std::to_string(num_heads));
    if (!(layernorm_eps > 0) || !std::isfinite(layernorm_eps))
        throw Error("model configuration: layernorm_eps must be a positive number");
}

namespace {
struct NamedConfig {
    const char* name;
    int embed_dim, embed_num, depth, heads;
};
const NamedConfig kNamedConfigs[] = {{"tiny1", 64, 1, 2, 4},   {"tiny2", 64, 4, 2, 4},   {"tiny3", 64, 4, 8, 4},
                                     {"little", 128, 4, 8, 4}, {"base1", 256, 1, 6, 4},  {"base2", 256, 4, 8, 4},
                                     {"base3", 512, 1, 6, 8},  {"large", 512, 4, 8, 8}};
}  // namespace

ModelConfig named_config(const std::string& name) {
    for (const auto& c : kNamedConfigs) {
        if (name == c.name) {
            ModelConfig config;
            config.embed_dim = c.embed_dim;
            config.embed_num = c.embed_num;
            config.depth = c.depth;
            config.num_heads = c.heads;
            config.mlp_hidden = 4 * c.embed_dim;
            config.patch_stride = config.patch_size;
            return config;
        }
    }
    std::string known;
    for (const auto& n : named_config_names()) known += (known.empty() ? "" : ", ") + n;
    throw Error("unknown model configuration '" + name + "' (known: " + known + ")");
}

std::vector<std::string> named_config_names() {
    std::vector<std::string> names;
    for (const auto& c : kNamedConfigs) names.emplace_back(c.name);
    return names;
}

std::vector<TensorSpec> tensor_specs(const ModelConfig& c) {
    const int64_t D = c.embed_dim, H = c.mlp_hidden;
    const int64_t channels = static_cast<int64_t>(channel_dictionary().size());
    std::vector<TensorSpec> specs = {{"summary_token", {1, c.embed_num, D}},
                                     {"patch_embed.proj.weight", {D, 1, 1, c.patch_size}},
                                     {"patch_embed.proj.bias", {D}},
                                     {"chan_embed.weight", {channels, D}}};
    for (int i = 0; i < c.depth; ++i) {
        const std::string p = "blocks." + std::to_string(i) + ".";
        specs.push_back({p + "norm1.weight", {D}});
        specs.push_back({p + "norm1.bias", {D}});
        specs.push_back({p + "attn.qkv.weight", {3 * D, D}});
        if (c.qkv_bias) specs.push_back({p + "attn.qkv.bias", {3 * D}});
        specs.push_back({p + "attn.proj.weight", {D, D}});
        specs.push_back({p + "attn.proj.bias", {D}});
        specs.push_back({p + "norm2.weight", {D}});
        specs.push_back({p + "norm2.bias", {D}});
        specs.push_back({p + "mlp.fc1.weight", {H, D}});
        specs.push_back({p + "mlp.fc1.bias", {H}});
        specs.push_back({p + "mlp.fc2.weight", {D, H}});
        specs.push_back({p + "mlp.fc2.bias", {D}});
    }
    specs.push_back({"norm.weight", {D}});
    specs.push_back({"norm.bias", {D}});
    return specs;
}

const Tensor& ModelWeights::at(const std::string& name) const {
    auto it = tensors.find(name);
    if (it == tensors.end()) throw Error("model has no tensor '" + name + "'");
    return it->second;
}

EncoderWeights bind_encoder_weights(const ModelWeights& weights) {
    const ModelConfig& c = weights.config;
    c.validate();
    for (const TensorSpec& spec : tensor_specs(c)) {
        const Tensor& t = weights.at(spec.name);
        int64_t n = 1;
        for (int64_t d : spec.shape) n *= d;
        if (t.shape != spec.shape || static_cast<int64_t>(t.data.size()) != n)
            throw Error("tensor '" + spec.name + "' has shape " + shape_string(t.shape) + ", expected " +
                        shape_string(spec.shape));
    }
    if (weights.tensors.size() != tensor_specs(c).size())
        throw Error("the model has " + std::to_string(weights.tensors.size()) + " tensors; its configuration needs " +
                    std::to_string(tensor_specs(c).size()));
    auto t = [&](const std::string& name) { return weights.at(name).data.data(); };
    auto linear = [&](const std::string& name, int out, int in, bool bias) {
        return LinearWeights{t(name + ".weight"), bias ? t(name + ".bias") : nullptr, out, in};
    };
    auto norm = [&](const std::string& name) { return NormWeights{t(name + ".weight"), t(name + ".bias")}; };
    const int D = c.embed_dim, H = c.mlp_hidden;
    EncoderWeights w;
    w.config = c;
    w.patch = LinearWeights{t("patch_embed.proj.weight"), t("patch_embed.proj.bias"), D, c.patch_size};
    w.channel_embedding = t("chan_embed.weight");
    w.summary_tokens = t("summary_token");
    for (int i = 0; i < c.depth; ++i) {
        const std::string p = "blocks." + std::to_string(i) + ".";
        w.blocks.push_back({norm(p + "norm1"), linear(p + "attn.qkv", 3 * D, D, c.qkv_bias),
                            linear(p + "attn.proj", D, D, true), norm(p + "norm2"), linear(p + "mlp.fc1", H, D, true),
                            linear(p + "mlp.fc2", D, H, true)});
    }
    w.norm = norm("norm");
    return w;
}

std::string shape_string(const std::vector<int64_t>& shape) {
    return h5::shape_string(std::vector<uint64_t>(shape.begin(), shape.end()));
}

namespace {

int read_config_int(hid_t file, const char* name) {
    int64_t v = h5::read_int_attr(file, name);
    if (v <= 0 || v > (1 << 20)) throw Error(std::string("attribute '") + name + "' out of range: " + std::to_string(v));
    return static_cast<int>(v);
}

ModelConfig read_config(hid_t file, int64_t version) {
    ModelConfig c;
    c.embed_dim = read_config_int(file, "embed_dim");
    c.depth = read_config_int(file, "depth");
    c.num_heads = read_config_int(file, "num_heads");
    c.embed_num = read_config_int(file, "embed_num");
    c.patch_size = read_config_int(file, "patch_size");
    c.patch_stride = version == kWeightFormatVersionStrided ? read_config_int(file, "patch_stride") : c.patch_size;
    if (version == kWeightFormatVersion && h5::has_attr(file, "patch_stride"))
        throw Error("attribute 'patch_stride' in a format_version 1 file (it needs format_version 2)");
    c.mlp_hidden = read_config_int(file, "mlp_hidden");
    c.layernorm_eps = h5::read_double_attr(file, "layernorm_eps");
    int64_t qkv_bias = h5::read_int_attr(file, "qkv_bias");
    if (qkv_bias != 0 && qkv_bias != 1) throw Error("attribute 'qkv_bias' must be 0 or 1");
    c.qkv_bias = qkv_bias == 1;
    c.validate();
    if (h5::read_string_array_attr(file, "channel_names") != channel_dictionary())
        throw Error("attribute 'channel_names' differs from the 62-name EEGPT channel dictionary");
    return c;
}

}  // namespace

ModelWeights load_weights(const std::string& path) {
    try {
        h5::Handle file = h5::open_read(path);
        if (!h5::has_attr(file, "format") || h5::read_string_attr(file, "format") != "eegpt-encoder")
            throw Error("not an EEGPT encoder weight file (attribute 'format' is not 'eegpt-encoder')");
        int64_t version = h5::read_int_attr(file, "format_version");
        if (version != kWeightFormatVersion && version != kWeightFormatVersionStrided)
            throw Error("unsupported format_version " + std::to_string(version) + " (this engine reads versions " +
                        std::to_string(kWeightFormatVersion) + " and " + std::to_string(kWeightFormatVersionStrided) +
                        ")");
        ModelWeights w;
        w.config = read_config(file, version);
        int64_t trained = h5::read_int_attr(file, "trained");
        if (trained != 0 && trained != 1) throw Error("attribute 'trained' must be 0 or 1");
        w.provenance.trained = trained == 1;
        if (!w.provenance.trained) w.provenance.random_seed = h5::read_int_attr(file, "random_seed");
        w.provenance.source_checkpoint = h5::read_string_attr(file, "source_checkpoint");
        w.provenance.source_sha256 = h5::read_string_attr(file, "source_sha256");
        w.provenance.source_prefix = h5::read_string_attr(file, "source_prefix");
        w.provenance.converter_version = h5::read_string_attr(file, "converter_version");

        h5::Handle group = h5::open_group(file, "encoder");
        const auto specs = tensor_specs(w.config);
        std::set<std::string> expected;
        for (const auto& s : specs) expected.insert(s.name);
        for (const auto& name : h5::member_names(group))
            if (!expected.count(name)) throw Error("unknown tensor 'encoder/" + name + "' (not part of this configuration)");
        std::vector<h5::TensorRef> tensors;
        for (const auto& spec : specs) {
            if (!h5::has_object(group, spec.name)) throw Error("missing tensor 'encoder/" + spec.name + "'");
            const std::vector<uint64_t> shape(spec.shape.begin(), spec.shape.end());
            tensors.push_back({group.get(), spec.name, "encoder/" + spec.name});
            Tensor t{spec.shape, h5::read_tensor(group, spec.name, tensors.back().label, shape)};
            w.tensors.emplace(spec.name, std::move(t));
        }
        if (!h5::all_checksummed(tensors))
            w.warnings.push_back(
                "no checksums (converted before they were written): a corrupted tensor cannot be "
                "detected; convert the checkpoint again with tools/convert_ckpt.py");
        return w;
    } catch (const Error& e) {
        throw Error("weights '" + path + "': " + e.what());
    }
}

void save_weights(const ModelWeights& w, const std::string& path) {
    h5::AtomicFile out(path);
    hid_t file = out.file();
    const ModelConfig& c = w.config;
    h5::write_attr(file, "format", std::string("eegpt-encoder"));
    const bool strided = c.patch_stride != c.patch_size;
    h5::write_attr(file, "format_version", strided ? kWeightFormatVersionStrided : kWeightFormatVersion);
    h5::write_attr(file, "embed_dim", int64_t{c.embed_dim});
    h5::write_attr(file, "depth", int64_t{c.depth});
    h5::write_attr(file, "num_heads", int64_t{c.num_heads});
    h5::write_attr(file, "embed_num", int64_t{c.embed_num});
    h5::write_attr(file, "patch_size", int64_t{c.patch_size});
    if (strided) h5::write_attr(file, "patch_stride", int64_t{c.patch_stride});
    h5::write_attr(file, "mlp_hidden", int64_t{c.mlp_hidden});
    h5::write_attr(file, "layernorm_eps", c.layernorm_eps);
    h5::write_attr(file, "qkv_bias", int64_t{c.qkv_bias ? 1 : 0});
    h5::write_attr(file, "channel_names", channel_dictionary());
    h5::write_attr(file, "trained", int64_t{w.provenance.trained ? 1 : 0});
    if (!w.provenance.trained) h5::write_attr(file, "random_seed", w.provenance.random_seed);
    h5::write_attr(file, "source_checkpoint", w.provenance.source_checkpoint);
    h5::write_attr(file, "source_sha256", w.provenance.source_sha256);
    h5::write_attr(file, "source_prefix", w.provenance.source_prefix);
    h5::write_attr(file, "converter_version", w.provenance.converter_version);
    h5::Handle group = h5::create_group(file, "encoder");
    for (const auto& [name, t] : w.tensors) {
        std::vector<uint64_t> shape(t.shape.begin(), t.shape.end());
        h5::write_floats(group, name, shape, t.data.data(), true);
    }
    group.reset();
    out.commit();
}

namespace {

uint64_t mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

uint64_t fnv1a64(const std::string& s) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (unsigned char ch : s) {
        h ^= ch;
        h *= 0x100000001b3ull;
    }
    return h;
}

bool ends_with(const std::string& s, const std::string& suffix) {
    return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

ModelWeights random_weights(const ModelConfig& config, uint64_t seed) {
    config.validate();
    ModelWeights w;
    w.config = config;
    w.provenance.trained = false;
    w.provenance.random_seed = static_cast<int64_t>(seed);
    w.provenance.source_checkpoint = "random-init";
    w.provenance.converter_version = "engine";
    for (const auto& spec : tensor_specs(config)) {
        Tensor t;
        t.shape = spec.shape;
        int64_t n = 1;
        for (auto d : spec.shape) n *= d;
        t.data.resize(static_cast<size_t>(n));
        const bool is_norm_weight = ends_with(spec.name, ".weight") && spec.name.find("norm") != std::string::npos;
        const bool is_bias = ends_with(spec.name, ".bias");
        const uint64_t key = mix64(seed ^ fnv1a64(spec.name));
        for (int64_t i = 0; i < n; ++i) {
            uint64_t bits = mix64(key + static_cast<uint64_t>(i + 1) * 0x9E3779B97F4A7C15ull) >> 40;
            double s = 2.0 * (static_cast<double>(bits) / 16777216.0) - 1.0;
            double v = is_norm_weight ? 1.0 + 0.1 * s : is_bias ? 0.02 * s : 0.034641016151377546 * s;
            t.data[static_cast<size_t>(i)] = static_cast<float>(v);
        }
        w.tensors.emplace(spec.name, std::move(t));
    }
    return w;
}

}  // namespace eegpt
