"""Claiming a destination on an object store (no rename there): a lock object, a root document written last.

The commit protocol for ``URL`` (e.g. ``s3://bucket/sessions/570014520.zarr``):

1. **Lock.** ``.NAME.lock`` beside the prefix (``s3://bucket/sessions/.570014520.zarr.lock``) is created
   with a conditional PUT (fails if it exists, where the service supports it). It names the writer
   (``pid``, ``host``, ``updated``) and is rewritten every :data:`HEARTBEAT_SECONDS` while the run lasts.
   An existing lock is *live* when its pid runs on this host, or, written from another host, when it was
   updated less than :data:`STALE_SECONDS` ago: the run stops with "another conversion ... is writing".
   Otherwise it is a dead run's: taken over, and its leftovers are cleaned.
2. **Clean.** With the lock held: a complete store (root document present) needs ``overwrite`` (else
   "destination exists"); it is removed root document first, so it stops opening at once. Leftovers of
   a dead run (objects under the prefix, no root document) are removed. Objects under the prefix that
   no lock explains and that are no store are never touched ("not a Zarr store; refusing to replace it").
3. **Write.** Every object except the root documents, concurrently (:class:`~nwb1zarr.sinks.object_store.CommitStore`).
4. **Commit.** After every write has succeeded: the root document (Zarr 3: ``zarr.json``, with the
   consolidated metadata; Zarr 2: ``.zattrs``, ``.zmetadata``, ``.zgroup``), then the lock is deleted.

A failure or Ctrl-C removes what was written and the lock. SIGKILL leaves objects without a root document
(nothing opens as a store; the validator says "incomplete store") and the lock, which the next run takes
over and cleans up.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

from ..errors import DestinationError, WriteError
from ..urls import StorageOptions, describe, filesystem, protocol_of, remote_error_types, translate, url_name
from .claim_dst import pid_alive
from .object_store import ROOT_DOCUMENTS, CommitStore, fsspec_store

HEARTBEAT_SECONDS = 60.0
STALE_SECONDS = 600.0
"""A lock from another host that has not been rewritten for this long belongs to a dead run."""
ALL_ROOT_DOCUMENTS = ("zarr.json", ".zmetadata", ".zgroup", ".zattrs")
BUCKETED = {"s3", "s3a", "gs", "gcs", "az", "abfs", "abfss"}


def _service_errors() -> tuple[type[BaseException], ...]:
    """What a failed write raises (OSError and the services' own errors; not ValueError, which is a bug)."""
    return tuple(t for t in remote_error_types() if t is not ValueError)


def lock_url(url: str) -> str:
    """The lock object beside ``url`` ('s3://b/x/y.zarr' -> 's3://b/x/.y.zarr.lock')."""
    head = url.rstrip("/")
    return f"{head[: len(head) - len(url_name(head))]}.{url_name(head)}.lock"


class RemoteDestination:
    """The destination prefix, its lock, and the filesystem calls the protocol needs (all one-line errors)."""

    def __init__(self, url: str, *, storage_options: StorageOptions | None = None) -> None:
        self.url = url.rstrip("/")
        self.storage_options = dict(storage_options or {})
        self.fs, self.path = filesystem(self.url, storage_options=self.storage_options, error=DestinationError)
        self.path = self.path.rstrip("/")
        self.lock_path = filesystem(lock_url(self.url), storage_options=self.storage_options,
                                    error=DestinationError)[1]
        self.token = f"{os.getpid()} {socket.gethostname()} {time.time_ns()}"

    def _call(self, doing: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except remote_error_types() as exc:
            raise translate(exc, self.url, error=DestinationError, doing=doing) from exc

    # ---- what is there ------------------------------------------------------------------------------
    def root_documents(self) -> list[str]:
        return [name for name in ALL_ROOT_DOCUMENTS
                if self._call("cannot look at the destination", self.fs.exists, f"{self.path}/{name}")]

    def objects(self) -> list[str]:
        self.fs.invalidate_cache(self.path)
        try:
            return list(self.fs.find(self.path))
        except FileNotFoundError:
            return []
        except remote_error_types() as exc:
            raise translate(exc, self.url, error=DestinationError, doing="cannot list the destination") from exc

    def remove(self, *, root_first: bool) -> None:
        """Remove everything under the prefix; the root documents first when ``root_first``."""
        if root_first:
            for name in self.root_documents():
                self._call("cannot remove the previous store", self.fs.rm_file, f"{self.path}/{name}")
        found = self.objects()
        if found:
            self._call("cannot remove objects under the destination", self.fs.rm, found)
        self.fs.invalidate_cache(self.path)

    # ---- the lock -----------------------------------------------------------------------------------
    def _lock_body(self) -> bytes:
        pid, host, _ = self.token.split()
        return json.dumps({"pid": int(pid), "host": host, "token": self.token, "updated": time.time(),
                           "writer": "nwb1zarr"}).encode()

    def read_lock(self) -> dict[str, Any] | None:
        self.fs.invalidate_cache(self.lock_path)
        try:
            text = self.fs.cat_file(self.lock_path)
        except FileNotFoundError:
            return None
        except remote_error_types() as exc:
            raise translate(exc, self.url, error=DestinationError, doing="cannot read the lock") from exc
        try:
            value = json.loads(text)
        except ValueError:
            return {}
        return value if isinstance(value, dict) else {}

    def _create_lock(self) -> bool:
        """Create the lock if absent (conditional PUT where supported); False when it exists."""
        try:
            self.fs.pipe_file(self.lock_path, self._lock_body(), mode="create")
            return True
        except FileExistsError:
            return False
        except TypeError:  # a backend without exclusive create: check, then write
            if self.read_lock() is not None:
                return False
            self._call("cannot write the lock", self.fs.pipe_file, self.lock_path, self._lock_body())
            return True
        except remote_error_types() as exc:
            raise translate(exc, self.url, error=DestinationError, doing="cannot write the lock") from exc

    def take_lock(self) -> bool:
        """Take the lock; True when a dead run's lock was taken over (its leftovers need cleaning)."""
        if self._create_lock():
            return False
        held = self.read_lock()
        if held is None:  # released between our two calls
            if self._create_lock():
                return False
            held = self.read_lock() or {}
        if self._is_live(held):
            who = f"pid {held.get('pid')} {held.get('host')}" if held.get("pid") else "another process"
            raise DestinationError(f"another conversion ({who}) is writing this destination; wait for it to "
                                   f"finish (its lock: {lock_url(self.url)})", file=self.url)
        self.write_lock()
        return True

    def _is_live(self, held: dict[str, Any]) -> bool:
        pid, host = held.get("pid"), held.get("host")
        if isinstance(pid, int) and host == socket.gethostname():
            return pid != os.getpid() and pid_alive(pid)
        updated = held.get("updated")
        return isinstance(updated, int | float) and time.time() - updated < STALE_SECONDS

    def write_lock(self) -> None:
        self._call("cannot write the lock", self.fs.pipe_file, self.lock_path, self._lock_body())

    def release_lock(self) -> None:
        with contextlib.suppress(*remote_error_types()):
            held = self.read_lock()
            if held is not None and held.get("token") in (None, self.token):
                self.fs.rm_file(self.lock_path)


@contextlib.contextmanager
def _heartbeat(dest: RemoteDestination) -> Iterator[None]:
    """Rewrite the lock every HEARTBEAT_SECONDS (so other hosts can tell a live run from a dead one)."""
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(HEARTBEAT_SECONDS):
            with contextlib.suppress(Exception):
                dest.write_lock()

    thread = threading.Thread(target=beat, daemon=True, name="nwb1zarr-lock-heartbeat")
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=5)


def _prepare(dest: RemoteDestination, *, overwrite: bool, took_over: bool) -> None:
    complete = bool(dest.root_documents())
    if complete and not overwrite:
        raise DestinationError("destination exists; pass --overwrite (overwrite=True) to replace it", file=dest.url)
    if complete:
        dest.remove(root_first=True)
    elif dest.objects():
        if not took_over:
            raise DestinationError("destination exists and is not a Zarr store; refusing to replace it",
                                   file=dest.url)
        dest.remove(root_first=False)  # a dead run's leftovers


@contextlib.contextmanager
def claim_remote(url: str, *, overwrite: bool, zarr_format: int = 3,
                 storage_options: StorageOptions | None = None) -> Iterator[CommitStore]:
    """Yield a :class:`CommitStore` for ``url``; on success commit it (root document last); on failure
    remove what was written. See the module docstring for the protocol.

    >>> with claim_remote("memory://nwb1zarr-doc/claim.zarr", overwrite=True) as store:  # doctest: +SKIP
    ...     write_zarr(dt, store)
    """
    dest = RemoteDestination(url, storage_options=storage_options)
    if protocol_of(url) in BUCKETED and "/" not in dest.path.strip("/"):
        raise DestinationError("a store needs a prefix inside the bucket (e.g. s3://bucket/name.zarr)", file=url)
    took_over = dest.take_lock()
    store: CommitStore | None = None
    try:
        with _heartbeat(dest):
            _prepare(dest, overwrite=overwrite, took_over=took_over)
            store = CommitStore(fsspec_store(dest.url, storage_options=storage_options), zarr_format=zarr_format)
            try:
                yield store
                store.commit()
            except BaseException:
                store.abort()
                with contextlib.suppress(DestinationError):
                    dest.remove(root_first=True)
                raise
    except _service_errors() as exc:
        raise WriteError(f"cannot write: {describe(exc)}; nothing was left at the destination", file=url) from exc
    finally:
        dest.release_lock()


__all__ = ["ROOT_DOCUMENTS", "RemoteDestination", "claim_remote", "lock_url"]
