"""Root attributes that say where a store came from."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import Any

from ..planning.model import Plan
from ..reading.legacy_tree import LegacyTree


def converter_version() -> str:
    try:
        return version("nwb1zarr")
    except PackageNotFoundError:  # running from a source tree that is not installed
        return "0+unknown"


def provenance(tree: LegacyTree, plan: Plan) -> dict[str, Any]:
    """Converter version, profile, layout version, and the source's identity and NWB header.

    ``source_sha256`` is added by convert() once the write pass (which computes it) is done.
    """
    out: dict[str, Any] = {
        "nwb1zarr_version": converter_version(),
        "nwb1zarr_profile": plan.profile,
        "nwb1zarr_store_layout": plan.layout_version,
        "source_file": tree.source.name,
        "source_size": tree.source.stat().st_size,
    }
    for key in ("nwb_version", "identifier", "session_description"):
        text = tree.read_text(f"/{key}")
        if text is not None:
            out[key] = text
    return out
