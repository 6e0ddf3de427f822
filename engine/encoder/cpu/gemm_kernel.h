// The blocked product of cpu/gemm.h for one vector type: included by cpu/ops.cpp once per ISA level
// (AVX2: 6 x 16 tiles; AVX-512: 14 x 32) and by the tests with ScalarVec, an exact scalar
// emulation (std::fma per lane, the same order of operations), so that the blocking, packing and
// edges of every ISA's shape are checked bit for bit on any CPU.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstddef>

#include "encoder/cpu/gemm.h"

namespace eegpt::cpu {

// The vector interface the kernel is written against, for one lane: cpu/ops.cpp defines its level's
// (AVX2: __m256, AVX-512: __m512) in the level's namespace.
struct ScalarVec {
    using type = float;
    static constexpr int lanes = 1;
    static type zero() { return 0.0f; }
    static type load(const float* p) { return *p; }
    static void store(float* p, type v) { *p = v; }
    static type broadcast(const float* p) { return *p; }
    static type fma(type a, type b, type c) { return std::fma(a, b, c); }
    static type add(type a, type b) { return a + b; }
};

template <class V, int MR, int NV>
struct GemmKernel {
    static constexpr int kMr = MR, kNr = V::lanes * NV;
    // A panel's block (kKc x kNr floats, 16 KB) and a tile of x (kKc x MR) fit L1 together; kMc rows
    // of x by kKc stay in L2.
    static constexpr int kKc = 4096 / kNr, kMc = 96;

    // c[0..m) x [0..kNr) (row stride ldc) = a b (+ c when add_c) (+ bias): a is kc x MR interleaved
    // rows, b kc x kNr, the MR x kNr sums in registers.
    static void tile(int kc, const float* a, const float* b, float* c, size_t ldc, int m, const float* bias,
                     bool add_c) {
        // y's tile is read or written once the sums are done: ask for it now.
        for (int r = 0; r < m; ++r)
            for (int v = 0; v < kNr; v += 16) __builtin_prefetch(c + static_cast<size_t>(r) * ldc + v, 1);
        typename V::type acc[MR][NV];
        for (int r = 0; r < MR; ++r)
            for (int v = 0; v < NV; ++v) acc[r][v] = V::zero();
        for (int k = 0; k < kc; ++k) {
            typename V::type bv[NV];
            for (int v = 0; v < NV; ++v) bv[v] = V::load(b + static_cast<size_t>(k) * kNr + v * V::lanes);
            for (int r = 0; r < MR; ++r) {
                const typename V::type av = V::broadcast(a + static_cast<size_t>(k) * MR + r);
                for (int v = 0; v < NV; ++v) acc[r][v] = V::fma(av, bv[v], acc[r][v]);
            }
        }
        for (int r = 0; r < MR; ++r) {
            if (r >= m) break;
            float* cr = c + static_cast<size_t>(r) * ldc;
            for (int v = 0; v < NV; ++v) {
                typename V::type t = acc[r][v];
                if (add_c) t = V::add(t, V::load(cr + v * V::lanes));
                if (bias) t = V::add(t, V::load(bias + v * V::lanes));
                V::store(cr + v * V::lanes, t);
            }
        }
    }

    // Floats of scratch linear needs: one block of x in tiles.
    static constexpr size_t kScratch = static_cast<size_t>((kMc + MR - 1) / MR) * MR * kKc;

    // y[rows x w.out] = x W^T + b, or y += that when accumulate; b may be null; w.nr == kNr; scratch
    // holds kScratch floats (the caller's, so that nothing is allocated inside its threads).
    static void linear(const float* x, int x_stride, int rows, const PackedWeights& w, const float* bias, float* y,
                       int y_stride, bool accumulate, float* scratch) {
        alignas(64) float edge[MR * kNr];  // the last panel's tile when w.out is not a multiple of kNr
        alignas(64) float edge_bias[kNr];
        for (int k0 = 0; k0 < w.in; k0 += kKc) {
            const int kc = std::min(kKc, w.in - k0);
            const bool first = k0 == 0, add_c = accumulate || !first;
            for (int i0 = 0; i0 < rows; i0 += kMc) {
                const int mc = std::min(kMc, rows - i0), tiles = (mc + MR - 1) / MR;
                pack_rows(x + static_cast<size_t>(i0) * x_stride + k0, x_stride, mc, kc, tiles, scratch);
                for (int p = 0; p < w.panels; ++p) {
                    const float* b = w.panel(p) + static_cast<size_t>(k0) * kNr;
                    const int n0 = p * kNr, nc = std::min(kNr, w.out - n0);
                    const float* pb = first && bias ? bias + n0 : nullptr;
                    if (nc < kNr && pb) {
                        std::fill(edge_bias, edge_bias + kNr, 0.0f);
                        std::copy(pb, pb + nc, edge_bias);
                        pb = edge_bias;
                    }
                    // The next panel's block (kc x kNr floats, from L3 the first time) is fetched in
                    // slices, one per tile, while this panel's tiles compute.
                    const float* next = p + 1 < w.panels ? w.panel(p + 1) + static_cast<size_t>(k0) * kNr : nullptr;
                    const int lines = kc * kNr / 16, per_tile = (lines + tiles - 1) / tiles;
                    for (int t = 0; t < tiles; ++t) {
                        const int m = std::min(MR, mc - t * MR);
                        if (next)
                            for (int l = t * per_tile; l < std::min(lines, (t + 1) * per_tile); ++l)
                                __builtin_prefetch(next + static_cast<size_t>(l) * 16, 0, 2);  // to L2
                        const float* a = scratch + static_cast<size_t>(t) * kc * MR;
                        float* c = y + static_cast<size_t>(i0 + t * MR) * y_stride + n0;
                        if (nc == kNr) {
                            tile(kc, a, b, c, static_cast<size_t>(y_stride), m, pb, add_c);
                            continue;
                        }
                        for (int r = 0; r < m; ++r)
                            if (add_c) std::copy(c + static_cast<size_t>(r) * y_stride,
                                                 c + static_cast<size_t>(r) * y_stride + nc, edge + r * kNr);
                        tile(kc, a, b, edge, kNr, m, pb, add_c);
                        for (int r = 0; r < m; ++r)
                            std::copy(edge + r * kNr, edge + r * kNr + nc, c + static_cast<size_t>(r) * y_stride);
                    }
                }
            }
        }
    }

private:
    // Rows [0, mc) x columns [0, kc) of x into tiles of MR interleaved rows, zero rows after mc.
    static void pack_rows(const float* x, int x_stride, int mc, int kc, int tiles, float* out) {
        for (int t = 0; t < tiles; ++t) {
            float* o = out + static_cast<size_t>(t) * kc * MR;
            for (int r = 0; r < MR; ++r) {
                const int row = t * MR + r;
                if (row < mc) {
                    const float* xr = x + static_cast<size_t>(row) * x_stride;
                    for (int k = 0; k < kc; ++k) o[static_cast<size_t>(k) * MR + r] = xr[k];
                } else {
                    for (int k = 0; k < kc; ++k) o[static_cast<size_t>(k) * MR + r] = 0.0f;
                }
            }
        }
    }
};

}  // namespace eegpt::cpu
