// MNE-Python 1.4.2's FIR filters (raw.filter, raw.notch_filter with their defaults), computed as
// MNE computes them, for the `--filter-design mne` path.
//
// Design (mne.filter.create_filter -> _triage_filter_params -> _construct_fir_filter ->
// _firwin_design), all in float64 with MNE's operations in MNE's order:
//   transition bands 'auto': low  = min(max(0.25 * l, 2), l)
//                            high = min(max(0.25 * h, 2), sfreq / 2 - h)
//   filter_length 'auto': N = ceil(3.3 / min(transitions) * sfreq), made odd (3.3: Hamming's
//     length factor); the band edges, divided by Nyquist, become MNE's freq/gain points.
//   _firwin_design: h = 0 (or a unit impulse at the centre when the gain at Nyquist is 1); for each
//     gain step, walking down from Nyquist, a Hamming-window scipy firwin low-pass of its own
//     length round(3.3 / (transition / 2)) made odd, cut off at the step's middle, is added
//     (0 -> 1 step) or subtracted (1 -> 0), centred in h. scipy's firwin: sinc times the
//     symmetric window, scaled to unit DC gain (the sum taken pairwise as numpy's sum does).
//   notch (raw.notch_filter(f)): widths f / 200, trans_bandwidth 1: a band-stop through
//     create_filter with l_freq = f + w/2 + 0.5, h_freq = f - w/2 - 0.5, both transitions 0.5 Hz.
//
// Filtering (_overlap_add_filter, phase 'zero', pad 'reflect_limited'): the channel is extended at
// both ends by n_edge = min(taps, n) - 1 samples, reflected through the end sample
// (2 x[0] - x[k], MNE's _smart_pad; zeros beyond the signal's length), convolved with the taps, and
// the result shifted by (taps - 1) / 2: y[i] = sum_k h[k] xe[i + n_edge + (taps - 1) / 2 - k].
// StreamingFir computes exactly that, streaming, by overlap-save FFT blocks of FFTW (real_fft.h):
// block b yields outputs [b L, (b + 1) L) from the extended signal's samples it needs, with block
// boundaries fixed in output positions, so the output is the same bit for bit whatever the push
// sizes. MNE uses FFT blocks of other lengths, so the two agree to rounding (~1e-15 of the peak),
// not bit for bit. Context: (taps - 1) / 2 samples of look-ahead; output comes a block at a time
// (L = FFT size - taps + 1, FFT size the power of two >= 2 x taps), so it lags the input by up
// to L + context samples. Memory: O(taps + push size) per channel.
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

namespace eegpt {

class RealFft;

// Taps of mne.filter.create_filter(None, sfreq, l_freq, h_freq) with raw.filter's defaults in MNE 1.4.2
// (method 'fir', fir_design 'firwin', fir_window 'hamming', phase 'zero', filter_length 'auto',
// l_/h_trans_bandwidth 'auto'): band-pass (l>0, h>0), high-pass (h<=0), low-pass (l<=0). Throws Error
// (one line naming the option values) for what MNE refuses (edges outside (0, Nyquist), l >= h, ...).
std::vector<double> mne_filter_taps(double sfreq, double l_freq, double h_freq);
// Taps of raw.notch_filter(freq) with its defaults (method 'fir', notch_widths freq / 200,
// trans_bandwidth 1 Hz, filter_length 'auto'): MNE designs a band-stop through create_filter.
std::vector<double> mne_notch_taps(double sfreq, double freq);

// The window of the firwin pieces. MNE's default is Hamming (the only one the product uses); Hann
// exists so that the tests can show a changed window is detected (dsp_probe --window hann).
enum class FirWindow { hamming, hann };
std::vector<double> mne_filter_taps(double sfreq, double l_freq, double h_freq, FirWindow window);
std::vector<double> mne_notch_taps(double sfreq, double freq, FirWindow window);

// The padding of the channel's ends: MNE's reflect_limited (the product's), or zeros (for the
// tests' mutation check only: dsp_probe --pad zeros).
enum class FirPad { reflect_limited, zeros };

// One channel filtered with linear-phase odd-length taps as MNE's _overlap_add_filter applies them
// (pad 'reflect_limited' at both ends, zero phase), streaming: push() appends to `out` every output
// sample already determined, finish() the rest. The concatenated output equals MNE's whole-signal
// result to rounding, whatever the push sizes. Memory O(taps + push size).
class StreamingFir {
public:
    explicit StreamingFir(std::vector<double> taps);
    StreamingFir(std::vector<double> taps, FirPad pad);
    ~StreamingFir();
    StreamingFir(StreamingFir&&) noexcept;
    StreamingFir& operator=(StreamingFir&&) noexcept;
    void push(const double* x, int64_t n, std::vector<double>& out);
    void finish(std::vector<double>& out);
    int64_t context() const;  // samples of look-ahead: (taps - 1) / 2

private:
    void start(int64_t n_edge);  // the left end is known: set up the block stream
    void run_blocks(bool last, std::vector<double>& out);

    std::vector<double> taps_;
    FirPad pad_;
    int64_t n_h_, c_;           // taps, (taps - 1) / 2
    int64_t block_ = 0;         // L: outputs per FFT block
    std::unique_ptr<RealFft> fft_;
    std::vector<double> taps_spectrum_;  // rfft(taps, FFT size), interleaved re/im, scaled 1/size
    std::vector<double> head_;  // the first samples, until taps samples came (n_edge unknown)
    bool started_ = false, finished_ = false;
    int64_t n_in_ = 0, n_edge_ = 0;
    // The extended signal in block coordinates: position p holds xe[p + n_edge - c] (0 before xe);
    // x[j] sits at p = j + c. stream_[0] is position stream_start_.
    std::vector<double> stream_;
    int64_t stream_start_ = 0, emitted_ = 0;
};

}  // namespace eegpt
