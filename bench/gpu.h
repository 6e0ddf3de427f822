// The few CUDA runtime calls the suite makes itself (device name and memory, versions, device memory
// in use, host-device copies). Built from gpu.cpp with the CUDA runtime when the CUDA backend is, as
// stubs otherwise. Encoding on the GPU goes through eegpt::make_encoder like everything else.
#pragma once
#include <cstddef>
#include <string>
#include <vector>

namespace bench {

struct GpuInfo {
    bool present = false;
    std::string reason;                      // why not present
    std::string name, cuda_runtime, cublas;  // cublas: the cuBLASLt library version
    double memory_gb = 0;
};
GpuInfo gpu_info();

// Device memory in use on device 0 (all processes), bytes; negative when unavailable.
double gpu_used_bytes();

// A host buffer (pageable memory) and a device buffer of `bytes`, for timing synchronous copies between
// them; ok() is false, with why() saying why, when there is no device.
class TransferBuffers {
public:
    explicit TransferBuffers(size_t bytes);
    ~TransferBuffers();
    TransferBuffers(const TransferBuffers&) = delete;
    TransferBuffers& operator=(const TransferBuffers&) = delete;
    bool ok() const { return device_ != nullptr; }
    const std::string& why() const { return why_; }
    void to_device();  // cudaMemcpy host -> device
    void to_host();    // cudaMemcpy device -> host

private:
    std::vector<char> host_;
    void* device_ = nullptr;
    std::string why_;
};

}  // namespace bench
