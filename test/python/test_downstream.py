"""The seven official downstream models (docs/downstream.md): for each recipe, a checkpoint in the
official layout with random weights (max-norm rows well beyond their bounds, random BatchNorm
statistics, chan_scale, cls_token) on a small encoder, converted by tools/convert_ckpt.py and
tools/convert_head.py --recipe; then
  (a) test/python/head_steps.py (numpy, float64) on the converted files equals the official forward
      re-created in PyTorch (test/python/downstream_reference.py, float64), and
  (b) `eegpt encode --head` gives the same probabilities (<= 1e-5 relative);
and the deliberate mistakes (renorm skipped, softmax of TUAB's one logit, the sleep decoder's norm
order swapped, nearest interpolation by rounding) are far from what the files compute."""
import copy
import os
import shutil
import subprocess
import sys

import h5py
import numpy as np
import pytest
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import downstream_reference as ref  # noqa: E402
import head_steps  # noqa: E402

REPO = os.path.dirname(os.path.dirname(HERE))
TOOLS = os.path.join(REPO, "tools")
sys.path.insert(0, TOOLS)
import convert_head as ch  # noqa: E402
import eegpt_format as fmt  # noqa: E402

RECIPES = ["bcic2a", "bcic2b", "kaggleern", "physiop300", "sleepedf", "tuab", "tuev"]
WINDOWS = 2
TOL = 1e-5  # engine (float32) against the float64 forward, relative
DATA = os.environ.get("EEGPT_DATA_DIR") or os.path.join(REPO, "test", "data", "eeg")


def run_tool(name, *args):
    return subprocess.run([sys.executable, os.path.join(TOOLS, name), *map(str, args)], capture_output=True, text=True)


def max_norm_layers(model):
    return [m for m in model.modules()
            if isinstance(m, (ref.Conv1dWithConstraint, ref.Conv2dWithConstraint, ref.LinearWithConstraint))]


def make_model(recipe, seed):
    """The official module with random weights (float32, as trained checkpoints hold them)."""
    torch.manual_seed(seed)
    config = fmt.make_config(64, 4, 2, 4, patch_stride=ch.RECIPES[recipe]["patch_stride"])
    model = ref.build(recipe, config)
    enc = fmt.random_init(config, seed)
    model.target_encoder.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in enc.items()})
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in max_norm_layers(model):
            w = m.weight
            rows = w.reshape(w.shape[0], -1)
            target = m.max_norm * (1.5 + 3 * torch.rand(w.shape[0], generator=g))  # well beyond the bound
            target[0] = 0.5 * m.max_norm                                             # one row within it
            rows.mul_((target / rows.norm(dim=1)).unsqueeze(1))
            m.bias.uniform_(-0.2, 0.2, generator=g)
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.normal_(0, 0.3, generator=g)
                m.running_var.uniform_(0.5, 2.0, generator=g)
                m.weight.uniform_(0.5, 1.5, generator=g)
                m.bias.normal_(0, 0.2, generator=g)
                m.num_batches_tracked.fill_(1234)
        if hasattr(model, "chan_scale"):
            model.chan_scale.copy_(1 + 0.3 * torch.randn(model.chan_scale.shape, generator=g))
        if hasattr(model, "cls_token"):
            model.cls_token.normal_(0, 0.5, generator=g)
    return model.eval(), config


def save_checkpoint(recipe, model, path):
    sd = {k: v.detach().clone() for k, v in model.state_dict().items()}
    if recipe in ("tuab", "tuev"):
        sd["reconstructor.mask_token"] = torch.zeros(1, 1, 64)  # unused by the forward
        sd["reconstructor.norm.weight"] = torch.ones(64)
        obj = {"model": sd, "epoch": 7} if recipe == "tuab" else {"module": sd}  # DeepSpeed for TUEV
    else:
        obj = {"state_dict": sd, "epoch": 7, "global_step": 70}
    torch.save(obj, path)


def input_windows(recipe, seed):
    r = ch.RECIPES[recipe]
    rng = np.random.default_rng(seed)
    return rng.standard_normal((WINDOWS, len(r["inputs"]), r["window"])).astype(np.float32)


