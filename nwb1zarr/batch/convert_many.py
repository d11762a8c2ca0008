"""convert_many(): many sessions on a dask.distributed cluster, resumable, one task per session.

Needs the optional extra ``nwb1zarr[distributed]`` (imported only when a batch runs). The client expands
the sources, reads the state log, submits one task per session (:func:`~nwb1zarr.batch.task.run_session`,
``pure=False``), and appends each outcome to the log as it arrives; workers convert and validate. Modules:
``inputs`` (SOURCES -> sessions), ``target`` (DEST and where the log lives), ``state``
(the append-only event log), ``task`` (one session on a worker), ``report`` (results, JSON, CSV).

- **Cluster**: a ``LocalCluster`` of ``workers`` processes (default: one per core, fewer when memory is short:
  :data:`MEMORY_PER_WORKER`) with ``threads_per_worker`` threads (default 1), or the running cluster at
  ``scheduler`` (``tcp://host:8786``), whose workers must have nwb1zarr installed and see the sources and DEST.
- **Retries**: a worker that dies while running a session (SIGKILL, out of memory, a crash in libhdf5) costs
  that task one attempt; the scheduler tries it again on another worker, up to ``retries`` more times (set as
  the scheduler's ``distributed.scheduler.allowed-failures`` on a cluster we start; on an existing cluster
  its own setting counts). The killed attempt leaves no store that opens (:mod:`nwb1zarr.sinks.claim_dst`,
  :mod:`nwb1zarr.sinks.claim_remote`), and the next attempt cleans its leftovers.

>>> report = convert_many(["sessions/"], to="stores/", workers=2)        # doctest: +SKIP
>>> report.ok, report.totals()["done"]                                   # doctest: +SKIP
(True, 40)
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from .inputs import BatchUsageError, SessionInput, expand_sources
from .report import BatchProgress, BatchReport, SessionResult
from .state import StateLog, new_run_id
from .target import Target
from .task import SessionJob, run_session

__all__ = ["BatchProgress", "BatchReport", "BatchUsageError", "SessionInput", "SessionResult", "convert_many",
           "expand_sources"]

BatchProgressCallback = Callable[[BatchProgress], None]
MEMORY_PER_WORKER = 1.5e9
"""Bytes a worker is given at least when sizing the default LocalCluster (peak RSS of one conversion or
validation of a full-size session is under 0.8 GB, benchmarks/RESULTS.md)."""
DEFAULT_RETRIES = 2
TICK_SECONDS = 0.5


def no_batch_progress(status: BatchProgress) -> None:
    """The default progress callback: does nothing."""


def _distributed() -> Any:
    try:
        import distributed
    except ImportError as exc:
        raise BatchUsageError("convert-many runs on dask.distributed, which is not installed; "
                              "pip install 'nwb1zarr[distributed]'") from exc
    return distributed


def default_workers() -> int:
    """One worker per core, but no more than memory allows at :data:`MEMORY_PER_WORKER` each."""
    cores = os.cpu_count() or 1
    try:
        import psutil

        by_memory = int(psutil.virtual_memory().total // MEMORY_PER_WORKER)
    except ImportError:  # pragma: no cover - psutil comes with distributed
        by_memory = cores
    return max(1, min(cores, by_memory))


@contextlib.contextmanager
def _client(distributed: Any, *, workers: int | None, threads_per_worker: int, scheduler: str | None,
            retries: int) -> Iterator[Any]:
    """A Client on the cluster at ``scheduler``, or on a LocalCluster we start (and stop) ourselves."""
    import dask

    if scheduler is not None:
        try:
            client = distributed.Client(scheduler, set_as_default=False, timeout="30s")
        except (OSError, TimeoutError) as exc:
            raise BatchUsageError(f"cannot reach the dask scheduler: {exc}", file=scheduler) from exc
        try:
            yield client
        finally:
            client.close()
        return
    settings = {"distributed.scheduler.allowed-failures": retries,
                # one task per thread on a worker: a worker that dies takes only the sessions it was running
                "distributed.scheduler.worker-saturation": 1.0}
    with dask.config.set(settings):
        cluster = distributed.LocalCluster(n_workers=workers or default_workers(),
                                           threads_per_worker=threads_per_worker, processes=True,
                                           dashboard_address=None, silence_logs=logging.ERROR)
    try:
        with distributed.Client(cluster, set_as_default=False) as client:
            yield client
    finally:
        cluster.close()


def _deaths(client: Any, keys: list[str]) -> dict[str, int]:
    """How many workers died while running each task (the scheduler's count), for tasks it still knows."""
    def count(keys: list[str], dask_scheduler: Any = None) -> dict[str, int]:
        tasks = dask_scheduler.tasks
        return {k: int(tasks[k].suspicious) for k in keys if k in tasks}

    try:
        return dict(client.run_on_scheduler(count, keys))
    except Exception:  # an attempt count is a nicety; never fail a run over it
        return {}


def _outcome(future: Any, job: SessionJob, deaths: int | None) -> SessionResult:
    """The task's own result, or a failed result saying why the task itself did not finish."""
    try:
        result = future.result()
    except Exception as exc:
        name = type(exc).__name__
        if name == "KilledWorker":
            attempts = deaths
            tries = f"{deaths} attempt{'s' if deaths != 1 else ''}" if deaths else "every attempt"
            reason = (f"{job.source}: the worker running it died on {tries} (killed, out of memory, or a crash in "
                      "libhdf5?); nothing complete was left at the destination; convert this file alone to see why")
        else:
            attempts = None
            reason = f"{job.source}: task failed ({name}: {' '.join(str(exc).split())[:300]})"
        return SessionResult(source=job.source, destination=job.destination, name=job.name, status="failed",
                             reason=reason, attempts=attempts)
    if not isinstance(result, SessionResult):  # pragma: no cover - a worker with another nwb1zarr
        return SessionResult(source=job.source, destination=job.destination, name=job.name, status="failed",
                             reason=f"{job.source}: unexpected task result {type(result).__name__}")
    result.attempts = None if deaths is None else deaths + 1
    return result


def _threads(client: Any) -> int:
    try:
        return sum(int(w.get("nthreads", 0)) for w in client.scheduler_info()["workers"].values())
    except Exception:
        return 0


def convert_many(sources: Sequence[str | os.PathLike[str]], *, to: str | os.PathLike[str],
                 manifest: str | os.PathLike[str] | None = None, workers: int | None = None,
                 threads_per_worker: int = 1, scheduler: str | None = None, force: bool = False,
                 validate: bool = True, retries: int = DEFAULT_RETRIES, state: str | os.PathLike[str] | None = None,
                 cache: str | os.PathLike[str] | None = None, storage_options: Mapping[str, Any] | None = None,
                 progress: BatchProgressCallback = no_batch_progress, virtual: bool = False) -> BatchReport:
    """Convert every session named by ``sources`` into ``to`` (a folder or fsspec URL), one task each.

    Sessions whose stores are already complete and validate by their digests are skipped (``force=True`` redoes
    all); every outcome is appended to the state log (:mod:`nwb1zarr.batch.state`). ``validate=True`` proves
    each new store against its source; False checks it by its digests only. ``progress`` gets a
    :class:`BatchProgress` at least every half second. ``virtual=True`` writes ``<name>.icechunk`` virtual stores
    (:mod:`nwb1zarr.virtual`) instead of ``<name>.zarr`` copies. Raises :class:`BatchUsageError` (exit code 2) when the
    run cannot start; a failing session never raises: it is ``failed`` in the report.

    >>> report = convert_many(["data/*.nwb", "@more.txt"], to="s3://lab/zarr", workers=4)  # doctest: +SKIP
    >>> [(s.source, s.reason) for s in report.failed]                                      # doctest: +SKIP
    [('data/bad.nwb', 'data/bad.nwb: not an HDF5 file (no HDF5 signature); expected an NWB 1.0 file')]
    """
    if retries < 0:
        raise ValueError(f"retries must be >= 0, got {retries}")
    if workers is not None and workers < 1:
        raise BatchUsageError(f"workers must be at least 1, got {workers}")
    if workers is not None and scheduler is not None:
        raise BatchUsageError("workers sizes the local cluster; it cannot be given with scheduler")
    inputs = expand_sources(sources, manifest=manifest)
    target = Target.open(to, state=state)
    target.prepare(storage_options=storage_options)
    distributed = _distributed()
    log = StateLog(target.state_path)
    try:
        previous = log.states()
        run_id = new_run_id()
        log.start(run=run_id, sessions=len(inputs), destination=target.root, force=force)
    except OSError as exc:
        raise BatchUsageError(f"cannot use the state file: {exc.strerror or exc}", file=str(log.path)) from exc
    jobs = [_job(item, target, force=force, validate=validate, previous=previous, cache=cache,
                 storage_options=storage_options, virtual=virtual) for item in inputs]
    started = time.perf_counter()
    results: dict[int, SessionResult] = {}
    interrupted = False
    n_workers = None
    with _client(distributed, workers=workers, threads_per_worker=threads_per_worker, scheduler=scheduler,
                 retries=retries) as client:
        n_workers = len(client.scheduler_info().get("workers", {})) or None
        futures = {client.submit(run_session, job, key=f"nwb1zarr-batch-{run_id}-{i}", pure=False,
                                 retries=retries): i for i, job in enumerate(jobs)}
        try:
            _collect(client, futures, jobs, results, log, run_id, progress, started)
        except KeyboardInterrupt:
            interrupted = True
            client.cancel(list(futures))
            log.append("end", run=run_id, interrupted=True, finished=len(results))
            raise
    report = BatchReport(run_id=run_id, destination=target.root, sessions=[results[i] for i in sorted(results)],
                         seconds=time.perf_counter() - started, state_path=str(log.path), workers=n_workers,
                         interrupted=interrupted)
    log.append("end", run=run_id, counts={k: v for k, v in report.totals().items()
                                          if k in ("done", "skipped", "failed", "busy")})
    return report


def _job(item: SessionInput, target: Target, *, force: bool, validate: bool, previous: dict[str, Any],
         cache: str | os.PathLike[str] | None, storage_options: Mapping[str, Any] | None,
         virtual: bool = False) -> SessionJob:
    name = item.name.removesuffix(".zarr") + ".icechunk" if virtual else item.name
    return SessionJob(source=item.source, kind=item.kind, name=name, destination=target.store(name),
                      force=force, validate=validate, previous=previous.get(name),
                      cache=None if cache is None else os.fspath(cache),
                      storage_options=dict(storage_options) if storage_options else None, virtual=virtual)


def _collect(client: Any, futures: dict[Any, int], jobs: list[SessionJob], results: dict[int, SessionResult],
             log: StateLog, run_id: str, progress: BatchProgressCallback, started: float) -> None:
    """Wait for every task, logging each outcome as it arrives and calling ``progress`` on every tick."""
    arrived: queue.Queue[Any] = queue.Queue()
    for future in futures:
        future.add_done_callback(arrived.put)
    pending = set(futures)
    threads, last_threads = _threads(client), time.monotonic()
    while pending:
        finished = []
        with contextlib.suppress(queue.Empty):
            finished.append(arrived.get(timeout=TICK_SECONDS))
            while True:
                finished.append(arrived.get_nowait())
        finished = [f for f in finished if f in pending]
        if finished:
            deaths = _deaths(client, [f.key for f in finished])
            for future in finished:
                pending.discard(future)
                i = futures[future]
                result = _outcome(future, jobs[i], deaths.get(future.key))
                results[i] = result
                _log_result(log, run_id, result)
                future.release()
        if time.monotonic() - last_threads > 5:
            threads, last_threads = _threads(client), time.monotonic()
        progress(_snapshot(len(jobs), results, min(len(pending), threads), started))


def _log_result(log: StateLog, run_id: str, result: SessionResult) -> None:
    fields = {"name": result.name, "source": result.source, "digest": result.digest,
              "validation": result.validation, "seconds": result.seconds, "attempts": result.attempts}
    if result.reason:
        fields["reason"] = result.reason
    if result.recovered:
        fields["recovered"] = result.recovered
    with contextlib.suppress(OSError):  # the run goes on; the next run re-checks this store by its digests
        log.append(result.status, run=run_id, **fields)


def _snapshot(total: int, results: dict[int, SessionResult], running: int, started: float) -> BatchProgress:
    done = [r for r in results.values() if r.status == "done"]
    return BatchProgress(total=total, done=len(done), skipped=sum(1 for r in results.values() if r.status == "skipped"),
                         failed=sum(1 for r in results.values() if not r.ok), running=running,
                         bytes_in=sum(r.bytes_in for r in done), elapsed=time.perf_counter() - started)
