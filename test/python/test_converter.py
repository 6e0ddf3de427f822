"""tools/convert_ckpt.py on fake checkpoints with the released key names and shapes.

Tests marked by the `eegpt_bin` fixture run the engine CLI on the converted file and fail if it is absent;
the others check the converter alone."""
import hashlib
import os
from collections import OrderedDict

import h5py
import numpy as np
import pytest
import torch

import eegpt_reference as ref
from eegpt_testlib import encode_with_engine, fmt, one_line_error, rel_err, require_engine, run_converter


class AttributeDict(dict):
    """Like Lightning's hyper-parameter container; pickled under this test module's name, which the
    converter process cannot import, so loading exercises the converter's lenient unpickling."""


def fake_encoder(config, seed):
    """Encoder state_dict with the released names/shapes; trained-looking scales, not init values."""
    g = torch.Generator().manual_seed(seed)
    sd = OrderedDict()
    for name, shape in fmt.tensor_specs(config):
        r = torch.randn(shape, generator=g)
        kind = fmt.init_kind(name)
        sd[name] = 1 + 0.1 * r if kind == "norm_weight" else (0.05 * r if kind == "bias" else 0.03 * r)
    return sd


def fake_lightning_ckpt(path, config, target_seed=1, decoy_seed=2, mutate=None):
    """Save a Lightning-style checkpoint: real weights under target_encoder.*, decoys under encoder.*,
    plus predictor.*, reconstructor.*, optimizer state and bookkeeping. Returns the target state_dict."""
    D = config["embed_dim"]
    target = fake_encoder(config, target_seed)
    decoy = fake_encoder(config, decoy_seed) if decoy_seed is not None else None
    sd = OrderedDict()
    if decoy is not None:
        sd.update(("encoder." + k, v) for k, v in decoy.items())
    sd.update(("target_encoder." + k, v) for k, v in target.items())
    sd["predictor.mask_token"] = torch.zeros(1, 1, D)
    sd["predictor.predictor_embed.weight"] = torch.randn(D, D)
    sd["predictor.predictor_blocks.0.norm1.weight"] = torch.ones(D)
    sd["reconstructor.reconstructor_embed.weight"] = torch.randn(D, D)
    sd["reconstructor.reconstructor_head.weight"] = torch.randn(64, D)
    if mutate is not None:
        mutate(sd)
    ckpt = {
        "epoch": 199, "global_step": 123456, "pytorch-lightning_version": "1.9.5",
        "state_dict": sd,
        "loops": {"fit_loop": {"state_dict": {}, "epoch_progress": {"current": {"completed": 199}}}},
        "callbacks": {"LearningRateMonitor": {}},
        "optimizer_states": [{"state": {0: {"step": torch.tensor(5.0), "exp_avg": torch.zeros(3, D)}},
                              "param_groups": [{"lr": 1e-4, "params": [0]}]}],
        "lr_schedulers": [{"last_epoch": 199}],
        "hparams_name": "kwargs",
        "hyper_parameters": AttributeDict(models_configs={"encoder": {"embed_dim": D}}),
    }
    torch.save(ckpt, path)
    return target, decoy


def as_f32(sd):
    return OrderedDict((k, v.float().numpy()) for k, v in sd.items())


def ref_features(config, sd, x, ids):
    model = ref.load_state(ref.build_model(config), as_f32(sd)).double()
    return ref.encode(model, x, ids)


def make_input(C=19, B=2, T=1024, seed=5):
    names = [n.capitalize() if i % 2 else n.lower() + "." for i, n in enumerate(fmt.STANDARD_19)][:C]
    x = (np.random.default_rng(seed).standard_normal((B, C, T)) * 0.05).astype(np.float32)
    return x, names, fmt.channel_ids(names)


@pytest.fixture(scope="module")
def little_ckpt(tmp_path_factory):
    d = tmp_path_factory.mktemp("ckpt")
    path = os.path.join(str(d), "eegpt_fake_little.ckpt")
    target, decoy = fake_lightning_ckpt(path, fmt.named_config("little"))
    return path, target, decoy


