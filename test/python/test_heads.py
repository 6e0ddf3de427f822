"""Heads: tools/convert_head.py exports the linear-probe layout of a fine-tuned checkpoint (format
version 2, with the reference scripts' max norms applied), `eegpt classify` equals the same head
computed in PyTorch on independently prepared windows, and a version 1 file written by the converter
before version 2 still loads and gives the numbers it gave then (test/data/heads)."""
import os
import subprocess
import sys

import h5py
import numpy as np
import pytest
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import head_steps  # noqa: E402
import recordings_testlib as lib  # noqa: E402
from eegpt_testlib import error_lines  # noqa: E402

CONVERT_HEAD = os.path.join(lib.REPO, "tools", "convert_head.py")
INPUTS = ["FP1", "FP2", "F3", "F4", "CZ"]
ENCODER = ["FZ", "CZ", "PZ", "OZ"]
E, D = 4, 32


def convert(*args):
    r = subprocess.run([sys.executable, CONVERT_HEAD, *map(str, args)], capture_output=True, text=True)
    return r


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    return lib.write_random_weights(tmp_path_factory.mktemp("w") / "small.h5", embed_dim=D, embed_num=E, depth=2)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """A stand-in fine-tuned checkpoint with the reference code's linear-probe modules."""
    g = torch.Generator().manual_seed(0)
    state = {
        "chan_conv.weight": torch.randn(len(ENCODER), len(INPUTS), 1, generator=g) * 0.5,
        "chan_conv.bias": torch.randn(len(ENCODER), generator=g) * 0.01,
        "linear_probe1.weight": torch.randn(16, E * D, generator=g) * 0.1,
        "linear_probe1.bias": torch.randn(16, generator=g) * 0.01,
        "linear_probe2.weight": torch.randn(3, 16 * 16, generator=g) * 0.1,
        "linear_probe2.bias": torch.randn(3, generator=g) * 0.01,
        "target_encoder.norm.weight": torch.ones(D),  # the rest of a real checkpoint is ignored
    }
    path = tmp_path_factory.mktemp("ckpt") / "probe.ckpt"
    torch.save({"state_dict": state, "epoch": 3}, path)
    return path, state


def test_classify_equals_the_head_in_pytorch(weights, checkpoint, tmp_path):
    ckpt, state = checkpoint
    head = tmp_path / "head.h5"
    r = convert(ckpt, head, "--input-channels", ",".join(INPUTS), "--encoder-channels", ",".join(ENCODER),
                "--classes", "rest,task,other")
    assert r.returncode == 0, r.stderr
    out = tmp_path / "pred.h5"
    lib.run_ok("classify", lib.recording("Subject00_2.edf"), "--weights", weights, "--head", head, "--output", out,
               "--quiet")

    # The same computation, independently: MNE + scipy windows, the 1x1 convolution in PyTorch, the
    # engine's `encode` on the mixed windows, then the probe layers in PyTorch.
    x, names, _ = lib.prepared_windows("Subject00_2.edf", stride=1024)
    x = x[:, [names.index(c) for c in INPUTS]]
    mixed = torch.nn.functional.conv1d(torch.from_numpy(x).double(),
                                       torch.renorm(state["chan_conv.weight"].double(), p=2, dim=0, maxnorm=1),
                                       state["chan_conv.bias"].double()).float().numpy()
    inp, enc = tmp_path / "mixed.h5", tmp_path / "enc.h5"
    with h5py.File(inp, "w") as f:
        f["x"] = mixed
        f.create_dataset("channels", data=np.array(ENCODER, dtype=object), dtype=h5py.string_dtype())
    lib.run_ok("encode", "--weights", weights, "--input", inp, "--output", enc)
    with h5py.File(enc, "r") as f:
        z = torch.from_numpy(f["features"][()]).double()
    # The reference scripts' LinearWithConstraint renormalise their weights (max norms 1 and 0.25).
    w1 = torch.renorm(state["linear_probe1.weight"].double(), p=2, dim=0, maxnorm=1)
    w2 = torch.renorm(state["linear_probe2.weight"].double(), p=2, dim=0, maxnorm=0.25)
    h = torch.nn.functional.linear(z.flatten(2), w1, state["linear_probe1.bias"].double())
    logits = torch.nn.functional.linear(h.flatten(1), w2, state["linear_probe2.bias"].double())
    expected = torch.softmax(logits, dim=1).numpy()

    with h5py.File(out, "r") as f:
        p = f["probabilities"][()]
        assert lib.strings(f["class_names"]) == ["rest", "task", "other"]
        assert lib.strings(f["channels"]) == ENCODER
        assert lib.strings(f["recording_channels"]) == INPUTS
        assert f.attrs["head_source"] == "probe.ckpt"
        assert f.attrs["content"] == "predictions"
        assert "features" not in f
        np.testing.assert_array_equal(f["predicted_class"][()], p.argmax(axis=1))
        np.testing.assert_allclose(f["recording_mean_probability"][()], p.mean(axis=0), rtol=1e-6)
        np.testing.assert_allclose(f["recording_class_fraction"][()],
                                   np.bincount(p.argmax(axis=1), minlength=3) / len(p), rtol=1e-12)
        assert f.attrs["recording_predicted_class"] == ["rest", "task", "other"][int(p.mean(axis=0).argmax())]
    assert p.shape == expected.shape
    assert np.abs(p - expected).max() <= 1e-5


