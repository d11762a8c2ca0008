"""The package shows the pipeline: each stage imports only earlier stages (and the shared top-level modules)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "nwb1zarr"

NOT_IMPORTED_BY = {
    "reading": {"planning", "writing", "sinks", "validation", "batch", "virtual", "export", "convert", "cli"},
    "planning": {"writing", "sinks", "validation", "batch", "virtual", "export", "convert", "cli"},
    "writing": {"validation", "batch", "virtual", "export", "convert", "cli"},
    "validation": {"writing", "batch", "export", "convert", "cli"},
    "sinks": {"reading", "planning", "writing", "validation", "batch", "export", "convert", "cli"},
}
"""Stage -> the subpackages and modules it must never import (``validation`` stays independent of ``writing``)."""


def imported_modules(path: Path, root: Path = PACKAGE.parent) -> set[str]:
    """Absolute ``nwb1zarr.*`` names imported anywhere in ``path`` (lazy imports inside functions included)."""
    package = ".".join(path.relative_to(root).with_suffix("").parts[:-1])
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                stem = ".".join(base + ([node.module] if node.module else []))
                found |= {f"{stem}.{alias.name}" for alias in node.names} if not node.module else {stem}
            elif node.module and node.module.startswith("nwb1zarr"):
                found.add(node.module)
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.startswith("nwb1zarr")}
    return found


@pytest.mark.parametrize("stage", sorted(NOT_IMPORTED_BY))
def test_stage_imports_only_earlier_stages(stage):
    files = sorted((PACKAGE / stage).glob("*.py"))
    assert files, f"no modules in nwb1zarr/{stage}"
    wrong = [f"{path.relative_to(PACKAGE.parent)} imports {name}"
             for path in files for name in sorted(imported_modules(path))
             if name.split(".")[1] in NOT_IMPORTED_BY[stage]]
    assert not wrong, "\n".join(wrong)


def test_imports_are_resolved_against_the_package(tmp_path):
    """The check sees relative and lazy imports: a writing import planted in validation is found."""
    assert "nwb1zarr.planning.chunking" in imported_modules(PACKAGE / "validation" / "values.py")
    planted = tmp_path / "nwb1zarr" / "validation" / "bad.py"
    planted.parent.mkdir(parents=True)
    planted.write_text("from . import report\n\ndef f():\n    from ..writing.nodes import put_file\n")
    assert imported_modules(planted, tmp_path) == {"nwb1zarr.validation.report", "nwb1zarr.writing.nodes"}
