// CUDA backend tests: each kernel against a plain CPU reference (fresh random inputs, outputs
// poisoned with NaN before every run so that an unwritten element fails), the cuBLASLt linear
// layer in the three precisions, the whole encoder against the CPU fp32 path, and the
// `eegpt encode` file path. Built only with the CUDA backend. Every test that needs a GPU reports
// itself skipped, with the reason, when the runtime finds none.
//
// Tags: [cuda][kernels] hand-written kernels, [cuda][gemm] cuBLASLt, [cuda][encoder] parity,
// [cuda][cli] file path and the eegpt binary, [.][cuda-timing] timing. tools/device_check.sh runs
// [kernels], [gemm] and [one-call] (one encoder call per precision) under compute-sanitizer.
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "catch_compat.h"
#include "cuda/encoder_cuda.h"
#include "cuda/gemm.h"
#include "encoder.h"
#include "error.h"
#include "io/hdf5.h"
#include "io/window_file.h"
#include "kernels/kernels.h"
#include "reference_encoder.h"
#ifndef EEGPT_CUDA_EMULATION
#include "synthetic_recording.h"
#endif
#include "test_helpers.h"

using namespace eegpt;
using eegpt_test::first_ids;
using eegpt_test::relative_error;
using eegpt_test::TempPath;
using Catch::Matchers::Contains;