# ------------------------------------------------------------------ converter alone
def test_convert_lightning_checkpoint(little_ckpt, tmp_path):
    ckpt, target, _ = little_ckpt
    out = tmp_path / "little.h5"
    r = run_converter(ckpt, out)
    assert r.returncode == 0, r.stderr
    config, sd = fmt.read_weights(out)
    assert config == fmt.named_config("little")
    for k, v in as_f32(target).items():
        assert np.array_equal(sd[k], v), k
    a = fmt.read_attrs(out)
    assert a["trained"] == 1 and "random_seed" not in a
    assert a["source_checkpoint"] == os.path.basename(ckpt)
    assert a["source_sha256"] == hashlib.sha256(open(ckpt, "rb").read()).hexdigest()
    assert a["source_prefix"] == "target_encoder." and a["converter_version"] == "1.2"
    assert sorted(os.listdir(tmp_path)) == ["little.h5"]  # no temp file left


def test_prefix_encoder_selects_decoys(little_ckpt, tmp_path):
    ckpt, target, decoy = little_ckpt
    out = tmp_path / "enc.h5"
    r = run_converter(ckpt, out, "--prefix", "encoder.")
    assert r.returncode == 0, r.stderr
    _, sd = fmt.read_weights(out)
    assert all(np.array_equal(sd[k], v) for k, v in as_f32(decoy).items())
    assert not np.array_equal(sd["blocks.0.attn.qkv.weight"], target["blocks.0.attn.qkv.weight"].numpy())
    assert fmt.read_attrs(out)["source_prefix"] == "encoder."


def test_plain_state_dict(tmp_path):
    cfg = fmt.named_config("tiny3")
    target = fake_encoder(cfg, 11)
    ckpt = tmp_path / "plain.pt"
    torch.save(OrderedDict(("target_encoder." + k, v) for k, v in target.items()), ckpt)
    r = run_converter(ckpt, tmp_path / "a.h5")
    assert r.returncode == 0, r.stderr
    _, sd = fmt.read_weights(tmp_path / "a.h5")
    assert all(np.array_equal(sd[k], v) for k, v in as_f32(target).items())
    # An already-stripped encoder state_dict converts with an empty prefix.
    bare = tmp_path / "bare.pt"
    torch.save(target, bare)
    r = run_converter(bare, tmp_path / "b.h5", "--prefix", "")
    assert r.returncode == 0, r.stderr
    _, sd = fmt.read_weights(tmp_path / "b.h5")
    assert all(np.array_equal(sd[k], v) for k, v in as_f32(target).items())


def test_half_precision_checkpoint_is_widened(tmp_path):
    cfg = fmt.named_config("tiny2")
    target = OrderedDict((k, v.to(torch.bfloat16)) for k, v in fake_encoder(cfg, 3).items())
    torch.save({"state_dict": OrderedDict(("target_encoder." + k, v) for k, v in target.items())},
               tmp_path / "bf16.ckpt")
    r = run_converter(tmp_path / "bf16.ckpt", tmp_path / "o.h5")
    assert r.returncode == 0, r.stderr
    _, sd = fmt.read_weights(tmp_path / "o.h5")
    assert all(np.array_equal(sd[k], v.float().numpy()) for k, v in target.items())


def test_num_heads_needed_for_unnamed_config(tmp_path):
    cfg = fmt.make_config(96, 2, 3, 3)
    fake_lightning_ckpt(tmp_path / "odd.ckpt", cfg, decoy_seed=None)
    out = tmp_path / "odd.h5"
    r = run_converter(tmp_path / "odd.ckpt", out)
    assert r.returncode == 1 and one_line_error(r.stderr) and "--num-heads" in r.stderr
    assert not out.exists()
    r = run_converter(tmp_path / "odd.ckpt", out, "--num-heads", "3")
    assert r.returncode == 0, r.stderr
    assert fmt.read_weights(out)[0] == cfg


