// libFuzzer target: a head file (docs/weight-format.md, "Head files") through what the CLI does
// with one before any recording: load_head, plan_head against a small model, then, when the plan
// accepts it, the head's signal and feature steps on windows of the planned shapes. An input that
// starts with HDF5's signature is the file itself (mutated bytes, mostly refused by libhdf5). Any
// other input drives a generator of well-formed HDF5 heads, to reach the loader's and the
// planner's own checks: each byte is one choice, and choice 0 is always the canonical valid head's
// (so the empty input is a head that loads and runs), any other a departure from it (another
// value, kind or shape, a missing member). An eegpt::Error is a correct answer; a crash, a
// sanitizer report, a hang, a probability outside [0, 1] or an HDF5 identifier left open is a
// bug. Build and run: test/fuzz/README.md.
#include <hdf5.h>
#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "encoder/error.h"
#include "encoder/io/hdf5.h"
#include "recordings/heads/head.h"

namespace {

namespace h5 = eegpt::h5;

const std::string& scratch_path() {
    static const std::string path = (access("/dev/shm", W_OK) == 0 ? std::string("/dev/shm") : std::string("/tmp")) +
                                    "/eegpt_fuzz_head_" + std::to_string(getpid()) + ".h5";
    return path;
}

const char* kOps[] = {"scale",         "subtract_channel_mean", "interpolate_nearest", "select_channels",
                      "channel_scale", "channel_mix",           "batch_norm",          "depthwise_conv",
                      "encoder",       "layer_norm",            "mean_tokens",         "linear",
                      "flatten",       "sleep_decoder",         "gelu",                "relu"};

// One choice per byte, 0 past the end; 0 always picks the hint (the canonical head's value).
class Choices {
public:
    Choices(const uint8_t* data, size_t size) : data_(data), size_(size) {}
    uint8_t byte() { return pos_ < size_ ? data_[pos_++] : 0; }
    size_t pick(size_t n) { return byte() % n; }
    double number(double hint) {
        static const double table[] = {0,    1,    -1,   2,    0.5,  1e-5,    0.1,     0.001,  3,     4,
                                       16,   19,   32,   64,   100,  200,     256,     400,    512,   537,
                                       1000, 1024, 2000, 3000, 7680, 1e5,     4194304, 4194305, 1e300, -1e300,
                                       1e-320, 0.25, 65, 63,   -64};
        const size_t n = sizeof table / sizeof table[0];
        const size_t k = pick(n + 4);
        if (k == 0) return hint;
        if (k <= n) return table[k - 1];
        if (k == n + 1) return std::numeric_limits<double>::quiet_NaN();
        if (k == n + 2) return std::numeric_limits<double>::infinity();
        double v = 0;  // any bit pattern
        for (size_t i = 0; i < sizeof v; ++i) reinterpret_cast<uint8_t*>(&v)[i] = byte();
        return v;
    }
    int64_t integer(int64_t hint) {
        static const int64_t table[] = {0,    1,    2,    3,    4,       -1,      16,
                                        19,   32,   55,   63,   64,      65,      256,
                                        512,  1024, 2000, 3000, 4096,    4097,    7680,
                                        4194304, 4194305, int64_t{1} << 32, (int64_t{1} << 32) + 64,
                                        std::numeric_limits<int64_t>::min()};
        const size_t n = sizeof table / sizeof table[0];
        const size_t k = pick(n + 2);
        if (k == 0) return hint;
        if (k <= n) return table[k - 1];
        uint64_t v = 0;  // any bit pattern
        for (int i = 0; i < 8; ++i) v = (v << 8) | byte();
        return static_cast<int64_t>(v);
    }
    std::string text(const std::string& hint) {
        static const char* table[] = {
            "eegpt-head", "softmax", "sigmoid", "custom", "FP1", "FP2", "CZ", "FZ", "PZ", "OZ", "C3", "A1", "Fpz-Cz",
            "EEG FP1-REF", "XYZ", "", " ", "a", "b", "valid", "same", "eegpt_int_sincos", "flatten_tokens",
            "mean_tokens", "identity", "relu", "gelu"};
        const size_t n = sizeof table / sizeof table[0];
        const size_t k = pick(n + 3);
        if (k == 0) return hint;
        if (k <= n) return table[k - 1];
        if (k == n + 1) return kOps[pick(sizeof kOps / sizeof kOps[0])];
        std::string s(pick(8), '\0');  // any bytes, NUL and invalid UTF-8 included
        for (auto& c : s) c = static_cast<char>(byte());
        return s;
    }
    // The hint, one of its items changed, one dropped or one added.
    std::vector<std::string> texts(std::vector<std::string> hint) {
        const size_t k = pick(4);
        if (k == 1 && !hint.empty()) hint[pick(hint.size())] = text("");
        if (k == 2 && !hint.empty()) hint.erase(hint.begin() + static_cast<long>(pick(hint.size())));
        if (k == 3) hint.push_back(text(hint.empty() ? "" : hint.front()));
        return hint;
    }

private:
    const uint8_t* data_;
    size_t size_, pos_ = 0;
};

// The canonical head, against the target's model (E = 1, D = 16; 1024 samples, stride 64: 16
// patches): every op once, on input CZ at 256 Hz, the encoder seeing CZ and PZ (the 1 x 1 mix).
struct CanonicalStep {
    const char* op;
    uint64_t out, in;  // weight out x in (linear, channel_mix; depthwise_conv: channels = in,
                       // kernel = out); vectors of in (channel_scale, batch_norm, layer_norm, sleep_decoder)
};
const CanonicalStep kCanonical[] = {
    {"select_channels", 0, 1}, {"interpolate_nearest", 0, 0}, {"scale", 0, 0}, {"subtract_channel_mean", 0, 0},
    {"channel_scale", 0, 1},   {"batch_norm", 0, 1},          {"gelu", 0, 0},  {"depthwise_conv", 15, 1},
    {"channel_mix", 2, 1},     {"encoder", 0, 0},             {"layer_norm", 0, 16}, {"linear", 16, 16},
    {"relu", 0, 0},            {"sleep_decoder", 0, 16},      {"linear", 2, 16}};
// Version 1 as layers: 16 -> 2 per patch, then flatten (32) -> 2.
const CanonicalStep kCanonicalLayers[] = {{"linear", 2, 16}, {"linear", 2, 32}};

// Writes one member as the format wants it (choice 0), or as another kind, or not at all.
class Generator {
public:
    explicit Generator(Choices& in) : in_(in) {}

