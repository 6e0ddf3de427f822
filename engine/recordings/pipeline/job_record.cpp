#include "recordings/pipeline/job_record.h"

#include <sys/stat.h>

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <vector>

#include "encoder/error.h"
#include "encoder/io/hdf5.h"
#include "recordings/pipeline/recording_job.h"
#include "encoder/io/input_file.h"

namespace eegpt {
namespace {

// "key=value" lines, in order.
std::vector<std::pair<std::string, std::string>> job_lines(const std::string& job) {
    std::vector<std::pair<std::string, std::string>> out;
    size_t at = 0;
    while (at < job.size()) {
        size_t end = job.find('\n', at);
        if (end == std::string::npos) end = job.size();
        const std::string line = job.substr(at, end - at);
        const size_t eq = line.find('=');
        if (eq == std::string::npos)
            out.emplace_back(line, "");
        else
            out.emplace_back(line.substr(0, eq), line.substr(eq + 1));
        at = end + 1;
    }
    return out;
}

// Round-trip exact, so two jobs whose numbers differ in the last digit never match.
std::string number_text(double v) { return format_number(v, 17); }

std::string joined(const std::vector<std::string>& names) {
    std::string out;
    for (const auto& n : names) out += (out.empty() ? "" : ",") + n;
    return out;
}

}  // namespace

std::string job_record(const JobMaker& maker, const RecordingOptions& o) {
    const FilterOptions& f = o.preprocess.filters;
    const bool bandpass = f.bandpass_low_hz != 0 || f.bandpass_high_hz != 0;
    const double stride = o.stride_s != 0 ? o.stride_s : maker.head_stride_s > 0 ? maker.head_stride_s : 4.0;
    std::string j;
    auto add = [&](const std::string& key, const std::string& value) { j += "\n" + key + "=" + value; };
    add("engine_version", EEGPT_VERSION);
    add("command", maker.command);
    add("weights", maker.weights);
    if (maker.command == "classify") add("head", maker.head);
    add("device", maker.device);
    add("precision", maker.precision);
    add("channels", joined(o.montage.channels));
    add("fill_missing", o.montage.fill_missing_zeros ? "zeros" : "");
    add("average_reference", o.preprocess.average_reference ? "1" : "0");
    add("bandpass", bandpass ? number_text(f.bandpass_low_hz) + "," + number_text(f.bandpass_high_hz) : "");
    const bool scipy = o.preprocess.filter_design == FilterDesign::scipy;  // the order and Q are scipy's
    add("bandpass_order", bandpass && scipy ? std::to_string(f.bandpass_order) : "");
    add("notch_hz", number_text(f.notch_hz));
    add("notch_q", f.notch_hz > 0 && scipy ? number_text(f.notch_q) : "");
    add("filter_design", to_string(o.preprocess.filter_design));
    add("resample_method", to_string(o.preprocess.resample_method));
    add("out_of_range", o.preprocess.out_of_range == OutOfRange::clip ? "clip" : "keep");
    add("stride_s", number_text(stride));
    add("features_dtype", to_string(o.features_dtype));
    add("save_features", o.save_features ? "1" : "0");
    return j;
}

std::string output_path(const std::string& input, const std::string& dir, const std::string& suffix) {
    std::string stem = std::filesystem::path(input).filename().string();
    const size_t dot = stem.find_last_of('.');
    if (dot != std::string::npos && dot > 0) {
        std::string ext = stem.substr(dot + 1);
        for (auto& ch : ext) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        if (ext == "edf" || ext == "bdf" || ext == "rec") stem = stem.substr(0, dot);
    }
    return (dir.empty() ? "." : dir) + "/" + stem + suffix;
}

bool replaceable_output(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    char magic[8] = {};
    in.read(magic, sizeof magic);
    if (in.gcount() == 0) return true;
    if (in.gcount() < 8 || std::memcmp(magic, "\x89HDF\r\n\x1a\n", 8) != 0) return false;
    try {
        return h5::has_attr(h5::open_read(path), "content");
    } catch (const Error&) {
        return true;
    }
}

void check_output_path(const std::string& output, const std::vector<std::pair<std::string, std::string>>& inputs,
                       bool force) {
    JobInputs(inputs).check_output(output);
    if (!force && !replaceable_output(output))
        throw Error("'" + output + "' exists and is not an output of eegpt; not replaced (--force replaces it)");
}

JobInputs::JobInputs(const std::vector<std::pair<std::string, std::string>>& inputs) {
    for (const auto& [what, path] : inputs) {
        struct stat st;
        if (path.empty() || stat(path.c_str(), &st) != 0) continue;  // what does not exist cannot be overwritten
        files_.emplace(Identity{static_cast<unsigned long long>(st.st_dev), static_cast<unsigned long long>(st.st_ino)},
                       std::make_pair(what, path));
    }
}

void JobInputs::check_output(const std::string& output) const {
    if (output.empty()) throw Error("the output path is empty");
    struct stat st;
    if (stat(output.c_str(), &st) != 0) return;  // a new file
    if (S_ISDIR(st.st_mode))
        throw Error("output '" + output + "' is a directory (give a file name, or --output-dir for a directory)");
    h5::check_output_target(output);  // a device, FIFO or socket, or a file another process is writing
    auto it = files_.find({static_cast<unsigned long long>(st.st_dev), static_cast<unsigned long long>(st.st_ino)});
    if (it != files_.end())
        throw Error("output '" + output + "' is " + it->second.first + " ('" + it->second.second +
                    "'): refusing to overwrite an input");
}

namespace {
constexpr uint64_t kFnvBasis = 14695981039346656037ull;

uint64_t fnv1a(uint64_t h, const char* data, size_t n) {
    for (size_t i = 0; i < n; ++i) {
        h ^= static_cast<unsigned char>(data[i]);
        h *= 1099511628211ull;
    }
    return h;
}
}  // namespace

std::string settings_tag(const std::string& job) {
    char text[9];
    std::snprintf(text, sizeof text, "%08llx", static_cast<unsigned long long>(fnv1a(kFnvBasis, job.data(), job.size()) >> 32));
    return text;
}

std::string file_digest(const std::string& path) {
    check_regular_file(path);  // a FIFO or /dev/zero would never end
    std::ifstream in(path, std::ios::binary);
    if (!in) throw Error("cannot read '" + path + "'");
    uint64_t h = kFnvBasis;
    std::vector<char> buffer(1 << 20);
    while (in) {
        in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
        h = fnv1a(h, buffer.data(), static_cast<size_t>(in.gcount()));
    }
    char text[17];
    std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(h));
    return text;
}

