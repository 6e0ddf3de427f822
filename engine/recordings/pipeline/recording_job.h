// One recording end to end: read block -> preprocess -> cut windows -> batch -> (the head's signal
// steps) -> encode -> (the head's feature steps) -> write, with the output written under a temporary name and renamed
// when complete. Peak memory depends on the batch and the model, not on the recording's length.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "encoder/conventions.h"

#include "recordings/channel_map.h"
#include "encoder/encoder.h"
#include "recordings/heads/head.h"
#include "recordings/io/row_dataset.h"
#include "recordings/pipeline/signal_stream.h"

namespace eegpt {


struct RecordingOptions {
    // Seconds between window starts; 0: the window length (4 s), or the head's default stride.
    // 2.0 gives 599 windows for 20 minutes.
    double stride_s = 0;
    int batch = 32;
    MontageOptions montage;
    PreprocessOptions preprocess;
    RowType features_dtype = RowType::float32;
    bool save_features = true;  // `classify` writes features only when asked
    // What made this output (the CLI's resume record), written as the attribute `job`; the
    // attribute `complete` = 1 follows as the last write before the output is renamed.
    std::string job;
};

struct Progress {
    int64_t windows_done = 0, windows_total = 0;
    double elapsed_s = 0;
};
// Called after every batch; may throw (e.g. to stop on Ctrl-C), which abandons the output.
using ProgressFn = std::function<void(const Progress&)>;

struct ModelContext {
    std::string engine_version;
    Encoder* encoder = nullptr;
    const Provenance* weights = nullptr;
    const Head* head = nullptr;  // classify only
    std::string head_path;
};

struct RecordingSummary {
    std::string file_type;
    double duration_s = 0;
    int64_t windows = 0;
    double encoder_s = 0;  // wall time inside Encoder::encode, all batches: the rest is the pipeline's own
    ChannelPlan channels;
    std::vector<std::string> warnings;
    std::vector<double> mean_probability, class_fraction;  // classify only
};

// Stride in samples at rate_hz; throws Error unless stride_s is a positive whole number of samples.
int64_t stride_samples(double stride_s, double rate_hz);

// Where windows come from: the model's rate (256 Hz, or the head's), the samples per window (1024,
// or the head's), and the stride in samples (options.stride_s, else the default).
struct WindowGeometry {
    int rate_hz = static_cast<int>(kModelRateHz);
    int samples = kWindowSamples;
    int64_t stride = 0;
};
WindowGeometry window_geometry(const RecordingOptions& options, const Head* head);

// The channel plan of a recording for these options (and head, when classifying).
ChannelPlan plan_recording_channels(const EdfReader& reader, const MontageOptions& montage, const Head* head);
ChannelPlan plan_recording_channels(const SampleSource& source, const MontageOptions& montage, const Head* head);

RecordingSummary process_recording(const std::string& input, const std::string& output, const ModelContext& model,
                                   const RecordingOptions& options, const ProgressFn& progress = nullptr);
// The same for a recording that is not a file (MemorySource): the one pipeline behind both.
RecordingSummary process_recording(SampleSource& source, const std::string& output, const ModelContext& model,
                                   const RecordingOptions& options, const ProgressFn& progress = nullptr);

// The preprocessed continuous signals (channels x samples, float32, millivolts) of a recording, for
// inspection and tests; streamed like process_recording: at 256 Hz, or with a head its inputs at
// its rate (what classify cuts its windows from). Returns the warnings (also in the output).
std::vector<std::string> write_preprocessed(const std::string& input, const std::string& output,
                                            const MontageOptions& montage, const PreprocessOptions& preprocess,
                                            const std::string& engine_version, const Head* head = nullptr);

}  // namespace eegpt
