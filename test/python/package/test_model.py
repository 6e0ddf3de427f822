"""eegpt.Model: encode equals `eegpt encode` bit for bit; NumPy and PyTorch inputs; errors with
the CLI's one-line messages and the documented types; the GIL released; pickling."""
import os
import pickle
import shutil
import subprocess
import threading
import time

import h5py
import numpy as np
import pytest

import eegpt
from conftest import D, E, lib
from eegpt_testlib import error_lines, rel_err

NAMES = ["FP1", "FP2", "CZ", "O1", "O2"]


def windows(batch=3, channels=len(NAMES), samples=1024, seed=1):
    return (0.02 * np.random.default_rng(seed).standard_normal((batch, channels, samples))).astype(np.float32)


def cli_encode(weights, x, names, tmp_path):
    inp, out = tmp_path / "windows.h5", tmp_path / "features.h5"
    with h5py.File(inp, "w") as f:
        f["x"] = x
        f.create_dataset("channels", data=np.array(names, dtype=object), dtype=h5py.string_dtype())
    r = lib.run("encode", "--weights", weights, "--input", inp, "--output", out)
    if r.returncode != 0:
        return None, "\n".join(error_lines(r.stderr))
    with h5py.File(out, "r") as f:
        return f["features"][()], ""


def test_encode_equals_the_cli_bit_for_bit(model, weights, tmp_path):
    x = windows()
    expected, _ = cli_encode(weights, x, NAMES, tmp_path)
    got = model.encode(x, NAMES)
    assert isinstance(got, np.ndarray) and got.dtype == np.float32
    assert got.shape == (3, 16, E, D) == expected.shape
    np.testing.assert_array_equal(got, expected)


def test_pytorch_tensors_and_non_contiguous_arrays(model):
    torch = pytest.importorskip("torch")
    x = windows(batch=2)
    expected = model.encode(x, NAMES)
    np.testing.assert_array_equal(model.encode(torch.from_numpy(x), NAMES), expected)
    # float64, Fortran order, a strided view: converted once, same numbers.
    np.testing.assert_array_equal(model.encode(x.astype(np.float64), NAMES), expected)
    np.testing.assert_array_equal(model.encode(np.asfortranarray(x), NAMES), expected)
    wide = np.zeros((2, len(NAMES), 2048), np.float32)
    wide[:, :, ::2] = x
    np.testing.assert_array_equal(model.encode(wide[:, :, ::2], NAMES), expected)
    # 512 samples: 8 patches; names case-insensitive with trailing dots, as in the CLI.
    assert model.encode(x[:, :, :512], [n.lower() + "." for n in NAMES]).shape == (2, 8, E, D)


def test_config_and_provenance(model, weights):
    assert model.config["embed_dim"] == D and model.config["embed_num"] == E and model.config["depth"] == 2
    assert model.provenance["source_checkpoint"] == "pytest random" and model.provenance["trained"] is False
    assert model.path == weights and model.device == "cpu" and model.precision == "fp32"
    assert model.isa in ("avx2", "avx512")
    r = eegpt.Model.random("large", seed=0, threads=1)
    assert r.config["embed_dim"] == 512 and r.config["depth"] == 8 and r.config["embed_num"] == 4
    assert r.provenance["source_checkpoint"] == "random-init:large" and r.provenance["random_seed"] == 0
    assert r.threads == 1 and r.path is None


@pytest.mark.parametrize("case", ["unknown channel", "twice", "samples", "nan"])
def test_bad_input_raises_the_cli_message_as_a_value_error(case, model, weights, tmp_path):
    x, names = windows(batch=1), list(NAMES)
    if case == "unknown channel":
        names[2] = "XYZ"
    elif case == "twice":
        names[2] = "fp1"
    elif case == "samples":
        x = np.ascontiguousarray(x[:, :, :50])  # shorter than one patch
    else:
        x[0, 1, 7] = np.nan
    _, cli_message = cli_encode(weights, x, names, tmp_path)
    assert cli_message.startswith("eegpt: error: ") and "\n" not in cli_message
    with pytest.raises(eegpt.Error) as info:
        model.encode(x, names)
    assert isinstance(info.value, ValueError)
    # The same one line; the CLI's starts with the file it read the windows from.
    message = str(info.value)
    assert "\n" not in message and len(message) > 20
    assert cli_message.endswith(message), (message, cli_message)


def test_other_bad_inputs(model):
    with pytest.raises(eegpt.Error, match="3 dimensions"):
        model.encode(np.zeros((5, 1024), np.float32), NAMES)
    with pytest.raises(eegpt.Error, match="4 channel names for 5 channels"):
        model.encode(windows(batch=1), NAMES[:4])
    with pytest.raises(eegpt.Error, match="unknown model configuration 'huge'"):
        eegpt.Model.random("huge")
    with pytest.raises(eegpt.Error, match="device"):
        eegpt.Model.random("tiny1", device="tpu")
    with pytest.raises(eegpt.Error, match="threads"):
        eegpt.Model.random("tiny1", threads=-1)


def test_files_raise_os_errors_with_the_cli_message(tmp_path, weights):
    missing = str(tmp_path / "missing.h5")
    r = lib.run("encode", "--weights", missing, "--input", missing, "--output", tmp_path / "o.h5")
    with pytest.raises(FileNotFoundError) as info:
        eegpt.Model(missing)
    assert ["eegpt: error: " + str(info.value)] == error_lines(r.stderr)
    not_hdf5 = tmp_path / "not.h5"
    not_hdf5.write_text("hello")
    with pytest.raises(eegpt.Error, match="not an HDF5 file"):
        eegpt.Model(not_hdf5)


