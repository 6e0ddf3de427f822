// int8 matrix products on the CPU (--precision int8): y = x W^T + b (+ y) with W quantized once to
// int8 and x quantized per row at run time to uint8, the products summed exactly in int32.
//
// Quantization:
//  - Weights, once at load (pack_int8): symmetric per output channel j over the kernel's range
//    [-Q, Q] (Q = 127 for VPDPBUSD, 63 for VPMADDUBSW, below), s_j = max_k |W[j][k]| / Q,
//    q_jk = round(W[j][k] / s_j).
//  - Activations, per row (token) r at run time: asymmetric uint8 over [min(x_r, 0), max(x_r, 0)],
//    t_r = (max - min) / 255, zero point z_r = round(-min (1 / t_r)), u_rk = clamp(round(x_rk (1 / t_r))
//    + z_r, 0, 255), each rounding from the exact product. Including 0 in the range keeps zero exact
//    (GELU's outputs, zero padding).
//  - y_rj = t_r s_j (sum_k u_rk q_jk - z_r sum_k q_jk) + b_j: the integer sum is exact (|sum| <=
//    K * 255 * 127, below 2^31 for K up to 66,000), the zero point corrected with the per-column sums
//    of q precomputed at load, and the dequantization, bias and residual done in one epilogue shared
//    by every kernel (defined here, in vectors per level), so that kernels with the same Q differ in
//    nothing, not one bit.
//
// Layout and blocking (as cpu/bf16.h): W's quads (4 consecutive input features of one output, one
// 32-bit word, low byte first) in panels of kInt8TileCols outputs (quad p of column j at p *
// kInt8TileCols + j); x a block of rows at a time (192, or 96 at K = 2048: cpu/int8.cpp), quantized
// into tiles of kInt8TileRows interleaved rows (quad p of row r at p * kInt8TileRows + r, zero rows
// after the last). For every panel and tile, a tile kernel sums all quads into kInt8TileRows x
// kInt8TileCols int32 (from zero):
//  - int8_tile_emulated: the exact scalar emulation, on any CPU (what the tests compare against);
//  - AVX2 (cpu/ops.cpp): VPMADDUBSW, VPMADDWD by ones, VPADDD, with Q = 63. VPMADDUBSW adds two
//    u8 x s8 products into a signed 16-bit lane with saturation: with 8-bit weights 255 * 127 * 2 =
//    64,770 > 32,767 would be clipped, silently and exactly for the large activations that matter.
//    With 7-bit weights the pair is at most 255 * 63 * 2 = 32,130 and nothing saturates, so the sums
//    are exact, as ONNX Runtime's reduce_range does it. Widening the bytes to 16 bits and VPMADDWD
//    (exact at Q = 127) was measured 25% slower in the kernel (docs/cpu.md), for 0.7 points of
//    relative error; AVX2-only CPUs are the ones int8 is for;
//    On panels whose lane groups are bounded (below) a second AVX2 kernel adds the VPMADDUBSW
//    products of two quads in 16 bits before VPMADDWD, 1.27x faster;
//  - AVX512_VNNI (VPDPBUSD on zmm, the AVX-512 module) and AVX-VNNI (VPDPBUSD on ymm, VEX, the AVX2
//    build), Q = 127: u8 x s8 quads summed into int32 without saturation (not VPDPBUSDS).
// Integer sums are exact in any order, so each kernel must equal the emulation bit for bit: the
// real-instruction tests check that where the CPU has the instructions (test/test_int8.cpp).
//
// Pairs of quads in 16 bits (Q = 63 only). VPMADDUBSW and VPMADDWD use the same two pipes, so the
// AVX2 kernel's speed is their count per product: one of each per 64. Adding the VPMADDUBSW results
// of quads 2i and 2i + 1 (VPADDW, another pipe) before one VPMADDWD makes it 1.5, but a 16-bit lane
// then sums four products, u_k q_k for k in a lane group: {8i, 8i + 1, 8i + 4, 8i + 5} or {8i + 2,
// 8i + 3, 8i + 6, 8i + 7}. As u is in [0, 255], the sum is within 255 * max(P, N) in magnitude, P
// and N the group's positive part (sum of its q > 0) and negative part (sum of |q| for q < 0): exact
// for every activation when P <= 128 and N <= 128 (255 * 128 = 32,640 <= 32,767). pack_int8 makes
// that hold per panel where it costs the weights almost nothing, and marks those panels (pairs):
//  - per output channel: if the rounding at Q = 63 leaves every group within the bound, it is kept;
//    else for each Q' from 63 down to 48, s' = max|W_j| / Q', q = round(W / s') and, in each group
//    past the bound, magnitudes lowered one unit at a time where the rounding went furthest from
//    W / s' (the least added squared error; greedy is optimal for a convex separable cost) until
//    P and N are within it; the Q' with the least squared error sum_k (W_jk - s' q_jk)^2 is kept;
//  - a panel takes those channels when their squared error is at most kPairError (1.05) times that
//    of the plain rounding at Q = 63 (at most 2.5% more weight error, about 1% more in the
//    features), else the plain rounding for all its channels, unmarked.
// Trained weights are near Gaussian or heavier-tailed, where a group past the bound needs most of
// its four weights large and of one sign: few channels need more than the plain rounding (random
// normal weights: 2.5% more squared error in all, Laplace 0.3%). Uniform weights (the engine's
// random stand-in) have no tails, P often reaches 129-252, and no panel is marked: they keep the
// kernel above and its numbers. The emulation sums every panel exactly, bounded or not.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace eegpt::cpu {

