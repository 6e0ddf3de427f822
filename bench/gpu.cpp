#include "gpu.h"

#ifdef EEGPT_BENCH_CUDA
#include <cublasLt.h>
#include <cuda_runtime.h>
#endif

namespace bench {

#ifdef EEGPT_BENCH_CUDA

GpuInfo gpu_info() {
    GpuInfo info;
    int runtime = 0;
    cudaRuntimeGetVersion(&runtime);
    info.cuda_runtime = std::to_string(runtime / 1000) + "." + std::to_string(runtime % 1000 / 10);
    const size_t lt = cublasLtGetVersion();  // major * 10000 + minor * 100 + patch
    info.cublas = std::to_string(lt / 10000) + "." + std::to_string(lt / 100 % 100) + "." + std::to_string(lt % 100);
    int count = 0;
    if (cudaGetDeviceCount(&count) != cudaSuccess || count == 0) {
        info.reason = "no CUDA device present";
        return info;
    }
    cudaDeviceProp prop{};
    cudaGetDeviceProperties(&prop, 0);
    info.present = true;
    info.name = prop.name;
    info.memory_gb = static_cast<double>(prop.totalGlobalMem) / (1024.0 * 1024.0 * 1024.0);
    return info;
}

double gpu_used_bytes() {
    size_t free_bytes = 0, total_bytes = 0;
    if (cudaMemGetInfo(&free_bytes, &total_bytes) != cudaSuccess) return -1;
    return static_cast<double>(total_bytes - free_bytes);
}

TransferBuffers::TransferBuffers(size_t bytes) {
    if (!gpu_info().present) {
        why_ = "no CUDA device present";
        return;
    }
    host_.assign(bytes, 1);
    if (cudaMalloc(&device_, bytes) != cudaSuccess) {
        device_ = nullptr;
        why_ = "cudaMalloc of " + std::to_string(bytes) + " bytes failed";
    }
}

TransferBuffers::~TransferBuffers() {
    if (device_) cudaFree(device_);
}

void TransferBuffers::to_device() { cudaMemcpy(device_, host_.data(), host_.size(), cudaMemcpyHostToDevice); }
void TransferBuffers::to_host() { cudaMemcpy(host_.data(), device_, host_.size(), cudaMemcpyDeviceToHost); }

#else

GpuInfo gpu_info() {
    GpuInfo info;
    info.reason = "this build has no CUDA backend";
    return info;
}

double gpu_used_bytes() { return -1; }

TransferBuffers::TransferBuffers(size_t) : why_("this build has no CUDA backend") {}
TransferBuffers::~TransferBuffers() = default;
void TransferBuffers::to_device() {}
void TransferBuffers::to_host() {}

#endif

}  // namespace bench
