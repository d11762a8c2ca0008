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

from .digests import DIGEST_ALGORITHM, canonical_dtype, lazy_digest
from .errors import StoreError
from .progress import ProgressCallback, no_progress
from .schema_files import load_schema_file
from .validate_report import ERROR, MISMATCH, MISSING, UNEXPECTED, Check

LAYOUT_SCHEMA = "store_layout.schema.json"


def open_store(store: str | os.PathLike[str]) -> zarr.Group:
    """The store's root group, read from each node's own metadata (not the consolidated copy)."""
    path = Path(store)
    if not path.exists():
        raise StoreError("no such store", file=str(path))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return zarr.open_group(path, mode="r", use_consolidated=False)
    except Exception as exc:  # zarr raises many kinds; all mean "not a readable store"
        raise StoreError(f"not a readable Zarr store: {type(exc).__name__}: {exc}", file=str(path)) from exc


def members(root: zarr.Group) -> tuple[dict[str, zarr.Group], dict[str, zarr.Array]]:
    """Every group and array below ``root``, keyed by absolute store path ('/ophys/dff')."""
    groups: dict[str, zarr.Group] = {"/": root}
    arrays: dict[str, zarr.Array] = {}
    for path, node in root.members(max_depth=None):
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


def check_consolidated(store: str | os.PathLike[str], groups: dict[str, zarr.Group],
                       arrays: dict[str, zarr.Array]) -> list[Check]:
    """Consolidated metadata (what most readers open) must say what each node's own metadata says."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            consolidated = zarr.open_consolidated(store, mode="r")
    except Exception:  # no consolidated metadata: readers use each node's own, nothing can disagree
        return []
    c_groups, c_arrays = members(consolidated)
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


def _meta(node: Any) -> str:
    info: dict[str, Any] = {"attrs": dict(node.attrs)}
    if isinstance(node, zarr.Array):
        info.update(shape=list(node.shape), dtype=str(node.dtype), chunks=list(node.chunks))
    return json.dumps(_plain(info), sort_keys=True)


def check_store_only(store: str | os.PathLike[str], *, progress: ProgressCallback = no_progress
                     ) -> tuple[list[Check], zarr.Group]:
    """Digests, layout and consolidated metadata of a store (no source needed)."""
    root = open_store(store)
    groups, arrays = members(root)
    checks = check_digests(root, arrays, progress=progress)
    checks += check_layout(root, groups, arrays)
    checks += check_consolidated(store, groups, arrays)
    return checks, root
