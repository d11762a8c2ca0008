"""Every command answers bad input and bugs with one ``error:`` line naming the file; --debug adds the traceback.

Commands: convert (in-process and as a real, supervised subprocess), inspect, validate (source + store,
and store only), demo, and the xarray engine. Inputs: a missing file, a directory, random bytes, an
NWB 2 file, and a bug injected deep in the pipeline (``TypeMap.load``, which every source read goes
through, or ``store_check.members`` for the store-only check) raising ``RuntimeError("boom")``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np
import pytest
from click.testing import CliRunner

import nwb1zarr
from nwb1zarr.cli import main
from nwb1zarr.errors import InputError, Nwb1ZarrError
from nwb1zarr.reading.typemap import TypeMap

BOOM = "internal error (RuntimeError: boom); please report this (rerun with --debug or NWB1ZARR_DEBUG=1"


@pytest.fixture(autouse=True)
def _no_debug_from_outside(monkeypatch):
    monkeypatch.delenv("NWB1ZARR_DEBUG", raising=False)


# ---- inputs -------------------------------------------------------------------------------------


def _missing(d: Path) -> Path:
    return d / "missing.nwb"


def _directory(d: Path) -> Path:
    (d / "folder.nwb").mkdir()
    return d / "folder.nwb"


def _random(d: Path) -> Path:
    (d / "random.nwb").write_bytes(np.random.default_rng(1).bytes(5000))
    return d / "random.nwb"


def _nwb2(d: Path) -> Path:
    with h5py.File(d / "nwb2.nwb", "w") as f:
        f.attrs["nwb_version"] = "2.8.0"
        f.create_group("acquisition")
    return d / "nwb2.nwb"


BAD_SOURCES: dict[str, tuple[Callable[[Path], Path], str]] = {
    "missing file": (_missing, "no such file"),
    "directory": (_directory, "is a directory"),
    "random bytes": (_random, "not an HDF5 file"),
    "NWB 2 file": (_nwb2, "this is an NWB 2.8.0 file, not NWB 1.0"),
}
BAD_STORES: dict[str, tuple[Callable[[Path], Path], str]] = {
    "missing file": (_missing, "no such store"),
    "directory": (_directory, "not a readable Zarr store"),
    "random bytes": (_random, "not a readable Zarr store"),
    "NWB 2 file": (_nwb2, "not a readable Zarr store"),
}


def _boom(*args: object, **kwargs: object) -> None:
    raise RuntimeError("boom")


@pytest.fixture
def bug_in_pipeline(monkeypatch):
    """Every read of a source now fails with an exception nwb1zarr does not expect."""
    monkeypatch.setattr(TypeMap, "load", classmethod(_boom))


@pytest.fixture(scope="module")
def good(tmp_path_factory) -> tuple[Path, Path]:
    """A tiny Brain Observatory session and its store (read only)."""
    from nwb1zarr.testing import SessionSpec, write_session

    root = tmp_path_factory.mktemp("cli_errors")
    src = Path(write_session(root / "good.nwb", SessionSpec.tiny()))
    nwb1zarr.convert(src, root / "good.zarr")
    return src, root / "good.zarr"


# ---- running the CLI ----------------------------------------------------------------------------


@dataclass
class Ran:
    exit_code: int
    stdout: str
    stderr: str


MODES = {"plain": ([], {}), "--debug": (["--debug"], {}), "NWB1ZARR_DEBUG=1": ([], {"NWB1ZARR_DEBUG": "1"})}


def run_cli(mode: str, *args: object) -> Ran:
    """``nwb1zarr [--debug] ARGS`` in-process (click's runner: no supervised child)."""
    flags, env = MODES[mode]
    result = CliRunner().invoke(main, [*flags, *(str(a) for a in args)], env=env, catch_exceptions=True)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"the CLI raised {result.exception!r}") from result.exception
    return Ran(result.exit_code, result.stdout, result.stderr)


