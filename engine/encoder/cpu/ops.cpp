#include "encoder/cpu/ops.h"

#include "encoder/cpu/gemm_kernel.h"
#include "encoder/cpu/int8_row.h"

#include <immintrin.h>

#include <Eigen/Dense>
#include <algorithm>
#include <cmath>
#include <limits>
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

namespace {

// Attention's pieces, 8 floats a vector on every level (one sequence has 23 tokens: the products
// are small and their cost is in moving data, not in the vector width). Every loop over registers
// is unrolled by pragma, for the reason given at the int8 kernels below.
float sum_lanes(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    return _mm_cvtss_f32(_mm_add_ss(s, _mm_movehdup_ps(s)));
}
float max_lanes(__m256 v) {
    __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    return _mm_cvtss_f32(_mm_max_ss(s, _mm_movehdup_ps(s)));
}

// y[r][d] = x[r * stride + d] for rows x dim.
void copy_rows(const float* x, int stride, int rows, int dim, float* y) {
    for (int r = 0; r < rows; ++r) {
        const float* xr = x + static_cast<size_t>(r) * stride;
        float* yr = y + static_cast<size_t>(r) * dim;
        int d = 0;
        for (; d + 8 <= dim; d += 8) _mm256_storeu_ps(yr + d, _mm256_loadu_ps(xr + d));
        for (; d < dim; ++d) yr[d] = xr[d];
    }
}

// kt[d][j] = k[j * stride + d] for j < rows, 0 for rows <= j < pad (pad a multiple of 8), in 8 x 8
// blocks.
void transpose_rows(const float* k, int stride, int rows, int dim, int pad, float* kt) {
    for (int j0 = 0; j0 < pad; j0 += 8) {
        int d0 = 0;
        for (; d0 + 8 <= dim; d0 += 8) {
            __m256 r[8];
#pragma GCC unroll 8
            for (int x = 0; x < 8; ++x)
                r[x] = j0 + x < rows ? _mm256_loadu_ps(k + static_cast<size_t>(j0 + x) * stride + d0) : _mm256_setzero_ps();
            const __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
            const __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
            const __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
            const __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
            const __m256 u[8] = {_mm256_shuffle_ps(t0, t2, 0x44), _mm256_shuffle_ps(t0, t2, 0xEE),
                                 _mm256_shuffle_ps(t1, t3, 0x44), _mm256_shuffle_ps(t1, t3, 0xEE),
                                 _mm256_shuffle_ps(t4, t6, 0x44), _mm256_shuffle_ps(t4, t6, 0xEE),
                                 _mm256_shuffle_ps(t5, t7, 0x44), _mm256_shuffle_ps(t5, t7, 0xEE)};
            float* o = kt + static_cast<size_t>(d0) * pad + j0;
#pragma GCC unroll 4
            for (int x = 0; x < 4; ++x) {
                _mm256_storeu_ps(o + static_cast<size_t>(x) * pad, _mm256_permute2f128_ps(u[x], u[x + 4], 0x20));
                _mm256_storeu_ps(o + static_cast<size_t>(x + 4) * pad, _mm256_permute2f128_ps(u[x], u[x + 4], 0x31));
            }
        }
        for (; d0 < dim; ++d0)
            for (int x = 0; x < 8; ++x)
                kt[static_cast<size_t>(d0) * pad + j0 + x] = j0 + x < rows ? k[static_cast<size_t>(j0 + x) * stride + d0] : 0.0f;
    }
}

// p[x][8y + l] = sum_d q[x][d] kt[d][8y + l] for NQ query rows and NK vectors of keys: the keys
// along the vector, so no horizontal sums.
template <int NQ, int NK>
void attention_scores(const float* q, int dim, const float* kt, int pad, float* p) {
    __m256 acc[NQ][NK];
#pragma GCC unroll 16
    for (int x = 0; x < NQ; ++x)
#pragma GCC unroll 16
        for (int y = 0; y < NK; ++y) acc[x][y] = _mm256_setzero_ps();
    for (int d = 0; d < dim; ++d) {
        __m256 kv[NK];
#pragma GCC unroll 16
        for (int y = 0; y < NK; ++y) kv[y] = _mm256_loadu_ps(kt + static_cast<size_t>(d) * pad + 8 * y);
#pragma GCC unroll 16
        for (int x = 0; x < NQ; ++x) {
            const __m256 qb = _mm256_set1_ps(q[static_cast<size_t>(x) * dim + d]);
#pragma GCC unroll 16
            for (int y = 0; y < NK; ++y) acc[x][y] = _mm256_fmadd_ps(qb, kv[y], acc[x][y]);
        }
    }
#pragma GCC unroll 16
    for (int x = 0; x < NQ; ++x)
#pragma GCC unroll 16
        for (int y = 0; y < NK; ++y) _mm256_storeu_ps(p + static_cast<size_t>(x) * pad + 8 * y, acc[x][y]);
}

// o[x][d0 + 8y + l] = inv[x] sum_j p[x][j] v[j][d0 + 8y + l] for NQ rows and NV vectors of dims.
template <int NQ, int NV>
void attention_values(const float* p, int pad, int seq_len, const float* v, int dim, int d0, const float* inv, float* o,
                      int o_stride) {
    __m256 acc[NQ][NV];
#pragma GCC unroll 16
    for (int x = 0; x < NQ; ++x)
#pragma GCC unroll 16
        for (int y = 0; y < NV; ++y) acc[x][y] = _mm256_setzero_ps();
    for (int j = 0; j < seq_len; ++j) {
        __m256 vv[NV];
#pragma GCC unroll 16
        for (int y = 0; y < NV; ++y) vv[y] = _mm256_loadu_ps(v + static_cast<size_t>(j) * dim + d0 + 8 * y);
#pragma GCC unroll 16
        for (int x = 0; x < NQ; ++x) {
            const __m256 pb = _mm256_set1_ps(p[static_cast<size_t>(x) * pad + j]);
#pragma GCC unroll 16
            for (int y = 0; y < NV; ++y) acc[x][y] = _mm256_fmadd_ps(pb, vv[y], acc[x][y]);
        }
    }
#pragma GCC unroll 16
    for (int x = 0; x < NQ; ++x) {
        const __m256 s = _mm256_set1_ps(inv[x]);
#pragma GCC unroll 16
        for (int y = 0; y < NV; ++y)
            _mm256_storeu_ps(o + static_cast<size_t>(x) * o_stride + d0 + 8 * y, _mm256_mul_ps(acc[x][y], s));
    }
}

// The rows [i, i + NQ) of P V for all dims: 4 vectors at a time, then 1, then single dims.
template <int NQ>
void attention_rows(const float* p, int pad, int seq_len, const float* v, int dim, const float* inv, float* o,
                    int o_stride) {
    int d = 0;
    for (; d + 32 <= dim; d += 32) attention_values<NQ, 4>(p, pad, seq_len, v, dim, d, inv, o, o_stride);
    for (; d + 8 <= dim; d += 8) attention_values<NQ, 1>(p, pad, seq_len, v, dim, d, inv, o, o_stride);
    for (; d < dim; ++d)
        for (int x = 0; x < NQ; ++x) {
            float t = 0.0f;
            for (int j = 0; j < seq_len; ++j) t = std::fma(p[static_cast<size_t>(x) * pad + j], v[static_cast<size_t>(j) * dim + d], t);
            o[static_cast<size_t>(x) * o_stride + d] = t * inv[x];
        }
}

}  // namespace

