// MNE-Python 1.4.2's FFT resampling (raw.resample(sfreq) with its defaults: npad 'auto', window
// 'boxcar', pad 'reflect_limited'), for the `--resample-method fft` path. mne.filter.resample ->
// mne.cuda._fft_resample, followed step by step in float64:
//   ratio = to / from; final_len = max(round(ratio * n), 1)       (round: half to even)
//   npad 'auto': min_add = min(n // 8, 100) * 2; total = 2^ceil(log2(n + min_add)) - n,
//     split (total // 2, total - total // 2) between the start and the end
//   the channel is padded so (reflect_limited: 2 x[0] - x[k] at the start, 2 x[-1] - x[-k] at the
//     end, as MNE's _smart_pad), old_len = n + total; new_len = max(round(ratio * old_len), 1)
//   X = rfft(padded); use_len = min(new_len, old_len); when use_len is even, bin use_len / 2 is
//     doubled (downsampling) or halved (upsampling); X *= new_len / old_len (the boxcar window);
//     y = irfft(X, new_len) (bins truncated or zero-extended to new_len / 2 + 1)
//   y loses round(ratio * npad_start) samples at the start and the rest of new_len - final_len
//     at the end: final_len samples remain.
// FFTs are FFTW's (real_fft.h), MNE's scipy's pocketfft: equal to rounding.
//
// Memory: the whole padded channel is one FFT. Per channel in flight: the input (8 n bytes), the
// padded signal and its spectrum (8 old_len + 8 (old_len / 2 + 1)), the inverse transform's
// buffers (8 new_len + 8 (new_len / 2 + 1)) and the output (8 final_len), old_len being the
// power of two above n + min_add; docs/preprocessing.md has the figures for 20 minutes and 2 hours.
#pragma once
#include <cstdint>
#include <vector>

namespace eegpt {

// raw.resample(to_hz) of one whole channel as MNE 1.4.2 computes it (its defaults: npad 'auto',
// window 'boxcar', its pad default): FFT based, so it needs the whole channel. Output length as MNE's.
std::vector<double> mne_resample(const std::vector<double>& x, double from_hz, double to_hz);

// The same with zeros instead of reflect_limited padding: only for the tests' mutation check
// (dsp_probe --pad zeros), never the product's.
std::vector<double> mne_resample_zero_padded(const std::vector<double>& x, double from_hz, double to_hz);

// MNE's output length: max(round(to / from * n), 1).
int64_t mne_resample_length(int64_t n, double from_hz, double to_hz);

}  // namespace eegpt
