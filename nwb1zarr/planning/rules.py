"""Resolving one rule binding into store entries (plan stage, step 4): sources, columns, stacks, derivations.

Everything a rule needs from the source is looked up and checked here, inside one guard per variable:
a variable whose sources are missing, disagree or break a declared transform is not mapped and becomes a
problem naming the source path; the rest of the rule goes on. The group is then checked as a whole
(:mod:`nwb1zarr.planning.checks`) and its traces placed on time (:mod:`nwb1zarr.planning.time_axes`).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from typing import Any

import dask.array as da
import h5py
import numpy as np

from .. import store_attrs as sa
from ..errors import Nwb1ZarrError, SourceDataError
from ..reading.legacy_tree import join
from ..reading.names import store_name
from .checks import Candidate, check_group
from .context import PlanContext
from .derivations import derive
from .model import Entry
from .time_axes import TimePlacer
from .transforms import CHECKED_TRANSFORMS, apply_steps, describe
from .verifications import run_check

GUARDED = (Nwb1ZarrError, ValueError, KeyError, IndexError, TypeError, OverflowError, ZeroDivisionError)
"""What a source can make a rule step raise; anything else is a bug and is not swallowed."""


def _reason(exc: BaseException) -> str:
    return exc.message if isinstance(exc, Nwb1ZarrError) else f"{type(exc).__name__}: {exc}"


class RuleResolver:
    """The entries one rule makes for one matched source group.

    >>> RuleResolver(ctx, rule, "/stimulus/presentation/x_stimulus", "/stimulus/x").entries()  # doctest: +SKIP
    """

    def __init__(self, ctx: PlanContext, rule: Mapping[str, Any], match: str | None, target: str) -> None:
        self.ctx, self.rule, self.match, self.target = ctx, rule, match, target
        self.problems_before = len(ctx.problems)
        self.group_attrs: dict[str, dict[str, Any]] = {}
        """Attributes for store groups this binding makes, from its checks (kept only where entries land)."""

    # ---- paths ------------------------------------------------------------------------------------
    def abs(self, path: str) -> str:
        if path.startswith("/") or self.match is None:
            return path if path.startswith("/") else "/" + path
        return join(self.match, path)

    def alternatives(self, value: str | list[str] | None) -> list[str]:
        if value is None:
            return []
        return [self.abs(v) for v in ([value] if isinstance(value, str) else value)]

    # ---- the rule ---------------------------------------------------------------------------------
    def entries(self) -> list[Entry]:
        checks = self._checks()
        placer, clock_candidates = self._clock()
        candidates = list(clock_candidates)
        for var in self.rule["variables"]:
            try:
                candidates.extend(self._variable(var, checks))
            except GUARDED as exc:
                source = exc.path if isinstance(exc, Nwb1ZarrError) and exc.path else self._first_source(var)
                name = var["name"].replace("{column}", "*")
                self.ctx.problem(source, f"{_reason(exc)}; {self.target}/{name} not mapped")
        earlier = len(self.ctx.problems) - self.problems_before
        kept = check_group(self.ctx, self.target, candidates, complete=bool(self.rule.get("complete")),
                           earlier_problems=earlier)
        clock_ids = {id(c) for c in clock_candidates}
        clock_kept = [c.entry for c in kept if id(c) in clock_ids]
        if not clock_kept:
            placer.clock, placer.clock_source = None, None
        coords = [c.entry for c in kept if c.entry.role == "coord" and id(c) not in clock_ids]
        out: list[Entry] = []
        for c in kept:
            if id(c) in clock_ids:
                continue
            if not c.on_time:
                out.append(c.entry)
                continue
            try:
                out.extend(placer.place(c.entry, c.time, coords, self._time_entry))
            except GUARDED as exc:
                self.ctx.problem(c.time or c.source, f"{_reason(exc)}; {c.entry.store_path} not mapped")
        if clock_kept:  # the clock last: placing traces may have recorded aliases on it
            out.insert(0, placer.clock if placer.clock is not None else clock_kept[0])
        return out

    def _first_source(self, var: Mapping[str, Any]) -> str | None:
        """The source path a problem about ``var`` names when the error itself names none."""
        found = self.alternatives(var.get("source"))
        if found:
            return found[0]
        if "stack" in var:
            return self.abs(var["stack"]["over"])
        if "derive" in var:
            spec = var["derive"]
            return next((self.abs(spec[k]) for k in ("input", "mask", "starting_time", "over") if k in spec), None)
        return self.match

    # ---- named checks (e.g. the orientation of ROI pixel lists) -----------------------------------
    def _checks(self) -> dict[str, dict[str, Any]]:
        results: dict[str, dict[str, Any]] = {}
        for spec in self.rule.get("checks", ()):
            params = {k: v for k, v in spec.items() if k not in ("id", "name", "group")}
            if "over" in params:
                over = self.abs(params.pop("over"))
                names = self.ctx.strings(over) if self.ctx.is_dataset(over) else []
                params = {k: [self.abs(v.format(item=n)) for n in names] for k, v in params.items()}
                params["over"] = over
            try:
                result = results[spec["id"]] = run_check(spec["name"], self.ctx.tree.read, **params)
                group = f"{self.target}/{spec['group']}" if spec.get("group") else self.target
                self.group_attrs.setdefault(group, {}).update(result.get("group_attrs", {}))
                if result.get("problem"):
                    self.ctx.problem(params.get("over"), result["problem"])
            except GUARDED as exc:
                source = exc.path if isinstance(exc, Nwb1ZarrError) and exc.path else params.get("over")
                self.ctx.problem(source, f"check {spec['name']} cannot run: {_reason(exc)}")
        return results

    # ---- the group clock --------------------------------------------------------------------------
    def _clock(self) -> tuple[TimePlacer, list[Candidate]]:
        for path in self.alternatives(self.rule.get("time")):
            if not self.ctx.is_dataset(path):
                continue
            try:
                entry = self._time_entry(f"{self.target}/time", ("time",), path,
                                         {"description": "time of each sample (seconds)"})
            except GUARDED as exc:
                self.ctx.problem(path, f"{_reason(exc)}; {self.target}/time not mapped")
                break
            placer = TimePlacer(self.ctx, self.target, clock=entry, clock_source=path, regular_length=None)
            return placer, [Candidate(entry, "time", path)]
        regular = self.rule.get("regular_time")
        if regular:
            try:
                spec = self._regular_time(regular)
            except GUARDED as exc:
                source = exc.path if isinstance(exc, Nwb1ZarrError) and exc.path else self.abs(regular["starting_time"])
                self.ctx.problem(source, f"{_reason(exc)}; {self.target}/time not derived")
                spec = None
            if spec is not None:
                try:
                    entry = self._derived(f"{self.target}/time", ("time",), "coord", spec, {})
                except GUARDED as exc:
                    self.ctx.problem(spec["starting_time"], f"{_reason(exc)}; {self.target}/time not derived")
                    return TimePlacer(self.ctx, self.target, clock=None, clock_source=None, regular_length=None), []
                placer = TimePlacer(self.ctx, self.target, clock=None, clock_source=None,
                                    regular_length=spec["length"])
                return placer, [Candidate(entry, "time", spec["starting_time"])]
        return TimePlacer(self.ctx, self.target, clock=None, clock_source=None, regular_length=None), []

    def _regular_time(self, regular: Mapping[str, Any]) -> dict[str, Any] | None:
        start, length_of = self.abs(regular["starting_time"]), self.abs(regular["length_of"])
        if not self.ctx.is_dataset(start) or not self.ctx.is_dataset(length_of):
            return None
        node = self.ctx.tree.nodes[start]
        if node.shape not in ((), (1,)) or node.dtype is None or node.dtype.kind not in "iuf":
            raise SourceDataError(f"starting_time must be one number, found {node.dtype} {node.shape}", path=start)
        if "rate" not in node.attrs:
            raise SourceDataError("starting_time has no rate attribute", path=start)
        rate = _one_number(node.attrs["rate"])
        if rate is None or not np.isfinite(rate) or rate <= 0:
            raise SourceDataError(f"rate {node.attrs['rate']!r} is not one positive number", path=start)
        shape = self.ctx.shape(length_of)
        if not shape:
            raise SourceDataError("data has no time axis (scalar)", path=length_of)
        return {"name": "regular_time", "starting_time": start, "rate": rate, "length": int(shape[0])}

    # ---- variables ----------------------------------------------------------------------------------
    def _variable(self, var: Mapping[str, Any], checks: dict[str, dict[str, Any]]) -> list[Candidate]:
        role = "coord" if var.get("coord") else "data"
        attrs = dict(var.get("attrs", {}))
        if var.get("description"):
            attrs["description"] = var["description"]
        name = var["name"]
        if "derive" in var:
            spec = self._derive_spec(var["derive"])
            if spec is None:
                if var.get("optional"):
                    return []
                raise SourceDataError("inputs of the derivation are missing", path=self._first_source(var))
            entry = self._derived(f"{self.target}/{name}", tuple(var["dims"]), role, spec, attrs)
            return [Candidate(entry, name, self._first_source(var))]
        if "stack" in var:
            return self._stack_variable(var, role, attrs, checks)
        sources = self.alternatives(var.get("source"))
        times = self.alternatives(var.get("time"))
        chosen = next((i for i, p in enumerate(sources) if self.ctx.is_dataset(p)), None)
        if chosen is None:
            if var.get("optional"):
                return []
            raise SourceDataError(f"none of {', '.join(sources)} exists", path=sources[0] if sources else None)
        source = sources[chosen]
        time = times[min(chosen, len(times) - 1)] if times else None
        steps = tuple(var.get("transform", ()))
        if "columns_from" in var:
            names_path = join(source.rsplit("/", 1)[0] or "/", var["columns_from"])
            names = self._column_names(names_path, source)
            made = []
            for index, column in enumerate(names):
                col_steps = ({"name": "column", "index": index}, *steps)
                entry = self._entry(f"{self.target}/{name.format(column=store_name(column))}", tuple(var["dims"]),
                                    role, (source,), col_steps, {**attrs, sa.COLUMN: column})
                made.append(self._candidate(entry, name, source, time, from_columns=True))
            return made
        entry = self._entry(f"{self.target}/{name}", tuple(var["dims"]), role, (source,), steps, attrs)
        return [self._candidate(entry, name, source, time)]

    def _candidate(self, entry: Entry, family: str, source: str, time: str | None, *,
                   from_columns: bool = False) -> Candidate:
        on_time = "time" in entry.dims and entry.role != "coord"
        return Candidate(entry, family, source, from_columns=from_columns, on_time=on_time, time=time)

    def _column_names(self, names_path: str, source: str) -> list[str]:
        if not self.ctx.is_dataset(names_path):
            raise SourceDataError("the list of column names is missing", path=names_path)
        names = self.ctx.strings(names_path)
        shape = self.ctx.shape(source) or ()
        if len(shape) != 2:
            raise SourceDataError(f"data has shape {list(shape)}; columns need two axes", path=source)
        if len(names) != shape[-1]:
            raise SourceDataError(f"names {len(names)} columns but {source} has {shape[-1]}", path=names_path)
        return names

    def _derive_spec(self, raw: Mapping[str, Any]) -> dict[str, Any] | None:
        spec = dict(raw)
        for key in ("input", "mask", "starting_time"):
            if key in spec:
                spec[key] = self.abs(spec[key])
                if not self.ctx.is_dataset(spec[key]):
                    return None
        if "over" in spec:
            over = self.abs(spec.pop("over"))
            if not self.ctx.is_dataset(over):
                return None
            spec["items"] = self._items(over, spec.pop("item"))
        return spec

    def _items(self, over: str, item: str) -> list[str]:
        return [self.abs(item.format(item=name)) for name in self.ctx.strings(over)]

    def _stack_variable(self, var: Mapping[str, Any], role: str, attrs: dict[str, Any],
                        checks: dict[str, dict[str, Any]]) -> list[Candidate]:
        steps = tuple(var.get("transform", ()))
        over = self.abs(var["stack"]["over"])
        if not self.ctx.is_dataset(over):
            if var.get("optional"):
                return []
            raise SourceDataError("the list of items is missing", path=over)
        if "columns_from_check" not in var:
            entry = self._stack(f"{self.target}/{var['name']}", var, role, steps, attrs)
            return [Candidate(entry, var["name"], over)]
        check_id = var["columns_from_check"]
        if check_id not in checks:
            raise SourceDataError(f"not mapped because check {check_id!r} did not run", path=over)
        result = checks[check_id]
        made = []
        for index, column in enumerate(result["columns"]):
            col_steps = ({"name": "column", "index": index}, *steps)
            col_attrs = {**attrs, **result.get("column_attrs", {}).get(column, {})}
            entry = self._stack(f"{self.target}/{var['name'].format(column=column)}", var, role, col_steps, col_attrs)
            made.append(Candidate(entry, var["name"], over))
        return made

    def _stack(self, store_path: str, var: Mapping[str, Any], role: str, steps: tuple[dict[str, Any], ...],
               attrs: dict[str, Any]) -> Entry:
        stack = var["stack"]
        over = self.abs(stack["over"])
        items = self._items(over, stack["item"])
        if not items:
            raise SourceDataError("the list of items is empty", path=over)
        missing = [p for p in items if not self.ctx.is_dataset(p)]
        if missing:
            raise SourceDataError(f"names {len(items)} items but {len(missing)} do not exist, e.g. {missing[0]}",
                                  path=over)
        self._verify_steps(items, steps)
        shapes = [self._shape_dtype(p, steps) for p in items]
        combine = stack.get("combine", "stack")
        dtypes = {d for _, d in shapes}
        if len(dtypes) > 1:
            raise SourceDataError(f"items differ in dtype: {sorted(dtypes)}", path=over)
        if combine == "stack":
            if len({s for s, _ in shapes}) > 1:
                raise SourceDataError(f"items differ in shape: {sorted({s for s, _ in shapes})[:2]}", path=over)
            shape = (len(items), *shapes[0][0])
        else:
            if any(not s for s, _ in shapes) or len({s[1:] for s, _ in shapes}) > 1:
                raise SourceDataError("items cannot be concatenated (scalar, or trailing shapes differ)", path=over)
            shape = (sum(s[0] for s, _ in shapes), *shapes[0][0][1:])
        name = store_path.rsplit("/", 1)[1]
        dims = expand_dims(tuple(var["dims"]), len(shape), name)
        pattern = self.abs(stack["item"].format(item=f"<{stack['over']}[i]>"))
        entry_attrs = {**attrs, sa.PATH: pattern, sa.COMBINE: f"{combine} over {over}"}
        if steps:
            entry_attrs[sa.TRANSFORM] = describe(steps)
        item_attrs = [self.ctx.tree.nodes[p].attrs for p in items]
        if any(item_attrs):
            entry_attrs[sa.ITEM_ATTRS] = item_attrs
        return Entry(store_path, dims, shape, shapes[0][1], role, tuple(items), combine, steps, None, (),
                     entry_attrs, pattern)

    # ---- one source dataset ------------------------------------------------------------------------
    def _shape_dtype(self, path: str, steps: tuple[dict[str, Any], ...]) -> tuple[tuple[int, ...], str]:
        node = self.ctx.tree.nodes[path]
        if node.shape is None:
            raise SourceDataError("null dataspace: the dataset has no value", path=path)
        if node.string_kind is not None:
            if any(s["name"] != "column" for s in steps):
                raise SourceDataError(f"transform {describe(steps)} does not apply to text", path=path)
            probe = apply_steps(np.zeros(node.shape, dtype=object), steps)
            return tuple(int(s) for s in np.shape(probe)), "str"
        dtype = node.dtype
        if h5py.check_enum_dtype(dtype) is not None:
            dtype = dtype.base
        if dtype.kind not in "biuf" or dtype.names or dtype.subdtype is not None:
            raise SourceDataError(f"dtype {dtype} is not a plain number type; mapped arrays must be", path=path)
        if not steps:
            return tuple(node.shape), str(dtype)
        return _probe(tuple(node.shape), str(dtype), json.dumps(steps, sort_keys=True))

    def _verify_steps(self, paths: list[str], steps: tuple[dict[str, Any], ...]) -> None:
        """Transforms that may refuse values (``exact_int64``) are tried on the source now, not at write time."""
        if not any(s["name"] in CHECKED_TRANSFORMS for s in steps):
            return
        for path in paths:
            try:
                apply_steps(np.asarray(self.ctx.read(path)), steps)
            except SourceDataError as exc:
                raise SourceDataError(exc.message, path=path) from exc

    def _time_entry(self, store_path: str, dims: tuple[str, ...], source: str, attrs: dict[str, Any]) -> Entry:
        return self._entry(store_path, dims, "coord", (source,), (), attrs)

    def _entry(self, store_path: str, dims: tuple[str, ...], role: str, sources: tuple[str, ...],
               steps: tuple[dict[str, Any], ...], attrs: dict[str, Any]) -> Entry:
        node = self.ctx.tree.nodes[sources[0]]
        shape, dtype = self._shape_dtype(sources[0], steps)
        self._verify_steps([sources[0]], steps)
        dims = expand_dims(dims, len(shape), store_path.rsplit("/", 1)[1])
        entry_attrs = {**sa.source_attrs(node.attrs), **attrs, sa.PATH: sources[0]}
        if steps:
            entry_attrs[sa.TRANSFORM] = describe(steps)
        return Entry(store_path, dims, shape, dtype, role, sources, None, steps, None, (), entry_attrs)

    def _derived(self, store_path: str, dims: tuple[str, ...], role: str, spec: dict[str, Any],
                 attrs: dict[str, Any]) -> Entry:
        value = derive(spec, self.ctx.read)
        inputs = [spec[k] for k in ("input", "mask", "starting_time") if k in spec] + spec.get("items", [])[:1]
        entry_attrs = {**attrs, sa.DERIVATION: spec["name"], sa.DERIVED_FROM: inputs}
        return Entry(store_path, expand_dims(dims, value.ndim, store_path.rsplit("/", 1)[1]),
                     tuple(value.shape), str(value.dtype), role, (), None, (), spec, (), entry_attrs)


def _one_number(value: Any) -> float | None:
    """A number, or a one-element list of one (how NWB 1.0 writers stored ``rate``); else None."""
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        return None
    return float(value)


def expand_dims(dims: tuple[str, ...], ndim: int, name: str) -> tuple[str, ...]:
    """The profile's dims for data with ``ndim`` axes; ``...`` stands for ``<name>_dim_<i>``.

    >>> expand_dims(("time", "..."), 3, "data")
    ('time', 'data_dim_1', 'data_dim_2')
    """
    if "..." in dims:
        head = tuple(d for d in dims if d != "...")
        if ndim < len(head):
            raise SourceDataError(f"profile gives dims {list(head)} but the data has {ndim} dimensions")
        return head + tuple(f"{name}_dim_{i}" for i in range(len(head), ndim))
    if len(dims) != ndim:
        raise SourceDataError(f"profile gives dims {list(dims)} but the data has {ndim} dimensions")
    return dims


@functools.lru_cache(maxsize=1024)
def _probe(shape: tuple[int, ...], dtype: str, steps: str) -> tuple[tuple[int, ...], str]:
    """Shape and dtype after ``steps``, found on a lazy array (a stack of 400 items probes once)."""
    probe = apply_steps(da.zeros(shape, dtype=dtype, chunks=-1), json.loads(steps))
    return tuple(int(s) for s in probe.shape), str(probe.dtype)
