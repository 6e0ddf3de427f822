"""braindecode interop. (1) braindecode's own outputs: models made by braindecode 1.8.1 itself
(tools/fixtures/make_braindecode_fixture.py: patch_stride 64 without chan_proj, and its default patch_stride
32 with its default conv1d_constraint chan_proj and probe head), saved as its hub mixin saves them
(config.json, pytorch_model.bin), converted with tools/convert_ckpt.py --config and
tools/convert_head.py: eegpt.classify's features and probabilities equal braindecode's on the same
windows of a real recording, fp32, <= 1e-5. The committed fixture (weights/fixtures/braindecode)
always runs; with EEGPT_BRAINDECODE_PYTHON set to a Python that has braindecode
(tools/setup/make_venv.sh DIR braindecode) the fixture is also made afresh and checked the same way.
(2) Hand-built state_dicts with braindecode's key names for layouts the fixture lacks (the single
final Linear of earlier versions): classify's probabilities equal the head computed in PyTorch on
the engine's features, to 1e-5."""
import os
import subprocess
import sys

import h5py
import numpy as np
import pytest

import eegpt
from conftest import lib
from eegpt_testlib import FIXTURES, rel_err

torch = pytest.importorskip("torch")
TOOLS = os.path.join(lib.REPO, "tools")
STANDARD19 = "FP1 FP2 F7 F3 FZ F4 F8 T7 C3 CZ C4 T8 P7 P3 PZ P4 P8 O1 O2".split()
INPUTS = "FP1 FP2 F3 F4 CZ".split()


FIXTURE = os.path.join(FIXTURES, "braindecode")
BRAINDECODE_MODELS = {"stride64": (64, 16), "stride32": (32, 31)}  # patch_stride, patches per 4 s window