    enum class Kind { integer, number, text, texts };
    struct Hint {
        Kind kind;
        int64_t integer = 0;
        double number = 0;
        std::vector<std::string> texts;
    };
    static Hint integer(int64_t v) { return {Kind::integer, v, 0, {}}; }
    static Hint number(double v) { return {Kind::number, 0, v, {}}; }
    static Hint text(const std::string& v) { return {Kind::text, 0, 0, {v}}; }
    static Hint texts(std::vector<std::string> v) { return {Kind::texts, 0, 0, std::move(v)}; }

    void attribute(hid_t object, const char* name, const Hint& hint) {
        const size_t k = in_.pick(16);
        if (k == 15) return;  // missing
        const Kind kind = k == 14 ? static_cast<Kind>(in_.pick(4)) : hint.kind;
        const std::string first = hint.texts.empty() ? "" : hint.texts.front();
        switch (kind) {
            case Kind::integer: h5::write_attr(object, name, in_.integer(hint.integer)); break;
            case Kind::number: h5::write_attr(object, name, in_.number(hint.number)); break;
            case Kind::text: h5::write_attr(object, name, in_.text(first)); break;
            case Kind::texts: h5::write_attr(object, name, in_.texts(hint.texts)); break;
        }
    }
    // A float32 tensor of the hint's shape (each size kept, or another), with its checksum; or
    // without one, or of another rank or kind, or missing.
    void tensor(hid_t location, const char* name, std::vector<uint64_t> shape) {
        const size_t k = in_.pick(16);
        if (k == 15) return;
        if (k == 14) shape.resize(in_.pick(4), 1);
        uint64_t n = 1;
        for (auto& d : shape) n *= (d = dimension(d));
        if (n > (1u << 16)) return;  // an input stays fast
        if (k == 13) {
            std::vector<int32_t> values(static_cast<size_t>(n));
            for (auto& v : values) v = static_cast<int32_t>(in_.integer(0));
            h5::write_int32s(location, name, values);
            return;
        }
        if (k == 12) {
            h5::write_strings(location, name, in_.texts({"a"}));
            return;
        }
        // Values from a short cycle of chosen numbers: a few bytes fill any size.
        std::vector<float> cycle(1 + in_.pick(4));
        for (auto& v : cycle)
            v = in_.pick(4) ? static_cast<float>(in_.pick(17)) / 8.0f : static_cast<float>(in_.number(0.5));
        std::vector<float> values(static_cast<size_t>(n));
        for (size_t i = 0; i < values.size(); ++i) values[i] = cycle[i % cycle.size()];
        if (shape.empty()) shape = {1};
        h5::write_floats(location, name, shape, values.data(), k != 11 && n > 0);
    }

