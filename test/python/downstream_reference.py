"""The seven official EEGPT downstream models (BINE022/EEGPT: downstream/linear_probe_EEGPT_*.py,
downstream/finetune_EEGPT_SleepEDF.py, downstream_tueg/Modules/models/EEGPT_mcae_finetune_change{,_tuev}.py)
re-created in PyTorch as modules with the official state_dict names and forward order, for the
tests (eval mode, float64). The max-norm layers renormalise their weight at the start of every
forward, as the official Conv1d/Conv2d/LinearWithConstraint do. The encoder is
tools/fixtures/eegpt_reference.py's Encoder, whose state_dict names are the released ones.

Each model takes `variant` flags that reproduce a deliberate mistake, so that tests can show the
engine does not compute it: renorm=False (max norms ignored), interp_round=True (nearest
interpolation rounding i * T / L instead of flooring it), norm_first=True (the sleep decoder's
layers pre-norm instead of post-norm).
"""
import os
import sys
from functools import partial  # noqa: F401

import torch
from torch import nn

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "tools"))
sys.path.insert(0, os.path.join(REPO, "tools", "fixtures"))
import convert_head as ch  # noqa: E402  (the recipes' channel lists; no computation is taken from it)
import eegpt_format as fmt  # noqa: E402
import eegpt_reference  # noqa: E402


class Variant:
    def __init__(self, renorm=True, interp_round=False, norm_first=False):
        self.renorm, self.interp_round, self.norm_first = renorm, interp_round, norm_first


class _MaxNorm:
    """The official *WithConstraint layers: the weight renormalised (torch.renorm, p 2, dim 0) at the
    start of every forward, then the plain layer."""

    def __init__(self, *args, max_norm=1, variant=None, **kwargs):
        self.max_norm, self.variant = max_norm, variant or Variant()
        super().__init__(*args, **kwargs)

    def forward(self, x):
        if self.variant.renorm:
            self.weight.data = torch.renorm(self.weight.data, p=2, dim=0, maxnorm=self.max_norm)
        return super().forward(x)


class Conv1dWithConstraint(_MaxNorm, nn.Conv1d):
    pass


class Conv2dWithConstraint(_MaxNorm, nn.Conv2d):
    pass


class LinearWithConstraint(_MaxNorm, nn.Linear):
    pass


def temporal_interpolation(x, length, variant):
    """downstream/utils.py: subtract the mean over channels, then F.interpolate(mode='nearest')."""
    x = x - torch.mean(x, dim=-2, keepdim=True)
    if variant.interp_round:  # the mistake: nearest by rounding
        T = x.shape[-1]
        idx = torch.clamp(torch.round(torch.arange(length, dtype=torch.float64) * T / length).long(), max=T - 1)
        return x[..., idx]
    return torch.nn.functional.interpolate(x, length, mode="nearest")


