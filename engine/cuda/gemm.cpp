#include "gemm.h"

#include <cstdint>
#include <string>

namespace eegpt {
namespace {

// The largest power of two (up to 256) dividing the address: what the heuristic may assume.
unsigned alignment_of(const void* p) {
    const auto a = reinterpret_cast<uintptr_t>(p);
    unsigned align = 256;
    while (align > 1 && a % align != 0) align /= 2;
    return align;
}

template <typename T>
void set_desc(cublasLtMatmulDesc_t desc, cublasLtMatmulDescAttributes_t attr, T value) {
    cublas_check(cublasLtMatmulDescSetAttribute(desc, attr, &value, sizeof value), "cublasLtMatmulDescSetAttribute");
}

template <typename T>
void set_pref(cublasLtMatmulPreference_t pref, cublasLtMatmulPreferenceAttributes_t attr, T value) {
    cublas_check(cublasLtMatmulPreferenceSetAttribute(pref, attr, &value, sizeof value),
                 "cublasLtMatmulPreferenceSetAttribute");
}

}  // namespace

Gemm::Gemm(Precision precision, cudaStream_t stream) : precision_(precision), stream_(stream) {
    cublas_check(cublasLtCreate(&handle_), "cublasLtCreate");
    try {
        workspace_.allocate(kWorkspaceBytes, "the cuBLASLt workspace");
    } catch (...) {
        cublasLtDestroy(handle_);
        throw;
    }
}

Gemm::~Gemm() {
    for (Plan& p : plans_) destroy(p);
    if (handle_) cublasLtDestroy(handle_);
}

void Gemm::destroy(Plan& p) {
    if (p.w_layout) cublasLtMatrixLayoutDestroy(p.w_layout);
    if (p.x_layout) cublasLtMatrixLayoutDestroy(p.x_layout);
    if (p.y_layout) cublasLtMatrixLayoutDestroy(p.y_layout);
    if (p.desc) cublasLtMatmulDescDestroy(p.desc);
    p = Plan{};
}

Gemm::Plan& Gemm::plan(int rows, int in, int out, int ldx, int ldy, bool bias, unsigned align_x, unsigned align_w,
                       unsigned align_y) {
    for (Plan& p : plans_)
        if (p.rows == rows && p.in == in && p.out == out && p.ldx == ldx && p.ldy == ldy && p.bias == bias &&
            p.align_x == align_x && p.align_w == align_w && p.align_y == align_y)
            return p;

    Plan p{rows, in, out, ldx, ldy, bias, align_x, align_w, align_y};
    cublasLtMatmulPreference_t pref = nullptr;
    try {
        const cublasComputeType_t compute =
            precision_ == Precision::tf32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
        const cudaDataType_t in_type = precision_ == Precision::bf16 ? CUDA_R_16BF : CUDA_R_32F;
        cublas_check(cublasLtMatmulDescCreate(&p.desc, compute, CUDA_R_32F), "cublasLtMatmulDescCreate");
        set_desc<int32_t>(p.desc, CUBLASLT_MATMUL_DESC_TRANSA, CUBLAS_OP_T);
        set_desc<int32_t>(p.desc, CUBLASLT_MATMUL_DESC_TRANSB, CUBLAS_OP_N);
        set_desc<uint32_t>(p.desc, CUBLASLT_MATMUL_DESC_EPILOGUE, bias ? CUBLASLT_EPILOGUE_BIAS : CUBLASLT_EPILOGUE_DEFAULT);
        // Column-major views: W is (in x out), x^T is (in x rows), y^T is (out x rows).
        cublas_check(cublasLtMatrixLayoutCreate(&p.w_layout, in_type, in, out, in), "cublasLtMatrixLayoutCreate");
        cublas_check(cublasLtMatrixLayoutCreate(&p.x_layout, in_type, in, rows, ldx), "cublasLtMatrixLayoutCreate");
        cublas_check(cublasLtMatrixLayoutCreate(&p.y_layout, CUDA_R_32F, out, rows, ldy), "cublasLtMatrixLayoutCreate");

        cublas_check(cublasLtMatmulPreferenceCreate(&pref), "cublasLtMatmulPreferenceCreate");
        set_pref<uint64_t>(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, kWorkspaceBytes);
        set_pref<uint32_t>(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, align_w);
        set_pref<uint32_t>(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, align_x);
        set_pref<uint32_t>(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, align_y);
        set_pref<uint32_t>(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, align_y);
        cublasLtMatmulHeuristicResult_t result{};
        int found = 0;
        cublas_check(cublasLtMatmulAlgoGetHeuristic(handle_, p.desc, p.w_layout, p.x_layout, p.y_layout, p.y_layout,
                                                    pref, 1, &result, &found),
                     "cublasLtMatmulAlgoGetHeuristic");
        if (found == 0)
            throw Error("cuBLASLt has no " + to_string(precision_) + " algorithm for a " + std::to_string(rows) + " x " +
                        std::to_string(in) + " by " + std::to_string(in) + " x " + std::to_string(out) + " product");
        p.algo = result.algo;
        cublasLtMatmulPreferenceDestroy(pref);
    } catch (...) {
        if (pref) cublasLtMatmulPreferenceDestroy(pref);
        destroy(p);
        throw;
    }
    plans_.push_back(p);
    return plans_.back();
}

void Gemm::linear(const void* x, int ldx, const void* w, const float* bias, float* y, int ldy, int rows, int in,
                  int out, bool accumulate) {
    if (rows == 0) return;
    if (rows < 0 || in < 1 || out < 1 || ldx < in || ldy < out)
        throw Error("internal error: bad GEMM shape " + std::to_string(rows) + " x " + std::to_string(in) + " -> " +
                    std::to_string(out));
    Plan& p = plan(rows, in, out, ldx, ldy, bias != nullptr, alignment_of(x), alignment_of(w), alignment_of(y));
    if (bias) set_desc<const void*>(p.desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, bias);
    const float alpha = 1.0f, beta = accumulate ? 1.0f : 0.0f;
    cublas_check(cublasLtMatmul(handle_, p.desc, &alpha, w, p.w_layout, x, p.x_layout, &beta, y, p.y_layout, y,
                                p.y_layout, &p.algo, workspace_.get(), kWorkspaceBytes, stream_),
                 "cublasLtMatmul");
}

}  // namespace eegpt
