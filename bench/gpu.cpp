#include "gpu.h"

#include <chrono>

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

bool time_transfers(size_t bytes, int rounds, std::vector<double>& h2d_ms, std::vector<double>& d2h_ms,
                    std::string& why) {
    if (!gpu_info().present) {
        why = "no CUDA device present";
        return false;
    }
    std::vector<char> host(bytes, 1);
    void* device = nullptr;
    if (cudaMalloc(&device, bytes) != cudaSuccess) {
        why = "cudaMalloc failed";
        return false;
    }
    auto ms_since = [](std::chrono::steady_clock::time_point t0) {
        return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    };
    cudaMemcpy(device, host.data(), bytes, cudaMemcpyHostToDevice);  // warm-up
    for (int r = 0; r < rounds; ++r) {
        auto t0 = std::chrono::steady_clock::now();
        cudaMemcpy(device, host.data(), bytes, cudaMemcpyHostToDevice);
        h2d_ms.push_back(ms_since(t0));
        t0 = std::chrono::steady_clock::now();
        cudaMemcpy(host.data(), device, bytes, cudaMemcpyDeviceToHost);
        d2h_ms.push_back(ms_since(t0));
    }
    cudaFree(device);
    return true;
}

#else

GpuInfo gpu_info() {
    GpuInfo info;
    info.reason = "this build has no CUDA backend";
    return info;
}

double gpu_used_bytes() { return -1; }

bool time_transfers(size_t, int, std::vector<double>&, std::vector<double>&, std::string& why) {
    why = "this build has no CUDA backend";
    return false;
}

#endif

}  // namespace bench
