// Real-input FFTs of one fixed length, through FFTW3 (Debian's libfftw3-dev, GPL-2+), for the MNE
// filter and resampling paths (mne_filter.cpp, mne_resample.cpp).
//
// Why FFTW: it is the FFT library Debian carries for C and C++ (well kept, exact to rounding at
// any length, including the non-power-of-two lengths MNE's resampling needs), so the engine does
// not grow a hand-written FFT. Plans are made with FFTW_ESTIMATE, which chooses the algorithm from
// the length alone (no timing), so the same length always runs the same arithmetic and results are
// reproducible bit for bit across runs and machines of one ISA.
//
// FFTW's planner (plan creation and destruction) is not thread-safe; executing a plan is. Every
// RealFft makes and destroys its plans under one process-wide mutex (the planner is process-wide
// state, so its lock must be too). Each RealFft owns its buffers, so two threads never share one.
#pragma once
#include <complex>
#include <cstdint>

namespace eegpt {

class RealFft {
public:
    // Plans the forward (real -> n/2 + 1 bins) and inverse (bins -> n reals) transforms of
    // length n. Throws Error when n < 1 or FFTW cannot plan it.
    explicit RealFft(int64_t n);
    ~RealFft();
    RealFft(const RealFft&) = delete;
    RealFft& operator=(const RealFft&) = delete;

    int64_t size() const { return n_; }
    int64_t bins() const { return n_ / 2 + 1; }
    double* real() { return real_; }                        // n values
    std::complex<double>* spectrum() { return spectrum_; }  // n/2 + 1 bins

    // spectrum() = DFT of real() (unnormalised, e^{-i...}); real() is kept.
    void forward();
    // real() = inverse DFT of spectrum(), unnormalised (n times the inverse transform); the
    // imaginary parts of bin 0 and (n even) bin n/2 are ignored; spectrum() is overwritten.
    void inverse();

private:
    int64_t n_;
    double* real_ = nullptr;
    std::complex<double>* spectrum_ = nullptr;
    void* forward_plan_ = nullptr;
    void* inverse_plan_ = nullptr;
};

}  // namespace eegpt
