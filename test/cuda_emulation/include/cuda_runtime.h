// CPU stand-in for the CUDA runtime API subset the engine uses (test/cuda_emulation/README.md).
// "Device" memory is host memory registered in a table; kernels run on the calling thread with one
// cooperative fiber per CUDA thread, so __syncthreads, __syncwarp and warp shuffles really block.
#pragma once
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <tuple>
#include <type_traits>
#include <utility>

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __shared__

enum cudaError_t {
    cudaSuccess = 0,
    cudaErrorInvalidValue = 1,
    cudaErrorMemoryAllocation = 2,
    cudaErrorInvalidConfiguration = 9,
    cudaErrorNoDevice = 100,
    cudaErrorLaunchFailure = 719,
};
typedef cudaError_t cudaError;
typedef struct EmuStream* cudaStream_t;
constexpr unsigned cudaStreamNonBlocking = 1;

enum cudaMemcpyKind {
    cudaMemcpyHostToHost = 0,
    cudaMemcpyHostToDevice = 1,
    cudaMemcpyDeviceToHost = 2,
    cudaMemcpyDeviceToDevice = 3,
    cudaMemcpyDefault = 4
};
enum cudaFuncAttribute { cudaFuncAttributeMaxDynamicSharedMemorySize = 8 };
enum cudaDeviceAttr { cudaDevAttrMaxSharedMemoryPerBlockOptin = 97 };

struct uint3 {
    unsigned x, y, z;
};
struct dim3 {
    unsigned x, y, z;
    constexpr dim3(unsigned vx = 1, unsigned vy = 1, unsigned vz = 1) : x(vx), y(vy), z(vz) {}
};

// Runtime API.
cudaError_t cudaMalloc(void** ptr, size_t bytes);
template <typename T>
cudaError_t cudaMalloc(T** ptr, size_t bytes) {
    return cudaMalloc(reinterpret_cast<void**>(ptr), bytes);
}
cudaError_t cudaFree(void* ptr);
cudaError_t cudaMemcpy(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind);
cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind, cudaStream_t stream = nullptr);
cudaError_t cudaMemset(void* ptr, int value, size_t bytes);
cudaError_t cudaMemGetInfo(size_t* free_bytes, size_t* total_bytes);
cudaError_t cudaGetLastError();
const char* cudaGetErrorString(cudaError_t error);
cudaError_t cudaDeviceSynchronize();
cudaError_t cudaStreamSynchronize(cudaStream_t stream);
cudaError_t cudaStreamCreateWithFlags(cudaStream_t* stream, unsigned flags);
cudaError_t cudaStreamDestroy(cudaStream_t stream);
cudaError_t cudaGetDevice(int* device);
cudaError_t cudaSetDevice(int device);
cudaError_t cudaGetDeviceCount(int* count);
cudaError_t cudaDeviceGetAttribute(int* value, cudaDeviceAttr attr, int device);
cudaError_t emu_func_set_attribute(const void* func, cudaFuncAttribute attr, int value);
template <typename F>
cudaError_t cudaFuncSetAttribute(F* func, cudaFuncAttribute attr, int value) {
    return emu_func_set_attribute(reinterpret_cast<const void*>(func), attr, value);
}

// Device side.
extern uint3 threadIdx, blockIdx;
extern dim3 blockDim, gridDim;
void __syncthreads();
void __syncwarp(unsigned mask = 0xffffffffu);
float emu_shfl_xor(unsigned mask, float value, int lane_mask);
inline float __shfl_xor_sync(unsigned mask, float value, int lane_mask) { return emu_shfl_xor(mask, value, lane_mask); }
void* emu_shared_memory();
template <typename T>
T* emu_shared() {
    return static_cast<T*>(emu_shared_memory());
}

// Launch: checks the configuration and every pointer argument, then runs the grid.
bool emu_is_device_range(const void* ptr, size_t bytes);
void emu_set_error(cudaError_t error);
bool emu_check_launch(const void* func, dim3 grid, dim3 block, size_t smem);
void emu_run_grid(dim3 grid, dim3 block, size_t smem, const std::function<void()>& body);
void emu_fail(const char* what);

template <typename A>
void emu_check_argument(const A& a) {
    if constexpr (std::is_pointer_v<A>)
        if (a != nullptr && !emu_is_device_range(a, 1)) emu_fail("kernel argument is a pointer outside device memory");
}

template <typename... P, typename... A>
void emu_launch(void (*kernel)(P...), dim3 grid, dim3 block, size_t smem, cudaStream_t, A&&... args) {
    if (!emu_check_launch(reinterpret_cast<const void*>(kernel), grid, block, smem)) return;
    std::tuple<P...> params(static_cast<P>(args)...);
    std::apply([](const auto&... p) { (emu_check_argument(p), ...); }, params);
    emu_run_grid(grid, block, smem, [&]() { std::apply(kernel, params); });
}
