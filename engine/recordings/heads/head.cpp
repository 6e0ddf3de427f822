#include "recordings/heads/head.h"

#include <algorithm>
#include <cmath>

#include "recordings/channel_map.h"
#include "encoder/channels.h"
#include "encoder/error.h"
#include "encoder/io/hdf5.h"

namespace eegpt {
namespace {

constexpr int64_t kHeadFormatVersion = 1;

std::string activation_name(Activation a) {
    switch (a) {
        case Activation::identity: return "identity";
        case Activation::relu: return "relu";
        case Activation::gelu: return "gelu";
    }
    return "?";
}

Activation parse_activation(const std::string& name) {
    if (name == "identity") return Activation::identity;
    if (name == "relu") return Activation::relu;
    if (name == "gelu") return Activation::gelu;
    throw Error("unknown activation '" + name + "' (identity, relu, gelu)");
}

// `where`: the group's path in the file, to name the tensor in messages.
std::vector<float> read_head_tensor(hid_t group, const std::string& where, const std::string& name,
                                    const std::vector<uint64_t>& shape) {
    return h5::read_tensor(group, name, where + "/" + name, shape);
}

std::vector<uint64_t> shape_of(hid_t group, const std::string& name) { return h5::dataset_info(group, name).shape; }

std::vector<std::string> dictionary_names(const std::vector<std::string>& labels, const char* what) {
    std::vector<std::string> names;
    for (const auto& l : labels) {
        std::string n = dictionary_name_of_label(l);
        if (n.empty()) throw Error(std::string(what) + ": '" + l + "' is not in the 62-name channel dictionary");
        if (std::find(names.begin(), names.end(), n) != names.end())
            throw Error(std::string(what) + ": '" + l + "' is listed twice");
        names.push_back(n);
    }
    if (names.empty()) throw Error(std::string(what) + " is empty");
    return names;
}

float apply(Activation a, double v) {
    switch (a) {
        case Activation::identity: return static_cast<float>(v);
        case Activation::relu: return static_cast<float>(v > 0 ? v : 0);
        case Activation::gelu: return static_cast<float>(0.5 * v * (1.0 + std::erf(v / std::sqrt(2.0))));
    }
    return 0;
}

}  // namespace

Head load_head(const std::string& path) {
    try {
        h5::Handle file = h5::open_read(path);
        if (!h5::has_attr(file, "format") || h5::read_string_attr(file, "format") != "eegpt-head")
            throw Error("not an EEGPT head file (attribute 'format' is not 'eegpt-head')");
        const int64_t version = h5::read_int_attr(file, "format_version");
        if (version != kHeadFormatVersion)
            throw Error("unsupported format_version " + std::to_string(version) + " (this engine reads version 1)");
        Head head;
        head.class_names = h5::read_string_array_attr(file, "class_names");
        if (head.class_names.size() < 2) throw Error("a head needs at least 2 classes");
        head.input_channels = dictionary_names(h5::read_string_array_attr(file, "input_channels"), "input_channels");
        const std::string pooling = h5::read_string_attr(file, "pooling");
        if (pooling == "flatten_tokens") head.pooling = HeadPooling::flatten_tokens;
        else if (pooling == "mean_tokens") head.pooling = HeadPooling::mean_tokens;
        else throw Error("unknown pooling '" + pooling + "' (flatten_tokens, mean_tokens)");
        head.source = h5::read_string_attr(file, "source");
        head.encoder_channels = head.input_channels;
        if (h5::has_object(file, "channel_mixing")) {
            h5::Handle mix = h5::open_group(file, "channel_mixing");
            head.channel_mixing = true;
            head.encoder_channels =
                dictionary_names(h5::read_string_array_attr(mix, "encoder_channels"), "channel_mixing encoder_channels");
            const uint64_t out = head.encoder_channels.size(), in = head.input_channels.size();
            head.mix_weight = read_head_tensor(mix, "channel_mixing", "weight", {out, in});
            head.mix_bias = read_head_tensor(mix, "channel_mixing", "bias", {out});
        }
        h5::Handle layers = h5::open_group(file, "layers");
        const int64_t count = h5::read_int_attr(file, "n_layers");
        if (count < 1 || count > 64) throw Error("n_layers must be 1..64");
        if (static_cast<int64_t>(h5::member_names(layers).size()) != count)
            throw Error("group 'layers' does not hold exactly n_layers = " + std::to_string(count) + " layers");
        for (int64_t i = 0; i < count; ++i) {
            const std::string name = std::to_string(i);
            if (!h5::has_object(layers, name)) throw Error("missing layer 'layers/" + name + "'");
            h5::Handle g = h5::open_group(layers, name);
            const auto shape = shape_of(g, "weight");
            if (shape.size() != 2 || shape[0] < 1 || shape[1] < 1 || shape[0] > (1u << 24) || shape[1] > (1u << 24))
                throw Error("'layers/" + name + "/weight' must be a 2-d (out, in) matrix");
            HeadLayer layer;
            layer.out = static_cast<int>(shape[0]);
            layer.in = static_cast<int>(shape[1]);
            layer.weight = read_head_tensor(g, "layers/" + name, "weight", shape);
            layer.bias = read_head_tensor(g, "layers/" + name, "bias", {shape[0]});
            layer.activation = parse_activation(h5::read_string_attr(g, "activation"));
            const int64_t flatten = h5::read_int_attr(g, "flatten_input");
            if (flatten != 0 && flatten != 1) throw Error("'layers/" + name + "' flatten_input must be 0 or 1");
            layer.flatten_input = flatten == 1;
            head.layers.push_back(std::move(layer));
        }
        std::vector<h5::TensorRef> tensors;
        h5::Handle mix_group;
        if (head.channel_mixing) {
            mix_group = h5::open_group(file, "channel_mixing");
            tensors = {{mix_group.get(), "weight", "channel_mixing/weight"},
                       {mix_group.get(), "bias", "channel_mixing/bias"}};
        }
        std::vector<h5::Handle> layer_groups;
        for (int64_t i = 0; i < count; ++i) {
            layer_groups.push_back(h5::open_group(layers, std::to_string(i)));
            const std::string where = "layers/" + std::to_string(i) + "/";
            tensors.push_back({layer_groups.back().get(), "weight", where + "weight"});
            tensors.push_back({layer_groups.back().get(), "bias", where + "bias"});
        }
        if (!h5::all_checksummed(tensors))
            head.warnings.push_back(
                "no checksums (exported before they were written): a corrupted tensor cannot be "
                "detected; export the head again with tools/convert_head.py");
        if (head.layers.back().out != head.classes())
            throw Error("the last layer has " + std::to_string(head.layers.back().out) + " outputs but there are " +
                        std::to_string(head.classes()) + " class names");
        return head;
    } catch (const Error& e) {
        throw Error("head '" + path + "': " + e.what());
    }
}

void save_head(const Head& head, const std::string& path) {
    h5::AtomicFile out(path);
    hid_t file = out.file();
    h5::write_attr(file, "format", std::string("eegpt-head"));
    h5::write_attr(file, "format_version", kHeadFormatVersion);
    h5::write_attr(file, "class_names", head.class_names);
    h5::write_attr(file, "input_channels", head.input_channels);
    h5::write_attr(file, "pooling", std::string(head.pooling == HeadPooling::flatten_tokens ? "flatten_tokens" : "mean_tokens"));
    h5::write_attr(file, "source", head.source);
    h5::write_attr(file, "n_layers", static_cast<int64_t>(head.layers.size()));
    if (head.channel_mixing) {
        h5::Handle mix = h5::create_group(file, "channel_mixing");
        h5::write_attr(mix, "encoder_channels", head.encoder_channels);
        h5::write_floats(mix, "weight", {head.encoder_channels.size(), head.input_channels.size()},
                         head.mix_weight.data(), true);
        h5::write_floats(mix, "bias", {head.encoder_channels.size()}, head.mix_bias.data(), true);
    }
    h5::Handle layers = h5::create_group(file, "layers");
    for (size_t i = 0; i < head.layers.size(); ++i) {
        const HeadLayer& l = head.layers[i];
        h5::Handle g = h5::create_group(layers, std::to_string(i));
        h5::write_floats(g, "weight", {static_cast<uint64_t>(l.out), static_cast<uint64_t>(l.in)}, l.weight.data(),
                         true);
        h5::write_floats(g, "bias", {static_cast<uint64_t>(l.out)}, l.bias.data(), true);
        h5::write_attr(g, "activation", activation_name(l.activation));
        h5::write_attr(g, "flatten_input", int64_t{l.flatten_input ? 1 : 0});
    }
    layers.reset();
    out.commit();
}

void check_head_fits(const Head& head, int patches, int embed_num, int embed_dim) {
    int64_t rows = patches;
    int64_t cols = head.pooling == HeadPooling::flatten_tokens ? static_cast<int64_t>(embed_num) * embed_dim : embed_dim;
    for (size_t i = 0; i < head.layers.size(); ++i) {
        const HeadLayer& l = head.layers[i];
        if (l.flatten_input) {
            cols *= rows;
            rows = 1;
        }
        if (cols != l.in)
            throw Error("head layer " + std::to_string(i) + " takes " + std::to_string(l.in) + " inputs but gets " +
                        std::to_string(cols) + " from features of " + std::to_string(patches) + " x " +
                        std::to_string(embed_num) + " x " + std::to_string(embed_dim));
        cols = l.out;
    }
    if (rows != 1) throw Error("head ends with " + std::to_string(rows) + " rows; its last layer must flatten them");
}

void mix_channels(const Head& head, const float* x, int windows, int samples, float* out) {
    const size_t in = head.input_channels.size(), enc = head.encoder_channels.size();
    for (int w = 0; w < windows; ++w) {
        const float* xw = x + static_cast<size_t>(w) * in * static_cast<size_t>(samples);
        float* ow = out + static_cast<size_t>(w) * enc * static_cast<size_t>(samples);
        for (size_t o = 0; o < enc; ++o)
            for (int t = 0; t < samples; ++t) {
                double acc = head.mix_bias[o];
                for (size_t i = 0; i < in; ++i)
                    acc += static_cast<double>(head.mix_weight[o * in + i]) * xw[i * static_cast<size_t>(samples) + static_cast<size_t>(t)];
                ow[o * static_cast<size_t>(samples) + static_cast<size_t>(t)] = static_cast<float>(acc);
            }
    }
}

void head_probabilities(const Head& head, const float* features, int windows, int patches, int embed_num,
                        int embed_dim, float* probabilities) {
    check_head_fits(head, patches, embed_num, embed_dim);
    const size_t per_window = static_cast<size_t>(patches) * embed_num * embed_dim;
    std::vector<float> x, y;
    for (int w = 0; w < windows; ++w) {
        const float* f = features + static_cast<size_t>(w) * per_window;
        size_t rows = static_cast<size_t>(patches), cols;
        if (head.pooling == HeadPooling::flatten_tokens) {
            cols = static_cast<size_t>(embed_num) * embed_dim;
            x.assign(f, f + per_window);
        } else {
            cols = static_cast<size_t>(embed_dim);
            x.assign(rows * cols, 0.0f);
            for (size_t n = 0; n < rows; ++n)
                for (size_t d = 0; d < cols; ++d) {
                    double acc = 0;
                    for (int e = 0; e < embed_num; ++e) acc += f[(n * embed_num + static_cast<size_t>(e)) * cols + d];
                    x[n * cols + d] = static_cast<float>(acc / embed_num);
                }
        }
        for (const HeadLayer& l : head.layers) {
            if (l.flatten_input) {
                cols *= rows;
                rows = 1;
            }
            y.assign(rows * static_cast<size_t>(l.out), 0.0f);
            for (size_t r = 0; r < rows; ++r)
                for (int o = 0; o < l.out; ++o) {
                    double acc = l.bias[static_cast<size_t>(o)];
                    const float* wrow = l.weight.data() + static_cast<size_t>(o) * cols;
                    const float* xrow = x.data() + r * cols;
                    for (size_t i = 0; i < cols; ++i) acc += static_cast<double>(wrow[i]) * xrow[i];
                    y[r * static_cast<size_t>(l.out) + static_cast<size_t>(o)] = apply(l.activation, acc);
                }
            x.swap(y);
            cols = static_cast<size_t>(l.out);
        }
        // Softmax over the single remaining row.
        float* p = probabilities + static_cast<size_t>(w) * cols;
        const double top = *std::max_element(x.begin(), x.end());
        double sum = 0;
        for (size_t k = 0; k < cols; ++k) sum += std::exp(static_cast<double>(x[k]) - top);
        for (size_t k = 0; k < cols; ++k) p[k] = static_cast<float>(std::exp(static_cast<double>(x[k]) - top) / sum);
    }
}

}  // namespace eegpt
