#include "recordings/preprocess/real_fft.h"

#include <fftw3.h>

#include <limits>
#include <mutex>
#include <string>

#include "encoder/error.h"

namespace eegpt {
namespace {

// FFTW's planner is one process-wide state machine; this is its lock (see the header).
std::mutex& planner_mutex() {
    static std::mutex mutex;
    return mutex;
}

}  // namespace

RealFft::RealFft(int64_t n) : n_(n) {
    if (n < 1 || n > std::numeric_limits<int>::max())
        throw Error("FFT length " + std::to_string(n) + " is out of range (1 .. 2^31 - 1)");
    std::lock_guard<std::mutex> lock(planner_mutex());
    real_ = static_cast<double*>(fftw_malloc(sizeof(double) * static_cast<size_t>(n)));
    spectrum_ = static_cast<std::complex<double>*>(
        fftw_malloc(sizeof(fftw_complex) * static_cast<size_t>(n / 2 + 1)));
    if (real_ && spectrum_) {
        auto* bins = reinterpret_cast<fftw_complex*>(spectrum_);
        forward_plan_ = fftw_plan_dft_r2c_1d(static_cast<int>(n), real_, bins, FFTW_ESTIMATE);
        inverse_plan_ = fftw_plan_dft_c2r_1d(static_cast<int>(n), bins, real_, FFTW_ESTIMATE);
    }
    if (!forward_plan_ || !inverse_plan_) {
        if (forward_plan_) fftw_destroy_plan(static_cast<fftw_plan>(forward_plan_));
        if (inverse_plan_) fftw_destroy_plan(static_cast<fftw_plan>(inverse_plan_));
        fftw_free(real_);
        fftw_free(spectrum_);
        throw Error("FFTW could not plan a real FFT of length " + std::to_string(n) + " (out of memory?)");
    }
}

RealFft::~RealFft() {
    std::lock_guard<std::mutex> lock(planner_mutex());
    fftw_destroy_plan(static_cast<fftw_plan>(forward_plan_));
    fftw_destroy_plan(static_cast<fftw_plan>(inverse_plan_));
    fftw_free(real_);
    fftw_free(spectrum_);
}

void RealFft::forward() { fftw_execute(static_cast<fftw_plan>(forward_plan_)); }

void RealFft::inverse() {
    // Hermitian input: bin 0 (and bin n/2 for even n) is real. pocketfft (scipy.fft.irfft) drops
    // those imaginary parts; zero them so FFTW does the same whatever its algorithm.
    spectrum_[0].imag(0.0);
    if (n_ % 2 == 0) spectrum_[n_ / 2].imag(0.0);
    fftw_execute(static_cast<fftw_plan>(inverse_plan_));
}

}  // namespace eegpt