def check(ran: Ran, mode: str, code: int, file: Path, expected: str) -> None:
    """One ``error:`` line naming ``file`` (the last line, after the traceback in debug modes)."""
    assert ran.exit_code == code, (ran.exit_code, ran.stdout, ran.stderr)
    lines = ran.stderr.strip().splitlines()
    assert lines, ran
    last = lines[-1]
    assert last.startswith(f"error: {file}"), ran.stderr
    assert expected in last, ran.stderr
    if mode == "plain":
        assert len(lines) == 1, ran.stderr
        assert "Traceback" not in ran.stderr + ran.stdout
    else:
        assert lines[0] == "Traceback (most recent call last):", ran.stderr
        assert ran.stderr.count("error: ") == 1, ran.stderr


SOURCE_COMMANDS = ["convert", "inspect", "validate"]


def _source_args(command: str, src: Path, tmp_path: Path, good: tuple[Path, Path]) -> list[object]:
    if command == "convert":
        return ["convert", src, tmp_path / "out.zarr"]
    if command == "validate":
        return ["validate", src, good[1]]
    return [command, src]


@pytest.mark.parametrize("mode", list(MODES))
@pytest.mark.parametrize("case", list(BAD_SOURCES))
@pytest.mark.parametrize("command", SOURCE_COMMANDS)
def test_bad_source(command, case, mode, tmp_path, good):
    make, expected = BAD_SOURCES[case]
    src = make(tmp_path)
    ran = run_cli(mode, *_source_args(command, src, tmp_path, good))
    check(ran, mode, 2, src, expected)
    assert not (tmp_path / "out.zarr").exists()


@pytest.mark.parametrize("mode", list(MODES))
@pytest.mark.parametrize("command", SOURCE_COMMANDS)
def test_bug_in_source_commands(command, mode, tmp_path, good, bug_in_pipeline):
    src = good[0]
    ran = run_cli(mode, *_source_args(command, src, tmp_path, good))
    check(ran, mode, 1, src, BOOM)
    if mode != "plain":
        assert "RuntimeError: boom" in ran.stderr and "in _boom" in ran.stderr
    assert not (tmp_path / "out.zarr").exists()


@pytest.mark.parametrize("mode", list(MODES))
@pytest.mark.parametrize("case", list(BAD_STORES))
def test_bad_store_only(case, mode, tmp_path):
    make, expected = BAD_STORES[case]
    store = make(tmp_path)
    check(run_cli(mode, "validate", store), mode, 2, store, expected)


@pytest.mark.parametrize("mode", list(MODES))
def test_bug_in_store_only(mode, good, monkeypatch):
    monkeypatch.setattr("nwb1zarr.validation.store_check.members", _boom)
    check(run_cli(mode, "validate", good[1]), mode, 1, good[1], BOOM)


def _demo_in_file(d: Path) -> tuple[Path, Path]:  # DIRECTORY is a regular file
    path = _random(d)
    return path, path


def _demo_below_file(d: Path) -> tuple[Path, Path]:  # DIRECTORY cannot be created
    path = _random(d) / "demo"
    return path, path


def _demo_source(make: Callable[[Path], Path]) -> Callable[[Path], tuple[Path, Path]]:
    """DIRECTORY holds a bad file where the demo session would be (and is reused without --overwrite)."""
    def place(d: Path) -> tuple[Path, Path]:
        made = make(d)
        src = d / "demo_three_session_B.nwb"
        made.rename(src)
        return d, src
    return place


DEMO_CASES = {
    "missing parent (below a file)": (_demo_below_file, 2, "cannot create the demo directory"),
    "random bytes as DIRECTORY": (_demo_in_file, 2, "not a directory"),
    "directory as the demo session": (_demo_source(_directory), 2, "is a directory"),
    "random bytes as the demo session": (_demo_source(_random), 2, "not an HDF5 file"),
    "NWB 2 file as the demo session": (_demo_source(_nwb2), 2, "this is an NWB 2.8.0 file"),
}