def create_1d_absolute_sin_cos_embedding(pos_len, dim):
    """Modules/Transformers/pos_embed.py, with its integer cast of the frequencies."""
    position_emb = torch.zeros(pos_len, dim, dtype=torch.float)
    i_matrix = torch.arange(dim // 2, dtype=torch.float)
    i_matrix /= dim / 2
    i_matrix = torch.pow(10000, i_matrix)
    i_matrix = 1 / i_matrix
    i_matrix = i_matrix.to(torch.long)
    pos_vec = torch.arange(pos_len).to(torch.long)
    out = pos_vec[:, None] @ i_matrix[None, :]
    position_emb[:, 0::2] = torch.sin(out)
    position_emb[:, 1::2] = torch.cos(out)
    return position_emb


def encoder(config):
    return eegpt_reference.Encoder(config)


def chan_ids(names):
    return torch.as_tensor(fmt.channel_ids(names).astype("int64"))


class LinearProbe(nn.Module):
    """BCIC2A, BCIC2B, KaggleERN, PhysioP300 (LitEEGPTCausal of linear_probe_EEGPT_*.py)."""

    def __init__(self, recipe, config, n_classes=None, variant=None):
        super().__init__()
        self.recipe, self.variant = recipe, variant or Variant()
        r = ch.RECIPES[recipe]
        E, D = config["embed_num"], config["embed_dim"]
        self.target_encoder = encoder(config)
        self.chans_id = chan_ids(r["encoder"])
        n_in, n_enc = len(r["inputs"]), len(r["encoder"])
        if recipe == "physiop300":
            self.chan_scale = nn.Parameter(torch.ones(1, n_enc, 1))
        else:
            self.chan_conv = Conv1dWithConstraint(n_in, n_enc, 1, max_norm=1, variant=self.variant)
        samples = r.get("interpolate", r["window"])
        n = (samples - 64) // r["patch_stride"] + 1
        k = {"bcic2a": 4, "bcic2b": 4}.get(recipe, 2) if n_classes is None else n_classes
        self.linear_probe1 = LinearWithConstraint(E * D, 16, max_norm=1, variant=self.variant)
        self.linear_probe2 = LinearWithConstraint(n * 16, k, max_norm=0.25, variant=self.variant)
        self.drop = nn.Dropout(p=0.5)

    def forward(self, x):
        if self.recipe in ("bcic2b", "kaggleern"):
            x = x / 10
        if self.recipe == "kaggleern":
            x = x - x.mean(dim=-2, keepdim=True)
            x = temporal_interpolation(x, 2 * 256, self.variant)
        if self.recipe == "physiop300":
            x = x - x.mean(dim=-2, keepdim=True)
            x = x[:, ch.P300_INDEX, :]
            x = x * self.chan_scale
        else:
            x = self.chan_conv(x)
        z = self.target_encoder(x, self.chans_id)
        h = z.flatten(2)
        h = self.linear_probe1(self.drop(h))
        h = h.flatten(1)
        return self.linear_probe2(h)


class SleepEDF(nn.Module):
    """finetune_EEGPT_SleepEDF.py's LitEEGPTCausal."""

    def __init__(self, config, variant=None):
        super().__init__()
        self.variant = variant or Variant()
        E, D = config["embed_num"], config["embed_dim"]
        self.target_encoder = encoder(config)
        self.chans_id = chan_ids(ch.SLEEP_ENCODER)
        self.chan_conv = Conv1dWithConstraint(2, 13, 1, max_norm=1, variant=self.variant)
        self.linear_probe1 = LinearWithConstraint(E * D, 64, max_norm=1, variant=self.variant)
        self.drop = nn.Dropout(p=0.5)
        self.decoder = nn.TransformerDecoder(
            decoder_layer=nn.TransformerDecoderLayer(64, 4, 64 * 4, activation=nn.functional.gelu, batch_first=False,
                                                     norm_first=self.variant.norm_first),
            num_layers=4)
        self.cls_token = nn.Parameter(torch.rand(1, 1, 64) * 0.001)
        self.linear_probe2 = LinearWithConstraint(64, 5, max_norm=0.25, variant=self.variant)

    def forward(self, x):
        x = temporal_interpolation(x, 256 * 30, self.variant)
        x = self.chan_conv(x)
        z = self.target_encoder(x, self.chans_id)
        h = z.flatten(2)
        h = self.linear_probe1(self.drop(h))
        pos = create_1d_absolute_sin_cos_embedding(h.shape[1], dim=64)
        h = h + pos.repeat((h.shape[0], 1, 1)).to(h)
        h = torch.cat([self.cls_token.repeat((h.shape[0], 1, 1)).to(h), h], dim=1)
        h = h.transpose(0, 1)
        h = self.decoder(h, h)[0, :, :]
        return self.linear_probe2(h)


class TUH(nn.Module):
    """EEGPTClassifier(use_chan_conv=True) of EEGPT_mcae_finetune_change.py (TUAB) and
    EEGPT_mcae_finetune_change_tuev.py (TUEV), use_mean_pooling=True (norm = Identity)."""

    def __init__(self, recipe, config, n_classes, variant=None):
        super().__init__()
        self.recipe, self.variant = recipe, variant or Variant()
        E, D = config["embed_num"], config["embed_dim"]
        if recipe == "tuab":
            conv = nn.Conv2d(20, 20, kernel_size=(1, 15), groups=20)
            tail = [nn.BatchNorm2d(20), nn.GELU(), nn.Dropout(0.25)]
            n = (2000 - 14 - 64) // 64 + 1
        else:
            conv = nn.Conv2d(20, 20, kernel_size=(1, 55), groups=20, padding="same")
            tail = [nn.BatchNorm2d(20), nn.Dropout(0.8)]
            n = (1000 - 64) // 64 + 1
        self.chan_conv = nn.Sequential(Conv2dWithConstraint(23, 20, 1, max_norm=1, variant=self.variant),
                                       nn.BatchNorm2d(20), nn.GELU(), conv, *tail)
        self.target_encoder = encoder(config)
        self.chans_id = chan_ids(ch.TUH_ENCODER20)
        self.norm = nn.Identity()
        self.fc_norm = nn.LayerNorm(D)  # unused by the forward, but in the state_dict
        self.head = nn.Sequential(nn.Dropout(0.5), LinearWithConstraint(n * E * D, n_classes, max_norm=1,
                                                                        variant=self.variant))

    def forward(self, x):
        x = x[:, :, None]
        x = self.chan_conv(x)[:, :, 0]
        x = self.target_encoder(x, self.chans_id)
        x = self.norm(x)
        x = x.flatten(1)
        return self.head(x)


def build(recipe, config, n_classes=None, variant=None):
    if recipe == "sleepedf":
        return SleepEDF(config, variant)
    if recipe in ("tuab", "tuev"):
        return TUH(recipe, config, n_classes if n_classes is not None else (1 if recipe == "tuab" else 6), variant)
    return LinearProbe(recipe, config, n_classes, variant)


def forward(model, x):
    """float64 eval forward: logits (numpy)."""
    model.eval()
    with torch.no_grad():
        return model(torch.as_tensor(x).double()).numpy()
