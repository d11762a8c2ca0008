"""Loading mapping profiles (schemas/*.json), checking them against the profile schema, choosing one."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema

from ..errors import ProfileError
from ..schema_files import load_schema_file, schema_names

PROFILE_SCHEMA = "profile.schema.json"


@dataclass(frozen=True)
class Profile:
    """A parsed, schema-checked profile."""

    name: str
    title: str
    priority: int
    requires: tuple[str, ...]
    metadata: tuple[dict[str, Any], ...]
    rules: tuple[dict[str, Any], ...]
    origin: str

    def missing(self, exists: Any) -> list[str]:
        """Required source paths for which ``exists(path)`` is false."""
        return [p for p in self.requires if not exists(p)]


def parse_profile(raw: Any, *, origin: str) -> Profile:
    """Check a profile document against the schema and return it typed.

    >>> parse_profile({"name": "x", "title": "X", "priority": 0, "requires": []}, origin="x.json")
    Traceback (most recent call last):
    ...
    nwb1zarr.errors.ProfileError: x.json: profile does not follow profile.schema.json at /: 'rules' is a ...property
    """
    validator = jsonschema.Draft202012Validator(load_schema_file(PROFILE_SCHEMA))
    errors = sorted(validator.iter_errors(raw), key=lambda e: (list(e.absolute_path), e.message))
    if errors:
        first = errors[0]
        where = "/" + "/".join(str(p) for p in first.absolute_path)
        raise ProfileError(f"profile does not follow {PROFILE_SCHEMA} at {where}: {first.message}", file=origin)
    _check_names(raw, origin)
    return Profile(raw["name"], raw["title"], raw["priority"], tuple(raw["requires"]),
                   tuple(raw.get("metadata", ())), tuple(raw["rules"]), origin)


def _check_names(raw: Any, origin: str) -> None:
    """Every transform, derivation, parser and check a profile names must be registered (profiles hold no code)."""
    from .derivations import DERIVATIONS
    from .parsers import PARSERS
    from .transforms import TRANSFORMS
    from .verifications import CHECKS

    named = [(PARSERS, step["name"]) for item in raw.get("metadata", ()) for step in item.get("parse", ())]
    for rule in raw["rules"]:
        named += [(CHECKS, check["name"]) for check in rule.get("checks", ())]
        ids = {check["id"] for check in rule.get("checks", ())}
        for var in rule["variables"]:
            if "columns_from_check" in var and var["columns_from_check"] not in ids:
                raise ProfileError(f"rule {rule['id']!r}: variable {var['name']!r} names check "
                                   f"{var['columns_from_check']!r}, which the rule does not run", file=origin)
            named += [(TRANSFORMS, step["name"]) for step in var.get("transform", ())]
            if "derive" in var:
                named.append((DERIVATIONS, var["derive"]["name"]))
    for registry, name in named:
        if name not in registry:
            try:
                registry[name]
            except ProfileError as exc:
                raise ProfileError(exc.message, file=origin) from None


# Other data in schemas/: JSON Schemas, and export maps (store path -> object of another format).
NOT_PROFILE_SUFFIXES = (".schema.json", "_export.json")


def shipped_profiles() -> list[Profile]:
    """Every profile in schemas/, highest priority first."""
    names = [n for n in schema_names() if n != "nwb1_typemap.json" and not n.endswith(NOT_PROFILE_SUFFIXES)]
    profiles = [parse_profile(load_schema_file(n), origin=f"schemas/{n}") for n in names]
    return sorted(profiles, key=lambda p: -p.priority)


def load_profile(ref: str | os.PathLike[str]) -> Profile:
    """A profile by shipped name ('brain_observatory_ophys') or by path to a JSON file."""
    for profile in shipped_profiles():
        if profile.name == str(ref):
            return profile
    path = Path(ref)
    if not path.is_file():
        known = ", ".join(p.name for p in shipped_profiles())
        raise ProfileError(f"no such profile (shipped: {known})", file=str(ref))
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ProfileError(f"cannot read profile: {exc}", file=str(path)) from exc
    return parse_profile(raw, origin=str(path))
