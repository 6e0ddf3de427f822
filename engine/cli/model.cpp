#include "cli/model.h"

#include <cstdio>

namespace eegpt::cli {

LoadedModel load_model(const std::string& weights_path, const EncoderOptions& options, bool announce_stand_in) {
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
    }
    LoadedModel m;
    m.weights = weights;
    m.encoder = make_encoder(m.weights, options);
    return m;
}

}  // namespace eegpt::cli
