// Shared device helpers of the kernels: warp reductions, typed stores, launch status.
// Nothing here knows about the engine; launchers report errors as cudaError_t.
#pragma once
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cstddef>

namespace eegpt::kernels {

constexpr unsigned kFullMask = 0xffffffffu;

__device__ __forceinline__ float warp_sum(float v) {
    for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_xor_sync(kFullMask, v, offset);
    return v;
}

__device__ __forceinline__ float warp_max(float v) {
    for (int offset = 16; offset > 0; offset >>= 1) v = fmaxf(v, __shfl_xor_sync(kFullMask, v, offset));
    return v;
}

// Outputs that feed a GEMM are written in the GEMM's input type: fp32, or bf16 (round to nearest even).
__device__ __forceinline__ void store(float* p, float v) { *p = v; }
__device__ __forceinline__ void store(__nv_bfloat16* p, float v) { *p = __float2bfloat16_rn(v); }

inline unsigned ceil_div(size_t a, size_t b) { return static_cast<unsigned>((a + b - 1) / b); }

// Grid size for grid-stride element-wise kernels: enough blocks to fill any GPU, never more than needed.
inline unsigned elementwise_blocks(size_t n, int threads) {
    const size_t blocks = (n + static_cast<size_t>(threads) - 1) / static_cast<size_t>(threads);
    return static_cast<unsigned>(blocks < 65536 ? (blocks > 0 ? blocks : 1) : 65536);
}

// The status of the launch just made (a bad configuration shows up here, not later).
inline cudaError_t launch_status() { return cudaGetLastError(); }

}  // namespace eegpt::kernels
