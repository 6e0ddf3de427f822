#!/usr/bin/env python3
"""Export a downstream EEGPT model to the engine's head format, version 3 (docs/weight-format.md,
"Head files (downstream models), format versions 3 and 2"; the recipes in docs/downstream.md).

The seven official downstream models of the reference code (BINE022/EEGPT), from the checkpoint
their script saved:

    convert_head.py CKPT HEAD.h5 --recipe NAME [--input-channels A,B,...] [--classes a,b,...]
                    [--input-unit uV|mV|uV/100|<mV per unit>] [--prefix model.]

    NAME        checkpoint (official layout)                            input (C_in x T @ rate, unit)
    bcic2a      Lightning state_dict: chan_conv, linear_probe1/2           22 x 1024 @ 256 Hz, uV
    bcic2b      Lightning: chan_conv, linear_probe1/2 (x / 10 in forward)   3 x 1024 @ 256 Hz, uV
    kaggleern   Lightning: chan_conv, linear_probe1/2 (x / 10, mean, nearest to 512, stride 32)
                                                                           19 x 400 @ 200 Hz
    physiop300  Lightning: chan_scale, linear_probe1/2 (mean, 58 of 64 channels, stride 32)
                                                                           64 x 537 @ 256 Hz, mV
    sleepedf    Lightning: chan_conv, linear_probe1, decoder (4 TransformerDecoderLayers),
                cls_token, linear_probe2 (nearest to 7680)                  2 x 3000 @ 100 Hz, uV
    tuab        {"model": ...} or DeepSpeed {"module": ...}: chan_conv.{0,1,3,4} (max-norm 1x1
                conv, BatchNorm, GELU, depthwise (1, 15) conv, BatchNorm, GELU), head.1
                (one logit: sigmoid, class names normal,abnormal)          23 x 2000 @ 200 Hz, uV/100
    tuev        the same with a depthwise (1, 55) 'same' conv and no second GELU; 6 classes
                                                                           23 x 1000 @ 200 Hz, uV/100

tuab and tuev heads also carry the data preparation of the official dataset makers (make_TUAB.py,
make_TUEV.py: MNE FIR band-pass 0.1-75 Hz, FIR notch 50 Hz, FFT resampling to 200 Hz, microvolts / 100)
as the group /preparation, which `eegpt classify --head` applies by default; --no-preparation leaves
it out.

The encoder (`target_encoder.*`, fine-tuned for TUAB/TUEV) is converted from the same checkpoint by
tools/convert_ckpt.py (`--patch-stride 32` for kaggleern and physiop300); here its tensors only give
E and D, from which, with the recipe's window and patch stride, every head tensor's shape follows
(N time patches). Every tensor is checked: a missing, unexpected or misshaped one is refused in one
line. `reconstructor.*`, `fc_norm.*` (unused by the forward), BatchNorm `num_batches_tracked` are
ignored. The max-norm layers (Conv1d/Conv2d/LinearWithConstraint) renormalise their weight at every
forward (torch.renorm p=2 dim=0: a row, the dim-0 slice over all other dims, longer than max_norm
is scaled by max_norm / (norm + 1e-7)); the converter does that once, in float64, stores float32,
and records `max_norm` on the step and `max_norm_applied` = 1.

A checkpoint with the linear-probe layout and no --recipe (the BCIC-2a-like layout: chan_conv
optional, linear_probe1 (H, E*D), linear_probe2 (K, N*H); max norms 1, 1, 0.25 as in the reference
scripts; 4 s windows at 256 Hz, mV):

    convert_head.py CKPT OUT.h5 --input-channels FP1,FP2,... [--encoder-channels standard19]
                    [--classes left,right,feet,tongue] [--prefix model.] [--input-unit mV]

or a braindecode EEGPT (its state_dict; the encoder itself through convert_ckpt.py):
    chan_proj.proj.* (19, C_in[, 1]) and the chans_id buffer          channel projection (optional)
    final_layer.probe1.* (H, E*D), final_layer.probe2.* (K, N*H)      braindecode 1.8's default probe
    or final_layer.weight (K, N*E*D)                                  one Linear (earlier versions)
(N: time patches per 4 s window, 16, or 31 at braindecode's default patch_stride 32; the engine
checks it against the converted encoder's before any recording is read)
max-norm parametrized weights (parametrizations.weight.original) are renormalised as braindecode
does (--braindecode-max-norms, default 1.0,1.0,0.25).

or a random head for tests:

    convert_head.py --random OUT.h5 --input-channels ... [--encoder-channels ...] --classes a,b
                    [--embed-num 4 --embed-dim 512 --hidden 16 --seed 0]

Encoder channel names are the 62-name dictionary's (case-insensitive; "standard19" is the 10-20
montage); input labels of a recipe are any strings (A1, Fpz-Cz), matched to a recording's labels by
the engine. A checkpoint is a PyTorch Lightning checkpoint ("state_dict"), a {"model": ...} or
{"module": ...} wrapper, or a plain state_dict. Errors: one line "convert_head: error: ..." on
stderr, exit status 1, and no output file.
"""
import argparse
import os
import sys

import h5py
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from eegpt_format import CHANNEL_INDEX, CHANNEL_NAMES, normalize_channel  # noqa: E402

