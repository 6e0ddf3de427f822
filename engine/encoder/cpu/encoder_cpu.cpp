#include "encoder/cpu/encoder_cpu.h"

#include <omp.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <exception>
#include <system_error>
#include <thread>

#include "encoder/cpu/ops.h"
#include "encoder/error.h"

namespace eegpt {
namespace {

// libgomp's threads do not survive fork(): a parallel region in a forked child of a process that
// ran one hangs for ever (multiprocessing's default 'fork' start method). The first process to run
// a parallel region owns OpenMP; in any other process the encoder computes on the calling thread
// alone, to the same numbers (windows and their sequences are independent).
std::atomic<pid_t> openmp_owner{0};

bool openmp_usable() {
    const pid_t self = getpid();
    pid_t owner = 0;
    return openmp_owner.compare_exchange_strong(owner, self) || owner == self;
}

}  // namespace

CpuEncoder::CpuEncoder(std::shared_ptr<const ModelWeights> weights, int threads, const cpu::Ops& ops,
                       Precision precision, cpu::Int8Kernel int8_kernel, const LayerFilter& int8_layer)
    : ops_(ops),
      precision_(precision),
      int8_kernel_(int8_kernel.tile ? int8_kernel : cpu::int8_tile(ops)),
      storage_(std::move(weights)),
      w_(bind_encoder_weights(*storage_)),
      config_(w_.config),
      threads_(threads > 0 ? threads : omp_get_num_procs()) {
    if (precision == Precision::tf32)
        throw Error("precision tf32 is not available on the cpu device (use fp32, bf16 or int8)");
    if (precision == Precision::bf16 && !ops_.bf16_tile)
        throw Error("precision bf16 needs the " + cpu::to_string(ops_.isa) + " CPU operations' bf16 kernel");
    const int D = config_.embed_dim;
    struct PackJob {
        PackedLinear* layer;
        const float *weight, *bias;
        int out, in;
        bool int8;
    };
    std::vector<PackJob> jobs;
    packed_.resize(w_.blocks.size());
    for (size_t index = 0; index < w_.blocks.size(); ++index) {
        const BlockWeights& b = w_.blocks[index];
        PackedBlock& layers = packed_[index];
        auto add = [&](PackedLinear& layer, const float* weight, const float* bias, int out, int in, const char* name) {
            const bool int8 = precision == Precision::int8 && (!int8_layer || int8_layer(static_cast<int>(index), name));
            jobs.push_back({&layer, weight, bias, out, in, int8});
        };
        if (index + 1 < w_.blocks.size()) {
            add(layers.qkv, b.qkv.weight, b.qkv.bias, 3 * D, D, "qkv");
        } else {  // the last block multiplies queries (rows 0..D) and keys/values (rows D..3D) apart
            add(layers.q, b.qkv.weight, b.qkv.bias, D, D, "qkv");
            add(layers.kv, b.qkv.weight + static_cast<size_t>(D) * D, b.qkv.bias ? b.qkv.bias + D : nullptr, 2 * D, D,
                "qkv");
        }
        add(layers.proj, b.proj.weight, b.proj.bias, D, D, "proj");
        add(layers.fc1, b.fc1.weight, b.fc1.bias, b.fc1.out, D, "fc1");
        add(layers.fc2, b.fc2.weight, b.fc2.bias, D, b.fc2.in, "fc2");
    }
    // The layers are packed independently, on the encoder's threads: int8's bounded rounding
    // (cpu/int8.h) makes packing a noticeable part of loading. std::thread rather than OpenMP, so
    // that constructing an encoder leaves no thread pool for a fork() to break (openmp_usable,
    // above); where no thread can be started, the calling thread packs them all.
    std::atomic<size_t> next{0};
    std::vector<std::exception_ptr> failures(static_cast<size_t>(threads_));
    auto work = [&](size_t t) {
        try {
            for (size_t j; (j = next.fetch_add(1)) < jobs.size();) {
                const PackJob& job = jobs[j];
                *job.layer = pack_linear(job.weight, job.bias, job.out, job.in, job.int8);
            }
        } catch (...) {
            failures[t] = std::current_exception();
            next = jobs.size();
        }
    };
    const int packers = std::min<int>(threads_, static_cast<int>(jobs.size()));
    std::vector<std::thread> helpers;
    helpers.reserve(static_cast<size_t>(std::max(0, packers - 1)));  // so that emplace_back cannot throw past a thread
    for (int t = 1; t < packers; ++t) {
        try {
            helpers.emplace_back(work, static_cast<size_t>(t));
        } catch (const std::system_error&) {
            break;  // a thread limit: the threads started so far share the layers
        }
    }
    work(0);
    for (std::thread& helper : helpers) helper.join();
    for (const std::exception_ptr& failure : failures)
        if (failure) std::rethrow_exception(failure);
    workspaces_.resize(static_cast<size_t>(threads_));
}

CpuEncoder::PackedLinear CpuEncoder::pack_linear(const float* weight, const float* bias, int out, int in,
                                                 bool int8) const {
    PackedLinear layer;
    layer.bias = bias;
    if (int8) {
        layer.precision = Precision::int8;
        layer.int8 = cpu::pack_int8(weight, out, in, int8_kernel_.max_q, int8_kernel_.tile_pairs != nullptr);
    } else if (precision_ == Precision::bf16) {
        layer.precision = Precision::bf16;
        layer.bf16 = cpu::pack_bf16(weight, out, in);
    } else {
        layer.fp32 = cpu::pack_weights(weight, out, in, ops_.gemm_nr);
    }
    return layer;
}

void CpuEncoder::linear(const float* x, int x_stride, int rows, const PackedLinear& layer, float* y, int y_stride,
                        bool accumulate, Workspace& ws) const {
    if (layer.precision == Precision::int8)
        cpu::linear_int8(int8_kernel_, x, x_stride, rows, layer.int8, layer.bias, y, y_stride, accumulate,
                         ws.int8_block.data());
    else if (layer.precision == Precision::bf16)
        cpu::linear_bf16(ops_.bf16_tile, x, x_stride, rows, layer.bf16, layer.bias, y, y_stride, accumulate,
                         ws.bf16_block.data());
    else
        ops_.linear_packed(x, x_stride, rows, layer.fp32, layer.bias, y, y_stride, accumulate, ws.gemm_block.data());
}

int CpuEncoder::seqs_per_pass(int tokens) const {
    return std::max(1, (precision_ == Precision::int8 ? kInt8RowsPerPass : kRowsPerPass) / tokens);
}

void CpuEncoder::reserve(Workspace& ws, int seqs, int tokens) const {
    const size_t D = config_.embed_dim, H = config_.mlp_hidden, E = config_.embed_num;
    const size_t rows = static_cast<size_t>(seqs) * tokens, srows = static_cast<size_t>(seqs) * E;
    auto grow = [](Buffer& v, size_t n) {
        if (v.size() < n) v.resize(n);
    };
    grow(ws.residual, rows * D);
    grow(ws.normed, rows * D);
    grow(ws.qkv, rows * 3 * D);
    grow(ws.attended, rows * D);
    grow(ws.hidden, rows * H);
    grow(ws.scores, cpu::attention_scratch_floats(tokens, tokens, config_.head_dim()));  // num_q <= tokens
    grow(ws.summary_residual, srows * D);
    grow(ws.summary_normed, srows * D);
    grow(ws.summary_queries, srows * D);
    grow(ws.summary_attended, srows * D);
    grow(ws.summary_hidden, srows * H);
    const int widest = std::max(config_.embed_dim, config_.mlp_hidden);
    if (precision_ == Precision::bf16) {
        const size_t words = cpu::bf16_scratch_words(widest);
        if (ws.bf16_block.size() < words) ws.bf16_block.resize(words);
    } else {
        grow(ws.gemm_block, ops_.gemm_scratch);  // int8 too: layers int8_layer keeps in fp32
    }
    if (precision_ == Precision::int8) {
        // Blocks are shorter for wider inputs (cpu/int8.cpp), so the words are not monotone in K.
        const size_t words =
            std::max(cpu::int8_scratch_words(config_.embed_dim), cpu::int8_scratch_words(config_.mlp_hidden));
        if (ws.int8_block.size() < words) ws.int8_block.resize(words);
    }
}

std::string CpuEncoder::int8_kernel() const {
    if (precision_ != Precision::int8) return "";
    if (int8_kernel_.tile != cpu::int8_tile(ops_).tile)  // one given by the caller (tests: the emulation)
        return "given, " + std::to_string(int8_kernel_.max_q == 63 ? 7 : 8) + "-bit weights";
    // Which panels the pair kernel got (cpu/int8.h): trained weights nearly all, uniform ones none.
    size_t panels = 0, paired = 0;
    for (const PackedBlock& b : packed_)
        for (const PackedLinear* l : {&b.qkv, &b.q, &b.kv, &b.proj, &b.fc1, &b.fc2})
            if (l->precision == Precision::int8) {
                panels += l->int8.pairs.size();
                paired += static_cast<size_t>(std::count(l->int8.pairs.begin(), l->int8.pairs.end(), 1));
            }
    std::string name = cpu::int8_kernel_name(ops_);
    if (int8_kernel_.tile_pairs)
        name += ", pairs summed in 16 bits on " + std::to_string(paired) + " of " + std::to_string(panels) + " panels";
    return name;
}

void CpuEncoder::encode(const float* x, int batch, int channels, int samples, const int* channel_ids, float* out) {
    check_encode_arguments(config_, batch, channels, samples, channel_ids);
    const int tokens = channels + config_.embed_num;
    const int per_pass = seqs_per_pass(tokens);
    const int total_seqs = batch * config_.patches(samples);
    const int nthreads = threads_ > 1 && total_seqs > 1 && openmp_usable() ? std::min(threads_, total_seqs) : 1;
    // A pass never holds more sequences than its thread's share: one window needs small workspaces.
    const int largest_pass = std::min(per_pass, (total_seqs + nthreads - 1) / nthreads);
    for (int t = 0; t < nthreads; ++t) reserve(workspaces_[static_cast<size_t>(t)], largest_pass, tokens);

    auto share = [&](int t) {
        const int begin = static_cast<int>(static_cast<int64_t>(total_seqs) * t / nthreads);
        const int end = static_cast<int>(static_cast<int64_t>(total_seqs) * (t + 1) / nthreads);
        for (int s = begin; s < end; s += per_pass) {
            Pass pass{x, channels, samples, s, std::min(per_pass, end - s), channel_ids, out};
            run_pass(pass, workspaces_[static_cast<size_t>(t)]);
        }
    };
    if (nthreads == 1) {
        share(0);  // no OpenMP call at all: safe after fork
        return;
    }
#pragma omp parallel num_threads(nthreads)
    share(omp_get_thread_num());
}

void CpuEncoder::embed_patches(const Pass& pass, Workspace& ws) const {
    ops_.patch_embed(pass.x, pass.channel_ids, w_.patch.weight, w_.patch.bias, w_.channel_embedding, w_.summary_tokens,
                     ws.residual.data(), pass.channels, pass.samples, config_.patch_size, config_.patch_stride,
                     config_.embed_dim, config_.embed_num, pass.seq_begin, pass.seq_count);
}

void CpuEncoder::full_block(const BlockWeights& blk, const PackedBlock& layers, int seqs, int tokens,
                            Workspace& ws) const {
    const int D = config_.embed_dim, H = config_.mlp_hidden, rows = seqs * tokens;
    const float eps = static_cast<float>(config_.layernorm_eps);
    ops_.layernorm(ws.residual.data(), blk.norm1.weight, blk.norm1.bias, ws.normed.data(), rows, D, eps);
    linear(ws.normed.data(), D, rows, layers.qkv, ws.qkv.data(), 3 * D, false, ws);
    const float* qkv = ws.qkv.data();
    ops_.attention(qkv, 3 * D, tokens, qkv + D, qkv + 2 * D, 3 * D, tokens, seqs, config_.num_heads,
                   config_.head_dim(), ws.attended.data(), D, ws.scores.data());
    linear(ws.attended.data(), D, rows, layers.proj, ws.residual.data(), D, true, ws);
    ops_.layernorm(ws.residual.data(), blk.norm2.weight, blk.norm2.bias, ws.normed.data(), rows, D, eps);
    linear(ws.normed.data(), D, rows, layers.fc1, ws.hidden.data(), H, false, ws);
    ops_.bias_gelu(ws.hidden.data(), nullptr, ws.hidden.data(), static_cast<size_t>(rows) * H, H);
    linear(ws.hidden.data(), H, rows, layers.fc2, ws.residual.data(), D, true, ws);
}

// Only the E summary rows of each sequence are read after the last block, so it needs keys and
// values for every token but queries, attention output, projection, LN2 and MLP for the summary
// rows alone (docs/architecture.md). Leaves the summary rows, block output, in ws.summary_residual.
void CpuEncoder::last_block(const BlockWeights& blk, const PackedBlock& layers, int seqs, int tokens,
                            Workspace& ws) const {
    const int D = config_.embed_dim, H = config_.mlp_hidden, E = config_.embed_num, C = tokens - E;
    const int rows = seqs * tokens, srows = seqs * E;
    const float eps = static_cast<float>(config_.layernorm_eps);
    ops_.layernorm(ws.residual.data(), blk.norm1.weight, blk.norm1.bias, ws.normed.data(), rows, D, eps);
    // Keys and values: rows D..3D of the qkv weight, for all tokens, packed (rows x 2D).
    linear(ws.normed.data(), D, rows, layers.kv, ws.qkv.data(), 2 * D, false, ws);
    ops_.gather_rows(ws.residual.data(), ws.summary_residual.data(), seqs, tokens, C, E, D);
    ops_.gather_rows(ws.normed.data(), ws.summary_normed.data(), seqs, tokens, C, E, D);
    linear(ws.summary_normed.data(), D, srows, layers.q, ws.summary_queries.data(), D, false, ws);
    const float* kv = ws.qkv.data();
    ops_.attention(ws.summary_queries.data(), D, E, kv, kv + D, 2 * D, tokens, seqs, config_.num_heads,
                   config_.head_dim(), ws.summary_attended.data(), D, ws.scores.data());
    linear(ws.summary_attended.data(), D, srows, layers.proj, ws.summary_residual.data(), D, true, ws);
    ops_.layernorm(ws.summary_residual.data(), blk.norm2.weight, blk.norm2.bias, ws.summary_normed.data(), srows, D,
                   eps);
    linear(ws.summary_normed.data(), D, srows, layers.fc1, ws.summary_hidden.data(), H, false, ws);
    ops_.bias_gelu(ws.summary_hidden.data(), nullptr, ws.summary_hidden.data(), static_cast<size_t>(srows) * H, H);
    linear(ws.summary_hidden.data(), H, srows, layers.fc2, ws.summary_residual.data(), D, true, ws);
}

void CpuEncoder::run_pass(const Pass& pass, Workspace& ws) const {
    const int tokens = pass.channels + config_.embed_num;
    embed_patches(pass, ws);
    for (size_t i = 0; i + 1 < w_.blocks.size(); ++i) full_block(w_.blocks[i], packed_[i], pass.seq_count, tokens, ws);
    last_block(w_.blocks.back(), packed_.back(), pass.seq_count, tokens, ws);
    // Sequence q's summary rows are output rows q*E .. q*E+E-1: (B, N, E, D) order.
    const size_t D = config_.embed_dim, E = config_.embed_num;
    ops_.layernorm(ws.summary_residual.data(), w_.norm.weight, w_.norm.bias,
                   pass.out + static_cast<size_t>(pass.seq_begin) * E * D, pass.seq_count * config_.embed_num,
                   config_.embed_dim, static_cast<float>(config_.layernorm_eps));
}

}  // namespace eegpt