def test_random_init_cli(tmp_path):
    out = tmp_path / "r.h5"
    r = run_converter("--random-init", "tiny2", "--seed", "0", out)
    assert r.returncode == 0, r.stderr
    _, sd = fmt.read_weights(out)
    ref_sd = fmt.random_init(fmt.named_config("tiny2"), 0)
    assert all(sd[k].tobytes() == ref_sd[k].tobytes() for k in ref_sd)
    a = fmt.read_attrs(out)
    assert (a["trained"], a["random_seed"], a["source_checkpoint"], a["source_sha256"], a["source_prefix"]) \
        == (0, 0, "random-init:tiny2", "", "")


def test_random_init_normal(tmp_path):
    """--normal: the weights normal, sd 0.02, deterministic in the seed; norms and biases as
    --random-init's; told apart in the provenance; and only with --random-init."""
    cfg = fmt.named_config("tiny2")
    ref_sd = fmt.random_init(cfg, 3)
    files = []
    for name in ("a.h5", "b.h5"):
        files.append(tmp_path / name)
        r = run_converter("--random-init", "tiny2", "--seed", "3", "--normal", files[-1])
        assert r.returncode == 0, r.stderr
    _, sd = fmt.read_weights(files[0])
    _, again = fmt.read_weights(files[1])
    assert all(sd[k].tobytes() == again[k].tobytes() for k in sd)
    for k in ref_sd:
        if fmt.init_kind(k) == "weight":
            assert sd[k].dtype == np.float32 and sd[k].shape == ref_sd[k].shape
            assert sd[k].tobytes() != ref_sd[k].tobytes(), k
        else:
            assert sd[k].tobytes() == ref_sd[k].tobytes(), k
    fc1 = sd["blocks.0.mlp.fc1.weight"].astype(np.float64)
    assert abs(fc1.std() - 0.02) < 0.001
    # Normal, not uniform: tails past the uniform's bound (0.0346) and a kurtosis near 3, not 1.8.
    assert np.abs(fc1).max() > 0.05
    assert abs(((fc1 - fc1.mean()) ** 4).mean() / fc1.var() ** 2 - 3.0) < 0.2
    assert fmt.read_attrs(files[0])["source_checkpoint"] == "random-init-normal:tiny2"
    r = run_converter("--random-init", "tiny2", "--seed", "4", "--normal", tmp_path / "c.h5")
    assert fmt.read_weights(tmp_path / "c.h5")[1]["blocks.0.mlp.fc1.weight"].tobytes() != sd["blocks.0.mlp.fc1.weight"].tobytes()
    r = run_converter("--normal", tmp_path / "x.ckpt", tmp_path / "d.h5")
    assert r.returncode == 1 and one_line_error(r.stderr) and "--normal goes with --random-init" in r.stderr


def _del(key):
    return lambda sd: sd.pop(key)


def _set(key, value):
    return lambda sd: sd.__setitem__(key, value)


def _nan(key):
    def f(sd):
        sd[key] = sd[key].clone()
        sd[key][0, 3] = float("nan")
    return f


FAILURES = [
    # (id, mutate, extra args, text the message must contain)
    ("wrong_prefix", None, ["--prefix", "model.encoder."],
     ["model.encoder.", "encoder.", "predictor.", "reconstructor.", "target_encoder."]),
    ("missing_key", _del("target_encoder.blocks.1.mlp.fc2.bias"), [], ["blocks.1.mlp.fc2.bias"]),
    ("extra_key", _set("target_encoder.blocks.0.attn.q_norm.weight", torch.ones(64)), [],
     ["blocks.0.attn.q_norm.weight"]),
    ("shape_mismatch", _set("target_encoder.blocks.1.attn.proj.weight", torch.zeros(64, 63)), [],
     ["blocks.1.attn.proj.weight"]),
    ("nan", _nan("target_encoder.blocks.0.mlp.fc1.weight"), [], ["blocks.0.mlp.fc1.weight"]),
    ("bad_option", None, ["--no-such-option"], ["--no-such-option"]),
]


