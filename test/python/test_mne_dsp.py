"""The engine's MNE filters and FFT resampling (engine/recordings/preprocess/mne_filter.h,
mne_resample.h, through test/dsp_probe.cpp) against MNE-Python 1.4.2 itself.

Run by the mne venv's python (tools/setup/make_venv.sh DIR mne; CTest's "mne: MNE 1.4.2 venv"
makes build/mne_venv):
    EEGPT_DSP_PROBE=build/dsp_probe build/mne_venv/bin/python -m pytest -q test/python/test_mne_dsp.py

- taps against mne.filter.create_filter to 1e-12 (absolute; taps are <= 1) for a grid of rates
  and band edges, and the notch's against the filter raw.notch_filter applies;
- the three real recordings filtered (raw.filter(0.1, 75), raw.filter(0.5, 45),
  raw.notch_filter(50)) and resampled (raw.resample(200), raw.resample(256)) to <= 1e-5 of each
  channel's peak at every sample;
- mutations that must fail those tolerances: a Hann window instead of Hamming, zeros instead of
  reflect_limited padding (dsp_probe --window hann, --pad zeros: options of the probe only);
- the resampling's memory (one channel in flight) against the bound docs/preprocessing.md states.
"""
import os
import subprocess

import numpy as np
import pytest

mne = pytest.importorskip("mne")
mne.set_log_level("ERROR")

PROBE = os.environ.get("EEGPT_DSP_PROBE", os.path.join(os.path.dirname(__file__), "..", "..", "build", "dsp_probe"))
RECORDINGS = ["S001R03.edf", "Subject00_1.edf", "Subject00_2.edf"]
TAPS_TOL = 1e-12
SIGNAL_TOL = 1e-5  # of each channel's peak


def test_mne_is_1_4_2():
    assert mne.__version__ == "1.4.2", "run this file with the mne venv's python (tools/setup/make_venv.sh DIR mne)"


def probe(*args, check=True):
    if not os.path.isfile(PROBE):
        pytest.fail("dsp_probe not found at %s (build it, or set EEGPT_DSP_PROBE)" % PROBE, pytrace=False)
    r = subprocess.run([PROBE] + [str(a) for a in args], capture_output=True, text=True)
    if check and r.returncode != 0:
        pytest.fail("dsp_probe %s failed: %s" % (" ".join(map(str, args)), r.stderr.strip()), pytrace=False)
    return r


def probe_taps(*args):
    return np.array([float(v) for v in probe(*args).stdout.split()])


def probe_signal(tmp_path, command, data, *args):
    """Runs `dsp_probe COMMAND ARGS... CHANNELS IN OUT [options]` on data (channels x samples)."""
    args = list(args)
    options = [a for a in args if isinstance(a, str) and a.startswith("--")]
    split = args.index(options[0]) if options else len(args)
    src, dst = tmp_path / "in.f64", tmp_path / "out.f64"
    np.ascontiguousarray(data, dtype="<f8").tofile(src)
    probe(command, *args[:split], len(data), src, dst, *args[split:])
    return np.fromfile(dst, dtype="<f8").reshape(len(data), -1)


def worst_relative(ours, ref):
    """max over channels of max |ours - ref| / max |ref| (the channel's peak)."""
    assert ours.shape == ref.shape
    peak = np.maximum(np.abs(ref).max(axis=1), np.finfo(float).tiny)
    return float((np.abs(ours - ref).max(axis=1) / peak).max())


RATES = [128, 160, 200, 250, 256, 500, 512, 1000]
BANDS = [(0.1, 75), (0.5, 45), (1, 40), (4, 30), (0.1, None), (0.5, None), (1, None), (None, 40), (None, 30), (None, 75)]


@pytest.mark.parametrize("rate", RATES)
def test_taps_equal_create_filter(rate):
    checked = 0
    for l, h in BANDS:
        if h is not None and h >= rate / 2:
            continue
        ref = mne.filter.create_filter(None, rate, l, h)
        ours = probe_taps("taps", rate, l or 0, h or 0)
        assert ours.shape == ref.shape, (rate, l, h)
        assert np.abs(ours - ref).max() <= TAPS_TOL, (rate, l, h, np.abs(ours - ref).max())
        checked += 1
    assert checked >= 7


