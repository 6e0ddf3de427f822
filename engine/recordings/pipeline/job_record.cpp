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

}  // namespace

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

void check_output_path(const std::string& output, const std::vector<std::pair<std::string, std::string>>& inputs) {
    if (output.empty()) throw Error("the output path is empty");
    std::error_code ec;
    if (std::filesystem::is_directory(output, ec))
        throw Error("output '" + output + "' is a directory (give a file name, or --output-dir for a directory)");
    h5::check_output_target(output);  // a device, FIFO or socket, or a file another process is writing
    for (const auto& [what, path] : inputs) {
        if (path.empty()) continue;
        std::error_code same_ec;
        if (std::filesystem::equivalent(output, path, same_ec))
            throw Error("output '" + output + "' is " + what + " ('" + path + "'): refusing to overwrite an input");
    }
}

std::string file_digest(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw Error("cannot read '" + path + "'");
    uint64_t h = 14695981039346656037ull;
    std::vector<char> buffer(1 << 20);
    while (in) {
        in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
        const std::streamsize n = in.gcount();
        for (std::streamsize i = 0; i < n; ++i) {
            h ^= static_cast<unsigned char>(buffer[static_cast<size_t>(i)]);
            h *= 1099511628211ull;
        }
    }
    char text[17];
    std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(h));
    return text;
}

std::string recording_identity(const std::string& path) {
    struct stat st;
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
