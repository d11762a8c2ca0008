"""Building a :class:`Plan` from a legacy tree and a profile (pure: reads only small datasets)."""

from __future__ import annotations

import fnmatch
import os
import re
from collections.abc import Mapping
from typing import Any

import dask.array as da
import numpy as np

from .derivations import derive
from .errors import Nwb1ZarrError, SourceDataError
from .legacy_tree import LegacyTree, join
from .names import store_name
from .parsers import parse
from .plan_model import Account, Entry, Plan
from .profiles import Profile, load_profile, shipped_profiles
from .remainder import account_remainder
from .transforms import apply_steps, describe
from .typemap import TypeMap


def plan(src: str | os.PathLike[str], *, profile: str | None = None) -> Plan:
    """The conversion plan for ``src``: every source object with its place in the store.

    >>> p = plan("session.nwb")                     # doctest: +SKIP
    >>> p.entry("/ophys/dff").sources               # doctest: +SKIP
    ('/processing/brain_observatory_pipeline/DfOverF/imaging_plane_1/data',)
    """
    with LegacyTree.open(src) as tree:
        return make_plan(tree, profile=profile)


def choose_profile(tree: LegacyTree, requested: str | None) -> tuple[Profile, str | None]:
    """The requested profile, or the highest-priority shipped one whose requirements hold."""
    exists = tree.nodes.__contains__
    if requested is not None:
        chosen = load_profile(requested)
        missing = chosen.missing(exists)
        if missing:
            raise SourceDataError(f"profile {chosen.name!r} needs {', '.join(missing)}, which the file lacks",
                                  file=str(tree.source))
        return chosen, None
    notes = []
    for candidate in shipped_profiles():
        missing = candidate.missing(exists)
        if not missing:
            return candidate, "; ".join(notes) or None
        notes.append(f"not {candidate.name}: missing {', '.join(missing)}")
    raise SourceDataError("no profile applies: " + "; ".join(notes), file=str(tree.source))


def make_plan(tree: LegacyTree, *, profile: str | None = None) -> Plan:
    chosen, note = choose_profile(tree, profile)
    ctx = _Context(tree)
    root_attrs = _metadata(ctx, chosen)
    groups: dict[str, dict[str, Any]] = {"/": {}}
    entries: list[Entry] = []
    for rule in chosen.rules:
        for match, binding in _bindings(ctx, rule):
            target = _target(rule["target"], binding)
            made = _RuleResolver(ctx, rule, match, target).entries()
            if not made:
                continue
            entries.extend(made)
            attrs = groups.setdefault(target, {})
            attrs["nwb1_rule"] = f"{chosen.name}:{rule['id']}"
            if match is not None:
                attrs["nwb1_path"] = match
            if rule.get("description"):
                attrs["description"] = rule["description"]
            attrs.update(rule.get("attrs", {}))
    for e in entries:
        groups.setdefault(e.group, {})
    accounting, kept_entries, nwb1_groups = account_remainder(tree, entries)
    groups.update(nwb1_groups)
    return Plan(source=str(tree.source), profile=chosen.name, profile_note=note, root_attrs=root_attrs,
                entries=entries + kept_entries, groups=groups, accounting=accounting, problems=ctx.problems)


class _Context:
    def __init__(self, tree: LegacyTree) -> None:
        self.tree = tree
        self.typemap = TypeMap.load()
        self.cache: dict[str, Any] = {}
        self.claimed: set[str] = set()
        self.problems: list[str] = []

    def is_dataset(self, path: str) -> bool:
        node = self.tree.nodes.get(path)
        return node is not None and node.kind == "dataset"

    def exists(self, path: str) -> bool:
        node = self.tree.nodes.get(path)
        if node is None:
            return False
        return node.kind != "soft_link" or self.exists(node.target or "")

    def read(self, path: str) -> Any:
        if path not in self.cache:
            self.cache[path] = self.tree.read(path)
        return self.cache[path]

    def strings(self, path: str) -> list[str]:
        value = self.read(path)
        values = [value] if isinstance(value, str) else list(np.asarray(value).reshape(-1))
        return [str(v).rstrip("\x00") for v in values]


