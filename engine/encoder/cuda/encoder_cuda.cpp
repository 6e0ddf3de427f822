// CudaEncoder: the CPU path's function (engine/encoder/cpu/encoder_cpu.cpp), step for step, on one GPU.
//
// Per call, on one stream:
//   x (B, C, T) -> patch_embed -> tokens x: (B * N sequences) x (S = C + E rows) x D, fp32
//   depth - 1 full blocks:  h = LN1(x); wide = h Wqkv^T + b; h = attention(wide); x += h Wp^T + b;
//                           h = LN2(x); wide = h W1^T; wide_in = GELU(wide + b1); x += wide_in W2^T + b2
//   last block:             keys/values for all rows, everything else for the E summary rows only
//   out = LN(summary rows)  -> (B, N, E, D)
// In bf16 mode the GEMM inputs (h, wide_in and the weights) are bf16; the residual stream x, the
// GEMM outputs, the statistics of LayerNorm and softmax and the GELU stay fp32.
#include "encoder/cuda/encoder_cuda.h"

#include <cuda_bf16.h>

#include <algorithm>
#include <climits>
#include <cstdint>
#include <cstring>
#include <vector>

#include "encoder/channels.h"
#include "encoder/error.h"
#include "encoder/cuda/cuda_util.h"
#include "encoder/cuda/cublaslt_linear.h"
#include "kernels/kernels.h"

namespace eegpt {
namespace {

constexpr size_t kAlign = 256;
size_t align_up(size_t n) { return (n + kAlign - 1) / kAlign * kAlign; }

// Host-side image of the weight allocation: each tensor at a 256-byte aligned offset.
class WeightImage {
public:
    size_t add_f32(const float* src, size_t n) {
        const size_t offset = grow(n * sizeof(float));
        std::memcpy(bytes_.data() + offset, src, n * sizeof(float));
        return offset;
    }
    size_t add_bf16(const float* src, size_t n) {
        const size_t offset = grow(n * sizeof(__nv_bfloat16));
        for (size_t i = 0; i < n; ++i) {
            const __nv_bfloat16 v = __float2bfloat16_rn(src[i]);
            std::memcpy(bytes_.data() + offset + i * sizeof v, &v, sizeof v);
        }
        return offset;
    }
    const std::vector<unsigned char>& bytes() const { return bytes_; }

private:
    size_t grow(size_t n) {
        const size_t offset = align_up(bytes_.size());
        bytes_.resize(offset + n);
        return offset;
    }
    std::vector<unsigned char> bytes_;
};

int current_device() {
    int device = 0;
    cuda_check(cudaGetDevice(&device), "cudaGetDevice");
    return device;
}

class CudaEncoder final : public Encoder {
public:
    CudaEncoder(const ModelWeights& weights, Precision precision);
    ~CudaEncoder() override;
    void encode(const float* x, int batch, int channels, int samples, const int* channel_ids, float* out) override;
    const ModelConfig& config() const override { return config_; }
    Device device() const override { return Device::cuda; }
    Precision precision() const override { return precision_; }

private:
    // Byte offsets into the weight allocation, resolved with weight<T>() as the arena's are with
    // at<T>(). GEMM weights are in the GEMM input type, the rest fp32; kNoTensor marks a tensor the
    // model does not have (the qkv bias).
    struct Block {
        size_t qkv_w, kv_w, proj_w, fc1_w, fc2_w;
        size_t norm1_w, norm1_b, qkv_b, kv_b, proj_b, norm2_w, norm2_b, fc1_b, fc2_b;
    };
    struct Weights {
        size_t patch_wt, patch_b, chan_embed, summary, norm_w, norm_b;
        std::vector<Block> blocks;
    };
    static constexpr size_t kNoTensor = SIZE_MAX;
    // Byte offsets into the activation arena for one call's shape. h/sh hold a LayerNorm output or
    // an attention output (GEMM inputs: fp32 or bf16); wide holds qkv, then the fc1 output; wide_in
    // the GELU output (== wide in fp32 mode, where GELU runs in place).
    struct Arena {
        size_t x_in, ids, x, h, wide, wide_in, sx, sh, sq, swide, swide_in, out, total;
    };
    struct Shape {
        int batch, channels, samples, seq_len, seqs, rows, srows;
    };

