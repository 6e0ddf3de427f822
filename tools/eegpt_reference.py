#!/usr/bin/env python3
"""Plain PyTorch EEGPT encoder, written from docs/architecture.md: the parity oracle.

Deliberately naive (no last-block shortcut, no fused kernels) so that it is easy to check against the
description; run it in float64 to produce expected outputs.

CLI: eegpt_reference.py --weights W.h5 --input IN.h5 --output OUT.h5 [--dtype float64|float32] [--time N]
IN.h5: `x` (B x C x T) and `channels` (C names). OUT.h5: `features` (float32), `features_f64`, `channel_ids`.
"""
import argparse
import math
import os
import sys
import time

import h5py
import numpy as np
import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import eegpt_format as fmt  # noqa: E402


class PatchEmbed(nn.Module):
    def __init__(self, D, P, stride):
        super().__init__()
        # Conv2d over (channel, time) with a (1, P) kernel: one linear map per patch, as released
        # (stride P); a smaller stride gives overlapping patches (braindecode's EEGPT).
        self.proj = nn.Conv2d(1, D, kernel_size=(1, P), stride=(1, stride))

    def forward(self, x):  # (B, C, T) -> (B, N, C, D)
        return self.proj(x.unsqueeze(1)).permute(0, 3, 2, 1)


class Attention(nn.Module):
    def __init__(self, D, heads, qkv_bias):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(D, 3 * D, bias=bool(qkv_bias))
        self.proj = nn.Linear(D, D)

    def forward(self, x):
        n, S, D = x.shape
        hd = D // self.heads
        # qkv rows are q then k then v, each split into heads in order.
        q, k, v = self.qkv(x).reshape(n, S, 3, self.heads, hd).permute(2, 0, 3, 1, 4)
        a = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(hd), dim=-1)
        return self.proj((a @ v).transpose(1, 2).reshape(n, S, D))


class Mlp(nn.Module):
    def __init__(self, D, H):
        super().__init__()
        self.fc1 = nn.Linear(D, H)
        self.act = nn.GELU()  # exact erf GELU (the default), not the tanh approximation
        self.fc2 = nn.Linear(H, D)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


class Block(nn.Module):
    def __init__(self, D, heads, H, eps, qkv_bias):
        super().__init__()
        self.norm1 = nn.LayerNorm(D, eps=eps)
        self.attn = Attention(D, heads, qkv_bias)
        self.norm2 = nn.LayerNorm(D, eps=eps)
        self.mlp = Mlp(D, H)

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class Encoder(nn.Module):
    def __init__(self, config):
        super().__init__()
        D, E = config["embed_dim"], config["embed_num"]
        eps = config["layernorm_eps"]
        self.E = E
        self.summary_token = nn.Parameter(torch.zeros(1, E, D))
        self.patch_embed = PatchEmbed(D, config["patch_size"], config.get("patch_stride", config["patch_size"]))
        self.chan_embed = nn.Embedding(len(fmt.CHANNEL_NAMES), D)
        self.blocks = nn.ModuleList(
            Block(D, config["num_heads"], config["mlp_hidden"], eps, config["qkv_bias"])
            for _ in range(config["depth"]))
        self.norm = nn.LayerNorm(D, eps=eps)

    def forward(self, x, chan_ids):
        """x: (B, C, T) float, chan_ids: (C,) long -> (B, N, E, D)."""
        B = x.shape[0]
        t = self.patch_embed(x)                       # (B, N, C, D)
        t = t + self.chan_embed(chan_ids)             # same row for every time patch
        _, N, C, D = t.shape
        t = t.reshape(B * N, C, D)                    # one sequence per (window, time patch)
        t = torch.cat([t, self.summary_token.expand(B * N, -1, -1)], dim=1)  # summary tokens last
        for blk in self.blocks:
            t = blk(t)
        t = self.norm(t[:, -self.E:, :])
        return t.reshape(B, N, self.E, D)


def build_model(config):
    return Encoder(config).eval()


def load_state(model, state_dict):
    sd = {k: torch.as_tensor(np.asarray(v)) for k, v in state_dict.items()}
    model.load_state_dict(sd, strict=True)
    return model


def load_model(weights_path, dtype=torch.float64):
    config, sd = fmt.read_weights(weights_path)
    return load_state(build_model(config), sd).to(dtype), config


def encode(model, x, chan_ids, dtype=torch.float64):
    """numpy in, numpy out (in `dtype`); input cast from its stored float32 values."""
    with torch.no_grad():
        xt = torch.as_tensor(np.asarray(x)).to(dtype)
        ids = torch.as_tensor(np.asarray(chan_ids, dtype=np.int64))
        return model.to(dtype)(xt, ids).numpy()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--weights", required=True)
    ap.add_argument("--input", required=True)
    ap.add_argument("--output")
    ap.add_argument("--dtype", choices=["float64", "float32"], default="float64")
    ap.add_argument("--time", type=int, default=0, metavar="N",
                    help="also time N forward calls and print ms per call")
    ap.add_argument("--threads", type=int, default=0)
    a = ap.parse_args(argv)
    if a.threads:
        torch.set_num_threads(a.threads)
    dtype = getattr(torch, a.dtype)
    model, _ = load_model(a.weights, dtype)
    with h5py.File(a.input, "r") as f:
        x = f["x"][()]
        names = list(f["channels"].asstr()[()])
    ids = fmt.channel_ids(names)
    out = encode(model, x, ids, dtype)
    if a.time:
        xt = torch.as_tensor(x).to(dtype)
        it = torch.as_tensor(ids.astype(np.int64))
        with torch.no_grad():
            model(xt, it)  # warm-up
            t0 = time.perf_counter()
            for _ in range(a.time):
                model(xt, it)
            ms = (time.perf_counter() - t0) * 1000.0 / a.time
        print("reference %s B=%d C=%d T=%d: %.3f ms per call (%d threads)"
              % (a.dtype, x.shape[0], x.shape[1], x.shape[2], ms, torch.get_num_threads()))
    if a.output:
        tmp = a.output + ".tmp"
        with h5py.File(tmp, "w") as f:
            f.create_dataset("features", data=out.astype(np.float32))
            f.create_dataset("features_f64", data=out.astype(np.float64))
            f.create_dataset("channel_ids", data=ids)
        os.replace(tmp, a.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
