"""convert-many on a real dask.distributed LocalCluster (3 worker processes, 1 thread each, shared by the tests).

Covers: bad files (random bytes, a truncated HDF5) failing alone while the others convert and validate; a worker
SIGKILLed in the middle of a session (the session is retried elsewhere and ends done and validated, nothing
complete-looking is left by the killed attempt); a worker that dies on every attempt (failed, with the reason,
and the next run finishes it); a rerun that redoes only a deleted and a corrupted store, counted in the state log;
``force``; two runs on one destination at once; an S3 destination on moto's server; the CLI's exit codes and
one-line errors; SOURCES expansion.
"""

from __future__ import annotations

import concurrent.futures
import json
import logging
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import nwb1zarr
from nwb1zarr.batch.inputs import BatchUsageError, expand_sources
from nwb1zarr.batch.state import STATE_NAME, StateLog
from nwb1zarr.cli import main
from nwb1zarr.testing import SessionSpec, write_session

distributed = pytest.importorskip("distributed", reason="convert-many needs nwb1zarr[distributed]")

TINY = {"n_rois": 2, "n_frames": 700}
SLOW = {"n_rois": 40, "n_frames": 60_000}  # a few seconds of writing: long enough to be caught mid-flight
WAIT = 240.0


# ---- fixtures --------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def cluster() -> Iterator[tuple[Any, Any]]:
    """3 worker processes x 1 thread, started and stopped here; tests pass its address as ``scheduler``."""
    import dask

    settings = {"distributed.scheduler.allowed-failures": 2, "distributed.scheduler.worker-saturation": 1.0}
    with dask.config.set(settings):
        local = distributed.LocalCluster(n_workers=3, threads_per_worker=1, processes=True, dashboard_address=None,
                                         silence_logs=logging.ERROR)
    client = distributed.Client(local, set_as_default=False)
    client.run(lambda: __import__("nwb1zarr.convert") and None)  # import once per worker, before the tests
    try:
        yield local, client
    finally:
        client.close()
        local.close()


