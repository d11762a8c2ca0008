"""Checks that need only the store: recorded content digests, the layout schema, consolidated metadata.

Digests are recomputed with :mod:`nwb1zarr.digests` from the arrays as stored, chunk by chunk;
the layout is a small JSON document built from the store and checked against
``schemas/store_layout.schema.json`` (the schema is the definition; this module only builds the document).
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path
from typing import Any

import dask.array as da
import jsonschema
import numpy as np
import zarr

from ..digests import DIGEST_ALGORITHM, canonical_dtype, lazy_digest
from ..errors import StoreError
from ..progress import ProgressCallback, no_progress
from ..schema_files import load_schema_file
from ..urls import StorageOptions, is_remote, local_path
from .report import ERROR, MISMATCH, MISSING, UNEXPECTED, Check

LAYOUT_SCHEMA = "store_layout.schema.json"


def open_store(store: str | os.PathLike[str], *, storage_options: StorageOptions | None = None) -> zarr.Group:
    """The store's root group, read from each node's own metadata (not the consolidated copy).

    ``store`` is a directory or an fsspec URL; a remote prefix without its root document is refused as
    an incomplete store (an interrupted or running conversion), in one line.
    """
    repository = _repository(store, storage_options)
    if repository is not None:
        target: Any = repository
        where = str(store)
    elif is_remote(store):
        target = _remote_store(str(store), storage_options)
        where = str(store)
    else:
        target = path = Path(local_path(store))
        where = str(path)
        if not path.exists():
            raise StoreError("no such store", file=where)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return zarr.open_group(target, mode="r", use_consolidated=False)
    except Exception as exc:  # zarr raises many kinds; all mean "not a readable store"
        raise StoreError(f"not a readable Zarr store: {type(exc).__name__}: {exc}", file=where) from exc


def store_target(store: str | os.PathLike[str], *, storage_options: StorageOptions | None = None) -> Any:
    """What zarr and xarray open for ``store``: a local Path, a read-only FsspecStore for a URL, or the read-only
    session store of a virtual store (an Icechunk repository)."""
    repository = _repository(store, storage_options)
    if repository is not None:
        return repository
    if is_remote(store):
        from ..sinks.object_store import fsspec_store

        return fsspec_store(str(store), storage_options=storage_options, read_only=True, error=StoreError)
    return Path(local_path(store))


def _repository(store: str | os.PathLike[str], storage_options: StorageOptions | None) -> Any:
    """The read-only store of the Icechunk repository (virtual store) at ``store``, or None when it is none;
    a repository without a committed conversion is refused (:mod:`nwb1zarr.virtual.repository`)."""
    from ..virtual.repository import is_repository, readonly_store

    if not is_repository(store, storage_options=storage_options):
        return None
    return readonly_store(store, storage_options=storage_options)


def _remote_store(url: str, storage_options: StorageOptions | None) -> Any:
    """A read-only FsspecStore for ``url``, after checking that its root document is there."""
    from ..sinks.claim_remote import ALL_ROOT_DOCUMENTS, lock_url
    from ..urls import filesystem, remote_error_types, translate

    fs, path = filesystem(url, storage_options=storage_options, error=StoreError)
    path = path.rstrip("/")
    try:
        if not any(fs.exists(f"{path}/{name}") for name in ALL_ROOT_DOCUMENTS):
            lock = filesystem(lock_url(url), storage_options=storage_options, error=StoreError)[1]
            if fs.exists(lock):
                raise StoreError(f"incomplete store: no root metadata document; a conversion is writing it or was "
                                 f"interrupted (lock {lock_url(url)}); convert again to finish it", file=url)
            if fs.exists(path) and fs.find(path, maxdepth=None, withdirs=False):
                raise StoreError("incomplete store: objects under the prefix but no root metadata document "
                                 "(zarr.json / .zgroup); an interrupted conversion? convert again", file=url)
            raise StoreError("no such store", file=url)
    except remote_error_types() as exc:
        raise translate(exc, url, error=StoreError) from exc
    return store_target(url, storage_options=storage_options)


def members(root: zarr.Group) -> tuple[dict[str, zarr.Group], dict[str, zarr.Array]]:
    """Every group and array below ``root``, keyed by absolute store path ('/ophys/dff')."""
    groups: dict[str, zarr.Group] = {"/": root}
    arrays: dict[str, zarr.Array] = {}
    with warnings.catch_warnings():  # "not recognized as a component": a prefix without metadata, reported later
        warnings.simplefilter("ignore")
        found = list(root.members(max_depth=None))
    for path, node in found:
        (arrays if isinstance(node, zarr.Array) else groups)["/" + path] = node  # type: ignore[index]
    return groups, arrays


def dims_of(array: zarr.Array) -> list[str] | None:
    names = getattr(array.metadata, "dimension_names", None)
    if names is None:
        names = array.attrs.get("_ARRAY_DIMENSIONS")
    if names is None:
        return [] if array.ndim == 0 else None
    return list(names)


def check_digests(root: zarr.Group, arrays: dict[str, zarr.Array], *,
                  progress: ProgressCallback = no_progress) -> list[Check]:
    """Recompute every array's digest from the store and compare with ``nwb1zarr_digests``."""
    recorded = root.attrs.get("nwb1zarr_digests")
    algorithm = root.attrs.get("nwb1zarr_digest_algorithm")
    if not isinstance(recorded, dict) or algorithm != DIGEST_ALGORITHM:
        return [Check("digest", "/", status=MISSING, detail=f"no {DIGEST_ALGORITHM} digests recorded "
                      f"(algorithm {algorithm!r})")]
    out = []
    for i, (path, array) in enumerate(sorted(arrays.items())):
        progress("digest", i, len(arrays))
        check = Check("digest", path, elements=int(array.size))
        if path not in recorded:
            check.status, check.detail = MISSING, "no digest recorded for this array"
        else:
            try:
                actual = digest_of(array)
            except Exception as exc:  # a chunk that no longer decodes is a finding, not a crash
                check.status, check.detail = ERROR, f"cannot read: {type(exc).__name__}: {exc}"
            else:
                check.bytes = int(array.nbytes) if canonical_dtype(array.dtype) != "str" else 0
                if actual != recorded[path]:
                    check.status = MISMATCH
                    check.detail = "content digest differs from the one recorded at conversion"
                    check.first_mismatch = {"attribute": "nwb1zarr_digests", "store": actual,
                                            "expected": recorded[path]}
        out.append(check)
    progress("digest", len(arrays), len(arrays))
    out.extend(Check("digest", path, status=UNEXPECTED, detail="digest recorded for an array the store lacks")
               for path in sorted(set(recorded) - set(arrays)))
    return out


