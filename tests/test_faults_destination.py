"""Destination faults: existing store, unwritable directory, disk full, a second conversion racing for it."""

from __future__ import annotations

import errno
import os
import shutil
import stat
import time
from pathlib import Path

import pytest
from one_line import one_line_error
from zarr.storage import LocalStore

import nwb1zarr
from nwb1zarr.errors import DestinationError, WriteError
from nwb1zarr.sinks.claim_dst import claim
from nwb1zarr.writing import files as store_files


def _tree_state(path: Path) -> dict[str, int]:
    return {str(p.relative_to(path)): p.stat().st_mtime_ns for p in path.rglob("*")}


@pytest.fixture
def generic_src(fault_sources, tmp_path) -> Path:
    src = tmp_path / "session.nwb"
    shutil.copy2(fault_sources["generic"], src)
    return src


def test_existing_destination_without_overwrite(generic_src, tmp_path, fault_cli, fault_guard, fault_record,
                                                fault_leftovers_ok):
    dst = tmp_path / "out.zarr"
    with fault_guard(generic_src):
        assert fault_cli("convert", generic_src, dst).exit_code == 0
        before = _tree_state(dst)
        result = fault_cli("convert", generic_src, dst)
    line = one_line_error(result, 2, "destination exists; pass --overwrite")
    assert _tree_state(dst) == before  # the earlier store is untouched
    fault_leftovers_ok(dst)
    fault_record("existing destination, no `--overwrite`", line, 2, "existing store untouched",
                 paths={"DST": dst}, group="destination")
    with fault_guard(generic_src):
        result = fault_cli("convert", generic_src, dst, "--overwrite")
    assert result.exit_code == 0, result.stderr
    fault_leftovers_ok(dst)


def test_existing_non_store_is_never_replaced(generic_src, tmp_path, fault_cli, fault_guard, fault_record):
    dst = tmp_path / "out.zarr"
    dst.mkdir()
    (dst / "precious.txt").write_text("keep me")
    with fault_guard(generic_src):
        result = fault_cli("convert", generic_src, dst, "--overwrite")
    line = one_line_error(result, 2, "destination exists and is not a Zarr store; refusing to replace it")
    assert (dst / "precious.txt").read_text() == "keep me"
    fault_record("destination is a directory that is not a Zarr store, with `--overwrite`", line, 2,
                 "directory untouched", paths={"DST": dst}, group="destination")


def test_missing_parent_directory(generic_src, tmp_path, fault_cli, fault_record):
    dst = tmp_path / "no" / "such" / "out.zarr"
    result = fault_cli("convert", generic_src, dst)
    line = one_line_error(result, 2, "does not exist")
    assert not (tmp_path / "no").exists()
    fault_record("parent directory of the destination missing", line, 2, "nothing created",
                 paths={"DST": dst, "DIR": dst.parent}, group="destination")


def test_unwritable_directory(generic_src, tmp_path, fault_cli, fault_guard, fault_record):
    """A directory we may not write: mode 0555 for a normal user; root ignores modes, so use a read-only mount."""
    if os.geteuid() != 0:
        locked = tmp_path / "readonly"
        locked.mkdir()
        os.chmod(locked, stat.S_IRUSR | stat.S_IXUSR)
    else:
        locked = Path("/proc/sys")  # read-only for everyone, root included
        if os.access(locked, os.W_OK):
            pytest.skip("no directory that root cannot write to")
    dst = locked / "out.zarr"
    before = sorted(os.listdir(locked))
    try:
        with fault_guard(generic_src):
            result = fault_cli("convert", generic_src, dst)
    finally:
        if locked.is_relative_to(tmp_path):
            os.chmod(locked, 0o755)
    line = one_line_error(result, 2, f"directory {locked} is not writable")
    assert sorted(os.listdir(locked)) == before
    fault_record("destination directory not writable", line, 2, "nothing written",
                 paths={"DST": dst, "DIR": locked}, group="destination")


@pytest.mark.parametrize("after_writes", [3, 40])
def test_no_space_left_part_way(after_writes, fault_sources, tmp_path, fault_cli, fault_guard, fault_record,
                                monkeypatch):
    src = tmp_path / "session.nwb"
    shutil.copy2(fault_sources["bo"], src)
    dst = tmp_path / "out.zarr"
    real_set = LocalStore.set
    writes = {"n": 0}

    real_put = store_files.put_file

    def count(key):
        writes["n"] += 1
        if writes["n"] > after_writes:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), key)

    async def full_disk(self, key, value):  # chunks copied from the source
        count(key)
        return await real_set(self, key, value)

    def full_disk_file(path, data):  # documents, small arrays and large arrays' chunks
        count(str(path))
        return real_put(path, data)

    monkeypatch.setattr(LocalStore, "set", full_disk)
    monkeypatch.setattr(store_files, "put_file", full_disk_file)
    with fault_guard(src):
        result = fault_cli("convert", src, dst)
    line = one_line_error(result, 1, f"error: {dst}: no space left on device; nothing was written")
    assert writes["n"] > after_writes  # the failure really happened part way through writing
    assert sorted(os.listdir(tmp_path)) == ["session.nwb"]  # no store, no partial dir, no lock
    with pytest.raises(WriteError):
        nwb1zarr.convert(src, dst)
    assert issubclass(WriteError, DestinationError)
    fault_record("no space left on device part way through writing", line, 1,
                 "partial store removed; nothing at DST", paths={"DST": dst}, group="destination")


