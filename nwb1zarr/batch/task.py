"""One session of a batch, as a task on a worker: skip it if its store is already complete, else convert
and validate it; every outcome (a bad file included) is returned as a :class:`SessionResult`, never raised.

The task caps the threads of its conversion at its worker's thread count (dask's ``num_workers``, read by
:func:`nwb1zarr.writing.to_zarr.write_threads`), so a worker with one thread runs one thread of conversion work and N
one-thread workers do not oversubscribe N cores.

>>> job = SessionJob(source="missing.nwb", kind="file", name="missing.zarr", destination="/tmp/missing.zarr")
>>> run_session(job).reason                                   # doctest: +ELLIPSIS
'missing.nwb: no such file'
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dask

from ..errors import DestinationError, Nwb1ZarrError, StoreError
from ..urls import is_url
from .report import SessionResult
from .state import StoreState, digest_of_digests


@dataclass(frozen=True)
class SessionJob:
    """Everything a worker needs to do one session (picklable)."""

    source: str
    kind: str  # "file", "url" or "id"
    name: str
    destination: str  # the store: a local path or a URL
    force: bool = False
    validate: bool = True  # full validation against the source; False: the store-only digest check
    previous: StoreState | None = None  # what the state log last said about this store
    cache: str | None = None  # AllenSDK cache folder for experiment ids
    storage_options: Mapping[str, Any] | None = None
    virtual: bool = False  # an Icechunk virtual store (references into the source) instead of a copy


def worker_threads() -> int:
    """Threads of the worker running this task (the CPU count outside a dask worker)."""
    try:
        from distributed import get_worker

        return max(1, int(get_worker().state.nthreads))
    except (ImportError, ValueError, AttributeError):
        return max(1, os.cpu_count() or 1)


_config_lock = threading.Lock()
_config_users = 0
_config_saved: Any = None


@contextlib.contextmanager
def _threads_capped(threads: int) -> Iterator[None]:
    """dask's ``num_workers`` = ``threads`` while any session task of this process runs (dask.config is global
    to the process: with several threads per worker, the last task to finish restores it, not the first)."""
    global _config_users, _config_saved
    with _config_lock:
        if _config_users == 0:
            _config_saved = dask.config.set(num_workers=threads)
        _config_users += 1
    try:
        yield
    finally:
        with _config_lock:
            _config_users -= 1
            if _config_users == 0:
                _config_saved.__exit__(None, None, None)
                _config_saved = None


def run_session(job: SessionJob) -> SessionResult:
    """Do one session; a :class:`~nwb1zarr.errors.Nwb1ZarrError` becomes a ``failed`` (or ``busy``) result
    carrying its one-line message, anything else an "internal error" line."""
    started = time.perf_counter()
    threads = worker_threads()
    result = SessionResult(source=job.source, destination=job.destination, name=job.name, status="failed",
                           worker=f"{socket.gethostname()} pid {os.getpid()}")
    try:
        with _threads_capped(threads):
            _run(job, result)
    except DestinationError as exc:
        busy = exc.message.startswith("another conversion")
        result.status, result.reason = ("busy" if busy else "failed"), str(exc)
    except Nwb1ZarrError as exc:
        result.status, result.reason = "failed", str(exc)
    except Exception as exc:  # a bug, or something nwb1zarr does not name yet: still one line, still isolated
        text = " ".join(str(exc).split())[:300]
        result.status = "failed"
        result.reason = (f"{job.source}: internal error ({type(exc).__name__}: {text}); please report this "
                         "(convert this file alone with --debug for the traceback)")
    result.seconds = round(time.perf_counter() - started, 3)
    return result


def _run(job: SessionJob, result: SessionResult) -> None:
    if not job.force and _already_done(job, result):
        return
    from ..convert import convert

    source, extra_attrs = _resolve(job)
    dead: list[str] = []
    if not is_url(job.destination):
        from ..sinks.claim_dst import leftovers

        dead = [p.name for p in leftovers(Path(job.destination))]
    options = {"storage_options": job.storage_options} if job.storage_options else {}
    if extra_attrs:
        options["extra_attrs"] = extra_attrs
    if job.virtual:
        options["virtual"] = True
    report = convert(source, job.destination, overwrite=True, validate=job.validate, **options)
    result.recovered = dead  # the claim held the lock, so these were a dead attempt's, and are gone
    result.bytes_in, result.bytes_out, result.problems = report.bytes_in, report.bytes_out, list(report.problems)
    validation = report.validation if job.validate else _store_check(job)
    result.validation = _describe(validation)
    result.digest = _store_digest(job)
    if validation.ok:
        result.status, result.reason = "done", None
    else:
        first = validation.failures[0] if validation.failures else None
        where = f"; first: {first.kind} {first.store_path}: {first.status} {first.detail or ''}".rstrip() \
            if first else ""
        result.status = "failed"
        result.reason = f"{job.destination}: validation failed: {result.validation}{where}"


def _resolve(job: SessionJob) -> tuple[Any, dict[str, Any] | None]:
    """The source to open (an experiment id found in a cache or downloaded, here on the worker)."""
    if job.kind != "id":
        return job.source, None
    from ..reading.sources import resolve_source

    resolved = resolve_source(job.source, cache=job.cache)
    return resolved.path, resolved.extra_attrs


def _already_done(job: SessionJob, result: SessionResult) -> bool:
    """True (and ``result`` filled in as skipped) when the store is complete, validates by its digests, and is
    the store the log recorded (or, with no record, was made from a source of the same size)."""
    if not is_url(job.destination) and not Path(job.destination).exists():
        return False
    if job.previous is not None and not job.previous.completed:
        return False  # the log says it failed (e.g. full validation): redo it
    try:
        check = _store_check(job)
        root = _root_attrs(job)
    except StoreError:
        return False  # missing, or incomplete / unreadable: convert again
    digest = digest_of_digests(root.get("nwb1zarr_digests"))
    if not check.ok or digest is None:
        return False
    if job.previous is not None and job.previous.digest not in (None, digest):
        return False  # another store than the one recorded
    if job.previous is None and job.kind == "file":
        try:
            if root.get("source_size") != os.stat(job.source).st_size:
                return False
        except OSError:
            return False
    result.status, result.validation, result.digest = "skipped", _describe(check), digest
    problems = root.get("nwb1zarr_problems")
    result.problems = list(problems) if isinstance(problems, list) else []
    size = root.get("source_size")
    result.bytes_in = int(size) if isinstance(size, int) else 0
    result.bytes_out = _store_size(job)
    return True


def _store_check(job: SessionJob) -> Any:
    from ..validation.validate import validate

    if job.storage_options:
        return validate(job.destination, storage_options=job.storage_options)
    return validate(job.destination)


def _root_attrs(job: SessionJob) -> dict[str, Any]:
    from ..validation.store_check import open_store

    if job.storage_options:
        return dict(open_store(job.destination, storage_options=job.storage_options).attrs)
    return dict(open_store(job.destination).attrs)


def _store_digest(job: SessionJob) -> str | None:
    try:
        return digest_of_digests(_root_attrs(job).get("nwb1zarr_digests"))
    except StoreError:
        return None


def _store_size(job: SessionJob) -> int:
    if not is_url(job.destination):
        return sum(f.stat().st_size for f in Path(job.destination).rglob("*") if f.is_file())
    from ..urls import filesystem

    fs, path = filesystem(job.destination, storage_options=job.storage_options)
    try:
        return int(fs.du(path))
    except Exception:  # a size is a nicety; never fail a finished session over it
        return 0


def _describe(validation: Any) -> str:
    """'full: ok', 'store: ok', or 'full: 3 of 420 checks failed'."""
    checks = len(validation.checks)
    if validation.ok:
        return f"{validation.mode}: ok ({checks} checks)"
    return f"{validation.mode}: {len(validation.failures)} of {checks} checks failed"
