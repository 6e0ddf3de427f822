#include "encoder/cuda/cublaslt_linear.h"

#include <algorithm>
#include <cstdint>
#include <string>
#include <utility>

namespace eegpt {
namespace {

// The largest power of two (up to 256) dividing the address: what the heuristic may assume.
unsigned alignment_of(const void* p) {
    const auto a = reinterpret_cast<uintptr_t>(p);
    unsigned align = 256;
    while (align > 1 && a % align != 0) align /= 2;
    return align;
}

}  // namespace

CublasLtLinear::CublasLtLinear(Precision precision, cudaStream_t stream) : precision_(precision), stream_(stream) {
    cublas_check(cublasLtCreate(&handle_), "cublasLtCreate");
    try {
        workspace_.allocate(kWorkspaceBytes, "the cuBLASLt workspace");
    } catch (...) {
        cublasLtDestroy(handle_);
        throw;
    }
}

CublasLtLinear::~CublasLtLinear() {
    for (Plan& p : plans_) destroy(p);
    if (handle_) cublasLtDestroy(handle_);
}

void CublasLtLinear::destroy(Plan& p) {
    if (p.w_layout) cublasLtMatrixLayoutDestroy(p.w_layout);
    if (p.x_layout) cublasLtMatrixLayoutDestroy(p.x_layout);
    if (p.y_layout) cublasLtMatrixLayoutDestroy(p.y_layout);
    if (p.desc) cublasLtMatmulDescDestroy(p.desc);
    p = Plan{};
}

std::string CublasLtLinear::describe(int rows, int in, int out, bool bias) const {
    return "the " + to_string(precision_) + " product " + std::to_string(rows) + " x " + std::to_string(in) + " by " +
           std::to_string(in) + " x " + std::to_string(out) + (bias ? " with bias" : "");
}

CublasLtLinear::Plan& CublasLtLinear::plan(int rows, int in, int out, int ldx, int ldy, const float* bias,
                                           unsigned align_x, unsigned align_w, unsigned align_y) {
    const unsigned align_bias = bias ? alignment_of(bias) : 0;
    ++uses_;
    for (Plan& p : plans_)
        if (p.rows == rows && p.in == in && p.out == out && p.ldx == ldx && p.ldy == ldy && p.bias == (bias != nullptr) &&
            p.align_x == align_x && p.align_w == align_w && p.align_y == align_y && p.align_bias == align_bias) {
            p.last_use = uses_;
            return p;
        }
    Plan p = make_plan(Plan{rows, in, out, ldx, ldy, bias != nullptr, align_x, align_w, align_y, align_bias}, bias);
    p.last_use = uses_;
    if (plans_.size() < kMaxPlans) {
        plans_.push_back(p);
        return plans_.back();
    }
    Plan& victim = *std::min_element(plans_.begin(), plans_.end(),
                                     [](const Plan& a, const Plan& b) { return a.last_use < b.last_use; });
    destroy(victim);
    victim = p;
    return victim;
}

// Descriptors, layouts and the heuristic's algorithm for one shape. The bias pointer is set before
// the heuristic is asked, since it takes the bias alignment into account.
CublasLtLinear::Plan CublasLtLinear::make_plan(const Plan& key, const float* bias) const {
    Plan p = key;
    const std::string what = describe(p.rows, p.in, p.out, p.bias);
    auto check = [&](cublasStatus_t status, const char* call) {
        if (status != CUBLAS_STATUS_SUCCESS)
            throw Error(std::string("cuBLASLt error in ") + call + " for " + what + ": " + cublasLtGetStatusString(status));
    };
    cublasLtMatmulPreference_t pref = nullptr;
    try {
        const cublasComputeType_t compute =
            precision_ == Precision::tf32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
        const cudaDataType_t in_type = precision_ == Precision::bf16 ? CUDA_R_16BF : CUDA_R_32F;
        check(cublasLtMatmulDescCreate(&p.desc, compute, CUDA_R_32F), "cublasLtMatmulDescCreate");
        const int32_t trans_a = CUBLAS_OP_T, trans_b = CUBLAS_OP_N;
        const uint32_t epilogue = p.bias ? CUBLASLT_EPILOGUE_BIAS : CUBLASLT_EPILOGUE_DEFAULT;
        check(cublasLtMatmulDescSetAttribute(p.desc, CUBLASLT_MATMUL_DESC_TRANSA, &trans_a, sizeof trans_a),
              "cublasLtMatmulDescSetAttribute(TRANSA)");
        check(cublasLtMatmulDescSetAttribute(p.desc, CUBLASLT_MATMUL_DESC_TRANSB, &trans_b, sizeof trans_b),
              "cublasLtMatmulDescSetAttribute(TRANSB)");
        check(cublasLtMatmulDescSetAttribute(p.desc, CUBLASLT_MATMUL_DESC_EPILOGUE, &epilogue, sizeof epilogue),
              "cublasLtMatmulDescSetAttribute(EPILOGUE)");
        if (bias)
            check(cublasLtMatmulDescSetAttribute(p.desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias, sizeof bias),
                  "cublasLtMatmulDescSetAttribute(BIAS_POINTER)");
        // Column-major views: W is (in x out), x^T is (in x rows), y^T is (out x rows).
        check(cublasLtMatrixLayoutCreate(&p.w_layout, in_type, p.in, p.out, p.in), "cublasLtMatrixLayoutCreate(W)");
        check(cublasLtMatrixLayoutCreate(&p.x_layout, in_type, p.in, p.rows, p.ldx), "cublasLtMatrixLayoutCreate(x)");
        check(cublasLtMatrixLayoutCreate(&p.y_layout, CUDA_R_32F, p.out, p.rows, p.ldy), "cublasLtMatrixLayoutCreate(y)");

        check(cublasLtMatmulPreferenceCreate(&pref), "cublasLtMatmulPreferenceCreate");
        const uint64_t workspace = kWorkspaceBytes;
        check(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &workspace,
                                                   sizeof workspace),
              "cublasLtMatmulPreferenceSetAttribute(MAX_WORKSPACE_BYTES)");
        const std::pair<cublasLtMatmulPreferenceAttributes_t, uint32_t> alignments[] = {
            {CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, p.align_w},
            {CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, p.align_x},
            {CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, p.align_y},
            {CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, p.align_y}};
        for (const auto& [attribute, value] : alignments)
            check(cublasLtMatmulPreferenceSetAttribute(pref, attribute, &value, sizeof value),
                  "cublasLtMatmulPreferenceSetAttribute(MIN_ALIGNMENT)");
        cublasLtMatmulHeuristicResult_t result{};
        int found = 0;
        const cublasStatus_t status = cublasLtMatmulAlgoGetHeuristic(handle_, p.desc, p.w_layout, p.x_layout,
                                                                     p.y_layout, p.y_layout, pref, 1, &result, &found);
        // No algorithm shows up as NOT_SUPPORTED from most cuBLASLt versions, as zero results from others.
        if (status == CUBLAS_STATUS_NOT_SUPPORTED || (status == CUBLAS_STATUS_SUCCESS && found == 0))
            throw Error("cuBLASLt has no algorithm for " + what + " (alignments x " + std::to_string(p.align_x) +
                        ", W " + std::to_string(p.align_w) + ", y " + std::to_string(p.align_y) + " bytes)");
        check(status, "cublasLtMatmulAlgoGetHeuristic");
        p.algo = result.algo;
        cublasLtMatmulPreferenceDestroy(pref);
    } catch (...) {
        if (pref) cublasLtMatmulPreferenceDestroy(pref);
        destroy(p);
        throw;
    }
    return p;
}

