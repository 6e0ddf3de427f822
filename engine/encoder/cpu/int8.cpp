#include "encoder/cpu/int8.h"

#include "encoder/cpu/int8_row.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "encoder/error.h"

namespace eegpt::cpu {
namespace {

int clamp_int(int v, int lo, int hi) { return std::min(hi, std::max(lo, v)); }

constexpr int kBlockRows = 8 * kInt8TileRows;  // 96 rows: with K = 2048, 192 KB of quads, in L2

}  // namespace

Int8Matrix pack_int8(const float* w, int out, int in, int max_q) {
    if (max_q != 127 && max_q != 63) throw Error("internal error: int8 weights are packed over [-127, 127] or [-63, 63]");
    Int8Matrix m;
    m.max_q = max_q;
    m.out = out;
    m.in = in;
    m.quads = (in + 3) / 4;
    m.panels = (out + kInt8TileCols - 1) / kInt8TileCols;
    const size_t cols = static_cast<size_t>(m.panels) * kInt8TileCols;
    m.words.assign(cols * m.quads, 0u);
    m.scale.assign(cols, 0.0f);
    m.column_sum.assign(cols, 0);
    for (int j = 0; j < out; ++j) {
        const float* wj = w + static_cast<size_t>(j) * in;
        float amax = 0.0f;
        for (int k = 0; k < in; ++k) amax = std::max(amax, std::fabs(wj[k]));
        const float s = amax > 0.0f ? amax / static_cast<float>(max_q) : 1.0f;  // an all-zero row: any scale, all q = 0
        uint32_t* panel = m.words.data() + static_cast<size_t>(j / kInt8TileCols) * m.quads * kInt8TileCols;
        int32_t sum = 0;
        for (int k = 0; k < in; ++k) {
            const int q = clamp_int(static_cast<int>(std::nearbyint(wj[k] / s)), -max_q, max_q);
            sum += q;
            uint32_t& word = panel[static_cast<size_t>(k / 4) * kInt8TileCols + j % kInt8TileCols];
            word |= static_cast<uint32_t>(static_cast<uint8_t>(static_cast<int8_t>(q))) << (8 * (k % 4));
        }
        m.scale[static_cast<size_t>(j)] = s;
        m.column_sum[static_cast<size_t>(j)] = sum;
    }
    return m;
}

void int8_tile_emulated(const uint32_t* a, const uint32_t* b, int quads, int32_t* acc) {
    for (int r = 0; r < kInt8TileRows; ++r)
        for (int j = 0; j < kInt8TileCols; ++j) {
            uint32_t s = 0;  // unsigned: wraps modulo 2^32 as the instructions do, without undefined behaviour
            for (int p = 0; p < quads; ++p) {
                const uint32_t aw = a[static_cast<size_t>(p) * kInt8TileRows + r];
                const uint32_t bw = b[static_cast<size_t>(p) * kInt8TileCols + j];
                for (int i = 0; i < 4; ++i) {
                    const int u = static_cast<int>((aw >> (8 * i)) & 0xFFu);
                    const int q = static_cast<int8_t>(static_cast<uint8_t>(bw >> (8 * i)));
                    s += static_cast<uint32_t>(u * q);
                }
            }
            acc[r * kInt8TileCols + j] = static_cast<int32_t>(s);
        }
}

void quantize_row(const float* x, int in, uint8_t* u, float& scale, int& zero_point) {
    float lo = 0.0f, hi = 0.0f, inv = 0.0f;
    bool finite = true;
    int8_row::extend_range(x, in, lo, hi, finite);
    if (!int8_row::parameters(lo, hi, finite, in, u, scale, zero_point, inv)) return;
    for (int k = 0; k < in; ++k) u[k] = int8_row::quantize(x[k], inv, zero_point);
}

void dequantize_row(const int32_t* acc, int cols, int z, float xs, const float* ws, const int32_t* wsum,
                    const float* b, float* y, bool accumulate) {
    for (int j = 0; j < cols; ++j) {
        const float v = int8_row::dequantize(acc[j], z, wsum[j], xs, ws[j], b ? b[j] : 0.0f);
        y[j] = accumulate ? y[j] + v : v;
    }
}

size_t int8_scratch_words(int in) {
    const size_t quads = static_cast<size_t>(in + 3) / 4;
    return static_cast<size_t>(kBlockRows) * quads + quads;  // the block, then one row's bytes
}

void linear_int8(const Int8Kernel& kernel, const float* x, int x_stride, int rows, const Int8Matrix& w,
                 const float* b, float* y, int y_stride, bool accumulate, uint32_t* scratch) {
    if (kernel.max_q != w.max_q) throw Error("internal error: int8 weights packed for another kernel's range");
    alignas(64) int32_t acc[kInt8TileRows * kInt8TileCols];
    float row_scale[kBlockRows];
    int row_zero[kBlockRows];
    const int tile_words = w.quads * kInt8TileRows;
    uint32_t* row_words = scratch + static_cast<size_t>(kBlockRows) * w.quads;
    uint8_t* row_bytes = reinterpret_cast<uint8_t*>(row_words);
    for (int r0 = 0; r0 < rows; r0 += kBlockRows) {
        const int block_rows = std::min(kBlockRows, rows - r0);
        const int tiles = (block_rows + kInt8TileRows - 1) / kInt8TileRows;
        for (int t = 0; t < tiles; ++t) {  // this block's rows of x quantized, interleaved per tile
            uint32_t* at = scratch + static_cast<size_t>(t) * tile_words;
            for (int r = 0; r < kInt8TileRows; ++r) {
                const int row = t * kInt8TileRows + r;
                if (row < block_rows) {
                    row_words[w.quads - 1] = 0u;  // the last quad's bytes past `in` stay zero
                    kernel.quantize(x + static_cast<size_t>(r0 + row) * x_stride, w.in, row_bytes, row_scale[row],
                                    row_zero[row]);
                } else {
                    std::fill(row_words, row_words + w.quads, 0u);
                }
                for (int p = 0; p < w.quads; ++p) at[static_cast<size_t>(p) * kInt8TileRows + r] = row_words[p];
            }
        }
        for (int c = 0; c < w.panels; ++c) {
            const int c0 = c * kInt8TileCols, cols = std::min(kInt8TileCols, w.out - c0);
            const float* ws = w.scale.data() + c0;
            const int32_t* wsum = w.column_sum.data() + c0;
            for (int t = 0; t < tiles; ++t) {
                kernel.tile(scratch + static_cast<size_t>(t) * tile_words, w.panel(c), w.quads, acc);
                const int tile_rows = std::min(kInt8TileRows, block_rows - t * kInt8TileRows);
                // The epilogue: zero point, dequantization, bias, residual; the same for every kernel.
                for (int r = 0; r < tile_rows; ++r) {
                    const int row = t * kInt8TileRows + r;
                    kernel.dequantize(acc + r * kInt8TileCols, cols, row_zero[row], row_scale[row], ws, wsum,
                                      b ? b + c0 : nullptr, y + static_cast<size_t>(r0 + row) * y_stride + c0,
                                      accumulate);
                }
            }
        }
    }
}

}  // namespace eegpt::cpu
