#include "encoder/cpu/encoder_cpu.h"

#include <omp.h>

#include <algorithm>

#include "encoder/cpu/ops.h"
#include "encoder/error.h"

namespace eegpt {

CpuEncoder::CpuEncoder(std::shared_ptr<const ModelWeights> weights, int threads, const cpu::Ops& ops,
                       Precision precision)
    : ops_(ops),
      bf16_(precision == Precision::bf16),
      storage_(std::move(weights)),
      w_(bind_encoder_weights(*storage_)),
      config_(w_.config),
      threads_(threads > 0 ? threads : omp_get_num_procs()) {
    if (precision == Precision::tf32) throw Error("precision tf32 is not available on the cpu device (use fp32 or bf16)");
    if (bf16_ && !ops_.bf16_tile)
        throw Error("precision bf16 needs the " + cpu::to_string(ops_.isa) + " CPU operations' bf16 kernel");
    const int D = config_.embed_dim;
    for (const BlockWeights& b : w_.blocks) {
        PackedBlock g;
        if (&b != &w_.blocks.back()) {
            g.qkv = pack_linear(b.qkv.weight, b.qkv.bias, 3 * D, D);
        } else {  // the last block multiplies queries (rows 0..D) and keys/values (rows D..3D) apart
            g.q = pack_linear(b.qkv.weight, b.qkv.bias, D, D);
            g.kv = pack_linear(b.qkv.weight + static_cast<size_t>(D) * D, b.qkv.bias ? b.qkv.bias + D : nullptr, 2 * D, D);
        }
        g.proj = pack_linear(b.proj.weight, b.proj.bias, D, D);
        g.fc1 = pack_linear(b.fc1.weight, b.fc1.bias, b.fc1.out, D);
        g.fc2 = pack_linear(b.fc2.weight, b.fc2.bias, D, b.fc2.in);
        packed_.push_back(std::move(g));
    }
    workspaces_.resize(static_cast<size_t>(threads_));
}

CpuEncoder::PackedLinear CpuEncoder::pack_linear(const float* weight, const float* bias, int out, int in) const {
    PackedLinear layer{bias, {}, {}};
    if (bf16_)
        layer.bf16 = cpu::pack_bf16(weight, out, in);
    else
        layer.fp32 = cpu::pack_weights(weight, out, in, ops_.gemm_nr);
    return layer;
}

void CpuEncoder::linear(const float* x, int x_stride, int rows, const PackedLinear& layer, float* y, int y_stride,
                        bool accumulate, Workspace& ws) const {
    if (bf16_)
        cpu::linear_bf16(ops_.bf16_tile, x, x_stride, rows, layer.bf16, layer.bias, y, y_stride, accumulate,
                         ws.bf16.data());
    else
        ops_.linear_packed(x, x_stride, rows, layer.fp32, layer.bias, y, y_stride, accumulate, ws.gemm.data());
}

int CpuEncoder::seqs_per_pass(int tokens) const { return std::max(1, kRowsPerPass / tokens); }

void CpuEncoder::reserve(Workspace& ws, int seqs, int tokens) const {
    const size_t D = config_.embed_dim, H = config_.mlp_hidden, E = config_.embed_num;
    const size_t rows = static_cast<size_t>(seqs) * tokens, srows = static_cast<size_t>(seqs) * E;
    auto grow = [](Buffer& v, size_t n) {
        if (v.size() < n) v.resize(n);
    };
    grow(ws.x, rows * D);
    grow(ws.h, rows * D);
    grow(ws.qkv, rows * 3 * D);
    grow(ws.attn, rows * D);
    grow(ws.mlp, rows * H);
    grow(ws.scores, static_cast<size_t>(tokens) * tokens);
    grow(ws.sx, srows * D);
    grow(ws.sh, srows * D);
    grow(ws.sq, srows * D);
    grow(ws.sattn, srows * D);
    grow(ws.smlp, srows * H);
    if (bf16_) {
        const size_t words = cpu::bf16_scratch_words(std::max(config_.embed_dim, config_.mlp_hidden));
        if (ws.bf16.size() < words) ws.bf16.resize(words);
    } else {
        grow(ws.gemm, ops_.gemm_scratch);
    }
}

void CpuEncoder::encode(const float* x, int batch, int channels, int samples, const int* channel_ids, float* out) {
    check_encode_arguments(config_, batch, channels, samples, channel_ids);
    const int tokens = channels + config_.embed_num;
    const int per_pass = seqs_per_pass(tokens);
    const int total_seqs = batch * config_.patches(samples);
    const int nthreads = std::min(threads_, total_seqs);
    // A pass never holds more sequences than its thread's share: one window needs small workspaces.
    const int largest_pass = std::min(per_pass, (total_seqs + nthreads - 1) / nthreads);
    for (int t = 0; t < nthreads; ++t) reserve(workspaces_[static_cast<size_t>(t)], largest_pass, tokens);

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
    ops_.patch_embed(pass.x, pass.channel_ids, w_.patch.weight, w_.patch.bias, w_.channel_embedding, w_.summary_tokens,
                     ws.x.data(), pass.channels, pass.samples, config_.patch_size, config_.patch_stride, config_.embed_dim,
                     config_.embed_num, pass.seq_begin, pass.seq_count);
}

void CpuEncoder::full_block(const BlockWeights& blk, const PackedBlock& g, int seqs, int tokens, Workspace& ws) const {
    const int D = config_.embed_dim, H = config_.mlp_hidden, rows = seqs * tokens;
    const float eps = static_cast<float>(config_.layernorm_eps);
    ops_.layernorm(ws.x.data(), blk.norm1.weight, blk.norm1.bias, ws.h.data(), rows, D, eps);
    linear(ws.h.data(), D, rows, g.qkv, ws.qkv.data(), 3 * D, false, ws);
    const float* qkv = ws.qkv.data();
    ops_.attention(qkv, 3 * D, tokens, qkv + D, qkv + 2 * D, 3 * D, tokens, seqs, config_.num_heads,
                   config_.head_dim(), ws.attn.data(), D, ws.scores.data());
    linear(ws.attn.data(), D, rows, g.proj, ws.x.data(), D, true, ws);
    ops_.layernorm(ws.x.data(), blk.norm2.weight, blk.norm2.bias, ws.h.data(), rows, D, eps);
    linear(ws.h.data(), D, rows, g.fc1, ws.mlp.data(), H, false, ws);
    ops_.bias_gelu(ws.mlp.data(), nullptr, ws.mlp.data(), static_cast<size_t>(rows) * H, H);
    linear(ws.mlp.data(), H, rows, g.fc2, ws.x.data(), D, true, ws);
}

// Only the E summary rows of each sequence are read after the last block, so it needs keys and
// values for every token but queries, attention output, projection, LN2 and MLP for the summary
// rows alone (ARCHITECTURE.md). Leaves the summary rows, block output, in ws.sx.
void CpuEncoder::last_block(const BlockWeights& blk, const PackedBlock& g, int seqs, int tokens, Workspace& ws) const {
    const int D = config_.embed_dim, H = config_.mlp_hidden, E = config_.embed_num, C = tokens - E;
    const int rows = seqs * tokens, srows = seqs * E;
    const float eps = static_cast<float>(config_.layernorm_eps);
    ops_.layernorm(ws.x.data(), blk.norm1.weight, blk.norm1.bias, ws.h.data(), rows, D, eps);
    // Keys and values: rows D..3D of the qkv weight, for all tokens, packed (rows x 2D).
    linear(ws.h.data(), D, rows, g.kv, ws.qkv.data(), 2 * D, false, ws);
    ops_.gather_rows(ws.x.data(), ws.sx.data(), seqs, tokens, C, E, D);
    ops_.gather_rows(ws.h.data(), ws.sh.data(), seqs, tokens, C, E, D);
    linear(ws.sh.data(), D, srows, g.q, ws.sq.data(), D, false, ws);
    const float* kv = ws.qkv.data();
    ops_.attention(ws.sq.data(), D, E, kv, kv + D, 2 * D, tokens, seqs, config_.num_heads, config_.head_dim(),
                   ws.sattn.data(), D, ws.scores.data());
    linear(ws.sattn.data(), D, srows, g.proj, ws.sx.data(), D, true, ws);
    ops_.layernorm(ws.sx.data(), blk.norm2.weight, blk.norm2.bias, ws.sh.data(), srows, D, eps);
    linear(ws.sh.data(), D, srows, g.fc1, ws.smlp.data(), H, false, ws);
    ops_.bias_gelu(ws.smlp.data(), nullptr, ws.smlp.data(), static_cast<size_t>(srows) * H, H);
    linear(ws.smlp.data(), H, srows, g.fc2, ws.sx.data(), D, true, ws);
}

void CpuEncoder::run_pass(const Pass& pass, Workspace& ws) const {
    const int tokens = pass.channels + config_.embed_num;
    embed_patches(pass, ws);
    for (size_t i = 0; i + 1 < w_.blocks.size(); ++i) full_block(w_.blocks[i], packed_[i], pass.seq_count, tokens, ws);
    last_block(w_.blocks.back(), packed_.back(), pass.seq_count, tokens, ws);
    // Sequence q's summary rows are output rows q*E .. q*E+E-1: (B, N, E, D) order.
    const size_t D = config_.embed_dim, E = config_.embed_num;
    ops_.layernorm(ws.sx.data(), w_.norm.weight, w_.norm.bias, pass.out + static_cast<size_t>(pass.seq_begin) * E * D,
                   pass.seq_count * config_.embed_num, config_.embed_dim, static_cast<float>(config_.layernorm_eps));
}

}  // namespace eegpt
