"""Lazy arrays over source datasets, shaped as a plan entry says (dask, chunked like the store)."""

from __future__ import annotations

import itertools
import math
from typing import Any

import dask.array as da
import h5py
import numpy as np
from h5py._objects import phil  # h5py's global lock around libhdf5 calls

# ISA-L inflates ~1.8x faster than zlib; a deflate stream has one decoding, so the values are the same.
from isal.isal_zlib import decompress as inflate
from isal.isal_zlib import error as InflateError

from .. import store_attrs as sa
from ..errors import SourceDataError, hdf5_reason
from ..planning.chunking import choose_chunks
from ..planning.derivations import derive
from ..planning.model import Entry
from ..planning.transforms import apply_steps
from ..reading.attrs import normalize
from ..reading.legacy_tree import LegacyTree, decode_value


def store_chunks(entry: Entry) -> tuple[int, ...]:
    """The chunk shape the store uses for ``entry`` (and the dask chunks that feed it)."""
    itemsize = 16 if entry.dtype == "str" else np.dtype(entry.dtype).itemsize
    return choose_chunks(entry.shape, entry.dims, itemsize)


def entry_array(tree: LegacyTree, entry: Entry, *, eager_bytes: int = 0) -> Any:
    """The values of ``entry``: a dask array for numeric copies, numpy for strings and derived values,
    and numpy for numeric copies of at most ``eager_bytes`` (read now: a conversion writes thousands
    of tiny arrays, for which a dask graph costs far more than the read)."""
    if entry.derive is not None:
        return derive(entry.derive, tree.read)
    if entry.dtype == "str" or _field(entry) is not None or (entry.combine is not None and _is_string(tree, entry)):
        return _small_array(tree, entry)
    if entry_nbytes(entry) <= eager_bytes:
        return _eager_array(tree, entry)
    parts = [_lazy(tree, path, entry) for path in entry.sources]
    if entry.combine == "stack":
        array = da.stack(parts, axis=0)
    elif entry.combine == "concat":
        array = da.concatenate(parts, axis=0) if parts else da.zeros(entry.shape, dtype=entry.dtype)
    else:
        array = parts[0]
    chunks = store_chunks(entry)
    if array.chunksize != chunks and array.ndim:
        array = array.rechunk(chunks)
    return array


def entry_nbytes(entry: Entry) -> int:
    """Bytes of ``entry``'s values in memory (strings counted as 16 bytes each)."""
    return math.prod(entry.shape) * (16 if entry.dtype == "str" else np.dtype(entry.dtype).itemsize)


def _eager_array(tree: LegacyTree, entry: Entry) -> np.ndarray:
    parts = []
    for path in entry.sources:
        dataset = tree.dataset(path)
        if h5py.check_enum_dtype(dataset.dtype) is not None:
            dataset = dataset.astype(dataset.dtype.base)
        # One read of the whole dataset inside libhdf5: for small datasets faster than chunk by chunk.
        raw = _read_all(tree, path) if dataset.ndim == 0 else _Checked(dataset, tree, path)[()]
        parts.append(apply_steps(raw, entry.transform))
    if entry.combine == "stack":
        return np.stack(parts, axis=0)
    if entry.combine == "concat":
        return np.concatenate(parts, axis=0) if parts else np.zeros(entry.shape, dtype=entry.dtype)
    return parts[0]


def _is_string(tree: LegacyTree, entry: Entry) -> bool:
    node = tree.nodes[entry.sources[0]]
    return node.string_kind is not None


def _field(entry: Entry) -> str | None:
    """The compound field an entry holds, as the plan records it, or None."""
    return entry.attrs.get(sa.COMPOUND_FIELD)


