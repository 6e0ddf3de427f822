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
