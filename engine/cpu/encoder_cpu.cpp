#include "encoder_cpu.h"

#include <omp.h>

#include <Eigen/Dense>
#include <algorithm>
#include <cmath>
#include <unsupported/Eigen/SpecialFunctions>

#include "../error.h"

namespace eegpt {
namespace {

using RowMat = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using ColMat = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::ColMajor>;
using Stride = Eigen::OuterStride<>;
using RowMap = Eigen::Map<RowMat, 0, Stride>;
using ConstRowMap = Eigen::Map<const RowMat, 0, Stride>;

// y[rows x out] = x[rows x in] W^T + b, with W stored (out x in) as PyTorch does.
// accumulate = true adds the product into y instead (the residual connection).
void linear(const float* x, int x_stride, int rows, int in, const float* w, const float* b, int out, float* y,
            int y_stride, bool accumulate) {
    ConstRowMap X(x, rows, in, Stride(x_stride));
    Eigen::Map<const ColMat> Wt(w, in, out);
    RowMap Y(y, rows, out, Stride(y_stride));
    if (accumulate)
        Y.noalias() += X * Wt;
    else
        Y.noalias() = X * Wt;
    if (b) Y.rowwise() += Eigen::Map<const Eigen::RowVectorXf>(b, out);
}

// Two-pass LayerNorm (mean first, then the variance of the centred values): the one-pass
// E[x^2] - E[x]^2 form loses digits when |mean| >> std, as happens in the residual stream.
void layer_norm(const float* x, int rows, int dim, const float* w, const float* b, float eps, float* y) {
    Eigen::Map<const Eigen::ArrayXf> gamma(w, dim), beta(b, dim);
    for (int r = 0; r < rows; ++r) {
        Eigen::Map<const Eigen::ArrayXf> xr(x + static_cast<size_t>(r) * dim, dim);
        Eigen::Map<Eigen::ArrayXf> yr(y + static_cast<size_t>(r) * dim, dim);
        const float mean = xr.sum() / static_cast<float>(dim);
        const float var = (xr - mean).square().sum() / static_cast<float>(dim);
        const float inv = 1.0f / std::sqrt(var + eps);
        yr = (xr - mean) * inv * gamma + beta;
    }
}

// In-place exact GELU, 0.5 x (1 + erf(x / sqrt 2)), with Eigen's vectorised erf.
void gelu_erf(float* v, size_t n) {
    Eigen::Map<Eigen::ArrayXf> a(v, static_cast<Eigen::Index>(n));
    a = 0.5f * a * (1.0f + (a * 0.70710678118654752f).erf());
}

// Multi-head attention of one sequence: num_q query rows against S key/value rows.
// q/k/v rows have the given strides; head h uses columns [h*hd, (h+1)*hd).
// The 1/sqrt(hd) scale is folded into the softmax exponent.
void attention(const float* q, int q_stride, int num_q, const float* k, const float* v, int kv_stride, int S,
               int heads, int hd, float* out, int out_stride, float* scores) {
    const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
    RowMap P(scores, num_q, S, Stride(S));
    for (int h = 0; h < heads; ++h) {
        ConstRowMap Q(q + h * hd, num_q, hd, Stride(q_stride));
        ConstRowMap K(k + h * hd, S, hd, Stride(kv_stride));
        ConstRowMap V(v + h * hd, S, hd, Stride(kv_stride));
        RowMap O(out + h * hd, num_q, hd, Stride(out_stride));
        P.noalias() = Q * K.transpose();
        for (int i = 0; i < num_q; ++i) {
            auto row = P.row(i).array();
            const float m = row.maxCoeff();
            row = ((row - m) * scale).exp();
            row /= row.sum();
        }
        O.noalias() = P * V;
    }
}

}  // namespace

CpuEncoder::CpuEncoder(const ModelWeights& weights, int threads)
    : weights_(weights), config_(weights.config), threads_(threads > 0 ? threads : omp_get_num_procs()) {
    config_.validate();
    auto t = [&](const std::string& name) { return weights_.at(name).data.data(); };
    for (int i = 0; i < config_.depth; ++i) {
        const std::string p = "blocks." + std::to_string(i) + ".";
        blocks_.push_back({t(p + "norm1.weight"), t(p + "norm1.bias"), t(p + "attn.qkv.weight"),
                           config_.qkv_bias ? t(p + "attn.qkv.bias") : nullptr, t(p + "attn.proj.weight"),
                           t(p + "attn.proj.bias"), t(p + "norm2.weight"), t(p + "norm2.bias"), t(p + "mlp.fc1.weight"),
                           t(p + "mlp.fc1.bias"), t(p + "mlp.fc2.weight"), t(p + "mlp.fc2.bias")});
    }
    workspaces_.resize(static_cast<size_t>(threads_));
}

int CpuEncoder::seqs_per_pass(int tokens) const { return std::max(1, kRowsPerPass / tokens); }

void CpuEncoder::reserve(Workspace& ws, int seqs, int tokens) const {
    const size_t D = config_.embed_dim, H = config_.mlp_hidden, E = config_.embed_num;
    const size_t rows = static_cast<size_t>(seqs) * tokens, srows = static_cast<size_t>(seqs) * E;
    auto grow = [](Buffer& v, size_t n) {
        if (v.size() < n) v.resize(n);
    };
    grow(ws.x, rows * D);
    grow(ws.h, rows * std::max<size_t>(D, config_.patch_size));
    grow(ws.qkv, rows * 3 * D);
    grow(ws.attn, rows * D);
    grow(ws.mlp, rows * H);
    grow(ws.scores, static_cast<size_t>(tokens) * tokens);
    grow(ws.sx, srows * D);
    grow(ws.sh, srows * D);
    grow(ws.sq, srows * D);
    grow(ws.sattn, srows * D);
    grow(ws.smlp, srows * H);
}

void CpuEncoder::encode(const float* x, int batch, int channels, int samples, const int* channel_ids, float* out) {
    check_encode_arguments(config_, batch, channels, samples, channel_ids);
    const int tokens = channels + config_.embed_num;
    const int per_pass = seqs_per_pass(tokens);
    const int total_seqs = batch * (samples / config_.patch_size);
    const int nthreads = std::min(threads_, total_seqs);
    for (int t = 0; t < nthreads; ++t) reserve(workspaces_[static_cast<size_t>(t)], per_pass, tokens);

#pragma omp parallel num_threads(nthreads)
    {
        const int t = omp_get_thread_num();
        const int begin = static_cast<int>(static_cast<int64_t>(total_seqs) * t / nthreads);
        const int end = static_cast<int>(static_cast<int64_t>(total_seqs) * (t + 1) / nthreads);
        for (int s = begin; s < end; s += per_pass) {
            Pass pass{x, channels, samples, s, std::min(per_pass, end - s), channel_ids, out};
            run_pass(pass, workspaces_[static_cast<size_t>(t)]);
        }
    }
}

void CpuEncoder::embed_patches(const Pass& pass, Workspace& ws) const {
    const int D = config_.embed_dim, P = config_.patch_size, E = config_.embed_num, C = pass.channels;
    const int N = pass.samples / P, tokens = C + E;
    // Gather the pass's patches (one row per channel token), project them all in one GEMM into
    // ws.qkv, then lay rows out as sequences in ws.x with the channel embedding added.
    float* patches = ws.h.data();
    for (int s = 0; s < pass.seq_count; ++s) {
        const int seq = pass.seq_begin + s, b = seq / N, n = seq % N;
        for (int c = 0; c < C; ++c) {
            const float* src = pass.x + (static_cast<size_t>(b) * C + c) * pass.samples + static_cast<size_t>(n) * P;
            std::copy(src, src + P, patches + (static_cast<size_t>(s) * C + c) * P);
        }
    }
    float* projected = ws.qkv.data();
    linear(patches, P, pass.seq_count * C, P, weights_.at("patch_embed.proj.weight").data.data(),
           weights_.at("patch_embed.proj.bias").data.data(), D, projected, D, false);
    const float* chan_embed = weights_.at("chan_embed.weight").data.data();
    const float* summary = weights_.at("summary_token").data.data();
    for (int s = 0; s < pass.seq_count; ++s) {
        float* seq_x = ws.x.data() + static_cast<size_t>(s) * tokens * D;
        for (int c = 0; c < C; ++c) {
            const float* src = projected + (static_cast<size_t>(s) * C + c) * D;
            const float* emb = chan_embed + static_cast<size_t>(pass.channel_ids[c]) * D;
            for (int d = 0; d < D; ++d) seq_x[static_cast<size_t>(c) * D + d] = src[d] + emb[d];
        }
        std::copy(summary, summary + static_cast<size_t>(E) * D, seq_x + static_cast<size_t>(C) * D);
    }
}

void CpuEncoder::full_block(const Block& blk, int seqs, int tokens, Workspace& ws) const {
    const int D = config_.embed_dim, H = config_.mlp_hidden, rows = seqs * tokens;
    const float eps = static_cast<float>(config_.layernorm_eps);
    layer_norm(ws.x.data(), rows, D, blk.norm1_w, blk.norm1_b, eps, ws.h.data());
    linear(ws.h.data(), D, rows, D, blk.qkv_w, blk.qkv_b, 3 * D, ws.qkv.data(), 3 * D, false);
    for (int s = 0; s < seqs; ++s) {
        const float* qkv = ws.qkv.data() + static_cast<size_t>(s) * tokens * 3 * D;
        attention(qkv, 3 * D, tokens, qkv + D, qkv + 2 * D, 3 * D, tokens, config_.num_heads, config_.head_dim(),
                  ws.attn.data() + static_cast<size_t>(s) * tokens * D, D, ws.scores.data());
    }
    linear(ws.attn.data(), D, rows, D, blk.proj_w, blk.proj_b, D, ws.x.data(), D, true);
    layer_norm(ws.x.data(), rows, D, blk.norm2_w, blk.norm2_b, eps, ws.h.data());
    linear(ws.h.data(), D, rows, D, blk.fc1_w, blk.fc1_b, H, ws.mlp.data(), H, false);
    gelu_erf(ws.mlp.data(), static_cast<size_t>(rows) * H);
    linear(ws.mlp.data(), H, rows, H, blk.fc2_w, blk.fc2_b, D, ws.x.data(), D, true);
}

// Only the E summary rows of each sequence are read after the last block, so it needs keys and
// values for every token but queries, attention output, projection, LN2 and MLP for the summary
// rows alone (ARCHITECTURE.md). Leaves the summary rows, block output, in ws.sx.
void CpuEncoder::last_block(const Block& blk, int seqs, int tokens, Workspace& ws) const {
    const int D = config_.embed_dim, H = config_.mlp_hidden, E = config_.embed_num, C = tokens - E;
    const int rows = seqs * tokens, srows = seqs * E;
    const float eps = static_cast<float>(config_.layernorm_eps);
    layer_norm(ws.x.data(), rows, D, blk.norm1_w, blk.norm1_b, eps, ws.h.data());
    // Keys and values: rows D..3D of the qkv weight, for all tokens, packed (rows x 2D).
    linear(ws.h.data(), D, rows, D, blk.qkv_w + static_cast<size_t>(D) * D, blk.qkv_b ? blk.qkv_b + D : nullptr,
           2 * D, ws.qkv.data(), 2 * D, false);
    for (int s = 0; s < seqs; ++s) {
        const size_t first = static_cast<size_t>(s) * tokens + C;
        std::copy(ws.x.data() + first * D, ws.x.data() + (first + E) * D, ws.sx.data() + static_cast<size_t>(s) * E * D);
        std::copy(ws.h.data() + first * D, ws.h.data() + (first + E) * D, ws.sh.data() + static_cast<size_t>(s) * E * D);
    }
    linear(ws.sh.data(), D, srows, D, blk.qkv_w, blk.qkv_b, D, ws.sq.data(), D, false);
    for (int s = 0; s < seqs; ++s) {
        const float* kv = ws.qkv.data() + static_cast<size_t>(s) * tokens * 2 * D;
        attention(ws.sq.data() + static_cast<size_t>(s) * E * D, D, E, kv, kv + D, 2 * D, tokens, config_.num_heads,
                  config_.head_dim(), ws.sattn.data() + static_cast<size_t>(s) * E * D, D, ws.scores.data());
    }
    linear(ws.sattn.data(), D, srows, D, blk.proj_w, blk.proj_b, D, ws.sx.data(), D, true);
    layer_norm(ws.sx.data(), srows, D, blk.norm2_w, blk.norm2_b, eps, ws.sh.data());
    linear(ws.sh.data(), D, srows, D, blk.fc1_w, blk.fc1_b, H, ws.smlp.data(), H, false);
    gelu_erf(ws.smlp.data(), static_cast<size_t>(srows) * H);
    linear(ws.smlp.data(), H, srows, H, blk.fc2_w, blk.fc2_b, D, ws.sx.data(), D, true);
}

void CpuEncoder::run_pass(const Pass& pass, Workspace& ws) const {
    const int tokens = pass.channels + config_.embed_num;
    embed_patches(pass, ws);
    for (int i = 0; i + 1 < config_.depth; ++i) full_block(blocks_[static_cast<size_t>(i)], pass.seq_count, tokens, ws);
    last_block(blocks_.back(), pass.seq_count, tokens, ws);
    // Sequence q's summary rows are output rows q*E .. q*E+E-1: (B, N, E, D) order.
    const size_t D = config_.embed_dim, E = config_.embed_num;
    layer_norm(ws.sx.data(), pass.seq_count * config_.embed_num, config_.embed_dim,
               weights_.at("norm.weight").data.data(), weights_.at("norm.bias").data.data(),
               static_cast<float>(config_.layernorm_eps), pass.out + static_cast<size_t>(pass.seq_begin) * E * D);
}

}  // namespace eegpt
