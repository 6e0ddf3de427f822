// Opening the engine's optional shared libraries (the CUDA backend, the AVX-512 CPU operations):
// each is looked for in $ENV_VAR (an explicit path: nothing else is tried), beside the running
// executable, in the install's library directory, then on the dynamic linker's search path, and
// must carry this engine's version. Opened once per process and never closed: objects they made
// may outlive any owner of the handle, as dlopen's own state does.
#pragma once
#include <string>

namespace eegpt {

struct LoadedModule {
    void* handle = nullptr;  // dlopen handle, or null
    std::string error;       // empty when loaded; otherwise why not, in one line
    // The address of an exported symbol; null (with error set) when the module lacks it.
    void* symbol(const char* name);
};

// `what` names the module in messages ("the CUDA backend"); version_symbol returns a const char*.
LoadedModule open_module(const std::string& file_name, const char* env_var, const std::string& what,
                         const char* version_symbol, const std::string& build_hint);

}  // namespace eegpt
