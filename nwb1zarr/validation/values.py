"""Planned values, recomputed from the source with h5py, compared with the store chunk by chunk, bit for bit.

The source is read here with h5py (not through the converter's lazy arrays); declared transforms
come from :mod:`nwb1zarr.planning.transforms` and derivations from :mod:`nwb1zarr.planning.derivations`, so the
definition, not this module, says what the stored values must be. Memory stays bounded by a few
chunks: each store chunk is read and compared with the matching slice of the source alone.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import dask.array as da
import h5py
import numpy as np

from .. import store_attrs as sa
from ..digests import canonical_dtype
from ..errors import SourceDataError
from ..planning.chunking import choose_chunks
from ..planning.derivations import derive
from ..planning.model import Entry
from ..planning.transforms import apply_steps
from ..reading.attrs import decode_bytes, normalize
from .report import ERROR, MISMATCH, Check


class SourceReader:
    """Reads source datasets with h5py: strings decoded, references as '<ref:/path>', one compound field."""

    def __init__(self, file: h5py.File) -> None:
        self.file = file

    def dataset(self, path: str) -> h5py.Dataset:
        obj = self.file.get(path, getlink=True)
        if not isinstance(obj, h5py.HardLink):
            raise SourceDataError("expected a dataset, found a link", file=self.file.filename, path=path)
        return self.file[path]

    def read(self, path: str) -> Any:
        """A whole (small) dataset, decoded: what derivations read."""
        return _SourceArray(self, path)[()]

    def lazy(self, path: str, *, field: str | None = None, chunks: Any = None) -> Any:
        array = _SourceArray(self, path, field)
        if array.ndim == 0:
            return array[()]
        chunks = chunks or choose_chunks(array.shape, ("",) * array.ndim, max(1, array.dtype.itemsize))
        return da.from_array(array, chunks=chunks, lock=False, asarray=True, fancy=False,
                             meta=np.empty((0,) * array.ndim, array.dtype))


class _SourceArray:
    """An h5py dataset as an array-like: slicing reads only that part of the file."""

    def __init__(self, reader: SourceReader, path: str, field: str | None = None) -> None:
        self.reader, self.path, self.field = reader, path, field
        self.dataset = reader.dataset(path)
        dtype = self.dataset.dtype
        if field is not None:
            dtype = dtype.fields[field][0]
        self.is_text = h5py.check_string_dtype(dtype) is not None or h5py.check_ref_dtype(dtype) is not None
        if field is not None:
            dtype = np.dtype(dtype)
        elif h5py.check_enum_dtype(dtype) is not None:
            dtype = dtype.base
        self.dtype = np.dtype(object) if self.is_text else dtype
        self.shape = tuple(self.dataset.shape)
        self.ndim = len(self.shape)

    def __getitem__(self, key: Any) -> Any:
        try:
            raw = self.dataset[key]
        except (OSError, RuntimeError, ValueError) as exc:
            raise SourceDataError(f"cannot read dataset: {exc}", file=self.reader.file.filename,
                                  path=self.path) from exc
        if self.field is not None:
            raw = np.asarray(raw)[self.field]
        if not self.is_text:
            return np.asarray(raw, dtype=self.dtype)
        values = np.asarray(raw, dtype=object)
        flat = np.empty(values.size, dtype=object)
        flat[:] = [self._text(v) for v in values.reshape(-1)]
        return flat.reshape(values.shape)

    def _text(self, value: Any) -> str:
        if isinstance(value, bytes | np.bytes_):
            return decode_bytes(bytes(value))
        if isinstance(value, str):
            return value
        return str(normalize(value, file=self.reader.file))


def compound_field(entry: Entry, dataset: h5py.Dataset) -> str | None:
    """The compound field a kept variable holds (recorded in the plan), None for ordinary datasets."""
    if not dataset.dtype.names:
        return None
    field = entry.attrs.get(sa.COMPOUND_FIELD)
    if field in dataset.dtype.names:
        return field
    raise SourceDataError(f"cannot tell which compound field {entry.store_path} holds", path=entry.sources[0])


def expected_values(entry: Entry, reader: SourceReader, store_chunks: tuple[int, ...],
                    source: str | None = None) -> Any:
    """What the store must hold for ``entry`` (dask or numpy), or for one of its aliases (``source``)."""
    if entry.derive is not None and source is None:
        return np.asarray(derive(entry.derive, reader.read))
    paths = (source,) if source is not None else entry.sources
    parts = []
    for path in paths:
        dataset = reader.dataset(path)
        chunks = None
        if tuple(dataset.shape) == tuple(entry.shape) and not entry.transform:
            chunks = store_chunks
        elif entry.combine == "stack" and len(store_chunks) == dataset.ndim + 1:
            chunks = store_chunks[1:]
        part = reader.lazy(path, field=compound_field(entry, dataset), chunks=chunks)
        parts.append(apply_steps(part, entry.transform))
    if source is not None or entry.combine is None:
        return parts[0]
    lazy = [p if isinstance(p, da.Array) else da.from_array(np.asarray(p), chunks=-1) for p in parts]
    return da.stack(lazy, axis=0) if entry.combine == "stack" else da.concatenate(lazy, axis=0)


GRID_BLOCK_MAX = 64 * 1024 * 1024
COMPARE_THREADS = 2


def compare_grid(entry: Entry, reader: SourceReader, store_chunks: tuple[int, ...]) -> tuple[int, ...]:
    """Blocks to compare: store chunks, widened along the first axis to whole HDF5 chunks of the source.

    A store chunk thinner than the source's HDF5 chunks (15 movie frames against HDF5 chunks of 225)
    would make every HDF5 chunk be inflated once per store chunk; lcm(store, HDF5) rows, or else
    whole HDF5 chunks (up to 64 MB), inflate each once. Only the block shape changes; values are
    read with plain h5py.
    """
    if entry.derive is not None or entry.combine is not None or len(entry.sources) != 1 or not store_chunks:
        return store_chunks
    dataset = reader.dataset(entry.sources[0])
    source = dataset.chunks
    if not source or dataset.shape[:1] != tuple(entry.shape[:1]):
        return store_chunks
    row_bytes = math.prod(store_chunks[1:]) * max(1, dataset.dtype.itemsize)
    for rows in (math.lcm(source[0], store_chunks[0]), source[0] * math.ceil(store_chunks[0] / source[0])):
        rows = min(rows, entry.shape[0])
        if rows * row_bytes <= GRID_BLOCK_MAX:
            return (rows, *store_chunks[1:])
    return store_chunks


def blocks(shape: tuple[int, ...], chunks: tuple[int, ...]) -> Iterator[tuple[slice, ...]]:
    """The store chunk grid as slices (one empty tuple for a scalar).

    >>> list(blocks((3,), (2,)))
    [(slice(0, 2, None),), (slice(2, 3, None),)]
    """
    ranges = [[slice(i, min(i + c, n)) for i in range(0, n, max(1, c))] or [slice(0, 0)]
              for n, c in zip(shape, chunks, strict=True)]
    yield from itertools.product(*ranges)


def _materialise(values: Any) -> np.ndarray:
    if isinstance(values, da.Array):
        return np.asarray(values.compute(scheduler="sync"))
    return np.asarray(values)


def is_text(dtype: np.dtype) -> bool:
    return dtype.kind in "OUST"


def record_mismatch(check: Check, block: tuple[slice, ...], diff: tuple[tuple[int, ...], Any, Any]) -> None:
    """Mark ``check`` failed at ``diff`` (from :func:`first_difference` on ``block``), in whole-array coordinates."""
    index, store_value, expected_value = diff
    offset = tuple(s.start for s in block)
    check.status = MISMATCH
    check.first_mismatch = {"index": tuple(o + i for o, i in zip(offset, index, strict=True)),
                            "store": store_value, "expected": expected_value}


def first_difference(got: np.ndarray, expected: np.ndarray) -> tuple[tuple[int, ...], Any, Any] | None:
    """Index and both values of the first element whose bits (or decoded text) differ.

    >>> first_difference(np.array([0.0, np.nan]), np.array([-0.0, np.nan]))[0]
    (0,)
    """
    if is_text(expected.dtype) or is_text(got.dtype):
        a, b = np.asarray(got, dtype=object), np.asarray(expected, dtype=object)
        neq = np.asarray(np.frompyfunc(lambda x, y: type(x) is not type(y) or x != y, 2, 1)(a, b), dtype=bool)
    else:
        a, b = _little(got), _little(expected)
        size = a.dtype.itemsize
        if a.dtype.itemsize == b.dtype.itemsize and size in (1, 2, 4, 8):
            neq = a.view(f"<u{size}") != b.view(f"<u{size}")  # one integer compare per element
        else:
            neq = (a.reshape(-1).view(np.uint8).reshape(-1, size) != b.reshape(-1).view(np.uint8).reshape(-1, size)
                   ).any(axis=1).reshape(a.shape)
    if not neq.any():
        return None
    index = tuple(int(i) for i in np.argwhere(np.atleast_1d(neq))[0])[: got.ndim]
    return index, got[index] if got.ndim else got[()], expected[index] if expected.ndim else expected[()]


def _little(array: np.ndarray) -> np.ndarray:
    dtype = array.dtype.newbyteorder("<") if array.dtype.byteorder not in "|=" else array.dtype
    return np.ascontiguousarray(array, dtype=dtype)


def compare_values(entry: Entry, store_var: Any, store_chunks: tuple[int, ...], reader: SourceReader, *,
                   source: str | None = None) -> Check:
    """Compare one store variable (an xarray Variable, read lazily) with the source, chunk by chunk."""
    check = Check("values", entry.store_path, source or _origin(entry))
    shape, dtype = tuple(store_var.shape), np.dtype(store_var.dtype)
    want = "str" if entry.dtype == "str" else canonical_dtype(np.dtype(entry.dtype))
    if shape != tuple(entry.shape) or canonical_dtype(dtype) != want:
        check.status = MISMATCH
        check.detail = f"store has {canonical_dtype(dtype)} {list(shape)}, plan says {want} {list(entry.shape)}"
        return check
    if tuple(store_var.dims) != tuple(entry.dims):
        check.status = MISMATCH
        check.detail = f"store dims {list(store_var.dims)}, plan says {list(entry.dims)}"
        return check
    try:
        grid = compare_grid(entry, reader, store_chunks) if source is None else store_chunks
        expected = expected_values(entry, reader, grid, source)
        if tuple(expected.shape) != shape:
            raise SourceDataError(f"the source gives shape {list(expected.shape)}, plan says {list(shape)}")

        def compare(block: tuple[slice, ...]) -> tuple[int, int, Any]:
            got = np.asarray(store_var[block].values if block else store_var.values)
            exp = _materialise(expected[block] if block else expected)
            if not is_text(exp.dtype) and canonical_dtype(exp.dtype) != want:
                raise SourceDataError(f"the definition gives {canonical_dtype(exp.dtype)}, plan says {want}")
            return int(got.size), _nbytes(exp), first_difference(got, exp)

        # Two blocks at a time: zstd (store) and zlib (h5py filter) release the GIL for part of the work.
        with ThreadPoolExecutor(max_workers=COMPARE_THREADS) as pool:
            grid_blocks = list(blocks(shape, grid))
            for block, (elements, nbytes, diff) in zip(grid_blocks, pool.map(compare, grid_blocks), strict=True):
                check.elements += elements
                check.bytes += nbytes
                if diff is not None:
                    record_mismatch(check, block, diff)
                    pool.shutdown(wait=True, cancel_futures=True)
                    return check
    except (SourceDataError, OSError, KeyError, ValueError, TypeError) as exc:
        check.status = ERROR
        check.detail = getattr(exc, "message", None) or f"{type(exc).__name__}: {exc}"
    return check


def _origin(entry: Entry) -> str:
    if entry.derive is not None:
        return f"derived: {entry.derive['name']}"
    return entry.source_pattern or (entry.sources[0] if entry.sources else "")


def _nbytes(values: np.ndarray) -> int:
    if is_text(values.dtype):
        return sum(len(str(v).encode("utf-8")) for v in values.reshape(-1))
    return int(values.nbytes)
