// The CPU encoder's fp32 GEMM (engine/encoder/cpu/gemm.h): every ISA level's kernel against a
// float64 product within the rounding bound of fp32 sums, on shapes that cross every block and edge
// (rows not a multiple of the tile, several K blocks, outputs not a multiple of the panel, strided
// x and y, accumulate, no bias), outputs poisoned; and each kernel against its exact scalar
// emulation (gemm_kernel.h with ScalarVec: std::fma per lane, same order), bit for bit. The
// emulation of the AVX-512 shape (14 x 32) runs on every machine, so its blocking is tested here
// even where only the AVX2 kernel can run; the real AVX-512 kernel is compared where the CPU has it.
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "catch_compat.h"
#include "encoder/cpu/gemm_kernel.h"
#include "encoder/cpu/ops.h"
#include "test_helpers.h"

using namespace eegpt;
using eegpt_test::randn;

namespace {

struct Shape {
    int rows, in, out, x_stride, y_stride;
};

// Edges of both kernels (MR 6 / 14, nr 16 / 32, kc 256 / 128, 96-row blocks) and the encoder's shapes.
const Shape kShapes[] = {
    {1, 1, 1, 1, 1},           {5, 3, 17, 4, 19},          {6, 512, 16, 512, 16},    {7, 513, 33, 520, 40},
    {97, 600, 40, 600, 48},    {184, 512, 160, 512, 176}, {200, 1100, 31, 1100, 31}, {23, 2048, 64, 2048, 64},
    {15, 257, 95, 257, 100},
};

using GemmFn = void (*)(const float*, int, int, const cpu::PackedWeights&, const float*, float*, int, bool, float*);

// A kernel with its panel width and scratch size.
struct Kernel {
    GemmFn fn;
    int nr;
    size_t scratch;
};

template <class G>
void emulated_linear(const float* x, int x_stride, int rows, const cpu::PackedWeights& w, const float* b, float* y,
                     int y_stride, bool accumulate, float* scratch) {
    G::linear(x, x_stride, rows, w, b, y, y_stride, accumulate, scratch);
}
template <class G>
Kernel emulated() {
    return {emulated_linear<G>, G::kNr, G::kScratch};
}
Kernel of(const cpu::Ops& ops) { return {ops.linear_packed, ops.gemm_nr, ops.gemm_scratch}; }

struct Run {
    std::vector<float> y;
    bool untouched_kept = true;  // the padding between rows of y still holds its sentinel
};

// One product on random data; y is poisoned with NaN where it is written (so a missed element
// stays NaN) unless accumulating, and with a sentinel in the padding of each row, which must survive.
Run run(const Kernel& k, const Shape& s, bool accumulate, bool bias, unsigned seed) {
    const auto x = randn(static_cast<size_t>(s.rows) * s.x_stride, seed);
    const auto w = randn(static_cast<size_t>(s.out) * s.in, seed + 1);
    const auto b = randn(static_cast<size_t>(s.out), seed + 2);
    const cpu::PackedWeights packed = cpu::pack_weights(w.data(), s.out, s.in, k.nr);
    Run r;
    r.y = accumulate ? randn(static_cast<size_t>(s.rows) * s.y_stride, seed + 3)
                     : std::vector<float>(static_cast<size_t>(s.rows) * s.y_stride, std::nanf(""));
    const float sentinel = 12345.0f;
    for (int i = 0; i < s.rows; ++i)
        for (int j = s.out; j < s.y_stride; ++j) r.y[static_cast<size_t>(i) * s.y_stride + j] = sentinel;
    std::vector<float> scratch(k.scratch, std::nanf(""));
    k.fn(x.data(), s.x_stride, s.rows, packed, bias ? b.data() : nullptr, r.y.data(), s.y_stride, accumulate,
         scratch.data());
    for (int i = 0; i < s.rows; ++i)
        for (int j = s.out; j < s.y_stride; ++j)
            if (r.y[static_cast<size_t>(i) * s.y_stride + j] != sentinel) r.untouched_kept = false;
    return r;
}

// Every element within the bound of an fp32 sum of n terms: |error| <= (n + 2) u sum |terms| with
// u = 2^-24 (Higham's gamma_n, first order), the terms being the products, the bias and the old y.
void check_against_float64(const Kernel& kernel, const char* what) {
    for (const Shape& s : kShapes)
        for (bool accumulate : {false, true})
            for (bool bias : {true, false}) {
                INFO(what << ": " << s.rows << " x " << s.in << " -> " << s.out << ", accumulate " << accumulate
                          << ", bias " << bias);
                const unsigned seed = static_cast<unsigned>(s.rows * 7 + s.in * 3 + s.out);
                const Run r = run(kernel, s, accumulate, bias, seed);
                const auto x = randn(static_cast<size_t>(s.rows) * s.x_stride, seed);
                const auto w = randn(static_cast<size_t>(s.out) * s.in, seed + 1);
                const auto b = randn(static_cast<size_t>(s.out), seed + 2);
                const auto y0 = randn(static_cast<size_t>(s.rows) * s.y_stride, seed + 3);
                CHECK(r.untouched_kept);
                int bad = 0;
                for (int i = 0; i < s.rows; ++i)
                    for (int j = 0; j < s.out; ++j) {
                        double sum = 0, mag = 0;
                        for (int k = 0; k < s.in; ++k) {
                            const double t = static_cast<double>(x[static_cast<size_t>(i) * s.x_stride + k]) *
                                             w[static_cast<size_t>(j) * s.in + k];
                            sum += t;
                            mag += std::fabs(t);
                        }
                        if (bias) sum += b[static_cast<size_t>(j)], mag += std::fabs(b[static_cast<size_t>(j)]);
                        if (accumulate) {
                            const double old = y0[static_cast<size_t>(i) * s.y_stride + j];
                            sum += old;
                            mag += std::fabs(old);
                        }
                        const double got = r.y[static_cast<size_t>(i) * s.y_stride + j];
                        const double bound = (s.in + 2) * std::ldexp(1.0, -24) * mag;
                        if (!(std::fabs(got - sum) <= bound)) ++bad;
                    }
                CHECK(bad == 0);
            }
}

void check_bitwise(const Kernel& kernel, const Kernel& emulation, const char* what) {
    for (const Shape& s : kShapes)
        for (bool accumulate : {false, true}) {
            INFO(what << ": " << s.rows << " x " << s.in << " -> " << s.out << ", accumulate " << accumulate);
            const Run got = run(kernel, s, accumulate, true, 77), want = run(emulation, s, accumulate, true, 77);
            CHECK(std::memcmp(got.y.data(), want.y.data(), got.y.size() * sizeof(float)) == 0);
        }
}

using EmulatedAvx2 = cpu::GemmKernel<cpu::ScalarVec, 6, 16>;
using EmulatedAvx512 = cpu::GemmKernel<cpu::ScalarVec, 14, 32>;

}  // namespace

