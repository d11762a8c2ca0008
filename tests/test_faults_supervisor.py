"""A damaged file that makes libhdf5 loop forever (or crash) still ends in one line and a clean state."""

from __future__ import annotations

import faulthandler
import os
import shutil
import signal
import threading
import time
from pathlib import Path

import pytest

from nwb1zarr.supervise import supervised


def _hanging_copy(src: Path, dst: Path) -> Path:
    """Zero the first object header of the global heap: libhdf5 then loops forever reading /nwb_version."""
    data = bytearray(src.read_bytes())
    at = data.find(b"GCOL")
    assert at > 0, "generator file has no global heap"
    data[at + 16:at + 32] = bytes(16)
    dst.write_bytes(data)
    return dst


def test_libhdf5_endless_loop_is_stopped(fault_sources, tmp_path, fault_cli_process, fault_guard, fault_record,
                                         monkeypatch):
    src = _hanging_copy(fault_sources["generic"], tmp_path / "heap.nwb")
    dst = tmp_path / "out.zarr"
    monkeypatch.setenv("NWB1ZARR_STALL_SECONDS", "3")
    started = time.monotonic()
    with fault_guard(src):
        proc = fault_cli_process("convert", src, dst)
        out, err = proc.communicate(timeout=120)
    assert proc.returncode == 1, (out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {src}: no progress for 3 s"), err
    assert "probably damaged" in lines[0]
    assert sorted(os.listdir(tmp_path)) == ["heap.nwb"]
    assert time.monotonic() - started < 100
    fault_record("corrupt global heap: libhdf5 loops forever (NWB1ZARR_STALL_SECONDS=3; default 300)", lines[0], 1,
                 "converter child killed; nothing written", paths={"SRC": src}, group="input")


def test_interrupt_while_libhdf5_is_stuck(fault_sources, tmp_path, fault_cli_process, fault_record, monkeypatch):
    """SIGINT cannot reach Python code inside a libhdf5 loop; the supervisor kills the child after a grace time."""
    src = _hanging_copy(fault_sources["generic"], tmp_path / "heap.nwb")
    monkeypatch.setenv("NWB1ZARR_STALL_SECONDS", "120")
    monkeypatch.setenv("NWB1ZARR_INTERRUPT_GRACE", "2")
    proc = fault_cli_process("convert", src, tmp_path / "out.zarr")
    time.sleep(4)
    assert proc.poll() is None
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, (out, err)
    assert err.strip().splitlines() == [f"error: {src}: interrupted; nothing was written to the destination"]
    assert sorted(os.listdir(tmp_path)) == ["heap.nwb"]
    fault_record("SIGINT while libhdf5 is stuck (NWB1ZARR_INTERRUPT_GRACE=2; default 10)",
                 err.strip(), 130, "converter child killed; nothing written", paths={"SRC": src},
                 group="interruption")


def test_crash_in_child_is_one_line(tmp_path, capfd, fault_record):
    src, dst = tmp_path / "x.nwb", tmp_path / "out.zarr"
    partial = tmp_path / ".out.zarr.partial-0"

    def crash() -> int:
        faulthandler.disable()  # pytest's crash dump is not what the user would see
        (tmp_path / f".out.zarr.partial-{os.getpid()}").mkdir()
        os.kill(os.getpid(), signal.SIGSEGV)
        return 0

    assert supervised(crash, src=src, dst=dst) == 1
    err = capfd.readouterr().err.strip().splitlines()
    assert err == [f"error: {src}: the converter process died (SIGSEGV); the file may be damaged (nothing written)"]
    assert sorted(os.listdir(tmp_path)) == [] and not partial.exists()
    fault_record("libhdf5 crashes (segfault) on a damaged file", err[0], 1, "partial store removed",
                 paths={"SRC": src}, group="input")


def test_supervised_passes_exit_codes(tmp_path):
    assert supervised(lambda: 0, src=tmp_path / "a", dst=None) == 0
    assert supervised(lambda: 2, src=tmp_path / "a", dst=None) == 2


def test_stall_in_child_is_stopped(tmp_path, capfd, monkeypatch):
    monkeypatch.setenv("NWB1ZARR_STALL_SECONDS", "1")

    def stuck() -> int:
        time.sleep(60)  # nothing moves, like a libhdf5 loop
        return 0

    started = time.monotonic()
    assert supervised(stuck, src=tmp_path / "a.nwb", dst=tmp_path / "a.zarr") == 1
    assert time.monotonic() - started < 30
    assert "no progress for 1 s" in capfd.readouterr().err
    shutil.rmtree(tmp_path, ignore_errors=True)


def _stuck_after(make_store: bool, dst: Path):
    """A child that (maybe) puts a whole store at DST, then ignores SIGINT and stops moving, as inside libhdf5."""

    def run() -> int:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        if make_store:
            dst.mkdir()
            (dst / "zarr.json").write_text("{}")
        time.sleep(60)
        return 0

    return run


@pytest.mark.parametrize("make_store", [False, True])
def test_interrupt_killed_after_grace_says_what_is_at_dst(tmp_path, capfd, monkeypatch, make_store):
    """The supervisor kills a child that ignores the forwarded interrupt; its one line says whether the store
    had already been put in place (and, when validation was asked for, that it was not validated)."""
    monkeypatch.setenv("NWB1ZARR_STALL_SECONDS", "120")
    monkeypatch.setenv("NWB1ZARR_INTERRUPT_GRACE", "1")
    src, dst = tmp_path / "a.nwb", tmp_path / "a.zarr"
    timer = threading.Timer(2.0, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    try:
        code = supervised(_stuck_after(make_store, dst), src=src, dst=dst, validating=True)
    finally:
        timer.cancel()
    assert code == 130
    err = capfd.readouterr().err.strip().splitlines()
    if make_store:
        assert err == [f"error: {src}: interrupted after the store at {dst} was complete; it was not validated"]
        assert (dst / "zarr.json").exists()
    else:
        assert err == [f"error: {src}: interrupted; nothing was written to the destination"]
        assert not dst.exists()
