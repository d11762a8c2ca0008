"""Plan -> lazy xarray DataTree backed by the open HDF5 file (nothing read until needed)."""

from __future__ import annotations

import os
from collections import defaultdict
from typing import Any

import xarray as xr

from ..planning.model import Plan
from ..planning.planner import make_plan
from ..reading.legacy_tree import LegacyTree
from .source_arrays import entry_array, entry_nbytes

# Eager reads of one conversion together stay below this, however many small datasets a file has.
EAGER_TOTAL_BYTES = 64 * 1024 * 1024


def build_tree(tree: LegacyTree, plan: Plan, *, root_attrs: dict[str, Any] | None = None,
               eager_bytes: int = 0) -> xr.DataTree:
    """The DataTree a plan describes; arrays are dask arrays over ``tree``'s file, except numeric copies
    of at most ``eager_bytes``, read at once into numpy (at most ``EAGER_TOTAL_BYTES`` in all)."""
    data_vars: dict[str, dict[str, Any]] = defaultdict(dict)
    coords: dict[str, dict[str, Any]] = defaultdict(dict)
    budget = EAGER_TOTAL_BYTES
    for entry in plan.entries:
        size = entry_nbytes(entry)
        eager = eager_bytes if size <= min(eager_bytes, budget) else 0
        budget -= size if eager else 0
        variable = xr.Variable(entry.dims, entry_array(tree, entry, eager_bytes=eager), attrs=entry.attrs)
        (coords if entry.role == "coord" else data_vars)[entry.group][entry.name] = variable
    datasets: dict[str, xr.Dataset] = {}
    for group in sorted(set(plan.groups) | set(data_vars) | set(coords), key=lambda g: g.count("/")):
        attrs = dict(plan.groups.get(group, {}))
        if group == "/":
            attrs = {**plan.root_attrs, **(root_attrs or {}), **attrs}
        datasets[group] = xr.Dataset(data_vars[group], coords=coords[group], attrs=attrs)
    return xr.DataTree.from_dict(datasets)


def open_legacy(src: str | os.PathLike[str], *, profile: str | None = None) -> xr.DataTree:
    """Open an NWB 1.0 file as a lazy, labelled DataTree (the file stays open until ``.close()``).

    >>> dt = open_legacy("session.nwb")                          # doctest: +SKIP
    >>> dt["ophys/dff"].sel(time=slice(100, 130)).mean("time")  # doctest: +SKIP
    """
    tree = LegacyTree.open(src)
    try:
        plan = make_plan(tree, profile=profile)
        dt = build_tree(tree, plan)
    except BaseException:
        tree.close()
        raise
    dt.set_close(tree.close)
    return dt
