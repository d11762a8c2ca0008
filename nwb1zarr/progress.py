"""Progress reporting through a callback (no-op by default); the CLI plugs in a display.

The contract is ``progress(stage, done, total)``. A callback that also accepts a ``unit`` keyword is told
what ``done`` and ``total`` count, and then gets bytes where the library can count them:

======== ================================= ==========================================
stage    unit                              reported by
======== ================================= ==========================================
plan     ``steps``                         convert
write    ``bytes`` (``tasks`` to 3-argument convert (dask tasks when the sizes are
         callbacks)                        unknown)
validate ``arrays``                        validate (one per plan entry)
digest   ``arrays``                        validate (store digests)
download ``bytes``                         resolving an experiment id (archive)
verify   ``bytes``                         re-hashing a cached download
======== ================================= ==========================================

A three-argument callback keeps getting exactly what it got before (tasks for ``write``).

>>> seen = []
>>> report(lambda stage, done, total: seen.append((stage, done, total)), "download", 5, 10, unit="bytes")
>>> report(lambda stage, done, total, unit: seen.append((stage, done, total, unit)), "download", 5, 10,
...        unit="bytes")
>>> seen
[('download', 5, 10), ('download', 5, 10, 'bytes')]
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from typing import Any

from dask.callbacks import Callback

ProgressCallback = Callable[..., None]
"""Called as ``progress(stage, done, total)``, plus ``unit=...`` when it accepts that keyword (see above)."""

STAGE_UNITS = {"plan": "steps", "write": "tasks", "validate": "arrays", "digest": "arrays", "download": "bytes",
               "verify": "bytes"}
"""What ``done`` / ``total`` count in each stage when no ``unit`` is passed (the table above)."""


def no_progress(stage: str, done: int, total: int, *, unit: str = "steps") -> None:
    """The default callback: does nothing."""


def wants_unit(callback: ProgressCallback) -> bool:
    """True when ``callback`` accepts a ``unit`` keyword (or ``**kwargs``).

    >>> wants_unit(lambda stage, done, total: None), wants_unit(lambda stage, done, total, **kw: None)
    (False, True)
    """
    explicit = getattr(callback, "accepts_unit", None)
    if isinstance(explicit, bool):
        return explicit
    try:
        parameters = inspect.signature(callback).parameters.values()
    except (TypeError, ValueError):  # builtins without a signature
        return False
    return any(p.kind is p.VAR_KEYWORD or (p.name == "unit" and p.kind is not p.POSITIONAL_ONLY)
               for p in parameters)


def report(callback: ProgressCallback, stage: str, done: int, total: int, *, unit: str) -> None:
    """Call ``callback`` for ``stage``, passing ``unit`` only to callbacks that accept it."""
    if wants_unit(callback):
        callback(stage, done, total, unit=unit)
    else:
        callback(stage, done, total)


def dask_array_sizes(obj: Any) -> dict[str, int]:
    """Bytes of every dask-backed variable of an xarray DataTree / Dataset, by dask array name."""
    variables: Iterable[Any]
    if hasattr(obj, "subtree"):
        variables = (v for node in obj.subtree for v in node.to_dataset(inherit=False).variables.values())
    else:
        variables = getattr(obj, "variables", {}).values()
    sizes: dict[str, int] = {}
    for var in variables:
        data = getattr(var, "data", None)
        name = getattr(data, "name", None)
        if isinstance(name, str) and hasattr(data, "dask"):
            sizes[name] = int(data.nbytes)
    return sizes


class DaskProgress(Callback):
    """Forwards dask task completion to a ProgressCallback, at most ~200 calls per run.

    With ``sizes`` (dask array name -> bytes, e.g. ``dask_array_sizes(tree)``) and a callback that accepts
    ``unit``, it reports the bytes of those arrays' chunks as they are computed; otherwise finished tasks.
    ``done_before`` bytes were written before the dask pass (in-memory arrays): they count as done from the start.
    """

    def __init__(self, stage: str, callback: ProgressCallback, *, sizes: dict[str, int] | None = None,
                 done_before: int = 0) -> None:
        super().__init__()
        self.stage, self.callback = stage, callback
        self.total = self.done = 0
        self.step = 1
        self.sizes = dict(sizes or {})
        self.bytes_total = sum(self.sizes.values()) + done_before
        self.in_bytes = self.bytes_total > 0 and wants_unit(callback)
        self.bytes_done = self.bytes_seen = done_before

    def _start_state(self, dsk: Any, state: Any) -> None:
        self.total = sum(len(state[k]) for k in ("ready", "waiting", "running", "finished") if k in state)
        self.step = max(1, self.total // 200)
        self._emit(0, self.bytes_seen)

    def _posttask(self, key: Any, result: Any, dsk: Any, state: Any, worker_id: Any) -> None:
        self.done += 1
        if self.in_bytes and isinstance(key, tuple) and key and key[0] in self.sizes:
            self.bytes_seen += int(getattr(result, "nbytes", 0))
        if self.done % self.step == 0 or self.done == self.total:
            self._emit(self.done, self.bytes_seen)

    def _emit(self, done: int, nbytes: int) -> None:
        if not self.in_bytes:
            self.callback(self.stage, done, self.total)
            return
        finished = done >= self.total
        # Tasks that are not chunks of the sized arrays (digests, metadata) end the pass: say 100% only then.
        shown = self.bytes_total if finished else min(nbytes, self.bytes_total - 1)
        self.callback(self.stage, max(shown, 0), self.bytes_total, unit="bytes")
