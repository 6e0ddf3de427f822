// CPU backend: fp32 GEMMs on weights packed at load (cpu/gemm.h), bf16 ones (cpu/bf16.h) or int8
// ones (cpu/int8.h), both cores busy.
//
// Every EEGPT sequence (one time patch of one window: C channel tokens + E summary tokens) is
// independent of every other, so threads split the sequences and each runs the whole encoder on
// its share with single-threaded GEMMs: no synchronisation between layers, no oversubscription.
// A thread works through its share in passes of at most ~kRowsPerPass tokens (int8:
// kInt8RowsPerPass) so that the workspace (sized once per channel count, never per call) stays
// small whatever the batch.
#pragma once
#include <cstdlib>
#include <functional>
#include <memory>
#include <new>
#include <vector>

#include "encoder/cpu/bf16.h"
#include "encoder/cpu/int8.h"
#include "encoder/cpu/ops.h"
#include "encoder/encoder.h"

namespace eegpt {

class CpuEncoder final : public Encoder {
public:
    // Keeps `weights` (shared, not copied) and works on the typed view bound from it, with the
    // operations of one ISA level (cpu/ops.h; kept by reference). bf16: the GEMM weights are packed
    // once (cpu/bf16.h) and multiplied with ops.bf16_tile, which must exist; everything else fp32.
    // int8: the four linear layers of every block (qkv, proj, fc1, fc2) quantized once (cpu/int8.h)
    // and multiplied with int8_kernel (cpu::int8_tile(ops) when its tile is null); everything else fp32.
    // int8_layer(block, "qkv" | "proj" | "fc1" | "fc2"), when given, says which of those layers are
    // int8 (the others stay fp32): what the per-layer fidelity figures are measured with.
    using LayerFilter = std::function<bool(int block, const char* layer)>;
    CpuEncoder(std::shared_ptr<const ModelWeights> weights, int threads, const cpu::Ops& ops, Precision precision,
               cpu::Int8Kernel int8_kernel = {}, const LayerFilter& int8_layer = {});
    void encode(const float* x, int batch, int channels, int samples, const int* channel_ids, float* out) override;
    const ModelConfig& config() const override { return config_; }
    Device device() const override { return Device::cpu; }
    Precision precision() const override { return precision_; }
    std::string isa() const override { return cpu::to_string(ops_.isa); }
    std::string int8_kernel() const override;
    int threads() const { return threads_; }

    static constexpr int kRowsPerPass = 1024;
    // int8 reuses a weight panel over one block of at most 192 rows (cpu/int8.cpp), so longer passes
    // gain little there, and short ones keep a pass's activations near the core (its MLP's hidden
    // rows: 1.5 MB at 192 rows, mostly in a 1 MB L2): batch 32 measured 2-4% faster per window than
    // with kRowsPerPass. 96-row passes (0.75 MB, all in L2) measured 2-3% slower on a Zen 4: twice
    // the passes, and a part-full tile in each.
    static constexpr int kInt8RowsPerPass = 192;

private:
    // 64-byte aligned so that vectorised loops peel the same way on every call: with arbitrary
    // heap alignment, two runs on the same input could differ in the last bit.
    template <typename T>
    struct Aligned64 {
        using value_type = T;
        Aligned64() = default;
        template <typename U>
        Aligned64(const Aligned64<U>&) {}
        T* allocate(size_t n) {
            void* p = std::aligned_alloc(64, (n * sizeof(T) + 63) / 64 * 64);
            if (!p) throw std::bad_alloc();
            return static_cast<T*>(p);
        }
        void deallocate(T* p, size_t) { std::free(p); }
        bool operator==(const Aligned64&) const { return true; }
        bool operator!=(const Aligned64&) const { return false; }
    };
    using Buffer = std::vector<float, Aligned64<float>>;
    struct Workspace {
        // One row per token of the pass:
        Buffer residual;  // the residual stream: each block's input and output
        Buffer normed;    // LayerNorm of the residual stream (norm1, then norm2)
        Buffer qkv;       // queries, keys and values side by side (the last block: keys and values)
        Buffer attended;  // attention output, before the projection
        Buffer hidden;    // the MLP's hidden layer (mlp_hidden wide)
        // One row per summary token, the only rows the last block computes past its keys and values:
        Buffer summary_residual, summary_normed, summary_queries, summary_attended, summary_hidden;
        Buffer scores;                     // attention's scratch: one head of one sequence
        Buffer gemm_block;                 // the fp32 GEMM's block of x in tiles (ops.gemm_scratch)
        std::vector<uint32_t> bf16_block;  // the bf16 GEMM's block of x as bf16 pairs (bf16_scratch_words)
        std::vector<uint32_t> int8_block;  // the int8 GEMM's block of x, quantized (int8_scratch_words)
    };
    struct Pass {  // one group of sequences handled together by one thread
        const float* x;
        int channels, samples, seq_begin, seq_count;
        const int* channel_ids;
        float* out;
    };

    // One linear layer: its weights packed once for the precision's kernel (cpu/gemm.h for fp32,
    // cpu/bf16.h for bf16, cpu/int8.h for int8, fp32 for an int8 layer int8_layer kept); the bias is
    // a view into storage_.
    struct PackedLinear {
        const float* bias = nullptr;
        Precision precision = Precision::fp32;
        cpu::PackedWeights fp32;
        cpu::Bf16Matrix bf16;
        cpu::Int8Matrix int8;
    };
    struct PackedBlock {  // qkv in full blocks; q and kv (its rows, apart) in the last
        PackedLinear qkv, q, kv, proj, fc1, fc2;
    };
    PackedLinear pack_linear(const float* weight, const float* bias, int out, int in, bool int8) const;
    void linear(const float* x, int x_stride, int rows, const PackedLinear& layer, float* y, int y_stride,
                bool accumulate, Workspace& ws) const;
    void run_pass(const Pass& pass, Workspace& ws) const;
    void embed_patches(const Pass& pass, Workspace& ws) const;
    void full_block(const BlockWeights& blk, const PackedBlock& layers, int seqs, int tokens, Workspace& ws) const;
    void last_block(const BlockWeights& blk, const PackedBlock& layers, int seqs, int tokens, Workspace& ws) const;
    void reserve(Workspace& ws, int seqs, int tokens) const;
    int seqs_per_pass(int tokens) const;

    const cpu::Ops& ops_;
    Precision precision_;
    cpu::Int8Kernel int8_kernel_;
    std::shared_ptr<const ModelWeights> storage_;  // what w_ points into
    EncoderWeights w_;
    std::vector<PackedBlock> packed_;
    const ModelConfig& config_;
    int threads_;
    std::vector<Workspace> workspaces_;  // one per thread
};

}  // namespace eegpt
