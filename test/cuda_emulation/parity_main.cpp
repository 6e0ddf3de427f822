// Large-model parity of the CUDA encoder against the CPU fp32 path, run on the CPU emulation with
// small batches so that it finishes: parity_emu [channels...] (default 19 58); PARITY_BATCHES=1
// runs batch 1 only. Bounds: test/parity.h. Exit code 1 when a bound fails.
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "encoder/cuda/encoder_cuda.h"
#include "encoder/error.h"
#include "parity.h"
#include "reference_encoder.h"
#include "test_helpers.h"

using namespace eegpt;

int main(int argc, char** argv) {
    std::vector<int> channel_counts;
    for (int i = 1; i < argc; ++i) channel_counts.push_back(std::atoi(argv[i]));
    if (channel_counts.empty()) channel_counts = {19, 58};
    const ModelWeights w = random_weights(named_config("large"), 0);
    auto cpu = make_encoder(w);
    bool ok = true;
    const int T = 1024;
    for (int C : channel_counts)
        for (int B : {1, 2}) {
            if (B > 1 && std::getenv("PARITY_BATCHES") && std::atoi(std::getenv("PARITY_BATCHES")) < B) continue;
            const auto x = eegpt_test::randn(static_cast<size_t>(B) * C * T, static_cast<unsigned>(C * 10 + B), 0.0f, 0.05f);
            const std::vector<int> ids = eegpt_test::first_ids(C, 3);
            const auto expected = eegpt_test::encode_with(*cpu, x, B, C, T, ids);
            for (const auto& bound : eegpt_test::kPrecisionBounds) {
                auto gpu = make_cuda_encoder(w, {Device::cuda, bound.precision, 0});
                const auto got = eegpt_test::encode_with(*gpu, x, B, C, T, ids);
                const double rel = eegpt_test::relative_error(got, expected);
                const double worst = eegpt_test::min_window_cosine(got, expected, B);
                const bool pass = rel <= bound.relative && worst >= bound.min_cosine;
                ok = ok && pass;
                std::printf("large %2d ch batch %d %s: relative error %.3g (bound %.0e), min window cosine %.8f %s\n", C, B,
                            to_string(bound.precision).c_str(), rel, bound.relative, worst, pass ? "ok" : "FAIL");
                std::fflush(stdout);
            }
        }
    return ok ? 0 : 1;
}