// Per sequence and head, the head's queries, keys (transposed, keys padded to a multiple of 8)
// and values are first copied into scratch: their rows lie q_stride floats apart (6 KB for the
// large model's qkv), which maps the 23 rows of a head onto a few sets of the L1 cache, so that
// products reading them in place evict each other (Eigen's GEMMs on the rows in place measured
// 32 GFLOP/s on the 2-core Zen 4, 4.6% of an int8 window; these loops about 1.8x that speed).
// Scores with the keys along the vectors (no horizontal sums), 4 query rows x 24 keys at a time for
// one sequence of 23 tokens; then per row the max, the scaled differences, one exp over the whole
// block (Eigen's vector exp: its rows are padded to whole vectors), the sum, and P V scaled by
// 1 / sum, 3 query rows x 32 dims at a time. The padding lanes are -inf before the max (a key
// score of 0 there could exceed every real one and underflow them all), so the exp makes them 0,
// or 2.9e-39 where Eigen's AVX2 exp clamps its argument: below the rounding of a row's sum, which
// is at least 1 (the max's own term); P V reads only the keys.
void attention(const float* q, int q_stride, int num_q, const float* k, const float* v, int kv_stride, int seq_len,
               int seqs, int heads, int head_dim, float* out, int out_stride, float* scratch) {
    // The 1/sqrt(head_dim) scale is folded into the softmax exponent.
    const float scale = 1.0f / std::sqrt(static_cast<float>(head_dim));
    const int pad = (seq_len + 7) / 8 * 8, vectors = pad / 8, dim = head_dim;
    float* P = scratch;                                      // num_q x pad
    float* Kt = P + static_cast<size_t>(num_q) * pad;        // dim x pad
    float* Qh = Kt + static_cast<size_t>(dim) * pad;         // num_q x dim
    float* Vh = Qh + static_cast<size_t>(num_q) * dim;       // seq_len x dim
    float* inv = Vh + static_cast<size_t>(seq_len) * dim;    // num_q
    const __m256 vscale = _mm256_set1_ps(scale), minus_inf = _mm256_set1_ps(-std::numeric_limits<float>::infinity());
    const __m256 last = _mm256_castsi256_ps(  // the lanes of the last vector of a row that are keys
        _mm256_cmpgt_epi32(_mm256_set1_epi32(seq_len - (pad - 8)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7)));
    for (int s = 0; s < seqs; ++s) {
        const float* qs = q + static_cast<size_t>(s) * num_q * q_stride;
        const float* ks = k + static_cast<size_t>(s) * seq_len * kv_stride;
        const float* vs = v + static_cast<size_t>(s) * seq_len * kv_stride;
        float* os = out + static_cast<size_t>(s) * num_q * out_stride;
        for (int h = 0; h < heads; ++h) {
            copy_rows(qs + h * dim, q_stride, num_q, dim, Qh);
            copy_rows(vs + h * dim, kv_stride, seq_len, dim, Vh);
            transpose_rows(ks + h * dim, kv_stride, seq_len, dim, pad, Kt);
            int i = 0;
            if (vectors == 3) {  // the 19-20 channel montages (23-24 tokens): 12 accumulators
                for (; i + 4 <= num_q; i += 4) attention_scores<4, 3>(Qh + static_cast<size_t>(i) * dim, dim, Kt, pad, P + static_cast<size_t>(i) * pad);
                for (; i < num_q; ++i) attention_scores<1, 3>(Qh + static_cast<size_t>(i) * dim, dim, Kt, pad, P + static_cast<size_t>(i) * pad);
            } else {
                for (; i + 4 <= num_q; i += 4)
                    for (int y = 0; y < vectors; ++y)
                        attention_scores<4, 1>(Qh + static_cast<size_t>(i) * dim, dim, Kt + 8 * y, pad, P + static_cast<size_t>(i) * pad + 8 * y);
                for (; i < num_q; ++i)
                    for (int y = 0; y < vectors; ++y)
                        attention_scores<1, 1>(Qh + static_cast<size_t>(i) * dim, dim, Kt + 8 * y, pad, P + static_cast<size_t>(i) * pad + 8 * y);
            }
            for (i = 0; i < num_q; ++i) {
                float* pr = P + static_cast<size_t>(i) * pad;
                float* pl = pr + pad - 8;
                _mm256_storeu_ps(pl, _mm256_blendv_ps(minus_inf, _mm256_loadu_ps(pl), last));
                __m256 m = _mm256_loadu_ps(pr);
                for (int y = 1; y < vectors; ++y) m = _mm256_max_ps(m, _mm256_loadu_ps(pr + 8 * y));
                const __m256 vm = _mm256_set1_ps(max_lanes(m));
                for (int y = 0; y < vectors; ++y)
                    _mm256_storeu_ps(pr + 8 * y, _mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(pr + 8 * y), vm), vscale));
            }
            Eigen::Map<Eigen::ArrayXf> block(P, static_cast<Eigen::Index>(num_q) * pad);
            block = block.exp();  // separate from the rows' loops: the exps of the rows overlap
            for (i = 0; i < num_q; ++i) {
                const float* pr = P + static_cast<size_t>(i) * pad;
                __m256 sum = _mm256_loadu_ps(pr);
                for (int y = 1; y < vectors; ++y) sum = _mm256_add_ps(sum, _mm256_loadu_ps(pr + 8 * y));
                inv[i] = 1.0f / sum_lanes(sum);
            }
            float* oh = os + h * dim;
            for (i = 0; i + 3 <= num_q; i += 3)
                attention_rows<3>(P + static_cast<size_t>(i) * pad, pad, seq_len, Vh, dim, inv + i, oh + static_cast<size_t>(i) * out_stride, out_stride);
            for (; i < num_q; ++i)
                attention_rows<1>(P + static_cast<size_t>(i) * pad, pad, seq_len, Vh, dim, inv + i, oh + static_cast<size_t>(i) * out_stride, out_stride);
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
// One quad of 4 rows (ap: their words, a tile's stride apart by quad) into the 4 x 16 sub-tile's
// accumulators, from 16 columns' weight words at bp: VPMADDUBSW, VPMADDWD by ones, VPADDD.
__attribute__((always_inline)) inline void maddubs_quad(const uint32_t* ap, const uint32_t* bp, __m256i ones,
                                                        __m256i (&c)[4][2]) {
    const __m256i w0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(bp));
    const __m256i w1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(bp + 8));
