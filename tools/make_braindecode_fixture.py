#!/usr/bin/env python3
"""braindecode's own EEGPT outputs, for the interop test (test/python/package/test_braindecode.py).

Runs in a Python with braindecode 1.8.1 (tools/make_braindecode_venv.sh; it needs PyTorch >= 2 and
MNE >= 1.11, which the engine's test environment does not have), and writes into OUT_DIR what
braindecode itself saves and computes, so that the engine's side can be checked without it:

  OUT_DIR/<model>/config.json        model.get_config() + braindecode_version, as its hub mixin writes
  OUT_DIR/<model>/pytorch_model.bin  model.state_dict(), as its hub mixin writes
  OUT_DIR/expected.h5                x (windows, channels, 1024) float32 in millivolts, channels, and
                                     per model: features (windows, patches, embed_num, embed_dim) =
                                     model.target_encoder(model.chan_proj(x), model.chans_id), logits
                                     = model(x), probabilities = softmax(logits) in float64

  make_braindecode_fixture.py OUT_DIR [--recording Subject00_2.edf]

The models are braindecode's EEGPT at tiny2's size (embed_dim 64, depth 2, 4 heads, 4 summary
tokens) so that the committed fixture stays small:
  stride64   patch_stride 64 (the released function), chan_proj_type "none": the encoder sees the
             5 recording channels by their chs_info names
  stride32   patch_stride 32 (braindecode's default: 31 overlapping patches per 4 s window),
             chan_proj_type "conv1d_constraint" (its default): 5 channels projected onto its 19
Its own initialisation is perturbed (every parameter + N(0, 0.05)) so that biases and LayerNorms
are not trivial, and the max-norm parametrized weights are scaled past their norms so that the
constraint acts. x is 4 windows of a real recording (its first 16 s), read by MNE.
"""
import argparse
import json
import os
import sys

import h5py
import mne
import numpy as np
import torch

import braindecode
from braindecode.models import EEGPT

CHANNELS = ["FP1", "FP2", "F3", "F4", "CZ"]
WINDOWS, SAMPLES, RATE = 4, 1024, 256.0
MODELS = {
    "stride64": dict(patch_stride=64, chan_proj_type="none"),
    "stride32": dict(patch_stride=32, chan_proj_type="conv1d_constraint"),
}


def default_recording():
    here = os.path.dirname(os.path.abspath(__file__))
    data = os.environ.get("EEGPT_DATA_DIR", os.path.join(here, "..", "test", "data", "eeg"))
    return os.path.join(data, "Subject00_2.edf")


def read_windows(path):
    raw = mne.io.read_raw_edf(path, preload=True, verbose="error")
    names = {n.upper().replace("EEG ", "").split("-")[0].strip(): n for n in raw.ch_names}
    missing = [c for c in CHANNELS if c not in names]
    if missing:
        raise SystemExit("make_braindecode_fixture: %s lacks %s" % (path, ", ".join(missing)))
    raw.pick([names[c] for c in CHANNELS])
    if raw.info["sfreq"] != RATE:
        raw.resample(RATE, verbose="error")
    volts = raw.get_data()[:, :WINDOWS * SAMPLES]
    mv = (volts * 1e3).astype(np.float32)  # the engine's unit
    return np.ascontiguousarray(mv.reshape(len(CHANNELS), WINDOWS, SAMPLES).transpose(1, 0, 2))


def build(options, seed):
    torch.manual_seed(seed)
    chs_info = [dict(ch_name=c) for c in CHANNELS]
    model = EEGPT(n_outputs=3, n_chans=len(CHANNELS), chs_info=chs_info, n_times=SAMPLES, sfreq=RATE,
                  embed_dim=64, depth=2, num_heads=4, embed_num=4, **options).eval()
    g = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for pname, p in model.named_parameters():
            if pname.endswith("parametrizations.weight.original"):
                p.mul_(40.0)  # rows longer than their max norms (1.0, 0.25)
            p.add_(0.05 * torch.randn(p.shape, generator=g))
    return model


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out_dir")
    ap.add_argument("--recording", default=default_recording())
    a = ap.parse_args(argv)
    x = read_windows(a.recording)
    os.makedirs(a.out_dir, exist_ok=True)
    with h5py.File(os.path.join(a.out_dir, "expected.h5"), "w") as f:
        f["x"] = x
        f["channels"] = np.array(CHANNELS, dtype=object)
        f.attrs["braindecode_version"] = str(braindecode.__version__)
        f.attrs["torch_version"] = str(torch.__version__)
        f.attrs["recording"] = os.path.basename(a.recording)
        for i, (name, options) in enumerate(MODELS.items()):
            model = build(options, seed=10 * (i + 1))
            d = os.path.join(a.out_dir, name)
            os.makedirs(d, exist_ok=True)
            config = model.get_config()
            config["braindecode_version"] = braindecode.__version__
            with open(os.path.join(d, "config.json"), "w") as cf:
                json.dump(config, cf, indent=2, default=str)
            torch.save(model.state_dict(), os.path.join(d, "pytorch_model.bin"))
            with torch.no_grad():
                xt = torch.from_numpy(x)
                features = model.target_encoder(model.chan_proj(xt), model.chans_id)
                logits = model(xt)
            g = f.create_group(name)
            g["features"] = features.numpy().astype(np.float32)
            g["logits"] = logits.numpy().astype(np.float32)
            g["probabilities"] = torch.softmax(logits.double(), dim=1).numpy()
            g.attrs["patch_stride"] = options["patch_stride"]
            g.attrs["encoder_channels"] = np.array(model.channel_names, dtype=object)
            print("%s: features %s, logits %s" % (name, tuple(features.shape), tuple(logits.shape)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
