"""The type stubs of the extension (eegpt/_core.pyi) name exactly what the extension has, so they
cannot drift from engine/python/module.cpp; the package ships them and py.typed."""
import ast
import os

import eegpt
from eegpt import _core


def public(names):
    return {n for n in names if not n.startswith("_")}


def test_stubs_match_the_extension():
    path = os.path.join(os.path.dirname(eegpt.__file__), "_core.pyi")
    assert os.path.exists(os.path.join(os.path.dirname(eegpt.__file__), "py.typed"))
    tree = ast.parse(open(path).read())
    top, classes = set(), {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            top.add(node.name)
        if isinstance(node, ast.ClassDef):
            classes[node.name] = {n.name for n in node.body if isinstance(n, ast.FunctionDef)}
    assert public(top) == public(n for n in dir(_core) if not isinstance(getattr(_core, n), (str, type(_core))))
    for name, members in classes.items():
        cls = getattr(_core, name)
        if issubclass(cls, Exception):
            continue
        assert public(members) == public(vars(cls)), name
