"""The plan stage: a legacy tree and a profile -> a :class:`Plan` (pure: reads only small datasets).

Steps, one module each: choose the profile (:mod:`.choice`), root metadata (:mod:`.metadata`),
bind rules to source groups (:mod:`.bindings`), resolve each binding's variables (:mod:`.rules`),
check each group's consistency (:mod:`.checks`), place traces on time (:mod:`.time_axes`), and account
for everything left over (:mod:`.remainder`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from .. import store_attrs as sa
from ..reading import prerelease
from ..reading.legacy_tree import LegacyTree
from .bindings import rule_bindings, rule_target
from .checks import check_plan_paths
from .choice import choose_profile
from .context import PlanContext
from .metadata import plan_metadata
from .model import STORE_LAYOUT_VERSION, STORE_LAYOUTS, Account, Entry, Plan
from .remainder import account_remainder
from .rules import RuleResolver

PRERELEASE_PROFILE = "generic_nwb1"


def plan(src: str | os.PathLike[str], *, profile: str | None = None,
         storage_options: Mapping[str, Any] | None = None) -> Plan:
    """The conversion plan for ``src`` (a path or an fsspec URL): every source object with its place in the store.

    >>> p = plan("session.nwb")                     # doctest: +SKIP
    >>> p.entry("/ophys/dff").sources               # doctest: +SKIP
    ('/processing/brain_observatory_pipeline/DfOverF/imaging_plane_1/data',)
    """
    with LegacyTree.open(src, storage_options=storage_options) as tree:
        return make_plan(tree, profile=profile)


def make_plan(tree: LegacyTree, *, profile: str | None = None, layout: str = STORE_LAYOUT_VERSION) -> Plan:
    """The plan for an open tree (see :func:`plan`); ``layout`` an older store layout (to validate such a store)."""
    if layout not in STORE_LAYOUTS:
        raise ValueError(f"unknown store layout {layout!r}; this version knows {', '.join(STORE_LAYOUTS)}")
    prerelease_text = getattr(tree, "nwb2_prerelease", None)
    if prerelease_text:  # NWB 2 pre-release: only the generic profile, and only if it keeps every object
        profile = PRERELEASE_PROFILE
    chosen, note = choose_profile(tree, profile)
    ctx = PlanContext(tree)
    root_attrs = plan_metadata(ctx, chosen)
    groups: dict[str, dict[str, Any]] = {"/": {}}
    entries: list[Entry] = []
    extra_attrs: dict[str, dict[str, Any]] = {}
    for rule in chosen.rules:
        for match, binding in rule_bindings(ctx, rule):
            target = rule_target(rule["target"], binding)
            resolver = RuleResolver(ctx, rule, match, target)
            made = resolver.entries()
            extra_attrs.update(resolver.group_attrs)
            if not made:
                continue
            entries.extend(made)
            attrs = groups.setdefault(target, {})
            attrs[sa.RULE] = f"{chosen.name}:{rule['id']}"
            if match is not None:
                attrs[sa.PATH] = match
            if rule.get("description"):
                attrs["description"] = rule["description"]
            attrs.update(rule.get("attrs", {}))
    entries = check_plan_paths(ctx, entries)
    for e in entries:
        groups.setdefault(e.group, {})
    for group, attrs in extra_attrs.items():
        if group in groups:
            groups[group].update(attrs)
    accounting, kept_entries, nwb1_groups = account_remainder(tree, entries, pack=layout != "1")
    groups.update(nwb1_groups)
    if prerelease_text:
        skipped = {p: a.detail for p, a in accounting.items() if a.status == "skipped"}
        note = prerelease.decision(prerelease_text, skipped, file=str(tree.source))
    return Plan(source=str(tree.source), profile=chosen.name, profile_note=note, root_attrs=root_attrs,
                entries=entries + kept_entries, groups=groups, accounting=accounting, problems=ctx.problems,
                layout_version=layout)


__all__ = ["Account", "choose_profile", "make_plan", "plan"]
