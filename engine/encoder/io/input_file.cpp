#include "encoder/io/input_file.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>

#include "encoder/error.h"

namespace eegpt {
namespace {

const char* kind_of(mode_t mode) {
    if (S_ISDIR(mode)) return "a directory";
    if (S_ISFIFO(mode)) return "a FIFO";
    if (S_ISCHR(mode)) return "a character device";
    if (S_ISBLK(mode)) return "a block device";
    if (S_ISSOCK(mode)) return "a socket";
    return "a special file";
}

}  // namespace

void check_regular_file(const std::string& path) {
    if (path.empty()) throw Error("the path is empty");
    struct stat st;
    if (stat(path.c_str(), &st) != 0) throw Error("cannot read '" + path + "': " + std::strerror(errno));
    if (!S_ISREG(st.st_mode)) throw Error("'" + path + "' is " + kind_of(st.st_mode) + ", not a regular file");
}

}  // namespace eegpt
