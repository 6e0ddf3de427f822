"""The Python examples of the README and of docs/python.md run as written (in a temporary directory)
and print what their comments say."""
import contextlib
import io
import os
import re

import pytest

from conftest import lib


@pytest.mark.parametrize("page, heading", [("README.md", "## Python: `import eegpt`"),
                                           ("docs/python.md", "## The example")])
def test_the_python_example_runs(page, heading, tmp_path, monkeypatch):
    text = open(os.path.join(lib.REPO, page)).read()
    section = text[text.index(heading):]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    monkeypatch.chdir(tmp_path)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, page, "exec"), {})
    printed = out.getvalue().splitlines()
    # Each print's expected output is the comment on its line.
    expected = [line.split("# ", 1)[1] for line in code.splitlines() if line.startswith("print(")]
    assert len(expected) >= 3
    assert printed[:len(expected)] == expected
    assert "at least 64 (one patch), got 50" in printed[-1]
    assert (tmp_path / "eegpt_demo_recording.edf").exists()


def test_the_readme_mne_and_scikit_learn_example_runs(tmp_path, monkeypatch):
    # The README's second Python block continues its first (path, model, numpy as np, eegpt).
    text = open(os.path.join(lib.REPO, "README.md")).read()
    section = text[text.index("## Python: `import eegpt`"):]
    first, second = re.findall(r"```python\n(.*?)```", section, re.S)[:2]
    monkeypatch.chdir(tmp_path)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        scope = {}
        exec(compile(first.split("try:")[0], "README.md", "exec"), scope)
        exec(compile(second, "README.md", "exec"), scope)
    expected = [line.split("# ", 1)[1] for line in first.split("try:")[0].splitlines() + second.splitlines()
                if line.startswith("print(")]
    assert len(expected) >= 6 and out.getvalue().splitlines() == expected
    assert any((tmp_path / "eegpt_cache").iterdir())  # the features cache was used
