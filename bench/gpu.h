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

// Times `rounds` synchronous copies of `bytes` from pageable host memory to the device and back.
// Returns false with `why` set when there is no device.
bool time_transfers(size_t bytes, int rounds, std::vector<double>& h2d_ms, std::vector<double>& d2h_ms,
                    std::string& why);

}  // namespace bench
