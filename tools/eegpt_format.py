#!/usr/bin/env python3
"""EEGPT encoder weight format (docs/weight-format.md): channel dictionary, named configurations,
canonical tensor list, deterministic random initialisation, HDF5 writer/reader, config inference.

Everything else in tools/ and test/python/ imports this module, so that the Python side has one
definition of the format; the C++ loader implements the same page independently.
"""
import os
import re
import tempfile
from collections import OrderedDict

import h5py
import numpy as np

FORMAT_NAME = "eegpt-encoder"
FORMAT_VERSION = 1
# Version 2 records patch_stride, written only for overlapping patches (stride < patch_size), so that
# an engine that cannot compute them refuses the file instead of computing stride-64 features.
FORMAT_VERSION_STRIDED = 2

# Index = channel id (docs/architecture.md); chan_embed.weight has one row per name.
CHANNEL_NAMES = (
    "FP1 FPZ FP2 AF7 AF3 AF4 AF8 F7 F5 F3 F1 FZ F2 F4 F6 F8 FT7 FC5 FC3 FC1 FCZ FC2 FC4 FC6 FT8 "
    "T7 C5 C3 C1 CZ C2 C4 C6 T8 TP7 CP5 CP3 CP1 CPZ CP2 CP4 CP6 TP8 P7 P5 P3 P1 PZ P2 P4 P6 P8 "
    "PO7 PO5 PO3 POZ PO4 PO6 PO8 O1 OZ O2"
).split()
assert len(CHANNEL_NAMES) == 62
CHANNEL_INDEX = {name: i for i, name in enumerate(CHANNEL_NAMES)}

STANDARD_19 = "FP1 FP2 F7 F3 FZ F4 F8 T7 C3 CZ C4 T8 P7 P3 PZ P4 P8 O1 O2".split()

# (embed_dim, embed_num, depth, num_heads), from the paper's code.
NAMED_CONFIGS = OrderedDict(
    tiny1=(64, 1, 2, 4),
    tiny2=(64, 4, 2, 4),
    tiny3=(64, 4, 8, 4),
    little=(128, 4, 8, 4),
    base1=(256, 1, 6, 4),
    base2=(256, 4, 8, 4),
    base3=(512, 1, 6, 8),
    large=(512, 4, 8, 8),
)

CONFIG_KEYS = ("embed_dim", "depth", "num_heads", "embed_num", "patch_size", "patch_stride", "mlp_hidden",
               "layernorm_eps", "qkv_bias")


def normalize_channel(label):
    """Reference-code rule: upper-case, strip trailing dots ("Fc5." -> "FC5")."""
    return str(label).strip().upper().rstrip(".")


def channel_ids(labels):
    """Dictionary ids for labels; ValueError naming the first label that is not in the dictionary."""
    ids = []
    for lab in labels:
        name = normalize_channel(lab)
        if name not in CHANNEL_INDEX:
            raise ValueError("unknown channel name %r (not in the 62-name dictionary)" % (lab,))
        ids.append(CHANNEL_INDEX[name])
    return np.asarray(ids, dtype=np.int32)


def named_config(name):
    if name not in NAMED_CONFIGS:
        raise ValueError("unknown configuration %r (known: %s)" % (name, ", ".join(NAMED_CONFIGS)))
    d, e, depth, heads = NAMED_CONFIGS[name]
    return make_config(d, e, depth, heads)


def make_config(embed_dim, embed_num, depth, num_heads, patch_size=64, mlp_hidden=None,
                layernorm_eps=1e-6, qkv_bias=1, patch_stride=None):
    stride = int(patch_size if patch_stride is None else patch_stride)
    if not 1 <= stride <= int(patch_size):
        raise ValueError("patch_stride must be 1..%d (patch_size), got %d" % (int(patch_size), stride))
    return OrderedDict(
        embed_dim=int(embed_dim), depth=int(depth), num_heads=int(num_heads),
        embed_num=int(embed_num), patch_size=int(patch_size), patch_stride=stride,
        mlp_hidden=int(4 * embed_dim if mlp_hidden is None else mlp_hidden),
        layernorm_eps=float(layernorm_eps), qkv_bias=int(bool(qkv_bias)))


