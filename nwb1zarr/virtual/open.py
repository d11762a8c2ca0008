"""Opening stores: :func:`open_store` for ordinary and virtual stores alike, :func:`array_kinds` for `inspect`."""

from __future__ import annotations

import os
import warnings
from typing import Any

import xarray as xr

from ..urls import StorageOptions
from .repository import is_repository, open_repository, readonly_store


def open_store(store: str | os.PathLike[str], *, storage_options: StorageOptions | None = None,
               **kwargs: Any) -> xr.DataTree:
    """The labelled DataTree of a store: an ordinary Zarr store (folder or URL) or a virtual store (an Icechunk
    repository, read through its references into the source). ``kwargs`` go to :func:`xarray.open_datatree`.

    >>> dt = open_store("570014520.icechunk")                              # doctest: +SKIP
    >>> dt["ophys/dff"].isel(roi=0).sel(time=slice(100, 130)).values       # doctest: +SKIP
    """
    if is_repository(store, storage_options=storage_options):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # numcodecs codecs "not in the Zarr 3 specification"
            return xr.open_datatree(readonly_store(store, storage_options=storage_options), engine="zarr",
                                    consolidated=False, zarr_format=3, **kwargs)
    from ..validation.store_check import store_target

    return xr.open_datatree(store_target(store, storage_options=storage_options), engine="zarr", **kwargs)


def array_kinds(store: str | os.PathLike[str], *, storage_options: StorageOptions | None = None) -> dict[str, str]:
    """Every array of a store by path: ``"virtual"`` (chunk references into the source), ``"materialised"``
    (chunks in the store) or ``"empty"`` (no chunk written). An ordinary store's arrays are all materialised."""
    import zarr

    from ..validation.store_check import members
    from ..validation.store_check import open_store as open_root

    if not is_repository(store, storage_options=storage_options):
        _, arrays = members(open_root(store, storage_options=storage_options))
        return dict.fromkeys(sorted(arrays), "materialised")
    from .repository import icechunk_module

    icechunk = icechunk_module()
    readonly_store(store, storage_options=storage_options)  # refuses an incomplete repository
    session = open_repository(store, storage_options=storage_options).readonly_session(branch="main")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _, arrays = members(zarr.open_group(session.store, mode="r"))
    out = {}
    for path, array in sorted(arrays.items()):
        first = [0] * array.ndim
        kind = session.chunk_type(path, first) if array.ndim else session.chunk_type(path, [])
        out[path] = "virtual" if kind == icechunk.ChunkType.VIRTUAL else \
            "empty" if kind == icechunk.ChunkType.UNINITIALIZED else "materialised"
    return out


def is_store(target: str | os.PathLike[str], *, storage_options: StorageOptions | None = None) -> bool:
    """Whether ``target`` is a store (a local Zarr folder, or an Icechunk repository anywhere) rather than a source.

    >>> is_store("570014520.nwb")
    False
    """
    from pathlib import Path

    from ..urls import is_remote, local_path

    if not is_remote(target):
        path = Path(local_path(target))
        if path.is_dir() and any((path / name).is_file() for name in ("zarr.json", ".zgroup")):
            return True
    return is_repository(target, storage_options=storage_options)


def describe_store(store: str | os.PathLike[str], *,
                   storage_options: StorageOptions | None = None) -> dict[str, Any]:
    """What `nwb1zarr inspect STORE` shows: the store's kind, the files its references point into, and every
    array's kind (:func:`array_kinds`)."""
    kinds = array_kinds(store, storage_options=storage_options)
    sources: list[str] = []
    virtual = is_repository(store, storage_options=storage_options)
    if virtual:
        session = open_repository(store, storage_options=storage_options).readonly_session(branch="main")
        sources = sorted(set(session.all_virtual_chunk_locations()))
    counts: dict[str, int] = {}
    for kind in kinds.values():
        counts[kind] = counts.get(kind, 0) + 1
    return {"store": str(store), "kind": "virtual (Icechunk repository)" if virtual else "ordinary Zarr store",
            "references_into": sources, "counts": counts, "arrays": kinds}
