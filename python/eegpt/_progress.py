"""Progress of a recording's windows: what `progress=` of embed, classify and embed_many becomes.

True shows progress only where someone watches it, a terminal (sys.stderr.isatty()), as the CLI
does: with tqdm when it is installed, else the CLI's progress line; a log file or a pipe gets
nothing (a line rewritten with '\\r' fills a log). A callable (windows_done, windows_total,
elapsed_s) is called after every batch, terminal or not (to drive a notebook's bar, or a log).
"""
import sys
from typing import Callable, Optional, Union

# progress=: True (on a terminal), False / None (none), or called (windows_done, windows_total, elapsed_s).
ProgressArg = Union[bool, None, Callable[[int, int, float], object]]


class ProgressLine:
    """The CLI's progress line (windows done, windows/s, time left), rewritten in place on
    sys.stderr."""

    def __init__(self, name, width=30):
        self.name, self.width = name, width

    def __call__(self, done, total, elapsed):
        full = self.width * done // max(1, total)
        rate = done / elapsed if elapsed > 0 else 0.0
        left = (total - done) / rate if rate > 0 else 0.0
        sys.stderr.write("\r%s [%s%s] %d/%d windows  %.1f windows/s  %d:%02d left " % (
            self.name, "#" * full, "." * (self.width - full), done, total, rate, left // 60, left % 60))
        if done == total:
            sys.stderr.write("\n")
        sys.stderr.flush()


class TqdmBar:
    """A tqdm bar of windows, made at the first call (when the total is known)."""

    def __init__(self, name):
        self.name, self.bar = name, None

    def __call__(self, done, total, elapsed):
        from tqdm import tqdm

        if self.bar is None:
            self.bar = tqdm(total=total, desc=self.name, unit="windows", file=sys.stderr)
            self.bar.start_t -= elapsed  # the engine's clock started before the first batch
        self.bar.update(done - self.bar.n)
        if done == total:
            self.bar.close()


def progress_callback(progress: ProgressArg, name: str) -> Optional[Callable[[int, int, float], object]]:
    """The engine's progress callable for `progress=` (True, False, None or a callable), or None."""
    if progress is None or progress is False:
        return None
    if callable(progress):
        return progress
    if progress is not True:
        raise TypeError("progress must be True, False or a callable (windows_done, windows_total, elapsed_s), "
                        "not %r" % (progress,))
    isatty = getattr(sys.stderr, "isatty", None)
    if not (isatty and isatty()):
        return None
    try:
        import tqdm  # noqa: F401
    except ImportError:
        return ProgressLine(name)
    return TqdmBar(name)