def _lazy(tree: LegacyTree, path: str, entry: Entry) -> da.Array:
    dataset = tree.dataset(path)
    if h5py.check_enum_dtype(dataset.dtype) is not None:
        dataset = dataset.astype(dataset.dtype.base)
    if dataset.ndim == 0:
        array = da.from_array(_read_all(tree, path), chunks=())
    else:
        target = store_chunks(entry)
        if entry.combine == "stack" and len(target) == dataset.ndim + 1:
            chunks: Any = target[1:]
        elif tuple(dataset.shape) == entry.shape:
            chunks = target
        else:
            chunks = choose_chunks(tuple(dataset.shape), ("",) * dataset.ndim, dataset.dtype.itemsize)
        chunks = read_chunks(dataset, chunks)
        array = da.from_array(_Checked(dataset, tree, path), chunks=chunks, lock=False, asarray=True,
                              name=f"nwb1-{id(tree)}-{path}", meta=np.empty((0,) * dataset.ndim, dataset.dtype))
    return apply_steps(array, entry.transform)


def _read_error(tree: LegacyTree, path: str, exc: BaseException) -> SourceDataError:
    return SourceDataError(f"cannot read dataset (damaged or truncated?): {hdf5_reason(exc)}",
                           file=str(tree.source), path=path)


class _Checked:
    """An h5py dataset whose read errors name the file and HDF5 path."""

    def __init__(self, dataset: h5py.Dataset, tree: LegacyTree, path: str) -> None:
        self.dataset, self.tree, self.path = dataset, tree, path
        self.shape, self.dtype, self.ndim = dataset.shape, dataset.dtype, dataset.ndim

    def __getitem__(self, key: Any) -> np.ndarray:
        try:
            return read_region(self.dataset, key)
        except (OSError, RuntimeError, ValueError, TypeError, KeyError) as exc:
            raise _read_error(self.tree, self.path, exc) from exc


READ_BLOCK_MAX = 64 * 1024 * 1024


def read_chunks(dataset: Any, chunks: tuple[int, ...]) -> tuple[int, ...]:
    """Read blocks for ``dataset``: ``chunks`` widened so that no HDF5 chunk is cut by a block edge.

    A store chunk that cuts HDF5 chunks (57 movie frames from HDF5 chunks of 225; 14,375 trace samples from
    HDF5 chunks of 3,594) would make each cut HDF5 chunk be decompressed once per store chunk it overlaps.
    Along every axis but the first, a block spans lcm(store, HDF5) elements, or the whole axis; along the
    first, lcm(store, HDF5) rows, or else whole HDF5 chunks; dask re-cuts the blocks into store chunks. A
    block stays within 64 MB, widening the first axis last, so each HDF5 chunk is decompressed once.

    >>> class D:
    ...     shape, chunks, dtype = (200, 115000), (4, 3594), np.dtype("f4")
    >>> read_chunks(D(), (8, 14375))
    (8, 115000)
    """
    source = getattr(dataset, "chunks", None)
    if not source or not chunks or len(chunks) != len(source):
        return chunks
    shape, itemsize = tuple(dataset.shape), dataset.dtype.itemsize
    out = list(chunks)
    for axis in range(1, len(out)):
        if out[axis] >= shape[axis] or out[axis] % source[axis] == 0:
            continue
        wider = min(math.lcm(out[axis], source[axis]), shape[axis])
        if math.prod(out[:axis]) * wider * math.prod(out[axis + 1:]) * itemsize <= READ_BLOCK_MAX:
            out[axis] = wider
    if out[0] >= shape[0]:
        return tuple(out)
    row_bytes = math.prod(out[1:]) * itemsize
    for rows in (math.lcm(source[0], out[0]), source[0] * math.ceil(out[0] / source[0])):
        rows = min(rows, shape[0])
        if rows * row_bytes <= READ_BLOCK_MAX:  # else: dask re-cuts these blocks into store chunks
            out[0] = rows
            break
    return tuple(out)


def _deflate_only(dataset: Any) -> bool:
    """Whether raw chunks of ``dataset`` are plain zlib streams of native-layout numbers."""
    if not isinstance(dataset, h5py.Dataset) or dataset.chunks is None or dataset.dtype.kind not in "biuf":
        return False
    if dataset.dtype.names or h5py.check_enum_dtype(dataset.dtype) is not None:
        return False
    with phil:
        plist = dataset.id.get_create_plist()
        return plist.get_nfilters() == 1 and plist.get_filter(0)[0] == h5py.h5z.FILTER_DEFLATE


