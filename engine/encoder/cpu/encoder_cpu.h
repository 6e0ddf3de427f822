// CPU backend: fp32, Eigen GEMMs, both cores busy.
//
// Every EEGPT sequence (one time patch of one window: C channel tokens + E summary tokens) is
// independent of every other, so threads split the sequences and each runs the whole encoder on
// its share with single-threaded GEMMs: no synchronisation between layers, no oversubscription.
// A thread works through its share in passes of at most ~kRowsPerPass tokens so that the
// workspace (sized once per channel count, never per call) stays small whatever the batch.
#pragma once
#include <Eigen/Core>
#include <memory>
#include <vector>

#include "encoder/encoder.h"

namespace eegpt {

class CpuEncoder final : public Encoder {
public:
    // Keeps `weights` (shared, not copied) and works on the typed view bound from it.
    CpuEncoder(std::shared_ptr<const ModelWeights> weights, int threads);
    void encode(const float* x, int batch, int channels, int samples, const int* channel_ids, float* out) override;
    const ModelConfig& config() const override { return config_; }
    Device device() const override { return Device::cpu; }
    Precision precision() const override { return Precision::fp32; }
    int threads() const { return threads_; }

    static constexpr int kRowsPerPass = 1024;

private:
    // Aligned so that Eigen's vectorised loops peel the same way on every call: with arbitrary
    // heap alignment, two runs on the same input could differ in the last bit.
    using Buffer = std::vector<float, Eigen::aligned_allocator<float>>;
    struct Workspace {
        Buffer x, h, qkv, attn, mlp, scores;  // all tokens of a pass
        Buffer sx, sh, sq, sattn, smlp;       // summary rows only (last block)
    };
    struct Pass {  // one group of sequences handled together by one thread
        const float* x;
        int channels, samples, seq_begin, seq_count;
        const int* channel_ids;
        float* out;
    };

    void run_pass(const Pass& pass, Workspace& ws) const;
    void embed_patches(const Pass& pass, Workspace& ws) const;
    void full_block(const BlockWeights& blk, int seqs, int tokens, Workspace& ws) const;
    void last_block(const BlockWeights& blk, int seqs, int tokens, Workspace& ws) const;
    void reserve(Workspace& ws, int seqs, int tokens) const;
    int seqs_per_pass(int tokens) const;

    std::shared_ptr<const ModelWeights> storage_;  // what w_ points into
    EncoderWeights w_;
    const ModelConfig& config_;
    int threads_;
    std::vector<Workspace> workspaces_;  // one per thread
};

}  // namespace eegpt
