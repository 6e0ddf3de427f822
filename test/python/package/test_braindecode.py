"""A braindecode EEGPT (its state_dict, patch_stride 64) converted with tools/convert_ckpt.py and
tools/convert_head.py: eegpt.classify's probabilities equal softmax(final_layer(features)) computed
in PyTorch on the engine's features, to 1e-5. (braindecode itself is not installed here: its
state_dict layout is built by hand, as in test_converter.py.)"""
import os
import subprocess
import sys

import numpy as np
import pytest

import eegpt
from conftest import lib

torch = pytest.importorskip("torch")
TOOLS = os.path.join(lib.REPO, "tools")
CHANNELS = "FP1 FP2 F3 F4 C3 C4 P3 P4 O1 O2 F7 F8 T7 T8 P7 P8 FZ CZ PZ".split()


def tool(name, *args):
    r = subprocess.run([sys.executable, os.path.join(TOOLS, name), *map(str, args)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return r


def test_braindecode_model_with_final_layer(tmp_path):
    sys.path.insert(0, TOOLS)
    import eegpt_format as fmt

    cfg = fmt.named_config("little")
    E, D = cfg["embed_num"], cfg["embed_dim"]
    g = torch.Generator().manual_seed(3)
    sd = {}
    for name, shape in fmt.tensor_specs(cfg):
        r = torch.randn(shape, generator=g)
        sd["target_encoder." + name] = 1 + 0.1 * r if fmt.init_kind(name) == "norm_weight" else 0.05 * r
    sd["chans_id"] = torch.tensor([fmt.channel_ids([c])[0] for c in CHANNELS])
    sd["final_layer.weight"] = 0.01 * torch.randn(3, 16 * E * D, generator=g)
    sd["final_layer.bias"] = 0.1 * torch.randn(3, generator=g)
    ckpt = tmp_path / "braindecode_eegpt.pt"
    torch.save(sd, ckpt)
    weights, head = tmp_path / "w.h5", tmp_path / "head.h5"
    tool("convert_ckpt.py", ckpt, weights, "--patch-stride", "64")
    tool("convert_head.py", ckpt, head, "--input-channels", ",".join(CHANNELS), "--classes", "a,b,c")

    model = eegpt.Model(weights)
    rec = eegpt.classify(lib.recording("Subject00_2.edf"), model, head, save_features=True, progress=False)
    assert rec.class_names == ["a", "b", "c"] and rec.channels == CHANNELS
    logits = torch.nn.functional.linear(torch.from_numpy(rec.features).double().flatten(1),
                                        sd["final_layer.weight"].double(), sd["final_layer.bias"].double())
    expected = torch.softmax(logits, dim=1).numpy()
    assert np.abs(rec.probabilities - expected).max() <= 1e-5
    assert rec.probabilities.std(axis=0).max() > 1e-4  # the windows differ: not a constant head
