"""Shared fixtures: generator files are written once per session into a temp dir.

Fault-test fixtures (``fault_*``) write small synthetic sources once per session, run the CLI,
check that sources are never modified, and record what the user saw so ``docs/faults.md`` can be
regenerated from observations (``NWB1ZARR_WRITE_FAULTS_DOC=1 pytest tests/test_faults*.py``).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from nwb1zarr.testing import VARIANTS, write_session


@pytest.fixture(scope="session")
def variant_file(tmp_path_factory):
    """variant_file(name) -> path of a tiny generator file for VARIANTS[name] (written once)."""
    root = tmp_path_factory.mktemp("variants")
    made: dict[str, Path] = {}

    def get(name: str) -> Path:
        if name not in made:
            made[name] = write_session(root / f"{name}.nwb", VARIANTS[name])
        return made[name]

    return get


# ---- fault tests: sources -----------------------------------------------------------------------


def _write_bo_session(path: Path, **overrides: Any) -> Path:
    from nwb1zarr.testing import SessionSpec, write_session

    return Path(write_session(path, SessionSpec.tiny(**overrides)))


def _write_generic(path: Path, seed: int = 0) -> Path:
    from nwb1zarr.testing import write_generic_nwb1

    return Path(write_generic_nwb1(path, seed=seed))


@pytest.fixture(scope="session")
def fault_sources(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Read-only sources shared by the fault tests: a tiny Brain Observatory session and a generic file.

    Tests copy them before damaging them; they must never change (checked by ``fault_guard``).
    """
    base = tmp_path_factory.mktemp("fault_sources")
    return {"bo": _write_bo_session(base / "bo_session.nwb"), "generic": _write_generic(base / "generic.nwb")}


@pytest.fixture(scope="session")
def fault_long_source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A session big enough that `nwb1zarr convert` takes a few seconds (for kill / race tests)."""
    base = tmp_path_factory.mktemp("fault_long")
    return _write_bo_session(base / "long_session.nwb", n_rois=60, n_frames=80000)


@dataclass(frozen=True)
class ConvertTiming:
    """When, in one `nwb1zarr convert` of the long source on this machine, the partial store appeared and the
    command ended (seconds from its start): interruption tests pick their moments inside these spans."""

    partial: float
    end: float

    @property
    def writing(self) -> float:
        return max(0.05, self.end - self.partial)


@pytest.fixture(scope="session")
def fault_long_timing(fault_long_source: Path, tmp_path_factory: pytest.TempPathFactory) -> ConvertTiming:
    dst = tmp_path_factory.mktemp("fault_long_timing") / "out.zarr"
    started = time.monotonic()
    proc = subprocess.Popen([*FAULT_CLI_COMMAND, "convert", str(fault_long_source), str(dst)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    partial = None
    while proc.poll() is None:
        if partial is None and any(dst.parent.glob(f".{dst.name}.partial-*")):
            partial = time.monotonic() - started
        time.sleep(0.005)
    end = time.monotonic() - started
    assert proc.returncode == 0 and dst.is_dir()
    shutil.rmtree(dst)
    return ConvertTiming(partial=end / 2 if partial is None else partial, end=end)


# ---- fault tests: running the CLI ---------------------------------------------------------------


@dataclass
class CliResult:
    exit_code: int
    stdout: str
    stderr: str


@pytest.fixture
def fault_cli() -> Callable[..., CliResult]:
    """Run ``nwb1zarr ARGS`` in-process (click's runner) and return exit code, stdout and stderr."""
    from click.testing import CliRunner

    from nwb1zarr.cli import main

    def run(*args: object) -> CliResult:
        result = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=True)
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise AssertionError(f"CLI raised {result.exception!r} instead of a clean error") from result.exception
        return CliResult(result.exit_code, result.stdout, result.stderr)

    return run


FAULT_CLI_COMMAND = [sys.executable, "-c", "import sys; from nwb1zarr.cli import main; sys.exit(main())"]


@pytest.fixture
def fault_cli_process() -> Callable[..., subprocess.Popen[str]]:
    """Start ``nwb1zarr ARGS`` as a subprocess (for signals and races); caller waits for it."""
    started: list[subprocess.Popen[str]] = []

    def start(*args: object, **kwargs: Any) -> subprocess.Popen[str]:
        proc = subprocess.Popen([*FAULT_CLI_COMMAND, *(str(a) for a in args)], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, **kwargs)
        started.append(proc)
        return proc

    yield start
    for proc in started:  # never leave a converter running after a failed test
        if proc.poll() is None:
            proc.kill()
            proc.wait()


# ---- fault tests: state checks ------------------------------------------------------------------


def fault_fingerprint(path: Path) -> tuple[str, int, int]:
    """sha256, size and mtime (ns) of a file."""
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    st = path.stat()
    return digest, st.st_size, st.st_mtime_ns


@pytest.fixture
def fault_guard() -> Callable[[Path], contextlib.AbstractContextManager[None]]:
    """``with fault_guard(src): ...`` fails unless src has the same sha256, size and mtime afterwards."""

    @contextlib.contextmanager
    def guard(src: Path) -> Iterator[None]:
        before = fault_fingerprint(src) if src.is_file() else None
        yield
        after = fault_fingerprint(src) if src.is_file() else None
        assert after == before, f"source {src} was modified: {before} -> {after}"

    return guard