def test_random_heads_and_converter_errors(weights, checkpoint, tmp_path):
    head = tmp_path / "random.h5"
    r = convert("--random", head, "--input-channels", "standard19", "--classes", "normal,abnormal",
                "--embed-num", E, "--embed-dim", D)
    assert r.returncode == 0, r.stderr
    out = tmp_path / "p.h5"
    r = lib.run_ok("classify", lib.recording("Subject00_2.edf"), "--weights", weights, "--head", head, "--output", out,
                   "--save-features")
    assert "normal mean p" in r.stdout
    with h5py.File(out, "r") as f:
        assert f["features"].shape == (15, 16, E, D)
        assert f["probabilities"].shape == (15, 2)
        np.testing.assert_allclose(f["probabilities"][()].sum(axis=1), 1.0, rtol=1e-6)

    ckpt, _ = checkpoint
    r = convert(ckpt, tmp_path / "bad.h5", "--input-channels", "FP1,FP2", "--encoder-channels", ",".join(ENCODER))
    assert r.returncode != 0 and "chan_conv.weight is" in r.stderr
    assert not (tmp_path / "bad.h5").exists()
    # A head wider than the encoder's features is refused before any work.
    wide = tmp_path / "wide.h5"
    assert convert("--random", wide, "--input-channels", "CZ", "--embed-dim", 512).returncode == 0
    r = lib.run("classify", lib.recording("Subject00_2.edf"), "--weights", weights, "--head", wide, "--output",
                tmp_path / "w.h5")
    assert r.returncode == 1 and "2048" in r.stderr
    assert len(error_lines(r.stderr)) == 1


