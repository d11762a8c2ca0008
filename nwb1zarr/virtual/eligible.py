"""Which plan entries a virtual store can hold as chunk references into the source, and how they are encoded.

An entry qualifies when its stored values are the bytes of its source datasets as they are: one dataset, or a
``stack`` of same-layout per-ROI datasets; no transform, no derivation, no compound field; numeric little-endian
(or single-byte) values; chunked HDF5 layout whose filters Zarr can undo (deflate = ``numcodecs.zlib``, shuffle =
``numcodecs.shuffle`` with the element size). Contiguous, compact, unallocated or otherwise filtered data, strings
and enums are written as ordinary chunks ("materialised"); :func:`plain_layout` says why.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import h5py
import numpy as np

from .. import store_attrs as sa
from ..planning.model import Entry

NUMERIC_KINDS = "biuf"


@dataclass(frozen=True)
class Layout:
    """How the source bytes of one entry are laid out: what a Zarr array over them declares."""

    shape: tuple[int, ...]
    chunks: tuple[int, ...]
    dtype: np.dtype
    codecs: tuple[dict[str, Any], ...]
    fill_value: Any


def dataset_codecs(dataset: h5py.Dataset) -> tuple[dict[str, Any], ...] | str:
    """Zarr v3 bytes-to-bytes codecs (decoding order reversed, as Zarr lists them) for the HDF5 filter pipeline of
    ``dataset``, or the reason there are none.

    HDF5 applies its filters in pipeline order when writing; Zarr lists bytes-to-bytes codecs in encoding order,
    so the pipeline order is the codec order.
    """
    plist = dataset.id.get_create_plist()
    codecs: list[dict[str, Any]] = []
    for i in range(plist.get_nfilters()):
        code, _flags, values, _name = plist.get_filter(i)
        if code == h5py.h5z.FILTER_DEFLATE:
            level = int(values[0]) if values else 6
            codecs.append({"name": "numcodecs.zlib", "configuration": {"level": level}})
        elif code == h5py.h5z.FILTER_SHUFFLE:
            codecs.append({"name": "numcodecs.shuffle", "configuration": {"elementsize": dataset.dtype.itemsize}})
        else:
            return f"HDF5 filter {code} has no Zarr codec"
    return tuple(codecs)


def plain_layout(dataset: Any) -> Layout | str:
    """The layout of a chunked numeric dataset Zarr can decode as stored, or why it cannot be referenced."""
    if not isinstance(dataset, h5py.Dataset):
        return "not an HDF5 dataset"
    dtype = dataset.dtype
    if dtype.names or dtype.kind not in NUMERIC_KINDS or h5py.check_enum_dtype(dtype) is not None:
        return f"{dtype} values are not plain numbers"
    if dtype.byteorder == ">":
        return "big-endian values"
    if dataset.chunks is None:
        return "contiguous or compact layout (no chunks to reference)"
    if dataset.ndim == 0 or dataset.size == 0:
        return "empty or 0-d dataset"
    if dataset.external:
        return "external raw storage"
    codecs = dataset_codecs(dataset)
    if isinstance(codecs, str):
        return codecs
    fill = dataset.fillvalue
    fill_value = fill.item() if isinstance(fill, np.generic) else fill
    return Layout(tuple(dataset.shape), tuple(dataset.chunks), dtype.newbyteorder("<") if dtype.itemsize > 1
                  else dtype, codecs, fill_value)


def entry_layout(datasets: list[Any], entry: Entry) -> Layout | str:
    """The layout of ``entry`` over its source ``datasets`` (in ``entry.sources`` order), or why it is materialised."""
    if entry.derive is not None:
        return "derived"
    if entry.transform:
        return "transformed (" + ", ".join(str(s.get("name")) for s in entry.transform) + ")"
    if entry.attrs.get(sa.COMPOUND_FIELD) is not None or entry.dtype == "str":
        return "text or compound field"
    if entry.combine not in (None, "stack") or not datasets:
        return f"combined by {entry.combine}"
    layouts = [plain_layout(d) for d in datasets]
    first = layouts[0]
    if isinstance(first, str):
        return first
    if any(layout != first for layout in layouts[1:]):
        return "stacked datasets differ in shape, chunks, type or filters"
    if entry.combine == "stack":
        first = Layout((len(datasets), *first.shape), (1, *first.chunks), first.dtype, first.codecs, first.fill_value)
    if first.shape != tuple(entry.shape) or np.dtype(entry.dtype) != first.dtype:
        return f"stored as {entry.dtype} {tuple(entry.shape)}, source is {first.dtype} {first.shape}"
    return first
