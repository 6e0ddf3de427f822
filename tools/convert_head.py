#!/usr/bin/env python3
"""Export a downstream EEGPT head to the engine's head format (docs/weight-format.md, "Head files").

From a fine-tuned checkpoint with the linear-probe layout of the reference code (docs/architecture.md):
    chan_conv.weight (C_enc, C_in, 1), chan_conv.bias (C_enc)      1x1 channel mixing (optional)
    linear_probe1.weight (H, E*D), linear_probe1.bias (H)           per time patch
    linear_probe2.weight (K, N*H), linear_probe2.bias (K)           on the flattened patches

    convert_head.py CKPT OUT.h5 --input-channels FP1,FP2,... [--encoder-channels standard19]
                    [--classes left,right,feet,tongue] [--prefix model.]

or from a braindecode EEGPT (its state_dict; the encoder itself through convert_ckpt.py):
    chan_proj.proj.* (19, C_in[, 1]) and the chans_id buffer          channel projection (optional)
    final_layer.probe1.* (H, E*D), final_layer.probe2.* (K, N*H)      braindecode 1.8's default probe
    or final_layer.weight (K, N*E*D)                                  one Linear (earlier versions)
(N: time patches per 4 s window, 16, or 31 at braindecode's default patch_stride 32; the engine
checks it against the converted encoder's before any recording is read)
max-norm parametrized weights (parametrizations.weight.original) are renormalised as braindecode does.

or a random head for tests:

    convert_head.py --random OUT.h5 --input-channels ... [--encoder-channels ...] --classes a,b
                    [--embed-num 4 --embed-dim 512 --hidden 16 --seed 0]

Channel names are the 62-name dictionary's (case-insensitive; "standard19" is the 10-20 montage).
A checkpoint is a PyTorch Lightning checkpoint (its "state_dict") or a plain state_dict.
"""
import argparse
import hashlib
import os
import sys

import h5py
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from eegpt_format import CHANNEL_NAMES  # noqa: E402

CONVERTER_VERSION = "convert_head 2"  # 2: tensors carry Fletcher32 checksums
PATCHES = 16  # 4 s windows of 1024 samples in patches of 64
STANDARD19 = "FP1 FP2 F7 F3 FZ F4 F8 T7 C3 CZ C4 T8 P7 P3 PZ P4 P8 O1 O2".split()


def channel_list(spec):
    if spec == "standard19":
        return list(STANDARD19)
    names = [s.strip().upper() for s in spec.split(",") if s.strip()]
    if not names:
        raise SystemExit("convert_head: empty channel list")
    return names


def write_tensor(group, name, values):
    """A float32 tensor in one chunk with HDF5's Fletcher32 checksum (verified by the loader)."""
    arr = np.ascontiguousarray(values, dtype=np.float32)
    group.create_dataset(name, data=arr, chunks=arr.shape, fletcher32=True)


def write_head(path, classes, input_channels, encoder_channels, mixing, layers, source, sha256):
    """layers: list of (weight (out, in), bias (out), activation, flatten_input)."""
    tmp = path + ".partial-%d" % os.getpid()
    try:
        with h5py.File(tmp, "w") as f:
            f.attrs["format"] = "eegpt-head"
            f.attrs["format_version"] = np.int64(1)
            f.attrs["class_names"] = list(classes)
            f.attrs["input_channels"] = list(input_channels)
            f.attrs["pooling"] = "flatten_tokens"
            f.attrs["source"] = source
            f.attrs["source_sha256"] = sha256
            f.attrs["converter_version"] = CONVERTER_VERSION
            f.attrs["n_layers"] = np.int64(len(layers))
            if mixing is not None:
                g = f.create_group("channel_mixing")
                g.attrs["encoder_channels"] = list(encoder_channels)
                write_tensor(g, "weight", mixing[0])
                write_tensor(g, "bias", mixing[1])
            group = f.create_group("layers")
            for i, (w, b, activation, flatten) in enumerate(layers):
                g = group.create_group(str(i))
                write_tensor(g, "weight", w)
                write_tensor(g, "bias", b)
                g.attrs["activation"] = activation
                g.attrs["flatten_input"] = np.int64(1 if flatten else 0)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def load_state_dict(path, prefix):
    import torch

    obj = torch.load(path, map_location="cpu")
    state = obj.get("state_dict", obj) if isinstance(obj, dict) else None
    if not isinstance(state, dict):
        raise SystemExit("convert_head: %s holds no state_dict" % path)
    return {k[len(prefix):]: v.detach().cpu().numpy().astype(np.float64)
            for k, v in state.items() if k.startswith(prefix) and hasattr(v, "detach")}