def tensor_specs(config):
    """[(name, shape)] in the canonical order of docs/weight-format.md."""
    D, E, P, H = config["embed_dim"], config["embed_num"], config["patch_size"], config["mlp_hidden"]
    specs = [("summary_token", (1, E, D)),
             ("patch_embed.proj.weight", (D, 1, 1, P)),
             ("patch_embed.proj.bias", (D,)),
             ("chan_embed.weight", (len(CHANNEL_NAMES), D))]
    for i in range(config["depth"]):
        b = "blocks.%d." % i
        specs += [(b + "norm1.weight", (D,)), (b + "norm1.bias", (D,)),
                  (b + "attn.qkv.weight", (3 * D, D))]
        if config["qkv_bias"]:
            specs.append((b + "attn.qkv.bias", (3 * D,)))
        specs += [(b + "attn.proj.weight", (D, D)), (b + "attn.proj.bias", (D,)),
                  (b + "norm2.weight", (D,)), (b + "norm2.bias", (D,)),
                  (b + "mlp.fc1.weight", (H, D)), (b + "mlp.fc1.bias", (H,)),
                  (b + "mlp.fc2.weight", (D, H)), (b + "mlp.fc2.bias", (D,))]
    specs += [("norm.weight", (D,)), ("norm.bias", (D,))]
    return specs


# ---------------------------------------------------------------- deterministic random init
_M64 = (1 << 64) - 1
_GOLDEN = 0x9E3779B97F4A7C15


def _mix(z):
    """splitmix64 finaliser on a numpy uint64 array (wraps mod 2^64 like the C++ side)."""
    z = z ^ (z >> np.uint64(30))
    z = z * np.uint64(0xBF58476D1CE4E5B9)
    z = z ^ (z >> np.uint64(27))
    z = z * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def fnv1a64(name):
    h = 0xCBF29CE484222325
    for byte in name.encode("utf-8"):
        h = ((h ^ byte) * 0x100000001B3) & _M64
    return h


def init_kind(name):
    """Which of the three docs/weight-format.md scalings a tensor gets."""
    if "norm" in name and name.endswith(".weight"):
        return "norm_weight"
    if name.endswith(".bias"):
        return "bias"
    return "weight"


def random_values(name, shape, seed):
    """Float32 values of one tensor, docs/weight-format.md's definition, vectorised over the C-order index."""
    n = int(np.prod(shape, dtype=np.int64))
    with np.errstate(over="ignore"):
        key = _mix(np.array([(int(seed) & _M64) ^ fnv1a64(name)], dtype=np.uint64))[0]
        i1 = np.arange(1, n + 1, dtype=np.uint64)
        u = _mix(key + i1 * np.uint64(_GOLDEN))
    # 24 high bits -> [0,1) exactly in float64, then [-1,1); the scale and cast follow docs/weight-format.md's
    # operation order (float64 multiply/add, then one rounding to float32).
    s = 2.0 * ((u >> np.uint64(40)).astype(np.float64) / 16777216.0) - 1.0
    kind = init_kind(name)
    if kind == "norm_weight":
        v = 1.0 + 0.1 * s
    elif kind == "bias":
        v = 0.02 * s
    else:
        v = 0.034641016151377546 * s
    return v.astype(np.float32).reshape(shape)


def random_init(config, seed):
    return OrderedDict((name, random_values(name, shape, seed)) for name, shape in tensor_specs(config))


# ---------------------------------------------------------------- validation / inference
def validate_state_dict(sd, config):
    """ValueError naming the first offending key: missing, unknown extra, or wrong shape."""
    specs = tensor_specs(config)
    expected = OrderedDict(specs)
    for name, _ in specs:
        if name not in sd:
            raise ValueError("missing tensor '%s'" % name)
    for name in sd:
        if name not in expected:
            raise ValueError("unexpected tensor '%s' (not part of the EEGPT encoder)" % name)
    for name, shape in specs:
        got = tuple(np.shape(sd[name]))
        if got != tuple(shape):
            raise ValueError("tensor '%s' has shape %s, the configuration needs %s"
                             % (name, got, tuple(shape)))
    D, heads = config["embed_dim"], config["num_heads"]
    if heads <= 0 or D % heads:
        raise ValueError("embed_dim %d is not divisible by num_heads %d" % (D, heads))


def _need(sd, key):
    if key not in sd:
        raise ValueError("missing tensor '%s' (needed to infer the configuration)" % key)
    return tuple(np.shape(sd[key]))


def infer_config(sd, num_heads=None):
    """Configuration from tensor shapes. Heads are invisible in shapes: explicit argument, else the
    named configuration with the same (D, E, depth), else an error asking for the argument."""
    D = _need(sd, "patch_embed.proj.bias")[0]
    st = _need(sd, "summary_token")
    if len(st) != 3:
        raise ValueError("tensor 'summary_token' has shape %s, expected (1, E, D)" % (st,))
    E = st[1]
    P = _need(sd, "patch_embed.proj.weight")[-1]
    idx = [int(m.group(1)) for m in (re.match(r"blocks\.(\d+)\.", k) for k in sd) if m]
    if not idx:
        raise ValueError("no 'blocks.N.*' tensors found: not an EEGPT encoder state_dict")
    depth = max(idx) + 1
    H = _need(sd, "blocks.0.mlp.fc1.weight")[0]
    qkv_bias = int("blocks.0.attn.qkv.bias" in sd)
    if num_heads is None:
        matches = [n for n, (d, e, dep, _) in NAMED_CONFIGS.items() if (d, e, dep) == (D, E, depth)]
        if not matches:
            raise ValueError("embed_dim=%d embed_num=%d depth=%d matches no named configuration; "
                             "give the number of heads explicitly (--num-heads)" % (D, E, depth))
        num_heads = NAMED_CONFIGS[matches[0]][3]
    return make_config(D, E, depth, num_heads, patch_size=P, mlp_hidden=H, qkv_bias=qkv_bias)


