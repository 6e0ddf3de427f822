// CublasLtLinear: the encoder's linear layers through cuBLASLt, y = x W^T + bias (+ y), row-major,
// with W in the PyTorch layout (out x in). cuBLASLt is column-major, so the product is computed as
// y^T = W x^T: a row-major (rows x n) matrix is a column-major (n x rows) one with the same
// leading dimension, and the row-major W (out x in) is a column-major (in x out) matrix used
// transposed. The bias rides on the CUBLASLT_EPILOGUE_BIAS epilogue (one value per output
// feature = per row of the column-major result); the residual add on beta = 1 with C = D = y.
//
// Precision modes: fp32 (CUBLAS_COMPUTE_32F, fp32 everywhere, no TF32: the parity mode), tf32
// (CUBLAS_COMPUTE_32F_FAST_TF32), bf16 (x and W in bf16, fp32 accumulation, fp32 y and bias).
// Descriptors and the heuristic's algorithm are cached per shape and alignment, so a repeated shape
// costs one cublasLtMatmul call. The cache holds at most kMaxPlans plans (the least recently used one
// is replaced): one encoder call uses 9 shapes, so a handful of batch sizes stay cached while a
// stream of ever-new batch sizes cannot grow it without bound. Every cuBLASLt error names the
// product's shape and precision.
#pragma once
#include <cublasLt.h>
#include <cuda_runtime.h>

#include <string>
#include <vector>

#include "encoder/encoder.h"
#include "encoder/cuda/cuda_util.h"

namespace eegpt {

class CublasLtLinear {
public:
    CublasLtLinear(Precision precision, cudaStream_t stream);
    ~CublasLtLinear();
    CublasLtLinear(const CublasLtLinear&) = delete;
    CublasLtLinear& operator=(const CublasLtLinear&) = delete;

    // y (rows x out, leading dim ldy, fp32) = x (rows x in, leading dim ldx) W^T + bias, or
    // y += x W^T + bias when accumulate. x and w are fp32 in fp32/tf32 mode and bf16 in bf16 mode;
    // bias (out floats) may be null. All pointers are device memory.
    void linear(const void* x, int ldx, const void* w, const float* bias, float* y, int ldy, int rows, int in, int out,
                bool accumulate);

    Precision precision() const { return precision_; }
    size_t input_element_bytes() const { return precision_ == Precision::bf16 ? 2 : 4; }

    static constexpr size_t kWorkspaceBytes = 32u << 20;  // what cuBLAS recommends for Hopper
    static constexpr size_t kMaxPlans = 64;
    size_t cached_plans() const { return plans_.size(); }

private:
    struct Plan {
        int rows, in, out, ldx, ldy;
        bool bias;
        unsigned align_x, align_w, align_y, align_bias;
        unsigned long long last_use = 0;
        cublasLtMatmulDesc_t desc = nullptr;
        cublasLtMatrixLayout_t w_layout = nullptr, x_layout = nullptr, y_layout = nullptr;
        cublasLtMatmulAlgo_t algo{};
    };
    Plan& plan(int rows, int in, int out, int ldx, int ldy, const float* bias, unsigned align_x, unsigned align_w,
               unsigned align_y);
    Plan make_plan(const Plan& key, const float* bias) const;
    std::string describe(int rows, int in, int out, bool bias) const;
    static void destroy(Plan& p);

    Precision precision_;
    cudaStream_t stream_;
    cublasLtHandle_t handle_ = nullptr;
    DeviceMemory workspace_;
    std::vector<Plan> plans_;
    unsigned long long uses_ = 0;
};

}  // namespace eegpt
