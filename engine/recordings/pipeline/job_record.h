// The job record of an output, and where outputs may go: an output never replaces an input, and
// resuming keeps only what this very job would write again. Shared by the eegpt command line and
// the Python package, so that both resume by the same rule.
#pragma once
#include <string>
#include <utility>
#include <vector>

namespace eegpt {

// Where an output of `input` goes in `dir` ("" for the working directory): DIR/NAME + suffix, NAME
// being the file name without an .edf, .bdf or .rec extension (any case), e.g. ".features.h5".
std::string output_path(const std::string& input, const std::string& dir, const std::string& suffix);

// Throws Error unless `output` can be written without harm: not empty, not a directory, not a
// device, FIFO or socket, not being written by another process (h5::check_output_target), and not
// the same file as any of `inputs` (pairs of what the file is, e.g. "the weights", and its path).
void check_output_path(const std::string& output, const std::vector<std::pair<std::string, std::string>>& inputs);

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
