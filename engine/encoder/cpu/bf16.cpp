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

namespace {
uint32_t pair_word(float lo, float hi) {
    return static_cast<uint32_t>(to_bf16(lo)) | (static_cast<uint32_t>(to_bf16(hi)) << 16);
}
}  // namespace

Bf16Matrix pack_bf16(const float* w, int out, int in) {
    Bf16Matrix m;
    m.out = out;
    m.in = in;
    m.pairs = (in + 1) / 2;
    m.panels = (out + kBf16TileCols - 1) / kBf16TileCols;
    m.words.assign(static_cast<size_t>(m.panels) * m.pairs * kBf16TileCols, 0u);
    for (int j = 0; j < out; ++j) {
        const float* wj = w + static_cast<size_t>(j) * in;
        uint32_t* panel = m.words.data() + static_cast<size_t>(j / kBf16TileCols) * m.pairs * kBf16TileCols;
        for (int p = 0; p < m.pairs; ++p)
            panel[static_cast<size_t>(p) * kBf16TileCols + j % kBf16TileCols] =
                pair_word(wj[2 * p], 2 * p + 1 < in ? wj[2 * p + 1] : 0.0f);
    }
    return m;
}

void dpbf16_tile_emulated(const uint32_t* a, const uint32_t* b, int pairs, float* acc) {
    for (int r = 0; r < kBf16TileRows; ++r)
        for (int j = 0; j < kBf16TileCols; ++j) {
            float s = acc[r * kBf16TileCols + j];
            for (int p = 0; p < pairs; ++p) {
                const uint32_t aw = a[static_cast<size_t>(p) * kBf16TileRows + r];
                const uint32_t bw = b[static_cast<size_t>(p) * kBf16TileCols + j];
                s = flush(s + from_bf16(static_cast<uint16_t>(bw >> 16)) * from_bf16(static_cast<uint16_t>(aw >> 16)));
                s = flush(s + from_bf16(static_cast<uint16_t>(bw)) * from_bf16(static_cast<uint16_t>(aw)));
            }
            acc[r * kBf16TileCols + j] = s;
        }
}

namespace {
constexpr int kBlockRows = 8 * kBf16TileRows;  // 96 rows: with K = 2048, 384 KB of pairs, in L2
}  // namespace

size_t bf16_scratch_words(int in) { return static_cast<size_t>(kBlockRows) * ((in + 1) / 2); }

void linear_bf16(Bf16TileKernel kernel, const float* x, int x_stride, int rows, const Bf16Matrix& w, const float* b,
                 float* y, int y_stride, bool accumulate, uint32_t* scratch) {
    float acc[kBf16TileRows * kBf16TileCols];
    for (int r0 = 0; r0 < rows; r0 += kBlockRows) {
        const int block_rows = std::min(kBlockRows, rows - r0);
        const int tiles = (block_rows + kBf16TileRows - 1) / kBf16TileRows;
        for (int t = 0; t < tiles; ++t) {  // this block's rows of x as bf16 pairs, interleaved per tile
            uint32_t* at = scratch + static_cast<size_t>(t) * w.pairs * kBf16TileRows;
            for (int r = 0; r < kBf16TileRows; ++r) {
                const int row = t * kBf16TileRows + r;
                if (row >= block_rows) {
                    for (int p = 0; p < w.pairs; ++p) at[static_cast<size_t>(p) * kBf16TileRows + r] = 0u;
                    continue;
                }
                const float* xr = x + static_cast<size_t>(r0 + row) * x_stride;
                for (int p = 0; p < w.pairs; ++p)
                    at[static_cast<size_t>(p) * kBf16TileRows + r] =
                        pair_word(xr[2 * p], 2 * p + 1 < w.in ? xr[2 * p + 1] : 0.0f);
            }
        }
        for (int c = 0; c < w.panels; ++c) {
            const int c0 = c * kBf16TileCols, cols = std::min(kBf16TileCols, w.out - c0);
            for (int t = 0; t < tiles; ++t) {
                std::fill(acc, acc + kBf16TileRows * kBf16TileCols, 0.0f);
                kernel(scratch + static_cast<size_t>(t) * w.pairs * kBf16TileRows, w.panel(c), w.pairs, acc);
                const int tile_rows = std::min(kBf16TileRows, block_rows - t * kBf16TileRows);
                for (int r = 0; r < tile_rows; ++r) {
                    float* yr = y + static_cast<size_t>(r0 + t * kBf16TileRows + r) * y_stride + c0;
                    for (int j = 0; j < cols; ++j) {
                        const float v = acc[r * kBf16TileCols + j] + (b ? b[c0 + j] : 0.0f);
                        yr[j] = accumulate ? yr[j] + v : v;
                    }
                }
            }
        }
    }
}

}  // namespace eegpt::cpu
