"""The README's Python example runs as written (in a temporary directory) and prints what its
comments say."""
import contextlib
import io
import os
import re

from conftest import lib


def test_readme_example_runs(tmp_path, monkeypatch):
    readme = open(os.path.join(lib.REPO, "README.md")).read()
    section = readme[readme.index("## Python: `import eegpt`"):]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    monkeypatch.chdir(tmp_path)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, "README.md", "exec"), {})
    printed = out.getvalue().splitlines()
    # Each print's expected output is the comment on its line.
    expected = [line.split("# ", 1)[1] for line in code.splitlines() if line.startswith("print(")]
    assert printed[:len(expected)] == expected
    assert "multiple of 64, got 1000" in printed[-1]
    assert (tmp_path / "eegpt_demo_recording.edf").exists()
