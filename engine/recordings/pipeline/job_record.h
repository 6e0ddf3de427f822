// The job record of an output, and where outputs may go: an output never replaces an input, and
// resuming keeps only what this very job would write again. Shared by the eegpt command line and
// the Python package, so that both resume by the same rule.
#pragma once
#include <functional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace eegpt {

struct RecordingOptions;

// Who makes an output: the command ("embed" or "classify"), the digests of the weights (or
// "random-init:NAME seed N") and of the head (classify), the device and precision, and the head's
// default stride (0 without a head).
struct JobMaker {
    std::string command, weights, head, device, precision;
    double head_stride_s = 0;
};

// Everything that makes the numbers of an output, one "key=value" per line, recorded in the output
// as the attribute `job`; an existing output is reused only when its record equals this. Built
// from the parsed options, in one canonical form (numbers as %.17g, round-trip exact; channels as
// the dictionary names --channels maps to), so that every spelling of the same job, on the
// command line or in Python, records the same text.
std::string job_record(const JobMaker& maker, const RecordingOptions& options);

// Where an output of `input` goes in `dir` ("" for the working directory): DIR/NAME + suffix, NAME
// being the file name without an .edf, .bdf or .rec extension (any case), e.g. ".features.h5".
std::string output_path(const std::string& input, const std::string& dir, const std::string& suffix);

// The tag --name-settings (embed_many's name_settings=True) puts in output names,
// DIR/NAME.settings-TAG.features.h5: 8 hex digits of the FNV-1a of the job record, so that runs of
// different settings write different files and the same settings, from the CLI or Python, the same.
std::string settings_tag(const std::string& job);

// Throws Error unless `output` can be written without harm: not empty, not a directory, not a
// device, FIFO or socket, not being written by another process (h5::check_output_target), and not
// the same file as any of `inputs` (pairs of what the file is, e.g. "the weights", and its path);
// unless `force`, also not an existing file that replaceable_output refuses.
void check_output_path(const std::string& output, const std::vector<std::pair<std::string, std::string>>& inputs,
                       bool force);

// Whether whatever is at an output's name may be written over without --force: nothing, an output
// of this engine (its `content` attribute), an HDF5 file too damaged to open (an output cut short),
// or an empty file. Anything else (a recording, weights, notes) is the user's.
bool replaceable_output(const std::string& path);

// check_output_path for the many outputs of one job: the inputs are looked up by file identity
// (device and inode, taken once), so each output costs one stat whatever the number of inputs: a
// corpus of 100,000 recordings starts in seconds, not in hours.
class JobInputs {
public:
    explicit JobInputs(const std::vector<std::pair<std::string, std::string>>& inputs);
    void check_output(const std::string& output) const;

private:
    struct Identity {
        unsigned long long device, inode;
        bool operator==(const Identity& o) const { return device == o.device && inode == o.inode; }
    };
    struct Hash {
        size_t operator()(const Identity& i) const { return std::hash<unsigned long long>()(i.inode * 31 + i.device); }
    };
    std::unordered_map<Identity, std::pair<std::string, std::string>, Hash> files_;  // the first of each file
};

// 64-bit FNV-1a of a file's bytes in hex: the identity of a weight or head file for resuming
// (not a defence against tampering; the loaders verify the checksums).
std::string file_digest(const std::string& path);

// What identifies a recording file without reading it whole: its absolute path, size and
// modification time. Throws Error when it cannot be read.
std::string recording_identity(const std::string& path);

// "" when `output` opens as HDF5, is marked complete and its attribute `job` equals `job`;
// otherwise why not, in words ("it is incomplete", "other stride_s (was 4, now 2)").
std::string reuse_refusal(const std::string& output, const std::string& job);

}  // namespace eegpt
