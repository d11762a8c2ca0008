"""validate(): prove a store holds exactly the source's values, or check a store alone by its digests.

With a source: the plan is re-derived from the source (it is a pure function of it); every planned
array is recomputed from the source with h5py (transforms and derivations from their registries) and
compared with the store, read back through xarray, chunk by chunk and bit for bit; attributes are
compared after :mod:`nwb1zarr.reading.attrs` normalisation; every source object must be accounted for and
present where its account says. Without a source: digests, layout schema and consolidated metadata.
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import h5py
import xarray as xr
import zarr

from .. import store_attrs as sa
from ..digests import file_sha256
from ..errors import InputError, StoreError
from ..planning.model import STORE_LAYOUT_VERSION, STORE_LAYOUTS, Entry, Plan
from ..planning.planner import make_plan
from ..planning.remainder import NWB1_ROOT
from ..progress import ProgressCallback, no_progress
from ..reading.attrs import normalize, normalize_attrs
from ..reading.legacy_tree import LegacyTree, join, open_hdf5
from ..reading.names import store_path as to_store_path
from ..reading.remote_source import source_ref
from ..urls import is_url
from .report import MISMATCH, MISSING, UNACCOUNTED, UNEXPECTED, Check, ValidationReport
from .store_check import check_store_only, dims_of, members, open_store, store_target
from .values import SourceReader, compare_values

XARRAY_ATTRS = ("_ARRAY_DIMENSIONS", "coordinates")  # written by xarray itself, not by the plan
PROVENANCE_TEXT = ("nwb_version", "identifier", "session_description")


def validate(src: str | os.PathLike[str], store: str | os.PathLike[str] | None = None, *,
             profile: str | None = None, storage_options: Mapping[str, Any] | None = None,
             progress: ProgressCallback = no_progress) -> ValidationReport:
    """Compare ``store`` with its source ``src``; with one argument, check the store alone (digests, layout).

    Either may be an fsspec URL (``storage_options`` go to its filesystem); a remote store without its
    root document (an interrupted conversion) is refused with :class:`StoreError`.

    >>> report = validate("570014520.nwb", "570014520.zarr")   # doctest: +SKIP
    >>> report.ok, report.failures[:1]                           # doctest: +SKIP
    (True, [])
    >>> validate("570014520.zarr").ok                          # store only  # doctest: +SKIP
    True
    >>> validate("s3://bucket/570014520.zarr", storage_options={"anon": True}).ok  # doctest: +SKIP
    True
    """
    if store is None:
        store_checks, _ = check_store_only(src, storage_options=storage_options, progress=progress)
        return ValidationReport(mode="store", source=None, store=str(src), checks=store_checks)
    src_path = source_ref(src, storage_options=storage_options)
    store_path: Any = store_target(store, storage_options=storage_options)
    store_name = str(store) if is_url(store) or not isinstance(store_path, Path) else str(store_path)
    root = open_store(store, storage_options=storage_options)  # an unreadable store is said before any work
    # The store-only checks (digests: store reads and hashing, which release the GIL) overlap the value
    # comparison, whose plain h5py reads of the source hold it: a second core at work (benchmarks/targets.py).
    pool = ThreadPoolExecutor(1, thread_name_prefix="nwb1zarr-digests")
    pending = pool.submit(check_store_only, store, storage_options=storage_options)
    try:
        report = _full_report(src_path, store_path, store_name, root, profile=profile, progress=progress)
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    store_checks, _ = pending.result()
    pool.shutdown()
    digested = sum(c.kind == "digest" for c in store_checks)
    progress("digest", digested, digested)
    report.checks.extend(store_checks)
    return report


def _full_report(src_path: Any, store_path: Any, store_name: str, root: zarr.Group, *, profile: str | None,
                 progress: ProgressCallback) -> ValidationReport:
    with LegacyTree.open(src_path) as tree:
        recorded = root.attrs.get("nwb1zarr_profile")
        layout = root.attrs.get("nwb1zarr_store_layout")  # an older layout is validated as it was written
        plan = make_plan(tree, profile=profile or (recorded if isinstance(recorded, str) else None),
                         layout=layout if layout in STORE_LAYOUTS else STORE_LAYOUT_VERSION)
    progress("validate", 0, len(plan.entries))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            dt = xr.open_datatree(store_path, engine="zarr", consolidated=False, chunks=None, cache=False)
    except Exception as exc:  # anything xarray cannot open is an unreadable store
        raise StoreError(f"xarray cannot open the store: {type(exc).__name__}: {exc}", file=store_name) from exc
    report = ValidationReport(mode="full", source=str(src_path), store=store_name)
    if plan.problems:
        report.notes.extend(f"plan: {p}" for p in plan.problems)
    try:
        with _open_source(src_path) as h5:
            checker = _FullCheck(plan, root, dt, SourceReader(h5), progress)
            checker.values_and_attrs()
            checker.coverage(h5)
            checker.root_attrs(src_path, h5)
            report.checks.extend(checker.checks)
            report.notes.extend(checker.notes)
    finally:
        dt.close()
    return report


def _open_source(path: Any) -> h5py.File:
    if not isinstance(path, Path):  # a URL: the same block-cached reader as the converter's
        return open_hdf5(path)
    try:
        return h5py.File(path, "r")
    except OSError as exc:
        raise InputError(f"cannot open as HDF5: {exc}", file=str(path)) from exc


def canonical(value: Any) -> str:
    """Attribute values compare equal only when their JSON is identical (1, 1.0 and True differ)."""
    return json.dumps(value, sort_keys=True, default=str)


class _FullCheck:
    def __init__(self, plan: Plan, root: zarr.Group, dt: xr.DataTree, reader: SourceReader,
                 progress: ProgressCallback) -> None:
        self.plan, self.root, self.dt, self.reader, self.progress = plan, root, dt, reader, progress
        self.groups, self.arrays = members(root)
        self.checks: list[Check] = []
        self.notes: list[str] = []
        self.entries = {e.store_path: e for e in plan.entries}

    # ---- values and attributes of every planned array and group ---------------------------------------
    def values_and_attrs(self) -> None:
        for i, entry in enumerate(self.plan.entries):
            self.progress("validate", i, len(self.plan.entries))
            variable = self._variable(entry)
            if variable is None:
                self.checks.append(Check("values", entry.store_path, entry.sources[0] if entry.sources else None,
                                         MISSING, detail="planned array is not in the store"))
                continue
            chunks = tuple(self.arrays[entry.store_path].chunks)
            self.checks.append(compare_values(entry, variable, chunks, self.reader))
            for alias in entry.aliases:
                check = compare_values(entry, variable, chunks, self.reader, source=alias)
                check.detail = (check.detail + "; " if check.detail else "") + "alias: must equal the stored array"
                self.checks.append(check)
            self._role(entry)
            self._attrs(entry.store_path, dict(self.arrays[entry.store_path].attrs), entry.attrs,
                        entry.sources[0] if entry.sources else None)
        self.progress("validate", len(self.plan.entries), len(self.plan.entries))
        for path, expected in sorted(self.plan.groups.items()):
            if path == "/":
                continue
            if path not in self.groups:
                self.checks.append(Check("coverage", path, expected.get(sa.PATH), MISSING,
                                         detail="planned group is not in the store"))
                continue
            self._attrs(path, dict(self.groups[path].attrs), expected, expected.get(sa.PATH))
        explained_groups = set(self.plan.groups) | {_parent(p) for p in self.entries}
        explained_groups |= {a for p in explained_groups for a in _ancestors(p)}
        self.checks.extend(Check("coverage", path, status=UNEXPECTED, detail="store array explained by no plan entry")
                           for path in sorted(set(self.arrays) - set(self.entries)))
        self.checks.extend(Check("coverage", path, status=UNEXPECTED, detail="store group explained by no plan entry")
                           for path in sorted(set(self.groups) - explained_groups))

    def _variable(self, entry: Entry) -> Any:
        if entry.store_path not in self.arrays:
            return None
        try:
            return self.dt[entry.group].to_dataset(inherit=False)[entry.name].variable
        except KeyError:
            return None

    def _role(self, entry: Entry) -> None:
        ds = self.dt[entry.group].to_dataset(inherit=False)
        is_coord = entry.name in ds.coords
        dims = dims_of(self.arrays[entry.store_path])
        if dims != list(entry.dims):
            self.checks.append(Check("values", entry.store_path, status=MISMATCH,
                                     detail=f"stored with dims {dims}; plan says {list(entry.dims)}"))
        if is_coord != (entry.role == "coord"):
            self.notes.append(f"{entry.store_path} opens in xarray as a {'coordinate' if is_coord else 'data variable'}"
                              f"; the plan says {entry.role} (values are compared all the same)")

    def _attrs(self, store_path: str, actual: dict[str, Any], expected: dict[str, Any], source: str | None) -> None:
        actual = {k: v for k, v in actual.items() if k not in XARRAY_ATTRS}
        self.checks.append(attrs_check(store_path, source, actual, expected))

    # ---- coverage: every source object accounted for, and present where its account says ----------------
    def coverage(self, h5: h5py.File) -> None:
        found = walk_source(h5, is_link=lambda p: getattr(self.plan.accounting.get(p), "status", None) == "link")
        by_address: dict[Any, list[str]] = {}
        for path, info in found.items():
            if "address" in info:
                by_address.setdefault(info["address"], []).append(path)
        for path, info in found.items():
            account = self.plan.accounting.get(path)
            check = Check("coverage", None, path)
            if account is None:
                check.status, check.detail = UNACCOUNTED, f"{info['kind']} with no account in the plan"
            elif info["kind"] in ("soft_link", "external_link") or account.status == "link":
                same = [p for p in by_address.get(info.get("address"), []) if p != path]
                self._link_recorded(check, path, info, same)
            elif account.status == "skipped":
                check.detail = f"skipped: {account.detail}"
                if not account.detail:
                    check.status, check.detail = UNACCOUNTED, "skipped without a reason"
            else:
                self._object_stored(check, path, info, account.store_paths)
            self.checks.append(check)
        for path in sorted(set(self.plan.accounting) - set(found)):
            self.checks.append(Check("coverage", None, path, UNEXPECTED,
                                     detail="the plan accounts for an object the source does not have"))

    def _link_recorded(self, check: Check, path: str, info: dict[str, Any], same_object: list[str]) -> None:
        parent, name = _parent(path), path.rsplit("/", 1)[1]
        group_path = to_store_path(parent, prefix=NWB1_ROOT)
        check.store_path = group_path
        links = self.groups[group_path].attrs.get(sa.LINKS, {}) if group_path in self.groups else None
        recorded = links.get(name) if isinstance(links, dict) else None
        kind = info["kind"]
        if kind in ("soft_link", "external_link"):
            want = sa.link_value(kind, target=info["target"], file=info.get("file"))
        else:
            kind = "hard_link"
            target = sa.hard_link_target(recorded)
            want = recorded if target in same_object else sa.link_value(kind, target=f"<one of {same_object}>")
        if recorded != want:
            check.status = MISSING if recorded is None else MISMATCH
            check.detail = f"{kind} not recorded in nwb1_links of {group_path}"
            check.first_mismatch = {"attribute": f"{sa.LINKS}/{name}", "store": recorded, "expected": want}
        else:
            check.detail = f"{kind} recorded"

    def _object_stored(self, check: Check, path: str, info: dict[str, Any], store_paths: tuple[str, ...]) -> None:
        missing = [p for p in store_paths if p not in self.arrays and p not in self.groups]
        check.store_path = store_paths[0] if store_paths else None
        if not store_paths or missing:
            check.status = MISSING
            check.store_path = missing[0] if missing else None
            check.detail = f"{info['kind']} accounted as stored at {list(store_paths)}, missing from the store"
            return
        want = info["attrs"]
        for sp in store_paths:
            node = self.arrays.get(sp) or self.groups[sp]
            attrs = dict(node.attrs)
            if info["kind"] == "group" and sp in self.groups:  # a packed group (layout 2): its record, if any
                packed = attrs.get(sa.PACKED)
                records = [r for r in packed.values() if isinstance(r, dict) and r.get(sa.PATH) == path] \
                    if isinstance(packed, dict) else []
                attrs = records[0] if records else attrs
            got = _source_attrs_at(attrs, self.entries.get(sp), path)
            if got is None or canonical(got) != canonical(want):
                name = _first_differing_key(got or {}, want)
                check.status, check.store_path = MISMATCH, sp
                check.detail = f"source attributes of this {info['kind']} not stored exactly"
                check.first_mismatch = {"attribute": f"{sa.SOURCE_ATTR_PREFIX}{name}", "store": (got or {}).get(name),
                                        "expected": want.get(name)}
                return
        check.detail = f"{info['kind']} stored with {len(want)} attributes"

    # ---- root attributes: metadata re-derived from the source, provenance --------------------------------
    def root_attrs(self, src: Any, h5: h5py.File) -> None:
        expected: dict[str, Any] = {**self.plan.root_attrs, **self.plan.groups.get("/", {})}
        expected.update(nwb1zarr_profile=self.plan.profile, nwb1zarr_store_layout=self.plan.layout_version,
                        source_size=src.stat().st_size, source_sha256=file_sha256(src),
                        nwb1zarr_counts=self.plan.counts(), nwb1zarr_problems=list(self.plan.problems),
                        nwb1zarr_skipped={p: a.detail for p, a in self.plan.accounting.items()
                                          if a.status == "skipped"})
        for key in PROVENANCE_TEXT:
            obj = h5.get(key)
            if isinstance(obj, h5py.Dataset) and h5py.check_string_dtype(obj.dtype) is not None:
                value = normalize(obj[()])
                value = value[0] if isinstance(value, list) and len(value) == 1 else value
                if isinstance(value, str):
                    expected[key] = value
        # convert(extra_attrs=...) provenance from outside the source (an AllenSDK cache record) is listed in
        # nwb1zarr_extra_attrs and not compared; a listed name that the plan expects still shows as missing.
        listed = self.root.attrs.get("nwb1zarr_extra_attrs")
        external = {k for k in listed if isinstance(k, str)} if isinstance(listed, list) else set()
        actual = {k: v for k, v in self.root.attrs.items()
                  if k not in ("nwb1zarr_version", "source_file", "nwb1zarr_digests", "nwb1zarr_digest_algorithm",
                               "nwb1zarr_extra_attrs", *external)}
        check = attrs_check("/", None, actual, expected)
        check.kind = "root"
        self.checks.append(check)


def attrs_check(store_path: str, source: str | None, actual: dict[str, Any], expected: dict[str, Any]) -> Check:
    """One attrs check: every key equal (as JSON), none missing, none extra."""
    check = Check("attrs", store_path, source, elements=len(expected))
    want = json.loads(json.dumps(expected, default=str))
    if canonical(actual) != canonical(want):
        name = _first_differing_key(actual, want)
        check.status = MISMATCH
        check.detail = "attribute missing" if name not in actual else (
            "unexpected attribute" if name not in want else "attribute differs")
        check.first_mismatch = {"attribute": name, "store": actual.get(name), "expected": want.get(name)}
    return check


def _first_differing_key(actual: dict[str, Any], expected: dict[str, Any]) -> str:
    for key in sorted(set(actual) | set(expected)):
        if key not in actual or key not in expected or canonical(actual[key]) != canonical(expected[key]):
            return key
    return ""


def _source_attrs_at(store_attrs: dict[str, Any], entry: Entry | None, source: str) -> dict[str, Any] | None:
    """The attributes of source object ``source`` as a store node holds them (None when it cannot hold them)."""
    if entry is not None and entry.combine is not None and source in entry.sources:
        items = store_attrs.get(sa.ITEM_ATTRS)
        if items is None:
            return {}  # no item had attributes
        index = entry.sources.index(source)
        return items[index] if isinstance(items, list) and index < len(items) else None
    return sa.from_source_attrs(store_attrs)


def walk_source(h5: h5py.File, *, is_link: Any = lambda path: False) -> dict[str, dict[str, Any]]:
    """Every object of the file by path, found with h5py independently of the converter.

    Each entry has ``kind`` (group, dataset, soft_link, external_link), and ``attrs`` and ``address``
    for groups and datasets (several paths share an address when hard-linked). A group is not
    descended into when ``is_link(path)`` says the plan treats that path as the hard link.
    """
    found: dict[str, dict[str, Any]] = {}
    descended: set[Any] = set()

    def address(obj: Any) -> Any:
        info = h5py.h5o.get_info(obj.id)
        return (info.fileno, info.addr)

    def visit(group: h5py.Group, path: str) -> None:
        descended.add(address(group))
        for name in sorted(group.keys()):
            child = join(path, name)
            link = group.get(name, getlink=True)
            if isinstance(link, h5py.SoftLink):
                found[child] = {"kind": "soft_link", "target": link.path}
                continue
            if isinstance(link, h5py.ExternalLink):
                found[child] = {"kind": "external_link", "target": link.path, "file": link.filename}
                continue
            obj = group[name]
            kind = "group" if isinstance(obj, h5py.Group) else "dataset"
            found[child] = {"kind": kind, "attrs": normalize_attrs(obj.attrs, file=h5), "address": address(obj)}
            if kind == "group" and not is_link(child) and address(obj) not in descended:
                visit(obj, child)

    root = h5["/"]
    found["/"] = {"kind": "group", "attrs": normalize_attrs(root.attrs, file=h5), "address": address(root)}
    visit(root, "/")
    return found


def _parent(path: str) -> str:
    return path.rsplit("/", 1)[0] or "/"


def _ancestors(path: str) -> list[str]:
    out = []
    while path != "/":
        path = _parent(path)
        out.append(path)
    return out
