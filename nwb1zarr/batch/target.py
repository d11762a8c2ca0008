"""Where a batch writes: a local folder (created if missing) or an fsspec URL prefix, and its state files.

- Local ``DEST``: stores are ``DEST/<name>``; the event log is ``DEST/.nwb1zarr-batch.jsonl`` and the reports
  of the latest run ``DEST/nwb1zarr-batch-report.json`` / ``.csv``.
- URL ``DEST`` (``s3://bucket/prefix``): stores are ``DEST/<name>``; the event log is local (an object store
  cannot append): ``state=`` / ``--state PATH``, by default
  :func:`~nwb1zarr.batch.state.default_state_path` (``~/.cache/nwb1zarr/batch/<url>-<hash>.jsonl``); the
  reports go beside it.

>>> Target.open("s3://bucket/zarr/").store("570014520.zarr")
's3://bucket/zarr/570014520.zarr'
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..urls import is_remote, local_path
from .inputs import BatchUsageError
from .state import STATE_NAME, default_state_path

BUCKETED = {"s3", "s3a", "gs", "gcs", "az", "abfs", "abfss"}


@dataclass(frozen=True)
class Target:
    """A batch destination and its state file."""

    root: str
    remote: bool
    state_path: Path

    @classmethod
    def open(cls, to: str | os.PathLike[str], *, state: str | os.PathLike[str] | None = None) -> Target:
        """Name the destination (nothing is created or checked: see :meth:`prepare`)."""
        text = os.fspath(to)
        if is_remote(text):
            root = text.rstrip("/")
            return cls(root, True, Path(state).expanduser() if state is not None else default_state_path(root))
        folder = Path(local_path(text)).expanduser().absolute()
        return cls(str(folder), False, Path(state).expanduser() if state is not None else folder / STATE_NAME)

    def store(self, name: str) -> str:
        return f"{self.root}/{name}" if self.remote else str(Path(self.root) / name)

    def prepare(self, *, storage_options: Mapping[str, Any] | None = None) -> None:
        """Create the local folders (DEST, the state file's folder) and check they are writable, and that a
        URL's bucket exists; one-line :class:`BatchUsageError` otherwise."""
        if self.remote:
            self._check_bucket(storage_options)
        folders = [self.state_path.parent] if self.remote else [Path(self.root), self.state_path.parent]
        for folder in dict.fromkeys(folders):
            if folder.exists() and not folder.is_dir():
                raise BatchUsageError("exists and is not a folder", file=str(folder))
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise BatchUsageError(f"cannot create the folder: {exc.strerror or exc}", file=str(folder)) from exc
            if not os.access(folder, os.W_OK | os.X_OK):
                raise BatchUsageError(f"folder {folder} is not writable", file=str(folder))

    def _check_bucket(self, storage_options: Mapping[str, Any] | None) -> None:
        from ..urls import filesystem, protocol_of, remote_error_types, translate

        if protocol_of(self.root) not in BUCKETED:
            return
        fs, path = filesystem(self.root, storage_options=storage_options, error=BatchUsageError)
        bucket = path.strip("/").split("/", 1)[0]
        try:
            found = fs.exists(bucket)
        except remote_error_types() as exc:
            raise translate(exc, self.root, error=BatchUsageError, doing="cannot reach the destination") from exc
        if not found:
            raise BatchUsageError(f"no such bucket {bucket!r}", file=self.root)