def tensor(state, name, ndim):
    if name not in state:
        raise SystemExit("convert_head: the checkpoint has no '%s'" % name)
    t = state[name]
    if t.ndim != ndim:
        raise SystemExit("convert_head: '%s' has shape %s, expected %d dimensions" % (name, t.shape, ndim))
    return t


def from_checkpoint(args):
    state = load_state_dict(args.checkpoint, args.prefix)
    input_channels = channel_list(args.input_channels)
    encoder_channels = channel_list(args.encoder_channels) if args.encoder_channels else list(input_channels)
    mixing = None
    if any(k.startswith("final_layer.") for k in state):
        return from_braindecode(args, state, input_channels, encoder_channels)
    if "chan_conv.weight" in state:
        w = tensor(state, "chan_conv.weight", 3)
        if w.shape[2] != 1:
            raise SystemExit("convert_head: chan_conv must be a 1x1 convolution, got %s" % (w.shape,))
        if w.shape[:2] != (len(encoder_channels), len(input_channels)):
            raise SystemExit("convert_head: chan_conv.weight is %s, but --encoder-channels has %d and "
                             "--input-channels %d names" % (w.shape, len(encoder_channels), len(input_channels)))
        bias = state.get("chan_conv.bias", np.zeros(w.shape[0]))
        mixing = (w[:, :, 0], bias)
    elif encoder_channels != input_channels:
        raise SystemExit("convert_head: no chan_conv in the checkpoint, so --encoder-channels must equal --input-channels")
    w1, b1 = tensor(state, "linear_probe1.weight", 2), tensor(state, "linear_probe1.bias", 1)
    w2, b2 = tensor(state, "linear_probe2.weight", 2), tensor(state, "linear_probe2.bias", 1)
    if w2.shape[1] != PATCHES * w1.shape[0]:
        raise SystemExit("convert_head: linear_probe2 takes %d inputs, expected %d patches x %d"
                         % (w2.shape[1], PATCHES, w1.shape[0]))
    classes = args.classes.split(",") if args.classes else ["class_%d" % k for k in range(w2.shape[0])]
    if len(classes) != w2.shape[0]:
        raise SystemExit("convert_head: %d class names for %d outputs" % (len(classes), w2.shape[0]))
    with open(args.checkpoint, "rb") as f:
        sha = hashlib.sha256()
        for block in iter(lambda: f.read(1 << 20), b""):
            sha.update(block)
    layers = [(w1, b1, "identity", False), (w2, b2, "identity", True)]
    write_head(args.output, classes, input_channels, encoder_channels, mixing, layers,
               os.path.basename(args.checkpoint), sha.hexdigest())


def renorm(w, max_norm):
    """torch.Tensor.renorm(p=2, dim=0, maxnorm): rows longer than max_norm scaled down to it; what
    braindecode's MaxNormParametrize makes of the stored weights at every forward."""
    flat = w.reshape(w.shape[0], -1)
    norms = np.sqrt((flat * flat).sum(axis=1))
    scale = np.where(norms > max_norm, max_norm / (norms + 1e-7), 1.0)
    return w * scale.reshape((-1,) + (1,) * (w.ndim - 1))


def braindecode_weight(state, name, ndim, max_norm):
    """A braindecode Linear/Conv1d weight: plain, or under a max-norm parametrization."""
    prefix = name[:-len("weight")]
    original = prefix + "parametrizations.weight.original"
    if original in state:
        return renorm(tensor(state, original, ndim), max_norm)
    return tensor(state, name, ndim)


