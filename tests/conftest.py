"""Shared fixtures: generator files are written once per session into a temp dir."""

from __future__ import annotations

from pathlib import Path

import pytest

from nwb1zarr.testing import VARIANTS, write_session


@pytest.fixture(scope="session")
def variant_file(tmp_path_factory):
    """variant_file(name) -> path of a tiny generator file for VARIANTS[name] (written once)."""
    root = tmp_path_factory.mktemp("variants")
    made: dict[str, Path] = {}

    def get(name: str) -> Path:
        if name not in made:
            made[name] = write_session(root / f"{name}.nwb", VARIANTS[name])
        return made[name]

    return get
