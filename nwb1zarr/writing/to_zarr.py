"""Writing a DataTree to Zarr: chunking, zstd, no fill-value masking, consolidated metadata."""

from __future__ import annotations

import os
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import dask
import dask.array as da
import numcodecs
import xarray as xr
import zarr
from zarr.abc.store import Store
from zarr.codecs import ZstdCodec
from zarr.storage import LocalStore

from ..planning.chunking import choose_chunks
from ..progress import DaskProgress, ProgressCallback, no_progress, wants_unit
from .nodes import ArrayNode, StagedStore, create_nodes, encode_tree

ZSTD_LEVEL = 3
# Image stacks (movie and scene templates, masks) compress worse under zstd 3 than under the
# source's gzip 4 (synthetic full-size session A, natural_movie_three: 1.15x vs 1.35x on a 15-frame chunk), which made
# the store larger than the source; higher levels beat gzip 4 there and still encode faster.
IMAGE_ZSTD_LEVELS = {1: 9}
IMAGE_ZSTD_LEVEL = 6
IMAGE_DIMS = {"y", "x"}


def zstd_level(dims: tuple[str, ...], dtype: Any) -> int:
    """The zstd level of one array: 3, higher for image stacks (dims include y and x)."""
    if not set(dims) >= IMAGE_DIMS:
        return ZSTD_LEVEL
    itemsize = getattr(dtype, "itemsize", 0)
    return IMAGE_ZSTD_LEVELS.get(itemsize, IMAGE_ZSTD_LEVEL)


def compressor(level: int, *, zarr_format: int) -> Any:
    return ZstdCodec(level=level) if zarr_format == 3 else numcodecs.Zstd(level=level)