def test_relu_and_gelu_layers_equal_pytorch(weights, tmp_path):
    """Every activation of the format against PyTorch, on the engine's own features: a head whose
    layers are GELU, ReLU and identity, with pre-activations of both signs around 0 (where ReLU and
    the exact GELU differ most)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("convert_head", CONVERT_HEAD)
    convert_head = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(convert_head)
    rng = np.random.default_rng(7)
    w1 = rng.standard_normal((12, E * D)) / np.sqrt(E * D)
    b1 = 0.1 * rng.standard_normal(12)
    w2 = rng.standard_normal((8, 16 * 12)) / np.sqrt(16 * 12)
    b2 = 0.1 * rng.standard_normal(8)
    w3 = rng.standard_normal((3, 8))
    b3 = 0.1 * rng.standard_normal(3)
    head = tmp_path / "act.h5"
    inputs = ["FP1", "FP2", "F3", "F4", "CZ"]
    lin = lambda w, b: convert_head.step("linear", dict(weight=w, bias=b))  # noqa: E731
    steps = [convert_head.encoder_step(inputs, 64), lin(w1, b1), convert_head.step("gelu"),
             convert_head.step("flatten"), lin(w2, b2), convert_head.step("relu"), lin(w3, b3)]
    convert_head.write_head(str(head), convert_head.root_attrs("custom", ["a", "b", "c"], "softmax", inputs, 256.0,
                                                               1024, 1.0, 4.0, "test", ""), steps)
    out = tmp_path / "p.h5"
    lib.run_ok("classify", lib.recording("Subject00_2.edf"), "--weights", weights, "--head", head, "--output", out,
               "--save-features", "--quiet")
    with h5py.File(out, "r") as f:
        z = torch.from_numpy(f["features"][()]).double()
        p = f["probabilities"][()]
    t = {k: torch.from_numpy(np.asarray(v, dtype=np.float32)).double() for k, v in
         dict(w1=w1, b1=b1, w2=w2, b2=b2, w3=w3, b3=b3).items()}

    def head_in_torch(first, second):
        h = first(torch.nn.functional.linear(z.flatten(2), t["w1"], t["b1"]))
        h = second(torch.nn.functional.linear(h.flatten(1), t["w2"], t["b2"]))
        return torch.softmax(torch.nn.functional.linear(h, t["w3"], t["b3"]), dim=1).numpy()

    gelu, relu = torch.nn.functional.gelu, torch.nn.functional.relu  # torch's gelu is the exact erf form
    expected = head_in_torch(gelu, relu)
    assert np.abs(p - expected).max() <= 1e-5
    # The test would see either activation replaced by the other.
    assert np.abs(p - head_in_torch(relu, relu)).max() > 1e-3
    assert np.abs(p - head_in_torch(gelu, gelu)).max() > 1e-3


def test_linear_probe_layout_applies_the_official_max_norms(checkpoint, tmp_path):
    """No --recipe: the BCIC-2a-like layout, so chan_conv, linear_probe1 and linear_probe2 are the
    reference scripts' max-norm layers (1, 1, 0.25): stored renormalised (torch.renorm), the rows of
    the stand-in checkpoint being beyond those bounds."""
    ckpt, state = checkpoint
    head = tmp_path / "head.h5"
    r = convert(ckpt, head, "--input-channels", ",".join(INPUTS), "--encoder-channels", ",".join(ENCODER))
    assert r.returncode == 0, r.stderr
    h = head_steps.read_head(str(head))
    assert int(h["attrs"]["format_version"]) == 3 and int(h["attrs"]["max_norm_applied"]) == 1
    assert [s["op"] for s in h["steps"]] == ["channel_mix", "encoder", "linear", "flatten", "linear"]
    expected = [("chan_conv.weight", 1.0), ("linear_probe1.weight", 1.0), ("linear_probe2.weight", 0.25)]
    weighted = [s for s in h["steps"] if "weight" in s["tensors"]]
    for s, (name, max_norm) in zip(weighted, expected):
        raw = state[name].double()
        assert (raw.reshape(raw.shape[0], -1).norm(dim=1) > max_norm).any()  # the bound matters
        want = torch.renorm(raw, p=2, dim=0, maxnorm=max_norm).reshape(raw.shape[0], -1).float().numpy()
        assert s["attrs"]["max_norm"] == max_norm
        np.testing.assert_array_equal(s["tensors"]["weight"].astype(np.float32), want)
    assert h["steps"][1]["attrs"]["channels"] == ENCODER and h["steps"][1]["attrs"]["patch_stride"] == 64


def test_version_1_files_still_load_with_the_same_numbers(tmp_path):
    """test/data/heads/v1_probe.h5 (written by convert_head 2) on the recording and weights its
    expected probabilities were computed with (test/data/heads/README.md)."""
    data = os.path.join(lib.REPO, "test", "data", "heads")
    weights = tmp_path / "tiny2.h5"
    r = subprocess.run([sys.executable, os.path.join(lib.REPO, "tools", "convert_ckpt.py"), "--random-init", "tiny2",
                        "--seed", "0", str(weights)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    with h5py.File(os.path.join(data, "v1_probe.h5"), "r") as f:
        assert int(f.attrs["format_version"]) == 1
    out = tmp_path / "p.h5"
    lib.run_ok("classify", lib.recording("Subject00_2.edf"), "--weights", weights, "--head",
               os.path.join(data, "v1_probe.h5"), "--output", out, "--quiet")
    with h5py.File(os.path.join(data, "v1_probe_expected.h5"), "r") as f:
        expected, starts = f["probabilities"][()], f["window_start_s"][()]
    with h5py.File(out, "r") as f:
        np.testing.assert_array_equal(f["window_start_s"][()], starts)
        np.testing.assert_allclose(f["probabilities"][()], expected, rtol=1e-5, atol=1e-7)
        assert lib.strings(f["class_names"]) == ["rest", "task", "other"]