CONVERTER_VERSION = "convert_head 5"  # 2: Fletcher32 checksums; 3: format version 2 (steps), recipes;
# 4: format version 3 (class names in a dataset); 5: the /preparation group (tuab, tuev)
FORMAT_VERSION = 3
MAX_CLASSES = 1 << 20  # the engine's bound
PATCH = 64
STANDARD19 = "FP1 FP2 F7 F3 FZ F4 F8 T7 C3 CZ C4 T8 P7 P3 PZ P4 P8 O1 O2".split()
# run_class_finetuning_EEGPT_change{,_tuev}.py: `EEG FP1-REF` ... `EEG T2-REF`, reduced to the name.
TUH23 = "FP1 FP2 F3 F4 C3 C4 P3 P4 O1 O2 F7 F8 T3 T4 T5 T6 A1 A2 FZ CZ PZ T1 T2".split()
TUH_ENCODER20 = "FP1 FPZ FP2 F7 F3 FZ F4 F8 T7 C3 CZ C4 T8 P7 P3 PZ P4 P8 O1 O2".split()
# BCI Competition IV 2a montage (22 EEG channels; the loader drops the 3 EOG channels).
BCIC2A22 = ("Fz FC3 FC1 FCz FC2 FC4 C5 C3 C1 Cz C2 C4 C6 CP3 CP1 CPz CP2 CP4 P1 Pz P2 POz").split()
# linear_probe_EEGPT_PhysioP300.py: the recording's 64 channels, and the montage it keeps (in order).
P300_64 = ("Fp1 AF7 AF3 F1 F3 F5 F7 FT7 FC5 FC3 FC1 C1 C3 C5 T7 TP7 CP5 CP3 CP1 P1 P3 P5 P7 P9 PO7 PO3 O1 Iz "
           "Oz POz Pz CPz Fpz Fp2 AF8 AF4 AFz Fz F2 F4 F6 F8 FT8 FC6 FC4 FC2 FCz Cz C2 C4 C6 T8 TP8 CP6 CP4 CP2 "
           "P2 P4 P6 P8 P10 PO8 PO4 O2").split()
P300_MONTAGE = ("FP1 FPZ FP2 AF3 AF4 F7 F5 F3 F1 FZ F2 F4 F6 F8 FT7 FC5 FC3 FC1 FCZ FC2 FC4 FC6 FT8 T7 C5 C3 C1 CZ "
                "C2 C4 C6 T8 TP7 CP5 CP3 CP1 CPZ CP2 CP4 CP6 TP8 P7 P5 P3 P1 PZ P2 P4 P6 P8 PO7 PO3 POZ PO4 PO8 "
                "O1 OZ O2").split()
P300_UPPER = [c.upper() for c in P300_64]
P300_INDEX = [P300_UPPER.index(c) for c in P300_MONTAGE if c in P300_UPPER]
P300_ENCODER = [c for c in P300_MONTAGE if c in P300_UPPER]
SLEEP_ENCODER = "F3 F4 C3 C4 P3 P4 FPZ FZ CZ CPZ PZ POZ OZ".split()


class Fail(Exception):
    pass


# ---------------------------------------------------------------- recipes (facts from the official scripts)
RECIPES = {
    "bcic2a": dict(inputs=BCIC2A22, encoder=STANDARD19, window=1024, rate=256.0, unit=0.001, stride_s=4.0,
                   patch_stride=64, classes="left_hand right_hand feet tongue".split()),
    "bcic2b": dict(inputs="C3 Cz C4".split(), encoder="C5 C3 C1 CZ C2 C4 C6".split(), window=1024, rate=256.0,
                   unit=0.001, stride_s=4.0, patch_stride=64,
                   # linear_probe2 has 4 outputs although the data set has 2 labels (0 left, 1 right)
                   classes="left_hand right_hand unused_2 unused_3".split()),
    "kaggleern": dict(inputs=STANDARD19, encoder=STANDARD19, window=400, rate=200.0, unit=1.0, stride_s=2.0,
                      patch_stride=32, interpolate=512, classes="bad_feedback good_feedback".split()),
    "physiop300": dict(inputs=P300_64, encoder=P300_ENCODER, window=537, rate=256.0, unit=1.0,
                       stride_s=537 / 256.0, patch_stride=32, classes="nontarget target".split()),
    "sleepedf": dict(inputs=["Fpz-Cz", "Pz-Oz"], encoder=SLEEP_ENCODER, window=3000, rate=100.0, unit=0.001,
                     stride_s=30.0, patch_stride=64, interpolate=7680, classes="W N1 N2 N3 REM".split()),
    "tuab": dict(inputs=TUH23, encoder=TUH_ENCODER20, window=2000, rate=200.0, unit=0.1, stride_s=10.0,
                 patch_stride=64, classes="normal abnormal".split(), prepared=True),
    "tuev": dict(inputs=TUH23, encoder=TUH_ENCODER20, window=1000, rate=200.0, unit=0.1, stride_s=1.0,
                 patch_stride=64, classes="SPSW GPED PLED EYEM ARTF BCKG".split(), prepared=True),
}
# The data preparation of downstream_tueg/dataset_maker/make_TUAB.py and make_TUEV.py (MNE 1.4.2):
# the 23 channels dropped to and reordered, raw.filter(l_freq=0.1, h_freq=75.0), raw.notch_filter(50.0),
# raw.resample(200), data in microvolts (the training loop then divides by 100). Written as the
# head's /preparation group, which `eegpt classify --head` applies by default.
TUH_PREPARATION = dict(filter_design="mne", bandpass_low_hz=0.1, bandpass_high_hz=75.0, notch_hz=50.0,
                       resample_method="fft")
