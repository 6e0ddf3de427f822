// The benchmark suite (filled in by the benchmark issue). For now one smoke case so the
// executable exists and its registration works.
#include "../test/catch_compat.h"
#include "encoder.h"

TEST_CASE("tiny encoder runs", "[quick]") {
    auto weights = eegpt::random_weights(eegpt::named_config("tiny2"), 0);
    auto encoder = eegpt::make_encoder(weights);
    std::vector<float> x(19 * 1024, 0.01f), out(encoder->output_size(1, 1024));
    std::vector<int> ids(19);
    for (int i = 0; i < 19; ++i) ids[static_cast<size_t>(i)] = i;
    BENCHMARK("tiny2 one window") {
        encoder->encode(x.data(), 1, 19, 1024, ids.data(), out.data());
        return out[0];
    };
}
