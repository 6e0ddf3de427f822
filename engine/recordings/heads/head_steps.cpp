// Running a head's steps (docs/weight-format.md, "Head files"): shapes planned once against the
// model, then each window's signal steps before the encoder and feature steps after it, in float64
// with one rounding to float32 at the end of each side (the encoder takes float32; logits are
// written as float32). Plain loops: a head is a few million multiply-adds per window at most (the
// TUAB adapter, 20 x 23 x 2000), against the encoder's billions.
#include <algorithm>
#include <cmath>
#include <limits>

#include "encoder/channels.h"
#include "encoder/error.h"
#include "recordings/channel_map.h"
#include "recordings/heads/head.h"

namespace eegpt {
namespace {

double gelu(double v) { return 0.5 * v * (1.0 + std::erf(v / std::sqrt(2.0))); }

// Rows x cols, row-major, float64.
struct Mat {
    int rows = 0, cols = 0;
    std::vector<double> v;
    Mat() = default;
    Mat(int r, int c) : rows(r), cols(c), v(static_cast<size_t>(r) * static_cast<size_t>(c), 0.0) {}
    double* row(int r) { return v.data() + static_cast<size_t>(r) * static_cast<size_t>(cols); }
    const double* row(int r) const { return v.data() + static_cast<size_t>(r) * static_cast<size_t>(cols); }
};

// y = x W^T + b for every row (W: out x in, PyTorch's Linear layout).
Mat linear(const Mat& x, const float* w, const float* b, int out) {
    Mat y(x.rows, out);
    for (int r = 0; r < x.rows; ++r) {
        const double* xr = x.row(r);
        double* yr = y.row(r);
        for (int o = 0; o < out; ++o) {
            const float* wo = w + static_cast<size_t>(o) * static_cast<size_t>(x.cols);
            double acc = b ? b[o] : 0.0;
            for (int i = 0; i < x.cols; ++i) acc += static_cast<double>(wo[i]) * xr[i];
            yr[o] = acc;
        }
    }
    return y;
}

// LayerNorm of every consecutive group of `g` values (two passes: mean, then variance).
void layer_norm(double* x, size_t n, int g, const float* w, const float* b, double eps) {
    for (size_t start = 0; start < n; start += static_cast<size_t>(g)) {
        double* p = x + start;
        double mean = 0;
        for (int i = 0; i < g; ++i) mean += p[i];
        mean /= g;
        double var = 0;
        for (int i = 0; i < g; ++i) var += (p[i] - mean) * (p[i] - mean);
        var /= g;
        const double inv = 1.0 / std::sqrt(var + eps);
        for (int i = 0; i < g; ++i) p[i] = (p[i] - mean) * inv * w[i] + b[i];
    }
}

// Multi-head scaled dot-product attention of nn.MultiheadAttention: queries from x, keys and values
// from m, packed in-projection (rows: q, k, v) and out-projection.
Mat attention(const Mat& x, const Mat& m, const std::vector<float>& in_w, const std::vector<float>& in_b,
              const std::vector<float>& out_w, const std::vector<float>& out_b, int heads) {
    const int F = x.cols, hd = F / heads;
    const size_t FF = static_cast<size_t>(F) * static_cast<size_t>(F);
    const Mat q = linear(x, in_w.data(), in_b.data(), F);
    const Mat k = linear(m, in_w.data() + FF, in_b.data() + F, F);
    const Mat v = linear(m, in_w.data() + 2 * FF, in_b.data() + 2 * F, F);
    Mat o(x.rows, F);
    std::vector<double> p(static_cast<size_t>(m.rows));
    const double scale = 1.0 / std::sqrt(static_cast<double>(hd));
    for (int h = 0; h < heads; ++h)
        for (int i = 0; i < x.rows; ++i) {
            const double* qi = q.row(i) + h * hd;
            double top = -INFINITY;
            for (int j = 0; j < m.rows; ++j) {
                const double* kj = k.row(j) + h * hd;
                double s = 0;
                for (int d = 0; d < hd; ++d) s += qi[d] * kj[d];
                p[static_cast<size_t>(j)] = s * scale;
                top = std::max(top, p[static_cast<size_t>(j)]);
            }
            double sum = 0;
            for (double& e : p) sum += (e = std::exp(e - top));
            double* oi = o.row(i) + h * hd;
            for (int j = 0; j < m.rows; ++j) {
                const double a = p[static_cast<size_t>(j)] / sum;
                const double* vj = v.row(j) + h * hd;
                for (int d = 0; d < hd; ++d) oi[d] += a * vj[d];
            }
        }
    return linear(o, out_w.data(), out_b.data(), F);
}

// The SleepEDF sequence head: positions (the reference code's integer-cast sin/cos), a class token
// in front, post-norm decoder layers with the input sequence as memory; the class token's row.
Mat sleep_decoder(const Mat& x, const HeadStep& s) {
    const int F = x.cols;
    Mat seq(x.rows + 1, F);
    std::copy(s.cls_token.begin(), s.cls_token.end(), seq.row(0));
    for (int r = 0; r < x.rows; ++r) {
        double* out = seq.row(r + 1);
        const double* in = x.row(r);
        for (int c = 0; c < F; ++c) {
            // Frequencies 1 / 10000^(2i/F) cast to integers: 1 for i = 0, 0 after. Computed in
            // float32 by the reference, as here.
            const double pos = c == 0 ? static_cast<float>(std::sin(static_cast<double>(r)))
                               : c == 1 ? static_cast<float>(std::cos(static_cast<double>(r)))
                               : (c % 2 == 0 ? 0.0 : 1.0);
            out[c] = in[c] + pos;
        }
    }
    const Mat memory = seq;
    const size_t n = seq.v.size();
    for (const DecoderLayerWeights& d : s.decoder) {
        Mat a = attention(seq, seq, d.self_in_weight, d.self_in_bias, d.self_out_weight, d.self_out_bias, s.heads);
        for (size_t i = 0; i < n; ++i) seq.v[i] += a.v[i];
        layer_norm(seq.v.data(), n, F, d.norm1_weight.data(), d.norm1_bias.data(), s.eps);
        a = attention(seq, memory, d.cross_in_weight, d.cross_in_bias, d.cross_out_weight, d.cross_out_bias, s.heads);
        for (size_t i = 0; i < n; ++i) seq.v[i] += a.v[i];
        layer_norm(seq.v.data(), n, F, d.norm2_weight.data(), d.norm2_bias.data(), s.eps);
        Mat h = linear(seq, d.linear1_weight.data(), d.linear1_bias.data(), d.hidden);
        for (double& e : h.v) e = gelu(e);
        const Mat f = linear(h, d.linear2_weight.data(), d.linear2_bias.data(), F);
        for (size_t i = 0; i < n; ++i) seq.v[i] += f.v[i];
        layer_norm(seq.v.data(), n, F, d.norm3_weight.data(), d.norm3_bias.data(), s.eps);
    }
    Mat out(1, F);
    std::copy(seq.row(0), seq.row(0) + F, out.row(0));
    return out;
}

// The steps allowed on both sides of the encoder.
Mat activation(StepOp op, Mat x) {
    if (op == StepOp::gelu)
        for (double& e : x.v) e = gelu(e);
    else
        for (double& e : x.v) e = e > 0 ? e : 0;
    return x;
}

// One signal step on a window (channels x samples as a Mat).
Mat signal_step(const HeadStep& s, Mat x) {
    const int C = x.rows, T = x.cols;
    switch (s.op) {
        case StepOp::scale:
            for (double& e : x.v) e *= s.factor;
            return x;
        case StepOp::subtract_channel_mean:
            for (int t = 0; t < T; ++t) {
                double mean = 0;
                for (int c = 0; c < C; ++c) mean += x.row(c)[t];
                mean /= C;
                for (int c = 0; c < C; ++c) x.row(c)[t] -= mean;
            }
            return x;
        case StepOp::interpolate_nearest: {
            const int L = static_cast<int>(s.length);
            Mat y(C, L);
            for (int i = 0; i < L; ++i) {
                const int64_t src = std::min<int64_t>(static_cast<int64_t>(i) * T / L, T - 1);
                for (int c = 0; c < C; ++c) y.row(c)[i] = x.row(c)[src];
            }
            return y;
        }
        case StepOp::select_channels: {
            Mat y(static_cast<int>(s.indices.size()), T);
            for (size_t k = 0; k < s.indices.size(); ++k)
                std::copy(x.row(static_cast<int>(s.indices[k])), x.row(static_cast<int>(s.indices[k])) + T,
                          y.row(static_cast<int>(k)));
            return y;
        }
        case StepOp::channel_scale:
            for (int c = 0; c < C; ++c)
                for (int t = 0; t < T; ++t) x.row(c)[t] *= s.weight[static_cast<size_t>(c)];
            return x;
        case StepOp::channel_mix: {
            Mat y(s.out, T);
            for (int o = 0; o < s.out; ++o) {
                double* yo = y.row(o);
                std::fill(yo, yo + T, static_cast<double>(s.bias[static_cast<size_t>(o)]));
                for (int c = 0; c < C; ++c) {
                    const double w = s.weight[static_cast<size_t>(o) * static_cast<size_t>(C) + static_cast<size_t>(c)];
                    const double* xc = x.row(c);
                    for (int t = 0; t < T; ++t) yo[t] += w * xc[t];
                }
            }
            return y;
        }
        case StepOp::batch_norm:
            for (int c = 0; c < C; ++c) {
                const size_t k = static_cast<size_t>(c);
                const double inv = 1.0 / std::sqrt(static_cast<double>(s.running_var[k]) + s.eps);
                for (int t = 0; t < T; ++t)
                    x.row(c)[t] = (x.row(c)[t] - s.running_mean[k]) * inv * s.weight[k] + s.bias[k];
            }
            return x;
        case StepOp::depthwise_conv: {
            const int K = s.out, left = s.same_padding ? (K - 1) / 2 : 0;
            const int out_t = s.same_padding ? T : T - K + 1;
            Mat y(C, out_t);
            for (int c = 0; c < C; ++c) {
                const float* w = s.weight.data() + static_cast<size_t>(c) * static_cast<size_t>(K);
                const double* xc = x.row(c);
                double* yc = y.row(c);
                for (int t = 0; t < out_t; ++t) {
                    double acc = s.bias[static_cast<size_t>(c)];
                    for (int k = 0; k < K; ++k) {
                        const int src = t + k - left;
                        if (src >= 0 && src < T) acc += static_cast<double>(w[k]) * xc[src];
                    }
                    yc[t] = acc;
                }
            }
            return y;
        }
        case StepOp::gelu:
        case StepOp::relu: return activation(s.op, std::move(x));
        default: throw Error("internal error: '" + to_string(s.op) + "' is not a signal step");
    }
}

Mat feature_step(const HeadStep& s, Mat x, int embed_num) {
    switch (s.op) {
        case StepOp::layer_norm:
            layer_norm(x.v.data(), x.v.size(), static_cast<int>(s.weight.size()), s.weight.data(), s.bias.data(), s.eps);
            return x;
        case StepOp::mean_tokens: {
            const int D = x.cols / embed_num;
            Mat y(x.rows, D);
            for (int r = 0; r < x.rows; ++r)
                for (int d = 0; d < D; ++d) {
                    double acc = 0;
                    for (int e = 0; e < embed_num; ++e) acc += x.row(r)[e * D + d];
                    y.row(r)[d] = acc / embed_num;
                }
            return y;
        }
        case StepOp::linear: return linear(x, s.weight.data(), s.bias.data(), s.out);
        case StepOp::flatten:
            x.cols *= x.rows;
            x.rows = 1;
            return x;
        case StepOp::sleep_decoder: return sleep_decoder(x, s);
        case StepOp::gelu:
        case StepOp::relu: return activation(s.op, std::move(x));
        default: throw Error("internal error: '" + to_string(s.op) + "' is not a feature step");
    }
}

bool is_signal_op(StepOp op) {
    switch (op) {
        case StepOp::scale:
        case StepOp::subtract_channel_mean:
        case StepOp::interpolate_nearest:
        case StepOp::select_channels:
        case StepOp::channel_scale:
        case StepOp::channel_mix:
        case StepOp::batch_norm:
        case StepOp::depthwise_conv:
        case StepOp::gelu:
        case StepOp::relu: return true;
        default: return false;
    }
}

bool is_feature_op(StepOp op) {
    switch (op) {
        case StepOp::layer_norm:
        case StepOp::mean_tokens:
        case StepOp::linear:
        case StepOp::flatten:
        case StepOp::sleep_decoder:
        case StepOp::gelu:
        case StepOp::relu: return true;
        default: return false;
    }
}

std::string step_name(size_t i, const HeadStep& s) { return "step " + std::to_string(i) + " (" + to_string(s.op) + ")"; }

}  // namespace

HeadPlan plan_head(const Head& head, const ModelConfig& config) {
    HeadPlan plan;
    int64_t C = static_cast<int64_t>(head.input_labels.size()), T = head.window_samples;
    int64_t R = 0, F = 0;
    bool features = false;
    for (size_t i = 0; i < head.steps.size(); ++i) {
        const HeadStep& s = head.steps[i];
        const std::string where = step_name(i, s);
        if (s.op == StepOp::encoder) {
            if (static_cast<int64_t>(s.channels.size()) != C)
                throw Error(where + " takes " + std::to_string(s.channels.size()) + " channels but gets " + std::to_string(C));
            if (s.patch_stride != 0 && s.patch_stride != config.patch_stride)
                throw Error("the head needs an encoder with patch stride " + std::to_string(s.patch_stride) +
                            ", the weights have " + std::to_string(config.patch_stride) +
                            " (convert the checkpoint with tools/convert_ckpt.py --patch-stride " +
                            std::to_string(s.patch_stride) + ")");
            if (T < config.patch_size)
                throw Error(where + " gets windows of " + std::to_string(T) + " samples, fewer than one patch (" +
                            std::to_string(config.patch_size) + ")");
            plan.encoder_samples = static_cast<int>(T);
            plan.patches = config.patches(static_cast<int>(T));
            for (const auto& name : s.channels) plan.encoder_ids.push_back(find_channel_id(name));
            R = plan.patches;
            F = static_cast<int64_t>(config.embed_num) * config.embed_dim;
            features = true;
            continue;
        }
        if (!features && !is_signal_op(s.op)) throw Error(where + " cannot come before the encoder step");
        if (features && !is_feature_op(s.op)) throw Error(where + " cannot come after the encoder step");
        auto need = [&](bool ok, const std::string& what) {
            if (!ok) throw Error(where + " " + what);
        };
        switch (s.op) {
            case StepOp::interpolate_nearest: T = s.length; break;
            case StepOp::select_channels:
                for (int64_t k : s.indices)
                    need(k >= 0 && k < C, "selects channel " + std::to_string(k) + " of " + std::to_string(C));
                C = static_cast<int64_t>(s.indices.size());
                break;
            case StepOp::channel_scale:
            case StepOp::batch_norm:
                need(static_cast<int64_t>(s.weight.size()) == C,
                     "has " + std::to_string(s.weight.size()) + " channels but gets " + std::to_string(C));
                break;
            case StepOp::channel_mix:
                need(s.in == C, "takes " + std::to_string(s.in) + " channels but gets " + std::to_string(C));
                C = s.out;
                break;
            case StepOp::depthwise_conv:
                need(s.in == C, "has " + std::to_string(s.in) + " channels but gets " + std::to_string(C));
                if (!s.same_padding) {
                    need(T >= s.out, "has a kernel of " + std::to_string(s.out) + " samples, longer than the " +
                                         std::to_string(T) + " it gets");
                    T = T - s.out + 1;
                }
                break;
            case StepOp::layer_norm:
                need(!s.weight.empty() && F % static_cast<int64_t>(s.weight.size()) == 0,
                     "normalises groups of " + std::to_string(s.weight.size()) + " but rows have " + std::to_string(F));
                break;
            case StepOp::mean_tokens:
                need(F == static_cast<int64_t>(config.embed_num) * config.embed_dim,
                     "averages the summary tokens, but rows have " + std::to_string(F) + " values, not E*D");
                F = config.embed_dim;
                break;
            case StepOp::linear:
                need(s.in == F, "takes " + std::to_string(s.in) + " inputs but gets " + std::to_string(F) + " (rows of " +
                                    std::to_string(R) + " x " + std::to_string(F) + " from " +
                                    std::to_string(plan.patches) + " patches of " + std::to_string(config.embed_num) +
                                    " x " + std::to_string(config.embed_dim) + ")");
                F = s.out;
                break;
            case StepOp::flatten:
                F *= R;
                R = 1;
                break;
            case StepOp::sleep_decoder:
                need(static_cast<int64_t>(s.cls_token.size()) == F,
                     "has width " + std::to_string(s.cls_token.size()) + " but rows have " + std::to_string(F));
                R = 1;
                break;
            default: break;
        }
    }
    if (!features) throw Error("the head has no encoder step");
    if (R != 1) throw Error("the head ends with " + std::to_string(R) + " rows; its steps must leave one row of logits");
    const int64_t logits = head.output == HeadOutput::sigmoid ? 1 : static_cast<int64_t>(head.class_names.size());
    if (F != logits)
        throw Error("the head ends with " + std::to_string(F) + " logits, but its output (" +
                    std::string(head.output == HeadOutput::sigmoid ? "sigmoid" : "softmax") + ", " +
                    std::to_string(head.class_names.size()) + " class names) needs " + std::to_string(logits));
    return plan;
}

void head_signal(const Head& head, const float* x, int windows, std::vector<float>& out) {
    const int C = static_cast<int>(head.input_labels.size()), T = head.window_samples;
    out.clear();
    for (int w = 0; w < windows; ++w) {
        Mat m(C, T);
        const float* xw = x + static_cast<size_t>(w) * static_cast<size_t>(C) * static_cast<size_t>(T);
        for (size_t i = 0; i < m.v.size(); ++i) m.v[i] = xw[i];
        for (const HeadStep& s : head.steps) {
            if (s.op == StepOp::encoder) break;
            m = signal_step(s, std::move(m));
        }
        for (double v : m.v) out.push_back(static_cast<float>(v));
    }
}

void head_outputs(const Head& head, const float* features, int windows, int patches, int embed_num, int embed_dim,
                  float* logits, float* probabilities) {
    const int F = embed_num * embed_dim, K = head.outputs();
    const size_t per_window = static_cast<size_t>(patches) * static_cast<size_t>(F);
    const auto first = std::find_if(head.steps.begin(), head.steps.end(),
                                    [](const HeadStep& s) { return s.op == StepOp::encoder; });
    for (int w = 0; w < windows; ++w) {
        Mat m(patches, F);
        const float* f = features + static_cast<size_t>(w) * per_window;
        for (size_t i = 0; i < per_window; ++i) m.v[i] = f[i];
        for (auto it = first + 1; it != head.steps.end(); ++it) m = feature_step(*it, std::move(m), embed_num);
        if (m.rows != 1 || m.cols != K) throw Error("internal error: the head left " + std::to_string(m.rows) + " x " +
                                                    std::to_string(m.cols) + " logits");
        // Computed in float64, written as float32: a logit beyond float32's range would be stored
        // as infinity.
        for (double v : m.v)
            if (!(std::fabs(v) <= std::numeric_limits<float>::max()))
                throw Error("window " + std::to_string(w) + ": the head's logits are not finite in float32 (the "
                            "input or the head's weights overflow)");
        float* lw = logits + static_cast<size_t>(w) * static_cast<size_t>(K);
        float* pw = probabilities + static_cast<size_t>(w) * static_cast<size_t>(K);
        for (int k = 0; k < K; ++k) lw[k] = static_cast<float>(m.v[static_cast<size_t>(k)]);
        if (head.output == HeadOutput::sigmoid) {
            pw[0] = static_cast<float>(1.0 / (1.0 + std::exp(-m.v[0])));
            continue;
        }
        const double top = *std::max_element(m.v.begin(), m.v.end());
        double sum = 0;
        for (double v : m.v) sum += std::exp(v - top);
        for (int k = 0; k < K; ++k) pw[k] = static_cast<float>(std::exp(m.v[static_cast<size_t>(k)] - top) / sum);
    }
}

HeadPrediction predict_windows(const Head& head, const HeadPlan& plan, Encoder& encoder, const float* x, int windows,
                               const std::vector<std::string>& labels, int samples) {
    const auto& inputs = head.input_labels;
    std::string all;
    for (const auto& l : inputs) all += (all.empty() ? "" : " ") + l;
    if (labels.size() != inputs.size())
        throw Error("x has " + std::to_string(labels.size()) + " channels; the head takes " +
                    std::to_string(inputs.size()) + " inputs (" + all + ")");
    for (size_t c = 0; c < inputs.size(); ++c)
        if (model_input_key(labels[c]) != model_input_key(inputs[c]))
            throw Error("channel " + std::to_string(c) + " is '" + labels[c] + "', the head's input " + std::to_string(c) +
                        " is '" + inputs[c] + "' (the head takes " + all + ", in that order)");
    if (samples != head.window_samples)
        throw Error("windows of " + std::to_string(samples) + " samples; the head takes " +
                    std::to_string(head.window_samples));
    if (windows < 1) throw Error("x holds no window");
    std::vector<float> prepared;
    if (!head.signal_is_identity()) {
        head_signal(head, x, windows, prepared);
        x = prepared.data();
    }
    HeadPrediction p;
    p.features.resize(encoder.output_size(windows, plan.encoder_samples));
    encoder.encode(x, windows, static_cast<int>(plan.encoder_ids.size()), plan.encoder_samples, plan.encoder_ids.data(),
                   p.features.data());
    check_features_finite(p.features.data(), p.features.size(), encoder.output_size(1, plan.encoder_samples));
    p.logits.resize(static_cast<size_t>(windows) * static_cast<size_t>(head.outputs()));
    p.probabilities.resize(p.logits.size());
    const ModelConfig& c = encoder.config();
    head_outputs(head, p.features.data(), windows, plan.patches, c.embed_num, c.embed_dim, p.logits.data(),
                 p.probabilities.data());
    return p;
}

int predicted_class(const Head& head, const float* probabilities) {
    if (head.output == HeadOutput::sigmoid) return probabilities[0] >= 0.5f ? 1 : 0;
    return static_cast<int>(std::max_element(probabilities, probabilities + head.outputs()) - probabilities);
}

}  // namespace eegpt
