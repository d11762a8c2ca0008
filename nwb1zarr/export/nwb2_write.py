"""``to_nwb2``: a converted store (or an NWB 1.0 file, converted on the way) -> one NWB 2 file, written atomically.

The file is written under a temporary name beside OUT and renamed only when complete; what the export did not
map is listed in the file (``notes`` and the lab metadata's ``not_exported``) and in the returned report.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import DestinationError, InputError
from ..progress import ProgressCallback, no_progress, report
from .nwb2_behavior import add_behavior
from .nwb2_brain_observatory import Placement, add_motion, add_rois, add_traces
from .nwb2_mapping import target
from .nwb2_stimulus import add_stimuli

STEPS = ("open", "metadata", "rois", "traces", "behavior", "stimuli", "write")
"""The stages of ``export`` progress (then ``check``: one step)."""
RAW_MOVIE_NOTE = ("External data: the NWB 1.0 source keeps these outside itself (the raw 2-photon movie and the "
                  "motion-corrected movie); they stay external and are not in this file: {links}.")


@dataclass
class ExportReport:
    """What ``to_nwb2`` did: the file written, what was not exported (with reasons), and the checks' findings."""

    source: str
    destination: Path
    seconds: float = 0.0
    bytes_out: int = 0
    exported: list[str] = field(default_factory=list)
    not_exported: list[str] = field(default_factory=list)
    findings: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when no check found an error (pynwb warnings, schema errors, error-level nwbinspector messages)."""
        return not any(f["error"] for f in self.findings)

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "source": self.source, "destination": str(self.destination),
                "seconds": self.seconds, "bytes_out": self.bytes_out, "exported": self.exported,
                "not_exported": self.not_exported, "findings": self.findings}


def is_store(src: str | os.PathLike[str]) -> bool:
    """True for a Zarr store (a directory with zarr.json / .zgroup, or a URL ending in .zarr)."""
    text = str(src)
    if "://" in text:
        return text.rstrip("/").endswith(".zarr")
    path = Path(src)
    return path.is_dir() and ((path / "zarr.json").exists() or (path / ".zgroup").exists())


@contextlib.contextmanager
def _store_for(src: str | os.PathLike[str], progress: ProgressCallback) -> Iterator[Any]:
    if is_store(src):
        yield src
        return
    from ..convert import convert

    with tempfile.TemporaryDirectory(prefix="nwb1zarr-nwb2-") as folder:
        store = Path(folder) / "session.zarr"
        convert(src, store, progress=progress)
        yield store


def _out_path(out: str | os.PathLike[str], *, overwrite: bool) -> Path:
    path = Path(out)
    if path.suffix.lower() != ".nwb":
        raise InputError("expected an output file name ending in .nwb", file=str(path))
    if path.exists() and not overwrite:
        raise DestinationError("destination exists; pass --overwrite (overwrite=True) to replace it", file=str(path))
    if not path.parent.is_dir():
        raise DestinationError(f"directory {path.parent} does not exist", file=str(path))
    if not os.access(path.parent, os.W_OK):
        raise DestinationError(f"directory {path.parent} is not writable", file=str(path))
    return path


def to_nwb2(src: str | os.PathLike[str], out: str | os.PathLike[str], *, overwrite: bool = False,
            check: bool = True, progress: ProgressCallback = no_progress) -> ExportReport:
    """Write SRC (a converted store, or an NWB 1.0 file converted on the way) as the NWB 2 file OUT.

    ``check`` reads the result back with pynwb and runs pynwb's validator and nwbinspector (``report.findings``).

    >>> report = nwb1zarr.to_nwb2("570014520.zarr", "570014520.nwb2.nwb")   # doctest: +SKIP
    >>> report.not_exported[:1], report.ok                                   # doctest: +SKIP
    """
    started = time.perf_counter()
    path = _out_path(out, overwrite=overwrite)
    result = ExportReport(source=str(src), destination=path)
    partial = path.with_name(f".{path.stem}.partial-{os.getpid()}.nwb")
    try:
        with _store_for(src, progress) as store:
            _write(store, partial, result, progress)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    result.bytes_out = path.stat().st_size
    if check:
        from .nwb2_checks import run_checks

        report(progress, "check", 0, 1, unit="steps")
        result.findings = run_checks(path)
        report(progress, "check", 1, 1, unit="steps")
    result.seconds = time.perf_counter() - started
    return result


def _write(store: Any, partial: Path, result: ExportReport, progress: ProgressCallback) -> None:
    import pynwb
    import xarray as xr

    from .. import __name__ as package
    from . import nwb2_session as session

    def step(name: str) -> None:
        report(progress, "export", STEPS.index(name), len(STEPS), unit="steps")

    step("open")
    try:
        tree = xr.open_datatree(store, engine="zarr")
    except (OSError, ValueError, KeyError) as exc:
        raise InputError(f"not a readable store ({type(exc).__name__}: {exc})", file=str(store)) from exc
    attrs = dict(tree.attrs)
    profile = attrs.get("nwb1zarr_profile")
    if profile is None:
        raise InputError("not an nwb1zarr store (no nwb1zarr_profile attribute)", file=str(store))
    placement = Placement()
    generic = profile != "brain_observatory_ophys"
    step("metadata")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        nwbfile = session.nwb_file(attrs, zone="UTC" if generic else session.ALLEN_ZONE, notes=None, tree=tree)
    if generic:
        from .nwb2_generic import add_timeseries

        if session.general(tree, "subject/subject_id") is not None:
            nwbfile.subject = session.subject(attrs, tree)
        add_timeseries(nwbfile, tree, placement)
    else:
        nwbfile.subject = session.subject(attrs, tree)
        plane = session.imaging_plane(nwbfile, attrs, tree)
        step("rois")
        if "ophys" in tree.children:
            module, table = add_rois(nwbfile, plane, tree, placement)
            step("traces")
            add_traces(module, table, tree, placement)
            add_motion(module, tree, placement)
        step("behavior")
        add_behavior(nwbfile, tree, placement)
        step("stimuli")
        add_stimuli(nwbfile, tree, placement)
    result.exported = sorted(placement.placed)
    result.not_exported = not_exported(tree, placement, profile="generic" if generic else "brain_observatory")
    links = external_data(tree)
    notes = [f"Exported by nwb1zarr from {attrs.get('source_file')} (NWB 1.0, sha256 "
             f"{attrs.get('source_sha256')}); session_start_time had no time zone in the source: "
             f"{'UTC' if generic else session.ALLEN_ZONE} assumed."]
    if links:
        notes.append(RAW_MOVIE_NOTE.format(links="; ".join(links)))
    notes.append(f"Not exported ({len(result.not_exported)}):")
    notes.extend(result.not_exported)
    nwbfile.notes = "\n".join(notes)
    if not generic:
        from importlib.metadata import version

        nwbfile.add_lab_meta_data(session.lab_metadata(attrs, not_exported=result.not_exported,
                                                       external=links, version=version(package)))
    step("write")
    with pynwb.NWBHDF5IO(str(partial), mode="w") as io:
        io.write(nwbfile)
    tree.close()
    report(progress, "export", len(STEPS), len(STEPS), unit="steps")


def external_data(tree: Any) -> list[str]:
    """Source datasets the NWB 1.0 file keeps outside itself: external links (with their targets) and fields its
    ``extern_fields`` attribute declares external (in a copy of the file a placeholder may stand in for them)."""
    out = []
    for node in tree.subtree:
        if not node.path.startswith("/nwb1/"):
            continue
        source, links = node.path[len("/nwb1"):], dict(node.attrs.get("nwb1_links") or {})
        for name, where in sorted(links.items()):
            if str(where).startswith("external:"):
                out.append(f"{source}/{name} (external link to {str(where)[len('external:'):]})")
        for name in node.attrs.get("nwb1:extern_fields") or []:
            if not str(links.get(name, "")).startswith("external:"):
                out.append(f"{source}/{name} (declared external by extern_fields; this copy of the source holds "
                           "a placeholder there)")
    return out


def _skipped(attrs: dict[str, Any]) -> dict[str, str]:
    value = attrs.get("nwb1zarr_skipped") or {}
    if isinstance(value, str):
        import ast

        try:
            value = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            return {}
    return dict(value)


def not_exported(tree: Any, placement: Placement, *, profile: str) -> list[str]:
    """One line per store array not in the NWB 2 file (and per source object the store skipped), with why."""
    lines = []
    for node in tree.subtree:
        for name in node.to_dataset(inherit=False).variables:
            path = f"{node.path.rstrip('/')}/{name}"
            if path in placement.placed:
                continue
            if path.startswith("/nwb1/"):
                why = "an NWB 1.0 object the store keeps verbatim (the profile maps it nowhere)"
                if path in placement.reasons:
                    why += f"; {placement.reasons[path]}"
                elif path.startswith("/nwb1/general/"):
                    why += "; session metadata, used for the NWB 2 metadata where a field exists"
            else:
                rule = target(path, profile=profile)
                why = placement.reasons.get(path) or (rule.reason if rule is not None and rule.reason else "")
                why = why or ("its group is incomplete in this store" if rule is not None else "no NWB 2 mapping")
            lines.append(f"{path}: {why}")
    for path, why in sorted(_skipped(tree.attrs).items()):
        lines.append(f"{path} (source): skipped by the store: {why}")
    return lines
