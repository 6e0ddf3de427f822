#include "encoder/cpu/int8.h"

#include "encoder/cpu/int8_row.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "encoder/error.h"

namespace eegpt::cpu {
namespace {

int clamp_int(int v, int lo, int hi) { return std::min(hi, std::max(lo, v)); }

// A block of x's rows is quantized once and every weight panel streamed over it, so weights are
// read from L3 (or memory) once per block: blocks as long as keep their quads within kBlockBytes,
// which leaves most of a 512 KB L2 (Zen 3) to the panel and the outputs. With the large model's
// K = 512 (qkv, proj, fc1) that is 192 rows, a whole int8 pass (kInt8RowsPerPass); with K = 2048
// (fc2) 96 rows; 192-row blocks for fc2 too measured slower on a 2-core Zen 3 (docs/cpu.md).
constexpr int kMaxBlockRows = 16 * kInt8TileRows;
constexpr size_t kBlockBytes = 192 * 1024;
int block_rows_for(int quads) {
    const size_t rows = kBlockBytes / (static_cast<size_t>(quads) * 4) / kInt8TileRows * kInt8TileRows;
    return static_cast<int>(std::max<size_t>(kInt8TileRows, std::min<size_t>(kMaxBlockRows, rows)));
}

// sum_k (w_k - s q_k)^2: how far a channel's quantization is from its weights.
double squared_error(const float* w, int in, float s, const int* q) {
    double error = 0.0;
    for (int k = 0; k < in; ++k) {
        const double e = static_cast<double>(w[k]) - static_cast<double>(s) * q[k];
        error += e * e;
    }
    return error;
}

// Rounds to the nearest integer, ties to even, as std::nearbyint does in the default rounding mode,
// for |x| <= 2^22: adding 1.5 * 2^23 leaves no fraction bits, so the sum is rounded there. Written
// out because this file is compiled for plain x86-64, where nearbyint is a call per element and the
// loop below would not vectorize (packing is a noticeable part of loading an int8 model).
float round_even(float x) {
    constexpr float kShift = 12582912.0f;  // 1.5 * 2^23
    return (x + kShift) - kShift;
}

// One output channel's quantization at range Q: q = round(w / s) within [-Q, Q], s = amax / Q.
// Returns its squared error. |w / s| <= Q (1 + 2^-23) as |w| <= amax, well within round_even's range.
double round_channel(const float* w, int in, float amax, int max_q, float& s, int* q) {
    s = amax > 0.0f ? amax / static_cast<float>(max_q) : 1.0f;  // an all-zero row: any scale, all q = 0
    for (int k = 0; k < in; ++k) q[k] = clamp_int(static_cast<int>(round_even(w[k] / s)), -max_q, max_q);
    return squared_error(w, in, s, q);
}

// Brings every lane group of q (cpu/int8.h) within kPairBound, lowering magnitudes one unit at a
// time where q_k is furthest beyond w_k / s. Returns whether any group had to change.
bool bound_groups(const float* w, int in, float s, int* q) {
    bool changed = false;
    for (int k8 = 0; k8 + 4 < in; k8 += 8)  // quads 2i and 2i + 1 both present
        for (int half = 0; half < 2; ++half) {
            int members[4], n = 0;
            for (int k : {k8 + 2 * half, k8 + 2 * half + 1, k8 + 4 + 2 * half, k8 + 5 + 2 * half})
                if (k < in) members[n++] = k;
            for (int sign : {1, -1}) {
                int part = 0;  // in integers alone first: most groups are within the bound
                for (int i = 0; i < n; ++i) part += std::max(0, sign * q[members[i]]);
                for (; part > kPairBound; --part) {  // each step lowers one member's magnitude by one
                    int pick = -1;
                    double excess = 0.0;
                    for (int i = 0; i < n; ++i) {
                        const int k = members[i];
                        if (sign * q[k] <= 0) continue;
                        const double e = sign * (q[k] - static_cast<double>(w[k]) / s);
                        if (pick < 0 || e > excess) pick = k, excess = e;
                    }
                    q[pick] -= sign;
                    changed = true;
                }
            }
        }
    return changed;
}

}  // namespace

Int8Matrix pack_int8(const float* w, int out, int in, int max_q, bool pairs) {
    if (max_q != 127 && max_q != 63) throw Error("internal error: int8 weights are packed over [-127, 127] or [-63, 63]");
    if (pairs && max_q != 63) throw Error("internal error: int8 lane groups are bounded for the 7-bit range only");
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
    m.pairs.assign(static_cast<size_t>(m.panels), 0);
    // A panel's channels at a time: their plain rounding, then, with pairs, their bounded one.
    std::vector<int> plain(static_cast<size_t>(kInt8TileCols) * in), bounded(plain.size()), trial(static_cast<size_t>(in));
    float plain_scale[kInt8TileCols], bounded_scale[kInt8TileCols], amax[kInt8TileCols];
    double plain_error[kInt8TileCols];
    for (int c = 0; c < m.panels; ++c) {
        const int c0 = c * kInt8TileCols, n = std::min(kInt8TileCols, out - c0);
        double panel_error = 0.0;
        for (int i = 0; i < n; ++i) {
            const float* wj = w + static_cast<size_t>(c0 + i) * in;
            amax[i] = 0.0f;
            for (int k = 0; k < in; ++k) amax[i] = std::max(amax[i], std::fabs(wj[k]));
            plain_error[i] = round_channel(wj, in, amax[i], max_q, plain_scale[i], plain.data() + static_cast<size_t>(i) * in);
            panel_error += plain_error[i];
        }
        // The bounded channels may add (kPairError - 1) of the panel's error; past that the panel
        // stays plain, found as soon as the channels so far have spent it (uniform weights: the first
        // few), and a range Q' is tried only while its rounding alone is below the best so far.
        bool bounded_panel = pairs;
        double spent = 0.0;
        const double budget = (kPairError - 1.0) * panel_error;
        for (int i = 0; i < n && bounded_panel; ++i) {
            const float* wj = w + static_cast<size_t>(c0 + i) * in;
            int* qb = bounded.data() + static_cast<size_t>(i) * in;
            std::copy(plain.begin() + static_cast<std::ptrdiff_t>(i) * in,
                      plain.begin() + static_cast<std::ptrdiff_t>(i + 1) * in, qb);
            bounded_scale[i] = plain_scale[i];
            if (!bound_groups(wj, in, plain_scale[i], qb)) continue;  // within the bound as rounded
            double best = squared_error(wj, in, plain_scale[i], qb);  // Q' = 63, bounded
            for (int q_range = max_q - 1; q_range >= 48; --q_range) {
                float s;
                if (round_channel(wj, in, amax[i], q_range, s, trial.data()) >= best) continue;
                bound_groups(wj, in, s, trial.data());
                const double error = squared_error(wj, in, s, trial.data());
                if (error < best) {
                    best = error;
                    bounded_scale[i] = s;
                    std::copy(trial.begin(), trial.end(), qb);
                }
            }
            spent += best - plain_error[i];
            bounded_panel = spent <= budget;
        }
        m.pairs[static_cast<size_t>(c)] = bounded_panel ? 1 : 0;
        uint32_t* panel = m.words.data() + static_cast<size_t>(c) * m.quads * kInt8TileCols;
        for (int i = 0; i < n; ++i) {
            const int* q = (bounded_panel ? bounded.data() : plain.data()) + static_cast<size_t>(i) * in;
            int32_t sum = 0;
            for (int k = 0; k < in; ++k) {
                sum += q[k];
                uint32_t& word = panel[static_cast<size_t>(k / 4) * kInt8TileCols + i];
                word |= static_cast<uint32_t>(static_cast<uint8_t>(static_cast<int8_t>(q[k]))) << (8 * (k % 4));
            }
            m.scale[static_cast<size_t>(c0 + i)] = bounded_panel ? bounded_scale[i] : plain_scale[i];
            m.column_sum[static_cast<size_t>(c0 + i)] = sum;
        }
    }
    return m;
}

void int8_tile_emulated(const uint32_t* a, const uint32_t* b, int quads, int rows, int32_t* acc) {
    for (int r = 0; r < rows; ++r)
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

void quantize_row(const float* x, int in, uint32_t* quads, int quad_stride, float& scale, int& zero_point) {
    float lo = 0.0f, hi = 0.0f, inv = 0.0f;
    bool finite = true;
    int8_row::extend_range(x, in, lo, hi, finite);
    if (!int8_row::parameters(lo, hi, finite, scale, zero_point, inv)) {
        int8_row::zero_quads(quads, (in + 3) / 4, quad_stride);
        return;
    }
    int8_row::store_quads(x, in, 0, quads, quad_stride, inv, zero_point);
}

void dequantize_tile(const int32_t* acc, int rows, int cols, const int* z, const float* xs, const float* ws,
                     const int32_t* wsum, const float* b, float* y, int y_stride, bool accumulate) {
    for (int r = 0; r < rows; ++r) {
        const int32_t* ar = acc + r * kInt8TileCols;
        float* yr = y + static_cast<size_t>(r) * y_stride;
        for (int j = 0; j < cols; ++j) {
            const float v = int8_row::dequantize(ar[j], z[r], wsum[j], xs[r], ws[j], b ? b[j] : 0.0f);
            yr[j] = accumulate ? yr[j] + v : v;
        }
    }
}

size_t int8_scratch_words(int in) {
    const int quads = (in + 3) / 4;
    return static_cast<size_t>(block_rows_for(quads)) * quads;
}

void linear_int8(const Int8Kernel& kernel, const float* x, int x_stride, int rows, const Int8Matrix& w,
                 const float* b, float* y, int y_stride, bool accumulate, uint32_t* scratch) {
    if (kernel.max_q != w.max_q) throw Error("internal error: int8 weights packed for another kernel's range");
    alignas(64) int32_t acc[kInt8TileRows * kInt8TileCols];
    float row_scale[kMaxBlockRows];
    int row_zero[kMaxBlockRows];
    const int tile_words = w.quads * kInt8TileRows;
    const int max_block_rows = block_rows_for(w.quads);
    for (int r0 = 0; r0 < rows; r0 += max_block_rows) {
        const int block_rows = std::min(max_block_rows, rows - r0);
        const int tiles = (block_rows + kInt8TileRows - 1) / kInt8TileRows;
        for (int row = 0; row < tiles * kInt8TileRows; ++row) {  // this block's rows of x, interleaved per tile
            uint32_t* quads = scratch + static_cast<size_t>(row / kInt8TileRows) * tile_words + row % kInt8TileRows;
            if (row < block_rows)
                kernel.quantize(x + static_cast<size_t>(r0 + row) * x_stride, w.in, quads, kInt8TileRows,
                                row_scale[row], row_zero[row]);
            else
                int8_row::zero_quads(quads, w.quads, kInt8TileRows);  // the last tile's rows past the block
        }
        for (int c = 0; c < w.panels; ++c) {
            const int c0 = c * kInt8TileCols, cols = std::min(kInt8TileCols, w.out - c0);
            const float* ws = w.scale.data() + c0;
            const int32_t* wsum = w.column_sum.data() + c0;
            const Int8TileFunction tile = kernel.tile_pairs && w.pairs[static_cast<size_t>(c)] ? kernel.tile_pairs : kernel.tile;
            for (int t = 0; t < tiles; ++t) {
                const int tile_rows = std::min(kInt8TileRows, block_rows - t * kInt8TileRows);
                float* yt = y + static_cast<size_t>(r0 + t * kInt8TileRows) * y_stride + c0;
                // The tile's output lines, a row stride apart (further than the hardware prefetchers
                // look ahead), fetched while the kernel runs: a batch's activations live in L3, and
                // without this the epilogue waits for them (measured: 18% of a linear layer at
                // 1,012 rows instead of 12%).
                for (int r = 0; r < tile_rows; ++r) {
                    const float* yr = yt + static_cast<size_t>(r) * y_stride;
                    __builtin_prefetch(yr, 1);
                    __builtin_prefetch(yr + 16, 1);
                    __builtin_prefetch(yr + cols - 1, 1);  // three lines where y is not aligned
                }
                tile(scratch + static_cast<size_t>(t) * tile_words, w.panel(c), w.quads, tile_rows, acc);
                // The epilogue: zero point, dequantization, bias, residual; the same for every kernel.
                kernel.dequantize(acc, tile_rows, cols, row_zero + t * kInt8TileRows, row_scale + t * kInt8TileRows,
                                  ws, wsum, b ? b + c0 : nullptr, yt, y_stride, accumulate);
            }
        }
    }
}

}  // namespace eegpt::cpu