PROBE_HIDDEN = 16      # linear_probe1 outputs of the four linear-probe scripts
SLEEP_WIDTH, SLEEP_FF, SLEEP_HEADS, SLEEP_LAYERS = 64, 256, 4, 4
TUH_ENC = 20


def patches(samples, stride):
    return (samples - PATCH) // stride + 1


def parse_unit(text):
    """Millivolts per unit of the model's input: uV, mV, V, uV/100 (values in microvolts divided by
    100, so one unit is 100 uV = 0.1 mV), or a number of mV."""
    t = str(text).strip().replace("µ", "u").replace(" ", "")
    named = {"mv": 1.0, "uv": 1e-3, "v": 1e3, "nv": 1e-6}
    low = t.lower()
    if "/" in low:
        base, _, div = low.partition("/")
        if base in named:
            try:
                return named[base] * float(div)
            except ValueError:
                pass
    elif low in named:
        return named[low]
    try:
        v = float(t)
    except ValueError:
        raise Fail("--input-unit %r: give uV, mV, V, uV/100 or a number of millivolts" % text)
    if not np.isfinite(v) or v <= 0:
        raise Fail("--input-unit %r must be positive" % text)
    return v


# ---------------------------------------------------------------- checkpoint
def load_state(path, prefix):
    """The state_dict (Lightning `state_dict`, `model` / `module` wrappers, or plain), as float64
    numpy arrays (integers as they are), with `prefix` stripped from the keys that have it."""
    import convert_ckpt

    if not os.path.isfile(path):
        raise Fail("checkpoint file not found: %s" % path)
    try:
        obj = convert_ckpt.load_checkpoint(path)
        state = convert_ckpt.get_state_dict(obj)
    except convert_ckpt.Fail as e:
        raise Fail(str(e))
    except Exception as e:  # noqa: BLE001 - torch raises many kinds for a bad file
        raise Fail("cannot load checkpoint %s: %s" % (path, e))
    out = {}
    for k, v in state.items():
        if prefix and not k.startswith(prefix):
            continue
        name = k[len(prefix):]
        if hasattr(v, "detach"):
            v = v.detach().cpu()
            v = v.double().numpy() if v.is_floating_point() else v.numpy()
        out[name] = np.asarray(v)
    if not out:
        raise Fail("no tensor in %s starts with prefix '%s'" % (path, prefix))
    return out


def renorm(w, max_norm):
    """torch.renorm(w, p=2, dim=0, maxnorm): every dim-0 slice (over all other dims) whose L2 norm
    exceeds max_norm is scaled by max_norm / (norm + 1e-7); in float64."""
    w = np.asarray(w, dtype=np.float64)
    flat = w.reshape(w.shape[0], -1)
    norms = np.sqrt((flat * flat).sum(axis=1))
    scale = np.where(norms > max_norm, max_norm / (norms + 1e-7), 1.0)
    return w * scale.reshape((-1,) + (1,) * (w.ndim - 1))


class Tensors:
    """The checkpoint's tensors under the recipe's names: each taken once with its shape checked;
    at the end, whatever was neither taken nor ignorable is refused."""

    IGNORED = ("target_encoder.", "reconstructor.", "fc_norm.")

    def __init__(self, state):
        self.state = state
        self.used = set()

    def has(self, name):
        return name in self.state

    def take(self, name, shape):
        if name not in self.state:
            raise Fail("the checkpoint has no '%s' (expected shape %s)" % (name, tuple(shape)))
        t = self.state[name]
        if tuple(t.shape) != tuple(shape):
            raise Fail("'%s' has shape %s, expected %s" % (name, tuple(t.shape), tuple(shape)))
        if t.dtype.kind != "f":
            raise Fail("'%s' has dtype %s, expected floating point" % (name, t.dtype))
        if not np.isfinite(t).all():
            raise Fail("'%s' has non-finite values" % name)
        self.used.add(name)
        return np.asarray(t, dtype=np.float64)

    def finish(self, ignore=IGNORED):
        extra = sorted(k for k in self.state if k not in self.used and not k.startswith(ignore)
                       and not k.endswith("num_batches_tracked"))
        if extra:
            raise Fail("unexpected tensor%s in the checkpoint: %s" % ("s" if len(extra) > 1 else "",
                                                                     ", ".join(extra[:8]) + (" ..." if len(extra) > 8 else "")))


def encoder_sizes(state):
    """(E, D) from the checkpoint's target_encoder tensors."""
    name = "target_encoder.summary_token"
    if name not in state:
        raise Fail("the checkpoint has no '%s': the recipe needs the encoder's tensors (E, D)" % name)
    st = state[name]
    if st.ndim != 3 or st.shape[0] != 1:
        raise Fail("'%s' has shape %s, expected (1, E, D)" % (name, tuple(st.shape)))
    w = state.get("target_encoder.patch_embed.proj.weight")
    if w is None or tuple(w.shape) != (st.shape[2], 1, 1, PATCH):
        raise Fail("'target_encoder.patch_embed.proj.weight' must have shape %s"
                   % ((st.shape[2], 1, 1, PATCH),))
    return int(st.shape[1]), int(st.shape[2])


# ---------------------------------------------------------------- steps
def step(op, tensors=None, **attrs):
    return dict(op=op, tensors=dict(tensors or {}), attrs=attrs, groups={})


