"""The NWB 2 export mapping as data: ``schemas/nwb2_export.json`` (store path -> NWB 2 HDF5 path).

The writer places objects where the mapping says; the validator reads the same table to know which NWB 2
dataset holds each store array, and with which transform. ``{name}`` in a pattern matches one path segment.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import functools
import json
import re
from dataclasses import dataclass
from importlib import resources
from typing import Any

MAPPING_FILE = "nwb2_export.json"


@dataclass(frozen=True)
class Target:
    """Where one store path goes: NWB 2 HDF5 paths (several when linked), or None with a reason."""

    store_path: str
    nwb2_paths: tuple[str, ...]
    object: str = ""
    transform: tuple[dict[str, Any], ...] = ()
    field: str | None = None
    optional: bool = False
    reason: str = ""
    captures: dict[str, str] = dataclasses.field(default_factory=dict)

    @property
    def exported(self) -> bool:
        return bool(self.nwb2_paths)


@functools.cache
def mapping() -> dict[str, Any]:
    """The parsed mapping file.

    >>> sorted(mapping())[:3]
    ['brain_observatory', 'derived', 'description']
    """
    text = resources.files("nwb1zarr.schemas").joinpath(MAPPING_FILE).read_text(encoding="utf-8")
    return json.loads(text)


def _regex(pattern: str) -> re.Pattern[str]:
    out, seen = "", set()
    for part in re.split(r"(\{\w+\})", pattern):
        if part.startswith("{") and part.endswith("}"):
            name = part[1:-1]
            out += f"(?P={name})" if name in seen else f"(?P<{name}>[^/]+)"
            seen.add(name)
        else:
            out += re.escape(part)
    return re.compile(out + "$")


def fill(pattern: str, captures: dict[str, str]) -> str:
    """A pattern with its placeholders filled.

    >>> fill("/intervals/{stimulus}/start_time", {"stimulus": "static_gratings"})
    '/intervals/static_gratings/start_time'
    """
    return re.sub(r"\{(\w+)\}", lambda m: captures.get(m.group(1), m.group(0)), pattern)


def target(store_path: str, *, profile: str = "brain_observatory") -> Target | None:
    """The first rule matching ``store_path`` (None: no rule, so not exported).

    >>> target("/ophys/dff").nwb2_paths  # alternatives: those the file holds are compared
    ('/processing/ophys/DfOverF/dff/data', '/processing/ophys/dff/data')
    >>> target("/stimulus/static_gratings/orientation").nwb2_paths
    ('/intervals/static_gratings/orientation',)
    """
    for rule in mapping()[profile]:
        match = _regex(rule["store"]).match(store_path)
        if match is None:
            continue
        captures = match.groupdict()
        nwb2 = rule.get("nwb2")
        paths = () if nwb2 is None else tuple(fill(p, captures) for p in ([nwb2] if isinstance(nwb2, str) else nwb2))
        return Target(store_path, paths, rule.get("object", ""), tuple(rule.get("transform", ())),
                      rule.get("field"), bool(rule.get("optional")), rule.get("reason", ""), captures)
    return None


def expand(paths: tuple[str, ...], existing: list[str]) -> tuple[str, ...]:
    """NWB 2 paths with ``*`` resolved against the datasets of a written file.

    >>> expand(("/a/m_*/t",), ["/a/m_x/t", "/a/m_y/t", "/a/m_x/d"])
    ('/a/m_x/t', '/a/m_y/t')
    """
    out: list[str] = []
    for path in paths:
        out.extend(fnmatch.filter(existing, path) if "*" in path else [path])
    return tuple(out)


def extension() -> dict[str, Any]:
    """The lab_meta_data extension's definition (namespace, type, fields and their dtypes)."""
    return mapping()["extension"]
