"""convert(..., virtual=True): the labelled tree in an Icechunk repository, plain copies as references into SRC.

The same pipeline as an ordinary conversion (plan, lazy tree, digests and the source's sha256 computed in the
write pass, the same root attributes), with two writers on one Icechunk session: the materialised variables
with xarray (the encoding of :func:`nwb1zarr.writing.to_zarr.encoding_for`), the virtual ones as VirtualiZarr
``ManifestArray`` chunk references.
Every variable's ``coordinates`` attribute and each group's are then set to what xarray writes for the whole
tree, so the repository opens as the same DataTree. Nothing is committed until everything is written: a local
repository appears at DST only then (written beside it and renamed, as ordinary stores are); on S3 a run that dies
leaves a repository without a committed conversion, which opening and validation refuse ("incomplete virtual
store") and the next run replaces.
"""

from __future__ import annotations

import os
import time
import warnings
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import dask
import xarray as xr

from ..convert import (
    ConversionReport,
    _checked_extra_attrs,
    _extra_root_attrs,
    default_destination,
    strict_plan,
    written_root_attrs,
)
from ..digests import file_sha256, lazy_digest
from ..errors import DestinationError, InputError, Nwb1ZarrError
from ..planning.model import Entry, Plan
from ..progress import ProgressCallback, no_progress
from ..reading.legacy_tree import LegacyTree
from ..reading.remote_source import source_ref
from ..urls import StorageOptions, is_remote, local_path, protocol_of, url_name
from ..writing.build import build_tree
from ..writing.provenance import provenance
from ..writing.to_zarr import encoding_for, write_threads
from .eligible import Layout, entry_layout
from .manifests import chunk_table

VIRTUAL = "virtual"


@dataclass
class VirtualConversionReport(ConversionReport):
    """A :class:`~nwb1zarr.convert.ConversionReport` plus, for every store array, ``"virtual"`` or the reason it
    was materialised."""

    array_kinds: dict[str, str] = field(default_factory=dict)

    @property
    def virtual_arrays(self) -> list[str]:
        return sorted(p for p, kind in self.array_kinds.items() if kind == VIRTUAL)


@dataclass(frozen=True)
class _Reference:
    entry: Entry
    layout: Layout
    tables: list[Any]


def default_virtual_destination(src: str | os.PathLike[str]) -> Path:
    """SRC's name with ``.icechunk`` ('570014520.nwb' -> '570014520.icechunk'), in the current directory for a URL.

    >>> default_virtual_destination("s3://bucket/x/570014520.nwb")
    PosixPath('570014520.icechunk')
    """
    return default_destination(src).with_suffix(".icechunk")


def references(tree: LegacyTree, plan: Plan) -> tuple[dict[str, _Reference], dict[str, str]]:
    """The entries to store as references (by store path), and for every entry ``"virtual"`` or why not."""
    refs: dict[str, _Reference] = {}
    kinds: dict[str, str] = {}
    for entry in plan.entries:
        try:
            datasets = [tree.dataset(p) for p in entry.sources]
        except (Nwb1ZarrError, OSError, KeyError, RuntimeError, ValueError, TypeError) as exc:
            # a dataset h5py cannot open: materialised, where the ordinary read path reports it properly
            kinds[entry.store_path] = f"source not readable ({type(exc).__name__})"
            continue
        layout = entry_layout(datasets, entry)
        if isinstance(layout, str):
            kinds[entry.store_path] = layout
            continue
        tables = [chunk_table(d) for d in datasets]
        if any(t is None for t in tables):
            kinds[entry.store_path] = "unallocated chunks or skipped filters"
            continue
        refs[entry.store_path] = _Reference(entry, layout, tables)
        kinds[entry.store_path] = VIRTUAL
    return refs, kinds


