"""Lazy arrays over source datasets, shaped as a plan entry says (dask, chunked like the store)."""

from __future__ import annotations

from typing import Any

import dask.array as da
import h5py
import numpy as np

from .attrs import normalize
from .chunking import choose_chunks
from .derivations import derive
from .errors import SourceDataError, hdf5_reason
from .legacy_tree import LegacyTree, decode_value
from .names import source_name, store_name
from .plan_model import Entry
from .transforms import apply_steps


def store_chunks(entry: Entry) -> tuple[int, ...]:
    """The chunk shape the store uses for ``entry`` (and the dask chunks that feed it)."""
    itemsize = 16 if entry.dtype == "str" else np.dtype(entry.dtype).itemsize
    return choose_chunks(entry.shape, entry.dims, itemsize)


def entry_array(tree: LegacyTree, entry: Entry) -> Any:
    """The values of ``entry``: a dask array for numeric copies, numpy for strings and derived values."""
    if entry.derive is not None:
        return derive(entry.derive, tree.read)
    if entry.dtype == "str" or _field(entry) is not None or (entry.combine is not None and _is_string(tree, entry)):
        return _small_array(tree, entry)
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


def _is_string(tree: LegacyTree, entry: Entry) -> bool:
    node = tree.nodes[entry.sources[0]]
    return node.string_kind is not None


def _field(entry: Entry) -> str | None:
    """The compound field an entry holds ('data.x' kept from compound 'data'), or None."""
    name = entry.store_path.rsplit("/", 1)[1]
    base = store_name(entry.sources[0].rsplit("/", 1)[1]) if entry.sources else ""
    if "." in name and name != base and name.startswith(base + "."):
        return source_name(name[len(base) + 1:])
    return None


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
            return self.dataset[key]
        except (OSError, RuntimeError, ValueError, TypeError, KeyError) as exc:
            raise _read_error(self.tree, self.path, exc) from exc


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
        if field is not None and dtype is not None and dtype.names and field in dtype.names:
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
        out = _as_str_objects(out)
    return out


def _as_str_objects(values: Any) -> np.ndarray:
    arr = np.asarray(values, dtype=object)
    flat = np.empty(arr.size, dtype=object)
    flat[:] = [v if isinstance(v, str) else str(v) for v in arr.reshape(-1)]
    return flat.reshape(arr.shape)
