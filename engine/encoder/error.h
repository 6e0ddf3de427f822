// The one error type of the engine: a one-line message meant for the user.
// The library throws it; only the CLI turns it into stderr output and an exit code.
#pragma once
#include <stdexcept>
#include <string>

namespace eegpt {

class Error : public std::runtime_error {
public:
    explicit Error(const std::string& message) : std::runtime_error(message) {}
};

}  // namespace eegpt