std::string recording_identity(const std::string& path) {
    struct stat st;
    try {
        check_regular_file(path);
    } catch (const Error& e) {
        throw Error("recording '" + path + "': " + e.what());
    }
    if (stat(path.c_str(), &st) != 0)
        throw Error("recording '" + path + "': cannot open: " + std::string(std::strerror(errno)));
    std::error_code ec;
    const std::string absolute = std::filesystem::absolute(path, ec).lexically_normal().string();
    const long long mtime_ns = static_cast<long long>(st.st_mtim.tv_sec) * 1000000000LL + st.st_mtim.tv_nsec;
    return "recording=" + (ec ? path : absolute) + "\nrecording_size=" + std::to_string(st.st_size) +
           "\nrecording_mtime_ns=" + std::to_string(mtime_ns);
}

std::string reuse_refusal(const std::string& output, const std::string& job) {
    try {
        h5::Handle file = h5::open_read(output);
        if (!h5::has_attr(file, "complete") || h5::read_int_attr(file, "complete") != 1) return "it is incomplete";
        if (!h5::has_attr(file, "job")) return "it does not record the job that made it (older engine)";
        const auto was = job_lines(h5::read_string_attr(file, "job")), now = job_lines(job);
        for (size_t i = 0; i < now.size(); ++i) {
            if (i < was.size() && was[i] == now[i]) continue;
            const std::string old_value = i < was.size() && was[i].first == now[i].first ? was[i].second : "?";
            return "it was made with other " + now[i].first + " (was '" + old_value + "', now '" + now[i].second + "')";
        }
        if (was.size() != now.size()) return "it was made by another job";
        return "";
    } catch (const Error& e) {
        return std::string("it cannot be read (") + e.what() + ")";
    }
}

}  // namespace eegpt