def _metadata(ctx: _Context, profile: Profile) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in profile.metadata:
        path = item["source"]
        if not ctx.is_dataset(path):
            if "default" in item:
                out[item["name"]] = item["default"]
            else:
                ctx.problems.append(f"metadata {item['name']}: {path} is missing")
            continue
        value = ctx.read(path)
        value = value.tolist() if isinstance(value, np.ndarray) else value
        try:
            out[item["name"]] = parse(value, item.get("parse"))
        except (ValueError, IndexError, TypeError) as exc:
            ctx.problems.append(f"metadata {item['name']}: cannot parse {path}: {exc}")
    return out


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    parts = re.split(r"(\{[a-z_]+\})", pattern)
    body = "".join(f"(?P<{p[1:-1]}>[^/]+?)" if p.startswith("{") else re.escape(p) for p in parts)
    return re.compile(f"^{body}$")


def _bindings(ctx: _Context, rule: Mapping[str, Any]) -> list[tuple[str | None, dict[str, str]]]:
    pattern = rule.get("match")
    if pattern is None:
        return [(None, {})]
    found = []
    groups = [n for n in ctx.tree.nodes.values() if n.kind == "group"]
    regex = None if pattern == "**" else _pattern_regex(pattern)
    for node in groups:
        if node.path in ctx.claimed:
            continue
        if regex is None:
            binding = {"path": "" if node.path == "/" else node.path}
        else:
            m = regex.match(node.path)
            if m is None:
                continue
            binding = m.groupdict()
        when = rule.get("when", {})
        if "is_a" in when and not ctx.typemap.is_a(node.legacy_type, when["is_a"]):
            continue
        if "name_glob" in when and not fnmatch.fnmatchcase(binding.get("name", node.name), when["name_glob"]):
            continue
        if not all(ctx.exists(join(node.path, rel)) for rel in when.get("has", ())):
            continue
        found.append((node.path, binding))
    ctx.claimed.update(path for path, _ in found)
    return found


def _target(template: str, binding: Mapping[str, str]) -> str:
    raw = template.format(**binding)
    return "/" + "/".join(store_name(p) for p in raw.split("/") if p)