def probabilities(logits, output):
    logits = np.asarray(logits, dtype=np.float64)
    if output == "sigmoid":
        return 1 / (1 + np.exp(-logits))
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


class Case:
    pass


_CASES = {}


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("downstream")


def case(recipe, workdir):
    """Model, checkpoint, converted files, input and the forwards of one recipe (computed once)."""
    if recipe in _CASES:
        return _CASES[recipe]
    c = Case()
    c.recipe = recipe
    seed = RECIPES.index(recipe) + 1
    c.model, c.config = make_model(recipe, seed)
    c.ckpt = workdir / ("%s.ckpt" % recipe)
    save_checkpoint(recipe, c.model, c.ckpt)
    c.weights, c.head = workdir / ("%s.weights.h5" % recipe), workdir / ("%s.head.h5" % recipe)
    stride = ["--patch-stride", "32"] if ch.RECIPES[recipe]["patch_stride"] == 32 else []
    r = run_tool("convert_ckpt.py", c.ckpt, c.weights, *stride)
    assert r.returncode == 0, r.stderr
    r = run_tool("convert_head.py", c.ckpt, c.head, "--recipe", recipe)
    assert r.returncode == 0, r.stderr
    c.x = input_windows(recipe, seed)
    c.file = head_steps.read_head(str(c.head))
    c.output = c.file["attrs"]["output"]
    # The official forward, float64, on a copy (its forward renormalises the weights in place).
    official = copy.deepcopy(c.model).double()
    c.logits = ref.forward(official, c.x)
    # The same after storage: the renormalised weights rounded to float32, renorm then a no-op.
    stored = copy.deepcopy(official)
    with torch.no_grad():
        for p in list(stored.parameters()) + list(stored.buffers()):
            if p.is_floating_point():
                p.copy_(p.float().double())
    for m in max_norm_layers(stored):
        m.variant.renorm = False
    c.logits_stored = ref.forward(stored, c.x)
    c.encoder = head_steps.NumpyEncoder.from_file(str(c.weights))
    c.interp_logits, c.interp_probs = head_steps.run_head(c.file, c.x, c.encoder)
    c.engine = None
    _CASES[recipe] = c
    return c


def variant_logits(c, **flags):
    """The official forward with one mistake, from the checkpoint's weights."""
    model = ref.build(c.recipe, c.config, n_classes=c.logits.shape[1], variant=ref.Variant(**flags))
    sd = torch.load(c.ckpt, map_location="cpu")
    sd = sd.get("state_dict") or sd.get("model") or sd.get("module")
    model.load_state_dict({k: v for k, v in sd.items() if not k.startswith("reconstructor.")})
    return ref.forward(model.double(), c.x)


def binary():
    path = os.environ.get("EEGPT_BIN")
    if not path or not os.path.exists(path):
        pytest.fail("EEGPT_BIN is not set to the eegpt binary", pytrace=False)
    return path


def engine_probabilities(c, workdir):
    if c.engine is None:
        windows, out = workdir / ("%s.windows.h5" % c.recipe), workdir / ("%s.out.h5" % c.recipe)
        with h5py.File(windows, "w") as f:
            f["x"] = c.x
            f.create_dataset("channels", data=np.array(c.file["attrs"]["input_labels"], dtype=object),
                             dtype=h5py.string_dtype())
        r = subprocess.run([binary(), "encode", "--weights", str(c.weights), "--head", str(c.head), "--input",
                            str(windows), "--output", str(out)], capture_output=True, text=True, timeout=600)
        assert r.returncode == 0, "eegpt encode --head failed: %s" % r.stderr
        with h5py.File(out, "r") as f:
            c.engine = dict(logits=f["logits"][()], probabilities=f["probabilities"][()],
                            class_names=[s.decode() if isinstance(s, bytes) else s for s in f["class_names"][()]])
    return c.engine


