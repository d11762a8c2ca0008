"""Choose store chunk shapes by measuring: write cost, size and the read-side operations per shape.

    /work/venv/bin/python benchmarks/chunk_shapes.py [SOURCE.nwb]

Copies dF/F (ROI x time) and the largest template stack of a synthetic source into Zarr v3 (zstd,
the converter's level) under several chunk shapes and times, for each: one ROI's full trace, all
ROIs over a 30 s window (900 frames at ~30 Hz) and one template frame (median of 7 reads, fresh
array objects, no chunk caching), against h5py on the source.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import time
from pathlib import Path

import h5py
import zarr
from zarr.codecs import ZstdCodec

sys.path.insert(0, str(Path(__file__).parent))

from _common import FULL_FRAMES, WORK, source_path

from nwb1zarr.writing.source_arrays import read_region
from nwb1zarr.writing.to_zarr import ZSTD_LEVEL

DFF = "/processing/brain_observatory_pipeline/DfOverF/imaging_plane_1/data"
TRACE_SHAPES = [(16, 57500), (8, 115000), (32, 28750), (200, 4096), (16, 28750), (8, 28750), (8, 14375), (4, 14375)]
FRAME_SHAPES = [1, 2, 4, 15]
WINDOW = 900


def median_time(fn, args) -> float:
    times = []
    for a in args:
        t = time.perf_counter()
        fn(a)
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1e3


def write(path: Path, data_read, shape, dtype, chunks) -> tuple[float, int]:
    shutil.rmtree(path, ignore_errors=True)
    t = time.perf_counter()
    arr = zarr.create_array(path, shape=shape, dtype=dtype, chunks=chunks,
                            compressors=(ZstdCodec(level=ZSTD_LEVEL),), fill_value=None)
    arr[...] = data_read
    return time.perf_counter() - t, sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("source", nargs="?", type=Path, help="an NWB 1.0 session (default: synthetic session A, "
                        "full size, made on first use)")
    src = parser.parse_args().source or source_path("A", FULL_FRAMES)
    out = WORK / "chunk_shapes"
    rois, starts = [3, 50, 97, 144, 191, 20, 120], None
    with h5py.File(src, "r") as f:
        dff = f[DFF]
        n = dff.shape[1]
        starts = [n * k // 7 for k in range(7)]
        values = read_region(dff, (slice(None), slice(None)))
        print(f"dF/F {dff.shape} {dff.dtype}, HDF5 chunks {dff.chunks}, gzip {dff.compression_opts}")
        print("| chunks | write s | MB | one ROI ms | 30 s window ms |\n|---|---|---|---|---|")
        h_roi = median_time(lambda i: dff[i, :], rois)
        h_win = median_time(lambda s: dff[:, s:s + WINDOW], starts)
        print(f"| h5py source {dff.chunks} | - | {dff.id.get_storage_size() / 1e6:.1f} | {h_roi:.1f} | {h_win:.1f} |")
        for chunks in TRACE_SHAPES:
            chunks = tuple(min(c, s) for c, s in zip(chunks, dff.shape, strict=True))
            path = out / f"dff_{chunks[0]}x{chunks[1]}.zarr"
            secs, size = write(path, values, dff.shape, dff.dtype, chunks)
            roi = median_time(lambda i, p=path: zarr.open_array(p, mode="r")[i, :], rois)
            win = median_time(lambda s, p=path: zarr.open_array(p, mode="r")[:, s:s + WINDOW], starts)
            print(f"| {chunks} | {secs:.2f} | {size / 1e6:.1f} | {roi:.1f} | {win:.1f} |")
        del values
        templates = [f[f"stimulus/templates/{k}/data"] for k in f["stimulus/templates"]]
        tpl = max(templates, key=lambda d: d.size * d.dtype.itemsize)
        values = read_region(tpl, tuple(slice(None) for _ in tpl.shape))
        frames = [tpl.shape[0] * k // 7 + 1 for k in range(7)]
        print(f"\ntemplate {tpl.name} {tpl.shape} {tpl.dtype}, HDF5 chunks {tpl.chunks}")
        print("| frames per chunk | write s | MB | one frame ms |\n|---|---|---|---|")
        h_frame = median_time(lambda i: tpl[i], frames)
        print(f"| h5py source {tpl.chunks} | - | {tpl.id.get_storage_size() / 1e6:.1f} | {h_frame:.1f} |")
        for k in FRAME_SHAPES:
            chunks = (min(k, tpl.shape[0]), *tpl.shape[1:])
            path = out / f"tpl_{k}.zarr"
            secs, size = write(path, values, tpl.shape, tpl.dtype, chunks)
            one = median_time(lambda i, p=path: zarr.open_array(p, mode="r")[i], frames)
            print(f"| {chunks} | {secs:.2f} | {size / 1e6:.1f} | {one:.1f} |")
    shutil.rmtree(out, ignore_errors=True)


if __name__ == "__main__":
    main()