def convert_virtual(src: str | os.PathLike[str], dst: str | os.PathLike[str] | None = None, *,
                    overwrite: bool = False, zarr_format: int = 3, profile: str | None = None,
                    validate: bool = False, strict: bool = False, storage_options: Mapping[str, Any] | None = None,
                    progress: ProgressCallback = no_progress,
                    extra_attrs: dict[str, Any] | None = None) -> VirtualConversionReport:
    """Convert ``src`` into an Icechunk repository at ``dst`` (a folder or ``s3://`` URL; default SRC's name with
    ``.icechunk``) whose plain-copy arrays reference SRC's chunks. Arguments as :func:`nwb1zarr.convert`; Zarr
    format 3 only.

    >>> report = convert_virtual("570014520.nwb", "570014520.icechunk")   # doctest: +SKIP
    >>> report.virtual_arrays[:2]                                          # doctest: +SKIP
    ['/nwb1/acquisition/timeseries/2p_image_series/timestamps', '/ophys/dff']
    """
    from .repository import SUPPORTED, claim_local, claim_remote_repository, icechunk_module

    icechunk_module()  # a missing extra is said before any work
    if zarr_format != 3:
        raise ValueError(f"virtual stores are Zarr format 3 (Icechunk); got zarr_format={zarr_format}")
    started = time.perf_counter()
    if is_remote(src) and protocol_of(str(src)) not in SUPPORTED:
        raise InputError(f"a virtual store references a local file or an s3:// object; {protocol_of(str(src))}:// "
                         "sources are not supported (convert without --virtual)", file=str(src))
    if dst is not None and is_remote(dst) and protocol_of(str(dst)) not in SUPPORTED:
        raise DestinationError(f"a virtual store lives in a local folder or under s3://; {protocol_of(str(dst))}:// "
                               "is not supported", file=str(dst))
    src_path = source_ref(src, storage_options=storage_options)
    remote_dst = dst is not None and is_remote(dst)
    dst_path: Any = str(dst) if remote_dst else Path(local_path(dst)) if dst is not None else \
        default_virtual_destination(src)
    extra_attrs = _checked_extra_attrs(extra_attrs)
    with LegacyTree.open(src_path) as tree:
        plan = strict_plan(tree, profile=profile, strict=strict, progress=progress)
        refs, kinds = references(tree, plan)
        claimed = claim_remote_repository(dst_path, overwrite=overwrite, storage_options=storage_options) \
            if remote_dst else claim_local(dst_path, overwrite=overwrite)
        with claimed as target:
            digests = _write(tree, plan, refs, target, src_path, storage_options=storage_options,
                             extra_attrs=extra_attrs, progress=progress)
    report = VirtualConversionReport(
        source=str(src_path), destination=str(dst_path), profile=plan.profile, profile_note=plan.profile_note,
        counts=plan.counts(), skipped={p: a.detail for p, a in plan.accounting.items() if a.status == "skipped"},
        problems=list(plan.problems), arrays=len(digests), bytes_in=src_path.stat().st_size,
        bytes_out=_size(dst_path, storage_options), seconds=time.perf_counter() - started,
        accounting={p: asdict(a) for p, a in plan.accounting.items()}, array_kinds=kinds)
    if validate:
        from ..validation.validate import validate as run_validation

        report.validation = run_validation(src_path, dst_path, storage_options=storage_options, progress=progress)
    return report


def _write(tree: LegacyTree, plan: Plan, refs: dict[str, _Reference], target: Any, src_path: Any, *,
           storage_options: StorageOptions | None, extra_attrs: dict[str, Any],
           progress: ProgressCallback) -> dict[str, str]:
    """Create the repository at ``target``, write everything, commit; the digests recorded."""
    import zarr

    from .repository import authorization, container_prefix, icechunk_module, repository_config, storage

    icechunk = icechunk_module()
    repo = icechunk.Repository.create(
        storage(target, storage_options=storage_options, error=DestinationError),
        config=repository_config(src_path, storage_options=storage_options),
        authorize_virtual_chunk_access=authorization([container_prefix(src_path)], storage_options=storage_options))
    session = repo.writable_session("main")
    store = session.store
    dt = build_tree(tree, plan, root_attrs=provenance(tree, plan))
    extra_root = _extra_root_attrs(extra_attrs, dt.attrs)  # refused before anything is written
    datasets = {node.path: node.to_dataset(inherit=False) for node in dt.subtree}
    digests = {f"{path.rstrip('/')}/{name}": lazy_digest(var.data)
               for path, ds in datasets.items() for name, var in ds.variables.items()}
    extra = {"digests": digests, "sha256": dask.delayed(file_sha256)(src_path)}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # numcodecs codecs "not in the Zarr 3 specification", icechunk notes
        computed = _write_materialised(_without(datasets, refs), store, extra=extra, progress=progress)
        _write_references(store, refs, datasets, src_path, progress=progress)
        root = zarr.open_group(store, mode="r+")
        _set_coordinates(root, datasets)
        root.attrs.update(written_root_attrs(plan, computed, extra_root))
    session.commit(f"nwb1zarr: virtual store of {url_name(str(src_path)) if is_remote(src_path) else src_path.name}"
                   f" ({len(refs)} arrays referenced)")
    return dict(computed["digests"])


