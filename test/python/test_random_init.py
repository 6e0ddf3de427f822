"""The deterministic random initialisation of docs/weight-format.md (no engine needed)."""
import struct

import numpy as np
import pytest

from eegpt_testlib import fmt

M64 = (1 << 64) - 1


# Independent pure-Python-integer version of docs/weight-format.md's definition, element by element.
def _mix(z):
    z ^= z >> 30
    z = (z * 0xBF58476D1CE4E5B9) & M64
    z ^= z >> 27
    z = (z * 0x94D049BB133111EB) & M64
    return z ^ (z >> 31)


def _fnv(name):
    h = 0xCBF29CE484222325
    for b in name.encode("utf-8"):
        h = ((h ^ b) * 0x100000001B3) & M64
    return h


def _value_bits(name, i, seed):
    key = _mix((seed & M64) ^ _fnv(name))
    s = 2 * ((_mix((key + (i + 1) * 0x9E3779B97F4A7C15) & M64) >> 40) / 2 ** 24) - 1
    if "norm" in name and name.endswith(".weight"):
        v = 1 + 0.1 * s
    elif name.endswith(".bias"):
        v = 0.02 * s
    else:
        v = 0.034641016151377546 * s
    return struct.unpack("<I", struct.pack("<f", v))[0]  # round to float32, as bits


# (name, flat index, seed, float32 bits). Frozen: the C++ side can check the same numbers.
GOLDEN = [
    ("summary_token", 0, 0, 0x3B563704),
    ("blocks.1.norm2.weight", 5, 0, 0x3F787B66),
    ("norm.bias", 63, 0, 0x3BD237F1),
    ("blocks.0.mlp.fc1.weight", 12345, 7, 0x3AB45540),
    ("chan_embed.weight", 61 * 64 + 63, M64, 0x3B92DECE),
]


def _bits(arr, i):
    return int(np.ascontiguousarray(arr, dtype=np.float32).reshape(-1).view(np.uint32)[i])


@pytest.mark.parametrize("name,i,seed,bits", GOLDEN)
def test_pure_python_definition_matches_golden(name, i, seed, bits):
    assert _value_bits(name, i, seed) == bits


@pytest.mark.parametrize("name,i,seed,bits", GOLDEN)
def test_vectorised_matches_golden(name, i, seed, bits):
    shape = dict(fmt.tensor_specs(fmt.named_config("tiny2")))[name]
    assert _bits(fmt.random_values(name, shape, seed), i) == bits


def test_vectorised_matches_pure_python_sample():
    sd = fmt.random_init(fmt.named_config("tiny1"), 12345)
    rng = np.random.default_rng(0)
    for name, arr in sd.items():
        for i in rng.integers(0, arr.size, size=3):
            assert _bits(arr, int(i)) == _value_bits(name, int(i), 12345), (name, int(i))


def test_deterministic_and_seed_dependent():
    cfg = fmt.named_config("tiny2")
    a, b, c = fmt.random_init(cfg, 3), fmt.random_init(cfg, 3), fmt.random_init(cfg, 4)
    assert list(a) == [n for n, _ in fmt.tensor_specs(cfg)]
    for name in a:
        assert a[name].dtype == np.float32 and a[name].tobytes() == b[name].tobytes()
        assert a[name].tobytes() != c[name].tobytes(), name


def test_tensors_differ_from_each_other():
    # The name enters the key: two same-shaped tensors must not share values.
    sd = fmt.random_init(fmt.named_config("tiny2"), 0)
    assert not np.array_equal(sd["blocks.0.attn.proj.weight"], sd["blocks.1.attn.proj.weight"])
    assert not np.array_equal(sd["blocks.0.norm1.bias"], sd["blocks.0.norm2.bias"])


def test_value_ranges():
    sd = fmt.random_init(fmt.named_config("tiny2"), 0)
    for name, arr in sd.items():
        kind = fmt.init_kind(name)
        lo, hi = {"norm_weight": (0.9, 1.1), "bias": (-0.02, 0.02),
                  "weight": (-0.034641016151377546, 0.034641016151377546)}[kind]
        assert arr.min() >= np.float32(lo) and arr.max() <= np.float32(hi), name
    w = sd["blocks.0.mlp.fc1.weight"]
    assert abs(float(w.std()) - 0.02) < 0.001


