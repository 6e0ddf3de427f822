#include "cli/model.h"

#include <sched.h>

#include <cstdio>
#include <string>

#include "encoder/error.h"

namespace eegpt::cli {

namespace {

// More threads than cores only adds memory (one workspace per thread) and contention.
int usable_threads(int requested) {
    if (requested < 0)
        throw Error("--threads " + std::to_string(requested) + " must be 0 (all cores) or a positive count");
    cpu_set_t set;
    CPU_ZERO(&set);
    const int cores = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : 1;
    if (requested > cores) {
        std::fprintf(stderr, "eegpt: warning: --threads %d: only %d cores are available to this process; using %d\n",
                     requested, cores, cores);
        return cores;
    }
    return requested;
}

}  // namespace

LoadedModel load_model(const std::string& weights_path, const EncoderOptions& requested, bool announce_stand_in) {
    EncoderOptions options = requested;
    options.threads = usable_threads(requested.threads);
    auto weights = std::make_shared<ModelWeights>();
    if (weights_path.empty()) {
        if (announce_stand_in)
            std::fprintf(stderr,
                         "eegpt: WARNING: no --weights given: using a RANDOM-INITIALISED 'large' model (seed 0) as a "
                         "STAND-IN. Its features mean nothing; convert the released checkpoint with "
                         "tools/convert_ckpt.py and pass --weights.\n");
        *weights = random_weights(named_config("large"), 0);
        weights->provenance.source_checkpoint = "random-init:large";
    } else {
        *weights = load_weights(weights_path);
        for (const auto& w : weights->warnings)
            std::fprintf(stderr, "eegpt: warning: weights '%s': %s\n", weights_path.c_str(), w.c_str());
    }
    LoadedModel m;
    m.weights = weights;
    m.encoder = make_encoder(m.weights, options);
    return m;
}

}  // namespace eegpt::cli
