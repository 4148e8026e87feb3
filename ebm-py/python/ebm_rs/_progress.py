"""Progress bars for runs, in notebooks and terminals.

A run calls its progress callable as ``progress(label, done, total)`` (at
most every 50 ms, and once at the end). :class:`Bar` shows nothing for
runs shorter than a second, then tqdm's bar (``tqdm.auto``: a widget in a
notebook, text in a terminal) when tqdm is installed, else a one-line
:class:`TextBar` on ``sys.stderr`` (which notebooks render in place too).
"""

from __future__ import annotations

import sys
import time
from typing import Any, Callable, Optional, TextIO

ProgressFn = Callable[[str, int, int], None]


def _clock(seconds: float) -> str:
    m, s = divmod(int(seconds), 60)
    h, m = divmod(m, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"


class TextBar:
    """``label [=====>     ] done/total elapsed<remaining`` on one line of
    ``stream``, rewritten in place (carriage return) at most ten times a
    second; :meth:`close` ends the line."""

    WIDTH = 30

    def __init__(self, label: str, total: int, stream: Optional[TextIO] = None):
        self.label, self.total = label, max(total, 1)
        self.stream = stream if stream is not None else sys.stderr
        self.start = time.monotonic()
        self.shown = -1.0
        self.done = 0

    def line(self, done: int, now: float) -> str:
        """The bar's text after ``done`` of ``total`` at time ``now``."""
        frac = min(max(done / self.total, 0.0), 1.0)
        fill = int(frac * self.WIDTH)
        arrow = ">" if fill < self.WIDTH else ""
        bar = "=" * fill + arrow + " " * (self.WIDTH - fill - len(arrow))
        elapsed = now - self.start
        left = elapsed * (1 - frac) / frac if frac > 0 else 0.0
        return f"{self.label} [{bar}] {done}/{self.total} {_clock(elapsed)}<{_clock(left)}"

    def update(self, done: int) -> None:
        self.done = done
        now = time.monotonic()
        if now - self.shown >= 0.1 or done >= self.total:
            self.shown = now
            self.stream.write("\r" + self.line(done, now))
            self.stream.flush()

    def close(self) -> None:
        self.stream.write("\r" + self.line(self.done, time.monotonic()) + "\n")
        self.stream.flush()


class _Tqdm:
    """tqdm's bar driven by absolute positions."""

    def __init__(self, tqdm: Any, label: str, total: int):
        self.bar = tqdm(total=total, desc=label, leave=True)

    def update(self, done: int) -> None:
        self.bar.update(done - self.bar.n)

    def close(self) -> None:
        self.bar.close()


class Bar:
    """The progress callable a run gets with ``progress=True``: silent for
    the first ``delay`` seconds, then one bar per (label, total) the run
    reports; :meth:`close` when the run returns."""

    def __init__(self, delay: float = 1.0, stream: Optional[TextIO] = None):
        self.delay, self.stream = delay, stream
        self.start = time.monotonic()
        self.key: Optional[tuple] = None
        self.bar: Any = None

    def _make(self, label: str, total: int) -> Any:
        if self.stream is None:
            try:
                from tqdm.auto import tqdm
            except ImportError:
                pass
            else:
                return _Tqdm(tqdm, label, total)
        return TextBar(label, total, self.stream)

    def __call__(self, label: str, done: int, total: int) -> None:
        if self.bar is None and time.monotonic() - self.start < self.delay:
            return
        if self.key != (label, total):
            self.close()
            self.key, self.bar = (label, total), self._make(label, total)
        self.bar.update(done)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar, self.key = None, None


def progress_fn(progress: Any) -> Optional[Any]:
    """``progress`` as a run takes it: True a :class:`Bar`, False or None
    nothing, a callable ``f(label, done, total)`` itself."""
    if progress is True:
        return Bar()
    if progress is None or progress is False:
        return None
    if callable(progress):
        return progress
    raise ValueError(f"progress: expected True, False or a callable f(label, done, total), got {progress!r}")
