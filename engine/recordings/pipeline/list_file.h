// List files (`eegpt embed @list.txt`): one recording path per line. Bounded, so that a wrong
// argument (@/dev/zero, a huge binary file) is refused at once instead of filling memory.
#pragma once
#include <cstddef>
#include <string>
#include <vector>

namespace eegpt {

constexpr size_t kMaxListFileBytes = size_t{64} << 20;  // 64 MiB: some 500,000 paths of 128 bytes
constexpr size_t kMaxListLineBytes = 4096;              // PATH_MAX on Linux, its terminating NUL included

// The paths listed in `text`, the contents of list file `path` (named in messages): blank lines
// and lines starting with '#' are skipped; blanks around a path, a '\r' before the '\n' and a UTF-8
// byte-order mark at the start are dropped. Throws Error naming the file and the line for a line
// longer than kMaxListLineBytes or one holding a NUL byte (no path holds one).
std::vector<std::string> parse_list(const std::string& text, const std::string& path);

// parse_list of the file `path`, which must be a regular file of at most kMaxListFileBytes.
std::vector<std::string> read_list_file(const std::string& path);

}  // namespace eegpt
