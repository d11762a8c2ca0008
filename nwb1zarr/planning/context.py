"""What the plan stage shares while it runs: the tree, small cached reads, and the problems found."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..reading.legacy_tree import LegacyTree
from ..reading.typemap import TypeMap

SMALL_READ_BYTES = 16 * 1024 * 1024
"""Datasets up to this size are cached when the planner reads them (tables, lists, timestamps)."""


class PlanContext:
    """The source tree plus the planner's running state (claimed groups, problems)."""

    def __init__(self, tree: LegacyTree) -> None:
        self.tree = tree
        self.typemap = TypeMap.load()
        self.cache: dict[str, Any] = {}
        self.claimed: set[str] = set()
        self.problems: list[str] = []

    def problem(self, source: str | None, reason: str) -> None:
        """Record a problem as one line that starts with the source path it is about."""
        line = " ".join((f"{source}: {reason}" if source else reason).split())
        if line not in self.problems:
            self.problems.append(line)

    def is_dataset(self, path: str) -> bool:
        node = self.tree.nodes.get(path)
        return node is not None and node.kind == "dataset" and node.dtype is not None

    def exists(self, path: str) -> bool:
        node = self.tree.nodes.get(path)
        seen: set[str] = set()
        while node is not None and node.kind == "soft_link" and node.path not in seen:
            seen.add(node.path)
            node = self.tree.nodes.get(node.target or "")
        return node is not None and node.kind != "soft_link"

    def shape(self, path: str) -> tuple[int, ...] | None:
        node = self.tree.nodes.get(path)
        return None if node is None else node.shape

    def read(self, path: str) -> Any:
        """A whole dataset (decoded); small ones are cached, large ones read every time."""
        if path in self.cache:
            return self.cache[path]
        value = self.tree.read(path)
        if getattr(value, "nbytes", 0) <= SMALL_READ_BYTES:
            self.cache[path] = value
        return value

    def strings(self, path: str) -> list[str]:
        value = self.read(path)
        values = [value] if isinstance(value, str) else list(np.asarray(value).reshape(-1))
        return [str(v).rstrip("\x00") for v in values]
