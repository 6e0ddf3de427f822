// The encoder through its one interface (make_encoder), on every backend present.
//
// Parity: one list of cases, run by every row of one table of (device, precision, tolerance). A row
// whose backend is absent here (no CUDA module, no GPU) reports itself skipped with the reason. A
// new backend or precision is one new PARITY_ROW line. Tolerances per precision: test/parity.h.
// References: the committed PyTorch float64 fixture, the naive float64 encoder of
// reference_encoder.h (small configurations), and for the large model the CPU fp32 path, which
// test/python/test_parity.py checks against PyTorch in float64 at 1e-5 (the AVX2 cpu row, being
// that path, runs the first two kinds only). cpu rows are per ISA level of the CPU operations.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <map>
#include <random>
#include <string>

#include "catch_compat.h"
#include "encoder/cpu/ops.h"
#include "encoder/encoder.h"
#include "encoder/error.h"
#include "encoder/io/hdf5.h"
#include "parity.h"
#include "reference_encoder.h"
#include "test_helpers.h"

using namespace eegpt;
using Catch::Matchers::Contains;
using eegpt_test::bound_for;
using eegpt_test::encode_with;
using eegpt_test::first_ids;
using eegpt_test::min_window_cosine;
using eegpt_test::PrecisionBound;
using eegpt_test::reference_encode;
using eegpt_test::relative_error;

