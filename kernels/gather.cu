// Gather the summary rows: y[s * count + e] = x[s * seq_len + first + e], rows of dim floats.
//
// The last block keeps only the E summary rows of each sequence (the residual stream it updates
// and the rows the final norm reads), so they are copied once into a compact (seqs * E) x dim
// matrix that the summary-row GEMMs can use with a plain leading dimension. Element-wise,
// grid-stride, coalesced along d.
#include "common.cuh"
#include "kernels.h"

namespace eegpt::kernels {
namespace {

constexpr int kThreads = 256;

__global__ void __launch_bounds__(kThreads)
    gather_rows_kernel(const float* __restrict__ x, float* __restrict__ y, size_t n, int seq_len, int first, int count,
                       int dim) {
    const size_t step = static_cast<size_t>(gridDim.x) * blockDim.x;
    for (size_t i = static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += step) {
        const size_t row = i / static_cast<size_t>(dim), d = i % static_cast<size_t>(dim);
        const size_t s = row / static_cast<size_t>(count), e = row % static_cast<size_t>(count);
        y[i] = x[(s * seq_len + first + e) * dim + d];
    }
}

}  // namespace

cudaError_t gather_rows(const float* x, float* y, int seqs, int seq_len, int first, int count, int dim,
                        cudaStream_t stream) {
    if (seqs < 0 || count < 1 || dim < 1 || first < 0 || seq_len < first + count) return cudaErrorInvalidValue;
    const size_t n = static_cast<size_t>(seqs) * count * dim;
    if (n == 0) return cudaSuccess;
    gather_rows_kernel<<<elementwise_blocks(n, kThreads), kThreads, 0, stream>>>(x, y, n, seq_len, first, count, dim);
    return launch_status();
}

}  // namespace eegpt::kernels
