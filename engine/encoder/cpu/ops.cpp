#include "encoder/cpu/ops.h"

#include "encoder/cpu/gemm_kernel.h"
#include "encoder/cpu/int8_row.h"

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
// The loops over registers are unrolled by pragma, as the int8 kernels' below (the reason is there).
__attribute__((target("avx512bf16"))) void dpbf16_tile_avx512(const uint32_t* a, const uint32_t* b, int pairs,
                                                               float* acc) {
    static_assert(kBf16TileCols == 32, "two 16-lane registers per row");
    __m512 c[kBf16TileRows][2];
#pragma GCC unroll 16
    for (int r = 0; r < kBf16TileRows; ++r) {
        c[r][0] = _mm512_loadu_ps(acc + r * kBf16TileCols);
        c[r][1] = _mm512_loadu_ps(acc + r * kBf16TileCols + 16);
    }
    for (int p = 0; p < pairs; ++p) {
        const __m512bh b0 = (__m512bh)_mm512_loadu_si512(b + static_cast<size_t>(p) * kBf16TileCols);
        const __m512bh b1 = (__m512bh)_mm512_loadu_si512(b + static_cast<size_t>(p) * kBf16TileCols + 16);
        const uint32_t* ap = a + static_cast<size_t>(p) * kBf16TileRows;
#pragma GCC unroll 16
        for (int r = 0; r < kBf16TileRows; ++r) {
            const __m512bh av = (__m512bh)_mm512_set1_epi32(static_cast<int>(ap[r]));
            c[r][0] = _mm512_dpbf16_ps(c[r][0], b0, av);
            c[r][1] = _mm512_dpbf16_ps(c[r][1], b1, av);
        }
    }
#pragma GCC unroll 16
    for (int r = 0; r < kBf16TileRows; ++r) {
        _mm512_storeu_ps(acc + r * kBf16TileCols, c[r][0]);
        _mm512_storeu_ps(acc + r * kBf16TileCols + 16, c[r][1]);
    }
}
constexpr Bf16TileKernel kBf16Tile = dpbf16_tile_avx512;
#else
constexpr Bf16TileKernel kBf16Tile = nullptr;  // no bf16 instructions at this level
#endif


// int8 tile kernels (cpu/int8.h): all quads of a tile of kInt8TileRows x kInt8TileCols int32 sums.
// Every loop over registers is unrolled by pragma: otherwise GCC 12 keeps part of the accumulator
// array on the stack and copies registers inside the loop (checked in the disassembly), which
// halves the speed.
static_assert(kInt8TileRows == 12 && kInt8TileCols == 32, "the sub-tiles below divide 12 x 32");

// AVX2, for weights in [-63, 63] (Q = 63, cpu/int8.h): VPMADDUBSW multiplies the activation bytes
// (unsigned) by the weight bytes (signed) and adds adjacent pairs into 16 bits, |u0 q0 + u1 q1| <=
// 255 * 63 * 2 = 32,130, so it never saturates; VPMADDWD by ones adds those pairs into int32 and
// VPADDD accumulates (wrapping like VPDPBUSD). Sub-tiles of 4 rows x 16 columns: 8 accumulators, 2
// weight registers, the ones, an activation broadcast and the products, of 16 registers (6 rows
// spill).
void int8_tile_maddubs(const uint32_t* a, const uint32_t* b, int quads, int rows, int32_t* acc) {
    constexpr int kRows = 4, kCols = 16;
    const __m256i ones = _mm256_set1_epi16(1);
    for (int r0 = 0; r0 < rows; r0 += kRows)
        for (int c0 = 0; c0 < kInt8TileCols; c0 += kCols) {
            __m256i c[kRows][2];
#pragma GCC unroll 16
            for (int r = 0; r < kRows; ++r) c[r][0] = c[r][1] = _mm256_setzero_si256();
            for (int p = 0; p < quads; ++p) {
                const uint32_t* bp = b + static_cast<size_t>(p) * kInt8TileCols + c0;
                const __m256i w0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(bp));
                const __m256i w1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(bp + 8));
                const uint32_t* ap = a + static_cast<size_t>(p) * kInt8TileRows + r0;
#pragma GCC unroll 16
                for (int r = 0; r < kRows; ++r) {
                    const __m256i av = _mm256_set1_epi32(static_cast<int>(ap[r]));
                    c[r][0] = _mm256_add_epi32(c[r][0], _mm256_madd_epi16(_mm256_maddubs_epi16(av, w0), ones));
                    c[r][1] = _mm256_add_epi32(c[r][1], _mm256_madd_epi16(_mm256_maddubs_epi16(av, w1), ones));
                }
            }
