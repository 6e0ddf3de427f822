"""A pure-numpy float64 interpreter of head files (docs/weight-format.md, "Head files (downstream
models), format versions 3 and 2", and version 1 read as the step sequence it stands for), with its own
numpy EEGPT encoder: the tests' check of tools/convert_head.py, independent of the engine and of
PyTorch.

    head = read_head("H.h5")                  # dict: attrs, steps (op, attrs, tensors, groups)
    logits, probs = run_head(head, x, encoder)  # x: windows x C_in x T in the model's input unit
    encoder = NumpyEncoder.from_file("W.h5")
"""
import math
import os
import sys

import h5py
import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "tools"))
import eegpt_format as fmt  # noqa: E402

NORM_TOLERANCE = 1e-5  # a row may exceed its step's max_norm by this much, relative


def _attr(v):
    if isinstance(v, bytes):
        return v.decode("utf-8")
    if isinstance(v, np.ndarray) and v.dtype.kind in "OSU":
        return [x.decode("utf-8") if isinstance(x, bytes) else str(x) for x in v]
    if isinstance(v, np.generic):
        return v.item()
    return v


def _tensors(group):
    out, groups = {}, {}
    for k, v in group.items():
        if isinstance(v, h5py.Dataset):
            a = v[()]
            out[k] = a.astype(np.int64) if a.dtype.kind in "iu" else a.astype(np.float64)
    return out, groups


def read_head(path):
    with h5py.File(path, "r") as f:
        attrs = {k: _attr(v) for k, v in f.attrs.items()}
        if attrs.get("format") != "eegpt-head":
            raise ValueError("not an eegpt-head file")
        version = int(attrs["format_version"])
        if version == 1:
            return _v1_as_steps(f, attrs)
        if version not in (2, 3):
            raise ValueError("format_version %d" % version)
        if version == 3:  # version 2 keeps them in the attribute
            attrs["class_names"] = _attr(f["class_names"][()])
        steps = []
        for i in range(int(attrs["n_steps"])):
            g = f["steps/%d" % i]
            tensors, _ = _tensors(g)
            groups = {}
            if "decoder" in g:
                for name in g["decoder"]:
                    groups["decoder/" + name] = _tensors(g["decoder/" + name])[0]
            steps.append(dict(op=_attr(g.attrs["op"]), attrs={k: _attr(v) for k, v in g.attrs.items() if k != "op"},
                              tensors=tensors, groups=groups))
    head = dict(attrs=attrs, steps=steps)
    check_max_norms(head)
    return head


def _v1_as_steps(f, attrs):
    """Version 1: mV, 256 Hz, 1024 samples, the weights' own stride, softmax."""
    steps = []
    encoder_channels = attrs["input_channels"]
    if "channel_mixing" in f:
        g = f["channel_mixing"]
        encoder_channels = _attr(g.attrs["encoder_channels"])
        steps.append(dict(op="channel_mix", attrs={}, tensors=_tensors(g)[0], groups={}))
    steps.append(dict(op="encoder", attrs=dict(channels=encoder_channels, patch_stride=None), tensors={}, groups={}))
    if attrs.get("pooling") == "mean_tokens":
        steps.append(dict(op="mean_tokens", attrs={}, tensors={}, groups={}))
    for i in range(int(attrs["n_layers"])):
        g = f["layers/%d" % i]
        if int(g.attrs["flatten_input"]):
            steps.append(dict(op="flatten", attrs={}, tensors={}, groups={}))
        steps.append(dict(op="linear", attrs={}, tensors=_tensors(g)[0], groups={}))
        act = _attr(g.attrs["activation"])
        if act != "identity":
            steps.append(dict(op=act, attrs={}, tensors={}, groups={}))
    a = dict(attrs, output="softmax", input_labels=attrs["input_channels"], sample_rate_hz=256.0,
             window_samples=1024, input_unit_mv=1.0)
    return dict(attrs=a, steps=steps)


def check_max_norms(head):
    for i, s in enumerate(head["steps"]):
        if "max_norm" in s["attrs"]:
            w = s["tensors"]["weight"]
            norms = np.sqrt((w.reshape(w.shape[0], -1) ** 2).sum(axis=1))
            bound = float(s["attrs"]["max_norm"]) * (1 + NORM_TOLERANCE)
            if (norms > bound).any():
                raise ValueError("step %d (%s): a weight row of norm %.6g exceeds max_norm %g"
                                 % (i, s["op"], norms.max(), s["attrs"]["max_norm"]))