def _write_materialised(dt: xr.DataTree, store: Any, *, extra: dict[str, Any], progress: ProgressCallback
                        ) -> dict[str, Any]:
    """Write ``dt`` (the ordinary chunks) with xarray and compute ``extra`` in the same dask pass.

    Not :func:`nwb1zarr.writing.to_zarr.write_zarr`: its concurrent writer may put a chunk before its array's metadata,
    which an Icechunk session refuses; xarray writes every node's metadata first. Same encoding, same threads.
    """
    from concurrent.futures import ThreadPoolExecutor

    from ..progress import DaskProgress, dask_array_sizes

    with dask.config.set(array_optimize=False):  # as write_zarr: one read of each source chunk for write + digest
        delayed = dt.to_zarr(store, mode="w-", encoding=encoding_for(dt, zarr_format=3, chunk_separator="/"),
                             consolidated=False, compute=False, zarr_format=3)
    pool = ThreadPoolExecutor(write_threads(), thread_name_prefix="nwb1zarr-virtual")
    try:
        with DaskProgress("write", progress, sizes=dask_array_sizes(dt)):
            _, computed = dask.compute(delayed, extra, scheduler="threads", pool=pool, optimize_graph=False)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    return dict(computed)


def _without(datasets: dict[str, xr.Dataset], refs: dict[str, _Reference]) -> xr.DataTree:
    """The tree without its referenced variables (those are written as references)."""
    out = {}
    for path, ds in datasets.items():
        prefix = path.rstrip("/")
        drop = [name for name in ds.variables if f"{prefix}/{name}" in refs]
        out[path] = ds.drop_vars(drop)
    return xr.DataTree.from_dict(out)


def _write_references(store: Any, refs: dict[str, _Reference], datasets: dict[str, xr.Dataset], src_path: Any, *,
                      progress: ProgressCallback) -> None:
    import zarr
    from virtualizarr.writers.icechunk import write_virtual_variable_to_icechunk

    from .manifests import manifest_array
    from .repository import source_url

    url = source_url(src_path)
    for i, (_, ref) in enumerate(sorted(refs.items())):
        progress("references", i, len(refs))
        entry = ref.entry
        variable = datasets[entry.group][entry.name].variable
        array = manifest_array(ref.tables, ref.layout, url=url, dims=tuple(variable.dims),
                               stacked=entry.combine == "stack")
        group = zarr.open_group(store, path=entry.group.strip("/"), mode="r+")
        virtual = xr.Variable(variable.dims, array, attrs=variable.attrs)
        write_virtual_variable_to_icechunk(store=store, group=group, name=entry.name, var=virtual)
    progress("references", len(refs), len(refs))


def _set_coordinates(root: Any, datasets: dict[str, xr.Dataset]) -> None:
    """Every array's and group's ``coordinates`` attribute as xarray writes it for the whole dataset of its group
    (the materialised writer saw only part of each group)."""
    from xarray.conventions import encode_dataset_coordinates

    for path, ds in datasets.items():
        variables, attrs = encode_dataset_coordinates(ds)
        group = root if path == "/" else root[path.strip("/")]
        _set_attr(group, "coordinates", attrs.get("coordinates"))
        for name, var in variables.items():
            _set_attr(group[name], "coordinates", var.attrs.get("coordinates"))


def _set_attr(node: Any, key: str, value: Any) -> None:
    if value is None:
        if key in node.attrs:
            del node.attrs[key]
    elif node.attrs.get(key) != value:
        node.attrs[key] = value


def _size(dst: Any, storage_options: StorageOptions | None) -> int:
    if not is_remote(dst):
        return sum(f.stat().st_size for f in Path(dst).rglob("*") if f.is_file())
    from ..urls import filesystem

    fs, path = filesystem(str(dst), storage_options=storage_options)
    try:
        return int(fs.du(path))
    except Exception:  # a size is a nicety
        return 0