#pragma GCC unroll 16
    for (int r = 0; r < 4; ++r) {
        const __m256i av = _mm256_set1_epi32(static_cast<int>(ap[r]));
        c[r][0] = _mm256_add_epi32(c[r][0], _mm256_madd_epi16(_mm256_maddubs_epi16(av, w0), ones));
        c[r][1] = _mm256_add_epi32(c[r][1], _mm256_madd_epi16(_mm256_maddubs_epi16(av, w1), ones));
    }
}

void int8_tile_maddubs(const uint32_t* a, const uint32_t* b, int quads, int rows, int32_t* acc) {
    constexpr int kRows = 4, kCols = 16;
    const __m256i ones = _mm256_set1_epi16(1);
    for (int r0 = 0; r0 < rows; r0 += kRows)
        for (int c0 = 0; c0 < kInt8TileCols; c0 += kCols) {
            __m256i c[kRows][2];
#pragma GCC unroll 16
            for (int r = 0; r < kRows; ++r) c[r][0] = c[r][1] = _mm256_setzero_si256();
            for (int p = 0; p < quads; ++p)
                maddubs_quad(a + static_cast<size_t>(p) * kInt8TileRows + r0, b + static_cast<size_t>(p) * kInt8TileCols + c0,
                             ones, c);
#pragma GCC unroll 16
            for (int r = 0; r < kRows; ++r) {
                int32_t* o = acc + (r0 + r) * kInt8TileCols + c0;
                _mm256_storeu_si256(reinterpret_cast<__m256i*>(o), c[r][0]);
                _mm256_storeu_si256(reinterpret_cast<__m256i*>(o + 8), c[r][1]);
            }
        }
}

