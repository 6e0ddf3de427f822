// A deliberately naive float64 EEGPT encoder for tests: plain loops straight from the forward
// pass of docs/architecture.md, no last-block saving, no batching tricks. Slow; use small configs.
#pragma once
#include <cmath>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "encoder/model/weights.h"
#include "parity.h"
#include "test_helpers.h"

namespace eegpt_test {

inline std::vector<double> reference_encode(const eegpt::EncoderWeights& w, const std::vector<float>& x, int B, int C,
                                            int T, const std::vector<int>& ids) {
    const auto& c = w.config;
    const int D = c.embed_dim, E = c.embed_num, P = c.patch_size, N = (T - P) / c.patch_stride + 1, S = C + E,
              Hd = c.mlp_hidden;
    const int heads = c.num_heads, hd = D / heads;
    auto linear = [](const std::vector<double>& in, int rows, int k, const float* wt, const float* b, int out) {
        std::vector<double> y(static_cast<size_t>(rows) * out);
        for (int r = 0; r < rows; ++r)
            for (int o = 0; o < out; ++o) {
                double acc = b ? b[o] : 0.0;
                for (int i = 0; i < k; ++i) acc += in[static_cast<size_t>(r) * k + i] * wt[static_cast<size_t>(o) * k + i];
                y[static_cast<size_t>(r) * out + o] = acc;
            }
        return y;
    };
    auto layer_norm = [&](const std::vector<double>& in, int rows, const float* g, const float* b) {
        std::vector<double> y(in.size());
        for (int r = 0; r < rows; ++r) {
            double mean = 0, var = 0;
            for (int d = 0; d < D; ++d) mean += in[static_cast<size_t>(r) * D + d];
            mean /= D;
            for (int d = 0; d < D; ++d) var += std::pow(in[static_cast<size_t>(r) * D + d] - mean, 2);
            var /= D;
            for (int d = 0; d < D; ++d)
                y[static_cast<size_t>(r) * D + d] =
                    (in[static_cast<size_t>(r) * D + d] - mean) / std::sqrt(var + c.layernorm_eps) * g[d] + b[d];
        }
        return y;
    };
    std::vector<double> out(static_cast<size_t>(B) * N * E * D);
    for (int b = 0; b < B; ++b)
        for (int n = 0; n < N; ++n) {
            std::vector<double> h(static_cast<size_t>(S) * D);
            for (int ch = 0; ch < C; ++ch)
                for (int d = 0; d < D; ++d) {
                    double acc = w.patch.bias[d];
                    for (int p = 0; p < P; ++p)
                        acc += x[(static_cast<size_t>(b) * C + ch) * T + static_cast<size_t>(n) * c.patch_stride + p] *
                               w.patch.weight[d * P + p];
                    h[static_cast<size_t>(ch) * D + d] = acc + w.channel_embedding[ids[static_cast<size_t>(ch)] * D + d];
                }
            for (int e = 0; e < E; ++e)
                for (int d = 0; d < D; ++d) h[static_cast<size_t>(C + e) * D + d] = w.summary_tokens[e * D + d];
            for (const eegpt::BlockWeights& blk : w.blocks) {
                auto qkv = linear(layer_norm(h, S, blk.norm1.weight, blk.norm1.bias), S, D, blk.qkv.weight, blk.qkv.bias,
                                  3 * D);
                std::vector<double> att(static_cast<size_t>(S) * D);
                for (int hh = 0; hh < heads; ++hh)
                    for (int qi = 0; qi < S; ++qi) {
                        std::vector<double> s(static_cast<size_t>(S));
                        double mx = -1e300, sum = 0;
                        for (int ki = 0; ki < S; ++ki) {
                            double dot = 0;
                            for (int j = 0; j < hd; ++j)
                                dot += qkv[static_cast<size_t>(qi) * 3 * D + hh * hd + j] *
                                       qkv[static_cast<size_t>(ki) * 3 * D + D + hh * hd + j];
                            s[static_cast<size_t>(ki)] = dot / std::sqrt(static_cast<double>(hd));
                            mx = std::max(mx, s[static_cast<size_t>(ki)]);
                        }
                        for (auto& v : s) sum += (v = std::exp(v - mx));
                        for (int j = 0; j < hd; ++j) {
                            double acc = 0;
                            for (int ki = 0; ki < S; ++ki)
                                acc += s[static_cast<size_t>(ki)] / sum * qkv[static_cast<size_t>(ki) * 3 * D + 2 * D + hh * hd + j];
                            att[static_cast<size_t>(qi) * D + hh * hd + j] = acc;
                        }
                    }
                auto proj = linear(att, S, D, blk.proj.weight, blk.proj.bias, D);
                for (size_t k = 0; k < h.size(); ++k) h[k] += proj[k];
                auto m = linear(layer_norm(h, S, blk.norm2.weight, blk.norm2.bias), S, D, blk.fc1.weight, blk.fc1.bias, Hd);
                for (auto& v : m) v = 0.5 * v * (1.0 + std::erf(v / std::sqrt(2.0)));
                auto f = linear(m, S, Hd, blk.fc2.weight, blk.fc2.bias, D);
                for (size_t k = 0; k < h.size(); ++k) h[k] += f[k];
            }
            auto fin = layer_norm(h, S, w.norm.weight, w.norm.bias);
            for (int e = 0; e < E; ++e)
                for (int d = 0; d < D; ++d)
                    out[((static_cast<size_t>(b) * N + n) * E + e) * D + d] = fin[static_cast<size_t>(C + e) * D + d];
        }
    return out;
}

// ||a - b|| / ||b||, the relative error used by every parity test.
template <typename A, typename B>
double relative_error(const A& a, const B& b) {
    double num = 0, den = 0;
    for (size_t i = 0; i < b.size(); ++i) {
        num += std::pow(static_cast<double>(a[i]) - static_cast<double>(b[i]), 2);
        den += std::pow(static_cast<double>(b[i]), 2);
    }
    return std::sqrt(num / den);
}

// The small models the reduced-precision CPU paths (bf16, int8) are checked on against
// reference_encode through their emulated kernels: 19, 7 and 58 channels, embed_dim 64 and 128.
struct SmallModelCase {
    eegpt::ModelConfig config;
    int batch, channels, samples;
};
inline std::vector<SmallModelCase> small_model_cases() {
    eegpt::ModelConfig head64 = eegpt::named_config("tiny2");
    head64.embed_dim = 128;
    head64.num_heads = 2;
    head64.mlp_hidden = 512;
    return {{eegpt::named_config("tiny2"), 3, 19, 512}, {head64, 2, 7, 256}, {eegpt::named_config("tiny3"), 1, 58, 128}};
}
inline std::shared_ptr<const eegpt::ModelWeights> small_model_weights(const SmallModelCase& c) {
    return std::make_shared<const eegpt::ModelWeights>(eegpt::random_weights(c.config, 5));
}

// One case's random windows through `encoder` (built on `weights`) and through reference_encode:
// the windows and ids, the encoder's output, its relative error and smallest window cosine, printed
// after `label`.
struct ReferenceRun {
    std::vector<float> x, got;
    std::vector<int> ids;
    double relative, min_cosine;
};
inline ReferenceRun run_against_reference(eegpt::Encoder& encoder, const eegpt::ModelWeights& weights,
                                          const SmallModelCase& c, const std::string& label) {
    ReferenceRun run;
    run.x = randn(static_cast<size_t>(c.batch) * c.channels * c.samples, 80, 0.0f, 0.05f);
    run.ids = first_ids(c.channels, 4);
    run.got = encode_with(encoder, run.x, c.batch, c.channels, c.samples, run.ids);
    const auto expected = reference_encode(bind_encoder_weights(weights), run.x, c.batch, c.channels, c.samples, run.ids);
    run.relative = relative_error(run.got, expected);
    run.min_cosine = min_window_cosine(run.got, expected, c.batch);
    std::printf("%s: dim %d, %d channels, batch %d: relative error %.3g, min window cosine %.6f\n", label.c_str(),
                c.config.embed_dim, c.channels, c.batch, run.relative, run.min_cosine);
    return run;
}

}  // namespace eegpt_test
