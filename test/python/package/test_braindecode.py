"""A braindecode EEGPT (its state_dict, patch_stride 64) converted with tools/convert_ckpt.py and
tools/convert_head.py: eegpt.classify's probabilities equal braindecode's head computed in PyTorch
(torch.renorm max-norm constraints, probe1 per patch, probe2 on the flattened patches, softmax) on
the engine's features, to 1e-5, for braindecode 1.8's layout (max-norm parametrized probe, with and
without its chan_proj) and the single final Linear of earlier versions. braindecode itself needs
PyTorch 2 and MNE 1.11 and is not installed here: the state_dicts are built by hand with its key
names (read from braindecode 1.8.1's models/eegpt.py)."""
import os
import subprocess
import sys

import h5py
import numpy as np
import pytest

import eegpt
from conftest import lib

torch = pytest.importorskip("torch")
TOOLS = os.path.join(lib.REPO, "tools")
STANDARD19 = "FP1 FP2 F7 F3 FZ F4 F8 T7 C3 CZ C4 T8 P7 P3 PZ P4 P8 O1 O2".split()
INPUTS = "FP1 FP2 F3 F4 CZ".split()


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
        with h5py.File(head, "r") as f:
            np.testing.assert_allclose(f["channel_mixing/weight"][()], w[:, :, 0].numpy(), rtol=1e-6, atol=1e-7)
            assert [s.decode() if isinstance(s, bytes) else s for s in f["channel_mixing"].attrs["encoder_channels"]] \
                == STANDARD19
