"""Interruption: SIGINT / SIGTERM / SIGKILL at random moments leave nothing at DST; the next run succeeds.

The kill moment is random; set NWB1ZARR_FAULT_SEED to replay one (the seed is in every assertion message).
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib
import os
import random
import re
import shutil
import signal
import time
from pathlib import Path

import pytest

SEED = int(os.environ.get("NWB1ZARR_FAULT_SEED", time.time_ns() % 1_000_000))


def _partials(dst: Path) -> list[Path]:
    return sorted(dst.parent.glob(f".{dst.name}.partial-*"))


def _wait_for(condition, timeout: float, proc) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        if proc.poll() is not None:
            return False
        time.sleep(0.01)
    raise AssertionError(f"timed out (seed {SEED})")


def _wait_lock_free(dst: Path, timeout: float = 30) -> None:
    """Wait until no process holds the destination lock (a killed converter's child may need a moment)."""
    lock = dst.parent / f".{dst.name}.lock"
    deadline = time.monotonic() + timeout
    while lock.exists() and time.monotonic() < deadline:
        with open(lock, "a") as fh:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except OSError:
                time.sleep(0.05)
    assert not lock.exists() or time.monotonic() < deadline, f"lock still held (seed {SEED})"


@pytest.fixture
def long_src(fault_long_source, tmp_path) -> Path:
    src = tmp_path / "long.nwb"
    shutil.copy2(fault_long_source, src)
    return src


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_interrupt_while_writing(signum, long_src, tmp_path, fault_cli_process, fault_cli, fault_guard,
                                 fault_validate, fault_record, fault_long_timing):
    rng = random.Random(SEED + signum)
    dst = tmp_path / "out.zarr"
    with fault_guard(long_src):
        proc = fault_cli_process("convert", long_src, dst)
        writing = _wait_for(lambda: bool(_partials(dst)), 120, proc)
        if writing:  # a moment inside the write, as long as it took on this machine
            time.sleep(rng.uniform(0, 0.8 * fault_long_timing.writing))
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signum)
        out, err = proc.communicate(timeout=120)
    if proc.returncode == 0 or out.startswith("wrote "):
        # finished before the signal arrived (or the signal hit the exiting process after it said "wrote"):
        # the store must then be complete
        fault_validate(long_src, dst)
        pytest.skip(f"conversion finished before the signal (seed {SEED})")
    assert proc.returncode == 130, (SEED, proc.returncode, err, out)
    if err.strip() == f"error: {long_src}: interrupted after the store at {dst} was complete":
        # the signal came after the store was renamed into place (while the report was being made)
        fault_validate(long_src, dst)
        pytest.skip(f"interrupted after the store was complete (seed {SEED})")
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0] == f"error: {long_src}: interrupted; nothing was written to the destination", \
        (SEED, err)
    assert not dst.exists(), SEED
    assert _partials(dst) == [], SEED
    assert not (tmp_path / ".out.zarr.lock").exists(), SEED
    fault_record(f"{signal.Signals(signum).name} while writing", lines[0], 130,
                 "partial store removed; nothing at DST", paths={"SRC": long_src, "DST": dst}, group="interruption")
    with fault_guard(long_src):
        result = fault_cli("convert", long_src, dst)
    assert result.exit_code == 0, (SEED, result.stderr)
    fault_validate(long_src, dst)