class _RuleResolver:
    def __init__(self, ctx: _Context, rule: Mapping[str, Any], match: str | None, target: str) -> None:
        self.ctx, self.rule, self.match, self.target = ctx, rule, match, target
        self.out: list[Entry] = []
        self.regular_length: int | None = None
        self.group_time = self._group_time()

    def abs(self, path: str) -> str:
        if path.startswith("/") or self.match is None:
            return path if path.startswith("/") else "/" + path
        return join(self.match, path)

    def alternatives(self, value: str | list[str] | None) -> list[str]:
        if value is None:
            return []
        return [self.abs(v) for v in ([value] if isinstance(value, str) else value)]

    def _group_time(self) -> str | None:
        for path in self.alternatives(self.rule.get("time")):
            if self.ctx.is_dataset(path):
                self.out.append(self._entry(f"{self.target}/time", ("time",), "coord", (path,), (),
                                            {"description": "time of each sample (seconds)"}))
                return path
        regular = self.rule.get("regular_time")
        if regular:
            start = self.abs(regular["starting_time"])
            node = self.ctx.tree.nodes.get(start)
            length_of = self.abs(regular["length_of"])
            length_node = self.ctx.tree.nodes.get(length_of)
            if node is not None and length_node is not None and "rate" in node.attrs and length_node.shape:
                spec = {"name": "regular_time", "starting_time": start, "rate": node.attrs["rate"],
                        "length": int(length_node.shape[0])}
                self._derived(f"{self.target}/time", ("time",), "coord", spec, {})
                self.regular_length = spec["length"]
                return None
        return None

    def entries(self) -> list[Entry]:
        for var in self.rule["variables"]:
            try:
                self._variable(var)
            except (SourceDataError, ValueError, KeyError, IndexError) as exc:
                message = exc.message if isinstance(exc, Nwb1ZarrError) else str(exc)
                self.ctx.problems.append(f"{self.target}/{var['name']}: not mapped: {message}")
        return self.out

    def _variable(self, var: Mapping[str, Any]) -> None:
        role = "coord" if var.get("coord") else "data"
        attrs = dict(var.get("attrs", {}))
        if var.get("description"):
            attrs["description"] = var["description"]
        if "derive" in var:
            spec = self._derive_spec(var["derive"])
            if spec is None:
                if not var.get("optional"):
                    self.ctx.problems.append(f"{self.target}/{var['name']}: inputs missing")
                return
            self._derived(f"{self.target}/{var['name']}", tuple(var["dims"]), role, spec, attrs)
            return
        if "stack" in var:
            self._stack(var, role, attrs)
            return
        sources = self.alternatives(var.get("source"))
        times = self.alternatives(var.get("time"))
        chosen = next((i for i, p in enumerate(sources) if self.ctx.is_dataset(p)), None)
        if chosen is None:
            if not var.get("optional"):
                self.ctx.problems.append(f"{self.target}/{var['name']}: none of {', '.join(sources)} exists")
            return
        source = sources[chosen]
        time = times[min(chosen, len(times) - 1)] if times else None
        steps = tuple(var.get("transform", ()))
        if "columns_from" in var:
            names = self.ctx.strings(join(source.rsplit("/", 1)[0] or "/", var["columns_from"]))
            for index, column in enumerate(names):
                col_steps = ({"name": "column", "index": index}, *steps)
                self._copy(var["name"].format(column=store_name(column)), var, role, source, col_steps, time,
                           {**attrs, "nwb1_column": column})
            return
        self._copy(var["name"], var, role, source, steps, time, attrs)

    def _derive_spec(self, raw: Mapping[str, Any]) -> dict[str, Any] | None:
        spec = dict(raw)
        for key in ("input", "mask", "starting_time"):
            if key in spec:
                spec[key] = self.abs(spec[key])
                if not self.ctx.is_dataset(spec[key]):
                    return None
        if "over" in spec:
            spec["items"] = self._items(spec.pop("over"), spec.pop("item"))
        return spec

    def _items(self, over: str, item: str) -> list[str]:
        return [self.abs(item.format(item=name)) for name in self.ctx.strings(self.abs(over))]

    def _stack(self, var: Mapping[str, Any], role: str, attrs: dict[str, Any]) -> None:
        stack = var["stack"]
        items = self._items(stack["over"], stack["item"])
        missing = [p for p in items if not self.ctx.is_dataset(p)]
        if missing:
            raise SourceDataError(f"{len(missing)} of {len(items)} items missing, e.g. {missing[0]}")
        steps = tuple(var.get("transform", ()))
        shapes = {self._shape_dtype(p, steps) for p in items}
        combine = stack.get("combine", "stack")
        if combine == "stack" and len(shapes) > 1:
            raise SourceDataError(f"items differ in shape/dtype: {sorted(shapes)[:2]}")
        dtypes = {d for _, d in shapes}
        if len(dtypes) > 1:
            raise SourceDataError(f"items differ in dtype: {sorted(dtypes)}")
        if combine == "stack":
            shape = (len(items), *next(iter(shapes))[0])
        else:
            lengths = [self._shape_dtype(p, steps)[0] for p in items]
            shape = (sum(s[0] for s in lengths), *(lengths[0][1:] if lengths else ()))
        pattern = self.abs(stack["item"].format(item=f"<{stack['over']}[i]>"))
        entry_attrs = {**attrs, "nwb1_path": pattern, "nwb1_combine": f"{combine} over {self.abs(stack['over'])}"}
        if steps:
            entry_attrs["nwb1_transform"] = describe(steps)
        item_attrs = [self.ctx.tree.nodes[p].attrs for p in items]
        if any(item_attrs):
            entry_attrs["nwb1_item_attrs"] = item_attrs
        self.out.append(Entry(f"{self.target}/{var['name']}", tuple(var["dims"]), shape, next(iter(dtypes)), role,
                              tuple(items), combine, steps, None, (), entry_attrs, pattern))

    def _shape_dtype(self, path: str, steps: tuple[dict[str, Any], ...]) -> tuple[tuple[int, ...], str]:
        node = self.ctx.tree.nodes[path]
        if node.string_kind is not None:
            return tuple(node.shape or ()), "str"
        if not steps:
            return tuple(node.shape or ()), str(node.dtype)
        probe = apply_steps(da.zeros(node.shape, dtype=node.dtype, chunks=-1), steps)
        return tuple(int(s) for s in probe.shape), str(probe.dtype)

    def _entry(self, store_path: str, dims: tuple[str, ...], role: str, sources: tuple[str, ...],
               steps: tuple[dict[str, Any], ...], attrs: dict[str, Any]) -> Entry:
        node = self.ctx.tree.nodes[sources[0]]
        shape, dtype = self._shape_dtype(sources[0], steps)
        dims = _expand_dims(dims, len(shape), store_path.rsplit("/", 1)[1])
        entry_attrs = {**{f"nwb1:{k}": v for k, v in node.attrs.items()}, **attrs, "nwb1_path": sources[0]}
        if steps:
            entry_attrs["nwb1_transform"] = describe(steps)
        return Entry(store_path, dims, shape, dtype, role, sources, None, steps, None, (), entry_attrs)

    def _derived(self, store_path: str, dims: tuple[str, ...], role: str, spec: dict[str, Any],
                 attrs: dict[str, Any]) -> None:
        try:
            value = derive(spec, self.ctx.read)
        except SourceDataError as exc:
            self.ctx.problems.append(f"{store_path}: not derived: {exc.message}")
            return
        inputs = [spec[k] for k in ("input", "mask", "starting_time") if k in spec] + spec.get("items", [])[:1]
        entry_attrs = {**attrs, "nwb1_derivation": spec["name"], "nwb1_derived_from": inputs}
        self.out.append(Entry(store_path, _expand_dims(dims, value.ndim, store_path.rsplit("/", 1)[1]),
                              tuple(value.shape), str(value.dtype), role, (), None, (), spec, (), entry_attrs))

    def _copy(self, name: str, var: Mapping[str, Any], role: str, source: str, steps: tuple[dict[str, Any], ...],
              time: str | None, attrs: dict[str, Any]) -> None:
        dims = tuple(var["dims"])
        entry = self._entry(f"{self.target}/{name}", dims, role, (source,), steps, attrs)
        if "time" not in entry.dims or role == "coord":
            self.out.append(entry)
            return
        self._place_on_time(entry, time)

    def _place_on_time(self, entry: Entry, time: str | None) -> None:
        """Share the group's `time` only when timestamps are bitwise identical and lengths agree."""
        axis = entry.dims.index("time")
        length = entry.shape[axis]
        group_time = self.group_time
        if time is not None and group_time is not None:
            same = time == group_time or _bitwise_equal(self.ctx.read(time), self.ctx.read(group_time))
            if same and length == len(self.ctx.read(group_time)):
                self.out.append(entry)
                if time != group_time:
                    self._alias_time(time)
                return
        elif time is None and length == (len(self.ctx.read(group_time)) if group_time else self.regular_length):
            self.out.append(entry)
            return
        child = f"{self.target}/{entry.name}"
        time_dim = f"{entry.name}_time"
        note = None
        if time is not None and length == len(self.ctx.read(time)):
            data_dim = time_dim
        else:
            data_dim = f"{entry.name}_sample"
            n_time = len(self.ctx.read(time)) if time is not None else None
            note = (f"data has {length} samples along time but its timestamps have {n_time}; "
                    "no time coordinate is attached (nothing padded or cut)")
        dims = tuple(data_dim if d == "time" else d for d in entry.dims)
        attrs = dict(entry.attrs)
        if note:
            attrs["nwb1_time_note"] = note
        moved = Entry(f"{child}/{entry.name}", dims, entry.shape, entry.dtype, entry.role, entry.sources,
                      entry.combine, entry.transform, entry.derive, entry.aliases, attrs)
        self.out.append(moved)
        if time is not None:
            self.out.append(self._entry(f"{child}/{time_dim}", (time_dim,), "coord", (time,), (),
                                        {"description": f"timestamps of {entry.name} (seconds)"}))
        for coord in [e for e in self.out if e.role == "coord" and e.group == self.target]:
            if set(coord.dims) <= set(dims) and coord.name != "time":
                self.out.append(Entry(f"{child}/{coord.name}", *_tail(coord)))

    def _alias_time(self, time: str) -> None:
        for i, e in enumerate(self.out):
            if e.store_path == f"{self.target}/time" and time not in e.aliases:
                attrs = {**e.attrs, "nwb1_identical_to": [*e.aliases, time]}
                alias_attrs = self.ctx.tree.nodes[time].attrs
                if alias_attrs != self.ctx.tree.nodes[e.sources[0]].attrs:  # keep them: the values are stored once
                    attrs["nwb1_alias_attrs"] = {**e.attrs.get("nwb1_alias_attrs", {}), time: alias_attrs}
                self.out[i] = Entry(e.store_path, e.dims, e.shape, e.dtype, e.role, e.sources, e.combine,
                                    e.transform, e.derive, (*e.aliases, time), attrs)


def _tail(e: Entry) -> tuple[Any, ...]:
    return (e.dims, e.shape, e.dtype, e.role, e.sources, e.combine, e.transform, e.derive, e.aliases, e.attrs,
            e.source_pattern)


def _expand_dims(dims: tuple[str, ...], ndim: int, name: str) -> tuple[str, ...]:
    if "..." in dims:
        head = tuple(d for d in dims if d != "...")
        return head + tuple(f"{name}_dim_{i}" for i in range(len(head), ndim))
    if len(dims) != ndim:
        raise SourceDataError(f"profile gives dims {list(dims)} but the data has {ndim} dimensions")
    return dims


def _bitwise_equal(a: Any, b: Any) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    return a.tobytes() == b.tobytes()


__all__ = ["Account", "choose_profile", "make_plan", "plan"]
