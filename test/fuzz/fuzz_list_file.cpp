// libFuzzer target for the list-file reader (engine/recordings/pipeline/list_file.h): arbitrary
// bytes as the contents of `eegpt embed @list.txt`, through parse_list and, from a memory file,
// read_list_file. An eegpt::Error is a correct answer; a crash, a sanitizer report, a time-out, a
// difference between the two, or a path that breaks the list rules is a bug.
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "encoder/error.h"
#include "recordings/pipeline/list_file.h"

namespace {

void require(bool ok) {
    if (!ok) std::abort();
}

// What every listed path satisfies: non-empty, one line of bounded length, no NUL, no surrounding
// blanks, not a comment.
void check_path(const std::string& p) {
    require(!p.empty() && p.size() <= eegpt::kMaxListLineBytes);
    require(p.find('\n') == std::string::npos && p.find('\0') == std::string::npos);
    for (char edge : {p.front(), p.back()}) require(edge != ' ' && edge != '\t' && edge != '\r');
    require(p.front() != '#');
}

std::vector<std::string> parsed(const std::string& text, bool& failed) {
    try {
        failed = false;
        return eegpt::parse_list(text, "fuzz");
    } catch (const eegpt::Error&) {
        failed = true;
        return {};
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string text(reinterpret_cast<const char*>(data), size);
    bool failed = false;
    const std::vector<std::string> paths = parsed(text, failed);
    for (const auto& p : paths) check_path(p);
    // No more paths than lines.
    size_t lines = 1;
    for (char ch : text) lines += ch == '\n';
    require(paths.size() <= lines);

    // The same bytes as a file: the same answer.
    const int fd = memfd_create("list", MFD_CLOEXEC);
    require(fd >= 0);
    require(size == 0 || write(fd, data, size) == static_cast<ssize_t>(size));
    const std::string path = "/proc/self/fd/" + std::to_string(fd);
    bool file_failed = false;
    std::vector<std::string> from_file;
    try {
        from_file = eegpt::read_list_file(path);
    } catch (const eegpt::Error&) {
        file_failed = true;
    }
    require(file_failed == failed && from_file == paths);
    close(fd);
    return 0;
}
