"""``validate_nwb2``: prove an NWB 2 export holds exactly the NWB 1.0 source's values.

The plan is re-derived from the source; for each planned store path, ``schemas/nwb2_export.json`` names the NWB 2
dataset. Expected values are read from the source with h5py by :mod:`nwb1zarr.validation.values` (declared
transforms applied from their definitions, derivations recomputed), then the export's own named transforms
(:mod:`nwb1zarr.export.nwb2_transforms`) are applied; the NWB 2 file is read with plain h5py. Numbers are compared
as bit patterns (NaN positions, -0.0), after widening integers the way NWB 2 declares them (uint16 pixel
coordinates are uint32 in ``pixel_mask``); text after decoding. Memory stays at a few blocks.
"""

from __future__ import annotations

import os
from typing import Any

import h5py
import numpy as np

from ..errors import InputError, SourceDataError
from ..planning.chunking import choose_chunks
from ..planning.derivations import derive
from ..planning.model import Entry, Plan
from ..progress import ProgressCallback, no_progress, report
from ..validation.report import ERROR, MISMATCH, MISSING, UNACCOUNTED, Check, ValidationReport
from ..validation.values import SourceReader, _materialise, blocks, expected_values, first_difference, record_mismatch
from .nwb2_mapping import expand, fill, mapping, target
from .nwb2_transforms import apply, time_at_frame

PROFILES = {"brain_observatory_ophys": "brain_observatory", "generic_nwb1": "generic"}
BLOCK_BYTES = 32 * 1024 * 1024
NOTES_PATH = "/general/notes"


def validate_nwb2(src: str | os.PathLike[str], nwb2: str | os.PathLike[str], *,
                  progress: ProgressCallback = no_progress) -> ValidationReport:
    """Compare every mapped array and table of the NWB 2 file ``nwb2`` with the NWB 1.0 file ``src``.

    >>> report = nwb1zarr.validate_nwb2("570014520.nwb", "570014520.nwb2.nwb")   # doctest: +SKIP
    >>> report.ok, report.find(kind="rows", failed_only=False)[0].elements        # doctest: +SKIP
    """
    from ..planning.planner import plan as make_plan

    the_plan = make_plan(src)
    if not os.path.isfile(nwb2):
        raise InputError("no such file", file=str(nwb2))
    result = ValidationReport(mode="full", source=str(src), store=str(nwb2))
    try:
        out = h5py.File(nwb2, "r")
    except OSError as exc:
        raise InputError(f"not an HDF5 file ({exc})", file=str(nwb2)) from exc
    with out, h5py.File(src, "r") as source:
        _Validation(the_plan, SourceReader(source), out, result, progress).run()
    return result


