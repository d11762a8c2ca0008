"""The plan: a plain value saying where every source object goes in the store, and why.

Printed by `nwb1zarr inspect`, snapshotted in tests, and handed to the builder and the validator.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

STORE_LAYOUT_VERSION = "2"
STORE_LAYOUTS = ("1", "2")
"""Layouts this version writes (the newest) and validates: 2 packs mapped-only leaf groups (store_attrs.PACKED)."""


@dataclass(frozen=True)
class Entry:
    """One store array and how to obtain it from the source.

    ``sources`` are HDF5 dataset paths: one for a copy, several for ``combine`` = "stack"
    (new first axis) or "concat" (along the first axis). ``transform`` steps apply to each source.
    ``derive`` names a derivation (whose inputs are in its parameters) instead of a copy.
    ``aliases`` are other source datasets that hold bitwise the same values (stored once).
    """

    store_path: str
    dims: tuple[str, ...]
    shape: tuple[int, ...]
    dtype: str
    role: str = "data"  # "data" or "coord"
    sources: tuple[str, ...] = ()
    combine: str | None = None
    transform: tuple[dict[str, Any], ...] = ()
    derive: dict[str, Any] | None = None
    aliases: tuple[str, ...] = ()
    attrs: dict[str, Any] = field(default_factory=dict)
    source_pattern: str | None = None

    @property
    def group(self) -> str:
        return self.store_path.rsplit("/", 1)[0] or "/"

    @property
    def name(self) -> str:
        return self.store_path.rsplit("/", 1)[1]

    @property
    def is_copy(self) -> bool:
        """True when the stored values are the source values (possibly transformed), not derived."""
        return self.derive is None


@dataclass(frozen=True)
class Account:
    """What happened to one source object: mapped, kept (under /nwb1), link, or skipped."""

    status: str
    detail: str = ""
    store_paths: tuple[str, ...] = ()


@dataclass
class Plan:
    """Everything the builder and validator need, derived from the source alone."""

    source: str
    profile: str
    profile_note: str | None
    root_attrs: dict[str, Any]
    entries: list[Entry]
    groups: dict[str, dict[str, Any]]
    accounting: dict[str, Account]
    problems: list[str] = field(default_factory=list)
    layout_version: str = STORE_LAYOUT_VERSION

    def entry(self, store_path: str) -> Entry:
        for e in self.entries:
            if e.store_path == store_path:
                return e
        raise KeyError(store_path)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view (sorted, stable) for `inspect --json` and golden snapshots."""
        return {
            "layout_version": self.layout_version,
            "source": self.source,
            "profile": self.profile,
            "profile_note": self.profile_note,
            "root_attrs": self.root_attrs,
            "groups": {k: self.groups[k] for k in sorted(self.groups)},
            "entries": [_entry_dict(e) for e in sorted(self.entries, key=lambda e: e.store_path)],
            "accounting": {k: asdict(v) for k, v in sorted(self.accounting.items())},
            "problems": list(self.problems),
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=1, sort_keys=False, default=str)

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for acc in self.accounting.values():
            out[acc.status] = out.get(acc.status, 0) + 1
        return out


def _entry_dict(e: Entry) -> dict[str, Any]:
    d = asdict(e)
    d["dims"] = list(e.dims)
    d["shape"] = list(e.shape)
    if len(e.sources) > 3:  # stacks over hundreds of ROIs: keep snapshots readable
        d["sources"] = [*e.sources[:2], f"... {len(e.sources) - 3} more ...", e.sources[-1]]
    return d