#pragma GCC unroll 16
            for (int r = 0; r < kRows; ++r) {
                int32_t* o = acc + (r0 + r) * kInt8TileCols + c0;
                _mm256_storeu_si256(reinterpret_cast<__m256i*>(o), c[r][0]);
                _mm256_storeu_si256(reinterpret_cast<__m256i*>(o + 8), c[r][1]);
            }
        }
}

// int8's activation quantization and epilogue (cpu/int8.h's quantize_row and dequantize_tile) in
// this level's vectors, 8 lanes at a time: the same operations in the same order as the plain
// definitions, the roundings fused as theirs are, so equal to them bit for bit (tested).
void int8_quantize_row(const float* x, int in, uint32_t* quads, int quad_stride, float& scale, int& zero_point) {
    __m256 vlo = _mm256_setzero_ps(), vhi = _mm256_setzero_ps(), bad = _mm256_setzero_ps();
    int k = 0;
    for (; k + 8 <= in; k += 8) {
        const __m256 v = _mm256_loadu_ps(x + k);
        vlo = _mm256_min_ps(vlo, v);
        vhi = _mm256_max_ps(vhi, v);
        const __m256 d = _mm256_sub_ps(v, v);  // NaN exactly where v is not finite
        bad = _mm256_or_ps(bad, _mm256_cmp_ps(d, d, _CMP_UNORD_Q));
    }
    // The lanes' minima and maxima folded into the row's range; `bad` keeps what MINPS and MAXPS
    // can drop (a NaN operand gives the other one).
    alignas(32) float lanes[2][8];
    _mm256_store_ps(lanes[0], vlo);
    _mm256_store_ps(lanes[1], vhi);
    float lo = 0.0f, hi = 0.0f, inv = 0.0f;
    bool finite = _mm256_movemask_ps(bad) == 0;
    int8_row::extend_range(lanes[0], 8, lo, hi, finite);
    int8_row::extend_range(lanes[1], 8, lo, hi, finite);
    int8_row::extend_range(x + k, in - k, lo, hi, finite);
    if (!int8_row::parameters(lo, hi, finite, scale, zero_point, inv)) {
        int8_row::zero_quads(quads, (in + 3) / 4, quad_stride);
        return;
    }
    const __m256 vinv = _mm256_set1_ps(inv), vmagic = _mm256_set1_ps(int8_row::kRoundMagic);
    const __m256i vz = _mm256_set1_epi32(zero_point), v0 = _mm256_setzero_si256(), v255 = _mm256_set1_epi32(255);
    for (k = 0; k + 8 <= in; k += 8) {  // 8 values: two quads
        const __m256 r = _mm256_sub_ps(_mm256_fmadd_ps(_mm256_loadu_ps(x + k), vinv, vmagic), vmagic);
        // r is an integer: the conversion is exact in any rounding mode.
        const __m256i q = _mm256_min_epi32(_mm256_max_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(r), vz), v0), v255);
        const __m128i w16 = _mm_packus_epi32(_mm256_castsi256_si128(q), _mm256_extracti128_si256(q, 1));
        const __m128i bytes = _mm_packus_epi16(w16, w16);
        uint32_t* at = quads + static_cast<size_t>(k / 4) * quad_stride;
        at[0] = static_cast<uint32_t>(_mm_cvtsi128_si32(bytes));
        at[quad_stride] = static_cast<uint32_t>(_mm_extract_epi32(bytes, 1));
    }
    int8_row::store_quads(x, in, k / 4, quads, quad_stride, inv, zero_point);
}

void int8_dequantize_tile(const int32_t* acc, int rows, int cols, const int* z, const float* xs, const float* ws,
                          const int32_t* wsum, const float* b, float* y, int y_stride, bool accumulate) {
    constexpr int kVectors = kInt8TileCols / 8;
    const int full = cols / 8;  // whole vectors of this panel's columns; the rest one at a time
    __m256 vws[kVectors], vb[kVectors];
    __m256i vsum[kVectors];
    for (int v = 0; v < full; ++v) {
        vws[v] = _mm256_loadu_ps(ws + 8 * v);
        vsum[v] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(wsum + 8 * v));
        vb[v] = b ? _mm256_loadu_ps(b + 8 * v) : _mm256_setzero_ps();
    }
    for (int r = 0; r < rows; ++r) {
        const int32_t* ar = acc + r * kInt8TileCols;
        float* yr = y + static_cast<size_t>(r) * y_stride;
        const __m256i vz = _mm256_set1_epi32(z[r]);
        const __m256 vxs = _mm256_set1_ps(xs[r]);
        for (int v = 0; v < full; ++v) {
            const __m256i sum = _mm256_sub_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(ar + 8 * v)),
                                                 _mm256_mullo_epi32(vz, vsum[v]));
            __m256 o = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sum), _mm256_mul_ps(vxs, vws[v]), vb[v]);
            if (accumulate) o = _mm256_add_ps(_mm256_loadu_ps(yr + 8 * v), o);
            _mm256_storeu_ps(yr + 8 * v, o);
        }
        for (int j = 8 * full; j < cols; ++j) {
            const float o = int8_row::dequantize(ar[j], z[r], wsum[j], xs[r], ws[j], b ? b[j] : 0.0f);
            yr[j] = accumulate ? yr[j] + o : o;
        }
    }
}