# ---------------------------------------------------------------- HDF5 I/O
def write_weights(path, state_dict, config, provenance):
    """Write docs/weight-format.md version 1 (version 2 with patch_stride for overlapping patches). provenance: trained, [random_seed], source_checkpoint,
    source_sha256, source_prefix, converter_version. Written to a temp file beside `path` and
    renamed, so a failure never leaves a partial file under the final name."""
    validate_state_dict(state_dict, config)
    path = os.fspath(path)
    d = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".h5", dir=d)
    os.close(fd)
    try:
        with h5py.File(tmp, "w") as f:
            a = f.attrs
            a["format"] = FORMAT_NAME  # str -> variable-length UTF-8 scalar
            strided = config["patch_stride"] != config["patch_size"]
            a["format_version"] = np.int64(FORMAT_VERSION_STRIDED if strided else FORMAT_VERSION)
            for k in ("embed_dim", "depth", "num_heads", "embed_num", "patch_size", "mlp_hidden"):
                a[k] = np.int64(config[k])
            if strided:
                a["patch_stride"] = np.int64(config["patch_stride"])
            a["layernorm_eps"] = np.float64(config["layernorm_eps"])
            a["qkv_bias"] = np.int64(config["qkv_bias"])
            a.create("channel_names", data=np.array(CHANNEL_NAMES, dtype=object),
                     dtype=h5py.string_dtype("utf-8"))
            trained = int(provenance["trained"])
            a["trained"] = np.int64(trained)
            if not trained:
                a["random_seed"] = np.int64(provenance["random_seed"])
            for k in ("source_checkpoint", "source_sha256", "source_prefix", "converter_version"):
                a[k] = str(provenance.get(k, ""))
            g = f.create_group("encoder")
            for name, _ in tensor_specs(config):
                arr = np.ascontiguousarray(state_dict[name], dtype=np.float32)
                # One chunk per tensor with HDF5's Fletcher32 checksum, which HDF5 verifies on
                # every read (a corrupted tensor is refused by name); no timestamps so that
                # regenerated fixtures are byte-stable.
                g.create_dataset(name, data=arr, track_times=False, chunks=arr.shape, fletcher32=True)
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; a weight file is meant to be shared
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _attr_str(v):
    return v.decode("utf-8") if isinstance(v, bytes) else str(v)


def read_attrs(path):
    """All root attributes, strings decoded."""
    out = OrderedDict()
    with h5py.File(path, "r") as f:
        for k, v in f.attrs.items():
            if isinstance(v, (bytes, str)):
                v = _attr_str(v)
            elif isinstance(v, np.ndarray) and v.dtype.kind in "OS":
                v = [_attr_str(x) for x in v]
            out[k] = v
    return out


def read_weights(path):
    """-> (config dict, OrderedDict name -> float32 array in canonical order)."""
    attrs = read_attrs(path)
    version = int(attrs.get("format_version", -1))
    if attrs.get("format") != FORMAT_NAME or version not in (FORMAT_VERSION, FORMAT_VERSION_STRIDED):
        raise ValueError("%s: not an %s version %d or %d file" % (path, FORMAT_NAME, FORMAT_VERSION,
                                                                   FORMAT_VERSION_STRIDED))
    if (version == FORMAT_VERSION_STRIDED) != ("patch_stride" in attrs):
        raise ValueError("%s: patch_stride is recorded exactly in format_version %d files" % (path, FORMAT_VERSION_STRIDED))
    config = make_config(attrs["embed_dim"], attrs["embed_num"], attrs["depth"], attrs["num_heads"],
                         patch_size=attrs["patch_size"], mlp_hidden=attrs["mlp_hidden"],
                         layernorm_eps=attrs["layernorm_eps"], qkv_bias=attrs["qkv_bias"],
                         patch_stride=attrs.get("patch_stride"))
    with h5py.File(path, "r") as f:
        g = f["encoder"]
        raw = {k: g[k][()] for k in g.keys()}
    validate_state_dict(raw, config)
    sd = OrderedDict((name, raw[name]) for name, _ in tensor_specs(config))
    return config, sd
