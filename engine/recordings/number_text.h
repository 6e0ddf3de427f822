// Numbers in messages and in text written to outputs: as printf's %.<precision>g prints them in the
// C locale, whatever the process locale. printf and std::to_string follow LC_NUMERIC, which a host
// process may set to a decimal-comma locale (Python's locale.setlocale); std::to_chars never does.
#pragma once
#include <charconv>
#include <string>

namespace eegpt {

inline std::string number_text(double v, int precision = 6) {
    char buf[64];
    const auto r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::general, precision);
    return std::string(buf, r.ptr);
}

}  // namespace eegpt
