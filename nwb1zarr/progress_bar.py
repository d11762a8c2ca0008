"""The CLI's progress display: one bar per stage on stderr, with amount, rate and time left.

It is a progress callback (see :mod:`nwb1zarr.progress`) that accepts ``unit``, so byte-counting stages
(``write``, ``download``, ``verify``) show bytes (``12.3/45.6 MB  3.4 MB/s``), the others their items. It draws
with tqdm when that is installed (``pip install "nwb1zarr[progress]"``), else with a plain bar of the same fields;
nothing at all when the stream is not a terminal, unless ``show=True``. ``verbose=True`` adds one line per finished
stage with its timing (also when no bar is drawn).

>>> import io
>>> out = io.StringIO()
>>> display = ProgressDisplay(stream=out, show=False, verbose=True, clock=iter([0.0, 0.0, 2.0, 2.0]).__next__)
>>> display("download", 0, 4_000_000, unit="bytes"); display("download", 4_000_000, 4_000_000, unit="bytes")
>>> out.getvalue()
'download: 2.0 s, 4.00 MB at 2.00 MB/s\\n'
"""

from __future__ import annotations

import io
import os
import sys
import time
from collections.abc import Callable
from typing import Any, TextIO

from .progress import STAGE_UNITS

BACKENDS = ("tqdm", "plain")


def tqdm_available() -> bool:
    """True when tqdm can be imported (the optional ``progress`` extra)."""
    try:
        import tqdm  # noqa: F401
    except ImportError:
        return False
    return True


def format_amount(value: float, unit: str) -> str:
    """Bytes in decimal units (like the rest of the CLI), items as counts.

    >>> format_amount(585_484, "bytes"), format_amount(1_043_912_376, "bytes"), format_amount(424, "tasks")
    ('585.5 kB', '1.04 GB', '424')
    """
    if unit != "bytes":
        return f"{value:.0f}"
    for scale, name in ((1e12, "TB"), (1e9, "GB"), (1e6, "MB"), (1e3, "kB")):
        if value >= scale:
            number = value / scale
            return f"{number:.2f} {name}" if number < 10 else f"{number:.1f} {name}"
    return f"{value:.0f} B"


def format_duration(seconds: float) -> str:
    """``H:MM:SS``, or ``MM:SS`` under an hour.

    >>> format_duration(9.4), format_duration(3725)
    ('00:09', '1:02:05')
    """
    seconds = round(max(seconds, 0))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


class _PlainBar:
    """One line redrawn in place with ``\\r``: ``write  45% |#####-----| 12/27 MB  3 MB/s  00:05 left``."""

    WIDTH = 24

    def __init__(self, stream: TextIO, stage: str, total: int, unit: str, initial: int,
                 clock: Callable[[], float], min_interval: float) -> None:
        self.stream, self.stage, self.total, self.unit = stream, stage, total, unit
        self.clock, self.min_interval = clock, min_interval
        self.start, self.initial, self.last_draw = clock(), initial, float("-inf")
        self.done = initial
        self.width = 0
        self.update(initial, force=True)

    def update(self, done: int, *, force: bool = False) -> None:
        self.done = done
        now = self.clock()
        if not force and now - self.last_draw < self.min_interval:
            return
        self.last_draw = now
        line = self.render(now)
        pad = " " * max(0, self.width - len(line))
        self.stream.write(f"\r{line}{pad}")
        self.stream.flush()
        self.width = len(line)

    def render(self, now: float) -> str:
        elapsed = now - self.start
        rate = (self.done - self.initial) / elapsed if elapsed > 0 else 0.0
        per_second = f"{format_amount(rate, self.unit)}/s" if self.unit == "bytes" else f"{rate:.1f} {self.unit}/s"
        amount = f"{format_amount(self.done, self.unit)}"
        if self.total > 0:
            fraction = min(1.0, self.done / self.total)
            filled = round(fraction * self.WIDTH)
            bar = "#" * filled + "-" * (self.WIDTH - filled)
            amount += f"/{format_amount(self.total, self.unit)}" + ("" if self.unit == "bytes" else f" {self.unit}")
            left = (self.total - self.done) / rate if rate > 0 else None
            eta = f"{format_duration(left)} left" if left is not None else "--:-- left"
            return f"{self.stage:>8} {fraction:4.0%} |{bar}| {amount}  {per_second}  {eta}"
        suffix = "" if self.unit == "bytes" else f" {self.unit}"
        return f"{self.stage:>8} {amount}{suffix}  {per_second}  {format_duration(elapsed)}"

    def close(self) -> None:
        self.update(self.done, force=True)
        self.stream.write("\n")
        self.stream.flush()