@pytest.fixture(scope="module")
def good(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder of three tiny synthetic sessions."""
    folder = tmp_path_factory.mktemp("good")
    for i, letter in enumerate("ABC"):
        write_session(folder / f"s{i}.nwb", SessionSpec.tiny(session_type=f"three_session_{letter}", seed=i, **TINY))
    return folder


@pytest.fixture(scope="module")
def slow(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("slow") / "slow.nwb"
    write_session(path, SessionSpec.tiny(**SLOW))
    return path


@pytest.fixture
def mixed(tmp_path: Path, good: Path) -> Path:
    """The three good sessions, random bytes, and a truncated HDF5 file."""
    folder = tmp_path / "mixed"
    folder.mkdir()
    for src in good.glob("*.nwb"):
        (folder / src.name).symlink_to(src)
    (folder / "random.nwb").write_bytes(os.urandom(4096))
    whole = (good / "s0.nwb").read_bytes()
    (folder / "truncated.nwb").write_bytes(whole[: len(whole) // 2])
    return folder


def _address(cluster: tuple[Any, Any]) -> str:
    return str(cluster[0].scheduler_address)


def _by_name(report: nwb1zarr.BatchReport) -> dict[str, Any]:
    return {s.name: s for s in report.sessions}


def _poll(condition: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.01)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def _assert_valid(store: Path) -> None:
    report = nwb1zarr.validate(store)
    assert report.ok, report.summary()


# ---- isolation -------------------------------------------------------------------------------------------------
def test_bad_files_fail_alone_and_a_rerun_retries_only_them(cluster: tuple[Any, Any], mixed: Path,
                                                            tmp_path: Path) -> None:
    dest = tmp_path / "out"
    seen: list[Any] = []
    report = nwb1zarr.convert_many([mixed], to=dest, scheduler=_address(cluster), validate=True,
                                   progress=seen.append)
    sessions = _by_name(report)
    assert sorted(sessions) == ["random.zarr", "s0.zarr", "s1.zarr", "s2.zarr", "truncated.zarr"]
    for name in ("s0.zarr", "s1.zarr", "s2.zarr"):
        s = sessions[name]
        assert (s.status, s.reason) == ("done", None), s
        assert s.validation.startswith("full: ok") and s.digest and s.bytes_in > 0 and s.bytes_out > 0
        _assert_valid(dest / name)
    random_, truncated = sessions["random.zarr"], sessions["truncated.zarr"]
    assert random_.status == truncated.status == "failed"
    assert random_.reason == f"{mixed / 'random.nwb'}: not an HDF5 file (no HDF5 signature); expected an NWB 1.0 file"
    assert "truncated" in truncated.reason and "\n" not in truncated.reason, truncated.reason
    assert not (dest / "random.zarr").exists() and not (dest / "truncated.zarr").exists()
    assert not report.ok and {s.name for s in report.failed} == {"random.zarr", "truncated.zarr"}
    assert seen and seen[-1].finished == 5 and seen[-1].done == 3 and seen[-1].failed == 2

    json_path, csv_path = report.write()
    written = json.loads(json_path.read_text())
    assert written["totals"]["done"] == 3 and written["totals"]["failed"] == 2
    assert {s["name"]: s["problems_count"] for s in written["sessions"]}["s0.zarr"] == len(sessions["s0.zarr"].problems)
    rows = csv_path.read_text().splitlines()
    assert rows[0].startswith("name,source,destination,status,reason,bytes_in,bytes_out,seconds,validation")
    assert len(rows) == 1 + 5 + 1 and rows[-1].startswith("TOTAL")

    log = StateLog(dest / STATE_NAME)
    assert log.count("done", run=report.run_id) == 3 and log.count("failed", run=report.run_id) == 2

    again = nwb1zarr.convert_many([mixed], to=dest, scheduler=_address(cluster), validate=True)
    statuses = {s.name: s.status for s in again.sessions}
    assert statuses == {"s0.zarr": "skipped", "s1.zarr": "skipped", "s2.zarr": "skipped",
                        "random.zarr": "failed", "truncated.zarr": "failed"}
    assert log.count("done", run=again.run_id) == 0 and log.count("failed", run=again.run_id) == 2


# ---- resume and force ------------------------------------------------------------------------------------------
def _corrupt_one_chunk(store: Path) -> Path:
    chunk = max((p for p in (store / "ophys").rglob("c.*") if p.is_file()), key=lambda p: p.stat().st_size)
    data = bytearray(chunk.read_bytes())
    for i in range(len(data) // 2, min(len(data), len(data) // 2 + 16)):
        data[i] ^= 0xFF
    chunk.write_bytes(bytes(data))
    return chunk


def test_rerun_redoes_only_what_is_missing_or_damaged_and_force_redoes_all(cluster: tuple[Any, Any], good: Path,
                                                                          tmp_path: Path) -> None:
    dest = tmp_path / "out"
    first = nwb1zarr.convert_many([good], to=dest, scheduler=_address(cluster), validate=False)
    assert first.ok and [s.status for s in first.sessions] == ["done"] * 3
    assert all(s.validation.startswith("store: ok") for s in first.sessions)
    import shutil

    shutil.rmtree(dest / "s0.zarr")
    _corrupt_one_chunk(dest / "s1.zarr")
    assert not nwb1zarr.validate(dest / "s1.zarr").ok

    rerun = nwb1zarr.convert_many([good], to=dest, scheduler=_address(cluster), validate=False)
    assert rerun.ok
    assert {s.name: s.status for s in rerun.sessions} == {"s0.zarr": "done", "s1.zarr": "done", "s2.zarr": "skipped"}
    log = StateLog(dest / STATE_NAME)
    redone = [e["name"] for e in log.events() if e["event"] == "done" and e["run"] == rerun.run_id]
    assert sorted(redone) == ["s0.zarr", "s1.zarr"]
    for name in ("s0.zarr", "s1.zarr", "s2.zarr"):
        _assert_valid(dest / name)

    forced = nwb1zarr.convert_many([good], to=dest, scheduler=_address(cluster), validate=False, force=True)
    assert forced.ok and log.count("done", run=forced.run_id) == 3 and log.count("skipped", run=forced.run_id) == 0


def test_two_runs_on_one_destination_do_not_corrupt_each_other(cluster: tuple[Any, Any], good: Path,
                                                               tmp_path: Path) -> None:
    dest = tmp_path / "out"
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        runs = [pool.submit(nwb1zarr.convert_many, [good], to=dest, scheduler=_address(cluster), validate=False)
                for _ in range(2)]
        reports = [r.result(timeout=WAIT) for r in runs]
    for report in reports:
        assert {s.status for s in report.sessions} <= {"done", "skipped", "busy"}, report.summary()
        assert all(s.reason is None or "another conversion" in s.reason for s in report.sessions)
    for name in ("s0.zarr", "s1.zarr", "s2.zarr"):
        assert any(_by_name(r)[name].status == "done" for r in reports)
        _assert_valid(dest / name)
    lines = (dest / STATE_NAME).read_text().splitlines()
    events = [json.loads(line) for line in lines]  # every line whole
    assert sorted(e["event"] for e in events if e["event"] in ("start", "end")) == ["end", "end", "start", "start"]
    assert not list(dest.glob(".*.partial-*")) and not list(dest.glob(".*.lock"))


# ---- killed workers --------------------------------------------------------------------------------------------
def _kill_when_writing(client: Any, dest: Path, name: str) -> int:
    """SIGKILL the worker process that is writing ``name`` (found by its partial directory .NAME.partial-PID)."""
    partial = _poll(lambda: next(iter(dest.glob(f".{name}.partial-*")), None), WAIT, f"a worker writing {name}")
    pid = int(partial.name.rsplit("-", 1)[1])
    assert pid in set(client.run(os.getpid).values()), "the partial store is not a worker's"
    os.kill(pid, signal.SIGKILL)
    assert not (dest / name).exists(), "a killed conversion left a store at the destination"
    return pid


def test_a_worker_killed_mid_session_is_retried_and_the_session_ends_done(cluster: tuple[Any, Any], slow: Path,
                                                                          good: Path, tmp_path: Path) -> None:
    client = cluster[1]
    dest = tmp_path / "out"
    sources = [slow, good / "s0.nwb", good / "s1.nwb"]
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        run = pool.submit(nwb1zarr.convert_many, sources, to=dest, scheduler=_address(cluster), validate=False)
        killed = _kill_when_writing(client, dest, "slow.zarr")
        report = run.result(timeout=WAIT)
    assert report.ok, report.summary()
    result = _by_name(report)["slow.zarr"]
    assert result.status == "done" and result.attempts is not None and result.attempts >= 2, result
    assert f"pid {killed}" not in (result.worker or "")
    assert f".slow.zarr.partial-{killed}" in result.recovered  # the retry found and removed the dead attempt's
    assert not list(dest.glob(".slow.zarr.*"))
    _assert_valid(dest / "slow.zarr")
    logged = [e for e in StateLog(dest / STATE_NAME).events() if e.get("name") == "slow.zarr"]
    assert [e["event"] for e in logged] == ["done"] and logged[0]["attempts"] >= 2
    _poll(lambda: len(client.scheduler_info()["workers"]) == 3, WAIT, "the nanny to restart the killed worker")


def test_a_session_whose_worker_dies_every_time_is_failed_and_the_next_run_finishes_it(
        cluster: tuple[Any, Any], slow: Path, tmp_path: Path) -> None:
    local, client = cluster
    dest = tmp_path / "out"
    _poll(lambda: len(client.scheduler_info()["workers"]) == 3, WAIT, "3 workers")
    local.scheduler.allowed_failures = 0  # this cluster's setting (convert_many sets it on clusters it starts)
    try:
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            run = pool.submit(nwb1zarr.convert_many, [slow], to=dest, scheduler=_address(cluster), validate=False)
            _kill_when_writing(client, dest, "slow.zarr")
            report = run.result(timeout=WAIT)
    finally:
        local.scheduler.allowed_failures = 2
    (result,) = report.sessions
    assert result.status == "failed" and "the worker running it died on 1 attempt (" in result.reason, result
    assert not report.ok and not (dest / "slow.zarr").exists()
    assert StateLog(dest / STATE_NAME).states()["slow.zarr"].status == "failed"

    _poll(lambda: len(client.scheduler_info()["workers"]) == 3, WAIT, "the nanny to restart the killed worker")
    again = nwb1zarr.convert_many([slow], to=dest, scheduler=_address(cluster), validate=False)
    assert again.ok and again.sessions[0].status == "done" and again.sessions[0].recovered
    assert not list(dest.glob(".slow.zarr.*"))
    _assert_valid(dest / "slow.zarr")


# ---- object store ----------------------------------------------------------------------------------------------
def test_s3_destination_on_moto(cluster: tuple[Any, Any], good: Path, tmp_path: Path) -> None:
    pytest.importorskip("s3fs", reason="S3 destinations need nwb1zarr[s3] (s3fs)")
    pytest.importorskip("moto", reason="the S3 test server is moto's")
    from s3server import S3Server

    sources = [good / "s0.nwb", good / "s1.nwb"]
    with S3Server.start() as server:
        bucket = server.make_bucket(f"t-{uuid.uuid4().hex[:12]}")
        options = {"endpoint_url": server.endpoint, "key": "testing", "secret": "testing",
                   "client_kwargs": {"region_name": "us-east-1"}}
        to, state = f"s3://{bucket}/stores", tmp_path / "state.jsonl"
        started = time.perf_counter()
        report = nwb1zarr.convert_many(sources, to=to, scheduler=_address(cluster), validate=False, state=state,
                                       storage_options=options)
        first = time.perf_counter() - started
        assert report.ok, report.summary()
        assert [s.destination for s in report.sessions] == [f"{to}/s{i}.zarr" for i in range(2)]
        assert all(s.validation.startswith("store: ok") for s in report.sessions)
        keys = server.keys(bucket, "stores/")
        assert {f"stores/s{i}.zarr/zarr.json" for i in range(2)} <= set(keys)
        assert not [k for k in keys if k.endswith(".lock")]

        started = time.perf_counter()
        again = nwb1zarr.convert_many(sources, to=to, scheduler=_address(cluster), validate=False, state=state,
                                      storage_options=options)
        print(f"s3: first run {first:.1f} s, rerun {time.perf_counter() - started:.1f} s")
        assert [s.status for s in again.sessions] == ["skipped"] * 2
        assert StateLog(state).count("done") == 2


# ---- command line ----------------------------------------------------------------------------------------------
def _cli(*args: object) -> Any:
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def test_cli_exit_codes_reports_and_manifest(cluster: tuple[Any, Any], good: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.nwb"
    bad.write_text("not HDF5")
    dest = tmp_path / "out"
    result = _cli("convert-many", good / "s0.nwb", bad, "--to", dest, "--scheduler", _address(cluster),
                  "--no-validate", "--no-progress")
    assert result.exit_code == 1, result.output
    assert f"failed {bad}: {bad}: not an HDF5 file" in result.output
    assert (dest / "nwb1zarr-batch-report.json").is_file() and (dest / "nwb1zarr-batch-report.csv").is_file()

    manifest = tmp_path / "list.txt"
    manifest.write_text(f"# the good one only\n{good / 's0.nwb'}\n\n")
    result = _cli("convert-many", f"@{manifest}", "--to", dest, "--scheduler", _address(cluster), "--no-progress",
                  "--report", tmp_path / "r.json")
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "r.json").read_text())["totals"]["skipped"] == 1


def test_cli_usage_errors_are_one_line_exit_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    result = _cli("convert-many", empty, "--to", tmp_path / "out")
    assert result.exit_code == 2 and result.output.count("\n") == 1
    assert result.output.startswith("error: ") and "no NWB files found" in result.output

    session = tmp_path / "a.nwb"
    write_session(session, SessionSpec.tiny(**TINY))
    (tmp_path / "file").write_text("")
    result = _cli("convert-many", session, "--to", tmp_path / "file" / "out")
    assert result.exit_code == 2 and result.output.startswith("error: ") and result.output.count("\n") == 1
    assert "cannot create the folder" in result.output

    monkeypatch.setitem(sys.modules, "distributed", None)  # as if the extra were not installed
    result = _cli("convert-many", session, "--to", tmp_path / "out")
    assert result.exit_code == 2 and result.output.count("\n") == 1
    assert "pip install 'nwb1zarr[distributed]'" in result.output


def test_help_and_import_do_not_import_distributed() -> None:
    code = ("import sys, nwb1zarr; from nwb1zarr.cli import main\n"
            "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
            "try:\n    main(['convert-many', '--help'])\nexcept SystemExit:\n    pass\n"
            "assert 'distributed' not in sys.modules, 'distributed imported'\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "convert-many" in done.stdout


# ---- SOURCES ---------------------------------------------------------------------------------------------------
def test_sources_expand_folders_globs_manifests_ids_and_urls(tmp_path: Path) -> None:
    a, sub = tmp_path / "a.nwb", tmp_path / "sub"
    sub.mkdir()
    a.write_bytes(b"")
    (sub / "b.nwb").write_bytes(b"")
    (sub / "notes.txt").write_text("")
    manifest = sub / "list.txt"
    manifest.write_text("# sessions\nb.nwb\n570014520\ns3://bucket/x/c.nwb\n")
    found = expand_sources([tmp_path, f"{tmp_path}/**/*.nwb", f"@{manifest}"])
    assert [(s.name, s.kind) for s in found] == [("a.zarr", "file"), ("b.zarr", "file"), ("570014520.zarr", "id"),
                                                 ("c.zarr", "url")]
    assert expand_sources([sub], manifest=manifest)[0].source == str(sub / "b.nwb")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "a.nwb").write_bytes(b"")
    with pytest.raises(BatchUsageError, match=r"two sources would write the same store a\.zarr"):
        expand_sources([a, tmp_path / "other" / "a.nwb"])
    with pytest.raises(BatchUsageError, match="no NWB files found"):
        expand_sources([f"{tmp_path}/*.h5"])
    with pytest.raises(BatchUsageError, match="cannot read the manifest"):
        expand_sources(["@" + str(tmp_path / "missing.txt")])