def fault_listing(directory: Path) -> set[str]:
    """Every path under ``directory`` (relative), for before/after comparisons."""
    out = set()
    for root, dirs, files in os.walk(directory):
        for name in dirs + files:
            out.add(os.path.relpath(os.path.join(root, name), directory))
    return out


def fault_leftovers(dst: Path) -> list[str]:
    """Names beside ``dst`` that a conversion of ``dst`` may leave (lock, partial and old stores)."""
    return sorted(p.name for p in dst.parent.glob(f".{dst.name}.*"))


@pytest.fixture
def fault_validate() -> Callable[[Path, Path], None]:
    """Assert that the store at ``dst`` is a complete conversion of ``src`` (``nwb1zarr.validate`` passes)."""
    from nwb1zarr.validation.validate import validate

    def check(src: Path, dst: Path) -> None:
        report = validate(src, dst)
        assert report.ok, report.summary()

    return check


# ---- fault tests: recording what users see ------------------------------------------------------

_FAULT_ROWS: list[dict[str, Any]] = []


@pytest.fixture
def fault_record(request: pytest.FixtureRequest) -> Callable[..., None]:
    """Record one observed fault: ``fault_record(case, result_or_message, exit_code, state, paths={...})``.

    ``paths`` maps real paths to placeholders (SRC, DST, DIR) so the table is stable across runs.
    """

    def record(case: str, message: str, exit_code: int, state: str, *, paths: dict[str, Path] | None = None,
               group: str = "") -> None:
        text = message.strip().splitlines()[-1] if message.strip() else ""
        for placeholder, path in sorted((paths or {}).items(), key=lambda kv: -len(str(kv[1]))):
            text = text.replace(str(Path(os.path.abspath(path))), placeholder).replace(str(path), placeholder)
        text = re.sub(r"pid \d+ [^)\s]+", "pid N HOST", text)
        text = re.sub(r"partial-\d+", "partial-PID", text)
        _FAULT_ROWS.append({"group": group or request.node.module.__name__.removeprefix("test_faults_"),
                            "case": case, "message": text, "exit_code": exit_code, "state": state,
                            "test": request.node.nodeid})

    return record


_FUZZ_COUNTS: dict[str, dict[str, int]] = {}


@pytest.fixture(scope="session")
def fuzz_counts() -> dict[str, dict[str, int]]:
    """Per-campaign outcome counts of the fuzz tests (printed and saved at the end of the session)."""
    return _FUZZ_COUNTS


def _faults_markdown(rows: list[dict[str, Any]]) -> str:
    order = ["input", "names", "destination", "interruption"]
    rows = sorted(rows, key=lambda r: order.index(r["group"]) if r["group"] in order else len(order))
    seen: set[tuple[str, str]] = set()
    lines = ["| Group | Bad input or fault | What the user gets (stderr / stdout) | Exit code | State left |",
             "|---|---|---|---|---|"]
    for row in rows:
        key = (row["group"], row["case"])
        if key in seen:
            continue
        seen.add(key)
        message = row["message"].replace("|", "\\|")
        lines.append(f"| {row['group']} | {row['case']} | `{message}` | {row['exit_code']} | {row['state']} |")
    return "\n".join(lines) + "\n"


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Save fault observations and fuzz counts as JSON; regenerate the docs/faults.md table on request."""
    if not _FAULT_ROWS and not _FUZZ_COUNTS:
        return
    factory = getattr(session.config, "_tmp_path_factory", None)
    if factory is not None:
        out = factory.getbasetemp() / "fault_observations.json"
        out.write_text(json.dumps({"faults": _FAULT_ROWS, "fuzz": _FUZZ_COUNTS}, indent=1))
    if _FUZZ_COUNTS:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            for name, counts in _FUZZ_COUNTS.items():
                reporter.write_line(f"fuzz {name}: {sum(counts.values())} cases {dict(sorted(counts.items()))}")
    if os.environ.get("NWB1ZARR_WRITE_FAULTS_DOC") == "1" and _FAULT_ROWS and exitstatus == 0:
        doc = Path(__file__).resolve().parent.parent / "docs" / "faults.md"
        text = doc.read_text() if doc.exists() else "<!-- faults-table:start -->\n<!-- faults-table:end -->\n"
        start, end = "<!-- faults-table:start -->\n", "<!-- faults-table:end -->"
        head, rest = text.split(start, 1)
        tail = rest.split(end, 1)[1]
        doc.write_text(head + start + _faults_markdown(_FAULT_ROWS) + end + tail)
        counts_start, counts_end = "<!-- fuzz-counts:start -->\n", "<!-- fuzz-counts:end -->"
        text = doc.read_text()
        if counts_start in text and _FUZZ_COUNTS:
            head, rest = text.split(counts_start, 1)
            tail = rest.split(counts_end, 1)[1]
            body = "".join(f"- `{name}`: {sum(c.values())} cases: "
                           + ", ".join(f"{k} {v}" for k, v in sorted(c.items())) + "\n"
                           for name, c in sorted(_FUZZ_COUNTS.items()))
            doc.write_text(head + counts_start + body + counts_end + tail)
