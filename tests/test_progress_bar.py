"""The CLI's progress display: what the bars show (bytes, rate, time left), that they stay away from anything but
a terminal, ``--quiet`` / ``--verbose``, and the callback contract the library reports through."""

from __future__ import annotations

import fcntl
import io
import os
import re
import select
import struct
import subprocess
import sys
import termios
from pathlib import Path

import pytest
from click.testing import CliRunner

import nwb1zarr
from nwb1zarr.cli import main
from nwb1zarr.progress import DaskProgress, dask_array_sizes, report, wants_unit
from nwb1zarr.progress_bar import ProgressDisplay, format_amount


class Terminal(io.StringIO):
    """A stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def session(tmp_path_factory) -> Path:
    from nwb1zarr.testing import SessionSpec, write_session

    return Path(write_session(tmp_path_factory.mktemp("progress") / "s.nwb", SessionSpec.tiny()))


def frames(text: str) -> list[str]:
    """The successive states of a line redrawn with carriage returns."""
    return [f.rstrip() for f in re.split(r"[\r\n]", text) if f.strip()]


# ---- rendering ------------------------------------------------------------------------------------------


def test_plain_bar_shows_bytes_rate_and_time_left():
    out, clock = Terminal(), Clock()
    display = ProgressDisplay(stream=out, backend="plain", clock=clock, min_interval=0)
    display("download", 0, 8_000_000, unit="bytes")
    clock.now += 2
    display("download", 2_000_000, 8_000_000, unit="bytes")
    assert frames(out.getvalue())[-1] == ("download  25% |######------------------| 2.00 MB/8.00 MB  "
                                          "1.00 MB/s  00:06 left")
    clock.now += 6
    display("download", 8_000_000, 8_000_000, unit="bytes")
    assert frames(out.getvalue())[-1].startswith("download 100% |########################| 8.00 MB/8.00 MB  1.00 MB/s")
    assert out.getvalue().endswith("\n")  # the stage ended: the next one starts on its own line


def test_plain_bar_counts_items_when_the_unit_is_not_bytes():
    out, clock = Terminal(), Clock()
    display = ProgressDisplay(stream=out, backend="plain", clock=clock, min_interval=0)
    display("validate", 0, 40, unit="arrays")
    clock.now += 4
    display("validate", 10, 40, unit="arrays")
    assert frames(out.getvalue())[-1] == ("validate  25% |######------------------| 10/40 arrays  2.5 arrays/s  "
                                          "00:12 left")


def test_plain_bar_rate_counts_only_this_run_of_a_resumed_download():
    out, clock = Terminal(), Clock()
    display = ProgressDisplay(stream=out, backend="plain", clock=clock, min_interval=0, verbose=True)
    display("download", 6_000_000, 8_000_000, unit="bytes")  # 6 MB were there from an earlier run
    clock.now += 1
    display("download", 7_000_000, 8_000_000, unit="bytes")
    assert "1.00 MB/s  00:01 left" in frames(out.getvalue())[-1]
    clock.now += 1
    display("download", 8_000_000, 8_000_000, unit="bytes")
    assert out.getvalue().splitlines()[-1] == "download: 2.0 s, 2.00 MB at 1.00 MB/s (resumed after 6.00 MB)"


def test_tqdm_bar_shows_bytes_rate_and_time_left():
    pytest.importorskip("tqdm")
    out = Terminal()
    display = ProgressDisplay(stream=out, backend="tqdm", min_interval=0)
    display("write", 0, 50_000_000, unit="bytes")
    display("write", 20_000_000, 50_000_000, unit="bytes")
    display("write", 50_000_000, 50_000_000, unit="bytes")
    last = frames(out.getvalue())[-1]
    assert re.match(r"^\s*write: 100%\|.+\| 50\.0M/50\.0MB? \[\d\d:\d\d<\d\d:\d\d, .+B/s\]$", last), last
    middle = [f for f in frames(out.getvalue()) if " 40%" in f]
    assert middle and "20.0M/50.0M" in middle[0], frames(out.getvalue())


def test_tqdm_starts_no_thread():
    pytest.importorskip("tqdm")
    import threading

    before = threading.active_count()
    display = ProgressDisplay(stream=Terminal(), backend="tqdm")
    display("download", 0, 10, unit="bytes")
    assert threading.active_count() == before  # the CLI forks a supervised child after a download
    display.close()


def test_instant_stages_draw_no_bar_but_have_a_timing():
    out, clock = Terminal(), Clock()
    display = ProgressDisplay(stream=out, backend="plain", clock=clock, verbose=True)
    clock.now += 0.5
    display("plan", 1, 1)
    assert out.getvalue() == "plan: 0.5 s\n"


def test_nothing_is_drawn_when_the_stream_is_not_a_terminal():
    out = io.StringIO()
    for backend in ("plain", "tqdm"):
        display = ProgressDisplay(stream=out, backend=backend)
        for done in range(0, 11):
            display("write", done, 10, unit="bytes")
        display("validate", 3, 5, unit="arrays")
        display.close()
    assert out.getvalue() == ""


def test_failed_stage_says_it_stopped():
    out, clock = io.StringIO(), Clock()
    with pytest.raises(RuntimeError), ProgressDisplay(stream=out, verbose=True, clock=clock) as display:
        display("write", 5, 10, unit="bytes")
        clock.now += 3
        raise RuntimeError
    assert out.getvalue() == "write: stopped after 3.0 s\n"


# ---- the callback contract --------------------------------------------------------------------------


def test_three_argument_callbacks_keep_getting_tasks(session, tmp_path):
    old, new = [], []
    nwb1zarr.convert(session, tmp_path / "a.zarr", progress=lambda stage, done, total: old.append((stage, done, total)))
    nwb1zarr.convert(session, tmp_path / "b.zarr", progress=lambda *a, unit="steps": new.append((*a, unit)))
    old_write = [c for c in old if c[0] == "write"]
    new_write = [c for c in new if c[0] == "write"]
    assert old_write[-1][1] == old_write[-1][2] > 0  # tasks, as before
    assert {c[3] for c in new_write} == {"bytes"}
    done = [c[1] for c in new_write]
    assert done == sorted(done) and done[-1] == new_write[-1][2]
    assert new_write[-1][2] != old_write[-1][2]  # bytes, not tasks
    import xarray as xr

    tree = xr.open_datatree(tmp_path / "b.zarr", engine="zarr")
    stored = sum(v.nbytes for node in tree.subtree for v in node.to_dataset(inherit=False).variables.values())
    tree.close()
    assert 0.5 * stored < new_write[-1][2] <= stored  # the dask-written part of the store's logical bytes


def test_dask_progress_bytes_of_named_arrays():
    import dask.array as da

    array = da.ones((1000, 100), chunks=(100, 100))
    seen = []
    with DaskProgress("write", lambda s, d, t, unit: seen.append((d, t, unit)), sizes={array.name: array.nbytes}):
        (array + 1).sum().compute()
    assert seen[-1] == (array.nbytes, array.nbytes, "bytes") and seen[0][0] == 0
    assert dask_array_sizes(object()) == {}


def test_report_passes_unit_only_to_callbacks_that_take_it():
    plain, aware = [], []
    report(lambda s, d, t: plain.append((s, d, t)), "download", 1, 2, unit="bytes")
    report(lambda s, d, t, *, unit: aware.append((s, d, t, unit)), "download", 1, 2, unit="bytes")
    assert plain == [("download", 1, 2)] and aware == [("download", 1, 2, "bytes")]
    assert wants_unit(ProgressDisplay(stream=io.StringIO())) and not wants_unit(print)


# ---- the CLI ------------------------------------------------------------------------------------------------


def run(*args: object) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_cli_not_a_terminal_prints_no_progress(session, tmp_path):
    code, out, err = run("convert", session, tmp_path / "s.zarr", "--validate")
    assert code == 0 and err == "", err
    assert "wrote" in out


def test_cli_quiet_prints_nothing(session, tmp_path):
    code, out, err = run("convert", session, tmp_path / "s.zarr", "--quiet", "--progress")
    assert (code, out, err) == (0, "", "")
    assert run("validate", session, tmp_path / "s.zarr", "-q") == (0, "", "")
    assert run("validate", tmp_path / "s.zarr", "-q") == (0, "", "")


def test_cli_quiet_and_verbose_exclude_each_other(session, tmp_path):
    code, _, err = run("convert", session, tmp_path / "s.zarr", "-q", "-v")
    assert code == 2 and "--quiet and --verbose exclude each other" in err


def test_cli_verbose_names_stages_with_timings(session, tmp_path):
    code, _, err = run("convert", session, tmp_path / "s.zarr", "--validate", "--verbose")
    assert code == 0, err
    lines = err.splitlines()
    assert [line.split(":")[0] for line in lines] == ["plan", "write", "validate", "digest"], err
    assert re.match(r"^write: \d+\.\d s, [\d.]+ [kMG]?B at [\d.]+ [kMG]?B/s$", lines[1]), lines[1]
    assert re.match(r"^validate: \d+\.\d s, \d+ arrays$", lines[2]), lines[2]
    assert re.match(r"^digest: \d+\.\d s, \d+ arrays$", lines[3]), lines[3]  # overlapped: its wait after validate


@pytest.mark.skipif(not hasattr(os, "openpty"), reason="needs a pseudo-terminal")
@pytest.mark.parametrize("backend", ["tqdm", "plain"])
def test_cli_draws_bars_on_a_real_terminal(session, tmp_path, backend):
    """``nwb1zarr convert`` as a user runs it (a real process, supervised child), stderr a pseudo-terminal."""
    if backend == "tqdm":
        pytest.importorskip("tqdm")
    hide = "" if backend == "tqdm" else "import sys; sys.modules['tqdm'] = None\n"
    code = hide + "import sys\nfrom nwb1zarr.cli import main\nsys.exit(main())\n"
    primary, secondary = os.openpty()
    fcntl.ioctl(secondary, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 120, 0, 0))  # 30 rows, 120 columns
    proc = subprocess.Popen([sys.executable, "-c", code, "convert", str(session), str(tmp_path / "t.zarr"),
                             "--validate"], stdout=subprocess.PIPE, stderr=secondary, text=True)
    os.close(secondary)
    chunks = []
    while True:
        ready, _, _ = select.select([primary], [], [], 120)
        if not ready:
            proc.kill()
            raise AssertionError("no output for 120 s")
        try:
            chunk = os.read(primary, 65536)
        except OSError:  # the terminal closed: every writer exited
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(primary)
    out = proc.communicate(timeout=60)[0]
    assert proc.returncode == 0, out
    drawn = b"".join(chunks).decode()
    final = [f for f in frames(drawn) if "100%" in f]
    assert any(f.lstrip().startswith("write") and "B/s" in f for f in final), drawn
    assert any(f.lstrip().startswith("validate") for f in final), drawn
    assert "wrote" in out and "error" not in drawn


def test_format_amount_units():
    assert [format_amount(n, "bytes") for n in (0, 999, 1000, 12_345_678, 2.5e9)] == \
        ["0 B", "999 B", "1.00 kB", "12.3 MB", "2.50 GB"]
