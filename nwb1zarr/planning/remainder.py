"""Accounting for every source object: mapped, kept under /nwb1, a link, or skipped with a reason."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from typing import Any

import h5py
import numpy as np

from .. import store_attrs as sa
from ..reading.legacy_tree import LegacyTree, Node
from ..reading.names import store_name, store_path
from .model import Account, Entry

NWB1_ROOT = "/nwb1"


def unsupported_reason(node: Node) -> str | None:
    """Why a dataset cannot be kept as an array (None when it can)."""
    dtype = node.dtype
    if dtype is None:
        return "not a dataset (committed datatype): no values to convert"
    if node.shape is None:
        return "HDF5 null dataspace (h5py.Empty): the dataset has no value; its attributes are not converted"
    if node.string_kind is not None:
        return None
    if h5py.check_ref_dtype(dtype) is not None:
        return None  # kept as strings "<ref:/target/path>"
    if dtype.names:
        for name in dtype.names:  # kept as one variable per field, when every field is a plain value
            field = dtype.fields[name][0]
            if field.shape or field.names or (h5py.check_vlen_dtype(field) is not None
                                              and h5py.check_string_dtype(field) is None):
                return f"compound field {name!r} has dtype {field} (array, nested or variable-length field)"
        return None
    if h5py.check_vlen_dtype(dtype) is not None:
        return f"variable-length {h5py.check_vlen_dtype(dtype)} arrays have no Zarr equivalent"
    if h5py.check_enum_dtype(dtype) is not None:
        return None
    if dtype.kind in "biuf" or dtype.kind == "c":
        return None
    if dtype.kind == "V":
        return "opaque dtype"
    return f"unsupported dtype {dtype}"


def kept_variables(node: Node, *, taken: frozenset[str] | set[str] = frozenset()
                   ) -> list[tuple[str, str, tuple[str, ...], str | None]]:
    """(store path, dtype, dims, compound field or None) of the /nwb1 variables that keep one dataset;
    a compound dataset gives one variable per field, at ``<name>.<field>``, or, when another object of the
    file already has that store path (``taken``), at ``<name>.<field>~<hash>``."""
    base = store_path(node.path, prefix=NWB1_ROOT)
    name = base.rsplit("/", 1)[1]
    shape = node.shape or ()
    dims = tuple(f"{name}_dim_{i}" for i in range(len(shape)))
    dtype = node.dtype
    assert dtype is not None
    if node.string_kind is not None or h5py.check_ref_dtype(dtype) is not None:
        return [(base, "str", dims, None)]
    if dtype.names:
        return [(_field_path(base, node.path, field, taken), _field_dtype(dtype.fields[field][0]), dims, field)
                for field in dtype.names]
    if h5py.check_enum_dtype(dtype) is not None:
        return [(base, str(dtype.base), dims, None)]
    return [(base, str(dtype), dims, None)]


def _field_path(base: str, path: str, field: str, taken: frozenset[str] | set[str]) -> str:
    out = f"{base}.{store_name(field)}"
    if out in taken:
        out += "~" + hashlib.sha256(f"{path}\0{field}".encode("utf-8", "surrogatepass")).hexdigest()[:12]
    return out


def _field_dtype(dtype: np.dtype) -> str:
    """The store dtype of one compound field: strings and references become "str"."""
    if h5py.check_string_dtype(dtype) is not None or h5py.check_ref_dtype(dtype) is not None:
        return "str"
    return str(np.dtype(dtype))


def _unmapped_columns(node: Node, mapped: set[int] | None) -> list[int] | None:
    """Columns (last axis) of a dataset that no entry maps, or None when it is mapped whole."""
    if mapped is None or not node.shape:
        return None
    n = node.shape[-1]
    missing = sorted(set(range(n)) - {i % n for i in mapped if -n <= i < n}) if n else []
    return missing or None


def account_remainder(tree: LegacyTree, entries: list[Entry], *, pack: bool = True
                      ) -> tuple[dict[str, Account], list[Entry], dict[str, dict[str, Any]]]:
    """Accounting for all nodes, the /nwb1 entries for unmapped datasets and the /nwb1 group attrs; with
    ``pack`` (layout 2) mapped-only leaf groups are attributes of their parent (:data:`store_attrs.PACKED`)."""
    used: dict[str, list[str]] = defaultdict(list)
    columns: dict[str, set[int] | None] = {}  # source -> last-axis columns mapped (None: mapped whole)
    for e in entries:
        if e.is_copy:
            first = e.transform[0] if e.transform else None
            for src in (*e.sources, *e.aliases):
                used[src].append(e.store_path)
                if first is not None and first["name"] == "column" and columns.get(src, set()) is not None:
                    columns.setdefault(src, set()).add(int(first["index"]))
                else:
                    columns[src] = None
    accounting: dict[str, Account] = {}
    kept: list[Entry] = []
    groups: dict[str, dict[str, Any]] = {}
    links: dict[str, dict[str, str]] = defaultdict(dict)
    mapped_children: dict[str, dict[str, list[str]]] = defaultdict(dict)
    taken = {store_path(path, prefix=NWB1_ROOT) for path in tree.nodes}
    for node in tree.nodes.values():
        if node.kind == "group":
            continue
        parent = node.parent
        if node.kind == "soft_link":
            links[parent][node.name] = sa.link_value("soft_link", target=node.target or "")
            accounting[node.path] = Account("link", f"soft link to {node.target}")
        elif node.kind == "hard_link":
            links[parent][node.name] = sa.link_value("hard_link", target=node.target or "")
            accounting[node.path] = Account("link", f"hard link to {node.target} (stored once, there)")
        elif node.kind == "external_link":
            links[parent][node.name] = sa.link_value("external_link", target=node.target or "",
                                                     file=node.target_file)
            accounting[node.path] = Account(
                "skipped", f"external link to {node.target_file}:{node.target}; the target is outside this file "
                "(dangling for users of the published files) and is not converted")
        elif node.path in used and _unmapped_columns(node, columns.get(node.path)) is None:
            mapped_children[parent][node.name] = used[node.path]
            accounting[node.path] = Account("mapped", "", tuple(used[node.path]))
        else:
            reason = unsupported_reason(node)
            if reason is not None:
                accounting[node.path] = Account("skipped", reason)
                continue
            made = []
            for path, dtype, dims, field in kept_variables(node, taken=taken):
                attrs = {**sa.source_attrs(node.attrs), sa.PATH: node.path}
                if node.legacy_type:
                    attrs[sa.TYPE] = node.legacy_type
                if field is not None:
                    attrs[sa.COMPOUND_FIELD] = field
                kept.append(Entry(path, dims, tuple(node.shape or ()), dtype, "data", (node.path,), None, (), None,
                                  (), attrs))
                made.append(path)
                taken.add(path)
            missing = _unmapped_columns(node, columns.get(node.path)) if node.path in used else None
            if missing is not None:  # partly mapped: kept whole as well, so no column is lost
                mapped_children[parent][node.name] = used[node.path]
                accounting[node.path] = Account("kept", f"columns {missing} are not mapped, so the dataset is also "
                                                f"kept whole; mapped columns are at {used[node.path]}",
                                                (*made, *used[node.path]))
            else:
                accounting[node.path] = Account("kept", "", tuple(made))
    for node in tree.nodes.values():
        if node.kind != "group":
            continue
        target = store_path(node.path, prefix=NWB1_ROOT)
        attrs: dict[str, Any] = sa.source_attrs(node.attrs)
        attrs[sa.PATH] = node.path
        if node.legacy_type:
            attrs[sa.TYPE] = node.legacy_type
        if links.get(node.path):
            attrs[sa.LINKS] = dict(sorted(links[node.path].items()))
        if mapped_children.get(node.path):
            attrs[sa.MAPPED] = dict(sorted(mapped_children[node.path].items()))
        groups[target] = attrs
        accounting[node.path] = Account("kept", "group and its attributes", (target,))
    if pack:
        _pack_groups(tree, accounting, groups)
    return accounting, kept, groups


def _pack_groups(tree: LegacyTree, accounting: dict[str, Account], groups: dict[str, dict[str, Any]]) -> None:
    """Move every packable group's attributes into its parent's :data:`store_attrs.PACKED` (see there)."""
    children: dict[str, set[str]] = defaultdict(set)  # group -> statuses of its children ("group" for subgroups)
    for node in tree.nodes.values():
        if node.path != "/":
            children[node.parent].add("group" if node.kind == "group" else accounting[node.path].status)
    for node in tree.nodes.values():
        if node.kind != "group" or node.path == "/" or node.attrs or children.get(node.path) != {"mapped"}:
            continue  # a group with attributes of its own stays a node, where users look for them
        target, parent = store_path(node.path, prefix=NWB1_ROOT), store_path(node.parent, prefix=NWB1_ROOT)
        name = target.rsplit("/", 1)[1]
        groups[parent].setdefault(sa.PACKED, {})[name] = groups.pop(target)
        accounting[node.path] = Account("kept", f"group packed into {sa.PACKED}[{name!r}] of {parent}", (parent,))
    for attrs in groups.values():
        if sa.PACKED in attrs:
            attrs[sa.PACKED] = dict(sorted(attrs[sa.PACKED].items()))
