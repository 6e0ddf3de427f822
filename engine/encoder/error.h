// The one error type of the engine: a one-line message meant for the user.
// The library throws it; only the CLI turns it into stderr output and an exit code.
#pragma once
#include <charconv>
#include <stdexcept>
#include <string>

namespace eegpt {

class Error : public std::runtime_error {
public:
    explicit Error(const std::string& message) : std::runtime_error(message) {}
};

// A number in a message or in text written to an output, as printf's %.<precision>g prints it in the
// C locale: "50", "0.1", "1e-09", "1e+300", "nan" (10 significant digits by default: a typed value is
// echoed as typed, a huge or tiny one stays short). std::to_chars ignores LC_NUMERIC, which a host
// process may set to a decimal-comma locale (Python's locale.setlocale); printf would follow it. The
// one way the engine writes a non-integer number as text.
inline std::string format_number(double v, int precision = 10) {
    char text[64];
    const auto end = std::to_chars(text, text + sizeof text, v, std::chars_format::general, precision).ptr;
    return std::string(text, end);
}

}  // namespace eegpt