@pytest.mark.parametrize("mode", list(MODES))
@pytest.mark.parametrize("case", list(DEMO_CASES))
def test_demo_bad_directory(case, mode, tmp_path):
    make, code, expected = DEMO_CASES[case]
    directory, named = make(tmp_path)
    check(run_cli(mode, "demo", directory), mode, code, named, expected)


@pytest.mark.parametrize("mode", list(MODES))
def test_demo_bug(mode, tmp_path, bug_in_pipeline):
    check(run_cli(mode, "demo", tmp_path), mode, 1, tmp_path, BOOM)
    assert not list(tmp_path.glob("*.zarr"))


def test_interrupt_outside_convert(tmp_path, good, monkeypatch):
    def interrupt(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(TypeMap, "load", classmethod(interrupt))
    for args in (["inspect", good[0]], ["validate", good[0], good[1]]):
        ran = run_cli("plain", *args)
        assert ran.exit_code == 130, ran
        assert ran.stderr.strip().splitlines() == [f"error: {good[0]}: interrupted"]


def test_report_that_cannot_be_written(tmp_path, good):
    report = tmp_path / "no" / "such" / "dir" / "report.json"
    ran = run_cli("plain", "convert", good[0], tmp_path / "out.zarr", "--report", report)
    check(ran, "plain", 1, report, "cannot write the report (No such file or directory); the store at")
    assert (tmp_path / "out.zarr").is_dir()


def test_debug_flag_does_not_leak(good, bug_in_pipeline):
    run_cli("--debug", "inspect", good[0])
    assert "NWB1ZARR_DEBUG" not in os.environ
    check(run_cli("plain", "inspect", good[0]), "plain", 1, good[0], BOOM)


# ---- convert as the user runs it: a real process with a supervised child -----------------------

INJECT_BUG = ("import nwb1zarr.reading.typemap as t\n"
              "def boom(cls):\n"
              "    raise RuntimeError('boom')\n"
              "t.TypeMap.load = classmethod(boom)\n")


def run_process(mode: str, *args: object, bug: bool = False) -> Ran:
    flags, env = MODES[mode]
    code = (INJECT_BUG if bug else "") + "import sys\nfrom nwb1zarr.cli import main\nsys.exit(main())\n"
    environ = {k: v for k, v in os.environ.items() if k != "NWB1ZARR_DEBUG"}
    proc = subprocess.run([sys.executable, "-c", code, *flags, *(str(a) for a in args)], capture_output=True,
                          text=True, timeout=300, env={**environ, **env})
    return Ran(proc.returncode, proc.stdout, proc.stderr)


@pytest.mark.parametrize("case", list(BAD_SOURCES))
def test_convert_process_bad_source(case, tmp_path):
    make, expected = BAD_SOURCES[case]
    src = make(tmp_path)
    check(run_process("plain", "convert", src, tmp_path / "out.zarr"), "plain", 2, src, expected)


@pytest.mark.parametrize("mode", list(MODES))
def test_convert_process_bug(mode, tmp_path, good):
    dst = tmp_path / "out.zarr"
    ran = run_process(mode, "convert", good[0], dst, bug=True)
    check(ran, mode, 1, good[0], BOOM)
    if mode != "plain":
        assert "RuntimeError: boom" in ran.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # no store, partial or lock


@pytest.mark.parametrize("mode", ["--debug", "NWB1ZARR_DEBUG=1"])
def test_convert_process_debug_shows_traceback_of_input_errors(mode, tmp_path):
    src = _random(tmp_path)
    ran = run_process(mode, "convert", src, tmp_path / "out.zarr")
    check(ran, mode, 2, src, "not an HDF5 file")
    assert "nwb1zarr.errors.InputError" in ran.stderr


# ---- the xarray engine --------------------------------------------------------------------------


@pytest.mark.parametrize("case", list(BAD_SOURCES))
def test_engine_bad_source(case, tmp_path):
    import xarray as xr

    make, expected = BAD_SOURCES[case]
    src = make(tmp_path)
    with pytest.raises(InputError) as info:
        xr.open_datatree(src, engine="nwb1")
    text = str(info.value)
    assert text.startswith(str(src)) and expected in text and "\n" not in text


def test_engine_bug_is_one_line_internal_error(good, bug_in_pipeline):
    import xarray as xr

    with pytest.raises(Nwb1ZarrError) as info:
        xr.open_datatree(good[0], engine="nwb1")
    assert str(info.value).startswith(f"{good[0]}: {BOOM}")
    assert "\n" not in str(info.value)
    assert isinstance(info.value.__cause__, RuntimeError)
    with pytest.raises(Nwb1ZarrError):
        xr.open_dataset(good[0], engine="nwb1", group="/ophys")


def test_engine_bug_in_debug_mode_is_the_original(good, bug_in_pipeline, monkeypatch):
    import xarray as xr

    monkeypatch.setenv("NWB1ZARR_DEBUG", "1")
    with pytest.raises(RuntimeError, match=r"^boom$"):
        xr.open_datatree(good[0], engine="nwb1")


def test_engine_bad_group_and_object(good):
    import xarray as xr

    from nwb1zarr.backend import Nwb1BackendEntrypoint

    with pytest.raises(InputError, match="no such group"):
        xr.open_dataset(good[0], engine="nwb1", group="/no/such/group")
    with pytest.raises(InputError, match="by path"):
        Nwb1BackendEntrypoint().open_datatree(object())
    dt = xr.open_datatree(good[0], engine="nwb1", drop_variables="dff")
    try:
        assert "dff" not in dt["ophys"].data_vars and "fluorescence" in dt["ophys"].data_vars
    finally:
        dt.close()


# ---- a fast --help ------------------------------------------------------------------------------


def test_help_imports_no_array_libraries():
    code = ("import sys\nfrom nwb1zarr.cli import main\n"
            "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
            "print(sorted(m for m in ('xarray', 'zarr', 'dask', 'h5py', 'numpy') if m in sys.modules))\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "[]", proc.stdout


def test_lazy_package_keeps_functions_over_same_named_modules():
    code = ("import nwb1zarr.convert, nwb1zarr.validation.validate, nwb1zarr.planning.planner\n"
            "import nwb1zarr\n"
            "from nwb1zarr.convert import default_destination\n"
            "assert nwb1zarr.convert.__module__ == 'nwb1zarr.convert' and callable(nwb1zarr.convert)\n"
            "assert nwb1zarr.validate.__module__ == 'nwb1zarr.validation.validate' and callable(nwb1zarr.validate)\n"
            "assert nwb1zarr.plan.__name__ == 'plan'\n"
            "from nwb1zarr import *\n"
            "names = dict(globals())\n"
            "assert all(names[n] is getattr(nwb1zarr, n) for n in nwb1zarr.__all__)\n"
            "print('ok')\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr


@pytest.mark.parametrize("target", ["source", "store"])
def test_reader_of_stdout_goes_away(target, good):
    """`nwb1zarr inspect F | head -1`: when the reader closes the pipe, the command stops quietly (exit 1, no
    'internal error'); a broken pipe that is not stdout's stays an internal error (next test)."""
    src, store = good
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before the first line is written
    try:
        inspected = src if target == "source" else store
        proc = subprocess.run([sys.executable, "-m", "nwb1zarr.cli", "inspect", str(inspected)],
                              stdout=write_end, stderr=subprocess.PIPE, text=True, timeout=120,
                              env={**os.environ, "NWB1ZARR_DEBUG": ""})
    finally:
        os.close(write_end)
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr == "", proc.stderr


def test_broken_pipe_elsewhere_is_still_a_bug(good, monkeypatch):
    def broken(*args: object, **kwargs: object) -> None:
        raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr(TypeMap, "load", classmethod(broken))
    ran = run_cli("plain", "inspect", good[0])
    assert ran.exit_code == 1
    assert "internal error (BrokenPipeError" in ran.stderr
