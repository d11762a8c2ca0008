"""Virtual vs ordinary stores vs h5py on the source: size, creation, open and read times, local and on S3 (moto).

    python benchmarks/virtual.py [--frames 30000] [--rois 200] [--template-scale 0.5] [--repeat 5] [--json out.json]

For each place (local disk; moto's S3 server on loopback, source and store both in the bucket):

- **create**: ``nwb1zarr.convert`` (ordinary) and ``nwb1zarr.convert(virtual=True)``, wall seconds, one run;
- **size**: bytes of the store (files, or objects under its prefix);
- **open**: ``nwb1zarr.open_store`` (ordinary and virtual), ``h5py.File`` for the source (over s3fs on S3);
- **reads**, each on a fresh open (the open not timed): one ROI's whole dF/F trace, one natural-scenes template
  frame, all ROIs' dF/F over a 30 s window (900 frames at 30 Hz).

Median of ``--repeat`` runs. Local files are in the page cache (warm); loopback S3 has almost no latency, so the
number of requests matters more on a real object store than these seconds.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import uuid
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import WORK, machine, tree_bytes, warm
from s3server import S3Server

warnings.simplefilter("ignore")
WINDOW = 900  # 30 s at 30 Hz
DFF = "/ophys/dff"
FRAME = "/stimulus/natural_scenes/template/template"


def session(frames: int, rois: int, scale: float) -> Path:
    from nwb1zarr.testing import SessionSpec, write_session

    WORK.mkdir(parents=True, exist_ok=True)
    path = WORK / f"virtual_B_{rois}x{frames}_{scale}.nwb"
    if not path.exists():
        tmp = path.with_suffix(".part")
        write_session(tmp, SessionSpec.full(session_type="three_session_B", n_frames=frames, n_rois=rois,
                                            template_scale=scale))
        tmp.rename(path)
    return path


def median_seconds(fn: Callable[[Any], Any], repeat: int, setup: Callable[[], Any] = lambda: None) -> float:
    """Median wall time of ``fn(setup())`` (setup not timed)."""
    times = []
    for _ in range(repeat):
        state = setup()
        started = time.perf_counter()
        fn(state)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def store_reads(target: str, repeat: int, storage_options: dict | None,
                server: S3Server | None = None) -> dict[str, float]:
    import nwb1zarr

    def fresh() -> Any:
        _clear_caches()
        return nwb1zarr.open_store(target, storage_options=storage_options)

    def one_roi(dt: Any) -> None:
        dt[DFF].isel(roi=3).values  # noqa: B018

    def one_frame(dt: Any) -> None:
        dt[FRAME].isel(frame=5).values  # noqa: B018

    def window(dt: Any) -> None:
        dff = dt[DFF]
        dff.isel(time=slice(dff.shape[1] // 2, dff.shape[1] // 2 + WINDOW)).values  # noqa: B018

    out = {"open_s": median_seconds(lambda _: fresh(), repeat), "roi_s": median_seconds(one_roi, repeat, fresh),
           "frame_s": median_seconds(one_frame, repeat, fresh), "window_s": median_seconds(window, repeat, fresh)}
    if server is not None:
        out.update(requests(server, fresh, one_roi, one_frame, window))
    return out


def requests(server: S3Server, fresh: Callable[[], Any], *reads: Callable[[Any], None]) -> dict[str, int]:
    """S3 requests of one open and of each read after a fresh open (from the server's log)."""
    mark = server.mark()
    fresh()
    out = {"open_requests": len(server.requests(mark))}
    for key, read in zip(("roi_requests", "frame_requests", "window_requests"), reads, strict=True):
        state = fresh()
        mark = server.mark()
        read(state)
        out[key] = len(server.requests(mark))
    return out


def h5py_reads(src: Path | str, repeat: int, server: S3Server | None = None) -> dict[str, float]:
    import h5py

    import nwb1zarr

    plan = nwb1zarr.plan(src)
    dff_path, frame_path = plan.entry(DFF).sources[0], plan.entry(FRAME).sources[0]

    def fresh() -> Any:
        if isinstance(src, Path):
            return h5py.File(src, "r")
        import s3fs

        s3fs.S3FileSystem.clear_instance_cache()
        return h5py.File(s3fs.S3FileSystem().open(src, "rb"), "r")

    def one_roi(f: Any) -> None:
        f[dff_path][3, :]

    def one_frame(f: Any) -> None:
        f[frame_path][5]

    def window(f: Any) -> None:
        d = f[dff_path]
        d[:, d.shape[1] // 2: d.shape[1] // 2 + WINDOW]

    out = {"open_s": median_seconds(lambda _: fresh(), repeat), "roi_s": median_seconds(one_roi, repeat, fresh),
           "frame_s": median_seconds(one_frame, repeat, fresh), "window_s": median_seconds(window, repeat, fresh)}
    if server is not None:
        out.update(requests(server, fresh, one_roi, one_frame, window))
    return out


def _clear_caches() -> None:
    try:
        import s3fs

        s3fs.S3FileSystem.clear_instance_cache()
    except ImportError:
        pass


def create(src: Path | str, dst: Path | str, *, virtual: bool) -> tuple[float, Any]:
    import nwb1zarr

    started = time.perf_counter()
    report = nwb1zarr.convert(src, dst, virtual=virtual, overwrite=True)
    return time.perf_counter() - started, report


def local(src: Path, work: Path, repeat: int) -> list[dict]:
    rows = [{"where": "local", "kind": "h5py on the source", "size_bytes": src.stat().st_size,
             **h5py_reads(src, repeat)}]
    for kind, virtual, name in (("ordinary store", False, "o.zarr"), ("virtual store", True, "v.icechunk")):
        seconds, report = create(src, work / name, virtual=virtual)
        rows.append({"where": "local", "kind": kind, "size_bytes": tree_bytes(work / name), "create_s": seconds,
                     "virtual_arrays": len(getattr(report, "virtual_arrays", [])), "arrays": report.arrays,
                     **store_reads(str(work / name), repeat, None)})
    return rows


def remote(src: Path, repeat: int) -> list[dict]:
    import os

    with S3Server.start() as server:
        os.environ.update(server.env())
        bucket = server.make_bucket(f"bench-{uuid.uuid4().hex[:8]}")
        server.client().upload_file(str(src), bucket, "in/session.nwb")
        url = f"s3://{bucket}/in/session.nwb"
        rows = [{"where": "S3 (moto)", "kind": "h5py on the source", "size_bytes": src.stat().st_size,
                 **h5py_reads(url, repeat, server)}]
        for kind, virtual, name in (("ordinary store", False, "o.zarr"), ("virtual store", True, "v.icechunk")):
            dst = f"s3://{bucket}/out/{name}"
            seconds, report = create(url, dst, virtual=virtual)
            size = sum(o.get("Size", 0) for page in server.client().get_paginator("list_objects_v2").paginate(
                Bucket=bucket, Prefix=f"out/{name}/") for o in page.get("Contents", []))
            rows.append({"where": "S3 (moto)", "kind": kind, "size_bytes": size, "create_s": seconds,
                         "virtual_arrays": len(getattr(report, "virtual_arrays", [])), "arrays": report.arrays,
                         **store_reads(dst, repeat, None, server)})
    return rows


def table(rows: list[dict]) -> str:
    """Milliseconds, with the S3 requests in parentheses where counted."""
    out = ["| where | what | size MB | create s | open ms | one ROI ms | one frame ms | 30 s window ms |",
           "|---|---|---|---|---|---|---|---|"]

    def cell(r: dict, key: str) -> str:
        count = r.get(f"{key}_requests")
        return f"{r[f'{key}_s'] * 1e3:.0f}" + (f" ({count})" if count is not None else "")

    for r in rows:
        create_s = f"{r['create_s']:.1f}" if "create_s" in r else "—"
        out.append(f"| {r['where']} | {r['kind']} | {r['size_bytes'] / 1e6:.2f} | {create_s} | "
                   + " | ".join(cell(r, key) for key in ("open", "roi", "frame", "window")) + " |")
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=30_000)
    parser.add_argument("--rois", type=int, default=200)
    parser.add_argument("--template-scale", type=float, default=0.5)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    src = session(args.frames, args.rois, args.template_scale)
    warm(src)
    with tempfile.TemporaryDirectory(prefix="nwb1zarr-virtual-", dir=WORK) as work:
        rows = local(src, Path(work), args.repeat) + remote(src, args.repeat)
    result = {"machine": machine(), "source": src.name, "source_bytes": src.stat().st_size, "rows": rows}
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))
    print(table(rows))
    virtual = [r for r in rows if r["kind"] == "virtual store"]
    print(f"\nsource {src.name}: {src.stat().st_size / 1e6:.1f} MB; virtual arrays "
          f"{virtual[0]['virtual_arrays']} of {virtual[0]['arrays']}")


if __name__ == "__main__":
    main()