TEST_CASE("gemm: the exact emulations of the AVX2 and AVX-512 kernels are within fp32 rounding of float64",
          "[gemm]") {
    check_against_float64(emulated<EmulatedAvx2>(), "emulated avx2 6 x 16");
    check_against_float64(emulated<EmulatedAvx512>(), "emulated avx512 14 x 32");
}

TEST_CASE("gemm: the AVX2 kernel is within fp32 rounding of float64 and equals its emulation bit for bit",
          "[gemm][isa]") {
    const cpu::Ops& avx2 = cpu::ops(cpu::Isa::avx2);
    REQUIRE(avx2.gemm_nr == EmulatedAvx2::kNr);
    REQUIRE(avx2.gemm_scratch == EmulatedAvx2::kScratch);
    check_against_float64(of(avx2), "avx2");
    check_bitwise(of(avx2), emulated<EmulatedAvx2>(), "avx2 vs its emulation");
}

TEST_CASE("gemm: the AVX-512 kernel is within fp32 rounding of float64 and equals its emulation bit for bit",
          "[gemm][isa]") {
    const std::string why = cpu::isa_unavailable_reason(cpu::Isa::avx512);
    if (!why.empty()) EEGPT_SKIP("avx512: " << why);
    const cpu::Ops& avx512 = cpu::ops(cpu::Isa::avx512);
    REQUIRE(avx512.gemm_nr == EmulatedAvx512::kNr);
    REQUIRE(avx512.gemm_scratch == EmulatedAvx512::kScratch);
    check_against_float64(of(avx512), "avx512");
    check_bitwise(of(avx512), emulated<EmulatedAvx512>(), "avx512 vs its emulation");
}

TEST_CASE("gemm: weights packed for another kernel width are refused", "[gemm][errors]") {
    const auto w = randn(16 * 8, 5);
    const cpu::PackedWeights wrong = cpu::pack_weights(w.data(), 16, 8, 4);
    const cpu::Ops& ops = cpu::ops(cpu::Isa::avx2);
    std::vector<float> x(8, 1.0f), y(16), scratch(ops.gemm_scratch);
    CHECK_THROWS(ops.linear_packed(x.data(), 8, 1, wrong, nullptr, y.data(), 16, false, scratch.data()));
}