namespace {

std::vector<float> random_input(size_t n, unsigned seed) {
    return eegpt_test::randn(n, seed, 0.0f, 0.05f);  // ~50 uV in millivolts
}

struct Row {
    Device device;
    Precision precision;
    std::string isa;  // the CPU ISA level of a cpu row (cpu/ops.h)
};

std::string row_name(const Row& row) {
    return to_string(row.device) + (row.isa.empty() ? "" : " " + row.isa) + " " + to_string(row.precision);
}

EncoderOptions options_of(const Row& row) { return {row.device, row.precision, 0, row.isa}; }

void check_row(const Row& row, const std::vector<float>& got, const std::vector<double>& expected, int batch,
               const std::string& what) {
    const PrecisionBound& bound = bound_for(row.precision);
    const double rel = relative_error(got, expected), cosine = min_window_cosine(got, expected, batch);
    std::printf("parity %s, %s: relative error %.3g, min window cosine %.8f\n", row_name(row).c_str(), what.c_str(), rel,
                cosine);
    INFO(row_name(row) << ", " << what << ": relative error " << rel << ", min window cosine " << cosine);
    CHECK(got.size() == expected.size());
    CHECK(rel <= bound.relative);
    if (bound.min_cosine > 0) CHECK(cosine >= bound.min_cosine);
}

// The committed fixture: tiny2 weights and PyTorch float64 features (tools/fixtures/make_fixtures.py).
void fixture_case(const Row& row) {
    h5::Handle file = h5::open_read(eegpt_test::fixture("tiny2_parity.h5"));
    auto info = h5::dataset_info(file, "x");
    const int B = static_cast<int>(info.shape[0]), C = static_cast<int>(info.shape[1]), T = static_cast<int>(info.shape[2]);
    const std::vector<float> x = h5::read_floats(file, "x");
    const std::vector<int32_t> ids = h5::read_int32s(file, "channel_ids");
    const std::vector<float> expected = h5::read_floats(file, "expected");
    auto encoder = make_encoder(load_weights(eegpt_test::fixture("tiny2_seed0.h5")), options_of(row));
    CHECK((encoder->device() == row.device));
    CHECK((encoder->precision() == row.precision));
    const std::vector<int> id_list(ids.begin(), ids.end());
    check_row(row, encode_with(*encoder, x, B, C, T, id_list), std::vector<double>(expected.begin(), expected.end()), B,
              "committed tiny2 fixture vs PyTorch float64");
}

// Small configurations against the naive float64 encoder: head dims 16 and 64, 1 and 4 summary
// tokens, 1 to 62 channels, with and without qkv bias, one block (the last block alone).
void small_cases(const Row& row) {
    struct Case {
        std::string name;
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
    // Overlapping patches (braindecode's EEGPT defaults to stride 32: 31 patches per 4 s window).
    ModelConfig stride32 = named_config("tiny2"), stride16 = named_config("tiny1");
    stride32.patch_stride = 32;
    stride16.patch_stride = 16;
    const Case cases[] = {{"tiny1", named_config("tiny1"), 1, 1, 64},      {"tiny2", named_config("tiny2"), 3, 19, 1024},
                          {"tiny2", named_config("tiny2"), 2, 58, 256},    {"tiny3", named_config("tiny3"), 1, 62, 128},
                          {"head dim 64", head64, 2, 19, 512},             {"no qkv bias", no_qkv_bias, 2, 5, 192},
                          {"one block", one_block, 2, 7, 128},             {"base3", named_config("base3"), 1, 19, 256},
                          {"patch stride 32", stride32, 2, 19, 1024},      {"patch stride 16", stride16, 3, 5, 112}};
    for (const Case& c : cases) {
        const ModelWeights w = random_weights(c.config, 3);
        const auto x = random_input(static_cast<size_t>(c.batch) * c.channels * c.samples, 11);
        const auto ids = first_ids(c.channels, 5);
        const auto expected = reference_encode(bind_encoder_weights(w), x, c.batch, c.channels, c.samples, ids);
        auto encoder = make_encoder(w, options_of(row));
        check_row(row, encode_with(*encoder, x, c.batch, c.channels, c.samples, ids), expected, c.batch,
                  c.name + ", " + std::to_string(c.channels) + " channels, batch " + std::to_string(c.batch) + " x " +
                      std::to_string(c.samples) + " vs float64 reference");
    }
}

// Any window length T >= 64, as the released Conv2d patch embedding (kernel (1, 64), stride (1, s)):
// N = floor((T - 64) / s) + 1 patches, the samples past the last whole patch ignored. T = 537 and
// 512 at stride 32 (15 patches each; 537 leaves 25 samples unused), 2000 and 7680 at stride 64
// (31 and 120 patches; 2000 leaves 16 unused), 100 at 64 (one patch, 36 unused), against the
// float64 reference; then the unused samples replaced by large values: the output is identical.
void window_length_cases(const Row& row) {
    struct Case {
        int stride, samples, patches;
    };
    ModelConfig config = named_config("tiny2");
    const Case cases[] = {{32, 537, 15}, {32, 512, 15}, {64, 2000, 31}, {64, 7680, 120}, {64, 100, 1}};
    const int B = 2, C = 5;
    const auto ids = first_ids(C, 7);
    for (const Case& c : cases) {
        config.patch_stride = c.stride;
        const ModelWeights w = random_weights(config, 4);
        REQUIRE(config.patches(c.samples) == c.patches);
        const int used = (c.patches - 1) * c.stride + config.patch_size;
        auto x = random_input(static_cast<size_t>(B) * C * c.samples, 13 + static_cast<unsigned>(c.samples));
        auto encoder = make_encoder(w, options_of(row));
        REQUIRE(encoder->output_size(B, c.samples) ==
                static_cast<size_t>(B) * c.patches * config.embed_num * config.embed_dim);
        const std::string what = "T = " + std::to_string(c.samples) + " at stride " + std::to_string(c.stride) + ", " +
                                 std::to_string(c.patches) + (c.patches == 1 ? " patch" : " patches");
        const auto got = encode_with(*encoder, x, B, C, c.samples, ids);
        check_row(row, got, reference_encode(bind_encoder_weights(w), x, B, C, c.samples, ids), B,
                  what + " vs float64 reference");
        if (used == c.samples) continue;
        for (size_t r = 0; r < static_cast<size_t>(B) * C; ++r)
            for (int t = used; t < c.samples; ++t) x[r * c.samples + t] = 1e3f * static_cast<float>(t - used + 1);
        INFO(row_name(row) << ", " << what << ": samples " << used << ".." << c.samples - 1 << " changed");
        CHECK(encode_with(*encoder, x, B, C, c.samples, ids) == got);
    }
}

// The large model against the CPU fp32 path, 19 and 58 channels, batches 1, 7, 512 on a GPU and 1,
// 7, 33 on a CPU (growing: a backend's buffers grow twice), then batch 7 again (reusing the grown buffers, same numbers). The
// references are computed once per process and shared by the rows.
void large_cases(const Row& row) {
    static const auto weights = std::make_shared<const ModelWeights>(random_weights(named_config("large"), 0));
    static std::map<std::pair<int, int>, std::vector<double>> references;
    const int T = 1024;
    auto encoder = make_encoder(weights, options_of(row));
    for (int C : {19, 58}) {
        const auto x = random_input(static_cast<size_t>(512) * C * T, 900 + static_cast<unsigned>(C));  // the largest batch
        const auto ids = first_ids(C, 3);
        std::vector<float> first_batch7;
        // 512 windows on a GPU; 33 on a CPU (one more than a batch of 32), where 512 would take hours.
        const std::vector<int> batches = row.device == Device::cpu ? std::vector<int>{1, 7, 33} : std::vector<int>{1, 7, 512};
        for (int B : batches) {
            auto& expected = references[{C, B}];
            if (expected.empty()) {
                auto reference = make_encoder(weights, {Device::cpu, Precision::fp32, 0, "avx2"});
                const auto e = encode_with(*reference, x, B, C, T, ids);
                expected.assign(e.begin(), e.end());
            }
            const auto got = encode_with(*encoder, x, B, C, T, ids);
            check_row(row, got, expected, B,
                      "large, " + std::to_string(C) + " channels, batch " + std::to_string(B) + " vs cpu fp32");
            if (B == 7) first_batch7 = got;
        }
        const auto again = encode_with(*encoder, x, 7, C, T, ids);
        CHECK(relative_error(again, first_batch7) <= 1e-6);
    }
}

void run_row(const Row& row) {
    const std::string why = row.device == Device::cuda        ? cuda_unavailable_reason()
                            : row.precision == Precision::bf16 ? cpu::bf16_unavailable_reason(cpu::parse_isa(row.isa))
                                                               : cpu::isa_unavailable_reason(cpu::parse_isa(row.isa));
    if (!why.empty()) EEGPT_SKIP(row_name(row) << ": " << why);
    fixture_case(row);
    small_cases(row);
    window_length_cases(row);
    // The large model against the CPU path: the AVX2 cpu row is that path; the others compare with it.
    if (!(row.device == Device::cpu && row.isa == "avx2")) large_cases(row);
}

}  // namespace

// ---- the parity table: one line per (device, precision); bounds per precision in parity.h ----
#define PARITY_ROW(name, device, precision, isa)                                   \
    TEST_CASE("parity: " name, "[parity][" #device "][" #precision "]") {          \
        run_row({Device::device, Precision::precision, isa});                      \
    }
PARITY_ROW("cpu avx2 fp32", cpu, fp32, "avx2")
PARITY_ROW("cpu avx512 fp32", cpu, fp32, "avx512")
PARITY_ROW("cpu avx512 bf16", cpu, bf16, "avx512")
PARITY_ROW("cuda fp32", cuda, fp32, "")
PARITY_ROW("cuda tf32", cuda, tf32, "")
PARITY_ROW("cuda bf16", cuda, bf16, "")

TEST_CASE("windows are independent: batching and thread count do not change results", "[encoder]") {
    ModelWeights w = random_weights(named_config("tiny2"), 0);
    const int B = 5, C = 19, T = 512;
    auto x = random_input(static_cast<size_t>(B) * C * T, 2);
    auto ids = first_ids(C, 0);
    auto one_thread = make_encoder(w, {Device::cpu, Precision::fp32, 1});
    auto two_threads = make_encoder(w, {Device::cpu, Precision::fp32, 2});
    const size_t per_window = one_thread->output_size(1, T);
    std::vector<float> batched(one_thread->output_size(B, T)), parallel(batched.size()), single(per_window);
    one_thread->encode(x.data(), B, C, T, ids.data(), batched.data());
    two_threads->encode(x.data(), B, C, T, ids.data(), parallel.data());
    CHECK(relative_error(parallel, batched) <= 1e-6);
    for (int b = 0; b < B; ++b) {
        one_thread->encode(x.data() + static_cast<size_t>(b) * C * T, 1, C, T, ids.data(), single.data());
        std::vector<float> slice(batched.begin() + b * per_window, batched.begin() + (b + 1) * per_window);
        CHECK(relative_error(single, slice) <= 1e-6);
    }
}

TEST_CASE("encoder rejects bad shapes and channel ids", "[encoder][errors]") {
    auto encoder = make_encoder(random_weights(named_config("tiny1"), 0));
    std::vector<float> x(2 * 100), out(4096);
    std::vector<int> ids = {0, 1};
    REQUIRE_THROWS_WITH(encoder->encode(x.data(), 1, 2, 63, ids.data(), out.data()),
                        Contains("samples per window must be at least 64 (one patch), got 63"));
    REQUIRE_THROWS_WITH(encoder->encode(x.data(), 1, 2, 0, ids.data(), out.data()), Contains("at least 64"));
    REQUIRE_THROWS_WITH(encoder->encode(x.data(), 0, 2, 64, ids.data(), out.data()), Contains("batch must be at least 1"));
    REQUIRE_THROWS_WITH(encoder->encode(x.data(), 1, 63, 64, ids.data(), out.data()), Contains("channel count must be 1..62"));
    ModelConfig strided = named_config("tiny1");
    strided.patch_stride = 32;
    auto overlapping = make_encoder(random_weights(strided, 0));
    REQUIRE_THROWS_WITH(overlapping->encode(x.data(), 1, 2, 50, ids.data(), out.data()),
                        Contains("at least 64 (one patch), got 50"));
    REQUIRE(overlapping->output_size(1, 96) == static_cast<size_t>(2 * strided.embed_num * strided.embed_dim));
    REQUIRE(overlapping->output_size(1, 100) == static_cast<size_t>(2 * strided.embed_num * strided.embed_dim));
    REQUIRE(encoder->output_size(1, 127) == static_cast<size_t>(1 * strided.embed_num * strided.embed_dim));
    std::vector<int> bad_ids = {0, 62};
    REQUIRE_THROWS_WITH(encoder->encode(x.data(), 1, 2, 64, bad_ids.data(), out.data()), Contains("channel id 62 out of range"));
}

TEST_CASE("unsupported device or precision is a clear error", "[encoder][errors]") {
    auto w = random_weights(named_config("tiny1"), 0);
    REQUIRE_THROWS_WITH(make_encoder(w, {Device::cpu, Precision::tf32, 0, ""}), Contains("not available on the cpu device"));
    const std::string no_bf16 = cpu::bf16_unavailable_reason(cpu::default_isa());
    if (!no_bf16.empty()) {
        CHECK(no_bf16.find("AVX512_BF16") != std::string::npos);
        REQUIRE_THROWS_WITH(make_encoder(w, {Device::cpu, Precision::bf16, 0, ""}), Contains(no_bf16));
    }
    REQUIRE_THROWS_WITH(make_encoder(w, {Device::cpu, Precision::bf16, 0, "avx2"}), Contains("bf16 on the cpu needs"));
    REQUIRE_THROWS_WITH(parse_device("tpu"), Contains("unknown device 'tpu'"));
    REQUIRE_THROWS_WITH(parse_precision("fp8"), Contains("unknown precision 'fp8'"));
}

TEST_CASE("without a usable CUDA backend, --device cuda is one clear error", "[encoder][errors]") {
    const std::string why = cuda_unavailable_reason();
    if (why.empty()) EEGPT_SKIP("a CUDA device is usable here; this test covers machines without one");
    // The reason names what is missing: the module, the runtime it needs, or a device.
    CHECK((why.find("CUDA backend") != std::string::npos || why.find("no CUDA device") != std::string::npos ||
           why.find("cudaGetDeviceCount") != std::string::npos));
    CHECK(why.find('\n') == std::string::npos);
    auto w = random_weights(named_config("tiny1"), 0);
    try {
        make_encoder(w, {Device::cuda, Precision::fp32, 0});
        FAIL("make_encoder(cuda) succeeded although cuda_unavailable_reason() says: " << why);
    } catch (const Error& e) {  // also when thrown inside the CUDA module: the same Error type
        const std::string message = e.what();
        CHECK(message.find('\n') == std::string::npos);
        CHECK((message.find("CUDA") != std::string::npos));
    }
}

TEST_CASE("results are bit-identical from call to call and encoder to encoder", "[encoder]") {
    ModelWeights w = random_weights(named_config("tiny2"), 4);
    const int B = 2, C = 19, T = 256;
    auto x = random_input(static_cast<size_t>(B) * C * T, 8);
    auto ids = first_ids(C, 1);
    auto first = make_encoder(w);
    std::vector<float> a(first->output_size(B, T)), b(a.size()), c(a.size());
    first->encode(x.data(), B, C, T, ids.data(), a.data());
    first->encode(x.data(), B, C, T, ids.data(), b.data());
    std::vector<char> heap_shift(24);  // moves the next allocations by a few bytes
    auto second = make_encoder(w);
    second->encode(x.data(), B, C, T, ids.data(), c.data());
    CHECK(a == b);
    CHECK(a == c);
}

TEST_CASE("the encoder shares the weights it is given instead of copying them", "[encoder]") {
    auto weights = std::make_shared<const ModelWeights>(random_weights(named_config("tiny1"), 0));
    CHECK(weights.use_count() == 1);
    auto encoder = make_encoder(weights);
    CHECK(weights.use_count() == 2);
    encoder.reset();
    CHECK(weights.use_count() == 1);
}

// ---- ISA levels of the CPU operations (cpu/ops.h) ----

TEST_CASE("cpu ISA: EEGPT_CPU_ISA picks a level, and a level this CPU lacks is one clear error", "[encoder][isa]") {
    const char* saved = std::getenv("EEGPT_CPU_ISA");
    const std::string restore = saved ? saved : "";
    setenv("EEGPT_CPU_ISA", "avx2", 1);
    CHECK(cpu::default_isa() == cpu::Isa::avx2);
    auto w = random_weights(named_config("tiny1"), 0);
    CHECK(make_encoder(w)->isa() == "avx2");
    setenv("EEGPT_CPU_ISA", "sse2", 1);
    REQUIRE_THROWS_WITH(cpu::default_isa(), Contains("unknown CPU ISA level 'sse2'"));
    setenv("EEGPT_CPU_ISA", "avx512", 1);
    const std::string why = cpu::isa_unavailable_reason(cpu::Isa::avx512);
    if (why.empty()) {
        CHECK(make_encoder(w)->isa() == "avx512");
    } else {
        REQUIRE_THROWS_WITH(make_encoder(w), Contains("EEGPT_CPU_ISA=avx512: " + why));
        REQUIRE_THROWS_WITH(make_encoder(w, {Device::cpu, Precision::fp32, 0, "avx512"}), Contains(why));
    }
    if (saved)
        setenv("EEGPT_CPU_ISA", restore.c_str(), 1);
    else
        unsetenv("EEGPT_CPU_ISA");
    // Without the variable: the best level this CPU has.
    CHECK(cpu::default_isa() == (why.empty() ? cpu::Isa::avx512 : cpu::Isa::avx2));
}

namespace {

// Every op of `isa` against the AVX2 op (the reference) on random inputs, outputs poisoned with NaN.
void check_isa_ops(cpu::Isa isa) {
    const std::string why = cpu::isa_unavailable_reason(isa);
    if (!why.empty()) EEGPT_SKIP(cpu::to_string(isa) << ": " << why);
    const cpu::Ops& ops = cpu::ops(isa);
    const cpu::Ops& ref = cpu::ops(cpu::Isa::avx2);
    REQUIRE(ops.isa == isa);
    const int rows = 37, in = 96, out = 80, dim = 64, seqs = 3, S = 23, heads = 4, hd = 16, E = 4;
    auto x = random_input(static_cast<size_t>(rows) * in, 21), w = random_input(static_cast<size_t>(out) * in, 22);
    auto b = random_input(static_cast<size_t>(out), 23);
    auto run = [](size_t n, auto&& f) {
        std::vector<float> y(n, std::nanf(""));
        f(y.data());
        return y;
    };
    auto compare = [](const std::vector<float>& got, const std::vector<float>& want, const char* what) {
        INFO(what);
        CHECK(std::all_of(got.begin(), got.end(), [](float v) { return std::isfinite(v); }));
        CHECK(relative_error(got, want) <= 1e-6);
    };
    const size_t ny = static_cast<size_t>(rows) * out;
    compare(run(ny, [&](float* y) { ops.linear(x.data(), in, rows, in, w.data(), b.data(), out, y, out, false); }),
            run(ny, [&](float* y) { ref.linear(x.data(), in, rows, in, w.data(), b.data(), out, y, out, false); }),
            "linear");
    const cpu::PackedWeights packed = cpu::pack_weights(w.data(), out, in, ops.gemm_nr);
    std::vector<float> scratch(ops.gemm_scratch);
    compare(run(ny, [&](float* y) { ops.linear_packed(x.data(), in, rows, packed, b.data(), y, out, false, scratch.data()); }),
            run(ny, [&](float* y) { ref.linear(x.data(), in, rows, in, w.data(), b.data(), out, y, out, false); }),
            "linear_packed");
    auto g = random_input(static_cast<size_t>(dim), 24), beta = random_input(static_cast<size_t>(dim), 25);
    auto xn = random_input(static_cast<size_t>(rows) * dim, 26);
    const size_t nn = xn.size();
    compare(run(nn, [&](float* y) { ops.layernorm(xn.data(), g.data(), beta.data(), y, rows, dim, 1e-6f); }),
            run(nn, [&](float* y) { ref.layernorm(xn.data(), g.data(), beta.data(), y, rows, dim, 1e-6f); }),
            "layernorm");
    compare(run(nn, [&](float* y) { ops.bias_gelu(xn.data(), g.data(), y, nn, dim); }),
            run(nn, [&](float* y) { ref.bias_gelu(xn.data(), g.data(), y, nn, dim); }), "bias_gelu");
    const int D = heads * hd;
    auto qkv = random_input(static_cast<size_t>(seqs) * S * 3 * D, 27);
    std::vector<float> scores(cpu::attention_scratch_floats(S, S, hd));
    const size_t na = static_cast<size_t>(seqs) * S * D;
    auto attend = [&](const cpu::Ops& o) {
        return run(na, [&](float* y) {
            o.attention(qkv.data(), 3 * D, S, qkv.data() + D, qkv.data() + 2 * D, 3 * D, S, seqs, heads, hd, y, D,
                        scores.data());
        });
    };
    compare(attend(ops), attend(ref), "attention");
    const size_t ng = static_cast<size_t>(seqs) * E * D;
    compare(run(ng, [&](float* y) { ops.gather_rows(qkv.data(), y, seqs, S, S - E, E, D); }),
            run(ng, [&](float* y) { ref.gather_rows(qkv.data(), y, seqs, S, S - E, E, D); }), "gather_rows");
    const int C = 19, T = 256, P = 64, stride = 32;  // overlapping patches cover the stride too
    const int N = (T - P) / stride + 1;
    auto xs = random_input(static_cast<size_t>(2) * C * T, 28), pw = random_input(static_cast<size_t>(D) * P, 29);
    auto chan = random_input(static_cast<size_t>(62) * D, 30), summary = random_input(static_cast<size_t>(E) * D, 31);
    const auto ids = first_ids(C, 2);
    const size_t nt = static_cast<size_t>(2) * N * (C + E) * D;
    auto embed = [&](const cpu::Ops& o) {
        return run(nt, [&](float* y) {
            o.patch_embed(xs.data(), ids.data(), pw.data(), b.data(), chan.data(), summary.data(), y, C, T, P, stride, D, E, 0,
                          2 * N);
        });
    };
    compare(embed(ops), embed(ref), "patch_embed");
}

}  // namespace

TEST_CASE("cpu ISA: the AVX-512 operations match the AVX2 ones", "[encoder][isa]") { check_isa_ops(cpu::Isa::avx512); }

namespace {

// attention() of `isa` against the definition in double precision, for shapes around its blocking:
// keys padded to whole vectors (seq_len 1, 5, 8, 9, 23, 24, 66), query rows in groups of 4 and 3
// with remainders, head dims that are and are not multiples of 8 and 32, scores all far below 0
// (the keys' padding must not set the max); strided q, k, v and out
// as the encoder lays them out, outputs poisoned with NaN. fp32 sums of at most 66 terms of
// values of order 1: 1e-6 relative is several times their rounding error and far below any slip
// (a wrong key, a missed row or a lost padding lane is an error of order 1 / seq_len).
void check_attention(cpu::Isa isa) {
    const std::string why = cpu::isa_unavailable_reason(isa);
    if (!why.empty()) EEGPT_SKIP(cpu::to_string(isa) << ": " << why);
    const cpu::Ops& ops = cpu::ops(isa);
    struct Shape {
        int seq_len, num_q, heads, head_dim;
        bool shifted = false;
    };
    const Shape shapes[] = {{23, 23, 8, 64}, {23, 4, 8, 64}, {24, 24, 2, 32}, {66, 66, 2, 64}, {66, 4, 1, 16},
                            {5, 5, 3, 12},   {9, 7, 2, 40},  {8, 8, 1, 8},    {1, 1, 2, 4},   {23, 23, 4, 16},
                            {23, 23, 2, 64, true}};
    for (const Shape& c : shapes) {
        INFO("seq_len " << c.seq_len << ", num_q " << c.num_q << ", heads " << c.heads << ", head_dim " << c.head_dim);
        const int seqs = 3, D = c.heads * c.head_dim, q_stride = D + 3, kv_stride = 2 * D + 5, out_stride = D + 1;
        // Scores with a spread of about 3: a softmax far from uniform.
        auto q = eegpt_test::randn(static_cast<size_t>(seqs) * c.num_q * q_stride, 41, 0.0f, 1.0f);
        auto kv = eegpt_test::randn(static_cast<size_t>(seqs) * c.seq_len * kv_stride, 42, 0.0f, 3.0f);
        if (c.shifted) {
            // Scores -1024 + x_j, x_j in steps of 1/8, exact in fp32 (so the reference is fair),
            // and all below exp's range once scaled unless the max they are shifted by is a key's.
            for (int r = 0; r < seqs * c.num_q; ++r)
                for (int d = 0; d < D; ++d) q[static_cast<size_t>(r) * q_stride + d] = d % c.head_dim < 2 ? 1.0f : 0.0f;
            for (int r = 0; r < seqs * c.seq_len; ++r)
                for (int d = 0; d < D; ++d) {
                    float& x = kv[static_cast<size_t>(r) * kv_stride + d];
                    x = d % c.head_dim == 0 ? -1024.0f : d % c.head_dim == 1 ? std::round(8.0f * x / 3.0f) / 8.0f : 0.0f;
                }
        }
        std::vector<float> out(static_cast<size_t>(seqs) * c.num_q * out_stride, std::nanf(""));
        std::vector<float> scratch(cpu::attention_scratch_floats(c.num_q, c.seq_len, c.head_dim), std::nanf(""));
        ops.attention(q.data(), q_stride, c.num_q, kv.data(), kv.data() + D, kv_stride, c.seq_len, seqs, c.heads,
                      c.head_dim, out.data(), out_stride, scratch.data());
        std::vector<double> want;
        std::vector<float> got;
        for (int s = 0; s < seqs; ++s)
            for (int h = 0; h < c.heads; ++h)
                for (int i = 0; i < c.num_q; ++i) {
                    const float* qi = q.data() + (static_cast<size_t>(s) * c.num_q + i) * q_stride + h * c.head_dim;
                    std::vector<double> p(static_cast<size_t>(c.seq_len));
                    double mx = -1e300, sum = 0;
                    for (int j = 0; j < c.seq_len; ++j) {
                        const float* kj = kv.data() + (static_cast<size_t>(s) * c.seq_len + j) * kv_stride + h * c.head_dim;
                        double dot = 0;
                        for (int d = 0; d < c.head_dim; ++d) dot += static_cast<double>(qi[d]) * kj[d];
                        p[static_cast<size_t>(j)] = dot / std::sqrt(static_cast<double>(c.head_dim));
                        mx = std::max(mx, p[static_cast<size_t>(j)]);
                    }
                    for (double& x : p) sum += (x = std::exp(x - mx));
                    for (int d = 0; d < c.head_dim; ++d) {
                        double acc = 0;
                        for (int j = 0; j < c.seq_len; ++j)
                            acc += p[static_cast<size_t>(j)] *
                                   kv[(static_cast<size_t>(s) * c.seq_len + j) * kv_stride + D + h * c.head_dim + d];
                        want.push_back(acc / sum);
                        got.push_back(out[(static_cast<size_t>(s) * c.num_q + i) * out_stride + h * c.head_dim + d]);
                    }
                }
        CHECK(std::all_of(got.begin(), got.end(), [](float v) { return std::isfinite(v); }));
        CHECK(relative_error(got, want) <= 1e-6);
        // The columns between heads' outputs (out_stride > D) are not written.
        for (int r = 0; r < seqs * c.num_q; ++r) CHECK(std::isnan(out[static_cast<size_t>(r) * out_stride + D]));
    }
}

}  // namespace

TEST_CASE("cpu ops: attention equals its definition in double precision", "[encoder][isa]") {
    SECTION("avx2") { check_attention(cpu::Isa::avx2); }
    SECTION("avx512") { check_attention(cpu::Isa::avx512); }
}