    void step(hid_t g, const CanonicalStep& canonical) {
        const std::string op = in_.pick(2) ? kOps[in_.pick(sizeof kOps / sizeof kOps[0])] : canonical.op;
        attribute(g, "op", text(op));
        const bool same = op == canonical.op;  // else sizes of the features' side
        const uint64_t out = same && canonical.out ? canonical.out : 2, in = same && canonical.in ? canonical.in : 16;
        if (op == "scale") attribute(g, "factor", number(0.1));
        if (op == "interpolate_nearest") attribute(g, "length", integer(1024));
        if (op == "select_channels") {
            if (in_.pick(2)) tensor(g, "indices", {1});
            else h5::write_int32s(g, "indices", {static_cast<int32_t>(in_.integer(0))});
        }
        if (op == "channel_scale") tensor(g, "weight", {in});
        if (op == "channel_mix" || op == "linear") {
            tensor(g, "weight", {out, in});
            tensor(g, "bias", {out});
            if (in_.pick(2)) attribute(g, "max_norm", number(1));
        }
        if (op == "batch_norm" || op == "layer_norm") {
            tensor(g, "weight", {in});
            tensor(g, "bias", {in});
            if (op == "batch_norm") {
                tensor(g, "running_mean", {in});
                tensor(g, "running_var", {in});
            }
            attribute(g, "eps", number(1e-5));
        }
        if (op == "depthwise_conv") {
            tensor(g, "weight", {in, out});
            tensor(g, "bias", {in});
            attribute(g, "padding", text("same"));
        }
        if (op == "encoder") {
            attribute(g, "channels", texts({"CZ", "PZ"}));
            attribute(g, "patch_stride", integer(64));
        }
        if (op == "sleep_decoder") {
            const uint64_t F = in, M = 32;
            const int64_t layers = 1 + static_cast<int64_t>(in_.pick(2));
            attribute(g, "positions", text("eegpt_int_sincos"));
            attribute(g, "layers", integer(layers));
            attribute(g, "heads", integer(2));
            attribute(g, "eps", number(1e-5));
            tensor(g, "cls_token", {F});
            h5::Handle dec = h5::create_group(g, "decoder");
            for (int64_t l = 0; l < layers; ++l) {
                h5::Handle lg = h5::create_group(dec, std::to_string(l));
                for (const char* t : {"self_in_weight", "cross_in_weight"}) tensor(lg, t, {3 * F, F});
                for (const char* t : {"self_in_bias", "cross_in_bias"}) tensor(lg, t, {3 * F});
                for (const char* t : {"self_out_weight", "cross_out_weight"}) tensor(lg, t, {F, F});
                tensor(lg, "linear1_weight", {M, F});
                tensor(lg, "linear1_bias", {M});
                tensor(lg, "linear2_weight", {F, M});
                for (const char* t : {"self_out_bias", "cross_out_bias", "linear2_bias", "norm1_weight", "norm1_bias",
                                      "norm2_weight", "norm2_bias", "norm3_weight", "norm3_bias"})
                    tensor(lg, t, {F});
            }
        }
    }

    // Numbered groups "0" .. n-1 (or a name out of order), n = the canonical count or another.
    size_t members(size_t canonical) {
        const size_t k = in_.pick(8);
        return k == 0 ? canonical : k;
    }
    std::string member_name(size_t i) { return in_.pick(32) == 31 ? "x" + std::to_string(i) : std::to_string(i); }

    void version2(hid_t file, int64_t version) {
        attribute(file, "recipe", text("custom"));
        const std::vector<std::string> classes = {"a", "b"};
        if ((version == 3) != (in_.pick(8) == 0)) attribute(file, "class_names", texts(classes));
        else h5::write_strings(file, "class_names", in_.texts(classes));
        attribute(file, "output", text("softmax"));
        attribute(file, "input_labels", texts({"CZ"}));
        attribute(file, "sample_rate_hz", number(256));
        attribute(file, "window_samples", integer(1024));
        attribute(file, "input_unit_mv", number(1));
        attribute(file, "stride_s", number(4));
        attribute(file, "max_norm_applied", integer(1));
        attribute(file, "source", text("fuzz"));
        const size_t canonical = sizeof kCanonical / sizeof kCanonical[0], n = members(canonical);
        attribute(file, "n_steps", integer(static_cast<int64_t>(n)));
        h5::Handle steps = h5::create_group(file, "steps");
        for (size_t i = 0; i < n; ++i) {
            h5::Handle g = h5::create_group(steps, member_name(i));
            step(g, kCanonical[i % canonical]);
        }
    }