    Arena layout(const Shape& s) const;
    Shape shape_of(int batch, int channels, int samples) const;
    void reserve(const Shape& s);
    void run(const float* x, const int* channel_ids, float* out, const Shape& s);
    void full_block(const Block& blk, const Shape& s, const Arena& a);
    void last_block(const Block& blk, const Shape& s, const Arena& a);
    void layernorm(const float* x, const float* w, const float* b, void* y, int rows);
    void attention(const float* q, int q_stride, int num_q, const float* k, const float* v, int kv_stride,
                   const Shape& s, void* out);
    void bias_gelu(const float* x, const float* bias, void* y, int rows);
    // Runs the kernel launcher `launch` on y typed as the GEMM input it holds (bf16* in bf16 mode,
    // float* otherwise) and checks its status.
    template <typename Launch>
    void typed_output(void* y, const char* what, Launch launch) const {
        cuda_check(bf16_ ? launch(static_cast<kernels::bf16*>(y)) : launch(static_cast<float*>(y)), what);
    }
    template <typename T>
    T* at(size_t offset) const { return static_cast<T*>(static_cast<void*>(static_cast<char*>(arena_.get()) + offset)); }
    template <typename T = float>
    const T* weight(size_t offset) const {
        if (offset == kNoTensor) return nullptr;
        return static_cast<const T*>(static_cast<const void*>(static_cast<const char*>(weights_.get()) + offset));
    }

