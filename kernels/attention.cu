// Softmax attention for short sequences: S = C + E <= 66 tokens, head dim <= 128.
//
// One block per (sequence, head), 4 warps. The block loads that head's K and V slices (S x hd
// each) into shared memory once; K rows are padded to hd + 1 floats so that lanes reading K rows
// j, j+1, ... at the same column hit different banks. Then each warp takes query rows i = warp,
// warp + 4, ...: it copies the query row into its own shared slot, computes the S scores (one
// key per lane), the row max and the sum of exp((s - max) * scale) with warp shuffles, normalises
// the probabilities, and finally produces the hd outputs (one column per lane) from V.
// Scores and softmax are fp32; the 1/sqrt(hd) scale is folded into the exponent exactly as the
// CPU path does it. Only __syncthreads after the K/V load: afterwards each warp touches its own
// query and probability slots only, ordered by __syncwarp.
//
// Shared memory (floats): S (hd + 1) for K, S hd for V, 4 (hd + S) for the per-warp query and
// probability rows: 35.3 KiB at S = 66, hd = 64; 69.3 KiB at hd = 128, which needs the opt-in
// above 48 KiB (set by the launcher).
//
// The same kernel serves the last block: there the queries are only the E summary rows of each
// sequence (num_q = E, from a compact Q matrix), while keys and values still cover all S tokens.
#include <cmath>

#include "common.cuh"
#include "kernels.h"

namespace eegpt::kernels {
namespace {

constexpr int kThreads = 128;
constexpr int kWarps = kThreads / 32;

template <typename T>
__global__ void __launch_bounds__(kThreads)
    attention_kernel(const float* __restrict__ q, int q_stride, int num_q, const float* __restrict__ k,
                     const float* __restrict__ v, int kv_stride, int seq_len, int head_dim, float scale,
                     T* __restrict__ out, int out_stride) {
    extern __shared__ float smem[];
    const int k_pitch = head_dim + 1;
    float* ks = smem;                                  // seq_len x (head_dim + 1)
    float* vs = ks + seq_len * k_pitch;                // seq_len x head_dim
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    float* qs = vs + seq_len * head_dim + warp * head_dim;                   // this warp's query row
    float* ps = vs + seq_len * head_dim + kWarps * head_dim + warp * seq_len;  // this warp's probabilities

    const size_t seq = blockIdx.x;
    const int col = blockIdx.y * head_dim;
    const float* kb = k + seq * seq_len * kv_stride + col;
    const float* vb = v + seq * seq_len * kv_stride + col;
    for (int i = threadIdx.x; i < seq_len * head_dim; i += kThreads) {
        const int j = i / head_dim, d = i % head_dim;
        ks[j * k_pitch + d] = kb[static_cast<size_t>(j) * kv_stride + d];
        vs[j * head_dim + d] = vb[static_cast<size_t>(j) * kv_stride + d];
    }
    __syncthreads();

    for (int i = warp; i < num_q; i += kWarps) {
        const float* qr = q + (seq * num_q + i) * q_stride + col;
        for (int d = lane; d < head_dim; d += 32) qs[d] = qr[d];
        __syncwarp();

        float mx = -INFINITY;
        for (int j = lane; j < seq_len; j += 32) {
            const float* kr = ks + j * k_pitch;
            float s = 0.0f;
            for (int d = 0; d < head_dim; ++d) s += qs[d] * kr[d];
            ps[j] = s;
            mx = fmaxf(mx, s);
        }
        mx = warp_max(mx);
        float sum = 0.0f;
        for (int j = lane; j < seq_len; j += 32) {
            const float p = expf((ps[j] - mx) * scale);
            ps[j] = p;
            sum += p;
        }
        sum = warp_sum(sum);
        for (int j = lane; j < seq_len; j += 32) ps[j] = ps[j] / sum;  // same lane wrote ps[j]
        __syncwarp();  // every lane reads every ps[j] below

        T* orow = out + (seq * num_q + i) * out_stride + col;
        for (int d = lane; d < head_dim; d += 32) {
            float acc = 0.0f;
            for (int j = 0; j < seq_len; ++j) acc += ps[j] * vs[j * head_dim + d];
            store(orow + d, acc);
        }
        __syncwarp();  // qs and ps are rewritten by the next row
    }
}

template <typename T>
cudaError_t launch(const float* q, int q_stride, int num_q, const float* k, const float* v, int kv_stride,
                   int seq_len, int seqs, int heads, int head_dim, T* out, int out_stride, cudaStream_t stream) {
    if (num_q < 1 || seq_len < 1 || seqs < 0 || heads < 1 || heads > 65535 || head_dim < 1 ||
        head_dim > kAttentionMaxHeadDim || q_stride < heads * head_dim || kv_stride < heads * head_dim ||
        out_stride < heads * head_dim)
        return cudaErrorInvalidValue;
    if (seqs == 0) return cudaSuccess;
    const size_t smem = attention_smem_bytes(seq_len, head_dim);
    if (smem > 48 * 1024) {
        const cudaError_t status =
            cudaFuncSetAttribute(attention_kernel<T>, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(smem));
        if (status != cudaSuccess) return status;
    }
    const float scale = 1.0f / std::sqrt(static_cast<float>(head_dim));
    const dim3 grid(static_cast<unsigned>(seqs), static_cast<unsigned>(heads));
    attention_kernel<T><<<grid, kThreads, smem, stream>>>(q, q_stride, num_q, k, v, kv_stride, seq_len, head_dim, scale,
                                                         out, out_stride);
    return launch_status();
}

}  // namespace

size_t attention_smem_bytes(int seq_len, int head_dim) {
    const size_t s = static_cast<size_t>(seq_len), hd = static_cast<size_t>(head_dim);
    return (s * (hd + 1) + s * hd + kWarps * (hd + s)) * sizeof(float);
}

cudaError_t attention(const float* q, int q_stride, int num_q, const float* k, const float* v, int kv_stride,
                      int seq_len, int seqs, int heads, int head_dim, float* out, int out_stride, cudaStream_t stream) {
    return launch(q, q_stride, num_q, k, v, kv_stride, seq_len, seqs, heads, head_dim, out, out_stride, stream);
}
cudaError_t attention(const float* q, int q_stride, int num_q, const float* k, const float* v, int kv_stride,
                      int seq_len, int seqs, int heads, int head_dim, bf16* out, int out_stride, cudaStream_t stream) {
    return launch(q, q_stride, num_q, k, v, kv_stride, seq_len, seqs, heads, head_dim, out, out_stride, stream);
}

}  // namespace eegpt::kernels