# ---------------------------------------------------------------- (a) the files, in numpy
@pytest.mark.parametrize("recipe", RECIPES)
def test_interpreter_equals_the_official_forward(recipe, workdir):
    c = case(recipe, workdir)
    scale = max(1.0, np.abs(c.logits_stored).max())
    assert np.abs(c.interp_logits - c.logits_stored).max() <= 1e-9 * scale
    # and the unrounded forward, to float32 storage precision
    assert np.abs(c.interp_logits - c.logits).max() <= 1e-5 * scale
    a = c.file["attrs"]
    r = ch.RECIPES[recipe]
    assert a["recipe"] == recipe and int(a["format_version"]) == 3 and int(a["max_norm_applied"]) == 1
    assert int(a["window_samples"]) == r["window"] == c.x.shape[2]
    assert a["input_labels"] == list(r["inputs"])
    assert a["source"] == c.ckpt.name and len(a["source_sha256"]) == 64
    assert (a["output"] == "sigmoid") == (recipe == "tuab")
    assert len(a["class_names"]) == (2 if recipe == "tuab" else c.logits.shape[1])
    # every max-norm layer of the model is a step with max_norm, its rows within the bound
    n_max_norm = sum("max_norm" in s["attrs"] for s in c.file["steps"])
    assert n_max_norm == len(max_norm_layers(c.model))
    raw_rows_beyond = sum(int((m.weight.reshape(m.weight.shape[0], -1).norm(dim=1) > m.max_norm).sum())
                          for m in max_norm_layers(c.model))
    assert raw_rows_beyond > 0


def test_units_and_rates_of_the_recipes(workdir):
    units = {r: case(r, workdir).file["attrs"]["input_unit_mv"] for r in ("tuab", "tuev", "physiop300", "bcic2a")}
    assert units == {"tuab": 0.1, "tuev": 0.1, "physiop300": 1.0, "bcic2a": 0.001}
    assert case("sleepedf", workdir).file["attrs"]["sample_rate_hz"] == 100.0
    assert case("tuab", workdir).file["attrs"]["class_names"] == ["normal", "abnormal"]


# ---------------------------------------------------------------- (b) the engine
@pytest.mark.parametrize("recipe", RECIPES)
def test_engine_equals_the_official_forward(recipe, workdir):
    c = case(recipe, workdir)
    e = engine_probabilities(c, workdir)
    expected = probabilities(c.logits, c.output)
    assert e["probabilities"].shape == expected.shape
    np.testing.assert_allclose(e["probabilities"], expected, rtol=TOL, atol=1e-7)
    assert e["class_names"] == c.file["attrs"]["class_names"]