def digest_of(array: zarr.Array) -> str:
    """The content digest of a stored array, read chunk by chunk (bounded memory)."""
    if array.ndim == 0:
        return str(lazy_digest(np.asarray(array[()])))
    source = _Readable(array)
    lazy = da.from_array(source, chunks=array.chunks, lock=False, asarray=True, fancy=False,
                         meta=np.empty((0,) * array.ndim, source.dtype))
    return str(lazy_digest(lazy).compute(scheduler="sync"))


class _Readable:
    """A zarr array as dask sees it; text comes back as Python str objects."""

    def __init__(self, array: zarr.Array) -> None:
        self.array, self.shape, self.ndim = array, array.shape, array.ndim
        self.text = canonical_dtype(np.dtype(array.dtype)) == "str"
        self.dtype = np.dtype(object) if self.text else np.dtype(array.dtype)

    def __getitem__(self, key: Any) -> np.ndarray:
        block = np.asarray(self.array[key])
        return block.astype(object) if self.text else block


def layout_document(root: zarr.Group, groups: dict[str, zarr.Group], arrays: dict[str, zarr.Array]
                    ) -> dict[str, Any]:
    """What the layout schema is checked against: root attrs, group attrs, and dims/dtype/shape per array."""
    return {
        "root_attrs": _plain(dict(root.attrs)),
        "groups": {path: _plain(dict(g.attrs)) for path, g in sorted(groups.items())},
        "arrays": {path: {"dims": dims_of(a), "dtype": canonical_dtype(np.dtype(a.dtype)).lstrip("<|"),
                          "shape": list(a.shape)} for path, a in sorted(arrays.items())},
    }


