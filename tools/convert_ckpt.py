#!/usr/bin/env python3
"""Convert an EEGPT checkpoint to the engine's HDF5 weight file (docs/weight-format.md).

  convert_ckpt.py CKPT OUT.h5 [--prefix target_encoder.] [--num-heads H]
  convert_ckpt.py --random-init CONFIGNAME --seed S [--normal] OUT.h5
  convert_ckpt.py BRAINDECODE.pt OUT.h5 --config config.json | --patch-stride 64

A braindecode `EEGPT` (its state_dict has the buffer `chans_id` or a `final_layer`) keeps the
encoder under target_encoder. with the released names, but its patch stride (braindecode's default
is 32: overlapping patches, 31 per 4 s window) is in its configuration, not in the tensors. So the
stride must be stated, from the config.json that braindecode's hub mixin writes or with
--patch-stride; it must be 1..patch_size, and one below the patch size is written as format
version 2 (docs/weight-format.md). Any stride in that range suits any window: the engine computes the
released Conv2d patch embedding (kernel 1 x patch_size, stride 1 x patch_stride), floor((T - 64) /
stride) + 1 patches, the samples past the last whole patch ignored (a 4 s window of 1024 samples at
stride 48 has 20 patches, its last 16 samples unused).

CKPT is a PyTorch Lightning checkpoint (state dict under `state_dict`), a TUAB/TUEV fine-tuning
checkpoint ({"model": ...}, or DeepSpeed's {"module": ...}: their encoder is fine-tuned, so convert
it from there, not from the pretrained file) or a plain state_dict. The linear-probe scripts for
KaggleERN and PhysioP300 use patch stride 32: convert their encoder with --patch-stride 32.
--random-init writes the engine's untrained stand-in (docs/weight-format.md's definition: weights
uniform, sd 0.02). With --normal its weights (the matrices, the patch embedding, the channel
embedding, the summary tokens) are drawn normal instead, sd 0.02 as the official code initialises
them (its truncation at +-2 never bites at that sd), from numpy's PCG64 seeded by the seed and the
tensor's name; norms and biases as without it. Trained weights stay near normal or heavier-tailed,
and int8's speed and error depend on that (docs/cpu.md): the stand-in to bench int8 on.
Errors: one line "convert_ckpt: error: ..." on stderr, exit code 1, and no output file.
"""
import argparse
import hashlib
import json
import os
import pickle
import sys
from collections import OrderedDict

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import eegpt_format as fmt  # noqa: E402

CONVERTER_VERSION = "1.2"  # 1.1: tensors carry Fletcher32 checksums; 1.2: patch_stride (format 2)


class Fail(Exception):
    pass


class _Stub(dict):
    """Stands in for classes the checkpoint pickled but this environment lacks (Lightning's
    AttributeDict, callbacks' state, ...): we only need the tensors. A dict subclass so that
    pickled dict subclasses (SETITEMS) load too; swallows any constructor arguments."""
    def __init__(self, *a, **k):
        pass

    def __setstate__(self, state):
        self.__dict__["_state"] = state


class _LenientUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        try:
            return super().find_class(module, name)
        except (ImportError, AttributeError):
            return type(name, (_Stub,), {"__module__": module})


def load_checkpoint(path):
    import torch
    # weights_only=False: Lightning checkpoints pickle more than tensors (the user trusts the file).
    try:
        return torch.load(path, map_location="cpu", weights_only=False)
    except (ImportError, AttributeError):
        pass
    # Lightning (or whatever else was pickled) is not installed: retry with unknown classes stubbed.
    # torch 1.13 ignores its pickle_module argument (resets it to `pickle`), so swap the class there.
    saved = pickle.Unpickler
    pickle.Unpickler = _LenientUnpickler
    try:
        return torch.load(path, map_location="cpu", weights_only=False)
    finally:
        pickle.Unpickler = saved


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


# Where checkpoints keep their state_dict: PyTorch Lightning (the pretraining, linear-probe and sleep
# scripts) under "state_dict"; the TUAB/TUEV fine-tuning script (run_class_finetuning_EEGPT_change*.py,
# --model_key model|module|state_dict) under "model", or "module" when saved by DeepSpeed.
STATE_DICT_KEYS = ("state_dict", "model", "module")