# ---------------------------------------------------------------- the deliberate mistakes
def far(a, b):
    """Apart by ten times the tolerance the engine is held to: an engine computing `a` where `b`
    is the forward fails test_engine_equals_the_official_forward."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return (np.abs(a - b) / np.maximum(np.abs(b), 1e-7 / TOL)).max() > 10 * TOL


@pytest.mark.parametrize("recipe", ["bcic2a", "sleepedf", "tuab"])
def test_renorm_skipped_is_caught(recipe, workdir, tmp_path):
    c = case(recipe, workdir)
    wrong = probabilities(variant_logits(c, renorm=False), c.output)
    assert far(wrong, c.interp_probs)
    # A file whose rows exceed max_norm (the renormalisation not applied) is refused.
    raw = tmp_path / "raw.h5"
    shutil.copy(c.head, raw)
    with h5py.File(raw, "r+") as f:  # one stored row made twice as long as its bound
        for i in range(int(f.attrs["n_steps"])):
            g = f["steps/%d" % i]
            if "max_norm" in g.attrs:
                w = g["weight"][()].astype(np.float64)
                w[0] *= 2 * float(g.attrs["max_norm"]) / np.linalg.norm(w[0])
                del g["weight"]
                g.create_dataset("weight", data=w.astype(np.float32), chunks=w.shape, fletcher32=True)
                break
    with pytest.raises(ValueError, match="exceeds max_norm"):
        head_steps.read_head(str(raw))
    e = engine_probabilities(c, workdir)
    assert far(wrong, e["probabilities"])
    windows = workdir / ("%s.windows.h5" % recipe)
    r = subprocess.run([binary(), "encode", "--weights", str(c.weights), "--head", str(raw), "--input", str(windows),
                        "--output", str(tmp_path / "o.h5")], capture_output=True, text=True, timeout=600)
    assert r.returncode == 1 and "max_norm" in r.stderr, r.stderr
    assert not (tmp_path / "o.h5").exists()


def test_softmax_of_one_logit_is_caught(workdir):
    c = case("tuab", workdir)
    wrong = np.ones((WINDOWS, 1))  # softmax over one logit is always 1
    assert c.logits.shape == (WINDOWS, 1)
    assert far(wrong, c.interp_probs)
    assert far(wrong, engine_probabilities(c, workdir)["probabilities"])


def test_sleep_decoder_norm_order_is_caught(workdir):
    c = case("sleepedf", workdir)
    wrong = probabilities(variant_logits(c, norm_first=True), "softmax")
    assert far(wrong, c.interp_probs)
    assert far(wrong, engine_probabilities(c, workdir)["probabilities"])


@pytest.mark.parametrize("recipe", ["kaggleern", "sleepedf"])
def test_interpolation_rounding_is_caught(recipe, workdir):
    c = case(recipe, workdir)
    T, L = c.x.shape[2], ch.RECIPES[recipe]["interpolate"]
    i = np.arange(L)
    assert ((i * T) // L != np.minimum(np.round(i * T / L), T - 1)).any()  # the input length tells them apart
    wrong = probabilities(variant_logits(c, interp_round=True), "softmax")
    assert far(wrong, c.interp_probs)
    assert far(wrong, engine_probabilities(c, workdir)["probabilities"])


# ---------------------------------------------------------------- converter contract
def convert_modified(workdir, tmp_path, recipe, edit):
    c = case(recipe, workdir)
    obj = torch.load(c.ckpt, map_location="cpu")
    key = [k for k in ("state_dict", "model", "module") if k in obj][0]
    edit(obj[key])
    bad = tmp_path / "bad.ckpt"
    torch.save(obj, bad)
    out = tmp_path / "bad.h5"
    r = run_tool("convert_head.py", bad, out, "--recipe", recipe)
    assert not out.exists()
    assert r.returncode == 1 and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert r.stderr.startswith("convert_head: error: ")
    return r.stderr


def test_missing_unexpected_and_misshaped_tensors_are_refused(workdir, tmp_path):
    err = convert_modified(workdir, tmp_path, "bcic2a", lambda sd: sd.pop("linear_probe2.bias"))
    assert "'linear_probe2.bias'" in err
    err = convert_modified(workdir, tmp_path, "tuab", lambda sd: sd.update({"head.2.weight": torch.zeros(3)}))
    assert "unexpected" in err and "head.2.weight" in err
    err = convert_modified(workdir, tmp_path, "sleepedf", lambda sd: sd.update(
        {"chan_conv.weight": torch.zeros(13, 3, 1)}))
    assert "'chan_conv.weight' has shape (13, 3, 1), expected (13, 2, 1)" in err
    err = convert_modified(workdir, tmp_path, "tuev", lambda sd: sd.pop("chan_conv.4.running_var"))
    assert "chan_conv.4.running_var" in err
    # ignored by the forward: reconstructor.*, fc_norm.*, num_batches_tracked
    assert "reconstructor" not in err


def test_options_classes_unit_prefix(workdir, tmp_path):
    c = case("tuab", workdir)
    out = tmp_path / "h.h5"
    r = run_tool("convert_head.py", c.ckpt, out, "--recipe", "tuab", "--classes", "ok,not_ok", "--input-unit", "uV")
    assert r.returncode == 0, r.stderr
    a = head_steps.read_head(str(out))["attrs"]
    assert a["class_names"] == ["ok", "not_ok"] and a["input_unit_mv"] == 0.001
    for unit, mv in (("mV", 1.0), ("uV/100", 0.1), ("0.25", 0.25)):
        assert ch.parse_unit(unit) == pytest.approx(mv)
    r = run_tool("convert_head.py", c.ckpt, tmp_path / "x.h5", "--recipe", "tuab", "--classes", "a,b,c")
    assert r.returncode == 1 and "2 (the class for p < 0.5" in r.stderr
    # a prefixed state_dict
    obj = torch.load(c.ckpt, map_location="cpu")
    torch.save({"state_dict": {"model." + k: v for k, v in obj["model"].items()}}, tmp_path / "p.ckpt")
    r = run_tool("convert_head.py", tmp_path / "p.ckpt", out, "--recipe", "tuab", "--prefix", "model.")
    assert r.returncode == 0, r.stderr
    # TUAB trained with two outputs: softmax
    obj["model"]["head.1.weight"] = torch.cat([obj["model"]["head.1.weight"]] * 2)
    obj["model"]["head.1.bias"] = torch.cat([obj["model"]["head.1.bias"]] * 2)
    torch.save(obj, tmp_path / "two.ckpt")
    r = run_tool("convert_head.py", tmp_path / "two.ckpt", out, "--recipe", "tuab")
    assert r.returncode == 0, r.stderr
    a = head_steps.read_head(str(out))["attrs"]
    assert a["output"] == "softmax" and a["class_names"] == ["normal", "abnormal"]


def test_convert_ckpt_takes_the_fine_tuned_encoder(workdir):
    """TUAB ({"model": ...}) and TUEV ({"module": ...}): the weight file holds the checkpoint's encoder."""
    for recipe in ("tuab", "tuev"):
        c = case(recipe, workdir)
        _, sd = fmt.read_weights(str(c.weights))
        mine = c.model.target_encoder.state_dict()
        for k, v in sd.items():
            np.testing.assert_array_equal(v, mine[k].numpy())
    _, sd = fmt.read_weights(str(case("kaggleern", workdir).weights))
    with h5py.File(case("kaggleern", workdir).weights, "r") as f:
        assert int(f.attrs["patch_stride"]) == 32


