"""Shared helpers of the benchmark scripts: cached synthetic sources, child-process measurement."""

from __future__ import annotations

import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

WORK = Path(os.environ.get("NWB1ZARR_BENCH_DIR", "/tmp/nwb1zarr-bench"))
FULL_FRAMES = 115_000
SESSIONS = {"A": "three_session_A", "B": "three_session_B"}


def source_path(letter: str, frames: int) -> Path:
    """A cached synthetic full-size session (generated once; the generator is deterministic)."""
    from nwb1zarr.testing import SessionSpec, write_session

    WORK.mkdir(parents=True, exist_ok=True)
    path = WORK / f"session_{letter}_{frames}.nwb"
    if not path.exists():
        tmp = path.with_suffix(".nwb.part")
        started = time.perf_counter()
        write_session(tmp, SessionSpec.full(session_type=SESSIONS[letter], n_frames=frames))
        tmp.rename(path)
        print(f"generated {path.name} in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    return path


def warm(path: Path) -> None:
    """Read a file once so every measured run starts with it in the page cache."""
    with path.open("rb") as fh:
        while fh.read(16 * 2**20):
            pass


def tree_bytes(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def measure(args: list[str]) -> dict:
    """Run ``python benchmarks/_child.py ARGS`` in a fresh process: wall, CPU, peak RSS and its JSON."""
    child = Path(__file__).with_name("_child.py")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, str(child), *args], capture_output=True, text=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode:
        raise RuntimeError(f"{args} failed:\n{proc.stderr[-4000:]}")
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    out.update(wall_s=wall, cpu_s=(after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime),
               # ru_maxrss of RUSAGE_CHILDREN is the largest child so far; each measure() is one child
               # and runs are ordered so the figure is read right after that child (see _peak_rss).
               peak_rss_mb=_peak_rss(proc, after))
    return out


def _peak_rss(proc: subprocess.CompletedProcess, after: resource.struct_rusage) -> float:
    # The child reports its own ru_maxrss (RUSAGE_SELF) on its last line; prefer it, because
    # RUSAGE_CHILDREN.ru_maxrss is a maximum over all children of this process.
    try:
        return json.loads(proc.stdout.strip().splitlines()[-1])["self_maxrss_kb"] / 1024
    except (KeyError, ValueError, IndexError):
        return after.ru_maxrss / 1024


def machine() -> dict:
    info = {"python": platform.python_version(), "platform": platform.platform(), "cpus": os.cpu_count()}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                info["mem_gb"] = round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    import dask
    import h5py
    import numcodecs
    import xarray
    import zarr
    info["versions"] = {m.__name__: m.__version__ for m in (h5py, zarr, xarray, dask, numcodecs)}
    info["hdf5"] = h5py.version.hdf5_version
    return info