    ModelConfig config_;
    Precision precision_;
    bool bf16_;
    float eps_;
    int device_;
    Stream stream_;
    CublasLtLinear cublas_;
    DeviceMemory weights_;
    DeviceMemory arena_;
    Weights w_{};
};

CudaEncoder::CudaEncoder(const ModelWeights& weights, Precision precision)
    : config_(weights.config),
      precision_(precision),
      bf16_(precision == Precision::bf16),
      eps_(static_cast<float>(weights.config.layernorm_eps)),
      device_(current_device()),
      stream_(),
      cublas_(precision, stream_.get()) {
    config_.validate();
    const int D = config_.embed_dim, P = config_.patch_size, hd = config_.head_dim();
    const int max_channels = static_cast<int>(channel_dictionary().size());
    const int max_tokens = max_channels + config_.embed_num;

    // Shared-memory needs of the kernels at the largest shape an encode call can bring.
    if (hd > kernels::kAttentionMaxHeadDim)
        throw Error("CUDA backend: head dim " + std::to_string(hd) + " is above the attention kernel's limit of " +
                    std::to_string(kernels::kAttentionMaxHeadDim));
    int smem_optin = 0;
    cuda_check(cudaDeviceGetAttribute(&smem_optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, device_),
               "cudaDeviceGetAttribute");
    const size_t attention_smem = kernels::attention_smem_bytes(max_tokens, hd);
    if (attention_smem > static_cast<size_t>(smem_optin))
        throw Error("CUDA backend: attention over " + std::to_string(max_tokens) + " tokens with head dim " +
                    std::to_string(hd) + " needs " + std::to_string(attention_smem) +
                    " bytes of shared memory per block; this device allows " + std::to_string(smem_optin));
    if (kernels::patch_embed_smem_bytes(max_channels, P) > kernels::kPatchEmbedMaxSmem)
        throw Error("CUDA backend: patch size " + std::to_string(P) + " is too large for the patch embedding kernel (" +
                    std::to_string(max_channels) + " patches must fit in " +
                    std::to_string(kernels::kPatchEmbedMaxSmem) + " bytes of shared memory)");

    // One image of every tensor the device needs, uploaded with one copy.
    const EncoderWeights model = bind_encoder_weights(weights);
    WeightImage image;
    auto add_gemm_weight = [&](const float* m, size_t n) { return bf16_ ? image.add_bf16(m, n) : image.add_f32(m, n); };
    std::vector<float> patch_wt(static_cast<size_t>(P) * D);  // the kernel reads it transposed: P x D
    for (int d = 0; d < D; ++d)
        for (int p = 0; p < P; ++p)
            patch_wt[static_cast<size_t>(p) * D + d] = model.patch.weight[static_cast<size_t>(d) * P + p];
    const size_t dd = static_cast<size_t>(D), hh = static_cast<size_t>(config_.mlp_hidden);
    w_.patch_wt = image.add_f32(patch_wt.data(), patch_wt.size());
    w_.patch_b = image.add_f32(model.patch.bias, dd);
    w_.chan_embed = image.add_f32(model.channel_embedding, static_cast<size_t>(max_channels) * dd);
    w_.summary = image.add_f32(model.summary_tokens, static_cast<size_t>(config_.embed_num) * dd);
    w_.norm_w = image.add_f32(model.norm.weight, dd);
    w_.norm_b = image.add_f32(model.norm.bias, dd);
    for (const BlockWeights& b : model.blocks) {
        Block o{};
        o.qkv_w = add_gemm_weight(b.qkv.weight, 3 * dd * dd);
        o.kv_w = o.qkv_w + dd * dd * cublas_.input_element_bytes();  // rows D..3D of qkv: keys, then values
        o.proj_w = add_gemm_weight(b.proj.weight, dd * dd);
        o.fc1_w = add_gemm_weight(b.fc1.weight, hh * dd);
        o.fc2_w = add_gemm_weight(b.fc2.weight, dd * hh);
        o.norm1_w = image.add_f32(b.norm1.weight, dd);
        o.norm1_b = image.add_f32(b.norm1.bias, dd);
        o.qkv_b = o.kv_b = kNoTensor;
        if (b.qkv.bias) {
            o.qkv_b = image.add_f32(b.qkv.bias, 3 * dd);
            o.kv_b = image.add_f32(b.qkv.bias + dd, 2 * dd);  // own slot: aligned for cuBLASLt
        }
        o.proj_b = image.add_f32(b.proj.bias, dd);
        o.norm2_w = image.add_f32(b.norm2.weight, dd);
        o.norm2_b = image.add_f32(b.norm2.bias, dd);
        o.fc1_b = image.add_f32(b.fc1.bias, hh);
        o.fc2_b = image.add_f32(b.fc2.bias, dd);
        w_.blocks.push_back(o);
    }
    weights_.allocate(image.bytes().size(), "the model weights (" + to_string(precision_) + ")");
    // On the compute stream, then waited for: the stream is non-blocking, so a copy on the legacy
    // default stream would not be ordered before its first kernel, and the host image must outlive it.
    cuda_check(cudaMemcpyAsync(weights_.get(), image.bytes().data(), image.bytes().size(), cudaMemcpyHostToDevice,
                               stream_.get()),
               "uploading the weights");
    cuda_check(cudaStreamSynchronize(stream_.get()), "uploading the weights");
}

CudaEncoder::~CudaEncoder() { cudaStreamSynchronize(stream_.get()); }

CudaEncoder::Shape CudaEncoder::shape_of(int batch, int channels, int samples) const {
    Shape s{};
    s.batch = batch;
    s.channels = channels;
    s.samples = samples;
    s.seq_len = channels + config_.embed_num;
    const long long seqs = static_cast<long long>(batch) * config_.patches(samples);
    const long long rows = seqs * s.seq_len;
    if (rows > INT_MAX)  // row counts are ints in the kernels and GEMMs; element offsets are size_t
        throw Error("CUDA backend: a batch of " + std::to_string(batch) + " windows of " + std::to_string(samples) +
                    " samples is too large for one call; split it");
    s.seqs = static_cast<int>(seqs);
    s.rows = static_cast<int>(rows);
    s.srows = static_cast<int>(seqs * config_.embed_num);
    return s;
}

CudaEncoder::Arena CudaEncoder::layout(const Shape& s) const {
    const size_t D = config_.embed_dim, H = config_.mlp_hidden, g = cublas_.input_element_bytes();
    const size_t rows = s.rows, srows = s.srows;
    size_t used = 0;
    auto take = [&](size_t bytes) {
        const size_t offset = used;
        used = align_up(used + bytes);
        return offset;
    };
    Arena a{};
    a.x_in = take(static_cast<size_t>(s.batch) * s.channels * s.samples * sizeof(float));
    a.ids = take(static_cast<size_t>(s.channels) * sizeof(int));
    a.x = take(rows * D * sizeof(float));
    a.h = take(rows * D * g);
    a.wide = take(rows * std::max(3 * D, H) * sizeof(float));
    a.wide_in = bf16_ ? take(rows * H * g) : a.wide;
    a.sx = take(srows * D * sizeof(float));
    a.sh = take(srows * D * g);
    a.sq = take(srows * D * sizeof(float));
    a.swide = take(srows * H * sizeof(float));
    a.swide_in = bf16_ ? take(srows * H * g) : a.swide;
    a.out = take(srows * D * sizeof(float));
    a.total = used;
    return a;
}

void CudaEncoder::reserve(const Shape& s) {
    const size_t need = layout(s).total;
    if (need <= arena_.bytes()) return;
    cuda_check(cudaStreamSynchronize(stream_.get()), "synchronising before growing the arena");
    const cudaError_t status = arena_.try_allocate(need);  // the old arena is released first
    if (status == cudaSuccess) return;
    if (status != cudaErrorMemoryAllocation) cuda_check(status, "allocating the activation arena");
    // Out of memory: find the largest batch of this window shape that fits in what is free now.
    const size_t free_bytes = free_device_bytes();
    const size_t one = layout(shape_of(1, s.channels, s.samples)).total;
    const size_t per_window = layout(shape_of(2, s.channels, s.samples)).total - one;
    long long fit = free_bytes >= one ? 1 + static_cast<long long>((free_bytes - one) / std::max<size_t>(per_window, 1)) : 0;
    fit = std::min<long long>(fit, s.batch - 1);
    while (fit > 0 && layout(shape_of(static_cast<int>(fit), s.channels, s.samples)).total > free_bytes) --fit;
    throw Error("CUDA out of memory: the activation arena for a batch of " + std::to_string(s.batch) + " windows (" +
                std::to_string(s.channels) + " channels, " + std::to_string(s.samples) + " samples, " +
                to_string(precision_) + ") needs " + byte_string(need) + ", " + byte_string(free_bytes) +
                " free on the device: " +
                (fit > 0 ? "a batch of at most " + std::to_string(fit) + " windows would fit"
                         : std::string("not even one window fits")));
}

void CudaEncoder::encode(const float* x, int batch, int channels, int samples, const int* channel_ids, float* out) {
    check_encode_arguments(config_, batch, channels, samples, channel_ids);
    const Shape s = shape_of(batch, channels, samples);
    cuda_check(cudaSetDevice(device_), "cudaSetDevice");
    try {
        run(x, channel_ids, out, s);
    } catch (...) {
        cudaStreamSynchronize(stream_.get());  // nothing of this call may still be running
        cudaGetLastError();
        throw;
    }
}

void CudaEncoder::run(const float* x, const int* channel_ids, float* out, const Shape& s) {
    reserve(s);
    const Arena a = layout(s);
    const cudaStream_t stream = stream_.get();
    const int D = config_.embed_dim;
    cuda_check(cudaMemcpyAsync(at<float>(a.x_in), x, static_cast<size_t>(s.batch) * s.channels * s.samples * sizeof(float),
                               cudaMemcpyHostToDevice, stream),
               "copying the input to the device");
    cuda_check(cudaMemcpyAsync(at<int>(a.ids), channel_ids, static_cast<size_t>(s.channels) * sizeof(int),
                               cudaMemcpyHostToDevice, stream),
               "copying the channel ids to the device");
    cuda_check(kernels::patch_embed(at<float>(a.x_in), at<int>(a.ids), weight(w_.patch_wt), weight(w_.patch_b),
                                    weight(w_.chan_embed), weight(w_.summary), at<float>(a.x), s.batch, s.channels,
                                    s.samples, config_.patch_size, config_.patch_stride, D, config_.embed_num, stream),
               "patch_embed");
    for (size_t i = 0; i + 1 < w_.blocks.size(); ++i) full_block(w_.blocks[i], s, a);
    last_block(w_.blocks.back(), s, a);
    cuda_check(kernels::layernorm(at<float>(a.sx), weight(w_.norm_w), weight(w_.norm_b), at<float>(a.out), s.srows, D,
                                  eps_, stream),
               "final layernorm");
    cuda_check(cudaMemcpyAsync(out, at<float>(a.out), static_cast<size_t>(s.srows) * D * sizeof(float),
                               cudaMemcpyDeviceToHost, stream),
               "copying the features to the host");
    cuda_check(cudaStreamSynchronize(stream), "encode (a kernel or copy failed)");
}

void CudaEncoder::layernorm(const float* x, const float* w, const float* b, void* y, int rows) {
    const int D = config_.embed_dim;
    typed_output(y, "layernorm",
                 [&](auto* out) { return kernels::layernorm(x, w, b, out, rows, D, eps_, stream_.get()); });
}

void CudaEncoder::attention(const float* q, int q_stride, int num_q, const float* k, const float* v, int kv_stride,
                            const Shape& s, void* out) {
    const int D = config_.embed_dim, heads = config_.num_heads, hd = config_.head_dim();
    typed_output(out, "attention", [&](auto* o) {
        return kernels::attention(q, q_stride, num_q, k, v, kv_stride, s.seq_len, s.seqs, heads, hd, o, D,
                                  stream_.get());
    });
}

void CudaEncoder::bias_gelu(const float* x, const float* bias, void* y, int rows) {
    const int H = config_.mlp_hidden;
    const size_t n = static_cast<size_t>(rows) * H;
    typed_output(y, "bias_gelu", [&](auto* out) { return kernels::bias_gelu(x, bias, out, n, H, stream_.get()); });
}

void CudaEncoder::full_block(const Block& blk, const Shape& s, const Arena& a) {
    const int D = config_.embed_dim, H = config_.mlp_hidden;
    float* x = at<float>(a.x);
    float* wide = at<float>(a.wide);
    void* h = at<void>(a.h);
    void* wide_in = at<void>(a.wide_in);
    layernorm(x, weight(blk.norm1_w), weight(blk.norm1_b), h, s.rows);
    cublas_.linear(h, D, weight<void>(blk.qkv_w), weight(blk.qkv_b), wide, 3 * D, s.rows, D, 3 * D, false);
    attention(wide, 3 * D, s.seq_len, wide + D, wide + 2 * D, 3 * D, s, h);  // h: free again once qkv is done
    cublas_.linear(h, D, weight<void>(blk.proj_w), weight(blk.proj_b), x, D, s.rows, D, D, true);
    layernorm(x, weight(blk.norm2_w), weight(blk.norm2_b), h, s.rows);
    cublas_.linear(h, D, weight<void>(blk.fc1_w), nullptr, wide, H, s.rows, D, H, false);
    bias_gelu(wide, weight(blk.fc1_b), wide_in, s.rows);
    cublas_.linear(wide_in, H, weight<void>(blk.fc2_w), weight(blk.fc2_b), x, D, s.rows, H, D, true);
}

// Only the E summary rows of each sequence are read after the last block (docs/architecture.md): keys
// and values for every token, queries and everything after attention for the summary rows only.
void CudaEncoder::last_block(const Block& blk, const Shape& s, const Arena& a) {
    const int D = config_.embed_dim, H = config_.mlp_hidden, E = config_.embed_num, C = s.channels;
    const cudaStream_t stream = stream_.get();
    float* x = at<float>(a.x);
    float* kv = at<float>(a.wide);
    void* h = at<void>(a.h);
    float* sx = at<float>(a.sx);
    void* sh = at<void>(a.sh);
    float* sq = at<float>(a.sq);
    float* swide = at<float>(a.swide);
    void* swide_in = at<void>(a.swide_in);
    const float *norm1_w = weight(blk.norm1_w), *norm1_b = weight(blk.norm1_b);
    layernorm(x, norm1_w, norm1_b, h, s.rows);
    cublas_.linear(h, D, weight<void>(blk.kv_w), weight(blk.kv_b), kv, 2 * D, s.rows, D, 2 * D, false);
    typed_output(sh, "layernorm (summary rows)", [&](auto* out) {
        return kernels::layernorm_rows(x, norm1_w, norm1_b, out, s.seqs, s.seq_len, C, E, D, eps_, stream);
    });
    cuda_check(kernels::gather_rows(x, sx, s.seqs, s.seq_len, C, E, D, stream), "gather_rows");
    // Rows 0..D of qkv: the queries.
    cublas_.linear(sh, D, weight<void>(blk.qkv_w), weight(blk.qkv_b), sq, D, s.srows, D, D, false);
    attention(sq, D, E, kv, kv + D, 2 * D, s, sh);
    cublas_.linear(sh, D, weight<void>(blk.proj_w), weight(blk.proj_b), sx, D, s.srows, D, D, true);
    layernorm(sx, weight(blk.norm2_w), weight(blk.norm2_b), sh, s.srows);
    cublas_.linear(sh, D, weight<void>(blk.fc1_w), nullptr, swide, H, s.srows, D, H, false);
    bias_gelu(swide, weight(blk.fc1_b), swide_in, s.srows);
    cublas_.linear(swide_in, H, weight<void>(blk.fc2_w), weight(blk.fc2_b), sx, D, s.srows, H, D, true);
}

}  // namespace

std::string cuda_device_unavailable_reason() {
    int count = 0;
    const cudaError_t status = cudaGetDeviceCount(&count);
    if (status != cudaSuccess) {
        cudaGetLastError();
        return std::string("cudaGetDeviceCount failed: ") + cudaGetErrorString(status);
    }
    if (count == 0) return "cudaGetDeviceCount found 0 devices";
    return "";
}

std::unique_ptr<Encoder> make_cuda_encoder(const ModelWeights& weights, const EncoderOptions& options) {
    const std::string reason = cuda_device_unavailable_reason();
    if (!reason.empty()) throw Error("no CUDA device available: " + reason);
    return std::make_unique<CudaEncoder>(weights, options.precision);
}

}  // namespace eegpt
