// CUDA backend tests: each kernel against a plain CPU reference (fresh random inputs, outputs
// poisoned with NaN before every run so that an unwritten element fails), the cuBLASLt linear
// layer in the three precisions, the whole encoder against the CPU fp32 path, and the
// `eegpt encode` file path. Built only with the CUDA backend. Every test that needs a GPU reports
// itself skipped, with the reason, when the runtime finds none.
//
// Tags: [cuda][kernels] hand-written kernels, [cuda][gemm] cuBLASLt, [cuda][encoder] parity,
// [cuda][cli] file path and the eegpt binary. tools/device_check.sh runs [kernels], [gemm] and
// [one-call] (one encoder call per precision) under compute-sanitizer. Timing is the bench's
// (bench_eegpt "[gpu]").
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "catch_compat.h"
#include "encoder/cpu/ops.h"
#include "encoder/cuda/cublaslt_linear.h"
#include "encoder/cuda/encoder_cuda.h"
#include "encoder/conventions.h"
#include "encoder/encoder.h"
#include "encoder/error.h"
#include "encoder/io/hdf5.h"
#include "encoder/io/window_file.h"
#include "kernels/kernels.h"
#include "parity.h"
#include "reference_encoder.h"
#ifdef EEGPT_BIN
#include "recordings/synthetic_recording.h"
#endif
#ifdef EEGPT_TEST_HEADS
#include "recordings/heads/head.h"
#endif
#include "test_helpers.h"

using namespace eegpt;
using eegpt_test::encode_with;
using eegpt_test::first_ids;
using eegpt_test::min_window_cosine;
using eegpt_test::randn;
using eegpt_test::relative_error;
using eegpt_test::TempPath;
using Catch::Matchers::Contains;

#define REQUIRE_CUDA_DEVICE()                                      \
    do {                                                           \
        const std::string why_ = eegpt::cuda_device_unavailable_reason(); \
        if (!why_.empty()) EEGPT_SKIP("no CUDA device: " << why_); \
    } while (false)