@pytest.mark.parametrize("case,mutate,args,needles", FAILURES, ids=[f[0] for f in FAILURES])
def test_failure_cases(tmp_path, case, mutate, args, needles):
    ckpt = tmp_path / "bad.ckpt"
    fake_lightning_ckpt(ckpt, fmt.named_config("tiny2"), mutate=mutate)
    out = tmp_path / "out.h5"
    r = run_converter(ckpt, out, *args)
    assert r.returncode == 1, (r.returncode, r.stderr)
    assert one_line_error(r.stderr), r.stderr
    assert r.stderr.startswith("convert_ckpt: error: "), r.stderr
    for n in needles:
        assert n in r.stderr, (n, r.stderr)
    assert sorted(os.listdir(tmp_path)) == ["bad.ckpt"], "output or temp file left behind"


def test_missing_checkpoint_file(tmp_path):
    out = tmp_path / "out.h5"
    r = run_converter(tmp_path / "nope.ckpt", out)
    assert r.returncode == 1 and one_line_error(r.stderr) and "nope.ckpt" in r.stderr, r.stderr
    assert not out.exists()


def test_not_a_checkpoint(tmp_path):
    (tmp_path / "junk.ckpt").write_bytes(b"this is not a checkpoint\n" * 10)
    r = run_converter(tmp_path / "junk.ckpt", tmp_path / "out.h5")
    assert r.returncode == 1 and one_line_error(r.stderr), r.stderr
    assert sorted(os.listdir(tmp_path)) == ["junk.ckpt"]


def test_failure_keeps_existing_output(tmp_path):
    """A failed conversion must not clobber a previous good file under the same name."""
    out = tmp_path / "out.h5"
    out.write_bytes(b"previous")
    fake_lightning_ckpt(tmp_path / "bad.ckpt", fmt.named_config("tiny2"),
                        mutate=_nan("target_encoder.blocks.0.mlp.fc1.weight"))
    r = run_converter(tmp_path / "bad.ckpt", out)
    assert r.returncode == 1 and out.read_bytes() == b"previous"


# ------------------------------------------------------------------ through the engine
@pytest.mark.parametrize("prefix", ["target_encoder.", "encoder."])
def test_engine_on_converted_checkpoint(little_ckpt, tmp_path, eegpt_bin, prefix):
    require_engine(eegpt_bin)
    ckpt, target, decoy = little_ckpt
    chosen, other = (target, decoy) if prefix == "target_encoder." else (decoy, target)
    w = tmp_path / "w.h5"
    r = run_converter(ckpt, w, "--prefix", prefix)
    assert r.returncode == 0, r.stderr
    x, names, ids = make_input()
    feats, out_ids = encode_with_engine(eegpt_bin, w, x, names, tmp_path)
    cfg = fmt.named_config("little")
    expected = ref_features(cfg, chosen, x, ids)
    assert feats.shape == expected.shape == (2, 16, 4, 128)
    assert list(out_ids) == list(ids)
    err = rel_err(feats, expected)
    assert err <= 1e-5, "relative error %.3g vs reference with %s weights" % (err, prefix)
    # The other prefix's weights give a clearly different function: the right tensors were used.
    assert rel_err(feats, ref_features(cfg, other, x, ids)) > 1e-2


def test_engine_on_large_shaped_checkpoint(tmp_path, eegpt_bin):
    require_engine(eegpt_bin)
    cfg = fmt.named_config("large")
    ckpt = tmp_path / "eegpt_fake_large4E.ckpt"
    target, _ = fake_lightning_ckpt(ckpt, cfg, decoy_seed=None)
    w = tmp_path / "large.h5"
    r = run_converter(ckpt, w)
    assert r.returncode == 0, r.stderr
    os.unlink(ckpt)  # 100 MB: keep tmp small
    with h5py.File(w, "r") as f:
        assert f.attrs["embed_dim"] == 512 and f.attrs["num_heads"] == 8 and f.attrs["depth"] == 8
    x, names, ids = make_input(C=19, B=1)
    feats, _ = encode_with_engine(eegpt_bin, w, x, names, tmp_path)
    err = rel_err(feats, ref_features(cfg, target, x, ids))
    assert err <= 1e-5, "relative error %.3g" % err


