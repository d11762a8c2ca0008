"""Create (once) and reuse an isolated AllenSDK environment for the agreement tests.

AllenSDK 2.16.2 needs numpy < 1.24 and pandas 1.5, so it cannot share the project's environment
(numpy >= 2, zarr 3).  :func:`ensure_env` builds ``python -m venv`` + ``pip install --only-binary=:all:``
with the exact pins of ``shared/docs/allensdk_reference_env.md`` and caches it:

- location: ``$NWB1ZARR_ALLENSDK_VENV`` if set, else ``~/.cache/nwb1zarr/allensdk-<hash>``, where the hash
  covers :data:`PINS` and the interpreter's ``major.minor`` (a pin change makes a new environment);
- reuse: an existing environment is used when its python imports ``BrainObservatoryNwbDataSet`` and every
  ``==`` pin is installed at exactly that version;
- atomic: the environment is built in a sibling temp directory and renamed into place only after the
  import check passed, so an interrupted install never leaves a half environment that looks ready
  (the venv's own python is location independent; only ``bin/pip``-style shebangs would point at the
  temp name, and nothing here uses them: pip always runs as ``python -m pip``);
- concurrent sessions serialise on a lock file beside the environment.

Interpreter: ``$NWB1ZARR_ALLENSDK_PYTHON``, else ``python3.11`` on PATH, else the running interpreter when
it is 3.8-3.11 (the pins have wheels only up to CPython 3.11).

Example:
    >>> from tests.allensdk.env import ensure_env          # doctest: +SKIP
    >>> python = ensure_env()                                # doctest: +SKIP  (about 40 s the first time)
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

PINS: tuple[str, ...] = (
    "allensdk==2.16.2",
    "numpy==1.23.5",
    "pandas==1.5.3",
    "scipy==1.10.1",
    "xarray<2023.2.0",
    "pynwb==2.8.3",
    "hdmf==3.14.6",
    "statsmodels<0.15",
    "marshmallow<4",
)
"""Exact pins from shared/docs/allensdk_reference_env.md (wheels only, ~40 s on Python 3.11)."""

INSTALL_TIMEOUT_S = 1200
MARKER = ".nwb1zarr-allensdk.json"
"""Written into environments made here; only those are ever replaced."""
_CHECK = """
import json, sys, importlib.metadata as md
from allensdk.core.brain_observatory_nwb_data_set import BrainObservatoryNwbDataSet  # noqa: F401
import h5py, numpy, pandas  # noqa: F401
names = json.loads(sys.argv[1])
print(json.dumps({n: md.version(n) for n in names}))
"""


class AllenSDKEnvError(RuntimeError):
    """The AllenSDK environment could not be created or used; the message carries pip's output."""


def _exact_pins() -> dict[str, str]:
    return {p.split("==")[0]: p.split("==")[1] for p in PINS if "==" in p}


def find_python() -> str:
    """The interpreter to base the environment on (see module docstring)."""
    explicit = os.environ.get("NWB1ZARR_ALLENSDK_PYTHON")
    if explicit:
        return explicit
    found = shutil.which("python3.11")
    if found:
        return found
    if (3, 8) <= sys.version_info[:2] <= (3, 11):
        return getattr(sys, "_base_executable", None) or sys.executable
    raise AllenSDKEnvError(f"no Python 3.8-3.11 found for AllenSDK 2.16.2 (running {sys.version.split()[0]}); "
                           "set NWB1ZARR_ALLENSDK_PYTHON")


def _python_tag(python: str) -> str:
    try:
        out = subprocess.run([python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                             capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        raise AllenSDKEnvError(f"cannot run {python}: {exc}") from exc
    return out.stdout.strip()


def default_location(python: str | None = None) -> Path:
    """``$NWB1ZARR_ALLENSDK_VENV``, else ``~/.cache/nwb1zarr/allensdk-<hash of pins + python version>``."""
    explicit = os.environ.get("NWB1ZARR_ALLENSDK_VENV")
    if explicit:
        return Path(explicit).expanduser()
    tag = _python_tag(python or find_python())
    digest = hashlib.sha256(json.dumps([tag, *PINS]).encode()).hexdigest()[:12]
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "nwb1zarr" / f"allensdk-{digest}"


def env_python(location: Path) -> Path:
    """The environment's interpreter."""
    return location / "bin" / "python"


def check_env(location: Path) -> str | None:
    """None when ``location`` is a usable environment with the exact pins, else the reason it is not."""
    python = env_python(location)
    if not python.exists():
        return f"{python} does not exist"
    pins = _exact_pins()
    try:
        out = subprocess.run([str(python), "-c", _CHECK, json.dumps(sorted(pins))], capture_output=True,
                             text=True, timeout=300)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"{python} cannot run: {exc}"
    if out.returncode != 0:
        return f"{python} cannot import AllenSDK: {out.stderr.strip().splitlines()[-1:]}"
    versions = json.loads(out.stdout.strip().splitlines()[-1])
    wrong = {n: versions.get(n) for n, v in pins.items() if versions.get(n) != v}
    return f"installed versions differ from the pins: {wrong}" if wrong else None


@contextlib.contextmanager
def _lock(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _run(cmd: list[str], what: str) -> None:
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=INSTALL_TIMEOUT_S)
    except subprocess.TimeoutExpired as exc:
        raise AllenSDKEnvError(f"{what} timed out after {INSTALL_TIMEOUT_S} s: {' '.join(cmd)}") from exc
    except OSError as exc:
        raise AllenSDKEnvError(f"{what} could not start: {' '.join(cmd)}: {exc}") from exc
    if out.returncode != 0:
        tail = "\n".join((out.stdout + out.stderr).strip().splitlines()[-40:])
        raise AllenSDKEnvError(f"{what} failed (exit {out.returncode}): {' '.join(cmd)}\n{tail}")


def ensure_env(location: Path | None = None, *, python: str | None = None) -> Path:
    """Return the python of a ready AllenSDK environment, creating it at ``location`` if needed.

    Raises :class:`AllenSDKEnvError` (with pip's output) when it cannot be created.
    """
    if location is None:
        python = python or find_python()
        location = default_location(python)
    location = Path(location)
    if check_env(location) is None:
        return env_python(location)
    with _lock(location.parent / f".{location.name}.lock"):
        if check_env(location) is None:  # another session built it while we waited
            return env_python(location)
        python = python or find_python()
        tmp = Path(tempfile.mkdtemp(prefix=f".{location.name}.partial-", dir=location.parent))
        try:
            _run([python, "-m", "venv", str(tmp)], "creating the AllenSDK venv")
            _run([str(env_python(tmp)), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                  "--only-binary=:all:", *PINS], "pip install of the AllenSDK pins")
            reason = check_env(tmp)
            if reason is not None:
                raise AllenSDKEnvError(f"the new AllenSDK environment is unusable: {reason}")
            (tmp / MARKER).write_text(json.dumps({"pins": list(PINS)}))
            if location.exists() or location.is_symlink():  # a stale or broken environment of ours: replace
                if not (location / MARKER).exists():
                    raise AllenSDKEnvError(f"{location} exists but is not a usable AllenSDK environment "
                                           f"({check_env(location)}) and was not made here; not replacing it")
                stale = location.parent / f".{location.name}.stale-{os.getpid()}"
                location.rename(stale)
                shutil.rmtree(stale, ignore_errors=True)
            tmp.rename(location)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
    return env_python(location)


if __name__ == "__main__":
    print(ensure_env())
