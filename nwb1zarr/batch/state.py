"""The state record of a batch: an append-only JSON-lines event log, and what it says about each store.

Only the client of a run appends to it, one ``os.write`` of one whole line per event on a descriptor opened
with ``O_APPEND``, so two runs on the same destination interleave whole lines and never overwrite each other.
A line cut short by a killed client is ignored when read back. Events (every line has ``event``, ``run``,
``time``):

- ``start``: ``sessions``, ``destination``, ``force``, ``host``, ``pid``;
- ``done`` (converted and validated in this run), ``skipped`` (the store already validated by its digest),
  ``failed`` (with ``reason``), ``busy`` (another conversion was writing the store): ``name``, ``source``,
  ``digest``, ``validation``, ``seconds``, ``attempts``;
- ``end``: ``counts`` (or ``interrupted``).

A store's state is its last ``done`` / ``skipped`` / ``failed`` event (``busy`` says nothing about the store);
no event at all means pending.

>>> import tempfile, pathlib
>>> log = StateLog(pathlib.Path(tempfile.mkdtemp()) / "state.jsonl")
>>> log.append("done", run="r1", name="a.zarr", digest="d1")
>>> log.states()["a.zarr"].status, log.states()["a.zarr"].digest
('done', 'd1')
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import socket
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

STATE_NAME = ".nwb1zarr-batch.jsonl"
"""The event log inside a local destination folder."""
STATE_ENV = "NWB1ZARR_BATCH_STATE_DIR"
"""Folder of the state files of URL destinations (default ``$XDG_CACHE_HOME/nwb1zarr/batch``)."""
STORE_EVENTS = ("done", "skipped", "failed")


@dataclass(frozen=True)
class StoreState:
    """What the log last said about one store."""

    status: str  # "done", "skipped" or "failed"
    digest: str | None
    reason: str | None
    run: str | None

    @property
    def completed(self) -> bool:
        return self.status in ("done", "skipped")


def new_run_id() -> str:
    """A run id: UTC time plus random hex, sortable ('20260101T120000Z-1a2b3c')."""
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + "-" + uuid.uuid4().hex[:6]


def default_state_path(destination: str) -> Path:
    """Where the log of a URL destination lives: one file per URL under :data:`STATE_ENV`'s folder.

    >>> default_state_path("s3://bucket/zarr/").name.startswith("s3-bucket-zarr-")
    True
    """
    folder = os.environ.get(STATE_ENV) or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "nwb1zarr", "batch")
    readable = re.sub(r"[^A-Za-z0-9._-]+", "-", destination.rstrip("/")).strip("-")[:80]
    tag = hashlib.sha256(destination.rstrip("/").encode()).hexdigest()[:8]
    return Path(folder) / f"{readable}-{tag}.jsonl"


def digest_of_digests(digests: Any) -> str | None:
    """The store's digest: sha256 of its recorded ``nwb1zarr_digests`` (canonical JSON); None without them.

    >>> digest_of_digests({"/b": "2", "/a": "1"}) == digest_of_digests({"/a": "1", "/b": "2"})
    True
    """
    if not isinstance(digests, dict) or not digests:
        return None
    text = json.dumps(digests, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


class StateLog:
    """An append-only JSON-lines log of batch events (see the module docstring)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def append(self, event: str, *, run: str, **fields: Any) -> None:
        """Append one event as one line (one write, ``O_APPEND``)."""
        record = {"event": event, "run": run, "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), **fields}
        line = (json.dumps(record, default=str, separators=(",", ":")) + "\n").encode()
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            written = os.write(fd, line)
            if written != len(line):  # pragma: no cover - a full disk part way through one line
                raise OSError(f"short write to {self.path} ({written} of {len(line)} bytes)")
        finally:
            os.close(fd)

    def start(self, *, run: str, sessions: int, destination: str, force: bool) -> None:
        self.append("start", run=run, sessions=sessions, destination=destination, force=force,
                    host=socket.gethostname(), pid=os.getpid())

    def events(self) -> list[dict[str, Any]]:
        """Every well-formed event, in order (a line cut short by a killed writer is skipped)."""
        try:
            text = self.path.read_text()
        except FileNotFoundError:
            return []
        out = []
        for line in text.splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict) and "event" in record:
                out.append(record)
        return out

    def states(self) -> dict[str, StoreState]:
        """Store name -> its last done / skipped / failed event."""
        out: dict[str, StoreState] = {}
        for record in self.events():
            if record["event"] in STORE_EVENTS and isinstance(record.get("name"), str):
                out[record["name"]] = StoreState(record["event"], record.get("digest"), record.get("reason"),
                                                 record.get("run"))
        return out

    def count(self, event: str, *, run: str | None = None) -> int:
        """How many ``event`` lines (of run ``run``, when given) the log holds."""
        return sum(1 for r in self.events() if r["event"] == event and (run is None or r.get("run") == run))
