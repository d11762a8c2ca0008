"""Writing a DataTree to Zarr: chunking, zstd, no fill-value masking, consolidated metadata."""

from __future__ import annotations

import os
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import dask
import numcodecs
import xarray as xr
import zarr
from zarr.codecs import ZstdCodec

from .chunking import choose_chunks
from .progress import DaskProgress, ProgressCallback, no_progress

ZSTD_LEVEL = 3


def encoding_for(dt: xr.DataTree, *, zarr_format: int) -> dict[str, dict[str, dict[str, Any]]]:
    """Per-variable encoding: store chunks, zstd, and no _FillValue (so values are never masked)."""
    compressor: Any = ZstdCodec(level=ZSTD_LEVEL) if zarr_format == 3 else numcodecs.Zstd(level=ZSTD_LEVEL)
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for node in dt.subtree:
        enc = {}
        for name, var in node.to_dataset(inherit=False).variables.items():
            data = var.data
            itemsize = 16 if var.dtype.kind in "OUST" else var.dtype.itemsize
            chunks = tuple(c[0] for c in data.chunks) if hasattr(data, "chunks") and data.chunks else \
                choose_chunks(var.shape, var.dims, itemsize)
            enc[name] = {"chunks": tuple(max(1, c) for c in chunks) or None, "compressors": (compressor,),
                         "_FillValue": None}
            if not var.shape:
                enc[name].pop("chunks")
        out[node.path] = enc
    return out


def write_zarr(dt: xr.DataTree, path: Path, *, zarr_format: int = 3, extra: dict[str, Any] | None = None,
               progress: ProgressCallback = no_progress) -> dict[str, Any]:
    """Write ``dt`` to a new store at ``path``; compute ``extra`` (dask objects) in the same pass.

    Returns the computed ``extra`` values.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Consolidated metadata is currently not part", category=UserWarning)
        delayed = dt.to_zarr(path, mode="w-", encoding=encoding_for(dt, zarr_format=zarr_format),
                             consolidated=False, compute=False, zarr_format=zarr_format)
        # A pool of our own, shut down (waiting) on any exit: after a failure or Ctrl-C no worker
        # thread is still writing chunks into the partial store while it is being removed.
        pool = ThreadPoolExecutor(max(1, min(32, os.cpu_count() or 1)), thread_name_prefix="nwb1zarr-write")
        try:
            with DaskProgress("write", progress):
                _, computed = dask.compute(delayed, extra or {}, pool=pool)
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
    return computed


def finish_zarr(path: Path, *, root_attrs: dict[str, Any]) -> None:
    """Add root attributes known only after writing, then consolidate metadata (one-request open)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Consolidated metadata is currently not part", category=UserWarning)
        group = zarr.open_group(path, mode="r+")
        group.attrs.update(root_attrs)
        zarr.consolidate_metadata(path)