def test_fixture_file_equals_random_init(tiny2_weights):
    config, sd = fmt.read_weights(tiny2_weights)
    assert config == fmt.named_config("tiny2")
    ref = fmt.random_init(config, 0)
    assert list(sd) == list(ref)
    for name in ref:
        assert sd[name].dtype == np.float32
        assert sd[name].tobytes() == ref[name].tobytes(), name
    attrs = fmt.read_attrs(tiny2_weights)
    assert attrs["trained"] == 0 and attrs["random_seed"] == 0
    assert attrs["source_checkpoint"] == "random-init:tiny2" and attrs["source_sha256"] == ""
    assert attrs["channel_names"] == fmt.CHANNEL_NAMES


def test_attribute_types(tiny2_weights):
    """Exact HDF5 types the C++ loader expects (docs/weight-format.md)."""
    import h5py

    with h5py.File(tiny2_weights, "r") as f:
        for k in ("format_version", "embed_dim", "depth", "num_heads", "embed_num", "patch_size",
                  "mlp_hidden", "qkv_bias", "trained", "random_seed"):
            v = f.attrs[k]
            assert isinstance(v, np.int64), (k, type(v))
        assert isinstance(f.attrs["layernorm_eps"], np.float64)
        for k in ("format", "source_checkpoint", "source_sha256", "source_prefix", "converter_version"):
            t = f.attrs.get_id(k).get_type()
            assert isinstance(t, h5py.h5t.TypeStringID) and t.is_variable_str(), k
        cn = f.attrs.get_id("channel_names")
        assert cn.shape == (62,) and cn.get_type().is_variable_str()
        for name, shape in fmt.tensor_specs(fmt.named_config("tiny2")):
            d = f["encoder"][name]
            assert d.dtype == np.float32 and d.shape == shape, name


def test_large_config_parameter_count():
    specs = fmt.tensor_specs(fmt.named_config("large"))
    assert sum(int(np.prod(s)) for _, s in specs) == 25287168


def test_normalize_channel_and_ids():
    assert fmt.normalize_channel("Fc5.") == "FC5"
    assert fmt.normalize_channel("cz..") == "CZ"
    assert list(fmt.channel_ids(["Fp1", "cz", "O2.", "T7", "FPZ"])) == [0, 29, 61, 25, 1]
    with pytest.raises(ValueError, match="XYZ"):
        fmt.channel_ids(["Fp1", "XYZ"])


def test_infer_config_named_and_explicit_heads():
    for name in fmt.NAMED_CONFIGS:
        cfg = fmt.named_config(name)
        # Zero-stride views: shapes without allocating the large configurations.
        shapes = {n: np.broadcast_to(np.float32(0), s) for n, s in fmt.tensor_specs(cfg)}
        assert fmt.infer_config(shapes) == cfg
    odd = fmt.make_config(96, 2, 3, 3)
    sd = {n: np.empty(s, np.float32) for n, s in fmt.tensor_specs(odd)}
    with pytest.raises(ValueError, match="num-heads"):
        fmt.infer_config(sd)
    assert fmt.infer_config(sd, num_heads=3) == odd


def test_validate_state_dict_names_the_key():
    cfg = fmt.named_config("tiny2")
    sd = fmt.random_init(cfg, 0)
    fmt.validate_state_dict(sd, cfg)
    bad = dict(sd)
    del bad["blocks.1.mlp.fc2.bias"]
    with pytest.raises(ValueError, match=r"missing tensor 'blocks\.1\.mlp\.fc2\.bias'"):
        fmt.validate_state_dict(bad, cfg)
    bad = dict(sd, **{"blocks.0.attn.extra": np.zeros(3, np.float32)})
    with pytest.raises(ValueError, match=r"unexpected tensor 'blocks\.0\.attn\.extra'"):
        fmt.validate_state_dict(bad, cfg)
    bad = dict(sd, **{"norm.weight": np.zeros(63, np.float32)})
    with pytest.raises(ValueError, match=r"'norm\.weight' has shape"):
        fmt.validate_state_dict(bad, cfg)


def test_write_read_roundtrip(tmp_path):
    cfg = fmt.named_config("tiny1")
    sd = fmt.random_init(cfg, 9)
    p = tmp_path / "w.h5"
    fmt.write_weights(p, sd, cfg, dict(trained=0, random_seed=9, source_checkpoint="random-init:tiny1",
                                       source_sha256="", source_prefix="", converter_version="1.0"))
    cfg2, sd2 = fmt.read_weights(p)
    assert cfg2 == cfg and all(np.array_equal(sd[k], sd2[k]) for k in sd)
    assert [q.name for q in tmp_path.iterdir()] == ["w.h5"]  # no temp file left behind
