"""convert(): source NWB 1.0 file -> complete Zarr store, with a report of where everything went."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import dask

from .digests import DIGEST_ALGORITHM, file_sha256, lazy_digest
from .errors import SourceDataError
from .planning.model import Plan
from .planning.planner import make_plan
from .progress import ProgressCallback, no_progress
from .reading.legacy_tree import LegacyTree
from .reading.remote_source import source_ref
from .sinks.claim_dst import claim
from .sinks.claim_remote import claim_remote
from .urls import is_remote, local_path, url_name
from .writing.build import build_tree
from .writing.provenance import provenance
from .writing.to_zarr import ZarrWriter

# Numeric arrays up to this size are read at once rather than through dask: a real session has hundreds
# of tiny datasets, each of which costs more as a dask graph than as a read.
EAGER_BYTES = 8 * 1024 * 1024


@dataclass
class ConversionReport:
    """What convert() did: the accounting of every source object, problems, sizes and timings."""

    source: str
    destination: str
    profile: str
    profile_note: str | None
    counts: dict[str, int]
    skipped: dict[str, str]
    problems: list[str]
    arrays: int
    bytes_in: int
    bytes_out: int
    seconds: float
    accounting: dict[str, dict[str, Any]] = field(repr=False, default_factory=dict)
    validation: Any = None

    @property
    def ok(self) -> bool:
        return self.validation is None or bool(getattr(self.validation, "ok", True))

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["validation"] = self.validation.to_dict() if hasattr(self.validation, "to_dict") else None
        return out


def default_destination(src: str | os.PathLike[str]) -> Path:
    """SRC with its suffix replaced by .zarr ('570014520.nwb' -> '570014520.zarr'); for a URL source, that
    name in the current directory ('s3://bucket/570014520.nwb' -> '570014520.zarr').

    >>> default_destination("s3://allen-brain-observatory/x/570014520.nwb")
    PosixPath('570014520.zarr')
    """
    if is_remote(src):
        return Path(url_name(str(src))).with_suffix(".zarr")
    return Path(local_path(src)).with_suffix(".zarr")


def convert(src: str | os.PathLike[str], dst: str | os.PathLike[str] | None = None, *,
            overwrite: bool = False, zarr_format: int = 3, profile: str | None = None,
            validate: bool = False, strict: bool = False, storage_options: Mapping[str, Any] | None = None,
            progress: ProgressCallback = no_progress, extra_attrs: dict[str, Any] | None = None,
            virtual: bool = False) -> ConversionReport:
    """Convert an NWB 1.0 file into a Zarr store that appears at ``dst`` only when complete.

    ``src`` and ``dst`` are paths or fsspec URLs (``s3://``, ``gs://``, ``memory://``, ...);
    ``storage_options`` go to the filesystem of each URL (credentials and endpoints otherwise come from
    the environment, e.g. ``AWS_ENDPOINT_URL``, ``AWS_PROFILE``). On an object store the root metadata
    document is written last (:mod:`nwb1zarr.sinks.claim_remote`).
    What cannot be mapped consistently is kept under ``/nwb1`` and listed in ``report.problems``;
    ``strict=True`` refuses such a file instead (:class:`SourceDataError`, nothing written).
    ``extra_attrs`` (JSON values; e.g. an AllenSDK cache record, see :mod:`nwb1zarr.reading.sources`) are added to the
    root attributes and their names listed in ``nwb1zarr_extra_attrs``: provenance from outside the source,
    which the validator leaves out of its comparison; they may not replace an attribute the store already has.
    ``virtual=True`` makes ``dst`` an Icechunk repository (default SRC's name with ``.icechunk``) in which plain
    copies are chunk references into ``src`` (:mod:`nwb1zarr.virtual`; needs ``nwb1zarr[virtual]``).

    >>> report = convert("570014520.nwb", overwrite=True)   # doctest: +SKIP
    >>> report.counts                                       # doctest: +SKIP
    {'kept': 1450, 'mapped': 2051, 'link': 620, 'skipped': 2}
    >>> convert("s3://bucket/570014520.nwb", "s3://bucket/570014520.zarr",
    ...         storage_options={"profile": "lab"})         # doctest: +SKIP
    """
    if virtual:  # an Icechunk repository whose plain copies reference SRC's chunks (nwb1zarr.virtual)
        from .virtual.convert_virtual import convert_virtual

        return convert_virtual(src, dst, overwrite=overwrite, zarr_format=zarr_format, profile=profile,
                               validate=validate, strict=strict, storage_options=storage_options, progress=progress,
                               extra_attrs=extra_attrs)
    started = time.perf_counter()
    src_path = source_ref(src, storage_options=storage_options)
    remote_dst = dst is not None and is_remote(dst)
    dst_path: Any = str(dst) if remote_dst else Path(local_path(dst)) if dst is not None else \
        default_destination(src)
    if zarr_format not in (2, 3):
        raise ValueError(f"zarr_format must be 2 or 3, got {zarr_format}")
    extra_attrs = _checked_extra_attrs(extra_attrs)
    with LegacyTree.open(src_path) as tree:
        plan = strict_plan(tree, profile=profile, strict=strict, progress=progress)
        claimed = claim_remote(dst_path, overwrite=overwrite, zarr_format=zarr_format,
                               storage_options=storage_options) if remote_dst else \
            claim(dst_path, overwrite=overwrite)
        with claimed as partial:
            dt = build_tree(tree, plan, root_attrs=provenance(tree, plan), eager_bytes=EAGER_BYTES)
            extra_root = _extra_root_attrs(extra_attrs, dt.attrs)  # refused before anything is written
            digests = {f"{node.path.rstrip('/')}/{name}": lazy_digest(var.data)
                       for node in dt.subtree for name, var in node.to_dataset(inherit=False).variables.items()}
            # The source's sha256 is one more task of the same pass, overlapping the copy.
            extra = {"digests": digests, "sha256": dask.delayed(file_sha256)(src_path)}
            writer = ZarrWriter(partial, zarr_format=zarr_format)
            computed = writer.write(dt, extra=extra, progress=progress)
            writer.finish(root_attrs=written_root_attrs(plan, computed, extra_root))
    report = ConversionReport(
        source=str(src_path), destination=str(dst_path), profile=plan.profile, profile_note=plan.profile_note,
        counts=plan.counts(), skipped={p: a.detail for p, a in plan.accounting.items() if a.status == "skipped"},
        problems=list(plan.problems), arrays=len(computed["digests"]), bytes_in=src_path.stat().st_size,
        bytes_out=partial.bytes_written if remote_dst else _tree_size(dst_path),
        seconds=time.perf_counter() - started, accounting={p: asdict(a) for p, a in plan.accounting.items()})
    if validate:
        from .validation.validate import validate as run_validation

        report.validation = run_validation(src_path, dst_path, storage_options=storage_options, progress=progress)
    return report


EXTRA_ATTRS_KEY = "nwb1zarr_extra_attrs"


def _checked_extra_attrs(extra: dict[str, Any] | None) -> dict[str, Any]:
    if not extra:
        return {}
    if not all(isinstance(k, str) and k for k in extra):
        raise ValueError("extra_attrs keys must be non-empty strings")
    try:
        json.dumps(extra, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"extra_attrs must be JSON values: {exc}") from exc
    return dict(extra)


def _extra_root_attrs(extra: dict[str, Any], planned: Any) -> dict[str, Any]:
    """``extra`` plus the list of their names, refusing names the store's own root attributes use."""
    if not extra:
        return {}
    taken = sorted(k for k in extra if k in planned or k.startswith(("nwb1zarr_", "source_")))
    if taken:
        raise ValueError(f"extra_attrs may not replace root attributes of the store: {', '.join(taken)}")
    return {**extra, EXTRA_ATTRS_KEY: sorted(extra)}


def written_root_attrs(plan: Plan, computed: dict[str, Any], extra_root: dict[str, Any]) -> dict[str, Any]:
    """Root attributes known only after the write pass: source sha256, digests, and the plan's accounting."""
    return {
        "source_sha256": computed["sha256"],
        "nwb1zarr_digest_algorithm": DIGEST_ALGORITHM,
        "nwb1zarr_digests": dict(sorted(computed["digests"].items())),
        "nwb1zarr_counts": plan.counts(),
        "nwb1zarr_skipped": {p: a.detail for p, a in plan.accounting.items() if a.status == "skipped"},
        "nwb1zarr_problems": plan.problems,
        **extra_root,
    }


def strict_plan(tree: LegacyTree, *, profile: str | None, strict: bool, progress: ProgressCallback) -> Plan:
    """The plan of ``tree``; with ``strict``, a :class:`SourceDataError` when it has any problem."""
    plan = make_plan(tree, profile=profile)
    progress("plan", 1, 1)
    if strict and plan.problems:
        raise SourceDataError(f"strict: {len(plan.problems)} problem(s), nothing written; first: "
                              f"{plan.problems[0]} (without strict they are kept under /nwb1 and listed)",
                              file=str(tree.source))
    return plan


def _tree_size(path: Path) -> int:
    return sum(os.path.getsize(os.path.join(folder, name)) for folder, _, names in os.walk(path) for name in names)