def from_braindecode(args, state, input_channels, encoder_channels):
    """A braindecode EEGPT: optional `chan_proj` (1x1 channel projection to the 19 channels of its
    `chans_id`), then `final_layer`: braindecode 1.8's default probe (probe1 per time patch, probe2
    on the flattened patches, the reference code's linear_probe1/2, with max-norm constrained
    weights) or one Linear on the flattened features (earlier versions). Softmax of its outputs is
    what the engine reports."""
    chan_norm, probe1_norm, probe2_norm = (float(v) for v in args.braindecode_max_norms.split(","))
    mixing = None
    if any(k.startswith("chan_proj.") for k in state):
        w = braindecode_weight(state, "chan_proj.proj.weight", 3 if "chan_proj.proj.parametrizations.weight.original"
                               in state else 2, chan_norm)
        w = w[:, :, 0] if w.ndim == 3 else w
        if "chans_id" not in state:
            raise SystemExit("convert_head: a braindecode chan_proj without the chans_id buffer")
        ids = np.asarray(state["chans_id"]).reshape(-1)  # braindecode 1.8 stores it as (1, 19)
        encoder_channels = [CHANNEL_NAMES[int(i)] for i in ids]
        if w.shape != (len(encoder_channels), len(input_channels)):
            raise SystemExit("convert_head: chan_proj maps %d channels to %d, but --input-channels has %d names"
                             % (w.shape[1], w.shape[0], len(input_channels)))
        mixing = (w, state.get("chan_proj.proj.bias", np.zeros(w.shape[0])))
    elif encoder_channels != input_channels:
        raise SystemExit("convert_head: no chan_proj in the model, so --encoder-channels must equal --input-channels")
    if "final_layer.weight" in state:
        w, b = tensor(state, "final_layer.weight", 2), tensor(state, "final_layer.bias", 1)
        layers = [(w, b, "identity", True)]
    else:
        w1 = braindecode_weight(state, "final_layer.probe1.weight", 2, probe1_norm)
        w2 = braindecode_weight(state, "final_layer.probe2.weight", 2, probe2_norm)
        b1, b2 = tensor(state, "final_layer.probe1.bias", 1), tensor(state, "final_layer.probe2.bias", 1)
        layers = [(w1, b1, "identity", False), (w2, b2, "identity", True)]
    k = layers[-1][0].shape[0]
    classes = args.classes.split(",") if args.classes else ["class_%d" % c for c in range(k)]
    if len(classes) != k:
        raise SystemExit("convert_head: %d class names for %d outputs" % (len(classes), k))
    with open(args.checkpoint, "rb") as f:
        sha = hashlib.sha256(f.read()).hexdigest()
    write_head(args.output, classes, input_channels, encoder_channels, mixing, layers,
               os.path.basename(args.checkpoint), sha)


def random_head(args):
    rng = np.random.default_rng(args.seed)
    input_channels = channel_list(args.input_channels)
    encoder_channels = channel_list(args.encoder_channels) if args.encoder_channels else list(input_channels)
    classes = args.classes.split(",") if args.classes else ["class_0", "class_1"]
    mixing = None
    if encoder_channels != input_channels:
        mixing = (rng.normal(0, 1 / np.sqrt(len(input_channels)), (len(encoder_channels), len(input_channels))),
                  rng.normal(0, 0.01, len(encoder_channels)))
    features = args.embed_num * args.embed_dim
    layers = [(rng.normal(0, 1 / np.sqrt(features), (args.hidden, features)), rng.normal(0, 0.01, args.hidden),
               "identity", False),
              (rng.normal(0, 1 / np.sqrt(PATCHES * args.hidden), (len(classes), PATCHES * args.hidden)),
               rng.normal(0, 0.01, len(classes)), "identity", True)]
    write_head(args.output, classes, input_channels, encoder_channels, mixing, layers,
               "random-init (seed %d)" % args.seed, "")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("checkpoint", nargs="?", help="fine-tuned checkpoint (.ckpt or state_dict)")
    p.add_argument("output", help="head file to write (.h5)")
    p.add_argument("--random", action="store_true", help="write a random head instead (tests)")
    p.add_argument("--input-channels", required=True, help="channels taken from the recording, in order")
    p.add_argument("--encoder-channels", help="channels the encoder sees (after chan_conv); default: the inputs")
    p.add_argument("--classes", help="class names, comma-separated")
    p.add_argument("--prefix", default="", help="state_dict prefix of the head's modules (e.g. 'model.')")
    p.add_argument("--embed-num", type=int, default=4, help="--random: summary tokens of the encoder")
    p.add_argument("--embed-dim", type=int, default=512, help="--random: embedding width of the encoder")
    p.add_argument("--hidden", type=int, default=16, help="--random: outputs of the per-patch layer")
    p.add_argument("--seed", type=int, default=0, help="--random: seed")
    p.add_argument("--braindecode-max-norms", default="1.0,1.0,0.25",
                   help="braindecode EEGPT: max norms of chan_proj, probe1, probe2 (its defaults)")
    args = p.parse_args(argv)
    if args.random:
        if args.checkpoint is not None:
            p.error("--random takes no checkpoint")
        random_head(args)
    else:
        if args.checkpoint is None:
            p.error("give a checkpoint, or --random")
        from_checkpoint(args)


if __name__ == "__main__":
    sys.exit(main())