def max_norm_linear(t, prefix, shape, max_norm):
    w = renorm(t.take(prefix + "weight", shape), max_norm)
    b = t.take(prefix + "bias", shape[:1])
    return step("linear", dict(weight=w, bias=b), max_norm=float(max_norm))


def chan_conv_1d(t, c_out, c_in, max_norm=1.0):
    """Conv1dWithConstraint(c_in, c_out, 1, max_norm): a channel_mix step."""
    w = renorm(t.take("chan_conv.weight", (c_out, c_in, 1)), max_norm)
    b = t.take("chan_conv.bias", (c_out,))
    return step("channel_mix", dict(weight=w[:, :, 0], bias=b), max_norm=float(max_norm))


def probe_steps(t, E, D, n, hidden=PROBE_HIDDEN, k=None):
    """linear_probe1 LinearWithConstraint(E*D -> hidden, 1) per patch, flatten(1), linear_probe2
    LinearWithConstraint(n*hidden -> K, 0.25); K from the checkpoint."""
    if "linear_probe2.weight" not in t.state:
        raise Fail("the checkpoint has no 'linear_probe2.weight'")
    k = t.state["linear_probe2.weight"].shape[0] if k is None else k
    return [max_norm_linear(t, "linear_probe1.", (hidden, E * D), 1.0), step("flatten"),
            max_norm_linear(t, "linear_probe2.", (k, n * hidden), 0.25)], k


def encoder_step(channels, stride):
    return step("encoder", channels=list(channels), patch_stride=int(stride))


def batch_norm(t, prefix, c):
    return step("batch_norm", dict(running_mean=t.take(prefix + "running_mean", (c,)),
                                   running_var=t.take(prefix + "running_var", (c,)),
                                   weight=t.take(prefix + "weight", (c,)),
                                   bias=t.take(prefix + "bias", (c,))), eps=1e-5)


def sleep_decoder(t, F, n_layers=SLEEP_LAYERS, heads=SLEEP_HEADS, ff=SLEEP_FF):
    """nn.TransformerDecoder(TransformerDecoderLayer(F, heads, ff, gelu), n_layers), post-norm."""
    s = step("sleep_decoder", dict(cls_token=t.take("cls_token", (1, 1, F)).reshape(F)),
             layers=int(n_layers), heads=int(heads), eps=1e-5, positions="eegpt_int_sincos")
    names = [("self_in_weight", "self_attn.in_proj_weight", (3 * F, F)), ("self_in_bias", "self_attn.in_proj_bias", (3 * F,)),
             ("self_out_weight", "self_attn.out_proj.weight", (F, F)), ("self_out_bias", "self_attn.out_proj.bias", (F,)),
             ("cross_in_weight", "multihead_attn.in_proj_weight", (3 * F, F)),
             ("cross_in_bias", "multihead_attn.in_proj_bias", (3 * F,)),
             ("cross_out_weight", "multihead_attn.out_proj.weight", (F, F)),
             ("cross_out_bias", "multihead_attn.out_proj.bias", (F,)),
             ("linear1_weight", "linear1.weight", (ff, F)), ("linear1_bias", "linear1.bias", (ff,)),
             ("linear2_weight", "linear2.weight", (F, ff)), ("linear2_bias", "linear2.bias", (F,))]
    for i in (1, 2, 3):
        names += [("norm%d_weight" % i, "norm%d.weight" % i, (F,)), ("norm%d_bias" % i, "norm%d.bias" % i, (F,))]
    for layer in range(n_layers):
        s["groups"]["decoder/%d" % layer] = {ours: t.take("decoder.layers.%d.%s" % (layer, theirs), shape)
                                             for ours, theirs, shape in names}
    return s