def encoding_for(dt: xr.DataTree, *, zarr_format: int,
                 chunk_separator: str = ".") -> dict[str, dict[str, dict[str, Any]]]:
    """Per-variable encoding: store chunks, zstd, and no _FillValue (so values are never masked); Zarr 3 chunk
    keys ``c.0.0`` (``chunk_separator``), one folder fewer per array than ``c/0/0``: a session's store has
    ~800 small arrays, and creating folders and files is most of writing them."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for node in dt.subtree:
        enc = {}
        for name, var in node.to_dataset(inherit=False).variables.items():
            data = var.data
            itemsize = 16 if var.dtype.kind in "OUST" else var.dtype.itemsize
            chunks = tuple(c[0] for c in data.chunks) if hasattr(data, "chunks") and data.chunks else \
                choose_chunks(var.shape, var.dims, itemsize)
            codec = compressor(zstd_level(var.dims, var.dtype), zarr_format=zarr_format)
            enc[name] = {"chunks": tuple(max(1, c) for c in chunks) or None, "compressors": (codec,),
                         "_FillValue": None}
            if zarr_format == 3:
                enc[name]["chunk_key_encoding"] = {"name": "default", "separator": chunk_separator}
            if not var.shape:
                enc[name].pop("chunks")
        out[node.path] = enc
    return out


def write_threads() -> int:
    """Threads of the write pass: dask's ``num_workers`` setting when given (a batch task sets it to its
    worker's thread count, so a task does not oversubscribe its worker), else the CPU count (at most 32).

    >>> with dask.config.set(num_workers=1):
    ...     write_threads()
    1
    """
    configured = dask.config.get("num_workers", None)
    return max(1, int(configured)) if configured else max(1, min(32, os.cpu_count() or 1))


class ZarrWriter:
    """Writes one DataTree to a new store at ``path`` (a directory, or a zarr Store such as the
    :class:`~nwb1zarr.sinks.object_store.CommitStore` of an object store), then finishes it.

    The metadata is exactly what ``dt.to_zarr`` writes (xarray's own encoders make it), but every group
    and array document and every in-memory array is written in one concurrent pass
    (:mod:`nwb1zarr.writing.nodes`) instead of one blocking round trip per document; dask arrays are then
    copied in one dask pass. The metadata stays in memory, so :meth:`finish` consolidates it without
    reading the store back.

    >>> writer = ZarrWriter("session.zarr")                         # doctest: +SKIP
    >>> computed = writer.write(dt, extra={"digests": digests})     # doctest: +SKIP
    >>> writer.finish(root_attrs={"nwb1zarr_digests": computed["digests"]})  # doctest: +SKIP
    """

    def __init__(self, path: Path | Store, *, zarr_format: int = 3) -> None:
        self.path = path
        store = path if isinstance(path, Store) else LocalStore(Path(path))
        self.staged = StagedStore(store, zarr_format=zarr_format)

    def write(self, dt: xr.DataTree, *, extra: dict[str, Any] | None = None,
              progress: ProgressCallback = no_progress) -> dict[str, Any]:
        """Write ``dt`` and compute ``extra`` (dask objects) in the same pass; return the computed ``extra``."""
        zarr_format = self.staged.zarr_format
        nodes = encode_tree(dt, encoding=encoding_for(dt, zarr_format=zarr_format), zarr_format=zarr_format)
        arrays = [n for n in nodes if isinstance(n, ArrayNode)]
        sizes = {a.data.name: int(a.data.nbytes) for a in arrays if a.lazy}
        in_memory = sum(int(a.data.nbytes) for a in arrays if not a.lazy)
        if wants_unit(progress):  # the in-memory arrays are written first: the bar starts before them
            progress("write", 0, in_memory + sum(sizes.values()), unit="bytes")
        lazy = create_nodes(self.staged, nodes)
        # array_optimize=False: dask.array.store would otherwise fuse the source reads into its store
        # tasks, and the digests (computed in the same pass) would read and inflate every chunk again.
        with dask.config.set(array_optimize=False):
            stored = da.store([source for source, _ in lazy], [target for _, target in lazy], lock=False,
                              compute=False) if lazy else None
        # A pool of our own, shut down (waiting) on any exit: after a failure or Ctrl-C no worker
        # thread is still writing chunks into the partial store while it is being removed.
        pool = ThreadPoolExecutor(write_threads(), thread_name_prefix="nwb1zarr-write")
        try:
            with DaskProgress("write", progress, sizes=sizes, done_before=in_memory):
                # optimize_graph=False: with graph optimisation the store writes and the digests
                # got separately fused copies of the source reads, so every source chunk was read
                # and inflated twice (counted on session B; benchmarks/RESULTS.md).
                # scheduler=pool: our threads, also under a dask.distributed Client (a default Client in the
                # caller's session, or a convert-many task on a worker), which would otherwise get the graph.
                _, computed = dask.compute(stored, extra or {}, scheduler=pool, optimize_graph=False)
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
        _flush(self.path)  # an object store's writes still in flight: their failure is this write's failure
        return computed

    def finish(self, *, root_attrs: dict[str, Any]) -> None:
        """Add root attributes known only after writing, then consolidate metadata (one-request open)."""
        _flush(self.path)
        self.staged.finish(root_attrs)
        _flush(self.path)


def write_zarr(dt: xr.DataTree, path: Path | Store, *, zarr_format: int = 3, extra: dict[str, Any] | None = None,
               progress: ProgressCallback = no_progress) -> dict[str, Any]:
    """Write ``dt`` to a new store at ``path`` and compute ``extra`` in the same pass (:class:`ZarrWriter`);
    :func:`finish_zarr` completes it. Returns the computed ``extra`` values."""
    return ZarrWriter(path, zarr_format=zarr_format).write(dt, extra=extra, progress=progress)


def _flush(store: Path | Store) -> None:
    flush = getattr(store, "flush", None)
    if callable(flush):
        flush()


def finish_zarr(path: Path | Store, *, root_attrs: dict[str, Any]) -> None:
    """Add root attributes known only after writing, then consolidate metadata (one-request open)."""
    _flush(path)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Consolidated metadata is currently not part", category=UserWarning)
        group = zarr.open_group(path, mode="r+")
        group.attrs.update(root_attrs)
        zarr.consolidate_metadata(path)
