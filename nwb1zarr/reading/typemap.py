"""The NWB 1.0 legacy type map: neurodata_type / ancestry attributes -> a type name.

All knowledge lives in schemas/nwb1_typemap.json; this module only applies it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..schema_files import load_schema_file


@dataclass(frozen=True)
class TypeMap:
    """Rules that type a legacy node from its attributes and name."""

    group_rules: Mapping[str, Mapping[str, Any]]
    dataset_rules: Mapping[str, Mapping[str, Any]]
    parents: Mapping[str, str | None]
    interfaces: frozenset[str]

    @classmethod
    def load(cls) -> TypeMap:
        """The shipped type map.

        >>> TypeMap.load().is_a("TwoPhotonSeries", "TimeSeries")
        True
        """
        raw = load_schema_file("nwb1_typemap.json")
        return cls(raw["group_rules"], raw["dataset_rules"], raw["timeseries_types"], frozenset(raw["interfaces"]))

    def type_of(self, *, name: str, is_group: bool, attrs: Mapping[str, Any]) -> str | None:
        """The legacy type of a node, or None when it carries no neurodata_type."""
        ndt = attrs.get("neurodata_type")
        if not isinstance(ndt, str):
            return None
        rule = (self.group_rules if is_group else self.dataset_rules).get(ndt)
        if rule is None:
            return ndt
        how = rule["type_from"]
        if how == "constant":
            return rule["type"]
        if how == "ancestry_last":
            ancestry = attrs.get("ancestry")
            if isinstance(ancestry, Sequence) and not isinstance(ancestry, str) and ancestry:
                return str(ancestry[-1])
            return rule["fallback"]
        if how == "name_if_known":
            return name if name in self.interfaces else rule["fallback"]
        raise ValueError(f"unknown type_from {how!r} in nwb1_typemap.json")

    def is_a(self, type_name: str | None, base: str) -> bool:
        """True when ``type_name`` is ``base`` or derives from it."""
        seen = set()
        while type_name is not None and type_name not in seen:
            if type_name == base:
                return True
            seen.add(type_name)
            type_name = self.parents.get(type_name)
        return False