def read_region(dataset: Any, key: Any) -> np.ndarray:
    """``dataset[key]``, bit-identical; gzip-only chunked datasets are read chunk by chunk with
    ``read_direct_chunk`` and inflated by ISA-L, which releases the GIL (h5py's
    own filter pipeline holds it), so two threads decompress in parallel. Anything else: h5py."""
    if not isinstance(key, tuple) or len(key) != getattr(dataset, "ndim", -1) or not _deflate_only(dataset) or \
            not all(isinstance(k, slice) and k.step in (None, 1) for k in key):
        return dataset[key]
    bounds = [k.indices(n)[:2] for k, n in zip(key, dataset.shape, strict=True)]
    if any(stop <= start for start, stop in bounds):
        return dataset[key]
    out = np.empty(tuple(stop - start for start, stop in bounds), dtype=dataset.dtype)
    chunk = dataset.chunks
    ranges = [range(start // c * c, stop, c) for (start, stop), c in zip(bounds, chunk, strict=True)]
    for origin in itertools.product(*ranges):
        parts = [(max(s, o), min(e, o + c), o, s) for (s, e), o, c in zip(bounds, origin, chunk, strict=True)]
        src_sel = tuple(slice(lo - o, hi - o) for lo, hi, o, _ in parts)
        dst_sel = tuple(slice(lo - s, hi - s) for lo, hi, _, s in parts)
        block = _inflate(dataset, origin, chunk)
        out[dst_sel] = dataset[tuple(slice(lo, hi) for lo, hi, _, _ in parts)] if block is None else block[src_sel]
    return out


def _inflate(dataset: h5py.Dataset, origin: tuple[int, ...], chunk: tuple[int, ...]) -> np.ndarray | None:
    """One whole chunk, inflated outside h5py; None when h5py must read it (unwritten, filter skipped)."""
    try:
        # h5py's low-level read_direct_chunk does not take h5py's lock (phil), and libhdf5 is not
        # thread-safe: unlocked, a read beside another thread's HDF5 call once returned a chunk as zeros.
        with phil:
            mask, raw = dataset.id.read_direct_chunk(origin)
        if mask:
            return None
        return np.frombuffer(inflate(raw), dtype=dataset.dtype).reshape(chunk)
    except (KeyError, OSError, RuntimeError, ValueError, InflateError):
        return None


def _read_all(tree: LegacyTree, path: str) -> np.ndarray:
    try:
        return np.asarray(tree.dataset(path)[()])
    except (OSError, RuntimeError, ValueError, TypeError, KeyError) as exc:
        raise _read_error(tree, path, exc) from exc


def _small_array(tree: LegacyTree, entry: Entry) -> np.ndarray:
    """Strings, references and compound fields: read whole (such datasets are small)."""
    values = []
    field = _field(entry)
    for path in entry.sources:
        raw = _read_all(tree, path)
        dtype = tree.nodes[path].dtype
        if field is not None and dtype is not None and dtype.names:
            raw = np.asarray(raw[field])
            dtype = dtype.fields[field][0]
        if dtype is not None and h5py.check_ref_dtype(dtype) is not None:
            flat = [normalize(r, file=tree.file) for r in raw.reshape(-1)]
            raw = np.array(flat, dtype=object).reshape(raw.shape)
        values.append(decode_value(raw))
    if entry.combine == "stack":
        out = np.stack([np.asarray(v, dtype=object) if entry.dtype == "str" else v for v in values])
    elif entry.combine == "concat":
        out = np.concatenate(values)
    else:
        out = np.asarray(values[0], dtype=object) if entry.dtype == "str" else np.asarray(values[0])
    out = apply_steps(out, entry.transform)
    if entry.dtype == "str":
        out = _as_text(out)
    return out


def _as_text(values: Any) -> np.ndarray:
    """Text as numpy's variable-width StringDType, so even an empty array stays a string array."""
    arr = np.asarray(values, dtype=object)
    flat = [v if isinstance(v, str) else str(v) for v in arr.reshape(-1)]
    return np.array(flat, dtype=np.dtypes.StringDType()).reshape(arr.shape)
