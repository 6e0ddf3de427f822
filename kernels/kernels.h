// The hand-written CUDA kernels of the EEGPT encoder, one operation per .cu file in this folder.
// Host-callable launchers only: plain pointers (device memory), sizes, a stream. Each returns
// cudaSuccess, or cudaErrorInvalidValue for sizes it cannot handle, or the launch error. Matrices
// are row-major; every activation buffer holds fp32 except the inputs of GEMMs, which may be bf16.
// Includes nothing from engine/.
#pragma once
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cstddef>

namespace eegpt::kernels {

using bf16 = __nv_bfloat16;

// ---- patch_embed.cu -------------------------------------------------------------------------
// x: batch x channels x samples; channel_ids: `channels` dictionary rows of chan_embed (dim wide);
// patch_wt: the patch projection TRANSPOSED, patch x dim (patch_wt[p * dim + d] = W[d][p]);
// summary: embed_num x dim. Time patch n starts at sample n * stride (stride <= patch; samples >=
// patch; the samples past the last whole patch are ignored). Writes tokens:
// (batch * ((samples - patch) / stride + 1)) sequences
// x (channels + embed_num) rows x dim: each sequence is the channel tokens of one time patch, then
// the summary tokens.
cudaError_t patch_embed(const float* x, const int* channel_ids, const float* patch_wt, const float* patch_bias,
                        const float* chan_embed, const float* summary, float* tokens, int batch, int channels,
                        int samples, int patch, int stride, int dim, int embed_num, cudaStream_t stream);
size_t patch_embed_smem_bytes(int channels, int patch);
constexpr size_t kPatchEmbedMaxSmem = 48 * 1024;

// ---- layernorm.cu ---------------------------------------------------------------------------
// y[r] = (x[r] - mean) / sqrt(var + eps) * gamma + beta for r < rows (two-pass statistics in fp32).
cudaError_t layernorm(const float* x, const float* gamma, const float* beta, float* y, int rows, int dim, float eps,
                      cudaStream_t stream);
cudaError_t layernorm(const float* x, const float* gamma, const float* beta, bf16* y, int rows, int dim, float eps,
                      cudaStream_t stream);
// Summary rows only: x holds `seqs` sequences of seq_len rows; output row s * count + e is the norm
// of input row s * seq_len + first + e (e < count). y is compact: seqs * count rows.
cudaError_t layernorm_rows(const float* x, const float* gamma, const float* beta, float* y, int seqs, int seq_len,
                           int first, int count, int dim, float eps, cudaStream_t stream);
cudaError_t layernorm_rows(const float* x, const float* gamma, const float* beta, bf16* y, int seqs, int seq_len,
                           int first, int count, int dim, float eps, cudaStream_t stream);

// ---- gelu.cu --------------------------------------------------------------------------------
// y = GELU(x + bias[column]) with the exact erf form; x is rows x cols (n = rows * cols elements),
// bias may be null. In place (y == x) is allowed for the fp32 output.
cudaError_t bias_gelu(const float* x, const float* bias, float* y, size_t n, int cols, cudaStream_t stream);
cudaError_t bias_gelu(const float* x, const float* bias, bf16* y, size_t n, int cols, cudaStream_t stream);

// ---- attention.cu ---------------------------------------------------------------------------
// Multi-head softmax attention inside each of `seqs` short sequences (no mask). Head h uses columns
// [h * head_dim, (h + 1) * head_dim) of q, k, v and out. Sequence s has num_q query rows
// (q rows s * num_q + i, row stride q_stride floats) and seq_len key/value rows (k and v rows
// s * seq_len + j, row stride kv_stride). out rows s * num_q + i, row stride out_stride.
// Full attention: num_q = seq_len; the last block's summary rows: num_q = embed_num.
cudaError_t attention(const float* q, int q_stride, int num_q, const float* k, const float* v, int kv_stride,
                      int seq_len, int seqs, int heads, int head_dim, float* out, int out_stride, cudaStream_t stream);
cudaError_t attention(const float* q, int q_stride, int num_q, const float* k, const float* v, int kv_stride,
                      int seq_len, int seqs, int heads, int head_dim, bf16* out, int out_stride, cudaStream_t stream);
size_t attention_smem_bytes(int seq_len, int head_dim);
constexpr int kAttentionMaxHeadDim = 128;

// ---- gather.cu ------------------------------------------------------------------------------
// y[s * count + e] = x[s * seq_len + first + e] for every sequence s < seqs and e < count (rows of dim floats).
cudaError_t gather_rows(const float* x, float* y, int seqs, int seq_len, int first, int count, int dim,
                        cudaStream_t stream);

}  // namespace eegpt::kernels