# ---------------------------------------------------------------- classify on recordings, end to end
def write_edf(path, labels, microvolts, rate):
    """A plain EDF (16-bit, 0.1 uV steps, 1 s records) of the given signals (channels x samples, uV)."""
    n, seconds = len(labels), microvolts.shape[1] // rate
    digital = np.clip(np.round(microvolts[:, :seconds * rate] * 10), -32768, 32767).astype("<i2")

    def field(v, w):
        return str(v).encode("latin-1").ljust(w)[:w]

    head = field("0", 8) + field("X X X X", 80) + field("Startdate 01-JAN-2020 X X X", 80) + field("01.01.20", 8)
    head += field("00.00.00", 8) + field(256 * (n + 1), 8) + field("", 44) + field(seconds, 8) + field(1, 8)
    head += field(n, 4)
    for values, width in ((labels, 16), ([""] * n, 80), (["uV"] * n, 8), (["-3276.8"] * n, 8), (["3276.7"] * n, 8),
                          (["-32768"] * n, 8), (["32767"] * n, 8), ([""] * n, 80), ([rate] * n, 8), ([""] * n, 32)):
        head += b"".join(field(v, width) for v in values)
    records = digital.reshape(n, seconds, rate).transpose(1, 0, 2)
    with open(path, "wb") as f:
        f.write(head + records.tobytes())
    return path


