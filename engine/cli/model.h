// The one way the command line gets a model: weights from a file (or the random-initialised
// 'large' stand-in when no file is given) and an encoder that shares them (no copy).
#pragma once
#include <memory>
#include <string>

#include "encoder/encoder.h"

namespace eegpt::cli {

struct LoadedModel {
    std::shared_ptr<const ModelWeights> weights;  // config and provenance for the outputs
    std::unique_ptr<Encoder> encoder;
};

// weights_path empty: the stand-in, announced on stderr unless the caller announced it already.
LoadedModel load_model(const std::string& weights_path, const EncoderOptions& options, bool announce_stand_in = true);

}  // namespace eegpt::cli
