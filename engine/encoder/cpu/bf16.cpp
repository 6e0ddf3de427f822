#include "encoder/cpu/bf16.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace eegpt::cpu {
namespace {

uint32_t bits_of(float v) {
    uint32_t u;
    std::memcpy(&u, &v, sizeof u);
    return u;
}

float float_of(uint32_t u) {
    float v;
    std::memcpy(&v, &u, sizeof v);
    return v;
}

// FTZ: a denormal result becomes a zero of the same sign.
float flush(float v) { return std::fpclassify(v) == FP_SUBNORMAL ? std::copysign(0.0f, v) : v; }

}  // namespace

uint16_t to_bf16(float v) {
    uint32_t u = bits_of(v);
    if (std::isnan(v)) return static_cast<uint16_t>((u >> 16) | 0x0040);  // quiet
    if (std::fpclassify(v) == FP_SUBNORMAL) u &= 0x80000000u;           // DAZ
    u += 0x7FFFu + ((u >> 16) & 1u);                                     // round to nearest even
    const uint16_t h = static_cast<uint16_t>(u >> 16);
    // A result in bf16's denormal range is flushed (FTZ); rounding up into the normal range is kept.
    if ((h & 0x7F80u) == 0 && (h & 0x007Fu) != 0) return static_cast<uint16_t>(h & 0x8000u);
    return h;
}

float from_bf16(uint16_t v) { return float_of(static_cast<uint32_t>(v) << 16); }

Bf16Matrix pack_bf16(const float* w, int out, int in) {
    Bf16Matrix m;
    m.out = out;
    m.in = in;
    m.pairs = (in + 1) / 2;
    m.cols = (out + kBf16TileCols - 1) / kBf16TileCols * kBf16TileCols;
    m.words.assign(static_cast<size_t>(m.pairs) * m.cols, 0u);
    for (int j = 0; j < out; ++j)
        for (int p = 0; p < m.pairs; ++p) {
            const float lo = w[static_cast<size_t>(j) * in + 2 * p];
            const float hi = 2 * p + 1 < in ? w[static_cast<size_t>(j) * in + 2 * p + 1] : 0.0f;
            m.words[static_cast<size_t>(p) * m.cols + j] =
                static_cast<uint32_t>(to_bf16(lo)) | (static_cast<uint32_t>(to_bf16(hi)) << 16);
        }
    return m;
}

void dpbf16_tile_emulated(const uint32_t* a, int a_stride, const uint32_t* b, int b_stride, int pairs, float* acc,
                          int rows) {
    for (int r = 0; r < rows; ++r)
        for (int j = 0; j < kBf16TileCols; ++j) {
            float s = acc[r * kBf16TileCols + j];
            for (int p = 0; p < pairs; ++p) {
                const uint32_t aw = a[static_cast<size_t>(r) * a_stride + p];
                const uint32_t bw = b[static_cast<size_t>(p) * b_stride + j];
                s = flush(s + from_bf16(static_cast<uint16_t>(bw >> 16)) * from_bf16(static_cast<uint16_t>(aw >> 16)));
                s = flush(s + from_bf16(static_cast<uint16_t>(bw)) * from_bf16(static_cast<uint16_t>(aw)));
            }
            acc[r * kBf16TileCols + j] = s;
        }
}

void linear_bf16(Bf16TileKernel kernel, const float* x, int x_stride, int rows, const Bf16Matrix& w, const float* b,
                 float* y, int y_stride, bool accumulate) {
    std::vector<uint32_t> a(static_cast<size_t>(kBf16TileRows) * w.pairs);
    float acc[kBf16TileRows * kBf16TileCols];
    for (int r0 = 0; r0 < rows; r0 += kBf16TileRows) {
        const int tile_rows = std::min(kBf16TileRows, rows - r0);
        for (int r = 0; r < tile_rows; ++r) {  // this tile's rows of x, as bf16 pairs
            const float* xr = x + static_cast<size_t>(r0 + r) * x_stride;
            for (int p = 0; p < w.pairs; ++p) {
                const float hi = 2 * p + 1 < w.in ? xr[2 * p + 1] : 0.0f;
                a[static_cast<size_t>(r) * w.pairs + p] =
                    static_cast<uint32_t>(to_bf16(xr[2 * p])) | (static_cast<uint32_t>(to_bf16(hi)) << 16);
            }
        }
        for (int c0 = 0; c0 < w.out; c0 += kBf16TileCols) {
            std::fill(acc, acc + kBf16TileRows * kBf16TileCols, 0.0f);
            kernel(a.data(), w.pairs, w.words.data() + c0, w.cols, w.pairs, acc, tile_rows);
            const int cols = std::min(kBf16TileCols, w.out - c0);
            for (int r = 0; r < tile_rows; ++r) {
                float* yr = y + static_cast<size_t>(r0 + r) * y_stride + c0;
                for (int j = 0; j < cols; ++j) {
                    const float v = acc[r * kBf16TileCols + j] + (b ? b[c0 + j] : 0.0f);
                    yr[j] = accumulate ? yr[j] + v : v;
                }
            }
        }
    }
}

}  // namespace eegpt::cpu