#define REQUIRE_CUDA_DEVICE()                                      \
    do {                                                           \
        const std::string why_ = eegpt::cuda_unavailable_reason(); \
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

std::vector<float> randn(size_t n, unsigned seed, float mean = 0.0f, float stddev = 1.0f) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> dist(mean, stddev);
    std::vector<float> v(n);
    for (auto& x : v) x = dist(rng);
    return v;
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

TEST_CASE("cuda: without a GPU the CUDA device is a clear error", "[cuda]") {
    const std::string why = cuda_unavailable_reason();
    if (why.empty()) EEGPT_SKIP("a CUDA device is present; this test covers machines without one");
    REQUIRE_THROWS_WITH(make_encoder(random_weights(named_config("tiny1"), 0), {Device::cuda, Precision::fp32, 0}),
                        Contains("no CUDA device available"));
}

// ---------------------------------------------------------------------------------------------
// Kernels
// ---------------------------------------------------------------------------------------------

TEST_CASE("cuda kernel: patch embedding with channel embedding and summary tokens", "[cuda][kernels]") {
    REQUIRE_CUDA_DEVICE();
    struct Case {
        int batch, channels, samples, patch, dim, embed_num;
    };
    const Case cases[] = {{2, 5, 192, 64, 64, 4}, {1, 58, 256, 64, 512, 4}, {3, 1, 64, 64, 96, 1}, {2, 19, 128, 32, 80, 2}};
    unsigned seed = 100;
    for (const Case& c : cases) {
        INFO("batch " << c.batch << " channels " << c.channels << " samples " << c.samples << " dim " << c.dim);
        const int N = c.samples / c.patch, S = c.channels + c.embed_num, D = c.dim, P = c.patch;
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

        std::vector<double> ref(static_cast<size_t>(c.batch) * N * S * D);
        for (int bi = 0; bi < c.batch; ++bi)
            for (int n = 0; n < N; ++n)
                for (int t = 0; t < S; ++t)
                    for (int d = 0; d < D; ++d) {
                        double v;
                        if (t < c.channels) {
                            v = b[static_cast<size_t>(d)];
                            for (int p = 0; p < P; ++p)
                                v += static_cast<double>(x[(static_cast<size_t>(bi) * c.channels + t) * c.samples +
                                                           static_cast<size_t>(n) * P + p]) *
                                     w[static_cast<size_t>(d) * P + p];
                            v += chan[static_cast<size_t>(ids[static_cast<size_t>(t)]) * D + d];
                        } else {
                            v = summary[static_cast<size_t>(t - c.channels) * D + d];
                        }
                        ref[((static_cast<size_t>(bi) * N + n) * S + t) * D + d] = v;
                    }

        DeviceArray<float> dx(x), dwt(wt), db(b), dchan(chan), dsummary(summary), dtokens(ref.size());
        DeviceArray<int> dids(ids);
        dtokens.poison();
        require_ran(kernels::patch_embed(dx.get(), dids.get(), dwt.get(), db.get(), dchan.get(), dsummary.get(),
                                         dtokens.get(), c.batch, c.channels, c.samples, P, D, c.embed_num, nullptr));
        auto got = dtokens.download();
        CHECK(all_finite(got));
        CHECK(relative_error(got, ref) <= 2e-6);
    }
    REQUIRE(kernels::patch_embed(nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, 1, 4, 100, 64, 64, 4,
                                 nullptr) == cudaErrorInvalidValue);
}

namespace {

// LayerNorm reference in double: output row r normalises input row in_row(r).
template <typename F>
std::vector<double> layernorm_reference(const std::vector<float>& x, const std::vector<float>& g,
                                        const std::vector<float>& b, int rows, int dim, double eps, F in_row) {
    std::vector<double> y(static_cast<size_t>(rows) * dim);
    for (int r = 0; r < rows; ++r) {
        const float* xr = x.data() + static_cast<size_t>(in_row(r)) * dim;
        double mean = 0, var = 0;
        for (int d = 0; d < dim; ++d) mean += xr[d];
        mean /= dim;
        for (int d = 0; d < dim; ++d) var += (xr[d] - mean) * (xr[d] - mean);
        var /= dim;
        for (int d = 0; d < dim; ++d)
            y[static_cast<size_t>(r) * dim + d] = (xr[d] - mean) / std::sqrt(var + eps) * g[static_cast<size_t>(d)] + b[static_cast<size_t>(d)];
    }
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
        CHECK(relative_error(got, layernorm_reference(x, g, b, rows, dim, eps, [](int r) { return r; })) <=
              output_tolerance<T>(1e-5));
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
        auto in_row = [&](int r) { return (r / count) * seq_len + first + r % count; };
        CHECK(relative_error(got, layernorm_reference(xs, g, b, seqs * count, dim, eps, in_row)) <=
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
        std::vector<double> y(n);
        for (size_t i = 0; i < n; ++i) {
            const double v = static_cast<double>(x[i]) + (with_bias ? bias[i % cols] : 0.0f);
            y[i] = 0.5 * v * (1.0 + std::erf(v / std::sqrt(2.0)));
        }
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

// Attention reference in double with the kernel's addressing (see kernels.h).
std::vector<double> attention_reference(const std::vector<float>& q, int q_stride, int num_q, const std::vector<float>& kv,
                                        size_t k_off, size_t v_off, int kv_stride, int S, int seqs, int heads, int hd,
                                        int out_stride) {
    std::vector<double> out(static_cast<size_t>(seqs) * num_q * out_stride, 0.0);
    const double scale = 1.0 / std::sqrt(static_cast<double>(hd));
    for (int s = 0; s < seqs; ++s)
        for (int h = 0; h < heads; ++h)
            for (int i = 0; i < num_q; ++i) {
                const float* qr = q.data() + (static_cast<size_t>(s) * num_q + i) * q_stride + h * hd;
                std::vector<double> p(static_cast<size_t>(S));
                double mx = -1e300, sum = 0;
                for (int j = 0; j < S; ++j) {
                    const float* kr = kv.data() + k_off + (static_cast<size_t>(s) * S + j) * kv_stride + h * hd;
                    double dot = 0;
                    for (int d = 0; d < hd; ++d) dot += static_cast<double>(qr[d]) * kr[d];
                    p[static_cast<size_t>(j)] = dot * scale;
                    mx = std::max(mx, p[static_cast<size_t>(j)]);
                }
                for (auto& v : p) sum += (v = std::exp(v - mx));
                for (int d = 0; d < hd; ++d) {
                    double acc = 0;
                    for (int j = 0; j < S; ++j)
                        acc += p[static_cast<size_t>(j)] / sum *
                               kv[v_off + (static_cast<size_t>(s) * S + j) * kv_stride + h * hd + d];
                    out[(static_cast<size_t>(s) * num_q + i) * out_stride + h * hd + d] = acc;
                }
            }
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
    auto got = dy.download();
    size_t mismatches = 0;
    for (int s = 0; s < seqs; ++s)
        for (int e = 0; e < count; ++e)
            for (int d = 0; d < dim; ++d)
                mismatches += got[(static_cast<size_t>(s) * count + e) * dim + d] !=
                              x[(static_cast<size_t>(s) * seq_len + first + e) * dim + d];
    CHECK(mismatches == 0);
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
        Gemm gemm(t.precision, stream);
        for (const Case& c : cases) {
            INFO(to_string(t.precision) << ": rows " << c.rows << " in " << c.in << " out " << c.out << " ldx " << c.ldx
                                        << (c.bias ? " bias" : "") << (c.accumulate ? " accumulate" : ""));
            const int w_rows = c.out + c.w_row_offset;
            auto x = randn(static_cast<size_t>(c.rows) * c.ldx, ++seed);
            auto w = randn(static_cast<size_t>(w_rows) * c.in, ++seed, 0.0f, 0.05f);
            auto b = randn(static_cast<size_t>(c.out), ++seed);
            auto y0 = randn(static_cast<size_t>(c.rows) * c.out, ++seed);
            std::vector<double> ref(y0.size());
            for (int r = 0; r < c.rows; ++r)
                for (int o = 0; o < c.out; ++o) {
                    double acc = (c.bias ? b[static_cast<size_t>(o)] : 0.0) +
                                 (c.accumulate ? y0[static_cast<size_t>(r) * c.out + o] : 0.0);
                    for (int i = 0; i < c.in; ++i)
                        acc += static_cast<double>(x[static_cast<size_t>(r) * c.ldx + i]) *
                               w[static_cast<size_t>(o + c.w_row_offset) * c.in + i];
                    ref[static_cast<size_t>(r) * c.out + o] = acc;
                }
            DeviceArray<float> dy(y0), db(b);
            if (!c.accumulate) dy.poison();
            // Same call and checks for both input types: bf16 inputs, or fp32 ones.
            auto run = [&](auto& dx, auto& dw) {
                gemm.linear(dx.get(), c.ldx, dw.get() + static_cast<size_t>(c.w_row_offset) * c.in,
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
    const int max_rows = static_cast<int>(Gemm::kMaxPlans) + 8;  // one new shape per row count
    auto x = randn(static_cast<size_t>(max_rows) * in, 801);
    auto w = randn(static_cast<size_t>(out) * in, 802);
    auto b = randn(static_cast<size_t>(out), 803);
    DeviceArray<float> dx(x), dw(w), db(b), dy(static_cast<size_t>(max_rows) * out);
    Gemm gemm(Precision::fp32, nullptr);
    auto check_rows = [&](int rows) {
        INFO("rows " << rows << ", cached plans " << gemm.cached_plans());
        dy.poison();
        gemm.linear(dx.get(), in, dw.get(), db.get(), dy.get(), out, rows, in, out, false);
        REQUIRE(cudaDeviceSynchronize() == cudaSuccess);
        const auto got = dy.download();
        std::vector<float> got_rows(got.begin(), got.begin() + static_cast<long>(rows) * out);
        std::vector<double> ref(got_rows.size());
        for (int r = 0; r < rows; ++r)
            for (int o = 0; o < out; ++o) {
                double acc = b[static_cast<size_t>(o)];
                for (int i = 0; i < in; ++i)
                    acc += static_cast<double>(x[static_cast<size_t>(r) * in + i]) * w[static_cast<size_t>(o) * in + i];
                ref[static_cast<size_t>(r) * out + o] = acc;
            }
        REQUIRE(all_finite(got_rows));
        REQUIRE(relative_error(got_rows, ref) <= 1e-5);
    };
    for (int rows = 1; rows <= max_rows; ++rows) {
        check_rows(rows);
        REQUIRE(gemm.cached_plans() == std::min<size_t>(static_cast<size_t>(rows), Gemm::kMaxPlans));
    }
    check_rows(1);  // evicted long ago: rebuilt, and the cache stays at its bound
    check_rows(max_rows);
    REQUIRE(gemm.cached_plans() == Gemm::kMaxPlans);
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
        Gemm gemm(Precision::bf16, nullptr);
        REQUIRE_THROWS_WITH(gemm.linear(dx.get(), 64, dw.get(), db.get(), dy.get(), 32, 7, 64, 32, false),
                            Contains("cuBLASLt has no algorithm for the bf16 product 7 x 64 by 64 x 32 with bias"));
        REQUIRE(gemm.cached_plans() == 0);
        unsetenv("EMU_CUBLASLT_NO_ALGO");
    }
#endif
}

// ---------------------------------------------------------------------------------------------
// Encoder parity with the CPU fp32 path
// ---------------------------------------------------------------------------------------------

namespace {

struct PrecisionTolerance {
    Precision precision;
    double relative;    // ||cuda - cpu|| / ||cpu|| over the whole output
    double min_cosine;  // per window
};
const PrecisionTolerance kTolerances[] = {
    {Precision::fp32, 1e-5, 0.0}, {Precision::tf32, 2e-3, 0.0}, {Precision::bf16, 2e-2, 0.999}};

double min_window_cosine(const std::vector<float>& a, const std::vector<float>& b, int batch) {
    const size_t per = b.size() / static_cast<size_t>(batch);
    double worst = 1.0;
    for (int w = 0; w < batch; ++w) {
        double ab = 0, aa = 0, bb = 0;
        for (size_t i = static_cast<size_t>(w) * per; i < static_cast<size_t>(w + 1) * per; ++i) {
            ab += static_cast<double>(a[i]) * b[i];
            aa += static_cast<double>(a[i]) * a[i];
            bb += static_cast<double>(b[i]) * b[i];
        }
        const double cosine = ab / std::sqrt(aa * bb);
        if (std::isnan(cosine)) return cosine;  // fails every check
        worst = std::min(worst, cosine);
    }
    return worst;
}

std::vector<float> encode_with(Encoder& encoder, const std::vector<float>& x, int batch, int channels, int samples,
                               const std::vector<int>& ids) {
    std::vector<float> out(encoder.output_size(batch, samples), std::nanf(""));
    encoder.encode(x.data(), batch, channels, samples, ids.data(), out.data());
    return out;
}

}  // namespace

TEST_CASE("cuda encoder: small configurations match the CPU fp32 path", "[cuda][encoder]") {
    REQUIRE_CUDA_DEVICE();
    struct Case {
        ModelConfig config;
        int batch, channels, samples;
    };
    ModelConfig head64 = named_config("tiny2");
    head64.embed_dim = 128;
    head64.num_heads = 2;
    head64.mlp_hidden = 512;
    head64.depth = 3;
    ModelConfig no_qkv_bias = named_config("tiny1");
    no_qkv_bias.qkv_bias = false;
    ModelConfig one_block = named_config("tiny2");
    one_block.depth = 1;
    const Case cases[] = {{named_config("tiny1"), 1, 1, 64},   {named_config("tiny2"), 3, 19, 1024},
                          {named_config("tiny2"), 2, 58, 256}, {named_config("tiny3"), 1, 62, 128},
                          {head64, 2, 19, 512},                {no_qkv_bias, 2, 5, 192},
                          {one_block, 2, 7, 128},              {named_config("base3"), 2, 19, 256}};
    unsigned seed = 800;
    for (const auto& c : cases) {
        ModelWeights w = random_weights(c.config, 3);
        auto x = randn(static_cast<size_t>(c.batch) * c.channels * c.samples, ++seed, 0.0f, 0.05f);
        auto ids = first_ids(c.channels, 5);
        auto cpu = make_encoder(w);
        const auto expected = encode_with(*cpu, x, c.batch, c.channels, c.samples, ids);
        for (const auto& t : kTolerances) {
            INFO(to_string(t.precision) << ": dim " << c.config.embed_dim << " depth " << c.config.depth << " heads "
                                        << c.config.num_heads << " E " << c.config.embed_num << " batch " << c.batch
                                        << " channels " << c.channels << " samples " << c.samples);
            auto gpu = make_encoder(w, {Device::cuda, t.precision, 0});
            CHECK((gpu->device() == Device::cuda));
            CHECK((gpu->precision() == t.precision));
            const auto got = encode_with(*gpu, x, c.batch, c.channels, c.samples, ids);
            CHECK(all_finite(got));
            CHECK(relative_error(got, expected) <= t.relative);
            CHECK(min_window_cosine(got, expected, c.batch) >= t.min_cosine);
        }
    }
}

TEST_CASE("cuda encoder: bad shapes and ids are the same errors as on the CPU", "[cuda][encoder]") {
    REQUIRE_CUDA_DEVICE();
    auto encoder = make_encoder(random_weights(named_config("tiny1"), 0), {Device::cuda, Precision::fp32, 0});
    std::vector<float> x(2 * 100), out(4096);
    std::vector<int> ids = {0, 1}, bad_ids = {0, 62};
    REQUIRE_THROWS_WITH(encoder->encode(x.data(), 1, 2, 100, ids.data(), out.data()),
                        Contains("positive multiple of 64, got 100"));
    REQUIRE_THROWS_WITH(encoder->encode(x.data(), 0, 2, 64, ids.data(), out.data()), Contains("batch must be at least 1"));
    REQUIRE_THROWS_WITH(encoder->encode(x.data(), 1, 2, 64, bad_ids.data(), out.data()),
                        Contains("channel id 62 out of range"));
}

TEST_CASE("cuda encoder: out of memory says what was asked and what batch would fit", "[cuda][encoder]") {
    REQUIRE_CUDA_DEVICE();
    const ModelWeights w = random_weights(named_config("tiny2"), 0);
    auto gpu = make_encoder(w, {Device::cuda, Precision::fp32, 0});
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
    for (const auto& t : kTolerances) {
        SECTION(to_string(t.precision)) {  // one section each, so a sanitizer run can pick one (-c fp32)
            auto gpu = make_encoder(w, {Device::cuda, t.precision, 0});
            const auto got = encode_with(*gpu, x, B, C, T, ids);
            CHECK(all_finite(got));
            CHECK(relative_error(got, expected) <= t.relative);
            CHECK(min_window_cosine(got, expected, B) >= t.min_cosine);
        }
    }
}

TEST_CASE("cuda encoder: large model, 19 and 58 channels, batch 1, 7 and 512 match the CPU fp32 path",
          "[cuda][encoder][large]") {
    REQUIRE_CUDA_DEVICE();
    const ModelWeights w = random_weights(named_config("large"), 0);
    const int T = 1024, max_batch = 512;
    auto cpu = make_encoder(w);
    std::vector<std::unique_ptr<Encoder>> gpus;
    for (const auto& t : kTolerances) gpus.push_back(make_encoder(w, {Device::cuda, t.precision, 0}));
    for (int C : {19, 58}) {
        const auto x = randn(static_cast<size_t>(max_batch) * C * T, 900 + static_cast<unsigned>(C), 0.0f, 0.05f);
        const auto ids = first_ids(C, 3);
        std::vector<float> first_batch7;
        for (int B : {1, 7, 512}) {  // growing batches: the arena grows twice
            const auto expected = encode_with(*cpu, x, B, C, T, ids);
            for (size_t p = 0; p < gpus.size(); ++p) {
                const auto& t = kTolerances[p];
                const auto got = encode_with(*gpus[p], x, B, C, T, ids);
                const double rel = relative_error(got, expected), cosine = min_window_cosine(got, expected, B);
                std::printf("parity large %2d ch batch %3d %s: relative error %.3g, min window cosine %.8f\n", C, B,
                            to_string(t.precision).c_str(), rel, cosine);
                INFO(to_string(t.precision) << ", " << C << " channels, batch " << B << ": relative error " << rel
                                            << ", min window cosine " << cosine);
                CHECK(all_finite(got));
                CHECK(rel <= t.relative);
                CHECK(cosine >= t.min_cosine);
                if (t.precision == Precision::fp32 && B == 7) first_batch7 = got;
            }
        }
        // After the arena grew for 512 windows, a smaller batch reuses it and gives the same numbers.
        const auto again = encode_with(*gpus[0], x, 7, C, T, ids);
        CHECK(relative_error(again, first_batch7) <= 1e-6);
    }
}

// ---------------------------------------------------------------------------------------------
// `eegpt encode --device cuda` against `--device cpu`
// ---------------------------------------------------------------------------------------------

namespace {

// The steps of run_encode in engine/cli/main.cpp, with the same library calls.
std::vector<float> encode_file(const std::string& weights_path, const std::string& input, const std::string& output,
                               Device device, Precision precision) {
    EncoderOptions options{device, precision, 0};
    ModelWeights weights = load_weights(weights_path);
    WindowBatch batch = read_window_file(input);
    auto encoder = make_encoder(weights, options);
    std::vector<float> features(encoder->output_size(batch.batch, batch.samples));
    encoder->encode(batch.x.data(), batch.batch, batch.channels, batch.samples, batch.channel_ids.data(),
                    features.data());
    FeatureFileInfo info{"test", to_string(encoder->device()), to_string(encoder->precision()), &weights.provenance};
    write_feature_file(output, features, batch.batch, batch.samples / weights.config.patch_size,
                       weights.config.embed_num, weights.config.embed_dim, batch.channel_ids, info);
    h5::Handle file = h5::open_read(output);
    CHECK(h5::read_string_attr(file, "device") == to_string(device));
    CHECK(h5::read_string_attr(file, "precision") == to_string(precision));
    return h5::read_floats(file, "features");
}

}  // namespace

TEST_CASE("cuda: eegpt encode --device cuda gives the features of --device cpu", "[cuda][cli]") {
    REQUIRE_CUDA_DEVICE();
    TempPath weights_path("weights.h5"), input("windows.h5");
    save_weights(random_weights(named_config("large"), 1), weights_path);
    const std::vector<std::string> montage = {"FP1", "FP2", "F7", "F3", "FZ", "F4", "F8", "T7", "C3", "CZ",
                                              "C4",  "T8",  "P7", "P3", "PZ", "P4", "P8", "O1", "O2"};
    const uint64_t B = 3, C = montage.size(), T = 1024;
    {
        h5::Handle file = h5::create_truncate(input);
        auto x = randn(B * C * T, 1000, 0.0f, 0.05f);
        h5::write_floats(file, "x", {B, C, T}, x.data());
        h5::write_strings(file, "channels", montage);
    }
    TempPath cpu_out("cpu.h5");
    const auto expected = encode_file(weights_path, input, cpu_out, Device::cpu, Precision::fp32);
    for (const auto& t : kTolerances) {
        INFO(to_string(t.precision));
        TempPath cuda_out("cuda.h5");
        const auto got = encode_file(weights_path, input, cuda_out, Device::cuda, t.precision);
        REQUIRE(got.size() == expected.size());
        CHECK(relative_error(got, expected) <= t.relative);
        CHECK(min_window_cosine(got, expected, static_cast<int>(B)) >= t.min_cosine);
    }
}

// The real binary needs the real CUDA runtime: not built into the CPU emulation (tools/cuda_emulation).
#ifndef EEGPT_CUDA_EMULATION
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
        h5::write_strings(file, "channels", {"FP1", "FP2", "F7", "F3", "FZ", "F4", "F8", "T7", "C3", "CZ", "C4", "T8",
                                             "P7", "P3", "PZ", "P4", "P8", "O1", "O2"});
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
    for (const auto& t : kTolerances) {
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
#endif  // EEGPT_CUDA_EMULATION

// ---------------------------------------------------------------------------------------------
// Timing (hidden: run with test_eegpt "[cuda-timing]")
// ---------------------------------------------------------------------------------------------

TEST_CASE("cuda encoder timing, large model, host to host", "[.][cuda-timing]") {
    REQUIRE_CUDA_DEVICE();
    const ModelWeights w = random_weights(named_config("large"), 0);
    const int T = 1024;
    struct Run {
        int channels, batch, repeats;
    };
    const Run runs[] = {{19, 1, 20}, {19, 64, 5}, {19, 512, 3}, {58, 1, 20}, {58, 512, 3}};
    for (const auto& t : kTolerances) {
        auto encoder = make_encoder(w, {Device::cuda, t.precision, 0});
        for (const Run& r : runs) {
            const auto x = randn(static_cast<size_t>(r.batch) * r.channels * T, 1100, 0.0f, 0.05f);
            const auto ids = first_ids(r.channels, 0);
            std::vector<float> out(encoder->output_size(r.batch, T));
            encoder->encode(x.data(), r.batch, r.channels, T, ids.data(), out.data());  // warm-up: arena, plans
            std::vector<double> ms;
            for (int i = 0; i < r.repeats; ++i) {
                const auto t0 = std::chrono::steady_clock::now();
                encoder->encode(x.data(), r.batch, r.channels, T, ids.data(), out.data());
                ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
            }
            std::sort(ms.begin(), ms.end());
            const double median = ms[ms.size() / 2];
            std::printf("timing %s %2d ch batch %3d: median %.3f ms per call, %.4f ms per window, %.0f windows/s\n",
                        to_string(t.precision).c_str(), r.channels, r.batch, median, median / r.batch,
                        1000.0 * r.batch / median);
            CHECK(all_finite(out));
        }
    }
}
