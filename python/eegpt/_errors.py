"""The engine's one-line errors as Python exceptions: eegpt.Error (a ValueError) for bad input,
OSError (FileNotFoundError, PermissionError) when a named file cannot be read."""
import errno
import os

from . import _core


def unreadable(path):
    """An OSError for a path that cannot be read, or None."""
    if os.path.isdir(path):
        return IsADirectoryError(errno.EISDIR, "is a directory", path)
    if not os.path.exists(path):
        return FileNotFoundError(errno.ENOENT, "no such file", path)
    if not os.access(path, os.R_OK):
        return PermissionError(errno.EACCES, "not readable", path)
    return None


def engine_call(fn, *args, files=(), **kwargs):
    """fn(*args); an engine error about a file in `files` that cannot be read becomes an OSError
    carrying the engine's message."""
    try:
        return fn(*args, **kwargs)
    except _core.Error as e:
        for path in files:
            err = unreadable(path)
            if err is not None:
                raise _with_message(err, str(e)) from None
        raise


def _with_message(err, message):
    # str() of the exception is the engine's one line, as the CLI prints it (an OSError given
    # errno and filename would print "[Errno 2] ..." instead); the type says what went wrong.
    return type(err)(message)
