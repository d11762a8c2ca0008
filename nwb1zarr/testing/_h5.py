"""Low-level h5py helpers that reproduce the storage rules of the Allen NWB 1.0 writer (ainwb 1.0.5).

* strings set by Allen code -> fixed-length ``S<n>`` NULLPAD (exact length; list-derived dataset arrays +1);
* strings from the spec (``@help``, ``@neurodata_type``, empty defaults) -> vlen UTF-8 attributes;
* numeric non-scalar datasets -> gzip level 4, ``chunks=True`` (h5py auto-chunking), no shuffle;
* scalars and string datasets -> contiguous, uncompressed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

import h5py
import numpy as np

GZIP_LEVEL = 4
BLOCK_BYTES = 16 * 2**20  # target size of one block when big datasets are written piecewise

Attr = str | bytes | int | float | np.generic | np.ndarray | list[bytes] | list[str]


def fixed(value: str | bytes) -> np.bytes_:
    """``np.bytes_`` of exact length: stored as a fixed-length ``S<len>`` NULLPAD scalar."""
    return np.bytes_(value.encode("ascii") if isinstance(value, str) else value)


def fixed_array(values: Sequence[str | bytes], *, pad: int = 0) -> np.ndarray:
    """1-D ``S<maxlen + pad>`` array; ``pad=1`` mimics ainwb's list-derived string datasets."""
    raw = [v.encode("ascii") if isinstance(v, str) else v for v in values]
    width = max((len(v) for v in raw), default=0) + pad
    return np.array(raw, dtype=f"S{max(width, 1)}")


def set_attrs(obj: h5py.HLObject, attrs: dict[str, Attr]) -> None:
    """Set attributes; a ``str`` becomes vlen UTF-8, ``bytes`` fixed ``S<n>``, a list of bytes ``S<n>`` (n,)."""
    for name, value in attrs.items():
        if isinstance(value, bytes):
            value = fixed(value)
        elif isinstance(value, list):
            value = fixed_array(value)
        obj.attrs[name] = value


def scalar(group: h5py.Group, name: str, value: object, **attrs: Attr) -> h5py.Dataset:
    """Contiguous scalar dataset (numpy scalar, ``bytes`` -> ``S<n>``)."""
    if isinstance(value, str | bytes):
        value = fixed(value)
    dset = group.create_dataset(name, data=value)
    set_attrs(dset, attrs)
    return dset


def strings(group: h5py.Group, name: str, values: Sequence[str | bytes], *, pad: int,
            **attrs: Attr) -> h5py.Dataset:
    """Contiguous 1-D fixed-length string dataset (``pad=1`` for list-derived arrays)."""
    dset = group.create_dataset(name, data=fixed_array(values, pad=pad))
    set_attrs(dset, attrs)
    return dset


def vlen_ascii(group: h5py.Group, name: str, value: bytes | list[bytes], *, resizable: bool = False
               ) -> h5py.Dataset:
    """vlen ASCII string dataset: scalar, or 1-D chunked with maxshape (None,) when ``resizable``."""
    dtype = h5py.string_dtype("ascii")
    if resizable:
        return group.create_dataset(name, data=value, dtype=dtype, maxshape=(None,), chunks=True)
    return group.create_dataset(name, data=value, dtype=dtype)


def numeric(group: h5py.Group, name: str, data: np.ndarray | None = None, *,
            shape: tuple[int, ...] | None = None, dtype: np.dtype | str | None = None,
            **attrs: Attr) -> h5py.Dataset:
    """Non-scalar numeric dataset written like the writer: gzip 4, ``chunks=True``, no shuffle.

    Pass ``data``, or ``shape`` + ``dtype`` to create it empty and fill it with :func:`fill_blocks`.
    """
    if data is not None:
        data = np.asarray(data, dtype=dtype)
        shape, dtype = data.shape, data.dtype
    dset = group.create_dataset(name, shape=shape, dtype=dtype, data=data, chunks=True,
                                compression="gzip", compression_opts=GZIP_LEVEL)
    set_attrs(dset, attrs)
    return dset


def block_ranges(dset: h5py.Dataset, *, axis: int, block_bytes: int = BLOCK_BYTES
                 ) -> Iterable[tuple[int, int]]:
    """``(start, stop)`` ranges along ``axis`` of about ``block_bytes``, aligned to the chunk grid."""
    length = dset.shape[axis]
    per_index = dset.dtype.itemsize * int(np.prod(dset.shape)) // max(length, 1)
    step = dset.chunks[axis] if dset.chunks else 1
    n = max(1, block_bytes // max(per_index * step, 1)) * step
    for start in range(0, length, n):
        yield start, min(start + n, length)


def fill_blocks(dset: h5py.Dataset, make: Callable[[int, int], np.ndarray], *, axis: int,
                block_bytes: int = BLOCK_BYTES) -> None:
    """Fill ``dset`` block by block along ``axis``; ``make(start, stop)`` returns the block's values."""
    for start, stop in block_ranges(dset, axis=axis, block_bytes=block_bytes):
        index = [slice(None)] * dset.ndim
        index[axis] = slice(start, stop)
        dset[tuple(index)] = make(start, stop)