def test_the_gil_is_released_during_encode():
    # While one thread encodes, Python code in another runs: the counter advances many times
    # during a single encode call of the large model.
    model = eegpt.Model.random("large", seed=0, threads=1)
    x = windows(batch=2, channels=19, samples=1024)
    names = ["FP1", "FP2", "F7", "F3", "FZ", "F4", "F8", "T7", "C3", "CZ", "C4", "T8", "P7", "P3", "PZ", "P4",
             "P8", "O1", "O2"]
    done = threading.Event()
    ticks = []

    def count():
        while not done.is_set():
            ticks.append(time.perf_counter())
            time.sleep(0.001)

    t = threading.Thread(target=count)
    t.start()
    start = time.perf_counter()
    model.encode(x, names)
    end = time.perf_counter()
    done.set()
    t.join()
    during = [s for s in ticks if start < s < end]
    assert end - start > 0.05
    assert len(during) >= 10, "only %d ticks of the other thread in %.3f s of encode" % (len(during), end - start)


def test_pickle_and_copy_reload_the_model(model):
    import copy

    x = windows(batch=1)
    again = pickle.loads(pickle.dumps(model))
    assert again.path == model.path
    np.testing.assert_array_equal(again.encode(x, NAMES), model.encode(x, NAMES))
    r = eegpt.Model.random("tiny1", seed=3)
    r2 = copy.deepcopy(r)
    assert r2.provenance == r.provenance
    np.testing.assert_array_equal(r2.encode(x, NAMES), r.encode(x, NAMES))
    assert len(pickle.dumps(r)) < 1000  # parameters, not weights


def test_contiguous_float32_is_read_in_place():
    # Python-side allocations during encode (tracemalloc sees NumPy's): none for a C-contiguous
    # float32 array; a converted copy (the size of x) for float64 or Fortran order, which shows
    # that the measurement would see a copy.
    import tracemalloc

    model = eegpt.Model.random("tiny1", seed=0, threads=1)
    x = windows(batch=64)
    model.encode(x[:1], NAMES)
    peaks = []
    for arr in (x, x.astype(np.float64), np.asfortranarray(x)):
        tracemalloc.start()
        model.encode(arr, NAMES)
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
    assert peaks[0] < x.nbytes / 100, peaks
    assert peaks[1] >= x.nbytes and peaks[2] >= x.nbytes, peaks


def test_cuda_encodes_as_the_cpu_does_or_is_one_clear_error(model, weights):
    """device="cuda": where the installed package has the CUDA module and a GPU is visible, the
    same features as the CPU (fp32 parity bound); anywhere else one eegpt.Error line saying why
    (a CPU-only build, or no usable device), never a crash."""
    package_dir = os.path.dirname(eegpt.__file__)
    has_module = os.path.exists(os.path.join(package_dir, "libeegpt_cuda.so"))
    has_gpu = shutil.which("nvidia-smi") is not None and subprocess.run(
        ["nvidia-smi", "-L"], capture_output=True).returncode == 0
    try:
        gpu = eegpt.Model(weights, device="cuda")
    except eegpt.Error as e:
        message = str(e)
        assert not (has_module and has_gpu), "the CUDA module and a GPU are here, but: " + message
        assert message and "\n" not in message and "cuda" in message.lower(), message
        return
    assert has_module and gpu.device == "cuda"
    x = windows()
    got, expected = gpu.encode(x, NAMES), model.encode(x, NAMES)
    assert rel_err(got, expected) <= 1e-5


def test_encode_refuses_features_that_overflow(model):
    """Finite windows of 3e38 overflow float32 inside the encoder: an eegpt.Error, as `eegpt encode`
    refuses them, never non-finite features."""
    with pytest.raises(eegpt.Error, match="the features of window 0 are not finite"):
        model.encode(np.full((1, 3, 128), 3e38, np.float32), ["FP1", "CZ", "O2"])


def test_int8_precision_is_the_cli_int8_and_close_to_fp32(model, weights, tmp_path):
    """precision="int8" (cpu only; docs/cpu.md): recorded on the model, the CLI's int8 features
    exactly, within int8's bound of fp32; on cuda the engine's one line with Python's words."""
    int8 = eegpt.Model(weights, precision="int8")
    assert int8.precision == "int8" and model.precision == "fp32"
    x = windows()
    got = int8.encode(x, NAMES)
    inp, out = tmp_path / "windows.h5", tmp_path / "features.h5"
    with h5py.File(inp, "w") as f:
        f["x"] = x
        f.create_dataset("channels", data=np.array(NAMES, dtype=object), dtype=h5py.string_dtype())
    lib.run_ok("encode", "--weights", weights, "--input", inp, "--output", out, "--precision", "int8")
    with h5py.File(out, "r") as f:
        np.testing.assert_array_equal(got, f["features"][()])
    rel = rel_err(got, model.encode(x, NAMES))
    assert 1e-4 < rel <= 4e-2, rel
    with pytest.raises(eegpt.Error, match=r'cpu device only \(use device="cpu"\)'):
        eegpt.Model(weights, device="cuda", precision="int8")