    // Version 1: the same head as layers (the encoder implied, its stride the model's).
    void version1(hid_t file) {
        attribute(file, "class_names", texts({"a", "b"}));
        attribute(file, "input_channels", texts({"CZ"}));
        attribute(file, "pooling", text("flatten_tokens"));
        attribute(file, "source", text("fuzz"));
        if (in_.pick(4) == 1) {
            h5::Handle mix = h5::create_group(file, "channel_mixing");
            attribute(mix, "encoder_channels", texts({"CZ", "PZ"}));
            tensor(mix, "weight", {2, 1});
            tensor(mix, "bias", {2});
        }
        const size_t n = members(2);
        attribute(file, "n_layers", integer(static_cast<int64_t>(n)));
        h5::Handle layers = h5::create_group(file, "layers");
        for (size_t i = 0; i < n; ++i) {
            const CanonicalStep& c = kCanonicalLayers[i % 2];
            h5::Handle g = h5::create_group(layers, member_name(i));
            attribute(g, "flatten_input", integer(i % 2 ? 1 : 0));
            attribute(g, "activation", text("identity"));
            tensor(g, "weight", {c.out, c.in});
            tensor(g, "bias", {c.out});
        }
    }

private:
    // A size: the hint, or one this file already has (so that sizes agree), or one from a table.
    uint64_t dimension(uint64_t hint) {
        static const uint64_t table[] = {1, 2, 3, 4, 5, 8, 15, 16, 19, 32, 48, 55, 64, 256, 0};
        const size_t k = in_.pick(4);
        uint64_t d = hint;
        if (k == 1 && !used_.empty()) d = used_[in_.pick(used_.size())];
        if (k == 2) d = table[in_.pick(sizeof table / sizeof table[0])];
        used_.push_back(d);
        return d;
    }

    Choices& in_;
    std::vector<uint64_t> used_;
};

void generate(const std::string& path, Choices& in) {
    h5::AtomicFile out(path);
    hid_t file = out.file();
    Generator g(in);
    g.attribute(file, "format", Generator::text("eegpt-head"));
    const int64_t versions[] = {3, 2, 1};
    const int64_t version = in.integer(versions[in.pick(3)]);
    h5::write_attr(file, "format_version", version);
    if (version == 1) g.version1(file);
    else g.version2(file, version);
    out.commit();
}

// The CLI's use of a head before any recording, then the head itself on windows of the planned
// shapes when they are small enough for a fuzzing run.
void exercise(const std::string& path, int patch_stride) {
    const eegpt::Head head = eegpt::load_head(path);
    eegpt::ModelConfig config;
    config.embed_dim = 16;
    config.embed_num = 1;
    config.depth = 1;
    config.num_heads = 2;
    config.mlp_hidden = 32;
    config.patch_stride = patch_stride;
    const eegpt::HeadPlan plan = eegpt::plan_head(head, config);
    const size_t inputs = head.input_labels.size() * static_cast<size_t>(head.window_samples);
    if (inputs > (1u << 18) || plan.patches > 256) return;
    const int windows = 2;
    std::vector<float> x(inputs * windows);
    for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(std::sin(0.01 * static_cast<double>(i)));
    std::vector<float> signal;
    eegpt::head_signal(head, x.data(), windows, signal);
    const size_t per_window = plan.encoder_ids.size() * static_cast<size_t>(plan.encoder_samples);
    if (signal.size() != per_window * windows) __builtin_trap();  // the plan's shape is what the steps give
    std::vector<float> features(static_cast<size_t>(windows) * plan.patches * config.embed_num * config.embed_dim);
    for (size_t i = 0; i < features.size(); ++i) features[i] = static_cast<float>(std::cos(0.1 * static_cast<double>(i)));
    std::vector<float> logits(static_cast<size_t>(windows) * head.outputs());
    std::vector<float> probabilities(static_cast<size_t>(windows) * head.outputs());
    eegpt::head_outputs(head, features.data(), windows, plan.patches, config.embed_num, config.embed_dim,
                        logits.data(), probabilities.data());
    for (float p : probabilities)
        if (!(p >= 0 && p <= 1)) __builtin_trap();
}

}  // namespace

// predict_windows (head_steps.cpp, with plan_head) runs the encoder, which this target does not
// build; nothing here calls it, so the two encoder functions it names are stand-ins that trap.
size_t eegpt::Encoder::output_size(int, int) const { __builtin_trap(); }
void eegpt::check_features_finite(const float*, size_t, size_t) { __builtin_trap(); }

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string& path = scratch_path();
    static const uint8_t kSignature[] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
    const bool raw = size >= sizeof kSignature && std::memcmp(data, kSignature, sizeof kSignature) == 0;
    try {
        int patch_stride = 64;  // the model's; a generated input sometimes has 32, to meet a head made for 64
        if (raw) {
            FILE* f = std::fopen(path.c_str(), "wb");
            if (!f) return 0;
            std::fwrite(data, 1, size, f);
            std::fclose(f);
        } else {
            Choices in(data, size);
            if (in.pick(4) == 3) patch_stride = 32;
            generate(path, in);
        }
        exercise(path, patch_stride);
    } catch (const eegpt::Error&) {
    }
    // Every identifier the loader opened is closed again, on every path.
    if (H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_ALL) != 0) __builtin_trap();
    std::remove(path.c_str());
    return 0;
}
