"""Consistency of a planned group before any array is built (plan stage, step 5).

Each store group must be a valid xarray Dataset: one size per dimension, one variable per name, no
variable named like a dimension it does not index. What breaks that is not mapped (its sources stay
under /nwb1) and becomes a problem that names the source path and the reason. Decisions follow the
profile's order: coordinates first, then data variables, each in the order the profile lists them; a
variable named after a source's column (``features``) never displaces one the profile names itself.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field

from .context import PlanContext
from .model import Entry


@dataclass
class Candidate:
    """One store variable a rule proposes, before the group is checked and placed on time."""

    entry: Entry
    family: str
    """Variables made from one profile variable (the columns of one source) share a family."""
    source: str | None
    """The source path a problem about this variable names."""
    from_columns: bool = False
    """Named by the source (a column name), not by the profile."""
    on_time: bool = False
    """A data variable along ``time``: its time axis is placed later (own clock when it differs)."""
    time: str | None = None
    rejected: str | None = field(default=None, compare=False)


def check_group(ctx: PlanContext, target: str, candidates: list[Candidate], *, complete: bool = False,
                earlier_problems: int = 0) -> list[Candidate]:
    """The candidates that can share the store group ``target``; problems recorded for the rest.

    ``complete``: the group is one table whose columns only mean something together (intervals): if any
    variable is refused, or the rule already had ``earlier_problems``, none is mapped.
    """
    by_group: dict[str, list[Candidate]] = defaultdict(list)
    for c in candidates:
        by_group[c.entry.group].append(c)
    subgroups = set(by_group)
    for members in by_group.values():
        _refuse_name_clashes(candidates, members, subgroups)
    for members in by_group.values():
        _refuse_size_conflicts(candidates, members)
    refused = [c for c in candidates if c.rejected]
    for c in refused:
        ctx.problem(c.source, f"{c.rejected}; {c.entry.store_path} not mapped")
    kept = [c for c in candidates if not c.rejected]
    if complete and kept and (refused or earlier_problems):
        why = refused[0].entry.store_path if refused else "a variable of this table"
        for c in kept:
            ctx.problem(c.source, f"{target} is one table and {why} could not be mapped; "
                                  f"{c.entry.store_path} not mapped")
        return []
    return kept


def _reject_family(candidates: list[Candidate], family: str, reason: str) -> None:
    for c in candidates:
        if c.family == family and not c.rejected:
            c.rejected = reason


def _refuse_name_clashes(candidates: list[Candidate], members: list[Candidate], subgroups: set[str]) -> None:
    paths = Counter(c.entry.store_path for c in members)
    dims = {d for c in members for d in c.entry.dims}
    clashes: dict[str, list[Candidate]] = defaultdict(list)
    for c in members:
        e = c.entry
        names_dim = e.name in dims and not (e.role == "coord" and e.dims == (e.name,))
        if paths[e.store_path] > 1 or names_dim or e.store_path in subgroups:
            clashes[e.store_path].append(c)
    for path, clashing in clashes.items():
        by_source = {c.family for c in clashing if c.from_columns}
        losers = by_source or {c.family for c in clashing}
        name = path.rsplit("/", 1)[1]
        for family in losers:
            _reject_family(candidates, family, f"the name {name!r} is taken (twice, by another variable, a "
                                               "dimension or a child group)")


def _refuse_size_conflicts(candidates: list[Candidate], members: list[Candidate]) -> None:
    sizes: dict[str, tuple[int, str]] = {}
    ordered = [c for c in members if c.entry.role == "coord"] + [c for c in members if c.entry.role != "coord"]
    for c in ordered:
        if c.rejected:
            continue
        pairs = [(d, n) for d, n in zip(c.entry.dims, c.entry.shape, strict=True) if not (c.on_time and d == "time")]
        clash = next(((d, n) for d, n in pairs if d in sizes and sizes[d][0] != n), None)
        if clash is not None:
            d, n = clash
            _reject_family(candidates, c.family, f"{n} along {d!r}, but {sizes[d][1]} has {sizes[d][0]}")
            continue
        for d, n in pairs:
            sizes.setdefault(d, (n, c.entry.store_path))


def check_plan_paths(ctx: PlanContext, entries: list[Entry]) -> list[Entry]:
    """Across rules: no store path claimed twice, and no array where another entry needs a group."""
    counts = Counter(e.store_path for e in entries)
    groups = {p for e in entries for p in _ancestors(e.store_path)}
    out = []
    for e in entries:
        if counts[e.store_path] > 1:
            ctx.problem(e.sources[0] if e.sources else None, f"{e.store_path} is claimed by more than one "
                                                             "rule; not mapped")
        elif e.store_path in groups:
            ctx.problem(e.sources[0] if e.sources else None, f"{e.store_path} is also a group; not mapped")
        else:
            out.append(e)
    return out


def _ancestors(path: str) -> list[str]:
    parts = path.strip("/").split("/")
    return ["/" + "/".join(parts[:i]) for i in range(1, len(parts))]
