// The scalar steps of int8's row quantization and epilogue (cpu/int8.h), written once for the plain
// definitions (cpu/int8.cpp) and each CPU level's vector versions (cpu/ops.cpp: their per-row
// values and tails), so that the two differ only in how many values a step takes at a time.
// static: each file compiles its own copy with its own instructions; an inline function would be
// merged by the linker, and a copy built for AVX2 could then stand in for the plain code.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>

namespace eegpt::cpu::int8_row {

// a * b rounded to the nearest integer, ties to even, for |a b| < 2^22: the exact product plus
// 1.5 * 2^23 in one fused operation leaves no fraction bits (the default rounding mode does the
// rounding), and subtracting it back is exact. Fused, so that code built with FMA gives the same
// bits whether or not its compiler would contract a separate multiply and add.
constexpr float kRoundMagic = 12582912.0f;
static inline float round_product(float a, float b) { return std::fma(a, b, kRoundMagic) - kRoundMagic; }

static inline int clamp_byte(int v) { return std::min(255, std::max(0, v)); }

// Extends [lo, hi] and `finite` over x[0, n).
static inline void extend_range(const float* x, int n, float& lo, float& hi, bool& finite) {
    for (int k = 0; k < n; ++k) {
        lo = std::min(lo, x[k]);
        hi = std::max(hi, x[k]);
        finite = finite && std::isfinite(x[k]);
    }
}

// A row's scale, zero point and 1 / scale from its range [lo, hi] (lo <= 0 <= hi). False for a row
// with a value that is not finite, or whose range overflows: then the scale is NaN (its outputs
// NaN, as in fp32), the zero point 0, and its bytes are to be zero.
static inline bool parameters(float lo, float hi, bool finite, float& scale, int& zero_point, float& inv) {
    if (!finite || !std::isfinite(hi - lo)) {
        scale = std::numeric_limits<float>::quiet_NaN();
        zero_point = 0;
        return false;
    }
    scale = hi > lo ? (hi - lo) / 255.0f : 1.0f;  // an all-zero row: any scale, all u = 0
    inv = 1.0f / scale;
    zero_point = clamp_byte(static_cast<int>(round_product(-lo, inv)));
    return true;
}

static inline uint8_t quantize(float x, float inv, int zero_point) {
    return static_cast<uint8_t>(clamp_byte(static_cast<int>(round_product(x, inv)) + zero_point));
}

// Quads first .. ceil(in / 4) - 1 of a row x[0, in) (the last one's bytes past `in` zero, low byte
// first), quad p at quads[p * stride]: the whole row for the plain definition, the vector loop's
// tail for the vector versions.
static inline void store_quads(const float* x, int in, int first, uint32_t* quads, int stride, float inv,
                               int zero_point) {
    for (int p = first; 4 * p < in; ++p) {
        uint32_t word = 0;
        for (int i = 0; i < 4 && 4 * p + i < in; ++i)
            word |= static_cast<uint32_t>(quantize(x[4 * p + i], inv, zero_point)) << (8 * i);
        quads[static_cast<size_t>(p) * stride] = word;
    }
}

// `count` quads of zero bytes at quads[p * stride]: a row that is not finite, a tile's rows past
// its block.
static inline void zero_quads(uint32_t* quads, int count, int stride) {
    for (int p = 0; p < count; ++p) quads[static_cast<size_t>(p) * stride] = 0u;
}

// One output of the epilogue before the residual: fma(acc - z colsum, t s, b).
static inline float dequantize(int32_t acc, int z, int32_t column_sum, float row_scale, float weight_scale,
                               float bias) {
    return std::fma(static_cast<float>(acc - z * column_sum), row_scale * weight_scale, bias);
}

}  // namespace eegpt::cpu::int8_row
