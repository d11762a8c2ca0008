"""Progress reporting through a callback (no-op by default); the CLI plugs in a display."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dask.callbacks import Callback

ProgressCallback = Callable[[str, int, int], None]
"""Called as ``progress(stage, done, total)``; stages: 'plan', 'write' (convert); 'validate', 'digest' (validate)."""


def no_progress(stage: str, done: int, total: int) -> None:
    """The default callback: does nothing."""


class DaskProgress(Callback):
    """Forwards dask task completion to a ProgressCallback, at most ~200 calls per run."""

    def __init__(self, stage: str, callback: ProgressCallback) -> None:
        super().__init__()
        self.stage, self.callback = stage, callback
        self.total = self.done = 0
        self.step = 1

    def _start_state(self, dsk: Any, state: Any) -> None:
        self.total = sum(len(state[k]) for k in ("ready", "waiting", "running", "finished") if k in state)
        self.step = max(1, self.total // 200)
        self.callback(self.stage, 0, self.total)

    def _posttask(self, key: Any, result: Any, dsk: Any, state: Any, worker_id: Any) -> None:
        self.done += 1
        if self.done % self.step == 0 or self.done == self.total:
            self.callback(self.stage, self.done, self.total)