def recipe_steps(name, t, E, D, n_in):
    """(steps, K, output) of a recipe; n_in = number of input labels (C_in)."""
    r = RECIPES[name]
    enc, stride = r["encoder"], r["patch_stride"]
    if name in ("bcic2a", "bcic2b", "kaggleern"):
        pre = []
        if name != "bcic2a":
            pre.append(step("scale", factor=0.1))          # x = x / 10
        if name == "kaggleern":
            pre += [step("subtract_channel_mean"),          # x = x - x.mean(dim=-2)
                    step("subtract_channel_mean"),          # temporal_interpolation(use_avg=True) again
                    step("interpolate_nearest", length=int(r["interpolate"]))]
        samples = r.get("interpolate", r["window"])
        head, k = probe_steps(t, E, D, patches(samples, stride))
        steps = pre + [chan_conv_1d(t, len(enc), n_in), encoder_step(enc, stride)] + head
        return steps, k, "softmax"
    if name == "physiop300":
        if n_in != len(P300_64):
            raise Fail("physiop300 selects channels by index from the script's 64-channel list; "
                       "--input-channels must give 64 names")
        c = len(P300_INDEX)
        head, k = probe_steps(t, E, D, patches(r["window"], stride))
        steps = [step("subtract_channel_mean"),
                 step("select_channels", dict(indices=np.asarray(P300_INDEX, dtype=np.int64))),
                 step("channel_scale", dict(weight=t.take("chan_scale", (1, c, 1)).reshape(c))),
                 encoder_step(enc, stride)] + head
        return steps, k, "softmax"
    if name == "sleepedf":
        if "linear_probe2.weight" not in t.state:
            raise Fail("the checkpoint has no 'linear_probe2.weight'")
        k = t.state["linear_probe2.weight"].shape[0]
        steps = [step("subtract_channel_mean"), step("interpolate_nearest", length=int(r["interpolate"])),
                 chan_conv_1d(t, len(enc), n_in), encoder_step(enc, stride),
                 max_norm_linear(t, "linear_probe1.", (SLEEP_WIDTH, E * D), 1.0),
                 sleep_decoder(t, SLEEP_WIDTH),
                 max_norm_linear(t, "linear_probe2.", (k, SLEEP_WIDTH), 0.25)]
        return steps, k, "softmax"
    # tuab / tuev: EEGPTClassifier(use_chan_conv=True), the chan_conv Sequential on x[:, :, None]
    kernel, padding = (15, "valid") if name == "tuab" else (55, "same")
    w0 = renorm(t.take("chan_conv.0.weight", (TUH_ENC, n_in, 1, 1)), 1.0)  # Conv2dWithConstraint, max_norm 1
    steps = [step("channel_mix", dict(weight=w0[:, :, 0, 0], bias=t.take("chan_conv.0.bias", (TUH_ENC,))), max_norm=1.0),
             batch_norm(t, "chan_conv.1.", TUH_ENC), step("gelu"),
             step("depthwise_conv", dict(weight=t.take("chan_conv.3.weight", (TUH_ENC, 1, 1, kernel)).reshape(TUH_ENC, kernel),
                                         bias=t.take("chan_conv.3.bias", (TUH_ENC,))), padding=padding),
             batch_norm(t, "chan_conv.4.", TUH_ENC)]
    if name == "tuab":
        steps.append(step("gelu"))
    steps.append(encoder_step(enc, stride))
    samples = r["window"] - kernel + 1 if padding == "valid" else r["window"]
    n = patches(samples, stride)
    if name == "tuab" and t.has("norm.weight"):  # use_mean_pooling=False (--use_cls): LayerNorm(D) per token
        steps.append(step("layer_norm", dict(weight=t.take("norm.weight", (D,)), bias=t.take("norm.bias", (D,))),
                          eps=1e-5))
    if "head.1.weight" not in t.state:
        raise Fail("the checkpoint has no 'head.1.weight'")
    k = t.state["head.1.weight"].shape[0]
    steps += [step("flatten"), max_norm_linear(t, "head.1.", (k, n * E * D), 1.0)]
    return steps, k, "sigmoid" if k == 1 else "softmax"


# ---------------------------------------------------------------- writer
def write_tensor(group, name, values):
    """One chunk with HDF5's Fletcher32 checksum (verified by the loader); float32 unless integer."""
    a = np.asarray(values)
    arr = np.ascontiguousarray(a, dtype=np.int64 if a.dtype.kind in "iu" else np.float32)
    if arr.dtype == np.float32 and not np.isfinite(arr).all():
        raise Fail("tensor '%s' is not finite in float32" % name)
    group.create_dataset(name, data=arr, chunks=arr.shape if arr.size else None, fletcher32=bool(arr.size),
                         track_times=False)


def check_class_names(names, output):
    """The engine's rule (head.cpp): softmax K >= 2 names, one per logit; sigmoid exactly 2; none
    empty, none repeated."""
    if output == "softmax" and len(names) < 2:
        raise Fail("%d class name%s for a softmax head: it needs at least 2 (one per output)"
                   % (len(names), "" if len(names) == 1 else "s"))
    if output == "sigmoid" and len(names) != 2:
        raise Fail("%d class names for one sigmoid logit: give 2 (the class for p < 0.5, then p >= 0.5)" % len(names))
    if len(names) > MAX_CLASSES:
        raise Fail("%d class names: the engine reads at most %d" % (len(names), MAX_CLASSES))
    for i, n in enumerate(names):
        if not n.strip():
            raise Fail("class name %d of %d is empty" % (i + 1, len(names)))
    seen = set()
    for n in names:
        if n in seen:
            raise Fail("class name '%s' is listed twice" % n)
        seen.add(n)


def write_head(path, attrs, steps, preparation=None):
    """attrs: root attributes (without format, format_version, n_steps; class_names becomes the
    dataset /class_names); steps: list of step()s; preparation: the /preparation group's
    attributes, or None for none."""
    if sum(s["op"] == "encoder" for s in steps) != 1:
        raise Fail("internal: exactly one encoder step")
    attrs = dict(attrs)
    classes = attrs.pop("class_names")
    check_class_names(classes, attrs["output"])
    tmp = path + ".partial-%d" % os.getpid()
    try:
        with h5py.File(tmp, "w") as f:
            f.attrs["format"] = "eegpt-head"
            f.attrs["format_version"] = np.int64(FORMAT_VERSION)
            # a dataset, not an attribute: an object header holds at most 64 KiB
            f.create_dataset("class_names", data=np.array(classes, dtype=object), dtype=h5py.string_dtype(),
                             track_times=False)
            for k, v in attrs.items():
                if isinstance(v, (list, tuple)):
                    f.attrs.create(k, data=np.array([str(x) for x in v], dtype=object), dtype=h5py.string_dtype())
                elif isinstance(v, bool) or isinstance(v, (int, np.integer)):
                    f.attrs[k] = np.int64(v)
                elif isinstance(v, float):
                    f.attrs[k] = np.float64(v)
                else:
                    f.attrs[k] = str(v)
            f.attrs["n_steps"] = np.int64(len(steps))
            if preparation is not None:
                pg = f.create_group("preparation")
                for k, v in preparation.items():
                    if isinstance(v, (list, tuple)):
                        pg.attrs.create(k, data=np.array([str(x) for x in v], dtype=object), dtype=h5py.string_dtype())
                    elif isinstance(v, float):
                        pg.attrs[k] = np.float64(v)
                    else:
                        pg.attrs[k] = str(v)
            g = f.create_group("steps")
            for i, s in enumerate(steps):
                sg = g.create_group(str(i))
                sg.attrs["op"] = s["op"]
                for k, v in s["attrs"].items():
                    if isinstance(v, (list, tuple)):
                        sg.attrs.create(k, data=np.array([str(x) for x in v], dtype=object), dtype=h5py.string_dtype())
                    elif isinstance(v, str):
                        sg.attrs[k] = v
                    elif isinstance(v, float):
                        sg.attrs[k] = np.float64(v)
                    else:
                        sg.attrs[k] = np.int64(v)
                for k, v in s["tensors"].items():
                    write_tensor(sg, k, v)
                for gname, tensors in s["groups"].items():
                    sub = sg.require_group(gname)
                    for k, v in tensors.items():
                        write_tensor(sub, k, v)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def sha256_of(path):
    import convert_ckpt
    return convert_ckpt.sha256_file(path)