# ------------------------------------------------------------------ braindecode EEGPT
def fake_braindecode(path, config, seed=21):
    """A braindecode EEGPT state_dict: the encoder under target_encoder. with the released names, its
    `chans_id` buffer and a `final_layer`; the patch stride is not in it."""
    target = fake_encoder(config, seed)
    sd = OrderedDict(("target_encoder." + k, v) for k, v in target.items())
    sd["chans_id"] = torch.arange(19)
    sd["final_layer.weight"] = torch.randn(2, 16 * config["embed_num"] * config["embed_dim"])
    sd["final_layer.bias"] = torch.zeros(2)
    torch.save(sd, path)
    return target


def test_braindecode_patch_stride_must_be_stated_and_in_range(tmp_path, eegpt_bin):
    cfg = fmt.named_config("little")
    ckpt = tmp_path / "bd.pt"
    target = fake_braindecode(ckpt, cfg)
    out = tmp_path / "w.h5"

    def config_json(stride):
        p = tmp_path / ("config%d.json" % stride)
        p.write_text('{"patch_size": 64, "patch_stride": %d, "embed_dim": %d}' % (stride, cfg["embed_dim"]))
        return p

    norm_embed = tmp_path / "norm_embed.json"
    norm_embed.write_text('{"patch_size": 64, "patch_stride": 64, "patch_module": '
                          '"braindecode.models.eegpt._PatchNormEmbed"}')
    cases = [((), "does not record its patch_stride"),
             (("--patch-stride", "65"), "patch_stride 65: must be 1..64"),
             (("--patch-stride", "0"), "patch_stride 0: must be 1..64"),
             (("--config", config_json(32), "--patch-stride", "64"), "contradicts patch_stride 32"),
             (("--config", norm_embed), "patch_module braindecode.models.eegpt._PatchNormEmbed is not computed")]
    for args, needle in cases:
        r = run_converter(ckpt, out, *args)
        assert r.returncode == 1 and one_line_error(r.stderr) and needle in r.stderr, (args, r.stderr)
        assert not out.exists()
    require_engine(eegpt_bin)
    x, names, ids = make_input()
    # Stride 64 is the official function (format version 1); 32 overlapping patches, 31 per window
    # (format version 2): the engine on the converted weights equals the reference at that stride.
    # Stride 50 does not divide 1024 - 64: 20 patches, the last 10 samples ignored (the Conv2d's floor).
    for stride, args, version, patches in ((64, ("--config", config_json(64)), 1, 16),
                                           (64, ("--patch-stride", "64"), 1, 16),
                                           (32, ("--config", config_json(32)), 2, 31),
                                           (16, ("--patch-stride", "16"), 2, 61),
                                           (50, ("--patch-stride", "50"), 2, 20)):
        r = run_converter(ckpt, out, *args)
        assert r.returncode == 0, r.stderr
        with h5py.File(out, "r") as f:
            assert f.attrs["format_version"] == version
            assert f.attrs.get("patch_stride", 64) == stride
        feats, _ = encode_with_engine(eegpt_bin, out, x, names, tmp_path, tag="s%d" % stride)
        assert feats.shape == (2, patches, cfg["embed_num"], cfg["embed_dim"])
        expected = ref_features(dict(cfg, patch_stride=stride), target, x, ids)
        assert rel_err(feats, expected) <= 1e-5, (stride, rel_err(feats, expected))
        if stride == 32:
            # Each time patch is encoded on its own: the even patches start where stride 64's do and
            # equal its features; the odd ones (half-way) are new.
            stride64 = ref_features(cfg, target, x, ids)
            assert rel_err(feats[:, ::2], stride64) <= 1e-5
            assert rel_err(feats[:, 1:-1:2], stride64[:, :-1]) > 1e-2