void CublasLtLinear::linear(const void* x, int ldx, const void* w, const float* bias, float* y, int ldy, int rows,
                            int in, int out, bool accumulate) {
    if (rows == 0) return;
    if (rows < 0 || in < 1 || out < 1 || ldx < in || ldy < out)
        throw Error("internal error: bad GEMM shape " + std::to_string(rows) + " x " + std::to_string(in) + " -> " +
                    std::to_string(out));
    Plan& p = plan(rows, in, out, ldx, ldy, bias, alignment_of(x), alignment_of(w), alignment_of(y));
    if (bias) {
        const cublasStatus_t status =
            cublasLtMatmulDescSetAttribute(p.desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias, sizeof bias);
        if (status != CUBLAS_STATUS_SUCCESS)
            throw Error("cuBLASLt error in cublasLtMatmulDescSetAttribute(BIAS_POINTER) for " +
                        describe(rows, in, out, true) + ": " + cublasLtGetStatusString(status));
    }
    const float alpha = 1.0f, beta = accumulate ? 1.0f : 0.0f;
    const cublasStatus_t status = cublasLtMatmul(handle_, p.desc, &alpha, w, p.w_layout, x, p.x_layout, &beta, y,
                                                 p.y_layout, y, p.y_layout, &p.algo, workspace_.get(), kWorkspaceBytes,
                                                 stream_);
    if (status != CUBLAS_STATUS_SUCCESS)
        throw Error("cuBLASLt error in cublasLtMatmul for " + describe(rows, in, out, bias != nullptr) + ": " +
                    cublasLtGetStatusString(status));
}

}  // namespace eegpt
