"""The engine's one-line errors as Python exceptions: eegpt.Error (a ValueError) for bad input,
OSError (FileNotFoundError, PermissionError) when a named file cannot be read."""
import errno
import os
import re
from typing import Union

from . import _core

# What every path argument of the package accepts: what os functions take.
PathArg = Union[str, bytes, "os.PathLike[str]", "os.PathLike[bytes]"]


def fs_path(path, what="path"):
    """A path (str, bytes or os.PathLike) as str, as os functions take it; TypeError for others."""
    try:
        return os.fsdecode(os.fspath(path))
    except TypeError:
        raise TypeError("%s must be a str, bytes or os.PathLike, not %s" % (what, type(path).__name__)) from None


def whole_number(value, what, low, high=None):
    """value as an int, at least low (and at most high): TypeError for a non-integer, eegpt.Error
    (a ValueError) outside the range."""
    if isinstance(value, bool) or not hasattr(value, "__index__"):
        raise TypeError("%s must be an integer, not %r" % (what, value))
    value = value.__index__()
    if value < low or (high is not None and value > high):
        raise _core.Error("%s %d is out of range: must be at least %d%s" % (
            what, value, low, "" if high is None else " and at most %d" % high))
    return value


def unreadable(path):
    """An OSError for a path that cannot be read, or None."""
    if os.path.isdir(path):
        return IsADirectoryError(errno.EISDIR, "is a directory", path)
    if not os.path.exists(path):
        return FileNotFoundError(errno.ENOENT, "no such file", path)
    if not os.access(path, os.R_OK):
        return PermissionError(errno.EACCES, "not readable", path)
    return None


# The engine's messages name the CLI's options where they say how to fix the input; in Python,
# the arguments that do the same.
_PYTHON_WORDS = [(re.compile(p), r) for p, r in (
    (r"--stride (\S+) s", r"stride=\1 s"),
    (r"--channels: ", "channels: "),
    (r"--fill-missing zeros fills", "fill_missing=True fills"),
    (r"--batch must", "batch must"),
    (r"use --precision fp32", 'use precision="fp32"'),
    (r"use --device cpu", 'use device="cpu"'),
    (r"--force replaces", "force=True replaces"),
)]


def python_words(message):
    """An engine message with the CLI's options as the Python arguments."""
    for pattern, replacement in _PYTHON_WORDS:
        message = pattern.sub(replacement, message)
    return message


def engine_call(fn, *args, files=(), **kwargs):
    """fn(*args); an engine error about a file in `files` that cannot be read becomes an OSError
    carrying the engine's message; the CLI's options in a message become Python arguments."""
    try:
        return fn(*args, **kwargs)
    except _core.Error as e:
        message = python_words(str(e))
        for path in files:
            err = unreadable(path)
            if err is not None:
                raise _with_message(err, message) from None
        if message != str(e):
            raise _core.Error(message) from None
        raise


def _with_message(err, message):
    # str() of the exception is the engine's one line, as the CLI prints it (an OSError given
    # errno and filename would print "[Errno 2] ..." instead); the type says what went wrong.
    return type(err)(message)