class _Validation:
    def __init__(self, the_plan: Plan, reader: SourceReader, out: h5py.File, result: ValidationReport,
                 progress: ProgressCallback) -> None:
        self.plan, self.reader, self.out, self.result, self.progress = the_plan, reader, out, result, progress
        self.profile = PROFILES.get(the_plan.profile, "generic")
        self.datasets: list[str] = []
        out.visititems_links(lambda name, link: self.datasets.append("/" + name))
        self.notes = _text(out[NOTES_PATH][()]) if NOTES_PATH in out else ""

    def run(self) -> None:
        entries = [e for e in self.plan.entries if not e.store_path.startswith("/nwb1/")]
        for done, entry in enumerate(entries):
            report(self.progress, "validate", done, len(entries), unit="arrays")
            self.entry(entry)
        if self.profile == "brain_observatory":
            self.stop_times()
            self.rows()
        self.kept()
        report(self.progress, "validate", len(entries), len(entries), unit="arrays")

    def add(self, check: Check) -> Check:
        self.result.checks.append(check)
        return check

    def entry(self, entry: Entry) -> None:
        rule = target(entry.store_path, profile=self.profile)
        if rule is None or not rule.exported:
            self.not_exported(entry.store_path, entry)
            return
        paths = expand(rule.nwb2_paths, self.datasets)
        present = [p for p in paths if p in self.out]
        if not present and f"{entry.store_path}:" in self.notes:  # stated as not exported (incomplete group)
            self.not_exported(entry.store_path, entry)
            return
        for path in paths if not rule.optional else present or paths[:1]:
            steps = list(rule.transform)
            if any(s["name"] == "split_frames" for s in steps):
                self.frames(entry, path, [s for s in steps if s["name"] != "split_frames"])
                continue
            check = Check("values", f"{path} <- {entry.store_path}", _origin(entry))
            regular = self.regular_time(path)
            if regular is not None:
                self.compare(check, regular, lambda e=entry, s=steps: self.expected(e, s))
                continue
            if path not in self.out:
                check.status, check.detail = MISSING, "the mapping names this NWB 2 dataset; the file lacks it"
                self.add(check)
                continue
            self.compare(check, self.out[path], lambda e=entry, s=steps: self.expected(e, s), field=rule.field)

    def regular_time(self, path: str) -> np.ndarray | None:
        """Timestamps an NWB 2 TimeSeries gives as starting_time + rate, by the store's own definition."""
        group = path.rsplit("/", 1)[0]
        if not path.endswith("/timestamps") or path in self.out or f"{group}/starting_time" not in self.out:
            return None
        start = self.out[f"{group}/starting_time"]
        return derive({"name": "regular_time", "starting_time": start.name, "rate": float(start.attrs["rate"]),
                       "length": int(self.out[f"{group}/data"].shape[0])}, lambda p: self.out[p][()])

    def expected(self, entry: Entry, steps: list[dict[str, Any]]) -> Any:
        chunks = choose_chunks(tuple(entry.shape), tuple(entry.dims), 8) if entry.shape else ()
        values = expected_values(entry, self.reader, chunks)
        context = {}
        for step in steps:
            if isinstance(step.get("rows"), str):
                context["rows"] = int(self.plan.entry(step["rows"]).shape[0])
        if any(s["name"] != "transpose" for s in steps):
            values = _materialise(values)
        return apply(values, steps, **context)

    def frames(self, entry: Entry, path: str, steps: list[dict[str, Any]]) -> None:
        """A stack stored as one NWB 2 image per frame: compare frame by frame, reading the source in blocks of
        whole source chunks (a frame at a time would inflate each chunk once per frame it holds)."""
        group_path = path.rsplit("/", 1)[0]
        pattern = path.rsplit("/", 1)[1]
        frame_bytes = max(1, int(np.prod(entry.shape[1:], dtype=np.int64)) * np.dtype(entry.dtype).itemsize)
        source_chunks = self.reader.dataset(entry.sources[0]).chunks if len(entry.sources) == 1 else None
        step = source_chunks[0] if source_chunks else 1
        step *= max(1, BLOCK_BYTES // (frame_bytes * step))
        values = expected_values(entry, self.reader, (step, *entry.shape[1:]))
        for start in range(0, entry.shape[0], step):
            block: list[np.ndarray] = []  # read on first use, once per block

            def frame_values(i: int, block: list[np.ndarray] = block, start: int = start) -> Any:
                if not block:
                    block.append(_materialise(values[start:start + step]))
                return apply(block[0][i - start], steps)

            for index in range(start, min(entry.shape[0], start + step)):
                name = f"{group_path}/{pattern.replace('{index}', f'{index:05d}')}"
                frame = Check("values", f"{name} <- {entry.store_path}[{index}]", _origin(entry))
                if name not in self.out:
                    frame.status, frame.detail = MISSING, "template frame absent"
                    self.add(frame)
                    continue
                self.compare(frame, self.out[name], lambda i=index: frame_values(i))
        extra = sum(1 for n in self.datasets if n.startswith(group_path + "/")) - entry.shape[0]
        if extra > 0:
            self.add(Check("values", f"{group_path} <- {entry.store_path}", _origin(entry), MISMATCH,
                           detail=f"{extra} images more than the source's {entry.shape[0]} frames"))

    def compare(self, check: Check, dataset: h5py.Dataset, expected: Any, *, field: str | None = None) -> None:
        """Compare one NWB 2 dataset (or one compound field) with the expected values, block by block."""
        self.add(check)
        try:
            want = expected()
            shape = tuple(dataset.shape)
            if tuple(want.shape) != shape:
                check.status = MISMATCH
                check.detail = f"NWB 2 shape {list(shape)}, source gives {list(want.shape)}"
                return
            itemsize = max(1, dataset.dtype.itemsize)
            rows = max(1, BLOCK_BYTES // max(1, itemsize * int(np.prod(shape[1:], dtype=np.int64))))
            chunks = getattr(dataset, "chunks", None)
            grid = (chunks[0] * max(1, rows // chunks[0]) if chunks else rows, *shape[1:])
            for block in blocks(shape, grid) if shape else [()]:
                got = dataset[block] if block else dataset[()]
                got = np.asarray(got[field] if field else got)
                exp = _materialise(want[block] if block else want)
                got, exp = _comparable(got, exp)
                check.elements += int(got.size)
                check.bytes += int(exp.nbytes) if exp.dtype.kind != "O" else 0
                diff = first_difference(got, exp)
                if diff is not None:
                    record_mismatch(check, block, diff)
                    return
        except (SourceDataError, OSError, KeyError, ValueError, TypeError) as exc:
            check.status = ERROR
            check.detail = getattr(exc, "message", None) or f"{type(exc).__name__}: {exc}"

    def stop_times(self) -> None:
        """Each stimulus table's stop_time: stored end times, else the 2p timestamp of its end frame."""
        for rule in mapping()["derived"]:
            for group in self.stimuli():
                captures = {"stimulus": group}
                path = fill(rule["nwb2"], captures)
                if self._entry(f"/stimulus/{group}/end_time") is not None:
                    continue  # compared as a mapped column
                check = Check("values", f"{path} <- derived: {rule['derive']}", "derived: time_at_frame")
                if path not in self.out:
                    check.status, check.detail = MISSING, "no stop_time"
                    self.add(check)
                    continue
                frames_entry = self._entry(fill(rule["frames"], captures))
                times_entry = self._entry(rule["times"])
                rows = self._rows(group)

                def expected(f: Entry | None = frames_entry, t: Entry | None = times_entry, n: int = rows) -> Any:
                    if f is None or t is None:
                        return np.full(n, np.nan)
                    return time_at_frame(_materialise(expected_values(f, self.reader, ())),
                                         times=_materialise(expected_values(t, self.reader, ())))
                self.compare(check, self.out[path], expected)

    def rows(self) -> None:
        """The row count of every stimulus table equals the source's presentation count (read with h5py)."""
        for group in self.stimuli():
            entry = self._entry(f"/stimulus/{group}/time")
            path = f"/intervals/{group}/id"
            check = self.add(Check("rows", path, _origin(entry) if entry else None))
            expected = self._rows(group)
            if path not in self.out:
                check.status, check.detail = MISSING, f"no table for {expected} presentations"
                continue
            got = int(self.out[path].shape[0])
            check.elements = got
            if got != expected:
                check.status = MISMATCH
                check.first_mismatch = {"attribute": "rows", "store": got, "expected": expected}

    def stimuli(self) -> list[str]:
        return sorted({e.store_path.split("/")[2] for e in self.plan.entries
                       if e.store_path.startswith("/stimulus/") and e.store_path.count("/") == 3
                       and e.name == "time"})

    def _rows(self, group: str) -> int:
        entry = self._entry(f"/stimulus/{group}/time")
        if entry is None:
            return 0
        if entry.derive is None and len(entry.sources) == 1 and not entry.transform:
            return len(self.reader.dataset(entry.sources[0]))  # the source's own length, by h5py
        return int(np.asarray(_materialise(expected_values(entry, self.reader, ()))).shape[0])

    def _entry(self, store_path: str) -> Entry | None:
        try:
            return self.plan.entry(store_path)
        except KeyError:
            return None

    def not_exported(self, store_path: str, entry: Entry) -> None:
        """A planned array without an NWB 2 place must be listed, with its reason, in the file's notes."""
        check = self.add(Check("coverage", store_path, _origin(entry)))
        if f"\n{store_path}:" not in "\n" + self.notes:
            check.status, check.detail = UNACCOUNTED, "not in the NWB 2 file and not listed as not exported"

    def kept(self) -> None:
        """Source objects the store keeps under /nwb1 are listed as not exported (never dropped silently)."""
        kept = [e for e in self.plan.entries if e.store_path.startswith("/nwb1/")]
        missing = [e.store_path for e in kept if f"\n{e.store_path}:" not in "\n" + self.notes]
        check = self.add(Check("coverage", "/nwb1", "kept NWB 1.0 objects", elements=len(kept)))
        if missing:
            check.status = UNACCOUNTED
            check.detail = f"{len(missing)} kept objects not listed as not exported, e.g. {missing[0]}"


def _comparable(got: np.ndarray, exp: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if exp.dtype.kind in "OUST" or got.dtype.kind in "OUST":
        return (np.vectorize(_text, otypes=[object])(got) if got.size else got.astype(object),
                np.asarray(exp, dtype=object))
    if got.dtype != exp.dtype and exp.dtype.kind in "ui" and got.dtype.kind in "ui":
        # Integers by value: NWB 2 declares another width (pixel_mask x / y: uint32; hdmf's VectorIndex: the
        # smallest unsigned type). Compared as Python ints, so nothing wraps.
        return got.astype(object), exp.astype(object)
    return got, exp


def _text(value: Any) -> str:
    if isinstance(value, bytes | np.bytes_):
        return bytes(value).decode("utf-8", "backslashreplace")
    return str(value)


def _origin(entry: Entry) -> str:
    if entry.derive is not None:
        return f"derived: {entry.derive['name']}"
    return entry.source_pattern or (entry.sources[0] if entry.sources else "")
