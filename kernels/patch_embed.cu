// Patch embedding, fused with the channel embedding and the summary-token append.
//
// One block per sequence (one time patch n of one window b, starting at sample n * stride: stride
// below P makes overlapping patches; samples past the last whole patch are never read, as in the
// released Conv2d with kernel (1, P) and stride (1, stride)). The block first copies the C patches of that time slot (C x P
// floats, a strided read of x) into shared memory, then every thread
// produces output elements (t, d) of the sequence's S = C + E token rows:
//   t < C:  bias[d] + sum_p patch[t][p] * W[d][p]  + chan_embed[id[t]][d]
//   t >= C: summary[t - C][d]
// The projection is read transposed (P x D) so that consecutive threads (consecutive d) read
// consecutive weights; the whole matrix (P * D floats, 128 KiB for the large model) stays in L2.
// The sum runs in fp32 in the order p = 0..P-1, like the CPU path's GEMM up to blocking.
// Work is tiny next to the transformer blocks (2 * P * D flops per token), so no tiling.
#include "common.cuh"
#include "kernels.h"

namespace eegpt::kernels {
namespace {

constexpr int kThreads = 256;

__global__ void __launch_bounds__(kThreads)
    patch_embed_kernel(const float* __restrict__ x, const int* __restrict__ channel_ids,
                       const float* __restrict__ patch_wt, const float* __restrict__ patch_bias,
                       const float* __restrict__ chan_embed, const float* __restrict__ summary,
                       float* __restrict__ tokens, int channels, int samples, int patch, int stride, int dim,
                       int embed_num, int patches_per_window) {
    extern __shared__ float patches[];  // channels x patch
    const int seq = blockIdx.x;
    const int b = seq / patches_per_window, n = seq % patches_per_window;
    for (int i = threadIdx.x; i < channels * patch; i += blockDim.x) {
        const int c = i / patch, p = i % patch;
        patches[i] = x[(static_cast<size_t>(b) * channels + c) * samples + static_cast<size_t>(n) * stride + p];
    }
    __syncthreads();

    const int seq_len = channels + embed_num;
    float* out = tokens + static_cast<size_t>(seq) * seq_len * dim;
    for (int i = threadIdx.x; i < seq_len * dim; i += blockDim.x) {
        const int t = i / dim, d = i % dim;
        float v;
        if (t < channels) {
            const float* pt = patches + t * patch;
            float acc = 0.0f;
            for (int p = 0; p < patch; ++p) acc += pt[p] * patch_wt[static_cast<size_t>(p) * dim + d];
            v = (acc + patch_bias[d]) + chan_embed[static_cast<size_t>(channel_ids[t]) * dim + d];
        } else {
            v = summary[static_cast<size_t>(t - channels) * dim + d];
        }
        out[i] = v;
    }
}

}  // namespace

size_t patch_embed_smem_bytes(int channels, int patch) {
    return static_cast<size_t>(channels) * static_cast<size_t>(patch) * sizeof(float);
}

cudaError_t patch_embed(const float* x, const int* channel_ids, const float* patch_wt, const float* patch_bias,
                        const float* chan_embed, const float* summary, float* tokens, int batch, int channels,
                        int samples, int patch, int stride, int dim, int embed_num, cudaStream_t stream) {
    if (batch < 1 || channels < 1 || patch < 1 || stride < 1 || stride > patch || dim < 1 || embed_num < 0 ||
        samples < patch)
        return cudaErrorInvalidValue;
    const size_t smem = patch_embed_smem_bytes(channels, patch);
    if (smem > kPatchEmbedMaxSmem) return cudaErrorInvalidValue;
    const int patches_per_window = (samples - patch) / stride + 1;
    const unsigned seqs = static_cast<unsigned>(batch) * static_cast<unsigned>(patches_per_window);
    patch_embed_kernel<<<seqs, kThreads, smem, stream>>>(x, channel_ids, patch_wt, patch_bias, chan_embed, summary,
                                                         tokens, channels, samples, patch, stride, dim,
                                                         embed_num, patches_per_window);
    return launch_status();
}

}  // namespace eegpt::kernels