// 12 x 32 outputs: 24 zmm accumulators with AVX512_VNNI; the ymm kernels work in sub-tiles.
constexpr int kInt8TileRows = 12, kInt8TileCols = 32;

struct Int8Matrix {
    int out = 0, in = 0, quads = 0, panels = 0;  // panels: out / kInt8TileCols, rounded up
    int max_q = 127;                             // Q: every |q| <= Q
    std::vector<uint32_t> words;                 // panels x quads x kInt8TileCols
    std::vector<float> scale;                    // s_j, panels x kInt8TileCols (0 past out)
    std::vector<int32_t> column_sum;             // sum_k q_jk, panels x kInt8TileCols
    std::vector<uint8_t> pairs;                  // per panel: 1 where its lane groups are bounded (above)
    const uint32_t* panel(int c) const { return words.data() + static_cast<size_t>(c) * quads * kInt8TileCols; }
};
// W is row-major out x in (PyTorch's layout); max_q is Q, 127 or 63; pairs (Q = 63 only): panels
// bounded where they can be (above), for a kernel with tile_pairs.
Int8Matrix pack_int8(const float* w, int out, int in, int max_q, bool pairs);
// The lane groups' bound (above): the positive and the negative part of every group within 128.
constexpr int kPairBound = 128;
constexpr double kPairError = 1.05;

// acc (kInt8TileRows x kInt8TileCols int32, row-major) = a (quads x kInt8TileRows words, uint8
// quads of interleaved rows) times b (quads x kInt8TileCols words, int8 quads): for each output, the
// sum over all quads of the four byte products (modulo 2^32, as VPDPBUSD; never reached in use).
// A kernel with Q = 63 gives that sum for weight bytes in [-63, 63], what pack_int8 makes.
// Only acc's first `rows` rows (1 to kInt8TileRows) must be computed: a block's last tile is often
// part full (a window's 8 sequences of 23 tokens are 184 rows, 15 tiles and 4 rows), and the
// kernels work in groups of rows (4 or 6), so they skip the groups past `rows`; acc's rows after
// `rows` they leave as they were or fill with the sums of a's rows there (zero rows in
// linear_int8), and nothing reads them.
using Int8TileFunction = void (*)(const uint32_t* a, const uint32_t* b, int quads, int rows, int32_t* acc);
void int8_tile_emulated(const uint32_t* a, const uint32_t* b, int quads, int rows, int32_t* acc);

// One row's activation quantization (above): u[k] for k < in, its scale and zero point, with u =
// clamp(round(x inv) + z) rounded from the exact product (fused, ties to even). The bytes go out
// in quads (four, low byte first; the last quad's bytes past `in` zero), quad p at quads[p *
// quad_stride]: linear_int8 writes them straight into a tile's interleaved rows (stride
// kInt8TileRows). A row with a value that is not finite gets scale NaN, so that its outputs are NaN
// as in fp32, and zero bytes. This is the definition, in plain code; each CPU level has it in
// vectors (cpu/ops.cpp), equal bit for bit.
void quantize_row(const float* x, int in, uint32_t* quads, int quad_stride, float& scale, int& zero_point);
// The epilogue for one tile (acc: kInt8TileRows x kInt8TileCols, row-major), rows r < rows and
// columns j < cols: v = fma(acc[r][j] - z_r colsum_j, t_r s_j, b_j or 0), y[r y_stride + j] = v
// or y[r y_stride + j] + v. The definition, as quantize_row's. A whole tile per call, so that the
// vector versions load a panel's scales, column sums and bias once for its rows.
void dequantize_tile(const int32_t* acc, int rows, int cols, const int* z, const float* xs, const float* ws,
                     const int32_t* wsum, const float* b, float* y, int y_stride, bool accumulate);

// An int8 kernel: its tile function, the Q its weights must be packed with, and the quantization
// and epilogue of its CPU level (its vector code, or the definitions above for the emulation).
struct Int8Kernel {
    Int8TileFunction tile = nullptr;
    int max_q = 127;
    decltype(&quantize_row) quantize = quantize_row;
    decltype(&dequantize_tile) dequantize = dequantize_tile;
    Int8TileFunction tile_pairs = nullptr;  // for the bounded panels (pairs[c]); null: tile for all
};
// The emulation as a kernel for weights packed with max_q, in plain code throughout; for Q = 63 it
// takes bounded panels as the AVX2 kernel does (its sums are exact either way), so that the two
// pack the same weights and give the same features.
inline Int8Kernel int8_emulated(int max_q) {
    return {int8_tile_emulated, max_q, quantize_row, dequantize_tile, max_q == 63 ? int8_tile_emulated : nullptr};
}

// Words of scratch linear_int8 needs for `in` input features: one block of x as uint8 quads.
size_t int8_scratch_words(int in);

// y[rows x w.out] = x W^T + b as above, or y += that when accumulate; b may be null; w packed with
// the kernel's Q; scratch holds int8_scratch_words(w.in) words (the caller's, so that nothing is
// allocated inside its threads).
void linear_int8(const Int8Kernel& kernel, const float* x, int x_stride, int rows, const Int8Matrix& w,
                 const float* b, float* y, int y_stride, bool accumulate, uint32_t* scratch);

}  // namespace eegpt::cpu