def root_attrs(recipe, classes, output, input_labels, rate, window, unit, stride_s, source, sha):
    return dict(recipe=recipe, class_names=list(classes), output=output, input_labels=list(input_labels),
                sample_rate_hz=float(rate), window_samples=int(window), input_unit_mv=float(unit),
                stride_s=float(stride_s), max_norm_applied=1, source=source, source_sha256=sha,
                converter_version=CONVERTER_VERSION)


def parse_classes(given):
    """--classes as a list of names (None when not given). `--classes ''` or `a,,b` is a mistake,
    not a request for the default names or for fewer classes: refused."""
    if given is None:
        return None
    names = [s.strip() for s in given.split(",")]
    for i, n in enumerate(names):
        if not n:
            raise Fail("--classes %r: class name %d of %d is empty" % (given, i + 1, len(names)))
    return names


def class_names(given, k, output, default):
    need = 2 if output == "sigmoid" else k
    names = parse_classes(given)
    if names is None:
        names = list(default) if default is not None and len(default) == need else ["class_%d" % c for c in range(need)]
    if output == "softmax" and len(names) != k:
        raise Fail("%d class names for %d outputs" % (len(names), k))
    return names  # the rest of the engine's rule: check_class_names


def labels_list(spec):
    return [s.strip() for s in spec.split(",") if s.strip()]


def channel_list(spec):
    if spec == "standard19":
        return list(STANDARD19)
    names = [normalize_channel(s) for s in labels_list(spec)]
    if not names:
        raise Fail("empty channel list")
    for n in names:
        if n not in CHANNEL_INDEX:
            raise Fail("channel %r is not in the 62-name dictionary" % n)
    return names


def from_recipe(args):
    r = RECIPES[args.recipe]
    state = load_state(args.checkpoint, args.prefix)
    E, D = encoder_sizes(state)
    inputs = labels_list(args.input_channels) if args.input_channels else list(r["inputs"])
    if len(inputs) != len(r["inputs"]):
        raise Fail("--input-channels gives %d labels, the %s model takes %d" % (len(inputs), args.recipe, len(r["inputs"])))
    t = Tensors(state)
    steps, k, output = recipe_steps(args.recipe, t, E, D, len(inputs))
    # tuev's forward skips self.norm (commented out in EEGPT_mcae_finetune_change_tuev.py)
    t.finish(Tensors.IGNORED + (("norm.",) if args.recipe == "tuev" else ()))
    classes = class_names(args.classes, k, output, r["classes"])
    unit = parse_unit(args.input_unit) if args.input_unit else r["unit"]
    if args.no_preparation and not r.get("prepared"):
        raise Fail("--no-preparation: the %s recipe carries no data preparation (tuab and tuev do)" % args.recipe)
    preparation = None
    if r.get("prepared") and not args.no_preparation:
        preparation = dict(name=args.recipe, channels=list(inputs), **TUH_PREPARATION,
                           sample_rate_hz=float(r["rate"]), unit_mv=float(unit))
    write_head(args.output, root_attrs(args.recipe, classes, output, inputs, r["rate"], r["window"], unit,
                                          r["stride_s"], os.path.basename(args.checkpoint), sha256_of(args.checkpoint)),
                  steps, preparation)


def stride_for(n, what):
    for stride in (64, 32):
        if patches(1024, stride) == n:
            return stride
    raise Fail("%s implies %d time patches per 4 s window: neither 16 (patch stride 64) nor 31 (stride 32)" % (what, n))


def legacy_attrs(args, recipe, classes, inputs, source, sha):
    unit = parse_unit(args.input_unit) if args.input_unit else 1.0
    return root_attrs(recipe, classes, "softmax", inputs, 256.0, 1024, unit, 4.0, source, sha)