// AVX2, for panels whose lane groups are bounded (cpu/int8.h, Int8Matrix::pairs): the products of
// quads 2i and 2i + 1 are added in 16 bits (VPADDW, exact: each lane's four products are at most
// 255 * 128 = 32,640 in magnitude) before one VPMADDWD by ones widens them, so 1.5 multiplies (the
// two pipes VPMADDUBSW and VPMADDWD share) per 64 products instead of 2: 240-246 GOPS a core
// against 192-195 on the 2-core Zen 3 (hot tiles). K in chunks of 128 quads (16 KB of the panel)
// so that fc2's 64 KB panel is read from L1, not L2 (209 GOPS unchunked at K = 2048); a lone last
// quad (odd quad count) is summed as int8_tile_maddubs sums each (maddubs_quad).
void int8_tile_maddubs_pairs(const uint32_t* a, const uint32_t* b, int quads, int rows, int32_t* acc) {
    constexpr int kRows = 4, kCols = 16, kChunk = 128;  // kChunk even: pairs stay (2i, 2i + 1)
    const __m256i ones = _mm256_set1_epi16(1);
    for (int p0 = 0; p0 < quads; p0 += kChunk) {
        const int p1 = std::min(quads, p0 + kChunk);
        for (int r0 = 0; r0 < rows; r0 += kRows)
            for (int c0 = 0; c0 < kInt8TileCols; c0 += kCols) {
                int32_t* o = acc + r0 * kInt8TileCols + c0;
                __m256i c[kRows][2];
#pragma GCC unroll 16
                for (int r = 0; r < kRows; ++r) {
                    const auto* at = reinterpret_cast<const __m256i*>(o + r * kInt8TileCols);
                    c[r][0] = p0 == 0 ? _mm256_setzero_si256() : _mm256_loadu_si256(at);
                    c[r][1] = p0 == 0 ? _mm256_setzero_si256() : _mm256_loadu_si256(at + 1);
                }
                int p = p0;
                for (; p + 2 <= p1; p += 2) {
                    const uint32_t* bp = b + static_cast<size_t>(p) * kInt8TileCols + c0;
                    const __m256i w0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(bp));
                    const __m256i w1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(bp + 8));
                    const __m256i v0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(bp + kInt8TileCols));
                    const __m256i v1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(bp + kInt8TileCols + 8));
                    const uint32_t* ap = a + static_cast<size_t>(p) * kInt8TileRows + r0;