namespace {

using bf16 = __nv_bfloat16;

// A device array for one test; cudaMemcpy and cudaMemset run on the legacy default stream, which
// the kernels below are launched on too (stream 0), so they are ordered.
template <typename T>
class DeviceArray {
public:
    explicit DeviceArray(size_t n) : n_(n) { REQUIRE(cudaMalloc(&ptr_, std::max<size_t>(n, 1) * sizeof(T)) == cudaSuccess); }
    explicit DeviceArray(const std::vector<T>& host) : DeviceArray(host.size()) { upload(host); }
    ~DeviceArray() { cudaFree(ptr_); }
    DeviceArray(const DeviceArray&) = delete;
    DeviceArray& operator=(const DeviceArray&) = delete;
    void upload(const std::vector<T>& host) {
        REQUIRE(host.size() == n_);
        REQUIRE(cudaMemcpy(ptr_, host.data(), n_ * sizeof(T), cudaMemcpyHostToDevice) == cudaSuccess);
    }
    std::vector<T> download() const {
        std::vector<T> host(n_);
        REQUIRE(cudaMemcpy(host.data(), ptr_, n_ * sizeof(T), cudaMemcpyDeviceToHost) == cudaSuccess);
        return host;
    }
    // All bits set: a NaN in fp32 and in bf16, so any element a kernel fails to write shows up.
    void poison() { REQUIRE(cudaMemset(ptr_, 0xFF, n_ * sizeof(T)) == cudaSuccess); }
    T* get() const { return ptr_; }

private:
    T* ptr_ = nullptr;
    size_t n_;
};

void require_ran(cudaError_t launch) {
    REQUIRE(launch == cudaSuccess);
    REQUIRE(cudaDeviceSynchronize() == cudaSuccess);
}

std::vector<bf16> to_bf16(const std::vector<float>& v) {
    std::vector<bf16> out(v.size());
    for (size_t i = 0; i < v.size(); ++i) out[i] = __float2bfloat16_rn(v[i]);
    return out;
}

std::vector<float> to_float(const std::vector<float>& v) { return v; }
std::vector<float> to_float(const std::vector<bf16>& v) {
    std::vector<float> out(v.size());
    for (size_t i = 0; i < v.size(); ++i) out[i] = __bfloat162float(v[i]);
    return out;
}

template <typename T>
bool all_finite(const std::vector<T>& v) {
    return std::all_of(v.begin(), v.end(), [](T x) { return std::isfinite(static_cast<double>(x)); });
}

// Tolerance of the output precision of a kernel: fp32 outputs are compared at fp32 accuracy, bf16
// outputs at half a bf16 step (2^-8 relative) plus the fp32 error.
template <typename T>
constexpr double output_tolerance(double fp32_tolerance) {
    return sizeof(T) == sizeof(float) ? fp32_tolerance : 4e-3;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Kernels
// ---------------------------------------------------------------------------------------------

TEST_CASE("cuda kernel: patch embedding with channel embedding and summary tokens", "[cuda][kernels]") {
    REQUIRE_CUDA_DEVICE();
    struct Case {
        int batch, channels, samples, patch, stride, dim, embed_num;
    };
    // Stride below the patch: overlapping patches (braindecode's EEGPT), 31 per 1024 samples at 32.
    // Windows that are not a patch plus whole strides (537 at 32, 2000 and 100 at 64): the samples
    // past the last whole patch are ignored, as by the released Conv2d.
    const Case cases[] = {{2, 5, 192, 64, 64, 64, 4},  {1, 58, 256, 64, 64, 512, 4}, {3, 1, 64, 64, 64, 96, 1},
                          {2, 19, 128, 32, 32, 80, 2}, {2, 19, 1024, 64, 32, 64, 4}, {1, 7, 112, 64, 16, 48, 2},
                          {2, 5, 537, 64, 32, 64, 4},  {1, 3, 2000, 64, 64, 32, 1},  {2, 4, 100, 64, 64, 48, 2}};
    unsigned seed = 100;
    for (const Case& c : cases) {
        INFO("batch " << c.batch << " channels " << c.channels << " samples " << c.samples << " stride " << c.stride
                      << " dim " << c.dim);
        const int N = (c.samples - c.patch) / c.stride + 1, S = c.channels + c.embed_num, D = c.dim, P = c.patch;
        auto x = randn(static_cast<size_t>(c.batch) * c.channels * c.samples, ++seed, 0.0f, 0.05f);
        auto w = randn(static_cast<size_t>(D) * P, ++seed, 0.0f, 0.1f);  // D x P, PyTorch layout
        auto b = randn(static_cast<size_t>(D), ++seed, 0.0f, 0.1f);
        auto chan = randn(static_cast<size_t>(62) * D, ++seed);
        auto summary = randn(static_cast<size_t>(c.embed_num) * D, ++seed);
        std::vector<int> ids(static_cast<size_t>(c.channels));
        std::mt19937 rng(++seed);
        for (auto& id : ids) id = static_cast<int>(rng() % 62);
        std::vector<float> wt(w.size());
        for (int d = 0; d < D; ++d)
            for (int p = 0; p < P; ++p) wt[static_cast<size_t>(p) * D + d] = w[static_cast<size_t>(d) * P + p];

        std::vector<float> ref(static_cast<size_t>(c.batch) * N * S * D);
        cpu::avx2::patch_embed(x.data(), ids.data(), w.data(), b.data(), chan.data(), summary.data(), ref.data(), c.channels,
                         c.samples, P, c.stride, D, c.embed_num, 0, c.batch * N);
        DeviceArray<float> dx(x), dwt(wt), db(b), dchan(chan), dsummary(summary), dtokens(ref.size());
        DeviceArray<int> dids(ids);
        dtokens.poison();
        require_ran(kernels::patch_embed(dx.get(), dids.get(), dwt.get(), db.get(), dchan.get(), dsummary.get(),
                                         dtokens.get(), c.batch, c.channels, c.samples, P, c.stride, D, c.embed_num,
                                         nullptr));
        auto got = dtokens.download();
        CHECK(all_finite(got));
        CHECK(relative_error(got, ref) <= 2e-6);
    }
    // 63 samples: shorter than one patch; stride above the patch.
    REQUIRE(kernels::patch_embed(nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, 1, 4, 63, 64, 64, 64, 4,
                                 nullptr) == cudaErrorInvalidValue);
    REQUIRE(kernels::patch_embed(nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, 1, 4, 128, 32, 64, 64, 4,
                                 nullptr) == cudaErrorInvalidValue);
}

namespace {

// The CPU op's LayerNorm of the rows of x (rows x dim).
std::vector<float> layernorm_reference(const std::vector<float>& x, const std::vector<float>& g,
                                       const std::vector<float>& b, int rows, int dim, float eps) {
    std::vector<float> y(static_cast<size_t>(rows) * dim);
    cpu::avx2::layernorm(x.data(), g.data(), b.data(), y.data(), rows, dim, eps);
    return y;
}

template <typename T>
void check_layernorm(int dim, unsigned seed) {
    INFO("dim " << dim << (sizeof(T) == 2 ? " bf16 output" : " fp32 output"));
    const float eps = 1e-6f;
    // Rows with |mean| >> std, as in the residual stream: the one-pass variance would fail here.
    const int rows = 37;
    auto x = randn(static_cast<size_t>(rows) * dim, seed, 10.0f, 2.0f);
    auto g = randn(static_cast<size_t>(dim), seed + 1, 1.0f, 0.2f);
    auto b = randn(static_cast<size_t>(dim), seed + 2, 0.0f, 0.2f);
    DeviceArray<float> dx(x), dg(g), db(b);
    {
        DeviceArray<T> dy(static_cast<size_t>(rows) * dim);
        dy.poison();
        require_ran(kernels::layernorm(dx.get(), dg.get(), db.get(), dy.get(), rows, dim, eps, nullptr));
        auto got = to_float(dy.download());
        CHECK(all_finite(got));
        CHECK(relative_error(got, layernorm_reference(x, g, b, rows, dim, eps)) <= output_tolerance<T>(1e-5));
    }
    {  // summary rows only: 7 sequences of 23 rows, rows 19..22 of each
        const int seqs = 7, seq_len = 23, first = 19, count = 4;
        auto xs = randn(static_cast<size_t>(seqs) * seq_len * dim, seed + 3, -5.0f, 3.0f);
        DeviceArray<float> dxs(xs);
        DeviceArray<T> dy(static_cast<size_t>(seqs) * count * dim);
        dy.poison();
        require_ran(kernels::layernorm_rows(dxs.get(), dg.get(), db.get(), dy.get(), seqs, seq_len, first, count, dim, eps,
                                            nullptr));
        auto got = to_float(dy.download());
        CHECK(all_finite(got));
        std::vector<float> rows_of_x(static_cast<size_t>(seqs) * count * dim);
        cpu::avx2::gather_rows(xs.data(), rows_of_x.data(), seqs, seq_len, first, count, dim);
        CHECK(relative_error(got, layernorm_reference(rows_of_x, g, b, seqs * count, dim, eps)) <=
              output_tolerance<T>(1e-5));
    }
}

}  // namespace

TEST_CASE("cuda kernel: layernorm, all rows and summary rows, fp32 and bf16 outputs", "[cuda][kernels]") {
    REQUIRE_CUDA_DEVICE();
    for (int dim : {512, 100, 64, 33}) {
        check_layernorm<float>(dim, 200 + static_cast<unsigned>(dim));
        check_layernorm<bf16>(dim, 300 + static_cast<unsigned>(dim));
    }
}

TEST_CASE("cuda kernel: bias + exact erf GELU", "[cuda][kernels]") {
    REQUIRE_CUDA_DEVICE();
    const int rows = 33, cols = 200;
    const size_t n = static_cast<size_t>(rows) * cols;
    auto x = randn(n, 400, 0.0f, 2.0f);
    auto bias = randn(static_cast<size_t>(cols), 401, 0.0f, 0.5f);
    auto reference = [&](bool with_bias) {
        std::vector<float> y(n);
        cpu::avx2::bias_gelu(x.data(), with_bias ? bias.data() : nullptr, y.data(), n, cols);
        return y;
    };
    DeviceArray<float> dx(x), dbias(bias);
    // The tanh approximation is off by up to ~1e-3 here: 1e-6 accepts only the erf form.
    SECTION("fp32 output") {
        DeviceArray<float> dy(n);
        dy.poison();
        require_ran(kernels::bias_gelu(dx.get(), dbias.get(), dy.get(), n, cols, nullptr));
        auto got = dy.download();
        CHECK(all_finite(got));
        CHECK(relative_error(got, reference(true)) <= 1e-6);
    }
    SECTION("fp32 in place, no bias") {
        DeviceArray<float> dy(x);
        require_ran(kernels::bias_gelu(dy.get(), nullptr, dy.get(), n, cols, nullptr));
        CHECK(relative_error(dy.download(), reference(false)) <= 1e-6);
    }
    SECTION("bf16 output") {
        DeviceArray<bf16> dy(n);
        dy.poison();
        require_ran(kernels::bias_gelu(dx.get(), dbias.get(), dy.get(), n, cols, nullptr));
        auto got = to_float(dy.download());
        CHECK(all_finite(got));
        CHECK(relative_error(got, reference(true)) <= 4e-3);
    }
}

namespace {

// The CPU op's attention, addressed as the kernel (kernels.h); k and v at offsets of kv.
std::vector<float> attention_reference(const std::vector<float>& q, int q_stride, int num_q, const std::vector<float>& kv,
                                       size_t k_off, size_t v_off, int kv_stride, int S, int seqs, int heads, int hd,
                                       int out_stride) {
    std::vector<float> out(static_cast<size_t>(seqs) * num_q * out_stride, 0.0f), scores(cpu::attention_scratch_floats(num_q, S, hd));
    cpu::avx2::attention(q.data(), q_stride, num_q, kv.data() + k_off, kv.data() + v_off, kv_stride, S, seqs, heads, hd,
                   out.data(), out_stride, scores.data());
    return out;
}

template <typename T>
void check_attention(int seqs, int S, int heads, int hd, bool summary_only, unsigned seed) {
    const int D = heads * hd;
    INFO("seqs " << seqs << " tokens " << S << " heads " << heads << " head dim " << hd
                 << (summary_only ? " summary queries" : " all queries") << (sizeof(T) == 2 ? " bf16" : " fp32"));
    if (!summary_only) {
        // The full-block layout: one packed qkv matrix (rows x 3D), queries for every token.
        auto qkv = randn(static_cast<size_t>(seqs) * S * 3 * D, seed);
        DeviceArray<float> dqkv(qkv);
        DeviceArray<T> out(static_cast<size_t>(seqs) * S * D);
        out.poison();
        require_ran(kernels::attention(dqkv.get(), 3 * D, S, dqkv.get() + D, dqkv.get() + 2 * D, 3 * D, S, seqs, heads, hd,
                                       out.get(), D, nullptr));
        auto got = to_float(out.download());
        CHECK(all_finite(got));
        CHECK(relative_error(got, attention_reference(qkv, 3 * D, S, qkv, D, 2 * D, 3 * D, S, seqs, heads, hd, D)) <=
              output_tolerance<T>(1e-5));
    } else {
        // The last block's layout: compact summary queries (E rows per sequence, stride D) against
        // keys and values of all tokens (rows x 2D).
        const int E = 4;
        auto q = randn(static_cast<size_t>(seqs) * E * D, seed);
        auto kv = randn(static_cast<size_t>(seqs) * S * 2 * D, seed + 1);
        DeviceArray<float> dq(q), dkv(kv);
        DeviceArray<T> out(static_cast<size_t>(seqs) * E * D);
        out.poison();
        require_ran(kernels::attention(dq.get(), D, E, dkv.get(), dkv.get() + D, 2 * D, S, seqs, heads, hd, out.get(), D,
                                       nullptr));
        auto got = to_float(out.download());
        CHECK(all_finite(got));
        CHECK(relative_error(got, attention_reference(q, D, E, kv, 0, D, 2 * D, S, seqs, heads, hd, D)) <=
              output_tolerance<T>(1e-5));
    }
}

}  // namespace

TEST_CASE("cuda kernel: attention over short sequences, all queries and summary queries", "[cuda][kernels]") {
    REQUIRE_CUDA_DEVICE();
    struct Case {
        int seqs, S, heads, hd;
    };
    // 23 and 62 tokens: 19 and 58 channels + 4; 66: the largest; head dims 64 (the model), 128
    // (shared memory above 48 KiB), 16 and 96 (not a multiple of 32); 1 token.
    const Case cases[] = {{3, 23, 8, 64}, {2, 62, 8, 64}, {2, 66, 2, 128}, {4, 5, 4, 16}, {2, 35, 2, 96}, {3, 1, 2, 32}};
    unsigned seed = 500;
    for (const Case& c : cases)
        for (bool summary_only : {false, true}) {
            if (summary_only && c.S < 4) continue;
            check_attention<float>(c.seqs, c.S, c.heads, c.hd, summary_only, ++seed);
            check_attention<bf16>(c.seqs, c.S, c.heads, c.hd, summary_only, ++seed);
        }
    float* p = nullptr;
    REQUIRE(kernels::attention(p, 129 * 2, 1, p, p, 129 * 2, 5, 1, 2, 129, p, 129 * 2, nullptr) == cudaErrorInvalidValue);
}

TEST_CASE("cuda kernel: gather summary rows", "[cuda][kernels]") {
    REQUIRE_CUDA_DEVICE();
    const int seqs = 9, seq_len = 62, first = 58, count = 4, dim = 72;
    auto x = randn(static_cast<size_t>(seqs) * seq_len * dim, 600);
    DeviceArray<float> dx(x), dy(static_cast<size_t>(seqs) * count * dim);
    dy.poison();
    require_ran(kernels::gather_rows(dx.get(), dy.get(), seqs, seq_len, first, count, dim, nullptr));
    std::vector<float> expected(static_cast<size_t>(seqs) * count * dim);
    cpu::avx2::gather_rows(x.data(), expected.data(), seqs, seq_len, first, count, dim);
    CHECK(dy.download() == expected);
}

// ---------------------------------------------------------------------------------------------
// cuBLASLt linear layer
// ---------------------------------------------------------------------------------------------

TEST_CASE("cuda gemm: y = x W^T + b (+ y) in fp32, tf32 and bf16", "[cuda][gemm]") {
    REQUIRE_CUDA_DEVICE();
    struct Tol {
        Precision precision;
        double tolerance;
    };
    const Tol tols[] = {{Precision::fp32, 1e-5}, {Precision::tf32, 2e-3}, {Precision::bf16, 1e-2}};
    struct Case {
        int rows, in, out, ldx, w_row_offset;
        bool bias, accumulate;
    };
    // w_row_offset: use rows offset.. of a bigger weight (the last block's key/value rows of qkv).
    const Case cases[] = {{70, 512, 96, 512, 0, true, false},  {37, 200, 1536, 200, 0, false, false},
                          {23, 512, 512, 512, 0, true, true}, {41, 64, 128, 64, 64, true, false},
                          {16, 96, 40, 160, 0, true, true}};
    unsigned seed = 700;
    for (const Tol& t : tols) {
        cudaStream_t stream = nullptr;  // legacy default stream: ordered with cudaMemcpy
        CublasLtLinear lt(t.precision, stream);
        for (const Case& c : cases) {
            INFO(to_string(t.precision) << ": rows " << c.rows << " in " << c.in << " out " << c.out << " ldx " << c.ldx
                                        << (c.bias ? " bias" : "") << (c.accumulate ? " accumulate" : ""));
            const int w_rows = c.out + c.w_row_offset;
            auto x = randn(static_cast<size_t>(c.rows) * c.ldx, ++seed);
            auto w = randn(static_cast<size_t>(w_rows) * c.in, ++seed, 0.0f, 0.05f);
            auto b = randn(static_cast<size_t>(c.out), ++seed);
            auto y0 = randn(static_cast<size_t>(c.rows) * c.out, ++seed);
            std::vector<float> ref = y0;
            cpu::avx2::linear(x.data(), c.ldx, c.rows, c.in, w.data() + static_cast<size_t>(c.w_row_offset) * c.in,
                        c.bias ? b.data() : nullptr, c.out, ref.data(), c.out, c.accumulate);
            DeviceArray<float> dy(y0), db(b);
            if (!c.accumulate) dy.poison();
            // Same call and checks for both input types: bf16 inputs, or fp32 ones.
            auto run = [&](auto& dx, auto& dw) {
                lt.linear(dx.get(), c.ldx, dw.get() + static_cast<size_t>(c.w_row_offset) * c.in,
                          c.bias ? db.get() : nullptr, dy.get(), c.out, c.rows, c.in, c.out, c.accumulate);
                REQUIRE(cudaDeviceSynchronize() == cudaSuccess);
                auto got = dy.download();
                CHECK(all_finite(got));
                CHECK(relative_error(got, ref) <= t.tolerance);
            };
            if (t.precision == Precision::bf16) {
                DeviceArray<bf16> dx(to_bf16(x)), dw(to_bf16(w));
                run(dx, dw);
            } else {
                DeviceArray<float> dx(x), dw(w);
                run(dx, dw);
            }
        }
    }
}

TEST_CASE("cuda gemm: the plan cache is bounded and evicted plans are rebuilt correctly", "[cuda][gemm]") {
    REQUIRE_CUDA_DEVICE();
    const int in = 16, out = 8;
    const int max_rows = static_cast<int>(CublasLtLinear::kMaxPlans) + 8;  // one new shape per row count
    auto x = randn(static_cast<size_t>(max_rows) * in, 801);
    auto w = randn(static_cast<size_t>(out) * in, 802);
    auto b = randn(static_cast<size_t>(out), 803);
    DeviceArray<float> dx(x), dw(w), db(b), dy(static_cast<size_t>(max_rows) * out);
    CublasLtLinear lt(Precision::fp32, nullptr);
    auto check_rows = [&](int rows) {
        INFO("rows " << rows << ", cached plans " << lt.cached_plans());
        dy.poison();
        lt.linear(dx.get(), in, dw.get(), db.get(), dy.get(), out, rows, in, out, false);
        REQUIRE(cudaDeviceSynchronize() == cudaSuccess);
        const auto got = dy.download();
        std::vector<float> got_rows(got.begin(), got.begin() + static_cast<long>(rows) * out);
        std::vector<float> ref(got_rows.size());
        cpu::avx2::linear(x.data(), in, rows, in, w.data(), b.data(), out, ref.data(), out, false);
        REQUIRE(all_finite(got_rows));
        REQUIRE(relative_error(got_rows, ref) <= 1e-5);
    };
    for (int rows = 1; rows <= max_rows; ++rows) {
        check_rows(rows);
        REQUIRE(lt.cached_plans() == std::min<size_t>(static_cast<size_t>(rows), CublasLtLinear::kMaxPlans));
    }
    check_rows(1);  // evicted long ago: rebuilt, and the cache stays at its bound
    check_rows(max_rows);
    REQUIRE(lt.cached_plans() == CublasLtLinear::kMaxPlans);
}

TEST_CASE("cuda gemm: when cuBLASLt has no algorithm the error names the shape and precision", "[cuda][gemm]") {
#ifndef EEGPT_CUDA_EMULATION
    EEGPT_SKIP("only the CUDA emulation can make cuBLASLt find no algorithm (EMU_CUBLASLT_NO_ALGO)");
#else
    for (const char* mode : {"status", "zero"}) {  // NOT_SUPPORTED, or success with zero results
        INFO("EMU_CUBLASLT_NO_ALGO=" << mode);
        setenv("EMU_CUBLASLT_NO_ALGO", mode, 1);
        DeviceArray<bf16> dx(static_cast<size_t>(7) * 64), dw(static_cast<size_t>(32) * 64);
        DeviceArray<float> db(32), dy(static_cast<size_t>(7) * 32);
        CublasLtLinear lt(Precision::bf16, nullptr);
        REQUIRE_THROWS_WITH(lt.linear(dx.get(), 64, dw.get(), db.get(), dy.get(), 32, 7, 64, 32, false),
                            Contains("cuBLASLt has no algorithm for the bf16 product 7 x 64 by 64 x 32 with bias"));
        REQUIRE(lt.cached_plans() == 0);
        unsetenv("EMU_CUBLASLT_NO_ALGO");
    }
#endif
}

// ---------------------------------------------------------------------------------------------
// The encoder (its parity with the CPU is the parity table's, test_encoder.cpp)
// ---------------------------------------------------------------------------------------------

TEST_CASE("cuda encoder: bad shapes and ids are the same errors as on the CPU", "[cuda][encoder]") {
    REQUIRE_CUDA_DEVICE();
    auto encoder = make_cuda_encoder(random_weights(named_config("tiny1"), 0), {Device::cuda, Precision::fp32, 0});
    std::vector<float> x(2 * 100), out(4096);
    std::vector<int> ids = {0, 1}, bad_ids = {0, 62};
    REQUIRE_THROWS_WITH(encoder->encode(x.data(), 1, 2, 63, ids.data(), out.data()),
                        Contains("samples per window must be at least 64 (one patch), got 63"));
    REQUIRE_THROWS_WITH(encoder->encode(x.data(), 0, 2, 64, ids.data(), out.data()), Contains("batch must be at least 1"));
    REQUIRE_THROWS_WITH(encoder->encode(x.data(), 1, 2, 64, bad_ids.data(), out.data()),
                        Contains("channel id 62 out of range"));
}

// Any window length T >= 64 (the released Conv2d: floor((T - 64) / s) + 1 patches, the samples past
// the last whole patch ignored), the shapes of test_encoder.cpp's window_length_cases: 537 and 512
// at stride 32, 2000 and 7680 at stride 64, against the CPU fp32 path in every precision; then the
// unused samples replaced by large values: the output is identical.
TEST_CASE("cuda encoder: any window length, the samples past the last patch ignored", "[cuda][encoder]") {
    REQUIRE_CUDA_DEVICE();
    struct Case {
        int stride, samples, patches;
    };
    const Case cases[] = {{32, 537, 15}, {32, 512, 15}, {64, 2000, 31}, {64, 7680, 120}};
    const int B = 2, C = 5;
    const auto ids = first_ids(C, 7);
    for (const Case& c : cases) {
        ModelConfig config = named_config("tiny2");
        config.patch_stride = c.stride;
        const ModelWeights w = random_weights(config, 4);
        const int used = (c.patches - 1) * c.stride + config.patch_size;
        auto x = randn(static_cast<size_t>(B) * C * c.samples, 1500 + static_cast<unsigned>(c.samples), 0.0f, 0.05f);
        auto cpu = make_encoder(w);
        const auto expected = encode_with(*cpu, x, B, C, c.samples, ids);
        REQUIRE(expected.size() == static_cast<size_t>(B) * c.patches * config.embed_num * config.embed_dim);
        auto perturbed = x;
        for (size_t r = 0; r < static_cast<size_t>(B) * C; ++r)
            for (int t = used; t < c.samples; ++t) perturbed[r * c.samples + t] = 1e3f * static_cast<float>(t - used + 1);
        for (const auto& t : eegpt_test::kPrecisionBounds) {
            INFO("T = " << c.samples << " at stride " << c.stride << ", " << to_string(t.precision));
            auto gpu = make_cuda_encoder(w, {Device::cuda, t.precision, 0});
            REQUIRE(gpu->output_size(B, c.samples) == expected.size());
            const auto got = encode_with(*gpu, x, B, C, c.samples, ids);
            CHECK(all_finite(got));
            CHECK(relative_error(got, expected) <= t.relative);
            CHECK(min_window_cosine(got, expected, B) >= t.min_cosine);
            if (used < c.samples) CHECK(encode_with(*gpu, perturbed, B, C, c.samples, ids) == got);
        }
    }
}

#ifdef EEGPT_TEST_HEADS
namespace {

HeadStep random_step(StepOp op, int out, int in, unsigned seed, float sd) {
    HeadStep s = make_step(op);
    s.out = out;
    s.in = in;
    s.weight = randn(static_cast<size_t>(out) * static_cast<size_t>(in), seed, 0.0f, sd);
    s.bias = randn(static_cast<size_t>(out), seed + 1, 0.0f, 0.1f);
    return s;
}

HeadStep encoder_step(std::vector<std::string> channels, int stride) {
    HeadStep s = make_step(StepOp::encoder);
    s.channels = std::move(channels);
    s.patch_stride = stride;
    return s;
}

}  // namespace

// Heads run on the CPU after whichever encoder computed the features (recordings/heads/head.h): a
// head on the CUDA encoder's features gives the CPU's probabilities within the precision's bound.
TEST_CASE("cuda encoder: downstream heads on its features give the CPU's probabilities", "[cuda][encoder][heads]") {
    REQUIRE_CUDA_DEVICE();
    struct Case {
        const char* name;
        Head head;
        int stride;
    };
    std::vector<Case> cases;
    {  // TUAB-like: channel mixing, GELU, a valid depthwise convolution, flatten, one sigmoid logit
        Head h;
        h.class_names = {"normal", "abnormal"};
        h.output = HeadOutput::sigmoid;
        h.input_labels = {"FP1", "T3", "A1", "CZ"};
        h.sample_rate_hz = 200;
        h.window_samples = 2000;
        HeadStep conv = make_step(StepOp::depthwise_conv);  // 2 channels, kernel 15
        conv.in = 2;
        conv.out = 15;
        conv.weight = randn(30, 31, 0.0f, 0.2f);
        conv.bias = randn(2, 32, 0.0f, 0.1f);
        h.steps = {random_step(StepOp::channel_mix, 2, 4, 21, 0.3f), make_step(StepOp::gelu), conv,
                   encoder_step({"FZ", "PZ"}, 64), make_step(StepOp::flatten),
                   random_step(StepOp::linear, 1, 31 * 4 * 64, 41, 0.01f)};
        cases.push_back({"tuab-like", h, 64});
    }
    {  // KaggleERN-like: scale, channel mean, nearest interpolation, stride 32, per-patch probe, softmax
        Head h;
        h.class_names = {"bad", "good"};
        h.input_labels = {"FP1", "FP2", "CZ"};
        h.sample_rate_hz = 200;
        h.window_samples = 400;
        HeadStep scale = make_step(StepOp::scale);
        scale.factor = 0.1;
        HeadStep interpolate = make_step(StepOp::interpolate_nearest);
        interpolate.length = 512;
        h.steps = {scale, make_step(StepOp::subtract_channel_mean), interpolate,
                   random_step(StepOp::channel_mix, 3, 3, 51, 0.5f), encoder_step({"FP1", "FP2", "CZ"}, 32),
                   random_step(StepOp::linear, 16, 4 * 64, 61, 0.06f), make_step(StepOp::flatten),
                   random_step(StepOp::linear, 2, 15 * 16, 71, 0.06f)};
        cases.push_back({"kaggleern-like", h, 32});
    }
    const int B = 3;
    for (const Case& c : cases) {
        ModelConfig config = named_config("tiny2");
        config.patch_stride = c.stride;
        const ModelWeights w = random_weights(config, 6);
        const HeadPlan plan = plan_head(c.head, config);
        const auto x = randn(static_cast<size_t>(B) * c.head.input_labels.size() * c.head.window_samples, 1700, 0.0f, 1.0f);
        std::vector<float> prepared;
        head_signal(c.head, x.data(), B, prepared);
        const int C = static_cast<int>(plan.encoder_ids.size());
        auto outputs = [&](Encoder& e, std::vector<float>& logits) {
            const auto features = encode_with(e, prepared, B, C, plan.encoder_samples, plan.encoder_ids);
            std::vector<float> p(static_cast<size_t>(B) * c.head.outputs());
            logits.assign(p.size(), 0.0f);
            head_outputs(c.head, features.data(), B, plan.patches, config.embed_num, config.embed_dim, logits.data(),
                         p.data());
            return p;
        };
        auto cpu = make_encoder(w);
        std::vector<float> expected_logits, logits;
        const auto expected = outputs(*cpu, expected_logits);
        for (const auto& t : eegpt_test::kPrecisionBounds) {
            INFO(c.name << ", " << to_string(t.precision));
            auto gpu = make_cuda_encoder(w, {Device::cuda, t.precision, 0});
            const auto got = outputs(*gpu, logits);
            double worst = 0;
            for (size_t i = 0; i < got.size(); ++i) worst = std::max(worst, std::fabs(static_cast<double>(got[i]) - expected[i]));
            std::printf("head %s %s: probabilities max |diff| %.3g, logits relative error %.3g\n", c.name,
                        to_string(t.precision).c_str(), worst, relative_error(logits, expected_logits));
            // Probabilities lie in [0, 1] and move at most as fast as the logits (sigmoid' <= 1/4,
            // softmax' <= 1/2): the features' relative bound holds for them absolutely.
            CHECK(worst <= t.relative);
        }
    }
}
#endif  // EEGPT_TEST_HEADS

TEST_CASE("cuda encoder: out of memory says what was asked and what batch would fit", "[cuda][encoder]") {
    REQUIRE_CUDA_DEVICE();
    const ModelWeights w = random_weights(named_config("tiny2"), 0);
    auto gpu = make_cuda_encoder(w, {Device::cuda, Precision::fp32, 0});
    auto cpu = make_encoder(w);
    const int C = 58, T = 1024;
    const auto ids = first_ids(C, 1);
    const auto x = randn(static_cast<size_t>(2) * C * T, 1200, 0.0f, 0.05f);
    std::vector<float> out(gpu->output_size(2, T));
    // A million windows need terabytes of activations: the arena cannot be had, and the input is
    // never read (the arena is reserved before the copy), so the small buffers are enough.
    REQUIRE_THROWS_WITH(gpu->encode(x.data(), 1000000, C, T, ids.data(), out.data()),
                        Contains("CUDA out of memory: the activation arena for a batch of 1000000 windows"));
    REQUIRE_THROWS_WITH(gpu->encode(x.data(), 1000000, C, T, ids.data(), out.data()), Contains("would fit"));
    // The encoder is still usable afterwards.
    const auto got = encode_with(*gpu, x, 2, C, T, ids);
    CHECK(relative_error(got, encode_with(*cpu, x, 2, C, T, ids)) <= 1e-5);
}

// The encoder call that tools/device_check.sh runs under compute-sanitizer memcheck and racecheck:
// one call per precision, large model, every kernel and GEMM shape of a real run.
TEST_CASE("cuda encoder: one call per precision, large model, 19 channels, batch 3", "[cuda][encoder][one-call]") {
    REQUIRE_CUDA_DEVICE();
    const ModelWeights w = random_weights(named_config("large"), 0);
    const int B = 3, C = 19, T = 1024;
    const auto x = randn(static_cast<size_t>(B) * C * T, 1400, 0.0f, 0.05f);
    const auto ids = first_ids(C, 5);
    auto cpu = make_encoder(w);
    const auto expected = encode_with(*cpu, x, B, C, T, ids);
    for (const auto& t : eegpt_test::kPrecisionBounds) {
        SECTION(to_string(t.precision)) {  // one section each, so a sanitizer run can pick one (-c fp32)
            auto gpu = make_cuda_encoder(w, {Device::cuda, t.precision, 0});
            const auto got = encode_with(*gpu, x, B, C, T, ids);
            CHECK(all_finite(got));
            CHECK(relative_error(got, expected) <= t.relative);
            CHECK(min_window_cosine(got, expected, B) >= t.min_cosine);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The eegpt binary with --device cuda against --device cpu
// ---------------------------------------------------------------------------------------------

// Built where the eegpt binary is (not in the CPU emulation, test/cuda_emulation, which has none).
#ifdef EEGPT_BIN
namespace {

std::string shell_quote(const std::string& s) {
    std::string q = "'";
    for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return q + "'";
}

// Runs the eegpt binary with the arguments; REQUIREs exit status 0 (stderr shown on failure).
void run_eegpt(const std::vector<std::string>& args) {
    std::string cmd = shell_quote(EEGPT_BIN);
    for (const auto& a : args) cmd += " " + shell_quote(a);
    TempPath err("stderr.txt");
    const int status = std::system((cmd + " 2>" + shell_quote(err)).c_str());
    std::string text;
    if (FILE* f = std::fopen(err.str().c_str(), "r")) {
        char buf[512];
        size_t n;
        while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) text.append(buf, n);
        std::fclose(f);
    }
    INFO(cmd << "\n" << text);
    REQUIRE(status == 0);
}

std::vector<float> features_of(const std::string& path, const std::string& device, const std::string& precision) {
    h5::Handle file = h5::open_read(path);
    CHECK(h5::read_string_attr(file, "device") == device);
    CHECK(h5::read_string_attr(file, "precision") == precision);
    return h5::read_floats(file, "features");
}

}  // namespace

TEST_CASE("cuda: the eegpt binary's encode and embed with --device cuda give the --device cpu features",
          "[cuda][cli]") {
    REQUIRE_CUDA_DEVICE();
    TempPath weights_path("weights.h5"), windows("windows.h5"), edf("recording.edf");
    save_weights(random_weights(named_config("large"), 2), weights_path);
    const uint64_t B = 5, C = 19, T = 1024;
    {
        h5::Handle file = h5::create_truncate(windows);
        auto x = randn(B * C * T, 1300, 0.0f, 0.05f);
        h5::write_floats(file, "x", {B, C, T}, x.data());
        h5::write_strings(file, "channels", {kStandard19Montage.begin(), kStandard19Montage.end()});
    }
    SyntheticRecordingSpec spec;
    spec.seconds = 40;  // 500 Hz, 19 EEG channels + ECG: resampled, 10 windows at a 4 s stride
    write_synthetic_recording(edf, spec);

    TempPath cpu_encode("cpu_encode.h5"), cpu_embed("cpu_embed.h5");
    run_eegpt({"encode", "--weights", weights_path, "--input", windows, "--output", cpu_encode, "--device", "cpu"});
    run_eegpt({"embed", edf, "--weights", weights_path, "--output", cpu_embed, "--device", "cpu", "--quiet"});
    const auto expected_encode = features_of(cpu_encode, "cpu", "fp32");
    const auto expected_embed = features_of(cpu_embed, "cpu", "fp32");
    REQUIRE(expected_embed.size() == static_cast<size_t>(10) * 16 * 4 * 512);
    for (const auto& t : eegpt_test::kPrecisionBounds) {
        const std::string precision = to_string(t.precision);
        INFO(precision);
        TempPath gpu_encode("gpu_encode.h5"), gpu_embed("gpu_embed.h5");
        run_eegpt({"encode", "--weights", weights_path, "--input", windows, "--output", gpu_encode, "--device", "cuda",
                   "--precision", precision});
        run_eegpt({"embed", edf, "--weights", weights_path, "--output", gpu_embed, "--device", "cuda", "--precision",
                   precision, "--quiet"});
        const auto got_encode = features_of(gpu_encode, "cuda", precision);
        const auto got_embed = features_of(gpu_embed, "cuda", precision);
        REQUIRE(got_encode.size() == expected_encode.size());
        REQUIRE(got_embed.size() == expected_embed.size());
        const double rel_encode = relative_error(got_encode, expected_encode);
        const double rel_embed = relative_error(got_embed, expected_embed);
        std::printf("cli %s: encode relative error %.3g, embed relative error %.3g\n", precision.c_str(), rel_encode,
                    rel_embed);
        CHECK(rel_encode <= t.relative);
        CHECK(rel_embed <= t.relative);
        CHECK(min_window_cosine(got_encode, expected_encode, static_cast<int>(B)) >= t.min_cosine);
        CHECK(min_window_cosine(got_embed, expected_embed, 10) >= t.min_cosine);
    }
}
#endif  // EEGPT_BIN
