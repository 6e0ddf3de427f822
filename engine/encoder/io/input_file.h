// Every file the engine reads must be a regular file: opening a FIFO blocks until something writes
// to it, a character device such as /dev/zero never ends (a digest or a list read from it would run
// forever or fill memory), and a directory is not a file at all. Checked before a file is opened.
#pragma once
#include <string>

namespace eegpt {

// Throws Error unless `path` names a regular file (after symbolic links): "'PATH' is a FIFO, not a
// regular file", "cannot read 'PATH': No such file or directory", "the path is empty".
void check_regular_file(const std::string& path);

}  // namespace eegpt