@pytest.mark.parametrize("moment", ["random", "while writing"])
def test_sigkill_then_rerun(moment, long_src, tmp_path, fault_cli_process, fault_cli, fault_guard, fault_validate,
                            fault_record, fault_long_timing):
    rng = random.Random(SEED + (1 if moment == "random" else 2))
    dst = tmp_path / "out.zarr"
    with fault_guard(long_src):
        proc = fault_cli_process("convert", long_src, dst)
        if moment == "random":  # anywhere in the run, as long as it took on this machine
            time.sleep(rng.uniform(0.05, 0.9) * fault_long_timing.end)
        elif _wait_for(lambda: bool(_partials(dst)), 120, proc):
            time.sleep(rng.uniform(0, 0.8 * fault_long_timing.writing))
        finished = proc.poll() is not None
        if not finished:
            proc.kill()  # SIGKILL to the CLI process; its converter child dies with it
        proc.communicate(timeout=60)
        _wait_lock_free(dst)
    if dst.exists():
        # Killed after the final rename (the CLI was still reporting): a store at DST is always complete.
        fault_validate(long_src, dst)
        pytest.skip(f"conversion had finished its store before the kill (seed {SEED})")
    left = sorted(p.name for p in tmp_path.iterdir() if p.name != "long.nwb")
    assert all(re.fullmatch(r"\.out\.zarr\.(lock|partial-\d+)", name) for name in left), (SEED, left)
    with fault_guard(long_src):
        result = fault_cli("convert", long_src, dst)
    assert result.exit_code == 0, (SEED, result.stderr)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["long.nwb", "out.zarr"], SEED
    fault_validate(long_src, dst)
    fault_record(f"SIGKILL ({moment}), then the same command again",
                 "(killed: no message) / rerun: " + next(line for line in result.stdout.splitlines()
                                                       if line.startswith("wrote ")).split(" (")[0],
                 "137 (SIGKILL) / 0",
                 "killed run leaves at most `.DST.lock` and `.DST.partial-PID`; the rerun removes them, writes "
                 "DST, validates", paths={"DST": dst}, group="interruption")


def _interrupt(*args: object, **kwargs: object) -> None:
    raise KeyboardInterrupt


def test_interrupt_after_the_store_is_in_place_says_so(fault_sources, tmp_path, fault_cli, fault_validate,
                                                         monkeypatch):
    """Ctrl-C while the report is made (after the rename): exit 130, and the message says the store is whole."""
    src, dst = fault_sources["bo"], tmp_path / "out.zarr"
    convert_module = importlib.import_module("nwb1zarr.convert")  # nwb1zarr.convert is the function
    monkeypatch.setattr(convert_module, "_tree_size", _interrupt)
    result = fault_cli("convert", src, dst)
    assert result.exit_code == 130, result.stderr
    assert result.stderr.strip() == f"error: {src}: interrupted after the store at {dst} was complete"
    monkeypatch.undo()
    fault_validate(src, dst)


def test_interrupt_before_the_rename_leaves_nothing(fault_sources, tmp_path, fault_cli, monkeypatch):
    src, dst = fault_sources["bo"], tmp_path / "out.zarr"
    monkeypatch.setattr("nwb1zarr.writing.to_zarr.ZarrWriter.finish", _interrupt)
    result = fault_cli("convert", src, dst)
    assert result.exit_code == 130, result.stderr
    assert result.stderr.strip() == f"error: {src}: interrupted; nothing was written to the destination"
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_interrupt_between_the_renames_of_an_overwrite_puts_the_old_store_back(fault_sources, tmp_path, fault_cli,
                                                                               monkeypatch):
    src, dst = fault_sources["bo"], tmp_path / "out.zarr"
    assert fault_cli("convert", src, dst).exit_code == 0
    before = (dst / "zarr.json").read_bytes(), os.stat(dst).st_ino
    rename = os.rename

    def rename_then_interrupt(a: object, b: object) -> None:
        if Path(str(a)).name.startswith(".out.zarr.partial-"):
            raise KeyboardInterrupt  # the old store was moved aside; the new one is not in place yet
        rename(a, b)

    monkeypatch.setattr(os, "rename", rename_then_interrupt)
    result = fault_cli("convert", src, dst, "--overwrite")
    monkeypatch.undo()
    assert result.exit_code == 130, result.stderr
    assert ((dst / "zarr.json").read_bytes(), os.stat(dst).st_ino) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.zarr"]
