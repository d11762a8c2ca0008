"""Finding and reading the JSON files shipped in schemas/ (inside the wheel as nwb1zarr.schemas)."""

from __future__ import annotations

import json
from functools import cache
from importlib.resources import files
from typing import Any


@cache
def load_schema_file(name: str) -> Any:
    """Parse one shipped JSON file by name.

    >>> load_schema_file("nwb1_typemap.json")["version"]
    '1'
    """
    return json.loads(files("nwb1zarr.schemas").joinpath(name).read_text(encoding="utf-8"))


def schema_names(suffix: str = ".json") -> list[str]:
    """Names of the shipped schema files ending with ``suffix``."""
    return sorted(p.name for p in files("nwb1zarr.schemas").iterdir() if p.name.endswith(suffix))
