"""The type stubs of the extension (eegpt/_core.pyi) name exactly what the extension has, so they
cannot drift from engine/python/module.cpp; the package ships them and py.typed."""
import ast
import re
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


def public_api():
    """(name, object) of every public function and class of eegpt.__all__, and of the public methods
    (and __init__) those classes define."""
    import inspect

    for name in eegpt.__all__:
        obj = getattr(eegpt, name)
        if isinstance(obj, str):  # __version__
            continue
        yield name, obj
        if inspect.isclass(obj) and not issubclass(obj, BaseException):
            for m, member in vars(obj).items():
                if (not m.startswith("_") or m == "__init__") and callable(getattr(obj, m)) \
                        and not isinstance(member, property):
                    yield "%s.%s" % (name, m), getattr(obj, m)


def numpydoc_section(doc, title):
    import inspect

    lines = inspect.cleandoc(doc or "").splitlines()
    return any(a == title and set(b) == {"-"} and len(b) == len(title) for a, b in zip(lines, lines[1:]))


def test_public_api_is_annotated_and_has_numpydoc_docstrings():
    import inspect

    problems = []
    for name, obj in public_api():
        doc = inspect.getdoc(obj)
        if not doc:
            problems.append("%s: no docstring" % name)
            continue
        if inspect.isclass(obj):
            if issubclass(obj, BaseException):
                continue
            init = inspect.signature(obj.__init__)
            if len(init.parameters) > 1 and not numpydoc_section(obj.__doc__, "Parameters"):
                problems.append("%s: no numpydoc Parameters section (of __init__'s parameters)" % name)
            for p in list(init.parameters)[1:]:
                if not re.search(r"^%s(\s*:|$)" % re.escape(p), inspect.cleandoc(obj.__doc__), re.M):
                    problems.append("%s: parameter %s not described" % (name, p))
            for prop, member in vars(obj).items():
                if isinstance(member, property) and not prop.startswith("_") and not member.__doc__:
                    problems.append("%s.%s: a property without a docstring" % (name, prop))
            continue
        sig = inspect.signature(obj)
        params = [p for p in sig.parameters.values() if p.name not in ("self", "cls")]
        for p in params:
            if p.annotation is inspect.Parameter.empty:
                problems.append("%s: parameter %s has no annotation" % (name, p.name))
        if sig.return_annotation is inspect.Signature.empty:
            problems.append("%s: no return annotation" % name)
        if name.endswith(".__init__"):
            continue  # documented in the class's docstring
        if params and not numpydoc_section(doc, "Parameters"):
            problems.append("%s: no numpydoc Parameters section" % name)
        for p in params:
            if not re.search(r"^%s(\s*:|$)" % re.escape(str(p).split(":")[0].split("=")[0]), doc, re.M):
                problems.append("%s: parameter %s not described" % (name, p.name))
        if sig.return_annotation not in (None, "None") and not numpydoc_section(doc, "Returns"):
            problems.append("%s: no numpydoc Returns section" % name)
    assert problems == [], "\n".join(problems)