def get_state_dict(ckpt):
    if isinstance(ckpt, dict):
        for key in STATE_DICT_KEYS:
            if isinstance(ckpt.get(key), dict) and ckpt[key]:
                return ckpt[key]
    if isinstance(ckpt, dict) and ckpt and all(isinstance(k, str) for k in ckpt) and \
            any(hasattr(v, "shape") for v in ckpt.values()):
        return ckpt
    raise Fail("checkpoint holds no state_dict (neither a 'state_dict', 'model' or 'module' entry nor a plain "
               "state_dict)")


def existing_prefixes(keys):
    return sorted({k.split(".", 1)[0] + "." for k in keys if "." in k})


def select_prefix(sd, prefix):
    """Keys under `prefix`, prefix stripped. '' keeps the whole dict (an already-bare encoder)."""
    out = OrderedDict((k[len(prefix):], v) for k, v in sd.items() if k.startswith(prefix))
    if not out:
        pre = existing_prefixes(sd.keys())
        raise Fail("no key starts with prefix '%s'; prefixes present: %s%s" % (
            prefix, ", ".join(pre) if pre else "(none)",
            " (use --prefix '' for a bare encoder state_dict)" if "summary_token" in sd else ""))
    return out


def to_float32(sd):
    out = OrderedDict()
    for k, v in sd.items():
        if hasattr(v, "detach"):
            if not v.is_floating_point():
                raise Fail("tensor '%s' has non-floating dtype %s" % (k, v.dtype))
            v = v.detach().cpu().float().numpy()
        a = np.asarray(v)
        if a.dtype.kind != "f":
            raise Fail("tensor '%s' has non-floating dtype %s" % (k, a.dtype))
        # Checked after the cast: float64 values beyond float32 range become inf too.
        a = np.ascontiguousarray(a, dtype=np.float32)
        if not np.isfinite(a).all():
            raise Fail("tensor '%s' has %d non-finite values" % (k, int((~np.isfinite(a)).sum())))
        out[k] = a
    return out


def is_braindecode(sd):
    return "chans_id" in sd or any(k.startswith("final_layer.") for k in sd)


def read_model_config(config_path):
    """braindecode's config.json (model.get_config(), as its hub mixin writes it), or {}."""
    if not config_path:
        return {}
    try:
        with open(config_path) as f:
            stated = json.load(f)
    except (OSError, ValueError) as e:
        raise Fail("cannot read --config %s: %s" % (config_path, e))
    if not isinstance(stated, dict):
        raise Fail("--config %s is not a JSON object" % config_path)
    if stated.get("patch_stride") is None:
        raise Fail("--config %s has no patch_stride" % config_path)
    module = stated.get("patch_module")
    if module is not None and not str(module).endswith("_PatchEmbed"):
        raise Fail("--config %s: patch_module %s is not computed by this engine (only the released "
                   "convolutional patch embedding, braindecode's _PatchEmbed)" % (config_path, module))
    return stated


def check_patch_stride(sd, config, model_config, config_path, patch_stride):
    """The braindecode rule of the module docstring; returns the stride when one is known."""
    stated = model_config.get("patch_stride")
    if model_config.get("patch_size", config["patch_size"]) != config["patch_size"]:
        raise Fail("--config %s says patch_size %s, the tensors %d" % (config_path, model_config["patch_size"],
                                                                       config["patch_size"]))
    if patch_stride is not None:
        if stated is not None and int(stated) != patch_stride:
            raise Fail("--patch-stride %d contradicts patch_stride %s in %s" % (patch_stride, stated, config_path))
        stated = patch_stride
    if stated is None:
        if is_braindecode(sd):
            raise Fail("a braindecode EEGPT state_dict does not record its patch_stride (braindecode's default "
                       "is 32): give --config config.json or --patch-stride")
        return None
    stride, patch = int(stated), config["patch_size"]
    if not 1 <= stride <= patch:
        raise Fail("patch_stride %d: must be 1..%d (the patch size)" % (stride, patch))
    return stride


