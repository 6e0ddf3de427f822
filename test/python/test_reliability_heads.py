"""Issue 23, item 17: class names of head files. tools/convert_head.py writes any number of them
(a dataset, format version 3: an attribute holds a few thousand at most) and refuses, in one line
and without an output, what the engine would refuse or misreport: one class for a softmax head,
an empty list or name, a repeated name. The engine refuses a hand-made file with an empty or
repeated class name, and still loads version 2 files (the names in the attribute)."""
import os
import subprocess
import sys

import h5py
import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import recordings_testlib as lib  # noqa: E402
from test_reliability import REC, micro, one_line_error  # noqa: E402,F401 - micro is a fixture

CONVERT_HEAD = os.path.join(lib.REPO, "tools", "convert_head.py")
TINY = ["--input-channels", "standard19", "--embed-num", "1", "--embed-dim", "16", "--hidden", "2"]


def convert(*args):
    return subprocess.run([sys.executable, CONVERT_HEAD, *map(str, args)], capture_output=True, text=True)


def converter_refuses(out, *args):
    """The converter's contract: one line on stderr, exit status 1, no output, no partial file."""
    r = convert("--random", out, *TINY, *args)
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 1 and len(lines) == 1 and lines[0].startswith("convert_head: error: "), \
        "exit %d, stderr:\n%s" % (r.returncode, r.stderr)
    assert os.listdir(os.path.dirname(out)) == [], os.listdir(os.path.dirname(out))
    return lines[0]


def classify(micro, head, out):
    return lib.run("classify", lib.recording(REC), "--weights", micro, "--head", head, "--output", out, "--quiet")


def with_class_names(src, dst, names, version):
    """A copy of head `src` whose class names are `names`, where format `version` keeps them:
    the dataset /class_names (3) or the root attribute (2)."""
    with h5py.File(src, "r") as f, h5py.File(dst, "w") as g:
        for k, v in f.attrs.items():
            g.attrs[k] = v
        for k in f:
            if k != "class_names":
                f.copy(k, g)
        if "class_names" in g.attrs:
            del g.attrs["class_names"]
        g.attrs["format_version"] = np.int64(version)
        data = np.array(names, dtype=object)
        if version == 3:
            g.create_dataset("class_names", data=data, dtype=h5py.string_dtype())
        else:
            g.attrs.create("class_names", data=data, dtype=h5py.string_dtype())
    return dst


@pytest.fixture(scope="module")
def good_head(tmp_path_factory):
    path = tmp_path_factory.mktemp("h") / "head.h5"
    r = convert("--random", path, *TINY, "--classes", "a,b,c")
    assert r.returncode == 0, r.stderr
    return path


def test_ten_thousand_classes_convert_and_classify(micro, tmp_path):
    names = ["c%d" % i for i in range(10000)]
    head = tmp_path / "many.h5"
    r = convert("--random", head, *TINY, "--classes", ",".join(names))
    assert r.returncode == 0, r.stderr
    with h5py.File(head, "r") as f:
        assert int(f.attrs["format_version"]) == 3 and "class_names" not in f.attrs
        assert lib.strings(f["class_names"]) == names
    out = tmp_path / "p.h5"
    r = classify(micro, head, out)
    assert r.returncode == 0, r.stderr
    with h5py.File(out, "r") as f:
        assert f["probabilities"].shape == (15, 10000)
        assert lib.strings(f["class_names"]) == names


@pytest.mark.parametrize("classes, message", [
    ("a", "1 class name for a softmax head: it needs at least 2"),
    ("", "class name 1 of 1 is empty"),
    ("a,,b", "class name 2 of 3 is empty"),
    ("a, ", "class name 2 of 2 is empty"),
    ("a,b,a", "class name 'a' is listed twice"),
])
def test_the_converter_refuses_class_names_the_engine_cannot_report(classes, message, tmp_path):
    out = tmp_path / "out" / "h.h5"
    out.parent.mkdir()
    assert message in converter_refuses(str(out), "--classes", classes)


@pytest.mark.parametrize("version", [2, 3])
@pytest.mark.parametrize("names, message", [
    (["a", "b", "a"], "class name 'a' is listed twice"),
    (["a", "", "c"], "class_names[1] is empty"),
    (["a", "b", "  "], "class_names[2] is empty"),
])
def test_the_engine_refuses_empty_or_repeated_class_names(names, message, version, micro, good_head, tmp_path):
    head = with_class_names(good_head, tmp_path / "bad.h5", names, version)
    line = one_line_error(classify(micro, head, tmp_path / "p.h5"))
    assert message in line and "bad.h5" in line
    assert not (tmp_path / "p.h5").exists()


def test_version_2_files_load_as_before_and_version_3_needs_the_dataset(micro, good_head, tmp_path):
    out3, out2 = tmp_path / "p3.h5", tmp_path / "p2.h5"
    assert classify(micro, good_head, out3).returncode == 0
    v2 = with_class_names(good_head, tmp_path / "v2.h5", ["a", "b", "c"], 2)
    r = classify(micro, v2, out2)
    assert r.returncode == 0, r.stderr
    with h5py.File(out3, "r") as f3, h5py.File(out2, "r") as f2:
        np.testing.assert_array_equal(f2["probabilities"][()], f3["probabilities"][()])
        assert lib.strings(f2["class_names"]) == ["a", "b", "c"]
    # version 3 with the names where version 2 keeps them
    v3_attr = tmp_path / "v3attr.h5"
    with_class_names(good_head, v3_attr, ["a", "b", "c"], 2)
    with h5py.File(v3_attr, "r+") as f:
        f.attrs["format_version"] = np.int64(3)
    assert "format version 3 keeps the class names in the dataset" in one_line_error(
        classify(micro, v3_attr, tmp_path / "x.h5"))


def test_an_integer_beyond_int_range_is_not_read_modulo_2_to_the_32(micro, good_head, tmp_path):
    """Found while writing the head fuzz target: patch_stride 2^32 + 64 was narrowed to 64 and accepted."""
    head = tmp_path / "stride.h5"
    with_class_names(good_head, head, ["a", "b", "c"], 2)  # a version the engine read before
    with h5py.File(head, "r+") as f:
        step = next(g for g in f["steps"].values() if g.attrs["op"] == "encoder")
        step.attrs["patch_stride"] = np.int64(2 ** 32 + 64)
    assert "patch_stride must be 1..4096" in one_line_error(classify(micro, head, tmp_path / "p.h5"))
