// The one error type of the engine: a one-line message meant for the user.
// The library throws it; only the CLI turns it into stderr output and an exit code.
#pragma once
#include <cstdio>
#include <stdexcept>
#include <string>

namespace eegpt {

class Error : public std::runtime_error {
public:
    explicit Error(const std::string& message) : std::runtime_error(message) {}
};

// A number in a message, as a person writes it: "50", "0.1", "1e-09", "1e+300", "nan" (%g with 10
// significant digits: a typed value is echoed as typed, a huge or tiny one stays short). The one
// way every message of the engine shows a non-integer number.
inline std::string format_number(double v) {
    char text[32];
    std::snprintf(text, sizeof text, "%.10g", v);
    return text;
}

}  // namespace eegpt
