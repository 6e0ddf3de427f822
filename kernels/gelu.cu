// Bias add + exact GELU, y = 0.5 v (1 + erf(v / sqrt 2)) with v = x + bias[column].
//
// The erf form (erff, never the tanh approximation) is what EEGPT was trained with. The cuBLASLt
// GELU epilogue is not used because it is not documented to be the erf form; the fc1 GEMM runs
// without epilogue and this kernel adds its bias. Element-wise, grid-stride, one element per
// thread per step; a row-major rows x cols matrix is a flat array of n = rows * cols elements,
// the column of element i is i % cols. x and y may be the same fp32 buffer (each element is read
// and then written by the same thread); in bf16 mode y is the bf16 input of the fc2 GEMM.
#include "common.cuh"
#include "kernels.h"

namespace eegpt::kernels {
namespace {

constexpr int kThreads = 256;

template <typename T>
__global__ void __launch_bounds__(kThreads)
    bias_gelu_kernel(const float* x, const float* __restrict__ bias, T* y, size_t n, int cols) {
    const size_t step = static_cast<size_t>(gridDim.x) * blockDim.x;
    for (size_t i = static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += step) {
        float v = x[i];
        if (bias) v += bias[i % static_cast<size_t>(cols)];
        store(y + i, 0.5f * v * (1.0f + erff(v * 0.70710678118654752f)));
    }
}

template <typename T>
cudaError_t launch(const float* x, const float* bias, T* y, size_t n, int cols, cudaStream_t stream) {
    if (cols < 1 || n % static_cast<size_t>(cols) != 0) return cudaErrorInvalidValue;
    if (n == 0) return cudaSuccess;
    bias_gelu_kernel<T><<<elementwise_blocks(n, kThreads), kThreads, 0, stream>>>(x, bias, y, n, cols);
    return launch_status();
}

}  // namespace

cudaError_t bias_gelu(const float* x, const float* bias, float* y, size_t n, int cols, cudaStream_t stream) {
    return launch(x, bias, y, n, cols, stream);
}
cudaError_t bias_gelu(const float* x, const float* bias, bf16* y, size_t n, int cols, cudaStream_t stream) {
    return launch(x, bias, y, n, cols, stream);
}

}  // namespace eegpt::kernels