def test_no_space_left_in_the_chunk_pass(fault_long_source, tmp_path, fault_cli, monkeypatch):
    """The disk fills while the large arrays' chunks are written (after every document is in place)."""
    src = tmp_path / "session.nwb"
    shutil.copy2(fault_long_source, src)
    dst = tmp_path / "out.zarr"
    real_put = store_files.put_file
    chunks = []

    def full_disk_file(path, data):
        if "/ophys/fluorescence/c." in path:  # a trace array: copied from the source in the chunk pass
            chunks.append(path)
            if len(chunks) > 2:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), path)
        return real_put(path, data)

    monkeypatch.setattr(store_files, "put_file", full_disk_file)
    result = fault_cli("convert", src, dst)
    one_line_error(result, 1, f"error: {dst}: no space left on device; nothing was written")
    assert len(chunks) >= 3  # the fault came part way through the chunks (both threads may have tried one)
    assert sorted(os.listdir(tmp_path)) == ["session.nwb"]


def test_destination_held_by_another_conversion(generic_src, tmp_path, fault_cli, fault_guard, fault_record):
    dst = tmp_path / "out.zarr"
    with claim(dst, overwrite=False) as partial:
        partial.mkdir()
        with fault_guard(generic_src):
            result = fault_cli("convert", generic_src, dst)
        line = one_line_error(result, 2, "another conversion (pid")
        assert "is writing this destination" in line
        assert partial.is_dir()  # the running conversion's work is left alone
    fault_record("another conversion is writing the destination", line, 2,
                 "the running conversion is left alone", paths={"DST": dst}, group="destination")


def test_stale_lock_and_partial_of_a_dead_run_are_cleaned(generic_src, tmp_path, fault_cli, fault_validate,
                                                         fault_leftovers_ok, fault_record):
    dst = tmp_path / "out.zarr"
    (tmp_path / ".out.zarr.lock").write_text("999999 deadhost")
    stale = tmp_path / ".out.zarr.partial-999999"
    (stale / "nwb1").mkdir(parents=True)
    (stale / "zarr.json").write_text("{}")
    result = fault_cli("convert", generic_src, dst)
    assert result.exit_code == 0, result.stderr
    fault_leftovers_ok(dst)
    fault_validate(generic_src, dst)
    wrote = next(line for line in result.stdout.splitlines() if line.startswith("wrote "))
    fault_record("leftovers of a killed run (`.DST.lock`, `.DST.partial-PID`)", wrote.split(" (")[0], 0,
                 "leftovers removed, store written, validates",
                 paths={"DST": dst}, group="destination")


def test_two_conversions_race_for_one_destination(fault_long_source, tmp_path, fault_cli_process, fault_guard,
                                                  fault_validate, fault_leftovers_ok, fault_record):
    src = tmp_path / "long.nwb"
    shutil.copy2(fault_long_source, src)
    dst = tmp_path / "out.zarr"
    with fault_guard(src):
        first = fault_cli_process("convert", src, dst)
        deadline = time.monotonic() + 120
        while not (tmp_path / ".out.zarr.lock").exists() and first.poll() is None:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        second = fault_cli_process("convert", src, dst)
        out2, err2 = second.communicate(timeout=300)
        _out1, err1 = first.communicate(timeout=300)
    assert first.returncode == 0, err1
    assert second.returncode == 2, (out2, err2)
    lines = err2.strip().splitlines()
    assert len(lines) == 1
    assert "another conversion" in lines[0] or "destination exists" in lines[0], lines[0]
    fault_leftovers_ok(dst)
    fault_validate(src, dst)
    fault_record("two conversions race for one destination (the loser)", lines[0], 2,
                 "the winner's store is complete and validates", paths={"DST": dst}, group="destination")


@pytest.fixture
def fault_leftovers_ok():
    def check(dst: Path) -> None:
        left = sorted(p.name for p in dst.parent.glob(f".{dst.name}.*"))
        assert left == [], left

    return check


def test_store_moved_aside_by_a_killed_overwrite_is_put_back(tmp_path, variant_file):
    """Killed between 'DST -> .DST.old-PID' and 'partial -> DST': the next run restores the old store."""
    dst = tmp_path / "s.zarr"
    nwb1zarr.convert(variant_file("B"), dst)
    before = sorted(p.name for p in dst.rglob("*"))
    aside = tmp_path / ".s.zarr.old-999999"
    dst.rename(aside)
    (tmp_path / ".s.zarr.partial-999999").mkdir()
    with pytest.raises(nwb1zarr.DestinationError, match="exists"):
        nwb1zarr.convert(variant_file("B"), dst)
    assert sorted(p.name for p in dst.rglob("*")) == before
    assert not aside.exists() and not (tmp_path / ".s.zarr.partial-999999").exists()
    assert nwb1zarr.validate(variant_file("B"), dst).ok