#pragma GCC unroll 16
                    for (int r = 0; r < kRows; ++r) {
                        const __m256i x = _mm256_set1_epi32(static_cast<int>(ap[r]));
                        const __m256i y = _mm256_set1_epi32(static_cast<int>(ap[r + kInt8TileRows]));
                        const __m256i s0 = _mm256_add_epi16(_mm256_maddubs_epi16(x, w0), _mm256_maddubs_epi16(y, v0));
                        const __m256i s1 = _mm256_add_epi16(_mm256_maddubs_epi16(x, w1), _mm256_maddubs_epi16(y, v1));
                        c[r][0] = _mm256_add_epi32(c[r][0], _mm256_madd_epi16(s0, ones));
                        c[r][1] = _mm256_add_epi32(c[r][1], _mm256_madd_epi16(s1, ones));
                    }
                }
                if (p < p1)  // the lone last quad
                    maddubs_quad(a + static_cast<size_t>(p) * kInt8TileRows + r0,
                                 b + static_cast<size_t>(p) * kInt8TileCols + c0, ones, c);
#pragma GCC unroll 16
                for (int r = 0; r < kRows; ++r) {
                    auto* at = reinterpret_cast<__m256i*>(o + r * kInt8TileCols);
                    _mm256_storeu_si256(at, c[r][0]);
                    _mm256_storeu_si256(at + 1, c[r][1]);
                }
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
    const __m256i vz = _mm256_set1_epi32(zero_point);
    for (k = 0; k + 8 <= in; k += 8) {  // 8 values: two quads
        const __m256 r = _mm256_sub_ps(_mm256_fmadd_ps(_mm256_loadu_ps(x + k), vinv, vmagic), vmagic);
        // r is an integer: the conversion is exact in any rounding mode.
        const __m256i q = _mm256_add_epi32(_mm256_cvtps_epi32(r), vz);
        // clamp_byte by the packs' saturations: to [-32768, 32767] (signed), then to [0, 255];
        // two monotone clamps whose composition is the clamp to [0, 255] for every int32.
        const __m128i w16 = _mm_packs_epi32(_mm256_castsi256_si128(q), _mm256_extracti128_si256(q, 1));
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
        t.int8_maddubs = {int8_tile_maddubs, 63, int8_quantize_row, int8_dequantize_tile, int8_tile_maddubs_pairs};
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