def _tqdm_bar(stream: TextIO, stage: str, total: int, unit: str, initial: int, min_interval: float) -> Any:
    import tqdm

    class Bar(tqdm.tqdm):  # type: ignore[misc]
        monitor_interval = 0  # no monitor thread: the CLI forks a supervised child after a download

    in_bytes = unit == "bytes"
    try:  # a terminal that reports no size (0 columns) would make tqdm draw nothing
        columns = os.get_terminal_size(stream.fileno()).columns
    except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
        columns = 0
    width: dict[str, Any] = {"dynamic_ncols": True} if columns > 0 else {"ncols": 100, "nrows": 24}
    return Bar(total=total if total >= 0 else None, initial=initial, desc=f"{stage:>8}", file=stream,
               unit="B" if in_bytes else f" {unit}", unit_scale=in_bytes, unit_divisor=1000, leave=True,
               mininterval=min_interval, disable=False, smoothing=0.3, **width)


class ProgressDisplay:
    """The CLI's progress callback: ``display(stage, done, total, unit=...)``; call :meth:`close` at the end."""

    accepts_unit = True

    def __init__(self, *, stream: TextIO | None = None, show: bool | None = None, verbose: bool = False,
                 backend: str | None = None, clock: Callable[[], float] = time.monotonic,
                 min_interval: float = 0.1) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.show = _isatty(self.stream) if show is None else show
        self.verbose = verbose
        if backend is None:
            backend = "tqdm" if tqdm_available() else "plain"
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
        self.backend, self.clock, self.min_interval = backend, clock, min_interval
        self.stage: str | None = None
        self.bar: Any = None
        self.started = self.ended = clock()
        self.first = self.done = self.total = 0
        self.unit = "steps"

    def __call__(self, stage: str, done: int, total: int, *, unit: str | None = None) -> None:
        unit = unit or STAGE_UNITS.get(stage, "steps")
        if stage != self.stage or unit != self.unit:
            self.close()
            self._open(stage, done, total, unit)
        elif total != self.total:
            self.total = total
            if self.bar is not None and self.backend == "tqdm":
                self.bar.total = total
                self.bar.refresh()
            elif self.bar is not None:
                self.bar.total = total
        self.done = done
        if self.bar is not None:
            if self.backend == "tqdm":
                self.bar.update(max(0, done - self.bar.n))
            else:
                self.bar.update(done, force=done >= total >= 0)
        if 0 <= total <= done:
            self.close()

    def close(self, *, failed: bool = False) -> None:
        """Finish the current stage: end its bar and, when verbose, say how long it took."""
        if self.stage is None:
            return
        if self.bar is not None:
            self.bar.close()
            self.bar = None
        if self.verbose:
            seconds = self.clock() - self.started
            line = f"{self.stage}: stopped after {seconds:.1f} s" if failed else self._timing(seconds)
            self.stream.write(line + "\n")
            self.stream.flush()
        self.stage = None
        self.ended = self.clock()

    def _open(self, stage: str, done: int, total: int, unit: str) -> None:
        self.stage, self.unit, self.total, self.first, self.done = stage, unit, total, done, done
        # A stage first heard of when already complete (``plan``) ran since the previous stage ended.
        self.started = self.ended if 0 <= total <= done else self.clock()
        if not self.show or 0 <= total <= done:
            return
        if self.backend == "tqdm":
            self.bar = _tqdm_bar(self.stream, stage, total, unit, done, self.min_interval)
        else:
            self.bar = _PlainBar(self.stream, stage, total, unit, done, self.clock, self.min_interval)

    def _timing(self, seconds: float) -> str:
        line = f"{self.stage}: {seconds:.1f} s"
        amount = self.done - self.first
        if self.unit == "bytes":
            line += f", {format_amount(amount, 'bytes')}"
            if seconds > 0:
                line += f" at {format_amount(amount / seconds, 'bytes')}/s"
            if self.first:
                line += f" (resumed after {format_amount(self.first, 'bytes')})"
        elif self.unit != "steps":
            line += f", {self.done} {self.unit}"
        return line

    def __enter__(self) -> ProgressDisplay:
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        self.close(failed=exc_type is not None)


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # closed or file-like without isatty
        return False
