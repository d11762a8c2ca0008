"""One measured step, run in a fresh process by the benchmark driver; prints one JSON line.

    python benchmarks/_child.py convert SRC DST
    python benchmarks/_child.py validate SRC DST
    python benchmarks/_child.py floor SRC DST LISTING.json [--plain] [--single]
    python benchmarks/_child.py listing SRC LISTING.json      (not timed: what the floor copies)
    python benchmarks/_child.py read-store DST LISTING.json
    python benchmarks/_child.py read-h5 SRC LISTING.json
"""

from __future__ import annotations

import json
import math
import resource
import shutil
import statistics
import sys
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from itertools import product
from pathlib import Path

import numpy as np

ROIS = (3, 50, 97, 144, 191)
WINDOW_S = 30.0


def emit(**values: object) -> None:
    values["self_maxrss_kb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps(values))


def run_convert(src: str, dst: str) -> None:
    from nwb1zarr import convert

    report = convert(src, dst, overwrite=True)
    emit(bytes_in=report.bytes_in, bytes_out=report.bytes_out, arrays=report.arrays, seconds=report.seconds)


def run_validate(src: str, dst: str) -> None:
    from nwb1zarr import validate

    report = validate(src, dst)
    size = sum(f.stat().st_size for f in Path(dst).rglob("*") if f.is_file())
    failures = [str(c) for c in getattr(report, "failures", [])][:5]
    emit(bytes_in=Path(src).stat().st_size + size, bytes_out=0, ok=bool(report.ok), failures=failures)


def run_listing(src: str, out: str) -> None:
    """Every numeric array the converter copies from the source: sources, store path, shape, chunks."""
    from nwb1zarr.planning.planner import make_plan
    from nwb1zarr.reading.legacy_tree import LegacyTree
    from nwb1zarr.writing.source_arrays import store_chunks

    items, skipped = [], []
    with LegacyTree.open(Path(src)) as tree:
        plan = make_plan(tree)
        for e in plan.entries:
            if e.derive is not None or e.dtype == "str" or not e.shape or not e.sources:
                skipped.append(e.store_path)
                continue
            ds = tree.dataset(e.sources[0])
            if ds.dtype.names or ds.dtype.kind not in "biuf":
                skipped.append(e.store_path)
                continue
            if e.combine == "stack" or (e.combine is None and tuple(ds.shape) == tuple(e.shape)):
                shape, chunks = e.shape, store_chunks(e)
            else:  # transformed or concatenated (small): the floor copies the first source as it is
                from nwb1zarr.planning.chunking import choose_chunks
                shape = tuple(ds.shape)
                chunks = choose_chunks(shape, ("",) * len(shape), ds.dtype.itemsize)
            items.append({"store": e.store_path, "sources": list(e.sources) if e.combine == "stack" else [e.sources[0]],
                          "shape": list(shape), "chunks": list(chunks), "dtype": ds.dtype.str,
                          "stack": e.combine == "stack", "dims": list(e.dims)})
    Path(out).write_text(json.dumps({"items": items, "skipped": skipped}))
    emit(items=len(items), skipped=len(skipped))


def run_floor(src: str, dst: str, listing: str, plain: bool, threads: int = 2) -> None:
    """h5py read + zarr write of the same arrays, same chunks and codec, ``threads`` threads over chunks
    (``--single``: one thread, tasks run in order: the issue-10 floor)."""
    import h5py
    import zarr

    from nwb1zarr.writing.to_zarr import compressor, zstd_level

    if threads == 1:  # zarr's own codec threads too: one thread does everything
        zarr.config.set({"threading.max_workers": 1, "async.concurrency": 1})
    items = json.loads(Path(listing).read_text())["items"]
    if Path(dst).exists():
        shutil.rmtree(dst)
    root = zarr.open_group(dst, mode="w-", zarr_format=3)
    from nwb1zarr.writing.source_arrays import read_chunks, read_region
    tasks = []
    with h5py.File(src, "r") as f:
        for item in items:
            parts = item["store"].strip("/").split("/")
            group = root
            for p in parts[:-1]:
                group = group.require_group(p)
            level = zstd_level(tuple(item["dims"]), np.dtype(item["dtype"]))
            arr = group.create_array(parts[-1], shape=tuple(item["shape"]), dtype=item["dtype"],
                                     chunks=tuple(item["chunks"]), compressors=(compressor(level, zarr_format=3),),
                                     fill_value=None)
            dsets = [f[s] for s in item["sources"]]
            # Read blocks as the converter reads them: store chunks widened to whole HDF5 chunks
            # along the first axis (each HDF5 chunk decompressed once); zarr splits them into chunks.
            block = tuple(item["chunks"]) if item["stack"] else read_chunks(dsets[0], tuple(item["chunks"]))
            grid = [range(0, n, c) for n, c in zip(item["shape"], block, strict=True)]
            for start in product(*grid):
                sel = tuple(slice(s, min(s + c, n)) for s, c, n in zip(start, block, item["shape"], strict=True))
                tasks.append((arr, dsets, item["stack"], sel))

        def read(ds, sel):
            return ds[sel] if plain else read_region(ds, sel)

        def copy(task) -> int:
            arr, dsets, stack, sel = task
            if stack:
                block = np.stack([read(dsets[i], sel[1:]) for i in range(sel[0].start, sel[0].stop)])
            else:
                block = read(dsets[0], sel)
            arr[sel] = block
            return block.nbytes

        if threads == 1:
            nbytes = sum(copy(t) for t in tasks)
        else:
            with ThreadPoolExecutor(threads) as pool:
                nbytes = sum(pool.map(copy, tasks))
    size = sum(p.stat().st_size for p in Path(dst).rglob("*") if p.is_file())
    emit(bytes_in=Path(src).stat().st_size, bytes_out=size, logical_bytes=nbytes, chunks=len(tasks))


def _paths(listing: str) -> tuple[dict, dict]:
    items = {i["store"]: i for i in json.loads(Path(listing).read_text())["items"]}
    dff = items["/ophys/dff"]
    templates = [i for i in items.values() if i["dims"][-2:] == ["y", "x"] and i["dims"][0] == "frame"]
    return dff, max(templates, key=lambda i: math.prod(i["shape"]))


def _timed(fn, args) -> float:
    times = []
    for a in args:
        t = time.perf_counter()
        out = fn(a)
        times.append(time.perf_counter() - t)
        assert np.asarray(out).size
    return statistics.median(times)


def run_read(kind: str, path: str, listing: str) -> None:
    dff, template = _paths(listing)
    n_frames = template["shape"][0]
    frames = [n_frames * k // 5 + 1 for k in range(5)]
    t = time.perf_counter()
    if kind == "store":
        import xarray as xr

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            dt = xr.open_datatree(path, engine="zarr")
        opened = time.perf_counter() - t
        traces = dt["ophys/dff"]
        tgroup, tname = template["store"].rsplit("/", 1)
        tvar = dt[tgroup.strip("/")][tname]
        time_values = traces["time"].values
        starts = [float(time_values[len(time_values) * k // 5]) for k in range(5)]
        roi = _timed(lambda i: traces.isel(roi=i).values, ROIS)
        window = _timed(lambda s: traces.sel(time=slice(s, s + WINDOW_S)).values, starts)
        frame = _timed(lambda i: tvar.isel({tvar.dims[0]: i}).values, frames)
    else:
        import h5py

        f = h5py.File(path, "r")
        opened = time.perf_counter() - t
        data = f[dff["sources"][0]]
        ts = f[dff["sources"][0].rsplit("/", 1)[0] + "/timestamps"][()]
        tdata = f[template["sources"][0]]
        starts = [float(ts[len(ts) * k // 5]) for k in range(5)]

        def window_read(s: float) -> np.ndarray:
            i0, i1 = np.searchsorted(ts, [s, s + WINDOW_S], side="left")
            return data[:, i0:i1]

        roi = _timed(lambda i: data[i, :], ROIS)
        window = _timed(window_read, starts)
        frame = _timed(lambda i: tdata[i], frames)
    emit(open_s=opened, roi_trace_s=roi, window_30s_s=window, template_frame_s=frame)


if __name__ == "__main__":
    cmd, *rest = sys.argv[1:]
    if cmd == "convert":
        run_convert(*rest)
    elif cmd == "validate":
        run_validate(*rest)
    elif cmd == "listing":
        run_listing(*rest)
    elif cmd == "floor":
        run_floor(rest[0], rest[1], rest[2], plain="--plain" in rest, threads=1 if "--single" in rest else 2)
    elif cmd in ("read-store", "read-h5"):
        run_read(cmd.removeprefix("read-"), *rest)
    else:
        raise SystemExit(f"unknown step {cmd!r}")