def notch_reference_taps(rate, freq):
    """The filter raw.notch_filter(freq) applies, through MNE's own notch_filter: its response to a
    unit impulse far from both ends is the taps (zero phase: centred on the impulse)."""
    n = len(probe_taps("notch-taps", rate, freq))
    x = np.zeros(4 * n)
    x[2 * n] = 1.0
    y = mne.filter.notch_filter(x, rate, freq)
    return y[2 * n - n // 2: 2 * n + n // 2 + 1]


@pytest.mark.parametrize("rate", RATES)
@pytest.mark.parametrize("freq", [50, 60])
def test_notch_taps_equal_mne(rate, freq):
    ours = probe_taps("notch-taps", rate, freq)
    # notch_filter's call to create_filter, restated: band-stop with both transitions 0.5 Hz.
    w, tb_2 = freq / 200.0, 1 / 2.0
    ref = mne.filter.create_filter(None, rate, [freq + w / 2.0 + tb_2], [freq - w / 2.0 - tb_2],
                                   l_trans_bandwidth=tb_2, h_trans_bandwidth=tb_2)
    assert ours.shape == ref.shape
    assert np.abs(ours - ref).max() <= TAPS_TOL
    # And what mne.filter.notch_filter itself applies (impulse response; FFT rounding only).
    assert np.abs(ours - notch_reference_taps(rate, freq)).max() <= TAPS_TOL


def test_hann_window_taps_differ():
    ref = mne.filter.create_filter(None, 250, 0.5, 45)
    hann = probe_taps("taps", 250, 0.5, 45, "--window", "hann")
    assert np.abs(hann - ref).max() > 1e3 * TAPS_TOL


@pytest.fixture(scope="module", params=RECORDINGS)
def raw(request, data_dir):
    r = mne.io.read_raw_edf(os.path.join(data_dir, request.param), preload=True, verbose="ERROR")
    assert set(r.get_channel_types()) <= {"eeg", "ecg", "eog", "emg", "misc"}, r.get_channel_types()
    return r


FILTERS = [("filter", (0.1, 75)), ("filter", (0.5, 45)), ("notch", (50,))]


def mne_filtered(raw, command, args):
    out = raw.copy()
    if command == "filter":
        out.filter(*args, picks="all")
    else:
        out.notch_filter(*args, picks="all")
    return out.get_data()


@pytest.mark.parametrize("command,args", FILTERS, ids=["0.1-75", "0.5-45", "notch50"])
def test_filtered_recordings_equal_mne(raw, command, args, tmp_path):
    ref = mne_filtered(raw, command, args)
    data = raw.get_data()
    ours = probe_signal(tmp_path, command, data, raw.info["sfreq"], *args)
    worst = worst_relative(ours, ref)
    print("%s %s %s: worst %.3g of the channel's peak" % (raw.filenames[0].split("/")[-1], command, args, worst))
    assert worst <= SIGNAL_TOL
    # Pushed in small pieces: the same (StreamingFir's blocks do not depend on the pushes).
    small = probe_signal(tmp_path, command, data[:2], raw.info["sfreq"], *args, "--push", 997)
    assert np.array_equal(small, ours[:2])
    # The mutations exceed the tolerance.
    for mutation in (["--window", "hann"], ["--pad", "zeros"]):
        bad = probe_signal(tmp_path, command, data, raw.info["sfreq"], *args, *mutation)
        assert worst_relative(bad, ref) > SIGNAL_TOL, mutation


@pytest.mark.parametrize("to_hz", [200, 256])
def test_resampled_recordings_equal_mne(raw, to_hz, tmp_path):
    ref = raw.copy().resample(to_hz).get_data()
    data = raw.get_data()
    ours = probe_signal(tmp_path, "resample", data, raw.info["sfreq"], to_hz)
    assert ours.shape == ref.shape
    worst = worst_relative(ours, ref)
    print("%s resample %s: worst %.3g of the channel's peak" % (raw.filenames[0].split("/")[-1], to_hz, worst))
    assert worst <= SIGNAL_TOL
    bad = probe_signal(tmp_path, "resample", data, raw.info["sfreq"], to_hz, "--pad", "zeros")
    assert worst_relative(bad, ref) > SIGNAL_TOL


@pytest.mark.parametrize("n", [1, 2, 3, 7, 100, 1001, 4097])
@pytest.mark.parametrize("rates", [(250, 200), (256, 200), (500, 256), (160, 256)])
def test_resample_short_and_odd_lengths_equal_mne(n, rates, tmp_path):
    rng = np.random.default_rng(n)
    x = np.cumsum(rng.standard_normal((2, n)), axis=1)
    ref = mne.filter.resample(x, rates[1], rates[0], npad="auto", window="boxcar", pad="reflect_limited")
    ours = probe_signal(tmp_path, "resample", x, rates[0], rates[1])
    assert ours.shape == ref.shape
    assert worst_relative(ours, ref) <= SIGNAL_TOL


@pytest.mark.parametrize("n", [1, 2, 5, 100, 824, 826])
def test_filter_short_signals_equal_mne(n, tmp_path):
    """Shorter than the taps (825 at 250 Hz, 1-40 Hz): MNE pads by n - 1 only."""
    rng = np.random.default_rng(n)
    x = np.cumsum(rng.standard_normal((2, n)), axis=1) + 10
    ref = mne.filter.filter_data(x, 250.0, 1, 40)
    ours = probe_signal(tmp_path, "filter", x, 250, 1, 40, "--push", 3)
    assert worst_relative(ours, ref) <= SIGNAL_TOL


def resample_bound_mib(n, from_hz, to_hz):
    """docs/preprocessing.md's bound for one channel in flight, beyond the input: 40 bytes per
    sample of the padded length (the padded signal, its spectrum, FFTW's plan) and 24 per output
    sample (the kept bins, the inverse transform, the output)."""
    min_add = min(n // 8, 100) * 2
    old_len = 1 << int(np.ceil(np.log2(n + min_add)))
    final_len = int(round(to_hz / from_hz * n))
    return (40 * old_len + 24 * final_len) / 2**20


@pytest.mark.parametrize("from_hz,to_hz,minutes", [(250, 200, 20), (500, 256, 20), (500, 256, 120)])
def test_resample_memory_within_the_stated_bound(from_hz, to_hz, minutes):
    out = probe("resample-memory", from_hz, to_hz, minutes * 60).stdout.split()
    figures = dict(zip(out[::2], map(float, out[1::2])))
    bound = resample_bound_mib(int(figures["samples"]), from_hz, to_hz)
    print("%s -> %s Hz, %d min: %.1f MiB beyond the input (bound %.1f MiB)" %
          (from_hz, to_hz, minutes, figures["resample_mib"], bound))
    assert figures["resample_mib"] <= bound * 1.05 + 2
    assert figures["resample_mib"] >= bound * 0.5  # the measurement sees the allocation
