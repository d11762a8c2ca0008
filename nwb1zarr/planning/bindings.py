"""Which source groups a profile rule applies to, and the store group each one becomes (plan stage, step 3)."""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Mapping
from typing import Any

from ..reading.legacy_tree import join
from ..reading.names import store_name
from .context import PlanContext


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    parts = re.split(r"(\{[a-z_]+\})", pattern)
    body = "".join(f"(?P<{p[1:-1]}>[^/]+?)" if p.startswith("{") else re.escape(p) for p in parts)
    return re.compile(f"^{body}$")


def rule_bindings(ctx: PlanContext, rule: Mapping[str, Any]) -> list[tuple[str | None, dict[str, str]]]:
    """(matched group path, bindings) for every group the rule applies to; each group is claimed by one rule.

    >>> rule_bindings(ctx, {"match": "/stimulus/presentation/{name}_stimulus"})   # doctest: +SKIP
    [('/stimulus/presentation/natural_movie_one_stimulus', {'name': 'natural_movie_one'})]
    """
    pattern = rule.get("match")
    if pattern is None:
        return [(None, {})]
    found = []
    regex = None if pattern == "**" else _pattern_regex(pattern)
    when = rule.get("when", {})
    for node in ctx.tree.nodes.values():
        if node.kind != "group" or node.path in ctx.claimed:
            continue
        if regex is None:
            binding = {"path": "" if node.path == "/" else node.path}
        else:
            m = regex.match(node.path)
            if m is None:
                continue
            binding = m.groupdict()
        if "is_a" in when and not ctx.typemap.is_a(node.legacy_type, when["is_a"]):
            continue
        if "name_glob" in when and not fnmatch.fnmatchcase(binding.get("name", node.name), when["name_glob"]):
            continue
        if not all(ctx.exists(join(node.path, rel)) for rel in when.get("has", ())):
            continue
        found.append((node.path, binding))
    ctx.claimed.update(path for path, _ in found)
    return found


def rule_target(template: str, binding: Mapping[str, str]) -> str:
    """The store group of one binding, every component made a safe store name.

    >>> rule_target("/stimulus/{name}", {"name": "natural_movie_one"})
    '/stimulus/natural_movie_one'
    """
    raw = template.format(**binding)
    return "/" + "/".join(store_name(p) for p in raw.split("/") if p)
