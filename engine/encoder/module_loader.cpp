#include "encoder/module_loader.h"

#include <dlfcn.h>
#include <unistd.h>

#include <cstdlib>
#include <vector>

namespace eegpt {
namespace {

std::string executable_dir() {
    std::vector<char> path(4096);
    const ssize_t n = readlink("/proc/self/exe", path.data(), path.size() - 1);
    if (n <= 0) return "";
    std::string exe(path.data(), static_cast<size_t>(n));
    return exe.substr(0, exe.rfind('/'));
}

// The directory of the shared object this code is in, when it is not the executable (the Python
// extension, which carries its modules beside it).
std::string library_dir() {
    Dl_info info{};
    if (dladdr(reinterpret_cast<void*>(&library_dir), &info) == 0 || !info.dli_fname) return "";
    const std::string lib = info.dli_fname;
    const size_t slash = lib.rfind('/');
    return slash == std::string::npos ? "" : lib.substr(0, slash);
}

}  // namespace

void* LoadedModule::symbol(const char* name) {
    void* p = handle ? dlsym(handle, name) : nullptr;
    if (!p && error.empty()) error = std::string("the module lacks the entry point ") + name;
    return p;
}

LoadedModule open_module(const std::string& file_name, const char* env_var, const std::string& what,
                         const char* version_symbol, const std::string& build_hint) {
    LoadedModule m;
    std::vector<std::string> candidates;
    if (const char* env = std::getenv(env_var)) {
        candidates.push_back(env);
        m.error = std::string(env_var) + "=" + env + ": no such file";
    } else {
        const std::string dir = executable_dir();
        if (!dir.empty()) candidates.push_back(dir + "/" + file_name);
        const std::string lib = library_dir();
        if (!lib.empty() && lib != dir) candidates.push_back(lib + "/" + file_name);
#ifdef EEGPT_INSTALL_LIBDIR
        candidates.push_back(std::string(EEGPT_INSTALL_LIBDIR) + "/" + file_name);
#endif
        candidates.push_back(file_name);
    }
    for (const std::string& path : candidates) {
        if (path.find('/') != std::string::npos && access(path.c_str(), F_OK) != 0) continue;
        void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
        if (!handle) {
            const char* err = dlerror();
            const std::string why = err ? err : "unknown dlopen error";
            // By bare name, "libX.so: cannot open ..." means it is not on the library path.
            if (path == file_name && why.rfind(path + ":", 0) == 0) continue;
            m.error = "cannot load " + what + " " + path + ": " + why;  // found but unloadable: say so
            return m;
        }
        auto version = reinterpret_cast<const char* (*)()>(dlsym(handle, version_symbol));
        if (!version) {
            m.error = path + " is not " + what + " of eegpt (no " + version_symbol + ")";
        } else if (std::string(version()) != EEGPT_VERSION) {
            m.error = path + " is " + what + " of eegpt " + version() + ", not of this eegpt " + EEGPT_VERSION;
        } else {
            m.handle = handle;
            m.error.clear();
        }
        return m;
    }
    if (m.error.empty())
        m.error = "this eegpt cannot use " + what + ": " + file_name +
                  " was not found beside the executable or in the library path (" + build_hint + ")";
    return m;
}

}  // namespace eegpt