# ---------------------------------------------------------------- numpy encoder
def _layer_norm(x, w, b, eps):
    mu = x.mean(axis=-1, keepdims=True)
    var = ((x - mu) ** 2).mean(axis=-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * w + b


def _gelu(x):
    from scipy.special import erf
    return 0.5 * x * (1.0 + erf(x / math.sqrt(2.0)))


def _softmax(x, axis=-1):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


class NumpyEncoder:
    """The released encoder (docs/architecture.md) in float64 numpy: x (C x T), channel ids -> (N, E, D)."""

    def __init__(self, config, sd):
        self.c = config
        self.w = {k: np.asarray(v, dtype=np.float64) for k, v in sd.items()}

    @classmethod
    def from_file(cls, path):
        config, sd = fmt.read_weights(path)
        return cls(config, sd)

    def __call__(self, x, ids):
        c, w = self.c, self.w
        P, S, D, E, H = c["patch_size"], c["patch_stride"], c["embed_dim"], c["embed_num"], c["num_heads"]
        C, T = x.shape
        N = (T - P) // S + 1
        patches = np.stack([x[:, n * S:n * S + P] for n in range(N)])          # (N, C, P)
        t = patches @ w["patch_embed.proj.weight"].reshape(D, P).T + w["patch_embed.proj.bias"]
        t = t + w["chan_embed.weight"][np.asarray(ids)]
        t = np.concatenate([t, np.broadcast_to(w["summary_token"][0], (N, E, D))], axis=1)  # summary last
        hd = D // H
        eps = c["layernorm_eps"]
        for i in range(c["depth"]):
            b = "blocks.%d." % i
            h = _layer_norm(t, w[b + "norm1.weight"], w[b + "norm1.bias"], eps)
            qkv = h @ w[b + "attn.qkv.weight"].T + (w[b + "attn.qkv.bias"] if c["qkv_bias"] else 0)
            L = t.shape[1]
            q, k, v = qkv.reshape(N, L, 3, H, hd).transpose(2, 0, 3, 1, 4)
            a = _softmax(q @ k.transpose(0, 1, 3, 2) / math.sqrt(hd))
            o = (a @ v).transpose(0, 2, 1, 3).reshape(N, L, D)
            t = t + o @ w[b + "attn.proj.weight"].T + w[b + "attn.proj.bias"]
            h = _layer_norm(t, w[b + "norm2.weight"], w[b + "norm2.bias"], eps)
            h = _gelu(h @ w[b + "mlp.fc1.weight"].T + w[b + "mlp.fc1.bias"])
            t = t + h @ w[b + "mlp.fc2.weight"].T + w[b + "mlp.fc2.bias"]
        return _layer_norm(t[:, -E:], w["norm.weight"], w["norm.bias"], eps)


# ---------------------------------------------------------------- steps
def int_sincos(n, dim):
    """create_1d_absolute_sin_cos_embedding(n, dim) with its integer-cast frequencies."""
    freq = np.floor(1.0 / np.power(10000.0, np.arange(dim // 2) / (dim / 2)))  # 1, then 0
    out = np.arange(n)[:, None] * freq[None, :]
    pos = np.zeros((n, dim))
    pos[:, 0::2] = np.sin(out)
    pos[:, 1::2] = np.cos(out)
    return pos


def _mha(q_in, kv_in, w_in, b_in, w_out, b_out, heads):
    F = q_in.shape[-1]
    hd = F // heads
    q = q_in @ w_in[:F].T + b_in[:F]
    k = kv_in @ w_in[F:2 * F].T + b_in[F:2 * F]
    v = kv_in @ w_in[2 * F:].T + b_in[2 * F:]
    split = lambda m: m.reshape(m.shape[0], heads, hd).transpose(1, 0, 2)  # noqa: E731
    a = _softmax(split(q) @ split(k).transpose(0, 2, 1) / math.sqrt(hd))
    o = (a @ split(v)).transpose(1, 0, 2).reshape(q_in.shape[0], F)
    return o @ w_out.T + b_out


def sleep_decoder(rows, s):
    a, t = s["attrs"], s["tensors"]
    R, F = rows.shape
    if a.get("positions") != "eegpt_int_sincos":
        raise ValueError("unknown positions %r" % a.get("positions"))
    x = np.concatenate([t["cls_token"].reshape(1, F), rows + int_sincos(R, F)], axis=0)
    mem = x
    eps, heads = float(a["eps"]), int(a["heads"])
    for layer in range(int(a["layers"])):
        g = s["groups"]["decoder/%d" % layer]
        x = _layer_norm(x + _mha(x, x, g["self_in_weight"], g["self_in_bias"], g["self_out_weight"],
                                 g["self_out_bias"], heads), g["norm1_weight"], g["norm1_bias"], eps)
        x = _layer_norm(x + _mha(x, mem, g["cross_in_weight"], g["cross_in_bias"], g["cross_out_weight"],
                                 g["cross_out_bias"], heads), g["norm2_weight"], g["norm2_bias"], eps)
        ff = _gelu(x @ g["linear1_weight"].T + g["linear1_bias"]) @ g["linear2_weight"].T + g["linear2_bias"]
        x = _layer_norm(x + ff, g["norm3_weight"], g["norm3_bias"], eps)
    return x[:1]


def run_window(head, x, encoder):
    """One window (C_in x T) -> logits (K,) float64."""
    x = np.asarray(x, dtype=np.float64)
    features = False
    for s in head["steps"]:
        op, a, t = s["op"], s["attrs"], s["tensors"]
        if op == "scale":
            x = x * float(a["factor"])
        elif op == "subtract_channel_mean":
            x = x - x.mean(axis=0, keepdims=True)
        elif op == "interpolate_nearest":
            L, T = int(a["length"]), x.shape[1]
            x = x[:, (np.arange(L) * T) // L]
        elif op == "select_channels":
            x = x[t["indices"]]
        elif op == "channel_scale":
            x = x * t["weight"][:, None]
        elif op == "channel_mix":
            x = t["weight"] @ x + t["bias"][:, None]
        elif op == "batch_norm":
            x = (x - t["running_mean"][:, None]) / np.sqrt(t["running_var"][:, None] + float(a["eps"])) \
                * t["weight"][:, None] + t["bias"][:, None]
        elif op == "gelu":
            x = _gelu(x)
        elif op == "depthwise_conv":
            w, K = t["weight"], t["weight"].shape[1]
            if a["padding"] == "valid":
                xp = x
            elif a["padding"] == "same":
                left = (K - 1) // 2
                xp = np.pad(x, ((0, 0), (left, K - 1 - left)))
            else:
                raise ValueError("padding %r" % a["padding"])
            Tout = xp.shape[1] - K + 1
            x = t["bias"][:, None] + sum(w[:, k:k + 1] * xp[:, k:k + Tout] for k in range(K))
        elif op == "encoder":
            stride = a.get("patch_stride")
            if stride is not None and int(stride) != encoder.c["patch_stride"]:
                raise ValueError("the head needs patch stride %s, the weights have %d" % (stride, encoder.c["patch_stride"]))
            z = encoder(x, fmt.channel_ids(a["channels"]))
            x = z.reshape(z.shape[0], -1)
            features = True
        elif op == "layer_norm":
            G = t["weight"].shape[0]
            R, F = x.shape
            x = _layer_norm(x.reshape(R, F // G, G), t["weight"], t["bias"], float(a["eps"])).reshape(R, F)
        elif op == "mean_tokens":
            D = encoder.c["embed_dim"]
            x = x.reshape(x.shape[0], -1, D).mean(axis=1)
        elif op == "linear":
            x = x @ t["weight"].T + t["bias"]
        elif op == "relu":
            x = np.maximum(x, 0)
        elif op == "flatten":
            x = x.reshape(1, -1)
        elif op == "sleep_decoder":
            x = sleep_decoder(x, s)
        else:
            raise ValueError("unknown op %r" % op)
    if not features or x.shape[0] != 1:
        raise ValueError("the steps do not end in one row of logits")
    return x[0]


def run_head(head, windows, encoder):
    """windows: B x C_in x T -> (logits B x K, probabilities B x K or B x 1)."""
    logits = np.stack([run_window(head, w, encoder) for w in np.asarray(windows)])
    if head["attrs"]["output"] == "sigmoid":
        return logits, 1.0 / (1.0 + np.exp(-logits))
    return logits, _softmax(logits, axis=1)
