"""Root attributes that say where a store came from."""

from __future__ import annotations

import hashlib
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from ..planning.model import Plan
from ..reading.legacy_tree import LegacyTree


def converter_version() -> str:
    try:
        return version("nwb1zarr")
    except PackageNotFoundError:  # running from a source tree that is not installed
        return "0+unknown"


def file_sha256(path: Path) -> str:
    """sha256 of a file, read in 8 MB blocks (convert runs it as a task of the write pass)."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(8 * 1024 * 1024):
            digest.update(block)
    return digest.hexdigest()


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
