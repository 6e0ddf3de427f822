// A downstream model around the encoder (format: docs/weight-format.md, "Head files"): a fixed
// sequence of typed steps from a closed set, in the order the official forward runs them. Steps
// before the one `encoder` step transform a window's signal (channels x samples, in the model's
// input unit); steps after it transform the window's features (rows x columns, starting as N time
// patches x E*D); the last leaves the logits, turned into probabilities by softmax or sigmoid.
// Not a graph: each step is one of the operations below, run on the CPU in float64 (a head costs
// microseconds to milliseconds per window next to the encoder's tens of milliseconds).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "encoder/encoder.h"
#include "encoder/model/weights.h"
#include "recordings/pipeline/preparation.h"

namespace eegpt {

enum class StepOp {
    // signal
    scale,
    subtract_channel_mean,
    interpolate_nearest,
    select_channels,
    channel_scale,
    channel_mix,
    batch_norm,
    depthwise_conv,
    encoder,
    // features
    layer_norm,
    mean_tokens,
    linear,
    flatten,
    sleep_decoder,
    // both sides
    gelu,
    relu,
};

std::string to_string(StepOp op);

// One post-norm nn.TransformerDecoderLayer (self-attention, cross-attention, MLP with GELU).
struct DecoderLayerWeights {
    std::vector<float> self_in_weight, self_in_bias, self_out_weight, self_out_bias;
    std::vector<float> cross_in_weight, cross_in_bias, cross_out_weight, cross_out_bias;
    std::vector<float> linear1_weight, linear1_bias, linear2_weight, linear2_bias;
    std::vector<float> norm1_weight, norm1_bias, norm2_weight, norm2_bias, norm3_weight, norm3_bias;
    int hidden = 0;
};

struct HeadStep {
    StepOp op = StepOp::scale;
    double factor = 1;    // scale
    int64_t length = 0;   // interpolate_nearest
    std::vector<int64_t> indices;  // select_channels
    // channel_mix, linear: weight out x in; channel_scale, layer_norm: weight, bias;
    // batch_norm: weight, bias, running_mean, running_var; depthwise_conv: weight channels x kernel.
    std::vector<float> weight, bias, running_mean, running_var;
    int out = 0, in = 0;  // channel_mix, linear (rows x columns of weight); depthwise_conv: channels, kernel
    double eps = 0;       // batch_norm, layer_norm, sleep_decoder
    double max_norm = 0;  // channel_mix, linear: the bound the converter applied (0: none)
    bool same_padding = false;  // depthwise_conv: PyTorch padding='same' (else 'valid')
    std::vector<std::string> channels;  // encoder: dictionary names, one per signal channel
    int patch_stride = 0;               // encoder: the stride the weights must have (0: any, version 1 files)
    int heads = 0;                      // sleep_decoder
    std::vector<float> cls_token;       // sleep_decoder
    std::vector<DecoderLayerWeights> decoder;
};

// A step of `op` with nothing else set (the ops without tensors: flatten, gelu, ...).
inline HeadStep make_step(StepOp op) {
    HeadStep s;
    s.op = op;
    return s;
}

enum class HeadOutput { softmax, sigmoid };

struct Head {
    int64_t format_version = 3;
    std::string recipe = "custom";
    std::vector<std::string> class_names;   // softmax: one per logit; sigmoid: {p < 0.5, p >= 0.5}
    HeadOutput output = HeadOutput::softmax;
    std::vector<std::string> input_labels;  // the model's input channels, any strings
    double sample_rate_hz = 256;
    int window_samples = 1024;
    double input_unit_mv = 1;  // one input unit in millivolts
    double stride_s = 4;       // classify's default stride
    std::vector<HeadStep> steps;
    // The data preparation its training used (the group /preparation, version 3), when it has one:
    // classify and preprocess apply it unless options override it (preparation.h).
    bool has_preparation = false;
    HeadPreparation preparation;
    std::string source, source_sha256, converter_version;
    std::vector<std::string> warnings;  // from loading, e.g. a file without checksums

    const HeadStep& encoder_step() const;
    const std::vector<std::string>& encoder_channels() const { return encoder_step().channels; }
    // Probability columns per window: K for softmax, 1 for sigmoid.
    int outputs() const { return output == HeadOutput::sigmoid ? 1 : static_cast<int>(class_names.size()); }
    // True when the signal steps are the identity (the recording's channels go to the encoder as they are).
    bool signal_is_identity() const;
};

// Loads format versions 3 and 2, or version 1 as the steps it stands for; throws Error naming the problem.
Head load_head(const std::string& path);
// Writes format version 3 (atomic).
void save_head(const Head& head, const std::string& path);

// The shapes a head gives with a model, checked once before any work.
struct HeadPlan {
    int encoder_samples = 0;    // samples per window that reach the encoder
    int patches = 0;            // N
    std::vector<int> encoder_ids;  // dictionary ids of the encoder channels
};
// Throws Error unless every step fits the previous one and the model (channel counts, the window
// length reaching the encoder, patch stride, E and D, the logits' count).
HeadPlan plan_head(const Head& head, const ModelConfig& config);

// Signal steps: x (windows x input_labels x window_samples, input units) -> out (windows x encoder
// channels x encoder_samples).
void head_signal(const Head& head, const float* x, int windows, std::vector<float>& out);

// Feature steps and the output: features (windows x patches x embed_num x embed_dim) -> logits
// (windows x logits) and probabilities (windows x outputs()). Throws Error on a non-finite logit.
void head_outputs(const Head& head, const float* features, int windows, int patches, int embed_num, int embed_dim,
                  float* logits, float* probabilities);

// Windows through a downstream model on `encoder`, as `eegpt encode --head` and Python's
// Classifier run them: x holds `windows` x labels.size() x samples values in the head's input unit,
// `labels` names x's channels, which must be the head's inputs in order (compared by
// model_input_key) with samples = window_samples; `plan` is plan_head's for the encoder's model.
// Throws Error naming the first mismatch, or features or logits that are not finite.
struct HeadPrediction {
    std::vector<float> features, logits, probabilities;
};
HeadPrediction predict_windows(const Head& head, const HeadPlan& plan, Encoder& encoder, const float* x, int windows,
                               const std::vector<std::string>& labels, int samples);

// The predicted class index of one window's probabilities (sigmoid: p >= 0.5).
int predicted_class(const Head& head, const float* probabilities);

}  // namespace eegpt