def _plain(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def check_layout(root: zarr.Group, groups: dict[str, zarr.Group], arrays: dict[str, zarr.Array]) -> list[Check]:
    """The store's layout against ``schemas/store_layout.schema.json``: one check, or one per violation."""
    validator = jsonschema.Draft202012Validator(load_schema_file(LAYOUT_SCHEMA))
    document = layout_document(root, groups, arrays)
    errors = sorted(validator.iter_errors(document), key=lambda e: [str(p) for p in e.absolute_path])
    if not errors:
        return [Check("layout", "/", detail=f"{len(groups)} groups, {len(arrays)} arrays follow {LAYOUT_SCHEMA}")]
    out = []
    for error in errors:
        where = list(error.absolute_path)
        store_path = str(where[1]) if len(where) > 1 and where[0] in ("groups", "arrays") else "/"
        if where and where[0] == "root_attrs" and len(where) > 1:
            store_path = "/"
        out.append(Check("layout", store_path, status=MISMATCH,
                         detail=f"{'/'.join(str(p) for p in where) or '(document)'}: {error.message}"))
    return out


def check_consolidated(store: Any, groups: dict[str, zarr.Group], arrays: dict[str, zarr.Array], *,
                       refuse_missing: bool = False) -> list[Check]:
    """Consolidated metadata (what most readers open) must say what each node's own metadata says.

    Nodes it names that the store lacks are ``missing`` checks (a gap in a local store), or with
    ``refuse_missing`` (stores on an object store, written root last) an incomplete store: a StoreError.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            consolidated = zarr.open_consolidated(store, mode="r")
    except Exception:  # no consolidated metadata: readers use each node's own, nothing can disagree
        return []
    c_groups, c_arrays = members(consolidated)
    absent = sorted((set(c_groups) | set(c_arrays)) - set(groups) - set(arrays))
    if absent and refuse_missing:
        raise StoreError(f"incomplete store: consolidated metadata names {len(absent)} node(s) the store lacks, "
                         f"e.g. {absent[0]}", file=str(getattr(store, "path", store)))
    out = []
    for path in sorted(set(c_groups) | set(c_arrays) | set(groups) | set(arrays)):
        own = arrays.get(path) or groups.get(path)
        copy = c_arrays.get(path) or c_groups.get(path)
        if own is None:
            out.append(Check("metadata", path, status=MISSING, detail="in consolidated metadata but not in the store"))
        elif copy is None:
            out.append(Check("metadata", path, status=MISMATCH, detail="missing from consolidated metadata"))
        elif _meta(own) != _meta(copy):
            out.append(Check("metadata", path, status=MISMATCH,
                             detail="consolidated metadata differs from the node's own metadata"))
    return out or [Check("metadata", "/", detail="consolidated metadata agrees with every node")]


def _is_icechunk(store: Any) -> bool:
    return type(store).__module__.startswith("icechunk")


def _meta(node: Any) -> str:
    info: dict[str, Any] = {"attrs": dict(node.attrs)}
    if isinstance(node, zarr.Array):
        info.update(shape=list(node.shape), dtype=str(node.dtype), chunks=list(node.chunks))
    return json.dumps(_plain(info), sort_keys=True)


def check_store_only(store: str | os.PathLike[str], *, storage_options: StorageOptions | None = None,
                     progress: ProgressCallback = no_progress) -> tuple[list[Check], zarr.Group]:
    """Digests, layout and consolidated metadata of a store (a directory or an fsspec URL; no source needed)."""
    root = open_store(store, storage_options=storage_options)
    groups, arrays = members(root)
    checks = check_digests(root, arrays, progress=progress)
    checks += check_layout(root, groups, arrays)
    if _is_icechunk(root.store):
        checks.append(Check("metadata", "/", detail="not applicable: a virtual store (Icechunk repository) has no "
                            "consolidated metadata; each snapshot is one consistent view"))
        return checks, root
    try:
        checks += check_consolidated(root.store, groups, arrays,
                                     refuse_missing=is_remote(store))
    except StoreError as exc:
        raise StoreError(exc.message, file=str(store)) from exc
    return checks, root
