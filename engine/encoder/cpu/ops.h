// The CPU operations of the encoder, callable on their own: what the CPU backend is made of, and
// the reference every CUDA kernel (kernels/kernels.h, same argument order, host memory, fp32) is
// tested against. Matrices are row-major; strides are in floats.
#pragma once
#include <cstddef>

namespace eegpt::cpu {

// y[rows x out] = x[rows x in] W^T + b with W stored (out x in) as PyTorch does; accumulate adds
// the product into y instead (the residual connection). b may be null.
void linear(const float* x, int x_stride, int rows, int in, const float* w, const float* b, int out, float* y,
            int y_stride, bool accumulate);

// y[r] = (x[r] - mean) / sqrt(var + eps) * gamma + beta, two-pass statistics (mean first, then the
// variance of the centred values: the one-pass form loses digits when |mean| >> std).
void layernorm(const float* x, const float* gamma, const float* beta, float* y, int rows, int dim, float eps);

// y = GELU(x + bias[column]) with the exact erf form; x is rows x cols (n elements); bias may be
// null; y == x allowed.
void bias_gelu(const float* x, const float* bias, float* y, size_t n, int cols);

// Multi-head softmax attention inside each of `seqs` sequences, addressed as kernels::attention.
// scores: seq_len * num_q floats of scratch.
void attention(const float* q, int q_stride, int num_q, const float* k, const float* v, int kv_stride, int seq_len,
               int seqs, int heads, int head_dim, float* out, int out_stride, float* scores);

// y[s * count + e] = x[s * seq_len + first + e] (rows of dim floats).
void gather_rows(const float* x, float* y, int seqs, int seq_len, int first, int count, int dim);

// Tokens of sequences [first_seq, first_seq + seqs) (one sequence per window and time patch):
// channel rows W p + b + chan_embed[id], then the summary tokens; as kernels::patch_embed except
// that patch_w is in the model's layout (dim x patch), not transposed.
void patch_embed(const float* x, const int* channel_ids, const float* patch_w, const float* patch_bias,
                 const float* chan_embed, const float* summary, float* tokens, int channels, int samples, int patch,
                 int dim, int embed_num, int first_seq, int seqs);

}  // namespace eegpt::cpu