def classify_against_the_forward(c, recording, workdir, tag, *options):
    """`eegpt classify` with the recipe's head, against the official forward (float64) on windows cut
    from the engine's own preprocessed signals (`eegpt preprocess --head`: the head's inputs at its
    rate, in mV), converted to the model's input unit."""
    out, pre = workdir / ("%s.pred.h5" % tag), workdir / ("%s.pre.h5" % tag)
    r = subprocess.run([binary(), "classify", str(recording), "--weights", str(c.weights), "--head", str(c.head),
                        "--output", str(out), "--quiet", *options], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    r = subprocess.run([binary(), "preprocess", str(recording), "--head", str(c.head), "--output", str(pre),
                        *options], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    with h5py.File(pre, "r") as f:
        signals = f["signals"][()].astype(np.float64)
        assert float(f.attrs["sampling_rate_hz"]) == c.file["attrs"]["sample_rate_hz"]
    with h5py.File(out, "r") as f:
        got = {k: f[k][()] for k in ("probabilities", "logits", "predicted_class", "window_start_s",
                                     "recording_mean_probability", "recording_class_fraction")}
        attrs = dict(f.attrs)
    T, stride = int(attrs["window_samples"]), int(attrs["stride_samples"])
    n = (signals.shape[1] - T) // stride + 1
    assert n == len(got["probabilities"]) > 1
    x = np.stack([signals[:, w * stride: w * stride + T] for w in range(n)]) / float(attrs["head_input_unit_mv"])
    expected = probabilities(ref.forward(copy.deepcopy(c.model).double(), x), c.output)
    np.testing.assert_allclose(got["probabilities"], expected, rtol=TOL, atol=1e-7)
    return got, attrs, expected


def test_classify_a_real_recording_bcic2a_like(workdir):
    """22 channels of a real EEGMMIDB recording (160 Hz) through a BCIC-2a model whose stored rows
    lie beyond their max norms: the probabilities of the official forward."""
    c = case("bcic2a", workdir)
    got, attrs, expected = classify_against_the_forward(c, os.path.join(DATA, "S001R03.edf"), workdir, "bcic2a")
    assert attrs["head_recipe"] == "bcic2a" and float(attrs["head_input_unit_mv"]) == 0.001
    assert float(attrs["sampling_rate_hz"]) == 256.0 and int(attrs["window_samples"]) == 1024
    np.testing.assert_array_equal(got["predicted_class"], expected.argmax(axis=1))


def test_classify_a_250_hz_recording_with_a_tuab_model(workdir):
    """A TUH-style recording at 250 Hz (23 labelled 'EEG FP1-REF' ...; the 19 10-20 signals of a real
    EEGMAT recording, A1 A2 T1 T2 made from them) through the TUAB model: 10 s windows at 200 Hz, in
    uV / 100, one sigmoid probability per window, and the recording-level result."""
    import mne

    c = case("tuab", workdir)
    raw = mne.io.read_raw_edf(os.path.join(DATA, "Subject00_1.edf"), preload=True, verbose="error")
    uv = {name.split()[-1].split("-")[0].upper(): raw.get_data(picks=[i])[0, ::2] * 1e6  # 500 Hz -> 250 Hz
          for i, name in enumerate(raw.ch_names)}
    uv["A1"], uv["A2"] = 0.5 * (uv["T3"] + uv["T5"]), 0.5 * (uv["T4"] + uv["T6"])
    uv["T1"], uv["T2"] = 0.5 * (uv["F7"] + uv["T3"]), 0.5 * (uv["F8"] + uv["T4"])
    labels = ch.RECIPES["tuab"]["inputs"]
    seconds = 45
    data = np.stack([uv[l.upper()][:seconds * 250] for l in labels])
    edf = write_edf(workdir / "tuh_250hz.edf", ["EEG %s-REF" % l for l in labels], data, 250)
    got, attrs, expected = classify_against_the_forward(c, edf, workdir, "tuab")
    assert attrs["head_recipe"] == "tuab" and attrs["head_output"] == "sigmoid"
    assert float(attrs["head_input_unit_mv"]) == 0.1 and float(attrs["sampling_rate_hz"]) == 200.0
    assert int(attrs["window_samples"]) == 2000 and float(attrs["stride_s"]) == 10.0
    assert got["probabilities"].shape == (4, 1)  # 45 s: four 10 s windows
    np.testing.assert_array_equal(got["window_start_s"], [0, 10, 20, 30])
    p = got["probabilities"][:, 0].astype(np.float64)
    np.testing.assert_array_equal(got["predicted_class"], (p >= 0.5).astype(int))
    np.testing.assert_allclose(got["recording_mean_probability"], [p.mean()], rtol=1e-6)
    assert attrs["recording_predicted_class"] == ("abnormal" if p.mean() >= 0.5 else "normal")


def test_inspect_says_which_signal_feeds_each_input(workdir):
    c = case("tuab", workdir)
    r = subprocess.run([binary(), "inspect", os.path.join(DATA, "S001R03.edf"), "--head", str(c.head)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert "(recipe tuab): 23 inputs, windows of 10 s at 200 Hz (2000 samples)" in out
    assert "T3           <- 'T7..'" in out and "A1           <- MISSING" in out
    assert "missing: A1 A2 T1 T2 (classify refuses them unless --fill-missing zeros)" in out
    assert "windows of 10 s at 200 Hz, stride 10 s: 12" in out  # 125 s
