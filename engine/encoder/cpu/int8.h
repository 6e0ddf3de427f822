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
//  - AVX512_VNNI (VPDPBUSD on zmm, the AVX-512 module) and AVX-VNNI (VPDPBUSD on ymm, VEX, the AVX2
//    build), Q = 127: u8 x s8 quads summed into int32 without saturation (not VPDPBUSDS).
// Integer sums are exact in any order, so each kernel must equal the emulation bit for bit: the
// real-instruction tests check that where the CPU has the instructions (test/test_int8.cpp).
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
    const uint32_t* panel(int c) const { return words.data() + static_cast<size_t>(c) * quads * kInt8TileCols; }
};
// W is row-major out x in (PyTorch's layout); max_q is Q, 127 or 63.
Int8Matrix pack_int8(const float* w, int out, int in, int max_q);

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
};
// The emulation as a kernel for weights packed with max_q, in plain code throughout.
inline Int8Kernel int8_emulated(int max_q) { return {int8_tile_emulated, max_q, quantize_row, dequantize_tile}; }

// Words of scratch linear_int8 needs for `in` input features: one block of x as uint8 quads.
size_t int8_scratch_words(int in);

// y[rows x w.out] = x W^T + b as above, or y += that when accumulate; b may be null; w packed with
// the kernel's Q; scratch holds int8_scratch_words(w.in) words (the caller's, so that nothing is
// allocated inside its threads).
void linear_int8(const Int8Kernel& kernel, const float* x, int x_stride, int rows, const Int8Matrix& w,
                 const float* b, float* y, int y_stride, bool accumulate, uint32_t* scratch);

}  // namespace eegpt::cpu
