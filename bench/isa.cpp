// Compiled with the engine's -march (see CMakeLists.txt), so these are the ISA extensions the engine's
// own code may use. The CPU's runtime flags are read from /proc/cpuinfo separately.
#include <string>

namespace bench {

std::string build_isa() {
    std::string isa;
    auto add = [&isa](const char* name) { isa += (isa.empty() ? "" : " ") + std::string(name); };
#ifdef __SSE4_2__
    add("SSE4.2");
#endif
#ifdef __AVX__
    add("AVX");
#endif
#ifdef __AVX2__
    add("AVX2");
#endif
#ifdef __FMA__
    add("FMA");
#endif
#ifdef __F16C__
    add("F16C");
#endif
#ifdef __AVX512F__
    add("AVX512F");
#endif
#ifdef __AVX512BW__
    add("AVX512BW");
#endif
#ifdef __AVX512VNNI__
    add("AVX512VNNI");
#endif
#ifdef __AVX512BF16__
    add("AVX512BF16");
#endif
#ifdef __AMX_TILE__
    add("AMX");
#endif
    return isa.empty() ? "baseline x86-64" : isa;
}

}  // namespace bench
