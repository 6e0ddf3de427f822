// LayerNorm over rows of `dim` fp32 values, one warp per row.
//
// Statistics are two-pass in fp32: the mean first, then the mean of the squared deviations from it
// (the one-pass E[x^2] - E[x]^2 loses digits in the residual stream, where |mean| can be >> std).
// Each lane walks the row with stride 32 (coalesced), the warp reduces with shuffles, and a third
// walk writes the output; the row (2 KiB for dim 512) is served from L1 on the second and third
// walks. Eight rows per 256-thread block; a warp whose row is past the end leaves as a whole, so
// the shuffles always see 32 active lanes.
//
// The output type is the input type of the GEMM that consumes it (fp32, or bf16 in bf16 mode):
// the conversion costs nothing here and no separate cast kernel is needed.
//
// The residual add is not fused here: it already happens inside the cuBLASLt GEMM that produces
// the residual stream (beta = 1 with C = D = the stream), so the norm simply reads the result.
//
// layernorm_rows is the variant that reads only selected rows (the E summary rows of every
// sequence) and writes them compactly: the last block needs LN1 of the summary rows only for its
// queries, and reading them here spares a gather.
#include "common.cuh"
#include "kernels.h"

namespace eegpt::kernels {
namespace {

constexpr int kThreads = 256;
constexpr int kRowsPerBlock = kThreads / 32;

// Output row r reads input row (r / group) * group_stride + first + r % group.
template <typename T>
__global__ void __launch_bounds__(kThreads)
    layernorm_kernel(const float* __restrict__ x, const float* __restrict__ gamma, const float* __restrict__ beta,
                     T* __restrict__ y, int rows, int dim, float eps, int group, int group_stride, int first) {
    const int row = blockIdx.x * kRowsPerBlock + threadIdx.x / 32;
    const int lane = threadIdx.x % 32;
    if (row >= rows) return;
    const size_t in_row = static_cast<size_t>(row / group) * group_stride + first + row % group;
    const float* xr = x + in_row * dim;

    float sum = 0.0f;
    for (int d = lane; d < dim; d += 32) sum += xr[d];
    const float mean = warp_sum(sum) / static_cast<float>(dim);

    float sq = 0.0f;
    for (int d = lane; d < dim; d += 32) {
        const float c = xr[d] - mean;
        sq += c * c;
    }
    const float var = warp_sum(sq) / static_cast<float>(dim);
    const float inv = 1.0f / sqrtf(var + eps);

    T* yr = y + static_cast<size_t>(row) * dim;
    for (int d = lane; d < dim; d += 32) store(yr + d, (xr[d] - mean) * inv * gamma[d] + beta[d]);
}

template <typename T>
cudaError_t launch(const float* x, const float* gamma, const float* beta, T* y, int rows, int dim, float eps,
                   int group, int group_stride, int first, cudaStream_t stream) {
    if (rows < 0 || dim < 1 || group < 1 || first < 0 || group_stride < group + first || !(eps > 0.0f))
        return cudaErrorInvalidValue;
    if (rows == 0) return cudaSuccess;
    const unsigned blocks = ceil_div(static_cast<size_t>(rows), kRowsPerBlock);
    layernorm_kernel<T><<<blocks, kThreads, 0, stream>>>(x, gamma, beta, y, rows, dim, eps, group, group_stride, first);
    return launch_status();
}

}  // namespace

cudaError_t layernorm(const float* x, const float* gamma, const float* beta, float* y, int rows, int dim, float eps,
                      cudaStream_t stream) {
    return launch(x, gamma, beta, y, rows, dim, eps, 1, 1, 0, stream);
}
cudaError_t layernorm(const float* x, const float* gamma, const float* beta, bf16* y, int rows, int dim, float eps,
                      cudaStream_t stream) {
    return launch(x, gamma, beta, y, rows, dim, eps, 1, 1, 0, stream);
}
cudaError_t layernorm_rows(const float* x, const float* gamma, const float* beta, float* y, int seqs, int seq_len,
                           int first, int count, int dim, float eps, cudaStream_t stream) {
    if (seqs < 0 || count < 1) return cudaErrorInvalidValue;
    return launch(x, gamma, beta, y, seqs * count, dim, eps, count, seq_len, first, stream);
}
cudaError_t layernorm_rows(const float* x, const float* gamma, const float* beta, bf16* y, int seqs, int seq_len,
                           int first, int count, int dim, float eps, cudaStream_t stream) {
    if (seqs < 0 || count < 1) return cudaErrorInvalidValue;
    return launch(x, gamma, beta, y, seqs * count, dim, eps, count, seq_len, first, stream);
}

}  // namespace eegpt::kernels