def tool(name, *args):
    r = subprocess.run([sys.executable, os.path.join(TOOLS, name), *map(str, args)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return r


@pytest.mark.parametrize("layout", ["probe", "probe+chan_proj", "linear"])
def test_braindecode_model_with_its_head(layout, tmp_path):
    sys.path.insert(0, TOOLS)
    import eegpt_format as fmt

    cfg = fmt.named_config("little")
    E, D, H = cfg["embed_num"], cfg["embed_dim"], 16
    g = torch.Generator().manual_seed(3)
    sd = {}
    for name, shape in fmt.tensor_specs(cfg):
        r = torch.randn(shape, generator=g)
        sd["target_encoder." + name] = 1 + 0.1 * r if fmt.init_kind(name) == "norm_weight" else 0.05 * r
    encoder_channels = STANDARD19 if layout == "probe+chan_proj" else INPUTS
    sd["chans_id"] = torch.tensor(fmt.channel_ids(encoder_channels))
    if layout == "linear":
        sd["final_layer.weight"] = 0.01 * torch.randn(3, 16 * E * D, generator=g)
        sd["final_layer.bias"] = 0.1 * torch.randn(3, generator=g)
    else:
        # Rows longer than the max norms (1.0 and 0.25), so that the constraint matters.
        sd["final_layer.probe1.parametrizations.weight.original"] = 0.2 * torch.randn(H, E * D, generator=g)
        sd["final_layer.probe1.bias"] = 0.1 * torch.randn(H, generator=g)
        sd["final_layer.probe2.parametrizations.weight.original"] = 0.3 * torch.randn(3, 16 * H, generator=g)
        sd["final_layer.probe2.bias"] = 0.1 * torch.randn(3, generator=g)
    if layout == "probe+chan_proj":
        sd["chan_proj.proj.parametrizations.weight.original"] = 0.8 * torch.randn(19, len(INPUTS), 1, generator=g)
        sd["chan_proj.proj.bias"] = 0.01 * torch.randn(19, generator=g)
    ckpt = tmp_path / "braindecode_eegpt.pt"
    torch.save(sd, ckpt)
    weights, head = tmp_path / "w.h5", tmp_path / "head.h5"
    tool("convert_ckpt.py", ckpt, weights, "--patch-stride", "64")
    tool("convert_head.py", ckpt, head, "--input-channels", ",".join(INPUTS), "--classes", "a,b,c")

    rec = eegpt.classify(lib.recording("Subject00_2.edf"), eegpt.Model(weights), head, save_features=True,
                         progress=False)
    assert rec.class_names == ["a", "b", "c"] and rec.channels == encoder_channels
    z = torch.from_numpy(rec.features).double()
    if layout == "linear":
        logits = torch.nn.functional.linear(z.flatten(1), sd["final_layer.weight"].double(),
                                            sd["final_layer.bias"].double())
    else:
        w1 = sd["final_layer.probe1.parametrizations.weight.original"].double().renorm(p=2, dim=0, maxnorm=1.0)
        w2 = sd["final_layer.probe2.parametrizations.weight.original"].double().renorm(p=2, dim=0, maxnorm=0.25)
        h = torch.nn.functional.linear(z.flatten(2), w1, sd["final_layer.probe1.bias"].double())
        logits = torch.nn.functional.linear(h.flatten(1), w2, sd["final_layer.probe2.bias"].double())
    expected = torch.softmax(logits, dim=1).numpy()
    assert np.abs(rec.probabilities - expected).max() <= 1e-5
    assert rec.probabilities.std(axis=0).max() > 1e-4  # the windows differ: not a constant head
    if layout == "probe+chan_proj":
        w = sd["chan_proj.proj.parametrizations.weight.original"].double().renorm(p=2, dim=0, maxnorm=1.0)
        with h5py.File(head, "r") as f:  # format version 2: channel_mix, then the encoder step
            assert f["steps/0"].attrs["op"] == "channel_mix" and f["steps/1"].attrs["op"] == "encoder"
            np.testing.assert_allclose(f["steps/0/weight"][()], w[:, :, 0].numpy(), rtol=1e-6, atol=1e-7)
            assert [s.decode() if isinstance(s, bytes) else s for s in f["steps/1"].attrs["channels"]] \
                == STANDARD19


@pytest.fixture(scope="module", params=["committed", "live"])
def braindecode_dir(request, tmp_path_factory):
    """The committed fixture, or one made now by braindecode itself (EEGPT_BRAINDECODE_PYTHON)."""
    if request.param == "committed":
        return FIXTURE
    python = os.environ.get("EEGPT_BRAINDECODE_PYTHON")
    if not python:
        pytest.skip("EEGPT_BRAINDECODE_PYTHON is not set (a Python with braindecode 1.8.1: "
                    "tools/setup/make_venv.sh DIR braindecode); the committed fixture was checked instead")
    out = tmp_path_factory.mktemp("braindecode")
    r = subprocess.run([python, os.path.join(TOOLS, "fixtures", "make_braindecode_fixture.py"), str(out),
                        "--recording", lib.recording("Subject00_2.edf")], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return str(out)


@pytest.mark.parametrize("name", sorted(BRAINDECODE_MODELS))
def test_features_and_probabilities_equal_braindecodes_own(braindecode_dir, name, tmp_path):
    mne = pytest.importorskip("mne")
    stride, patches = BRAINDECODE_MODELS[name]
    with h5py.File(os.path.join(braindecode_dir, "expected.h5"), "r") as f:
        x = f["x"][()]
        channels = lib.strings(f["channels"])
        g = f[name]
        expected_features, expected_probabilities = g["features"][()], g["probabilities"][()]
        encoder_channels = lib.strings(g.attrs["encoder_channels"])
        assert int(g.attrs["patch_stride"]) == stride
    assert expected_features.shape[1] == patches
    src = os.path.join(braindecode_dir, name)
    weights, head = tmp_path / "w.h5", tmp_path / "head.h5"
    tool("convert_ckpt.py", os.path.join(src, "pytorch_model.bin"), weights, "--config", os.path.join(src, "config.json"))
    tool("convert_head.py", os.path.join(src, "pytorch_model.bin"), head, "--input-channels", ",".join(channels),
         "--classes", "a,b,c")
    model = eegpt.Model(weights)
    assert model.config["patch_stride"] == stride

    # The windows as a recording: (channels, windows * 1024) in volts at 256 Hz, 4 s windows back to back.
    volts = x.transpose(1, 0, 2).reshape(len(channels), -1).astype(np.float64) / 1e3
    raw = mne.io.RawArray(volts, mne.create_info(channels, 256.0, "eeg"), verbose="error")
    rec = eegpt.classify(raw, model, str(head), save_features=True, progress=False)
    assert rec.channels == encoder_channels
    assert rec.features.shape == expected_features.shape
    err = rel_err(rec.features, expected_features)
    assert err <= 1e-5, "features: relative error %.3g vs braindecode" % err
    assert np.abs(rec.probabilities - expected_probabilities).max() <= 1e-5
    # Meaningful at that tolerance: the head is far from uniform and the windows' probabilities
    # differ by well over 1e-5 (its max-norm constraints keep them close: 3e-4 here).
    assert np.abs(expected_probabilities - 1 / 3).max() > 1e-2
    assert expected_probabilities.std(axis=0).max() > 1e-4
    if name == "stride64":  # no channel projection: the encoder alone, on the arrays, equals it too
        err = rel_err(model.encode(x, channels), expected_features)
        assert err <= 1e-5, "encode: relative error %.3g vs braindecode" % err


def test_a_head_made_for_another_patch_stride_is_refused_before_any_window(tmp_path):
    """stride32's probe reads 31 patches: on the stride 64 encoder (16) it is one clear error."""
    weights, head = tmp_path / "w64.h5", tmp_path / "head32.h5"
    tool("convert_ckpt.py", os.path.join(FIXTURE, "stride64", "pytorch_model.bin"), weights, "--config",
         os.path.join(FIXTURE, "stride64", "config.json"))
    tool("convert_head.py", os.path.join(FIXTURE, "stride32", "pytorch_model.bin"), head, "--input-channels",
         ",".join(INPUTS), "--classes", "a,b,c")
    with pytest.raises(eegpt.Error, match="does not fit the model") as e:
        eegpt.classify(lib.recording("Subject00_2.edf"), eegpt.Model(weights), str(head), progress=False)
    assert "\n" not in str(e.value)
