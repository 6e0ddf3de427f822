// The head file format (docs/weight-format.md, "Head files"): the strict loader of versions 3, 2
// (the same but the class names in an attribute) and 1 (read as the steps it stands for) and the
// version 3 writer. Shapes that depend on the previous steps and on the model are checked by
// plan_head (head_steps.cpp), before any work.
#include "recordings/heads/head.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "encoder/channels.h"
#include "encoder/error.h"
#include "encoder/io/hdf5.h"
#include "recordings/channel_map.h"

namespace eegpt {
namespace {

constexpr int64_t kHeadFormatVersion = 3;
constexpr uint64_t kMaxClasses = 1u << 20;

const std::map<std::string, StepOp>& op_names() {
    static const std::map<std::string, StepOp> names = {
        {"scale", StepOp::scale},
        {"subtract_channel_mean", StepOp::subtract_channel_mean},
        {"interpolate_nearest", StepOp::interpolate_nearest},
        {"select_channels", StepOp::select_channels},
        {"channel_scale", StepOp::channel_scale},
        {"channel_mix", StepOp::channel_mix},
        {"batch_norm", StepOp::batch_norm},
        {"depthwise_conv", StepOp::depthwise_conv},
        {"encoder", StepOp::encoder},
        {"layer_norm", StepOp::layer_norm},
        {"mean_tokens", StepOp::mean_tokens},
        {"linear", StepOp::linear},
        {"flatten", StepOp::flatten},
        {"sleep_decoder", StepOp::sleep_decoder},
        {"gelu", StepOp::gelu},
        {"relu", StepOp::relu},
    };
    return names;
}

std::vector<std::string> dictionary_names(const std::vector<std::string>& labels, const std::string& what) {
    std::vector<std::string> names;
    for (const auto& l : labels) {
        std::string n = dictionary_name_of_label(l);
        if (n.empty()) throw Error(what + ": '" + l + "' is not in the 62-name channel dictionary");
        if (std::find(names.begin(), names.end(), n) != names.end()) throw Error(what + ": '" + l + "' is listed twice");
        names.push_back(n);
    }
    if (names.empty()) throw Error(what + " is empty");
    return names;
}

// Reads tensors of one group, remembering every one for the file's checksum rule.
class TensorReader {
public:
    std::vector<float> read(hid_t group, const std::string& where, const std::string& name,
                            const std::vector<uint64_t>& shape) {
        refs_.push_back({group, name, where + "/" + name});
        return h5::read_tensor(group, name, where + "/" + name, shape);
    }
    std::vector<uint64_t> shape(hid_t group, const std::string& where, const std::string& name) {
        if (!h5::has_object(group, name)) throw Error("missing tensor '" + where + "/" + name + "'");
        const auto s = h5::dataset_info(group, name).shape;
        for (uint64_t d : s)
            if (d < 1 || d > (1u << 24)) throw Error("'" + where + "/" + name + "' has shape " + h5::shape_string(s));
        return s;
    }
    // A matrix whose shape the file gives (rows x columns), then its vector of `rows`.
    void matrix(hid_t group, const std::string& where, const std::string& name, std::vector<float>& values, int& rows,
                int& cols) {
        const auto s = shape(group, where, name);
        if (s.size() != 2) throw Error("'" + where + "/" + name + "' must be 2-d, has shape " + h5::shape_string(s));
        rows = static_cast<int>(s[0]);
        cols = static_cast<int>(s[1]);
        values = read(group, where, name, s);
    }
    const std::vector<h5::TensorRef>& refs() const { return refs_; }
    std::vector<h5::Handle> groups;  // kept open until the checksum rule has run

private:
    std::vector<h5::TensorRef> refs_;
};

// The converter renormalised max-norm rows (a row's norm above the bound was scaled to it); a row
// longer than the bound means it did not, and the forward would not be the model's.
void check_max_norm(const HeadStep& s, const std::string& where) {
    if (s.max_norm <= 0) return;
    for (int o = 0; o < s.out; ++o) {
        double sum = 0;
        for (int i = 0; i < s.in; ++i) {
            const double w = s.weight[static_cast<size_t>(o) * s.in + i];
            sum += w * w;
        }
        const double norm = std::sqrt(sum);
        if (norm > s.max_norm * (1 + 1e-5))
            throw Error(where + ": row " + std::to_string(o) + " has norm " + format_number(norm) + " above max_norm " +
                        format_number(s.max_norm) +
                        ": the weights were not renormalised as the model's forward does (convert the head again)");
    }
}

// path: the step's group in the file, naming its tensors ("steps/3/weight"); messages about the
// step name its op too ("steps/3 (linear): ...").
HeadStep read_step(hid_t g, const std::string& path, TensorReader& t) {
    HeadStep s;
    const std::string op = h5::read_string_attr(g, "op");
    const std::string where = path + " (" + op + ")";
    const auto it = op_names().find(op);
    if (it == op_names().end()) throw Error(path + ": unknown op '" + op + "'");
    s.op = it->second;
    auto vec = [&](const std::string& name, uint64_t n) { return t.read(g, path, name, {n}); };
    auto vec_any = [&](const std::string& name) {
        const auto shape = t.shape(g, path, name);
        if (shape.size() != 1) throw Error("'" + path + "/" + name + "' must be 1-d");
        return t.read(g, path, name, shape);
    };
    switch (s.op) {
        case StepOp::scale:
            s.factor = h5::read_double_attr(g, "factor");
            if (!std::isfinite(s.factor) || s.factor == 0) throw Error(where + ": factor must be finite and non-zero");
            break;
        case StepOp::interpolate_nearest:
            s.length = h5::read_int_attr(g, "length");
            if (s.length < 1 || s.length > (1 << 22)) throw Error(where + ": length must be 1..4194304");
            break;
        case StepOp::select_channels: {
            const auto info = h5::dataset_info(g, "indices");
            if (info.shape.size() != 1 || info.shape[0] < 1 || info.shape[0] > 4096)
                throw Error("'" + path + "/indices' must be a 1-d list of 1..4096 indices");
            for (int32_t i : h5::read_int32s(g, "indices")) s.indices.push_back(i);
            break;
        }
        case StepOp::channel_scale: s.weight = vec_any("weight"); break;
        case StepOp::channel_mix:
        case StepOp::linear:
            t.matrix(g, path, "weight", s.weight, s.out, s.in);
            s.bias = vec("bias", static_cast<uint64_t>(s.out));
            if (h5::has_attr(g, "max_norm")) {
                s.max_norm = h5::read_double_attr(g, "max_norm");
                if (!(s.max_norm > 0)) throw Error(where + ": max_norm must be positive");
                check_max_norm(s, where);
            }
            break;
        case StepOp::batch_norm: {
            s.weight = vec_any("weight");
            const uint64_t c = s.weight.size();
            s.bias = vec("bias", c);
            s.running_mean = vec("running_mean", c);
            s.running_var = vec("running_var", c);
            s.eps = h5::read_double_attr(g, "eps");
            if (!(s.eps >= 0)) throw Error(where + ": eps must be >= 0");
            for (float v : s.running_var)
                if (v + s.eps <= 0) throw Error(where + ": running_var + eps must be positive");
            break;
        }
        case StepOp::depthwise_conv: {
            t.matrix(g, path, "weight", s.weight, s.in, s.out);  // channels x kernel
            s.bias = vec("bias", static_cast<uint64_t>(s.in));
            const std::string padding = h5::read_string_attr(g, "padding");
            if (padding != "valid" && padding != "same") throw Error(where + ": padding must be 'valid' or 'same'");
            s.same_padding = padding == "same";
            break;
        }
        case StepOp::encoder: {
            s.channels = dictionary_names(h5::read_string_array_attr(g, "channels"), where + " channels");
            const int64_t stride = h5::read_int_attr(g, "patch_stride");
            if (stride < 1 || stride > 4096) throw Error(where + ": patch_stride must be 1..4096");
            s.patch_stride = static_cast<int>(stride);
            break;
        }
        case StepOp::layer_norm:
            s.weight = vec_any("weight");
            s.bias = vec("bias", s.weight.size());
            s.eps = h5::read_double_attr(g, "eps");
            if (!(s.eps >= 0)) throw Error(where + ": eps must be >= 0");
            break;
        case StepOp::sleep_decoder: {
            if (h5::read_string_attr(g, "positions") != "eegpt_int_sincos")
                throw Error(where + ": positions must be 'eegpt_int_sincos'");
            const int64_t layers = h5::read_int_attr(g, "layers");
            const int64_t heads = h5::read_int_attr(g, "heads");
            s.eps = h5::read_double_attr(g, "eps");
            if (layers < 1 || layers > 64) throw Error(where + ": layers must be 1..64");
            s.cls_token = vec_any("cls_token");
            const uint64_t F = s.cls_token.size();
            if (heads < 1 || F % static_cast<uint64_t>(heads) != 0)
                throw Error(where + ": heads must divide the width " + std::to_string(F));
            s.heads = static_cast<int>(heads);
            if (!(s.eps >= 0)) throw Error(where + ": eps must be >= 0");
            h5::Handle dec = h5::open_group(g, "decoder");
            if (static_cast<int64_t>(h5::member_names(dec).size()) != layers)
                throw Error(where + ": group 'decoder' does not hold exactly " + std::to_string(layers) + " layers");
            for (int64_t l = 0; l < layers; ++l) {
                const std::string lw = path + "/decoder/" + std::to_string(l);
                t.groups.push_back(h5::open_group(dec, std::to_string(l)));
                hid_t lg = t.groups.back().get();
                DecoderLayerWeights d;
                d.self_in_weight = t.read(lg, lw, "self_in_weight", {3 * F, F});
                d.self_in_bias = t.read(lg, lw, "self_in_bias", {3 * F});
                d.self_out_weight = t.read(lg, lw, "self_out_weight", {F, F});
                d.self_out_bias = t.read(lg, lw, "self_out_bias", {F});
                d.cross_in_weight = t.read(lg, lw, "cross_in_weight", {3 * F, F});
                d.cross_in_bias = t.read(lg, lw, "cross_in_bias", {3 * F});
                d.cross_out_weight = t.read(lg, lw, "cross_out_weight", {F, F});
                d.cross_out_bias = t.read(lg, lw, "cross_out_bias", {F});
                const auto l1 = t.shape(lg, lw, "linear1_weight");
                if (l1.size() != 2 || l1[1] != F) throw Error("'" + lw + "/linear1_weight' must be (M, " + std::to_string(F) + ")");
                d.hidden = static_cast<int>(l1[0]);
                d.linear1_weight = t.read(lg, lw, "linear1_weight", l1);
                d.linear1_bias = t.read(lg, lw, "linear1_bias", {l1[0]});
                d.linear2_weight = t.read(lg, lw, "linear2_weight", {F, l1[0]});
                d.linear2_bias = t.read(lg, lw, "linear2_bias", {F});
                d.norm1_weight = t.read(lg, lw, "norm1_weight", {F});
                d.norm1_bias = t.read(lg, lw, "norm1_bias", {F});
                d.norm2_weight = t.read(lg, lw, "norm2_weight", {F});
                d.norm2_bias = t.read(lg, lw, "norm2_bias", {F});
                d.norm3_weight = t.read(lg, lw, "norm3_weight", {F});
                d.norm3_bias = t.read(lg, lw, "norm3_bias", {F});
                s.decoder.push_back(std::move(d));
            }
            t.groups.push_back(std::move(dec));
            break;
        }
        case StepOp::subtract_channel_mean:
        case StepOp::mean_tokens:
        case StepOp::flatten:
        case StepOp::gelu:
        case StepOp::relu: break;
    }
    return s;
}

// Every prediction is reported by its class name, so a name must say which class it is: none
// blank, none repeated; softmax has one per logit (K >= 2), sigmoid the two sides of p = 0.5.
void check_class_names(const std::vector<std::string>& names, HeadOutput output) {
    if (output == HeadOutput::softmax && names.size() < 2) throw Error("a softmax head needs at least 2 class names");
    if (output == HeadOutput::sigmoid && names.size() != 2)
        throw Error("a sigmoid head needs exactly 2 class names (p < 0.5, p >= 0.5)");
    std::set<std::string> seen;
    for (size_t i = 0; i < names.size(); ++i) {
        if (names[i].find_first_not_of(" \t\r\n") == std::string::npos)
            throw Error("class_names[" + std::to_string(i) + "] is empty");
        if (!seen.insert(names[i]).second) throw Error("class name '" + names[i] + "' is listed twice");
    }
}

// Version 3 keeps the class names in a dataset (an attribute lives in the object header, which
// holds at most 64 KiB: a few thousand names); versions 1 and 2 in the attribute.
std::vector<std::string> read_class_names(hid_t file, int64_t version) {
    if (version < 3) return h5::read_string_array_attr(file, "class_names");
    if (h5::has_attr(file, "class_names"))
        throw Error("'class_names' is an attribute: format version 3 keeps the class names in the dataset '/class_names'");
    if (!h5::has_object(file, "class_names")) throw Error("missing dataset 'class_names'");
    const auto info = h5::dataset_info(file, "class_names");
    if (info.kind != h5::Kind::string || info.shape.size() != 1 || info.shape[0] < 1 || info.shape[0] > kMaxClasses)
        throw Error("dataset 'class_names' must be a 1-d list of 1.." + std::to_string(kMaxClasses) + " strings");
    return h5::read_strings(file, "class_names");
}

void read_version2(hid_t file, Head& head, TensorReader& t) {
    head.recipe = h5::read_string_attr(file, "recipe");
    head.class_names = read_class_names(file, head.format_version);
    const std::string output = h5::read_string_attr(file, "output");
    if (output == "softmax") head.output = HeadOutput::softmax;
    else if (output == "sigmoid") head.output = HeadOutput::sigmoid;
    else throw Error("unknown output '" + output + "' (softmax, sigmoid)");
    check_class_names(head.class_names, head.output);
    head.input_labels = h5::read_string_array_attr(file, "input_labels");
    if (head.input_labels.empty() || head.input_labels.size() > 4096) throw Error("input_labels must hold 1..4096 labels");
    head.sample_rate_hz = h5::read_double_attr(file, "sample_rate_hz");
    if (!(head.sample_rate_hz >= 1 && head.sample_rate_hz <= 1e5)) throw Error("sample_rate_hz must be 1..100000");
    const int64_t window = h5::read_int_attr(file, "window_samples");
    if (window < 1 || window > (1 << 22)) throw Error("window_samples must be 1..4194304");
    head.window_samples = static_cast<int>(window);
    head.input_unit_mv = h5::read_double_attr(file, "input_unit_mv");
    if (!(head.input_unit_mv > 0 && std::isfinite(head.input_unit_mv))) throw Error("input_unit_mv must be positive");
    head.stride_s = h5::read_double_attr(file, "stride_s");
    if (!(head.stride_s > 0 && std::isfinite(head.stride_s))) throw Error("stride_s must be positive");
    if (h5::read_int_attr(file, "max_norm_applied") != 1)
        throw Error("max_norm_applied is not 1: the max-norm layers were not renormalised as the model's forward does");
    if (h5::has_attr(file, "source_sha256")) head.source_sha256 = h5::read_string_attr(file, "source_sha256");
    if (h5::has_attr(file, "converter_version")) head.converter_version = h5::read_string_attr(file, "converter_version");
    const int64_t count = h5::read_int_attr(file, "n_steps");
    if (count < 1 || count > 64) throw Error("n_steps must be 1..64");
    t.groups.push_back(h5::open_group(file, "steps"));
    hid_t steps = t.groups.back().get();
    if (static_cast<int64_t>(h5::member_names(steps).size()) != count)
        throw Error("group 'steps' does not hold exactly n_steps = " + std::to_string(count) + " steps");
    for (int64_t i = 0; i < count; ++i) {
        const std::string name = std::to_string(i), where = "steps/" + name;
        if (!h5::has_object(steps, name)) throw Error("missing step '" + where + "'");
        t.groups.push_back(h5::open_group(steps, name));
        head.steps.push_back(read_step(t.groups.back().get(), where, t));
    }
}

// Version 1: optional channel mixing, the encoder at its weights' stride, pooling, layers with
// activations, softmax; 4 s windows at 256 Hz in millivolts.
void read_version1(hid_t file, Head& head, TensorReader& t) {
    head.recipe = "custom";
    head.class_names = read_class_names(file, head.format_version);
    check_class_names(head.class_names, HeadOutput::softmax);
    head.input_labels = dictionary_names(h5::read_string_array_attr(file, "input_channels"), "input_channels");
    const std::string pooling = h5::read_string_attr(file, "pooling");
    if (pooling != "flatten_tokens" && pooling != "mean_tokens")
        throw Error("unknown pooling '" + pooling + "' (flatten_tokens, mean_tokens)");
    HeadStep encoder;
    encoder.op = StepOp::encoder;
    encoder.channels = head.input_labels;
    if (h5::has_object(file, "channel_mixing")) {
        t.groups.push_back(h5::open_group(file, "channel_mixing"));
        hid_t mix = t.groups.back().get();
        encoder.channels = dictionary_names(h5::read_string_array_attr(mix, "encoder_channels"),
                                            "channel_mixing encoder_channels");
        HeadStep s;
        s.op = StepOp::channel_mix;
        s.out = static_cast<int>(encoder.channels.size());
        s.in = static_cast<int>(head.input_labels.size());
        s.weight = t.read(mix, "channel_mixing", "weight", {static_cast<uint64_t>(s.out), static_cast<uint64_t>(s.in)});
        s.bias = t.read(mix, "channel_mixing", "bias", {static_cast<uint64_t>(s.out)});
        head.steps.push_back(std::move(s));
    }
    head.steps.push_back(encoder);
    if (pooling == "mean_tokens") head.steps.push_back(make_step(StepOp::mean_tokens));
    const int64_t count = h5::read_int_attr(file, "n_layers");
    if (count < 1 || count > 64) throw Error("n_layers must be 1..64");
    t.groups.push_back(h5::open_group(file, "layers"));
    hid_t layers = t.groups.back().get();
    if (static_cast<int64_t>(h5::member_names(layers).size()) != count)
        throw Error("group 'layers' does not hold exactly n_layers = " + std::to_string(count) + " layers");
    for (int64_t i = 0; i < count; ++i) {
        const std::string name = std::to_string(i), where = "layers/" + name;
        if (!h5::has_object(layers, name)) throw Error("missing layer '" + where + "'");
        t.groups.push_back(h5::open_group(layers, name));
        hid_t g = t.groups.back().get();
        const int64_t flatten = h5::read_int_attr(g, "flatten_input");
        if (flatten != 0 && flatten != 1) throw Error("'" + where + "' flatten_input must be 0 or 1");
        if (flatten == 1) head.steps.push_back(make_step(StepOp::flatten));
        HeadStep s;
        s.op = StepOp::linear;
        t.matrix(g, where, "weight", s.weight, s.out, s.in);
        s.bias = t.read(g, where, "bias", {static_cast<uint64_t>(s.out)});
        head.steps.push_back(std::move(s));
        const std::string activation = h5::read_string_attr(g, "activation");
        if (activation == "relu") head.steps.push_back(make_step(StepOp::relu));
        else if (activation == "gelu") head.steps.push_back(make_step(StepOp::gelu));
        else if (activation != "identity") throw Error("unknown activation '" + activation + "' (identity, relu, gelu)");
    }
    const HeadStep& last = head.steps.back();
    if (last.op == StepOp::linear && last.out != static_cast<int>(head.class_names.size()))
        throw Error("the last layer has " + std::to_string(last.out) + " outputs but there are " +
                    std::to_string(head.class_names.size()) + " class names");
}

void write_step(hid_t g, const HeadStep& s) {
    h5::write_attr(g, "op", to_string(s.op));
    auto put = [&](const std::string& name, const std::vector<float>& v, std::vector<uint64_t> shape) {
        h5::write_floats(g, name, shape, v.data(), true);
    };
    const uint64_t out = static_cast<uint64_t>(s.out), in = static_cast<uint64_t>(s.in);
    switch (s.op) {
        case StepOp::scale: h5::write_attr(g, "factor", s.factor); break;
        case StepOp::interpolate_nearest: h5::write_attr(g, "length", s.length); break;
        case StepOp::select_channels:
            h5::write_int32s(g, "indices", std::vector<int32_t>(s.indices.begin(), s.indices.end()));
            break;
        case StepOp::channel_scale: put("weight", s.weight, {s.weight.size()}); break;
        case StepOp::channel_mix:
        case StepOp::linear:
            put("weight", s.weight, {out, in});
            put("bias", s.bias, {out});
            if (s.max_norm > 0) h5::write_attr(g, "max_norm", s.max_norm);
            break;
        case StepOp::batch_norm:
            for (const auto* p : {&s.weight, &s.bias, &s.running_mean, &s.running_var})
                put(p == &s.weight ? "weight" : p == &s.bias ? "bias" : p == &s.running_mean ? "running_mean" : "running_var",
                    *p, {p->size()});
            h5::write_attr(g, "eps", s.eps);
            break;
        case StepOp::depthwise_conv:
            put("weight", s.weight, {in, out});
            put("bias", s.bias, {in});
            h5::write_attr(g, "padding", std::string(s.same_padding ? "same" : "valid"));
            break;
        case StepOp::encoder:
            h5::write_attr(g, "channels", s.channels);
            h5::write_attr(g, "patch_stride", int64_t{s.patch_stride});
            break;
        case StepOp::layer_norm:
            put("weight", s.weight, {s.weight.size()});
            put("bias", s.bias, {s.bias.size()});
            h5::write_attr(g, "eps", s.eps);
            break;
        case StepOp::sleep_decoder: {
            const uint64_t F = s.cls_token.size();
            h5::write_attr(g, "positions", std::string("eegpt_int_sincos"));
            h5::write_attr(g, "layers", static_cast<int64_t>(s.decoder.size()));
            h5::write_attr(g, "heads", int64_t{s.heads});
            h5::write_attr(g, "eps", s.eps);
            put("cls_token", s.cls_token, {F});
            h5::Handle dec = h5::create_group(g, "decoder");
            for (size_t l = 0; l < s.decoder.size(); ++l) {
                const DecoderLayerWeights& d = s.decoder[l];
                const uint64_t M = static_cast<uint64_t>(d.hidden);
                h5::Handle lg = h5::create_group(dec, std::to_string(l));
                auto lput = [&](const std::string& name, const std::vector<float>& v, std::vector<uint64_t> shape) {
                    h5::write_floats(lg, name, shape, v.data(), true);
                };
                lput("self_in_weight", d.self_in_weight, {3 * F, F});
                lput("self_in_bias", d.self_in_bias, {3 * F});
                lput("self_out_weight", d.self_out_weight, {F, F});
                lput("self_out_bias", d.self_out_bias, {F});
                lput("cross_in_weight", d.cross_in_weight, {3 * F, F});
                lput("cross_in_bias", d.cross_in_bias, {3 * F});
                lput("cross_out_weight", d.cross_out_weight, {F, F});
                lput("cross_out_bias", d.cross_out_bias, {F});
                lput("linear1_weight", d.linear1_weight, {M, F});
                lput("linear1_bias", d.linear1_bias, {M});
                lput("linear2_weight", d.linear2_weight, {F, M});
                lput("linear2_bias", d.linear2_bias, {F});
                lput("norm1_weight", d.norm1_weight, {F});
                lput("norm1_bias", d.norm1_bias, {F});
                lput("norm2_weight", d.norm2_weight, {F});
                lput("norm2_bias", d.norm2_bias, {F});
                lput("norm3_weight", d.norm3_weight, {F});
                lput("norm3_bias", d.norm3_bias, {F});
            }
            break;
        }
        case StepOp::subtract_channel_mean:
        case StepOp::mean_tokens:
        case StepOp::flatten:
        case StepOp::gelu:
        case StepOp::relu: break;
    }
}

// The names of an object's attributes (to refuse the ones a group must not have).
std::vector<std::string> attribute_names(hid_t object) {
    std::vector<std::string> names;
    H5Aiterate2(
        object, H5_INDEX_NAME, H5_ITER_INC, nullptr,
        [](hid_t, const char* name, const H5A_info_t*, void* data) -> herr_t {
            static_cast<std::vector<std::string>*>(data)->push_back(name);
            return 0;
        },
        &names);
    return names;
}

// The group /preparation (docs/weight-format.md), strictly: every attribute present and in range,
// no other attribute and no member, the channels, rate and unit those of the head.
HeadPreparation read_preparation(hid_t file, const Head& head) {
    h5::Handle g = h5::open_group(file, "preparation");
    const std::string where = "preparation";
    if (!h5::member_names(g).empty()) throw Error(where + " holds objects; it has attributes only");
    HeadPreparation p;
    p.name = h5::read_string_attr(g, "name");
    if (p.name.empty() || p.name.find_first_of("\r\n") != std::string::npos)
        throw Error(where + ": name must be one non-empty line");
    p.channels = h5::read_string_array_attr(g, "channels");
    if (p.channels != head.input_labels)
        throw Error(where + ": channels must be the head's input_labels, in order");
    p.filter_design = parse_filter_design(h5::read_string_attr(g, "filter_design"), where + " filter_design");
    p.bandpass_low_hz = h5::read_double_attr(g, "bandpass_low_hz");
    p.bandpass_high_hz = h5::read_double_attr(g, "bandpass_high_hz");
    const bool none = p.bandpass_low_hz == 0 && p.bandpass_high_hz == 0;
    if (!none && !(p.bandpass_low_hz >= 0 && p.bandpass_high_hz > p.bandpass_low_hz && std::isfinite(p.bandpass_high_hz)))
        throw Error(where + ": need 0 <= bandpass_low_hz < bandpass_high_hz (both 0: no band-pass)");
    p.notch_hz = h5::read_double_attr(g, "notch_hz");
    if (!(p.notch_hz >= 0 && std::isfinite(p.notch_hz))) throw Error(where + ": notch_hz must be >= 0 (0: no notch)");
    std::set<std::string> allowed = {"name", "channels", "filter_design", "bandpass_low_hz", "bandpass_high_hz",
                                     "notch_hz", "resample_method", "sample_rate_hz", "unit_mv"};
    if (p.filter_design == FilterDesign::scipy) {
        allowed.insert({"bandpass_order", "notch_q"});
        const int64_t order = h5::read_int_attr(g, "bandpass_order");
        if (order < 1 || order > 12) throw Error(where + ": bandpass_order must be 1..12");
        p.bandpass_order = static_cast<int>(order);
        p.notch_q = h5::read_double_attr(g, "notch_q");
        if (!(p.notch_q > 0 && p.notch_q <= 1000)) throw Error(where + ": notch_q must be in (0, 1000]");
    }
    p.resample_method = parse_resample_method(h5::read_string_attr(g, "resample_method"), where + " resample_method");
    p.sample_rate_hz = h5::read_double_attr(g, "sample_rate_hz");
    if (p.sample_rate_hz != head.sample_rate_hz) throw Error(where + ": sample_rate_hz must be the head's sample_rate_hz");
    p.unit_mv = h5::read_double_attr(g, "unit_mv");
    if (p.unit_mv != head.input_unit_mv) throw Error(where + ": unit_mv must be the head's input_unit_mv");
    for (const auto& name : attribute_names(g))
        if (!allowed.count(name)) throw Error(where + ": unknown attribute '" + name + "'");
    return p;
}

void write_preparation(hid_t file, const Head& head) {
    const HeadPreparation& p = head.preparation;
    h5::Handle g = h5::create_group(file, "preparation");
    h5::write_attr(g, "name", p.name);
    h5::write_attr(g, "channels", p.channels);
    h5::write_attr(g, "filter_design", to_string(p.filter_design));
    h5::write_attr(g, "bandpass_low_hz", p.bandpass_low_hz);
    h5::write_attr(g, "bandpass_high_hz", p.bandpass_high_hz);
    h5::write_attr(g, "notch_hz", p.notch_hz);
    if (p.filter_design == FilterDesign::scipy) {
        h5::write_attr(g, "bandpass_order", int64_t{p.bandpass_order});
        h5::write_attr(g, "notch_q", p.notch_q);
    }
    h5::write_attr(g, "resample_method", to_string(p.resample_method));
    h5::write_attr(g, "sample_rate_hz", p.sample_rate_hz);
    h5::write_attr(g, "unit_mv", p.unit_mv);
}

}  // namespace

std::string to_string(StepOp op) {
    for (const auto& [name, value] : op_names())
        if (value == op) return name;
    return "?";
}

const HeadStep& Head::encoder_step() const {
    for (const auto& s : steps)
        if (s.op == StepOp::encoder) return s;
    throw Error("the head has no encoder step");
}

bool Head::signal_is_identity() const { return !steps.empty() && steps.front().op == StepOp::encoder; }

Head load_head(const std::string& path) {
    try {
        h5::Handle file = h5::open_read(path);
        if (!h5::has_attr(file, "format") || h5::read_string_attr(file, "format") != "eegpt-head")
            throw Error("not an EEGPT head file (attribute 'format' is not 'eegpt-head')");
        Head head;
        head.format_version = h5::read_int_attr(file, "format_version");
        TensorReader tensors;
        if (head.format_version == 3 || head.format_version == 2) read_version2(file, head, tensors);
        else if (head.format_version == 1) read_version1(file, head, tensors);
        else
            throw Error("unsupported format_version " + std::to_string(head.format_version) +
                        " (this engine reads versions 1 to 3)");
        head.source = h5::read_string_attr(file, "source");
        if (h5::has_object(file, "preparation")) {
            if (head.format_version != 3) throw Error("a /preparation group needs format_version 3");
            head.preparation = read_preparation(file, head);
            head.has_preparation = true;
        }
        const auto encoders = std::count_if(head.steps.begin(), head.steps.end(),
                                            [](const HeadStep& s) { return s.op == StepOp::encoder; });
        if (encoders != 1) throw Error("a head has exactly one encoder step, this one has " + std::to_string(encoders));
        if (!h5::all_checksummed(tensors.refs()))
            head.warnings.push_back(
                "no checksums (exported before they were written): a corrupted tensor cannot be "
                "detected; export the head again with tools/convert_head.py");
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
    h5::write_attr(file, "recipe", head.recipe);
    h5::write_strings(file, "class_names", head.class_names);
    h5::write_attr(file, "output", std::string(head.output == HeadOutput::sigmoid ? "sigmoid" : "softmax"));
    h5::write_attr(file, "input_labels", head.input_labels);
    h5::write_attr(file, "sample_rate_hz", head.sample_rate_hz);
    h5::write_attr(file, "window_samples", int64_t{head.window_samples});
    h5::write_attr(file, "input_unit_mv", head.input_unit_mv);
    h5::write_attr(file, "stride_s", head.stride_s);
    h5::write_attr(file, "max_norm_applied", int64_t{1});
    h5::write_attr(file, "n_steps", static_cast<int64_t>(head.steps.size()));
    h5::write_attr(file, "source", head.source);
    h5::write_attr(file, "source_sha256", head.source_sha256);
    h5::write_attr(file, "converter_version", head.converter_version);
    h5::Handle steps = h5::create_group(file, "steps");
    for (size_t i = 0; i < head.steps.size(); ++i) {
        h5::Handle g = h5::create_group(steps, std::to_string(i));
        write_step(g, head.steps[i]);
    }
    steps.reset();
    if (head.has_preparation) write_preparation(file, head);
    out.commit();
}

}  // namespace eegpt
