// CUDA and cuBLASLt status codes turned into eegpt::Error, plus two small owners (device memory,
// stream) so that a constructor that throws half-way leaks nothing.
#pragma once
#include <cublasLt.h>
#include <cuda_runtime.h>

#include <cstdio>
#include <string>

#include "encoder/error.h"

namespace eegpt {

inline void cuda_check(cudaError_t status, const char* what) {
    if (status != cudaSuccess) {
        cudaGetLastError();  // clear a non-sticky error so the next call starts clean
        throw Error(std::string("CUDA error in ") + what + ": " + cudaGetErrorString(status));
    }
}

inline void cublas_check(cublasStatus_t status, const char* what) {
    if (status != CUBLAS_STATUS_SUCCESS)
        throw Error(std::string("cuBLASLt error in ") + what + ": " + cublasLtGetStatusString(status));
}

// Bytes as "1234567 bytes (1.23 GB)" for out-of-memory messages.
inline std::string byte_string(size_t bytes) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%zu bytes (%.2f GB)", bytes, static_cast<double>(bytes) / 1e9);
    return buf;
}

inline size_t free_device_bytes() {
    size_t free_bytes = 0, total_bytes = 0;
    if (cudaMemGetInfo(&free_bytes, &total_bytes) != cudaSuccess) cudaGetLastError();
    return free_bytes;
}

// One cudaMalloc, freed on destruction. allocate() throws Error naming what it was for.
class DeviceMemory {
public:
    DeviceMemory() = default;
    DeviceMemory(const DeviceMemory&) = delete;
    DeviceMemory& operator=(const DeviceMemory&) = delete;
    ~DeviceMemory() { release(); }

    // Frees what is held, then asks for `bytes`; returns the cudaMalloc status (error cleared).
    cudaError_t try_allocate(size_t bytes) {
        release();
        if (bytes == 0) return cudaSuccess;
        const cudaError_t status = cudaMalloc(&ptr_, bytes);
        if (status != cudaSuccess) {
            ptr_ = nullptr;
            cudaGetLastError();
            return status;
        }
        bytes_ = bytes;
        return cudaSuccess;
    }
    void allocate(size_t bytes, const std::string& what) {
        const cudaError_t status = try_allocate(bytes);
        if (status == cudaErrorMemoryAllocation)
            throw Error("CUDA out of memory: " + what + " needs " + byte_string(bytes) + ", " +
                        byte_string(free_device_bytes()) + " free on the device");
        if (status != cudaSuccess) throw Error("CUDA error allocating " + what + ": " + cudaGetErrorString(status));
    }
    void release() {
        if (ptr_) cudaFree(ptr_);
        ptr_ = nullptr;
        bytes_ = 0;
    }
    void* get() const { return ptr_; }
    size_t bytes() const { return bytes_; }

private:
    void* ptr_ = nullptr;
    size_t bytes_ = 0;
};

class Stream {
public:
    Stream() { cuda_check(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), "cudaStreamCreate"); }
    Stream(const Stream&) = delete;
    Stream& operator=(const Stream&) = delete;
    ~Stream() { cudaStreamDestroy(stream_); }
    cudaStream_t get() const { return stream_; }

private:
    cudaStream_t stream_ = nullptr;
};

}  // namespace eegpt