def convert(ckpt_path, out_path, prefix="target_encoder.", num_heads=None, config_path=None, patch_stride=None):
    if not os.path.isfile(ckpt_path):
        raise Fail("checkpoint file not found: %s" % ckpt_path)
    try:
        ckpt = load_checkpoint(ckpt_path)
    except Exception as e:  # noqa: BLE001 - torch raises many kinds for a bad file
        raise Fail("cannot load checkpoint %s: %s" % (ckpt_path, e))
    whole = get_state_dict(ckpt)
    sd = select_prefix(whole, prefix)
    model_config = read_model_config(config_path)
    if num_heads is None and model_config.get("num_heads") is not None:
        num_heads = int(model_config["num_heads"])
    config = fmt.infer_config(sd, num_heads)
    stride = check_patch_stride(whole, config, model_config, config_path, patch_stride)
    if stride is not None:
        config["patch_stride"] = stride
    fmt.validate_state_dict(sd, config)
    sd = to_float32(sd)
    prov = dict(trained=1, source_checkpoint=os.path.basename(ckpt_path),
                source_sha256=sha256_file(ckpt_path), source_prefix=prefix,
                converter_version=CONVERTER_VERSION)
    fmt.write_weights(out_path, sd, config, prov)
    return config


def random_init(name, seed, out_path, normal=False):
    config = fmt.named_config(name)
    prov = dict(trained=0, random_seed=seed, source_checkpoint=("random-init-normal:" if normal else "random-init:") + name,
                source_sha256="", source_prefix="", converter_version=CONVERTER_VERSION)
    sd = fmt.random_init(config, seed)
    if normal:
        for key, value in sd.items():
            if fmt.init_kind(key) == "weight":
                rng = np.random.default_rng([int(seed) & 0xFFFFFFFFFFFFFFFF, fmt.fnv1a64(key)])
                sd[key] = (rng.standard_normal(value.shape) * 0.02).astype(np.float32)
    fmt.write_weights(out_path, sd, config, prov)
    return config


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # keep the one-line error contract for usage errors too
        raise Fail(message)


def main(argv=None):
    ap = _Parser(description="Convert an EEGPT checkpoint to the engine's HDF5 weight file.")
    ap.add_argument("paths", nargs="+", metavar="CKPT OUT.h5")
    ap.add_argument("--prefix", default="target_encoder.")
    ap.add_argument("--num-heads", type=int)
    ap.add_argument("--random-init", metavar="CONFIGNAME")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--normal", action="store_true", help="with --random-init: weights normal, sd 0.02 (above)")
    ap.add_argument("--config", metavar="CONFIG.json", help="braindecode's config.json (its patch_stride)")
    ap.add_argument("--patch-stride", type=int, help="the model's patch stride (braindecode EEGPT)")
    try:
        a = ap.parse_args(argv)
        if a.normal and not a.random_init:
            raise Fail("--normal goes with --random-init")
        if len(a.paths) != (1 if a.random_init else 2):
            raise Fail("--random-init takes one path, OUT.h5" if a.random_init else "expected CKPT OUT.h5")
        out = a.paths[-1]
        if not os.path.isdir(os.path.dirname(os.path.abspath(out))):
            raise Fail("output directory does not exist: %s" % os.path.dirname(os.path.abspath(out)))
        if a.random_init:
            config = random_init(a.random_init, a.seed, out, a.normal)
        else:
            config = convert(a.paths[0], out, a.prefix, a.num_heads, a.config, a.patch_stride)
    except (Fail, ValueError, OSError) as e:
        print("convert_ckpt: error: %s" % str(e).replace("\n", " "), file=sys.stderr)
        return 1
    except Exception as e:  # noqa: BLE001 - contract: never a traceback
        print("convert_ckpt: error: %s: %s" % (type(e).__name__, str(e).replace("\n", " ")),
              file=sys.stderr)
        return 1
    print("wrote %s (%s)" % (out, ", ".join("%s=%s" % kv for kv in config.items())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
