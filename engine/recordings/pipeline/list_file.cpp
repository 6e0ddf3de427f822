#include "recordings/pipeline/list_file.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

#include "encoder/error.h"
#include "encoder/io/input_file.h"

namespace eegpt {

std::vector<std::string> parse_list(const std::string& text, const std::string& path) {
    std::vector<std::string> paths;
    size_t at = text.compare(0, 3, "\xEF\xBB\xBF") == 0 ? 3 : 0;  // UTF-8 byte-order mark
    for (size_t number = 1; at < text.size(); ++number) {
        size_t end = text.find('\n', at);
        if (end == std::string::npos) end = text.size();
        if (end - at > kMaxListLineBytes)
            throw Error("list file '" + path + "': line " + std::to_string(number) + " is longer than " +
                        std::to_string(kMaxListLineBytes) + " bytes (no path is that long)");
        std::string line = text.substr(at, end - at);
        at = end + 1;
        if (line.find('\0') != std::string::npos)
            throw Error("list file '" + path + "': line " + std::to_string(number) +
                        " holds a NUL byte (is it a text file of paths?)");
        const size_t first = line.find_first_not_of(" \t\r");
        if (first == std::string::npos || line[first] == '#') continue;
        paths.push_back(line.substr(first, line.find_last_not_of(" \t\r") + 1 - first));
    }
    return paths;
}

std::vector<std::string> read_list_file(const std::string& path) {
    const std::string what = "list file '" + path + "': ";
    try {
        check_regular_file(path);
    } catch (const Error& e) {
        throw Error(what + e.what());
    }
    std::unique_ptr<FILE, int (*)(FILE*)> file(std::fopen(path.c_str(), "rb"), std::fclose);
    if (!file) throw Error(what + "cannot open it: " + std::strerror(errno));
    // Read up to one byte past the limit: a file that grows while it is read is caught too.
    std::string text;
    std::vector<char> buffer(1 << 16);
    size_t n = 0;
    while ((n = std::fread(buffer.data(), 1, buffer.size(), file.get())) > 0) {
        text.append(buffer.data(), n);
        if (text.size() > kMaxListFileBytes)
            throw Error(what + "larger than the limit of " + std::to_string(kMaxListFileBytes >> 20) +
                        " MiB (a list file holds paths, one per line)");
    }
    if (std::ferror(file.get())) throw Error(what + "read error: " + std::strerror(errno));
    return parse_list(text, path);
}

}  // namespace eegpt
