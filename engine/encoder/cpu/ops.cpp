#include "encoder/cpu/ops.h"

#include "encoder/cpu/gemm_kernel.h"

#include <immintrin.h>

#include <Eigen/Dense>
#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <unsupported/Eigen/SpecialFunctions>

// Compiled once per ISA level (cpu/ops.h), with EEGPT_CPU_OPS_ISA naming the level and its
// namespace; the module build (EEGPT_CPU_OPS_MODULE, hidden visibility) exports only its version
// and its table.
namespace eegpt::cpu::EEGPT_CPU_OPS_ISA {
namespace {

using RowMat = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using ColMat = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::ColMajor>;
using Stride = Eigen::OuterStride<>;
using RowMap = Eigen::Map<RowMat, 0, Stride>;
using ConstRowMap = Eigen::Map<const RowMat, 0, Stride>;

}  // namespace

void linear(const float* x, int x_stride, int rows, int in, const float* w, const float* b, int out, float* y,
            int y_stride, bool accumulate) {
    ConstRowMap X(x, rows, in, Stride(x_stride));
    Eigen::Map<const ColMat> Wt(w, in, out);
    RowMap Y(y, rows, out, Stride(y_stride));
    if (accumulate)
        Y.noalias() += X * Wt;
    else
        Y.noalias() = X * Wt;
    if (b) Y.rowwise() += Eigen::Map<const Eigen::RowVectorXf>(b, out);
}

namespace {
// This level's vectors for the GEMM kernel (cpu/gemm_kernel.h, ScalarVec's interface).
#if defined(__AVX512F__)
struct Vec {
    using type = __m512;
    static constexpr int lanes = 16;
    static type zero() { return _mm512_setzero_ps(); }
    static type load(const float* p) { return _mm512_loadu_ps(p); }
    static void store(float* p, type v) { _mm512_storeu_ps(p, v); }
    static type broadcast(const float* p) { return _mm512_set1_ps(*p); }
    static type fma(type a, type b, type c) { return _mm512_fmadd_ps(a, b, c); }
    static type add(type a, type b) { return _mm512_add_ps(a, b); }
};
using IsaGemmKernel = GemmKernel<Vec, 14, 2>;  // 28 accumulators of 32 registers
#else
struct Vec {
    using type = __m256;
    static constexpr int lanes = 8;
    static type zero() { return _mm256_setzero_ps(); }
    static type load(const float* p) { return _mm256_loadu_ps(p); }
    static void store(float* p, type v) { _mm256_storeu_ps(p, v); }
    static type broadcast(const float* p) { return _mm256_broadcast_ss(p); }
    static type fma(type a, type b, type c) { return _mm256_fmadd_ps(a, b, c); }
    static type add(type a, type b) { return _mm256_add_ps(a, b); }
};
using IsaGemmKernel = GemmKernel<Vec, 6, 2>;  // 12 accumulators of 16 registers
#endif
}  // namespace

void linear_packed(const float* x, int x_stride, int rows, const PackedWeights& w, const float* b, float* y,
                   int y_stride, bool accumulate, float* scratch) {
    if (w.nr != IsaGemmKernel::kNr) throw std::invalid_argument("weights packed for another micro-kernel width");
    IsaGemmKernel::linear(x, x_stride, rows, w, b, y, y_stride, accumulate, scratch);
}

void layernorm(const float* x, const float* gamma, const float* beta, float* y, int rows, int dim, float eps) {
    Eigen::Map<const Eigen::ArrayXf> g(gamma, dim), b(beta, dim);
    for (int r = 0; r < rows; ++r) {
        Eigen::Map<const Eigen::ArrayXf> xr(x + static_cast<size_t>(r) * dim, dim);
        Eigen::Map<Eigen::ArrayXf> yr(y + static_cast<size_t>(r) * dim, dim);
        const float mean = xr.sum() / static_cast<float>(dim);
        const float var = (xr - mean).square().sum() / static_cast<float>(dim);
        const float inv = 1.0f / std::sqrt(var + eps);
        yr = (xr - mean) * inv * g + b;
    }
}

void bias_gelu(const float* x, const float* bias, float* y, size_t n, int cols) {
    const size_t rows = n / static_cast<size_t>(cols);
    for (size_t r = 0; r < rows; ++r) {
        Eigen::Map<const Eigen::ArrayXf> xr(x + r * cols, cols);
        Eigen::Map<Eigen::ArrayXf> yr(y + r * cols, cols);
        if (bias) {
            yr = xr + Eigen::Map<const Eigen::ArrayXf>(bias, cols);
        } else if (y != x) {
            yr = xr;
        }
        yr = 0.5f * yr * (1.0f + (yr * 0.70710678118654752f).erf());
    }
}

void attention(const float* q, int q_stride, int num_q, const float* k, const float* v, int kv_stride, int seq_len,
               int seqs, int heads, int head_dim, float* out, int out_stride, float* scores) {
    // The 1/sqrt(head_dim) scale is folded into the softmax exponent.
    const float scale = 1.0f / std::sqrt(static_cast<float>(head_dim));
    RowMap P(scores, num_q, seq_len, Stride(seq_len));
    for (int s = 0; s < seqs; ++s) {
        const float* qs = q + static_cast<size_t>(s) * num_q * q_stride;
        const float* ks = k + static_cast<size_t>(s) * seq_len * kv_stride;
        const float* vs = v + static_cast<size_t>(s) * seq_len * kv_stride;
        float* os = out + static_cast<size_t>(s) * num_q * out_stride;
        for (int h = 0; h < heads; ++h) {
            ConstRowMap Q(qs + h * head_dim, num_q, head_dim, Stride(q_stride));
            ConstRowMap K(ks + h * head_dim, seq_len, head_dim, Stride(kv_stride));
            ConstRowMap V(vs + h * head_dim, seq_len, head_dim, Stride(kv_stride));
            RowMap O(os + h * head_dim, num_q, head_dim, Stride(out_stride));
            P.noalias() = Q * K.transpose();
            for (int i = 0; i < num_q; ++i) {
                auto row = P.row(i).array();
                const float m = row.maxCoeff();
                row = ((row - m) * scale).exp();
                row /= row.sum();
            }
            O.noalias() = P * V;
        }
    }
}

void gather_rows(const float* x, float* y, int seqs, int seq_len, int first, int count, int dim) {
    for (int s = 0; s < seqs; ++s) {
        const float* src = x + (static_cast<size_t>(s) * seq_len + first) * dim;
        std::copy(src, src + static_cast<size_t>(count) * dim, y + static_cast<size_t>(s) * count * dim);
    }
}

void patch_embed(const float* x, const int* channel_ids, const float* patch_w, const float* patch_bias,
                 const float* chan_embed, const float* summary, float* tokens, int channels, int samples, int patch,
                 int stride, int dim, int embed_num, int first_seq, int seqs) {
    const int patches = (samples - patch) / stride + 1, seq_len = channels + embed_num;
    Eigen::Map<const RowMat> W(patch_w, dim, patch);
    Eigen::Map<const Eigen::VectorXf> b(patch_bias, dim);
    for (int s = 0; s < seqs; ++s) {
        const int seq = first_seq + s, window = seq / patches, n = seq % patches;
        float* t = tokens + static_cast<size_t>(s) * seq_len * dim;
        for (int c = 0; c < channels; ++c) {
            Eigen::Map<const Eigen::VectorXf> p(x + (static_cast<size_t>(window) * channels + c) * samples +
                                                    static_cast<size_t>(n) * stride,
                                                patch);
            Eigen::Map<const Eigen::VectorXf> e(chan_embed + static_cast<size_t>(channel_ids[c]) * dim, dim);
            Eigen::Map<Eigen::VectorXf>(t + static_cast<size_t>(c) * dim, dim).noalias() = W * p + b + e;
        }
        std::copy(summary, summary + static_cast<size_t>(embed_num) * dim, t + static_cast<size_t>(channels) * dim);
    }
}

namespace {

#if defined(__AVX512F__)
// VDPBF16PS on a tile of kBf16TileRows x 32 outputs (two registers per row): the instruction only
// in this function, so the module runs on AVX-512 CPUs without AVX512_BF16 until bf16 is asked for.
__attribute__((target("avx512bf16"))) void dpbf16_tile_avx512(const uint32_t* a, const uint32_t* b, int pairs,
                                                               float* acc) {
    static_assert(kBf16TileCols == 32, "two 16-lane registers per row");
    __m512 c[kBf16TileRows][2];
    for (int r = 0; r < kBf16TileRows; ++r) {
        c[r][0] = _mm512_loadu_ps(acc + r * kBf16TileCols);
        c[r][1] = _mm512_loadu_ps(acc + r * kBf16TileCols + 16);
    }
    for (int p = 0; p < pairs; ++p) {
        const __m512bh b0 = (__m512bh)_mm512_loadu_si512(b + static_cast<size_t>(p) * kBf16TileCols);
        const __m512bh b1 = (__m512bh)_mm512_loadu_si512(b + static_cast<size_t>(p) * kBf16TileCols + 16);
        const uint32_t* ap = a + static_cast<size_t>(p) * kBf16TileRows;
        for (int r = 0; r < kBf16TileRows; ++r) {
            const __m512bh av = (__m512bh)_mm512_set1_epi32(static_cast<int>(ap[r]));
            c[r][0] = _mm512_dpbf16_ps(c[r][0], b0, av);
            c[r][1] = _mm512_dpbf16_ps(c[r][1], b1, av);
        }
    }
    for (int r = 0; r < kBf16TileRows; ++r) {
        _mm512_storeu_ps(acc + r * kBf16TileCols, c[r][0]);
        _mm512_storeu_ps(acc + r * kBf16TileCols + 16, c[r][1]);
    }
}
constexpr Bf16TileKernel kBf16Tile = dpbf16_tile_avx512;
#else
constexpr Bf16TileKernel kBf16Tile = nullptr;  // no bf16 instructions at this level
#endif

}  // namespace

const Ops& table() {
    static constexpr Ops kTable = [] {
        Ops t{};
        t.isa = Isa::EEGPT_CPU_OPS_ISA;
        t.linear = linear;
        t.linear_packed = linear_packed;
        t.gemm_nr = IsaGemmKernel::kNr;
        t.gemm_scratch = IsaGemmKernel::kScratch;
        t.layernorm = layernorm;
        t.bias_gelu = bias_gelu;
        t.attention = attention;
        t.gather_rows = gather_rows;
        t.patch_embed = patch_embed;
        t.bf16_tile = kBf16Tile;
        return t;
    }();
    return kTable;
}

}  // namespace eegpt::cpu::EEGPT_CPU_OPS_ISA

#ifdef EEGPT_CPU_OPS_MODULE
extern "C" {
__attribute__((visibility("default"))) const char* eegpt_cpu_ops_module_version() { return EEGPT_VERSION; }
__attribute__((visibility("default"))) const eegpt::cpu::Ops* eegpt_cpu_ops_table() {
    return &eegpt::cpu::EEGPT_CPU_OPS_ISA::table();
}
}
#endif