def from_checkpoint(args):
    """The linear-probe layout without a recipe (max norms 1, 1, 0.25 of the reference scripts), or
    a braindecode model."""
    if not args.input_channels:
        raise Fail("--input-channels is required without --recipe")
    state = load_state(args.checkpoint, args.prefix)
    input_channels = channel_list(args.input_channels)
    encoder_channels = channel_list(args.encoder_channels) if args.encoder_channels else list(input_channels)
    if any(k.startswith("final_layer.") for k in state):
        return from_braindecode(args, state, input_channels, encoder_channels)
    t = Tensors(state)
    steps = []
    if "chan_conv.weight" in state:
        w = state["chan_conv.weight"]
        if w.ndim != 3 or w.shape[2] != 1:
            raise Fail("chan_conv must be a 1x1 convolution, got %s" % (tuple(w.shape),))
        if w.shape[:2] != (len(encoder_channels), len(input_channels)):
            raise Fail("chan_conv.weight is %s, but --encoder-channels has %d and --input-channels %d names"
                       % (tuple(w.shape), len(encoder_channels), len(input_channels)))
        steps.append(chan_conv_1d(t, len(encoder_channels), len(input_channels), 1.0))
    elif encoder_channels != input_channels:
        raise Fail("no chan_conv in the checkpoint, so --encoder-channels must equal --input-channels")
    for name, ndim in (("linear_probe1.weight", 2), ("linear_probe2.weight", 2)):
        if name not in state or state[name].ndim != ndim:
            raise Fail("the checkpoint has no '%s' of %d dimensions" % (name, ndim))
    hidden, features = state["linear_probe1.weight"].shape
    k, flat = state["linear_probe2.weight"].shape
    if flat % hidden:
        raise Fail("linear_probe2 takes %d inputs, not a multiple of linear_probe1's %d outputs" % (flat, hidden))
    stride = stride_for(flat // hidden, "linear_probe2 (%d inputs of %d per patch)" % (flat, hidden))
    steps.append(encoder_step(encoder_channels, stride))
    steps += [max_norm_linear(t, "linear_probe1.", (hidden, features), 1.0), step("flatten"),
              max_norm_linear(t, "linear_probe2.", (k, flat), 0.25)]
    t.finish()
    classes = class_names(args.classes, k, "softmax", None)
    write_head(args.output, legacy_attrs(args, "custom", classes, input_channels,
                                            os.path.basename(args.checkpoint), sha256_of(args.checkpoint)), steps)


def braindecode_weight(state, name, ndim, max_norm):
    """A braindecode Linear/Conv1d weight: plain (max_norm None), or under a max-norm parametrization
    (renormalised as MaxNormParametrize does at every forward)."""
    prefix = name[:-len("weight")]
    original = prefix + "parametrizations.weight.original"
    key = original if original in state else name
    if key not in state:
        raise Fail("the model has no '%s'" % name)
    w = np.asarray(state[key], dtype=np.float64)
    if w.ndim != ndim:
        raise Fail("'%s' has shape %s, expected %d dimensions" % (key, tuple(w.shape), ndim))
    return (renorm(w, max_norm), float(max_norm)) if key == original else (w, None)


def bias(state, name, n):
    if name not in state:
        raise Fail("the model has no '%s'" % name)
    b = np.asarray(state[name], dtype=np.float64)
    if b.shape != (n,):
        raise Fail("'%s' has shape %s, expected (%d,)" % (name, tuple(b.shape), n))
    return b


def linear_step(w, b, max_norm):
    return step("linear", dict(weight=w, bias=b), **({} if max_norm is None else dict(max_norm=max_norm)))


def from_braindecode(args, state, input_channels, encoder_channels):
    """A braindecode EEGPT: optional `chan_proj` (1x1 channel projection to the 19 channels of its
    `chans_id`), then `final_layer`: braindecode 1.8's default probe (probe1 per time patch, probe2
    on the flattened patches, max-norm constrained) or one Linear on the flattened features."""
    chan_norm, probe1_norm, probe2_norm = (float(v) for v in args.braindecode_max_norms.split(","))
    steps = []
    if any(k.startswith("chan_proj.") for k in state):
        conv = "chan_proj.proj.parametrizations.weight.original" in state and \
            state["chan_proj.proj.parametrizations.weight.original"].ndim == 3
        conv = conv or ("chan_proj.proj.weight" in state and state["chan_proj.proj.weight"].ndim == 3)
        w, mn = braindecode_weight(state, "chan_proj.proj.weight", 3 if conv else 2, chan_norm)
        w = w[:, :, 0] if w.ndim == 3 else w
        if "chans_id" not in state:
            raise Fail("a braindecode chan_proj without the chans_id buffer")
        ids = np.asarray(state["chans_id"]).reshape(-1)  # braindecode 1.8 stores it as (1, 19)
        encoder_channels = [CHANNEL_NAMES[int(i)] for i in ids]
        if w.shape != (len(encoder_channels), len(input_channels)):
            raise Fail("chan_proj maps %d channels to %d, but --input-channels has %d names"
                       % (w.shape[1], w.shape[0], len(input_channels)))
        b = state.get("chan_proj.proj.bias", np.zeros(w.shape[0]))
        steps.append(step("channel_mix", dict(weight=w, bias=np.asarray(b, dtype=np.float64)),
                          **({} if mn is None else dict(max_norm=mn))))
    elif encoder_channels != input_channels:
        raise Fail("no chan_proj in the model, so --encoder-channels must equal --input-channels")
    if "final_layer.weight" in state:
        w = np.asarray(state["final_layer.weight"], dtype=np.float64)
        if w.ndim != 2:
            raise Fail("'final_layer.weight' has shape %s, expected 2 dimensions" % (tuple(w.shape),))
        E, D = encoder_sizes(state)
        if w.shape[1] % (E * D):
            raise Fail("final_layer.weight takes %d inputs, not a multiple of E*D = %d" % (w.shape[1], E * D))
        n = w.shape[1] // (E * D)
        steps += [encoder_step(encoder_channels, stride_for(n, "final_layer")), step("flatten"),
                  linear_step(w, bias(state, "final_layer.bias", w.shape[0]), None)]
        k = w.shape[0]
    else:
        w1, mn1 = braindecode_weight(state, "final_layer.probe1.weight", 2, probe1_norm)
        w2, mn2 = braindecode_weight(state, "final_layer.probe2.weight", 2, probe2_norm)
        if w2.shape[1] % w1.shape[0]:
            raise Fail("final_layer.probe2 takes %d inputs, not a multiple of probe1's %d outputs" % (w2.shape[1], w1.shape[0]))
        steps += [encoder_step(encoder_channels, stride_for(w2.shape[1] // w1.shape[0], "final_layer.probe2")),
                  linear_step(w1, bias(state, "final_layer.probe1.bias", w1.shape[0]), mn1), step("flatten"),
                  linear_step(w2, bias(state, "final_layer.probe2.bias", w2.shape[0]), mn2)]
        k = w2.shape[0]
    classes = class_names(args.classes, k, "softmax", None)
    write_head(args.output, legacy_attrs(args, "braindecode", classes, input_channels,
                                            os.path.basename(args.checkpoint), sha256_of(args.checkpoint)), steps)


def random_head(args):
    if not args.input_channels:
        raise Fail("--input-channels is required with --random")
    rng = np.random.default_rng(args.seed)
    input_channels = channel_list(args.input_channels)
    encoder_channels = channel_list(args.encoder_channels) if args.encoder_channels else list(input_channels)
    classes = parse_classes(args.classes) or ["class_0", "class_1"]
    steps = []
    if encoder_channels != input_channels:
        steps.append(step("channel_mix", dict(
            weight=rng.normal(0, 1 / np.sqrt(len(input_channels)), (len(encoder_channels), len(input_channels))),
            bias=rng.normal(0, 0.01, len(encoder_channels)))))
    features, n = args.embed_num * args.embed_dim, patches(1024, 64)
    steps += [encoder_step(encoder_channels, 64),
              step("linear", dict(weight=rng.normal(0, 1 / np.sqrt(features), (args.hidden, features)),
                                  bias=rng.normal(0, 0.01, args.hidden))),
              step("flatten"),
              step("linear", dict(weight=rng.normal(0, 1 / np.sqrt(n * args.hidden), (len(classes), n * args.hidden)),
                                  bias=rng.normal(0, 0.01, len(classes))))]
    write_head(args.output, legacy_attrs(args, "random", classes, input_channels,
                                            "random-init (seed %d)" % args.seed, ""), steps)


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # the one-line error contract for usage errors too
        raise Fail(message)


def main(argv=None):
    p = _Parser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("checkpoint", nargs="?", help="fine-tuned checkpoint (.ckpt, .pth or state_dict)")
    p.add_argument("output", help="head file to write (.h5)")
    p.add_argument("--recipe", choices=sorted(RECIPES), help="one of the seven official downstream models")
    p.add_argument("--random", action="store_true", help="write a random head instead (tests)")
    p.add_argument("--no-preparation", action="store_true",
                   help="tuab, tuev: leave out the data preparation (MNE FIR 0.1-75 Hz, notch 50 Hz, FFT resampling to "
                        "200 Hz) that `eegpt classify` would apply by default")
    p.add_argument("--input-channels", help="the model's input labels in order (a recipe has its own)")
    p.add_argument("--encoder-channels", help="no recipe: channels the encoder sees (after chan_conv); default: the inputs")
    p.add_argument("--classes", help="class names, comma-separated (sigmoid: 2, for p < 0.5 then p >= 0.5)")
    p.add_argument("--input-unit", help="unit of the model's input: uV, mV, uV/100 or a number of mV (recipe default)")
    p.add_argument("--prefix", default="", help="state_dict prefix of the model's modules (e.g. 'model.')")
    p.add_argument("--embed-num", type=int, default=4, help="--random: summary tokens of the encoder")
    p.add_argument("--embed-dim", type=int, default=512, help="--random: embedding width of the encoder")
    p.add_argument("--hidden", type=int, default=16, help="--random: outputs of the per-patch layer")
    p.add_argument("--seed", type=int, default=0, help="--random: seed")
    p.add_argument("--braindecode-max-norms", default="1.0,1.0,0.25",
                   help="braindecode EEGPT: max norms of chan_proj, probe1, probe2 (its defaults)")
    try:
        args = p.parse_args(argv)
        if not os.path.isdir(os.path.dirname(os.path.abspath(args.output))):
            raise Fail("output directory does not exist: %s" % os.path.dirname(os.path.abspath(args.output)))
        if args.no_preparation and not args.recipe:
            raise Fail("--no-preparation goes with --recipe tuab or tuev")
        if args.random:
            if args.checkpoint is not None or args.recipe:
                raise Fail("--random takes no checkpoint and no --recipe")
            random_head(args)
        elif args.checkpoint is None:
            raise Fail("give a checkpoint, or --random")
        elif args.recipe:
            if args.encoder_channels:
                raise Fail("--encoder-channels: a recipe fixes the encoder's channels")
            from_recipe(args)
        else:
            from_checkpoint(args)
    except Fail as e:
        print("convert_head: error: %s" % str(e).replace("\n", " "), file=sys.stderr)
        return 1
    except Exception as e:  # noqa: BLE001 - contract: never a traceback
        print("convert_head: error: %s: %s" % (type(e).__name__, str(e).replace("\n", " ")), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
