"""Every relative link of the documentation leads somewhere: the README, docs/, bench/RESULTS.md and
the READMEs beside the code. A link's file must exist, and a #anchor into a Markdown file must name
one of its headings (GitHub's rule for heading anchors). No engine needed."""
import glob
import os
import re

from eegpt_testlib import REPO

LINK = re.compile(r"!?\[[^\]]*\]\(([^()\s]+)(?:\s+\"[^\"]*\")?\)")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
FENCE = re.compile(r"^\s*(```|~~~)")


def documents(root):
    """The Markdown files of the documentation under `root`."""
    patterns = ["README.md", "docs/*.md", "bench/*.md", "test/**/*.md", "tools/**/*.md", "weights/**/*.md"]
    found = set()
    for pattern in patterns:
        found.update(glob.glob(os.path.join(root, pattern), recursive=True))
    return sorted(found)


def prose_lines(path):
    """(line number, text) of the lines outside fenced code blocks."""
    inside = False
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if FENCE.match(line):
                inside = not inside
                continue
            if not inside:
                yield number, line


def anchors(path):
    """The anchors GitHub gives the headings of a Markdown file: lower case, punctuation dropped,
    spaces as hyphens, repeated headings numbered -1, -2, ..."""
    seen, result = {}, set()
    for _, line in prose_lines(path):
        m = HEADING.match(line)
        if not m:
            continue
        slug = re.sub(r"[^\w\- ]", "", m.group(2).strip().lower()).replace(" ", "-")
        n = seen.get(slug, 0)
        seen[slug] = n + 1
        result.add(slug if n == 0 else "%s-%d" % (slug, n))
    return result


def links(path):
    """(line number, target) of every link that is not to another site."""
    for number, line in prose_lines(path):
        for m in LINK.finditer(re.sub(r"`[^`]*`", "", line)):  # inline code is not a link
            target = m.group(1)
            if not re.match(r"^[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto: ...
                yield number, target


def broken_links(root):
    """'FILE:LINE: TARGET (why)' for every relative link that does not resolve, and the number of
    links checked."""
    broken, checked = [], 0
    for doc in documents(root):
        for number, target in links(doc):
            checked += 1
            where = "%s:%d: %s" % (os.path.relpath(doc, root), number, target)
            path, _, anchor = target.partition("#")
            resolved = os.path.normpath(os.path.join(os.path.dirname(doc), path)) if path else doc
            if not os.path.exists(resolved):
                broken.append(where + " (no such file)")
            elif anchor and resolved.endswith(".md") and anchor not in anchors(resolved):
                broken.append(where + " (no such heading)")
    return broken, checked


def test_every_relative_link_resolves():
    broken, checked = broken_links(REPO)
    assert checked > 50, "only %d links found: is the documentation where this test looks?" % checked
    assert not broken, "broken links:\n" + "\n".join(broken)


def test_a_broken_file_or_heading_is_reported(tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.md").write_text("# A page\n\n## Its `second` part\n")
    (tmp_path / "README.md").write_text(
        "[ok](docs/a.md) [ok](docs/a.md#its-second-part) [ok](#top) [ok](https://example.org/x.md)\n"
        "# Top\n"
        "[gone](docs/missing.md) [no heading](docs/a.md#no-such-part)\n"
        "```\n[in code](docs/missing-too.md)\n```\n"
        "`[inline code](docs/missing-three.md)`\n")
    broken, checked = broken_links(str(tmp_path))
    assert broken == ["README.md:3: docs/missing.md (no such file)",
                      "README.md:3: docs/a.md#no-such-part (no such heading)"]
    assert checked == 5