#if defined(__AVX512F__)
// AVX512_VNNI: VPDPBUSD on zmm, the whole 12 x 32 tile in 24 registers (its first 4 or 8 rows
// for a part-full tile: one copy of the loop per group count); the instruction only in these
// functions, so the module runs on AVX-512 CPUs without VNNI (Skylake-SP) until it is chosen.
template <int kRows>
__attribute__((target("avx512vnni"))) void int8_tile_vnni_rows(const uint32_t* a, const uint32_t* b, int quads,
                                                                 int32_t* acc) {
    __m512i c[kRows][2];
#pragma GCC unroll 16
    for (int r = 0; r < kRows; ++r) c[r][0] = c[r][1] = _mm512_setzero_si512();
    for (int p = 0; p < quads; ++p) {
        const __m512i b0 = _mm512_loadu_si512(b + static_cast<size_t>(p) * kInt8TileCols);
        const __m512i b1 = _mm512_loadu_si512(b + static_cast<size_t>(p) * kInt8TileCols + 16);
        const uint32_t* ap = a + static_cast<size_t>(p) * kInt8TileRows;
#pragma GCC unroll 16
        for (int r = 0; r < kRows; ++r) {
            const __m512i av = _mm512_set1_epi32(static_cast<int>(ap[r]));
            c[r][0] = _mm512_dpbusd_epi32(c[r][0], av, b0);
            c[r][1] = _mm512_dpbusd_epi32(c[r][1], av, b1);
        }
    }
#pragma GCC unroll 16
    for (int r = 0; r < kRows; ++r) {
        _mm512_storeu_si512(acc + r * kInt8TileCols, c[r][0]);
        _mm512_storeu_si512(acc + r * kInt8TileCols + 16, c[r][1]);
    }
}

void int8_tile_vnni(const uint32_t* a, const uint32_t* b, int quads, int rows, int32_t* acc) {
    if (rows <= 4) int8_tile_vnni_rows<4>(a, b, quads, acc);
    else if (rows <= 8) int8_tile_vnni_rows<8>(a, b, quads, acc);
    else int8_tile_vnni_rows<12>(a, b, quads, acc);
}
#else
// AVX-VNNI: VPDPBUSD on ymm (VEX; Intel Alder Lake and later, AMD Zen 5), in sub-tiles of 6 rows x
// 16 columns (12 accumulators, 2 weight registers, 1 activation register of 16); compiled with its
// own target so that the rest of the AVX2 build runs on CPUs without it.
__attribute__((target("avxvnni"))) void int8_tile_vnni(const uint32_t* a, const uint32_t* b, int quads, int rows,
                                                        int32_t* acc) {
    constexpr int kRows = 6, kCols = 16;
    for (int r0 = 0; r0 < rows; r0 += kRows)
        for (int c0 = 0; c0 < kInt8TileCols; c0 += kCols) {
            __m256i c[kRows][2];
#pragma GCC unroll 16
            for (int r = 0; r < kRows; ++r) c[r][0] = c[r][1] = _mm256_setzero_si256();
            for (int p = 0; p < quads; ++p) {
                const uint32_t* bp = b + static_cast<size_t>(p) * kInt8TileCols + c0;
                const __m256i b0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(bp));
                const __m256i b1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(bp + 8));
                const uint32_t* ap = a + static_cast<size_t>(p) * kInt8TileRows + r0;
#pragma GCC unroll 16
                for (int r = 0; r < kRows; ++r) {
                    const __m256i av = _mm256_set1_epi32(static_cast<int>(ap[r]));
                    c[r][0] = _mm256_dpbusd_avx_epi32(c[r][0], av, b0);
                    c[r][1] = _mm256_dpbusd_avx_epi32(c[r][1], av, b1);
                }
            }
#pragma GCC unroll 16
            for (int r = 0; r < kRows; ++r) {
                int32_t* o = acc + (r0 + r) * kInt8TileCols + c0;
                _mm256_storeu_si256(reinterpret_cast<__m256i*>(o), c[r][0]);
                _mm256_storeu_si256(reinterpret_cast<__m256i*>(o + 8), c[r][1]);
            }
        }
}
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
        t.int8_maddubs = {int8_tile_maddubs, 63, int8_quantize_row, int8_dequantize_tile};
        t.int8_vnni = {int8_tile_vnni, 127, int8_quantize_row, int8_dequantize_tile};
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
